/*
 * run: one run from spec to trace.  Builds the program, calibrates the cpu
 * step, starts the latency peer, the recorder and its collector, hands the
 * program to the model, and when the model returns computes the summary.
 * A watchdog thread raises ctx.stop at the time limit and when no task has
 * made progress while every live task waits on a synchronisation object
 * (deadlock).
 */
#ifndef OVERLAP_RUN_H
#define OVERLAP_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "spec.h"
#include "trace_collector.h"

struct run_hooks {
	/* Optional live sink (collector thread).  NULL: none. */
	trace_sink_fn sink;
	void *sink_ctx;
	/* Called once, before any task runs, with the trace's run info,
	 * lanes and tasks filled in. */
	void (*on_start)(void *ctx, const struct trace *t);
};

/* Executes spec (validated by the caller) into out (trace_init()ed).
 * Returns 0 when the run happened (whatever its status: done, deadlock,
 * error of a task), or a negative errno with err when it could not start. */
int run_execute(const struct spec *spec, const struct run_hooks *hooks,
		struct trace *out, struct spec_error *err);

/* Asks the run in progress (in this process) to stop as cancelled: within
 * a watchdog tick every task ends, its open wait recorded up to then, and
 * run_execute returns a whole trace with status cancelled.  Safe to call
 * from a signal handler (it only sets a flag); a run that starts later is
 * cancelled at once. */
void run_request_cancel(void);

/* Fills the trace's run info known before anything runs: id (the spec's
 * or a new one), workload, model, params, options, status running and
 * the start time. */
void run_begin_trace(const struct spec *spec, struct trace *out);

/* True once run_request_cancel() has been called (the CPython engine
 * passes the request on to its interpreter). */
bool run_cancel_requested(void);

#endif
