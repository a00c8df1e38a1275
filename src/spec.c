/*
 * spec: what a user asked for, checked against the catalogs of workloads
 * and models.  Single values are parsed in spec_param.c, with errors in
 * the same voice: the field, what is wrong, the limit, and what was given.
 * Checks that need the whole spec (how many tasks a model can
 * hold, the step program's syntax) are in spec_validate(), which builds the
 * program exactly as a run would and throws it away: the check and the run
 * can never disagree about what a spec means.
 */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "program.h"
#include "util.h"
#include "workload.h"

/* Limits over the whole program, whatever the workload. */
#define SPEC_MAX_TOTAL_STEPS 2000000

const struct param_def spec_common_options[] = {
	{"time_limit", PARAM_DURATION, "ms", "60s", 100 * NS_PER_MS,
	 600.0 * NS_PER_S, NULL, "the run is stopped after this long"},
};
const size_t spec_common_options_count =
	sizeof(spec_common_options) / sizeof(spec_common_options[0]);

/* ---- a spec ------------------------------------------------------------- */

/* "fetch, crunch, mixed or custom" */
static const char *names_list(const char *const *names, size_t n, char *buf,
			      size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 i == 0	      ? ""
					 : i + 1 == n ? " or "
						      : ", ",
					 names[i]);
	return buf;
}

static const char *workload_names(char *buf, size_t size)
{
	const char *names[64];
	size_t i, n = 0;

	for (i = 0; i < workload_catalog_count && n < 64; i++)
		names[n++] = workload_catalog[i]->name;
	return names_list(names, n, buf, size);
}

static const char *model_names(char *buf, size_t size)
{
	const char *names[64];
	size_t i, n = 0;

	for (i = 0; i < model_catalog_count && n < 64; i++)
		names[n++] = model_catalog[i]->name;
	return names_list(names, n, buf, size);
}

static const char *set_names(const struct param_set *set, char *buf,
			     size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < set->count && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 i ? ", " : "",
					 set->values[i].def->name);
	if (set->count == 0)
		snprintf(buf, size, "none");
	return buf;
}

static int find_workload(const char *name, const struct workload **w,
			 struct spec_error *err)
{
	char names[256], shown[48];

	if (!name || !name[0])
		return spec_fail(err, -EINVAL, "workload",
				 "workload: required (one of %s)",
				 workload_names(names, sizeof(names)));
	*w = workload_find(name);
	if (!*w)
		return spec_fail(err, -EINVAL, "workload",
				 "workload: unknown '%s' (expected %s)",
				 spec_quoted(name, shown, sizeof(shown)),
				 workload_names(names, sizeof(names)));
	return 0;
}

static int find_model(const char *name, const struct model_ops **m,
		      struct spec_error *err)
{
	char names[256], shown[48];

	if (!name || !name[0])
		return spec_fail(err, -EINVAL, "model",
				 "model: required (one of %s)",
				 model_names(names, sizeof(names)));
	*m = model_find(name);
	if (!*m)
		return spec_fail(err, -EINVAL, "model",
				 "model: unknown '%s' (expected %s)",
				 spec_quoted(name, shown, sizeof(shown)),
				 model_names(names, sizeof(names)));
	return 0;
}

int spec_init(struct spec *spec, const char *workload, const char *model,
	      struct spec_error *err)
{
	const struct workload *w;
	const struct model_ops *m;
	int rc;

	rc = find_workload(workload, &w, err);
	if (rc < 0)
		return rc;
	rc = find_model(model, &m, err);
	if (rc < 0)
		return rc;
	spec->id[0] = '\0';
	util_strlcpy(spec->engine, SPEC_ENGINE_OVERLAP, sizeof(spec->engine));
	spec->python[0] = '\0';
	util_strlcpy(spec->workload, w->name, sizeof(spec->workload));
	util_strlcpy(spec->model, m->name, sizeof(spec->model));
	spec->params.count = 0;
	spec->options.count = 0;
	spec_fill_defaults(&spec->params, w->params, w->n_params);
	spec_fill_defaults(&spec->options, m->options, m->n_options);
	spec_fill_defaults(&spec->options, spec_common_options,
			   spec_common_options_count);
	return 0;
}

