/*
 * test_jsonline: the server's check of a runner's line.  It is a fast path
 * beside jansson, so it must never accept what jansson refuses; and it must
 * accept the engine's own lines, or the fast path is never taken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonline.h"

struct line_case {
	const char *text;
	size_t len;  /* 0: strlen(text) */
	bool object; /* a JSON object, by jansson and by jsonline */
};

static const struct line_case cases[] = {
	/* The engine's lines. */
	{"{\"type\":\"segment\",\"segment\":{\"task\":0,\"lane\":1,\"state\":"
	 "\"sleep\",\"t0_ns\":123,\"t1_ns\":456,\"note\":\"\"}}",
	 0, true},
	{"{\"type\":\"task\",\"task\":{\"id\":7,\"name\":\"request 8\","
	 "\"lane\":null,\"submit_ns\":-1,\"start_ns\":null,\"end_ns\":null,"
	 "\"status\":null,\"note\":\"\"}}",
	 0, true},
	{"{\"type\":\"open\",\"task\":0,\"lane\":0,\"state\":\"io\","
	 "\"t0_ns\":5,\"note\":\"lock 'a\\\"b'\\n\\u001F\\/\"}",
	 0, true},
	{"{\"type\":\"summary\",\"summary\":{\"speedup\":3.14e0,\"util\":0.5,"
	 "\"x\":-0.25E-3,\"ok\":true,\"no\":false,\"list\":[1,[2,{}],[]]}}",
	 0, true},
	{"  {\"a\" : [ 1 , 2 ] }\t\r\n", 0, true},
	{"{}", 0, true},
	{"{\"caf\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", 0, true},
	{"{\"pair\":\"\\ud83d\\ude00\"}", 0, true},
	/* Not an object, or not JSON. */
	{"[]", 0, false},
	{"\"text\"", 0, false},
	{"42", 0, false},
	{"", 0, false},
	{"   ", 0, false},
	{"{", 0, false},
	{"{\"a\":1", 0, false},
	{"{\"a\":1,}", 0, false},
	{"{\"a\" 1}", 0, false},
	{"{a:1}", 0, false},
	{"{\"a\":1}{}", 0, false},
	{"{\"a\":1} x", 0, false},
	{"{\"a\":01}", 0, false},
	{"{\"a\":-}", 0, false},
	{"{\"a\":1.}", 0, false},
	{"{\"a\":.5}", 0, false},
	{"{\"a\":1e}", 0, false},
	{"{\"a\":+1}", 0, false},
	{"{\"a\":tru}", 0, false},
	{"{\"a\":nul}", 0, false},
	{"{\"a\":[1,]}", 0, false},
	{"{\"a\":\"tab\there\"}", 0, false},
	{"{\"a\":\"\\x\"}", 0, false},
	{"{\"a\":\"\\u12\"}", 0, false},
	{"{\"a\":\"\\u0000\"}", 0, false},
	{"{\"a\":\"\\ud83d\"}", 0, false},
	{"{\"a\":\"\\ude00\"}", 0, false},
	{"{\"a\":\"\\ud83d\\u0041\"}", 0, false},
	{"{\"a\":\"\xc3\"}", 0, false},
	{"{\"a\":\"\xc0\xaf\"}", 0, false},
	{"{\"a\":\"\xe0\x80\xaf\"}", 0, false},
	{"{\"a\":\"\xed\xa0\x80\"}", 0, false},
	{"{\"a\":\"\xf4\x90\x80\x80\"}", 0, false},
	{"{\"a\":\"\xff\"}", 0, false},
	{"{\"a\":\"x\"\x00}", 9, false},
	{"{\"a\":\"unterminated}", 0, false},
	/* Numbers jansson can hold, and the first ones it cannot: an
	 * integer beyond 64 bits, a real beyond a double. */
	{"{\"a\":9223372036854775807}", 0, true},
	{"{\"a\":-9223372036854775808}", 0, true},
	{"{\"a\":9223372036854775808}", 0, false},
	{"{\"a\":-9223372036854775809}", 0, false},
	{"{\"a\":123456789012345678901234567890}", 0, false},
	{"{\"a\":1e308,\"b\":-1.7976931348623157e308}", 0, true},
	{"{\"a\":1e309}", 0, false},
	{"{\"a\":-2.5E+308}", 0, false},
	{"{\"a\":1e-400,\"b\":0.5e-320}", 0, true},
	{"{\"a\":123456789012345678901234567890.5}", 0, true},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct line_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		json_t *v = json_loadb(c->text, len, 0, NULL);
		bool by_jansson = json_is_object(v);
		bool by_us = jsonline_is_object(c->text, len);

		json_decref(v);
		if (by_jansson != c->object || by_us != c->object)
			fail_msg("case %zu (%s): jansson %d, jsonline %d, "
				 "expected %d",
				 i, c->text, by_jansson, by_us, c->object);
	}
}

/* Nesting up to the limit is fine; past it, refused (jansson, which
 * allows deeper, then decides: the fast path only ever says less). */
static void test_depth(void **state)
{
	char text[4 * JSONLINE_DEPTH_MAX + 16];

	(void)state;
	for (int depth = JSONLINE_DEPTH_MAX; depth <= JSONLINE_DEPTH_MAX + 1;
	     depth++) {
		size_t n = 0;

		text[n++] = '{';
		text[n++] = '"';
		text[n++] = 'a';
		text[n++] = '"';
		text[n++] = ':';
		for (int k = 1; k < depth; k++)
			text[n++] = '[';
		for (int k = 1; k < depth; k++)
			text[n++] = ']';
		text[n++] = '}';
		text[n] = '\0';
		assert_int_equal(jsonline_is_object(text, n),
				 depth <= JSONLINE_DEPTH_MAX);
	}
}

/* Every prefix of a sound line is refused, as jansson refuses it: a line
 * torn by a crash never passes. */
static void test_prefixes(void **state)
{
	const char *line = cases[3].text;
	size_t len = strlen(line);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		json_t *v = json_loadb(line, n, 0, NULL);

		assert_false(jsonline_is_object(line, n));
		assert_null(v);
	}
	assert_true(jsonline_is_object(line, len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
