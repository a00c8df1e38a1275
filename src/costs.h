/*
 * costs: what CPython itself costs on this machine, for the option
 * costs=python.
 *
 * The models are C, and C starts a worker process in a millisecond and a
 * thread in microseconds; a Python worker is an interpreter that imports
 * its modules first, and a Python thread runs its bootstrap.  With
 * costs=python a model also charges those: a worker's start-up segment
 * lasts at least what a ProcessPoolExecutor takes here to its first
 * result, a thread's at least what threading.Thread.start() takes, and a
 * process pool's task carries the pool's own round trip and its cost per
 * byte as ipc, and an event loop pays a task switch at every resume.
 * costs=ideal, the default, charges nothing of the sort.
 *
 * The figures come from src/cpython/costs.py, a stdlib-only script run once
 * by `overlap calibrate` (cli/cmd_calibrate.c) or by the first run that
 * asks for costs=python,
 * and kept as JSON in a file: $OVERLAP_COSTS when set, else
 * $XDG_CACHE_HOME/overlap/costs.json (~/.cache/overlap/costs.json), written
 * atomically.  The file records the Python it measured.
 */
#ifndef OVERLAP_COSTS_H
#define OVERLAP_COSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum costs_start { COSTS_FORK, COSTS_SPAWN, COSTS_FORKSERVER, COSTS__STARTS };

struct python_costs {
	/* A ProcessPoolExecutor of one worker, created to its first result,
	 * per start method (0: not measured). */
	int64_t process_start_ns[COSTS__STARTS];
	int64_t process_task_ns; /* a warm pool's round trip per task */
	double ipc_ns_per_byte;	 /* what a pool adds per byte of argument */
	int64_t thread_start_ns; /* Thread.start() to its target's first line */
	int64_t task_switch_ns;	 /* an asyncio task switch (sleep(0)) */
	char python_version[32]; /* "3.11.7" */
};

/* What CPython holds in memory for each thing a model makes: the figures
 * behind the counter memory_bytes (trace_collector.h), whatever the option
 * costs says, since they cost a run nothing to charge.  Measured on the
 * development machine (CPython 3.11.7, x86-64 Linux, 4 KiB pages) by
 * `python3 src/cpython/costs.py --memory`, which prints them again: the
 * growth of the resident set (/proc/self/statm) over 1,000 waiting
 * threads, 100,000 pending asyncio Tasks and 100,000 Futures pending
 * behind a ThreadPoolExecutor's busy workers, per object; what
 * tracemalloc counts for 1,000 Thread objects; a ProcessPoolExecutor
 * worker's own resident set after one task, per start method; and the
 * growth for 20 subinterpreters (_xxsubinterpreters.create()).  Runs of
 * the script agree to within a few per cent. */
struct python_memory {
	/* A started thread that waits: its stack's pages touched so far and
	 * its thread state (13.1 KB), and its Thread object (2.2 KB).  Its
	 * stack's reservation is far larger (thread_reserved_bytes:
	 * threading.stack_size() is 0, so the 8 MiB of RLIMIT_STACK, plus a
	 * guard page) but only address space: it is not resident. */
	int64_t thread_bytes;
	int64_t thread_reserved_bytes;
	int64_t task_bytes;   /* a pending asyncio Task with its coroutine */
	int64_t future_bytes; /* a pool's pending Future and its work item */
	/* A ProcessPoolExecutor worker's resident set (pages it shares with
	 * its parent after a fork included: what top shows). */
	int64_t process_bytes[COSTS__STARTS];
	int64_t interpreter_bytes; /* a subinterpreter, created */
};

extern const struct python_memory costs_memory;

/* The model option, for a model's struct param_def array. */
#define COSTS_OPTION                                                                        \
	{                                                                                   \
		"costs", PARAM_ENUM, "", "ideal", 0, 0, "ideal|python",                     \
			"ideal (the default): only what the C model itself costs, next to " \
			"nothing to start a worker or a thread; python: also what CPython " \
			"costs on this machine (measured once by overlap calibrate): a "    \
			"worker interpreter's start-up, a thread's start, a pool's round "  \
			"trip and its cost per byte, an asyncio task switch"                \
	}

/* The costs file's path (see above) into out.  Returns 0, or -ENAMETOOLONG
 * or -ENOENT (no HOME to put it under). */
int costs_path(char *out, size_t size);

/* Reads a costs file.  Returns 0, -ENOENT when there is none, or -EINVAL
 * (or another -errno) with why saying what is wrong with it. */
int costs_load(const char *path, struct python_costs *out, char *why,
	       size_t why_size);

/* Runs the calibration script with the interpreter python ("python3" from
 * PATH when NULL) and stores what it prints at path, atomically.  quick:
 * fewer rounds.  Returns 0 or a negative errno with why. */
int costs_calibrate(const char *python, const char *path, bool quick, char *why,
		    size_t why_size);

/* The costs a run charges: the file's, calibrating first (with python3
 * from PATH) when there is no file yet.  Returns 0 or a negative errno with
 * why. */
int costs_get(struct python_costs *out, char *why, size_t why_size);

#endif
