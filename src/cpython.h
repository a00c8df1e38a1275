/*
 * cpython: the reference engine.  The same spec, run by a real Python
 * interpreter instead of this engine's models, so a learner can see where
 * the models and the Python they run disagree.
 *
 * This side builds the program from the spec (the workload recipes are
 * the engine's, so both engines run exactly the same tasks), starts the
 * latency peer, and runs src/cpython/overlap_cpython.py in the chosen
 * interpreter as a child: the run, its options, the program and the
 * peer's port go in on its stdin as one JSON object; the event lines of
 * `overlap run --format events` (render.h) come back on its stdout.  Each
 * line is folded into the trace and handed to the run's hooks as the
 * collector would hand it, so every output (ascii, json, chrome, events,
 * the server's stream) and the summary work as they do for the models.
 *
 * The child is in the run's process group (a cancel or a kill reaches
 * it), ignores SIGINT (Ctrl-C is the parent's, which asks it to stop with
 * SIGTERM) and dies with its parent.
 */
#ifndef OVERLAP_CPYTHON_H
#define OVERLAP_CPYTHON_H

#include <stddef.h>

#include "run.h"
#include "spec.h"
#include "trace.h"

struct cpython_info {
	char path[256];	  /* as asked for, or as found on PATH */
	char version[32]; /* "3.11.7" */
	char build[16];	  /* "gil" or "free-threaded" */
};

/* Where the runner module is: $OVERLAP_CPYTHON_RUNNER, else
 * src/cpython/overlap_cpython.py beside the build directory of this
 * binary.  Returns 0 or -ENOENT. */
int cpython_runner_path(char *buf, size_t size);

/* Asks the interpreter python ("" for python3 on PATH) its version and
 * build.  Returns 0 or a negative errno (-ENOENT: no such interpreter). */
int cpython_probe(const char *python, struct cpython_info *info);

/* The interpreters on PATH (python3, python3.N, python3.Nt), each probed,
 * one entry per distinct file, python3 first.  Returns how many were
 * written to out (at most max). */
size_t cpython_discover(struct cpython_info *out, size_t max);

/* What interpreter py cannot run of spec, as the runner itself would
 * refuse it (src/cpython/overlap_cpython.py, unsupported()), so that a
 * caller can refuse before it starts anything: 0, or -EINVAL with err
 * naming "options.gil" (gil=off on a GIL build) or "params.program" (an
 * asyncio barrier before 3.11). */
int cpython_check(const struct spec *spec, const struct cpython_info *py,
		  struct spec_error *err);

/* Runs spec (validated, engine cpython) as run_execute() does: the same
 * hooks, the same trace, the summary computed here.  A spec the
 * interpreter cannot run (gil=off on a GIL build, say) returns -EINVAL
 * with err naming the field; an interpreter that cannot be started
 * returns -ENOENT with err naming "python". */
int cpython_execute(const struct spec *spec, const struct run_hooks *hooks,
		    struct trace *out, struct spec_error *err);

#endif
