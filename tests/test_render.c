/*
 * test_render: the ASCII timeline, the Chrome trace and the NDJSON lines.
 *
 * The ASCII views are golden files: tests/data/ascii_<case>/trace.json is a
 * fixed synthetic trace and expected.txt its drawing.  The trace is built
 * here too, and must equal the stored one, so the golden input cannot drift
 * from the code that made it.  OVERLAP_UPDATE_GOLDEN=1 rewrites both files
 * (look at the diff before committing it).  The textbook picture itself is
 * checked line by line in the test.
 *
 * The Chrome export is parsed back and checked for what Perfetto needs:
 * every field, and no two slices overlapping on one track.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render.h"
#include "summary.h"
#include "trace_json.h"
#include "util.h"

#define MS NS_PER_MS
#define S NS_PER_S

/* ---- synthetic traces --------------------------------------------------- */

static void set_run(struct trace *t, const char *workload, const char *model)
{
	trace_init(t);
	util_strlcpy(t->id, "20261122-120000-test", sizeof(t->id));
	util_strlcpy(t->workload, workload, sizeof(t->workload));
	util_strlcpy(t->model, model, sizeof(t->model));
	t->params = json_object();
	t->options = json_object();
	t->status = RUN_DONE;
	util_strlcpy(t->started_at, "2026-11-22T12:00:00Z",
		     sizeof(t->started_at));
	t->host.cores = 2;
	util_strlcpy(t->host.kernel, "Linux 6.1.0", sizeof(t->host.kernel));
	util_strlcpy(t->host.engine, "overlap 0.1.0", sizeof(t->host.engine));
	t->host.cpu_iters_per_ms = 250000.0;
}

static struct trace_lane *add_lane(struct trace *t, enum lane_kind kind,
				   const char *name, int64_t os_id)
{
	struct trace_lane *l = trace_add_lane(t);

	l->kind = (uint8_t)kind;
	util_strlcpy(l->name, name, sizeof(l->name));
	l->os_id = os_id;
	return l;
}

static void add_task(struct trace *t, const char *name, uint32_t lane,
		     int64_t submit, int64_t start, int64_t end,
		     enum task_status status)
{
	struct trace_task *k = trace_add_task(t);

	trace_task_set_name(t, k, name);
	k->lane = lane;
	k->submit_ns = submit;
	k->start_ns = start;
	k->end_ns = end;
	k->status = (uint8_t)status;
}

static void add_seg(struct trace *t, uint32_t task, uint32_t lane,
		    enum seg_state st, int64_t t0, int64_t t1, const char *note)
{
	struct trace_segment *s = trace_add_segment(t);

	*s = (struct trace_segment){
		t0, t1, task, lane, trace_note(t, note), (uint8_t)st, false};
}

/* The textbook case: three 2 s fetches one after another. */
static void build_sequential(struct trace *t)
{
	set_run(t, "fetch", "sequential");
	add_lane(t, LANE_MAIN, "main", 100);
	for (uint32_t i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "request %u", i + 1);
		add_task(t, name, 0, 0, i * 2 * S, (i + 1) * 2 * S, TASK_OK);
		add_seg(t, i, 0, ST_SLEEP, i * 2 * S, (i + 1) * 2 * S, NULL);
	}
	summary_compute(t);
}

