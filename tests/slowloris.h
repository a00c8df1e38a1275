/*
 * slowloris: an attack of slow and stuck clients on a running server, and
 * probes of the API while it goes, for test_server (which asserts that the
 * probes are answered) and bench_server (which prints how fast).
 *
 * One thread, one poll() over every socket.  Trickling connections send
 * a request line and then one byte of a header that never ends, a byte a
 * second; viewers ask for a run's event stream and never read a byte.  A
 * socket the server closes is opened again at its next tick, so the
 * pressure holds for the whole attack.  The attackers connect from their
 * own loopback addresses (127.0.0.2, 127.0.0.3: all of 127.0.0.0/8 is this
 * machine), as another client would; the probes come from 127.0.0.1.
 *
 * Header-only (static functions): the test and the benchmark are single
 * files that each include it.
 */
#ifndef OVERLAP_TESTS_SLOWLORIS_H
#define OVERLAP_TESTS_SLOWLORIS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOWLORIS_MAX_PROBES 256

struct slowloris_config {
	int port;
	int trickle;		    /* trickling connections */
	int viewers;		    /* non-reading SSE viewers */
	const char *viewer_path;    /* "/api/runs/ID/events" */
	const char *trickle_source; /* "127.0.0.2" */
	const char *viewer_source;  /* "127.0.0.3" */
	int seconds;		    /* attack; a probe each second */
	int grace_s;		    /* the attack goes on after its end
				     * until every probe is answered, at
				     * most this long; a probe unanswered
				     * by then has failed */
};

struct slowloris_result {
	int probes, answered; /* answered 200 while the attack held */
	int64_t latency_ns[SLOWLORIS_MAX_PROBES];
	int held_then_cut;   /* trickling, closed after at least a tick */
	int viewers_refused; /* 429 */
	int viewers_cut;     /* admitted, then closed by the server */
};

struct slowloris_sock {
	int fd;
	int kind; /* 0 trickle, 1 viewer, 2 probe */
	bool connected;
	bool finished; /* probe answered or failed */
	int64_t opened_ns, next_ns;
	size_t sent;
	char reply[64]; /* a probe's first bytes */
	size_t reply_len;
};

static int64_t slowloris_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Enough descriptors for every socket of the attack. */
static void slowloris_raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
					      rl.rlim_max > (rlim_t)want
				      ? (rlim_t)want
				      : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* A non-blocking connect from source (NULL: any) to 127.0.0.1:port. */
static int slowloris_connect(int port, const char *source, int rcvbuf)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (source) {
		struct sockaddr_in from = {.sin_family = AF_INET};

		inet_pton(AF_INET, source, &from.sin_addr);
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
			close(fd);
			return -1;
		}
	}
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void slowloris_open(struct slowloris_sock *s,
			   const struct slowloris_config *c, int64_t now)
{
	const char *source = s->kind == 0   ? c->trickle_source
			     : s->kind == 1 ? c->viewer_source
					    : NULL;

	s->fd = slowloris_connect(c->port, source, s->kind == 1 ? 4096 : 0);
	s->connected = false;
	s->sent = 0;
	s->reply_len = 0;
	s->opened_ns = now;
	s->next_ns = now + 1000000000LL;
}

