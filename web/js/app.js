/*
 * app: wires the page together.  The address is the state: /#run=ID shows a
 * run and /#compare=ID a compare, so a deep link, a history entry, the back
 * button and a reload all go through route().  Submitting the form creates
 * the run and then only changes the address.
 *
 * A finished run is read whole from its trace (one request, fast for large
 * runs); a queued or running one is followed through its live stream, which
 * replays what happened so far and then goes on.
 */

import { getCatalog, createRun, createCompare, getRun, deleteRun }
	from './api.js';
import { openStream } from './stream.js';
import { RunData, isFinished } from './trace.js';
import { RunForm } from './form.js';
import { Timeline } from './timeline.js';
import { SummaryView } from './summary.js';
import { CompareView } from './compare.js';
import { AsciiView } from './ascii.js';
import { Exports } from './export.js';
import { HistoryView } from './history.js';
import { Legend } from './legend.js';
import { Tabs } from './tabs.js';
import { byId } from './dom.js';
import { onSchemeChange } from './palette.js';

/* Chart.js and its plugin come from web/node_modules (npm ci in web/,
 * which `make` runs); without them nothing below can draw. */
if (!window.Chart || !window.ChartZoom) {
	const status = byId('form-status');
	status.textContent = 'The chart library is missing: run "make deps" ' +
		'(it installs the npm packages of web/) and reload.';
	status.classList.add('error');
	throw new Error('Chart.js or chartjs-plugin-zoom did not load');
}

const state = {
	runId: null,
	data: null,
	stream: null,
	ticker: null,
	generation: 0,
};

const timeline = new Timeline(byId('timeline'), byId('timeline-box'));
const summary = new SummaryView({
	cards: byId('cards'),
	diagnosis: byId('diagnosis'),
	notice: byId('run-notice'),
	activityCanvas: byId('activity'),
	activityBox: byId('activity-box'),
});
const compare = new CompareView({
	stack: byId('compare-stack'),
	status: byId('compare-status'),
	barsCanvas: byId('compare-bars'),
	onLoaded: entry => {
		byId('view-title').textContent =
			`Compare: ${entry.workload || 'workload'} under ` +
			`${(entry.runs || []).length} models`;
		if (form && entry.workload)
			form.setSpec({ workload: entry.workload,
				       params: entry.params || {} });
	},
	onRunEnd: () => historyView.refresh(),
});
const ascii = new AsciiView(byId('ascii'));
const exports = new Exports({
	json: byId('export-json'),
	chrome: byId('export-chrome'),
	ascii: byId('export-ascii'),
	png: byId('export-png'),
}, () => timeline);
const historyView = new HistoryView({
	list: byId('history-list'),
	empty: byId('history-empty'),
	status: byId('history-status'),
}, {
	onDeleted: id => {
		if (id === state.runId) {
			location.hash = '';
			showNothing();
		}
	},
});
const legend = new Legend(byId('legend'), (stateIndex, hide) => {
	timeline.setStateHidden(stateIndex, hide);
	compare.setStateHidden(stateIndex, hide);
});
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

function setHeading(data)
{
	const title = byId('view-title');
	const badge = byId('view-status');
	const cancel = byId('cancel-run');
	byId('view').classList.toggle('empty', !data);
	if (!data) {
		document.title = 'overlap';
		title.textContent = 'Choose a workload and press Run';
		badge.textContent = '';
		badge.hidden = true;
		cancel.hidden = true;
		return;
	}
	const run = data.run || {};
	title.textContent = run.workload ?
		`${run.workload} under ${run.model}` : `Run ${data.id}`;
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
		summary.updateActivity(data, false);
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
	let trace;
	try {
		trace = await getRun(id);
	} catch (error) {
		if (generation !== state.generation)
			return;
		summary.clear(error.status === 404 ?
			'There is no run with this id; it may have been ' +
			'deleted.' : `This run cannot be shown: ${error.message}`);
		byId('view-title').textContent = 'Run not found';
		return;
	}
	if (generation !== state.generation)
		return;
	if (trace && trace.run && form)
		form.setSpec(trace.run);
	if (trace && trace.run && isFinished(trace.run.status)) {
		const data = RunData.fromTrace(trace);
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
	summary.show(data);
	state.ticker = setInterval(() => {
		if (data.open.size)
			timeline.refresh();
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
			summary.clear(`The live stream stopped: ${message}.`);
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

function setRows(mode)
{
	for (const radio of document.querySelectorAll('input[name="rows"]'))
		radio.checked = radio.value === mode;
	timeline.setRowMode(mode);
}

function route()
{
	const hash = location.hash.replace(/^#/, '');
	const params = new URLSearchParams(hash);
	const runId = params.get('run');
	const compareId = params.get('compare');
	if (hash && !runId && !compareId)
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
		tabs.select('tab-compare');
		byId('view-title').textContent = 'Compare';
		compare.show(compareId);
	} else if (state.runId) {
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

async function startRun(spec)
{
	form.setBusy(true);
	form.setStatus('Starting…');
	try {
		const created = await createRun(spec);
		form.setStatus(`Run ${created.id} ${created.status || 'queued'}.`);
		location.hash = `run=${encodeURIComponent(created.id)}`;
		revealView();
		historyView.refresh();
	} catch (error) {
		form.showServerError(error);
	} finally {
		form.setBusy(false);
	}
}

async function startCompare(body)
{
	form.setBusy(true);
	form.setStatus('Starting the compare…');
	try {
		const created = await createCompare(body);
		const count = (created.runs || []).length;
		form.setStatus(`Compare ${created.id} queued: ${count} models.`);
		location.hash = `compare=${encodeURIComponent(created.id)}`;
		revealView();
		historyView.refresh();
	} catch (error) {
		form.showServerError(error);
	} finally {
		form.setBusy(false);
	}
}

/* ---- controls ----------------------------------------------------------- */

function bindControls()
{
	for (const radio of document.querySelectorAll('input[name="rows"]'))
		radio.addEventListener('change', () => {
			if (radio.checked)
				timeline.setRowMode(radio.value);
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
		legend.applyTheme();
	});
}

async function start()
{
	bindControls();
	showNothing();
	window.addEventListener('hashchange', route);
	historyView.refresh();
	let catalog;
	try {
		catalog = await getCatalog();
	} catch (error) {
		byId('form-status').textContent =
			`The catalog cannot be loaded: ${error.message}`;
		byId('form-status').classList.add('error');
		return;
	}
	form = new RunForm(byId('run-form'), catalog, {
		onRun: startRun,
		onCompare: startCompare,
	});
	document.body.dataset.ready = 'true';
	route();
	if (state.data && state.data.run)
		form.setSpec(state.data.run);
}

start();
