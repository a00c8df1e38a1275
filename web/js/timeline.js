/*
 * timeline: one run's segments as horizontal floating bars on a Chart.js
 * chart, one row per task or per lane, time across.
 *
 * The chart is a bar chart with indexAxis 'y' and a linear row axis, so the
 * zoom plugin, the axes, the ticks and the PNG export all come from Chart.js.
 * How the bars get drawn depends on how many there are:
 *
 *  - up to NATIVE_MAX segments, each segment is a real floating bar
 *    ({x: [t0, t1], y: row}) in the dataset of its state;
 *  - beyond that, the datasets stay empty and a plugin paints the rows
 *    straight onto the canvas, only what lies in view (painter.js), so
 *    the work per frame is bounded by the pixels in view, not by the
 *    segments in the run, which keeps panning a 100,000-segment run within
 *    a frame.
 *
 * Segments still running (live "open" events) are painted growing up to an
 * estimate of the run's present time.  Tooltips are a positioned element
 * filled with text, found by a binary search in the row under the pointer.
 */

import { STATES, STATE_HELP, WORKING_STATES, stateBucket, stateColour,
	 themeColours } from './palette.js';
import { axisUnit, formatAxisMs, formatNs } from './format.js';
import { el, clear } from './dom.js';
import { BAR_FRACTION, RowPainter, lowerBound, painterPlugin }
	from './painter.js';

const NATIVE_MAX = 2000;
/* A queued task waits for a lane and is on none yet: the trace files its
 * queued time under the lane that later runs it, where it would cover what
 * that lane was doing meanwhile, so rows per lane leave it out. */
const QUEUED = new Set(STATES.map((name, index) => index)
	.filter(index => stateBucket(index) === 'queued'));
const TIME_TITLE = 'time since the run started';

/* Fills the chart's background so an exported PNG is not transparent. */
const backgroundPlugin = {
	id: 'overlapBackground',
	beforeDraw(chart)
	{
		const { ctx, width, height } = chart;
		ctx.save();
		ctx.globalCompositeOperation = 'destination-over';
		ctx.fillStyle = themeColours().surface;
		ctx.fillRect(0, 0, width, height);
		ctx.restore();
	},
};

/* The canvas painting (large runs, open segments, cut ends) is RowPainter's
 * (painter.js). */
export class Timeline extends RowPainter {
	/*
	 * canvas: the <canvas>; box: its positioned container (sized here);
	 * options: {compact, onRange(minMs, maxMs)}.
	 */
	constructor(canvas, box, options = {})
	{
		super();
		this.canvas = canvas;
		this.box = box;
		this.compact = Boolean(options.compact);
		this.onRange = options.onRange || null;
		this.rowMode = 'task';
		this.hidden = new Set();	/* state indices */
		this.data = null;
		this.rows = [];		/* {key, label} */
		this.rowOf = new Map();	/* task or lane id -> row */
		this.rowSegs = [];	/* per row: segments sorted by t0 */
		this.rowMaxDur = [];	/* per row: longest segment, ns */
		this.dirtyRows = new Set();
		this.seen = 0;		/* segments of data indexed so far */
		this.mode = 'native';
		this.userRange = false;
		this.sharedMaxMs = null;
		this.nowAnchor = null;	/* {ns, perf} to estimate the present */
		this.tooltip = el('div', 'tooltip');
		this.tooltip.hidden = true;
		this.tooltip.setAttribute('role', 'tooltip');
		box.appendChild(this.tooltip);
		this.chart = this.createChart();
		this.chart.$overlapTimeline = this;
		this.bindPointer();
		this.bindKeys();
		this.resizeBox(0);
	}

