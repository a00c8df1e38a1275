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

/* The option both asyncio models take: how the main coroutine awaits its
 * tasks, and so what one task's exception does to the others. */
/* clang-format off */
#define ASYNCIO_GROUP_OPTION                                                 \
	{"group", PARAM_ENUM, "", "return_exceptions", 0, 0,                 \
	 "return_exceptions|gather|taskgroup|wait_first",                    \
	 "how main awaits the tasks: return_exceptions (gather(..., "        \
	 "return_exceptions=True): every task runs to its end, an exception " \
	 "is a result), gather (the first exception reaches main, which "    \
	 "returns; asyncio.run cancels the rest), taskgroup (async with "    \
	 "TaskGroup: an exception cancels the siblings) or wait_first "      \
	 "(asyncio.wait FIRST_COMPLETED: main resumes at the first end, "    \
	 "the rest run on)"}
/* clang-format on */

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
