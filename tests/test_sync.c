/*
 * test_sync: the synchronisation steps in every model, written in the step
 * language (custom workload) and run end to end, and the deadlock verdict.
 *
 * Each property is read off the trace's structure: a lock's critical
 * sections never overlap, a semaphore of 2 never lets a third in, nothing
 * passes a barrier before the last task reaches it, an event wait ends
 * after the set.  Deadlocks are built so that they must happen whatever
 * the scheduling (each task takes its first lock and then waits, through
 * events, until the other has taken its own), and the test asserts the
 * status and the message, never how long the verdict took.
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

#include "run.h"
#include "spec.h"
#include "support.h"
#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------ */

static struct trace *run_program(const char *model, const char *program,
				 const char *workers)
{
	const struct kv sets[] = {{"program", program},
				  {workers ? "workers" : NULL, workers},
				  {NULL, NULL}};

	return run_case("custom", model, sets);
}

/* The k-th (0-based) segment in state st of task, in time order; fails
 * the test when there is none. */
static const struct trace_segment *
nth_segment(const struct trace *t, uint32_t task, enum seg_state st, size_t k)
{
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->task == task && s->state == st && k-- == 0)
			return s;
	}
	fail_msg("task %u has no %s segment %zu", task, seg_state_name(st), k);
	return NULL;
}

/* The most segments in state st open at one instant. */
static size_t max_overlap_of(const struct trace *t, enum seg_state st)
{
	size_t n, best;
	struct interval *iv = intervals_of(t, st, -1, &n);

	best = max_overlap(iv, n);
	free(iv);
	return best;
}

struct model {
	const char *name;
	const char *workers; /* NULL: the model's default */
	bool concurrent;     /* every task starts at once */
};

static const struct model models[] = {
	{"threads", NULL, true},
	{"thread-pool", "8", true},
	{"asyncio", NULL, true},
	{"process-pool", "8", false}, /* workers start one by one */
	{"sequential", NULL, false},
};

#define N_MODELS (sizeof(models) / sizeof(models[0]))

/* ---- the steps ---------------------------------------------------------- */

static void test_lock_excludes(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct trace *t = run_program(
			models[m].name, "3 x (lock m, sleep 20ms, unlock m)",
			models[m].workers);

		print_message("lock under %s\n", models[m].name);
		assert_done(t);
		assert_int_equal(count_segments(t, -1, ST_SLEEP, NULL), 3);
		assert_int_equal(max_overlap_of(t, ST_SLEEP), 1);
		if (models[m].concurrent)
			assert_true(count_segments(t, -1, ST_LOCK_WAIT, "m") >=
				    2);
		free_trace(t);
	}
}

static void test_semaphore_bounds(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct trace *t = run_program(
			models[m].name,
			"sem db=2; 5 x (acquire db, sleep 30ms, release db)",
			models[m].workers);

		print_message("semaphore under %s\n", models[m].name);
		assert_done(t);
		assert_true(max_overlap_of(t, ST_SLEEP) <= 2);
		if (models[m].concurrent) {
			assert_int_equal(max_overlap_of(t, ST_SLEEP), 2);
			assert_true(count_segments(t, -1, ST_SEM_WAIT, "db") >=
				    3);
		}
		free_trace(t);
	}
}

static void test_barrier(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct trace *t;
		int64_t last_arrival = 0;

		if (!models[m].concurrent &&
		    strcmp(models[m].name, "process-pool") != 0)
			continue; /* one after another can never pass it */
		t = run_program(models[m].name,
				"sleep 10ms, barrier b, sleep 5ms; "
				"sleep 20ms, barrier b, sleep 5ms; "
				"sleep 30ms, barrier b, sleep 5ms",
				models[m].workers);
		print_message("barrier under %s\n", models[m].name);
		assert_done(t);
		for (uint32_t k = 0; k < 3; k++) {
			const struct trace_segment *before =
				nth_segment(t, k, ST_SLEEP, 0);

			if (before->t1_ns > last_arrival)
				last_arrival = before->t1_ns;
		}
		/* Nobody goes on before the last one arrives. */
		for (uint32_t k = 0; k < 3; k++)
			assert_true(nth_segment(t, k, ST_SLEEP, 1)->t0_ns >=
				    last_arrival);
		assert_true(count_segments(t, -1, ST_BARRIER_WAIT, "b") >= 2);
		free_trace(t);
	}
}

