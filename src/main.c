/*
 * main: the `overlap` command line.
 *
 * One binary, a few subcommands found in a small table (subcommands[]):
 * run, compare, workloads, serve, and hidden ones the engine starts itself.
 * Each subcommand parses its own options with getopt_long and turns every
 * value into the text form spec_set() reads, so the CLI, the server and the
 * page share one validation and one set of error messages.  The CLI only
 * translates a field ("params.tasks") back into the option the user typed
 * ("--tasks"), so bad usage is one line naming that option, and exit 2.
 *
 * `run --format events` is what the server starts: it writes NDJSON lines
 * from the collector thread into a buffer that a small flusher thread
 * pushes out every few milliseconds, so a viewer sees a segment within
 * milliseconds while a run of 100,000 tasks does not cost a write() per
 * line.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "costs.h"
#include "model.h"
#include "render.h"
#include "run.h"
#include "server.h"
#include "spec.h"
#include "summary.h"
#include "trace.h"
#include "trace_json.h"
#include "util.h"
#include "worker.h"
#include "workload.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_RUN_FAILED 1 /* the run ended in error, deadlock, cancel */
#define EXIT_USAGE 2

#define SPEC_FILE_MAX_BYTES (1 << 20)
#define MAX_SETS 64
#define EVENTS_FLUSH_NS (5 * NS_PER_MS)
#define EVENTS_BUFFER_BYTES (1024 * 1024)

static const char *cmd_name = "overlap"; /* "overlap run" in messages */

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
							     ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* ---- options shared by run and compare ---------------------------------- */

/* One value for the spec, in the order given, with the option that carried
 * it, so an error can name that option. */
struct set_arg {
	char option[16]; /* "--tasks", or "--set" */
	char key[64];
	const char *value;
};

struct run_args {
	const char *workload;
	const char *model;
	const char *models; /* compare */
	const char *format;
	const char *out;
	const char *spec_path;
	const char *id;
	int width; /* 0: find out */
	bool plain;
	struct set_arg sets[MAX_SETS];
	size_t n_sets;
};

enum {
	OPT_WORKLOAD = 256,
	OPT_MODEL,
	OPT_MODELS,
	OPT_SET,
	OPT_TASKS,
	OPT_DURATION,
	OPT_WORKERS,
	OPT_GIL,
	OPT_FORMAT,
	OPT_OUT,
	OPT_SPEC,
	OPT_ID,
	OPT_WIDTH,
	OPT_PLAIN,
	OPT_JSON,
	OPT_HELP,
	OPT_VERSION,
};

/* Long options that are shorthands for --set NAME=VALUE. */
static const struct {
	int opt;
	const char *name;
} shorthand_options[] = {
	{OPT_TASKS, "tasks"},
	{OPT_DURATION, "duration"},
	{OPT_WORKERS, "workers"},
	{OPT_GIL, "gil"},
};

static const struct option run_options[] = {
	{"workload", required_argument, NULL, OPT_WORKLOAD},
	{"model", required_argument, NULL, OPT_MODEL},
	{"set", required_argument, NULL, OPT_SET},
	{"tasks", required_argument, NULL, OPT_TASKS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"gil", required_argument, NULL, OPT_GIL},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"out", required_argument, NULL, OPT_OUT},
	{"spec", required_argument, NULL, OPT_SPEC},
	{"id", required_argument, NULL, OPT_ID},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"plain", no_argument, NULL, OPT_PLAIN},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static const struct option compare_options[] = {
	{"workload", required_argument, NULL, OPT_WORKLOAD},
	{"models", required_argument, NULL, OPT_MODELS},
	{"set", required_argument, NULL, OPT_SET},
	{"tasks", required_argument, NULL, OPT_TASKS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"gil", required_argument, NULL, OPT_GIL},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"out", required_argument, NULL, OPT_OUT},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"plain", no_argument, NULL, OPT_PLAIN},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static const char run_usage[] =
	"usage: overlap run --workload NAME --model NAME [options]\n"
	"\n"
	"Runs one workload under one concurrency model and prints its "
	"timeline.\n"
	"\n"
	"  --workload NAME      fetch, crunch, mixed, custom, ... (see "
	"'overlap workloads')\n"
	"  --model NAME         sequential, threads, thread-pool, ...\n"
	"  --set KEY=VALUE      any parameter or option, e.g. --set "
	"jitter=0.2\n"
	"  --tasks N            shorthand for --set tasks=N\n"
	"  --duration D         shorthand for --set duration=D (200ms, "
	"1.5s, 50us)\n"
	"  --workers N          shorthand for --set workers=N\n"
	"  --gil on|off         shorthand for --set gil=on|off\n"
	"  --format F           ascii (default on a terminal), json, chrome "
	"or events\n"
	"  --out FILE           write there instead of standard output\n"
	"  --spec FILE|-        the spec as JSON {workload, model, params, "
	"options}\n"
	"  --id ID              the run's id, recorded in the trace\n"
	"  --width N            columns of the ASCII timeline\n"
	"  --plain              ASCII glyphs only\n"
	"  --help, --version\n"
	"\n"
	"Exit status: 0 when the run finished, 1 when it ended in error, "
	"deadlock\nor cancel, 2 on bad usage.\n";

