/*
 * bench_net: net steps at scale, through the latency peer.
 *
 *   asyncio   fetch with io=net (the form's default): 10,000 requests x
 *             500 ms and 100,000 x 1 s, all at once; the run's wall time
 *             against the one wait it should take, the median request as
 *             drawn (its io segment) against its duration, and how long
 *             the requests waited for their connections (connect)
 *   threads   fetch with io=net, 10,000 threads x 1 s: each thread opens a
 *             connection of its own, as the requests library does, so
 *             this is the peer's capacity for connections arriving at
 *             once (its accepting threads, its timer heap)
 *   peer      the peer alone: one-request connections answered per second
 *             to two client threads asking for no delay, and requests
 *             answered per second on shared connections
 *
 * Prints markdown table rows: | measure | value | target |, and the load
 * average it started under: the machine may be shared.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "util.h"

struct kv {
	const char *key;
	const char *value;
};

/* Runs fetch under model with sets into t (trace_init()ed); every task
 * must end ok.  Returns 0 or -1 with a message on stderr. */
static int bench_run(const char *model, const struct kv *sets, struct trace *t)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	size_t ok = 0;
	int rc = -1;

	if (!spec || spec_init(spec, "fetch", model, &err) < 0)
		goto out;
	for (; sets->key; sets++)
		if (spec_set(spec, sets->key, sets->value, &err) < 0)
			goto out;
	if (spec_validate(spec, &err) < 0 ||
	    run_execute(spec, NULL, t, &err) < 0)
		goto out;
	for (size_t i = 0; i < t->n_tasks; i++)
		ok += t->tasks[i].status == TASK_OK;
	if (t->status != RUN_DONE || ok != t->n_tasks) {
		snprintf(err.message, sizeof(err.message),
			 "status %s, %zu of %zu tasks ok: %.150s",
			 run_status_name((enum run_status)t->status), ok,
			 t->n_tasks, t->message);
		goto out;
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_net: %s %s\n", err.field, err.message);
	free(spec);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median length of the segments in state (0 when there are none);
 * *count says how many there were. */
static int64_t median_ns(const struct trace *t, int state, size_t *count)
{
	int64_t *d = malloc((t->n_segments + 1) * sizeof(*d));
	size_t n = 0;
	int64_t m;

	if (!d)
		return 0;
	for (size_t i = 0; i < t->n_segments; i++)
		if (t->segments[i].state == state)
			d[n++] = t->segments[i].t1_ns - t->segments[i].t0_ns;
	qsort(d, n, sizeof(*d), cmp_i64);
	m = n ? d[n / 2] : 0;
	free(d);
	*count = n;
	return m;
}

static int bench_asyncio(const char *tasks, const char *label,
			 const char *duration, double wait_s, double target)
{
	struct kv sets[] = {{"tasks", tasks},
			    {"duration", duration},
			    {"io", "net"},
			    {NULL, NULL}};
	struct trace t;
	size_t n_io, n_conn;
	int64_t io, conn;
	double wall;

	trace_init(&t);
	if (bench_run("asyncio", sets, &t) < 0)
		return -1;
	wall = (double)t.summary.wall_ns / NS_PER_S;
	io = median_ns(&t, ST_IO, &n_io);
	conn = median_ns(&t, ST_CONNECT, &n_conn);
	printf("| fetch, asyncio, io=net, %s x %s: wall | %.3f s (%.2fx "
	       "the wait) | <= %.2fx |\n",
	       label, duration, wall, wall / wait_s, target);
	printf("| fetch, asyncio, io=net, %s x %s: median request drawn "
	       "(io) | %.1f ms (%+.1f%%) | within 5%% |\n",
	       label, duration, (double)io / NS_PER_MS,
	       100.0 * ((double)io / NS_PER_S - wait_s) / wait_s);
	printf("| fetch, asyncio, io=net, %s x %s: waited for a connection "
	       "| %zu requests, median %.1f ms; max loop lag %.1f ms | - |\n",
	       label, duration, n_conn, (double)conn / NS_PER_MS,
	       (double)t.summary.max_loop_lag_ns / NS_PER_MS);
	trace_free(&t);
	return 0;
}

/* Threads at once that this process's descriptors allow: each request
 * holds two here (its socket and the peer's end), and the peer refuses
 * clients past half of what the limit leaves (peer.c), so 10,000 need a
 * limit above 20,064; a machine that allows fewer runs fewer, in
 * hundreds, and the row says how many. */
static long threads_allowed(void)
{
	struct rlimit rl;
	long n = 10000;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && (long)(rl.rlim_cur - 64) / 2 < n)
		n = (long)(rl.rlim_cur - 64) / 2 / 100 * 100;
	return n;
}

