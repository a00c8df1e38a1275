/*
 * summary: what a run means, under its timeline.  Cards for the summary's
 * numbers (each says what it measures, in small print: "Parallelism 0.00"
 * means nothing until one reads that waiting does not count) and the
 * workload's checks, a line in words when a check went wrong (lost
 * updates, failed requests), the diagnosis, and a chart of how many tasks
 * were computing, blocked, waiting and queued at each moment.
 *
 * The activity chart is computed from the segments themselves (every
 * segment start is +1 and every end -1 for its kind of state), so it agrees
 * with the timeline above it by construction; while a run streams, the
 * segments still open count up to the present.  The kinds are stacked, so
 * the top line is the number of tasks in flight.  Long runs are reduced to
 * a fixed number of time buckets holding the time-weighted mean, so the
 * chart costs the same for ten segments or a hundred thousand.
 */

import { STATES, WORKING_STATES, stateBucket, stateColour, themeColours }
	from './palette.js';
import { BUCKET_DEFS } from './vocabulary.js';
import { isStopped } from './trace.js';
import { formatNs, formatRatio, formatPercent, formatCount, formatBytes,
	 axisUnit, formatAxisMs } from './format.js';
import { el, clear } from './dom.js';

const BUCKETS = 400;
const EXACT_MAX = 200;	/* step points drawn as they are */
const BOUND_WORDS = {
	io: 'I/O-bound',
	cpu: 'CPU-bound',
	mixed: 'Mixed',
	sync: 'Bound by synchronisation',
};

/* What each check counts, in the card's small print. */
const CHECK_HELP = {
	expected: 'what the counter should say',
	got: 'what the counter says',
	lost: 'updates another task overwrote',
	produced: 'items put on the queue',
	consumed: 'items taken off it',
	succeeded: 'requests answered in the end',
	failed: 'requests that failed every attempt',
	retries: 'attempts after a failure',
	max_in_flight: 'most requests at once',
	files: 'files written or read',
	bytes: 'written or read, in all',
};

const CHECK_WORDS = {
	expected: 'expected',
	got: 'got',
	lost: 'lost updates',
	produced: 'produced',
	consumed: 'consumed',
	succeeded: 'succeeded',
	failed: 'failed',
	retries: 'retries',
	max_in_flight: 'max in flight',
	collected: 'results, in the order collected',
	finish_order: 'tasks, in the order they ended',
	collect_order: 'collected with',
};

/* The small print of check key of run. */
function checkHelp(key, run)
{
	const params = (run && run.params) || {};
	if (key === 'max_in_flight' && params.max_concurrent !== undefined)
		return 'most requests out at once: the semaphore lets ' +
			`${formatCount(Number(params.max_concurrent))} ` +
			'through (max concurrent); the other tasks in ' +
			'flight wait for it';
	return CHECK_HELP[key] || 'a check of the workload';
}

/* Checks that list task ids: the rows' names say more than numbers
 * counted from 0 ("request 3, request 1", not "2, 0"). */
const TASK_LISTS = new Set(['collected', 'finish_order']);

/* Checks that are a word about another check, not one of their own. */
const CHECK_NOTES = new Set(['orders_truncated']);

/* The series of the activity chart, bottom to top of the stack: the
 * catalog's buckets, each drawn in the colour of the state it names.  Each
 * state says its bucket, so a new state is counted where the engine puts
 * it. */
export const ACTIVITY = BUCKET_DEFS.map(bucket => ({
	name: bucket.name,
	label: bucket.label || bucket.name,
	colour: bucket.colour_of || bucket.name,
}));

/* A state of no bucket the catalog names (a trace from another engine)
 * counts as blocked: waiting, for a reason the page cannot tell. */
const FALLBACK_KIND = Math.max(0,
	ACTIVITY.findIndex(bucket => bucket.name === 'blocked'));

const KIND_OF_STATE = STATES.map((name, index) => {
	const k = ACTIVITY.findIndex(bucket =>
		bucket.name === stateBucket(index));
	return k < 0 ? FALLBACK_KIND : k;
});

