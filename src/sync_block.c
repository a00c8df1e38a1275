/*
 * sync_block: the blocking half of sync's steps, for tasks on their own
 * thread or process (sequential, threads, thread-pool, process-pool).
 * Every wait is a timed wait in slices on the object's condition variable
 * that checks the run's stop flag, with the GIL released around it, and is
 * recorded as the wait state of its object.
 *
 * The unprotected increment (counter sync=none) is a real read-modify-
 * write: an atomic load, a switch point, an atomic store, each relaxed.
 * Two tasks that interleave there lose updates exactly as `counter += 1`
 * does in Python, yet there is no data race in C's sense, so TSan has
 * nothing to suppress.  The switch point is a GIL check under a GIL where
 * the Python has one (the forced switch CPython 3.9's eval loop may make
 * between the load and the store, or any version's at a call inside the
 * update), a short spin without one (parallel threads or processes), and a
 * sleep(0) (or await asyncio.sleep(0)) when the step asks for an await
 * inside.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "exec_core.h"
#include "peer.h"
#include "sync_internal.h"

/* Spins between the read and the write of an unprotected increment
 * without a GIL: a few dozen nanoseconds in which another core's write (or
 * a preemption) gets lost, as it would between Python's LOAD and STORE;
 * short, because a sequential run pays for it too. */
#define RACE_WINDOW_SPINS 2
/* An increment loop looks at the stop flag this often. */
#define INCR_STOP_MASK 1023

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
	struct bwait w = {.x = x,
			  .rt = x->run->sync,
			  .obj = obj,
			  .state = state,
			  .op = op};
	return w;
}

/* ---- blocking steps ----------------------------------------------------- */

static bool reentrant(const struct sync_obj *o)
{
	return o->kind == OBJ_LOCK && o->count == LOCK_REENTRANT;
}

/* Takes a flag lock (OBJ_LOCK, or a counter with sync=lock) for x->task.
 * An RLock its owner takes again only counts; a plain Lock its owner
 * takes again waits for itself, as threading.Lock does, and the watchdog
 * calls it a deadlock. */
static int b_lock(struct exec_ctx *x, uint32_t obj, struct sync_obj *o)
{
	struct bwait w = bwait_make(x, obj, OP_LOCK, ST_LOCK_WAIT);
	int rc = 0;

	obj_lock(o);
	if (reentrant(o) && o->value == (int64_t)x->task + 1) {
		o->depth++;
		obj_unlock(o);
		return 0;
	}
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
 * "release unlocked lock"), or for an RLock, not held by task ("cannot
 * release un-acquired lock").  An RLock taken n times is free after its
 * n-th release. */
static int b_unlock(struct sync_obj *o, uint32_t task)
{
	int rc = 0;

	obj_lock(o);
	if (reentrant(o)) {
		if (o->value != (int64_t)task + 1) {
			obj_unlock(o);
			return -EPERM;
		}
		if (o->depth > 0) {
			o->depth--;
			obj_unlock(o);
			return 0;
		}
	}
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

/* Queue.get (and a pipe's recv): the item, and in *taken_ns (when not
 * NULL) the time it was taken, read under the object's lock, so before
 * any putter woken by it reads the clock. */
static int b_get_at(struct exec_ctx *x, uint32_t obj, struct sync_obj *o,
		    int64_t *item, int64_t *taken_ns)
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
		o->released++;
		depth = atomic_fetch_sub(&rt->sh->queued_items, 1) - 1;
		t = rec_now(x->lane);
		/* A pipe's senders may wait for their message to be taken,
		 * not only for room: wake them all. */
		if (o->sleepers_b && o->kind == OBJ_PIPE)
			pthread_cond_broadcast(&o->cond_b);
		else if (o->sleepers_b)
			pthread_cond_signal(&o->cond_b);
	}
	obj_unlock(o);
	bwait_end_at(&w, t ? t : rec_now(x->lane));
	if (rc == 0) {
		changed(rt);
		depth_sample(x->lane, t, depth);
	}
	if (taken_ns)
		*taken_ns = t;
	return rc;
}

