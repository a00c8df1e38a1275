/*
 * sync: shared objects in one shared mapping, waited on with blocking
 * pthread calls (threads, processes) or cooperatively (the event loop).
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
 * The unprotected increment (counter sync=none) is a real read-modify-
 * write: an atomic load, a switch point, an atomic store, each relaxed.
 * Two tasks that interleave there lose updates exactly as `counter += 1`
 * does in Python, yet there is no data race in C's sense, so TSan has
 * nothing to suppress.  The switch point is a GIL check under a GIL (the
 * forced switch CPython's eval loop may make between the load and the
 * store), a short spin without one (parallel threads or processes), and a
 * sleep(0) (or await asyncio.sleep(0)) when the step asks for an await
 * inside.
 *
 * The cooperative half hands objects over: whoever frees an object gives it
 * straight to the first task parked on it (FIFO), completing that task's
 * operation, and calls the loop's wake callback.  A woken task never
 * retries, so nobody is woken in vain and nobody overtakes.
 */
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "peer.h"
#include "trace.h"
#include "util.h"

#define SYNC_MAGIC 0x636e79732d6c766fULL /* "ovl-sync" */
#define NIL UINT32_MAX
/* Bytes the peer sends back for a scraper request. */
#define REQUEST_REPLY_BYTES 64
#define DISK_CHUNK_BYTES (64 * 1024)
/* Spins between the read and the write of an unprotected increment
 * without a GIL: a few dozen nanoseconds in which another core's write (or
 * a preemption) gets lost, as it would between Python's LOAD and STORE;
 * short, because a sequential run pays for it too. */
#define RACE_WINDOW_SPINS 2
/* The interpreter's own work for one turn of `for ...: counter += 1`
 * (the loop, loading the name, the add), done before the read: about what
 * CPython 3.11 spends on it.  It makes 100,000 increments last a few
 * milliseconds, as in Python, so tasks overlap and a switch interval
 * passes inside a run; and a drop request set meanwhile is honoured at the
 * next check point, the one between the read and the write, which is why
 * the forced switches of a GIL lose updates. */
#define INCR_BYTECODE_NS 40
/* An increment loop looks at the stop flag this often. */
#define INCR_STOP_MASK 1023
/* Groups of (object, operation) a deadlock message lists at most. */
#define MESSAGE_MAX_GROUPS 16

enum counter_mode { CTR_NONE, CTR_LOCK, CTR_ATOMIC };

enum task_state { TS_IDLE, TS_RUNNING, TS_BLOCKED, TS_ENDED };

/* What a blocked task waits for. */
enum wait_op { OP_NONE, OP_LOCK, OP_SEM, OP_GET, OP_PUT, OP_BARRIER, OP_EVENT };

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
	uint64_t items_off;  /* queue: offset of its items in the mapping */
	int64_t interval_ns; /* limiter: 1/rate; 0: no limit */

	/* protected by mutex */
	int64_t value;	 /* lock: owner task + 1; semaphore: permits; queue:
			  * length; barrier: arrived; event: set */
	int64_t head;	 /* queue: index of the oldest item */
	uint64_t round;	 /* barrier: rounds completed */
	int64_t next_ns; /* limiter: earliest next grant, epoch ns */
	int64_t closers; /* queue: STEP_CLOSE still to come */
	uint32_t sleepers_a, sleepers_b; /* threads in a cond wait */

	/* the loop thread only: FIFO wait lists through sync_task.next;
	 * [0] lock, permit, item, barrier and event waiters; [1] putters */
	uint32_t coop_head[2], coop_tail[2];

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

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static struct timespec abs_timespec(int64_t mono_ns)
{
	struct timespec ts = {.tv_sec = mono_ns / NS_PER_S,
			      .tv_nsec = mono_ns % NS_PER_S};
	return ts;
}

/* A worker that died holding an object's mutex leaves it consistent:
 * every critical section here is a few stores that leave the object
 * valid, so the next owner just marks it consistent. */
static void obj_lock(struct sync_obj *o)
{
	if (pthread_mutex_lock(&o->mutex) == EOWNERDEAD)
		pthread_mutex_consistent(&o->mutex);
}

static void obj_unlock(struct sync_obj *o)
{
	pthread_mutex_unlock(&o->mutex);
}

static int64_t *queue_items(struct sync_rt *rt, struct sync_obj *o)
{
	return (int64_t *)(void *)(rt->base + o->items_off);
}

static void changed(struct sync_rt *rt)
{
	atomic_fetch_add_explicit(&rt->sh->generation, 1, memory_order_relaxed);
}

static bool run_stopped(const struct run_ctx *run)
{
	return atomic_load_explicit(&run->stop, memory_order_relaxed) != 0;
}

static void max_update(_Atomic int64_t *max, int64_t v)
{
	int64_t cur = atomic_load_explicit(max, memory_order_relaxed);

	while (v > cur &&
	       !atomic_compare_exchange_weak_explicit(
		   max, &cur, v, memory_order_relaxed, memory_order_relaxed))
		;
}

static void stat_add(_Atomic int64_t *v, int64_t d)
{
	atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

static enum seg_state op_state(enum wait_op op)
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
		return ST_EVENT_WAIT;
	default:
		return ST_LOCK_WAIT;
	}
}

/* The object a step names, when it is of the kind wanted; NULL if not. */
static struct sync_obj *object_of(struct sync_rt *rt, uint32_t index,
				  enum object_kind kind)
{
	if (!rt || index >= rt->sh->n_objects ||
	    rt->objs[index].kind != (uint8_t)kind)
		return NULL;
	return &rt->objs[index];
}

/* ---- the registry ------------------------------------------------------- */

void sync_task_begin(struct sync_rt *rt, uint32_t task)
{
	if (!rt || task >= rt->sh->n_tasks)
		return;
	atomic_store(&rt->tasks[task].state, TS_RUNNING);
	atomic_fetch_add(&rt->sh->running, 1);
	atomic_fetch_add(&rt->sh->begun, 1);
	changed(rt);
}

void sync_task_end(struct sync_rt *rt, uint32_t task)
{
	uint8_t st;

	if (!rt || task >= rt->sh->n_tasks)
		return;
	st = atomic_exchange(&rt->tasks[task].state, TS_ENDED);
	if (st == TS_BLOCKED)
		atomic_fetch_sub(&rt->sh->blocked, 1);
	if (st == TS_RUNNING || st == TS_BLOCKED)
		atomic_fetch_sub(&rt->sh->running, 1);
	changed(rt);
}

static void reg_block(struct sync_rt *rt, uint32_t task, uint32_t obj,
		      enum wait_op op)
{
	struct sync_task *t = &rt->tasks[task];

	atomic_store(&t->object, obj);
	atomic_store(&t->op, (uint8_t)op);
	atomic_store(&t->state, TS_BLOCKED);
	atomic_fetch_add(&rt->sh->blocked, 1);
	changed(rt);
}

static void reg_unblock(struct sync_rt *rt, uint32_t task)
{
	struct sync_task *t = &rt->tasks[task];
	uint8_t blocked = TS_BLOCKED;

	if (atomic_compare_exchange_strong(&t->state, &blocked, TS_RUNNING))
		atomic_fetch_sub(&rt->sh->blocked, 1);
	changed(rt);
}

/* ---- files -------------------------------------------------------------- */

/* A task's file of a disk step: "<tmpdir>/<object name>.<task>", so tasks
 * that share a step never share a file. */
static int file_path(const struct sync_rt *rt, uint32_t obj, uint32_t task,
		     char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s.%u", rt->tmpdir,
			 rt->prog->objects[obj].name, task);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool valid_disk_step(const struct sync_rt *rt, const struct step *s)
{
	return s->kind == STEP_DISK && s->object < rt->sh->n_objects &&
	       rt->objs[s->object].kind == OBJ_FILE;
}

static int disk_write(const char *path, int64_t bytes)
{
	char *buf = malloc(DISK_CHUNK_BYTES);
	int fd, err = 0;
	int64_t done = 0;

	if (!buf)
		return -ENOMEM;
	memset(buf, 'o', DISK_CHUNK_BYTES);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out_free;
	}
	while (done < bytes) {
		size_t n = bytes - done < DISK_CHUNK_BYTES
			       ? (size_t)(bytes - done)
			       : DISK_CHUNK_BYTES;
		ssize_t w = write(fd, buf, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out_close;
		}
		done += w;
	}
	if (fsync(fd) < 0)
		err = -errno;
out_close:
	close(fd);
out_free:
	free(buf);
	return err;
}

static int disk_read(const char *path, int64_t bytes)
{
	char *buf = malloc(DISK_CHUNK_BYTES);
	int fd, err = 0;
	int64_t done = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out_free;
	}
	while (done < bytes) {
		ssize_t r = read(fd, buf, DISK_CHUNK_BYTES);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		done += r;
	}
	close(fd);
out_free:
	free(buf);
	return err;
}

/* Writes the files that tasks will read, and asks the kernel to drop them
 * from the page cache, so a read step reads the disk (as far as the kernel
 * lets an unprivileged process ask). */
static int files_prepare(struct sync_rt *rt, char *msg, size_t msg_size)
{
	const struct program *p = rt->prog;
	char path[512];

	for (uint32_t t = 0; t < p->n_tasks; t++) {
		const struct task_def *td = &p->tasks[t];

		for (uint32_t i = 0; i < td->n_steps; i++) {
			const struct step *s = &p->steps[td->first_step + i];
			int err, fd;

			if (!valid_disk_step(rt, s) || s->aux != 0)
				continue;
			err = file_path(rt, s->object, t, path, sizeof(path));
			if (err == 0)
				err = disk_write(path, s->n);
			if (err < 0) {
				snprintf(msg, msg_size,
					 "files: cannot prepare %.160s for "
					 "reading: %s",
					 path, strerror(-err));
				return err;
			}
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
				close(fd);
			}
		}
	}
	return 0;
}

