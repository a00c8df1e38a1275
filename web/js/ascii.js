/*
 * ascii: the run as the CLI prints it (GET /api/runs/{id}/ascii), in a
 * preformatted block that scrolls sideways by itself rather than widening
 * the page.  The text is fetched when the tab is shown, once per finished
 * run.
 */

import { getAscii } from './api.js';

export class AsciiView {
	constructor(pre)
	{
		this.pre = pre;
		this.loadedFor = null;
	}

	clear(message)
	{
		this.loadedFor = null;
		this.pre.textContent = message || '';
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
		if (this.loadedFor === id)
			return;
		this.loadedFor = id;
		this.pre.textContent = 'Loading…';
		try {
			const text = await getAscii(id);
			if (this.loadedFor === id)
				this.pre.textContent = text;
		} catch (error) {
			if (this.loadedFor === id) {
				this.loadedFor = null;
				this.pre.textContent = 'The text view is ' +
					`unavailable: ${error.message}`;
			}
		}
	}
}
