/*
 * The form, generated from the catalog: every workload and model is
 * offered, every parameter and option is a labelled control with its
 * limits, a bad value is refused next to its field before anything is
 * sent, and an error only the server can find (a step program's syntax)
 * comes back next to the field it names.
 */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, api, screenshot,
	 overflowReport } from './harness.mjs';

let server;
let browser;
let catalog;

before(async () => {
	server = await startServer();
	browser = await launchBrowser();
	catalog = (await api(server.base, '/api/workloads')).body;
});

after(async () => {
	await browser?.close();
	await server?.stop();
});

test('the form lists every workload and model of the catalog', async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	const workloads = await page.getByLabel('Workload', { exact: true })
		.locator('option').allTextContents();
	const models = await page.getByLabel('Model', { exact: true })
		.locator('option').allTextContents();
	assert.deepEqual(workloads, catalog.workloads.map(w => w.name));
	assert.deepEqual(models, catalog.models.map(m => m.name));
	assert.ok(workloads.length >= 4 && models.length >= 3,
		  'the catalog is not empty');
	assert.deepEqual(errors, []);
	await context.close();
});

test('every parameter and option is a labelled control with its limits',
     async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	for (const workload of catalog.workloads) {
		await page.selectOption('#workload', workload.name);
		for (const param of workload.params)
			await checkControl(page, 'params', param);
	}
	for (const model of catalog.models) {
		await page.selectOption('#model', model.name);
		for (const option of model.options)
			await checkControl(page, 'options', option);
	}
	/* Every control of the form has an accessible name and can take
	 * the keyboard focus. */
	const unnamed = await page.evaluate(() => {
		const bad = [];
		for (const node of document.querySelectorAll(
			'#run-form input, #run-form select, #run-form ' +
			'textarea, #run-form button, #view button, ' +
			'#view input, #view canvas[tabindex]')) {
			const named = (node.labels && node.labels.length) ||
				node.getAttribute('aria-label') ||
				node.getAttribute('aria-labelledby') ||
				(node.tagName === 'BUTTON' &&
				 node.textContent.trim());
			if (!named || node.tabIndex < 0 && node.getAttribute(
				'role') !== 'tab')
				bad.push(node.id || node.outerHTML.slice(0, 60));
		}
		return bad;
	});
	assert.deepEqual(unnamed, []);
	await expectRole(page, 'button', 'Run');
	await expectRole(page, 'button', 'Compare all models');
	assert.deepEqual(errors, []);
	await context.close();
});

async function checkControl(page, group, def)
{
	const field = page.locator(`[data-field="${group}.${def.name}"]`);
	assert.equal(await field.count(), 1, `${group}.${def.name} shown`);
	const control = field.locator('input, select, textarea');
	const id = await control.getAttribute('id');
	const label = page.locator(`label[for="${id}"]`);
	assert.match(await label.textContent(), new RegExp(
		def.name.replace(/_/g, ' ')), `${def.name} labelled`);
	const help = await field.locator('.help').textContent();
	if (def.help)
		assert.ok(help.includes(def.help), `${def.name} help shown`);
	if (def.type === 'int' || def.type === 'float' ||
	    def.type === 'duration') {
		assert.equal(await control.getAttribute('type'), 'number');
		if (def.min !== null && def.min !== undefined)
			assert.equal(Number(await control.getAttribute('min')),
				     Number(def.min), `${def.name} min`);
		if (def.max !== null && def.max !== undefined)
			assert.equal(Number(await control.getAttribute('max')),
				     Number(def.max), `${def.name} max`);
	}
	if (def.type === 'duration')
		assert.match(await label.textContent(), /\(ms\)/);
	if (def.type === 'enum') {
		const choices = await control.locator('option')
			.allTextContents();
		assert.deepEqual(choices, def.choices);
	}
}

async function expectRole(page, role, name)
{
	const node = page.getByRole(role, { name, exact: true });
	assert.equal(await node.count(), 1, `${role} "${name}"`);
	await node.focus();
	assert.equal(await node.evaluate(n => n === document.activeElement),
		     true, `${name} takes the focus`);
}

test('an invalid parameter is refused next to its field, before sending',
     async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	const posts = [];
	page.on('request', request => {
		if (request.method() === 'POST')
			posts.push(request.url());
	});
	await page.selectOption('#workload', 'fetch');
	const tasks = catalog.workloads.find(w => w.name === 'fetch')
		.params.find(p => p.name === 'tasks');
	await page.locator('[data-field="params.tasks"] input')
		.fill(String(tasks.max + 1));
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	const error = page.locator('[data-field="params.tasks"] .field-error');
	await error.waitFor({ state: 'visible' });
	assert.equal(await error.textContent(),
		     `tasks: must be at most ${tasks.max} (got ${tasks.max + 1})`);
	assert.equal(await page.locator('[data-field="params.tasks"] input')
		.getAttribute('aria-invalid'), 'true');
	assert.equal(await page.evaluate(() => document.activeElement.name),
		     'params.tasks');
	assert.deepEqual(posts, [], 'nothing was sent');
	/* A valid value clears it. */
	await page.locator('[data-field="params.tasks"] input').fill('2');
	await page.locator('[data-field="params.tasks"] input').blur();
	assert.equal(await error.isVisible(), false);
	assert.deepEqual(errors, []);
	await context.close();
});

test('an error found by the server appears next to the field it names',
     async () => {
	const custom = catalog.workloads.find(w => w.name === 'custom');
	assert.ok(custom, 'the catalog has the custom workload');
	const textParam = custom.params.find(p => p.type === 'text');
	const { page, context, errors } = await openPage(browser, server.base);
	await page.selectOption('#workload', 'custom');
	const field = page.locator(`[data-field="params.${textParam.name}"]`);
	await field.locator('textarea, input').fill('3 x (cpu 20ms, zzz 1s)');
	const response = page.waitForResponse(r =>
		r.url().endsWith('/api/runs') && r.request().method() === 'POST');
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	const answer = await response;
	assert.equal(answer.status(), 400);
	const body = await answer.json();
	assert.equal(body.field, `params.${textParam.name}`);
	const error = field.locator('.field-error');
	await error.waitFor({ state: 'visible' });
	assert.equal(await error.textContent(), body.error);
	assert.match(body.error, /column/i);
	/* The only console error is the browser's note of that 400. */
	assert.deepEqual(errors.filter(e => !/status of 400/.test(e)), []);
	await page.setViewportSize({ width: 390, height: 844 });
	const report = await overflowReport(page);
	assert.ok(report.scrollWidth <= report.clientWidth,
		  `no horizontal overflow at 390 px: ${report.wide.join(', ')}`);
	await screenshot(page, 'form-error-390');
	await context.close();
});

test('a step program shows whole, without scrolling in its box',
     { timeout: 30000 }, async () => {
	const { page, context, errors } = await openPage(browser, server.base);
	await page.selectOption('#workload', 'custom');
	const program = page.locator('[data-field="params.program"] textarea');
	const lines = Array.from({ length: 6 }, (_, i) =>
		`2 x (cpu ${i + 1}ms, net 20ms)`).join(';\n');
	await program.fill(lines);
	const box = await program.evaluate(node => ({
		scroll: node.scrollHeight, client: node.clientHeight }));
	assert.ok(box.scroll <= box.client + 1,
		  `the program fits its box: ${JSON.stringify(box)}`);
	assert.deepEqual(errors, []);
	await context.close();
});
