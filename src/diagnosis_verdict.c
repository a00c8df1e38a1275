/*
 * diagnosis_verdict: runs that did not finish.  A deadlock is a verdict on
 * the program or on the model, not on the shares: when tasks never
 * started, the model had no room for the tasks the waiting ones needed,
 * and one that starts every task at once is the recommendation; when
 * every task had started, no model fixes it and the advice says what the
 * program must change (an RLock, notify_all, a flag to wait for, one lock
 * order), read from the trace and the program's text so that a CPython
 * trace, whose messages say less, gets the same.  An error or a cancel
 * keeps the diagnosis of what ran, said to be partial; an error before
 * anything ran has nothing measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnosis_internal.h"
#include "util.h"

/* The tasks a deadlock stopped in a wait in state (event-wait: for a
 * notify or an event): their last segment.  Sets the earliest such wait's
 * start; returns how many there are. */
static size_t stuck_in(const struct trace *t, enum seg_state state,
		       int64_t *first_wait_ns)
{
	const struct trace_segment **last;
	size_t n = 0;

	*first_wait_ns = INT64_MAX;
	last = calloc(t->n_tasks + 1, sizeof(*last));
	if (!last)
		return 0;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->task < t->n_tasks &&
		    (!last[s->task] || s->t1_ns >= last[s->task]->t1_ns))
			last[s->task] = s;
	}
	for (size_t k = 0; k < t->n_tasks; k++) {
		if (!last[k] || last[k]->state != state ||
		    t->tasks[k].status != TASK_CANCELLED)
			continue;
		n++;
		if (last[k]->t0_ns < *first_wait_ns)
			*first_wait_ns = last[k]->t0_ns;
	}
	free(last);
	return n;
}

/* Every task that gives a notify had ended before the first stuck wait
 * began: its notify came with nobody waiting, and was lost. */
static bool notify_came_first(const struct trace *t,
			      const struct program_facts *facts,
			      int64_t first_wait_ns)
{
	size_t notifiers = 0;

	for (size_t i = 0; i < t->n_tasks && i < facts->n_tasks; i++) {
		if (!(facts->task_flags[i] & FACT_NOTIFIES))
			continue;
		notifiers++;
		if (t->tasks[i].end_ns < 0 ||
		    t->tasks[i].end_ns > first_wait_ns)
			return false;
	}
	return notifiers > 0;
}

/* The diagnosis of a deadlock replaces the one the shares gave. */
void diag_deadlock(struct trace *t, const struct program_facts *facts)
{
	struct trace_summary *m = &t->summary;
	const int64_t *st = m->states_ns;
	const char *detail = t->message;
	bool unstarted = false;
	int64_t first_wait_ns;
	size_t stuck;
	const char *rec;

	for (size_t i = 0; i < t->n_tasks; i++)
		unstarted |= t->tasks[i].start_ns < 0;
	if (trace_message_names_status(t))
		detail += strlen(run_status_name(RUN_DEADLOCK)) + 1;
	while (*detail == ' ')
		detail++;
	util_strlcpy(m->bound, "sync", sizeof(m->bound));
	m->advice[0] = '\0';
	m->recommend[0] = '\0';
	if (strcmp(diag_option_text(t, "pitfall"), "fork-after-threads") == 0) {
		/* The program is right; its start method copies a held
		 * lock into every worker. */
		util_strlcpy(m->recommend, "process-pool",
			     sizeof(m->recommend));
		util_strlcpy(m->advice, "start-with-forkserver",
			     sizeof(m->advice));
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; fork copies the running "
			 "process as it is, a lock another thread held at that "
			 "moment included, and in the copy only the forking "
			 "thread exists: start the workers with forkserver "
			 "(the default from Python 3.14) or spawn, which hold "
			 "no such lock, or make the pool before starting "
			 "threads.",
			 *detail ? ": " : "", detail);
		return;
	}
	if (unstarted) {
		/* Every task running at once, each in its own place: the
		 * loop for waiting work, threads for computing work. */
		int64_t waits = st[ST_IO] + st[ST_CONNECT] + st[ST_SLEEP];

		rec = st[ST_COMPUTE] > waits ? "threads" : "asyncio";
		util_strlcpy(m->recommend, rec, sizeof(m->recommend));
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; the waiting tasks held every "
			 "place %s has to run tasks, so the others never "
			 "started, and a model that starts every task at "
			 "once, such as %s, lets them meet.",
			 *detail ? ": " : "", detail,
			 t->model[0] ? t->model : "the model", rec);
	} else if (strstr(detail, "(held by itself") || facts->self_lock[0]) {
		/* A task took a plain lock it already held (the program
		 * says so when the engine's message does not). */
		util_strlcpy(m->advice, "use-an-rlock", sizeof(m->advice));
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; a task that takes a Lock it "
			 "already holds%s%s%s waits for itself, in any model: "
			 "make it an RLock (rlock NAME), which its owner may "
			 "take again, or release the lock before taking it.",
			 *detail ? ": " : "", detail,
			 facts->self_lock[0] ? " (" : "", facts->self_lock,
			 facts->self_lock[0] ? ")" : "");
	} else if ((stuck = stuck_in(t, ST_EVENT_WAIT, &first_wait_ns)) > 0 &&
		   facts->cond_waits > 0) {
		/* A condition's waiters with nobody left to notify them:
		 * the notify came before the wait, or woke fewer. */
		if (notify_came_first(t, facts, first_wait_ns)) {
			util_strlcpy(m->advice, "wait-for-a-predicate",
				     sizeof(m->advice));
			snprintf(m->why, sizeof(m->why),
				 "The run deadlocked%s%s; every task that "
				 "notifies had ended before %s stuck waiter%s "
				 "began to wait, so its notify came with "
				 "nobody waiting and was lost, in any model: "
				 "a condition remembers nothing; set a flag "
				 "under it and wait for the flag "
				 "(cond.wait_for(lambda: ready)), which "
				 "returns at once when it is already set.",
				 *detail ? ": " : "", detail,
				 stuck == 1 ? "the" : "the first",
				 stuck == 1 ? "" : "s");
		} else if (!facts->cond_notify_all &&
			   facts->cond_wakes < facts->cond_waits) {
			util_strlcpy(m->advice, "notify-all",
				     sizeof(m->advice));
			snprintf(m->why, sizeof(m->why),
				 "The run deadlocked%s%s; the program waits "
				 "on its condition %zu times and its notifies "
				 "wake %zu, one waiter each, so %zu still "
				 "wait, in any model: notify all "
				 "(notify_all()), or one notify per waiter.",
				 *detail ? ": " : "", detail, facts->cond_waits,
				 facts->cond_wakes, stuck);
		} else {
			snprintf(m->why, sizeof(m->why),
				 "The run deadlocked%s%s; every task had "
				 "started, so no model fixes it: a notify "
				 "wakes only those already waiting and is "
				 "lost when nobody waits yet; notify all (or "
				 "one notify per waiter), and wait for a "
				 "condition (cond.wait_for) rather than for "
				 "the notify itself.",
				 *detail ? ": " : "", detail);
		}
	} else {
		/* Locks taken in two orders: one order is the fix.  An
		 * event nobody sets is the program's to see to. */
		if (stuck_in(t, ST_LOCK_WAIT, &first_wait_ns) > 0)
			util_strlcpy(m->advice, "take-locks-in-one-order",
				     sizeof(m->advice));
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; every task had started, so "
			 "no model fixes it: the tasks wait for each other in "
			 "a cycle, or for something no task will do; the "
			 "program must take its locks in one order, or make "
			 "sure what it awaits comes.",
			 *detail ? ": " : "", detail);
	}
}

