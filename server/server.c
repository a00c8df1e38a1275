/*
 * server: `overlap serve`: options, the listening socket, the daemon, and
 * an orderly stop.
 *
 * The parts, each its own module: store (the data directory), runs (the
 * table, the queue, a run's log and its way to its stored trace), runner
 * (the thread that executes runs as child processes), stream (live events
 * and SSE viewers), compare, files (web/) and http (checks, routes,
 * headers).
 *
 * libmicrohttpd runs a thread per connection (an SSE viewer sleeps in its
 * own thread, so a slow one holds up no one), with a connection timeout, a
 * connection limit and a per-connection memory limit set on purpose; the
 * server creates the listening socket itself so `--port 0` can print the
 * port the kernel chose.  SIGINT and SIGTERM are blocked in every thread
 * and taken by sigwait() here: a stop interrupts the running run and the
 * queued ones (stored as interrupted, each stream closed by its end event,
 * so a live viewer learns why its run stopped), then ends the viewers that
 * are still far behind and joins everything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "files.h"
#include "guard.h"
#include "http.h"
#include "runner.h"
#include "runs.h"
#include "server.h"
#include "store.h"
#include "stream.h"
#include "util.h"

#define EXIT_USAGE 2
#define MAX_ALLOW_HOSTS 16
#define MAX_OWN_ADDRESSES 64
#define BODY_MAX_BYTES (64 * 1024)
#define CONNECTION_TIMEOUT_S 30u
/* Slow and stuck clients (guard.h): a request must arrive whole within
 * REQUEST_DEADLINE_S of its connection's start or of the end of the
 * previous request on it; a viewer whose socket stays full for
 * STUCK_VIEWER_S is closed. */
#define REQUEST_DEADLINE_S 10
#define STUCK_VIEWER_S 5
#define GUARD_TICK_MS 250
/* At a stop, how long the viewers get to send their runs' last events
 * before the connections close (a viewer that does not read is cut off
 * then). */
#define SHUTDOWN_DRAIN_MS 2000
#define LISTEN_BACKLOG 1024
/* Descriptors: a connection, a viewer's eventfd, files being sent. */
#define NOFILE_PER_CONNECTION 4
#define NOFILE_SPARE 256
#define CONNECTION_MEMORY_BYTES ((size_t)256 * 1024)
#define STREAM_CACHE_BYTES ((size_t)512 * 1024 * 1024)
#define WALL_GRACE_NS (30 * NS_PER_S)
#define WALL_MAX_S (11 * 60)
#define NPROC_EXTRA 16384

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* Sanitizer runtimes reserve terabytes of address space. */
#define RUNNER_AS_DEFAULT_MB 0
#else
#define RUNNER_AS_DEFAULT_MB 4096
#endif

struct server_options {
	int port;
	const char *listen;
	const char *data;
	const char *web;
	const char *token;
	const char *allow_hosts[MAX_ALLOW_HOSTS];
	size_t n_allow_hosts;
	int queue;
	int max_connections;
	int max_per_address;
	int max_viewers;
	int max_viewers_per_address;
	int heartbeat_ms;
	const char *runner;
	long runner_memory_mb;
	long max_run_s;
};

