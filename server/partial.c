/*
 * partial: fold event lines into the trace JSON (see partial.h).
 *
 * Lanes and tasks are replaced by id, and a run has up to 100,000 tasks
 * each sent three or four times, so the fold keeps a map from id to array
 * position instead of searching.  Segments arrive in the order the
 * collector drained them; the engine sorts its final trace, and so does
 * partial_trace(), with the same order, on a copy of the pointers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "partial.h"
#include "protocol.h"

/* Ids above this are kept but found by searching (never in practice). */
#define PARTIAL_MAP_MAX (1u << 24)

struct id_map {
	size_t *pos; /* pos[id] = index + 1; 0: absent */
	size_t cap;
};

struct partial {
	json_t *root; /* the trace object */
	json_t *run, *lanes, *tasks, *segments, *counters; /* borrowed */
	struct id_map lane_map, task_map;
};

static int map_get(const struct id_map *m, json_int_t id, size_t *index)
{
	if (id < 0 || (uint64_t)id >= m->cap || m->pos[id] == 0)
		return -ENOENT;
	*index = m->pos[id] - 1;
	return 0;
}

static int map_set(struct id_map *m, json_int_t id, size_t index)
{
	if (id < 0 || (uint64_t)id >= PARTIAL_MAP_MAX)
		return -ERANGE;
	if ((uint64_t)id >= m->cap) {
		size_t cap = m->cap ? m->cap : 64;
		size_t *p;

		while (cap <= (uint64_t)id)
			cap *= 2;
		p = realloc(m->pos, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + m->cap, 0, (cap - m->cap) * sizeof(*p));
		m->pos = p;
		m->cap = cap;
	}
	m->pos[id] = index + 1;
	return 0;
}

struct partial *partial_create(const json_t *run)
{
	struct partial *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->run = run ? json_deep_copy(run) : json_object();
	p->lanes = json_array();
	p->tasks = json_array();
	p->segments = json_array();
	p->counters = json_array();
	p->root = json_object();
	if (!p->run || !p->lanes || !p->tasks || !p->segments || !p->counters ||
	    !p->root) {
		json_decref(p->run);
		json_decref(p->lanes);
		json_decref(p->tasks);
		json_decref(p->segments);
		json_decref(p->counters);
		json_decref(p->root);
		free(p);
		return NULL;
	}
	json_object_set_new(p->root, "format", json_string("overlap-trace"));
	json_object_set_new(p->root, "version", json_integer(1));
	json_object_set_new(p->root, "run", p->run);
	json_object_set_new(p->root, "lanes", p->lanes);
	json_object_set_new(p->root, "tasks", p->tasks);
	json_object_set_new(p->root, "segments", p->segments);
	json_object_set_new(p->root, "counters", p->counters);
	json_object_set_new(p->root, "summary", json_null());
	return p;
}

void partial_destroy(struct partial *p)
{
	if (!p)
		return;
	json_decref(p->root);
	free(p->lane_map.pos);
	free(p->task_map.pos);
	free(p);
}

/* Replaces the entry of array with obj's "id", or appends it. */
static void put_by_id(json_t *array, struct id_map *map, json_t *obj)
{
	json_t *id = json_object_get(obj, "id");
	json_int_t n;
	size_t index;

	if (!json_is_object(obj) || !json_is_integer(id))
		return;
	n = json_integer_value(id);
	if (map_get(map, n, &index) == 0) {
		json_array_set(array, index, obj);
		return;
	}
	if (n < 0 || (uint64_t)n >= PARTIAL_MAP_MAX) {
		/* Out of the map's range: search. */
		for (size_t i = 0; i < json_array_size(array); i++) {
			json_t *old = json_array_get(array, i);
			if (json_integer_value(json_object_get(old, "id")) ==
			    n) {
				json_array_set(array, i, obj);
				return;
			}
		}
		json_array_append(array, obj);
		return;
	}
	if (json_array_append(array, obj) == 0)
		map_set(map, n, json_array_size(array) - 1);
}

