/*
 * netpool: the asyncio models' client for net steps.  It keeps a pool of
 * connections to the latency peer open for the whole run and sends many
 * requests over each at once, as an HTTP/2 client multiplexes streams over
 * one connection (httpx with http2, for one): a request takes a place on a
 * connection that has room, or opens a new connection and waits for it.
 * Requests leave with their due time (peer.h's "@" lines), so the wait the
 * trace shows is the request's own duration, and a connection's cost is
 * paid once by the requests that waited for it, not by every request.
 *
 * The pool runs on one thread, the loop's (loop.h): the caller registers
 * nothing itself, hands the pool its descriptors' events (tokens from
 * token_base up), and calls netpool_flush() once per loop iteration, which
 * sends every connection's new requests in one send.  What happens to a
 * request comes back through one callback, on the loop's thread.
 */
#ifndef OVERLAP_NETPOOL_H
#define OVERLAP_NETPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

/* Requests one connection carries at once: what HTTP/2 servers commonly
 * allow (SETTINGS_MAX_CONCURRENT_STREAMS of 100 to 128). */
#define NETPOOL_STREAMS 100
/* A request's id is the caller's: at most 40 bits. */
#define NETPOOL_ID_BITS 40

enum netpool_event {
	NETPOOL_SENT,	 /* the connection it waited for is open and the
			  * request went out at t_ns: its wait begins */
	NETPOOL_REPLIED, /* the whole reply came at t_ns */
	NETPOOL_FAILED,	 /* err says why (its connection failed) */
};

typedef void (*netpool_fn)(void *ctx, uint64_t id, enum netpool_event ev,
			   int err, int64_t t_ns);

struct netpool;

/* A pool of at most max_conns connections to port on 127.0.0.1, watched
 * through loop with tokens token_base + index; times are nanoseconds since
 * epoch_ns (CLOCK_MONOTONIC), as the recorder's.  NULL on failure. */
struct netpool *netpool_create(struct loop *loop, uint16_t port,
			       uint64_t token_base, uint32_t max_conns,
			       int64_t epoch_ns, netpool_fn fn, void *ctx);
/* Closes every connection; nothing more is called back. */
void netpool_destroy(struct netpool *np);

/* Asks for a reply of reply_bytes, due delay_ns after the request goes
 * out.  now_ns is the caller's time now.  Returns 0 when the request went
 * on an open connection (its wait begins at now_ns), 1 when it waits for
 * its connection to open (NETPOOL_SENT follows), -EAGAIN when every
 * connection is full and no more may be opened (ask again after a
 * reply), or another negative errno.  *conn says where it went, for
 * netpool_cancel. */
int netpool_request(struct netpool *np, uint64_t id, int64_t delay_ns,
		    int64_t reply_bytes, int64_t now_ns, int32_t *conn);
/* Forgets request id on connection conn: nothing is called back for it.
 * Its place on the connection is free when the peer's answer comes. */
void netpool_cancel(struct netpool *np, int32_t conn, uint64_t id);

bool netpool_owns(const struct netpool *np, uint64_t token);
void netpool_on_io(struct netpool *np, uint64_t token, uint32_t events);
/* Sends what the requests of this iteration wrote (a connection that
 * fails reports each of its requests as failed). */
void netpool_flush(struct netpool *np);

#endif
