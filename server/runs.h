/*
 * runs: the server's table of runs, the queue in front of the runner, and
 * each run's way from submitted to stored.
 *
 * A run is created queued (its .meta and .events written, a "status" event
 * in its stream), waits in a bounded FIFO, is taken by the runner thread
 * (runner.c), streams the runner's event lines into its stream and events
 * file, and is concluded: a final "status" event, the trace folded from
 * the stream and stored atomically, the .meta rewritten, then the "end"
 * event.  A client that has seen "end" therefore finds the stored trace
 * and the final status everywhere.  Cancelled queued runs, runs cut short
 * by a shutdown and runs a crash left behind (found at start) are
 * concluded the same way, so every run in the store ends complete.
 *
 * Finished runs keep their stream in memory within a byte budget (least
 * recently used first out) and reload it from the events file on demand.
 *
 * The module is three files (runs_priv.h): the table and the queue
 * (runs.c), a run's log, its events file and stream (runs_log.c), and the
 * store and the recovery at start (runs_store.c).
 *
 * Locking: runs.lock protects the table, the queue and every run's mutable
 * fields; a run's append lock orders its events file and stream (line k of
 * the file is event k); order: runs.lock, then a run's append lock, then a
 * stream's lock.  Nothing blocking (fsync, reading a big file) happens
 * under runs.lock.
 */
#ifndef OVERLAP_RUNS_H
#define OVERLAP_RUNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"
#include "spec.h"
#include "store.h"
#include "stream.h"

/* The statuses only the server gives a run, besides the engine's
 * (protocol.h): waiting in the queue, and cut off by a server that
 * stopped.  Each is its word's place in the trace contract's list, so
 * run_status_name() and run_status_parse() serve every status. */
enum { RUN_QUEUED = 0, RUN_INTERRUPTED = 5 };

struct runs;
struct run;

struct runs_config {
	struct store *store;   /* borrowed */
	int queue_max;	       /* runs waiting behind the running one */
	size_t cache_bytes;    /* finished streams kept in memory */
	int64_t max_wall_ns;   /* cap on any run's wall-clock limit */
	int64_t wall_grace_ns; /* added to a run's own time_limit */
};

struct runs_stats {
	size_t total;
	size_t queued;
	char running[STORE_ID_SIZE]; /* "" when idle */
};

/* Loads the store's runs; runs a crash left queued or running are
 * concluded as interrupted.  NULL with err on failure. */
struct runs *runs_create(const struct runs_config *cfg, char *err,
			 size_t err_size);
/* After runs_shutdown() and the runner's exit: concludes what is still
 * queued as interrupted and frees everything. */
void runs_destroy(struct runs *r);
/* After runs_shutdown() and the runner's exit: concludes what is still
 * queued as interrupted, so the viewers of those runs read their end event
 * before the server goes.  runs_destroy() does it too if nobody did. */
void runs_interrupt_queued(struct runs *r);
/* Wakes the runner thread with no more work and kills the running run's
 * process group (it is concluded as interrupted). */
void runs_shutdown(struct runs *r);

/* ---- for HTTP handlers -------------------------------------------------- */

/* Queues n validated specs (all or none), as one compare when compare_id
 * is not NULL.  ids receives their ids.  0, -EAGAIN when the queue has
 * fewer than n free places, -ESHUTDOWN, or -errno from the store. */
int runs_submit(struct runs *r, struct spec *const *specs, size_t n,
		const char *compare_id, char (*ids)[STORE_ID_SIZE]);

/* The group a run belongs to, kept with it and listed in the history
 * ("compare" or "sweep": the id of the one it is part of). */
enum runs_group_kind { RUNS_GROUP_COMPARE, RUNS_GROUP_SWEEP };
struct runs_group {
	enum runs_group_kind kind;
	const char *id;
};

/* runs_submit() for any group (NULL: none). */
int runs_submit_group(struct runs *r, struct spec *const *specs, size_t n,
		      const struct runs_group *group,
		      char (*ids)[STORE_ID_SIZE]);

/* New reference: {runs: [...]}, newest first, summary fields only. */
json_t *runs_list(struct runs *r);
/* Changes whenever runs_list() would. */
uint64_t runs_version(struct runs *r);

/* The trace of a run: for a finished run *fd is the stored file (caller
 * closes) and *trace NULL; otherwise *trace is the trace folded from the
 * events so far (new reference) and *fd -1.  0 or -ENOENT. */
int runs_trace(struct runs *r, const char *id, json_t **trace, int *fd);

/* DELETE: cancels a queued or running run (*deleted false) or deletes a
 * finished one (*deleted true).  0 or -ENOENT. */
int runs_remove(struct runs *r, const char *id, bool *deleted);

/* New reference on the run's stream (loaded from the events file when it
 * was evicted).  NULL with -ENOENT or -ENOMEM/-EIO in *err. */
struct stream *runs_stream(struct runs *r, const char *id, int *err);

/* New reference: {id, model, status, message, summary} for a compare, or
 * NULL when the run is gone. */
json_t *runs_brief(struct runs *r, const char *id);

void runs_stats(struct runs *r, struct runs_stats *out);
/* Seconds a client should wait before retrying a refused submission. */
int runs_retry_after_s(struct runs *r);

/* ---- for the runner thread ---------------------------------------------- */

/* What became of the runner process. */
struct runs_exit {
	bool spawn_failed; /* never started: detail says why */
	bool timed_out;	   /* killed at the wall-clock limit */
	int wstatus;	   /* from waitpid */
	char detail[256];  /* the runner's last stderr line, or why */
};

/* Blocks until a run is queued (returned as running, with a reference the
 * caller drops with runs_release) or runs_shutdown() (NULL). */
struct run *runs_take(struct runs *r);
void runs_release(struct run *run);

const char *run_id(const struct run *run);
/* The spec as JSON text for `overlap run --spec -` (free() it). */
char *run_spec_text(const struct run *run);
int64_t run_wall_limit_ns(const struct run *run);

/* Publishes the runner's process group; false when the run was cancelled
 * meanwhile (the caller kills the group). */
bool runs_started(struct runs *r, struct run *run, pid_t pgid);
/* True once a runner asked to stop (cancel, server stop) has had its
 * grace and should be killed. */
bool runs_kill_due(struct runs *r, struct run *run);
/* Withdraws it before the runner is reaped, so a cancel never signals a
 * recycled pid. */
void runs_stopped(struct runs *r, struct run *run);
/* Complete event lines from the runner ("...\n...\n"). */
void runs_lines(struct runs *r, struct run *run, const char *buf, size_t len);
/* Concludes the run from the runner's exit. */
void runs_finish(struct runs *r, struct run *run, const struct runs_exit *ex);

#endif
