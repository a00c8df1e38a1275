/*
 * What a first-time user and a teacher rely on beyond the charts: the
 * text timeline fits its box at any width; the activity chart counts the
 * segments still open while a run streams; a lesson fills in the form,
 * starts and explains itself, and the history says what each run changed;
 * the tabs shown match what is on view; and a server that stops ends a
 * live run's stream with its end event, which the page reports.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, waitForRun, screenshot,
	 settle, overflowReport } from './harness.mjs';

let server;
let browser;

before(async () => {
	server = await startServer();
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await server?.stop();
});

async function submit(base, spec)
{
	const created = await api(base, '/api/runs', { method: 'POST',
						       body: spec });
	assert.equal(created.status, 202, created.text);
	return created.body.id;
}

/* The ASCII tab's size: what it shows and what it can show. */
function asciiBox(page)
{
	return page.evaluate(() => {
		const pre = document.getElementById('ascii');
		return { scroll: pre.scrollWidth, client: pre.clientWidth,
			 columns: Number(pre.dataset.columns),
			 text: pre.textContent };
	});
}

test('the text timeline is asked for as wide as its box, at any width',
     { timeout: 60000 }, async () => {
	const id = await submit(server.base, {
		workload: 'fetch', model: 'thread-pool',
		params: { tasks: 6, duration: '40ms', io: 'sleep' },
		options: { workers: 3 } });
	await waitForRun(server.base, id);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}&tab=ascii` });
	await page.waitForSelector('#ascii[data-columns]');
	const wide = await asciiBox(page);
	assert.ok(wide.columns > 100, `1280 px holds ${wide.columns}`);
	assert.ok(wide.scroll <= wide.client, 'no sideways scrolling');
	const text = await api(server.base,
			       `/api/runs/${id}/ascii?width=${wide.columns}`);
	assert.equal(wide.text, text.text);

	/* A phone: fewer columns, fetched again, and still no scrolling. */
	await page.setViewportSize({ width: 390, height: 844 });
	await page.waitForFunction(before => {
		const pre = document.getElementById('ascii');
		return pre.dataset.columns && pre.dataset.columns !== before;
	}, String(wide.columns));
	const narrow = await asciiBox(page);
	assert.ok(narrow.columns >= 40 && narrow.columns < 60,
		  `390 px holds ${narrow.columns}`);
	assert.ok(narrow.scroll <= narrow.client, 'no sideways scrolling');
	/* The rows of the tasks that end last fill the width. */
	const widest = text => Math.max(...text.split('\n')
		.filter(l => /^request/.test(l)).map(l => [...l].length));
	assert.equal(widest(narrow.text), narrow.columns);
	assert.equal(widest(wide.text), wide.columns);

	/* The download keeps the server's default width. */
	assert.equal(widest((await api(server.base,
				       `/api/runs/${id}/ascii`)).text), 120);
	assert.deepEqual(errors, []);
	await context.close();
});

test('while a run streams, the activity chart counts the open segments',
     { timeout: 60000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	/* Two sleeps of 30 s: no segment ends before the cancel. */
	await page.selectOption('#workload', 'fetch');
	await page.selectOption('#model', 'threads');
	await page.fill('[data-field="params.tasks"] input', '2');
	await page.fill('[data-field="params.duration"] input', '30000');
	await page.selectOption('[data-field="params.io"] select', 'sleep');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	const id = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	/* Both tasks waiting, stacked: the chart's top reaches 2 with no
	 * finished segment in the run. */
	await page.waitForSelector('#activity[data-peak="2"]');
	assert.equal(await page.getAttribute('#timeline', 'data-segments'),
		     '0');
	const waiting = await page.evaluate(() => {
		const chart = window.Chart.getChart('activity');
		const series = chart.data.datasets.find(d =>
			/waiting/.test(d.label));
		return Math.max(...series.data.map(p => p.v));
	});
	assert.equal(waiting, 2);
	await page.getByRole('button', { name: 'Cancel run', exact: true })
		.click();
	const trace = await waitForRun(server.base, id, 30000);
	assert.equal(trace.run.status, 'cancelled');
	assert.deepEqual(errors, []);
	await context.close();
});

test('a lesson fills in the form, runs, and says what to look for',
     { timeout: 60000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	/* The empty view: the introduction and its lessons, no tabs; on a
	 * phone, the lessons before the form. */
	assert.equal(await page.isVisible('#tabs'), false);
	await page.setViewportSize({ width: 390, height: 844 });
	await settle(page);
	const [viewTop, formTop] = await page.evaluate(() => [
		document.getElementById('view').getBoundingClientRect().top,
		document.getElementById('run-form').getBoundingClientRect().top]);
	assert.ok(viewTop < formTop, 'the lessons come first on a phone');
	const empty = await overflowReport(page);
	assert.ok(empty.scrollWidth <= empty.clientWidth, empty.wide.join());
	await page.setViewportSize({ width: 1280, height: 800 });
	const lessons = page.locator('#lessons button');
	assert.ok(await lessons.count() >= 10);
	await page.locator('[data-lesson="lock"]').click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	const id = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	/* The form holds the lesson's spec, for the next run to change. */
	assert.equal(await page.inputValue('#workload'), 'counter');
	assert.equal(await page.inputValue('#model'), 'threads');
	assert.equal(await page.inputValue(
		'[data-field="params.sync"] select'), 'lock');
	assert.equal(await page.inputValue(
		'[data-field="params.increments"] input'), '100000');
	await page.waitForSelector('#timeline[data-complete="true"]',
				   { timeout: 30000 });
	const trace = await waitForRun(server.base, id);
	assert.equal(trace.run.params.sync, 'lock');
	assert.match(await page.textContent('#lesson-note'),
		     /^Lesson: A lock makes it exact\. /);
	/* The heading and the history say what differs from defaults. */
	assert.equal(await page.textContent('#view-spec'),
		     'sync lock · call yes');
	const item = page.locator(`.history-item[data-id="${id}"]`);
	await item.waitFor();
	assert.equal(await item.locator('.history-spec').textContent(),
		     'sync lock · call yes');
	/* The lock makes the counter exact: the lost card says 0, and no
	 * sentence warns of lost updates. */
	assert.equal(trace.summary.checks.lost, 0);
	assert.equal(await page.isVisible('#check-notice'), false);
	/* Run mode: the Timeline and ASCII tabs, not Compare. */
	assert.deepEqual(await page.locator('#tabs [role="tab"]:visible')
		.allTextContents(), ['Timeline', 'ASCII']);
	await screenshot(page, 'lesson-lock-1280', { fullPage: false });
	/* Nothing wider than a phone: the note, the spec line, the cards. */
	await page.setViewportSize({ width: 390, height: 844 });
	const report = await overflowReport(page);
	assert.ok(report.scrollWidth <= report.clientWidth,
		  `no horizontal overflow at 390 px: ${report.wide.join(', ')}`);
	await page.setViewportSize({ width: 1280, height: 800 });

	/* A reload keeps the sentence (the tab remembers the lesson). */
	await page.reload();
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.match(await page.textContent('#lesson-note'), /^Lesson: /);
	assert.deepEqual(errors, []);
	await context.close();
});

test('lost updates are said in words above the diagnosis',
     { timeout: 60000 }, async () => {
	const id = await submit(server.base, {
		workload: 'counter', model: 'threads',
		params: { increments: 2000, await: 'yes' } });
	const trace = await waitForRun(server.base, id);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#timeline[data-complete="true"]');
	await settle(page);
	const lost = trace.summary.checks.lost;
	assert.equal(await page.isVisible('#check-notice'), lost > 0);
	if (lost > 0)
		assert.match(await page.textContent('#check-notice'),
			     new RegExp(`^${lost.toLocaleString('en-US')} of ` +
					`${trace.summary.checks.expected
						.toLocaleString('en-US')} ` +
					'updates were lost'));
	assert.deepEqual(errors, []);
	await context.close();
});

test('a stopping server ends a live run, and the page says why',
     { timeout: 60000 }, async () => {
	const own = await startServer();
	try {
		const id = await submit(own.base, {
			workload: 'fetch', model: 'threads',
			params: { tasks: 2, duration: '30s', io: 'sleep' } });
		const { page, context, errors } = await openPage(browser,
			own.base, { hash: `#run=${id}` });
		await page.waitForSelector('#view-status:text("running")');
		await own.stop();
		/* The end event arrived before the connection closed: the
		 * page shows the status, not a lost connection. */
		await page.waitForSelector('#timeline[data-complete="true"]');
		assert.equal(await page.textContent('#view-status'),
			     'interrupted');
		assert.match(await page.textContent('#run-notice'),
			     /server stopped while this run was running/);
		/* Only the requests made after the stop may fail. */
		assert.deepEqual(errors.filter(e =>
			!/ERR_CONNECTION_REFUSED|Failed to load resource/
				.test(e)), []);
		await context.close();
	} finally {
		await own.stop();
	}
});

