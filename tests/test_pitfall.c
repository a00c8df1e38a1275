/*
 * test_pitfall: the process pool's two classic failures, shown as the
 * error Python raises: a lambda submitted (PicklingError) and a pool
 * started without the main guard under spawn or forkserver (each worker's
 * RuntimeError, the pool broken).  The run ends as error with the
 * message, every task as error with the exception as its note, and no
 * worker ever runs a task; under fork a missing guard is refused, naming
 * the field, since fork never imports the main module.  And a third,
 * which hangs instead: workers forked while another thread holds a lock
 * their tasks take.
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
#include "spec.h"
#include "support.h"
#include "trace.h"
#include "worker.h"

static void assert_failed_as(const struct trace *t, const char *note_prefix,
			     const char *message_has)
{
	assert_status(t, RUN_ERROR);
	if (!strstr(t->message, message_has))
		fail_msg("message '%s' lacks '%s'", t->message, message_has);
	assert_int_equal(t->n_tasks, 3);
	for (size_t i = 0; i < t->n_tasks; i++) {
		const char *note = trace_task_note(t, &t->tasks[i]);

		assert_int_equal(t->tasks[i].status, TASK_ERROR);
		assert_non_null(note);
		if (strncmp(note, note_prefix, strlen(note_prefix)) != 0)
			fail_msg("task %zu: note '%s'", i, note);
	}
	/* Nothing ran: no worker's lane, no segment. */
	assert_int_equal(t->n_segments, 0);
	for (uint32_t i = 0; i < t->n_lanes; i++)
		assert_int_not_equal(t->lanes[i].kind, LANE_PROCESS);
}

static void test_lambda(void **state)
{
	struct kv sets[] = {{"tasks", "3"},
			    {"start", *state},
			    {"pitfall", "lambda"},
			    {NULL, NULL}};
	struct trace t;

	run_into("crunch", "process-pool", sets, NULL, &t);
	assert_failed_as(&t, "PicklingError: Can't pickle <function <lambda>",
			 "_pickle.PicklingError: Can't pickle <function "
			 "<lambda>>: attribute lookup <lambda> on __main__ "
			 "failed");
	trace_free(&t);
}

static void test_no_main_guard(void **state)
{
	struct kv sets[] = {{"tasks", "3"},
			    {"start", *state},
			    {"pitfall", "no-main-guard"},
			    {NULL, NULL}};
	struct trace t;

	run_into("crunch", "process-pool", sets, NULL, &t);
	assert_failed_as(&t, "BrokenProcessPool",
			 "RuntimeError in each worker: An attempt has been "
			 "made to start a new process before the current "
			 "process has finished its bootstrapping phase");
	trace_free(&t);
}

/* fork never imports the main module: no such failure, and the spec
 * says so, naming the field. */
static void test_no_main_guard_under_fork(void **state)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err = {0};

	(void)state;
	assert_non_null(s);
	assert_int_equal(spec_init(s, "crunch", "process-pool", &err), 0);
	assert_int_equal(spec_set(s, "pitfall", "no-main-guard", &err), 0);
	assert_int_equal(spec_validate(s, &err), -EINVAL);
	assert_string_equal(err.field, "options.pitfall");
	assert_non_null(strstr(err.message, "start=spawn or forkserver"));
	/* Models without a process pool have no such option. */
	assert_int_equal(spec_init(s, "crunch", "thread-pool", &err), 0);
	assert_int_equal(spec_set(s, "pitfall", "lambda", &err), -ENOENT);
	assert_string_equal(err.field, "pitfall");
	free(s);
}

/* fork-after-threads, for real: a thread of the run holds a lock while
 * the pool forks its workers, and each worker's first task takes it.
 * Each worker (a process lane of its own) waits on its first task's row
 * (lock-wait, noted) until the run ends as a deadlock naming the fork;
 * the tasks no worker took never start.  The diagnosis asks for another
 * start method, and spawn or forkserver is refused for the pitfall, naming
 * the field. */
static void test_fork_after_threads(void **state)
{
	struct kv sets[] = {{"tasks", "3"},
			    {"workers", "2"},
			    {"pitfall", "fork-after-threads"},
			    {NULL, NULL}};
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err = {0};
	struct trace t;
	size_t waits = 0;

	(void)state;
	run_into("crunch", "process-pool", sets, NULL, &t);
	assert_status(&t, RUN_DEADLOCK);
	assert_non_null(strstr(t.message, "2 workers wait for a lock another "
					  "thread held when the pool forked"));
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *g = &t.segments[i];

		assert_int_equal(g->state, ST_LOCK_WAIT);
		assert_true(g->task < 2);
		assert_int_equal(t.lanes[g->lane].kind, LANE_PROCESS);
		assert_string_equal(t.notes[g->note],
				    "a lock another thread held at the fork: "
				    "nobody here will release it");
		/* The watchdog's wait for a deadlock, at least. */
		assert_true(g->t1_ns - g->t0_ns >= 200 * NS_PER_MS);
		waits++;
	}
	assert_int_equal(waits, 2);
	assert_true(t.segments[0].lane != t.segments[1].lane);
	for (size_t i = 0; i < t.n_tasks; i++)
		assert_int_equal(t.tasks[i].status, TASK_CANCELLED);
	assert_true(t.tasks[2].start_ns < 0);
	assert_string_equal(t.summary.advice, "start-with-forkserver");
	assert_string_equal(t.summary.recommend, "process-pool");
	trace_free(&t);

	assert_non_null(s);
	assert_int_equal(spec_init(s, "crunch", "process-pool", &err), 0);
	assert_int_equal(spec_set(s, "pitfall", "fork-after-threads", &err), 0);
	assert_int_equal(spec_set(s, "start", "forkserver", &err), 0);
	assert_int_equal(spec_validate(s, &err), -EINVAL);
	assert_string_equal(err.field, "options.pitfall");
	assert_non_null(strstr(err.message, "only under start=fork"));
	free(s);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc - 1, argv + 1);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_lambda, (void *)"fork"),
		cmocka_unit_test_prestate(test_lambda, (void *)"spawn"),
		cmocka_unit_test_prestate(test_no_main_guard, (void *)"spawn"),
		cmocka_unit_test_prestate(test_no_main_guard,
					  (void *)"forkserver"),
		cmocka_unit_test(test_no_main_guard_under_fork),
		cmocka_unit_test(test_fork_after_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
