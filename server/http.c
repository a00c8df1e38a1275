/*
 * http: checks, routes and responses (see http.h).
 *
 * Routes are a table (routes[]: method, path pattern, handler); every
 * handler takes the id its pattern names, or ignores it.  The file is
 * about 1,000 lines because the checks, the handlers and the table share
 * the request's state and the reply helpers; what renders (export.c) and
 * what decides (runs, compare, spec) live elsewhere.
 *
 * A request's state (struct request) lives in MHD's req_cls from the first
 * call to the completed notification.  Each response is decorated in one
 * place, http_headers(), with the security headers; no CORS header is ever
 * sent, so browsers keep other origins out of the API's answers.
 *
 * GET /api/runs is what a page polls: its response is cached as an MHD
 * response object (MHD reference-counts responses, so many connections can
 * send one at once) and rebuilt when the runs' version changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compare.h"
#include "engines.h"
#include "export.h"
#include "files.h"
#include "http.h"
#include "spec.h"
#include "stream.h"
#include "sweeps.h"
#include "util.h"

#define HTTP_BODY_DISCARD_MAX (1024 * 1024) /* then drop the connection */
#define SSE_BLOCK_BYTES (64 * 1024)
#define TOKEN_COOKIE "overlap_token"
/* Columns of GET /api/runs/{id}/ascii: the default, and what ?width= may
 * ask for (narrower than 40 leaves no room for the bars). */
#define ASCII_WIDTH_DEFAULT 120
#define ASCII_WIDTH_MIN 40
#define ASCII_WIDTH_MAX 400

static const char csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data: blob:; connect-src 'self'; "
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

struct http {
	struct http_config cfg;
	struct runs *runs;
	struct store *store;
	struct files *files;
	char *token;

	/* The catalog with the interpreters found (engines.h), built at the
	 * first GET /api/workloads; protected by cache_lock, immutable once
	 * built. */
	struct MHD_Response *workloads;

	pthread_mutex_t cache_lock;
	struct MHD_Response *list; /* protected by cache_lock */
	uint64_t list_version;	   /* protected by cache_lock */
};

struct request {
	bool started;	 /* the first call's checks are done */
	bool nul_in_uri; /* "%00": the decoded path would be cut short */
	char *body;
	size_t len, cap;
	size_t received;
	bool too_large;
	bool answered;	 /* a response was queued on the first call */
	bool set_cookie; /* the token came in the query */
};

/* ---- responses ---------------------------------------------------------- */

static void http_headers(struct MHD_Response *resp, const char *type,
			 const char *cache)
{
	if (type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy",
				"same-origin");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
}

static void add_cookie(struct http *h, struct request *req,
		       struct MHD_Response *resp)
{
	char cookie[256];

