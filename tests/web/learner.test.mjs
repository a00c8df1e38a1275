/*
 * What a learner trying the page at 1280x800, at 390x844 and with the
 * keyboard ran into: a lesson's timeline out of sight on a phone; the
 * scraper's two counts of things in flight; semaphore and rate waits
 * filed as blocking; a cancelled run judged as a finished one, its cut
 * bars looking whole; a refused program beside an unrelated run; spikes in
 * the activity chart where tasks change state; the form after a compare;
 * the Tab order; a page without its npm packages; and a PNG that was only
 * the chart.  Each test checks the page's structure (what is on view,
 * which series holds what, what the focus reaches), never a timing.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, openPage, api, waitForRun, screenshot,
	 settle, REPO, BUILD } from './harness.mjs';

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

async function submit(spec)
{
	const created = await api(server.base, '/api/runs', { method: 'POST',
							      body: spec });
	assert.equal(created.status, 202, created.text);
	return created.body.id;
}

const runIdOf = async page => decodeURIComponent(
	(await page.evaluate(() => location.hash)).replace(/^#run=/, ''));

/* Where a node is against the window: {top, bottom, height}. */
function placeOf(page, selector)
{
	return page.evaluate(sel => {
		const rect = document.querySelector(sel).getBoundingClientRect();
		return { top: rect.top, bottom: rect.bottom,
			 height: window.innerHeight };
	}, selector);
}

