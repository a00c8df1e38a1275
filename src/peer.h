/*
 * peer: the latency peer that net steps talk to.  The engine starts it on
 * 127.0.0.1 on an ephemeral port, served by one thread per core (each with
 * its own SO_REUSEPORT listener, epoll and timer heap), so thousands of
 * requests can wait at once and arrive at once.
 *
 * Two forms of request, told apart by their first byte:
 *
 *   one request per connection: the client sends the line
 *   "<delay_us> <reply_bytes>[ <due_ns>]\n"; the peer answers at due_ns
 *   (CLOCK_MONOTONIC, the machine's clock, which the client shares) when
 *   the line carries it, else no earlier than delay_us after it read the
 *   line, with reply_bytes bytes of 'x' followed by "\n", then closes.
 *   Carrying the due time means time the request spent queued in the peer
 *   (a busy accept, a late read) does not lengthen the wait.
 *
 *   many requests on one connection: lines "@<key> <due_ns> <reply_bytes>\n",
 *   any number, at any time; each is answered at its due time with the
 *   line "@<key> <reply_bytes>\n" followed by reply_bytes bytes of 'x', in
 *   the order they fall due, and the connection stays open, as streams
 *   share an HTTP/2 connection.  key is the client's own number.
 *
 * A malformed line is answered with "ERR\n" and the connection is closed.
 * A client that closes (or shuts down its sending side) while it waits has
 * cancelled its requests: the peer drops them at once.
 */
#ifndef OVERLAP_PEER_H
#define OVERLAP_PEER_H

#include <stdatomic.h>
#include <stdint.h>

/* Limits of a request: an hour of delay, 64 MiB of reply. */
#define PEER_MAX_DELAY_US (3600LL * 1000 * 1000)
#define PEER_MAX_REPLY_BYTES (64LL << 20)
/* Longest request or reply line, newline included. */
#define PEER_LINE_MAX 64

struct peer;

/* NULL on failure (errno set). */
struct peer *peer_start(void);
uint16_t peer_port(const struct peer *p);
/* How many threads serve requests (one per core, at most four). */
unsigned peer_threads(const struct peer *p);
void peer_stop(struct peer *p);

/* Blocking client (thread and process models), in two halves so that the
 * caller can time the connection apart from the wait for the reply.
 * deadline_ns is an absolute CLOCK_MONOTONIC time (INT64_MAX: none); stop,
 * when not NULL, makes either half give up with -ECANCELED within about
 * 250 ms of *stop becoming nonzero (a run's ctx->stop).
 *
 * peer_open() connects: returns the socket, or -ETIMEDOUT, -ECANCELED or
 * another negative errno.  peer_exchange() sends one request whose answer
 * is due at due_ns (CLOCK_MONOTONIC) and reads the whole reply; it closes
 * fd whatever happens.  Returns 0, -EPROTO for a wrong answer, or as
 * peer_open. */
int peer_open(uint16_t port, int64_t deadline_ns, _Atomic int *stop);
int peer_exchange(int fd, int64_t due_ns, int64_t reply_bytes,
		  int64_t deadline_ns, _Atomic int *stop);

/* Both halves at once: asks for delay_ns counted from when the connection
 * is open, gives up with -ETIMEDOUT after timeout_ns (0: none). */
int peer_request(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		 int64_t timeout_ns);
int peer_request_until(uint16_t port, int64_t delay_ns, int64_t reply_bytes,
		       int64_t timeout_ns, _Atomic int *stop);

#endif
