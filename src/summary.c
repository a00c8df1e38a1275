/*
 * summary: the numbers and the diagnosis of a finished trace.
 *
 * Every figure comes from the segments, so a stored trace summarised again
 * gives the same result.  "Work" is what a task would do alone: compute,
 * and the waits the protocol marks overlappable (io, connect, sleep,
 * backoff: what a state counts as is its row in protocol.c).  The other
 * states exist only because tasks run
 * together (queued, gil-wait, lock/sem/queue/barrier/event/rate waits) or
 * because of the model's machinery (startup, ipc), so they are left out of
 * the one-after-another time that speedup divides by the wall time.
 *
 * The diagnosis weighs three shares of the tasks' time: computing, waiting
 * on I/O or sleep (waits that overlap in any model), and waiting on each
 * other (locks, semaphores, queues: waits that no model removes).  Two
 * thirds or more on one side decides the bound; the sentence gives the
 * shares, the reason, and what this run achieved.  Under asyncio, a run
 * whose loop was blocked by computation (a large max loop lag) while it
 * was I/O-bound, or while tasks were ready (waiting for the loop) for at
 * least half as long as anything computed, is pointed at asyncio with an
 * executor
 * instead, and the sentence names the computation and how many tasks it
 * held up.
 *
 * A run that did not finish says so first.  A deadlock is a verdict on the
 * program or on the model, not on the shares: when tasks never started,
 * the model had no room for the tasks the waiting ones needed, and one that
 * starts every task at once is the recommendation; when every task had
 * started, the tasks wait on each other in a cycle (or for something no
 * task will do) and no model fixes that, so nothing is recommended.  An
 * error or a cancel keeps the diagnosis of what ran, said to be partial.
 */
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A loop lag from this long up means computation on the loop thread held
 * the other tasks back noticeably: ten times what 100,000 tasks starting
 * at once cost the loop. */
#define LOOP_LAG_BLOCKED_NS (10 * NS_PER_MS)
/* Under asyncio, waits that overlap less than this (in tenths: summed wait
 * over the time anyone waited) were blocking calls, not awaits. */
#define BLOCKING_OVERLAP_TENTHS 12

static int seg_by_lane_then_start(const void *a, const void *b)
{
	const struct trace_segment *x = *(const struct trace_segment *const *)a;
	const struct trace_segment *y = *(const struct trace_segment *const *)b;

	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	return (x->t0_ns > y->t0_ns) - (x->t0_ns < y->t0_ns);
}

static int seg_by_start(const void *a, const void *b)
{
	const struct trace_segment *x = *(const struct trace_segment *const *)a;
	const struct trace_segment *y = *(const struct trace_segment *const *)b;

	return (x->t0_ns > y->t0_ns) - (x->t0_ns < y->t0_ns);
}

/* The time n segments sorted by start cover, overlaps counted once. */
static int64_t union_ns(const struct trace_segment *const *s, size_t n)
{
	int64_t sum = 0, from, to;

	if (n == 0)
		return 0;
	from = s[0]->t0_ns;
	to = s[0]->t1_ns;
	for (size_t i = 1; i < n; i++) {
		if (s[i]->t0_ns > to) {
			sum += to - from;
			from = s[i]->t0_ns;
		}
		if (s[i]->t1_ns > to)
			to = s[i]->t1_ns;
	}
	return sum + (to - from);
}

/* True when state s has flag (protocol.h: what the diagnosis reads of a
 * state). */
static bool state_has(unsigned s, unsigned flag)
{
	const struct state_def *d = seg_state_def(s);

	return d && (d->flags & flag);
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

		if (state_has(st, STATE_OVERLAPPABLE) &&
		    t->segments[i].t1_ns > t->segments[i].t0_ns)
			w[n++] = &t->segments[i];
	}
	qsort(w, n, sizeof(*w), seg_by_start);
	sum = union_ns(w, n);
	free(w);
	return sum;
}

