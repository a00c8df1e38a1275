/*
 * runs_store: what of a run is on disk (see runs_priv.h): its .meta
 * (spec, status, summary: the history), its stored trace (folded from its
 * events when it ends), and the recovery at start of the runs a crash
 * left unfinished, so that every run in the store ends complete.
 *
 * Files are written atomically (store.h); the events file is the run's
 * log (runs_log.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partial.h"
#include "runs_priv.h"
#include "util.h"

/* ---- folding and storing ------------------------------------------------ */

static int fold_one(void *ctx, uint64_t id, const char *data, size_t len)
{
	(void)id;
	partial_apply(ctx, data, len);
	return 0;
}

/* New reference: the trace folded from s. */
json_t *runs_fold(const struct run *run, struct stream *s)
{
	struct partial *p = partial_create(run->defaults);
	json_t *trace;

	if (!p)
		return NULL;
	stream_foreach(s, fold_one, p);
	trace = partial_trace(p);
	partial_destroy(p);
	return trace;
}

/* New reference: the .meta object.  Caller holds r->lock. */
static json_t *meta_locked(const struct run *run)
{
	json_t *meta = json_pack("{s:s, s:s, s:I, s:O, s:O, s:s, s:s, s:s}",
				 "id", run->id, "created_at", run->created_at,
				 "created_ns", (json_int_t)run->created_ns,
				 "spec", run->spec, "run", run->defaults,
				 "status", run_status_name(run->status),
				 "message", run->message, "started_at",
				 run->started_at);

	if (!meta)
		return NULL;
	json_object_set_new(meta, "compare",
			    run->compare[0] ? json_string(run->compare)
					    : json_null());
	json_object_set_new(meta, "sweep",
			    run->sweep[0] ? json_string(run->sweep)
					  : json_null());
	json_object_set(meta, "summary",
			run->summary ? run->summary : json_null());
	return meta;
}

static int save_json(struct runs *r, const char *name, json_t *obj)
{
	char *text;
	int rc;

	if (!obj)
		return -ENOMEM;
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	rc = store_write(r->cfg.store, name, text, strlen(text));
	free(text);
	if (rc < 0)
		fprintf(stderr, "overlap: cannot write %s: %s\n", name,
			strerror(-rc));
	return rc;
}

int runs_save_meta(struct runs *r, struct run *run)
{
	char name[64];
	json_t *meta;
	int rc;

	pthread_mutex_lock(&r->lock);
	meta = meta_locked(run);
	pthread_mutex_unlock(&r->lock);
	runs_file_name(name, sizeof(name), run->id, "meta");
	rc = save_json(r, name, meta);
	json_decref(meta);
	return rc;
}

/* The one way a run ends: final status event, stored trace, meta, then
 * the end event.  Called once per run, by whoever owns its ending (the
 * runner, a DELETE of a queued run, start-up recovery, shutdown), without
 * r->lock. */
void runs_conclude(struct runs *r, struct run *run, int status,
		   const char *message)
{
	struct stream *s = run->live;
	char name[64];
	json_t *trace, *summary, *started;
	char why[512];
	int fd, rc;

	runs_append_json(run, "status", runs_status_event(status, message, 0));
	trace = runs_fold(run, s);
	runs_file_name(name, sizeof(name), run->id, "json");
	rc = save_json(r, name, trace);
	if (rc < 0 && trace) {
		/* A run that could not be stored is not done: it is an
		 * error, and says why, in the list, in its stream and at its
		 * address (which serves the trace from memory). */
		snprintf(why, sizeof(why), "the trace could not be stored: %s",
			 strerror(-rc));
		status = RUN_ERROR;
		message = why;
		runs_append_json(run, "status",
				 runs_status_event(status, message, 0));
		json_object_set_new(json_object_get(trace, "run"), "status",
				    json_string(run_status_name(status)));
		json_object_set_new(json_object_get(trace, "run"), "message",
				    json_string(message));
		pthread_mutex_lock(&r->lock);
		json_decref(run->unsaved);
		run->unsaved = json_incref(trace);
		pthread_mutex_unlock(&r->lock);
	}
	summary = json_object_get(trace, "summary");
	started = json_object_get(json_object_get(trace, "run"), "started_at");

	pthread_mutex_lock(&r->lock);
	run->status = status;
	util_strlcpy(run->message, message ? message : "",
		     sizeof(run->message));
	if (json_is_object(summary)) {
		json_decref(run->summary);
		run->summary = json_incref(summary);
	}
	if (json_is_string(started))
		util_strlcpy(run->started_at, json_string_value(started),
			     sizeof(run->started_at));
	run->position = 0;
	r->version++;
	pthread_mutex_unlock(&r->lock);
	json_decref(trace);
	runs_save_meta(r, run);

	runs_append_json(run, "end",
			 json_pack("{s:s, s:s}", "type", "end", "status",
				   run_status_name(status)));
	pthread_mutex_lock(&run->append_lock);
	stream_finish(s);
	fd = run->events_fd;
	run->events_fd = -1;
	run->live = NULL;
	pthread_mutex_unlock(&run->append_lock);
	if (fd >= 0) {
		fdatasync(fd);
		close(fd);
	}

	pthread_mutex_lock(&r->lock);
	if (!run->stream) {
		run->stream = s; /* the live reference becomes the cache */
		s = NULL;
		runs_cache_locked(r, run);
	}
	pthread_mutex_unlock(&r->lock);
	stream_unref(s);
}

