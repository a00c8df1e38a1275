/*
 * spec: parsing and validating what a user asked for.
 *
 * Every value, whatever door it came through (--set, a long option, a JSON
 * body, the page's form), is text by the time it reaches spec_parse_value(),
 * and every error is written here, in one voice: the field, what is wrong,
 * the limit, and what was given ("tasks: must be at most 100000 (got
 * 200000)").  Checks that need the whole spec (how many tasks a model can
 * hold, the step program's syntax) are in spec_validate(), which builds the
 * program exactly as a run would and throws it away: the check and the run
 * can never disagree about what a spec means.
 *
 * Numbers are parsed strictly: no hex, no "inf", no trailing junk.  A whole
 * number may be written as a real that happens to be whole ("1e6", "4.0"),
 * because JSON clients send those.
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

/* ---- errors ------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int
spec_fail(struct spec_error *err, int rc, const char *field, const char *fmt,
	  ...)
{
	va_list ap;

	if (!err)
		return rc;
	util_strlcpy(err->field, field, sizeof(err->field));
	err->column = 0;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

/* A user's text, shortened for quoting in a one-line message. */
static const char *quoted(const char *text, char *buf, size_t size)
{
	size_t len = strlen(text);

	if (len < 40 && len < size) {
		util_strlcpy(buf, text, size);
	} else {
		snprintf(buf, size, "%.36s...", text);
	}
	return buf;
}

/* A limit as a person reads it: "100000", "0.5", "60s". */
static const char *limit_text(const struct param_def *def, double limit,
			      char *buf, size_t size)
{
	if (def->type == PARAM_DURATION)
		return util_format_duration_text((int64_t)limit, buf, size);
	if (def->type == PARAM_INT)
		snprintf(buf, size, "%.0f", limit);
	else
		snprintf(buf, size, "%g", limit);
	return buf;
}

/* "on, off" from "on|off". */
static const char *choices_text(const char *choices, char *buf, size_t size)
{
	size_t i, j = 0;

	for (i = 0; choices[i] && j + 3 < size; i++) {
		if (choices[i] == '|') {
			buf[j++] = ',';
			buf[j++] = ' ';
		} else {
			buf[j++] = choices[i];
		}
	}
	buf[j] = '\0';
	return buf;
}

/* ---- one value ---------------------------------------------------------- */

static void trim_copy(const char *text, char *buf, size_t size)
{
	size_t len;

	while (isspace((unsigned char)*text))
		text++;
	len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(buf, text, len);
	buf[len] = '\0';
}

/* Only the characters of a plain decimal number: keeps strtod() from
 * reading "inf", "nan" or hex. */
static bool plain_number(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !strchr("+-.eE", *s))
			return false;
	return true;
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;
	double d;

	if (!plain_number(s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end == '\0') {
		if (errno == ERANGE) {
			*out = v; /* LLONG_MIN or LLONG_MAX: out of any range */
			return -ERANGE;
		}
		*out = v;
		return 0;
	}
	d = strtod(s, &end);
	if (*end != '\0' || !isfinite(d) || d != floor(d))
		return -EINVAL;
	if (d >= 9.2e18 || d <= -9.2e18) {
		*out = d < 0 ? INT64_MIN : INT64_MAX;
		return -ERANGE;
	}
	*out = (int64_t)d;
	return 0;
}

/* Checks v against def's limits; writes the error naming both. */
static int check_range(const struct param_def *def, double v,
		       const char *shown, struct spec_error *err,
		       const char *field)
{
	char limit[48];

	if (v < def->min)
		return spec_fail(err, -EINVAL, field,
				 "%s: must be at least %s (got %s)", def->name,
				 limit_text(def, def->min, limit,
					    sizeof(limit)),
				 shown);
	if (v > def->max)
		return spec_fail(err, -EINVAL, field,
				 "%s: must be at most %s (got %s)", def->name,
				 limit_text(def, def->max, limit,
					    sizeof(limit)),
				 shown);
	return 0;
}

/* The parser behind spec_parse_value(); check_limits is false only for
 * the catalog's own defaults (a default outside its limits, such as
 * "0 = one per core", is the table's business, not the user's). */
