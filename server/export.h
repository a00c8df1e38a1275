/*
 * export: a run's trace as the files GET /api/runs/{id}/chrome and
 * GET /api/runs/{id}/ascii send: the Chrome trace (Perfetto,
 * chrome://tracing) or the ASCII timeline with its summary.
 *
 * The trace is read back from the run (stored, or folded from its events
 * while it runs) into the engine's struct trace and drawn by the engine's
 * renderers (render.h), the same code `overlap run --format chrome|ascii`
 * prints with, so a download and the CLI agree.
 */
#ifndef OVERLAP_EXPORT_H
#define OVERLAP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "runs.h"

/* Renders run id's trace: the Chrome trace when chrome, else the ASCII
 * timeline of width columns.  Returns 0 with *text (free() it) of *len
 * bytes; -ENOENT (no such run), -EIO (its trace cannot be read),
 * -EBADMSG (its trace is not a trace: why in err), or -ENOMEM. */
int export_render(struct runs *runs, const char *id, bool chrome, int width,
		  char **text, size_t *len, char *err, size_t err_size);

#endif
