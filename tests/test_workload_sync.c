/*
 * test_workload_sync: the workloads counter, pipeline, scraper and files
 * under every model where they apply, end to end through run_execute().
 *
 * What is checked is what the lessons claim: the checks (lost updates
 * without a lock, exact with one; produced = consumed; never more requests
 * in flight than max_concurrent; successive request starts at least 1/rate
 * apart; the scraper's outcome predicted from its seed) and the trace's
 * structure (wait segments with the right state and the object's name).
 * Never a wall-clock threshold: where a race must happen, the test gives it
 * millions of chances, so a loaded machine only makes it slower.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "program.h"
#include "run.h"
#include "spec.h"
#include "support.h"
#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"
#include "workload.h"

#define KV_MAX 10

/* ---- helpers ------------------------------------------------------------ */

static int64_t check(const struct trace *t, const char *name)
{
	json_t *v = t->summary.checks ? json_object_get(t->summary.checks, name)
				      : NULL;

	if (!json_is_integer(v))
		fail_msg("summary.checks.%s missing", name);
	return json_integer_value(v);
}

/* ---- counter ------------------------------------------------------------ */

struct counter_case {
	const char *model;
	struct kv sets[KV_MAX];
	bool lossy;		 /* lost > 0 must happen; else lost == 0 */
	enum seg_state must_see; /* ST__COUNT: nothing in particular */
};

/* Enough increments that the race has hundreds of thousands of chances:
 * under gil=off the threads run on both cores or are preempted between
 * read and write; under the GIL a 100 us switch interval forces hundreds of
 * switches.  Where a switch may land is the interpreter's business: on
 * Python 3.9 (and with a call inside the update on any Python) most land
 * between a read and its write (a drop request is set while the
 * interpreter's work before the read runs, and honoured at the next check
 * point); on 3.10+ a bare increment has no check point inside, so the GIL
 * never splits it and nothing is lost, however often it switches.  The
 * defaults (5 tasks x 100,000 under a 5 ms interval) outlast the interval
 * too. */
