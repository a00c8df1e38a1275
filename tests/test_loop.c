/*
 * test_loop: the event loop's timer heap and poll.  Timers fire in due
 * order, equal due times in the order they were added, a timer added by a
 * callback waits for the next call even when already due, and a
 * descriptor's token comes back from loop_poll.  No real time passes: the
 * loop never reads a clock, so the tests hand it the times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

struct fired {
	uint32_t tokens[4096];
	int64_t dues[4096];
	size_t n;
	struct loop *loop;
	int64_t add_due; /* on_fire_add: the due time of the timer it adds */
};

static void on_fire(void *ctx, uint32_t token, int64_t due_ns)
{
	struct fired *f = ctx;

	assert_true(f->n < 4096);
	f->tokens[f->n] = token;
	f->dues[f->n] = due_ns;
	f->n++;
}

/* Fires and, for token 0, adds a timer due at f->add_due. */
static void on_fire_add(void *ctx, uint32_t token, int64_t due_ns)
{
	struct fired *f = ctx;

	on_fire(ctx, token, due_ns);
	if (token == 0)
		assert_int_equal(loop_add_timer(f->loop, f->add_due, 99), 0);
}

struct order_case {
	const char *name;
	size_t n;
	int64_t modulo; /* due = pseudo-random % modulo: small means ties */
};

static const struct order_case order_cases[] = {
	{"distinct", 1000, 1000000007},
	{"many ties", 1000, 7},
	{"all equal", 300, 1},
	{"one", 1, 10},
};

/* Due order, and insertion order among equal due times, whatever the
 * order they were added in; only the due ones fire. */
static void test_order(void **state)
{
	const struct order_case *c = *state;
	struct loop *l = loop_create(4);
	struct fired *f = calloc(1, sizeof(*f));
	uint64_t x = 88172645463325252ull;
	int64_t last = INT64_MAX;

	assert_non_null(l);
	assert_non_null(f);
	assert_int_equal(loop_next_due(l), INT64_MAX);
	for (size_t i = 0; i < c->n; i++) {
		int64_t due;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		due = (int64_t)(x % (uint64_t)c->modulo) + 1;
		if (due < last)
			last = due;
		assert_int_equal(loop_add_timer(l, due, (uint32_t)i), 0);
	}
	assert_int_equal(loop_timer_count(l), c->n);
	assert_int_equal(loop_next_due(l), last);
	/* Nothing is due before the first. */
	assert_int_equal(loop_run_timers(l, last - 1, on_fire, f), 0);
	assert_int_equal(loop_run_timers(l, INT64_MAX, on_fire, f), c->n);
	assert_int_equal(loop_timer_count(l), 0);
	for (size_t i = 1; i < f->n; i++) {
		assert_true(f->dues[i - 1] <= f->dues[i]);
		if (f->dues[i - 1] == f->dues[i])
			assert_true(f->tokens[i - 1] < f->tokens[i]);
	}
	free(f);
	loop_destroy(l);
}

/* Only timers due at or before now fire; the rest stay. */
static void test_partial(void **state)
{
	struct loop *l = loop_create(0);
	struct fired f = {.n = 0};

	(void)state;
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(loop_add_timer(l, 100 * (i + 1), i), 0);
	assert_int_equal(loop_run_timers(l, 550, on_fire, &f), 5);
	assert_int_equal(f.tokens[4], 4);
	assert_int_equal(loop_next_due(l), 600);
	assert_int_equal(loop_timer_count(l), 5);
	loop_destroy(l);
}

/* A timer added by a callback fires in the next call, even when already
 * due, as asyncio runs what a callback schedules in the next iteration. */
static void test_added_during_fire(void **state)
{
	struct loop *l = loop_create(0);
	struct fired f = {.loop = l, .add_due = 5};

	(void)state;
	assert_int_equal(loop_add_timer(l, 10, 0), 0);
	assert_int_equal(loop_add_timer(l, 20, 1), 0);
	assert_int_equal(loop_run_timers(l, 100, on_fire_add, &f), 2);
	assert_int_equal(f.tokens[0], 0);
	assert_int_equal(f.tokens[1], 1);
	assert_int_equal(loop_timer_count(l), 1);
	assert_int_equal(loop_run_timers(l, 100, on_fire_add, &f), 1);
	assert_int_equal(f.tokens[2], 99);
	loop_destroy(l);
}

/* Token 0 adds a timer already due; token 1 then adds two more, which
 * fills the heap past the room it had when the first was set aside. */
static void on_fire_fill(void *ctx, uint32_t token, int64_t due_ns)
{
	struct fired *f = ctx;

	on_fire(ctx, token, due_ns);
	if (token == 0)
		assert_int_equal(loop_add_timer(f->loop, 5, 99), 0);
	if (token == 1) {
		assert_int_equal(loop_add_timer(f->loop, 1000, 100), 0);
		assert_int_equal(loop_add_timer(f->loop, 1000, 101), 0);
	}
}

static void test_set_aside_room(void **state)
{
	struct loop *l = loop_create(2);
	struct fired f = {.loop = l};

	(void)state;
	assert_int_equal(loop_add_timer(l, 10, 0), 0);
	assert_int_equal(loop_add_timer(l, 20, 1), 0);
	assert_int_equal(loop_run_timers(l, 100, on_fire_fill, &f), 2);
	assert_int_equal(loop_timer_count(l), 3);
	assert_int_equal(loop_next_due(l), 5);
	assert_int_equal(loop_run_timers(l, 100, on_fire_fill, &f), 1);
	assert_int_equal(f.tokens[2], 99);
	assert_int_equal(loop_run_timers(l, 1000, on_fire_fill, &f), 2);
	assert_int_equal(f.tokens[3], 100);
	assert_int_equal(f.tokens[4], 101);
	loop_destroy(l);
}

struct polled {
	uint64_t token;
	uint32_t events;
	int n;
};

static void on_io(void *ctx, uint64_t token, uint32_t events)
{
	struct polled *p = ctx;

	p->token = token;
	p->events = events;
	p->n++;
}

/* An idle descriptor times out; a written eventfd comes back with its
 * token; a removed one is quiet again. */
static void test_poll(void **state)
{
	struct loop *l = loop_create(0);
	struct polled p = {0};
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	(void)state;
	assert_true(efd >= 0);
	assert_int_equal(loop_add_fd(l, efd, EPOLLIN, 0xabcdef123ull), 0);
	assert_int_equal(loop_poll(l, 0, on_io, &p), 0);
	assert_int_equal(loop_poll(l, 1000000, on_io, &p), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(loop_poll(l, -1, on_io, &p), 1);
	assert_int_equal(p.n, 1);
	assert_true(p.token == 0xabcdef123ull);
	assert_true(p.events & EPOLLIN);
	assert_int_equal(loop_mod_fd(l, efd, EPOLLOUT, 7), 0);
	assert_int_equal(loop_poll(l, 0, on_io, &p), 1);
	assert_true(p.token == 7);
	assert_int_equal(loop_del_fd(l, efd), 0);
	assert_int_equal(loop_poll(l, 0, on_io, &p), 0);
	assert_true(loop_del_fd(l, efd) < 0);
	close(efd);
	loop_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_order, (void *)&order_cases[0]),
		cmocka_unit_test_prestate(test_order, (void *)&order_cases[1]),
		cmocka_unit_test_prestate(test_order, (void *)&order_cases[2]),
		cmocka_unit_test_prestate(test_order, (void *)&order_cases[3]),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_added_during_fire),
		cmocka_unit_test(test_set_aside_room),
		cmocka_unit_test(test_poll),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
