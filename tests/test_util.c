/*
 * test_util: durations in and out, and the small string helpers.
 *
 * util_parse_duration() is the only door from a person's text to
 * nanoseconds, so its table covers every unit, fractions that binary
 * floating point would round, the bare-number-is-milliseconds rule, and
 * each kind of garbage.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

struct duration_case {
	const char *text;
	int rc;
	int64_t ns;
};

static const struct duration_case duration_cases[] = {
	{"250ms", 0, 250 * NS_PER_MS},
	{"1.5s", 0, 1500 * NS_PER_MS},
	{"50us", 0, 50 * NS_PER_US},
	{"50\xc2\xb5s", 0, 50 * NS_PER_US},
	{"2000ns", 0, 2000},
	{"0.1s", 0, 100 * NS_PER_MS},
	{"0.000000001s", 0, 1},
	{"0.0000000019s", 0, 1},      /* beyond a nanosecond: truncated */
	{"200", 0, 200 * NS_PER_MS},  /* bare: milliseconds */
	{"1.5", 0, 1500 * NS_PER_US}, /* bare real: milliseconds */
	{"  3s  ", 0, 3 * NS_PER_S},
	{"3 s", 0, 3 * NS_PER_S},
	{".5s", 0, 500 * NS_PER_MS},
	{"5.s", 0, 5 * NS_PER_S},
	{"0", 0, 0},
	{"-5ms", 0, -5 * NS_PER_MS}, /* the caller checks the range */
	{"+5ms", 0, 5 * NS_PER_MS},
	{"9223372036854775807ns", 0, INT64_MAX},
	{"9223372036854775808ns", -ERANGE, 0},
	{"10000000000s", -ERANGE, 0},
	{"99999999999999999999999", -ERANGE, 0},
	{"", -EINVAL, 0},
	{"   ", -EINVAL, 0},
	{"abc", -EINVAL, 0},
	{"s", -EINVAL, 0},
	{"ms", -EINVAL, 0},
	{"5kg", -EINVAL, 0},
	{"5m", -EINVAL, 0},
	{"5 kg", -EINVAL, 0},
	{"5sx", -EINVAL, 0},
	{"1e3ms", -EINVAL, 0},
	{"0x10ms", -EINVAL, 0},
	{"inf", -EINVAL, 0},
	{"nan", -EINVAL, 0},
	{"1.2.3s", -EINVAL, 0},
	{"5ms5", -EINVAL, 0},
	{"5 5", -EINVAL, 0},
	{".", -EINVAL, 0},
	{"-", -EINVAL, 0},
	{"5MS", -EINVAL, 0},
};

static void test_parse_duration(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]);
	     i++) {
		const struct duration_case *c = &duration_cases[i];
		int64_t ns = -12345;
		int rc = util_parse_duration(c->text, &ns);

		if (rc != c->rc || (rc == 0 && ns != c->ns))
			fail_msg("'%s': rc %d ns %lld, expected rc %d ns %lld",
				 c->text, rc, (long long)ns, c->rc,
				 (long long)c->ns);
		if (rc != 0 && ns != -12345)
			fail_msg("'%s': failed but wrote the output", c->text);
	}
}

struct prefix_case {
	const char *text;
	int rc;
	int64_t ns;
	size_t used;
};

static const struct prefix_case prefix_cases[] = {
	{"20ms, net 1s", 0, 20 * NS_PER_MS, 4},
	{"20ms)", 0, 20 * NS_PER_MS, 4},
	{"1.5s;", 0, 1500 * NS_PER_MS, 4},
	{"20 ms,", 0, 20 * NS_PER_MS, 5},
	{"20 x (", 0, 20 * NS_PER_MS, 2}, /* a bare number, then a word */
	{"20", 0, 20 * NS_PER_MS, 2},
	{"20mx", -EINVAL, 0, 0},
	{"20x", -EINVAL, 0, 0},
	{"abc", -EINVAL, 0, 0},
	{", 20ms", -EINVAL, 0, 0},
};

static void test_parse_duration_prefix(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++) {
		const struct prefix_case *c = &prefix_cases[i];
		int64_t ns = 0;
		size_t used = 99;
		int rc = util_parse_duration_prefix(c->text, &ns, &used);

		if (rc != c->rc || used != c->used || (rc == 0 && ns != c->ns))
			fail_msg("'%s': rc %d ns %lld used %zu", c->text, rc,
				 (long long)ns, used);
	}
}

struct format_case {
	int64_t ns;
	const char *human;
	const char *text;
};

static const struct format_case format_cases[] = {
	{0, "0 ns", "0s"},
	{7, "7 ns", "7ns"},
	{999, "999 ns", "999ns"},
	{1000, "1.00 us", "1us"},
	{1500, "1.50 us", "1.5us"},
	{850 * NS_PER_US, "850 us", "850us"},
	{999499, "999 us", "999.499us"},
	{999500, "1.00 ms", "999.5us"},
	{20 * NS_PER_MS, "20.0 ms", "20ms"},
	{100 * NS_PER_MS, "100 ms", "100ms"},
	{1500 * NS_PER_MS, "1.50 s", "1.5s"},
	{60 * NS_PER_S, "60.0 s", "60s"},
	{600 * NS_PER_S, "600 s", "600s"},
	{1000500 * NS_PER_US, "1.00 s", "1000.5ms"},
	{-5 * NS_PER_MS, "-5.00 ms", "-5ms"},
};

static void test_format_duration(void **state)
{
	size_t i;
	char buf[32];

	(void)state;
	for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		const struct format_case *c = &format_cases[i];
		int64_t back;

		assert_string_equal(util_format_duration(c->ns, buf,
							 sizeof(buf)),
				    c->human);
		assert_string_equal(util_format_duration_text(c->ns, buf,
							      sizeof(buf)),
				    c->text);
		/* The text form reads back exactly. */
		assert_int_equal(util_parse_duration(buf, &back), 0);
		assert_int_equal(back, c->ns);
	}
}

static void test_format_duration_small_buffer(void **state)
{
	char buf[4];

	(void)state;
	util_format_duration(1500 * NS_PER_MS, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 3);
	assert_string_equal(buf, "1.5");
}

static void test_strlcpy(void **state)
{
	char buf[6];

	(void)state;
	util_strlcpy(buf, "hello world", sizeof(buf));
	assert_string_equal(buf, "hello");
	util_strlcpy(buf, "hi", sizeof(buf));
	assert_string_equal(buf, "hi");
	util_strlcpy(buf, "", sizeof(buf));
	assert_string_equal(buf, "");
	buf[0] = 'x';
	util_strlcpy(buf, "abc", 0); /* writes nothing */
	assert_int_equal(buf[0], 'x');
}

static void test_alloc(void **state)
{
	char *s;
	int *v;

	(void)state;
	s = util_xstrdup("overlap");
	assert_string_equal(s, "overlap");
	free(s);
	v = util_xcalloc(4, sizeof(*v));
	assert_int_equal(v[0] | v[1] | v[2] | v[3], 0);
	v = util_xrealloc(v, 1000 * sizeof(*v));
	v[999] = 7;
	assert_int_equal(v[999], 7);
	free(v);
}

static void test_mono_is_monotonic(void **state)
{
	int64_t prev = util_mono_ns(), now;
	int i;

	(void)state;
	assert_true(prev > 0);
	for (i = 0; i < 1000; i++) {
		now = util_mono_ns();
		assert_true(now >= prev);
		prev = now;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_duration_prefix),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_duration_small_buffer),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_mono_is_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
