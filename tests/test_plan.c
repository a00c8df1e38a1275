/*
 * test_plan: the compare plan that `overlap compare` and POST
 * /api/compares share: which models a compare takes, which options each
 * model gets, and whose fault a rejected spec is.
 *
 * The option cases are read from the catalog (a model has workers or it
 * has not), so a model that grows an option is covered without editing
 * this file.
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
#include "plan.h"
#include "spec.h"

static bool model_declares(const struct model_ops *m, const char *name)
{
	for (size_t i = 0; i < m->n_options; i++)
		if (strcmp(m->options[i].name, name) == 0)
			return true;
	return false;
}

/* ---- the models --------------------------------------------------------- */

static void test_all_models(void **state)
{
	struct plan_models list;

	(void)state;
	plan_all_models(&list);
	assert_false(list.named);
	assert_int_equal(list.n, model_catalog_count);
	for (size_t i = 0; i < list.n; i++)
		assert_ptr_equal(list.models[i], model_catalog[i]);
}

static void test_add_model(void **state)
{
	struct plan_models list = {0};
	char names[256];

	(void)state;
	assert_int_equal(plan_add_model(&list, "threads"), 0);
	assert_true(list.named);
	assert_int_equal(plan_add_model(&list, "asyncio"), 0);
	assert_int_equal(plan_add_model(&list, "threads"), -EEXIST);
	assert_int_equal(plan_add_model(&list, "fibers"), -ENOENT);
	assert_int_equal(plan_add_model(&list, NULL), -ENOENT);
	assert_int_equal(list.n, 2);
	assert_string_equal(list.models[0]->name, "threads");
	assert_string_equal(list.models[1]->name, "asyncio");
	plan_model_names(names, sizeof(names));
	for (size_t i = 0; i < model_catalog_count; i++)
		assert_non_null(strstr(names, model_catalog[i]->name));
}

/* ---- the options -------------------------------------------------------- */

/* Every model gets the common options and exactly the options it
 * declares, in JSON (the API) as in text (the CLI). */
static void test_options_follow_the_catalog(void **state)
{
	(void)state;
	for (size_t i = 0; i < model_catalog_count; i++) {
		const struct model_ops *m = model_catalog[i];
		json_t *given = json_pack("{s:i, s:s, s:s}", "workers", 3,
					  "time_limit", "20s", "bogus", "1");
		json_t *got = plan_options_for(m, given);
		struct spec *spec = calloc(1, sizeof(*spec));
		struct spec_error err = {0};
		bool applied;

		assert_non_null(got);
		assert_true(plan_model_has_option(m, "time_limit"));
		assert_non_null(json_object_get(got, "time_limit"));
		assert_null(json_object_get(got, "bogus"));
		assert_int_equal(plan_model_has_option(m, "workers"),
				 model_declares(m, "workers"));
		assert_int_equal(json_object_get(got, "workers") != NULL,
				 model_declares(m, "workers"));

		assert_int_equal(spec_init(spec, "fetch", m->name, &err), 0);
		assert_int_equal(plan_set(spec, "workers", "3", &applied, &err),
				 0);
		assert_int_equal(applied, model_declares(m, "workers"));
		if (applied)
			assert_int_equal(spec_int(&spec->options, "workers"),
					 3);
		/* A parameter of the workload goes to every model. */
		assert_int_equal(plan_set(spec, "tasks", "7", &applied, &err),
				 0);
		assert_true(applied);
		assert_int_equal(spec_int(&spec->params, "tasks"), 7);
		/* A bad value is still an error, naming its field. */
		assert_int_equal(plan_set(spec, "tasks", "0", &applied, &err),
				 -EINVAL);
		assert_false(applied);
		assert_string_equal(err.field, "params.tasks");
		assert_true(plan_error_is_workload(&err));
		free(spec);
		json_decref(got);
		json_decref(given);
	}
}

/* ---- whose fault -------------------------------------------------------- */

static void test_error_is_workload(void **state)
{
	static const struct {
		const char *field;
		bool workload;
	} cases[] = {
		{"params.tasks", true},
		{"workload", true},
		{"", true},
		{"options.workers", false},
		{"model", false},
		{"options.time_limit", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spec_error err = {0};

		snprintf(err.field, sizeof(err.field), "%s", cases[i].field);
		assert_int_equal(plan_error_is_workload(&err),
				 cases[i].workload);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_models),
		cmocka_unit_test(test_add_model),
		cmocka_unit_test(test_options_follow_the_catalog),
		cmocka_unit_test(test_error_is_workload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
