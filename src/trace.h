/*
 * trace: the recorder that models write to, and the trace it becomes.
 *
 * Recording must not disturb what it records.  Every lane (the main thread,
 * a worker thread, a worker process, the event loop) owns one single-producer
 * ring (ring.h); recording is a clock read plus a 32-byte store.  All rings
 * live in one shared mapping backed by a memfd, so forked workers inherit it
 * and spawned workers map it from the fd they are given.  One collector
 * thread in the run process drains the rings every millisecond (more often
 * while a ring fills fast) into a struct trace, and hands each event to a
 * sink (the NDJSON stream).  A producer also sets its lane's bit in a
 * shared "pending" bitmap, so the collector visits only the lanes that have
 * something rather than every idle one of 10,000 thread lanes every
 * millisecond.
 *
 * Times are nanoseconds since the run's epoch (CLOCK_MONOTONIC, which every
 * process of the run shares).
 *
 * A segment is recorded once, complete, when it ends (EV_SEGMENT); a model
 * may also record EV_OPEN when a long segment begins so a live viewer can
 * draw it growing.  Task life (submit, start, end) is recorded as its own
 * events.  Events of one task may come from several lanes; the collector
 * does not need them in order.
 */
#ifndef OVERLAP_TRACE_H
#define OVERLAP_TRACE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "util.h"

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
	ST_CONNECT, /* a net step opening its connection, before io */
	ST__COUNT
};

enum lane_kind { LANE_MAIN, LANE_THREAD, LANE_PROCESS, LANE_LOOP };

enum task_status {
	TASK_PENDING, /* live only: not ended yet ("status" omitted) */
	TASK_OK,
	TASK_ERROR,
	TASK_TIMEOUT,
	TASK_CANCELLED
};

enum run_status {
	RUN_QUEUED,
	RUN_RUNNING,
	RUN_DONE,
	RUN_ERROR,
	RUN_CANCELLED,
	RUN_INTERRUPTED,
	RUN_DEADLOCK
};

enum rec_event_type {
	EV_SEGMENT,	/* t0..t1 in state on lane */
	EV_OPEN,	/* state begins at t0 (live hint; t1 = 0) */
	EV_TASK_SUBMIT, /* t0 */
	EV_TASK_START,	/* t0; lane is where it starts */
	EV_TASK_END,	/* t0; state = enum task_status; extra = signal
			 * number for a worker that died, else 0 */
	EV_LANE_OS_ID,	/* t0 = the lane's OS thread id or pid */
	EV_COUNTER,	/* t0 = time, t1 = value, extra = counter id */
	EV_LANE_ADD,	/* never in a ring: the collector's word to the
			 * sink that lane (ev.lane) is new in the trace */
};

/* Counters sampled over time (EV_COUNTER.extra). */
enum trace_counter { CTR_QUEUE_DEPTH, CTR__COUNT };

const char *seg_state_name(enum seg_state s);   /* "gil-wait" */
int seg_state_parse(const char *name);		/* -1 if unknown */
const char *lane_kind_name(enum lane_kind k);	/* "thread" */
const char *task_status_name(enum task_status s); /* "ok" */
const char *run_status_name(enum run_status s);	  /* "deadlock" */
int run_status_parse(const char *name);
const char *trace_counter_name(enum trace_counter c); /* "queue_depth" */

/* ---- recording ---------------------------------------------------------- */

struct trace_rec; /* opaque; owned by the run process */

/* What a producer holds: its ring and ids.  Plain data, valid in any
 * process that maps the recorder (trace_rec_map). */
struct rec_lane {
	struct ring *ring;
	uint32_t id;
	int64_t epoch_ns;
	_Atomic uint64_t *pending; /* the word of the pending bitmap ... */
	uint64_t pending_bit;	   /* ... and the bit that is this lane's */
};

/* Creates the recorder with room for max_lanes lanes of ring_capacity
 * events each (a power of two).  The rings' pages are touched only when
 * used.  NULL on failure. */
struct trace_rec *trace_rec_create(uint32_t max_lanes, uint64_t ring_capacity,
				   int64_t epoch_ns);
