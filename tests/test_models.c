/*
 * test_models: sequential, threads and thread-pool, end to end through
 * run_execute(), judged by the trace's structure only: on which lane each
 * task ran, what overlapped what, in which order tasks started and ended.
 * Durations are tens of milliseconds; no assertion compares a wall time
 * with a threshold, so a loaded machine makes the tests slower, not
 * flaky.  Where overlap must happen (threads' waits), the waits are long
 * (200 ms) next to what separates their starts (creating a thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "run.h"
#include "spec.h"
#include "support.h"
#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"

#define KV_MAX 8

/* ---- helpers ------------------------------------------------------------ */

static bool is_wait(uint8_t state)
{
	return state == ST_SLEEP || state == ST_IO;
}

/* Segments in state (or, with state < 0, waits), of one task (or all with
 * task < 0).  Returns a new array and its length. */
static struct interval *segments_of(const struct trace *t, int state, long task,
				    size_t *n)
{
	struct interval *iv = calloc(t->n_segments + 1, sizeof(*iv));

	assert_non_null(iv);
	*n = 0;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (state >= 0 ? s->state != state : !is_wait(s->state))
			continue;
		if (task >= 0 && s->task != (uint32_t)task)
			continue;
		iv[(*n)++] = (struct interval){s->t0_ns, s->t1_ns};
	}
	return iv;
}

/* Every task's segments lie inside its [start, end], on its own lane
 * (queued ones start at submission), and never overlap each other. */
static void assert_tasks_consistent(const struct trace *t)
{
	for (size_t k = 0; k < t->n_tasks; k++) {
		const struct trace_task *task = &t->tasks[k];
		struct interval *iv = calloc(t->n_segments + 1, sizeof(*iv));
		size_t n = 0;

		assert_non_null(iv);
		assert_true(task->submit_ns >= 0);
		assert_true(task->start_ns >= task->submit_ns);
		assert_true(task->end_ns >= task->start_ns);
		assert_true(task->lane < t->n_lanes);
		for (size_t i = 0; i < t->n_segments; i++) {
			const struct trace_segment *s = &t->segments[i];

			if (s->task != k)
				continue;
			assert_int_equal(s->lane, task->lane);
			assert_true(s->t1_ns >= s->t0_ns);
			if (s->state == ST_QUEUED) {
				assert_int_equal(s->t0_ns, task->submit_ns);
				assert_true(s->t1_ns <= task->start_ns);
				continue;
			}
			assert_true(s->t0_ns >= task->start_ns);
			assert_true(s->t1_ns <= task->end_ns);
			iv[n++] = (struct interval){s->t0_ns, s->t1_ns};
		}
		if (n)
			assert_int_equal(max_overlap(iv, n), 1);
		free(iv);
	}
}

/* Tasks in flight (start to end) at the busiest instant. */
static size_t peak_inflight(const struct trace *t)
{
	struct interval *iv = calloc(t->n_tasks + 1, sizeof(*iv));
	size_t peak;

	assert_non_null(iv);
	for (size_t k = 0; k < t->n_tasks; k++)
		iv[k] = (struct interval){t->tasks[k].start_ns,
					  t->tasks[k].end_ns};
	peak = max_overlap(iv, t->n_tasks);
	free(iv);
	return peak;
}

static bool any_overlap_between(const struct trace *t, enum seg_state st,
				uint32_t a, uint32_t b)
{
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *x = &t->segments[i];

		if (x->state != st || x->task != a)
			continue;
		for (size_t j = 0; j < t->n_segments; j++) {
			const struct trace_segment *y = &t->segments[j];

			if (y->state == st && y->task == b &&
			    x->t0_ns < y->t1_ns && y->t0_ns < x->t1_ns)
				return true;
		}
	}
	return false;
}

/* ---- sequential ----------------------------------------------------------- */

struct model_case {
	const char *name;
	const char *workload;
	const char *model;
	struct kv sets[KV_MAX];
};

static const struct model_case sequential_cases[] = {
	{"fetch sleep",
	 "fetch",
	 "sequential",
	 {{"tasks", "4"}, {"duration", "15ms"}, {"io", "sleep"}}},
	{"fetch net",
	 "fetch",
	 "sequential",
	 {{"tasks", "3"}, {"duration", "15ms"}, {"io", "net"}}},
	{"crunch",
	 "crunch",
	 "sequential",
	 {{"tasks", "3"}, {"duration", "10ms"}}},
	{"custom",
	 "custom",
	 "sequential",
	 {{"program", "3 x (cpu 3ms, net 10ms, sleep 5ms, cpu 2ms)"}}},
};

