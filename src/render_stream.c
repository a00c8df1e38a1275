/*
 * render_stream: exports written as a stream of text rather than built as
 * a jansson tree and dumped.  A trace of 100,000 tasks as a tree takes a
 * couple of hundred MiB; as a stream the exporter holds one chunk of text
 * (64 KiB) and, for the Chrome trace, one small record per segment.  The
 * text is what json_dumps() of the tree gives, byte for byte (jsonw.h);
 * the tree builders stay (trace_to_json, render_chrome) for the callers
 * that want a tree and for the tests that hold the two to each other.
 *
 * This file holds the driver, which callers use through render.h, and the
 * trace JSON (format version 1, the fields of trace_to_json in its order);
 * render_chrome.c holds the Chrome trace's steps.
 */
#include "render_stream.h"
#include "trace_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the driver ------------------------------------------------------- */

struct render_stream *render_stream_new(const struct trace *t, unsigned indent,
					bool ascii)
{
	struct render_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->t = t;
	jsonw_init(&s->w, indent, ascii);
	return s;
}

void render_stream_free(struct render_stream *s)
{
	if (!s)
		return;
	if (s->free_priv)
		s->free_priv(s->priv);
	jsonw_free(&s->w);
	free(s);
}

int render_stream_next(struct render_stream *s, const char **text, size_t *len)
{
	size_t have;

	jsonw_peek(&s->w, &have);
	jsonw_taken(&s->w, have); /* what the last call gave is used */
	while (!s->done && render_stream_room(s))
		s->step(s);
	if (s->w.err)
		return s->w.err;
	*text = jsonw_peek(&s->w, len);
	return *len > 0 ? 1 : 0;
}

int render_stream_write(struct render_stream *s, FILE *f)
{
	const char *text;
	size_t len;
	int rc;

	while ((rc = render_stream_next(s, &text, &len)) > 0)
		if (fwrite(text, 1, len, f) != len)
			return -EIO;
	return rc;
}

/* ---- the trace, format version 1 --------------------------------------- */

enum json_phase {
	JP_HEAD, /* format, version, run, "lanes": [ */
	JP_LANES,
	JP_TASKS,
	JP_SEGMENTS,
	JP_COUNTERS,
	JP_SUMMARY, /* ], "summary": ... } */
};

static void time_or_null(struct jsonw *w, const char *key, int64_t ns)
{
	jsonw_key(w, key);
	if (ns < 0)
		jsonw_null(w);
	else
		jsonw_int(w, ns);
}

static void object_or_empty(struct jsonw *w, const char *key, const json_t *obj)
{
	jsonw_key(w, key);
	if (obj) {
		jsonw_value(w, obj);
	} else {
		jsonw_begin_object(w);
		jsonw_end_object(w);
	}
}

static void json_head(struct render_stream *s)
{
	const struct trace *t = s->t;
	struct jsonw *w = &s->w;

	jsonw_begin_object(w);
	jsonw_key(w, "format");
	jsonw_string(w, "overlap-trace");
	jsonw_key(w, "version");
	jsonw_int(w, 1);
	jsonw_key(w, "run");
	jsonw_begin_object(w);
	jsonw_key(w, "id");
	jsonw_string(w, t->id);
	jsonw_key(w, "workload");
	jsonw_string(w, t->workload);
	jsonw_key(w, "model");
	jsonw_string(w, t->model);
	object_or_empty(w, "params", t->params);
	object_or_empty(w, "options", t->options);
	jsonw_key(w, "status");
	jsonw_string(w, run_status_name((enum run_status)t->status));
	jsonw_key(w, "message");
	jsonw_string(w, t->message);
	jsonw_key(w, "started_at");
	jsonw_string(w, t->started_at);
	jsonw_key(w, "cpu_ns");
	jsonw_int(w, t->cpu_ns);
	jsonw_key(w, "host");
	jsonw_begin_object(w);
	jsonw_key(w, "cores");
	jsonw_int(w, t->host.cores);
	jsonw_key(w, "kernel");
	jsonw_string(w, t->host.kernel);
	jsonw_key(w, "engine");
	jsonw_string(w, t->host.engine);
	jsonw_key(w, "cpu_iters_per_ms");
	jsonw_real(w, t->host.cpu_iters_per_ms);
	jsonw_end_object(w);
	if (t->engine.name[0]) {
		json_t *engine = trace_engine_json(&t->engine);

		jsonw_key(w, "engine");
		jsonw_value(w, engine);
		json_decref(engine);
	}
	jsonw_end_object(w);
	jsonw_key(w, "lanes");
	jsonw_begin_array(w);
}

