/*
 * protocol: the rows behind protocol.h's numbers.  Each list is indexed by
 * its enum, so a word and its number cannot drift apart; the run statuses
 * list every word a trace may carry, with the engine's own statuses at
 * their places in it.  protocol_vocabulary_json() writes the same rows
 * for the catalog, in their order, which is the order of the page's
 * legend and of its stacked activity.
 */
#include "protocol.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "program.h"

/* clang-format off */
const struct glyph_def protocol_glyphs[PROTOCOL_GLYPHS] = {
	{" ", " ", NULL},        /* no state */
	{"#", "\u2588", "cpu"},  /* compute */
	{"-", "\u2500", "wait"}, /* io, sleep */
	{"~", "\u2591", NULL},   /* gil-wait */
	{".", "\u00b7", NULL},   /* queued */
	{":", "\u2504", NULL},   /* waits on shared objects */
	{"^", "\u2248", NULL},   /* backoff */
	{"+", "\u2592", NULL},   /* startup */
	{"=", "\u2550", NULL},   /* ipc */
	{">", "\u254c", NULL},   /* connect */
};

/* The colours come from the Okabe-Ito set and Paul Tol's muted set, both
 * chosen to stay distinct under the common forms of colour blindness.
 * Fifteen states cannot all differ by hue alone, so the states that
 * appear together in one lesson (compute, io, sleep, gil-wait, queued; the
 * scraper's sem-wait, rate-wait and backoff; the process pool's startup
 * and ipc; a request's connect beside its io, a darker green of the same
 * family) get the most distinct ones.  ready (a task the busy event loop
 * has not got round to) and runnable (a thread waiting for a core) are an
 * orange and a purple apart from gil-wait, the third way of being able to
 * run but not running.  The dark scheme lightens the darkest colours so
 * they keep their contrast against a dark background. */
#define CPU STATE_USES_CPU
#define OVERLAP STATE_OVERLAPPABLE
#define OBJECT STATE_OBJECT_WAIT
const struct state_def protocol_states[ST__COUNT] = {
	[ST_QUEUED] = {"queued", "submitted, waiting for a worker",
		4, BUCKET_QUEUED, 0, "#BBBBBB", "#777777"},
	[ST_STARTUP] = {"startup", "a worker starting (process start-up)",
		7, BUCKET_COMPUTE, CPU, "#999933", "#999933"},
	[ST_COMPUTE] = {"compute", "running on a CPU",
		1, BUCKET_COMPUTE, CPU, "#0072B2", "#0072B2"},
	[ST_IO] = {"io", "waiting for the network or the disk",
		2, BUCKET_WAITING, OVERLAP, "#009E73", "#009E73"},
	[ST_SLEEP] = {"sleep", "sleeping",
		2, BUCKET_WAITING, OVERLAP, "#BBCC33", "#BBCC33"},
	[ST_GIL_WAIT] = {"gil-wait", "ready to compute, waiting for the GIL",
		3, BUCKET_BLOCKED, 0, "#D55E00", "#D55E00"},
	[ST_LOCK_WAIT] = {"lock-wait", "waiting for a lock",
		5, BUCKET_BLOCKED, OBJECT, "#CC79A7", "#CC79A7"},
	[ST_SEM_WAIT] = {"sem-wait", "waiting for a semaphore",
		5, BUCKET_HELD, OBJECT, "#E69F00", "#E69F00"},
	[ST_QUEUE_WAIT] = {"queue-wait", "waiting on a full or empty queue",
		5, BUCKET_BLOCKED, OBJECT, "#F0E442", "#F0E442"},
	[ST_BARRIER_WAIT] = {"barrier-wait", "waiting at a barrier",
		5, BUCKET_BLOCKED, OBJECT, "#882255", "#BB5588"},
	[ST_EVENT_WAIT] = {"event-wait", "waiting for an event, or for a condition's notify",
		5, BUCKET_BLOCKED, OBJECT, "#44AA99", "#44AA99"},
	[ST_RATE_WAIT] = {"rate-wait", "held back by the rate limit",
		5, BUCKET_HELD, OBJECT, "#DDCC77", "#DDCC77"},
	[ST_BACKOFF] = {"backoff", "backing off before a retry",
		6, BUCKET_HELD, OVERLAP, "#CC6677", "#CC6677"},
	[ST_IPC] = {"ipc", "copying arguments or results between processes",
		8, BUCKET_COMPUTE, CPU, "#332288", "#8877DD"},
	[ST_CONNECT] = {"connect",
		"opening a network connection, before the request goes out",
		9, BUCKET_WAITING, OVERLAP, "#117733", "#44AA66"},
	[ST_READY] = {"ready",
		"its wait is over, waiting for the event loop to run it",
		3, BUCKET_READY, 0, "#EE8866", "#EE8866"},
	[ST_RUNNABLE] = {"runnable",
		"may run, waiting for a core (measured with the thread's CPU "
		"clock)",
		3, BUCKET_READY, 0, "#AA4499", "#CC77BB"},
};
#undef CPU
#undef OVERLAP
#undef OBJECT