	if (!req || !req->set_cookie)
		return;
	snprintf(cookie, sizeof(cookie),
		 TOKEN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict",
		 h->token);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status,
			     struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A JSON response; steals obj. */
static struct MHD_Response *json_response(json_t *obj)
{
	struct MHD_Response *resp;
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	if (!text)
		return NULL;
	resp = MHD_create_response_from_buffer(strlen(text), text,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	http_headers(resp, "application/json", "no-store");
	return resp;
}

static enum MHD_Result reply_json(struct http *h, struct request *req,
				  struct MHD_Connection *conn, unsigned status,
				  json_t *obj)
{
	struct MHD_Response *resp = json_response(obj);

	if (resp)
		add_cookie(h, req, resp);
	return queue(conn, status, resp);
}

static enum MHD_Result reply_error(struct http *h, struct request *req,
				   struct MHD_Connection *conn, unsigned status,
				   const char *field, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static enum MHD_Result reply_error(struct http *h, struct request *req,
				   struct MHD_Connection *conn, unsigned status,
				   const char *field, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	json_t *obj;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	obj = json_pack("{s:s, s:s?}", "error", message, "field", field);
	if (!obj) {
		/* A message that quotes the request may hold bytes that are
		 * not UTF-8 (or a sequence cut by a precision): JSON cannot
		 * carry them, so they become '?' rather than no answer. */
		for (char *p = message; *p; p++)
			if ((unsigned char)*p >= 0x80 ||
			    (unsigned char)*p < 0x20)
				*p = '?';
		obj = json_pack("{s:s, s:s?}", "error", message, "field",
				field);
	}
	return reply_json(h, req, conn, status, obj);
}

static enum MHD_Result reply_method(struct http *h, struct request *req,
				    struct MHD_Connection *conn,
				    const char *allow)
{
	struct MHD_Response *resp = json_response(
		json_pack("{s:s}", "error", "method not allowed here"));

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	add_cookie(h, req, resp);
	return queue(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

/* ---- checks ------------------------------------------------------------- */

bool http_token_equal(const char *given, const char *want)
{
	size_t given_len = strlen(given), want_len = strlen(want);
	unsigned char diff = given_len != want_len;

	/* The time depends on the expected token's length only. */
	for (size_t i = 0; i < want_len; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
		diff |= g ^ (unsigned char)want[i];
	}
	return diff == 0;
}

/* Splits a Host header into name and port ("" when none). */
static bool split_host(const char *host, char *name, size_t name_size,
		       const char **port)
{
	const char *end;

	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end)
			return false;
		end++;
	} else {
		end = strchr(host, ':');
		if (!end)
			end = host + strlen(host);
	}
	if ((size_t)(end - host) >= name_size || end == host)
		return false;
	memcpy(name, host, (size_t)(end - host));
	name[end - host] = '\0';
	if (*end == ':')
		*port = end + 1;
	else if (*end == '\0')
		*port = "";
	else
		return false;
	return true;
}

bool http_host_allowed(const struct http_config *cfg, const char *host)
{
	static const char *const loopback[] = {"localhost", "127.0.0.1",
					       "[::1]"};
	char name[256];
	const char *port;

	if (!host || !split_host(host, name, sizeof(name), &port))
		return false;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(*loopback); i++)
		if (strcasecmp(name, loopback[i]) == 0)
			return true;
	if (cfg->listen_host && cfg->listen_host[0] &&
	    strcasecmp(name, cfg->listen_host) == 0)
		return true;
	for (size_t i = 0; i < cfg->n_allow_hosts; i++) {
		const char *allowed = cfg->allow_hosts[i];
		char aname[256];
		const char *aport;

		if (!split_host(allowed, aname, sizeof(aname), &aport))
			continue;
		if (strcasecmp(name, aname) == 0 &&
		    (aport[0] == '\0' || strcmp(port, aport) == 0))
			return true;
	}
	return false;
}

bool http_origin_same(const char *origin, const char *host)
{
	static const char scheme[] = "http://";

	return origin && host &&
	       strncasecmp(origin, scheme, sizeof(scheme) - 1) == 0 &&
	       strcasecmp(origin + sizeof(scheme) - 1, host) == 0;
}

static const char *header(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, key);
}

static bool token_ok(struct http *h, struct MHD_Connection *conn,
		     struct request *req)
{
	const char *auth = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *query = MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "token");
	const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
							 TOKEN_COOKIE);
	bool ok = false;

	if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
		ok = http_token_equal(auth + 7, h->token);
	if (!ok && cookie)
		ok = http_token_equal(cookie, h->token);
	if (!ok && query && http_token_equal(query, h->token)) {
		ok = true;
		req->set_cookie = true;
	}
	return ok;
}

static bool is_json_type(const char *type)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (!type || strncasecmp(type, want, n) != 0)
		return false;
	type += n;
	while (*type == ' ' || *type == '\t')
		type++;
	return *type == '\0' || *type == ';';
}