static void test_sequential_one_after_another(void **state)
{
	(void)state;
	for (size_t c = 0;
	     c < sizeof(sequential_cases) / sizeof(sequential_cases[0]); c++) {
		const struct model_case *mc = &sequential_cases[c];
		struct trace *t = run_case(mc->workload, mc->model, mc->sets);

		print_message("sequential: %s\n", mc->name);
		assert_done(t);
		assert_tasks_consistent(t);
		assert_int_equal(t->n_lanes, 1);
		assert_int_equal(t->lanes[0].kind, LANE_MAIN);
		assert_true(t->lanes[0].os_id > 0);
		for (size_t k = 0; k < t->n_tasks; k++) {
			assert_int_equal(t->tasks[k].lane, 0);
			/* In submission order, each after the last ended. */
			if (k)
				assert_true(t->tasks[k].start_ns >=
					    t->tasks[k - 1].end_ns);
		}
		assert_int_equal(peak_inflight(t), 1);
		assert_int_equal(count_segments(t, -1, ST_QUEUED, NULL), 0);
		assert_int_equal(count_segments(t, -1, ST_GIL_WAIT, NULL), 0);
		free_trace(t);
	}
}

/* ---- threads ------------------------------------------------------------- */

static const struct model_case threads_wait_cases[] = {
	{"sleep, gil on",
	 "fetch",
	 "threads",
	 {{"tasks", "5"}, {"duration", "200ms"}, {"io", "sleep"}}},
	{"net, gil on",
	 "fetch",
	 "threads",
	 {{"tasks", "5"}, {"duration", "200ms"}, {"io", "net"}}},
	{"net, gil off",
	 "fetch",
	 "threads",
	 {{"tasks", "5"}, {"duration", "200ms"}, {"io", "net"}, {"gil", "off"}}},
	{"mixed, gil on",
	 "mixed",
	 "threads",
	 {{"tasks", "4"},
	  {"compute", "2ms"},
	  {"wait", "200ms"},
	  {"compute_after", "1ms"}}},
};

static void test_threads_overlap_waits(void **state)
{
	(void)state;
	for (size_t c = 0;
	     c < sizeof(threads_wait_cases) / sizeof(threads_wait_cases[0]);
	     c++) {
		const struct model_case *mc = &threads_wait_cases[c];
		struct trace *t = run_case(mc->workload, mc->model, mc->sets);
		size_t n;
		struct interval *waits;

		print_message("threads: %s\n", mc->name);
		assert_done(t);
		assert_tasks_consistent(t);
		/* main plus one thread per task, named as Python does. */
		assert_int_equal(t->n_lanes, t->n_tasks + 1);
		for (size_t k = 0; k < t->n_tasks; k++) {
			const struct trace_lane *l =
				&t->lanes[t->tasks[k].lane];
			char name[32];

			snprintf(name, sizeof(name), "Thread-%zu", k + 1);
			assert_int_equal(l->kind, LANE_THREAD);
			assert_string_equal(l->name, name);
			assert_true(l->os_id > 0);
			for (size_t j = 0; j < k; j++)
				assert_int_not_equal(t->tasks[j].lane,
						     t->tasks[k].lane);
		}
		/* Every task's wait overlaps every other's. */
		waits = segments_of(t, -1, -1, &n);
		assert_int_equal(n, t->n_tasks);
		assert_int_equal(max_overlap(waits, n), t->n_tasks);
		free(waits);
		free_trace(t);
	}
}

/* ---- thread-pool --------------------------------------------------------- */

struct pool_case {
	int tasks, workers; /* workers 0: the default */
};

/* The last case leaves workers at its default, which is what
 * ThreadPoolExecutor() takes: min(32, cores + 4), fewer than its tasks. */
static const struct pool_case pool_cases[] = {
	{8, 4}, {7, 3}, {3, 1}, {2, 5}, {40, 0},
};

static int default_thread_workers(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	long n = (cores > 0 ? cores : 1) + 4;

	return n < 32 ? (int)n : 32;
}