static struct param_value *find_value(struct param_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		if (strcmp(set->values[i].def->name, name) == 0)
			return &set->values[i];
	return NULL;
}

int spec_set(struct spec *spec, const char *key, const char *value,
	     struct spec_error *err)
{
	struct param_value *slot = NULL;
	const char *name = key, *prefix = "";
	char names[256], names2[256], shown[48], field[64];
	bool only_params = false, only_options = false;
	int rc;

	if (strncmp(key, "params.", 7) == 0) {
		name = key + 7;
		only_params = true;
	} else if (strncmp(key, "options.", 8) == 0) {
		name = key + 8;
		only_options = true;
	}
	if (!only_options && (slot = find_value(&spec->params, name)))
		prefix = "params.";
	else if (!only_params && (slot = find_value(&spec->options, name)))
		prefix = "options.";
	if (!slot) {
		snprintf(field, sizeof(field), "%s%s",
			 only_params	? "params."
			 : only_options ? "options."
					: "",
			 name);
		spec_quoted(name, shown, sizeof(shown));
		if (only_params)
			return spec_fail(err, -ENOENT, field,
					 "%s: not a parameter of %s (it takes "
					 "%s)",
					 shown, spec->workload,
					 set_names(&spec->params, names,
						   sizeof(names)));
		if (only_options)
			return spec_fail(err, -ENOENT, field,
					 "%s: not an option of %s (it takes "
					 "%s)",
					 shown, spec->model,
					 set_names(&spec->options, names,
						   sizeof(names)));
		return spec_fail(err, -ENOENT, field,
				 "%s: not a parameter of %s (%s) or an option "
				 "of %s (%s)",
				 shown, spec->workload,
				 set_names(&spec->params, names, sizeof(names)),
				 spec->model,
				 set_names(&spec->options, names2,
					   sizeof(names2)));
	}
	/* Parsed into a copy so that on error the spec is unchanged. */
	{
		struct param_value *tmp = malloc(sizeof(*tmp));

		if (!tmp)
			return spec_fail(err, -ENOMEM, name, "out of memory");
		rc = spec_parse_value(slot->def, value, tmp, err, prefix);
		if (rc == 0) {
			memcpy(slot, tmp, sizeof(*tmp));
			slot->given = true;
		}
		free(tmp);
	}
	return rc;
}

/* The field a task-count error should point at: the parameter that made
 * the count. */
static void count_field(const struct spec *spec, char *field, size_t size,
			const char **name)
{
	const struct param_set *ps = &spec->params;
	size_t i;

	*name = NULL;
	for (i = 0; i < ps->count; i++) {
		const char *n = ps->values[i].def->name;

		if (strcmp(n, "durations") == 0 && ps->values[i].given &&
		    ps->values[i].text[0]) {
			*name = n;
			break;
		}
		if (strcmp(n, "tasks") == 0 && !*name)
			*name = n;
	}
	if (!*name)
		*name = ps->count ? ps->values[0].def->name : "tasks";
	snprintf(field, size, "params.%s", *name);
}

/* One rule for every workload: what the disk steps of all tasks read and
 * write stays within SPEC_MAX_DISK_BYTES.  (A read step reads a file
 * written for it before the run starts, so it counts as much as a
 * write.) */
static int check_disk(const struct workload *w, const struct program *prog,
		      struct spec_error *err)
{
	uint64_t bytes = 0;
	char field[64];
	const char *name = w->disk_param ? w->disk_param : "workload";

