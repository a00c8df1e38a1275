/*
 * One run from the form to every view of it: fetch (io=sleep, short waits)
 * under threads.  The chart has one row per task and exactly the segments
 * of GET /api/runs/{id}; the exports are the API's own files; the ASCII tab
 * is the API's text; a deep link restores the view and the form; history
 * lists the run and deletes it.  No console errors, nothing wider than a
 * 390 px screen.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, openPage, api, waitForRun, screenshot,
	 overflowReport, settle } from './harness.mjs';

const TASKS = 4;
let server;
let browser;
let runId;
let trace;

before(async () => {
	server = await startServer();
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await server?.stop();
});

/* The bars of the timeline as [row, state, t0_ms, t1_ms], sorted. */
function chartBars(page)
{
	return page.evaluate(() => {
		const chart = window.Chart.getChart('timeline');
		const bars = [];
		for (const ds of chart.data.datasets)
			for (const item of ds.data)
				bars.push([item.y, ds.label, item.x[0], item.x[1]]);
		return bars.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
	});
}

function traceBars(data, rowKey)
{
	const rowOf = new Map();
	const rows = rowKey === 'lane' ? data.lanes : data.tasks;
	rows.forEach((item, index) => rowOf.set(item.id, index));
	return data.segments.map(s => [rowOf.get(s[rowKey]), s.state,
				       s.t0_ns / 1e6, s.t1_ns / 1e6])
		.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
}

async function rowLabels(page)
{
	return page.evaluate(() => {
		const chart = window.Chart.getChart('timeline');
		return chart.scales.y.ticks.map(t => [t.value, t.label]);
	});
}

const saved = new Map();	/* button -> the file name it saved under */

async function download(page, name)
{
	const [file] = await Promise.all([
		page.waitForEvent('download'),
		page.getByRole('button', { name, exact: true }).click(),
	]);
	saved.set(name, file.suggestedFilename());
	return readFile(await file.path());
}

