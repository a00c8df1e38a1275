/*
 * Compare all models: one timeline per model stacked on one shared time
 * axis, and the wall time and speedup of each in a bar chart, all taken
 * from the API's compare; a compare whose runs were deleted says so.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, screenshot,
	 overflowReport, waitForRun } from './harness.mjs';

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

test('compare shows every model on one time axis, with wall and speedup',
     { timeout: 240000 }, async () => {
	const catalog = (await api(server.base, '/api/workloads')).body;
	const { page, context, errors } = await openPage(browser, server.base);
	await page.getByLabel('Workload', { exact: true }).selectOption('fetch');
	await page.locator('[data-field="params.tasks"] input').fill('3');
	await page.locator('[data-field="params.duration"] input').fill('60');
	await page.locator('[data-field="params.io"] select')
		.selectOption('sleep');
	await page.getByRole('button', { name: 'Compare all models' }).click();
	await page.waitForFunction(() => /^#compare=/.test(location.hash));
	const compareId = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(9));
	assert.equal(await page.getAttribute('#tab-compare', 'aria-selected'),
		     'true');
	await page.waitForSelector('#compare-bars[data-complete="true"]',
				   { timeout: 200000 });

	const compare = (await api(server.base,
				   `/api/compares/${compareId}`)).body;
	const models = catalog.models.map(m => m.name);
	/* fetch runs under every model, so none is left out. */
	assert.deepEqual(compare.runs.map(r => r.model), models);
	const headings = await page.locator('#compare-stack h4')
		.allTextContents();
	assert.deepEqual(headings, models);

	/* One shared time axis: every timeline spans the slowest run. */
	const ranges = await page.evaluate(() =>
		[...document.querySelectorAll('#compare-stack canvas')]
			.map(c => {
				const x = window.Chart.getChart(c).scales.x;
				return [x.min, x.max];
			}));
	assert.equal(ranges.length, models.length);
	const slowestMs = Math.max(...compare.runs.map(r =>
		r.summary.wall_ns)) / 1e6;
	for (const [min, max] of ranges) {
		assert.equal(min, 0);
		assert.equal(max, ranges[0][1]);
		assert.ok(max >= slowestMs, 'the axis holds the slowest run');
	}
	/* Every timeline has the API's segments of its run. */
	const traces = {};
	for (const [index, run] of compare.runs.entries()) {
		const trace = (await api(server.base, `/api/runs/${run.id}`)).body;
		traces[run.model] = trace;
		const drawn = await page.evaluate(i => {
			const c = document.querySelectorAll(
				'#compare-stack canvas')[i];
			return Number(c.dataset.segments);
		}, index);
		assert.equal(drawn, trace.segments.length, run.model);
	}

	/* The bar chart: one label per model, wall in seconds, speedup. */
	const bars = await page.evaluate(() => {
		const chart = window.Chart.getChart('compare-bars');
		return { labels: chart.data.labels,
			 wall: chart.data.datasets[0].data,
			 speedup: chart.data.datasets[1].data };
	});
	assert.deepEqual(bars.labels, models);
	assert.deepEqual(bars.wall, compare.runs.map(r =>
		r.summary.wall_ns / 1e9));
	assert.deepEqual(bars.speedup, compare.runs.map(r => r.summary.speedup));
	/* The lesson the stack shows, by the traces' structure: the waits
	 * never overlap under sequential and all overlap under threads. */
	const sleeps = model => traces[model].segments
		.filter(seg => seg.state === 'sleep');
	const overlapping = list => list.some((a, i) => list.some((b, j) =>
		i < j && a.t0_ns < b.t1_ns && b.t0_ns < a.t1_ns));
	assert.equal(overlapping(sleeps('sequential')), false);
	const threadSleeps = sleeps('threads');
	assert.equal(threadSleeps.length, 3);
	assert.ok(threadSleeps.every(a => threadSleeps.every(b =>
		a.t0_ns < b.t1_ns && b.t0_ns < a.t1_ns)));

	/* The verdict names the quickest run, measured against
	 * sequential, and marks it in the stack. */
	const verdict = await page.textContent('#compare-verdict');
	const marked = await page.locator(
		'#compare-stack .compare-run.fastest h4').allTextContents();
	const seq = compare.runs.find(r => r.model === 'sequential');
	const quickest = compare.runs.filter(r => r !== seq).reduce((a, b) =>
		(a.summary.wall_ns <= b.summary.wall_ns ? a : b));
	if (seq.summary.wall_ns / quickest.summary.wall_ns >= 1.25) {
		assert.ok(marked.includes(quickest.model), verdict);
		assert.match(verdict, /^Fastest: .* faster than sequential \(/);
		for (const model of marked)
			assert.ok(verdict.includes(model), model);
	} else {
		assert.match(verdict, /^No model was much faster/);
		assert.deepEqual(marked, []);
	}

	await screenshot(page, 'compare-1280');

	/* A run of the compare opens in the run view and links back. */
	await page.getByRole('link', { name: 'Open the threads run' }).click();
	await page.waitForSelector('#timeline[data-complete="true"]');
	await page.waitForSelector('#view-compare:not([hidden])');
	assert.equal(await page.getAttribute('#view-compare-link', 'href'),
		     `#compare=${compareId}`);
	await page.click('#view-compare-link');
	await page.waitForSelector('#compare-bars[data-complete="true"]');
	assert.equal(await page.isVisible('#view-compare'), false);
	await page.setViewportSize({ width: 390, height: 844 });
	const report = await overflowReport(page);
	assert.ok(report.scrollWidth <= report.clientWidth,
		  `no horizontal overflow at 390 px: ${report.wide.join(', ')}`);
	await screenshot(page, 'compare-390');
	assert.deepEqual(errors, []);
	await context.close();
});

