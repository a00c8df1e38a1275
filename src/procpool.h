/*
 * procpool: a reusable pool of worker processes, the engine behind the
 * process-pool model and asyncio-executor's executor=processes.
 *
 * Each worker is a real process, forked from the run process (start =
 * fork), started fresh from the same binary as `overlap worker ...`
 * (start = spawn, posix_spawn + exec), so spawn's higher start-up cost is
 * real, or forked by a fork server (start = forkserver): a process spawned
 * once, which rebuilds the program and then forks a worker whenever the
 * pool asks (worker.h); its own start-up shows on its lane ("ForkServer"),
 * and its workers are its children, whose ends it reports.  Every worker talks to the pool over its own socketpair (a two-way
 * pipe): jobs go down, results come back, both really carrying
 * payload_bytes of argument and result.  Workers record their segments
 * straight into their own lane's ring in the recorder's shared memory;
 * the pool records submit, queued and a worker's death on the lane of the
 * thread that uses it.
 *
 * The pool never starts a thread.  All its work (reading results, noticing
 * deaths, replacing workers, dispatching queued jobs) happens inside
 * procpool_reap() or procpool_wait(), called by the one thread that owns
 * the pool.  procpool_fd() is an epoll descriptor over the workers'
 * sockets: an event loop adds it to its own epoll set and calls
 * procpool_reap() when it is readable, as libuv's loop hears from its
 * thread pool through a descriptor rather than a callback.
 *
 * spawn execs /proc/self/exe as `<exe> worker ...`, or $OVERLAP_WORKER_EXE
 * when it is set: a program that links the engine and spawns workers hands
 * a first argument "worker" to worker_main() (overlap's main does, and so
 * do the tests that spawn), or points OVERLAP_WORKER_EXE at overlap.
 *
 * Workers end when their socket reaches end of file (procpool_destroy) and
 * when the run process dies (PR_SET_PDEATHSIG).  Linux sends that signal
 * when the thread that started a worker ends, so the thread that creates
 * and reaps the pool (replacements start there) must outlive it.  A worker that dies while
 * running a job completes that job with its signal; the pool starts a
 * replacement on a new lane.  No zombies and no descriptors outlive
 * procpool_destroy().
 */
#ifndef OVERLAP_PROCPOOL_H
#define OVERLAP_PROCPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model.h"
#include "trace_rec.h"

#define PROCPOOL_MAX_WORKERS 64
/* Lanes a pool may add beyond one per worker, for replacements of workers
 * that died.  With none left, a replacement takes over its dead
 * predecessor's lane. */
#define PROCPOOL_SPARE_LANES 4
/* Most tasks in one chunk (procpool_job.n_tasks). */
#define PROCPOOL_MAX_CHUNK 1000
/* Largest argument or result a job may carry across its pipe. */
#define PROCPOOL_MAX_PAYLOAD_BYTES (64LL * 1024 * 1024)

enum procpool_start { PROCPOOL_FORK, PROCPOOL_SPAWN, PROCPOOL_FORKSERVER };

/* "fork" / "spawn" / "forkserver"; parse returns -1 for anything else. */
const char *procpool_start_name(enum procpool_start s);
int procpool_start_parse(const char *name);

struct procpool_config {
	/* Borrowed; must outlive the pool.  The pool reads prog, spec, rec,
	 * cpu, peer_port, deadline_ns, tmpdir, sync, and watches stop
	 * (passing it on to the workers); it bumps progress as jobs finish. */
	struct run_ctx *run;
	/* The lane of the thread that owns the pool (submits and reaps):
	 * submit, queued and deaths are recorded on it.  Borrowed. */
	const struct rec_lane *lane;
	uint32_t workers; /* 1..PROCPOOL_MAX_WORKERS */
	enum procpool_start start;
	/* Lane names are "<lane_prefix>-N" ("ForkProcess-1", as Python
	 * names them); NULL: "ForkProcess", "SpawnProcess" or
	 * "ForkServerProcess". */
	const char *lane_prefix;
};

/* Job flags: what the pool records on the owner's lane. */
enum procpool_job_flags {
	PROCPOOL_REC_SUBMIT = 1u << 0, /* EV_TASK_SUBMIT at submit */
	PROCPOOL_REC_QUEUED = 1u << 1, /* queued from submit to dispatch */
};