static const struct counter_case counter_cases[] = {
	{"threads",
	 {{"tasks", "5"}, {"increments", "100000"}, {"gil", "on"}},
	 false,
	 ST_GIL_WAIT},
	{"threads",
	 {{"tasks", "5"},
	  {"increments", "100000"},
	  {"gil", "on"},
	  {"python", "3.9"}},
	 true,
	 ST_GIL_WAIT},
	{"threads",
	 {{"tasks", "5"}, {"increments", "100000"}, {"call", "yes"}},
	 true,
	 ST_GIL_WAIT},
	{"threads",
	 {{"tasks", "4"},
	  {"increments", "200000"},
	  {"gil", "on"},
	  {"switch_interval", "100us"}},
	 false,
	 ST_GIL_WAIT},
	{"threads",
	 {{"tasks", "4"},
	  {"increments", "200000"},
	  {"gil", "on"},
	  {"switch_interval", "100us"},
	  {"python", "3.9"}},
	 true,
	 ST_GIL_WAIT},
	{"thread-pool",
	 {{"tasks", "4"},
	  {"increments", "100000"},
	  {"workers", "2"},
	  {"switch_interval", "100us"},
	  {"call", "yes"}},
	 true,
	 ST_GIL_WAIT},
	{"sequential",
	 {{"tasks", "3"}, {"increments", "100000"}},
	 false,
	 ST__COUNT},
	{"threads",
	 {{"tasks", "4"}, {"increments", "200000"}, {"gil", "off"}},
	 true,
	 ST__COUNT},
	{"thread-pool",
	 {{"tasks", "4"},
	  {"increments", "200000"},
	  {"gil", "off"},
	  {"workers", "2"}},
	 true,
	 ST__COUNT},
	{"threads",
	 {{"tasks", "4"},
	  {"increments", "300000"},
	  {"gil", "off"},
	  {"sync", "lock"}},
	 false,
	 ST__COUNT},
	/* With the GIL a forced switch inside `with lock:` (at a call there,
	 * or anywhere on 3.9) makes the next thread wait for the lock. */
	{"threads",
	 {{"tasks", "4"},
	  {"increments", "200000"},
	  {"gil", "on"},
	  {"switch_interval", "100us"},
	  {"sync", "lock"},
	  {"call", "yes"}},
	 false,
	 ST_LOCK_WAIT},
	{"threads",
	 {{"tasks", "4"},
	  {"increments", "200000"},
	  {"gil", "on"},
	  {"switch_interval", "100us"},
	  {"sync", "lock"},
	  {"python", "3.9"}},
	 false,
	 ST_LOCK_WAIT},
	{"threads",
	 {{"tasks", "4"},
	  {"increments", "300000"},
	  {"gil", "off"},
	  {"sync", "atomic"}},
	 false,
	 ST__COUNT},
	/* Two worker processes lose updates only while both run: enough
	 * increments (tens of milliseconds each) that they do, even on a
	 * loaded machine. */
	{"process-pool",
	 {{"tasks", "4"}, {"increments", "1000000"}, {"workers", "2"}},
	 true,
	 ST__COUNT},
	{"process-pool",
	 {{"tasks", "4"},
	  {"increments", "300000"},
	  {"workers", "2"},
	  {"sync", "lock"}},
	 false,
	 ST__COUNT},
	{"asyncio",
	 {{"tasks", "5"}, {"increments", "100000"}},
	 false,
	 ST__COUNT},
	/* An await inside the read-modify-write: every task reads the same
	 * value before any writes it back. */
	{"asyncio",
	 {{"tasks", "5"}, {"increments", "1000"}, {"await", "yes"}},
	 true,
	 ST__COUNT},
	{"asyncio",
	 {{"tasks", "5"},
	  {"increments", "1000"},
	  {"await", "yes"},
	  {"sync", "lock"}},
	 false,
	 ST_LOCK_WAIT},
	{"threads",
	 {{"tasks", "3"},
	  {"increments", "2000"},
	  {"await", "yes"},
	  {"gil", "off"}},
	 true,
	 ST__COUNT},
};

static void test_counter(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(counter_cases) / sizeof(counter_cases[0]);
	     c++) {
		const struct counter_case *cc = &counter_cases[c];
		struct trace *t = run_case("counter", cc->model, cc->sets);
		int64_t expected = check(t, "expected");
		int64_t got = check(t, "got"), lost = check(t, "lost");
		int64_t tasks = 0, increments = 0;

		for (const struct kv *kv = cc->sets; kv->key; kv++) {
			if (strcmp(kv->key, "tasks") == 0)
				tasks = atoll(kv->value);
			if (strcmp(kv->key, "increments") == 0)
				increments = atoll(kv->value);
		}
		print_message("counter %zu under %s: expected %lld got %lld "
			      "lost %lld\n",
			      c, cc->model, (long long)expected, (long long)got,
			      (long long)lost);
		assert_done(t);
		assert_int_equal(expected, tasks * increments);
		assert_int_equal(lost, expected - got);
		if (cc->lossy)
			assert_true(lost > 0);
		else
			assert_int_equal(lost, 0);
		assert_true(count_segments(t, -1, ST_COMPUTE, "counter") > 0);
		if (cc->must_see == ST_LOCK_WAIT)
			assert_true(count_segments(t, -1, ST_LOCK_WAIT,
						   "counter") > 0);
		else if (cc->must_see != ST__COUNT)
			assert_true(count_segments(t, -1, cc->must_see, NULL) >
				    0);
		/* Only the loop explains why it is exact, in the checks and
		 * at the end of the diagnosis. */
		bool explained = strcmp(cc->model, "asyncio") == 0 &&
				 !cc->lossy && cc->must_see == ST__COUNT;

		assert_int_equal(json_object_get(t->summary.checks,
						 "explain") != NULL,
				 explained);
		assert_int_equal(strstr(t->summary.why, "await=yes") != NULL,
				 explained);
		free_trace(t);
	}
}

