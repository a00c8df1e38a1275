/*
 * bench: the page with 100,000 segments, measured in the browser (run by
 * `make bench`; prints markdown table rows).
 *
 * Two runs of 100,000 segments each, both started from the form and
 * followed live: 100,000 fetches of one sleep each (100,000 rows, thinner
 * than a pixel) and 1,000 tasks of 100 steps each (rows of 100 segments).
 * For each:
 *
 *  - from the last event to the timeline fully drawn: the page marks
 *    "overlap:last-event" when the stream's end event arrives and
 *    "overlap:drawn" after the chart update that includes it;
 *  - the same run opened from its deep link (the stored trace, one
 *    request, read in a worker): from navigation to drawn, and when the
 *    trace was read and the rows made;
 *  - panning: 120 animation frames, each panning the chart a few pixels
 *    (the zoom plugin's pan, as a drag does); the work per frame (pan,
 *    update, paint) and the interval between frames.
 */

import { startServer, launchBrowser, openPage, api } from './harness.mjs';

const PAN_FRAMES = 120;

function quantile(values, q)
{
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1,
			       Math.floor(q * sorted.length))];
}

const ms = v => `${v.toFixed(1)} ms`;

async function runFromForm(page, setup)
{
	await page.getByLabel('Workload', { exact: true })
		.selectOption(setup.workload);
	for (const [name, value] of Object.entries(setup.params)) {
		const field = page.locator(`[data-field="params.${name}"]`);
		const select = field.locator('select');
		if (await select.count())
			await select.selectOption(value);
		else
			await field.locator('input, textarea').fill(value);
	}
	await page.getByLabel('Model', { exact: true })
		.selectOption(setup.model);
	await page.getByRole('button', { name: 'Run', exact: true }).click();
	await page.waitForFunction(() => /^#run=/.test(location.hash));
	await page.waitForSelector('#timeline[data-complete="true"]',
				   { timeout: 600000 });
	const id = decodeURIComponent(
		(await page.evaluate(() => location.hash)).slice(5));
	const marks = await page.evaluate(() => {
		const get = name => performance.getEntriesByName(name)
			.map(m => m.startTime).pop();
		return { last: get('overlap:last-event'),
			 drawn: get('overlap:drawn') };
	});
	/* A run that ended before the page asked for it is read from the
	 * stored trace, and has no last event. */
	return { id, lastToDrawn: marks.last === undefined ? null :
		marks.drawn - marks.last };
}

/* Pans by a few pixels per animation frame; returns the work per frame
 * and the intervals between frames, in ms. */
function panFrames(page)
{
	return page.evaluate(async frames => {
		const chart = window.Chart.getChart('timeline');
		chart.zoom({ x: 4 }, 'none');	/* room to pan both ways */
		const work = [];
		const gaps = [];
		let last = null;
		for (let i = 0; i < frames; i++) {
			const now = await new Promise(resolve =>
				requestAnimationFrame(resolve));
			if (last !== null)
				gaps.push(now - last);
			last = now;
			const start = performance.now();
			chart.pan({ x: i % 60 < 30 ? -6 : 6, y: 0 }, undefined,
				  'none');
			work.push(performance.now() - start);
		}
		return { work, gaps };
	}, PAN_FRAMES);
}

async function main()
{
	const server = await startServer();
	const browser = await launchBrowser();
	const rows = [];
	try {
		const catalog = (await api(server.base, '/api/workloads')).body;
		const model = catalog.models.some(m => m.name === 'asyncio') ?
			'asyncio' : 'thread-pool';
		const steps = Array(50).fill('sleep 1ms, cpu 10us').join(', ');
		const setups = [
			{ label: '100,000 tasks x 1 segment', workload: 'fetch',
			  model, params: { tasks: '100000', duration: '200',
					   io: 'sleep' } },
			{ label: '1,000 tasks x 100 segments',
			  workload: 'custom', model,
			  params: { program: `1000 x (${steps})` } },
		];
		for (const setup of setups) {
			const { page, context, errors } =
				await openPage(browser, server.base);
			const run = await runFromForm(page, setup);
			const trace = (await api(server.base,
						 `/api/runs/${run.id}`)).body;
			const segments = trace.segments.length;
			await context.close();

			const reopened = await openPage(browser, server.base,
				{ hash: `#run=${encodeURIComponent(run.id)}` });
			await reopened.page.waitForSelector(
				'#timeline[data-complete="true"]',
				{ timeout: 120000 });
			const opened = await reopened.page.evaluate(() => {
				const at = name => {
					const m = performance
						.getEntriesByName(name).pop();
					return m ? m.startTime : NaN;
				};
				return { drawn: at('overlap:drawn'),
					 read: at('overlap:trace-read'),
					 rows: at('overlap:rows-made') };
			});
			const loadMs = opened.drawn;
			const pan = await panFrames(reopened.page);
			await reopened.context.close();
			const problems = [...errors, ...reopened.errors];
			if (problems.length)
				throw new Error(`console errors: ${problems}`);

			const name = `${setup.label} (${segments.toLocaleString(
				'en-US')} segments, ${model})`;
			rows.push([`page: last event to timeline drawn, ${name}`,
				   run.lastToDrawn === null ?
					'n/a (the run ended before the page ' +
					'followed it)' : ms(run.lastToDrawn),
				   '<= 1000 ms']);
			rows.push([`page: deep link to timeline drawn, ${name}`,
				   `${ms(loadMs)} (trace read ${ms(opened.read)}, ` +
				   `rows made ${ms(opened.rows)})`,
				   '<= 1000 ms']);
			rows.push([`page: pan frame work, median / p95, ${name}`,
				   `${ms(quantile(pan.work, 0.5))} / ` +
				   `${ms(quantile(pan.work, 0.95))}`,
				   '<= 16 ms']);
			rows.push([`page: frame interval while panning, median / ` +
				   `p95, ${name}`,
				   `${ms(quantile(pan.gaps, 0.5))} / ` +
				   `${ms(quantile(pan.gaps, 0.95))}`,
				   '<= 16.7 ms (60 Hz)']);
		}
	} finally {
		await browser.close();
		await server.stop();
	}
	console.log('| measure | value | target |');
	console.log('| --- | --- | --- |');
	for (const row of rows)
		console.log(`| ${row.join(' | ')} |`);
}

main().catch(error => {
	console.error(`bench.mjs: ${error.stack || error}`);
	process.exit(1);
});
