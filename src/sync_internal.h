/*
 * sync_internal: the shared mapping of sync's objects and the helpers the
 * files of sync share (sync.c: the mapping and the registry; sync_disk.c:
 * files; sync_block.c: the blocking half; sync_coop.c: the cooperative
 * half; sync_verdict.c: deadlock and checks).  Nothing outside them
 * includes it.
 *
 * The mapping is a header, one cache-line-aligned struct sync_obj per
 * object, one struct sync_task per task (the registry the watchdog reads),
 * then the queues' items.  It holds no pointers, only offsets, so a spawned
 * worker can map it anywhere.  Each object is one robust, process-shared
 * mutex with two condition variables; a lock is a flag (its owner) under
 * that mutex rather than the mutex itself, so that any thread or process,
 * and the loop on behalf of any task, can release it, and so the watchdog
 * can say who holds it.
 *
 * Functions with external linkage here are named sync__*, as libuv names
 * its internals uv__*.
 */
#ifndef OVERLAP_SYNC_INTERNAL_H
#define OVERLAP_SYNC_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ilist.h"
#include "sync.h"
#include "trace_rec.h"
#include "util.h"

#define NIL ILIST_NIL
/* Bytes the peer sends back for a scraper request. */
#define REQUEST_REPLY_BYTES 64
/* The interpreter's own work for one turn of `for ...: counter += 1`
 * (the loop, loading the name, the add), done before the read: about what
 * CPython 3.11 spends on it.  It makes 100,000 increments last a few
 * milliseconds, as in Python, so tasks overlap and a switch interval
 * passes inside a run; and a drop request set meanwhile is honoured at the
 * next check point.  Where that is depends on the Python (gil.h): on 3.9,
 * or with a call inside the update, it is the one between the read and the
 * write, which is why the forced switches of a GIL lose updates there; on
 * 3.10+ a bare increment has none inside, and the next is the loop's. */
#define INCR_BYTECODE_NS 40
/* A Python function call inside an increment (counter's call=yes): about
 * what CPython 3.11 adds for `f()` there (56 ns a turn against 36). */
#define INCR_CALL_NS 20

/* multiprocessing.Value('q', 0) (lock=True, its default): one turn of
 * `for ...: v.value += 1`, measured with CPython 3.11 on this 2-core
 * machine: 271 ns, against 78 ns for a RawValue and 36 for a plain int.
 * The getter and the setter are Python functions that each take and give
 * back the Value's lock, so the time falls half before the read and half
 * between the read and the write, where the other processes' writes are
 * lost and where the GIL may switch threads (a call's return).  With
 * `with v.get_lock():` around it, 544 ns a turn, nearly all of it inside
 * the lock. */
#define VALUE_INCR_NS 270
#define VALUE_LOCKED_INCR_NS 540
/* Of a Value's read (or write), the part inside its lock: the try around
 * the field's access, between the acquire's return and the release.
 * Processes updating one Value meet on that lock; each meeting is a sleep
 * and a wake-up, which is why two processes' 500,000 increments each take
 * CPython about six times as long as one process's. */
#define VALUE_HELD_NS 100

/* multiprocessing.Array('q', N) (lock=True): `a[i] += 1` measured with
 * CPython 3.11 on this machine: 1,050 ns a turn alone (its __getitem__ and
 * __setitem__ are `with self:` blocks, Python code on both sides of the
 * array's one lock), and about 6.5 us a turn with two processes on two
 * elements each their own: nothing is lost, but every access still takes
 * the one lock. */
#define ARRAY_INCR_NS 1050
#define ARRAY_HELD_NS 450

/* A Manager().Value's `v.value += 1` (a get and a set, each a round trip
 * over a socket to the manager's process), 2,000 of them per task, measured
 * with CPython 3.11 on this machine (overlap run --engine cpython) under a
 * process pool: 48-120 us a turn alone, 94-170 us each with two clients,
 * about 140 us each with three, under threads alike.  The manager serves one
 * request at a time, about 21 us each (its wake-up, unpickling, its
 * thread's Python, the reply); the client's own part of a round trip is
 * the rest of the lone turn's half. */
#define MANAGER_CLIENT_NS 8000
#define MANAGER_SERVER_NS 21000

/* A multiprocessing.Pipe's send and recv, measured with CPython 3.11 on
 * this 2-core machine between two processes: conn.send() of a small
 * object 4.2 us, and 0.33 ns more a byte (1 MiB: 338 us: pickling and
 * the write); conn.recv() of a message already there 3.5 us, and 1.0 ns
 * a byte (1 MiB: 1.03 ms: the read and unpickling). */