	for (size_t i = 0; i < prog->n_tasks; i++) {
		const struct task_def *t = &prog->tasks[i];

		for (uint32_t k = 0; k < t->n_steps; k++) {
			const struct step *st = &prog->steps[t->first_step + k];

			if (st->kind == STEP_DISK && st->n > 0)
				bytes += (uint64_t)st->n;
		}
	}
	if (bytes <= (uint64_t)SPEC_MAX_DISK_BYTES)
		return 0;
	snprintf(field, sizeof(field), "params.%s", name);
	return spec_fail(err, -EINVAL, field,
			 "%s: the disk steps read and write %" PRIu64
			 " bytes in all tasks together; a run may use at "
			 "most %lld bytes (1 GiB) of disk",
			 name, bytes, SPEC_MAX_DISK_BYTES);
}

/* A primitive the model's Python does not have (asyncio has no RLock) is
 * refused, naming the program. */
static int check_primitives(const struct workload *w, const struct model_ops *m,
			    const struct program *prog, struct spec_error *err)
{
	char field[64], msg[sizeof(err->message)];
	const char *name = w->disk_param ? w->disk_param : "workload";

	if (program_check_model(prog, m->name, msg, sizeof(msg)) == 0)
		return 0;
	snprintf(field, sizeof(field), "params.%s", name);
	return spec_fail(err, -EINVAL, field, "%s", msg);
}

/* What only one engine runs.  The interpreter's own limits (a GIL build
 * asked for gil=off) are known when it starts; cpython.c reports them the
 * same way. */
static int check_engine(const struct spec *spec, struct spec_error *err)
{
	bool cpython = strcmp(spec->engine, SPEC_ENGINE_CPYTHON) == 0;

	if (!cpython && strcmp(spec->engine, SPEC_ENGINE_OVERLAP) != 0)
		return spec_fail(err, -EINVAL, "engine",
				 "engine: expected overlap or cpython");
	if (!cpython && spec->python[0])
		return spec_fail(err, -EINVAL, "python",
				 "python: an interpreter is chosen only with "
				 "engine cpython");
	if (cpython && strcmp(spec->model, "interpreter-pool") == 0)
		return spec_fail(err, -EINVAL, "model",
				 "model: interpreter-pool needs Python 3.14's "
				 "InterpreterPoolExecutor; engine cpython runs "
				 "the other models");
	return 0;
}

/* python=3.9 with gil=off names a build that never existed: the
 * free-threaded build starts with 3.13. */
static int check_python(const struct spec *spec, struct spec_error *err)
{
	const struct param_value *python = spec_find(&spec->options, "python");
	const struct param_value *gil = spec_find(&spec->options, "gil");

	if (python && gil && strcmp(python->text, "3.9") == 0 &&
	    strcmp(gil->text, "off") == 0)
		return spec_fail(err, -EINVAL, "options.python",
				 "python: 3.9 has no free-threaded build "
				 "(gil=off is 3.13 or later): use "
				 "python=3.10+ with gil=off");
	return 0;
}

int spec_validate(const struct spec *spec, struct spec_error *err)
{
	const struct workload *w;
	const struct model_ops *m;
	struct program prog;
	char field[64];
	const char *name;
	uint64_t total_steps = 0;
	size_t i;
	int rc;

	rc = find_workload(spec->workload, &w, err);
	if (rc < 0)
		return rc;
	rc = find_model(spec->model, &m, err);
	if (rc < 0)
		return rc;
	if (spec->params.count != w->n_params ||
	    spec->options.count != m->n_options + spec_common_options_count)
		return spec_fail(err, -EINVAL, "workload",
				 "workload: the spec was not made by "
				 "spec_init for %s under %s",
				 w->name, m->name);

	rc = check_python(spec, err);
	if (rc < 0)
		return rc;
	program_init(&prog);
	rc = w->build(spec, &prog, err);
	if (rc < 0)
		goto out_free_program;
	count_field(spec, field, sizeof(field), &name);
	if (prog.n_tasks == 0) {
		rc = spec_fail(err, -EINVAL, field, "%s: no tasks to run",
			       name);
		goto out_free_program;
	}
	if (m->max_tasks && prog.n_tasks > m->max_tasks) {
		rc = spec_fail(err, -EINVAL, field,
			       "%s: at most %" PRIu32 " tasks under %s (got "
			       "%zu)",
			       name, m->max_tasks, m->name, prog.n_tasks);
		goto out_free_program;
	}
	for (i = 0; i < prog.n_tasks; i++)
		total_steps += prog.tasks[i].n_steps;
	if (total_steps > SPEC_MAX_TOTAL_STEPS) {
		rc = spec_fail(err, -EINVAL, field,
			       "%s: at most %d steps in all tasks together "
			       "(got %" PRIu64 ")",
			       name, SPEC_MAX_TOTAL_STEPS, total_steps);
		goto out_free_program;
	}
	rc = check_disk(w, &prog, err);
	if (rc < 0)
		goto out_free_program;
	rc = check_primitives(w, m, &prog, err);
	if (rc < 0)
		goto out_free_program;
	if (w->check_model) {
		rc = w->check_model(spec, err);
		if (rc < 0)
			goto out_free_program;
	}
	if (m->check_program) {
		rc = m->check_program(spec, &prog, err);
		if (rc < 0)
			goto out_free_program;
	}
	rc = check_engine(spec, err);
out_free_program:
	program_free(&prog);
	return rc;
}