static int bench_threads(void)
{
	long n = threads_allowed();
	char tasks[24], label[48];
	struct kv sets[] = {{"tasks", tasks},
			    {"duration", "1s"},
			    {"io", "net"},
			    {NULL, NULL}};
	struct trace t;
	size_t n_io, n_conn;
	int64_t io, conn;

	snprintf(tasks, sizeof(tasks), "%ld", n);
	snprintf(label, sizeof(label), "%ld,%03ld", n / 1000, n % 1000);
	trace_init(&t);
	if (bench_run("threads", sets, &t) < 0)
		return -1;
	io = median_ns(&t, ST_IO, &n_io);
	conn = median_ns(&t, ST_CONNECT, &n_conn);
	printf("| fetch, threads, io=net, %s x 1 s (a connection per "
	       "request%s): wall | %.3f s | - |\n",
	       label,
	       n < 10000 ? "; as many as this machine's open-file limit "
			   "allows"
			 : "",
	       (double)t.summary.wall_ns / NS_PER_S);
	printf("| fetch, threads, io=net, %s x 1 s: median connect / "
	       "median request drawn | %.2f ms / %.1f ms | - |\n",
	       label, (double)conn / NS_PER_MS, (double)io / NS_PER_MS);
	trace_free(&t);
	return 0;
}

struct client_arg {
	uint16_t port;
	int64_t until_ns;
	long done;
	int err;
};

static void *client_loop(void *p)
{
	struct client_arg *c = p;

	while (util_mono_ns() < c->until_ns) {
		int rc = peer_request(c->port, 0, 0, 0);

		if (rc < 0) {
			c->err = rc;
			break;
		}
		c->done++;
	}
	return NULL;
}

/* One-request connections per second, two client threads. */
static int bench_peer_connections(struct peer *p)
{
	struct client_arg args[2];
	pthread_t th[2];
	int64_t t0 = util_mono_ns();
	long done = 0;

	for (int i = 0; i < 2; i++) {
		args[i] = (struct client_arg){.port = peer_port(p),
					      .until_ns = t0 + NS_PER_S / 2};
		if (pthread_create(&th[i], NULL, client_loop, &args[i]))
			return -1;
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		if (args[i].err) {
			fprintf(stderr, "bench_net: peer: %s\n",
				strerror(-args[i].err));
			return -1;
		}
		done += args[i].done;
	}
	printf("| peer: one-request connections answered per second (%u "
	       "peer threads, 2 client threads) | %.0f | - |\n",
	       peer_threads(p),
	       (double)done / ((double)(util_mono_ns() - t0) / NS_PER_S));
	return 0;
}

/* Requests per second on one shared connection, 100 in flight. */
static int bench_peer_shared(struct peer *p)
{
	enum { ROUNDS = 2000, IN_FLIGHT = 100 };
	int fd = peer_open(peer_port(p), INT64_MAX, NULL);
	char line[PEER_LINE_MAX * IN_FLIGHT], buf[65536];
	int64_t t0 = util_mono_ns();
	long answered = 0;

	if (fd < 0)
		return -1;
	for (int r = 0; r < ROUNDS; r++) {
		size_t len = 0;
		int lines = 0;

		for (int i = 0; i < IN_FLIGHT; i++)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						"@%d 0 0\n", i);
		if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
			break;
		/* Each answer is "@key 0\n": count the lines. */
		while (lines < IN_FLIGHT) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0)
				break;
			for (ssize_t k = 0; k < n; k++)
				lines += buf[k] == '\n';
		}
		answered += lines;
	}
	close(fd);
	printf("| peer: requests answered per second on one shared "
	       "connection (100 in flight) | %.0f | - |\n",
	       (double)answered / ((double)(util_mono_ns() - t0) / NS_PER_S));
	return 0;
}

int main(void)
{
	double load[1] = {0};
	struct peer *p;
	int rc = 0;

	getloadavg(load, 1);
	printf("\n| measure | value | target |\n| --- | --- | --- |\n");
	printf("| machine load average (1 min) when bench_net started | %.2f "
	       "| - |\n",
	       load[0]);
	rc |= bench_asyncio("10000", "10,000", "500ms", 0.5, 1.15);
	rc |= bench_asyncio("100000", "100,000", "1s", 1.0, 1.5);
	rc |= bench_threads();
	p = peer_start();
	if (!p)
		return 1;
	rc |= bench_peer_connections(p);
	rc |= bench_peer_shared(p);
	peer_stop(p);
	return rc ? 1 : 0;
}
