/*
 * diagnosis_notes: what the shares of a run's time do not say, each a
 * sentence after the diagnosis: the part of the work a lock holds (which
 * caps any model's speedup), a pool whose tasks queued for a worker,
 * daemons cut at the end, timers; and, once the run's verdict is said,
 * the tasks that raised, timed out or were cancelled and what cut them.
 * They do not change the recommended model; some set the advice, when no
 * rule has.
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

/* What the shares do not say, each a sentence after the diagnosis. */
void diag_add_notes(struct trace *t, const struct program_facts *facts,
		    int64_t cpu, int64_t wait)
{
	note_held(t, facts);
	note_pool_size(t, cpu, wait);
	note_daemons(t, facts);
	note_timers(t, facts);
}

/* Tasks that raised, timed out or were cancelled in a run that went on:
 * a sentence on who cut them short (asyncio's group, a cancel()), or on
 * main resuming before the others ended (asyncio.wait), read
 * from the tasks' notes and the checks, so a stored trace gives it back.
 * Their work was never done, which the figures before it cannot show. */
static void describe_cut(struct trace *t, const struct program_facts *facts,
			 char *buf, size_t size)
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

		/* A daemon cut at the end is note_daemons' to say. */
		if (i < facts->n_tasks && (facts->task_flags[i] & FACT_DAEMON))
			continue;
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

void diag_add_cut(struct trace *t, const struct program_facts *facts)
{
	struct trace_summary *m = &t->summary;
	char cut[512];
	size_t used = strlen(m->why);

	if (t->status != RUN_DONE)
		return;
	describe_cut(t, facts, cut, sizeof(cut));
	if (cut[0])
		snprintf(m->why + used, sizeof(m->why) - used, "%s%s",
			 used ? " " : "", cut);
}