function activityKind(stateIndex)
{
	const k = KIND_OF_STATE[stateIndex];
	return k === undefined ? FALLBACK_KIND : k;
}

/*
 * Stacked step series, one per kind of ACTIVITY, from the segments (and
 * extra ones, such as the open segments of a live run): points {x: ms,
 * y: tasks of this kind and the kinds below it, v: tasks of this kind}.
 * Every series has the same x values, as stacking needs.  Up to EXACT_MAX
 * changes the series are exact; beyond, the time-weighted mean over
 * BUCKETS slices of the run (a pixel or two each).
 *
 * resolutionNs: what one pixel of the chart stands for.  One task's state
 * change is two events (an end, then a start some microseconds later),
 * and a thread handing the GIL to another ends its compute before the
 * other's begins: drawn exactly, each change would be a spike a pixel wide
 * into the neighbouring series.  Changes within resolutionNs of the first
 * of them are one change, to the counts after the last.
 */
export function activitySeries(segments, endNs, extra = [], resolutionNs = 0)
{
	const K = ACTIVITY.length;
	const starts = ACTIVITY.map(() => []);
	const ends = ACTIVITY.map(() => []);
	for (const list of [segments, extra]) {
		for (const s of list) {
			const k = activityKind(s.state);
			starts[k].push(s.t0);
			ends[k].push(s.t1);
		}
	}
	const span = Math.max(endNs, 1);
	const { xs, counts, n } = coalesce(changes(starts, ends, K), K,
					   resolutionNs);
	const series = ACTIVITY.map(() => []);
	const push = (x, values) => {
		let sum = 0;
		for (let k = 0; k < K; k++) {
			sum += values[k];
			series[k].push({ x: x / 1e6, y: sum, v: values[k] });
		}
	};
	const at = i => counts.subarray(i * K, (i + 1) * K);
	if (n + 1 <= EXACT_MAX) {
		for (let i = 0; i < n; i++)
			push(xs[i], at(i));
		push(span, at(n - 1));
		return series;
	}
	/* Time-weighted mean per bucket: the value at i holds from xs[i]
	 * to xs[i + 1] (the last to the end). */
	const width = span / BUCKETS;
	const mean = new Float64Array(K);
	let i = 0;
	for (let b = 0; b < BUCKETS; b++) {
		const lo = b * width;
		const hi = lo + width;
		mean.fill(0);
		while (i + 1 < n && xs[i + 1] <= lo)
			i++;
		for (let m = i; m < n && xs[m] < hi; m++) {
			const from = Math.max(xs[m], lo);
			const to = m + 1 < n ? Math.min(xs[m + 1], hi) : hi;
			if (to <= from)
				continue;
			for (let k = 0; k < K; k++)
				mean[k] += counts[m * K + k] * (to - from);
		}
		for (let k = 0; k < K; k++)
			mean[k] /= width;
		push(lo, mean);
	}
	push(span, mean);
	return series;
}

/*
 * The moments the counts change: xs[0..n) ascending (xs[0] = 0) and, at
 * each, the count of every kind from then on (counts[i * K + k]).  Each
 * kind's starts and ends are sorted on their own and merged.
 */
function changes(starts, ends, K)
{
	const lists = [];
	let total = 0;
	for (let k = 0; k < K; k++) {
		lists.push({ t: Float64Array.from(starts[k]).sort(), k,
			     d: 1, i: 0 });
		lists.push({ t: Float64Array.from(ends[k]).sort(), k,
			     d: -1, i: 0 });
		total += 2 * starts[k].length;
	}
	const xs = new Float64Array(total + 1);
	const counts = new Float64Array((total + 1) * K);
	const now = new Float64Array(K);
	let n = 1;	/* xs[0] = 0, all counts 0 */
	for (;;) {
		let t = Infinity;
		for (const l of lists)
			if (l.i < l.t.length && l.t[l.i] < t)
				t = l.t[l.i];
		if (t === Infinity)
			break;
		for (const l of lists) {
			while (l.i < l.t.length && l.t[l.i] === t) {
				now[l.k] += l.d;
				l.i++;
			}
		}
		/* A change at 0 replaces the starting point. */
		const at = t <= 0 ? 0 : n++;
		xs[at] = Math.max(t, 0);
		counts.set(now, at * K);
	}
	return { xs, counts, n };
}

