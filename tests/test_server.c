/*
 * test_server: `overlap serve` over real HTTP.
 *
 * Every test starts the real binary ($OVERLAP_BIN serve --port 0) on a
 * fresh data directory and a small web directory of its own, reads the
 * port it printed, and talks raw HTTP/1.1 over sockets, so what is tested
 * is what a browser or curl gets: status codes, headers, chunked bodies,
 * Server-Sent Events.  Runs are short fetches with io=sleep (tens of ms);
 * "long" runs (seconds) are only ever used to hold a state (running,
 * queued) and are cancelled as soon as the test has seen what it needs.
 *
 * Waiting is on events, never on time: the SSE stream says when a run is
 * running or has ended; the only polling is of /healthz for the viewer
 * count, with a deadline.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h> /* cmocka.h needs it first */

#include <cmocka.h>

#include "cpython.h"

#include <jansson.h>

#include "slowloris.h"
#include "step_programs.h"
#include "render.h"
#include "trace.h"
#include "trace_json.h"

#define IO_TIMEOUT_S 60
#define SHORT_RUN                                                              \
	"{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":"            \
	"{\"tasks\":3,\"duration\":\"30ms\",\"io\":\"sleep\"}}"
#define SEQ_RUN                                                                \
	"{\"workload\":\"fetch\",\"model\":\"sequential\",\"params\":"         \
	"{\"tasks\":4,\"duration\":\"20ms\",\"io\":\"sleep\"}}"
/* Holds a state for up to 10 s; always cancelled early. */
#define LONG_RUN                                                               \
	"{\"workload\":\"fetch\",\"model\":\"sequential\",\"params\":"         \
	"{\"tasks\":100,\"duration\":\"100ms\",\"io\":\"sleep\"}}"

/* ---- processes and files ------------------------------------------------ */

struct server {
	pid_t pid;
	int port;
	char dir[128];	/* temporary root */
	char data[160]; /* dir/data */
	char web[160];	/* dir/web */
	char tmp[160];	/* dir/tmp: the server's TMPDIR */
	bool mounted;	/* data is a tmpfs of the test's */
	char url[256];	/* the line the server printed */
};

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_web(const char *root, const char *web)
{
	char path[512];

	assert_int_equal(mkdir(web, 0700), 0);
	snprintf(path, sizeof(path), "%s/index.html", web);
	write_file(path, "<!doctype html><title>overlap test</title>\n");
	snprintf(path, sizeof(path), "%s/app.js", web);
	write_file(path, "export const answer = 42;\n");
	snprintf(path, sizeof(path), "%s/style.css", web);
	write_file(path, "body { margin: 0 }\n");
	snprintf(path, sizeof(path), "%s/.hidden", web);
	write_file(path, "dotfile\n");
	snprintf(path, sizeof(path), "%s/node_modules", web);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/node_modules/chart.js", web);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/node_modules/chart.js/chart.umd.js",
		 web);
	write_file(path, "/* chart */\n");
	snprintf(path, sizeof(path), "%s/secret.txt", root);
	write_file(path, "outside the web directory\n");
	/* A symlink inside web/ that leads out of it. */
	snprintf(path, sizeof(path), "%s/escape.txt", web);
	{
		char target[512];

		snprintf(target, sizeof(target), "%s/secret.txt", root);
		assert_int_equal(symlink(target, path), 0);
	}
}

static const char *overlap_bin(void)
{
	const char *bin = getenv("OVERLAP_BIN");

	if (!bin || !bin[0])
		fail_msg("OVERLAP_BIN is not set (run through make unit-test)");
	return bin;
}

/* Starts `overlap serve` on s->data with extra arguments (NULL-ended). */
static void server_start_argv(struct server *s, const char *const *extra)
{
	const char *argv[32];
	int out[2], n = 0;
	char buf[1024];
	size_t len = 0;
	int64_t waited_ms = 0;

	argv[n++] = overlap_bin();
	argv[n++] = "serve";
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--data";
	argv[n++] = s->data;
	argv[n++] = "--web";
	argv[n++] = s->web;
	while (extra && *extra)
		argv[n++] = *extra++;
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char log[256];
		int fd;

		/* The server goes when the test goes, even killed. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* Runs' temporary folders go where the test can see them. */
		setenv("TMPDIR", s->tmp, 1);
		snprintf(log, sizeof(log), "%s/server.log", s->dir);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(out[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	/* The first line: "overlap: listening on http://HOST:PORT/..." */
	for (;;) {
		struct pollfd p = {out[0], POLLIN, 0};
		char *nl, *colon;
		ssize_t got;

		assert_true(waited_ms < IO_TIMEOUT_S * 1000);
		if (poll(&p, 1, 100) == 0) {
			waited_ms += 100;
			continue;
		}
		got = read(out[0], buf + len, sizeof(buf) - 1 - len);
		assert_true(got > 0);
		len += (size_t)got;
		buf[len] = '\0';
		nl = strchr(buf, '\n');
		if (!nl)
			continue;
		*nl = '\0';
		assert_non_null(strstr(buf, "listening on http://"));
		snprintf(s->url, sizeof(s->url), "%s", strstr(buf, "http://"));
		colon = strrchr(strstr(buf, "http://") + 7, ':');
		assert_non_null(colon);
		s->port = atoi(colon + 1);
		assert_true(s->port > 0);
		break;
	}
	close(out[0]);
}

static void server_start(struct server *s, ...)
{
	const char *extra[16];
	size_t n = 0;
	va_list ap;

	va_start(ap, s);
	while (n < 15 && (extra[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	extra[n] = NULL;
	server_start_argv(s, extra);
}

static int server_reap(struct server *s)
{
	int status = 0;

	if (s->pid <= 0)
		return 0;
	while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
	return status;
}

static void dump_log(const struct server *s)
{
	char path[256], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/server.log", s->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "server: %s", line);
	fclose(f);
}

/* A clean stop exits 0: under the sanitizers this is also where a leak or
 * an error in the server shows. */
static void server_stop(struct server *s)
{
	int status;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	status = server_reap(s);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dump_log(s);
		fail_msg("the server did not stop cleanly (status %#x)",
			 status);
	}
}

static void server_kill9(struct server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	server_reap(s);
}

static int setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));

	snprintf(s->dir, sizeof(s->dir), "/tmp/overlap-test-server-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->data, sizeof(s->data), "%s/data", s->dir);
	snprintf(s->web, sizeof(s->web), "%s/web", s->dir);
	snprintf(s->tmp, sizeof(s->tmp), "%s/tmp", s->dir);
	make_web(s->dir, s->web);
	if (mkdir(s->tmp, 0700) < 0)
		return -1;
	*state = s;
	return 0;
}

/* Entries in the server's TMPDIR (runs' temporary folders). */
static int tmp_entries(const struct server *s)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(s->tmp);

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Live (not zombie) processes in process group pgid. */
static int group_alive(pid_t pgid)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[512], *close_paren;
		char state;
		int pgrp;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) &&
		    (close_paren = strrchr(buf, ')')) != NULL &&
		    sscanf(close_paren + 1, " %c %*d %d", &state, &pgrp) == 2 &&
		    pgrp == (int)pgid && state != 'Z' && state != 'X')
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Waits until group pgid has no live process; false at the deadline. */
static bool wait_group_gone(pid_t pgid)
{
	struct timespec pause = {0, 20 * 1000 * 1000};

	for (int i = 0; i < IO_TIMEOUT_S * 50; i++) {
		if (group_alive(pgid) == 0)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

static int teardown(void **state)
{
	struct server *s = *state;
	int status = 0, left;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		status = server_reap(s);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dump_log(s);
		fprintf(stderr, "the server did not stop cleanly (%#x)\n",
			status);
	}
	if (s->mounted)
		umount2(s->data, MNT_DETACH);
	/* Whatever a test did, no run left a temporary folder behind. */
	left = tmp_entries(s);
	if (left)
		fprintf(stderr, "%d temporary folders left in %s\n", left,
			s->tmp);
	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && !left ? 0 : -1;
}

/* Setup that also starts a default server. */
static int setup_started(void **state)
{
	if (setup(state) < 0)
		return -1;
	server_start(*state, NULL);
	return 0;
}

/* ---- a small HTTP client ------------------------------------------------ */

struct resp {
	int status;
	char head[16384];
	char *body;
	size_t body_len;
};

/* A receive buffer size for the next connection (0: the default), and
 * the loopback address it comes from (NULL: the kernel's choice,
 * 127.0.0.1). */
static int next_rcvbuf;
static const char *next_source;

static int connect_port(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (next_rcvbuf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &next_rcvbuf,
			   sizeof(next_rcvbuf));
		next_rcvbuf = 0;
	}
	if (next_source) {
		struct sockaddr_in from = {.sin_family = AF_INET};

		assert_int_equal(
			inet_pton(AF_INET, next_source, &from.sin_addr), 1);
		assert_int_equal(
			bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
		next_source = NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return; /* the server may have answered and closed */
		data += n;
		len -= (size_t)n;
	}
}

/* The value of header name in a raw header block, or NULL. */
static const char *header_of(const char *head, const char *name, char *buf,
			     size_t size)
{
	const char *p = head;
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end;

			while (*v == ' ')
				v++;
			end = strstr(v, "\r\n");
			if (!end)
				end = v + strlen(v);
			snprintf(buf, size, "%.*s", (int)(end - v), v);
			return buf;
		}
	}
	return NULL;
}

static void dechunk(char *body, size_t *len)
{
	size_t in = 0, out = 0;

	while (in < *len) {
		char *end;
		unsigned long n = strtoul(body + in, &end, 16);
		char *crlf = strstr(end, "\r\n");

		if (!crlf || n == 0)
			break;
		in = (size_t)(crlf - body) + 2;
		memmove(body + out, body + in, n);
		out += n;
		in += n + 2;
	}
	*len = out;
	body[out] = '\0';
}

/* Sends a raw request and reads the whole response (Connection: close). */
static void http_raw(int port, const char *req, size_t req_len, struct resp *r)
{
	char *buf = NULL, *split, te[64];
	size_t len = 0, cap = 0;
	int fd = connect_port(port);

	memset(r, 0, sizeof(*r));
	send_all(fd, req, req_len);
	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 131072;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	assert_non_null(buf);
	buf[len] = '\0';
	split = strstr(buf, "\r\n\r\n");
	assert_non_null(split);
	assert_true((size_t)(split - buf) < sizeof(r->head));
	memcpy(r->head, buf, (size_t)(split - buf) + 2);
	r->head[split - buf + 2] = '\0';
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
	r->body_len = len - (size_t)(split + 4 - buf);
	memmove(buf, split + 4, r->body_len + 1);
	r->body = buf;
	if (header_of(r->head, "Transfer-Encoding", te, sizeof(te)) &&
	    strcasecmp(te, "chunked") == 0)
		dechunk(r->body, &r->body_len);
}

/* One request.  ctype NULL: no Content-Type; host NULL: 127.0.0.1:port;
 * extra: more header lines ("Name: value\r\n"). */
static void http_req(int port, const char *method, const char *path,
		     const char *host, const char *ctype, const char *extra,
		     const char *body, struct resp *r)
{
	char head[4096];
	size_t body_len = body ? strlen(body) : 0;
	char *req;
	int n;

	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n",
		     method, path, host ? host : "127.0.0.1");
	if (ctype)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: %s\r\n", ctype);
	if (body)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Length: %zu\r\n", body_len);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "%s\r\n",
		      extra ? extra : "");
	req = malloc((size_t)n + body_len + 1);
	memcpy(req, head, (size_t)n);
	if (body)
		memcpy(req + n, body, body_len);
	http_raw(port, req, (size_t)n + body_len, r);
	free(req);
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

static json_t *get_json(int port, const char *path, int want_status)
{
	struct resp r;
	json_t *j;

	http_req(port, "GET", path, NULL, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, want_status);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	resp_free(&r);
	return j;
}

/* POST a JSON body; returns the parsed answer, checks the status. */
static json_t *post_json(int port, const char *path, const char *body,
			 int want_status)
{
	struct resp r;
	json_t *j;

	http_req(port, "POST", path, NULL, "application/json", NULL, body, &r);
	if (r.status != want_status)
		fail_msg("POST %s: %d %.*s", path, r.status, (int)r.body_len,
			 r.body);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	resp_free(&r);
	return j;
}

