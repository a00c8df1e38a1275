/*
 * render_ascii: the textbook timeline.
 *
 *   request 1: |──wait 2.0s──|
 *   request 2:               |──wait 2.0s──|
 *   Total: 4.00 s
 *
 * One row per task, in task id order, on one time axis scaled to the width
 * (the trace's own wall time, or a longer axis shared by several runs in a
 * compare).  A task's start and end are bars; every column in between shows
 * the state that covers most of that column's time slice, so a step shorter
 * than a column disappears rather than pushing the picture out of scale.
 * States are drawn by class, with a glyph each (plain ASCII on request),
 * both from the protocol's vocabulary (protocol_glyphs): compute, wait on
 * I/O or sleep, gil-wait, queued, waits on shared objects, backoff,
 * startup, ipc, connect.  A stretch of compute or of waiting that
 * is wide enough carries its length as a label, as the textbook drawings
 * do.
 */
#include "render.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"
#include "util.h"

#define MAX_ROWS 40
#define MIN_COLUMNS 10
#define KEY_WIDTH 18

/* A cell holds a glyph's index in protocol_glyphs (0: empty), or a bar. */
#define G_NONE 0
#define G_BAR PROTOCOL_GLYPHS

/* The glyph class a state is drawn with; G_NONE for none. */
static unsigned state_class(unsigned state)
{
	const struct state_def *d = seg_state_def(state);

	return d ? d->glyph : G_NONE;
}

static const char *glyph_of(bool unicode, unsigned cls)
{
	return unicode ? protocol_glyphs[cls].unicode
		       : protocol_glyphs[cls].plain;
}

/* Display columns of UTF-8 text: one per code point (the glyphs and the
 * names here are all single-width). */
