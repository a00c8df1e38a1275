/*
 * app: wires the page together.  The address is the state: /#run=ID shows a
 * run, /#compare=ID a compare and /#sweep=ID a sweep, so a deep link, a
 * history entry, the back button and a reload all go through route().  Submitting the form creates
 * the run and then only changes the address.
 *
 * The view has five modes (data-mode on #view): empty (the introduction
 * and the lessons), run (the Timeline and ASCII tabs), compare (the
 * compare alone), sweep (the sweep alone) and missing (a run that cannot be shown: a message, no
 * empty charts); only the tabs that mean something in a mode are shown.
 *
 * A finished run is read whole from its trace (one request, fast for large
 * runs); a queued or running one is followed through its live stream, which
 * replays what happened so far and then goes on.
 */

import { createRun, createCompare, createSweep, loadTrace,
	 deleteRun } from './api.js';
import { openStream } from './stream.js';
import { RunData, isFinished } from './trace.js';
import { RunForm } from './form.js';
import { Timeline } from './timeline.js';
import { SummaryView } from './summary.js';
import { CompareView } from './compare.js';
import { SweepView } from './sweep.js';
import { AsciiView } from './ascii.js';
import { Exports } from './export.js';
import { HistoryView } from './history.js';
import { Legend } from './legend.js';
import { Tabs } from './tabs.js';
import { byId } from './dom.js';
import { onSchemeChange } from './palette.js';
import { loadedCatalog } from './vocabulary.js';
import { specText } from './spec.js';
import { renderLessons, rememberLesson, lessonFor } from './lessons.js';

/* Chart.js and its plugins come from web/node_modules (npm ci in web/,
 * which `make deps` runs); without them nothing below can draw, so the
 * form gives its place to what to do about it (the server says the same
 * when it starts). */
if (!window.Chart || !window.ChartZoom) {
	const form = byId('run-form');
	for (const node of form.children)
		if (node.id !== 'form-title')
			node.hidden = true;
	const notice = document.createElement('div');
	notice.id = 'missing-packages';
	notice.className = 'notice';
	notice.setAttribute('role', 'alert');
	const command = document.createElement('code');
	command.textContent = 'make deps';
	const inWeb = document.createElement('code');
	inWeb.textContent = 'cd web && npm ci';
	notice.append('The page\'s npm packages (Chart.js, its zoom plugin ' +
		'and Hammer.js) are not installed, so nothing can be ' +
		'drawn. Install them with ', command, ' in the repository ' +
		'(or ', inWeb, '), then reload this page.');
	form.append(notice);
	byId('view-title').textContent = 'Nothing can be drawn yet';
	byId('tabs').hidden = true;
	for (const node of byId('view').querySelectorAll('.intro'))
		node.hidden = true;
	throw new Error('Chart.js or chartjs-plugin-zoom did not load');
}

const state = {
	runId: null,
	data: null,
	stream: null,
	ticker: null,
	generation: 0,
	catalog: null,
	lesson: null,	/* the lesson being started, until it has an id */
	prefetch: null,	/* {id, promise}: the address's run, asked early */
};