static const char usage_text[] =
	"usage: overlap serve [options]\n"
	"\n"
	"Serves the page and the HTTP API; every run executes in its own\n"
	"`overlap run` process, one at a time, behind a bounded queue.\n"
	"\n"
	"  --port N              TCP port (default 8080; 0: any free port)\n"
	"  --listen ADDR         address to bind (default 127.0.0.1); any\n"
	"                        other than loopback needs a token\n"
	"  --token T             require T (Authorization: Bearer T, ?token=T\n"
	"                        or the cookie set from it); generated when\n"
	"                        --listen is not loopback and none is given\n"
	"  --allow-host NAME     also answer to Host NAME or NAME:PORT\n"
	"                        (repeatable; localhost, 127.0.0.1, [::1] and\n"
	"                        the listen address always work)\n"
	"  --data DIR            where runs are stored (default ./data)\n"
	"  --web DIR             the page's files (default: $OVERLAP_WEB, or\n"
	"                        web/ beside the build directory)\n"
	"  --queue N             runs that may wait behind the running one\n"
	"                        (default 16, 1..1024); more get 429\n"
	"  --max-connections N   simultaneous connections (default 1024)\n"
	"  --max-connections-per-address N\n"
	"                        from one client address (default 256)\n"
	"  --max-viewers N       event streams open at once (default 512)\n"
	"  --max-viewers-per-address N\n"
	"                        from one client address (default 64)\n"
	"  --heartbeat-ms N      SSE comment after N ms of quiet (default "
	"15000)\n"
	"  --runner-memory-mb N  address-space limit of a run (default 4096;\n"
	"                        0: none)\n"
	"  --max-run-s N         wall-clock limit of any run (default 660; a\n"
	"                        run's own is its time_limit plus 30 s)\n"
	"  --runner PATH         the binary that executes runs (default: this "
	"one)\n"
	"  --help, --version\n";

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "overlap serve: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return EXIT_USAGE;
}

static bool parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool token_chars_ok(const char *t)
{
	size_t n = strlen(t);

	if (n < 8 || n > 128)
		return false;
	for (; *t; t++) {
		char c = *t;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '~'))
			return false;
	}
	return true;
}

enum {
	OPT_PORT = 256,
	OPT_LISTEN,
	OPT_DATA,
	OPT_WEB,
	OPT_TOKEN,
	OPT_ALLOW_HOST,
	OPT_QUEUE,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_PER_ADDRESS,
	OPT_MAX_VIEWERS,
	OPT_MAX_VIEWERS_PER_ADDRESS,
	OPT_HEARTBEAT_MS,
	OPT_RUNNER,
	OPT_RUNNER_MEMORY,
	OPT_MAX_RUN_S,
	OPT_HELP,
	OPT_VERSION,
};

