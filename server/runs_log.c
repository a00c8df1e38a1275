/*
 * runs_log: a run's log, its events file and the stream its viewers read
 * (see runs_priv.h).
 *
 * A runner's lines are checked (a JSON object with a type the runner may
 * send), appended to the events file in one writev per read and only then
 * to the stream, so a viewer never sees what a crash could lose.  A
 * finished run's stream is a cache within a byte budget, least recently
 * used first out, read back from its events file on demand.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "jsonline.h"
#include "runs_priv.h"
#include "util.h"

#define LINE_TYPE_MAX 24

/* ---- events ------------------------------------------------------------- */

/* Lines waiting to be appended to a run's events file in one writev (a
 * runner's read holds hundreds of them) and then handed to the viewers:
 * the file first, so a viewer never sees what a crash could lose. */
#define EVENTS_BATCH 256

struct events_batch {
	struct iovec iov[2 * EVENTS_BATCH]; /* each line, then its newline */
	char types[EVENTS_BATCH][LINE_TYPE_MAX];
	int n; /* lines */
};

/* Appends the batch's lines to the events file, then to the live stream.
 * A write that fails (a full disk) leaves the file at its last whole line
 * and the run's events_errno set: from then on the runner's lines reach
 * no viewer (what a viewer sees is always in the file) and the run is
 * ended as error; the server's own status and end events (server_event)
 * still reach the viewers, so they learn why.  Caller holds
 * run->append_lock. */
static void events_flush_locked(struct run *run, struct events_batch *b,
				bool server_event)
{
	struct iovec *iov = b->iov;
	int n = 2 * b->n;
	off_t start = -1;

	if (run->events_fd >= 0 && !atomic_load(&run->events_errno))
		start = lseek(run->events_fd, 0, SEEK_END);
	while (start >= 0 && n > 0) {
		ssize_t done = writev(run->events_fd, iov, n);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0) {
			int e = done < 0 ? errno : EIO;

			fprintf(stderr,
				"overlap: run %s: cannot write its events: "
				"%s\n",
				run->id, strerror(e));
			if (ftruncate(run->events_fd, start) < 0) {
				/* a half line stays; recovery cuts it */
			}
			atomic_store(&run->events_errno, e);
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
	if (atomic_load(&run->events_errno) && !server_event) {
		b->n = 0;
		return;
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
		events_flush_locked(run, b, false);
}

static void append_locked(struct run *run, const char *type, const char *data,
			  size_t len, bool server_event)
{
	struct events_batch one;

	one.n = 0;
	if (!run->live)
		return;
	one.iov[0] = (struct iovec){(void *)data, len};
	one.iov[1] = (struct iovec){"\n", 1};
	util_strlcpy(one.types[0], type, LINE_TYPE_MAX);
	one.n = 1;
	events_flush_locked(run, &one, server_event);
}

/* Steals obj. */
void runs_append_json(struct run *run, const char *type, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	if (!text)
		return;
	pthread_mutex_lock(&run->append_lock);
	append_locked(run, type, text, strlen(text), true);
	pthread_mutex_unlock(&run->append_lock);
	free(text);
}

json_t *runs_status_event(int status, const char *message, int position)
{
	json_t *ev = json_pack("{s:s, s:s}", "type", "status", "status",
			       run_status_name(status));

	if (ev && message && message[0])
		json_object_set_new(ev, "message", json_string(message));
	if (ev && position > 0)
		json_object_set_new(ev, "position", json_integer(position));
	return ev;
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
struct stream *runs_load_events(struct runs *r, const char *id,
				size_t *valid_bytes, int *err)
{
	char name[64], type[LINE_TYPE_MAX];
	struct stream *s;
	size_t len, start = 0;
	char *buf;
	int rc;

	*valid_bytes = 0;
	runs_file_name(name, sizeof(name), id, "events");
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
void runs_cache_locked(struct runs *r, struct run *run)
{
	if (run->cached_bytes)
		return;
	run->cached_bytes = stream_bytes(run->stream);
	r->cached_bytes += run->cached_bytes;
	run->lru = ++r->lru_clock;
	evict_locked(r, run);
}

int runs_trace(struct runs *r, const char *id, json_t **trace, int *fd)
{
	struct stream *s = NULL;
	struct run *run;
	char name[64];

	*trace = NULL;
	*fd = -1;
	pthread_mutex_lock(&r->lock);
	run = runs_find_locked(r, id);
	if (!run) {
		pthread_mutex_unlock(&r->lock);
		return -ENOENT;
	}
	atomic_fetch_add(&run->refs, 1);
	if (runs_status_final(run->status)) {
		/* A trace that could not be stored is served from memory. */
		if (run->unsaved) {
			*trace = json_deep_copy(run->unsaved);
			pthread_mutex_unlock(&r->lock);
			run_unref(run);
			return *trace ? 0 : -ENOMEM;
		}
		pthread_mutex_unlock(&r->lock);
		runs_file_name(name, sizeof(name), id, "json");
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
	*trace = runs_fold(run, s);
	stream_unref(s);
	run_unref(run);
	return *trace ? 0 : -ENOMEM;
}

struct stream *runs_stream(struct runs *r, const char *id, int *err)
{
	struct stream *s = NULL, *loaded;
	struct run *run;
	size_t valid;

	pthread_mutex_lock(&r->lock);
	run = runs_find_locked(r, id);
	if (!run) {
		pthread_mutex_unlock(&r->lock);
		*err = -ENOENT;
		return NULL;
	}
	atomic_fetch_add(&run->refs, 1);
	/* One viewer reads an evicted run back; the others that come
	 * meanwhile wait for its stream.  Each reading its own copy, 64
	 * viewers of a large run read 64 copies at once, and the server had
	 * no core left for anyone else. */
	while (run->loading)
		pthread_cond_wait(&r->loaded, &r->lock);
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
	pthread_mutex_lock(&r->lock);
	while (run->loading)
		pthread_cond_wait(&r->loaded, &r->lock);
	if (run->stream) {
		/* Someone else read it back meanwhile. */
		s = run->stream;
		stream_ref(s);
		pthread_mutex_unlock(&r->lock);
		run_unref(run);
		return s;
	}
	run->loading = true;
	pthread_mutex_unlock(&r->lock);
	loaded = runs_load_events(r, id, &valid, err);
	if (loaded)
		stream_finish(loaded);
	pthread_mutex_lock(&r->lock);
	run->loading = false;
	pthread_cond_broadcast(&r->loaded);
	if (!loaded) {
		pthread_mutex_unlock(&r->lock);
		run_unref(run);
		return NULL;
	}
	if (run->stream) {
		s = run->stream; /* someone else loaded it meanwhile */
	} else {
		run->stream = loaded;
		loaded = NULL;
		s = run->stream;
		runs_cache_locked(r, run);
	}
	stream_ref(s);
	pthread_mutex_unlock(&r->lock);
	stream_unref(loaded);
	run_unref(run);
	return s;
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
	return !line_type_servers(line_type_parse(type));
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
			events_flush_locked(run, &batch, false);
			append_locked(run, type, line, n, false);
		} else {
			append_batched_locked(run, &batch, type, line, n);
		}
		free(redo);
		json_decref(ev);
	}
	events_flush_locked(run, &batch, false);
	pthread_mutex_unlock(&run->append_lock);
}
