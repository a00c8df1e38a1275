/*
 * cpu: the computation behind a cpu step, and its calibration.
 *
 * The work is a sum of squares.  An empty asm statement that claims to
 * change the accumulator stops the compiler from replacing the loop with
 * its closed form or vectorising it away, so one iteration is always the
 * same few instructions and the rate is stable.
 *
 * Calibration runs about ten short rounds and keeps the median rate.  The
 * fastest round overstates what a core sustains (clock boost at the start
 * of a burst; "cpu 200ms" then took 5-10% longer); the median is what the
 * next few hundred milliseconds of work will most likely see.  Each round
 * is timed by the thread's own CPU clock, not the wall clock: on a machine
 * busy with other work a round measured by the wall includes the time the
 * thread waited for a core, and "cpu 20ms" then became a fraction of 20 ms
 * of work (a third at a load average of 11 on 2 cores), so a run's
 * computations shrank with the load while CPython's, calibrated against
 * its thread's CPU time too, did not.  Time off the core is the runnable
 * state's to show (exec_core.h), not the work's.
 *
 * Even so the calibrated rate is only where a step starts: the step itself
 * runs until its thread's CPU clock has advanced by its duration
 * (struct cpu_work, at the end of this file), since the rate moves while
 * a run goes on.
 */
#include "cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

/* Calibration: about 30 ms of CPU time in all, in rounds of about 3 ms;
 * on a machine so busy that those take long, it stops after 60 ms of wall
 * time (a run pays for it before it starts), which still leaves several
 * rounds for the median. */
#define CALIB_TOTAL_NS (30 * NS_PER_MS)
#define CALIB_WALL_MAX_NS (60 * NS_PER_MS)
#define CALIB_ROUND_NS (3 * NS_PER_MS)
#define CALIB_FIRST_ITERS 100000ULL
#define CALIB_ROUNDS_MAX 64

/* Where calibration leaves its result, so no round is dead code. */
static _Atomic uint64_t calib_sink;

uint64_t cpu_burn(uint64_t iters, uint64_t seed)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t x = seed + i;

		sum += x * x;
		/* Opaque to the optimiser: keeps one real multiply-add per
		 * iteration. */
		__asm__ volatile("" : "+r"(sum));
	}
	return sum;
}

/* The calling thread's CPU time; the wall clock where there is none. */
static int64_t cpu_clock_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return util_mono_ns();
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int rate_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void cpu_calibrate(struct cpu_calib *c)
{
	double rates[CALIB_ROUNDS_MAX];
	size_t n = 0;
	uint64_t iters = CALIB_FIRST_ITERS;
	uint64_t keep = 0;
	int64_t start_ns = util_mono_ns();
	int64_t start_cpu_ns = cpu_clock_ns();

	/* The first round also warms the core up and sizes the others. */
	while (n < CALIB_ROUNDS_MAX) {
		int64_t t0 = cpu_clock_ns();
		keep ^= cpu_burn(iters, keep & 0xff);
		int64_t t1 = cpu_clock_ns();
		double rate = (double)iters / (double)(t1 > t0 ? t1 - t0 : 1);

		rates[n++] = rate;
		if (t1 - start_cpu_ns >= CALIB_TOTAL_NS ||
		    util_mono_ns() - start_ns >= CALIB_WALL_MAX_NS)
			break;
		iters = (uint64_t)(rate * CALIB_ROUND_NS);
		if (iters < 1000)
			iters = 1000;
	}
	atomic_store_explicit(&calib_sink, keep, memory_order_relaxed);
	qsort(rates, n, sizeof(rates[0]), rate_cmp);
	c->iters_per_ms = rates[n / 2] * (double)NS_PER_MS;
}

uint64_t cpu_iters_for_ns(const struct cpu_calib *c, int64_t ns)
{
	if (ns <= 0)
		return 0;
	double iters = c->iters_per_ms * (double)ns / (double)NS_PER_MS;
	if (iters < 1.0)
		return 1;
	return (uint64_t)(iters + 0.5);
}

/* Looks at the clock at most this many slices apart. */
#define WORK_LOOK_SLICES 20

void cpu_work_start(struct cpu_work *w, const struct cpu_calib *c, uint64_t n,
		    int64_t ns, uint64_t slice)
{
	w->slice = slice > 0 ? slice : 1;
	w->cpu_ns = n > 0 ? 0 : ns;
	w->iters = n > 0 ? n : cpu_iters_for_ns(c, ns);
	w->cpu0_ns = w->cpu_ns > 0 ? cpu_clock_ns() : 0;
	w->look_at = w->iters < WORK_LOOK_SLICES * w->slice
			     ? w->iters
			     : WORK_LOOK_SLICES * w->slice;
}

uint64_t cpu_work_left(struct cpu_work *w, uint64_t done)
{
	if (w->cpu_ns > 0 && done >= w->look_at) {
		int64_t used = cpu_clock_ns() - w->cpu0_ns;

		if (used >= w->cpu_ns) {
			w->iters = done;
		} else {
			/* The rate this computation has had so far. */
			double per_ns = used > 0 ? (double)done / (double)used
						 : 0.0;
			uint64_t more =
				per_ns > 0.0 ? (uint64_t)((double)(w->cpu_ns -
								   used) *
							  per_ns) +
						       1
					     : w->slice;
			uint64_t gap = more / 2;

			if (gap < w->slice)
				gap = w->slice;
			if (gap > WORK_LOOK_SLICES * w->slice)
				gap = WORK_LOOK_SLICES * w->slice;
			w->iters = done + more;
			w->look_at = done + (gap < more ? gap : more);
		}
	}
	return w->iters > done ? w->iters - done : 0;
}