static void set_status(struct partial *p, const json_t *ev)
{
	json_t *status = json_object_get(ev, "status");
	json_t *message = json_object_get(ev, "message");

	if (json_is_string(status))
		json_object_set(p->run, "status", status);
	if (json_is_string(message))
		json_object_set(p->run, "message", message);
}

/* The server's final status for a run whose runner never concluded it
 * (killed, crashed, lost with the server): every task it left unfinished
 * ends with that status's reason, as error (cancelled, for a cancel), so
 * the trace says what became of each task. */
static void cut_open_tasks(struct partial *p, const json_t *ev)
{
	const char *status = json_string_value(json_object_get(ev, "status"));
	const char *message = json_string_value(json_object_get(ev, "message"));
	json_t *task;
	size_t i;

	if (!status || strcmp(status, "queued") == 0 ||
	    strcmp(status, "running") == 0 ||
	    !json_is_null(json_object_get(p->root, "summary")))
		return;
	json_array_foreach(p->tasks, i, task) {
		const char *note;
		json_t *copy;

		if (!json_is_null(json_object_get(task, "status")))
			continue;
		copy = json_deep_copy(task);
		if (!copy)
			return;
		json_object_set_new(copy, "status",
				    json_string(strcmp(status, "cancelled") == 0
							? "cancelled"
							: "error"));
		note = json_string_value(json_object_get(copy, "note"));
		if ((!note || !note[0]) && message)
			json_object_set_new(copy, "note", json_string(message));
		json_array_set_new(p->tasks, i, copy);
	}
}

int partial_apply(struct partial *p, const char *line, size_t len)
{
	json_t *ev;
	int type = protocol_line_read(line, len, &ev);
	json_t *v = protocol_line_body(ev, type);

	if (type == -EINVAL)
		return -EINVAL;
	switch (type) {
	case LINE_SEGMENT:
		if (json_is_object(v))
			json_array_append(p->segments, v);
		break;
	case LINE_TASK:
		put_by_id(p->tasks, &p->task_map, v);
		break;
	case LINE_LANE:
		put_by_id(p->lanes, &p->lane_map, v);
		break;
	case LINE_COUNTER:
		v = json_deep_copy(ev);
		json_object_del(v, "type");
		json_array_append_new(p->counters, v);
		break;
	case LINE_RUN:
		if (json_is_object(v))
			json_object_update(p->run, v);
		break;
	case LINE_SUMMARY:
		v = json_object_get(ev, "summary");
		if (v)
			json_object_set(p->root, "summary", v);
		set_status(p, ev);
		break;
	case LINE_STATUS:
		set_status(p, ev);
		cut_open_tasks(p, ev);
		break;
	default: /* open (live only), end, or a newer writer's */
		break;
	}
	json_decref(ev);
	return 0;
}

static int64_t seg_int(const json_t *seg, const char *key)
{
	return json_integer_value(json_object_get(seg, key));
}

static const char *text_or_empty(const json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

static int segment_cmp(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a;
	const json_t *y = *(const json_t *const *)b;
	static const char *const keys[] = {"t0_ns", "task", "t1_ns", "lane"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		int64_t u = seg_int(x, keys[i]), v = seg_int(y, keys[i]);
		if (u != v)
			return u < v ? -1 : 1;
	}
	return strcmp(text_or_empty(json_object_get(x, "state")),
		      text_or_empty(json_object_get(y, "state")));
}

json_t *partial_trace(struct partial *p)
{
	size_t n = json_array_size(p->segments);
	json_t *copy = json_object(), *sorted = json_array();
	json_t **items = malloc((n ? n : 1) * sizeof(*items));
	const char *key;
	json_t *value;

	if (!copy || !sorted || !items) {
		json_decref(copy);
		json_decref(sorted);
		free(items);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(p->segments, i);
	qsort(items, n, sizeof(*items), segment_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, items[i]);
	free(items);
	/* A shallow copy of the root with the sorted segments: the objects
	 * inside are shared, which is fine for a caller that only dumps or
	 * reads them. */
	json_object_foreach(p->root, key, value) {
		if (strcmp(key, "segments") == 0)
			json_object_set(copy, key, sorted);
		else
			json_object_set(copy, key, value);
	}
	json_decref(sorted);
	return copy;
}
