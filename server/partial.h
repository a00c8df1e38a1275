/*
 * partial: the trace JSON (format version 1) folded from a run's event
 * lines, so GET /api/runs/{id} can answer while the run is still going and
 * the stored trace is what the stream said, line for line.
 *
 * Event lines (render.h) carry the same objects the trace holds: "run"
 * replaces the run object, "lane" and "task" replace the entry with their
 * id (a task is sent again on every change), "segment" and "counter"
 * append, "summary" sets the summary, status and message.  The server's
 * own "status" lines set the run's status (and message), and a final one
 * for a run with no summary (its runner never concluded it) ends every
 * unfinished task as error (cancelled for a cancel), the reason in its
 * note; "open" and "end"
 * are live hints with nothing to keep.  Unknown types are ignored, so the
 * engine can add lines without breaking the server.
 */
#ifndef OVERLAP_PARTIAL_H
#define OVERLAP_PARTIAL_H

#include <jansson.h>
#include <stddef.h>

struct partial;

/* Starts a trace whose run object is a copy of run (borrowed): what the
 * server knows before the runner speaks (id, workload, model, params,
 * options, status).  NULL when out of memory. */
struct partial *partial_create(const json_t *run);
void partial_destroy(struct partial *p);

/* Applies one event line (JSON text).  0, or -EINVAL for a line that is not
 * a JSON object with a string "type" (the line is skipped). */
int partial_apply(struct partial *p, const char *line, size_t len);

/* New reference: the trace so far, segments sorted as the engine sorts
 * them (t0, task, t1, lane, state).  p stays usable. */
json_t *partial_trace(struct partial *p);

#endif
