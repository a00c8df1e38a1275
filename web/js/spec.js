/*
 * spec: what a run was asked to do, in a few words for headings and the
 * history: the workload's parameters and the model's options that differ
 * from the catalog's defaults ("tasks 8 · duration 1.50 s · workers 4").
 * Two runs that differ only in an option (the GIL on or off) read
 * differently, and a run left at its defaults says so.
 *
 * Values arrive in the API's text forms (a trace says "duration": "500",
 * meaning milliseconds, or "1.5s"), so they are compared and shown through
 * the kind the catalog gives them.
 */

import { kindOf, humanName, parseDurationNs } from './form.js';
import { formatNs, formatBytes } from './format.js';

const TEXT_MAX = 48;

function same(def, kind, value)
{
	if (kind === 'duration')
		return Math.abs(parseDurationNs(value) -
				parseDurationNs(def.default)) < 0.5;
	if (kind === 'int' || kind === 'float')
		return Number(value) === Number(def.default);
	return String(value) === String(def.default ?? '');
}

function shown(def, kind, value)
{
	if (kind === 'duration') {
		const ns = parseDurationNs(value);
		return Number.isFinite(ns) ? formatNs(ns) : String(value);
	}
	if (kind === 'int' || kind === 'float') {
		const n = Number(value);
		if (!Number.isFinite(n))
			return String(value);
		/* "payload bytes 8.00 MiB", not 8,388,608 */
		return def.unit === 'bytes' && kind === 'int' ?
			formatBytes(n) : n.toLocaleString('en-US');
	}
	const text = String(value).replace(/\s+/g, ' ').trim();
	return text.length > TEXT_MAX ? `${text.slice(0, TEXT_MAX - 1)}…` :
		text;
}

function changed(defs, values)
{
	const parts = [];
	if (!values)
		return parts;
	for (const def of defs || []) {
		const value = values[def.name];
		if (value === undefined || value === null || value === '')
			continue;
		const kind = kindOf(def);
		if (same(def, kind, value))
			continue;
		parts.push(`${humanName(def.name)} ${shown(def, kind, value)}`);
	}
	return parts;
}

function unionOptions(models)
{
	const byName = new Map();
	for (const model of models || [])
		for (const def of model.options || [])
			if (!byName.has(def.name))
				byName.set(def.name, def);
	return [...byName.values()];
}

/*
 * The words for spec {workload, model, params, options}; model may be
 * absent (a compare).  catalog: GET /api/workloads.  Returns the changed
 * values joined by " · ", or "default settings".
 */
export function specText(catalog, spec)
{
	if (!catalog || !spec)
		return '';
	const find = (list, name) =>
		(list || []).find(item => item.name === name) || null;
	const workload = find(catalog.workloads, spec.workload);
	const model = find(catalog.models, spec.model);
	/* A compare has no one model: its options are those of any model
	 * that has them. */
	const options = model ? model.options : unionOptions(catalog.models);
	const parts = [
		...changed(workload && workload.params, spec.params),
		...changed(options, spec.options),
	];
	return parts.length ? parts.join(' · ') : 'default settings';
}
