/*
 * stream: one run's live events over Server-Sent Events.
 *
 * The server names every event (run, lane, task, open, segment, counter,
 * summary, status, end) and gives it an id, so when the connection drops the
 * browser's EventSource reconnects with Last-Event-ID and the server resumes
 * right after it.  Events are parsed as they arrive but handed on in one
 * batch per animation frame: a run that produces a hundred thousand segments
 * costs one chart update per frame, not one per segment.  A hidden tab gets
 * no animation frames, so a timer drains the queue there instead.
 */

import { urls } from './api.js';

export const EVENT_NAMES = [
	'run', 'lane', 'task', 'open', 'segment', 'counter', 'summary',
	'status', 'end',
];

/*
 * Opens the stream of run id.  onBatch(events) receives arrays of
 * {name, data} in arrival order; onEnd() is called once after the batch
 * holding the end event; onError(message) when the stream cannot go on.
 * Returns {close()}.
 */
export function openStream(id, { onBatch, onEnd, onError })
{
	const source = new EventSource(urls.events(id));
	let queue = [];
	let scheduled = 0;
	let ended = false;
	let closed = false;

	function flush()
	{
		scheduled = 0;
		if (closed)
			return;
		const batch = queue;
		queue = [];
		if (batch.length)
			onBatch(batch);
		if (ended) {
			closed = true;
			if (onEnd)
				onEnd();
		}
	}

	function schedule()
	{
		if (scheduled)
			return;
		if (document.hidden)
			scheduled = setTimeout(flush, 100);
		else
			scheduled = requestAnimationFrame(flush);
	}

	function receive(name, event)
	{
		/* EventSource fires its own "open" (a plain Event) when the
		 * connection opens; the run's open events are messages. */
		if (closed || ended || !(event instanceof MessageEvent))
			return;
		let data = null;
		try {
			data = event.data ? JSON.parse(event.data) : {};
		} catch (err) {
			return; /* a malformed line is skipped, not fatal */
		}
		queue.push({ name, data });
		if (name === 'end') {
			ended = true;
			performance.mark('overlap:last-event');
			source.close();
		}
		schedule();
	}

	for (const name of EVENT_NAMES)
		source.addEventListener(name, event => receive(name, event));

	source.onerror = () => {
		/* CONNECTING: the browser retries by itself with Last-Event-ID.
		 * CLOSED: the server refused the stream (unknown run). */
		if (source.readyState === EventSource.CLOSED && !ended &&
		    !closed) {
			closed = true;
			if (onError)
				onError('the live stream was refused');
		}
	};

	return {
		close()
		{
			closed = true;
			source.close();
			queue = [];
		},
	};
}
