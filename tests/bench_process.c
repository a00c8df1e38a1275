/*
 * bench_process: what the process pool costs and what it buys, with the
 * full trace recorded.
 *
 *   round trip   one trivial task (a cpu step of one iteration) submitted
 *                and its result awaited, again and again on one forked
 *                worker: the pool's dispatch, the worker's recording and
 *                both socket hops (Python: executor.submit(f).result())
 *   first result from procpool_create() to the first result of a trivial
 *                task, for fork and for spawn (the median of several): the
 *                start-up a user waits for before any work happens
 *   speedup      CPU tasks (4 x 250 ms) under sequential and under the
 *                process pool with 2 workers on 2 cores: wall over wall,
 *                the best of three runs each (the machine may be shared)
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
#include "util.h"
#include "worker.h"
#include "workload.h"

#define ROUND_TRIPS 20000
#define FIRST_RESULT_RUNS 15
#define SPEEDUP_RUNS 3

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
	b->ctx.max_loop_lag_ns = -1;
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
	t0 = util_mono_ns();
	for (uint32_t i = 0; i < ROUND_TRIPS; i++)
		if (one_task(p, i % 10000) < 0)
			goto out_destroy;
	t1 = util_mono_ns();
	us = (double)(t1 - t0) / ROUND_TRIPS / (double)NS_PER_US;
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

/* The best wall time of a few runs of 4 x 250 ms of computation. */
static int64_t crunch_wall_ns(const char *model)
{
	int64_t best = INT64_MAX;

	for (int r = 0; r < SPEEDUP_RUNS; r++) {
		struct spec *spec = calloc(1, sizeof(*spec));
		struct spec_error err = {0};
		struct trace t;

		if (!spec || spec_init(spec, "crunch", model, &err) < 0 ||
		    spec_set(spec, "tasks", "4", &err) < 0 ||
		    spec_set(spec, "duration", "250ms", &err) < 0 ||
		    (strcmp(model, "process-pool") == 0 &&
		     spec_set(spec, "workers", "2", &err) < 0)) {
			fprintf(stderr, "bench_process: %s\n", err.message);
			free(spec);
			return -1;
		}
		trace_init(&t);
		if (run_execute(spec, NULL, &t, &err) < 0 ||
		    t.status != RUN_DONE) {
			fprintf(stderr, "bench_process: %s run failed\n",
				model);
			trace_free(&t);
			free(spec);
			return -1;
		}
		if (t.summary.wall_ns < best)
			best = t.summary.wall_ns;
		trace_free(&t);
		free(spec);
	}
	return best;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc - 1, argv + 1);

	double rt = round_trip_us();
	double fork_ms = first_result_ms(PROCPOOL_FORK);
	double spawn_ms = first_result_ms(PROCPOOL_SPAWN);
	int64_t seq = crunch_wall_ns("sequential");
	int64_t pool = crunch_wall_ns("process-pool");
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	printf("| process pool: dispatch round trip per task | %.1f us | "
	       "<= 30 us |\n",
	       rt);
	printf("| process pool: start to first result, fork | %.2f ms | "
	       "<= 1 ms |\n",
	       fork_ms);
	printf("| process pool: start to first result, spawn | %.2f ms | "
	       "<= 5 ms |\n",
	       spawn_ms);
	if (seq > 0 && pool > 0)
		printf("| process pool: CPU speedup, 2 workers, %ld cores "
		       "(4 x 250 ms: %.0f ms sequential, %.0f ms pool) | "
		       "%.2fx | >= 1.9x |\n",
		       cores, (double)seq / NS_PER_MS,
		       (double)pool / NS_PER_MS, (double)seq / (double)pool);
	return rt < 0 || fork_ms < 0 || spawn_ms < 0 || seq < 0 || pool < 0;
}
