/*
 * Model vs CPython: a lesson's workload under overlap's model and under
 * the CPython reference engine, stacked on one time axis, with the ratio
 * of their wall times and where they differ said in a sentence; and the
 * Engine choice runs a single run in CPython, its trace naming the
 * interpreter.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, screenshot,
	 waitForRun } from './harness.mjs';

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

async function fillLesson(page)
{
	/* The first lesson, shortened: 3 waits under threads. */
	await page.getByLabel('Workload', { exact: true }).selectOption('fetch');
	await page.getByLabel('Model', { exact: true }).selectOption('threads');
	await page.locator('[data-field="params.tasks"] input').fill('3');
	await page.locator('[data-field="params.duration"] input').fill('200');
	await page.locator('[data-field="params.io"] select')
		.selectOption('sleep');
}

test('model vs CPython: both engines on one time axis, with a verdict',
     { timeout: 240000 }, async () => {
	const catalog = (await api(server.base, '/api/workloads')).body;
	const cpython = catalog.engines.find(e => e.name === 'cpython');
	if (!cpython.interpreters.length)
		return; /* no python3 on this machine */
	const { page, context, errors } = await openPage(browser, server.base);
	await fillLesson(page);
	await page.getByRole('button', { name: 'Model vs CPython' }).click();
	await page.waitForFunction(() => /^#compare=/.test(location.hash));
	const compareId = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(9));
	await page.waitForSelector('#compare-bars[data-complete="true"]',
				   { timeout: 200000 });
	const compare = (await api(server.base,
				   `/api/compares/${compareId}`)).body;
	assert.deepEqual(compare.runs.map(r => [r.model, r.engine]),
			 [['threads', 'overlap'], ['threads', 'cpython']]);
	const headings = await page.locator('#compare-stack h4')
		.allTextContents();
	assert.deepEqual(headings, ['threads · overlap model',
				    'threads · CPython']);

	/* One time axis: both timelines span the slower run. */
	const ranges = await page.evaluate(() =>
		[...document.querySelectorAll('#compare-stack canvas')]
			.map(c => {
				const x = window.Chart.getChart(c).scales.x;
				return [x.min, x.max];
			}));
	assert.equal(ranges.length, 2);
	const slowestMs = Math.max(...compare.runs.map(r =>
		r.summary.wall_ns)) / 1e6;
	for (const [min, max] of ranges) {
		assert.equal(min, 0);
		assert.equal(max, ranges[0][1]);
		assert.ok(max >= slowestMs, 'the axis holds the slower run');
	}
	/* Each timeline draws its own run's segments: the waits of three
	 * tasks, CPython's from the interpreter named in its trace. */
	const real = (await api(server.base,
				`/api/runs/${compare.runs[1].id}`)).body;
	assert.equal(real.run.engine.name, 'cpython');
	assert.equal(real.run.engine.path, cpython.interpreters[0].path);
	const drawn = await page.evaluate(() =>
		[...document.querySelectorAll('#compare-stack canvas')]
			.map(c => Number(c.dataset.segments)));
	assert.equal(drawn[1], real.segments.length);

	/* The verdict: CPython's wall against the model's, and a sentence
	 * on whether they agree or where they differ. */
	const verdict = await page.locator('#compare-verdict').textContent();
	const ratio = compare.runs[1].summary.wall_ns /
		compare.runs[0].summary.wall_ns;
	assert.match(verdict, /threads: CPython \d+\.\d+\.\d+ /);
	assert.ok(verdict.includes(`${ratio.toFixed(2)}× the model's`),
		  verdict);
	assert.match(verdict, /they (agree within 10%|differ in )/);
	/* The form still holds what was compared, so Run runs it again. */
	assert.equal(await page.getByLabel('Model', { exact: true })
		.inputValue(), 'threads');
	assert.equal(await page.getByLabel('Workload', { exact: true })
		.inputValue(), 'fetch');
	/* And so does the compare opened again from its address. */
	await page.reload();
	await page.waitForSelector('#compare-bars[data-complete="true"]');
	assert.equal(await page.getByLabel('Model', { exact: true })
		.inputValue(), 'threads');
	await screenshot(page, 'engines-compare');
	assert.deepEqual(errors, []);
	await context.close();
});

test('the Engine choice runs one run in CPython', { timeout: 120000 },
     async () => {
	const catalog = (await api(server.base, '/api/workloads')).body;
	const cpython = catalog.engines.find(e => e.name === 'cpython');
	if (!cpython.interpreters.length)
		return;
	const first = cpython.interpreters[0];
	const { page, context, errors } = await openPage(browser, server.base);
	await fillLesson(page);
	const engine = page.getByLabel('Engine', { exact: true });
	const labels = await engine.locator('option').allTextContents();
	assert.equal(labels[0], 'overlap model');
	assert.ok(labels.some(l => l.startsWith(`CPython ${first.version}`)),
		  labels.join(' | '));
	await engine.selectOption(`cpython:${first.path}`);
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	const id = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	const trace = await waitForRun(server.base, id, 100000);
	assert.equal(trace.run.status, 'done');
	assert.equal(trace.run.engine.name, 'cpython');
	assert.equal(trace.run.engine.version, first.version);
	assert.equal(trace.segments.filter(s => s.state === 'sleep').length,
		     3);
	assert.deepEqual(errors, []);
	await context.close();
});
