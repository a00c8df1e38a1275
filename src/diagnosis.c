/*
 * diagnosis: what the summary's figures mean for the choice of a model,
 * and what the program should change.
 *
 * The diagnosis weighs three shares of the tasks' time: computing, waiting
 * on I/O or sleep (waits that overlap in any model), and waiting on each
 * other (locks, semaphores, queues: waits that no model removes).  Two
 * thirds or more on one side decides the bound; the sentence gives the
 * shares, the reason, and what this run achieved.  What the shares hide
 * comes first: under asyncio, a loop held up by a computation or a
 * time.sleep, and waits that did not overlap; a run about one shared
 * counter; a program whose work is mostly done holding a lock, which
 * runs one task at a time in any model.  What the segments cannot show
 * (what a task does while it holds a lock) is read from the program's
 * text (program_facts).
 *
 * The sentences after it are diagnosis_notes.c's; a deadlock, an error
 * and a cancel are diagnosis_verdict.c's.
 */
#include "diagnosis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnosis_internal.h"
#include "util.h"

/* A loop lag from this long up means computation on the loop thread held
 * the other tasks back noticeably: ten times what 100,000 tasks starting
 * at once cost the loop. */
#define LOOP_LAG_BLOCKED_NS (10 * NS_PER_MS)
/* Under asyncio, waits that overlap less than this (in tenths: summed wait
 * over the time anyone waited) were blocking calls, not awaits. */
#define BLOCKING_OVERLAP_TENTHS 12
/* asyncio's debug mode logs a step that held the loop this long as slow
 * (loop.slow_callback_duration, 100 ms): a block worth acting on, however
 * long the run. */
#define LOOP_SLOW_CALLBACK_NS (100 * NS_PER_MS)

static int seg_by_start(const void *a, const void *b)
{
	const struct trace_segment *x = *(const struct trace_segment *const *)a;
	const struct trace_segment *y = *(const struct trace_segment *const *)b;

	return (x->t0_ns > y->t0_ns) - (x->t0_ns < y->t0_ns);
}

/* The time in which at least one task waited on I/O or sleep: the union of
 * those segments (-1 when it cannot be computed). */
static int64_t wait_union_ns(const struct trace *t)
{
	const struct trace_segment **w;
	size_t n = 0;
	int64_t sum;

	w = malloc((t->n_segments + 1) * sizeof(*w));
	if (!w)
		return -1;
	for (size_t i = 0; i < t->n_segments; i++) {
		uint8_t st = t->segments[i].state;

		if (seg_state_has(st, STATE_OVERLAPPABLE) &&
		    t->segments[i].t1_ns > t->segments[i].t0_ns)
			w[n++] = &t->segments[i];
	}
	qsort(w, n, sizeof(*w), seg_by_start);
	sum = trace_union_ns(w, n);
	free(w);
	return sum;
}

/* The longest time one task's computation held an event loop's lane
 * (its compute segments and the runnable ones between them: on the core
 * or not, the loop was not serving anyone else), its task in *blocker, and
 * in *ready how many other tasks were ready meanwhile: their waits were
 * over and they waited for the loop.  Returns its length, 0 when none. */
static int64_t loop_block(const struct trace *t, uint32_t *blocker,
			  size_t *ready, int64_t *computed)
{
	const struct trace_segment **on_loop;
	int64_t from = 0, to = 0, best_from = 0, best_to = 0, comp = 0;
	uint32_t task = UINT32_MAX;
	unsigned char *seen;
	size_t n = 0;

	*ready = 0;
	*computed = 0;
	on_loop = malloc((t->n_segments + 1) * sizeof(*on_loop));
	if (!on_loop)
		return 0;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if ((s->state == ST_COMPUTE || s->state == ST_RUNNABLE) &&
		    s->lane < t->n_lanes && t->lanes[s->lane].kind == LANE_LOOP)
			on_loop[n++] = s;
	}
	qsort(on_loop, n, sizeof(*on_loop), seg_by_start);
	for (size_t i = 0; i < n; i++) {
		const struct trace_segment *s = on_loop[i];

		if (s->task != task || s->t0_ns > to) {
			task = s->task;
			from = s->t0_ns;
			comp = 0;
		}
		to = s->t1_ns;
		if (s->state == ST_COMPUTE)
			comp += s->t1_ns - s->t0_ns;
		if (to - from > best_to - best_from) {
			best_from = from;
			best_to = to;
			*blocker = task;
			*computed = comp;
		}
	}
	free(on_loop);
	if (best_to <= best_from)
		return 0;
	seen = calloc(t->n_tasks + 1, 1);
	if (!seen)
		return best_to - best_from;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == ST_READY && s->task != *blocker &&
		    s->task < t->n_tasks && !seen[s->task] &&
		    s->t0_ns < best_to && s->t1_ns > best_from) {
			seen[s->task] = 1;
			(*ready)++;
		}
	}
	free(seen);
	return best_to - best_from;
}

