/*
 * test_trace: the name tables, the recorder and its collector, and the
 * trace JSON (version 1) both ways.
 *
 * The collector test runs real producer threads, each on its own lane,
 * against the collector thread on rings small enough to fill: every event
 * must arrive exactly once, be applied, and reach the sink after it was
 * applied.  A forked worker maps the recorder from its fd as a spawned one
 * would.  Pacing is checked with an interval of an hour, so only the pass
 * at start and the passes it owes at once can deliver anything before the
 * test's guard runs out: the lanes its pending bits name, and a ring that
 * gave its whole budget drained again.  JSON is checked by a round trip
 * that must be exact and by a table of broken documents, each of which
 * must be refused naming the field.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"

/* ---- names -------------------------------------------------------------- */

static void test_state_names(void **state)
{
	static const char *const want[ST__COUNT] = {
		"queued",     "startup",      "compute",    "io",
		"sleep",      "gil-wait",     "lock-wait",  "sem-wait",
		"queue-wait", "barrier-wait", "event-wait", "rate-wait",
		"backoff",    "ipc",	      "connect",    "ready",
		"runnable",
	};

	(void)state;
	for (int s = 0; s < ST__COUNT; s++) {
		assert_string_equal(seg_state_name(s), want[s]);
		assert_int_equal(seg_state_parse(want[s]), s);
	}
	assert_int_equal(seg_state_parse("nap"), -1);
	assert_int_equal(seg_state_parse(NULL), -1);
	assert_int_equal(seg_state_parse("Compute"), -1);
}

