/*
 * test_asyncio: the asyncio and asyncio-executor models, end to end
 * through run_execute(), judged by the trace's structure: which lanes
 * exist, what overlaps what on which lane, and in which order things
 * finished.  Durations are tens of milliseconds and no assertion depends
 * on how fast the machine is; where a claim is about time (loop lag), it
 * is tied to a segment in the same trace (the lag is at least half the
 * compute that caused it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run.h"
#include "spec.h"
#include "aio_group.h"
#include "support.h"
#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"

#define KV_MAX 10

/* ---- helpers ------------------------------------------------------------ */

static size_t lanes_of_kind(const struct trace *t, enum lane_kind kind,
			    uint32_t *first)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_lanes; i++) {
		if (t->lanes[i].kind != kind)
			continue;
		if (n++ == 0 && first)
			*first = t->lanes[i].id;
	}
	return n;
}

static uint32_t loop_lane(const struct trace *t)
{
	uint32_t id = UINT32_MAX;

	assert_int_equal(lanes_of_kind(t, LANE_LOOP, &id), 1);
	assert_string_equal(t->lanes[id].name, "event loop");
	assert_true(t->lanes[id].os_id > 0);
	return id;
}

static void assert_all_tasks(const struct trace *t, enum task_status st)
{
	for (size_t i = 0; i < t->n_tasks; i++) {
		if (t->tasks[i].status != st)
			print_message("task %zu: %s (%s)\n", i,
				      task_status_name(t->tasks[i].status),
				      trace_task_note(t, &t->tasks[i]));
		assert_int_equal(t->tasks[i].status, st);
	}
}

/* The segments in state st (on lane, unless lane is UINT32_MAX). */
static size_t segments_in(const struct trace *t, enum seg_state st,
			  uint32_t lane, struct interval *out)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state != st || (lane != UINT32_MAX && s->lane != lane))
			continue;
		if (out)
			out[n] = (struct interval){s->t0_ns, s->t1_ns};
		n++;
	}
	return n;
}

static int seg_by_t0(const void *a, const void *b)
{
	const struct trace_segment *x = *(const struct trace_segment *const *)a;
	const struct trace_segment *y = *(const struct trace_segment *const *)b;

	return (x->t0_ns > y->t0_ns) - (x->t0_ns < y->t0_ns);
}

/* The computations on lane (any lane: UINT32_MAX): a task's compute
 * segments and the runnable ones between them (its thread off the core,
 * still in the computation) that touch, as one interval each; tasks[i] is
 * the task of out[i] when tasks is not NULL. */
static size_t computations(const struct trace *t, uint32_t lane,
			   struct interval *out, uint32_t *tasks)
{
	const struct trace_segment **c = calloc(t->n_segments + 1, sizeof(*c));
	uint32_t *own = calloc(t->n_segments + 1, sizeof(*own));
	size_t n = 0, k = 0;

	assert_non_null(c);
	assert_non_null(own);
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if ((s->state == ST_COMPUTE || s->state == ST_RUNNABLE) &&
		    (lane == UINT32_MAX || s->lane == lane))
			c[n++] = s;
	}
	qsort(c, n, sizeof(*c), seg_by_t0);
	for (size_t i = 0; i < n; i++) {
		size_t j;

		/* The computation of the same task this segment touches. */
		for (j = 0; j < k; j++)
			if (own[j] == c[i]->task && out[j].t1 == c[i]->t0_ns)
				break;
		if (j < k) {
			out[j].t1 = c[i]->t1_ns;
			continue;
		}
		out[k] = (struct interval){c[i]->t0_ns, c[i]->t1_ns};
		own[k++] = c[i]->task;
	}
	if (tasks)
		memcpy(tasks, own, k * sizeof(*own));
	free(own);
	free(c);
	return k;
}

/* ---- asyncio: many waits overlap on one lane ---------------------------- */

struct overlap_case {
	const char *io;
	const char *tasks;
	enum seg_state state;
};

static const struct overlap_case overlap_cases[] = {
	{"sleep", "50", ST_SLEEP},
	{"net", "20", ST_IO},
};

/* Every task starts its wait in the loop's first batch of callbacks and
 * none can end before the next poll, so all waits are open at once; and
 * all of it happens on the one loop lane, with no thread lane at all. */