static void json_lane(struct jsonw *w, const struct trace_lane *l)
{
	jsonw_begin_object(w);
	jsonw_key(w, "id");
	jsonw_int(w, l->id);
	jsonw_key(w, "kind");
	jsonw_string(w, lane_kind_name((enum lane_kind)l->kind));
	jsonw_key(w, "name");
	jsonw_string(w, l->name);
	jsonw_key(w, "os_id");
	jsonw_int(w, l->os_id);
	jsonw_end_object(w);
}

static void json_task(struct jsonw *w, const struct trace *t,
		      const struct trace_task *k)
{
	char name[TRACE_TASK_NAME_MAX];

	jsonw_begin_object(w);
	jsonw_key(w, "id");
	jsonw_int(w, k->id);
	jsonw_key(w, "name");
	jsonw_string(w, trace_task_name(t, k, name, sizeof(name)));
	jsonw_key(w, "lane");
	if (k->lane == UINT32_MAX)
		jsonw_null(w);
	else
		jsonw_int(w, k->lane);
	time_or_null(w, "submit_ns", k->submit_ns);
	time_or_null(w, "start_ns", k->start_ns);
	time_or_null(w, "end_ns", k->end_ns);
	jsonw_key(w, "status");
	if (k->status == TASK_PENDING)
		jsonw_null(w);
	else
		jsonw_string(w, task_status_name((enum task_status)k->status));
	jsonw_key(w, "note");
	jsonw_string(w, trace_task_note(t, k));
	jsonw_end_object(w);
}

static void json_segment(struct jsonw *w, const struct trace *t,
			 const struct trace_segment *g)
{
	jsonw_begin_object(w);
	jsonw_key(w, "task");
	jsonw_int(w, g->task);
	jsonw_key(w, "lane");
	jsonw_int(w, g->lane);
	jsonw_key(w, "state");
	jsonw_string(w, seg_state_name((enum seg_state)g->state));
	jsonw_key(w, "t0_ns");
	jsonw_int(w, g->t0_ns);
	jsonw_key(w, "t1_ns");
	jsonw_int(w, g->t1_ns);
	jsonw_key(w, "note");
	jsonw_string(w, g->note < t->n_notes ? t->notes[g->note] : "");
	if (g->estimated) {
		jsonw_key(w, "estimated");
		jsonw_value(w, json_true());
	}
	jsonw_end_object(w);
}

static void json_sample(struct jsonw *w, const struct trace_sample *m)
{
	jsonw_begin_object(w);
	jsonw_key(w, "name");
	jsonw_string(w, trace_counter_name((enum trace_counter)m->counter));
	jsonw_key(w, "t_ns");
	jsonw_int(w, m->t_ns);
	jsonw_key(w, "value");
	jsonw_int(w, m->value);
	jsonw_end_object(w);
}