test('on a phone, a lesson brings its timeline into view',
     { timeout: 60000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base,
		{ width: 390, height: 844 });
	await page.locator('[data-lesson="gil"]').click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	const id = await runIdOf(page);
	await settle(page);
	const box = await placeOf(page, '#timeline-box');
	assert.ok(box.top >= 0 && box.bottom <= box.height,
		  `the timeline is in the window: ${JSON.stringify(box)}`);
	await page.waitForSelector('#timeline[data-complete="true"]',
				   { timeout: 30000 });
	await waitForRun(server.base, id);
	await screenshot(page, 'lesson-390x844', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('the scraper says what it counts in flight, and holds back apart',
     { timeout: 60000 }, async () => {
	const id = await submit({ workload: 'scraper', model: 'asyncio',
		params: { urls: 12, max_concurrent: 3, rate: 40,
			  latency_min: '20ms', latency_max: '60ms',
			  failure_rate: 0.3, backoff: '10ms' } });
	const trace = await waitForRun(server.base, id);
	const states = new Set(trace.segments.map(s => s.state));
	assert.ok(states.has('sem-wait'), 'tasks waited for the semaphore');
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#cards .card');
	const help = title => page.locator('#cards .card', {
		has: page.locator('dt', { hasText: new RegExp(`^${title}$`) }) })
		.locator('.card-help').textContent();
	const peak = trace.summary.peak_inflight;
	const requests = trace.summary.checks.max_in_flight;
	assert.ok(peak > requests, `${peak} tasks, ${requests} requests`);
	assert.match(await help('Peak in flight'),
		     new RegExp(`waiting for the semaphore.*at most ${requests} ` +
				'had a request out \\(max in flight\\)'));
	assert.match(await help('max in flight'),
		     /the semaphore lets 3 through \(max concurrent\)/);
	/* Semaphore, rate and backoff waits are held back, not blocked:
	 * under asyncio nothing here waits for a GIL, a lock or a queue. */
	const series = await page.evaluate(() => {
		const chart = window.Chart.getChart('activity');
		return Object.fromEntries(chart.data.datasets.map(d =>
			[d.label, Math.max(0, ...d.data.map(p => p.v ?? 0))]));
	});
	assert.equal(series['blocked (GIL, locks, queues)'], 0);
	assert.ok(series['held back (semaphore, rate limit, backoff)'] > 0,
		  JSON.stringify(series));
	await screenshot(page, 'scraper-1280');
	assert.deepEqual(errors, []);
	await context.close();
});

test('a cancelled run has no verdict, and its cut bars say so',
     { timeout: 60000 }, async () => {
	const id = await submit({ workload: 'fetch', model: 'threads',
		params: { tasks: 3, duration: '30s', io: 'sleep' } });
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#activity[data-peak="3"]');
	await page.getByRole('button', { name: 'Cancel run', exact: true })
		.click();
	await page.waitForSelector('#timeline[data-complete="true"]',
				   { timeout: 30000 });
	const trace = await waitForRun(server.base, id);
	assert.equal(trace.run.status, 'cancelled');
	/* The engine's diagnosis judges the partial run as if whole. */
	assert.match(trace.summary.diagnosis.why, /finishes in about/);
	await page.waitForSelector('#diagnosis[data-verdict="none"]');
	const diagnosis = await page.textContent('#diagnosis');
	assert.match(diagnosis, /^Cancelled after .*: no verdict/);
	assert.match(diagnosis, /100% waiting on I\/O or sleep/);
	assert.doesNotMatch(diagnosis, /recommended|finishes in about|speedup/);
	/* Every task was in its sleep: three bars cut. */
	assert.equal(await page.getAttribute('#timeline', 'data-cut'), '3');
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
	assert.match(await tip.textContent(), /cutby the cancel/);
	await screenshot(page, 'cancelled-1280', { fullPage: false });
	assert.deepEqual(errors, []);
	await context.close();
});

test('a refused program clears the view, shows its field, and its notice goes',
     { timeout: 60000 }, async () => {
	const before = await submit({ workload: 'fetch', model: 'threads',
		params: { tasks: 2, duration: '20ms', io: 'sleep' } });
	await waitForRun(server.base, before);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${before}`, width: 390, height: 844 });
	await page.waitForSelector('#timeline[data-complete="true"]');
	await page.selectOption('#workload', 'custom');
	const field = '[data-field="params.program"]';
	await page.fill(`${field} textarea`,
			'2 x (sleep 5ms);\n' + '1 x (cpu 2ms);\n'.repeat(8) +
			'3 x (cpu 20ms, zzz 1s)');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForSelector(`${field} .field-error:not([hidden])`);
	await settle(page);
	/* The run on view was another one: it is gone, and the view says
	 * why nothing runs. */
	assert.equal(await page.evaluate(() => location.hash), '');
	assert.equal(await page.textContent('#view-title'), 'Not started');
	assert.match(await page.textContent('#view-message'),
		     /refused this run: program: column \d+/);
	assert.equal(await page.isVisible('#timeline-box'), false);
	/* The field and its message are in sight, above the sticky
	 * buttons. */
	const error = await placeOf(page, `${field} .field-error`);
	const input = await placeOf(page, `${field} textarea`);
	const actions = await placeOf(page, '#run-form .actions');
	assert.ok(input.top >= 0, JSON.stringify(input));
	assert.ok(error.bottom <= actions.top, JSON.stringify({ error,
								 actions }));
	assert.match(await page.textContent('#form-status'),
		     /server refused a value/);
	await screenshot(page, 'refused-390x844', { fullPage: false });

	/* A valid program runs, and nothing of the refusal stays. */
	await page.fill(`${field} textarea`, '2 x (sleep 5ms)');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	await waitForRun(server.base, await runIdOf(page));
	await page.waitForSelector('#timeline[data-complete="true"]');
	assert.doesNotMatch(await page.textContent('#form-status'), /refused/);
	assert.equal(await page.isVisible(`${field} .field-error`), false);
	assert.equal(await page.textContent('#view-title'),
		     'custom under threads');
	assert.deepEqual(errors.filter(e => !/status of 400/.test(e)), []);
	await context.close();
});

test('the activity chart has no spikes where tasks change state',
     { timeout: 30000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	/* Two threads hand the GIL over: one stops computing some
	 * microseconds before the other starts, as the engine records it. */
	const result = await page.evaluate(async () => {
		const { activitySeries, ACTIVITY } = await import(
			'/js/summary.js');
		const { stateIndex } = await import('/js/palette.js');
		const ms = 1e6;
		const compute = stateIndex('compute');
		const gil = stateIndex('gil-wait');
		const segments = [
			{ task: 0, state: compute, t0: 0, t1: 50 * ms },
			{ task: 0, state: gil, t0: 50 * ms, t1: 100 * ms },
			{ task: 1, state: gil, t0: 0, t1: 50 * ms + 8000 },
			{ task: 1, state: compute, t0: 50 * ms + 8500,
			  t1: 100 * ms },
		];
		const series = activitySeries(segments, 100 * ms, [],
					      100 * ms / 800);
		/* Up to the end, where both tasks end. */
		const inside = list => list.filter(p => p.x < 100);
		return { computing: inside(series[0]).map(p => p.v),
			 top: inside(series[ACTIVITY.length - 1])
				 .map(p => p.y) };
	});
	/* One task computes and one waits, throughout: no moment in which
	 * neither computes, and the stack never dips or rises. */
	assert.deepEqual([...new Set(result.computing)], [1]);
	assert.deepEqual([...new Set(result.top)], [2]);
	assert.deepEqual(errors, []);
	await context.close();
});

test('after a compare the form reads its fastest model',
     { timeout: 30000 }, async () => {
	const runOf = (id, model, wallMs, options) => ({
		format: 'overlap-trace', version: 1,
		run: { id, workload: 'fetch', model, status: 'done',
		       params: { tasks: 2 }, options },
		lanes: [{ id: 0, kind: 'main', name: 'main' }],
		tasks: [{ id: 0, name: 'request 1', lane: 0, submit_ns: 0,
			  start_ns: 0, end_ns: wallMs * 1e6, status: 'ok' }],
		segments: [{ task: 0, lane: 0, state: 'io', t0_ns: 0,
			     t1_ns: wallMs * 1e6, note: '' }],
		counters: [],
		summary: { wall_ns: wallMs * 1e6, task_time_ns: wallMs * 1e6,
			   speedup: 120 / wallMs, parallelism: 0, checks: {} },
	});
	const runs = [runOf('20990101-000000-seqseq', 'sequential', 120, {}),
		      runOf('20990101-000000-aioaio', 'asyncio', 60,
			    { limit: 3 })];
	const compareId = '20990101-000000-cmpfrm';
	const { page, context, errors } = await openPage(browser, server.base);
	await page.route(`**/api/compares/${compareId}`, route =>
		route.fulfill({ json: { id: compareId, workload: 'fetch',
			params: { tasks: 2 }, runs: runs.map(r => ({
				id: r.run.id, model: r.run.model,
				status: 'done', summary: r.summary })) } }));
	for (const run of runs)
		await page.route(`**/api/runs/${run.run.id}`, route =>
			route.fulfill({ json: run }));
	assert.equal(await page.inputValue('#model'), 'sequential');
	await page.evaluate(id => { location.hash = `#compare=${id}`; },
			    compareId);
	await page.waitForSelector('#compare-bars[data-complete="true"]');
	assert.match(await page.textContent('#compare-verdict'),
		     /^Fastest: asyncio/);
	await page.waitForFunction(() =>
		document.getElementById('model').value === 'asyncio');
	assert.equal(await page.inputValue('#workload'), 'fetch');
	assert.equal(await page.inputValue(
		'[data-field="params.tasks"] input'), '2');
	assert.equal(await page.inputValue(
		'[data-field="options.limit"] input'), '3');
	assert.deepEqual(errors, []);
	await context.close();
});

test('Tab reaches the lessons before the form, and each run once',
     { timeout: 60000 }, async () => {
	for (let i = 0; i < 2; i++)
		await waitForRun(server.base, await submit({ workload: 'fetch',
			model: 'threads', params: { tasks: 1,
			duration: '10ms', io: 'sleep' } }));
	const { page, context, errors } = await openPage(browser, server.base);
	const runs = (await api(server.base, '/api/runs')).body.runs.length;
	await page.waitForFunction(n => document.querySelectorAll(
		'.history-item').length === n, runs);
	const stops = [];
	for (let i = 0; i < 200; i++) {
		await page.keyboard.press('Tab');
		const stop = await page.evaluate(() => {
			const node = document.activeElement;
			const item = node.closest('.history-item');
			return item ? `history ${item.dataset.id}` :
				node.dataset.lesson ? 'lesson' :
					node.id || node.className ||
					node.tagName;
		});
		/* Once round: back to the body or the skip link. */
		if (stop === 'BODY' || (stops.length && stop === stops[0]))
			break;
		stops.push(stop);
	}
	const firstLesson = stops.indexOf('lesson');
	assert.ok(firstLesson >= 0, stops.join(' '));
	assert.ok(firstLesson < stops.indexOf('workload'),
		  `lessons before the form: ${stops.join(' ')}`);
	const history = stops.filter(s => s.startsWith('history '));
	assert.equal(history.length, runs, stops.join(' '));
	assert.equal(new Set(history).size, runs);
	/* Within an entry the arrow keys reach its Delete button, and the
	 * next entry's. */
	const first = page.locator('.history-item').first();
	await first.locator('.history-link').focus();
	await page.keyboard.press('ArrowRight');
	assert.equal(await page.evaluate(() =>
		document.activeElement.className), 'history-delete');
	await page.keyboard.press('ArrowDown');
	assert.deepEqual(await page.evaluate(() => [
		document.activeElement.className,
		document.activeElement.closest('li') ===
			document.querySelectorAll('.history-item')[1]]),
	['history-delete', true]);
	assert.deepEqual(errors, []);
	await context.close();
});

test('without its npm packages the server and the page say what to run',
     { timeout: 60000 }, async () => {
	const web = await mkdtemp(path.join(tmpdir(), 'overlap-web-bare-'));
	let own;
	try {
		for (const name of ['index.html', 'style.css', 'favicon.svg',
				    'js'])
			await cp(path.join(REPO, 'web', name),
				 path.join(web, name), { recursive: true });
		own = await startServer({ web });
		const deadline = Date.now() + 10000;
		while (!/packages are missing/.test(own.output()) &&
		       Date.now() < deadline)
			await new Promise(resolve => setTimeout(resolve, 50));
		assert.match(own.output(), /the page's npm packages are missing .*run 'make deps'/);
		const context = await browser.newContext({
			viewport: { width: 1280, height: 800 } });
		const page = await context.newPage();
		await page.goto(`${own.base}/`);
		const notice = page.locator('#missing-packages');
		await notice.waitFor({ state: 'visible' });
		assert.match(await notice.textContent(),
			     /not installed.*make deps/);
		assert.equal(await page.isVisible('#workload'), false);
		assert.equal(await page.isVisible('#run-button'), false);
		await screenshot(page, 'missing-packages-1280',
				 { fullPage: false });
		await context.close();
	} finally {
		await own?.stop();
		await rm(web, { recursive: true, force: true });
	}
});

/* The width and height of a PNG, from its header. */
function pngSize(buffer)
{
	return { width: buffer.readUInt32BE(16),
		 height: buffer.readUInt32BE(20) };
}

test('the PNG is a figure: title, engine, date, legend, wall and speedup',
     { timeout: 60000 }, async () => {
	const id = await submit({ workload: 'fetch', model: 'thread-pool',
		params: { tasks: 4, duration: '30ms', io: 'sleep' },
		options: { workers: 2 } });
	const trace = await waitForRun(server.base, id);
	const { page, context, errors } = await openPage(browser, server.base,
		{ hash: `#run=${id}` });
	await page.waitForSelector('#timeline[data-complete="true"]');
	const words = await page.evaluate(async ({ trace }) => {
		const { figureText } = await import('/js/export.js');
		const { RunData } = await import('/js/trace.js');
		return figureText(RunData.fromTrace(trace), 'tasks 4');
	}, { trace });
	assert.equal(words.title, 'fetch under thread-pool');
	assert.match(words.meta, new RegExp(
		`engine ${trace.run.host.engine}`));
	assert.match(words.meta, new RegExp(
		trace.run.started_at.slice(0, 10)));
	assert.deepEqual(words.legend, ['queued', 'sleep']);
	assert.match(words.footer, /^Wall time .* · speedup \d\.\d\d×/);
	const [file] = await Promise.all([
		page.waitForEvent('download'),
		page.getByRole('button', { name: 'Export PNG' }).click(),
	]);
	const png = await readFile(await file.path());
	await file.saveAs(path.join(BUILD, 'screenshots', 'figure-1280.png'));
	const canvas = await page.evaluate(() => {
		const node = document.getElementById('timeline');
		return { width: node.width, height: node.height };
	});
	const size = pngSize(png);
	/* The chart's width, and taller by the title, legend and summary. */
	assert.equal(size.width, canvas.width);
	assert.ok(size.height > canvas.height + 80, JSON.stringify(size));
	await page.setViewportSize({ width: 390, height: 844 });
	await settle(page);
	const [small] = await Promise.all([
		page.waitForEvent('download'),
		page.getByRole('button', { name: 'Export PNG' }).click(),
	]);
	await small.saveAs(path.join(BUILD, 'screenshots', 'figure-390.png'));
	assert.deepEqual(errors, []);
	await context.close();
});