/* The longest blocking sleep (a block step: time.sleep in a coroutine)
 * on an event loop's lane, its task in *blocker, and in *ready how many
 * other tasks were ready while it lasted.  Returns its length, 0 when
 * none. */
static int64_t loop_sleep_block(const struct trace *t, uint32_t *blocker,
				size_t *ready)
{
	const struct trace_segment *best = NULL;
	unsigned char *seen;

	*ready = 0;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == ST_SLEEP && s->lane < t->n_lanes &&
		    t->lanes[s->lane].kind == LANE_LOOP &&
		    s->note < t->n_notes &&
		    strcmp(t->notes[s->note], PROTOCOL_NOTE_BLOCKING) == 0 &&
		    (!best || s->t1_ns - s->t0_ns > best->t1_ns - best->t0_ns))
			best = s;
	}
	if (!best)
		return 0;
	*blocker = best->task;
	seen = calloc(t->n_tasks + 1, 1);
	if (!seen)
		return best->t1_ns - best->t0_ns;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == ST_READY && s->task != best->task &&
		    s->task < t->n_tasks && !seen[s->task] &&
		    s->t0_ns < best->t1_ns && s->t1_ns > best->t0_ns) {
			seen[s->task] = 1;
			(*ready)++;
		}
	}
	free(seen);
	return best->t1_ns - best->t0_ns;
}

bool diag_state_is_sync_wait(int s)
{
	return seg_state_has(s, STATE_OBJECT_WAIT);
}

int diag_percent(int64_t part, int64_t whole)
{
	return whole > 0 ? (int)(100.0 * (double)part / (double)whole + 0.5)
			 : 0;
}

static bool options_gil_off(const struct trace *t)
{
	const json_t *gil = t->options ? json_object_get(t->options, "gil")
				       : NULL;

	if (json_is_string(gil))
		return strcmp(json_string_value(gil), "off") == 0;
	return json_is_false(gil);
}

bool diag_model_is(const struct trace *t, const char *name)
{
	return strcmp(t->model, name) == 0;
}

static bool model_uses_threads(const struct trace *t)
{
	return diag_model_is(t, "threads") || diag_model_is(t, "thread-pool") ||
	       diag_model_is(t, "interpreter-pool");
}

/* The sync wait with the most time, for "(lock-wait most)". */
static int largest_sync_state(const struct trace_summary *m)
{
	int best = ST_LOCK_WAIT;

	for (int s = 0; s < ST__COUNT; s++)
		if (diag_state_is_sync_wait(s) &&
		    m->states_ns[s] > m->states_ns[best])
			best = s;
	return best;
}

/* The model that fits compute against I/O waiting, sync waits aside. */
static const char *recommend_for(int64_t cpu_ns, int64_t wait_ns)
{
	int64_t both = cpu_ns + wait_ns;

	if (wait_ns * 3 >= both * 2)
		return "asyncio";
	if (cpu_ns * 3 >= both * 2)
		return "process-pool";
	return "asyncio-executor";
}

/* The time tasks spent on a shared counter's updates: compute segments
 * that name an object (a counter's, from incr steps). */
static int64_t counter_ns(const struct trace *t)
{
	int64_t ns = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == ST_COMPUTE && s->note != 0 &&
		    s->t1_ns > s->t0_ns && s->note < t->n_notes &&
		    strcmp(t->notes[s->note], PROTOCOL_NOTE_NOGIL) != 0)
			ns += s->t1_ns - s->t0_ns;
	}
	return ns;
}

/* Computation noted as releasing the GIL (cpu-nogil steps). */
static int64_t nogil_ns(const struct trace *t)
{
	int64_t ns = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == ST_COMPUTE && s->note < t->n_notes &&
		    s->t1_ns > s->t0_ns &&
		    strcmp(t->notes[s->note], PROTOCOL_NOTE_NOGIL) == 0)
			ns += s->t1_ns - s->t0_ns;
	}
	return ns;
}

/* A program with an RLock runs under no asyncio model (program.c). */
static bool program_has_rlock(const struct trace *t)
{
	const char *text =
		json_string_value(json_object_get(t->params, "program"));

	return text && strstr(text, "rlock ") != NULL;
}

/* The run is about one shared counter: its checks count updates, and
 * updating it is most of what the tasks computed. */
static bool counter_expected(const struct trace *t)
{
	const json_t *expected = json_object_get(t->summary.checks, "expected");

	return json_is_integer(expected) && json_integer_value(expected) > 0;
}

static bool counter_bound(const struct trace *t, int64_t cpu_ns)
{
	return counter_expected(t) && cpu_ns > 0 &&
	       counter_ns(t) * 3 >= cpu_ns * 2;
}

/* An option's text, or "" when the run has no such option. */
const char *diag_option_text(const struct trace *t, const char *key)
{
	const char *v =
		t->options ? json_string_value(json_object_get(t->options, key))
			   : NULL;

	return v ? v : "";
}

