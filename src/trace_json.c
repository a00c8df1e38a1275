/*
 * trace_json: the trace as the contract's JSON (format "overlap-trace",
 * version 1) and back.  Writing builds the parts the NDJSON event lines
 * reuse (run, lane, task, segment, summary); reading checks every field's
 * type, range and word (protocol.h) and names the first bad one by its
 * path ("segments[3].state").  A stored trace is also read from its
 * file an item at a time, so a large one never becomes one JSON tree.
 *
 * About 1,000 lines: both readers share the per-item checks, which keep
 * the error messages one.
 */
#include "trace_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static json_t *json_time(int64_t ns) /* also bytes: null when negative */
{
	return ns < 0 ? json_null() : json_integer(ns);
}

static json_t *json_copy_object(const json_t *obj)
{
	return obj ? json_deep_copy(obj) : json_object();
}

void trace_engine_from_json(const json_t *obj, struct trace_engine *e)
{
	const char *v;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(obj))
		return;
	if ((v = json_string_value(json_object_get(obj, "name"))))
		util_strlcpy(e->name, v, sizeof(e->name));
	if ((v = json_string_value(json_object_get(obj, "version"))))
		util_strlcpy(e->version, v, sizeof(e->version));
	if ((v = json_string_value(json_object_get(obj, "build"))))
		util_strlcpy(e->build, v, sizeof(e->build));
	if ((v = json_string_value(json_object_get(obj, "path"))))
		util_strlcpy(e->path, v, sizeof(e->path));
}

json_t *trace_engine_json(const struct trace_engine *e)
{
	json_t *obj =
		json_pack("{s:s, s:s}", "name", e->name, "version", e->version);

	if (obj && e->build[0])
		json_object_set_new(obj, "build", json_string(e->build));
	if (obj && e->path[0])
		json_object_set_new(obj, "path", json_string(e->path));
	return obj;
}

json_t *trace_run_json(const struct trace *t)
{
	json_t *run = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:I,"
				" s:{s:i, s:s, s:s, s:f}}",
				"id", t->id, "workload", t->workload, "model",
				t->model, "params", json_copy_object(t->params),
				"options", json_copy_object(t->options),
				"status", run_status_name(t->status), "message",
				t->message, "started_at", t->started_at,
				"cpu_ns", (json_int_t)t->cpu_ns, "host",
				"cores", t->host.cores, "kernel",
				t->host.kernel, "engine", t->host.engine,
				"cpu_iters_per_ms", t->host.cpu_iters_per_ms);

	if (run && t->engine.name[0])
		json_object_set_new(run, "engine",
				    trace_engine_json(&t->engine));
	return run;
}

json_t *trace_lane_json(const struct trace_lane *l)
{
	return json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)l->id,
			 "kind", lane_kind_name(l->kind), "name", l->name,
			 "os_id", (json_int_t)l->os_id);
}

json_t *trace_task_json(const struct trace *t, const struct trace_task *k)
{
	char name[TRACE_TASK_NAME_MAX];

	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:s}", "id",
			 (json_int_t)k->id, "name",
			 trace_task_name(t, k, name, sizeof(name)), "lane",
			 k->lane == UINT32_MAX ? json_null()
					       : json_integer(k->lane),
			 "submit_ns", json_time(k->submit_ns), "start_ns",
			 json_time(k->start_ns), "end_ns", json_time(k->end_ns),
			 "status",
			 k->status == TASK_PENDING
				 ? json_null()
				 : json_string(task_status_name(k->status)),
			 "note", trace_task_note(t, k));
}

json_t *trace_segment_json(const struct trace *t, const struct trace_segment *s)
{
	const char *note = s->note < t->n_notes ? t->notes[s->note] : "";
	json_t *seg = json_pack("{s:I, s:I, s:s, s:I, s:I, s:s}", "task",
				(json_int_t)s->task, "lane",
				(json_int_t)s->lane, "state",
				seg_state_name(s->state), "t0_ns",
				(json_int_t)s->t0_ns, "t1_ns",
				(json_int_t)s->t1_ns, "note", note);

	if (seg && s->estimated)
		json_object_set_new(seg, "estimated", json_true());
	return seg;
}

/* summary.lanes: [{lane, busy_ns, util}], util the share of the wall
 * time. */
