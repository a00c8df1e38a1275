/*
 * render_chrome: the trace in the Trace Event Format, for Perfetto and
 * chrome://tracing.
 *
 * Every segment is a complete ("X") event named and categorised by its
 * state.  The viewers nest events on one track by time and draw overlapping
 * ones wrongly, so the track (tid) is not the lane but the task: a task
 * does one thing at a time, and its row then reads like the ASCII timeline.
 * Should two segments of one task overlap anyway, the later one moves to an
 * extra track of that task instead of corrupting the nesting.  Thread lanes
 * share the run's process (pid 1); a worker process gets its own pid (its
 * real one when known), so Perfetto groups its tasks under it.  Counters
 * ("C") give the tasks computing and waiting over time, and the queue depth
 * when the workload samples it.
 *
 * The same document is also written as a stream (render_stream_chrome):
 * the same helpers place the segments on their tracks, and the events are
 * written one by one instead of appended to a tree.
 */
#include "render.h"

#include <stdlib.h>
#include <string.h>

#include "render_stream.h"

#define RUN_PID 1

/* 24 bytes a segment, for 100,000-task runs: the sort keys are read from
 * the segments through qsort_r's argument rather than copied. */
struct seg_track {
	uint32_t seg;
	int32_t named; /* >= 0: the first segment of a track, which names it
			* (the track's overlap number); -1 otherwise */
	int64_t pid;
	int64_t tid;
};

static int64_t lane_pid(const struct trace *t, uint32_t lane)
{
	const struct trace_lane *l;

	if (lane >= t->n_lanes)
		return RUN_PID;
	l = &t->lanes[lane];
	if (l->kind != LANE_PROCESS)
		return RUN_PID;
	/* Lanes without a known pid still need a process of their own. */
	return l->os_id > RUN_PID ? l->os_id : 1000000 + (int64_t)lane;
}

static int track_cmp(const void *a, const void *b, void *arg)
{
	const struct seg_track *x = a, *y = b;
	const struct trace *t = arg;
	const struct trace_segment *sx = &t->segments[x->seg];
	const struct trace_segment *sy = &t->segments[y->seg];

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (sx->task != sy->task)
		return sx->task < sy->task ? -1 : 1;
	if (sx->t0_ns != sy->t0_ns)
		return sx->t0_ns < sy->t0_ns ? -1 : 1;
	if (sx->t1_ns != sy->t1_ns)
		return sx->t1_ns < sy->t1_ns ? -1 : 1;
	return x->seg < y->seg ? -1 : x->seg > y->seg;
}

static json_t *meta_event(const char *name, int64_t pid, int64_t tid,
			  json_t *args)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", name, "ph", "M",
			 "pid", (json_int_t)pid, "tid", (json_int_t)tid, "args",
			 args);
}

static const char *lane_name(const struct trace *t, uint32_t lane)
{
	return lane < t->n_lanes ? t->lanes[lane].name : "?";
}

static const char *task_name(const struct trace *t, uint32_t task,
			     char buf[TRACE_TASK_NAME_MAX])
{
	if (task >= t->n_tasks)
		return "?";
	return trace_task_name(t, &t->tasks[task], buf, TRACE_TASK_NAME_MAX);
}

/* Names the track of one task in one process, once. */
static void name_track(json_t *events, const struct trace *t,
		       const struct trace_segment *s, int64_t pid, int64_t tid,
		       unsigned extra)
{
	char name[160], task[TRACE_TASK_NAME_MAX];

	if (extra)
		snprintf(name, sizeof(name), "%s on %s (overlap %u)",
			 task_name(t, s->task, task), lane_name(t, s->lane),
			 extra);
	else
		snprintf(name, sizeof(name), "%s on %s",
			 task_name(t, s->task, task), lane_name(t, s->lane));
	json_array_append_new(events,
			      meta_event("thread_name", pid, tid,
					 json_pack("{s:s}", "name", name)));
	json_array_append_new(events,
			      meta_event("thread_sort_index", pid, tid,
					 json_pack("{s:I}", "sort_index",
						   (json_int_t)s->task)));
}

/* Gives every segment a (pid, tid) so that no two on a track overlap, and
 * names each new track in events (when not NULL) as it opens. */