/* Submits a run; returns its id (static buffer per call site is enough). */
static void submit(int port, const char *body, char id[32])
{
	json_t *j = post_json(port, "/api/runs", body, 202);

	assert_string_equal(json_string_value(json_object_get(j, "status")),
			    "queued");
	snprintf(id, 32, "%s", json_string_value(json_object_get(j, "id")));
	assert_int_equal(strlen(id), 22);
	json_decref(j);
}

static int delete_run(int port, const char *id)
{
	char path[96];
	struct resp r;
	int status;

	snprintf(path, sizeof(path), "/api/runs/%s", id);
	http_req(port, "DELETE", path, NULL, "application/json", NULL, NULL,
		 &r);
	status = r.status;
	resp_free(&r);
	return status;
}

/* ---- a small SSE client ------------------------------------------------- */

struct sse_event {
	uint64_t id;
	char type[32];
	char *data;
};

struct sse {
	int fd;
	int status;
	bool chunked;
	bool eof;
	size_t chunk_left; /* bytes left in the current chunk */
	bool want_crlf;	   /* the CRLF after a chunk's data */
	char raw[65536];   /* undecoded bytes */
	size_t raw_len;
	char *text; /* decoded body not yet parsed */
	size_t text_len, text_cap;
};

static void text_add(struct sse *s, const char *p, size_t n)
{
	if (s->text_len + n + 1 > s->text_cap) {
		s->text_cap = (s->text_len + n + 1) * 2;
		s->text = realloc(s->text, s->text_cap);
		assert_non_null(s->text);
	}
	memcpy(s->text + s->text_len, p, n);
	s->text_len += n;
	s->text[s->text_len] = '\0';
}

/* Moves what can be decoded from raw to text. */
static void decode(struct sse *s)
{
	size_t pos = 0;

	for (;;) {
		if (!s->chunked) {
			text_add(s, s->raw + pos, s->raw_len - pos);
			pos = s->raw_len;
			break;
		}
		if (s->want_crlf) {
			if (s->raw_len - pos < 2)
				break;
			pos += 2;
			s->want_crlf = false;
			continue;
		}
		if (s->chunk_left > 0) {
			size_t n = s->raw_len - pos;

			if (n > s->chunk_left)
				n = s->chunk_left;
			if (n == 0)
				break;
			text_add(s, s->raw + pos, n);
			pos += n;
			s->chunk_left -= n;
			if (s->chunk_left == 0)
				s->want_crlf = true;
			continue;
		}
		{
			char *crlf = memmem(s->raw + pos, s->raw_len - pos,
					    "\r\n", 2);
			unsigned long n;

			if (!crlf)
				break;
			n = strtoul(s->raw + pos, NULL, 16);
			pos = (size_t)(crlf - s->raw) + 2;
			if (n == 0) {
				s->eof = true;
				break;
			}
			s->chunk_left = n;
		}
	}
	memmove(s->raw, s->raw + pos, s->raw_len - pos);
	s->raw_len -= pos;
}

/* Reads more from the socket; false at EOF. */
static bool sse_fill(struct sse *s)
{
	ssize_t n;

	if (s->eof)
		return false;
	n = recv(s->fd, s->raw + s->raw_len, sizeof(s->raw) - s->raw_len, 0);
	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0) {
		s->eof = true;
		return false;
	}
	s->raw_len += (size_t)n;
	decode(s);
	return true;
}

/* Opens /api/runs/{id}/events; last: Last-Event-ID or NULL.  Returns the
 * status; for 200 the stream is ready for sse_next. */
static int sse_open(int port, const char *id, const char *last, struct sse *s)
{
	char req[512], *end, te[64];

	memset(s, 0, sizeof(*s));
	s->fd = connect_port(port);
	snprintf(req, sizeof(req),
		 "GET /api/runs/%s/events HTTP/1.1\r\nHost: localhost\r\n"
		 "Accept: text/event-stream\r\n%s%s%s\r\n",
		 id, last ? "Last-Event-ID: " : "", last ? last : "",
		 last ? "\r\n" : "");
	send_all(s->fd, req, strlen(req));
	/* Headers, undecoded. */
	while (!(end = memmem(s->raw, s->raw_len, "\r\n\r\n", 4))) {
		ssize_t n = recv(s->fd, s->raw + s->raw_len,
				 sizeof(s->raw) - s->raw_len - 1, 0);
		assert_true(n > 0);
		s->raw_len += (size_t)n;
	}
	s->raw[s->raw_len] = '\0';
	{
		char head[4096];
		size_t hl = (size_t)(end - s->raw) + 2;

		assert_true(hl < sizeof(head));
		memcpy(head, s->raw, hl);
		head[hl] = '\0';
		assert_int_equal(sscanf(head, "HTTP/1.1 %d", &s->status), 1);
		s->chunked =
			header_of(head, "Transfer-Encoding", te, sizeof(te)) &&
			strcasecmp(te, "chunked") == 0;
		if (s->status == 200) {
			assert_non_null(header_of(head, "Content-Type", te,
						  sizeof(te)));
			assert_non_null(strstr(te, "text/event-stream"));
		}
	}
	s->raw_len -= (size_t)(end + 4 - s->raw);
	memmove(s->raw, end + 4, s->raw_len);
	decode(s);
	return s->status;
}

static void sse_close(struct sse *s)
{
	close(s->fd);
	free(s->text);
	s->text = NULL;
}

/* The next event: 1, or 0 at the end of the stream.  *comments counts
 * comment blocks (heartbeats) skipped on the way. */
static int sse_next(struct sse *s, struct sse_event *ev, int *comments)
{
	for (;;) {
		char *block_end = s->text ? strstr(s->text, "\n\n") : NULL;

		if (block_end) {
			size_t block_len = (size_t)(block_end - s->text) + 2;
			char *line, *save;
			bool any = false;

			*block_end = '\0';
			memset(ev, 0, sizeof(*ev));
			for (line = strtok_r(s->text, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				if (strncmp(line, "id: ", 4) == 0) {
					ev->id = strtoull(line + 4, NULL, 10);
					any = true;
				} else if (strncmp(line, "event: ", 7) == 0) {
					snprintf(ev->type, sizeof(ev->type),
						 "%s", line + 7);
				} else if (strncmp(line, "data: ", 6) == 0) {
					free(ev->data);
					ev->data = strdup(line + 6);
				} else if (line[0] == ':' && comments) {
					(*comments)++;
				}
			}
			memmove(s->text, s->text + block_len,
				s->text_len - block_len + 1);
			s->text_len -= block_len;
			if (any)
				return 1;
			free(ev->data);
			continue;
		}
		if (!sse_fill(s))
			return 0;
	}
}

struct event_list {
	struct sse_event *ev;
	size_t n, cap;
};

static void list_add(struct event_list *l, const struct sse_event *e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ev = realloc(l->ev, l->cap * sizeof(*l->ev));
		assert_non_null(l->ev);
	}
	l->ev[l->n++] = *e;
}

static void list_free(struct event_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ev[i].data);
	free(l->ev);
	memset(l, 0, sizeof(*l));
}

/* Reads up to max events (0: all, to the end). */
static void sse_read(struct sse *s, struct event_list *l, size_t max)
{
	struct sse_event ev;

	while ((max == 0 || l->n < max) && sse_next(s, &ev, NULL) == 1)
		list_add(l, &ev);
}

/* The whole stream of a run, from the start or after an id. */
static void read_stream(int port, const char *id, const char *last,
			struct event_list *l)
{
	struct sse s;

	assert_int_equal(sse_open(port, id, last, &s), 200);
	sse_read(&s, l, 0);
	sse_close(&s);
}

/* Reads s until an event of type (and, for "status", that status);
 * returns whether it came. */
static bool sse_until(struct sse *s, const char *type, const char *status)
{
	struct sse_event ev;

	while (sse_next(s, &ev, NULL) == 1) {
		bool match = strcmp(ev.type, type) == 0;

		if (match && status) {
			json_t *j = json_loads(ev.data, 0, NULL);
			match = j && strcmp(json_string_value(json_object_get(
						    j, "status")),
					    status) == 0;
			json_decref(j);
		}
		free(ev.data);
		if (match)
			return true;
	}
	return false;
}

/* Waits for the run to end; returns its final status (static buffer). */
static const char *wait_end(int port, const char *id)
{
	static char status[32];
	struct event_list l = {0};
	json_t *j;

	read_stream(port, id, NULL, &l);
	assert_true(l.n > 0);
	assert_string_equal(l.ev[l.n - 1].type, "end");
	j = json_loads(l.ev[l.n - 1].data, 0, NULL);
	snprintf(status, sizeof(status), "%s",
		 json_string_value(json_object_get(j, "status")));
	json_decref(j);
	list_free(&l);
	return status;
}

/* Opens a stream on a run and reads until it is running and the runner
 * has spoken (its "run" line). */
static void wait_running(int port, const char *id, struct sse *s)
{
	assert_int_equal(sse_open(port, id, NULL, s), 200);
	assert_true(sse_until(s, "status", "running"));
	assert_true(sse_until(s, "run", NULL));
}

static json_t *run_trace(int port, const char *id)
{
	char path[96];

	snprintf(path, sizeof(path), "/api/runs/%s", id);
	return get_json(port, path, 200);
}

static const char *trace_status(json_t *trace)
{
	return json_string_value(
		json_object_get(json_object_get(trace, "run"), "status"));
}

/* ---- tests: the API ----------------------------------------------------- */

static void test_healthz_and_headers(void **state)
{
	struct server *s = *state;
	char v[512];
	struct resp r;
	json_t *j;

	http_req(s->port, "GET", "/healthz", NULL, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(
		header_of(r.head, "X-Content-Type-Options", v, sizeof(v)));
	assert_string_equal(v, "nosniff");
	assert_non_null(
		header_of(r.head, "Content-Security-Policy", v, sizeof(v)));
	assert_non_null(strstr(v, "default-src 'self'"));
	assert_non_null(strstr(v, "frame-ancestors 'none'"));
	assert_null(
		header_of(r.head, "Access-Control-Allow-Origin", v, sizeof(v)));
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "viewers")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "queue")), 0);
	json_decref(j);
	resp_free(&r);
}

static void test_workloads(void **state)
{
	struct server *s = *state;
	json_t *j = get_json(s->port, "/api/workloads", 200);
	json_t *w = json_object_get(j, "workloads");
	json_t *m = json_object_get(j, "models");
	bool fetch = false;

	assert_true(json_array_size(w) > 0);
	assert_true(json_array_size(m) > 0);
	for (size_t i = 0; i < json_array_size(w); i++)
		fetch = fetch || strcmp(json_string_value(json_object_get(
						json_array_get(w, i), "name")),
					"fetch") == 0;
	assert_true(fetch);
	json_decref(j);
}

/* The catalog's refusals, through the API: for every step of the served
 * vocabulary and every model in its refused_by, POST /api/runs with a
 * small program that uses the step (step_programs.h) answers 400 with an
 * error naming the model and field params.program, and starts nothing.
 * (test_cli.c runs the same programs under the models that take them.) */
static void test_catalog_refusals(void **state)
{
	struct server *s = *state;
	json_t *cat = get_json(s->port, "/api/workloads", 200);
	json_t *steps =
		json_object_get(json_object_get(cat, "vocabulary"), "steps");
	json_t *step, *model, *runs;
	size_t i, j, refusals = 0;

	assert_true(json_array_size(steps) > 0);
	json_array_foreach(steps, i, step) {
		const char *name =
			json_string_value(json_object_get(step, "name"));
		const struct step_program *sp = step_program_for(name);

		if (!sp)
			fail_msg("step %s has no program in step_programs.h",
				 name);
		json_array_foreach(json_object_get(step, "refused_by"), j,
				   model) {
			json_t *req = json_pack("{s:s, s:s, s:{s:s}}",
						"workload", "custom", "model",
						json_string_value(model),
						"params", "program",
						sp->program);
			char *body = json_dumps(req, JSON_COMPACT);
			json_t *ans =
				post_json(s->port, "/api/runs", body, 400);
			const char *field = json_string_value(
				json_object_get(ans, "field"));
			const char *error = json_string_value(
				json_object_get(ans, "error"));

			if (!field || strcmp(field, "params.program") != 0 ||
			    !error || !strstr(error, json_string_value(model)))
				fail_msg("%s under %s: field %s, error %s",
					 name, json_string_value(model),
					 field ? field : "(none)",
					 error ? error : "(none)");
			refusals++;
			json_decref(ans);
			free(body);
			json_decref(req);
		}
	}
	assert_true(refusals > 0);
	json_decref(cat);
	/* Nothing was started. */
	runs = get_json(s->port, "/api/runs", 200);
	assert_true(json_is_array(json_object_get(runs, "runs")));
	assert_int_equal(json_array_size(json_object_get(runs, "runs")), 0);
	json_decref(runs);
}

