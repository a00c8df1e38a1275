/*
 * test_sweep: the sweep plan (src/sweep.h): which names can be swept, how a
 * list of values is split and checked with a run's own words, what a value
 * is as a number, and Amdahl's law fitted to one measured point.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spec.h"
#include "sweep.h"

static void test_split(void **state)
{
	const char *values[SWEEP_VALUES_MAX];
	char buf[256];
	struct spec_error err;
	size_t n;

	(void)state;
	assert_int_equal(
		sweep_split("1, 2,4", buf, sizeof(buf), values, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(values[0], "1");
	assert_string_equal(values[1], "2");
	assert_string_equal(values[2], "4");
	assert_int_equal(sweep_split("1,,2", buf, sizeof(buf), values, &n,
				     &err),
			 -EINVAL);
	assert_string_equal(err.field, "values");
	assert_int_equal(sweep_split("", buf, sizeof(buf), values, &n, &err),
			 -EINVAL);
	assert_int_equal(
		sweep_split("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", buf,
			    sizeof(buf), values, &n, &err),
		-EINVAL);
	assert_non_null(strstr(err.message, "at most 16"));
}

static void test_resolve_and_check(void **state)
{
	struct spec spec;
	struct sweep_param p;
	struct spec_error err;
	const char *good[] = {"1", "2", "4"};
	const char *bad[] = {"1", "100000"};
	const char *ms[] = {"50", "100ms", "0.2s"};

	(void)state;
	assert_int_equal(spec_init(&spec, "crunch", "process-pool", &err), 0);
	assert_int_equal(sweep_resolve(&spec, "workers", &p, &err), 0);
	assert_string_equal(p.field, "options.workers");
	assert_int_equal(sweep_check(&p, good, 3, &err), 0);
	assert_int_equal(sweep_check(&p, bad, 2, &err), -EINVAL);
	assert_string_equal(err.field, "values");
	assert_non_null(
		strstr(err.message, "values: workers: must be at most"));
	assert_true(sweep_number(&p, "4") == 4.0);
	/* A parameter of the workload, a duration: its number is in ms. */
	assert_int_equal(sweep_resolve(&spec, "duration", &p, &err), 0);
	assert_string_equal(p.field, "params.duration");
	assert_int_equal(sweep_check(&p, ms, 3, &err), 0);
	assert_true(sweep_number(&p, "50") == 50.0);
	assert_true(sweep_number(&p, "0.2s") == 200.0);
	/* Not a number; not here at all. */
	assert_int_equal(spec_init(&spec, "crunch", "threads", &err), 0);
	assert_int_equal(sweep_resolve(&spec, "gil", &p, &err), -EINVAL);
	assert_string_equal(err.field, "param");
	assert_int_equal(sweep_resolve(&spec, "workers", &p, &err), -ENOENT);
	assert_true(sweep_counts_parallel("workers"));
	assert_true(sweep_counts_parallel("options.max_concurrent"));
	assert_false(sweep_counts_parallel("tasks"));
}

/* One worker, 4 s of work done in 5 s: 1 s did not split, so two workers
 * take 1 + 2 s (speedup 4/3) and many approach 4 s of work over 1 s. */
static void test_amdahl(void **state)
{
	struct sweep_amdahl law;

	(void)state;
	assert_true(sweep_amdahl_fit(1, 5000000000, 0.8, &law));
	assert_true(fabs(law.serial_share - 0.2) < 1e-9);
	assert_true(fabs(sweep_amdahl_at(&law, 1) - 0.8) < 1e-9);
	assert_true(fabs(sweep_amdahl_at(&law, 2) - 4.0 / 3.0) < 1e-9);
	assert_true(sweep_amdahl_at(&law, 1e9) < 4.0);
	/* Fitted at two workers: what the two split leaves serial. */
	assert_true(sweep_amdahl_fit(2, 3000000000, 4.0 / 3.0, &law));
	assert_true(fabs(law.serial_ns - 1e9) < 1);
	/* Nothing serial: the law is the count itself. */
	assert_true(sweep_amdahl_fit(1, 1000000000, 1.0, &law));
	assert_true(fabs(sweep_amdahl_at(&law, 8) - 8.0) < 1e-9);
	assert_false(sweep_amdahl_fit(0, 1000, 1.0, &law));
	assert_false(sweep_amdahl_fit(1, 0, 1.0, &law));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_resolve_and_check),
		cmocka_unit_test(test_amdahl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