test('run fetch under threads: one row per task, the API\'s segments',
     { timeout: 120000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	await page.getByLabel('Workload', { exact: true }).selectOption('fetch');
	await page.locator('[data-field="params.tasks"] input')
		.fill(String(TASKS));
	await page.locator('[data-field="params.duration"] input').fill('150');
	await page.locator('[data-field="params.io"] select')
		.selectOption('sleep');
	await page.getByLabel('Model', { exact: true }).selectOption('threads');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	runId = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	await page.waitForSelector('#timeline[data-complete="true"]',
				   { timeout: 60000 });
	trace = await waitForRun(server.base, runId);
	assert.equal(trace.run.status, 'done');
	assert.equal(trace.tasks.length, TASKS);

	/* One row per task, named as the trace names them. */
	await settle(page);
	assert.equal(await page.getAttribute('#timeline', 'data-rows'),
		     String(TASKS));
	assert.deepEqual(await rowLabels(page),
			 trace.tasks.map((t, i) => [i, t.name]));
	/* Exactly the API's segments, each on its task's row. */
	assert.ok(trace.segments.length >= TASKS);
	assert.deepEqual(await chartBars(page), traceBars(trace, 'task'));
	/* The states drawn are sleeps: the waits overlap under threads. */
	assert.ok(trace.segments.some(s => s.state === 'sleep'));

	/* Summary cards and the diagnosis come from the summary. */
	const cards = await page.locator('#cards .card').allTextContents();
	for (const title of ['Wall time', 'Summed task time', 'Speedup',
			     'Parallelism', 'CPU utilisation',
			     'Peak in flight'])
		assert.ok(cards.some(c => c.startsWith(title)), title);
	assert.ok((await page.textContent('#diagnosis'))
		.includes(trace.summary.diagnosis.why));
	assert.equal(await page.textContent('#view-status'), 'done');
	/* Lane use: every lane of the summary, busiest first, named as the
	 * trace names it, its meter at its share. */
	const laneUse = trace.summary.lanes;
	assert.equal(laneUse.length, trace.lanes.length);
	const wantUse = [...laneUse].sort((a, b) =>
		b.busy_ns - a.busy_ns || a.lane - b.lane).slice(0, 8)
		.map(e => [String(e.lane),
			   trace.lanes.find(l => l.id === e.lane).name,
			   e.util]);
	assert.deepEqual(await page.locator('#lane-use .lane-use-item')
		.evaluateAll(items => items.map(item => [
			item.dataset.lane,
			item.querySelector('.lane-use-name').textContent,
			item.querySelector('meter').value])), wantUse);

	/* A tooltip names state, task, lane and times. */
	const box = await page.locator('#timeline').boundingBox();
	const point = await page.evaluate(() => {
		const chart = window.Chart.getChart('timeline');
		const bar = chart.getDatasetMeta(chart.data.datasets
			.findIndex(d => d.data.length)).data[0];
		return { x: (bar.x + bar.base) / 2, y: bar.y };
	});
	await page.mouse.move(box.x + point.x, box.y + point.y);
	const tip = page.locator('#timeline-box .tooltip');
	await tip.waitFor({ state: 'visible' });
	const tipText = await tip.textContent();
	for (const word of ['task', 'lane', 'start', 'end', 'duration'])
		assert.ok(tipText.includes(word), `tooltip shows ${word}`);

	await screenshot(page, 'run-1280');
	await screenshot(page, 'run-1280x800', { fullPage: false });

	/* Rows per lane. */
	await page.getByRole('radio', { name: 'Lanes' }).check();
	assert.equal(await page.getAttribute('#timeline', 'data-rows'),
		     String(trace.lanes.length));
	assert.deepEqual(await chartBars(page), traceBars(trace, 'lane'));
	await page.getByRole('radio', { name: 'Tasks' }).check();

	/* Zoom and pan by keyboard change the time axis; reset restores. */
	const range = () => page.evaluate(() => {
		const x = window.Chart.getChart('timeline').scales.x;
		return [x.min, x.max];
	});
	const full = await range();
	await page.focus('#timeline');
	await page.keyboard.press('+');
	const zoomed = await range();
	assert.ok(zoomed[1] - zoomed[0] < full[1] - full[0], 'zoomed in');
	await page.keyboard.press('ArrowRight');
	assert.ok((await range())[0] > zoomed[0], 'panned right');
	await page.getByRole('button', { name: 'Reset zoom' }).click();
	assert.deepEqual(await range(), full);

	/* The legend hides and shows a state, by keyboard too. */
	const sleepButton = page.locator('#legend button', { hasText: 'sleep' });
	await sleepButton.focus();
	await page.keyboard.press('Space');
	assert.equal(await sleepButton.getAttribute('aria-pressed'), 'false');
	assert.equal(await page.evaluate(() => window.Chart.getChart('timeline')
		.data.datasets.find(d => d.label === 'sleep').hidden), true);
	await page.keyboard.press('Enter');
	assert.equal(await sleepButton.getAttribute('aria-pressed'), 'true');

	/* The tabs follow the arrow keys. */
	await page.focus('#tab-timeline');
	await page.keyboard.press('ArrowRight');
	assert.equal(await page.getAttribute('#tab-ascii', 'aria-selected'),
		     'true');
	assert.equal(await page.isVisible('#panel-ascii'), true);
	assert.equal(await page.isVisible('#panel-timeline'), false);
	await page.keyboard.press('Home');
	assert.equal(await page.getAttribute('#tab-timeline', 'aria-selected'),
		     'true');

	/* The text view is the API's, asked for as wide as its box. */
	await page.getByRole('tab', { name: 'ASCII' }).click();
	await page.waitForSelector('#ascii[data-columns]');
	const columns = await page.getAttribute('#ascii', 'data-columns');
	const ascii = await api(server.base,
				`/api/runs/${runId}/ascii?width=${columns}`);
	assert.equal(ascii.status, 200);
	await page.waitForFunction(expected =>
		document.getElementById('ascii').textContent === expected,
	ascii.text);
	await page.getByRole('tab', { name: 'Timeline' }).click();

	assert.deepEqual(errors, []);
	await context.close();
});

