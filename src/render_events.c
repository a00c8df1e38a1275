/*
 * render_events: the NDJSON lines a run streams while it happens (the
 * schema is in render.h).  The objects inside the lines are the same ones
 * the trace JSON holds (trace_*_json in trace.h), so a viewer that folds
 * the lines together gets the trace, and the stream and the stored trace
 * can never disagree on a field.
 */
#include "render.h"

#include <errno.h>

static json_t *typed(const char *type, const char *key, json_t *value)
{
	if (!value)
		return NULL;
	return json_pack("{s:s, s:o}", "type", type, key, value);
}

json_t *render_event_run(const struct trace *t)
{
	return typed("run", "run", trace_run_json(t));
}

json_t *render_event_lane(const struct trace *t, size_t lane)
{
	if (lane >= t->n_lanes)
		return NULL;
	return typed("lane", "lane", trace_lane_json(&t->lanes[lane]));
}

json_t *render_event_task(const struct trace *t, size_t task)
{
	if (task >= t->n_tasks)
		return NULL;
	return typed("task", "task", trace_task_json(t, &t->tasks[task]));
}

json_t *render_event_segment(const struct trace *t, size_t segment)
{
	if (segment >= t->n_segments)
		return NULL;
	return typed("segment", "segment",
		     trace_segment_json(t, &t->segments[segment]));
}

json_t *render_event_open(const struct trace *t, const struct rec_event *ev)
{
	const char *note = ev->note < t->n_notes ? t->notes[ev->note] : "";

	return json_pack("{s:s, s:I, s:I, s:s, s:I, s:s}", "type", "open",
			 "task", (json_int_t)ev->task, "lane",
			 (json_int_t)ev->lane, "state",
			 seg_state_name(ev->state), "t0_ns",
			 (json_int_t)ev->t0_ns, "note", note);
}

json_t *render_event_counter(const struct trace *t, size_t sample)
{
	const struct trace_sample *s;

	if (sample >= t->n_samples)
		return NULL;
	s = &t->samples[sample];
	return json_pack("{s:s, s:s, s:I, s:I}", "type", "counter", "name",
			 trace_counter_name(s->counter), "t_ns",
			 (json_int_t)s->t_ns, "value", (json_int_t)s->value);
}

json_t *render_event_summary(const struct trace *t)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "type", "summary", "status",
			 run_status_name(t->status), "message", t->message,
			 "summary", trace_summary_json(t));
}

int render_ndjson_line(FILE *f, const json_t *obj)
{
	int ret = 0;

	if (!obj)
		return -EINVAL;
	flockfile(f);
	if (json_dumpf(obj, f, JSON_COMPACT) != 0 ||
	    putc_unlocked('\n', f) == EOF)
		ret = -EIO;
	funlockfile(f);
	if (fflush(f) != 0)
		ret = -EIO;
	return ret;
}

void render_ndjson_sink(void *ctx, const struct trace *t,
			const struct rec_event *ev)
{
	FILE *f = ctx;
	json_t *line = NULL;

	switch (ev->type) {
	case EV_LANE_ADD:
	case EV_LANE_OS_ID:
		line = render_event_lane(t, ev->lane);
		break;
	case EV_TASK_SUBMIT:
	case EV_TASK_START:
	case EV_TASK_END:
		line = render_event_task(t, ev->task);
		break;
	case EV_SEGMENT:
		line = render_event_segment(t, t->n_segments - 1);
		break;
	case EV_OPEN:
		line = render_event_open(t, ev);
		break;
	case EV_COUNTER:
		line = render_event_counter(t, t->n_samples - 1);
		break;
	default:
		return;
	}
	if (line)
		render_ndjson_line(f, line);
	json_decref(line);
}
