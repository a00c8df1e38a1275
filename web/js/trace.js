/*
 * trace: one run's data as the page holds it, filled either from the live
 * events (apply) or from a stored trace JSON (fromTrace).  Both paths end in
 * the same arrays, so every view draws a live run and a restored one the
 * same way.
 *
 * Segments are only ever appended; views remember how many they have seen
 * and take the new ones on each refresh.  Times stay in nanoseconds, as the
 * contract gives them.
 */

import { stateIndex } from './palette.js';
import { FINAL_STATUSES, STOPPED_STATUSES } from './vocabulary.js';

/* A run in one of the catalog's final statuses has ended. */
export function isFinished(status)
{
	return FINAL_STATUSES.has(status);
}

/* A run stopped from outside (a cancel, the server stopping): every task
 * still going ended then, and the wait it was in was cut at that moment.
 * The catalog says which statuses those are. */
export function isStopped(status)
{
	return STOPPED_STATUSES.has(status);
}

/* How far before its task's end a segment may end and still be the one
 * the stop cut (the engine ends the segment, then the task). */
const CUT_TOLERANCE_NS = 1e6;

const NONE = new Set();

export class RunData {
	constructor(id)
	{
		this.id = id || null;
		this.run = null;	/* the trace's run object */
		this.status = null;
		this.message = '';
		this.lanes = [];	/* by position; laneById maps ids */
		this.laneById = new Map();
		this.tasks = [];
		this.taskById = new Map();
		this.segments = [];	/* {task, lane, state, t0, t1, note} */
		this.open = new Map();	/* task id -> {lane, state, t0, note} */
		this.counters = [];	/* {name, t, value} */
		this.summary = null;
		this.latestNs = 0;	/* the latest time any event named */
		this.ended = false;
		this.statesSeen = new Set();	/* state indices entered */
		this.namesVersion = 0;	/* bumped when a row's name changes */
	}

	/* Builds from a trace JSON object (format overlap-trace, version 1). */
	static fromTrace(trace)
	{
		const data = new RunData(trace.run && trace.run.id);
		data.setRun(trace.run || {});
		for (const lane of trace.lanes || [])
			data.setLane(lane);
		for (const task of trace.tasks || [])
			data.setTask(task);
		for (const seg of trace.segments || [])
			data.addSegment(seg);
		for (const c of trace.counters || [])
			data.counters.push({ name: c.name, t: c.t_ns,
					     value: c.value });
		if (trace.summary)
			data.summary = trace.summary;
		if (isFinished(data.status)) {
			data.ended = true;
			data.open.clear();
		}
		return data;
	}

	/*
	 * Builds from a stored trace whose tasks and segments came as
	 * columns (trace_worker.js): the same rows as fromTrace, made in
	 * one loop each from typed arrays instead of from parsed objects.
	 */
	static fromColumns(trace, columns)
	{
		if (!columns)
			return RunData.fromTrace(trace);
		const data = new RunData(trace.run && trace.run.id);
		const orNull = v => (Number.isNaN(v) ? null : v);
		const { tasks: t, segments: s, notes, statuses } = columns;
		data.setRun(trace.run || {});
		for (const lane of trace.lanes || [])
			data.setLane(lane);
		for (let i = 0; i < t.id.length; i++)
			data.setTask({
				id: t.id[i],
				name: t.names[i],
				lane: orNull(t.lane[i]),
				submit_ns: orNull(t.submit[i]),
				start_ns: orNull(t.start[i]),
				end_ns: orNull(t.end[i]),
				status: t.status[i] ? statuses[t.status[i]] : null,
				note: notes[t.note[i]],
			});
		const stateOf = columns.states.map(name => stateIndex(name));
		for (let i = 0; i < s.t0.length; i++) {
			const task = s.task[i];
			const lane = s.lane[i];
			const state = stateOf[s.state[i]];
			data.ensureTask(task);
			data.ensureLane(lane);
			data.statesSeen.add(state);
			data.segments.push({ task, lane, state, t0: s.t0[i],
					     t1: s.t1[i], note: notes[s.note[i]] });
			data.seen(s.t1[i]);
		}
		for (const c of trace.counters || [])
			data.counters.push({ name: c.name, t: c.t_ns,
					     value: c.value });
		if (trace.summary)
			data.summary = trace.summary;
		if (isFinished(data.status)) {
			data.ended = true;
			data.open.clear();
		}
		return data;
	}

	setRun(run)
	{
		this.run = run;
		if (run.id)
			this.id = run.id;
		if (run.status)
			this.status = run.status;
		if (run.message)
			this.message = run.message;
	}

	setLane(lane)
	{
		const known = this.laneById.get(lane.id);
		if (known) {
			if (lane.name && lane.name !== known.name)
				this.namesVersion++;
			Object.assign(known, lane);
			return;
		}
		const copy = { ...lane };
		this.laneById.set(lane.id, copy);
		this.lanes.push(copy);
		this.namesVersion++;
	}

