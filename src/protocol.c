/*
 * protocol: the lists of words behind protocol.h's numbers.  Each list is
 * indexed by its enum, so a word and its number cannot drift apart; the
 * run statuses list every word a trace may carry, with the engine's own
 * statuses at their places in it.
 */
#include "protocol.h"

#include <stddef.h>
#include <string.h>

/* clang-format off */
static const char *const seg_state_names[ST__COUNT] = {
	[ST_QUEUED] = "queued",
	[ST_STARTUP] = "startup",
	[ST_COMPUTE] = "compute",
	[ST_IO] = "io",
	[ST_SLEEP] = "sleep",
	[ST_GIL_WAIT] = "gil-wait",
	[ST_LOCK_WAIT] = "lock-wait",
	[ST_SEM_WAIT] = "sem-wait",
	[ST_QUEUE_WAIT] = "queue-wait",
	[ST_BARRIER_WAIT] = "barrier-wait",
	[ST_EVENT_WAIT] = "event-wait",
	[ST_RATE_WAIT] = "rate-wait",
	[ST_BACKOFF] = "backoff",
	[ST_IPC] = "ipc",
	[ST_CONNECT] = "connect",
	[ST_READY] = "ready",
	[ST_RUNNABLE] = "runnable",
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

static const char *const counter_names[CTR__COUNT] = {
	[CTR_QUEUE_DEPTH] = "queue_depth",
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

const char *seg_state_name(enum seg_state s)
{
	return name_of(seg_state_names, COUNT_OF(seg_state_names), s);
}

int seg_state_parse(const char *name)
{
	return parse_name(seg_state_names, COUNT_OF(seg_state_names), name);
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

const char *trace_counter_name(enum trace_counter c)
{
	return name_of(counter_names, COUNT_OF(counter_names), c);
}

int trace_counter_parse(const char *name)
{
	return parse_name(counter_names, COUNT_OF(counter_names), name);
}
