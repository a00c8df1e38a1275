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
 *
 * collect = map, imap or as_completed (results.h): the main thread takes
 * the results one by one as Executor.map or as_completed hands them over
 * and works on each (handle) on a lane of its own, "consumer"; with imap
 * it submits only a worker's worth ahead and one more task for each result
 * it takes.  While it works on a result, finished ones wait in their pipes.
 * With map, chunksize sends the tasks in chunks, as Executor.map does: one
 * job of chunksize tasks, one transfer each way, the results together.
 *
 * pitfall = lambda or no-main-guard: the two ways a process pool fails
 * before any task runs, ending every task as error with what Python
 * raises.  lambda: the function submitted cannot be pickled, so no task
 * ever reaches a worker (ProcessPoolExecutor pickles the callable under
 * every start method).  no-main-guard (spawn, forkserver: the start
 * methods that import the main module afresh in each worker): the module
 * starts the pool at import, so each worker, importing it, tries to start
 * processes of its own while bootstrapping, raises RuntimeError and dies,
 * and the pool breaks.  The run ends as error at once; nothing is started.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "model.h"
#include "procpool.h"
#include "results.h"
#include "sync.h"
#include "util.h"

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

/* Submits task, or with chunk > 1 the chunk of up to chunk tasks from
 * it; returns how many tasks went, or a negative errno. */
static int submit_task(struct procpool *pool, uint32_t task, uint32_t chunk,
		       int64_t payload_bytes, uint32_t n_tasks)
{
	uint32_t n = chunk > n_tasks - task ? n_tasks - task : chunk;
	struct procpool_job job = {
		.task = task,
		.flags = PROCPOOL_REC_SUBMIT | PROCPOOL_REC_QUEUED,
		.payload_bytes = payload_bytes,
		.cookie = task,
		.n_tasks = n,
	};
	int rc = procpool_submit(pool, &job);

	return rc < 0 ? rc : (int)n;
}

/* fork-after-threads: how long a forked worker tries the lock before the
 * run calls it a deadlock (the watchdog's wait for one). */
#define FORK_HANG_NS SYNC_DEADLOCK_NS

/* A thread of the run that holds a lock, as the logging module's handler
 * lock is held while a record is written, until told to let go. */
struct lock_holder {
	pthread_mutex_t lock; /* the held one, private to this process */
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	bool held, release;
};