test('the exports are the API\'s files and the chart as PNG',
     { timeout: 60000 }, async () => {
	assert.ok(runId, 'the run test ran first');
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${runId}` });
	await page.waitForSelector('#timeline[data-complete="true"]');
	const json = JSON.parse(await download(page, 'Export JSON'));
	const apiTrace = (await api(server.base, `/api/runs/${runId}`)).body;
	assert.deepEqual(json, apiTrace);
	assert.equal(json.format, 'overlap-trace');

	const chrome = JSON.parse(await download(page, 'Export Chrome trace'));
	const apiChrome = (await api(server.base,
				     `/api/runs/${runId}/chrome`)).body;
	assert.deepEqual(chrome, apiChrome);
	assert.ok(chrome.traceEvents.some(e => e.ph === 'X'));

	const ascii = (await download(page, 'Export ASCII')).toString();
	assert.equal(ascii, (await api(server.base,
				       `/api/runs/${runId}/ascii`)).text);

	const png = await download(page, 'Export PNG');
	assert.deepEqual([...png.subarray(0, 8)],
			 [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
	assert.ok(png.length > 2000, 'the PNG holds a drawing');
	/* Four files, four names: the Chrome trace is not a second
	 * overlap-ID.json beside the trace. */
	assert.deepEqual(Object.fromEntries(saved), {
		'Export JSON': `overlap-${runId}.json`,
		'Export Chrome trace': `overlap-${runId}-chrome.json`,
		'Export ASCII': `overlap-${runId}.txt`,
		'Export PNG': `overlap-${runId}.png`,
	});
	assert.deepEqual(errors, []);
	await context.close();
});

test('a deep link restores the run, the form and the chart',
     { timeout: 60000 }, async () => {
	assert.ok(runId, 'the run test ran first');
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${encodeURIComponent(runId)}`, width: 390,
		  height: 844 });
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.equal(await page.textContent('#view-title'),
		     'fetch under threads');
	assert.equal(await page.inputValue('#workload'), 'fetch');
	assert.equal(await page.inputValue('#model'), 'threads');
	assert.equal(await page.inputValue(
		'[data-field="params.tasks"] input'), String(TASKS));
	assert.equal(await page.inputValue(
		'[data-field="params.io"] select'), 'sleep');
	assert.deepEqual(await chartBars(page), traceBars(trace, 'task'));
	const report = await overflowReport(page);
	assert.ok(report.scrollWidth <= report.clientWidth,
		  `no horizontal overflow at 390 px: ${report.wide.join(', ')}`);
	await screenshot(page, 'run-390');
	await page.locator('#view').evaluate(node => node.scrollIntoView());
	await screenshot(page, 'run-390x844-view', { fullPage: false });

	/* The address also keeps the tab and the rows. */
	await page.getByRole('radio', { name: 'Lanes' }).check();
	await page.getByRole('tab', { name: 'ASCII' }).click();
	const address = await page.evaluate(() => location.hash);
	assert.match(address, /tab=ascii/);
	assert.match(address, /rows=lanes/);
	const again = await openPage(browser, server.base, { hash: address });
	await again.page.waitForSelector('#timeline[data-complete="true"]',
					 { state: 'attached' });
	assert.equal(await again.page.getAttribute('#tab-ascii',
						   'aria-selected'), 'true');
	assert.equal(await again.page.isChecked('input[value="lane"]'), true);
	assert.equal(await again.page.getAttribute('#timeline', 'data-rows'),
		     String(trace.lanes.length));
	assert.deepEqual(again.errors, []);
	await again.context.close();
	assert.deepEqual(errors, []);
	await context.close();
});

test('history lists the run, links to it and deletes it',
     { timeout: 60000 }, async () => {
	assert.ok(runId, 'the run test ran first');
	const { page, context, errors } = await openPage(browser, server.base);
	const item = page.locator(`.history-item[data-id="${runId}"]`);
	await item.waitFor();
	const link = item.getByRole('link');
	assert.equal(await link.getAttribute('href'),
		     `#run=${encodeURIComponent(runId)}`);
	await link.click();
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.equal(await page.textContent('#view-title'),
		     'fetch under threads');
	await item.getByRole('button', { name: /Delete/ }).click();
	await item.waitFor({ state: 'detached' });
	assert.equal((await api(server.base, `/api/runs/${runId}`)).status,
		     404);
	/* The deleted run's view is gone too. */
	await page.waitForFunction(() => location.hash === '');
	assert.deepEqual(errors, []);
	await context.close();
});

