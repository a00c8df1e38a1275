/*
 * test_cpython: the reference engine, end to end, in the python3 found on
 * PATH (the tests skip when there is none).  Judged by the trace's
 * structure as test_models judges the models: what overlapped what, what
 * the counter holds, which segments are marked estimated, and that every
 * workload under every model gives a trace the engine's reader accepts.
 * Durations are tens of milliseconds; nothing compares a wall time with a
 * threshold.
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

#include "aio_group.h"
#include "cpython.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "trace_json.h"
#include "util.h"

struct kv {
	const char *key;
	const char *value;
};

static struct cpython_info python;

static int find_python(void **state)
{
	(void)state;
	if (cpython_probe("", &python) < 0)
		print_message("no python3 on PATH: the CPython tests skip\n");
	return 0;
}

static void need_python(void)
{
	if (!python.version[0])
		skip();
}

static void make_spec(struct spec *spec, const char *workload,
		      const char *model, const struct kv *sets)
{
	struct spec_error err = {0};
	int rc = spec_init(spec, workload, model, &err);

	assert_int_equal(rc, 0);
	for (; sets && sets->key; sets++) {
		rc = spec_set(spec, sets->key, sets->value, &err);
		if (rc)
			print_message("%s=%s: %s\n", sets->key, sets->value,
				      err.message);
		assert_int_equal(rc, 0);
	}
	util_strlcpy(spec->engine, SPEC_ENGINE_CPYTHON, sizeof(spec->engine));
	/* The interpreter python3 starts, without its launcher (a pyenv
	 * shim costs more than the run). */
	util_strlcpy(spec->python, python.path, sizeof(spec->python));
	rc = spec_validate(spec, &err);
	if (rc)
		print_message("validate: %s\n", err.message);
	assert_int_equal(rc, 0);
}

static struct trace *run_case(const char *workload, const char *model,
			      const struct kv *sets)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct trace *t = calloc(1, sizeof(*t));
	struct spec_error err = {0};
	int rc;

	assert_non_null(spec);
	assert_non_null(t);
	make_spec(spec, workload, model, sets);
	trace_init(t);
	rc = run_execute(spec, NULL, t, &err);
	if (rc)
		print_message("%s under %s: %s: %s\n", workload, model,
			      err.field, err.message);
	assert_int_equal(rc, 0);
	free(spec);
	return t;
}

static void free_trace(struct trace *t)
{
	trace_free(t);
	free(t);
}

static void assert_status(const struct trace *t, enum run_status want)
{
	if (t->status != want)
		print_message("%s under %s: status %s: %s\n", t->workload,
			      t->model,
			      run_status_name((enum run_status)t->status),
			      t->message);
	assert_int_equal(t->status, want);
}

static const struct trace_segment *
find_segment(const struct trace *t, uint32_t task, enum seg_state state)
{
	for (size_t i = 0; i < t->n_segments; i++)
		if (t->segments[i].task == task &&
		    t->segments[i].state == state)
			return &t->segments[i];
	return NULL;
}

static int64_t check_int(const struct trace *t, const char *key)
{
	json_t *v = json_object_get(t->summary.checks, key);

	assert_true(json_is_integer(v));
	return (int64_t)json_integer_value(v);
}

/* ---- what the lessons claim, in real Python ---------------------------- */

/* Three waits under threads: every pair of waits overlaps in time, and
 * the trace says which interpreter ran them. */
static void test_waits_overlap_under_threads(void **state)
{
	static const struct kv sets[] = {
		{"tasks", "3"}, {"duration", "200ms"}, {NULL, NULL}};
	const struct trace_segment *io[3];
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("fetch", "threads", sets);
	assert_status(t, RUN_DONE);
	assert_string_equal(t->engine.name, "cpython");
	assert_string_equal(t->engine.version, python.version);
	assert_string_equal(t->engine.build, python.build);
	for (uint32_t k = 0; k < 3; k++) {
		io[k] = find_segment(t, k, ST_IO);
		assert_non_null(io[k]);
		/* Each on its own thread lane. */
		assert_int_equal(t->lanes[io[k]->lane].kind, LANE_THREAD);
	}
	for (int a = 0; a < 3; a++)
		for (int b = a + 1; b < 3; b++) {
			assert_true(io[a]->t0_ns < io[b]->t1_ns);
			assert_true(io[b]->t0_ns < io[a]->t1_ns);
			assert_int_not_equal(io[a]->lane, io[b]->lane);
		}
	free_trace(t);
}

/* The same waits one after another: none overlaps the next. */
static void test_waits_queue_up_sequentially(void **state)
{
	static const struct kv sets[] = {
		{"tasks", "3"}, {"duration", "30ms"}, {NULL, NULL}};
	const struct trace_segment *io[3];
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("fetch", "sequential", sets);
	assert_status(t, RUN_DONE);
	for (uint32_t k = 0; k < 3; k++) {
		io[k] = find_segment(t, k, ST_IO);
		assert_non_null(io[k]);
		assert_int_equal(io[k]->lane, 0);
	}
	assert_true(io[0]->t1_ns <= io[1]->t0_ns);
	assert_true(io[1]->t1_ns <= io[2]->t0_ns);
	free_trace(t);
}

