/*
 * runs: the table, the queue and the life of a run (see runs.h).
 *
 * Every run, from the moment it is queued, has a stream and an open events
 * file; both only grow, under the run's append lock, file first, so an
 * event a viewer saw is already in the file (a crash of the server loses
 * nothing a client was shown).  The stream is held live (run->live) until
 * the run is concluded; afterwards run->stream is only a cache.
 *
 * The table is an array in creation order (history is listed newest
 * first by walking it backwards); lookups scan it, which stays cheap for
 * the thousands of runs a person keeps.  The queue is a small array of
 * the same runs in FIFO order.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jsonline.h"
#include "partial.h"
#include "run.h"
#include "runs.h"
#include "trace.h"
#include "util.h"

#define LINE_TYPE_MAX 24
/* A runner asked to stop ends its run within a watchdog tick and a wind
 * down; past this it is killed. */
#define STOP_GRACE_NS (3 * NS_PER_S)

struct run {
	char id[STORE_ID_SIZE];
	char compare[STORE_ID_SIZE]; /* "" when not part of a compare */
	char created_at[40];
	int64_t created_ns; /* CLOCK_REALTIME: the history's order */
	json_t *spec;	    /* {workload, model, params, options} */
	json_t *defaults;   /* the trace's run object before the runner */
	int64_t wall_limit_ns;
	_Atomic long refs;

	/* protected by runs.lock */
	int status; /* enum run_status */
	char message[256];
	char started_at[40];
	json_t *summary;       /* replaced whole, never modified; or NULL */
	struct stream *stream; /* cache of a finished run, or NULL */
	size_t cached_bytes;   /* counted in runs.cached_bytes */
	uint64_t lru;
	pid_t pgid;	/* runner's process group, 0 when none */
	int64_t kill_at_ns; /* asked to stop: killed if still going then */
	bool cancel;	/* DELETE asked for it */
	bool interrupt; /* the server is stopping */
	int position;	/* in the queue, 1-based; 0 when not queued */

	/* protected by append_lock */
	pthread_mutex_t append_lock;
	int events_fd;	     /* -1 once concluded */
	struct stream *live; /* until concluded */

	/* the runner thread's own */
	bool summary_seen;
	char summary_status[24];
	char summary_message[256];
};

struct runs {
	struct runs_config cfg;
	json_t *host; /* defaults for run.host */

	pthread_mutex_t lock;
	pthread_cond_t wake; /* the runner waits for the queue */
	struct run **table;  /* oldest first */
	size_t n_table, cap_table;
	struct run **queue; /* FIFO, at most cfg.queue_max */
	size_t n_queue;
	struct run *running;
	bool stopping;
	uint64_t version;
	uint64_t lru_clock;
	size_t cached_bytes;
};

/* ---- small helpers ------------------------------------------------------ */

static bool status_final(int status)
{
	return status != RUN_QUEUED && status != RUN_RUNNING;
}

static void iso8601(int64_t realtime_ns, char *buf, size_t size)
{
	time_t secs = (time_t)(realtime_ns / NS_PER_S);
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", base,
		 (int)(realtime_ns % NS_PER_S / NS_PER_MS));
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void run_name(char *buf, size_t size, const char *id, const char *ext)
{
	snprintf(buf, size, "runs/%s.%s", id, ext);
}

static struct run *run_new(void)
{
	struct run *run = calloc(1, sizeof(*run));

	if (!run)
		return NULL;
	atomic_init(&run->refs, 1);
	pthread_mutex_init(&run->append_lock, NULL);
	run->events_fd = -1;
	return run;
}

static void run_unref(struct run *run)
{
	if (!run || atomic_fetch_sub(&run->refs, 1) != 1)
		return;
	if (run->events_fd >= 0)
		close(run->events_fd);
	stream_unref(run->live);
	stream_unref(run->stream);
	json_decref(run->spec);
	json_decref(run->defaults);
	json_decref(run->summary);
	pthread_mutex_destroy(&run->append_lock);
	free(run);
}

void runs_release(struct run *run)
{
	run_unref(run);
}

const char *run_id(const struct run *run)
{
	return run->id;
}

char *run_spec_text(const struct run *run)
{
	return json_dumps(run->spec, JSON_COMPACT);
}

int64_t run_wall_limit_ns(const struct run *run)
{
	return run->wall_limit_ns;
}

/* Caller holds r->lock. */
static struct run *find_locked(struct runs *r, const char *id)
{
	for (size_t i = r->n_table; i-- > 0;)
		if (strcmp(r->table[i]->id, id) == 0)
			return r->table[i];
	return NULL;
}