/* 0, EXIT_USAGE (printed), or -1 when --help/--version was answered. */
static int parse_options(int argc, char **argv, struct server_options *o)
{
	static const struct option longs[] = {
		{"port", required_argument, NULL, OPT_PORT},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"data", required_argument, NULL, OPT_DATA},
		{"web", required_argument, NULL, OPT_WEB},
		{"token", required_argument, NULL, OPT_TOKEN},
		{"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
		{"queue", required_argument, NULL, OPT_QUEUE},
		{"max-connections", required_argument, NULL,
		 OPT_MAX_CONNECTIONS},
		{"max-connections-per-address", required_argument, NULL,
		 OPT_MAX_PER_ADDRESS},
		{"max-viewers", required_argument, NULL, OPT_MAX_VIEWERS},
		{"max-viewers-per-address", required_argument, NULL,
		 OPT_MAX_VIEWERS_PER_ADDRESS},
		{"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT_MS},
		{"runner", required_argument, NULL, OPT_RUNNER},
		{"runner-memory-mb", required_argument, NULL,
		 OPT_RUNNER_MEMORY},
		{"max-run-s", required_argument, NULL, OPT_MAX_RUN_S},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	long v;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case OPT_PORT:
			if (!parse_long(optarg, 0, 65535, &v))
				return usage_error("--port: expected 0..65535, "
						   "got '%s'",
						   optarg);
			o->port = (int)v;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_DATA:
			o->data = optarg;
			break;
		case OPT_WEB:
			o->web = optarg;
			break;
		case OPT_TOKEN:
			if (!token_chars_ok(optarg))
				return usage_error(
					"--token: 8 to 128 characters of "
					"A-Z a-z 0-9 - _ . ~");
			o->token = optarg;
			break;
		case OPT_ALLOW_HOST:
			if (o->n_allow_hosts == MAX_ALLOW_HOSTS)
				return usage_error("--allow-host: at most %d",
						   MAX_ALLOW_HOSTS);
			if (!optarg[0] || strlen(optarg) > 200)
				return usage_error("--allow-host: expected "
						   "NAME or NAME:PORT");
			o->allow_hosts[o->n_allow_hosts++] = optarg;
			break;
		case OPT_QUEUE:
			if (!parse_long(optarg, 1, 1024, &v))
				return usage_error("--queue: expected 1..1024, "
						   "got '%s'",
						   optarg);
			o->queue = (int)v;
			break;
		case OPT_MAX_CONNECTIONS:
			if (!parse_long(optarg, 4, 4096, &v))
				return usage_error("--max-connections: "
						   "expected 4..4096, got '%s'",
						   optarg);
			o->max_connections = (int)v;
			break;
		case OPT_MAX_PER_ADDRESS:
			if (!parse_long(optarg, 1, 4096, &v))
				return usage_error(
					"--max-connections-per-address: expected "
					"1..4096, got '%s'",
					optarg);
			o->max_per_address = (int)v;
			break;
		case OPT_MAX_VIEWERS:
			if (!parse_long(optarg, 1, 4096, &v))
				return usage_error("--max-viewers: expected "
						   "1..4096, got '%s'",
						   optarg);
			o->max_viewers = (int)v;
			break;
		case OPT_MAX_VIEWERS_PER_ADDRESS:
			if (!parse_long(optarg, 1, 4096, &v))
				return usage_error(
					"--max-viewers-per-address: expected "
					"1..4096, got '%s'",
					optarg);
			o->max_viewers_per_address = (int)v;
			break;
		case OPT_HEARTBEAT_MS:
			if (!parse_long(optarg, 10, 3600000, &v))
				return usage_error("--heartbeat-ms: expected "
						   "10..3600000, got '%s'",
						   optarg);
			o->heartbeat_ms = (int)v;
			break;
		case OPT_RUNNER:
			o->runner = optarg;
			break;
		case OPT_RUNNER_MEMORY:
			if (!parse_long(optarg, 0, 1L << 20, &v))
				return usage_error("--runner-memory-mb: "
						   "expected 0..1048576, got "
						   "'%s'",
						   optarg);
			o->runner_memory_mb = v;
			break;
		case OPT_MAX_RUN_S:
			if (!parse_long(optarg, 1, 24 * 3600, &v))
				return usage_error("--max-run-s: expected "
						   "1..86400, got '%s'",
						   optarg);
			o->max_run_s = v;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return -1;
		case OPT_VERSION:
			printf("overlap %s\n", OVERLAP_VERSION);
			return -1;
		default:
			return usage_error("unknown option '%s' (see "
					   "'overlap serve --help')",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ---- addresses ---------------------------------------------------------- */

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
	bool loopback;
	bool wildcard;
	char host[INET6_ADDRSTRLEN + 2]; /* as in a Host header */
};

static int parse_listen(const char *text, int port, struct listen_addr *a)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
	char buf[INET6_ADDRSTRLEN];
	size_t n = strlen(text);

	memset(a, 0, sizeof(*a));
	if (strcmp(text, "localhost") == 0)
		text = "127.0.0.1";
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*v4);
		a->family = AF_INET;
		a->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
		a->wildcard = v4->sin_addr.s_addr == htonl(INADDR_ANY);
		snprintf(a->host, sizeof(a->host), "%s", text);
		return 0;
	}
	/* IPv6, bare or in brackets. */
	if (text[0] == '[' && n > 2 && text[n - 1] == ']' &&
	    n - 2 < sizeof(buf)) {
		memcpy(buf, text + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		util_strlcpy(buf, text, sizeof(buf));
	}
	if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*v6);
		a->family = AF_INET6;
		a->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		a->wildcard = IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
		snprintf(a->host, sizeof(a->host), "[%s]", buf);
		return 0;
	}
	return -EINVAL;
}

static int open_listener(struct listen_addr *a, int *port)
{
	int one = 1;
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	a->len = sizeof(a->ss);
	getsockname(fd, (struct sockaddr *)&a->ss, &a->len);
	*port = ntohs(a->family == AF_INET
			      ? ((struct sockaddr_in *)&a->ss)->sin_port
			      : ((struct sockaddr_in6 *)&a->ss)->sin6_port);
	return fd;
}

