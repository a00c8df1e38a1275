/*
 * http: the libmicrohttpd request handler: security checks, routing, the
 * JSON API (docs/DESIGN.md section 5), and the headers every response
 * carries.
 *
 * Checks run on the first call for a request, before its body is read and
 * before any route: the Host header (DNS rebinding: 403), the token when
 * one is set (401), for state-changing methods the Content-Type (415) and
 * Sec-Fetch-Site (403), and the declared body size (413).  Bodies are read
 * by hand into a buffer of at most body_max_bytes (never libmicrohttpd's
 * POST processor) and parsed with jansson.
 *
 * The daemon runs a thread per connection, so a handler may block (an SSE
 * viewer waits for events in its own thread, a trace is folded in place).
 */
#ifndef OVERLAP_HTTP_H
#define OVERLAP_HTTP_H

#include <stddef.h>

#include <microhttpd.h>

#include "guard.h"
#include "runs.h"
#include "store.h"

struct http_config {
	const char *web_dir;		/* static files; may not exist */
	const char *token;		/* "" or NULL: no token needed */
	const char *listen_host;	/* as in the Host header: "[::1]" */
	const char *const *allow_hosts; /* extra names, "name" or "name:port" */
	size_t n_allow_hosts;
	int heartbeat_ms;      /* SSE comment when idle this long */
	size_t body_max_bytes; /* 413 above */
	struct guard *guard;   /* slow and stuck clients; may be NULL */
};

struct http;

/* NULL when out of memory.  runs and store are borrowed. */
struct http *http_create(const struct http_config *cfg, struct runs *runs,
			 struct store *store);
void http_destroy(struct http *h);

/* MHD_AccessHandlerCallback; cls is the struct http. */
enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn,
			    const char *url, const char *method,
			    const char *version, const char *upload_data,
			    size_t *upload_data_size, void **req_cls);
/* MHD_OPTION_URI_LOG_CALLBACK: sees the URL before it is decoded (a
 * "%00" would cut the decoded path short) and starts the request's state. */
void *http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn);
/* MHD_RequestCompletedCallback: frees the request's state. */
void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		    enum MHD_RequestTerminationCode toe);

/* Constant-time comparison of a presented token with the expected one. */
bool http_token_equal(const char *given, const char *want);
/* True when origin (an Origin header) names the server the request was
 * sent to: "http://" and the request's own Host. */
bool http_origin_same(const char *origin, const char *host);
/* True when host (a Host header) is one of the names in cfg. */
bool http_host_allowed(const struct http_config *cfg, const char *host);

#endif