static void test_other_names(void **state)
{
	static const struct {
		int value;
		const char *name;
	} runs[] = {
		/* 0 and 5: statuses a store of runs gives (queued,
		 * interrupted), words of the trace contract all the same */
		{0, "queued"},
		{RUN_RUNNING, "running"},
		{RUN_DONE, "done"},
		{RUN_ERROR, "error"},
		{RUN_CANCELLED, "cancelled"},
		{5, "interrupted"},
		{RUN_DEADLOCK, "deadlock"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		assert_string_equal(run_status_name(runs[i].value),
				    runs[i].name);
		assert_int_equal(run_status_parse(runs[i].name), runs[i].value);
	}
	assert_int_equal(run_status_parse("finished"), -1);
	assert_string_equal(lane_kind_name(LANE_MAIN), "main");
	assert_string_equal(lane_kind_name(LANE_THREAD), "thread");
	assert_string_equal(lane_kind_name(LANE_PROCESS), "process");
	assert_string_equal(lane_kind_name(LANE_LOOP), "loop");
	assert_string_equal(task_status_name(TASK_OK), "ok");
	assert_string_equal(task_status_name(TASK_ERROR), "error");
	assert_string_equal(task_status_name(TASK_TIMEOUT), "timeout");
	assert_string_equal(task_status_name(TASK_CANCELLED), "cancelled");
	assert_string_equal(trace_counter_name(CTR_QUEUE_DEPTH), "queue_depth");
}

/* ---- the trace arrays --------------------------------------------------- */

static void test_trace_arrays(void **state)
{
	struct trace t;
	struct trace_task *k;

	(void)state;
	trace_init(&t);
	assert_int_equal(t.n_notes, 1);
	assert_string_equal(t.notes[0], "");
	assert_int_equal(trace_note(&t, NULL), 0);
	assert_int_equal(trace_note(&t, ""), 0);
	assert_int_equal(trace_note(&t, "lock A"), 1);
	assert_int_equal(trace_note(&t, "queue"), 2);
	assert_int_equal(trace_note(&t, "lock A"), 1);
	for (int i = 0; i < 100; i++) {
		k = trace_add_task(&t);
		assert_int_equal(k->id, i);
	}
	k = &t.tasks[57];
	assert_int_equal(k->lane, UINT32_MAX);
	assert_int_equal(k->submit_ns, -1);
	assert_int_equal(k->start_ns, -1);
	assert_int_equal(k->end_ns, -1);
	assert_int_equal(k->status, TASK_PENDING);
	assert_int_equal(trace_add_lane(&t)->id, 0);
	assert_int_equal(trace_add_lane(&t)->id, 1);
	assert_int_equal(t.summary.max_loop_lag_ns, -1);
	trace_free(&t);
}

/* A name comes back exactly as given, whether or not it is kept as a label
 * and a number; the tasks of a run share their label. */
static void test_task_names(void **state)
{
	static const struct {
		const char *name;
		bool numbered;
	} cases[] = {
		{"request 3", true},
		{"request 0", true},
		{"request 4294967295", true},
		{" 5", true},
		{"a b 12", true},
		{"request 03", false},
		{"request 4294967296", false},
		{"request -1", false},
		{"request 1x", false},
		{"request ", false},
		{"x  5", true}, /* the label "x " */
		{"main", false},
		{"", false},
	};
	char long_label[64], buf[TRACE_TASK_NAME_MAX];
	char big[2 * TRACE_TASK_NAME_MAX], small[6];
	struct trace t;
	struct trace_task *k;
	size_t labels;

	(void)state;
	trace_init(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = trace_add_task(&t);
		trace_task_set_name(&t, k, cases[i].name);
		print_message("%s\n", cases[i].name);
		assert_string_equal(trace_task_name(&t, k, buf, sizeof(buf)),
				    cases[i].name);
		assert_int_equal(k->numbered, cases[i].numbered);
	}
	/* A new task has no name. */
	k = trace_add_task(&t);
	assert_string_equal(trace_task_name(&t, k, buf, sizeof(buf)), "");

	labels = t.n_labels;
	for (uint32_t i = 1; i <= 1000; i++)
		trace_task_set_label(&t, trace_add_task(&t), "consumer", i);
	assert_int_equal(t.n_labels, labels + 1);
	assert_string_equal(trace_task_name(&t, &t.tasks[t.n_tasks - 1], buf,
					    sizeof(buf)),
			    "consumer 1000");

	/* A name is cut to TRACE_TASK_NAME_MAX - 1 bytes, and to the
	 * buffer. */
	memset(long_label, 'x', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	k = trace_add_task(&t);
	trace_task_set_label(&t, k, long_label, 7);
	assert_int_equal(strlen(trace_task_name(&t, k, buf, sizeof(buf))),
			 TRACE_TASK_NAME_MAX - 1);
	assert_int_equal(strlen(trace_task_name(&t, k, big, sizeof(big))),
			 TRACE_TASK_NAME_MAX - 1);
	assert_string_equal(trace_task_name(&t, k, small, sizeof(small)),
			    "xxxxx");

	/* A note is one of the trace's notes. */
	assert_string_equal(trace_task_note(&t, k), "");
	k->note = trace_note(&t, "boom");
	assert_string_equal(trace_task_note(&t, k), "boom");
	trace_free(&t);
}

/* ---- recorder and collector --------------------------------------------- */

#define PRODUCERS 4
#define PER_PRODUCER 20000

static const char *const note_names[] = {"lock A", "queue q"};

struct sink_count {
	size_t by_type[EV_LANE_ADD + 1];
	size_t mismatches; /* an event not yet applied when the sink saw it */
	size_t lanes_announced_twice;
	bool lane_seen[16];
	uint32_t open_note; /* the trace note of the last EV_OPEN */
};

static void counting_sink(void *ctx, const struct trace *t,
			  const struct rec_event *ev)
{
	struct sink_count *c = ctx;
	const struct trace_segment *s;

	if (ev->type <= EV_LANE_ADD)
		c->by_type[ev->type]++;
	switch (ev->type) {
	case EV_SEGMENT:
		s = &t->segments[t->n_segments - 1];
		if (s->t0_ns != ev->t0_ns || s->task != ev->task ||
		    s->note != ev->note || s->lane != ev->lane)
			c->mismatches++;
		break;
	case EV_OPEN:
		c->open_note = ev->note;
		break;
	case EV_TASK_END:
		if (t->tasks[ev->task].end_ns != ev->t0_ns)
			c->mismatches++;
		break;
	case EV_LANE_ADD:
		if (ev->lane >= t->n_lanes)
			c->mismatches++;
		else if (ev->lane < 16) {
			if (c->lane_seen[ev->lane])
				c->lanes_announced_twice++;
			c->lane_seen[ev->lane] = true;
		}
		break;
	case EV_LANE_OS_ID:
		if (t->lanes[ev->lane].os_id != ev->t0_ns)
			c->mismatches++;
		break;
	default:
		break;
	}
}

struct producer_arg {
	struct trace_rec *rec;
	uint32_t task;
};

static void *producer_main(void *p)
{
	struct producer_arg *a = p;
	char name[16];
	struct rec_lane *lane;

	snprintf(name, sizeof(name), "thread %u", a->task);
	lane = trace_rec_add_lane(a->rec, LANE_THREAD, name);
	assert_non_null(lane);
	rec_lane_os_id(lane, 1000 + a->task);
	rec_task_start(lane, a->task, 5);
	for (int64_t i = 0; i < PER_PRODUCER; i++)
		rec_segment(lane, a->task, (enum seg_state)(i % ST__COUNT),
			    i * 10, i * 10 + 7, (uint32_t)(i % 3));
	rec_task_end(lane, a->task, PER_PRODUCER * 10, TASK_OK, 0);
	return NULL;
}

static void make_tasks(struct trace *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		trace_task_set_label(t, trace_add_task(t), "task", (uint32_t)i);
}

static void test_collector_threads(void **state)
{
	struct trace_rec *rec = trace_rec_create(8, 64, 0);
	struct producer_arg args[PRODUCERS];
	pthread_t th[PRODUCERS];
	struct sink_count count = {0};
	struct trace_collector *c;
	struct trace t;
	size_t per_task[PRODUCERS] = {0};

	(void)state;
	assert_non_null(rec);
	trace_init(&t);
	make_tasks(&t, PRODUCERS);
	assert_non_null(trace_rec_add_lane(rec, LANE_MAIN, "main"));
	c = trace_collector_start(rec, &t, note_names, 2, NS_PER_MS,
				  counting_sink, &count);
	assert_non_null(c);
	for (uint32_t i = 0; i < PRODUCERS; i++) {
		args[i] = (struct producer_arg){rec, i};
		assert_int_equal(pthread_create(&th[i], NULL, producer_main,
						&args[i]),
				 0);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	trace_collector_stop(c);

	assert_int_equal(trace_rec_lane_count(rec), PRODUCERS + 1);
	assert_int_equal(t.n_lanes, PRODUCERS + 1);
	assert_int_equal(count.by_type[EV_LANE_ADD], PRODUCERS + 1);
	assert_int_equal(count.lanes_announced_twice, 0);
	assert_int_equal(count.mismatches, 0);
	assert_int_equal(count.by_type[EV_SEGMENT], PRODUCERS * PER_PRODUCER);
	assert_int_equal(count.by_type[EV_TASK_START], PRODUCERS);
	assert_int_equal(count.by_type[EV_TASK_END], PRODUCERS);
	assert_int_equal(count.by_type[EV_LANE_OS_ID], PRODUCERS);
	assert_int_equal(t.n_segments, PRODUCERS * PER_PRODUCER);

	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];
		int64_t seq = s->t0_ns / 10;

		if (i > 0) {
			const struct trace_segment *p = &t.segments[i - 1];

			assert_true(
				p->t0_ns < s->t0_ns ||
				(p->t0_ns == s->t0_ns && p->task < s->task));
		}
		assert_true(s->task < PRODUCERS);
		per_task[s->task]++;
		/* The segments of one time sort by task: the i-th of this
		 * time is task i, so each (task, seq) came exactly once. */
		assert_int_equal(s->task, i % PRODUCERS);
		assert_int_equal(seq, (int64_t)(i / PRODUCERS));
		assert_int_equal(s->t1_ns, s->t0_ns + 7);
		assert_int_equal(s->state, seq % ST__COUNT);
		assert_string_equal(t.notes[s->note],
				    seq % 3 ? note_names[seq % 3 - 1] : "");
		{
			char want[16];

			snprintf(want, sizeof(want), "thread %u", s->task);
			assert_string_equal(t.lanes[s->lane].name, want);
		}
		assert_int_equal(t.lanes[s->lane].os_id, 1000 + s->task);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		assert_int_equal(per_task[i], PER_PRODUCER);
		assert_int_equal(t.tasks[i].start_ns, 5);
		assert_int_equal(t.tasks[i].end_ns, PER_PRODUCER * 10);
		assert_int_equal(t.tasks[i].status, TASK_OK);
		assert_int_equal(t.lanes[t.tasks[i].lane].kind, LANE_THREAD);
		assert_int_equal(t.lanes[t.tasks[i].lane].os_id, 1000 + i);
	}
	assert_string_equal(t.lanes[0].name, "main");
	assert_int_equal(t.lanes[0].kind, LANE_MAIN);
	/* Two note names, interned once each, plus "". */
	assert_int_equal(t.n_notes, 3);
	trace_free(&t);
	trace_rec_destroy(rec);
}

/* Events the collector cannot place are dropped, not applied. */
static void test_collector_drops_strays(void **state)
{
	struct trace_rec *rec = trace_rec_create(2, 16, 0);
	struct sink_count count = {0};
	struct rec_lane *lane;
	struct trace_collector *c;
	struct trace t;

	(void)state;
	trace_init(&t);
	make_tasks(&t, 2);
	lane = trace_rec_add_lane(rec, LANE_MAIN, "main");
	rec_segment(lane, 7, ST_COMPUTE, 0, 10, 0);	       /* no task 7 */
	rec_push(lane, EV_SEGMENT, 1, ST__COUNT, 0, 10, 0, 0); /* bad state */
	rec_counter(lane, CTR__COUNT, 0, 3);		       /* bad counter */
	rec_segment(lane, 1, ST_IO, 0, 10, 9); /* note out of range */
	rec_task_end(lane, 0, 50, TASK_ERROR, 9);
	rec_counter(lane, CTR_QUEUE_DEPTH, 20, 3);
	rec_open(lane, 1, ST_LOCK_WAIT, 30, 1);
	rec_segment(lane, 0, ST_SEM_WAIT, 40, 60, REC_NOTE_LIMIT);
	c = trace_collector_start(rec, &t, note_names, 2, NS_PER_MS,
				  counting_sink, &count);
	trace_collector_stop(c);

	assert_int_equal(t.n_segments, 2);
	assert_int_equal(t.segments[0].task, 1);
	assert_int_equal(t.segments[0].note, 0);
	/* A fixed note becomes its text. */
	assert_int_equal(t.segments[1].task, 0);
	assert_string_equal(t.notes[t.segments[1].note], "limit");
	assert_int_equal(count.by_type[EV_SEGMENT], 2);
	assert_int_equal(count.by_type[EV_OPEN], 1);
	assert_int_equal(count.by_type[EV_COUNTER], 1);
	assert_int_equal(t.n_samples, 1);
	assert_int_equal(t.samples[0].value, 3);
	assert_int_equal(t.samples[0].t_ns, 20);
	assert_int_equal(t.tasks[0].status, TASK_ERROR);
	assert_int_equal(t.tasks[0].end_ns, 50);
	assert_string_equal(trace_task_note(&t, &t.tasks[0]),
			    "worker killed by signal 9 (SIGKILL)");
	/* The open event's note was mapped to the trace's notes. */
	assert_true(count.open_note < t.n_notes);
	assert_string_equal(t.notes[count.open_note], "lock A");
	trace_free(&t);
	trace_rec_destroy(rec);
}

/* The memory the collector counts: a lane's bytes from when it appears, a
 * task's from its submit or start to its end; a task whose end is drained
 * before its submit (another lane's ring) is never counted.  Samples are
 * in time order and the last one, at stop, is the sum of what is held
 * then. */
static void test_collector_memory(void **state)
{
	struct trace_rec *rec = trace_rec_create(4, 64, 0);
	struct collector_memory memory = {
		.lane_bytes = {[LANE_THREAD] = 1000, [LANE_PROCESS] = 100000},
		.task_bytes = 10,
	};
	const struct rec_lane *main_lane, *thread, *process;
	struct trace_collector *c;
	struct trace t;
	size_t n = 0;
	int64_t last_t = 0, last = -1, peak = -1;

	(void)state;
	trace_init(&t);
	make_tasks(&t, 4);
	for (size_t i = 0; i < t.n_tasks; i++)
		t.tasks[i].submit_ns = t.tasks[i].start_ns = t.tasks[i].end_ns =
			-1;
	main_lane = trace_rec_add_lane(rec, LANE_MAIN, "main");
	thread = trace_rec_add_lane(rec, LANE_THREAD, "worker");
	process = trace_rec_add_lane(rec, LANE_PROCESS, "process");
	for (uint32_t k = 0; k < 3; k++)
		rec_task_submit(main_lane, k, 1 + k);
	rec_task_start(thread, 0, 5);
	rec_task_end(thread, 0, 6, TASK_OK, 0);
	/* Task 3 ends (drained with the thread's ring) before its submit
	 * (the process's ring, drained after it). */
	rec_task_end(thread, 3, 7, TASK_OK, 0);
	rec_task_submit(process, 3, 2);
	c = trace_collector_start_memory(rec, &t, NULL, 0, NS_PER_MS, NULL,
					 NULL, &memory);
	assert_non_null(c);
	trace_collector_stop(c);
	for (size_t i = 0; i < t.n_samples; i++) {
		const struct trace_sample *s = &t.samples[i];

		assert_int_not_equal(s->counter, CTR_RSS_BYTES);
		if (s->counter != CTR_MEMORY_BYTES)
			continue;
		assert_true(s->t_ns >= last_t);
		assert_true(s->value >= 0);
		last_t = s->t_ns;
		last = s->value;
		if (s->value > peak)
			peak = s->value;
		n++;
	}
	assert_true(n >= 1);
	/* Both workers, and tasks 1 and 2, submitted and never ended. */
	assert_int_equal(last, 1000 + 100000 + 2 * 10);
	assert_true(peak <= 1000 + 100000 + 3 * 10);
	trace_free(&t);
	trace_rec_destroy(rec);
}

/* Without a memory model the collector samples no memory. */
static void test_collector_no_memory(void **state)
{
	struct trace_rec *rec = trace_rec_create(2, 16, 0);
	struct trace_collector *c;
	struct trace t;

	(void)state;
	trace_init(&t);
	make_tasks(&t, 1);
	trace_rec_add_lane(rec, LANE_MAIN, "main");
	rec_task_submit(trace_rec_lane(rec, 0), 0, 1);
	c = trace_collector_start(rec, &t, NULL, 0, NS_PER_MS, NULL, NULL);
	trace_collector_stop(c);
	assert_int_equal(t.n_samples, 0);
	trace_free(&t);
	trace_rec_destroy(rec);
}

/* Lanes already in the trace are not announced again. */
static void test_collector_known_lanes(void **state)
{
	struct trace_rec *rec = trace_rec_create(4, 16, 0);
	struct sink_count count = {0};
	struct trace_collector *c;
	struct trace t;

	(void)state;
	trace_init(&t);
	make_tasks(&t, 1);
	trace_rec_add_lane(rec, LANE_MAIN, "main");
	util_strlcpy(trace_add_lane(&t)->name, "main", 32);
	trace_rec_add_lane(rec, LANE_LOOP, "loop");
	c = trace_collector_start(rec, &t, NULL, 0, NS_PER_MS, counting_sink,
				  &count);
	trace_collector_stop(c);
	assert_int_equal(t.n_lanes, 2);
	assert_int_equal(count.by_type[EV_LANE_ADD], 1);
	assert_true(count.lane_seen[1]);
	assert_false(count.lane_seen[0]);
	assert_int_equal(t.lanes[1].kind, LANE_LOOP);
	assert_string_equal(t.lanes[1].name, "loop");
	trace_free(&t);
	trace_rec_destroy(rec);
}

/* What a pacing test waits for: the sink counts segments and, while
 * refills last, records one more on lane for each it sees. */
struct paced_sink {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t segments; /* under lock */
	const struct rec_lane *lane;
	size_t refills_left; /* collector thread only */
};

#define PACING_INTERVAL_NS (3600 * NS_PER_S)
#define PACING_GUARD_S 20

static void paced_sink_fn(void *ctx, const struct trace *t,
			  const struct rec_event *ev)
{
	struct paced_sink *p = ctx;

	(void)t;
	if (ev->type != EV_SEGMENT)
		return;
	if (p->refills_left) {
		p->refills_left--;
		rec_segment(p->lane, 0, ST_IO, 1000 + ev->t0_ns,
			    1001 + ev->t0_ns, 0);
	}
	pthread_mutex_lock(&p->lock);
	p->segments++;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

/* Waits until the sink has seen want segments or the guard runs out;
 * returns how many it saw. */
static size_t paced_wait(struct paced_sink *p, size_t want)
{
	struct timespec deadline;
	size_t seen;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PACING_GUARD_S;
	pthread_mutex_lock(&p->lock);
	while (p->segments < want &&
	       pthread_cond_timedwait(&p->changed, &p->lock, &deadline) == 0)
		;
	seen = p->segments;
	pthread_mutex_unlock(&p->lock);
	return seen;
}

/* A full ring refilled while the pass drains it (the sink stands in for
 * a producer that waits on it) is drained again at once, not an interval
 * later. */
static void test_collector_drains_again(void **state)
{
	enum { CAPACITY = 64 };
	struct trace_rec *rec = trace_rec_create(1, CAPACITY, 0);
	struct paced_sink p = {.lock = PTHREAD_MUTEX_INITIALIZER,
			       .changed = PTHREAD_COND_INITIALIZER,
			       .refills_left = CAPACITY};
	struct trace_collector *c;
	struct trace t;

	(void)state;
	trace_init(&t);
	make_tasks(&t, 1);
	p.lane = trace_rec_add_lane(rec, LANE_LOOP, "loop");
	for (int i = 0; i < CAPACITY; i++)
		rec_segment(p.lane, 0, ST_COMPUTE, i, i + 1, 0);
	c = trace_collector_start(rec, &t, NULL, 0, PACING_INTERVAL_NS,
				  paced_sink_fn, &p);
	assert_non_null(c);
	assert_int_equal(paced_wait(&p, 2 * CAPACITY), 2 * CAPACITY);
	trace_collector_stop(c);
	assert_int_equal(t.n_segments, 2 * CAPACITY);
	assert_int_equal(t.segments[CAPACITY].t0_ns, 1000);
	trace_free(&t);
	trace_rec_destroy(rec);
}

/* The pass at start visits exactly the lanes with events, wherever their
 * bits sit in the pending bitmap. */
static void test_collector_pending_lanes(void **state)
{
	static const uint32_t busy[] = {0, 63, 64, 129};
	enum { LANES = 130 };
	struct trace_rec *rec = trace_rec_create(LANES, 16, 0);
	struct paced_sink p = {.lock = PTHREAD_MUTEX_INITIALIZER,
			       .changed = PTHREAD_COND_INITIALIZER};
	struct rec_lane *lanes[LANES];
	struct trace_collector *c;
	struct trace t;
	size_t n = sizeof(busy) / sizeof(busy[0]);

	(void)state;
	trace_init(&t);
	make_tasks(&t, 1);
	for (uint32_t i = 0; i < LANES; i++)
		lanes[i] = trace_rec_add_lane(rec, LANE_THREAD, "thread");
	for (size_t i = 0; i < n; i++)
		rec_segment(lanes[busy[i]], 0, ST_SLEEP, busy[i], 1000, 0);
	c = trace_collector_start(rec, &t, NULL, 0, PACING_INTERVAL_NS,
				  paced_sink_fn, &p);
	assert_non_null(c);
	assert_int_equal(paced_wait(&p, n), n);
	trace_collector_stop(c);
	assert_int_equal(t.n_segments, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(t.segments[i].lane, busy[i]);
	trace_free(&t);
	trace_rec_destroy(rec);
}

static void test_rec_limits(void **state)
{
	struct trace_rec *rec;
	struct rec_lane lane;

	(void)state;
	assert_null(trace_rec_create(0, 16, 0));
	assert_null(trace_rec_create(2, 12, 0));
	assert_null(trace_rec_create(2, 1, 0));
	rec = trace_rec_create(2, 16, 123);
	assert_non_null(rec);
	assert_int_equal(trace_rec_epoch(rec), 123);
	assert_non_null(trace_rec_add_lane(rec, LANE_MAIN, "main"));
	assert_non_null(trace_rec_add_lane(rec, LANE_THREAD,
					   "a name longer "
					   "than the thirty-two bytes"));
	assert_null(trace_rec_add_lane(rec, LANE_THREAD, "third"));
	assert_int_equal(trace_rec_lane_count(rec), 2);
	assert_null(trace_rec_lane(rec, 2));
	assert_int_equal(trace_rec_lane(rec, 1)->id, 1);
	assert_int_equal(trace_rec_lane(rec, 1)->epoch_ns, 123);
	assert_int_equal(trace_rec_map(trace_rec_fd(rec),
				       trace_rec_map_size(rec), 2, &lane),
			 -ENOENT);
	assert_int_equal(trace_rec_map(trace_rec_fd(rec),
				       trace_rec_map_size(rec) + 4096, 0,
				       &lane),
			 -EINVAL);
	assert_int_equal(trace_rec_map(-1, trace_rec_map_size(rec), 0, &lane),
			 -EBADF);
	trace_rec_destroy(rec);
}

/* A worker process maps the recorder from the fd alone, as a spawned
 * worker does after exec, and its events reach the run's collector. */
static void test_rec_map_in_child(void **state)
{
	struct trace_rec *rec = trace_rec_create(3, 32, 77);
	struct trace_collector *c;
	struct trace t;
	int status;
	pid_t pid;

	(void)state;
	trace_init(&t);
	make_tasks(&t, 2);
	trace_rec_add_lane(rec, LANE_MAIN, "main");
	trace_rec_add_lane(rec, LANE_PROCESS, "worker 1");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rec_lane lane;

		if (trace_rec_map(trace_rec_fd(rec), trace_rec_map_size(rec), 1,
				  &lane) != 0 ||
		    lane.epoch_ns != 77 || lane.id != 1)
			_exit(1);
		rec_lane_os_id(&lane, getpid());
		/* Until the ring is full: nobody drains it yet. */
		for (int i = 0; i < 100; i++)
			if (!ring_try_push(
				    lane.ring,
				    &(struct rec_event){.type = EV_SEGMENT,
							.task = 1,
							.lane = 1,
							.t0_ns = i,
							.t1_ns = i + 1,
							.state = ST_COMPUTE}))
				break;
		/* The child's copies of the parent's heap, freed so that a
		 * leak checker following the fork (make valgrind) finds
		 * nothing lost. */
		trace_free(&t);
		trace_rec_destroy(rec);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	c = trace_collector_start(rec, &t, NULL, 0, NS_PER_MS, NULL, NULL);
	trace_collector_stop(c);
	assert_int_equal(t.lanes[1].os_id, pid);
	assert_string_equal(t.lanes[1].name, "worker 1");
	assert_int_equal(t.lanes[1].kind, LANE_PROCESS);
	/* 32 slots: the os id, then 31 segments fit. */
	assert_int_equal(t.n_segments, 31);
	for (size_t i = 0; i < t.n_segments; i++) {
		assert_int_equal(t.segments[i].t0_ns, (int64_t)i);
		assert_int_equal(t.segments[i].lane, 1);
	}
	trace_free(&t);
	trace_rec_destroy(rec);
}

/* ---- JSON --------------------------------------------------------------- */

static void build_full_trace(struct trace *t)
{
	struct trace_lane *l;
	struct trace_task *k;
	struct trace_segment *s;
	struct trace_sample *m;

	trace_init(t);
	util_strlcpy(t->id, "20261122-000001-abcd", sizeof(t->id));
	util_strlcpy(t->workload, "pipeline", sizeof(t->workload));
	util_strlcpy(t->model, "threads", sizeof(t->model));
	t->params = json_pack("{s:i, s:s}", "items", 20, "duration", "5ms");
	t->options =
		json_pack("{s:s, s:s}", "gil", "on", "switch_interval", "5ms");
	t->status = RUN_DEADLOCK;
	util_strlcpy(t->message, "consumer 1 waits for \"queue q\"",
		     sizeof(t->message));
	util_strlcpy(t->started_at, "2026-11-22T03:50:00Z",
		     sizeof(t->started_at));
	t->host.cores = 2;
	util_strlcpy(t->host.kernel, "Linux 6.1.0", sizeof(t->host.kernel));
	util_strlcpy(t->host.engine, "overlap 0.1.0", sizeof(t->host.engine));
	t->host.cpu_iters_per_ms = 123456.789;
	t->cpu_ns = 1234567;

	l = trace_add_lane(t);
	l->kind = LANE_MAIN;
	util_strlcpy(l->name, "main", sizeof(l->name));
	l->os_id = 4242;
	l = trace_add_lane(t);
	l->kind = LANE_PROCESS;
	util_strlcpy(l->name, "worker 1", sizeof(l->name));
	l->os_id = 4243;

	k = trace_add_task(t);
	trace_task_set_name(t, k, "producer 1");
	k->lane = 1;
	k->submit_ns = 0;
	k->start_ns = 100;
	k->end_ns = 5000;
	k->status = TASK_ERROR;
	k->note = trace_note(t, "worker killed by signal 9 (SIGKILL)");
	k = trace_add_task(t);
	trace_task_set_name(t, k, "consumer 1");
	k->submit_ns = 0; /* pending, never started: nulls */

	s = trace_add_segment(t);
	*s = (struct trace_segment){
		100,	       2100, 0, 1, trace_note(t, "queue q"),
		ST_QUEUE_WAIT, false};
	s = trace_add_segment(t);
	*s = (struct trace_segment){2100, 5000, 0, 1, 0, ST_COMPUTE, false};
	m = trace_add_sample(t);
	*m = (struct trace_sample){150, 3, CTR_QUEUE_DEPTH};

	t->summary.wall_ns = 5000;
	t->summary.task_time_ns = 4900;
	t->summary.speedup = 0.58;
	t->summary.parallelism = 1.0 / 3.0;
	t->summary.cpu_util = 0.123456789;
	t->summary.peak_inflight = 1;
	t->summary.states_ns[ST_COMPUTE] = 2900;
	t->summary.states_ns[ST_QUEUE_WAIT] = 2000;
	t->summary.max_loop_lag_ns = -1;
	t->summary.checks =
		json_pack("{s:i, s:i}", "produced", 3, "consumed", 2);
	util_strlcpy(t->summary.bound, "sync", sizeof(t->summary.bound));
	util_strlcpy(t->summary.recommend, "asyncio",
		     sizeof(t->summary.recommend));
	util_strlcpy(t->summary.why, "Because.", sizeof(t->summary.why));
	t->has_summary = true;
}

static void test_json_shape(void **state)
{
	struct trace t;
	json_t *j, *task, *seg;

	(void)state;
	build_full_trace(&t);
	j = trace_to_json(&t);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "format")),
			    "overlap-trace");
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(j, "run"), "status")),
			    "deadlock");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(j, "run"), "host"),
			"cores")),
		2);
	task = json_array_get(json_object_get(j, "tasks"), 1);
	assert_true(json_is_null(json_object_get(task, "status")));
	assert_true(json_is_null(json_object_get(task, "start_ns")));
	assert_true(json_is_null(json_object_get(task, "lane")));
	assert_int_equal(json_integer_value(json_object_get(task, "submit_ns")),
			 0);
	seg = json_array_get(json_object_get(j, "segments"), 0);
	assert_string_equal(json_string_value(json_object_get(seg, "state")),
			    "queue-wait");
	assert_string_equal(json_string_value(json_object_get(seg, "note")),
			    "queue q");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(j, "summary"),
						 "states"),
				 "queue-wait")),
			 2000);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(j, "summary"),
					"diagnosis"),
			"bound")),
		"sync");
	json_decref(j);
	trace_free(&t);
}