/* The longest time one task's computation held an event loop's lane
 * (its compute segments and the runnable ones between them: on the core
 * or not, the loop was not serving anyone else), its task in *blocker, and
 * in *ready how many other tasks were ready meanwhile: their waits were
 * over and they waited for the loop.  Returns its length, 0 when none. */
static int64_t loop_block(const struct trace *t, uint32_t *blocker,
			  size_t *ready)
{
	const struct trace_segment **on_loop;
	int64_t from = 0, to = 0, best_from = 0, best_to = 0;
	uint32_t task = UINT32_MAX;
	unsigned char *seen;
	size_t n = 0;

	*ready = 0;
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
		}
		to = s->t1_ns;
		if (to - from > best_to - best_from) {
			best_from = from;
			best_to = to;
			*blocker = task;
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

/* A task's own work: computing, or a wait another model could overlap. */
static bool state_is_work(int s)
{
	return s == ST_COMPUTE || state_has(s, STATE_OVERLAPPABLE);
}

static bool state_is_sync_wait(int s)
{
	return state_has(s, STATE_OBJECT_WAIT);
}

/* A task's start or end as one sortable number: its time times two (as
 * unsigned, so any time fits), plus one for a start, so that an end and a
 * start at the same instant sort end first and are not both in flight.
 * Eight bytes an edge: 100,000 tasks sort in 1.6 MB. */
static int edge_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int64_t peak_inflight(const struct trace *t)
{
	uint64_t *edges;
	size_t n = 0;
	int64_t now = 0, peak = 0;

	if (!t->n_tasks)
		return 0;
	edges = util_xcalloc(t->n_tasks * 2, sizeof(*edges));
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct trace_task *k = &t->tasks[i];

		if (k->start_ns < 0)
			continue;
		edges[n++] = (uint64_t)k->start_ns * 2 + 1;
		if (k->end_ns >= k->start_ns)
			edges[n++] = (uint64_t)k->end_ns * 2;
	}
	qsort(edges, n, sizeof(*edges), edge_cmp);
	for (size_t i = 0; i < n; i++) {
		now += edges[i] & 1 ? 1 : -1;
		if (now > peak)
			peak = now;
	}
	free(edges);
	return peak;
}

static int percent(int64_t part, int64_t whole)
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

static bool model_is(const struct trace *t, const char *name)
{
	return strcmp(t->model, name) == 0;
}

static bool model_uses_threads(const struct trace *t)
{
	return model_is(t, "threads") || model_is(t, "thread-pool") ||
	       model_is(t, "interpreter-pool");
}