static void test_counter_await_limit(void **state)
{
	const struct workload *w = workload_find("counter");
	struct spec spec;
	struct spec_error err = {0};
	struct program p;

	(void)state;
	assert_non_null(w);
	assert_int_equal(spec_init(&spec, "counter", "asyncio", &err), 0);
	assert_int_equal(spec_set(&spec, "await", "yes", &err), 0);
	assert_int_equal(spec_set(&spec, "increments", "1000000", &err), 0);
	program_init(&p);
	assert_int_equal(w->build(&spec, &p, &err), -EINVAL);
	assert_string_equal(err.field, "params.increments");
	assert_non_null(strstr(err.message, "at most"));
	program_free(&p);
}

/* ---- pipeline ----------------------------------------------------------- */

struct pipeline_case {
	const char *model;
	struct kv sets[KV_MAX];
};

static const struct pipeline_case pipeline_cases[] = {
	{"threads", {{"items", "12"}}},
	{"threads", {{"items", "12"}, {"gil", "off"}, {"producers", "3"}}},
	{"thread-pool", {{"items", "12"}, {"workers", "4"}}},
	{"process-pool", {{"items", "12"}, {"workers", "4"}}},
	{"asyncio", {{"items", "12"}}},
	{"threads", {{"items", "12"}, {"transform", "2ms"}}},
	{"asyncio", {{"items", "12"}, {"transform", "2ms"}}},
	{"asyncio-executor", {{"items", "12"}, {"transform", "2ms"}}},
	{"asyncio-executor", {{"items", "12"}, {"executor", "processes"}}},
	/* Room for every item and pill: one after another works. */
	{"sequential", {{"items", "12"}, {"capacity", "20"}}},
};

static void test_pipeline(void **state)
{
	(void)state;
	for (size_t c = 0;
	     c < sizeof(pipeline_cases) / sizeof(pipeline_cases[0]); c++) {
		const struct pipeline_case *pc = &pipeline_cases[c];
		struct kv sets[KV_MAX + 4] = {{"produce", "2ms"},
					      {"consume", "3ms"},
					      {"capacity", "2"}};
		size_t n = 3, samples = 0;
		bool three = false;
		int64_t capacity = 2;
		struct trace *t;

		for (const struct kv *kv = pc->sets; kv->key; kv++) {
			sets[n++] = *kv;
			three |= strcmp(kv->key, "transform") == 0;
			if (strcmp(kv->key, "capacity") == 0)
				capacity = atoll(kv->value);
		}
		t = run_case("pipeline", pc->model, sets);
		print_message("pipeline %zu under %s: produced %lld consumed "
			      "%lld\n",
			      c, pc->model, (long long)check(t, "produced"),
			      (long long)check(t, "consumed"));
		assert_done(t);
		assert_int_equal(check(t, "produced"), 12);
		assert_int_equal(check(t, "consumed"), 12);
		if (three)
			assert_int_equal(check(t, "transformed"), 12);
		/* Consumers that run beside the producers wait on the queue
		 * at least at the start, and say which queue. */
		if (strcmp(pc->model, "sequential") != 0)
			assert_true(count_segments(t, -1, ST_QUEUE_WAIT,
						   three ? "results"
							 : "items") > 0);
		else
			assert_int_equal(
				count_segments(t, -1, ST_QUEUE_WAIT, NULL), 0);
		/* Queue depth over time, never above the room there is. */
		for (size_t i = 0; i < t->n_samples; i++) {
			if (t->samples[i].counter != CTR_QUEUE_DEPTH)
				continue;
			samples++;
			assert_true(t->samples[i].value >= 0);
			assert_true(t->samples[i].value <=
				    capacity * (three ? 2 : 1));
		}
		assert_true(samples > 0);
		/* With an executor every computation, the consumers' work
		 * on each item included, runs on its workers, never on the
		 * loop. */
		if (strcmp(pc->model, "asyncio-executor") == 0)
			for (size_t i = 0; i < t->n_segments; i++)
				if (t->segments[i].state == ST_COMPUTE)
					assert_int_not_equal(
						t->lanes[t->segments[i].lane]
							.kind,
						LANE_LOOP);
		free_trace(t);
	}
}