const timeline = new Timeline(byId('timeline'), byId('timeline-box'));
const summary = new SummaryView({
	cards: byId('cards'),
	laneUse: byId('lane-use'),
	laneUsePart: byId('lane-use-part'),
	diagnosis: byId('diagnosis'),
	notice: byId('run-notice'),
	checkNotice: byId('check-notice'),
	activityCanvas: byId('activity'),
	activityBox: byId('activity-box'),
});
const compare = new CompareView({
	stack: byId('compare-stack'),
	status: byId('compare-status'),
	verdict: byId('compare-verdict'),
	barsPart: byId('compare-bars-part'),
	barsCanvas: byId('compare-bars'),
	onLoaded: entry => {
		byId('view-title').textContent =
			`Compare: ${entry.workload || 'workload'} under ` +
			`${(entry.runs || []).length} models`;
		setSpecLine(entry);
		showLesson(lessonFor(entry.id));
		/* A compare of one model (under both engines) keeps that
		 * model in the form; a compare of several leaves it be. */
		const models = [...new Set((entry.runs || []).map(r =>
			r.model).filter(Boolean))];
		if (form && entry.workload)
			form.setSpec({ workload: entry.workload,
				       model: models.length === 1 ? models[0] :
					       undefined,
				       params: entry.params || {},
				       options: entry.options || {} });
	},
	onRunEnd: () => historyView.refresh(),
	/* The compare's answer goes into the form: the fastest model with
	 * the options it ran with, so Run runs it again. */
	onFastest: entry => {
		if (form && entry.data && entry.data.run)
			form.setSpec(entry.data.run);
	},
	onStates: states => compareLegend.markPresent(states),
	onMissing: () => {
		byId('view-title').textContent = 'Compare not found';
	},
});
const sweep = new SweepView({
	status: byId('sweep-status'),
	verdict: byId('sweep-verdict'),
	speedupCanvas: byId('sweep-speedup'),
	wallCanvas: byId('sweep-wall'),
	table: byId('sweep-table'),
	parts: byId('sweep-parts'),
}, {
	onLoaded: entry => {
		const param = String(entry.param || '').replace(/_/g, ' ');
		const models = [...new Set((entry.points || []).map(p =>
			p.model))];
		byId('view-title').textContent = `Sweep: ${param} of ` +
			`${entry.workload || 'workload'} under ` +
			`${models.join(', ')}`;
		setSpecLine(entry);
		showLesson(lessonFor(entry.id));
		if (form && entry.workload)
			form.setSpec({ workload: entry.workload,
				       model: models.length === 1 ? models[0] :
					       undefined,
				       params: entry.params || {},
				       options: entry.options || {} });
		if (form && entry.param && Array.isArray(entry.values))
			form.setSweep(entry.param, entry.values);
	},
	onDone: () => historyView.refresh(),
	onMissing: () => {
		byId('view-title').textContent = 'Sweep not found';
	},
});
const ascii = new AsciiView(byId('ascii'));
const exports = new Exports({
	json: byId('export-json'),
	chrome: byId('export-chrome'),
	ascii: byId('export-ascii'),
	png: byId('export-png'),
}, () => (state.data ? { canvas: byId('timeline'), data: state.data,
			  spec: byId('view-spec').textContent,
			  hidden: timeline.hidden } : null));
const historyView = new HistoryView({
	list: byId('history-list'),
	empty: byId('history-empty'),
	status: byId('history-status'),
	heading: byId('history-title'),
}, {
	describe: entry => specText(state.catalog, entry),
	onRefreshed: () => showCompareLink(),
	onDeleted: id => {
		if (id === state.runId) {
			location.hash = '';
			showNothing();
		}
	},
});
/* The run's legend and the compare's: pressing either hides the state
 * everywhere, and both show it pressed or not. */
function toggleState(stateIndex, hide)
{
	timeline.setStateHidden(stateIndex, hide);
	compare.setStateHidden(stateIndex, hide);
	legend.setPressed(stateIndex, !hide);
	compareLegend.setPressed(stateIndex, !hide);
}
const legend = new Legend(byId('legend'), toggleState);
const compareLegend = new Legend(byId('compare-legend'), toggleState);
const tabs = new Tabs(byId('tabs'), id => {
	if (id === 'tab-ascii')
		ascii.show(state.runId, state.data && state.data.ended);
	writeAddress();
});
let form = null;

/* ---- the run view ------------------------------------------------------- */

function stopFollowing()
{
	state.generation++;
	if (state.stream) {
		state.stream.close();
		state.stream = null;
	}
	if (state.ticker) {
		clearInterval(state.ticker);
		state.ticker = null;
	}
}