static json_t *lane_busy_json(const struct trace *t)
{
	const struct trace_summary *m = &t->summary;
	json_t *lanes = json_array();

	for (size_t l = 0; l < t->n_lanes; l++) {
		int64_t busy = t->lanes[l].busy_ns;

		json_array_append_new(
			lanes,
			json_pack("{s:I, s:I, s:f}", "lane",
				  (json_int_t)t->lanes[l].id, "busy_ns",
				  (json_int_t)busy, "util",
				  m->wall_ns > 0
					  ? (double)busy / (double)m->wall_ns
					  : 0.0));
	}
	return lanes;
}

json_t *trace_summary_json(const struct trace *t)
{
	const struct trace_summary *m = &t->summary;
	json_t *states, *out;

	if (!t->has_summary)
		return json_null();
	states = json_object();
	for (int s = 0; s < ST__COUNT; s++)
		json_object_set_new(states, seg_state_name(s),
				    json_integer(m->states_ns[s]));
	out = json_pack("{s:I, s:I, s:f, s:f, s:f, s:I, s:o, s:o,"
			" s:{s:s, s:s, s:s, s:s}, s:o}",
			"wall_ns", (json_int_t)m->wall_ns, "task_time_ns",
			(json_int_t)m->task_time_ns, "speedup", m->speedup,
			"parallelism", m->parallelism, "cpu_util", m->cpu_util,
			"peak_inflight", (json_int_t)m->peak_inflight, "states",
			states, "checks", json_copy_object(m->checks),
			"diagnosis", "bound", m->bound, "recommend",
			m->recommend, "advice", m->advice, "why", m->why,
			"max_loop_lag_ns", json_time(m->max_loop_lag_ns));
	if (out) {
		json_object_set_new(out, "peak_memory_bytes",
				    json_time(m->peak_memory_bytes));
		json_object_set_new(out, "memory_per_task_bytes",
				    json_time(m->memory_per_task_bytes));
		json_object_set_new(out, "peak_rss_bytes",
				    json_time(m->peak_rss_bytes));
	}
	if (out && m->has_lane_busy)
		json_object_set_new(out, "lanes", lane_busy_json(t));
	return out;
}

static json_t *sample_json(const struct trace_sample *s)
{
	return json_pack("{s:s, s:I, s:I}", "name",
			 trace_counter_name(s->counter), "t_ns",
			 (json_int_t)s->t_ns, "value", (json_int_t)s->value);
}

json_t *trace_to_json(const struct trace *t)
{
	json_t *lanes = json_array(), *tasks = json_array();
	json_t *segments = json_array(), *counters = json_array();

	for (size_t i = 0; i < t->n_lanes; i++)
		json_array_append_new(lanes, trace_lane_json(&t->lanes[i]));
	for (size_t i = 0; i < t->n_tasks; i++)
		json_array_append_new(tasks, trace_task_json(t, &t->tasks[i]));
	for (size_t i = 0; i < t->n_segments; i++)
		json_array_append_new(segments,
				      trace_segment_json(t, &t->segments[i]));
	for (size_t i = 0; i < t->n_samples; i++)
		json_array_append_new(counters, sample_json(&t->samples[i]));
	return json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "format",
			 "overlap-trace", "version", 1, "run",
			 trace_run_json(t), "lanes", lanes, "tasks", tasks,
			 "segments", segments, "counters", counters, "summary",
			 trace_summary_json(t));
}

/* ---- reading JSON ------------------------------------------------------- */

/* Reading keeps the path of the value it is at for the error message,
 * e.g. "segments[3].state". */
struct json_reader {
	char *err;
	size_t err_size;
};

static int rd_fail(struct json_reader *r, const char *path, const char *fmt,
		   ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->err && r->err_size)
		snprintf(r->err, r->err_size, "%s: %s", path, what);
	return -EINVAL;
}

static int rd_int(struct json_reader *r, const json_t *obj, const char *path,
		  const char *key, bool nullable, int64_t min, int64_t max,
		  int64_t *out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (nullable && (!v || json_is_null(v))) {
		*out = -1;
		return 0;
	}
	if (!json_is_integer(v))
		return rd_fail(r, where, "expected an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return rd_fail(r, where,
			       "%" PRId64 " is outside %" PRId64 "..%" PRId64,
			       (int64_t)json_integer_value(v), min, max);
	*out = json_integer_value(v);
	return 0;
}

