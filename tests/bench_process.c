/*
 * bench_process: what the process pool costs and what it buys, with the
 * full trace recorded.
 *
 *   round trip   one trivial task (a cpu step of one iteration) submitted
 *                and its result awaited, again and again on one forked
 *                worker: the pool's dispatch, the worker's recording and
 *                both socket hops (Python: executor.submit(f).result());
 *                the best of five batches, as other work on a shared
 *                machine only ever adds to it
 *   first result from procpool_create() to the first result of a trivial
 *                task, for fork and for spawn (the median of several): the
 *                start-up a user waits for before any work happens
 *   speedup      CPU tasks (4 x 250 ms, as iterations counted once, so
 *                both models do the same work) under sequential and the
 *                process pool with 2 workers on 2 cores: wall over wall,
 *                the best of five runs each, taken in turns so both see
 *                the same moments of a shared machine; the load average
 *                is printed too, since a busy machine has no core to
 *                spare for the second worker
 *
 * Spawned workers exec this binary; main() hands "worker" to worker_main().
 * Prints markdown table rows: | measure | value | target |.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procpool.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"
#include "util.h"
#include "worker.h"
#include "workload.h"

#define ROUND_TRIPS 4000
#define ROUND_TRIP_BATCHES 5
#define FIRST_RESULT_RUNS 15
#define SPEEDUP_RUNS 5

/* A recorder, a collector draining it, and a run context around a
 * program: what run_execute() sets up, by hand, so the pool can be timed
 * alone. */
struct bench_run {
	struct spec spec;
	struct program prog;
	struct trace_rec *rec;
	struct trace trace;
	struct trace_collector *collector;
	struct run_ctx ctx;
};

static int bench_run_init(struct bench_run *b, const char *tasks)
{
	struct spec_error err = {0};
	int64_t epoch = util_mono_ns();

	if (spec_init(&b->spec, "crunch", "process-pool", &err) < 0 ||
	    spec_set(&b->spec, "tasks", tasks, &err) < 0 ||
	    spec_set(&b->spec, "iterations", "1", &err) < 0) {
		fprintf(stderr, "bench_process: spec: %s\n", err.message);
		return -1;
	}
	program_init(&b->prog);
	if (workload_find("crunch")->build(&b->spec, &b->prog, &err) < 0)
		return -1;
	b->rec = trace_rec_create(64, 4096, epoch);
	if (!b->rec)
		return -1;
	trace_init(&b->trace);
	for (size_t i = 0; i < b->prog.n_tasks; i++) {
		struct trace_task *k = trace_add_task(&b->trace);
		k->submit_ns = k->start_ns = k->end_ns = -1;
	}
	b->ctx.spec = &b->spec;
	b->ctx.prog = &b->prog;
	b->ctx.rec = b->rec;
	b->ctx.main_lane = trace_rec_add_lane(b->rec, LANE_MAIN, "main");
	b->ctx.deadline_ns = 600 * NS_PER_S;
	cpu_calibrate(&b->ctx.cpu);
	b->collector = trace_collector_start(b->rec, &b->trace, NULL, 0,
					     NS_PER_MS, NULL, NULL);
	return b->collector ? 0 : -1;
}

static void bench_run_free(struct bench_run *b)
{
	trace_collector_stop(b->collector);
	trace_free(&b->trace);
	trace_rec_destroy(b->rec);
	program_free(&b->prog);
}

static struct procpool *make_pool(struct bench_run *b,
				  enum procpool_start start)
{
	struct procpool_config cfg = {.run = &b->ctx,
				      .lane = b->ctx.main_lane,
				      .workers = 1,
				      .start = start};
	char why[200] = "";
	struct procpool *p = procpool_create(&cfg, why, sizeof(why));

	if (!p)
		fprintf(stderr, "bench_process: pool: %s\n", why);
	return p;
}

static int one_task(struct procpool *p, uint32_t task)
{
	struct procpool_job job = {.task = task,
				   .flags = PROCPOOL_REC_SUBMIT |
					    PROCPOOL_REC_QUEUED};
	struct procpool_done done;

	if (procpool_submit(p, &job) < 0 ||
	    procpool_wait(p, &done, 1, 10 * NS_PER_S) != 1 ||
	    done.status != TASK_OK)
		return -1;
	return 0;
}