/* The sync wait with the most time, for "(lock-wait most)". */
static int largest_sync_state(const struct trace_summary *m)
{
	int best = ST_LOCK_WAIT;

	for (int s = 0; s < ST__COUNT; s++)
		if (state_is_sync_wait(s) &&
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
static bool counter_bound(const struct trace *t, int64_t cpu_ns)
{
	const json_t *expected = json_object_get(t->summary.checks, "expected");

	return json_is_integer(expected) && json_integer_value(expected) > 0 &&
	       cpu_ns > 0 && counter_ns(t) * 3 >= cpu_ns * 2;
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
	if (model_is(t, rec))
		return FIT_EXACT;
	return also ? FIT_ALSO : FIT_NO;
}

static void diagnose(struct trace *t)
{
	struct trace_summary *m = &t->summary;
	const int64_t *st = m->states_ns;
	int64_t cpu = st[ST_COMPUTE];
	int64_t wait = 0, sync = 0, base, longest_ns = 0;
	char run_text[160], longest[32], few[64] = "";
	const char *rec;
	enum fit fit;
	int64_t waited_ns;

	for (int s = 0; s < ST__COUNT; s++) {
		if (state_has(s, STATE_OVERLAPPABLE))
			wait += st[s];
		if (state_is_sync_wait(s))
			sync += st[s];
	}
	base = cpu + wait + sync;
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct trace_task *k = &t->tasks[i];

		if (k->start_ns >= 0 && k->end_ns - k->start_ns > longest_ns)
			longest_ns = k->end_ns - k->start_ns;
	}
	util_format_duration(longest_ns, longest, sizeof(longest));

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
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time waiting on I/O or "
			 "sleep, but the loop was blocked for %s by %s's "
			 "time.sleep, a blocking call in a coroutine, and %zu "
			 "other task%s ready meanwhile (ready: waiting for "
			 "the loop); await asyncio.sleep instead (a blocking "
			 "call with no async form goes to asyncio.to_thread); "
			 "%s.",
			 percent(wait, base), blocked, name, sleep_ready,
			 sleep_ready == 1 ? " was" : "s were", run_text);
	} else if (model_is(t, "asyncio") && cpu > 0 &&
		   m->max_loop_lag_ns >= LOOP_LAG_BLOCKED_NS &&
		   (wait * 3 >= base * 2 || st[ST_READY] * 2 >= cpu)) {
		char lag[32], blocked[32], who[256] = "";
		uint32_t blocker = 0;
		size_t ready = 0;
		int64_t block_ns = loop_block(t, &blocker, &ready);

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
			snprintf(who, sizeof(who),
				 "the loop was blocked for %s by %s's "
				 "computation, and %zu other task%s ready "
				 "meanwhile (ready: waiting for the loop); ",
				 blocked, name, ready,
				 ready == 1 ? " was" : "s were");
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
			 percent(wait, base), percent(cpu, base), who, lag,
			 run_text);
	} else if (wait * 3 >= base * 2 && model_is(t, "asyncio") &&
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
			 percent(wait, base), percent(cpu, base), run_text);
	} else if (wait * 3 < base * 2 && counter_bound(t, cpu)) {
		json_t *lost = json_object_get(m->checks, "lost");
		char shares[96];

		snprintf(shares, sizeof(shares),
			 "Tasks spent %d%% of their time updating one shared "
			 "counter",
			 percent(counter_ns(t), base));
		util_strlcpy(m->bound, "sync", sizeof(m->bound));
		if (json_integer_value(lost) > 0) {
			/* No model fixes a race; the program must. */
			rec = t->model[0] ? t->model : "threads";
			describe_run(t, FIT_NO, run_text, sizeof(run_text));
			if (snprintf(m->why, sizeof(m->why),
				     "%s, and %lld updates were lost: another "
				     "task wrote between an update's read and "
				     "its write; no model fixes that by "
				     "itself: guard the update with a lock "
				     "(sync=lock) or make it atomic, and keep "
				     "this model; %s.",
				     shares,
				     (long long)json_integer_value(lost),
				     run_text) >= (int)sizeof(m->why))
				memcpy(m->why + sizeof(m->why) - 4, "...", 4);
		} else {
			/* Exact: every update took its turn on one object,
			 * so no model runs them side by side. */
			rec = "sequential";
			describe_run(t, fit_of(t, rec, false), run_text,
				     sizeof(run_text));
			if (snprintf(m->why, sizeof(m->why),
				     "%s, and no update was lost; but updates "
				     "to one counter run one at a time in any "
				     "model (in turn, or some are lost), so "
				     "more workers add only waiting (lock-wait, "
				     "gil-wait) and start-up: sequential does "
				     "the same without waiting; to use the "
				     "cores, each task counts on its own and "
				     "adds its total once; %s.",
				     shares, run_text) >= (int)sizeof(m->why))
				memcpy(m->why + sizeof(m->why) - 4, "...", 4);
		}
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
			 percent(wait, base), percent(cpu, base), longest, few,
			 run_text);
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
			 percent(cpu, base), percent(nogil_ns(t), cpu),
			 run_text, m->parallelism);
	} else if (cpu * 3 >= base * 2) {
		char gil[128] = "";

		rec = "process-pool";
		/* Threads without a GIL, and interpreters with one each,
		 * compute on every core too. */
		fit = fit_of(t, rec,
			     ((model_uses_threads(t) ||
			       model_is(t, "asyncio-executor")) &&
			      options_gil_off(t)) ||
				     model_is(t, "interpreter-pool"));
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
			snprintf(gil, sizeof(gil),
				 ", and they waited another %s for a core "
				 "(runnable): more tasks computing than cores "
				 "take turns",
				 runnable);
		}
		describe_run(t, fit, run_text, sizeof(run_text));
		util_strlcpy(m->bound, "cpu", sizeof(m->bound));
		snprintf(m->why, sizeof(m->why),
			 "Tasks spent %d%% of their time computing and %d%% "
			 "waiting%s; computation overlaps only on separate "
			 "cores, so a process pool (or threads with gil=off) "
			 "uses all %d cores; %s, parallelism %.1f.",
			 percent(cpu, base), percent(wait + sync, base), gil,
			 t->host.cores > 0 ? t->host.cores : 1, run_text,
			 m->parallelism);
	} else if (sync >= cpu && sync >= wait) {
		char workers[160] = "";

		rec = recommend_for(cpu, wait);
		/* asyncio has no RLock: waits on one stay on threads. */
		if (strncmp(rec, "asyncio", 7) == 0 && program_has_rlock(t))
			rec = "threads";
		/* Tasks that wait for each other must all run at once: in a
		 * pool, one queued behind them would never start. */
		if (strcmp(rec, "process-pool") == 0)
			snprintf(workers, sizeof(workers),
				 " with a worker for each of the %zu tasks "
				 "(tasks that wait for each other must all "
				 "run at once)",
				 t->n_tasks);
		describe_run(t, fit_of(t, rec, false), run_text,
			     sizeof(run_text));
		util_strlcpy(m->bound, "sync", sizeof(m->bound));
		/* A long model name could cut the sentence: visibly. */
		if (snprintf(m->why, sizeof(m->why),
			     "Tasks spent %d%% of their time waiting for each "
			     "other (%s most), %d%% waiting on I/O or sleep "
			     "and %d%% computing; the shared objects limit the "
			     "overlap more than the model does, and for the "
			     "rest %s%s fits best; %s.",
			     percent(sync, base),
			     seg_state_name(largest_sync_state(m)),
			     percent(wait, base), percent(cpu, base), rec,
			     workers, run_text) >= (int)sizeof(m->why))
			memcpy(m->why + sizeof(m->why) - 4, "...", 4);
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
			 percent(cpu, base), percent(sync, base),
			 seg_state_name(largest_sync_state(m)),
			 percent(wait, base), run_text);
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
		if (snprintf(m->why, sizeof(m->why),
			     "Tasks spent %d%% of their time waiting on I/O or "
			     "sleep, %d%% waiting for each other (%s most) and "
			     "%d%% computing; the waits for each other stay "
			     "whatever the model, and of the rest waiting on "
			     "I/O dominates, which overlaps even in one "
			     "thread: asyncio (or threads) fits, with no pool "
			     "to start for the little computing; %s.",
			     percent(wait, base), percent(sync, base),
			     seg_state_name(largest_sync_state(m)),
			     percent(cpu, base),
			     run_text) >= (int)sizeof(m->why))
			memcpy(m->why + sizeof(m->why) - 4, "...", 4);
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
			 percent(cpu, base), percent(wait + sync, base),
			 run_text);
	}
	/* asyncio has no RLock: a program with one stays on threads. */
	if (strncmp(rec, "asyncio", 7) == 0 && program_has_rlock(t))
		rec = "threads";
	util_strlcpy(m->recommend, rec, sizeof(m->recommend));
}

