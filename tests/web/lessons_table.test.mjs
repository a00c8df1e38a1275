/*
 * README's "What it shows": every row of its table is a lesson on the
 * page, and the lessons no other test presses are pressed here as a
 * learner would, each run judged by what its README line says to look
 * for, by the trace's structure (which waits overlap, which lane computes
 * when, what the summary and the diagnosis say).  The other lessons'
 * tests: lessons.test.mjs, view.test.mjs (race, race-39, lock, hybrid),
 * sweep.test.mjs (workers-io), learner.test.mjs (the page around them).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { serveAndBrowse, openPage, waitForRun, screenshot, api,
	 REPO, pressLesson as pressLessonOn } from './harness.mjs';

const env = serveAndBrowse();

/* The lessons that show each row of the table, by the row's first cell. */
const ROWS = {
	'I/O-bound waiting overlaps': ['io-overlap'],
	'a pool runs in batches': ['pool-batches'],
	'async: the longest, not the sum': ['async-longest'],
	'async scales where threads do not': ['async-scale'],
	'memory: threads against coroutines': ['memory-threads',
					       'memory-coroutines'],
	'the GIL serialises CPU work': ['gil'],
	'processes use the cores': ['processes'],
	'a fork server starts the workers': ['forkserver'],
	'a lambda cannot be pickled': ['pickling'],
	'the missing main guard': ['main-guard'],
	'fork after threads': ['fork-after-threads'],
	'interpreters: between threads and processes': ['interpreters'],
	'free-threaded build': ['free-threaded'],
	'more threads than cores': ['runnable'],
	'a blocking call freezes the loop': ['blocking'],
	'`time.sleep` in a coroutine': ['block'],
	'a C extension releases the GIL': ['nogil'],
	'an RLock re-enters': ['rlock'],
	'a condition: wait and notify': ['condition'],
	'timers and daemon threads': ['daemon'],
	'`asyncio.timeout` cancels where it waits': ['timeout'],
	'`task.cancel()` cuts a task where it waits': ['cancel'],
	'a TaskGroup cancels the siblings of a failure': ['taskgroup'],
	'gather: the first exception reaches main': ['gather-errors'],
	'`asyncio.wait(FIRST_COMPLETED)`': ['wait-first'],
	'race conditions lose updates': ['race', 'race-39', 'lock'],
	'shared memory needs its lock': ['shared-value'],
	'an Array: an element each': ['shared-array'],
	'a Manager: every access is a message': ['manager-value'],
	'message passing copies': ['pipe'],
	'producer / consumer': ['pipeline'],
	'bounded, rate-limited scraping': ['scraper'],
	'hybrid': ['hybrid'],
	'a pool\'s results in order': ['pool-map', 'pool-as-completed'],
	'imap: a buffer of tasks ahead': ['pool-imap'],
	'`map` with `chunksize`': ['pool-chunksize'],
	'how many workers?': ['workers-cpu', 'workers-io'],
};

/* The first cells of the table's rows, as README.md has them. */
async function readmeRows()
{
	const text = await readFile(path.join(REPO, 'README.md'), 'utf8');
	const start = text.indexOf('\n## What it shows\n');
	assert.ok(start >= 0, 'README has "What it shows"');
	const end = text.indexOf('\n## ', start + 1);
	return text.slice(start, end).split('\n')
		.filter(line => line.startsWith('| ') &&
			!line.startsWith('| lesson |') &&
			!line.startsWith('| --- |'))
		.map(line => line.slice(2, line.indexOf(' | ')));
}