static void files_remove(struct sync_rt *rt)
{
	const struct program *p = rt->prog;
	char path[512];

	if (rt->tmpdir[0] == '\0')
		return;
	for (uint32_t t = 0; t < p->n_tasks; t++) {
		const struct task_def *td = &p->tasks[t];

		for (uint32_t i = 0; i < td->n_steps; i++) {
			const struct step *s = &p->steps[td->first_step + i];

			if (valid_disk_step(rt, s) &&
			    file_path(rt, s->object, t, path, sizeof(path)) ==
				0)
				unlink(path);
		}
	}
	if (rt->own_tmpdir)
		rmdir(rt->tmpdir);
}

static bool program_has_files(const struct program *p)
{
	for (size_t i = 0; i < p->n_objects; i++)
		if (p->objects[i].kind == OBJ_FILE)
			return true;
	return false;
}

/* ---- life --------------------------------------------------------------- */

static size_t layout(const struct program *p, size_t *objects_off,
		     size_t *tasks_off, size_t *items_off)
{
	size_t off = align64(sizeof(struct sync_shared));

	*objects_off = off;
	off += align64(p->n_objects * sizeof(struct sync_obj));
	*tasks_off = off;
	off += align64(p->n_tasks * sizeof(struct sync_task));
	*items_off = off;
	for (size_t i = 0; i < p->n_objects; i++)
		if (p->objects[i].kind == OBJ_QUEUE)
			off += (size_t)(p->objects[i].count > 0
					    ? p->objects[i].count
					    : 1) *
			       sizeof(int64_t);
	return align64(off);
}

static int obj_init(struct sync_obj *o)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	int err;

	err = pthread_mutexattr_init(&ma);
	if (err)
		return -err;
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	err = pthread_mutex_init(&o->mutex, &ma);
	pthread_mutexattr_destroy(&ma);
	if (err)
		return -err;
	err = pthread_condattr_init(&ca);
	if (err)
		return -err;
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&o->cond_a, &ca);
	if (!err)
		err = pthread_cond_init(&o->cond_b, &ca);
	pthread_condattr_destroy(&ca);
	return -err;
}

static void objects_init(struct sync_rt *rt, size_t items_off)
{
	const struct program *p = rt->prog;

	for (uint32_t i = 0; i < p->n_objects; i++) {
		const struct object_def *d = &p->objects[i];
		struct sync_obj *o = &rt->objs[i];

		o->kind = d->kind;
		o->count = d->count;
		o->coop_head[0] = o->coop_head[1] = NIL;
		o->coop_tail[0] = o->coop_tail[1] = NIL;
		atomic_init(&o->counter, 0);
		atomic_init(&o->attempted, 0);
		switch ((enum object_kind)d->kind) {
		case OBJ_SEMAPHORE:
			o->value = d->count;
			break;
		case OBJ_QUEUE:
			if (o->count < 1)
				o->count = 1;
			o->items_off = items_off;
			items_off += (size_t)o->count * sizeof(int64_t);
			break;
		case OBJ_BARRIER:
			if (o->count < 1)
				o->count = 1;
			break;
		case OBJ_LIMITER:
			/* count: grants per 1000 s. */
			o->interval_ns = d->count > 0
					     ? (int64_t)(1000.0 * NS_PER_S /
							 (double)d->count)
					     : 0;
			o->next_ns = INT64_MIN;
			break;
		default:
			break;
		}
	}
	/* A queue's closers: one per task whose steps close it. */
	for (uint32_t t = 0; t < p->n_tasks; t++) {
		const struct task_def *td = &p->tasks[t];

		for (uint32_t i = 0; i < td->n_steps; i++) {
			const struct step *s = &p->steps[td->first_step + i];

			if (s->kind == STEP_CLOSE && s->object < p->n_objects &&
			    rt->objs[s->object].kind == OBJ_QUEUE)
				rt->objs[s->object].closers++;
		}
	}
	for (uint32_t t = 0; t < p->n_tasks; t++)
		rt->tasks[t].next = NIL;
}

struct sync_rt *sync_create(struct run_ctx *ctx)
{
	const struct program *p = ctx->prog;
	size_t objects_off, tasks_off, items_off, size;
	struct sync_rt *rt;
	int err = 0;

	rt = calloc(1, sizeof(*rt));
	if (!rt) {
		err = -ENOMEM;
		snprintf(ctx->message, sizeof(ctx->message),
			 "shared objects: out of memory");
		goto out;
	}
	rt->prog = p;
	rt->creator = true;
	rt->epoch_ns = ctx->main_lane ? ctx->main_lane->epoch_ns : 0;
	size = layout(p, &objects_off, &tasks_off, &items_off);
	rt->size = size;
	rt->fd = memfd_create("overlap-sync", MFD_CLOEXEC);
	if (rt->fd < 0) {
		err = -errno;
		snprintf(ctx->message, sizeof(ctx->message),
			 "shared objects: cannot make shared memory: %s",
			 strerror(errno));
		goto out_free;
	}
	if (ftruncate(rt->fd, (off_t)size) < 0) {
		err = -errno;
		snprintf(ctx->message, sizeof(ctx->message),
			 "shared objects: cannot size %zu bytes of shared "
			 "memory: %s",
			 size, strerror(errno));
		goto out_close;
	}
	rt->base =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, rt->fd, 0);
	if (rt->base == MAP_FAILED) {
		err = -errno;
		snprintf(ctx->message, sizeof(ctx->message),
			 "shared objects: cannot map shared memory: %s",
			 strerror(errno));
		goto out_close;
	}
	rt->sh = (struct sync_shared *)(void *)rt->base;
	rt->objs = (struct sync_obj *)(void *)(rt->base + objects_off);
	rt->tasks = (struct sync_task *)(void *)(rt->base + tasks_off);
	rt->sh->magic = SYNC_MAGIC;
	rt->sh->size = size;
	rt->sh->n_objects = (uint32_t)p->n_objects;
	rt->sh->n_tasks = (uint32_t)p->n_tasks;
	rt->sh->objects_off = objects_off;
	rt->sh->tasks_off = tasks_off;
	for (size_t i = 0; i < p->n_objects; i++) {
		err = obj_init(&rt->objs[i]);
		if (err < 0) {
			snprintf(ctx->message, sizeof(ctx->message),
				 "shared objects: cannot make a "
				 "process-shared mutex: %s",
				 strerror(-err));
			goto out_unmap;
		}
	}
	objects_init(rt, items_off);

	if (program_has_files(p)) {
		if (ctx->tmpdir[0] == '\0') {
			const char *base = getenv("TMPDIR");
			char tmpl[256];

			snprintf(tmpl, sizeof(tmpl), "%s/overlap-XXXXXX",
				 base && base[0] ? base : "/tmp");
			if (!mkdtemp(tmpl)) {
				err = -errno;
				snprintf(ctx->message, sizeof(ctx->message),
					 "files: cannot make a temporary "
					 "directory in %s: %s",
					 base && base[0] ? base : "/tmp",
					 strerror(errno));
				goto out_unmap;
			}
			util_strlcpy(ctx->tmpdir, tmpl, sizeof(ctx->tmpdir));
			rt->own_tmpdir = true;
		}
		util_strlcpy(rt->tmpdir, ctx->tmpdir, sizeof(rt->tmpdir));
		err = files_prepare(rt, ctx->message, sizeof(ctx->message));
		if (err < 0) {
			files_remove(rt);
			goto out_unmap;
		}
	}
	return rt;

out_unmap:
	munmap(rt->base, size);
out_close:
	close(rt->fd);
out_free:
	free(rt);
out:
	errno = -err;
	return NULL;
}

void sync_destroy(struct sync_rt *rt)
{
	if (!rt)
		return;
	if (rt->creator)
		files_remove(rt);
	munmap(rt->base, rt->size);
	if (rt->fd >= 0)
		close(rt->fd);
	free(rt);
}

int sync_fd(const struct sync_rt *rt)
{
	return rt->fd;
}

size_t sync_map_size(const struct sync_rt *rt)
{
	return rt->size;
}

struct sync_rt *sync_map(int fd, size_t size, const struct program *prog,
			 const char *tmpdir, int64_t epoch_ns)
{
	struct sync_rt *rt = calloc(1, sizeof(*rt));
	const struct sync_shared *sh;

	if (!rt)
		return NULL;
	rt->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rt->base == MAP_FAILED) {
		int e = errno;

		free(rt);
		errno = e;
		return NULL;
	}
	sh = (const struct sync_shared *)(void *)rt->base;
	if (size < sizeof(*sh) || sh->magic != SYNC_MAGIC || sh->size != size ||
	    sh->n_objects != prog->n_objects || sh->n_tasks != prog->n_tasks) {
		munmap(rt->base, size);
		free(rt);
		errno = EINVAL;
		return NULL;
	}
	rt->sh = (struct sync_shared *)(void *)rt->base;
	rt->objs = (struct sync_obj *)(void *)(rt->base + sh->objects_off);
	rt->tasks = (struct sync_task *)(void *)(rt->base + sh->tasks_off);
	rt->size = size;
	rt->fd = -1; /* the worker's descriptor stays the worker's */
	rt->prog = prog;
	rt->epoch_ns = epoch_ns;
	util_strlcpy(rt->tmpdir, tmpdir ? tmpdir : "", sizeof(rt->tmpdir));
	return rt;
}

void sync_unmap(struct sync_rt *rt)
{
	if (!rt)
		return;
	munmap(rt->base, rt->size);
	free(rt);
}

/* ---- blocking waits ----------------------------------------------------- */

/* One blocking wait of a task on an object, from its first failed check
 * to the end.  The GIL is released when the wait begins (under the
 * object's mutex: gil_release never blocks) and taken back after the
 * object's mutex is released. */
