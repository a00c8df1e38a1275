/*
 * sweeps: a workload at several values of one parameter (see sweeps.h).
 *
 * Each point's spec goes through spec_from_json like any POST /api/runs
 * body, with the swept value put where the parameter lives (params or
 * options), so a sweep accepts exactly what single runs accept; an error
 * in one value is a 400 naming "values".  "engine" and "python" are a
 * run's too: under engine cpython every point runs in that interpreter,
 * and what it cannot run is a 400 before any point is queued.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines.h"
#include "model.h"
#include "plan.h"
#include "store.h"
#include "sweep.h"
#include "sweeps.h"
#include "util.h"

static void set_err(struct spec_error *err, const char *field,
		    const char *message)
{
	util_strlcpy(err->field, field, sizeof(err->field));
	util_strlcpy(err->message, message, sizeof(err->message));
	err->column = 0;
}

/* The body's shape, its models and its values as text.  0 or -EINVAL. */
static int read_body(const json_t *body, struct plan_models *models,
		     char (*texts)[64], size_t *n_values,
		     struct spec_error *err)
{
	static const char *const known[] = {"workload", "params", "options",
					    "model",	"models", "param",
					    "values",	"engine", "python"};
	const json_t *list = json_object_get(body, "models");
	const json_t *one = json_object_get(body, "model");
	const json_t *values = json_object_get(body, "values");
	const char *key;
	json_t *value;
	char msg[160];

	if (!json_is_object(body)) {
		set_err(err, "", "expected a JSON object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)body, key, value) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok) {
			snprintf(msg, sizeof(msg),
				 "%.40s: unknown key (expected workload, "
				 "params, options, models, param, values, "
				 "engine, python)",
				 key);
			set_err(err, key, msg);
			return -EINVAL;
		}
	}
	if (json_object_get(body, "options") &&
	    !json_is_object(json_object_get(body, "options"))) {
		set_err(err, "options", "options: expected an object");
		return -EINVAL;
	}
	if (!json_is_string(json_object_get(body, "param"))) {
		set_err(err, "param",
			"param: expected the name of a parameter or option, "
			"such as \"workers\"");
		return -EINVAL;
	}
	if (!json_is_array(values) || json_array_size(values) == 0 ||
	    json_array_size(values) > SWEEP_VALUES_MAX) {
		snprintf(msg, sizeof(msg),
			 "values: expected a list of 1 to %d values",
			 SWEEP_VALUES_MAX);
		set_err(err, "values", msg);
		return -EINVAL;
	}
	*n_values = json_array_size(values);
	for (size_t i = 0; i < *n_values; i++) {
		const json_t *v = json_array_get(values, i);

		if (json_is_integer(v))
			snprintf(texts[i], 64, "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
		else if (json_is_real(v))
			snprintf(texts[i], 64, "%.17g", json_real_value(v));
		else if (json_is_string(v) && strlen(json_string_value(v)) < 64)
			util_strlcpy(texts[i], json_string_value(v), 64);
		else {
			set_err(err, "values",
				"values: each value is a number, or a text "
				"such as \"100ms\"");
			return -EINVAL;
		}
	}
	plan_all_models(models);
	if (one && list) {
		set_err(err, "models", "models: give model or models");
		return -EINVAL;
	}
	if (one) {
		models->n = 0;
		if (plan_add_model(models, json_string_value(one)) < 0) {
			set_err(err, "model", "model: unknown model");
			return -EINVAL;
		}
		return 0;
	}
	if (!list || json_is_null(list))
		return 0;
	models->n = 0;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > PLAN_MODELS_MAX) {
		set_err(err, "models",
			"models: expected a list of 1 to 16 model names");
		return -EINVAL;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *name = json_string_value(json_array_get(list, i));

		if (plan_add_model(models, name) < 0) {
			snprintf(msg, sizeof(msg),
				 "models: unknown or repeated model '%.40s'",
				 name ? name : "(not a string)");
			set_err(err, "models", msg);
			return -EINVAL;
		}
	}
	return 0;
}

/* The spec of model m at value text (NULL: none), through spec_from_json.
 * field: where the parameter lives ("options.workers"). */
