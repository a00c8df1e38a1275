/*
 * Compare all models: one timeline per model stacked on one shared time
 * axis, and the wall time and speedup of each in a bar chart, all taken
 * from the API's compare.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, screenshot,
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

	await screenshot(page, 'compare-1280');
	await page.setViewportSize({ width: 390, height: 844 });
	const report = await overflowReport(page);
	assert.ok(report.scrollWidth <= report.clientWidth,
		  `no horizontal overflow at 390 px: ${report.wide.join(', ')}`);
	await screenshot(page, 'compare-390');
	assert.deepEqual(errors, []);
	await context.close();
});
