/*
 * test_spec: validation, the one place user input is checked.
 *
 * Two kinds of tables.  The first lists documented messages word for word
 * (what a user of the CLI or the page reads).  The second walks the whole
 * catalog, every workload parameter and every model option, and feeds each
 * the bad values of its type (garbage, a wrong unit, below the minimum,
 * above the maximum): each must fail with the field named and its limit
 * in the message, and leave the spec unchanged.  A parameter added to the
 * catalog later is covered without touching this file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"
#include "spec.h"
#include "util.h"
#include "workload.h"

static struct spec *new_spec(const char *workload, const char *model)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err;

	assert_non_null(s);
	if (spec_init(s, workload, model, &err) != 0)
		fail_msg("spec_init(%s, %s): %s", workload, model, err.message);
	return s;
}

/* ---- documented messages ------------------------------------------------ */

struct set_case {
	const char *workload, *model, *key, *value;
	int rc;
	const char *field;
	const char *message;
};

static const struct set_case set_cases[] = {
	{"fetch", "threads", "tasks", "200000", -EINVAL, "params.tasks",
	 "tasks: must be at most 100000 (got 200000)"},
	{"fetch", "threads", "tasks", "0", -EINVAL, "params.tasks",
	 "tasks: must be at least 1 (got 0)"},
	{"fetch", "threads", "tasks", "-3", -EINVAL, "params.tasks",
	 "tasks: must be at least 1 (got -3)"},
	{"fetch", "threads", "tasks", "abc", -EINVAL, "params.tasks",
	 "tasks: expected a whole number (got 'abc')"},
	{"fetch", "threads", "tasks", "1.5", -EINVAL, "params.tasks",
	 "tasks: expected a whole number (got '1.5')"},
	{"fetch", "threads", "tasks", "0x10", -EINVAL, "params.tasks",
	 "tasks: expected a whole number (got '0x10')"},
	{"fetch", "threads", "tasks", "", -EINVAL, "params.tasks",
	 "tasks: expected a whole number (got '')"},
	{"fetch", "threads", "tasks", "99999999999999999999", -EINVAL,
	 "params.tasks",
	 "tasks: must be at most 100000 (got 99999999999999999999)"},
	{"fetch", "threads", "duration", "abc", -EINVAL, "params.duration",
	 "duration: expected a duration such as 200ms or 1.5s (got 'abc')"},
	{"fetch", "threads", "duration", "5kg", -EINVAL, "params.duration",
	 "duration: expected a duration such as 200ms or 1.5s (got '5kg')"},
	{"fetch", "threads", "duration", "90s", -EINVAL, "params.duration",
	 "duration: must be at most 60s (got 90s)"},
	{"fetch", "threads", "duration", "-1ms", -EINVAL, "params.duration",
	 "duration: must be at least 0s (got -1ms)"},
	{"crunch", "threads", "duration", "0", -EINVAL, "params.duration",
	 "duration: must be at least 1ms (got 0)"},
	{"crunch", "threads", "duration", "500us", -EINVAL, "params.duration",
	 "duration: must be at least 1ms (got 500us)"},
	{"fetch", "threads", "gil", "maybe", -EINVAL, "options.gil",
	 "gil: must be one of on, off (got 'maybe')"},
	{"fetch", "threads", "jitter", "2", -EINVAL, "params.jitter",
	 "jitter: must be at most 1 (got 2)"},
	{"fetch", "threads", "jitter", "-0.5", -EINVAL, "params.jitter",
	 "jitter: must be at least 0 (got -0.5)"},
	{"fetch", "threads", "jitter", "nan", -EINVAL, "params.jitter",
	 "jitter: expected a number (got 'nan')"},
	{"fetch", "threads", "io", "disk", -EINVAL, "params.io",
	 "io: must be one of net, sleep (got 'disk')"},
	{"fetch", "threads", "seed", "2147483648", -EINVAL, "params.seed",
	 "seed: must be at most 2147483647 (got 2147483648)"},
	{"fetch", "threads", "time_limit", "50ms", -EINVAL,
	 "options.time_limit", "time_limit: must be at least 100ms (got 50ms)"},
	{"fetch", "threads", "time_limit", "11m", -EINVAL, "options.time_limit",
	 "time_limit: expected a duration such as 200ms or 1.5s (got '11m')"},
	{"fetch", "threads", "time_limit", "601s", -EINVAL,
	 "options.time_limit", "time_limit: must be at most 600s (got 601s)"},
	{"crunch", "threads", "iterations", "1e13", -EINVAL,
	 "params.iterations",
	 "iterations: must be at most 1000000000000 (got 1e13)"},
	{"mixed", "threads", "compute", "11s", -EINVAL, "params.compute",
	 "compute: must be at most 10s (got 11s)"},
	{"fetch", "thread-pool", "workers", "-1", -EINVAL, "options.workers",
	 "workers: must be at least 0 (got -1)"},
	{"fetch", "threads", "nope", "1", -ENOENT, "nope", NULL},
	{"fetch", "threads", "params.gil", "on", -ENOENT, "params.gil", NULL},
	{"fetch", "threads", "options.tasks", "3", -ENOENT, "options.tasks",
	 NULL},
	{"fetch", "sequential", "workers", "4", -ENOENT, "workers", NULL},
	/* Accepted forms. */
	{"fetch", "threads", "tasks", " 7 ", 0, "", ""},
	{"fetch", "threads", "tasks", "1e3", 0, "", ""},
	{"fetch", "threads", "tasks", "100000", 0, "", ""},
	{"fetch", "threads", "duration", "1.5s", 0, "", ""},
	{"fetch", "threads", "duration", "60s", 0, "", ""},
	{"fetch", "threads", "duration", "250", 0, "", ""},
	{"fetch", "threads", "gil", "OFF", 0, "", ""},
	{"fetch", "threads", "params.tasks", "5", 0, "", ""},
	{"fetch", "threads", "options.gil", "off", 0, "", ""},
	{"fetch", "threads", "jitter", "0.25", 0, "", ""},
	{"fetch", "threads", "time_limit", "100ms", 0, "", ""},
};