/* Every event of a stream: ids 1..n without a gap, types as expected. */
static void check_stream_shape(const struct event_list *l, const char *end)
{
	json_t *j;

	assert_true(l->n >= 6);
	for (size_t i = 0; i < l->n; i++)
		assert_int_equal(l->ev[i].id, i + 1);
	assert_string_equal(l->ev[0].type, "status");
	assert_non_null(strstr(l->ev[0].data, "\"queued\""));
	assert_string_equal(l->ev[l->n - 1].type, "end");
	j = json_loads(l->ev[l->n - 1].data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
			    end);
	json_decref(j);
}

static size_t count_type(const struct event_list *l, const char *type)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += strcmp(l->ev[i].type, type) == 0;
	return n;
}

static void test_run_lifecycle(void **state)
{
	struct server *s = *state;
	struct event_list l = {0};
	char id[32], path[128], v[256];
	json_t *trace, *list, *first;
	struct resp r;

	submit(s->port, SHORT_RUN, id);
	read_stream(s->port, id, NULL, &l);
	check_stream_shape(&l, "done");
	assert_int_equal(count_type(&l, "run"), 1);
	assert_int_equal(count_type(&l, "summary"), 1);
	assert_true(count_type(&l, "segment") >= 3);

	/* The stored trace is the stream folded. */
	trace = run_trace(s->port, id);
	assert_string_equal(json_string_value(json_object_get(trace, "format")),
			    "overlap-trace");
	assert_string_equal(trace_status(trace), "done");
	assert_int_equal(json_array_size(json_object_get(trace, "tasks")), 3);
	assert_int_equal(json_array_size(json_object_get(trace, "segments")),
			 count_type(&l, "segment"));
	assert_true(json_is_object(json_object_get(trace, "summary")));
	json_decref(trace);

	/* History: newest first, with summary fields. */
	list = get_json(s->port, "/api/runs", 200);
	first = json_array_get(json_object_get(list, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "id")),
			    id);
	assert_string_equal(json_string_value(json_object_get(first, "status")),
			    "done");
	assert_true(json_integer_value(json_object_get(first, "wall_ns")) > 0);
	assert_non_null(json_string_value(json_object_get(first, "bound")));
	/* ... and what was asked for, so a history can tell runs apart. */
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(first, "params"), "io")),
			    "sleep");
	assert_true(json_is_object(json_object_get(first, "options")));
	json_decref(list);

	/* Exports, as files. */
	snprintf(path, sizeof(path), "/api/runs/%s/chrome", id);
	http_req(s->port, "GET", path, NULL, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header_of(r.head, "Content-Disposition", v, sizeof(v)));
	assert_non_null(strstr(v, "attachment"));
	{
		char want[96];
		json_t *j = json_loadb(r.body, r.body_len, 0, NULL);

		snprintf(want, sizeof(want), "filename=\"overlap-%s.json\"",
			 id);
		assert_non_null(strstr(v, want));
		assert_true(json_array_size(json_object_get(j, "traceEvents")) >
			    0);
		json_decref(j);
	}
	{
		/* Streamed, it is the very text the tree builder's compact
		 * dump of the stored trace gives. */
		json_t *stored, *tree;
		struct trace t;
		char err[128], *want;

		snprintf(path, sizeof(path), "/api/runs/%s", id);
		stored = get_json(s->port, path, 200);
		trace_init(&t);
		assert_int_equal(trace_from_json(stored, &t, err, sizeof(err)),
				 0);
		tree = render_chrome(&t);
		want = json_dumps(tree, JSON_COMPACT);
		assert_non_null(want);
		assert_int_equal(r.body_len, strlen(want));
		assert_memory_equal(r.body, want, r.body_len);
		free(want);
		json_decref(tree);
		json_decref(stored);
		trace_free(&t);
	}
	resp_free(&r);
	snprintf(path, sizeof(path), "/api/runs/%s/ascii", id);
	http_req(s->port, "GET", path, NULL, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header_of(r.head, "Content-Disposition", v, sizeof(v)));
	{
		char want[96];

		snprintf(want, sizeof(want), "filename=\"overlap-%s.txt\"", id);
		assert_non_null(strstr(v, want));
	}
	assert_non_null(header_of(r.head, "Content-Type", v, sizeof(v)));
	assert_non_null(strstr(v, "text/plain"));
	assert_true(r.body_len > 0);
	resp_free(&r);
	list_free(&l);
}

/* The widest line of a text, in characters (UTF-8 continuation bytes do
 * not count: the timeline's bars are box-drawing glyphs). */
static size_t widest_line(const char *text, size_t len)
{
	size_t widest = 0, cur = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n') {
			widest = cur > widest ? cur : widest;
			cur = 0;
		} else if ((c & 0xC0) != 0x80) {
			cur++;
		}
	}
	return cur > widest ? cur : widest;
}

/* ?width=N: the text is N characters wide (its rows fill it), and the
 * default stays 120; out of range or not a number is a 400 naming
 * "width". */
static void test_ascii_width(void **state)
{
	static const struct {
		const char *query;
		int status;
		size_t width; /* of a 200 */
	} rows[] = {
		{"", 200, 120},
		{"?width=40", 200, 40},
		{"?width=73", 200, 73},
		{"?width=400", 200, 400},
		{"?width=39", 400, 0},
		{"?width=401", 400, 0},
		{"?width=", 400, 0},
		{"?width=80px", 400, 0},
		{"?width=-80", 400, 0},
		{"?width=99999999999999999999", 400, 0},
		{"?width=%C3%A9", 400, 0},
		/* not UTF-8: the message quoting it is still JSON */
		{"?width=%FF%FE", 400, 0},
	};
	struct server *s = *state;
	char id[32], path[160], v[64];
	struct resp r;

	submit(s->port, SHORT_RUN, id);
	assert_string_equal(wait_end(s->port, id), "done");
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		snprintf(path, sizeof(path), "/api/runs/%s/ascii%s", id,
			 rows[i].query);
		http_req(s->port, "GET", path, NULL, NULL, NULL, NULL, &r);
		if (r.status != rows[i].status)
			fail_msg("%s: got %d, want %d: %.*s", path, r.status,
				 rows[i].status, (int)r.body_len, r.body);
		if (r.status == 200) {
			assert_int_equal(widest_line(r.body, r.body_len),
					 rows[i].width);
		} else {
			json_t *j = json_loadb(r.body, r.body_len, 0, NULL);

			assert_non_null(j);
			assert_string_equal(
				json_string_value(json_object_get(j, "field")),
				"width");
			assert_non_null(strstr(
				json_string_value(json_object_get(j, "error")),
				"from 40 to 400"));
			json_decref(j);
			assert_non_null(header_of(r.head, "Content-Type", v,
						  sizeof(v)));
			assert_non_null(strstr(v, "application/json"));
		}
		resp_free(&r);
	}
	/* The width is checked before the run is looked up. */
	http_req(s->port, "GET",
		 "/api/runs/20990101-000000-aaaaaa/ascii?width=3", NULL, NULL,
		 NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	resp_free(&r);
	/* The Chrome export has no width and ignores one. */
	snprintf(path, sizeof(path), "/api/runs/%s/chrome?width=3", id);
	http_req(s->port, "GET", path, NULL, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

/* Read k events, disconnect, resume after the k-th: the union is the
 * whole stream, nothing repeated. */
static void check_resume(int port, const char *id,
			 const struct event_list *full, size_t k)
{
	struct event_list head = {0}, tail = {0};
	char last[32];
	struct sse s;

	assert_int_equal(sse_open(port, id, NULL, &s), 200);
	sse_read(&s, &head, k);
	sse_close(&s);
	assert_int_equal(head.n, k);
	snprintf(last, sizeof(last), "%llu",
		 (unsigned long long)head.ev[k - 1].id);
	if (k == full->n) {
		/* Everything seen, the end included: nothing more. */
		struct sse again;

		assert_int_equal(sse_open(port, id, last, &again), 204);
		sse_close(&again);
	} else {
		read_stream(port, id, last, &tail);
	}
	assert_int_equal(head.n + tail.n, full->n);
	for (size_t i = 0; i < full->n; i++) {
		const struct sse_event *e = i < k ? &head.ev[i]
						  : &tail.ev[i - k];

		assert_int_equal(e->id, full->ev[i].id);
		assert_string_equal(e->type, full->ev[i].type);
		assert_string_equal(e->data, full->ev[i].data);
	}
	list_free(&head);
	list_free(&tail);
}

static void test_sse_resume_finished(void **state)
{
	struct server *s = *state;
	struct event_list full = {0};
	char id[32];
	const size_t ks[] = {1, 2, 5, 0 /* half */, 0 /* n-1 */, 0 /* n */};

	submit(s->port, SEQ_RUN, id);
	assert_string_equal(wait_end(s->port, id), "done");
	read_stream(s->port, id, NULL, &full);
	check_stream_shape(&full, "done");
	for (size_t i = 0; i < sizeof(ks) / sizeof(*ks); i++) {
		size_t k = ks[i];

		if (i == 3)
			k = full.n / 2;
		else if (i == 4)
			k = full.n - 1;
		else if (i == 5)
			k = full.n;
		check_resume(s->port, id, &full, k);
	}
	list_free(&full);
}

static void test_sse_resume_live(void **state)
{
	struct server *s = *state;
	struct event_list head = {0}, tail = {0}, full = {0};
	char id[32], last[32];
	struct sse sse;

	/* Sequential, so events keep coming for ~0.3 s after we look. */
	submit(s->port,
	       "{\"workload\":\"fetch\",\"model\":\"sequential\",\"params\":"
	       "{\"tasks\":8,\"duration\":\"40ms\",\"io\":\"sleep\"}}",
	       id);
	assert_int_equal(sse_open(s->port, id, NULL, &sse), 200);
	sse_read(&sse, &head, 4);
	sse_close(&sse);
	assert_int_equal(head.n, 4);
	snprintf(last, sizeof(last), "%llu", (unsigned long long)head.ev[3].id);
	read_stream(s->port, id, last, &tail);
	read_stream(s->port, id, NULL, &full);
	check_stream_shape(&full, "done");
	assert_int_equal(head.n + tail.n, full.n);
	for (size_t i = 0; i < full.n; i++) {
		const struct sse_event *e = i < head.n ? &head.ev[i]
						       : &tail.ev[i - head.n];

		assert_int_equal(e->id, full.ev[i].id);
		assert_string_equal(e->data, full.ev[i].data);
	}
	list_free(&head);
	list_free(&tail);
	list_free(&full);
}

static void test_two_viewers(void **state)
{
	struct server *s = *state;
	struct event_list a = {0}, b = {0};
	struct sse va, vb;
	char id[32];

	submit(s->port, SEQ_RUN, id);
	assert_int_equal(sse_open(s->port, id, NULL, &va), 200);
	assert_int_equal(sse_open(s->port, id, NULL, &vb), 200);
	/* b is not read while a is read to the end: a viewer that lags
	 * holds up neither the run nor the other viewer. */
	sse_read(&va, &a, 0);
	sse_read(&vb, &b, 0);
	sse_close(&va);
	sse_close(&vb);
	check_stream_shape(&a, "done");
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_int_equal(a.ev[i].id, b.ev[i].id);
		assert_string_equal(a.ev[i].data, b.ev[i].data);
	}
	list_free(&a);
	list_free(&b);
}

static bool wait_viewers(int port, long want);

/* A viewer that reads nothing, with a tiny receive window, on a run of
 * megabytes of events: the run ends and another viewer gets everything. */
static void test_stalled_viewer(void **state)
{
	struct server *s = *state;
	struct event_list l = {0};
	struct sse stalled;
	size_t bytes = 0;
	char id[32];

	submit(s->port,
	       "{\"workload\":\"fetch\",\"model\":\"asyncio\",\"params\":"
	       "{\"tasks\":10000,\"duration\":\"1ms\",\"io\":\"sleep\"}}",
	       id);
	next_rcvbuf = 4096;
	assert_int_equal(sse_open(s->port, id, NULL, &stalled), 200);
	read_stream(s->port, id, NULL, &l);
	check_stream_shape(&l, "done");
	/* More than the kernel buffers on both sides of the stalled
	 * connection hold (its window is 4 KiB, a send buffer grows to
	 * 4 MiB): the stalled viewer's thread is stuck in a write. */
	for (size_t i = 0; i < l.n; i++)
		bytes += strlen(l.ev[i].data);
	assert_true(bytes > 6 * 1024 * 1024);
	list_free(&l);
	sse_close(&stalled);
	assert_true(wait_viewers(s->port, 0));
}

static long viewers(int port)
{
	json_t *j = get_json(port, "/healthz", 200);
	long n = (long)json_integer_value(json_object_get(j, "viewers"));

	json_decref(j);
	return n;
}

/* Polls /healthz until the viewer count is want; false at the deadline. */
static bool wait_viewers(int port, long want)
{
	struct timespec pause = {0, 20 * 1000 * 1000};

	for (int i = 0; i < IO_TIMEOUT_S * 50; i++) {
		if (viewers(port) == want)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

static void test_viewer_freed(void **state)
{
	struct server *s = *state;
	struct sse v;
	char id[32];
	json_t *t;

	submit(s->port, LONG_RUN, id);
	wait_running(s->port, id, &v);
	assert_int_equal(viewers(s->port), 1);
	sse_close(&v); /* mid-stream */
	assert_true(wait_viewers(s->port, 0));
	/* Freed while the run still goes: not merely at its end. */
	t = run_trace(s->port, id);
	assert_string_equal(trace_status(t), "running");
	json_decref(t);
	assert_int_equal(delete_run(s->port, id), 200);
	assert_string_equal(wait_end(s->port, id), "cancelled");
	assert_true(wait_viewers(s->port, 0));
}

static void test_partial_trace(void **state)
{
	struct server *s = *state;
	struct sse v;
	char id[32];
	json_t *t;

	submit(s->port, LONG_RUN, id);
	wait_running(s->port, id, &v);
	assert_true(sse_until(&v, "segment", NULL));
	t = run_trace(s->port, id);
	assert_string_equal(trace_status(t), "running");
	assert_int_equal(json_array_size(json_object_get(t, "tasks")), 100);
	assert_true(json_array_size(json_object_get(t, "segments")) >= 1);
	assert_true(json_is_null(json_object_get(t, "summary")));
	json_decref(t);
	sse_close(&v);
	assert_int_equal(delete_run(s->port, id), 200);
	assert_string_equal(wait_end(s->port, id), "cancelled");
	t = run_trace(s->port, id);
	assert_string_equal(trace_status(t), "cancelled");
	/* The runner was asked to stop, not killed: the trace is whole.
	 * Every task ended; the one cut short keeps its wait up to the
	 * cancel; there is a summary. */
	{
		json_t *tasks = json_object_get(t, "tasks");
		json_t *segs = json_object_get(t, "segments");
		size_t i, cut = 0;
		json_t *seg, *task;

		json_array_foreach(tasks, i, task) {
			assert_true(json_is_integer(
				json_object_get(task, "end_ns")));
			assert_true(json_is_string(
				json_object_get(task, "status")));
		}
		json_array_foreach(segs, i, seg) {
			task = json_array_get(
				tasks, (size_t)json_integer_value(
					       json_object_get(seg, "task")));
			if (strcmp(json_string_value(
					   json_object_get(task, "status")),
				   "cancelled") == 0)
				cut++;
		}
		assert_int_equal(cut, 1);
		assert_true(json_is_object(json_object_get(t, "summary")));
	}
	json_decref(t);
}

/* The runner's pid: the server's only child. */
static pid_t runner_pid(pid_t server)
{
	char path[64];
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)server);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && !found) {
		char file[300], buf[256];
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/children",
			 (int)server, de->d_name);
		f = fopen(file, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			found = (pid_t)atoi(buf);
		fclose(f);
	}
	closedir(d);
	return found;
}

