/*
 * model: how tasks execute.  Every model is one file that fills one
 * struct model_ops (as Redis puts each poll backend behind aeApi*): the rest
 * of the engine (spec validation, recording, summary, renderers) does not
 * know which model ran.
 *
 * A model's run() executes every task of ctx->prog, records each task's
 * submit/start/end and every segment through ctx->rec, and returns when all
 * tasks have ended or ctx->stop was raised (deadline, deadlock, cancel).  It
 * creates its lanes itself (trace_rec_add_lane) except lane 0, the main
 * thread, which run.c creates.
 */
#ifndef OVERLAP_MODEL_H
#define OVERLAP_MODEL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "costs.h"
#include "cpu.h"
#include "program.h"
#include "spec_param.h"
#include "trace_rec.h"

struct sync_rt; /* shared objects' run-time state (sync.h) */
struct trace;	/* trace.h */

struct run_ctx {
	/* read-only for models */
	const struct spec *spec;
	const struct program *prog;
	struct trace_rec *rec;
	struct rec_lane *main_lane; /* lane 0 */
	struct cpu_calib cpu;
	uint16_t peer_port;   /* latency peer on 127.0.0.1 */
	int64_t deadline_ns;  /* relative to the epoch */
	char tmpdir[256];     /* private directory of this run, "" if none */
	struct sync_rt *sync; /* NULL when the program has no objects */
	/* costs=python: what CPython costs here, charged on top of the
	 * model's own (costs.h); costs=ideal: charge_python false. */
	bool charge_python;
	struct python_costs python;

	/* written by anyone, read by everyone */
	_Atomic int stop;	  /* nonzero: wind down now (enum run_status) */
	_Atomic int64_t progress; /* bumped on every step done (watchdog) */

	/* written by the model before run() returns, or by the watchdog
	 * after setting stop */
	char message[256];
	json_t *checks; /* object; models/workloads add their checks */

	/* the model's own, kept from run() to report(); run.c only hands
	 * it over */
	void *model_state;
};

struct model_ops {
	const char *name; /* "thread-pool" */
	const char *help; /* one line */
	const struct param_def *options;
	size_t n_options;
	uint32_t max_tasks; /* tasks this model can run at once */
	/* true when the model makes one lane per task (threads): run.c sizes
	 * the recorder for it; other models get room for their workers. */
	bool lane_per_task;
	/* Optional: refuses a program the model cannot run (one whose tasks
	 * share objects, under a model that shares none), naming the field
	 * in err.  Called by spec_validate; NULL: every program runs. */
	int (*check_program)(const struct spec *spec,
			     const struct program *prog,
			     struct spec_error *err);
	/* Returns 0, or a negative errno when the model itself failed (the
	 * run then ends with status error and ctx->message). */
	int (*run)(struct run_ctx *ctx);
	/* Optional: called once run() has returned (whatever it returned)
	 * and the shared objects' checks are in ctx->checks.  Puts what only
	 * this model measures into ctx->checks (after the others) and into
	 * out's summary, and frees ctx->model_state. */
	void (*report)(struct run_ctx *ctx, struct trace *out);
};

extern const struct model_ops *const model_catalog[];
extern const size_t model_catalog_count;

const struct model_ops *model_find(const char *name);

/* What max_workers=None gives in Python (workers=0 here):
 * ThreadPoolExecutor, and so asyncio's default executor, min(32, cores +
 * 4); ProcessPoolExecutor, the number of cores. */
uint32_t model_default_thread_workers(void);
uint32_t model_default_process_workers(void);

/* The models: one file each. */
extern const struct model_ops model_sequential;
extern const struct model_ops model_threads;
extern const struct model_ops model_thread_pool;
extern const struct model_ops model_interpreter_pool;
extern const struct model_ops model_process_pool;
extern const struct model_ops model_asyncio;
extern const struct model_ops model_asyncio_executor;

#endif
