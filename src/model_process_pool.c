/*
 * model_process_pool: concurrent.futures.ProcessPoolExecutor(max_workers=
 * workers, mp_context=start): every task is submitted at once and runs on
 * one of a fixed set of worker processes, so CPU work uses every core
 * (there is no GIL between processes), at the price Python pays too:
 * starting the processes (a startup segment on each worker's lane; spawn
 * starts a fresh program and costs more than fork; forkserver spawns one
 * server, whose own startup shows on its lane, and forks every worker
 * from it) and copying each task's
 * argument and result across a pipe (ipc segments, payload_bytes each way).
 *
 * The pool (procpool.h) does the work; this file is the executor's
 * submit-everything-then-wait loop.  The main thread records submit and
 * queued; each worker records its task's start, segments and end on its
 * own lane.  A worker that dies ends its task as error with the signal,
 * and the pool carries on with a replacement.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "model.h"
#include "procpool.h"

/* How long workers get to finish after the last result before they are
 * killed (they normally leave at once, at end of file). */
#define POOL_GRACE_NS (2 * NS_PER_S)

static uint32_t pool_workers(const struct run_ctx *ctx)
{
	int64_t n = spec_int(&ctx->spec->options, "workers");

	if (n <= 0)
		n = model_default_process_workers();
	if (n > PROCPOOL_MAX_WORKERS)
		n = PROCPOOL_MAX_WORKERS;
	/* ProcessPoolExecutor starts no more processes than it has work
	 * for. */
	if ((uint64_t)n > ctx->prog->n_tasks)
		n = ctx->prog->n_tasks ? (int64_t)ctx->prog->n_tasks : 1;
	return (uint32_t)n;
}

static int pool_run(struct run_ctx *ctx)
{
	const struct param_set *opt = &ctx->spec->options;
	const struct program *prog = ctx->prog;
	struct rec_lane *main_lane = ctx->main_lane;
	struct procpool_config cfg = {
		.run = ctx,
		.lane = main_lane,
		.workers = pool_workers(ctx),
		.start = procpool_start_parse(spec_text(opt, "start")),
	};
	int64_t payload_bytes = spec_int(opt, "payload_bytes");
	struct procpool *pool;
	struct procpool_done done[64];
	char why[200] = "";
	uint32_t task = 0;
	int rc = 0;

	pool = procpool_create(&cfg, why, sizeof(why));
	if (!pool) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "process-pool: cannot start the workers: %s", why);
		rc = -EAGAIN;
		goto out_cancel;
	}
	if (procpool_workers(pool) < cfg.workers)
		snprintf(ctx->message, sizeof(ctx->message),
			 "process-pool: started %u of %u workers: %s",
			 procpool_workers(pool), cfg.workers, why);
	for (; task < prog->n_tasks; task++) {
		struct procpool_job job = {
			.task = task,
			.flags = PROCPOOL_REC_SUBMIT | PROCPOOL_REC_QUEUED,
			.payload_bytes = payload_bytes,
			.cookie = task,
		};

		if (procpool_submit(pool, &job) < 0)
			break;
	}
	while (procpool_pending(pool) > 0) {
		if (procpool_wait(pool, done, 64, -1) < 0)
			break;
	}
	if (procpool_error(pool) < 0) {
		/* Every task it could not run already ended as error. */
		snprintf(ctx->message, sizeof(ctx->message),
			 "process-pool: the workers keep dying before they "
			 "are ready (start = %s)",
			 procpool_start_name(cfg.start));
		rc = procpool_error(pool);
	}
	procpool_destroy(pool, POOL_GRACE_NS);
out_cancel:
	/* Tasks never submitted (the run stopped first). */
	for (; task < prog->n_tasks; task++)
		rec_task_end(main_lane, task, rec_now(main_lane),
			     TASK_CANCELLED, 0);
	return rc;
}

static const struct param_def pool_options[] = {
	{"workers", PARAM_INT, "processes", "0", 0, PROCPOOL_MAX_WORKERS, NULL,
	 "max_workers: how many worker processes; 0 means the number of "
	 "cores"},
	{"start", PARAM_ENUM, "", "fork", 0, 0, "fork|spawn|forkserver",
	 "start method: fork copies the running process, spawn starts the "
	 "program afresh (slower to start, as in Python), forkserver forks "
	 "each worker from a server process spawned once (Python 3.14's "
	 "default on Linux)"},
	{"payload_bytes", PARAM_INT, "bytes", "0", 0,
	 (double)PROCPOOL_MAX_PAYLOAD_BYTES, NULL,
	 "size of each task's argument and of its result, copied across the "
	 "pipe to and from the worker"},
	COSTS_OPTION,
};

const struct model_ops model_process_pool = {
	.name = "process-pool",
	.help = "a fixed pool of worker processes (ProcessPoolExecutor): "
		"CPU work on every core, at the cost of start-up and copying",
	.options = pool_options,
	.n_options = sizeof(pool_options) / sizeof(pool_options[0]),
	.max_tasks = 100000,
	.run = pool_run,
};
