/*
 * trace_worker: reads a stored run's trace off the main thread.  A run of
 * 100,000 tasks is some 20 MiB of JSON; parsing it and making an object
 * per task and per segment on the main thread held the page for seconds
 * before the first paint.  Here the worker fetches and parses the trace,
 * and hands the tasks and the segments back as columns (typed arrays,
 * transferred, not copied; strings once each), which the page turns into
 * its rows in one tight loop (RunData.fromColumns in trace.js).
 *
 * Message in: {url}.  Message out: {status: 200, trace, columns} with the
 * trace's other fields as they are, or {status, body} for an HTTP error,
 * or {status: 0, error} when the server cannot be reached.
 */

/* Interns strings: an index each, the list of them once. */
function interner()
{
	const index = new Map();
	const list = [];
	return {
		list,
		of(text) {
			const key = text === null || text === undefined ? '' :
				String(text);
			let i = index.get(key);
			if (i === undefined) {
				i = list.length;
				list.push(key);
				index.set(key, i);
			}
			return i;
		},
	};
}

const time = v => (v === null || v === undefined ? NaN : v);

function columnsOf(trace)
{
	const tasks = trace.tasks || [];
	const segments = trace.segments || [];
	const statuses = interner();
	const notes = interner();
	const states = interner();
	statuses.of(''); /* index 0: no status yet (null) */
	const t = {
		id: new Float64Array(tasks.length),
		lane: new Float64Array(tasks.length),
		submit: new Float64Array(tasks.length),
		start: new Float64Array(tasks.length),
		end: new Float64Array(tasks.length),
		status: new Uint8Array(tasks.length),
		note: new Uint32Array(tasks.length),
		names: new Array(tasks.length),
	};
	tasks.forEach((k, i) => {
		t.id[i] = k.id;
		t.lane[i] = time(k.lane);
		t.submit[i] = time(k.submit_ns);
		t.start[i] = time(k.start_ns);
		t.end[i] = time(k.end_ns);
		t.status[i] = k.status ? statuses.of(k.status) : 0;
		t.note[i] = notes.of(k.note);
		t.names[i] = k.name;
	});
	const s = {
		task: new Float64Array(segments.length),
		lane: new Float64Array(segments.length),
		state: new Uint8Array(segments.length),
		t0: new Float64Array(segments.length),
		t1: new Float64Array(segments.length),
		note: new Uint32Array(segments.length),
	};
	segments.forEach((g, i) => {
		s.task[i] = g.task;
		s.lane[i] = g.lane;
		s.state[i] = states.of(g.state);
		s.t0[i] = g.t0_ns;
		s.t1[i] = g.t1_ns;
		s.note[i] = notes.of(g.note);
	});
	const transfer = [t.id, t.lane, t.submit, t.start, t.end, t.status,
			  t.note, s.task, s.lane, s.state, s.t0, s.t1, s.note]
		.map(a => a.buffer);
	return {
		columns: { tasks: t, segments: s, statuses: statuses.list,
			   notes: notes.list, states: states.list },
		transfer,
	};
}

self.onmessage = async ({ data }) => {
	let response;
	try {
		response = await fetch(data.url,
				       { headers: { Accept: 'application/json' } });
	} catch (err) {
		self.postMessage({ status: 0, error: String(err) });
		return;
	}
	const text = await response.text();
	let body = null;
	try {
		body = text ? JSON.parse(text) : null;
	} catch (err) {
		body = null;
	}
	if (!response.ok || !body || typeof body !== 'object') {
		self.postMessage({ status: response.ok ? 502 : response.status,
				   body });
		return;
	}
	const { columns, transfer } = columnsOf(body);
	delete body.tasks;
	delete body.segments;
	self.postMessage({ status: 200, trace: body, columns }, transfer);
};
