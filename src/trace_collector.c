/*
 * trace_collector: the thread that drains the recorder's rings into a
 * trace.
 *
 * The collector thread is the only writer of the trace while it runs: it
 * drains each pending ring in turn every interval, applies the events
 * (segments appended, task times set, samples added), then hands each one
 * to the sink.  Events arrive grouped by lane, not in time order; the
 * segments are sorted by (t0, task) once, at stop.
 *
 * Pacing: a pass visits the lanes whose pending bit is set (rec_push sets
 * it; the pass clears a word before draining its lanes), so 10,000 idle
 * thread lanes cost a scan of 157 words, not 10,000 rings' cache lines and
 * pages.  The bit is a hint: a producer's head store still on its way when
 * the pass clears the bit the producer saw set can leave an event
 * unannounced, so a pass every SWEEP_INTERVALS intervals visits every
 * lane, which bounds how late such an event can be, and the drain at stop
 * visits all.  A ring that gives its whole budget in a pass is behind its
 * producer (a loop starting 100,000 tasks), so the next pass starts at
 * once rather than an interval later.  One that gives half of it would
 * fill before the next pass, and its producer would wait: the wait
 * between passes halves while that goes on (down to a 64th of the
 * interval) and doubles back to the interval once every ring gives less
 * than an eighth, so the pace follows the busiest producer, not the luck
 * of where its burst falls between two passes.
 */
#include "trace_collector.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trace_rec_internal.h"
#include "util.h"

#define DRAIN_BATCH 256
/* Every this many intervals the collector visits every lane, pending or
 * not (64 ms at the run's 1 ms interval): the bound on how late a missed
 * hint can make an event. */
#define SWEEP_INTERVALS 64
/* The shortest wait between passes, as a fraction of the interval. */
#define WAIT_SHRINK_MAX 64

/* What one pass found. */
struct pass_result {
	bool more;	       /* a ring gave its whole budget */
	unsigned fill_eighths; /* the most any ring gave, in eighths of its
				* capacity (8: its whole budget) */
};

struct trace_collector {
	struct trace_rec *rec;
	struct trace *t;
	const char *const *note_names;
	size_t n_note_names;
	uint32_t *note_map; /* object index -> trace note; UINT32_MAX unset */
	int64_t interval_ns;
	trace_sink_fn sink;
	void *ctx;

	pthread_t thread;
	pthread_mutex_t lock; /* protects stopping */
	pthread_cond_t wake;
	bool stopping;

	struct rec_event batch[DRAIN_BATCH]; /* collector thread only */

	/* Memory (collector thread only, or stop after the join). */
	struct collector_memory memory;
	bool count_memory;
	int64_t live_tasks;	      /* submitted or started, not ended */
	int64_t lanes_bytes;	      /* lane_bytes of the lanes counted */
	size_t lanes_counted;	      /* t->lanes[0 .. lanes_counted) */
	int64_t memory_last;	      /* the last sample's value; -1 none */
	int64_t memory_sampled_ns;    /* when it was taken (mono) */
	int64_t memory_event_ns;      /* the latest task event since; -1 */
	int64_t memory_last_ns;	      /* the last sample's time (run's) */
	int64_t rss_last, rss_due_ns; /* likewise for rss_bytes */
	long page_bytes;
};

static uint32_t collector_note(struct trace_collector *c, uint32_t note)
{
	const char *fixed = rec_fixed_note_name(note);
	size_t obj;

	if (fixed)
		return trace_note(c->t, fixed);
	if (note == 0 || note - 1 >= c->n_note_names)
		return 0;
	obj = note - 1;
	if (c->note_map[obj] == UINT32_MAX)
		c->note_map[obj] = trace_note(c->t, c->note_names[obj]);
	return c->note_map[obj];
}

static void collector_emit(struct trace_collector *c,
			   const struct rec_event *ev)
{
	if (c->sink)
		c->sink(c->ctx, c->t, ev);
}

