/*
 * test_ring: the single-producer, single-consumer ring.
 *
 * Order and completeness are checked with sequence numbers carried in the
 * events, across wrap-around and with a real producer thread racing the
 * consumer.  The full-ring wait is observed through full_waits, which the
 * producer raises before it yields: the test waits for that, not for time.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ring.h"

static struct ring *ring_new(uint64_t capacity)
{
	size_t size = ring_size_bytes(capacity);
	void *mem = aligned_alloc(64, (size + 63) / 64 * 64);

	assert_non_null(mem);
	return ring_init(mem, capacity);
}

static struct rec_event seq_event(uint64_t seq)
{
	struct rec_event ev = {.t0_ns = (int64_t)seq,
			       .t1_ns = (int64_t)seq * 3,
			       .task = (uint32_t)(seq * 7),
			       .lane = 1,
			       .note = (uint32_t)seq,
			       .type = 2,
			       .state = (uint8_t)(seq % 14),
			       .extra = (uint16_t)seq};
	return ev;
}

static void assert_seq_event(const struct rec_event *ev, uint64_t seq)
{
	struct rec_event want = seq_event(seq);

	assert_int_equal(ev->t0_ns, want.t0_ns);
	assert_int_equal(ev->t1_ns, want.t1_ns);
	assert_int_equal(ev->task, want.task);
	assert_int_equal(ev->note, want.note);
	assert_int_equal(ev->state, want.state);
	assert_int_equal(ev->extra, want.extra);
}

static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct rec_event), 32);
	assert_int_equal(offsetof(struct ring, head) % 64, 0);
	assert_int_equal(offsetof(struct ring, tail) % 64, 0);
	assert_true(offsetof(struct ring, tail) - offsetof(struct ring, head) >=
		    64);
	assert_int_equal(offsetof(struct ring, slots) % 64, 0);
	assert_int_equal(ring_size_bytes(8), sizeof(struct ring) + 8 * 32);
}

/* Pushes and pops in batches so the indices wrap many times. */
static const struct {
	uint64_t capacity;
	size_t push_batch;
	size_t pop_max;
} wrap_cases[] = {
	{2, 1, 1}, {2, 2, 1}, {8, 5, 3}, {8, 8, 8}, {16, 7, 16}, {64, 63, 10},
};

static void test_wrap_around(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(wrap_cases) / sizeof(wrap_cases[0]);
	     c++) {
		struct ring *r = ring_new(wrap_cases[c].capacity);
		struct rec_event out[64];
		uint64_t pushed = 0, popped = 0;

		while (popped < 1000) {
			size_t n;

			for (size_t i = 0; i < wrap_cases[c].push_batch; i++) {
				struct rec_event ev = seq_event(pushed);

				if (!ring_try_push(r, &ev))
					break;
				pushed++;
			}
			assert_true(pushed - popped <= wrap_cases[c].capacity);
			n = ring_pop(r, out, wrap_cases[c].pop_max);
			assert_true(n <= wrap_cases[c].pop_max);
			for (size_t i = 0; i < n; i++)
				assert_seq_event(&out[i], popped + i);
			popped += n;
		}
		assert_true(atomic_load(&r->head) > r->capacity * 10);
		assert_int_equal(atomic_load(&r->full_waits), 0);
		free(r);
	}
}

static void test_try_push_full(void **state)
{
	struct ring *r = ring_new(4);
	struct rec_event ev = seq_event(0), out[8];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_true(ring_try_push(r, &ev));
	assert_false(ring_try_push(r, &ev));
	assert_int_equal(atomic_load(&r->full_waits), 0);
	assert_int_equal(ring_pop(r, out, 8), 4);
	assert_int_equal(ring_pop(r, out, 8), 0);
	assert_true(ring_try_push(r, &ev));
	free(r);
}

struct producer_arg {
	struct ring *r;
	uint64_t count;
};

static void *producer_main(void *p)
{
	struct producer_arg *a = p;

	for (uint64_t i = 0; i < a->count; i++) {
		struct rec_event ev = seq_event(i);

		ring_push(a->r, &ev);
	}
	return NULL;
}

/* A real producer thread against this consumer: a small ring fills
 * constantly, so both the wait and the wrap are exercised. */
static void test_threads_nothing_lost(void **state)
{
	static const uint64_t capacities[] = {4, 64, 4096};

	(void)state;
	for (size_t c = 0; c < 3; c++) {
		struct producer_arg a = {ring_new(capacities[c]), 300000};
		struct rec_event out[128];
		pthread_t th;
		uint64_t next = 0;

		assert_int_equal(pthread_create(&th, NULL, producer_main, &a),
				 0);
		while (next < a.count) {
			size_t n = ring_pop(a.r, out, 128);

			for (size_t i = 0; i < n; i++)
				assert_seq_event(&out[i], next + i);
			next += n;
			if (!n)
				sched_yield();
		}
		pthread_join(th, NULL);
		assert_int_equal(ring_pop(a.r, out, 128), 0);
		assert_int_equal(atomic_load(&a.r->head), a.count);
		assert_int_equal(atomic_load(&a.r->tail), a.count);
		free(a.r);
	}
}

/* The producer of a full ring waits, counts the wait, and delivers its
 * event once the consumer makes room. */
static void *push_one_main(void *p)
{
	struct producer_arg *a = p;
	struct rec_event ev = seq_event(a->count);

	ring_push(a->r, &ev);
	return NULL;
}

static void test_full_wait(void **state)
{
	struct producer_arg a = {ring_new(8), 8};
	struct rec_event out[16];
	pthread_t th;

	(void)state;
	for (uint64_t i = 0; i < 8; i++) {
		struct rec_event ev = seq_event(i);

		assert_true(ring_try_push(a.r, &ev));
	}
	assert_int_equal(pthread_create(&th, NULL, push_one_main, &a), 0);
	/* The producer says it found the ring full before it yields. */
	while (atomic_load(&a.r->full_waits) == 0)
		sched_yield();
	assert_int_equal(atomic_load(&a.r->head), 8);
	assert_int_equal(ring_pop(a.r, out, 1), 1);
	assert_seq_event(&out[0], 0);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&a.r->full_waits), 1);
	assert_int_equal(ring_pop(a.r, out, 16), 8);
	for (uint64_t i = 0; i < 8; i++)
		assert_seq_event(&out[i], i + 1);
	free(a.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_try_push_full),
		cmocka_unit_test(test_threads_nothing_lost),
		cmocka_unit_test(test_full_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
