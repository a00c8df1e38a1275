/*
 * model_threads: one thread per task, as `threading.Thread(target=...)`
 * for every task, then `join()` on each.
 *
 * The main thread makes a lane and a thread for every task in submission
 * order, then joins them all; each thread records its kernel tid on its
 * lane.  With gil=on all threads share one struct gil (gil.h), so CPU work
 * runs one thread at a time and waits overlap; with gil=off nothing
 * serialises them but the cores.  Threads start with every signal blocked:
 * signals are the CLI's business, on the main thread.
 *
 * Starting 10,000 threads is the cost this model shows, so the stacks are
 * small (exec.h) and come from one mapping made up front: glibc would map,
 * guard and later unmap each one, three system calls and a TLB shootdown
 * per thread.  Each stack keeps a guard page below it, installed with
 * MADV_GUARD_INSTALL where the kernel has it (6.13+, no new mappings) and
 * with mprotect() otherwise.
 *
 * With costs=python a thread first runs CPython's bootstrap (computing
 * for the measured thread start, holding the GIL), recorded as its task's
 * startup segment, and the main thread waits for it before it starts the
 * next one: Thread.start() returns only once the new thread runs.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exec.h"
#include "model.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* The stacks of all task threads: count slots of a guard page and
 * EXEC_THREAD_STACK_BYTES of stack each. */
struct stack_region {
	char *base;
	size_t guard_bytes;
	size_t stride;
	size_t map_bytes;
};

static int stacks_create(struct stack_region *r, size_t count)
{
	long page = sysconf(_SC_PAGESIZE);
	bool madvise_ok = true;

	r->guard_bytes = page > 0 ? (size_t)page : 4096;
	r->stride = r->guard_bytes + EXEC_THREAD_STACK_BYTES;
	r->map_bytes = r->stride * (count ? count : 1);
	r->base = mmap(NULL, r->map_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		       -1, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		return -errno;
	}
	for (size_t i = 0; i < count; i++) {
		char *guard = r->base + i * r->stride;

		if (madvise_ok &&
		    madvise(guard, r->guard_bytes, MADV_GUARD_INSTALL) == 0)
			continue;
		madvise_ok = false;
		if (mprotect(guard, r->guard_bytes, PROT_NONE) < 0) {
			int rc = -errno;

			munmap(r->base, r->map_bytes);
			r->base = NULL;
			return rc;
		}
	}
	return 0;
}

static void *stack_at(const struct stack_region *r, size_t i)
{
	return r->base + i * r->stride + r->guard_bytes;
}

static void stacks_destroy(struct stack_region *r)
{
	if (r->base)
		munmap(r->base, r->map_bytes);
}

struct task_thread {
	struct exec_ctx x;
	sem_t *started; /* costs=python: posted after the bootstrap */
};

static void *task_thread(void *arg)
{
	struct task_thread *tt = arg;
	struct exec_ctx *x = &tt->x;

	rec_lane_os_id(x->lane, gettid());
	if (tt->started) {
		int64_t t0, t1;

		exec_startup(x, x->run->python.thread_start_ns, &t0, &t1);
		rec_segment(x->lane, x->task, ST_STARTUP, t0, t1, 0);
		sem_post(tt->started);
	}
	exec_task(x);
	return NULL;
}

static int threads_run(struct run_ctx *ctx)
{
	const struct program *prog = ctx->prog;
	struct rec_lane *main_lane = ctx->main_lane;
	struct stack_region stacks = {0};
	struct task_thread *xs;
	sem_t started;
	pthread_t *threads;
	pthread_attr_t attr;
	struct gil *gil;
	sigset_t all, old;
	uint32_t created = 0, create_failed = 0;
	int rc;

	rc = exec_gil_create(&ctx->spec->options, &gil);
	if (rc < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "threads: cannot create the GIL");
		return rc;
	}
	xs = calloc(prog->n_tasks ? prog->n_tasks : 1, sizeof(*xs));
	threads = calloc(prog->n_tasks ? prog->n_tasks : 1, sizeof(*threads));
	if (!xs || !threads) {
		rc = -ENOMEM;
		snprintf(ctx->message, sizeof(ctx->message),
			 "threads: out of memory for %zu threads",
			 prog->n_tasks);
		goto out_free;
	}
	rc = stacks_create(&stacks, prog->n_tasks);
	if (rc < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "threads: cannot map stacks for %zu threads: %s",
			 prog->n_tasks, strerror(-rc));
		goto out_free;
	}
	sem_init(&started, 0, 0);
	pthread_attr_init(&attr);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);

	/* Threads exist for tasks [0, created). */
	while (created < prog->n_tasks && !atomic_load(&ctx->stop)) {
		uint32_t task = created;
		char name[32];

		snprintf(name, sizeof(name), "Thread-%u", task + 1);
		struct rec_lane *lane =
			trace_rec_add_lane(ctx->rec, LANE_THREAD, name);

		if (!lane) {
			rc = -ENOSPC;
			snprintf(ctx->message, sizeof(ctx->message),
				 "threads: no lane left for %s", name);
			break;
		}
		xs[task] = (struct task_thread){
			.x = {.run = ctx,
			      .lane = lane,
			      .gil = gil,
			      .task = task},
			.started = ctx->charge_python ? &started : NULL};
		rec_task_submit(main_lane, task, rec_now(main_lane));
		pthread_attr_setstack(&attr, stack_at(&stacks, task),
				      EXEC_THREAD_STACK_BYTES);
		int err = pthread_create(&threads[task], &attr, task_thread,
					 &xs[task]);

		if (err) {
			/* Python raises "can't start new thread" here; the
			 * threads already running still finish. */
			rc = -err;
			snprintf(ctx->message, sizeof(ctx->message),
				 "threads: cannot start %s: %s (%u threads "
				 "running)",
				 name, strerror(err), created);
			rec_task_end(main_lane, task, rec_now(main_lane),
				     TASK_ERROR, 0);
			create_failed = 1;
			break;
		}
		created++;
		/* Thread.start() waits until the thread runs. */
		if (ctx->charge_python)
			while (sem_wait(&started) < 0 && errno == EINTR)
				;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);

	/* The interpreter joins every thread but the daemons at exit; then
	 * the daemons stop where they are: the run is done, they are
	 * cancelled. */
	for (uint32_t i = 0; i < created; i++)
		if (!(prog->tasks[i].flags & TASK_F_DAEMON))
			pthread_join(threads[i], NULL);
	for (uint32_t i = 0; i < created; i++) {
		int none = 0;

		if (!(prog->tasks[i].flags & TASK_F_DAEMON))
			continue;
		if (atomic_compare_exchange_strong(&ctx->stop, &none, RUN_DONE))
			exec_stop_wake(&ctx->stop);
		pthread_join(threads[i], NULL);
	}
	/* Tasks that never got a thread (the one that failed has ended). */
	for (uint32_t i = created + create_failed; i < prog->n_tasks; i++)
		rec_task_end(main_lane, i, rec_now(main_lane), TASK_CANCELLED,
			     0);
	stacks_destroy(&stacks);
	sem_destroy(&started);

out_free:
	free(threads);
	free(xs);
	gil_destroy(gil);
	return rc;
}

static const struct param_def threads_options[] = {
	EXEC_GIL_OPTIONS,
	COSTS_OPTION,
};

const struct model_ops model_threads = {
	.name = "threads",
	.help = "one thread per task (threading.Thread), started together "
		"and joined",
	.options = threads_options,
	.n_options = sizeof(threads_options) / sizeof(threads_options[0]),
	.max_tasks = 10000,
	.lane_per_task = true,
	.run = threads_run,
};