static void test_waits_overlap(void **state)
{
	const struct overlap_case *c = *state;
	struct kv sets[] = {{"tasks", c->tasks},
			    {"duration", "30ms"},
			    {"io", c->io},
			    {NULL, NULL}};
	struct trace t;
	size_t n = (size_t)atoi(c->tasks);
	struct interval *iv = calloc(n + 1, sizeof(*iv));
	uint32_t lane;

	run_into("fetch", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	lane = loop_lane(&t);
	assert_int_equal(lanes_of_kind(&t, LANE_THREAD, NULL), 0);
	assert_int_equal(lanes_of_kind(&t, LANE_PROCESS, NULL), 0);
	assert_int_equal(t.n_tasks, n);
	assert_all_tasks(&t, TASK_OK);
	for (size_t i = 0; i < t.n_tasks; i++)
		assert_int_equal(t.tasks[i].lane, lane);
	/* Every wait segment is on the loop lane. */
	assert_int_equal(segments_in(&t, c->state, UINT32_MAX, NULL), n);
	assert_int_equal(segments_in(&t, c->state, lane, iv), n);
	assert_int_equal(max_overlap(iv, n), n);
	free(iv);
	trace_free(&t);
}

/* ---- asyncio: a cpu step blocks the loop -------------------------------- */

/* Three tasks sleep 5 ms (or wait 40 ms for a reply over loopback); the
 * fourth wakes after 1 ms and computes 60 ms (100 ms) on the loop
 * thread.  The waiters' timers (or replies) come due while it computes
 * and are seen only after it: their waits end when due, and each is ready
 * (waiting for the loop) from then until the compute is over; the loop
 * lag is at least the time from the last due time to the end of the
 * compute.  The diagnosis says so, counts the tasks it held up, and
 * points at an executor. */
struct block_case {
	const char *program;
	enum seg_state wait;
};

static const struct block_case block_cases[] = {
	{"3 x (sleep 5ms); (sleep 1ms, cpu 60ms)", ST_SLEEP},
	/* The reply is due well after the computation begins (40 ms
	 * against 1 ms), and well before it ends, even when the
	 * calibration ran on a busier core than the step: only a loop
	 * held off the CPU that long sees the reply first. */
	{"3 x (net 40ms); (sleep 1ms, cpu 100ms)", ST_IO},
};

/* Ready segment r begins where a wait (state) of its task ended. */
static bool ends_wait_of(const struct trace *t, const struct trace_segment *r,
			 enum seg_state state)
{
	for (size_t j = 0; j < t->n_segments; j++) {
		const struct trace_segment *w = &t->segments[j];

		if (w->task == r->task && w->state == state &&
		    w->t1_ns == r->t0_ns)
			return true;
	}
	return false;
}

static void test_cpu_blocks_loop(void **state)
{
	const struct block_case *bc = *state;
	struct kv sets[] = {{"program", bc->program}, {NULL, NULL}};
	struct trace t;
	struct interval c[4];
	uint32_t who[4], lane;
	int64_t len, due_ns = 0;
	size_t ready = 0, held_up = 0;

	(void)state;
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.n_tasks, 4);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	assert_int_equal(lanes_of_kind(&t, LANE_THREAD, NULL), 0);
	/* One computation (runnable where the loop thread lost its core
	 * meanwhile), on the loop, by the fourth task. */
	assert_int_equal(computations(&t, UINT32_MAX, c, who), 1);
	assert_int_equal(computations(&t, lane, c, who), 1);
	assert_int_equal(who[0], 3);
	len = c[0].t1 - c[0].t0;
	assert_true(len > 0);

	/* Nothing else on the loop begins or ends while it computes but
	 * the waiters' waits, which come due: each then is ready (waiting
	 * for the loop) until the computation is over.  (A loaded machine
	 * can wake the loop late, with every timer due: the fourth task's
	 * runs first, and the others are ready from the wake-up.) */
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->lane != lane || s->task == 3)
			continue;
		if (s->state == ST_READY) {
			/* Right after the task's wait, to the end. */
			assert_true(s->t0_ns < c[0].t1);
			assert_true(s->t1_ns >= c[0].t1);
			assert_true(ends_wait_of(&t, s, bc->wait));
			ready++;
			continue;
		}
		assert_false(s->t0_ns > c[0].t0 && s->t0_ns < c[0].t1);
		if (s->state != bc->wait) {
			assert_false(s->t1_ns > c[0].t0 && s->t1_ns < c[0].t1);
			continue;
		}
		/* The wait began before the computation; one that came due
		 * inside it is followed by a ready segment (counted
		 * above). */
		assert_true(s->t0_ns < c[0].t0);
		if (s->t1_ns > c[0].t0 && s->t1_ns < c[0].t1) {
			held_up++;
			if (s->t1_ns > due_ns)
				due_ns = s->t1_ns;
		}
	}
	assert_true(ready >= held_up);
	assert_true(ready >= 1);
	for (size_t i = 0; i < 3; i++)
		assert_true(t.tasks[i].end_ns >= c[0].t1);

	assert_true(t.has_summary);
	print_message("compute %lld us, max loop lag %lld us\n",
		      (long long)(len / 1000),
		      (long long)(t.summary.max_loop_lag_ns / 1000));
	/* The last wait came due at due_ns and was seen only after the
	 * computation: the loop was that late at least, and each task it
	 * held up was ready that long (1 ms for where in a wait its clock
	 * started). */
	assert_true(due_ns > 0);
	assert_true(t.summary.max_loop_lag_ns >= c[0].t1 - due_ns - 1000000);
	assert_true(t.summary.states_ns[ST_READY] >=
		    (int64_t)held_up * (c[0].t1 - due_ns - 1000000));
	/* Three 5 ms waits against 60 ms of computing: mixed by the
	 * shares, and the blocked loop is what the diagnosis is about. */
	assert_string_equal(t.summary.bound, "mixed");
	assert_string_equal(t.summary.recommend, "asyncio-executor");
	assert_non_null(strstr(t.summary.why, "(max loop lag)"));
	{
		char want[64];

		snprintf(want, sizeof(want),
			 "and %zu other task%s ready "
			 "meanwhile",
			 ready, ready == 1 ? " was" : "s were");
		assert_non_null(strstr(t.summary.why, want));
	}
	trace_free(&t);
}

