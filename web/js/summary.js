/*
 * summary: what a run means, under its timeline.  Cards for the summary's
 * numbers and the workload's checks, the diagnosis as one sentence, and a
 * small chart of how many tasks were computing, waiting and queued at each
 * moment.
 *
 * The activity chart is computed from the segments themselves (every
 * segment start is +1 and every end -1 for its kind of state), so it agrees
 * with the timeline above it by construction.  Long runs are reduced to a
 * fixed number of time buckets holding the time-weighted mean, so the chart
 * costs the same for ten segments or a hundred thousand.
 */

import { STATES, WORKING_STATES, stateColour, themeColours }
	from './palette.js';
import { formatNs, formatRatio, formatPercent, formatCount, axisUnit,
	 formatAxisMs } from './format.js';
import { el, clear } from './dom.js';

const BUCKETS = 400;
const EXACT_MAX = 200;	/* step points drawn as they are */
const BOUND_WORDS = {
	io: 'I/O-bound',
	cpu: 'CPU-bound',
	mixed: 'Mixed',
	sync: 'Bound by synchronisation',
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
};

/* The series of the activity chart, and which states count in each. */
export const ACTIVITY = [
	{ label: 'computing', colour: 'compute' },
	{ label: 'waiting (I/O, sleep)', colour: 'io' },
	{ label: 'blocked (GIL, locks, queues)', colour: 'gil-wait' },
	{ label: 'queued', colour: 'queued' },
];

function activityKind(stateIndex)
{
	const name = STATES[stateIndex];
	if (WORKING_STATES.has(name))
		return 0;
	if (name === 'io' || name === 'sleep')
		return 1;
	if (name === 'queued')
		return 3;
	return 2;
}

/*
 * Step series {x: ms, y: tasks} per kind of ACTIVITY from the segments.
 * Up to EXACT_MAX changes a series is drawn exactly; beyond, as the
 * time-weighted mean over BUCKETS slices of the run (a pixel or two each).
 */
export function activitySeries(segments, endNs)
{
	const starts = ACTIVITY.map(() => []);
	const ends = ACTIVITY.map(() => []);
	for (const s of segments) {
		const k = activityKind(s.state);
		starts[k].push(s.t0);
		ends[k].push(s.t1);
	}
	const span = Math.max(endNs, 1);
	return starts.map((list, k) => steps(Float64Array.from(list).sort(),
		Float64Array.from(ends[k]).sort(), span));
}

