/*
 * stream: one run's events as Server-Sent Events, and the viewers that
 * read them.
 *
 * A stream is an append-only log.  Each event is stored once, already
 * formatted as SSE text ("id: N\nevent: TYPE\ndata: JSON\n\n"), in chunks
 * that never move, so any number of viewers copy from the same bytes and
 * a fold over the events (the partial trace) reads them without holding
 * the lock.  Ids are 1, 2, 3... in append order; they equal the line
 * numbers of the run's events file, so a replay after a restart has the
 * same ids a live viewer saw.
 *
 * Viewers are libmicrohttpd content readers on a thread-per-connection
 * daemon: stream_viewer_read() blocks in poll() on the viewer's own
 * eventfd (the appender writes it), the client's socket (POLLRDHUP: the
 * client went away) and a shutdown eventfd, with the heartbeat as the
 * timeout.  The appender never waits for a viewer: it copies nothing for
 * them and only signals the ones that asked to be woken.  A viewer holds
 * a reference on its stream; the MHD free callback (stream_viewer_free)
 * drops it.
 *
 * Lock order: a stream's lock is innermost; nothing else is taken under it.
 */
#ifndef OVERLAP_STREAM_H
#define OVERLAP_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stream;
struct stream_viewer;

/* A new stream with one reference.  NULL when out of memory. */
struct stream *stream_create(void);
void stream_ref(struct stream *s);
void stream_unref(struct stream *s);

/* Appends one event (type: the SSE event name, [a-z_]; data: one line of
 * JSON, no newline) and wakes waiting viewers.  Returns its id (>= 1), or
 * -ENOMEM, or -EINVAL after stream_finish(). */
int64_t stream_append(struct stream *s, const char *type, const char *data,
		      size_t len);
/* No more events: viewers that have read everything end their response. */
void stream_finish(struct stream *s);

uint64_t stream_count(struct stream *s);
bool stream_finished(struct stream *s);
/* Bytes held (for the server's cache budget). */
size_t stream_bytes(struct stream *s);

/* Calls fn(ctx, id, data, len) for every event that existed at the call,
 * in order, without holding the lock (stored events never change).  Stops
 * and returns fn's value when it is nonzero; 0 otherwise. */
int stream_foreach(struct stream *s,
		   int (*fn)(void *ctx, uint64_t id, const char *data,
			     size_t len),
		   void *ctx);

/* A viewer that starts after event after_id (0: from the start), on the
 * client socket sock_fd (-1: do not watch it), sending a comment when
 * nothing was written for heartbeat_ms.  Takes a reference on s.  NULL
 * when out of resources. */
struct stream_viewer *stream_viewer_create(struct stream *s, uint64_t after_id,
					   int sock_fd, int heartbeat_ms);
/* Lets a watchdog see the viewer: *sending_since_ns gets the
 * CLOCK_MONOTONIC time at which the viewer last handed MHD bytes, and 0
 * whenever MHD asks for more (it has sent them) or the viewer waits for
 * events; release(ctx) is called when the viewer is freed.  Call before
 * the response is queued. */
void stream_viewer_watch(struct stream_viewer *v,
			 _Atomic int64_t *sending_since_ns,
			 void (*release)(void *ctx), void *ctx);
/* MHD_ContentReaderCallback (cls is the viewer): blocks until there is
 * something to send; -1 at the end of a finished stream, -2 when the client
 * went away or the server is stopping. */
ssize_t stream_viewer_read(void *viewer, uint64_t pos, char *buf, size_t max);
/* MHD_ContentReaderFreeCallback. */
void stream_viewer_free(void *viewer);

/* Viewers alive in this process. */
long stream_viewer_count(void);
/* Server shutdown: ends every viewer's response, now or, for a viewer
 * close to the end of a finished stream (its run was just concluded),
 * once it has sent the rest, end event included.  New viewers end at once
 * too, the same way.  Returns when every viewer has ended, or after
 * drain_ms. */
void stream_shutdown(int drain_ms);

#endif
