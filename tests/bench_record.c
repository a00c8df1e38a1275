/*
 * bench_record: what recording one event costs a model.
 *
 * A producer records 1,000,000 segments into its lane's ring while a
 * consumer thread drains that ring every millisecond, as the collector
 * does (the ring holds a whole repeat, so the producer never waits for
 * it); the median of 15 repeats is reported per event, once with the
 * timestamps given (the ring's own cost) and once reading the clock for
 * every event (rec_now(), what a model pays at a segment's end).  A third
 * row goes through the real collector, which applies every event to the
 * trace arrays every millisecond, so the ring may fill and the producer
 * wait: that is the price when the collector falls behind.  The last row
 * is what the collector itself costs while nothing happens: the CPU it
 * uses, as a share of one core, with 10,000 idle lanes (a threads run of
 * 10,000 tasks that all wait).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"

#define EVENTS 1000000
#define REPEATS 15
#define RING_CAPACITY 65536
#define BIG_RING_CAPACITY (1u << 20) /* >= EVENTS */
#define IDLE_LANES 10000
#define IDLE_RING_CAPACITY 256 /* what run.c gives that many lanes */
#define IDLE_WINDOW_NS NS_PER_S

struct drain {
	struct ring *ring;
	_Atomic int stop;
	uint64_t drained;
};

/* Drains the ring as the collector does: empty it, then sleep a
 * millisecond.  (A consumer that spins on the ring instead pulls every
 * slot's cache line across the moment it is written, which measures the
 * machine's cache traffic rather than what recording costs a model.) */
static void *drain_main(void *p)
{
	struct drain *d = p;
	static struct rec_event batch[4096];
	const struct timespec tick = {0, NS_PER_MS};

	for (;;) {
		size_t n = ring_pop(d->ring, batch, 4096);

		d->drained += n;
		if (n)
			continue;
		if (atomic_load(&d->stop))
			break;
		nanosleep(&tick, NULL);
	}
	/* Anything pushed before stop was raised. */
	while (ring_pop(d->ring, batch, 1024))
		;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* ns per event, recording EVENTS segments on lane. */
static double record_run(const struct rec_lane *lane, bool read_clock)
{
	int64_t start = util_mono_ns(), prev = 0;

	if (read_clock) {
		for (uint32_t i = 0; i < EVENTS; i++) {
			int64_t now = rec_now(lane);

			rec_segment(lane, i & 1023, ST_IO, prev, now, 0);
			prev = now;
		}
	} else {
		for (uint32_t i = 0; i < EVENTS; i++)
			rec_segment(lane, i & 1023, ST_COMPUTE, i, i + 1, 0);
	}
	return (double)(util_mono_ns() - start) / EVENTS;
}

static double bench_ring(bool read_clock, uint64_t *full_waits)
{
	/* Room for a whole repeat, so the producer never waits on the
	 * sleeping consumer: what is measured is the push. */
	struct trace_rec *rec =
		trace_rec_create(1, BIG_RING_CAPACITY, util_mono_ns());
	struct rec_lane *lane;
	double per_event[REPEATS];
	struct drain d = {0};
	pthread_t th;

	if (!rec) {
		fprintf(stderr, "bench_record: cannot create the recorder\n");
		exit(1);
	}
	lane = trace_rec_add_lane(rec, LANE_THREAD, "producer");
	d.ring = lane->ring;
	pthread_create(&th, NULL, drain_main, &d);
	record_run(lane, read_clock); /* warm the pages and caches */
	for (int r = 0; r < REPEATS; r++)
		per_event[r] = record_run(lane, read_clock);
	atomic_store(&d.stop, 1);
	pthread_join(th, NULL);
	*full_waits = atomic_load(&lane->ring->full_waits);
	trace_rec_destroy(rec);
	return median(per_event, REPEATS);
}

static double bench_collector(uint64_t *full_waits)
{
	struct trace_rec *rec =
		trace_rec_create(1, RING_CAPACITY, util_mono_ns());
	double per_event[REPEATS];
	struct rec_lane *lane;

	lane = trace_rec_add_lane(rec, LANE_THREAD, "producer");
	for (int r = 0; r < REPEATS; r++) {
		struct trace t;
		struct trace_collector *c;

		trace_init(&t);
		for (int k = 0; k < 1024; k++)
			trace_add_task(&t);
		c = trace_collector_start(rec, &t, NULL, 0, NS_PER_MS, NULL,
					  NULL);
		per_event[r] = record_run(lane, false);
		trace_collector_stop(c);
		if (t.n_segments != EVENTS) {
			fprintf(stderr, "bench_record: %zu of %d events\n",
				t.n_segments, EVENTS);
			exit(1);
		}
		trace_free(&t);
	}
	*full_waits = atomic_load(&lane->ring->full_waits);
	trace_rec_destroy(rec);
	return median(per_event, REPEATS);
}

static int64_t process_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NS_PER_S +
	       (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * NS_PER_US;
}

/* The collector's share of a core while IDLE_LANES lanes record nothing:
 * this thread only sleeps, so the process's CPU time is the collector's. */
static double bench_idle_lanes(void)
{
	struct trace_rec *rec = trace_rec_create(IDLE_LANES, IDLE_RING_CAPACITY,
						 util_mono_ns());
	struct timespec window = {IDLE_WINDOW_NS / NS_PER_S, 0};
	struct trace_collector *c;
	struct trace t;
	int64_t cpu0, wall0, cpu1, wall1;

	if (!rec) {
		fprintf(stderr, "bench_record: cannot create the recorder\n");
		exit(1);
	}
	for (int i = 0; i < IDLE_LANES; i++)
		trace_rec_add_lane(rec, LANE_THREAD, "idle");
	trace_init(&t);
	c = trace_collector_start(rec, &t, NULL, 0, NS_PER_MS, NULL, NULL);
	cpu0 = process_cpu_ns();
	wall0 = util_mono_ns();
	nanosleep(&window, NULL);
	cpu1 = process_cpu_ns();
	wall1 = util_mono_ns();
	trace_collector_stop(c);
	trace_free(&t);
	trace_rec_destroy(rec);
	return 100.0 * (double)(cpu1 - cpu0) / (double)(wall1 - wall0);
}

int main(void)
{
	uint64_t waits_given, waits_clock, waits_collector;
	double given = bench_ring(false, &waits_given);
	double clock = bench_ring(true, &waits_clock);
	double collected = bench_collector(&waits_collector);
	double idle = bench_idle_lanes();

	printf("\n| measure | value | target |\n| --- | --- | --- |\n");
	printf("| recording, per event (times given; median of %d x %d; "
	       "%llu full-ring waits) | %.1f ns | <= 20 ns |\n",
	       REPEATS, EVENTS, (unsigned long long)waits_given, given);
	printf("| recording, per event, with rec_now() (%llu full-ring "
	       "waits) | %.1f ns | tens of ns |\n",
	       (unsigned long long)waits_clock, clock);
	printf("| recording, per event, through the collector (1 ms drain, "
	       "ring %d; %llu full-ring waits) | %.1f ns | tens of ns |\n",
	       RING_CAPACITY, (unsigned long long)waits_collector, collected);
	printf("| collector with %d idle lanes (1 ms drain), CPU | %.1f %% of "
	       "a core | a few %% |\n",
	       IDLE_LANES, idle);
	return 0;
}