/* The diagnosis of a deadlock replaces the one the shares gave. */
static void diagnose_deadlock(struct trace *t)
{
	struct trace_summary *m = &t->summary;
	const int64_t *st = m->states_ns;
	const char *detail = t->message;
	bool unstarted = false;
	const char *rec;

	for (size_t i = 0; i < t->n_tasks; i++)
		unstarted |= t->tasks[i].start_ns < 0;
	if (trace_message_names_status(t))
		detail += strlen(run_status_name(RUN_DEADLOCK)) + 1;
	while (*detail == ' ')
		detail++;
	util_strlcpy(m->bound, "sync", sizeof(m->bound));
	if (unstarted) {
		/* Every task running at once, each in its own place: the
		 * loop for waiting work, threads for computing work. */
		int64_t waits = st[ST_IO] + st[ST_CONNECT] + st[ST_SLEEP];

		rec = st[ST_COMPUTE] > waits ? "threads" : "asyncio";
		util_strlcpy(m->recommend, rec, sizeof(m->recommend));
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; the waiting tasks held every "
			 "place %s has to run tasks, so the others never "
			 "started, and a model that starts every task at "
			 "once, such as %s, lets them meet.",
			 *detail ? ": " : "", detail,
			 t->model[0] ? t->model : "the model", rec);
	} else if (strstr(detail, "(held by itself")) {
		/* A task took a plain lock it already held. */
		m->recommend[0] = '\0';
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; a task that takes a Lock it "
			 "already holds waits for itself, in any model: make "
			 "it an RLock (rlock NAME), which its owner may take "
			 "again, or release the lock before taking it.",
			 *detail ? ": " : "", detail);
	} else if (strstr(detail, "wait for condition") ||
		   strstr(detail, "waits for condition")) {
		/* A condition's waiters with nobody left to notify them. */
		m->recommend[0] = '\0';
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; every task had started, so "
			 "no model fixes it: a notify wakes one waiter and "
			 "is lost when nobody waits yet; notify all (or one "
			 "notify per waiter), and wait for a condition "
			 "(cond.wait_for) rather than for the notify itself.",
			 *detail ? ": " : "", detail);
	} else {
		m->recommend[0] = '\0';
		snprintf(m->why, sizeof(m->why),
			 "The run deadlocked%s%s; every task had started, so "
			 "no model fixes it: the tasks wait for each other in "
			 "a cycle, or for something no task will do; the "
			 "program must take its locks in one order, or make "
			 "sure what it awaits comes.",
			 *detail ? ": " : "", detail);
	}
}

