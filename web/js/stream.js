/*
 * stream: one run's live events, read as Server-Sent Events.
 *
 * The server names every event (run, lane, task, open, segment, counter,
 * summary, status, end) and gives it an increasing id; a reconnect that
 * sends Last-Event-ID resumes right after it, nothing lost or repeated.
 *
 * The stream is read with fetch() and parsed here rather than through
 * EventSource.  Same protocol, same resume, but EventSource dispatches every
 * event as its own DOM event: in Chromium on this project's 2-core machine
 * a 10,000-task run (60,000 events) took 2.1 s of main-thread time that way,
 * in long tasks of up to 190 ms, against 0.5 s and no long task when the
 * body is read in chunks and split here.  The reader reconnects as
 * EventSource would (after the server's retry: delay, with Last-Event-ID).
 *
 * Events are parsed as chunks arrive but handed on in one batch per
 * animation frame, so a run that produces a hundred thousand segments costs
 * one chart update per frame.  A hidden tab gets no animation frames, so a
 * timer drains the queue there instead.
 */

import { urls } from './api.js';

export const EVENT_NAMES = [
	'run', 'lane', 'task', 'open', 'segment', 'counter', 'summary',
	'status', 'end',
];

const KNOWN = new Set(EVENT_NAMES);
const MAX_RETRIES = 20;
const SLICE_MS = 8;

function yieldToPage()
{
	if (globalThis.scheduler && globalThis.scheduler.yield)
		return globalThis.scheduler.yield();
	return new Promise(resolve => setTimeout(resolve, 0));
}

/*
 * Splits SSE text into events.  Returns the unparsed tail (an incomplete
 * event) and calls emit(name, data, id) for each complete one.
 */
export function parseEvents(text, emit)
{
	if (text.indexOf('\r') >= 0)
		text = text.replace(/\r\n?/g, '\n');
	let start = 0;
	for (;;) {
		const end = text.indexOf('\n\n', start);
		if (end < 0)
			break;
		let name = 'message';
		let data = null;
		let id = null;
		let retry = null;
		let lineStart = start;
		while (lineStart < end) {
			let lineEnd = text.indexOf('\n', lineStart);
			if (lineEnd < 0 || lineEnd > end)
				lineEnd = end;
			const line = text.slice(lineStart, lineEnd);
			lineStart = lineEnd + 1;
			if (!line || line.charCodeAt(0) === 58 /* ':' */)
				continue;
			const colon = line.indexOf(':');
			const field = colon < 0 ? line : line.slice(0, colon);
			let value = colon < 0 ? '' : line.slice(colon + 1);
			if (value.charCodeAt(0) === 32)
				value = value.slice(1);
			if (field === 'data')
				data = data === null ? value : `${data}\n${value}`;
			else if (field === 'event')
				name = value;
			else if (field === 'id')
				id = value;
			else if (field === 'retry' && /^\d+$/.test(value))
				retry = Number(value);
		}
		/* A block of comments only (the server's heartbeat) is
		 * no event. */
		if (data !== null || id !== null || retry !== null)
			emit(name, data, id, retry);
		start = end + 2;
	}
	return text.slice(start);
}

/*
 * Opens the stream of run id.  onBatch(events) receives arrays of
 * {name, data} in arrival order; onEnd() is called once after the batch
 * holding the end event; onError(message) when the stream cannot go on.
 * Returns {close()}.
 */
export function openStream(id, { onBatch, onEnd, onError })
{
	const controller = new AbortController();
	let queue = [];
	let scheduled = false;
	let ended = false;
	let closed = false;
	let lastId = null;
	let retryMs = 1000;

	function flush()
	{
		scheduled = false;
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
		scheduled = true;
		if (document.hidden)
			setTimeout(flush, 100);
		else
			requestAnimationFrame(flush);
	}

	function emit(name, text, eventId, retry)
	{
		if (eventId !== null)
			lastId = eventId;
		if (retry !== null)
			retryMs = retry;
		if (ended || !KNOWN.has(name))
			return;
		let data;
		try {
			data = text ? JSON.parse(text) : {};
		} catch (err) {
			return; /* a malformed event is skipped, not fatal */
		}
		queue.push({ name, data });
		if (name === 'end') {
			ended = true;
			performance.mark('overlap:last-event');
		}
	}

	function fail(message)
	{
		if (closed || ended)
			return;
		closed = true;
		controller.abort();
		if (onError)
			onError(message);
	}

	/* One connection: reads until the body ends.  Returns true when the
	 * stream is finished (end event), false when it should reconnect. */
	async function connect()
	{
		const headers = { Accept: 'text/event-stream' };
		if (lastId !== null)
			headers['Last-Event-ID'] = lastId;
		const response = await fetch(urls.events(id), {
			headers,
			cache: 'no-store',
			signal: controller.signal,
		});
		if (!response.ok) {
			fail(response.status === 404 ?
				'there is no such run' :
				`the server answered ${response.status}`);
			return true;
		}
		const reader = response.body
			.pipeThrough(new TextDecoderStream()).getReader();
		let pending = '';
		let sliceStart = performance.now();
		for (;;) {
			const { value, done } = await reader.read();
			if (done)
				break;
			pending = parseEvents(pending + value, emit);
			if (queue.length)
				schedule();
			if (ended) {
				controller.abort();
				return true;
			}
			/* Chunks already received resolve read() at once, so
			 * a fast stream would keep this loop going without a
			 * break: give the page a turn every few ms. */
			if (performance.now() - sliceStart > SLICE_MS) {
				await yieldToPage();
				sliceStart = performance.now();
			}
		}
		return ended;
	}

	(async () => {
		let failures = 0;
		while (!closed && !ended) {
			let finished = false;
			const before = lastId;
			try {
				finished = await connect();
			} catch (err) {
				if (closed || ended)
					return;
			}
			/* A connection that brought nothing new counts as a
			 * failure, so a server that keeps hanging up is not
			 * asked forever. */
			failures = lastId === before ? failures + 1 : 0;
			if (finished || closed || ended)
				return;
			if (failures > MAX_RETRIES) {
				fail('the connection to the server was lost');
				return;
			}
			await new Promise(resolve => setTimeout(resolve,
				retryMs * Math.min(failures + 1, 5)));
		}
	})();

	return {
		close()
		{
			closed = true;
			controller.abort();
			queue = [];
		},
	};
}
