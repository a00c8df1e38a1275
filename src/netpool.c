/*
 * netpool: many requests over a few kept-open connections to the peer.
 *
 * A connection holds NETPOOL_STREAMS places.  A request takes a free place
 * on the connection at the top of the "room" stack (connections with a
 * free place), or opens a new connection when none has room.  The place's
 * number goes into the key the peer echoes ("@key"), so a reply finds its
 * request without a search, and a reply for a place that was cancelled is
 * dropped.  While a connection connects, its requests wait in its pending
 * list; when it opens, each is written with its due time counted from
 * that moment, and the caller hears NETPOOL_SENT.  Requests written during
 * an iteration stay in the connection's buffer until netpool_flush() sends
 * them in one send; replies are read in 64 KiB gulps and parsed in place.
 *
 * Callbacks may ask for new requests (a task's next net step) and cancel
 * others, so connections are never freed while the pool lives, only
 * reused, and nothing holds an index across a callback that it does not
 * check again.  A connection that fails reports every request it carried
 * as failed, after leaving the room stack, so no callback puts a new
 * request on it.
 */
#include "netpool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "util.h"

#define ID_MASK ((UINT64_C(1) << NETPOOL_ID_BITS) - 1)
#define PLACE_FREE UINT64_MAX
#define PLACE_CANCELLED (UINT64_MAX - 1)

enum conn_state { NC_UNUSED, NC_CONNECTING, NC_OPEN };

struct np_pending {
	uint64_t id;
	int64_t delay_ns;
	int64_t bytes;
};

struct np_conn {
	int fd;
	uint8_t state;			 /* enum conn_state */
	bool on_room;			 /* in np->room */
	bool dirty;			 /* in np->dirty: has bytes to send */
	bool want_out;			 /* watching EPOLLOUT */
	uint32_t used;			 /* places taken */
	uint64_t place[NETPOOL_STREAMS]; /* id, PLACE_FREE or _CANCELLED */
	uint8_t free_place[NETPOOL_STREAMS];
	uint32_t n_free;
	struct np_pending *pend; /* waiting for the connection to open */
	uint32_t n_pend, cap_pend;
	char *out;
	size_t out_off, out_len, out_cap;
	char head[PEER_LINE_MAX]; /* a reply's line not yet whole */
	uint8_t head_len;
	int64_t body_left;   /* bytes of the current reply's body to skip */
	uint32_t body_place; /* ... the place it answers */
	uint64_t body_id;    /* ... and the id it echoes */
};

struct netpool {
	struct loop *loop;
	uint16_t port;
	uint64_t token_base;
	uint32_t max_conns;
	int64_t epoch_ns;
	netpool_fn fn;
	void *ctx;

	struct np_conn **conns;
	uint32_t n_conns, cap_conns;
	uint32_t *room; /* indices of connections with a free place */
	uint32_t n_room;
	uint32_t *unused; /* indices of closed connections, for reuse */
	uint32_t n_unused;
	uint32_t *dirty;
	uint32_t n_dirty;
	char buf[65536];
};

static int64_t now_ns(const struct netpool *np)
{
	return util_mono_ns() - np->epoch_ns;
}

/* ---- bookkeeping --------------------------------------------------------- */

static void room_push(struct netpool *np, uint32_t i)
{
	if (np->conns[i]->on_room)
		return;
	np->conns[i]->on_room = true;
	np->room[np->n_room++] = i;
}

/* Takes connection i off the room stack (it is full or failing). */
static void room_remove(struct netpool *np, uint32_t i)
{
	if (!np->conns[i]->on_room)
		return;
	np->conns[i]->on_room = false;
	for (uint32_t k = np->n_room; k-- > 0;)
		if (np->room[k] == i) {
			np->room[k] = np->room[--np->n_room];
			return;
		}
}

static void mark_dirty(struct netpool *np, uint32_t i)
{
	if (np->conns[i]->dirty)
		return;
	np->conns[i]->dirty = true;
	np->dirty[np->n_dirty++] = i;
}

static int out_reserve(struct np_conn *c, size_t more)
{
	if (c->out_len + more <= c->out_cap)
		return 0;
	size_t cap = c->out_cap ? c->out_cap : 4096;
	char *b;

	while (cap < c->out_len + more)
		cap *= 2;
	b = realloc(c->out, cap);
	if (!b)
		return -ENOMEM;
	c->out = b;
	c->out_cap = cap;
	return 0;
}

