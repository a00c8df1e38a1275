/*
 * gil: CPython's global interpreter lock, as CPython 3.2+ runs it.
 *
 * One thread computes at a time.  sleep and net steps release the lock.
 * Once a thread has waited switch_interval for the lock with no switch, a
 * drop request is up; the holder checks it at its next check point (every
 * few microseconds of computation), releases, and does not take the lock
 * again until another thread has (a forced switch).  Time spent waiting
 * is recorded as a gil-wait segment by the caller of gil_acquire().
 */
#ifndef OVERLAP_GIL_H
#define OVERLAP_GIL_H

#include <stdbool.h>
#include <stdint.h>

struct gil;

struct gil *gil_create(int64_t switch_interval_ns);
void gil_destroy(struct gil *g);

/* Blocks until the calling thread holds the GIL.  Returns how long it
 * waited, in ns (0 when it was free). */
int64_t gil_acquire(struct gil *g);
/* Takes the GIL only if it is free, without waiting; true when taken
 * (lets a caller record a gil-wait only for a real wait). */
bool gil_try_acquire(struct gil *g);
void gil_release(struct gil *g);
/* Cheap: true when a waiter asked the holder to drop the GIL. */
bool gil_drop_requested(struct gil *g);
/* The holder honours a drop request: releases, waits until another thread
 * has taken the GIL, and takes it again.  Returns the ns spent waiting. */
int64_t gil_yield(struct gil *g);

#endif
