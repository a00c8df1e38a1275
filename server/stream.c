/*
 * stream: the event log of one run and its SSE viewers (see stream.h).
 *
 * Storage is two append-only structures that never move what they hold:
 * text chunks (each event's SSE text lies whole inside one chunk; chunks
 * grow from 16 KiB to 1 MiB, an event larger than that gets a chunk of its
 * own) and blocks of 4096 event references.  Only the small arrays of
 * chunk and block pointers are reallocated, under the lock, so a reader
 * needs the lock just to learn how many events there are and where their
 * block lives.
 *
 * A viewer copies into MHD's buffer under the stream lock: at most `max`
 * bytes of memcpy, so the appender waits microseconds at worst.  When the
 * viewer has read everything it links itself on the stream's waiter list
 * and sleeps in poll(); the appender signals the eventfd of each waiter
 * and empties the list, so a slow or stuck viewer costs the appender one
 * eventfd write per batch of events and never a wait.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "stream.h"

#define CHUNK_MIN_BYTES (16u * 1024)
#define CHUNK_MAX_BYTES (1024u * 1024)
#define BLOCK_EVENTS 4096u
#define HEADER_MAX_BYTES 96 /* "id: N\nevent: TYPE\ndata: " */
/* At shutdown, a viewer at most this many events from the end of a
 * finished stream still gets them (its run's status and end events); one
 * further behind (replaying a large finished run) is cut off rather than
 * hold up the stop.  Room for a live run's last burst (every task's final
 * line) and for a viewer that lags, as viewers may (they run at a lower
 * priority than runs): a few milliseconds of sending. */
#define SHUTDOWN_TAIL_EVENTS 65536u

static const char retry_preamble[] = "retry: 1000\n\n";
static const char heartbeat_text[] = ": heartbeat\n\n";

struct chunk {
	size_t used, cap;
	char data[];
};

struct ev_ref {
	const char *text;  /* inside a chunk */
	uint32_t len;	   /* whole SSE text */
	uint16_t data_off; /* where the JSON starts */
};

struct stream {
	pthread_mutex_t lock;
	_Atomic long refs;

	/* protected by lock */
	struct chunk **chunks;
	size_t n_chunks, cap_chunks;
	struct ev_ref **blocks;
	size_t n_blocks, cap_blocks;
	uint64_t n_events;
	size_t bytes;
	bool finished;
	struct stream_viewer *waiters; /* viewers asleep in poll() */
};

struct stream_viewer {
	struct stream *s;
	int efd;
	int sock_fd;
	int heartbeat_ms;
	int64_t last_write_ns;
	_Atomic int64_t *sending_since_ns; /* or NULL: see stream_viewer_watch */
	void (*release)(void *ctx);
	void *release_ctx;
	/* read position, owned by the connection's thread */
	uint64_t next; /* index of the next event */
	size_t part;   /* bytes of it already sent */
	size_t preamble_sent;
	/* protected by s->lock */
	bool waiting;
	struct stream_viewer *prev, *next_waiter;
};

static _Atomic long viewers_alive;
static int shutdown_efd = -1;
static _Atomic bool shutting_down;
static pthread_once_t shutdown_once = PTHREAD_ONCE_INIT;
/* Signalled when a viewer is freed, for the shutdown's drain. */
static pthread_mutex_t gone_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone_cond;

static void shutdown_fd_init(void)
{
	pthread_condattr_t attr;

	shutdown_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&gone_cond, &attr);
	pthread_condattr_destroy(&attr);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct stream *stream_create(void)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->refs, 1);
	return s;
}

