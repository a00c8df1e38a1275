/*
 * peer: the latency peer, one thread serving every net step of a run.
 *
 * The thread sleeps in epoll_wait on four kinds of file: the listening
 * socket, the connections, a timerfd and an eventfd.  A connection reads
 * its request line, then sits in a binary min-heap ordered by the time its
 * answer is due; the timerfd is armed (absolute, CLOCK_MONOTONIC, so
 * nanosecond precision and never early) for the heap's top.  When it fires,
 * every due connection starts writing its reply; a reply too big for the
 * socket buffer continues on EPOLLOUT.  Nothing blocks, so ten thousand
 * waiting requests cost ten thousand small structs and one thread.
 *
 * A client that goes away while waiting (EOF or an error) is closed and
 * taken out of the heap at once, so cancelled requests do not pile up.
 * peer_stop() writes the eventfd; the thread leaves its loop and closes
 * whatever is still open.  All connection state belongs to the peer thread.
 *
 * The client side, peer_request(), is a plain blocking exchange written
 * with non-blocking sockets and poll() so that it can honour a timeout and
 * a stop flag.
 */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util.h"

/* Longest request line we accept, newline included. */
#define PEER_LINE_MAX 64
/* Limits of a request: an hour of delay, 64 MiB of reply. */
#define PEER_MAX_DELAY_US (3600LL * 1000 * 1000)
#define PEER_MAX_REPLY_BYTES (64LL << 20)
#define PEER_EVENTS_BATCH 256
/* The client checks its stop flag at least this often. */
#define PEER_STOP_SLICE_NS (250 * NS_PER_MS)

enum conn_state { CONN_READ, CONN_WAIT, CONN_WRITE };

struct peer_conn {
	int fd;
	uint8_t state; /* enum conn_state */
	bool err;      /* the reply is "ERR\n" rather than the payload */
	uint8_t line_len;
	char line[PEER_LINE_MAX];
	size_t heap_idx;  /* in peer.heap while CONN_WAIT */
	int64_t due_ns;	  /* when the reply may start */
	int64_t to_send;  /* bytes of the reply not yet written */
	struct peer_conn *prev, *next; /* every open connection */
};

struct peer {
	int listen_fd;
	int epoll_fd;
	int timer_fd;
	int stop_fd;
	uint16_t port;
	pthread_t thread;

	/* peer thread only */
	struct peer_conn *conns;
	struct peer_conn **heap;
	size_t heap_len, heap_cap;
	int64_t timer_armed_ns; /* 0: disarmed */
	bool listen_paused;	/* out of fds: accept again after a close */
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

static void heap_set(struct peer *p, size_t i, struct peer_conn *c)
{
	p->heap[i] = c;
	c->heap_idx = i;
}

static void heap_sift_up(struct peer *p, size_t i)
{
	struct peer_conn *c = p->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (p->heap[parent]->due_ns <= c->due_ns)
			break;
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, c);
}

static void heap_sift_down(struct peer *p, size_t i)
{
	struct peer_conn *c = p->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= p->heap_len)
			break;
		if (child + 1 < p->heap_len &&
		    p->heap[child + 1]->due_ns < p->heap[child]->due_ns)
			child++;
		if (c->due_ns <= p->heap[child]->due_ns)
			break;
		heap_set(p, i, p->heap[child]);
		i = child;
	}
	heap_set(p, i, c);
}

static int heap_push(struct peer *p, struct peer_conn *c)
{
	if (p->heap_len == p->heap_cap) {
		size_t cap = p->heap_cap ? p->heap_cap * 2 : 256;
		struct peer_conn **h = realloc(p->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		p->heap = h;
		p->heap_cap = cap;
	}
	p->heap[p->heap_len] = c;
	c->heap_idx = p->heap_len++;
	heap_sift_up(p, c->heap_idx);
	return 0;
}

static void heap_remove(struct peer *p, struct peer_conn *c)
{
	size_t i = c->heap_idx;
	struct peer_conn *last = p->heap[--p->heap_len];

	if (i == p->heap_len)
		return;
	heap_set(p, i, last);
	if (i > 0 && p->heap[(i - 1) / 2]->due_ns > last->due_ns)
		heap_sift_up(p, i);
	else
		heap_sift_down(p, i);
}

/* Arms the timerfd for the earliest due reply (or disarms it). */
static void timer_update(struct peer *p)
{
	int64_t due = p->heap_len ? p->heap[0]->due_ns : 0;
	struct itimerspec its = {0};

	if (due == p->timer_armed_ns)
		return;
	if (due) {
		/* 0 would disarm: an already-due reply still needs a tick. */
		its.it_value.tv_sec = due / NS_PER_S;
		its.it_value.tv_nsec = due % NS_PER_S;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		p->timer_armed_ns = due;
}

/* ---- connections --------------------------------------------------------- */

static void conn_close(struct peer *p, struct peer_conn *c)
{
	if (c->state == CONN_WAIT)
		heap_remove(p, c);
	epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	if (p->listen_paused) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &p->listen_fd};

		if (epoll_ctl(p->epoll_fd, EPOLL_CTL_MOD, p->listen_fd,
			      &ev) == 0)
			p->listen_paused = false;
	}
}

