/*
 * vocabulary: the words of the contract, as the server's catalog gives
 * them (GET /api/workloads, "vocabulary"; docs/protocol.json describes
 * it).  The segment states with their help, bucket and colours, the
 * activity chart's buckets, the run and task statuses, the parameter kinds
 * and the duration units all come from there, so a state or a status added
 * to the engine reaches the page without a change here.
 *
 * The catalog is read once, before any module that draws a state is
 * evaluated (a top-level await): every list below is complete and fixed
 * by the time the timeline, the legend and the charts are built.  A
 * catalog that cannot be read leaves the lists empty; the page then says
 * so (app.js) and shows no run.
 */

import { getCatalog } from './api.js';

let catalog = null;
let failure = null;
try {
	catalog = await getCatalog();
} catch (error) {
	failure = error;
}

const words = (catalog && catalog.vocabulary) || {};
const list = value => (Array.isArray(value) ? value : []);
const named = entry => (typeof entry === 'string' ? { name: entry } :
	entry);

/* The catalog as read at load; throws the error that kept it away. */
export function loadedCatalog()
{
	if (failure)
		throw failure;
	return catalog;
}

/* {name, help, glyph, bucket, colour, colour_dark, uses_cpu, ...}, in
 * the catalog's order (which is the order of the legend). */
export const STATE_DEFS = list(words.states).map(named)
	.filter(state => state && state.name);

/* {name, label, colour_of}: the activity chart's series, bottom to top. */
export const BUCKET_DEFS = list(words.buckets).map(named)
	.filter(bucket => bucket && bucket.name);

/* {name, final} */
export const RUN_STATUSES = list(words.run_statuses).map(named);

/* The statuses of a run that has ended: nothing more will happen. */
export const FINAL_STATUSES = new Set(RUN_STATUSES
	.filter(status => status.final).map(status => status.name));

/* The statuses of a run stopped from outside (a cancel, the server
 * stopping): every task still going ended then, and the wait it was in
 * was cut at that moment. */
export const STOPPED_STATUSES = new Set(RUN_STATUSES
	.filter(status => status.stopped).map(status => status.name));

export const TASK_STATUSES = list(words.task_statuses).map(named)
	.map(status => status.name);

export const PARAM_KINDS = new Set(list(words.param_kinds).map(named)
	.map(kind => kind.name));

/* Suffix -> nanoseconds ("ms" -> 1e6). */
export const DURATION_UNITS = new Map(list(words.duration_units)
	.map(named).filter(unit => unit.name && unit.ns > 0)
	.map(unit => [unit.name.toLowerCase(), Number(unit.ns)]));