/* An error or a cancel: the diagnosis of what ran, said to be partial. */
static void diagnose_unfinished(struct trace *t)
{
	struct trace_summary *m = &t->summary;
	char why[sizeof(m->why)], wall[32];
	const char *how;

	switch (t->status) {
	case RUN_ERROR:
		how = "ended in an error";
		break;
	case RUN_CANCELLED:
		how = "was cancelled";
		break;
	default:
		return;
	}
	util_strlcpy(why, m->why, sizeof(why));
	/* "Tasks spent ..." continues the sentence after the colon. */
	if (why[0] >= 'A' && why[0] <= 'Z')
		why[0] = (char)(why[0] - 'A' + 'a');
	/* The lead must fit; a long why loses its tail, visibly. */
	if (snprintf(m->why, sizeof(m->why),
		     "The run %s after %s, so this covers only what ran "
		     "until then: %s",
		     how, util_format_duration(m->wall_ns, wall, sizeof(wall)),
		     why) >= (int)sizeof(m->why))
		memcpy(m->why + sizeof(m->why) - 4, "...", 4);
}

/* Tasks that raised, timed out or were cancelled in a run that went on:
 * a sentence on who cut them short (asyncio's group, a cancel()), or on
 * main resuming before the others ended (asyncio.wait), read
 * from the tasks' notes and the checks, so a stored trace gives it back.
 * Their work was never done, which the figures before it cannot show. */
