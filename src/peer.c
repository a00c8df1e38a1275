/*
 * peer: the latency peer, a few threads serving every net step of a run.
 *
 * Each thread (a shard, one per core up to four) owns a listening socket
 * bound to the same port with SO_REUSEPORT, so the kernel spreads new
 * connections over the shards' accept queues and no lock is shared.  A
 * shard sleeps in epoll_wait on its listener, its connections, its
 * timerfd and the peer's stop eventfd.  It accepts every pending
 * connection at each wake-up, reads every request line a connection has
 * sent, and puts each request in its binary min-heap of due times (32
 * bytes an entry; at 100,000 pending replies a push or a pop is about
 * seventeen comparisons, and requests that arrive in due order sift up
 * not at all).  The timerfd is armed (absolute, CLOCK_MONOTONIC, so never
 * early) for the heap's top.  When it fires, every due request starts its
 * reply; replies on a shared connection are gathered and leave in one
 * send per connection per wake-up.  A reply too big for the socket buffer
 * continues on EPOLLOUT.  Nothing blocks.
 *
 * A request's due time is the client's when the line carries it: the
 * client knows when its wait began, and the peer must not add its own
 * queueing to a wait it does not model.  A client that goes away while
 * waiting (EOF or an error) is closed at once; its heap entries stay until
 * they fall due and are then dropped (the connection's struct is freed
 * with its last entry), so cancelling costs no search.  peer_stop() writes
 * the eventfd; every shard leaves its loop; the caller closes what is
 * left.  All connection state belongs to its shard's thread.
 *
 * The client side, peer_open() and peer_exchange(), is a plain blocking
 * exchange written with non-blocking sockets and poll() so that it can
 * honour a deadline and a stop flag.
 */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util.h"

#define PEER_SHARDS_MAX 4
#define PEER_EVENTS_BATCH 256
/* Bytes read from a connection at a time: a few hundred request lines. */
#define PEER_RECV_BYTES 16384
/* The client checks its stop flag at least this often. */
#define PEER_STOP_SLICE_NS (250 * NS_PER_MS)

enum conn_state { CONN_READ, CONN_WAIT, CONN_WRITE };

struct peer_conn {
	int fd;	       /* -1 once closed, while heap entries remain */
	uint8_t state; /* enum conn_state */
	bool err;      /* the one reply is "ERR\n" rather than the payload */
	bool mux;      /* has sent "@" lines: answers many, stays open */
	bool closing;  /* close once out is sent (after an "ERR\n") */
	bool dirty;    /* on the shard's list of connections to flush */
	bool want_out; /* watching EPOLLOUT */
	uint8_t line_len;
	char line[PEER_LINE_MAX]; /* a request line not yet whole */
	uint32_t pending;	  /* its entries in the heap */
	int64_t to_send;	  /* one request: bytes of the reply left */
	char *out;		  /* many requests: replies not yet sent */
	size_t out_off, out_len, out_cap;
	struct peer_conn *prev, *next; /* the shard's open connections */
	struct peer_conn *dirty_next;
};

struct peer_timer {
	int64_t due_ns;
	struct peer_conn *conn;
	uint64_t key;  /* "@" requests: the client's number */
	int64_t bytes; /* reply bytes */
};

struct peer_shard {
	struct peer *peer;
	int listen_fd;
	int epoll_fd;
	int timer_fd;
	pthread_t thread;
	bool started;

	/* the shard's thread only */
	struct peer_conn *conns;
	struct peer_conn *dirty;
	struct peer_timer *heap;
	size_t heap_len, heap_cap;
	int64_t timer_armed_ns; /* 0: disarmed */
	bool listen_paused;	/* out of fds: accept again after a close */
	char buf[PEER_RECV_BYTES];
};

struct peer {
	int stop_fd; /* every shard's epoll watches it; nobody reads it */
	uint16_t port;
	unsigned n_shards;
	struct peer_shard shards[PEER_SHARDS_MAX];
};

/* The reply payload: a run of 'x' and its newline.  A reply's last
 * to_send bytes are the tail of this buffer, or 'x's from its start. */
#define REPLY_CHUNK 65536
static char reply_buf[REPLY_CHUNK + 1];
static pthread_once_t reply_once = PTHREAD_ONCE_INIT;
static const char err_reply[] = "ERR\n";