static int rd_real(struct json_reader *r, const json_t *obj, const char *path,
		   const char *key, double *out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_number(v))
		return rd_fail(r, where, "expected a number");
	*out = json_number_value(v);
	return 0;
}

static int rd_str(struct json_reader *r, const json_t *obj, const char *path,
		  const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_string(v))
		return rd_fail(r, where, "expected a string");
	if (json_string_length(v) >= size)
		return rd_fail(r, where, "longer than %zu characters",
			       size - 1);
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int rd_name(struct json_reader *r, const json_t *obj, const char *path,
		   const char *key, int (*parse)(const char *name), int *out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_string(v))
		return rd_fail(r, where, "expected a string");
	*out = parse(json_string_value(v));
	if (*out < 0)
		return rd_fail(r, where, "unknown value \"%.40s\"",
			       json_string_value(v));
	return 0;
}

static int rd_object_copy(struct json_reader *r, const json_t *obj,
			  const char *path, const char *key, json_t **out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_object(v))
		return rd_fail(r, where, "expected an object");
	json_decref(*out);
	*out = json_deep_copy(v);
	return 0;
}

static int read_run(struct json_reader *r, const json_t *run, struct trace *t)
{
	const json_t *host = json_object_get(run, "host");
	int64_t cores, cpu_ns = 0;
	int status;
	int ret;

	if (!json_is_object(run))
		return rd_fail(r, "run", "expected an object");
	if ((ret = rd_str(r, run, "run", "id", t->id, sizeof(t->id))) ||
	    (ret = rd_str(r, run, "run", "workload", t->workload,
			  sizeof(t->workload))) ||
	    (ret = rd_str(r, run, "run", "model", t->model,
			  sizeof(t->model))) ||
	    (ret = rd_object_copy(r, run, "run", "params", &t->params)) ||
	    (ret = rd_object_copy(r, run, "run", "options", &t->options)) ||
	    (ret = rd_name(r, run, "run", "status", run_status_parse,
			   &status)) ||
	    (ret = rd_str(r, run, "run", "started_at", t->started_at,
			  sizeof(t->started_at))))
		return ret;
	t->status = (uint8_t)status;
	if (json_object_get(run, "message") &&
	    (ret = rd_str(r, run, "run", "message", t->message,
			  sizeof(t->message))))
		return ret;
	if (json_object_get(run, "cpu_ns") &&
	    (ret = rd_int(r, run, "run", "cpu_ns", false, 0, INT64_MAX,
			  &cpu_ns)))
		return ret;
	t->cpu_ns = cpu_ns;

	if (!json_is_object(host))
		return rd_fail(r, "run.host", "expected an object");
	if ((ret = rd_int(r, host, "run.host", "cores", false, 0, 1 << 20,
			  &cores)) ||
	    (ret = rd_str(r, host, "run.host", "kernel", t->host.kernel,
			  sizeof(t->host.kernel))) ||
	    (ret = rd_str(r, host, "run.host", "engine", t->host.engine,
			  sizeof(t->host.engine))))
		return ret;
	t->host.cores = (int)cores;
	trace_engine_from_json(json_object_get(run, "engine"), &t->engine);
	if (json_object_get(host, "cpu_iters_per_ms") &&
	    (ret = rd_real(r, host, "run.host", "cpu_iters_per_ms",
			   &t->host.cpu_iters_per_ms)))
		return ret;
	return 0;
}

/* The arrays' items, one at a time: item i of its array.  Reading a
 * stored trace from its file (trace_from_json_fd) hands them over as it
 * parses them, so the whole array is never a tree. */
static int read_lane(struct json_reader *r, const json_t *v, size_t i,
		     struct trace *t)
{
	struct trace_lane *l = trace_add_lane(t);
	int64_t id, os_id;
	int kind;
	char path[48];
	int ret;

	snprintf(path, sizeof(path), "lanes[%zu]", i);
	if (!json_is_object(v))
		return rd_fail(r, path, "expected an object");
	if ((ret = rd_int(r, v, path, "id", false, 0, INT64_MAX, &id)) ||
	    (ret = rd_name(r, v, path, "kind", lane_kind_parse, &kind)) ||
	    (ret = rd_str(r, v, path, "name", l->name, sizeof(l->name))) ||
	    (ret = rd_int(r, v, path, "os_id", false, INT64_MIN, INT64_MAX,
			  &os_id)))
		return ret;
	if ((size_t)id != i)
		return rd_fail(r, path, "id %" PRId64 " is not its index %zu",
			       id, i);
	l->kind = (uint8_t)kind;
	l->os_id = os_id;
	return 0;
}