static bool changes_state(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* The first call's checks; queues the refusal and returns true when the
 * request goes no further. */
static bool refused(struct http *h, struct MHD_Connection *conn,
		    const char *method, struct request *req,
		    enum MHD_Result *ret)
{
	const char *length, *site, *origin;

	if (!http_host_allowed(&h->cfg, header(conn, MHD_HTTP_HEADER_HOST))) {
		*ret = reply_error(h, NULL, conn, MHD_HTTP_FORBIDDEN, NULL,
				   "this server does not answer to that Host "
				   "name (add it with --allow-host)");
		return true;
	}
	if (h->token && !token_ok(h, conn, req)) {
		*ret = reply_error(h, NULL, conn, MHD_HTTP_UNAUTHORIZED, NULL,
				   "a token is needed: open the URL the "
				   "server printed, or send Authorization: "
				   "Bearer TOKEN");
		return true;
	}
	if (req->nul_in_uri) {
		*ret = reply_error(h, req, conn, MHD_HTTP_BAD_REQUEST, NULL,
				   "a NUL byte in the URL");
		return true;
	}
	if (!changes_state(method))
		goto out_size;
	site = header(conn, "Sec-Fetch-Site");
	if (site && strcasecmp(site, "cross-site") == 0) {
		*ret = reply_error(h, req, conn, MHD_HTTP_FORBIDDEN, NULL,
				   "cross-site requests are refused");
		return true;
	}
	origin = header(conn, "Origin");
	if (origin &&
	    !http_origin_same(origin, header(conn, MHD_HTTP_HEADER_HOST))) {
		*ret = reply_error(h, req, conn, MHD_HTTP_FORBIDDEN, NULL,
				   "requests from another origin are refused");
		return true;
	}
	if (!is_json_type(header(conn, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		*ret = reply_error(h, req, conn,
				   MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
				   "%s needs Content-Type: application/json",
				   method);
		return true;
	}
out_size:
	length = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length && strtoull(length, NULL, 10) > h->cfg.body_max_bytes) {
		*ret = reply_error(h, req, conn, MHD_HTTP_CONTENT_TOO_LARGE,
				   NULL, "the body is larger than %zu bytes",
				   h->cfg.body_max_bytes);
		return true;
	}
	return false;
}

/* ---- routes ------------------------------------------------------------- */

static enum MHD_Result get_healthz(struct http *h, struct request *req,
				   struct MHD_Connection *conn, const char *id)
{
	struct runs_stats st;

	(void)id;
	runs_stats(h->runs, &st);
	return reply_json(
		h, req, conn, MHD_HTTP_OK,
		json_pack("{s:b, s:I, s:I, s:I, s:s?}", "ok", 1, "viewers",
			  (json_int_t)stream_viewer_count(), "queue",
			  (json_int_t)st.queued, "runs", (json_int_t)st.total,
			  "running", st.running[0] ? st.running : NULL));
}

static enum MHD_Result get_workloads(struct http *h, struct request *req,
				     struct MHD_Connection *conn,
				     const char *id)
{
	struct MHD_Response *resp;
	json_t *catalog;

	(void)id;
	if (req->set_cookie) {
		catalog = spec_catalog_json();
		engines_add_interpreters(catalog);
		return reply_json(h, req, conn, MHD_HTTP_OK, catalog);
	}
	pthread_mutex_lock(&h->cache_lock);
	if (!h->workloads) {
		catalog = spec_catalog_json();
		engines_add_interpreters(catalog);
		h->workloads = json_response(catalog);
	}
	resp = h->workloads;
	pthread_mutex_unlock(&h->cache_lock);
	if (!resp)
		return MHD_NO;
	return MHD_queue_response(conn, MHD_HTTP_OK, resp);
}

static enum MHD_Result get_runs(struct http *h, struct request *req,
				struct MHD_Connection *conn, const char *id)
{
	uint64_t version = runs_version(h->runs);
	enum MHD_Result ret;

	(void)id;
	if (req->set_cookie)
		return reply_json(h, req, conn, MHD_HTTP_OK,
				  runs_list(h->runs));
	pthread_mutex_lock(&h->cache_lock);
	if (!h->list || h->list_version != version) {
		struct MHD_Response *fresh = json_response(runs_list(h->runs));

		if (fresh) {
			if (h->list)
				MHD_destroy_response(h->list);
			h->list = fresh;
			h->list_version = version;
		}
	}
	ret = h->list ? MHD_queue_response(conn, MHD_HTTP_OK, h->list) : MHD_NO;
	pthread_mutex_unlock(&h->cache_lock);
	return ret;
}

static json_t *parse_body(struct request *req, json_error_t *jerr)
{
	if (req->len == 0) {
		snprintf(jerr->text, sizeof(jerr->text), "the body is empty");
		jerr->line = jerr->column = 0;
		return NULL;
	}
	return json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, jerr);
}

static enum MHD_Result bad_json(struct http *h, struct request *req,
				struct MHD_Connection *conn,
				const json_error_t *jerr)
{
	if (jerr->line > 0)
		return reply_error(h, req, conn, MHD_HTTP_BAD_REQUEST, NULL,
				   "invalid JSON at line %d, column %d: %s",
				   jerr->line, jerr->column, jerr->text);
	return reply_error(h, req, conn, MHD_HTTP_BAD_REQUEST, NULL,
			   "invalid JSON: %s", jerr->text);
}

static enum MHD_Result queue_full(struct http *h, struct request *req,
				  struct MHD_Connection *conn)
{
	char seconds[16];
	struct MHD_Response *resp = json_response(json_pack(
		"{s:s}", "error",
		"the run queue is full; try again when a run has finished"));

	if (!resp)
		return MHD_NO;
	snprintf(seconds, sizeof(seconds), "%d", runs_retry_after_s(h->runs));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
	add_cookie(h, req, resp);
	return queue(conn, MHD_HTTP_TOO_MANY_REQUESTS, resp);
}

static enum MHD_Result submit_failed(struct http *h, struct request *req,
				     struct MHD_Connection *conn, int rc)
{
	if (rc == -EAGAIN)
		return queue_full(h, req, conn);
	if (rc == -ESHUTDOWN)
		return reply_error(h, req, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				   NULL, "the server is stopping");
	if (rc == -ENOSPC || rc == -EDQUOT)
		return reply_error(h, req, conn, MHD_HTTP_INSUFFICIENT_STORAGE,
				   NULL,
				   "the disk of the server's data directory is "
				   "full (%s): no new run can be stored until "
				   "space is freed",
				   strerror(-rc));
	return reply_error(h, req, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			   "cannot queue the run: %s", strerror(-rc));
}

static enum MHD_Result spec_invalid(struct http *h, struct request *req,
				    struct MHD_Connection *conn,
				    const struct spec_error *err)
{
	json_t *obj = json_pack("{s:s, s:s?}", "error", err->message, "field",
				err->field[0] ? err->field : NULL);

	if (obj && err->column > 0)
		json_object_set_new(obj, "column", json_integer(err->column));
	return reply_json(h, req, conn, MHD_HTTP_BAD_REQUEST, obj);
}

static enum MHD_Result post_runs(struct http *h, struct request *req,
				 struct MHD_Connection *conn,
				 const char *unused)
{
	char ids[1][STORE_ID_SIZE], location[64];
	struct spec_error err = {0};
	struct MHD_Response *resp;
	json_error_t jerr;
	struct spec *spec;
	json_t *body;
	int rc;

	(void)unused;
	body = parse_body(req, &jerr);
	if (!body)
		return bad_json(h, req, conn, &jerr);
	if (json_object_get(body, "id")) {
		json_decref(body);
		return reply_error(h, req, conn, MHD_HTTP_BAD_REQUEST, "id",
				   "id: run ids are chosen by the server");
	}
	spec = calloc(1, sizeof(*spec));
	if (!spec) {
		json_decref(body);
		return MHD_NO;
	}
	rc = spec_from_json(body, spec, &err);
	json_decref(body);
	if (rc == 0)
		rc = engines_check(spec, &err);
	if (rc < 0) {
		free(spec);
		return spec_invalid(h, req, conn, &err);
	}
	spec->id[0] = '\0';
	rc = runs_submit(h->runs, &spec, 1, NULL, ids);
	free(spec);
	if (rc < 0)
		return submit_failed(h, req, conn, rc);
	resp = json_response(
		json_pack("{s:s, s:s}", "id", ids[0], "status", "queued"));
	if (!resp)
		return MHD_NO;
	snprintf(location, sizeof(location), "/api/runs/%s", ids[0]);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	add_cookie(h, req, resp);
	return queue(conn, MHD_HTTP_ACCEPTED, resp);
}

static enum MHD_Result get_run(struct http *h, struct request *req,
			       struct MHD_Connection *conn, const char *id)
{
	struct MHD_Response *resp;
	json_t *trace;
	struct stat sb;
	int fd;

	if (runs_trace(h->runs, id, &trace, &fd) < 0)
		return reply_error(h, req, conn, MHD_HTTP_NOT_FOUND, NULL,
				   "no run %s", id);
	if (trace)
		return reply_json(h, req, conn, MHD_HTTP_OK, trace);
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return MHD_NO;
	}
	resp = MHD_create_response_from_fd((size_t)sb.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	http_headers(resp, "application/json", "no-store");
	add_cookie(h, req, resp);
	return queue(conn, MHD_HTTP_OK, resp);
}

static enum MHD_Result delete_run(struct http *h, struct request *req,
				  struct MHD_Connection *conn, const char *id)
{
	bool deleted;

	if (runs_remove(h->runs, id, &deleted) < 0)
		return reply_error(h, req, conn, MHD_HTTP_NOT_FOUND, NULL,
				   "no run %s", id);
	if (deleted)
		return reply_json(h, req, conn, MHD_HTTP_OK,
				  json_pack("{s:s, s:b}", "id", id, "deleted",
					    1));
	return reply_json(h, req, conn, MHD_HTTP_OK,
			  json_pack("{s:s, s:s}", "id", id, "status",
				    "cancelled"));
}

static bool parse_event_id(const char *text, uint64_t *out)
{
	char *end;

	if (!text || !*text)
		return false;
	for (const char *p = text; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	*out = strtoull(text, &end, 10);
	return errno == 0 && *end == '\0';
}

/* 429 for a viewer over a cap, and the connection closed with it (a
 * refused viewer does not keep its place).  EventSource retries by
 * itself; a person reads why. */
static enum MHD_Result too_many_viewers(struct http *h, struct request *req,
					struct MHD_Connection *conn, int err)
{
	struct guard *g = h->cfg.guard;
	struct MHD_Response *resp;
	char message[160];

	if (err == -EMFILE)
		snprintf(message, sizeof(message),
			 "too many event streams are open (at most %ld in "
			 "all); close one and retry",
			 guard_viewers_max(g));
	else
		snprintf(message, sizeof(message),
			 "too many event streams are open from your address "
			 "(at most %ld); close one and retry",
			 guard_viewers_per_address(g));
	resp = json_response(json_pack("{s:s}", "error", message));
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	add_cookie(h, req, resp);
	return queue(conn, MHD_HTTP_TOO_MANY_REQUESTS, resp);
}

static enum MHD_Result get_events(struct http *h, struct request *req,
				  struct MHD_Connection *conn, const char *id)
{
	const char *last = header(conn, "Last-Event-ID");
	const union MHD_ConnectionInfo *info;
	struct stream_viewer *viewer;
	struct MHD_Response *resp;
	struct guard_conn *guard;
	struct stream *s;
	uint64_t after = 0;
	int err = 0, sock = -1;

	if (!last)
		last = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
						   "last_event_id");
	if (last && !parse_event_id(last, &after))
		return reply_error(h, req, conn, MHD_HTTP_BAD_REQUEST,
				   "Last-Event-ID",
				   "Last-Event-ID: expected an event id, "
				   "got '%.40s'",
				   last);
	s = runs_stream(h->runs, id, &err);
	if (!s) {
		if (err == -ENOENT)
			return reply_error(h, req, conn, MHD_HTTP_NOT_FOUND,
					   NULL, "no run %s", id);
		return reply_error(h, req, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   NULL, "cannot read the run's events: %s",
				   strerror(-err));
	}
	if (stream_finished(s) && after >= stream_count(s)) {
		/* Everything was seen, the end included: 204 tells an
		 * EventSource to stop reconnecting. */
		stream_unref(s);
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		http_headers(resp, NULL, "no-store");
		return queue(conn, MHD_HTTP_NO_CONTENT, resp);
	}
	guard = guard_of(conn);
	err = guard_viewer_begin(guard);
	if (err < 0) {
		stream_unref(s);
		return too_many_viewers(h, req, conn, err);
	}
	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (info)
		sock = info->connect_fd;
	viewer = stream_viewer_create(s, after, sock, h->cfg.heartbeat_ms);
	stream_unref(s);
	if (!viewer) {
		guard_viewer_end(guard);
		return MHD_NO;
	}
	if (guard)
		stream_viewer_watch(viewer, guard_viewer_clock(guard),
				    guard_viewer_end, guard);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
						 SSE_BLOCK_BYTES,
						 stream_viewer_read, viewer,
						 stream_viewer_free);
	if (!resp) {
		stream_viewer_free(viewer);
		return MHD_NO;
	}
	http_headers(resp, "text/event-stream; charset=utf-8", "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	add_cookie(h, req, resp);
	/* A stream may stay quiet for a long time (a queued run): the
	 * heartbeat keeps proxies awake, and MHD must not time it out. */
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	return queue(conn, MHD_HTTP_OK, resp);
}

/* "?width=N" of the ASCII export: the page asks for as many columns as
 * its box holds, so the text view does not scroll sideways.  Returns 0 and
 * sets *width (ASCII_WIDTH_DEFAULT when absent), or -EINVAL. */
static int ascii_width(struct MHD_Connection *conn, int *width)
{
	const char *text = MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "width");
	char *end;
	long v;

	*width = ASCII_WIDTH_DEFAULT;
	if (!text)
		return 0;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < ASCII_WIDTH_MIN ||
	    v > ASCII_WIDTH_MAX)
		return -EINVAL;
	*width = (int)v;
	return 0;
}

