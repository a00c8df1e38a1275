/*
 * compare: a workload under several models (see compare.h).
 *
 * Each model's spec goes through spec_from_json like any POST /api/runs
 * body, so a compare accepts exactly what single runs accept.  Which
 * models run and which options each gets is the engine's compare plan
 * (src/plan.h), which `overlap compare` follows too; what is compare's
 * own here is the body's shape, the answers and the record.  With
 * engines (["overlap", "cpython"]) every model runs under each engine, the
 * model and CPython side by side; an interpreter it names must be one the
 * server offers (engines.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compare.h"
#include "engines.h"
#include "model.h"
#include "plan.h"
#include "store.h"
#include "util.h"

static void set_err(struct spec_error *err, const char *field,
		    const char *message)
{
	util_strlcpy(err->field, field, sizeof(err->field));
	util_strlcpy(err->message, message, sizeof(err->message));
	err->column = 0;
}

/* Checks the body's shape and collects the models.  0 or -EINVAL. */
static int read_models(const json_t *body, struct plan_models *models,
		       struct spec_error *err)
{
	static const char *const known[] = {"workload", "params",  "options",
					    "models",	"engines", "python"};
	const json_t *list = json_object_get(body, "models");
	const char *key;
	json_t *value;

	if (!json_is_object(body)) {
		set_err(err, "", "expected a JSON object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)body, key, value) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok) {
			char msg[128];

			snprintf(msg, sizeof(msg),
				 "%.40s: unknown key (expected workload, "
				 "params, options, models, engines, python)",
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
	plan_all_models(models);
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
		int rc = plan_add_model(models, name);
		char msg[128];

		if (rc == -EEXIST) {
			snprintf(msg, sizeof(msg),
				 "models: '%.40s' given twice", name);
			set_err(err, "models", msg);
			return -EINVAL;
		}
		if (rc < 0) {
			snprintf(msg, sizeof(msg),
				 "models: unknown model '%.40s'",
				 name ? name : "(not a string)");
			set_err(err, "models", msg);
			return -EINVAL;
		}
	}
	return 0;
}

/* The body's engines: ["overlap"] when left out.  0 or -EINVAL. */
static int read_engines(const json_t *body, const char **engines, size_t *n,
			struct spec_error *err)
{
	const json_t *list = json_object_get(body, "engines");

	*n = 0;
	if (!list || json_is_null(list)) {
		engines[(*n)++] = SPEC_ENGINE_OVERLAP;
		return 0;
	}
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > 2)
		goto bad;
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *e = json_string_value(json_array_get(list, i));

		if (!e ||
		    (strcmp(e, SPEC_ENGINE_OVERLAP) != 0 &&
		     strcmp(e, SPEC_ENGINE_CPYTHON) != 0) ||
		    (*n == 1 && strcmp(engines[0], e) == 0))
			goto bad;
		engines[(*n)++] = strcmp(e, SPEC_ENGINE_OVERLAP) == 0
					  ? SPEC_ENGINE_OVERLAP
					  : SPEC_ENGINE_CPYTHON;
	}
	return 0;
bad:
	set_err(err, "engines",
		"engines: expected a list of overlap and/or cpython, each "
		"once");
	return -EINVAL;
}

