/*
 * The lessons that show a task able to run but not running, each pressed
 * on the page as a learner would: the run it starts has what its note
 * names (ready segments while the loop computes; runnable threads when
 * there are more of them than cores), the legend shows that state, and
 * the summary's time per state counts it.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveAndBrowse, waitForRun, screenshot, api,
	 legendShows, pressLesson as pressLessonOn } from './harness.mjs';

const env = serveAndBrowse();

/* Presses lesson id (harness.mjs) on this file's server and browser. */
function pressLesson(id)
{
	return pressLessonOn(env.browser, env.server.base, id);
}

test('the blocking lesson: the other tasks are ready while the loop computes',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('blocking');
	assert.equal(trace.run.model, 'asyncio');
	assert.match(note, /ready \(waiting for the loop\)/);
	const of = state => trace.segments.filter(s => s.state === state);
	/* The fifth task's computation on the loop (runnable where the loop
	 * thread lost its core: the loop stays blocked). */
	const blocker = trace.tasks.length - 1;
	const mine = trace.segments.filter(s => s.task === blocker &&
		(s.state === 'compute' || s.state === 'runnable'));
	const c0 = Math.min(...mine.map(s => s.t0_ns));
	const c1 = Math.max(...mine.map(s => s.t1_ns));
	/* Every other task's wait is over during the computation (or
	 * before it, behind another task's tick), and it is ready from then
	 * until the computation ends. */
	for (let task = 0; task < blocker; task++) {
		const ready = of('ready').filter(s => s.task === task &&
			s.t0_ns < c1 && s.t1_ns >= c1);
		assert.equal(ready.length, 1, `task ${task + 1} ready`);
		assert.ok(c1 - c0 > 0);
	}
	assert.ok(await legendShows(page, 'ready'));
	assert.ok(trace.summary.states.ready > 0);
	assert.match(trace.summary.diagnosis.why,
		     /and 4 other tasks were ready meanwhile/);
	assert.match(await page.textContent('#diagnosis'),
		     /4 other tasks were ready meanwhile/);
	await screenshot(page, 'lesson-blocking-ready', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('more threads than cores: the ones without a core are runnable',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('runnable');
	assert.equal(trace.run.model, 'threads');
	assert.equal(trace.run.options.gil, 'off');
	assert.match(note, /runnable \(waiting for a core/);
	const runnable = trace.segments.filter(s => s.state === 'runnable');
	if (trace.run.host.cores < trace.tasks.length) {
		assert.ok(runnable.length > 0, 'threads waited for a core');
		assert.ok(runnable.every(s => /thread's CPU time/.test(s.note)),
			  'marked as measured');
		assert.ok(await legendShows(page, 'runnable'));
		assert.ok(trace.summary.states.runnable > 0);
	}
	/* No more computing at once than the cores (a little over for
	 * where in a slice each thread lost its core). */
	assert.ok(trace.summary.parallelism <= trace.run.host.cores + 0.1);
	await screenshot(page, 'lesson-runnable', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

/* The memory a lesson's run shows: the counter's samples, the summary's
 * figures, the cards and what the activity chart draws. */
async function memoryShown(id)
{
	const pressed = await pressLesson(id);
	const { page, trace } = pressed;
	await page.waitForSelector('#cards .card-memory');
	const samples = trace.counters.filter(c => c.name === 'memory_bytes')
		.sort((a, b) => a.t_ns - b.t_ns);
	const cards = await page.evaluate(() => Object.fromEntries(
		[...document.querySelectorAll('#cards .card-memory')].map(c =>
			[c.querySelector('dt').textContent,
			 c.querySelector('dd').textContent])));
	const drawn = await page.evaluate(() => {
		const chart = window.Chart.getChart('activity');
		const ds = chart.data.datasets.find(d =>
			d.yAxisID === 'memory');
		return { points: ds.data.length, hidden: Boolean(ds.hidden),
			 axis: chart.options.scales.memory.display,
			 peak: Number(chart.canvas.dataset.memoryPeak) };
	});
	await page.locator('#cards .card-memory').first()
		.scrollIntoViewIfNeeded();
	await screenshot(page, `lesson-${id}-cards`, { fullPage: false });
	await page.locator('#activity-box').scrollIntoViewIfNeeded();
	return { ...pressed, samples, cards, drawn };
}

test('memory: a thread per task holds more than a coroutine per task',
     { timeout: 180000 }, async () => {
	const threads = await memoryShown('memory-threads');
	const s = threads.trace.summary;
	assert.equal(threads.trace.run.model, 'threads');
	assert.match(threads.note, /15 KiB/);
	/* The counter grows as the threads are made (how far before the
	 * collector's first sample depends on the machine) and is back to
	 * nothing when they have ended. */
	assert.ok(threads.samples.length >= 2);
	assert.equal(threads.samples.at(-1).value, 0);
	assert.equal(s.peak_memory_bytes,
		     Math.max(...threads.samples.map(c => c.value)));
	assert.equal(s.memory_per_task_bytes,
		     Math.floor(s.peak_memory_bytes / 1000));
	assert.ok(s.peak_rss_bytes > 0, 'the run\'s own memory measured');
	assert.ok(threads.trace.counters.some(c => c.name === 'rss_bytes'));
	assert.ok(threads.cards['Peak memory'].endsWith('MiB'));
	assert.ok(threads.cards['Memory per task'].endsWith('KiB'));
	assert.equal(threads.drawn.peak, s.peak_memory_bytes);
	assert.ok(threads.drawn.points >= 2 && !threads.drawn.hidden &&
		  threads.drawn.axis);
	await screenshot(threads.page, 'lesson-memory-threads',
			 { fullPage: false });
	assert.deepEqual(threads.errors, []);
	await threads.context.close();

	const tasks = await memoryShown('memory-coroutines');
	const a = tasks.trace.summary;
	assert.equal(tasks.trace.run.model, 'asyncio');
	assert.equal(tasks.trace.tasks.length, 10000);
	assert.equal(a.memory_per_task_bytes,
		     Math.floor(a.peak_memory_bytes / 10000));
	/* Ten times the tasks, as coroutines, hold less than the threads
	 * did: each holds a tenth or less of a thread. */
	assert.ok(a.memory_per_task_bytes * 10 <= s.memory_per_task_bytes);
	assert.ok(a.peak_memory_bytes < s.peak_memory_bytes);
	assert.equal(tasks.drawn.peak, a.peak_memory_bytes);
	assert.ok(!tasks.drawn.hidden);
	await screenshot(tasks.page, 'lesson-memory-coroutines',
			 { fullPage: false });
	assert.deepEqual(tasks.errors, []);
	await tasks.context.close();
});

test('interpreters: each worker computes at once, with its own start-up',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('interpreters');
	assert.equal(trace.run.model, 'interpreter-pool');
	assert.match(note, /own interpreter with its own GIL/);
	const workers = new Set(trace.lanes.filter(l => l.kind === 'thread' &&
		/^InterpreterPoolExecutor-0_/.test(l.name)).map(l => l.id));
	assert.equal(workers.size, 2);
	assert.equal(trace.summary.states['gil-wait'], 0);
	const of = state => trace.segments.filter(s => s.state === state);
	/* Each worker's start-up, before the first task on its lane. */
	assert.equal(of('startup').length, 2);
	for (const s of of('startup')) {
		assert.ok(workers.has(s.lane));
		assert.ok(s.t1_ns <= trace.tasks[s.task].start_ns);
	}
	/* Argument and result copied, inside each task. */
	for (const task of trace.tasks)
		assert.equal(of('ipc').filter(s => s.task === task.id &&
			s.t0_ns >= task.start_ns && s.t1_ns <= task.end_ns)
			.length, 2);
	assert.ok(await legendShows(page, 'startup'));
	assert.ok(await legendShows(page, 'ipc'));
	await screenshot(page, 'lesson-interpreters', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('a program that shares a lock is refused under interpreter-pool, ' +
     'naming the model', { timeout: 30000 }, async () => {
	const { status, body } = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'counter', model: 'interpreter-pool' } });
	assert.equal(status, 400);
	assert.equal(body.field, 'model');
	assert.match(body.error, /interpreters share no objects/);
});

test('a fork server starts once, on its lane, and forks the workers',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('forkserver');
	assert.equal(trace.run.model, 'process-pool');
	assert.equal(trace.run.options.start, 'forkserver');
	assert.match(note, /fork server/);
	assert.equal(trace.run.status, 'done');
	const server = trace.lanes.find(l => l.name === 'ForkServer');
	assert.ok(server && server.kind === 'process' && server.os_id > 0);
	const workers = trace.lanes.filter(l =>
		/^ForkServerProcess-/.test(l.name));
	assert.equal(workers.length, 2);
	const startups = trace.segments.filter(s => s.state === 'startup');
	const own = startups.filter(s => s.lane === server.id);
	assert.equal(own.length, 1, 'the server starts once');
	/* Every worker's start-up comes after the server's: it forks them. */
	for (const s of startups.filter(s => s.lane !== server.id))
		assert.ok(s.t0_ns >= own[0].t1_ns);
	assert.ok(trace.tasks.every(task => task.status === 'ok' &&
		workers.some(l => l.id === task.lane)));
	assert.ok(await legendShows(page, 'startup'));
	assert.deepEqual(errors, []);
	await context.close();
});

/* Where a segment of state begins and ends, over a task's segments. */
function spanOf(trace, task, states)
{
	const mine = trace.segments.filter(s => s.task === task &&
		states.includes(s.state));
	return [Math.min(...mine.map(s => s.t0_ns)),
		Math.max(...mine.map(s => s.t1_ns))];
}

test('time.sleep in a coroutine: the others are ready while the loop sleeps',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('block');
	assert.equal(trace.run.model, 'asyncio');
	assert.match(note, /time\.sleep/);
	const blocker = trace.tasks.length - 1;
	const block = trace.segments.filter(s => s.task === blocker &&
		s.state === 'sleep' && /blocks the event loop/.test(s.note));
	assert.equal(block.length, 1);
	const b1 = block[0].t1_ns;
	/* Nothing computed on the loop while it slept: every other task is
	 * ready from its wait's end until the sleep is over. */
	assert.ok(!trace.segments.some(s => s.state === 'compute' &&
		s.t0_ns > block[0].t0_ns && s.t0_ns < b1));
	for (let task = 0; task < blocker; task++) {
		const ready = trace.segments.filter(s => s.task === task &&
			s.state === 'ready' && s.t0_ns < b1 && s.t1_ns >= b1);
		assert.equal(ready.length, 1, `task ${task + 1} ready`);
	}
	assert.ok(await legendShows(page, 'ready'));
	assert.equal(trace.summary.diagnosis.recommend, 'asyncio');
	assert.match(trace.summary.diagnosis.why, /task 5's time\.sleep/);
	assert.match(await page.textContent('#diagnosis'),
		     /await asyncio\.sleep/);
	assert.deepEqual(errors, []);
	await context.close();
});

test('a C extension releases the GIL: two threads compute at once',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('nogil');
	assert.equal(trace.run.model, 'threads');
	assert.equal(trace.run.options.gil, 'on');
	assert.match(note, /releases it/);
	const computes = trace.segments.filter(s => s.state === 'compute');
	assert.ok(computes.length >= 2);
	assert.ok(computes.every(s => s.note === 'releases the GIL'));
	/* No gil-wait inside either computation, and they overlap. */
	const [a0, a1] = spanOf(trace, 0, ['compute', 'runnable']);
	const [b0, b1] = spanOf(trace, 1, ['compute', 'runnable']);
	assert.ok(a0 < b1 && b0 < a1, 'the computations overlap');
	assert.ok(!trace.segments.some(s => s.state === 'gil-wait' &&
		((s.t0_ns >= a0 && s.t1_ns <= a1 && s.task === 0) ||
		 (s.t0_ns >= b0 && s.t1_ns <= b1 && s.task === 1))));
	assert.ok(await legendShows(page, 'compute'));
	assert.deepEqual(errors, []);
	await context.close();
});

test('an RLock re-enters; its owner never waits for itself',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('rlock');
	assert.equal(trace.run.model, 'threads');
	assert.equal(trace.run.status, 'done');
	assert.match(note, /a plain Lock taken twice waits for itself/);
	assert.ok(trace.tasks.every(t => t.status === 'ok'));
	/* The critical sections (compute) of the three never overlap. */
	const spans = [0, 1, 2].map(k => spanOf(trace, k, ['compute']));
	for (let i = 0; i < 3; i++)
		for (let j = i + 1; j < 3; j++)
			assert.ok(spans[i][1] <= spans[j][0] ||
				  spans[j][1] <= spans[i][0]);
	/* All the computing is inside the lock: no model runs it side by
	 * side, so no pool; the fix is the critical section. */
	assert.equal(trace.summary.diagnosis.recommend, 'sequential');
	assert.equal(trace.summary.diagnosis.advice,
		     'shrink-critical-section');
	const said = await page.textContent('#diagnosis');
	assert.match(said, /recommended: sequential · fix: shrink critical/);
	assert.match(said, /an RLock, which its owner took again 3 times/);
	await screenshot(page, 'lesson-rlock-diagnosis', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();

	/* Without the declaration, the same program deadlocks on itself. */
	const { status, body } = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'custom', model: 'threads',
			params: { program: 'lock r, lock r, unlock r, ' +
				  'unlock r' } } });
	assert.equal(status, 202);
	const done = await waitForRun(env.server.base, body.id, 60000);
	assert.equal(done.run.status, 'deadlock');
	assert.match(done.run.message, /held by itself/);
	assert.match(done.summary.diagnosis.why, /make it an RLock/);
	/* The lesson's own program without "rlock r;": the first task to
	 * take the lock waits for itself, the others for it; the message
	 * names the lock and its holder, the advice is an RLock. */
	const plain = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'custom', model: 'threads',
			params: { program: trace.run.params.program
				.replace(/^rlock r; /, '') } } });
	assert.equal(plain.status, 202);
	const stuck = await waitForRun(env.server.base, plain.body.id, 60000);
	assert.equal(stuck.run.status, 'deadlock');
	assert.match(stuck.run.message,
		     /wait for lock 'r' \(held by (itself|task [23])/);
	assert.equal(stuck.summary.diagnosis.advice, 'use-an-rlock');
	/* asyncio has no RLock: refused, naming the program. */
	const refused = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'custom', model: 'asyncio',
			params: { program: 'rlock r; lock r, unlock r' } } });
	assert.equal(refused.status, 400);
	assert.equal(refused.body.field, 'params.program');
	assert.match(refused.body.error, /no RLock/);
});