void diag_set_why(struct trace_summary *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(m->why))
		memcpy(m->why + sizeof(m->why) - 4, "...", 4);
}

void diag_append_why(struct trace_summary *m, const char *fmt, ...)
{
	size_t used = strlen(m->why);
	va_list ap;
	int n;

	if (used + 5 >= sizeof(m->why))
		return;
	m->why[used++] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(m->why + used, sizeof(m->why) - used, fmt, ap);
	va_end(ap);
	if (n >= (int)(sizeof(m->why) - used))
		memcpy(m->why + sizeof(m->why) - 4, "...", 4);
}

/* The first advice given stands: it is the one the sentence leads with. */
void diag_set_advice(struct trace_summary *m, const char *word)
{
	if (!m->advice[0])
		util_strlcpy(m->advice, word, sizeof(m->advice));
}

bool diag_model_is_pool(const struct trace *t)
{
	return diag_model_is(t, "thread-pool") ||
	       diag_model_is(t, "process-pool") ||
	       diag_model_is(t, "interpreter-pool");
}

/* The lanes the tasks ran on: a pool's workers that took a task. */
size_t diag_lanes_used(const struct trace *t)
{
	unsigned char *seen = calloc(t->n_lanes + 1, 1);
	size_t n = 0;

	if (!seen)
		return 0;
	for (size_t i = 0; i < t->n_tasks; i++) {
		uint32_t lane = t->tasks[i].lane;

		if (t->tasks[i].start_ns >= 0 && lane < t->n_lanes &&
		    !seen[lane]) {
			seen[lane] = 1;
			n++;
		}
	}
	free(seen);
	return n;
}

/* The model starts every task at once: none waits for a place to run
 * (tasks that wait for each other need that). */
static bool model_runs_all_at_once(const struct trace *t)
{
	if (diag_model_is(t, "threads") || diag_model_is(t, "asyncio") ||
	    diag_model_is(t, "asyncio-executor"))
		return true;
	return diag_model_is_pool(t) && diag_lanes_used(t) >= t->n_tasks;
}

/* Time in state st on segments noted note. */
int64_t diag_noted_ns(const struct trace *t, enum seg_state st,
		      const char *note)
{
	int64_t ns = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == st && s->note < t->n_notes &&
		    s->t1_ns > s->t0_ns && strcmp(t->notes[s->note], note) == 0)
			ns += s->t1_ns - s->t0_ns;
	}
	return ns;
}

/* " and 4 other tasks were ready meanwhile (ready: waiting for the
 * loop)", or nothing when the engine recorded no ready state at all (the
 * CPython engine does not), rather than a count of 0 it did not see. */
static void ready_clause(const struct trace *t, size_t ready, char *buf,
			 size_t size)
{
	buf[0] = '\0';
	if (t->summary.states_ns[ST_READY] > 0)
		snprintf(buf, size,
			 ", and %zu other task%s ready meanwhile (ready: "
			 "waiting for the loop)",
			 ready, ready == 1 ? " was" : "s were");
}

enum fit { FIT_NO, FIT_EXACT, FIT_ALSO };

/* "this run used threads and took 2.00 s (speedup 2.9x)" */
static void describe_run(const struct trace *t, enum fit fit, char *buf,
			 size_t size)
{
	static const char *const fit_text[] = {
		[FIT_NO] = "",
		[FIT_EXACT] = ", the recommended model,",
		[FIT_ALSO] = ", which fits as well,",
	};
	const struct trace_summary *m = &t->summary;
	char wall[32];

	util_format_duration(m->wall_ns, wall, sizeof(wall));
	snprintf(buf, size, "this run used %s%s and took %s (speedup %.1fx)",
		 t->model[0] ? t->model : "an unnamed model", fit_text[fit],
		 wall, m->speedup);
}

static enum fit fit_of(const struct trace *t, const char *rec, bool also)
{
	if (diag_model_is(t, rec))
		return FIT_EXACT;
	return also ? FIT_ALSO : FIT_NO;
}

/* A Manager's Value: the tasks' time went to round trips to the manager's
 * process, two per update; no model changes that, the program must send
 * fewer messages. */