static enum MHD_Result get_export(struct http *h, struct request *req,
				  struct MHD_Connection *conn, const char *id,
				  bool chrome)
{
	char err[256], disposition[96];
	struct MHD_Response *resp;
	int rc, width = ASCII_WIDTH_DEFAULT;

	/* The query is checked before the run is looked up: a bad value
	 * is the same mistake whichever run it names. */
	if (!chrome && ascii_width(conn, &width) < 0)
		return reply_error(
			h, req, conn, MHD_HTTP_BAD_REQUEST, "width",
			"width: must be a whole number from %d to %d (got "
			"'%.40s')",
			ASCII_WIDTH_MIN, ASCII_WIDTH_MAX,
			MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
						    "width"));
	rc = export_response(h->runs, id, chrome, width, &resp, err,
			     sizeof(err));
	if (rc == -ENOENT)
		return reply_error(h, req, conn, MHD_HTTP_NOT_FOUND, NULL,
				   "no run %s", id);
	if (rc == -EIO)
		return reply_error(h, req, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   NULL, "cannot read the trace of run %s", id);
	if (rc == -EBADMSG)
		return reply_error(h, req, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   NULL,
				   "the trace of run %s is not readable: %s",
				   id, err);
	if (rc < 0)
		return MHD_NO;
	http_headers(resp,
		     chrome ? "application/json" : "text/plain; charset=utf-8",
		     "no-store");
	snprintf(disposition, sizeof(disposition),
		 "attachment; filename=\"overlap-%s.%s\"", id,
		 chrome ? "json" : "txt");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
				disposition);
	add_cookie(h, req, resp);
	return queue(conn, MHD_HTTP_OK, resp);
}

