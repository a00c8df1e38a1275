/*
 * render: the trace as people and tools read it.
 *
 *  ascii   the textbook timeline, one row per task, scaled to a width,
 *          with a legend and the summary
 *  json    trace format version 1 (trace_to_json in trace_json.h, or
 *          streamed)
 *  chrome  the Trace Event Format that Perfetto and chrome://tracing open
 *          (a tree, or streamed)
 *  events  NDJSON, one object per line, as the run happens (the stream the
 *          server reads from a runner and forwards as SSE):
 *            {"type":"run","run":{...same fields as the trace's run...}}
 *            {"type":"lane","lane":{id,kind,name,os_id}}
 *            {"type":"task","task":{id,name,lane,submit_ns,start_ns,end_ns,
 *                                   status,note}}   (sent again on change;
 *                                   unknown times are null, status null
 *                                   while pending)
 *            {"type":"open","task":T,"lane":L,"state":S,"t0_ns":N,
 *             "note":...}
 *            {"type":"segment","segment":{task,lane,state,t0_ns,t1_ns,note}}
 *            {"type":"counter","name":"queue_depth","t_ns":N,"value":V}
 *            {"type":"summary","status":S,"message":M,"summary":{...}}
 *          The summary line is always last.
 */
#ifndef OVERLAP_RENDER_H
#define OVERLAP_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"
#include "trace_rec.h"

struct ascii_opts {
	int width;	 /* columns for the whole line; 0 = 100 */
	bool unicode;	 /* box-drawing glyphs; false: plain ASCII */
	bool summary;	 /* print the summary block after the timeline */
	int64_t axis_ns; /* length of the time axis; 0 = the trace's own
			  * wall.  `overlap compare` passes the longest wall
			  * of its runs so every timeline shares one axis. */
};

int render_ascii(const struct trace *t, const struct ascii_opts *o, FILE *f);

/* New reference: the Chrome trace object {"traceEvents": [...], ...}. */
json_t *render_chrome(const struct trace *t);

/* New references: one event line each.  The run line, a lane line, a task
 * line (task index), a segment line (segment index), the summary line. */
json_t *render_event_run(const struct trace *t);
json_t *render_event_lane(const struct trace *t, size_t lane);
json_t *render_event_task(const struct trace *t, size_t task);
json_t *render_event_segment(const struct trace *t, size_t segment);
json_t *render_event_open(const struct trace *t, const struct rec_event *ev);
json_t *render_event_counter(const struct trace *t, size_t sample);
json_t *render_event_summary(const struct trace *t);

/*
 * The busiest lines written straight into buf, without building them in
 * jansson first: exactly what json_dumps(render_event_*(...), JSON_COMPACT |
 * JSON_ENSURE_ASCII) gives, at a fraction of the cost, so the collector
 * keeps up with 100,000 tasks while the run streams.  Each returns the
 * line's length (no newline; buf is NUL-terminated), or -1 when buf is too
 * small or a string holds a byte outside ASCII (then build the line with
 * jansson).
 */
int render_line_task(char *buf, size_t size, const struct trace *t,
		     size_t task);
int render_line_segment(char *buf, size_t size, const struct trace *t,
			size_t segment);
int render_line_open(char *buf, size_t size, const struct trace *t,
		     const struct rec_event *ev);

/*
 * Streaming exports: the trace JSON and the Chrome trace written a chunk
 * at a time straight from the trace, never as a jansson tree.  The text
 * is exactly what json_dumps() of trace_to_json() / render_chrome() gives
 * with JSON_INDENT(indent) (JSON_COMPACT for 0) and, with ascii,
 * JSON_ENSURE_ASCII.  t is borrowed and must outlive the stream.
 * render_stream_next() makes the next chunk (about 64 KiB): returns 1 and
 * sets *text, *len (valid until the next call), 0 at the end, or a
 * negative errno.  render_stream_write() writes the rest to f.
 */
struct render_stream;
struct render_stream *render_stream_json(const struct trace *t, unsigned indent,
					 bool ascii);
struct render_stream *render_stream_chrome(const struct trace *t,
					   unsigned indent, bool ascii);
int render_stream_next(struct render_stream *s, const char **text, size_t *len);
int render_stream_write(struct render_stream *s, FILE *f);
void render_stream_free(struct render_stream *s);

/* Writes obj compactly on one line and flushes. Returns 0 or -EIO.  The
 * line is written under the FILE's lock, so threads do not interleave. */
int render_ndjson_line(FILE *f, const json_t *obj);

/* A trace_sink_fn (trace_collector.h) that writes each collected event as its NDJSON
 * line to ctx, a FILE *: lane, task, segment, open and counter lines.  The
 * run line and the summary line are the caller's. */
void render_ndjson_sink(void *ctx, const struct trace *t,
			const struct rec_event *ev);

#endif