static int read_task(struct json_reader *r, const json_t *v, size_t i,
		     struct trace *t)
{
	struct trace_task *k = trace_add_task(t);
	const json_t *status;
	int64_t id, lane;
	char name[TRACE_TASK_NAME_MAX], note[TRACE_TASK_NOTE_MAX];
	char path[48];
	int ret;

	snprintf(path, sizeof(path), "tasks[%zu]", i);
	if (!json_is_object(v))
		return rd_fail(r, path, "expected an object");
	if ((ret = rd_int(r, v, path, "id", false, 0, INT64_MAX, &id)) ||
	    (ret = rd_str(r, v, path, "name", name, sizeof(name))) ||
	    (ret = rd_int(r, v, path, "lane", true, 0, (int64_t)t->n_lanes - 1,
			  &lane)) ||
	    (ret = rd_int(r, v, path, "submit_ns", true, 0, INT64_MAX,
			  &k->submit_ns)) ||
	    (ret = rd_int(r, v, path, "start_ns", true, 0, INT64_MAX,
			  &k->start_ns)) ||
	    (ret = rd_int(r, v, path, "end_ns", true, 0, INT64_MAX,
			  &k->end_ns)) ||
	    (ret = rd_str(r, v, path, "note", note, sizeof(note))))
		return ret;
	trace_task_set_name(t, k, name);
	k->note = trace_note(t, note);
	if ((size_t)id != i)
		return rd_fail(r, path, "id %" PRId64 " is not its index %zu",
			       id, i);
	k->lane = lane < 0 ? UINT32_MAX : (uint32_t)lane;
	status = json_object_get(v, "status");
	if (status && !json_is_null(status)) {
		int st;

		if ((ret = rd_name(r, v, path, "status", task_status_parse,
				   &st)))
			return ret;
		if (st == TASK_PENDING) {
			char where[64];

			snprintf(where, sizeof(where), "%s.status", path);
			return rd_fail(r, where,
				       "a pending task's status is "
				       "null");
		}
		k->status = (uint8_t)st;
	}
	return 0;
}

static int read_segment(struct json_reader *r, const json_t *v, size_t i,
			struct trace *t)
{
	struct trace_segment *s = trace_add_segment(t);
	const json_t *note;
	int64_t task, lane;
	int state;
	char path[48];
	int ret;

	snprintf(path, sizeof(path), "segments[%zu]", i);
	if (!json_is_object(v))
		return rd_fail(r, path, "expected an object");
	if ((ret = rd_int(r, v, path, "task", false, 0, (int64_t)t->n_tasks - 1,
			  &task)) ||
	    (ret = rd_int(r, v, path, "lane", false, 0, (int64_t)t->n_lanes - 1,
			  &lane)) ||
	    (ret = rd_name(r, v, path, "state", seg_state_parse, &state)) ||
	    (ret = rd_int(r, v, path, "t0_ns", false, 0, INT64_MAX,
			  &s->t0_ns)) ||
	    (ret = rd_int(r, v, path, "t1_ns", false, s->t0_ns, INT64_MAX,
			  &s->t1_ns)))
		return ret;
	s->task = (uint32_t)task;
	s->lane = (uint32_t)lane;
	s->state = (uint8_t)state;
	s->estimated = json_is_true(json_object_get(v, "estimated"));
	note = json_object_get(v, "note");
	if (note && !json_is_null(note)) {
		if (!json_is_string(note)) {
			char where[64];

			snprintf(where, sizeof(where), "%s.note", path);
			return rd_fail(r, where, "expected a string");
		}
		s->note = trace_note(t, json_string_value(note));
	}
	return 0;
}

static int read_counter(struct json_reader *r, const json_t *v, size_t i,
			struct trace *t)
{
	struct trace_sample *s = trace_add_sample(t);
	int counter;
	char path[48];
	int ret;