static void conn_watch(struct peer *p, struct peer_conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	epoll_ctl(p->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
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

/* Writes what the socket takes; closes the connection when done or when
 * the client has gone.  Returns true while the connection stays open. */
static bool conn_write(struct peer *p, struct peer_conn *c)
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
				conn_watch(p, c, EPOLLOUT);
				return true;
			}
			break;
		}
		c->to_send -= n;
	}
	conn_drain(c);
	conn_close(p, c);
	return false;
}

static void conn_start_reply(struct peer *p, struct peer_conn *c, bool err,
			     int64_t bytes)
{
	c->state = CONN_WRITE;
	c->err = err;
	c->to_send = err ? (int64_t)sizeof(err_reply) - 1 : bytes + 1;
	conn_write(p, c);
}

/* Parses "<delay_us> <reply_bytes>\n" (the newline already cut off). */
static bool parse_request(const char *line, int64_t *delay_us,
			  int64_t *reply_bytes)
{
	char *end;

	if (*line < '0' || *line > '9')
		return false;
	errno = 0;
	long long d = strtoll(line, &end, 10);
	if (errno || *end != ' ' || d > PEER_MAX_DELAY_US)
		return false;
	line = end + 1;
	if (*line < '0' || *line > '9')
		return false;
	long long b = strtoll(line, &end, 10);
	if (errno || b > PEER_MAX_REPLY_BYTES)
		return false;
	if (*end == '\r')
		end++;
	if (*end != '\0')
		return false;
	*delay_us = d;
	*reply_bytes = b;
	return true;
}

static void conn_readable(struct peer *p, struct peer_conn *c)
{
	for (;;) {
		char discard[256];
		char *dst = c->state == CONN_READ ? c->line + c->line_len
						  : discard;
		size_t room = c->state == CONN_READ
				      ? sizeof(c->line) - 1 - c->line_len
				      : sizeof(discard);
		ssize_t n = recv(c->fd, dst, room, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* EOF or error: the client is gone (or half-closed
			 * without a whole line, which it must not do). */
			conn_close(p, c);
			return;
		}
		if (c->state != CONN_READ)
			continue; /* bytes after the request: ignored */

		c->line_len += (uint8_t)n;
		c->line[c->line_len] = '\0';
		char *nl = memchr(c->line, '\n', c->line_len);

		if (!nl) {
			if (c->line_len >= sizeof(c->line) - 1) {
				conn_start_reply(p, c, true, 0);
				return;
			}
			continue;
		}
		*nl = '\0';
		int64_t delay_us, bytes;

		if (!parse_request(c->line, &delay_us, &bytes)) {
			conn_start_reply(p, c, true, 0);
			return;
		}
		/* Due no earlier than delay after the line was read. */
		c->due_ns = util_mono_ns() + delay_us * NS_PER_US;
		c->to_send = bytes;
		if (heap_push(p, c) < 0) {
			conn_start_reply(p, c, true, 0);
			return;
		}
		c->state = CONN_WAIT;
	}
}