static void test_event(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct trace *t;
		const struct trace_segment *wait, *set_after;

		if (!models[m].concurrent)
			continue;
		t = run_program(models[m].name,
				"event wait go, sleep 5ms; sleep 30ms, event "
				"set go",
				models[m].workers);
		print_message("event under %s\n", models[m].name);
		assert_done(t);
		wait = nth_segment(t, 0, ST_EVENT_WAIT, 0);
		set_after = nth_segment(t, 1, ST_SLEEP, 0);
		assert_string_equal(note_of(t, wait), "go");
		assert_true(wait->t1_ns >= set_after->t1_ns);
		assert_true(nth_segment(t, 0, ST_SLEEP, 0)->t0_ns >=
			    set_after->t1_ns);
		free_trace(t);
	}
}

static void test_queue_and_counter(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct trace *t;

		if (!models[m].concurrent)
			continue;
		t = run_program(models[m].name,
				"queue q=1; counter c=lock; "
				"3 x (put q, put q, incr c 10); "
				"2 x (get q, get q, get q, incr c 5)",
				models[m].workers);
		print_message("queue under %s\n", models[m].name);
		assert_done(t);
		assert_int_equal(json_integer_value(json_object_get(
					 t->summary.checks, "produced")),
				 6);
		assert_int_equal(json_integer_value(json_object_get(
					 t->summary.checks, "consumed")),
				 6);
		assert_int_equal(json_integer_value(json_object_get(
					 t->summary.checks, "got")),
				 40);
		/* A queue of one item: five tasks cannot all pass it
		 * without someone waiting. */
		assert_true(count_segments(t, -1, ST_QUEUE_WAIT, "q") > 0);
		free_trace(t);
	}
}

static int64_t check_of(const struct trace *t, const char *key)
{
	json_t *v = json_object_get(t->summary.checks, key);

	assert_true(json_is_integer(v));
	return (int64_t)json_integer_value(v);
}

/* A multiprocessing.Value: `value v` loses updates where two tasks' reads
 * and writes interleave (threads under the GIL: its getter and setter are
 * calls, where a switch falls between the read and the write), never on
 * the event loop; `value v=get_lock` is exact everywhere, and its lock
 * makes the others wait (lock-wait noted with its name) where a task is
 * switched out inside it. */
static void test_value(void **state)
{
	static const struct {
		const char *model, *program;
		bool lossy, lock_wait;
	} cases[] = {
		{"threads", "value v; 3 x (incr v 200000)", true, false},
		{"threads", "value v=get_lock; 3 x (incr v 200000)", false,
		 true},
		{"asyncio", "value v; 3 x (incr v 20000)", false, false},
		{"process-pool", "value v=get_lock; 3 x (incr v 20000)", false,
		 false},
		{"sequential", "value v; 3 x (incr v 20000)", false, false},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct trace *t =
			run_program(cases[c].model, cases[c].program, NULL);
		int64_t expected = check_of(t, "expected");
		int64_t got = check_of(t, "got");

		print_message("%s: %s: expected %lld got %lld\n",
			      cases[c].model, cases[c].program,
			      (long long)expected, (long long)got);
		assert_done(t);
		assert_int_equal(expected,
				 3 * (strstr(cases[c].program, "200000")
					      ? 200000
					      : 20000));
		assert_int_equal(check_of(t, "lost"), expected - got);
		if (cases[c].lossy)
			assert_true(got < expected);
		else
			assert_int_equal(got, expected);
		assert_true(count_segments(t, -1, ST_COMPUTE, "v") >= 3);
		if (cases[c].lock_wait)
			assert_true(count_segments(t, -1, ST_LOCK_WAIT, "v") >
				    0);
		free_trace(t);
	}
}

