/*
 * diagnosis_internal: what diagnosis.c (the rules that pick the model),
 * diagnosis_notes.c (what the shares do not say, appended as sentences)
 * and diagnosis_verdict.c (a deadlock, an error, a cancel) share, and
 * nothing else includes.
 */
#ifndef OVERLAP_DIAGNOSIS_INTERNAL_H
#define OVERLAP_DIAGNOSIS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program_facts.h"
#include "trace.h"

/* Rounded percent of part in whole (0 when whole is 0). */
int diag_percent(int64_t part, int64_t whole);
/* A wait for another task (lock, semaphore, queue, ...). */
bool diag_state_is_sync_wait(int s);
/* An option's text, or "" when the run has no such option. */
const char *diag_option_text(const struct trace *t, const char *key);
bool diag_model_is(const struct trace *t, const char *name);
/* thread-pool, process-pool or interpreter-pool. */
bool diag_model_is_pool(const struct trace *t);
/* The lanes the tasks ran on: a pool's workers that took a task. */
size_t diag_lanes_used(const struct trace *t);
/* Time in state st on segments noted note. */
int64_t diag_noted_ns(const struct trace *t, enum seg_state st,
		      const char *note);
/* Sets why; one that does not fit ends in "...". */
void diag_set_why(struct trace_summary *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends a sentence to why; one that does not fit ends in "...". */
void diag_append_why(struct trace_summary *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sets the advice unless one is set: the first given is the one the
 * sentence leads with. */
void diag_set_advice(struct trace_summary *m, const char *word);

/* diagnosis_notes.c: the sentences after the diagnosis (work held under a
 * lock, a pool's queue, daemons, timers, timeouts). */
void diag_add_notes(struct trace *t, const struct program_facts *facts,
		    int64_t cpu_ns, int64_t wait_ns);

/* diagnosis_notes.c: in a run that went on, the tasks that raised,
 * timed out or were cancelled, and by what (asyncio's group, a cancel());
 * a daemon cut at the end is left to the notes. */
void diag_add_cut(struct trace *t, const struct program_facts *facts);

/* diagnosis_verdict.c: a deadlock's diagnosis replaces the shares'; an
 * error or a cancel says it covers only what ran (an error before any
 * task ran: nothing measured, and a process pool's pitfall's fix). */
void diag_deadlock(struct trace *t, const struct program_facts *facts);
void diag_unfinished(struct trace *t);

#endif