static void task_set_end(struct trace *t, struct trace_task *k,
			 const struct rec_event *ev)
{
	k->end_ns = ev->t0_ns;
	k->status = ev->state >= TASK_OK && ev->state <= TASK_CANCELLED
			    ? ev->state
			    : TASK_ERROR;
	if (ev->note)
		k->note = ev->note; /* already the trace's (collector_note) */
	if (ev->extra) {
		const char *abbrev = sigabbrev_np(ev->extra);
		char note[TRACE_TASK_NOTE_MAX];

		if (abbrev)
			snprintf(note, sizeof(note),
				 "worker killed by signal %u (SIG%s)",
				 (unsigned)ev->extra, abbrev);
		else
			snprintf(note, sizeof(note),
				 "worker killed by signal %u",
				 (unsigned)ev->extra);
		k->note = trace_note(t, note);
	}
}

/* A task holds its memory from the first of its submit and start to its
 * end.  Rings are drained a lane at a time, so a task's end (its worker's
 * lane) can arrive before its submit (the main lane): a task already ended
 * is not counted again. */
static void task_holds(struct trace_collector *c, const struct trace_task *k,
		       int64_t t_ns)
{
	if (k->submit_ns < 0 && k->start_ns < 0 && k->end_ns < 0) {
		c->live_tasks++;
		if (t_ns > c->memory_event_ns)
			c->memory_event_ns = t_ns;
	}
}

static void task_releases(struct trace_collector *c, const struct trace_task *k,
			  int64_t t_ns)
{
	if ((k->submit_ns >= 0 || k->start_ns >= 0) && k->end_ns < 0) {
		c->live_tasks--;
		if (t_ns > c->memory_event_ns)
			c->memory_event_ns = t_ns;
	}
}

/* Appends a sample of counter at t_ns (the run's clock) and hands it to
 * the sink as an EV_COUNTER of lane 0 (the main lane, which every run
 * has). */
static void collector_sample(struct trace_collector *c,
			     enum trace_counter counter, int64_t t_ns,
			     int64_t value)
{
	struct trace_sample *sample;
	struct rec_event ev = {.type = EV_COUNTER, .extra = counter};

	if (c->t->n_lanes == 0)
		return;
	sample = trace_add_sample(c->t);
	sample->t_ns = t_ns > 0 ? t_ns : 0;
	sample->value = value;
	sample->counter = (uint8_t)counter;
	ev.t0_ns = sample->t_ns;
	ev.t1_ns = value;
	collector_emit(c, &ev);
}

/* Resident bytes of process pid (0: this one), or -1 when it is gone. */
static int64_t rss_of(struct trace_collector *c, int64_t pid)
{
	char path[64];
	long long size = 0, resident = -1;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%lld/statm",
			 (long long)pid);
	else
		util_strlcpy(path, "/proc/self/statm", sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : (int64_t)resident * c->page_bytes;
}

/* After a pass: a memory_bytes sample when the sum changed (at most one an
 * interval unless final), at the time of the latest task event that
 * changed it (the pass may come a while after a burst of them); an
 * rss_bytes one, at the time it is read, when it is due and changed. */
