/*
 * test_summary: the numbers and the diagnosis, from synthetic traces whose
 * right answers are known by construction (three 2 s waits one after
 * another, the same three at once, two CPU tasks under a GIL, ...).  Runs
 * that did not finish (a deadlock, an error, a cancel) must say so before
 * anything else.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "summary.h"
#include "trace_json.h"
#include "util.h"

#define S (NS_PER_S)
#define MS (NS_PER_MS)

struct seg_spec {
	uint32_t task;
	enum seg_state state;
	int64_t t0_ns, t1_ns;
	const char *note; /* an object's name (a counter's updates) */
};

struct case_spec {
	const char *name;
	const char *model;
	const char *gil;     /* options.gil or NULL */
	const char *options; /* the options as JSON, or NULL */
	const char *program; /* params.program (custom), or NULL */
	size_t n_tasks;
	struct seg_spec segs[16];
	size_t n_segs;
	int64_t cpu_ns;
	enum run_status status; /* 0 (queued) reads as a normal run */
	const char *message;
	int64_t lag_ns;	    /* max loop lag; 0: none measured */
	bool loop_lane;	    /* lane 0 is an event loop, not the main thread */
	const char *checks; /* the workload's checks, as JSON; NULL: none */

	/* expected */
	int64_t wall_ns;
	double speedup;
	double parallelism;
	int64_t peak_inflight;
	const char *bound;
	const char *recommend;
	const char *why_has[3]; /* substrings of why */
	const char *why_starts; /* NULL: anything */
	const char *why_lacks;	/* NULL: anything */
	const char *advice;	/* NULL: not checked */
};

/* Tasks start at their first segment and end at their last. */
static void build(struct trace *t, const struct case_spec *c)
{
	trace_init(t);
	util_strlcpy(t->workload, "synthetic", sizeof(t->workload));
	util_strlcpy(t->model, c->model, sizeof(t->model));
	t->host.cores = 2;
	t->cpu_ns = c->cpu_ns;
	t->status = (uint8_t)c->status;
	if (c->message)
		util_strlcpy(t->message, c->message, sizeof(t->message));
	if (c->gil)
		t->options = json_pack("{s:s}", "gil", c->gil);
	if (c->program)
		t->params = json_pack("{s:s}", "program", c->program);
	if (c->options) {
		t->options = json_loads(c->options, 0, NULL);
		assert_non_null(t->options);
	}
	if (c->lag_ns)
		t->summary.max_loop_lag_ns = c->lag_ns;
	if (c->checks) {
		t->summary.checks = json_loads(c->checks, 0, NULL);
		assert_non_null(t->summary.checks);
	}
	trace_add_lane(t)->kind = c->loop_lane ? LANE_LOOP : LANE_MAIN;
	for (size_t i = 0; i < c->n_tasks; i++) {
		struct trace_task *k = trace_add_task(t);

		trace_task_set_label(t, k, "task", (uint32_t)(i + 1));
		k->submit_ns = 0;
		k->lane = 0;
		k->status = TASK_OK;
	}
	for (size_t i = 0; i < c->n_segs; i++) {
		const struct seg_spec *s = &c->segs[i];
		struct trace_segment *g = trace_add_segment(t);
		struct trace_task *k = &t->tasks[s->task];

		*g = (struct trace_segment){s->t0_ns,
					    s->t1_ns,
					    s->task,
					    0,
					    trace_note(t, s->note),
					    (uint8_t)s->state,
					    false};
		if (s->state != ST_QUEUED &&
		    (k->start_ns < 0 || s->t0_ns < k->start_ns))
			k->start_ns = s->t0_ns;
		if (s->t1_ns > k->end_ns)
			k->end_ns = s->t1_ns;
	}
}

/* Four tasks wait 200 ms each; the fifth computes 150 ms; the loop lagged
 * 150 ms behind. */
#define BLOCKED_LOOP                                                           \
	.n_tasks = 5,                                                          \
	.segs = {{0, ST_IO, 0, 200 * MS},                                      \
		 {1, ST_IO, 0, 200 * MS},                                      \
		 {2, ST_IO, 0, 200 * MS},                                      \
		 {3, ST_IO, 0, 200 * MS},                                      \
		 {4, ST_COMPUTE, 0, 150 * MS}},                                \
	.n_segs = 5, .lag_ns = 150 * MS, .wall_ns = 200 * MS,                  \
	.speedup = 950.0 / 200.0, .parallelism = 0.75, .peak_inflight = 5

