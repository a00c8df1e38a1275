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
 *    straight onto the canvas: only what lies in view; within a row,
 *    segments of one state that touch are merged and a segment narrower
 *    than a pixel is absorbed into its neighbour; rows thinner than a pixel
 *    are drawn as buckets of rows whose segments were merged in advance.
 *    The work per frame is then bounded by the pixels in view, not by the
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

const NATIVE_MAX = 2000;
const BAR_FRACTION = 0.8;
/* A queued task waits for a lane and is on none yet: the trace files its
 * queued time under the lane that later runs it, where it would cover what
 * that lane was doing meanwhile, so rows per lane leave it out. */
const QUEUED = new Set(STATES.map((name, index) => index)
	.filter(index => stateBucket(index) === 'queued'));
const TIME_TITLE = 'time since the run started';
/* Waiting states first, working states last, so compute lands on top where
 * segments of a lane overlap. */
const DRAW_ORDER = STATES.map((name, index) => ({ name, index }))
	.sort((a, b) => Number(WORKING_STATES.has(a.name)) -
		Number(WORKING_STATES.has(b.name)))
	.map(s => s.index);

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

const painterPlugin = {
	id: 'overlapPainter',
	afterDatasetsDraw(chart)
	{
		const timeline = chart.$overlapTimeline;
		if (timeline)
			timeline.paint(chart);
	},
};