/* ---- JSON --------------------------------------------------------------- */

static bool has_on_off(const struct param_def *def)
{
	return def->type == PARAM_ENUM && def->choices &&
	       strcmp(def->choices, "on|off") == 0;
}

/* One JSON value in --set form; "" and rc 1 for null (keep the default). */
static int json_value_text(const json_t *value, const struct param_def *def,
			   char *buf, size_t size, const char *field,
			   struct spec_error *err)
{
	switch (json_typeof(value)) {
	case JSON_STRING: {
		size_t len = json_string_length(value);

		if (strlen(json_string_value(value)) != len)
			return spec_fail(err, -EINVAL, field,
					 "%s: must not contain NUL", def->name);
		/* A text too long is reported with its limit; any other
		 * value that long fails its own parse on the prefix. */
		if (len >= size && def->type == PARAM_TEXT)
			return spec_fail(err, -EINVAL, field,
					 "%s: must be at most %zu bytes (got "
					 "%zu)",
					 def->name,
					 def->max < size - 1 ? (size_t)def->max
							     : size - 1,
					 len);
		util_strlcpy(buf, json_string_value(value), size);
		return 0;
	}
	case JSON_INTEGER:
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(value));
		return 0;
	case JSON_REAL:
		snprintf(buf, size, "%.15g", json_real_value(value));
		return 0;
	case JSON_TRUE:
		util_strlcpy(buf, has_on_off(def) ? "on" : "true", size);
		return 0;
	case JSON_FALSE:
		util_strlcpy(buf, has_on_off(def) ? "off" : "false", size);
		return 0;
	case JSON_NULL:
		return 1;
	default:
		return spec_fail(err, -EINVAL, field,
				 "%s: expected a string, a number or a "
				 "boolean",
				 def->name);
	}
}

static int json_set_values(struct spec *spec, const json_t *obj,
			   const char *section, struct spec_error *err)
{
	const char *key;
	json_t *value;
	char path[96], field[96];
	char *text;
	int rc = 0;

	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return spec_fail(err, -EINVAL, section,
				 "%s: expected an object of name: value",
				 section);
	text = malloc(SPEC_TEXT_MAX + 1);
	if (!text)
		return spec_fail(err, -ENOMEM, section, "out of memory");
	json_object_foreach((json_t *)obj, key, value) {
		struct param_set *set = strcmp(section, "params") == 0
						? &spec->params
						: &spec->options;
		const struct param_value *slot;

		snprintf(path, sizeof(path), "%s.%s", section, key);
		slot = spec_find(set, key);
		if (!slot) {
			/* spec_set writes the error naming what exists */
			rc = spec_set(spec, path, "", err);
			if (rc == 0)
				rc = -ENOENT;
			break;
		}
		snprintf(field, sizeof(field), "%s.%s", section, key);
		rc = json_value_text(value, slot->def, text, SPEC_TEXT_MAX + 1,
				     field, err);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		rc = spec_set(spec, path, text, err);
		if (rc < 0)
			break;
	}
	free(text);
	return rc < 0 ? -EINVAL : 0;
}