/* The changes of changes(), those within resolutionNs of the first of a
 * cluster made one: at the first one's time, with the last one's counts. */
function coalesce({ xs, counts, n }, K, resolutionNs)
{
	if (!(resolutionNs > 0) || n < 2)
		return { xs, counts, n };
	let out = 0;
	for (let i = 0; i < n;) {
		let last = i;
		while (last + 1 < n && xs[last + 1] - xs[i] < resolutionNs)
			last++;
		xs[out] = xs[i];
		counts.copyWithin(out * K, last * K, (last + 1) * K);
		out++;
		i = last + 1;
	}
	return { xs, counts, n: out };
}

/* Chart.js callbacks of the activity chart. */
function timeTick(value, index, ticks)
{
	const last = ticks.length ? ticks[ticks.length - 1].value : value;
	return formatAxisMs(value, axisUnit(last));
}

/* The legend names only the series this run has. */
function hasSeries(item, data)
{
	return !data.datasets[item.datasetIndex].absent;
}

function pointTime(items)
{
	return items.length ? formatNs(items[0].parsed.x * 1e6) : '';
}

function bytesTick(value)
{
	return formatBytes(value);
}

/* A stacked series' own value, not the height of the stack; memory in
 * bytes as people read them. */
function pointValue(item)
{
	const raw = item.raw || {};
	const value = raw.v !== undefined ? raw.v : item.parsed.y;
	if (item.dataset.yAxisID === 'memory')
		return `${item.dataset.label}: ${formatBytes(value)}`;
	return `${item.dataset.label}: ${Number(value.toFixed(2))}`;
}

/* A counter's samples as the chart's points, in time order; the last
 * value holds to endNs (a queue left full by a deadlock stays full, as
 * the stacked series do). */
function counterPoints(counters, name, endNs)
{
	const points = counters
		.filter(c => c.name === name)
		.map(c => ({ x: c.t / 1e6, y: c.value }))
		.sort((a, b) => a.x - b.x);
	const last = points[points.length - 1];
	if (last && last.x < endNs / 1e6)
		points.push({ x: endNs / 1e6, y: last.y });
	return points;
}

/* The memory cards' help: where the figure comes from, by engine. */
function memoryHelp(data, s)
{
	const engine = data.run && data.run.engine && data.run.engine.name;
	const rss = s.peak_rss_bytes !== null &&
		s.peak_rss_bytes !== undefined ?
		` (the run's processes held ${formatBytes(s.peak_rss_bytes)} ` +
		'at most, measured)' : '';
	return engine === 'cpython' ?
		'measured: how much the interpreter\'s resident set grew, ' +
		'plus its worker processes\'' + rss :
		'what Python holds for them: a thread\'s stack pages and ' +
		'Thread object, an asyncio Task, a pool\'s Future, a worker ' +
		'interpreter, as measured in CPython' + rss;
}

function noTooltipForAbsent(item)
{
	return !item.dataset.absent;
}

/* Where a program's counter lives when it declares one as a Manager's
 * Value or an Array: 'manager', 'array' or ''. */
function declaredCounter(program)
{
	if (typeof program !== 'string')
		return '';
	if (/\bvalue\s+\w+\s*=\s*manager\b/.test(program))
		return 'manager';
	if (/\barray\s+\w+\s*=/.test(program))
		return 'array';
	return '';
}

/* A sentence for a check that went wrong, or ''; model and the program
 * (a custom workload's text) say where the counter lives. */