	setTask(task)
	{
		const known = this.taskById.get(task.id);
		if (known) {
			if (task.name && task.name !== known.name)
				this.namesVersion++;
			Object.assign(known, task);
		} else {
			const copy = { ...task };
			this.taskById.set(task.id, copy);
			this.tasks.push(copy);
			this.namesVersion++;
		}
		if (task.end_ns !== null && task.end_ns !== undefined) {
			this.open.delete(task.id);
			this.seen(task.end_ns);
		}
	}

	/* Tasks named by segments before their task event still get a row. */
	ensureTask(id)
	{
		if (!this.taskById.has(id))
			this.setTask({ id, name: `task ${id}`, lane: null });
	}

	ensureLane(id)
	{
		if (!this.laneById.has(id))
			this.setLane({ id, kind: 'thread', name: `lane ${id}` });
	}

	addSegment(seg)
	{
		this.ensureTask(seg.task);
		this.ensureLane(seg.lane);
		const state = stateIndex(seg.state);
		this.statesSeen.add(state);
		this.segments.push({
			task: seg.task,
			lane: seg.lane,
			state,
			t0: seg.t0_ns,
			t1: seg.t1_ns,
			note: seg.note || '',
			/* Inferred, not observed (CPython's GIL waits). */
			estimated: seg.estimated === true,
		});
		const open = this.open.get(seg.task);
		if (open && open.t0 <= seg.t0_ns)
			this.open.delete(seg.task);
		this.seen(seg.t1_ns);
	}

	seen(ns)
	{
		if (ns > this.latestNs)
			this.latestNs = ns;
	}

	/* Applies one live event {name, data}. */
	apply(name, data)
	{
		switch (name) {
		case 'run':
			this.setRun(data.run || data);
			break;
		case 'lane':
			this.setLane(data.lane || data);
			break;
		case 'task':
			this.setTask(data.task || data);
			break;
		case 'open':
			this.ensureTask(data.task);
			this.ensureLane(data.lane);
			this.open.set(data.task, {
				lane: data.lane,
				state: stateIndex(data.state),
				t0: data.t0_ns,
				note: data.note || '',
			});
			this.statesSeen.add(stateIndex(data.state));
			this.seen(data.t0_ns);
			break;
		case 'segment':
			this.addSegment(data.segment || data);
			break;
		case 'counter':
			this.counters.push({ name: data.name, t: data.t_ns,
					     value: data.value });
			this.seen(data.t_ns);
			break;
		case 'summary':
			this.summary = data.summary || null;
			if (data.status)
				this.status = data.status;
			if (data.message)
				this.message = data.message;
			this.open.clear();
			break;
		case 'status':
			if (data.status)
				this.status = data.status;
			if (data.message)
				this.message = data.message;
			break;
		case 'end':
			if (data && data.status)
				this.status = data.status;
			if (data && data.message)
				this.message = data.message;
			this.ended = true;
			this.open.clear();
			break;
		default:
			break;
		}
	}

	/*
	 * The segments a stop cut short (a set of segment objects): in a run
	 * cancelled or interrupted, the last segment of each task that did
	 * not finish its work, when it ends with the task.  The trace does
	 * not mark them; this is read from its structure.
	 */
	cutSegments()
	{
		if (!this.ended || !isStopped(this.status))
			return NONE;
		if (this.cut && this.cut.count === this.segments.length)
			return this.cut.set;
		const last = new Map();
		for (const seg of this.segments) {
			const known = last.get(seg.task);
			if (!known || seg.t1 > known.t1)
				last.set(seg.task, seg);
		}
		const set = new Set();
		for (const [id, seg] of last) {
			const task = this.taskById.get(id);
			if (!task || task.status === 'ok' ||
			    task.end_ns === null || task.end_ns === undefined)
				continue;
			if (seg.t1 >= task.end_ns - CUT_TOLERANCE_NS)
				set.add(seg);
		}
		this.cut = { count: this.segments.length, set };
		return set;
	}

	/* The segments still open, as segments that end at nowNs. */
	openSegments(nowNs)
	{
		const out = [];
		for (const [task, open] of this.open)
			out.push({ task, lane: open.lane, state: open.state,
				   t0: open.t0, t1: Math.max(nowNs, open.t0) });
		return out;
	}

	/* The run's end, or while it runs the latest time seen. */
	extentNs()
	{
		if (this.summary && this.summary.wall_ns)
			return Math.max(this.summary.wall_ns, this.latestNs);
		return this.latestNs;
	}

	taskName(id)
	{
		const task = this.taskById.get(id);
		return task && task.name ? task.name : `task ${id}`;
	}

	laneName(id)
	{
		const lane = this.laneById.get(id);
		return lane && lane.name ? lane.name : `lane ${id}`;
	}
}