static bool valid_id(const char *id)
{
	size_t n = 0;

	for (; *id; id++, n++)
		if (!isalnum((unsigned char)*id) && *id != '-' && *id != '_')
			return false;
	return n > 0;
}

/* "engine" and "python" of a body; null or absent keep the defaults. */
static int json_set_engine(struct spec *spec, const json_t *engine,
			   const json_t *python, struct spec_error *err)
{
	if (engine && !json_is_null(engine)) {
		const char *e = json_string_value(engine);

		if (!e || (strcmp(e, SPEC_ENGINE_OVERLAP) != 0 &&
			   strcmp(e, SPEC_ENGINE_CPYTHON) != 0))
			return spec_fail(err, -EINVAL, "engine",
					 "engine: expected overlap or cpython");
		util_strlcpy(spec->engine, e, sizeof(spec->engine));
	}
	if (python && !json_is_null(python)) {
		const char *p = json_string_value(python);

		if (!p || !p[0] || strlen(p) >= sizeof(spec->python))
			return spec_fail(err, -EINVAL, "python",
					 "python: expected the path of an "
					 "interpreter, at most %zu bytes",
					 sizeof(spec->python) - 1);
		util_strlcpy(spec->python, p, sizeof(spec->python));
	}
	return 0;
}

int spec_from_json(const json_t *body, struct spec *spec,
		   struct spec_error *err)
{
	static const char *const known[] = {"workload", "model", "params",
					    "options",	"id",	 "engine",
					    "python"};
	const char *key;
	json_t *value;
	const json_t *workload, *model, *id;
	char shown[48];
	int rc;

	if (!json_is_object(body))
		return spec_fail(err, -EINVAL, "body",
				 "body: expected a JSON object {workload, "
				 "model, params, options}");
	json_object_foreach((json_t *)body, key, value) {
		size_t i;
		bool ok = false;

		(void)value;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok)
			return spec_fail(err, -EINVAL,
					 spec_quoted(key, shown, sizeof(shown)),
					 "%s: unknown key (expected workload, "
					 "model, params, options)",
					 shown);
	}
	workload = json_object_get(body, "workload");
	model = json_object_get(body, "model");
	if (workload && !json_is_string(workload))
		return spec_fail(err, -EINVAL, "workload",
				 "workload: expected a string");
	if (model && !json_is_string(model))
		return spec_fail(err, -EINVAL, "model",
				 "model: expected a string");
	rc = spec_init(spec, workload ? json_string_value(workload) : NULL,
		       model ? json_string_value(model) : NULL, err);
	if (rc < 0)
		return rc;
	id = json_object_get(body, "id");
	if (id && !json_is_null(id)) {
		if (!json_is_string(id) ||
		    json_string_length(id) >= sizeof(spec->id) ||
		    !valid_id(json_string_value(id)))
			return spec_fail(err, -EINVAL, "id",
					 "id: expected up to %zu letters, "
					 "digits, '-' or '_'",
					 sizeof(spec->id) - 1);
		util_strlcpy(spec->id, json_string_value(id), sizeof(spec->id));
	}
	rc = json_set_values(spec, json_object_get(body, "params"), "params",
			     err);
	if (rc < 0)
		return rc;
	rc = json_set_values(spec, json_object_get(body, "options"), "options",
			     err);
	if (rc < 0)
		return rc;
	rc = json_set_engine(spec, json_object_get(body, "engine"),
			     json_object_get(body, "python"), err);
	if (rc < 0)
		return rc;
	return spec_validate(spec, err);
}

