/*
 * render_events: the NDJSON lines a run streams while it happens (the
 * schema is in render.h).  The objects inside the lines are the same ones
 * the trace JSON holds (trace_*_json in trace.h), so a viewer that folds
 * the lines together gets the trace, and the stream and the stored trace
 * can never disagree on a field.
 */
#include "render.h"

#include <errno.h>
#include <string.h>

#include "trace_json.h"

/* A line carrying value under its type's own key. */
static json_t *typed(enum line_type type, json_t *value)
{
	if (!value)
		return NULL;
	return json_pack("{s:s, s:o}", "type", line_type_name(type),
			 line_type_name(type), value);
}

json_t *render_event_run(const struct trace *t)
{
	return typed(LINE_RUN, trace_run_json(t));
}

json_t *render_event_lane(const struct trace *t, size_t lane)
{
	if (lane >= t->n_lanes)
		return NULL;
	return typed(LINE_LANE, trace_lane_json(&t->lanes[lane]));
}

json_t *render_event_task(const struct trace *t, size_t task)
{
	if (task >= t->n_tasks)
		return NULL;
	return typed(LINE_TASK, trace_task_json(t, &t->tasks[task]));
}

json_t *render_event_segment(const struct trace *t, size_t segment)
{
	if (segment >= t->n_segments)
		return NULL;
	return typed(LINE_SEGMENT,
		     trace_segment_json(t, &t->segments[segment]));
}

json_t *render_event_open(const struct trace *t, const struct rec_event *ev)
{
	const char *note = ev->note < t->n_notes ? t->notes[ev->note] : "";

	return json_pack("{s:s, s:I, s:I, s:s, s:I, s:s}", "type",
			 line_type_name(LINE_OPEN), "task",
			 (json_int_t)ev->task, "lane", (json_int_t)ev->lane,
			 "state", seg_state_name(ev->state), "t0_ns",
			 (json_int_t)ev->t0_ns, "note", note);
}

json_t *render_event_counter(const struct trace *t, size_t sample)
{
	const struct trace_sample *s;

	if (sample >= t->n_samples)
		return NULL;
	s = &t->samples[sample];
	return json_pack("{s:s, s:s, s:I, s:I}", "type",
			 line_type_name(LINE_COUNTER), "name",
			 trace_counter_name(s->counter), "t_ns",
			 (json_int_t)s->t_ns, "value", (json_int_t)s->value);
}

json_t *render_event_summary(const struct trace *t)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "type",
			 line_type_name(LINE_SUMMARY), "status",
			 run_status_name(t->status), "message", t->message,
			 "summary", trace_summary_json(t));
}

/* ---- lines without jansson ---------------------------------------------- */

/* A line being written into a fixed buffer; ok turns false when it does
 * not fit or cannot be written this way. */
struct line {
	char *p, *end;
	bool ok;
};

static void put_raw(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (!l->ok || (size_t)(l->end - l->p) <= n) {
		l->ok = false;
		return;
	}
	memcpy(l->p, s, n);
	l->p += n;
}

static void put_int(struct line *l, int64_t v)
{
	char digits[24];
	int n = 0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (!l->ok || l->end - l->p <= n + 1) {
		l->ok = false;
		return;
	}
	if (v < 0)
		*l->p++ = '-';
	while (n)
		*l->p++ = digits[--n];
}

/* A time as json_time writes it: null before it is known. */
static void put_time(struct line *l, int64_t ns)
{
	if (ns < 0)
		put_raw(l, "null");
	else
		put_int(l, ns);
}

/* A JSON string as jansson escapes it; ASCII only (JSON_ENSURE_ASCII
 * would spell anything else as \u escapes: left to jansson). */