test('every row of README\'s "What it shows" is a lesson on the page',
     { timeout: 30000 }, async () => {
	const rows = await readmeRows();
	assert.ok(rows.length >= 30);
	assert.deepEqual([...rows].sort(), Object.keys(ROWS).sort(),
			 'each row of the table names its lessons here');
	const { page, context, errors } = await openPage(env.browser, env.server.base);
	const shown = await page.evaluate(() => [...document.querySelectorAll(
		'#lessons [data-lesson]')].map(b => b.dataset.lesson));
	for (const row of rows)
		for (const id of ROWS[row])
			assert.ok(shown.includes(id),
				  `"${row}": lesson ${id} is on the page`);
	assert.deepEqual(errors, []);
	await context.close();
});

/* Presses lesson id (harness.mjs) on this file's server and browser. */
function pressLesson(id, kind = 'run')
{
	return pressLessonOn(env.browser, env.server.base, id, kind);
}

/* The segments of a trace in state (of task, when given). */
function segmentsOf(trace, state, task)
{
	return trace.segments.filter(s => s.state === state &&
		(task === undefined || s.task === task));
}

/* The most segments of list open at one moment. */
function mostAtOnce(list)
{
	const edges = [];
	for (const s of list)
		edges.push([s.t0_ns, 1], [s.t1_ns, -1]);
	edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
	let open = 0;
	let most = 0;
	for (const [, d] of edges) {
		open += d;
		most = Math.max(most, open);
	}
	return most;
}

/* Where a task's segments in states begin and end. */
function spanOf(trace, task, states)
{
	const mine = trace.segments.filter(s => s.task === task &&
		states.includes(s.state));
	return [Math.min(...mine.map(s => s.t0_ns)),
		Math.max(...mine.map(s => s.t1_ns))];
}

