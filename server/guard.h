/*
 * guard: slow and stuck clients never starve the others.
 *
 * libmicrohttpd's own timeout is an idle timeout: a client that sends a
 * byte of its request every few seconds is never idle and holds its
 * connection (and, on a thread-per-connection daemon, a thread) for as
 * long as it likes, and a Server-Sent Events stream has no timeout at
 * all.  The guard watches every connection from MHD's connection
 * notifications and enforces what the idle timeout cannot:
 *
 * - a deadline for the whole request (head and body), counted from the
 *   connection's start or from the end of its previous request;
 * - caps on SSE viewers, in total and per client address (the caller
 *   answers 429 beyond them);
 * - a viewer whose socket stays full (the client stopped reading) for
 *   some seconds is closed; it can resume with Last-Event-ID.
 *
 * A connection over its deadline is shut down (shutdown(2) on its socket,
 * which wakes MHD's thread for it, and the viewer's poll() too); MHD then
 * closes it as it does any connection the client dropped.  The cap on
 * connections per address is MHD's own (MHD_OPTION_PER_IP_CONNECTION_LIMIT).
 *
 * Locking: guard.lock protects the list of connections and every
 * record's fields except the atomics; the watchdog calls shutdown() under
 * it, and MHD closes a socket only after its CLOSED notification, which
 * takes the lock to unlink the record: the watchdog never touches a
 * descriptor that was closed and reused.
 */
#ifndef OVERLAP_GUARD_H
#define OVERLAP_GUARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

struct guard_config {
	int64_t request_deadline_ns; /* head and body, per request */
	int64_t stuck_viewer_ns;     /* a viewer's socket full this long */
	long viewers_max;	     /* SSE viewers at once, in total */
	long viewers_per_address;    /* and from one client address */
	int64_t tick_ns;	     /* how often the watchdog looks */
};

struct guard;
struct guard_conn;

/* Starts the watchdog thread.  NULL when out of resources. */
struct guard *guard_create(const struct guard_config *cfg);
/* Stops the watchdog; after MHD_stop_daemon (every connection closed). */
void guard_destroy(struct guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION; cls is the struct guard. */
void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		  enum MHD_ConnectionNotificationCode code);

/* The record of a connection (NULL when the guard is not in use). */
struct guard_conn *guard_of(struct MHD_Connection *conn);
/* The request is in, head and body: its deadline no longer applies. */
void guard_request_received(struct guard_conn *c);
/* The request is over: the next one on this connection has its own
 * deadline from now. */
void guard_request_done(struct guard_conn *c);

/* Admits an SSE viewer on c: 0, -EMFILE over the total, -EUSERS over the
 * cap of c's address.  On 0 the caller hands the viewer
 * guard_viewer_clock(c) to report when it is sending, and calls
 * guard_viewer_end(c) when the viewer is freed. */
int guard_viewer_begin(struct guard_conn *c);
void guard_viewer_end(void *c);
/* The viewer stores here the CLOCK_MONOTONIC time at which it last handed
 * bytes to MHD, and 0 when it asks for more or waits for events: a value
 * that stays old means the socket stays full. */
_Atomic int64_t *guard_viewer_clock(struct guard_conn *c);

/* The caps, for messages. */
long guard_viewers_max(const struct guard *g);
long guard_viewers_per_address(const struct guard *g);

#endif