test('an address of a run or compare that does not exist says so',
     { timeout: 30000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: '#run=20990101-000000-aaaaaa' });
	await page.waitForSelector('#view-message:not([hidden])');
	assert.equal(await page.textContent('#view-title'), 'Run not found');
	assert.match(await page.textContent('#view-message'),
		     /no run with this id/);
	/* A message, not empty charts, tabs or exports. */
	for (const selector of ['#timeline-box', '#tabs', '#export-png',
				'#legend', '#activity-box'])
		assert.equal(await page.isVisible(selector), false, selector);

	await page.evaluate(() => {
		location.hash = '#compare=20990101-000000-aaaaaa';
	});
	await page.waitForFunction(() => document.getElementById(
		'view-title').textContent === 'Compare not found');
	assert.equal(await page.isVisible('#view-message'), false);
	assert.match(await page.textContent('#compare-status'),
		     /no compare with this id/);
	assert.equal(await page.isVisible('#compare-bars'), false);
	/* The two 404s asked for are the only errors. */
	assert.ok(errors.every(e => /404/.test(e)), errors.join('\n'));
	await context.close();
});

test('a deadlocked run says so once, and names what each task waits for',
     { timeout: 30000 }, async () => {
	const id = await submit(server.base, {
		workload: 'custom', model: 'sequential',
		params: { program: 'get q' } });
	const trace = await waitForRun(server.base, id);
	assert.equal(trace.run.status, 'deadlock');
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#run-notice:not([hidden])');
	const notice = await page.textContent('#run-notice');
	assert.match(notice, /^The run ended with status deadlock: task 1 /);
	assert.equal(notice.match(/deadlock/g).length, 1, notice);
	assert.match(notice, /queue 'q'/);
	assert.deepEqual(errors, []);
	await context.close();
});

