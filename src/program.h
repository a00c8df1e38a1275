/*
 * program: the tasks a run executes, as small programs of steps, and the
 * shared objects (locks, semaphores, queues, counters, barriers, events,
 * rate limiters) their synchronisation steps name.
 *
 * A workload (workload.h) turns a spec into a program; a model (model.h)
 * executes it.  Programs are plain arrays with no pointers into themselves
 * except string labels, so tasks that share a step list (100,000 identical
 * fetches) share one range of steps.
 */
#ifndef OVERLAP_PROGRAM_H
#define OVERLAP_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

enum step_kind {
	STEP_CPU,	 /* ns = target duration, n = iterations (0: from ns) */
	STEP_SLEEP,	 /* ns */
	STEP_NET,	 /* ns = the peer's delay; aux = payload bytes */
	STEP_DISK,	 /* n = bytes; aux = 0 read, 1 write+fsync; object =
			   * file index */
	STEP_LOCK,	 /* object = lock */
	STEP_UNLOCK,	 /* object = lock */
	STEP_ACQUIRE,	 /* object = semaphore */
	STEP_RELEASE,	 /* object = semaphore */
	STEP_PUT,	 /* object = queue; n = item value (-1 = poison pill) */
	STEP_GET,	 /* object = queue */
	STEP_INCR,	 /* object = counter; n = increments; flags
			   * STEP_F_AWAIT: an await (sleep(0)) between the
			   * read and the write of every increment;
			   * STEP_F_CALL: a Python function call there */
	STEP_BARRIER,	 /* object = barrier */
	STEP_EVENT_SET,	 /* object = event */
	STEP_EVENT_WAIT, /* object = event */
	STEP_REQUEST,	 /* scraper request: ns = latency, object = limiter,
			   * aux = index into program.requests */
	STEP_CONSUME,	 /* get from queue object until the poison pill;
			   * each item's work is steps[n] (a cpu step
			   * outside every task's range; -1 = none); aux =
			   * queue to forward each item to (+1; 0 = none) */
	STEP_CLOSE,	 /* a producer is done with queue object: the last
			   * of the queue's closers puts n poison pills */
	STEP_CPU_NOGIL,	 /* ns, n as STEP_CPU; computes with the GIL
			   * released, as a C extension (NumPy) does */
	STEP_BLOCK,	 /* ns: a blocking sleep (time.sleep); inside a
			   * coroutine it blocks the event loop */
	STEP_COND_WAIT,	 /* object = condition: with c: c.wait() */
	STEP_COND_NOTIFY, /* object = condition; n = how many to wake,
			   * 0: all (notify_all) */
	STEP_TIMER,	  /* ns: threading.Timer's delay before the task
			   * runs; only a task's first step */
	STEP_FAIL,	  /* raise RuntimeError: the task ends as error */
	STEP_CANCEL,	  /* n = a task's index: task.cancel() on it */
	STEP_SEND,	  /* object = pipe; n = bytes of the message */
	STEP_RECV,	  /* object = pipe */
	STEP__COUNT
};

enum object_kind {
	OBJ_LOCK,
	OBJ_SEMAPHORE, /* count = initial value */
	OBJ_QUEUE,     /* count = capacity */
	OBJ_COUNTER,   /* count = sync: 0 none, 1 lock, 2 atomic; a
			* multiprocessing.Value: CTR_MODE_VALUE,
			* CTR_MODE_VALUE_LOCKED; a Manager's Value:
			* CTR_MODE_MANAGER; an Array of size elements:
			* CTR_MODE_ARRAY */
	OBJ_BARRIER,   /* count = parties */
	OBJ_EVENT,
	OBJ_LIMITER,   /* rate limiter: rate in count per 1000 s */
	OBJ_FILE,      /* a file in the run's temporary directory */
	OBJ_CONDITION, /* a condition variable with its own lock */
	OBJ_PIPE,      /* multiprocessing.Pipe: messages (their sizes)
			* from send to recv, count = room in messages */
	OBJ__COUNT
};

/* struct step.flags */
#define STEP_F_AWAIT 0x01u
#define STEP_F_CALL 0x02u

struct step {
	uint8_t kind;  /* enum step_kind */
	uint8_t flags; /* STEP_F_* */
	uint16_t reserved;
	uint32_t object; /* index into program.objects */
	int64_t ns;
	int64_t n;
	int64_t aux;
};

/* object_def.count of an OBJ_LOCK: a re-entrant lock (RLock), which its
 * owner may take again, and must release as often as it took it. */
#define LOCK_REENTRANT 1
/* object_def.count of an OBJ_COUNTER declared `value NAME`: a
 * multiprocessing.Value, whose `+= 1` takes its lock for the read and for
 * the write but not around both; `value NAME=get_lock`: the same inside
 * `with NAME.get_lock():`. */
#define CTR_MODE_VALUE 3
#define CTR_MODE_VALUE_LOCKED 4
/* `value NAME=manager`: a multiprocessing.Manager().Value('q', 0), whose
 * `+= 1` is two round trips to the manager's process (a get and a set),
 * not guarded between them. */
#define CTR_MODE_MANAGER 5
/* `array NAME=N`: a multiprocessing.Array('q', N), whose `NAME[i] += 1`
 * (i: the task's index modulo N) takes the array's one lock for the read
 * and for the write, not around both. */