static enum MHD_Result get_chrome(struct http *h, struct request *req,
				  struct MHD_Connection *conn, const char *id)
{
	return get_export(h, req, conn, id, true);
}

static enum MHD_Result get_ascii(struct http *h, struct request *req,
				 struct MHD_Connection *conn, const char *id)
{
	return get_export(h, req, conn, id, false);
}

static enum MHD_Result post_compares(struct http *h, struct request *req,
				     struct MHD_Connection *conn,
				     const char *id)
{
	struct spec_error err = {0};
	json_error_t jerr;
	json_t *body, *out;
	int rc;

	(void)id;
	body = parse_body(req, &jerr);
	if (!body)
		return bad_json(h, req, conn, &jerr);
	rc = compare_create(h->runs, h->store, body, &out, &err);
	json_decref(body);
	if (rc == -EINVAL)
		return spec_invalid(h, req, conn, &err);
	if (rc < 0)
		return submit_failed(h, req, conn, rc);
	return reply_json(h, req, conn, MHD_HTTP_ACCEPTED, out);
}

static enum MHD_Result get_compare(struct http *h, struct request *req,
				   struct MHD_Connection *conn, const char *id)
{
	int rc;
	json_t *c = compare_get(h->runs, h->store, id, &rc);

	if (!c)
		return reply_error(h, req, conn,
				   rc == -ENOENT
					   ? MHD_HTTP_NOT_FOUND
					   : MHD_HTTP_INTERNAL_SERVER_ERROR,
				   NULL, "no compare %s", id);
	return reply_json(h, req, conn, MHD_HTTP_OK, c);
}

