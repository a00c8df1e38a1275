/*
 * cpu: the real computation behind a cpu step: a sum of squares over a
 * counter, which the compiler cannot fold away because the result is
 * returned and kept.  cpu_calibrate() measures how many iterations one core
 * does per millisecond, so "cpu 20ms" means the work one core does in about
 * 20 ms; the calibration is reported in the trace's host info.  Under
 * contention the same work takes longer, as it would in Python.
 */
#ifndef OVERLAP_CPU_H
#define OVERLAP_CPU_H

#include <stdint.h>

struct cpu_calib {
	double iters_per_ms;
};

/* Measures the rate (about 30 ms of work).  Deterministic enough for
 * teaching; not a benchmark. */
void cpu_calibrate(struct cpu_calib *c);
uint64_t cpu_iters_for_ns(const struct cpu_calib *c, int64_t ns);
/* How much a computation does: a count of iterations as written, or a
 * duration of the calling thread's CPU time.  For a duration the count is
 * only an estimate from the calibration, corrected from the thread's CPU
 * clock as the work goes on: a rate measured at a run's start need not
 * hold for its whole length (a busy neighbour on the same physical core
 * halves it), and "cpu 100ms" then ran 50 ms.  The clock is read every
 * millisecond of work or so, then more often near the end, a few system
 * calls per step. */
struct cpu_work {
	uint64_t iters;	  /* the whole, as now known */
	uint64_t look_at; /* iterations done at the next look at the clock */
	uint64_t slice;	  /* the finest look, the caller's slice */
	int64_t cpu_ns;	  /* the duration; 0: iters is a count */
	int64_t cpu0_ns;  /* the thread's CPU clock at the start */
};
/* n > 0: n iterations; else ns of the calling thread's CPU time. */
void cpu_work_start(struct cpu_work *w, const struct cpu_calib *c, uint64_t n,
		    int64_t ns, uint64_t slice);
/* After done iterations: how many are left (0: the work is done). */
uint64_t cpu_work_left(struct cpu_work *w, uint64_t done);

/* Does iters iterations starting from seed; returns the sum. */
uint64_t cpu_burn(uint64_t iters, uint64_t seed);

#endif
