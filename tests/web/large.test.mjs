/*
 * A large run streams and draws: 10,000 fetches (io=sleep) under asyncio
 * (thread-pool when the catalog has no asyncio), started from the form and
 * followed live.  The timeline ends with all 10,000 rows and every segment
 * of the API's trace, painted (not drawn bar by bar), and the page logs no
 * error.  Opened again from its address, the run is drawn the same from
 * its stored trace.  How long the main thread was busy is printed for
 * people to read; speed is judged by the benchmark, not here.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, waitForRun, screenshot,
	 settle } from './harness.mjs';

const TASKS = 10000;
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

test(`a ${TASKS.toLocaleString('en-US')}-task run streams and draws`,
     { timeout: 240000 }, async () => {
	const catalog = (await api(server.base, '/api/workloads')).body;
	const model = catalog.models.some(m => m.name === 'asyncio') ?
		'asyncio' : 'thread-pool';
	const { page, context, errors } = await openPage(browser, server.base);
	await page.evaluate(() => {
		window.longTasks = [];
		new PerformanceObserver(list => {
			for (const entry of list.getEntries())
				window.longTasks.push(entry.duration);
		}).observe({ entryTypes: ['longtask'] });
	});
	await page.getByLabel('Workload', { exact: true }).selectOption('fetch');
	await page.locator('[data-field="params.tasks"] input')
		.fill(String(TASKS));
	await page.locator('[data-field="params.duration"] input').fill('200');
	await page.locator('[data-field="params.io"] select')
		.selectOption('sleep');
	await page.getByLabel('Model', { exact: true }).selectOption(model);
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	const id = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	await page.waitForSelector('#timeline[data-complete="true"]',
				   { timeout: 200000 });
	const trace = await waitForRun(server.base, id, 200000);
	assert.equal(trace.run.status, 'done');
	assert.equal(trace.tasks.length, TASKS);
	await settle(page);

	const drawn = await page.evaluate(() =>
		({ ...document.getElementById('timeline').dataset }));
	assert.equal(drawn.rows, String(TASKS));
	assert.equal(drawn.segments, String(trace.segments.length));
	assert.equal(drawn.mode, 'painter');

	/* The plot area really holds the sleeps' colour. */
	const painted = await page.evaluate(() => {
		const chart = window.Chart.getChart('timeline');
		const area = chart.chartArea;
		const ratio = chart.currentDevicePixelRatio;
		const pixels = chart.ctx.getImageData(area.left * ratio,
			area.top * ratio, area.width * ratio,
			area.height * ratio).data;
		const want = chart.data.datasets.find(d => d.label === 'sleep')
			.backgroundColor;
		const [r, g, b] = [1, 3, 5].map(i =>
			parseInt(want.slice(i, i + 2), 16));
		let count = 0;
		for (let i = 0; i < pixels.length; i += 4)
			if (Math.abs(pixels[i] - r) < 8 &&
			    Math.abs(pixels[i + 1] - g) < 8 &&
			    Math.abs(pixels[i + 2] - b) < 8)
				count++;
		return count / (pixels.length / 4);
	});
	assert.ok(painted > 0.05, `sleep colour covers ${painted} of the plot`);

	const longTasks = await page.evaluate(() => window.longTasks);
	console.log(`${TASKS} tasks under ${model}: ` +
		    `${trace.segments.length} segments; main-thread tasks ` +
		    `over 50 ms: ${longTasks.length}, longest ` +
		    `${Math.round(Math.max(0, ...longTasks))} ms`);
	await screenshot(page, 'large-1280');
	assert.deepEqual(errors, []);
	await context.close();

	/* The same run opened from its address: the stored trace is read in
	 * a worker and the timeline is drawn whole, every row and segment,
	 * painted, with the run's summary. */
	const reopened = await openPage(browser, server.base,
		{ hash: `#run=${encodeURIComponent(id)}` });
	await reopened.page.waitForSelector('#timeline[data-complete="true"]',
					    { timeout: 120000 });
	const again = await reopened.page.evaluate(() =>
		({ ...document.getElementById('timeline').dataset }));
	assert.equal(again.rows, String(TASKS));
	assert.equal(again.segments, String(trace.segments.length));
	assert.equal(again.mode, 'painter');
	const marks = await reopened.page.evaluate(() =>
		['overlap:trace-read', 'overlap:rows-made', 'overlap:drawn']
			.map(name => performance.getEntriesByName(name).length));
	assert.deepEqual(marks.map(n => n > 0), [true, true, true]);
	assert.match(await reopened.page.locator('#cards').innerText(),
		     /Wall time/i);
	assert.deepEqual(reopened.errors, []);
	await reopened.context.close();
});