static void test_set_messages(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		const struct set_case *c = &set_cases[i];
		struct spec *s = new_spec(c->workload, c->model);
		struct spec_error err = {0};
		int rc = spec_set(s, c->key, c->value, &err);

		if (rc != c->rc)
			fail_msg("%s=%s: rc %d, expected %d (%s)", c->key,
				 c->value, rc, c->rc, err.message);
		if (rc != 0) {
			assert_string_equal(err.field, c->field);
			if (c->message)
				assert_string_equal(err.message, c->message);
			else if (!strstr(err.message, "not a"))
				fail_msg("%s: '%s'", c->key, err.message);
		}
		free(s);
	}
}

static void test_set_values(void **state)
{
	struct spec *s = new_spec("fetch", "threads");
	struct spec_error err;

	(void)state;
	assert_int_equal(spec_int(&s->params, "tasks"), 3);
	assert_false(spec_given(&s->params, "tasks"));
	assert_int_equal(spec_ns(&s->params, "duration"), NS_PER_S);
	assert_string_equal(spec_text(&s->params, "io"), "net");
	assert_true(spec_float(&s->params, "jitter") == 0.0);
	assert_int_equal(spec_ns(&s->options, "time_limit"), 60 * NS_PER_S);

	assert_int_equal(spec_set(s, "tasks", "1e3", &err), 0);
	assert_int_equal(spec_int(&s->params, "tasks"), 1000);
	assert_true(spec_given(&s->params, "tasks"));
	assert_int_equal(spec_set(s, "duration", "250", &err), 0);
	assert_int_equal(spec_ns(&s->params, "duration"), 250 * NS_PER_MS);
	assert_string_equal(spec_text(&s->params, "duration"), "250");
	assert_int_equal(spec_set(s, "gil", "OFF", &err), 0);
	assert_string_equal(spec_text(&s->options, "gil"), "off");
	assert_int_equal(spec_set(s, "jitter", "0.25", &err), 0);
	assert_true(spec_float(&s->params, "jitter") == 0.25);
	assert_null(spec_find(&s->params, "nope"));
	assert_non_null(spec_find(&s->options, "switch_interval"));
	free(s);
}