test('a compare whose runs were deleted says so, and draws the rest',
     { timeout: 120000 }, async () => {
	const created = await api(server.base, '/api/compares', {
		method: 'POST',
		body: { workload: 'fetch', models: ['sequential', 'threads',
			'asyncio'], params: { tasks: 2, duration: '20ms',
			io: 'sleep' } } });
	assert.equal(created.status, 202, created.text);
	const id = created.body.id;
	const runs = (await api(server.base, `/api/compares/${id}`)).body.runs;
	assert.deepEqual(runs.map(r => r.model),
			 ['sequential', 'threads', 'asyncio']);
	for (const run of runs)
		await waitForRun(server.base, run.id);
	/* One run deleted: its place says so, the others are drawn. */
	assert.equal((await api(server.base, `/api/runs/${runs[1].id}`,
				{ method: 'DELETE', headers:
				  { 'Content-Type': 'application/json' } }))
		.status, 200);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#compare=${id}` });
	await page.waitForSelector('#compare-bars[data-complete="true"]');
	assert.match(await page.textContent('#compare-status'),
		     /1 of the 3 runs was deleted/);
	const gone = page.locator('#compare-stack .compare-run.gone');
	assert.equal(await gone.count(), 1);
	assert.equal(await gone.locator('h4').textContent(), 'threads');
	assert.match(await gone.textContent(), /was deleted/);
	assert.equal(await page.locator('#compare-stack canvas').count(), 2);
	assert.deepEqual(await page.evaluate(() =>
		window.Chart.getChart('compare-bars').data.labels),
	['sequential', 'asyncio']);
	/* Only the compare's tab; no exports of a run. */
	assert.equal(await page.isVisible('#tabs'), false);
	assert.equal(await page.isVisible('#export-json'), false);
	await screenshot(page, 'compare-deleted-1280');

	/* Every run deleted: the view says there is nothing left. */
	for (const run of [runs[0], runs[2]])
		await api(server.base, `/api/runs/${run.id}`, {
			method: 'DELETE',
			headers: { 'Content-Type': 'application/json' } });
	await page.reload();
	await page.waitForSelector('body[data-ready="true"]');
	await page.waitForFunction(() => /Every run of this compare/.test(
		document.getElementById('compare-status').textContent));
	assert.match(await page.textContent('#compare-status'),
		     /\(3\) was deleted, so there is nothing left to show/);
	assert.equal(await page.isVisible('#compare-bars'), false);
	assert.equal(await page.locator('#compare-stack .compare-run.gone')
		.count(), 3);
	assert.equal(await page.textContent('#compare-verdict'), '');
	assert.deepEqual(errors, []);
	await context.close();
});

/* Starts a compare through the API and waits for all of its runs. */
async function compareOf(body)
{
	const created = await api(server.base, '/api/compares', {
		method: 'POST', body });
	assert.equal(created.status, 202, created.text);
	const id = created.body.id;
	for (const runId of created.body.runs)
		await waitForRun(server.base, runId);
	return { id, compare: (await api(server.base,
					 `/api/compares/${id}`)).body };
}