/* A multiprocessing.Array: each task updates element task % N, so tasks
 * with an element each lose nothing, in processes or threads alike, and
 * tasks sharing one race on it as on a Value (threads under the GIL: the
 * getter's return is a switch point); every element's count is in `got`. */
static void test_array(void **state)
{
	static const struct {
		const char *model, *program, *workers;
		int64_t expected;
		bool lossy;
	} cases[] = {
		{"process-pool", "array a=2; 2 x (incr a 100000)", "2", 200000,
		 false},
		{"threads", "array a=3; 3 x (incr a 100000)", NULL, 300000,
		 false},
		{"threads", "array a=1; 3 x (incr a 100000)", NULL, 300000,
		 true},
		{"asyncio", "array a=1; 3 x (incr a 5000)", NULL, 15000, false},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct trace *t = run_program(cases[c].model, cases[c].program,
					      cases[c].workers);
		int64_t got = check_of(t, "got");

		print_message("%s: %s: got %lld\n", cases[c].model,
			      cases[c].program, (long long)got);
		assert_done(t);
		assert_int_equal(check_of(t, "expected"), cases[c].expected);
		assert_int_equal(check_of(t, "lost"), cases[c].expected - got);
		if (cases[c].lossy)
			assert_true(got < cases[c].expected);
		else
			assert_int_equal(got, cases[c].expected);
		assert_true(count_segments(t, -1, ST_COMPUTE, "a") >= 2);
		free_trace(t);
	}
}

/* A Manager's Value: each task's increments are one ipc segment noted
 * with the value (round trips to the manager's process), no computation;
 * one task at a time (sequential) loses nothing; two threads' updates
 * happen at once: their ipc segments overlap. */
static void test_manager_value(void **state)
{
	static const char *const models[] = {"sequential", "threads",
					     "process-pool"};

	(void)state;
	for (size_t m = 0; m < 3; m++) {
		struct trace *t = run_program(
			models[m], "value m=manager; 2 x (incr m 200)",
			m == 2 ? "2" : NULL);
		int64_t got = check_of(t, "got");

		print_message("%s: got %lld\n", models[m], (long long)got);
		assert_done(t);
		assert_int_equal(check_of(t, "expected"), 400);
		assert_int_equal(check_of(t, "lost"), 400 - got);
		assert_int_equal(count_segments(t, -1, ST_IPC, "m"), 2);
		assert_int_equal(count_segments(t, -1, ST_COMPUTE, NULL), 0);
		if (m == 0)
			assert_int_equal(got, 400);
		if (m == 1) {
			const struct trace_segment *a, *b;

			a = nth_segment(t, 0, ST_IPC, 0);
			b = nth_segment(t, 1, ST_IPC, 0);
			assert_true(a->t0_ns < b->t1_ns && b->t0_ns < a->t1_ns);
		}
		free_trace(t);
	}
}

/* A pipe between two tasks: the sender's copy (ipc, noted with the pipe)
 * comes before the receiver's wait (queue-wait, noted) ends, and the
 * receiver's own copy (ipc) follows it; the receiver never waits past the
 * send.  A message larger than the pipe's buffer with nobody to receive
 * it is a deadlock that says so. */