static void test_pool_batches(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(pool_cases) / sizeof(pool_cases[0]);
	     c++) {
		const struct pool_case *pc = &pool_cases[c];
		char tasks[16], workers[16];
		struct kv sets[] = {{"tasks", tasks},
				    {"duration", "40ms"},
				    {"io", "sleep"},
				    {"workers", workers},
				    {NULL, NULL}};
		int n_workers = pc->workers ? pc->workers
					    : default_thread_workers();
		int lanes = n_workers < pc->tasks ? n_workers : pc->tasks;

		snprintf(tasks, sizeof(tasks), "%d", pc->tasks);
		snprintf(workers, sizeof(workers), "%d", pc->workers);
		if (!pc->workers)
			sets[3] = (struct kv){NULL, NULL};
		print_message("thread-pool: %d tasks on %d workers\n",
			      pc->tasks, n_workers);
		struct trace *t = run_case("fetch", "thread-pool", sets);

		assert_done(t);
		assert_tasks_consistent(t);
		/* main and one lane per worker that could have work. */
		assert_int_equal(t->n_lanes, (size_t)lanes + 1);
		for (size_t i = 1; i < t->n_lanes; i++) {
			char name[32];

			snprintf(name, sizeof(name), "worker-%zu", i);
			assert_string_equal(t->lanes[i].name, name);
			assert_int_equal(t->lanes[i].kind, LANE_THREAD);
			assert_true(t->lanes[i].os_id > 0);
		}
		/* Never more in flight than workers, and that many at
		 * once. */
		assert_int_equal(peak_inflight(t), (size_t)lanes);

		/* FIFO batches: the first `lanes` tasks are the first
		 * batch; every later task starts only after a task of an
		 * earlier batch ended on its lane, and was queued. */
		int64_t first_batch_end = INT64_MAX;

		for (int k = 0; k < lanes; k++)
			if (t->tasks[k].end_ns < first_batch_end)
				first_batch_end = t->tasks[k].end_ns;
		for (int k = lanes; k < pc->tasks; k++) {
			const struct trace_task *task = &t->tasks[k];
			size_t n;
			struct interval *q = segments_of(t, ST_QUEUED, k, &n);
			bool after_own_lane = false;

			assert_true(task->start_ns >= first_batch_end);
			for (int j = 0; j < k; j++)
				if (t->tasks[j].lane == task->lane &&
				    t->tasks[j].end_ns <= task->start_ns)
					after_own_lane = true;
			assert_true(after_own_lane);
			assert_int_equal(n, 1);
			assert_true(q[0].t1 >= first_batch_end);
			free(q);
		}
		free_trace(t);
	}
}

/* ---- the GIL ------------------------------------------------------------- */

static const struct model_case gil_on_cases[] = {
	{"threads",
	 "crunch",
	 "threads",
	 {{"tasks", "2"}, {"duration", "30ms"}, {"switch_interval", "1ms"}}},
	{"threads, default interval",
	 "crunch",
	 "threads",
	 {{"tasks", "2"}, {"duration", "40ms"}}},
	{"thread-pool",
	 "crunch",
	 "thread-pool",
	 {{"tasks", "3"},
	  {"workers", "3"},
	  {"duration", "20ms"},
	  {"switch_interval", "1ms"}}},
	{"threads, mixed",
	 "custom",
	 "threads",
	 {{"program", "3 x (cpu 10ms, sleep 5ms, cpu 10ms)"},
	  {"switch_interval", "1ms"}}},
};

static void test_gil_on_serialises(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(gil_on_cases) / sizeof(gil_on_cases[0]);
	     c++) {
		const struct model_case *mc = &gil_on_cases[c];
		struct trace *t = run_case(mc->workload, mc->model, mc->sets);
		size_t n;
		struct interval *compute;

		print_message("gil on: %s\n", mc->name);
		assert_done(t);
		assert_tasks_consistent(t);
		compute = segments_of(t, ST_COMPUTE, -1, &n);
		assert_true(n >= t->n_tasks);
		/* One thread computes at a time. */
		assert_int_equal(max_overlap(compute, n), 1);
		free(compute);
		/* The others waited for the GIL, and were switched to:
		 * every task computed in more than one piece or waited. */
		assert_true(count_segments(t, -1, ST_GIL_WAIT, NULL) >= 1);
		/* Forced switches happened: some task's computation was cut
		 * into pieces (each 10 ms or more, several intervals). */
		assert_true(count_segments(t, -1, ST_COMPUTE, NULL) >
			    t->n_tasks);
		for (size_t k = 0; k < t->n_tasks; k++) {
			size_t pieces, waits;

			free(segments_of(t, ST_COMPUTE, (long)k, &pieces));
			free(segments_of(t, ST_GIL_WAIT, (long)k, &waits));
			assert_true(pieces >= 1);
			assert_true(pieces > 1 || waits > 0 || t->n_tasks == 1);
		}
		free_trace(t);
	}
}