static void test_json_round_trip(void **state)
{
	struct trace t, back;
	json_t *j, *reloaded, *again;
	char *text, err[200];

	(void)state;
	build_full_trace(&t);
	j = trace_to_json(&t);
	text = json_dumps(j, JSON_COMPACT);
	reloaded = json_loads(text, 0, NULL);
	assert_non_null(reloaded);
	trace_init(&back);
	assert_int_equal(trace_from_json(reloaded, &back, err, sizeof(err)), 0);
	again = trace_to_json(&back);
	assert_true(json_equal(j, again));

	assert_string_equal(back.message, t.message);
	assert_int_equal(back.cpu_ns, t.cpu_ns);
	assert_true(back.host.cpu_iters_per_ms == t.host.cpu_iters_per_ms);
	assert_true(back.summary.parallelism == t.summary.parallelism);
	assert_true(back.summary.cpu_util == t.summary.cpu_util);
	assert_int_equal(back.tasks[1].lane, UINT32_MAX);
	assert_int_equal(back.tasks[1].start_ns, -1);
	assert_int_equal(back.tasks[1].status, TASK_PENDING);
	assert_int_equal(back.summary.max_loop_lag_ns, -1);
	assert_true(back.has_summary);
	assert_int_equal(back.n_samples, 1);
	assert_string_equal(back.notes[back.segments[0].note], "queue q");

	free(text);
	json_decref(j);
	json_decref(reloaded);
	json_decref(again);
	trace_free(&back);
	trace_free(&t);
}

