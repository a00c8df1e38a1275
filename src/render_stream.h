/*
 * render_stream: the inside of the streaming exports (render.h), shared by
 * render_stream.c (the driver and the trace JSON) and render_chrome.c (the
 * Chrome trace).  A stream is a small state machine: step() writes the
 * next items into the writer until about RENDER_STREAM_CHUNK bytes are
 * waiting or the document is done.
 */
#ifndef OVERLAP_RENDER_STREAM_H
#define OVERLAP_RENDER_STREAM_H

#include "jsonw.h"
#include "render.h"

/* Bytes a step gathers before it hands them over. */
#define RENDER_STREAM_CHUNK 65536

struct render_stream {
	const struct trace *t; /* borrowed: it must outlive the stream */
	struct jsonw w;
	int phase; /* the format's own steps, 0 first */
	size_t i;  /* the item within the phase */
	bool done; /* the whole document is in w (or taken) */
	/* Writes the next items; sets done after the last. */
	void (*step)(struct render_stream *s);
	void (*free_priv)(void *priv);
	void *priv; /* the format's own state */
};

/* A stream of t with nothing to write yet: the format sets step. */
struct render_stream *render_stream_new(const struct trace *t, unsigned indent,
					bool ascii);

/* True while a step may write more: the chunk is not full yet. */
static inline bool render_stream_room(const struct render_stream *s)
{
	return s->w.len < RENDER_STREAM_CHUNK && !s->w.err;
}

#endif