test('a condition: notify all lets every waiter go after the notify',
     { timeout: 90000 }, async () => {
	const { context, errors, trace, note } =
		await pressLesson('condition');
	assert.equal(trace.run.model, 'threads');
	assert.equal(trace.run.status, 'done');
	assert.match(note, /notify_all\(\)/);
	const notifier = trace.tasks.length - 1;
	const slept = trace.segments.find(s => s.task === notifier &&
		s.state === 'sleep');
	const waits = trace.segments.filter(s => s.state === 'event-wait');
	assert.equal(waits.length, 3);
	for (const w of waits) {
		assert.equal(w.note, 'ready');
		assert.ok(w.t1_ns >= slept.t1_ns, 'woken after the notify');
	}
	/* The diagnosis calls the wait the program's own. */
	assert.match(trace.summary.diagnosis.why,
		     /waited for a notify \(cond\.wait\), as the program says/);
	assert.deepEqual(errors, []);
	await context.close();

	/* notify() wakes one: the other two are left waiting, named. */
	const one = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'custom', model: 'threads',
			params: { program: trace.run.params.program
				.replace('notify ready all', 'notify ready') } } });
	assert.equal(one.status, 202);
	const stuck = await waitForRun(env.server.base, one.body.id, 60000);
	assert.equal(stuck.run.status, 'deadlock');
	assert.match(stuck.run.message,
		     /task \d and 1 more wait for condition 'ready'/);
	assert.equal(stuck.summary.diagnosis.advice, 'notify-all');
});