static enum MHD_Result post_sweeps(struct http *h, struct request *req,
				   struct MHD_Connection *conn, const char *id)
{
	struct spec_error err = {0};
	json_error_t jerr;
	json_t *body, *out;
	int rc;

	(void)id;
	body = parse_body(req, &jerr);
	if (!body)
		return bad_json(h, req, conn, &jerr);
	rc = sweeps_create(h->runs, h->store, body, &out, &err);
	json_decref(body);
	if (rc == -EINVAL)
		return spec_invalid(h, req, conn, &err);
	if (rc < 0)
		return submit_failed(h, req, conn, rc);
	return reply_json(h, req, conn, MHD_HTTP_ACCEPTED, out);
}

static enum MHD_Result get_sweep(struct http *h, struct request *req,
				 struct MHD_Connection *conn, const char *id)
{
	int rc;
	json_t *c = sweeps_get(h->runs, h->store, id, &rc);

	if (!c)
		return reply_error(h, req, conn,
				   rc == -ENOENT
					   ? MHD_HTTP_NOT_FOUND
					   : MHD_HTTP_INTERNAL_SERVER_ERROR,
				   NULL, "no sweep %s", id);
	return reply_json(h, req, conn, MHD_HTTP_OK, c);
}

/* A route: a method and a path pattern, whose "{id}" segment matches a
 * run's or a compare's id (store_id_valid).  GET routes answer HEAD too.
 * A path that matches a pattern under another method is a 405 whose Allow
 * header lists the methods of every route with that pattern. */
