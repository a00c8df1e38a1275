/*
 * events: the NDJSON writer of `overlap run --format events` (see
 * events.h).
 *
 * One lock orders the collector's lines, the flusher's fflush and the
 * final lines: a line is whole in the buffer before anyone flushes it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "events.h"
#include "render.h"
#include "util.h"

#define EVENTS_FLUSH_NS (5 * NS_PER_MS)
#define EVENTS_BUFFER_BYTES (1024 * 1024)

/* Caller holds w->lock.  Takes obj (steals the reference). */
static void ew_write_locked(struct events_writer *w, json_t *obj)
{
	char *line;

	if (!obj)
		return;
	line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (!line)
		return;
	fputs(line, w->f);
	fputc('\n', w->f);
	free(line);
	w->dirty = true;
}

/* Room for a line render_line_* writes; a longer one is left to
 * jansson. */
#define EVENT_LINE_MAX 1024

/* Caller holds w->lock.  Writes a line render_line_* made (n >= 0);
 * false when it made none, and the caller builds the line with jansson. */
static bool ew_put_locked(struct events_writer *w, const char *line, int n)
{
	if (n < 0)
		return false;
	fwrite_unlocked(line, 1, (size_t)n, w->f);
	fputc_unlocked('\n', w->f);
	w->dirty = true;
	return true;
}

static void ew_task_locked(struct events_writer *w, const struct trace *t,
			   size_t i)
{
	char line[EVENT_LINE_MAX];
	const struct trace_task *task = &t->tasks[i];
	struct events_task_sent *s;

	if (i >= w->n_tasks)
		return;
	s = &w->tasks[i];
	s->submit_ns = task->submit_ns;
	s->start_ns = task->start_ns;
	s->end_ns = task->end_ns;
	s->lane = task->lane;
	s->status = task->status;
	s->sent = true;
	if (!ew_put_locked(w, line, render_line_task(line, sizeof(line), t, i)))
		ew_write_locked(w, render_event_task(t, i));
}

static bool ew_task_changed(const struct events_writer *w,
			    const struct trace *t, size_t i)
{
	const struct trace_task *task = &t->tasks[i];
	const struct events_task_sent *s = &w->tasks[i];

	return !s->sent || s->submit_ns != task->submit_ns ||
	       s->start_ns != task->start_ns || s->end_ns != task->end_ns ||
	       s->lane != task->lane || s->status != task->status;
}

static void ew_new_lanes_locked(struct events_writer *w, const struct trace *t)
{
	while (w->lanes_sent < t->n_lanes)
		ew_write_locked(w, render_event_lane(t, w->lanes_sent++));
}

void events_on_start(void *ctx, const struct trace *t)
{
	struct events_writer *w = ctx;
	size_t i;

	pthread_mutex_lock(&w->lock);
	if (!w->run_sent) {
		ew_write_locked(w, render_event_run(t));
		w->run_sent = true;
	}
	ew_new_lanes_locked(w, t);
	if (!w->tasks && t->n_tasks) {
		w->tasks = util_xcalloc(t->n_tasks, sizeof(*w->tasks));
		w->n_tasks = t->n_tasks;
	}
	for (i = 0; i < w->n_tasks; i++)
		ew_task_locked(w, t, i);
	pthread_mutex_unlock(&w->lock);
}

void events_sink(void *ctx, const struct trace *t, const struct rec_event *ev)
{
	struct events_writer *w = ctx;
	char line[EVENT_LINE_MAX];
	size_t last = t->n_segments - 1;

	pthread_mutex_lock(&w->lock);
	ew_new_lanes_locked(w, t);
	switch (ev->type) {
	case EV_SEGMENT:
		if (t->n_segments &&
		    !ew_put_locked(w, line,
				   render_line_segment(line, sizeof(line), t,
						       last)))
			ew_write_locked(w, render_event_segment(t, last));
		break;
	case EV_OPEN:
		if (!ew_put_locked(w, line,
				   render_line_open(line, sizeof(line), t, ev)))
			ew_write_locked(w, render_event_open(t, ev));
		break;
	case EV_TASK_SUBMIT:
	case EV_TASK_START:
	case EV_TASK_END:
		if (ev->task < t->n_tasks && ev->task < w->n_tasks &&
		    ew_task_changed(w, t, ev->task))
			ew_task_locked(w, t, ev->task);
		break;
	case EV_LANE_OS_ID:
		if (ev->lane < w->lanes_sent && ev->lane < t->n_lanes)
			ew_write_locked(w, render_event_lane(t, ev->lane));
		break;
	case EV_COUNTER:
		if (t->n_samples)
			ew_write_locked(
				w, render_event_counter(t, t->n_samples - 1));
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&w->lock);
}

/* Pushes buffered lines out every EVENTS_FLUSH_NS while there are any. */
static void *ew_flusher(void *arg)
{
	struct events_writer *w = arg;
	struct timespec ts;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += EVENTS_FLUSH_NS;
		if (ts.tv_nsec >= NS_PER_S) {
			ts.tv_sec++;
			ts.tv_nsec -= NS_PER_S;
		}
		pthread_cond_timedwait(&w->wake, &w->lock, &ts);
		if (w->dirty) {
			fflush(w->f);
			w->dirty = false;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int events_start(struct events_writer *w, FILE *f)
{
	pthread_condattr_t attr;

	memset(w, 0, sizeof(*w));
	w->f = f;
	/* The flusher pushes lines out every EVENTS_FLUSH_NS; a large buffer
	 * spares the collector a write of its own for every few lines of a
	 * burst.  Nothing has been written to f yet. */
	(void)setvbuf(f, NULL, _IOFBF, EVENTS_BUFFER_BYTES);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&w->flusher, NULL, ew_flusher, w) != 0)
		return -EAGAIN;
	w->flusher_running = true;
	return 0;
}

void events_finish(struct events_writer *w, const struct trace *t)
{
	size_t i;

	if (w->flusher_running) {
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->flusher, NULL);
		w->flusher_running = false;
	}
	pthread_mutex_lock(&w->lock);
	if (!w->run_sent) {
		ew_write_locked(w, render_event_run(t));
		w->run_sent = true;
	}
	ew_new_lanes_locked(w, t);
	for (i = 0; i < w->n_tasks && i < t->n_tasks; i++)
		if (ew_task_changed(w, t, i))
			ew_task_locked(w, t, i);
	if (t->has_summary) {
		ew_write_locked(w, render_event_summary(t));
	} else {
		json_t *line = json_pack(
			"{s:s, s:s, s:s, s:n}", "type", "summary", "status",
			run_status_name((enum run_status)t->status), "message",
			t->message, "summary");
		ew_write_locked(w, line);
	}
	fflush(w->f);
	w->dirty = false;
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->tasks);
	w->tasks = NULL;
}