/* A block step is time.sleep in a coroutine: the loop's thread sleeps.
 * Its sleep, noted as blocking, is on the loop lane; nothing else on the
 * loop begins or ends inside it but the waiters' sleeps, which come due
 * and are then ready (waiting for the loop) until it is over; the
 * diagnosis names the blocking call and keeps asyncio. */
static void test_block_blocks_loop(void **state)
{
	struct kv sets[] = {{"program", "3 x (sleep 30ms); (sleep 1ms, block "
					"100ms)"},
			    {NULL, NULL}};
	const struct trace_segment *b = NULL;
	struct trace t;
	uint32_t lane;
	size_t ready = 0, held_up = 0;

	(void)state;
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	assert_int_equal(
		count_segments(&t, -1, ST_SLEEP, PROTOCOL_NOTE_BLOCKING), 1);
	for (size_t i = 0; i < t.n_segments; i++)
		if (t.segments[i].state == ST_SLEEP &&
		    strcmp(note_of(&t, &t.segments[i]),
			   PROTOCOL_NOTE_BLOCKING) == 0)
			b = &t.segments[i];
	assert_non_null(b);
	assert_int_equal(b->task, 3);
	assert_int_equal(b->lane, lane);
	assert_int_equal(segments_in(&t, ST_COMPUTE, UINT32_MAX, NULL), 0);
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->task == 3)
			continue;
		if (s->state == ST_READY) {
			assert_true(s->t0_ns < b->t1_ns);
			assert_true(s->t1_ns >= b->t1_ns);
			assert_true(ends_wait_of(&t, s, ST_SLEEP));
			ready++;
			continue;
		}
		assert_false(s->t0_ns > b->t0_ns && s->t0_ns < b->t1_ns);
		if (s->t1_ns > b->t0_ns && s->t1_ns < b->t1_ns)
			held_up++;
	}
	assert_true(ready >= held_up);
	assert_true(ready >= 1);
	for (size_t i = 0; i < 3; i++)
		assert_true(t.tasks[i].end_ns >= b->t1_ns);
	assert_string_equal(t.summary.recommend, "asyncio");
	assert_non_null(strstr(t.summary.why, "task 4's time.sleep"));
	assert_non_null(strstr(t.summary.why, "await asyncio.sleep"));
	trace_free(&t);
}

/* ---- the blocking lessons: the others are ready the length of it ------- */

/* The two lessons of README's "What it shows" (web/js/lessons.js, blocking
 * and block), as they are: four tasks tick every 50 ms (a request, then
 * 5 ms of computing); the fifth, after a 75 ms request, computes 150 ms on
 * the loop (cpu) or calls time.sleep(0.15) in its coroutine (block).  The
 * others' replies come in meanwhile, and none of them is seen until the
 * loop is free: each task's ready segment begins inside the blocker's and
 * lasts until it is over, nothing else runs on the loop inside it, and
 * together the ready segments cover most of it (from the first reply
 * seen late to its end).  A reply read after the blocker, in the same
 * pass over the connection, was ready from when it was due, not from
 * before (the request's io lasts its whole delay). */
#define LESSON_TICKS                                                           \
	"net 50ms, cpu 5ms, net 50ms, cpu 5ms, net 50ms, cpu 5ms, net 50ms, "  \
	"cpu 5ms, net 50ms, cpu 5ms"

static const char *const lesson_blockers[] = {"cpu 150ms", "block 150ms"};