static const char compare_usage[] =
	"usage: overlap compare --workload NAME [--models a,b,c] [options]\n"
	"\n"
	"Runs one workload under several models, one after another, and "
	"prints\ntheir timelines on one time axis and a table of wall time "
	"and speedup.\n"
	"\n"
	"  --workload NAME      the workload (see 'overlap workloads')\n"
	"  --models a,b,c       default: every model that accepts the spec\n"
	"  --set KEY=VALUE, --tasks N, --duration D, --workers N, --gil "
	"on|off\n"
	"                       as for 'overlap run'; a model option applies "
	"to the\n"
	"                       models that have it\n"
	"  --format F           ascii (default on a terminal) or json "
	"({runs: [trace...]})\n"
	"  --out FILE, --width N, --plain, --help, --version\n";

static int add_set(struct run_args *a, const char *option, const char *key,
		   const char *value)
{
	struct set_arg *s;

	if (a->n_sets == MAX_SETS)
		return usage_error("%s: at most %d values", option, MAX_SETS);
	s = &a->sets[a->n_sets++];
	util_strlcpy(s->option, option, sizeof(s->option));
	util_strlcpy(s->key, key, sizeof(s->key));
	s->value = value;
	return 0;
}

static int parse_width(const char *text, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 20 || v > 1000)
		return usage_error("--width: must be a whole number from 20 "
				   "to 1000 (got '%s')",
				   text);
	*out = (int)v;
	return 0;
}

/* Returns 0, EXIT_USAGE, or -1 when --help/--version was answered. */
static int parse_run_args(int argc, char **argv, const struct option *opts,
			  const char *usage, struct run_args *a)
{
	int c, rc;
	size_t i;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_WORKLOAD:
			a->workload = optarg;
			break;
		case OPT_MODEL:
			a->model = optarg;
			break;
		case OPT_MODELS:
			a->models = optarg;
			break;
		case OPT_SET: {
			const char *eq = strchr(optarg, '=');
			char key[64];

			if (!eq || eq == optarg)
				return usage_error("--set: expected "
						   "KEY=VALUE (got '%s')",
						   optarg);
			if ((size_t)(eq - optarg) >= sizeof(key))
				return usage_error("--set: key too long");
			memcpy(key, optarg, (size_t)(eq - optarg));
			key[eq - optarg] = '\0';
			rc = add_set(a, "--set", key, eq + 1);
			if (rc)
				return rc;
			break;
		}
		case OPT_TASKS:
		case OPT_DURATION:
		case OPT_WORKERS:
		case OPT_GIL:
			for (i = 0; i < sizeof(shorthand_options) /
						sizeof(shorthand_options[0]);
			     i++) {
				char option[32];

				if (shorthand_options[i].opt != c)
					continue;
				snprintf(option, sizeof(option), "--%s",
					 shorthand_options[i].name);
				rc = add_set(a, option,
					     shorthand_options[i].name, optarg);
				if (rc)
					return rc;
			}
			break;
		case OPT_FORMAT:
			a->format = optarg;
			break;
		case OPT_OUT:
			a->out = optarg;
			break;
		case OPT_SPEC:
			a->spec_path = optarg;
			break;
		case OPT_ID:
			a->id = optarg;
			break;
		case OPT_WIDTH:
			rc = parse_width(optarg, &a->width);
			if (rc)
				return rc;
			break;
		case OPT_PLAIN:
			a->plain = true;
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			return -1;
		case OPT_VERSION:
			printf("overlap %s\n", OVERLAP_VERSION);
			return -1;
		case ':':
			return usage_error("%s: requires a value",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s' (see --help)",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s' (see --help)",
				   argv[optind]);
	return 0;
}

/* ---- errors, from a spec field back to the option ----------------------- */

/* Prints a spec error as one usage line naming the option the user typed:
 * "overlap run: --tasks: must be at most 100000 (got 200000)". */
static int spec_usage_error(const struct run_args *a,
			    const struct spec_error *err)
{
	const char *dot = strchr(err->field, '.');
	const char *key = dot ? dot + 1 : err->field;
	const char *message = err->message;
	const struct set_arg *from = NULL;
	size_t i, klen = strlen(key);
	char option[96];

	for (i = 0; i < a->n_sets; i++) {
		const char *k = a->sets[i].key;

		if (strcmp(k, key) == 0 || strcmp(k, err->field) == 0)
			from = &a->sets[i];
	}
	if (a->spec_path && !from)
		return usage_error("--spec: %s", message);
	/* The message starts with the parameter's name, which the option
	 * already says. */
	if (strncmp(message, key, klen) == 0 && message[klen] == ':' &&
	    message[klen + 1] == ' ')
		message += klen + 2;
	if (from && strcmp(from->option, "--set") != 0)
		snprintf(option, sizeof(option), "%s", from->option);
	else if (from || dot)
		snprintf(option, sizeof(option), "--set %s", key);
	else
		snprintf(option, sizeof(option), "--%s", err->field);
	return usage_error("%s: %s", option, message);
}

static bool valid_run_id(const char *id)
{
	size_t n = 0;

	for (; *id; id++, n++)
		if (!isalnum((unsigned char)*id) && *id != '-' && *id != '_')
			return false;
	return n > 0 && n < 40;
}

