/*
 * bench_server: what the server costs, measured against the real binary.
 *
 *   events/s     one SSE viewer reads a finished run of 1,000,000 events
 *                (the data directory is written beforehand in the store's
 *                own format); first read (from disk) and cached
 *   first event  a run's first event, from the moment the runner writes it
 *                to the moment a connected viewer has it (the runner here
 *                is this binary in a runner mode that stamps its lines
 *                with CLOCK_MONOTONIC, so only the server's path is timed)
 *   requests/s   GET /api/runs with wrk, 100 connections, 100 runs in the
 *                history
 *   slowloris    GET /api/runs probed once a second while 500 connections
 *                trickle their request heads and 300 viewers of the large
 *                run never read (tests/slowloris.h): the probes answered
 *                and their latency
 *   streamed     a real run of 100,000 asyncio tasks x 1 s while a viewer
 *                follows it: its wall time, to set beside bench_asyncio's
 *                (the same run with no server), which says how much
 *                streaming the events stretches the run
 *   export       that run, once stored, downloaded as the Chrome trace
 *                and as the ASCII timeline from a server just started:
 *                how much the server's resident memory grows for it
 *                (its peak, VmHWM, reset before each download, less its
 *                resident memory before), and how long the download takes
 *
 * Prints markdown table rows: | measure | value | target |.
 * The overlap binary: $OVERLAP_BIN, else ../overlap beside this binary.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slowloris.h"

#define BIG_EVENTS 1000000
#define HISTORY_RUNS 100
#define LATENCY_REPS 15

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_server: %s: %s\n", what, strerror(errno));
	exit(1); /* the server has PR_SET_PDEATHSIG: it goes too */
}

/* ---- the runner mode ---------------------------------------------------- */

/* `bench_server run --spec - --format events --id ID`: what the server
 * starts when --runner points here.  Waits for $BENCH_GO_DIR/<ID> (the
 * viewer is connected), then writes its lines, each stamped. */
static int fake_runner(int argc, char **argv)
{
	const char *id = argc > 7 ? argv[7] : "x";
	const char *dir = getenv("BENCH_GO_DIR");
	char path[PATH_MAX], buf[4096];
	struct timespec ms = {0, 1000000};

	while (read(0, buf, sizeof(buf)) > 0)
		;
	snprintf(path, sizeof(path), "%s/go-%s", dir ? dir : "/tmp", id);
	for (int i = 0; i < 10000 && access(path, F_OK) != 0; i++)
		nanosleep(&ms, NULL);
	printf("{\"type\":\"run\",\"run\":{\"id\":\"%s\"},\"t_ns\":%lld}\n", id,
	       (long long)now_ns());
	fflush(stdout);
	printf("{\"type\":\"summary\",\"status\":\"done\",\"message\":\"\","
	       "\"summary\":null}\n");
	fflush(stdout);
	return 0;
}

/* ---- the data directory ------------------------------------------------- */

static FILE *open_w(const char *dir, const char *id, const char *ext)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/runs/%s.%s", dir, id, ext);
	f = fopen(path, "w");
	if (!f)
		die(path);
	return f;
}