	snprintf(path, sizeof(path), "counters[%zu]", i);
	if (!json_is_object(v))
		return rd_fail(r, path, "expected an object");
	if ((ret = rd_name(r, v, path, "name", trace_counter_parse,
			   &counter)) ||
	    (ret = rd_int(r, v, path, "t_ns", false, INT64_MIN, INT64_MAX,
			  &s->t_ns)) ||
	    (ret = rd_int(r, v, path, "value", false, INT64_MIN, INT64_MAX,
			  &s->value)))
		return ret;
	s->counter = (uint8_t)counter;
	return 0;
}

/* summary.lanes, which traces written before it lack: every lane's busy
 * time. */
static int read_lane_busy(struct json_reader *r, const json_t *v,
			  struct trace *t)
{
	size_t i;
	const json_t *item;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return rd_fail(r, "summary.lanes", "expected an array");
	for (size_t l = 0; l < t->n_lanes; l++)
		t->lanes[l].busy_ns = 0;
	json_array_foreach(v, i, item) {
		char path[48];
		int64_t lane, busy;
		int ret;

		snprintf(path, sizeof(path), "summary.lanes[%zu]", i);
		if (!json_is_object(item))
			return rd_fail(r, path, "expected an object");
		if ((ret = rd_int(r, item, path, "lane", false, 0,
				  (int64_t)t->n_lanes - 1, &lane)) ||
		    (ret = rd_int(r, item, path, "busy_ns", false, 0, INT64_MAX,
				  &busy)))
			return ret;
		t->lanes[lane].busy_ns = busy;
	}
	t->summary.has_lane_busy = true;
	return 0;
}

static int read_summary(struct json_reader *r, const json_t *v, struct trace *t)
{
	struct trace_summary *m = &t->summary;
	const json_t *states, *diag, *state_ns;
	const char *name;
	int ret;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return rd_fail(r, "summary", "expected an object or null");
	if ((ret = rd_int(r, v, "summary", "wall_ns", false, 0, INT64_MAX,
			  &m->wall_ns)) ||
	    (ret = rd_int(r, v, "summary", "task_time_ns", false, 0, INT64_MAX,
			  &m->task_time_ns)) ||
	    (ret = rd_real(r, v, "summary", "speedup", &m->speedup)) ||
	    (ret = rd_real(r, v, "summary", "parallelism", &m->parallelism)) ||
	    (ret = rd_real(r, v, "summary", "cpu_util", &m->cpu_util)) ||
	    (ret = rd_int(r, v, "summary", "peak_inflight", false, 0, INT64_MAX,
			  &m->peak_inflight)) ||
	    (ret = rd_int(r, v, "summary", "max_loop_lag_ns", true, 0,
			  INT64_MAX, &m->max_loop_lag_ns)) ||
	    (ret = rd_int(r, v, "summary", "peak_memory_bytes", true, 0,
			  INT64_MAX, &m->peak_memory_bytes)) ||
	    (ret = rd_int(r, v, "summary", "memory_per_task_bytes", true, 0,
			  INT64_MAX, &m->memory_per_task_bytes)) ||
	    (ret = rd_int(r, v, "summary", "peak_rss_bytes", true, 0, INT64_MAX,
			  &m->peak_rss_bytes)) ||
	    (ret = rd_object_copy(r, v, "summary", "checks", &m->checks)))
		return ret;

	states = json_object_get(v, "states");
	if (!json_is_object(states))
		return rd_fail(r, "summary.states", "expected an object");
	json_object_foreach((json_t *)states, name, state_ns) {
		char where[64];
		int s = seg_state_parse(name);

		snprintf(where, sizeof(where), "summary.states.%.30s", name);
		if (s < 0)
			return rd_fail(r, where, "unknown state");
		if (!json_is_integer(state_ns) ||
		    json_integer_value(state_ns) < 0)
			return rd_fail(r, where,
				       "expected a non-negative integer");
		m->states_ns[s] = json_integer_value(state_ns);
	}

	diag = json_object_get(v, "diagnosis");
	if (!json_is_object(diag))
		return rd_fail(r, "summary.diagnosis", "expected an object");
	if ((ret = rd_str(r, diag, "summary.diagnosis", "bound", m->bound,
			  sizeof(m->bound))) ||
	    (ret = rd_str(r, diag, "summary.diagnosis", "recommend",
			  m->recommend, sizeof(m->recommend))) ||
	    (ret = rd_str(r, diag, "summary.diagnosis", "why", m->why,
			  sizeof(m->why))))
		return ret;
	/* advice came later: a trace without it has none. */
	if (json_object_get(diag, "advice") &&
	    (ret = rd_str(r, diag, "summary.diagnosis", "advice", m->advice,
			  sizeof(m->advice))))
		return ret;
	if ((ret = read_lane_busy(r, json_object_get(v, "lanes"), t)))
		return ret;
	t->has_summary = true;
	return 0;
}

