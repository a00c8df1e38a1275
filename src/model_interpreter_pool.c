/*
 * model_interpreter_pool: concurrent.futures.InterpreterPoolExecutor
 * (Python 3.14): a ThreadPoolExecutor whose every worker thread runs its
 * own interpreter, with its own GIL and its own objects.  So CPU work runs
 * on every core, as in a process pool, while a worker is a thread and not
 * a process; and nothing is shared: a task's argument and result are
 * copied from one interpreter to the other (pickled, when they are not
 * among the few shareable types), and a lock or a queue of the caller's
 * is not the worker's.
 *
 * What that costs is measured, not assumed.  A worker's start-up is a
 * thread start plus its interpreter's: an interpreter starts empty and
 * loads what it runs, so each worker rebuilds the run's program from its
 * spec (the JSON text, parsed and built by the workload catalog) into its
 * own memory, the way a spawned process worker does, and runs its tasks
 * from that copy; the startup segment on its lane is the thread's start to
 * the end of that, shown with the first task it held up.  A task's
 * argument and result (payload_bytes each) are really copied into fresh
 * memory of the receiving side, an ipc segment each.  Each worker creates
 * its own GIL (gil.h), which no other thread ever asks for.
 *
 * Programs whose tasks share objects (locks, semaphores, queues,
 * counters, barriers, events, rate limits) are refused when the spec is
 * validated, naming the object: interpreters cannot share them.  Files
 * are not shared objects; each task opens its own.  Otherwise this is the
 * thread pool's FIFO (model_thread_pool.c): workers started before the
 * first submission, queued segments from submit to start.
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
#include "spec.h"
#include "sync.h"
#include "workload.h"

/* InterpreterPoolExecutor's max_workers default, as ThreadPoolExecutor's:
 * min(32, cores + 4). */
#define IPOOL_DEFAULT_MAX 32
#define IPOOL_MAX_WORKERS 256
/* Largest argument or result: every worker holds a copy of each. */
#define IPOOL_MAX_PAYLOAD_BYTES (16LL * 1024 * 1024)

struct ipool {
	struct run_ctx *ctx;
	const char *spec_json; /* what every interpreter loads */
	size_t spec_len;
	const unsigned char *arg; /* the caller's argument, payload_bytes */
	int64_t payload_bytes;
	int64_t *submit_ns; /* [task]: written before the task is published */

	pthread_mutex_t mutex;
	pthread_cond_t work; /* queue no longer empty, or closed */
	/* protected by mutex */
	uint32_t submitted, taken;
	uint32_t idle;	   /* workers waiting on work */
	bool closed;	   /* nothing more will be submitted */
	char failure[160]; /* the first interpreter that could not start */
};

/* One worker: a thread and the interpreter it runs. */
struct interp {
	struct ipool *pool;
	struct rec_lane *lane;
	pthread_t thread;
	int64_t startup_t0_ns; /* when its thread was asked for */
	/* the interpreter's own: written by its thread only */
	struct gil *gil;
	struct spec *spec;
	struct program prog;
	unsigned char *arg;    /* the argument, copied in */
	unsigned char *result; /* the result, copied out (the caller's) */
};

/* The interpreter's start: an empty one loads the program it will run.
 * Returns 0, or -errno with pool->failure said. */
static int interp_start(struct interp *w)
{
	struct ipool *pool = w->pool;
	struct spec_error err = {0};
	const struct workload *wl;
	json_error_t jerr;
	json_t *body;
	int rc;

	/* One interpreter, one GIL: InterpreterPoolExecutor is 3.14. */
	w->gil = gil_create(5 * NS_PER_MS, GIL_PYTHON_3_10);
	w->spec = calloc(1, sizeof(*w->spec));
	program_init(&w->prog);
	if (!w->gil || !w->spec)
		return -ENOMEM;
	body = json_loadb(pool->spec_json, pool->spec_len, 0, &jerr);
	if (!body)
		return -EINVAL;
	rc = spec_from_json(body, w->spec, &err);
	json_decref(body);
	wl = rc == 0 ? workload_find(w->spec->workload) : NULL;
	if (!wl)
		return rc < 0 ? rc : -ENOENT;
	rc = wl->build(w->spec, &w->prog, &err);
	if (rc < 0 || w->prog.n_tasks != pool->ctx->prog->n_tasks)
		return rc < 0 ? rc : -EINVAL;
	if (pool->payload_bytes > 0) {
		w->arg = malloc((size_t)pool->payload_bytes);
		w->result = malloc((size_t)pool->payload_bytes);
		if (!w->arg || !w->result)
			return -ENOMEM;
	}
	return 0;
}

static void interp_end(struct interp *w)
{
	free(w->arg);
	free(w->result);
	program_free(&w->prog);
	free(w->spec);
	gil_destroy(w->gil);
}

