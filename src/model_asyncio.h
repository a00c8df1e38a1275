/*
 * model_asyncio: the asyncio event loop that both asyncio models run on.
 *
 * model_asyncio.c runs every task as a small state machine on one loop
 * thread (loop.h); model_asyncio_executor.c reuses that loop and plugs in
 * an executor, the loop.run_in_executor of the Python original, through
 * struct asyncio_executor.  The executor never calls into the loop: it
 * makes its descriptor readable and the loop collects finished jobs with
 * drain(), as libuv's thread pool hands results back through a wake-up fd.
 */
#ifndef OVERLAP_MODEL_ASYNCIO_H
#define OVERLAP_MODEL_ASYNCIO_H

#include <stdbool.h>
#include <stdint.h>

#include "gil.h"
#include "model.h"

/* One finished job, reported by an executor's drain(). */
struct asyncio_done {
	uint32_t task;
	int err;    /* 0, or the step's negative errno (-ECANCELED, ...) */
	int signal; /* nonzero: the worker process died of it */
	int64_t picked_ns; /* when a worker took the job (epoch ns), so the
			    * loop can record the queued time; -1: the
			    * executor recorded it itself */
};

typedef void (*asyncio_done_fn)(void *loop_ctx, const struct asyncio_done *d);

struct asyncio_executor {
	void *impl;
	/* Readable when finished jobs wait; owned by the executor. */
	int fd;
	/* Held by the loop while it runs callbacks, released while it polls;
	 * NULL: no GIL.  Borrowed. */
	struct gil *loop_gil;
	/* Hand net and disk steps to the executor too (blocking I/O in
	 * run_in_executor), not only cpu steps. */
	bool offload_io;
	/* Queues steps[step] (an index into prog->steps) of task; called on
	 * the loop thread at submit_ns.  Returns 0 or a negative errno. */
	int (*submit)(void *impl, uint32_t task, uint32_t step,
		      int64_t submit_ns);
	/* Non-blocking, on the loop thread: calls done for every finished
	 * job.  Returns how many, or a negative errno when the executor can
	 * no longer run jobs (every pending job has been reported). */
	int (*drain)(void *impl, asyncio_done_fn done, void *loop_ctx);
};

/* Adds the loop's lane (kind loop, "event loop") for the calling thread
 * and records its thread id.  NULL when the recorder has no lane left. */
struct rec_lane *asyncio_add_loop_lane(struct run_ctx *ctx);

/* Runs ctx's program on an event loop in the calling thread, recording on
 * lane (from asyncio_add_loop_lane); ex is NULL for plain asyncio.
 * Returns 0, or a negative errno with ctx->message when the loop itself
 * failed. */
int asyncio_run(struct run_ctx *ctx, struct rec_lane *lane,
		const struct asyncio_executor *ex);

/* Both asyncio models' model_ops.report: the mode results were collected
 * in (checks.collect_order) and the worst loop lag
 * (summary.max_loop_lag_ns). */
void asyncio_report(struct run_ctx *ctx, struct trace *out);

#endif
