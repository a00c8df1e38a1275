/*
 * spec_param: the values of a spec's parameters, parsed and looked up.
 *
 * Every value, whatever door it came through (--set, a long option, a JSON
 * body, the page's form), is text by the time it reaches spec_parse_value(),
 * and every error is written here, in one voice: the field, what is wrong,
 * the limit, and what was given ("tasks: must be at most 100000 (got
 * 200000)").
 *
 * Numbers are parsed strictly: no hex, no "inf", no trailing junk.  A whole
 * number may be written as a real that happens to be whole ("1e6", "4.0"),
 * because JSON clients send those.
 */
#include "spec_param.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- errors ------------------------------------------------------------- */

int spec_fail(struct spec_error *err, int rc, const char *field,
	      const char *fmt, ...)
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
const char *spec_quoted(const char *text, char *buf, size_t size)
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

int spec_parse_int(const char *s, int64_t *out)
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
static int check_range(const struct param_def *def, double v, const char *shown,
		       struct spec_error *err, const char *field)
{
	char limit[48];

	if (v < def->min)
		return spec_fail(
			err, -EINVAL, field, "%s: must be at least %s (got %s)",
			def->name,
			limit_text(def, def->min, limit, sizeof(limit)), shown);
	if (v > def->max)
		return spec_fail(
			err, -EINVAL, field, "%s: must be at most %s (got %s)",
			def->name,
			limit_text(def, def->max, limit, sizeof(limit)), shown);
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
	spec_quoted(v.text, shown, sizeof(shown));
	switch (def->type) {
	case PARAM_INT:
		rc = spec_parse_int(v.text, &v.i);
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
					choices_text(def->choices ? def->choices
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

/* ---- defaults ----------------------------------------------------------- */

void spec_fill_defaults(struct param_set *set, const struct param_def *defs,
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
