/*
 * sync_coop: the cooperative half of sync's steps, for the event loop.  It
 * never blocks: a task that cannot go on is parked on the object's FIFO
 * wait list (an ilist through sync_task.next) and the loop is told what to
 * do next (struct sync_want).
 *
 * The cooperative half hands objects over: whoever frees an object gives it
 * straight to the first task parked on it (FIFO), completing that task's
 * operation, and calls the loop's wake callback.  A woken task never
 * retries, so nobody is woken in vain and nobody overtakes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "peer.h"
#include "sync_internal.h"

/* Where the increments' interpreter work leaves its result, so none of it
 * is dead code. */
static _Atomic uint64_t incr_sink;

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

static struct ilist_links c_links(struct sync_rt *rt)
{
	return ILIST_LINKS(rt->tasks, struct sync_task, next);
}

static void c_list_push(struct sync_rt *rt, struct sync_obj *o, int l,
			uint32_t task)
{
	ilist_push(&o->coop[l], c_links(rt), task);
}

static uint32_t c_list_pop(struct sync_rt *rt, struct sync_obj *o, int l)
{
	uint32_t task = ilist_pop(&o->coop[l], c_links(rt));

	if (task != NIL)
		rt->tasks[task].parked = 0;
	return task;
}

static void c_list_remove(struct sync_rt *rt, struct sync_obj *o, int l,
			  uint32_t task)
{
	if (ilist_remove(&o->coop[l], c_links(rt), task))
		rt->tasks[task].parked = 0;
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

/* cond.notify(n) (n 0: notify_all) on the loop: the n longest waiting
 * go on (asyncio.Condition wakes its waiters in order); a notify with
 * nobody waiting is lost. */
static void c_cond_notify(struct sync_rt *rt, const struct sync_coop_env *env,
			  uint32_t obj, int64_t n)
{
	struct sync_obj *o = &rt->objs[obj];
	uint32_t w;

	obj_lock(o);
	for (int64_t k = 0; n <= 0 || k < n; k++) {
		w = c_list_pop(rt, o, 0);
		if (w == NIL)
			break;
		c_grant(rt, env, w);
	}
	obj_unlock(o);
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

/* lock, acquire, get, put, barrier, event wait, cond wait: done at once
 * (a cond wait never is), or parked
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
	case STEP_COND_WAIT:
		op = OP_COND;
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
	case OP_COND:
		/* A wait always waits for a notify to come. */
		obj_lock(&rt->objs[obj]);
		c_park(rt, env, task, obj, 0, OP_COND);
		obj_unlock(&rt->objs[obj]);
		done = false;
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
	_Atomic int64_t *cell = counter_cell(rt, o, task);
	enum counter_mode mode = (enum counter_mode)o->count;
	bool await_inside = s->flags & STEP_F_AWAIT;
	bool locked = mode == CTR_LOCK || mode == CTR_VALUE_LOCKED;
	uint32_t note = s->object + 1;
	int64_t before_ns, inside_ns;
	uint64_t work;

	/* Nothing comes between a read and its write here: the whole
	 * increment's work goes before the read. */
	incr_costs(mode, false, &before_ns, &inside_ns);
	work = cpu_iters_for_ns(&env->run->cpu,
				before_ns + inside_ns + 2 * incr_held_ns(mode));

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
		if (locked) {
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
		t->item = atomic_load_explicit(cell, memory_order_relaxed);
		if (await_inside) {
			rec_segment(env->lane, task, ST_COMPUTE, t->t0_ns,
				    rec_now(env->lane), note);
			t->phase = CP_INCR_WRITE;
			want->kind = SYNC_WANT_YIELD;
			return SYNC_WANT_YIELD;
		}
write:
		if (t->item != INT64_MIN) {
			atomic_store_explicit(cell, t->item + 1,
					      memory_order_relaxed);
			atomic_fetch_add(&o->attempted, 1);
			t->left--;
			if (locked)
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
	rc = sync__file_path(rt, s->object, task, path, sizeof(path));
	if (rc < 0)
		return want_done(t, want, rc);
	/* The loop's GIL is released around the file call, as CPython's
	 * file I/O releases it. */
	if (env->gil)
		gil_release(env->gil);
	t0 = rec_now(env->lane);
	rec_open(env->lane, task, ST_IO, t0, s->object + 1);
	rc = s->aux ? sync__disk_write(path, s->n)
		    : sync__disk_read(path, s->n);
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
	case STEP_COND_NOTIFY:
		c_cond_notify(rt, env, s->object, s->n);
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