/* Reads the spec's JSON from a file, or standard input for "-". */
static json_t *read_spec_json(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	json_error_t jerr;
	json_t *root;
	char *buf;
	size_t n;

	if (!f) {
		usage_error("--spec: cannot open '%s': %s", path,
			    strerror(errno));
		return NULL;
	}
	buf = util_xcalloc(1, SPEC_FILE_MAX_BYTES + 1);
	n = fread(buf, 1, SPEC_FILE_MAX_BYTES + 1, f);
	if (f != stdin)
		fclose(f);
	if (n > SPEC_FILE_MAX_BYTES) {
		free(buf);
		usage_error("--spec: at most %d bytes", SPEC_FILE_MAX_BYTES);
		return NULL;
	}
	root = json_loadb(buf, n, 0, &jerr);
	free(buf);
	if (!root)
		usage_error("--spec: invalid JSON at line %d, column %d: %s",
			    jerr.line, jerr.column, jerr.text);
	return root;
}

/* Applies a's values to spec.  For compare (lenient), a model option the
 * model does not have is skipped.  Returns 0 or EXIT_USAGE (printed). */
static int apply_sets(const struct run_args *a, struct spec *spec,
		      bool lenient, bool *all_ok)
{
	struct spec_error err;
	size_t i;

	*all_ok = true;
	for (i = 0; i < a->n_sets; i++) {
		const struct set_arg *s = &a->sets[i];
		int rc;

		memset(&err, 0, sizeof(err));
		rc = spec_set(spec, s->key, s->value, &err);
		if (rc == -ENOENT && lenient) {
			*all_ok = false;
			continue;
		}
		if (rc == -ENOENT && strcmp(s->option, "--set") != 0)
			return usage_error("%s: the %s model has no option %s",
					   s->option, spec->model, s->key);
		if (rc < 0)
			return spec_usage_error(a, &err);
	}
	return 0;
}

/* ---- output ------------------------------------------------------------- */

enum format { FMT_ASCII, FMT_JSON, FMT_CHROME, FMT_EVENTS };

static int parse_format(const char *text, bool compare, FILE *out,
			enum format *fmt)
{
	if (!text) {
		*fmt = isatty(fileno(out)) ? FMT_ASCII : FMT_JSON;
		return 0;
	}
	if (strcmp(text, "ascii") == 0)
		*fmt = FMT_ASCII;
	else if (strcmp(text, "json") == 0)
		*fmt = FMT_JSON;
	else if (!compare && strcmp(text, "chrome") == 0)
		*fmt = FMT_CHROME;
	else if (!compare && strcmp(text, "events") == 0)
		*fmt = FMT_EVENTS;
	else if (compare)
		return usage_error("--format: must be one of ascii, json "
				   "(got '%s')",
				   text);
	else
		return usage_error("--format: must be one of ascii, json, "
				   "chrome, events (got '%s')",
				   text);
	return 0;
}

/* Columns for the ASCII timeline: --width, the terminal, $COLUMNS, 100. */
static int ascii_width(const struct run_args *a, FILE *out)
{
	struct winsize ws;
	const char *env;

	if (a->width)
		return a->width;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	env = getenv("COLUMNS");
	if (env && atoi(env) >= 20 && atoi(env) <= 1000)
		return atoi(env);
	return 100;
}

/* Box-drawing glyphs only where the locale says UTF-8. */
static bool ascii_unicode(const struct run_args *a)
{
	static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
	size_t i;

	if (a->plain)
		return false;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && v[0])
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

static FILE *open_out(const struct run_args *a)
{
	FILE *f;

	if (!a->out || strcmp(a->out, "-") == 0)
		return stdout;
	f = fopen(a->out, "w");
	if (!f)
		usage_error("--out: cannot write '%s': %s", a->out,
			    strerror(errno));
	return f;
}

static int close_out(FILE *f)
{
	int rc = 0;

	if (fflush(f) != 0)
		rc = -EIO;
	if (f != stdout && fclose(f) != 0)
		rc = -EIO;
	if (rc)
		fprintf(stderr, "%s: writing the output failed: %s\n",
			cmd_name, strerror(errno));
	return rc;
}