static void manager_counter(struct trace *t, const struct program_facts *f,
			    int64_t base)
{
	struct trace_summary *m = &t->summary;
	int64_t ipc = m->states_ns[ST_IPC];
	json_int_t expected =
		json_integer_value(json_object_get(m->checks, "expected"));
	json_int_t lost =
		json_integer_value(json_object_get(m->checks, "lost"));
	char per[32], wall[32], run_text[160], lost_text[200] = "";

	util_format_duration(expected > 0 ? ipc / expected : 0, per,
			     sizeof(per));
	if (lost > 0)
		snprintf(lost_text, sizeof(lost_text),
			 ", and %lld updates were lost: another task's write "
			 "came between a read and its write, and nothing "
			 "guards the value between the two messages",
			 (long long)lost);
	util_strlcpy(m->bound, "sync", sizeof(m->bound));
	util_strlcpy(m->recommend, t->model[0] ? t->model : "process-pool",
		     sizeof(m->recommend));
	diag_set_advice(m, "count-per-task");
	/* No speedup: the round trips are not work a task would do
	 * alone. */
	util_format_duration(m->wall_ns, wall, sizeof(wall));
	snprintf(run_text, sizeof(run_text), "this run used %s and took %s",
		 t->model[0] ? t->model : "an unnamed model", wall);
	diag_set_why(m,
		     "Tasks spent %d%% of their time in round trips to the "
		     "manager's process (ipc): every %s.value += 1 on a "
		     "Manager's Value is two messages, a read and a write, "
		     "%s an update, against well under a microsecond for a "
		     "multiprocessing.Value in shared memory%s; count in each "
		     "task and send its total once (a result, a Queue or a "
		     "Pipe); %s.",
		     diag_percent(ipc, base + ipc), f->counter, per, lost_text,
		     run_text);
}

/* What the tasks do holding a lock runs one task at a time whatever the
 * model: as written, sequential does it as fast, without the waiting; the
 * change is the program's (a smaller critical section), and what would
 * then overlap says which model to move to. */
static void held_by_lock(struct trace *t, const struct program_facts *facts,
			 int64_t base, char *run_text, size_t run_size)
{
	struct trace_summary *m = &t->summary;
	const int64_t *st = m->states_ns;
	/* What the lock holds: computing, waiting, or both. */
	int what = facts->held_cpu_ns == facts->held_ns ? 0
		   : facts->held_cpu_ns == 0		? 1
							: 2;
	static const char *const held_text[] = {"computing", "waiting",
						"computing and waiting"};
	static const char *const out_text[] = {"compute", "wait",
					       "compute and wait"};
	char waited[96] = "", lock_wait[32], reentered[96] = "";

	util_strlcpy(m->recommend, "sequential", sizeof(m->recommend));
	util_strlcpy(m->bound, "sync", sizeof(m->bound));
	diag_set_advice(m, "shrink-critical-section");
	describe_run(t, fit_of(t, m->recommend, false), run_text, run_size);
	if (st[ST_LOCK_WAIT] > 0)
		snprintf(waited, sizeof(waited),
			 ": they waited %s for it (lock-wait, %d%% of their "
			 "time)",
			 util_format_duration(st[ST_LOCK_WAIT], lock_wait,
					      sizeof(lock_wait)),
			 diag_percent(st[ST_LOCK_WAIT], base));
	if (facts->held_reentrant && facts->reentries > 0)
		snprintf(reentered, sizeof(reentered),
			 " (an RLock, which its owner took again %zu time%s "
			 "without waiting)",
			 facts->reentries, facts->reentries == 1 ? "" : "s");
	diag_set_why(m,
		     "Tasks hold lock %s%s for %d%% of their work (%s between "
		     "lock and unlock), so that work runs one task at a time "
		     "whatever the model%s; as written no model beats "
		     "sequential, which does the same without the waiting; "
		     "shrink the critical section: %s outside the lock and "
		     "hold it only to update what the tasks share, and the "
		     "rest overlaps (%s); %s.",
		     facts->held_lock, reentered,
		     diag_percent(facts->held_ns, facts->work_ns),
		     held_text[what], waited, out_text[what],
		     what == 0 ? "on the cores: process-pool, or threads with "
				 "gil=off"
		     : what == 1
			     ? "in any concurrent model: asyncio, or threads"
			     : "the waits in any concurrent model, the "
			       "computing on the cores",
		     run_text);
}

/* The loop was held up enough to act on.  A program's text says how long
 * it computes: one computation as long as asyncio's debug mode calls slow
 * (100 ms), or more computing in all than any task waits.  Without it,
 * what was recorded: that long a computation, a lag an eighth of the run,
 * or the other tasks ready (waiting for the loop) a tenth of their time.
 * A 20 ms computation in a half-second run of waits is how asyncio runs,
 * not a fault, however long a busy machine stretches it.  Sets the longest
 * computation on the loop, its task and how many were ready meanwhile. */
static bool loop_held_up(const struct trace *t,
			 const struct program_facts *facts, uint32_t *blocker,
			 size_t *ready, int64_t *block_ns)
{
	const struct trace_summary *m = &t->summary;
	int64_t computed;

	*block_ns = loop_block(t, blocker, ready, &computed);
	/* A program whose text says how long it computes is judged by
	 * that, not by how long a busy machine made it: one computation
	 * as long as a slow callback, or more computing in all (one task
	 * at a time on the loop) than any task waits. */
	if (facts->parsed)
		return facts->longest_cpu_ns >= LOOP_SLOW_CALLBACK_NS ||
		       (facts->cpu_ns >= LOOP_LAG_BLOCKED_NS &&
			facts->cpu_ns >= facts->longest_wait_ns);
	/* A short computation that a busy machine stretched is the
	 * machine's, not the program's. */
	if (*block_ns > 0 && computed < LOOP_LAG_BLOCKED_NS)
		return false;
	if (*block_ns == 0)
		computed = m->max_loop_lag_ns;
	return computed >= LOOP_SLOW_CALLBACK_NS ||
	       m->max_loop_lag_ns * 8 >= m->wall_ns ||
	       m->states_ns[ST_READY] * 10 >= m->task_time_ns;
}

