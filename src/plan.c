/*
 * plan: which models a compare runs, and with which options (see plan.h).
 *
 * Everything here reads the model catalog (model.h) and the common options
 * (spec.h), so a compare follows whatever options the models grow without
 * a list of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

void plan_all_models(struct plan_models *out)
{
	out->n = 0;
	out->named = false;
	for (size_t i = 0; i < model_catalog_count && out->n < PLAN_MODELS_MAX;
	     i++)
		out->models[out->n++] = model_catalog[i];
}

int plan_add_model(struct plan_models *list, const char *name)
{
	const struct model_ops *m = name ? model_find(name) : NULL;

	if (!m)
		return -ENOENT;
	for (size_t i = 0; i < list->n; i++)
		if (list->models[i] == m)
			return -EEXIST;
	if (list->n == PLAN_MODELS_MAX)
		return -E2BIG;
	list->models[list->n++] = m;
	list->named = true;
	return 0;
}

const char *plan_model_names(char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < model_catalog_count && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 i ? ", " : "", model_catalog[i]->name);
	return buf;
}

bool plan_model_has_option(const struct model_ops *m, const char *name)
{
	for (size_t i = 0; i < m->n_options; i++)
		if (strcmp(m->options[i].name, name) == 0)
			return true;
	for (size_t i = 0; i < spec_common_options_count; i++)
		if (strcmp(spec_common_options[i].name, name) == 0)
			return true;
	return false;
}

json_t *plan_options_for(const struct model_ops *m, const json_t *options)
{
	json_t *out = json_object();
	const char *key;
	json_t *value;

	if (!options || !out)
		return out;
	json_object_foreach((json_t *)options, key, value) {
		if (plan_model_has_option(m, key))
			json_object_set(out, key, value);
	}
	return out;
}

int plan_set(struct spec *spec, const char *key, const char *value,
	     bool *applied, struct spec_error *err)
{
	const struct model_ops *m = model_find(spec->model);
	const char *option = NULL;
	int rc;

	*applied = false;
	/* A bare name is a parameter when the workload has it, as in
	 * spec_set(); otherwise it can only be an option. */
	if (strncmp(key, "options.", 8) == 0)
		option = key + 8;
	else if (strncmp(key, "params.", 7) != 0 &&
		 !spec_find(&spec->params, key))
		option = key;
	if (option && m && !plan_model_has_option(m, option))
		return 0;
	rc = spec_set(spec, key, value, err);
	*applied = rc == 0;
	return rc;
}

bool plan_error_is_workload(const struct spec_error *err)
{
	return strncmp(err->field, "params", 6) == 0 ||
	       strcmp(err->field, "workload") == 0 || err->field[0] == '\0';
}