/* Copies payload_bytes from src to dst as one ipc segment of task. */
static void copy_across(struct interp *w, uint32_t task, unsigned char *dst,
			const unsigned char *src)
{
	int64_t t0;

	if (w->pool->payload_bytes <= 0)
		return;
	t0 = rec_now(w->lane);
	memcpy(dst, src, (size_t)w->pool->payload_bytes);
	rec_segment(w->lane, task, ST_IPC, t0, rec_now(w->lane), 0);
}

/* One task, in the worker's interpreter, from the interpreter's copy of
 * the program. */
static void run_task(struct interp *w, uint32_t task)
{
	struct run_ctx *ctx = w->pool->ctx;
	const struct task_def *def = &w->prog.tasks[task];
	struct exec_ctx x = {
		.run = ctx, .lane = w->lane, .gil = w->gil, .task = task};
	int rc = 0;

	rec_task_start(w->lane, task, rec_now(w->lane));
	sync_task_begin(ctx->sync, task);
	exec_gil_acquire(&x);
	/* The argument, unpickled into this interpreter. */
	copy_across(w, task, w->arg, w->pool->arg);
	for (uint32_t k = 0; k < def->n_steps && rc == 0; k++)
		rc = exec_step(&x, &w->prog.steps[def->first_step + k]);
	/* The result, back to the caller's interpreter. */
	if (rc == 0)
		copy_across(w, task, w->result, w->arg);
	sync_task_end(ctx->sync, task);
	rec_task_end_note(w->lane, task, rec_now(w->lane), exec_status_of(rc),
			  rc == EXEC_RAISED ? REC_NOTE_RAISED : 0);
	exec_gil_release(&x);
}

static void *interp_thread(void *arg)
{
	struct interp *w = arg;
	struct ipool *pool = w->pool;
	struct run_ctx *ctx = pool->ctx;
	bool startup_shown = false;
	int64_t ready_ns;
	int rc;

	rec_lane_os_id(w->lane, gettid());
	rc = interp_start(w);
	ready_ns = rec_now(w->lane);
	pthread_mutex_lock(&pool->mutex);
	if (rc < 0) {
		/* Python raises at the first submit; here the tasks go to
		 * the workers that did start, and the run says why. */
		if (!pool->failure[0])
			snprintf(pool->failure, sizeof(pool->failure),
				 "a worker's interpreter could not start: %s",
				 strerror(-rc));
		pthread_mutex_unlock(&pool->mutex);
		interp_end(w);
		return NULL;
	}
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

		int64_t start_ns = rec_now(w->lane);

		if (!startup_shown) {
			/* The task this start-up held up shows it; a task
			 * submitted before the worker began would wait for
			 * it, not in the queue. */
			if (w->startup_t0_ns > submit_ns)
				rec_segment(w->lane, task, ST_QUEUED, submit_ns,
					    w->startup_t0_ns, 0);
			rec_segment(w->lane, task, ST_STARTUP, w->startup_t0_ns,
				    ready_ns, 0);
			startup_shown = true;
		} else if (start_ns > submit_ns) {
			rec_segment(w->lane, task, ST_QUEUED, submit_ns,
				    start_ns, 0);
		}
		run_task(w, task);
		pthread_mutex_lock(&pool->mutex);
	}
	pthread_mutex_unlock(&pool->mutex);
	interp_end(w);
	return NULL;
}

static uint32_t pool_workers(const struct run_ctx *ctx)
{
	int64_t n = spec_int(&ctx->spec->options, "workers");

	if (n <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		n = (cores > 0 ? cores : 1) + 4;
		if (n > IPOOL_DEFAULT_MAX)
			n = IPOOL_DEFAULT_MAX;
	}
	if ((uint64_t)n > ctx->prog->n_tasks)
		n = ctx->prog->n_tasks ? (int64_t)ctx->prog->n_tasks : 1;
	return (uint32_t)n;
}

