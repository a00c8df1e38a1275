/*
 * test_cpu: how much a computation does.
 *
 *  1. A count of iterations is exact, whatever the calibration says.
 *  2. A duration is the thread's CPU time: with a calibration that is
 *     a quarter of the true rate, or four times it, the work still stops only once the
 *     thread's CPU clock has advanced by the duration, and the count it
 *     did moves away from the calibration's estimate in the direction of
 *     the truth (more work for a rate set too low, less for one too high).
 *
 * The only time bound is the lower one, which holds however slow or busy
 * the machine is: the clock is read before the work ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "cpu.h"
#include "util.h"

#define SLICE 512
#define WORK_NS (20 * NS_PER_MS)

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), 0);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Runs w to its end; returns the iterations done. */
static uint64_t run_work(struct cpu_work *w)
{
	uint64_t done = 0, left, sink = 0;

	while ((left = cpu_work_left(w, done)) > 0) {
		uint64_t n = left < SLICE ? left : SLICE;

		sink ^= cpu_burn(n, done);
		done += n;
	}
	assert_true(sink != 1); /* keeps the work */
	return done;
}

static void test_count_is_exact(void **state)
{
	struct cpu_calib c = {.iters_per_ms = 1.0};
	struct cpu_work w;

	(void)state;
	cpu_work_start(&w, &c, 12345, WORK_NS, SLICE);
	assert_int_equal(run_work(&w), 12345);
}

static void test_duration_is_cpu_time(void **state)
{
	struct cpu_calib truth, wrong;
	static const double factors[] = {0.25, 4.0};

	(void)state;
	cpu_calibrate(&truth);
	for (size_t i = 0; i < sizeof(factors) / sizeof(factors[0]); i++) {
		struct cpu_work w;
		uint64_t estimate, done;
		int64_t t0;

		wrong.iters_per_ms = truth.iters_per_ms * factors[i];
		estimate = cpu_iters_for_ns(&wrong, WORK_NS);
		t0 = thread_cpu_ns();
		cpu_work_start(&w, &wrong, 0, WORK_NS, SLICE);
		done = run_work(&w);
		print_message("calibration x%.2f: %llu iterations against "
			      "%llu estimated, %lld us of CPU\n",
			      factors[i], (unsigned long long)done,
			      (unsigned long long)estimate,
			      (long long)((thread_cpu_ns() - t0) / 1000));
		assert_true(thread_cpu_ns() - t0 >= WORK_NS);
		if (factors[i] < 1.0)
			assert_true(done > estimate);
		else
			assert_true(done < estimate);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_is_exact),
		cmocka_unit_test(test_duration_is_cpu_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
