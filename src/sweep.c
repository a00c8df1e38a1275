/*
 * sweep: what a sweep varies and how its values are read (see sweep.h).
 *
 * Values are checked here one by one with spec_parse_value, the function
 * every --set and every JSON value goes through, so a sweep's error reads
 * as a run's would ("values: workers: must be at most 256 (got 1000)").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"
#include "util.h"

static void sweep_error(struct spec_error *err, const char *field,
			const char *message)
{
	util_strlcpy(err->field, field, sizeof(err->field));
	util_strlcpy(err->message, message, sizeof(err->message));
	err->column = 0;
}

int sweep_resolve(const struct spec *spec, const char *key,
		  struct sweep_param *out, struct spec_error *err)
{
	const struct param_value *v = NULL;
	const char *group = "params";
	const char *name = key;
	char msg[200];

	memset(out, 0, sizeof(*out));
	if (strncmp(key, "params.", 7) == 0) {
		name = key + 7;
		v = spec_find(&spec->params, name);
	} else if (strncmp(key, "options.", 8) == 0) {
		name = key + 8;
		group = "options";
		v = spec_find(&spec->options, name);
	} else {
		/* As spec_set(): the workload's parameter first. */
		v = spec_find(&spec->params, name);
		if (!v) {
			v = spec_find(&spec->options, name);
			group = "options";
		}
	}
	if (!v) {
		snprintf(msg, sizeof(msg),
			 "param: '%.60s' is not a parameter of %.30s or an "
			 "option of %.30s",
			 key, spec->workload, spec->model);
		sweep_error(err, "param", msg);
		return -ENOENT;
	}
	if (v->def->type != PARAM_INT && v->def->type != PARAM_FLOAT &&
	    v->def->type != PARAM_DURATION) {
		snprintf(msg, sizeof(msg),
			 "param: %.60s is not a number, so it cannot be swept "
			 "(a sweep varies a count, a duration or a rate)",
			 name);
		sweep_error(err, "param", msg);
		return -EINVAL;
	}
	out->def = v->def;
	util_strlcpy(out->key, key, sizeof(out->key));
	snprintf(out->field, sizeof(out->field), "%s.%s", group, name);
	return 0;
}

int sweep_split(const char *text, char *buf, size_t size, const char **values,
		size_t *n, struct spec_error *err)
{
	char *rest, *one;
	char msg[160];

	*n = 0;
	if (!text || strlen(text) >= size) {
		sweep_error(err, "values",
			    "values: expected a list such as "
			    "1,2,4");
		return -EINVAL;
	}
	util_strlcpy(buf, text, size);
	rest = buf;
	while ((one = strsep(&rest, ",")) != NULL) {
		while (*one == ' ')
			one++;
		for (char *end = one + strlen(one);
		     end > one && end[-1] == ' ';)
			*--end = '\0';
		if (!*one) {
			sweep_error(err, "values",
				    "values: an empty value in the list");
			return -EINVAL;
		}
		if (*n == SWEEP_VALUES_MAX) {
			snprintf(msg, sizeof(msg),
				 "values: at most %d values in one sweep",
				 SWEEP_VALUES_MAX);
			sweep_error(err, "values", msg);
			return -EINVAL;
		}
		values[(*n)++] = one;
	}
	if (*n == 0) {
		sweep_error(err, "values",
			    "values: expected a list such as "
			    "1,2,4");
		return -EINVAL;
	}
	return 0;
}

int sweep_check(const struct sweep_param *p, const char *const *values,
		size_t n, struct spec_error *err)
{
	struct param_value *v = util_xcalloc(1, sizeof(*v));
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct spec_error e = {0};

		rc = spec_parse_value(p->def, values[i], v, &e, "");
		if (rc < 0) {
			char msg[sizeof(e.message) + 16];

			snprintf(msg, sizeof(msg), "values: %s", e.message);
			sweep_error(err, "values", msg);
			rc = -EINVAL;
		}
	}
	free(v);
	return rc;
}

double sweep_number(const struct sweep_param *p, const char *value)
{
	struct param_value *v = util_xcalloc(1, sizeof(*v));
	struct spec_error e;
	double out = 0;

	if (spec_parse_value(p->def, value, v, &e, "") == 0) {
		if (p->def->type == PARAM_DURATION)
			out = (double)v->i / 1e6;
		else if (p->def->type == PARAM_INT)
			out = (double)v->i;
		else
			out = v->f;
	}
	free(v);
	return out;
}

json_t *sweep_number_json(double value)
{
	if (value == (double)(long long)value)
		return json_integer((json_int_t)value);
	return json_real(value);
}

bool sweep_counts_parallel(const char *name)
{
	static const char *const counts[] = {"workers", "max_concurrent",
					     "limit"};
	const char *dot = strchr(name, '.');

	if (dot)
		name = dot + 1;
	for (size_t i = 0; i < sizeof(counts) / sizeof(*counts); i++)
		if (strcmp(name, counts[i]) == 0)
			return true;
	return false;
}

bool sweep_amdahl_fit(double n0, int64_t wall0_ns, double s0,
		      struct sweep_amdahl *out)
{
	double serial;

	if (!(n0 >= 1) || wall0_ns <= 0 || !(s0 > 0))
		return false;
	out->work_ns = s0 * (double)wall0_ns;
	serial = (double)wall0_ns - out->work_ns / n0;
	out->serial_ns = serial > 0 ? serial : 0;
	out->serial_share = out->serial_ns / (out->serial_ns + out->work_ns);
	return true;
}

double sweep_amdahl_at(const struct sweep_amdahl *a, double n)
{
	return a->work_ns / (a->serial_ns + a->work_ns / n);
}
