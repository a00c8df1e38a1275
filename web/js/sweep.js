/*
 * sweep: one workload run at several values of one parameter or option
 * (workers 1, 2, 4...), under one model or several, drawn as curves: the
 * speedup and the wall time against the value, one line per model.  Beside
 * each speedup curve, Amdahl's law: the speedup a program would reach if
 * the share of it that ran serially at the smallest value stayed serial
 * and the rest split evenly, so a curve that levels off below it shows
 * what does not split (cores, start-up, a lock), and one that follows it
 * shows that adding more helps.
 *
 * The server runs the points one at a time, in order; the page asks for
 * the sweep again (GET /api/sweeps/{id}) until every point has ended,
 * rather than follow each run's stream: a point is one number, not a
 * timeline.  Each point links to its run (the table's links and a click on
 * the point).
 */

import { getSweep } from './api.js';
import { formatNs, formatRatio } from './format.js';
import { el, clear } from './dom.js';
import { themeColours } from './palette.js';
import { isFinished } from './trace.js';

const POLL_MS = 400;

/* Parameters that count how many things run at once: Amdahl's law speaks
 * of them, not of a duration or a number of tasks. */
const AMDAHL_PARAMS = new Set(['workers', 'max_concurrent', 'limit']);

/* One colour per model (Okabe-Ito), in the order the sweep names them. */
const MODEL_COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7',
		       '#E69F00', '#56B4E9', '#000000'];

/*
 * Amdahl's law from one measured point: at value n0 the run took wall0 and
 * reached speedup s0 = work / wall0 (the tasks' own work over the wall
 * time, the summary's speedup).  Its serial part is what the work split n0
 * ways does not explain, wall0 - work / n0; at n the prediction is
 * work / (serial + work / n).  Returns {serialShare, at(n)} or null.
 */
export function amdahl(n0, wall0, s0)
{
	if (!(n0 >= 1) || !(wall0 > 0) || !(s0 > 0))
		return null;
	const work = s0 * wall0;
	const serial = Math.max(0, wall0 - work / n0);
	return {
		serialShare: serial / (serial + work),
		at: n => work / (serial + work / n),
	};
}

/* The points of one model, by value, finished or not. */
function byModel(points)
{
	const models = new Map();
	for (const point of points) {
		if (!models.has(point.model))
			models.set(point.model, []);
		models.get(point.model).push(point);
	}
	for (const list of models.values())
		list.sort((a, b) => a.value - b.value);
	return models;
}

function measured(point)
{
	return point.status === 'done' && point.summary &&
		point.summary.wall_ns > 0;
}

function valueTick(value)
{
	return Number(value.toPrecision(6)).toLocaleString('en-US');
}

export class SweepView {
	/* onLoaded(sweep) when it is read; onDone(sweep) once every point
	 * has ended; onMissing() for an id the server does not know. */
	constructor({ status, verdict, speedupCanvas, wallCanvas, table, parts },
		    { onLoaded, onDone, onMissing })
	{
		this.status = status;
		this.verdict = verdict;
		this.speedupCanvas = speedupCanvas;
		this.wallCanvas = wallCanvas;
		this.table = table;
		this.parts = parts;
		this.onLoaded = onLoaded || null;
		this.onDone = onDone || null;
		this.onMissing = onMissing || null;
		this.sweepId = null;
		this.sweep = null;
		this.timer = null;
		this.generation = 0;
		this.speedupChart = null;
		this.wallChart = null;
	}

	reset()
	{
		this.generation++;
		clearTimeout(this.timer);
		this.timer = null;
		this.sweepId = null;
		this.sweep = null;
		this.status.textContent = '';
		this.status.classList.remove('error');
		clear(this.verdict);
		clear(this.table);
		for (const chart of [this.speedupChart, this.wallChart])
			if (chart) {
				chart.data.datasets = [];
				chart.update('none');
			}
		this.speedupCanvas.dataset.complete = 'false';
		this.parts.hidden = true;
	}

	async show(id)
	{
		if (this.sweepId === id) {
			if (this.sweep && this.onLoaded)
				this.onLoaded(this.sweep);
			return;
		}
		this.reset();
		this.sweepId = id;
		this.status.textContent = 'Loading the sweep…';
		await this.poll(this.generation, true);
	}