/* A trace still running: no summary yet. */
static void test_json_partial(void **state)
{
	struct trace t, back;
	json_t *j, *again;

	(void)state;
	build_full_trace(&t);
	t.has_summary = false;
	t.status = RUN_RUNNING;
	j = trace_to_json(&t);
	assert_true(json_is_null(json_object_get(j, "summary")));
	trace_init(&back);
	assert_int_equal(trace_from_json(j, &back, NULL, 0), 0);
	assert_false(back.has_summary);
	again = trace_to_json(&back);
	assert_true(json_equal(j, again));
	json_decref(j);
	json_decref(again);
	trace_free(&back);
	trace_free(&t);
}

/* A file holding j's text, its offset at the start (unlinked). */
static int json_file(const json_t *j, size_t flags)
{
	char path[] = "/tmp/overlap-test-trace-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(json_dumpfd(j, fd, flags), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static const struct {
	const char *path;  /* "a.b[1].c" of the value to replace */
	const char *value; /* JSON text; NULL: remove the key */
	const char *error; /* expected prefix of the message */
} bad_cases[] = {
	{"format", "\"chrome\"", "format:"},
	{"version", "2", "version: expected 1"},
	{"run", "[]", "run: expected an object"},
	{"run.status", "\"finished\"", "run.status: unknown value"},
	{"run.host", NULL, "run.host: expected an object"},
	{"run.host.cores", "\"two\"", "run.host.cores: expected an integer"},
	{"run.id", "\"0123456789012345678901234567890123456789\"",
	 "run.id: longer than 39 characters"},
	{"run.params", "[]", "run.params: expected an object"},
	{"lanes", "{}", "lanes: expected an array"},
	{"lanes[1].id", "5", "lanes[1]: id 5 is not its index 1"},
	{"lanes[0].kind", "\"fiber\"", "lanes[0].kind: unknown value"},
	{"tasks[0].status", "\"pending\"", "tasks[0].status: a pending"},
	{"tasks[0].status", "\"fine\"", "tasks[0].status: unknown value"},
	{"tasks[0].lane", "9", "tasks[0].lane: 9 is outside 0..1"},
	{"tasks[0].end_ns", "-5", "tasks[0].end_ns: -5 is outside"},
	{"tasks[1].id", "0", "tasks[1]: id 0 is not its index 1"},
	{"segments[1].state", "\"nap\"", "segments[1].state: unknown value"},
	{"segments[0].task", "2", "segments[0].task: 2 is outside 0..1"},
	{"segments[0].t1_ns", "10", "segments[0].t1_ns: 10 is outside"},
	{"segments[0].note", "7", "segments[0].note: expected a string"},
	{"segments", NULL, "segments: expected an array"},
	{"counters[0].name", "\"depth\"", "counters[0].name: unknown value"},
	{"summary", "3", "summary: expected an object or null"},
	{"summary.speedup", "\"fast\"", "summary.speedup: expected a number"},
	{"summary.states.nap", "4", "summary.states.nap: unknown state"},
	{"summary.states.io", "-4", "summary.states.io: expected a non-neg"},
	{"summary.diagnosis", NULL, "summary.diagnosis: expected an object"},
};

