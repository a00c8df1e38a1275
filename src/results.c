/*
 * results: the order in which a pool's caller takes its results
 * (results.h).  Two arrays and a counter: which tasks are done, the finish
 * order, and how many the caller has handled; map and imap hand over task
 * k only once tasks 0..k-1 have been, as_completed the k-th to finish.
 */
#include "results.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* How many task ids of each order go into the checks (as asyncio's). */
#define RESULTS_SHOWN_MAX 20

static const char *const mode_names[] = {
	[RESULTS_WAIT] = "wait",
	[RESULTS_MAP] = "map",
	[RESULTS_IMAP] = "imap",
	[RESULTS_AS_COMPLETED] = "as_completed",
};

int results_init(struct results *r, const char *mode, uint32_t n)
{
	memset(r, 0, sizeof(*r));
	r->mode = RESULTS_WAIT;
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (mode && strcmp(mode, mode_names[i]) == 0)
			r->mode = (enum results_mode)i;
	if (mode && strcmp(mode, mode_names[r->mode]) != 0)
		return -EINVAL;
	r->n = n;
	r->done = calloc(n ? n : 1, 1);
	r->finished = calloc(n ? n : 1, sizeof(*r->finished));
	r->handled = calloc(n ? n : 1, sizeof(*r->handled));
	if (!r->done || !r->finished || !r->handled) {
		results_free(r);
		return -ENOMEM;
	}
	return 0;
}

void results_free(struct results *r)
{
	free(r->done);
	free(r->finished);
	free(r->handled);
	r->done = NULL;
	r->finished = r->handled = NULL;
}

void results_done(struct results *r, uint32_t task)
{
	if (task >= r->n || r->done[task])
		return;
	r->done[task] = 1;
	r->finished[r->n_finished++] = task;
}

uint32_t results_next(struct results *r)
{
	uint32_t task = UINT32_MAX;

	if (r->n_handled >= r->n)
		return UINT32_MAX;
	switch (r->mode) {
	case RESULTS_MAP:
	case RESULTS_IMAP:
		/* Submission order: task k after 0..k-1, once it is done. */
		if (r->done[r->n_handled])
			task = r->n_handled;
		break;
	case RESULTS_AS_COMPLETED:
		if (r->n_handled < r->n_finished)
			task = r->finished[r->n_handled];
		break;
	default:
		break;
	}
	if (task != UINT32_MAX)
		r->handled[r->n_handled++] = task;
	return task;
}

bool results_all_handled(const struct results *r)
{
	return r->n_handled >= r->n;
}

static json_t *ids_json(const uint32_t *ids, uint32_t n)
{
	json_t *arr = json_array();

	for (uint32_t i = 0; i < n && i < RESULTS_SHOWN_MAX; i++)
		json_array_append_new(arr, json_integer(ids[i]));
	return arr;
}

void results_add_checks(const struct results *r, json_t *checks)
{
	if (!checks || r->mode == RESULTS_WAIT)
		return;
	json_object_set_new(checks, "collect_order",
			    json_string(mode_names[r->mode]));
	json_object_set_new(checks, "collected",
			    ids_json(r->handled, r->n_handled));
	json_object_set_new(checks, "finish_order",
			    ids_json(r->finished, r->n_finished));
	if (r->n_finished > RESULTS_SHOWN_MAX)
		json_object_set_new(checks, "orders_truncated", json_true());
}