void trace_rec_destroy(struct trace_rec *rec);

/* Adds a lane; thread-safe.  Returns its producer handle (owned by rec), or
 * NULL when max_lanes are in use. */
struct rec_lane *trace_rec_add_lane(struct trace_rec *rec,
				    enum lane_kind kind, const char *name);
struct rec_lane *trace_rec_lane(struct trace_rec *rec, uint32_t id);
uint32_t trace_rec_lane_count(const struct trace_rec *rec);
int64_t trace_rec_epoch(const struct trace_rec *rec);

/* The memfd behind the rings, for a spawned worker (inherit it, pass its
 * number), and the mapping's size.  The fd is close-on-exec: a spawner
 * hands it over with posix_spawn_file_actions_adddup2() (or dup2 before
 * exec), which gives the worker a copy without the flag.  Lanes must be
 * added in the run process, before the worker that uses them starts. */
int trace_rec_fd(const struct trace_rec *rec);
size_t trace_rec_map_size(const struct trace_rec *rec);
/* In a spawned worker: maps the recorder's memory from fd and fills lane
 * with the producer handle of lane id.  Returns 0 or -errno. */
int trace_rec_map(int fd, size_t size, uint32_t lane_id,
		  struct rec_lane *lane);

static inline int64_t rec_now(const struct rec_lane *l)
{
	return util_mono_ns() - l->epoch_ns;
}

static inline void rec_push(const struct rec_lane *l, uint8_t type,
			    uint32_t task, uint8_t state, int64_t t0,
			    int64_t t1, uint32_t note, uint16_t extra)
{
	struct rec_event ev = {.t0_ns = t0,
			       .t1_ns = t1,
			       .task = task,
			       .lane = l->id,
			       .note = note,
			       .type = type,
			       .state = state,
			       .extra = extra};
	ring_push(l->ring, &ev);
	/* Tell the collector this ring has events.  Only the first event
	 * after a collector pass pays for the atomic OR; the others find the
	 * bit set by a plain load of a line that stays in the cache. */
	if (!(atomic_load_explicit(l->pending, memory_order_relaxed) &
	      l->pending_bit))
		atomic_fetch_or_explicit(l->pending, l->pending_bit,
					 memory_order_release);
}

/* Notes that name no program object, from REC_NOTE_FIXED up: the
 * collector turns each into its text (rec_fixed_note_name) where an
 * object index would give the object's name. */
#define REC_NOTE_FIXED 0xffff0000u
#define REC_NOTE_LIMIT (REC_NOTE_FIXED + 0) /* asyncio's limit semaphore */

/* The text of a fixed note; NULL for any other value. */
static inline const char *rec_fixed_note_name(uint32_t note)
{
	switch (note) {
	case REC_NOTE_LIMIT:
		return "limit";
	default:
		return NULL;
	}
}

/* note: object index + 1 (the object's name becomes the segment's note),
 * a fixed note (REC_NOTE_LIMIT), or 0. */
static inline void rec_segment(const struct rec_lane *l, uint32_t task,
			       enum seg_state st, int64_t t0, int64_t t1,
			       uint32_t note)
{
	rec_push(l, EV_SEGMENT, task, (uint8_t)st, t0, t1, note, 0);
}
static inline void rec_open(const struct rec_lane *l, uint32_t task,
			    enum seg_state st, int64_t t0, uint32_t note)
{
	rec_push(l, EV_OPEN, task, (uint8_t)st, t0, 0, note, 0);
}
static inline void rec_task_submit(const struct rec_lane *l, uint32_t task,
				   int64_t t)
{
	rec_push(l, EV_TASK_SUBMIT, task, 0, t, 0, 0, 0);
}
static inline void rec_task_start(const struct rec_lane *l, uint32_t task,
				  int64_t t)
{
	rec_push(l, EV_TASK_START, task, 0, t, 0, 0, 0);
}
static inline void rec_task_end(const struct rec_lane *l, uint32_t task,
				int64_t t, enum task_status st,
				uint16_t signal)
{
	rec_push(l, EV_TASK_END, task, (uint8_t)st, t, 0, 0, signal);
}
static inline void rec_lane_os_id(const struct rec_lane *l, int64_t os_id)
{
	rec_push(l, EV_LANE_OS_ID, 0, 0, os_id, 0, 0, 0);
}
static inline void rec_counter(const struct rec_lane *l,
			       enum trace_counter c, int64_t t, int64_t value)
{
	rec_push(l, EV_COUNTER, 0, 0, t, value, 0, (uint16_t)c);
}