static void test_runner_killed(void **state)
{
	struct server *s = *state;
	struct sse v;
	char id[32];
	pid_t child;
	json_t *t, *list, *first;

	submit(s->port, LONG_RUN, id);
	wait_running(s->port, id, &v);
	child = runner_pid(s->pid);
	assert_true(child > 0);
	assert_int_equal(tmp_entries(s), 1); /* the run's own folder */
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_true(sse_until(&v, "end", "error"));
	sse_close(&v);
	/* Concluded only once its group was reaped and its folder gone. */
	assert_int_equal(group_alive(child), 0);
	assert_int_equal(tmp_entries(s), 0);
	t = run_trace(s->port, id);
	assert_string_equal(trace_status(t), "error");
	assert_non_null(strstr(json_string_value(json_object_get(
				       json_object_get(t, "run"), "message")),
			       "runner killed by signal 9"));
	/* Every task the runner left unfinished says what became of it. */
	{
		size_t i, cut = 0;
		json_t *task;

		json_array_foreach(json_object_get(t, "tasks"), i, task) {
			const char *st = json_string_value(
				json_object_get(task, "status"));

			assert_non_null(st);
			if (strcmp(st, "error") == 0) {
				assert_non_null(strstr(
					json_string_value(
						json_object_get(task, "note")),
					"runner killed by signal 9"));
				cut++;
			}
		}
		assert_true(cut >= 1);
	}
	json_decref(t);
	list = get_json(s->port, "/api/runs", 200);
	first = json_array_get(json_object_get(list, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "status")),
			    "error");
	json_decref(list);
	/* The server carries on. */
	submit(s->port, SHORT_RUN, id);
	assert_string_equal(wait_end(s->port, id), "done");
}

static void test_wall_limit(void **state)
{
	struct server *s = *state;
	char id[32];
	json_t *t;
	const char *message;

	server_start(s, "--max-run-s", "1", NULL);
	submit(s->port, LONG_RUN, id);
	assert_string_equal(wait_end(s->port, id), "error");
	t = run_trace(s->port, id);
	message = json_string_value(
		json_object_get(json_object_get(t, "run"), "message"));
	assert_non_null(strstr(message, "wall-clock limit of 1 s"));
	json_decref(t);
	/* The group was killed: the next run has the runner to itself. */
	submit(s->port, SHORT_RUN, id);
	assert_string_equal(wait_end(s->port, id), "done");
}

static void test_queue_full(void **state)
{
	struct server *s = *state;
	char a[32], b[32], c[32], v[64];
	struct resp r;
	struct sse sa;
	json_t *j;

	server_start(s, "--queue", "2", NULL);
	submit(s->port, LONG_RUN, a);
	wait_running(s->port, a, &sa);
	submit(s->port, LONG_RUN, b);
	submit(s->port, SHORT_RUN, c);
	j = get_json(s->port, "/healthz", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "queue")), 2);
	json_decref(j);

	http_req(s->port, "POST", "/api/runs", NULL, "application/json", NULL,
		 SHORT_RUN, &r);
	assert_int_equal(r.status, 429);
	assert_non_null(header_of(r.head, "Retry-After", v, sizeof(v)));
	assert_true(atoi(v) >= 1);
	resp_free(&r);
	/* A compare needs two places: refused whole. */
	http_req(s->port, "POST", "/api/compares", NULL, "application/json",
		 NULL,
		 "{\"workload\":\"fetch\",\"models\":[\"sequential\","
		 "\"threads\"]}",
		 &r);
	assert_int_equal(r.status, 429);
	resp_free(&r);

	/* Cancel the queued one, then the running one; c then runs. */
	assert_int_equal(delete_run(s->port, b), 200);
	assert_string_equal(wait_end(s->port, b), "cancelled");
	assert_int_equal(delete_run(s->port, a), 200);
	assert_true(sse_until(&sa, "end", "cancelled"));
	sse_close(&sa);
	assert_string_equal(wait_end(s->port, c), "done");
}

static void test_delete_finished(void **state)
{
	struct server *s = *state;
	char id[32], path[256];
	struct resp r;
	json_t *j;

	submit(s->port, SHORT_RUN, id);
	assert_string_equal(wait_end(s->port, id), "done");
	snprintf(path, sizeof(path), "%s/runs/%s.json", s->data, id);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "/api/runs/%s", id);
	http_req(s->port, "DELETE", path, NULL, "application/json", NULL, NULL,
		 &r);
	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_true(json_is_true(json_object_get(j, "deleted")));
	json_decref(j);
	resp_free(&r);
	json_decref(get_json(s->port, path, 404));
	assert_int_equal(delete_run(s->port, id), 404);
	{
		static const char *const exts[] = {"json", "meta", "events"};

		for (size_t i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/runs/%s.%s", s->data,
				 id, exts[i]);
			assert_int_equal(access(path, F_OK), -1);
		}
	}
}

static void test_restart(void **state)
{
	struct server *s = *state;
	char done_id[32], cut_id[32], path[256], stale[256];
	struct event_list l = {0};
	char *before, *after;
	struct sse v;
	size_t len;
	json_t *t, *list;
	pid_t runner;
	FILE *f;

	submit(s->port, SHORT_RUN, done_id);
	assert_string_equal(wait_end(s->port, done_id), "done");
	snprintf(path, sizeof(path), "%s/runs/%s.json", s->data, done_id);
	f = fopen(path, "r");
	assert_non_null(f);
	before = calloc(1, 1 << 20);
	len = fread(before, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(len > 0);

	submit(s->port, LONG_RUN, cut_id);
	wait_running(s->port, cut_id, &v);
	assert_true(sse_until(&v, "segment", NULL));
	runner = runner_pid(s->pid);
	assert_true(runner > 0);
	server_kill9(s);
	sse_close(&v);
	/* The runner dies with the server; its folder stays behind. */
	assert_true(wait_group_gone(runner));
	assert_int_equal(tmp_entries(s), 1);
	/* A temporary file a crash could leave behind. */
	snprintf(stale, sizeof(stale), "%s/runs/.%s.json.tmp-abcdef", s->data,
		 done_id);
	write_file(stale, "{half");

	server_start(s, NULL);
	assert_int_equal(access(stale, F_OK), -1);
	/* The folder the crash left is removed at start. */
	assert_int_equal(tmp_entries(s), 0);
	list = get_json(s->port, "/api/runs", 200);
	assert_int_equal(json_array_size(json_object_get(list, "runs")), 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(list, "runs"), 0),
			"id")),
		cut_id);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(list, "runs"), 0),
			"status")),
		"interrupted");
	json_decref(list);
	t = run_trace(s->port, cut_id);
	assert_string_equal(trace_status(t), "interrupted");
	assert_non_null(strstr(json_string_value(json_object_get(
				       json_object_get(t, "run"), "message")),
			       "while this run was running"));
	/* What was streamed before the crash is kept. */
	assert_true(json_array_size(json_object_get(t, "segments")) >= 1);
	json_decref(t);
	read_stream(s->port, cut_id, NULL, &l);
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.ev[i].id, i + 1);
	assert_string_equal(l.ev[l.n - 1].type, "end");
	assert_non_null(strstr(l.ev[l.n - 1].data, "interrupted"));
	list_free(&l);

	/* The finished run is untouched. */
	f = fopen(path, "r");
	assert_non_null(f);
	after = calloc(1, 1 << 20);
	assert_int_equal(fread(after, 1, (1 << 20) - 1, f), len);
	fclose(f);
	assert_memory_equal(before, after, len);
	free(before);
	free(after);
	t = run_trace(s->port, done_id);
	assert_string_equal(trace_status(t), "done");
	json_decref(t);
}

