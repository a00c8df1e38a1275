/*
 * ring: the single-producer, single-consumer event ring behind every lane.
 *
 * The producer owns head and the consumer owns tail; each publishes its
 * index with a release store and reads the other's with an acquire load, so
 * a slot's bytes are visible before the index that covers them.  There are
 * no locks and no pointers, which is what lets a ring live in a shared
 * mapping and be written by a worker process.
 *
 * A full ring makes the producer wait with sched_yield() rather than drop
 * the event: a lost segment would make the timeline lie, while a short
 * stall in a producer that outruns the collector only shows up as
 * full_waits, which the benchmark reports.
 */
#include "ring.h"

#include <sched.h>
#include <string.h>

size_t ring_size_bytes(uint64_t capacity)
{
	return sizeof(struct ring) + capacity * sizeof(struct rec_event);
}

struct ring *ring_init(void *mem, uint64_t capacity)
{
	struct ring *r = mem;

	/* Only the header: the slots' pages stay untouched until used. */
	memset(r, 0, sizeof(*r));
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->full_waits, 0);
	r->capacity = capacity;
	return r;
}

static inline void ring_store(struct ring *r, uint64_t head,
			      const struct rec_event *ev)
{
	r->slots[head & (r->capacity - 1)] = *ev;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

/* True when the producer must wait: the ring is full as far as it knows,
 * and still full when it looks at the consumer's tail again.  The tail is
 * read only when the last one it saw says full, so a consumer draining
 * the ring at the same time does not pull the tail's cache line away from
 * the producer on every event.  (A tail seen earlier is never ahead of the
 * real one, so a new producer of a lane starts safe.) */
static inline bool ring_full(struct ring *r, uint64_t head)
{
	if (head - r->tail_seen < r->capacity)
		return false;
	r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
	return head - r->tail_seen >= r->capacity;
}

void ring_push(struct ring *r, const struct rec_event *ev)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (ring_full(r, head)) {
		atomic_fetch_add_explicit(&r->full_waits, 1,
					  memory_order_relaxed);
		do
			sched_yield();
		while (ring_full(r, head));
	}
	ring_store(r, head, ev);
}

bool ring_try_push(struct ring *r, const struct rec_event *ev)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (ring_full(r, head))
		return false;
	ring_store(r, head, ev);
	return true;
}

size_t ring_pop(struct ring *r, struct rec_event *out, size_t max)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t avail = head - tail;
	size_t n = avail < max ? (size_t)avail : max;

	for (size_t i = 0; i < n; i++)
		out[i] = r->slots[(tail + i) & (r->capacity - 1)];
	if (n)
		atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}