static void diagnose(struct trace *t, const struct program_facts *facts)
{
	struct trace_summary *m = &t->summary;
	const int64_t *st = m->states_ns;
	int64_t cpu = st[ST_COMPUTE];
	int64_t wait = 0, sync = 0, base, longest_ns = 0;
	char run_text[160], longest[32], few[64] = "";
	const char *rec;
	enum fit fit;
	int64_t waited_ns, block_ns = 0;
	uint32_t blocker = 0;
	size_t ready = 0;
	char ready_text[96];

	for (int s = 0; s < ST__COUNT; s++) {
		if (seg_state_has(s, STATE_OVERLAPPABLE))
			wait += st[s];
		if (diag_state_is_sync_wait(s))
			sync += st[s];
	}
	base = cpu + wait + sync;
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct trace_task *k = &t->tasks[i];

		if (k->start_ns >= 0 && k->end_ns - k->start_ns > longest_ns)
			longest_ns = k->end_ns - k->start_ns;
	}
	util_format_duration(longest_ns, longest, sizeof(longest));

	if (facts->parsed && facts->counter_mode == CTR_MODE_MANAGER &&
	    counter_expected(t) && st[ST_IPC] * 3 >= (base + st[ST_IPC]) * 2) {
		manager_counter(t, facts, base);
		return;
	}
	if (base == 0) {
		util_strlcpy(m->bound, "mixed", sizeof(m->bound));
		util_strlcpy(m->recommend, "sequential", sizeof(m->recommend));
		util_strlcpy(m->why,
			     "No task recorded any computing or waiting, so "
			     "there is nothing to overlap.",
			     sizeof(m->why));
		return;
	}

	uint32_t sleeper = 0;
	size_t sleep_ready = 0;
	int64_t sleep_block_ns = loop_sleep_block(t, &sleeper, &sleep_ready);

	if (sleep_block_ns >= LOOP_LAG_BLOCKED_NS && sleeper < t->n_tasks) {
		char blocked[32], name[TRACE_TASK_NAME_MAX];

		/* A blocking call in a coroutine: the fix is in the
		 * program, the loop is the right place for the waits. */
		rec = "asyncio";
		describe_run(t, fit_of(t, rec, false), run_text,
			     sizeof(run_text));
		util_format_duration(sleep_block_ns, blocked, sizeof(blocked));
		trace_task_name(t, &t->tasks[sleeper], name, sizeof(name));
		util_strlcpy(m->bound, "io", sizeof(m->bound));
		util_strlcpy(m->advice, "await-asyncio-sleep",
			     sizeof(m->advice));
		ready_clause(t, sleep_ready, ready_text, sizeof(ready_text));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time waiting on I/O or "
			 "sleep, but the loop was blocked for %s by %s's "
			 "time.sleep, a blocking call in a coroutine%s; await "
			 "asyncio.sleep instead (a blocking call with no async "
			 "form goes to asyncio.to_thread); %s.",
			 diag_percent(wait, base), blocked, name, ready_text,
			 run_text);
	} else if (diag_model_is(t, "asyncio") && cpu > 0 &&
		   m->max_loop_lag_ns >= LOOP_LAG_BLOCKED_NS &&
		   (wait * 3 >= base * 2 || st[ST_READY] * 2 >= cpu) &&
		   loop_held_up(t, facts, &blocker, &ready, &block_ns)) {
		char lag[32], blocked[32], who[256] = "";

		/* Waits overlap, but the computation on the loop thread
		 * held every other task's wake-up back. */
		rec = "asyncio-executor";
		describe_run(t, FIT_NO, run_text, sizeof(run_text));
		util_format_duration(m->max_loop_lag_ns, lag, sizeof(lag));
		if (block_ns > 0 && blocker < t->n_tasks) {
			char name[TRACE_TASK_NAME_MAX];

			util_format_duration(block_ns, blocked,
					     sizeof(blocked));
			trace_task_name(t, &t->tasks[blocker], name,
					sizeof(name));
			ready_clause(t, ready, ready_text, sizeof(ready_text));
			snprintf(who, sizeof(who),
				 "the loop was blocked for %s by %s's "
				 "computation%s; ",
				 blocked, name, ready_text);
		}
		/* Waiting tasks held up by the computation for half as
		 * long as it computed or more: whatever the shares, the
		 * loop is the matter.  The bound counts the computation's
		 * runnable time (the loop thread wanting a core it had
		 * lost to the machine) as computing: a busy machine does
		 * not make the run less CPU-bound. */
		util_strlcpy(m->bound,
			     wait * 3 >= (base + st[ST_RUNNABLE]) * 2 ? "io"
								      : "mixed",
			     sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time waiting on I/O or "
			 "sleep and %d%% computing; the waits overlap on the "
			 "loop, but %scomputing on the loop thread held "
			 "every other task up to %s (max loop lag); asyncio "
			 "with an executor keeps the waits on the loop and "
			 "runs the computation in a pool; %s.",
			 diag_percent(wait, base), diag_percent(cpu, base), who,
			 lag, run_text);
	} else if (wait * 3 >= base * 2 && diag_model_is(t, "asyncio") &&
		   t->n_tasks >= 2 && (waited_ns = wait_union_ns(t)) > 0 &&
		   wait * 10 < waited_ns * BLOCKING_OVERLAP_TENTHS) {
		/* Waits that an event loop should have overlapped did not:
		 * they were blocking calls on the loop thread (files). */
		rec = "thread-pool";
		describe_run(t, FIT_NO, run_text, sizeof(run_text));
		util_strlcpy(m->bound, "io", sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time waiting on I/O and "
			 "%d%% computing, but the waits did not overlap: each "
			 "was a blocking call on the loop thread (asyncio has "
			 "no non-blocking files), so nothing else ran "
			 "meanwhile; a thread pool overlaps them (or, in "
			 "asyncio, asyncio.to_thread: asyncio-executor with "
			 "offload_io=on); %s.",
			 diag_percent(wait, base), diag_percent(cpu, base),
			 run_text);
	} else if (wait * 3 < base * 2 && counter_bound(t, cpu)) {
		json_t *lost = json_object_get(m->checks, "lost");
		char shares[128];

		if (facts->parsed && facts->counter_mode == CTR_MODE_ARRAY)
			snprintf(shares, sizeof(shares),
				 "Tasks spent %d%% of their time updating "
				 "the shared array '%s'",
				 diag_percent(counter_ns(t), base),
				 facts->counter);
		else
			snprintf(shares, sizeof(shares),
				 "Tasks spent %d%% of their time updating one "
				 "shared counter",
				 diag_percent(counter_ns(t), base));
		util_strlcpy(m->bound, "sync", sizeof(m->bound));
		if (json_integer_value(lost) > 0 && facts->parsed &&
		    facts->counter_mode == CTR_MODE_ARRAY) {
			/* Tasks that share an element race on it. */
			rec = t->model[0] ? t->model : "process-pool";
			diag_set_advice(m, "element-per-task");
			describe_run(t, FIT_NO, run_text, sizeof(run_text));
			diag_set_why(
				m,
				"%s, and %lld updates were lost: %zu tasks "
				"shared the %lld element%s of array '%s', "
				"and another task wrote between an "
				"update's read and its write (the array's "
				"lock guards each, not both); give each "
				"task an element of its own (array %s=%zu) "
				"or update it inside %s.get_lock(); %s.",
				shares, (long long)json_integer_value(lost),
				facts->counter_tasks,
				(long long)facts->counter_size,
				facts->counter_size == 1 ? "" : "s",
				facts->counter, facts->counter,
				facts->counter_tasks, facts->counter, run_text);
		} else if (json_integer_value(lost) > 0) {
			/* No model fixes a race; the program must. */
			rec = t->model[0] ? t->model : "threads";
			diag_set_advice(m, "lock-the-update");
			describe_run(t, FIT_NO, run_text, sizeof(run_text));
			diag_set_why(m,
				     "%s, and %lld updates were lost: another "
				     "task wrote between an update's read and "
				     "its write; no model fixes that by "
				     "itself: guard the update with a lock "
				     "(sync=lock) or make it atomic, and keep "
				     "this model; %s.",
				     shares,
				     (long long)json_integer_value(lost),
				     run_text);
		} else if (facts->parsed &&
			   facts->counter_mode == CTR_MODE_ARRAY &&
			   facts->counter_size >=
				   (int64_t)facts->counter_tasks) {
			/* An element each: nothing to guard, but the array's
			 * one lock still takes every access. */
			rec = "process-pool";
			diag_set_advice(m, "unlocked-array");
			describe_run(t, fit_of(t, rec, false), run_text,
				     sizeof(run_text));
			diag_set_why(m,
				     "%s, and no update was lost: each task "
				     "updated an element of its own of array "
				     "'%s', so there is nothing to guard; yet "
				     "every read and write took the array's "
				     "one lock, where the processes met and "
				     "waited for each other: make it "
				     "Array('q', %lld, lock=False), or count "
				     "in each task and write its element once; "
				     "%s.",
				     shares, facts->counter,
				     (long long)facts->counter_size, run_text);
		} else {
			/* Exact: every update took its turn on one object,
			 * so no model runs them side by side. */
			rec = "sequential";
			diag_set_advice(m, "count-per-task");
			describe_run(t, fit_of(t, rec, false), run_text,
				     sizeof(run_text));
			diag_set_why(
				m,
				"%s, and no update was lost; but updates "
				"to one counter run one at a time in any "
				"model (in turn, or some are lost), so "
				"more workers add only waiting (lock-wait, "
				"gil-wait) and start-up: sequential does "
				"the same without waiting; to use the "
				"cores, each task counts on its own and "
				"adds its total once; %s.",
				shares, run_text);
		}
	} else if (facts->parsed && t->n_tasks >= 2 && facts->work_ns > 0 &&
		   facts->held_ns * 3 >= facts->work_ns * 2) {
		held_by_lock(t, facts, base, run_text, sizeof(run_text));
		rec = "sequential";
	} else if (wait * 3 >= base * 2) {
		rec = "asyncio";
		fit = fit_of(t, rec, model_uses_threads(t) && t->n_tasks <= 32);
		if (t->n_tasks <= 32)
			snprintf(few, sizeof(few),
				 " (threads do as well for %zu tasks)",
				 t->n_tasks);
		describe_run(t, fit, run_text, sizeof(run_text));
		util_strlcpy(m->bound, "io", sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time waiting on I/O or "
			 "sleep and %d%% computing; waiting overlaps even in "
			 "one thread, so asyncio finishes in about the "
			 "longest task, %s here%s; %s.",
			 diag_percent(wait, base), diag_percent(cpu, base),
			 longest, few, run_text);
	} else if (cpu * 3 >= base * 2 && model_uses_threads(t) &&
		   nogil_ns(t) * 3 >= cpu * 2) {
		/* The computation releases the GIL: threads use the cores
		 * as they are, with the GIL on. */
		rec = t->model;
		describe_run(t, FIT_EXACT, run_text, sizeof(run_text));
		util_strlcpy(m->bound, "cpu", sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time computing, %d%% of "
			 "it in code that releases the GIL (a C extension, "
			 "as NumPy): those computations overlap on separate "
			 "cores in threads as they are, without a process "
			 "pool's start-up and copies; %s, parallelism %.1f.",
			 diag_percent(cpu, base),
			 diag_percent(nogil_ns(t), cpu), run_text,
			 m->parallelism);
	} else if (cpu * 3 >= base * 2) {
		char gil[192] = "";

		rec = "process-pool";
		/* Threads without a GIL, and interpreters with one each,
		 * compute on every core too. */
		fit = fit_of(t, rec,
			     ((model_uses_threads(t) ||
			       diag_model_is(t, "asyncio-executor")) &&
			      options_gil_off(t)) ||
				     diag_model_is(t, "interpreter-pool"));
		if (st[ST_GIL_WAIT] * 10 >= cpu) {
			char gil_wait[32];

			util_format_duration(st[ST_GIL_WAIT], gil_wait,
					     sizeof(gil_wait));
			snprintf(gil, sizeof(gil),
				 ", and they waited another %s for the GIL, "
				 "which lets one thread compute at a time",
				 gil_wait);
		} else if (st[ST_RUNNABLE] * 10 >= cpu) {
			char runnable[32];

			util_format_duration(st[ST_RUNNABLE], runnable,
					     sizeof(runnable));
			/* No more tasks than cores: the cores went to other
			 * programs on this machine. */
			snprintf(gil, sizeof(gil),
				 ", and they waited another %s for a core "
				 "(runnable): %s",
				 runnable,
				 m->peak_inflight > (t->host.cores > 0
							     ? t->host.cores
							     : 1)
					 ? "more tasks computing than cores "
					   "take turns"
					 : "no more tasks than cores computed, "
					   "so other programs had the cores");
		}
		describe_run(t, fit, run_text, sizeof(run_text));
		util_strlcpy(m->bound, "cpu", sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time computing and %d%% "
			 "waiting%s; computation overlaps only on separate "
			 "cores, so a process pool (or threads with gil=off) "
			 "uses all %d cores; %s, parallelism %.1f.",
			 diag_percent(cpu, base),
			 diag_percent(wait + sync, base), gil,
			 t->host.cores > 0 ? t->host.cores : 1, run_text,
			 m->parallelism);
	} else if (sync >= cpu && sync >= wait) {
		char workers[160] = "", rest[160];
		bool mixed_rest = false;
		int most = largest_sync_state(m);

		rec = recommend_for(cpu, wait);
		if (strcmp(rec, "asyncio-executor") == 0) {
			/* The waits for each other bound the run, and the
			 * rest is computing and waiting in about equal
			 * parts: an executor's pool gains little, and the
			 * model that starts every task at once as it is
			 * fits. */
			rec = model_runs_all_at_once(t) ? t->model : "threads";
			mixed_rest = true;
		}
		/* asyncio has no RLock: waits on one stay on threads. */
		if (strncmp(rec, "asyncio", 7) == 0 && program_has_rlock(t))
			rec = "threads";
		/* Tasks that wait for each other must all run at once: in a
		 * pool, one queued behind them would never start. */
		if (strstr(rec, "pool"))
			snprintf(workers, sizeof(workers),
				 " with a worker for each of the %zu tasks "
				 "(tasks that wait for each other must all "
				 "run at once)",
				 t->n_tasks);
		describe_run(t, fit_of(t, rec, false), run_text,
			     sizeof(run_text));
		util_strlcpy(m->bound, "sync", sizeof(m->bound));
		if (mixed_rest)
			snprintf(rest, sizeof(rest),
				 "the rest, computing and waiting in about "
				 "equal parts, leaves another model little to "
				 "gain: %s",
				 rec);
		else
			snprintf(rest, sizeof(rest), "for the rest %s", rec);
		/* A long model name could cut the sentence: visibly. */
		diag_set_why(m,
			     "Tasks spent %d%% of their time waiting for each "
			     "other (%s most), %d%% waiting on I/O or sleep "
			     "and %d%% computing; %s, and %s%s fits best; %s.",
			     diag_percent(sync, base), seg_state_name(most),
			     diag_percent(wait, base), diag_percent(cpu, base),
			     most == ST_EVENT_WAIT && facts->cond_waits > 0
				     ? "the waiters waited for a notify "
				       "(cond.wait), as the program says, and "
				       "no model makes a wait for another "
				       "task's notify shorter"
				     : "the shared objects limit the overlap "
				       "more than the model does",
			     rest, workers, run_text);
	} else if (wait * 3 < (cpu + wait)) {
		/* Computing and waiting for each other, with next to no
		 * I/O: nothing for an event loop to overlap, so no
		 * executor; the computing outside the shared objects
		 * runs on the cores. */
		rec = "process-pool";
		describe_run(t, fit_of(t, rec, false), run_text,
			     sizeof(run_text));
		util_strlcpy(m->bound, "cpu", sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time computing, %d%% "
			 "waiting for each other (%s most) and %d%% on I/O; "
			 "with no I/O to overlap, an event loop adds "
			 "nothing: the computing outside the shared objects "
			 "overlaps only on separate cores, which a process "
			 "pool (or threads with gil=off) uses, while the "
			 "waits for each other stay whatever the model; %s.",
			 diag_percent(cpu, base), diag_percent(sync, base),
			 seg_state_name(largest_sync_state(m)),
			 diag_percent(wait, base), run_text);
	} else if (sync > 0 &&
		   strcmp(recommend_for(cpu, wait), "asyncio") == 0) {
		/* Waiting for each other, waiting on I/O and a little
		 * computing: the waits for each other stay whatever the
		 * model; of the rest, I/O dominates, and nothing computes
		 * enough for a pool to be worth its start-up. */
		rec = "asyncio";
		describe_run(t, fit_of(t, rec, model_uses_threads(t)), run_text,
			     sizeof(run_text));
		util_strlcpy(m->bound, "mixed", sizeof(m->bound));
		diag_set_why(m,
			     "Tasks spent %d%% of their time waiting on I/O or "
			     "sleep, %d%% waiting for each other (%s most) and "
			     "%d%% computing; the waits for each other stay "
			     "whatever the model, and of the rest waiting on "
			     "I/O dominates, which overlaps even in one "
			     "thread: asyncio (or threads) fits, with no pool "
			     "to start for the little computing; %s.",
			     diag_percent(wait, base), diag_percent(sync, base),
			     seg_state_name(largest_sync_state(m)),
			     diag_percent(cpu, base), run_text);
	} else {
		rec = "asyncio-executor";
		describe_run(t, fit_of(t, rec, false), run_text,
			     sizeof(run_text));
		util_strlcpy(m->bound, "mixed", sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time computing and %d%% "
			 "waiting; neither dominates, so asyncio with an "
			 "executor overlaps the waits on the loop while a "
			 "pool runs the computation on the cores; %s.",
			 diag_percent(cpu, base),
			 diag_percent(wait + sync, base), run_text);
	}
	/* asyncio has no RLock: a program with one stays on threads. */
	if (strncmp(rec, "asyncio", 7) == 0 && program_has_rlock(t))
		rec = "threads";
	util_strlcpy(m->recommend, rec, sizeof(m->recommend));
	diag_add_notes(t, facts, cpu, wait);
}

void diagnosis_compute(struct trace *t)
{
	struct trace_summary *m = &t->summary;
	struct program_facts facts;

	program_facts_read(
		json_string_value(json_object_get(t->params, "program")),
		&facts);
	m->advice[0] = '\0';
	diagnose(t, &facts);
	if (t->status == RUN_DEADLOCK)
		diag_deadlock(t, &facts);
	else
		diag_unfinished(t);
	diag_add_cut(t, &facts);
	program_facts_free(&facts);
	/* A workload that knows why its checks came out as they did says so
	 * in checks.explain (sync.c: a counter on an event loop is exact);
	 * the diagnosis ends with it. */
	json_t *explain = json_object_get(m->checks, "explain");

	if (json_is_string(explain)) {
		size_t used = strlen(m->why);

		snprintf(m->why + used, sizeof(m->why) - used, "%s%s",
			 used ? " " : "", json_string_value(explain));
	}
}
