/*
 * workload_sync: the recipes whose lessons are about sharing: counter
 * (lost updates), pipeline (producer / consumer over bounded queues with a
 * poison pill), scraper (a semaphore, a rate limiter, timeouts and retries
 * with backoff) and files (real file I/O in a private directory).
 *
 * They only build programs; what the steps do is sync.c's, in every model.
 * Everything random (the scraper's latencies and failures) is drawn here
 * from the seed, so a run can be repeated exactly and a test can predict
 * which attempts fail.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "workload.h"

#define MS(x) ((double)(x)*NS_PER_MS)
#define SEC(x) ((double)(x)*NS_PER_S)
#define MIB(x) ((double)(x)*1024 * 1024)

/* An increment with an await inside records a segment per increment, so
 * that variant is kept to a size a timeline can show. */
#define COUNTER_AWAIT_MAX_TOTAL 200000

static int fail_param(struct spec_error *err, const char *field,
		      const char *message)
{
	snprintf(err->field, sizeof(err->field), "params.%s", field);
	util_strlcpy(err->message, message, sizeof(err->message));
	err->column = 0;
	return -EINVAL;
}

static struct step make_step(enum step_kind kind, uint32_t object, int64_t ns,
			     int64_t n, int64_t aux)
{
	struct step s = {0};

	s.kind = (uint8_t)kind;
	s.object = object;
	s.ns = ns;
	s.n = n;
	s.aux = aux;
	return s;
}

/* ---- counter ------------------------------------------------------------ */

static const struct param_def counter_params[] = {
	{"tasks", PARAM_INT, "tasks", "5", 1, 64, NULL,
	 "how many tasks increment the one shared counter"},
	{"increments", PARAM_INT, "increments", "100000", 1, 10000000, NULL,
	 "counter += 1, this many times in each task"},
	{"sync", PARAM_ENUM, "", "none", 0, 0, "none|lock|atomic",
	 "none: a bare read-modify-write; lock: a lock around it; atomic: "
	 "one atomic add"},
	{"await", PARAM_ENUM, "", "no", 0, 0, "no|yes",
	 "yes: await asyncio.sleep(0) (time.sleep(0) in threads) between "
	 "the read and the write"},
	{"call", PARAM_ENUM, "", "no", 0, 0, "no|yes",
	 "yes: call a Python function between the read and the write "
	 "(v = counter; f(); counter = v + 1): the call lets the GIL switch "
	 "there, so threads lose updates on Python 3.10+ too"},
};

static int counter_build(const struct spec *spec, struct program *p,
			 struct spec_error *err)
{
	const struct param_set *ps = &spec->params;
	const char *mode = spec_text(ps, "sync");
	int64_t tasks = spec_int(ps, "tasks");
	int64_t increments = spec_int(ps, "increments");
	bool await_inside = strcmp(spec_text(ps, "await"), "yes") == 0;
	bool call_inside = strcmp(spec_text(ps, "call"), "yes") == 0;
	int64_t sync_mode = strcmp(mode, "lock") == 0	  ? 1
			    : strcmp(mode, "atomic") == 0 ? 2
							  : 0;
	struct step s;
	uint32_t counter, first;

	if (await_inside && tasks * increments > COUNTER_AWAIT_MAX_TOTAL) {
		char message[160];

		snprintf(message, sizeof(message),
			 "increments: with await=yes, tasks x increments "
			 "is at most %d (got %lld)",
			 COUNTER_AWAIT_MAX_TOTAL,
			 (long long)(tasks * increments));
		return fail_param(err, "increments", message);
	}
	counter = program_add_object(p, OBJ_COUNTER, sync_mode, "counter");
	s = make_step(STEP_INCR, counter, 0, increments, 0);
	if (await_inside)
		s.flags |= STEP_F_AWAIT;
	if (call_inside)
		s.flags |= STEP_F_CALL;
	first = program_add_step(p, s);
	for (int64_t i = 0; i < tasks; i++)
		program_add_task(p, "task", (uint32_t)i + 1, first, 1);
	return 0;
}

const struct workload workload_counter = {
	.name = "counter",
	.help = "tasks doing counter += 1 on shared memory: without a lock "
		"updates get lost",
	.params = counter_params,
	.n_params = sizeof(counter_params) / sizeof(counter_params[0]),
	.build = counter_build,
};

/* ---- pipeline ----------------------------------------------------------- */