static int parse_value(const struct param_def *def, const char *text,
		       struct param_value *out, struct spec_error *err,
		       const char *field_prefix, bool check_limits)
{
	struct param_value v;
	char field[64], shown[48], choices[128];
	int rc;

	snprintf(field, sizeof(field), "%s%s", field_prefix ? field_prefix : "",
		 def->name);
	memset(&v, 0, offsetof(struct param_value, text));
	v.def = def;
	v.given = true;
	if (def->type == PARAM_TEXT) {
		size_t len = strlen(text);
		size_t max = def->max < SPEC_TEXT_MAX ? (size_t)def->max
						      : SPEC_TEXT_MAX;

		/* Kept as given: a step program's columns must match what
		 * the user wrote. */
		if (len > max)
			return spec_fail(err, -EINVAL, field,
					 "%s: must be at most %zu bytes (got "
					 "%zu)",
					 def->name, max, len);
		memcpy(v.text, text, len + 1);
		goto out_store;
	}
	trim_copy(text, v.text, sizeof(v.text));
	quoted(v.text, shown, sizeof(shown));
	switch (def->type) {
	case PARAM_INT:
		rc = parse_int(v.text, &v.i);
		if (rc == -EINVAL)
			return spec_fail(err, rc, field,
					 "%s: expected a whole number (got "
					 "'%s')",
					 def->name, shown);
		if (rc == -ERANGE && !check_limits)
			return spec_fail(err, -EINVAL, field,
					 "%s: number too large (got %s)",
					 def->name, shown);
		if (check_limits) {
			rc = check_range(def, (double)v.i, shown, err, field);
			if (rc < 0)
				return rc;
		}
		v.f = (double)v.i;
		break;
	case PARAM_DURATION:
		rc = util_parse_duration(v.text, &v.i);
		if (rc == -ERANGE) {
			/* Too large for int64 ns: report the limit. */
			v.i = v.text[0] == '-' ? INT64_MIN : INT64_MAX;
			if (!check_limits)
				return spec_fail(err, -EINVAL, field,
						 "%s: too long (got %s)",
						 def->name, shown);
		} else if (rc < 0) {
			return spec_fail(err, -EINVAL, field,
					 "%s: expected a duration such as "
					 "200ms or 1.5s (got '%s')",
					 def->name, shown);
		}
		if (check_limits) {
			rc = check_range(def, (double)v.i, shown, err, field);
			if (rc < 0)
				return rc;
		}
		v.f = (double)v.i;
		break;
	case PARAM_FLOAT: {
		char *end;

		if (!plain_number(v.text))
			return spec_fail(err, -EINVAL, field,
					 "%s: expected a number (got '%s')",
					 def->name, shown);
		v.f = strtod(v.text, &end);
		if (*end != '\0' || !isfinite(v.f))
			return spec_fail(err, -EINVAL, field,
					 "%s: expected a number (got '%s')",
					 def->name, shown);
		if (check_limits) {
			rc = check_range(def, v.f, shown, err, field);
			if (rc < 0)
				return rc;
		}
		break;
	}
	case PARAM_ENUM: {
		const char *c = def->choices ? def->choices : "";

		/* Walks "a|b|c"; the stored text is the catalog's spelling,
		 * so "ON" becomes "on". */
		for (;;) {
			const char *bar = strchr(c, '|');
			size_t len = bar ? (size_t)(bar - c) : strlen(c);

			if (len == strlen(v.text) && len > 0 &&
			    strncasecmp(c, v.text, len) == 0) {
				memcpy(v.text, c, len);
				v.text[len] = '\0';
				break;
			}
			if (!bar)
				return spec_fail(
					err, -EINVAL, field,
					"%s: must be one of %s (got '%s')",
					def->name,
					choices_text(def->choices
							     ? def->choices
							     : "",
						     choices, sizeof(choices)),
					shown);
			c = bar + 1;
		}
		break;
	}
	default:
		return spec_fail(err, -EINVAL, field, "%s: unknown type",
				 def->name);
	}
out_store:
	memcpy(out, &v, sizeof(v));
	return 0;
}

int spec_parse_value(const struct param_def *def, const char *text,
		     struct param_value *out, struct spec_error *err,
		     const char *field_prefix)
{
	return parse_value(def, text, out, err, field_prefix, true);
}

/* ---- a spec ------------------------------------------------------------- */

static void fill_defaults(struct param_set *set, const struct param_def *defs,
			  size_t n)
{
	struct spec_error err;
	size_t i;

	for (i = 0; i < n; i++) {
		struct param_value *v;

		if (set->count == SPEC_MAX_VALUES) {
			fprintf(stderr,
				"overlap: more than %d parameters in a "
				"catalog entry\n",
				SPEC_MAX_VALUES);
			abort();
		}
		v = &set->values[set->count++];
		if (defs[i].def && defs[i].def[0]) {
			if (parse_value(&defs[i], defs[i].def, v, &err, "",
					false) < 0) {
				fprintf(stderr,
					"overlap: bad default in the catalog: "
					"%s\n",
					err.message);
				abort();
			}
		} else {
			memset(v, 0, offsetof(struct param_value, text));
			v->text[0] = '\0';
		}
		v->def = &defs[i];
		v->given = false;
	}
}

