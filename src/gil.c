/*
 * gil: CPython's "new GIL" (3.2+), as a futex lock plus two timestamps.
 *
 * In CPython a thread that finds the GIL taken waits one switch interval
 * at a time; when an interval passes with no switch, it sets the drop
 * request, and the holder honours it at its next check point.  Here the
 * waiters sleep without timing out, and gil_drop_requested() computes the
 * request: somebody waits, and a whole interval has passed since the later
 * of the last switch and the moment the first current waiter started.  The
 * holder sees what it would see in CPython (it only ever looks in check
 * points), but waiting threads cost no timer wake-ups, and a waiter the
 * scheduler is slow to run still gets its switch on time.
 *
 * The lock itself is a futex word (0 free, 1 taken, 2 taken and maybe
 * slept on), not a mutex and a condition variable: a waiter that is woken
 * takes the GIL with one atomic exchange, where a condition variable would
 * make it queue again for the mutex.  With ten thousand threads each
 * retaking the GIL after a sleep, that second queue doubled the context
 * switches and turned every hand-over into a convoy.  With more than one
 * core, one waiter at a time first watches the lock for a few microseconds
 * before it sleeps, which catches the short holds (record an event, let
 * go) without a wake-up.
 *
 * gil_yield() is CPython's FORCE_SWITCHING: after releasing, the holder
 * sleeps on the switch counter until another thread has taken the GIL, so
 * a thread in a tight loop cannot win the lock straight back.
 *
 * All fields are atomics; the lock word's exchange and compare-exchange
 * order everything a holder wrote before it released (seq_cst throughout:
 * the yielder and the taker each write one word and read the other's).
 */
#include "gil.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
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

/* How long a waiter watches a taken GIL before it sleeps. */
#define GIL_SPIN_NS (20 * NS_PER_US)

enum { GIL_FREE = 0, GIL_TAKEN = 1, GIL_CONTENDED = 2 };

struct gil {
	_Atomic uint32_t lock;	     /* GIL_FREE / GIL_TAKEN / GIL_CONTENDED */
	_Atomic uint32_t switches;   /* acquisitions; yielders sleep on it */
	_Atomic uint32_t waiters;    /* threads asleep (or about to be) */
	_Atomic uint32_t yielders;   /* threads in gil_yield's forced switch */
	_Atomic bool spinning;	     /* one waiter watches at a time */
	_Atomic int64_t switched_ns; /* when the GIL was last taken */
	_Atomic int64_t first_wait_ns; /* when waiters last went 0 -> 1 */
	int64_t interval_ns;
	int64_t spin_ns; /* 0 on one core */
	enum gil_python python;
};

static long futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, NULL, NULL, 0);
}

struct gil *gil_create(int64_t switch_interval_ns, enum gil_python python)
{
	struct gil *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->interval_ns = switch_interval_ns > 0 ? switch_interval_ns
						: 5 * NS_PER_MS;
	g->spin_ns = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? GIL_SPIN_NS : 0;
	g->python = python;
	return g;
}

void gil_destroy(struct gil *g)
{
	free(g);
}

/* Bookkeeping of the thread that has just taken the GIL. */
static void took(struct gil *g)
{
	atomic_store(&g->switched_ns, util_mono_ns());
	atomic_fetch_add(&g->switches, 1);
	if (atomic_load(&g->yielders))
		futex(&g->switches, FUTEX_WAKE_PRIVATE, INT_MAX);
}

static bool try_take(struct gil *g)
{
	uint32_t expected = GIL_FREE;

	return atomic_compare_exchange_strong(&g->lock, &expected, GIL_TAKEN);
}

bool gil_try_acquire(struct gil *g)
{
	if (!try_take(g))
		return false;
	took(g);
	return true;
}

/* With more than one core, one waiter at a time watches the GIL for a
 * moment: a holder that only records an event and lets go is gone within
 * microseconds, sooner than a sleep and a wake-up. */
static bool spin_take(struct gil *g)
{
	bool taken = false;

	if (!g->spin_ns || atomic_exchange(&g->spinning, true))
		return false;
	int64_t until = util_mono_ns() + g->spin_ns;

	for (;;) {
		if (atomic_load_explicit(&g->lock, memory_order_relaxed) ==
			    GIL_FREE &&
		    try_take(g)) {
			taken = true;
			break;
		}
		for (int i = 0; i < 16; i++)
			cpu_relax();
		if (util_mono_ns() >= until)
			break;
	}
	atomic_store(&g->spinning, false);
	return taken;
}

/* Sleeps until this thread has the GIL (Drepper's futex mutex: whoever
 * sleeps leaves the word at GIL_CONTENDED so the release wakes someone). */
static void sleep_take(struct gil *g)
{
	/* The first waiter's arrival is in place before a holder can see it
	 * waiting: counted the other way round, a holder could take a waiter
	 * that has just come for one that has waited since the last switch,
	 * and drop the GIL to it before a whole interval. */
	if (atomic_load(&g->waiters) == 0)
		atomic_store(&g->first_wait_ns, util_mono_ns());
	atomic_fetch_add(&g->waiters, 1);
	while (atomic_exchange(&g->lock, GIL_CONTENDED) != GIL_FREE)
		futex(&g->lock, FUTEX_WAIT_PRIVATE, GIL_CONTENDED);
	atomic_fetch_sub(&g->waiters, 1);
}

int64_t gil_acquire(struct gil *g)
{
	int64_t start_ns;

	if (try_take(g)) {
		took(g);
		return 0;
	}
	start_ns = util_mono_ns();
	if (!spin_take(g))
		sleep_take(g);
	took(g);
	return util_mono_ns() - start_ns;
}

void gil_release(struct gil *g)
{
	if (atomic_exchange(&g->lock, GIL_FREE) == GIL_CONTENDED)
		futex(&g->lock, FUTEX_WAKE_PRIVATE, 1);
}

bool gil_checks_every_instruction(const struct gil *g)
{
	return g->python == GIL_PYTHON_3_9;
}

bool gil_drop_requested(struct gil *g)
{
	if (!atomic_load_explicit(&g->waiters, memory_order_acquire))
		return false;
	int64_t since =
		atomic_load_explicit(&g->switched_ns, memory_order_relaxed);
	int64_t first =
		atomic_load_explicit(&g->first_wait_ns, memory_order_relaxed);

	if (first > since)
		since = first;
	return util_mono_ns() - since >= g->interval_ns;
}

int64_t gil_yield(struct gil *g)
{
	int64_t start_ns = util_mono_ns();
	uint32_t mine = atomic_load(&g->switches);

	atomic_fetch_add(&g->yielders, 1);
	gil_release(g);
	/* Forced switch: stay off until another thread has taken the GIL.
	 * With nobody waiting there is nobody to hand over to. */
	while (atomic_load(&g->switches) == mine && atomic_load(&g->waiters))
		futex(&g->switches, FUTEX_WAIT_PRIVATE, mine);
	atomic_fetch_sub(&g->yielders, 1);
	/* Then queue for it like anyone else. */
	if (!try_take(g) && !spin_take(g))
		sleep_take(g);
	took(g);
	return util_mono_ns() - start_ns;
}