/*
 * Before the first run the lessons are the way in: the view (the
 * introduction and its lessons) comes before the form in the document,
 * so the keyboard reaches the lessons first, as a narrow screen shows
 * them first.  Once something is on view, the form comes first again:
 * on a narrow screen it is above the timeline it made.  (Wide screens
 * place the columns by the grid, whatever the order.)
 */
function placeForm(viewFirst)
{
	const view = byId('view');
	const form = byId('run-form');
	const formFirst = Boolean(form.compareDocumentPosition(view) &
				  Node.DOCUMENT_POSITION_FOLLOWING);
	if (formFirst !== viewFirst)
		return;
	const active = document.activeElement;
	if (viewFirst)
		view.after(form);
	else
		view.before(form);
	if (active && form.contains(active) && document.activeElement !== active)
		active.focus({ preventScroll: true });
}

/* empty, run or compare: which tabs mean something (see the top). */
function setMode(mode)
{
	const view = byId('view');
	if (view.dataset.mode === mode)
		return;
	if (view.dataset.mode === 'compare')
		compare.reset();
	if (view.dataset.mode === 'sweep')
		sweep.reset();
	view.dataset.mode = mode;
	view.classList.toggle('empty', mode === 'empty');
	placeForm(mode === 'empty');
	if (mode !== 'run')
		byId('view-compare').hidden = true;
	byId('view-message').hidden = mode !== 'missing';
	byId('tabs').hidden = mode !== 'run';
	byId('tab-compare').hidden = mode !== 'compare';
	byId('tab-sweep').hidden = mode !== 'sweep';
	if (mode === 'compare' || mode === 'sweep' || mode === 'missing') {
		byId('view-status').hidden = true;
		byId('cancel-run').hidden = true;
	}
}

/* The parameters and options that differ from their defaults, under
 * the title; spec: {workload, model, params, options}. */
function setSpecLine(spec)
{
	const line = byId('view-spec');
	const text = spec ? specText(state.catalog, spec) : '';
	line.textContent = text;
	line.hidden = !text;
}

/* A run of a compare or a sweep links back to it (the history knows
 * which). */
function showCompareLink()
{
	const group = state.runId ? historyView.groupOf(state.runId) : null;
	byId('view-compare').hidden = !group;
	if (!group)
		return;
	const link = byId('view-compare-link');
	link.href = `#${group.kind}=${encodeURIComponent(group.id)}`;
	link.textContent = `Back to the ${group.kind} this run is part of`;
}

/* What to look for, when the shown run or compare came from a lesson. */
function showLesson(lesson)
{
	const note = byId('lesson-note');
	note.textContent = '';
	note.hidden = !lesson;
	if (!lesson)
		return;
	const head = document.createElement('strong');
	head.textContent = `Lesson: ${lesson.title}. `;
	note.append(head, document.createTextNode(lesson.look));
}

function setHeading(data)
{
	const title = byId('view-title');
	const badge = byId('view-status');
	const cancel = byId('cancel-run');
	if (!data) {
		setMode('empty');
		document.title = 'overlap';
		title.textContent = 'Choose a workload and press Run';
		badge.textContent = '';
		badge.hidden = true;
		cancel.hidden = true;
		setSpecLine(null);
		showLesson(null);
		byId('view-compare').hidden = true;
		return;
	}
	setMode('run');
	setSpecLine(data.run);
	showCompareLink();
	const run = data.run || {};
	title.textContent = run.workload ?
		`${run.workload} under ${run.model}` : `Run ${data.id}`;
	showLesson(lessonFor(data.id));
	document.title = `${title.textContent} · overlap`;
	const status = data.status || 'loading';
	badge.textContent = status;
	badge.dataset.status = status;
	badge.hidden = false;
	cancel.hidden = isFinished(status) || data.ended;
	if (data.message)
		badge.title = data.message;
	else
		badge.removeAttribute('title');
}

function showNothing()
{
	stopFollowing();
	state.runId = null;
	state.data = null;
	timeline.setData(new RunData(null));
	summary.clear('');
	ascii.clear('Run something to see its timeline as text.');
	exports.set(null, false);
	historyView.setCurrent(null);
	setHeading(null);
}

