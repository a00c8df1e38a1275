/*
 * worker: the inside of a process-pool worker, and the protocol it speaks
 * with its pool (procpool.c).
 *
 * A forked worker calls worker_serve() straight after fork (from the run
 * process, or from the fork server below); a spawned one
 * runs `overlap worker --sock 3 --rec-fd 4 --rec-size N --shm-fd 5
 * --shm-size M --slot S --spec-offset O --spec-bytes B [--sync-fd 6
 * --sync-size Z]` (worker_main()), maps the recorder and the pool's
 * mapping from the descriptors it was given, reads the spec (JSON text of
 * B bytes at offset O of the pool's mapping, after the slots: it may be
 * longer than one argument may be), rebuilds the program from it with the
 * workload catalog, maps the run's shared objects (sync_map) when the
 * program has any, and then calls worker_serve() too.  Both close every
 * descriptor they do not need, ask for SIGKILL when the run process dies, and
 * leave when their socket reaches end of file.
 *
 * Each worker owns one slot of the pool's shared mapping.  The slot holds
 * what the pool tells the worker before it starts (facts) and the worker's
 * own struct run_ctx, which lives in shared memory so that the pool can
 * raise its stop flag and read its progress counter while a task runs;
 * every other field of that run_ctx is the worker's alone.
 *
 * On the socket, every message is a fixed header; a job and a result are
 * followed by payload_bytes of payload.
 */
#ifndef OVERLAP_WORKER_H
#define OVERLAP_WORKER_H

#include <stdint.h>

#include "model.h"
#include "trace_rec.h"

/* The `overlap worker ...` subcommand (argv[0] is "worker" or the program;
 * a leading "worker" argument is skipped).  Returns the exit status. */
int worker_main(int argc, char **argv);

/* Written by the pool before it starts the worker of a slot; read-only to
 * the worker. */
struct worker_facts {
	int64_t startup_t0_ns; /* the fork/spawn call, from the epoch */
	int64_t deadline_ns;
	double cpu_iters_per_ms;
	uint32_t lane;	    /* the worker's lane id */
	uint32_t number;    /* "ForkProcess-<number>" */
	int32_t parent_pid; /* the run process */
	uint16_t peer_port;
	uint8_t spawned; /* 1: started with exec */
	char tmpdir[256];
	/* costs=python (all 0 otherwise): the start-up lasts at least
	 * startup_min_ns from startup_t0_ns, and each transfer of a task
	 * (argument, result) at least transfer_ns plus ns_per_byte for each
	 * byte, as a Python interpreter's do. */
	int64_t startup_min_ns;
	int64_t transfer_ns;
	double ns_per_byte;
};

struct worker_slot {
	struct worker_facts facts;
	/* Written by the worker around each step of a job; read by the pool
	 * once the worker has died, to close the segment it died in (a
	 * killed computation still shows, up to its death). */
	_Atomic uint32_t step_kind; /* enum step_kind + 1; 0: none */
	_Atomic int64_t step_t0_ns;
	/* The task of a chunk that runs (written before its first step),
	 * so the pool knows which of the chunk's tasks a death cut short. */
	_Atomic uint32_t chunk_task;
	/* ctx.stop: written by the pool (atomic), read by the worker;
	 * ctx.progress: written by the worker, read by the pool; the rest:
	 * the worker's own, meaningful only in its process. */
	struct run_ctx ctx;
};

enum worker_msg_type {
	WORKER_MSG_READY = 1, /* worker -> pool: start-up done */
	WORKER_MSG_JOB,	      /* pool -> worker: a job, then its argument */
	WORKER_MSG_DONE,      /* worker -> pool: a result, then its payload */
};

struct worker_msg {
	uint32_t type; /* enum worker_msg_type */
	uint32_t task;
	uint32_t first_step;   /* JOB */
	uint32_t n_steps;      /* JOB: 0 = the whole task */
	int32_t status;	       /* DONE: enum task_status */
	int32_t err;	       /* DONE: 0 or a negative errno */
	int64_t pid;	       /* READY, DONE: the worker's pid */
	int64_t payload_bytes; /* what follows this header on the socket */
	uint32_t n_tasks;      /* JOB: 0 or 1, or a chunk's tasks (from task);
				* DONE: a chunk sends one per task, the first
				* with the whole result */
	uint32_t reserved;
};

/* What worker_serve() needs, in either start method. */
struct worker_env {
	int sock;		  /* the worker's end of its socketpair */
	struct worker_slot *slot; /* its slot in the pool's mapping */
	struct rec_lane lane;	  /* its lane's producer handle */
	const struct spec *spec;
	const struct program *prog;
	struct sync_rt *sync; /* fork: the run's shared objects */
};

/* Sets the worker up in its slot (signals, parent-death signal, its
 * run_ctx), says ready, and serves jobs until end of file.  Returns the exit
 * status for the process. */
int worker_serve(struct worker_env *env);

/*
 * The fork server (start method forkserver, Python's default on Linux
 * since 3.14).  The pool spawns it once, as `overlap worker ...
 * --forkserver-lane L --startup-t0 NS`: like a spawned worker it maps the
 * recorder, the pool's slots and the run's shared objects and rebuilds the
 * program, and then, single-threaded, it forks a worker whenever the pool
 * asks.  Forking a process with one thread is safe where forking the
 * multi-threaded run process is not, and each child starts with the
 * program already built, so a worker starts almost as fast as with fork.
 *
 * The pool and the server talk over a SOCK_SEQPACKET socketpair, one
 * struct worker_fs_msg a message.  A FORK request carries the new worker's
 * end of its own socketpair as SCM_RIGHTS; the child gets it as its
 * socket, the server writes the slot's startup_t0_ns and parent_pid (its
 * own pid: the worker is its child, not the run process's) just before it
 * forks.  The server reaps its children and reports each exit, since the
 * pool cannot wait for a process that is not its child.
 */
enum worker_fs_type {
	WORKER_FS_READY = 1, /* server -> pool: started (t0_ns .. t1_ns) */
	WORKER_FS_FORK,	     /* pool -> server: start slot's worker (+fd) */
	WORKER_FS_FORKED,    /* server -> pool: slot's worker is pid */
	WORKER_FS_EXITED,    /* server -> pool: pid ended with wait status */
	WORKER_FS_TASK,	     /* pool -> server: the first task its start-up
			      * held up, to show the startup segment with */
};

struct worker_fs_msg {
	uint32_t type;	/* enum worker_fs_type */
	uint32_t slot;	/* FORK, FORKED; TASK: the task */
	int64_t pid;	/* READY (the server's), FORKED, EXITED */
	int32_t status; /* EXITED: the wait status */
	int32_t reserved;
	int64_t t0_ns, t1_ns; /* READY */
};

#endif