static void test_gil_off_parallel(void **state)
{
	static const struct kv sets[] = {{"tasks", "2"},
					 {"duration", "200ms"},
					 {"gil", "off"},
					 {NULL, NULL}};
	struct trace *t;

	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		skip();
		return;
	}
	t = run_case("crunch", "threads", sets);
	assert_done(t);
	assert_tasks_consistent(t);
	/* Without a GIL neither waits for the other: no gil-wait, and the
	 * two computations (compute, and runnable where a core was not
	 * free: under valgrind threads take turns on one) run at once. */
	assert_int_equal(count_segments(t, -1, ST_GIL_WAIT, NULL), 0);
	assert_true(t->tasks[0].start_ns < t->tasks[1].end_ns &&
		    t->tasks[1].start_ns < t->tasks[0].end_ns);
	assert_true(any_overlap_between(t, ST_COMPUTE, 0, 1) ||
		    count_segments(t, -1, ST_RUNNABLE, NULL) > 0);
	free_trace(t);
}

/* ---- more threads computing than cores ----------------------------------- */

/* Six threads without a GIL compute 60 ms each on fewer cores: whatever a
 * thread could not compute while it could run, it waited for a core, a
 * runnable segment measured from its own CPU clock.  Each task's compute
 * and runnable segments tile it from start to end, runnable ones exist,
 * and the computing never adds up to more than the cores could do. */
static void test_runnable_when_threads_outnumber_cores(void **state)
{
	static const struct kv sets[] = {{"tasks", "6"},
					 {"duration", "60ms"},
					 {"gil", "off"},
					 {NULL, NULL}};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t compute = 0, runnable = 0;
	struct trace *t;

	(void)state;
	if (cores >= 6) {
		skip();
		return;
	}
	t = run_case("crunch", "threads", sets);
	assert_done(t);
	assert_tasks_consistent(t);
	for (size_t k = 0; k < t->n_tasks; k++) {
		int64_t at = t->tasks[k].start_ns, covered = 0;

		for (size_t i = 0; i < t->n_segments; i++) {
			const struct trace_segment *s = &t->segments[i];

			if (s->task != k)
				continue;
			assert_true(s->state == ST_COMPUTE ||
				    s->state == ST_RUNNABLE);
			assert_int_equal(s->lane, t->tasks[k].lane);
			if (s->state == ST_RUNNABLE) {
				assert_string_equal(
					t->notes[s->note],
					"measured: wall time minus the "
					"thread's CPU time");
				runnable += s->t1_ns - s->t0_ns;
			} else {
				compute += s->t1_ns - s->t0_ns;
			}
			/* in order, one after another, no gap */
			assert_true(s->t0_ns >= at);
			covered += s->t1_ns - s->t0_ns;
			at = s->t1_ns;
		}
		assert_true(covered <=
			    t->tasks[k].end_ns - t->tasks[k].start_ns);
	}
	print_message("compute %lld ms, runnable %lld ms, wall %lld ms\n",
		      (long long)(compute / NS_PER_MS),
		      (long long)(runnable / NS_PER_MS),
		      (long long)(t->summary.wall_ns / NS_PER_MS));
	assert_true(runnable > 0);
	assert_int_equal(t->summary.states_ns[ST_RUNNABLE], runnable);
	/* At most the cores' worth at once, give or take where in a slice
	 * (50 us) each thread lost its core. */
	assert_true(compute <=
		    cores * t->summary.wall_ns +
			    (int64_t)t->n_segments * 100 * NS_PER_US);
	free_trace(t);
}

/* ---- stopping -------------------------------------------------------------- */

static const struct model_case limit_cases[] = {
	{"sequential",
	 "fetch",
	 "sequential",
	 {{"tasks", "3"},
	  {"duration", "10s"},
	  {"io", "sleep"},
	  {"time_limit", "100ms"}}},
	{"threads, net",
	 "fetch",
	 "threads",
	 {{"tasks", "3"},
	  {"duration", "10s"},
	  {"io", "net"},
	  {"time_limit", "100ms"}}},
	{"thread-pool, cpu",
	 "crunch",
	 "thread-pool",
	 {{"tasks", "4"},
	  {"workers", "2"},
	  {"duration", "10s"},
	  {"time_limit", "100ms"}}},
};