/* Finds the parent of the last component of path and that component. */
static json_t *json_walk(json_t *root, const char *path, char *last,
			 size_t size)
{
	char buf[128], *p = buf, *dot;
	json_t *cur = root;

	util_strlcpy(buf, path, sizeof(buf));
	while ((dot = strchr(p, '.'))) {
		char *br;

		*dot = '\0';
		br = strchr(p, '[');
		if (br) {
			*br = '\0';
			cur = json_array_get(json_object_get(cur, p),
					     strtoul(br + 1, NULL, 10));
		} else {
			cur = json_object_get(cur, p);
		}
		p = dot + 1;
	}
	util_strlcpy(last, p, size);
	return cur;
}

static void test_json_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct trace t, back;
		json_t *j, *parent;
		char last[64], err[200];
		int fd;

		build_full_trace(&t);
		j = trace_to_json(&t);
		parent = json_walk(j, bad_cases[i].path, last, sizeof(last));
		assert_non_null(parent);
		if (bad_cases[i].value)
			json_object_set_new(parent, last,
					    json_loads(bad_cases[i].value,
						       JSON_DECODE_ANY, NULL));
		else
			json_object_del(parent, last);
		trace_init(&back);
		assert_int_equal(trace_from_json(j, &back, err, sizeof(err)),
				 -EINVAL);
		if (strncmp(err, bad_cases[i].error,
			    strlen(bad_cases[i].error)) != 0)
			fail_msg("case %zu (%s): got \"%s\"", i,
				 bad_cases[i].path, err);
		trace_free(&back);

		/* The same document read from a file, a piece at a time. */
		fd = json_file(j, JSON_COMPACT);
		trace_init(&back);
		assert_int_equal(trace_from_json_fd(fd, &back, err,
						    sizeof(err)),
				 -EINVAL);
		if (strncmp(err, bad_cases[i].error,
			    strlen(bad_cases[i].error)) != 0)
			fail_msg("case %zu (%s) from a file: got \"%s\"", i,
				 bad_cases[i].path, err);
		close(fd);
		json_decref(j);
		trace_free(&back);
		trace_free(&t);
	}
}

