/*
 * diagnosis_notes: what the shares of a run's time do not say, each a
 * sentence after the diagnosis: the part of the work a lock holds (which
 * caps any model's speedup), a pool whose tasks queued for a worker,
 * daemons cut at the end, timers, tasks a timeout cancelled.  They do not
 * change the recommended model; some set the advice, when no rule has.
 */
#include <stdio.h>
#include <string.h>

#include "diagnosis_internal.h"
#include "util.h"

/* Part of the work held under a lock: it caps the speedup of any
 * model (Amdahl's law), whatever the shares say. */
static void note_held(struct trace *t, const struct program_facts *facts)
{
	struct trace_summary *m = &t->summary;

	if (!facts->parsed || t->n_tasks < 2 || facts->work_ns <= 0 ||
	    facts->held_ns * 5 < facts->work_ns ||
	    facts->held_ns * 3 >= facts->work_ns * 2)
		return;
	/* Amdahl's law: the held share s runs one at a time, the rest at
	 * best all n at once. */
	double s = (double)facts->held_ns / (double)facts->work_ns;
	double n = (double)t->n_tasks;

	diag_append_why(
		m,
		"%d%% of the tasks' work is done holding lock %s, one task "
		"at a time whatever the model, so no model runs these %zu "
		"tasks more than %.1fx faster than one after another "
		"(Amdahl's law): shrink the critical section.",
		diag_percent(facts->held_ns, facts->work_ns), facts->held_lock,
		t->n_tasks, 1.0 / (s + (1.0 - s) / n));
	diag_set_advice(m, "shrink-critical-section");
}

/* A pool with fewer workers than the work can use: tasks queued. */
static void note_pool_size(struct trace *t, int64_t cpu, int64_t wait)
{
	struct trace_summary *m = &t->summary;
	int64_t queued = m->states_ns[ST_QUEUED];
	size_t workers = diag_lanes_used(t);
	size_t cores = t->host.cores > 0 ? (size_t)t->host.cores : 1;
	size_t useful = t->n_tasks < cores ? t->n_tasks : cores;
	char queued_text[32];

	if (!diag_model_is_pool(t) || queued <= 0 || workers == 0)
		return;
	util_format_duration(queued, queued_text, sizeof(queued_text));
	if (strcmp(m->recommend, "asyncio") == 0 && workers < t->n_tasks &&
	    queued * 4 >= wait) {
		diag_append_why(
			m,
			"The pool's %zu worker%s left tasks queued %s in "
			"all for a free one: waiting needs no core, so a "
			"worker per task (%zu) would run every wait at "
			"once.",
			workers, workers == 1 ? "" : "s", queued_text,
			t->n_tasks);
		if (!diag_model_is(t, "process-pool"))
			diag_set_advice(m, "more-workers");
	} else if (strcmp(m->recommend, "process-pool") == 0 &&
		   workers < useful && queued * 4 >= cpu &&
		   /* Threads under a GIL compute one at a time however
		    * many there are. */
		   (!diag_model_is(t, "thread-pool") ||
		    strcmp(diag_option_text(t, "gil"), "off") == 0)) {
		diag_append_why(
			m,
			"With %zu worker%s on %zu cores, tasks queued %s in "
			"all for a free one: one worker per core computes "
			"on every core.",
			workers, workers == 1 ? "" : "s", cores, queued_text);
		diag_set_advice(m, "more-workers");
	}
}

/* Daemons (a task never awaited, under asyncio) still running when the
 * others had ended were cut there: their work never finished. */
static void note_daemons(struct trace *t, const struct program_facts *facts)
{
	struct trace_summary *m = &t->summary;
	size_t cut = 0, first = 0;
	char name[TRACE_TASK_NAME_MAX], ran[32], more[48] = "";

	if (!facts->n_daemons || t->status != RUN_DONE)
		return;
	for (size_t i = 0; i < t->n_tasks && i < facts->n_tasks; i++)
		if ((facts->task_flags[i] & FACT_DAEMON) &&
		    t->tasks[i].status == TASK_CANCELLED && cut++ == 0)
			first = i;
	if (!cut)
		return;
	trace_task_name(t, &t->tasks[first], name, sizeof(name));
	/* It begins a sentence. */
	if (name[0] >= 'a' && name[0] <= 'z')
		name[0] = (char)(name[0] - 'a' + 'A');
	util_format_duration(t->tasks[first].end_ns -
				     (t->tasks[first].start_ns >= 0
					      ? t->tasks[first].start_ns
					      : 0),
			     ran, sizeof(ran));
	if (cut > 1)
		snprintf(more, sizeof(more), " (and %zu more)", cut - 1);
	if (strncmp(t->model, "asyncio", 7) == 0)
		diag_append_why(
			m,
			"%s%s, a task never awaited, was still waiting "
			"when the others had ended, and was cancelled when "
			"asyncio.run returned, after %s: await it if its "
			"work must finish.",
			name, more, ran);
	else
		diag_append_why(
			m,
			"%s%s, a daemon, was still running when the others "
			"had ended, and was dropped at exit after %s, its "
			"work cut short: the interpreter does not wait for "
			"a daemon thread; join it (or make it non-daemon) "
			"if its work must finish.",
			name, more, ran);
	diag_set_advice(m, "join-the-daemon");
}

/* Timers: a wait before the task runs, on a thread of its own under
 * threading.Timer, on the loop under asyncio. */
static void note_timers(struct trace *t, const struct program_facts *facts)
{
	struct trace_summary *m = &t->summary;
	int64_t timer_ns;
	char timer_text[32];

	if (!facts->n_timers)
		return;
	timer_ns = diag_noted_ns(t, ST_SLEEP, PROTOCOL_NOTE_TIMER);
	if (timer_ns <= 0)
		return;
	util_format_duration(timer_ns, timer_text, sizeof(timer_text));
	diag_append_why(
		m,
		"%zu task%s waited %s in all for %s timer before running "
		"(%s).",
		facts->n_timers, facts->n_timers == 1 ? "" : "s", timer_text,
		facts->n_timers == 1 ? "its" : "their",
		strncmp(t->model, "asyncio", 7) == 0
			? "loop.call_later: a wait on the loop, no thread"
			: "threading.Timer: a thread of its own sleeps, "
			  "then runs the function; asyncio's "
			  "loop.call_later waits with no thread");
}

/* Tasks a timeout cancelled where they waited. */
static void note_timeouts(struct trace *t)
{
	size_t n = 0;

	if (t->status != RUN_DONE)
		return;
	for (size_t i = 0; i < t->n_tasks; i++)
		n += t->tasks[i].status == TASK_TIMEOUT;
	if (n)
		diag_append_why(
			&t->summary,
			"%zu task%s ended as timeout: cancelled where %s "
			"waited when the time was up, the steps after "
			"never ran.",
			n, n == 1 ? "" : "s", n == 1 ? "it" : "they");
}

/* What the shares do not say, each a sentence after the diagnosis. */
void diag_add_notes(struct trace *t, const struct program_facts *facts,
		    int64_t cpu, int64_t wait)
{
	note_held(t, facts);
	note_pool_size(t, cpu, wait);
	note_daemons(t, facts);
	note_timers(t, facts);
	note_timeouts(t);
}
