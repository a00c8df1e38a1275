/*
 * program_facts: what the diagnosis reads of a run's program text that its
 * segments cannot show.  A trace records when a task waited for a lock,
 * not what it did while it held one, nor which task was a daemon or gave a
 * notify; the program says so.  The facts are read from the text stored
 * in the trace's params, so a stored trace, and one from the CPython
 * engine, gives the same facts as the run that made it.
 *
 * Durations are the steps' own (a cpu step's target, a net step's delay),
 * not what they took: the share of the work a lock holds is a property of
 * the program, and no model changes it.
 */
#ifndef OVERLAP_PROGRAM_FACTS_H
#define OVERLAP_PROGRAM_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program.h"

/* program_facts.task_flags[] */
#define FACT_DAEMON 0x01u   /* a daemon thread, or a task never awaited */
#define FACT_NOTIFIES 0x02u /* gives a notify on some condition */
#define FACT_WAITS 0x04u    /* waits on some condition */

struct program_facts {
	bool parsed; /* false: no program, or one that does not parse */
	size_t n_tasks;
	uint8_t *task_flags; /* FACT_*, one per task; owned */
	size_t n_daemons;
	size_t n_timers; /* tasks that start with a timer */

	/* Work: the durations of cpu, cpu-nogil, sleep, block, net and
	 * timer steps, summed over the tasks. */
	int64_t work_ns;
	int64_t longest_cpu_ns;	 /* the longest cpu or cpu-nogil step */
	int64_t cpu_ns;		 /* cpu and cpu-nogil steps, summed */
	int64_t longest_wait_ns; /* the most one task sleeps and waits on
				  * net (and timers) */
	int64_t held_ns;	 /* of it, while the task held a lock */
	int64_t held_cpu_ns;	 /* of that, computing */
	char held_lock[32];	 /* the lock that held the most work */
	bool held_reentrant;	 /* held_lock is an RLock */
	size_t reentries;	 /* takes of an RLock its taker already held */

	/* A plain Lock a task takes while it holds it ("" when none). */
	char self_lock[32];

	/* Conditions: waits, and what the notifies wake. */
	size_t cond_waits;
	size_t cond_wakes;    /* summed n of the notifies that wake n */
	size_t cond_notifies; /* notify steps, all of them */
	bool cond_notify_all; /* some notify wakes every waiter */

	/* The shared counter the incr steps update (the first, when there
	 * are several): its name ("" when none), how it was declared
	 * (object_def.count: CTR_MODE_* for a Value, a Manager's Value or an
	 * Array), an array's elements, and the tasks that update it. */
	char counter[32];
	int64_t counter_mode;
	int64_t counter_size;
	size_t counter_tasks;
};

/* Reads the facts of program text (the step language) into f.  Text that
 * is NULL or does not parse leaves f->parsed false and every count 0. */
void program_facts_read(const char *text, struct program_facts *f);
void program_facts_free(struct program_facts *f);

#endif