static void reply_buf_init(void)
{
	memset(reply_buf, 'x', REPLY_CHUNK);
	reply_buf[REPLY_CHUNK] = '\n';
}

/* ---- timer heap ---------------------------------------------------------- */

static void heap_sift_up(struct peer_shard *s, size_t i)
{
	struct peer_timer t = s->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (s->heap[parent].due_ns <= t.due_ns)
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = t;
}

static void heap_sift_down(struct peer_shard *s, size_t i)
{
	struct peer_timer t = s->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= s->heap_len)
			break;
		if (child + 1 < s->heap_len &&
		    s->heap[child + 1].due_ns < s->heap[child].due_ns)
			child++;
		if (t.due_ns <= s->heap[child].due_ns)
			break;
		s->heap[i] = s->heap[child];
		i = child;
	}
	s->heap[i] = t;
}

static int heap_push(struct peer_shard *s, const struct peer_timer *t)
{
	if (s->heap_len == s->heap_cap) {
		size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
		struct peer_timer *h = realloc(s->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		s->heap = h;
		s->heap_cap = cap;
	}
	s->heap[s->heap_len++] = *t;
	heap_sift_up(s, s->heap_len - 1);
	t->conn->pending++;
	return 0;
}

static struct peer_timer heap_pop(struct peer_shard *s)
{
	struct peer_timer top = s->heap[0];

	s->heap[0] = s->heap[--s->heap_len];
	if (s->heap_len)
		heap_sift_down(s, 0);
	top.conn->pending--;
	return top;
}

/* Arms the timerfd for the earliest due reply (or disarms it). */
static void timer_update(struct peer_shard *s)
{
	int64_t due = s->heap_len ? s->heap[0].due_ns : 0;
	struct itimerspec its = {0};

	if (due == s->timer_armed_ns)
		return;
	if (due) {
		/* 0 would disarm: an already-due reply still needs a tick. */
		its.it_value.tv_sec = due / NS_PER_S;
		its.it_value.tv_nsec = due % NS_PER_S;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->timer_armed_ns = due;
}

/* ---- connections --------------------------------------------------------- */

/* Frees a closed connection once nothing refers to it any more. */
static void conn_release(struct peer_conn *c)
{
	if (c->fd < 0 && c->pending == 0 && !c->dirty) {
		free(c->out);
		free(c);
	}
}

static void conn_close(struct peer_shard *s, struct peer_conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (s->listen_paused) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &s->listen_fd};

		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev) ==
		    0)
			s->listen_paused = false;
	}
	conn_release(c);
}

static void conn_watch(struct peer_shard *s, struct peer_conn *c,
		       uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Reads and drops what the client sent beyond its request line: closing
 * with unread bytes would reset the connection and could destroy the
 * reply before the client has read it. */
static void conn_drain(struct peer_conn *c)
{
	char discard[256];

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(c->fd, discard, sizeof(discard), 0);

		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
	}
}

/* One request a connection: writes what the socket takes; closes the
 * connection when done or when the client has gone. */
static void conn_write(struct peer_shard *s, struct peer_conn *c)
{
	while (c->to_send > 0) {
		const char *src;
		size_t len;

		if (c->err) {
			len = (size_t)c->to_send;
			src = err_reply + sizeof(err_reply) - 1 - len;
		} else if (c->to_send <= REPLY_CHUNK + 1) {
			len = (size_t)c->to_send;
			src = reply_buf + REPLY_CHUNK + 1 - len;
		} else {
			len = REPLY_CHUNK;
			src = reply_buf;
		}
		ssize_t n = send(c->fd, src, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_watch(s, c, EPOLLOUT);
				return;
			}
			break;
		}
		c->to_send -= n;
	}
	conn_drain(c);
	conn_close(s, c);
}

static void conn_start_reply(struct peer_shard *s, struct peer_conn *c,
			     bool err, int64_t bytes)
{
	c->state = CONN_WRITE;
	c->err = err;
	c->to_send = err ? (int64_t)sizeof(err_reply) - 1 : bytes + 1;
	conn_write(s, c);
}