/* ---- loading ------------------------------------------------------------ */

struct id_list {
	char (*ids)[STORE_ID_SIZE];
	size_t n, cap;
};

static void collect_id(void *ctx, const char *base)
{
	struct id_list *l = ctx;

	if (!store_id_valid(base))
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->ids, cap * sizeof(*l->ids));
		if (!p)
			return;
		l->ids = p;
		l->cap = cap;
	}
	util_strlcpy(l->ids[l->n++], base, STORE_ID_SIZE);
}

static int run_cmp(const void *a, const void *b)
{
	const struct run *x = *(struct run *const *)a;
	const struct run *y = *(struct run *const *)b;

	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

static struct run *run_from_meta(struct runs *r, const char *id)
{
	char name[64];
	const char *status, *text;
	json_t *meta, *v;
	struct run *run;
	size_t len;
	char *buf;

	runs_file_name(name, sizeof(name), id, "meta");
	if (store_read(r->cfg.store, name, &buf, &len) < 0)
		return NULL;
	meta = json_loadb(buf, len, 0, NULL);
	free(buf);
	status = json_string_value(json_object_get(meta, "status"));
	if (!json_is_object(json_object_get(meta, "spec")) ||
	    !json_is_object(json_object_get(meta, "run")) || !status ||
	    run_status_parse(status) < 0) {
		fprintf(stderr, "overlap: %s: not a run's meta, skipped\n",
			name);
		json_decref(meta);
		return NULL;
	}
	run = run_new();
	if (!run) {
		json_decref(meta);
		return NULL;
	}
	util_strlcpy(run->id, id, sizeof(run->id));
	run->spec = json_incref(json_object_get(meta, "spec"));
	run->defaults = json_incref(json_object_get(meta, "run"));
	run->status = run_status_parse(status);
	run->created_ns =
		json_integer_value(json_object_get(meta, "created_ns"));
	if ((text = json_string_value(json_object_get(meta, "created_at"))))
		util_strlcpy(run->created_at, text, sizeof(run->created_at));
	if ((text = json_string_value(json_object_get(meta, "started_at"))))
		util_strlcpy(run->started_at, text, sizeof(run->started_at));
	if ((text = json_string_value(json_object_get(meta, "message"))))
		util_strlcpy(run->message, text, sizeof(run->message));
	text = json_string_value(json_object_get(meta, "compare"));
	if (text && store_id_valid(text))
		util_strlcpy(run->compare, text, sizeof(run->compare));
	text = json_string_value(json_object_get(meta, "sweep"));
	if (text && store_id_valid(text))
		util_strlcpy(run->sweep, text, sizeof(run->sweep));
	v = json_object_get(meta, "summary");
	if (json_is_object(v))
		run->summary = json_incref(v);
	json_decref(meta);
	return run;
}

/* A run the last server left queued or running: give it its end. */
static void recover(struct runs *r, struct run *run)
{
	const char *why = run->status == RUN_QUEUED
				  ? "the server stopped before this run started"
				  : "the server stopped while this run was "
				    "running";
	char name[64];
	size_t valid;
	int err = 0;

	runs_file_name(name, sizeof(name), run->id, "events");
	run->live = runs_load_events(r, run->id, &valid, &err);
	if (!run->live) {
		fprintf(stderr, "overlap: run %s: cannot read its events: %s\n",
			run->id, strerror(-err));
		run->live = stream_create();
		if (!run->live)
			return;
	}
	run->events_fd = store_open_append(r->cfg.store, name);
	if (run->events_fd >= 0 && ftruncate(run->events_fd, (off_t)valid) < 0)
		fprintf(stderr, "overlap: run %s: cannot trim its events\n",
			run->id);
	runs_conclude(r, run, RUN_INTERRUPTED, why);
}

int runs_load(struct runs *r, char *err, size_t err_size)
{
	struct id_list ids = {0};
	int rc;

	rc = store_list(r->cfg.store, "runs", ".meta", collect_id, &ids);
	if (rc < 0) {
		snprintf(err, err_size, "cannot list runs: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < ids.n; i++) {
		struct run *run = run_from_meta(r, ids.ids[i]);

		if (run && runs_table_add_locked(r, run) < 0)
			run_unref(run);
	}
	free(ids.ids);
	if (r->n_table > 1)
		qsort(r->table, r->n_table, sizeof(*r->table), run_cmp);
	/* Single-threaded still: no lock needed, but runs_conclude() takes
	 * it. */
	for (size_t i = 0; i < r->n_table; i++)
		if (!runs_status_final(r->table[i]->status))
			recover(r, r->table[i]);
	return 0;
}
