/*
 * model_sequential: the baseline.  Every task runs on the main thread, one
 * after another, as a plain for loop in Python runs them: nothing overlaps,
 * so the wall time is the sum of the tasks' times and every other model's
 * speedup is measured against it.
 *
 * A task is submitted when the loop reaches it, so no task is ever queued.
 * There is one thread, so a GIL could never be contended: none is made.
 */
#include <stdatomic.h>

#include "exec.h"
#include "model.h"

static int sequential_run(struct run_ctx *ctx)
{
	const struct program *prog = ctx->prog;
	uint32_t task;

	for (task = 0; task < prog->n_tasks; task++) {
		struct exec_ctx x = {.run = ctx,
				     .lane = ctx->main_lane,
				     .gil = NULL,
				     .task = task};

		if (atomic_load(&ctx->stop))
			break;
		rec_task_submit(ctx->main_lane, task, rec_now(ctx->main_lane));
		exec_task(&x);
	}
	/* Tasks the loop never reached (the run was stopped). */
	for (; task < prog->n_tasks; task++)
		rec_task_end(ctx->main_lane, task, rec_now(ctx->main_lane),
			     TASK_CANCELLED, 0);
	return 0;
}

const struct model_ops model_sequential = {
	.name = "sequential",
	.help = "the baseline: one task after another on the main thread, "
		"nothing overlaps",
	.options = NULL,
	.n_options = 0,
	.max_tasks = 100000,
	.run = sequential_run,
};