static void describe_cut(struct trace *t, char *buf, size_t size)
{
	size_t raised = 0, timed_out = 0, cancelled = 0, by_group = 0,
	       by_run = 0, by_cancel = 0, off = 0;
	const json_t *by =
		json_object_get(t->summary.checks, "main_resumed_by");
	const char *group =
		json_string_value(json_object_get(t->summary.checks, "group"));
	char first[TRACE_TASK_NAME_MAX] = "", at[32] = "";
	bool clause; /* a sentence on main's group follows the counts */

	buf[0] = '\0';
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct trace_task *k = &t->tasks[i];
		const char *note = trace_task_note(t, k);

		raised += k->status == TASK_ERROR;
		timed_out += k->status == TASK_TIMEOUT;
		if (k->status != TASK_CANCELLED)
			continue;
		cancelled++;
		by_group += strcmp(note, PROTOCOL_NOTE_BY_GROUP) == 0;
		by_run += strcmp(note, PROTOCOL_NOTE_BY_RUN) == 0;
		by_cancel += strcmp(note, PROTOCOL_NOTE_BY_CANCEL) == 0;
	}
	if (json_is_integer(by) && json_integer_value(by) >= 0 &&
	    (size_t)json_integer_value(by) < t->n_tasks) {
		trace_task_name(t, &t->tasks[json_integer_value(by)], first,
				sizeof(first));
		util_format_duration(
			json_integer_value(json_object_get(t->summary.checks,
							   "main_resumed_ns")),
			at, sizeof(at));
	}
	if (raised + timed_out + cancelled == 0) {
		/* Nothing cut short; main may still have resumed early. */
		if (first[0])
			snprintf(buf, size,
				 "The main coroutine resumed at %s, when %s "
				 "ended first, "
				 "and the others ran on to their ends "
				 "(asyncio.wait cancels nothing).",
				 at, first);
		return;
	}
	{
		const char *part[3];
		char text[3][48];
		int n = 0;

		if (raised) {
			snprintf(text[n], sizeof(text[n]), "%zu raised",
				 raised);
			part[n] = text[n], n++;
		}
		if (timed_out) {
			snprintf(text[n], sizeof(text[n]), "%zu timed out",
				 timed_out);
			part[n] = text[n], n++;
		}
		if (cancelled) {
			snprintf(text[n], sizeof(text[n]), "%zu %s cancelled",
				 cancelled, cancelled == 1 ? "was" : "were");
			part[n] = text[n], n++;
		}
		off += (size_t)snprintf(buf, size, "Of %zu tasks, %s%s%s%s%s",
					t->n_tasks, part[0],
					n == 3	 ? ", "
					: n == 2 ? " and "
						 : "",
					n >= 2 ? part[1] : "",
					n == 3 ? " and " : "",
					n == 3 ? part[2] : "");
	}
	if (off >= size)
		return;
	clause = first[0] && (by_group > 0 || by_run > 0 ||
			      (group && strcmp(group, "wait_first") == 0));
	if (by_group > 0 && first[0])
		off += (size_t)snprintf(
			buf + off, size - off,
			": when %s raised at %s, its TaskGroup cancelled %s "
			"still running where %s waited, and main got the "
			"exception once %s had ended",
			first, at, by_group == 1 ? "the one" : "the others",
			by_group == 1 ? "it" : "they",
			by_group == 1 ? "it" : "they");
	else if (by_run > 0 && first[0])
		off += (size_t)snprintf(
			buf + off, size - off,
			": gather handed %s's exception to main at %s, main "
			"returned, and asyncio.run cancelled the %zu still "
			"running (gather itself cancels nothing; "
			"return_exceptions=True lets every task finish)",
			first, at, by_run);
	else if (group && strcmp(group, "wait_first") == 0 && first[0])
		off += (size_t)snprintf(
			buf + off, size - off,
			": main resumed at %s, when %s ended first, and the "
			"others ran on (asyncio.wait cancels nothing)",
			at, first);
	if (by_cancel > 0 && by_cancel == cancelled && !clause && off < size)
		off += (size_t)snprintf(buf + off, size - off,
					" by another task's task.cancel(), "
					"where %s waited",
					by_cancel == 1 ? "it" : "they");
	else if (by_cancel > 0 && off < size)
		off += (size_t)snprintf(
			buf + off, size - off,
			"%s%zu by another task's cancel(), where %s waited",
			by_group + by_run > 0 ||
					(group && first[0] &&
					 strcmp(group, "wait_first") == 0)
				? "; "
				: ": ",
			by_cancel, by_cancel == 1 ? "it" : "they");
	if (off < size)
		snprintf(buf + off, size - off,
			 "; what the cut tasks had left was never done, so "
			 "the figures cover only what ran.");
}