#define PIPE_SEND_NS 4200
/* A pipe's buffer (Linux's default): a larger message is written only as
 * the other end reads it. */
#define PIPE_BUFFER_BYTES 65536
#define PIPE_SEND_NS_PER_BYTE 0.33
#define PIPE_RECV_NS 3500
#define PIPE_RECV_NS_PER_BYTE 1.0

/* object_def.count of a counter.  CTR_VALUE and CTR_VALUE_LOCKED are a
 * multiprocessing.Value (the `value` declaration): updated as CTR_NONE
 * and CTR_LOCK are, at a Value's cost; CTR_ARRAY as CTR_VALUE, an element
 * per task; CTR_MANAGER by round trips to the manager (b_incr_manager). */
enum counter_mode {
	CTR_NONE,
	CTR_LOCK,
	CTR_ATOMIC,
	CTR_VALUE = CTR_MODE_VALUE,
	CTR_VALUE_LOCKED = CTR_MODE_VALUE_LOCKED,
	CTR_MANAGER = CTR_MODE_MANAGER,
	CTR_ARRAY = CTR_MODE_ARRAY
};

/* Of one access (the read or the write) of a Value or an Array, the work
 * done holding its lock; 0 for the other counters. */
static inline int64_t incr_held_ns(enum counter_mode mode)
{
	return mode == CTR_VALUE   ? VALUE_HELD_NS
	       : mode == CTR_ARRAY ? ARRAY_HELD_NS
				   : 0;
}

/* The interpreter's work of one increment: before its read, and between
 * its read and its write (where a call inside goes); a Value's or an
 * Array's work inside its lock (incr_held_ns, twice) comes on top. */
static inline void incr_costs(enum counter_mode mode, bool call_inside,
			      int64_t *before_ns, int64_t *inside_ns)
{
	int64_t held = incr_held_ns(mode);

	*before_ns = INCR_BYTECODE_NS;
	*inside_ns = call_inside ? INCR_CALL_NS : 0;
	if (mode == CTR_VALUE || mode == CTR_ARRAY) {
		int64_t turn = mode == CTR_VALUE ? VALUE_INCR_NS
						 : ARRAY_INCR_NS;

		*before_ns = turn / 2 - held;
		*inside_ns += turn / 2 - held;
	} else if (mode == CTR_VALUE_LOCKED) {
		*inside_ns += VALUE_LOCKED_INCR_NS - INCR_BYTECODE_NS;
	}
}

enum task_state { TS_IDLE, TS_RUNNING, TS_BLOCKED, TS_ENDED };

/* What a blocked task waits for. */
enum wait_op {
	OP_NONE,
	OP_LOCK,
	OP_SEM,
	OP_GET,
	OP_PUT,
	OP_BARRIER,
	OP_EVENT,
	OP_COND /* a condition's wait for a notify */
};

/* One object.  Fixed fields are written once by sync_create(); the rest
 * are protected by mutex, except the counter's value (atomic, the point of
 * sync=none) and the cooperative wait lists (the loop thread only). */
struct sync_obj {
	pthread_mutex_t mutex;
	pthread_cond_t cond_a; /* lock free, permit, item, round, set */
	pthread_cond_t cond_b; /* queue: room */

	/* fixed */
	uint8_t kind; /* enum object_kind */
	int64_t count;
	uint64_t items_off;  /* queue: offset of its items in the mapping;
			      * array: of its elements */
	int64_t size;	     /* array: its elements; else 0 */
	int64_t interval_ns; /* limiter: 1/rate; 0: no limit */

	/* protected by mutex */
	int64_t value; /* lock: owner task + 1; semaphore: permits; queue:
			  * length; barrier: arrived; event: set;
			  * condition: tasks waiting */
	int64_t depth; /* rlock: times its owner took it, less one */
	/* condition: waits begun and waits notified; a wait is the ticket
	 * taken when it began, and ends once released passes it (FIFO, as
	 * Condition's deque of waiters) */
	uint64_t tickets, released;
	int64_t head;	 /* queue: index of the oldest item */
	uint64_t round;	 /* barrier: rounds completed */
	int64_t next_ns; /* limiter: earliest next grant, epoch ns */
	int64_t closers; /* queue: STEP_CLOSE still to come */
	uint32_t sleepers_a, sleepers_b; /* threads in a cond wait */

