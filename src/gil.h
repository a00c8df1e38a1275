/*
 * gil: CPython's global interpreter lock, as CPython 3.2+ runs it.
 *
 * One thread computes at a time.  sleep and net steps release the lock.
 * Once a thread has waited switch_interval for the lock with no switch, a
 * drop request is up; the holder checks it at its next check point (every
 * few microseconds of computation), releases, and does not take the lock
 * again until another thread has (a forced switch).  Time spent waiting
 * is recorded as a gil-wait segment by the caller of gil_acquire().
 *
 * Where the check points are depends on the interpreter's version, which
 * the GIL carries (gil_checks_every_instruction()): CPython 3.9 and
 * earlier look for a drop request before almost every bytecode, 3.10 and
 * later only at a backward jump (a loop's turn), a function's entry and
 * the return of most calls.
 */
#ifndef OVERLAP_GIL_H
#define OVERLAP_GIL_H

#include <stdbool.h>
#include <stdint.h>

struct gil;

/* The interpreters whose check points differ (option python). */
enum gil_python {
	GIL_PYTHON_3_10, /* 3.10 and later: loops, calls, function entries */
	GIL_PYTHON_3_9,	 /* 3.9 and earlier: almost every instruction */
};

struct gil *gil_create(int64_t switch_interval_ns, enum gil_python python);
void gil_destroy(struct gil *g);

/* Blocks until the calling thread holds the GIL.  Returns how long it
 * waited, in ns (0 when it was free). */
int64_t gil_acquire(struct gil *g);
/* Takes the GIL only if it is free, without waiting; true when taken
 * (lets a caller record a gil-wait only for a real wait). */
bool gil_try_acquire(struct gil *g);
void gil_release(struct gil *g);
/* True when a drop request can be honoured between any two bytecodes
 * (3.9), so a forced switch may split `counter += 1` between its read and
 * its write; false when only loops and calls are check points (3.10+). */
bool gil_checks_every_instruction(const struct gil *g);
/* Cheap: true when a waiter asked the holder to drop the GIL. */
bool gil_drop_requested(struct gil *g);
/* The holder honours a drop request: releases, waits until another thread
 * has taken the GIL, and takes it again.  Returns the ns spent waiting. */
int64_t gil_yield(struct gil *g);

#endif