static const char *slowloris_request(const struct slowloris_sock *s,
				     const struct slowloris_config *c,
				     char *buf, size_t size)
{
	if (s->kind == 0)
		snprintf(buf, size,
			 "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "X-Slow: ");
	else if (s->kind == 1)
		snprintf(buf, size,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Accept: text/event-stream\r\n\r\n",
			 c->viewer_path);
	else
		snprintf(buf, size,
			 "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Connection: close\r\n\r\n");
	return buf;
}

/* The server closed s (an attacker): counts why, and schedules the next
 * connection at its tick. */
static void slowloris_closed(struct slowloris_sock *s,
			     struct slowloris_result *r, int64_t now)
{
	if (s->kind == 0 && s->connected && now - s->opened_ns > 1000000000LL)
		r->held_then_cut++;
	if (s->kind == 1) {
		char head[16] = {0};

		if (recv(s->fd, head, sizeof(head) - 1, MSG_PEEK) > 0 &&
		    strncmp(head, "HTTP/1.1 429", 12) == 0)
			r->viewers_refused++;
		else if (s->connected)
			r->viewers_cut++;
	}
	close(s->fd);
	s->fd = -1;
}

/* Runs the attack and the probes.  0, or -1 when the sockets could not be
 * made at all. */
static int slowloris_run(const struct slowloris_config *c,
			 struct slowloris_result *r)
{
	int n_attack = c->trickle + c->viewers;
	int n_max = n_attack + SLOWLORIS_MAX_PROBES;
	struct slowloris_sock *socks = calloc((size_t)n_max, sizeof(*socks));
	struct pollfd *pfd = calloc((size_t)n_max, sizeof(*pfd));
	int *which = calloc((size_t)n_max, sizeof(*which));
	int64_t start = slowloris_now();
	int64_t end = start + (int64_t)c->seconds * 1000000000LL;
	int64_t give_up = end + (int64_t)c->grace_s * 1000000000LL;
	int64_t next_probe = start + 500000000LL;
	int n_socks = n_attack, rc = 0;

	memset(r, 0, sizeof(*r));
	if (!socks || !pfd || !which) {
		rc = -1;
		goto out_free;
	}
	slowloris_raise_nofile(n_max + 64);
	for (int i = 0; i < n_attack; i++) {
		socks[i].kind = i < c->trickle ? 0 : 1;
		slowloris_open(&socks[i], c, start);
		/* Spread the trickle over the second. */
		socks[i].next_ns = start + (int64_t)(i % 1000) * 1000000LL;
	}

	for (;;) {
		int64_t now = slowloris_now();
		bool pending = false;
		int n = 0, timeout_ms;

		if (now < end && next_probe <= now && n_socks < n_max &&
		    r->probes < SLOWLORIS_MAX_PROBES) {
			struct slowloris_sock *p = &socks[n_socks++];

			p->kind = 2;
			slowloris_open(p, c, now);
			r->probes++;
			next_probe += 1000000000LL;
		}
		for (int i = n_attack; i < n_socks; i++)
			if (!socks[i].finished)
				pending = true;
		if (now >= give_up || (now >= end && !pending))
			break;

		for (int i = 0; i < n_socks; i++) {
			struct slowloris_sock *s = &socks[i];
			short ev;

			/* The attack holds until every probe is answered:
			 * an answer counts only while it holds. */
			if (s->kind != 2 && now >= end && !pending)
				continue;
			if (s->fd < 0 && s->kind != 2 && now >= s->next_ns)
				slowloris_open(s, c, now);
			if (s->fd < 0 || s->finished)
				continue;
			ev = POLLRDHUP;
			if (!s->connected ||
			    (s->kind == 0 && now >= s->next_ns))
				ev |= POLLOUT;
			if (s->kind != 1)
				ev |= POLLIN;
			pfd[n] = (struct pollfd){s->fd, ev, 0};
			which[n++] = i;
		}
		timeout_ms = 50;
		if (poll(pfd, (nfds_t)n, timeout_ms) < 0 && errno != EINTR)
			break;
		now = slowloris_now();
		for (int k = 0; k < n; k++) {
			struct slowloris_sock *s = &socks[which[k]];
			short re = pfd[k].revents;
			char buf[512];

			if (!re)
				continue;
			if (s->kind == 2) {
				ssize_t got;

				if (!s->connected && (re & POLLOUT)) {
					const char *req = slowloris_request(
						s, c, buf, sizeof(buf));

					s->connected = true;
					if (send(s->fd, req, strlen(req),
						 MSG_NOSIGNAL) < 0) {
						s->finished = true;
						close(s->fd);
						s->fd = -1;
					}
					continue;
				}
				got = recv(s->fd, buf, sizeof(buf), 0);
				if (got > 0) {
					size_t room = sizeof(s->reply) - 1 -
						      s->reply_len;
					size_t take = (size_t)got < room
							      ? (size_t)got
							      : room;

					memcpy(s->reply + s->reply_len, buf,
					       take);
					s->reply_len += take;
					continue;
				}
				if (got < 0 && errno == EAGAIN)
					continue;
				/* The whole answer is in (Connection:
				 * close). */
				s->reply[s->reply_len] = '\0';
				if (strncmp(s->reply, "HTTP/1.1 200", 12) ==
					    0 &&
				    now < give_up) {
					r->latency_ns[r->answered++] =
						now - s->opened_ns;
				}
				s->finished = true;
				close(s->fd);
				s->fd = -1;
				continue;
			}
			if (re & (POLLRDHUP | POLLHUP | POLLERR | POLLIN)) {
				slowloris_closed(s, r, now);
				s->next_ns = now + 1000000000LL;
				continue;
			}
			if (!(re & POLLOUT))
				continue;
			if (!s->connected) {
				const char *req = slowloris_request(
					s, c, buf, sizeof(buf));

				s->connected = true;
				if (send(s->fd, req, strlen(req),
					 MSG_NOSIGNAL) < 0) {
					slowloris_closed(s, r, now);
					s->next_ns = now + 1000000000LL;
					continue;
				}
				s->next_ns = now + 1000000000LL;
				continue;
			}
			/* One more byte of a header that never ends. */
			if (send(s->fd, "a", 1, MSG_NOSIGNAL) < 0) {
				slowloris_closed(s, r, now);
				s->next_ns = now + 1000000000LL;
				continue;
			}
			s->next_ns = now + 1000000000LL;
		}
	}

out_free:
	for (int i = 0; socks && i < n_socks; i++)
		if (socks[i].fd > 0)
			close(socks[i].fd);
	free(socks);
	free(pfd);
	free(which);
	return rc;
}

#endif