/* ---- every parameter of the catalog ------------------------------------- */

struct bad_value {
	const char *text;
	const char *expect; /* substring of the message; %s = a limit */
	int limit;	    /* 0: none, -1: the minimum, 1: the maximum */
};

static void limit_text(const struct param_def *d, double v, char *buf,
		       size_t size)
{
	if (d->type == PARAM_DURATION)
		util_format_duration_text((int64_t)v, buf, size);
	else if (d->type == PARAM_INT)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%g", v);
}

/* Checks one bad value: error naming the field and the limit, and the
 * value before it untouched. */
static void check_bad(struct spec *s, const char *section,
		      const struct param_def *d, const char *text,
		      const char *expect)
{
	char key[96], field[96];
	struct spec_error err;
	const struct param_set *set =
		strcmp(section, "params") == 0 ? &s->params : &s->options;
	const struct param_value *v = spec_find(set, d->name);
	struct param_value before;
	int rc;

	assert_non_null(v);
	memcpy(&before, v, sizeof(before));
	snprintf(key, sizeof(key), "%s.%s", section, d->name);
	snprintf(field, sizeof(field), "%s.%s", section, d->name);
	memset(&err, 0, sizeof(err));
	rc = spec_set(s, key, text, &err);
	if (rc != -EINVAL)
		fail_msg("%s %s=%s under %s: rc %d, expected -EINVAL",
			 s->workload, key, text, s->model, rc);
	assert_string_equal(err.field, field);
	if (strncmp(err.message, d->name, strlen(d->name)) != 0 ||
	    err.message[strlen(d->name)] != ':')
		fail_msg("%s=%s: message '%s' does not start with the name",
			 key, text, err.message);
	if (!strstr(err.message, expect))
		fail_msg("%s=%s: message '%s' lacks '%s'", key, text,
			 err.message, expect);
	/* Field by field: the bytes after text's terminator and the
	 * padding hold nothing, and need not be written. */
	if (before.def != v->def || before.given != v->given ||
	    before.i != v->i || memcmp(&before.f, &v->f, sizeof(v->f)) != 0 ||
	    strcmp(before.text, v->text) != 0)
		fail_msg("%s=%s: the failed set changed the spec", key, text);
}

static void check_param(struct spec *s, const char *section,
			const struct param_def *d)
{
	char buf[64], limit[48], expect[256];

	switch (d->type) {
	case PARAM_INT:
		check_bad(s, section, d, "garbage",
			  "expected a whole number (got 'garbage')");
		check_bad(s, section, d, "3ms", "expected a whole number");
		check_bad(s, section, d, "2.5", "expected a whole number");
		check_bad(s, section, d, "", "expected a whole number");
		snprintf(buf, sizeof(buf), "%.0f", d->min - 1);
		limit_text(d, d->min, limit, sizeof(limit));
		snprintf(expect, sizeof(expect), "must be at least %s (got %s)",
			 limit, buf);
		check_bad(s, section, d, buf, expect);
		snprintf(buf, sizeof(buf), "%.0f", d->max + 1);
		limit_text(d, d->max, limit, sizeof(limit));
		snprintf(expect, sizeof(expect), "must be at most %s (got %s)",
			 limit, buf);
		check_bad(s, section, d, buf, expect);
		break;
	case PARAM_DURATION:
		check_bad(s, section, d, "garbage",
			  "expected a duration such as 200ms or 1.5s (got "
			  "'garbage')");
		check_bad(s, section, d, "5kg", "expected a duration");
		check_bad(s, section, d, "5 minutes", "expected a duration");
		check_bad(s, section, d, "", "expected a duration");
		/* Negative, or below a positive minimum. */
		util_format_duration_text((int64_t)d->min - NS_PER_US, buf,
					  sizeof(buf));
		limit_text(d, d->min, limit, sizeof(limit));
		snprintf(expect, sizeof(expect), "must be at least %s (got %s)",
			 limit, buf);
		check_bad(s, section, d, buf, expect);
		util_format_duration_text((int64_t)d->max + NS_PER_MS, buf,
					  sizeof(buf));
		limit_text(d, d->max, limit, sizeof(limit));
		snprintf(expect, sizeof(expect), "must be at most %s (got %s)",
			 limit, buf);
		check_bad(s, section, d, buf, expect);
		break;
	case PARAM_FLOAT:
		check_bad(s, section, d, "garbage",
			  "expected a number (got 'garbage')");
		check_bad(s, section, d, "inf", "expected a number");
		snprintf(buf, sizeof(buf), "%g", d->min - 0.5);
		limit_text(d, d->min, limit, sizeof(limit));
		snprintf(expect, sizeof(expect), "must be at least %s", limit);
		check_bad(s, section, d, buf, expect);
		snprintf(buf, sizeof(buf), "%g", d->max + 0.5);
		limit_text(d, d->max, limit, sizeof(limit));
		snprintf(expect, sizeof(expect), "must be at most %s", limit);
		check_bad(s, section, d, buf, expect);
		break;
	case PARAM_ENUM:
		check_bad(s, section, d, "no-such-choice", "must be one of ");
		check_bad(s, section, d, "", "must be one of ");
		break;
	case PARAM_TEXT: {
		size_t n = (size_t)d->max + 1;
		char *big = malloc(n + 1);

		memset(big, 'a', n);
		big[n] = '\0';
		snprintf(expect, sizeof(expect),
			 "must be at most %.0f bytes (got %zu)", d->max, n);
		check_bad(s, section, d, big, expect);
		free(big);
		break;
	}
	}
}

