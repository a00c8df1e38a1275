/*
 * workload: the catalog of named, parameterised recipes that produce
 * programs.  The catalog is data: each entry lists its parameters
 * (struct param_def), and build() turns a validated spec into a program.
 */
#ifndef OVERLAP_WORKLOAD_H
#define OVERLAP_WORKLOAD_H

#include "program.h"
#include "spec_param.h"

struct workload {
	const char *name;
	const char *help; /* one line: what lesson it shows */
	const struct param_def *params;
	size_t n_params;
	/* Fills p (already program_init()ed) from the spec's params.
	 * Returns 0 or -EINVAL with err (e.g. a step program's column). */
	int (*build)(const struct spec *spec, struct program *p,
		     struct spec_error *err);
	/* The parameter that sets how much its disk steps read and write
	 * (named by the error when a spec is over SPEC_MAX_DISK_BYTES), or
	 * NULL when it has no disk steps. */
	const char *disk_param;
	/* Optional: checks the workload against the model, e.g. a consumer
	 * that can never run.  NULL when every model applies. */
	int (*check_model)(const struct spec *spec, struct spec_error *err);
};

extern const struct workload *const workload_catalog[];
extern const size_t workload_catalog_count;

const struct workload *workload_find(const char *name);

#endif