/* format, version and run: what the arrays' items are read against. */
static int read_head(struct json_reader *r, const json_t *root, struct trace *t)
{
	const json_t *format = json_object_get(root, "format");
	const json_t *version = json_object_get(root, "version");

	if (!json_is_string(format) ||
	    strcmp(json_string_value(format), "overlap-trace") != 0)
		return rd_fail(r, "format", "expected \"overlap-trace\"");
	if (!json_is_integer(version) || json_integer_value(version) != 1)
		return rd_fail(r, "version", "expected 1");
	return read_run(r, json_object_get(root, "run"), t);
}

typedef int (*read_item_fn)(struct json_reader *r, const json_t *v, size_t i,
			    struct trace *t);

static int read_array(struct json_reader *r, const json_t *root,
		      const char *key, bool optional, struct trace *t,
		      read_item_fn read)
{
	const json_t *arr = json_object_get(root, key), *v;
	size_t i;
	int ret;

	if (!arr && optional)
		return 0;
	if (!json_is_array(arr))
		return rd_fail(r, key, "expected an array");
	json_array_foreach(arr, i, v)
		if ((ret = read(r, v, i, t)))
			return ret;
	return 0;
}

int trace_from_json(const json_t *root, struct trace *t, char *err,
		    size_t err_size)
{
	struct json_reader r = {.err = err, .err_size = err_size};
	int ret;

	if (err && err_size)
		err[0] = '\0';
	if (!json_is_object(root))
		return rd_fail(&r, "trace", "expected an object");
	if ((ret = read_head(&r, root, t)) ||
	    (ret = read_array(&r, root, "lanes", false, t, read_lane)) ||
	    (ret = read_array(&r, root, "tasks", false, t, read_task)) ||
	    (ret = read_array(&r, root, "segments", false, t, read_segment)) ||
	    (ret = read_array(&r, root, "counters", true, t, read_counter)) ||
	    (ret = read_summary(&r, json_object_get(root, "summary"), t)))
		return ret;
	return 0;
}

/* ---- reading a trace file a piece at a time ----------------------------- */

/* A stored trace of 100,000 tasks is some 30 MB of text, and a jansson
 * tree of it several times that.  Read from its file, the small members
 * (format, version, run, summary) are trees of their own and the arrays
 * are parsed one item at a time, each item's text found by a scan that
 * counts brackets outside strings and handed to jansson alone.  The items
 * are checked against what came before them (a task's lane against the
 * lanes), so the file must give its members in the engine's order:
 * format, version and run before the arrays, lanes before tasks before
 * segments.  A file in another order is read whole instead, as
 * trace_from_json reads a tree. */

#define SCAN_BLOCK_BYTES 65536
/* The longest member or item read as one piece (a run's params, a
 * summary's checks): a bigger one is not a trace this engine wrote. */
#define SCAN_VALUE_MAX (16u << 20)
/* scan_peek at the end of the file. */
#define SCAN_END 256

struct scan {
	int fd;
	char *buf;
	size_t cap;
	size_t len; /* bytes in buf */
	size_t off; /* buf[off..len) is read and not yet taken */
	bool eof;
};

/* Reads more of the file behind what is not yet taken, moving that to
 * the front and growing the buffer when it is full.  Returns 1 (more
 * bytes), 0 (end of the file) or a negative errno. */
static int scan_more(struct scan *s)
{
	ssize_t n;

	if (s->eof)
		return 0;
	if (s->off > 0) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : SCAN_BLOCK_BYTES;
		char *buf;

		if (cap > SCAN_VALUE_MAX)
			return -E2BIG;
		buf = realloc(s->buf, cap);
		if (!buf)
			return -ENOMEM;
		s->buf = buf;
		s->cap = cap;
	}
	do
		n = read(s->fd, s->buf + s->len, s->cap - s->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		s->eof = true;
		return 0;
	}
	s->len += (size_t)n;
	return 1;
}

