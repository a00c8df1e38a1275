/*
 * protocol: the vocabulary of the contracts, owned once.  A segment's
 * state, a lane's kind, a task's status, a run's status, a parameter's
 * kind, a duration's unit and a counter's name are numbers inside the
 * engine and words in the trace JSON, the event lines, the Chrome trace,
 * the ASCII legend and the catalog; every one of those reads the word (and
 * a state's glyph, colour and bucket) from here, and a trace read back is
 * checked against the same lists.  protocol_vocabulary_json() is the whole
 * vocabulary as the catalog serves it (GET /api/workloads, overlap
 * workloads --json); docs/protocol.json holds the same, and a test keeps
 * the two equal.
 *
 * A new segment state is one enum value below and one row of
 * protocol_states (protocol.c): the trace, the event lines, the Chrome
 * trace, the ASCII timeline and its legend, the summary's time per state
 * and the catalog follow from the row.
 *
 * The enums are what the engine records, so they stay small integers (a
 * recorded event holds a state in one byte).
 */
#ifndef OVERLAP_PROTOCOL_H
#define OVERLAP_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Notes of segments that name no object but say how the time was spent,
 * which the summary reads back from a trace: a cpu-nogil step's
 * computation, and a block step's sleep on an event loop's thread. */
#define PROTOCOL_NOTE_NOGIL "releases the GIL"
#define PROTOCOL_NOTE_BLOCKING "time.sleep: blocks the event loop"
/* A timer step's wait, before the task runs. */
#define PROTOCOL_NOTE_TIMER "timer: waits, then runs the task"
/* A task's end: a fail step raised, or what cancelled it; and the main
 * coroutine resuming before every task has ended (asyncio's option
 * group), noted on the main lane's segment for the task that woke it. */
#define PROTOCOL_NOTE_RAISED "RuntimeError: raised by a fail step"
#define PROTOCOL_NOTE_BY_CANCEL "cancelled by another task's task.cancel()"
#define PROTOCOL_NOTE_BY_GROUP "cancelled by its TaskGroup: a sibling raised"
#define PROTOCOL_NOTE_BY_RUN                                                   \
	"cancelled by asyncio.run: main returned without awaiting it"
#define PROTOCOL_NOTE_MAIN_GATHER                                              \
	"main resumes: gather raised this task's exception"
#define PROTOCOL_NOTE_MAIN_GROUP                                               \
	"main resumes: the TaskGroup raised this task's exception"
#define PROTOCOL_NOTE_MAIN_FIRST                                               \
	"main resumes: asyncio.wait returned with this task done first"
/* A process pool's transfer of a chunk of tasks (Executor.map's
 * chunksize), which the tests read back. */
#define PROTOCOL_NOTE_CHUNK "a chunk: one transfer for all its tasks"
/* A forked worker's wait for a lock its parent's thread held at the
 * fork, which no thread of the worker will release. */
#define PROTOCOL_NOTE_FORK_LOCK                                                \
	"a lock another thread held at the fork: nobody here will release it"

enum seg_state {
	ST_QUEUED,
	ST_STARTUP,
	ST_COMPUTE,
	ST_IO,
	ST_SLEEP,
	ST_GIL_WAIT,
	ST_LOCK_WAIT,
	ST_SEM_WAIT,
	ST_QUEUE_WAIT,
	ST_BARRIER_WAIT,
	ST_EVENT_WAIT,
	ST_RATE_WAIT,
	ST_BACKOFF,
	ST_IPC,
	ST_CONNECT,  /* a net step opening its connection, before io */
	ST_READY,    /* asyncio: its wait is over, waiting for the loop */
	ST_RUNNABLE, /* a thread that may run, waiting for a core */
	ST__COUNT
};

/* Where a state's time counts in the page's activity chart, in the
 * order of its series from the bottom: computing; blocked (the GIL, locks,
 * queues); ready (able to run, no loop or core free); held back (the
 * program holding itself back: a semaphore, a rate limit, a backoff);
 * waiting (I/O, sleep); queued. */
enum state_bucket {
	BUCKET_COMPUTE,
	BUCKET_BLOCKED,
	BUCKET_READY,
	BUCKET_HELD,
	BUCKET_WAITING,
	BUCKET_QUEUED,
	BUCKET__COUNT
};

/* What the summary's diagnosis reads of a state (state_def.flags). */
enum state_flag {
	/* The lane's thread or process is on a CPU: its busy time. */
	STATE_USES_CPU = 1u << 0,
	/* A wait that another model could overlap with other tasks' work
	 * (I/O, sleep, a backoff): the I/O-bound side of the diagnosis. */
	STATE_OVERLAPPABLE = 1u << 1,
	/* A wait on a shared object of the program; the segment's note
	 * names the object. */
	STATE_OBJECT_WAIT = 1u << 2,
};

/* How the ASCII timeline draws a state.  States drawn alike share one
 * glyph; glyph 0 is the empty cell.  Where states of several glyphs fall
 * in one column, the glyph that covers most of it wins, the lower index
 * on a tie. */
struct glyph_def {
	const char *plain;   /* one ASCII character */
	const char *unicode; /* one code point, UTF-8 */
	const char *label;   /* a wide enough stretch carries "LABEL 2.0s";
			      * NULL: no label */
};
#define PROTOCOL_GLYPHS 10

struct state_def {
	const char *name;	 /* "gil-wait" */
	const char *help;	 /* what it means, for a legend's tooltip */
	uint8_t glyph;		 /* index into protocol_glyphs, not 0 */
	uint8_t bucket;		 /* enum state_bucket */
	uint8_t flags;		 /* enum state_flag */
	const char *colour;	 /* the page's colour, "#rrggbb" */
	const char *colour_dark; /* the same in the dark scheme */
};