/* The last event of a list: its type and its status. */
static void check_last(const struct event_list *l, const char *type,
		       const char *status)
{
	json_t *j;

	assert_true(l->n > 0);
	assert_string_equal(l->ev[l->n - 1].type, type);
	j = json_loads(l->ev[l->n - 1].data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
			    status);
	json_decref(j);
}

/* A stop (SIGTERM) concludes the running run and the queued one as
 * interrupted, and their live viewers read each run's end event before
 * the connection closes, the reason in the status event before it; the
 * store says the same after a restart. */
static void test_stop_ends_streams(void **state)
{
	struct server *s = *state;
	struct event_list la = {0}, lb = {0};
	char running[32], queued[32];
	struct sse a, b;
	pid_t runner;
	json_t *t;

	submit(s->port, LONG_RUN, running);
	submit(s->port, LONG_RUN, queued);
	wait_running(s->port, running, &a);
	assert_int_equal(sse_open(s->port, queued, NULL, &b), 200);
	assert_true(sse_until(&b, "status", "queued"));
	runner = runner_pid(s->pid);
	assert_true(runner > 0);
	server_stop(s);
	/* Nothing of the run outlives the server's stop. */
	assert_int_equal(group_alive(runner), 0);
	assert_int_equal(tmp_entries(s), 0);

	sse_read(&a, &la, 0);
	sse_read(&b, &lb, 0);
	sse_close(&a);
	sse_close(&b);
	check_last(&la, "end", "interrupted");
	check_last(&lb, "end", "interrupted");
	assert_true(la.n >= 2 && lb.n >= 2);
	assert_string_equal(la.ev[la.n - 2].type, "status");
	assert_non_null(strstr(la.ev[la.n - 2].data, "server stopped"));
	assert_string_equal(lb.ev[lb.n - 2].type, "status");
	assert_non_null(strstr(lb.ev[lb.n - 2].data, "server stopped"));
	list_free(&la);
	list_free(&lb);

	server_start(s, NULL);
	t = run_trace(s->port, running);
	assert_string_equal(trace_status(t), "interrupted");
	json_decref(t);
	t = run_trace(s->port, queued);
	assert_string_equal(trace_status(t), "interrupted");
	json_decref(t);
}

static void test_compare(void **state)
{
	struct server *s = *state;
	json_t *c, *got, *runs;
	char path[96];

	c = post_json(s->port, "/api/compares",
		      "{\"workload\":\"fetch\",\"params\":{\"tasks\":2,"
		      "\"duration\":\"20ms\",\"io\":\"sleep\"},\"options\":"
		      "{\"workers\":2},\"models\":[\"sequential\","
		      "\"thread-pool\"]}",
		      202);
	runs = json_object_get(c, "runs");
	assert_int_equal(json_array_size(runs), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(
			wait_end(s->port,
				 json_string_value(json_array_get(runs, i))),
			"done");
	snprintf(path, sizeof(path), "/api/compares/%s",
		 json_string_value(json_object_get(c, "id")));
	got = get_json(s->port, path, 200);
	assert_string_equal(json_string_value(json_object_get(got, "workload")),
			    "fetch");
	runs = json_object_get(got, "runs");
	assert_int_equal(json_array_size(runs), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(runs, 0), "model")),
			    "sequential");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(runs, 1), "model")),
			    "thread-pool");
	for (size_t i = 0; i < 2; i++) {
		json_t *r = json_array_get(runs, i);

		assert_string_equal(
			json_string_value(json_object_get(r, "status")),
			"done");
		assert_true(json_integer_value(json_object_get(
				    json_object_get(r, "summary"), "wall_ns")) >
			    0);
	}
	json_decref(got);
	json_decref(c);

	/* No models named: every model that accepts the spec, each once. */
	c = post_json(s->port, "/api/compares",
		      "{\"workload\":\"fetch\",\"params\":{\"tasks\":1,"
		      "\"duration\":\"10ms\",\"io\":\"sleep\"},\"options\":"
		      "{\"workers\":1}}",
		      202);
	runs = json_object_get(c, "runs");
	assert_true(json_array_size(runs) >= 2);
	snprintf(path, sizeof(path), "/api/compares/%s",
		 json_string_value(json_object_get(c, "id")));
	got = get_json(s->port, path, 200);
	assert_int_equal(json_array_size(json_object_get(got, "runs")),
			 json_array_size(runs));
	for (size_t i = 0; i < json_array_size(runs); i++) {
		const char *model = json_string_value(json_object_get(
			json_array_get(json_object_get(got, "runs"), i),
			"model"));

		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(
				model,
				json_string_value(json_object_get(
					json_array_get(
						json_object_get(got, "runs"), j),
					"model")));
		/* Not waited for: cancelled (queued or running), or, if it
		 * was quick, deleted. */
		{
			char del[96];
			struct resp r;

			snprintf(del, sizeof(del), "/api/runs/%s",
				 json_string_value(json_array_get(runs, i)));
			http_req(s->port, "DELETE", del, NULL,
				 "application/json", NULL, NULL, &r);
			assert_int_equal(r.status, 200);
			if (strstr(r.body, "\"cancelled\""))
				assert_string_equal(
					wait_end(s->port,
						 json_string_value(
							 json_array_get(runs,
									i))),
					"cancelled");
			else
				assert_non_null(strstr(r.body, "\"deleted\""));
			resp_free(&r);
		}
	}
	json_decref(got);
	json_decref(c);

	c = post_json(s->port, "/api/compares",
		      "{\"workload\":\"fetch\",\"models\":[\"nope\"]}", 400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "models");
	json_decref(c);
	c = post_json(s->port, "/api/compares",
		      "{\"workload\":\"fetch\",\"params\":{\"tasks\":0}}", 400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "params.tasks");
	json_decref(c);
	json_decref(
		get_json(s->port, "/api/compares/20990101-000000-aaaaaa", 404));
}

/* Engines: a compare runs a model under the overlap model and under
 * CPython side by side; a client cannot make the server start a file it
 * names, nor name an engine that does not exist. */
static void test_engines(void **state)
{
	struct server *s = *state;
	struct cpython_info py;
	json_t *c, *got, *runs, *trace, *engines;
	char path[96];
	bool offered = false;

	c = post_json(s->port, "/api/runs",
		      "{\"workload\":\"fetch\",\"model\":\"threads\","
		      "\"engine\":\"cpython\",\"python\":\"/bin/sh\"}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "python");
	json_decref(c);
	c = post_json(s->port, "/api/compares",
		      "{\"workload\":\"fetch\",\"engines\":[\"cpython\"],"
		      "\"python\":\"/bin/sh\"}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "python");
	json_decref(c);
	c = post_json(s->port, "/api/runs",
		      "{\"workload\":\"fetch\",\"model\":\"threads\","
		      "\"engine\":\"pypy\"}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "engine");
	json_decref(c);
	if (cpython_probe("", &py) < 0)
		return; /* no python3 here: nothing to run it with */

	/* The catalog offers the interpreters found, python3's first. */
	got = get_json(s->port, "/api/workloads", 200);
	engines = json_object_get(got, "engines");
	for (size_t i = 0; i < json_array_size(engines); i++) {
		json_t *e = json_array_get(engines, i), *list;

		if (strcmp(json_string_value(json_object_get(e, "name")),
			   "cpython") != 0)
			continue;
		list = json_object_get(e, "interpreters");
		assert_true(json_array_size(list) >= 1);
		assert_string_equal(json_string_value(json_object_get(
					    json_array_get(list, 0), "path")),
				    py.path);
		offered = true;
	}
	assert_true(offered);
	json_decref(got);

	c = post_json(s->port, "/api/compares",
		      "{\"workload\":\"fetch\",\"params\":{\"tasks\":2,"
		      "\"duration\":\"20ms\",\"io\":\"sleep\"},\"models\":"
		      "[\"threads\"],\"engines\":[\"overlap\",\"cpython\"]}",
		      202);
	runs = json_object_get(c, "runs");
	assert_int_equal(json_array_size(runs), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(
			wait_end(s->port,
				 json_string_value(json_array_get(runs, i))),
			"done");
	snprintf(path, sizeof(path), "/api/compares/%s",
		 json_string_value(json_object_get(c, "id")));
	got = get_json(s->port, path, 200);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(got, "runs"), 0),
			"engine")),
		"overlap");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(got, "runs"), 1),
			"engine")),
		"cpython");
	json_decref(got);
	snprintf(path, sizeof(path), "/api/runs/%s",
		 json_string_value(json_array_get(runs, 1)));
	trace = get_json(s->port, path, 200);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(trace, "run"), "engine"),
			"name")),
		"cpython");
	assert_int_equal(json_array_size(json_object_get(trace, "segments")),
			 2);
	json_decref(trace);
	json_decref(c);
}

/* A sweep: one run per value, queued together and marked with the
 * sweep in the history; its record gives each point's run, value and
 * summary; what a run would refuse, or a name that is not a number, is a
 * 400 naming "values" or "param". */
static void test_sweeps(void **state)
{
	struct server *s = *state;
	json_t *c, *got, *points, *list;
	const char *id;
	char path[96];
	size_t seen = 0;

	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"fetch\",\"models\":[\"thread-pool\"],"
		      "\"params\":{\"tasks\":2,\"duration\":\"20ms\","
		      "\"io\":\"sleep\"},\"param\":\"workers\","
		      "\"values\":[1,2]}",
		      202);
	id = json_string_value(json_object_get(c, "id"));
	assert_int_equal(json_array_size(json_object_get(c, "runs")), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(
			wait_end(s->port,
				 json_string_value(json_array_get(
					 json_object_get(c, "runs"), i))),
			"done");
	snprintf(path, sizeof(path), "/api/sweeps/%s", id);
	got = get_json(s->port, path, 200);
	assert_string_equal(json_string_value(json_object_get(got, "param")),
			    "workers");
	points = json_object_get(got, "points");
	assert_int_equal(json_array_size(points), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *p = json_array_get(points, i);
		char run[96];
		json_t *trace;

		assert_int_equal(
			json_integer_value(json_object_get(p, "value")),
			(json_int_t)i + 1);
		assert_string_equal(
			json_string_value(json_object_get(p, "status")),
			"done");
		assert_true(json_integer_value(json_object_get(p, "wall_ns")) >
			    0);
		/* The point's run ran with the point's value. */
		snprintf(run, sizeof(run), "/api/runs/%s",
			 json_string_value(json_object_get(p, "run")));
		trace = get_json(s->port, run, 200);
		assert_int_equal(
			json_integer_value(json_object_get(
				json_object_get(json_object_get(trace, "run"),
						"options"),
				"workers")),
			(json_int_t)i + 1);
		json_decref(trace);
	}
	/* Both runs are in the history, marked with the sweep. */
	list = get_json(s->port, "/api/runs", 200);
	for (size_t i = 0; i < json_array_size(json_object_get(list, "runs"));
	     i++) {
		json_t *e = json_array_get(json_object_get(list, "runs"), i);
		const char *sweep =
			json_string_value(json_object_get(e, "sweep"));

		seen += sweep && strcmp(sweep, id) == 0;
	}
	assert_int_equal(seen, 2);
	json_decref(list);
	json_decref(got);
	json_decref(c);

	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"crunch\",\"models\":[\"process-pool\"],"
		      "\"param\":\"workers\",\"values\":[1,100000]}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "values");
	json_decref(c);
	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"crunch\",\"param\":\"gil\","
		      "\"values\":[1,2]}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "param");
	json_decref(c);
	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"crunch\",\"param\":\"workers\"}", 400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "values");
	json_decref(c);
	json_decref(
		get_json(s->port, "/api/sweeps/20990101-000000-aaaaaa", 404));
}

/* A sweep under engine cpython: every point runs in the interpreter (its
 * trace names it) and the record says the engine; what the engine cannot
 * be or run is a 400 naming the field, before anything is queued. */
