/*
 * summary: what a finished trace means.  Computed from the trace alone (plus
 * the CPU time the run process measured), so a stored trace can be
 * summarised again and every number on the page comes from segments a
 * viewer can see.
 *
 * The diagnosis weighs compute against waiting: a run whose tasks spend most
 * of their time waiting on I/O or sleep is io-bound (recommend asyncio, or
 * threads for few tasks); one that mostly computes is cpu-bound (recommend
 * process-pool, or threads with gil=off); in between, mixed
 * (asyncio-executor).  The sentence says by how much and why.  A run that
 * deadlocked, failed or was cancelled says so first; a deadlock that no
 * model fixes (every task had started) recommends nothing ("").
 */
#ifndef OVERLAP_SUMMARY_H
#define OVERLAP_SUMMARY_H

#include "trace.h"

/* Fills t->summary (keeps t->summary.checks if set) and sets has_summary. */
void summary_compute(struct trace *t);

#endif