static void *lock_holder_main(void *arg)
{
	struct lock_holder *h = arg;

	pthread_mutex_lock(&h->lock);
	pthread_mutex_lock(&h->mutex);
	h->held = true;
	pthread_cond_broadcast(&h->cond);
	while (!h->release)
		pthread_cond_wait(&h->cond, &h->mutex);
	pthread_mutex_unlock(&h->mutex);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* fork-after-threads, for real: while a thread of this process holds a
 * lock, the pool forks its workers (one lane each, as ForkProcess-N) and
 * each worker's first task takes that lock (it logs a line).  The child
 * has only the thread that forked, so nothing will ever release it: each
 * worker waits (lock-wait on its first task's row, noted) until
 * FORK_HANG_NS has passed with the lock still held, and the run ends as
 * the deadlock it is (Python's pool hangs for good).  0, or a negative
 * errno when the demonstration itself could not be made. */
static int fork_after_threads(struct run_ctx *ctx, uint32_t workers)
{
	struct rec_lane *main_lane = ctx->main_lane;
	struct lock_holder h = {.lock = PTHREAD_MUTEX_INITIALIZER,
				.mutex = PTHREAD_MUTEX_INITIALIZER,
				.cond = PTHREAD_COND_INITIALIZER};
	pid_t pids[PROCPOOL_MAX_WORKERS];
	struct rec_lane *lanes[PROCPOOL_MAX_WORKERS];
	int64_t started[PROCPOOL_MAX_WORKERS];
	uint32_t n = 0, hung = 0;
	pthread_t holder;
	int rc;

	for (uint32_t task = 0; task < ctx->prog->n_tasks; task++)
		rec_task_submit(main_lane, task, rec_now(main_lane));
	rc = -pthread_create(&holder, NULL, lock_holder_main, &h);
	if (rc)
		return rc;
	pthread_mutex_lock(&h.mutex);
	while (!h.held)
		pthread_cond_wait(&h.cond, &h.mutex);
	pthread_mutex_unlock(&h.mutex);
	for (; n < workers; n++) {
		char name[32];

		snprintf(name, sizeof(name), "ForkProcess-%u", n + 1);
		lanes[n] = trace_rec_add_lane(ctx->rec, LANE_PROCESS, name);
		if (!lanes[n])
			break;
		started[n] = rec_now(main_lane);
		pids[n] = fork();
		if (pids[n] == 0) {
			/* The child: its first task takes the lock. */
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += FORK_HANG_NS % NS_PER_S;
			until.tv_sec += FORK_HANG_NS / NS_PER_S +
					until.tv_nsec / NS_PER_S;
			until.tv_nsec %= NS_PER_S;
			_exit(pthread_mutex_timedlock(&h.lock, &until) ==
					      ETIMEDOUT
				      ? 3
				      : 0);
		}
		if (pids[n] < 0)
			break;
		rec_lane_os_id(lanes[n], pids[n]);
		rec_task_start(lanes[n], n, started[n]);
	}
	for (uint32_t i = 0; i < n; i++) {
		int status = 0;

		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		rec_segment(lanes[i], i, ST_LOCK_WAIT, started[i],
			    rec_now(main_lane), REC_NOTE_FORK_LOCK);
		hung += WIFEXITED(status) && WEXITSTATUS(status) == 3;
	}
	pthread_mutex_lock(&h.mutex);
	h.release = true;
	pthread_cond_broadcast(&h.cond);
	pthread_mutex_unlock(&h.mutex);
	pthread_join(holder, NULL);
	for (uint32_t task = 0; task < ctx->prog->n_tasks; task++) {
		struct rec_lane *l = task < n ? lanes[task] : main_lane;

		rec_task_end(l, task, rec_now(l), TASK_CANCELLED, 0);
	}
	if (n == 0 || hung < n) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "process-pool: fork-after-threads: %u of %u forked "
			 "workers found the lock held",
			 hung, n);
		return -EAGAIN;
	}
	snprintf(ctx->message, sizeof(ctx->message),
		 "deadlock: %u worker%s wait%s for a lock another thread held "
		 "when the pool forked %s, and none of %s threads will release "
		 "it (Python 3.12+ warns: use of fork() may lead to deadlocks "
		 "in the child)",
		 n, n == 1 ? "" : "s", n == 1 ? "s" : "",
		 n == 1 ? "it" : "them", n == 1 ? "its" : "their");
	rc = 0;
	atomic_compare_exchange_strong(&ctx->stop, &rc, RUN_DEADLOCK);
	return 0;
}

/* Ends every task as error at submit, as the pitfall makes Python's pool
 * do, noted with the exception. */
static int pitfall_run(struct run_ctx *ctx, const char *pitfall)
{
	struct rec_lane *main_lane = ctx->main_lane;
	uint32_t note = strcmp(pitfall, "lambda") == 0 ? REC_NOTE_PICKLING
						       : REC_NOTE_NO_GUARD;

	for (uint32_t task = 0; task < ctx->prog->n_tasks; task++) {
		int64_t now = rec_now(main_lane);

		rec_task_submit(main_lane, task, now);
		rec_task_end_note(main_lane, task, now, TASK_ERROR, note);
	}
	if (strcmp(pitfall, "lambda") == 0)
		snprintf(ctx->message, sizeof(ctx->message),
			 "process-pool: _pickle.PicklingError: Can't pickle "
			 "<function <lambda>>: attribute lookup <lambda> on "
			 "__main__ failed (a lambda has no importable name)");
	else
		snprintf(ctx->message, sizeof(ctx->message),
			 "process-pool: RuntimeError in each worker: An "
			 "attempt has been made to start a new process before "
			 "the current process has finished its bootstrapping "
			 "phase (no if __name__ == \"__main__\": guard)");
	return -EINVAL;
}

/* A missing main guard breaks only the start methods that import the
 * main module in each worker. */
static int pool_check_program(const struct spec *spec,
			      const struct program *prog,
			      struct spec_error *err)
{
	int64_t chunk = spec_int(&spec->options, "chunksize");

	(void)prog;
	if (chunk > 1 && strcmp(spec_text(&spec->options, "collect"), "map")) {
		util_strlcpy(err->field, "options.chunksize",
			     sizeof(err->field));
		snprintf(err->message, sizeof(err->message),
			 "chunksize: at most 1 unless collect=map (only "
			 "Executor.map sends its tasks in chunks), got %lld",
			 (long long)chunk);
		err->column = 0;
		return -EINVAL;
	}
	if (chunk * spec_int(&spec->options, "payload_bytes") >
	    PROCPOOL_MAX_PAYLOAD_BYTES) {
		util_strlcpy(err->field, "options.chunksize",
			     sizeof(err->field));
		snprintf(err->message, sizeof(err->message),
			 "chunksize: a chunk's payloads together (chunksize x "
			 "payload_bytes) may be at most %lld bytes, got %lld",
			 (long long)PROCPOOL_MAX_PAYLOAD_BYTES,
			 (long long)(chunk * spec_int(&spec->options,
						      "payload_bytes")));
		err->column = 0;
		return -EINVAL;
	}
	if (strcmp(spec_text(&spec->options, "pitfall"),
		   "fork-after-threads") == 0 &&
	    strcmp(spec_text(&spec->options, "start"), "fork") != 0) {
		util_strlcpy(err->field, "options.pitfall", sizeof(err->field));
		snprintf(err->message, sizeof(err->message),
			 "pitfall: fork-after-threads hangs only under "
			 "start=fork, which copies the running process with "
			 "the locks its threads hold; spawn and forkserver "
			 "start each worker from a fresh program");
		err->column = 0;
		return -EINVAL;
	}
	if (strcmp(spec_text(&spec->options, "pitfall"), "no-main-guard") ==
		    0 &&
	    strcmp(spec_text(&spec->options, "start"), "fork") == 0) {
		util_strlcpy(err->field, "options.pitfall", sizeof(err->field));
		snprintf(err->message, sizeof(err->message),
			 "pitfall: no-main-guard fails only under start=spawn "
			 "or forkserver, which import the main module in each "
			 "worker; fork copies the running process and never "
			 "imports it");
		err->column = 0;
		return -EINVAL;
	}
	return 0;
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
	int64_t handle_ns = spec_ns(opt, "handle");
	struct procpool *pool;
	struct procpool_done done[64];
	struct results res;
	struct rec_lane *consumer = NULL;
	char why[200] = "";
	uint32_t task = 0, first;
	uint32_t chunk = (uint32_t)spec_int(opt, "chunksize");
	uint32_t n_tasks = (uint32_t)prog->n_tasks;
	int rc = 0;

	if (strcmp(spec_text(opt, "pitfall"), "fork-after-threads") == 0)
		return fork_after_threads(ctx, cfg.workers);
	if (strcmp(spec_text(opt, "pitfall"), "none") != 0)
		return pitfall_run(ctx, spec_text(opt, "pitfall"));
	rc = results_init(&res, spec_text(opt, "collect"),
			  (uint32_t)prog->n_tasks);
	if (rc < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "process-pool: out of memory");
		return rc;
	}

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
	/* Everything at once; imap a worker's worth, then one more for
	 * each result taken. */
	first = res.mode == RESULTS_IMAP ? procpool_workers(pool)
					 : (uint32_t)prog->n_tasks;
	while (task < first && task < n_tasks) {
		int sent = submit_task(pool, task,
				       res.mode == RESULTS_MAP ? chunk : 1,
				       payload_bytes, n_tasks);

		if (sent < 0)
			break;
		task += (uint32_t)sent;
	}
	if (res.mode != RESULTS_WAIT) {
		consumer =
			trace_rec_add_lane(ctx->rec, LANE_THREAD, "consumer");
		if (consumer)
			rec_lane_os_id(consumer, gettid());
	}
	while (procpool_pending(pool) > 0) {
		ssize_t n = procpool_wait(pool, done, 64, -1);
		uint32_t next;

		if (n < 0)
			break;
		for (ssize_t k = 0; k < n; k++)
			results_done(&res, done[k].task);
		/* The caller takes what it may, in its order, and works on
		 * each on the consumer lane. */
		while (consumer && (next = results_next(&res)) != UINT32_MAX) {
			struct exec_ctx x = {
				.run = ctx, .lane = consumer, .task = next};

			if (handle_ns > 0)
				exec_compute(&x, 0, handle_ns, REC_NOTE_RESULT);
			if (res.mode == RESULTS_IMAP && task < prog->n_tasks &&
			    !atomic_load(&ctx->stop) &&
			    submit_task(pool, task, 1, payload_bytes,
					n_tasks) == 1)
				task++;
		}
	}
	if (consumer)
		results_add_checks(&res, ctx->checks);
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
	results_free(&res);
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
	RESULTS_OPTIONS,
	{"chunksize", PARAM_INT, "tasks", "1", 1, PROCPOOL_MAX_CHUNK, NULL,
	 "Executor.map(..., chunksize=N) with collect=map: the tasks go to "
	 "the workers N at a time, one transfer (ipc) per chunk each way, "
	 "and a chunk's results reach the caller together"},
	{"pitfall", PARAM_ENUM, "", "none", 0, 0,
	 "none|lambda|no-main-guard|fork-after-threads",
	 "a mistake that makes the pool fail as Python's does: lambda "
	 "(submitting a lambda, which cannot be pickled), no-main-guard "
	 "(starting the pool without if __name__ == \"__main__\": under "
	 "spawn or forkserver) or fork-after-threads (forking the workers "
	 "while another thread holds a lock their tasks take: under fork "
	 "they wait for it forever)"},
	COSTS_OPTION,
};

const struct model_ops model_process_pool = {
	.name = "process-pool",
	.help = "a fixed pool of worker processes (ProcessPoolExecutor): "
		"CPU work on every core, at the cost of start-up and copying",
	.options = pool_options,
	.n_options = sizeof(pool_options) / sizeof(pool_options[0]),
	.max_tasks = 100000,
	.check_program = pool_check_program,
	.run = pool_run,
};
