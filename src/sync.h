/*
 * sync: the run-time state of a program's shared objects (locks,
 * semaphores, bounded queues, counters, barriers, events, rate limiters,
 * files) and the steps that use them, for every model.
 *
 * All state lives in ONE shared mapping backed by a memfd, made before any
 * task runs: threads share it as memory, forked workers inherit it, and
 * spawned workers map it from the descriptor (sync_map).  The objects are
 * built from process-shared, robust pthread mutexes and condition
 * variables on CLOCK_MONOTONIC, so one blocking implementation serves
 * sequential, threads, thread-pool and process-pool workers
 * (sync_exec_step).  The event loop uses the cooperative half
 * (sync_coop_step): it never blocks; a task that cannot go on is parked on
 * the object's FIFO wait list and is handed the object (the lock, the
 * permit, the item, the barrier's release) by whoever frees it, which then
 * tells the loop through a wake callback.  One run uses one half: an
 * object is never waited on both ways at once.
 *
 * Every blocking wait is a timed wait in slices that checks the run's
 * stop flag, and is recorded as the wait state of its object (lock-wait,
 * sem-wait, queue-wait, barrier-wait, event-wait, rate-wait) with note =
 * object index + 1.  A registry in the mapping says, per task, whether it
 * runs and what it waits for; the run's watchdog reads it
 * (sync_watchdog_check) and declares a deadlock when every running task
 * has waited on an object, with nothing changing, for SYNC_DEADLOCK_NS.
 *
 * Lock order: the GIL before an object's mutex, never the other way: a
 * thread never waits for the GIL while it holds an object's mutex, and
 * never holds two objects' mutexes at once.
 */
#ifndef OVERLAP_SYNC_H
#define OVERLAP_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gil.h"
#include "model.h"
#include "program.h"
#include "trace_rec.h"
#include "util.h"

struct exec_ctx; /* exec_core.h */
/* How long every running task must have waited on objects, with no object
 * and no progress counter changing, before the watchdog calls it a
 * deadlock. */
#define SYNC_DEADLOCK_NS (200 * NS_PER_MS)
/* The longest a blocking wait sleeps before it looks at the stop flag. */
#define SYNC_SLICE_NS (10 * NS_PER_MS)

struct sync_rt;

/* ---- life --------------------------------------------------------------- */

/* Builds the shared state of ctx->prog's objects: queues with room for
 * their capacity, semaphores with their count, files (in ctx->tmpdir; when
 * that is "" and the program has files, a private directory is made and
 * written into ctx->tmpdir) with their content when a task reads them.
 * Reads ctx->prog, ctx->tmpdir and ctx->main_lane (its epoch).  Returns NULL
 * with errno set and a reason in ctx->message on failure.  The caller
 * stores the result in ctx->sync and frees it with sync_destroy() after
 * the model has returned. */
struct sync_rt *sync_create(struct run_ctx *ctx);
/* Removes every file the program's tasks used (and the directory, when
 * sync_create made it), unmaps and frees.  NULL is a no-op.  Only the run
 * process calls it; a forked worker just exits. */
void sync_destroy(struct sync_rt *rt);

/* For a spawned worker: the memfd (close-on-exec: hand it over with
 * posix_spawn_file_actions_adddup2) and the mapping's size. */
int sync_fd(const struct sync_rt *rt);
size_t sync_map_size(const struct sync_rt *rt);
/* In a spawned worker: maps the state from fd.  prog must be the same
 * program (rebuilt from the same spec); tmpdir the run's directory.
 * Returns NULL with errno set when the mapping does not match. */
struct sync_rt *sync_map(int fd, size_t size, const struct program *prog,
			 const char *tmpdir, int64_t epoch_ns);
/* Undoes sync_map(); leaves the files alone. */
void sync_unmap(struct sync_rt *rt);

/* ---- the registry ------------------------------------------------------- */

/* A task starts running / has ended, wherever it runs: exec_task() and the
 * event loop call these.  NULL rt is a no-op, so callers need not check. */
void sync_task_begin(struct sync_rt *rt, uint32_t task);
void sync_task_end(struct sync_rt *rt, uint32_t task);

/* ---- blocking steps (threads and processes) ---------------------------- */

/* True for the step kinds sync_exec_step() runs: every synchronisation
 * step, request, consume, close and disk. */
bool sync_handles(enum step_kind kind);

/* Runs one such step on the calling thread, as exec_step() runs the others:
 * with a GIL it is held on entry and on return, and released around every
 * wait.  Records the step's segments on x->lane.  Does not bump progress
 * (exec_step does).  Returns 0, -ECANCELED when the run stopped, -ETIMEDOUT
 * for a request whose last attempt timed out, -EIO when it failed,
 * -ENOTSUP for a step sync does not run, or another negative errno (disk). */
int sync_exec_step(struct exec_ctx *x, const struct step *s);