static double round_trip_us(void)
{
	struct bench_run *b = calloc(1, sizeof(*b));
	struct procpool *p;
	int64_t t0, t1;
	double us = -1;

	if (!b || bench_run_init(b, "10000") < 0)
		goto out;
	p = make_pool(b, PROCPOOL_FORK);
	if (!p)
		goto out_free_run;
	/* Warm up: the worker's start-up is not a round trip. */
	if (one_task(p, 0) < 0)
		goto out_destroy;
	for (int batch = 0; batch < ROUND_TRIP_BATCHES; batch++) {
		double batch_us;

		t0 = util_mono_ns();
		for (uint32_t i = 0; i < ROUND_TRIPS; i++)
			if (one_task(p, i % 10000) < 0)
				goto out_destroy;
		t1 = util_mono_ns();
		batch_us = (double)(t1 - t0) / ROUND_TRIPS / (double)NS_PER_US;
		if (us < 0 || batch_us < us)
			us = batch_us;
	}
out_destroy:
	procpool_destroy(p, NS_PER_S);
out_free_run:
	bench_run_free(b);
out:
	free(b);
	return us;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double first_result_ms(enum procpool_start start)
{
	int64_t runs[FIRST_RESULT_RUNS];
	double ms = -1;

	for (int r = 0; r < FIRST_RESULT_RUNS; r++) {
		struct bench_run *b = calloc(1, sizeof(*b));
		struct procpool *p;
		int64_t t0;
		int rc = -1;

		if (!b || bench_run_init(b, "1") < 0) {
			free(b);
			return -1;
		}
		t0 = util_mono_ns();
		p = make_pool(b, start);
		if (p) {
			rc = one_task(p, 0);
			runs[r] = util_mono_ns() - t0;
			procpool_destroy(p, NS_PER_S);
		}
		bench_run_free(b);
		free(b);
		if (rc < 0)
			return -1;
	}
	qsort(runs, FIRST_RESULT_RUNS, sizeof(runs[0]), cmp_i64);
	ms = (double)runs[FIRST_RESULT_RUNS / 2] / (double)NS_PER_MS;
	return ms;
}

/* The wall time of one run of 4 tasks of iterations each. */
static int64_t crunch_wall_ns(const char *model, const char *iterations)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct spec_error err = {0};
	struct trace t;
	int64_t wall = -1;

	if (!spec || spec_init(spec, "crunch", model, &err) < 0 ||
	    spec_set(spec, "tasks", "4", &err) < 0 ||
	    spec_set(spec, "iterations", iterations, &err) < 0 ||
	    (strcmp(model, "process-pool") == 0 &&
	     spec_set(spec, "workers", "2", &err) < 0)) {
		fprintf(stderr, "bench_process: %s\n", err.message);
		free(spec);
		return -1;
	}
	trace_init(&t);
	if (run_execute(spec, NULL, &t, &err) == 0 && t.status == RUN_DONE)
		wall = t.summary.wall_ns;
	else
		fprintf(stderr, "bench_process: %s run failed\n", model);
	trace_free(&t);
	free(spec);
	return wall;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc - 1, argv + 1);

	double load[1] = {-1};
	double rt, fork_ms, spawn_ms;
	int64_t seq = INT64_MAX, pool = INT64_MAX;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	struct cpu_calib calib;
	char iterations[32];

	getloadavg(load, 1);
	/* The same work in both models, whatever each run's own
	 * calibration would make of "250ms" on a busy machine. */
	cpu_calibrate(&calib);
	snprintf(iterations, sizeof(iterations), "%llu",
		 (unsigned long long)cpu_iters_for_ns(&calib, 250 * NS_PER_MS));
	rt = round_trip_us();
	fork_ms = first_result_ms(PROCPOOL_FORK);
	spawn_ms = first_result_ms(PROCPOOL_SPAWN);
	for (int r = 0; r < SPEEDUP_RUNS; r++) {
		int64_t s = crunch_wall_ns("sequential", iterations);
		int64_t q = crunch_wall_ns("process-pool", iterations);

		if (s < 0 || q < 0) {
			seq = pool = -1;
			break;
		}
		seq = s < seq ? s : seq;
		pool = q < pool ? q : pool;
	}

	printf("| process pool: dispatch round trip per task | %.1f us | "
	       "<= 30 us |\n",
	       rt);
	printf("| process pool: start to first result, fork | %.2f ms | "
	       "<= 1 ms |\n",
	       fork_ms);
	printf("| process pool: start to first result, spawn | %.2f ms | "
	       "<= 5 ms |\n",
	       spawn_ms);
	printf("| machine load average (1 min) when the bench started | %.2f "
	       "| (%ld cores) |\n",
	       load[0], cores);
	if (seq > 0 && pool > 0)
		printf("| process pool: CPU speedup, 2 workers, %ld cores "
		       "(4 x 250 ms: %.0f ms sequential, %.0f ms pool) | "
		       "%.2fx | >= 1.9x |\n",
		       cores, (double)seq / NS_PER_MS, (double)pool / NS_PER_MS,
		       (double)seq / (double)pool);
	return rt < 0 || fork_ms < 0 || spawn_ms < 0 || seq < 0 || pool < 0;
}
