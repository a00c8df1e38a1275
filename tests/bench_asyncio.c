/*
 * bench_asyncio: the asyncio model at scale, with the full trace recorded.
 *
 *   wall      100,000 tasks that each sleep 1 s: the run's wall time (the
 *             trace's), which should be about one wait; and the whole of
 *             run_execute (set-up, collector, trace assembly) beside it
 *   memory    the growth of the process's peak resident set over the run
 *             (getrusage ru_maxrss), in MiB and bytes per task: the loop's
 *             task state, its timer heap and the trace together
 *   dispatch  what starting one task costs the loop: the spread of the
 *             tasks' start times over the number of tasks (each start
 *             records the start, opens the sleep and pushes a timer)
 *
 * Prints markdown table rows: | measure | value | target |.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "run.h"
#include "spec.h"
#include "trace.h"
#include "util.h"

#define TASKS 100000

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int set(struct spec *spec, const char *key, const char *value)
{
	struct spec_error err = {0};

	if (spec_set(spec, key, value, &err) == 0)
		return 0;
	fprintf(stderr, "bench_asyncio: %s=%s: %s\n", key, value, err.message);
	return -1;
}

int main(void)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	struct trace t;
	long rss0, rss1;
	int64_t t0, t1, first = INT64_MAX, last = 0;
	double wall_s, total_s, mib, per_task, dispatch_us;
	size_t ok = 0;

	if (!spec || spec_init(spec, "fetch", "asyncio", &err) < 0 ||
	    set(spec, "tasks", "100000") || set(spec, "duration", "1s") ||
	    set(spec, "io", "sleep") || spec_validate(spec, &err) < 0) {
		fprintf(stderr, "bench_asyncio: spec: %s\n", err.message);
		return 1;
	}
	trace_init(&t);
	rss0 = maxrss_kib();
	t0 = util_mono_ns();
	if (run_execute(spec, NULL, &t, &err) < 0) {
		fprintf(stderr, "bench_asyncio: run: %s\n", err.message);
		return 1;
	}
	t1 = util_mono_ns();
	rss1 = maxrss_kib();

	for (size_t i = 0; i < t.n_tasks; i++) {
		const struct trace_task *k = &t.tasks[i];

		ok += k->status == TASK_OK;
		if (k->start_ns >= 0 && k->start_ns < first)
			first = k->start_ns;
		if (k->start_ns > last)
			last = k->start_ns;
	}
	if (t.status != RUN_DONE || ok != TASKS) {
		fprintf(stderr,
			"bench_asyncio: run %s, %zu of %d tasks ok: %s\n",
			run_status_name((enum run_status)t.status), ok, TASKS,
			t.message);
		return 1;
	}
	wall_s = (double)t.summary.wall_ns / NS_PER_S;
	total_s = (double)(t1 - t0) / NS_PER_S;
	mib = (double)(rss1 - rss0) / 1024.0;
	per_task = (double)(rss1 - rss0) * 1024.0 / TASKS;
	dispatch_us = (double)(last - first) / (TASKS - 1) / NS_PER_US;

	printf("| asyncio, 100,000 tasks x 1 s: wall | %.3f s | <= 1.10 s |\n",
	       wall_s);
	printf("| asyncio, 100,000 tasks x 1 s: run_execute in all | %.3f s "
	       "| - |\n",
	       total_s);
	printf("| asyncio, 100,000 tasks: peak memory | +%.1f MiB (%.0f "
	       "bytes/task) | <= 32 MiB |\n",
	       mib, per_task);
	printf("| asyncio, dispatch per task (loop) | %.3f us | <= 0.5 us |\n",
	       dispatch_us);
	printf("| asyncio, 100,000 tasks: max loop lag | %.1f ms | - |\n",
	       (double)t.summary.max_loop_lag_ns / NS_PER_MS);
	trace_free(&t);
	free(spec);
	return 0;
}