function steps(starts, ends, span)
{
	const exact = [];
	let i = 0;
	let j = 0;
	let count = 0;
	exact.push({ x: 0, y: 0 });
	while (i < starts.length || j < ends.length) {
		const t = j >= ends.length ||
			(i < starts.length && starts[i] < ends[j]) ?
			starts[i] : ends[j];
		while (i < starts.length && starts[i] === t) {
			count++;
			i++;
		}
		while (j < ends.length && ends[j] === t) {
			count--;
			j++;
		}
		exact.push({ x: t, y: count });
	}
	exact.push({ x: span, y: count });
	if (exact.length <= EXACT_MAX)
		return exact.map(p => ({ x: p.x / 1e6, y: p.y }));
	/* Time-weighted mean per bucket. */
	const width = span / BUCKETS;
	const out = [];
	let k = 0;
	for (let b = 0; b < BUCKETS; b++) {
		const lo = b * width;
		const hi = lo + width;
		let area = 0;
		while (k + 1 < exact.length && exact[k + 1].x <= lo)
			k++;
		let m = k;
		while (m < exact.length && exact[m].x < hi) {
			const from = Math.max(exact[m].x, lo);
			const to = m + 1 < exact.length ?
				Math.min(exact[m + 1].x, hi) : hi;
			if (to > from)
				area += exact[m].y * (to - from);
			m++;
		}
		out.push({ x: lo / 1e6, y: area / width });
	}
	out.push({ x: span / 1e6, y: out[out.length - 1].y });
	return out;
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

function pointValue(item)
{
	return `${item.dataset.label}: ${Number(item.parsed.y.toFixed(2))}`;
}

export class SummaryView {
	constructor({ cards, diagnosis, notice, activityCanvas, activityBox })
	{
		this.cards = cards;
		this.diagnosis = diagnosis;
		this.notice = notice;
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
			backgroundColor: colour + '33',
			fill,
			stepped: 'before',
			pointRadius: 0,
			borderWidth: 1.5,
		});
		return new window.Chart(canvas, {
			type: 'line',
			data: {
				datasets: [
					...ACTIVITY.map((a, k) => line(a.label,
						stateColour(a.colour),
						k === 0 ? 'origin' : false)),
					{ ...line('queue depth', '#CC79A7', false),
					  borderDash: [4, 3], absent: true },
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
				},
				plugins: {
					legend: {
						labels: {
							color: colours.text,
							boxWidth: 14,
							filter: hasSeries,
						},
					},
					tooltip: {
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
		clear(this.cards);
		this.diagnosis.textContent = message || '';
		for (const ds of this.chart.data.datasets)
			ds.data = [];
		this.chart.update('none');
	}

	/* Updates the activity chart.  While a run streams, at most every
	 * half second, and never taking more than a twentieth of the time. */
	updateActivity(data, force)
	{
		const now = performance.now();
		if (!force && now - this.lastActivity <
		    Math.max(500, 20 * this.activityCost))
			return;
		this.lastActivity = now;
		const endNs = data.extentNs();
		const series = activitySeries(data.segments, endNs);
		const datasets = this.chart.data.datasets;
		for (let k = 0; k < ACTIVITY.length; k++) {
			datasets[k].data = series[k];
			datasets[k].absent = series[k].every(p => p.y === 0);
			datasets[k].hidden = datasets[k].absent;
		}
		const depth = data.counters
			.filter(c => c.name === 'queue_depth')
			.map(c => ({ x: c.t / 1e6, y: c.value }))
			.sort((a, b) => a.x - b.x);
		const q = ACTIVITY.length;
		datasets[q].data = depth;
		datasets[q].absent = depth.length === 0;
		datasets[q].hidden = depth.length === 0;
		this.chart.options.scales.x.max = Math.max(endNs / 1e6, 1);
		this.chart.update('none');
		this.activityCost = performance.now() - now;
	}

	/* Shows the cards and the diagnosis of a run (summary may be null
	 * while it runs). */
	show(data)
	{
		clear(this.cards);
		const s = data.summary;
		/* A run that did not end well says so first, in words. */
		const unusual = data.status && data.status !== 'done' &&
			data.status !== 'running' && data.status !== 'queued';
		this.notice.hidden = !unusual;
		if (unusual)
			this.notice.textContent = `The run ended with status ` +
				`${data.status}` + (data.message ?
					`: ${data.message}` : '.');
		if (!s) {
			this.diagnosis.textContent = data.status === 'queued' ?
				'Waiting for the runs ahead of this one.' :
				data.ended ? '' :
				'The summary appears when the run ends.';
			this.updateActivity(data, false);
			return;
		}
		this.card('Wall time', formatNs(s.wall_ns),
			  'from the first submit to the last task ending');
		this.card('Summed task time', formatNs(s.task_time_ns),
			  'every task\'s start-to-end time, added up');
		this.card('Speedup', formatRatio(s.speedup),
			  'the tasks one after another, divided by the wall');
		this.card('Parallelism', s.parallelism === undefined ? '–' :
			  Number(s.parallelism).toFixed(2),
			  'mean number of tasks computing');
		this.card('CPU utilisation', formatPercent(s.cpu_util),
			  'CPU time used, over wall time times cores');
		this.card('Peak in flight', formatCount(s.peak_inflight),
			  'most tasks started and not yet ended');
		if (s.max_loop_lag_ns !== undefined && s.max_loop_lag_ns !==
		    null && s.max_loop_lag_ns >= 0)
			this.card('Max loop lag', formatNs(s.max_loop_lag_ns),
				  'worst lateness of an event-loop timer');
		/* Counts are cards; lists and words (the order results
		 * were collected in, say) are one line each below them. */
		const checks = Object.entries(s.checks || {});
		const name = key => CHECK_WORDS[key] || key.replace(/_/g, ' ');
		for (const [key, value] of checks) {
			if (typeof value !== 'number')
				continue;
			const bad = (key === 'lost' || key === 'failed') &&
				value > 0;
			this.card(name(key), formatCount(value),
				  'a check of the workload',
				  bad ? 'warn' : 'check');
		}
		for (const [key, value] of checks)
			if (typeof value !== 'number')
				this.detail(name(key), value);
		this.showDiagnosis(s.diagnosis);
		this.updateActivity(data, true);
	}

	/* "I/O-bound · recommended: asyncio" in bold, then the engine's
	 * sentence saying why. */
	showDiagnosis(diagnosis)
	{
		clear(this.diagnosis);
		if (!diagnosis)
			return;
		const bound = BOUND_WORDS[diagnosis.bound] || diagnosis.bound;
		const head = [bound, diagnosis.recommend ?
			`recommended: ${diagnosis.recommend}` : '']
			.filter(Boolean).join(' · ');
		if (head)
			this.diagnosis.append(el('strong', 'diagnosis-head', head),
					      document.createTextNode(' '));
		if (diagnosis.why)
			this.diagnosis.append(document.createTextNode(
				diagnosis.why));
	}

	detail(name, value)
	{
		let text;
		if (Array.isArray(value)) {
			const shown = value.slice(0, 12).map(v =>
				(typeof v === 'object' ? JSON.stringify(v) :
					String(v)));
			text = shown.join(', ') + (value.length > 12 ?
				`, … (${value.length} in all)` : '');
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

	card(title, value, help, kind)
	{
		const card = el('div', `card${kind ? ` card-${kind}` : ''}`);
		const dt = el('dt', null, title);
		const dd = el('dd', null, value);
		card.append(dt, dd);
		if (help)
			card.title = help;
		this.cards.append(card);
	}

	applyTheme()
	{
		const colours = themeColours();
		const { x, y } = this.chart.options.scales;
		x.grid.color = y.grid.color = colours.grid;
		x.ticks.color = y.ticks.color = y.title.color = colours.muted;
		this.chart.options.plugins.legend.labels.color = colours.text;
		ACTIVITY.forEach((a, k) => {
			const colour = stateColour(a.colour);
			this.chart.data.datasets[k].borderColor = colour;
			this.chart.data.datasets[k].backgroundColor = colour + '33';
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