static int ipool_run(struct run_ctx *ctx)
{
	const struct program *prog = ctx->prog;
	struct rec_lane *main_lane = ctx->main_lane;
	uint32_t n_workers = pool_workers(ctx);
	struct ipool pool = {.ctx = ctx};
	struct interp *workers = NULL;
	unsigned char *arg = NULL;
	json_t *spec = spec_to_json(ctx->spec);
	char *spec_json = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
	pthread_attr_t attr;
	sigset_t all, old;
	uint32_t started = 0, task;
	int rc = 0;

	json_decref(spec);
	pool.payload_bytes = spec_int(&ctx->spec->options, "payload_bytes");
	pool.submit_ns = calloc(prog->n_tasks ? prog->n_tasks : 1,
				sizeof(*pool.submit_ns));
	workers = calloc(n_workers, sizeof(*workers));
	if (pool.payload_bytes > 0) {
		/* The caller's object, as the pickle it sends. */
		arg = malloc((size_t)pool.payload_bytes);
		if (arg)
			memset(arg, 'p', (size_t)pool.payload_bytes);
	}
	if (!spec_json || !pool.submit_ns || !workers ||
	    (pool.payload_bytes > 0 && !arg)) {
		rc = -ENOMEM;
		snprintf(ctx->message, sizeof(ctx->message),
			 "interpreter-pool: out of memory");
		goto out_free;
	}
	pool.spec_json = spec_json;
	pool.spec_len = strlen(spec_json);
	pool.arg = arg;
	pthread_mutex_init(&pool.mutex, NULL);
	pthread_cond_init(&pool.work, NULL);

	pthread_attr_init(&attr);
	/* An interpreter's frames need more room than a bare task's. */
	pthread_attr_setstacksize(&attr, 4 * EXEC_THREAD_STACK_BYTES);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; started < n_workers; started++) {
		struct interp *w = &workers[started];
		char name[48];
		int err;

		/* As Python names them: InterpreterPoolExecutor-0_N. */
		snprintf(name, sizeof(name), "InterpreterPoolExecutor-0_%u",
			 started);
		w->pool = &pool;
		w->lane = trace_rec_add_lane(ctx->rec, LANE_THREAD, name);
		if (!w->lane) {
			if (started == 0) {
				rc = -ENOSPC;
				snprintf(ctx->message, sizeof(ctx->message),
					 "interpreter-pool: no lane left for "
					 "%s",
					 name);
			}
			break;
		}
		w->startup_t0_ns = rec_now(main_lane);
		err = pthread_create(&w->thread, &attr, interp_thread, w);
		if (err) {
			rc = started ? 0 : -err;
			snprintf(ctx->message, sizeof(ctx->message),
				 "interpreter-pool: cannot start %s: %s", name,
				 strerror(err));
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);

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
	/* Tasks still queued, or never submitted: no interpreter ran them
	 * (the run stopped, or none could start). */
	for (task = pool.taken; task < prog->n_tasks; task++)
		rec_task_end(main_lane, task, rec_now(main_lane),
			     pool.failure[0] ? TASK_ERROR : TASK_CANCELLED, 0);
	if (pool.failure[0] && !ctx->message[0]) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "interpreter-pool: %s", pool.failure);
		if (pool.taken < prog->n_tasks)
			rc = -ECHILD;
	}
	pthread_cond_destroy(&pool.work);
	pthread_mutex_destroy(&pool.mutex);
out_free:
	free(arg);
	free(workers);
	free(pool.submit_ns);
	free(spec_json);
	return rc;
}

/* Interpreters share no objects: a program whose tasks meet on one is
 * refused, naming it.  The field is the program when the user wrote one
 * (custom), the model when the workload's own program shares it. */
static int ipool_check_program(const struct spec *spec,
			       const struct program *prog,
			       struct spec_error *err)
{
	const char *field = spec_find(&spec->params, "program")
				    ? "params.program"
				    : "model";

	for (size_t i = 0; i < prog->n_objects; i++) {
		const struct object_def *o = &prog->objects[i];

		if (o->kind == OBJ_FILE)
			continue;
		util_strlcpy(err->field, field, sizeof(err->field));
		snprintf(err->message, sizeof(err->message),
			 "interpreter-pool: interpreters share no objects, so "
			 "the tasks cannot meet on %s '%s' (each worker "
			 "would have its own); use thread-pool, or "
			 "process-pool, whose objects live in shared memory",
			 object_kind_name((enum object_kind)o->kind), o->name);
		err->column = 0;
		return -EINVAL;
	}
	return 0;
}

static const struct param_def ipool_options[] = {
	{"workers", PARAM_INT, "interpreters", "0", 0, IPOOL_MAX_WORKERS, NULL,
	 "max_workers: worker threads, each with its own interpreter and "
	 "GIL; 0 means min(32, cores + 4), as Python does"},
	{"payload_bytes", PARAM_INT, "bytes", "0", 0,
	 (double)IPOOL_MAX_PAYLOAD_BYTES, NULL,
	 "size of each task's argument and of its result, copied from one "
	 "interpreter to the other"},
};

const struct model_ops model_interpreter_pool = {
	.name = "interpreter-pool",
	.help = "worker threads each running its own interpreter with its own "
		"GIL (InterpreterPoolExecutor, Python 3.14): CPU work on every "
		"core, start-up between a thread's and a process's, nothing "
		"shared",
	.options = ipool_options,
	.n_options = sizeof(ipool_options) / sizeof(ipool_options[0]),
	.max_tasks = 100000,
	.check_program = ipool_check_program,
	.run = ipool_run,
};