/* ---- the web directory -------------------------------------------------- */

static void web_dir(const char *given, char *out, size_t size)
{
	static const char *const rel[] = {"/../web", "/../../web"};
	char exe[PATH_MAX];
	const char *env = getenv("OVERLAP_WEB");
	ssize_t n;

	if (given) {
		util_strlcpy(out, given, size);
		return;
	}
	if (env && env[0]) {
		util_strlcpy(out, env, size);
		return;
	}
	/* build/overlap -> web/, build/NAME/overlap -> web/ */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
	if (n <= 0) {
		util_strlcpy(out, "web", size);
		return;
	}
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(*rel); i++) {
		char probe[PATH_MAX + 32];

		snprintf(out, size, "%.*s%s", PATH_MAX - 32, exe, rel[i]);
		snprintf(probe, sizeof(probe), "%s/index.html", out);
		if (access(probe, R_OK) == 0)
			return;
	}
	snprintf(out, size, "%.*s%s", PATH_MAX - 32, exe, rel[0]);
}

/*
 * The page loads its chart libraries from web/node_modules, which npm
 * fills (make deps); a clone that was only built serves a page that cannot
 * draw.  Every /node_modules/ file index.html names is looked up by the
 * rules it would be served by, and a missing one is said at start-up with
 * the command that installs it (the page says the same in place of its
 * form).
 */
static void check_page_packages(const char *web)
{
	static const char marker[] = "\"/node_modules/";
	char path[PATH_MAX + 16], *html = NULL, *p, *end;
	struct files *f = files_open(web);
	size_t len = 0;
	FILE *in;

	snprintf(path, sizeof(path), "%.*s/index.html", PATH_MAX - 1, web);
	in = fopen(path, "r");
	if (!f || !in) {
		printf("overlap: no page in %s (--web DIR names it)\n", web);
		goto out;
	}
	html = malloc(1 << 16);
	if (html)
		len = fread(html, 1, (1 << 16) - 1, in);
	if (!html)
		goto out;
	html[len] = '\0';
	for (p = strstr(html, marker); p; p = strstr(end, marker)) {
		end = strchr(p + 1, '"');
		if (!end)
			break;
		*end++ = '\0';
		if (!files_exists(f, p + 1)) {
			printf("overlap: the page's npm packages are missing "
			       "(%s%s cannot be served): run 'make deps' in "
			       "the repository, or 'npm ci' in %s, to install "
			       "them\n",
			       web, p + 1, web);
			break;
		}
	}

out:
	free(html);
	if (in)
		fclose(in);
	files_close(f);
}

static void new_token(char *out, size_t size)
{
	unsigned char raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		/* Cannot happen for 16 bytes once the pool is ready; refuse
		 * to run with a guessable token. */
		fprintf(stderr, "overlap serve: no randomness for a token\n");
		exit(1);
	}
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < size; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Listening on every address (0.0.0.0 or ::), the machine is reached by
 * any of its own: each is a Host the server answers to.  Adds them to
 * allow (strdup'ed, freed by the caller) up to max in all. */
static size_t own_addresses(const struct listen_addr *a, const char **allow,
			    size_t n, size_t max)
{
	struct ifaddrs *list, *ifa;

	if (getifaddrs(&list) < 0)
		return n;
	for (ifa = list; ifa && n < max; ifa = ifa->ifa_next) {
		char text[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN + 2];
		const struct sockaddr *sa = ifa->ifa_addr;
		char *copy;

		if (!sa || sa->sa_family != a->family)
			continue;
		if (sa->sa_family == AF_INET) {
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)sa)->sin_addr,
				  text, sizeof(text));
			snprintf(host, sizeof(host), "%s", text);
		} else {
			const struct sockaddr_in6 *v6 =
				(const struct sockaddr_in6 *)sa;

			/* A link-local address needs a zone, which a Host
			 * header cannot carry. */
			if (IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr))
				continue;
			inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
			snprintf(host, sizeof(host), "[%s]", text);
		}
		copy = strdup(host);
		if (copy)
			allow[n++] = copy;
	}
	freeifaddrs(list);
	return n;
}