static void test_every_parameter_rejects_bad_values(void **state)
{
	size_t w, m, i;

	(void)state;
	for (w = 0; w < workload_catalog_count; w++) {
		const struct workload *wl = workload_catalog[w];
		struct spec *s = new_spec(wl->name, model_catalog[0]->name);

		for (i = 0; i < wl->n_params; i++)
			check_param(s, "params", &wl->params[i]);
		free(s);
	}
	for (m = 0; m < model_catalog_count; m++) {
		const struct model_ops *mo = model_catalog[m];
		struct spec *s = new_spec("fetch", mo->name);

		for (i = 0; i < mo->n_options; i++)
			check_param(s, "options", &mo->options[i]);
		for (i = 0; i < spec_common_options_count; i++)
			check_param(s, "options", &spec_common_options[i]);
		free(s);
	}
}

/* Every default is within its limits, and every entry documents itself. */
static void test_catalog_defaults_are_valid(void **state)
{
	size_t w, m;
	struct spec_error err;

	(void)state;
	for (w = 0; w < workload_catalog_count; w++) {
		for (m = 0; m < model_catalog_count; m++) {
			struct spec *s = new_spec(workload_catalog[w]->name,
						  model_catalog[m]->name);
			size_t i;

			for (i = 0; i < s->params.count; i++)
				assert_true(s->params.values[i].def->help &&
					    s->params.values[i].def->help[0]);
			/* A model may refuse a program it cannot run (one
			 * whose tasks share objects, under interpreters),
			 * naming itself; nothing else may be refused. */
			if (spec_validate(s, &err) != 0 &&
			    (!model_catalog[m]->check_program ||
			     strcmp(err.field, "model") != 0))
				fail_msg("defaults of %s under %s: %s: %s",
					 s->workload, s->model, err.field,
					 err.message);
			free(s);
		}
	}
}

/* ---- whole-spec checks -------------------------------------------------- */

static void test_init_errors(void **state)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err;

	(void)state;
	assert_int_equal(spec_init(s, "nope", "threads", &err), -EINVAL);
	assert_string_equal(err.field, "workload");
	assert_non_null(strstr(err.message, "workload: unknown 'nope' "
					    "(expected fetch, crunch"));
	assert_int_equal(spec_init(s, "fetch", "fibers", &err), -EINVAL);
	assert_string_equal(err.field, "model");
	assert_non_null(strstr(err.message, "model: unknown 'fibers' "
					    "(expected sequential"));
	assert_int_equal(spec_init(s, "", "threads", &err), -EINVAL);
	assert_string_equal(err.field, "workload");
	assert_int_equal(spec_init(s, "fetch", NULL, &err), -EINVAL);
	assert_string_equal(err.field, "model");
	free(s);
}