/* A two-worker pool with most states, a failed task and checks. */
static void build_pool(struct trace *t)
{
	set_run(t, "custom", "thread-pool");
	json_object_set_new(t->options, "workers", json_integer(2));
	json_object_set_new(t->options, "gil", json_string("on"));
	t->cpu_ns = 900 * MS;
	add_lane(t, LANE_MAIN, "main", 100);
	add_lane(t, LANE_THREAD, "worker 1", 101);
	add_lane(t, LANE_THREAD, "worker 2", 102);

	add_task(t, "job 1", 1, 0, 0, 1300 * MS, TASK_OK);
	add_seg(t, 0, 1, ST_COMPUTE, 0, 200 * MS, NULL);
	add_seg(t, 0, 1, ST_IO, 200 * MS, 1200 * MS, NULL);
	add_seg(t, 0, 1, ST_COMPUTE, 1200 * MS, 1300 * MS, NULL);

	add_task(t, "job 2", 2, 0, 0, 1400 * MS, TASK_OK);
	add_seg(t, 1, 2, ST_GIL_WAIT, 0, 200 * MS, NULL);
	add_seg(t, 1, 2, ST_COMPUTE, 200 * MS, 400 * MS, NULL);
	add_seg(t, 1, 2, ST_IO, 400 * MS, 1400 * MS, NULL);

	add_task(t, "job 3", 1, 0, 1300 * MS, 2000 * MS, TASK_OK);
	add_seg(t, 2, 0, ST_QUEUED, 0, 1300 * MS, NULL);
	add_seg(t, 2, 1, ST_LOCK_WAIT, 1300 * MS, 1500 * MS, "lock A");
	add_seg(t, 2, 1, ST_COMPUTE, 1500 * MS, 2000 * MS, NULL);

	add_task(t, "job 4", 2, 0, 1400 * MS, 2700 * MS, TASK_OK);
	add_seg(t, 3, 0, ST_QUEUED, 0, 1400 * MS, NULL);
	add_seg(t, 3, 2, ST_SLEEP, 1400 * MS, 2400 * MS, NULL);
	add_seg(t, 3, 2, ST_BACKOFF, 2400 * MS, 2700 * MS, NULL);

	add_task(t, "job 5 with a long name", 1, 0, 2000 * MS, 2600 * MS,
		 TASK_ERROR);
	t->tasks[4].note = trace_note(t, "worker killed by signal 9 (SIGKILL)");
	add_seg(t, 4, 0, ST_QUEUED, 0, 2000 * MS, NULL);
	add_seg(t, 4, 1, ST_STARTUP, 2000 * MS, 2100 * MS, NULL);
	add_seg(t, 4, 1, ST_IPC, 2100 * MS, 2200 * MS, NULL);
	add_seg(t, 4, 1, ST_SEM_WAIT, 2200 * MS, 2600 * MS, "sem");

	for (int i = 0; i < 4; i++) {
		struct trace_sample *m = trace_add_sample(t);

		*m = (struct trace_sample){i * 500 * MS, 3 - i,
					   CTR_QUEUE_DEPTH};
	}
	t->summary.checks = json_pack("{s:i, s:i, s:i}", "expected", 5, "got",
				      4, "lost", 1);
	summary_compute(t);
}

/* More tasks than rows: 45 short sleeps under asyncio, one deadlocked. */
static void build_many(struct trace *t)
{
	set_run(t, "fetch", "asyncio");
	add_lane(t, LANE_LOOP, "loop", 100);
	for (uint32_t i = 0; i < 45; i++) {
		char name[16];
		int64_t t0 = i * 10 * MS;

		snprintf(name, sizeof(name), "request %u", i + 1);
		add_task(t, name, 0, 0, t0, i == 44 ? -1 : t0 + 500 * MS,
			 i == 44 ? TASK_PENDING : TASK_OK);
		add_seg(t, i, 0, ST_SLEEP, t0, t0 + (i == 44 ? 100 : 500) * MS,
			NULL);
	}
	t->status = RUN_DEADLOCK;
	util_strlcpy(t->message,
		     "deadlock: request 45 waits for event 'go' to be set",
		     sizeof(t->message));
	t->summary.max_loop_lag_ns = 1500 * 1000;
	summary_compute(t);
}

/* ---- helpers ------------------------------------------------------------ */

static char *render_to_string(const struct trace *t, const struct ascii_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(render_ascii(t, o, f), 0);
	fclose(f);
	return buf;
}

