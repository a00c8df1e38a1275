/*
 * diagnosis: what a summarised trace means.  The diagnosis weighs
 * compute against waiting: a run whose tasks spend most of their time
 * waiting on I/O or sleep is io-bound (recommend asyncio, or threads for
 * few tasks); one that mostly computes is cpu-bound (recommend
 * process-pool, or threads with gil=off); in between, mixed
 * (asyncio-executor).  The sentence says by how much and why.  A run that
 * deadlocked, failed or was cancelled says so first; a deadlock that no
 * model fixes (every task had started) recommends nothing ("").
 */
#ifndef OVERLAP_DIAGNOSIS_H
#define OVERLAP_DIAGNOSIS_H

#include "trace.h"

/* Sets t->summary's bound, recommend, advice and why from the figures
 * summary_compute() has set in it, the segments and the run's program. */
void diagnosis_compute(struct trace *t);

#endif