static void write_run(const char *data, const char *id, long n_events,
		      int64_t created_ns)
{
	static const char *const states[] = {"compute", "io", "sleep",
					     "gil-wait"};
	const char *spec = "{\"workload\":\"fetch\",\"model\":\"threads\","
			   "\"params\":{},\"options\":{}}";
	const char *run_obj =
		"{\"id\":\"%s\",\"workload\":\"fetch\",\"model\":\"threads\","
		"\"params\":{},\"options\":{},\"status\":\"done\",\"message\":"
		"\"\",\"started_at\":\"2026-01-01T00:00:00.000Z\",\"cpu_ns\":0,"
		"\"host\":{\"cores\":2,\"kernel\":\"bench\",\"engine\":"
		"\"overlap\"}}";
	const char *summary =
		"{\"wall_ns\":1000000,\"task_time_ns\":2000000,\"speedup\":2.0,"
		"\"parallelism\":1.0,\"cpu_util\":0.5,\"peak_inflight\":2,"
		"\"states\":{},\"checks\":{},\"diagnosis\":{\"bound\":\"io\","
		"\"recommend\":\"asyncio\",\"why\":\"bench\"},"
		"\"max_loop_lag_ns\":null}";
	FILE *f;
	long i;

	f = open_w(data, id, "events");
	fprintf(f,
		"{\"type\":\"status\",\"status\":\"queued\",\"position\":1}\n"
		"{\"type\":\"status\",\"status\":\"running\"}\n"
		"{\"type\":\"run\",\"run\":");
	fprintf(f, run_obj, id);
	fprintf(f, "}\n{\"type\":\"lane\",\"lane\":{\"id\":0,\"kind\":\"main\","
		   "\"name\":\"main\",\"os_id\":1}}\n");
	for (i = 0; i < n_events - 7; i++)
		fprintf(f,
			"{\"type\":\"segment\",\"segment\":{\"task\":%ld,"
			"\"lane\":0,\"state\":\"%s\",\"t0_ns\":%ld,\"t1_ns\":%ld,"
			"\"note\":\"\"}}\n",
			i % 1000, states[i % 4], i * 1000, i * 1000 + 900);
	fprintf(f,
		"{\"type\":\"summary\",\"status\":\"done\",\"message\":\"\","
		"\"summary\":%s}\n",
		summary);
	fprintf(f, "{\"type\":\"status\",\"status\":\"done\"}\n"
		   "{\"type\":\"end\",\"status\":\"done\"}\n");
	fclose(f);

	f = open_w(data, id, "json");
	fprintf(f, "{\"format\":\"overlap-trace\",\"version\":1,\"run\":");
	fprintf(f, run_obj, id);
	fprintf(f,
		",\"lanes\":[],\"tasks\":[],\"segments\":[],\"counters\":[],"
		"\"summary\":%s}\n",
		summary);
	fclose(f);

	f = open_w(data, id, "meta");
	fprintf(f,
		"{\"id\":\"%s\",\"created_at\":\"2026-01-01T00:00:00.000Z\","
		"\"created_ns\":%lld,\"spec\":%s,\"run\":",
		id, (long long)created_ns, spec);
	fprintf(f, run_obj, id);
	fprintf(f,
		",\"status\":\"done\",\"message\":\"\",\"started_at\":"
		"\"2026-01-01T00:00:00.000Z\",\"compare\":null,\"summary\":%s}"
		"\n",
		summary);
	fclose(f);
}

/* ---- the server --------------------------------------------------------- */

struct server {
	pid_t pid;
	int port;
};

static void server_start(struct server *s, const char *bin, const char *data,
			 const char *runner)
{
	int out[2];
	char buf[512];
	size_t len = 0;

	if (pipe(out) < 0)
		die("pipe");
	s->pid = fork();
	if (s->pid < 0)
		die("fork");
	if (s->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(out[1], 1);
		dup2(null, 2);
		close(out[0]);
		if (runner)
			execl(bin, bin, "serve", "--port", "0", "--data", data,
			      "--runner", runner, (char *)NULL);
		else
			execl(bin, bin, "serve", "--port", "0", "--data", data,
			      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	while (!memchr(buf, '\n', len)) {
		ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			fprintf(stderr, "bench_server: the server did not "
					"start\n");
			exit(1);
		}
		len += (size_t)n;
		buf[len] = '\0';
	}
	close(out[0]);
	*strchr(buf, '\n') = '\0';
	s->port = atoi(strrchr(strstr(buf, "http://") + 7, ':') + 1);
}

static void server_stop(struct server *s)
{
	int status;

	kill(s->pid, SIGTERM);
	waitpid(s->pid, &status, 0);
}

static int connect_port(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	return fd;
}

/* Reads an HTTP/1.1 chunked SSE response to its end, counting events
 * (lines starting "id: ").  Returns the count. */
static long read_sse_count(int fd)
{
	static char buf[1 << 20];
	enum { HEAD, SIZE, DATA, CRLF, DONE } st = HEAD;
	size_t chunk = 0;
	long events = 0;
	int head_match = 0;
	char prev = '\n'; /* last body byte */
	int id_match = 0; /* of "id: " after a newline */

	while (st != DONE) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];

			switch (st) {
			case HEAD: /* until \r\n\r\n */
				head_match = (c == "\r\n\r\n"[head_match])
						     ? head_match + 1
						     : (c == '\r');
				if (head_match == 4)
					st = SIZE;
				break;
			case SIZE:
				if (c == '\n') {
					st = chunk ? DATA : DONE;
				} else if (c != '\r') {
					int d = c <= '9'
							? c - '0'
							: (c | 0x20) - 'a' + 10;
					chunk = chunk * 16 + (size_t)d;
				}
				break;
			case DATA:
				if (id_match > 0 || prev == '\n') {
					if (c == "id: "[id_match]) {
						if (++id_match == 4) {
							events++;
							id_match = 0;
						}
					} else {
						id_match = 0;
					}
				}
				prev = c;
				if (--chunk == 0)
					st = CRLF;
				break;
			case CRLF:
				if (c == '\n')
					st = SIZE;
				break;
			case DONE:
				break;
			}
		}
	}
	return events;
}

