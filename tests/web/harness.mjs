/*
 * harness: what every browser test needs.  Each test file starts its own
 * `overlap serve` on a free loopback port with a private data directory
 * (OVERLAP_BIN, default build/overlap), drives Debian's Chromium through
 * playwright-core, and stops both at the end.  Readiness is the server
 * answering /healthz; runs are waited for through the API's own status, so
 * no test sleeps for a fixed time.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
				 '..', '..');
export const BUILD = process.env.OVERLAP_BUILD || path.join(REPO, 'build');
const BIN = process.env.OVERLAP_BIN || path.join(BUILD, 'overlap');
const CHROMIUM = process.env.OVERLAP_CHROMIUM || '/usr/bin/chromium';

function freePort()
{
	return new Promise((resolve, reject) => {
		const probe = createServer();
		probe.unref();
		probe.on('error', reject);
		probe.listen(0, '127.0.0.1', () => {
			const { port } = probe.address();
			probe.close(() => resolve(port));
		});
	});
}

const delay = ms => new Promise(resolve => setTimeout(resolve, ms));

/* Starts the server; resolves to {base, stop(), output()}.  web: the
 * page's directory (default: the repository's web/). */
export async function startServer({ web = path.join(REPO, 'web') } = {})
{
	const data = await mkdtemp(path.join(tmpdir(), 'overlap-web-'));
	let lastError = null;
	for (let attempt = 0; attempt < 3; attempt++) {
		const port = await freePort();
		const child = spawn(BIN, ['serve', '--port', String(port),
					  '--data', data], {
			cwd: REPO,
			env: { ...process.env, OVERLAP_WEB: web },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let output = '';
		child.stdout.on('data', chunk => { output += chunk; });
		child.stderr.on('data', chunk => { output += chunk; });
		const exited = new Promise(resolve => child.on('exit', resolve));
		const base = `http://127.0.0.1:${port}`;
		const ready = await waitReady(base, exited);
		if (ready) {
			return {
				base,
				output: () => output,
				async stop()
				{
					child.kill('SIGTERM');
					const done = await Promise.race([
						exited.then(() => true),
						delay(5000).then(() => false)]);
					if (!done) {
						child.kill('SIGKILL');
						await exited;
					}
					await rm(data, { recursive: true,
							 force: true });
				},
			};
		}
		child.kill('SIGKILL');
		lastError = new Error(`overlap serve did not start:\n${output}`);
	}
	await rm(data, { recursive: true, force: true });
	throw lastError;
}

/* Polls /healthz until it answers (or the server exits, or 20 s pass). */
async function waitReady(base, exited)
{
	let gone = false;
	exited.then(() => { gone = true; });
	const deadline = Date.now() + 20000;
	while (!gone && Date.now() < deadline) {
		try {
			const response = await fetch(`${base}/healthz`);
			if (response.ok)
				return true;
		} catch (err) {
			/* not listening yet */
		}
		await delay(50);
	}
	return false;
}

export async function launchBrowser()
{
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
		       '--no-first-run', '--disable-background-networking',
		       '--disable-component-update', '--disable-sync'],
	});
}

/*
 * Opens a page that records console errors and uncaught exceptions.
 * allow: regular expressions for messages a test provokes on purpose.
 */
export async function openPage(browser, base, { width = 1280, height = 800,
						 hash = '' } = {})
{
	const context = await browser.newContext({
		viewport: { width, height },
		acceptDownloads: true,
	});
	const page = await context.newPage();
	const errors = [];
	page.on('console', message => {
		if (message.type() === 'error')
			errors.push(message.text());
	});
	page.on('pageerror', error => errors.push(String(error)));
	await page.goto(`${base}/${hash}`);
	await page.waitForSelector('body[data-ready="true"]');
	return { page, context, errors };
}

export async function api(base, route, init = {})
{
	const headers = { Accept: 'application/json', ...(init.headers || {}) };
	if (init.body !== undefined && typeof init.body !== 'string') {
		headers['Content-Type'] = 'application/json';
		init = { ...init, body: JSON.stringify(init.body) };
	}
	const response = await fetch(`${base}${route}`, { ...init, headers });
	const text = await response.text();
	let body = null;
	try {
		body = text ? JSON.parse(text) : null;
	} catch (err) {
		body = text;
	}
	return { status: response.status, body, text, headers: response.headers };
}

/* The run statuses a run ends with, as the server's catalog says (its
 * vocabulary's run_statuses, each with "final"). */
const finalStatuses = new Map();