static void test_sweeps_cpython(void **state)
{
	struct server *s = *state;
	struct cpython_info py;
	json_t *c, *got, *points;
	char path[96];

	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"fetch\",\"models\":[\"thread-pool\"],"
		      "\"param\":\"workers\",\"values\":[1,2],"
		      "\"engine\":\"cpython\",\"python\":\"/bin/sh\"}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "python");
	json_decref(c);
	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"fetch\",\"param\":\"workers\","
		      "\"values\":[1,2],\"engine\":\"pypy\"}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "engine");
	json_decref(c);
	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"crunch\",\"model\":\"interpreter-pool\","
		      "\"param\":\"workers\",\"values\":[1,2],"
		      "\"engine\":\"cpython\"}",
		      400);
	assert_string_equal(json_string_value(json_object_get(c, "field")),
			    "model");
	json_decref(c);
	if (cpython_probe("", &py) < 0)
		return; /* no python3 here: nothing to run it with */
	if (strcmp(py.build, "gil") == 0) {
		c = post_json(s->port, "/api/sweeps",
			      "{\"workload\":\"crunch\",\"model\":\"threads\","
			      "\"param\":\"tasks\",\"values\":[1,2],"
			      "\"options\":{\"gil\":\"off\"},"
			      "\"engine\":\"cpython\"}",
			      400);
		assert_string_equal(
			json_string_value(json_object_get(c, "field")),
			"options.gil");
		json_decref(c);
	}

	c = post_json(s->port, "/api/sweeps",
		      "{\"workload\":\"fetch\",\"models\":[\"thread-pool\"],"
		      "\"params\":{\"tasks\":2,\"duration\":\"20ms\","
		      "\"io\":\"sleep\"},\"param\":\"workers\","
		      "\"values\":[1,2],\"engine\":\"cpython\"}",
		      202);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(
			wait_end(s->port,
				 json_string_value(json_array_get(
					 json_object_get(c, "runs"), i))),
			"done");
	snprintf(path, sizeof(path), "/api/sweeps/%s",
		 json_string_value(json_object_get(c, "id")));
	got = get_json(s->port, path, 200);
	assert_string_equal(json_string_value(json_object_get(got, "engine")),
			    "cpython");
	points = json_object_get(got, "points");
	assert_int_equal(json_array_size(points), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *p = json_array_get(points, i), *trace, *run;
		char url[96];

		snprintf(url, sizeof(url), "/api/runs/%s",
			 json_string_value(json_object_get(p, "run")));
		trace = get_json(s->port, url, 200);
		run = json_object_get(trace, "run");
		assert_string_equal(
			json_string_value(json_object_get(
				json_object_get(run, "engine"), "name")),
			"cpython");
		assert_int_equal(
			json_integer_value(json_object_get(
				json_object_get(run, "options"), "workers")),
			(json_int_t)i + 1);
		json_decref(trace);
	}
	json_decref(got);
	json_decref(c);
}

static void test_heartbeat(void **state)
{
	struct server *s = *state;
	char a[32], b[32];
	struct sse sa, sb;
	struct sse_event ev;
	int comments = 0;

	server_start(s, "--heartbeat-ms", "100", NULL);
	submit(s->port, LONG_RUN, a);
	wait_running(s->port, a, &sa);
	submit(s->port, SHORT_RUN, b);
	/* b waits behind a: its stream says queued, then only heartbeats. */
	assert_int_equal(sse_open(s->port, b, NULL, &sb), 200);
	assert_int_equal(sse_next(&sb, &ev, &comments), 1);
	assert_string_equal(ev.type, "status");
	assert_non_null(strstr(ev.data, "\"queued\""));
	assert_non_null(strstr(ev.data, "\"position\":1"));
	free(ev.data);
	while (comments == 0) {
		assert_true(sse_fill(&sb));
		if (strstr(sb.text ? sb.text : "", ": heartbeat\n\n"))
			comments++;
	}
	assert_int_equal(delete_run(s->port, a), 200);
	assert_true(sse_until(&sb, "status", "running"));
	assert_true(sse_until(&sb, "end", "done"));
	sse_close(&sb);
	sse_close(&sa);
}

/* ---- tests: security and errors ----------------------------------------- */

struct case_row {
	const char *method;
	const char *path;
	const char *host;  /* NULL: 127.0.0.1 */
	const char *ctype; /* NULL: none */
	const char *extra; /* more header lines */
	const char *body;
	int status;
	const char *field; /* expected "field" of a 400, or NULL */
};

static void run_cases(int port, const struct case_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct case_row *c = &rows[i];
		struct resp r;
		char v[512];

		http_req(port, c->method, c->path, c->host, c->ctype, c->extra,
			 c->body, &r);
		if (r.status != c->status)
			fail_msg("case %zu: %s %s: got %d, want %d: %.*s", i,
				 c->method, c->path, r.status, c->status,
				 (int)r.body_len, r.body);
		/* Refusals carry the security headers too. */
		assert_non_null(header_of(r.head, "X-Content-Type-Options", v,
					  sizeof(v)));
		if (c->field) {
			json_t *j = json_loadb(r.body, r.body_len, 0, NULL);

			assert_non_null(j);
			assert_non_null(
				json_string_value(json_object_get(j, "error")));
			assert_string_equal(
				json_string_value(json_object_get(j, "field")),
				c->field);
			json_decref(j);
		}
		resp_free(&r);
	}
}

static void test_security(void **state)
{
	struct server *s = *state;
	static const struct case_row rows[] = {
		/* DNS rebinding: the Host header decides first. */
		{"GET", "/healthz", "evil.example", NULL, NULL, NULL, 403,
		 NULL},
		{"GET", "/", "evil.example:8080", NULL, NULL, NULL, 403, NULL},
		{"POST", "/api/runs", "evil.example", "application/json", NULL,
		 SHORT_RUN, 403, NULL},
		{"GET", "/healthz", "localhost:1234", NULL, NULL, NULL, 200,
		 NULL},
		{"GET", "/healthz", "[::1]:80", NULL, NULL, NULL, 200, NULL},
		{"GET", "/healthz", "127.0.0.1", NULL, NULL, NULL, 200, NULL},
		{"GET", "/healthz", "my.box:9000", NULL, NULL, NULL, 200, NULL},
		{"GET", "/healthz", "other.box:9", NULL, NULL, NULL, 200, NULL},
		{"GET", "/healthz", "other.box:10", NULL, NULL, NULL, 403,
		 NULL},
		{"GET", "/healthz", "localhost.evil.example", NULL, NULL, NULL,
		 403, NULL},
		/* State changes need JSON, and not from another site. */
		{"POST", "/api/runs", NULL, "text/plain", NULL, SHORT_RUN, 415,
		 NULL},
		{"POST", "/api/runs", NULL, NULL, NULL, SHORT_RUN, 415, NULL},
		{"POST", "/api/runs", NULL, "application/x-www-form-urlencoded",
		 NULL, "a=b", 415, NULL},
		{"POST", "/api/runs", NULL, "application/jsonp", NULL,
		 SHORT_RUN, 415, NULL},
		{"DELETE", "/api/runs/20990101-000000-aaaaaa", NULL, NULL, NULL,
		 NULL, 415, NULL},
		{"DELETE", "/api/runs/20990101-000000-aaaaaa", NULL,
		 "application/json", NULL, NULL, 404, NULL},
		{"POST", "/api/runs", NULL, "application/json",
		 "Sec-Fetch-Site: cross-site\r\n", SHORT_RUN, 403, NULL},
		{"POST", "/api/runs", NULL, "application/json; charset=utf-8",
		 "Sec-Fetch-Site: same-origin\r\n",
		 "{\"workload\":\"nope\",\"model\":\"threads\"}", 400,
		 "workload"},
		/* Origin: absent or this server passes; any other is refused,
	     * with or without Sec-Fetch-Site. */
		{"POST", "/api/runs", NULL, "application/json",
		 "Origin: http://evil.example\r\n", SHORT_RUN, 403, NULL},
		{"POST", "/api/runs", NULL, "application/json",
		 "Origin: http://evil.example\r\nSec-Fetch-Site: same-origin\r\n",
		 SHORT_RUN, 403, NULL},
		{"POST", "/api/runs", NULL, "application/json",
		 "Origin: null\r\n", SHORT_RUN, 403, NULL},
		{"POST", "/api/runs", NULL, "application/json",
		 "Origin: https://127.0.0.1\r\n", SHORT_RUN, 403, NULL},
		{"POST", "/api/runs", NULL, "application/json",
		 "Origin: http://127.0.0.1:1\r\n", SHORT_RUN, 403, NULL},
		{"DELETE", "/api/runs/20990101-000000-aaaaaa", NULL,
		 "application/json", "Origin: http://evil.example\r\n", NULL,
		 403, NULL},
		{"POST", "/api/runs", NULL, "application/json",
		 "Origin: http://127.0.0.1\r\n",
		 "{\"workload\":\"nope\",\"model\":\"threads\"}", 400,
		 "workload"},
		{"POST", "/api/runs", "my.box:9000", "application/json",
		 "Origin: http://MY.BOX:9000\r\n",
		 "{\"workload\":\"fetch\",\"model\":\"nope\"}", 400, "model"},
		/* Reading is not a state change: CORS keeps the answer from
	     * another origin's scripts. */
		{"GET", "/healthz", NULL, NULL,
		 "Origin: http://evil.example\r\n", NULL, 200, NULL},
		/* Sizes and bodies. */
		{"POST", "/api/runs", NULL, "application/json", NULL, "{", 400,
		 NULL},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":"
		 "{\"tasks\":0}}",
		 400, "params.tasks"},
	};

	server_start(s, "--allow-host", "my.box", "--allow-host", "other.box:9",
		     NULL);
	run_cases(s->port, rows, sizeof(rows) / sizeof(*rows));
}