	createChart()
	{
		const colours = themeColours();
		const datasets = STATES.map((state, index) => ({
			label: state,
			stateIndex: index,
			data: [],
			backgroundColor: stateColour(state),
			borderWidth: 0,
			grouped: false,
			barPercentage: BAR_FRACTION,
			categoryPercentage: 1,
			order: WORKING_STATES.has(state) ? 0 : 1,
		}));
		/* Chart.js calls these with the scale (or chart) as this. */
		const timeTick = value => this.formatTick(value);
		const rowLabel = value => this.rowLabel(value);
		const rowTicks = scale => {
			scale.ticks = this.rowTicks(scale);
		};
		const capLabelWidth = scale => {
			const cap = window.innerWidth < 600 ? 84 : 160;
			scale.width = Math.min(scale.width, cap);
		};
		const chart = new window.Chart(this.canvas, {
			type: 'bar',
			data: { datasets },
			plugins: [backgroundPlugin, painterPlugin],
			options: {
				indexAxis: 'y',
				animation: false,
				responsive: true,
				maintainAspectRatio: false,
				normalized: true,
				events: [],
				onResize: () => requestAnimationFrame(
					() => this.refit()),
				layout: { padding: { right: 8 } },
				scales: {
					x: {
						type: 'linear',
						min: 0,
						max: 1,
						grid: { color: colours.grid },
						border: { color: colours.grid },
						ticks: {
							color: colours.muted,
							maxRotation: 0,
							includeBounds: false,
							callback: timeTick,
						},
						title: {
							display: !this.compact,
							text: TIME_TITLE,
							color: colours.muted,
						},
					},
					y: {
						type: 'linear',
						reverse: true,
						min: -0.5,
						max: 0.5,
						/* bar charts pad their index
						 * axis; rows already sit at
						 * integer centres */
						offset: false,
						grid: { display: false,
							offset: false },
						border: { color: colours.grid },
						ticks: {
							color: colours.text,
							autoSkip: false,
							callback: rowLabel,
						},
						afterBuildTicks: rowTicks,
						afterFit: capLabelWidth,
					},
				},
				plugins: {
					legend: { display: false },
					tooltip: { enabled: false },
					zoom: this.zoomOptions(),
				},
			},
		});
		/* Hammer's pan claims every touch gesture on the canvas; let
		 * vertical swipes scroll the page on phones instead. */
		this.canvas.style.touchAction = 'pan-y';
		return chart;
	}

	zoomOptions()
	{
		const changed = () => {
			this.userRange = true;
			this.refit();
			this.emitRange();
		};
		return {
			limits: {
				x: { min: 'original', max: 'original',
				     minRange: 0.001 },
				y: { min: 'original', max: 'original',
				     minRange: 1 },
			},
			pan: {
				enabled: true,
				mode: 'xy',
				threshold: 4,
				onPan: changed,
			},
			zoom: {
				wheel: { enabled: true, modifierKey: 'ctrl' },
				pinch: { enabled: true },
				mode: 'x',
				scaleMode: 'y',
				onZoom: changed,
			},
		};
	}

	/* ---- data ----------------------------------------------------------- */

	setData(data)
	{
		this.data = data;
		this.userRange = false;
		this.nowAnchor = null;
		this.markedDrawn = false;
		this.rebuild();
	}

	setRowMode(mode)
	{
		if (mode === this.rowMode)
			return;
		this.rowMode = mode;
		this.userRange = false;
		this.rebuild();
	}

	setStateHidden(stateIndex, hidden)
	{
		if (hidden)
			this.hidden.add(stateIndex);
		else
			this.hidden.delete(stateIndex);
		const ds = this.chart.data.datasets[stateIndex];
		if (ds)
			ds.hidden = hidden;
		this.chart.update('none');
	}

	rebuild()
	{
		this.namesVersion = -1;
		this.lod = null;
		this.rows = [];
		this.rowOf = new Map();
		this.rowSegs = [];
		this.rowMaxDur = [];
		this.dirtyRows = new Set();
		this.seen = 0;
		this.mode = 'native';
		for (const ds of this.chart.data.datasets)
			ds.data = [];
		this.refresh();
	}

	syncRows()
	{
		const data = this.data;
		if (!data || data.namesVersion === this.namesVersion)
			return;
		this.namesVersion = data.namesVersion;
		const source = this.rowMode === 'lane' ? data.lanes : data.tasks;
		for (let i = this.rows.length; i < source.length; i++)
			this.addRow(source[i].id);
		/* Names may arrive after the row (task events are resent). */
		for (const row of this.rows) {
			const name = this.rowMode === 'lane' ?
				data.laneName(row.key) : data.taskName(row.key);
			row.label = name;
		}
	}

	addRow(key)
	{
		const index = this.rows.length;
		const label = this.rowMode === 'lane' ?
			this.data.laneName(key) : this.data.taskName(key);
		this.rows.push({ key, label });
		this.rowOf.set(key, index);
		this.rowSegs.push([]);
		this.rowMaxDur.push(0);
		return index;
	}

	/* Whether seg has a place in the rows: in rows per lane, a queued
	 * segment has none (see QUEUED). */
	shows(seg)
	{
		return this.rowMode !== 'lane' || !QUEUED.has(seg.state);
	}