static int print_json(FILE *f, json_t *obj)
{
	int rc;

	if (!obj)
		return -ENOMEM;
	rc = json_dumpf(obj, f, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', f);
	json_decref(obj);
	return rc < 0 ? -EIO : 0;
}

/* ---- the events stream -------------------------------------------------- */

/* What was last sent of a task, so that a change made after the collector
 * stopped (a task cancelled at the deadline) is sent once at the end. */
struct task_sent {
	int64_t submit_ns, start_ns, end_ns;
	uint32_t lane;
	uint8_t status;
	bool sent;
};

struct event_writer {
	FILE *f;
	pthread_t flusher;
	bool flusher_running;
	pthread_mutex_t lock; /* protects everything below, and writes to f */
	pthread_cond_t wake;
	bool dirty;
	bool stopping;
	bool run_sent;
	size_t lanes_sent;
	struct task_sent *tasks;
	size_t n_tasks;
};

/* Caller holds w->lock.  Takes obj (steals the reference). */
static void ew_write_locked(struct event_writer *w, json_t *obj)
{
	char *line;

	if (!obj)
		return;
	line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (!line)
		return;
	fputs(line, w->f);
	fputc('\n', w->f);
	free(line);
	w->dirty = true;
}

/* Room for a line render_line_* writes; a longer one is left to
 * jansson. */
#define EVENT_LINE_MAX 1024

/* Caller holds w->lock.  Writes a line render_line_* made (n >= 0);
 * false when it made none, and the caller builds the line with jansson. */
static bool ew_put_locked(struct event_writer *w, const char *line, int n)
{
	if (n < 0)
		return false;
	fwrite_unlocked(line, 1, (size_t)n, w->f);
	fputc_unlocked('\n', w->f);
	w->dirty = true;
	return true;
}

static void ew_task_locked(struct event_writer *w, const struct trace *t,
			   size_t i)
{
	char line[EVENT_LINE_MAX];
	const struct trace_task *task = &t->tasks[i];
	struct task_sent *s;

	if (i >= w->n_tasks)
		return;
	s = &w->tasks[i];
	s->submit_ns = task->submit_ns;
	s->start_ns = task->start_ns;
	s->end_ns = task->end_ns;
	s->lane = task->lane;
	s->status = task->status;
	s->sent = true;
	if (!ew_put_locked(w, line,
			   render_line_task(line, sizeof(line), t, i)))
		ew_write_locked(w, render_event_task(t, i));
}

static bool ew_task_changed(const struct event_writer *w,
			    const struct trace *t, size_t i)
{
	const struct trace_task *task = &t->tasks[i];
	const struct task_sent *s = &w->tasks[i];

	return !s->sent || s->submit_ns != task->submit_ns ||
	       s->start_ns != task->start_ns || s->end_ns != task->end_ns ||
	       s->lane != task->lane || s->status != task->status;
}

static void ew_new_lanes_locked(struct event_writer *w, const struct trace *t)
{
	while (w->lanes_sent < t->n_lanes)
		ew_write_locked(w, render_event_lane(t, w->lanes_sent++));
}

static void ew_on_start(void *ctx, const struct trace *t)
{
	struct event_writer *w = ctx;
	size_t i;

	pthread_mutex_lock(&w->lock);
	if (!w->run_sent) {
		ew_write_locked(w, render_event_run(t));
		w->run_sent = true;
	}
	ew_new_lanes_locked(w, t);
	if (!w->tasks && t->n_tasks) {
		w->tasks = util_xcalloc(t->n_tasks, sizeof(*w->tasks));
		w->n_tasks = t->n_tasks;
	}
	for (i = 0; i < w->n_tasks; i++)
		ew_task_locked(w, t, i);
	pthread_mutex_unlock(&w->lock);
}

static void ew_sink(void *ctx, const struct trace *t,
		    const struct rec_event *ev)
{
	struct event_writer *w = ctx;
	char line[EVENT_LINE_MAX];
	size_t last = t->n_segments - 1;

	pthread_mutex_lock(&w->lock);
	ew_new_lanes_locked(w, t);
	switch (ev->type) {
	case EV_SEGMENT:
		if (t->n_segments &&
		    !ew_put_locked(w, line,
				   render_line_segment(line, sizeof(line), t,
						       last)))
			ew_write_locked(w, render_event_segment(t, last));
		break;
	case EV_OPEN:
		if (!ew_put_locked(w, line,
				   render_line_open(line, sizeof(line), t, ev)))
			ew_write_locked(w, render_event_open(t, ev));
		break;
	case EV_TASK_SUBMIT:
	case EV_TASK_START:
	case EV_TASK_END:
		if (ev->task < t->n_tasks && ev->task < w->n_tasks &&
		    ew_task_changed(w, t, ev->task))
			ew_task_locked(w, t, ev->task);
		break;
	case EV_LANE_OS_ID:
		if (ev->lane < w->lanes_sent && ev->lane < t->n_lanes)
			ew_write_locked(w, render_event_lane(t, ev->lane));
		break;
	case EV_COUNTER:
		if (t->n_samples)
			ew_write_locked(w, render_event_counter(
						   t, t->n_samples - 1));
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&w->lock);
}

/* Pushes buffered lines out every EVENTS_FLUSH_NS while there are any. */
static void *ew_flusher(void *arg)
{
	struct event_writer *w = arg;
	struct timespec ts;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += EVENTS_FLUSH_NS;
		if (ts.tv_nsec >= NS_PER_S) {
			ts.tv_sec++;
			ts.tv_nsec -= NS_PER_S;
		}
		pthread_cond_timedwait(&w->wake, &w->lock, &ts);
		if (w->dirty) {
			fflush(w->f);
			w->dirty = false;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int ew_start(struct event_writer *w, FILE *f)
{
	pthread_condattr_t attr;

	memset(w, 0, sizeof(*w));
	w->f = f;
	/* The flusher pushes lines out every EVENTS_FLUSH_NS; a large buffer
	 * spares the collector a write of its own for every few lines of a
	 * burst.  Nothing has been written to f yet. */
	(void)setvbuf(f, NULL, _IOFBF, EVENTS_BUFFER_BYTES);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&w->flusher, NULL, ew_flusher, w) != 0)
		return -EAGAIN;
	w->flusher_running = true;
	return 0;
}

/* Stops the flusher, sends what changed after the collector stopped, and
 * the summary line last. */
static void ew_finish(struct event_writer *w, const struct trace *t)
{
	size_t i;

	if (w->flusher_running) {
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->flusher, NULL);
		w->flusher_running = false;
	}
	pthread_mutex_lock(&w->lock);
	if (!w->run_sent) {
		ew_write_locked(w, render_event_run(t));
		w->run_sent = true;
	}
	ew_new_lanes_locked(w, t);
	for (i = 0; i < w->n_tasks && i < t->n_tasks; i++)
		if (ew_task_changed(w, t, i))
			ew_task_locked(w, t, i);
	if (t->has_summary) {
		ew_write_locked(w, render_event_summary(t));
	} else {
		json_t *line = json_pack(
			"{s:s, s:s, s:s, s:n}", "type", "summary", "status",
			run_status_name((enum run_status)t->status), "message",
			t->message, "summary");
		ew_write_locked(w, line);
	}
	fflush(w->f);
	w->dirty = false;
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->tasks);
	w->tasks = NULL;
}

