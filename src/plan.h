/*
 * plan: the plan of a compare, one workload under several models, as the
 * engine knows it: which models a compare takes (the ones named, or the
 * whole catalog), which of the options given each model gets (the ones it
 * has: workers means nothing to asyncio), and whether a spec that a model
 * rejects is wrong for every model (the workload or one of its
 * parameters) or only for that model.
 *
 * `overlap compare` (cli/cmd_compare.c) and POST /api/compares
 * (server/compare.c) both ask here, so the two cannot drift apart; each
 * keeps only how it reports: the CLI prints a skipped model, the API
 * refuses a model named explicitly that rejects the spec.
 */
#ifndef OVERLAP_PLAN_H
#define OVERLAP_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "model.h"
#include "spec.h"

/* At most this many models in one compare (the catalog has fewer). */
#define PLAN_MODELS_MAX 16

struct plan_models {
	const struct model_ops *models[PLAN_MODELS_MAX];
	size_t n;
	bool named; /* given by name, not the whole catalog by default */
};

/* The whole catalog, in its order (named false). */
void plan_all_models(struct plan_models *out);

/* Adds the model called name.  0, -ENOENT when there is no such model,
 * -EEXIST when it is already in the list, -E2BIG when the list is full. */
int plan_add_model(struct plan_models *list, const char *name);

/* "a, b, c": the catalog's model names, for an error message. */
const char *plan_model_names(char *buf, size_t size);

/* Whether m has an option called name: its own, or one every model has. */
bool plan_model_has_option(const struct model_ops *m, const char *name);

/* The members of options (a JSON object, or NULL) that m has; new
 * reference.  A compare's options apply to the models that have them. */
json_t *plan_options_for(const struct model_ops *m, const json_t *options);

/* Sets one value of a compare on the model's spec (spec_init()ed): a model
 * option the model does not have is left out (*applied false, 0); anything
 * else goes to spec_set() and returns what it returns. */
int plan_set(struct spec *spec, const char *key, const char *value,
	     bool *applied, struct spec_error *err);

/* True when err (from spec_from_json, spec_init, spec_set or
 * spec_validate) is the workload's: no model can run the spec.  False when
 * it is one model's rejection, which leaves the other models running. */
bool plan_error_is_workload(const struct spec_error *err);

#endif