function present(data)
{
	legend.markPresent(data.statesSeen);
}

/* Shows everything there is to know about data after it changed. */
function render(data, final)
{
	setHeading(data);
	timeline.refresh();
	present(data);
	if (final) {
		summary.show(data);
		exports.set(data.id, true);
		if (tabs.selected() === 'tab-ascii')
			ascii.show(data.id, true);
	} else {
		summary.updateActivity(data, false, timeline.nowNs());
	}
}

async function showRun(id)
{
	stopFollowing();
	const generation = state.generation;
	state.runId = id;
	state.data = new RunData(id);
	setHeading(state.data);
	timeline.setData(state.data);
	summary.clear('Loading…');
	ascii.clear('');
	exports.set(id, false);
	historyView.setCurrent(id);
	if (tabs.selected() === 'tab-compare')
		tabs.select('tab-timeline');
	let loaded;
	try {
		/* The address's run was asked for as the page started. */
		const early = state.prefetch;
		state.prefetch = null;
		loaded = await (early && early.id === id ? early.promise :
			loadTrace(id));
	} catch (error) {
		if (generation !== state.generation)
			return;
		summary.clear('');
		exports.set(null, false);
		setMode('missing');
		byId('view-message').textContent = error.status === 404 ?
			'There is no run with this id: it may have been ' +
			'deleted. Open one from the History, or start a new ' +
			'one.' : `This run cannot be shown: ${error.message}. ` +
			'Reload the page to try again.';
		byId('view-title').textContent = error.status === 404 ?
			'Run not found' : 'Run unavailable';
		document.title = `${byId('view-title').textContent} · overlap`;
		return;
	}
	if (generation !== state.generation)
		return;
	performance.mark('overlap:trace-read');
	const trace = loaded.trace;
	if (trace && trace.run && form)
		form.setSpec(trace.run);
	if (trace && trace.run && isFinished(trace.run.status)) {
		const data = RunData.fromColumns(trace, loaded.columns);
		performance.mark('overlap:rows-made');
		state.data = data;
		timeline.setData(data);
		render(data, true);
		return;
	}
	follow(id, generation);
}

function follow(id, generation)
{
	const data = state.data;
	summary.show(data, timeline.nowNs());
	/* Between events the open segments still grow: the timeline and
	 * the activity chart (which throttles itself) follow the clock. */
	state.ticker = setInterval(() => {
		if (data.open.size) {
			timeline.refresh();
			summary.updateActivity(data, false, timeline.nowNs());
		}
	}, 100);
	state.stream = openStream(id, {
		onBatch: batch => {
			if (generation !== state.generation)
				return;
			for (const { name, data: event } of batch)
				data.apply(name, event);
			render(data, false);
		},
		onEnd: () => {
			if (generation !== state.generation)
				return;
			clearInterval(state.ticker);
			state.ticker = null;
			state.stream = null;
			data.ended = true;
			render(data, true);
			historyView.refresh();
		},
		onError: message => {
			if (generation !== state.generation)
				return;
			clearInterval(state.ticker);
			state.ticker = null;
			summary.clear(`The live stream stopped: ${message}. ` +
				'Reload the page to try again.');
		},
	});
}

/* ---- routing ------------------------------------------------------------ */

/* The address of what is shown: the run, and the tab and the rows when
 * they are not the first ones (#run=ID&tab=ascii&rows=lanes). */
function writeAddress()
{
	if (!state.runId)
		return;
	const params = new URLSearchParams({ run: state.runId });
	if (tabs.selected() === 'tab-ascii')
		params.set('tab', 'ascii');
	if (timeline.rowMode === 'lane')
		params.set('rows', 'lanes');
	const hash = `#${params}`;
	if (location.hash !== hash)
		history.replaceState(null, '', hash);
}

