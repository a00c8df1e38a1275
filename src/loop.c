/*
 * loop: epoll plus a timer heap (see loop.h for the contract).
 *
 * The heap is an array of 16-byte entries ordered by due time and then by a
 * sequence number, so equal due times keep their insertion order (asyncio's
 * call_at is stable in the same way) and a batch of timers added inside a
 * callback can be told apart from the batch being fired.  The timeout goes
 * to epoll_pwait2, which takes nanoseconds; where the kernel lacks it we
 * fall back to epoll_wait, rounding the timeout up to whole milliseconds
 * so a timer is never served early.
 */
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_EVENTS_MAX 256

struct loop_timer {
	int64_t due_ns;
	uint32_t token;
	uint32_t seq; /* insertion order; compared modulo 2^32 */
};

struct loop {
	int epfd;
	bool no_pwait2; /* the kernel said ENOSYS once */
	uint32_t next_seq;
	struct loop_timer *heap;
	size_t n_timers, cap_timers;
	/* loop_run_timers: due timers its callbacks added, held back */
	struct loop_timer *aside;
	size_t n_aside, cap_aside;
	struct epoll_event events[LOOP_EVENTS_MAX];
};

static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool timer_less(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->due_ns != b->due_ns)
		return a->due_ns < b->due_ns;
	return seq_before(a->seq, b->seq);
}

struct loop *loop_create(size_t timer_hint)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cap_timers = timer_hint ? timer_hint : 16;
	l->heap = malloc(l->cap_timers * sizeof(*l->heap));
	if (!l->heap)
		goto out_free_loop;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto out_free_heap;
	return l;

out_free_heap:
	free(l->heap);
out_free_loop:
	free(l);
	return NULL;
}

void loop_destroy(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l->aside);
	free(l->heap);
	free(l);
}

static int ctl(struct loop *l, int op, int fd, uint32_t events, uint64_t token)
{
	struct epoll_event ev = {.events = events, .data.u64 = token};

	return epoll_ctl(l->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, uint64_t token)
{
	return ctl(l, EPOLL_CTL_ADD, fd, events, token);
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events, uint64_t token)
{
	return ctl(l, EPOLL_CTL_MOD, fd, events, token);
}

int loop_del_fd(struct loop *l, int fd)
{
	return ctl(l, EPOLL_CTL_DEL, fd, 0, 0);
}

/* Inserts an entry keeping its sequence number; the caller made room. */
static void heap_insert(struct loop *l, struct loop_timer t)
{
	size_t i = l->n_timers++;

	/* Sift up. */
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_less(&t, &l->heap[parent]))
			break;
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = t;
}

int loop_add_timer(struct loop *l, int64_t due_ns, uint32_t token)
{
	struct loop_timer t = {
		.due_ns = due_ns, .token = token, .seq = l->next_seq++};

	/* Room for the timers loop_run_timers has set aside too, so putting
	 * them back never allocates. */
	if (l->n_timers + l->n_aside == l->cap_timers) {
		size_t cap = l->cap_timers * 2;
		struct loop_timer *h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->cap_timers = cap;
	}
	heap_insert(l, t);
	return 0;
}

size_t loop_timer_count(const struct loop *l)
{
	return l->n_timers;
}

int64_t loop_next_due(const struct loop *l)
{
	return l->n_timers ? l->heap[0].due_ns : INT64_MAX;
}

static void heap_pop(struct loop *l)
{
	struct loop_timer last = l->heap[--l->n_timers];
	size_t i = 0, n = l->n_timers;

	if (n == 0)
		return;
	/* Sift the last entry down from the root. */
	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n &&
		    timer_less(&l->heap[child + 1], &l->heap[child]))
			child++;
		if (!timer_less(&l->heap[child], &last))
			break;
		l->heap[i] = l->heap[child];
		i = child;
	}
	l->heap[i] = last;
}

size_t loop_run_timers(struct loop *l, int64_t now_ns, loop_timer_fn fn,
		       void *ctx)
{
	uint32_t batch_end = l->next_seq;
	size_t fired = 0;

	while (l->n_timers > 0 && l->heap[0].due_ns <= now_ns) {
		struct loop_timer top = l->heap[0];

		heap_pop(l);
		if (seq_before(top.seq, batch_end)) {
			fn(ctx, top.token, top.due_ns);
			fired++;
			continue;
		}
		/* Added by fn and already due: set it aside for the next
		 * call, so the older timers behind it still fire now. */
		if (l->n_aside == l->cap_aside) {
			size_t cap = l->cap_aside ? l->cap_aside * 2 : 8;
			struct loop_timer *p =
				realloc(l->aside, cap * sizeof(*p));

			if (!p) {
				/* Put it back and stop: the rest fire in the
				 * next call, late but not lost. */
				heap_insert(l, top);
				break;
			}
			l->aside = p;
			l->cap_aside = cap;
		}
		l->aside[l->n_aside++] = top;
	}
	/* loop_add_timer kept room for these in the heap. */
	for (size_t i = 0; i < l->n_aside; i++)
		heap_insert(l, l->aside[i]);
	l->n_aside = 0;
	return fired;
}

static int wait_events(struct loop *l, int64_t timeout_ns)
{
	int n;

	if (!l->no_pwait2) {
		struct timespec ts = {.tv_sec = timeout_ns / 1000000000LL,
				      .tv_nsec = timeout_ns % 1000000000LL};

		n = epoll_pwait2(l->epfd, l->events, LOOP_EVENTS_MAX,
				 timeout_ns < 0 ? NULL : &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		l->no_pwait2 = true;
	}
	if (timeout_ns < 0)
		return epoll_wait(l->epfd, l->events, LOOP_EVENTS_MAX, -1);
	/* Round up: waking early would only make the caller poll again. */
	int64_t ms = (timeout_ns + 999999) / 1000000;

	return epoll_wait(l->epfd, l->events, LOOP_EVENTS_MAX,
			  ms > INT32_MAX ? INT32_MAX : (int)ms);
}

int loop_wait(struct loop *l, int64_t timeout_ns)
{
	int n = wait_events(l, timeout_ns);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n;
}

void loop_dispatch(struct loop *l, int n, loop_io_fn fn, void *ctx)
{
	for (int i = 0; i < n && i < LOOP_EVENTS_MAX; i++)
		fn(ctx, l->events[i].data.u64, l->events[i].events);
}

int loop_poll(struct loop *l, int64_t timeout_ns, loop_io_fn fn, void *ctx)
{
	int n = loop_wait(l, timeout_ns);

	if (n > 0)
		loop_dispatch(l, n, fn, ctx);
	return n;
}
