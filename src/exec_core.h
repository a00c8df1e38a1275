/*
 * exec_core: the context of a task that runs on its own thread (a thread
 * of threads or thread-pool, a process-pool worker, an executor thread of
 * asyncio-executor, the main thread of sequential) and what every blocking
 * step does with it: take and release the GIL around a wait, compute in
 * slices that honour the GIL's drop requests and the run's stop.
 */
#ifndef OVERLAP_EXEC_CORE_H
#define OVERLAP_EXEC_CORE_H

#include <errno.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gil.h"
#include "model.h"

struct exec_ctx {
	struct run_ctx *run;
	const struct rec_lane *lane;
	struct gil *gil; /* NULL: no GIL (gil=off, processes) */
	uint32_t task;
	bool holds_gil; /* private to exec_core: whether this thread holds
			 * gil (start it false) */
	/* NULL, or where exec_compute keeps the start of the compute
	 * segment it has open (a process worker's slot: a pool whose worker
	 * died closes that segment at the death, worker.h) */
	_Atomic int64_t *open_t0_ns;
};

/* What a fail step returns: the task raised (RuntimeError), on purpose;
 * an errno no system call here gives. */
#define EXEC_RAISED (-EBADE)

/* The status a task ends with when its last step returned rc: ok,
 * cancelled (-ECANCELED), timeout (-ETIMEDOUT) or error.  Models that run
 * steps one at a time elsewhere (a worker process) end tasks with it too. */
enum task_status exec_status_of(int rc);

/* Wakes every sleep step waiting on stop (a run's ctx->stop, in this
 * process or in memory shared with it).  Call it after raising the flag;
 * without it a sleeping task still notices within half a second. */
void exec_stop_wake(_Atomic int *stop);

/* Takes x->gil for this thread, recording a gil-wait segment when it had to
 * wait; releases it.  Both do nothing without a GIL or when it is already
 * in the wanted state, so a step that blocks can bracket its wait with
 * exec_gil_release() / exec_gil_acquire(). */
void exec_gil_acquire(struct exec_ctx *x);
void exec_gil_release(struct exec_ctx *x);

/* Runs one cpu step as exec_step() does: -ECANCELED at once when the run
 * has stopped; otherwise computes, bumps the run's progress and returns 0,
 * or -ECANCELED when the run stopped meanwhile. */
int exec_cpu_step(struct exec_ctx *x, const struct step *s);

/* The computation of a cpu step, in slices, honouring GIL drop requests and
 * recording compute and gil-wait segments: n iterations when n > 0, else
 * until the thread has used ns of CPU time (struct cpu_work).  Needs the
 * GIL held on entry when x->gil is set. */
void exec_compute(struct exec_ctx *x, uint64_t n, int64_t ns, uint32_t note);

/* Computes (real CPU work, as an interpreter's start-up or pickling is)
 * until lane's clock reads until_ns or the run stops.  Knows nothing of
 * the GIL: a caller that must hold it holds it. */
void exec_busy_until(struct run_ctx *run, const struct rec_lane *lane,
		     int64_t until_ns);

/* A Python thread's start (costs=python): takes the GIL when there is one,
 * computes ns from the moment it has it, and lets it go.  The interval
 * computed, in lane time, goes to *t0_ns and *t1_ns; the caller records it
 * as the startup segment of the task it held up. */
void exec_startup(struct exec_ctx *x, int64_t ns, int64_t *t0_ns,
		  int64_t *t1_ns);
/* Watches a computation for the time its thread could have run but was
 * not on a core (descheduled: more threads computing than cores, or the
 * machine busy with other work), measured with the thread's own CPU clock
 * (CLOCK_THREAD_CPUTIME_ID) against the wall clock at slice boundaries.
 * Such time is a runnable segment, noted REC_NOTE_CPU_CLOCK. */
struct exec_runwatch {
	int64_t wall_ns;      /* the last slice boundary, from the epoch */
	int64_t base_wall_ns; /* when the CPU clock was last read ... */
	int64_t base_cpu_ns;  /* ... and what it said; -1: not watching */
};
/* Starts watching at now_ns (watch false: looks always say 0). */
void exec_runwatch_start(struct exec_runwatch *w, int64_t now_ns, bool watch);
/* At a slice boundary: the time off the core in the slice that just ended
 * (since the last look), or 0 when under about 200 us. */
int64_t exec_runwatch_look(struct exec_runwatch *w, int64_t now_ns);

/* The stack of a thread that runs tasks: small, so 10,000 threads fit in a
 * few hundred MiB of address space; larger under the sanitizers, whose
 * frames are bigger (and ThreadSanitizer keeps about 900 KiB of its own
 * per-thread state at the top of a stack it did not allocate). */
#if defined(__SANITIZE_THREAD__)
#define EXEC_THREAD_STACK_BYTES (2 * 1024 * 1024)
#elif defined(__SANITIZE_ADDRESS__)
#define EXEC_THREAD_STACK_BYTES (512 * 1024)
#else
#define EXEC_THREAD_STACK_BYTES (64 * 1024)
#endif

/* The options of every model whose tasks are Python threads, to put in its
 * struct param_def array: gil, switch_interval and python. */
/* clang-format off */
#define EXEC_GIL_OPTIONS                                                     \
	{"gil", PARAM_ENUM, "", "on", 0, 0, "on|off",                        \
	 "on: CPython's GIL, one thread computes at a time; off: the "       \
	 "free-threaded build"},                                             \
	{"switch_interval", PARAM_DURATION, "ms", "5ms",                     \
	 100.0 * NS_PER_US, 1.0 * NS_PER_S, NULL,                            \
	 "sys.setswitchinterval: how long a thread waits for the GIL "       \
	 "before it asks the holder to let go"},                             \
	{"python", PARAM_ENUM, "", "3.10+", 0, 0, "3.10+|3.9",               \
	 "where the GIL may switch threads: 3.10+ (the default) only at "    \
	 "loops and calls, so a bare counter += 1 loses nothing; 3.9 and "   \
	 "earlier between almost any two bytecodes, so it loses updates"}
/* clang-format on */

/* The GIL the options ask for (EXEC_GIL_OPTIONS): 0 with *out NULL for
 * gil=off, 0 with a new GIL, or -ENOMEM. */
int exec_gil_create(const struct param_set *options, struct gil **out);

#endif
