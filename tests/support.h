/*
 * support: the helpers the engine's tests share, written once: run a
 * workload end to end (run_case, run_into), say what a run must have done
 * (assert_status, assert_done, assert_recorded), and read the trace's
 * structure (count_segments, intervals_of, max_overlap, note_of).
 *
 * They fail the current cmocka test with a message saying why (the spec
 * error, the run's status and message) rather than returning an error,
 * so a test reads as the property it checks.  They take the short names
 * the tests have always used, in cmocka's assert_ style.
 */
#ifndef OVERLAP_TEST_SUPPORT_H
#define OVERLAP_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "run.h"
#include "spec.h"
#include "trace.h"

/* One --set: key=value (NULL key ends a list). */
struct kv {
	const char *key;
	const char *value;
};

/* Runs workload under model with sets (NULL-ended, or NULL) into t (not
 * yet initialised), with hooks (or NULL).  Fails the test when the spec is
 * refused or the run cannot start; the run's status is the caller's to
 * check.  The caller frees t with trace_free(). */
void run_into(const char *workload, const char *model, const struct kv *sets,
	      const struct run_hooks *hooks, struct trace *t);
/* The same into a new trace, freed with free_trace(). */
struct trace *run_case(const char *workload, const char *model,
		       const struct kv *sets);
void free_trace(struct trace *t);

/* The run ended with status want (its message printed when not). */
void assert_status(const struct trace *t, enum run_status want);
/* The run recorded what a run does: lanes, tasks, and segments. */
void assert_recorded(const struct trace *t);
/* Done, every task ok, and something recorded (assert_recorded). */
void assert_done(const struct trace *t);

/* The note of segment s ("" when none). */
const char *note_of(const struct trace *t, const struct trace_segment *s);
/* Segments in state st, of task (any with task < 0), with note (any with
 * NULL). */
size_t count_segments(const struct trace *t, long task, enum seg_state st,
		      const char *note);

/* [t0, t1) of a segment. */
struct interval {
	int64_t t0, t1;
};

/* The segments in state st of task (any with task < 0), in trace order: a
 * new array (free()) of *n intervals. */
struct interval *intervals_of(const struct trace *t, enum seg_state st,
			      long task, size_t *n);
/* The most intervals open at one instant (half open: one that ends where
 * another starts does not overlap it). */
size_t max_overlap(const struct interval *iv, size_t n);

#endif
