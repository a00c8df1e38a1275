/*
 * The page follows the catalog's vocabulary.  A state the page has never
 * heard of, added to GET /api/workloads's "vocabulary" (here by rewriting
 * the server's answer on its way to the page), reaches the legend, the
 * timeline and the activity chart with its own colours, in the light and
 * the dark scheme, with no change to web/js.  And an error only the server
 * finds comes back to the user as the server wrote it: its field and its
 * limit.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, waitForRun, entry,
	 settle } from './harness.mjs';

let server;
let browser;
let catalog;
let stored;

/* A state no engine records, with colours no state of the catalog has. */
const MADE_UP = {
	name: 'lease-wait',
	help: 'waiting for a lease on a shared resource',
	glyph: '%',
	glyph_unicode: '\u2593',
	bucket: 'held',
	colour: '#123456',
	colour_dark: '#C0FFEE',
	uses_cpu: false,
	overlappable: false,
	object_wait: true,
};

before(async () => {
	server = await startServer();
	browser = await launchBrowser();
	catalog = (await api(server.base, '/api/workloads')).body;
	/* A real run whose sleeps the page will be told are lease waits. */
	const created = await api(server.base, '/api/runs', {
		method: 'POST',
		body: { workload: 'custom', model: 'threads',
			params: { program: '2 x (cpu 5ms, sleep 30ms)' } },
	});
	assert.equal(created.status, 202, created.text);
	stored = await waitForRun(server.base, created.body.id);
	assert.equal(stored.run.status, 'done');
});

after(async () => {
	await browser?.close();
	await server?.stop();
});

/* The stored trace with every sleep segment in the made-up state. */
function renamed(trace)
{
	const copy = structuredClone(trace);
	let n = 0;
	for (const seg of copy.segments)
		if (seg.state === 'sleep') {
			seg.state = MADE_UP.name;
			n++;
		}
	const states = copy.summary && copy.summary.states;
	if (states && states.sleep !== undefined) {
		states[MADE_UP.name] = states.sleep;
		delete states.sleep;
	}
	return { trace: copy, n };
}

/* Opens the run's address with the catalog and the trace rewritten. */
async function openWithMadeUpState(colorScheme)
{
	assert.ok(!catalog.vocabulary.states.some(s =>
		s.name === MADE_UP.name), 'the state is new to the catalog');
	const { trace, n } = renamed(stored);
	assert.ok(n >= 2, 'the run slept, so some segments are renamed');
	const context = await browser.newContext({
		viewport: { width: 1280, height: 800 }, colorScheme });
	/* On the context, so the worker that reads the trace is served
	 * the rewritten one too. */
	await context.route('**/api/workloads', async route => {
		const real = await (await route.fetch()).json();
		real.vocabulary.states.push(MADE_UP);
		await route.fulfill({ json: real });
	});
	await context.route(`**/api/runs/${stored.id}`, route =>
		route.request().method() === 'GET' ?
			route.fulfill({ json: trace }) : route.continue());
	const page = await context.newPage();
	const errors = [];
	page.on('console', m => m.type() === 'error' && errors.push(m.text()));
	page.on('pageerror', e => errors.push(String(e)));
	await page.goto(`${server.base}/#run=${stored.id}`);
	await page.waitForSelector('body[data-ready="true"]');
	await page.waitForFunction(() => {
		const chart = window.Chart && window.Chart.getChart('timeline');
		return chart && chart.data.datasets.some(d => d.data.length);
	});
	await settle(page);
	return { page, context, errors, trace };
}

/* The colour of the canvas pixel at the middle of the first bar of
 * dataset label, as "#rrggbb". */
function barPixel(page, label)
{
	return page.evaluate(label => {
		const chart = window.Chart.getChart('timeline');
		const ds = chart.data.datasets.find(d => d.label === label);
		const bar = ds.data[0];
		const x = chart.scales.x.getPixelForValue(
			(bar.x[0] + bar.x[1]) / 2);
		const y = chart.scales.y.getPixelForValue(bar.y);
		const ratio = chart.currentDevicePixelRatio || 1;
		const [r, g, b] = chart.ctx.getImageData(Math.round(x * ratio),
			Math.round(y * ratio), 1, 1).data;
		return '#' + [r, g, b].map(v =>
			v.toString(16).padStart(2, '0')).join('').toUpperCase();
	}, label);
}

