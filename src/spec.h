/*
 * spec: what a run is (workload, model, their parameters) and the one place
 * where user input is validated.  The CLI's --set, the server's JSON body and
 * the page's form all end up in spec_set(); the catalog of parameters is data
 * (struct param_def) so the help text, the web form and the checks come from
 * the same table.
 *
 * Values are given in the CLI's text form ("200ms", "4", "on").  JSON numbers
 * are accepted by the server by formatting them as text first; a bare number
 * for a duration means milliseconds.
 */
#ifndef OVERLAP_SPEC_H
#define OVERLAP_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum param_type {
	PARAM_INT,	/* whole number; min/max are the limits */
	PARAM_DURATION, /* nanoseconds; min/max in nanoseconds */
	PARAM_FLOAT,	/* real number; min/max are the limits */
	PARAM_ENUM,	/* one of choices ("sleep|net") */
	PARAM_TEXT,	/* free text; max is its maximum length in bytes */
};

struct param_def {
	const char *name;
	enum param_type type;
	const char *unit;    /* "tasks", "ms", "bytes", "" */
	const char *def;     /* default, in text form; "" means unset */
	double min, max;     /* see enum param_type */
	const char *choices; /* PARAM_ENUM only: "a|b|c" */
	const char *help;    /* one line */
};

/* The longest text value (a step program, a list of durations). */
#define SPEC_TEXT_MAX 4096

struct param_value {
	const struct param_def *def; /* borrowed from the catalog */
	bool given;		     /* set by the user, not the default */
	int64_t i;		     /* PARAM_INT, PARAM_DURATION (ns) */
	double f;		     /* PARAM_FLOAT */
	char text[SPEC_TEXT_MAX + 1]; /* PARAM_ENUM, PARAM_TEXT; also the
				       * raw text of every value as given */
};

#define SPEC_MAX_VALUES 24

struct param_set {
	size_t count;
	struct param_value values[SPEC_MAX_VALUES];
};

struct spec {
	char id[40];	   /* run id, set by the caller (may be "") */
	char workload[32]; /* catalog name */
	char model[32];	   /* catalog name */
	struct param_set params;  /* the workload's parameters */
	struct param_set options; /* the model's options */
};

/* A user-facing error: field names the parameter ("params.tasks",
 * "options.workers", "workload", "model"); message says what is wrong and the
 * limit ("tasks: at most 100000, got 200000"); column is 1-based for errors
 * inside a text value such as a step program, 0 otherwise. */
struct spec_error {
	char field[64];
	char message[256];
	int column;
};

/* Starts a spec: looks up workload and model in the catalogs and fills every
 * parameter and option with its default.  Returns 0 or -EINVAL with err. */
int spec_init(struct spec *spec, const char *workload, const char *model,
	      struct spec_error *err);

/* Sets one value from text.  key is a bare name: it is looked up first in
 * the workload's parameters, then in the model's options; "params.KEY" and
 * "options.KEY" say which.  Returns 0, or -EINVAL/-ENOENT with err naming the
 * field and its limit; on error the spec is unchanged. */
int spec_set(struct spec *spec, const char *key, const char *value,
	     struct spec_error *err);

/* Checks what single values cannot: combinations (the workload under the
 * model, task counts against the model's limits, the step program's syntax).
 * Returns 0 or -EINVAL with err. */
int spec_validate(const struct spec *spec, struct spec_error *err);

/* Lookups by name; the name must exist (a programming error aborts). */
int64_t spec_int(const struct param_set *set, const char *name);
int64_t spec_ns(const struct param_set *set, const char *name);
double spec_float(const struct param_set *set, const char *name);
const char *spec_text(const struct param_set *set, const char *name);
bool spec_given(const struct param_set *set, const char *name);
const struct param_value *spec_find(const struct param_set *set,
				    const char *name);

/* Parses one value of a definition into out without touching a spec. */
int spec_parse_value(const struct param_def *def, const char *text,
		     struct param_value *out, struct spec_error *err,
		     const char *field_prefix);

/* Reads the HTTP API's body form {workload, model, params, options}: values
 * are strings in --set form, numbers (durations: milliseconds) or booleans.
 * Unknown top-level keys and unknown parameters are errors naming them.
 * Validates the whole spec (spec_validate).  Returns 0 or -EINVAL. */
int spec_from_json(const json_t *body, struct spec *spec,
		   struct spec_error *err);
/* New reference: {workload, model, params, options} of a spec, values in
 * text form (what spec_from_json reads back). */
json_t *spec_to_json(const struct spec *spec);
/* New reference: the values of set as a trace's run.params and
 * run.options hold them: integers and floats as JSON numbers, durations,
 * choices and text as the text given ("1.5s"), which is also what
 * spec_from_json reads back. */
json_t *spec_params_json(const struct param_set *set);
/* New reference: the catalog as GET /api/workloads serves it:
 * {workloads: [{name, help, params: [{name, type, unit, default, min, max,
 * choices, help}]}], models: [{name, help, options: [...]}]}. */
json_t *spec_catalog_json(void);

/* Options every model has (time_limit), appended to each model's own. */
extern const struct param_def spec_common_options[];
extern const size_t spec_common_options_count;

#endif
