/*
 * peer: the latency peer that net steps talk to.  The engine starts it on
 * 127.0.0.1 on an ephemeral port, in its own thread with epoll and a timer
 * heap, so thousands of requests can wait at once.
 *
 * Protocol, one request per connection: the client sends the line
 * "<delay_us> <reply_bytes>\n"; the peer answers no earlier than delay_us
 * after it read the line, with reply_bytes bytes of 'x' followed by "\n",
 * then closes.  A malformed line is answered with "ERR\n" at once.  A client
 * that closes (or shuts down its sending side) while it waits has
 * cancelled its request: the peer drops it at once.
 */
#ifndef OVERLAP_PEER_H
#define OVERLAP_PEER_H

#include <stdatomic.h>
#include <stdint.h>

struct peer;

/* NULL on failure (errno set). */
struct peer *peer_start(void);
uint16_t peer_port(const struct peer *p);
void peer_stop(struct peer *p);

/* Blocking client (thread and process models): connects, asks for delay_ns,
 * reads the whole reply.  Returns 0, -ETIMEDOUT after timeout_ns (0: none),
 * or another negative errno. */
int peer_request(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		 int64_t timeout_ns);
/* The same, also giving up with -ECANCELED within about 250 ms of *stop
 * becoming nonzero (a run's ctx->stop); stop may be NULL. */
int peer_request_until(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		       int64_t timeout_ns, _Atomic int *stop);

#endif
