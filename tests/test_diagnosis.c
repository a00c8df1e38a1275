/*
 * test_diagnosis: every lesson of the page (web/js/lessons.js) and of the
 * README's "What it shows", run for real with short durations, and what
 * its diagnosis must say: the bound, the model it recommends and the
 * change it asks of the program (advice).  These are the answers a
 * careful teacher gives for each lesson, so a rule that moves one of them
 * fails here by the lesson's name.  The sentence's wording may change; a
 * row names at most a phrase that carries the lesson (a daemon dropped at
 * exit, a timeout).
 *
 * The synthetic traces of test_summary check the rules' arithmetic; these
 * rows check that real runs land on the right rule.  Each lesson is far
 * from the thresholds its rule reads (a 150 ms computation on the loop
 * against asyncio's 100 ms, waits that are nearly all of the time), so no
 * row depends on this machine's speed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"
#include "worker.h"

struct lesson_case {
	const char *lesson; /* the lesson's id in web/js/lessons.js, or
			     * what the row adds */
	const char *workload;
	const char *model;
	struct kv sets[8];
	enum run_status status;
	const char *bound; /* NULL: any */
	const char *recommend;
	const char *advice;  /* NULL: any (it depends on this machine) */
	const char *why_has; /* NULL: nothing more */
};

/* The blocking lessons' ticking tasks, shorter: four tasks that wait and
 * compute a little in turn while the fifth holds the loop for 150 ms. */
#define TICKS                                                                  \
	"net 30ms, cpu 2ms, net 30ms, cpu 2ms, net 30ms, cpu 2ms, net 30ms"