static const char *testdata(void)
{
	const char *dir = getenv("OVERLAP_TESTDATA");

	return dir && *dir ? dir : "tests/data";
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Line n (0-based) of text, in buf. */
static const char *line_of(const char *text, int n, char *buf, size_t size)
{
	const char *p = text, *end;

	while (n-- > 0) {
		p = strchr(p, '\n');
		if (!p)
			return "";
		p++;
	}
	end = strchr(p, '\n');
	if (!end)
		end = p + strlen(p);
	if ((size_t)(end - p) >= size)
		return "";
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return buf;
}

/* ---- ASCII -------------------------------------------------------------- */

static void test_ascii_textbook(void **state)
{
	static const char *const want[] = {
		"fetch under sequential, 3 tasks",
		"request 1: |\u2500\u2500wait 2.0s\u2500\u2500|",
		"request 2:               |\u2500\u2500wait 2.0s\u2500\u2500|",
		"request 3:                             "
		"|\u2500\u2500wait 2.0s\u2500\u2500|",
		"Total: 6.00 s",
		"Legend: | start, end   \u2500 sleep",
	};
	struct ascii_opts o = {.width = 54, .unicode = true};
	struct trace t;
	char *out, line[256];

	(void)state;
	build_sequential(&t);
	out = render_to_string(&t, &o);
	for (int i = 0; i < 6; i++)
		assert_string_equal(line_of(out, i, line, sizeof(line)),
				    want[i]);
	assert_string_equal(line_of(out, 6, line, sizeof(line)), "");
	free(out);

	o.unicode = false;
	out = render_to_string(&t, &o);
	assert_string_equal(line_of(out, 3, line, sizeof(line)),
			    "request 3:                             "
			    "|--wait 2.0s--|");
	free(out);
	trace_free(&t);
}

/* A compare draws every run on the longest run's axis: the same 6 s run
 * on a 12 s axis takes half the columns. */
static void test_ascii_shared_axis(void **state)
{
	struct ascii_opts o = {
		.width = 54, .unicode = false, .axis_ns = 12 * S};
	struct trace t;
	char *out, line[256];

	(void)state;
	build_sequential(&t);
	out = render_to_string(&t, &o);
	assert_string_equal(line_of(out, 1, line, sizeof(line)),
			    "request 1: |------|");
	assert_string_equal(line_of(out, 3, line, sizeof(line)),
			    "request 3:               |------|");
	assert_string_equal(line_of(out, 4, line, sizeof(line)),
			    "Total: 6.00 s");
	free(out);
	trace_free(&t);
}

/* Every line fits the width, whatever it is. */
static void test_ascii_width(void **state)
{
	static const int widths[] = {60, 72, 80, 100, 160};
	struct trace t;

	(void)state;
	build_pool(&t);
	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		struct ascii_opts o = {
			.width = widths[w], .unicode = true, .summary = true};
		char *out = render_to_string(&t, &o), *p = out;
		int rows = 0;

		while (*p) {
			char *end = strchr(p, '\n');
			size_t cols = 0;

			assert_non_null(end);
			for (char *q = p; q < end; q++)
				cols += ((unsigned char)*q & 0xc0) != 0x80;
			*end = '\0';
			/* A task's note may be longer than the width. */
			if (!strstr(p, ": error: "))
				assert_true(cols <= (size_t)widths[w]);
			if (strncmp(p, "job ", 4) == 0 &&
			    !strstr(p, ": error: "))
				rows++;
			p = end + 1;
		}
		assert_int_equal(rows, 5);
		free(out);
	}
	trace_free(&t);
}

/* The lines under the timeline say each word once: a task's status after
 * its name, and a run's message that already names the status
 * ("deadlock: ...") without the status before it again. */
static void test_ascii_run_status(void **state)
{
	static const struct {
		enum run_status status;
		const char *message;
		enum task_status task_status;
		const char *task_note;
		const char *want_run;  /* the "Run status" line; NULL: none */
		const char *want_task; /* the line about request 2 */
	} cases[] = {
		{RUN_DEADLOCK, "deadlock: request 2 waits for lock 'A'",
		 TASK_PENDING, "",
		 "Run status: deadlock: request 2 waits for lock 'A'",
		 "request 2 did not finish"},
		{RUN_CANCELLED, "", TASK_CANCELLED, "", "Run status: cancelled",
		 "request 2: cancelled"},
		{RUN_ERROR, "errors in 1 task", TASK_ERROR, "boom",
		 "Run status: error: errors in 1 task",
		 "request 2: error: boom"},
		{RUN_DONE, "", TASK_TIMEOUT, "", NULL, "request 2: timeout"},
	};
	struct ascii_opts o = {.width = 80};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct trace t;
		char *out;

		build_sequential(&t);
		t.status = (uint8_t)cases[i].status;
		util_strlcpy(t.message, cases[i].message, sizeof(t.message));
		t.tasks[1].status = (uint8_t)cases[i].task_status;
		t.tasks[1].note = trace_note(&t, cases[i].task_note);
		out = render_to_string(&t, &o);
		print_message("case %zu\n", i);
		if (cases[i].want_run) {
			const char *at = strstr(out, cases[i].want_run);

			assert_non_null(at);
			assert_int_equal(at[strlen(cases[i].want_run)], '\n');
		} else {
			assert_null(strstr(out, "Run status"));
		}
		assert_non_null(strstr(out, cases[i].want_task));
		assert_null(strstr(out, "deadlock: deadlock"));
		assert_null(strstr(out, "ended with"));
		free(out);
		trace_free(&t);
	}
}

/* checks.explain ends the diagnosis (summary.c), so the checks line leaves
 * it out instead of saying it twice. */
static void test_ascii_checks_explain(void **state)
{
	struct ascii_opts o = {.width = 200, .unicode = false, .summary = true};
	struct trace t;
	char *out;

	(void)state;
	build_sequential(&t);
	json_decref(t.summary.checks);
	t.summary.checks = json_pack("{s:i, s:s}", "got", 7, "explain",
				     "Seven because of the loop.");
	summary_compute(&t);
	out = render_to_string(&t, &o);
	assert_non_null(strstr(out, "Checks            got 7\n"));
	assert_non_null(strstr(out, "Seven because of the loop."));
	assert_null(strstr(out, "explain"));
	free(out);
	trace_free(&t);
}