/* The full trace and enough tasks that the file is read in many blocks,
 * with notes whose brackets, quotes and escapes sit inside strings, where
 * the scan for an item's end must not count them. */
static void build_big_trace(struct trace *t)
{
	static const char *const notes[] = {"lock \"a]}\" held", "{[(",
					    "back\\slash\\", "tab\there",
					    "caf\u00e9 \"x\\\"\""};

	build_full_trace(t);
	for (uint32_t i = 0; i < 3000; i++) {
		struct trace_task *k = trace_add_task(t);
		struct trace_segment *s = trace_add_segment(t);

		trace_task_set_label(t, k, "request", i + 1);
		k->lane = i % 2;
		k->submit_ns = 0;
		k->start_ns = i;
		k->end_ns = i + 1000;
		k->status = TASK_OK;
		*s = (struct trace_segment){i,
					    i + 1000,
					    (uint32_t)t->n_tasks - 1,
					    i % 2,
					    trace_note(t, notes[i % 5]),
					    ST_SLEEP,
					    i % 7 == 0};
	}
}

static void test_json_fd_round_trip(void **state)
{
	static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2)};

	(void)state;
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		struct trace t, back;
		json_t *j, *again;
		char err[200];
		int fd;

		build_big_trace(&t);
		j = trace_to_json(&t);
		fd = json_file(j, flags[f]);
		trace_init(&back);
		assert_int_equal(
			trace_from_json_fd(fd, &back, err, sizeof(err)), 0);
		assert_int_equal(back.n_tasks, t.n_tasks);
		assert_int_equal(back.n_segments, t.n_segments);
		again = trace_to_json(&back);
		assert_true(json_equal(j, again));
		close(fd);
		json_decref(j);
		json_decref(again);
		trace_free(&back);
		trace_free(&t);
	}
}