static void put_string(struct line *l, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (!l->ok)
		return;
	if (l->p >= l->end - 1) {
		l->ok = false;
		return;
	}
	*l->p++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		const char *out = esc;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			if (l->p >= l->end - 1) {
				l->ok = false;
				return;
			}
			*l->p++ = (char)c;
			continue;
		}
		if (c >= 0x80) {
			l->ok = false;
			return;
		}
		switch (c) {
		case '\\':
			out = "\\\\";
			break;
		case '"':
			out = "\\\"";
			break;
		case '\b':
			out = "\\b";
			break;
		case '\f':
			out = "\\f";
			break;
		case '\n':
			out = "\\n";
			break;
		case '\r':
			out = "\\r";
			break;
		case '\t':
			out = "\\t";
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			esc[6] = '\0';
			break;
		}
		put_raw(l, out);
		if (!l->ok)
			return;
	}
	put_raw(l, "\"");
}

static int line_end(struct line *l, char *buf)
{
	if (!l->ok || l->p >= l->end)
		return -1;
	*l->p = '\0';
	return (int)(l->p - buf);
}

int render_line_task(char *buf, size_t size, const struct trace *t, size_t task)
{
	struct line l = {buf, buf + size, size > 0};
	char name[TRACE_TASK_NAME_MAX];
	const struct trace_task *k;

	if (task >= t->n_tasks)
		return -1;
	k = &t->tasks[task];
	put_raw(&l, "{\"type\":\"task\",\"task\":{\"id\":");
	put_int(&l, k->id);
	put_raw(&l, ",\"name\":");
	put_string(&l, trace_task_name(t, k, name, sizeof(name)));
	put_raw(&l, ",\"lane\":");
	if (k->lane == UINT32_MAX)
		put_raw(&l, "null");
	else
		put_int(&l, k->lane);
	put_raw(&l, ",\"submit_ns\":");
	put_time(&l, k->submit_ns);
	put_raw(&l, ",\"start_ns\":");
	put_time(&l, k->start_ns);
	put_raw(&l, ",\"end_ns\":");
	put_time(&l, k->end_ns);
	put_raw(&l, ",\"status\":");
	if (k->status == TASK_PENDING)
		put_raw(&l, "null");
	else
		put_string(&l, task_status_name(k->status));
	put_raw(&l, ",\"note\":");
	put_string(&l, trace_task_note(t, k));
	put_raw(&l, "}}");
	return line_end(&l, buf);
}

int render_line_segment(char *buf, size_t size, const struct trace *t,
			size_t segment)
{
	struct line l = {buf, buf + size, size > 0};
	const struct trace_segment *g;

	if (segment >= t->n_segments)
		return -1;
	g = &t->segments[segment];
	put_raw(&l, "{\"type\":\"segment\",\"segment\":{\"task\":");
	put_int(&l, g->task);
	put_raw(&l, ",\"lane\":");
	put_int(&l, g->lane);
	put_raw(&l, ",\"state\":");
	put_string(&l, seg_state_name(g->state));
	put_raw(&l, ",\"t0_ns\":");
	put_int(&l, g->t0_ns);
	put_raw(&l, ",\"t1_ns\":");
	put_int(&l, g->t1_ns);
	put_raw(&l, ",\"note\":");
	put_string(&l, g->note < t->n_notes ? t->notes[g->note] : "");
	if (g->estimated)
		put_raw(&l, ",\"estimated\":true");
	put_raw(&l, "}}");
	return line_end(&l, buf);
}

int render_line_open(char *buf, size_t size, const struct trace *t,
		     const struct rec_event *ev)
{
	struct line l = {buf, buf + size, size > 0};

	put_raw(&l, "{\"type\":\"open\",\"task\":");
	put_int(&l, ev->task);
	put_raw(&l, ",\"lane\":");
	put_int(&l, ev->lane);
	put_raw(&l, ",\"state\":");
	put_string(&l, seg_state_name(ev->state));
	put_raw(&l, ",\"t0_ns\":");
	put_int(&l, ev->t0_ns);
	put_raw(&l, ",\"note\":");
	put_string(&l, ev->note < t->n_notes ? t->notes[ev->note] : "");
	put_raw(&l, "}");
	return line_end(&l, buf);
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