/* counter += 1 from 5 threads, 100,000 times each: CPython 3.10 and later
 * switch threads only at calls and backward jumps, never inside the
 * read-modify-write, so nothing is lost; 3.9 and earlier can lose. */
static void test_unlocked_counter_exact_on_310(void **state)
{
	static const struct kv sets[] = {
		{"tasks", "5"}, {"increments", "100000"}, {NULL, NULL}};
	int major = 0, minor = 0;
	struct trace *t;

	(void)state;
	need_python();
	sscanf(python.version, "%d.%d", &major, &minor);
	if (major == 3 && minor < 10)
		skip();
	t = run_case("counter", "threads", sets);
	assert_status(t, RUN_DONE);
	assert_int_equal(check_int(t, "expected"), 500000);
	assert_int_equal(check_int(t, "got"), 500000);
	assert_int_equal(check_int(t, "lost"), 0);
	free_trace(t);
}

/* A call inside the read-modify-write (v = counter; f(); counter = v + 1)
 * is where 3.10+ lets the GIL switch, so threads lose updates on every
 * Python; a million increments a thread outlast many switch intervals
 * however late a thread starts. */
static void test_call_inside_loses_updates(void **state)
{
	static const struct kv sets[] = {{"tasks", "3"},
					 {"increments", "1000000"},
					 {"call", "yes"},
					 {NULL, NULL}};
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("counter", "threads", sets);
	assert_status(t, RUN_DONE);
	assert_int_equal(check_int(t, "expected"), 3000000);
	assert_true(check_int(t, "got") < 3000000);
	assert_int_equal(check_int(t, "lost"), 3000000 - check_int(t, "got"));
	free_trace(t);
}

/* A multiprocessing.Value shared by two worker processes: its += takes
 * its lock for the read and for the write but not around both, so the
 * processes lose updates; inside `with v.get_lock():` none is lost.  A
 * hundred thousand increments a process (about 30 ms) outlast a forked
 * worker's start. */
static void test_value_in_processes(void **state)
{
	static const char *const programs[] = {
		"value v; 2 x (incr v 300000)",
		"value v=get_lock; 2 x (incr v 100000)",
	};

	(void)state;
	need_python();
	for (size_t k = 0; k < 2; k++) {
		struct kv sets[] = {{"program", programs[k]},
				    {"workers", "2"},
				    {NULL, NULL}};
		struct trace *t = run_case("custom", "process-pool", sets);
		int64_t expected = k == 0 ? 600000 : 200000;

		assert_status(t, RUN_DONE);
		assert_int_equal(check_int(t, "expected"), expected);
		if (k == 0)
			assert_true(check_int(t, "got") < expected);
		else
			assert_int_equal(check_int(t, "got"), expected);
		assert_int_equal(check_int(t, "lost"),
				 expected - check_int(t, "got"));
		free_trace(t);
	}
}

/* An Array and a Manager's Value in real Python: two processes with an
 * element each lose nothing and sharing one they lose updates (as the
 * Value above); a Manager's Value's increments are one ipc segment per
 * task noted with its name, and with nothing between a read and its
 * write a sequential run is exact. */
static void test_array_and_manager(void **state)
{
	struct kv own[] = {{"program", "array a=2; 2 x (incr a 100000)"},
			   {"workers", "2"},
			   {NULL, NULL}};
	struct kv shared[] = {{"program", "array a=1; 2 x (incr a 300000)"},
			      {"workers", "2"},
			      {NULL, NULL}};
	struct kv mgr[] = {{"program", "value m=manager; 2 x (incr m 300)"},
			   {"workers", "2"},
			   {NULL, NULL}};
	struct kv mgr_seq[] = {{"program", "value m=manager; 2 x (incr m 50)"},
			       {NULL, NULL}};
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("custom", "process-pool", own);
	assert_status(t, RUN_DONE);
	assert_int_equal(check_int(t, "expected"), 200000);
	assert_int_equal(check_int(t, "got"), 200000);
	free_trace(t);

	t = run_case("custom", "process-pool", shared);
	assert_status(t, RUN_DONE);
	assert_int_equal(check_int(t, "expected"), 600000);
	assert_true(check_int(t, "got") < 600000);
	free_trace(t);

	t = run_case("custom", "process-pool", mgr);
	assert_status(t, RUN_DONE);
	assert_int_equal(check_int(t, "expected"), 600);
	assert_int_equal(check_int(t, "lost"), 600 - check_int(t, "got"));
	for (uint32_t k = 0; k < 2; k++) {
		const struct trace_segment *s = find_segment(t, k, ST_IPC);

		assert_non_null(s);
		assert_string_equal(t->notes[s->note], "m");
		assert_null(find_segment(t, k, ST_COMPUTE));
	}
	free_trace(t);

	t = run_case("custom", "sequential", mgr_seq);
	assert_status(t, RUN_DONE);
	assert_int_equal(check_int(t, "got"), 100);
	free_trace(t);
}