/* Many requests a connection: appends to the bytes waiting to be sent. */
static int out_append(struct peer_conn *c, const char *src, size_t len,
		      int fill)
{
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *b;

		while (cap < c->out_len + len)
			cap *= 2;
		b = realloc(c->out, cap);
		if (!b)
			return -ENOMEM;
		c->out = b;
		c->out_cap = cap;
	}
	if (src)
		memcpy(c->out + c->out_len, src, len);
	else
		memset(c->out + c->out_len, fill, len);
	c->out_len += len;
	return 0;
}

static void mark_dirty(struct peer_shard *s, struct peer_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = s->dirty;
	s->dirty = c;
}

/* Sends what a shared connection has waiting.  Returns false when the
 * connection was closed. */
static bool conn_flush(struct peer_shard *s, struct peer_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!c->want_out) {
					c->want_out = true;
					conn_watch(s, c,
						   EPOLLIN | EPOLLRDHUP |
							   EPOLLOUT);
				}
				return true;
			}
			conn_close(s, c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->closing) {
		conn_drain(c);
		conn_close(s, c);
		return false;
	}
	if (c->want_out) {
		c->want_out = false;
		conn_watch(s, c, EPOLLIN | EPOLLRDHUP);
	}
	return true;
}

static void flush_dirty(struct peer_shard *s)
{
	while (s->dirty) {
		struct peer_conn *c = s->dirty;

		s->dirty = c->dirty_next;
		c->dirty = false;
		if (c->fd >= 0)
			conn_flush(s, c);
		else
			conn_release(c);
	}
}

/* Parses a decimal number up to the next space or the end; advances *p
 * past it and one space. */
static bool parse_num(const char **p, long long max, long long *out)
{
	const char *q = *p;
	char *end;

	if (*q < '0' || *q > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(q, &end, 10);
	if (errno || v > (unsigned long long)max)
		return false;
	if (*end == ' ')
		end++;
	else if (*end != '\0')
		return false;
	*out = (long long)v;
	*p = end;
	return true;
}

/* Parses a request line (its newline cut off, a '\r' tolerated):
 * "<delay_us> <reply_bytes>[ <due_ns>]" or "@<key> <due_ns> <reply_bytes>".
 * The due time is made absolute and held to an hour from now. */
static bool parse_request(char *line, struct peer_timer *t, bool *mux)
{
	size_t len = strlen(line);
	int64_t now = util_mono_ns();
	long long a, b, c = -1;
	const char *p;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 0 || line[len - 1] == ' ')
		return false;
	p = line;
	*mux = *p == '@';
	if (*mux) {
		p++;
		if (!parse_num(&p, LLONG_MAX, &a) ||
		    !parse_num(&p, LLONG_MAX, &b) ||
		    !parse_num(&p, PEER_MAX_REPLY_BYTES, &c) || *p)
			return false;
		t->key = (uint64_t)a;
		t->due_ns = b;
		t->bytes = c;
	} else {
		if (!parse_num(&p, PEER_MAX_DELAY_US, &a) ||
		    !parse_num(&p, PEER_MAX_REPLY_BYTES, &b))
			return false;
		if (*p && (!parse_num(&p, LLONG_MAX, &c) || *p))
			return false;
		t->key = 0;
		t->bytes = b;
		t->due_ns = c >= 0 ? c : now + a * NS_PER_US;
	}
	if (t->due_ns > now + PEER_MAX_DELAY_US * NS_PER_US)
		t->due_ns = now + PEER_MAX_DELAY_US * NS_PER_US;
	if (t->due_ns <= 0)
		t->due_ns = 1;
	return true;
}

/* A whole request line has come.  Returns false when the connection is
 * done reading (one request taken, or an error answered). */
static bool conn_line(struct peer_shard *s, struct peer_conn *c, char *line)
{
	struct peer_timer t = {.conn = c};
	bool mux;

	if (!parse_request(line, &t, &mux) || (c->mux && !mux))
		goto out_err;
	if (heap_push(s, &t) < 0)
		goto out_err;
	if (mux) {
		c->mux = true;
		return true;
	}
	c->state = CONN_WAIT;
	return false;

out_err:
	if (c->mux) {
		c->closing = true;
		c->state = CONN_WAIT; /* reads nothing more */
		if (out_append(c, err_reply, sizeof(err_reply) - 1, 0) < 0)
			conn_close(s, c);
		else
			mark_dirty(s, c);
	} else {
		conn_start_reply(s, c, true, 0);
	}
	return false;
}