static void json_summary(struct jsonw *w, const struct trace *t)
{
	const struct trace_summary *m = &t->summary;

	jsonw_key(w, "summary");
	if (!t->has_summary) {
		jsonw_null(w);
		return;
	}
	jsonw_begin_object(w);
	jsonw_key(w, "wall_ns");
	jsonw_int(w, m->wall_ns);
	jsonw_key(w, "task_time_ns");
	jsonw_int(w, m->task_time_ns);
	jsonw_key(w, "speedup");
	jsonw_real(w, m->speedup);
	jsonw_key(w, "parallelism");
	jsonw_real(w, m->parallelism);
	jsonw_key(w, "cpu_util");
	jsonw_real(w, m->cpu_util);
	jsonw_key(w, "peak_inflight");
	jsonw_int(w, m->peak_inflight);
	jsonw_key(w, "states");
	jsonw_begin_object(w);
	for (int st = 0; st < ST__COUNT; st++) {
		jsonw_key(w, seg_state_name((enum seg_state)st));
		jsonw_int(w, m->states_ns[st]);
	}
	jsonw_end_object(w);
	object_or_empty(w, "checks", m->checks);
	jsonw_key(w, "diagnosis");
	jsonw_begin_object(w);
	jsonw_key(w, "bound");
	jsonw_string(w, m->bound);
	jsonw_key(w, "recommend");
	jsonw_string(w, m->recommend);
	jsonw_key(w, "advice");
	jsonw_string(w, m->advice);
	jsonw_key(w, "why");
	jsonw_string(w, m->why);
	jsonw_end_object(w);
	time_or_null(w, "max_loop_lag_ns", m->max_loop_lag_ns);
	time_or_null(w, "peak_memory_bytes", m->peak_memory_bytes);
	time_or_null(w, "memory_per_task_bytes", m->memory_per_task_bytes);
	time_or_null(w, "peak_rss_bytes", m->peak_rss_bytes);
	if (m->has_lane_busy) {
		jsonw_key(w, "lanes");
		jsonw_begin_array(w);
		for (size_t l = 0; l < t->n_lanes; l++) {
			jsonw_begin_object(w);
			jsonw_key(w, "lane");
			jsonw_int(w, t->lanes[l].id);
			jsonw_key(w, "busy_ns");
			jsonw_int(w, t->lanes[l].busy_ns);
			jsonw_key(w, "util");
			jsonw_real(w, m->wall_ns > 0
					      ? (double)t->lanes[l].busy_ns /
							(double)m->wall_ns
					      : 0.0);
			jsonw_end_object(w);
		}
		jsonw_end_array(w);
	}
	jsonw_end_object(w);
}

/* Writes the items of one array from s->i on while there is room; at
 * its end closes it, opens the next (key) and moves to the next phase. */
static void json_step(struct render_stream *s)
{
	const struct trace *t = s->t;
	struct jsonw *w = &s->w;

	switch (s->phase) {
	case JP_HEAD:
		json_head(s);
		break;
	case JP_LANES:
		for (; s->i < t->n_lanes && render_stream_room(s); s->i++)
			json_lane(w, &t->lanes[s->i]);
		if (s->i < t->n_lanes)
			return;
		jsonw_end_array(w);
		jsonw_key(w, "tasks");
		jsonw_begin_array(w);
		break;
	case JP_TASKS:
		for (; s->i < t->n_tasks && render_stream_room(s); s->i++)
			json_task(w, t, &t->tasks[s->i]);
		if (s->i < t->n_tasks)
			return;
		jsonw_end_array(w);
		jsonw_key(w, "segments");
		jsonw_begin_array(w);
		break;
	case JP_SEGMENTS:
		for (; s->i < t->n_segments && render_stream_room(s); s->i++)
			json_segment(w, t, &t->segments[s->i]);
		if (s->i < t->n_segments)
			return;
		jsonw_end_array(w);
		jsonw_key(w, "counters");
		jsonw_begin_array(w);
		break;
	case JP_COUNTERS:
		for (; s->i < t->n_samples && render_stream_room(s); s->i++)
			json_sample(w, &t->samples[s->i]);
		if (s->i < t->n_samples)
			return;
		jsonw_end_array(w);
		break;
	default:
		json_summary(w, t);
		jsonw_end_object(w);
		s->done = true;
		return;
	}
	s->phase++;
	s->i = 0;
}

struct render_stream *render_stream_json(const struct trace *t, unsigned indent,
					 bool ascii)
{
	struct render_stream *s = render_stream_new(t, indent, ascii);

	if (s)
		s->step = json_step;
	return s;
}