/* Writes request "@key due bytes" into the connection's buffer. */
static int write_request(struct netpool *np, uint32_t i, uint32_t place,
			 int64_t sent_ns, int64_t delay_ns, int64_t bytes)
{
	struct np_conn *c = np->conns[i];
	uint64_t key = ((uint64_t)place << NETPOOL_ID_BITS) |
		       (c->place[place] & ID_MASK);
	int64_t due = np->epoch_ns + sent_ns + (delay_ns > 0 ? delay_ns : 0);

	if (out_reserve(c, PEER_LINE_MAX) < 0)
		return -ENOMEM;
	c->out_len += (size_t)snprintf(c->out + c->out_len, PEER_LINE_MAX,
				       "@%" PRIu64 " %" PRId64 " %" PRId64 "\n",
				       key, due, bytes);
	mark_dirty(np, i);
	return 0;
}

static void place_free(struct netpool *np, uint32_t i, uint32_t place)
{
	struct np_conn *c = np->conns[i];

	c->place[place] = PLACE_FREE;
	c->free_place[c->n_free++] = (uint8_t)place;
	c->used--;
	if (c->state != NC_UNUSED)
		room_push(np, i);
}

/* Closes connection i and reports every request on it as failed. */
static void conn_fail(struct netpool *np, uint32_t i, int err)
{
	struct np_conn *c = np->conns[i];
	int64_t t = now_ns(np);

	room_remove(np, i);
	if (c->fd >= 0) {
		loop_del_fd(np->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	c->state = NC_UNUSED;
	c->out_off = c->out_len = 0;
	c->head_len = 0;
	c->body_left = 0;
	c->n_pend = 0;
	/* Every place is taken back before any callback, which may ask for
	 * new requests: they go elsewhere. */
	for (uint32_t p = 0; p < NETPOOL_STREAMS; p++) {
		uint64_t id = c->place[p];

		if (id == PLACE_FREE)
			continue;
		place_free(np, i, p);
		if (id != PLACE_CANCELLED)
			np->fn(np->ctx, id, NETPOOL_FAILED, err, t);
	}
	np->unused[np->n_unused++] = i;
}

/* ---- connecting ---------------------------------------------------------- */

static int conn_new(struct netpool *np, uint32_t *out)
{
	uint32_t i;
	struct np_conn *c;

	if (np->n_unused) {
		i = np->unused[--np->n_unused];
	} else {
		if (np->n_conns == np->max_conns)
			return -EAGAIN;
		if (np->n_conns == np->cap_conns) {
			uint32_t cap = np->cap_conns ? np->cap_conns * 2 : 16;
			struct np_conn **cs =
				realloc(np->conns, cap * sizeof(*cs));
			uint32_t *room = NULL, *unused = NULL, *dirty = NULL;

			if (cs)
				np->conns = cs;
			room = cs ? realloc(np->room, cap * sizeof(*room))
				  : NULL;
			if (room)
				np->room = room;
			unused = room ? realloc(np->unused,
						cap * sizeof(*unused))
				      : NULL;
			if (unused)
				np->unused = unused;
			dirty = unused ? realloc(np->dirty,
						 cap * sizeof(*dirty))
				       : NULL;
			if (!dirty)
				return -ENOMEM;
			np->dirty = dirty;
			np->cap_conns = cap;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->fd = -1;
		for (uint32_t p = 0; p < NETPOOL_STREAMS; p++)
			c->place[p] = PLACE_FREE;
		for (uint32_t p = 0; p < NETPOOL_STREAMS; p++)
			c->free_place[p] = (uint8_t)(NETPOOL_STREAMS - 1 - p);
		c->n_free = NETPOOL_STREAMS;
		i = np->n_conns++;
		np->conns[i] = c;
	}
	*out = i;
	return 0;
}

/* Opens connection i (taken from conn_new).  Returns 0 or an errno. */
static int conn_open(struct netpool *np, uint32_t i)
{
	struct np_conn *c = np->conns[i];
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(np->port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int err;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 &&
	    errno != EINPROGRESS) {
		err = -errno;
		goto out_close;
	}
	/* Connected or not yet: writable tells either way. */
	err = loop_add_fd(np->loop, c->fd, EPOLLOUT, np->token_base + i);
	if (err < 0)
		goto out_close;
	c->state = NC_CONNECTING;
	c->want_out = true;
	room_push(np, i);
	return 0;

out_close:
	close(c->fd);
	c->fd = -1;
	np->unused[np->n_unused++] = i;
	return err;
}

/* The connection is open: its waiting requests go out now, their due
 * times counted from now. */
static void conn_opened(struct netpool *np, uint32_t i)
{
	struct np_conn *c = np->conns[i];
	int64_t t = now_ns(np);
	uint32_t n = c->n_pend;

	c->state = NC_OPEN;
	c->want_out = false;
	if (loop_mod_fd(np->loop, c->fd, EPOLLIN, np->token_base + i) < 0) {
		conn_fail(np, i, -errno);
		return;
	}
	for (uint32_t k = 0; k < n; k++) {
		const struct np_pending *p = &c->pend[k];
		uint32_t place = (uint32_t)(p->id >> NETPOOL_ID_BITS);

		if (c->place[place] != (p->id & ID_MASK))
			continue; /* cancelled meanwhile */
		if (write_request(np, i, place, t, p->delay_ns, p->bytes) < 0) {
			conn_fail(np, i, -ENOMEM);
			return;
		}
	}
	/* Callbacks last: they may put new requests on this connection
	 * (which is open now, so none joins the pending list) or fail it. */
	for (uint32_t k = 0; k < n && c->state == NC_OPEN; k++) {
		const struct np_pending *p = &c->pend[k];
		uint32_t place = (uint32_t)(p->id >> NETPOOL_ID_BITS);
		uint64_t id = p->id & ID_MASK;

		if (c->place[place] == id)
			np->fn(np->ctx, id, NETPOOL_SENT, 0, t);
	}
	if (c->state == NC_OPEN)
		c->n_pend = 0;
}

/* ---- the public half ----------------------------------------------------- */

struct netpool *netpool_create(struct loop *loop, uint16_t port,
			       uint64_t token_base, uint32_t max_conns,
			       int64_t epoch_ns, netpool_fn fn, void *ctx)
{
	struct netpool *np = calloc(1, sizeof(*np));

	if (!np)
		return NULL;
	np->loop = loop;
	np->port = port;
	np->token_base = token_base;
	np->max_conns = max_conns ? max_conns : 1;
	np->epoch_ns = epoch_ns;
	np->fn = fn;
	np->ctx = ctx;
	return np;
}

void netpool_destroy(struct netpool *np)
{
	if (!np)
		return;
	for (uint32_t i = 0; i < np->n_conns; i++) {
		struct np_conn *c = np->conns[i];

		if (c->fd >= 0) {
			loop_del_fd(np->loop, c->fd);
			close(c->fd);
		}
		free(c->pend);
		free(c->out);
		free(c);
	}
	free(np->conns);
	free(np->room);
	free(np->unused);
	free(np->dirty);
	free(np);
}

int netpool_request(struct netpool *np, uint64_t id, int64_t delay_ns,
		    int64_t reply_bytes, int64_t now_ns, int32_t *conn)
{
	struct np_conn *c;
	uint32_t i, place;
	int err;

	if (id > ID_MASK || reply_bytes < 0 ||
	    reply_bytes > PEER_MAX_REPLY_BYTES)
		return -EINVAL;
	if (np->n_room) {
		i = np->room[np->n_room - 1];
	} else {
		err = conn_new(np, &i);
		if (err < 0)
			return err;
		err = conn_open(np, i);
		if (err < 0)
			return err;
	}
	c = np->conns[i];
	place = c->free_place[--c->n_free];
	c->place[place] = id;
	if (++c->used == NETPOOL_STREAMS)
		room_remove(np, i);
	*conn = (int32_t)i;
	if (c->state == NC_OPEN) {
		err = write_request(np, i, place, now_ns, delay_ns,
				    reply_bytes);
		if (err < 0) {
			place_free(np, i, place);
			return err;
		}
		return 0;
	}
	if (c->n_pend == c->cap_pend) {
		uint32_t cap = c->cap_pend ? c->cap_pend * 2 : 16;
		struct np_pending *p = realloc(c->pend, cap * sizeof(*p));

		if (!p) {
			place_free(np, i, place);
			return -ENOMEM;
		}
		c->pend = p;
		c->cap_pend = cap;
	}
	c->pend[c->n_pend++] = (struct np_pending){
		.id = ((uint64_t)place << NETPOOL_ID_BITS) | id,
		.delay_ns = delay_ns,
		.bytes = reply_bytes};
	return 1;
}

void netpool_cancel(struct netpool *np, int32_t conn, uint64_t id)
{
	struct np_conn *c;

	if (conn < 0 || (uint32_t)conn >= np->n_conns)
		return;
	c = np->conns[conn];
	for (uint32_t p = 0; p < NETPOOL_STREAMS; p++)
		if (c->place[p] == id) {
			/* Still unsent: the place is free at once. */
			if (c->state == NC_CONNECTING)
				place_free(np, (uint32_t)conn, p);
			else
				c->place[p] = PLACE_CANCELLED;
			return;
		}
}

bool netpool_owns(const struct netpool *np, uint64_t token)
{
	return token >= np->token_base && token - np->token_base < np->n_conns;
}

/* ---- replies ------------------------------------------------------------- */

/* The request in place has its whole reply. */
static void reply_done(struct netpool *np, uint32_t i, uint32_t place,
		       uint64_t id_echoed)
{
	struct np_conn *c = np->conns[i];
	uint64_t id = c->place[place];

	if (id == PLACE_FREE)
		return;
	place_free(np, i, place);
	if (id != PLACE_CANCELLED && id == id_echoed)
		np->fn(np->ctx, id, NETPOOL_REPLIED, 0, now_ns(np));
}

/* Parses a reply's line, "@key bytes" (or "ERR").  Returns 0 and sets
 * the reply's place, the id it echoes and the body's length, or
 * -EPROTO. */
static int parse_head(struct np_conn *c)
{
	unsigned long long key;
	long long bytes;
	char *end;

	c->head[c->head_len] = '\0';
	c->head_len = 0;
	if (c->head[0] != '@')
		return -EPROTO;
	errno = 0;
	key = strtoull(c->head + 1, &end, 10);
	if (errno || *end != ' ')
		return -EPROTO;
	bytes = strtoll(end + 1, &end, 10);
	if (errno || *end != '\0' || bytes < 0)
		return -EPROTO;
	if ((key >> NETPOOL_ID_BITS) >= NETPOOL_STREAMS)
		return -EPROTO;
	c->body_place = (uint32_t)(key >> NETPOOL_ID_BITS);
	c->body_id = key & ID_MASK;
	c->body_left = bytes;
	return 0;
}

/* Reads what the peer sent: reply lines and the bodies after them, each
 * request answered when its body has come. */
static void conn_readable(struct netpool *np, uint32_t i)
{
	for (;;) {
		struct np_conn *c = np->conns[i];
		ssize_t n;

		if (c->state != NC_OPEN)
			return;
		n = recv(c->fd, np->buf, sizeof(np->buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_fail(np, i, n < 0 ? -errno : -ECONNRESET);
			return;
		}
		for (const char *p = np->buf, *end = np->buf + n; p < end;) {
			const char *nl;
			size_t len;

			/* A callback may have failed the connection. */
			if (c->state != NC_OPEN)
				return;
			if (c->body_left > 0) {
				int64_t skip = end - p < c->body_left
						       ? end - p
						       : c->body_left;

				p += skip;
				c->body_left -= skip;
				if (c->body_left == 0)
					reply_done(np, i, c->body_place,
						   c->body_id);
				continue;
			}
			nl = memchr(p, '\n', (size_t)(end - p));
			len = (size_t)((nl ? nl : end) - p);
			if (c->head_len + len >= sizeof(c->head)) {
				conn_fail(np, i, -EPROTO);
				return;
			}
			memcpy(c->head + c->head_len, p, len);
			c->head_len = (uint8_t)(c->head_len + len);
			if (!nl)
				break;
			p = nl + 1;
			if (parse_head(c) < 0) {
				conn_fail(np, i, -EPROTO);
				return;
			}
			if (c->body_left == 0)
				reply_done(np, i, c->body_place, c->body_id);
		}
	}
}

/* Sends what connection i has waiting; EPOLLOUT brings the rest. */
static void conn_send(struct netpool *np, uint32_t i)
{
	struct np_conn *c = np->conns[i];

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!c->want_out &&
				    loop_mod_fd(np->loop, c->fd,
						EPOLLIN | EPOLLOUT,
						np->token_base + i) == 0)
					c->want_out = true;
				return;
			}
			conn_fail(np, i, -errno);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->want_out &&
	    loop_mod_fd(np->loop, c->fd, EPOLLIN, np->token_base + i) == 0)
		c->want_out = false;
}

void netpool_flush(struct netpool *np)
{
	/* conn_send may fail a connection, whose callbacks may dirty
	 * others: the list is read again each time round. */
	while (np->n_dirty) {
		uint32_t i = np->dirty[--np->n_dirty];
		struct np_conn *c = np->conns[i];

		c->dirty = false;
		if (c->state == NC_OPEN)
			conn_send(np, i);
	}
}

void netpool_on_io(struct netpool *np, uint64_t token, uint32_t events)
{
	uint32_t i = (uint32_t)(token - np->token_base);
	struct np_conn *c = np->conns[i];

	if (c->state == NC_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr) {
			conn_fail(np, i, -soerr);
			return;
		}
		conn_opened(np, i);
		return;
	}
	if (c->state != NC_OPEN)
		return;
	if (events & EPOLLOUT)
		conn_send(np, i);
	if (c->state == NC_OPEN && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_readable(np, i);
}
