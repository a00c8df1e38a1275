/*
 * ring: a single-producer, single-consumer ring of fixed-size events.
 *
 * One ring per lane: the lane's thread (or worker process) is the only
 * producer, the run's collector is the only consumer.  The ring is a header
 * followed by its slots in one block with no pointers, so it can live in
 * shared memory mapped by a worker process at a different address.
 * head is written only by the producer, tail only by the consumer; each sits
 * on its own cache line.  A full ring makes the producer wait (it yields)
 * rather than lose an event; ring.full_waits counts how often.
 */
#ifndef OVERLAP_RING_H
#define OVERLAP_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One recorded event: 32 bytes. */
struct rec_event {
	int64_t t0_ns;
	int64_t t1_ns;
	uint32_t task;
	uint32_t lane;
	uint32_t note;	/* object index + 1, or 0 */
	uint8_t type;	/* enum rec_event_type (trace.h) */
	uint8_t state;	/* enum seg_state or enum task_status */
	uint16_t extra; /* type-specific */
};

struct ring {
	alignas(64) _Atomic uint64_t head; /* producer: next slot to write */
	uint64_t tail_seen; /* producer only: the tail it last read */
	alignas(64) _Atomic uint64_t tail; /* consumer: next slot to read */
	alignas(64) uint64_t capacity;	   /* power of two, set at init */
	_Atomic uint64_t full_waits; /* producer: times it found it full */
	alignas(64) struct rec_event slots[];
};

/* Bytes a ring of capacity events needs (capacity: power of two). */
size_t ring_size_bytes(uint64_t capacity);
/* Initialises a ring in mem (zeroed or not) of ring_size_bytes(capacity). */
struct ring *ring_init(void *mem, uint64_t capacity);

/* Producer: appends ev; waits (sched_yield) while the ring is full. */
void ring_push(struct ring *r, const struct rec_event *ev);
/* Producer: appends ev if there is room; false when full. */
bool ring_try_push(struct ring *r, const struct rec_event *ev);
/* Consumer: copies up to max events into out; returns how many. */
size_t ring_pop(struct ring *r, struct rec_event *out, size_t max);

#endif