	/* the loop thread only: FIFO wait lists through sync_task.next;
	 * [0] lock, permit, item, barrier and event waiters; [1] putters */
	struct ilist coop[2];

	_Atomic int64_t counter;   /* counter: the value */
	_Atomic int64_t attempted; /* counter: increments done */
};

/* One task in the registry.  state/op/object are written by the task
 * (wherever it runs) and read by the watchdog; the rest belongs to the
 * event loop's thread. */
struct sync_task {
	_Atomic uint8_t state;	 /* enum task_state */
	_Atomic uint8_t op;	 /* enum wait_op, while TS_BLOCKED */
	_Atomic uint32_t object; /* while TS_BLOCKED */

	/* cooperative steps */
	uint32_t next;	 /* next on the same wait list, NIL: last */
	uint8_t phase;	 /* where the current step is; 0: not started */
	uint8_t parked;	 /* on list 1 + this - 1; 0: on none */
	uint8_t granted; /* handed its object while parked */
	uint8_t waiting; /* a timed wait (rate) is open */
	uint16_t attempt;
	int64_t t0_ns; /* the open wait's (or computation's) start */
	int64_t item;  /* the item put or got; a request's io start */
	int64_t left;  /* increments or pills still to do */
};

struct sync_shared {
	uint64_t magic;
	uint64_t size;
	uint32_t n_objects;
	uint32_t n_tasks;
	uint64_t objects_off, tasks_off;

	/* the registry's totals; every change bumps generation */
	_Atomic uint64_t generation;
	_Atomic int64_t begun;	 /* sync_task_begin calls */
	_Atomic int64_t running; /* begun and not ended */
	_Atomic int64_t blocked; /* of those, waiting on an object */

	_Atomic int64_t queued_items; /* items in all queues */
	_Atomic int64_t produced, consumed, transformed;
	_Atomic int64_t succeeded, failed, retries, in_flight, max_in_flight;
	_Atomic int64_t disk_files, disk_bytes;
	_Atomic int loop_incr; /* an increment ran on the event loop */
};

/* A process's handle on the mapping. */
struct sync_rt {
	struct sync_shared *sh;
	struct sync_obj *objs;
	struct sync_task *tasks;
	char *base;
	size_t size;
	int fd;
	const struct program *prog;
	int64_t epoch_ns;
	char tmpdir[256];
	bool own_tmpdir; /* sync_create made it; sync_destroy removes it */
	bool creator;	 /* the run process: removes files on destroy */

	/* the watchdog's memory (the run process, one thread) */
	uint64_t wd_generation;
	int64_t wd_progress;
	int64_t wd_since_ns;
};

/* ---- small helpers ------------------------------------------------------ */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

static inline size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static inline struct timespec abs_timespec(int64_t mono_ns)
{
	struct timespec ts = {.tv_sec = mono_ns / NS_PER_S,
			      .tv_nsec = mono_ns % NS_PER_S};
	return ts;
}

/* A worker that died holding an object's mutex leaves it consistent:
 * every critical section here is a few stores that leave the object
 * valid, so the next owner just marks it consistent. */
static inline void obj_lock(struct sync_obj *o)
{
	if (pthread_mutex_lock(&o->mutex) == EOWNERDEAD)
		pthread_mutex_consistent(&o->mutex);
}

static inline void obj_unlock(struct sync_obj *o)
{
	pthread_mutex_unlock(&o->mutex);
}

static inline int64_t *queue_items(struct sync_rt *rt, struct sync_obj *o)
{
	return (int64_t *)(void *)(rt->base + o->items_off);
}

static inline _Atomic int64_t *counter_cells(struct sync_rt *rt,
					     struct sync_obj *o)
{
	return (_Atomic int64_t *)(void *)(rt->base + o->items_off);
}

/* Where task's increments of counter o go: an array's element
 * task % size, else the counter itself. */
static inline _Atomic int64_t *counter_cell(struct sync_rt *rt,
					    struct sync_obj *o, uint32_t task)
{
	if (o->size > 0)
		return &counter_cells(rt, o)[task % (uint64_t)o->size];
	return &o->counter;
}

static inline void changed(struct sync_rt *rt)
{
	atomic_fetch_add_explicit(&rt->sh->generation, 1, memory_order_relaxed);
}

static inline bool run_stopped(const struct run_ctx *run)
{
	return atomic_load_explicit(&run->stop, memory_order_relaxed) != 0;
}