for (const [scheme, colour] of [['light', MADE_UP.colour],
				['dark', MADE_UP.colour_dark]]) {
	test(`a state added to the catalog reaches the legend, the timeline ` +
	     `and the activity chart (${scheme})`, { timeout: 60000 },
	     async () => {
		const { page, context, errors, trace } =
			await openWithMadeUpState(scheme);
		/* The legend: a button named for the state, shown since the
		 * run entered it, its swatch in the state's colour, its
		 * tooltip the state's help. */
		const button = page.locator('#legend .legend-item',
					    { hasText: MADE_UP.name });
		assert.equal(await button.count(), 1);
		assert.equal(await button.evaluate(b =>
			b.classList.contains('absent')), false);
		assert.equal(await button.locator('.swatch').evaluate(s =>
			getComputedStyle(s).backgroundColor),
			     rgb(colour));
		assert.match(await button.getAttribute('title'),
			     new RegExp(MADE_UP.help));
		/* The timeline: the state's bars are the trace's segments
		 * in that state, drawn in its colour. */
		const drawn = await page.evaluate(name => {
			const chart = window.Chart.getChart('timeline');
			const ds = chart.data.datasets.find(d =>
				d.label === name);
			return { colour: ds.backgroundColor,
				 bars: ds.data.map(b => b.x) };
		}, MADE_UP.name);
		assert.equal(drawn.colour.toUpperCase(), colour.toUpperCase());
		const wanted = trace.segments
			.filter(s => s.state === MADE_UP.name)
			.map(s => [s.t0_ns / 1e6, s.t1_ns / 1e6]);
		const byStart = (a, b) => a[0] - b[0] || a[1] - b[1];
		assert.deepEqual(drawn.bars.sort(byStart),
				 wanted.sort(byStart));
		assert.equal(await barPixel(page, MADE_UP.name),
			     colour.toUpperCase());
		/* The activity chart counts its time in the bucket the
		 * catalog gives it, "held": and no sleep is left over to be
		 * counted as waiting. */
		const activity = await page.evaluate(() => {
			const chart = window.Chart.getChart('activity');
			const peak = {};
			for (const d of chart.data.datasets)
				peak[d.label] = Math.max(0, ...d.data.map(p =>
					p.v === undefined ? p.y : p.v));
			return peak;
		});
		const held = entry(catalog.vocabulary.buckets, 'held');
		const waiting = entry(catalog.vocabulary.buckets, 'waiting');
		assert.ok(activity[held.label] >= 1,
			  `held back counts the lease waits: ` +
			  JSON.stringify(activity));
		assert.equal(activity[waiting.label], 0);
		assert.deepEqual(errors, []);
		await context.close();
	});
}

function rgb(hex)
{
	const n = parseInt(hex.slice(1), 16);
	return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

test('a limit only the server checks comes back as the server wrote it',
     { timeout: 30000 }, async () => {
	const threads = entry(catalog.models, 'threads');
	const fetchWorkload = entry(catalog.workloads, 'fetch');
	const tasks = entry(fetchWorkload.params, 'tasks');
	/* More tasks than threads takes, fewer than the parameter's own
	 * limit: no one field is wrong, so the form sends it. */
	assert.ok(threads.max_tasks && tasks.max > threads.max_tasks,
		  'the model limits tasks below the parameter\'s limit');
	const count = threads.max_tasks + 1;
	const { page, context, errors } = await openPage(browser, server.base);
	await page.selectOption('#workload', 'fetch');
	await page.selectOption('#model', 'threads');
	const field = page.locator('[data-field="params.tasks"]');
	await field.locator('input').fill(String(count));
	const response = page.waitForResponse(r =>
		r.url().endsWith('/api/runs') && r.request().method() === 'POST');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	const answer = await response;
	assert.equal(answer.status(), 400);
	const body = await answer.json();
	assert.equal(body.field, 'params.tasks');
	assert.ok(body.error.includes(String(threads.max_tasks)),
		  `the message names the limit: ${body.error}`);
	assert.ok(body.error.includes(String(count)),
		  `and the value given: ${body.error}`);
	const error = field.locator('.field-error');
	await error.waitFor({ state: 'visible' });
	assert.equal(await error.textContent(), body.error);
	assert.equal(await field.locator('input').getAttribute('aria-invalid'),
		     'true');
	assert.match(await page.locator('#form-status').textContent(),
		     /refused/);
	assert.deepEqual(errors.filter(e => !/status of 400/.test(e)), []);
	await context.close();
});