static void test_lesson_others_ready(void **state)
{
	const char *last = *state;
	char program[256];
	struct kv sets[] = {{"program", program}, {NULL, NULL}};
	bool cpu = strncmp(last, "cpu", 3) == 0;
	int64_t b0 = INT64_MAX, b1 = 0, first = INT64_MAX;
	uint32_t lane;
	struct trace t;

	snprintf(program, sizeof(program),
		 "4 x (" LESSON_TICKS ", net 50ms); 1 x (net 75ms, %s)", last);
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.n_tasks, 5);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	/* The blocker: the fifth task's one computation (runnable where
	 * the loop's thread lost its core), or its one blocking sleep. */
	if (cpu) {
		/* As many computations as segments, at most. */
		struct interval *c = calloc(t.n_segments + 1, sizeof(*c));
		uint32_t *who = calloc(t.n_segments + 1, sizeof(*who));
		size_t n, k;

		assert_non_null(c);
		assert_non_null(who);
		n = computations(&t, lane, c, who);
		for (k = 0; k < n; k++)
			if (who[k] == 4) {
				assert_true(b1 == 0); /* only one */
				b0 = c[k].t0;
				b1 = c[k].t1;
			}
		free(c);
		free(who);
	} else {
		for (size_t i = 0; i < t.n_segments; i++) {
			const struct trace_segment *s = &t.segments[i];

			if (s->state != ST_SLEEP ||
			    strcmp(note_of(&t, s), PROTOCOL_NOTE_BLOCKING))
				continue;
			assert_int_equal(s->task, 4);
			assert_int_equal(s->lane, lane);
			assert_true(b1 == 0);
			b0 = s->t0_ns;
			b1 = s->t1_ns;
		}
	}
	assert_true(b1 - b0 >= 150 * NS_PER_MS);
	/* No reply comes before it is due: every request (50 or 75 ms)
	 * waits its whole delay, however late the loop reads it. */
	for (size_t i = 0; i < t.n_segments; i++)
		if (t.segments[i].state == ST_IO)
			assert_true(t.segments[i].t1_ns - t.segments[i].t0_ns >=
				    50 * NS_PER_MS);
	for (uint32_t k = 0; k < 4; k++) {
		size_t held = 0;

		for (size_t i = 0; i < t.n_segments; i++) {
			const struct trace_segment *s = &t.segments[i];

			if (s->task != k || s->t1_ns <= b0 || s->t0_ns >= b1)
				continue;
			/* No other task computes inside it. */
			assert_false(s->state == ST_COMPUTE);
			if (s->state != ST_READY)
				continue;
			/* Ready from its reply until the blocker is over:
			 * the reply came in inside it, or (on a busy
			 * machine) just before, while the loop still ran
			 * other tasks' ticks ahead of the blocker. */
			if (s->t1_ns < b1 || !ends_wait_of(&t, s, ST_IO))
				fail_msg("task %u: ready %lld..%lld us, the "
					 "blocker %lld..%lld us",
					 k + 1, (long long)(s->t0_ns / 1000),
					 (long long)(s->t1_ns / 1000),
					 (long long)(b0 / 1000),
					 (long long)(b1 / 1000));
			if ((s->t0_ns > b0 ? s->t0_ns : b0) < first)
				first = s->t0_ns > b0 ? s->t0_ns : b0;
			held++;
		}
		if (held != 1)
			fail_msg("task %u: %zu ready segments in the blocker's "
				 "%lld ms",
				 k + 1, held,
				 (long long)((b1 - b0) / NS_PER_MS));
	}
	print_message("%s: %lld ms, the others ready from %lld ms into it\n",
		      last, (long long)((b1 - b0) / NS_PER_MS),
		      (long long)((first - b0) / NS_PER_MS));
	/* Each ready segment runs to the blocker's end, so together they
	 * cover it from the first one's start: most of it. */
	assert_true((b1 - first) * 2 >= b1 - b0);
	assert_true(t.summary.states_ns[ST_READY] >= b1 - first);
	trace_free(&t);
}

/* A task never awaited (daemon) is cancelled when asyncio.run returns:
 * the run is done as soon as the others are, its sleep cut then; a timer
 * (loop.call_later) delays its task, noted as a timer. */
static void test_daemon_cancelled(void **state)
{
	struct kv sets[] = {{"program", "daemon (timer 20ms, sleep 10s); 2 x "
					"(sleep 100ms)"},
			    {NULL, NULL}};
	struct trace t;
	size_t timers = 0, cut = 0;

	(void)state;
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.tasks[0].status, TASK_CANCELLED);
	assert_int_equal(t.tasks[1].status, TASK_OK);
	assert_int_equal(t.tasks[2].status, TASK_OK);
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->task != 0 || s->state != ST_SLEEP)
			continue;
		if (strcmp(note_of(&t, s), PROTOCOL_NOTE_TIMER) == 0) {
			timers++;
		} else {
			cut++;
			assert_true(s->t1_ns >= t.tasks[1].end_ns);
			assert_true(s->t1_ns - s->t0_ns < 10 * NS_PER_S);
		}
	}
	assert_int_equal(timers, 1);
	assert_int_equal(cut, 1);
	trace_free(&t);
}

