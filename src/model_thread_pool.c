/*
 * model_thread_pool: concurrent.futures.ThreadPoolExecutor(max_workers=
 * workers): a fixed set of worker threads takes tasks from one FIFO queue.
 *
 * Every task is known up front and submitted in order, so the queue is two
 * counters under one mutex: submitted (written by the main thread) and
 * taken (by the workers); task i is queued while taken <= i < submitted.
 * The main thread stamps each task's submit time before publishing it, and
 * the worker that takes it records the queued segment from that stamp to
 * its start, on its own lane.  A worker sleeps on the condition variable
 * only when the queue is empty, and the main thread signals only when
 * someone sleeps, so a busy pool dispatches without system calls.
 *
 * Workers are started before the first submission (ThreadPoolExecutor
 * starts them on submit; starting them first keeps thread creation out of
 * the queued times) and never more than there are tasks.  Stop: a worker
 * takes no new task once ctx->stop is raised; the main thread marks the
 * tasks left in the queue cancelled after joining the workers.
 *
 * With costs=python a worker runs CPython's thread bootstrap before its
 * first task (computing for the measured thread start, holding the GIL),
 * recorded as that task's startup segment: in Python the submit that
 * starts a worker is the one whose task it takes first.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "model.h"

struct pool {
	struct run_ctx *ctx;
	struct gil *gil;
	int64_t *submit_ns; /* [task]: written before the task is published */

	pthread_mutex_t mutex;
	pthread_cond_t work; /* queue no longer empty, or closed */
	/* protected by mutex */
	uint32_t submitted, taken;
	uint32_t idle; /* workers waiting on work */
	bool closed;   /* nothing more will be submitted */
};

struct worker {
	struct pool *pool;
	struct rec_lane *lane;
	pthread_t thread;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	struct pool *pool = w->pool;
	struct run_ctx *ctx = pool->ctx;
	bool started_up = !ctx->charge_python;

	rec_lane_os_id(w->lane, gettid());
	pthread_mutex_lock(&pool->mutex);
	for (;;) {
		while (pool->taken == pool->submitted && !pool->closed) {
			pool->idle++;
			pthread_cond_wait(&pool->work, &pool->mutex);
			pool->idle--;
		}
		if (pool->taken == pool->submitted ||
		    atomic_load_explicit(&ctx->stop, memory_order_relaxed))
			break;
		uint32_t task = pool->taken++;
		int64_t submit_ns = pool->submit_ns[task];

		pthread_mutex_unlock(&pool->mutex);

		struct exec_ctx x = {.run = ctx,
				     .lane = w->lane,
				     .gil = pool->gil,
				     .task = task};
		int64_t start_ns = rec_now(w->lane);

		if (start_ns > submit_ns)
			rec_segment(w->lane, task, ST_QUEUED, submit_ns,
				    start_ns, 0);
		if (!started_up) {
			int64_t t0, t1;

			exec_startup(&x, ctx->python.thread_start_ns, &t0, &t1);
			rec_segment(w->lane, task, ST_STARTUP, t0, t1, 0);
			started_up = true;
		}
		exec_task(&x);
		pthread_mutex_lock(&pool->mutex);
	}
	pthread_mutex_unlock(&pool->mutex);
	return NULL;
}

static int pool_run(struct run_ctx *ctx)
{
	const struct program *prog = ctx->prog;
	struct rec_lane *main_lane = ctx->main_lane;
	uint32_t n_workers = (uint32_t)spec_int(&ctx->spec->options, "workers");
	struct pool pool = {.ctx = ctx};
	struct worker *workers = NULL;
	pthread_attr_t attr;
	sigset_t all, old;
	uint32_t started = 0, task;
	int rc;

	if (n_workers == 0)
		n_workers = model_default_thread_workers();
	if (n_workers > prog->n_tasks)
		n_workers = prog->n_tasks ? (uint32_t)prog->n_tasks : 1;
	rc = exec_gil_create(&ctx->spec->options, &pool.gil);
	if (rc < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "thread-pool: cannot create the GIL");
		return rc;
	}
	pool.submit_ns = calloc(prog->n_tasks ? prog->n_tasks : 1,
				sizeof(*pool.submit_ns));
	workers = calloc(n_workers, sizeof(*workers));
	if (!pool.submit_ns || !workers) {
		rc = -ENOMEM;
		snprintf(ctx->message, sizeof(ctx->message),
			 "thread-pool: out of memory");
		goto out_free;
	}
	pthread_mutex_init(&pool.mutex, NULL);
	pthread_cond_init(&pool.work, NULL);

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, EXEC_THREAD_STACK_BYTES);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; started < n_workers; started++) {
		struct worker *w = &workers[started];
		char name[32];
		int err;

		snprintf(name, sizeof(name), "worker-%u", started + 1);
		w->pool = &pool;
		w->lane = trace_rec_add_lane(ctx->rec, LANE_THREAD, name);
		if (!w->lane) {
			rc = -ENOSPC;
			snprintf(ctx->message, sizeof(ctx->message),
				 "thread-pool: no lane left for %s", name);
			break;
		}
		err = pthread_create(&w->thread, &attr, worker_thread, w);
		if (err) {
			rc = -err;
			snprintf(ctx->message, sizeof(ctx->message),
				 "thread-pool: cannot start %s: %s", name,
				 strerror(err));
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);

	/* Submit everything (or nothing, if no worker could start). */
	for (task = 0; started && task < prog->n_tasks; task++) {
		if (atomic_load_explicit(&ctx->stop, memory_order_relaxed))
			break;
		int64_t now = rec_now(main_lane);

		pthread_mutex_lock(&pool.mutex);
		pool.submit_ns[task] = now;
		pool.submitted++;
		if (pool.idle)
			pthread_cond_signal(&pool.work);
		pthread_mutex_unlock(&pool.mutex);
		rec_task_submit(main_lane, task, now);
	}
	pthread_mutex_lock(&pool.mutex);
	pool.closed = true;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mutex);

	for (uint32_t i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	/* Tasks still queued, or never submitted, when the pool stopped. */
	for (task = pool.taken; task < prog->n_tasks; task++)
		rec_task_end(main_lane, task, rec_now(main_lane),
			     TASK_CANCELLED, 0);

	pthread_cond_destroy(&pool.work);
	pthread_mutex_destroy(&pool.mutex);
out_free:
	free(workers);
	free(pool.submit_ns);
	gil_destroy(pool.gil);
	return rc;
}

static const struct param_def pool_options[] = {
	{"workers", PARAM_INT, "threads", "0", 0, 1024, NULL,
	 "max_workers: how many worker threads take tasks from the queue; 0 "
	 "(the default) means what ThreadPoolExecutor() takes, min(32, "
	 "cores + 4)"},
	EXEC_GIL_OPTIONS,
	COSTS_OPTION,
};

const struct model_ops model_thread_pool = {
	.name = "thread-pool",
	.help = "a fixed pool of worker threads taking tasks from a FIFO "
		"queue (ThreadPoolExecutor)",
	.options = pool_options,
	.n_options = sizeof(pool_options) / sizeof(pool_options[0]),
	.max_tasks = 100000,
	.run = pool_run,
};