static void test_pipeline_sequential_deadlock(void **state)
{
	/* Producer 1 fills the queue; nobody else can run to empty it. */
	static const struct kv sets[] = {{"items", "12"},
					 {"capacity", "2"},
					 {"produce", "1ms"},
					 {"consume", "1ms"},
					 {NULL, NULL}};
	struct trace *t;

	(void)state;
	t = run_case("pipeline", "sequential", sets);
	assert_status(t, RUN_DEADLOCK);
	assert_recorded(t);
	assert_non_null(strstr(t->message, "producer 1 waits for queue "
					   "'items' (full"));
	assert_non_null(strstr(t->message, "nobody can get"));
	free_trace(t);
}

/* ---- scraper ------------------------------------------------------------ */

/* The workload's generator, again: splitmix64 from the seed, per url a
 * latency and a failure draw per attempt. */
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

struct outcome {
	int64_t succeeded, failed, retries;
};

static struct outcome predict(int urls, uint64_t seed, double failure_rate,
			      int retries)
{
	struct outcome o = {0};
	uint64_t rng = seed;

	for (int u = 0; u < urls; u++) {
		bool fails[REQUEST_MAX_ATTEMPTS];
		int k;

		for (k = 0; k < REQUEST_MAX_ATTEMPTS; k++) {
			(void)uniform01(&rng); /* the latency */
			fails[k] = uniform01(&rng) < failure_rate;
		}
		for (k = 0; k <= retries && fails[k]; k++)
			;
		if (k > retries) {
			o.failed++;
			o.retries += retries;
		} else {
			o.succeeded++;
			o.retries += k;
		}
	}
	return o;
}

static const char *const scraper_models[] = {
	"threads", "thread-pool", "asyncio", "sequential", "process-pool",
};

static void test_scraper(void **state)
{
	/* 20 req/s: starts 50 ms apart; latencies far below the timeout, so
	 * failures are the server's, predicted from the seed. */
	static const struct kv sets[] = {
		{"urls", "10"},		 {"max_concurrent", "3"},
		{"rate", "20"},		 {"timeout", "5s"},
		{"retries", "2"},	 {"backoff", "5ms"},
		{"failure_rate", "0.4"}, {"seed", "7"},
		{"latency_min", "20ms"}, {"latency_max", "60ms"}};
	struct kv all[KV_MAX + 4];
	const int64_t interval_ns = 50 * 1000 * 1000;
	struct outcome want = predict(10, 7, 0.4, 2);

	(void)state;
	assert_true(want.retries > 0); /* the seed exercises retries */
	memcpy(all, sets, sizeof(sets));
	for (size_t m = 0; m < sizeof(scraper_models) / sizeof(*scraper_models);
	     m++) {
		const char *model = scraper_models[m];
		size_t n = sizeof(sets) / sizeof(sets[0]), n_io;
		struct interval *io;
		struct trace *t;

		all[n] = (struct kv){NULL, NULL};
		if (strcmp(model, "thread-pool") == 0 ||
		    strcmp(model, "process-pool") == 0)
			all[n++] = (struct kv){"workers", "4"};
		all[n] = (struct kv){NULL, NULL};
		t = run_case("scraper", model, all);
		print_message("scraper under %s: succeeded %lld failed %lld "
			      "retries %lld max_in_flight %lld\n",
			      model, (long long)check(t, "succeeded"),
			      (long long)check(t, "failed"),
			      (long long)check(t, "retries"),
			      (long long)check(t, "max_in_flight"));
		assert_status(t, RUN_DONE);
		assert_int_equal(check(t, "succeeded"), want.succeeded);
		assert_int_equal(check(t, "failed"), want.failed);
		assert_int_equal(check(t, "retries"), want.retries);
		assert_true(check(t, "max_in_flight") <= 3);
		assert_true(check(t, "max_in_flight") >= 1);
		/* A task whose request failed says so. */
		for (size_t k = 0; k < t->n_tasks; k++)
			assert_true(t->tasks[k].status == TASK_OK ||
				    t->tasks[k].status == TASK_ERROR);
		io = intervals_of(t, ST_IO, -1, &n_io);
		assert_int_equal(n_io,
				 want.succeeded + want.failed + want.retries);
		assert_true(max_overlap(io, n_io) <= 3);
		/* Every attempt starts when the limiter grants it. */
		for (size_t i = 1; i < n_io; i++)
			assert_true(io[i].t0 - io[i - 1].t0 >= interval_ns);
		free(io);
		assert_int_equal(count_segments(t, -1, ST_BACKOFF, NULL),
				 want.retries);
		assert_true(count_segments(t, -1, ST_RATE_WAIT, "rate") > 0);
		if (strcmp(model, "sequential") != 0 &&
		    strcmp(model, "thread-pool") != 0 &&
		    strcmp(model, "process-pool") != 0)
			assert_true(count_segments(t, -1, ST_SEM_WAIT,
						   "slots") > 0);
		free_trace(t);
	}
}