/* asyncio.timeout around a task's steps: when it expires the task is
 * cancelled where it waits (its sleep, its request) and ends as timeout;
 * nothing after the wait runs, and the other tasks, a request through
 * the same connection pool among them, go on. */
static void test_timeout_cancels(void **state)
{
	struct kv sets[] = {{"program", "timeout 50ms (sleep 2s, cpu 1ms); "
					"timeout 50ms (net 2s, cpu 1ms); "
					"sleep 200ms, net 10ms"},
			    {NULL, NULL}};
	struct trace t;

	(void)state;
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.tasks[0].status, TASK_TIMEOUT);
	assert_int_equal(t.tasks[1].status, TASK_TIMEOUT);
	assert_int_equal(t.tasks[2].status, TASK_OK);
	for (uint32_t k = 0; k < 2; k++) {
		/* The wait was cut before the other task's sleep ended. */
		const struct trace_segment *w = NULL;

		for (size_t i = 0; i < t.n_segments; i++) {
			const struct trace_segment *s = &t.segments[i];

			assert_false(s->task == k && s->state == ST_COMPUTE);
			if (s->task == k &&
			    s->state == (k == 0 ? ST_SLEEP : ST_IO))
				w = s;
		}
		assert_non_null(w);
		assert_true(w->t1_ns < t.tasks[2].end_ns);
		assert_true(t.tasks[k].end_ns < t.tasks[2].end_ns);
	}
	assert_int_equal(count_segments(&t, 2, ST_IO, NULL), 1);
	trace_free(&t);
}

/* How main awaits the tasks, when one raises: aio_group.h says what
 * each group does, in both engines. */
static void test_group(void **state)
{
	(void)state;
	for (size_t g = 0; g < 4; g++) {
		struct kv sets[] = {{"program", AIO_GROUP_PROGRAM},
				    {"group", aio_groups[g]},
				    {NULL, NULL}};
		struct trace t;

		run_into("custom", "asyncio", sets, NULL, &t);
		assert_group_run(&t, aio_groups[g]);
		trace_free(&t);
	}
}

/* task.cancel() from another task: the victim is cut where it waits,
 * after the cancel, noted as cancelled by it, and nothing after its wait
 * runs; with plain gather the cancel reaches main as an exception, and
 * asyncio.run cancels the task still running.  Under asyncio-executor a
 * TaskGroup cancels a sibling whose computation runs in a worker thread:
 * the task ends, the thread computes on (a thread cannot be cancelled). */
static void test_cancel(void **state)
{
	struct kv sets[] = {{"program", "(sleep 400ms, cpu 1ms); (sleep 30ms, "
					"cancel 1); (sleep 250ms)"},
			    {NULL, NULL},
			    {NULL, NULL}};
	struct kv ex_sets[] = {{"program", "(sleep 30ms, fail); (cpu 200ms)"},
			       {"group", "taskgroup"},
			       {"workers", "1"},
			       {NULL, NULL}};
	struct trace t;

	(void)state;
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.tasks[0].status, TASK_CANCELLED);
	assert_string_equal(trace_task_note(&t, &t.tasks[0]),
			    PROTOCOL_NOTE_BY_CANCEL);
	assert_int_equal(t.tasks[1].status, TASK_OK);
	assert_int_equal(t.tasks[2].status, TASK_OK);
	assert_int_equal(count_segments(&t, 0, ST_COMPUTE, NULL), 0);
	assert_true(t.tasks[0].end_ns >= t.tasks[1].end_ns);
	assert_true(t.tasks[0].end_ns < t.tasks[2].end_ns);
	trace_free(&t);

	/* Both sleeps end while a blocking call holds the loop: the cancel
	 * comes first, so the victim resumes with CancelledError, not with
	 * its sleep's result, as in asyncio. */
	{
		struct kv race[] = {{"program",
				     "(sleep 50ms, cpu 1ms); (sleep "
				     "30ms, cancel 1); (block 100ms)"},
				    {NULL, NULL}};

		run_into("custom", "asyncio", race, NULL, &t);
		assert_int_equal(t.tasks[0].status, TASK_CANCELLED);
		assert_int_equal(count_segments(&t, 0, ST_COMPUTE, NULL), 0);
		assert_int_equal(count_segments(&t, 0, ST_SLEEP, NULL), 1);
		trace_free(&t);
	}

	sets[1] = (struct kv){"group", "gather"};
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.tasks[0].status, TASK_CANCELLED);
	assert_int_equal(t.tasks[2].status, TASK_CANCELLED);
	assert_string_equal(trace_task_note(&t, &t.tasks[2]),
			    PROTOCOL_NOTE_BY_RUN);
	assert_int_equal(count_segments(&t, 0, ST_COMPUTE,
					PROTOCOL_NOTE_MAIN_GATHER),
			 1);
	trace_free(&t);

	run_into("custom", "asyncio-executor", ex_sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.tasks[1].status, TASK_CANCELLED);
	assert_string_equal(trace_task_note(&t, &t.tasks[1]),
			    PROTOCOL_NOTE_BY_GROUP);
	{
		int64_t computed_until = 0;

		for (size_t i = 0; i < t.n_segments; i++)
			if (t.segments[i].task == 1 &&
			    t.segments[i].state == ST_COMPUTE &&
			    t.segments[i].t1_ns > computed_until)
				computed_until = t.segments[i].t1_ns;
		assert_true(computed_until > t.tasks[1].end_ns);
	}
	trace_free(&t);
}