struct bwait {
	struct exec_ctx *x;
	struct sync_rt *rt;
	uint32_t obj;
	enum seg_state state;
	enum wait_op op; /* OP_NONE: a timed wait, not a block */
	int64_t t0_ns;
	bool active;
};

static void bwait_begin(struct bwait *w)
{
	w->active = true;
	w->t0_ns = rec_now(w->x->lane);
	if (w->op != OP_NONE)
		reg_block(w->rt, w->x->task, w->obj, w->op);
	rec_open(w->x->lane, w->x->task, w->state, w->t0_ns, w->obj + 1);
	exec_gil_release(w->x);
}

/* Waits on cond for one slice, or until until_mono_ns when earlier.  The
 * object's mutex is held.  Returns 0 or -ECANCELED. */
static int bwait_slice(struct bwait *w, struct sync_obj *o,
		       pthread_cond_t *cond, uint32_t *sleepers,
		       int64_t until_mono_ns)
{
	int64_t deadline = util_mono_ns() + SYNC_SLICE_NS;
	struct timespec ts;

	if (until_mono_ns < deadline)
		deadline = until_mono_ns;
	ts = abs_timespec(deadline);
	(*sleepers)++;
	if (pthread_cond_timedwait(cond, &o->mutex, &ts) == EOWNERDEAD)
		pthread_mutex_consistent(&o->mutex);
	(*sleepers)--;
	return run_stopped(w->x->run) ? -ECANCELED : 0;
}

/* The wait is over at t1 (the object's mutex released): records it and
 * takes the GIL back. */
static void bwait_end_at(struct bwait *w, int64_t t1)
{
	if (!w->active)
		return;
	if (w->op != OP_NONE)
		reg_unblock(w->rt, w->x->task);
	rec_segment(w->x->lane, w->x->task, w->state, w->t0_ns, t1, w->obj + 1);
	exec_gil_acquire(w->x);
}

static void bwait_end(struct bwait *w)
{
	if (w->active)
		bwait_end_at(w, rec_now(w->x->lane));
}

static struct bwait bwait_make(struct exec_ctx *x, uint32_t obj,
			       enum wait_op op, enum seg_state state)
{
	struct bwait w = {
	    .x = x, .rt = x->run->sync, .obj = obj, .state = state, .op = op};
	return w;
}

/* ---- blocking steps ----------------------------------------------------- */

/* Takes a flag lock (OBJ_LOCK, or a counter with sync=lock) for x->task. */
static int b_lock(struct exec_ctx *x, uint32_t obj, struct sync_obj *o)
{
	struct bwait w = bwait_make(x, obj, OP_LOCK, ST_LOCK_WAIT);
	int rc = 0;

	obj_lock(o);
	while (o->value != 0) {
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_a, &o->sleepers_a, INT64_MAX);
		if (rc)
			break;
	}
	if (rc == 0)
		o->value = (int64_t)x->task + 1;
	obj_unlock(o);
	bwait_end(&w);
	return rc;
}

/* Releases a flag lock; -EPERM when it is not held (Python's
 * "release unlocked lock"). */
static int b_unlock(struct sync_obj *o)
{
	int rc = 0;

	obj_lock(o);
	if (o->value == 0)
		rc = -EPERM;
	o->value = 0;
	if (o->sleepers_a)
		pthread_cond_signal(&o->cond_a);
	obj_unlock(o);
	return rc;
}

static int b_acquire(struct exec_ctx *x, uint32_t obj, struct sync_obj *o)
{
	struct bwait w = bwait_make(x, obj, OP_SEM, ST_SEM_WAIT);
	int rc = 0;

	obj_lock(o);
	while (o->value <= 0) {
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_a, &o->sleepers_a, INT64_MAX);
		if (rc)
			break;
	}
	if (rc == 0)
		o->value--;
	obj_unlock(o);
	bwait_end(&w);
	return rc;
}

static void b_release(struct sync_obj *o)
{
	obj_lock(o);
	o->value++;
	if (o->sleepers_a)
		pthread_cond_signal(&o->cond_a);
	obj_unlock(o);
}

/* Queue depth over time: the items in all queues together. */
static void depth_sample(const struct rec_lane *lane, int64_t t, int64_t depth)
{
	rec_counter(lane, CTR_QUEUE_DEPTH, t, depth);
}

static int b_put(struct exec_ctx *x, uint32_t obj, struct sync_obj *o,
		 int64_t item)
{
	struct sync_rt *rt = x->run->sync;
	struct bwait w = bwait_make(x, obj, OP_PUT, ST_QUEUE_WAIT);
	int64_t depth = 0, t = 0;
	int rc = 0;

	obj_lock(o);
	while (o->value >= o->count) {
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_b, &o->sleepers_b, INT64_MAX);
		if (rc)
			break;
	}
	if (rc == 0) {
		queue_items(rt, o)[(o->head + o->value) % o->count] = item;
		o->value++;
		depth = atomic_fetch_add(&rt->sh->queued_items, 1) + 1;
		t = rec_now(x->lane);
		if (o->sleepers_a)
			pthread_cond_signal(&o->cond_a);
	}
	obj_unlock(o);
	bwait_end_at(&w, t ? t : rec_now(x->lane));
	if (rc == 0) {
		changed(rt);
		depth_sample(x->lane, t, depth);
	}
	return rc;
}

static int b_get(struct exec_ctx *x, uint32_t obj, struct sync_obj *o,
		 int64_t *item)
{
	struct sync_rt *rt = x->run->sync;
	struct bwait w = bwait_make(x, obj, OP_GET, ST_QUEUE_WAIT);
	int64_t depth = 0, t = 0;
	int rc = 0;

	obj_lock(o);
	while (o->value <= 0) {
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_a, &o->sleepers_a, INT64_MAX);
		if (rc)
			break;
	}
	if (rc == 0) {
		*item = queue_items(rt, o)[o->head];
		o->head = (o->head + 1) % o->count;
		o->value--;
		depth = atomic_fetch_sub(&rt->sh->queued_items, 1) - 1;
		t = rec_now(x->lane);
		if (o->sleepers_b)
			pthread_cond_signal(&o->cond_b);
	}
	obj_unlock(o);
	bwait_end_at(&w, t ? t : rec_now(x->lane));
	if (rc == 0) {
		changed(rt);
		depth_sample(x->lane, t, depth);
	}
	return rc;
}

static int b_barrier(struct exec_ctx *x, uint32_t obj, struct sync_obj *o)
{
	struct bwait w = bwait_make(x, obj, OP_BARRIER, ST_BARRIER_WAIT);
	uint64_t round;
	int rc = 0;

	obj_lock(o);
	round = o->round;
	if (++o->value >= o->count) {
		o->value = 0;
		o->round++;
		pthread_cond_broadcast(&o->cond_a);
	} else {
		while (o->round == round) {
			if (!w.active)
				bwait_begin(&w);
			rc = bwait_slice(&w, o, &o->cond_a, &o->sleepers_a,
					 INT64_MAX);
			if (rc)
				break;
		}
	}
	obj_unlock(o);
	bwait_end(&w);
	return rc;
}

static void b_event_set(struct sync_obj *o)
{
	obj_lock(o);
	o->value = 1;
	pthread_cond_broadcast(&o->cond_a);
	obj_unlock(o);
}

static int b_event_wait(struct exec_ctx *x, uint32_t obj, struct sync_obj *o)
{
	struct bwait w = bwait_make(x, obj, OP_EVENT, ST_EVENT_WAIT);
	int rc = 0;

	obj_lock(o);
	while (o->value == 0) {
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_a, &o->sleepers_a, INT64_MAX);
		if (rc)
			break;
	}
	obj_unlock(o);
	bwait_end(&w);
	return rc;
}

/* Waits for the rate limiter's next grant and takes it.  Grants are
 * decided under the limiter's mutex from one clock reading, and that
 * reading is the grant time *grant_ns, so successive grants are never
 * closer than the interval.  A rate-wait segment covers the wait. */
static int b_rate(struct exec_ctx *x, uint32_t obj, struct sync_obj *o,
		  int64_t *grant_ns)
{
	struct bwait w = bwait_make(x, obj, OP_NONE, ST_RATE_WAIT);
	int64_t now;
	int rc = 0;

	obj_lock(o);
	for (;;) {
		now = rec_now(x->lane);
		if (o->interval_ns == 0 || now >= o->next_ns) {
			o->next_ns = now + o->interval_ns;
			break;
		}
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_a, &o->sleepers_a,
				 x->lane->epoch_ns + o->next_ns);
		if (rc)
			break;
	}
	obj_unlock(o);
	*grant_ns = now;
	bwait_end_at(&w, now);
	return rc;
}

/* Sleeps until epoch-relative until_ns in slices, noticing a stop. */
static int b_sleep_until(struct exec_ctx *x, int64_t until_ns)
{
	for (;;) {
		int64_t now = rec_now(x->lane), step;
		struct timespec ts;

		if (run_stopped(x->run))
			return -ECANCELED;
		if (now >= until_ns)
			return 0;
		step = until_ns - now < SYNC_SLICE_NS ? until_ns - now
						      : SYNC_SLICE_NS;
		ts = abs_timespec(x->lane->epoch_ns + now + step);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

/* The GIL check point of an increment: honours a drop request, recording
 * the computation so far and the gil-wait. */
static void incr_gil_check(struct exec_ctx *x, int64_t *t_seg, uint32_t note)
{
	int64_t t;

	if (!x->gil || !gil_drop_requested(x->gil))
		return;
	t = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_COMPUTE, *t_seg, t, note);
	rec_open(x->lane, x->task, ST_GIL_WAIT, t, 0);
	gil_yield(x->gil);
	*t_seg = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_GIL_WAIT, t, *t_seg, 0);
}