static void test_pipe(void **state)
{
	static const char *const pmodels[] = {"threads", "process-pool"};

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		struct trace *t = run_program(
			pmodels[m],
			"pipe p; (sleep 30ms, send p 256KiB); (recv p, cpu 5ms)",
			m ? "2" : NULL);
		const struct trace_segment *sent, *waited, *copied;

		print_message("pipe under %s\n", pmodels[m]);
		assert_done(t);
		sent = nth_segment(t, 0, ST_IPC, 0);
		waited = nth_segment(t, 1, ST_QUEUE_WAIT, 0);
		copied = nth_segment(t, 1, ST_IPC, 0);
		assert_string_equal(note_of(t, sent), "p");
		assert_string_equal(note_of(t, waited), "p");
		assert_string_equal(note_of(t, copied), "p");
		assert_true(sent->t0_ns >=
			    nth_segment(t, 0, ST_SLEEP, 0)->t1_ns);
		assert_true(waited->t1_ns >= sent->t1_ns);
		assert_true(copied->t0_ns >= waited->t1_ns);
		assert_true(nth_segment(t, 1, ST_COMPUTE, 0)->t0_ns >=
			    copied->t1_ns);
		/* 256 KiB is more than the buffer: the send ends once the
		 * receiver took the message. */
		assert_true(t->tasks[0].end_ns >= waited->t1_ns);
		free_trace(t);
	}
	{
		struct trace *t = run_program(
			"sequential", "pipe p; (send p 1MiB); (recv p)", NULL);

		assert_status(t, RUN_DEADLOCK);
		assert_non_null(
			strstr(t->message, "task 1 waits for pipe 'p'"));
		free_trace(t);
	}
}

static void test_unlock_unheld(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct trace *t = run_program(models[m].name,
					      "unlock m; lock n, unlock n",
					      models[m].workers);

		assert_int_equal(t->tasks[0].status, TASK_ERROR);
		assert_int_equal(t->tasks[1].status, TASK_OK);
		free_trace(t);
	}
}

/* An RLock re-enters: its owner takes it twice and releases it twice, and
 * the critical sections of the tasks still never overlap; under asyncio,
 * which has no RLock, the spec is refused naming the program. */
static void test_rlock_reenters(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		const char *program = "rlock r; 3 x (lock r, lock r, sleep "
				      "10ms, unlock r, unlock r)";
		struct spec_error err;
		struct spec *s;
		struct trace *t;

		if (strcmp(models[m].name, "asyncio") == 0) {
			s = calloc(1, sizeof(*s));
			assert_non_null(s);
			assert_int_equal(
				spec_init(s, "custom", "asyncio", &err), 0);
			assert_int_equal(spec_set(s, "program", program, &err),
					 0);
			assert_int_equal(spec_validate(s, &err), -EINVAL);
			assert_string_equal(err.field, "params.program");
			assert_non_null(strstr(err.message, "rlock 'r'"));
			assert_non_null(strstr(err.message, "no RLock"));
			free(s);
			continue;
		}
		t = run_program(models[m].name, program, models[m].workers);
		print_message("rlock under %s\n", models[m].name);
		assert_done(t);
		assert_int_equal(count_segments(t, -1, ST_SLEEP, NULL), 3);
		assert_int_equal(max_overlap_of(t, ST_SLEEP), 1);
		/* The second lock of each task never waits for its own
		 * first: a task's waits all end before its sleep. */
		for (uint32_t k = 0; k < 3; k++) {
			const struct trace_segment *sl =
				nth_segment(t, k, ST_SLEEP, 0);

			for (size_t i = 0; i < t->n_segments; i++)
				if (t->segments[i].task == k &&
				    t->segments[i].state == ST_LOCK_WAIT)
					assert_true(t->segments[i].t1_ns <=
						    sl->t0_ns);
		}
		free_trace(t);
	}
}

/* An RLock released by a task that does not hold it fails that task, as
 * Python's "cannot release un-acquired lock". */
static void test_rlock_release_unowned(void **state)
{
	struct trace *t;

	(void)state;
	t = run_program("threads", "rlock r; unlock r; lock r, unlock r", NULL);
	assert_int_equal(t->tasks[0].status, TASK_ERROR);
	assert_int_equal(t->tasks[1].status, TASK_OK);
	free_trace(t);
}

/* notify wakes the longest waiting one; notify all wakes every one; each
 * wait ends after the notify's task slept, never before. */
