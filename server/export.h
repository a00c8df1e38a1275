/*
 * export: a run's trace as the files GET /api/runs/{id}/chrome and
 * GET /api/runs/{id}/ascii send: the Chrome trace (Perfetto,
 * chrome://tracing) or the ASCII timeline with its summary.
 *
 * The trace is read back from the run into the engine's struct trace: a
 * stored trace from its file an item at a time (trace_from_json_fd), so
 * no tree of it is ever held, a running one folded from its events.  It
 * is drawn by the engine's renderers (render.h), the same code `overlap run --format chrome|ascii`
 * prints with, so a download and the CLI agree.  The Chrome trace is
 * streamed: libmicrohttpd asks for the response a block at a time and the
 * engine writes the next 64 KiB of it straight from the trace, so no
 * document tree and no whole-response buffer is ever held (the ASCII
 * timeline is at most a screenful and is drawn whole).
 */
#ifndef OVERLAP_EXPORT_H
#define OVERLAP_EXPORT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "runs.h"

/* A response that sends run id's trace: the Chrome trace (compact JSON)
 * when chrome, else the ASCII timeline of width columns.  Returns 0 and
 * sets *resp (the caller queues and destroys it; the response owns what
 * it sends); -ENOENT (no such run), -EIO (its trace cannot be read),
 * -EBADMSG (its trace is not a trace: why in err), or -ENOMEM. */
int export_response(struct runs *runs, const char *id, bool chrome, int width,
		    struct MHD_Response **resp, char *err, size_t err_size);

#endif
