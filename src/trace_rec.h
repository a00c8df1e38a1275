/*
 * trace_rec: the recorder that models write to.
 *
 * Recording must not disturb what it records.  Every lane (the main thread,
 * a worker thread, a worker process, the event loop) owns one single-producer
 * ring (ring.h); recording is a clock read plus a 32-byte store.  All rings
 * live in one shared mapping backed by a memfd, so forked workers inherit it
 * and spawned workers map it from the fd they are given.  One collector
 * thread in the run process drains the rings every millisecond (more often
 * while a ring fills fast) into a struct trace (trace_collector.h), and
 * hands each event to a sink (the NDJSON stream).  A producer also sets its lane's bit in a
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
#ifndef OVERLAP_TRACE_REC_H
#define OVERLAP_TRACE_REC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"
#include "ring.h"
#include "util.h"

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
struct rec_lane *trace_rec_add_lane(struct trace_rec *rec, enum lane_kind kind,
				    const char *name);
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
int trace_rec_map(int fd, size_t size, uint32_t lane_id, struct rec_lane *lane);

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
/* a runnable segment, measured with the thread's CPU clock */
#define REC_NOTE_CPU_CLOCK (REC_NOTE_FIXED + 1)
/* a computation that released the GIL (a cpu-nogil step) */
#define REC_NOTE_NOGIL (REC_NOTE_FIXED + 2)
/* a blocking sleep on the event loop's thread (a block step) */
#define REC_NOTE_BLOCKING (REC_NOTE_FIXED + 3)
/* a timer step's delay (threading.Timer, loop.call_later) */
#define REC_NOTE_TIMER (REC_NOTE_FIXED + 4)
/* a pool's caller working on a task's result (map, imap, as_completed) */
#define REC_NOTE_RESULT (REC_NOTE_FIXED + 5)
/* a task's end: the errors of process-pool's pitfalls, as CPython 3.11
 * words them (a task's note holds at most 95 bytes) */
#define REC_NOTE_PICKLING (REC_NOTE_FIXED + 6)
#define REC_NOTE_NO_GUARD (REC_NOTE_FIXED + 7)
/* a task's end, and the main coroutine's resuming (protocol.h) */
#define REC_NOTE_RAISED (REC_NOTE_FIXED + 8)
#define REC_NOTE_BY_CANCEL (REC_NOTE_FIXED + 9)
#define REC_NOTE_BY_GROUP (REC_NOTE_FIXED + 10)
#define REC_NOTE_BY_RUN (REC_NOTE_FIXED + 11)
#define REC_NOTE_MAIN_GATHER (REC_NOTE_FIXED + 12)
#define REC_NOTE_MAIN_GROUP (REC_NOTE_FIXED + 13)
#define REC_NOTE_MAIN_FIRST (REC_NOTE_FIXED + 14)
/* a process pool's transfer of a chunk of tasks (Executor.map's
 * chunksize): one argument, or one result, for all of them */
#define REC_NOTE_CHUNK (REC_NOTE_FIXED + 15)
/* a task's end: a request that could not open its socket, as Python says
 * it (each request holds two descriptors in the run: its socket and the
 * peer's end) */
#define REC_NOTE_NO_FILES (REC_NOTE_FIXED + 16)
/* a forked worker's wait for a lock a thread of its parent held at the
 * fork (process-pool's pitfall fork-after-threads) */
#define REC_NOTE_FORK_LOCK (REC_NOTE_FIXED + 17)

/* The text of a fixed note; NULL for any other value. */
static inline const char *rec_fixed_note_name(uint32_t note)
{
	switch (note) {
	case REC_NOTE_LIMIT:
		return "limit";
	case REC_NOTE_CPU_CLOCK:
		return "measured: wall time minus the thread's CPU time";
	case REC_NOTE_NOGIL:
		return PROTOCOL_NOTE_NOGIL;
	case REC_NOTE_BLOCKING:
		return PROTOCOL_NOTE_BLOCKING;
	case REC_NOTE_TIMER:
		return PROTOCOL_NOTE_TIMER;
	case REC_NOTE_RESULT:
		return "the caller handling this result";
	case REC_NOTE_PICKLING:
		return "PicklingError: Can't pickle <function <lambda>>: "
		       "attribute lookup <lambda> on __main__ failed";
	case REC_NOTE_NO_GUARD:
		return "BrokenProcessPool: its worker died of a RuntimeError "
		       "(no main guard)";
	case REC_NOTE_RAISED:
		return PROTOCOL_NOTE_RAISED;
	case REC_NOTE_BY_CANCEL:
		return PROTOCOL_NOTE_BY_CANCEL;
	case REC_NOTE_BY_GROUP:
		return PROTOCOL_NOTE_BY_GROUP;
	case REC_NOTE_BY_RUN:
		return PROTOCOL_NOTE_BY_RUN;
	case REC_NOTE_MAIN_GATHER:
		return PROTOCOL_NOTE_MAIN_GATHER;
	case REC_NOTE_MAIN_GROUP:
		return PROTOCOL_NOTE_MAIN_GROUP;
	case REC_NOTE_MAIN_FIRST:
		return PROTOCOL_NOTE_MAIN_FIRST;
	case REC_NOTE_CHUNK:
		return PROTOCOL_NOTE_CHUNK;
	case REC_NOTE_NO_FILES:
		return "OSError: [Errno 24] Too many open files";
	case REC_NOTE_FORK_LOCK:
		return PROTOCOL_NOTE_FORK_LOCK;
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
				int64_t t, enum task_status st, uint16_t signal)
{
	rec_push(l, EV_TASK_END, task, (uint8_t)st, t, 0, 0, signal);
}
/* The same with a fixed note (REC_NOTE_PICKLING) saying why it ended. */
static inline void rec_task_end_note(const struct rec_lane *l, uint32_t task,
				     int64_t t, enum task_status st,
				     uint32_t note)
{
	rec_push(l, EV_TASK_END, task, (uint8_t)st, t, 0, note, 0);
}
static inline void rec_lane_os_id(const struct rec_lane *l, int64_t os_id)
{
	rec_push(l, EV_LANE_OS_ID, 0, 0, os_id, 0, 0, 0);
}
static inline void rec_counter(const struct rec_lane *l, enum trace_counter c,
			       int64_t t, int64_t value)
{
	rec_push(l, EV_COUNTER, 0, 0, t, value, 0, (uint16_t)c);
}

#endif
