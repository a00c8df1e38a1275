/*
 * test_workload: each workload builds the tasks and steps it promises.
 *
 * Built through the workload's own build() from a spec made with
 * spec_init/spec_set, as a run does; checked by the program: how many
 * tasks, their names, the kind and length of each step, and which tasks
 * share a range of steps.
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
#include "program.h"
#include "spec.h"
#include "util.h"
#include "workload.h"

#define MS NS_PER_MS

/* Builds workload under sequential with the given key=value pairs
 * (NULL-terminated).  Fails the test on any error. */
static void build(const char *workload, struct program *p, ...)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err;
	const struct workload *w = workload_find(workload);
	const char *key;
	va_list ap;

	assert_non_null(w);
	if (spec_init(s, workload, "sequential", &err) != 0)
		fail_msg("%s", err.message);
	va_start(ap, p);
	while ((key = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);

		if (spec_set(s, key, value, &err) != 0)
			fail_msg("%s=%s: %s", key, value, err.message);
	}
	va_end(ap);
	if (spec_validate(s, &err) != 0)
		fail_msg("%s: %s", err.field, err.message);
	program_init(p);
	assert_int_equal(w->build(s, p, &err), 0);
	free(s);
}

static const struct step *task_step(const struct program *p, size_t task,
				    size_t i)
{
	assert_true(task < p->n_tasks);
	assert_true(i < p->tasks[task].n_steps);
	return &p->steps[p->tasks[task].first_step + i];
}

static void check_names(const struct program *p, const char *label)
{
	char name[48], want[48];
	size_t i;

	for (i = 0; i < p->n_tasks; i++) {
		snprintf(want, sizeof(want), "%s %zu", label, i + 1);
		assert_string_equal(program_task_name(p, (uint32_t)i, name,
						      sizeof(name)),
				    want);
	}
}

static void test_catalog(void **state)
{
	static const char *const required[] = {"fetch", "crunch", "mixed",
					       "custom"};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		assert_non_null(workload_find(required[i]));
	assert_null(workload_find("nope"));
	assert_null(workload_find(""));
	for (i = 0; i < workload_catalog_count; i++) {
		const struct workload *w = workload_catalog[i];

		assert_ptr_equal(workload_find(w->name), w);
		assert_non_null(w->build);
		assert_true(w->help && w->help[0]);
		assert_true(w->n_params <= SPEC_MAX_VALUES);
		for (j = i + 1; j < workload_catalog_count; j++)
			assert_string_not_equal(w->name,
						workload_catalog[j]->name);
	}
	for (i = 0; i < model_catalog_count; i++)
		assert_ptr_equal(model_find(model_catalog[i]->name),
				 model_catalog[i]);
	assert_null(model_find("fibers"));
}

static void test_fetch_default(void **state)
{
	struct program p;
	size_t i;

	(void)state;
	build("fetch", &p, NULL);
	assert_int_equal(p.n_tasks, 3);
	/* Identical requests share one step. */
	assert_int_equal(p.n_steps, 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(p.tasks[i].n_steps, 1);
		assert_int_equal(task_step(&p, i, 0)->kind, STEP_NET);
		assert_int_equal(task_step(&p, i, 0)->ns, 1000 * MS);
	}
	check_names(&p, "request");
	program_free(&p);
}

static void test_fetch_sleep_and_count(void **state)
{
	struct program p;

	(void)state;
	build("fetch", &p, "tasks", "8", "duration", "1.5s", "io", "sleep",
	      NULL);
	assert_int_equal(p.n_tasks, 8);
	assert_int_equal(task_step(&p, 7, 0)->kind, STEP_SLEEP);
	assert_int_equal(task_step(&p, 7, 0)->ns, 1500 * MS);
	program_free(&p);
}

static void test_fetch_durations(void **state)
{
	struct program p;

	(void)state;
	/* The list overrides tasks and duration. */
	build("fetch", &p, "durations", "1.5s,2s,1s", "tasks", "10", "duration",
	      "5s", NULL);
	assert_int_equal(p.n_tasks, 3);
	assert_int_equal(task_step(&p, 0, 0)->ns, 1500 * MS);
	assert_int_equal(task_step(&p, 1, 0)->ns, 2000 * MS);
	assert_int_equal(task_step(&p, 2, 0)->ns, 1000 * MS);
	assert_int_equal(task_step(&p, 2, 0)->kind, STEP_NET);
	check_names(&p, "request");
	program_free(&p);
}

static void jittered(const char *seed, int64_t *ns, size_t n)
{
	struct program p;
	size_t i;

	build("fetch", &p, "tasks", "50", "duration", "1s", "jitter", "0.5",
	      "seed", seed, NULL);
	assert_int_equal(p.n_tasks, n);
	for (i = 0; i < n; i++)
		ns[i] = task_step(&p, i, 0)->ns;
	program_free(&p);
}

