/*
 * loop: the event loop under the asyncio models, in the spirit of Redis's
 * ae: an epoll set for file descriptors and a binary min-heap of timers,
 * nothing else.  It owns no policy: the caller drives each iteration
 * (asyncio's _run_once) by asking when the next timer is due, polling for
 * I/O with that timeout, and popping the timers that are due, so the model
 * decides what "ready" means and when a task runs.
 *
 * Times are whatever monotonic nanosecond base the caller uses (the run's
 * epoch); the loop never reads a clock itself.  A timer is a due time and a
 * 32-bit token; a file descriptor carries a 64-bit token.  Timers cannot be
 * cancelled: a caller that no longer wants one ignores its token when it
 * fires (the tokens are cheap to check), which keeps a heap entry at 16
 * bytes, the price of one sleeping task.
 *
 * One thread uses a loop; nothing here is thread-safe.  Other threads wake
 * it through a file descriptor the caller registers (an eventfd).
 */
#ifndef OVERLAP_LOOP_H
#define OVERLAP_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

/* Called by loop_poll for each ready descriptor: events are EPOLLIN etc. */
typedef void (*loop_io_fn)(void *ctx, uint64_t token, uint32_t events);
/* Called by loop_run_timers for each due timer, in due order. */
typedef void (*loop_timer_fn)(void *ctx, uint32_t token, int64_t due_ns);

/* timer_hint: how many timers to make room for at once (0: a few); the heap
 * grows past it when needed.  NULL on failure (errno set). */
struct loop *loop_create(size_t timer_hint);
void loop_destroy(struct loop *l);

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...); token comes back in the
 * callback.  Return 0 or a negative errno. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, uint64_t token);
int loop_mod_fd(struct loop *l, int fd, uint32_t events, uint64_t token);
int loop_del_fd(struct loop *l, int fd);

/* Adds a timer due at due_ns.  Returns 0 or -ENOMEM.  Timers due at the
 * same time fire in the order they were added. */
int loop_add_timer(struct loop *l, int64_t due_ns, uint32_t token);
size_t loop_timer_count(const struct loop *l);
/* The earliest due time, or INT64_MAX when there are no timers. */
int64_t loop_next_due(const struct loop *l);

/* Waits up to timeout_ns (0: do not block, < 0: forever) for descriptors
 * and calls fn for each ready one.  Returns how many were ready, or a
 * negative errno (an interrupted wait returns 0). */
int loop_poll(struct loop *l, int64_t timeout_ns, loop_io_fn fn, void *ctx);

/* loop_poll in two halves, for a caller that must do something between
 * the wait and the callbacks (take back a GIL it let go of while it
 * waited): loop_wait returns what loop_poll would, and loop_dispatch(n)
 * calls fn for the n descriptors that wait found ready. */
int loop_wait(struct loop *l, int64_t timeout_ns);
void loop_dispatch(struct loop *l, int n, loop_io_fn fn, void *ctx);

/* Pops every timer due at or before now_ns and calls fn for each.  fn may
 * add timers; they fire in a later call even when already due, as
 * asyncio's callbacks scheduled during an iteration run in the next one.
 * Returns how many fired. */
size_t loop_run_timers(struct loop *l, int64_t now_ns, loop_timer_fn fn,
		       void *ctx);

#endif