/* The activity chart's series, bottom to top, each drawn in the colour of
 * the state named.  A semaphore, a rate limit and a backoff are the
 * program holding itself back, not tasks blocking one another, so they
 * have a series of their own. */
static const struct {
	const char *name;
	const char *label;
	enum seg_state colour_of;
} bucket_rows[BUCKET__COUNT] = {
	[BUCKET_COMPUTE] = {"compute", "computing", ST_COMPUTE},
	[BUCKET_BLOCKED] = {"blocked", "blocked (GIL, locks, queues)",
			    ST_GIL_WAIT},
	[BUCKET_READY] = {"ready", "ready, no loop or core free", ST_READY},
	[BUCKET_HELD] = {"held", "held back (semaphore, rate limit, backoff)",
			 ST_SEM_WAIT},
	[BUCKET_WAITING] = {"waiting", "waiting (I/O, sleep)", ST_IO},
	[BUCKET_QUEUED] = {"queued", "queued", ST_QUEUED},
};

static const char *const lane_kind_names[] = {
	[LANE_MAIN] = "main",
	[LANE_THREAD] = "thread",
	[LANE_PROCESS] = "process",
	[LANE_LOOP] = "loop",
};

static const char *const task_status_names[] = {
	[TASK_PENDING] = "pending",
	[TASK_OK] = "ok",
	[TASK_ERROR] = "error",
	[TASK_TIMEOUT] = "timeout",
	[TASK_CANCELLED] = "cancelled",
};

/* The trace contract's run statuses (version 1).  0 and 5 are statuses a
 * store of runs gives: a run that has not started yet, and one whose
 * runner was lost before it ended. */
static const char *const run_status_names[RUN_STATUS_COUNT] = {
	[0] = "queued",
	[RUN_RUNNING] = "running",
	[RUN_DONE] = "done",
	[RUN_ERROR] = "error",
	[RUN_CANCELLED] = "cancelled",
	[5] = "interrupted",
	[RUN_DEADLOCK] = "deadlock",
};

static const char *const param_type_names[PARAM_TYPE_COUNT] = {
	[PARAM_INT] = "int",
	[PARAM_DURATION] = "duration",
	[PARAM_FLOAT] = "float",
	[PARAM_ENUM] = "enum",
	[PARAM_TEXT] = "text",
};

/* Longest suffixes first where one is a prefix of another ("ms" before
 * "m" would matter if minutes were ever added). */
const struct duration_unit protocol_duration_units[] = {
	{"ns", 1},
	{"us", 1000},
	{"\xc2\xb5s", 1000}, /* "µs" in UTF-8 */
	{"ms", 1000000},
	{"s", 1000000000},
};
const unsigned protocol_duration_units_count =
	sizeof(protocol_duration_units) / sizeof(protocol_duration_units[0]);

