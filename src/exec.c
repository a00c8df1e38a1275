/*
 * exec: one task's steps, run with blocking calls on the calling thread.
 *
 * The GIL follows CPython: a thread takes it when it starts running the
 * task and holds it while it computes; every wait (sleep, net, and the
 * synchronisation steps) releases it first and takes it back afterwards,
 * which is where gil-wait segments come from besides forced switches.
 * Computation runs in slices of about 50 us of iterations; between slices
 * it checks the run's stop flag and, with a GIL, the drop request, and on a
 * request records the compute so far, yields (a gil-wait segment) and
 * starts a new compute segment.  So the segments of one task on one lane
 * never overlap and the picture is the GIL's real schedule.
 *
 * A sleep waits on the run's stop flag (a futex), so raising stop with
 * exec_stop_wake() ends every sleep at once, with no periodic wake-ups.
 * Segments are recorded when they end; an EV_OPEN hint marks the start of
 * every wait and of every computation long enough for a live viewer to see
 * it grow.
 */
#include "exec.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"
#include "sync.h"
#include "trace.h"
#include "util.h"

/* How often a computation looks at the drop request and the stop flag. */
#define EXEC_SLICE_NS (50 * NS_PER_US)
/* Computations at least this long announce themselves with EV_OPEN. */
#define EXEC_OPEN_MIN_NS NS_PER_MS
/* Longest uninterrupted sleep: the bound on how late a stop raised without
 * exec_stop_wake() is seen. */
#define EXEC_STOP_SLICE_NS (500 * NS_PER_MS)

/* Every computation's result ends here, so none of it is dead code. */
static _Atomic uint64_t exec_sink;

int exec_gil_create(const struct param_set *options, struct gil **out)
{
	*out = NULL;
	if (strcmp(spec_text(options, "gil"), "on") != 0)
		return 0;
	*out = gil_create(spec_ns(options, "switch_interval"));
	return *out ? 0 : -ENOMEM;
}

static bool stopped(const struct exec_ctx *x)
{
	return atomic_load_explicit(&x->run->stop, memory_order_relaxed) != 0;
}

void exec_gil_acquire(struct exec_ctx *x)
{
	if (!x->gil || x->holds_gil)
		return;
	if (!gil_try_acquire(x->gil)) {
		int64_t t0 = rec_now(x->lane);

		rec_open(x->lane, x->task, ST_GIL_WAIT, t0, 0);
		gil_acquire(x->gil);
		rec_segment(x->lane, x->task, ST_GIL_WAIT, t0, rec_now(x->lane),
			    0);
	}
	x->holds_gil = true;
}

void exec_gil_release(struct exec_ctx *x)
{
	if (!x->gil || !x->holds_gil)
		return;
	x->holds_gil = false;
	gil_release(x->gil);
}

static uint64_t slice_iters(const struct exec_ctx *x)
{
	double per_ms = x->run->cpu.iters_per_ms;
	uint64_t n = per_ms > 0 ? (uint64_t)(per_ms * EXEC_SLICE_NS /
					     (double)NS_PER_MS)
				: 10000;

	return n < 256 ? 256 : n;
}

void exec_compute(struct exec_ctx *x, uint64_t iters, uint32_t note)
{
	const struct rec_lane *lane = x->lane;
	uint64_t slice = slice_iters(x);
	uint64_t open_min = slice * (EXEC_OPEN_MIN_NS / EXEC_SLICE_NS);
	uint64_t done = 0, acc = 0;
	int64_t t_start;

	if (iters == 0)
		return;
	t_start = rec_now(lane);
	if (iters >= open_min)
		rec_open(lane, x->task, ST_COMPUTE, t_start, note);
	while (done < iters && !stopped(x)) {
		uint64_t n = iters - done < slice ? iters - done : slice;

		acc ^= cpu_burn(n, done + x->task);
		done += n;
		if (done < iters && x->holds_gil &&
		    gil_drop_requested(x->gil)) {
			/* Another thread waited a whole switch interval:
			 * hand the GIL over, then queue for it again. */
			int64_t t_yield = rec_now(lane);

			rec_segment(lane, x->task, ST_COMPUTE, t_start,
				    t_yield, note);
			rec_open(lane, x->task, ST_GIL_WAIT, t_yield, 0);
			gil_yield(x->gil);
			t_start = rec_now(lane);
			rec_segment(lane, x->task, ST_GIL_WAIT, t_yield,
				    t_start, 0);
			if (iters - done >= open_min)
				rec_open(lane, x->task, ST_COMPUTE, t_start,
					 note);
		}
	}
	rec_segment(lane, x->task, ST_COMPUTE, t_start, rec_now(lane), note);
	atomic_fetch_xor_explicit(&exec_sink, acc, memory_order_relaxed);
}

