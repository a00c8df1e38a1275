/*
 * support: the tests' shared helpers (see support.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

#include "aio_group.h"

void run_into(const char *workload, const char *model, const struct kv *sets,
	      const struct run_hooks *hooks, struct trace *t)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	int rc;

	assert_non_null(spec);
	rc = spec_init(spec, workload, model, &err);
	if (rc)
		fail_msg("spec_init %s/%s: %s: %s", workload, model, err.field,
			 err.message);
	for (; sets && sets->key; sets++) {
		rc = spec_set(spec, sets->key, sets->value, &err);
		if (rc && err.column > 0)
			fail_msg("%s: column %d: %s", sets->key, err.column,
				 err.message);
		if (rc)
			fail_msg("%s=%s: %s", sets->key, sets->value,
				 err.message);
	}
	rc = spec_validate(spec, &err);
	if (rc)
		fail_msg("validate: %s: %s", err.field, err.message);
	trace_init(t);
	rc = run_execute(spec, hooks, t, &err);
	if (rc)
		fail_msg("run: %s: %s", err.field, err.message);
	free(spec);
}

struct trace *run_case(const char *workload, const char *model,
		       const struct kv *sets)
{
	struct trace *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	run_into(workload, model, sets, NULL, t);
	return t;
}

void free_trace(struct trace *t)
{
	trace_free(t);
	free(t);
}

void assert_status(const struct trace *t, enum run_status want)
{
	if (t->status != want)
		print_message("status %s (wanted %s): %s\n",
			      run_status_name((enum run_status)t->status),
			      run_status_name(want), t->message);
	assert_int_equal(t->status, want);
}

void assert_recorded(const struct trace *t)
{
	assert_true(t->n_lanes > 0);
	assert_true(t->n_tasks > 0);
	assert_true(t->n_segments > 0);
}

void assert_done(const struct trace *t)
{
	assert_status(t, RUN_DONE);
	assert_recorded(t);
	for (size_t i = 0; i < t->n_tasks; i++)
		assert_int_equal(t->tasks[i].status, TASK_OK);
}

const char *note_of(const struct trace *t, const struct trace_segment *s)
{
	return s->note < t->n_notes ? t->notes[s->note] : "";
}

size_t count_segments(const struct trace *t, long task, enum seg_state st,
		      const char *note)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == st && (task < 0 || s->task == (uint32_t)task) &&
		    (!note || strcmp(note_of(t, s), note) == 0))
			n++;
	}
	return n;
}

struct interval *intervals_of(const struct trace *t, enum seg_state st,
			      long task, size_t *n)
{
	struct interval *iv = calloc(t->n_segments + 1, sizeof(*iv));

	assert_non_null(iv);
	*n = 0;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state != st || (task >= 0 && s->task != (uint32_t)task))
			continue;
		iv[(*n)++] = (struct interval){s->t0_ns, s->t1_ns};
	}
	return iv;
}

static int cmp_edge(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	/* By time; at equal times an end (-1) before a start (+1). */
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return (int)(x[1] - y[1]);
}

size_t max_overlap(const struct interval *iv, size_t n)
{
	int64_t(*edges)[2] = calloc(2 * n + 1, sizeof(*edges));
	size_t best = 0, open = 0;

	assert_non_null(edges);
	for (size_t i = 0; i < n; i++) {
		edges[2 * i][0] = iv[i].t0;
		edges[2 * i][1] = 1;
		edges[2 * i + 1][0] = iv[i].t1;
		edges[2 * i + 1][1] = -1;
	}
	qsort(edges, 2 * n, sizeof(*edges), cmp_edge);
	for (size_t i = 0; i < 2 * n; i++) {
		if (edges[i][1] > 0 && ++open > best)
			best = open;
		else if (edges[i][1] < 0)
			open--;
	}
	free(edges);
	return best;
}

/* ---- asyncio's option group (aio_group.h) ------------------------------ */

const char *const aio_groups[4] = {"return_exceptions", "gather", "taskgroup",
				   "wait_first"};

void assert_group_run(const struct trace *t, const char *group)
{
	const struct trace_segment *mark = NULL;
	bool cuts = strcmp(group, "gather") == 0 ||
		    strcmp(group, "taskgroup") == 0;
	const char *main_note =
		strcmp(group, "gather") == 0	  ? PROTOCOL_NOTE_MAIN_GATHER
		: strcmp(group, "taskgroup") == 0 ? PROTOCOL_NOTE_MAIN_GROUP
						  : PROTOCOL_NOTE_MAIN_FIRST;

	assert_status(t, RUN_DONE);
	assert_int_equal(t->n_tasks, 3);
	assert_int_equal(t->tasks[0].status, TASK_ERROR);
	assert_string_equal(trace_task_note(t, &t->tasks[0]),
			    PROTOCOL_NOTE_RAISED);
	/* main's resuming: a computation on the main lane, for task 1. */
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->lane >= t->n_lanes ||
		    t->lanes[s->lane].kind != LANE_MAIN)
			continue;
		assert_null(mark);
		assert_int_equal(s->state, ST_COMPUTE);
		mark = s;
	}
	if (strcmp(group, "return_exceptions") == 0) {
		assert_null(mark);
	} else {
		assert_non_null(mark);
		assert_int_equal(mark->task, 0);
		assert_string_equal(note_of(t, mark), main_note);
		assert_true(mark->t0_ns >= t->tasks[0].end_ns);
	}
	for (uint32_t k = 1; k < 3; k++) {
		const struct trace_task *task = &t->tasks[k];
		const char *note = trace_task_note(t, task);

		if (!cuts) {
			assert_int_equal(task->status, TASK_OK);
			assert_int_equal(count_segments(t, k, ST_COMPUTE, NULL),
					 1);
			/* wait_first: main resumed while they ran on. */
			if (mark)
				assert_true(mark->t1_ns <= task->end_ns);
			continue;
		}
		/* Cut where they waited: the computation after the wait
		 * never ran. */
		assert_int_equal(task->status, TASK_CANCELLED);
		assert_int_equal(count_segments(t, k, ST_COMPUTE, NULL), 0);
		if (strcmp(group, "gather") == 0) {
			/* asyncio.run, once main had returned. */
			assert_string_equal(note, PROTOCOL_NOTE_BY_RUN);
			assert_true(task->end_ns >= mark->t1_ns);
		} else {
			/* The group, before main resumed. */
			assert_string_equal(note, PROTOCOL_NOTE_BY_GROUP);
			assert_true(task->end_ns <= mark->t0_ns);
		}
	}
}