/* ---- run ---------------------------------------------------------------- */

/* Builds the spec from the arguments.  Returns 0 or EXIT_USAGE (printed). */
static int build_spec(const struct run_args *a, struct spec *spec)
{
	struct spec_error err;
	bool all_ok;
	int rc;

	memset(&err, 0, sizeof(err));
	if (a->spec_path) {
		json_t *root;

		if (a->workload || a->model)
			return usage_error("--spec: give the workload and the "
					   "model inside the spec, not as "
					   "--%s",
					   a->workload ? "workload" : "model");
		root = read_spec_json(a->spec_path);
		if (!root)
			return EXIT_USAGE;
		rc = spec_from_json(root, spec, &err);
		json_decref(root);
		if (rc < 0)
			return usage_error("--spec: %s", err.message);
	} else {
		if (!a->workload)
			return usage_error("--workload: required (see "
					   "'overlap workloads')");
		if (!a->model)
			return usage_error("--model: required (see 'overlap "
					   "workloads')");
		rc = spec_init(spec, a->workload, a->model, &err);
		if (rc < 0)
			return spec_usage_error(a, &err);
	}
	rc = apply_sets(a, spec, false, &all_ok);
	if (rc)
		return rc;
	if (a->id) {
		if (!valid_run_id(a->id))
			return usage_error("--id: expected up to 39 letters, "
					   "digits, '-' or '_' (got '%s')",
					   a->id);
		util_strlcpy(spec->id, a->id, sizeof(spec->id));
	}
	rc = spec_validate(spec, &err);
	if (rc < 0)
		return spec_usage_error(a, &err);
	return 0;
}

static int exit_for_status(const struct trace *t)
{
	return t->status == RUN_DONE ? EXIT_OK : EXIT_RUN_FAILED;
}

static void on_cancel_signal(int sig)
{
	(void)sig;
	run_request_cancel();
}

/* SIGTERM (the server's cancel) and SIGINT (Ctrl-C) stop a run as
 * cancelled, with its trace whole and printed; a second one ends the
 * process as the signal does (SA_RESETHAND). */
static void cancel_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel_signal;
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int cmd_run(int argc, char **argv)
{
	struct run_args *a = util_xcalloc(1, sizeof(*a));
	struct spec *spec = util_xcalloc(1, sizeof(*spec));
	struct event_writer writer;
	struct run_hooks hooks = {0};
	struct spec_error err;
	struct trace trace;
	enum format fmt;
	FILE *out = NULL;
	int rc;

	cmd_name = "overlap run";
	rc = parse_run_args(argc, argv, run_options, run_usage, a);
	if (rc) {
		rc = rc < 0 ? EXIT_OK : rc;
		goto out_free_args;
	}
	rc = build_spec(a, spec);
	if (rc)
		goto out_free_args;
	rc = parse_format(a->format, false,
			  a->out && strcmp(a->out, "-") ? stderr : stdout,
			  &fmt);
	if (rc)
		goto out_free_args;
	if (!a->format && a->out && strcmp(a->out, "-"))
		fmt = FMT_JSON; /* a file gets the trace */
	out = open_out(a);
	if (!out) {
		rc = EXIT_USAGE;
		goto out_free_args;
	}

	trace_init(&trace);
	memset(&err, 0, sizeof(err));
	if (fmt == FMT_EVENTS) {
		if (ew_start(&writer, out) < 0) {
			fprintf(stderr, "%s: cannot start a thread\n",
				cmd_name);
			rc = EXIT_RUN_FAILED;
			goto out_free_trace;
		}
		hooks.sink = ew_sink;
		hooks.sink_ctx = &writer;
		hooks.on_start = ew_on_start;
	}
	cancel_on_signals();
	rc = run_execute(spec, &hooks, &trace, &err);
	if (rc < 0) {
		trace.status = RUN_ERROR;
		util_strlcpy(trace.message, err.message,
			     sizeof(trace.message));
		fprintf(stderr, "%s: %s\n", cmd_name,
			err.message[0] ? err.message : strerror(-rc));
	}
	switch (fmt) {
	case FMT_EVENTS:
		ew_finish(&writer, &trace);
		break;
	case FMT_JSON:
		if (rc == 0)
			print_json(out, trace_to_json(&trace));
		break;
	case FMT_CHROME:
		if (rc == 0)
			print_json(out, render_chrome(&trace));
		break;
	case FMT_ASCII:
		if (rc == 0) {
			struct ascii_opts o = {
				.width = ascii_width(a, out),
				.unicode = ascii_unicode(a),
				.summary = true,
			};
			render_ascii(&trace, &o, out);
		}
		break;
	}
	if (rc == 0 && trace.status != RUN_DONE) {
		const char *st = run_status_name((enum run_status)trace.status);

		if (trace_message_names_status(&trace))
			fprintf(stderr, "%s: the run ended in %s\n", cmd_name,
				trace.message);
		else
			fprintf(stderr,
				"%s: the run ended with status %s%s%s\n",
				cmd_name, st, trace.message[0] ? ": " : "",
				trace.message);
	}
	rc = rc < 0 ? EXIT_RUN_FAILED : exit_for_status(&trace);
	if (close_out(out) < 0)
		rc = EXIT_RUN_FAILED;
out_free_trace:
	trace_free(&trace);
out_free_args:
	free(spec);
	free(a);
	return rc;
}