static void accept_all(struct peer *p)
{
	for (;;) {
		int fd = accept4(p->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Stop listening until a connection closes,
				 * rather than spin on a readable socket. */
				struct epoll_event ev = {
					.events = 0, .data.ptr = &p->listen_fd};

				if (p->conns &&
				    epoll_ctl(p->epoll_fd, EPOLL_CTL_MOD,
					      p->listen_fd, &ev) == 0)
					p->listen_paused = true;
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
		if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = p->conns;
		if (p->conns)
			p->conns->prev = c;
		p->conns = c;
	}
}

static void fire_due(struct peer *p)
{
	uint64_t ticks;
	int64_t now = util_mono_ns();

	if (read(p->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: a re-arm raced the expiry; check the heap anyway */
	}
	p->timer_armed_ns = 0;
	while (p->heap_len && p->heap[0]->due_ns <= now) {
		struct peer_conn *c = p->heap[0];

		heap_remove(p, c);
		c->state = CONN_WRITE; /* out of the heap before any close */
		conn_start_reply(p, c, false, c->to_send);
	}
}

static void *peer_thread(void *arg)
{
	struct peer *p = arg;
	struct epoll_event events[PEER_EVENTS_BATCH];

	for (;;) {
		timer_update(p);
		int n = epoll_wait(p->epoll_fd, events, PEER_EVENTS_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			void *ptr = events[i].data.ptr;

			if (ptr == &p->stop_fd)
				return NULL;
			if (ptr == &p->listen_fd) {
				accept_all(p);
				continue;
			}
			if (ptr == &p->timer_fd) {
				fire_due(p);
				continue;
			}
			struct peer_conn *c = ptr;
			uint32_t e = events[i].events;

			if (c->state == CONN_WRITE) {
				if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
					conn_write(p, c);
			} else if (e & (EPOLLERR | EPOLLHUP)) {
				conn_close(p, c);
			} else if (e & (EPOLLIN | EPOLLRDHUP)) {
				conn_readable(p, c);
			}
		}
	}
	return NULL;
}

static int watch_fd(struct peer *p, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

struct peer *peer_start(void)
{
	struct peer *p = calloc(1, sizeof(*p));
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t addr_len = sizeof(addr);
	sigset_t all, old;
	int err;

	if (!p)
		return NULL;
	pthread_once(&reply_once, reply_buf_init);
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
					       SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0)
		goto out_free;
	if (bind(p->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(p->listen_fd, SOMAXCONN) < 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&addr, &addr_len) < 0)
		goto out_listen;
	p->port = ntohs(addr.sin_port);
	p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epoll_fd < 0)
		goto out_listen;
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->timer_fd < 0)
		goto out_epoll;
	p->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->stop_fd < 0)
		goto out_timer;
	if (watch_fd(p, p->listen_fd, &p->listen_fd) < 0 ||
	    watch_fd(p, p->timer_fd, &p->timer_fd) < 0 ||
	    watch_fd(p, p->stop_fd, &p->stop_fd) < 0)
		goto out_stop;

	/* Signals belong to the thread that runs the CLI, not to us. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&p->thread, NULL, peer_thread, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		goto out_stop;
	}
	return p;

out_stop:
	err = errno;
	close(p->stop_fd);
	errno = err;
out_timer:
	err = errno;
	close(p->timer_fd);
	errno = err;
out_epoll:
	err = errno;
	close(p->epoll_fd);
	errno = err;
out_listen:
	err = errno;
	close(p->listen_fd);
	errno = err;
out_free:
	err = errno;
	free(p);
	errno = err;
	return NULL;
}

uint16_t peer_port(const struct peer *p)
{
	return p->port;
}

void peer_stop(struct peer *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	while (write(p->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(p->thread, NULL);
	while (p->conns)
		conn_close(p, p->conns);
	free(p->heap);
	close(p->stop_fd);
	close(p->timer_fd);
	close(p->epoll_fd);
	close(p->listen_fd);
	free(p);
}

/* ---- client -------------------------------------------------------------- */

/* Waits for events on fd until deadline_ns (INT64_MAX: none), checking
 * *stop every PEER_STOP_SLICE_NS.  Returns 0 when ready, -ETIMEDOUT,
 * -ECANCELED or another negative errno. */
static int wait_fd(int fd, short events, int64_t deadline_ns,
		   _Atomic int *stop)
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

int peer_request_until(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		       int64_t timeout_ns, _Atomic int *stop)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int64_t deadline_ns = timeout_ns > 0 ? util_mono_ns() + timeout_ns
					     : INT64_MAX;
	char line[PEER_LINE_MAX];
	char buf[2048];
	int64_t got = 0;
	bool is_err = false;
	char last = 0;
	int rc;

	if (delay_ns < 0 || reply_bytes < 0 ||
	    reply_bytes > PEER_MAX_REPLY_BYTES)
		return -EINVAL;
	/* Round up: the peer must never answer earlier than asked. */
	int len = snprintf(line, sizeof(line), "%lld %lld\n",
			   (long long)((delay_ns + NS_PER_US - 1) / NS_PER_US),
			   (long long)reply_bytes);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int soerr = 0;
		socklen_t soerr_len = sizeof(soerr);

		if (errno != EINPROGRESS) {
			rc = -errno;
			goto out_close;
		}
		rc = wait_fd(fd, POLLOUT, deadline_ns, stop);
		if (rc < 0)
			goto out_close;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			       &soerr_len) < 0 ||
		    soerr) {
			rc = soerr ? -soerr : -errno;
			goto out_close;
		}
	}
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
	close(fd);
	return rc;
}

int peer_request(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		 int64_t timeout_ns)
{
	return peer_request_until(port, delay_ns, reply_bytes, timeout_ns,
				  NULL);
}