static const struct case_spec cases[] = {
	{
		.name = "io one after another",
		.model = "sequential",
		.n_tasks = 3,
		.segs = {{0, ST_SLEEP, 0, 2 * S},
			 {1, ST_SLEEP, 2 * S, 4 * S},
			 {2, ST_SLEEP, 4 * S, 6 * S}},
		.n_segs = 3,
		.wall_ns = 6 * S,
		.speedup = 1.0,
		.parallelism = 0.0,
		.peak_inflight = 1,
		.bound = "io",
		.recommend = "asyncio",
		.why_has = {"100% of their time waiting",
			    "task, 2.00 s here (threads",
			    "this run used sequential and took 6.00 s"},
	},
	{
		.name = "io overlapping",
		.model = "asyncio",
		.n_tasks = 3,
		.segs = {{0, ST_IO, 0, 2 * S},
			 {1, ST_IO, 0, 2 * S},
			 {2, ST_IO, 0, 2 * S}},
		.n_segs = 3,
		.wall_ns = 2 * S,
		.speedup = 3.0,
		.parallelism = 0.0,
		.peak_inflight = 3,
		.bound = "io",
		.recommend = "asyncio",
		.why_has = {"asyncio, the recommended model", "speedup 3.0x"},
	},
	{
		.name = "a pool in batches: queued is not work",
		.model = "thread-pool",
		.n_tasks = 4,
		.segs = {{0, ST_IO, 0, 1 * S},
			 {1, ST_IO, 0, 1 * S},
			 {2, ST_QUEUED, 0, 1 * S},
			 {2, ST_IO, 1 * S, 2 * S},
			 {3, ST_QUEUED, 0, 1 * S},
			 {3, ST_IO, 1 * S, 2 * S}},
		.n_segs = 6,
		.wall_ns = 2 * S,
		.speedup = 2.0,
		.parallelism = 0.0,
		.peak_inflight = 2,
		.bound = "io",
		.recommend = "asyncio",
		/* threads are fine for a few tasks */
		.why_has = {"threads do as well for 4 tasks",
			    "thread-pool, which fits as well"},
	},
	{
		.name = "cpu under the GIL",
		.model = "threads",
		.gil = "on",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 500 * MS},
			 {1, ST_GIL_WAIT, 0, 500 * MS},
			 {1, ST_COMPUTE, 500 * MS, 1000 * MS},
			 {0, ST_GIL_WAIT, 500 * MS, 1000 * MS},
			 {0, ST_COMPUTE, 1000 * MS, 1500 * MS},
			 {1, ST_GIL_WAIT, 1000 * MS, 1500 * MS},
			 {1, ST_COMPUTE, 1500 * MS, 2000 * MS}},
		.n_segs = 7,
		.cpu_ns = 2 * S,
		.wall_ns = 2 * S,
		.speedup = 1.0,
		.parallelism = 1.0,
		.peak_inflight = 2,
		.bound = "cpu",
		.recommend = "process-pool",
		.why_has = {"100% of their time computing",
			    "waited another 1.50 s for the GIL",
			    "this run used threads and took 2.00 s"},
	},
	{
		.name = "cpu, threads without the GIL",
		.model = "threads",
		.gil = "off",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 1 * S}, {1, ST_COMPUTE, 0, 1 * S}},
		.n_segs = 2,
		.wall_ns = 1 * S,
		.speedup = 2.0,
		.parallelism = 2.0,
		.peak_inflight = 2,
		.bound = "cpu",
		.recommend = "process-pool",
		.why_has = {"threads, which fits as well", "parallelism 2.0",
			    "all 2 cores"},
	},
	{
		.name = "mixed",
		.model = "sequential",
		.n_tasks = 1,
		.segs = {{0, ST_COMPUTE, 0, 1 * S}, {0, ST_IO, 1 * S, 2 * S}},
		.n_segs = 2,
		.wall_ns = 2 * S,
		.speedup = 1.0,
		.parallelism = 0.5,
		.peak_inflight = 1,
		.bound = "mixed",
		.recommend = "asyncio-executor",
		.why_has = {"50% of their time computing and 50% waiting"},
	},
	{
		.name = "lock contention",
		.model = "threads",
		.n_tasks = 3,
		.segs = {{0, ST_COMPUTE, 0, 1 * S},
			 {1, ST_LOCK_WAIT, 0, 1 * S},
			 {1, ST_COMPUTE, 1 * S, 2 * S},
			 {2, ST_LOCK_WAIT, 0, 2 * S},
			 {2, ST_COMPUTE, 2 * S, 3 * S}},
		.n_segs = 5,
		.wall_ns = 3 * S,
		.speedup = 1.0,
		.parallelism = 1.0,
		.peak_inflight = 3,
		.bound = "sync",
		.recommend = "process-pool",
		.why_has = {"50% of their time waiting for each other",
			    "lock-wait most"},
	},
	{
		.name = "deadlock: a lock cycle",
		.model = "threads",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 100 * MS},
			 {0, ST_LOCK_WAIT, 100 * MS, 1 * S},
			 {1, ST_COMPUTE, 0, 100 * MS},
			 {1, ST_LOCK_WAIT, 100 * MS, 1 * S}},
		.n_segs = 4,
		.status = RUN_DEADLOCK,
		.message = "deadlock: task 1 waits for lock 'b' (held by task "
			   "2); task 2 waits for lock 'a' (held by task 1)",
		.wall_ns = 1 * S,
		.speedup = 0.2,
		.parallelism = 0.2,
		.peak_inflight = 2,
		.bound = "sync",
		.recommend = "",
		.why_starts = "The run deadlocked: task 1 waits for lock 'b' "
			      "(held by task 2); task 2 waits for lock 'a' "
			      "(held by task 1); every task had started",
		.why_has = {"no model fixes it"},
	},
	{
		.name = "deadlock: no room for the task the other waits for",
		.model = "sequential",
		.n_tasks = 2,
		.segs = {{0, ST_SLEEP, 0, 200 * MS},
			 {0, ST_QUEUE_WAIT, 200 * MS, 1 * S}},
		.n_segs = 2,
		.status = RUN_DEADLOCK,
		.message = "deadlock: task 1 waits for queue 'q' (empty), "
			   "nobody can put; 1 task cannot start",
		.wall_ns = 1 * S,
		.speedup = 0.2,
		.parallelism = 0.0,
		.peak_inflight = 1,
		.bound = "sync",
		.recommend = "asyncio",
		.why_starts = "The run deadlocked: task 1 waits for queue 'q'",
		.why_has = {"every place sequential has to run tasks",
			    "such as asyncio, lets them meet"},
	},
	{
		.name = "deadlock: no worker for the consumer, computing",
		.model = "thread-pool",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 800 * MS},
			 {0, ST_QUEUE_WAIT, 800 * MS, 1 * S},
			 {1, ST_QUEUED, 0, 1 * S}},
		.n_segs = 3,
		.status = RUN_DEADLOCK,
		.message = "",
		.wall_ns = 1 * S,
		.speedup = 0.8,
		.parallelism = 0.8,
		.peak_inflight = 1,
		.bound = "sync",
		.recommend = "threads",
		.why_starts = "The run deadlocked; the waiting tasks held "
			      "every place thread-pool has",
	},
	{
		.name = "cancelled: what ran, said to be partial",
		.model = "sequential",
		.n_tasks = 3,
		.segs = {{0, ST_SLEEP, 0, 2 * S}, {1, ST_SLEEP, 2 * S, 3 * S}},
		.n_segs = 2,
		.status = RUN_CANCELLED,
		.wall_ns = 3 * S,
		.speedup = 1.0,
		.parallelism = 0.0,
		.peak_inflight = 1,
		.bound = "io",
		.recommend = "asyncio",
		.why_starts = "The run was cancelled after 3.00 s, so this "
			      "covers only what ran until then: tasks spent "
			      "100% of their time waiting",
	},
	{
		.name = "error: what ran, said to be partial",
		.model = "threads",
		.gil = "on",
		.n_tasks = 1,
		.segs = {{0, ST_COMPUTE, 0, 1 * S}},
		.n_segs = 1,
		.status = RUN_ERROR,
		.message = "threads: Resource temporarily unavailable",
		.wall_ns = 1 * S,
		.speedup = 1.0,
		.parallelism = 1.0,
		.peak_inflight = 1,
		.bound = "cpu",
		.recommend = "process-pool",
		.why_starts = "The run ended in an error after 1.00 s, so "
			      "this covers only what ran until then: tasks "
			      "spent 100% of their time computing",
	},
	{
		/* Four threads without a GIL on two cores: they take turns
		 * on the cores, so only two cores' worth is counted. */
		.name = "more computing at once than cores",
		.model = "threads",
		.gil = "off",
		.n_tasks = 4,
		.segs = {{0, ST_COMPUTE, 0, 1 * S},
			 {1, ST_COMPUTE, 0, 1 * S},
			 {2, ST_COMPUTE, 0, 1 * S},
			 {3, ST_COMPUTE, 0, 1 * S}},
		.n_segs = 4,
		.wall_ns = 1 * S,
		.speedup = 2.0,
		.parallelism = 2.0,
		.peak_inflight = 4,
		.bound = "cpu",
		.recommend = "process-pool",
		.why_has = {"parallelism 2.0"},
	},
	{
		/* File calls on the loop: three waits one after another, in
		 * one thread that asyncio cannot overlap. */
		.name = "asyncio whose waits did not overlap: blocking calls",
		.model = "asyncio",
		.n_tasks = 3,
		.segs = {{0, ST_IO, 0, 2 * MS},
			 {1, ST_IO, 2 * MS, 4 * MS},
			 {2, ST_IO, 4 * MS, 6 * MS}},
		.n_segs = 3,
		.wall_ns = 6 * MS,
		.speedup = 1.0,
		.parallelism = 0.0,
		.peak_inflight = 1,
		.bound = "io",
		.recommend = "thread-pool",
		.why_has = {"but the waits did not overlap",
			    "this run used asyncio and took 6.00 ms"},
	},
	{
		/* Producer and consumer computing and waiting on their
		 * queue: a pool needs a worker for each of them. */
		.name = "tasks that wait for each other, in a pool",
		.model = "asyncio",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 1 * S},
			 {1, ST_QUEUE_WAIT, 0, 1 * S},
			 {1, ST_COMPUTE, 1 * S, 2 * S},
			 {0, ST_QUEUE_WAIT, 1 * S, 2 * S},
			 {0, ST_QUEUE_WAIT, 2 * S, 3 * S},
			 {1, ST_QUEUE_WAIT, 2 * S, 3 * S}},
		.n_segs = 6,
		.wall_ns = 3 * S,
		.speedup = 2.0 / 3.0,
		.parallelism = 2.0 / 3.0,
		.peak_inflight = 2,
		.bound = "sync",
		.recommend = "process-pool",
		.why_has = {"process-pool with a worker for each of the 2 "
			    "tasks"},
	},
	{
		/* The waits that came due while the fifth task computed on
		 * the loop were seen 150 ms late. */
		.name = "a blocked loop: waits overlap, the loop lags",
		.model = "asyncio",
		BLOCKED_LOOP,
		.bound = "io",
		.recommend = "asyncio-executor",
		.why_has = {"held every other task up to 150 ms (max loop "
			    "lag)",
			    "this run used asyncio and took 200 ms"},
	},
	{
		/* The same on an event loop's lane, from an engine that
		 * records no ready state (the CPython engine): no count of
		 * tasks ready, rather than a 0 it did not see. */
		.name = "a blocked loop, no ready state recorded",
		.model = "asyncio",
		.loop_lane = true,
		BLOCKED_LOOP,
		.bound = "io",
		.recommend = "asyncio-executor",
		.why_has = {"the loop was blocked for 150 ms by task 5's "
			    "computation; computing"},
		.why_lacks = "ready meanwhile",
	},
	{
		/* Two tasks compute 20 ms each at the end of 400 ms of
		 * waits: a 24 ms lag in a 440 ms run is how asyncio runs,
		 * not a blocked loop. */
		.name = "a short computation on the loop is not a block",
		.model = "asyncio",
		.loop_lane = true,
		.n_tasks = 4,
		.segs = {{0, ST_IO, 0, 400 * MS},
			 {1, ST_IO, 0, 400 * MS},
			 {2, ST_IO, 0, 400 * MS},
			 {3, ST_IO, 0, 400 * MS},
			 {2, ST_COMPUTE, 400 * MS, 420 * MS},
			 {3, ST_COMPUTE, 420 * MS, 440 * MS}},
		.n_segs = 6,
		.lag_ns = 24 * MS,
		.wall_ns = 440 * MS,
		.speedup = 1640.0 / 440.0,
		.parallelism = 40.0 / 440.0,
		.peak_inflight = 4,
		.bound = "io",
		.recommend = "asyncio",
		.why_has = {"asyncio, the recommended model"},
	},
	{
		/* A 5 ms computation that a busy machine stretched to 80 ms
		 * on the loop: the program's longest computation is 5 ms,
		 * so the lag is the machine's, and asyncio stays. */
		.name = "a short computation stretched by a busy machine",
		.model = "asyncio",
		.loop_lane = true,
		.program = "4 x (net 100ms, cpu 5ms)",
		.n_tasks = 4,
		.segs = {{0, ST_IO, 0, 100 * MS},
			 {1, ST_IO, 0, 100 * MS},
			 {2, ST_IO, 0, 100 * MS},
			 {3, ST_IO, 0, 100 * MS},
			 {3, ST_COMPUTE, 100 * MS, 180 * MS}},
		.n_segs = 5,
		.lag_ns = 80 * MS,
		.wall_ns = 180 * MS,
		.speedup = 480.0 / 180.0,
		.parallelism = 80.0 / 180.0,
		.peak_inflight = 4,
		.bound = "io",
		.recommend = "asyncio",
	},
	{
		/* A process pool that failed before any task ran (a lambda
		 * it could not pickle): nothing measured, nothing
		 * recommended, and the program's fix said. */
		.name = "an error before anything ran: a pitfall",
		.model = "process-pool",
		.options = "{\"pitfall\": \"lambda\", \"start\": \"spawn\"}",
		.n_tasks = 2,
		.n_segs = 0,
		.status = RUN_ERROR,
		.message = "error: process-pool: PicklingError: Can't pickle",
		.wall_ns = 0,
		.speedup = 0.0,
		.parallelism = 0.0,
		.peak_inflight = 0,
		.bound = "",
		.recommend = "",
		.advice = "def-at-module-level",
		.why_starts = "The run ended in an error before any task "
			      "computed or waited: process-pool: "
			      "PicklingError",
	},
	{
		/* On the loop's lane: the fifth task computes 150 ms (off
		 * its core for 10 ms of it, which still blocks the loop),
		 * and four tasks' waits end inside it, ready until it is
		 * over; a sixth is ready before it begins, which does not
		 * count. */
		.name = "a blocked loop: the tasks that were ready are counted",
		.model = "asyncio",
		.loop_lane = true,
		.n_tasks = 6,
		.segs = {{0, ST_IO, 0, 50 * MS},
			 {0, ST_READY, 50 * MS, 150 * MS},
			 {1, ST_IO, 0, 60 * MS},
			 {1, ST_READY, 60 * MS, 150 * MS},
			 {2, ST_SLEEP, 0, 100 * MS},
			 {2, ST_READY, 100 * MS, 150 * MS},
			 {3, ST_IO, 0, 140 * MS},
			 {3, ST_READY, 140 * MS, 150 * MS},
			 {4, ST_COMPUTE, 0, 60 * MS},
			 {4, ST_RUNNABLE, 60 * MS, 70 * MS},
			 {4, ST_COMPUTE, 70 * MS, 150 * MS},
			 {5, ST_IO, 150 * MS, 400 * MS},
			 {5, ST_READY, 400 * MS, 401 * MS}},
		.n_segs = 13,
		.lag_ns = 100 * MS,
		.wall_ns = 401 * MS,
		.speedup = (500.0 + 100 + 140) / 401.0,
		.parallelism = 140.0 / 401.0,
		.peak_inflight = 5,
		.bound = "io",
		.recommend = "asyncio-executor",
		.why_has = {"the loop was blocked for 150 ms by task 5's "
			    "computation, and 4 other tasks were ready "
			    "meanwhile (ready: waiting for the loop)",
			    "up to 100 ms (max loop lag)"},
	},
	{
		/* A short computation under a lock, then a longer wait on
		 * I/O: the lock waits stay whatever the model, and the rest
		 * is mostly waiting, so no pool and no executor: asyncio
		 * (threads fit as well). */
		.name = "a lock around a little computing, then I/O",
		.model = "threads",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 100 * MS},
			 {1, ST_LOCK_WAIT, 0, 100 * MS, "L"},
			 {1, ST_COMPUTE, 100 * MS, 200 * MS},
			 {0, ST_IO, 100 * MS, 300 * MS},
			 {1, ST_IO, 200 * MS, 400 * MS}},
		.n_segs = 5,
		.wall_ns = 400 * MS,
		.speedup = 600.0 / 400.0,
		.parallelism = 0.5,
		.peak_inflight = 2,
		.bound = "mixed",
		.recommend = "asyncio",
		.why_has = {"57% of their time waiting on I/O or sleep, 14% "
			    "waiting for each other (lock-wait most)",
			    "threads, which fits as well"},
	},
	{
		/* Five threads update one counter under a lock: the
		 * updates take turns whatever the model, so no pool is the
		 * advice, and sequential does them without waiting. */
		.name = "a counter guarded by a lock",
		.model = "threads",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 60 * MS, "counter"},
			 {1, ST_LOCK_WAIT, 0, 60 * MS, "counter"},
			 {1, ST_COMPUTE, 60 * MS, 120 * MS, "counter"},
			 {0, ST_GIL_WAIT, 60 * MS, 120 * MS}},
		.n_segs = 4,
		.checks = "{\"expected\": 200000, \"got\": 200000, "
			  "\"lost\": 0}",
		.wall_ns = 120 * MS,
		.speedup = 1.0,
		.parallelism = 1.0,
		.peak_inflight = 2,
		.bound = "sync",
		.recommend = "sequential",
		.why_has = {"updating one shared counter, and no update was "
			    "lost",
			    "each task counts on its own"},
	},
	{
		/* The same without the lock lost updates: the program
		 * needs the lock, under whichever model. */
		.name = "a counter that lost updates",
		.model = "process-pool",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 60 * MS, "counter"},
			 {1, ST_COMPUTE, 0, 60 * MS, "counter"}},
		.n_segs = 2,
		.checks = "{\"expected\": 200000, \"got\": 150000, "
			  "\"lost\": 50000}",
		.wall_ns = 60 * MS,
		.speedup = 2.0,
		.parallelism = 2.0,
		.peak_inflight = 2,
		.bound = "sync",
		.recommend = "process-pool",
		.why_has = {"50000 updates were lost",
			    "guard the update with a lock (sync=lock)"},
	},
	{
		/* Computing inside a lock, in a process pool, and no I/O
		 * at all: an executor has nothing to overlap. */
		.name = "computing and a lock, no I/O",
		.model = "process-pool",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 50 * MS},
			 {1, ST_LOCK_WAIT, 0, 70 * MS, "a"},
			 {1, ST_COMPUTE, 70 * MS, 120 * MS}},
		.n_segs = 3,
		.wall_ns = 120 * MS,
		.speedup = 100.0 / 120.0,
		.parallelism = 100.0 / 120.0,
		.peak_inflight = 2,
		.bound = "cpu",
		.recommend = "process-pool",
		.why_has = {"with no I/O to overlap, an event loop adds "
			    "nothing"},
	},
	{
		/* Interpreters each have their own GIL: CPU work on every
		 * core, so the model fits a CPU-bound run. */
		.name = "interpreters compute on every core",
		.model = "interpreter-pool",
		.n_tasks = 2,
		.segs = {{0, ST_COMPUTE, 0, 100 * MS},
			 {1, ST_COMPUTE, 0, 100 * MS}},
		.n_segs = 2,
		.wall_ns = 100 * MS,
		.speedup = 2.0,
		.parallelism = 2.0,
		.peak_inflight = 2,
		.bound = "cpu",
		.recommend = "process-pool",
		.why_has = {"this run used interpreter-pool, which fits as "
			    "well"},
	},
	{
		/* Six threads without a GIL on two cores: what they could
		 * not compute, they waited for a core. */
		.name = "more threads computing than cores",
		.model = "threads",
		.gil = "off",
		.n_tasks = 3,
		.segs = {{0, ST_COMPUTE, 0, 100 * MS},
			 {1, ST_COMPUTE, 0, 50 * MS},
			 {1, ST_RUNNABLE, 50 * MS, 100 * MS},
			 {1, ST_COMPUTE, 100 * MS, 150 * MS},
			 {2, ST_RUNNABLE, 0, 100 * MS},
			 {2, ST_COMPUTE, 100 * MS, 200 * MS}},
		.n_segs = 6,
		.wall_ns = 200 * MS,
		.speedup = 300.0 / 200.0,
		.parallelism = 1.5,
		.peak_inflight = 3,
		.bound = "cpu",
		.recommend = "process-pool",
		.why_has = {"waited another 150 ms for a core (runnable)",
			    "threads, which fits as well"},
	},
	{
		/* The same lag under the executor model is not its fault:
		 * no such sentence, and asyncio stays the advice. */
		.name = "loop lag is said only of asyncio",
		.model = "threads",
		BLOCKED_LOOP,
		.bound = "io",
		.recommend = "asyncio",
		.why_has = {"waiting overlaps even in one thread"},
	},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_spec *c = &cases[i];
		const struct trace_summary *m;
		struct trace t;

		build(&t, c);
		summary_compute(&t);
		m = &t.summary;
		print_message("case: %s\n  why: %s\n", c->name, m->why);
		assert_true(t.has_summary);
		assert_int_equal(m->wall_ns, c->wall_ns);
		assert_true(fabs(m->speedup - c->speedup) < 1e-9);
		assert_true(fabs(m->parallelism - c->parallelism) < 1e-9);
		assert_int_equal(m->peak_inflight, c->peak_inflight);
		assert_string_equal(m->bound, c->bound);
		assert_string_equal(m->recommend, c->recommend);
		for (int w = 0; w < 3 && c->why_has[w]; w++)
			if (!strstr(m->why, c->why_has[w]))
				fail_msg("case %s: \"%s\" not in \"%s\"",
					 c->name, c->why_has[w], m->why);
		if (c->why_lacks && strstr(m->why, c->why_lacks))
			fail_msg("case %s: \"%s\" in \"%s\"", c->name,
				 c->why_lacks, m->why);
		if (c->advice)
			assert_string_equal(m->advice, c->advice);
		if (c->why_starts &&
		    strncmp(m->why, c->why_starts, strlen(c->why_starts)))
			fail_msg("case %s: \"%s\" does not start with \"%s\"",
				 c->name, m->why, c->why_starts);
		/* A run that did not finish says so before anything else. */
		if (c->status == RUN_DEADLOCK || c->status == RUN_ERROR ||
		    c->status == RUN_CANCELLED)
			assert_true(strncmp(m->why, "The run ", 8) == 0);
		trace_free(&t);
	}
}