typedef enum MHD_Result (*route_fn)(struct http *h, struct request *req,
				    struct MHD_Connection *conn,
				    const char *id);

struct route {
	const char *method;
	const char *pattern;
	route_fn handler;
};

static const struct route routes[] = {
	{"GET", "/healthz", get_healthz},
	{"GET", "/api/workloads", get_workloads},
	{"GET", "/api/runs", get_runs},
	{"POST", "/api/runs", post_runs},
	{"GET", "/api/runs/{id}", get_run},
	{"DELETE", "/api/runs/{id}", delete_run},
	{"GET", "/api/runs/{id}/events", get_events},
	{"GET", "/api/runs/{id}/chrome", get_chrome},
	{"GET", "/api/runs/{id}/ascii", get_ascii},
	{"POST", "/api/compares", post_compares},
	{"GET", "/api/compares/{id}", get_compare},
	{"POST", "/api/sweeps", post_sweeps},
	{"GET", "/api/sweeps/{id}", get_sweep},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether url matches pattern; the "{id}" segment's text goes to id. */
static bool route_match(const char *pattern, const char *url,
			char id[STORE_ID_SIZE])
{
	static const char hole[] = "{id}";
	const char *at = strstr(pattern, hole);
	size_t lead = at ? (size_t)(at - pattern) : strlen(pattern);
	const char *rest, *slash;
	size_t n;

	if (!at)
		return strcmp(pattern, url) == 0;
	if (strncmp(pattern, url, lead) != 0)
		return false;
	rest = url + lead;
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n >= STORE_ID_SIZE)
		return false;
	memcpy(id, rest, n);
	id[n] = '\0';
	return store_id_valid(id) &&
	       strcmp(at + sizeof(hole) - 1, rest + n) == 0;
}

static bool method_is(const char *method, const char *route_method)
{
	if (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0)
		return true;
	return strcmp(method, route_method) == 0;
}

static enum MHD_Result route(struct http *h, struct request *req,
			     struct MHD_Connection *conn, const char *url,
			     const char *method)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	char id[STORE_ID_SIZE], allow[64] = "";
	struct MHD_Response *resp;
	int cacheable;

	for (size_t i = 0; i < N_ROUTES; i++) {
		const struct route *r = &routes[i];

		if (!route_match(r->pattern, url, id))
			continue;
		if (method_is(method, r->method))
			return r->handler(h, req, conn, id);
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow),
			 "%s%s", allow[0] ? ", " : "",
			 strcmp(r->method, "GET") == 0 ? "GET, HEAD"
						       : r->method);
	}
	if (allow[0])
		return reply_method(h, req, conn, allow);
	if (strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0)
		return reply_error(h, req, conn, MHD_HTTP_NOT_FOUND, NULL,
				   "no such resource: %.200s", url);
	if (!get)
		return reply_method(h, req, conn, "GET, HEAD");
	resp = files_response(h->files, url, &cacheable);
	if (!resp)
		return reply_error(h, req, conn, MHD_HTTP_NOT_FOUND, NULL,
				   "not found");
	http_headers(resp, NULL, cacheable ? "max-age=3600" : "no-cache");
	add_cookie(h, req, resp);
	return queue(conn, MHD_HTTP_OK, resp);
}