/* Connects and asks for run id's event stream; returns the socket. */
static int open_events(int port, const char *id)
{
	char req[256];
	int fd = connect_port(port);

	snprintf(req, sizeof(req),
		 "GET /api/runs/%s/events HTTP/1.1\r\nHost: localhost\r\n\r\n",
		 id);
	if (write(fd, req, strlen(req)) < 0)
		die("write");
	return fd;
}

static double sse_rate(int port, const char *id, long *events)
{
	int64_t t0 = now_ns();
	int fd = open_events(port, id);

	*events = read_sse_count(fd);
	close(fd);
	return (double)*events / ((double)(now_ns() - t0) / 1e9);
}

/* ---- first-event latency ------------------------------------------------ */

/* A POST of body (or a GET when body is NULL) with Connection: close;
 * returns the whole response, headers and all (static buffer). */
static const char *http_call(int port, const char *path, const char *body)
{
	static char buf[1 << 16];
	char req[1024];
	size_t len = 0;
	int fd = connect_port(port);

	if (body)
		snprintf(req, sizeof(req),
			 "POST %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 path, strlen(body), body);
	else
		snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Connection: close\r\n\r\n",
			 path);
	if (write(fd, req, strlen(req)) < 0)
		die("write");
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* A tiny run: returns the response (static buffer). */
static const char *post_run(int port)
{
	return http_call(port, "/api/runs",
			 "{\"workload\":\"fetch\",\"model\":\"sequential\","
			 "\"params\":{\"tasks\":1}}");
}

/* ---- a large run streamed ----------------------------------------------- */

/* 100,000 asyncio tasks that each sleep 1 s, run by the real runner while a
 * viewer follows its events: the run's wall time (the trace's), which the
 * stream should not stretch beyond the same run's without a server
 * (bench_asyncio).  *events: what the viewer read.  -1 on failure. */
static double streamed_wall_s(int port, long *events, char *id, size_t size)
{
	const char *resp, *p;
	int fd;

	resp = http_call(port, "/api/runs",
			 "{\"workload\":\"fetch\",\"model\":\"asyncio\","
			 "\"params\":{\"tasks\":100000,\"duration\":\"1s\","
			 "\"io\":\"sleep\"}}");
	p = strstr(resp, "\"id\":\"");
	if (!p)
		return -1;
	snprintf(id, size, "%.22s", p + 6);
	fd = open_events(port, id);
	*events = read_sse_count(fd); /* to the end event */
	close(fd);
	resp = http_call(port, "/api/runs", NULL);
	p = strstr(resp, "\"wall_ns\":");
	if (!strstr(resp, "\"status\":\"done\"") || !p)
		return -1;
	return strtod(p + 10, NULL) / 1e9;
}

/* ---- the export of a large stored run ---------------------------------- */

/* A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 if absent. */
static long proc_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kib = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kib;
}

struct export_cost {
	double growth_mib; /* the server's peak resident memory less before */
	double wall_s;	   /* request to the last byte */
	double bytes;	   /* the response, headers and all */
};

/* Downloads path from the server pid and measures what it cost the
 * server.  -1 when the peak cannot be reset (clear_refs) or read. */
static int export_cost(pid_t pid, int port, const char *path,
		       struct export_cost *c)
{
	static char buf[1 << 16];
	char req[256], clear[64];
	long before, peak;
	int64_t t0;
	ssize_t n;
	int fd;

