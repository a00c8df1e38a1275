/*
 * spec: what a run is (workload, model, their parameters) and the one place
 * where user input is validated.  The CLI's --set, the server's JSON body and
 * the page's form all end up in spec_set(); the catalog of parameters is data
 * (struct param_def) so the help text, the web form and the checks come from
 * the same table.  The values themselves are spec_param.h's.
 */
#ifndef OVERLAP_SPEC_H
#define OVERLAP_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec_param.h"

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

/* Reads the HTTP API's body form {workload, model, params, options, engine,
 * python}: values
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
 * choices, help}]}], models: [{name, help, options: [...]}], vocabulary}:
 * the vocabulary is protocol_vocabulary_json()'s. */
json_t *spec_catalog_json(void);

/* Options every model has (time_limit), appended to each model's own. */
extern const struct param_def spec_common_options[];
extern const size_t spec_common_options_count;

#endif