test('rows per lane show what each worker did, not the tasks queued for it',
     { timeout: 60000 }, async () => {
	/* Four sleeps on two workers: two of them queue for the first two. */
	const id = await submit(server.base, {
		workload: 'fetch', model: 'thread-pool',
		params: { tasks: 4, duration: '80ms', io: 'sleep' },
		options: { workers: 2 } });
	const trace = await waitForRun(server.base, id);
	const queued = trace.segments.filter(s => s.state === 'queued' &&
		s.t1_ns - s.t0_ns > 40e6);
	assert.equal(queued.length, 2, 'two tasks wait for a worker');
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}&rows=lanes` });
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.equal(await page.isVisible('#rows-note'), true);
	const bars = () => page.evaluate(() => {
		const chart = window.Chart.getChart('timeline');
		const out = [];
		for (const ds of chart.data.datasets)
			for (const item of ds.data)
				out.push([item.y, ds.label, item.x[0], item.x[1]]);
		return out.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
	});
	/* Every segment but the queued ones, on its lane's row; the time a
	 * task waited for a worker no longer covers that worker's sleep. */
	const rowOf = new Map(trace.lanes.map((lane, i) => [lane.id, i]));
	const want = trace.segments.filter(s => s.state !== 'queued')
		.map(s => [rowOf.get(s.lane), s.state, s.t0_ns / 1e6,
			   s.t1_ns / 1e6])
		.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
	assert.deepEqual(await bars(), want);
	for (const q of queued) {
		const row = rowOf.get(q.lane);
		const mid = (q.t0_ns + q.t1_ns) / 2e6;
		assert.ok(want.some(([r, state, t0, t1]) => r === row &&
			state === 'sleep' && t0 <= mid && mid <= t1),
		'the worker slept for another task meanwhile');
	}
	/* Rows per task keep the queued time. */
	await page.getByRole('radio', { name: 'Tasks' }).check();
	assert.equal(await page.isVisible('#rows-note'), false);
	assert.equal((await bars()).filter(b => b[1] === 'queued').length,
		     trace.segments.filter(s => s.state === 'queued').length);
	assert.deepEqual(errors, []);
	await context.close();
});

test('orders name the tasks as their rows do, and bytes read as bytes',
     { timeout: 60000 }, async () => {
	/* Three waits on one loop end shortest first. */
	const id = await submit(server.base, {
		workload: 'fetch', model: 'asyncio',
		params: { durations: '60ms,90ms,30ms', io: 'sleep' } });
	const trace = await waitForRun(server.base, id);
	const { checks } = trace.summary;
	const nameOf = taskId => trace.tasks.find(t => t.id === taskId).name;
	assert.deepEqual(checks.finish_order.map(nameOf),
			 ['request 3', 'request 1', 'request 2']);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#cards .card-detail');
	const details = Object.fromEntries(await page.locator(
		'#cards .card-detail').evaluateAll(rows => rows.map(row => [
		row.querySelector('dt').textContent,
		row.querySelector('dd').textContent])));
	assert.deepEqual(details, {
		'results, in the order collected':
			checks.collected.map(nameOf).join(', '),
		'tasks, in the order they ended':
			'request 3, request 1, request 2',
		'collected with': 'gather',
	});

	/* Two files of 64 KiB: the bytes in all, in KiB. */
	const files = await submit(server.base, {
		workload: 'files', model: 'threads',
		params: { files: 2, size: 65536, mode: 'write' } });
	const filesTrace = await waitForRun(server.base, files);
	assert.equal(filesTrace.summary.checks.bytes, 131072);
	await page.evaluate(to => { location.hash = to; }, `#run=${files}`);
	await page.waitForFunction(() => [...document.querySelectorAll(
		'#cards dt')].some(dt => dt.textContent === 'bytes'));
	const card = title => page.locator('#cards .card', {
		has: page.locator('dt', { hasText: new RegExp(`^${title}$`) }) });
	assert.equal(await card('bytes').locator('dd').first().textContent(),
		     '128\u00a0KiB');
	assert.equal(await card('bytes').locator('.card-help').textContent(),
		     'written or read, in all');
	assert.equal(await card('files').locator('.card-help').textContent(),
		     'files written or read');
	assert.deepEqual(errors, []);
	await context.close();
});