extern const struct state_def protocol_states[ST__COUNT];
extern const struct glyph_def protocol_glyphs[PROTOCOL_GLYPHS];

enum lane_kind { LANE_MAIN, LANE_THREAD, LANE_PROCESS, LANE_LOOP };

enum task_status {
	TASK_PENDING, /* live only: not ended yet ("status" is null) */
	TASK_OK,
	TASK_ERROR,
	TASK_TIMEOUT,
	TASK_CANCELLED
};

/* A run's status, as the engine gives it.  Each is numbered as its word's
 * place in the trace contract's list of run statuses (run_status_name),
 * which also holds the words of statuses the engine never gives: whoever
 * stores runs may give those, and a trace read back may carry them, as
 * their places in the list. */
enum run_status {
	RUN_RUNNING = 1,
	RUN_DONE = 2,
	RUN_ERROR = 3,
	RUN_CANCELLED = 4,
	RUN_DEADLOCK = 6,
};
/* The places in that list: 0 .. RUN_STATUS_COUNT - 1. */
#define RUN_STATUS_COUNT 7

/* A parameter's kind, in the catalog's "type". */
enum param_type {
	PARAM_INT,	/* whole number; min/max are the limits */
	PARAM_DURATION, /* nanoseconds; min/max in nanoseconds */
	PARAM_FLOAT,	/* real number; min/max are the limits */
	PARAM_ENUM,	/* one of choices ("sleep|net") */
	PARAM_TEXT,	/* free text; max is its maximum length in bytes */
};
/* Not an enum value, so a switch over the kinds need not name it. */
#define PARAM_TYPE_COUNT (PARAM_TEXT + 1)

/* A unit a duration may be written in ("200ms"); a bare number is
 * milliseconds. */
struct duration_unit {
	const char *suffix;
	int64_t ns;
};
extern const struct duration_unit protocol_duration_units[];
extern const unsigned protocol_duration_units_count;

/* Counters sampled over time (EV_COUNTER.extra).  memory_bytes: what
 * the run's tasks would hold in Python under the run's model (threads'
 * stacks, Task objects, worker interpreters; trace_collector.h);
 * rss_bytes: what the run's own processes hold, measured. */
enum trace_counter {
	CTR_QUEUE_DEPTH,
	CTR_MEMORY_BYTES,
	CTR_RSS_BYTES,
	CTR__COUNT
};

/* The types of the event lines (NDJSON, one object per line, "type"
 * first): what `overlap run --format events` and the CPython runner
 * write, and what the server adds (status, end) to the stream it keeps
 * per run.  An error line is the CPython runner's refusal of a spec; it is
 * read by the engine and never stored.  docs/protocol.json describes each
 * stored one. */
enum line_type {
	LINE_RUN,
	LINE_LANE,
	LINE_TASK,
	LINE_SEGMENT,
	LINE_OPEN,
	LINE_COUNTER,
	LINE_SUMMARY,
	LINE_STATUS, /* the server's */
	LINE_END,    /* the server's */
	LINE_ERROR,  /* the CPython runner's refusal */
};
#define LINE_TYPE_COUNT (LINE_ERROR + 1)

/* Names give "unknown" for a number outside their list; parsers give -1
 * for a word outside it. */
const char *seg_state_name(enum seg_state s); /* "gil-wait" */
int seg_state_parse(const char *name);
/* The row of state s; NULL outside the list. */
const struct state_def *seg_state_def(unsigned s);
/* True when state s has flag (enum state_flag). */
bool seg_state_has(unsigned s, unsigned flag);
const char *state_bucket_name(enum state_bucket b); /* "blocked" */
const char *lane_kind_name(enum lane_kind k);	    /* "thread" */
int lane_kind_parse(const char *name);
const char *task_status_name(enum task_status s); /* "ok" */
int task_status_parse(const char *name);
const char *run_status_name(int status); /* "deadlock"; any of the list */
int run_status_parse(const char *name);
/* True for a status a run ends with (everything but queued and
 * running). */
bool run_status_final(int status);
/* True for a status of a run stopped from outside (cancelled,
 * interrupted): every task still going ended then, and the wait it was
 * in was cut at that moment. */
bool run_status_stopped(int status);
const char *param_type_name(enum param_type t);	      /* "duration" */
const char *trace_counter_name(enum trace_counter c); /* "queue_depth" */
int trace_counter_parse(const char *name);

const char *line_type_name(enum line_type t); /* "segment" */
int line_type_parse(const char *name);
/* True for a type only the server writes: a runner's line of that type is
 * refused, so no runner can end a stream or forge its status. */
bool line_type_servers(int type);
/* Reads one event line: *line becomes the object (a new reference, NULL
 * when there is none) and the return is its type; -1 for a well-formed
 * object whose type is outside the list (a newer writer's: passed on,
 * never folded), -EINVAL for text that is not a JSON object with a string
 * "type". */
int protocol_line_read(const char *text, size_t len, json_t **line);
/* The object a line of a known type carries: "run", "lane", "task" and
 * "segment" lines under the key of that name; the others are the object
 * themselves.  Borrowed; NULL when the line lacks it. */
json_t *protocol_line_body(json_t *line, int type);

/* New reference: the vocabulary as the catalog serves it (its key
 * "vocabulary"); docs/protocol.json describes each field. */
json_t *protocol_vocabulary_json(void);

#endif