/* multiprocessing.Pipe between two worker processes: the sender's send
 * (ipc, noted with the pipe) ends no earlier than the receiver's wait
 * (queue-wait, noted) begins, and the receiver's recv (ipc) follows its
 * wait; a message larger than the pipe's buffer that nobody receives
 * is a deadlock naming the pipe, not a hang. */
static void test_pipe_between_processes(void **state)
{
	struct kv sets[] = {{"program",
			     "pipe p; (sleep 50ms, send p 256KiB); (recv p)"},
			    {"workers", "2"},
			    {NULL, NULL}};
	struct kv alone[] = {{"program", "pipe p; (send p 1MiB); (recv p)"},
			     {NULL, NULL}};
	const struct trace_segment *sent, *waited, *copied;
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("custom", "process-pool", sets);
	assert_status(t, RUN_DONE);
	sent = find_segment(t, 0, ST_IPC);
	waited = find_segment(t, 1, ST_QUEUE_WAIT);
	copied = find_segment(t, 1, ST_IPC);
	assert_non_null(sent);
	assert_non_null(waited);
	assert_non_null(copied);
	assert_string_equal(t->notes[sent->note], "p");
	assert_string_equal(t->notes[waited->note], "p");
	assert_string_equal(t->notes[copied->note], "p");
	assert_true(sent->t0_ns >= find_segment(t, 0, ST_SLEEP)->t1_ns);
	assert_true(copied->t0_ns >= waited->t1_ns);
	assert_true(waited->t1_ns >= sent->t0_ns);
	free_trace(t);

	t = run_case("custom", "sequential", alone);
	assert_status(t, RUN_DEADLOCK);
	assert_non_null(strstr(t->message, "waits to send into pipe 'p'"));
	free_trace(t);
}

/* Before 3.11, asyncio has no Barrier, and a loop whose program shares
 * other objects (the scraper's semaphore and rate limit) still runs: in
 * the first 3.9 or 3.10 found (PATH, pyenv), when there is one. */
static void test_asyncio_objects_before_311(void **state)
{
	static struct cpython_info found[16];
	static const struct kv sets[] = {{"urls", "4"},
					 {"latency_min", "5ms"},
					 {"latency_max", "10ms"},
					 {"rate", "0"},
					 {NULL, NULL}};
	struct cpython_info old = {0};
	struct trace *t;
	char keep[sizeof(python.path)];

	(void)state;
	size_t n = cpython_discover(found, 16);

	for (size_t i = 0; i < n && !old.version[0]; i++)
		if (strncmp(found[i].version, "3.9.", 4) == 0 ||
		    strncmp(found[i].version, "3.10.", 5) == 0)
			old = found[i];
	if (!old.version[0])
		skip();
	util_strlcpy(keep, python.path, sizeof(keep));
	util_strlcpy(python.path, old.path, sizeof(python.path));
	t = run_case("scraper", "asyncio", sets);
	util_strlcpy(python.path, keep, sizeof(python.path));
	assert_status(t, RUN_DONE);
	assert_string_equal(t->engine.version, old.version);
	free_trace(t);
}

/* An await inside the read-modify-write loses updates on every Python. */
static void test_await_inside_loses_updates(void **state)
{
	static const struct kv sets[] = {{"tasks", "5"},
					 {"increments", "200"},
					 {"await", "yes"},
					 {NULL, NULL}};
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("counter", "asyncio", sets);
	assert_status(t, RUN_DONE);
	assert_int_equal(check_int(t, "expected"), 1000);
	assert_true(check_int(t, "got") < 1000);
	free_trace(t);
}

/* Two CPU tasks under the GIL wait for it; the waits cannot be seen from
 * Python, so every gil-wait is marked estimated, and the mark survives
 * the trace JSON. */
static void test_gil_waits_are_estimated(void **state)
{
	static const struct kv sets[] = {
		{"tasks", "2"}, {"duration", "100ms"}, {NULL, NULL}};
	struct trace *t, back;
	size_t waits = 0, estimated = 0;
	char err[128];
	json_t *j;

	(void)state;
	need_python();
	if (strcmp(python.build, "gil") != 0)
		skip();
	t = run_case("crunch", "threads", sets);
	assert_status(t, RUN_DONE);
	for (size_t i = 0; i < t->n_segments; i++) {
		if (t->segments[i].state == ST_GIL_WAIT) {
			waits++;
			assert_true(t->segments[i].estimated);
		}
		if (t->segments[i].state == ST_COMPUTE)
			assert_false(t->segments[i].estimated);
	}
	assert_true(waits > 0);
	j = trace_to_json(t);
	trace_init(&back);
	assert_int_equal(trace_from_json(j, &back, err, sizeof(err)), 0);
	for (size_t i = 0; i < back.n_segments; i++)
		estimated += back.segments[i].estimated;
	assert_int_equal(estimated, waits);
	trace_free(&back);
	json_decref(j);
	free_trace(t);
}

