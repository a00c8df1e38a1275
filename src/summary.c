/*
 * summary: the numbers of a finished trace; the diagnosis that reads them
 * is diagnosis.c's.
 *
 * Every figure comes from the segments, so a stored trace summarised again
 * gives the same result.  "Work" is what a task would do alone: compute,
 * and the waits the protocol marks overlappable (io, connect, sleep,
 * backoff: what a state counts as is its row in protocol.c).  The other
 * states exist only because tasks run
 * together (queued, gil-wait, lock/sem/queue/barrier/event/rate waits) or
 * because of the model's machinery (startup, ipc), so they are left out of
 * the one-after-another time that speedup divides by the wall time.
 */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#include "diagnosis.h"
#include "util.h"

static int seg_by_lane_then_start(const void *a, const void *b)
{
	const struct trace_segment *x = *(const struct trace_segment *const *)a;
	const struct trace_segment *y = *(const struct trace_segment *const *)b;

	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	return (x->t0_ns > y->t0_ns) - (x->t0_ns < y->t0_ns);
}

/* A task's own work: computing, or a wait another model could overlap. */
static bool state_is_work(int s)
{
	return s == ST_COMPUTE || seg_state_has(s, STATE_OVERLAPPABLE);
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

/* States in which a lane's thread or process uses a CPU. */
static bool state_uses_cpu(int s)
{
	return seg_state_has(s, STATE_USES_CPU);
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
		t->lanes[work[i]->lane].busy_ns =
			trace_union_ns(work + i, j - i);
	}
	free(work);
}

/* The peaks of the memory counters, and the peak of memory_bytes shared
 * among the tasks: what one task costs, the model's own workers
 * included. */
static void peak_memory(struct trace *t)
{
	struct trace_summary *m = &t->summary;

	m->peak_memory_bytes = m->memory_per_task_bytes = -1;
	m->peak_rss_bytes = -1;
	for (size_t i = 0; i < t->n_samples; i++) {
		const struct trace_sample *s = &t->samples[i];

		if (s->counter == CTR_MEMORY_BYTES &&
		    s->value > m->peak_memory_bytes)
			m->peak_memory_bytes = s->value;
		else if (s->counter == CTR_RSS_BYTES &&
			 s->value > m->peak_rss_bytes)
			m->peak_rss_bytes = s->value;
	}
	if (m->peak_memory_bytes >= 0 && t->n_tasks > 0)
		m->memory_per_task_bytes =
			m->peak_memory_bytes / (int64_t)t->n_tasks;
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
	peak_memory(t);
	lane_busy(t);
	t->has_summary = true;
	diagnosis_compute(t);
}