static int b_get(struct exec_ctx *x, uint32_t obj, struct sync_obj *o,
		 int64_t *item)
{
	return b_get_at(x, obj, o, item, NULL);
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

/* with cond: cond.wait(): waits for a notify given after it began. */
static int b_cond_wait(struct exec_ctx *x, uint32_t obj, struct sync_obj *o)
{
	struct bwait w = bwait_make(x, obj, OP_COND, ST_EVENT_WAIT);
	uint64_t ticket;
	int rc = 0;

	obj_lock(o);
	ticket = o->tickets++;
	o->value++;
	bwait_begin(&w);
	while (o->released <= ticket) {
		rc = bwait_slice(&w, o, &o->cond_a, &o->sleepers_a, INT64_MAX);
		if (rc)
			break;
	}
	o->value--;
	obj_unlock(o);
	bwait_end(&w);
	return rc;
}

/* with cond: cond.notify(n) (n 0: notify_all): releases the n longest
 * waiting; a notify with nobody waiting is lost, as in Python. */
static void b_cond_notify(struct sync_obj *o, int64_t n)
{
	uint64_t waiting;

	obj_lock(o);
	waiting = o->tickets - o->released;
	if (n <= 0 || (uint64_t)n > waiting)
		o->released = o->tickets;
	else
		o->released += (uint64_t)n;
	if (waiting && o->sleepers_a)
		pthread_cond_broadcast(&o->cond_a);
	obj_unlock(o);
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

/* Where the increments' interpreter work leaves its result, so none of it
 * is dead code. */
static _Atomic uint64_t incr_sink;

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

/* The switch point between an increment's read and its write.  Under a
 * GIL it is a check point only where CPython has one there: with a call
 * inside (a function's entry, a call's return), or on 3.9, which checks
 * between almost any two bytecodes.  A bare `counter += 1` (and the same
 * inside `with lock:`, whose __enter__ returns without a check) has none
 * on 3.10+, so the GIL never splits it. */
static void incr_switch_point(struct exec_ctx *x, bool await_inside,
			      uint64_t call_work, bool spin, int64_t *t_seg,
			      uint32_t note)
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
	if (call_work)
		atomic_fetch_xor_explicit(&incr_sink,
					  cpu_burn(call_work, call_work),
					  memory_order_relaxed);
	if (x->gil) {
		if (call_work || gil_checks_every_instruction(x->gil))
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

/* One access of a Value or an Array inside its lock: the lock is the
 * object's mutex, held for the interpreter's work there, so processes
 * (or free threads) updating one object meet on it as CPython's do. */
static int64_t shared_access(struct sync_obj *o, _Atomic int64_t *cell,
			     uint64_t held_work, int64_t store)
{
	int64_t v;

	obj_lock(o);
	atomic_fetch_xor_explicit(&incr_sink, cpu_burn(held_work, held_work),
				  memory_order_relaxed);
	v = atomic_load_explicit(cell, memory_order_relaxed);
	if (store != INT64_MIN)
		atomic_store_explicit(cell, store, memory_order_relaxed);
	obj_unlock(o);
	return v;
}

/* One request to a Manager's process: the client's part of the round
 * trip, then the manager's, one request at a time (the object's mutex),
 * where the value is read or (store not INT64_MIN) written. */
static void spin_for(struct exec_ctx *x, int64_t ns)
{
	int64_t until = rec_now(x->lane) + ns;

	while (rec_now(x->lane) < until)
		cpu_relax();
}

static int64_t manager_request(struct exec_ctx *x, struct sync_obj *o,
			       int64_t store)
{
	int64_t v;

	/* Timed by the clock, not by the calibration: a round trip is
	 * mostly the two processes' turns, not this one's arithmetic. */
	spin_for(x, MANAGER_CLIENT_NS);
	obj_lock(o);
	spin_for(x, MANAGER_SERVER_NS);
	v = atomic_load_explicit(&o->counter, memory_order_relaxed);
	if (store != INT64_MIN)
		atomic_store_explicit(&o->counter, store, memory_order_relaxed);
	obj_unlock(o);
	return v;
}

/* `v.value += 1` on a Manager's Value, n times: a get and a set, each a
 * round trip to the manager, nothing between them guarding the value.
 * The task waits for the replies (ipc, noted with the value) and holds
 * no GIL meanwhile (a proxy's call releases it while it waits; the
 * client's pickling is counted there too). */
static int b_incr_manager(struct exec_ctx *x, const struct step *s,
			  uint32_t obj, struct sync_obj *o)
{
	int64_t t0 = rec_now(x->lane), done = 0;
	int rc = 0;

	rec_open(x->lane, x->task, ST_IPC, t0, obj + 1);
	exec_gil_release(x);
	for (int64_t i = 0; i < s->n; i++) {
		if (run_stopped(x->run)) {
			rc = -ECANCELED;
			break;
		}
		manager_request(x, o, manager_request(x, o, INT64_MIN) + 1);
		done++;
	}
	atomic_fetch_add(&o->attempted, done);
	rec_segment(x->lane, x->task, ST_IPC, t0, rec_now(x->lane), obj + 1);
	exec_gil_acquire(x);
	return rc;
}

static int b_incr(struct exec_ctx *x, const struct step *s, uint32_t obj,
		  struct sync_obj *o)
{
	enum counter_mode mode = (enum counter_mode)o->count;
	bool await_inside = s->flags & STEP_F_AWAIT;
	bool locked = mode == CTR_LOCK || mode == CTR_VALUE_LOCKED;
	bool shared = mode == CTR_VALUE || mode == CTR_ARRAY;
	_Atomic int64_t *cell = counter_cell(x->run->sync, o, x->task);
	uint32_t note = obj + 1;
	int64_t t_seg = rec_now(x->lane), done = 0, before_ns, inside_ns;
	uint64_t work, call_work, held_work;

	if (mode == CTR_MANAGER)
		return b_incr_manager(x, s, obj, o);
	/* A call inside (a Value's getter and setter are calls too): its
	 * own work, at least one iteration. */
	incr_costs(mode, s->flags & STEP_F_CALL, &before_ns, &inside_ns);
	work = cpu_iters_for_ns(&x->run->cpu, before_ns);
	call_work = inside_ns > 0
			    ? cpu_iters_for_ns(&x->run->cpu, inside_ns) + 1
			    : 0;
	held_work = cpu_iters_for_ns(&x->run->cpu, incr_held_ns(mode));
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
				incr_switch_point(x, true, 0, false, &t_seg,
						  note);
		} else if (shared) {
			/* The getter, then the setter, each inside the
			 * object's lock; a switch may come between them. */
			int64_t v =
				shared_access(o, cell, held_work, INT64_MIN);

			incr_switch_point(x, await_inside, call_work, false,
					  &t_seg, note);
			shared_access(o, cell, held_work, v + 1);
		} else {
			int64_t v;

			if (locked) {
				rc = incr_lock(x, obj, o, &t_seg, note);
				if (rc)
					break;
			}
			/* The read-modify-write of `counter += 1`. */
			v = atomic_load_explicit(&o->counter,
						 memory_order_relaxed);
			incr_switch_point(x, await_inside, call_work,
					  mode == CTR_NONE, &t_seg, note);
			atomic_store_explicit(&o->counter, v + 1,
					      memory_order_relaxed);
			if (locked)
				b_unlock(o, x->task);
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

/* A pipe's copy of a message of bytes (pickling and writing, or reading
 * and unpickling), as computation drawn ipc and noted with the pipe:
 * Python holds the GIL for it. */
static void pipe_copy_from(struct exec_ctx *x, uint32_t obj, int64_t t0,
			   int64_t ns)
{
	rec_open(x->lane, x->task, ST_IPC, t0, obj + 1);
	atomic_store_explicit(&incr_sink,
			      cpu_burn(cpu_iters_for_ns(&x->run->cpu, ns),
				       (uint64_t)t0),
			      memory_order_relaxed);
	rec_segment(x->lane, x->task, ST_IPC, t0, rec_now(x->lane), obj + 1);
}

static void pipe_copy(struct exec_ctx *x, uint32_t obj, int64_t ns)
{
	pipe_copy_from(x, obj, rec_now(x->lane), ns);
}

/* conn.send(message): the copy, then the message into the pipe (a wait
 * only when it is full). */
static int b_send(struct exec_ctx *x, const struct step *s, uint32_t obj,
		  struct sync_obj *o)
{
	struct sync_rt *rt = x->run->sync;
	struct bwait w = bwait_make(x, obj, OP_PUT, ST_QUEUE_WAIT);
	uint64_t taken_at = 0;
	int64_t depth = 0;
	int rc = 0;

	pipe_copy(x, obj,
		  PIPE_SEND_NS +
			  (int64_t)(PIPE_SEND_NS_PER_BYTE * (double)s->n));
	obj_lock(o);
	while (o->value >= o->count) {
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_b, &o->sleepers_b, INT64_MAX);
		if (rc)
			break;
	}
	if (rc == 0) {
		queue_items(rt, o)[(o->head + o->value) % o->count] = s->n;
		o->value++;
		/* Messages go in order: this one is taken once this many
		 * have been. */
		taken_at = o->released + (uint64_t)o->value;
		depth = atomic_fetch_add(&rt->sh->queued_items, 1) + 1;
		if (o->sleepers_a)
			pthread_cond_signal(&o->cond_a);
	}
	/* A message larger than the pipe's buffer is written only as the
	 * other end reads it: the send returns once it has been received. */
	while (rc == 0 && s->n > PIPE_BUFFER_BYTES && o->released < taken_at) {
		if (!w.active)
			bwait_begin(&w);
		rc = bwait_slice(&w, o, &o->cond_b, &o->sleepers_b, INT64_MAX);
	}
	obj_unlock(o);
	bwait_end(&w);
	changed(rt);
	if (depth > 0)
		depth_sample(x->lane, rec_now(x->lane), depth);
	return rc;
}

/* conn.recv(): waits for a message (queue-wait), then copies it out. */
static int b_recv(struct exec_ctx *x, uint32_t obj, struct sync_obj *o)
{
	int64_t bytes = 0, taken = 0;
	int rc = b_get_at(x, obj, o, &bytes, &taken);

	/* The copy begins where the message was taken: a sender waiting for
	 * it to be read wakes after that. */
	if (rc == 0)
		pipe_copy_from(x, obj, taken,
			       PIPE_RECV_NS + (int64_t)(PIPE_RECV_NS_PER_BYTE *
							(double)bytes));
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
			rc = exec_cpu_step(x, &p->steps[s->n]);
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
	rc = sync__file_path(rt, s->object, x->task, path, sizeof(path));
	if (rc < 0)
		return rc;
	exec_gil_release(x);
	t0 = rec_now(x->lane);
	rec_open(x->lane, x->task, ST_IO, t0, s->object + 1);
	rc = s->aux ? sync__disk_write(path, s->n)
		    : sync__disk_read(path, s->n);
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
	case STEP_COND_WAIT:
	case STEP_COND_NOTIFY:
	case STEP_REQUEST:
	case STEP_CONSUME:
	case STEP_CLOSE:
	case STEP_SEND:
	case STEP_RECV:
		return true;
	default:
		return false;
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
		rc = b_unlock(o, x->task);
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
	case STEP_COND_WAIT:
		rc = b_cond_wait(x, s->object, o);
		break;
	case STEP_COND_NOTIFY:
		b_cond_notify(o, s->n);
		rc = 0;
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
	case STEP_SEND:
		rc = b_send(x, s, s->object, o);
		break;
	case STEP_RECV:
		rc = b_recv(x, s->object, o);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (kind != STEP_INCR && kind != STEP_REQUEST && kind != STEP_DISK)
		changed(rt);
	return rc;
}