/* A cpu-nogil step is a duration of the thread's CPU time, as a cpu step
 * is: each task's computation (noted as releasing the GIL) lasts at least
 * the step, its wall time being no less than its CPU time, and nobody
 * waits for the GIL. */
static void test_cpu_nogil_is_cpu_time(void **state)
{
	static const struct kv sets[] = {{"program", "2 x (cpu-nogil 30ms)"},
					 {"gil", "on"},
					 {NULL, NULL}};
	struct trace *t;

	(void)state;
	need_python();
	if (strcmp(python.build, "gil") != 0)
		skip();
	t = run_case("custom", "threads", sets);
	assert_status(t, RUN_DONE);
	for (uint32_t k = 0; k < 2; k++) {
		const struct trace_segment *c = find_segment(t, k, ST_COMPUTE);

		assert_non_null(c);
		assert_string_equal(t->notes[c->note], "releases the GIL");
		assert_true(c->t1_ns - c->t0_ns >= 30 * NS_PER_MS);
		assert_null(find_segment(t, k, ST_GIL_WAIT));
	}
	free_trace(t);
}

/* A consumer that nobody feeds, one task at a time: the run ends as a
 * deadlock that names what the task waits for. */
static void test_deadlock_is_named(void **state)
{
	static const struct kv sets[] = {
		{"program", "queue q=1; put q, put q; get q"}, {NULL, NULL}};
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("custom", "sequential", sets);
	assert_status(t, RUN_DEADLOCK);
	assert_non_null(strstr(t->message, "waits to put into queue 'q'"));
	free_trace(t);
}

/* ---- what it cannot run ------------------------------------------------- */

static void test_gil_off_needs_free_threaded(void **state)
{
	static const struct kv sets[] = {{"gil", "off"}, {NULL, NULL}};
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	struct trace t;

	(void)state;
	need_python();
	if (strcmp(python.build, "gil") != 0)
		skip();
	make_spec(spec, "crunch", "threads", sets);
	trace_init(&t);
	assert_int_equal(run_execute(spec, NULL, &t, &err), -EINVAL);
	assert_string_equal(err.field, "options.gil");
	assert_non_null(strstr(err.message, "free-threaded"));
	trace_free(&t);
	free(spec);
}

static void test_engine_fields_are_checked(void **state)
{
	struct spec spec;
	struct spec_error err = {0};
	json_t *body;

	(void)state;
	/* interpreter-pool is the model's alone: the reference engine's
	 * Python has no InterpreterPoolExecutor. */
	body = json_pack("{s:s, s:s, s:s}", "workload", "crunch", "model",
			 "interpreter-pool", "engine", "cpython");
	assert_int_equal(spec_from_json(body, &spec, &err), -EINVAL);
	assert_string_equal(err.field, "model");
	json_object_set_new(body, "engine", json_string("overlap"));
	assert_int_equal(spec_from_json(body, &spec, &err), 0);
	json_decref(body);
	/* An interpreter only with the cpython engine; no other engines. */
	body = json_pack("{s:s, s:s, s:s}", "workload", "fetch", "model",
			 "threads", "python", "/usr/bin/python3");
	assert_int_equal(spec_from_json(body, &spec, &err), -EINVAL);
	assert_string_equal(err.field, "python");
	json_object_set_new(body, "engine", json_string("pypy"));
	assert_int_equal(spec_from_json(body, &spec, &err), -EINVAL);
	assert_string_equal(err.field, "engine");
	json_decref(body);
}

static void test_missing_interpreter_names_python(void **state)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	struct trace t;

	(void)state;
	make_spec(spec, "fetch", "threads", NULL);
	util_strlcpy(spec->python, "/nonexistent/python3",
		     sizeof(spec->python));
	trace_init(&t);
	assert_int_equal(run_execute(spec, NULL, &t, &err), -ENOENT);
	assert_string_equal(err.field, "python");
	trace_free(&t);
	free(spec);
}

/* ---- every workload under every model ----------------------------------- */

/* Small versions of each workload. */
static const struct {
	const char *workload;
	struct kv sets[5];
} small[] = {
	{"fetch", {{"tasks", "3"}, {"duration", "20ms"}}},
	{"crunch", {{"tasks", "2"}, {"duration", "10ms"}}},
	{"mixed",
	 {{"tasks", "2"},
	  {"compute", "5ms"},
	  {"wait", "20ms"},
	  {"compute_after", "5ms"}}},
	{"counter", {{"tasks", "3"}, {"increments", "1000"}}},
	{"pipeline", {{"items", "6"}, {"produce", "1ms"}, {"consume", "1ms"}}},
	{"scraper",
	 {{"urls", "6"},
	  {"rate", "100"},
	  {"latency_min", "5ms"},
	  {"latency_max", "20ms"},
	  {"backoff", "5ms"}}},
	{"files", {{"files", "3"}, {"size", "4096"}}},
	{"custom",
	 {{"program", "sem s=1; barrier b=2; 2 x (acquire s, "
		      "cpu 2ms, release s, barrier b, event set e, event "
		      "wait e, sleep 5ms)"}}},
};

