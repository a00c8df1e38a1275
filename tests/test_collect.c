/*
 * test_collect: how a pool's caller takes its results (collect = wait,
 * map, imap, as_completed) under thread-pool and process-pool, judged by
 * the trace's structure: the consumer lane, the order of the handling on
 * it, what each handling comes after, and how many tasks imap lets into
 * the pool at once.  Nothing is judged by wall time.
 *
 * The program: task 0 sleeps much longer than the three others, so with a
 * worker per task the others' results are in long before task 0's: map
 * and imap still hand them over after it, as_completed before it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run.h"
#include "support.h"
#include "trace.h"
#include "worker.h"

#define PROGRAM "sleep 200ms; sleep 10ms; sleep 30ms; sleep 5ms"
#define N_TASKS 4

static const char *const pools[] = {"thread-pool", "process-pool"};

static uint32_t consumer_lane(const struct trace *t)
{
	for (uint32_t i = 0; i < t->n_lanes; i++)
		if (strcmp(t->lanes[i].name, "consumer") == 0)
			return i;
	return UINT32_MAX;
}

/* The tasks in the order the consumer lane worked on them, and when it
 * first did for each: a task's handling may be split (gil-wait, runnable),
 * but it is never interleaved with another's. */
struct handled {
	uint32_t n;
	uint32_t task[N_TASKS];
	int64_t t0_ns[N_TASKS];
};

static void handled_on(const struct trace *t, uint32_t lane, struct handled *h)
{
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->lane != lane || s->state != ST_COMPUTE)
			continue;
		assert_string_equal(note_of(t, s),
				    "the caller handling this result");
		if (h->n > 0 && h->task[h->n - 1] == s->task)
			continue;
		for (uint32_t k = 0; k < h->n; k++)
			if (h->task[k] == s->task)
				fail_msg("task %u handled twice", s->task);
		assert_true(h->n < N_TASKS);
		h->task[h->n] = s->task;
		h->t0_ns[h->n++] = s->t0_ns;
	}
}

/* When task's work was over: the end of its last segment off the
 * consumer lane, leaving out sending the result (a worker process records
 * its task's end once the result is sent, and the caller may be handling
 * it by then). */
static int64_t work_end(const struct trace *t, uint32_t task)
{
	uint32_t consumer = consumer_lane(t);
	int64_t end = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->task == task && s->lane != consumer &&
		    s->state != ST_IPC && s->t1_ns > end)
			end = s->t1_ns;
	}
	assert_true(end > 0);
	return end;
}

static void assert_ids(const json_t *arr, const uint32_t *want, size_t n)
{
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(json_integer_value(json_array_get(arr, i)),
				 want[i]);
}

static void run_collect(const char *model, const char *collect,
			const char *workers, struct trace *t, struct handled *h)
{
	struct kv sets[] = {{"program", PROGRAM},
			    {"collect", collect},
			    {"handle", "5ms"},
			    {"workers", workers},
			    {NULL, NULL}};
	uint32_t lane;

	run_into("custom", model, sets, NULL, t);
	assert_done(t);
	assert_int_equal(t->n_tasks, N_TASKS);
	lane = consumer_lane(t);
	assert_int_not_equal(lane, UINT32_MAX);
	assert_int_equal(t->lanes[lane].kind, LANE_THREAD);
	handled_on(t, lane, h);
	assert_int_equal(h->n, N_TASKS);
	assert_true(t->has_summary);
	assert_string_equal(json_string_value(json_object_get(t->summary.checks,
							      "collect_order")),
			    collect);
	assert_ids(json_object_get(t->summary.checks, "collected"), h->task,
		   h->n);
}

/* map: the results in submission order; the ones that finished early wait
 * for task 0's, so every handling comes after task 0 ended. */
static void test_map(void **state)
{
	static const uint32_t in_order[N_TASKS] = {0, 1, 2, 3};
	struct trace t;
	struct handled h;

	run_collect(*state, "map", "4", &t, &h);
	assert_memory_equal(h.task, in_order, sizeof(in_order));
	for (uint32_t k = 0; k < N_TASKS; k++) {
		assert_true(h.t0_ns[k] >= work_end(&t, 0));
		assert_true(h.t0_ns[k] >= work_end(&t, h.task[k]));
	}
	/* All were submitted at once, before anything was handled. */
	for (uint32_t k = 0; k < N_TASKS; k++)
		assert_true(t.tasks[k].submit_ns <= h.t0_ns[0]);
	trace_free(&t);
}