/* ---- the trace ---------------------------------------------------------- */

struct trace_lane {
	uint32_t id;
	uint8_t kind; /* enum lane_kind */
	char name[32];
	int64_t os_id;
	/* The summary's: how long this lane worked (compute, startup, ipc:
	 * its thread or process on a CPU), segments that overlap counted
	 * once.  Valid when summary.has_lane_busy. */
	int64_t busy_ns;
};

/* Room for a task's name and for its note, with the terminating NUL: a
 * run's longer name is cut to fit; a longer name or note in a trace JSON
 * is an error. */
#define TRACE_TASK_NAME_MAX 48
#define TRACE_TASK_NOTE_MAX 96

/* A run has up to 100,000 tasks, so a task holds no text of its own: its
 * name is a label the tasks share and, for most, a number after it
 * ("request 3"), and its note is an index into the trace's notes.
 * trace_task_name() makes the name's text. */
struct trace_task {
	int64_t submit_ns; /* -1 when not yet known */
	int64_t start_ns;
	int64_t end_ns;
	uint32_t id;
	uint32_t lane;	 /* where it started; UINT32_MAX before */
	uint32_t label;	 /* the name: trace.labels[label], ... */
	uint32_t number; /* ... then a space and number when numbered */
	uint32_t note;	 /* index into trace.notes; 0 = none */
	uint8_t status;	 /* enum task_status */
	bool numbered;
};

struct trace_segment {
	int64_t t0_ns;
	int64_t t1_ns;
	uint32_t task;
	uint32_t lane;
	uint32_t note; /* index into trace.notes; 0 = none */
	uint8_t state; /* enum seg_state */
};

struct trace_sample {
	int64_t t_ns;
	int64_t value;
	uint8_t counter; /* enum trace_counter */
};

struct trace_summary {
	int64_t wall_ns;
	int64_t task_time_ns; /* summed task durations (start to end) */
	double speedup;	      /* one-after-another time / wall */
	double parallelism;   /* mean number of tasks computing */
	double cpu_util;      /* rusage CPU / wall / cores, 0..1 */
	int64_t peak_inflight;
	int64_t states_ns[ST__COUNT];
	int64_t max_loop_lag_ns; /* asyncio: worst timer lateness; -1 n/a */
	bool has_lane_busy;	 /* every lane's busy_ns is set */
	json_t *checks;		 /* object; owned; workload checks */
	char bound[16];		 /* "io", "cpu", "mixed", "sync" */
	char recommend[32];	 /* a model name */
	char why[512];		 /* the diagnosis in one sentence */
};

struct trace_host {
	int cores;
	char kernel[64];
	char engine[32];	   /* "overlap 0.1.0" */
	double cpu_iters_per_ms;   /* the calibration of the cpu step */
};

struct trace {
	/* run */
	char id[40];
	char workload[32];
	char model[32];
	json_t *params;	 /* object; owned */
	json_t *options; /* object; owned */
	uint8_t status;	 /* enum run_status */
	char message[256]; /* error or deadlock explanation, "" if none */
	char started_at[40]; /* ISO 8601, UTC */
	struct trace_host host;
	int64_t cpu_ns; /* user + system CPU of the run, all processes */

	/* arrays; grown by the trace_add_* functions */
	struct trace_lane *lanes;
	size_t n_lanes, cap_lanes;
	struct trace_task *tasks;
	size_t n_tasks, cap_tasks;
	struct trace_segment *segments;
	size_t n_segments, cap_segments;
	struct trace_sample *samples;
	size_t n_samples, cap_samples;
	char **notes; /* notes[0] = "" */
	size_t n_notes, cap_notes;
	char **labels; /* tasks' names without their numbers; labels[0] = "" */
	size_t n_labels, cap_labels;