static struct seg_track *assign_tracks(const struct trace *t, json_t *events)
{
	struct seg_track *tr = util_xcalloc(t->n_segments + 1, sizeof(*tr));
	int64_t *track_end = NULL, next_extra_tid = (int64_t)t->n_tasks + 1;
	size_t n_tracks = 0, cap_tracks = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		tr[i].seg = (uint32_t)i;
		tr[i].pid = lane_pid(t, t->segments[i].lane);
		tr[i].named = -1;
	}
	qsort_r(tr, t->n_segments, sizeof(*tr), track_cmp, (void *)t);

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[tr[i].seg];
		bool group_start = i == 0 || tr[i - 1].pid != tr[i].pid ||
				   t->segments[tr[i - 1].seg].task != s->task;
		int64_t *tids;
		size_t k;

		if (group_start)
			n_tracks = 0;
		/* track_end holds pairs (end time, tid) of this group. */
		for (k = 0; k < n_tracks; k++)
			if (track_end[2 * k] <= s->t0_ns)
				break;
		if (k == n_tracks) {
			if (n_tracks == cap_tracks) {
				cap_tracks = cap_tracks ? cap_tracks * 2 : 4;
				track_end = util_xrealloc(
					track_end,
					2 * cap_tracks * sizeof(*track_end));
			}
			tids = &track_end[2 * k];
			tids[1] = k == 0 ? (int64_t)s->task + 1
					 : next_extra_tid++;
			n_tracks++;
			tr[i].named = (int32_t)k;
			if (events)
				name_track(events, t, s, tr[i].pid, tids[1],
					   (unsigned)k);
		}
		track_end[2 * k] = s->t1_ns;
		tr[i].tid = track_end[2 * k + 1];
	}
	free(track_end);
	return tr;
}

static json_t *complete_event(const struct trace *t, const struct seg_track *tr)
{
	const struct trace_segment *s = &t->segments[tr->seg];
	const char *state = seg_state_name(s->state);
	char task[TRACE_TASK_NAME_MAX];

	json_t *ev = json_pack(
		"{s:s, s:s, s:s, s:f, s:f, s:I, s:I,"
		" s:{s:s, s:I, s:s, s:I, s:s, s:I, s:I}}",
		"name", state, "cat", state, "ph", "X", "ts",
		(double)s->t0_ns / 1000.0, "dur",
		(double)(s->t1_ns - s->t0_ns) / 1000.0, "pid",
		(json_int_t)tr->pid, "tid", (json_int_t)tr->tid, "args", "task",
		task_name(t, s->task, task), "task_id", (json_int_t)s->task,
		"lane", lane_name(t, s->lane), "lane_id", (json_int_t)s->lane,
		"note", s->note < t->n_notes ? t->notes[s->note] : "", "t0_ns",
		(json_int_t)s->t0_ns, "t1_ns", (json_int_t)s->t1_ns);

	/* A wait the engine inferred rather than saw (CPython's GIL). */
	if (ev && s->estimated)
		json_object_set_new(json_object_get(ev, "args"), "estimated",
				    json_true());
	return ev;
}

struct count_edge {
	int64_t t_ns;
	int computing, waiting; /* deltas */
};

static int count_edge_cmp(const void *a, const void *b)
{
	const struct count_edge *x = a, *y = b;

	return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

/* "tasks" counter: how many segments compute and wait at each change. */
static void add_task_counters(json_t *events, const struct trace *t)
{
	struct count_edge *e = util_xcalloc(2 * t->n_segments + 1, sizeof(*e));
	size_t n = 0;
	int computing = 0, waiting = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];
		bool comp = s->state == ST_COMPUTE;

		if (s->t1_ns <= s->t0_ns)
			continue;
		e[n++] = (struct count_edge){s->t0_ns, comp, !comp};
		e[n++] = (struct count_edge){s->t1_ns, -comp, -!comp};
	}
	qsort(e, n, sizeof(*e), count_edge_cmp);
	for (size_t i = 0; i < n;) {
		int64_t at = e[i].t_ns;

		for (; i < n && e[i].t_ns == at; i++) {
			computing += e[i].computing;
			waiting += e[i].waiting;
		}
		json_array_append_new(
			events,
			json_pack("{s:s, s:s, s:f, s:i, s:{s:i, s:i}}", "name",
				  "tasks", "ph", "C", "ts", (double)at / 1000.0,
				  "pid", RUN_PID, "args", "computing",
				  computing, "waiting", waiting));
	}
	free(e);
}