static const struct golden_case {
	const char *dir;
	void (*build)(struct trace *t);
	struct ascii_opts opts;
} golden_cases[] = {
	{"ascii_unicode",
	 build_pool,
	 {.width = 80, .unicode = true, .summary = true}},
	{"ascii_plain",
	 build_pool,
	 {.width = 72, .unicode = false, .summary = true}},
	{"ascii_many",
	 build_many,
	 {.width = 70, .unicode = false, .summary = true}},
	{"ascii_textbook",
	 build_sequential,
	 {.width = 60, .unicode = true, .summary = true}},
};

static void test_ascii_golden(void **state)
{
	bool update = getenv("OVERLAP_UPDATE_GOLDEN") &&
		      strcmp(getenv("OVERLAP_UPDATE_GOLDEN"), "1") == 0;

	(void)state;
	for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]);
	     i++) {
		const struct golden_case *c = &golden_cases[i];
		char trace_path[512], want_path[512], err[200];
		struct trace built, stored;
		json_t *built_json, *stored_json;
		char *got, *want;

		snprintf(trace_path, sizeof(trace_path), "%s/%s/trace.json",
			 testdata(), c->dir);
		snprintf(want_path, sizeof(want_path), "%s/%s/expected.txt",
			 testdata(), c->dir);
		c->build(&built);
		built_json = trace_to_json(&built);
		if (update) {
			char *text;

			assert_int_equal(json_dump_file(built_json, trace_path,
							JSON_INDENT(1)),
					 0);
			text = render_to_string(&built, &c->opts);
			write_file(want_path, text);
			free(text);
			print_message("rewrote %s\n", want_path);
		}

		stored_json = json_load_file(trace_path, 0, NULL);
		if (!stored_json)
			fail_msg("%s: missing or not JSON", trace_path);
		/* The stored input is what the builder makes today. */
		assert_true(json_equal(stored_json, built_json));
		trace_init(&stored);
		assert_int_equal(trace_from_json(stored_json, &stored, err,
						 sizeof(err)),
				 0);
		got = render_to_string(&stored, &c->opts);
		want = read_file(want_path);
		if (!want)
			fail_msg("%s: missing", want_path);
		if (strcmp(got, want) != 0)
			fail_msg("%s differs; got:\n%s", want_path, got);
		free(got);
		free(want);
		json_decref(stored_json);
		json_decref(built_json);
		trace_free(&stored);
		trace_free(&built);
	}
}

/* ---- Chrome ------------------------------------------------------------- */

/* Two segments of one task that overlap must land on different tracks. */
static void build_overlapping(struct trace *t)
{
	build_pool(t);
	add_seg(t, 0, 1, ST_IO, 600 * MS, 900 * MS, "extra");
	t->lanes[2].kind = LANE_PROCESS; /* worker 2 as its own process */
}

struct slice {
	int64_t pid, tid, t0, t1;
};

static int slice_cmp(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

static bool has_meta(json_t *events, const char *name, int64_t pid, int64_t tid)
{
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e) {
		const char *ph = json_string_value(json_object_get(e, "ph"));

		if (ph && strcmp(ph, "M") == 0 &&
		    strcmp(json_string_value(json_object_get(e, "name")),
			   name) == 0 &&
		    json_integer_value(json_object_get(e, "pid")) == pid &&
		    (tid < 0 ||
		     json_integer_value(json_object_get(e, "tid")) == tid) &&
		    json_is_string(json_object_get(json_object_get(e, "args"),
						   "name")))
			return true;
	}
	return false;
}

