/*
 * compare: one workload under several models, one timeline each, stacked on
 * one shared time axis so that "sequential takes three times as long" is
 * seen before it is read, and a bar chart of wall time and speedup per
 * model.
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
import { formatNs, formatRatio } from './format.js';
import { el, clear } from './dom.js';
import { themeColours } from './palette.js';

/* The bar chart's tooltip: dataset 0 is wall time in s, 1 speedup. */
function barLabel(item)
{
	return item.datasetIndex ? `speedup ${formatRatio(item.raw)}` :
		`wall ${formatNs(item.raw * 1e9)}`;
}

export class CompareView {
	/* onLoaded(compare) when the compare's list is known; onRunEnd()
	 * after each of its runs ends. */
	constructor({ stack, status, barsCanvas, onLoaded, onRunEnd })
	{
		this.stack = stack;
		this.status = status;
		this.barsCanvas = barsCanvas;
		this.onLoaded = onLoaded || null;
		this.onRunEnd = onRunEnd || null;
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
			entry.timeline.destroy();
		this.entries = [];
		clear(this.stack);
		this.compareId = null;
		this.loaded = null;
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
			this.status.textContent =
				`This compare cannot be shown: ${error.message}`;
			return;
		}
		if (generation !== this.generation)
			return;
		const runs = compare.runs || [];
		this.status.textContent = `${compare.workload || ''}: ` +
			`${runs.length} models, run one after another, drawn ` +
			'on one time axis.';
		this.loaded = compare;
		if (this.onLoaded)
			this.onLoaded(compare);
		for (const run of runs)
			this.entries.push(this.addEntry(run));
		this.updateBars();
		for (const entry of this.entries) {
			if (generation !== this.generation)
				return;
			await this.follow(entry, generation);
			this.shareAxis();
			this.updateBars();
		}
	}

	addEntry(run)
	{
		const model = run.model || '?';
		const section = el('section', 'compare-run');
		const head = el('div', 'compare-run-head');
		const title = el('h4', null, model);
		const meta = el('span', 'compare-meta', run.status || '');
		head.append(title, meta);
		if (run.id) {
			const link = el('a', 'compare-link', 'open');
			link.href = `#run=${encodeURIComponent(run.id)}`;
			link.setAttribute('aria-label',
					  `Open the ${model} run`);
			head.append(link);
		}
		const box = el('div', 'chart-box compact');
		const canvas = el('canvas');
		canvas.setAttribute('role', 'img');
		canvas.setAttribute('aria-label', `Timeline of ${model}`);
		canvas.tabIndex = 0;
		box.append(canvas);
		section.append(head, box);
		this.stack.append(section);
		const entry = { model, id: run.id, run, meta, data: null };
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
		if (!entry.id) {
			entry.meta.textContent = 'not started';
			return;
		}
		let trace = null;
		try {
			trace = await getRun(entry.id);
		} catch (error) {
			entry.meta.textContent = `unavailable: ${error.message}`;
			return;
		}
		if (generation !== this.generation)
			return;
		if (trace && trace.run && isFinished(trace.run.status)) {
			entry.data = RunData.fromTrace(trace);
			entry.timeline.setData(entry.data);
			this.describe(entry);
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
				},
				onEnd: () => resolve(),
				onError: message => {
					entry.meta.textContent = message;
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

	describe(entry)
	{
		const data = entry.data;
		const parts = [data.status || ''];
		if (data.summary) {
			parts.push(formatNs(data.summary.wall_ns));
			parts.push(`speedup ${formatRatio(data.summary.speedup)}`);
		}
		entry.meta.textContent = parts.filter(Boolean).join(' · ');
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
			entry.timeline.setSharedMax(maxMs * 1.02);
	}

	syncRange(source, minMs, maxMs)
	{
		for (const entry of this.entries)
			if (entry !== source)
				entry.timeline.setXRange(minMs, maxMs);
	}

	setStateHidden(state, hidden)
	{
		if (hidden)
			this.hidden.add(state);
		else
			this.hidden.delete(state);
		for (const entry of this.entries)
			entry.timeline.setStateHidden(state, hidden);
	}

	updateBars()
	{
		const labels = this.entries.map(e => e.model);
		const wall = this.entries.map(e => (e.data && e.data.summary ?
			e.data.summary.wall_ns / 1e9 : null));
		const speedup = this.entries.map(e => (e.data &&
			e.data.summary ? e.data.summary.speedup : null));
		if (!this.bars) {
			this.bars = this.createBars();
		}
		this.bars.data.labels = labels;
		this.bars.data.datasets[0].data = wall;
		this.bars.data.datasets[1].data = speedup;
		this.bars.update('none');
		this.barsCanvas.dataset.models = String(labels.length);
		this.barsCanvas.dataset.complete = String(this.entries.length >
			0 && this.entries.every(e => e.data && e.data.summary));
	}

	createBars()
	{
		const colours = themeColours();
		return new window.Chart(this.barsCanvas, {
			type: 'bar',
			data: {
				labels: [],
				datasets: [
					{ label: 'wall time (s)', data: [],
					  backgroundColor: '#0072B2',
					  yAxisID: 'wall' },
					{ label: 'speedup (×)', data: [],
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
							 text: 'wall time (s)',
							 color: colours.muted },
						ticks: { color: colours.muted },
						grid: { color: colours.grid },
					},
					speedup: {
						position: 'right',
						beginAtZero: true,
						grace: '8%',
						title: { display: true,
							 text: 'speedup (×)',
							 color: colours.muted },
						ticks: { color: colours.muted },
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