static int table_add_locked(struct runs *r, struct run *run)
{
	if (r->n_table == r->cap_table) {
		size_t cap = r->cap_table ? r->cap_table * 2 : 64;
		struct run **t = realloc(r->table, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		r->table = t;
		r->cap_table = cap;
	}
	r->table[r->n_table++] = run;
	return 0;
}

static void table_del_locked(struct runs *r, struct run *run)
{
	for (size_t i = 0; i < r->n_table; i++) {
		if (r->table[i] == run) {
			memmove(&r->table[i], &r->table[i + 1],
				(r->n_table - i - 1) * sizeof(*r->table));
			r->n_table--;
			return;
		}
	}
}

/* ---- events ------------------------------------------------------------- */

/* Appends one event line to the events file and the live stream.  Caller
 * holds run->append_lock. */
/* Lines waiting to be appended to a run's events file in one writev (a
 * runner's read holds hundreds of them) and then handed to the viewers:
 * the file first, so a viewer never sees what a crash could lose. */
#define EVENTS_BATCH 256

struct events_batch {
	struct iovec iov[2 * EVENTS_BATCH]; /* each line, then its newline */
	char types[EVENTS_BATCH][LINE_TYPE_MAX];
	int n; /* lines */
};

/* Appends the batch's lines to the events file (all of them, or an error on
 * stderr), then to the live stream.  Caller holds run->append_lock. */
static void events_flush_locked(struct run *run, struct events_batch *b)
{
	struct iovec *iov = b->iov;
	int n = 2 * b->n;

	while (run->events_fd >= 0 && n > 0) {
		ssize_t done = writev(run->events_fd, iov, n);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0) {
			fprintf(stderr,
				"overlap: run %s: events file write failed\n",
				run->id);
			break;
		}
		/* A short write: go on after what was written. */
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	for (int i = 0; i < b->n; i++)
		stream_append(run->live, b->types[i], b->iov[2 * i].iov_base,
			      b->iov[2 * i].iov_len);
	b->n = 0;
}

/* Caller holds run->append_lock, and flushes b before data goes away or
 * the lock is let go. */
static void append_batched_locked(struct run *run, struct events_batch *b,
				  const char *type, const char *data,
				  size_t len)
{
	if (!run->live)
		return;
	b->iov[2 * b->n] = (struct iovec){(void *)data, len};
	b->iov[2 * b->n + 1] = (struct iovec){"\n", 1};
	util_strlcpy(b->types[b->n], type, LINE_TYPE_MAX);
	if (++b->n == EVENTS_BATCH)
		events_flush_locked(run, b);
}

static void append_locked(struct run *run, const char *type, const char *data,
			  size_t len)
{
	struct events_batch one;

	one.n = 0;
	append_batched_locked(run, &one, type, data, len);
	events_flush_locked(run, &one);
}

/* Steals obj. */
static void append_json(struct run *run, const char *type, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	if (!text)
		return;
	pthread_mutex_lock(&run->append_lock);
	append_locked(run, type, text, strlen(text));
	pthread_mutex_unlock(&run->append_lock);
	free(text);
}

static json_t *status_event(int status, const char *message, int position)
{
	json_t *ev = json_pack("{s:s, s:s}", "type", "status", "status",
			       run_status_name(status));

	if (ev && message && message[0])
		json_object_set_new(ev, "message", json_string(message));
	if (ev && position > 0)
		json_object_set_new(ev, "position", json_integer(position));
	return ev;
}

/* Each queued run hears its new place when the queue moves.  Caller holds
 * r->lock. */
static void announce_positions_locked(struct runs *r)
{
	for (size_t i = 0; i < r->n_queue; i++) {
		struct run *run = r->queue[i];

		if (run->position == (int)i + 1)
			continue;
		run->position = (int)i + 1;
		append_json(run, "status",
			    status_event(RUN_QUEUED, NULL, run->position));
	}
}

/* The type of a line that begins {"type":"NAME" (the engine's lines:
 * type first, compact).  False for any other line. */
static bool line_type_fast(const char *line, size_t len,
			   char type[LINE_TYPE_MAX])
{
	static const char prefix[] = "{\"type\":\"";
	const size_t plen = sizeof(prefix) - 1;
	size_t i = 0;

	if (len <= plen || memcmp(line, prefix, plen) != 0)
		return false;
	while (plen + i < len && i < LINE_TYPE_MAX - 1 &&
	       ((line[plen + i] >= 'a' && line[plen + i] <= 'z') ||
		line[plen + i] == '_')) {
		type[i] = line[plen + i];
		i++;
	}
	if (i == 0 || plen + i >= len || line[plen + i] != '"')
		return false;
	type[i] = '\0';
	return true;
}

/* The event type of a stored line: fast for the lines we wrote, by
 * parsing otherwise. */
static void line_type(const char *line, size_t len, char type[LINE_TYPE_MAX])
{
	json_t *obj;
	const char *name;

	if (line_type_fast(line, len, type))
		return;
	obj = json_loadb(line, len, 0, NULL);
	name = json_string_value(json_object_get(obj, "type"));
	util_strlcpy(type, name ? name : "message", LINE_TYPE_MAX);
	json_decref(obj);
}

/* Reads an events file into a new stream; drops a torn last line (a crash
 * during a write: no viewer was ever sent it).  *valid_bytes says how much
 * of the file is whole lines. */
static struct stream *load_events(struct runs *r, const char *id,
				  size_t *valid_bytes, int *err)
{
	char name[64], type[LINE_TYPE_MAX];
	struct stream *s;
	size_t len, start = 0;
	char *buf;
	int rc;

	*valid_bytes = 0;
	run_name(name, sizeof(name), id, "events");
	rc = store_read(r->cfg.store, name, &buf, &len);
	if (rc == -ENOENT) {
		buf = NULL;
		len = 0;
	} else if (rc < 0) {
		*err = rc;
		return NULL;
	}
	s = stream_create();
	if (!s) {
		free(buf);
		*err = -ENOMEM;
		return NULL;
	}
	while (start < len) {
		char *nl = memchr(buf + start, '\n', len - start);
		size_t n;

		if (!nl)
			break;
		n = (size_t)(nl - (buf + start));
		line_type(buf + start, n, type);
		if (stream_append(s, type, buf + start, n) < 0) {
			stream_unref(s);
			free(buf);
			*err = -ENOMEM;
			return NULL;
		}
		start += n + 1;
	}
	*valid_bytes = start;
	free(buf);
	return s;
}

/* ---- folding and storing ------------------------------------------------ */

static int fold_one(void *ctx, uint64_t id, const char *data, size_t len)
{
	(void)id;
	partial_apply(ctx, data, len);
	return 0;
}

/* New reference: the trace folded from s. */
static json_t *fold(const struct run *run, struct stream *s)
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
	json_t *meta =
	    json_pack("{s:s, s:s, s:I, s:O, s:O, s:s, s:s, s:s}", "id", run->id,
		      "created_at", run->created_at, "created_ns",
		      (json_int_t)run->created_ns, "spec", run->spec, "run",
		      run->defaults, "status", run_status_name(run->status),
		      "message", run->message, "started_at", run->started_at);

	if (!meta)
		return NULL;
	json_object_set_new(meta, "compare",
			    run->compare[0] ? json_string(run->compare)
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

static int save_meta(struct runs *r, struct run *run)
{
	char name[64];
	json_t *meta;
	int rc;

	pthread_mutex_lock(&r->lock);
	meta = meta_locked(run);
	pthread_mutex_unlock(&r->lock);
	run_name(name, sizeof(name), run->id, "meta");
	rc = save_json(r, name, meta);
	json_decref(meta);
	return rc;
}

/* Drops cached streams of finished runs, least recently used first, until
 * the cache fits its budget; keep is spared.  Caller holds r->lock. */
static void evict_locked(struct runs *r, const struct run *keep)
{
	while (r->cached_bytes > r->cfg.cache_bytes) {
		struct run *oldest = NULL;

		for (size_t i = 0; i < r->n_table; i++) {
			struct run *c = r->table[i];
			if (c == keep || !c->stream || !c->cached_bytes)
				continue;
			if (!oldest || c->lru < oldest->lru)
				oldest = c;
		}
		if (!oldest)
			return;
		r->cached_bytes -= oldest->cached_bytes;
		oldest->cached_bytes = 0;
		stream_unref(oldest->stream);
		oldest->stream = NULL;
	}
}

/* Caller holds r->lock; run is finished and run->stream set. */
static void account_cache_locked(struct runs *r, struct run *run)
{
	if (run->cached_bytes)
		return;
	run->cached_bytes = stream_bytes(run->stream);
	r->cached_bytes += run->cached_bytes;
	run->lru = ++r->lru_clock;
	evict_locked(r, run);
}

/* The one way a run ends: final status event, stored trace, meta, then
 * the end event.  Called once per run, by whoever owns its ending (the
 * runner, a DELETE of a queued run, start-up recovery, shutdown), without
 * r->lock. */
static void conclude(struct runs *r, struct run *run, int status,
		     const char *message)
{
	struct stream *s = run->live;
	char name[64];
	json_t *trace, *summary, *started;
	int fd;

	append_json(run, "status", status_event(status, message, 0));
	trace = fold(run, s);
	run_name(name, sizeof(name), run->id, "json");
	save_json(r, name, trace);
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
	save_meta(r, run);

	append_json(run, "end",
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
		account_cache_locked(r, run);
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

	run_name(name, sizeof(name), id, "meta");
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

	run_name(name, sizeof(name), run->id, "events");
	run->live = load_events(r, run->id, &valid, &err);
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
	conclude(r, run, RUN_INTERRUPTED, why);
}

static json_t *host_defaults(void)
{
	struct utsname u;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (uname(&u) < 0)
		util_strlcpy(u.release, "", sizeof(u.release));
	return json_pack("{s:i, s:s, s:s}", "cores", (int)cores, "kernel",
			 u.release, "engine", "overlap");
}

struct runs *runs_create(const struct runs_config *cfg, char *err,
			 size_t err_size)
{
	struct id_list ids = {0};
	struct runs *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	r->cfg = *cfg;
	if (r->cfg.queue_max < 1)
		r->cfg.queue_max = 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->host = host_defaults();
	r->queue = calloc((size_t)r->cfg.queue_max, sizeof(*r->queue));
	if (!r->queue || !r->host) {
		snprintf(err, err_size, "out of memory");
		goto out_free;
	}
	rc = store_list(r->cfg.store, "runs", ".meta", collect_id, &ids);
	if (rc < 0) {
		snprintf(err, err_size, "cannot list runs: %s", strerror(-rc));
		goto out_free;
	}
	for (size_t i = 0; i < ids.n; i++) {
		struct run *run = run_from_meta(r, ids.ids[i]);

		if (run && table_add_locked(r, run) < 0)
			run_unref(run);
	}
	free(ids.ids);
	if (r->n_table > 1)
		qsort(r->table, r->n_table, sizeof(*r->table), run_cmp);
	/* Single-threaded still: no lock needed, but conclude() takes it. */
	for (size_t i = 0; i < r->n_table; i++)
		if (!status_final(r->table[i]->status))
			recover(r, r->table[i]);
	return r;

out_free:
	free(ids.ids);
	json_decref(r->host);
	free(r->queue);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

/* Asks a running run's runner to stop (SIGTERM: it ends the run as
 * cancelled and writes the rest of its trace, the open waits recorded up
 * to then); its group is killed if it is still going after the grace.
 * Caller holds r->lock. */
static void ask_stop_locked(struct run *run)
{
	if (run->pgid <= 0 || run->kill_at_ns)
		return;
	run->kill_at_ns = util_mono_ns() + STOP_GRACE_NS;
	kill(run->pgid, SIGTERM);
}

bool runs_kill_due(struct runs *r, struct run *run)
{
	bool due;

	pthread_mutex_lock(&r->lock);
	due = run->kill_at_ns && util_mono_ns() >= run->kill_at_ns;
	pthread_mutex_unlock(&r->lock);
	return due;
}

void runs_shutdown(struct runs *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	if (r->running) {
		r->running->interrupt = true;
		ask_stop_locked(r->running);
	}
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

void runs_interrupt_queued(struct runs *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	/* The runner has exited: what is left in the queue never started. */
	while (r->n_queue > 0) {
		struct run *run = r->queue[0];

		memmove(&r->queue[0], &r->queue[1],
			--r->n_queue * sizeof(*r->queue));
		pthread_mutex_unlock(&r->lock);
		conclude(r, run, RUN_INTERRUPTED,
			 "the server stopped before this run started");
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

void runs_destroy(struct runs *r)
{
	if (!r)
		return;
	runs_interrupt_queued(r);
	for (size_t i = 0; i < r->n_table; i++)
		run_unref(r->table[i]);
	free(r->table);
	free(r->queue);
	json_decref(r->host);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- submitting --------------------------------------------------------- */

static int64_t wall_limit(const struct runs *r, const struct spec *spec)
{
	const struct param_value *v = spec_find(&spec->options, "time_limit");
	int64_t ns = r->cfg.max_wall_ns;

	if (v && v->i > 0 && v->i + r->cfg.wall_grace_ns < ns)
		ns = v->i + r->cfg.wall_grace_ns;
	return ns;
}

static bool id_taken(struct runs *r, const char *id, char (*ids)[STORE_ID_SIZE],
		     size_t n)
{
	char name[64];
	bool taken;

	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	pthread_mutex_lock(&r->lock);
	taken = find_locked(r, id) != NULL;
	pthread_mutex_unlock(&r->lock);
	run_name(name, sizeof(name), id, "meta");
	return taken || store_exists(r->cfg.store, name);
}

/* Builds a queued run and its files (outside the lock). */
static struct run *prepare(struct runs *r, const struct spec *spec,
			   const char *compare_id, const char *id)
{
	char name[64];
	struct run *run = run_new();

	if (!run)
		return NULL;
	util_strlcpy(run->id, id, sizeof(run->id));
	if (compare_id)
		util_strlcpy(run->compare, compare_id, sizeof(run->compare));
	run->created_ns = realtime_ns();
	iso8601(run->created_ns, run->created_at, sizeof(run->created_at));
	util_strlcpy(run->started_at, run->created_at, sizeof(run->started_at));
	run->status = RUN_QUEUED;
	run->wall_limit_ns = wall_limit(r, spec);
	run->spec = spec_to_json(spec);
	json_object_del(run->spec, "id");
	run->defaults = json_pack(
	    "{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:i, s:O}", "id", id,
	    "workload", spec->workload, "model", spec->model, "params",
	    run_params_json(&spec->params), "options",
	    run_params_json(&spec->options), "status", "queued", "message", "",
	    "started_at", run->created_at, "cpu_ns", 0, "host", r->host);
	run->live = stream_create();
	if (!run->spec || !run->defaults || !run->live)
		goto out_unref;
	run_name(name, sizeof(name), id, "events");
	run->events_fd = store_open_append(r->cfg.store, name);
	if (run->events_fd < 0)
		goto out_unref;
	if (save_meta(r, run) < 0)
		goto out_remove;
	return run;

out_remove:
	store_remove(r->cfg.store, name);
out_unref:
	run_unref(run);
	return NULL;
}

static void unprepare(struct runs *r, struct run *run)
{
	char name[64];

	run_name(name, sizeof(name), run->id, "meta");
	store_remove(r->cfg.store, name);
	run_name(name, sizeof(name), run->id, "events");
	store_remove(r->cfg.store, name);
	run_unref(run);
}

int runs_submit(struct runs *r, struct spec *const *specs, size_t n,
		const char *compare_id, char (*ids)[STORE_ID_SIZE])
{
	struct run **made;
	size_t done = 0;
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	if (r->stopping)
		rc = -ESHUTDOWN;
	else if (r->n_queue + n > (size_t)r->cfg.queue_max)
		rc = -EAGAIN;
	pthread_mutex_unlock(&r->lock);
	if (rc < 0)
		return rc;
	made = calloc(n ? n : 1, sizeof(*made));
	if (!made)
		return -ENOMEM;
	for (; done < n; done++) {
		do
			store_id_new(ids[done]);
		while (id_taken(r, ids[done], ids, done));
		made[done] = prepare(r, specs[done], compare_id, ids[done]);
		if (!made[done]) {
			rc = -EIO;
			goto out_unprepare;
		}
	}

	pthread_mutex_lock(&r->lock);
	if (r->stopping)
		rc = -ESHUTDOWN;
	else if (r->n_queue + n > (size_t)r->cfg.queue_max)
		rc = -EAGAIN;
	else if (r->n_table + n > r->cap_table) {
		size_t cap = r->cap_table ? r->cap_table : 64;
		struct run **t;

		while (cap < r->n_table + n)
			cap *= 2;
		t = realloc(r->table, cap * sizeof(*t));
		if (t) {
			r->table = t;
			r->cap_table = cap;
		} else {
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		pthread_mutex_unlock(&r->lock);
		goto out_unprepare;
	}
	for (size_t i = 0; i < n; i++) {
		r->table[r->n_table++] = made[i];
		r->queue[r->n_queue++] = made[i];
	}
	announce_positions_locked(r);
	r->version++;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	free(made);
	return 0;

out_unprepare:
	for (size_t i = 0; i < done; i++)
		unprepare(r, made[i]);
	free(made);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

static json_t *summary_field(const json_t *summary, const char *key)
{
	json_t *v = json_object_get(summary, key);

	return v ? json_incref(v) : json_null();
}

/* Caller holds r->lock. */
static json_t *list_entry_locked(const struct run *run)
{
	const json_t *diag = json_object_get(run->summary, "diagnosis");
	json_t *e = json_pack(
	    "{s:s, s:O, s:O, s:s, s:s, s:s, s:s}", "id", run->id, "workload",
	    json_object_get(run->spec, "workload"), "model",
	    json_object_get(run->spec, "model"), "status",
	    run_status_name(run->status), "message", run->message, "created_at",
	    run->created_at, "started_at", run->started_at);

	if (!e)
		return NULL;
	/* What was asked for, so a history can tell "gil on" from "gil
	 * off" without reading every trace. */
	json_object_set_new(
	    e, "params", json_deep_copy(json_object_get(run->spec, "params")));
	json_object_set_new(
	    e, "options",
	    json_deep_copy(json_object_get(run->spec, "options")));
	json_object_set_new(e, "compare",
			    run->compare[0] ? json_string(run->compare)
					    : json_null());
	json_object_set_new(e, "position",
			    run->position ? json_integer(run->position)
					  : json_null());
	json_object_set_new(e, "wall_ns",
			    summary_field(run->summary, "wall_ns"));
	json_object_set_new(e, "speedup",
			    summary_field(run->summary, "speedup"));
	json_object_set_new(e, "parallelism",
			    summary_field(run->summary, "parallelism"));
	json_object_set_new(e, "cpu_util",
			    summary_field(run->summary, "cpu_util"));
	json_object_set_new(e, "bound", summary_field(diag, "bound"));
	json_object_set_new(e, "recommend", summary_field(diag, "recommend"));
	return e;
}

json_t *runs_list(struct runs *r)
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	pthread_mutex_lock(&r->lock);
	for (size_t i = r->n_table; i-- > 0;)
		json_array_append_new(list, list_entry_locked(r->table[i]));
	pthread_mutex_unlock(&r->lock);
	return json_pack("{s:o}", "runs", list);
}

uint64_t runs_version(struct runs *r)
{
	uint64_t v;

	pthread_mutex_lock(&r->lock);
	v = r->version;
	pthread_mutex_unlock(&r->lock);
	return v;
}

int runs_trace(struct runs *r, const char *id, json_t **trace, int *fd)
{
	struct stream *s = NULL;
	struct run *run;
	char name[64];

	*trace = NULL;
	*fd = -1;
	pthread_mutex_lock(&r->lock);
	run = find_locked(r, id);
	if (!run) {
		pthread_mutex_unlock(&r->lock);
		return -ENOENT;
	}
	atomic_fetch_add(&run->refs, 1);
	if (status_final(run->status)) {
		pthread_mutex_unlock(&r->lock);
		run_name(name, sizeof(name), id, "json");
		*fd = store_open_read(r->cfg.store, name);
		run_unref(run);
		return *fd < 0 ? -ENOENT : 0;
	}
	pthread_mutex_unlock(&r->lock);

	pthread_mutex_lock(&run->append_lock);
	if (run->live) {
		s = run->live;
		stream_ref(s);
	}
	pthread_mutex_unlock(&run->append_lock);
	if (!s) {
		/* Concluded in between: the stored trace is there now. */
		run_unref(run);
		return runs_trace(r, id, trace, fd);
	}
	*trace = fold(run, s);
	stream_unref(s);
	run_unref(run);
	return *trace ? 0 : -ENOMEM;
}

int runs_trace_json(struct runs *r, const char *id, json_t **trace)
{
	json_error_t jerr;
	int fd, rc;

	rc = runs_trace(r, id, trace, &fd);
	if (rc < 0 || *trace)
		return rc;
	*trace = json_loadfd(fd, 0, &jerr);
	close(fd);
	return *trace ? 0 : -EIO;
}

struct stream *runs_stream(struct runs *r, const char *id, int *err)
{
	struct stream *s = NULL, *loaded;
	struct run *run;
	size_t valid;

	pthread_mutex_lock(&r->lock);
	run = find_locked(r, id);
	if (!run) {
		pthread_mutex_unlock(&r->lock);
		*err = -ENOENT;
		return NULL;
	}
	atomic_fetch_add(&run->refs, 1);
	if (run->stream) {
		s = run->stream;
		run->lru = ++r->lru_clock;
	}
	if (s)
		stream_ref(s);
	pthread_mutex_unlock(&r->lock);

	if (!s) {
		pthread_mutex_lock(&run->append_lock);
		if (run->live) {
			s = run->live;
			stream_ref(s);
		}
		pthread_mutex_unlock(&run->append_lock);
	}
	if (s) {
		run_unref(run);
		return s;
	}

	/* A finished run whose stream was evicted: read it back. */
	loaded = load_events(r, id, &valid, err);
	if (!loaded) {
		run_unref(run);
		return NULL;
	}
	stream_finish(loaded);
	pthread_mutex_lock(&r->lock);
	if (run->stream) {
		s = run->stream; /* someone else loaded it meanwhile */
	} else {
		run->stream = loaded;
		loaded = NULL;
		s = run->stream;
		account_cache_locked(r, run);
	}
	stream_ref(s);
	pthread_mutex_unlock(&r->lock);
	stream_unref(loaded);
	run_unref(run);
	return s;
}

json_t *runs_brief(struct runs *r, const char *id)
{
	json_t *b = NULL;
	struct run *run;

	pthread_mutex_lock(&r->lock);
	run = find_locked(r, id);
	if (run)
		b = json_pack("{s:s, s:O, s:s, s:s, s:O}", "id", run->id,
			      "model", json_object_get(run->spec, "model"),
			      "status", run_status_name(run->status), "message",
			      run->message, "summary",
			      run->summary ? run->summary : json_null());
	pthread_mutex_unlock(&r->lock);
	return b;
}

void runs_stats(struct runs *r, struct runs_stats *out)
{
	pthread_mutex_lock(&r->lock);
	out->total = r->n_table;
	out->queued = r->n_queue;
	util_strlcpy(out->running, r->running ? r->running->id : "",
		     sizeof(out->running));
	pthread_mutex_unlock(&r->lock);
}

int runs_retry_after_s(struct runs *r)
{
	int64_t s = 5;

	/* The queue moves when the running run ends; its limit bounds how
	 * long that takes, but most runs take seconds. */
	pthread_mutex_lock(&r->lock);
	if (r->running && r->running->wall_limit_ns / NS_PER_S < s)
		s = r->running->wall_limit_ns / NS_PER_S;
	pthread_mutex_unlock(&r->lock);
	return s < 1 ? 1 : (int)s;
}

/* ---- removing ----------------------------------------------------------- */

int runs_remove(struct runs *r, const char *id, bool *deleted)
{
	static const char *const exts[] = {"meta", "events", "json"};
	struct run *run;
	char name[64];

	*deleted = false;
	pthread_mutex_lock(&r->lock);
	run = find_locked(r, id);
	if (!run) {
		pthread_mutex_unlock(&r->lock);
		return -ENOENT;
	}
	if (!status_final(run->status) && run->cancel) {
		pthread_mutex_unlock(&r->lock); /* already being cancelled */
		return 0;
	}
	if (run->status == RUN_QUEUED) {
		for (size_t i = 0; i < r->n_queue; i++) {
			if (r->queue[i] != run)
				continue;
			memmove(&r->queue[i], &r->queue[i + 1],
				(r->n_queue - i - 1) * sizeof(*r->queue));
			r->n_queue--;
			break;
		}
		run->cancel = true; /* out of the queue: no longer takeable */
		atomic_fetch_add(&run->refs, 1);
		announce_positions_locked(r);
		r->version++;
		pthread_mutex_unlock(&r->lock);
		conclude(r, run, RUN_CANCELLED, "cancelled before it started");
		run_unref(run);
		return 0;
	}
	if (run->status == RUN_RUNNING) {
		run->cancel = true;
		ask_stop_locked(run);
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	/* Finished: forget it, then remove its files (meta first, so a crash
	 * half-way never resurrects it as interrupted). */
	table_del_locked(r, run);
	if (run->cached_bytes) {
		r->cached_bytes -= run->cached_bytes;
		run->cached_bytes = 0;
	}
	r->version++;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < sizeof(exts) / sizeof(*exts); i++) {
		run_name(name, sizeof(name), id, exts[i]);
		store_remove(r->cfg.store, name);
	}
	run_unref(run);
	*deleted = true;
	return 0;
}

/* ---- the runner's side -------------------------------------------------- */

struct run *runs_take(struct runs *r)
{
	struct run *run;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping && r->n_queue == 0)
		pthread_cond_wait(&r->wake, &r->lock);
	if (r->stopping) {
		pthread_mutex_unlock(&r->lock);
		return NULL;
	}
	run = r->queue[0];
	memmove(&r->queue[0], &r->queue[1], --r->n_queue * sizeof(*r->queue));
	r->running = run;
	run->status = RUN_RUNNING;
	run->position = 0;
	iso8601(realtime_ns(), run->started_at, sizeof(run->started_at));
	atomic_fetch_add(&run->refs, 1);
	append_json(run, "status", status_event(RUN_RUNNING, NULL, 0));
	announce_positions_locked(r);
	r->version++;
	pthread_mutex_unlock(&r->lock);
	/* Stored as running before it runs: a crash of the server from now
	 * on is recovered as interrupted while running, not before. */
	save_meta(r, run);
	return run;
}

bool runs_started(struct runs *r, struct run *run, pid_t pgid)
{
	bool go;

	pthread_mutex_lock(&r->lock);
	go = !run->cancel && !run->interrupt;
	if (go)
		run->pgid = pgid;
	pthread_mutex_unlock(&r->lock);
	return go;
}

void runs_stopped(struct runs *r, struct run *run)
{
	pthread_mutex_lock(&r->lock);
	run->pgid = 0;
	pthread_mutex_unlock(&r->lock);
}

/* Takes note of what the server needs from a runner line. */
static void note_line(struct run *run, const char *type, json_t *ev)
{
	if (strcmp(type, "summary") == 0) {
		const char *st =
		    json_string_value(json_object_get(ev, "status"));
		const char *msg =
		    json_string_value(json_object_get(ev, "message"));

		run->summary_seen = true;
		util_strlcpy(run->summary_status, st ? st : "",
			     sizeof(run->summary_status));
		util_strlcpy(run->summary_message, msg ? msg : "",
			     sizeof(run->summary_message));
	}
}

static bool type_valid(const char *type)
{
	size_t n = strlen(type);

	if (n == 0 || n >= LINE_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((type[i] >= 'a' && type[i] <= 'z') || type[i] == '_'))
			return false;
	/* The server's own events: a runner cannot forge them. */
	return strcmp(type, "status") != 0 && strcmp(type, "end") != 0;
}

void runs_lines(struct runs *r, struct run *run, const char *buf, size_t len)
{
	size_t start = 0;
	struct events_batch batch;

	(void)r;
	batch.n = 0;
	pthread_mutex_lock(&run->append_lock);
	while (start < len) {
		const char *line = buf + start;
		const char *nl = memchr(line, '\n', len - start);
		size_t n = nl ? (size_t)(nl - line) : len - start;
		const char *type;
		char *redo = NULL;
		json_t *ev;

		char fast[LINE_TYPE_MAX];

		start += n + 1;
		if (n == 0)
			continue;
		/* The lines the engine writes (a sound object, type first,
		 * no CR) go on as they are, checked without being built;
		 * only a summary, or anything else, is parsed. */
		ev = NULL;
		type = NULL;
		if (jsonline_is_object(line, n) && !memchr(line, '\r', n) &&
		    line_type_fast(line, n, fast) &&
		    strcmp(fast, "summary") != 0)
			type = fast;
		if (!type) {
			ev = json_loadb(line, n, 0, NULL);
			type = json_string_value(json_object_get(ev, "type"));
		}
		if ((ev && !json_is_object(ev)) || !type || !type_valid(type)) {
			fprintf(stderr,
				"overlap: run %s: runner line skipped: %.80s\n",
				run->id, line);
			json_decref(ev);
			continue;
		}
		if (ev) {
			note_line(run, type, ev);
			/* SSE data cannot hold a bare CR; JSON allows it
			 * as space. */
			if (memchr(line, '\r', n)) {
				redo = json_dumps(ev, JSON_COMPACT);
				if (redo) {
					line = redo;
					n = strlen(redo);
				}
			}
		}
		if (redo) {
			/* The batch would outlive redo: this one now. */
			events_flush_locked(run, &batch);
			append_locked(run, type, line, n);
		} else {
			append_batched_locked(run, &batch, type, line, n);
		}
		free(redo);
		json_decref(ev);
	}
	events_flush_locked(run, &batch);
	pthread_mutex_unlock(&run->append_lock);
}

void runs_finish(struct runs *r, struct run *run, const struct runs_exit *ex)
{
	char message[512];
	bool cancel, interrupt;
	int status = RUN_ERROR;

	pthread_mutex_lock(&r->lock);
	cancel = run->cancel;
	interrupt = run->interrupt;
	pthread_mutex_unlock(&r->lock);

	message[0] = '\0';
	if (interrupt) {
		status = RUN_INTERRUPTED;
		snprintf(message, sizeof(message),
			 "the server stopped while this run was running");
	} else if (cancel) {
		status = RUN_CANCELLED;
		snprintf(message, sizeof(message), "cancelled while running");
	} else if (ex->spawn_failed) {
		snprintf(message, sizeof(message),
			 "cannot start the runner: %s", ex->detail);
	} else if (ex->timed_out) {
		snprintf(message, sizeof(message),
			 "stopped at the wall-clock limit of %.0f s",
			 (double)run->wall_limit_ns / NS_PER_S);
	} else if (WIFSIGNALED(ex->wstatus)) {
		snprintf(
		    message, sizeof(message), "runner killed by signal %d (%s)",
		    WTERMSIG(ex->wstatus), strsignal(WTERMSIG(ex->wstatus)));
	} else if (WIFEXITED(ex->wstatus) && WEXITSTATUS(ex->wstatus) != 0 &&
		   !(WEXITSTATUS(ex->wstatus) == 1 && run->summary_seen)) {
		/* Exit 1 after a summary is the engine's way of saying the run
		 * ended as error, deadlock or cancelled: the summary says
		 * which, handled below. */
		snprintf(message, sizeof(message),
			 "runner exited with status %d%s%s",
			 WEXITSTATUS(ex->wstatus), ex->detail[0] ? ": " : "",
			 ex->detail);
	} else if (!run->summary_seen) {
		snprintf(message, sizeof(message),
			 "runner ended without a summary");
	} else if (run_status_parse(run->summary_status) < 0 ||
		   !status_final(run_status_parse(run->summary_status))) {
		snprintf(message, sizeof(message),
			 "runner reported status '%s'", run->summary_status);
	} else {
		status = run_status_parse(run->summary_status);
		snprintf(message, sizeof(message), "%s", run->summary_message);
	}
	conclude(r, run, status, message);

	pthread_mutex_lock(&r->lock);
	if (r->running == run)
		r->running = NULL;
	r->version++;
	pthread_mutex_unlock(&r->lock);
}
