/*
 * history: the runs the server has stored, newest first (GET /api/runs).
 * Each entry is a link to /#run=ID, which restores the whole view, says
 * what was changed from the defaults (so "crunch · threads" with the GIL
 * on and off read differently), and has a Delete button.  The list is
 * re-read when a run ends or is deleted.
 */

import { listRuns, deleteRun } from './api.js';
import { formatNs, formatDate } from './format.js';
import { el, clear } from './dom.js';

function summaryOf(entry)
{
	return entry.summary || entry;
}

export class HistoryView {
	/* describe(entry): the words for what the entry ran, or '';
	 * onRefreshed() after every new list. */
	constructor({ list, empty, status }, { onDeleted, describe,
					       onRefreshed })
	{
		this.onRefreshed = onRefreshed || null;
		this.compares = new Map();	/* run id -> compare id */
		this.list = list;
		this.empty = empty;
		this.status = status;
		this.onDeleted = onDeleted;
		this.describe = describe || (() => '');
		this.currentId = null;
		this.loading = null;
	}

	setCurrent(id)
	{
		this.currentId = id;
		for (const item of this.list.children)
			item.classList.toggle('current', item.dataset.id === id);
	}

	async refresh()
	{
		let runs;
		try {
			runs = await listRuns();
		} catch (error) {
			this.status.textContent =
				`History unavailable: ${error.message}`;
			return;
		}
		this.status.textContent = '';
		clear(this.list);
		this.empty.hidden = runs.length > 0;
		this.compares.clear();
		for (const entry of runs) {
			this.list.append(this.item(entry));
			if (entry.compare)
				this.compares.set(entry.id, entry.compare);
		}
		this.list.dataset.count = String(runs.length);
		if (this.onRefreshed)
			this.onRefreshed();
	}

	/* The compare run id belongs to, as the last list said, or null. */
	compareOf(id)
	{
		return this.compares.get(id) || null;
	}

	item(entry)
	{
		const id = entry.id || (entry.run && entry.run.id);
		const run = entry.run || entry;
		const item = el('li', 'history-item');
		item.dataset.id = id;
		if (id === this.currentId)
			item.classList.add('current');
		const link = el('a', 'history-link',
				`${run.workload || '?'} · ${run.model || '?'}`);
		link.href = `#run=${encodeURIComponent(id)}`;
		const s = summaryOf(entry);
		const details = [run.status || entry.status || ''];
		if (s && s.wall_ns !== undefined && s.wall_ns !== null)
			details.push(formatNs(s.wall_ns));
		const when = formatDate(run.started_at || entry.started_at ||
					entry.created_at);
		if (when)
			details.push(when);
		const meta = el('span', 'history-meta',
				details.filter(Boolean).join(' · '));
		if (entry.compare) {
			const compare = el('a', 'history-compare', 'compare');
			compare.href =
				`#compare=${encodeURIComponent(entry.compare)}`;
			compare.setAttribute('aria-label',
					     `Open the compare of run ${id}`);
			meta.append(document.createTextNode(' · '), compare);
		}
		const remove = el('button', 'history-delete', 'Delete');
		remove.type = 'button';
		const what = [run.workload, run.model, id].filter(Boolean);
		remove.setAttribute('aria-label',
				    `Delete run ${what.join(' ')}`);
		remove.addEventListener('click', () => this.remove(id, remove));
		const spec = this.describe({ workload: run.workload,
					     model: run.model,
					     params: entry.params || run.params,
					     options: entry.options ||
						     run.options });
		item.append(link);
		if (spec)
			item.append(el('span', 'history-spec', spec));
		item.append(meta, remove);
		return item;
	}

	async remove(id, button)
	{
		button.disabled = true;
		try {
			await deleteRun(id);
		} catch (error) {
			button.disabled = false;
			this.status.textContent =
				`Could not delete: ${error.message}`;
			return;
		}
		if (this.onDeleted)
			this.onDeleted(id);
		await this.refresh();
	}
}
