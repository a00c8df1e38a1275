/*
 * compare: one workload under several models, one timeline each, stacked on
 * one shared time axis so that "sequential takes three times as long" is
 * seen before it is read, a sentence naming the fastest and the slowest
 * once every run has ended, and a bar chart of wall time and speedup per
 * model.
 *
 * A compare outlives its runs' deletion: a deleted run keeps its place in
 * the stack, saying it was deleted, and the rest is drawn without it; when
 * every run is gone the view says so instead of showing empty charts.
 *
 * The server runs a compare's runs one at a time, in order, so the page
 * follows them the same way: one live stream at a time (a browser allows
 * few connections per host, and the rest are needed for the API).  Runs
 * already finished are read whole from their stored trace.  Zooming or
 * panning any timeline of the stack moves them all.
 */

import { getCompare, getRun } from './api.js';
import { openStream } from './stream.js';
import { RunData, isFinished } from './trace.js';
import { Timeline } from './timeline.js';
import { formatNs, formatRatio, formatCount } from './format.js';
import { el, clear } from './dom.js';
import { themeColours } from './palette.js';

/* The bar chart's tooltip: dataset 0 is wall time in s, 1 speedup. */
function barLabel(item)
{
	return item.datasetIndex ? `speedup ${formatRatio(item.raw)}` :
		`wall ${formatNs(item.raw * 1e9)}`;
}

/* How much faster than the baseline counts as faster at all: timings on
 * a busy machine wander by a tenth or two. */
const MUCH_FASTER = 1.25;

/* Wall time ticks in the unit that fits ("40 ms" rather than 0.040). */
function wallTick(seconds)
{
	return seconds === 0 ? '0' : formatNs(seconds * 1e9);
}

function speedupTick(value)
{
	return `${Number(value.toFixed(2))}×`;
}

