/*
 * results: how the caller of a pool collects its results, as
 * concurrent.futures lets it: wait() for all of them (the default: nothing
 * is handled one by one), map() (results handed over in submission order:
 * a result that is done waits for every earlier one), imap (the same order,
 * but tasks are submitted only as results are taken, at most a worker's
 * worth ahead: Executor.map(buffersize=workers) in Python 3.14, or
 * multiprocessing's Pool.imap), and as_completed() (in finish order).
 *
 * The pool reports each finished task (results_done); the caller asks for
 * the next result it may handle (results_next) and, with a handling time,
 * computes on its own lane, the consumer's, for each: that lane shows when
 * each result was handled.  The checks list the first task ids handled
 * (collected) and finished (finish_order), as asyncio's collect does.
 * Not thread-safe: the pool serialises calls (its mutex, or its one
 * thread).  The checks are those of asyncio's collect: collect_order,
 * collected and finish_order.
 */
#ifndef OVERLAP_RESULTS_H
#define OVERLAP_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum results_mode {
	RESULTS_WAIT,
	RESULTS_MAP,
	RESULTS_IMAP,
	RESULTS_AS_COMPLETED,
};

struct results {
	enum results_mode mode;
	uint32_t n;
	uint8_t *done;	    /* [task]: finished */
	uint32_t *finished; /* task ids in finish order */
	uint32_t n_finished;
	uint32_t *handled; /* task ids in the order handed to the caller */
	uint32_t n_handled;
};

/* The option every pool with results takes: collect and handle. */
/* clang-format off */
#define RESULTS_OPTIONS                                                      \
	{"collect", PARAM_ENUM, "", "wait", 0, 0,                            \
	 "wait|map|imap|as_completed",                                       \
	 "how the caller takes the results: wait (all at once), map "        \
	 "(submission order), imap (submission order, submitting as "        \
	 "results are taken) or as_completed (finish order)"},               \
	{"handle", PARAM_DURATION, "ms", "1ms", 0, 1.0 * NS_PER_S, NULL,     \
	 "the caller's work on each result it takes (map, imap, "            \
	 "as_completed), on the consumer lane"}
/* clang-format on */

/* mode: "wait", "map", "imap", "as_completed".  Returns 0 or -EINVAL /
 * -ENOMEM. */
int results_init(struct results *r, const char *mode, uint32_t n);
void results_free(struct results *r);

/* Task finished. */
void results_done(struct results *r, uint32_t task);
/* The next task whose result the caller may handle now (and records it as
 * handled), or UINT32_MAX when it must wait for another to finish (or all
 * are handled). */
uint32_t results_next(struct results *r);
/* True when every task's result has been handled. */
bool results_all_handled(const struct results *r);
/* Adds to checks: collect_order (the mode), collected (the handled
 * order) and finish_order, the first 20 ids of each.  Nothing for wait. */
void results_add_checks(const struct results *r, json_t *checks);

#endif