static void test_condition(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct trace *t;
		const struct trace_segment *before;

		if (!models[m].concurrent)
			continue;
		t = run_program(models[m].name,
				"condition c; 3 x (cond wait c, sleep 5ms); "
				"sleep 40ms, cond notify c all",
				models[m].workers);
		print_message("condition notify all under %s\n",
			      models[m].name);
		assert_done(t);
		before = nth_segment(t, 3, ST_SLEEP, 0);
		for (uint32_t k = 0; k < 3; k++) {
			const struct trace_segment *w =
				nth_segment(t, k, ST_EVENT_WAIT, 0);

			assert_string_equal(note_of(t, w), "c");
			assert_true(w->t1_ns >= before->t1_ns);
		}
		free_trace(t);

		/* Three waiters, one notify each, one after another: each
		 * notify lets exactly one more waiter go. */
		t = run_program(models[m].name,
				"3 x (cond wait c); sleep 40ms, cond notify "
				"c, sleep 20ms, cond notify c, sleep 20ms, "
				"cond notify c",
				models[m].workers);
		print_message("condition notify under %s\n", models[m].name);
		assert_done(t);
		{
			int64_t n1 = nth_segment(t, 3, ST_SLEEP, 0)->t1_ns;
			int64_t n2 = nth_segment(t, 3, ST_SLEEP, 1)->t1_ns;
			size_t after_first = 0, after_second = 0;

			for (uint32_t k = 0; k < 3; k++) {
				const struct trace_segment *w =
					nth_segment(t, k, ST_EVENT_WAIT, 0);

				assert_true(w->t1_ns >= n1);
				after_first += w->t1_ns < n2;
				after_second +=
					w->t1_ns >=
					nth_segment(t, 3, ST_SLEEP, 2)->t1_ns;
			}
			assert_int_equal(after_first, 1);
			assert_int_equal(after_second, 1);
		}
		free_trace(t);
	}
}

/* ---- deadlocks ---------------------------------------------------------- */

struct deadlock_case {
	const char *model;
	const char *workers;
	const char *program;
	const char *says[3];  /* in the message */
	enum seg_state waits; /* task 0 has a wait segment in this state */
};

/* Each task takes its first lock, says so, and waits until the other has
 * taken its own: then each wants the other's. */
#define LOCK_CYCLE                                                             \
	"lock a, event set a_held, event wait b_held, lock b, unlock b, "      \
	"unlock a; "                                                           \
	"lock b, event set b_held, event wait a_held, lock a, unlock a, "      \
	"unlock b"

static const struct deadlock_case deadlock_cases[] = {
	{"sequential",
	 NULL,
	 "get q; put q",
	 {"deadlock: task 1 waits for queue 'q' (empty), nobody can put",
	  "1 task cannot start", NULL},
	 ST_QUEUE_WAIT},
	{"threads",
	 NULL,
	 LOCK_CYCLE,
	 {"task 1 waits for lock 'b' (held by task 2)",
	  "task 2 waits for lock 'a' (held by task 1)", NULL},
	 ST_LOCK_WAIT},
	{"asyncio",
	 NULL,
	 LOCK_CYCLE,
	 {"task 1 waits for lock 'b' (held by task 2)",
	  "task 2 waits for lock 'a' (held by task 1)", NULL},
	 ST_LOCK_WAIT},
	{"process-pool",
	 "2",
	 LOCK_CYCLE,
	 {"task 1 waits for lock 'b' (held by task 2)",
	  "task 2 waits for lock 'a' (held by task 1)", NULL},
	 ST_LOCK_WAIT},
	{"sequential",
	 NULL,
	 LOCK_CYCLE,
	 {"task 1 waits for event 'b_held' (not set)", NULL},
	 ST_EVENT_WAIT},
	/* One worker, taken by the consumer: the producer never starts. */
	{"thread-pool",
	 "1",
	 "get q; put q",
	 {"task 1 waits for queue 'q' (empty)", "1 task cannot start", NULL},
	 ST_QUEUE_WAIT},
	{"threads",
	 NULL,
	 "sem s=0; acquire s",
	 {"task 1 waits for semaphore 's' (none of 0 left), nobody can "
	  "release",
	  NULL},
	 ST_SEM_WAIT},
	{"threads",
	 NULL,
	 "barrier b=3; 2 x (barrier b)",
	 {"task 1 and 1 more wait for barrier 'b' (2 of 3 arrived)", NULL},
	 ST_BARRIER_WAIT},
	{"asyncio",
	 NULL,
	 "queue q=1; put q, put q",
	 {"task 1 waits for queue 'q' (full, 1 of 1), nobody can get", NULL},
	 ST_QUEUE_WAIT},
	/* A plain Lock taken twice by its owner waits for itself. */
	{"threads",
	 NULL,
	 "lock a, lock a, unlock a",
	 {"task 1 waits for lock 'a' (held by itself: a Lock is not "
	  "re-entrant; an RLock is)",
	  NULL},
	 ST_LOCK_WAIT},
	{"asyncio",
	 NULL,
	 "lock a, lock a, unlock a",
	 {"task 1 waits for lock 'a' (held by itself", NULL},
	 ST_LOCK_WAIT},
	/* notify wakes the longest waiting of two waiters (task 2); the
	 * other waits for good. */
	{"threads",
	 NULL,
	 "sleep 20ms, cond wait c; cond wait c; sleep 40ms, cond notify c",
	 {"waits for condition 'c' (not notified), nobody notifies again",
	  NULL},
	 ST_EVENT_WAIT},
};

