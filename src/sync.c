/*
 * sync: the shared mapping of a program's objects (made, mapped by a
 * spawned worker, freed) and the registry of tasks the watchdog reads.
 * sync_internal.h has the mapping's layout; the steps are in sync_block.c
 * (threads and processes) and sync_coop.c (the event loop), the verdicts
 * in sync_verdict.c and the files in sync_disk.c.
 */
#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sync_internal.h"

#define SYNC_MAGIC 0x636e79732d6c766fULL /* "ovl-sync" */

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
		if (p->objects[i].kind == OBJ_QUEUE ||
		    p->objects[i].kind == OBJ_PIPE)
			off += (size_t)(p->objects[i].count > 0
						? p->objects[i].count
						: 1) *
			       sizeof(int64_t);
		else if (p->objects[i].kind == OBJ_COUNTER &&
			 p->objects[i].size > 0)
			off += (size_t)p->objects[i].size *
			       sizeof(_Atomic int64_t);
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
		ilist_init(&o->coop[0]);
		ilist_init(&o->coop[1]);
		atomic_init(&o->counter, 0);
		atomic_init(&o->attempted, 0);
		switch ((enum object_kind)d->kind) {
		case OBJ_SEMAPHORE:
			o->value = d->count;
			break;
		case OBJ_QUEUE:
		case OBJ_PIPE: /* a queue of message sizes */
			if (o->count < 1)
				o->count = 1;
			o->items_off = items_off;
			items_off += (size_t)o->count * sizeof(int64_t);
			break;
		case OBJ_COUNTER: /* an array's elements */
			o->size = d->size;
			if (o->size > 0) {
				o->items_off = items_off;
				for (int64_t k = 0; k < o->size; k++)
					atomic_init(&counter_cells(rt, o)[k],
						    0);
				items_off += (size_t)o->size *
					     sizeof(_Atomic int64_t);
			}
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

	if (sync__program_has_files(p)) {
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
		err = sync__files_prepare(rt, ctx->message,
					  sizeof(ctx->message));
		if (err < 0) {
			sync__files_remove(rt);
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
		sync__files_remove(rt);
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
