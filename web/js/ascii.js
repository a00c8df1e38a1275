/*
 * ascii: the run as the CLI prints it (GET /api/runs/{id}/ascii), in a
 * preformatted block.  The server renders the text for a number of columns
 * (?width=N), so the page asks for as many as its box holds: the timeline
 * then fits without scrolling sideways, on a phone as on a wide screen.
 * The text is fetched when the tab is shown, and again when the box is
 * resized to a different number of columns; a box narrower than the
 * server's minimum still scrolls inside itself rather than widening the
 * page.  The Export ASCII download keeps the server's default width.
 */

import { getAscii } from './api.js';

export const MIN_COLUMNS = 40;
export const MAX_COLUMNS = 400;
const RESIZE_DELAY_MS = 150;

export class AsciiView {
	constructor(pre)
	{
		this.pre = pre;
		this.loadedFor = null;	/* "id@columns" shown or loading */
		this.id = null;
		this.finished = false;
		this.timer = null;
		this.measure = document.createElement('canvas')
			.getContext('2d');
		new ResizeObserver(() => this.resized()).observe(pre);
	}

	clear(message)
	{
		this.loadedFor = null;
		this.id = null;
		this.finished = false;
		delete this.pre.dataset.id;
		delete this.pre.dataset.columns;
		this.pre.textContent = message || '';
	}

	/* The columns that fit the box now, or 0 while it is not shown. */
	columns()
	{
		const pre = this.pre;
		if (!pre.clientWidth)
			return 0;
		const style = getComputedStyle(pre);
		this.measure.font = `${style.fontSize} ${style.fontFamily}`;
		/* The bars are box-drawing glyphs, which a fallback font may
		 * draw wider than the letters: the wider one counts. */
		const charPx = Math.max(
			this.measure.measureText('0'.repeat(20)).width,
			this.measure.measureText('─'.repeat(20)).width) / 20;
		const inner = pre.clientWidth - parseFloat(style.paddingLeft) -
			parseFloat(style.paddingRight);
		const fit = Math.floor(inner / charPx);
		return Math.max(MIN_COLUMNS, Math.min(MAX_COLUMNS, fit));
	}

	resized()
	{
		clearTimeout(this.timer);
		if (!this.id || !this.finished)
			return;
		this.timer = setTimeout(() => this.show(this.id, true),
					RESIZE_DELAY_MS);
	}

	/* Shows run id's text; finished says whether it is final yet. */
	async show(id, finished)
	{
		if (!id) {
			this.clear('Run something to see its timeline as text.');
			return;
		}
		if (!finished) {
			this.clear('The text timeline appears when the run ends.');
			return;
		}
		this.id = id;
		this.finished = true;
		const columns = this.columns();
		if (!columns)
			return; /* hidden: showing it resizes it */
		const key = `${id}@${columns}`;
		if (this.loadedFor === key)
			return;
		this.loadedFor = key;
		if (!this.pre.textContent || this.pre.dataset.id !== id)
			this.pre.textContent = 'Loading…';
		try {
			const text = await getAscii(id, columns);
			if (this.loadedFor === key) {
				this.pre.textContent = text;
				this.pre.dataset.id = id;
				this.pre.dataset.columns = String(columns);
			}
		} catch (error) {
			if (this.loadedFor === key) {
				this.loadedFor = null;
				this.pre.textContent = 'The text view is ' +
					`unavailable: ${error.message}`;
			}
		}
	}
}