static void collector_memory(struct trace_collector *c, bool final)
{
	int64_t now_ns = util_mono_ns();
	int64_t run_ns = now_ns - trace_rec_epoch(c->rec);
	int64_t value;

	if (!c->count_memory)
		return;
	for (; c->lanes_counted < c->t->n_lanes; c->lanes_counted++) {
		unsigned kind = c->t->lanes[c->lanes_counted].kind;

		if (kind <= LANE_LOOP)
			c->lanes_bytes += c->memory.lane_bytes[kind];
	}
	value = c->lanes_bytes +
		(c->live_tasks > 0 ? c->live_tasks : 0) * c->memory.task_bytes;
	if (value != c->memory_last &&
	    (final || c->memory_last < 0 ||
	     now_ns - c->memory_sampled_ns >= c->interval_ns)) {
		int64_t t_ns = c->memory_event_ns >= 0 ? c->memory_event_ns
						       : run_ns;

		/* Samples stay in time order: a lane drained late can
		 * bring an event older than the last sample. */
		if (t_ns < c->memory_last_ns)
			t_ns = c->memory_last_ns;
		collector_sample(c, CTR_MEMORY_BYTES, t_ns, value);
		c->memory_last = value;
		c->memory_last_ns = t_ns;
		c->memory_sampled_ns = now_ns;
		c->memory_event_ns = -1;
	}
	if (!c->memory.rss || (!final && now_ns < c->rss_due_ns))
		return;
	c->rss_due_ns = now_ns + COLLECTOR_RSS_INTERVAL_NS;
	value = rss_of(c, 0);
	for (size_t l = 0; value >= 0 && l < c->t->n_lanes; l++) {
		const struct trace_lane *lane = &c->t->lanes[l];
		int64_t worker;

		if (lane->kind != LANE_PROCESS || lane->os_id <= 0)
			continue;
		worker = rss_of(c, lane->os_id);
		if (worker > 0)
			value += worker;
	}
	if (value >= 0 && value != c->rss_last) {
		collector_sample(c, CTR_RSS_BYTES, run_ns, value);
		c->rss_last = value;
	}
}

static void collector_apply(struct trace_collector *c,
			    const struct rec_event *in)
{
	struct trace *t = c->t;
	struct rec_event ev = *in;
	struct trace_segment *s;
	struct trace_sample *sample;
	bool has_task = ev.task < t->n_tasks;

	if (ev.lane >= t->n_lanes)
		return;
	switch (ev.type) {
	case EV_SEGMENT:
		if (!has_task || ev.state >= ST__COUNT)
			return;
		ev.note = collector_note(c, ev.note);
		s = trace_add_segment(t);
		s->t0_ns = ev.t0_ns;
		s->t1_ns = ev.t1_ns;
		s->task = ev.task;
		s->lane = ev.lane;
		s->note = ev.note;
		s->state = ev.state;
		break;
	case EV_OPEN:
		if (!has_task || ev.state >= ST__COUNT)
			return;
		ev.note = collector_note(c, ev.note);
		break;
	case EV_TASK_SUBMIT:
		if (!has_task)
			return;
		task_holds(c, &t->tasks[ev.task], ev.t0_ns);
		t->tasks[ev.task].submit_ns = ev.t0_ns;
		break;
	case EV_TASK_START:
		if (!has_task)
			return;
		task_holds(c, &t->tasks[ev.task], ev.t0_ns);
		t->tasks[ev.task].start_ns = ev.t0_ns;
		t->tasks[ev.task].lane = ev.lane;
		break;
	case EV_TASK_END:
		if (!has_task)
			return;
		ev.note = collector_note(c, ev.note);
		task_releases(c, &t->tasks[ev.task], ev.t0_ns);
		task_set_end(t, &t->tasks[ev.task], &ev);
		break;
	case EV_LANE_OS_ID:
		t->lanes[ev.lane].os_id = ev.t0_ns;
		break;
	case EV_COUNTER:
		if (ev.extra >= CTR__COUNT)
			return;
		sample = trace_add_sample(t);
		sample->t_ns = ev.t0_ns;
		sample->value = ev.t1_ns;
		sample->counter = (uint8_t)ev.extra;
		break;
	default:
		return;
	}
	collector_emit(c, &ev);
}

/* Mirrors lanes that rec has and the trace does not yet; returns how many
 * lanes rec had, which is how many rings the drain may then read (a lane
 * published after this call waits for the next pass, so no event arrives
 * before its lane is in the trace). */
static uint32_t collector_sync_lanes(struct trace_collector *c)
{
	uint32_t count = trace_rec_lane_count(c->rec);

	while (c->t->n_lanes < count) {
		uint32_t id = (uint32_t)c->t->n_lanes;
		struct trace_lane *l = trace_add_lane(c->t);
		struct rec_event ev = {.type = EV_LANE_ADD, .lane = id};

		l->id = id;
		l->kind = c->rec->info[id].kind;
		util_strlcpy(l->name, c->rec->info[id].name, sizeof(l->name));
		collector_emit(c, &ev);
	}
	return count;
}