static const char *const models[] = {"sequential",  "threads",
				     "thread-pool", "process-pool",
				     "asyncio",	    "asyncio-executor"};

/* A trace the engine's own reader takes back, with every task ended. */
static void assert_readable(const struct trace *t)
{
	struct trace back;
	char err[160] = "";
	json_t *j = trace_to_json(t);
	int rc;

	trace_init(&back);
	rc = trace_from_json(j, &back, err, sizeof(err));
	if (rc)
		print_message("%s under %s: %s\n", t->workload, t->model, err);
	assert_int_equal(rc, 0);
	assert_int_equal(back.n_segments, t->n_segments);
	assert_true(t->has_summary);
	for (size_t i = 0; i < t->n_tasks; i++)
		assert_int_not_equal(t->tasks[i].status, TASK_PENDING);
	trace_free(&back);
	json_decref(j);
}

static void test_every_workload_under_every_model(void **state)
{
	(void)state;
	need_python();
	for (size_t w = 0; w < sizeof(small) / sizeof(small[0]); w++)
		for (size_t m = 0; m < sizeof(models) / sizeof(models[0]);
		     m++) {
			struct kv sets[7];
			size_t n = 0;
			struct trace *t;

			for (; n < 5 && small[w].sets[n].key; n++)
				sets[n] = small[w].sets[n];
			if (strcmp(models[m], "process-pool") == 0 ||
			    strcmp(models[m], "thread-pool") == 0)
				/* A worker per task: a pipeline's stages
				 * wait for each other. */
				sets[n++] = (struct kv){"workers", "8"};
			sets[n] = (struct kv){NULL, NULL};
			t = run_case(small[w].workload, models[m], sets);
			/* One task at a time cannot feed a bounded queue
			 * and drain it: sequential pipelines deadlock, in
			 * Python as in the model. */
			if (strcmp(small[w].workload, "pipeline") == 0 &&
			    strcmp(models[m], "sequential") == 0)
				assert_status(t, RUN_DEADLOCK);
			else if (strcmp(small[w].workload, "custom") == 0 &&
				 strcmp(models[m], "sequential") == 0)
				assert_status(t, RUN_DEADLOCK);
			else
				assert_status(t, RUN_DONE);
			assert_readable(t);
			free_trace(t);
		}
}

/* Each start method of ProcessPoolExecutor, with its start-up shown. */
static void test_process_start_methods(void **state)
{
	static const char *const starts[] = {"fork", "spawn", "forkserver"};

	(void)state;
	need_python();
	for (size_t i = 0; i < 3; i++) {
		struct kv sets[] = {{"tasks", "2"},
				    {"duration", "5ms"},
				    {"start", starts[i]},
				    {NULL, NULL}};
		struct trace *t = run_case("crunch", "process-pool", sets);
		size_t startups = 0;

		assert_status(t, RUN_DONE);
		for (size_t s = 0; s < t->n_segments; s++)
			if (t->segments[s].state == ST_STARTUP) {
				startups++;
				assert_int_equal(
					t->lanes[t->segments[s].lane].kind,
					LANE_PROCESS);
			}
		assert_true(startups >= 1);
		assert_readable(t);
		free_trace(t);
	}
}

/* The pools' collect in real Python: Executor.map's order and
 * as_completed's, each result handled on the caller's own lane after its
 * task's sleep ended; map hands task 1 over only after task 0. */
static void test_pool_collect(void **state)
{
	static const char *const models[] = {"thread-pool", "process-pool"};
	static const char *const modes[] = {"map", "as_completed"};

	(void)state;
	need_python();
	for (size_t m = 0; m < 2; m++)
		for (size_t c = 0; c < 2; c++) {
			struct kv sets[] = {{"program",
					     "sleep 150ms; sleep 5ms"},
					    {"workers", "2"},
					    {"collect", modes[c]},
					    {"handle", "2ms"},
					    {NULL, NULL}};
			struct trace *t = run_case("custom", models[m], sets);
			const json_t *got, *fin;
			uint32_t lane = UINT32_MAX, first = UINT32_MAX;
			int64_t first_t0 = 0;

			assert_status(t, RUN_DONE);
			for (uint32_t i = 0; i < t->n_lanes; i++)
				if (strcmp(t->lanes[i].name, "consumer") == 0)
					lane = i;
			assert_int_not_equal(lane, UINT32_MAX);
			for (size_t i = 0; i < t->n_segments; i++) {
				const struct trace_segment *s = &t->segments[i];
				const struct trace_segment *slept =
					find_segment(t, s->task, ST_SLEEP);

				if (s->lane != lane || s->state != ST_COMPUTE)
					continue;
				assert_non_null(slept);
				assert_true(s->t0_ns >= slept->t1_ns);
				if (first == UINT32_MAX) {
					first = s->task;
					first_t0 = s->t0_ns;
				}
			}
			got = json_object_get(t->summary.checks, "collected");
			fin = json_object_get(t->summary.checks,
					      "finish_order");
			assert_int_equal(json_array_size(got), 2);
			assert_int_equal(
				json_integer_value(json_array_get(got, 0)),
				first);
			if (c == 0) {
				assert_int_equal(first, 0);
			} else {
				assert_true(json_equal(got, fin));
				assert_true(
					first_t0 <
					find_segment(t, 0, ST_SLEEP)->t1_ns);
			}
			assert_readable(t);
			free_trace(t);
		}
}