/* ---- cooperative steps (the event loop) -------------------------------- */

/* What the loop must do next for a task inside a sync step. */
enum sync_want_kind {
	/* The step is over; want.err is 0 or a negative errno. */
	SYNC_WANT_DONE,
	/* The task is parked on an object's wait list.  The loop leaves it
	 * alone until env->wake names it, then calls sync_coop_step()
	 * again. */
	SYNC_WANT_PARKED,
	/* Call again at want.due_ns (epoch ns): a rate limiter's next slot,
	 * or the end of a retry's backoff. */
	SYNC_WANT_TIMER,
	/* Call again from the ready queue, after the callbacks already
	 * ready (asyncio.sleep(0) inside an increment). */
	SYNC_WANT_YIELD,
	/* Run prog->steps[want.step] (a cpu step: the per-item work of a
	 * consumer) as the loop runs cpu steps, on the loop or in its
	 * executor, recording it as it records those; then call again. */
	SYNC_WANT_CPU,
	/* Make a request to the peer: delay want.ns, reply want.reply_bytes,
	 * cut off at want.timeout_ns after it starts (0: never), as a net
	 * step but recording nothing (sync records the io segment).  Call
	 * again with its result: 0, -ETIMEDOUT when cut off, or another
	 * negative errno. */
	SYNC_WANT_NET,
};

struct sync_want {
	uint8_t kind;	     /* enum sync_want_kind */
	int err;	     /* DONE */
	int64_t due_ns;	     /* TIMER */
	uint32_t step;	     /* CPU: index into prog->steps */
	int64_t ns;	     /* NET: the peer's delay */
	int64_t timeout_ns;  /* NET */
	int64_t reply_bytes; /* NET */
};

struct sync_coop_env {
	struct run_ctx *run;
	const struct rec_lane *lane; /* the loop's lane */
	/* Called on the loop thread, from inside sync_coop_step() of
	 * another task, for every parked task that was handed its object:
	 * the loop queues it to be resumed (sync_coop_step again); it must
	 * not call into sync from here. */
	void (*wake)(void *ctx, uint32_t task);
	void *wake_ctx;
	/* The loop's GIL when executor threads share one; NULL: none.  A
	 * long increment honours drop requests at its check points. */
	struct gil *gil;
};

/* Runs (or goes on with) task's current step s, a step sync_handles().
 * The first call for a step starts it; every later call (after a wake, a
 * timer, a yield, the cpu or net asked for) passes result: the outcome of
 * what was asked (NET: 0 or a negative errno; otherwise 0).  Fills *want
 * with what to do next.  Never blocks, except a disk step, which does its
 * file call on the loop thread as asyncio itself would.  Returns
 * want->kind. */
int sync_coop_step(struct sync_rt *rt, const struct sync_coop_env *env,
		   uint32_t task, const struct step *s, int result,
		   struct sync_want *want);

/* While a request's SYNC_WANT_NET is in flight: fills *want with it again
 * (the loop keeps no copy: it asks when it writes the request line and when
 * a timer may be the timeout).  Returns false when task has no request in
 * flight in step s. */
bool sync_coop_net_want(struct sync_rt *rt, uint32_t task, const struct step *s,
			struct sync_want *want);

/* The run stopped while task was inside step s: records its open wait up
 * to now (the park, the rate wait, the backoff or the request's io) and
 * takes it off any wait list.  The task holds nothing afterwards. */
void sync_coop_abandon(struct sync_rt *rt, const struct sync_coop_env *env,
		       uint32_t task, const struct step *s);

/* ---- the verdicts ------------------------------------------------------- */

/* Called by the run's watchdog periodically (every 100 ms or more often;
 * in the run process, always the same thread).  True when every running
 * task (sync_task_begin) has been waiting on an object, with no object
 * changing and ctx->progress still, for SYNC_DEADLOCK_NS; the reason
 * ("deadlock: ...") is then in msg.  Raises nothing itself. */
bool sync_watchdog_stuck(struct run_ctx *ctx, char *msg, size_t size);
/* The same, and when stuck raises ctx->stop = RUN_DEADLOCK (unless
 * something else stopped the run first) with the reason in ctx->message.
 * Returns true when it declared the deadlock. */
bool sync_watchdog_check(struct run_ctx *ctx);

/* Writes "deadlock: consumer 1 waits for queue 'items' (empty), nobody can
 * put; ..." for the tasks waiting now, into buf.  Returns how many tasks
 * wait. */
uint32_t sync_deadlock_message(struct sync_rt *rt, char *buf, size_t size);

/* After the model returned: adds the workload checks the objects measured
 * to ctx->checks (made when NULL): counters: expected, got, lost; queues:
 * produced, consumed (and transformed in a three-stage pipeline);
 * requests: succeeded, failed, retries, max_in_flight; files: files,
 * bytes. */
void sync_add_checks(struct run_ctx *ctx);

#endif