/* Drains one ring, at most its capacity so one busy lane cannot starve
 * the others.  Returns the events taken; res->more is set when the ring
 * gave its whole budget, so events are likely left behind. */
static size_t collector_drain_ring(struct trace_collector *c, uint32_t id,
				   struct pass_result *res)
{
	struct ring *r = c->rec->lanes[id].ring;
	uint64_t budget = r->capacity;
	size_t n, total = 0;

	do {
		n = ring_pop(r, c->batch, DRAIN_BATCH);
		for (size_t i = 0; i < n; i++)
			collector_apply(c, &c->batch[i]);
		total += n;
		budget = n < budget ? budget - n : 0;
	} while (n == DRAIN_BATCH && budget);
	if (!budget)
		res->more = true;
	n = (size_t)(total * 8 / r->capacity);
	if (n > res->fill_eighths)
		res->fill_eighths = (unsigned)n;
	return total;
}

/* One pass: every lane whose pending bit is set, or every lane when sweep.
 * Returns the events taken; res as collector_drain_ring. */
static size_t collector_drain(struct trace_collector *c, bool sweep,
			      struct pass_result *res)
{
	_Atomic uint64_t *pending = c->rec->hdr->pending;
	uint32_t count;
	size_t total = 0;

	count = collector_sync_lanes(c);
	for (uint32_t w = 0; w < pending_words(count); w++) {
		uint64_t bits =
			atomic_load_explicit(&pending[w], memory_order_relaxed);
		uint32_t lanes_here = count - w * LANE_WORD_BITS;
		uint64_t again = 0;
		size_t n;

		/* Cleared before the rings are read: an event pushed from
		 * now on sets the bit again for the next pass.  Acquire
		 * pairs with the producer's release OR. */
		if (bits)
			bits = atomic_exchange_explicit(&pending[w], 0,
							memory_order_acquire);
		if (sweep)
			bits |= lanes_here >= LANE_WORD_BITS
					? ~0ull
					: (1ull << lanes_here) - 1;
		while (bits) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);
			uint32_t id = w * LANE_WORD_BITS + b;

			bits &= bits - 1;
			if (id >= count) {
				/* A lane published after the sync: its
				 * events wait for the next pass, when it is
				 * in the trace. */
				again |= 1ull << b;
				continue;
			}
			/* A lane that gave events stays pending for one
			 * more pass: its producer is likely still busy and
			 * then need not set the bit itself. */
			n = collector_drain_ring(c, id, res);
			if (n)
				again |= 1ull << b;
			total += n;
		}
		if (again)
			atomic_fetch_or_explicit(&pending[w], again,
						 memory_order_relaxed);
	}
	return total;
}

static void timespec_add_ns(struct timespec *ts, int64_t ns)
{
	ts->tv_sec += ns / NS_PER_S;
	ts->tv_nsec += ns % NS_PER_S;
	if (ts->tv_nsec >= NS_PER_S) {
		ts->tv_sec++;
		ts->tv_nsec -= NS_PER_S;
	}
}