static const struct lesson_case lessons[] = {
	{
		.lesson = "io-overlap",
		.workload = "fetch",
		.model = "threads",
		.sets = {{"tasks", "3"}, {"duration", "50ms"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "threads, which fits as well",
	},
	{
		.lesson = "io-overlap",
		.workload = "fetch",
		.model = "sequential",
		.sets = {{"tasks", "3"}, {"duration", "50ms"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = NULL,
	},
	{
		.lesson = "pool-batches",
		.workload = "fetch",
		.model = "thread-pool",
		.sets = {{"tasks", "8"}, {"duration", "50ms"}, {"workers", "4"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "more-workers",
		.why_has = "a worker per task (8)",
	},
	{
		.lesson = "pool-map",
		.workload = "custom",
		.model = "thread-pool",
		.sets = {{"program",
			  "sleep 120ms; sleep 20ms; sleep 60ms; sleep 10ms"},
			 {"workers", "4"},
			 {"collect", "map"},
			 {"handle", "5ms"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = NULL,
	},
	{
		.lesson = "pool-as-completed",
		.workload = "custom",
		.model = "process-pool",
		.sets = {{"program",
			  "sleep 120ms; sleep 20ms; sleep 60ms; sleep 10ms"},
			 {"workers", "4"},
			 {"collect", "as_completed"},
			 {"handle", "5ms"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = NULL,
	},
	{
		/* Two workers on this machine's cores: whether more would
		 * help depends on how many it has. */
		.lesson = "pool-chunksize",
		.workload = "crunch",
		.model = "process-pool",
		.sets = {{"tasks", "8"},
			 {"duration", "20ms"},
			 {"workers", "2"},
			 {"collect", "map"},
			 {"chunksize", "4"},
			 {"handle", "5ms"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "process-pool",
		.advice = NULL,
		.why_has = NULL,
	},
	{
		.lesson = "async-longest",
		.workload = "fetch",
		.model = "asyncio",
		.sets = {{"durations", "150ms,200ms,100ms"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "asyncio, the recommended model",
	},
	{
		.lesson = "gil",
		.workload = "crunch",
		.model = "threads",
		.sets = {{"tasks", "2"}, {"duration", "100ms"}, {"gil", "on"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "process-pool",
		.advice = "",
		.why_has = "for the GIL",
	},
	{
		.lesson = "free-threaded",
		.workload = "crunch",
		.model = "threads",
		.sets = {{"tasks", "2"}, {"duration", "100ms"}, {"gil", "off"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "process-pool",
		.advice = "",
		.why_has = "threads, which fits as well",
	},
	{
		.lesson = "runnable",
		.workload = "crunch",
		.model = "threads",
		.sets = {{"tasks", "6"}, {"duration", "50ms"}, {"gil", "off"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "process-pool",
		.advice = "",
		.why_has = NULL,
	},
	{
		.lesson = "processes",
		.workload = "crunch",
		.model = "process-pool",
		.sets = {{"tasks", "2"},
			 {"duration", "100ms"},
			 {"payload_bytes", "65536"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "process-pool",
		.advice = "",
		.why_has = "the recommended model",
	},
	{
		.lesson = "forkserver",
		.workload = "crunch",
		.model = "process-pool",
		.sets = {{"tasks", "2"},
			 {"duration", "50ms"},
			 {"workers", "2"},
			 {"start", "forkserver"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "process-pool",
		.advice = "",
		.why_has = NULL,
	},
	/* Nothing ran, so nothing is measured or recommended: the program
	 * must change. */
	{
		.lesson = "pickling",
		.workload = "crunch",
		.model = "process-pool",
		.sets = {{"tasks", "2"},
			 {"duration", "50ms"},
			 {"start", "spawn"},
			 {"pitfall", "lambda"}},
		.status = RUN_ERROR,
		.bound = "",
		.recommend = "",
		.advice = "def-at-module-level",
		.why_has = "PicklingError",
	},
	{
		.lesson = "main-guard",
		.workload = "crunch",
		.model = "process-pool",
		.sets = {{"tasks", "2"},
			 {"duration", "50ms"},
			 {"start", "spawn"},
			 {"pitfall", "no-main-guard"}},
		.status = RUN_ERROR,
		.bound = "",
		.recommend = "",
		.advice = "add-a-main-guard",
		.why_has = "__main__",
	},
	{
		.lesson = "interpreters",
		.workload = "crunch",
		.model = "interpreter-pool",
		.sets = {{"tasks", "2"},
			 {"duration", "100ms"},
			 {"workers", "2"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "process-pool",
		.advice = "",
		.why_has = "which fits as well",
	},
	{
		.lesson = "blocking",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "4 x (" TICKS "); 1 x (net 40ms, cpu 150ms)"}},
		.status = RUN_DONE,
		.bound = NULL,
		.recommend = "asyncio-executor",
		.advice = "",
		.why_has = "by task 5's computation",
	},
	{
		.lesson = "block",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "4 x (" TICKS "); 1 x (net 40ms, block 150ms)"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "await-asyncio-sleep",
		.why_has = "time.sleep",
	},
	{
		.lesson = "nogil",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program", "2 x (cpu-nogil 100ms)"}, {"gil", "on"}},
		.status = RUN_DONE,
		.bound = "cpu",
		.recommend = "threads",
		.advice = "",
		.why_has = "releases the GIL",
	},
	/* Work inside a lock takes turns in any model: as written,
	 * sequential is as fast; the fix is a smaller critical section. */
	{
		.lesson = "rlock",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "rlock r; 3 x (lock r, lock r, cpu 20ms, unlock r, "
			  "unlock r)"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "sequential",
		.advice = "shrink-critical-section",
		.why_has = "took again 3 times",
	},
	{
		.lesson = "rlock, without rlock r;",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "3 x (lock r, lock r, cpu 20ms, unlock r, unlock r)"}},
		.status = RUN_DEADLOCK,
		.bound = "sync",
		.recommend = "",
		.advice = "use-an-rlock",
		.why_has = NULL,
	},
	/* The waits for the notify are the program's: the model stays. */
	{
		.lesson = "condition",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "condition ready; 3 x (cond wait ready, cpu 20ms); "
			  "sleep 50ms, cond notify ready all"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "threads",
		.advice = "",
		.why_has = "waited for a notify",
	},
	{
		.lesson = "condition, notify one",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "condition ready; 3 x (cond wait ready, cpu 20ms); "
			  "sleep 50ms, cond notify ready"}},
		.status = RUN_DEADLOCK,
		.bound = "sync",
		.recommend = "",
		.advice = "notify-all",
		.why_has = "wake 1",
	},
	{
		.lesson = "condition, notify before the wait",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "condition c; (cond notify c all); (sleep 50ms, cond wait c)"}},
		.status = RUN_DEADLOCK,
		.bound = "sync",
		.recommend = "",
		.advice = "wait-for-a-predicate",
		.why_has = "was lost",
	},
	{
		.lesson = "daemon",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "daemon (timer 20ms, sleep 5s); (timer 30ms, cpu 5ms); "
			  "2 x (net 60ms)"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "join-the-daemon",
		.why_has = "dropped at exit",
	},
	{
		.lesson = "daemon, under asyncio",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "daemon (timer 20ms, sleep 5s); (timer 30ms, cpu 5ms); "
			  "2 x (net 60ms)"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "join-the-daemon",
		.why_has = "never awaited",
	},
	{
		.lesson = "timeout",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "timeout 60ms 2 x (net 20ms, net 80ms, cpu 5ms); "
			  "2 x (net 20ms, net 80ms, cpu 5ms)"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "2 timed out",
	},
	{
		.lesson = "cancel",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "2 x (net 200ms, cpu 10ms); (sleep 60ms, cancel 1)"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "task.cancel()",
	},
	{
		.lesson = "taskgroup",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "(net 120ms, fail); 3 x (net 50ms, cpu 5ms, "
			  "net 150ms, cpu 5ms)"},
			 {"group", "taskgroup"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "its TaskGroup cancelled",
	},
	{
		.lesson = "gather-errors",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "(net 120ms, fail); 3 x (net 50ms, cpu 5ms, "
			  "net 150ms, cpu 5ms)"},
			 {"group", "gather"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "return_exceptions=True",
	},
	{
		.lesson = "wait-first",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program",
			  "(net 50ms, cpu 5ms); (net 150ms, cpu 5ms); "
			  "(net 250ms, cpu 5ms)"},
			 {"group", "wait_first"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "asyncio.wait cancels nothing",
	},
	{
		.lesson = "race",
		.workload = "counter",
		.model = "threads",
		.sets = {{"tasks", "5"},
			 {"increments", "100000"},
			 {"call", "yes"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "threads",
		.advice = "lock-the-update",
		.why_has = "updates were lost",
	},
	{
		/* The lesson's million each: every thread outlasts several
		 * switch intervals, however late it starts. */
		.lesson = "race-39",
		.workload = "counter",
		.model = "threads",
		.sets = {{"tasks", "5"},
			 {"increments", "1000000"},
			 {"python", "3.9"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "threads",
		.advice = "lock-the-update",
		.why_has = "updates were lost",
	},
	{
		.lesson = "lock",
		.workload = "counter",
		.model = "threads",
		.sets = {{"sync", "lock"}, {"call", "yes"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "sequential",
		.advice = "count-per-task",
		.why_has = NULL,
	},
	{
		.lesson = "lock, in a process pool",
		.workload = "counter",
		.model = "process-pool",
		.sets = {{"sync", "lock"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "sequential",
		.advice = "count-per-task",
		.why_has = NULL,
	},
	{
		/* A lock copied held into every forked worker. */
		.lesson = "fork-after-threads",
		.workload = "crunch",
		.model = "process-pool",
		.sets = {{"tasks", "3"},
			 {"workers", "2"},
			 {"pitfall", "fork-after-threads"}},
		.status = RUN_DEADLOCK,
		.bound = "sync",
		.recommend = "process-pool",
		.advice = "start-with-forkserver",
		.why_has = "forkserver",
	},
	{
		/* A Value's updates, lost or not as the two processes
		 * happen to meet: about the counter either way. */
		.lesson = "shared-value",
		.workload = "custom",
		.model = "process-pool",
		.sets = {{"program", "value total; 2 x (incr total 200000)"},
			 {"workers", "2"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = NULL,
		.advice = NULL,
		.why_has = "one shared counter",
	},
	{
		/* Two processes' round trips to one manager. */
		.lesson = "manager-value",
		.workload = "custom",
		.model = "process-pool",
		.sets = {{"program", "value hits=manager; 2 x (incr hits 300)"},
			 {"workers", "2"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "process-pool",
		.advice = "count-per-task",
		.why_has = "round trips to the manager's process",
	},
	{
		/* An element each: exact, but the one lock is met. */
		.lesson = "shared-array",
		.workload = "custom",
		.model = "process-pool",
		.sets = {{"program", "array totals=2; 2 x (incr totals 100000)"},
			 {"workers", "2"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "process-pool",
		.advice = "unlocked-array",
		.why_has = "lock=False",
	},
	{
		/* One element for three threads under the GIL: its getter's
		 * return is a switch point, so updates are lost. */
		.lesson = "shared-array, one element",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "array totals=1; 3 x (incr totals 100000)"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "threads",
		.advice = "element-per-task",
		.why_has = "array totals=3",
	},
	/* Stages that compute on one loop: processes let them compute at
	 * once (the bound is queue-wait or computing, by the fill and the
	 * drain). */
	{
		.lesson = "pipeline",
		.workload = "pipeline",
		.model = "asyncio",
		.sets = {{"items", "10"}},
		.status = RUN_DONE,
		.bound = NULL,
		.recommend = "process-pool",
		.advice = "",
		.why_has = NULL,
	},
	{
		.lesson = "scraper",
		.workload = "scraper",
		.model = "asyncio",
		.sets = {{"urls", "10"},
			 {"rate", "100"},
			 {"max_concurrent", "2"},
			 {"latency_min", "20ms"},
			 {"latency_max", "60ms"},
			 {"backoff", "10ms"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "asyncio",
		.advice = "",
		.why_has = "sem-wait most",
	},
	{
		.lesson = "hybrid",
		.workload = "custom",
		.model = "asyncio-executor",
		.sets = {{"program", "4 x (cpu 40ms, net 60ms, cpu 20ms)"},
			 {"workers", "2"}},
		.status = RUN_DONE,
		.bound = "mixed",
		.recommend = "asyncio-executor",
		.advice = "",
		.why_has = NULL,
	},
	{
		.lesson = "workers-io",
		.workload = "fetch",
		.model = "thread-pool",
		.sets = {{"tasks", "8"},
			 {"duration", "20ms"},
			 {"io", "sleep"},
			 {"workers", "1"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "more-workers",
		.why_has = NULL,
	},
	{
		.lesson = "workers-io, one worker per task",
		.workload = "fetch",
		.model = "thread-pool",
		.sets = {{"tasks", "8"},
			 {"duration", "20ms"},
			 {"io", "sleep"},
			 {"workers", "8"}},
		.status = RUN_DONE,
		.bound = "io",
		.recommend = "asyncio",
		.advice = "",
		.why_has = NULL,
	},
	/* A lock around all the work, under threads and in a process
	 * pool: no pool, no executor. */
	{
		.lesson = "a lock around the computing",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program", "4 x (lock L, cpu 30ms, unlock L)"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "sequential",
		.advice = "shrink-critical-section",
		.why_has = "compute outside the lock",
	},
	{
		.lesson = "a lock around the computing, in a process pool",
		.workload = "custom",
		.model = "process-pool",
		.sets = {{"program", "4 x (lock L, cpu 30ms, unlock L)"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "sequential",
		.advice = "shrink-critical-section",
		.why_has = NULL,
	},
	{
		.lesson = "a lock around the waiting",
		.workload = "custom",
		.model = "asyncio",
		.sets = {{"program", "4 x (lock L, net 30ms, unlock L)"}},
		.status = RUN_DONE,
		.bound = "sync",
		.recommend = "sequential",
		.advice = "shrink-critical-section",
		.why_has = "wait outside the lock",
	},
	/* A lock around a fifth of the work caps any model's speedup. */
	{
		.lesson = "a lock around part of the work",
		.workload = "custom",
		.model = "threads",
		.sets = {{"program",
			  "4 x (net 80ms, lock L, cpu 25ms, unlock L)"}},
		.status = RUN_DONE,
		.bound = NULL,
		.recommend = NULL,
		.advice = "shrink-critical-section",
		.why_has = "Amdahl",
	},

};

static void test_lessons(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(lessons) / sizeof(lessons[0]); i++) {
		const struct lesson_case *c = &lessons[i];
		struct trace *t;

		/* Forked workers must not inherit what is still buffered. */
		fflush(stdout);
		t = run_case(c->workload, c->model, c->sets);
		const struct trace_summary *m = &t->summary;

		print_message("lesson %s (%s under %s)\n  %s; %s; %s\n  %s\n",
			      c->lesson, c->workload, c->model, m->bound,
			      m->recommend, m->advice, m->why);
		assert_status(t, c->status);
		assert_true(t->has_summary);
		if (c->bound)
			assert_string_equal(m->bound, c->bound);
		if (c->recommend)
			assert_string_equal(m->recommend, c->recommend);
		if (c->advice)
			assert_string_equal(m->advice, c->advice);
		if (c->why_has && !strstr(m->why, c->why_has))
			fail_msg("lesson %s: \"%s\" not in \"%s\"", c->lesson,
				 c->why_has, m->why);
		free_trace(t);
	}
}

int main(int argc, char **argv)
{
	/* A spawned process-pool worker is this program run again. */
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc - 1, argv + 1);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lessons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
