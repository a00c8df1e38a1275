/*
 * export: the run's files.  The trace JSON, the Chrome trace and the ASCII
 * text come straight from the API (the server names the files); the PNG is
 * the timeline's own canvas.  The buttons are enabled only when there is a
 * run, and the file exports only once it has finished.
 */

import { urls } from './api.js';
import { download } from './dom.js';

export class Exports {
	constructor({ json, chrome, ascii, png }, getTimeline)
	{
		this.buttons = { json, chrome, ascii, png };
		this.getTimeline = getTimeline;
		this.id = null;
		json.addEventListener('click', () =>
			download(urls.trace(this.id), `overlap-${this.id}.json`));
		chrome.addEventListener('click', () =>
			download(urls.chrome(this.id),
				 `overlap-${this.id}-chrome.json`));
		ascii.addEventListener('click', () =>
			download(urls.ascii(this.id), `overlap-${this.id}.txt`));
		png.addEventListener('click', () => {
			const timeline = this.getTimeline();
			if (timeline)
				download(timeline.toPNG(),
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
