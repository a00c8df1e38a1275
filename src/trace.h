/*
 * trace: what a run becomes: its run info, lanes, tasks, segments,
 * counter samples and summary, the data every output (the trace JSON, the
 * event lines, the Chrome trace, the ASCII timeline) is made from.  The
 * collector fills it from the recorder's rings (trace_collector.h);
 * trace_json.h writes it and reads it back.
 *
 * Times are nanoseconds since the run's epoch.
 */
#ifndef OVERLAP_TRACE_H
#define OVERLAP_TRACE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

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
	uint32_t note;	/* index into trace.notes; 0 = none */
	uint8_t state;	/* enum seg_state */
	bool estimated; /* timing inferred, not observed ("estimated": true;
			 * the CPython engine's gil-wait) */
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
	/* From the counters memory_bytes and rss_bytes: the most the tasks
	 * held, that over the number of tasks, and the most the run's
	 * processes held; -1 when the trace has no such samples. */
	int64_t peak_memory_bytes;
	int64_t memory_per_task_bytes;
	int64_t peak_rss_bytes;
	bool has_lane_busy; /* every lane's busy_ns is set */
	json_t *checks;	    /* object; owned; workload checks */
	char bound[16];	    /* "io", "cpu", "mixed", "sync" */
	char recommend[32]; /* a model name */
	char advice[40];    /* what to change in the program, as a
				  * word such as "shrink-critical-section";
				  * "" when the model is the matter */
	char why[1024];	    /* the diagnosis in one sentence */
};

struct trace_host {
	int cores;
	char kernel[64];
	char engine[32];	 /* "overlap 0.1.0" */
	double cpu_iters_per_ms; /* the calibration of the cpu step */
};

/* What ran the run: "overlap" (this engine's models) or "cpython" (the
 * reference engine, src/cpython.h) with the interpreter's version and
 * build ("gil" or "free-threaded") and its path.  name "" in traces from
 * before engines were recorded: run.engine is then left out. */
struct trace_engine {
	char name[16];
	char version[32];
	char build[16];
	char path[256];
};

struct trace {
	/* run */
	char id[40];
	char workload[32];
	char model[32];
	json_t *params;	     /* object; owned */
	json_t *options;     /* object; owned */
	uint8_t status;	     /* enum run_status */
	char message[256];   /* error or deadlock explanation, "" if none */
	char started_at[40]; /* ISO 8601, UTC */
	struct trace_host host;
	struct trace_engine engine;
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

/* The time n segments sorted by start cover, overlaps counted once. */
int64_t trace_union_ns(const struct trace_segment *const *s, size_t n);

#endif