static const struct param_def pipeline_params[] = {
	{"producers", PARAM_INT, "tasks", "2", 1, 64, NULL,
	 "tasks that make the items and put them on the queue"},
	{"consumers", PARAM_INT, "tasks", "2", 1, 64, NULL,
	 "tasks that get items until they get the poison pill (in each "
	 "later stage)"},
	{"capacity", PARAM_INT, "items", "5", 1, 10000, NULL,
	 "room in each queue: a producer waits when it is full"},
	{"items", PARAM_INT, "items", "20", 1, 100000, NULL,
	 "items made by all producers together"},
	{"produce", PARAM_DURATION, "ms", "20ms", 0, SEC(10), NULL,
	 "computation to make one item"},
	{"transform", PARAM_DURATION, "ms", "0", 0, SEC(10), NULL,
	 "computation of a middle stage per item; 0: no middle stage, else "
	 "producer -> transformer -> writer"},
	{"consume", PARAM_DURATION, "ms", "30ms", 0, SEC(10), NULL,
	 "computation to use one item"},
};

/* A cpu step outside every task's range, for STEP_CONSUME.n; -1 when the
 * work is zero. */
static int64_t work_step(struct program *p, int64_t ns)
{
	if (ns <= 0)
		return -1;
	return program_add_step(p, make_step(STEP_CPU, 0, ns, 0, 0));
}

static int pipeline_build(const struct spec *spec, struct program *p,
			  struct spec_error *err)
{
	const struct param_set *ps = &spec->params;
	int64_t producers = spec_int(ps, "producers");
	int64_t consumers = spec_int(ps, "consumers");
	int64_t capacity = spec_int(ps, "capacity");
	int64_t items = spec_int(ps, "items");
	int64_t produce_ns = spec_ns(ps, "produce");
	int64_t transform_ns = spec_ns(ps, "transform");
	bool three = transform_ns > 0;
	uint32_t q_items, q_results = 0, first;
	int64_t w_transform, w_consume, item = 0;

	(void)err;
	q_items = program_add_object(p, OBJ_QUEUE, capacity, "items");
	if (three)
		q_results =
			program_add_object(p, OBJ_QUEUE, capacity, "results");
	w_transform = three ? work_step(p, transform_ns) : -1;
	w_consume = work_step(p, spec_ns(ps, "consume"));

	for (int64_t k = 0; k < producers; k++) {
		int64_t mine = items / producers + (k < items % producers);

		first = (uint32_t)p->n_steps;
		for (int64_t i = 0; i < mine; i++, item++) {
			if (produce_ns > 0)
				program_add_step(p,
						 make_step(STEP_CPU, 0,
							   produce_ns, 0, 0));
			program_add_step(p, make_step(STEP_PUT, q_items, 0,
						      item, 0));
		}
		/* The last producer to finish puts one pill per consumer
		 * of the next stage. */
		program_add_step(p, make_step(STEP_CLOSE, q_items, 0, consumers,
					      0));
		program_add_task(p, "producer", (uint32_t)k + 1, first,
				 (uint32_t)(p->n_steps - first));
	}
	if (three) {
		first = program_add_step(p, make_step(STEP_CONSUME, q_items, 0,
						      w_transform,
						      (int64_t)q_results + 1));
		program_add_step(p, make_step(STEP_CLOSE, q_results, 0,
					      consumers, 0));
		for (int64_t k = 0; k < consumers; k++)
			program_add_task(p, "transformer", (uint32_t)k + 1,
					 first, 2);
	}
	first = program_add_step(p, make_step(STEP_CONSUME,
					      three ? q_results : q_items, 0,
					      w_consume, 0));
	for (int64_t k = 0; k < consumers; k++)
		program_add_task(p, three ? "writer" : "consumer",
				 (uint32_t)k + 1, first, 1);
	return 0;
}

const struct workload workload_pipeline = {
	.name = "pipeline",
	.help = "producers and consumers over a bounded queue, shut down by "
		"a poison pill",
	.params = pipeline_params,
	.n_params = sizeof(pipeline_params) / sizeof(pipeline_params[0]),
	.build = pipeline_build,
};

/* ---- scraper ------------------------------------------------------------ */

static const struct param_def scraper_params[] = {
	{"urls", PARAM_INT, "urls", "20", 1, 10000, NULL,
	 "pages to fetch, one task each"},
	{"max_concurrent", PARAM_INT, "requests", "5", 1, 1000, NULL,
	 "a semaphore: at most this many requests at once"},
	{"rate", PARAM_FLOAT, "req/s", "4", 0, 1000, NULL,
	 "requests started per second at most (0: no limit)"},
	{"timeout", PARAM_DURATION, "ms", "1s", MS(1), SEC(60), NULL,
	 "an attempt still waiting after this long is cancelled"},
	{"retries", PARAM_INT, "retries", "2", 0, REQUEST_MAX_ATTEMPTS - 1,
	 NULL, "attempts after the first one fails"},
	{"backoff", PARAM_DURATION, "ms", "100ms", 0, SEC(10), NULL,
	 "wait before retry k: backoff x 2^k"},
	{"failure_rate", PARAM_FLOAT, "", "0.1", 0, 1, NULL,
	 "chance that the server answers an attempt with an error"},
	{"seed", PARAM_INT, "", "1", 0, 2147483647, NULL,
	 "seed of latencies and failures, so a run can be repeated"},
	{"latency_min", PARAM_DURATION, "ms", "100ms", 0, SEC(60), NULL,
	 "shortest time the server takes to answer"},
	{"latency_max", PARAM_DURATION, "ms", "800ms", 0, SEC(60), NULL,
	 "longest time the server takes to answer"},
};

