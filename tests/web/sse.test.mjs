/*
 * The page's Server-Sent Events parser (web/js/stream.js), fed the way the
 * network feeds it: in chunks cut anywhere.  Every cut of a stream must
 * give the same events as the whole stream; comments (the server's
 * heartbeats) are skipped; CRLF and multi-line data follow the SSE rules.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvents } from '../../web/js/stream.js';

const STREAM =
	': heartbeat\n\n' +
	'id: 1\nevent: run\ndata: {"type":"run","run":{"id":"r1"}}\n\n' +
	'id: 2\nevent: segment\ndata: {"type":"segment","segment":' +
	'{"task":0,"lane":1,"state":"sleep","t0_ns":5,"t1_ns":9,"note":""}}\n\n' +
	'retry: 2500\n\n' +
	'id: 3\nevent: end\ndata: {"type":"end","status":"done"}\n\n';

const EXPECTED = [
	['run', '{"type":"run","run":{"id":"r1"}}', '1', null],
	['segment', '{"type":"segment","segment":{"task":0,"lane":1,' +
	 '"state":"sleep","t0_ns":5,"t1_ns":9,"note":""}}', '2', null],
	['message', null, null, 2500],
	['end', '{"type":"end","status":"done"}', '3', null],
];

function feed(chunks)
{
	const events = [];
	let pending = '';
	for (const chunk of chunks)
		pending = parseEvents(pending + chunk,
			(name, data, id, retry) =>
				events.push([name, data, id, retry]));
	return { events, pending };
}

test('a whole stream gives its events, comments skipped', () => {
	const { events, pending } = feed([STREAM]);
	assert.deepEqual(events, EXPECTED);
	assert.equal(pending, '');
});

test('every cut into two chunks gives the same events', () => {
	for (let cut = 0; cut <= STREAM.length; cut++) {
		const { events, pending } = feed([STREAM.slice(0, cut),
						  STREAM.slice(cut)]);
		assert.deepEqual(events, EXPECTED, `cut at ${cut}`);
		assert.equal(pending, '');
	}
});

test('one character at a time gives the same events', () => {
	const { events } = feed([...STREAM]);
	assert.deepEqual(events, EXPECTED);
});

test('an unfinished event waits for the rest', () => {
	const { events, pending } = feed(['id: 7\nevent: task\ndata: {}']);
	assert.deepEqual(events, []);
	assert.equal(pending, 'id: 7\nevent: task\ndata: {}');
});

test('CRLF line ends and multi-line data', () => {
	const { events } = feed(['id: 4\r\nevent: status\r\ndata: a\r\n' +
				 'data: b\r\ndata:c\r\n\r\n']);
	assert.deepEqual(events, [['status', 'a\nb\nc', '4', null]]);
});
