/*
 * painter: how a timeline paints its rows straight onto the chart's canvas
 * once a run has more segments than Chart.js draws as bars of its own
 * (timeline.js), and how it paints the segments still open and the jagged
 * ends of the bars a stop cut short, in either mode.
 *
 * Only what lies in view is painted.  Within a row, segments of one state
 * that touch are merged and a segment narrower than a pixel is absorbed
 * into its neighbour; rows thinner than a pixel are drawn as buckets of
 * rows whose segments were merged in advance (lodFor).  The work per frame
 * is then bounded by the pixels in view, not by the segments in the run.
 *
 * RowPainter is the Timeline's base class: its methods read the
 * timeline's rows (rows, rowSegs, rowMaxDur, rowOf), its data, its row
 * mode and its hidden states, and keep its bucket cache (lod).
 */

import { STATES, WORKING_STATES, stateColour, themeColours }
	from './palette.js';

/* The height of a bar as a share of its row. */
export const BAR_FRACTION = 0.8;

/* Waiting states first, working states last, so compute lands on top where
 * segments of a lane overlap. */
const DRAW_ORDER = STATES.map((name, index) => ({ name, index }))
	.sort((a, b) => Number(WORKING_STATES.has(a.name)) -
		Number(WORKING_STATES.has(b.name)))
	.map(s => s.index);

export const painterPlugin = {
	id: 'overlapPainter',
	afterDatasetsDraw(chart)
	{
		const timeline = chart.$overlapTimeline;
		if (timeline)
			timeline.paint(chart);
	},
};

/* First index in segs (sorted by t0) whose t0 >= t. */
export function lowerBound(segs, t)
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

export class RowPainter {
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