test('a running run can be cancelled from the page', { timeout: 60000 },
     async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	await page.getByLabel('Workload', { exact: true }).selectOption('fetch');
	await page.locator('[data-field="params.tasks"] input').fill('2');
	await page.locator('[data-field="params.duration"] input')
		.fill('30000');
	await page.locator('[data-field="params.io"] select')
		.selectOption('sleep');
	await page.getByLabel('Model', { exact: true }).selectOption('threads');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	const id = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	/* Wait until the page shows the run going (a sleep is open). */
	await page.waitForSelector('#view-status:text("running")');
	/* Both sleeps counted while open. */
	await page.waitForSelector('#activity[data-peak="2"]');
	await page.getByRole('button', { name: 'Cancel run', exact: true })
		.click();
	await page.waitForSelector('#timeline[data-complete="true"]',
				   { timeout: 30000 });
	const trace = await waitForRun(server.base, id, 30000);
	assert.equal(trace.run.status, 'cancelled');
	assert.equal(await page.textContent('#view-status'), 'cancelled');
	assert.equal(await page.isVisible('#cancel-run'), false);
	/* Said once.  The run was asked to stop, so its trace keeps the
	 * two sleeps, cut at the cancel, and every task ended. */
	assert.equal(trace.segments.length, 2);
	for (const seg of trace.segments) {
		assert.equal(seg.state, 'sleep');
		assert.ok(seg.t1_ns > seg.t0_ns);
	}
	assert.ok(trace.tasks.every(t => t.status === 'cancelled' &&
				    t.end_ns !== null));
	assert.equal(await page.textContent('#run-notice'),
		     'The run was cancelled while running.');
	/* The timeline and the activity chart show both. */
	assert.equal(await page.getAttribute('#timeline', 'data-rows'), '2');
	await page.waitForSelector('#activity[data-peak="2"]');
	assert.deepEqual(errors, []);
	await context.close();
});

test('history cancels a run that goes, and keeps the keyboard\'s place',
     { timeout: 90000 }, async () => {
	const post = async spec => {
		const created = await api(server.base, '/api/runs', {
			method: 'POST', body: spec });
		assert.equal(created.status, 202, created.text);
		return created.body.id;
	};
	const long = { workload: 'fetch', model: 'threads',
		params: { tasks: 1, duration: '30000', io: 'sleep' } };
	/* The runs of the tests before, out of the way. */
	for (const run of (await api(server.base, '/api/runs')).body.runs ||
	     [])
		await api(server.base, `/api/runs/${run.id}`, {
			method: 'DELETE',
			headers: { 'Content-Type': 'application/json' } });
	const done = await post({ workload: 'fetch', model: 'threads',
		params: { tasks: 1, duration: '20ms', io: 'sleep' } });
	await waitForRun(server.base, done);
	const first = await post(long);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${first}` });
	await page.waitForSelector('#view-status:text("running")');
	const button = id => page.locator(
		`.history-item[data-id="${id}"] .history-delete`);
	const focusedOn = id => page.waitForFunction(run =>
		document.activeElement === document.querySelector(
			`.history-item[data-id="${run}"] .history-delete`), id);
	/* The list is rebuilt when the shown run ends; the focus stays on
	 * the control it was on. */
	await button(done).focus();
	await api(server.base, `/api/runs/${first}`, { method: 'DELETE',
		headers: { 'Content-Type': 'application/json' } });
	await page.waitForSelector(`.history-item[data-id="${first}"] ` +
				   '.history-meta:text("cancelled")');
	await focusedOn(done);

	/* A run that has not ended is cancelled, not deleted: the button
	 * says so, and the view stays on it. */
	const going = await post(long);
	await page.goto(`${server.base}/#run=${going}`);
	await page.reload();	/* the hash alone does not re-read the list */
	await page.waitForSelector('#view-status:text("running")');
	assert.equal(await button(going).textContent(), 'Cancel');
	assert.equal(await button(done).textContent(), 'Delete');
	await button(going).focus();
	await page.keyboard.press('Enter');
	await page.waitForSelector('#view-status:text("cancelled")');
	assert.equal(await page.evaluate(() => location.hash),
		     `#run=${going}`);
	await focusedOn(going);
	/* The list is rebuilt once the run's end reaches the page. */
	await page.waitForSelector(`.history-item[data-id="${going}"] ` +
				   '.history-delete:text-is("Delete")');
	/* Deleted: the focus goes to the entry now in its place... */
	await page.keyboard.press('Enter');
	await focusedOn(first);
	assert.equal((await api(server.base, `/api/runs/${going}`)).status,
		     404);
	/* ...and, with none left, to the history's heading. */
	for (const id of [first, done]) {
		await focusedOn(id);
		await page.keyboard.press('Enter');
	}
	await page.waitForFunction(() => document.activeElement.id ===
		'history-title');
	assert.equal(await page.locator('.history-item').count(), 0);
	assert.deepEqual(errors.filter(e => !/404/.test(e)), []);
	await context.close();
});