static void test_validate_model_limit(void **state)
{
	const struct model_ops *threads = model_find("threads");
	struct spec *s = new_spec("fetch", "threads");
	struct spec_error err;
	char value[32], message[160];

	(void)state;
	assert_non_null(threads);
	assert_true(threads->max_tasks > 0 && threads->max_tasks < 100000);
	snprintf(value, sizeof(value), "%u", threads->max_tasks);
	assert_int_equal(spec_set(s, "tasks", value, &err), 0);
	assert_int_equal(spec_validate(s, &err), 0);
	snprintf(value, sizeof(value), "%u", threads->max_tasks + 1);
	assert_int_equal(spec_set(s, "tasks", value, &err), 0);
	assert_int_equal(spec_validate(s, &err), -EINVAL);
	assert_string_equal(err.field, "params.tasks");
	snprintf(message, sizeof(message),
		 "tasks: at most %u tasks under threads (got %u)",
		 threads->max_tasks, threads->max_tasks + 1);
	assert_string_equal(err.message, message);
	free(s);
}

struct validate_case {
	const char *workload, *key, *value;
	const char *field;
	const char *message;
	int column;
};

static const struct validate_case validate_cases[] = {
	{"fetch", "durations", "1.5s,abc,1s", "params.durations",
	 "durations: entry 2: expected a duration such as 1.5s (got 'abc')", 0},
	{"fetch", "durations", "1.5s,61s", "params.durations",
	 "durations: entry 2: must be at most 60s (got '61s')", 0},
	{"fetch", "durations", "1s,-1s", "params.durations",
	 "durations: entry 2: must be at least 0s (got '-1s')", 0},
	{"fetch", "durations", "1s,,2s", "params.durations",
	 "durations: entry 2: expected a duration such as 1.5s (got '')", 0},
	{"custom", "program", "3 x (cpu 20ms, cpu abc)", "params.program",
	 "program: column 20: expected a duration such as 20ms after 'cpu'",
	 20},
	{"custom", "program", "frob a", "params.program",
	 "program: column 1: unknown step 'frob' (expected cpu, sleep...", 1},
	/* The disk budget, one rule for every workload: each step within
	 * its own limit, the run over 1 GiB in all. */
	{"custom", "program", "10000 x (disk write 268435456)",
	 "params.program",
	 "program: the disk steps read and write 2684354560000 bytes in all "
	 "tasks together; a run may use at most 1073741824 bytes (1 GiB) of "
	 "disk",
	 0},
	{"custom", "program",
	 "2 x (disk write 256MiB, disk read 256MiB); "
	 "disk write 1B",
	 "params.program",
	 "program: the disk steps read and write 1073741825 bytes in all...",
	 0},
};

static void test_validate_messages(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]);
	     i++) {
		const struct validate_case *c = &validate_cases[i];
		struct spec *s = new_spec(c->workload, "sequential");
		struct spec_error err = {0};

		assert_int_equal(spec_set(s, c->key, c->value, &err), 0);
		assert_int_equal(spec_validate(s, &err), -EINVAL);
		assert_string_equal(err.field, c->field);
		if (strstr(c->message, "...")) /* a prefix */
			assert_int_equal(strncmp(err.message, c->message,
						 strlen(c->message) - 3),
					 0);
		else
			assert_string_equal(err.message, c->message);
		assert_int_equal(err.column, c->column);
		free(s);
	}
}

/* The files workload is held to the same budget: at it is fine, a byte
 * over is refused naming its size. */
static void test_disk_budget_files(void **state)
{
	struct spec *s = new_spec("files", "thread-pool");
	struct spec_error err = {0};

	(void)state;
	assert_int_equal(spec_set(s, "files", "4", &err), 0);
	assert_int_equal(spec_set(s, "size", "268435456", &err), 0);
	assert_int_equal(spec_validate(s, &err), 0);
	assert_int_equal(spec_set(s, "files", "5", &err), 0);
	assert_int_equal(spec_validate(s, &err), -EINVAL);
	assert_string_equal(err.field, "params.size");
	assert_non_null(strstr(err.message, "1342177280 bytes"));
	assert_non_null(strstr(err.message, "at most 1073741824 bytes"));
	free(s);
}