static void add_sample_counters(json_t *events, const struct trace *t)
{
	for (size_t i = 0; i < t->n_samples; i++) {
		const struct trace_sample *s = &t->samples[i];
		const char *name = trace_counter_name(s->counter);

		json_array_append_new(events,
				      json_pack("{s:s, s:s, s:f, s:i, s:{s:I}}",
						"name", name, "ph", "C", "ts",
						(double)s->t_ns / 1000.0, "pid",
						RUN_PID, "args", name,
						(json_int_t)s->value));
	}
}

static void name_processes(json_t *events, const struct trace *t)
{
	char name[160];

	snprintf(name, sizeof(name), "overlap: %s under %s", t->workload,
		 t->model);
	json_array_append_new(events,
			      meta_event("process_name", RUN_PID, 0,
					 json_pack("{s:s}", "name", name)));
	for (size_t i = 0; i < t->n_lanes; i++) {
		const struct trace_lane *l = &t->lanes[i];
		int64_t pid = lane_pid(t, (uint32_t)i);

		if (pid == RUN_PID)
			continue;
		if (l->os_id > 0)
			snprintf(name, sizeof(name), "%s (pid %lld)", l->name,
				 (long long)l->os_id);
		else
			snprintf(name, sizeof(name), "%s", l->name);
		json_array_append_new(
			events, meta_event("process_name", pid, 0,
					   json_pack("{s:s}", "name", name)));
		json_array_append_new(
			events, meta_event("process_sort_index", pid, 0,
					   json_pack("{s:I}", "sort_index",
						     (json_int_t)i + 1)));
	}
}

/* otherData: flat strings and numbers, which every viewer shows. */
static json_t *other_data(const struct trace *t)
{
	const struct trace_summary *m = &t->summary;
	char *params = t->params ? json_dumps(t->params, JSON_COMPACT) : NULL;
	char *options = t->options ? json_dumps(t->options, JSON_COMPACT)
				   : NULL;
	json_t *o = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "format",
		"overlap-trace via chrome", "id", t->id, "workload",
		t->workload, "model", t->model, "params",
		params ? params : "{}", "options", options ? options : "{}",
		"status", run_status_name(t->status), "started_at",
		t->started_at, "engine", t->host.engine, "cores",
		t->host.cores);

	free(params);
	free(options);
	if (t->message[0])
		json_object_set_new(o, "message", json_string(t->message));
	if (t->has_summary) {
		char *checks = m->checks ? json_dumps(m->checks, JSON_COMPACT)
					 : NULL;

		json_object_update_new(
			o,
			json_pack("{s:I, s:I, s:f, s:f, s:f, s:I, s:s, s:s,"
				  " s:s, s:s, s:s}",
				  "wall_ns", (json_int_t)m->wall_ns,
				  "task_time_ns", (json_int_t)m->task_time_ns,
				  "speedup", m->speedup, "parallelism",
				  m->parallelism, "cpu_util", m->cpu_util,
				  "peak_inflight", (json_int_t)m->peak_inflight,
				  "bound", m->bound, "recommend", m->recommend,
				  "advice", m->advice, "why", m->why, "checks",
				  checks ? checks : "{}"));
		free(checks);
	}
	return o;
}

json_t *render_chrome(const struct trace *t)
{
	json_t *events = json_array();
	struct seg_track *tracks;

	name_processes(events, t);
	tracks = assign_tracks(t, events);
	for (size_t i = 0; i < t->n_segments; i++)
		json_array_append_new(events, complete_event(t, &tracks[i]));
	free(tracks);
	add_task_counters(events, t);
	add_sample_counters(events, t);
	return json_pack("{s:o, s:s, s:o}", "traceEvents", events,
			 "displayTimeUnit", "ms", "otherData", other_data(t));
}

/* ---- the same, streamed ------------------------------------------------ */

enum chrome_phase {
	CP_HEAD,     /* {"traceEvents": [ and the processes' names */
	CP_NAMES,    /* the tracks' names */
	CP_COMPLETE, /* a complete event per segment */
	CP_COUNTERS, /* the tasks computing and waiting */
	CP_SAMPLES,  /* the workload's own counters */
	CP_TAIL,     /* ], displayTimeUnit, otherData } */
};

struct chrome_priv {
	struct seg_track *tracks;
	struct count_edge *edges;
	size_t n_edges;
	int computing, waiting;
};