static int point_spec(const json_t *body, const struct model_ops *m,
		      const char *field, const char *text, struct spec *spec,
		      struct spec_error *err)
{
	json_t *params = json_deep_copy(json_object_get(body, "params"));
	json_t *options = plan_options_for(m, json_object_get(body, "options"));
	json_t *one;
	int rc;

	if (!params)
		params = json_object();
	if (text && field) {
		bool option = strncmp(field, "options.", 8) == 0;

		json_object_set_new(option ? options : params,
				    strchr(field, '.') + 1, json_string(text));
	}
	one = json_pack("{s:O*, s:s, s:o, s:o, s:O*, s:O*}", "workload",
			json_object_get(body, "workload"), "model", m->name,
			"params", params, "options", options, "engine",
			json_object_get(body, "engine"), "python",
			json_object_get(body, "python"));
	if (!one)
		return -ENOMEM;
	rc = spec_from_json(one, spec, err);
	json_decref(one);
	if (rc == 0)
		spec->id[0] = '\0';
	return rc;
}

static void iso_now(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sweeps_create(struct runs *r, struct store *st, const json_t *body,
		  json_t **out, struct spec_error *err)
{
	struct plan_models models;
	char texts[SWEEP_VALUES_MAX][64];
	const char *values[SWEEP_VALUES_MAX];
	struct spec *specs[SWEEPS_POINTS_MAX] = {0};
	const struct model_ops *used[SWEEPS_POINTS_MAX];
	double numbers[SWEEPS_POINTS_MAX];
	char ids[SWEEPS_POINTS_MAX][STORE_ID_SIZE];
	char sweep_id[STORE_ID_SIZE], name[64], created[32];
	struct spec *probe = calloc(1, sizeof(*probe));
	const char *param;
	json_t *record = NULL, *points, *numbers_json;
	size_t n_values = 0, n = 0;
	char *text;
	int rc;

	*out = NULL;
	if (!probe)
		return -ENOMEM;
	rc = read_body(body, &models, texts, &n_values, err);
	if (rc < 0)
		goto out_free;
	param = json_string_value(json_object_get(body, "param"));
	for (size_t v = 0; v < n_values; v++)
		values[v] = texts[v];
	for (size_t i = 0; i < models.n; i++) {
		const struct model_ops *m = models.models[i];
		struct spec_error e = {0};
		struct sweep_param p;

		rc = point_spec(body, m, NULL, NULL, probe, &e);
		if (rc == -ENOMEM)
			goto out_free;
		if (rc == 0)
			rc = sweep_resolve(probe, param, &p, &e);
		/* The engine and its interpreter are the sweep's, not a
		 * model's: what they cannot be, or cannot run, is refused
		 * outright (a model the engine lacks is the model's). */
		if (rc == 0 && engines_check(probe, &e) < 0)
			rc = -EPERM;
		if (rc == -EPERM ||
		    (rc < 0 && (strcmp(e.field, "engine") == 0 ||
				strcmp(e.field, "python") == 0))) {
			*err = e;
			rc = -EINVAL;
			goto out_free;
		}
		if (rc < 0 && !models.named && !plan_error_is_workload(&e) &&
		    (rc == -ENOENT || strcmp(e.field, "param") != 0))
			continue; /* not this model's: the others go on */
		if (rc < 0) {
			*err = e;
			rc = -EINVAL;
			goto out_free;
		}
		rc = sweep_check(&p, values, n_values, err);
		if (rc < 0)
			goto out_free;
		for (size_t v = 0; v < n_values; v++) {
			if (n == SWEEPS_POINTS_MAX) {
				char msg[96];

				snprintf(msg, sizeof(msg),
					 "values: at most %d runs in one sweep "
					 "(models x values)",
					 SWEEPS_POINTS_MAX);
				set_err(err, "values", msg);
				rc = -EINVAL;
				goto out_free;
			}
			specs[n] = calloc(1, sizeof(*specs[n]));
			if (!specs[n]) {
				rc = -ENOMEM;
				goto out_free;
			}
			memset(&e, 0, sizeof(e));
			rc = point_spec(body, m, p.field, values[v], specs[n],
					&e);
			if (rc < 0) {
				snprintf(err->message, sizeof(err->message),
					 "values: %.200s (under %.32s)",
					 e.message, m->name);
				util_strlcpy(err->field, "values",
					     sizeof(err->field));
				err->column = 0;
				rc = rc == -ENOMEM ? rc : -EINVAL;
				goto out_free;
			}
			used[n] = m;
			numbers[n] = sweep_number(&p, values[v]);
			n++;
		}
	}
	if (n == 0) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "param: no model has %.60s with this workload", param);
		set_err(err, "param", msg);
		rc = -EINVAL;
		goto out_free;
	}

	store_id_new(sweep_id);
	rc = runs_submit_group(r, specs, n,
			       &(struct runs_group){RUNS_GROUP_SWEEP, sweep_id},
			       ids);
	if (rc < 0)
		goto out_free;
	iso_now(created, sizeof(created));
	points = json_array();
	numbers_json = json_array();
	*out = json_pack("{s:s, s:[]}", "id", sweep_id, "runs");
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(
			points, json_pack("{s:s, s:s, s:o}", "run", ids[i],
					  "model", used[i]->name, "value",
					  sweep_number_json(numbers[i])));
		json_array_append_new(json_object_get(*out, "runs"),
				      json_string(ids[i]));
	}
	for (size_t i = 0; i < n_values && i < n; i++)
		json_array_append_new(numbers_json,
				      sweep_number_json(numbers[i]));
	record = json_pack("{s:s, s:O*, s:O*, s:O*, s:s, s:o, s:s, s:o, s:s, "
			   "s:O*}",
			   "id", sweep_id, "workload",
			   json_object_get(body, "workload"), "params",
			   json_object_get(body, "params"), "options",
			   json_object_get(body, "options"), "param", param,
			   "values", numbers_json, "created_at", created,
			   "points", points, "engine", specs[0]->engine,
			   "python", json_object_get(body, "python"));
	text = record ? json_dumps(record, JSON_COMPACT) : NULL;
	snprintf(name, sizeof(name), "sweeps/%s.json", sweep_id);
	rc = text ? store_write(st, name, text, strlen(text)) : -ENOMEM;
	free(text);
	json_decref(record);
	if (rc < 0) {
		/* The runs are queued and will show in the history. */
		json_decref(*out);
		*out = NULL;
	}