/* splitmix64, as the fetch workload uses: the same sequence everywhere. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform01(uint64_t *state)
{
	return (double)(splitmix64(state) >> 11) / (double)(1ULL << 53);
}

static int scraper_build(const struct spec *spec, struct program *p,
			 struct spec_error *err)
{
	const struct param_set *ps = &spec->params;
	int64_t urls = spec_int(ps, "urls");
	int64_t lat_min = spec_ns(ps, "latency_min");
	int64_t lat_max = spec_ns(ps, "latency_max");
	double rate = spec_float(ps, "rate");
	double failure_rate = spec_float(ps, "failure_rate");
	uint64_t rng = (uint64_t)spec_int(ps, "seed");
	uint32_t slots, limiter;

	if (lat_min > lat_max) {
		char message[160], a[32], b[32];

		snprintf(message, sizeof(message),
			 "latency_max: must be at least latency_min (%s), "
			 "got %s",
			 util_format_duration(lat_min, a, sizeof(a)),
			 util_format_duration(lat_max, b, sizeof(b)));
		return fail_param(err, "latency_max", message);
	}
	slots = program_add_object(p, OBJ_SEMAPHORE,
				   spec_int(ps, "max_concurrent"), "slots");
	/* The limiter's count is its rate per 1000 s. */
	limiter = program_add_object(p, OBJ_LIMITER,
				     (int64_t)llround(rate * 1000.0), "rate");
	for (int64_t u = 0; u < urls; u++) {
		struct request_def r = {0};
		uint32_t first, req;

		r.timeout_ns = spec_ns(ps, "timeout");
		r.retries = (int32_t)spec_int(ps, "retries");
		r.backoff_ns = spec_ns(ps, "backoff");
		for (int k = 0; k < REQUEST_MAX_ATTEMPTS; k++) {
			r.latency_ns[k] =
				lat_min +
				(int64_t)((double)(lat_max - lat_min) *
					  uniform01(&rng));
			if (uniform01(&rng) < failure_rate)
				r.fail_mask |= 1 << k;
		}
		req = program_add_request(p, r);
		first = program_add_step(p, make_step(STEP_ACQUIRE, slots, 0, 0,
						      0));
		program_add_step(p, make_step(STEP_REQUEST, limiter,
					      r.latency_ns[0], 0, req));
		program_add_step(p, make_step(STEP_RELEASE, slots, 0, 0, 0));
		program_add_task(p, "url", (uint32_t)u + 1, first, 3);
	}
	return 0;
}

const struct workload workload_scraper = {
	.name = "scraper",
	.help = "bounded, rate-limited fetching with timeouts and retries",
	.params = scraper_params,
	.n_params = sizeof(scraper_params) / sizeof(scraper_params[0]),
	.build = scraper_build,
};

/* ---- files -------------------------------------------------------------- */

static const struct param_def files_params[] = {
	{"files", PARAM_INT, "files", "4", 1, 256, NULL,
	 "files, one task each"},
	{"size", PARAM_INT, "bytes", "1048576", 1, MIB(256), NULL,
	 "bytes per file"},
	{"mode", PARAM_ENUM, "", "write", 0, 0, "read|write",
	 "write (then fsync) or read each file, in a private temporary "
	 "directory removed after the run"},
};

static int files_build(const struct spec *spec, struct program *p,
		       struct spec_error *err)
{
	const struct param_set *ps = &spec->params;
	int64_t files = spec_int(ps, "files");
	int64_t size = spec_int(ps, "size");
	bool write = strcmp(spec_text(ps, "mode"), "write") == 0;
	uint32_t data, first;

	(void)err; /* files x size: the disk budget, in spec_validate() */
	/* One file object; each task's file is its own (sync.c names it
	 * "data.<task>"). */
	data = program_add_object(p, OBJ_FILE, 0, "data");
	first = program_add_step(p, make_step(STEP_DISK, data, 0, size,
					      write ? 1 : 0));
	for (int64_t i = 0; i < files; i++)
		program_add_task(p, "file", (uint32_t)i + 1, first, 1);
	return 0;
}

const struct workload workload_files = {
	.name = "files",
	.help = "real file reads or writes (with fsync): I/O that threads "
		"overlap",
	.params = files_params,
	.n_params = sizeof(files_params) / sizeof(files_params[0]),
	.build = files_build,
	.disk_param = "size",
};