static void test_scraper_timeout(void **state)
{
	/* Every attempt would take 2 s; the timeout cuts each at 50 ms. */
	static const struct kv sets[] = {
		{"urls", "3"},	       {"max_concurrent", "3"},
		{"rate", "0"},	       {"timeout", "50ms"},
		{"retries", "1"},      {"backoff", "5ms"},
		{"failure_rate", "0"}, {"latency_min", "2s"},
		{"latency_max", "2s"}, {NULL, NULL}};
	static const char *const models[] = {"threads", "asyncio"};

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		struct trace *t = run_case("scraper", models[m], sets);
		size_t n_io;
		struct interval *io = intervals_of(t, ST_IO, -1, &n_io);

		print_message("scraper timeout under %s\n", models[m]);
		assert_status(t, RUN_DONE);
		assert_int_equal(check(t, "succeeded"), 0);
		assert_int_equal(check(t, "failed"), 3);
		assert_int_equal(check(t, "retries"), 3);
		for (size_t k = 0; k < t->n_tasks; k++)
			assert_int_equal(t->tasks[k].status, TASK_TIMEOUT);
		assert_int_equal(n_io, 6);
		for (size_t i = 0; i < n_io; i++) {
			int64_t d = io[i].t1 - io[i].t0;

			/* cut at the timeout, long before the reply */
			assert_true(d >= 50 * 1000 * 1000);
			assert_true(d < 2000LL * 1000 * 1000);
		}
		free(io);
		free_trace(t);
	}
}

/* ---- files -------------------------------------------------------------- */

static size_t dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_files(void **state)
{
	static const char *const models[] = {"sequential", "threads", "asyncio",
					     "process-pool"};
	static const char *const modes[] = {"write", "read"};
	char dir[] = "/tmp/overlap-test-files-XXXXXX";
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("TMPDIR", dir, 1);
	for (size_t m = 0; m < 4; m++) {
		for (size_t k = 0; k < 2; k++) {
			struct kv sets[] = {{"files", "3"},
					    {"size", "262144"},
					    {"mode", modes[k]},
					    {NULL, NULL}};
			struct trace *t = run_case("files", models[m], sets);

			print_message("files %s under %s\n", modes[k],
				      models[m]);
			assert_done(t);
			assert_int_equal(check(t, "files"), 3);
			assert_int_equal(check(t, "bytes"), 3 * 262144);
			assert_int_equal(count_segments(t, -1, ST_IO, "data"),
					 3);
			/* Nothing left behind in the temporary directory. */
			assert_int_equal(dir_entries(dir), 0);
			free_trace(t);
		}
	}
	if (old) {
		setenv("TMPDIR", old, 1);
		free(old);
	} else {
		unsetenv("TMPDIR");
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_counter_await_limit),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_pipeline_sequential_deadlock),
		cmocka_unit_test(test_scraper),
		cmocka_unit_test(test_scraper_timeout),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