test('timers wait, then run; the daemon is cancelled when the rest end',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('daemon');
	assert.equal(trace.run.model, 'threads');
	assert.equal(trace.run.status, 'done');
	assert.match(note, /daemon/);
	assert.equal(trace.tasks[0].status, 'cancelled');
	assert.ok(trace.tasks.slice(1).every(t => t.status === 'ok'));
	const timers = trace.segments.filter(s => s.state === 'sleep' &&
		/^timer/.test(s.note));
	assert.equal(timers.length, 2);
	/* The timed task computes only after its timer. */
	const timed = timers.find(s => s.task === 1);
	assert.ok(trace.segments.filter(s => s.task === 1 &&
		s.state === 'compute').every(s => s.t0_ns >= timed.t1_ns));
	/* The daemon's sleep is cut when the last other task ended. */
	const lastEnd = Math.max(...trace.tasks.slice(1).map(t => t.end_ns));
	const cut = trace.segments.find(s => s.task === 0 &&
		s.state === 'sleep' && !/^timer/.test(s.note));
	assert.ok(cut.t1_ns >= lastEnd);
	assert.ok(cut.t1_ns - cut.t0_ns < 5e9);
	/* The diagnosis says the daemon's work was cut, and the timers. */
	assert.equal(trace.summary.diagnosis.advice, 'join-the-daemon');
	const said = await page.textContent('#diagnosis');
	assert.match(said, /fix: join the daemon/);
	assert.match(said, /Task 1, a daemon, was still running/);
	assert.match(said, /2 tasks waited .* for their timer/);
	await screenshot(page, 'lesson-daemon-diagnosis', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('asyncio.timeout: two tasks are cancelled where they wait',
     { timeout: 90000 }, async () => {
	const { context, errors, trace, note } = await pressLesson('timeout');
	assert.equal(trace.run.model, 'asyncio');
	assert.equal(trace.run.status, 'done');
	assert.match(note, /asyncio\.timeout/);
	assert.deepEqual(trace.tasks.map(t => t.status),
			 ['timeout', 'timeout', 'ok', 'ok']);
	const lastOk = Math.min(trace.tasks[2].end_ns, trace.tasks[3].end_ns);
	for (const k of [0, 1]) {
		assert.ok(!trace.segments.some(s => s.task === k &&
			s.state === 'compute' && s.t1_ns - s.t0_ns > 1e6),
			'the compute after the cancelled wait never ran');
		const io = trace.segments.filter(s => s.task === k &&
			s.state === 'io');
		assert.equal(io.length, 2);
		assert.ok(io[1].t1_ns < lastOk, 'cut before the others end');
	}
	/* The others' computations ran. */
	for (const k of [2, 3])
		assert.ok(trace.segments.some(s => s.task === k &&
			s.state === 'compute'));
	assert.deepEqual(errors, []);
	await context.close();

	/* Threads have no timeout: refused, naming the program. */
	const refused = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'custom', model: 'threads',
			params: { program: 'timeout 1s (net 10ms)' } } });
	assert.equal(refused.status, 400);
	assert.equal(refused.body.field, 'params.program');
	assert.match(refused.body.error, /timeout/);
});

