/*
 * runs_priv: what the three files of the runs module share, and nobody
 * else may use (runs.h is the module's contract):
 *
 *   runs.c        the table of runs, the queue, and a run's state changes
 *   runs_log.c    a run's log: its events file and the stream viewers read
 *   runs_store.c  the store: a run's .meta and stored trace, the one way a
 *                 run ends (runs_conclude), and recovery at start
 *
 * Every run, from the moment it is queued, has a stream and an open events
 * file; both only grow, under the run's append lock, file first, so an
 * event a viewer saw is already in the file (a crash of the server loses
 * nothing a client was shown).  The stream is held live (run->live) until
 * the run is concluded; afterwards run->stream is only a cache.
 */
#ifndef OVERLAP_RUNS_PRIV_H
#define OVERLAP_RUNS_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "runs.h"
#include "store.h"
#include "stream.h"
#include "trace.h"

struct run {
	char id[STORE_ID_SIZE];
	char compare[STORE_ID_SIZE]; /* "" when not part of a compare */
	char sweep[STORE_ID_SIZE];   /* "" when not part of a sweep */
	char created_at[40];
	int64_t created_ns; /* CLOCK_REALTIME: the history's order */
	json_t *spec;	    /* {workload, model, params, options} */
	json_t *defaults;   /* the trace's run object before the runner */
	int64_t wall_limit_ns;
	_Atomic long refs;

	/* protected by runs.lock */
	int status; /* enum run_status */
	char message[256];
	char started_at[40];
	json_t *summary;       /* replaced whole, never modified; or NULL */
	struct stream *stream; /* cache of a finished run, or NULL */
	bool loading;	       /* a viewer is reading its events back */
	size_t cached_bytes;   /* counted in runs.cached_bytes */
	uint64_t lru;
	pid_t pgid;	    /* runner's process group, 0 when none */
	int64_t kill_at_ns; /* asked to stop: killed if still going then */
	bool cancel;	    /* DELETE asked for it */
	bool interrupt;	    /* the server is stopping */
	int position;	    /* in the queue, 1-based; 0 when not queued */
	json_t *unsaved;    /* the trace, when it could not be stored */

	/* protected by append_lock */
	pthread_mutex_t append_lock;
	int events_fd;		  /* -1 once concluded */
	struct stream *live;	  /* until concluded */
	_Atomic int events_errno; /* the events file could not be written:
				   * the runner's lines go no further, the
				   * run ends as error (runs_kill_due) */

	/* the runner thread's own */
	bool summary_seen;
	char summary_status[24];
	char summary_message[256];
};

struct runs {
	struct runs_config cfg;
	json_t *host; /* defaults for run.host */

	pthread_mutex_t lock;
	pthread_cond_t wake;   /* the runner waits for the queue */
	pthread_cond_t loaded; /* a run's events were read back (or not) */
	struct run **table;    /* oldest first */
	size_t n_table, cap_table;
	struct run **queue; /* FIFO, at most cfg.queue_max */
	size_t n_queue;
	struct run *running;
	bool stopping;
	uint64_t version;
	uint64_t lru_clock;
	size_t cached_bytes;
};

/* ---- runs.c ------------------------------------------------------------- */

/* Neither queued nor running. */
bool runs_status_final(int status);
/* "runs/ID.EXT", the name of one of a run's files in the store. */
void runs_file_name(char *buf, size_t size, const char *id, const char *ext);
/* A run with one reference, no files, no stream; NULL when out of memory. */
struct run *run_new(void);
void run_unref(struct run *run);
/* Caller holds r->lock.  Borrowed, or NULL. */
struct run *runs_find_locked(struct runs *r, const char *id);
/* Caller holds r->lock (or is alone, at start).  0 or -ENOMEM. */
int runs_table_add_locked(struct runs *r, struct run *run);

/* ---- runs_log.c --------------------------------------------------------- */

/* New reference: a "status" event. */
json_t *runs_status_event(int status, const char *message, int position);
/* Appends one event to the run's events file and live stream, under its
 * append lock; steals obj.  Nothing once the run is concluded. */
void runs_append_json(struct run *run, const char *type, json_t *obj);
/* Reads a run's events file into a new stream; drops a torn last line (a
 * crash during a write: no viewer was ever sent it).  *valid_bytes says
 * how much of the file is whole lines.  NULL with -errno in *err. */
struct stream *runs_load_events(struct runs *r, const char *id,
				size_t *valid_bytes, int *err);
/* Counts a finished run's stream (run->stream) in the cache and evicts
 * the least recently used others past the budget.  Caller holds r->lock. */
void runs_cache_locked(struct runs *r, struct run *run);

/* ---- runs_store.c ------------------------------------------------------- */

/* New reference: the trace folded from the events of s. */
json_t *runs_fold(const struct run *run, struct stream *s);
/* Writes the run's .meta atomically.  0 or -errno (printed). */
int runs_save_meta(struct runs *r, struct run *run);
/* The one way a run ends: final status event, stored trace, meta, then
 * the end event.  Called once per run, by whoever owns its ending (the
 * runner, a DELETE of a queued run, start-up recovery, shutdown), without
 * r->lock. */
void runs_conclude(struct runs *r, struct run *run, int status,
		   const char *message);
/* At start: loads the store's runs into the table, oldest first, and
 * concludes as interrupted the runs a crash left queued or running.  0 or
 * -errno with err. */
int runs_load(struct runs *r, char *err, size_t err_size);

#endif
