/*
 * model_asyncio_executor: asyncio with loop.run_in_executor.  The event
 * loop of model_asyncio.c runs the tasks; their cpu steps (and, with
 * offload_io = on, their blocking net and disk steps) go to an executor
 * so the loop keeps serving timers while the work runs elsewhere.
 *
 *   threads    a ThreadPoolExecutor: `workers` threads, each on its own
 *              lane ("executor-N"), run the step with exec_step().  With
 *              gil = on they share one GIL with the loop thread, which
 *              holds it while it runs callbacks, as CPython's loop does; so
 *              a computing worker can delay the loop by up to a switch
 *              interval, and the trace shows it as loop lag.
 *   processes  a ProcessPoolExecutor: the process pool of procpool.h,
 *              whose workers record on their own lanes; no shared GIL.
 *
 * Results come back the way libuv's thread pool returns them: a worker
 * appends to a done list under a mutex and writes an eventfd the loop
 * polls; it never touches the loop's state.  The process pool's own
 * descriptor plays the same part.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "exec.h"
#include "model_asyncio.h"
#include "procpool.h"

#define EXECUTOR_WORKERS_MAX 64
/* How long the process pool's workers get to finish after the loop is
 * done before they are killed. */
#define POOL_GRACE_NS (2 * NS_PER_S)

/* ---- the thread executor ------------------------------------------------ */

struct tjob {
	uint32_t task;
	uint32_t step;
};

struct tpool {
	struct run_ctx *ctx;
	struct gil *gil; /* shared with the loop; NULL: gil = off */
	uint32_t n_workers;
	pthread_t threads[EXECUTOR_WORKERS_MAX];
	struct rec_lane *lanes[EXECUTOR_WORKERS_MAX];
	int efd; /* eventfd: done has entries */

	pthread_mutex_t mu;
	pthread_cond_t cv; /* jobs or shutdown */
	/* protected by mu: */
	struct tjob *jobs; /* FIFO ring */
	size_t jobs_head, jobs_len, jobs_cap;
	struct asyncio_done *done; /* finished, not yet drained */
	size_t n_done, cap_done;
	bool shutdown;
};

struct tworker {
	struct tpool *pool;
	uint32_t index;
};

static void tpool_post(struct tpool *p, const struct asyncio_done *d)
{
	uint64_t one = 1;

	pthread_mutex_lock(&p->mu);
	if (p->n_done == p->cap_done) {
		p->cap_done = p->cap_done ? p->cap_done * 2 : 64;
		p->done =
			util_xrealloc(p->done, p->cap_done * sizeof(*p->done));
	}
	p->done[p->n_done++] = *d;
	pthread_mutex_unlock(&p->mu);
	/* The counter cannot overflow in practice; a failed write would
	 * only delay the loop until its next poll timeout. */
	if (write(p->efd, &one, sizeof(one)) < 0)
		return;
}

/* Runs one job on a worker's lane: the step with the GIL held (exec_step
 * releases it around waits; exec_gil_acquire records the wait for it). */
static int tpool_run_job(struct tpool *p, const struct rec_lane *lane,
			 const struct tjob *job)
{
	struct exec_ctx x = {
		.run = p->ctx, .lane = lane, .gil = p->gil, .task = job->task};
	int err;

	if (atomic_load(&p->ctx->stop))
		return -ECANCELED;
	exec_gil_acquire(&x);
	err = exec_step(&x, &p->ctx->prog->steps[job->step]);
	exec_gil_release(&x);
	return err;
}

static void *tpool_worker(void *arg)
{
	struct tpool *p = ((struct tworker *)arg)->pool;
	uint32_t index = ((struct tworker *)arg)->index;
	const struct rec_lane *lane = p->lanes[index];
	bool started_up = !p->ctx->charge_python;

	free(arg);
	rec_lane_os_id(lane, gettid());
	for (;;) {
		struct tjob job;
		struct asyncio_done d = {0};

		pthread_mutex_lock(&p->mu);
		while (p->jobs_len == 0 && !p->shutdown)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->jobs_len == 0) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		job = p->jobs[p->jobs_head];
		p->jobs_head = (p->jobs_head + 1) % p->jobs_cap;
		p->jobs_len--;
		pthread_mutex_unlock(&p->mu);

		d.task = job.task;
		d.picked_ns = rec_now(lane);
		if (!started_up) {
			/* costs=python: the thread's bootstrap, charged to
			 * the job whose submit started it. */
			struct exec_ctx x = {.run = p->ctx,
					     .lane = lane,
					     .gil = p->gil,
					     .task = job.task};
			int64_t t0, t1;

			exec_startup(&x, p->ctx->python.thread_start_ns, &t0,
				     &t1);
			rec_segment(lane, job.task, ST_STARTUP, t0, t1, 0);
			started_up = true;
		}
		d.err = tpool_run_job(p, lane, &job);
		tpool_post(p, &d);
	}
	return NULL;
}

