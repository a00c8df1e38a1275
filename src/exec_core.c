/*
 * exec_core: what a task that runs on its own thread needs below its
 * steps: the GIL taken and released around waits, computation in slices,
 * and waking the sleepers when the run stops.  exec.c's steps and the
 * blocking half of the shared objects (sync_block.c) both stand on it.
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
 */
#include "exec_core.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "trace_rec.h"
#include "util.h"

/* How often a computation looks at the drop request and the stop flag. */
#define EXEC_SLICE_NS (50 * NS_PER_US)
/* Computations at least this long announce themselves with EV_OPEN. */
#define EXEC_OPEN_MIN_NS NS_PER_MS
/* A slice of computation that took this long or more in wall time (four
 * times its usual length) may have lost its core: the thread's CPU clock
 * is read to tell.  Less time off the core than this is not recorded. */
#define RUNNABLE_MIN_NS (200 * NS_PER_US)
/* The CPU clock is read at least this often while watching, so the small
 * gaps (interrupts) that add up between two looks stay small. */
#define RUNWATCH_REBASE_NS (100 * NS_PER_MS)

/* Every computation's result ends here, so none of it is dead code. */
static _Atomic uint64_t exec_sink;

int exec_gil_create(const struct param_set *options, struct gil **out)
{
	*out = NULL;
	if (strcmp(spec_text(options, "gil"), "on") != 0)
		return 0;
	*out = gil_create(spec_ns(options, "switch_interval"),
			  strcmp(spec_text(options, "python"), "3.9") == 0
				  ? GIL_PYTHON_3_9
				  : GIL_PYTHON_3_10);
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
	uint64_t n =
		per_ms > 0
			? (uint64_t)(per_ms * EXEC_SLICE_NS / (double)NS_PER_MS)
			: 10000;

	return n < 256 ? 256 : n;
}

/* The calling thread's CPU time, or -1. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void exec_runwatch_start(struct exec_runwatch *w, int64_t now_ns, bool watch)
{
	w->wall_ns = w->base_wall_ns = now_ns;
	w->base_cpu_ns = watch ? thread_cpu_ns() : -1;
}

int64_t exec_runwatch_look(struct exec_runwatch *w, int64_t now_ns)
{
	int64_t slice_ns = now_ns - w->wall_ns, cpu_ns, off_ns = 0;

	w->wall_ns = now_ns;
	if (w->base_cpu_ns < 0 ||
	    (slice_ns < RUNNABLE_MIN_NS &&
	     now_ns - w->base_wall_ns < RUNWATCH_REBASE_NS))
		return 0;
	/* A system call (about 2 us here), so only when a slice ran long
	 * or the base is old. */
	cpu_ns = thread_cpu_ns();
	if (cpu_ns < 0) {
		w->base_cpu_ns = -1;
		return 0;
	}
	if (slice_ns >= RUNNABLE_MIN_NS) {
		/* Wall time the thread was not on a core since the base:
		 * nearly all of it in this slice, the rest the small gaps
		 * before it. */
		off_ns = (now_ns - w->base_wall_ns) - (cpu_ns - w->base_cpu_ns);
		if (off_ns > slice_ns)
			off_ns = slice_ns;
		if (off_ns < RUNNABLE_MIN_NS)
			off_ns = 0;
	}
	w->base_wall_ns = now_ns;
	w->base_cpu_ns = cpu_ns;
	return off_ns;
}