/* No task computed or waited on anything. */
static bool nothing_measured(const struct trace *t)
{
	for (int s = 0; s < ST__COUNT; s++)
		if ((s == ST_COMPUTE || seg_state_has(s, STATE_OVERLAPPABLE) ||
		     diag_state_is_sync_wait(s)) &&
		    t->summary.states_ns[s] > 0)
			return false;
	return true;
}

/* An error before any task computed or waited: nothing was measured, so
 * nothing is recommended (bound ""); a process pool's pitfall says what
 * the program must change. */
static void diagnose_failed_start(struct trace *t)
{
	struct trace_summary *m = &t->summary;
	const char *pitfall = diag_option_text(t, "pitfall");
	const char *detail = t->message;
	const char *fix;

	if (trace_message_names_status(t))
		detail += strlen(run_status_name(t->status)) + 1;
	while (*detail == ' ')
		detail++;
	m->bound[0] = '\0';
	m->recommend[0] = '\0';
	if (strcmp(pitfall, "lambda") == 0) {
		util_strlcpy(m->advice, "def-at-module-level",
			     sizeof(m->advice));
		fix = "a process pool sends the function to its workers "
		      "pickled, by its importable name, and a lambda has "
		      "none: define the function with def at the top of the "
		      "module, and the pool runs it";
	} else if (strcmp(pitfall, "no-main-guard") == 0) {
		util_strlcpy(m->advice, "add-a-main-guard", sizeof(m->advice));
		fix = "under spawn (and forkserver) every worker imports the "
		      "main module afresh, and one that starts its pool when "
		      "imported starts it again in each worker: start the "
		      "pool under if __name__ == \"__main__\":";
	} else {
		fix = "nothing was measured, so no model is recommended";
	}
	diag_set_why(m,
		     "The run ended in an error before any task computed or "
		     "waited%s%s; %s.",
		     *detail ? ": " : "", detail, fix);
}

/* An error or a cancel: the diagnosis of what ran, said to be partial. */
void diag_unfinished(struct trace *t)
{
	struct trace_summary *m = &t->summary;
	char why[sizeof(m->why)], wall[32];
	const char *how;

	switch (t->status) {
	case RUN_ERROR:
		if (nothing_measured(t)) {
			diagnose_failed_start(t);
			return;
		}
		how = "ended in an error";
		break;
	case RUN_CANCELLED:
		how = "was cancelled";
		break;
	default:
		return;
	}
	util_strlcpy(why, m->why, sizeof(why));
	/* "Tasks spent ..." continues the sentence after the colon. */
	if (why[0] >= 'A' && why[0] <= 'Z')
		why[0] = (char)(why[0] - 'A' + 'a');
	/* The lead must fit; a long why loses its tail, visibly. */
	diag_set_why(m,
		     "The run %s after %s, so this covers only what ran "
		     "until then: %s",
		     how, util_format_duration(m->wall_ns, wall, sizeof(wall)),
		     why);
}