static void test_errors(void **state)
{
	struct server *s = *state;
	static const struct case_row rows[] = {
		{"POST", "/api/runs", NULL, "application/json", NULL, "{", 400,
		 NULL},
		{"POST", "/api/runs", NULL, "application/json", NULL, "", 400,
		 NULL},
		{"POST", "/api/runs", NULL, "application/json", NULL, "[1]",
		 400, "body"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":"
		 "{\"tasks\":0}}",
		 400, "params.tasks"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":"
		 "{\"tasks\":100001}}",
		 400, "params.tasks"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"threads\",\"params\":"
		 "{\"duration\":\"5parsecs\"}}",
		 400, "params.duration"},
		/* The Python the model follows, and the costs it charges. */
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"counter\",\"model\":\"threads\","
		 "\"options\":{\"python\":\"3.8\"}}",
		 400, "options.python"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"counter\",\"model\":\"threads\","
		 "\"options\":{\"python\":\"3.9\",\"gil\":\"off\"}}",
		 400, "options.python"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"counter\",\"model\":\"process-pool\","
		 "\"options\":{\"python\":\"3.9\"}}",
		 400, "options.python"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"threads\","
		 "\"options\":{\"costs\":\"cheap\"}}",
		 400, "options.costs"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"sequential\","
		 "\"options\":{\"costs\":\"python\"}}",
		 400, "options.costs"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"counter\",\"model\":\"threads\","
		 "\"params\":{\"call\":\"maybe\"}}",
		 400, "params.call"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"nope\"}", 400, "model"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"threads\",\"bogus\":1}",
		 400, "bogus"},
		/* The disk budget. */
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"custom\",\"model\":\"sequential\",\"params\":"
		 "{\"program\":\"10000 x (disk write 268435456)\"}}",
		 400, "params.program"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"files\",\"model\":\"sequential\",\"params\":"
		 "{\"files\":5,\"size\":268435456}}",
		 400, "params.size"},
		{"POST", "/api/runs", NULL, "application/json", NULL,
		 "{\"workload\":\"fetch\",\"model\":\"threads\",\"id\":\"x\"}",
		 400, "id"},
		/* Routes and methods. */
		{"GET", "/api/nope", NULL, NULL, NULL, NULL, 404, NULL},
		{"GET", "/api/runs/not-an-id", NULL, NULL, NULL, NULL, 404,
		 NULL},
		{"GET", "/api/runs/20990101-000000-aaaaaa", NULL, NULL, NULL,
		 NULL, 404, NULL},
		{"GET", "/api/runs/20990101-000000-aaaaaa/events", NULL, NULL,
		 NULL, NULL, 404, NULL},
		{"GET", "/api/runs/20990101-000000-aaaaaa/chrome", NULL, NULL,
		 NULL, NULL, 404, NULL},
		{"GET", "/api/runs/20990101-000000-aaaaaa/ascii", NULL, NULL,
		 NULL, NULL, 404, NULL},
		{"GET", "/api/runs/20990101-000000-aaaaaa/nope", NULL, NULL,
		 NULL, NULL, 404, NULL},
		{"GET", "/api/runs/..%2f..%2fetc", NULL, NULL, NULL, NULL, 404,
		 NULL},
		{"PUT", "/api/runs", NULL, "application/json", NULL, "{}", 405,
		 NULL},
		{"GET", "/api/compares", NULL, NULL, NULL, NULL, 405, NULL},
		{"POST", "/api/workloads", NULL, "application/json", NULL, "{}",
		 405, NULL},
		{"POST", "/healthz", NULL, "application/json", NULL, "{}", 405,
		 NULL},
		{"POST", "/index.html", NULL, "application/json", NULL, "{}",
		 405, NULL},
		{"GET", "/api/runs/20990101-000000-aaaaaa/events", NULL, NULL,
		 "Last-Event-ID: x1\r\n", NULL, 400, "Last-Event-ID"},
	};
	struct resp r;
	char *big;
	char v[64];

	run_cases(s->port, rows, sizeof(rows) / sizeof(*rows));
	http_req(s->port, "PUT", "/api/runs", NULL, "application/json", NULL,
		 "{}", &r);
	assert_non_null(header_of(r.head, "Allow", v, sizeof(v)));
	assert_non_null(strstr(v, "POST"));
	resp_free(&r);
	/* Every route's 405 names exactly the methods its path takes. */
	{
		static const struct {
			const char *path, *allow;
		} allows[] = {
			{"/healthz", "GET, HEAD"},
			{"/api/workloads", "GET, HEAD"},
			{"/api/runs", "GET, HEAD, POST"},
			{"/api/runs/20990101-000000-aaaaaa",
			 "GET, HEAD, DELETE"},
			{"/api/runs/20990101-000000-aaaaaa/events",
			 "GET, HEAD"},
			{"/api/runs/20990101-000000-aaaaaa/chrome",
			 "GET, HEAD"},
			{"/api/runs/20990101-000000-aaaaaa/ascii", "GET, HEAD"},
			{"/api/compares", "POST"},
			{"/api/compares/20990101-000000-aaaaaa", "GET, HEAD"},
			{"/index.html", "GET, HEAD"},
		};

		for (size_t i = 0; i < sizeof(allows) / sizeof(*allows); i++) {
			http_req(s->port, "PUT", allows[i].path, NULL,
				 "application/json", NULL, "{}", &r);
			assert_int_equal(r.status, 405);
			assert_non_null(
				header_of(r.head, "Allow", v, sizeof(v)));
			assert_string_equal(v, allows[i].allow);
			resp_free(&r);
		}
	}

	/* Bodies over 64 KiB: declared (refused before it is sent) and
	 * chunked (refused once it is over). */
	{
		const char *req =
			"POST /api/runs HTTP/1.1\r\nHost: localhost\r\n"
			"Content-Type: application/json\r\n"
			"Content-Length: 70000\r\n"
			"Connection: close\r\n\r\n";
		http_raw(s->port, req, strlen(req), &r);
		assert_int_equal(r.status, 413);
		resp_free(&r);
	}
	{
		size_t body = 70000, n;
		char *req = malloc(body + 512);

		n = (size_t)sprintf(req,
				    "POST /api/runs HTTP/1.1\r\nHost: "
				    "localhost\r\nContent-Type: "
				    "application/json\r\nTransfer-Encoding: "
				    "chunked\r\nConnection: close\r\n\r\n"
				    "%zx\r\n",
				    body);
		memset(req + n, ' ', body);
		n += body;
		n += (size_t)sprintf(req + n, "\r\n0\r\n\r\n");
		http_raw(s->port, req, n, &r);
		assert_int_equal(r.status, 413);
		resp_free(&r);
		free(req);
	}
	/* Just under the limit is read (and then judged as JSON). */
	big = malloc(64 * 1024 + 1);
	memset(big, ' ', 64 * 1024);
	big[0] = '{';
	big[64 * 1024 - 1] = '}';
	big[64 * 1024] = '\0';
	http_req(s->port, "POST", "/api/runs", NULL, "application/json", NULL,
		 big, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "workload"));
	resp_free(&r);
	free(big);
}

static void test_static(void **state)
{
	struct server *s = *state;
	static const struct {
		const char *path;
		int status;
		const char *type;
		const char *body;
	} rows[] = {
		{"/", 200, "text/html", "overlap test"},
		{"/index.html", 200, "text/html", "overlap test"},
		{"/app.js", 200, "text/javascript", "answer"},
		{"/style.css", 200, "text/css", "margin"},
		{"/node_modules/chart.js/chart.umd.js", 200, "text/javascript",
		 "chart"},
		{"/../secret.txt", 404, NULL, NULL},
		{"/%2e%2e/secret.txt", 404, NULL, NULL},
		{"/%2E%2E%2Fsecret.txt", 404, NULL, NULL},
		{"/node_modules/../../secret.txt", 404, NULL, NULL},
		{"/./index.html", 404, NULL, NULL},
		{"/.hidden", 404, NULL, NULL},
		{"/%2ehidden", 404, NULL, NULL},
		{"/node_modules/", 404, NULL, NULL},
		{"/node_modules", 404, NULL, NULL},
		{"//etc/passwd", 404, NULL, NULL},
		{"/escape.txt", 404, NULL, NULL},
		{"/missing.js", 404, NULL, NULL},
		{"/app.js%00.txt", 400, NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		struct resp r;
		char v[512];

		http_req(s->port, "GET", rows[i].path, NULL, NULL, NULL, NULL,
			 &r);
		if (r.status != rows[i].status)
			fail_msg("%s: got %d, want %d", rows[i].path, r.status,
				 rows[i].status);
		assert_non_null(header_of(r.head, "Content-Security-Policy", v,
					  sizeof(v)));
		assert_non_null(header_of(r.head, "X-Content-Type-Options", v,
					  sizeof(v)));
		if (rows[i].type) {
			assert_non_null(header_of(r.head, "Content-Type", v,
						  sizeof(v)));
			assert_non_null(strstr(v, rows[i].type));
			assert_non_null(strstr(r.body, rows[i].body));
		} else {
			assert_null(strstr(r.body, "outside the web"));
			assert_null(strstr(r.body, "dotfile"));
		}
		resp_free(&r);
	}
}

/* An IPv4 address of this machine other than loopback, with a port. */
static bool own_address(char *out, size_t size)
{
	struct ifaddrs *list, *ifa;
	bool found = false;

	if (getifaddrs(&list) < 0)
		return false;
	for (ifa = list; ifa && !found; ifa = ifa->ifa_next) {
		const struct sockaddr_in *v4 =
			(const struct sockaddr_in *)ifa->ifa_addr;
		char text[INET_ADDRSTRLEN];

		if (!v4 || v4->sin_family != AF_INET ||
		    (ntohl(v4->sin_addr.s_addr) >> 24) == 127)
			continue;
		inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
		snprintf(out, size, "%s:8080", text);
		found = true;
	}
	freeifaddrs(list);
	return found;
}

static void test_token(void **state)
{
	struct server *s = *state;
	static const struct case_row rows[] = {
		{"GET", "/healthz", NULL, NULL, NULL, NULL, 401, NULL},
		{"GET", "/", NULL, NULL, NULL, NULL, 401, NULL},
		{"GET", "/healthz", NULL, NULL,
		 "Authorization: Bearer wrong-token-1\r\n", NULL, 401, NULL},
		{"GET", "/healthz", NULL, NULL,
		 "Authorization: Bearer secret-token-1\r\n", NULL, 200, NULL},
		{"GET", "/healthz", NULL, NULL,
		 "Cookie: overlap_token=secret-token-1\r\n", NULL, 200, NULL},
		{"GET", "/healthz?token=secret-token-1", NULL, NULL, NULL, NULL,
		 200, NULL},
		{"GET", "/healthz?token=secret-token-2", NULL, NULL, NULL, NULL,
		 401, NULL},
		/* The Host check comes before anything else. */
		{"GET", "/healthz", "evil.example", NULL,
		 "Authorization: Bearer secret-token-1\r\n", NULL, 403, NULL},
	};
	struct resp r;
	char v[256];

	server_start(s, "--token", "secret-token-1", NULL);
	assert_non_null(strstr(s->url, "?token=secret-token-1"));
	run_cases(s->port, rows, sizeof(rows) / sizeof(*rows));
	/* The token in the URL sets a cookie for the page's own requests. */
	http_req(s->port, "GET", "/?token=secret-token-1", NULL, NULL, NULL,
		 NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header_of(r.head, "Set-Cookie", v, sizeof(v)));
	assert_non_null(strstr(v, "overlap_token=secret-token-1"));
	assert_non_null(strstr(v, "HttpOnly"));
	assert_non_null(strstr(v, "SameSite=Strict"));
	resp_free(&r);
	server_stop(s);

	/* Not loopback and no token given: one is made and printed. */
	server_start(s, "--listen", "0.0.0.0", NULL);
	{
		const char *t = strstr(s->url, "?token=");
		char auth[128], host[INET6_ADDRSTRLEN + 8];

		assert_non_null(t);
		assert_true(strlen(t + 7) >= 16);
		http_req(s->port, "GET", "/healthz", NULL, NULL, NULL, NULL,
			 &r);
		assert_int_equal(r.status, 401);
		resp_free(&r);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n",
			 t + 7);
		http_req(s->port, "GET", "/healthz", NULL, NULL, auth, NULL,
			 &r);
		assert_int_equal(r.status, 200);
		resp_free(&r);
		/* Listening on every address, the machine's own addresses
		 * are names it answers to. */
		if (own_address(host, sizeof(host))) {
			http_req(s->port, "GET", "/healthz", host, NULL, auth,
				 NULL, &r);
			assert_int_equal(r.status, 200);
			resp_free(&r);
		} else {
			printf("test_token: no address but loopback here; "
			       "the own-address Host is not tested\n");
		}
		http_req(s->port, "GET", "/healthz", "203.0.113.77", NULL, auth,
			 NULL, &r);
		assert_int_equal(r.status, 403);
		resp_free(&r);
	}
}

static void test_bad_usage(void **state)
{
	static const char *const cases[][4] = {
		{"--port", "70000", NULL, NULL},
		{"--queue", "0", NULL, NULL},
		{"--listen", "not-an-address", NULL, NULL},
		{"--token", "short", NULL, NULL},
		{"--bogus", NULL, NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *argv[8] = {overlap_bin(), "serve"};
		int status, n = 2;
		pid_t pid;

		for (int j = 0; j < 4 && cases[i][j]; j++)
			argv[n++] = cases[i][j];
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 2);
			dup2(null, 1);
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
	}
}

/* ---- tests: faults ----------------------------------------------------- */

/* Writes 16 MiB files, one after another, for seconds: cancelled early. */
#define DISK_RUN                                                               \
	"{\"workload\":\"custom\",\"model\":\"sequential\",\"params\":"        \
	"{\"program\":\"40 x (disk write 16MiB, sleep 50ms)\"}}"

/* A cancel of a run that is writing files: its group is reaped and its
 * temporary folder removed before its end is sent. */
static void test_cancel_disk_run(void **state)
{
	struct server *s = *state;
	struct sse v;
	char id[32];
	pid_t runner;

	submit(s->port, DISK_RUN, id);
	wait_running(s->port, id, &v);
	assert_true(sse_until(&v, "segment", NULL)); /* a file written */
	runner = runner_pid(s->pid);
	assert_true(runner > 0);
	assert_int_equal(tmp_entries(s), 1);
	assert_int_equal(delete_run(s->port, id), 200);
	assert_true(sse_until(&v, "end", "cancelled"));
	sse_close(&v);
	assert_int_equal(group_alive(runner), 0);
	assert_int_equal(tmp_entries(s), 0);
}

/* The pid of the worker process that runs the first task seen sleeping:
 * the lane of its "open" event, whose "lane" event gave its pid. */