/* A failed asyncio task's exception is a result: gather(...,
 * return_exceptions=True) lists it in its task's place, and as_completed
 * hands it over when the task ends, as the model's collected says; a
 * task cut by asyncio.timeout ends as timeout with no note, as the
 * model's. */
static void test_asyncio_failures_collected(void **state)
{
	static const char *const modes[] = {"gather", "as_completed"};
	static const int64_t want[2][4] = {{0, 1, 2, 3}, {1, 2, 3, 0}};

	(void)state;
	need_python();
	for (size_t c = 0; c < 2; c++) {
		struct kv sets[] = {{"program", "(net 150ms, fail); "
						"2 x (net 20ms); "
						"timeout 60ms (net 400ms)"},
				    {"collect", modes[c]},
				    {NULL, NULL}};
		struct trace *t = run_case("custom", "asyncio", sets);
		const json_t *got =
			json_object_get(t->summary.checks, "collected");

		assert_status(t, RUN_DONE);
		assert_int_equal(t->tasks[0].status, TASK_ERROR);
		assert_int_equal(t->tasks[3].status, TASK_TIMEOUT);
		assert_string_equal(trace_task_note(t, &t->tasks[3]), "");
		assert_int_equal(json_array_size(got), 4);
		/* The two short ones end in either order. */
		for (size_t k = 0; k < 4; k++) {
			int64_t v = json_integer_value(json_array_get(got, k));

			if (c == 1 && k < 2)
				assert_true(v == 1 || v == 2);
			else
				assert_int_equal(v, want[c][k]);
		}
		free_trace(t);
	}
}

/* ProcessPoolExecutor.map(..., chunksize=2) in real Python: four tasks
 * in two chunks; the result of each chunk comes back once (an ipc noted
 * as a chunk on its last task), every task of a chunk ends with it, and
 * the caller handles them in order, each for handle of its CPU time (so
 * no less than that of the wall clock). */
static void test_pool_chunksize(void **state)
{
	struct kv sets[] = {{"program", "4 x (sleep 30ms)"},
			    {"workers", "2"},
			    {"collect", "map"},
			    {"chunksize", "2"},
			    {"payload_bytes", "100000"},
			    {"handle", "5ms"},
			    {NULL, NULL}};
	struct trace *t;
	const json_t *got;
	int64_t handled[4] = {0};

	(void)state;
	need_python();
	t = run_case("custom", "process-pool", sets);
	assert_status(t, RUN_DONE);
	for (uint32_t k = 0; k < 4; k++) {
		const struct trace_segment *ipc = find_segment(t, k, ST_IPC);

		if (k % 2 == 0) {
			assert_null(ipc);
			assert_true(t->tasks[k].end_ns ==
				    t->tasks[k + 1].end_ns);
			continue;
		}
		assert_non_null(ipc);
		assert_string_equal(t->notes[ipc->note],
				    "a chunk: one transfer for all its tasks");
		assert_true(ipc->t0_ns >= find_segment(t, k, ST_SLEEP)->t1_ns);
		/* A chunk's tasks run one after another on one worker. */
		assert_int_equal(find_segment(t, k, ST_SLEEP)->lane,
				 find_segment(t, k - 1, ST_SLEEP)->lane);
		assert_true(find_segment(t, k, ST_SLEEP)->t0_ns >=
			    find_segment(t, k - 1, ST_SLEEP)->t1_ns);
	}
	got = json_object_get(t->summary.checks, "collected");
	assert_int_equal(json_array_size(got), 4);
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(json_integer_value(json_array_get(got, k)), k);
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == ST_COMPUTE && s->task < 4 &&
		    strcmp(t->lanes[s->lane].name, "consumer") == 0)
			handled[s->task] += s->t1_ns - s->t0_ns;
	}
	for (size_t k = 0; k < 4; k++)
		assert_true(handled[k] >= 5 * NS_PER_MS);
	assert_readable(t);
	free_trace(t);
}

/* The pitfalls in real Python: a lambda submitted to a process pool
 * raises PicklingError; a program that starts a spawn pool without the
 * main guard gets each worker's RuntimeError and a broken pool.  The run
 * and its tasks end as error with what Python said. */
/* The interpreter samples its own memory: memory_bytes (its resident
 * set's growth) and rss_bytes (the whole of it) arrive as counters, and
 * 300 waiting threads hold more than 300 waiting asyncio tasks. */