static json_t *set_json(const struct param_set *set)
{
	json_t *obj = json_object();
	size_t i;

	for (i = 0; i < set->count; i++)
		json_object_set_new(obj, set->values[i].def->name,
				    json_string(set->values[i].text));
	return obj;
}

json_t *spec_params_json(const struct param_set *set)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < set->count; i++) {
		const struct param_value *v = &set->values[i];
		json_t *val;

		switch (v->def->type) {
		case PARAM_INT:
			val = json_integer(v->i);
			break;
		case PARAM_FLOAT:
			val = json_real(v->f);
			break;
		default:
			/* Durations keep the text the user gave ("1.5s"),
			 * which is also what POST /api/runs takes back. */
			val = json_string(v->text);
			break;
		}
		json_object_set_new(obj, v->def->name, val);
	}
	return obj;
}

json_t *spec_to_json(const struct spec *spec)
{
	json_t *obj = json_object();

	if (spec->id[0])
		json_object_set_new(obj, "id", json_string(spec->id));
	json_object_set_new(obj, "workload", json_string(spec->workload));
	json_object_set_new(obj, "model", json_string(spec->model));
	json_object_set_new(obj, "params", set_json(&spec->params));
	json_object_set_new(obj, "options", set_json(&spec->options));
	if (strcmp(spec->engine, SPEC_ENGINE_OVERLAP) != 0)
		json_object_set_new(obj, "engine", json_string(spec->engine));
	if (spec->python[0])
		json_object_set_new(obj, "python", json_string(spec->python));
	return obj;
}

/* One parameter as the page's form needs it.  Durations: min and max in
 * milliseconds (the unit of a bare number in the API), unit "ms", and the
 * limits also as text ("100ms", "60s") in min_text/max_text. */
static json_t *param_json(const struct param_def *def)
{
	json_t *obj = json_object();
	json_t *choices = json_null();
	char buf[48];

	json_object_set_new(obj, "name", json_string(def->name));
	json_object_set_new(obj, "type",
			    json_string(param_type_name(def->type)));
	json_object_set_new(obj, "unit",
			    json_string(def->type == PARAM_DURATION ? "ms"
					: def->type == PARAM_TEXT   ? "bytes"
					: def->unit		    ? def->unit
								    : ""));
	switch (def->type) {
	case PARAM_INT: {
		int64_t v = 0;

		if (def->def && def->def[0] &&
		    spec_parse_int(def->def, &v) == 0)
			json_object_set_new(obj, "default", json_integer(v));
		else
			json_object_set_new(obj, "default", json_null());
		json_object_set_new(obj, "min",
				    json_integer((json_int_t)def->min));
		json_object_set_new(obj, "max",
				    json_integer((json_int_t)def->max));
		break;
	}
	case PARAM_FLOAT:
		json_object_set_new(obj, "default",
				    def->def && def->def[0]
					    ? json_real(strtod(def->def, NULL))
					    : json_null());
		json_object_set_new(obj, "min", json_real(def->min));
		json_object_set_new(obj, "max", json_real(def->max));
		break;
	case PARAM_DURATION:
		json_object_set_new(obj, "default",
				    json_string(def->def ? def->def : ""));
		json_object_set_new(obj, "min",
				    json_real(def->min / (double)NS_PER_MS));
		json_object_set_new(obj, "max",
				    json_real(def->max / (double)NS_PER_MS));
		json_object_set_new(
			obj, "min_text",
			json_string(util_format_duration_text(
				(int64_t)def->min, buf, sizeof(buf))));
		json_object_set_new(
			obj, "max_text",
			json_string(util_format_duration_text(
				(int64_t)def->max, buf, sizeof(buf))));
		break;
	case PARAM_ENUM: {
		const char *c = def->choices ? def->choices : "";

		json_object_set_new(obj, "default",
				    json_string(def->def ? def->def : ""));
		json_object_set_new(obj, "min", json_null());
		json_object_set_new(obj, "max", json_null());
		choices = json_array();
		while (*c) {
			const char *bar = strchr(c, '|');
			size_t len = bar ? (size_t)(bar - c) : strlen(c);

			json_array_append_new(choices, json_stringn(c, len));
			c += len + (bar ? 1 : 0);
		}
		break;
	}
	case PARAM_TEXT:
		json_object_set_new(obj, "default",
				    json_string(def->def ? def->def : ""));
		json_object_set_new(obj, "min",
				    json_integer((json_int_t)def->min));
		json_object_set_new(obj, "max",
				    json_integer((json_int_t)def->max));
		break;
	}
	json_object_set_new(obj, "choices", choices);
	json_object_set_new(obj, "help",
			    json_string(def->help ? def->help : ""));
	return obj;
}

