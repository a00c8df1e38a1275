/*
 * test_peer: the latency peer and its blocking client.
 *
 * The one timing claim here is a lower bound the protocol guarantees: an
 * answer never starts before the asked delay has passed since the request
 * was sent (the peer counts from when it read the line, which is later).
 * Everything else is structure: replies have exactly the asked size, many
 * requests wait at once and all are answered, a short delay asked after a
 * long one is answered first, malformed lines get "ERR\n", a due time
 * carried in the line is kept, and many requests on one connection are
 * each answered, in due order, with the connection left open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "peer.h"
#include "util.h"

static int setup(void **state)
{
	struct peer *p = peer_start();

	if (!p)
		return -1;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	peer_stop(*state);
	return 0;
}

static int connect_peer(uint16_t port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)),
			 0);
	return fd;
}

static void send_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		text += n;
		len -= (size_t)n;
	}
}

/* Reads until EOF into a new buffer; *first_ns is when the first byte came
 * (0 when none did). */
static char *read_all(int fd, size_t *len, int64_t *first_ns)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap);

	assert_non_null(buf);
	*first_ns = 0;
	for (;;) {
		if (used == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ssize_t n = recv(fd, buf + used, cap - used, 0);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		if (!*first_ns)
			*first_ns = util_mono_ns();
		used += (size_t)n;
	}
	*len = used;
	return buf;
}

/* ---- the answer comes after the delay, with the asked size ------------- */

struct delay_case {
	int64_t delay_us;
	int64_t reply_bytes;
};

static const struct delay_case delay_cases[] = {
	{0, 0},	      {0, 1},	     {1000, 10},     {20000, 0},
	{20000, 100}, {50000, 4096}, {5000, 300000}, /* several sends */
};

static void test_answers_after_delay(void **state)
{
	uint16_t port = peer_port(*state);

	for (size_t i = 0; i < sizeof(delay_cases) / sizeof(delay_cases[0]);
	     i++) {
		const struct delay_case *c = &delay_cases[i];
		char line[64];
		int len = snprintf(line, sizeof(line), "%lld %lld\n",
				   (long long)c->delay_us,
				   (long long)c->reply_bytes);
		int fd = connect_peer(port);
		int64_t sent_ns, first_ns;
		size_t got;

		sent_ns = util_mono_ns();
		send_all(fd, line, (size_t)len);
		char *reply = read_all(fd, &got, &first_ns);

		close(fd);
		assert_int_equal(got, c->reply_bytes + 1);
		assert_true(first_ns - sent_ns >= c->delay_us * NS_PER_US);
		for (int64_t k = 0; k < c->reply_bytes; k++)
			assert_int_equal(reply[k], 'x');
		assert_int_equal(reply[got - 1], '\n');
		free(reply);
	}
}

static void test_client_waits_for_delay(void **state)
{
	uint16_t port = peer_port(*state);
	static const int64_t delays_ns[] = {0, 1, 999, 15 * NS_PER_MS,
					    30 * NS_PER_MS};

	for (size_t i = 0; i < sizeof(delays_ns) / sizeof(delays_ns[0]); i++) {
		int64_t t0 = util_mono_ns();

		assert_int_equal(peer_request(port, delays_ns[i], 64, 0), 0);
		/* The client rounds up to whole microseconds, never down. */
		assert_true(util_mono_ns() - t0 >= delays_ns[i]);
	}
	assert_int_equal(peer_request(port, 0, 1 << 20, 0), 0);
}

/* ---- many at once -------------------------------------------------------- */

#define CONCURRENT 200

static void test_many_concurrent(void **state)
{
	uint16_t port = peer_port(*state);
	static const char line[] = "30000 16\n";
	struct pollfd pfds[CONCURRENT];
	int64_t sent_ns[CONCURRENT];
	size_t got[CONCURRENT] = {0};
	int64_t first_ns[CONCURRENT] = {0};
	int open = 0;

	/* Every request is sent before any reply is read: 200 requests are
	 * waiting in the peer at once. */
	for (int i = 0; i < CONCURRENT; i++) {
		pfds[i].fd = connect_peer(port);
		pfds[i].events = POLLIN;
		sent_ns[i] = util_mono_ns();
		send_all(pfds[i].fd, line, sizeof(line) - 1);
		open++;
	}
	while (open) {
		int n = poll(pfds, CONCURRENT, -1);

		assert_true(n > 0 || (n < 0 && errno == EINTR));
		for (int i = 0; i < CONCURRENT && n > 0; i++) {
			char buf[64];

			if (pfds[i].fd < 0 || !pfds[i].revents)
				continue;
			ssize_t r = recv(pfds[i].fd, buf, sizeof(buf), 0);

			assert_true(r >= 0);
			if (r > 0) {
				if (!first_ns[i])
					first_ns[i] = util_mono_ns();
				got[i] += (size_t)r;
				continue;
			}
			close(pfds[i].fd);
			pfds[i].fd = -1;
			open--;
		}
	}
	for (int i = 0; i < CONCURRENT; i++) {
		assert_int_equal(got[i], 17);
		assert_true(first_ns[i] - sent_ns[i] >= 30 * NS_PER_MS);
	}
}