static void conn_readable(struct peer_shard *s, struct peer_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, s->buf, sizeof(s->buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* EOF or error: the client is gone, its requests
			 * cancelled (or it half-closed without a whole
			 * line, which it must not do). */
			conn_close(s, c);
			return;
		}
		if (c->state != CONN_READ)
			continue; /* bytes after the request: ignored */
		for (char *p = s->buf, *end = s->buf + n; p < end;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = (size_t)((nl ? nl : end) - p);

			if (c->line_len + len >= sizeof(c->line)) {
				conn_line(s, c, ""); /* too long: ERR */
				return;
			}
			memcpy(c->line + c->line_len, p, len);
			c->line_len = (uint8_t)(c->line_len + len);
			if (!nl)
				break;
			c->line[c->line_len] = '\0';
			c->line_len = 0;
			if (!conn_line(s, c, c->line))
				return;
			p = nl + 1;
		}
	}
}

static void accept_all(struct peer_shard *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Stop listening until a connection closes,
				 * rather than spin on a readable socket. */
				struct epoll_event ev = {
					.events = 0, .data.ptr = &s->listen_fd};

				if (s->conns &&
				    epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD,
					      s->listen_fd, &ev) == 0)
					s->listen_paused = true;
			}
			return;
		}
		struct peer_conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = CONN_READ;
		ev.data.ptr = c;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
	}
}

/* Starts the reply of every request that is due. */
static void fire_due(struct peer_shard *s)
{
	uint64_t ticks;
	int64_t now = util_mono_ns();

	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: a re-arm raced the expiry; check the heap anyway */
	}
	s->timer_armed_ns = 0;
	while (s->heap_len && s->heap[0].due_ns <= now) {
		struct peer_timer t = heap_pop(s);
		struct peer_conn *c = t.conn;
		char head[PEER_LINE_MAX];
		int len;

		if (c->fd < 0) {
			conn_release(c); /* cancelled */
			continue;
		}
		if (!c->mux) {
			conn_start_reply(s, c, false, t.bytes);
			continue;
		}
		len = snprintf(head, sizeof(head), "@%" PRIu64 " %" PRId64 "\n",
			       t.key, t.bytes);
		if (out_append(c, head, (size_t)len, 0) < 0 ||
		    out_append(c, NULL, (size_t)t.bytes, 'x') < 0) {
			conn_close(s, c);
			continue;
		}
		mark_dirty(s, c);
	}
}

static void conn_event(struct peer_shard *s, struct peer_conn *c, uint32_t e)
{
	if (c->fd < 0)
		return;
	if (c->state == CONN_WRITE) {
		if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_write(s, c);
		return;
	}
	if (e & (EPOLLERR | EPOLLHUP)) {
		conn_close(s, c);
		return;
	}
	if ((e & EPOLLOUT) && !conn_flush(s, c))
		return;
	if (e & (EPOLLIN | EPOLLRDHUP))
		conn_readable(s, c);
}

static void *shard_thread(void *arg)
{
	struct peer_shard *s = arg;
	struct epoll_event events[PEER_EVENTS_BATCH];

	for (;;) {
		timer_update(s);
		int n = epoll_wait(s->epoll_fd, events, PEER_EVENTS_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			void *ptr = events[i].data.ptr;

			if (ptr == &s->peer->stop_fd)
				return NULL;
			if (ptr == &s->listen_fd)
				accept_all(s);
			else if (ptr == &s->timer_fd)
				fire_due(s);
			else
				conn_event(s, ptr, events[i].events);
		}
		flush_dirty(s);
	}
	return NULL;
}

