/*
 * summary: what a finished trace means.  Computed from the trace alone (plus
 * the CPU time the run process measured), so a stored trace can be
 * summarised again and every number on the page comes from segments a
 * viewer can see.
 *
 * The diagnosis of what the figures mean is diagnosis.h's.
 */
#ifndef OVERLAP_SUMMARY_H
#define OVERLAP_SUMMARY_H

#include "trace.h"

/* Fills t->summary (keeps t->summary.checks if set) and sets has_summary. */
void summary_compute(struct trace *t);

#endif