#define CTR_MODE_ARRAY 6
/* An array's elements, at most. */
#define ARRAY_MAX_SIZE 4096

struct object_def {
	uint8_t kind; /* enum object_kind */
	int64_t count;
	int64_t size; /* a counter declared `array NAME=N`: N; else 0 */
	char name[32];
};

/* A request makes at most this many attempts (retries + 1). */
#define REQUEST_MAX_ATTEMPTS 8

/* Per-request parameters of the scraper workload (STEP_REQUEST.aux). */
struct request_def {
	int64_t timeout_ns;
	int32_t retries;
	int32_t fail_mask;  /* bit k set: attempt k fails */
	int64_t backoff_ns; /* before retry k: backoff_ns << k */
	int64_t latency_ns[REQUEST_MAX_ATTEMPTS]; /* the peer's delay of
						   * attempt k */
};

/* struct task_def.flags */
/* A daemon thread (or a task never awaited): the run does not wait for
 * it, and it is cancelled when every other task has ended. */
#define TASK_F_DAEMON 0x01u

struct task_def {
	const char *label; /* "request", "producer": owned by the program */
	uint32_t number;   /* shown as "label number" */
	uint32_t first_step;
	uint32_t n_steps;
	uint32_t flags;	    /* TASK_F_* */
	int64_t timeout_ns; /* asyncio.timeout around the task's steps; 0:
			     * none */
};

struct program {
	struct step *steps;
	size_t n_steps;
	struct task_def *tasks;
	size_t n_tasks;
	struct object_def *objects;
	size_t n_objects;
	struct request_def *requests;
	size_t n_requests;
	char **labels; /* owned strings the tasks' labels point into */
	size_t n_labels;
};

/* Building (used by workloads and the step language).  All abort on out of
 * memory; indices are returned. */
void program_init(struct program *p);
void program_free(struct program *p);
uint32_t program_add_step(struct program *p, struct step s);
uint32_t program_add_object(struct program *p, enum object_kind kind,
			    int64_t count, const char *name);
const char *program_label(struct program *p, const char *label);
uint32_t program_add_request(struct program *p, struct request_def r);
/* Adds a task running steps [first, first+n). */
uint32_t program_add_task(struct program *p, const char *label, uint32_t number,
			  uint32_t first, uint32_t n);

/* "request 3"; returns buf. */
char *program_task_name(const struct program *p, uint32_t task, char *buf,
			size_t size);
const char *step_kind_name(enum step_kind kind);
const char *object_kind_name(enum object_kind kind);

/*
 * The step language: "3 x (cpu 20ms, net 200ms, cpu 10ms); sleep 1s" makes
 * three tasks of three steps and one task of one step.  Grammar:
 *   program := group { ';' group }
 *   group   := decl | [ daemon ] [ timeout DUR ] [ INT 'x' ]
 *              ( '(' steps ')' | steps )
 *   decl    := ( sem | semaphore | queue | barrier ) NAME '=' INT
 *            | counter NAME '=' ( none | lock | atomic )
 *            | value NAME [ '=' ( get_lock | manager ) ]
 *            | array NAME '=' INT
 *            | rlock NAME | condition NAME | pipe NAME
 *   steps   := step { ',' step }
 *   step    := cpu DUR | cpu-nogil DUR | sleep DUR | block DUR | net DUR
 *            | disk read|write BYTES
 *            | lock NAME | unlock NAME | acquire NAME | release NAME
 *            | put NAME | get NAME | incr NAME [INT] | barrier NAME
 *            | event set NAME | event wait NAME
 *            | cond wait NAME | cond notify NAME [all]
 *            | timer DUR (first in its task) | fail
 *            | cancel INT (a task of another group, by its number)
 *            | send NAME [BYTES] | recv NAME
 *   NAME    := a letter or '_', then letters, digits, '_' or '-'
 *   BYTES   := INT [ B | KB | MB | GB | KiB | MiB | GiB ]
 * A name is one object of the kind its first step (or declaration) gives:
 * "sem db=2; 4 x (acquire db, net 100ms, release db)".  Declarations come
 * before the steps that use the object; without one a semaphore starts at
 * 1, a queue holds 10 items, a counter has sync none, and a barrier waits
 * for every task that has a barrier step on it.  Each disk step has its
 * own file object ("file1", ...), each task its own file of it.
 * Errors give the 1-based column and what was expected there.
 */
struct steps_error {
	int column;
	char message[160];
};
int steps_parse(const char *text, struct program *p, struct steps_error *err);

/* The step language's words for the catalog: each step and declaration,
 * its syntax, what it is in Python and the models that refuse it. */
struct step_doc {
	const char *name;   /* "cond wait" */
	const char *syntax; /* "cond wait NAME" */
	const char *help;
	const char *refused_by; /* "asyncio,asyncio-executor", or "" */
};
extern const struct step_doc program_step_docs[];
extern const size_t program_step_docs_count;

/* Whether model (by name) can run every step and object of p.  0, or
 * -EINVAL with the reason (naming the step or object and the model) in
 * msg. */
int program_check_model(const struct program *p, const char *model, char *msg,
			size_t size);

#endif
