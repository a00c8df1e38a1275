/*
 * test_interpreter_pool: the interpreter-pool model end to end through
 * run_execute(), judged by the trace's structure: each worker is a thread
 * with its own GIL, so computations overlap and nobody waits for a GIL;
 * each worker's start-up shows before its first task; arguments and
 * results cross as ipc segments inside the task; and a program whose tasks
 * share an object is refused when validated, naming the object.
 * Durations are tens of milliseconds; nothing is judged by wall time.
 */
#include <errno.h>
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
#include "trace.h"

struct kv {
	const char *key, *value;
};

static void make_spec(const char *workload, const struct kv *set,
		      struct spec *spec)
{
	struct spec_error err = {0};

	assert_int_equal(spec_init(spec, workload, "interpreter-pool", &err),
			 0);
	for (; set && set->key; set++)
		if (spec_set(spec, set->key, set->value, &err) != 0)
			fail_msg("%s=%s: %s", set->key, set->value,
				 err.message);
}

static struct trace *run_ipool(const char *workload, const struct kv *set)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct trace *t = calloc(1, sizeof(*t));
	struct spec_error err = {0};

	assert_non_null(spec);
	assert_non_null(t);
	make_spec(workload, set, spec);
	if (spec_validate(spec, &err) != 0)
		fail_msg("spec: %s: %s", err.field, err.message);
	trace_init(t);
	if (run_execute(spec, NULL, t, &err) != 0)
		fail_msg("run_execute: %s: %s", err.field, err.message);
	free(spec);
	if (t->status != RUN_DONE)
		fail_msg("status %s: %s",
			 run_status_name((enum run_status)t->status),
			 t->message);
	return t;
}

static void free_trace(struct trace *t)
{
	trace_free(t);
	free(t);
}

static bool is_worker_lane(const struct trace *t, uint32_t lane)
{
	return lane < t->n_lanes && t->lanes[lane].kind == LANE_THREAD &&
	       strncmp(t->lanes[lane].name, "InterpreterPoolExecutor-0_", 26) ==
		       0;
}

/* The end of the computation a compute segment begins: the compute and
 * runnable segments of its task that follow on from it. */
static int64_t computation_end(const struct trace *t,
			       const struct trace_segment *s)
{
	int64_t end = s->t1_ns;

	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < t->n_segments; i++) {
			const struct trace_segment *n = &t->segments[i];

			if ((n->state == ST_RUNNABLE ||
			     n->state == ST_COMPUTE) &&
			    n->task == s->task && n->t0_ns == end &&
			    n->t1_ns > end) {
				end = n->t1_ns;
				more = true;
			}
		}
	}
	return end;
}

/* Two CPU tasks on two interpreters: two worker threads of this process,
 * each with its own GIL, so no gil-wait and the computations overlap. */
static void test_own_gil_each(void **state)
{
	static const struct kv set[] = {{"tasks", "2"},
					{"duration", "60ms"},
					{"workers", "2"},
					{NULL, NULL}};
	const struct trace_segment *a = NULL, *b = NULL;
	struct trace *t;

	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	t = run_ipool("crunch", set);
	for (size_t i = 0; i < t->n_tasks; i++) {
		assert_int_equal(t->tasks[i].status, TASK_OK);
		assert_true(is_worker_lane(t, t->tasks[i].lane));
	}
	assert_int_not_equal(t->tasks[0].lane, t->tasks[1].lane);
	assert_int_equal(t->summary.states_ns[ST_GIL_WAIT], 0);
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state != ST_COMPUTE)
			continue;
		if (s->task == 0 && !a)
			a = s;
		if (s->task == 1 && !b)
			b = s;
	}
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a->t0_ns < computation_end(t, b) &&
		    b->t0_ns < computation_end(t, a));
	free_trace(t);
}

/* Every worker's start-up is on its lane, recorded with the first task it
 * ran, and over before that task starts; the arguments and results cross
 * as two ipc segments inside each task, on its lane. */