test('the queue\'s depth holds to the end of the run',
     { timeout: 60000 }, async () => {
	/* Sequential fills a queue of two and waits forever on it. */
	const id = await submit(server.base, {
		workload: 'pipeline', model: 'sequential',
		params: { producers: 1, consumers: 1, capacity: 2, items: 6,
			  produce: '1ms', consume: '1ms' } });
	const trace = await waitForRun(server.base, id);
	assert.equal(trace.run.status, 'deadlock');
	const depths = trace.counters.filter(c => c.name === 'queue_depth')
		.sort((a, b) => a.t_ns - b.t_ns);
	assert.equal(depths.at(-1).value, 2);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#timeline[data-complete="true"]');
	await page.waitForSelector('#cards .card');
	const line = await page.evaluate(() => {
		const chart = window.Chart.getChart('activity');
		const ds = chart.data.datasets.find(d =>
			d.label === 'items in the queue');
		return { last: ds.data.at(-1), max: chart.options.scales.x.max };
	});
	assert.deepEqual(line.last, { x: trace.summary.wall_ns / 1e6, y: 2 });
	assert.equal(line.max, trace.summary.wall_ns / 1e6);
	assert.deepEqual(errors, []);
	await context.close();
});

test('a size in bytes reads in binary units in the heading',
     { timeout: 60000 }, async () => {
	const id = await submit(server.base, {
		workload: 'crunch', model: 'process-pool',
		params: { tasks: 1, duration: '10ms' },
		options: { payload_bytes: 1048576 } });
	await waitForRun(server.base, id);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.equal(await page.textContent('#view-spec'),
		     'tasks 1 · duration 10.0\u00a0ms · payload bytes ' +
		     '1.00\u00a0MiB');
	assert.deepEqual(errors, []);
	await context.close();
});