/* The switch point between an increment's read and its write. */
static void incr_switch_point(struct exec_ctx *x, bool await_inside, bool spin,
			      int64_t *t_seg, uint32_t note)
{
	if (await_inside) {
		/* time.sleep(0): release the GIL, let others run, take it
		 * back. */
		if (x->gil) {
			int64_t t = rec_now(x->lane);

			rec_segment(x->lane, x->task, ST_COMPUTE, *t_seg, t,
				    note);
			exec_gil_release(x);
			sched_yield();
			exec_gil_acquire(x);
			*t_seg = rec_now(x->lane);
		} else {
			sched_yield();
		}
		return;
	}
	if (x->gil) {
		incr_gil_check(x, t_seg, note);
		return;
	}
	if (spin)
		for (int k = 0; k < RACE_WINDOW_SPINS; k++)
			cpu_relax();
}

/* A counter's lock taken inside an increment: a wait, when there is one,
 * splits the computation. */
static int incr_lock(struct exec_ctx *x, uint32_t obj, struct sync_obj *o,
		     int64_t *t_seg, uint32_t note)
{
	int rc;

	obj_lock(o);
	if (o->value == 0) {
		o->value = (int64_t)x->task + 1;
		obj_unlock(o);
		return 0;
	}
	obj_unlock(o);
	rec_segment(x->lane, x->task, ST_COMPUTE, *t_seg, rec_now(x->lane),
		    note);
	rc = b_lock(x, obj, o);
	*t_seg = rec_now(x->lane);
	return rc;
}

/* Where the increments' interpreter work leaves its result, so none of it
 * is dead code. */
static _Atomic uint64_t incr_sink;

static int b_incr(struct exec_ctx *x, const struct step *s, uint32_t obj,
		  struct sync_obj *o)
{
	enum counter_mode mode = (enum counter_mode)o->count;
	bool await_inside = s->flags & STEP_F_AWAIT;
	uint32_t note = obj + 1;
	int64_t t_seg = rec_now(x->lane), done = 0;
	uint64_t work = cpu_iters_for_ns(&x->run->cpu, INCR_BYTECODE_NS);
	uint64_t keep = 0;
	int rc = 0;

	rec_open(x->lane, x->task, ST_COMPUTE, t_seg, note);
	for (int64_t i = 0; i < s->n; i++) {
		if ((i & INCR_STOP_MASK) == 0 && run_stopped(x->run)) {
			rc = -ECANCELED;
			break;
		}
		keep ^= cpu_burn(work, (uint64_t)i);
		if (mode == CTR_ATOMIC) {
			atomic_fetch_add_explicit(&o->counter, 1,
						  memory_order_relaxed);
			if (await_inside)
				incr_switch_point(x, true, false, &t_seg, note);
		} else {
			int64_t v;

			if (mode == CTR_LOCK) {
				rc = incr_lock(x, obj, o, &t_seg, note);
				if (rc)
					break;
			}
			/* The read-modify-write of `counter += 1`. */
			v = atomic_load_explicit(&o->counter,
						 memory_order_relaxed);
			incr_switch_point(x, await_inside, mode == CTR_NONE,
					  &t_seg, note);
			atomic_store_explicit(&o->counter, v + 1,
					      memory_order_relaxed);
			if (mode == CTR_LOCK)
				b_unlock(o);
		}
		done++;
		/* The loop's own check point (a backward jump in
		 * CPython). */
		if (!await_inside)
			incr_gil_check(x, &t_seg, note);
	}
	atomic_fetch_add(&o->attempted, done);
	atomic_store_explicit(&incr_sink, keep, memory_order_relaxed);
	rec_segment(x->lane, x->task, ST_COMPUTE, t_seg, rec_now(x->lane),
		    note);
	return rc;
}

/* Gets items until the poison pill; each item's work is prog->steps[s->n],
 * then it goes on to queue s->aux - 1 when that is set. */
static int b_consume(struct exec_ctx *x, const struct step *s, uint32_t obj,
		     struct sync_obj *o)
{
	struct sync_rt *rt = x->run->sync;
	const struct program *p = x->run->prog;
	struct sync_obj *fwd = NULL;
	int rc;

	if (s->aux > 0) {
		fwd = object_of(rt, (uint32_t)(s->aux - 1), OBJ_QUEUE);
		if (!fwd)
			return -EINVAL;
	}
	for (;;) {
		int64_t item;

		rc = b_get(x, obj, o, &item);
		if (rc || item < 0)
			break;
		if (s->n >= 0 && (size_t)s->n < p->n_steps &&
		    p->steps[s->n].kind == STEP_CPU) {
			rc = exec_step(x, &p->steps[s->n]);
			if (rc)
				break;
		}
		if (fwd) {
			rc = b_put(x, (uint32_t)(s->aux - 1), fwd, item);
			if (rc)
				break;
			stat_add(&rt->sh->transformed, 1);
		} else {
			stat_add(&rt->sh->consumed, 1);
		}
		atomic_fetch_add_explicit(&x->run->progress, 1,
					  memory_order_relaxed);
	}
	return rc;
}

/* One producer is done with the queue; the last one puts s->n pills. */
static int b_close(struct exec_ctx *x, const struct step *s, uint32_t obj,
		   struct sync_obj *o)
{
	bool last;
	int rc = 0;

	obj_lock(o);
	last = --o->closers == 0;
	obj_unlock(o);
	changed(x->run->sync);
	for (int64_t k = 0; last && k < s->n && rc == 0; k++)
		rc = b_put(x, obj, o, -1);
	return rc;
}

/* A scraper request: a rate-limited attempt, cut off at the timeout,
 * retried after an exponential backoff while attempts remain. */
static int b_request(struct exec_ctx *x, const struct step *s)
{
	struct sync_rt *rt = x->run->sync;
	const struct program *p = x->run->prog;
	const struct request_def *r;
	struct sync_obj *lim = object_of(rt, s->object, OBJ_LIMITER);
	int64_t in;
	int rc = 0;

	if (s->aux < 0 || (size_t)s->aux >= p->n_requests)
		return -EINVAL;
	r = &p->requests[s->aux];
	in = atomic_fetch_add(&rt->sh->in_flight, 1) + 1;
	max_update(&rt->sh->max_in_flight, in);
	for (int attempt = 0;; attempt++) {
		int64_t t_io = rec_now(x->lane), t1, latency;
		int k = attempt < REQUEST_MAX_ATTEMPTS
			    ? attempt
			    : REQUEST_MAX_ATTEMPTS - 1;

		if (lim) {
			rc = b_rate(x, s->object, lim, &t_io);
			if (rc)
				break;
		}
		latency = r->latency_ns[k] > 0 ? r->latency_ns[k] : s->ns;
		exec_gil_release(x);
		rec_open(x->lane, x->task, ST_IO, t_io, 0);
		rc = peer_request_until(x->run->peer_port, latency,
					REQUEST_REPLY_BYTES, r->timeout_ns,
					&x->run->stop);
		t1 = rec_now(x->lane);
		rec_segment(x->lane, x->task, ST_IO, t_io, t1, 0);
		if (rc == 0 && (r->fail_mask >> k) & 1)
			rc = -EIO; /* the server answered with an error */
		if (rc == 0) {
			stat_add(&rt->sh->succeeded, 1);
		} else if (rc != -ECANCELED && attempt >= r->retries) {
			stat_add(&rt->sh->failed, 1);
		} else if (rc != -ECANCELED) {
			int64_t until = t1 + (r->backoff_ns << attempt);

			stat_add(&rt->sh->retries, 1);
			rec_open(x->lane, x->task, ST_BACKOFF, t1, 0);
			rc = b_sleep_until(x, until);
			rec_segment(x->lane, x->task, ST_BACKOFF, t1,
				    rec_now(x->lane), 0);
			exec_gil_acquire(x);
			if (rc == 0)
				continue;
		}
		exec_gil_acquire(x);
		break;
	}
	atomic_fetch_sub(&rt->sh->in_flight, 1);
	return rc;
}

static int b_disk(struct exec_ctx *x, const struct step *s)
{
	struct sync_rt *rt = x->run->sync;
	char path[512];
	int64_t t0;
	int rc;

	if (!rt || !valid_disk_step(rt, s))
		return -EINVAL;
	rc = file_path(rt, s->object, x->task, path, sizeof(path));
	if (rc < 0)
		return rc;
	exec_gil_release(x);
	t0 = rec_now(x->lane);
	rec_open(x->lane, x->task, ST_IO, t0, s->object + 1);
	rc = s->aux ? disk_write(path, s->n) : disk_read(path, s->n);
	rec_segment(x->lane, x->task, ST_IO, t0, rec_now(x->lane),
		    s->object + 1);
	exec_gil_acquire(x);
	if (rc == 0) {
		stat_add(&rt->sh->disk_files, 1);
		stat_add(&rt->sh->disk_bytes, s->n);
	}
	return rc;
}

bool sync_handles(enum step_kind kind)
{
	switch (kind) {
	case STEP_DISK:
	case STEP_LOCK:
	case STEP_UNLOCK:
	case STEP_ACQUIRE:
	case STEP_RELEASE:
	case STEP_PUT:
	case STEP_GET:
	case STEP_INCR:
	case STEP_BARRIER:
	case STEP_EVENT_SET:
	case STEP_EVENT_WAIT:
	case STEP_REQUEST:
	case STEP_CONSUME:
	case STEP_CLOSE:
		return true;
	default:
		return false;
	}
}

/* The object kind each step needs. */
static int step_object_kind(enum step_kind kind)
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
	default:
		return -1; /* request (limiter optional), disk */
	}
}