/* Every connection costs a few descriptors: the soft limit goes as high
 * as the hard one allows, if the default is too low for the connections
 * asked for. */
static void raise_nofile(int max_connections)
{
	rlim_t want =
		(rlim_t)max_connections * NOFILE_PER_CONNECTION + NOFILE_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
			      ? want
			      : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < want)
		fprintf(stderr,
			"overlap serve: %llu descriptors allowed; %d "
			"connections may need %llu\n",
			(unsigned long long)rl.rlim_cur, max_connections,
			(unsigned long long)want);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fprintf(stderr, "overlap: http: ");
	vfprintf(stderr, fmt, ap);
}

/* ---- main --------------------------------------------------------------- */

int server_main(int argc, char **argv)
{
	struct server_options o = {
		.port = 8080,
		.listen = "127.0.0.1",
		.data = "data",
		.queue = 16,
		.max_connections = 1024,
		.max_viewers = 512,
		.max_viewers_per_address = 64,
		.heartbeat_ms = 15000,
		.runner = "/proc/self/exe",
		.runner_memory_mb = RUNNER_AS_DEFAULT_MB,
		.max_run_s = WALL_MAX_S,
	};
	char web[PATH_MAX], token[160], err[256], hostname[256];
	const char *allow[MAX_ALLOW_HOSTS + 1 + MAX_OWN_ADDRESSES];
	size_t n_own = 0;
	struct guard_config guard_cfg;
	struct guard *guard = NULL;
	struct listen_addr addr;
	struct runs_config rc_cfg;
	struct runner_config rn_cfg;
	struct http_config http_cfg;
	struct store *store = NULL;
	struct runs *runs = NULL;
	struct runner *runner = NULL;
	struct http *http = NULL;
	struct MHD_Daemon *daemon = NULL;
	sigset_t stop_signals;
	size_t n_allow = 0;
	int listen_fd = -1, port = 0, sig, rc, status = 1;

	rc = parse_options(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (parse_listen(o.listen, o.port, &addr) < 0)
		return usage_error("--listen: expected an IPv4 or IPv6 "
				   "address, got '%s'",
				   o.listen);
	token[0] = '\0';
	if (o.token)
		util_strlcpy(token, o.token, sizeof(token));
	if (!addr.loopback && !token[0])
		new_token(token, sizeof(token));
	web_dir(o.web, web, sizeof(web));

	memcpy(allow, o.allow_hosts, o.n_allow_hosts * sizeof(*allow));
	n_allow = o.n_allow_hosts;
	if (addr.wildcard && gethostname(hostname, sizeof(hostname)) == 0) {
		hostname[sizeof(hostname) - 1] = '\0';
		allow[n_allow++] = hostname;
	}
	if (addr.wildcard) {
		size_t before = n_allow;

		n_allow = own_addresses(&addr, allow, n_allow,
					sizeof(allow) / sizeof(*allow));
		n_own = n_allow - before;
	}
	if (!o.max_per_address)
		o.max_per_address =
			o.max_connections / 4 > 0 ? o.max_connections / 4 : 1;
	raise_nofile(o.max_connections);

	/* Before any thread exists, so every thread inherits the mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

	store = store_open(o.data, err, sizeof(err));
	if (!store) {
		fprintf(stderr, "overlap serve: %s\n", err);
		goto out;
	}
	rc_cfg = (struct runs_config){
		.store = store,
		.queue_max = o.queue,
		.cache_bytes = STREAM_CACHE_BYTES,
		.max_wall_ns = o.max_run_s * NS_PER_S,
		.wall_grace_ns = WALL_GRACE_NS,
	};
	runs = runs_create(&rc_cfg, err, sizeof(err));
	if (!runs) {
		fprintf(stderr, "overlap serve: %s\n", err);
		goto out;
	}
	rn_cfg = (struct runner_config){
		.exe = o.runner,
		.as_bytes = (uint64_t)o.runner_memory_mb << 20,
		.nproc_extra = NPROC_EXTRA,
		.store = store,
	};
	runner = runner_start(runs, &rn_cfg);
	if (!runner) {
		fprintf(stderr, "overlap serve: cannot start the runner\n");
		goto out;
	}
	guard_cfg = (struct guard_config){
		.request_deadline_ns = REQUEST_DEADLINE_S * NS_PER_S,
		.stuck_viewer_ns = STUCK_VIEWER_S * NS_PER_S,
		.viewers_max = o.max_viewers,
		.viewers_per_address = o.max_viewers_per_address,
		.tick_ns = GUARD_TICK_MS * NS_PER_MS,
	};
	guard = guard_create(&guard_cfg);
	if (!guard) {
		fprintf(stderr, "overlap serve: cannot start the guard\n");
		goto out;
	}
	http_cfg = (struct http_config){
		.web_dir = web,
		.token = token[0] ? token : NULL,
		.listen_host = addr.host,
		.allow_hosts = allow,
		.n_allow_hosts = n_allow,
		.heartbeat_ms = o.heartbeat_ms,
		.body_max_bytes = BODY_MAX_BYTES,
		.guard = guard,
	};
	http = http_create(&http_cfg, runs, store);
	if (!http) {
		fprintf(stderr, "overlap serve: out of memory\n");
		goto out;
	}
	listen_fd = open_listener(&addr, &port);
	if (listen_fd < 0) {
		fprintf(stderr,
			"overlap serve: cannot listen on %s port %d: "
			"%s\n",
			o.listen, o.port, strerror(-listen_fd));
		goto out;
	}
	daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ITC | MHD_USE_ERROR_LOG |
			(addr.family == AF_INET6 ? MHD_USE_IPv6 : 0),
		0, NULL, NULL, http_handle, http, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_URI_LOG_CALLBACK, http_uri_seen, http,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, http,
		MHD_OPTION_NOTIFY_CONNECTION, guard_notify, guard,
		MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)o.max_connections,
		/* Loopback has many addresses (127.0.0.0/8): a client on this
	     * machine is held to its share like any other. */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o.max_per_address,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_BYTES,
		MHD_OPTION_END);
	if (!daemon) {
		close(listen_fd);
		fprintf(stderr,
			"overlap serve: cannot start the HTTP daemon\n");
		goto out;
	}

	{
		const char *shown = addr.wildcard ? hostname : addr.host;

		if (token[0])
			printf("overlap: listening on http://%s:%d/?token=%s\n",
			       shown, port, token);
		else
			printf("overlap: listening on http://%s:%d/\n", shown,
			       port);
		printf("overlap: data in %s, page from %s\n", o.data, web);
		check_page_packages(web);
		fflush(stdout);
	}

	while (sigwait(&stop_signals, &sig) != 0)
		;
	fprintf(stderr, "overlap: stopping (signal %d)\n", sig);
	status = 0;

out:
	/* Stop taking connections; interrupt the running run and wait for
	 * the runner to conclude it, then the queued ones: every live stream
	 * now ends with its end event.  Then end the viewers (those still
	 * reading far behind are cut off), close every connection and join
	 * the threads. */
	listen_fd = daemon ? MHD_quiesce_daemon(daemon) : -1;
	if (runs)
		runs_shutdown(runs);
	runner_join(runner);
	if (runs)
		runs_interrupt_queued(runs);
	stream_shutdown(SHUTDOWN_DRAIN_MS);
	if (daemon)
		MHD_stop_daemon(daemon);
	if (listen_fd >= 0)
		close(listen_fd);
	guard_destroy(guard);
	http_destroy(http);
	runs_destroy(runs);
	for (size_t i = n_allow - n_own; i < n_allow; i++)
		free((char *)allow[i]);
	store_close(store);
	return status;
}
