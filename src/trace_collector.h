/*
 * trace_collector: one thread in the run process that drains the
 * recorder's rings (trace_rec.h) every millisecond, or more often while a
 * ring fills fast, into a struct trace, and hands each event to a sink (the
 * NDJSON stream).
 */
#ifndef OVERLAP_TRACE_COLLECTOR_H
#define OVERLAP_TRACE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"
#include "trace_rec.h"

/* Called by the collector after each event has been applied to the trace
 * (in the collector thread).  For EV_SEGMENT the segment is the trace's
 * last one; for EV_COUNTER the sample is the last one.  For EV_SEGMENT and
 * EV_OPEN, ev.note is already the trace's note index (t->notes[ev.note]),
 * not the object index the producer recorded.  Before the events of a lane
 * that appeared since the last drain, the sink gets EV_LANE_ADD with
 * ev.lane set: the lane is then in t->lanes[ev.lane].  Lanes already in t
 * when the collector starts (ids below t->n_lanes) are not announced.
 * EV_LANE_OS_ID and EV_TASK_* mean "this lane / task changed". */
typedef void (*trace_sink_fn)(void *ctx, const struct trace *t,
			      const struct rec_event *ev);

/* What the collector counts as the run's memory, the counter
 * memory_bytes: each lane holds lane_bytes[its kind] from the moment it
 * appears (a pool's worker thread, a worker process), and each task holds
 * task_bytes from its submit, or its start when it has none, to its end
 * (a thread of its own, an asyncio Task, a pool's Future).  The figures are
 * the caller's (what Python holds for each, src/costs.h); the collector
 * samples the sum whenever it changes, at most once an interval, and once
 * more at stop.  rss: also sample rss_bytes, the resident memory of this
 * process and of every process lane's worker, read from /proc every
 * COLLECTOR_RSS_INTERVAL_NS while it changes. */
#define COLLECTOR_RSS_INTERVAL_NS (10 * 1000 * 1000)
struct collector_memory {
	int64_t lane_bytes[LANE_LOOP + 1]; /* by enum lane_kind */
	int64_t task_bytes;
	bool rss;
};

struct trace_collector;
/* Starts a thread that drains rec's rings into t every interval_ns.
 * note_names[i] is the note of object index i (so event.note i+1 maps to
 * it); tasks must already be in t (one per program task, ids = indices).
 * Lanes of rec that t does not have yet are added to t (ids = indices).
 * Events naming a task or lane that does not exist are dropped.  Until
 * trace_collector_stop() returns, only the collector thread touches t. */
struct trace_collector *
trace_collector_start(struct trace_rec *rec, struct trace *t,
		      const char *const *note_names, size_t n_note_names,
		      int64_t interval_ns, trace_sink_fn sink, void *ctx);
/* The same, counting memory as *memory says (copied). */
struct trace_collector *
trace_collector_start_memory(struct trace_rec *rec, struct trace *t,
			     const char *const *note_names, size_t n_note_names,
			     int64_t interval_ns, trace_sink_fn sink, void *ctx,
			     const struct collector_memory *memory);
/* Drains once more, stops the thread, sorts segments by t0 and frees the
 * collector. */
void trace_collector_stop(struct trace_collector *c);

/* Sorts the segments as the collector leaves them: by t0, task, t1, lane
 * and state (for traces folded from elsewhere: cpython.h). */
void trace_sort_segments(struct trace *t);

#endif
