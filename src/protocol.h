/*
 * protocol: the words of the contracts, owned once.  A segment's state, a
 * lane's kind, a task's status, a run's status and a counter's name are
 * numbers inside the engine and words in the trace JSON, the event lines,
 * the Chrome trace and the ASCII legend; every one of those reads the word
 * from here, and a trace read back is checked against the same lists.
 *
 * The enums are what the engine records, so they stay small integers (a
 * recorded event holds a state in one byte).
 */
#ifndef OVERLAP_PROTOCOL_H
#define OVERLAP_PROTOCOL_H

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
	ST_READY,    /* asyncio: its wait is over, waiting for the loop */
	ST_RUNNABLE, /* a thread that may run, waiting for a core */
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

/* Counters sampled over time (EV_COUNTER.extra). */
enum trace_counter { CTR_QUEUE_DEPTH, CTR__COUNT };

/* Names give "unknown" for a number outside their list; parsers give -1
 * for a word outside it. */
const char *seg_state_name(enum seg_state s); /* "gil-wait" */
int seg_state_parse(const char *name);
const char *lane_kind_name(enum lane_kind k); /* "thread" */
int lane_kind_parse(const char *name);
const char *task_status_name(enum task_status s); /* "ok" */
int task_status_parse(const char *name);
const char *run_status_name(int status); /* "deadlock"; any of the list */
int run_status_parse(const char *name);
const char *trace_counter_name(enum trace_counter c); /* "queue_depth" */
int trace_counter_parse(const char *name);

#endif