out_free:
	for (size_t i = 0; i < SWEEPS_POINTS_MAX; i++)
		free(specs[i]);
	free(probe);
	return rc;
}

json_t *sweeps_get(struct runs *r, struct store *st, const char *id, int *rc)
{
	json_t *record, *points, *out;
	char name[64];
	size_t len;
	char *text;

	snprintf(name, sizeof(name), "sweeps/%s.json", id);
	*rc = store_read(st, name, &text, &len);
	if (*rc < 0)
		return NULL;
	record = json_loadb(text, len, 0, NULL);
	free(text);
	points = json_object_get(record, "points");
	if (!json_is_array(points)) {
		json_decref(record);
		*rc = -EIO;
		return NULL;
	}
	out = json_array();
	for (size_t i = 0; i < json_array_size(points); i++) {
		const json_t *entry = json_array_get(points, i);
		const char *run =
			json_string_value(json_object_get(entry, "run"));
		json_t *brief = run ? runs_brief(r, run) : NULL;
		json_t *summary = brief ? json_object_get(brief, "summary")
					: NULL;
		json_t *point =
			json_pack("{s:O?, s:O?, s:s?}", "model",
				  json_object_get(entry, "model"), "value",
				  json_object_get(entry, "value"), "run", run);

		if (brief) {
			json_object_set(point, "status",
					json_object_get(brief, "status"));
			json_object_set(point, "message",
					json_object_get(brief, "message"));
			json_object_set(point, "summary",
					summary ? summary : json_null());
		} else {
			json_object_set_new(point, "status",
					    json_string("deleted"));
			json_object_set_new(point, "message",
					    json_string("the run was deleted"));
			json_object_set_new(point, "summary", json_null());
		}
		json_object_set_new(point, "wall_ns",
				    json_is_object(summary)
					    ? json_incref(json_object_get(
						      summary, "wall_ns"))
					    : json_null());
		json_object_set_new(point, "speedup",
				    json_is_object(summary)
					    ? json_incref(json_object_get(
						      summary, "speedup"))
					    : json_null());
		json_decref(brief);
		json_array_append_new(out, point);
	}
	json_object_set_new(record, "points", out);
	*rc = 0;
	return record;
}
