/*
 * sync_verdict: what the objects say when the run is over or stuck: the
 * watchdog's deadlock verdict, read from the registry (every running task
 * waiting on an object, nothing changing), the message that names who
 * waits for what, and the workload checks the objects counted.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "exec_core.h"
#include "sync_internal.h"

/* Groups of (object, operation) a deadlock message lists at most. */
#define MESSAGE_MAX_GROUPS 16

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
	case OP_COND:
		return "condition";
	default:
		return "object";
	}
}

/* "(empty), nobody can put" and the like, from the object's state now. */
static void op_condition(struct sync_rt *rt, uint32_t obj, enum wait_op op,
			 bool counter_lock, uint32_t waiter, char *buf,
			 size_t size)
{
	struct sync_obj *o = &rt->objs[obj];
	int64_t value, count = o->count;
	char holder[64];

	obj_lock(o);
	value = o->value;
	obj_unlock(o);
	switch (op) {
	case OP_LOCK:
		if (value == (int64_t)waiter + 1)
			snprintf(buf, size,
				 "(held by itself: a Lock is not re-entrant; "
				 "an RLock is)");
		else if (value > 0 && (uint64_t)value <= rt->sh->n_tasks)
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
		snprintf(buf, size,
			 o->kind == OBJ_PIPE ? "(nothing sent), nobody can send"
					     : "(empty), nobody can put");
		break;
	case OP_PUT:
		if (o->kind == OBJ_PIPE) {
			snprintf(buf, size,
				 "(a message larger than its buffer, not "
				 "received), nobody can recv");
			break;
		}
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
	case OP_COND:
		snprintf(buf, size,
			 "(not notified), nobody notifies again (notify "
			 "wakes one waiter, notify all every one; one given "
			 "before a wait is lost)");
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
		op_condition(rt, gr->obj, op, d->kind == OBJ_COUNTER, gr->first,
			     cond, sizeof(cond));
		if (gr->n == 1)
			append(buf, size, &off, "%s %s waits for", g ? ";" : "",
			       name);
		else
			append(buf, size, &off, "%s %s and %u more wait for",
			       g ? ";" : "", name, gr->n - 1);
		append(buf, size, &off, " %s '%s' %s",
		       d->kind == OBJ_COUNTER ? "the lock of counter"
		       : d->kind == OBJ_PIPE  ? "pipe"
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
			for (int64_t k = 0; k < o->size; k++)
				got += atomic_load(&counter_cells(rt, o)[k]);
		}
		queues |= o->kind == OBJ_QUEUE;
		files |= o->kind == OBJ_FILE;
	}
	for (size_t i = 0; i < p->n_steps; i++) {
		requests |= p->steps[i].kind == STEP_REQUEST;
		forwards |= p->steps[i].kind == STEP_CONSUME &&
			    p->steps[i].aux > 0;
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
				json_string(
					"The counter is exact because on an "
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