/* Compute on the loop never overlaps compute: one task computes at a
 * time, in the order the loop reached them. */
static void test_cpu_serialised(void **state)
{
	struct kv sets[] = {{"program", "4 x (cpu 5ms, sleep 1ms, cpu 5ms)"},
			    {NULL, NULL}};
	struct trace t;
	struct interval iv[16];
	uint32_t lane;
	size_t n;

	(void)state;
	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	n = computations(&t, UINT32_MAX, iv, NULL);
	assert_int_equal(n, 8);
	assert_int_equal(computations(&t, lane, iv, NULL), 8);
	assert_int_equal(max_overlap(iv, n), 1);
	trace_free(&t);
}

/* ---- asyncio: limit ----------------------------------------------------- */

struct limit_case {
	const char *limit;
	size_t k;
};

static const struct limit_case limit_cases[] = {
	{"1", 1},
	{"3", 3},
	{"5", 5},
};

/* A task is past the semaphore from the end of its sem-wait (or its start,
 * when it did not wait) to its end.  Never more than k at once, k at the
 * start, and exactly the others waited, each on the loop lane with the
 * note "limit". */
static void test_limit(void **state)
{
	const struct limit_case *c = *state;
	enum { N = 12 };
	struct kv sets[] = {{"tasks", "12"},
			    {"duration", "10ms"},
			    {"io", "sleep"},
			    {"limit", c->limit},
			    {NULL, NULL}};
	struct interval past[N];
	bool waited[N] = {false};
	size_t n_wait = 0;
	struct trace t;
	uint32_t lane;

	run_into("fetch", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.n_tasks, N);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	for (size_t i = 0; i < N; i++)
		past[i] = (struct interval){t.tasks[i].start_ns,
					    t.tasks[i].end_ns};
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->state != ST_SEM_WAIT)
			continue;
		assert_int_equal(s->lane, lane);
		assert_string_equal(note_of(&t, s), "limit");
		assert_false(waited[s->task]);
		waited[s->task] = true;
		n_wait++;
		past[s->task].t0 = s->t1_ns;
	}
	assert_int_equal(n_wait, N - c->k);
	assert_int_equal(max_overlap(past, N), c->k);
	trace_free(&t);
}

/* ---- asyncio: scale ----------------------------------------------------- */

static void test_ten_thousand(void **state)
{
	struct kv sets[] = {{"tasks", "10000"},
			    {"duration", "20ms"},
			    {"io", "sleep"},
			    {NULL, NULL}};
	struct trace t;
	uint32_t lane;

	(void)state;
	run_into("fetch", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.n_tasks, 10000);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	assert_int_equal(segments_in(&t, ST_SLEEP, lane, NULL), 10000);
	assert_int_equal(lanes_of_kind(&t, LANE_THREAD, NULL), 0);
	trace_free(&t);
}

/* ---- asyncio: collect order --------------------------------------------- */

struct collect_case {
	const char *collect;
	int order[3]; /* collect_order */
};

static const struct collect_case collect_cases[] = {
	{"gather", {0, 1, 2}},
	{"as_completed", {1, 2, 0}},
};

/* Sleeps of 30, 10 and 20 ms finish in the order 1, 2, 0 whatever the
 * load (timers fire in due order); gather collects in submission order,
 * as_completed in finish order. */