/* States in which a lane's thread or process uses a CPU. */
static bool state_uses_cpu(int s)
{
	return state_has(s, STATE_USES_CPU);
}

/* Every lane's busy time: the union of its segments in which it uses a
 * CPU. */
static void lane_busy(struct trace *t)
{
	const struct trace_segment **work;
	size_t n = 0;

	for (size_t l = 0; l < t->n_lanes; l++)
		t->lanes[l].busy_ns = 0;
	t->summary.has_lane_busy = true;
	if (t->n_segments == 0)
		return;
	work = malloc(t->n_segments * sizeof(*work));
	if (!work) {
		t->summary.has_lane_busy = false;
		return;
	}
	for (size_t i = 0; i < t->n_segments; i++)
		if (state_uses_cpu(t->segments[i].state) &&
		    t->segments[i].lane < t->n_lanes &&
		    t->segments[i].t1_ns > t->segments[i].t0_ns)
			work[n++] = &t->segments[i];
	qsort(work, n, sizeof(*work), seg_by_lane_then_start);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && work[j]->lane == work[i]->lane; j++)
			;
		t->lanes[work[i]->lane].busy_ns = union_ns(work + i, j - i);
	}
	free(work);
}

void summary_compute(struct trace *t)
{
	struct trace_summary *m = &t->summary;
	json_t *checks = m->checks;
	int64_t loop_lag_ns = m->max_loop_lag_ns;
	int64_t wall = 0, work = 0;

	memset(m, 0, sizeof(*m));
	m->checks = checks ? checks : json_object();
	m->max_loop_lag_ns = loop_lag_ns;

	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct trace_task *k = &t->tasks[i];

		if (k->end_ns > wall)
			wall = k->end_ns;
		if (k->start_ns >= 0 && k->end_ns >= k->start_ns)
			m->task_time_ns += k->end_ns - k->start_ns;
	}
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];
		int64_t d = s->t1_ns - s->t0_ns;

		if (s->t1_ns > wall)
			wall = s->t1_ns;
		if (d <= 0 || s->state >= ST__COUNT)
			continue;
		m->states_ns[s->state] += d;
		if (state_is_work(s->state))
			work += d;
	}
	m->wall_ns = wall;
	if (wall > 0) {
		/* More tasks computing at once than there are cores take
		 * turns on them: their compute segments stretch, and only
		 * the cores' worth of it is work done. */
		int64_t compute = m->states_ns[ST_COMPUTE];

		if (t->host.cores > 0 && compute > wall * t->host.cores) {
			work -= compute - wall * t->host.cores;
			compute = wall * t->host.cores;
		}
		m->speedup = (double)work / (double)wall;
		m->parallelism = (double)compute / (double)wall;
		if (t->cpu_ns > 0 && t->host.cores > 0)
			m->cpu_util = (double)t->cpu_ns / (double)wall /
				      t->host.cores;
	}
	m->peak_inflight = peak_inflight(t);
	lane_busy(t);
	t->has_summary = true;
	diagnose(t);
	if (t->status == RUN_DEADLOCK)
		diagnose_deadlock(t);
	else
		diagnose_unfinished(t);
	if (t->status == RUN_DONE) {
		char cut[512];
		size_t used = strlen(m->why);

		describe_cut(t, cut, sizeof(cut));
		if (cut[0])
			snprintf(m->why + used, sizeof(m->why) - used, "%s%s",
				 used ? " " : "", cut);
	}
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
