/*
 * compare: one workload under several models (POST /api/compares and
 * GET /api/compares/{id}).
 *
 * A compare is a list of ordinary runs queued together (all or none) and a
 * small record, DIR/compares/<id>.json = {id, workload, params, created_at,
 * runs: [{id, model}]}, written atomically.  Its state is always read from
 * the runs themselves, so there is nothing to keep in step.
 *
 * Models are the ones named, or every model in the catalog.  Options given
 * apply to the models that have them (workers means nothing to asyncio),
 * as `overlap compare` does; a model named explicitly that rejects the
 * spec is a 400 naming it, one taken by default is left out.
 */
#ifndef OVERLAP_COMPARE_H
#define OVERLAP_COMPARE_H

#include <jansson.h>

#include "runs.h"
#include "spec.h"

/* Queues the runs of a compare described by body.  Returns 0 with *out =
 * {id, runs: [ids]} (new reference), -EINVAL with err (bad input), -EAGAIN
 * (queue full) or another -errno. */
int compare_create(struct runs *r, struct store *st, const json_t *body,
		   json_t **out, struct spec_error *err);

/* New reference: {id, workload, params, created_at, runs: [{id, model,
 * status, message, summary}]}, or NULL with -ENOENT / -EIO in *rc. */
json_t *compare_get(struct runs *r, struct store *st, const char *id, int *rc);

#endif