/* as_completed: in finish order, each result handled once it is in,
 * without waiting for task 0: the first handling starts while task 0
 * still sleeps. */
static void test_as_completed(void **state)
{
	struct trace t;
	struct handled h;

	run_collect(*state, "as_completed", "4", &t, &h);
	assert_ids(json_object_get(t.summary.checks, "finish_order"), h.task,
		   h.n);
	for (uint32_t k = 0; k < N_TASKS; k++)
		assert_true(h.t0_ns[k] >= work_end(&t, h.task[k]));
	assert_true(h.t0_ns[0] < work_end(&t, 0));
	assert_int_not_equal(h.task[0], 0);
	trace_free(&t);
}

/* imap on two workers: submission order, and only two tasks submitted
 * ahead: tasks 2 and 3 are submitted once a result was taken, so no more
 * than two tasks are ever between submit and the end of their work. */
static void test_imap(void **state)
{
	static const uint32_t in_order[N_TASKS] = {0, 1, 2, 3};
	struct interval in_pool[N_TASKS];
	struct trace t;
	struct handled h;

	run_collect(*state, "imap", "2", &t, &h);
	assert_memory_equal(h.task, in_order, sizeof(in_order));
	assert_true(t.tasks[0].submit_ns <= h.t0_ns[0]);
	assert_true(t.tasks[1].submit_ns <= h.t0_ns[0]);
	assert_true(t.tasks[2].submit_ns >= h.t0_ns[0]);
	assert_true(t.tasks[3].submit_ns >= h.t0_ns[1]);
	for (uint32_t k = 0; k < N_TASKS; k++) {
		in_pool[k].t0 = t.tasks[k].submit_ns;
		in_pool[k].t1 = work_end(&t, k);
	}
	assert_int_equal(max_overlap(in_pool, N_TASKS), 2);
	trace_free(&t);
}

/* wait (the default): nobody takes results one by one: no consumer lane,
 * no collect checks. */
static void test_wait(void **state)
{
	struct kv sets[] = {{"program", PROGRAM}, {NULL, NULL}};
	struct trace t;

	run_into("custom", *state, sets, NULL, &t);
	assert_done(&t);
	assert_int_equal(consumer_lane(&t), UINT32_MAX);
	assert_null(json_object_get(t.summary.checks, "collect_order"));
	assert_int_equal(count_segments(&t, -1, ST_COMPUTE, NULL), 0);
	trace_free(&t);
}

/* The chunk of the ipc segments' note. */
#define CHUNK_NOTE PROTOCOL_NOTE_CHUNK

/* process-pool with map and chunksize=3: six short tasks go to the two
 * workers as two chunks.  Each chunk is one transfer each way (an ipc
 * segment noted as a chunk on its first task, one on its last, none on
 * the middle one), its tasks run one after another on one lane, each
 * ends once the chunk's result is sent, and the caller handles none of a
 * chunk's results before the chunk's result came back. */
