/*
 * program_facts: the program's text read for the diagnosis (see the
 * header).  The text is parsed with the step language's own parser, then
 * each task's steps are walked once with a count of how deep it holds
 * each lock.  Tasks made by one "N x (...)" group share one range of
 * steps, so a range is walked once and its figures counted N times:
 * "10000 x (lock L, cpu 1ms, unlock L)" costs three steps.
 */
#include "program_facts.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* What one range of steps does, walked once. */
struct range_facts {
	int64_t work_ns, held_ns, held_cpu_ns, longest_cpu_ns, cpu_ns, wait_ns;
	size_t reentries, cond_waits, cond_wakes, cond_notifies;
	bool notify_all, notifies, waits, timer;
	int64_t self_lock; /* object index, or -1 */
	int64_t counter;   /* the first counter an incr updates, or -1 */
};

static bool step_is_work(const struct step *s)
{
	switch (s->kind) {
	case STEP_CPU:
	case STEP_CPU_NOGIL:
	case STEP_SLEEP:
	case STEP_BLOCK:
	case STEP_NET:
	case STEP_TIMER:
		return s->ns > 0;
	default:
		return false;
	}
}

/* Walks steps [first, first + n) of p; depth (n_objects, zeroed here)
 * counts each lock's takes, held_by (n_objects) sums the work each lock
 * held. */
static void walk(const struct program *p, uint32_t first, uint32_t n,
		 int *depth, int64_t *held_by, struct range_facts *r)
{
	int held = 0; /* locks with depth > 0 */

	memset(r, 0, sizeof(*r));
	r->self_lock = -1;
	r->counter = -1;
	memset(depth, 0, p->n_objects * sizeof(*depth));
	for (uint32_t i = first; i < first + n && i < p->n_steps; i++) {
		const struct step *s = &p->steps[i];
		const struct object_def *o = s->object < p->n_objects
						     ? &p->objects[s->object]
						     : NULL;

		if (step_is_work(s)) {
			r->work_ns += s->ns;
			if (held > 0) {
				r->held_ns += s->ns;
				if (s->kind == STEP_CPU ||
				    s->kind == STEP_CPU_NOGIL)
					r->held_cpu_ns += s->ns;
				for (size_t k = 0; k < p->n_objects; k++)
					if (depth[k] > 0)
						held_by[k] += s->ns;
			}
		}
		r->timer |= s->kind == STEP_TIMER;
		if (s->kind == STEP_CPU || s->kind == STEP_CPU_NOGIL)
			r->cpu_ns += s->ns;
		else if (step_is_work(s) && s->kind != STEP_BLOCK)
			r->wait_ns += s->ns;
		if ((s->kind == STEP_CPU || s->kind == STEP_CPU_NOGIL) &&
		    s->ns > r->longest_cpu_ns)
			r->longest_cpu_ns = s->ns;
		switch (s->kind) {
		case STEP_LOCK:
			if (!o || o->kind != OBJ_LOCK)
				break;
			if (depth[s->object] > 0) {
				if (o->count == LOCK_REENTRANT)
					r->reentries++;
				else if (r->self_lock < 0)
					r->self_lock = s->object;
			}
			if (depth[s->object]++ == 0)
				held++;
			break;
		case STEP_UNLOCK:
			if (o && depth[s->object] > 0 &&
			    --depth[s->object] == 0)
				held--;
			break;
		case STEP_INCR:
			if (o && o->kind == OBJ_COUNTER && r->counter < 0)
				r->counter = (int64_t)s->object;
			break;
		case STEP_COND_WAIT:
			r->cond_waits++;
			r->waits = true;
			break;
		case STEP_COND_NOTIFY:
			r->cond_notifies++;
			r->notifies = true;
			if (s->n <= 0)
				r->notify_all = true;
			else
				r->cond_wakes += (size_t)s->n;
			break;
		default:
			break;
		}
	}
}

void program_facts_read(const char *text, struct program_facts *f)
{
	struct program p;
	struct steps_error err;
	struct range_facts r;
	int64_t *held_by = NULL, *range_held = NULL;
	int *depth = NULL;
	uint32_t last_first = UINT32_MAX, last_n = 0;
	int64_t self_lock = -1, best = -1;

	memset(f, 0, sizeof(*f));
	if (!text || !*text)
		return;
	program_init(&p);
	if (steps_parse(text, &p, &err) < 0 || p.n_tasks == 0)
		goto out_free;
	depth = util_xcalloc(p.n_objects + 1, sizeof(*depth));
	held_by = util_xcalloc(p.n_objects + 1, sizeof(*held_by));
	range_held = util_xcalloc(p.n_objects + 1, sizeof(*range_held));
	f->task_flags = util_xcalloc(p.n_tasks, sizeof(*f->task_flags));
	f->n_tasks = p.n_tasks;
	for (size_t t = 0; t < p.n_tasks; t++) {
		const struct task_def *k = &p.tasks[t];

		if (k->first_step != last_first || k->n_steps != last_n) {
			memset(range_held, 0,
			       p.n_objects * sizeof(*range_held));
			walk(&p, k->first_step, k->n_steps, depth, range_held,
			     &r);
			last_first = k->first_step;
			last_n = k->n_steps;
		}
		for (size_t o = 0; o < p.n_objects; o++)
			held_by[o] += range_held[o];
		f->work_ns += r.work_ns;
		f->cpu_ns += r.cpu_ns;
		if (r.wait_ns > f->longest_wait_ns)
			f->longest_wait_ns = r.wait_ns;
		if (r.longest_cpu_ns > f->longest_cpu_ns)
			f->longest_cpu_ns = r.longest_cpu_ns;
		f->held_ns += r.held_ns;
		f->held_cpu_ns += r.held_cpu_ns;
		f->reentries += r.reentries;
		f->cond_waits += r.cond_waits;
		f->cond_wakes += r.cond_wakes;
		f->cond_notifies += r.cond_notifies;
		f->cond_notify_all |= r.notify_all;
		f->n_timers += r.timer;
		if (r.counter >= 0 &&
		    (!f->counter[0] ||
		     strcmp(f->counter, p.objects[r.counter].name) == 0)) {
			const struct object_def *c = &p.objects[r.counter];

			util_strlcpy(f->counter, c->name, sizeof(f->counter));
			f->counter_mode = c->count;
			f->counter_size = c->size;
			f->counter_tasks++;
		}
		if (self_lock < 0)
			self_lock = r.self_lock;
		f->task_flags[t] = (uint8_t)((r.notifies ? FACT_NOTIFIES : 0) |
					     (r.waits ? FACT_WAITS : 0));
		if (k->flags & TASK_F_DAEMON) {
			f->task_flags[t] |= FACT_DAEMON;
			f->n_daemons++;
		}
	}
	for (size_t o = 0; o < p.n_objects; o++)
		if (held_by[o] > 0 && (best < 0 || held_by[o] > held_by[best]))
			best = (int64_t)o;
	if (best >= 0) {
		util_strlcpy(f->held_lock, p.objects[best].name,
			     sizeof(f->held_lock));
		f->held_reentrant = p.objects[best].count == LOCK_REENTRANT;
	}
	if (self_lock >= 0)
		util_strlcpy(f->self_lock, p.objects[self_lock].name,
			     sizeof(f->self_lock));
	f->parsed = true;
out_free:
	free(depth);
	free(held_by);
	free(range_held);
	program_free(&p);
}

void program_facts_free(struct program_facts *f)
{
	free(f->task_flags);
	memset(f, 0, sizeof(*f));
}