/* Tasks cut short (asyncio's group, a cancel) or main resuming early:
 * the diagnosis says which and by what, read from the tasks' notes and
 * the checks alone, as a stored trace has them. */
static void test_cut_tasks(void **state)
{
	static const struct {
		const char *checks;
		enum task_status status[3];
		const char *note[3];
		const char *want; /* NULL: no such sentence */
	} cuts[] = {
		{"{\"group\": \"taskgroup\", \"main_resumed_by\": 0, "
		 "\"main_resumed_ns\": 100000000}",
		 {TASK_ERROR, TASK_CANCELLED, TASK_CANCELLED},
		 {PROTOCOL_NOTE_RAISED, PROTOCOL_NOTE_BY_GROUP,
		  PROTOCOL_NOTE_BY_GROUP},
		 "Of 3 tasks, 1 raised and 2 were cancelled: when task 1 raised "
		 "at 100 ms, its TaskGroup cancelled the others still running"},
		{"{\"group\": \"gather\", \"main_resumed_by\": 0, "
		 "\"main_resumed_ns\": 100000000}",
		 {TASK_ERROR, TASK_CANCELLED, TASK_CANCELLED},
		 {PROTOCOL_NOTE_RAISED, PROTOCOL_NOTE_BY_RUN,
		  PROTOCOL_NOTE_BY_RUN},
		 "gather handed task 1's exception to main at 100 ms, main "
		 "returned, and asyncio.run cancelled the 2 still running"},
		{"{}",
		 {TASK_OK, TASK_CANCELLED, TASK_OK},
		 {"", PROTOCOL_NOTE_BY_CANCEL, ""},
		 "Of 3 tasks, 1 was cancelled by another task's task.cancel(), "
		 "where it waited"},
		{"{\"group\": \"wait_first\", \"main_resumed_by\": 0, "
		 "\"main_resumed_ns\": 100000000}",
		 {TASK_OK, TASK_OK, TASK_OK},
		 {"", "", ""},
		 "The main coroutine resumed at 100 ms, when task 1 ended "
		 "first, and the others ran on"},
		{"{}", {TASK_OK, TASK_OK, TASK_OK}, {"", "", ""}, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct case_spec c = {.name = "cut",
				      .model = "asyncio",
				      .n_tasks = 3,
				      .segs = {{0, ST_IO, 0, 100 * MS},
					       {1, ST_IO, 0, 100 * MS},
					       {2, ST_IO, 0, 300 * MS}},
				      .n_segs = 3,
				      .status = RUN_DONE,
				      .loop_lane = true,
				      .checks = cuts[i].checks};
		struct trace t;

		build(&t, &c);
		for (size_t k = 0; k < 3; k++) {
			t.tasks[k].status = (uint8_t)cuts[i].status[k];
			t.tasks[k].note = trace_note(&t, cuts[i].note[k]);
		}
		summary_compute(&t);
		print_message("why: %s\n", t.summary.why);
		if (cuts[i].want && !strstr(t.summary.why, cuts[i].want))
			fail_msg("\"%s\" not in \"%s\"", cuts[i].want,
				 t.summary.why);
		if (!cuts[i].want) {
			assert_null(strstr(t.summary.why, "Of 3 tasks"));
			assert_null(strstr(t.summary.why, "main coroutine"));
		}
		trace_free(&t);
	}
}

static void test_states_and_task_time(void **state)
{
	struct trace t;

	(void)state;
	build(&t, &cases[3]);
	summary_compute(&t);
	assert_int_equal(t.summary.states_ns[ST_COMPUTE], 2 * S);
	assert_int_equal(t.summary.states_ns[ST_GIL_WAIT], 1500 * MS);
	assert_int_equal(t.summary.states_ns[ST_IO], 0);
	/* task 1: 0..1.5 s, task 2: 0..2 s */
	assert_int_equal(t.summary.task_time_ns, 3500 * MS);
	/* 2 s of CPU in 2 s on 2 cores */
	assert_true(fabs(t.summary.cpu_util - 0.5) < 1e-9);
	trace_free(&t);
}

/* An end and a start at the same instant are not both in flight; a task
 * that has not ended counts until the end. */
static void test_peak_inflight(void **state)
{
	static const struct {
		int64_t start, end;
	} spans[][4] = {
		{{0, 10}, {10, 20}, {20, 30}, {-1, -1}},
		{{0, 10}, {5, 15}, {10, 20}, {-1, -1}},
		{{0, 100}, {10, 20}, {30, 40}, {35, -1}},
	};
	static const int64_t want[] = {1, 2, 3};

	(void)state;
	for (size_t c = 0; c < 3; c++) {
		struct trace t;

		trace_init(&t);
		for (int i = 0; i < 4; i++) {
			struct trace_task *k = trace_add_task(&t);

			k->start_ns = spans[c][i].start;
			k->end_ns = spans[c][i].end;
		}
		summary_compute(&t);
		assert_int_equal(t.summary.peak_inflight, want[c]);
		trace_free(&t);
	}
}

/* A lane's busy time is the union of its segments that use a CPU
 * (compute, startup, ipc): overlapping ones count once, waits not at all,
 * and the JSON says it per lane with its share of the wall time. */
static void test_lane_busy(void **state)
{
	static const struct {
		uint32_t lane;
		enum seg_state state;
		int64_t t0, t1;
	} segs[] = {
		{0, ST_SLEEP, 0, 1000},	    /* a wait: not busy */
		{1, ST_STARTUP, 0, 100},    /* 100 */
		{1, ST_COMPUTE, 100, 400},  /* 300, touching */
		{1, ST_COMPUTE, 300, 500},  /* 100 more: overlaps */
		{1, ST_IO, 500, 900},	    /* not busy */
		{1, ST_IPC, 900, 950},	    /* 50 */
		{2, ST_GIL_WAIT, 0, 600},   /* not busy */
		{2, ST_COMPUTE, 600, 1000}, /* 400 */
	};
	static const int64_t want[] = {0, 550, 400};
	struct trace t;
	json_t *json, *lanes;

	(void)state;
	trace_init(&t);
	for (int l = 0; l < 3; l++)
		trace_add_lane(&t);
	trace_add_task(&t);
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		struct trace_segment *g = trace_add_segment(&t);

		*g = (struct trace_segment){segs[i].t0, segs[i].t1,
					    0,		segs[i].lane,
					    0,		(uint8_t)segs[i].state,
					    false};
	}
	t.tasks[0].start_ns = 0;
	t.tasks[0].end_ns = 1000;
	summary_compute(&t);
	assert_true(t.summary.has_lane_busy);
	for (int l = 0; l < 3; l++)
		assert_int_equal(t.lanes[l].busy_ns, want[l]);

	json = trace_summary_json(&t);
	lanes = json_object_get(json, "lanes");
	assert_int_equal(json_array_size(lanes), 3);
	for (size_t l = 0; l < 3; l++) {
		json_t *e = json_array_get(lanes, l);

		assert_int_equal(json_integer_value(json_object_get(e, "lane")),
				 l);
		assert_int_equal(
			json_integer_value(json_object_get(e, "busy_ns")),
			want[l]);
		assert_true(fabs(json_real_value(json_object_get(e, "util")) -
				 (double)want[l] / 1000.0) < 1e-12);
	}
	json_decref(json);
	trace_free(&t);
}

