/*
 * Sweeps on the page: the form sweeps one value of the workload or the
 * model (the process pool's workers 1, 2, 4 over four CPU-bound tasks),
 * and the Sweep view draws the speedup and the wall time against it, one
 * line per model, with Amdahl's law fitted to the smallest value beside
 * the speedup; every point is a run of its own, linked.  The lessons
 * "How many workers?" start sweeps.  Checked by structure (which points,
 * which runs, which lines, tasks on two lanes at once with two workers),
 * never by a time.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, waitForRun, screenshot,
	 overflowReport } from './harness.mjs';

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

const sweepIdOf = async page => decodeURIComponent(
	(await page.evaluate(() => location.hash)).replace(/^#sweep=/, ''));

test('a sweep of workers draws the speedup curve and Amdahl\'s law',
     { timeout: 180000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	await page.selectOption('#workload', 'crunch');
	await page.selectOption('#model', 'process-pool');
	await page.fill('[data-field="params.tasks"] input', '4');
	await page.fill('[data-field="params.duration"] input', '100');
	await page.selectOption('#sweep-param', 'workers');
	await page.fill('#sweep-values', '1, 2, 4');
	await page.getByRole('button', { name: 'Sweep', exact: true }).click();
	await page.waitForFunction(() => /^#sweep=/.test(location.hash));
	const id = await sweepIdOf(page);
	assert.equal(await page.getAttribute('#tab-sweep', 'aria-selected'),
		     'true');
	await page.waitForSelector('#sweep-speedup[data-complete="true"]',
				   { timeout: 150000 });
	const sweep = (await api(server.base, `/api/sweeps/${id}`)).body;
	assert.equal(sweep.param, 'workers');
	assert.deepEqual(sweep.points.map(p => [p.model, p.value]),
			 [['process-pool', 1], ['process-pool', 2],
			  ['process-pool', 4]]);
	/* Two workers compute at once where one could not: tasks on two
	 * lanes run at the same time (the trace's structure, not its
	 * speed, which a busy machine decides). */
	const overlapping = trace => trace.tasks.some(a => trace.tasks.some(
		b => a.lane !== b.lane && a.start_ns < b.end_ns &&
			b.start_ns < a.end_ns));
	const overlaps = [];
	for (const point of sweep.points) {
		assert.equal(point.status, 'done');
		const trace = await waitForRun(server.base, point.run);
		assert.equal(trace.run.options.workers, point.value);
		assert.equal(trace.run.params.tasks, 4);
		assert.equal(new Set(trace.tasks.map(t => t.lane)).size,
			     Math.min(point.value, 4));
		overlaps.push(overlapping(trace));
	}
	assert.deepEqual(overlaps, [false, true, true]);

	/* The chart: the measured line and Amdahl's law beside it. */
	const drawn = await page.evaluate(() => {
		const chart = window.Chart.getChart('sweep-speedup');
		return chart.data.datasets.map(d => ({
			label: d.label, amdahl: Boolean(d.amdahl),
			points: d.data.map(p => [p.x, p.y, p.run || null]) }));
	});
	assert.equal(drawn.length, 2);
	const [measured, law] = drawn;
	assert.equal(measured.label, 'process-pool');
	assert.deepEqual(measured.points, sweep.points.map(p =>
		[p.value, p.summary.speedup, p.run]));
	assert.equal(law.amdahl, true);
	assert.match(law.label, /Amdahl/);
	assert.deepEqual(law.points.map(p => p[0]), [1, 2, 4]);
	/* Fitted to the smallest value, and rising with the workers. */
	assert.ok(Math.abs(law.points[0][1] -
			     sweep.points[0].summary.speedup) < 1e-9);
	assert.ok(law.points[1][1] > law.points[0][1]);
	assert.ok(law.points[2][1] > law.points[1][1]);
	assert.match(await page.textContent('#sweep-verdict'),
		     /serial, so Amdahl's law allows at most/);
	/* Wall time against the same values. */
	assert.deepEqual(await page.evaluate(() =>
		window.Chart.getChart('sweep-wall').data.datasets[0].data
			.map(p => p.x)), [1, 2, 4]);
	await screenshot(page, 'sweep-1280', { fullPage: false });

	/* Every point opens its run, which links back to the sweep. */
	const links = await page.locator('#sweep-table a').evaluateAll(as =>
		as.map(a => a.getAttribute('href')));
	assert.deepEqual(links, sweep.points.map(p =>
		`#run=${encodeURIComponent(p.run)}`));
	await page.locator('#sweep-table a').nth(1).click();
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.equal(await page.textContent('#view-title'),
		     'crunch under process-pool');
	await page.waitForSelector('#view-compare:not([hidden])');
	assert.equal(await page.textContent('#view-compare-link'),
		     'Back to the sweep this run is part of');
	await page.click('#view-compare-link');
	await page.waitForSelector('#sweep-speedup[data-complete="true"]');
	/* The history marks the runs as the sweep's. */
	assert.equal(await page.locator('.history-item .history-compare',
		{ hasText: 'sweep' }).count(), 3);

	await page.setViewportSize({ width: 390, height: 844 });
	const report = await overflowReport(page);
	assert.ok(report.scrollWidth <= report.clientWidth,
		  `no horizontal overflow at 390 px: ${report.wide.join(', ')}`);
	await page.locator('#view').evaluate(node => node.scrollIntoView());
	await screenshot(page, 'sweep-390x844', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('a bad sweep is refused next to its values, before and by the server',
     { timeout: 60000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	const posts = [];
	page.on('request', request => {
		if (request.method() === 'POST')
			posts.push(request.url());
	});
	await page.selectOption('#workload', 'crunch');
	await page.selectOption('#model', 'process-pool');
	await page.selectOption('#sweep-param', 'workers');
	await page.fill('#sweep-values', '1, 2, 100000');
	await page.getByRole('button', { name: 'Sweep', exact: true }).click();
	const error = page.locator('#sweep-values-error');
	await error.waitFor({ state: 'visible' });
	assert.match(await error.textContent(),
		     /^values: workers: must be at most \d+ \(got 100000\)$/);
	assert.deepEqual(posts, [], 'nothing was sent');
	/* A name only the server can refuse: a sweep through the API. */
	const refused = await api(server.base, '/api/sweeps', {
		method: 'POST', body: { workload: 'crunch', models: ['asyncio'],
					param: 'workers', values: [1, 2] } });
	assert.equal(refused.status, 400);
	assert.equal(refused.body.field, 'param');
	assert.deepEqual(errors, []);
	await context.close();
});

test('the lesson "How many workers?" sweeps the thread pool\'s workers',
     { timeout: 120000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	await page.locator('[data-lesson="workers-io"]').click();
	await page.waitForFunction(() => /^#sweep=/.test(location.hash));
	const id = await sweepIdOf(page);
	assert.equal(await page.inputValue('#model'), 'thread-pool');
	assert.equal(await page.inputValue('#sweep-param'), 'workers');
	await page.waitForSelector('#sweep-speedup[data-complete="true"]',
				   { timeout: 100000 });
	assert.match(await page.textContent('#lesson-note'),
		     /^Lesson: How many workers\? \(I\/O\)\. /);
	const sweep = (await api(server.base, `/api/sweeps/${id}`)).body;
	assert.deepEqual(sweep.points.map(p => p.value), [1, 2, 4, 8]);
	/* Waits need no core: eight workers have more tasks in flight
	 * at once than one. */
	assert.equal(sweep.points[0].summary.peak_inflight, 1);
	assert.ok(sweep.points[3].summary.peak_inflight > 1);
	assert.equal(await page.getAttribute('#sweep-speedup', 'data-amdahl'),
		     '1');
	assert.deepEqual(errors, []);
	await context.close();
});