static int watch_fd(struct peer_shard *s, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* Closes a shard's descriptors and frees what it still holds: open
 * connections, then the entries of closed ones. */
static void shard_free(struct peer_shard *s)
{
	while (s->conns)
		conn_close(s, s->conns);
	while (s->dirty) {
		struct peer_conn *c = s->dirty;

		s->dirty = c->dirty_next;
		c->dirty = false;
		conn_release(c);
	}
	while (s->heap_len) {
		struct peer_timer t = heap_pop(s);

		conn_release(t.conn);
	}
	free(s->heap);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
}

/* Opens shard i's listener on port (0: any, which the first shard
 * picks), its epoll and its timer. */
static int shard_init(struct peer *p, unsigned i)
{
	struct peer_shard *s = &p->shards[i];
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(p->port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t addr_len = sizeof(addr);
	int one = 1;

	s->peer = p;
	s->listen_fd = s->epoll_fd = s->timer_fd = -1;
	s->listen_fd =
		socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return -errno;
	if (setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEPORT, &one,
		       sizeof(one)) < 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(s->listen_fd, SOMAXCONN) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&addr, &addr_len) < 0)
		return -errno;
	p->port = ntohs(addr.sin_port);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epoll_fd < 0)
		return -errno;
	s->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0)
		return -errno;
	if (watch_fd(s, s->listen_fd, &s->listen_fd) < 0 ||
	    watch_fd(s, s->timer_fd, &s->timer_fd) < 0 ||
	    watch_fd(s, p->stop_fd, &p->stop_fd) < 0)
		return -errno;
	return 0;
}

static unsigned shards_wanted(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cores < 1)
		return 1;
	return cores > PEER_SHARDS_MAX ? PEER_SHARDS_MAX : (unsigned)cores;
}

struct peer *peer_start(void)
{
	struct peer *p = calloc(1, sizeof(*p));
	unsigned want = shards_wanted();
	sigset_t all, old;
	int err = 0;

	if (!p)
		return NULL;
	pthread_once(&reply_once, reply_buf_init);
	p->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->stop_fd < 0) {
		err = -errno;
		goto out_free;
	}
	/* The first shard must open; the others only add capacity. */
	for (unsigned i = 0; i < want; i++) {
		err = shard_init(p, i);
		if (err < 0) {
			shard_free(&p->shards[i]);
			memset(&p->shards[i], 0, sizeof(p->shards[i]));
			break;
		}
		p->n_shards++;
	}
	if (p->n_shards == 0)
		goto out_stop;

	/* Signals belong to the thread that runs the CLI, not to us. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < p->n_shards; i++) {
		int rc = pthread_create(&p->shards[i].thread, NULL,
					shard_thread, &p->shards[i]);

		if (rc) {
			err = -rc;
			break;
		}
		p->shards[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!p->shards[0].started)
		goto out_shards;
	return p;

out_shards:
	for (unsigned i = 0; i < p->n_shards; i++)
		shard_free(&p->shards[i]);
out_stop:
	close(p->stop_fd);
out_free:
	free(p);
	errno = -err;
	return NULL;
}

uint16_t peer_port(const struct peer *p)
{
	return p->port;
}

unsigned peer_threads(const struct peer *p)
{
	return p->n_shards;
}

void peer_stop(struct peer *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	while (write(p->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	for (unsigned i = 0; i < p->n_shards; i++)
		if (p->shards[i].started)
			pthread_join(p->shards[i].thread, NULL);
	for (unsigned i = 0; i < p->n_shards; i++)
		shard_free(&p->shards[i]);
	close(p->stop_fd);
	free(p);
}

/* ---- client -------------------------------------------------------------- */

/* Waits for events on fd until deadline_ns (INT64_MAX: none), checking
 * *stop every PEER_STOP_SLICE_NS.  Returns 0 when ready, -ETIMEDOUT,
 * -ECANCELED or another negative errno. */