static void test_chunksize(void **state)
{
	struct kv sets[] = {{"program", "6 x (sleep 20ms)"},
			    {"collect", "map"},
			    {"chunksize", "3"},
			    {"payload_bytes", "4096"},
			    {"handle", "2ms"},
			    {"workers", "2"},
			    {NULL, NULL}};
	struct trace t;
	struct handled_six {
		uint32_t n;
		uint32_t task[6];
		int64_t t0_ns[6];
	} h = {0};
	uint32_t consumer;

	(void)state;
	run_into("custom", "process-pool", sets, NULL, &t);
	assert_done(&t);
	assert_int_equal(t.n_tasks, 6);
	consumer = consumer_lane(&t);
	assert_int_not_equal(consumer, UINT32_MAX);
	assert_int_equal(count_segments(&t, -1, ST_IPC, NULL), 4);
	assert_int_equal(count_segments(&t, -1, ST_IPC, CHUNK_NOTE), 4);
	for (uint32_t c = 0; c < 2; c++) {
		uint32_t first = 3 * c, last = first + 2;
		uint32_t lane = UINT32_MAX;
		int64_t result_end = 0;

		assert_int_equal(count_segments(&t, first, ST_IPC, NULL), 1);
		assert_int_equal(count_segments(&t, first + 1, ST_IPC, NULL),
				 0);
		assert_int_equal(count_segments(&t, last, ST_IPC, NULL), 1);
		for (size_t i = 0; i < t.n_segments; i++) {
			const struct trace_segment *s = &t.segments[i];

			if (s->task < first || s->task > last ||
			    s->lane == consumer || s->state == ST_QUEUED ||
			    s->state == ST_STARTUP)
				continue;
			/* One worker's lane for the whole chunk. */
			if (lane == UINT32_MAX)
				lane = s->lane;
			assert_int_equal(s->lane, lane);
			if (s->task == last && s->state == ST_IPC)
				result_end = s->t1_ns;
		}
		assert_true(result_end > 0);
		/* One after another, in order; all end with the result. */
		for (uint32_t k = first; k < last; k++)
			assert_true(work_end(&t, k) <= t.tasks[k + 1].start_ns);
		for (uint32_t k = first; k <= last; k++)
			assert_true(t.tasks[k].end_ns >= result_end);
	}
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->lane != consumer || s->state != ST_COMPUTE ||
		    (h.n > 0 && h.task[h.n - 1] == s->task))
			continue;
		assert_true(h.n < 6);
		h.task[h.n] = s->task;
		h.t0_ns[h.n++] = s->t0_ns;
	}
	assert_int_equal(h.n, 6);
	for (uint32_t k = 0; k < 6; k++) {
		uint32_t last = k < 3 ? 2 : 5;

		assert_int_equal(h.task[k], k);
		assert_true(h.t0_ns[k] >= work_end(&t, last));
	}
	trace_free(&t);
}

/* chunksize=1 (the default) is a transfer each way per task; a
 * chunksize without map is refused, naming the field. */
static void test_chunksize_one_and_refused(void **state)
{
	struct kv sets[] = {{"program", "4 x (sleep 5ms)"},
			    {"collect", "map"},
			    {"payload_bytes", "4096"},
			    {"workers", "2"},
			    {NULL, NULL}};
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err = {0};
	struct trace t;

	(void)state;
	run_into("custom", "process-pool", sets, NULL, &t);
	assert_done(&t);
	assert_int_equal(count_segments(&t, -1, ST_IPC, NULL), 8);
	assert_int_equal(count_segments(&t, -1, ST_IPC, CHUNK_NOTE), 0);
	trace_free(&t);

	assert_non_null(s);
	assert_int_equal(spec_init(s, "crunch", "process-pool", &err), 0);
	assert_int_equal(spec_set(s, "chunksize", "4", &err), 0);
	assert_int_equal(spec_validate(s, &err), -EINVAL);
	assert_string_equal(err.field, "options.chunksize");
	assert_non_null(strstr(err.message, "collect=map"));
	assert_int_equal(spec_set(s, "collect", "map", &err), 0);
	assert_int_equal(spec_validate(s, &err), 0);
	assert_true(spec_set(s, "chunksize", "1001", &err) < 0);
	assert_string_equal(err.field, "options.chunksize");
	/* ThreadPoolExecutor.map takes chunksize and ignores it: the
	 * thread pool has no such option. */
	assert_int_equal(spec_init(s, "crunch", "thread-pool", &err), 0);
	assert_int_equal(spec_set(s, "chunksize", "4", &err), -ENOENT);
	free(s);
}

#define PER_POOL(fn)                                                           \
	cmocka_unit_test_prestate(fn, (void *)pools[0]),                       \
		cmocka_unit_test_prestate(fn, (void *)pools[1])

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc - 1, argv + 1);

	const struct CMUnitTest tests[] = {
		PER_POOL(test_map),
		PER_POOL(test_as_completed),
		PER_POOL(test_imap),
		PER_POOL(test_wait),
		cmocka_unit_test(test_chunksize),
		cmocka_unit_test(test_chunksize_one_and_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