static void test_collect(void **state)
{
	const struct collect_case *c = *state;
	struct kv sets[] = {{"program", "sleep 30ms; sleep 10ms; sleep 20ms"},
			    {"collect", c->collect},
			    {NULL, NULL}};
	static const int finish[3] = {1, 2, 0};
	struct trace t;
	const json_t *checks, *order, *fin;

	run_into("custom", "asyncio", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_all_tasks(&t, TASK_OK);
	assert_true(t.tasks[1].end_ns < t.tasks[2].end_ns);
	assert_true(t.tasks[2].end_ns < t.tasks[0].end_ns);
	assert_true(t.has_summary);
	checks = t.summary.checks;
	assert_non_null(checks);
	assert_string_equal(
		json_string_value(json_object_get(checks, "collect_order")),
		c->collect);
	order = json_object_get(checks, "collected");
	fin = json_object_get(checks, "finish_order");
	assert_true(json_is_array(order));
	assert_true(json_is_array(fin));
	assert_int_equal(json_array_size(order), 3);
	assert_int_equal(json_array_size(fin), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(json_integer_value(json_array_get(order, i)),
				 c->order[i]);
		assert_int_equal(json_integer_value(json_array_get(fin, i)),
				 finish[i]);
	}
	trace_free(&t);
}

/* ---- asyncio: stop ------------------------------------------------------ */

/* A run stopped by its time limit ends every task as cancelled, with the
 * wait it was in recorded up to the stop. */
static void test_time_limit(void **state)
{
	struct kv sets[] = {{"tasks", "5"},
			    {"duration", "30s"},
			    {"io", "sleep"},
			    {"time_limit", "100ms"},
			    {NULL, NULL}};
	struct trace t;
	uint32_t lane;

	(void)state;
	run_into("fetch", "asyncio", sets, NULL, &t);
	assert_int_not_equal(t.status, RUN_DONE);
	assert_all_tasks(&t, TASK_CANCELLED);
	lane = loop_lane(&t);
	assert_int_equal(segments_in(&t, ST_SLEEP, lane, NULL), 5);
	for (size_t i = 0; i < t.n_segments; i++)
		assert_true(t.segments[i].t1_ns < 30LL * 1000000000);
	trace_free(&t);
}

/* ---- asyncio-executor --------------------------------------------------- */

struct executor_case {
	const char *executor;
	const char *gil;
	enum lane_kind worker_kind;
	bool parallel; /* compute of different tasks may overlap */
};

static const struct executor_case executor_cases[] = {
	{"threads", "off", LANE_THREAD, true},
	{"processes", "off", LANE_PROCESS, true},
	{"threads", "on", LANE_THREAD, false},
};

/* Two tasks compute 80 ms each in the executor while a third sleeps 3 ms
 * twenty times over on the loop.  Compute runs on worker lanes only, never
 * on the loop.  Without a GIL the two computations overlap on two lanes
 * and the loop serves timers meanwhile: sleeps end inside compute
 * segments.  With the GIL, which the loop shares, nothing overlaps: the
 * computations take turns, and the loop serves its timers in the gaps the
 * forced switches open (sleeps end between the first compute's start and
 * the last one's end, never inside a compute segment). */
/* When the task whose wait w is ran again: the end of the wait, or of the
 * ready segment after it (its wait was over, the loop had not yet got
 * round to it: under the GIL, the loop waited for it). */
static int64_t resumed_at(const struct trace *t, const struct trace_segment *w)
{
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *r = &t->segments[i];

		if (r->task == w->task && r->state == ST_READY &&
		    r->t0_ns == w->t1_ns)
			return r->t1_ns;
	}
	return w->t1_ns;
}