export function checkSentence(checks, model, program)
{
	const n = key => (typeof checks[key] === 'number' ? checks[key] :
		null);
	const count = formatCount;
	if (n('lost') > 0) {
		const of = n('expected') !== null ?
			` of ${count(n('expected'))}` : '';
		const got = n('got') !== null ?
			` (the counter says ${count(n('got'))})` : '';
		const kind = declaredCounter(program);
		if (kind === 'manager')
			return `${count(n('lost'))}${of} updates were lost` +
				`${got}: the value lives in a Manager's ` +
				'process, and each += 1 is a read and a write, ' +
				'two messages with nothing guarding the value ' +
				'between them; another task wrote in between. ' +
				'Count in each task and send the total once.';
		if (kind === 'array')
			return `${count(n('lost'))}${of} updates were lost` +
				`${got}: tasks shared an element of the Array ` +
				'(task i updates element i modulo its length), ' +
				'and another task wrote between a read and its ' +
				'write. An element per task, or its get_lock(), ' +
				'makes it exact.';
		/* Processes share no globals: their counter is shared
		 * memory, as a multiprocessing.Value used without its
		 * lock. */
		const where = model === 'process-pool' ?
			'the counter is in shared memory (a ' +
			'multiprocessing.Value used without its lock), and ' +
			'another process wrote in between' :
			'another task wrote in between';
		return `${count(n('lost'))}${of} updates were lost${got}: ` +
			`counter += 1 reads, adds and writes back, and ${where}.` +
			' A lock (sync: lock; a value NAME=get_lock) or an ' +
			'atomic add makes it exact.';
	}
	if (n('failed') > 0) {
		const all = (n('succeeded') || 0) + n('failed');
		return `${count(n('failed'))} of ${count(all)} requests ` +
			'failed even after their retries.';
	}
	return '';
}

/*
 * A run asked to stop ends every task and cuts its open waits at the stop;
 * one that had to be killed (it did not stop in time) has no record of the
 * steps its running tasks were in: the trace keeps finished steps only.
 * Says so, or ''.
 */
function unrecorded(data)
{
	const running = data.tasks.filter(t => t.start_ns !== null &&
		t.start_ns !== undefined && (t.end_ns === null ||
					     t.end_ns === undefined));
	const n = running.length;
	if (!data.ended || !isStopped(data.status) || n === 0)
		return '';
	return `${formatCount(n)} ${n === 1 ? 'task was' : 'tasks were'} ` +
		'still running then, and what ' + (n === 1 ? 'it was' :
		'they were') + ' doing is not in the trace (it keeps ' +
		'finished steps only), so ' + (n === 1 ? 'its row ends' :
		'their rows end') + ' at the last step that finished.';
}

/* How many lanes the lane use names before it sums up the rest. */
const LANES_NAMED = 8;

export class SummaryView {
	constructor({ cards, laneUse, laneUsePart, diagnosis, notice,
		      checkNotice, activityCanvas, activityBox })
	{
		this.cards = cards;
		this.laneUse = laneUse;
		this.laneUsePart = laneUsePart;
		this.diagnosis = diagnosis;
		this.notice = notice;
		this.checkNotice = checkNotice;
		this.activityBox = activityBox;
		this.chart = this.createChart(activityCanvas);
		this.lastActivity = 0;
		this.activityCost = 0;
	}

