/*
 * history: the runs the server has stored, newest first (GET /api/runs).
 * Each entry is a link to /#run=ID, which restores the whole view, says
 * what was changed from the defaults (so "crunch · threads" with the GIL
 * on and off read differently), and has a Delete button.  The list is
 * re-read when a run ends or is deleted.
 *
 * The keyboard's Tab stops once on each entry (on the control last used
 * in it, at first its link); the arrow keys move within the entry (left,
 * right: its link, its compare or sweep, its Delete button) and between entries
 * (up, down), as in a grid.  A long history is then one Tab stop per run,
 * not two or three.
 */

import { listRuns, deleteRun } from './api.js';
import { formatNs, formatDate } from './format.js';
import { el, clear } from './dom.js';
import { isFinished } from './trace.js';

function summaryOf(entry)
{
	return entry.summary || entry;
}

export class HistoryView {
	/* describe(entry): the words for what the entry ran, or '';
	 * onRefreshed() after every new list. */
	constructor({ list, empty, status, heading }, { onDeleted, describe,
							onRefreshed })
	{
		this.heading = heading;
		this.onRefreshed = onRefreshed || null;
		this.groups = new Map();	/* run id -> {kind, id} */
		this.list = list;
		this.empty = empty;
		this.status = status;
		this.onDeleted = onDeleted;
		this.describe = describe || (() => '');
		this.currentId = null;
		this.loading = null;
		list.addEventListener('keydown', event => this.key(event));
		list.addEventListener('focusin', event =>
			this.makeTabStop(event.target));
	}

	/* The controls of an entry, in reading order. */
	controls(item)
	{
		return item ? [...item.querySelectorAll('a, button')] : [];
	}

	/* control becomes its entry's one Tab stop. */
	makeTabStop(control)
	{
		const item = control.closest && control.closest('li');
		if (!item || !this.list.contains(item))
			return;
		for (const other of this.controls(item))
			other.tabIndex = other === control ? 0 : -1;
	}

	key(event)
	{
		const control = event.target;
		const item = control.closest('li');
		if (!item)
			return;
		const own = this.controls(item);
		const at = own.indexOf(control);
		const items = [...this.list.children];
		const row = items.indexOf(item);
		let target = null;
		if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
			const step = event.key === 'ArrowRight' ? 1 : -1;
			target = own[(at + step + own.length) % own.length];
		} else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
			const next = items[row + (event.key === 'ArrowDown' ?
				1 : -1)];
			const theirs = this.controls(next);
			/* The same kind of control, else the link. */
			target = theirs.find(c => c.className ===
				control.className) || theirs[0] || null;
		} else if (event.key === 'Home' || event.key === 'End') {
			const edge = items[event.key === 'Home' ? 0 :
				items.length - 1];
			target = this.controls(edge)[0] || null;
		}
		if (!target)
			return;
		event.preventDefault();
		target.focus();
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
		/* A list rebuilt under the keyboard's focus keeps it on the
		 * same control of the same entry. */
		const active = document.activeElement;
		const kept = active && this.list.contains(active) ? {
			id: active.closest('li').dataset.id,
			className: active.classList[0],
		} : null;
		clear(this.list);
		this.empty.hidden = runs.length > 0;
		this.groups.clear();
		for (const entry of runs) {
			this.list.append(this.item(entry));
			if (entry.compare)
				this.groups.set(entry.id, { kind: 'compare',
							    id: entry.compare });
			else if (entry.sweep)
				this.groups.set(entry.id, { kind: 'sweep',
							    id: entry.sweep });
		}
		this.list.dataset.count = String(runs.length);
		if (kept) {
			const target = this.control(kept.id, kept.className);
			if (target)
				target.focus();
		}
		if (this.onRefreshed)
			this.onRefreshed();
	}

	/* The compare or sweep run id belongs to, as the last list said
	 * ({kind, id}), or null. */
	groupOf(id)
	{
		return this.groups.get(id) || null;
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
		const kind = entry.compare ? 'compare' : entry.sweep ? 'sweep' :
			null;
		if (kind) {
			const group = el('a', 'history-compare', kind);
			group.href = `#${kind}=${encodeURIComponent(
				entry[kind])}`;
			group.setAttribute('aria-label',
					   `Open the ${kind} of run ${id}`);
			meta.append(document.createTextNode(' · '), group);
		}
		/* The server cancels a run that has not ended, and keeps
		 * it; the button says which it will do. */
		const status = run.status || entry.status || '';
		const going = status !== '' && !isFinished(status);
		const verb = going ? 'Cancel' : 'Delete';
		const remove = el('button', 'history-delete', verb);
		remove.type = 'button';
		const what = [run.workload, run.model, id].filter(Boolean);
		remove.setAttribute('aria-label',
				    `${verb} run ${what.join(' ')}`);
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
		for (const control of this.controls(item))
			control.tabIndex = control === link ? 0 : -1;
		return item;
	}

	/* The control of class className in the entry of run id, or null. */
	control(id, className)
	{
		const item = [...this.list.children].find(li =>
			li.dataset.id === id);
		return item && className ?
			item.querySelector(`.${className}`) : null;
	}

	/* Deletes (or cancels) run id.  Whoever pressed the button keeps
	 * their place: the focus moves to the button of the same entry (a
	 * cancelled run stays), else of the entry now in its place (or the
	 * one before), else to the heading; never to the page. */
	async remove(id, button)
	{
		const item = button.closest('li');
		const index = [...this.list.children].indexOf(item);
		const hadFocus = document.activeElement === button;
		button.disabled = true;
		let answer;
		try {
			answer = await deleteRun(id);
		} catch (error) {
			button.disabled = false;
			this.status.textContent =
				`Could not delete: ${error.message}`;
			return;
		}
		/* A cancelled run stays, and so does its view. */
		const deleted = !(answer && answer.status === 'cancelled');
		if (deleted && this.onDeleted)
			this.onDeleted(id);
		await this.refresh();
		if (!hadFocus)
			return;
		const items = this.list.children;
		const next = this.control(id, 'history-delete') ||
			(items.length ? items[Math.min(index, items.length - 1)]
				.querySelector('.history-delete') : null);
		if (next)
			next.focus();
		else
			this.heading.focus();
	}
}