/* "fetch, crunch, mixed or custom" */
static const char *names_list(const char *const *names, size_t n, char *buf,
			      size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 i == 0		 ? ""
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
				 quoted(name, shown, sizeof(shown)),
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
				 quoted(name, shown, sizeof(shown)),
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
	util_strlcpy(spec->workload, w->name, sizeof(spec->workload));
	util_strlcpy(spec->model, m->name, sizeof(spec->model));
	spec->params.count = 0;
	spec->options.count = 0;
	fill_defaults(&spec->params, w->params, w->n_params);
	fill_defaults(&spec->options, m->options, m->n_options);
	fill_defaults(&spec->options, spec_common_options,
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
			 only_params   ? "params."
			 : only_options ? "options."
					: "",
			 name);
		quoted(name, shown, sizeof(shown));
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
				 set_names(&spec->params, names,
					   sizeof(names)),
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
	if (w->check_model) {
		rc = w->check_model(spec, err);
		if (rc < 0)
			goto out_free_program;
	}
	rc = 0;
out_free_program:
	program_free(&prog);
	return rc;
}

/* ---- lookups ------------------------------------------------------------ */

const struct param_value *spec_find(const struct param_set *set,
				    const char *name)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		if (strcmp(set->values[i].def->name, name) == 0)
			return &set->values[i];
	return NULL;
}

static const struct param_value *must_find(const struct param_set *set,
					   const char *name)
{
	const struct param_value *v = spec_find(set, name);

	if (!v) {
		fprintf(stderr, "overlap: no parameter '%s' in this spec\n",
			name);
		abort();
	}
	return v;
}

int64_t spec_int(const struct param_set *set, const char *name)
{
	return must_find(set, name)->i;
}

int64_t spec_ns(const struct param_set *set, const char *name)
{
	return must_find(set, name)->i;
}

double spec_float(const struct param_set *set, const char *name)
{
	return must_find(set, name)->f;
}

const char *spec_text(const struct param_set *set, const char *name)
{
	return must_find(set, name)->text;
}

bool spec_given(const struct param_set *set, const char *name)
{
	return must_find(set, name)->given;
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
					 "%s: must not contain NUL",
					 def->name);
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
	json_object_foreach((json_t *)obj, key, value)
	{
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

int spec_from_json(const json_t *body, struct spec *spec,
		   struct spec_error *err)
{
	static const char *const known[] = {"workload", "model", "params",
					    "options", "id"};
	const char *key;
	json_t *value;
	const json_t *workload, *model, *id;
	char shown[48];
	int rc;

	if (!json_is_object(body))
		return spec_fail(err, -EINVAL, "body",
				 "body: expected a JSON object {workload, "
				 "model, params, options}");
	json_object_foreach((json_t *)body, key, value)
	{
		size_t i;
		bool ok = false;

		(void)value;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok)
			return spec_fail(err, -EINVAL,
					 quoted(key, shown, sizeof(shown)),
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
		util_strlcpy(spec->id, json_string_value(id),
			     sizeof(spec->id));
	}
	rc = json_set_values(spec, json_object_get(body, "params"), "params",
			     err);
	if (rc < 0)
		return rc;
	rc = json_set_values(spec, json_object_get(body, "options"),
			     "options", err);
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
	return obj;
}

static const char *const param_type_names[] = {
	[PARAM_INT] = "int",	       [PARAM_DURATION] = "duration",
	[PARAM_FLOAT] = "float",       [PARAM_ENUM] = "enum",
	[PARAM_TEXT] = "text",
};

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
			    json_string(param_type_names[def->type]));
	json_object_set_new(
		obj, "unit",
		json_string(def->type == PARAM_DURATION ? "ms"
			    : def->type == PARAM_TEXT	? "bytes"
							: def->unit ? def->unit
								    : ""));
	switch (def->type) {
	case PARAM_INT: {
		int64_t v = 0;

		if (def->def && def->def[0] && parse_int(def->def, &v) == 0)
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
	json_object_set_new(obj, "help", json_string(def->help ? def->help
							       : ""));
	return obj;
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
	return root;
}