/* A later, shorter request overtakes an earlier, longer one: replies are
 * ordered by when they are due, not by arrival. */
static void test_due_order(void **state)
{
	uint16_t port = peer_port(*state);
	int slow = connect_peer(port), fast = connect_peer(port);
	struct pollfd pfds[2] = {{.fd = slow, .events = POLLIN},
				 {.fd = fast, .events = POLLIN}};

	send_all(slow, "5000000 0\n", 10);
	send_all(fast, "10000 0\n", 8);
	assert_int_equal(poll(pfds, 2, -1), 1);
	assert_true(pfds[1].revents & POLLIN);
	assert_false(pfds[0].revents & POLLIN);
	close(slow); /* cancels it: the peer drops the waiting request */
	close(fast);
}

/* ---- the due time carried in the request ------------------------------- */

/* A line that carries its due time is answered at that time, not delay_us
 * after the peer read it: a request the peer read late is not answered
 * late.  One whose due time has passed is answered at once. */
static void test_due_carried(void **state)
{
	uint16_t port = peer_port(*state);
	char line[PEER_LINE_MAX];
	int64_t due = util_mono_ns() + 20 * NS_PER_MS, first_ns;
	size_t got;
	int fd = connect_peer(port);
	int len = snprintf(line, sizeof(line), "0 5 %lld\n", (long long)due);

	send_all(fd, line, (size_t)len);
	char *reply = read_all(fd, &got, &first_ns);

	close(fd);
	assert_int_equal(got, 6);
	assert_memory_equal(reply, "xxxxx\n", 6);
	assert_true(first_ns >= due);
	free(reply);

	fd = connect_peer(port);
	len = snprintf(line, sizeof(line), "3600000000 0 %lld\n",
		       (long long)(util_mono_ns() - NS_PER_S));
	send_all(fd, line, (size_t)len);
	reply = read_all(fd, &got, &first_ns);
	close(fd);
	assert_int_equal(got, 1);
	free(reply);
}

/* ---- many requests on one connection ----------------------------------- */

/* Reads one "@key bytes\n" reply and its body; returns the key and sets
 * *bytes and *first_ns (when the reply's first byte came). */
static uint64_t read_mux_reply(int fd, long long *bytes, int64_t *first_ns)
{
	char head[PEER_LINE_MAX];
	size_t used = 0;
	unsigned long long key;

	*first_ns = 0;
	for (;;) {
		ssize_t n = recv(fd, head + used, 1, 0);

		assert_int_equal(n, 1);
		if (!*first_ns)
			*first_ns = util_mono_ns();
		if (head[used] == '\n')
			break;
		used++;
		assert_true(used < sizeof(head) - 1);
	}
	head[used] = '\0';
	assert_int_equal(sscanf(head, "@%llu %lld", &key, bytes), 2);
	for (long long left = *bytes; left > 0;) {
		char body[4096];
		ssize_t n =
			recv(fd, body, left < 4096 ? (size_t)left : 4096, 0);

		assert_true(n > 0);
		for (ssize_t k = 0; k < n; k++)
			assert_int_equal(body[k], 'x');
		left -= n;
	}
	return key;
}

static void test_mux(void **state)
{
	uint16_t port = peer_port(*state);
	static const struct {
		uint64_t key;
		int64_t due_ms;
		long long bytes;
	} reqs[] = {{7, 30, 3}, {5, 10, 0}, {9, 20, 200000}};
	static const uint64_t order[] = {5, 9, 7};
	int64_t base = util_mono_ns();
	char lines[256];
	size_t len = 0;
	int fd = connect_peer(port);

	/* All three in one send: the peer reads several lines at once. */
	for (size_t i = 0; i < 3; i++)
		len += (size_t)snprintf(
			lines + len, sizeof(lines) - len, "@%llu %lld %lld\n",
			(unsigned long long)reqs[i].key,
			(long long)(base + reqs[i].due_ms * NS_PER_MS),
			reqs[i].bytes);
	send_all(fd, lines, len);
	for (size_t i = 0; i < 3; i++) {
		long long bytes;
		int64_t first_ns;
		uint64_t key = read_mux_reply(fd, &bytes, &first_ns);
		size_t k = 0;

		assert_int_equal(key, order[i]);
		while (reqs[k].key != key)
			k++;
		assert_int_equal(bytes, reqs[k].bytes);
		assert_true(first_ns >= base + reqs[k].due_ms * NS_PER_MS);
	}
	/* The connection stays open for more. */
	len = (size_t)snprintf(lines, sizeof(lines), "@42 %lld 2\n",
			       (long long)util_mono_ns());
	send_all(fd, lines, len);
	{
		long long bytes;
		int64_t first_ns;

		assert_int_equal(read_mux_reply(fd, &bytes, &first_ns), 42);
		assert_int_equal(bytes, 2);
	}
	/* A one-request line on a shared connection is an error. */
	send_all(fd, "10 0\n", 5);
	{
		size_t got;
		int64_t first_ns;
		char *reply = read_all(fd, &got, &first_ns);

		assert_int_equal(got, 4);
		assert_memory_equal(reply, "ERR\n", 4);
		free(reply);
	}
	close(fd);
}