/* One unit of work for a worker.
 *
 * n_steps == 0: the whole task.  The worker records the task's start, an
 * ipc segment while it receives the argument, every step, an ipc segment
 * while it sends the result, and the end with its status; a death records
 * the end (error, the signal) on the owner's lane.
 *
 * n_steps > 0: steps [first_step, first_step + n_steps) of the program
 * (indices into prog->steps), run as task's: one of the task's own, or one
 * that belongs to no task (a consumer's work on each item).  The worker
 * records the ipc and the steps' segments only; the task's start and end
 * belong to the caller (an event loop that hands a task's cpu steps to the
 * pool).
 *
 * n_tasks > 1 (whole tasks only): a chunk, as Executor.map(...,
 * chunksize=n_tasks) sends: tasks task .. task + n_tasks - 1 go to one
 * worker as one argument (payload_bytes each, together) and come back as
 * one result.  The worker records the argument's ipc on the chunk's first
 * task, runs the tasks one after another, the result's ipc on the last,
 * and every task's end once the result is sent.  Each task completes as a
 * procpool_done of its own, all with the job's cookie. */
struct procpool_job {
	uint32_t task;
	uint32_t first_step;
	uint32_t n_steps;
	uint32_t flags;	       /* enum procpool_job_flags */
	int64_t payload_bytes; /* argument and result size, each, per task */
	uint64_t cookie;       /* returned as is in procpool_done */
	uint32_t n_tasks;      /* 0 or 1: one task; more: a chunk */
};

/* One finished task (of a job, or of a chunk). */
struct procpool_done {
	uint32_t task;
	uint64_t cookie;
	uint8_t status; /* enum task_status: ok, error, timeout, cancelled */
	int err;	/* 0, or the negative errno of the step that failed
			 * (-ETIMEDOUT, -ECANCELED, -ECHILD for a death) */
	int signal;	/* nonzero: the worker died of it during the job */
	pid_t pid;	/* the worker that ran it; 0: never dispatched */
	uint32_t lane;	/* its lane; UINT32_MAX: never dispatched */
	int64_t end_ns; /* when the pool learnt of it, from the epoch */
};

struct procpool;

/* Starts cfg->workers workers and returns at once: their start-up runs
 * while jobs are submitted, which wait until a worker is ready.  NULL on
 * failure with a reason in err (which may be NULL).  When only some
 * workers could start (no lane or no process left), the pool runs with
 * those, procpool_workers() says how many, and err says why. */
struct procpool *procpool_create(const struct procpool_config *cfg, char *err,
				 size_t err_size);

/* Queues a job; dispatches it at once when a worker is idle (writing its
 * argument may block until the worker has read it).  Returns 0, -EINVAL for
 * a job outside the program or payload limits (a chunk's payloads
 * together count), -ECANCELED once the run
 * stopped (the job is not queued). */
int procpool_submit(struct procpool *p, const struct procpool_job *job);

/* The descriptor to wait on: readable when procpool_reap() has something
 * to do.  Owned by the pool. */
int procpool_fd(const struct procpool *p);

/* Non-blocking: handles whatever the workers sent (ready, results, deaths),
 * replaces dead workers, dispatches queued jobs to idle ones, and stores up
 * to max finished jobs in out.  Returns how many (0: none yet).  When it
 * returns max, more may be waiting: call again.  Once the run's stop is
 * raised, queued jobs complete as cancelled without running.  A pool whose
 * workers keep dying before they are ready is broken: it completes every
 * pending job as error (err -ECHILD), and once those are returned, reap
 * and submit return -ECHILD. */
ssize_t procpool_reap(struct procpool *p, struct procpool_done *out,
		      size_t max);

/* Blocking: like procpool_reap() but waits until at least one job has
 * finished, timeout_ns passed (-1: no limit), or the run stopped with
 * nothing left running.  Returns how many, 0 on timeout or when nothing is
 * pending, or a negative errno. */
ssize_t procpool_wait(struct procpool *p, struct procpool_done *out, size_t max,
		      int64_t timeout_ns);

/* 0, or -ECHILD once the pool is broken (its workers kept dying before
 * they were ready); the jobs it completed as error say no more than that. */
int procpool_error(const struct procpool *p);
/* Tasks submitted (a chunk's each) and not yet returned by reap/wait. */
uint32_t procpool_pending(const struct procpool *p);
/* Workers currently alive (started or ready). */
uint32_t procpool_workers(const struct procpool *p);
/* Workers that died and were replaced so far. */
uint32_t procpool_deaths(const struct procpool *p);
/* pid of worker slot i (0..workers-1), 0 when none is running.  With a
 * fork server, a worker just asked for is waited for (up to 5 s) until
 * the server says its pid. */
pid_t procpool_worker_pid(struct procpool *p, uint32_t i);

/* Ends the pool: closes every worker's socket (a worker that finishes its
 * job then exits at end of file), waits up to grace_ns for them, kills the
 * rest with SIGKILL, and reaps them all.  Jobs still pending are dropped
 * (procpool_pending() first to avoid that).  NULL is a no-op. */
void procpool_destroy(struct procpool *p, int64_t grace_ns);

#endif