/* The next character after white space, not taken; SCAN_END at the end
 * of the file, or a negative errno. */
static int scan_peek(struct scan *s)
{
	for (;;) {
		int rc;

		for (; s->off < s->len; s->off++) {
			char c = s->buf[s->off];

			if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
				return (unsigned char)c;
		}
		rc = scan_more(s);
		if (rc <= 0)
			return rc < 0 ? rc : SCAN_END;
	}
}

/* How long the JSON value at off is: a string, an object or array to its
 * closing bracket, or a word or number to the next separator.  Only the
 * extent is found here; jansson checks the text.  Returns 0 or -EIO (cut
 * short), -E2BIG, -ENOMEM or a read's errno. */
static int scan_extent(struct scan *s, size_t *len)
{
	size_t pos = 0;
	unsigned depth = 0;
	bool in_string = false, escaped = false;

	for (;;) {
		int rc;

		for (; s->off + pos < s->len; pos++) {
			char c = s->buf[s->off + pos];

			if (in_string) {
				if (escaped)
					escaped = false;
				else if (c == '\\')
					escaped = true;
				else if (c == '"') {
					in_string = false;
					if (depth == 0) {
						*len = pos + 1;
						return 0;
					}
				}
				continue;
			}
			switch (c) {
			case '"':
				in_string = true;
				break;
			case '{':
			case '[':
				depth++;
				break;
			case '}':
			case ']':
				if (depth == 0) {
					*len = pos;
					return pos ? 0 : -EIO;
				}
				if (--depth == 0) {
					*len = pos + 1;
					return 0;
				}
				break;
			case ',':
			case ':':
			case ' ':
			case '\t':
			case '\n':
			case '\r':
				if (depth == 0) {
					*len = pos;
					return pos ? 0 : -EIO;
				}
				break;
			}
		}
		rc = scan_more(s);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			/* A number or word may end the file. */
			*len = pos;
			return depth == 0 && !in_string && pos ? 0 : -EIO;
		}
	}
}

/* Parses the next value and takes it: *v is a new reference. */
static int scan_value(struct scan *s, json_t **v)
{
	json_error_t jerr;
	size_t len;
	int rc = scan_peek(s);

	if (rc < 0)
		return rc;
	if (rc == SCAN_END)
		return -EIO;
	if ((rc = scan_extent(s, &len)) < 0)
		return rc;
	*v = json_loadb(s->buf + s->off, len, JSON_DECODE_ANY, &jerr);
	if (!*v)
		return -EIO;
	s->off += len;
	return 0;
}

/* Takes c, the next character after white space. */
static int scan_expect(struct scan *s, int c)
{
	int got = scan_peek(s);

	if (got < 0)
		return got;
	if (got != c)
		return -EIO;
	s->off++;
	return 0;
}

/* The array at off, each item read by read as it is parsed. */
static int scan_array(struct scan *s, struct json_reader *r, read_item_fn read,
		      struct trace *t)
{
	size_t i = 0;
	int c, rc;

	if ((rc = scan_expect(s, '[')) < 0)
		return rc;
	if ((c = scan_peek(s)) == ']') {
		s->off++;
		return 0;
	}
	for (;; i++) {
		json_t *v;

		if ((rc = scan_value(s, &v)) < 0)
			return rc;
		rc = read(r, v, i, t);
		json_decref(v);
		if (rc)
			return rc;
		c = scan_peek(s);
		if (c < 0)
			return c;
		s->off++;
		if (c == ']')
			return 0;
		if (c != ',')
			return -EIO;
	}
}

/* The arrays, in the order their items need each other. */
static const struct {
	const char *key;
	read_item_fn read;
	bool optional;
	unsigned needs; /* bits of the arrays that must come before */
} scan_arrays[] = {
	{"lanes", read_lane, false, 0},
	{"tasks", read_task, false, 1u << 0},
	{"segments", read_segment, false, (1u << 0) | (1u << 1)},
	{"counters", read_counter, true, 0},
};

#define SCAN_IN_ORDER 1 /* scan_members: the members are not in order */