	struct trace_summary summary;
	bool has_summary;
};

void trace_init(struct trace *t);
void trace_free(struct trace *t);
struct trace_lane *trace_add_lane(struct trace *t);
struct trace_task *trace_add_task(struct trace *t);
struct trace_segment *trace_add_segment(struct trace *t);
struct trace_sample *trace_add_sample(struct trace *t);
/* Interns a note; returns its index (0 for NULL or ""). */
uint32_t trace_note(struct trace *t, const char *text);
/* Names task k "label number". */
void trace_task_set_label(struct trace *t, struct trace_task *k,
			  const char *label, uint32_t number);
/* Gives task k the name name.  One that ends in a space and a number
 * written as "%u" writes it is kept as a label and that number; either way
 * trace_task_name() gives it back exactly. */
void trace_task_set_name(struct trace *t, struct trace_task *k,
			 const char *name);
/* Writes task k's name into buf, cut to size and to TRACE_TASK_NAME_MAX
 * - 1 bytes (the name every output shows); returns buf. */
char *trace_task_name(const struct trace *t, const struct trace_task *k,
		      char *buf, size_t size);
/* Task k's note ("" when it has none). */
const char *trace_task_note(const struct trace *t, const struct trace_task *k);
/* True when t->message begins with the run's status and a colon
 * ("deadlock: task 1 waits ..."), so a line that shows the message need
 * not name the status again. */
bool trace_message_names_status(const struct trace *t);

/* ---- collecting --------------------------------------------------------- */

/* Called by the collector after each event has been applied to the trace
 * (in the collector thread).  For EV_SEGMENT the segment is the trace's
 * last one; for EV_COUNTER the sample is the last one.  For EV_SEGMENT and
 * EV_OPEN, ev.note is already the trace's note index (t->notes[ev.note]),
 * not the object index the producer recorded.  Before the events of a lane
 * that appeared since the last drain, the sink gets EV_LANE_ADD with
 * ev.lane set: the lane is then in t->lanes[ev.lane].  Lanes already in t
 * when the collector starts (ids below t->n_lanes) are not announced.
 * EV_LANE_OS_ID and EV_TASK_* mean "this lane / task changed". */
typedef void (*trace_sink_fn)(void *ctx, const struct trace *t,
			      const struct rec_event *ev);

struct trace_collector;
/* Starts a thread that drains rec's rings into t every interval_ns.
 * note_names[i] is the note of object index i (so event.note i+1 maps to
 * it); tasks must already be in t (one per program task, ids = indices).
 * Lanes of rec that t does not have yet are added to t (ids = indices).
 * Events naming a task or lane that does not exist are dropped.  Until
 * trace_collector_stop() returns, only the collector thread touches t. */
struct trace_collector *trace_collector_start(struct trace_rec *rec,
					      struct trace *t,
					      const char *const *note_names,
					      size_t n_note_names,
					      int64_t interval_ns,
					      trace_sink_fn sink, void *ctx);
/* Drains once more, stops the thread, sorts segments by t0 and frees the
 * collector. */
void trace_collector_stop(struct trace_collector *c);

/* ---- JSON (trace format version 1) ------------------------------------- */

/* New references: the parts of the trace JSON, as they appear in it (the
 * NDJSON event lines reuse them).  Unknown times (< 0), a task's lane
 * before it starts and a pending status are null. */
json_t *trace_run_json(const struct trace *t);
json_t *trace_lane_json(const struct trace_lane *l);
json_t *trace_task_json(const struct trace *t, const struct trace_task *k);
json_t *trace_segment_json(const struct trace *t,
			   const struct trace_segment *s);
json_t *trace_summary_json(const struct trace *t); /* null: none yet */

/* New reference: the trace as the contract's JSON object. */
json_t *trace_to_json(const struct trace *t);
/* Fills t (trace_init()ed) from a trace JSON object.  Returns 0 or -EINVAL
 * with a message in err. */
int trace_from_json(const json_t *root, struct trace *t, char *err,
		    size_t err_size);

#endif