	async poll(generation, first)
	{
		let sweep;
		try {
			sweep = await getSweep(this.sweepId);
		} catch (error) {
			if (generation !== this.generation)
				return;
			if (error.status === 404) {
				this.status.textContent = 'There is no sweep ' +
					'with this id. Start one with “Sweep” ' +
					'under “What to run”.';
				this.status.classList.add('error');
				if (this.onMissing)
					this.onMissing();
				return;
			}
			this.status.textContent = 'This sweep cannot be ' +
				`shown: ${error.message}`;
			return;
		}
		if (generation !== this.generation)
			return;
		this.sweep = sweep;
		if (first && this.onLoaded)
			this.onLoaded(sweep);
		this.draw(sweep);
		const points = sweep.points || [];
		const ended = points.every(p => isFinished(p.status) ||
					   p.status === 'deleted');
		if (!ended) {
			this.timer = setTimeout(() => this.poll(generation,
								false), POLL_MS);
			return;
		}
		this.speedupCanvas.dataset.complete = 'true';
		if (this.onDone)
			this.onDone(sweep);
	}

	draw(sweep)
	{
		const points = sweep.points || [];
		const param = sweep.param || 'value';
		const done = points.filter(p => isFinished(p.status) ||
					   p.status === 'deleted').length;
		this.status.textContent = `${sweep.workload} at ` +
			`${points.length} points: ${param.replace(/_/g, ' ')} ` +
			`${(sweep.values || []).join(', ')}, one run each, ` +
			'one after another' + (sweep.engine === 'cpython' ?
				`, in CPython (${sweep.python || 'python3'})` :
				'') + '.' + (done < points.length ?
				` ${done} of ${points.length} done.` : '');
		this.parts.hidden = false;
		const models = byModel(points);
		const withAmdahl = AMDAHL_PARAMS.has(param);
		const speedupSets = [];
		const wallSets = [];
		const lines = [];
		let index = 0;
		for (const [model, list] of models) {
			const colour = MODEL_COLOURS[index++ % MODEL_COLOURS.length];
			const ok = list.filter(measured);
			const xy = get => ok.map(p => ({ x: p.value, y: get(p),
							 run: p.run }));
			speedupSets.push(this.line(model, colour,
				xy(p => p.summary.speedup)));
			wallSets.push(this.line(model, colour,
				xy(p => p.summary.wall_ns / 1e9)));
			const first = ok[0];
			const law = withAmdahl && first ? amdahl(first.value,
				first.summary.wall_ns, first.summary.speedup) :
				null;
			if (law) {
				const ideal = this.line(`${model}: Amdahl's law`,
					colour, list.filter(p => p.value >= 1)
						.map(p => ({ x: p.value,
							     y: law.at(p.value) })));
				ideal.borderDash = [6, 4];
				ideal.borderWidth = 1.5;
				ideal.pointRadius = 0;
				ideal.amdahl = true;
				speedupSets.push(ideal);
				lines.push(`${model}: ${Math.round(
					law.serialShare * 1000) / 10}% of the ` +
					`run at ${param.replace(/_/g, ' ')} ` +
					`${first.value} was serial, so Amdahl's ` +
					'law allows at most ' + formatRatio(law.at(
					list[list.length - 1].value)) + ' at ' +
					`${list[list.length - 1].value}; ` +
					`measured ${formatRatio(ok[ok.length - 1]
						.summary.speedup)} at ` +
					`${ok[ok.length - 1].value}.`);
			}
		}
		this.speedupChart = this.chart(this.speedupChart,
			this.speedupCanvas, speedupSets, param, 'speedup',
			v => `${Number(v.toFixed(2))}×`);
		this.wallChart = this.chart(this.wallChart, this.wallCanvas,
			wallSets, param, 'wall time',
			v => (v === 0 ? '0' : formatNs(v * 1e9)));
		this.speedupCanvas.dataset.models = String(models.size);
		this.speedupCanvas.dataset.amdahl = String(
			speedupSets.filter(d => d.amdahl).length);
		clear(this.verdict);
		if (lines.length)
			this.verdict.append(el('strong', 'diagnosis-head',
				'Against Amdahl\'s law'),
			document.createTextNode(lines.join(' ')));
		else if (!withAmdahl)
			this.verdict.textContent = 'Amdahl\'s law speaks of ' +
				'how many things run at once (workers, max ' +
				`concurrent, limit), not of ${param.replace(
					/_/g, ' ')}: no ideal line is drawn.`;
		this.fillTable(points, param);
	}