/* "a", "a and b", "a, b and c". */
function names(list)
{
	return list.length < 2 ? list.join('') :
		`${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
}

/* A check of a run that went wrong, in a few words, or ''. */
function checkWords(summary)
{
	const checks = (summary && summary.checks) || {};
	if (checks.lost > 0)
		return `${formatCount(checks.lost)} updates lost`;
	if (checks.failed > 0)
		return `${formatCount(checks.failed)} requests failed`;
	return '';
}

/* The compare's wrong answers: "Updates were lost under threads
 * (280,471) and thread-pool (1,002)." */
function checkSentences(entries)
{
	const out = [];
	const count = (key, words) => {
		const hit = entries.filter(e => e.data.summary &&
			e.data.summary.checks &&
			e.data.summary.checks[key] > 0);
		if (hit.length)
			out.push(`${words} ${names(hit.map(e => `${e.model} ` +
				`(${formatCount(e.data.summary.checks[key])})`))}.`);
	};
	count('lost', 'Updates were lost under');
	count('failed', 'Requests failed under');
	return out;
}

export class CompareView {
	/* onLoaded(compare) when the compare's list is known; onRunEnd()
	 * after each of its runs ends; onStates(set of state indices) when
	 * the states drawn change; onFastest(entry) once every run has
	 * ended, with the fastest (or the baseline when none was much
	 * faster). */
	constructor({ stack, status, verdict, barsPart, barsCanvas, onLoaded,
		      onRunEnd, onStates, onMissing, onFastest })
	{
		this.onFastest = onFastest || null;
		this.answered = false;
		this.onMissing = onMissing || null;
		this.stack = stack;
		this.status = status;
		this.verdict = verdict;
		this.barsPart = barsPart;
		this.barsCanvas = barsCanvas;
		this.onLoaded = onLoaded || null;
		this.onRunEnd = onRunEnd || null;
		this.onStates = onStates || null;
		this.entries = [];	/* {model, id, data, timeline, meta} */
		this.stream = null;
		this.generation = 0;
		this.bars = null;
		this.hidden = new Set();
		this.compareId = null;
	}

	stop()
	{
		this.generation++;
		if (this.stream) {
			this.stream.close();
			this.stream = null;
		}
		if (this.ticker) {
			clearInterval(this.ticker);
			this.ticker = null;
		}
	}

	reset()
	{
		this.stop();
		for (const entry of this.entries)
			if (entry.timeline)
				entry.timeline.destroy();
		this.entries = [];
		clear(this.stack);
		this.compareId = null;
		this.answered = false;
		this.loaded = null;
		this.verdict.textContent = '';
		this.barsPart.hidden = false;
		this.status.textContent = 'Press “Compare all models” to ' +
			'run the workload under every model and see them on ' +
			'one time axis.';
		if (this.onStates)
			this.onStates(new Set());
	}

	async show(id)
	{
		if (this.compareId === id) {
			if (this.loaded && this.onLoaded)
				this.onLoaded(this.loaded);
			return;
		}
		this.reset();
		this.compareId = id;
		const generation = this.generation;
		this.status.textContent = 'Loading the compare…';
		let compare;
		try {
			compare = await getCompare(id);
		} catch (error) {
			if (generation !== this.generation)
				return;
			this.status.textContent = error.status === 404 ?
				'There is no compare with this id. Start one ' +
				'with “Compare all models”.' :
				`This compare cannot be shown: ${error.message}`;
			this.barsPart.hidden = true;
			if (error.status === 404 && this.onMissing)
				this.onMissing();
			return;
		}
		if (generation !== this.generation)
			return;
		const runs = compare.runs || [];
		/* Model vs CPython: the same model under both engines. */
		this.hasEngines = runs.some(r => r.engine === 'cpython');
		this.loaded = compare;
		if (this.onLoaded)
			this.onLoaded(compare);
		for (const run of runs)
			this.entries.push(this.addEntry(run));
		this.describeAll();
		this.updateBars();
		for (const entry of this.entries) {
			if (generation !== this.generation)
				return;
			await this.follow(entry, generation);
			if (generation !== this.generation)
				return;
			this.shareAxis();
			this.describeAll();
			this.updateBars();
		}
	}

	/* The line above the stack: what this compare is, and what of it
	 * is gone. */
	describeAll()
	{
		const compare = this.loaded || {};
		const total = this.entries.length;
		const gone = this.entries.filter(e => e.gone).length;
		let text = `${compare.workload || 'The workload'} under ` +
			`${total} models, run one after another and drawn on ` +
			'one time axis.';
		if (this.hasEngines)
			text = `${compare.workload || 'The workload'} under ` +
				names([...new Set(this.entries.map(e =>
					e.modelName))]) +
				', in overlap\'s model and in CPython, run one ' +
				'after another and drawn on one time axis.';
		const done = this.entries.filter(e => e.gone ||
			(e.data && e.data.ended)).length;
		if (done < total)
			text += ` ${done} of ${total} done.`;
		if (total > 0 && gone === total)
			text = `Every run of this compare (${total}) was ` +
				'deleted, so there is nothing left to show. ' +
				'Press “Compare all models” to run it ' +
				'again.';
		else if (gone > 0)
			text += ` ${gone} of the ${total} runs ` +
				(gone === 1 ? 'was' : 'were') + ' deleted.';
		this.status.textContent = text;
		this.status.classList.toggle('error', total > 0 &&
					     gone === total);
		this.barsPart.hidden = total > 0 && gone === total;
		this.showVerdict();
	}

	/*
	 * The lesson in a few sentences once every run still here has ended,
	 * measured against sequential (the one-after-another baseline):
	 * "Fastest: threads and asyncio, 2.00 s, 3.00× faster than
	 * sequential (6.00 s). No faster than sequential: process-pool."
	 * Without a sequential run that finished, against the slowest run
	 * that did.  A run that deadlocked or failed has no time to compare
	 * and is named apart; a run that finished sooner while overlapping
	 * nothing (speedup about 1×) is said to have done its work faster,
	 * which on a busy machine is the machine, not the model; and lost
	 * updates or failed requests are named, since a model can be fast
	 * and wrong.
	 */
	showVerdict()
	{
		clear(this.verdict);
		for (const entry of this.entries)
			entry.section.classList.remove('fastest');
		const alive = this.entries.filter(e => !e.gone);
		if (alive.length < 2 || !alive.every(e => e.data &&
		    e.data.ended))
			return;
		if (this.hasEngines) {
			this.showEngineVerdict(alive);
			return;
		}
		const wall = e => e.data.summary.wall_ns;
		const timed = alive.filter(e => e.data.status === 'done' &&
			e.data.summary && wall(e) > 0);
		const unfinished = alive.filter(e => e.data.status !== 'done');
		const tail = [];
		if (unfinished.length)
			tail.push(`Did not finish: ${names(unfinished.map(e =>
				`${e.model} (${e.data.status})`))}, so ` +
				`${unfinished.length === 1 ? 'its time is' :
					'their times are'} left out.`);
		const checks = checkSentences(alive);
		if (timed.length < 2) {
			this.verdictLine(timed.length ? `Only ${timed[0].model} ` +
				'finished: there is nothing to compare it ' +
				'with.' : 'No run finished: there is nothing ' +
				'to compare.', [...tail, ...checks]);
			return;
		}
		const base = timed.find(e => e.model === 'sequential') ||
			timed.reduce((a, b) => (wall(b) > wall(a) ? b : a));
		const others = timed.filter(e => e !== base);
		const best = Math.min(...others.map(wall));
		const fastest = others.filter(e => wall(e) <= best * 1.05);
		const gain = wall(base) / best;
		const what = `${base.model} (${formatNs(wall(base))})` +
			(base.model === 'sequential' ? '' :
				', the slowest run that finished');
		/* The answer, once: the fastest model, or the baseline when
		 * none was much faster. */
		if (!this.answered && this.onFastest) {
			this.answered = true;
			this.onFastest(gain < MUCH_FASTER ? base :
				others.find(e => wall(e) === best));
		}
		if (gain < MUCH_FASTER) {
			this.verdictLine(`No model was much faster than ${what}.`,
				['Nothing in this workload overlaps better ' +
				 'under one model than under another.', ...tail,
				 ...checks]);
			return;
		}
		for (const entry of fastest)
			entry.section.classList.add('fastest');
		const rest = others.filter(e => !fastest.includes(e));
		const slow = rest.filter(e => wall(base) / wall(e) <
					 MUCH_FASTER);
		const between = rest.filter(e => !slow.includes(e));
		const words = [];
		if (between.length)
			words.push('In between: ' + between.map(e =>
				`${e.model}, ${formatRatio(wall(base) /
					wall(e))} faster`).join('; ') + '.');
		if (slow.length)
			words.push(`No faster than ${base.model}: ` +
				`${names(slow.map(e => e.model))}.`);
		/* Sooner, yet nothing overlapped: the work itself took less
		 * time than under the baseline. */
		const alone = [...fastest, ...between].filter(e =>
			!(e.data.summary.speedup >= MUCH_FASTER));
		if (alone.length) {
			const one = alone.length === 1;
			words.push(`${names(alone.map(e => `${e.model} ` +
				`(speedup ${formatRatio(e.data.summary.speedup)})`))} ` +
				'overlapped next to nothing: ' +
				`${one ? 'it' : 'they'} finished sooner because ` +
				`${one ? 'its' : 'their'} tasks' own work took ` +
				'less time, not because anything ran at once.');
		}
		this.verdictLine(`Fastest: ${names(fastest.map(e => e.model))}, ` +
			`${formatNs(best)}, ${formatRatio(gain)} faster than ` +
			`${what}.`, [...words, ...tail, ...checks]);
	}

	/*
	 * Model vs CPython: for each model run by both engines, the wall
	 * time of each, their ratio and one sentence on where they differ,
	 * read from the two traces: start-up (startup segments), lost
	 * updates (the counter's check), waiting for the GIL, and what is
	 * left spread over the tasks (per-task cost).  Within 10% with the
	 * same checks, they agree.
	 */
	showEngineVerdict(alive)
	{
		const wall = e => e.data.summary.wall_ns;
		const state = (e, name) =>
			(e.data.summary.states || {})[name] || 0;
		const lost = e => ((e.data.summary.checks || {}).lost || 0);
		const heads = [];
		const words = [];
		for (const name of new Set(alive.map(e => e.modelName))) {
			const model = alive.find(e => e.modelName === name &&
						 e.engine !== 'cpython');
			const real = alive.find(e => e.modelName === name &&
						e.engine === 'cpython');
			if (!model || !real)
				continue;
			if (model.data.status !== 'done' ||
			    real.data.status !== 'done' || !wall(model)) {
				words.push(`${name}: the model ended ` +
					`${model.data.status}, CPython ` +
					`${real.data.status}.`);
				continue;
			}
			const run = real.data.run || {};
			const version = (run.engine && run.engine.version) || '';
			const ratio = wall(real) / wall(model);
			heads.push(`${name}: CPython ${version} ` +
				`${formatNs(wall(real))}, ` +
				`${formatRatio(ratio)} the model's ` +
				`${formatNs(wall(model))}.`);
			const where = [];
			const su = [state(model, 'startup'), state(real, 'startup')];
			if (Math.abs(su[1] - su[0]) > 0.05 * wall(model))
				where.push(`start-up (${formatNs(su[1])} in ` +
					`CPython, ${formatNs(su[0])} in the model)`);
			if ((lost(model) > 0) !== (lost(real) > 0))
				where.push(`lost updates (the model lost ` +
					`${formatCount(lost(model))}, CPython ` +
					`${formatCount(lost(real))})`);
			const gil = [state(model, 'gil-wait'),
				     state(real, 'gil-wait')];
			if (Math.abs(gil[1] - gil[0]) > 0.1 * wall(model))
				where.push(`waiting for the GIL (` +
					`${formatNs(gil[1])} estimated in CPython, ` +
					`${formatNs(gil[0])} in the model)`);
			const tasks = Math.max(1, (real.data.tasks || []).length);
			const perTask = (wall(real) - wall(model)) / tasks;
			if (Math.abs(ratio - 1) > 0.1)
				where.push(`per-task cost (${perTask >= 0 ?
					'+' : '−'}${formatNs(Math.abs(perTask))} ` +
					'a task in CPython)');
			if (!where.length)
				words.push(`${name}: they agree within 10%.`);
			else
				words.push(`${name}: they differ in ` +
					`${names(where)}.`);
		}
		if (!heads.length) {
			this.verdictLine('Nothing to set side by side: no ' +
				'model finished under both engines.', words);
			return;
		}
		this.verdictLine(heads.join(' '), words);
		this.verdict.dataset.engines = 'true';
	}

	/* The verdict: a sentence in bold, then the others. */
	verdictLine(head, sentences)
	{
		this.verdict.append(el('strong', 'diagnosis-head', head));
		if (sentences.length)
			this.verdict.append(document.createTextNode(
				sentences.join(' ')));
	}

	addEntry(run)
	{
		const modelName = run.model || '?';
		const engine = run.engine === 'cpython' ? 'cpython' : 'overlap';
		/* Model vs CPython names the engine of every row. */
		const model = !this.hasEngines ? modelName :
			`${modelName} · ${engine === 'cpython' ? 'CPython' :
				'overlap model'}`;
		const section = el('section', 'compare-run');
		const head = el('div', 'compare-run-head');
		const title = el('h4', null, model);
		const meta = el('span', 'compare-meta', run.status || '');
		const check = el('span', 'compare-check');
		check.hidden = true;
		head.append(title, meta, check);
		if (run.status === 'deleted' || !run.id) {
			section.append(head, el('p', 'compare-gone',
				run.id ? 'This run was deleted: its timeline ' +
				'is gone.' : 'This run never started.'));
			section.classList.add('gone');
			this.stack.append(section);
			return { model, modelName, engine, id: run.id, run,
				 meta, data: null, timeline: null, section,
				 gone: true };
		}
		const link = el('a', 'compare-link', 'open this run');
		link.href = `#run=${encodeURIComponent(run.id)}`;
		link.setAttribute('aria-label', `Open the ${model} run`);
		head.append(link);
		const box = el('div', 'chart-box compact');
		const canvas = el('canvas');
		canvas.setAttribute('role', 'img');
		canvas.setAttribute('aria-label', `Timeline of ${model}`);
		canvas.tabIndex = 0;
		box.append(canvas);
		/* Until its turn, a run is a line, not an empty chart on an
		 * axis of its own. */
		const waiting = el('p', 'compare-waiting',
				   'Waits for the runs above to finish.');
		box.hidden = true;
		section.append(head, waiting, box);
		this.stack.append(section);
		const entry = { model, modelName, engine, id: run.id, run, meta,
				check, data: null, box, waiting };
		entry.timeline = new Timeline(canvas, box, {
			compact: true,
			onRange: (min, max) => this.syncRange(entry, min, max),
		});
		for (const state of this.hidden)
			entry.timeline.setStateHidden(state, true);
		entry.section = section;
		return entry;
	}

	/* Loads one run: whole when finished, else live until it ends. */
	async follow(entry, generation)
	{
		if (entry.gone)
			return;
		let trace = null;
		try {
			trace = await getRun(entry.id);
		} catch (error) {
			if (generation !== this.generation)
				return;
			if (error.status === 404)
				this.markGone(entry);
			else
				entry.meta.textContent =
					`unavailable: ${error.message}`;
			return;
		}
		if (generation !== this.generation)
			return;
		entry.waiting.remove();
		entry.box.hidden = false;
		if (trace && trace.run && isFinished(trace.run.status)) {
			entry.data = RunData.fromTrace(trace);
			entry.timeline.setData(entry.data);
			this.describe(entry);
			this.statesChanged();
			return;
		}
		entry.data = new RunData(entry.id);
		entry.timeline.setData(entry.data);
		await new Promise(resolve => {
			this.ticker = setInterval(() => {
				if (entry.data.open.size)
					entry.timeline.refresh();
			}, 100);
			this.stream = openStream(entry.id, {
				onBatch: batch => {
					for (const { name, data } of batch)
						entry.data.apply(name, data);
					entry.timeline.refresh();
					this.describe(entry);
					this.shareAxis();
					this.statesChanged();
				},
				onEnd: () => resolve(),
				onError: message => {
					entry.meta.textContent = 'the live ' +
						`stream stopped: ${message}`;
					resolve();
				},
			});
		});
		clearInterval(this.ticker);
		this.ticker = null;
		this.stream = null;
		if (generation === this.generation) {
			entry.timeline.refresh();
			this.describe(entry);
			if (this.onRunEnd)
				this.onRunEnd();
		}
	}

	/* A run deleted while the compare is shown. */
	markGone(entry)
	{
		if (entry.timeline) {
			entry.timeline.destroy();
			entry.timeline = null;
		}
		entry.gone = true;
		entry.data = null;
		entry.meta.textContent = 'deleted';
		entry.section.classList.add('gone');
		const box = entry.section.querySelector('.chart-box');
		if (box)
			box.replaceWith(el('p', 'compare-gone',
				'This run was deleted: its timeline is gone.'));
		this.describeAll();
		this.updateBars();
	}

	statesChanged()
	{
		if (!this.onStates)
			return;
		const states = new Set();
		for (const entry of this.entries)
			if (entry.data)
				for (const state of entry.data.statesSeen)
					states.add(state);
		this.onStates(states);
	}

	describe(entry)
	{
		const data = entry.data;
		const parts = [data.status || ''];
		if (data.summary) {
			parts.push(formatNs(data.summary.wall_ns));
			parts.push(`speedup ${formatRatio(data.summary.speedup)}`);
		}
		entry.meta.textContent = parts.filter(Boolean).join(' · ');
		const wrong = checkWords(data.summary);
		entry.check.textContent = wrong;
		entry.check.hidden = !wrong;
	}

	/* Every timeline gets the longest run's extent as its time axis. */
	shareAxis()
	{
		let maxMs = 1;
		for (const entry of this.entries)
			if (entry.data)
				maxMs = Math.max(maxMs,
					entry.data.extentNs() / 1e6);
		for (const entry of this.entries)
			if (entry.timeline)
				entry.timeline.setSharedMax(maxMs * 1.02);
	}

	syncRange(source, minMs, maxMs)
	{
		for (const entry of this.entries)
			if (entry !== source && entry.timeline)
				entry.timeline.setXRange(minMs, maxMs);
	}

	setStateHidden(state, hidden)
	{
		if (hidden)
			this.hidden.add(state);
		else
			this.hidden.delete(state);
		for (const entry of this.entries)
			if (entry.timeline)
				entry.timeline.setStateHidden(state, hidden);
	}

	/* The bars of the runs still here; complete once each has ended. */
	updateBars()
	{
		const alive = this.entries.filter(e => !e.gone);
		/* A run that ended otherwise than done (a deadlock, say)
		 * keeps its place with no bars: its time is no result. */
		const failed = e => e.data && e.data.ended &&
			e.data.status !== 'done';
		const labels = alive.map(e => (failed(e) ?
			`${e.model} (${e.data.status})` : e.model));
		const timed = e => e.data && e.data.summary && !failed(e);
		const wall = alive.map(e => (timed(e) ?
			e.data.summary.wall_ns / 1e9 : null));
		const speedup = alive.map(e => (timed(e) ?
			e.data.summary.speedup : null));
		if (!this.bars) {
			this.bars = this.createBars();
		}
		this.bars.data.labels = labels;
		this.bars.data.datasets[0].data = wall;
		this.bars.data.datasets[1].data = speedup;
		this.bars.update('none');
		this.barsCanvas.dataset.models = String(labels.length);
		this.barsCanvas.dataset.complete = String(this.entries.length >
			0 && alive.every(e => e.data && (e.data.summary ||
				e.data.ended)));
	}

	createBars()
	{
		const colours = themeColours();
		return new window.Chart(this.barsCanvas, {
			type: 'bar',
			data: {
				labels: [],
				datasets: [
					{ label: 'wall time (lower is better)',
					  data: [],
					  backgroundColor: '#0072B2',
					  yAxisID: 'wall' },
					{ label: 'speedup (higher is better)',
					  data: [],
					  backgroundColor: '#E69F00',
					  yAxisID: 'speedup' },
				],
			},
			options: {
				animation: false,
				responsive: true,
				maintainAspectRatio: false,
				scales: {
					x: { ticks: { color: colours.text },
					     grid: { display: false } },
					wall: {
						position: 'left',
						beginAtZero: true,
						grace: '8%',
						title: { display: true,
							 text: 'wall time',
							 color: colours.muted },
						ticks: { color: colours.muted,
							 callback: wallTick },
						grid: { color: colours.grid },
					},
					speedup: {
						position: 'right',
						beginAtZero: true,
						grace: '8%',
						title: { display: true,
							 text: 'speedup',
							 color: colours.muted },
						ticks: { color: colours.muted,
							 callback: speedupTick },
						grid: { display: false },
					},
				},
				plugins: {
					legend: { labels: { color: colours.text } },
					tooltip: { callbacks: { label: barLabel } },
				},
			},
		});
	}

	applyTheme()
	{
		for (const entry of this.entries)
			if (entry.timeline)
				entry.timeline.applyTheme();
		if (this.bars) {
			const colours = themeColours();
			const s = this.bars.options.scales;
			s.x.ticks.color = colours.text;
			s.wall.ticks.color = s.speedup.ticks.color = colours.muted;
			s.wall.title.color = s.speedup.title.color = colours.muted;
			s.wall.grid.color = colours.grid;
			const legend = this.bars.options.plugins.legend;
			legend.labels.color = colours.text;
			this.bars.update('none');
		}
	}
}
