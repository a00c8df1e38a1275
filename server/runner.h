/*
 * runner: the thread that executes queued runs, one at a time, each in its
 * own child process: `overlap run --spec - --format events --id ID`.
 *
 * The child gets its own process group (cancel and the limits kill the
 * whole group, workers included), resource limits (processes, address
 * space, CPU time, file size, no core files), the spec on stdin, and dies
 * with the server (PR_SET_PDEATHSIG).  Its stdout is read line by line into
 * the run (runs_lines), its stderr is forwarded to the server's stderr and
 * its last line kept as the reason if the runner fails.  A wall-clock
 * deadline kills the group.  The server itself never executes a workload.
 */
#ifndef OVERLAP_RUNNER_H
#define OVERLAP_RUNNER_H

#include <stdint.h>

#include "runs.h"

struct runner_config {
	const char *exe;      /* the overlap binary; "/proc/self/exe" */
	uint64_t as_bytes;    /* RLIMIT_AS of a runner; 0: unlimited */
	uint64_t nproc_extra; /* processes a runner may add to the user's */
};

struct runner;

/* Starts the runner thread on r's queue.  NULL on failure. */
struct runner *runner_start(struct runs *r, const struct runner_config *cfg);
/* Joins the thread; call after runs_shutdown(). */
void runner_join(struct runner *rn);

#endif