void stream_ref(struct stream *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void stream_unref(struct stream *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n_chunks; i++)
		free(s->chunks[i]);
	for (size_t i = 0; i < s->n_blocks; i++)
		free(s->blocks[i]);
	free(s->chunks);
	free(s->blocks);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int grow(void **array, size_t *cap, size_t elem)
{
	size_t n = *cap ? *cap * 2 : 8;
	void *p = realloc(*array, n * elem);

	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = n;
	return 0;
}

/* Room for len bytes of text; called with the lock held. */
static char *reserve_text(struct stream *s, size_t len)
{
	struct chunk *c = s->n_chunks ? s->chunks[s->n_chunks - 1] : NULL;
	size_t cap;

	if (c && c->cap - c->used >= len)
		return c->data + c->used;
	cap = c ? c->cap * 2 : CHUNK_MIN_BYTES;
	if (cap > CHUNK_MAX_BYTES)
		cap = CHUNK_MAX_BYTES;
	if (cap < len)
		cap = len;
	if (s->n_chunks == s->cap_chunks &&
	    grow((void **)&s->chunks, &s->cap_chunks, sizeof(*s->chunks)) < 0)
		return NULL;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->used = 0;
	c->cap = cap;
	s->chunks[s->n_chunks++] = c;
	s->bytes += sizeof(*c) + cap;
	return c->data;
}

static struct ev_ref *ref_at(struct stream *s, uint64_t index)
{
	return &s->blocks[index / BLOCK_EVENTS][index % BLOCK_EVENTS];
}

static void wake_waiters(struct stream *s)
{
	struct stream_viewer *v = s->waiters;
	uint64_t one = 1;

	while (v) {
		struct stream_viewer *next = v->next_waiter;

		v->waiting = false;
		v->prev = v->next_waiter = NULL;
		/* Cannot block: the counter is far from overflowing. */
		if (write(v->efd, &one, sizeof(one)) < 0) {
			/* nothing sensible to do; the heartbeat retries */
		}
		v = next;
	}
	s->waiters = NULL;
}

int64_t stream_append(struct stream *s, const char *type, const char *data,
		      size_t len)
{
	char header[HEADER_MAX_BYTES];
	struct ev_ref *ref;
	size_t header_len, total;
	int64_t id = -ENOMEM;
	char *text;

	if (len > UINT32_MAX - HEADER_MAX_BYTES - 2)
		return -E2BIG;
	pthread_mutex_lock(&s->lock);
	if (s->finished) {
		id = -EINVAL;
		goto out_unlock;
	}
	header_len = (size_t)snprintf(
		header, sizeof(header),
		"id: %" PRIu64 "\nevent: %.32s\ndata: ", s->n_events + 1, type);
	total = header_len + len + 2;
	if (s->n_events % BLOCK_EVENTS == 0 &&
	    s->n_events / BLOCK_EVENTS == s->n_blocks) {
		struct ev_ref *block;

		if (s->n_blocks == s->cap_blocks &&
		    grow((void **)&s->blocks, &s->cap_blocks,
			 sizeof(*s->blocks)) < 0)
			goto out_unlock;
		block = malloc(BLOCK_EVENTS * sizeof(*block));
		if (!block)
			goto out_unlock;
		s->blocks[s->n_blocks++] = block;
		s->bytes += BLOCK_EVENTS * sizeof(*block);
	}
	text = reserve_text(s, total);
	if (!text)
		goto out_unlock;
	memcpy(text, header, header_len);
	memcpy(text + header_len, data, len);
	text[header_len + len] = '\n';
	text[header_len + len + 1] = '\n';
	s->chunks[s->n_chunks - 1]->used += total;
	ref = ref_at(s, s->n_events);
	ref->text = text;
	ref->len = (uint32_t)total;
	ref->data_off = (uint16_t)header_len;
	id = (int64_t)++s->n_events;
	wake_waiters(s);
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return id;
}

void stream_finish(struct stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->finished = true;
	wake_waiters(s);
	pthread_mutex_unlock(&s->lock);
}

uint64_t stream_count(struct stream *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n_events;
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool stream_finished(struct stream *s)
{
	bool f;

	pthread_mutex_lock(&s->lock);
	f = s->finished;
	pthread_mutex_unlock(&s->lock);
	return f;
}

size_t stream_bytes(struct stream *s)
{
	size_t b;

	pthread_mutex_lock(&s->lock);
	b = s->bytes + s->cap_chunks * sizeof(*s->chunks) +
	    s->cap_blocks * sizeof(*s->blocks);
	pthread_mutex_unlock(&s->lock);
	return b;
}

int stream_foreach(struct stream *s,
		   int (*fn)(void *ctx, uint64_t id, const char *data,
			     size_t len),
		   void *ctx)
{
	struct ev_ref **blocks;
	uint64_t n;
	size_t n_blocks;
	int rc = 0;

	/* Copy the block pointers: the array may be reallocated by an
	 * append, the blocks it points to never are. */
	pthread_mutex_lock(&s->lock);
	n = s->n_events;
	n_blocks = s->n_blocks;
	blocks = malloc((n_blocks ? n_blocks : 1) * sizeof(*blocks));
	if (blocks)
		memcpy(blocks, s->blocks, n_blocks * sizeof(*blocks));
	pthread_mutex_unlock(&s->lock);
	if (!blocks)
		return -ENOMEM;
	for (uint64_t i = 0; i < n && rc == 0; i++) {
		const struct ev_ref *r =
			&blocks[i / BLOCK_EVENTS][i % BLOCK_EVENTS];

		rc = fn(ctx, i + 1, r->text + r->data_off,
			r->len - r->data_off - 2);
	}
	free(blocks);
	return rc;
}

struct stream_viewer *stream_viewer_create(struct stream *s, uint64_t after_id,
					   int sock_fd, int heartbeat_ms)
{
	struct stream_viewer *v;

	pthread_once(&shutdown_once, shutdown_fd_init);
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->efd < 0) {
		free(v);
		return NULL;
	}
	pthread_mutex_lock(&s->lock);
	/* An id past the end (a client that remembers more than we have)
	 * resumes at the end: never past an event we have not sent. */
	v->next = after_id < s->n_events ? after_id : s->n_events;
	pthread_mutex_unlock(&s->lock);
	stream_ref(s);
	v->s = s;
	v->sock_fd = sock_fd;
	v->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 15000;
	v->last_write_ns = mono_ns();
	atomic_fetch_add(&viewers_alive, 1);
	return v;
}

void stream_viewer_watch(struct stream_viewer *v,
			 _Atomic int64_t *sending_since_ns,
			 void (*release)(void *ctx), void *ctx)
{
	v->sending_since_ns = sending_since_ns;
	v->release = release;
	v->release_ctx = ctx;
}

/* What the watchdog reads: MHD holds bytes of ours since now (n > 0), or
 * holds none (n == 0). */
static ssize_t handed(struct stream_viewer *v, ssize_t n)
{
	if (v->sending_since_ns)
		atomic_store(v->sending_since_ns, n > 0 ? mono_ns() : 0);
	return n;
}

/* Copies what is available; called with the lock held. */
static size_t copy_events(struct stream_viewer *v, char *buf, size_t max)
{
	struct stream *s = v->s;
	size_t done = 0;

	while (done < max && v->next < s->n_events) {
		const struct ev_ref *r = ref_at(s, v->next);
		size_t left = r->len - v->part;
		size_t n = left < max - done ? left : max - done;

		memcpy(buf + done, r->text + v->part, n);
		done += n;
		if (n == left) {
			v->next++;
			v->part = 0;
		} else {
			v->part += n;
		}
	}
	return done;
}

static size_t copy_text(const char *text, size_t len, size_t *sent, char *buf,
			size_t max)
{
	size_t n = len - *sent < max ? len - *sent : max;

	memcpy(buf, text + *sent, n);
	*sent += n;
	return n;
}

static ssize_t viewer_read(struct stream_viewer *v, char *buf, size_t max);

ssize_t stream_viewer_read(void *viewer, uint64_t pos, char *buf, size_t max)
{
	struct stream_viewer *v = viewer;

	(void)pos;
	handed(v, 0); /* MHD asks for more: it has sent what it had */
	return handed(v, viewer_read(v, buf, max));
}

static ssize_t viewer_read(struct stream_viewer *v, char *buf, size_t max)
{
	struct stream *s = v->s;
	size_t hb_sent = 0;

	if (max == 0)
		return 0;
	if (v->preamble_sent < sizeof(retry_preamble) - 1) {
		v->last_write_ns = mono_ns();
		return (ssize_t)copy_text(retry_preamble,
					  sizeof(retry_preamble) - 1,
					  &v->preamble_sent, buf, max);
	}
	for (;;) {
		struct pollfd pfd[3];
		int64_t idle_ms, wait_ms;
		size_t n;
		int ready;

		pthread_mutex_lock(&s->lock);
		if (atomic_load(&shutting_down) &&
		    !(s->finished &&
		      s->n_events - v->next <= SHUTDOWN_TAIL_EVENTS)) {
			pthread_mutex_unlock(&s->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		n = copy_events(v, buf, max);
		if (n == 0 && s->finished) {
			pthread_mutex_unlock(&s->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (n == 0) {
			/* Ask to be woken by the next append. */
			v->waiting = true;
			v->prev = NULL;
			v->next_waiter = s->waiters;
			if (s->waiters)
				s->waiters->prev = v;
			s->waiters = v;
		}
		pthread_mutex_unlock(&s->lock);
		if (n > 0) {
			v->last_write_ns = mono_ns();
			return (ssize_t)n;
		}

		idle_ms = (mono_ns() - v->last_write_ns) / 1000000;
		wait_ms = v->heartbeat_ms - idle_ms;
		if (wait_ms < 0)
			wait_ms = 0;
		pfd[0] = (struct pollfd){.fd = v->efd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = shutdown_efd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = v->sock_fd, .events = POLLRDHUP};
		ready = poll(pfd, v->sock_fd >= 0 ? 3 : 2, (int)wait_ms);

		pthread_mutex_lock(&s->lock);
		if (v->waiting) {
			if (v->prev)
				v->prev->next_waiter = v->next_waiter;
			else
				s->waiters = v->next_waiter;
			if (v->next_waiter)
				v->next_waiter->prev = v->prev;
			v->waiting = false;
			v->prev = v->next_waiter = NULL;
		}
		pthread_mutex_unlock(&s->lock);

		if (ready < 0 && errno != EINTR)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (ready > 0 && pfd[1].revents)
			continue; /* shutdown: the top of the loop decides */
		if (ready > 0 && v->sock_fd >= 0 &&
		    (pfd[2].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (ready > 0 && (pfd[0].revents & POLLIN)) {
			uint64_t count;

			if (read(v->efd, &count, sizeof(count)) < 0) {
				/* EAGAIN: someone else's wake, harmless */
			}
			continue;
		}
		if (ready == 0) {
			v->last_write_ns = mono_ns();
			return (ssize_t)copy_text(heartbeat_text,
						  sizeof(heartbeat_text) - 1,
						  &hb_sent, buf, max);
		}
	}
}

void stream_viewer_free(void *viewer)
{
	struct stream_viewer *v = viewer;

	if (!v)
		return;
	pthread_mutex_lock(&v->s->lock);
	if (v->waiting) {
		if (v->prev)
			v->prev->next_waiter = v->next_waiter;
		else
			v->s->waiters = v->next_waiter;
		if (v->next_waiter)
			v->next_waiter->prev = v->prev;
	}
	pthread_mutex_unlock(&v->s->lock);
	stream_unref(v->s);
	close(v->efd);
	if (v->release)
		v->release(v->release_ctx);
	free(v);
	pthread_mutex_lock(&gone_lock);
	atomic_fetch_sub(&viewers_alive, 1);
	pthread_cond_broadcast(&gone_cond);
	pthread_mutex_unlock(&gone_lock);
}

long stream_viewer_count(void)
{
	return atomic_load(&viewers_alive);
}

void stream_shutdown(int drain_ms)
{
	uint64_t one = 1;
	struct timespec until;

	pthread_once(&shutdown_once, shutdown_fd_init);
	atomic_store(&shutting_down, true);
	if (shutdown_efd >= 0 && write(shutdown_efd, &one, sizeof(one)) < 0) {
		/* already signalled */
	}
	/* Each viewer now sends what it is allowed to and ends; its
	 * response is freed once the last byte has gone to its socket.
	 * Stopping the daemon before that would cut the end event off. */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += drain_ms / 1000;
	until.tv_nsec += (long)(drain_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&gone_lock);
	while (atomic_load(&viewers_alive) > 0 &&
	       pthread_cond_timedwait(&gone_cond, &gone_lock, &until) == 0)
		;
	pthread_mutex_unlock(&gone_lock);
}