static void test_startup_and_copies(void **state)
{
	static const struct kv set[] = {{"tasks", "4"},
					{"duration", "5ms"},
					{"workers", "2"},
					{"payload_bytes", "1000000"},
					{NULL, NULL}};
	struct trace *t;
	size_t startups = 0;

	(void)state;
	t = run_ipool("crunch", set);
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];
		const struct trace_task *k = &t->tasks[s->task];

		assert_int_equal(s->lane, k->lane);
		if (s->state == ST_STARTUP) {
			startups++;
			assert_true(s->t1_ns > s->t0_ns);
			assert_true(s->t1_ns <= k->start_ns);
			/* the first task on its lane */
			for (size_t j = 0; j < t->n_tasks; j++)
				if (t->tasks[j].lane == s->lane)
					assert_true(t->tasks[j].start_ns >=
						    k->start_ns);
		}
	}
	assert_int_equal(startups, 2);
	for (size_t k = 0; k < t->n_tasks; k++) {
		size_t ipcs = 0;

		for (size_t i = 0; i < t->n_segments; i++) {
			const struct trace_segment *s = &t->segments[i];

			if (s->task != k || s->state != ST_IPC)
				continue;
			ipcs++;
			assert_true(s->t0_ns >= t->tasks[k].start_ns);
			assert_true(s->t1_ns <= t->tasks[k].end_ns);
		}
		assert_int_equal(ipcs, 2);
	}
	free_trace(t);
}

/* Without a payload, nothing is copied; tasks queue for the workers. */
static void test_no_payload_queues(void **state)
{
	static const struct kv set[] = {{"tasks", "4"},
					{"duration", "10ms"},
					{"io", "sleep"},
					{"workers", "1"},
					{NULL, NULL}};
	struct trace *t;

	(void)state;
	t = run_ipool("fetch", set);
	assert_int_equal(t->summary.states_ns[ST_IPC], 0);
	assert_true(t->summary.states_ns[ST_QUEUED] > 0);
	assert_int_equal(t->summary.peak_inflight, 1);
	free_trace(t);
}

/* Shared objects cannot cross interpreters: the spec is refused, naming
 * the program (or the model, for a workload's own program) and the
 * object; files are each task's own and run. */
static void test_shared_objects_refused(void **state)
{
	static const struct {
		const char *workload, *program, *names;
	} cases[] = {
		{"counter", NULL, "counter 'counter'"},
		{"pipeline", NULL, "queue '"},
		{"custom", "2 x (lock a, cpu 1ms, unlock a)", "lock 'a'"},
		{"custom", "sem db=2; 2 x (acquire db, release db)",
		 "semaphore 'db'"},
	};
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err;

	(void)state;
	assert_non_null(spec);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct kv set[] = {{"program", cases[i].program},
					 {NULL, NULL}};

		memset(&err, 0, sizeof(err));
		make_spec(cases[i].workload, cases[i].program ? set : NULL,
			  spec);
		assert_int_equal(spec_validate(spec, &err), -EINVAL);
		/* The user's program is what shares it; a workload's own
		 * program is the model's to refuse. */
		assert_string_equal(err.field, cases[i].program
						       ? "params.program"
						       : "model");
		if (!strstr(err.message, cases[i].names) ||
		    !strstr(err.message, "interpreters share no objects"))
			fail_msg("%s: %s", cases[i].workload, err.message);
	}
	/* Files: every task its own, so the program runs. */
	{
		const struct kv set[] = {{"program", "2 x (disk write 4KiB)"},
					 {NULL, NULL}};
		struct trace *t = run_ipool("custom", set);

		assert_true(t->summary.states_ns[ST_IO] > 0);
		free_trace(t);
	}
	free(spec);
}

/* workers 0 is Python's default, min(32, cores + 4), never more than the
 * tasks; the lanes say how many ran. */
static void test_default_workers(void **state)
{
	static const struct kv set[] = {{"tasks", "40"},
					{"duration", "1ms"},
					{"io", "sleep"},
					{NULL, NULL}};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = (size_t)(cores + 4 < 32 ? cores + 4 : 32), lanes = 0;
	struct trace *t;

	(void)state;
	t = run_ipool("fetch", set);
	for (uint32_t l = 0; l < t->n_lanes; l++)
		lanes += is_worker_lane(t, l);
	assert_int_equal(lanes, want);
	free_trace(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_gil_each),
		cmocka_unit_test(test_startup_and_copies),
		cmocka_unit_test(test_no_payload_queues),
		cmocka_unit_test(test_shared_objects_refused),
		cmocka_unit_test(test_default_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
