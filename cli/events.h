/*
 * events: the NDJSON writer of `overlap run --format events`, the event
 * lines the server reads from its runners (one JSON object a line: run,
 * lane, task, segment, open, counter, and the summary last).
 *
 * The collector thread writes lines into a large stdio buffer through the
 * run's hooks (events_on_start, events_sink), and a small flusher thread
 * pushes them out every few milliseconds: a viewer sees a segment within
 * milliseconds while a run of 100,000 tasks does not cost a write() per
 * line.  The lines themselves are made by the engine's renderers
 * (render_line_* written straight, render_event_* through jansson).
 */
#ifndef OVERLAP_CLI_EVENTS_H
#define OVERLAP_CLI_EVENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"

/* What was last sent of a task, so that a change made after the collector
 * stopped (a task cancelled at the deadline) is sent once at the end. */
struct events_task_sent {
	int64_t submit_ns, start_ns, end_ns;
	uint32_t lane;
	uint8_t status;
	bool sent;
};

/* The caller allocates it; every field is the writer's own. */
struct events_writer {
	FILE *f;
	pthread_t flusher;
	bool flusher_running;
	pthread_mutex_t lock; /* protects everything below, and writes to f */
	pthread_cond_t wake;
	bool dirty;
	bool stopping;
	bool run_sent;
	size_t lanes_sent;
	struct events_task_sent *tasks;
	size_t n_tasks;
};

/* Starts writing to f (nothing written to it yet) and the flusher thread.
 * 0 or -EAGAIN (no thread). */
int events_start(struct events_writer *w, FILE *f);

/* struct run_hooks' on_start and sink (run.h); ctx is the writer. */
void events_on_start(void *ctx, const struct trace *t);
void events_sink(void *ctx, const struct trace *t, const struct rec_event *ev);

/* After the run: stops the flusher, sends what changed after the
 * collector stopped, the summary line last, and flushes f (which stays
 * the caller's). */
void events_finish(struct events_writer *w, const struct trace *t);

#endif