/* ---- compare ------------------------------------------------------------ */

struct compare_entry {
	const struct model_ops *model;
	bool skipped;
	char reason[300];
	struct trace trace;
	bool ran;
	int rc;
};

/* Fills entries from --models (or the whole catalog).  Returns the count,
 * or -EXIT_USAGE (printed). */
static int compare_models(const struct run_args *a,
			  struct compare_entry *entries, size_t max)
{
	size_t n = 0, i;

	if (!a->models) {
		for (i = 0; i < model_catalog_count && n < max; i++)
			entries[n++].model = model_catalog[i];
		return (int)n;
	}
	{
		char *list = util_xstrdup(a->models), *save = NULL, *name;

		for (name = strtok_r(list, ",", &save); name;
		     name = strtok_r(NULL, ",", &save)) {
			const struct model_ops *m = model_find(name);

			if (!m) {
				char names[256] = "";
				size_t used = 0;

				for (i = 0; i < model_catalog_count &&
					    used < sizeof(names);
				     i++)
					used += (size_t)snprintf(
						names + used,
						sizeof(names) - used, "%s%s",
						i ? ", " : "",
						model_catalog[i]->name);
				usage_error("--models: unknown model '%s' "
					    "(expected %s)",
					    name, names);
				free(list);
				return -EXIT_USAGE;
			}
			for (i = 0; i < n; i++)
				if (entries[i].model == m)
					break;
			if (i == n && n < max)
				entries[n++].model = m;
		}
		free(list);
	}
	if (n == 0) {
		usage_error("--models: expected a list such as "
			    "sequential,threads");
		return -EXIT_USAGE;
	}
	return (int)n;
}

/* Prepares one model's spec: a workload parameter that is wrong is bad
 * usage for every model (EXIT_USAGE); a model that rejects the spec is
 * skipped with the reason. */
static int compare_prepare(const struct run_args *a, struct compare_entry *e,
			   struct spec *spec)
{
	struct spec_error err;
	bool all_ok;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = spec_init(spec, a->workload, e->model->name, &err);
	if (rc < 0)
		return spec_usage_error(a, &err);
	rc = apply_sets(a, spec, true, &all_ok);
	if (rc)
		return rc;
	rc = spec_validate(spec, &err);
	if (rc < 0) {
		e->skipped = true;
		snprintf(e->reason, sizeof(e->reason), "%s", err.message);
	}
	return 0;
}

/* A --set key no model and not the workload knows is bad usage. */
static int compare_check_keys(const struct run_args *a,
			      const struct compare_entry *entries, size_t n)
{
	size_t i, j;

	for (i = 0; i < a->n_sets; i++) {
		const char *key = a->sets[i].key;
		bool known = false;

		if (strncmp(key, "params.", 7) == 0 ||
		    strncmp(key, "options.", 8) == 0)
			key = strchr(key, '.') + 1;
		for (j = 0; j < n && !known; j++) {
			struct spec *probe =
				util_xcalloc(1, sizeof(*probe));
			struct spec_error err;

			if (spec_init(probe, a->workload,
				      entries[j].model->name, &err) == 0)
				known = spec_find(&probe->params, key) ||
					spec_find(&probe->options, key);
			free(probe);
		}
		/* --workers and --gil are for the models that have them;
		 * comparing only models without them is not a mistake. */
		if (!known && (strcmp(a->sets[i].option, "--workers") == 0 ||
			       strcmp(a->sets[i].option, "--gil") == 0))
			continue;
		if (!known)
			return usage_error("%s%s%s: not a parameter of %s or "
					   "an option of any model compared",
					   a->sets[i].option,
					   strcmp(a->sets[i].option, "--set")
						   ? ""
						   : " ",
					   strcmp(a->sets[i].option, "--set")
						   ? ""
						   : a->sets[i].key,
					   a->workload);
	}
	return 0;
}