test('the race lessons lose updates, and say on which Python',
     { timeout: 90000 }, async () => {
	const runLesson = async lesson => {
		const { page, context, errors } = await openPage(browser,
			server.base);
		await page.locator(`[data-lesson="${lesson}"]`).click();
		await page.waitForFunction(() => /^#run=/.test(location.hash));
		const id = decodeURIComponent(
			(await page.evaluate(() => location.hash)).slice(5));
		const trace = await waitForRun(server.base, id);
		await page.waitForSelector('#timeline[data-complete="true"]');
		const note = await page.textContent('#lesson-note');
		assert.deepEqual(errors, []);
		await context.close();
		return { trace, note };
	};
	/* A call between the read and the write: lost on the default
	 * Python (3.10+), and the note says the call is why. */
	const race = await runLesson('race');
	assert.equal(race.trace.run.params.call, 'yes');
	assert.equal(race.trace.run.options.python, '3.10+');
	assert.ok(race.trace.summary.checks.lost > 0, 'updates lost');
	assert.match(race.note, /the call between the read and the write/);
	/* A bare counter += 1 loses updates on 3.9, and the note says the
	 * same code loses nothing from 3.10. */
	const old = await runLesson('race-39');
	assert.equal(old.trace.run.params.call, 'no');
	assert.equal(old.trace.run.options.python, '3.9');
	assert.ok(old.trace.summary.checks.lost > 0, 'updates lost');
	assert.match(old.note, /From 3\.10 the same code loses nothing/);
});

test('the executor lesson shows what its note names', { timeout: 60000 },
     async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	await page.locator('[data-lesson="hybrid"]').click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	const id = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	const trace = await waitForRun(server.base, id);
	await page.waitForSelector('#timeline[data-complete="true"]');
	const note = await page.textContent('#lesson-note');
	/* The note names queued, gil-wait and waits that overlap the
	 * computing; the run has each. */
	for (const word of ['queue (grey)', 'gil-wait', 'waits overlap'])
		assert.ok(note.includes(word), word);
	const of = state => trace.segments.filter(s => s.state === state);
	assert.ok(of('queued').length > 0, 'compute steps queue');
	const executors = new Set(trace.lanes.filter(l =>
		/^executor/.test(l.name)).map(l => l.id));
	assert.equal(executors.size, 2);
	assert.ok(of('gil-wait').some(s => executors.has(s.lane)),
		  'the executor threads wait for the GIL');
	assert.ok(of('io').some(w => of('compute').some(c =>
		c.t0_ns < w.t1_ns && w.t0_ns < c.t1_ns)),
	'a wait overlaps a computation');
	assert.deepEqual(errors, []);
	await context.close();
});

test('lost updates under processes say the counter is shared memory',
     { timeout: 60000 }, async () => {
	const id = await submit(server.base, {
		workload: 'counter', model: 'process-pool',
		params: { increments: 1000000, tasks: 2 },
		options: { workers: 2 } });
	const trace = await waitForRun(server.base, id);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#timeline[data-complete="true"]');
	const lost = trace.summary.checks.lost;
	assert.equal(await page.isVisible('#check-notice'), lost > 0);
	if (lost > 0)
		assert.match(await page.textContent('#check-notice'),
			     /in shared memory \(a multiprocessing\.Value used without its lock\), and another process wrote in between/);
	assert.deepEqual(errors, []);
	await context.close();
});