static inline void max_update(_Atomic int64_t *max, int64_t v)
{
	int64_t cur = atomic_load_explicit(max, memory_order_relaxed);

	while (v > cur && !atomic_compare_exchange_weak_explicit(
				  max, &cur, v, memory_order_relaxed,
				  memory_order_relaxed))
		;
}

static inline void stat_add(_Atomic int64_t *v, int64_t d)
{
	atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

static inline enum seg_state op_state(enum wait_op op)
{
	switch (op) {
	case OP_LOCK:
		return ST_LOCK_WAIT;
	case OP_SEM:
		return ST_SEM_WAIT;
	case OP_GET:
	case OP_PUT:
		return ST_QUEUE_WAIT;
	case OP_BARRIER:
		return ST_BARRIER_WAIT;
	case OP_EVENT:
	case OP_COND: /* noted with the condition's name */
		return ST_EVENT_WAIT;
	default:
		return ST_LOCK_WAIT;
	}
}

/* The object a step names, when it is of the kind wanted; NULL if not. */
static inline struct sync_obj *object_of(struct sync_rt *rt, uint32_t index,
					 enum object_kind kind)
{
	if (!rt || index >= rt->sh->n_objects ||
	    rt->objs[index].kind != (uint8_t)kind)
		return NULL;
	return &rt->objs[index];
}

/* Queue depth over time: the items in all queues together. */
static inline void depth_sample(const struct rec_lane *lane, int64_t t,
				int64_t depth)
{
	rec_counter(lane, CTR_QUEUE_DEPTH, t, depth);
}

/* The object kind each step needs. */
static inline int step_object_kind(enum step_kind kind)
{
	switch (kind) {
	case STEP_LOCK:
	case STEP_UNLOCK:
		return OBJ_LOCK;
	case STEP_ACQUIRE:
	case STEP_RELEASE:
		return OBJ_SEMAPHORE;
	case STEP_PUT:
	case STEP_GET:
	case STEP_CONSUME:
	case STEP_CLOSE:
		return OBJ_QUEUE;
	case STEP_INCR:
		return OBJ_COUNTER;
	case STEP_BARRIER:
		return OBJ_BARRIER;
	case STEP_EVENT_SET:
	case STEP_EVENT_WAIT:
		return OBJ_EVENT;
	case STEP_COND_WAIT:
	case STEP_COND_NOTIFY:
		return OBJ_CONDITION;
	case STEP_SEND:
	case STEP_RECV:
		return OBJ_PIPE;
	default:
		return -1; /* request (limiter optional), disk */
	}
}

/* ---- the registry (sync.c) ---------------------------------------------- */

static inline void reg_block(struct sync_rt *rt, uint32_t task, uint32_t obj,
			     enum wait_op op)
{
	struct sync_task *t = &rt->tasks[task];

	atomic_store(&t->object, obj);
	atomic_store(&t->op, (uint8_t)op);
	atomic_store(&t->state, TS_BLOCKED);
	atomic_fetch_add(&rt->sh->blocked, 1);
	changed(rt);
}

static inline void reg_unblock(struct sync_rt *rt, uint32_t task)
{
	struct sync_task *t = &rt->tasks[task];
	uint8_t blocked = TS_BLOCKED;

	if (atomic_compare_exchange_strong(&t->state, &blocked, TS_RUNNING))
		atomic_fetch_sub(&rt->sh->blocked, 1);
	changed(rt);
}

/* ---- files (sync_disk.c) ------------------------------------------------ */

static inline bool valid_disk_step(const struct sync_rt *rt,
				   const struct step *s)
{
	return s->kind == STEP_DISK && s->object < rt->sh->n_objects &&
	       rt->objs[s->object].kind == OBJ_FILE;
}

/* "<tmpdir>/<object name>.<task>": the file of task's disk step on obj. */
int sync__file_path(const struct sync_rt *rt, uint32_t obj, uint32_t task,
		    char *buf, size_t size);
/* Writes / reads bytes of the file at path.  0 or a negative errno. */
int sync__disk_write(const char *path, int64_t bytes);
int sync__disk_read(const char *path, int64_t bytes);
/* Writes the files that tasks will read; a message on failure. */
int sync__files_prepare(struct sync_rt *rt, char *msg, size_t msg_size);
/* Removes every file the program's tasks use, and the directory when
 * sync_create made it. */
void sync__files_remove(struct sync_rt *rt);
bool sync__program_has_files(const struct program *p);

#endif