static const char *const counter_names[CTR__COUNT] = {
	[CTR_QUEUE_DEPTH] = "queue_depth",
	[CTR_MEMORY_BYTES] = "memory_bytes",
	[CTR_RSS_BYTES] = "rss_bytes",
};
/* clang-format on */

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

static int parse_name(const char *const *names, size_t n, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

const struct state_def *seg_state_def(unsigned s)
{
	return s < ST__COUNT ? &protocol_states[s] : NULL;
}

bool seg_state_has(unsigned s, unsigned flag)
{
	const struct state_def *d = seg_state_def(s);

	return d && (d->flags & flag);
}

const char *seg_state_name(enum seg_state s)
{
	return (unsigned)s < ST__COUNT ? protocol_states[s].name : "unknown";
}

int seg_state_parse(const char *name)
{
	if (!name)
		return -1;
	for (unsigned s = 0; s < ST__COUNT; s++)
		if (strcmp(protocol_states[s].name, name) == 0)
			return (int)s;
	return -1;
}

const char *state_bucket_name(enum state_bucket b)
{
	return (unsigned)b < BUCKET__COUNT ? bucket_rows[b].name : "unknown";
}

const char *lane_kind_name(enum lane_kind k)
{
	return name_of(lane_kind_names, COUNT_OF(lane_kind_names), k);
}

int lane_kind_parse(const char *name)
{
	return parse_name(lane_kind_names, COUNT_OF(lane_kind_names), name);
}

const char *task_status_name(enum task_status s)
{
	return name_of(task_status_names, COUNT_OF(task_status_names), s);
}

int task_status_parse(const char *name)
{
	return parse_name(task_status_names, COUNT_OF(task_status_names), name);
}

const char *run_status_name(int status)
{
	return status < 0
		       ? "unknown"
		       : name_of(run_status_names, COUNT_OF(run_status_names),
				 (unsigned)status);
}

int run_status_parse(const char *name)
{
	return parse_name(run_status_names, COUNT_OF(run_status_names), name);
}

bool run_status_final(int status)
{
	return status >= 0 && status < RUN_STATUS_COUNT &&
	       status != RUN_RUNNING && status != 0;
}

bool run_status_stopped(int status)
{
	return status == RUN_CANCELLED || status == 5; /* interrupted */
}

const char *param_type_name(enum param_type t)
{
	return name_of(param_type_names, COUNT_OF(param_type_names), t);
}

const char *trace_counter_name(enum trace_counter c)
{
	return name_of(counter_names, COUNT_OF(counter_names), c);
}

int trace_counter_parse(const char *name)
{
	return parse_name(counter_names, COUNT_OF(counter_names), name);
}

/* ---- event lines -------------------------------------------------------- */

static const char *const line_type_names[LINE_TYPE_COUNT] = {
	[LINE_RUN] = "run",	    [LINE_LANE] = "lane",
	[LINE_TASK] = "task",	    [LINE_SEGMENT] = "segment",
	[LINE_OPEN] = "open",	    [LINE_COUNTER] = "counter",
	[LINE_SUMMARY] = "summary", [LINE_STATUS] = "status",
	[LINE_END] = "end",	    [LINE_ERROR] = "error",
};

const char *line_type_name(enum line_type t)
{
	return name_of(line_type_names, COUNT_OF(line_type_names), t);
}

int line_type_parse(const char *name)
{
	return parse_name(line_type_names, COUNT_OF(line_type_names), name);
}

bool line_type_servers(int type)
{
	return type == LINE_STATUS || type == LINE_END;
}

int protocol_line_read(const char *text, size_t len, json_t **line)
{
	json_t *obj = json_loadb(text, len, 0, NULL);
	const char *type = json_string_value(json_object_get(obj, "type"));

	if (!json_is_object(obj) || !type) {
		json_decref(obj);
		*line = NULL;
		return -EINVAL;
	}
	*line = obj;
	return line_type_parse(type);
}

json_t *protocol_line_body(json_t *line, int type)
{
	switch (type) {
	case LINE_RUN:
	case LINE_LANE:
	case LINE_TASK:
	case LINE_SEGMENT:
		return json_object_get(line, line_type_names[type]);
	default:
		return type >= 0 && type < LINE_TYPE_COUNT ? line : NULL;
	}
}

/* ---- the vocabulary as JSON --------------------------------------------- */

static json_t *names_json(const char *const *names, size_t from, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = from; i < n; i++)
		if (names[i])
			json_array_append_new(arr, json_string(names[i]));
	return arr;
}