/* The members of the trace object, the arrays read as they come (the
 * head checked before the first of them).  head gathers the small
 * members.  Returns 0, SCAN_IN_ORDER when the file
 * must be read whole, -EINVAL (not a trace: why in r) or another negative
 * errno. */
static int scan_members(struct scan *s, struct json_reader *r, json_t *head,
			struct trace *t, unsigned *seen)
{
	bool head_read = false;
	int c, rc;

	if ((rc = scan_expect(s, '{')) < 0)
		return rc;
	c = scan_peek(s);
	if (c == '}') {
		s->off++;
		return 0;
	}
	for (;;) {
		size_t a,
			n_arrays = sizeof(scan_arrays) / sizeof(scan_arrays[0]);
		json_t *key;
		char name[16] = "";

		if (c != '"')
			return c < 0 ? c : -EIO;
		if ((rc = scan_value(s, &key)) < 0)
			return rc;
		if (json_string_length(key) < sizeof(name))
			snprintf(name, sizeof(name), "%s",
				 json_string_value(key));
		json_decref(key);
		if ((rc = scan_expect(s, ':')) < 0)
			return rc;
		for (a = 0; a < n_arrays; a++)
			if (strcmp(name, scan_arrays[a].key) == 0)
				break;
		if (a < n_arrays) {
			if ((*seen & (1u << a)) ||
			    (*seen & scan_arrays[a].needs) !=
				    scan_arrays[a].needs)
				return SCAN_IN_ORDER;
			if (!head_read) {
				if (!json_object_get(head, "format") ||
				    !json_object_get(head, "version") ||
				    !json_object_get(head, "run"))
					return SCAN_IN_ORDER;
				if ((rc = read_head(r, head, t)))
					return rc;
				head_read = true;
			}
			if (scan_peek(s) != '[')
				return rd_fail(r, name, "expected an array");
			if ((rc = scan_array(s, r, scan_arrays[a].read, t)))
				return rc;
			*seen |= 1u << a;
		} else {
			json_t *v;

			if (head_read && (strcmp(name, "format") == 0 ||
					  strcmp(name, "version") == 0 ||
					  strcmp(name, "run") == 0))
				return SCAN_IN_ORDER;
			if ((rc = scan_value(s, &v)) < 0)
				return rc;
			/* Unknown members are kept only by their name's
			 * first bytes: nothing reads them. */
			if (json_object_set_new(head, name, v) < 0)
				return -ENOMEM;
		}
		c = scan_peek(s);
		if (c < 0)
			return c;
		s->off++;
		if (c == '}')
			break;
		if (c != ',')
			return -EIO;
		c = scan_peek(s);
	}
	return 0;
}

int trace_from_json_fd(int fd, struct trace *t, char *err, size_t err_size)
{
	struct json_reader r = {.err = err, .err_size = err_size};
	struct scan s = {.fd = fd};
	json_t *head = json_object();
	unsigned seen = 0;
	int rc;

	if (err && err_size)
		err[0] = '\0';
	if (!head)
		return -ENOMEM;
	if (scan_peek(&s) != '{') {
		rc = -EIO;
		goto out;
	}
	rc = scan_members(&s, &r, head, t, &seen);
	if (rc == SCAN_IN_ORDER)
		goto whole;
	if (rc)
		goto out;
	if (scan_peek(&s) != SCAN_END) {
		rc = -EIO; /* something after the object */
		goto out;
	}
	/* The head is read as the first array comes; without one, now. */
	if (!seen && (rc = read_head(&r, head, t)))
		goto out;
	for (size_t a = 0; a < sizeof(scan_arrays) / sizeof(scan_arrays[0]);
	     a++)
		if (!(seen & (1u << a)) && !scan_arrays[a].optional) {
			rc = rd_fail(&r, scan_arrays[a].key,
				     "expected an array");
			goto out;
		}
	rc = read_summary(&r, json_object_get(head, "summary"), t);
	goto out;

whole : {
	json_error_t jerr;
	json_t *root;

	trace_free(t);
	trace_init(t);
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = -errno;
		goto out;
	}
	root = json_loadfd(fd, 0, &jerr);
	if (!root) {
		rc = -EIO;
		goto out;
	}
	rc = trace_from_json(root, t, err, err_size);
	json_decref(root);
}
out:
	json_decref(head);
	free(s.buf);
	return rc;
}
