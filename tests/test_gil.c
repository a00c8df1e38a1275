/*
 * test_gil: the GIL's three promises, by structure.
 *
 *  1. Mutual exclusion: threads that compute only while they hold the GIL
 *     never compute at once (a shared "inside" counter never exceeds 1).
 *  2. Drop requests cause switches: two threads with long computations
 *     take turns (the holder changes back and forth), although neither
 *     ever gives the GIL up of its own accord.
 *  3. gil_yield() is a forced switch: it does not return before the thread
 *     that asked has held the GIL, and the asker waited at least one
 *     switch interval before it asked.
 *
 * The only time bound used is the lower bound of promise 3, which holds
 * however slow the machine is.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cpu.h"
#include "gil.h"
#include "util.h"

#define THREADS_MAX 4
#define LOG_MAX 100000

struct shared {
	struct gil *gil;
	pthread_barrier_t start;
	uint64_t iters;	      /* each thread's work */
	uint64_t slice_iters; /* between check points */
	_Atomic int inside;   /* threads computing right now */
	_Atomic int max_inside;
	_Atomic uint64_t sink;
	/* written only by the GIL's holder: the GIL orders the writes */
	uint8_t log[LOG_MAX]; /* holder of each slice */
	size_t n_log;
};

struct worker {
	struct shared *sh;
	uint8_t id;
	uint32_t yields;
};

static void enter(struct shared *sh)
{
	int now = atomic_fetch_add(&sh->inside, 1) + 1;
	int max = atomic_load(&sh->max_inside);

	while (now > max &&
	       !atomic_compare_exchange_weak(&sh->max_inside, &max, now))
		;
}

static void leave(struct shared *sh)
{
	atomic_fetch_sub(&sh->inside, 1);
}

/* Computes sh->iters in slices while holding the GIL, yielding when
 * asked, as exec_compute does. */
static void *compute_thread(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	uint64_t done = 0, acc = 0;

	pthread_barrier_wait(&sh->start);
	gil_acquire(sh->gil);
	enter(sh);
	while (done < sh->iters) {
		acc ^= cpu_burn(sh->slice_iters, done);
		done += sh->slice_iters;
		if (sh->n_log < LOG_MAX)
			sh->log[sh->n_log++] = w->id;
		if (gil_drop_requested(sh->gil)) {
			leave(sh);
			gil_yield(sh->gil);
			enter(sh);
			w->yields++;
		}
	}
	leave(sh);
	gil_release(sh->gil);
	atomic_fetch_xor(&sh->sink, acc);
	return NULL;
}

struct exclusion_case {
	int threads;
	int64_t switch_interval_ns;
	int64_t work_ns; /* per thread */
};

static const struct exclusion_case exclusion_cases[] = {
	{2, NS_PER_MS, 40 * NS_PER_MS},
	{2, 100 * NS_PER_US, 20 * NS_PER_MS},
	{3, NS_PER_MS, 30 * NS_PER_MS},
	{4, 500 * NS_PER_US, 20 * NS_PER_MS},
};

static void test_exclusion_and_switches(void **state)
{
	struct cpu_calib calib;

	(void)state;
	cpu_calibrate(&calib);
	for (size_t c = 0;
	     c < sizeof(exclusion_cases) / sizeof(exclusion_cases[0]); c++) {
		const struct exclusion_case *ec = &exclusion_cases[c];
		struct shared *sh = calloc(1, sizeof(*sh));
		struct worker workers[THREADS_MAX];
		pthread_t threads[THREADS_MAX];
		uint32_t yields = 0;
		size_t changes = 0;
		bool seen[THREADS_MAX] = {false};

		assert_non_null(sh);
		sh->gil = gil_create(ec->switch_interval_ns, GIL_PYTHON_3_10);
		assert_non_null(sh->gil);
		sh->iters = cpu_iters_for_ns(&calib, ec->work_ns);
		sh->slice_iters = cpu_iters_for_ns(&calib, 20 * NS_PER_US);
		pthread_barrier_init(&sh->start, NULL, (unsigned)ec->threads);
		for (int i = 0; i < ec->threads; i++) {
			workers[i] =
				(struct worker){.sh = sh, .id = (uint8_t)i};
			assert_int_equal(pthread_create(&threads[i], NULL,
							compute_thread,
							&workers[i]),
					 0);
		}
		for (int i = 0; i < ec->threads; i++) {
			pthread_join(threads[i], NULL);
			yields += workers[i].yields;
		}

		/* 1: never two inside at once. */
		assert_int_equal(atomic_load(&sh->max_inside), 1);
		/* 2: the holder changed back and forth, and every thread
		 * computed; the changes can only come from drop requests
		 * (nobody releases before its work is done). */
		for (size_t i = 0; i < sh->n_log; i++) {
			seen[sh->log[i]] = true;
			if (i && sh->log[i] != sh->log[i - 1])
				changes++;
		}
		for (int i = 0; i < ec->threads; i++)
			assert_true(seen[i]);
		if (changes < (size_t)ec->threads + 1)
			print_message("case %zu: %zu changes, %u yields\n", c,
				      changes, yields);
		assert_true(changes >= (size_t)ec->threads + 1);
		assert_true(yields >= 2);

		pthread_barrier_destroy(&sh->start);
		gil_destroy(sh->gil);
		free(sh);
	}
}