	snprintf(clear, sizeof(clear), "/proc/%d/clear_refs", (int)pid);
	fd = open(clear, O_WRONLY);
	if (fd < 0 || write(fd, "5", 1) != 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	before = proc_status_kib(pid, "VmRSS");
	t0 = now_ns();
	fd = connect_port(port);
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: localhost\r\n"
		 "Connection: close\r\n\r\n",
		 path);
	if (write(fd, req, strlen(req)) < 0)
		die("write");
	c->bytes = 0;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		c->bytes += (double)n;
	close(fd);
	c->wall_s = (double)(now_ns() - t0) / 1e9;
	peak = proc_status_kib(pid, "VmHWM");
	if (before < 0 || peak < 0)
		return -1;
	c->growth_mib = (double)(peak - before) / 1024.0;
	return 0;
}

/* Submits a run, connects a viewer, lets the runner go once the viewer
 * has seen "running", and returns how long the first runner line took to
 * arrive, in ns. */
static int64_t first_event_ns(int port, const char *go_dir)
{
	static char buf[1 << 16];
	const char *resp = post_run(port), *p;
	char id[32], path[PATH_MAX];
	size_t len = 0;
	int64_t stamp = -1, got = -1;
	bool running = false;
	int fd;

	p = strstr(resp, "\"id\":\"");
	if (!p) {
		fprintf(stderr, "bench_server: POST failed: %s\n", resp);
		exit(1);
	}
	snprintf(id, sizeof(id), "%.22s", p + 6);
	fd = open_events(port, id);
	while (got < 0) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		int64_t t = now_ns();

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (!running && strstr(buf, "\"status\":\"running\"")) {
			running = true;
			snprintf(path, sizeof(path), "%s/go-%s", go_dir, id);
			close(open(path, O_WRONLY | O_CREAT, 0600));
		}
		if ((p = strstr(buf, "\"t_ns\":")) != NULL && strchr(p, '}')) {
			stamp = strtoll(p + 7, NULL, 10);
			got = t;
		}
	}
	close(fd);
	return stamp >= 0 && got >= 0 ? got - stamp : -1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* ---- wrk ---------------------------------------------------------------- */