static void test_durations_entry_limit(void **state)
{
	struct spec *s = new_spec("fetch", "sequential");
	struct spec_error err;
	char *list = malloc(1001 * 2 + 1);
	size_t i;

	(void)state;
	for (i = 0; i < 1001; i++)
		memcpy(list + 2 * i, "1,", 2);
	list[1001 * 2 - 1] = '\0';
	assert_int_equal(spec_set(s, "durations", list, &err), 0);
	assert_int_equal(spec_validate(s, &err), -EINVAL);
	assert_string_equal(err.field, "params.durations");
	assert_string_equal(err.message, "durations: at most 1000 entries");
	list[1000 * 2 - 1] = '\0';
	assert_int_equal(spec_set(s, "durations", list, &err), 0);
	assert_int_equal(spec_validate(s, &err), 0);
	free(list);
	free(s);
}

/* ---- JSON --------------------------------------------------------------- */

struct json_case {
	const char *body;
	int rc;
	const char *field;
	const char *message; /* substring; NULL: any */
};

static const struct json_case json_cases[] = {
	{"{\"workload\":\"fetch\",\"model\":\"threads\"}", 0, NULL, NULL},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "5,\"duration\":\"100ms\",\"jitter\":0.5,\"io\":\"sleep\"},"
	 "\"options\":{\"gil\":false,\"switch_interval\":2}}",
	 0, NULL, NULL},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "null}}",
	 0, NULL, NULL},
	{"[1,2]", -EINVAL, "body", "expected a JSON object"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"colour\":1}", -EINVAL,
	 "colour", "colour: unknown key"},
	{"{\"model\":\"threads\"}", -EINVAL, "workload", "workload: required"},
	{"{\"workload\":\"fetch\"}", -EINVAL, "model", "model: required"},
	{"{\"workload\":3,\"model\":\"threads\"}", -EINVAL, "workload",
	 "workload: expected a string"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"foo\":1}"
	 "}",
	 -EINVAL, "params.foo", "foo: not a parameter of fetch"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"options\":{\"tasks\""
	 ":1}}",
	 -EINVAL, "options.tasks", "tasks: not an option of threads"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "200000}}",
	 -EINVAL, "params.tasks", "tasks: must be at most 100000 (got 200000)"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "[1]}}",
	 -EINVAL, "params.tasks",
	 "tasks: expected a string, a number or a boolean"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "true}}",
	 -EINVAL, "params.tasks",
	 "tasks: expected a whole number (got 'true')"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "2.5}}",
	 -EINVAL, "params.tasks", "tasks: expected a whole number (got '2.5')"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"duratio"
	 "n\":90000}}",
	 -EINVAL, "params.duration",
	 "duration: must be at most 60s (got "
	 "90000)"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":5}", -EINVAL,
	 "params", "params: expected an object"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":{\"tasks\":"
	 "20000}}",
	 -EINVAL, "params.tasks", "tasks: at most 10000 tasks under threads"},
	{"{\"workload\":\"custom\",\"model\":\"threads\",\"params\":{\"progra"
	 "m\":\"cpu 1ms; frob a\"}}",
	 -EINVAL, "params.program", "program: column 10: unknown step 'frob'"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"id\":\"ok-id_1\"}", 0,
	 NULL, NULL},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"id\":\"../etc\"}",
	 -EINVAL, "id", "id: expected"},
	{"{\"workload\":\"fetch\",\"model\":\"threads\",\"options\":{\"gil\":"
	 "\"maybe\"}}",
	 -EINVAL, "options.gil", "gil: must be one of on, off (got 'maybe')"},
};

