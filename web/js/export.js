/*
 * export: the run's files.  The trace JSON and the ASCII text come straight
 * from the API (the server names the files).  The Chrome trace is fetched
 * and saved under a name of its own: the server calls it overlap-ID.json,
 * as it does the trace, and a file's own name wins over the one a link asks
 * for, so the second export would land as "overlap-ID (1).json".  The
 * buttons are enabled only when there is a run, and the file exports only
 * once it has finished.
 *
 * The PNG is a figure that stands on its own in a report or a slide: a
 * title (the workload and the model, what differs from the defaults, the
 * engine, the date), the timeline with its axes, a legend of the states it
 * shows, and the summary's wall time and speedup.  It is drawn on a canvas
 * of its own around the timeline's image, at the timeline's pixel density.
 */

import { urls } from './api.js';
import { download } from './dom.js';
import { STATES, stateColour, themeColours } from './palette.js';
import { formatNs, formatRatio } from './format.js';

/* Downloads url under filename, whatever name the server gives it; if it
 * cannot be fetched, the link itself (the browser then says why). */
async function saveAs(url, filename)
{
	let blob;
	try {
		const response = await fetch(url);
		if (!response.ok)
			throw new Error(`${response.status}`);
		blob = await response.blob();
	} catch (err) {
		download(url, filename);
		return;
	}
	const objectUrl = URL.createObjectURL(blob);
	download(objectUrl, filename);
	setTimeout(() => URL.revokeObjectURL(objectUrl), 60000);
}

/* "overlap 0.1.0", or a named engine with its build. */
function engineText(run)
{
	const engine = run.engine;
	if (engine && typeof engine === 'object') {
		const build = engine.build === 'free-threaded' ?
			'free-threaded' : engine.build === 'gil' ?
				'with the GIL' : engine.build || '';
		return [engine.name, engine.version, build ? `(${build})` : '']
			.filter(Boolean).join(' ');
	}
	if (typeof engine === 'string' && engine)
		return engine;
	return (run.host && run.host.engine) || 'overlap';
}

/* An unambiguous date: "2026-12-05 07:55 UTC". */
function dateText(iso)
{
	const date = new Date(iso);
	if (!iso || Number.isNaN(date.getTime()))
		return '';
	const text = date.toISOString();
	return `${text.slice(0, 10)} ${text.slice(11, 16)} UTC`;
}

/*
 * The words of the figure of data (a RunData), spec: the line of what
 * differs from the defaults, hidden: the states hidden on the timeline.
 * {title, subtitle, meta, legend: [state names], cut, footer}.
 */
export function figureText(data, spec = '', hidden = new Set())
{
	const run = data.run || {};
	const summary = data.summary;
	const title = run.workload ? `${run.workload} under ${run.model}` :
		`Run ${data.id}`;
	const meta = [`engine ${engineText(run)}`, dateText(run.started_at),
		      run.host && run.host.cores ?
			`${run.host.cores} cores` : '',
		      data.id ? `run ${data.id}` : '']
		.filter(Boolean).join(' · ');
	const legend = STATES.filter((state, index) =>
		data.statesSeen.has(index) && !hidden.has(index));
	let footer;
	if (summary) {
		footer = `Wall time ${formatNs(summary.wall_ns)} · speedup ` +
			`${formatRatio(summary.speedup)} over running the ` +
			'tasks one after another';
		if (data.status && data.status !== 'done')
			footer += ` · ${data.status}`;
	} else {
		footer = `${data.status || 'running'}: no summary yet`;
	}
	return { title, subtitle: spec, meta, legend,
		 cut: data.cutSegments().size > 0, footer };
}

/* Splits text into lines no wider than width on ctx. */
function wrap(ctx, text, width)
{
	const lines = [];
	let line = '';
	for (const word of text.split(' ')) {
		const next = line ? `${line} ${word}` : word;
		if (line && ctx.measureText(next).width > width) {
			lines.push(line);
			line = word;
		} else {
			line = next;
		}
	}
	if (line)
		lines.push(line);
	return lines;
}

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", ' +
	'sans-serif';

/*
 * The figure around chartCanvas (the timeline's canvas, axes included):
 * a new canvas.  Laid out twice: once to measure, once to draw.
 */