	line(label, colour, data)
	{
		return { label, data, borderColor: colour,
			 backgroundColor: colour, borderWidth: 2,
			 pointRadius: 4, pointHoverRadius: 6, tension: 0,
			 parsing: false };
	}

	/* A line chart of value (x) against what (y); each measured point
	 * opens its run when clicked. */
	chart(chart, canvas, datasets, param, what, tick)
	{
		const colours = themeColours();
		/* Whole values (workers, tasks) get whole ticks. */
		const whole = datasets.every(d => d.data.every(p =>
			Number.isInteger(p.x)));
		if (chart) {
			chart.data.datasets = datasets;
			chart.options.scales.x.title.text = param.replace(/_/g,
									  ' ');
			chart.options.scales.x.ticks.precision = whole ? 0 :
				undefined;
			chart.update('none');
			return chart;
		}
		return new window.Chart(canvas, {
			type: 'line',
			data: { datasets },
			options: {
				animation: false,
				responsive: true,
				maintainAspectRatio: false,
				onClick: (event, elements, c) => {
					const hit = elements[0];
					if (!hit)
						return;
					const point = c.data.datasets[
						hit.datasetIndex].data[hit.index];
					if (point && point.run)
						location.hash = `run=${
							encodeURIComponent(point.run)}`;
				},
				scales: {
					x: { type: 'linear',
					     title: { display: true,
						      text: param.replace(/_/g, ' '),
						      color: colours.muted },
					     ticks: { color: colours.muted,
						      precision: whole ? 0 :
							      undefined,
						      callback: valueTick },
					     grid: { color: colours.grid } },
					y: { beginAtZero: true,
					     title: { display: true, text: what,
						      color: colours.muted },
					     ticks: { color: colours.muted,
						      callback: tick },
					     grid: { color: colours.grid } },
				},
				plugins: {
					legend: { labels: { color: colours.text,
							    boxWidth: 14 } },
					tooltip: { callbacks: {
						label: item => `${item.dataset.label}: ` +
							tick(item.parsed.y),
					} },
				},
			},
		});
	}

	/* The points as a table, each linked to its run. */
	fillTable(points, param)
	{
		clear(this.table);
		const head = el('tr');
		for (const title of [param.replace(/_/g, ' '), 'model', 'wall',
				     'speedup', 'run'])
			head.append(el('th', null, title));
		const thead = el('thead');
		thead.append(head);
		const body = el('tbody');
		for (const point of points) {
			const row = el('tr');
			row.append(el('td', 'num', String(point.value)),
				   el('td', null, point.model),
				   el('td', 'num', measured(point) ?
				      formatNs(point.summary.wall_ns) : '–'),
				   el('td', 'num', measured(point) ?
				      formatRatio(point.summary.speedup) : '–'));
			const cell = el('td');
			if (point.run && point.status !== 'deleted') {
				const link = el('a', null, point.status);
				link.href = `#run=${encodeURIComponent(point.run)}`;
				link.setAttribute('aria-label', `Open the run of ` +
					`${point.model} at ${param} ${point.value}`);
				cell.append(link);
			} else {
				cell.textContent = point.status || '';
			}
			row.append(cell);
			body.append(row);
		}
		this.table.append(thead, body);
	}

	applyTheme()
	{
		const colours = themeColours();
		for (const chart of [this.speedupChart, this.wallChart]) {
			if (!chart)
				continue;
			const { x, y } = chart.options.scales;
			x.grid.color = y.grid.color = colours.grid;
			x.ticks.color = y.ticks.color = colours.muted;
			x.title.color = y.title.color = colours.muted;
			chart.options.plugins.legend.labels.color = colours.text;
			chart.update('none');
		}
	}
}
