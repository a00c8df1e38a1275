/*
 * trace_json: a trace as the contract's JSON object (trace format version
 * 1), and read back from one.
 */
#ifndef OVERLAP_TRACE_JSON_H
#define OVERLAP_TRACE_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "trace.h"

/* New references: the parts of the trace JSON, as they appear in it (the
 * NDJSON event lines reuse them).  Unknown times (< 0), a task's lane
 * before it starts and a pending status are null. */
/* run.engine: what ran the run, as a new reference (the caller leaves
 * it out when e->name is empty). */
json_t *trace_engine_json(const struct trace_engine *e);
json_t *trace_run_json(const struct trace *t);
json_t *trace_lane_json(const struct trace_lane *l);
json_t *trace_task_json(const struct trace *t, const struct trace_task *k);
json_t *trace_segment_json(const struct trace *t,
			   const struct trace_segment *s);
json_t *trace_summary_json(const struct trace *t); /* null: none yet */

/* New reference: the trace as the contract's JSON object. */
json_t *trace_to_json(const struct trace *t);
/* Fills t (trace_init()ed) from a trace JSON object.  Returns 0 or -EINVAL
 * with a message in err. */
int trace_from_json(const json_t *root, struct trace *t, char *err,
		    size_t err_size);

/* Fills t (trace_init()ed) from the trace JSON in the file fd, read from
 * its current offset.  The arrays are parsed an item at a time, so a
 * stored trace of 100,000 tasks costs about its struct trace and not a
 * tree of it; a file whose members are not in the order this engine
 * writes them is read whole, from its start (fd must then be seekable).
 * Returns 0, -EINVAL (not a trace: why in err), -EIO (not JSON, or cut
 * short), -E2BIG (a member too long to be one this engine wrote),
 * -ENOMEM or a read's errno. */
int trace_from_json_fd(int fd, struct trace *t, char *err, size_t err_size);

/* Fills e from a run.engine object (all "" when obj is not one). */
void trace_engine_from_json(const json_t *obj, struct trace_engine *e);

#endif