static void test_from_json(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const struct json_case *c = &json_cases[i];
		struct spec *s = calloc(1, sizeof(*s));
		struct spec_error err = {0};
		json_error_t jerr;
		json_t *body = json_loads(c->body, 0, &jerr);
		int rc;

		if (!body)
			fail_msg("bad test JSON %s: %s", c->body, jerr.text);
		rc = spec_from_json(body, s, &err);
		if (rc != c->rc)
			fail_msg("%s: rc %d (%s: %s)", c->body, rc, err.field,
				 err.message);
		if (rc != 0) {
			assert_string_equal(err.field, c->field);
			if (c->message && !strstr(err.message, c->message))
				fail_msg("%s: '%s' lacks '%s'", c->body,
					 err.message, c->message);
		}
		json_decref(body);
		free(s);
	}
}

static void test_from_json_values(void **state)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err;
	json_t *body = json_pack(
		"{s:s, s:s, s:s, s:{s:i, s:i, s:f, s:s}, s:{s:b, s:f}}", "id",
		"run-1", "workload", "fetch", "model", "threads", "params",
		"tasks", 5, "duration", 1500, "jitter", 0.5, "io", "sleep",
		"options", "gil", 0, "switch_interval", 2.5);

	(void)state;
	assert_int_equal(spec_from_json(body, s, &err), 0);
	assert_string_equal(s->id, "run-1");
	assert_int_equal(spec_int(&s->params, "tasks"), 5);
	/* A number for a duration is milliseconds. */
	assert_int_equal(spec_ns(&s->params, "duration"), 1500 * NS_PER_MS);
	assert_true(spec_float(&s->params, "jitter") == 0.5);
	assert_string_equal(spec_text(&s->params, "io"), "sleep");
	/* A boolean for an on|off option. */
	assert_string_equal(spec_text(&s->options, "gil"), "off");
	assert_int_equal(spec_ns(&s->options, "switch_interval"),
			 2500 * NS_PER_US);
	assert_false(spec_given(&s->params, "seed"));
	json_decref(body);
	free(s);
}

static void test_to_json_round_trip(void **state)
{
	struct spec *a = new_spec("mixed", "thread-pool");
	struct spec *b = calloc(1, sizeof(*b));
	struct spec_error err;
	json_t *obj, *again;
	size_t i;

	(void)state;
	assert_int_equal(spec_set(a, "tasks", "7", &err), 0);
	assert_int_equal(spec_set(a, "wait", "1.5s", &err), 0);
	assert_int_equal(spec_set(a, "workers", "3", &err), 0);
	util_strlcpy(a->id, "abc", sizeof(a->id));
	obj = spec_to_json(a);
	assert_string_equal(json_string_value(json_object_get(obj, "workload")),
			    "mixed");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(obj, "params"), "wait")),
			    "1.5s");
	assert_int_equal(spec_from_json(obj, b, &err), 0);
	assert_string_equal(b->id, "abc");
	assert_int_equal(a->params.count, b->params.count);
	for (i = 0; i < a->params.count; i++) {
		assert_int_equal(a->params.values[i].i, b->params.values[i].i);
		assert_string_equal(a->params.values[i].text,
				    b->params.values[i].text);
	}
	for (i = 0; i < a->options.count; i++)
		assert_int_equal(a->options.values[i].i,
				 b->options.values[i].i);
	again = spec_to_json(b);
	assert_true(json_equal(obj, again));
	json_decref(obj);
	json_decref(again);
	free(a);
	free(b);
}

/* ---- the catalog as the page reads it ----------------------------------- */

static void check_param_json(const json_t *p)
{
	static const char *const fields[] = {"name",	"type", "unit",
					     "default", "min",	"max",
					     "choices", "help"};
	const char *type;
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!json_object_get(p, fields[i]))
			fail_msg("parameter %s lacks '%s'",
				 json_string_value(json_object_get(p, "name")),
				 fields[i]);
	type = json_string_value(json_object_get(p, "type"));
	assert_non_null(type);
	assert_true(json_string_length(json_object_get(p, "help")) > 0);
	if (strcmp(type, "enum") == 0) {
		assert_true(json_is_array(json_object_get(p, "choices")));
		assert_true(json_array_size(json_object_get(p, "choices")) >=
			    2);
	} else {
		assert_true(json_is_number(json_object_get(p, "min")));
		assert_true(json_is_number(json_object_get(p, "max")));
	}
	if (strcmp(type, "duration") == 0) {
		assert_string_equal(
			json_string_value(json_object_get(p, "unit")), "ms");
		assert_true(json_is_string(json_object_get(p, "min_text")));
		assert_true(json_is_string(json_object_get(p, "max_text")));
		assert_true(json_is_string(json_object_get(p, "default")));
	}
	if (strcmp(type, "int") == 0)
		assert_true(json_is_integer(json_object_get(p, "default")));
}