/* First index in segs (sorted by t0) whose t0 >= t. */
function lowerBound(segs, t)
{
	let lo = 0;
	let hi = segs.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (segs[mid].t0 < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

export class Timeline {
	/*
	 * canvas: the <canvas>; box: its positioned container (sized here);
	 * options: {compact, onRange(minMs, maxMs)}.
	 */
	constructor(canvas, box, options = {})
	{
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

	/* Called by the painter plugin after Chart.js drew its datasets. */
	paint(chart)
	{
		if (!this.data)
			return;
		const { ctx, chartArea: area } = chart;
		const x = chart.scales.x;
		if (!area || area.width <= 0 || x.max <= x.min)
			return;
		ctx.save();
		ctx.beginPath();
		ctx.rect(area.left, area.top, area.width, area.height);
		ctx.clip();
		const rects = STATES.map(() => []);
		if (this.mode === 'painter')
			this.collectRects(chart, rects);
		this.collectOpen(chart, rects);
		for (const state of DRAW_ORDER) {
			const list = rects[state];
			if (!list.length)
				continue;
			ctx.fillStyle = stateColour(STATES[state]);
			ctx.beginPath();
			for (let i = 0; i < list.length; i += 4)
				ctx.rect(list[i], list[i + 1], list[i + 2],
					 list[i + 3]);
			ctx.fill();
		}
		this.drawCuts(chart);
		ctx.restore();
	}

	/*
	 * Bars a stop cut short end in a jagged edge: notches of the
	 * background's colour cut into their last few pixels, so a bar that
	 * ended because the run was stopped does not read as a wait that
	 * ended by itself.
	 */
	drawCuts(chart)
	{
		const cut = this.data.cutSegments();
		if (!cut.size)
			return;
		const { ctx, chartArea: area } = chart;
		const x = chart.scales.x;
		const { y, barPx } = this.rowGeometry(chart);
		if (barPx < 4)
			return;
		const teeth = Math.max(2, Math.round(barPx / 7));
		const tooth = barPx / teeth;
		ctx.fillStyle = themeColours().surface;
		ctx.beginPath();
		for (const seg of cut) {
			if (this.hidden.has(seg.state) || !this.shows(seg))
				continue;
			const key = this.rowMode === 'lane' ? seg.lane : seg.task;
			const row = this.rowOf.get(key);
			if (row === undefined)
				continue;
			const end = x.getPixelForValue(seg.t1 / 1e6);
			const start = x.getPixelForValue(seg.t0 / 1e6);
			const depth = Math.min(7, (end - start) / 2);
			if (depth < 2 || end < area.left || end > area.right + 1)
				continue;
			const top = y.getPixelForValue(row) - barPx / 2;
			ctx.moveTo(end + 1, top);
			for (let i = 0; i < teeth; i++) {
				ctx.lineTo(end - depth, top + tooth * (i + 0.5));
				ctx.lineTo(end + 1, top + tooth * (i + 1));
			}
			ctx.closePath();
		}
		ctx.fill();
	}

	/* The row axis, the heights of a row and of its bar in pixels, and
	 * the rows in view. */
	rowGeometry(chart)
	{
		const y = chart.scales.y;
		const rowPx = Math.abs(y.getPixelForValue(1) -
				       y.getPixelForValue(0));
		const barPx = Math.max(1, rowPx * BAR_FRACTION);
		const first = Math.max(0, Math.floor(Math.min(y.min, y.max)));
		const last = Math.min(this.rows.length - 1,
				      Math.ceil(Math.max(y.min, y.max)));
		return { y, rowPx, barPx, first, last };
	}

	collectRects(chart, rects)
	{
		const { rowPx } = this.rowGeometry(chart);
		if (rowPx >= 1)
			this.collectRows(chart, rects);
		else
			this.collectBuckets(chart, rects, rowPx);
	}

	/* Rows at least a pixel tall: each row on its own, segments of one
	 * state that touch merged, slivers absorbed into their neighbour. */
	collectRows(chart, rects)
	{
		const { chartArea: area } = chart;
		const x = chart.scales.x;
		const { y, barPx, first, last } = this.rowGeometry(chart);
		const pxPerNs = area.width / ((x.max - x.min) * 1e6);
		const minNs = x.min * 1e6;
		const maxNs = x.max * 1e6;
		const left = area.left;
		const right = area.right;
		const hidden = this.hidden;
		const runs = STATES.map(() => []);
		for (let r = first; r <= last; r++) {
			const segs = this.rowSegs[r];
			if (!segs || !segs.length)
				continue;
			const top = y.getPixelForValue(r) - barPx / 2;
			for (const list of runs)
				list.length = 0;
			let i = lowerBound(segs, minNs - this.rowMaxDur[r]);
			let runState = -1;
			let runA = 0;
			let runB = 0;
			for (; i < segs.length; i++) {
				const s = segs[i];
				if (s.t0 > maxNs)
					break;
				if (s.t1 < minNs || hidden.has(s.state))
					continue;
				let a = left + (s.t0 - minNs) * pxPerNs;
				let b = left + (s.t1 - minNs) * pxPerNs;
				if (a < left)
					a = left;
				if (b > right)
					b = right;
				if (runState === s.state && a <= runB + 0.5) {
					if (b > runB)
						runB = b;
					continue;
				}
				if (runState >= 0 && b - a < 1 &&
				    a < runB + 1) {
					if (b > runB)
						runB = b;
					continue;
				}
				if (runState >= 0)
					runs[runState].push(runA, runB);
				runState = s.state;
				runA = a;
				runB = b;
			}
			if (runState >= 0)
				runs[runState].push(runA, runB);
			mergeLine(runs, top, barPx, rects);
		}
	}

	/*
	 * Rows thinner than a pixel: k consecutive rows form a bucket about a
	 * pixel tall, drawn from the bucket's segments merged in advance per
	 * state (lodFor).  Buckets are fixed by row number, not by pixel, so
	 * panning either way reuses them; only zooming the rows (a new k)
	 * or new segments (dirty buckets) rebuild anything.
	 */
	collectBuckets(chart, rects, rowPx)
	{
		const { chartArea: area } = chart;
		const x = chart.scales.x;
		const y = chart.scales.y;
		const k = 2 ** Math.ceil(Math.log2(1 / rowPx));
		const lod = this.lodFor(k);
		const pxPerNs = area.width / ((x.max - x.min) * 1e6);
		const minNs = x.min * 1e6;
		const maxNs = x.max * 1e6;
		const left = area.left;
		const right = area.right;
		const heightPx = Math.max(1, k * rowPx);
		const firstRow = Math.max(0, Math.floor(Math.min(y.min, y.max)));
		const lastRow = Math.min(this.rows.length - 1,
					 Math.ceil(Math.max(y.min, y.max)));
		const runs = STATES.map(() => []);
		for (let b = Math.floor(firstRow / k); b <= lastRow / k; b++) {
			const bucket = lod.buckets[b];
			if (!bucket)
				continue;
			const centre = y.getPixelForValue(b * k + (k - 1) / 2);
			const top = centre - heightPx / 2;
			for (let state = 0; state < STATES.length; state++) {
				const list = runs[state];
				list.length = 0;
				const spans = bucket[state];
				if (!spans || this.hidden.has(state))
					continue;
				/* spans: sorted disjoint [t0, t1] pairs, so
				 * their ends are sorted too. */
				let lo = 0;
				let hi = spans.length >> 1;
				while (lo < hi) {
					const mid = (lo + hi) >> 1;
					if (spans[2 * mid + 1] < minNs)
						lo = mid + 1;
					else
						hi = mid;
				}
				for (let i = 2 * lo; i < spans.length; i += 2) {
					if (spans[i] > maxNs)
						break;
					let a = left + (spans[i] - minNs) * pxPerNs;
					let e = left + (spans[i + 1] - minNs) *
						pxPerNs;
					if (a < left)
						a = left;
					if (e > right)
						e = right;
					list.push(a, e);
				}
			}
			mergeLine(runs, top, heightPx, rects);
		}
	}

	/* The buckets of k rows, built on first use and kept up to date. */
	lodFor(k)
	{
		let lod = this.lod;
		if (!lod || lod.k !== k) {
			lod = { k, buckets: [], dirty: new Set() };
			const count = Math.ceil(this.rows.length / k);
			for (let b = 0; b < count; b++)
				lod.dirty.add(b);
			this.lod = lod;
		}
		for (const b of lod.dirty)
			lod.buckets[b] = this.buildBucket(b * k,
				Math.min(this.rows.length, (b + 1) * k));
		lod.dirty.clear();
		return lod;
	}

	/* Per state: the segments of rows [from, to) merged into sorted,
	 * disjoint [t0, t1] spans (a flat Float64Array), or null. */
	buildBucket(from, to)
	{
		const perState = STATES.map(() => null);
		for (let r = from; r < to; r++) {
			for (const s of this.rowSegs[r] || []) {
				if (!perState[s.state])
					perState[s.state] = [];
				perState[s.state].push(s);
			}
		}
		return perState.map(list => {
			if (!list)
				return null;
			if (to - from > 1)
				list.sort((p, q) => p.t0 - q.t0);
			const out = [];
			let a = list[0].t0;
			let e = list[0].t1;
			for (let i = 1; i < list.length; i++) {
				const s = list[i];
				if (s.t0 <= e) {
					if (s.t1 > e)
						e = s.t1;
					continue;
				}
				out.push(a, e);
				a = s.t0;
				e = s.t1;
			}
			out.push(a, e);
			return Float64Array.from(out);
		});
	}

	/* Segments still running, up to the present.  Rows thinner than a
	 * pixel share their pixel line: one rectangle per line and state. */
	collectOpen(chart, rects)
	{
		const data = this.data;
		if (!data.open.size)
			return;
		const { chartArea: area } = chart;
		const x = chart.scales.x;
		const { y, rowPx, barPx } = this.rowGeometry(chart);
		const nowPx = x.getPixelForValue(this.nowNs() / 1e6);
		const lines = rowPx < 1 ? new Map() : null;
		for (const [task, open] of data.open) {
			if (this.hidden.has(open.state) || !this.shows(open))
				continue;
			const key = this.rowMode === 'lane' ? open.lane : task;
			const row = this.rowOf.get(key);
			if (row === undefined)
				continue;
			const a = Math.max(area.left,
				x.getPixelForValue(open.t0 / 1e6));
			const b = Math.min(area.right, Math.max(nowPx, a));
			if (b < area.left || a > area.right)
				continue;
			const centre = y.getPixelForValue(row);
			if (!lines) {
				rects[open.state].push(a, centre - barPx / 2,
						       Math.max(1, b - a), barPx);
				continue;
			}
			const line = Math.floor(centre) * STATES.length +
				open.state;
			const known = lines.get(line);
			if (!known)
				lines.set(line, [a, b]);
			else if (a < known[0])
				known[0] = a;
		}
		if (!lines)
			return;
		for (const [line, [a, b]] of lines) {
			const state = line % STATES.length;
			const top = (line - state) / STATES.length;
			rects[state].push(a, top, Math.max(1, b - a), 1);
		}
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

/*
 * Turns the pixel runs of one row or bucket, state by state, into
 * rectangles: runs closer than half a pixel join, and every rectangle is at
 * least a pixel wide.  Runs arrive sorted by their start.
 */
function mergeLine(lineRuns, top, heightPx, rects)
{
	for (let state = 0; state < lineRuns.length; state++) {
		const runs = lineRuns[state];
		if (!runs.length)
			continue;
		const out = rects[state];
		let a = runs[0];
		let b = runs[1];
		for (let i = 2; i < runs.length; i += 2) {
			const c = runs[i];
			const d = runs[i + 1];
			if (c <= b + 0.5) {
				if (d > b)
					b = d;
				continue;
			}
			out.push(a, top, Math.max(1, b - a), heightPx);
			a = c;
			b = d;
		}
		out.push(a, top, Math.max(1, b - a), heightPx);
	}
}