static json_t *states_json(void)
{
	json_t *arr = json_array();

	for (unsigned s = 0; s < ST__COUNT; s++) {
		const struct state_def *d = &protocol_states[s];
		const struct glyph_def *g = &protocol_glyphs[d->glyph];

		json_array_append_new(
			arr,
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b,"
				  " s:b, s:b}",
				  "name", d->name, "help", d->help, "glyph",
				  g->plain, "glyph_unicode", g->unicode,
				  "bucket", state_bucket_name(d->bucket),
				  "colour", d->colour, "colour_dark",
				  d->colour_dark, "uses_cpu",
				  (d->flags & STATE_USES_CPU) != 0,
				  "overlappable",
				  (d->flags & STATE_OVERLAPPABLE) != 0,
				  "object_wait",
				  (d->flags & STATE_OBJECT_WAIT) != 0));
	}
	return arr;
}

static json_t *buckets_json(void)
{
	json_t *arr = json_array();

	for (unsigned b = 0; b < BUCKET__COUNT; b++)
		json_array_append_new(
			arr,
			json_pack("{s:s, s:s, s:s}", "name",
				  bucket_rows[b].name, "label",
				  bucket_rows[b].label, "colour_of",
				  seg_state_name(bucket_rows[b].colour_of)));
	return arr;
}

static json_t *run_statuses_json(void)
{
	json_t *arr = json_array();

	for (int s = 0; s < RUN_STATUS_COUNT; s++)
		json_array_append_new(arr,
				      json_pack("{s:s, s:b, s:b}", "name",
						run_status_name(s), "final",
						run_status_final(s), "stopped",
						run_status_stopped(s)));
	return arr;
}

static json_t *duration_units_json(void)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < protocol_duration_units_count; i++)
		json_array_append_new(
			arr,
			json_pack("{s:s, s:I}", "name",
				  protocol_duration_units[i].suffix, "ns",
				  (json_int_t)protocol_duration_units[i].ns));
	return arr;
}

/* The step language's words (program.h), each with the models whose
 * Python has no such thing and refuse it. */
static json_t *steps_json(void)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < program_step_docs_count; i++) {
		const struct step_doc *d = &program_step_docs[i];
		json_t *refused = json_array();

		for (const char *c = d->refused_by; *c;) {
			size_t len = strcspn(c, ",");

			json_array_append_new(refused, json_stringn(c, len));
			c += len;
			if (*c == ',')
				c++;
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o}",
						     "name", d->name, "syntax",
						     d->syntax, "help", d->help,
						     "refused_by", refused));
	}
	return arr;
}

json_t *protocol_vocabulary_json(void)
{
	return json_pack(
		"{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "states",
		states_json(), "buckets", buckets_json(), "run_statuses",
		run_statuses_json(), "task_statuses",
		/* "pending" is a live task's, written as null */
		names_json(task_status_names, TASK_OK,
			   COUNT_OF(task_status_names)),
		"lane_kinds",
		names_json(lane_kind_names, 0, COUNT_OF(lane_kind_names)),
		"param_kinds",
		names_json(param_type_names, 0, COUNT_OF(param_type_names)),
		"duration_units", duration_units_json(), "counters",
		names_json(counter_names, 0, COUNT_OF(counter_names)), "steps",
		steps_json());
}