static int wait_fd(int fd, short events, int64_t deadline_ns, _Atomic int *stop)
{
	for (;;) {
		if (stop && atomic_load_explicit(stop, memory_order_relaxed))
			return -ECANCELED;
		int64_t now = util_mono_ns();

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		int64_t wait_ns = deadline_ns - now;

		if (stop && wait_ns > PEER_STOP_SLICE_NS)
			wait_ns = PEER_STOP_SLICE_NS;
		struct timespec ts = {.tv_sec = wait_ns / NS_PER_S,
				      .tv_nsec = wait_ns % NS_PER_S};
		struct pollfd pfd = {.fd = fd, .events = events};
		bool forever = !stop && deadline_ns == INT64_MAX;
		int n = ppoll(&pfd, 1, forever ? NULL : &ts, NULL);

		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Client sockets open now, from peer_open to peer_exchange's close.  The
 * peer accepts in this same process, so each request holds two
 * descriptors here.  Clients may hold at most half of what the limit
 * leaves above PEER_FD_RESERVE (the process's own descriptors), so the
 * peer always has one to accept with: clients holding every descriptor
 * would wait forever for replies from a peer that cannot accept them.
 * A socket over that is refused with EMFILE, as Python's own socket()
 * is at its limit. */
#define PEER_FD_RESERVE 32
static _Atomic int64_t peer_clients;

static bool client_slot_take(void)
{
	struct rlimit rl;
	int64_t cap = INT64_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		cap = rl.rlim_cur > PEER_FD_RESERVE
			      ? (int64_t)(rl.rlim_cur - PEER_FD_RESERVE) / 2
			      : 1;
	if (atomic_fetch_add(&peer_clients, 1) >= cap) {
		atomic_fetch_sub(&peer_clients, 1);
		return false;
	}
	return true;
}

static void client_close(int fd)
{
	close(fd);
	atomic_fetch_sub(&peer_clients, 1);
}

int peer_open(uint16_t port, int64_t deadline_ns, _Atomic int *stop)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd, soerr = 0, rc;
	socklen_t soerr_len = sizeof(soerr);

	if (!client_slot_take())
		return -EMFILE;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		atomic_fetch_sub(&peer_clients, 1);
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		rc = -errno;
		goto out_close;
	}
	rc = wait_fd(fd, POLLOUT, deadline_ns, stop);
	if (rc < 0)
		goto out_close;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (soerr) {
		rc = -soerr;
		goto out_close;
	}
	return fd;

out_close:
	client_close(fd);
	return rc;
}

int peer_exchange(int fd, int64_t due_ns, int64_t reply_bytes,
		  int64_t deadline_ns, _Atomic int *stop)
{
	char line[PEER_LINE_MAX];
	char buf[2048];
	int64_t got = 0, delay_ns = due_ns - util_mono_ns();
	bool is_err = false;
	char last = 0;
	int len, rc;

	if (reply_bytes < 0 || reply_bytes > PEER_MAX_REPLY_BYTES) {
		rc = -EINVAL;
		goto out_close;
	}
	if (delay_ns < 0)
		delay_ns = 0;
	/* Round up: the peer must never answer earlier than asked. */
	len = snprintf(line, sizeof(line), "%lld %lld %lld\n",
		       (long long)((delay_ns + NS_PER_US - 1) / NS_PER_US),
		       (long long)reply_bytes, (long long)due_ns);
	for (int sent = 0; sent < len;) {
		ssize_t n = send(fd, line + sent, (size_t)(len - sent),
				 MSG_NOSIGNAL);

		if (n >= 0) {
			sent += (int)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			rc = -errno;
			goto out_close;
		}
		rc = wait_fd(fd, POLLOUT, deadline_ns, stop);
		if (rc < 0)
			goto out_close;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n > 0) {
			if (got == 0 && n >= 3 && !memcmp(buf, "ERR", 3))
				is_err = true;
			got += n;
			last = buf[n - 1];
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			rc = -errno;
			goto out_close;
		}
		rc = wait_fd(fd, POLLIN, deadline_ns, stop);
		if (rc < 0)
			goto out_close;
	}
	if (is_err || got != reply_bytes + 1 || last != '\n')
		rc = -EPROTO;
	else
		rc = 0;

out_close:
	client_close(fd);
	return rc;
}

int peer_request_until(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		       int64_t timeout_ns, _Atomic int *stop)
{
	int64_t deadline_ns = timeout_ns > 0 ? util_mono_ns() + timeout_ns
					     : INT64_MAX;
	int fd;

	if (delay_ns < 0 || reply_bytes < 0 ||
	    reply_bytes > PEER_MAX_REPLY_BYTES)
		return -EINVAL;
	fd = peer_open(port, deadline_ns, stop);
	if (fd < 0)
		return fd;
	return peer_exchange(fd, util_mono_ns() + delay_ns, reply_bytes,
			     deadline_ns, stop);
}

int peer_request(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		 int64_t timeout_ns)
{
	return peer_request_until(port, delay_ns, reply_bytes, timeout_ns,
				  NULL);
}