static void test_chrome(void **state)
{
	struct trace t;
	json_t *chrome, *parsed, *events, *e, *other;
	struct slice *slices;
	size_t n_slices = 0, i, counters = 0, depth_samples = 0;
	char *text;
	bool saw_other_pid = false;

	(void)state;
	build_overlapping(&t);
	chrome = render_chrome(&t);
	text = json_dumps(chrome, JSON_COMPACT);
	parsed = json_loads(text, 0, NULL);
	assert_non_null(parsed);
	assert_string_equal(
		json_string_value(json_object_get(parsed, "displayTimeUnit")),
		"ms");
	other = json_object_get(parsed, "otherData");
	assert_true(json_is_object(other));
	assert_string_equal(json_string_value(json_object_get(other, "model")),
			    "thread-pool");
	assert_non_null(json_object_get(other, "speedup"));
	assert_non_null(json_object_get(other, "why"));
	events = json_object_get(parsed, "traceEvents");
	assert_true(json_is_array(events));
	slices = calloc(json_array_size(events), sizeof(*slices));

	json_array_foreach(events, i, e) {
		const char *ph = json_string_value(json_object_get(e, "ph"));
		json_t *args = json_object_get(e, "args");

		assert_non_null(ph);
		assert_true(json_is_integer(json_object_get(e, "pid")));
		if (strcmp(ph, "X") == 0) {
			const char *name =
				json_string_value(json_object_get(e, "name"));
			double ts = json_number_value(json_object_get(e, "ts"));
			double dur =
				json_number_value(json_object_get(e, "dur"));
			struct slice *s = &slices[n_slices++];

			assert_true(seg_state_parse(name) >= 0);
			assert_string_equal(
				json_string_value(json_object_get(e, "cat")),
				name);
			assert_true(json_is_number(json_object_get(e, "ts")));
			assert_true(json_is_number(json_object_get(e, "dur")));
			assert_true(json_is_integer(json_object_get(e, "tid")));
			assert_true(
				json_is_string(json_object_get(args, "task")));
			assert_true(
				json_is_string(json_object_get(args, "lane")));
			assert_true(
				json_is_string(json_object_get(args, "note")));
			s->pid = json_integer_value(json_object_get(e, "pid"));
			s->tid = json_integer_value(json_object_get(e, "tid"));
			s->t0 = json_integer_value(
				json_object_get(args, "t0_ns"));
			s->t1 = json_integer_value(
				json_object_get(args, "t1_ns"));
			/* microseconds */
			assert_true(ts * 1000.0 > s->t0 - 1 &&
				    ts * 1000.0 < s->t0 + 1);
			assert_true(dur * 1000.0 > s->t1 - s->t0 - 1 &&
				    dur * 1000.0 < s->t1 - s->t0 + 1);
			assert_true(has_meta(events, "thread_name", s->pid,
					     s->tid));
			assert_true(
				has_meta(events, "process_name", s->pid, -1));
			if (s->pid != 1) {
				assert_int_equal(s->pid, 102);
				saw_other_pid = true;
			}
		} else if (strcmp(ph, "C") == 0) {
			const char *name =
				json_string_value(json_object_get(e, "name"));

			assert_true(json_is_number(json_object_get(e, "ts")));
			if (strcmp(name, "tasks") == 0) {
				assert_true(json_is_integer(
					json_object_get(args, "computing")));
				assert_true(json_is_integer(
					json_object_get(args, "waiting")));
				assert_true(json_integer_value(json_object_get(
						    args, "computing")) >= 0);
				counters++;
			} else {
				assert_string_equal(name, "queue_depth");
				depth_samples++;
			}
		} else {
			assert_string_equal(ph, "M");
		}
	}
	assert_int_equal(n_slices, t.n_segments);
	assert_true(counters > 2);
	assert_int_equal(depth_samples, 4);
	assert_true(saw_other_pid);

	/* No two slices on one track overlap. */
	qsort(slices, n_slices, sizeof(*slices), slice_cmp);
	for (i = 1; i < n_slices; i++)
		if (slices[i].pid == slices[i - 1].pid &&
		    slices[i].tid == slices[i - 1].tid)
			assert_true(slices[i - 1].t1 <= slices[i].t0);
	free(slices);
	free(text);
	json_decref(parsed);
	json_decref(chrome);
	trace_free(&t);
}

/* The counter of tasks computing and waiting at a known instant. */
static void test_chrome_counts(void **state)
{
	struct trace t;
	json_t *chrome, *e;
	size_t i;
	bool seen = false;

	(void)state;
	build_pool(&t);
	chrome = render_chrome(&t);
	json_array_foreach(json_object_get(chrome, "traceEvents"), i, e) {
		json_t *args = json_object_get(e, "args");

		/* At 200 ms: job 1 waits on I/O, job 2 computes, jobs 3-5
		 * are queued (waiting). */
		if (strcmp(json_string_value(json_object_get(e, "ph")), "C") ==
			    0 &&
		    strcmp(json_string_value(json_object_get(e, "name")),
			   "tasks") == 0 &&
		    json_number_value(json_object_get(e, "ts")) == 200000.0) {
			assert_int_equal(json_integer_value(json_object_get(
						 args, "computing")),
					 1);
			assert_int_equal(json_integer_value(json_object_get(
						 args, "waiting")),
					 4);
			seen = true;
		}
	}
	assert_true(seen);
	json_decref(chrome);
	trace_free(&t);
}

/* ---- NDJSON events ------------------------------------------------------ */

static json_t *one_line(json_t *obj)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *back;

	assert_non_null(obj);
	assert_int_equal(render_ndjson_line(f, obj), 0);
	fclose(f);
	/* exactly one line */
	assert_true(len > 1);
	assert_int_equal(buf[len - 1], '\n');
	assert_null(memchr(buf, '\n', len - 1));
	back = json_loads(buf, 0, NULL);
	assert_non_null(back);
	free(buf);
	json_decref(obj);
	return back;
}