static size_t text_columns(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void put_spaces(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

/* Short lengths for labels inside bars: "2.0s", "200ms", "50us". */
static void format_short(int64_t ns, char *buf, size_t size)
{
	double v = (double)ns;

	if (ns >= 10 * NS_PER_S)
		snprintf(buf, size, "%.0fs", v / NS_PER_S);
	else if (ns >= NS_PER_S)
		snprintf(buf, size, "%.1fs", v / NS_PER_S);
	else if (ns >= 10 * NS_PER_MS)
		snprintf(buf, size, "%.0fms", v / NS_PER_MS);
	else if (ns >= NS_PER_MS)
		snprintf(buf, size, "%.1fms", v / NS_PER_MS);
	else
		snprintf(buf, size, "%.0fus", v / NS_PER_US);
}

/* Where the picture's geometry lives while one trace is drawn. */
struct canvas {
	const struct trace *t;
	bool unicode;
	int64_t axis_ns;
	size_t columns; /* the axis spans positions 0..columns */
	size_t label_width;
	size_t *by_task;    /* segment indices grouped by task */
	size_t *task_first; /* [n_tasks + 1] offsets into by_task */
	double (*cover)[PROTOCOL_GLYPHS]; /* [columns + 1] per class */
	uint8_t *cell;			  /* [columns + 1] glyph class or bar */
	char *overlay;			  /* [columns + 1] label text or 0 */
	bool used[PROTOCOL_GLYPHS];
	bool states_used[ST__COUNT];
};

static double axis_pos(const struct canvas *cv, int64_t t_ns)
{
	return (double)t_ns * (double)cv->columns / (double)cv->axis_ns;
}

static size_t axis_col(const struct canvas *cv, int64_t t_ns)
{
	double p = axis_pos(cv, t_ns) + 0.5;

	if (p < 0)
		return 0;
	if (p > (double)cv->columns)
		return cv->columns;
	return (size_t)p;
}

static void group_segments_by_task(struct canvas *cv)
{
	const struct trace *t = cv->t;
	size_t *fill;

	cv->task_first = util_xcalloc(t->n_tasks + 1, sizeof(size_t));
	cv->by_task = util_xcalloc(t->n_segments + 1, sizeof(size_t));
	for (size_t i = 0; i < t->n_segments; i++)
		if (t->segments[i].task < t->n_tasks)
			cv->task_first[t->segments[i].task + 1]++;
	for (size_t k = 0; k < t->n_tasks; k++)
		cv->task_first[k + 1] += cv->task_first[k];
	fill = util_xcalloc(t->n_tasks + 1, sizeof(size_t));
	memcpy(fill, cv->task_first, t->n_tasks * sizeof(size_t));
	for (size_t i = 0; i < t->n_segments; i++)
		if (t->segments[i].task < t->n_tasks)
			cv->by_task[fill[t->segments[i].task]++] = i;
	free(fill);
}

/* Labels a stretch [c0, c1] of one class with its length when it fits. */
static void label_run(struct canvas *cv, size_t task, size_t c0, size_t c1,
		      unsigned cls)
{
	const struct trace *t = cv->t;
	double lo = (double)c0 - 0.5, hi = (double)c1 + 0.5;
	int64_t total_ns = 0;
	char len[16], label[32];
	size_t width = c1 - c0 + 1, n;

	/* Whole segments that show in the stretch: a step's label gives the
	 * step's length, not the part of it that rounding left visible. */
	for (size_t j = cv->task_first[task]; j < cv->task_first[task + 1];
	     j++) {
		const struct trace_segment *s = &t->segments[cv->by_task[j]];

		if (state_class(s->state) == cls &&
		    axis_pos(cv, s->t1_ns) > lo && axis_pos(cv, s->t0_ns) < hi)
			total_ns += s->t1_ns - s->t0_ns;
	}
	format_short(total_ns, len, sizeof(len));
	snprintf(label, sizeof(label), "%s %s", protocol_glyphs[cls].label,
		 len);
	n = strlen(label);
	if (n + 2 > width)
		return;
	memcpy(cv->overlay + c0 + (width - n) / 2, label, n);
}

static void draw_row(struct canvas *cv, size_t task, FILE *f)
{
	const struct trace *t = cv->t;
	const struct trace_task *k = &t->tasks[task];
	size_t ncols = cv->columns + 1, last = 0;
	bool any = false;
	char name[TRACE_TASK_NAME_MAX];

	memset(cv->cover, 0, ncols * sizeof(*cv->cover));
	memset(cv->cell, G_NONE, ncols);
	memset(cv->overlay, 0, ncols);

	for (size_t j = cv->task_first[task]; j < cv->task_first[task + 1];
	     j++) {
		const struct trace_segment *s = &t->segments[cv->by_task[j]];
		unsigned cls = state_class(s->state);
		double p0 = axis_pos(cv, s->t0_ns), p1 = axis_pos(cv, s->t1_ns);

		if (cls == G_NONE || p1 <= p0)
			continue;
		for (size_t c = axis_col(cv, s->t0_ns);
		     c <= axis_col(cv, s->t1_ns); c++) {
			double lo = p0 > c - 0.5 ? p0 : c - 0.5;
			double hi = p1 < c + 0.5 ? p1 : c + 0.5;

			if (hi > lo)
				cv->cover[c][cls] += hi - lo;
		}
	}
	for (size_t c = 0; c < ncols; c++) {
		double best = 0;

		for (int cls = 1; cls < PROTOCOL_GLYPHS; cls++)
			if (cv->cover[c][cls] > best) {
				best = cv->cover[c][cls];
				cv->cell[c] = (uint8_t)cls;
			}
	}
	if (k->start_ns >= 0)
		cv->cell[axis_col(cv, k->start_ns)] = G_BAR;
	if (k->start_ns >= 0 && k->end_ns >= k->start_ns)
		cv->cell[axis_col(cv, k->end_ns)] = G_BAR;

	for (size_t c = 0; c < ncols;) {
		size_t e = c;

		while (e + 1 < ncols && cv->cell[e + 1] == cv->cell[c])
			e++;
		if (cv->cell[c] < G_BAR && protocol_glyphs[cv->cell[c]].label)
			label_run(cv, task, c, e, cv->cell[c]);
		c = e + 1;
	}

	trace_task_name(t, k, name, sizeof(name));
	fputs(name, f);
	fputc(':', f);
	put_spaces(f, cv->label_width - text_columns(name) + 1);
	for (size_t c = 0; c < ncols; c++)
		if (cv->cell[c] != G_NONE) {
			last = c;
			any = true;
		}
	if (!any) {
		fputs(k->start_ns < 0 ? "(not started)" : "(no segments)", f);
		fputc('\n', f);
		return;
	}
	for (size_t c = 0; c <= last; c++) {
		if (cv->overlay[c])
			fputc(cv->overlay[c], f);
		else if (cv->cell[c] == G_BAR)
			fputc('|', f);
		else
			fputs(glyph_of(cv->unicode, cv->cell[c]), f);
		if (cv->cell[c] < G_BAR)
			cv->used[cv->cell[c]] = true;
	}
	fputc('\n', f);
}

#define NBSP '\x1f' /* a space the wrapper never breaks at */

static bool is_unit_word(const char *w, size_t len)
{
	static const char *const units[] = {"s", "ms", "us", "ns"};

	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(units[i]);

		if (len >= n && strncmp(w, units[i], n) == 0 &&
		    (len == n || w[n] == ',' || w[n] == ')' || w[n] == ';' ||
		     w[n] == '.'))
			return true;
	}
	return false;
}

static size_t utf8_columns(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* The next word of text at p: its length, glued to a following unit when
 * it ends in a digit ("400 ms" stays whole). */
static size_t next_word(const char *w)
{
	size_t len = strcspn(w, " ");

	if (len && w[len - 1] >= '0' && w[len - 1] <= '9') {
		const char *next = w + len;

		while (*next == ' ')
			next++;
		if (*next && is_unit_word(next, strcspn(next, " ")))
			len = (size_t)(next - w) + strcspn(next, " ");
	}
	return len;
}

/* Prints text from column col, wrapping at limit to column indent.  Words
 * are split at spaces (the run of spaces between two words on one line is
 * kept as it is), never at NBSP, and never between a number and its unit. */
static void print_wrapped(FILE *f, size_t col, size_t indent, size_t limit,
			  const char *text)
{
	const char *p = text;
	size_t gap = 0;
	bool first = true;

	while (*p == ' ')
		p++;
	while (*p) {
		size_t len = next_word(p), wcols = utf8_columns(p, len);

		if (!first && col + gap + wcols > limit) {
			fputc('\n', f);
			put_spaces(f, indent);
			col = indent;
		} else {
			put_spaces(f, gap);
			col += gap;
		}
		for (size_t i = 0; i < len; i++)
			fputc(p[i] == NBSP ? ' ' : p[i], f);
		col += wcols;
		p += len;
		for (gap = 0; *p == ' '; p++)
			gap++;
		first = false;
	}
	fputc('\n', f);
}

static size_t wrap_limit(int width)
{
	return width > KEY_WIDTH + 20 ? (size_t)width : KEY_WIDTH + 20;
}

static void print_legend(const struct canvas *cv, int width, FILE *f)
{
	char text[1024] = "|\x1f"
			  "start,\x1f"
			  "end";
	size_t used;

	for (int cls = 1; cls < PROTOCOL_GLYPHS; cls++) {
		bool first = true;

		if (!cv->used[cls])
			continue;
		used = strlen(text);
		snprintf(text + used, sizeof(text) - used, "   %s%c",
			 glyph_of(cv->unicode, cls), NBSP);
		for (int s = 0; s < ST__COUNT; s++)
			if (cv->states_used[s] && (int)state_class(s) == cls) {
				used = strlen(text);
				snprintf(text + used, sizeof(text) - used,
					 "%s%s", first ? "" : "/",
					 seg_state_name(s));
				first = false;
			}
	}
	fputs("Legend: ", f);
	print_wrapped(f, 8, 8, wrap_limit(width), text);
}

/* "Key               value that wraps at the width, indented" */
static void print_field(FILE *f, int width, const char *key, const char *text)
{
	fputs(key, f);
	put_spaces(f, KEY_WIDTH > strlen(key) ? KEY_WIDTH - strlen(key) : 1);
	print_wrapped(f, KEY_WIDTH, KEY_WIDTH, wrap_limit(width), text);
}

static void append(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

static const char *bound_text(const char *bound)
{
	if (strcmp(bound, "io") == 0)
		return "I/O-bound";
	if (strcmp(bound, "cpu") == 0)
		return "CPU-bound";
	if (strcmp(bound, "sync") == 0)
		return "bound by synchronisation";
	if (!bound[0])
		return "nothing measured";
	return "mixed";
}

/* How many lanes "Lane use" names before it sums up the rest. */
#define LANE_USE_NAMED 4

static const struct trace *lane_sort_trace;

static int lane_busier(const void *a, const void *b)
{
	const struct trace_lane *x =
		&lane_sort_trace->lanes[*(const size_t *)a];
	const struct trace_lane *y =
		&lane_sort_trace->lanes[*(const size_t *)b];

	if (x->busy_ns != y->busy_ns)
		return x->busy_ns > y->busy_ns ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* "Thread-1 49%, Thread-2 48%, main 0%": the share of the wall time each
 * lane computed, busiest first; past a few, the rest on average. */
/* Bytes as people read them: "15.6 KiB", "11.2 MiB". */
static void format_bytes(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
	double value = (double)bytes;
	size_t unit = 0;

	while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(buf, size, "%lld B", (long long)bytes);
	else
		snprintf(buf, size, "%.3g %s", value, units[unit]);
}

static void print_lane_use(const struct trace *t, int width, FILE *f)
{
	const struct trace_summary *m = &t->summary;
	char buf[512] = "";
	size_t *order;
	int64_t rest = 0;

	if (!m->has_lane_busy || t->n_lanes == 0 || m->wall_ns <= 0)
		return;
	order = malloc(t->n_lanes * sizeof(*order));
	if (!order)
		return;
	for (size_t i = 0; i < t->n_lanes; i++)
		order[i] = i;
	lane_sort_trace = t;
	qsort(order, t->n_lanes, sizeof(*order), lane_busier);
	for (size_t i = 0; i < t->n_lanes; i++) {
		const struct trace_lane *l = &t->lanes[order[i]];

		if (i < LANE_USE_NAMED)
			append(buf, sizeof(buf), "%s%s %.0f%%", i ? ", " : "",
			       l->name,
			       100.0 * (double)l->busy_ns / (double)m->wall_ns);
		else
			rest += l->busy_ns;
	}
	if (t->n_lanes > LANE_USE_NAMED) {
		size_t more = t->n_lanes - LANE_USE_NAMED;

		append(buf, sizeof(buf),
		       " and %zu more lane%s, %.0f%% on average", more,
		       more == 1 ? "" : "s",
		       100.0 * (double)rest / (double)more /
			       (double)m->wall_ns);
	}
	append(buf, sizeof(buf), " (share of the wall time computing)");
	print_field(f, width, "Lane use", buf);
	free(order);
}

static void print_summary(const struct trace *t, int width, FILE *f)
{
	const struct trace_summary *m = &t->summary;
	char buf[1536], d[32];
	const char *key;
	json_t *value;

	fputc('\n', f);
	print_field(f, width, "Wall time",
		    util_format_duration(m->wall_ns, d, sizeof(d)));
	print_field(f, width, "Summed task time",
		    util_format_duration(m->task_time_ns, d, sizeof(d)));
	snprintf(buf, sizeof(buf),
		 "%.2fx over running the tasks one after another", m->speedup);
	print_field(f, width, "Speedup", buf);
	snprintf(buf, sizeof(buf), "%.2f tasks computing on average",
		 m->parallelism);
	print_field(f, width, "Parallelism", buf);
	if (m->cpu_util > 0)
		snprintf(buf, sizeof(buf), "%.0f%% of %d cores",
			 m->cpu_util * 100.0, t->host.cores);
	else
		snprintf(buf, sizeof(buf), "not measured");
	print_field(f, width, "CPU utilisation", buf);
	snprintf(buf, sizeof(buf), "%lld task%s", (long long)m->peak_inflight,
		 m->peak_inflight == 1 ? "" : "s");
	print_field(f, width, "Peak in flight", buf);
	print_lane_use(t, width, f);

	buf[0] = '\0';
	for (int s = 0; s < ST__COUNT; s++)
		if (m->states_ns[s] > 0)
			append(buf, sizeof(buf), "%s%s %s", buf[0] ? ", " : "",
			       seg_state_name(s),
			       util_format_duration(m->states_ns[s], d,
						    sizeof(d)));
	if (buf[0])
		print_field(f, width, "Time per state", buf);
	if (m->max_loop_lag_ns >= 0)
		print_field(f, width, "Max loop lag",
			    util_format_duration(m->max_loop_lag_ns, d,
						 sizeof(d)));
	if (m->peak_memory_bytes > 0) {
		char per[32];

		format_bytes(m->peak_memory_bytes, d, sizeof(d));
		format_bytes(m->memory_per_task_bytes, per, sizeof(per));
		snprintf(buf, sizeof(buf), "%s, %s a task", d, per);
		print_field(f, width, "Peak memory", buf);
	}

	buf[0] = '\0';
	if (m->checks)
		json_object_foreach(m->checks, key, value) {
			char *text;

			/* The diagnosis already ends with it. */
			if (strcmp(key, "explain") == 0)
				continue;
			if (json_is_string(value))
				text = strdup(json_string_value(value));
			else
				text = json_dumps(value, JSON_ENCODE_ANY |
								 JSON_COMPACT);
			append(buf, sizeof(buf), "%s%s %s", buf[0] ? ", " : "",
			       key, text ? text : "?");
			free(text);
		}
	if (buf[0])
		print_field(f, width, "Checks", buf);

	/* "fix: shrink critical section" from the advice's word. */
	char fix[sizeof(m->advice) + 8] = "";

	if (m->advice[0]) {
		snprintf(fix, sizeof(fix), "; fix: %s", m->advice);
		for (char *c = fix; *c; c++)
			if (*c == '-')
				*c = ' ';
	}
	snprintf(buf, sizeof(buf), "%s; recommended model: %s%s. %s",
		 bound_text(m->bound), m->recommend[0] ? m->recommend : "none",
		 fix, m->why);
	print_field(f, width, "Diagnosis", buf);
}

static void print_task_problems(const struct trace *t, FILE *f)
{
	size_t shown = 0, more = 0;

	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct trace_task *k = &t->tasks[i];
		const char *note = trace_task_note(t, k);
		char name[TRACE_TASK_NAME_MAX];

		if (k->status == TASK_OK)
			continue;
		if (shown == 10) {
			more++;
			continue;
		}
		shown++;
		trace_task_name(t, k, name, sizeof(name));
		if (k->status == TASK_PENDING)
			fprintf(f, "%s did not finish", name);
		else
			fprintf(f, "%s: %s", name, task_status_name(k->status));
		if (note[0])
			fprintf(f, ": %s", note);
		fputc('\n', f);
	}
	if (more)
		fprintf(f, "... and %zu more tasks that did not end ok\n",
			more);
}

static int64_t trace_wall(const struct trace *t)
{
	int64_t wall = 0;

	if (t->has_summary && t->summary.wall_ns > 0)
		return t->summary.wall_ns;
	for (size_t i = 0; i < t->n_tasks; i++)
		if (t->tasks[i].end_ns > wall)
			wall = t->tasks[i].end_ns;
	for (size_t i = 0; i < t->n_segments; i++)
		if (t->segments[i].t1_ns > wall)
			wall = t->segments[i].t1_ns;
	return wall;
}

int render_ascii(const struct trace *t, const struct ascii_opts *o, FILE *f)
{
	struct canvas cv = {.t = t, .unicode = o && o->unicode};
	int width = o && o->width > 0 ? o->width : 100;
	size_t rows = t->n_tasks < MAX_ROWS ? t->n_tasks : MAX_ROWS;
	int64_t wall = trace_wall(t);
	char d[32];

	cv.axis_ns = o && o->axis_ns > wall ? o->axis_ns : wall;
	if (cv.axis_ns <= 0)
		cv.axis_ns = 1;
	for (size_t i = 0; i < rows; i++) {
		char name[TRACE_TASK_NAME_MAX];
		size_t n = text_columns(
			trace_task_name(t, &t->tasks[i], name, sizeof(name)));

		if (n > cv.label_width)
			cv.label_width = n;
	}
	/* "name:" padded, a space, then positions 0..columns. */
	cv.columns = (size_t)width > cv.label_width + 2 + MIN_COLUMNS + 1
			     ? (size_t)width - cv.label_width - 2 - 1
			     : MIN_COLUMNS;
	for (size_t i = 0; i < t->n_segments; i++)
		if (t->segments[i].state < ST__COUNT &&
		    t->segments[i].task < rows)
			cv.states_used[t->segments[i].state] = true;

	group_segments_by_task(&cv);
	cv.cover = util_xcalloc(cv.columns + 1, sizeof(*cv.cover));
	cv.cell = util_xcalloc(cv.columns + 1, 1);
	cv.overlay = util_xcalloc(cv.columns + 1, 1);

	fprintf(f, "%s under %s, %zu task%s", t->workload, t->model, t->n_tasks,
		t->n_tasks == 1 ? "" : "s");
	/* A run of the reference engine says which Python ran it. */
	if (strcmp(t->engine.name, "cpython") == 0)
		fprintf(f, ", in CPython %s%s", t->engine.version,
			strcmp(t->engine.build, "free-threaded") == 0
				? " (free-threaded)"
				: "");
	if (rows < t->n_tasks)
		fprintf(f, " (the first %zu shown)", rows);
	fputc('\n', f);
	for (size_t i = 0; i < rows; i++)
		draw_row(&cv, i, f);
	if (rows < t->n_tasks)
		fprintf(f, "... %zu more tasks\n", t->n_tasks - rows);
	fprintf(f, "Total: %s\n", util_format_duration(wall, d, sizeof(d)));
	print_legend(&cv, width, f);
	print_task_problems(t, f);
	if (t->status != RUN_DONE && trace_message_names_status(t))
		fprintf(f, "Run status: %s\n", t->message);
	else if (t->status != RUN_DONE)
		fprintf(f, "Run status: %s%s%s\n", run_status_name(t->status),
			t->message[0] ? ": " : "", t->message);
	if (o && o->summary && t->has_summary)
		print_summary(t, width, f);

	free(cv.overlay);
	free(cv.cell);
	free(cv.cover);
	free(cv.by_task);
	free(cv.task_first);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