	rowFor(seg)
	{
		const key = this.rowMode === 'lane' ? seg.lane : seg.task;
		const row = this.rowOf.get(key);
		return row === undefined ? this.addRow(key) : row;
	}

	/* Takes the segments that arrived since the last call. */
	indexNew()
	{
		const segs = this.data.segments;
		if (this.mode === 'native' && segs.length > NATIVE_MAX) {
			this.mode = 'painter';
			for (const ds of this.chart.data.datasets)
				ds.data = [];
		}
		const datasets = this.chart.data.datasets;
		for (let i = this.seen; i < segs.length; i++) {
			const seg = segs[i];
			if (!this.shows(seg))
				continue;
			const row = this.rowFor(seg);
			const list = this.rowSegs[row];
			if (list.length && list[list.length - 1].t0 > seg.t0)
				this.dirtyRows.add(row);
			list.push(seg);
			if (this.lod)
				this.lod.dirty.add(Math.floor(row / this.lod.k));
			const dur = seg.t1 - seg.t0;
			if (dur > this.rowMaxDur[row])
				this.rowMaxDur[row] = dur;
			if (this.mode === 'native')
				datasets[seg.state].data.push({
					x: [seg.t0 / 1e6, seg.t1 / 1e6],
					y: row,
					segment: seg,
				});
		}
		this.seen = segs.length;
		for (const row of this.dirtyRows)
			this.rowSegs[row].sort((a, b) => a.t0 - b.t0);
		this.dirtyRows.clear();
	}

	/* Brings the chart up to date with the data; one chart update. */
	refresh()
	{
		if (!this.data) {
			this.chart.update('none');
			return;
		}
		this.syncRows();
		this.indexNew();
		this.resizeBox(this.rows.length);
		/* The box may have just been shown or resized; Chart.js would
		 * notice a frame later, and this draw would be lost. */
		if (this.box.clientWidth !== this.chart.width ||
		    this.box.clientHeight !== this.chart.height)
			this.chart.resize();
		this.applyRanges();
		this.chart.update('none');
		if (this.mode === 'native' && this.fitBars())
			this.chart.update('none');
		const ds = this.canvas.dataset;
		ds.rows = String(this.rows.length);
		ds.segments = String(this.seen);
		ds.mode = this.mode;
		ds.complete = String(Boolean(this.data.ended));
		ds.cut = String(this.data.cutSegments().size);
		if (this.data.ended && !this.markedDrawn) {
			this.markedDrawn = true;
			performance.mark('overlap:drawn');
		}
	}

	refit()
	{
		if (this.mode === 'native' && this.chart && this.fitBars())
			this.chart.update('none');
	}

	/* Native bars are as thick as the painted ones: a fixed fraction of
	 * the row.  Returns true when the thickness changed. */
	fitBars()
	{
		const y = this.chart.scales.y;
		const rowPx = Math.abs(y.getPixelForValue(1) -
				       y.getPixelForValue(0));
		const thickness = Math.max(1, rowPx * BAR_FRACTION);
		let changed = false;
		for (const ds of this.chart.data.datasets) {
			if (Math.abs((ds.barThickness || 0) - thickness) > 0.5) {
				ds.barThickness = thickness;
				changed = true;
			}
		}
		return changed;
	}

	/* The present time of a live run, estimated between events. */
	nowNs()
	{
		const data = this.data;
		if (!data || data.ended || data.open.size === 0)
			return data ? data.latestNs : 0;
		const perf = performance.now();
		if (!this.nowAnchor || data.latestNs > this.nowAnchor.ns +
		    (perf - this.nowAnchor.perf) * 1e6)
			this.nowAnchor = { ns: data.latestNs, perf };
		return this.nowAnchor.ns + (perf - this.nowAnchor.perf) * 1e6;
	}

	extentMs()
	{
		if (!this.data)
			return 1;
		const ns = Math.max(this.data.extentNs(), this.nowNs());
		return Math.max(ns / 1e6, 1);
	}

	applyRanges()
	{
		const scales = this.chart.options.scales;
		const rows = Math.max(this.rows.length, 1);
		if (this.userRange)
			return;
		const maxMs = this.sharedMaxMs !== null ?
			Math.max(this.sharedMaxMs, this.extentMs()) :
			this.extentMs() * 1.02;
		scales.x.min = 0;
		scales.x.max = maxMs;
		scales.y.min = -0.5;
		scales.y.max = rows - 0.5;
	}