export function composeFigure(chartCanvas, words)
{
	const scale = chartCanvas.width / Math.max(1,
		chartCanvas.clientWidth || chartCanvas.width);
	const width = chartCanvas.width;
	const pad = 14 * scale;
	const colours = themeColours();
	const canvas = document.createElement('canvas');
	const layout = (ctx, draw) => {
		let y = pad;
		const text = (content, size, weight, colour) => {
			ctx.font = `${weight} ${size * scale}px ${FONT}`;
			ctx.fillStyle = colour;
			ctx.textBaseline = 'top';
			for (const line of wrap(ctx, content, width - 2 * pad)) {
				if (draw)
					ctx.fillText(line, pad, y);
				y += size * 1.35 * scale;
			}
		};
		text(words.title, 18, 600, colours.text);
		if (words.subtitle)
			text(words.subtitle, 13, 400, colours.muted);
		text(words.meta, 12, 400, colours.muted);
		y += 6 * scale;
		if (draw)
			ctx.drawImage(chartCanvas, 0, y);
		y += chartCanvas.height + 8 * scale;
		/* The legend: a swatch and a name per state, wrapped. */
		ctx.font = `400 ${12 * scale}px ${FONT}`;
		ctx.textBaseline = 'middle';
		const swatch = 11 * scale;
		const rowHeight = 18 * scale;
		let x = pad;
		const entries = words.legend.map(state => ({ state,
			label: state }));
		if (words.cut)
			entries.push({ state: null, label: 'jagged end: cut by ' +
				       'the stop' });
		for (const entry of entries) {
			const w = swatch + 5 * scale +
				ctx.measureText(entry.label).width + 14 * scale;
			if (x > pad && x + w > width - pad) {
				x = pad;
				y += rowHeight;
			}
			if (draw) {
				const top = y + (rowHeight - swatch) / 2;
				ctx.fillStyle = entry.state ?
					stateColour(entry.state) : colours.muted;
				if (entry.state) {
					ctx.fillRect(x, top, swatch, swatch);
				} else {
					/* the notch the timeline cuts */
					ctx.beginPath();
					ctx.moveTo(x, top);
					ctx.lineTo(x + swatch, top);
					ctx.lineTo(x + swatch * 0.5,
						   top + swatch * 0.5);
					ctx.lineTo(x + swatch, top + swatch);
					ctx.lineTo(x, top + swatch);
					ctx.fill();
				}
				ctx.fillStyle = colours.text;
				ctx.fillText(entry.label, x + swatch + 5 * scale,
					     y + rowHeight / 2);
			}
			x += w;
		}
		y += rowHeight + 6 * scale;
		text(words.footer, 14, 600, colours.text);
		return Math.ceil(y + pad);
	};
	canvas.width = width;
	canvas.height = layout(canvas.getContext('2d'), false);
	const ctx = canvas.getContext('2d');
	ctx.fillStyle = colours.surface;
	ctx.fillRect(0, 0, canvas.width, canvas.height);
	layout(ctx, true);
	return canvas;
}

export class Exports {
	/* figure(): {canvas: the timeline's, data, spec, hidden} of the run
	 * on view, or null. */
	constructor({ json, chrome, ascii, png }, figure)
	{
		this.buttons = { json, chrome, ascii, png };
		this.figure = figure;
		this.id = null;
		json.addEventListener('click', () =>
			download(urls.trace(this.id), `overlap-${this.id}.json`));
		chrome.addEventListener('click', () =>
			saveAs(urls.chrome(this.id),
			       `overlap-${this.id}-chrome.json`));
		ascii.addEventListener('click', () =>
			download(urls.ascii(this.id), `overlap-${this.id}.txt`));
		png.addEventListener('click', () => {
			const what = this.figure();
			if (!what)
				return;
			const words = figureText(what.data, what.spec,
						 what.hidden);
			const canvas = composeFigure(what.canvas, words);
			download(canvas.toDataURL('image/png'),
				 `overlap-${this.id}.png`);
		});
		this.set(null, false);
	}

	set(id, finished)
	{
		this.id = id;
		const { json, chrome, ascii, png } = this.buttons;
		json.disabled = chrome.disabled = ascii.disabled =
			!id || !finished;
		png.disabled = !id;
	}
}