async function finalOf(base)
{
	if (!finalStatuses.has(base)) {
		const { status, body } = await api(base, '/api/workloads');
		if (status !== 200)
			throw new Error(`GET /api/workloads: ${status}`);
		finalStatuses.set(base, new Set(body.vocabulary.run_statuses
			.filter((s) => s.final).map((s) => s.name)));
	}
	return finalStatuses.get(base);
}

/* Waits until run id has finished, by its status in the API. */
export async function waitForRun(base, id, timeoutMs = 60000)
{
	const deadline = Date.now() + timeoutMs;
	const finished = await finalOf(base);
	for (;;) {
		const { status, body } = await api(base, `/api/runs/${id}`);
		if (status === 200 && body && body.run &&
		    finished.has(body.run.status))
			return body;
		if (Date.now() > deadline)
			throw new Error(`run ${id} did not finish: ${status} ` +
					JSON.stringify(body && body.run));
		await delay(100);
	}
}

/* The server and the browser of a test file: started before its first
 * test, stopped after its last (node:test's hooks, registered here).
 * Returns a holder whose server and browser are set once started. */
export function serveAndBrowse()
{
	const env = { server: null, browser: null };
	before(async () => {
		env.server = await startServer();
		env.browser = await launchBrowser();
	});
	after(async () => {
		await env.browser?.close();
		await env.server?.stop();
	});
	return env;
}

/* Presses lesson id on a fresh page of the server at base; returns the
 * page (openPage's) and the note shown above the view, with the run's
 * trace when kind is 'run', or the compare's or sweep's id (ref). */
export async function pressLesson(browser, base, id, kind = 'run')
{
	const opened = await openPage(browser, base);
	const { page } = opened;
	await page.locator(`[data-lesson="${id}"]`).click();
	const prefix = `#${kind}=`;
	await page.waitForFunction(p => location.hash.startsWith(p), prefix);
	const ref = decodeURIComponent((await page.evaluate(() =>
		location.hash)).slice(prefix.length));
	let trace = null;
	if (kind === 'run') {
		trace = await waitForRun(base, ref, 180000);
		await page.waitForSelector('#timeline[data-complete="true"]',
					   { timeout: 120000 });
	} else if (kind === 'compare') {
		await page.waitForSelector(
			'#compare-bars[data-complete="true"]',
			{ timeout: 200000 });
	} else {
		await page.waitForSelector(
			'#sweep-speedup[data-complete="true"]',
			{ timeout: 200000 });
	}
	const note = await page.textContent('#lesson-note');
	return { ...opened, trace, ref, note };
}

/* The legend's button for state is shown (the run entered it). */
export async function legendShows(page, state)
{
	return page.evaluate(name => [...document.querySelectorAll(
		'#legend .legend-item')].some(b => !b.classList.contains('absent') &&
		b.textContent.trim() === name), state);
}

/* Saves build/screenshots/NAME.png: the whole page, or with
 * {fullPage: false} what the window shows. */
export async function screenshot(page, name, { fullPage = true } = {})
{
	const dir = path.join(BUILD, 'screenshots');
	await mkdir(dir, { recursive: true });
	const file = path.join(dir, `${name}.png`);
	await page.screenshot({ path: file, fullPage });
	return file;
}

/* Reads the catalog and returns the entry of workload or model name. */
export function entry(list, name)
{
	return (list || []).find(item => item.name === name) || null;
}

/* Resolves after two animation frames: what a resize has set in motion
 * (Chart.js redraws on a ResizeObserver) has happened by then. */
export function settle(page)
{
	return page.evaluate(() => new Promise(resolve =>
		requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

/* Elements wider than the page that no scrolling box contains. */
export async function overflowReport(page)
{
	await settle(page);
	return page.evaluate(() => {
		const width = document.documentElement.clientWidth;
		const wide = [];
		for (const node of document.querySelectorAll('body *')) {
			const rect = node.getBoundingClientRect();
			if (rect.width === 0 || node.closest('[hidden]'))
				continue;
			if (rect.right > width + 0.5 || rect.left < -0.5) {
				const inScroller = (() => {
					for (let p = node.parentElement; p;
					     p = p.parentElement) {
						const style = getComputedStyle(p);
						if (/(auto|scroll|hidden)/.test(
							style.overflowX) &&
						    p.getBoundingClientRect()
							    .right <= width + 0.5)
							return true;
					}
					return false;
				})();
				if (!inScroller && !node.classList.contains('skip'))
					wide.push(`${node.tagName.toLowerCase()}` +
						  `${node.id ? '#' + node.id : ''}` +
						  `.${node.className} ` +
						  `${Math.round(rect.left)}..` +
						  `${Math.round(rect.right)}`);
			}
		}
		return {
			scrollWidth: document.documentElement.scrollWidth,
			clientWidth: width,
			wide,
		};
	});
}
