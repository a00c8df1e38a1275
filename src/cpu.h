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
/* Does iters iterations starting from seed; returns the sum. */
uint64_t cpu_burn(uint64_t iters, uint64_t seed);

#endif
