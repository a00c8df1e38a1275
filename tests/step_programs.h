/*
 * step_programs.h: one small program for each word of the step language
 * (the catalog's vocabulary.steps), shared by the tests that walk the
 * catalog's steps against its models (test_cli.c through the command line,
 * test_server.c through POST /api/runs).
 *
 * Each program uses its word the way a learner would, in tens of
 * milliseconds, and names a state its run shows: the word's own segment
 * (a sleep, a request's io, a pipe's ipc) or, for a word that makes
 * another task wait, that task's wait, noted with the object's name.
 */
#ifndef OVERLAP_TESTS_STEP_PROGRAMS_H
#define OVERLAP_TESTS_STEP_PROGRAMS_H

#include <stddef.h>
#include <string.h>

/* What sequential, one task after another, makes of the program. */
enum step_alone {
	/* The state shows as under any other model. */
	ALONE_SAME,
	/* The state is another task's wait, and no task waits for one
	 * that has already finished: the run is done without it. */
	ALONE_NO_WAIT,
	/* The first task waits for one that runs only after it (a
	 * barrier's other party, a notify): the run ends in deadlock, as
	 * one thread would in Python. */
	ALONE_DEADLOCK,
};

struct step_program {
	const char *step;    /* the catalog's name of the word */
	const char *program; /* the params.program that uses it */
	const char *state;   /* a state its run shows */
	const char *note;    /* that segment's note, or NULL for any */
	const char *first;   /* task 1's status; the others end ok */
	enum step_alone alone;
};

#define STEP_LOCK "2 x (lock l, sleep 10ms, unlock l)"
#define STEP_SEM "sem s=1; 2 x (acquire s, sleep 10ms, release s)"
#define STEP_QUEUE "queue q=1; (sleep 10ms, put q); get q"
#define STEP_BARRIER "barrier b=2; (barrier b); (sleep 10ms, barrier b)"
#define STEP_EVENT "(sleep 10ms, event set e); event wait e"
#define STEP_COND "condition c; (cond wait c); (sleep 10ms, cond notify c)"
#define STEP_PIPE "pipe p; (send p); (recv p)"

static const struct step_program step_programs[] = {
	{"cpu", "cpu 10ms", "compute", NULL, "ok", ALONE_SAME},
	{"cpu-nogil", "cpu-nogil 10ms", "compute", "releases the GIL", "ok",
	 ALONE_SAME},
	{"sleep", "sleep 10ms", "sleep", NULL, "ok", ALONE_SAME},
	{"block", "block 10ms", "sleep", NULL, "ok", ALONE_SAME},
	{"net", "net 10ms", "io", NULL, "ok", ALONE_SAME},
	{"disk", "disk write 4096", "io", NULL, "ok", ALONE_SAME},
	{"lock", STEP_LOCK, "lock-wait", "l", "ok", ALONE_NO_WAIT},
	{"unlock", STEP_LOCK, "lock-wait", "l", "ok", ALONE_NO_WAIT},
	{"acquire", STEP_SEM, "sem-wait", "s", "ok", ALONE_NO_WAIT},
	{"release", STEP_SEM, "sem-wait", "s", "ok", ALONE_NO_WAIT},
	{"put", STEP_QUEUE, "queue-wait", "q", "ok", ALONE_NO_WAIT},
	{"get", STEP_QUEUE, "queue-wait", "q", "ok", ALONE_NO_WAIT},
	{"incr", "2 x (incr c 1000)", "compute", NULL, "ok", ALONE_SAME},
	{"barrier", STEP_BARRIER, "barrier-wait", "b", "ok", ALONE_DEADLOCK},
	{"event set", STEP_EVENT, "event-wait", "e", "ok", ALONE_NO_WAIT},
	{"event wait", STEP_EVENT, "event-wait", "e", "ok", ALONE_NO_WAIT},
	{"cond wait", STEP_COND, "event-wait", "c", "ok", ALONE_DEADLOCK},
	{"cond notify", STEP_COND, "event-wait", "c", "ok", ALONE_DEADLOCK},
	{"timer", "(timer 10ms, cpu 5ms)", "sleep",
	 "timer: waits, then runs the task", "ok", ALONE_SAME},
	{"fail", "(fail); sleep 10ms", "sleep", NULL, "error", ALONE_SAME},
	{"cancel", "(net 200ms); (sleep 10ms, cancel 1)", "io", NULL,
	 "cancelled", ALONE_SAME},
	{"timeout", "timeout 10ms (net 200ms)", "io", NULL, "timeout",
	 ALONE_SAME},
	{"daemon", "daemon (sleep 1s); sleep 10ms", "sleep", NULL, "cancelled",
	 ALONE_SAME},
	{"sem", STEP_SEM, "sem-wait", "s", "ok", ALONE_NO_WAIT},
	{"queue", STEP_QUEUE, "queue-wait", "q", "ok", ALONE_NO_WAIT},
	{"counter", "counter c=lock; 2 x (incr c 1000)", "compute", NULL, "ok",
	 ALONE_SAME},
	{"value", "value v; 2 x (incr v 1000)", "compute", NULL, "ok",
	 ALONE_SAME},
	{"array", "array a=2; 2 x (incr a 1000)", "compute", "a", "ok",
	 ALONE_SAME},
	{"rlock",
	 "rlock r; 2 x (lock r, lock r, sleep 10ms, unlock r, "
	 "unlock r)",
	 "lock-wait", "r", "ok", ALONE_NO_WAIT},
	{"condition", STEP_COND, "event-wait", "c", "ok", ALONE_DEADLOCK},
	{"pipe", STEP_PIPE, "ipc", "p", "ok", ALONE_SAME},
	{"send", STEP_PIPE, "ipc", "p", "ok", ALONE_SAME},
	{"recv", STEP_PIPE, "ipc", "p", "ok", ALONE_SAME},
};

/* The program for the catalog's word name, or NULL (a word no test
 * covers yet). */
static inline const struct step_program *step_program_for(const char *name)
{
	for (size_t i = 0; i < sizeof(step_programs) / sizeof(*step_programs);
	     i++)
		if (strcmp(step_programs[i].step, name) == 0)
			return &step_programs[i];
	return NULL;
}

#endif