void exec_compute(struct exec_ctx *x, uint64_t n, int64_t ns, uint32_t note)
{
	const struct rec_lane *lane = x->lane;
	uint64_t slice = slice_iters(x);
	uint64_t open_min = slice * (EXEC_OPEN_MIN_NS / EXEC_SLICE_NS);
	uint64_t done = 0, acc = 0, left, iters;
	struct exec_runwatch rw;
	struct cpu_work work;
	int64_t t_start;

	cpu_work_start(&work, &x->run->cpu, n, ns, slice);
	iters = work.iters;
	if (iters == 0)
		return;
	t_start = rec_now(lane);
	if (iters >= open_min)
		rec_open(lane, x->task, ST_COMPUTE, t_start, note);
	/* Computations of a few slices and up are watched for time off
	 * the core (runnable); below that the clock would cost more than
	 * what it could show. */
	exec_runwatch_start(&rw, t_start, iters >= 4 * slice);
	while ((left = cpu_work_left(&work, done)) > 0 && !stopped(x)) {
		uint64_t k = left < slice ? left : slice;
		int64_t s0 = rw.wall_ns, off;

		acc ^= cpu_burn(k, done + x->task);
		done += k;
		iters = work.iters;
		off = exec_runwatch_look(&rw, rec_now(lane));
		if (off > 0) {
			/* The thread could run but waited for a core.  Where
			 * in the slice it lost the core is known only to
			 * within the slice (about 50 us): shown at its
			 * start. */
			if (s0 > t_start)
				rec_segment(lane, x->task, ST_COMPUTE, t_start,
					    s0, note);
			rec_segment(lane, x->task, ST_RUNNABLE, s0, s0 + off,
				    REC_NOTE_CPU_CLOCK);
			t_start = s0 + off;
			if (x->open_t0_ns)
				atomic_store_explicit(x->open_t0_ns, t_start,
						      memory_order_relaxed);
			if (iters - done >= open_min)
				rec_open(lane, x->task, ST_COMPUTE, t_start,
					 note);
		}
		if (done < iters && x->holds_gil &&
		    gil_drop_requested(x->gil)) {
			/* Another thread waited a whole switch interval:
			 * hand the GIL over, then queue for it again. */
			int64_t t_yield = rec_now(lane);

			rec_segment(lane, x->task, ST_COMPUTE, t_start, t_yield,
				    note);
			rec_open(lane, x->task, ST_GIL_WAIT, t_yield, 0);
			gil_yield(x->gil);
			t_start = rec_now(lane);
			rec_segment(lane, x->task, ST_GIL_WAIT, t_yield,
				    t_start, 0);
			exec_runwatch_start(&rw, t_start, rw.base_cpu_ns >= 0);
			if (x->open_t0_ns)
				atomic_store_explicit(x->open_t0_ns, t_start,
						      memory_order_relaxed);
			if (iters - done >= open_min)
				rec_open(lane, x->task, ST_COMPUTE, t_start,
					 note);
		}
	}
	rec_segment(lane, x->task, ST_COMPUTE, t_start, rec_now(lane), note);
	atomic_fetch_xor_explicit(&exec_sink, acc, memory_order_relaxed);
}

void exec_busy_until(struct run_ctx *run, const struct rec_lane *lane,
		     int64_t until_ns)
{
	/* Slices of a tenth of the usual: start-ups are short, and their end
	 * should not overshoot by much. */
	double per_ms = run->cpu.iters_per_ms;
	uint64_t slice = per_ms > 0 ? (uint64_t)(per_ms * EXEC_SLICE_NS /
						 (10.0 * NS_PER_MS))
				    : 1000;
	uint64_t acc = 0, done = 0;

	if (slice < 64)
		slice = 64;
	while (rec_now(lane) < until_ns &&
	       !atomic_load_explicit(&run->stop, memory_order_relaxed)) {
		acc ^= cpu_burn(slice, done);
		done += slice;
	}
	atomic_fetch_xor_explicit(&exec_sink, acc, memory_order_relaxed);
}

void exec_startup(struct exec_ctx *x, int64_t ns, int64_t *t0_ns,
		  int64_t *t1_ns)
{
	exec_gil_acquire(x);
	*t0_ns = rec_now(x->lane);
	exec_busy_until(x->run, x->lane, *t0_ns + ns);
	*t1_ns = rec_now(x->lane);
	exec_gil_release(x);
}

void exec_stop_wake(_Atomic int *stop)
{
	/* Not FUTEX_PRIVATE: the flag may sit in memory shared with worker
	 * processes. */
	syscall(SYS_futex, (int *)stop, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
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

int exec_cpu_step(struct exec_ctx *x, const struct step *s)
{
	int rc;

	if (stopped(x))
		return -ECANCELED;

	exec_compute(x, s->n > 0 ? (uint64_t)s->n : 0, s->ns, 0);
	rc = stopped(x) ? -ECANCELED : 0;
	atomic_fetch_add_explicit(&x->run->progress, 1, memory_order_relaxed);
	return rc;
}