	createChart(canvas)
	{
		const colours = themeColours();
		const line = (label, colour, fill) => ({
			label,
			data: [],
			borderColor: colour,
			backgroundColor: colour + '99',
			fill,
			stepped: 'before',
			pointRadius: 0,
			borderWidth: 1,
		});
		return new window.Chart(canvas, {
			type: 'line',
			data: {
				datasets: [
					...ACTIVITY.map((a, k) => line(a.label,
						stateColour(a.colour),
						k === 0 ? 'origin' : '-1')),
					{ ...line('items in the queue', '#CC79A7',
						  false),
					  borderDash: [5, 3], borderWidth: 2,
					  yAxisID: 'items', absent: true },
					{ ...line('memory the tasks hold',
						  '#E69F00', false),
					  borderDash: [2, 2], borderWidth: 2,
					  yAxisID: 'memory', absent: true },
				],
			},
			options: {
				animation: false,
				responsive: true,
				maintainAspectRatio: false,
				parsing: false,
				normalized: true,
				interaction: { mode: 'nearest', axis: 'x',
					       intersect: false },
				scales: {
					x: {
						type: 'linear',
						min: 0,
						grid: { color: colours.grid },
						ticks: {
							color: colours.muted,
							maxRotation: 0,
							includeBounds: false,
							callback: timeTick,
						},
					},
					y: {
						beginAtZero: true,
						grid: { color: colours.grid },
						ticks: { color: colours.muted,
							 precision: 0 },
						title: { display: true,
							 text: 'tasks',
							 color: colours.muted },
					},
					items: {
						display: false,
						position: 'right',
						beginAtZero: true,
						grid: { display: false },
						ticks: { color: colours.muted,
							 precision: 0 },
						title: { display: true,
							 text: 'items',
							 color: colours.muted },
					},
					memory: {
						display: false,
						position: 'right',
						beginAtZero: true,
						grid: { display: false },
						ticks: { color: colours.muted,
							 callback: bytesTick },
						title: { display: true,
							 text: 'memory',
							 color: colours.muted },
					},
				},
				plugins: {
					legend: {
						/* The series are stacked: hiding
						 * one would leave a gap. */
						onClick: null,
						labels: {
							color: colours.text,
							boxWidth: 14,
							filter: hasSeries,
						},
					},
					tooltip: {
						filter: noTooltipForAbsent,
						callbacks: {
							title: pointTime,
							label: pointValue,
						},
					},
				},
			},
		});
	}

	clear(message)
	{
		this.notice.hidden = true;
		this.checkNotice.hidden = true;
		clear(this.cards);
		this.showLaneUse(null);
		this.diagnosis.textContent = message || '';
		for (const ds of this.chart.data.datasets)
			ds.data = [];
		this.chart.update('none');
	}

	/* Updates the activity chart; nowNs: the present of a live run (its
	 * open segments count up to it).  While a run streams, at most every
	 * half second, and never taking more than a twentieth of the time. */
	updateActivity(data, force, nowNs)
	{
		const now = performance.now();
		if (!force && now - this.lastActivity <
		    Math.max(500, 20 * this.activityCost))
			return;
		this.lastActivity = now;
		const present = Math.max(nowNs || 0, data.latestNs);
		const endNs = Math.max(data.extentNs(), data.ended ? 0 :
			present);
		const area = this.chart.chartArea;
		const widthPx = area && area.width > 0 ? area.width : 800;
		const series = activitySeries(data.segments, endNs,
			data.ended ? [] : data.openSegments(present),
			Math.max(endNs, 1) / widthPx);
		const datasets = this.chart.data.datasets;
		for (let k = 0; k < ACTIVITY.length; k++) {
			datasets[k].data = series[k];
			datasets[k].absent = series[k].every(p => p.v === 0);
		}
		const depth = counterPoints(data.counters, 'queue_depth',
			endNs);
		const q = ACTIVITY.length;
		datasets[q].data = depth;
		datasets[q].absent = depth.length === 0;
		datasets[q].hidden = depth.length === 0;
		this.chart.options.scales.items.display = depth.length > 0;
		/* Memory is drawn when the tasks hold any (a sequential
		 * run's hold nothing a model adds). */
		const memory = counterPoints(data.counters, 'memory_bytes',
			endNs);
		const held = memory.some(p => p.y > 0);
		datasets[q + 1].data = held ? memory : [];
		datasets[q + 1].absent = !held;
		datasets[q + 1].hidden = !held;
		this.chart.options.scales.memory.display = held;
		this.chart.options.scales.x.max = Math.max(endNs / 1e6, 1);
		this.chart.update('none');
		this.activityCost = performance.now() - now;
		const canvas = this.chart.canvas;
		canvas.dataset.peak = String(Math.max(0,
			...series[ACTIVITY.length - 1].map(p => p.y)));
		canvas.dataset.memoryPeak = String(memory.reduce(
			(most, p) => Math.max(most, p.y), 0));
	}

