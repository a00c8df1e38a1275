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
 *
 * collect = map, imap or as_completed (results.h): the main thread, once
 * it has submitted, takes the results one by one as Executor.map or
 * as_completed hands them over and works on each (handle) on a lane of its
 * own, "consumer"; with imap it submits only a worker's worth ahead and
 * one more task for each result it takes.  Workers report each finished
 * task under the pool's mutex and signal the caller when it waits.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "model.h"
#include "results.h"

struct pool {
	struct run_ctx *ctx;
	struct gil *gil;
	int64_t *submit_ns; /* [task]: written before the task is published */

	pthread_mutex_t mutex;
	pthread_cond_t work;   /* queue no longer empty, or closed */
	pthread_cond_t result; /* a task finished (for the caller) */
	/* protected by mutex */
	uint32_t submitted, taken;
	uint32_t idle;	   /* workers waiting on work */
	bool closed;	   /* nothing more will be submitted */
	bool caller_waits; /* the caller waits on result */
	struct results res;
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
		results_done(&pool->res, task);
		if (pool->caller_waits)
			pthread_cond_signal(&pool->result);
	}
	pthread_mutex_unlock(&pool->mutex);
	return NULL;
}

static bool stopped(const struct run_ctx *ctx)
{
	return atomic_load_explicit(&ctx->stop, memory_order_relaxed) != 0;
}

/* Publishes the next task to the workers; called with the mutex held. */
static void submit_locked(struct pool *pool, struct rec_lane *main_lane)
{
	uint32_t task = pool->submitted;
	int64_t now = rec_now(main_lane);

	pool->submit_ns[task] = now;
	pool->submitted++;
	if (pool->idle)
		pthread_cond_signal(&pool->work);
	rec_task_submit(main_lane, task, now);
}

/* The caller takes the results one by one (map, imap, as_completed) and
 * works on each on the consumer lane; with imap it submits a task for
 * each result it takes.  Returns when all are handled or the run stops. */
static void consume(struct pool *pool, struct rec_lane *main_lane,
		    struct rec_lane *consumer, uint32_t n_tasks)
{
	struct run_ctx *ctx = pool->ctx;
	int64_t handle_ns = spec_ns(&ctx->spec->options, "handle");

	pthread_mutex_lock(&pool->mutex);
	while (!results_all_handled(&pool->res) && !stopped(ctx)) {
		uint32_t task = results_next(&pool->res);

		if (task == UINT32_MAX) {
			struct timespec ts;

			/* Woken by a finished task; the stop flag is looked
			 * at every 20 ms. */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 20 * NS_PER_MS;
			if (ts.tv_nsec >= NS_PER_S) {
				ts.tv_sec++;
				ts.tv_nsec -= NS_PER_S;
			}
			pool->caller_waits = true;
			pthread_cond_timedwait(&pool->result, &pool->mutex,
					       &ts);
			pool->caller_waits = false;
			continue;
		}
		pthread_mutex_unlock(&pool->mutex);
		if (handle_ns > 0) {
			/* The caller is a Python thread too: it needs the
			 * GIL to work on a result. */
			struct exec_ctx x = {.run = ctx,
					     .lane = consumer,
					     .gil = pool->gil,
					     .task = task};

			exec_gil_acquire(&x);
			exec_compute(&x, 0, handle_ns, REC_NOTE_RESULT);
			exec_gil_release(&x);
		}
		pthread_mutex_lock(&pool->mutex);
		if (pool->res.mode == RESULTS_IMAP && !stopped(ctx) &&
		    pool->submitted < n_tasks)
			submit_locked(pool, main_lane);
	}
	pthread_mutex_unlock(&pool->mutex);
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
	pthread_condattr_t cattr;
	uint32_t started = 0, task, first;
	int rc;

	if (n_workers == 0)
		n_workers = model_default_thread_workers();
	if (n_workers > prog->n_tasks)
		n_workers = prog->n_tasks ? (uint32_t)prog->n_tasks : 1;
	rc = results_init(&pool.res, spec_text(&ctx->spec->options, "collect"),
			  (uint32_t)prog->n_tasks);
	if (rc < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "thread-pool: out of memory");
		return rc;
	}
	rc = exec_gil_create(&ctx->spec->options, &pool.gil);
	if (rc < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "thread-pool: cannot create the GIL");
		results_free(&pool.res);
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
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool.result, &cattr);
	pthread_condattr_destroy(&cattr);

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

	/* Submit everything (or nothing, if no worker could start); imap
	 * a worker's worth, and one more for each result taken. */
	first = pool.res.mode == RESULTS_IMAP ? started
					      : (uint32_t)prog->n_tasks;
	for (task = 0; started && task < first && task < prog->n_tasks;
	     task++) {
		if (stopped(ctx))
			break;
		pthread_mutex_lock(&pool.mutex);
		submit_locked(&pool, main_lane);
		pthread_mutex_unlock(&pool.mutex);
	}
	if (started && pool.res.mode != RESULTS_WAIT) {
		struct rec_lane *consumer =
			trace_rec_add_lane(ctx->rec, LANE_THREAD, "consumer");

		if (consumer) {
			rec_lane_os_id(consumer, gettid());
			consume(&pool, main_lane, consumer,
				(uint32_t)prog->n_tasks);
			pthread_mutex_lock(&pool.mutex);
			results_add_checks(&pool.res, ctx->checks);
			pthread_mutex_unlock(&pool.mutex);
		} else {
			rc = -ENOSPC;
			snprintf(ctx->message, sizeof(ctx->message),
				 "thread-pool: no lane left for the consumer");
		}
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

	pthread_cond_destroy(&pool.result);
	pthread_cond_destroy(&pool.work);
	pthread_mutex_destroy(&pool.mutex);
out_free:
	free(workers);
	free(pool.submit_ns);
	gil_destroy(pool.gil);
	results_free(&pool.res);
	return rc;
}

static const struct param_def pool_options[] = {
	{"workers", PARAM_INT, "threads", "0", 0, 1024, NULL,
	 "max_workers: how many worker threads take tasks from the queue; 0 "
	 "(the default) means what ThreadPoolExecutor() takes, min(32, "
	 "cores + 4)"},
	EXEC_GIL_OPTIONS,
	RESULTS_OPTIONS,
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