/* Members in another order than the engine writes them are read whole,
 * to the same trace. */
static void test_json_fd_other_order(void **state)
{
	struct trace t, back;
	json_t *j, *shuffled, *again;
	char err[200];
	int fd;

	(void)state;
	build_big_trace(&t);
	j = trace_to_json(&t);
	shuffled = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}",
			     "summary", json_object_get(j, "summary"),
			     "segments", json_object_get(j, "segments"),
			     "tasks", json_object_get(j, "tasks"), "lanes",
			     json_object_get(j, "lanes"), "counters",
			     json_object_get(j, "counters"), "run",
			     json_object_get(j, "run"), "version",
			     json_object_get(j, "version"), "format",
			     json_object_get(j, "format"));
	fd = json_file(shuffled, JSON_COMPACT | JSON_PRESERVE_ORDER);
	trace_init(&back);
	assert_int_equal(trace_from_json_fd(fd, &back, err, sizeof(err)), 0);
	again = trace_to_json(&back);
	assert_true(json_equal(j, again));
	close(fd);
	json_decref(again);
	json_decref(shuffled);
	json_decref(j);
	trace_free(&back);
	trace_free(&t);
}

/* Text that is not one JSON object: cut short, followed by more, or not
 * JSON at all, is refused as unreadable. */
