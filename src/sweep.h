/*
 * sweep: the plan of a sweep, one workload run at several values of one
 * parameter or option (workers 1, 2, 4), as the engine knows it: which
 * names can be swept (any number among the workload's parameters and the
 * model's options), how a list of values is read and checked (each one as
 * spec_set() would check it, so a sweep refuses what a run refuses), what
 * a value is as a number (durations in milliseconds, the API's unit for a
 * bare number), and Amdahl's law fitted to the point at the smallest value.
 *
 * `overlap sweep` (cli/cmd_sweep.c) and POST /api/sweeps (server/sweeps.c)
 * both ask here; each keeps only how it runs the points and reports them.
 */
#ifndef OVERLAP_SWEEP_H
#define OVERLAP_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec.h"

/* At most this many values in one sweep (and points under one model). */
#define SWEEP_VALUES_MAX 16

/* What a sweep varies, once resolved against one spec. */
struct sweep_param {
	const struct param_def *def; /* borrowed from the catalog */
	char key[64];	/* as given: "workers", "options.workers" */
	char field[80]; /* "options.workers", for errors */
};

/* Resolves key in spec (spec_init()ed): a parameter of the workload or an
 * option of the model, whose type is a number (int, float, duration).
 * 0, -ENOENT (no such name here: another model may have it) or -EINVAL
 * (not a number), with err naming the field "param". */
int sweep_resolve(const struct spec *spec, const char *key,
		  struct sweep_param *out, struct spec_error *err);

/* Splits text ("1,2,4") into at most SWEEP_VALUES_MAX values, written into
 * buf (size bytes) and pointed to by values[].  *n receives the count.
 * 0, or -EINVAL with err (field "values"): none, more than the limit,
 * an empty one. */
int sweep_split(const char *text, char *buf, size_t size, const char **values,
		size_t *n, struct spec_error *err);

/* Checks every value against p's definition (limits, whole numbers) with
 * spec_parse_value's words, the field being "values".  0 or -EINVAL. */
int sweep_check(const struct sweep_param *p, const char *const *values,
		size_t n, struct spec_error *err);

/* A value as a number: ints and floats as they are, durations in ms. */
double sweep_number(const struct sweep_param *p, const char *value);
/* New reference: value as JSON, a whole one as an integer. */
json_t *sweep_number_json(double value);

/* Whether the parameter counts things that run at once (workers,
 * max_concurrent, limit): Amdahl's law speaks of those only. */
bool sweep_counts_parallel(const char *name);

/*
 * Amdahl's law from one measured point: at n0 the run took wall0_ns with
 * speedup s0 (the summary's: the tasks' own work over the wall time).  The
 * work split n0 ways leaves wall0 - work / n0 that did not split: the
 * serial part.  Returns false when the point cannot be fitted.
 */
struct sweep_amdahl {
	double work_ns;
	double serial_ns;
	double serial_share; /* serial / (serial + work) */
};
bool sweep_amdahl_fit(double n0, int64_t wall0_ns, double s0,
		      struct sweep_amdahl *out);
/* The speedup Amdahl's law allows at n: work / (serial + work / n). */
double sweep_amdahl_at(const struct sweep_amdahl *a, double n);

#endif
