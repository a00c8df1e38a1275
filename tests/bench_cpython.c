/*
 * bench_cpython: what recording costs the reference engine.
 *
 * 1,000 asyncio tasks that each sleep 1 s, run by the CPython engine
 * twice over: once recording every event (as always), once with the
 * runner told to record nothing (OVERLAP_CPYTHON_RECORD=0; the run is the
 * same code, its lines are not written).  Both are timed around the whole
 * of run_execute, interpreter start included, best of 3; the difference
 * is what recording added, shown per event and against the wall of the
 * recorded run's tasks.  Prints markdown table rows: | measure | value |
 * target |.  Skips (prints nothing) without python3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpython.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "util.h"

#define TASKS "1000"
#define ROUNDS 3

struct counted {
	long events;
};

static void count_sink(void *ctx, const struct trace *t,
		       const struct rec_event *ev)
{
	(void)t;
	(void)ev;
	((struct counted *)ctx)->events++;
}

/* One run; its wall around run_execute, the tasks' wall, the events. */
static int one(const char *python, int64_t *outer_ns, int64_t *wall_ns,
	       long *events)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	struct counted c = {0};
	struct run_hooks hooks = {.sink = count_sink, .sink_ctx = &c};
	struct trace t;
	int64_t t0;
	int rc = -1;

	if (!spec || spec_init(spec, "fetch", "asyncio", &err) < 0 ||
	    spec_set(spec, "tasks", TASKS, &err) < 0 ||
	    spec_set(spec, "io", "sleep", &err) < 0 ||
	    spec_set(spec, "duration", "1s", &err) < 0)
		goto out;
	util_strlcpy(spec->engine, SPEC_ENGINE_CPYTHON, sizeof(spec->engine));
	util_strlcpy(spec->python, python, sizeof(spec->python));
	trace_init(&t);
	t0 = util_mono_ns();
	rc = run_execute(spec, &hooks, &t, &err);
	*outer_ns = util_mono_ns() - t0;
	*wall_ns = t.has_summary ? t.summary.wall_ns : 0;
	*events = c.events;
	if (rc == 0 && t.status != RUN_DONE)
		rc = -1;
	trace_free(&t);
out:
	if (rc)
		fprintf(stderr, "bench_cpython: %s\n", err.message);
	free(spec);
	return rc;
}

int main(void)
{
	struct cpython_info py;
	int64_t best_on = INT64_MAX, best_off = INT64_MAX, wall = 0;
	long events = 0;

	if (cpython_probe("", &py) < 0)
		return 0;
	for (int r = 0; r < ROUNDS; r++) {
		int64_t outer, w;
		long n;

		setenv("OVERLAP_CPYTHON_RECORD", "1", 1);
		if (one(py.path, &outer, &w, &n) < 0)
			return 1;
		if (outer < best_on) {
			best_on = outer;
			wall = w;
			events = n;
		}
		setenv("OVERLAP_CPYTHON_RECORD", "0", 1);
		if (one(py.path, &outer, &w, &n) < 0)
			return 1;
		if (outer < best_off)
			best_off = outer;
	}
	unsetenv("OVERLAP_CPYTHON_RECORD");
	int64_t added = best_on - best_off;

	printf("| CPython engine (%s), asyncio, 1,000 tasks x 1 s: run, "
	       "recorded / not recorded (best of %d, interpreter start "
	       "included) | %.3f / %.3f s | |\n",
	       py.version, ROUNDS, (double)best_on / 1e9,
	       (double)best_off / 1e9);
	printf("| CPython engine: recording, per event (%ld events) | %.1f us "
	       "| |\n",
	       events, events ? (double)added / 1e3 / (double)events : 0.0);
	printf("| CPython engine: recording added to the run's wall (%.3f s) "
	       "| %.1f%% | <= 5%% |\n",
	       (double)wall / 1e9,
	       wall ? 100.0 * (double)added / (double)wall : 0.0);
	return 0;
}