static void print_compare_table(FILE *f, struct compare_entry *entries,
				size_t n)
{
	const struct compare_entry *base = NULL;
	const char *base_name = "sequential";
	size_t i;
	char wall[32];

	for (i = 0; i < n; i++)
		if (entries[i].ran &&
		    strcmp(entries[i].model->name, "sequential") == 0)
			base = &entries[i];
	if (!base) {
		for (i = 0; i < n; i++)
			if (entries[i].ran &&
			    (!base || entries[i].trace.summary.wall_ns >
					      base->trace.summary.wall_ns))
				base = &entries[i];
		base_name = "the slowest";
	}
	fprintf(f, "%-18s %10s %9s %12s %9s %15s\n", "model", "wall",
		"speedup", "parallelism", "CPU util", "peak in flight");
	for (i = 0; i < n; i++) {
		const struct compare_entry *e = &entries[i];
		const struct trace_summary *s = &e->trace.summary;
		double speedup = 0;

		if (e->skipped) {
			fprintf(f, "%-18s skipped: %s\n", e->model->name,
				e->reason);
			continue;
		}
		if (!e->ran) {
			fprintf(f, "%-18s failed: %s\n", e->model->name,
				e->reason);
			continue;
		}
		if (base && s->wall_ns > 0)
			speedup = (double)base->trace.summary.wall_ns /
				  (double)s->wall_ns;
		fprintf(f, "%-18s %10s %8.2fx %12.2f %8.0f%% %15lld%s%s\n",
			e->model->name,
			util_format_duration(s->wall_ns, wall, sizeof(wall)),
			speedup, s->parallelism, s->cpu_util * 100.0,
			(long long)s->peak_inflight,
			e->trace.status == RUN_DONE ? "" : "  ",
			e->trace.status == RUN_DONE
				? ""
				: run_status_name(
					  (enum run_status)e->trace.status));
	}
	if (base && strcmp(base_name, "sequential") == 0)
		fprintf(f, "speedup: against sequential\n");
	else if (base)
		fprintf(f, "speedup: against the slowest run (%s)\n",
			base->model->name);
}

static int cmd_compare(int argc, char **argv)
{
	struct run_args *a = util_xcalloc(1, sizeof(*a));
	struct spec *spec = util_xcalloc(1, sizeof(*spec));
	struct compare_entry *entries = NULL;
	bool progress = isatty(STDERR_FILENO);
	size_t n = 0, i, runnable = 0;
	int64_t axis_ns = 0;
	enum format fmt;
	FILE *out = NULL;
	int rc, count;

	cmd_name = "overlap compare";
	rc = parse_run_args(argc, argv, compare_options, compare_usage, a);
	if (rc) {
		rc = rc < 0 ? EXIT_OK : rc;
		goto out_free;
	}
	if (!a->workload) {
		rc = usage_error("--workload: required (see 'overlap "
				 "workloads')");
		goto out_free;
	}
	rc = parse_format(a->format, true,
			  a->out && strcmp(a->out, "-") ? stderr : stdout,
			  &fmt);
	if (rc)
		goto out_free;
	if (!a->format && a->out && strcmp(a->out, "-"))
		fmt = FMT_JSON;
	entries = util_xcalloc(model_catalog_count + 1, sizeof(*entries));
	count = compare_models(a, entries, model_catalog_count);
	if (count < 0) {
		rc = -count;
		goto out_free;
	}
	n = (size_t)count;
	for (i = 0; i < n; i++)
		trace_init(&entries[i].trace);
	rc = compare_check_keys(a, entries, n);
	if (rc)
		goto out_free_traces;
	for (i = 0; i < n; i++) {
		rc = compare_prepare(a, &entries[i], spec);
		if (rc)
			goto out_free_traces;
		if (entries[i].skipped)
			fprintf(stderr, "%s: skipping %s: %s\n", cmd_name,
				entries[i].model->name, entries[i].reason);
		else
			runnable++;
	}
	if (runnable == 0) {
		rc = usage_error("no model accepts this spec");
		goto out_free_traces;
	}
	out = open_out(a);
	if (!out) {
		rc = EXIT_USAGE;
		goto out_free_traces;
	}

	/* One after another, so that runs do not steal each other's cores. */
	rc = EXIT_OK;
	for (i = 0; i < n; i++) {
		struct compare_entry *e = &entries[i];
		struct spec_error err;
		int r;

		if (e->skipped)
			continue;
		if (compare_prepare(a, e, spec) != 0 || e->skipped)
			continue;
		if (progress)
			fprintf(stderr, "%s: running %s ...\n", cmd_name,
				e->model->name);
		memset(&err, 0, sizeof(err));
		r = run_execute(spec, NULL, &e->trace, &err);
		if (r < 0) {
			snprintf(e->reason, sizeof(e->reason), "%s",
				 err.message[0] ? err.message : strerror(-r));
			fprintf(stderr, "%s: %s: %s\n", cmd_name,
				e->model->name, e->reason);
			rc = EXIT_RUN_FAILED;
			continue;
		}
		e->ran = true;
		if (e->trace.status != RUN_DONE)
			rc = EXIT_RUN_FAILED;
		if (e->trace.summary.wall_ns > axis_ns)
			axis_ns = e->trace.summary.wall_ns;
	}

	if (fmt == FMT_JSON) {
		json_t *root = json_object(), *runs = json_array();
		json_t *skipped = json_array();

		for (i = 0; i < n; i++) {
			if (entries[i].ran)
				json_array_append_new(
					runs, trace_to_json(&entries[i].trace));
			else
				json_array_append_new(
					skipped,
					json_pack("{s:s, s:s}", "model",
						  entries[i].model->name,
						  "reason",
						  entries[i].reason));
		}
		json_object_set_new(root, "runs", runs);
		json_object_set_new(root, "skipped", skipped);
		print_json(out, root);
	} else {
		struct ascii_opts o = {
			.width = ascii_width(a, out),
			.unicode = ascii_unicode(a),
			.summary = false,
			.axis_ns = axis_ns,
		};

		for (i = 0; i < n; i++) {
			if (!entries[i].ran)
				continue;
			/* render_ascii's title names the model. */
			render_ascii(&entries[i].trace, &o, out);
			fputc('\n', out);
		}
		print_compare_table(out, entries, n);
	}
	if (close_out(out) < 0)
		rc = EXIT_RUN_FAILED;
out_free_traces:
	for (i = 0; i < n; i++)
		trace_free(&entries[i].trace);
out_free:
	free(entries);
	free(spec);
	free(a);
	return rc;
}