	resizeBox(rows)
	{
		const rowPx = this.compact ? 14 : 22;
		const min = this.compact ? 90 : 160;
		const max = this.compact ? 240 : 560;
		const height = Math.max(min, Math.min(max, rows * rowPx + 64));
		if (this.boxHeight !== height) {
			this.boxHeight = height;
			this.box.style.height = `${height}px`;
		}
	}

	/* For compares: every timeline of the stack shares the time axis. */
	setSharedMax(maxMs)
	{
		this.sharedMaxMs = maxMs;
		if (!this.userRange)
			this.refresh();
	}

	setXRange(minMs, maxMs)
	{
		const x = this.chart.options.scales.x;
		x.min = minMs;
		x.max = maxMs;
		this.userRange = true;
		this.chart.update('none');
	}

	emitRange()
	{
		if (this.onRange) {
			const x = this.chart.scales.x;
			this.onRange(x.min, x.max);
		}
	}

	/* ---- navigation ----------------------------------------------------- */

	zoomBy(factor)
	{
		this.chart.zoom({ x: factor }, 'none');
		this.userRange = true;
		this.emitRange();
	}

	panBy(fractionX, fractionY)
	{
		const area = this.chart.chartArea;
		this.chart.pan({ x: -fractionX * area.width,
				 y: -fractionY * area.height }, undefined,
			       'none');
		this.userRange = true;
		this.emitRange();
	}

	resetZoom()
	{
		this.chart.resetZoom('none');
		this.userRange = false;
		this.refresh();
		this.emitRange();
	}

	bindKeys()
	{
		this.canvas.addEventListener('keydown', event => {
			const actions = {
				ArrowLeft: () => this.panBy(-0.1, 0),
				ArrowRight: () => this.panBy(0.1, 0),
				ArrowUp: () => this.panBy(0, -0.1),
				ArrowDown: () => this.panBy(0, 0.1),
				'+': () => this.zoomBy(1.25),
				'=': () => this.zoomBy(1.25),
				'-': () => this.zoomBy(0.8),
				'0': () => this.resetZoom(),
			};
			const action = actions[event.key];
			if (action) {
				event.preventDefault();
				action();
			}
		});
	}

	/* ---- painting ------------------------------------------------------- */

	formatTick(valueMs)
	{
		const scale = this.chart && this.chart.scales.x;
		const range = scale ? scale.max - scale.min : valueMs;
		return formatAxisMs(valueMs, axisUnit(range));
	}

	/* One tick per row while the labels fit, else every k-th row. */
	rowTicks(scale)
	{
		const lo = Math.max(0, Math.ceil(Math.min(scale.min, scale.max)));
		const hi = Math.min(this.rows.length - 1,
				    Math.floor(Math.max(scale.min, scale.max)));
		/* maxHeight: what the layout offers the axis in this pass */
		const heightPx = scale.maxHeight > 0 ? scale.maxHeight :
			Math.abs(scale.bottom - scale.top);
		const fit = Math.max(1, Math.floor(heightPx / 15));
		const count = hi - lo + 1;
		const ticks = [];
		if (count <= 0)
			return ticks;
		const step = Math.max(1, Math.ceil(count / fit));
		for (let v = lo; v <= hi; v += step)
			ticks.push({ value: v });
		return ticks;
	}

	rowLabel(value)
	{
		if (!Number.isInteger(value))
			return '';
		const row = this.rows[value];
		return row ? row.label : '';
	}

	/* ---- tooltips ------------------------------------------------------- */

	bindPointer()
	{
		const move = event => this.hover(event);
		this.canvas.addEventListener('mousemove', move);
		this.canvas.addEventListener('click', move);
		this.canvas.addEventListener('mouseleave', () => {
			this.tooltip.hidden = true;
		});
	}

	hover(event)
	{
		const chart = this.chart;
		const rect = this.canvas.getBoundingClientRect();
		const px = event.clientX - rect.left;
		const py = event.clientY - rect.top;
		const area = chart.chartArea;
		if (!this.data || !area || px < area.left || px > area.right ||
		    py < area.top || py > area.bottom) {
			this.tooltip.hidden = true;
			return;
		}
		const found = this.segmentAt(px, py);
		if (!found) {
			this.tooltip.hidden = true;
			return;
		}
		this.showTooltip(found, px, py);
	}