/* ---- the forced switch --------------------------------------------------- */

struct asker {
	struct gil *gil;
	_Atomic int waiting; /* about to call gil_acquire */
	_Atomic int took;    /* held the GIL */
	int64_t waited_ns;
};

static void *asker_thread(void *arg)
{
	struct asker *a = arg;

	atomic_store(&a->waiting, 1);
	a->waited_ns = gil_acquire(a->gil);
	atomic_store(&a->took, 1);
	gil_release(a->gil);
	return NULL;
}

static void test_yield_is_forced_switch(void **state)
{
	static const int64_t intervals_ns[] = {100 * NS_PER_US, NS_PER_MS,
					       5 * NS_PER_MS};

	(void)state;
	for (size_t i = 0; i < sizeof(intervals_ns) / sizeof(intervals_ns[0]);
	     i++) {
		struct asker a = {
			.gil = gil_create(intervals_ns[i], GIL_PYTHON_3_10)};
		pthread_t thread;
		uint64_t acc = 0;

		assert_non_null(a.gil);
		gil_acquire(a.gil);
		assert_int_equal(
			pthread_create(&thread, NULL, asker_thread, &a), 0);
		/* Hold the GIL, computing, until the asker asks. */
		while (!gil_drop_requested(a.gil))
			acc ^= cpu_burn(1000, acc);
		assert_true(atomic_load(&a.waiting));
		assert_false(atomic_load(&a.took));
		gil_yield(a.gil);
		/* Back with the GIL: the asker must have had it first. */
		assert_true(atomic_load(&a.took));
		gil_release(a.gil);
		pthread_join(thread, NULL);
		/* It asked only after a whole interval without a switch. */
		assert_true(a.waited_ns >= intervals_ns[i]);
		gil_destroy(a.gil);
	}
}

/* ---- small things --------------------------------------------------------- */

static void *try_thread(void *arg)
{
	return gil_try_acquire(arg) ? (void *)1 : NULL;
}

static void test_try_acquire(void **state)
{
	struct gil *g = gil_create(NS_PER_MS, GIL_PYTHON_3_10);
	pthread_t thread;
	void *got;

	(void)state;
	assert_true(gil_try_acquire(g));
	pthread_create(&thread, NULL, try_thread, g);
	pthread_join(thread, &got);
	assert_null(got); /* held: another thread cannot have it */
	gil_release(g);
	pthread_create(&thread, NULL, try_thread, g);
	pthread_join(thread, &got);
	assert_non_null(got); /* free: taken (and kept) by that thread */
	assert_false(gil_try_acquire(g));
	gil_release(g);
	gil_destroy(g);
}

static void test_yield_alone(void **state)
{
	struct gil *g = gil_create(NS_PER_MS, GIL_PYTHON_3_10);

	(void)state;
	/* Nobody to hand over to: the yield gives the GIL straight back. */
	assert_int_equal(gil_acquire(g), 0);
	assert_false(gil_drop_requested(g));
	gil_yield(g);
	assert_false(gil_try_acquire(g));
	gil_release(g);
	assert_true(gil_try_acquire(g));
	gil_release(g);
	gil_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusion_and_switches),
		cmocka_unit_test(test_yield_is_forced_switch),
		cmocka_unit_test(test_try_acquire),
		cmocka_unit_test(test_yield_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