test('waiting overlaps: three 2 s waits take 6 s in a row, 2 s side by side',
     { timeout: 240000 }, async () => {
	const { page, context, errors, ref, note } =
		await pressLesson('io-overlap', 'compare');
	assert.match(note, /Sequential takes about 6/);
	const compare = (await api(env.server.base, `/api/compares/${ref}`)).body;
	const traces = {};
	for (const run of compare.runs)
		traces[run.model] =
			(await api(env.server.base, `/api/runs/${run.id}`)).body;
	for (const model of ['sequential', 'threads', 'thread-pool',
			     'asyncio']) {
		const t = traces[model];
		assert.ok(t, `${model} ran`);
		assert.equal(t.run.status, 'done');
		const io = segmentsOf(t, 'io');
		assert.equal(io.length, 3, model);
		/* One after another (three waits of 2 s: at least 6 s), or
		 * all three at once. */
		if (model === 'sequential') {
			assert.equal(mostAtOnce(io), 1);
			assert.ok(t.summary.wall_ns >= 6e9);
		} else {
			assert.equal(mostAtOnce(io), 3, model);
			assert.ok(t.summary.wall_ns < 4e9, model);
		}
	}
	await screenshot(page, 'lesson-io-overlap', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('a pool runs in batches: four at a time, the rest queued; a worker ' +
     'per task asked for', { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('pool-batches');
	assert.equal(trace.run.model, 'thread-pool');
	assert.match(note, /four are queued/);
	const workers = trace.lanes.filter(l => /^worker-/.test(l.name));
	assert.equal(workers.length, 4);
	const io = segmentsOf(trace, 'io');
	assert.equal(io.length, 8);
	assert.equal(mostAtOnce(io), 4);
	/* The second batch: each of the last four was queued until a wait
	 * of the first batch ended, and waits after it (two waits in all). */
	const firstEnds = io.filter(s => s.task < 4).map(s => s.t1_ns);
	for (let task = 4; task < 8; task++) {
		const [queued] = segmentsOf(trace, 'queued', task);
		assert.ok(queued, `task ${task + 1} queued`);
		assert.ok(queued.t1_ns >= Math.min(...firstEnds));
		const [wait] = segmentsOf(trace, 'io', task);
		assert.ok(wait.t0_ns >= queued.t1_ns);
	}
	assert.ok(trace.summary.wall_ns >= 3e9, 'two waits of 1.5 s');
	assert.equal(trace.summary.diagnosis.advice, 'more-workers');
	assert.match(trace.summary.diagnosis.why, /left tasks queued .* in all/);
	assert.match(trace.summary.diagnosis.why, /a worker per task \(8\)/);
	assert.match(await page.textContent('#diagnosis'), /queued/);
	assert.deepEqual(errors, []);
	await context.close();
});

test('asyncio: the run ends with the longest wait, on one thread',
     { timeout: 90000 }, async () => {
	const { context, errors, trace, note } =
		await pressLesson('async-longest');
	assert.equal(trace.run.model, 'asyncio');
	assert.match(note, /one thread/);
	const loops = trace.lanes.filter(l => l.kind === 'loop');
	assert.equal(loops.length, 1);
	assert.equal(trace.lanes.filter(l => l.kind === 'thread').length, 0);
	assert.ok(trace.tasks.every(t => t.lane === loops[0].id));
	const io = segmentsOf(trace, 'io');
	assert.equal(mostAtOnce(io), 3);
	/* The 2 s wait is the last to end, and the run ends with it, not
	 * after the 4.5 s the waits add up to. */
	const longest = io.reduce((a, b) =>
		(b.t1_ns - b.t0_ns > a.t1_ns - a.t0_ns ? b : a));
	assert.equal(longest.task, 1);
	assert.ok(io.every(s => s.t1_ns <= longest.t1_ns));
	assert.ok(trace.summary.wall_ns < io.reduce((sum, s) =>
		sum + s.t1_ns - s.t0_ns, 0));
	assert.deepEqual(errors, []);
	await context.close();
});

test('asyncio scales: 100,000 waits at once on one thread; threads refuse',
     { timeout: 300000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('async-scale');
	assert.equal(trace.run.model, 'asyncio');
	assert.match(note, /at most 10,000 threads/);
	assert.equal(trace.run.status, 'done');
	assert.equal(trace.tasks.length, 100000);
	assert.ok(trace.tasks.every(t => t.status === 'ok'));
	assert.equal(trace.lanes.filter(l => l.kind === 'loop').length, 1);
	const sleeps = segmentsOf(trace, 'sleep');
	assert.equal(sleeps.length, 100000);
	assert.equal(mostAtOnce(sleeps), 100000, 'every wait open at once');
	assert.equal(await page.getAttribute('#timeline', 'data-rows'),
		     '100000');
	await screenshot(page, 'lesson-async-scale', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
	/* The same under threads is refused, naming the tasks. */
	const refused = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'fetch', model: 'threads',
			params: { tasks: 100000, io: 'sleep' } } });
	assert.equal(refused.status, 400);
	assert.equal(refused.body.field, 'params.tasks');
	assert.match(refused.body.error, /at most 10000 tasks under threads/);
});

test('the GIL: two CPU-bound threads take turns, gil-wait between',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } = await pressLesson('gil');
	assert.equal(trace.run.options.gil, 'on');
	assert.match(note, /take turns/);
	/* Never both computing at once: no speedup. */
	assert.equal(mostAtOnce(segmentsOf(trace, 'compute')), 1);
	/* They alternate: each computes in several turns, waiting for the
	 * GIL between them. */
	for (const task of [0, 1]) {
		assert.ok(segmentsOf(trace, 'compute', task).length >= 2);
		assert.ok(segmentsOf(trace, 'gil-wait', task).length >= 1);
	}
	assert.ok(trace.summary.parallelism <= 1.05);
	assert.equal(trace.summary.diagnosis.recommend, 'process-pool');
	assert.match(await page.textContent('#diagnosis'), /GIL/);
	assert.deepEqual(errors, []);
	await context.close();
});