	/* The segment under pixel (px, py), or an open one, or null. */
	segmentAt(px, py)
	{
		const { x, y } = this.chart.scales;
		const row = Math.round(y.getValueForPixel(py));
		const segs = this.rowSegs[row];
		if (!segs)
			return null;
		const t = x.getValueForPixel(px) * 1e6;
		const nsPerPx = (x.max - x.min) * 1e6 /
			this.chart.chartArea.width;
		const tolerance = 2 * nsPerPx;
		let best = null;
		let bestScore = Infinity;
		let i = lowerBound(segs, t - this.rowMaxDur[row] - tolerance);
		for (; i < segs.length && segs[i].t0 <= t + tolerance; i++) {
			const s = segs[i];
			if (this.hidden.has(s.state) || s.t1 < t - tolerance)
				continue;
			const inside = s.t0 <= t && t <= s.t1;
			const distance = inside ? 0 :
				Math.min(Math.abs(s.t0 - t), Math.abs(s.t1 - t));
			/* Prefer what is under the pointer, then working
			 * states (drawn on top), then the shortest. */
			const score = distance * 1e3 +
				(WORKING_STATES.has(STATES[s.state]) ? 0 : 1) *
				1e-3 * nsPerPx + (s.t1 - s.t0) * 1e-9;
			if (score < bestScore) {
				bestScore = score;
				best = s;
			}
		}
		if (best)
			return { seg: best, open: false };
		for (const [task, open] of this.data.open) {
			const key = this.rowMode === 'lane' ? open.lane : task;
			if (this.shows(open) && this.rowOf.get(key) === row &&
			    open.t0 <= t)
				return { seg: { ...open, task, t1: null },
					 open: true };
		}
		return null;
	}

	showTooltip(found, px, py)
	{
		const { seg, open } = found;
		const tip = this.tooltip;
		clear(tip);
		const state = STATES[seg.state];
		const head = el('div', 'tooltip-head');
		const swatch = el('span', 'swatch');
		swatch.style.backgroundColor = stateColour(state);
		head.append(swatch, el('strong', null, state));
		if (open)
			head.append(el('span', 'muted', ' (running)'));
		if (seg.estimated)
			head.append(el('span', 'muted', ' (estimated)'));
		tip.append(head);
		const rows = [
			['task', this.data.taskName(seg.task)],
			['lane', this.data.laneName(seg.lane)],
			['start', formatNs(seg.t0)],
			['end', open ? '–' : formatNs(seg.t1)],
			['duration', open ? '–' : formatNs(seg.t1 - seg.t0)],
		];
		if (seg.note)
			rows.push(['note', seg.note]);
		if (!open && this.data.cutSegments().has(seg))
			rows.push(['cut', this.data.status === 'cancelled' ?
				'by the cancel: it had not ended' :
				'when the run stopped: it had not ended']);
		if (seg.estimated)
			rows.push(['timing', 'estimated: Python cannot see ' +
				   'a wait for the GIL, so it is the time the ' +
				   'computation took beyond its CPU time and ' +
				   'its wait for a core']);
		const list = el('dl', 'tooltip-list');
		for (const [name, value] of rows)
			list.append(el('dt', null, name), el('dd', null, value));
		tip.append(list);
		tip.title = STATE_HELP[state] || '';
		tip.hidden = false;
		const boxWidth = this.box.clientWidth;
		const tipWidth = tip.offsetWidth;
		let left = px + 12;
		if (left + tipWidth > boxWidth)
			left = Math.max(0, px - tipWidth - 12);
		tip.style.transform = `translate(${Math.round(left)}px, ` +
			`${Math.round(py + 12)}px)`;
	}

	/* ---- the rest ------------------------------------------------------- */

	/* Re-reads the page's colours after a light/dark switch. */
	applyTheme()
	{
		const colours = themeColours();
		const scales = this.chart.options.scales;
		scales.x.grid.color = colours.grid;
		scales.x.border.color = colours.grid;
		scales.x.ticks.color = colours.muted;
		scales.x.title.color = colours.muted;
		scales.y.border.color = colours.grid;
		scales.y.ticks.color = colours.text;
		for (const ds of this.chart.data.datasets)
			ds.backgroundColor = stateColour(ds.label);
		this.chart.update('none');
	}

	destroy()
	{
		this.chart.destroy();
		this.tooltip.remove();
	}
}