static void chrome_priv_free(void *p)
{
	struct chrome_priv *c = p;

	if (!c)
		return;
	free(c->tracks);
	free(c->edges);
	free(c);
}

/* Writes a jansson value (an event built as the tree builds it). */
static void put_event(struct jsonw *w, json_t *ev)
{
	jsonw_value(w, ev);
	json_decref(ev);
}

static void stream_meta(struct jsonw *w, const char *name, int64_t pid,
			int64_t tid, const char *key, const char *text,
			int64_t number)
{
	jsonw_begin_object(w);
	jsonw_key(w, "name");
	jsonw_string(w, name);
	jsonw_key(w, "ph");
	jsonw_string(w, "M");
	jsonw_key(w, "pid");
	jsonw_int(w, pid);
	jsonw_key(w, "tid");
	jsonw_int(w, tid);
	jsonw_key(w, "args");
	jsonw_begin_object(w);
	jsonw_key(w, key);
	if (text)
		jsonw_string(w, text);
	else
		jsonw_int(w, number);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

static void stream_track_name(struct jsonw *w, const struct trace *t,
			      const struct seg_track *tr)
{
	const struct trace_segment *s = &t->segments[tr->seg];
	char name[160], task[TRACE_TASK_NAME_MAX];

	if (tr->named)
		snprintf(name, sizeof(name), "%s on %s (overlap %u)",
			 task_name(t, s->task, task), lane_name(t, s->lane),
			 (unsigned)tr->named);
	else
		snprintf(name, sizeof(name), "%s on %s",
			 task_name(t, s->task, task), lane_name(t, s->lane));
	stream_meta(w, "thread_name", tr->pid, tr->tid, "name", name, 0);
	stream_meta(w, "thread_sort_index", tr->pid, tr->tid, "sort_index",
		    NULL, s->task);
}

static void stream_complete(struct jsonw *w, const struct trace *t,
			    const struct seg_track *tr)
{
	const struct trace_segment *s = &t->segments[tr->seg];
	const char *state = seg_state_name(s->state);
	char task[TRACE_TASK_NAME_MAX];

	jsonw_begin_object(w);
	jsonw_key(w, "name");
	jsonw_string(w, state);
	jsonw_key(w, "cat");
	jsonw_string(w, state);
	jsonw_key(w, "ph");
	jsonw_string(w, "X");
	jsonw_key(w, "ts");
	jsonw_real(w, (double)s->t0_ns / 1000.0);
	jsonw_key(w, "dur");
	jsonw_real(w, (double)(s->t1_ns - s->t0_ns) / 1000.0);
	jsonw_key(w, "pid");
	jsonw_int(w, tr->pid);
	jsonw_key(w, "tid");
	jsonw_int(w, tr->tid);
	jsonw_key(w, "args");
	jsonw_begin_object(w);
	jsonw_key(w, "task");
	jsonw_string(w, task_name(t, s->task, task));
	jsonw_key(w, "task_id");
	jsonw_int(w, s->task);
	jsonw_key(w, "lane");
	jsonw_string(w, lane_name(t, s->lane));
	jsonw_key(w, "lane_id");
	jsonw_int(w, s->lane);
	jsonw_key(w, "note");
	jsonw_string(w, s->note < t->n_notes ? t->notes[s->note] : "");
	jsonw_key(w, "t0_ns");
	jsonw_int(w, s->t0_ns);
	jsonw_key(w, "t1_ns");
	jsonw_int(w, s->t1_ns);
	/* A wait the engine inferred rather than saw (CPython's GIL). */
	if (s->estimated) {
		jsonw_key(w, "estimated");
		jsonw_value(w, json_true());
	}
	jsonw_end_object(w);
	jsonw_end_object(w);
}

/* The counter at the next change of what is computing and waiting. */
static void stream_counter(struct render_stream *rs, struct chrome_priv *c)
{
	struct jsonw *w = &rs->w;
	int64_t at = c->edges[rs->i].t_ns;

	for (; rs->i < c->n_edges && c->edges[rs->i].t_ns == at; rs->i++) {
		c->computing += c->edges[rs->i].computing;
		c->waiting += c->edges[rs->i].waiting;
	}
	jsonw_begin_object(w);
	jsonw_key(w, "name");
	jsonw_string(w, "tasks");
	jsonw_key(w, "ph");
	jsonw_string(w, "C");
	jsonw_key(w, "ts");
	jsonw_real(w, (double)at / 1000.0);
	jsonw_key(w, "pid");
	jsonw_int(w, RUN_PID);
	jsonw_key(w, "args");
	jsonw_begin_object(w);
	jsonw_key(w, "computing");
	jsonw_int(w, c->computing);
	jsonw_key(w, "waiting");
	jsonw_int(w, c->waiting);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

static void stream_sample(struct jsonw *w, const struct trace_sample *m)
{
	const char *name = trace_counter_name(m->counter);

	jsonw_begin_object(w);
	jsonw_key(w, "name");
	jsonw_string(w, name);
	jsonw_key(w, "ph");
	jsonw_string(w, "C");
	jsonw_key(w, "ts");
	jsonw_real(w, (double)m->t_ns / 1000.0);
	jsonw_key(w, "pid");
	jsonw_int(w, RUN_PID);
	jsonw_key(w, "args");
	jsonw_begin_object(w);
	jsonw_key(w, name);
	jsonw_int(w, m->value);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

static void chrome_step(struct render_stream *rs)
{
	const struct trace *t = rs->t;
	struct chrome_priv *c = rs->priv;
	struct jsonw *w = &rs->w;
	size_t n = t->n_segments;

	switch (rs->phase) {
	case CP_HEAD: {
		json_t *names = json_array();
		size_t i;
		json_t *ev;

		jsonw_begin_object(w);
		jsonw_key(w, "traceEvents");
		jsonw_begin_array(w);
		/* A few events: the tree builder's own, written out. */
		name_processes(names, t);
		json_array_foreach(names, i, ev)
			jsonw_value(w, ev);
		json_decref(names);
		break;
	}
	case CP_NAMES:
		for (; rs->i < n && render_stream_room(rs); rs->i++)
			if (c->tracks[rs->i].named >= 0)
				stream_track_name(w, t, &c->tracks[rs->i]);
		if (rs->i < n)
			return;
		break;
	case CP_COMPLETE:
		for (; rs->i < n && render_stream_room(rs); rs->i++)
			stream_complete(w, t, &c->tracks[rs->i]);
		if (rs->i < n)
			return;
		break;
	case CP_COUNTERS:
		while (rs->i < c->n_edges && render_stream_room(rs))
			stream_counter(rs, c);
		if (rs->i < c->n_edges)
			return;
		break;
	case CP_SAMPLES:
		for (; rs->i < t->n_samples && render_stream_room(rs); rs->i++)
			stream_sample(w, &t->samples[rs->i]);
		if (rs->i < t->n_samples)
			return;
		break;
	default:
		jsonw_end_array(w);
		jsonw_key(w, "displayTimeUnit");
		jsonw_string(w, "ms");
		jsonw_key(w, "otherData");
		put_event(w, other_data(t));
		jsonw_end_object(w);
		rs->done = true;
		return;
	}
	rs->phase++;
	rs->i = 0;
}

/* The edges of the "tasks" counter, in time order (add_task_counters). */
static struct count_edge *task_edges(const struct trace *t, size_t *n_out)
{
	struct count_edge *e = calloc(2 * t->n_segments + 1, sizeof(*e));
	size_t n = 0;

	if (!e)
		return NULL;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];
		bool comp = s->state == ST_COMPUTE;

		if (s->t1_ns <= s->t0_ns)
			continue;
		e[n++] = (struct count_edge){s->t0_ns, comp, !comp};
		e[n++] = (struct count_edge){s->t1_ns, -comp, -!comp};
	}
	qsort(e, n, sizeof(*e), count_edge_cmp);
	*n_out = n;
	return e;
}

struct render_stream *render_stream_chrome(const struct trace *t,
					   unsigned indent, bool ascii)
{
	struct render_stream *s = render_stream_new(t, indent, ascii);
	struct chrome_priv *c = calloc(1, sizeof(*c));

	if (!s || !c)
		goto out_free;
	s->priv = c;
	s->free_priv = chrome_priv_free;
	s->step = chrome_step;
	c->tracks = assign_tracks(t, NULL);
	c->edges = task_edges(t, &c->n_edges);
	if (!c->edges)
		goto out_stream;
	return s;

out_free:
	free(c);
out_stream:
	render_stream_free(s);
	return NULL;
}
