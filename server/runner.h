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
 *
 * Each run has a temporary folder of its own, made here before the child
 * starts ($TMPDIR/overlap-run-<id>-XXXXXX, given to the child as its
 * TMPDIR, so the engine's and its workers' files all land inside it).
 * The server is the child subreaper of the run's processes: once the run
 * ends, however it ended (done, cancelled, killed, over a limit), the
 * whole process group is killed and reaped and the folder removed before
 * the run is concluded.  Folders a crash of the server left behind are
 * removed when the runner starts, for the runs of its own store only.
 */
#ifndef OVERLAP_RUNNER_H
#define OVERLAP_RUNNER_H

#include <stdint.h>

#include "runs.h"
#include "store.h"

struct runner_config {
	const char *exe;      /* the overlap binary; "/proc/self/exe" */
	uint64_t as_bytes;    /* RLIMIT_AS of a runner; 0: unlimited */
	uint64_t nproc_extra; /* processes a runner may add to the user's */
	struct store *store;  /* the runs' store: whose stale folders go */
};

struct runner;

/* The folder where runs' temporary folders are made: $TMPDIR, or /tmp. */
const char *runner_tmp_base(void);

/* Starts the runner thread on r's queue, after removing the temporary
 * folders of cfg->store's runs that a crash left.  NULL on failure. */
struct runner *runner_start(struct runs *r, const struct runner_config *cfg);
/* Joins the thread; call after runs_shutdown(). */
void runner_join(struct runner *rn);

#endif