	/* Shows the cards and the diagnosis of a run (summary may be null
	 * while it runs). */
	show(data, nowNs)
	{
		clear(this.cards);
		const s = data.summary;
		this.showLaneUse(s ? data : null);
		/* A run that did not end well says so first, in words. */
		const unusual = data.status && data.status !== 'done' &&
			data.status !== 'running' && data.status !== 'queued';
		this.notice.hidden = !unusual;
		if (unusual) {
			/* The engine's message may begin with the status
			 * itself ("deadlock: task 1 waits ..."): say it once. */
			let message = data.message || '';
			if (message.startsWith(`${data.status}: `))
				message = message.slice(data.status.length + 2);
			/* "cancelled while running": one sentence, not
			 * "status cancelled: cancelled while running". */
			this.notice.textContent = isStopped(data.status) &&
				message.startsWith(`${data.status} `) ?
				`The run was ${message}.` :
				`The run ended with status ${data.status}` +
				(message ? `: ${message}` : '.');
			const lost = unrecorded(data);
			if (lost)
				this.notice.textContent += ` ${lost}`;
		}
		const sentence = s ? checkSentence(s.checks || {},
			data.run && data.run.model,
			data.run && data.run.params &&
			data.run.params.program) : '';
		this.checkNotice.textContent = sentence;
		this.checkNotice.hidden = !sentence;
		if (!s) {
			this.diagnosis.textContent = data.status === 'queued' ?
				'Waiting for the runs ahead of this one.' :
				data.ended ? '' :
				'The summary appears when the run ends.';
			/* An ended run draws what it has now, not what a
			 * throttled update drew while it streamed. */
			this.updateActivity(data, data.ended, nowNs);
			return;
		}
		const cores = data.run && data.run.host &&
			data.run.host.cores;
		this.card('Wall time', formatNs(s.wall_ns),
			  'first submit to last task end');
		this.card('Summed task time', formatNs(s.task_time_ns),
			  'every task from start to end, added up');
		this.card('Speedup', formatRatio(s.speedup),
			  'the tasks\' own work (compute, I/O, sleep) one ' +
			  'after another ÷ wall time');
		this.card('Parallelism', s.parallelism === undefined ? '–' :
			  Number(s.parallelism).toFixed(2),
			  'tasks computing at once, on average; waits do not ' +
			  'count');
		this.card('CPU utilisation', formatPercent(s.cpu_util),
			  cores ? `CPU time ÷ (wall × ${cores} cores)` :
			  'CPU time ÷ (wall × cores)');
		const checksIn = s.checks || {};
		const requests = typeof checksIn.max_in_flight === 'number' ?
			checksIn.max_in_flight : null;
		/* A scraper counts both: its tasks (one per URL, started
		 * together) and its requests (what the semaphore lets out). */
		this.card('Peak in flight', formatCount(s.peak_inflight),
			  requests !== null && requests !== s.peak_inflight ?
			  'most tasks started and not yet ended, counting ' +
			  'those waiting for the semaphore or the rate ' +
			  `limit; at most ${formatCount(requests)} had a ` +
			  'request out (max in flight)' :
			  'most tasks started and not yet ended');
		if (typeof s.peak_memory_bytes === 'number' &&
		    s.peak_memory_bytes > 0) {
			const help = memoryHelp(data, s);
			this.card('Peak memory', formatBytes(s.peak_memory_bytes),
				  `the most the tasks held at once: ${help}`,
				  'memory');
			this.card('Memory per task',
				  formatBytes(s.memory_per_task_bytes),
				  'peak memory ÷ tasks', 'memory');
		}
		if (s.max_loop_lag_ns !== undefined && s.max_loop_lag_ns !==
		    null && s.max_loop_lag_ns >= 0)
			this.card('Max loop lag', formatNs(s.max_loop_lag_ns),
				  'worst lateness of a timer or reply the ' +
				  'loop awaited');
		/* Counts are cards; lists and words (the order results
		 * were collected in, say) are one line each below them. */
		const checks = Object.entries(s.checks || {});
		const name = key => CHECK_WORDS[key] || key.replace(/_/g, ' ');
		for (const [key, value] of checks) {
			if (typeof value !== 'number')
				continue;
			const bad = (key === 'lost' || key === 'failed') &&
				value > 0;
			const good = (key === 'lost' || key === 'failed') &&
				value === 0;
			this.card(name(key), key === 'bytes' ?
				  formatBytes(value) : formatCount(value),
				  checkHelp(key, data.run),
				  bad ? 'warn' : good ? 'ok' : 'check');
		}
		/* The engine lists at most the first few task ids of an
		 * order, and says so. */
		const truncated = Boolean(s.checks && s.checks.orders_truncated);
		for (const [key, value] of checks) {
			if (typeof value === 'number' || CHECK_NOTES.has(key))
				continue;
			if (TASK_LISTS.has(key) && Array.isArray(value))
				this.detail(name(key), value.map(id =>
					data.taskName(id)), truncated ?
					data.tasks.length : value.length);
			else
				this.detail(name(key), value);
		}
		if (isStopped(data.status) && data.ended)
			this.showStopped(data, s);
		else
			this.showDiagnosis(s.diagnosis);
		this.updateActivity(data, true, nowNs);
	}