static int tpool_submit(void *impl, uint32_t task, uint32_t step,
			int64_t submit_ns)
{
	struct tpool *p = impl;

	(void)submit_ns;
	pthread_mutex_lock(&p->mu);
	if (p->jobs_len == p->jobs_cap) {
		/* Unroll the ring into a bigger one. */
		size_t cap = p->jobs_cap ? p->jobs_cap * 2 : 64;
		struct tjob *jobs = util_xcalloc(cap, sizeof(*jobs));

		for (size_t i = 0; i < p->jobs_len; i++)
			jobs[i] = p->jobs[(p->jobs_head + i) % p->jobs_cap];
		free(p->jobs);
		p->jobs = jobs;
		p->jobs_cap = cap;
		p->jobs_head = 0;
	}
	p->jobs[(p->jobs_head + p->jobs_len) % p->jobs_cap] =
		(struct tjob){.task = task, .step = step};
	p->jobs_len++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static int tpool_drain(void *impl, asyncio_done_fn done, void *loop_ctx)
{
	struct tpool *p = impl;
	struct asyncio_done *batch;
	size_t n;
	uint64_t count;

	/* Reset the eventfd before taking the list: a post that lands after
	 * the take writes it again, so nothing is left unseen. */
	if (read(p->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	pthread_mutex_lock(&p->mu);
	batch = p->done;
	n = p->n_done;
	p->done = NULL;
	p->n_done = p->cap_done = 0;
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < n; i++)
		done(loop_ctx, &batch[i]);
	free(batch);
	return (int)n;
}

static void tpool_destroy(struct tpool *p, uint32_t started)
{
	pthread_mutex_lock(&p->mu);
	p->shutdown = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	if (p->efd >= 0)
		close(p->efd);
	free(p->jobs);
	free(p->done);
	free(p);
}

static struct tpool *tpool_create(struct run_ctx *ctx, uint32_t workers,
				  struct gil *gil, uint32_t *started)
{
	struct tpool *p = util_xcalloc(1, sizeof(*p));

	*started = 0;
	p->ctx = ctx;
	p->gil = gil;
	p->n_workers = workers;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		return p;
	/* Lanes first, in order, so their ids do not depend on which thread
	 * starts first. */
	for (uint32_t i = 0; i < workers; i++) {
		char name[32];

		snprintf(name, sizeof(name), "executor-%u", i + 1);
		p->lanes[i] = trace_rec_add_lane(ctx->rec, LANE_THREAD, name);
		if (!p->lanes[i])
			return p;
	}
	for (uint32_t i = 0; i < workers; i++) {
		struct tworker *w = util_xcalloc(1, sizeof(*w));

		w->pool = p;
		w->index = i;
		if (pthread_create(&p->threads[i], NULL, tpool_worker, w)) {
			free(w);
			return p;
		}
		(*started)++;
	}
	return p;
}

/* ---- the process executor ----------------------------------------------- */

struct ppool {
	struct procpool *pool;
	const struct program *prog;
};

static int ppool_submit(void *impl, uint32_t task, uint32_t step,
			int64_t submit_ns)
{
	struct ppool *p = impl;
	struct procpool_job job = {
		.task = task,
		.first_step = step,
		.n_steps = 1,
		.flags = PROCPOOL_REC_QUEUED,
		.payload_bytes = 0,
		.cookie = step,
	};

	(void)submit_ns;
	return procpool_submit(p->pool, &job);
}

static int ppool_err(const struct procpool_done *pd)
{
	if (pd->err)
		return pd->err;
	switch (pd->status) {
	case TASK_OK:
		return 0;
	case TASK_CANCELLED:
		return -ECANCELED;
	case TASK_TIMEOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

static int ppool_drain(void *impl, asyncio_done_fn done, void *loop_ctx)
{
	struct ppool *p = impl;
	struct procpool_done out[64];
	int total = 0;
	ssize_t n;

	do {
		n = procpool_reap(p->pool, out, 64);
		if (n < 0)
			return (int)n;
		for (ssize_t i = 0; i < n; i++) {
			struct asyncio_done d = {
				.task = out[i].task,
				.err = ppool_err(&out[i]),
				.signal = out[i].signal,
				.picked_ns = -1, /* the pool records queued */
			};

			done(loop_ctx, &d);
		}
		total += (int)n;
	} while (n == 64);
	return total;
}

/* ---- the model ---------------------------------------------------------- */

static const struct param_def executor_options[] = {
	{"executor", PARAM_ENUM, "", "threads", 0, 0, "threads|processes",
	 "where cpu steps run: a thread pool or a process pool"},
	{"workers", PARAM_INT, "workers", "0", 0, EXECUTOR_WORKERS_MAX, NULL,
	 "executor workers; 0 (the default) means what Python's own default "
	 "takes: min(32, cores + 4) threads (asyncio's default executor), or "
	 "one process per core"},
	EXEC_GIL_OPTIONS,
	{"offload_io", PARAM_ENUM, "", "off", 0, 0, "on|off",
	 "also hand net and disk steps to the executor as blocking calls"},
	{"start", PARAM_ENUM, "", "fork", 0, 0, "fork|spawn|forkserver",
	 "processes: how worker processes start"},
	{"limit", PARAM_INT, "tasks", "0", 0, 100000, NULL,
	 "asyncio.Semaphore around every task: at most this many run at "
	 "once (0: no limit)"},
	{"collect", PARAM_ENUM, "", "gather", 0, 0, "gather|as_completed",
	 "how results are collected: gather (submission order) or "
	 "as_completed (finish order)"},
	ASYNCIO_GROUP_OPTION,
	COSTS_OPTION,
};

static int run_threads(struct run_ctx *ctx, struct rec_lane *lane,
		       struct asyncio_executor *ex)
{
	const struct param_set *opt = &ctx->spec->options;
	uint32_t workers = (uint32_t)spec_int(opt, "workers");
	struct gil *gil = NULL;
	struct tpool *p;
	uint32_t started;
	int err;

	if (workers == 0)
		workers = model_default_thread_workers();
	if (exec_gil_create(opt, &gil) < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "asyncio-executor: cannot create the GIL");
		return -ENOMEM;
	}
	p = tpool_create(ctx, workers, gil, &started);
	if (started < workers) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "asyncio-executor: started %u of %u executor "
			 "threads",
			 started, workers);
		err = -EAGAIN;
		goto out_destroy_pool;
	}
	ex->impl = p;
	ex->fd = p->efd;
	ex->loop_gil = gil;
	ex->submit = tpool_submit;
	ex->drain = tpool_drain;
	err = asyncio_run(ctx, lane, ex);

out_destroy_pool:
	tpool_destroy(p, started);
	if (gil)
		gil_destroy(gil);
	return err;
}

static int run_processes(struct run_ctx *ctx, struct rec_lane *lane,
			 struct asyncio_executor *ex)
{
	const struct param_set *opt = &ctx->spec->options;
	struct procpool_config cfg = {
		.run = ctx,
		.lane = lane,
		.workers = spec_int(opt, "workers") > 0
				   ? (uint32_t)spec_int(opt, "workers")
			   : model_default_process_workers() <
					   EXECUTOR_WORKERS_MAX
				   ? model_default_process_workers()
				   : EXECUTOR_WORKERS_MAX,
		.start = procpool_start_parse(spec_text(opt, "start")),
		.lane_prefix = NULL,
	};
	struct ppool p = {.prog = ctx->prog};
	char why[200] = "";
	int err;

	p.pool = procpool_create(&cfg, why, sizeof(why));
	if (!p.pool) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "asyncio-executor: cannot start the process pool: %s",
			 why);
		return -EAGAIN;
	}
	ex->impl = &p;
	ex->fd = procpool_fd(p.pool);
	ex->loop_gil = NULL;
	ex->submit = ppool_submit;
	ex->drain = ppool_drain;
	err = asyncio_run(ctx, lane, ex);
	procpool_destroy(p.pool, POOL_GRACE_NS);
	return err;
}

static int executor_model_run(struct run_ctx *ctx)
{
	const struct param_set *opt = &ctx->spec->options;
	struct asyncio_executor ex = {
		.offload_io = strcmp(spec_text(opt, "offload_io"), "on") == 0,
	};
	struct rec_lane *lane = asyncio_add_loop_lane(ctx);

	if (!lane) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "asyncio-executor: no lane left for the event loop");
		return -ENOSPC;
	}
	if (strcmp(spec_text(opt, "executor"), "processes") == 0)
		return run_processes(ctx, lane, &ex);
	return run_threads(ctx, lane, &ex);
}

const struct model_ops model_asyncio_executor = {
	.name = "asyncio-executor",
	.help = "an asyncio loop that hands cpu steps to a thread or process "
		"pool (run_in_executor) and stays responsive",
	.options = executor_options,
	.n_options = sizeof(executor_options) / sizeof(executor_options[0]),
	.max_tasks = 100000,
	.run = executor_model_run,
	.report = asyncio_report,
};