test('free-threaded: without the GIL the two threads compute at once',
     { timeout: 90000 }, async () => {
	const { context, errors, trace, note } =
		await pressLesson('free-threaded');
	assert.equal(trace.run.options.gil, 'off');
	assert.match(note, /compute at once/);
	assert.equal(segmentsOf(trace, 'gil-wait').length, 0);
	if (trace.run.host.cores >= 2) {
		const [a0, a1] = spanOf(trace, 0, ['compute', 'runnable']);
		const [b0, b1] = spanOf(trace, 1, ['compute', 'runnable']);
		assert.ok(a0 < b1 && b0 < a1, 'the computations overlap');
		assert.equal(mostAtOnce(segmentsOf(trace, 'compute')), 2);
	}
	assert.deepEqual(errors, []);
	await context.close();
});

test('processes: each task computes in its own worker, with start-up and ' +
     'copies', { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('processes');
	assert.equal(trace.run.model, 'process-pool');
	assert.match(note, /startup/);
	const lanes = trace.tasks.map(t => t.lane);
	assert.notEqual(lanes[0], lanes[1], 'a process each');
	for (const lane of lanes)
		assert.equal(trace.lanes[lane].kind, 'process');
	if (trace.run.host.cores >= 2) {
		const [a0, a1] = spanOf(trace, 0, ['compute', 'runnable']);
		const [b0, b1] = spanOf(trace, 1, ['compute', 'runnable']);
		assert.ok(a0 < b1 && b0 < a1, 'the computations overlap');
	}
	/* Each worker's start-up before its task; argument and result
	 * copied inside each task. */
	for (const task of trace.tasks) {
		const startup = trace.segments.filter(s =>
			s.state === 'startup' && s.lane === task.lane);
		assert.equal(startup.length, 1);
		assert.ok(startup[0].t1_ns <= task.start_ns);
		assert.equal(segmentsOf(trace, 'ipc', task.id).length, 2);
	}
	await screenshot(page, 'lesson-processes', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('producers and consumers: queue-wait on both sides, the queue\'s ' +
     'depth drawn', { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('pipeline');
	assert.match(note, /queue's depth/);
	assert.equal(trace.summary.checks.produced,
		     trace.summary.checks.consumed);
	const waited = name => trace.tasks.filter(t =>
		t.name.startsWith(name) &&
		segmentsOf(trace, 'queue-wait', t.id).length > 0);
	assert.ok(waited('producer').length >= 1, 'a producer waited');
	assert.ok(waited('consumer').length >= 1, 'a consumer waited');
	const depth = trace.counters.filter(c => c.name === 'queue_depth');
	assert.ok(depth.length > 0);
	assert.ok(Math.max(...depth.map(c => c.value)) >= 1);
	const drawn = await page.evaluate(() => {
		const chart = window.Chart.getChart('activity');
		const ds = chart.data.datasets.find(d => d.yAxisID === 'items');
		return { points: ds.data.length, hidden: Boolean(ds.hidden) };
	});
	assert.ok(drawn.points > 0 && !drawn.hidden, 'the depth is drawn');
	await screenshot(page, 'lesson-pipeline', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('scraping: at most 5 in flight, starts spaced by the rate, backoff ' +
     'before a retry', { timeout: 120000 }, async () => {
	const { context, errors, trace, note } = await pressLesson('scraper');
	assert.match(note, /at most 5 requests in flight/);
	const checks = trace.summary.checks;
	assert.ok(checks.max_in_flight <= 5);
	assert.ok(mostAtOnce(segmentsOf(trace, 'io')) <= 5);
	assert.ok(segmentsOf(trace, 'sem-wait').length > 0);
	assert.ok(segmentsOf(trace, 'rate-wait').length > 0);
	/* Every retry was backed off first. */
	assert.equal(segmentsOf(trace, 'backoff').length, checks.retries);
	assert.ok(checks.retries > 0);
	assert.deepEqual(errors, []);
	await context.close();
});

test('how many workers (CPU): the speedup levels off at the cores',
     { timeout: 240000 }, async () => {
	const { context, errors, ref, note } =
		await pressLesson('workers-cpu', 'sweep');
	assert.match(note, /levels off/);
	const sweep = (await api(env.server.base, `/api/sweeps/${ref}`)).body;
	assert.deepEqual(sweep.points.map(p => p.value), [1, 2, 4]);
	/* However many workers, no more computing at once than the cores
	 * (a little over for where in a slice each lost its core). */
	const cores = (await api(env.server.base,
		`/api/runs/${sweep.points[0].run}`)).body.run.host.cores;
	for (const p of sweep.points)
		assert.ok(p.summary.parallelism <= Math.min(p.value, cores) +
			  0.1, `${p.value} workers: ${p.summary.parallelism}`);
	assert.deepEqual(errors, []);
	await context.close();
});

test('interpreters: a worker\'s start-up is a thread\'s, shorter than a ' +
     'spawned process\'s', { timeout: 120000 }, async () => {
	const { context, errors, trace, note } =
		await pressLesson('interpreters');
	assert.match(note, /less than a spawned process/);
	/* Each worker's start-up is on a thread of the run's own process:
	 * no process is started. */
	const startup = segmentsOf(trace, 'startup');
	assert.equal(startup.length, 2);
	assert.ok(startup.every(s => trace.lanes[s.lane].kind === 'thread'));
	assert.equal(trace.lanes.filter(l => l.kind === 'process').length, 0);
	assert.deepEqual(errors, []);
	await context.close();
	/* The same spec, run again with the page closed, and with a
	 * spawned process per worker: a new program loading the run's,
	 * where an interpreter is a thread loading it. */
	const run = async (model, options) => {
		const { status, body } = await api(env.server.base, '/api/runs', {
			method: 'POST',
			body: { workload: 'crunch', model,
				params: trace.run.params,
				options: { workers: 2, payload_bytes: 8388608,
					   ...options } } });
		assert.equal(status, 202);
		const t = await waitForRun(env.server.base, body.id, 60000);
		const ns = segmentsOf(t, 'startup').map(s =>
			s.t1_ns - s.t0_ns);
		assert.equal(ns.length, 2);
		return ns.reduce((a, b) => a + b, 0);
	};
	const interpreters = await run('interpreter-pool', {});
	const spawned = await run('process-pool', { start: 'spawn' });
	assert.ok(interpreters < spawned,
		  `interpreters ${interpreters} ns, spawned ${spawned} ns`);
});

test('gather with return_exceptions, as its note says to try: all four run ' +
     'to their end', { timeout: 120000 }, async () => {
	const { page, context, errors, trace: first } =
		await pressLesson('gather-errors');
	assert.equal(first.run.options.group, 'gather');
	/* The learner sets group to return_exceptions and runs again. */
	await page.locator('[data-field="options.group"] select')
		.selectOption('return_exceptions');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(old => location.hash.startsWith('#run=') &&
		location.hash !== old, `#run=${encodeURIComponent(first.run.id)}`);
	const id = decodeURIComponent((await page.evaluate(() =>
		location.hash)).slice(5));
	const trace = await waitForRun(env.server.base, id, 60000);
	assert.equal(trace.run.options.group, 'return_exceptions');
	assert.equal(trace.run.params.program, first.run.params.program);
	/* Task 1's exception is its result; the other three make both
	 * requests whole and compute after each. */
	assert.deepEqual(trace.tasks.map(t => t.status),
			 ['error', 'ok', 'ok', 'ok']);
	for (const k of [1, 2, 3]) {
		const io = segmentsOf(trace, 'io', k);
		assert.equal(io.length, 2);
		assert.ok(segmentsOf(trace, 'compute', k).some(s =>
			s.t0_ns >= io[1].t1_ns), `task ${k + 1} ran on`);
		assert.ok(trace.tasks[k].end_ns > trace.tasks[0].end_ns);
	}
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.deepEqual(errors, []);
	await context.close();
});