/* Rows per task or per lane; the note says what a lane's row shows. */
function showRows(mode)
{
	timeline.setRowMode(mode);
	byId('rows-note').hidden = mode !== 'lane';
}

function setRows(mode)
{
	for (const radio of document.querySelectorAll('input[name="rows"]'))
		radio.checked = radio.value === mode;
	showRows(mode);
}

function route()
{
	const hash = location.hash.replace(/^#/, '');
	const params = new URLSearchParams(hash);
	const runId = params.get('run');
	const compareId = params.get('compare');
	const sweepId = params.get('sweep');
	if (hash && !runId && !compareId && !sweepId)
		return; /* an in-page anchor such as the skip link */
	if (runId) {
		if (runId !== state.runId)
			showRun(runId);
		setRows(params.get('rows') === 'lanes' ? 'lane' : 'task');
		tabs.select(params.get('tab') === 'ascii' ? 'tab-ascii' :
			'tab-timeline');
	} else if (compareId) {
		if (state.runId)
			showNothing();
		setMode('compare');
		tabs.select('tab-compare');
		if (compare.compareId !== compareId) {
			byId('view-title').textContent = 'Compare';
			setSpecLine(null);
			showLesson(lessonFor(compareId));
		}
		compare.show(compareId);
	} else if (sweepId) {
		if (state.runId || byId('view').dataset.mode !== 'sweep')
			showNothing();
		setMode('sweep');
		tabs.select('tab-sweep');
		if (sweep.sweepId !== sweepId) {
			byId('view-title').textContent = 'Sweep';
			setSpecLine(null);
			showLesson(lessonFor(sweepId));
		}
		sweep.show(sweepId);
	} else if (state.runId || ['compare', 'sweep'].includes(
		byId('view').dataset.mode)) {
		showNothing();
	}
}

/* ---- the form's actions ------------------------------------------------- */

/* On a phone the view sits below the form: bring it into sight. */
function revealView()
{
	const view = byId('view');
	const top = view.getBoundingClientRect().top;
	if (top > window.innerHeight * 0.5 || top < 0)
		view.scrollIntoView({ block: 'start' });
}

/*
 * The server did not start what the form asked for.  A refused value
 * (400) leaves nothing to show: the run on view before is unrelated, so
 * the view says what happened instead, and the form marks the field (and
 * brings it into sight).  Anything else (a full queue, a lost server) is
 * said in the form's status line, and the view stays.
 */
function refused(error, what)
{
	if (error.status === 400) {
		showNothing();
		if (location.hash)
			history.replaceState(null, '',
					     location.pathname + location.search);
		setMode('missing');
		byId('view-title').textContent = 'Not started';
		document.title = 'Not started · overlap';
		byId('view-message').textContent = `The server refused this ` +
			`${what}: ${error.message}. The value it names is ` +
			'marked under “What to run”; correct it and press ' +
			`${{ run: 'Run', compare: 'Compare all models',
			     sweep: 'Sweep' }[what]} again.`;
	}
	form.showServerError(error);
}

async function startRun(spec)
{
	form.setBusy(true);
	form.setStatus('Starting…');
	const lesson = state.lesson;
	state.lesson = null;
	try {
		const created = await createRun(spec);
		if (lesson)
			rememberLesson(created.id, lesson);
		form.setStatus(`Run ${created.id} ${created.status || 'queued'}.`);
		location.hash = `run=${encodeURIComponent(created.id)}`;
		/* Now rather than at the hashchange: the view moves below
		 * the form only once it shows the run. */
		route();
		revealView();
		historyView.refresh();
	} catch (error) {
		refused(error, 'run');
	} finally {
		form.setBusy(false);
	}
}

async function startCompare(body)
{
	form.setBusy(true);
	form.setStatus('Starting the compare…');
	const lesson = state.lesson;
	state.lesson = null;
	try {
		const created = await createCompare(body);
		if (lesson)
			rememberLesson(created.id, lesson);
		const count = (created.runs || []).length;
		form.setStatus(`Compare ${created.id} queued: ${count} models.`);
		location.hash = `compare=${encodeURIComponent(created.id)}`;
		route();
		revealView();
		historyView.refresh();
	} catch (error) {
		refused(error, 'compare');
	} finally {
		form.setBusy(false);
	}
}

async function startSweep(body)
{
	form.setBusy(true);
	form.setStatus('Starting the sweep…');
	const lesson = state.lesson;
	state.lesson = null;
	try {
		const created = await createSweep(body);
		if (lesson)
			rememberLesson(created.id, lesson);
		const count = (created.runs || []).length;
		form.setStatus(`Sweep ${created.id} queued: ${count} runs.`);
		location.hash = `sweep=${encodeURIComponent(created.id)}`;
		route();
		revealView();
		historyView.refresh();
	} catch (error) {
		refused(error, 'sweep');
	} finally {
		form.setBusy(false);
	}
}

/* A lesson fills in the form, so what runs stays visible and can be
 * changed, and starts it; the view takes the keyboard focus, since the
 * lesson's button goes away with the introduction. */
function startLesson(lesson)
{
	const spec = lesson.spec;
	state.lesson = lesson;
	form.setSpec({
		workload: spec.workload,
		params: spec.params || {},
		/* a compare keeps the chosen model but not its options */
		model: spec.model || byId('model').value,
		options: spec.options || {},
	});
	if (lesson.sweep)
		form.setSweep(lesson.sweep.param, lesson.sweep.values);
	form.submit(lesson.compare ? 'compare' : lesson.sweep ? 'sweep' :
		'run');
	if (state.lesson) {
		/* the form refused it (it should not): nothing started */
		state.lesson = null;
		return;
	}
	byId('view').focus({ preventScroll: true });
}

/* ---- controls ----------------------------------------------------------- */

function bindControls()
{
	for (const radio of document.querySelectorAll('input[name="rows"]'))
		radio.addEventListener('change', () => {
			if (radio.checked)
				showRows(radio.value);
			writeAddress();
		});
	byId('zoom-in').addEventListener('click', () => timeline.zoomBy(1.5));
	byId('zoom-out').addEventListener('click',
		() => timeline.zoomBy(1 / 1.5));
	byId('zoom-reset').addEventListener('click',
		() => timeline.resetZoom());
	byId('cancel-run').addEventListener('click', async () => {
		if (!state.runId)
			return;
		try {
			await deleteRun(state.runId);
		} catch (error) {
			byId('view-status').textContent =
				`cannot cancel: ${error.message}`;
		}
	});
	onSchemeChange(() => {
		timeline.applyTheme();
		summary.applyTheme();
		compare.applyTheme();
		sweep.applyTheme();
		legend.applyTheme();
	});
}

async function start()
{
	bindControls();
	showNothing();
	window.addEventListener('hashchange', route);
	/* A run's address: its trace is read (in a worker) while the
	 * form and the lessons are made, not after.  The catalog was read
	 * before any module ran (vocabulary.js): its words draw the run. */
	const first = new URLSearchParams(location.hash.replace(/^#/, ''))
		.get('run');
	if (first) {
		state.prefetch = { id: first, promise: loadTrace(first) };
		state.prefetch.promise.catch(() => {}); /* showRun says */
	}
	historyView.refresh();
	let catalog;
	try {
		catalog = loadedCatalog();
	} catch (error) {
		byId('form-status').textContent =
			`The catalog cannot be loaded: ${error.message}`;
		byId('form-status').classList.add('error');
		return;
	}
	state.catalog = catalog;
	form = new RunForm(byId('run-form'), catalog, {
		onRun: startRun,
		onCompare: startCompare,
		onSweep: startSweep,
	});
	renderLessons(byId('lessons'), catalog, startLesson);
	historyView.refresh();
	document.body.dataset.ready = 'true';
	route();
	if (state.data && state.data.run)
		form.setSpec(state.data.run);
}

start();