static int64_t measured_memory(const char *model)
{
	static const struct kv sets[] = {{"program", "300 x (sleep 300ms)"},
					 {NULL, NULL}};
	struct trace *t;
	size_t memory = 0, rss = 0;
	int64_t peak;

	t = run_case("custom", model, sets);
	assert_status(t, RUN_DONE);
	for (size_t i = 0; i < t->n_samples; i++) {
		memory += t->samples[i].counter == CTR_MEMORY_BYTES;
		rss += t->samples[i].counter == CTR_RSS_BYTES;
	}
	assert_true(memory >= 2);
	assert_true(rss >= 2);
	assert_true(t->summary.peak_rss_bytes > t->summary.peak_memory_bytes);
	assert_int_equal(t->summary.memory_per_task_bytes,
			 t->summary.peak_memory_bytes / 300);
	peak = t->summary.peak_memory_bytes;
	free_trace(t);
	return peak;
}

static void test_memory_measured(void **state)
{
	int64_t threads, tasks;

	(void)state;
	need_python();
	threads = measured_memory("threads");
	tasks = measured_memory("asyncio");
	print_message("300 threads: %lld bytes; 300 tasks: %lld bytes\n",
		      (long long)threads, (long long)tasks);
	assert_true(threads > tasks);
}

static void test_pitfalls(void **state)
{
	static const struct {
		const char *pitfall, *note, *message;
	} cases[] = {
		{"lambda", "PicklingError: Can't pickle <function <lambda>",
		 "attribute lookup <lambda> on __main__ failed"},
		{"no-main-guard", "BrokenProcessPool",
		 "RuntimeError in each worker: An attempt has been made to "
		 "start a new process before the current process has "
		 "finished its bootstrapping phase"},
	};

	(void)state;
	need_python();
	for (size_t i = 0; i < 2; i++) {
		struct kv sets[] = {{"tasks", "2"},
				    {"start", "spawn"},
				    {"pitfall", cases[i].pitfall},
				    {NULL, NULL}};
		struct trace *t = run_case("crunch", "process-pool", sets);

		assert_status(t, RUN_ERROR);
		if (!strstr(t->message, cases[i].message))
			fail_msg("%s: message '%s'", cases[i].pitfall,
				 t->message);
		for (size_t k = 0; k < t->n_tasks; k++) {
			const char *note = trace_task_note(t, &t->tasks[k]);

			assert_int_equal(t->tasks[k].status, TASK_ERROR);
			assert_non_null(note);
			if (strncmp(note, cases[i].note,
				    strlen(cases[i].note)) != 0)
				fail_msg("%s: note '%s'", cases[i].pitfall,
					 note);
		}
		assert_readable(t);
		free_trace(t);
	}
}

/* fork-after-threads in real Python: a program whose thread holds a lock
 * while its fork pool starts, and whose tasks take the lock.  Each worker
 * hangs in its first task: a lock-wait on a ForkProcess lane of its own,
 * noted as the model notes it, and the run ends as a deadlock; the task
 * no worker took never starts. */
static void test_fork_after_threads(void **state)
{
	struct kv sets[] = {{"tasks", "3"},
			    {"workers", "2"},
			    {"pitfall", "fork-after-threads"},
			    {NULL, NULL}};
	struct trace *t;

	(void)state;
	need_python();
	t = run_case("crunch", "process-pool", sets);
	assert_status(t, RUN_DEADLOCK);
	assert_non_null(strstr(t->message, "2 workers wait for a lock"));
	assert_int_equal(t->n_segments, 2);
	for (uint32_t k = 0; k < 2; k++) {
		const struct trace_segment *g =
			find_segment(t, k, ST_LOCK_WAIT);

		assert_non_null(g);
		assert_int_equal(t->lanes[g->lane].kind, LANE_PROCESS);
		assert_non_null(strstr(t->lanes[g->lane].name, "ForkProcess"));
		assert_string_equal(t->notes[g->note],
				    "a lock another thread held at the fork: "
				    "nobody here will release it");
		assert_true(g->t1_ns - g->t0_ns >= 200 * NS_PER_MS);
	}
	assert_true(t->tasks[2].start_ns < 0);
	assert_string_equal(t->summary.advice, "start-with-forkserver");
	assert_readable(t);
	free_trace(t);
}

/* The diagnosis reads a CPython trace as it reads the model's: the same
 * lessons get the same recommendation and advice (test_diagnosis has the
 * model's rows).  Where the two engines record differently (CPython has
 * no ready state, its deadlock messages name no holder), the program's
 * text and the trace's structure decide. */
