/*
 * bench_asyncio: the asyncio model at scale, with the full trace recorded.
 *
 *   wall      100,000 tasks that each sleep 1 s: the run's wall time (the
 *             trace's), which should be about one wait; and the whole of
 *             run_execute (set-up, collector, trace assembly) beside it
 *   memory    the growth of the process's peak resident set over that run
 *             (getrusage ru_maxrss), in MiB and bytes per task: the loop's
 *             task state, its timer heap, the rings and the trace together
 *   start     what starting one task costs the loop in that run: the
 *             spread of the tasks' start times over the number of tasks
 *             (each start records the start, opens the sleep and pushes a
 *             timer)
 *   dispatch  20,000 tasks that do nothing (one sleep of 0, a yield): the
 *             span from the first submission to the last end over the
 *             number of tasks, what one more task costs the loop from
 *             creation to result (bench_dispatch measures the thread
 *             models the same way)
 *
 * The 100,000-task run goes first, in a fresh process, so the peak it
 * measures is its own.  Prints markdown table rows:
 * | measure | value | target |.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "run.h"
#include "spec.h"
#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"
#include "util.h"

#define SCALE_TASKS 100000
#define DISPATCH_TASKS 20000

struct kv {
	const char *key;
	const char *value;
};

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Runs fetch under asyncio with sets into t (trace_init()ed); every task
 * must end ok.  Returns 0 or -1 with a message on stderr. */
static int bench_run(const struct kv *sets, struct trace *t)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	size_t ok = 0;
	int rc = -1;

	if (!spec || spec_init(spec, "fetch", "asyncio", &err) < 0)
		goto out;
	for (; sets->key; sets++)
		if (spec_set(spec, sets->key, sets->value, &err) < 0)
			goto out;
	if (spec_validate(spec, &err) < 0 ||
	    run_execute(spec, NULL, t, &err) < 0)
		goto out;
	for (size_t i = 0; i < t->n_tasks; i++)
		ok += t->tasks[i].status == TASK_OK;
	if (t->status != RUN_DONE || ok != t->n_tasks) {
		snprintf(err.message, sizeof(err.message),
			 "status %s, %zu of %zu tasks ok: %.150s",
			 run_status_name((enum run_status)t->status), ok,
			 t->n_tasks, t->message);
		goto out;
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_asyncio: %s %s\n", err.field,
			err.message);
	free(spec);
	return rc;
}

static int bench_scale(void)
{
	static const struct kv sets[] = {{"tasks", "100000"},
					 {"duration", "1s"},
					 {"io", "sleep"},
					 {NULL, NULL}};
	struct trace t;
	long rss0, rss1;
	int64_t t0, t1, first = INT64_MAX, last = 0;

	trace_init(&t);
	rss0 = maxrss_kib();
	t0 = util_mono_ns();
	if (bench_run(sets, &t) < 0)
		return -1;
	t1 = util_mono_ns();
	rss1 = maxrss_kib();
	for (size_t i = 0; i < t.n_tasks; i++) {
		if (t.tasks[i].start_ns < first)
			first = t.tasks[i].start_ns;
		if (t.tasks[i].start_ns > last)
			last = t.tasks[i].start_ns;
	}
	printf("| asyncio, 100,000 tasks x 1 s: wall | %.3f s | <= 1.10 s |\n",
	       (double)t.summary.wall_ns / NS_PER_S);
	printf("| asyncio, 100,000 tasks x 1 s: run_execute in all | %.3f s "
	       "| - |\n",
	       (double)(t1 - t0) / NS_PER_S);
	printf("| asyncio, 100,000 tasks: peak memory | +%.1f MiB (%.0f "
	       "bytes/task) | <= 32 MiB |\n",
	       (double)(rss1 - rss0) / 1024.0,
	       (double)(rss1 - rss0) * 1024.0 / SCALE_TASKS);
	printf("| asyncio, 100,000 tasks: start per task | %.3f us | - |\n",
	       (double)(last - first) / (SCALE_TASKS - 1) / NS_PER_US);
	printf("| asyncio, 100,000 tasks: max loop lag | %.1f ms | - |\n",
	       (double)t.summary.max_loop_lag_ns / NS_PER_MS);
	trace_free(&t);
	return 0;
}

static int bench_dispatch(void)
{
	static const struct kv sets[] = {{"tasks", "20000"},
					 {"duration", "0"},
					 {"io", "sleep"},
					 {NULL, NULL}};
	struct trace t;
	int64_t first = INT64_MAX, last = 0;

	trace_init(&t);
	if (bench_run(sets, &t) < 0)
		return -1;
	for (size_t i = 0; i < t.n_tasks; i++) {
		if (t.tasks[i].submit_ns < first)
			first = t.tasks[i].submit_ns;
		if (t.tasks[i].end_ns > last)
			last = t.tasks[i].end_ns;
	}
	printf("| dispatch per task: loop (20,000 no-op tasks, submit to "
	       "last end) | %.3f us | <= 0.5 us |\n",
	       (double)(last - first) / DISPATCH_TASKS / NS_PER_US);
	trace_free(&t);
	return 0;
}

int main(void)
{
	if (bench_scale() < 0 || bench_dispatch() < 0)
		return 1;
	return 0;
}