static void test_time_limit_stops(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(limit_cases) / sizeof(limit_cases[0]);
	     c++) {
		const struct model_case *mc = &limit_cases[c];
		struct trace *t = run_case(mc->workload, mc->model, mc->sets);

		print_message("time limit: %s\n", mc->name);
		assert_int_equal(t->status, RUN_ERROR);
		assert_non_null(strstr(t->message, "time_limit"));
		for (size_t k = 0; k < t->n_tasks; k++) {
			assert_int_equal(t->tasks[k].status, TASK_CANCELLED);
			assert_true(t->tasks[k].end_ns >= 0);
		}
		assert_true(t->has_summary);
		free_trace(t);
	}
}

/* ---- the run's info -------------------------------------------------------- */

static void test_run_info(void **state)
{
	static const struct kv sets[] = {{"tasks", "2"},
					 {"duration", "1ms"},
					 {"workers", "2"},
					 {NULL, NULL}};
	struct trace *t = run_case("fetch", "thread-pool", sets);
	json_t *v;

	(void)state;
	assert_done(t);
	assert_string_equal(t->workload, "fetch");
	assert_string_equal(t->model, "thread-pool");
	assert_true(strlen(t->id) > 0);
	assert_true(t->host.cores >= 1);
	assert_true(t->host.cpu_iters_per_ms > 0);
	assert_string_equal(t->host.engine, "overlap " OVERLAP_VERSION);
	assert_true(strlen(t->host.kernel) > 0);
	/* 2026-01-02T03:04:05.678Z */
	assert_int_equal(strlen(t->started_at), 24);
	assert_int_equal(t->started_at[10], 'T');
	assert_int_equal(t->started_at[23], 'Z');
	v = json_object_get(t->params, "tasks");
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 2);
	v = json_object_get(t->params, "duration");
	assert_string_equal(json_string_value(v), "1ms");
	v = json_object_get(t->options, "workers");
	assert_int_equal(json_integer_value(v), 2);
	assert_string_equal(
		json_string_value(json_object_get(t->options, "gil")), "on");
	assert_non_null(json_object_get(t->options, "time_limit"));
	assert_true(t->has_summary);
	assert_non_null(t->summary.checks);
	free_trace(t);
}

/* ---- a request's connection apart from its wait ------------------------ */

/* Every model records a net step as a connect segment followed, on the
 * same task and lane, by the io segment of the wait for the reply: the
 * connect ends where the io begins. */
static void test_net_connect_then_io(void **state)
{
	static const struct {
		const char *model;
		struct kv sets[KV_MAX];
	} cases[] = {
		{"sequential", {{NULL, NULL}}},
		{"threads", {{NULL, NULL}}},
		{"thread-pool", {{"workers", "2"}, {NULL, NULL}}},
		{"process-pool", {{"workers", "2"}, {NULL, NULL}}},
		{"asyncio", {{NULL, NULL}}},
		{"asyncio-executor", {{"offload_io", "on"}, {NULL, NULL}}},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct kv sets[KV_MAX + 3] = {
			{"tasks", "3"}, {"duration", "20ms"}, {"io", "net"}};
		struct trace *t;

		for (size_t k = 0; cases[c].sets[k].key; k++)
			sets[3 + k] = cases[c].sets[k];
		t = run_case("fetch", cases[c].model, sets);
		print_message("%s\n", cases[c].model);
		assert_done(t);
		assert_int_equal(t->n_tasks, 3);
		for (uint32_t task = 0; task < 3; task++) {
			const struct trace_segment *conn = NULL, *io = NULL;
			size_t n_conn = 0, n_io = 0;

			for (size_t i = 0; i < t->n_segments; i++) {
				const struct trace_segment *s = &t->segments[i];

				if (s->task != task)
					continue;
				if (s->state == ST_CONNECT) {
					conn = s;
					n_conn++;
				} else if (s->state == ST_IO) {
					io = s;
					n_io++;
				}
			}
			assert_int_equal(n_conn, 1);
			assert_int_equal(n_io, 1);
			assert_int_equal(conn->lane, io->lane);
			assert_true(conn->t0_ns <= conn->t1_ns);
			assert_true(conn->t1_ns == io->t0_ns);
			assert_true(io->t0_ns < io->t1_ns);
		}
		assert_true(t->summary.states_ns[ST_CONNECT] > 0);
		free_trace(t);
	}
}

