/*
 * exec: executes a task's steps with blocking calls, for every model whose
 * tasks run on their own thread or process (sequential, threads,
 * thread-pool, process-pool workers, the executors of asyncio-executor).
 * It records the task's segments on the caller's lane, takes and releases
 * the GIL around computation when there is one, and stops early when the
 * run is stopped.
 */
#ifndef OVERLAP_EXEC_H
#define OVERLAP_EXEC_H

#include <stdbool.h>

#include "gil.h"
#include "model.h"

struct exec_ctx {
	struct run_ctx *run;
	const struct rec_lane *lane;
	struct gil *gil; /* NULL: no GIL (gil=off, processes) */
	uint32_t task;
	bool holds_gil;	 /* private to exec: whether this thread holds gil
			  * (start it false) */
};

/* Runs the whole task: records start, every step, and end with its status.
 * The GIL, when there is one, is held while the task computes and released
 * around every wait.  Returns the task's status. */
enum task_status exec_task(struct exec_ctx *x);

/* Runs one step (used by exec_task and by executors running a single cpu
 * step for the event loop).  Returns 0, or a negative errno (-ETIMEDOUT,
 * -ECANCELED when the run stopped, -ENOTSUP for a step it cannot run).
 * With a GIL, the caller holds it on entry (exec_gil_acquire) and holds it
 * again on return: a step that waits releases it around the wait, as
 * CPython's blocking calls do. */
int exec_step(struct exec_ctx *x, const struct step *s);

/* Takes x->gil for this thread, recording a gil-wait segment when it had to
 * wait; releases it.  Both do nothing without a GIL or when it is already
 * in the wanted state, so a step that blocks can bracket its wait with
 * exec_gil_release() / exec_gil_acquire(). */
void exec_gil_acquire(struct exec_ctx *x);
void exec_gil_release(struct exec_ctx *x);

/* The computation of a cpu step, in slices, honouring GIL drop requests and
 * recording compute and gil-wait segments.  Needs the GIL held on entry
 * when x->gil is set. */
void exec_compute(struct exec_ctx *x, uint64_t iters, uint32_t note);

#endif
