/*
 * gil: CPython's "new GIL" (3.2+) as a mutex, two condition variables and
 * an atomic drop request.
 *
 * A thread that finds the GIL taken waits on gil_released for one switch
 * interval at a time.  When an interval passes with no switch at all
 * (switch_number unchanged), it sets drop_requested; the holder sees the
 * flag at its next check point and calls gil_yield().  gil_yield() is
 * CPython's FORCE_SWITCHING: after releasing, the holder waits on
 * gil_taken until another thread has taken the GIL, so a thread in a tight
 * loop cannot simply win the lock back before the waiter wakes up.  The
 * thread that takes the GIL clears the drop request.
 *
 * One mutex guards everything but drop_requested, which the holder polls
 * without the mutex (relaxed: a late read only delays the switch by one
 * check point).  Condition variables use CLOCK_MONOTONIC so a clock change
 * cannot stretch an interval.
 */
#include "gil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

struct gil {
	pthread_mutex_t mutex;
	pthread_cond_t gil_released; /* signalled when locked goes false */
	pthread_cond_t gil_taken;    /* broadcast when someone takes it */
	int64_t interval_ns;

	/* protected by mutex */
	bool locked;
	uint64_t switch_number; /* counts acquisitions */
	uint32_t waiters;	/* threads blocked in gil_acquire */

	_Atomic bool drop_requested;
};

struct gil *gil_create(int64_t switch_interval_ns)
{
	struct gil *g = calloc(1, sizeof(*g));
	pthread_condattr_t attr;

	if (!g)
		return NULL;
	g->interval_ns = switch_interval_ns > 0 ? switch_interval_ns
						: 5 * NS_PER_MS;
	if (pthread_condattr_init(&attr))
		goto out_free;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&g->mutex, NULL))
		goto out_attr;
	if (pthread_cond_init(&g->gil_released, &attr))
		goto out_mutex;
	if (pthread_cond_init(&g->gil_taken, &attr))
		goto out_released;
	pthread_condattr_destroy(&attr);
	atomic_init(&g->drop_requested, false);
	return g;

out_released:
	pthread_cond_destroy(&g->gil_released);
out_mutex:
	pthread_mutex_destroy(&g->mutex);
out_attr:
	pthread_condattr_destroy(&attr);
out_free:
	free(g);
	return NULL;
}

void gil_destroy(struct gil *g)
{
	if (!g)
		return;
	pthread_cond_destroy(&g->gil_taken);
	pthread_cond_destroy(&g->gil_released);
	pthread_mutex_destroy(&g->mutex);
	free(g);
}

static struct timespec ns_to_timespec(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / NS_PER_S,
			      .tv_nsec = ns % NS_PER_S};
	return ts;
}

/* Called with the mutex held and the GIL free. */
static void take_locked(struct gil *g)
{
	g->locked = true;
	g->switch_number++;
	/* Whoever asked for a switch got one (or will ask again). */
	atomic_store_explicit(&g->drop_requested, false,
			      memory_order_relaxed);
	pthread_cond_broadcast(&g->gil_taken);
}

/* Called with the mutex held: waits until the GIL is free, one switch
 * interval at a time. */
static void wait_free_locked(struct gil *g)
{
	if (!g->locked)
		return;
	g->waiters++;
	while (g->locked) {
		uint64_t seen = g->switch_number;
		struct timespec until =
			ns_to_timespec(util_mono_ns() + g->interval_ns);
		int rc = pthread_cond_timedwait(&g->gil_released, &g->mutex,
						&until);

		/* A whole interval without any switch: ask the holder to
		 * let go at its next check point. */
		if (rc != 0 && g->locked && g->switch_number == seen)
			atomic_store_explicit(&g->drop_requested, true,
					      memory_order_relaxed);
	}
	g->waiters--;
}

bool gil_try_acquire(struct gil *g)
{
	bool taken = false;

	pthread_mutex_lock(&g->mutex);
	if (!g->locked) {
		take_locked(g);
		taken = true;
	}
	pthread_mutex_unlock(&g->mutex);
	return taken;
}

int64_t gil_acquire(struct gil *g)
{
	int64_t start_ns = 0;

	pthread_mutex_lock(&g->mutex);
	if (g->locked) {
		start_ns = util_mono_ns();
		wait_free_locked(g);
	}
	take_locked(g);
	pthread_mutex_unlock(&g->mutex);
	return start_ns ? util_mono_ns() - start_ns : 0;
}

void gil_release(struct gil *g)
{
	pthread_mutex_lock(&g->mutex);
	g->locked = false;
	pthread_cond_signal(&g->gil_released);
	pthread_mutex_unlock(&g->mutex);
}

bool gil_drop_requested(struct gil *g)
{
	return atomic_load_explicit(&g->drop_requested, memory_order_relaxed);
}

int64_t gil_yield(struct gil *g)
{
	int64_t start_ns = util_mono_ns();

	pthread_mutex_lock(&g->mutex);
	uint64_t mine = g->switch_number;

	g->locked = false;
	pthread_cond_signal(&g->gil_released);
	/* Forced switch: stay off until another thread has taken the GIL.
	 * With nobody waiting (the requester already got it and left, or
	 * there never was one) there is nothing to hand over to. */
	while (g->switch_number == mine && g->waiters > 0)
		pthread_cond_wait(&g->gil_taken, &g->mutex);
	/* Now wait for the GIL like anyone else, under the same rules. */
	wait_free_locked(g);
	take_locked(g);
	pthread_mutex_unlock(&g->mutex);
	return util_mono_ns() - start_ns;
}