/* Between a task's first and last compute segment (its one computation),
 * only compute and runnable: it was never made to wait for the GIL. */
static bool computes_without_gil_wait(const struct trace *t, uint32_t task)
{
	int64_t first = INT64_MAX, last = INT64_MIN;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->task == task && s->state == ST_COMPUTE) {
			if (s->t0_ns < first)
				first = s->t0_ns;
			if (s->t1_ns > last)
				last = s->t1_ns;
		}
	}
	assert_true(first < last);
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->task == task && s->state == ST_GIL_WAIT &&
		    s->t0_ns >= first && s->t1_ns <= last)
			return false;
	}
	return true;
}

/* cpu-nogil computes with the GIL released, as NumPy does: under gil=on
 * two threads' computations run side by side, neither waits for the GIL
 * inside its computation, and every compute segment says why; the same
 * program with cpu waits for the GIL at the switch interval. */
static void test_cpu_nogil(void **state)
{
	const struct kv nogil[] = {{"program", "2 x (cpu-nogil 60ms)"},
				   {"gil", "on"},
				   {NULL, NULL}};
	const struct kv held[] = {
		{"program", "2 x (cpu 60ms)"}, {"gil", "on"}, {NULL, NULL}};
	struct trace *t;

	(void)state;
	t = run_case("custom", "threads", nogil);
	assert_done(t);
	for (uint32_t k = 0; k < 2; k++)
		assert_true(computes_without_gil_wait(t, k));
	assert_int_equal(count_segments(t, -1, ST_COMPUTE, NULL),
			 count_segments(t, -1, ST_COMPUTE,
					PROTOCOL_NOTE_NOGIL));
	/* Each computation began before the other's ended. */
	assert_true(t->tasks[0].start_ns < t->tasks[1].end_ns);
	assert_true(t->tasks[1].start_ns < t->tasks[0].end_ns);
	/* The diagnosis keeps the threads: they already use the cores. */
	assert_string_equal(t->summary.recommend, "threads");
	assert_non_null(strstr(t->summary.why, "releases the GIL"));
	free_trace(t);

	t = run_case("custom", "threads", held);
	assert_done(t);
	assert_false(computes_without_gil_wait(t, 0) &&
		     computes_without_gil_wait(t, 1));
	free_trace(t);
}

/* block outside an event loop is time.sleep on the task's own thread: a
 * sleep, which threads overlap. */
static void test_block_on_threads(void **state)
{
	const struct kv sets[] = {{"program", "3 x (block 100ms)"},
				  {NULL, NULL}};
	struct trace *t;
	size_t n;
	struct interval *iv;

	(void)state;
	t = run_case("custom", "threads", sets);
	assert_done(t);
	assert_int_equal(count_segments(t, -1, ST_SLEEP, NULL), 3);
	assert_int_equal(count_segments(t, -1, ST_SLEEP, ""), 3);
	iv = intervals_of(t, ST_SLEEP, -1, &n);
	assert_int_equal(max_overlap(iv, n), 3);
	free(iv);
	free_trace(t);
}

/* A daemon thread is not waited for: the run is done when the others
 * are, the daemon is cancelled then, its sleep cut at that moment; a
 * timer's wait comes first in its task, noted as the timer's. */
static void test_daemon_and_timer(void **state)
{
	const struct kv sets[] = {
		{"program",
		 "daemon (timer 20ms, sleep 10s); 2 x (sleep 100ms)"},
		{NULL, NULL}};
	const struct trace_segment *timer = NULL, *cut = NULL;
	struct trace *t;

	(void)state;
	t = run_case("custom", "threads", sets);
	assert_status(t, RUN_DONE);
	assert_int_equal(t->tasks[0].status, TASK_CANCELLED);
	assert_int_equal(t->tasks[1].status, TASK_OK);
	assert_int_equal(t->tasks[2].status, TASK_OK);
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->task != 0 || s->state != ST_SLEEP)
			continue;
		if (strcmp(note_of(t, s), PROTOCOL_NOTE_TIMER) == 0)
			timer = s;
		else
			cut = s;
	}
	assert_non_null(timer);
	assert_non_null(cut);
	assert_true(timer->t1_ns <= cut->t0_ns);
	/* Cut when the last other task ended, not 10 s later. */
	assert_true(cut->t1_ns >= t->tasks[1].end_ns);
	assert_true(cut->t1_ns >= t->tasks[2].end_ns);
	assert_true(cut->t1_ns - cut->t0_ns < 10 * NS_PER_S);
	assert_true(t->tasks[0].end_ns >= cut->t1_ns);
	free_trace(t);
}