static void test_catalog_json(void **state)
{
	json_t *cat = spec_catalog_json();
	json_t *workloads = json_object_get(cat, "workloads");
	json_t *models = json_object_get(cat, "models");
	json_t *w, *m, *p, *fetch = NULL;
	size_t i, j;

	(void)state;
	assert_true(json_is_array(workloads));
	assert_int_equal(json_array_size(workloads), workload_catalog_count);
	assert_int_equal(json_array_size(models), model_catalog_count);
	json_array_foreach(workloads, i, w) {
		assert_string_equal(
			json_string_value(json_object_get(w, "name")),
			workload_catalog[i]->name);
		assert_true(json_string_length(json_object_get(w, "help")) > 0);
		assert_int_equal(json_array_size(json_object_get(w, "params")),
				 workload_catalog[i]->n_params);
		json_array_foreach(json_object_get(w, "params"), j, p)
			check_param_json(p);
		if (strcmp(workload_catalog[i]->name, "fetch") == 0)
			fetch = w;
	}
	json_array_foreach(models, i, m) {
		assert_string_equal(
			json_string_value(json_object_get(m, "name")),
			model_catalog[i]->name);
		/* The model's own options, then time_limit. */
		assert_int_equal(json_array_size(json_object_get(m, "options")),
				 model_catalog[i]->n_options +
					 spec_common_options_count);
		json_array_foreach(json_object_get(m, "options"), j, p)
			check_param_json(p);
	}
	/* Spot check of values the page shows. */
	assert_non_null(fetch);
	p = json_array_get(json_object_get(fetch, "params"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "name")),
			    "tasks");
	assert_int_equal(json_integer_value(json_object_get(p, "default")), 3);
	assert_int_equal(json_integer_value(json_object_get(p, "max")), 100000);
	p = json_array_get(json_object_get(fetch, "params"), 1);
	assert_string_equal(json_string_value(json_object_get(p, "default")),
			    "1s");
	assert_true(json_number_value(json_object_get(p, "max")) == 60000.0);
	assert_string_equal(json_string_value(json_object_get(p, "max_text")),
			    "60s");
	json_decref(cat);
}

static void test_parse_value_direct(void **state)
{
	struct param_value v;
	struct spec_error err;

	(void)state;
	assert_int_equal(spec_parse_value(&spec_common_options[0], "2s", &v,
					  &err, "options."),
			 0);
	assert_int_equal(v.i, 2 * NS_PER_S);
	assert_ptr_equal(v.def, &spec_common_options[0]);
	assert_int_equal(spec_parse_value(&spec_common_options[0], "1h", &v,
					  &err, "options."),
			 -EINVAL);
	assert_string_equal(err.field, "options.time_limit");
	assert_int_equal(spec_parse_value(&spec_common_options[0], "1s", &v,
					  &err, NULL),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_messages),
		cmocka_unit_test(test_set_values),
		cmocka_unit_test(test_every_parameter_rejects_bad_values),
		cmocka_unit_test(test_catalog_defaults_are_valid),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_validate_model_limit),
		cmocka_unit_test(test_validate_messages),
		cmocka_unit_test(test_durations_entry_limit),
		cmocka_unit_test(test_disk_budget_files),
		cmocka_unit_test(test_from_json),
		cmocka_unit_test(test_from_json_values),
		cmocka_unit_test(test_to_json_round_trip),
		cmocka_unit_test(test_catalog_json),
		cmocka_unit_test(test_parse_value_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