static void test_executor(void **state)
{
	const struct executor_case *c = *state;
	struct kv sets[] = {
		{"program", "2 x (cpu 80ms); (sleep 3ms, sleep 3ms, sleep 3ms, "
			    "sleep 3ms, sleep 3ms, sleep 3ms, sleep 3ms, "
			    "sleep 3ms, sleep 3ms, sleep 3ms, sleep 3ms, "
			    "sleep 3ms, sleep 3ms, sleep 3ms, sleep 3ms, "
			    "sleep 3ms, sleep 3ms, sleep 3ms, sleep 3ms, "
			    "sleep 3ms)"},
		{"executor", c->executor},
		{"gil", c->gil},
		{"workers", "2"},
		{NULL, NULL}};
	struct trace t;
	struct interval *iv;
	uint32_t lane;
	size_t n_compute = 0, served = 0, in_span = 0;
	int64_t span0 = INT64_MAX, span1 = 0;
	bool overlap = false;

	run_into("custom", "asyncio-executor", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.n_tasks, 3);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	assert_true(lanes_of_kind(&t, c->worker_kind, NULL) >= 2);
	iv = calloc(t.n_segments + 1, sizeof(*iv));
	assert_non_null(iv);
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		/* A computation is its compute segments and the runnable
		 * ones between them (its thread off a core: on a busy
		 * machine two computations without a GIL may take turns on
		 * one core, and are still under way together). */
		if (s->state != ST_COMPUTE && s->state != ST_RUNNABLE)
			continue;
		assert_int_not_equal(s->lane, lane);
		assert_int_equal(t.lanes[s->lane].kind, c->worker_kind);
		assert_true(s->task < 2);
		if (s->state == ST_COMPUTE)
			iv[n_compute++] = (struct interval){s->t0_ns, s->t1_ns};
		if (s->t0_ns < span0)
			span0 = s->t0_ns;
		if (s->t1_ns > span1)
			span1 = s->t1_ns;
		for (size_t j = 0; j < t.n_segments; j++) {
			const struct trace_segment *o = &t.segments[j];

			if ((o->state == ST_COMPUTE ||
			     o->state == ST_RUNNABLE) &&
			    o->task != s->task && o->lane != s->lane &&
			    o->t0_ns < s->t1_ns && s->t0_ns < o->t1_ns)
				overlap = true;
			if (o->state == ST_SLEEP && o->lane == lane &&
			    resumed_at(&t, o) > s->t0_ns &&
			    resumed_at(&t, o) < s->t1_ns)
				served++;
		}
	}
	for (size_t j = 0; j < t.n_segments; j++) {
		const struct trace_segment *o = &t.segments[j];

		if (o->state == ST_SLEEP && resumed_at(&t, o) > span0 &&
		    resumed_at(&t, o) < span1)
			in_span++;
	}
	assert_true(n_compute >= 2);
	assert_true(in_span > 0);
	if (c->parallel) {
		assert_true(overlap);
		assert_true(served > 0);
	} else {
		assert_int_equal(max_overlap(iv, n_compute), 1);
		assert_int_equal(served, 0);
	}
	free(iv);
	trace_free(&t);
}

/* A reply wakes its task inside the loop's poll, and the task's next step
 * runs on the loop at once: under a GIL shared with executor threads, the
 * loop must hold it again by then.  A disk step after a request (a blocking
 * call on the loop, which lets the GIL go and takes it back) once hung the
 * loop on a GIL it already held.  Both tasks end; the loop lane holds the
 * requests and the file writes, the worker lanes the computation. */
static void test_executor_step_after_reply(void **state)
{
	struct kv sets[] = {{"program",
			     "2 x (net 5ms, disk write 4096, cpu 5ms, net 1ms, "
			     "cpu 2ms)"},
			    {"executor", "threads"},
			    {"gil", "on"},
			    {NULL, NULL}};
	struct trace t;
	uint32_t lane;
	size_t io_on_loop = 0, compute = 0;

	(void)state;
	run_into("custom", "asyncio-executor", sets, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_all_tasks(&t, TASK_OK);
	lane = loop_lane(&t);
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->state == ST_IO) {
			assert_int_equal(s->lane, lane);
			io_on_loop++;
		}
		if (s->state == ST_COMPUTE) {
			assert_int_not_equal(s->lane, lane);
			compute++;
		}
	}
	assert_int_equal(io_on_loop, 6); /* 2 x (net, disk, net) */
	assert_true(compute >= 4);
	trace_free(&t);
}

#define CASES(fn, table)                                                       \
	cmocka_unit_test_prestate(fn, (void *)&table[0]),                      \
		cmocka_unit_test_prestate(fn, (void *)&table[1])

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASES(test_waits_overlap, overlap_cases),
		cmocka_unit_test_prestate(test_cpu_blocks_loop,
					  (void *)&block_cases[0]),
		cmocka_unit_test_prestate(test_cpu_blocks_loop,
					  (void *)&block_cases[1]),
		cmocka_unit_test(test_cpu_serialised),
		cmocka_unit_test(test_block_blocks_loop),
		cmocka_unit_test_prestate(test_lesson_others_ready,
					  (void *)lesson_blockers[0]),
		cmocka_unit_test_prestate(test_lesson_others_ready,
					  (void *)lesson_blockers[1]),
		cmocka_unit_test(test_daemon_cancelled),
		cmocka_unit_test(test_timeout_cancels),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test_prestate(test_limit, (void *)&limit_cases[0]),
		cmocka_unit_test_prestate(test_limit, (void *)&limit_cases[1]),
		cmocka_unit_test_prestate(test_limit, (void *)&limit_cases[2]),
		cmocka_unit_test(test_ten_thousand),
		CASES(test_collect, collect_cases),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test_prestate(test_executor,
					  (void *)&executor_cases[0]),
		cmocka_unit_test_prestate(test_executor,
					  (void *)&executor_cases[1]),
		cmocka_unit_test_prestate(test_executor,
					  (void *)&executor_cases[2]),
		cmocka_unit_test(test_executor_step_after_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