static const char *type_of(json_t *line)
{
	return json_string_value(json_object_get(line, "type"));
}

static void test_events(void **state)
{
	struct trace t;
	json_t *line, *obj;
	struct rec_event open = {.t0_ns = 5,
				 .task = 2,
				 .lane = 1,
				 .note = 1,
				 .type = EV_OPEN,
				 .state = ST_LOCK_WAIT};

	(void)state;
	build_pool(&t);
	t.tasks[3].status = TASK_PENDING;
	t.tasks[3].end_ns = -1;

	line = one_line(render_event_run(&t));
	assert_string_equal(type_of(line), "run");
	obj = json_object_get(line, "run");
	assert_string_equal(json_string_value(json_object_get(obj, "model")),
			    "thread-pool");
	assert_true(json_is_object(json_object_get(obj, "host")));
	json_decref(line);

	line = one_line(render_event_lane(&t, 2));
	assert_string_equal(type_of(line), "lane");
	obj = json_object_get(line, "lane");
	assert_int_equal(json_integer_value(json_object_get(obj, "id")), 2);
	assert_string_equal(json_string_value(json_object_get(obj, "kind")),
			    "thread");
	assert_int_equal(json_integer_value(json_object_get(obj, "os_id")),
			 102);
	json_decref(line);

	line = one_line(render_event_task(&t, 3));
	assert_string_equal(type_of(line), "task");
	obj = json_object_get(line, "task");
	assert_true(json_is_null(json_object_get(obj, "status")));
	assert_true(json_is_null(json_object_get(obj, "end_ns")));
	assert_int_equal(json_integer_value(json_object_get(obj, "start_ns")),
			 1400 * MS);
	json_decref(line);

	line = one_line(render_event_segment(&t, 0));
	assert_string_equal(type_of(line), "segment");
	obj = json_object_get(line, "segment");
	assert_string_equal(json_string_value(json_object_get(obj, "state")),
			    seg_state_name(t.segments[0].state));
	json_decref(line);

	line = one_line(render_event_open(&t, &open));
	assert_string_equal(type_of(line), "open");
	assert_string_equal(json_string_value(json_object_get(line, "state")),
			    "lock-wait");
	assert_string_equal(json_string_value(json_object_get(line, "note")),
			    "lock A");
	assert_int_equal(json_integer_value(json_object_get(line, "t0_ns")), 5);
	json_decref(line);

	line = one_line(render_event_counter(&t, 1));
	assert_string_equal(type_of(line), "counter");
	assert_string_equal(json_string_value(json_object_get(line, "name")),
			    "queue_depth");
	assert_int_equal(json_integer_value(json_object_get(line, "value")), 2);
	json_decref(line);

	line = one_line(render_event_summary(&t));
	assert_string_equal(type_of(line), "summary");
	assert_string_equal(json_string_value(json_object_get(line, "status")),
			    "done");
	obj = json_object_get(line, "summary");
	assert_true(json_is_object(json_object_get(obj, "diagnosis")));
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(obj, "checks"), "lost")),
			 1);
	json_decref(line);

	assert_null(render_event_lane(&t, 99));
	assert_null(render_event_task(&t, 99));
	assert_null(render_event_segment(&t, 9999));
	assert_int_equal(render_ndjson_line(stdout, NULL), -EINVAL);
	trace_free(&t);
}

/* The ready-made sink writes one parseable line per event it knows. */
static void test_ndjson_sink(void **state)
{
	static const struct {
		uint8_t type;
		const char *line_type;
	} cases[] = {
		{EV_LANE_ADD, "lane"},	  {EV_LANE_OS_ID, "lane"},
		{EV_TASK_SUBMIT, "task"}, {EV_TASK_START, "task"},
		{EV_TASK_END, "task"},	  {EV_SEGMENT, "segment"},
		{EV_OPEN, "open"},	  {EV_COUNTER, "counter"},
	};
	struct trace t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char *p, *end;
	size_t n = 0;

	(void)state;
	build_pool(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rec_event ev = {.type = cases[i].type,
				       .task = 1,
				       .lane = 1,
				       .state = ST_IO};

		render_ndjson_sink(f, &t, &ev);
	}
	fclose(f);
	for (p = buf; (end = strchr(p, '\n')); p = end + 1, n++) {
		json_t *line;

		*end = '\0';
		line = json_loads(p, 0, NULL);
		assert_non_null(line);
		assert_string_equal(type_of(line), cases[n].line_type);
		json_decref(line);
	}
	assert_int_equal(n, sizeof(cases) / sizeof(cases[0]));
	free(buf);
	trace_free(&t);
}