static double wrk_rate(int port)
{
	char cmd[256], line[512];
	double rate = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "wrk -t2 -c100 -d5s http://127.0.0.1:%d/api/runs 2>/dev/null",
		 port);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, "Requests/sec:", 13) == 0)
			rate = strtod(line + 13, NULL);
	pclose(p);
	return rate;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	char bin[PATH_MAX], self[PATH_MAX], dir[] = "/tmp/overlap-bench-XXXXXX";
	char data[PATH_MAX], data2[PATH_MAX], data3[PATH_MAX], big_id[32];
	const char *env = getenv("OVERLAP_BIN");
	int64_t lat[LATENCY_REPS];
	struct server s;
	double cold, warm, rps, streamed;
	struct slowloris_result sl;
	char sl_path[96];
	long cold_n, warm_n, streamed_n = 0;
	char streamed_id[32] = "";
	struct export_cost exported[2] = {{0}};
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "run") == 0)
		return fake_runner(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	n = readlink("/proc/self/exe", self, sizeof(self) - 32);
	if (n <= 0)
		die("readlink");
	self[n] = '\0';
	if (env && env[0]) {
		snprintf(bin, sizeof(bin), "%s", env);
	} else {
		snprintf(bin, sizeof(bin), "%s", self);
		*strrchr(bin, '/') = '\0';
		*strrchr(bin, '/') = '\0';
		strcat(bin, "/overlap");
	}
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(data2, sizeof(data2), "%s/data2", dir);
	mkdir(data, 0700);
	snprintf(big_id, sizeof(big_id), "20260101-000000-bigrun");
	{
		char runs[PATH_MAX + 8];

		snprintf(runs, sizeof(runs), "%s/runs", data);
		mkdir(runs, 0700);
	}
	write_run(data, big_id, BIG_EVENTS, 1);
	for (int i = 0; i < HISTORY_RUNS - 1; i++) {
		char id[32];

		snprintf(id, sizeof(id), "20260101-000001-h%05d", i);
		write_run(data, id, 8, 2 + i);
	}

	/* Throughput, from disk then from the cache. */
	server_start(&s, bin, data, NULL);
	cold = sse_rate(s.port, big_id, &cold_n);
	warm = sse_rate(s.port, big_id, &warm_n);
	rps = wrk_rate(s.port);
	server_stop(&s);

	/* The API under a slowloris, on the same store (its viewers ask
	 * for the large run, and never read it). */
	server_start(&s, bin, data, NULL);
	snprintf(sl_path, sizeof(sl_path), "/api/runs/%s/events", big_id);
	{
		struct slowloris_config c = {
			.port = s.port,
			.trickle = 500,
			.viewers = 300,
			.viewer_path = sl_path,
			.trickle_source = "127.0.0.2",
			.viewer_source = "127.0.0.3",
			.seconds = 15,
			.grace_s = 20,
		};

		if (slowloris_run(&c, &sl) < 0)
			die("slowloris");
	}
	server_stop(&s);
	qsort(sl.latency_ns, (size_t)sl.answered, sizeof(*sl.latency_ns),
	      cmp_i64);
	if (cold_n != BIG_EVENTS || warm_n != BIG_EVENTS) {
		fprintf(stderr,
			"bench_server: read %ld and %ld events, want "
			"%d\n",
			cold_n, warm_n, BIG_EVENTS);
		return 1;
	}

	/* Latency, with this binary as the runner. */
	setenv("BENCH_GO_DIR", dir, 1);
	server_start(&s, bin, data2, self);
	for (int i = 0; i < LATENCY_REPS; i++) {
		lat[i] = first_event_ns(s.port, dir);
		if (lat[i] < 0) {
			fprintf(stderr, "bench_server: no first event\n");
			server_stop(&s);
			return 1;
		}
	}
	server_stop(&s);
	qsort(lat, LATENCY_REPS, sizeof(*lat), cmp_i64);

	/* A large run with the real runner, followed live. */
	snprintf(data3, sizeof(data3), "%s/data3", dir);
	server_start(&s, bin, data3, NULL);
	streamed = streamed_wall_s(s.port, &streamed_n, streamed_id,
				   sizeof(streamed_id));
	server_stop(&s);
	if (streamed < 0) {
		fprintf(stderr, "bench_server: the streamed run failed\n");
		return 1;
	}

	/* That run, stored, exported by a server that has not served it. */
	server_start(&s, bin, data3, NULL);
	http_call(s.port, "/api/runs", NULL);
	for (int i = 0; i < 2; i++) {
		char path[96];

		snprintf(path, sizeof(path), "/api/runs/%s/%s", streamed_id,
			 i == 0 ? "chrome" : "ascii");
		if (export_cost(s.pid, s.port, path, &exported[i]) < 0)
			exported[i].growth_mib = -1;
	}
	server_stop(&s);

	printf("| server: SSE events/s to one viewer, finished run of "
	       "1,000,000 events (cached) | %.0f | >= 1,000,000 |\n",
	       warm);
	printf("| server: SSE events/s, same run read back from disk first | "
	       "%.0f | - |\n",
	       cold);
	printf("| server: first event, runner to viewer (median of %d; max) | "
	       "%.2f ms; %.2f ms | <= 50 ms |\n",
	       LATENCY_REPS, lat[LATENCY_REPS / 2] / 1e6,
	       lat[LATENCY_REPS - 1] / 1e6);
	printf("| server: GET /api/runs during 500 slowloris connections and "
	       "300 stuck viewers: answered; latency median / max | %d of %d; "
	       "%.1f / %.1f ms | >= 99%%; <= 100 ms |\n",
	       sl.answered, sl.probes,
	       sl.answered ? sl.latency_ns[sl.answered / 2] / 1e6 : 0.0,
	       sl.answered ? sl.latency_ns[sl.answered - 1] / 1e6 : 0.0);
	printf("| server: asyncio, 100,000 tasks x 1 s, followed live by a "
	       "viewer (%ld events): wall | %.3f s | - |\n",
	       streamed_n, streamed);
	for (int i = 0; i < 2; i++)
		printf("| server: GET /api/runs/{id}/%s of that run, stored "
		       "(%.1f MiB): server memory growth; wall | %.1f MiB; "
		       "%.2f s | %s |\n",
		       i == 0 ? "chrome" : "ascii",
		       exported[i].bytes / (1024.0 * 1024.0),
		       exported[i].growth_mib, exported[i].wall_s,
		       i == 0 ? "<= 32 MiB" : "-");
	if (rps >= 0)
		printf("| server: GET /api/runs, wrk -t2 -c100, %d runs in the "
		       "history | %.0f req/s | - |\n",
		       HISTORY_RUNS, rps);
	else
		printf("| server: GET /api/runs, wrk -c100 | wrk not found | - "
		       "|\n");
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
