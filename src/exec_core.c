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
#include <unistd.h>

#include "trace_rec.h"
#include "util.h"

/* How often a computation looks at the drop request and the stop flag. */
#define EXEC_SLICE_NS (50 * NS_PER_US)
/* Computations at least this long announce themselves with EV_OPEN. */
#define EXEC_OPEN_MIN_NS NS_PER_MS

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

			rec_segment(lane, x->task, ST_COMPUTE, t_start, t_yield,
				    note);
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

	uint64_t iters = s->n > 0 ? (uint64_t)s->n
				  : cpu_iters_for_ns(&x->run->cpu, s->ns);

	exec_compute(x, iters, 0);
	rc = stopped(x) ? -ECANCELED : 0;
	atomic_fetch_add_explicit(&x->run->progress, 1, memory_order_relaxed);
	return rc;
}