/* The lines written without jansson are byte for byte what jansson
 * writes, for every task, segment and open of the fixed traces and for
 * names and notes with every character JSON escapes; a name outside ASCII
 * or a buffer too small is refused, for jansson to do. */
static void assert_same_line(int n, const char *line, json_t *obj)
{
	char *want = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);

	assert_non_null(want);
	assert_true(n >= 0);
	assert_int_equal((size_t)n, strlen(line));
	assert_string_equal(line, want);
	free(want);
	json_decref(obj);
}

static void test_fast_lines(void **state)
{
	void (*builders[])(struct trace *) = {build_sequential, build_pool,
					      build_many};
	char line[1024];

	(void)state;
	for (size_t b = 0; b < sizeof(builders) / sizeof(builders[0]); b++) {
		struct trace t;

		builders[b](&t);
		/* Names and notes that need escaping. */
		add_task(&t, "tab\there \"quoted\" back\\slash\x01\x1f\x7f/", 0,
			 -1, -1, -1, TASK_PENDING);
		add_seg(&t, (uint32_t)t.n_tasks - 1, 0, ST_LOCK_WAIT, 5, 9,
			"lock 'a\"b'\n\r\b\f");
		for (size_t i = 0; i < t.n_tasks; i++)
			assert_same_line(render_line_task(line, sizeof(line),
							  &t, i),
					 line, render_event_task(&t, i));
		for (size_t i = 0; i < t.n_segments; i++) {
			const struct trace_segment *g = &t.segments[i];
			struct rec_event ev = {.type = EV_OPEN,
					       .task = g->task,
					       .lane = g->lane,
					       .state = g->state,
					       .t0_ns = g->t0_ns,
					       .note = g->note};

			assert_same_line(render_line_segment(line, sizeof(line),
							     &t, i),
					 line, render_event_segment(&t, i));
			assert_same_line(render_line_open(line, sizeof(line),
							  &t, &ev),
					 line, render_event_open(&t, &ev));
		}
		/* Out of range, too small, not ASCII: not written. */
		assert_int_equal(render_line_task(line, sizeof(line), &t,
						  t.n_tasks),
				 -1);
		assert_int_equal(render_line_segment(line, sizeof(line), &t,
						     t.n_segments),
				 -1);
		assert_int_equal(render_line_segment(line, 20, &t, 0), -1);
		assert_int_equal(render_line_task(line, 0, &t, 0), -1);
		add_task(&t, "caf\xc3\xa9 1", 0, 0, 1, 2, TASK_OK);
		assert_int_equal(render_line_task(line, sizeof(line), &t,
						  t.n_tasks - 1),
				 -1);
		trace_free(&t);
	}
}

/* ---- streamed exports ---------------------------------------------------- */

/* The whole text of a stream, taken a chunk at a time; *chunks says in
 * how many. */
static char *stream_text(struct render_stream *rs, size_t *chunks)
{
	size_t cap = 1 << 16, used = 0, len;
	char *out = malloc(cap);
	const char *text;
	int rc;

	assert_non_null(rs);
	assert_non_null(out);
	*chunks = 0;
	while ((rc = render_stream_next(rs, &text, &len)) > 0) {
		while (used + len + 1 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + used, text, len);
		used += len;
		(*chunks)++;
	}
	assert_int_equal(rc, 0);
	out[used] = '\0';
	render_stream_free(rs);
	return out;
}

/* A trace bigger than a chunk, with what the writer must escape: quotes,
 * backslashes, control characters and text beyond ASCII in names and
 * notes, sampled counters, a pending task, and checks. */
static void build_large(struct trace *t)
{
	static const char *const notes[] = {
		"",
		"a \"quoted\" note",
		"back\\slash and\ttab",
		"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x99\x82",
		"line\nbreak \x01",
	};

	set_run(t, "custom", "thread-pool");
	json_object_set_new(t->params, "program",
			    json_string("2 x (cpu 5ms, net \"x\")"));
	json_object_set_new(t->options, "workers", json_integer(4));
	add_lane(t, LANE_MAIN, "main", 100);
	add_lane(t, LANE_THREAD, "worker 1", 101);
	add_lane(t, LANE_PROCESS, "worker \xc3\xa9", 4242);
	for (uint32_t i = 0; i < 3000; i++) {
		char name[32];

		snprintf(name, sizeof(name),
			 i % 7 ? "task %u"
			       : "t\xc3\xa2"
				 "che %u",
			 i + 1);
		add_task(t, name, 1 + i % 2, i * MS, i * MS + 10, i * MS + 900,
			 i == 5 ? TASK_PENDING : TASK_OK);
		add_seg(t, i, 1 + i % 2, (enum seg_state)(i % ST__COUNT),
			i * MS + 10, i * MS + 500 + i, notes[i % 5]);
		add_seg(t, i, 1 + i % 2, ST_CONNECT, i * MS + 400, i * MS + 900,
			NULL);
	}
	t->tasks[5].end_ns = -1;
	for (int i = 0; i < 40; i++) {
		struct trace_sample *m = trace_add_sample(t);

		*m = (struct trace_sample){i * 7 * MS, i % 5, CTR_QUEUE_DEPTH};
	}
	util_strlcpy(t->message, "a message with \"quotes\"",
		     sizeof(t->message));
	summary_compute(t);
	json_decref(t->summary.checks);
	t->summary.checks = json_pack("{s:i, s:f, s:[i,i]}", "expected", 5,
				      "ratio", 1e-7, "order", 2, 1);
}