/* Many connections at once, each with many requests: every reply comes,
 * whichever of the peer's threads took the connection. */
static void test_mux_many(void **state)
{
	uint16_t port = peer_port(*state);
	enum { CONNS = 16, PER_CONN = 50 };
	int fds[CONNS];

	assert_true(peer_threads(*state) >= 1);
	for (int c = 0; c < CONNS; c++) {
		char lines[PER_CONN * PEER_LINE_MAX];
		size_t len = 0;
		int64_t due = util_mono_ns() + 5 * NS_PER_MS;

		fds[c] = connect_peer(port);
		for (int i = 0; i < PER_CONN; i++)
			len += (size_t)snprintf(lines + len,
						sizeof(lines) - len,
						"@%d %lld 1\n", c * 1000 + i,
						(long long)due);
		send_all(fds[c], lines, len);
	}
	for (int c = 0; c < CONNS; c++) {
		bool seen[PER_CONN] = {false};

		for (int i = 0; i < PER_CONN; i++) {
			long long bytes;
			int64_t first_ns;
			uint64_t key =
				read_mux_reply(fds[c], &bytes, &first_ns);

			assert_true(key >= (uint64_t)c * 1000 &&
				    key < (uint64_t)c * 1000 + PER_CONN);
			assert_false(seen[key - (uint64_t)c * 1000]);
			seen[key - (uint64_t)c * 1000] = true;
			assert_int_equal(bytes, 1);
		}
		close(fds[c]);
	}
}

/* ---- malformed lines ----------------------------------------------------- */

static const char *const bad_lines[] = {
	"abc\n",
	"10\n",
	"-5 10\n",
	"10 -1\n",
	"10 10 10 10\n",
	"10 10 x\n",
	"@1 2\n",
	"@x 1 1\n",
	"@1 2 3 4\n",
	"1e3 5\n",
	" 10 5\n",
	"10  5\n",
	"10 5x\n",
	"\n",
	"99999999999999999999 1\n",
	"10 999999999999\n",
	"3600000001 0\n", /* over an hour */
	"10 67108865\n",  /* over 64 MiB */
	/* no newline within the line's limit */
	"1234567890123456789012345678901234567890123456789012345678901234567",
};

static void test_malformed(void **state)
{
	uint16_t port = peer_port(*state);

	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		int fd = connect_peer(port);
		int64_t first_ns;
		size_t got;

		send_all(fd, bad_lines[i], strlen(bad_lines[i]));
		char *reply = read_all(fd, &got, &first_ns);

		close(fd);
		if (got != 4 || memcmp(reply, "ERR\n", 4) != 0)
			print_message("line %zu: got %zu bytes\n", i, got);
		assert_int_equal(got, 4);
		assert_memory_equal(reply, "ERR\n", 4);
		free(reply);
	}
}

/* ---- the client's limits ------------------------------------------------- */

static void test_client_timeout(void **state)
{
	uint16_t port = peer_port(*state);
	int64_t t0 = util_mono_ns();

	assert_int_equal(peer_request(port, 2 * NS_PER_S, 0, 20 * NS_PER_MS),
			 -ETIMEDOUT);
	assert_true(util_mono_ns() - t0 >= 20 * NS_PER_MS);
	/* The peer is still fine afterwards. */
	assert_int_equal(peer_request(port, NS_PER_MS, 3, 0), 0);
}

static void test_client_stop(void **state)
{
	uint16_t port = peer_port(*state);
	_Atomic int stop = 1;

	assert_int_equal(peer_request_until(port, 2 * NS_PER_S, 0, 0, &stop),
			 -ECANCELED);
	atomic_store(&stop, 0);
	assert_int_equal(peer_request_until(port, NS_PER_MS, 5, 0, &stop), 0);
}

static void test_client_bad_args(void **state)
{
	uint16_t port = peer_port(*state);

	assert_int_equal(peer_request(port, -1, 0, 0), -EINVAL);
	assert_int_equal(peer_request(port, 0, -1, 0), -EINVAL);
	assert_int_equal(peer_request(port, 0, 1LL << 40, 0), -EINVAL);
}

static void test_nobody_listening(void **state)
{
	struct peer *p = peer_start();
	uint16_t port;

	(void)state;
	assert_non_null(p);
	port = peer_port(p);
	assert_true(port > 0);
	peer_stop(p);
	assert_int_equal(peer_request(port, 0, 0, NS_PER_S), -ECONNREFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answers_after_delay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_waits_for_delay,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_concurrent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_due_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_due_carried, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mux_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_stop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_bad_args, setup,
						teardown),
		cmocka_unit_test(test_nobody_listening),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