/* ---- workloads ---------------------------------------------------------- */

static const char *type_name(enum param_type t)
{
	switch (t) {
	case PARAM_INT:
		return "int";
	case PARAM_DURATION:
		return "duration";
	case PARAM_FLOAT:
		return "float";
	case PARAM_ENUM:
		return "enum";
	case PARAM_TEXT:
		return "text";
	}
	return "?";
}

static void print_param(FILE *f, const struct param_def *d)
{
	char range[64], lo[32], hi[32];
	const char *shown;

	switch (d->type) {
	case PARAM_INT:
		snprintf(range, sizeof(range), "%.0f..%.0f%s%s", d->min, d->max,
			 d->unit && d->unit[0] ? " " : "",
			 d->unit ? d->unit : "");
		break;
	case PARAM_FLOAT:
		snprintf(range, sizeof(range), "%g..%g", d->min, d->max);
		break;
	case PARAM_DURATION:
		snprintf(range, sizeof(range), "%s..%s",
			 util_format_duration_text((int64_t)d->min, lo,
						   sizeof(lo)),
			 util_format_duration_text((int64_t)d->max, hi,
						   sizeof(hi)));
		break;
	case PARAM_ENUM:
		snprintf(range, sizeof(range), "%s",
			 d->choices ? d->choices : "");
		break;
	case PARAM_TEXT:
		snprintf(range, sizeof(range), "<= %.0f bytes", d->max);
		break;
	}
	if (!d->def || !d->def[0])
		shown = "-";
	else if (strlen(d->def) > 12)
		shown = "(see below)";
	else
		shown = d->def;
	fprintf(f, "    %-16s %-8s %-12s %-24s %s\n", d->name,
		type_name(d->type), shown, range, d->help ? d->help : "");
	if (d->def && strlen(d->def) > 12)
		fprintf(f, "    %-16s %-8s default: %s\n", "", "", d->def);
}

static int cmd_workloads(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	bool as_json = false;
	size_t i, j;
	int c;

	cmd_name = "overlap workloads";
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			as_json = true;
			break;
		case OPT_HELP:
			fputs("usage: overlap workloads [--json]\n\n"
			      "Lists the workloads with their parameters "
			      "(type, default, limits, help)\nand the models "
			      "with their options.\n",
			      stdout);
			return EXIT_OK;
		case OPT_VERSION:
			printf("overlap %s\n", OVERLAP_VERSION);
			return EXIT_OK;
		default:
			return usage_error("unknown option '%s' (see --help)",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s' (see --help)",
				   argv[optind]);
	if (as_json)
		return print_json(stdout, spec_catalog_json()) < 0
			       ? EXIT_RUN_FAILED
			       : EXIT_OK;

	printf("Workloads (overlap run --workload NAME --set KEY=VALUE):\n");
	for (i = 0; i < workload_catalog_count; i++) {
		const struct workload *w = workload_catalog[i];

		printf("\n  %s: %s\n", w->name, w->help);
		printf("    %-16s %-8s %-12s %-24s %s\n", "parameter", "type",
		       "default", "limits", "help");
		for (j = 0; j < w->n_params; j++)
			print_param(stdout, &w->params[j]);
	}
	printf("\nModels (overlap run --model NAME --set KEY=VALUE):\n");
	for (i = 0; i < model_catalog_count; i++) {
		const struct model_ops *m = model_catalog[i];

		printf("\n  %s: %s\n", m->name, m->help);
		printf("    %-16s %-8s %-12s %-24s %s\n", "option", "type",
		       "default", "limits", "help");
		for (j = 0; j < m->n_options; j++)
			print_param(stdout, &m->options[j]);
		for (j = 0; j < spec_common_options_count; j++)
			print_param(stdout, &spec_common_options[j]);
	}
	printf("\nDurations: 250ms, 1.5s, 50us (a bare number is "
	       "milliseconds).\n");
	return EXIT_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv); /* argv[0] is the name */
	const char *help;		    /* NULL: hidden */
};

static const struct subcommand subcommands[] = {
	{"run", cmd_run, "run a workload under one model"},
	{"compare", cmd_compare, "run a workload under several models"},
	{"workloads", cmd_workloads, "list workloads, parameters and models"},
	{"serve", server_main, "serve the web page and the HTTP API"},
	{"calibrate", costs_main, "measure this machine's CPython costs"},
	/* Hidden subcommands the engine starts itself (help = NULL) go
	 * here, e.g. the process pool's spawned workers:
	 *   {"worker", worker_main, NULL},   (worker.h) */
	{"worker", worker_main, NULL},
};

static void print_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: overlap COMMAND [options]\n\n"
		   "Runs workloads under Python-style concurrency models and "
		   "shows how\ntheir tasks overlap.\n\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (subcommands[i].help)
			fprintf(f, "  %-10s %s\n", subcommands[i].name,
				subcommands[i].help);
	fprintf(f, "\n'overlap COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("overlap %s\n", OVERLAP_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].main(argc - 1, argv + 1);
	return usage_error("unknown command '%s' (expected run, compare, "
			   "workloads, serve or calibrate)",
			   argv[1]);
}