static void assert_stream_equal(const struct trace *t, size_t flags,
				bool chrome)
{
	json_t *tree = chrome ? render_chrome(t) : trace_to_json(t);
	char *want = json_dumps(tree, flags);
	size_t chunks;
	char *got = stream_text(
		chrome ? render_stream_chrome(t, flags & JSON_MAX_INDENT,
					      flags & JSON_ENSURE_ASCII)
		       : render_stream_json(t, flags & JSON_MAX_INDENT,
					    flags & JSON_ENSURE_ASCII),
		&chunks);

	assert_non_null(want);
	if (strcmp(got, want) != 0) {
		size_t i = 0;

		while (got[i] && got[i] == want[i])
			i++;
		print_message("%s differs at byte %zu: got '%.60s', want "
			      "'%.60s'\n",
			      chrome ? "chrome" : "json", i, got + i, want + i);
	}
	assert_string_equal(got, want);
	free(got);
	free(want);
	json_decref(tree);
}

/* A run of the CPython engine: run.engine set, a wait estimated. */
static void build_estimated(struct trace *t)
{
	build_overlapping(t);
	util_strlcpy(t->engine.name, "cpython", sizeof(t->engine.name));
	util_strlcpy(t->engine.version, "3.11.7", sizeof(t->engine.version));
	util_strlcpy(t->engine.build, "gil", sizeof(t->engine.build));
	assert_true(t->n_segments > 0);
	t->segments[t->n_segments - 1].estimated = true;
}

/* The streams write what json_dumps() of the tree builders writes, byte
 * for byte, in the CLI's form (indent 2, ASCII), the server's (compact)
 * and with text beyond ASCII left as it is. */
static void test_stream_equals_tree(void **state)
{
	static void (*const builds[])(struct trace *) = {
		build_sequential,  build_pool,	build_many,
		build_overlapping, build_large, build_estimated};
	static const size_t flags[] = {JSON_INDENT(2) | JSON_ENSURE_ASCII,
				       JSON_COMPACT,
				       JSON_COMPACT | JSON_ENSURE_ASCII,
				       JSON_INDENT(1)};

	(void)state;
	for (size_t b = 0; b < sizeof(builds) / sizeof(builds[0]); b++) {
		struct trace t;

		builds[b](&t);
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			assert_stream_equal(&t, flags[f], false);
			assert_stream_equal(&t, flags[f], true);
		}
		trace_free(&t);
	}
}

/* The stored golden traces, read back and streamed with the indent they
 * were dumped with, are the same bytes as the files; a large trace comes
 * in several chunks. */
static void test_stream_golden(void **state)
{
	struct trace t;
	size_t chunks;
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]);
	     i++) {
		char path[512], err[200];
		char *want;
		json_t *json;

		snprintf(path, sizeof(path), "%s/%s/trace.json", testdata(),
			 golden_cases[i].dir);
		want = read_file(path);
		assert_non_null(want);
		json = json_loads(want, 0, NULL);
		assert_non_null(json);
		trace_init(&t);
		assert_int_equal(trace_from_json(json, &t, err, sizeof(err)),
				 0);
		text = stream_text(render_stream_json(&t, 1, false), &chunks);
		assert_string_equal(text, want);
		free(text);
		free(want);
		json_decref(json);
		trace_free(&t);
	}
	build_large(&t);
	text = stream_text(render_stream_chrome(&t, 2, true), &chunks);
	assert_true(chunks > 3);
	free(text);
	trace_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_textbook),
		cmocka_unit_test(test_ascii_shared_axis),
		cmocka_unit_test(test_ascii_width),
		cmocka_unit_test(test_ascii_run_status),
		cmocka_unit_test(test_ascii_checks_explain),
		cmocka_unit_test(test_ascii_golden),
		cmocka_unit_test(test_stream_equals_tree),
		cmocka_unit_test(test_stream_golden),
		cmocka_unit_test(test_chrome),
		cmocka_unit_test(test_chrome_counts),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_ndjson_sink),
		cmocka_unit_test(test_fast_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