/* The consumer lane's handling, as the tasks it handled in order, each
 * with the start of its first segment there. */
function handledOn(trace)
{
	const lane = trace.lanes.find(l => l.name === 'consumer');
	assert.ok(lane, 'a consumer lane');
	const order = [];
	for (const s of trace.segments.filter(s => s.lane === lane.id &&
			s.state === 'compute')) {
		assert.equal(s.note, 'the caller handling this result');
		if (!order.length || order.at(-1).task !== s.task)
			order.push({ task: s.task, t0: s.t0_ns });
	}
	return order;
}

/* When a task's sleep ended (its work, whatever the lane). */
function sleptUntil(trace, task)
{
	return trace.segments.find(s => s.task === task &&
		s.state === 'sleep').t1_ns;
}

test('map: the caller handles the results in submission order',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('pool-map');
	assert.equal(trace.run.model, 'thread-pool');
	assert.equal(trace.run.options.collect, 'map');
	assert.match(note, /in the order the tasks were submitted/);
	const order = handledOn(trace);
	assert.deepEqual(order.map(h => h.task), [0, 1, 2, 3]);
	/* The early results wait for task 1's. */
	for (const h of order)
		assert.ok(h.t0 >= sleptUntil(trace, 0));
	assert.equal(trace.summary.checks.collect_order, 'map');
	assert.deepEqual(trace.summary.checks.collected, [0, 1, 2, 3]);
	await screenshot(page, 'lesson-pool-map', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('as_completed: the caller handles each result as it finishes',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('pool-as-completed');
	assert.equal(trace.run.model, 'process-pool');
	assert.equal(trace.run.options.collect, 'as_completed');
	assert.match(note, /as_completed yields each future/);
	const order = handledOn(trace);
	assert.equal(order.length, 4);
	assert.deepEqual(order.map(h => h.task),
			 trace.summary.checks.finish_order);
	assert.deepEqual(trace.summary.checks.collected,
			 trace.summary.checks.finish_order);
	for (const h of order)
		assert.ok(h.t0 >= sleptUntil(trace, h.task));
	/* The first is handled while task 1 still sleeps. */
	assert.ok(order[0].t0 < sleptUntil(trace, 0));
	await screenshot(page, 'lesson-pool-as-completed', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('imap: a task is submitted only as the caller takes a result',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('pool-imap');
	assert.equal(trace.run.model, 'thread-pool');
	assert.equal(trace.run.options.collect, 'imap');
	assert.match(note, /buffersize=2/);
	const order = handledOn(trace);
	assert.deepEqual(order.map(h => h.task), [0, 1, 2, 3]);
	assert.deepEqual(trace.summary.checks.collected, [0, 1, 2, 3]);
	/* Two at once; then one more each time the caller takes a result,
	 * the first only once task 1's sleep is over. */
	const submitted = trace.tasks.map(k => k.submit_ns);
	assert.ok(submitted[0] < sleptUntil(trace, 0));
	assert.ok(submitted[1] < sleptUntil(trace, 0));
	assert.ok(submitted[2] >= order[0].t0, 'task 3 after result 1');
	assert.ok(submitted[3] >= order[1].t0, 'task 4 after result 2');
	assert.ok(order[0].t0 >= sleptUntil(trace, 0));
	await screenshot(page, 'lesson-pool-imap', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('map with chunksize: one transfer per chunk, results per chunk',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('pool-chunksize');
	assert.equal(trace.run.model, 'process-pool');
	assert.equal(trace.run.options.chunksize, 4);
	assert.match(note, /one argument and one result per chunk/);
	/* Two chunks, a transfer each way: on the first and last task of
	 * each, noted as a chunk's. */
	const ipc = trace.segments.filter(s => s.state === 'ipc');
	assert.deepEqual(ipc.map(s => s.task).sort((a, b) => a - b),
			 [0, 3, 4, 7]);
	assert.ok(ipc.every(s => s.note ===
		'a chunk: one transfer for all its tasks'));
	const order = handledOn(trace);
	assert.deepEqual(order.map(h => h.task), [0, 1, 2, 3, 4, 5, 6, 7]);
	/* None of a chunk's results is handled before its last task's
	 * result began to go back (the pool may read it while the worker's
	 * write is still returning, so not after that transfer's end). */
	const sent = task => ipc.find(s => s.task === task &&
		s.t0_ns > trace.tasks[task].start_ns).t0_ns;
	for (const h of order)
		assert.ok(h.t0 >= sent(h.task < 4 ? 3 : 7),
			  `task ${h.task + 1} handled after its chunk`);
	assert.ok(await legendShows(page, 'ipc'));
	await screenshot(page, 'lesson-pool-chunksize', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('a shared Value loses updates between processes without its lock',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('shared-value');
	assert.equal(trace.run.model, 'process-pool');
	assert.match(note, /value total=get_lock/);
	const { expected, got, lost } = trace.summary.checks;
	assert.equal(expected, 1000000);
	assert.equal(lost, expected - got);
	/* Each task's increments on a lane of its own, noted with the
	 * Value's name; where the two computed at once, updates were
	 * lost. */
	const runs = [0, 1].map(task => {
		const mine = trace.segments.filter(s => s.task === task &&
			s.state === 'compute' && s.note === 'total');
		assert.ok(mine.length > 0, `task ${task + 1} computes`);
		return { lane: mine[0].lane,
			 t0: Math.min(...mine.map(s => s.t0_ns)),
			 t1: Math.max(...mine.map(s => s.t1_ns)) };
	});
	assert.notEqual(runs[0].lane, runs[1].lane);
	if (runs[0].t0 < runs[1].t1 && runs[1].t0 < runs[0].t1)
		assert.ok(lost > 0, 'updates lost while both computed');
	await screenshot(page, 'lesson-shared-value', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('an Array: an element each loses nothing, its one lock is shared',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('shared-array');
	assert.equal(trace.run.model, 'process-pool');
	assert.match(note, /lock=False/);
	const { expected, got, lost } = trace.summary.checks;
	assert.equal(expected, 400000);
	assert.equal(got, expected);
	assert.equal(lost, 0);
	/* Each task's updates on a worker of its own, noted with the
	 * array. */
	const lanes = [0, 1].map(task => {
		const mine = trace.segments.filter(s => s.task === task &&
			s.state === 'compute' && s.note === 'totals');
		assert.ok(mine.length > 0, `task ${task + 1} updates`);
		return mine[0].lane;
	});
	assert.notEqual(lanes[0], lanes[1]);
	assert.equal(trace.summary.diagnosis.advice, 'unlocked-array');
	await screenshot(page, 'lesson-shared-array', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('a Manager: each update is two round trips, drawn ipc',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('manager-value');
	assert.equal(trace.run.model, 'process-pool');
	assert.equal(trace.run.status, 'done');
	assert.match(note, /two round trips/);
	const { expected, got, lost } = trace.summary.checks;
	assert.equal(expected, 2000);
	assert.equal(lost, expected - got);
	/* A task's increments are one wait on the manager (ipc, noted with
	 * the value), not computation. */
	for (const task of [0, 1]) {
		const mine = trace.segments.filter(s => s.task === task);
		const ipc = mine.filter(s => s.state === 'ipc' &&
			s.note === 'hits');
		assert.equal(ipc.length, 1, `task ${task + 1}: one ipc`);
		assert.ok(!mine.some(s => s.state === 'compute'));
	}
	assert.equal(trace.summary.diagnosis.advice, 'count-per-task');
	assert.match(trace.summary.diagnosis.why, /round trips/);
	/* Lost updates are said where they happened: in the manager. */
	assert.equal(await page.isVisible('#check-notice'), lost > 0);
	if (lost > 0)
		assert.match(await page.textContent('#check-notice'),
			     /lives in a Manager's process/);
	assert.ok(await legendShows(page, 'ipc'));
	await screenshot(page, 'lesson-manager-value', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('a pipe: the sender copies, the receiver waits, then copies',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('pipe');
	assert.equal(trace.run.model, 'process-pool');
	assert.equal(trace.run.status, 'done');
	assert.match(note, /message passing copies/);
	const of = (task, state) => trace.segments.filter(s =>
		s.task === task && s.state === state);
	/* Each sender's send: an ipc noted with the pipe, after its
	 * computation. */
	for (const task of [0, 1]) {
		const sent = of(task, 'ipc');
		assert.equal(sent.length, 1, `task ${task + 1} sends once`);
		assert.equal(sent[0].note, 'results');
		assert.ok(sent[0].t0_ns >= Math.max(...of(task, 'compute')
			.map(s => s.t1_ns)) - 1);
	}
	/* The receiver waits for the first message, then copies each out:
	 * two ipc, each after a wait or the copy before. */
	const waits = of(2, 'queue-wait');
	const copies = of(2, 'ipc');
	assert.ok(waits.length >= 1);
	assert.ok(waits.every(s => s.note === 'results'));
	assert.equal(copies.length, 2);
	assert.ok(copies[0].t0_ns >= waits[0].t1_ns);
	/* 4 MiB is more than the pipe holds: after its ipc each sender
	 * waits (queue-wait, noted results) until the receiver has begun to
	 * copy its message out, and not past the end of that copy. */
	for (const task of [0, 1]) {
		const [sent] = of(task, 'ipc');
		const full = of(task, 'queue-wait').filter(s =>
			s.t0_ns >= sent.t1_ns);
		assert.equal(full.length, 1, `task ${task + 1} waits`);
		assert.equal(full[0].note, 'results');
		const copy = copies.find(c => c.t0_ns <= full[0].t1_ns &&
			full[0].t1_ns <= c.t1_ns);
		assert.ok(copy, `task ${task + 1}'s wait ends in a copy`);
	}
	assert.ok(await legendShows(page, 'queue-wait'));
	assert.ok(await legendShows(page, 'ipc'));
	await screenshot(page, 'lesson-pipe', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('the pitfalls end the run with the error Python raises',
     { timeout: 90000 }, async () => {
	const cases = [
		{ id: 'pickling', note: /PicklingError Python raises/,
		  advice: 'def-at-module-level',
		  task: /^PicklingError: Can't pickle <function <lambda>/,
		  message: /_pickle\.PicklingError: Can't pickle/ },
		{ id: 'main-guard', note: /if __name__ == "__main__"/,
		  advice: 'add-a-main-guard',
		  task: /^BrokenProcessPool/,
		  message: /An attempt has been made to start a new process before the current process has finished its bootstrapping phase/ },
	];
	for (const c of cases) {
		const { page, context, errors, trace, note } =
			await pressLesson(c.id);
		assert.equal(trace.run.model, 'process-pool');
		assert.equal(trace.run.status, 'error');
		assert.match(note, c.note);
		assert.match(trace.run.message, c.message);
		assert.ok(trace.tasks.every(k => k.status === "error" &&
			c.task.test(k.note)));
		assert.equal(trace.segments.length, 0, "no task ran");
		/* Nothing measured or recommended; the advice is the fix. */
		assert.equal(trace.summary.diagnosis.bound, '');
		assert.equal(trace.summary.diagnosis.recommend, '');
		assert.equal(trace.summary.diagnosis.advice, c.advice);
		await page.waitForSelector('#run-notice:not([hidden])');
		assert.match(await page.textContent('#run-notice'), c.message);
		await screenshot(page, `lesson-${c.id}`, { fullPage: false });
		assert.deepEqual(errors, []);
		await context.close();
	}
	/* Under fork nothing is imported again: the missing guard is
	 * refused there, naming the option. */
	const refused = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'crunch', model: 'process-pool',
			options: { start: 'fork', pitfall: 'no-main-guard' } } });
	assert.equal(refused.status, 400);
	assert.equal(refused.body.field, 'options.pitfall');
});

test('fork after threads: each worker waits for a lock copied held',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('fork-after-threads');
	assert.equal(trace.run.model, 'process-pool');
	assert.equal(trace.run.status, 'deadlock');
	assert.match(note, /only\s+the thread that forked/);
	assert.match(trace.run.message, /2 workers wait for a lock/);
	/* Each worker's first task waits on a process lane of its own; the
	 * other two never start. */
	const waits = trace.segments.filter(s => s.state === 'lock-wait');
	assert.deepEqual(waits.map(s => s.task).sort(), [0, 1]);
	const lanes = waits.map(s => trace.lanes.find(l => l.id === s.lane));
	assert.ok(lanes.every(l => l.kind === 'process' &&
		/^ForkProcess-/.test(l.name)));
	assert.notEqual(lanes[0].id, lanes[1].id);
	assert.ok(waits.every(s => /held at the fork/.test(s.note)));
	assert.ok(trace.tasks.slice(2).every(k => k.start_ns === null ||
		k.start_ns === undefined || k.start_ns < 0));
	assert.equal(trace.summary.diagnosis.advice, 'start-with-forkserver');
	await page.waitForSelector('#run-notice:not([hidden])');
	assert.match(await page.textContent('#run-notice'), /deadlock/);
	assert.ok(await legendShows(page, 'lock-wait'));
	await screenshot(page, 'lesson-fork-after-threads',
			 { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

/* The main coroutine's segment on the main lane: where it resumed. */
function mainResumes(trace)
{
	const main = trace.lanes.find(l => l.kind === 'main');
	return trace.segments.filter(s => s.lane === main.id &&
		s.state === 'compute');
}

test('task.cancel(): the victim is cut where it waits, the twin goes on',
     { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('cancel');
	assert.equal(trace.run.model, 'asyncio');
	assert.equal(trace.run.status, 'done');
	assert.match(note, /task\.cancel\(\)/);
	assert.deepEqual(trace.tasks.map(t => t.status),
			 ['cancelled', 'ok', 'ok']);
	assert.match(trace.tasks[0].note, /another task's task\.cancel\(\)/);
	const io = trace.segments.filter(s => s.task === 0 &&
		s.state === 'io');
	assert.equal(io.length, 1);
	assert.ok(io[0].t1_ns >= trace.tasks[2].end_ns, 'cut after the cancel');
	assert.ok(io[0].t1_ns < trace.tasks[1].end_ns, 'before the twin ends');
	assert.ok(!trace.segments.some(s => s.task === 0 &&
		s.state === 'compute'), 'the compute after the wait never ran');
	assert.ok(trace.segments.some(s => s.task === 1 &&
		s.state === 'compute'));
	assert.match(trace.summary.diagnosis.why,
		     /1 was cancelled by another task's task\.cancel\(\)/);
	await screenshot(page, 'lesson-cancel', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();

	/* Threads have no cancel: refused, naming the program. */
	const refused = await api(env.server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'custom', model: 'threads',
			params: { program: '(sleep 1s); (sleep 10ms, cancel 1)' } } });
	assert.equal(refused.status, 400);
	assert.equal(refused.body.field, 'params.program');
	assert.match(refused.body.error, /cancel: threads cannot cancel/);
});

/* The lessons with a failing task 1 and three siblings waiting 400 ms. */
for (const [id, group, by] of [
	['taskgroup', 'taskgroup', /by its TaskGroup/],
	['gather-errors', 'gather', /by asyncio\.run: main returned/]]) {
	test(`${id}: task 1 raises and the others are cancelled where they ` +
	     'wait', { timeout: 90000 }, async () => {
		const { page, context, errors, trace, note } =
			await pressLesson(id);
		assert.equal(trace.run.options.group, group);
		assert.equal(trace.run.status, 'done');
		assert.match(note, group === 'gather' ? /return_exceptions/
			     : /TaskGroup/);
		assert.deepEqual(trace.tasks.map(t => t.status),
				 ['error', 'cancelled', 'cancelled',
				  'cancelled']);
		assert.match(trace.tasks[0].note, /RuntimeError/);
		const [mark] = mainResumes(trace);
		assert.ok(mark, 'main resumes on the main lane');
		assert.equal(mark.task, 0);
		const raisedAt = trace.tasks[0].end_ns;
		for (const k of [1, 2, 3]) {
			const task = trace.tasks[k];
			assert.match(task.note, by);
			/* Cut in its second request, which ends where task 1
			 * raised; nothing computed after it. */
			const io = trace.segments.filter(s => s.task === k &&
				s.state === 'io');
			assert.equal(io.length, 2);
			assert.ok(io[1].t1_ns >= raisedAt);
			assert.ok(!trace.segments.some(s => s.task === k &&
				s.state === 'compute' && s.t0_ns >= io[1].t0_ns),
				'the compute after the cut wait never ran');
			/* A TaskGroup cancels before main resumes; gather's
			 * main returns first, then asyncio.run cancels. */
			if (group === 'taskgroup')
				assert.ok(task.end_ns <= mark.t0_ns);
			else
				assert.ok(task.end_ns >= mark.t1_ns);
		}
		assert.equal(trace.summary.checks.main_resumed_by, 0);
		assert.match(await page.textContent('#diagnosis'),
			     /3 were cancelled/);
		await screenshot(page, `lesson-${id}`, { fullPage: false });
		assert.deepEqual(errors, []);
		await context.close();
	});
}

test('asyncio.wait(FIRST_COMPLETED): main resumes at the first end, the ' +
     'rest run on', { timeout: 90000 }, async () => {
	const { page, context, errors, trace, note } =
		await pressLesson('wait-first');
	assert.equal(trace.run.options.group, 'wait_first');
	assert.match(note, /FIRST_COMPLETED/);
	assert.ok(trace.tasks.every(t => t.status === 'ok'));
	const [mark] = mainResumes(trace);
	assert.ok(mark);
	assert.equal(mark.task, 0);
	assert.match(mark.note, /asyncio\.wait returned/);
	assert.ok(mark.t0_ns >= trace.tasks[0].end_ns);
	for (const k of [1, 2])
		assert.ok(trace.tasks[k].end_ns > mark.t1_ns, 'ran on');
	assert.match(trace.summary.diagnosis.why,
		     /when task 1 ended first, and the others ran on/);
	await screenshot(page, 'lesson-wait-first', { fullPage: false });
	/* Rows: Lanes shows main's resuming on the main lane. */
	await page.getByRole('radio', { name: 'Lanes' }).check();
	await page.waitForFunction(n => document.querySelector('#timeline')
		?.getAttribute('data-rows') === String(n), trace.lanes.length);
	await screenshot(page, 'lesson-wait-first-lanes', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});