/* The memory a run's tasks hold (memory_bytes), summed up as
 * peak_memory_bytes: more tasks hold more, a thread per task holds more
 * than a coroutine per task, and what is held at the end is nothing once
 * every task has ended.  rss_bytes, the run's own memory, is measured. */
static void memory_of(const char *model, const char *program, int64_t *peak,
		      int64_t *per_task)
{
	const struct kv sets[] = {{"program", program}, {NULL, NULL}};
	struct trace *t = run_case("custom", model, sets);
	int64_t last = -1;
	bool rss = false;

	assert_status(t, RUN_DONE);
	for (size_t i = 0; i < t->n_samples; i++) {
		if (t->samples[i].counter == CTR_MEMORY_BYTES)
			last = t->samples[i].value;
		if (t->samples[i].counter == CTR_RSS_BYTES)
			rss = t->samples[i].value > 0;
	}
	assert_int_equal(last, 0);
	assert_true(rss);
	assert_true(t->summary.peak_rss_bytes > 0);
	assert_true(t->summary.peak_memory_bytes > 0);
	assert_int_equal(t->summary.memory_per_task_bytes,
			 t->summary.peak_memory_bytes / (int64_t)t->n_tasks);
	*peak = t->summary.peak_memory_bytes;
	*per_task = t->summary.memory_per_task_bytes;
	free_trace(t);
}

static void test_memory_per_model(void **state)
{
	int64_t threads10, threads20, tasks10, tasks20, per_thread, per_task,
		unused;

	(void)state;
	memory_of("threads", "10 x (sleep 200ms)", &threads10, &unused);
	memory_of("threads", "20 x (sleep 200ms)", &threads20, &per_thread);
	memory_of("asyncio", "10 x (sleep 200ms)", &tasks10, &unused);
	memory_of("asyncio", "20 x (sleep 200ms)", &tasks20, &per_task);
	assert_true(threads20 > threads10);
	assert_true(tasks20 > tasks10);
	/* A thread's stack pages and state against a Task object. */
	assert_true(per_thread > 5 * per_task);
	assert_true(threads10 > tasks20);
}

/* A fail step raises in its task under every model: the task ends as
 * error, noted with the exception, the steps after it never run, and the
 * other task (a thread, a pool's job, a process) goes on to its end. */
static void test_fail_every_model(void **state)
{
	static const char *const models[] = {"sequential",	 "threads",
					     "thread-pool",	 "process-pool",
					     "interpreter-pool", "asyncio",
					     "asyncio-executor"};
	const struct kv sets[] = {
		{"program",
		 "(sleep 10ms, fail, cpu 30ms); (sleep 20ms, cpu 1ms)"},
		{NULL, NULL}};

	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		struct trace *t = run_case("custom", models[m], sets);

		assert_status(t, RUN_DONE);
		assert_int_equal(t->tasks[0].status, TASK_ERROR);
		assert_string_equal(trace_task_note(t, &t->tasks[0]),
				    PROTOCOL_NOTE_RAISED);
		assert_int_equal(count_segments(t, 0, ST_COMPUTE, NULL), 0);
		assert_int_equal(t->tasks[1].status, TASK_OK);
		assert_true(count_segments(t, 1, ST_COMPUTE, NULL) >= 1);
		free_trace(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential_one_after_another),
		cmocka_unit_test(test_threads_overlap_waits),
		cmocka_unit_test(test_pool_batches),
		cmocka_unit_test(test_gil_on_serialises),
		cmocka_unit_test(test_gil_off_parallel),
		cmocka_unit_test(test_runnable_when_threads_outnumber_cores),
		cmocka_unit_test(test_time_limit_stops),
		cmocka_unit_test(test_run_info),
		cmocka_unit_test(test_net_connect_then_io),
		cmocka_unit_test(test_cpu_nogil),
		cmocka_unit_test(test_block_on_threads),
		cmocka_unit_test(test_daemon_and_timer),
		cmocka_unit_test(test_memory_per_model),
		cmocka_unit_test(test_fail_every_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