/* ---- the handler -------------------------------------------------------- */

/* Connection threads (one per connection) run at a lower priority than
 * the run: sending a live run's events to its viewers competes with the
 * run for the machine's cores, and the run is what is being measured.  On
 * a busy machine the viewers fall a little behind instead, and catch up;
 * on an idle one nothing changes.  Per thread, so the runner thread and
 * the run processes it starts keep the normal priority. */
#define CONNECTION_NICE 10

static void lower_my_priority(void)
{
	static _Thread_local bool done;

	if (done)
		return;
	done = true;
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), CONNECTION_NICE);
}

enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn,
			    const char *url, const char *method,
			    const char *version, const char *upload_data,
			    size_t *upload_data_size, void **req_cls)
{
	struct http *h = cls;
	struct request *req = *req_cls;
	enum MHD_Result ret;

	(void)version;
	lower_my_priority();
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*req_cls = req;
	}
	if (!req->started) {
		req->started = true;
		if (refused(h, conn, method, req, &ret)) {
			req->answered = true;
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		req->received += n;
		if (req->answered || req->too_large ||
		    req->len + n > h->cfg.body_max_bytes) {
			req->too_large = !req->answered;
			/* Reading a chunked body nobody wants has a limit. */
			return req->received > HTTP_BODY_DISCARD_MAX ? MHD_NO
								     : MHD_YES;
		}
		if (req->len + n > req->cap) {
			size_t cap = req->cap ? req->cap : 4096;
			char *p;

			while (cap < req->len + n)
				cap *= 2;
			p = realloc(req->body, cap);
			if (!p)
				return MHD_NO;
			req->body = p;
			req->cap = cap;
		}
		memcpy(req->body + req->len, upload_data, n);
		req->len += n;
		return MHD_YES;
	}
	guard_request_received(guard_of(conn));
	if (req->answered)
		return MHD_YES;
	if (req->too_large)
		return reply_error(h, req, conn, MHD_HTTP_CONTENT_TOO_LARGE,
				   NULL, "the body is larger than %zu bytes",
				   h->cfg.body_max_bytes);
	return route(h, req, conn, url, method);
}

void *http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *req = calloc(1, sizeof(*req));

	(void)cls;
	(void)conn;
	if (req)
		req->nul_in_uri = strcasestr(uri, "%00") != NULL;
	return req;
}

void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct request *req = *req_cls;

	(void)cls;
	(void)toe;
	guard_request_done(guard_of(conn));
	if (!req)
		return;
	free(req->body);
	free(req);
	*req_cls = NULL;
}

/* ---- life --------------------------------------------------------------- */

struct http *http_create(const struct http_config *cfg, struct runs *runs,
			 struct store *store)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cfg = *cfg;
	h->runs = runs;
	h->store = store;
	h->files = cfg->web_dir ? files_open(cfg->web_dir) : NULL;
	if (cfg->web_dir && !h->files)
		fprintf(stderr,
			"overlap: no web directory at %s: serving the API "
			"only\n",
			cfg->web_dir);
	if (cfg->token && cfg->token[0]) {
		h->token = strdup(cfg->token);
		if (!h->token)
			goto out_free;
	}
	/* Finding the interpreters takes a moment: it starts now, and the
	 * first GET /api/workloads waits for what is left of it. */
	engines_discover_async();
	pthread_mutex_init(&h->cache_lock, NULL);
	return h;

out_free:
	free(h->token);
	files_close(h->files);
	free(h);
	return NULL;
}

void http_destroy(struct http *h)
{
	if (!h)
		return;
	if (h->list)
		MHD_destroy_response(h->list);
	if (h->workloads)
		MHD_destroy_response(h->workloads);
	pthread_mutex_destroy(&h->cache_lock);
	files_close(h->files);
	free(h->token);
	free(h);
}
