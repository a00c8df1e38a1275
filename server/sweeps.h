/*
 * sweeps: one workload at several values of one parameter or option, under
 * one model or several (POST /api/sweeps and GET /api/sweeps/{id}).
 *
 * A sweep is a list of ordinary runs queued together (all or none), one
 * per model and value, each marked with the sweep's id (the history lists
 * it), and a small record, DIR/sweeps/<id>.json = {id, workload, params,
 * options, param, values, created_at, points: [{run, model, value}]},
 * written atomically.  Its state is read from the runs themselves.
 *
 * What can be swept and how the values are checked is the engine's sweep
 * plan (src/sweep.h), which `overlap sweep` follows too; the models and the
 * options each gets are the compare plan's (src/plan.h).
 */
#ifndef OVERLAP_SWEEPS_H
#define OVERLAP_SWEEPS_H

#include <jansson.h>

#include "runs.h"
#include "spec.h"

/* At most this many runs in one sweep (models x values). */
#define SWEEPS_POINTS_MAX 32

/* Queues the runs of the sweep body describes.  0 with *out = {id, runs:
 * [ids]} (new reference), -EINVAL with err (bad input: field names it,
 * "param" and "values" included), -EAGAIN (queue full) or -errno. */
int sweeps_create(struct runs *r, struct store *st, const json_t *body,
		  json_t **out, struct spec_error *err);

/* New reference: the record with points [{model, value, run, status,
 * message, wall_ns, speedup, summary}], or NULL with -ENOENT / -EIO in
 * *rc. */
json_t *sweeps_get(struct runs *r, struct store *st, const char *id, int *rc);

#endif