int sync_exec_step(struct exec_ctx *x, const struct step *s)
{
	struct sync_rt *rt = x->run->sync;
	enum step_kind kind = (enum step_kind)s->kind;
	int want = step_object_kind(kind);
	struct sync_obj *o = NULL;
	int64_t item;
	int rc;

	if (!sync_handles(kind))
		return -ENOTSUP;
	if (!rt)
		return -EINVAL;
	if (run_stopped(x->run))
		return -ECANCELED;
	if (want >= 0) {
		o = object_of(rt, s->object, (enum object_kind)want);
		if (!o)
			return -EINVAL;
	}
	switch (kind) {
	case STEP_LOCK:
		rc = b_lock(x, s->object, o);
		break;
	case STEP_UNLOCK:
		rc = b_unlock(o);
		break;
	case STEP_ACQUIRE:
		rc = b_acquire(x, s->object, o);
		break;
	case STEP_RELEASE:
		b_release(o);
		rc = 0;
		break;
	case STEP_PUT:
		rc = b_put(x, s->object, o, s->n);
		if (rc == 0 && s->n >= 0)
			stat_add(&rt->sh->produced, 1);
		break;
	case STEP_GET:
		rc = b_get(x, s->object, o, &item);
		if (rc == 0 && item >= 0)
			stat_add(&rt->sh->consumed, 1);
		break;
	case STEP_INCR:
		rc = b_incr(x, s, s->object, o);
		break;
	case STEP_BARRIER:
		rc = b_barrier(x, s->object, o);
		break;
	case STEP_EVENT_SET:
		b_event_set(o);
		rc = 0;
		break;
	case STEP_EVENT_WAIT:
		rc = b_event_wait(x, s->object, o);
		break;
	case STEP_REQUEST:
		rc = b_request(x, s);
		break;
	case STEP_CONSUME:
		rc = b_consume(x, s, s->object, o);
		break;
	case STEP_CLOSE:
		rc = b_close(x, s, s->object, o);
		break;
	case STEP_DISK:
		rc = b_disk(x, s);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (kind != STEP_INCR && kind != STEP_REQUEST && kind != STEP_DISK)
		changed(rt);
	return rc;
}

/* ---- cooperative steps -------------------------------------------------- */

/* Phases of the cooperative steps (sync_task.phase); 0 is "not started". */
enum coop_phase {
	CP_NEW,
	CP_PARKED,	/* simple steps: parked on the object */
	CP_INCR_RUN,	/* incr: incrementing */
	CP_INCR_LOCK,	/* incr: parked for the counter's lock */
	CP_INCR_WRITE,	/* incr: yielded between read and write */
	CP_CONS_GET,	/* consume: getting (maybe parked) */
	CP_CONS_WORK,	/* consume: the item's cpu work is running */
	CP_CONS_FWD,	/* consume: forwarding (maybe parked) */
	CP_CLOSE_PILLS, /* close: putting pills (maybe parked) */
	CP_REQ_RATE,	/* request: waiting for the limiter */
	CP_REQ_NET,	/* request: the attempt is in flight */
	CP_REQ_BACKOFF, /* request: backing off before a retry */
};

static void c_list_push(struct sync_rt *rt, struct sync_obj *o, int l,
			uint32_t task)
{
	rt->tasks[task].next = NIL;
	if (o->coop_tail[l] == NIL)
		o->coop_head[l] = task;
	else
		rt->tasks[o->coop_tail[l]].next = task;
	o->coop_tail[l] = task;
}

static uint32_t c_list_pop(struct sync_rt *rt, struct sync_obj *o, int l)
{
	uint32_t task = o->coop_head[l];

	if (task == NIL)
		return NIL;
	o->coop_head[l] = rt->tasks[task].next;
	if (o->coop_head[l] == NIL)
		o->coop_tail[l] = NIL;
	rt->tasks[task].next = NIL;
	rt->tasks[task].parked = 0;
	return task;
}

static void c_list_remove(struct sync_rt *rt, struct sync_obj *o, int l,
			  uint32_t task)
{
	uint32_t prev = NIL, cur = o->coop_head[l];

	while (cur != NIL && cur != task) {
		prev = cur;
		cur = rt->tasks[cur].next;
	}
	if (cur == NIL)
		return;
	if (prev == NIL)
		o->coop_head[l] = rt->tasks[cur].next;
	else
		rt->tasks[prev].next = rt->tasks[cur].next;
	if (o->coop_tail[l] == cur)
		o->coop_tail[l] = prev;
	rt->tasks[cur].next = NIL;
	rt->tasks[cur].parked = 0;
}

/* Parks task on list l of object obj. */
static void c_park(struct sync_rt *rt, const struct sync_coop_env *env,
		   uint32_t task, uint32_t obj, int l, enum wait_op op)
{
	struct sync_task *t = &rt->tasks[task];

	t->t0_ns = rec_now(env->lane);
	t->granted = 0;
	t->parked = (uint8_t)(l + 1);
	c_list_push(rt, &rt->objs[obj], l, task);
	reg_block(rt, task, obj, op);
	rec_open(env->lane, task, op_state(op), t->t0_ns, obj + 1);
}

/* Hands a parked task its object: its operation is complete. */
static void c_grant(struct sync_rt *rt, const struct sync_coop_env *env,
		    uint32_t task)
{
	rt->tasks[task].granted = 1;
	reg_unblock(rt, task);
	env->wake(env->wake_ctx, task);
}

/* A woken task resumes: records its wait. */
static void c_resumed(struct sync_rt *rt, const struct sync_coop_env *env,
		      uint32_t task, uint32_t obj, enum wait_op op)
{
	struct sync_task *t = &rt->tasks[task];

	rec_segment(env->lane, task, op_state(op), t->t0_ns, rec_now(env->lane),
		    obj + 1);
	t->granted = 0;
}

static void c_depth(struct sync_rt *rt, const struct sync_coop_env *env,
		    int64_t delta)
{
	int64_t depth = atomic_fetch_add(&rt->sh->queued_items, delta) + delta;

	depth_sample(env->lane, rec_now(env->lane), depth);
}

/* The operations, each under the object's mutex (the loop thread is the
 * only user, but the watchdog reads the objects to explain a deadlock).
 * The c_take_* ones return true when done at once and park the task
 * otherwise; the c_give_* ones hand over to a waiter. */
static bool c_take_lock_locked(struct sync_rt *rt,
			       const struct sync_coop_env *env, uint32_t task,
			       uint32_t obj)
{
	struct sync_obj *o = &rt->objs[obj];

	if (o->value == 0) {
		o->value = (int64_t)task + 1;
		return true;
	}
	c_park(rt, env, task, obj, 0, OP_LOCK);
	return false;
}

static int c_give_lock_locked(struct sync_rt *rt,
			      const struct sync_coop_env *env, uint32_t obj)
{
	struct sync_obj *o = &rt->objs[obj];
	uint32_t w;

	if (o->value == 0)
		return -EPERM;
	w = c_list_pop(rt, o, 0);
	o->value = w == NIL ? 0 : (int64_t)w + 1;
	if (w != NIL)
		c_grant(rt, env, w);
	return 0;
}

static bool c_take_sem_locked(struct sync_rt *rt,
			      const struct sync_coop_env *env, uint32_t task,
			      uint32_t obj)
{
	struct sync_obj *o = &rt->objs[obj];

	if (o->value > 0) {
		o->value--;
		return true;
	}
	c_park(rt, env, task, obj, 0, OP_SEM);
	return false;
}

static void c_give_sem_locked(struct sync_rt *rt,
			      const struct sync_coop_env *env, uint32_t obj)
{
	struct sync_obj *o = &rt->objs[obj];
	uint32_t w = c_list_pop(rt, o, 0);

	if (w == NIL)
		o->value++;
	else
		c_grant(rt, env, w);
}

/* Puts item: straight into a waiting getter's hands, into the queue, or
 * parks (the item waits with the task). */
static bool c_put_locked(struct sync_rt *rt, const struct sync_coop_env *env,
			 uint32_t task, uint32_t obj, int64_t item)
{
	struct sync_obj *o = &rt->objs[obj];
	uint32_t w = c_list_pop(rt, o, 0);

	if (w != NIL) {
		rt->tasks[w].item = item;
		c_grant(rt, env, w);
		return true;
	}
	if (o->value < o->count) {
		queue_items(rt, o)[(o->head + o->value) % o->count] = item;
		o->value++;
		c_depth(rt, env, 1);
		return true;
	}
	rt->tasks[task].item = item;
	c_park(rt, env, task, obj, 1, OP_PUT);
	return false;
}

/* Gets an item into rt->tasks[task].item, taking a parked putter's item
 * into the room it made; or parks. */
static bool c_get_locked(struct sync_rt *rt, const struct sync_coop_env *env,
			 uint32_t task, uint32_t obj)
{
	struct sync_obj *o = &rt->objs[obj];
	uint32_t w;

	if (o->value == 0) {
		c_park(rt, env, task, obj, 0, OP_GET);
		return false;
	}
	rt->tasks[task].item = queue_items(rt, o)[o->head];
	o->head = (o->head + 1) % o->count;
	o->value--;
	w = c_list_pop(rt, o, 1);
	if (w != NIL) {
		queue_items(rt, o)[(o->head + o->value) % o->count] =
		    rt->tasks[w].item;
		o->value++;
		c_grant(rt, env, w);
	} else {
		c_depth(rt, env, -1);
	}
	return true;
}

static bool c_barrier_locked(struct sync_rt *rt,
			     const struct sync_coop_env *env, uint32_t task,
			     uint32_t obj)
{
	struct sync_obj *o = &rt->objs[obj];
	uint32_t w;

	if (++o->value < o->count) {
		c_park(rt, env, task, obj, 0, OP_BARRIER);
		return false;
	}
	o->value = 0;
	o->round++;
	while ((w = c_list_pop(rt, o, 0)) != NIL)
		c_grant(rt, env, w);
	return true;
}

static void c_event_set_locked(struct sync_rt *rt,
			       const struct sync_coop_env *env, uint32_t obj)
{
	struct sync_obj *o = &rt->objs[obj];
	uint32_t w;

	o->value = 1;
	while ((w = c_list_pop(rt, o, 0)) != NIL)
		c_grant(rt, env, w);
}

static bool c_take_lock(struct sync_rt *rt, const struct sync_coop_env *env,
			uint32_t task, uint32_t obj)
{
	bool r;

	obj_lock(&rt->objs[obj]);
	r = c_take_lock_locked(rt, env, task, obj);
	obj_unlock(&rt->objs[obj]);
	return r;
}

static int c_give_lock(struct sync_rt *rt, const struct sync_coop_env *env,
		       uint32_t obj)
{
	int r;

	obj_lock(&rt->objs[obj]);
	r = c_give_lock_locked(rt, env, obj);
	obj_unlock(&rt->objs[obj]);
	return r;
}

static bool c_take_sem(struct sync_rt *rt, const struct sync_coop_env *env,
		       uint32_t task, uint32_t obj)
{
	bool r;

	obj_lock(&rt->objs[obj]);
	r = c_take_sem_locked(rt, env, task, obj);
	obj_unlock(&rt->objs[obj]);
	return r;
}

static void c_give_sem(struct sync_rt *rt, const struct sync_coop_env *env,
		       uint32_t obj)
{
	obj_lock(&rt->objs[obj]);
	c_give_sem_locked(rt, env, obj);
	obj_unlock(&rt->objs[obj]);
}

static bool c_put(struct sync_rt *rt, const struct sync_coop_env *env,
		  uint32_t task, uint32_t obj, int64_t item)
{
	bool r;

	obj_lock(&rt->objs[obj]);
	r = c_put_locked(rt, env, task, obj, item);
	obj_unlock(&rt->objs[obj]);
	return r;
}

static bool c_get(struct sync_rt *rt, const struct sync_coop_env *env,
		  uint32_t task, uint32_t obj)
{
	bool r;

	obj_lock(&rt->objs[obj]);
	r = c_get_locked(rt, env, task, obj);
	obj_unlock(&rt->objs[obj]);
	return r;
}

static bool c_barrier(struct sync_rt *rt, const struct sync_coop_env *env,
		      uint32_t task, uint32_t obj)
{
	bool r;

	obj_lock(&rt->objs[obj]);
	r = c_barrier_locked(rt, env, task, obj);
	obj_unlock(&rt->objs[obj]);
	return r;
}

static void c_event_set(struct sync_rt *rt, const struct sync_coop_env *env,
			uint32_t obj)
{
	obj_lock(&rt->objs[obj]);
	c_event_set_locked(rt, env, obj);
	obj_unlock(&rt->objs[obj]);
}

static int want_done(struct sync_task *t, struct sync_want *want, int err)
{
	t->phase = CP_NEW;
	t->waiting = 0;
	want->kind = SYNC_WANT_DONE;
	want->err = err;
	return SYNC_WANT_DONE;
}

static int want_parked(struct sync_want *want)
{
	want->kind = SYNC_WANT_PARKED;
	return SYNC_WANT_PARKED;
}

/* lock, acquire, get, put, barrier, event wait: done at once, or parked
 * and then done when resumed. */
static int c_simple(struct sync_rt *rt, const struct sync_coop_env *env,
		    uint32_t task, const struct step *s, struct sync_want *want)
{
	struct sync_task *t = &rt->tasks[task];
	uint32_t obj = s->object;
	enum wait_op op;
	bool done;

	switch (s->kind) {
	case STEP_LOCK:
		op = OP_LOCK;
		break;
	case STEP_ACQUIRE:
		op = OP_SEM;
		break;
	case STEP_GET:
		op = OP_GET;
		break;
	case STEP_PUT:
		op = OP_PUT;
		break;
	case STEP_BARRIER:
		op = OP_BARRIER;
		break;
	default:
		op = OP_EVENT;
		break;
	}
	if (t->phase == CP_PARKED) {
		if (!t->granted)
			return want_parked(want);
		c_resumed(rt, env, task, obj, op);
		if (op == OP_GET && t->item >= 0)
			stat_add(&rt->sh->consumed, 1);
		if (op == OP_PUT && s->n >= 0)
			stat_add(&rt->sh->produced, 1);
		return want_done(t, want, 0);
	}
	switch (op) {
	case OP_LOCK:
		done = c_take_lock(rt, env, task, obj);
		break;
	case OP_SEM:
		done = c_take_sem(rt, env, task, obj);
		break;
	case OP_GET:
		done = c_get(rt, env, task, obj);
		if (done && t->item >= 0)
			stat_add(&rt->sh->consumed, 1);
		break;
	case OP_PUT:
		done = c_put(rt, env, task, obj, s->n);
		if (done && s->n >= 0)
			stat_add(&rt->sh->produced, 1);
		break;
	case OP_BARRIER:
		done = c_barrier(rt, env, task, obj);
		break;
	default:
		obj_lock(&rt->objs[obj]);
		done = rt->objs[obj].value != 0;
		if (!done)
			c_park(rt, env, task, obj, 0, OP_EVENT);
		obj_unlock(&rt->objs[obj]);
		break;
	}
	changed(rt);
	if (done)
		return want_done(t, want, 0);
	t->phase = CP_PARKED;
	return want_parked(want);
}

/* Increments on the loop.  Without an await nothing can come between a
 * read and its write (no other task runs until this one awaits), so the
 * result is exact whatever the sync mode; with one, every increment
 * yields between its read and its write and the tasks' writes overwrite
 * each other. */
static int c_incr(struct sync_rt *rt, const struct sync_coop_env *env,
		  uint32_t task, const struct step *s, struct sync_want *want)
{
	struct sync_task *t = &rt->tasks[task];
	struct sync_obj *o = &rt->objs[s->object];
	enum counter_mode mode = (enum counter_mode)o->count;
	bool await_inside = s->flags & STEP_F_AWAIT;
	uint32_t note = s->object + 1;
	uint64_t work = cpu_iters_for_ns(&env->run->cpu, INCR_BYTECODE_NS);

	switch (t->phase) {
	case CP_NEW:
		t->left = s->n;
		t->phase = CP_INCR_RUN;
		t->t0_ns = rec_now(env->lane);
		if (!await_inside)
			atomic_store(&rt->sh->loop_incr, 1);
		break;
	case CP_INCR_LOCK:
		if (!t->granted)
			return want_parked(want);
		c_resumed(rt, env, task, s->object, OP_LOCK);
		t->t0_ns = rec_now(env->lane);
		goto locked;
	case CP_INCR_WRITE:
		t->t0_ns = rec_now(env->lane);
		goto write;
	default:
		break;
	}
	while (t->left > 0) {
		atomic_store_explicit(&incr_sink,
				      cpu_burn(work, (uint64_t)t->left),
				      memory_order_relaxed);
		if (mode == CTR_ATOMIC) {
			atomic_fetch_add_explicit(&o->counter, 1,
						  memory_order_relaxed);
			atomic_fetch_add(&o->attempted, 1);
			t->left--;
			if (await_inside && t->left > 0) {
				rec_segment(env->lane, task, ST_COMPUTE,
					    t->t0_ns, rec_now(env->lane), note);
				want->kind = SYNC_WANT_YIELD;
				t->phase = CP_INCR_WRITE;
				t->item = INT64_MIN; /* nothing to write */
				return SYNC_WANT_YIELD;
			}
			continue;
		}
		if (mode == CTR_LOCK) {
			int64_t computing_since = t->t0_ns;

			if (!c_take_lock(rt, env, task, s->object)) {
				/* Held across another task's await: parked
				 * (t0_ns is now the park's start). */
				rec_segment(env->lane, task, ST_COMPUTE,
					    computing_since, t->t0_ns, note);
				t->phase = CP_INCR_LOCK;
				return want_parked(want);
			}
		}
	locked:
		t->item =
		    atomic_load_explicit(&o->counter, memory_order_relaxed);
		if (await_inside) {
			rec_segment(env->lane, task, ST_COMPUTE, t->t0_ns,
				    rec_now(env->lane), note);
			t->phase = CP_INCR_WRITE;
			want->kind = SYNC_WANT_YIELD;
			return SYNC_WANT_YIELD;
		}
	write:
		if (t->item != INT64_MIN) {
			atomic_store_explicit(&o->counter, t->item + 1,
					      memory_order_relaxed);
			atomic_fetch_add(&o->attempted, 1);
			t->left--;
			if (mode == CTR_LOCK)
				c_give_lock(rt, env, s->object);
		}
		t->item = 0;
		t->phase = CP_INCR_RUN;
	}
	rec_segment(env->lane, task, ST_COMPUTE, t->t0_ns, rec_now(env->lane),
		    note);
	return want_done(t, want, 0);
}

static int c_consume(struct sync_rt *rt, const struct sync_coop_env *env,
		     uint32_t task, const struct step *s,
		     struct sync_want *want)
{
	struct sync_task *t = &rt->tasks[task];
	const struct program *p = rt->prog;
	uint32_t fwd = s->aux > 0 ? (uint32_t)(s->aux - 1) : NIL;
	bool has_work = s->n >= 0 && (size_t)s->n < p->n_steps &&
			p->steps[s->n].kind == STEP_CPU;

	if (fwd != NIL && !object_of(rt, fwd, OBJ_QUEUE))
		return want_done(t, want, -EINVAL);
	for (;;) {
		switch (t->phase) {
		case CP_NEW:
			t->phase = CP_CONS_GET;
			if (!c_get(rt, env, task, s->object)) {
				changed(rt);
				return want_parked(want);
			}
			changed(rt);
			break;
		case CP_CONS_GET: /* resumed with an item */
			if (!t->granted)
				return want_parked(want);
			c_resumed(rt, env, task, s->object, OP_GET);
			break;
		case CP_CONS_WORK: /* the item's work is done */
			if (fwd != NIL) {
				t->phase = CP_CONS_FWD;
				if (!c_put(rt, env, task, fwd, t->item)) {
					changed(rt);
					return want_parked(want);
				}
				changed(rt);
			}
			goto item_done;
		case CP_CONS_FWD: /* resumed: the item was taken */
			if (!t->granted)
				return want_parked(want);
			c_resumed(rt, env, task, fwd, OP_PUT);
			goto item_done;
		default:
			return want_done(t, want, -EINVAL);
		}
		/* An item was got. */
		if (t->item < 0)
			return want_done(t, want, 0);
		t->phase = CP_CONS_WORK;
		if (has_work) {
			want->kind = SYNC_WANT_CPU;
			want->step = (uint32_t)s->n;
			return SYNC_WANT_CPU;
		}
		continue;
	item_done:
		stat_add(fwd != NIL ? &rt->sh->transformed : &rt->sh->consumed,
			 1);
		atomic_fetch_add_explicit(&env->run->progress, 1,
					  memory_order_relaxed);
		t->phase = CP_NEW;
	}
}

static int c_close(struct sync_rt *rt, const struct sync_coop_env *env,
		   uint32_t task, const struct step *s, struct sync_want *want)
{
	struct sync_task *t = &rt->tasks[task];
	struct sync_obj *o = &rt->objs[s->object];

	if (t->phase == CP_NEW) {
		bool last;

		obj_lock(o);
		last = --o->closers == 0;
		obj_unlock(o);
		changed(rt);
		if (!last)
			return want_done(t, want, 0);
		t->left = s->n;
		t->phase = CP_CLOSE_PILLS;
	} else if (t->parked || !t->granted) {
		return want_parked(want);
	} else {
		c_resumed(rt, env, task, s->object, OP_PUT);
		t->left--;
	}
	while (t->left > 0) {
		if (!c_put(rt, env, task, s->object, -1)) {
			changed(rt);
			return want_parked(want);
		}
		t->left--;
	}
	changed(rt);
	return want_done(t, want, 0);
}

static int c_request(struct sync_rt *rt, const struct sync_coop_env *env,
		     uint32_t task, const struct step *s, int result,
		     struct sync_want *want)
{
	struct sync_task *t = &rt->tasks[task];
	const struct program *p = rt->prog;
	struct sync_obj *lim = object_of(rt, s->object, OBJ_LIMITER);
	const struct request_def *r;
	int64_t now = rec_now(env->lane);
	int k;

	if (s->aux < 0 || (size_t)s->aux >= p->n_requests)
		return want_done(t, want, -EINVAL);
	r = &p->requests[s->aux];
	switch (t->phase) {
	case CP_NEW:
		max_update(&rt->sh->max_in_flight,
			   atomic_fetch_add(&rt->sh->in_flight, 1) + 1);
		t->attempt = 0;
		t->waiting = 0;
		t->phase = CP_REQ_RATE;
		break;
	case CP_REQ_RATE:
		break;
	case CP_REQ_NET: {
		int rc = result;

		k = t->attempt < REQUEST_MAX_ATTEMPTS
			? t->attempt
			: REQUEST_MAX_ATTEMPTS - 1;
		rec_segment(env->lane, task, ST_IO, t->item, now, 0);
		if (rc == 0 && (r->fail_mask >> k) & 1)
			rc = -EIO;
		if (rc == 0 || rc == -ECANCELED || t->attempt >= r->retries) {
			stat_add(rc == 0 ? &rt->sh->succeeded : &rt->sh->failed,
				 rc == -ECANCELED ? 0 : 1);
			atomic_fetch_sub(&rt->sh->in_flight, 1);
			return want_done(t, want, rc);
		}
		stat_add(&rt->sh->retries, 1);
		t->t0_ns = now;
		t->phase = CP_REQ_BACKOFF;
		rec_open(env->lane, task, ST_BACKOFF, now, 0);
		want->kind = SYNC_WANT_TIMER;
		want->due_ns = now + (r->backoff_ns << t->attempt);
		return SYNC_WANT_TIMER;
	}
	case CP_REQ_BACKOFF:
		rec_segment(env->lane, task, ST_BACKOFF, t->t0_ns, now, 0);
		t->attempt++;
		t->phase = CP_REQ_RATE;
		break;
	default:
		return want_done(t, want, -EINVAL);
	}
	/* CP_REQ_RATE: the limiter's next slot, then the attempt. */
	if (lim) {
		int64_t next;

		obj_lock(lim);
		next = lim->next_ns;
		if (lim->interval_ns == 0 || now >= next)
			lim->next_ns = now + lim->interval_ns;
		obj_unlock(lim);
		if (lim->interval_ns > 0 && now < next) {
			if (!t->waiting) {
				t->waiting = 1;
				t->t0_ns = now;
				rec_open(env->lane, task, ST_RATE_WAIT, now,
					 s->object + 1);
			}
			want->kind = SYNC_WANT_TIMER;
			want->due_ns = next;
			return SYNC_WANT_TIMER;
		}
	}
	if (t->waiting) {
		rec_segment(env->lane, task, ST_RATE_WAIT, t->t0_ns, now,
			    s->object + 1);
		t->waiting = 0;
	}
	t->item = now; /* the io segment's start */
	t->phase = CP_REQ_NET;
	rec_open(env->lane, task, ST_IO, now, 0);
	sync_coop_net_want(rt, task, s, want);
	return SYNC_WANT_NET;
}

static int c_disk(struct sync_rt *rt, const struct sync_coop_env *env,
		  uint32_t task, const struct step *s, struct sync_want *want)
{
	struct sync_task *t = &rt->tasks[task];
	char path[512];
	int64_t t0;
	int rc;

	if (!valid_disk_step(rt, s))
		return want_done(t, want, -EINVAL);
	rc = file_path(rt, s->object, task, path, sizeof(path));
	if (rc < 0)
		return want_done(t, want, rc);
	/* The loop's GIL is released around the file call, as CPython's
	 * file I/O releases it. */
	if (env->gil)
		gil_release(env->gil);
	t0 = rec_now(env->lane);
	rec_open(env->lane, task, ST_IO, t0, s->object + 1);
	rc = s->aux ? disk_write(path, s->n) : disk_read(path, s->n);
	rec_segment(env->lane, task, ST_IO, t0, rec_now(env->lane),
		    s->object + 1);
	if (env->gil)
		gil_acquire(env->gil);
	if (rc == 0) {
		stat_add(&rt->sh->disk_files, 1);
		stat_add(&rt->sh->disk_bytes, s->n);
	}
	return want_done(t, want, rc);
}

int sync_coop_step(struct sync_rt *rt, const struct sync_coop_env *env,
		   uint32_t task, const struct step *s, int result,
		   struct sync_want *want)
{
	enum step_kind kind = (enum step_kind)s->kind;
	int need = step_object_kind(kind);
	struct sync_task *t;

	memset(want, 0, sizeof(*want));
	if (!rt || task >= rt->sh->n_tasks || !sync_handles(kind)) {
		want->kind = SYNC_WANT_DONE;
		want->err = rt ? -ENOTSUP : -EINVAL;
		return SYNC_WANT_DONE;
	}
	t = &rt->tasks[task];
	if (need >= 0 && !object_of(rt, s->object, (enum object_kind)need))
		return want_done(t, want, -EINVAL);
	switch (kind) {
	case STEP_UNLOCK: {
		int rc = c_give_lock(rt, env, s->object);

		changed(rt);
		return want_done(t, want, rc);
	}
	case STEP_RELEASE:
		c_give_sem(rt, env, s->object);
		changed(rt);
		return want_done(t, want, 0);
	case STEP_EVENT_SET:
		c_event_set(rt, env, s->object);
		changed(rt);
		return want_done(t, want, 0);
	case STEP_INCR:
		return c_incr(rt, env, task, s, want);
	case STEP_CONSUME:
		return c_consume(rt, env, task, s, want);
	case STEP_CLOSE:
		return c_close(rt, env, task, s, want);
	case STEP_REQUEST:
		return c_request(rt, env, task, s, result, want);
	case STEP_DISK:
		return c_disk(rt, env, task, s, want);
	default:
		return c_simple(rt, env, task, s, want);
	}
}

bool sync_coop_net_want(struct sync_rt *rt, uint32_t task, const struct step *s,
			struct sync_want *want)
{
	const struct request_def *r;
	struct sync_task *t;
	int k;

	memset(want, 0, sizeof(*want));
	if (!rt || task >= rt->sh->n_tasks || s->kind != STEP_REQUEST ||
	    s->aux < 0 || (size_t)s->aux >= rt->prog->n_requests)
		return false;
	t = &rt->tasks[task];
	if (t->phase != CP_REQ_NET)
		return false;
	r = &rt->prog->requests[s->aux];
	k = t->attempt < REQUEST_MAX_ATTEMPTS ? t->attempt
					      : REQUEST_MAX_ATTEMPTS - 1;
	want->kind = SYNC_WANT_NET;
	want->ns = r->latency_ns[k] > 0 ? r->latency_ns[k] : s->ns;
	want->timeout_ns = r->timeout_ns;
	want->reply_bytes = REQUEST_REPLY_BYTES;
	return true;
}

void sync_coop_abandon(struct sync_rt *rt, const struct sync_coop_env *env,
		       uint32_t task, const struct step *s)
{
	struct sync_task *t;
	int64_t now;

	if (!rt || task >= rt->sh->n_tasks)
		return;
	t = &rt->tasks[task];
	now = rec_now(env->lane);
	if (t->parked) {
		uint32_t obj = atomic_load(&t->object);
		enum wait_op op = (enum wait_op)atomic_load(&t->op);

		obj_lock(&rt->objs[obj]);
		c_list_remove(rt, &rt->objs[obj], t->parked - 1, task);
		obj_unlock(&rt->objs[obj]);
		reg_unblock(rt, task);
		rec_segment(env->lane, task, op_state(op), t->t0_ns, now,
			    obj + 1);
	} else if (t->granted) {
		uint32_t obj = atomic_load(&t->object);
		enum wait_op op = (enum wait_op)atomic_load(&t->op);

		rec_segment(env->lane, task, op_state(op), t->t0_ns, now,
			    obj + 1);
	} else if (s->kind == STEP_REQUEST) {
		switch (t->phase) {
		case CP_REQ_RATE:
			if (t->waiting)
				rec_segment(env->lane, task, ST_RATE_WAIT,
					    t->t0_ns, now, s->object + 1);
			break;
		case CP_REQ_NET:
			rec_segment(env->lane, task, ST_IO, t->item, now, 0);
			break;
		case CP_REQ_BACKOFF:
			rec_segment(env->lane, task, ST_BACKOFF, t->t0_ns, now,
				    0);
			break;
		default:
			break;
		}
	}
	if (s->kind == STEP_REQUEST && t->phase != CP_NEW)
		atomic_fetch_sub(&rt->sh->in_flight, 1);
	t->phase = CP_NEW;
	t->granted = 0;
	t->waiting = 0;
}

/* ---- the verdicts ------------------------------------------------------- */

static const char *op_object_word(enum wait_op op)
{
	switch (op) {
	case OP_LOCK:
		return "lock";
	case OP_SEM:
		return "semaphore";
	case OP_GET:
	case OP_PUT:
		return "queue";
	case OP_BARRIER:
		return "barrier";
	case OP_EVENT:
		return "event";
	default:
		return "object";
	}
}

/* "(empty), nobody can put" and the like, from the object's state now. */
static void op_condition(struct sync_rt *rt, uint32_t obj, enum wait_op op,
			 bool counter_lock, char *buf, size_t size)
{
	struct sync_obj *o = &rt->objs[obj];
	int64_t value, count = o->count;
	char holder[64];

	obj_lock(o);
	value = o->value;
	obj_unlock(o);
	switch (op) {
	case OP_LOCK:
		if (value > 0 && (uint64_t)value <= rt->sh->n_tasks)
			snprintf(buf, size, "(held by %s)",
				 program_task_name(rt->prog,
						   (uint32_t)(value - 1),
						   holder, sizeof(holder)));
		else
			snprintf(buf, size, "(held)");
		(void)counter_lock;
		break;
	case OP_SEM:
		snprintf(buf, size,
			 "(none of %" PRId64 " left), nobody can release",
			 rt->prog->objects[obj].count);
		break;
	case OP_GET:
		snprintf(buf, size, "(empty), nobody can put");
		break;
	case OP_PUT:
		snprintf(buf, size,
			 "(full, %" PRId64 " of %" PRId64 "), nobody can get",
			 value, count);
		break;
	case OP_BARRIER:
		snprintf(buf, size,
			 "(%" PRId64 " of %" PRId64
			 " arrived), nobody else can arrive",
			 value, count);
		break;
	case OP_EVENT:
		snprintf(buf, size, "(not set), nobody can set it");
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

static void append(char *buf, size_t size, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

uint32_t sync_deadlock_message(struct sync_rt *rt, char *buf, size_t size)
{
	struct group {
		uint32_t obj, first, n;
		uint8_t op;
	} groups[MESSAGE_MAX_GROUPS];
	uint32_t n_groups = 0, waiting = 0, idle = 0, more = 0;
	size_t off = 0;
	char name[64], cond[128];

	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (!rt)
		return 0;
	for (uint32_t i = 0; i < rt->sh->n_tasks; i++) {
		struct sync_task *t = &rt->tasks[i];
		uint8_t st = atomic_load(&t->state);
		uint32_t obj = atomic_load(&t->object), g;
		uint8_t op = atomic_load(&t->op);

		if (st == TS_IDLE)
			idle++;
		if (st != TS_BLOCKED || obj >= rt->sh->n_objects)
			continue;
		waiting++;
		for (g = 0; g < n_groups; g++)
			if (groups[g].obj == obj && groups[g].op == op)
				break;
		if (g == n_groups) {
			if (n_groups == MESSAGE_MAX_GROUPS) {
				more++;
				continue;
			}
			groups[g] = (struct group){
			    .obj = obj, .first = i, .n = 0, .op = op};
			n_groups++;
		}
		groups[g].n++;
	}
	if (waiting == 0)
		return 0;
	append(buf, size, &off, "deadlock:");
	for (uint32_t g = 0; g < n_groups; g++) {
		const struct group *gr = &groups[g];
		enum wait_op op = (enum wait_op)gr->op;
		const struct object_def *d = &rt->prog->objects[gr->obj];

		program_task_name(rt->prog, gr->first, name, sizeof(name));
		op_condition(rt, gr->obj, op, d->kind == OBJ_COUNTER, cond,
			     sizeof(cond));
		if (gr->n == 1)
			append(buf, size, &off, "%s %s waits for", g ? ";" : "",
			       name);
		else
			append(buf, size, &off, "%s %s and %u more wait for",
			       g ? ";" : "", name, gr->n - 1);
		append(buf, size, &off, " %s '%s' %s",
		       d->kind == OBJ_COUNTER ? "the lock of counter"
					      : op_object_word(op),
		       d->name, cond);
	}
	if (more)
		append(buf, size, &off, "; %u more waiting", more);
	if (idle)
		append(buf, size, &off, "; %u task%s cannot start", idle,
		       idle == 1 ? "" : "s");
	if (off >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return waiting;
}

bool sync_watchdog_stuck(struct run_ctx *ctx, char *msg, size_t size)
{
	struct sync_rt *rt = ctx->sync;
	struct sync_shared *sh;
	int64_t running, blocked, progress, now;
	uint64_t gen;

	if (!rt || run_stopped(ctx))
		return false;
	sh = rt->sh;
	now = util_mono_ns();
	gen = atomic_load(&sh->generation);
	progress = atomic_load(&ctx->progress);
	running = atomic_load(&sh->running);
	blocked = atomic_load(&sh->blocked);
	/* Judge only models that report their tasks (sync_task_begin):
	 * without that, a task that computes looks like no task at all. */
	if (atomic_load(&sh->begun) == 0 || blocked == 0 || blocked < running ||
	    gen != rt->wd_generation || progress != rt->wd_progress ||
	    rt->wd_since_ns == 0) {
		rt->wd_generation = gen;
		rt->wd_progress = progress;
		rt->wd_since_ns = now;
		return false;
	}
	if (now - rt->wd_since_ns < SYNC_DEADLOCK_NS)
		return false;
	return sync_deadlock_message(rt, msg, size) > 0;
}

bool sync_watchdog_check(struct run_ctx *ctx)
{
	char msg[sizeof(ctx->message)];
	int none = 0;

	if (!sync_watchdog_stuck(ctx, msg, sizeof(msg)))
		return false;
	if (!atomic_compare_exchange_strong(&ctx->stop, &none, RUN_DEADLOCK))
		return false;
	exec_stop_wake(&ctx->stop);
	util_strlcpy(ctx->message, msg, sizeof(ctx->message));
	return true;
}

void sync_add_checks(struct run_ctx *ctx)
{
	struct sync_rt *rt = ctx->sync;
	const struct program *p = ctx->prog;
	struct sync_shared *sh;
	bool counters = false, queues = false, forwards = false;
	bool requests = false, files = false;
	int64_t expected = 0, got = 0;

	if (!rt)
		return;
	sh = rt->sh;
	if (!ctx->checks)
		ctx->checks = json_object();
	for (uint32_t i = 0; i < sh->n_objects; i++) {
		struct sync_obj *o = &rt->objs[i];

		if (o->kind == OBJ_COUNTER) {
			counters = true;
			expected += atomic_load(&o->attempted);
			got += atomic_load(&o->counter);
		}
		queues |= o->kind == OBJ_QUEUE;
		files |= o->kind == OBJ_FILE;
	}
	for (size_t i = 0; i < p->n_steps; i++) {
		requests |= p->steps[i].kind == STEP_REQUEST;
		forwards |=
		    p->steps[i].kind == STEP_CONSUME && p->steps[i].aux > 0;
	}
	if (counters) {
		json_object_set_new(ctx->checks, "expected",
				    json_integer(expected));
		json_object_set_new(ctx->checks, "got", json_integer(got));
		json_object_set_new(ctx->checks, "lost",
				    json_integer(expected - got));
		if (atomic_load(&sh->loop_incr))
			json_object_set_new(
			    ctx->checks, "explain",
			    json_string("The counter is exact because on an "
					"event loop a task runs until it "
					"awaits, so nothing comes between the "
					"read and the write of counter += 1; "
					"with await=yes an await sits inside "
					"and updates are lost."));
	}
	if (queues) {
		json_object_set_new(ctx->checks, "produced",
				    json_integer(atomic_load(&sh->produced)));
		json_object_set_new(ctx->checks, "consumed",
				    json_integer(atomic_load(&sh->consumed)));
		if (forwards)
			json_object_set_new(
			    ctx->checks, "transformed",
			    json_integer(atomic_load(&sh->transformed)));
	}
	if (requests) {
		json_object_set_new(ctx->checks, "succeeded",
				    json_integer(atomic_load(&sh->succeeded)));
		json_object_set_new(ctx->checks, "failed",
				    json_integer(atomic_load(&sh->failed)));
		json_object_set_new(ctx->checks, "retries",
				    json_integer(atomic_load(&sh->retries)));
		json_object_set_new(
		    ctx->checks, "max_in_flight",
		    json_integer(atomic_load(&sh->max_in_flight)));
	}
	if (files) {
		json_object_set_new(ctx->checks, "files",
				    json_integer(atomic_load(&sh->disk_files)));
		json_object_set_new(ctx->checks, "bytes",
				    json_integer(atomic_load(&sh->disk_bytes)));
	}
}