static pid_t busy_worker(struct sse *v)
{
	pid_t lane_pid[16] = {0};
	struct sse_event ev;
	pid_t found = 0;

	while (!found && sse_next(v, &ev, NULL) == 1) {
		json_t *j = json_loads(ev.data, 0, NULL);

		if (strcmp(ev.type, "lane") == 0) {
			json_t *lane = json_object_get(j, "lane");
			json_int_t id =
				json_integer_value(json_object_get(lane, "id"));

			if (id >= 0 && id < 16)
				lane_pid[id] = (pid_t)json_integer_value(
					json_object_get(lane, "os_id"));
		} else if (strcmp(ev.type, "open") == 0) {
			json_int_t id =
				json_integer_value(json_object_get(j, "lane"));

			if (id > 0 && id < 16)
				found = lane_pid[id];
		}
		json_decref(j);
		free(ev.data);
	}
	return found;
}

/* kill -9 of a process-pool worker while it runs a task: the pool
 * replaces it, that task ends with status error, the others run, the run
 * finishes; nothing is left over. */
static void test_worker_killed(void **state)
{
	struct server *s = *state;
	struct sse v;
	pid_t runner, worker;
	char id[32];
	json_t *t, *task;
	size_t i, errors = 0;

	submit(s->port,
	       "{\"workload\":\"custom\",\"model\":\"process-pool\","
	       "\"params\":{\"program\":\"4 x (sleep 400ms)\"},"
	       "\"options\":{\"workers\":2}}",
	       id);
	assert_int_equal(sse_open(s->port, id, NULL, &v), 200);
	worker = busy_worker(&v);
	assert_true(worker > 0);
	runner = runner_pid(s->pid);
	assert_true(runner > 0);
	assert_int_equal(kill(worker, SIGKILL), 0);
	assert_true(sse_until(&v, "end", NULL));
	sse_close(&v);
	t = run_trace(s->port, id);
	assert_string_equal(trace_status(t), "done");
	json_array_foreach(json_object_get(t, "tasks"), i, task) {
		const char *st =
			json_string_value(json_object_get(task, "status"));

		assert_non_null(st);
		errors += strcmp(st, "error") == 0;
	}
	assert_int_equal(errors, 1);
	json_decref(t);
	assert_int_equal(group_alive(runner), 0);
	assert_int_equal(tmp_entries(s), 0);
}

/* The data directory fills up (a small tmpfs, where the machine allows
 * one): the run whose events no longer fit ends as error with the reason,
 * its viewers read that status and the end, its address still answers;
 * a new submission gets 507; the run stored before is untouched. */
static void test_disk_full(void **state)
{
	struct server *s = *state;
	char done_id[32], big_id[32], path[96], filler[256];
	struct event_list l = {0};
	struct resp before, after, r;
	json_t *t, *list, *first;
	const char *msg;
	int fd;

	if (mkdir(s->data, 0700) < 0 || mount("overlap-test", s->data, "tmpfs",
					      0, "size=3m,mode=0700") < 0) {
		printf("test_disk_full: skipped: cannot mount a tmpfs on %s "
		       "(%s)\n",
		       s->data, strerror(errno));
		skip();
	}
	s->mounted = true;
	server_start(s, NULL);
	submit(s->port, SHORT_RUN, done_id);
	assert_string_equal(wait_end(s->port, done_id), "done");
	snprintf(path, sizeof(path), "/api/runs/%s", done_id);
	http_req(s->port, "GET", path, NULL, NULL, NULL, NULL, &before);
	assert_int_equal(before.status, 200);

	/* About 6 MB of events into 3 MB. */
	submit(s->port,
	       "{\"workload\":\"fetch\",\"model\":\"asyncio\",\"params\":"
	       "{\"tasks\":10000,\"duration\":\"1ms\",\"io\":\"sleep\"}}",
	       big_id);
	read_stream(s->port, big_id, NULL, &l);
	check_last(&l, "end", "error");
	assert_string_equal(l.ev[l.n - 2].type, "status");
	assert_non_null(strstr(l.ev[l.n - 2].data, "could not be stored"));
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.ev[i].id, i + 1);
	list_free(&l);
	list = get_json(s->port, "/api/runs", 200);
	first = json_array_get(json_object_get(list, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "id")),
			    big_id);
	assert_string_equal(json_string_value(json_object_get(first, "status")),
			    "error");
	msg = json_string_value(json_object_get(first, "message"));
	assert_non_null(strstr(msg, strerror(ENOSPC)));
	json_decref(list);
	t = run_trace(s->port, big_id);
	assert_string_equal(trace_status(t), "error");
	json_decref(t);

	/* Whatever room is left, taken: a new run cannot be stored. */
	snprintf(filler, sizeof(filler), "%s/filler", s->data);
	fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	{
		static char block[4096];

		while (write(fd, block, sizeof(block)) > 0)
			;
	}
	close(fd);
	http_req(s->port, "POST", "/api/runs", NULL, "application/json", NULL,
		 SHORT_RUN, &r);
	assert_int_equal(r.status, 507);
	assert_non_null(strstr(r.body, "full"));
	resp_free(&r);

	/* The run stored before is as it was. */
	http_req(s->port, "GET", path, NULL, NULL, NULL, NULL, &after);
	assert_int_equal(after.status, 200);
	assert_int_equal(after.body_len, before.body_len);
	assert_memory_equal(after.body, before.body, before.body_len);
	resp_free(&before);
	resp_free(&after);
	unlink(filler);
	server_stop(s);
}

/* ---- tests: slow and stuck clients -------------------------------------- */

/* The rest of a response that sse_open() did not take: the body of a
 * refusal. */
static char *sse_rest(struct sse *s)
{
	while (sse_fill(s))
		;
	return s->text ? s->text : "";
}

/* Event streams are capped in total and per client address: 429 beyond,
 * with the cap in the message, and the place is free again once a viewer
 * goes. */
static void test_viewer_caps(void **state)
{
	struct server *s = *state;
	struct sse a, b, c, d, e, f;
	char id[32];

	server_start(s, "--max-viewers", "3", "--max-viewers-per-address", "2",
		     NULL);
	submit(s->port, LONG_RUN, id);
	wait_running(s->port, id, &a);
	assert_int_equal(sse_open(s->port, id, NULL, &b), 200);
	assert_int_equal(sse_open(s->port, id, NULL, &c), 429);
	assert_non_null(strstr(sse_rest(&c), "from your address (at most 2)"));
	sse_close(&c);
	next_source = "127.0.0.2";
	assert_int_equal(sse_open(s->port, id, NULL, &d), 200);
	next_source = "127.0.0.3";
	assert_int_equal(sse_open(s->port, id, NULL, &e), 429);
	assert_non_null(strstr(sse_rest(&e), "at most 3 in all"));
	sse_close(&e);
	assert_int_equal(viewers(s->port), 3);
	sse_close(&a);
	assert_true(wait_viewers(s->port, 2));
	next_source = "127.0.0.3";
	assert_int_equal(sse_open(s->port, id, NULL, &f), 200);
	sse_close(&b);
	sse_close(&d);
	sse_close(&f);
	/* The server frees a closed viewer's place when it notices; the
	 * stream wait_end() opens needs one. */
	assert_true(wait_viewers(s->port, 0));
	assert_int_equal(delete_run(s->port, id), 200);
	assert_string_equal(wait_end(s->port, id), "cancelled");
}

/* A viewer that stops reading (its socket stays full) is closed by the
 * server, and resumes where it was with Last-Event-ID. */
static void test_stuck_viewer(void **state)
{
	struct server *s = *state;
	struct event_list got = {0}, rest = {0};
	struct sse stuck;
	char id[32], last[32];
	json_t *t;
	size_t tasks;

	submit(s->port,
	       "{\"workload\":\"fetch\",\"model\":\"asyncio\",\"params\":"
	       "{\"tasks\":10000,\"duration\":\"1ms\",\"io\":\"sleep\"}}",
	       id);
	assert_string_equal(wait_end(s->port, id), "done");
	next_rcvbuf = 4096;
	assert_int_equal(sse_open(s->port, id, NULL, &stuck), 200);
	/* It reads nothing: the server closes it (and says so: the viewer
	 * count falls) well before the stream is sent. */
	assert_true(wait_viewers(s->port, 0));
	sse_read(&stuck, &got, 0);
	sse_close(&stuck);
	assert_true(got.n >= 1);
	assert_string_not_equal(got.ev[got.n - 1].type, "end");
	snprintf(last, sizeof(last), "%llu",
		 (unsigned long long)got.ev[got.n - 1].id);
	read_stream(s->port, id, last, &rest);
	assert_int_equal(rest.ev[0].id, got.ev[got.n - 1].id + 1);
	assert_string_equal(rest.ev[rest.n - 1].type, "end");
	t = run_trace(s->port, id);
	tasks = json_array_size(json_object_get(t, "tasks"));
	assert_int_equal(tasks, 10000);
	json_decref(t);
	list_free(&got);
	list_free(&rest);
}

/* A client address holds at most --max-connections-per-address; another
 * address is served meanwhile. */
static void test_connections_per_address(void **state)
{
	struct server *s = *state;
	int held[4], extra;
	char byte;
	struct resp r;

	server_start(s, "--max-connections-per-address", "4", NULL);
	for (int i = 0; i < 4; i++) {
		next_source = "127.0.0.2";
		held[i] = connect_port(s->port);
		send_all(held[i], "GET /healthz HTTP/1.1\r\n", 23);
	}
	/* The fifth from that address is closed unanswered. */
	next_source = "127.0.0.2";
	extra = connect_port(s->port);
	assert_true(recv(extra, &byte, 1, 0) <= 0);
	close(extra);
	http_req(s->port, "GET", "/healthz", NULL, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* A request that never ends is cut at the deadline: the server
	 * closes it unanswered, long before IO_TIMEOUT_S. */
	assert_true(recv(held[0], &byte, 1, 0) <= 0);
	for (int i = 0; i < 4; i++)
		close(held[i]);
}

/* 500 connections that trickle their request heads and 300 viewers that
 * never read, from addresses of their own: the API keeps answering every
 * probe while the attack holds.  (How fast: make bench.) */
static void test_slowloris(void **state)
{
	struct server *s = *state;
	struct slowloris_config c = {
		.trickle = 500,
		.viewers = 300,
		.trickle_source = "127.0.0.2",
		.viewer_source = "127.0.0.3",
		.seconds = 12,
		.grace_s = 20,
	};
	struct slowloris_result r;
	char id[32], path[96];

	submit(s->port,
	       "{\"workload\":\"fetch\",\"model\":\"asyncio\",\"params\":"
	       "{\"tasks\":10000,\"duration\":\"1ms\",\"io\":\"sleep\"}}",
	       id);
	assert_string_equal(wait_end(s->port, id), "done");
	snprintf(path, sizeof(path), "/api/runs/%s/events", id);
	c.port = s->port;
	c.viewer_path = path;
	assert_int_equal(slowloris_run(&c, &r), 0);
	printf("slowloris: %d of %d probes answered; %d trickling connections "
	       "cut at the deadline; viewers: %d refused (429), %d closed "
	       "stuck\n",
	       r.answered, r.probes, r.held_then_cut, r.viewers_refused,
	       r.viewers_cut);
	assert_true(r.probes >= 10);
	/* At least 99%: with fewer than 100 probes, every one. */
	assert_true(r.answered * 100 >= r.probes * 99);
	/* The defences were exercised, not merely idle. */
	assert_true(r.held_then_cut >= 1);
	assert_true(r.viewers_refused >= 1);
	assert_true(r.viewers_cut >= 1);
	assert_true(wait_viewers(s->port, 0));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_healthz_and_headers,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_workloads, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_catalog_refusals,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_run_lifecycle,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_sse_resume_finished,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_sse_resume_live,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_two_viewers, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_stalled_viewer,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_viewer_freed,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_partial_trace,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_runner_killed,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_wall_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_finished,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_engines, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_sweeps, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_sweeps_cpython,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_compare, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_ascii_width, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_ends_streams,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_security, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_static, setup_started,
						teardown),
		cmocka_unit_test_setup_teardown(test_token, setup, teardown),
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test_setup_teardown(test_cancel_disk_run,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_worker_killed,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_viewer_caps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stuck_viewer,
						setup_started, teardown),
		cmocka_unit_test_setup_teardown(test_connections_per_address,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_slowloris, setup_started,
						teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
