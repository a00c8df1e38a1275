/*
 * export: the run's files.  The trace JSON and the ASCII text come straight
 * from the API (the server names the files); the PNG is the timeline's own
 * canvas.  The Chrome trace is fetched and saved under a name of its own:
 * the server calls it overlap-ID.json, as it does the trace, and a file's
 * own name wins over the one a link asks for, so the second export would
 * land as "overlap-ID (1).json".  The buttons are enabled only when there
 * is a run, and the file exports only once it has finished.
 */

import { urls } from './api.js';
import { download } from './dom.js';

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

export class Exports {
	constructor({ json, chrome, ascii, png }, getTimeline)
	{
		this.buttons = { json, chrome, ascii, png };
		this.getTimeline = getTimeline;
		this.id = null;
		json.addEventListener('click', () =>
			download(urls.trace(this.id), `overlap-${this.id}.json`));
		chrome.addEventListener('click', () =>
			saveAs(urls.chrome(this.id),
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