void exec_stop_wake(_Atomic int *stop)
{
	/* Not FUTEX_PRIVATE: the flag may sit in memory shared with worker
	 * processes. */
	syscall(SYS_futex, (int *)stop, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Sleeps until the absolute monotonic time deadline_ns or until the run is
 * stopped, whichever is first.  The sleep is a futex wait on the stop flag
 * itself, so a stop raised with exec_stop_wake() ends it at once and ten
 * thousand sleeping threads cost no wake-ups; a stop raised without the
 * wake is still seen within EXEC_STOP_SLICE_NS.  Returns 0 or
 * -ECANCELED. */
static int sleep_until(struct exec_ctx *x, int64_t deadline_ns)
{
	_Atomic int *stop = &x->run->stop;

	for (;;) {
		if (atomic_load_explicit(stop, memory_order_acquire))
			return -ECANCELED;
		int64_t now = util_mono_ns();

		if (now >= deadline_ns)
			return 0;
		int64_t until = deadline_ns - now > EXEC_STOP_SLICE_NS
					? now + EXEC_STOP_SLICE_NS
					: deadline_ns;
		struct timespec ts = {.tv_sec = until / NS_PER_S,
				      .tv_nsec = until % NS_PER_S};

		/* Returns at once if the flag is no longer 0; EINTR,
		 * ETIMEDOUT and spurious wake-ups all just go round. */
		syscall(SYS_futex, (int *)stop, FUTEX_WAIT_BITSET, 0, &ts,
			NULL, FUTEX_BITSET_MATCH_ANY);
	}
}

static int step_cpu(struct exec_ctx *x, const struct step *s)
{
	uint64_t iters = s->n > 0 ? (uint64_t)s->n
				  : cpu_iters_for_ns(&x->run->cpu, s->ns);

	exec_compute(x, iters, 0);
	return stopped(x) ? -ECANCELED : 0;
}

static int step_sleep(struct exec_ctx *x, const struct step *s)
{
	int64_t t0, t1;
	int rc;

	if (s->ns <= 0)
		return 0;
	exec_gil_release(x);
	t0 = rec_now(x->lane);
	rec_open(x->lane, x->task, ST_SLEEP, t0, 0);
	rc = sleep_until(x, x->lane->epoch_ns + t0 + s->ns);
	t1 = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_SLEEP, t0, t1, 0);
	exec_gil_acquire(x);
	return rc;
}

/* A request as the requests library makes one: a connection of its own
 * (the connect segment), then the request and the wait for the whole
 * reply (io).  The reply is due the step's duration after the request
 * went out, and the request says so, so time the peer spent getting to it
 * does not lengthen the wait. */
static int step_net(struct exec_ctx *x, const struct step *s)
{
	_Atomic int *stop = &x->run->stop;
	int64_t t0, t1, t2;
	int fd, rc;

	exec_gil_release(x);
	t0 = rec_now(x->lane);
	rec_open(x->lane, x->task, ST_CONNECT, t0, 0);
	fd = peer_open(x->run->peer_port, INT64_MAX, stop);
	t1 = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_CONNECT, t0, t1, 0);
	if (fd < 0) {
		rc = fd;
		goto out_gil;
	}
	rec_open(x->lane, x->task, ST_IO, t1, 0);
	rc = peer_exchange(fd, x->lane->epoch_ns + t1 + (s->ns > 0 ? s->ns : 0),
			   s->aux > 0 ? s->aux : 0, INT64_MAX, stop);
	t2 = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_IO, t1, t2, 0);
out_gil:
	exec_gil_acquire(x);
	return rc;
}

int exec_step(struct exec_ctx *x, const struct step *s)
{
	int rc;

	if (stopped(x))
		return -ECANCELED;
	switch ((enum step_kind)s->kind) {
	case STEP_CPU:
		rc = step_cpu(x, s);
		break;
	case STEP_SLEEP:
		rc = step_sleep(x, s);
		break;
	case STEP_NET:
		rc = step_net(x, s);
		break;
	default:
		/* Files and the synchronisation steps: sync.h says which. */
		rc = sync_handles(s->kind) ? sync_exec_step(x, s) : -ENOTSUP;
		break;
	}
	atomic_fetch_add_explicit(&x->run->progress, 1, memory_order_relaxed);
	return rc;
}

enum task_status exec_status_of(int rc)
{
	switch (rc) {
	case 0:
		return TASK_OK;
	case -ECANCELED:
		return TASK_CANCELLED;
	case -ETIMEDOUT:
		return TASK_TIMEOUT;
	default:
		return TASK_ERROR;
	}
}

enum task_status exec_task(struct exec_ctx *x)
{
	const struct task_def *task = &x->run->prog->tasks[x->task];
	const struct step *steps = x->run->prog->steps + task->first_step;
	int rc = 0;

	rec_task_start(x->lane, x->task, rec_now(x->lane));
	/* The deadlock watchdog counts the tasks that run (sync.h). */
	sync_task_begin(x->run->sync, x->task);
	/* A Python thread needs the GIL before it runs any code. */
	exec_gil_acquire(x);
	for (uint32_t i = 0; i < task->n_steps && rc == 0; i++)
		rc = exec_step(x, &steps[i]);
	enum task_status st = exec_status_of(rc);

	sync_task_end(x->run->sync, x->task);
	rec_task_end(x->lane, x->task, rec_now(x->lane), st, 0);
	exec_gil_release(x);
	return st;
}