static void test_keeps_checks_and_lag(void **state)
{
	struct trace t;
	json_t *checks = json_pack("{s:i}", "lost", 3);

	(void)state;
	build(&t, &cases[0]);
	t.summary.checks = checks;
	t.summary.max_loop_lag_ns = 42;
	summary_compute(&t);
	assert_ptr_equal(t.summary.checks, checks);
	assert_int_equal(json_integer_value(json_object_get(checks, "lost")),
			 3);
	assert_int_equal(t.summary.max_loop_lag_ns, 42);
	trace_free(&t);

	build(&t, &cases[0]);
	summary_compute(&t);
	assert_true(json_is_object(t.summary.checks));
	assert_int_equal(t.summary.max_loop_lag_ns, -1);
	/* No CPU time measured: utilisation unknown, shown as 0. */
	assert_true(t.summary.cpu_util == 0.0);
	trace_free(&t);
}

/* The memory figures come from the counters: each one's peak, the
 * memory's shared among the tasks; none without samples. */
static void test_memory_peaks(void **state)
{
	const int64_t values[][2] = {
		{CTR_MEMORY_BYTES, 0},	  {CTR_RSS_BYTES, 5000},
		{CTR_MEMORY_BYTES, 900},  {CTR_QUEUE_DEPTH, 7000},
		{CTR_MEMORY_BYTES, 1200}, {CTR_RSS_BYTES, 6000},
		{CTR_MEMORY_BYTES, 300},
	};
	struct trace t;

	(void)state;
	build(&t, &cases[0]);
	summary_compute(&t);
	assert_int_equal(t.summary.peak_memory_bytes, -1);
	assert_int_equal(t.summary.memory_per_task_bytes, -1);
	assert_int_equal(t.summary.peak_rss_bytes, -1);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct trace_sample *s = trace_add_sample(&t);

		s->t_ns = (int64_t)i;
		s->counter = (uint8_t)values[i][0];
		s->value = values[i][1];
	}
	summary_compute(&t);
	assert_int_equal(t.summary.peak_memory_bytes, 1200);
	assert_int_equal(t.summary.memory_per_task_bytes,
			 1200 / (int64_t)t.n_tasks);
	assert_int_equal(t.summary.peak_rss_bytes, 6000);
	trace_free(&t);
}

static void test_empty(void **state)
{
	struct trace t;

	(void)state;
	trace_init(&t);
	summary_compute(&t);
	assert_int_equal(t.summary.wall_ns, 0);
	assert_true(t.summary.speedup == 0.0);
	assert_int_equal(t.summary.peak_inflight, 0);
	assert_string_equal(t.summary.bound, "mixed");
	assert_true(strlen(t.summary.why) > 0);
	trace_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_states_and_task_time),
		cmocka_unit_test(test_cut_tasks),
		cmocka_unit_test(test_peak_inflight),
		cmocka_unit_test(test_lane_busy),
		cmocka_unit_test(test_keeps_checks_and_lag),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_memory_peaks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