	/* "I/O-bound · recommended: asyncio" in bold, with the change the
	 * program needs when there is one ("fix: shrink critical
	 * section"), then the engine's sentence saying why. */
	showDiagnosis(diagnosis)
	{
		clear(this.diagnosis);
		delete this.diagnosis.dataset.verdict;
		if (!diagnosis)
			return;
		const bound = BOUND_WORDS[diagnosis.bound] || diagnosis.bound;
		const head = [bound, diagnosis.recommend ?
			`recommended: ${diagnosis.recommend}` : '',
		diagnosis.advice ?
			`fix: ${diagnosis.advice.replace(/-/g, ' ')}` : '']
			.filter(Boolean).join(' · ');
		if (head)
			this.diagnosis.append(el('strong', 'diagnosis-head', head),
					      document.createTextNode(' '));
		if (diagnosis.why)
			this.diagnosis.append(document.createTextNode(
				diagnosis.why));
	}

	/*
	 * A run stopped before its tasks finished (cancelled, or the server
	 * stopped) has no verdict: how long the model takes, and which model
	 * fits, need the whole run.  What ran until then is said in shares.
	 */
	showStopped(data, s)
	{
		clear(this.diagnosis);
		const how = data.status === 'cancelled' ? 'Cancelled' :
			'Interrupted';
		const states = s.states || {};
		let work = 0;
		let wait = 0;
		let other = 0;
		/* By the catalog's buckets: computing, waiting on I/O or
		 * sleep, queued (not counted), and the rest. */
		for (const [name, ns] of Object.entries(states)) {
			const bucket = stateBucket(STATES.indexOf(name));
			if (WORKING_STATES.has(name))
				work += ns;
			else if (bucket === 'waiting')
				wait += ns;
			else if (bucket !== 'queued')
				other += ns;
		}
		const all = work + wait + other;
		const pct = x => `${Math.round(100 * x / all)}%`;
		const shares = all > 0 ? ` Until then the tasks spent ` +
			`${pct(work)} of their time computing, ${pct(wait)} ` +
			'waiting on I/O or sleep' + (other > 0 ?
				` and ${pct(other)} waiting for each other ` +
				'or a limit' : '') + '.' : '';
		this.diagnosis.append(
			el('strong', 'diagnosis-head',
			   `${how} after ${formatNs(s.wall_ns)}: no verdict`),
			document.createTextNode('The tasks were stopped before ' +
				'they finished, so the times above say how ' +
				'far the run got, not how long the model ' +
				'takes or which model fits: that needs a run ' +
				`that ends.${shares}` + (data.cutSegments().size ?
				' The bars the stop cut short end in a ' +
				'jagged edge.' : '')));
		this.diagnosis.dataset.verdict = 'none';
	}