static void *collector_main(void *arg)
{
	struct trace_collector *c = arg;
	struct timespec next;
	int64_t wait_ns = c->interval_ns; /* between passes */
	int64_t sweep_ns = SWEEP_INTERVALS * c->interval_ns;
	int64_t sweep_due_ns = util_mono_ns() + sweep_ns;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct pass_result res = {0};
		int64_t now_ns = util_mono_ns();
		bool sweep = now_ns >= sweep_due_ns;

		if (sweep)
			sweep_due_ns = now_ns + sweep_ns;
		pthread_mutex_unlock(&c->lock);
		collector_drain(c, sweep, &res);
		collector_memory(c, false);
		pthread_mutex_lock(&c->lock);
		if (res.fill_eighths >= 4) {
			if (wait_ns > c->interval_ns / WAIT_SHRINK_MAX)
				wait_ns /= 2;
		} else if (res.fill_eighths == 0 && wait_ns < c->interval_ns) {
			wait_ns = wait_ns * 2 < c->interval_ns ? wait_ns * 2
							       : c->interval_ns;
		}
		/* A ring is behind its producer, which may be waiting on it
		 * full: drain again now, not a wait later. */
		if (res.more)
			continue;
		timespec_add_ns(&next, wait_ns);
		while (!c->stopping &&
		       pthread_cond_timedwait(&c->wake, &c->lock, &next) !=
			       ETIMEDOUT)
			;
		if (!c->stopping) {
			/* Late (a loaded machine): drain now, not in a burst
			 * of catch-up passes. */
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > next.tv_sec ||
			    (now.tv_sec == next.tv_sec &&
			     now.tv_nsec > next.tv_nsec))
				next = now;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct trace_collector *
trace_collector_start(struct trace_rec *rec, struct trace *t,
		      const char *const *note_names, size_t n_note_names,
		      int64_t interval_ns, trace_sink_fn sink, void *ctx)
{
	return trace_collector_start_memory(rec, t, note_names, n_note_names,
					    interval_ns, sink, ctx, NULL);
}

struct trace_collector *
trace_collector_start_memory(struct trace_rec *rec, struct trace *t,
			     const char *const *note_names, size_t n_note_names,
			     int64_t interval_ns, trace_sink_fn sink, void *ctx,
			     const struct collector_memory *memory)
{
	struct trace_collector *c;
	pthread_condattr_t attr;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (memory) {
		c->memory = *memory;
		c->count_memory = true;
	}
	c->memory_last = c->rss_last = c->memory_event_ns = -1;
	c->page_bytes = sysconf(_SC_PAGESIZE);
	if (c->page_bytes <= 0)
		c->page_bytes = 4096;
	c->rec = rec;
	c->t = t;
	c->note_names = note_names;
	c->n_note_names = note_names ? n_note_names : 0;
	c->interval_ns = interval_ns > 0 ? interval_ns : NS_PER_MS;
	c->sink = sink;
	c->ctx = ctx;
	c->note_map = malloc((c->n_note_names + 1) * sizeof(*c->note_map));
	if (!c->note_map)
		goto out_free;
	for (size_t i = 0; i < c->n_note_names; i++)
		c->note_map[i] = UINT32_MAX;

	if (pthread_condattr_init(&attr) != 0)
		goto out_free;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_cond_init(&c->wake, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		goto out_free;
	}
	pthread_condattr_destroy(&attr);
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto out_destroy_cond;
	if (pthread_create(&c->thread, NULL, collector_main, c) != 0)
		goto out_destroy_mutex;
	return c;

out_destroy_mutex:
	pthread_mutex_destroy(&c->lock);
out_destroy_cond:
	pthread_cond_destroy(&c->wake);
out_free:
	free(c->note_map);
	free(c);
	return NULL;
}

static int segment_cmp(const void *a, const void *b)
{
	const struct trace_segment *x = a, *y = b;

	if (x->t0_ns != y->t0_ns)
		return x->t0_ns < y->t0_ns ? -1 : 1;
	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	if (x->t1_ns != y->t1_ns)
		return x->t1_ns < y->t1_ns ? -1 : 1;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	return (int)x->state - (int)y->state;
}

void trace_sort_segments(struct trace *t)
{
	if (t->n_segments > 1)
		qsort(t->segments, t->n_segments, sizeof(*t->segments),
		      segment_cmp);
}

void trace_collector_stop(struct trace_collector *c)
{
	struct pass_result res = {0};

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);

	/* The producers have finished: take everything that is left.  One
	 * pass empties every ring; the cap only guards against a producer
	 * that, wrongly, is still writing. */
	for (int pass = 0; pass < 16 && collector_drain(c, true, &res); pass++)
		;
	collector_memory(c, true);
	trace_sort_segments(c->t);

	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	free(c->note_map);
	free(c);
}