static void iso_now(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int compare_create(struct runs *r, struct store *st, const json_t *body,
		   json_t **out, struct spec_error *err)
{
	struct plan_models models;
	struct spec *specs[PLAN_MODELS_MAX] = {0};
	const struct model_ops *used[PLAN_MODELS_MAX];
	const char *engines[2], *used_engine[PLAN_MODELS_MAX];
	const json_t *python = json_object_get(body, "python");
	size_t n_engines = 0;
	char ids[PLAN_MODELS_MAX][STORE_ID_SIZE];
	char compare_id[STORE_ID_SIZE], name[64], created[32];
	const json_t *options = json_object_get(body, "options");
	json_t *record = NULL, *list;
	size_t n = 0;
	char *text;
	int rc;

	*out = NULL;
	rc = read_models(body, &models, err);
	if (rc < 0)
		return rc;
	rc = read_engines(body, engines, &n_engines, err);
	if (rc < 0)
		return rc;
	if (models.n * n_engines > PLAN_MODELS_MAX) {
		set_err(err, "models",
			"models: at most 16 runs, models times engines");
		return -EINVAL;
	}
	/* Each model under each engine, the engines of a model side by
	 * side. */
	for (size_t k = 0; k < models.n * n_engines; k++) {
		size_t i = k / n_engines;
		const char *engine = engines[k % n_engines];
		bool cpython = strcmp(engine, SPEC_ENGINE_CPYTHON) == 0;
		json_t *one = json_pack(
			"{s:O*, s:s, s:O*, s:o, s:s, s:O*}", "workload",
			json_object_get(body, "workload"), "model",
			models.models[i]->name, "params",
			json_object_get(body, "params"), "options",
			plan_options_for(models.models[i], options), "engine",
			engine, "python", cpython ? python : NULL);
		struct spec_error e = {0};

		specs[n] = calloc(1, sizeof(*specs[n]));
		if (!one || !specs[n]) {
			json_decref(one);
			rc = -ENOMEM;
			goto out_free;
		}
		rc = spec_from_json(one, specs[n], &e);
		json_decref(one);
		if (rc == 0)
			rc = engines_check(specs[n], &e);
		if (rc == 0) {
			specs[n]->id[0] = '\0';
			used_engine[n] = engine;
			used[n++] = models.models[i];
			continue;
		}
		if (strcmp(e.field, "python") == 0 ||
		    strcmp(e.field, "engine") == 0) {
			*err = e;
			rc = -EINVAL;
			goto out_free;
		}
		/* A bad workload or parameter is bad under every model;
		 * a model that rejects the spec is left out unless asked
		 * for by name. */
		if (models.named || plan_error_is_workload(&e)) {
			*err = e;
			if (models.named &&
			    strncmp(e.field, "params", 6) != 0 &&
			    strcmp(e.field, "workload") != 0) {
				snprintf(err->message, sizeof(err->message),
					 "%.32s: %.200s",
					 models.models[i]->name, e.message);
			}
			rc = -EINVAL;
			goto out_free;
		}
		free(specs[n]);
		specs[n] = NULL;
	}
	if (n == 0) {
		set_err(err, "models", "models: no model accepts this spec");
		rc = -EINVAL;
		goto out_free;
	}

	store_id_new(compare_id);
	rc = runs_submit(r, specs, n, compare_id, ids);
	if (rc < 0)
		goto out_free;
	iso_now(created, sizeof(created));
	list = json_array();
	*out = json_pack("{s:s, s:[]}", "id", compare_id, "runs");
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s}", "id", ids[i],
						"model", used[i]->name,
						"engine", used_engine[i]));
		json_array_append_new(json_object_get(*out, "runs"),
				      json_string(ids[i]));
	}
	record = json_pack("{s:s, s:O*, s:O*, s:s, s:o}", "id", compare_id,
			   "workload", json_object_get(body, "workload"),
			   "params", json_object_get(body, "params"),
			   "created_at", created, "runs", list);
	text = record ? json_dumps(record, JSON_COMPACT) : NULL;
	snprintf(name, sizeof(name), "compares/%s.json", compare_id);
	rc = text ? store_write(st, name, text, strlen(text)) : -ENOMEM;
	free(text);
	json_decref(record);
	if (rc < 0) {
		/* The runs are queued and will show in the history. */
		json_decref(*out);
		*out = NULL;
	}

out_free:
	for (size_t i = 0; i < PLAN_MODELS_MAX; i++)
		free(specs[i]);
	return rc;
}

json_t *compare_get(struct runs *r, struct store *st, const char *id, int *rc)
{
	json_t *record, *runs, *out;
	char name[64];
	size_t len;
	char *text;

	snprintf(name, sizeof(name), "compares/%s.json", id);
	*rc = store_read(st, name, &text, &len);
	if (*rc < 0)
		return NULL;
	record = json_loadb(text, len, 0, NULL);
	free(text);
	runs = json_object_get(record, "runs");
	if (!json_is_array(runs)) {
		json_decref(record);
		*rc = -EIO;
		return NULL;
	}
	out = json_array();
	for (size_t i = 0; i < json_array_size(runs); i++) {
		const json_t *entry = json_array_get(runs, i);
		const char *engine;
		const char *run =
			json_string_value(json_object_get(entry, "id"));
		json_t *brief = run ? runs_brief(r, run) : NULL;

		if (!brief)
			brief = json_pack("{s:s?, s:O?, s:s, s:s, s:n}", "id",
					  run, "model",
					  json_object_get(entry, "model"),
					  "status", "deleted", "message",
					  "the run was deleted", "summary");
		/* Compares made before engines ran the models. */
		engine = json_string_value(json_object_get(entry, "engine"));
		if (brief)
			json_object_set_new(
				brief, "engine",
				json_string(engine ? engine
						   : SPEC_ENGINE_OVERLAP));
		json_array_append_new(out, brief);
	}
	json_object_set_new(record, "runs", out);
	*rc = 0;
	return record;
}
