/*
 * bench_cpython: what recording costs the reference engine.
 *
 *   per event  the runner's own recording, timed inside the interpreter
 *              in CPU time (on a shared machine the wall clock measures
 *              the other tenants): 200,000 segment and task lines made
 *              as a run makes them (formatted, listed, written in
 *              batches), the median of 5 rounds, per line
 *   added      a real run of the engine, 1,000 asyncio tasks that each
 *              sleep 1 s: its events times the cost of one, against the
 *              run's wall time (the target: at most 5%)
 *
 * Timing whole runs with recording on and off says the same on a quiet
 * machine, but on a shared one their difference drowns in the noise of
 * starting an interpreter.  Prints markdown table rows: | measure | value
 * | target |.  Prints nothing without python3.
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

/* Runs the runner's recorder in py on 200,000 lines, to a pipe that
 * /dev/null drains; returns ns per line or -1. */
static double per_event_ns(const char *python, const char *runner)
{
	static const char script[] =
		"import sys, os, time, statistics\n"
		"sys.path.insert(0, os.path.dirname(sys.argv[1]))\n"
		"import overlap_cpython as o\n"
		"rounds = []\n"
		"for r in range(5):\n"
		"    out = o.Out(True)\n"
		"    out.stream = open(os.devnull, 'w')\n"
		"    rec = o.Recorder(out, ['task %d' % i for i in range(1000)])\n"
		"    t0 = time.thread_time_ns()\n"
		"    for i in range(100000):\n"
		"        rec.segment(i % 1000, 1, 'sleep', i, i + 1000)\n"
		"        rec.end(i % 1000, i, 'ok') if i < 1000 else "
		"rec.counter(i, 1)\n"
		"        if i % 500 == 0: out.flush()\n"
		"    out.flush()\n"
		"    rounds.append((time.thread_time_ns() - t0) / 200000)\n"
		"print(statistics.median(rounds))\n";
	char cmd[8192];
	double ns = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' -I -c \"%s\" '%s'", python, script,
		 runner);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fscanf(p, "%lf", &ns) != 1)
		ns = -1;
	pclose(p);
	return ns;
}

int main(void)
{
	struct cpython_info py;
	char runner[4096];
	int64_t outer, wall;
	long events;
	double ns;

	if (cpython_probe("", &py) < 0 ||
	    cpython_runner_path(runner, sizeof(runner)) < 0)
		return 0;
	ns = per_event_ns(py.path, runner);
	if (ns < 0 || one(py.path, &outer, &wall, &events) < 0)
		return 1;
	printf("| CPython engine (%s): recording, CPU per event (the line "
	       "formatted and written in batches) | %.2f us | |\n",
	       py.version, ns / 1e3);
	printf("| CPython engine: recording added to asyncio, 1,000 tasks x "
	       "1 s (%ld events, wall %.3f s) | %.2f%% | <= 5%% |\n",
	       events, (double)wall / 1e9,
	       wall ? 100.0 * ns * (double)events / (double)wall : 0.0);
	return 0;
}