test('a run that deadlocks is no baseline and has no bars',
     { timeout: 120000 }, async () => {
	/* One producer and a queue of two: sequential runs the producer
	 * to the full queue and never starts the consumer. */
	const { id, compare } = await compareOf({
		workload: 'pipeline',
		models: ['sequential', 'threads', 'asyncio'],
		params: { producers: 1, consumers: 1, capacity: 2, items: 6,
			  produce: '1ms', consume: '1ms' } });
	const status = Object.fromEntries(compare.runs.map(r =>
		[r.model, r.status]));
	assert.deepEqual(status, { sequential: 'deadlock', threads: 'done',
				   asyncio: 'done' });
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#compare=${id}` });
	await page.waitForSelector('#compare-bars[data-complete="true"]');
	const verdict = await page.textContent('#compare-verdict');
	assert.match(verdict, /Did not finish: sequential \(deadlock\), so its time is left out\./);
	/* Measured against the slowest run that finished, never against
	 * the time it took to find the deadlock. */
	assert.doesNotMatch(verdict, /than sequential/);
	const done = compare.runs.filter(r => r.status === 'done');
	const slowest = done.reduce((a, b) =>
		(b.summary.wall_ns > a.summary.wall_ns ? b : a));
	assert.match(verdict, new RegExp(`than ${slowest.model} \\(.*\\), ` +
					 'the slowest run that finished'));
	const bars = await page.evaluate(() => {
		const chart = window.Chart.getChart('compare-bars');
		return { labels: chart.data.labels,
			 wall: chart.data.datasets[0].data,
			 speedup: chart.data.datasets[1].data };
	});
	assert.deepEqual(bars.labels, ['sequential (deadlock)', 'threads',
				       'asyncio']);
	assert.equal(bars.wall[0], null);
	assert.equal(bars.speedup[0], null);
	assert.deepEqual(bars.wall.slice(1), done.map(r =>
		r.summary.wall_ns / 1e9));
	assert.deepEqual(errors, []);
	await context.close();
});

test('a compare names the models that lost updates', { timeout: 120000 },
     async () => {
	/* An await between the read and the write: every asyncio task
	 * reads the same value, sequential loses nothing. */
	const { id, compare } = await compareOf({
		workload: 'counter', models: ['sequential', 'asyncio'],
		params: { tasks: 3, increments: 200, await: 'yes' } });
	const lost = Object.fromEntries(compare.runs.map(r =>
		[r.model, r.summary.checks.lost]));
	assert.equal(lost.sequential, 0);
	assert.ok(lost.asyncio > 0, 'asyncio lost updates');
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#compare=${id}` });
	await page.waitForSelector('#compare-bars[data-complete="true"]');
	const check = model => page.locator('#compare-stack .compare-run',
		{ has: page.locator('h4', { hasText: model }) })
		.locator('.compare-check');
	assert.equal(await check('sequential').isVisible(), false);
	assert.equal(await check('asyncio').textContent(),
		     `${lost.asyncio.toLocaleString('en-US')} updates lost`);
	assert.match(await page.textContent('#compare-verdict'),
		     new RegExp('Updates were lost under asyncio \\(' +
				`${lost.asyncio.toLocaleString('en-US')}\\)\\.`));
	assert.deepEqual(errors, []);
	await context.close();
});

test('a model that finished sooner without overlapping is not credited',
     { timeout: 30000 }, async () => {
	/* Two stored runs as the API would give them: asyncio finished
	 * in two thirds of sequential's time with a speedup of 0.99, so
	 * its work itself went faster, which no model does. */
	const runOf = (id, model, wallMs, speedup) => ({
		format: 'overlap-trace', version: 1,
		run: { id, workload: 'counter', model, status: 'done',
		       params: {}, options: {} },
		lanes: [{ id: 0, kind: 'main', name: 'main' }],
		tasks: [{ id: 0, name: 'task 1', lane: 0, submit_ns: 0,
			  start_ns: 0, end_ns: wallMs * 1e6, status: 'ok' }],
		segments: [{ task: 0, lane: 0, state: 'compute', t0_ns: 0,
			     t1_ns: wallMs * 1e6, note: '' }],
		counters: [],
		summary: { wall_ns: wallMs * 1e6, task_time_ns: wallMs * 1e6,
			   speedup, parallelism: speedup, checks: {} },
	});
	const runs = [runOf('20990101-000000-seqseq', 'sequential', 60, 1.0),
		      runOf('20990101-000000-aioaio', 'asyncio', 40, 0.99)];
	const compareId = '20990101-000000-cmpcmp';
	const { page, context, errors } = await openPage(browser, server.base);
	await page.route(`**/api/compares/${compareId}`, route =>
		route.fulfill({ json: { id: compareId, workload: 'counter',
			params: {}, runs: runs.map(r => ({ id: r.run.id,
				model: r.run.model, status: 'done',
				summary: r.summary })) } }));
	for (const run of runs)
		await page.route(`**/api/runs/${run.run.id}`, route =>
			route.fulfill({ json: run }));
	await page.evaluate(id => { location.hash = `#compare=${id}`; },
			    compareId);
	await page.waitForSelector('#compare-bars[data-complete="true"]');
	const verdict = await page.textContent('#compare-verdict');
	assert.match(verdict, /^Fastest: asyncio, 40\.0\s?ms, 1\.50× faster than sequential/);
	assert.match(verdict, /asyncio \(speedup 0\.99×\) overlapped next to nothing: it finished sooner because its tasks' own work took less time/);
	assert.deepEqual(errors, []);
	await context.close();
});