static void test_fetch_jitter(void **state)
{
	int64_t a[50], b[50], c[50];
	size_t i, differ_ab = 0, distinct = 0;

	(void)state;
	jittered("7", a, 50);
	jittered("7", b, 50);
	jittered("8", c, 50);
	for (i = 0; i < 50; i++) {
		/* Within [1-j, 1+j] of the base. */
		assert_true(a[i] >= 500 * MS && a[i] <= 1500 * MS);
		/* The same seed repeats the run exactly. */
		assert_int_equal(a[i], b[i]);
		differ_ab += a[i] != c[i];
		distinct += i > 0 && a[i] != a[i - 1];
	}
	assert_true(differ_ab > 40);
	assert_true(distinct > 40);
}

static void test_crunch(void **state)
{
	struct program p;

	(void)state;
	build("crunch", &p, NULL);
	assert_int_equal(p.n_tasks, 2);
	assert_int_equal(task_step(&p, 1, 0)->kind, STEP_CPU);
	assert_int_equal(task_step(&p, 1, 0)->ns, 1000 * MS);
	assert_int_equal(task_step(&p, 1, 0)->n, 0);
	check_names(&p, "task");
	program_free(&p);

	build("crunch", &p, "tasks", "4", "iterations", "5000", NULL);
	assert_int_equal(p.n_tasks, 4);
	assert_int_equal(task_step(&p, 3, 0)->kind, STEP_CPU);
	assert_int_equal(task_step(&p, 3, 0)->n, 5000);
	program_free(&p);
}

static void test_mixed(void **state)
{
	struct program p;
	size_t i;

	(void)state;
	build("mixed", &p, NULL);
	assert_int_equal(p.n_tasks, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(p.tasks[i].n_steps, 3);
		assert_int_equal(task_step(&p, i, 0)->kind, STEP_CPU);
		assert_int_equal(task_step(&p, i, 0)->ns, 20 * MS);
		assert_int_equal(task_step(&p, i, 1)->kind, STEP_NET);
		assert_int_equal(task_step(&p, i, 1)->ns, 200 * MS);
		assert_int_equal(task_step(&p, i, 2)->kind, STEP_CPU);
		assert_int_equal(task_step(&p, i, 2)->ns, 10 * MS);
	}
	check_names(&p, "task");
	program_free(&p);

	build("mixed", &p, "tasks", "2", "compute", "5ms", "wait", "1s",
	      "compute_after", "0", "io", "sleep", NULL);
	assert_int_equal(p.n_tasks, 2);
	assert_int_equal(task_step(&p, 1, 0)->ns, 5 * MS);
	assert_int_equal(task_step(&p, 1, 1)->kind, STEP_SLEEP);
	assert_int_equal(task_step(&p, 1, 1)->ns, 1000 * MS);
	assert_int_equal(task_step(&p, 1, 2)->ns, 0);
	program_free(&p);
}

static void test_custom(void **state)
{
	struct program p;

	(void)state;
	build("custom", &p, NULL);
	assert_int_equal(p.n_tasks, 3);
	assert_int_equal(p.tasks[0].n_steps, 3);
	assert_int_equal(task_step(&p, 2, 1)->kind, STEP_NET);
	assert_int_equal(task_step(&p, 2, 1)->ns, 200 * MS);
	check_names(&p, "task");
	program_free(&p);

	build("custom", &p, "program", "2 x (sleep 5ms); cpu 1ms", NULL);
	assert_int_equal(p.n_tasks, 3);
	assert_int_equal(task_step(&p, 0, 0)->kind, STEP_SLEEP);
	assert_int_equal(task_step(&p, 2, 0)->kind, STEP_CPU);
	program_free(&p);
}

static void test_custom_error_column(void **state)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_error err;
	struct program p;

	(void)state;
	assert_int_equal(spec_init(s, "custom", "threads", &err), 0);
	assert_int_equal(spec_set(s, "program", "cpu 1ms, net x", &err), 0);
	program_init(&p);
	assert_int_equal(workload_find("custom")->build(s, &p, &err), -EINVAL);
	assert_string_equal(err.field, "params.program");
	assert_int_equal(err.column, 14);
	assert_string_equal(err.message, "program: column 14: expected a "
					 "duration such as 20ms after 'net'");
	program_free(&p);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_fetch_default),
		cmocka_unit_test(test_fetch_sleep_and_count),
		cmocka_unit_test(test_fetch_durations),
		cmocka_unit_test(test_fetch_jitter),
		cmocka_unit_test(test_crunch),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_custom_error_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