static void test_diagnosis_as_the_model(void **state)
{
	static const struct {
		const char *lesson, *workload, *model, *program;
		enum run_status status;
		const char *recommend, *advice;
	} cases[] = {
		{"rlock", "custom", "threads",
		 "rlock r; 3 x (lock r, lock r, cpu 10ms, unlock r, unlock r)",
		 RUN_DONE, "sequential", "shrink-critical-section"},
		{"rlock, without rlock r;", "custom", "threads",
		 "3 x (lock r, lock r, cpu 10ms, unlock r, unlock r)",
		 RUN_DEADLOCK, "", "use-an-rlock"},
		{"condition, notify one", "custom", "threads",
		 "condition ready; 3 x (cond wait ready, cpu 10ms); sleep "
		 "30ms, cond notify ready",
		 RUN_DEADLOCK, "", "notify-all"},
		{"condition, notify before the wait", "custom", "threads",
		 "condition c; (cond notify c all); (sleep 30ms, cond wait c)",
		 RUN_DEADLOCK, "", "wait-for-a-predicate"},
		{"daemon", "custom", "threads",
		 "daemon (timer 10ms, sleep 5s); (timer 20ms, cpu 5ms); 2 x "
		 "(net 50ms)",
		 RUN_DONE, "asyncio", "join-the-daemon"},
		{"a lock around the computing", "custom", "process-pool",
		 "4 x (lock L, cpu 20ms, unlock L)", RUN_DONE, "sequential",
		 "shrink-critical-section"},
		{"block", "custom", "asyncio",
		 "4 x (net 30ms, cpu 2ms, net 30ms, cpu 2ms, net 30ms); 1 x "
		 "(net 40ms, block 150ms)",
		 RUN_DONE, "asyncio", "await-asyncio-sleep"},
	};

	(void)state;
	need_python();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kv sets[] = {{"program", cases[i].program},
				    {NULL, NULL}};
		struct trace *t =
			run_case(cases[i].workload, cases[i].model, sets);
		const struct trace_summary *m = &t->summary;

		print_message("%s: %s; %s; %s\n", cases[i].lesson, m->recommend,
			      m->advice, m->why);
		assert_status(t, cases[i].status);
		assert_string_equal(m->recommend, cases[i].recommend);
		assert_string_equal(m->advice, cases[i].advice);
		free_trace(t);
	}
}

/* asyncio's option group in real Python, with asyncio's own gather,
 * TaskGroup and wait: the claims test_asyncio makes of the engine
 * (aio_group.h).  Then task.cancel() from another task, which the victim
 * meets where it waits. */
static void test_asyncio_group(void **state)
{
	(void)state;
	need_python();
	for (size_t g = 0; g < 4; g++) {
		struct kv sets[] = {{"program", AIO_GROUP_PROGRAM},
				    {"group", aio_groups[g]},
				    {NULL, NULL}};
		struct trace *t = run_case("custom", "asyncio", sets);

		assert_group_run(t, aio_groups[g]);
		assert_readable(t);
		free_trace(t);
	}

	struct kv sets[] = {{"program", "(sleep 400ms, cpu 1ms); (sleep 30ms, "
					"cancel 1); (sleep 250ms)"},
			    {NULL, NULL}};
	struct trace *t = run_case("custom", "asyncio", sets);

	assert_status(t, RUN_DONE);
	assert_int_equal(t->tasks[0].status, TASK_CANCELLED);
	assert_string_equal(trace_task_note(t, &t->tasks[0]),
			    PROTOCOL_NOTE_BY_CANCEL);
	assert_null(find_segment(t, 0, ST_COMPUTE));
	assert_true(t->tasks[0].end_ns >= t->tasks[1].end_ns);
	assert_true(t->tasks[0].end_ns < t->tasks[2].end_ns);
	assert_int_equal(t->tasks[2].status, TASK_OK);
	free_trace(t);

	/* Both sleeps end while time.sleep holds the loop: the cancel
	 * comes first, and the victim resumes with CancelledError. */
	struct kv race[] = {{"program", "(sleep 50ms, cpu 1ms); (sleep 30ms, "
					"cancel 1); (block 100ms)"},
			    {NULL, NULL}};

	t = run_case("custom", "asyncio", race);
	assert_int_equal(t->tasks[0].status, TASK_CANCELLED);
	assert_null(find_segment(t, 0, ST_COMPUTE));
	free_trace(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits_overlap_under_threads),
		cmocka_unit_test(test_waits_queue_up_sequentially),
		cmocka_unit_test(test_unlocked_counter_exact_on_310),
		cmocka_unit_test(test_await_inside_loses_updates),
		cmocka_unit_test(test_call_inside_loses_updates),
		cmocka_unit_test(test_asyncio_objects_before_311),
		cmocka_unit_test(test_gil_waits_are_estimated),
		cmocka_unit_test(test_cpu_nogil_is_cpu_time),
		cmocka_unit_test(test_deadlock_is_named),
		cmocka_unit_test(test_gil_off_needs_free_threaded),
		cmocka_unit_test(test_engine_fields_are_checked),
		cmocka_unit_test(test_missing_interpreter_names_python),
		cmocka_unit_test(test_every_workload_under_every_model),
		cmocka_unit_test(test_process_start_methods),
		cmocka_unit_test(test_pool_collect),
		cmocka_unit_test(test_pool_chunksize),
		cmocka_unit_test(test_asyncio_failures_collected),
		cmocka_unit_test(test_value_in_processes),
		cmocka_unit_test(test_array_and_manager),
		cmocka_unit_test(test_pipe_between_processes),
		cmocka_unit_test(test_pitfalls),
		cmocka_unit_test(test_fork_after_threads),
		cmocka_unit_test(test_diagnosis_as_the_model),
		cmocka_unit_test(test_asyncio_group),
		cmocka_unit_test(test_memory_measured),
	};

	return cmocka_run_group_tests(tests, find_python, NULL);
}