static void test_deadlock(void **state)
{
	(void)state;
	for (size_t c = 0;
	     c < sizeof(deadlock_cases) / sizeof(deadlock_cases[0]); c++) {
		const struct deadlock_case *dc = &deadlock_cases[c];
		struct trace *t =
			run_program(dc->model, dc->program, dc->workers);

		print_message("deadlock %zu under %s: %s\n", c, dc->model,
			      t->message);
		assert_status(t, RUN_DEADLOCK);
		for (size_t i = 0; i < 3 && dc->says[i]; i++)
			if (!strstr(t->message, dc->says[i]))
				fail_msg("message lacks \"%s\"", dc->says[i]);
		/* The stuck tasks did not finish; their wait is in the
		 * trace up to the end. */
		assert_int_not_equal(t->tasks[0].status, TASK_OK);
		assert_true(count_segments(t, 0, dc->waits, NULL) > 0);
		free_trace(t);
	}
}

/* ---- spawned workers map the objects from the memfd ------------------- */

static void test_spawned_workers(void **state)
{
	const char *bin = getenv("OVERLAP_BIN");
	struct spec spec;
	struct spec_error err = {0};
	struct trace t;

	(void)state;
	if (!bin || !*bin) {
		print_message("OVERLAP_BIN not set: skipped\n");
		skip();
	}
	setenv("OVERLAP_WORKER_EXE", bin, 1);
	assert_int_equal(spec_init(&spec, "counter", "process-pool", &err), 0);
	assert_int_equal(spec_set(&spec, "start", "spawn", &err), 0);
	assert_int_equal(spec_set(&spec, "workers", "2", &err), 0);
	assert_int_equal(spec_set(&spec, "tasks", "4", &err), 0);
	assert_int_equal(spec_set(&spec, "increments", "200000", &err), 0);
	assert_int_equal(spec_set(&spec, "sync", "lock", &err), 0);
	trace_init(&t);
	assert_int_equal(run_execute(&spec, NULL, &t, &err), 0);
	assert_done(&t);
	assert_int_equal(
		json_integer_value(json_object_get(t.summary.checks, "got")),
		800000);
	assert_int_equal(
		json_integer_value(json_object_get(t.summary.checks, "lost")),
		0);
	trace_free(&t);
	unsetenv("OVERLAP_WORKER_EXE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_excludes),
		cmocka_unit_test(test_semaphore_bounds),
		cmocka_unit_test(test_barrier),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_queue_and_counter),
		cmocka_unit_test(test_unlock_unheld),
		cmocka_unit_test(test_rlock_reenters),
		cmocka_unit_test(test_rlock_release_unowned),
		cmocka_unit_test(test_condition),
		cmocka_unit_test(test_deadlock),
		cmocka_unit_test(test_value),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_manager_value),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_spawned_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
