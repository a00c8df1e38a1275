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

#include "exec_core.h"

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

/* A block step on an event loop's thread: the loop sleeps (releasing its
 * GIL, as time.sleep does), recorded as a sleep noted REC_NOTE_BLOCKING.
 * 0 or -ECANCELED. */
int exec_block_step(struct exec_ctx *x, const struct step *s);

#endif