static void test_json_fd_not_json(void **state)
{
	static const char *const texts[] = {
		"",
		"[1, 2]",
		"{\"format\": \"overlap-trace\", \"version\": 1,",
		"{\"format\": \"overlap-trace\"} {}",
		"{\"format\" \"overlap-trace\"}",
		"{\"lanes\": [{\"id\": 0,}]}",
	};
	struct trace t, back;
	char *text;
	size_t cut;
	json_t *j;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char path[] = "/tmp/overlap-test-trace-XXXXXX";
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		unlink(path);
		assert_int_equal(write(fd, texts[i], strlen(texts[i])),
				 (ssize_t)strlen(texts[i]));
		lseek(fd, 0, SEEK_SET);
		trace_init(&t);
		if (trace_from_json_fd(fd, &t, NULL, 0) != -EIO)
			fail_msg("case %zu was not refused as -EIO", i);
		trace_free(&t);
		close(fd);
	}

	/* A real trace cut in the middle of its segments. */
	build_big_trace(&t);
	j = trace_to_json(&t);
	text = json_dumps(j, JSON_COMPACT);
	cut = strlen(text) * 3 / 4;
	{
		char path[] = "/tmp/overlap-test-trace-XXXXXX";
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		unlink(path);
		assert_int_equal(write(fd, text, cut), (ssize_t)cut);
		lseek(fd, 0, SEEK_SET);
		trace_init(&back);
		assert_int_equal(trace_from_json_fd(fd, &back, NULL, 0), -EIO);
		trace_free(&back);
		close(fd);
	}
	free(text);
	json_decref(j);
	trace_free(&t);
}

static void test_json_not_object(void **state)
{
	struct trace t;
	char err[100];
	json_t *arr = json_array();

	(void)state;
	trace_init(&t);
	assert_int_equal(trace_from_json(arr, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "trace: expected an object");
	json_decref(arr);
	trace_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_other_names),
		cmocka_unit_test(test_trace_arrays),
		cmocka_unit_test(test_task_names),
		cmocka_unit_test(test_rec_limits),
		cmocka_unit_test(test_rec_map_in_child),
		cmocka_unit_test(test_collector_threads),
		cmocka_unit_test(test_collector_drops_strays),
		cmocka_unit_test(test_collector_known_lanes),
		cmocka_unit_test(test_collector_memory),
		cmocka_unit_test(test_collector_no_memory),
		cmocka_unit_test(test_collector_drains_again),
		cmocka_unit_test(test_collector_pending_lanes),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_partial),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_json_fd_round_trip),
		cmocka_unit_test(test_json_fd_other_order),
		cmocka_unit_test(test_json_fd_not_json),
		cmocka_unit_test(test_json_not_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
