/*
 * gil: CPython's "new GIL" (3.2+) as a mutex, two condition variables and
 * one atomic timestamp.
 *
 * In CPython a thread that finds the GIL taken waits one switch interval
 * at a time; when an interval passes with no switch, it sets the drop
 * request, and the holder honours it at its next check point.  Here the
 * waiters do not time out: wait_since_ns says since when somebody has been
 * waiting with no switch, and gil_drop_requested() is true once that is a
 * whole interval ago.  The holder sees exactly what it would see in
 * CPython (the request is only ever looked at in check points), but ten
 * thousand waiting threads cost no timer wake-ups, and a waiter the
 * scheduler is slow to run still gets its switch on time.
 *
 * gil_yield() is CPython's FORCE_SWITCHING: after releasing, the holder
 * waits on gil_taken until another thread has taken the GIL, so a thread in
 * a tight loop cannot win the lock straight back before the waiter wakes.
 *
 * The mutex guards everything but wait_since_ns, which the holder reads
 * without it (a stale read only moves a switch by one check point).
 * Condition variables use CLOCK_MONOTONIC.
 */
#include "gil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* A spin-wait hint to the core (lets its sibling hyperthread run). */
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long gil_acquire() watches a taken GIL before it sleeps. */
#define GIL_SPIN_NS (20 * NS_PER_US)

struct gil {
	pthread_mutex_t mutex;
	pthread_cond_t gil_released; /* signalled when locked goes false */
	pthread_cond_t gil_taken;    /* broadcast when someone takes it */
	int64_t interval_ns;

	/* protected by mutex */
	bool locked;
	uint64_t switch_number; /* counts acquisitions */
	uint32_t waiters;	/* threads waiting for the GIL to be free */
	uint32_t yielders;	/* threads in gil_yield waiting for a switch */

	/* written under mutex, read by the holder without it: since when
	 * someone has waited with no switch; 0 when nobody waits */
	_Atomic int64_t wait_since_ns;
	/* locked, mirrored for spin_while_locked() to watch without the
	 * mutex; only a hint: the mutex decides */
	_Atomic bool locked_hint;
	int64_t spin_ns; /* 0 on one core */
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
	atomic_init(&g->wait_since_ns, 0);
	atomic_init(&g->locked_hint, false);
	g->spin_ns = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? GIL_SPIN_NS : 0;
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

/* Called with the mutex held and the GIL free. */
static void take_locked(struct gil *g)
{
	g->locked = true;
	atomic_store_explicit(&g->locked_hint, true, memory_order_relaxed);
	g->switch_number++;
	/* A switch: whoever still waits starts a new interval now. */
	atomic_store_explicit(&g->wait_since_ns,
			      g->waiters ? util_mono_ns() : 0,
			      memory_order_relaxed);
	if (g->yielders)
		pthread_cond_broadcast(&g->gil_taken);
}

/* Called with the mutex held: waits until the GIL is free.  Only a
 * release wakes a waiter. */
static void wait_free_locked(struct gil *g)
{
	if (!g->locked)
		return;
	if (g->waiters++ == 0)
		atomic_store_explicit(&g->wait_since_ns, util_mono_ns(),
				      memory_order_relaxed);
	while (g->locked)
		pthread_cond_wait(&g->gil_released, &g->mutex);
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

/* With more than one core, a thread that finds the GIL taken first watches
 * it for a moment: a holder that only records an event and lets go (the
 * end of every task after its wait) is gone within microseconds, and
 * sleeping instead turns ten thousand such hand-overs into a convoy of
 * wake-ups, one scheduler latency each. */
static void spin_while_locked(struct gil *g)
{
	if (!g->spin_ns)
		return;
	int64_t until = util_mono_ns() + g->spin_ns;

	while (atomic_load_explicit(&g->locked_hint, memory_order_relaxed)) {
		for (int i = 0; i < 16; i++)
			cpu_relax();
		if (util_mono_ns() >= until)
			break;
	}
}

int64_t gil_acquire(struct gil *g)
{
	int64_t start_ns = 0;

	spin_while_locked(g);
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
	atomic_store_explicit(&g->locked_hint, false, memory_order_relaxed);
	if (g->waiters)
		pthread_cond_signal(&g->gil_released);
	pthread_mutex_unlock(&g->mutex);
}

bool gil_drop_requested(struct gil *g)
{
	int64_t since = atomic_load_explicit(&g->wait_since_ns,
					     memory_order_relaxed);

	return since && util_mono_ns() - since >= g->interval_ns;
}

int64_t gil_yield(struct gil *g)
{
	int64_t start_ns = util_mono_ns();

	pthread_mutex_lock(&g->mutex);
	uint64_t mine = g->switch_number;

	g->locked = false;
	atomic_store_explicit(&g->locked_hint, false, memory_order_relaxed);
	if (g->waiters)
		pthread_cond_signal(&g->gil_released);
	/* Forced switch: stay off until another thread has taken the GIL.
	 * With nobody waiting there is nobody to hand over to. */
	g->yielders++;
	while (g->switch_number == mine && g->waiters > 0)
		pthread_cond_wait(&g->gil_taken, &g->mutex);
	g->yielders--;
	/* Then queue for it like anyone else. */
	wait_free_locked(g);
	take_locked(g);
	pthread_mutex_unlock(&g->mutex);
	return util_mono_ns() - start_ns;
}