/* Which engine runs what: every workload and model under both; limits
 * name the values one of them does not run, and why.  The interpreters CPython may use
 * are the caller's to add (cpython.h): finding them takes time. */
static json_t *engines_json(void)
{
	json_t *all_workloads = json_array(), *all_models = json_array();
	json_t *engines;

	for (size_t i = 0; i < workload_catalog_count; i++)
		json_array_append_new(all_workloads,
				      json_string(workload_catalog[i]->name));
	for (size_t i = 0; i < model_catalog_count; i++)
		json_array_append_new(all_models,
				      json_string(model_catalog[i]->name));
	engines = json_pack(
		"[{s:s, s:s, s:O, s:O, s:[]},"
		" {s:s, s:s, s:O, s:O, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s},"
		" {s:s, s:s, s:s}]}]",
		"name", SPEC_ENGINE_OVERLAP, "help",
		"this program's models of Python's concurrency, in C",
		"workloads", all_workloads, "models", all_models, "limits",
		"name", SPEC_ENGINE_CPYTHON, "help",
		"the same program in a real Python interpreter (3.9 or "
		"later): threading, concurrent.futures, multiprocessing, "
		"asyncio",
		"workloads", all_workloads, "models", all_models, "limits",
		"field", "options.gil", "value", "off", "why",
		"needs a free-threaded interpreter (python3.13t or later)",
		"field", "params.program", "value", "barrier (asyncio)", "why",
		"asyncio.Barrier needs Python 3.11 or later", "field", "model",
		"value", "interpreter-pool", "why",
		"InterpreterPoolExecutor needs Python 3.14 or later; the "
		"reference engine runs the other models");
	json_decref(all_workloads);
	json_decref(all_models);
	return engines;
}

json_t *spec_catalog_json(void)
{
	json_t *root = json_object();
	json_t *workloads = json_array(), *models = json_array();
	size_t i, j;

	for (i = 0; i < workload_catalog_count; i++) {
		const struct workload *w = workload_catalog[i];
		json_t *obj = json_object(), *params = json_array();

		for (j = 0; j < w->n_params; j++)
			json_array_append_new(params,
					      param_json(&w->params[j]));
		json_object_set_new(obj, "name", json_string(w->name));
		json_object_set_new(obj, "help", json_string(w->help));
		json_object_set_new(obj, "params", params);
		json_array_append_new(workloads, obj);
	}
	for (i = 0; i < model_catalog_count; i++) {
		const struct model_ops *m = model_catalog[i];
		json_t *obj = json_object(), *options = json_array();

		for (j = 0; j < m->n_options; j++)
			json_array_append_new(options,
					      param_json(&m->options[j]));
		for (j = 0; j < spec_common_options_count; j++)
			json_array_append_new(
				options, param_json(&spec_common_options[j]));
		json_object_set_new(obj, "name", json_string(m->name));
		json_object_set_new(obj, "help", json_string(m->help));
		json_object_set_new(obj, "max_tasks",
				    json_integer(m->max_tasks));
		json_object_set_new(obj, "options", options);
		json_array_append_new(models, obj);
	}
	json_object_set_new(root, "workloads", workloads);
	json_object_set_new(root, "models", models);
	json_object_set_new(root, "engines", engines_json());
	json_object_set_new(root, "vocabulary", protocol_vocabulary_json());
	return root;
}
