/*
 * trace: the trace a run becomes, as plain arrays that grow.  A run has up
 * to 100,000 tasks, so a task holds no text of its own: names share labels
 * and notes are interned once (trace.h says how).  Filled by the collector
 * (trace_collector.h) or by reading a trace JSON (trace_json.h).
 */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void trace_init(struct trace *t)
{
	memset(t, 0, sizeof(*t));
	t->status = 0; /* not started: the first word of the status list */
	t->summary.max_loop_lag_ns = -1;
	t->summary.peak_memory_bytes = -1;
	t->summary.memory_per_task_bytes = -1;
	t->summary.peak_rss_bytes = -1;
	t->cap_notes = 8;
	t->notes = util_xcalloc(t->cap_notes, sizeof(*t->notes));
	t->notes[0] = util_xstrdup("");
	t->n_notes = 1;
	t->cap_labels = 8;
	t->labels = util_xcalloc(t->cap_labels, sizeof(*t->labels));
	t->labels[0] = util_xstrdup("");
	t->n_labels = 1;
}

void trace_free(struct trace *t)
{
	json_decref(t->params);
	json_decref(t->options);
	json_decref(t->summary.checks);
	free(t->lanes);
	free(t->tasks);
	free(t->segments);
	free(t->samples);
	for (size_t i = 0; i < t->n_notes; i++)
		free(t->notes[i]);
	free(t->notes);
	for (size_t i = 0; i < t->n_labels; i++)
		free(t->labels[i]);
	free(t->labels);
	memset(t, 0, sizeof(*t));
}

/* Grows an array by one zeroed element; returns it. */
static void *grow(void **items, size_t *n, size_t *cap, size_t size)
{
	char *slot;

	if (*n == *cap) {
		size_t cap2 = *cap ? *cap * 2 : 16;

		*items = util_xrealloc(*items, cap2 * size);
		*cap = cap2;
	}
	slot = (char *)*items + *n * size;
	memset(slot, 0, size);
	(*n)++;
	return slot;
}

struct trace_lane *trace_add_lane(struct trace *t)
{
	struct trace_lane *l = grow((void **)&t->lanes, &t->n_lanes,
				    &t->cap_lanes, sizeof(*l));

	l->id = (uint32_t)(t->n_lanes - 1);
	return l;
}

struct trace_task *trace_add_task(struct trace *t)
{
	struct trace_task *k = grow((void **)&t->tasks, &t->n_tasks,
				    &t->cap_tasks, sizeof(*k));

	k->id = (uint32_t)(t->n_tasks - 1);
	k->lane = UINT32_MAX;
	k->submit_ns = k->start_ns = k->end_ns = -1;
	k->status = TASK_PENDING;
	return k;
}

struct trace_segment *trace_add_segment(struct trace *t)
{
	return grow((void **)&t->segments, &t->n_segments, &t->cap_segments,
		    sizeof(struct trace_segment));
}

struct trace_sample *trace_add_sample(struct trace *t)
{
	return grow((void **)&t->samples, &t->n_samples, &t->cap_samples,
		    sizeof(struct trace_sample));
}

uint32_t trace_note(struct trace *t, const char *text)
{
	char **slot;

	if (!text || !*text)
		return 0;
	/* Notes are object names and a few messages: a scan is enough. */
	for (size_t i = 1; i < t->n_notes; i++)
		if (strcmp(t->notes[i], text) == 0)
			return (uint32_t)i;
	slot = grow((void **)&t->notes, &t->n_notes, &t->cap_notes,
		    sizeof(*slot));
	*slot = util_xstrdup(text);
	return (uint32_t)(t->n_notes - 1);
}

/* How many of the newest labels trace_task_set_label() looks through for
 * the one it is given.  A run's tasks share a few labels, given in runs
 * ("request", "request", ...); a trace read from JSON whose names all
 * differ stores each once, without a search that grows with the tasks. */
#define LABEL_SCAN_MAX 16

void trace_task_set_label(struct trace *t, struct trace_task *k,
			  const char *label, uint32_t number)
{
	size_t i = t->n_labels, stop;
	char **slot;

	stop = i > LABEL_SCAN_MAX ? i - LABEL_SCAN_MAX : 0;
	while (i > stop && strcmp(t->labels[i - 1], label) != 0)
		i--;
	if (i > stop) {
		k->label = (uint32_t)(i - 1);
	} else {
		slot = grow((void **)&t->labels, &t->n_labels, &t->cap_labels,
			    sizeof(*slot));
		*slot = util_xstrdup(label);
		k->label = (uint32_t)(t->n_labels - 1);
	}
	k->number = number;
	k->numbered = true;
}

/* The number that ends name after its last space, when it is written as
 * "%u" writes it (so the name comes back exactly); -1 otherwise. */
static int64_t name_number(const char *digits)
{
	int64_t n = 0;

	if (!*digits || (digits[0] == '0' && digits[1]))
		return -1;
	for (; *digits; digits++) {
		if (*digits < '0' || *digits > '9')
			return -1;
		n = n * 10 + (*digits - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	return n;
}

void trace_task_set_name(struct trace *t, struct trace_task *k,
			 const char *name)
{
	const char *space = strrchr(name, ' ');
	int64_t number = space ? name_number(space + 1) : -1;
	char label[TRACE_TASK_NAME_MAX];
	size_t len = space ? (size_t)(space - name) : 0;

	if (number >= 0 && len < sizeof(label)) {
		memcpy(label, name, len);
		label[len] = '\0';
		trace_task_set_label(t, k, label, (uint32_t)number);
	} else {
		trace_task_set_label(t, k, name, 0);
		k->numbered = false;
	}
}

char *trace_task_name(const struct trace *t, const struct trace_task *k,
		      char *buf, size_t size)
{
	const char *label = k->label < t->n_labels ? t->labels[k->label] : "";

	if (size > TRACE_TASK_NAME_MAX)
		size = TRACE_TASK_NAME_MAX;
	if (k->numbered)
		snprintf(buf, size, "%s %u", label, k->number);
	else
		snprintf(buf, size, "%s", label);
	return buf;
}

const char *trace_task_note(const struct trace *t, const struct trace_task *k)
{
	return k->note < t->n_notes ? t->notes[k->note] : "";
}

bool trace_message_names_status(const struct trace *t)
{
	const char *st = run_status_name(t->status);
	size_t n = strlen(st);

	return strncmp(t->message, st, n) == 0 && t->message[n] == ':';
}

int64_t trace_union_ns(const struct trace_segment *const *s, size_t n)
{
	int64_t sum = 0, from, to;

	if (n == 0)
		return 0;
	from = s[0]->t0_ns;
	to = s[0]->t1_ns;
	for (size_t i = 1; i < n; i++) {
		if (s[i]->t0_ns > to) {
			sum += to - from;
			from = s[i]->t0_ns;
		}
		if (s[i]->t1_ns > to)
			to = s[i]->t1_ns;
	}
	return sum + (to - from);
}