	/* A check that is a list or a word, on a line of its own; total:
	 * how many the list stands for (more than it holds when cut). */
	detail(name, value, total)
	{
		let text;
		if (Array.isArray(value)) {
			const shown = value.slice(0, 12).map(v =>
				(typeof v === 'object' ? JSON.stringify(v) :
					String(v)));
			const all = Math.max(total || 0, value.length);
			text = shown.join(', ') + (all > shown.length ?
				`, … (${formatCount(all)} in all)` : '');
		} else if (typeof value === 'boolean') {
			text = value ? 'yes' : 'no';
		} else if (value && typeof value === 'object') {
			text = JSON.stringify(value);
		} else {
			text = String(value);
		}
		const row = el('div', 'card card-detail');
		row.append(el('dt', null, name), el('dd', null, text));
		this.cards.append(row);
	}

	/* The busiest lanes first, each with a meter of its share of the
	 * wall time computing; past LANES_NAMED, the rest in one line. */
	showLaneUse(data)
	{
		clear(this.laneUse);
		const lanes = data && data.summary && data.summary.lanes;
		this.laneUsePart.hidden = !Array.isArray(lanes) ||
			lanes.length === 0;
		if (this.laneUsePart.hidden)
			return;
		const sorted = [...lanes].sort((a, b) =>
			b.busy_ns - a.busy_ns || a.lane - b.lane);
		for (const entry of sorted.slice(0, LANES_NAMED)) {
			const lane = data.laneById.get(entry.lane);
			const name = lane && lane.name ? lane.name :
				`lane ${entry.lane}`;
			const share = Math.max(0, Math.min(1, entry.util || 0));
			const item = el('li', 'lane-use-item');
			const label = el('span', 'lane-use-name', name);
			const meter = el('meter');
			meter.min = 0;
			meter.max = 1;
			meter.value = share;
			meter.setAttribute('aria-label', `${name}: ` +
					   formatPercent(share));
			item.dataset.lane = String(entry.lane);
			item.append(label, meter,
				    el('span', 'lane-use-value',
				       formatPercent(share)));
			this.laneUse.append(item);
		}
		const rest = sorted.slice(LANES_NAMED);
		if (rest.length > 0) {
			const mean = rest.reduce((sum, e) => sum + (e.util || 0),
						 0) / rest.length;
			this.laneUse.append(el('li', 'lane-use-rest',
				`and ${formatCount(rest.length)} more ` +
				`lane${rest.length === 1 ? '' : 's'}, ` +
				`${formatPercent(mean)} on average`));
		}
	}

	/* A card: title, value and, in small print, what it measures. */
	card(title, value, help, kind)
	{
		const card = el('div', `card${kind ? ` card-${kind}` : ''}`);
		card.append(el('dt', null, title), el('dd', null, value));
		if (help)
			card.append(el('dd', 'card-help', help));
		this.cards.append(card);
	}

	applyTheme()
	{
		const colours = themeColours();
		const { x, y, items, memory } = this.chart.options.scales;
		x.grid.color = y.grid.color = colours.grid;
		x.ticks.color = y.ticks.color = y.title.color = colours.muted;
		items.ticks.color = items.title.color = colours.muted;
		memory.ticks.color = memory.title.color = colours.muted;
		this.chart.options.plugins.legend.labels.color = colours.text;
		ACTIVITY.forEach((a, k) => {
			const colour = stateColour(a.colour);
			this.chart.data.datasets[k].borderColor = colour;
			this.chart.data.datasets[k].backgroundColor = colour + '99';
		});
		this.chart.update('none');
	}
}

/* "I/O-bound: use asyncio. <why>" from {bound, recommend, why}. */
export function diagnosisSentence(diagnosis)
{
	if (!diagnosis)
		return '';
	const parts = [];
	const bound = BOUND_WORDS[diagnosis.bound] || diagnosis.bound;
	if (bound && diagnosis.recommend)
		parts.push(`${bound}; the measurements recommend ` +
			   `${diagnosis.recommend}.`);
	else if (bound)
		parts.push(`${bound}.`);
	if (diagnosis.why)
		parts.push(diagnosis.why);
	return parts.join(' ');
}
