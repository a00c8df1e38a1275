/*
 * test_costs: the costs file (reading, checking, storing) and what
 * costs=python charges, end to end through run_execute().
 *
 * The figures come from a fixture (tests/data/costs/costs.json, given
 * through OVERLAP_COSTS), never from measuring this machine, and the
 * charges are judged by the trace's structure: a startup segment lasts at
 * least the fixture's figure, belongs to the task it held up, comes before
 * that task starts; nothing is compared with the wall clock's speed.
 *
 * Spawned workers exec /proc/self/exe, which is this test binary: main()
 * hands a first argument "worker" to worker_main(), as overlap's main does.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "costs.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "util.h"
#include "worker.h"

struct kv {
	const char *key;
	const char *value;
};

/* What tests/data/costs/costs.json holds. */
#define FIX_FORK_NS (30 * NS_PER_MS)
#define FIX_SPAWN_NS (60 * NS_PER_MS)
#define FIX_FORKSERVER_NS (45 * NS_PER_MS)
#define FIX_TASK_NS (400 * NS_PER_US)
#define FIX_NS_PER_BYTE 20.0
#define FIX_THREAD_NS (2 * NS_PER_MS)
#define FIX_SWITCH_NS (50 * NS_PER_US)

static char data_dir[PATH_MAX];
static char fixture[PATH_MAX + 32];

/* ---- helpers ------------------------------------------------------------ */

static void data_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/costs/%s", data_dir, name);
}

static struct trace *run_case(const char *workload, const char *model,
			      const struct kv *sets)
{
	struct spec *spec = calloc(1, sizeof(*spec));
	struct trace *t = calloc(1, sizeof(*t));
	struct spec_error err = {0};
	int rc;

	assert_non_null(spec);
	assert_non_null(t);
	assert_int_equal(spec_init(spec, workload, model, &err), 0);
	for (; sets && sets->key; sets++) {
		rc = spec_set(spec, sets->key, sets->value, &err);
		if (rc)
			print_message("%s=%s: %s\n", sets->key, sets->value,
				      err.message);
		assert_int_equal(rc, 0);
	}
	assert_int_equal(spec_validate(spec, &err), 0);
	trace_init(t);
	rc = run_execute(spec, NULL, t, &err);
	if (rc)
		print_message("run: %s: %s\n", err.field, err.message);
	assert_int_equal(rc, 0);
	if (t->status != RUN_DONE)
		print_message("status %d: %s\n", t->status, t->message);
	assert_int_equal(t->status, RUN_DONE);
	free(spec);
	return t;
}

static void free_trace(struct trace *t)
{
	trace_free(t);
	free(t);
}

static size_t count_state(const struct trace *t, uint8_t state)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_segments; i++)
		n += t->segments[i].state == state;
	return n;
}

/* The one startup segment of task, asserting there is exactly one. */
static const struct trace_segment *startup_of(const struct trace *t,
					      uint32_t task)
{
	const struct trace_segment *found = NULL;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state != ST_STARTUP || s->task != task)
			continue;
		assert_null(found);
		found = s;
	}
	assert_non_null(found);
	return found;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ---- the file ----------------------------------------------------------- */

static void test_load_fixture(void **state)
{
	struct python_costs c;
	char why[256];

	(void)state;
	assert_int_equal(costs_load(fixture, &c, why, sizeof(why)), 0);
	assert_int_equal(c.process_start_ns[COSTS_FORK], FIX_FORK_NS);
	assert_int_equal(c.process_start_ns[COSTS_SPAWN], FIX_SPAWN_NS);
	assert_int_equal(c.process_start_ns[COSTS_FORKSERVER],
			 FIX_FORKSERVER_NS);
	assert_int_equal(c.process_task_ns, FIX_TASK_NS);
	assert_true(c.ipc_ns_per_byte == FIX_NS_PER_BYTE);
	assert_int_equal(c.thread_start_ns, FIX_THREAD_NS);
	assert_int_equal(c.task_switch_ns, FIX_SWITCH_NS);
	assert_string_equal(c.python_version, "3.11.7");
}

struct bad_file {
	const char *text;
	const char *names; /* what the reason must mention */
};

#define GOOD_TAIL                                                              \
	"\"process_task_ns\": 1, \"ipc_ns_per_byte\": 1, "                     \
	"\"thread_start_ns\": 1, \"python\": {\"version\": \"3.11.7\"}}"

static const struct bad_file bad_files[] = {
	{"not json", "line 1"},
	{"{\"format\": \"other\", \"version\": 1}", "format"},
	{"{\"format\": \"overlap-python-costs\", \"version\": 2}", "version"},
	{"{\"format\": \"overlap-python-costs\", \"version\": 1, "
	 "\"process_start_ns\": {\"fork\": -1, \"spawn\": 1}, " GOOD_TAIL,
	 "process_start_ns.fork"},
	{"{\"format\": \"overlap-python-costs\", \"version\": 1, "
	 "\"process_start_ns\": {\"fork\": 1}, " GOOD_TAIL,
	 "process_start_ns.spawn"},
	{"{\"format\": \"overlap-python-costs\", \"version\": 1, "
	 "\"process_start_ns\": {\"fork\": 1, \"spawn\": 1}, "
	 "\"process_task_ns\": 1, \"ipc_ns_per_byte\": -2, "
	 "\"thread_start_ns\": 1, \"python\": {\"version\": \"3.11\"}}",
	 "ipc_ns_per_byte"},
	{"{\"format\": \"overlap-python-costs\", \"version\": 1, "
	 "\"process_start_ns\": {\"fork\": 1, \"spawn\": 1}, "
	 "\"process_task_ns\": 1, \"ipc_ns_per_byte\": 1, "
	 "\"thread_start_ns\": 99999999999999, "
	 "\"python\": {\"version\": \"3.11\"}}",
	 "thread_start_ns"},
	{"{\"format\": \"overlap-python-costs\", \"version\": 1, "
	 "\"process_start_ns\": {\"fork\": 1, \"spawn\": 1}, "
	 "\"process_task_ns\": 1, \"ipc_ns_per_byte\": 1, "
	 "\"thread_start_ns\": 1}",
	 "python.version"},
};

static void test_load_rejects(void **state)
{
	char path[] = "/tmp/overlap-costs-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		struct python_costs c;
		char why[256] = "";

		write_file(path, bad_files[i].text);
		assert_int_equal(costs_load(path, &c, why, sizeof(why)),
				 -EINVAL);
		print_message("%s\n", why);
		assert_non_null(strstr(why, path));
		assert_non_null(strstr(why, bad_files[i].names));
	}
	unlink(path);
}

static void test_load_missing(void **state)
{
	struct python_costs c;
	char why[256];

	(void)state;
	assert_int_equal(costs_load("/nonexistent/overlap/costs.json", &c, why,
				    sizeof(why)),
			 -ENOENT);
}

static void test_path(void **state)
{
	char path[PATH_MAX];

	(void)state;
	setenv("OVERLAP_COSTS", "/somewhere/costs.json", 1);
	assert_int_equal(costs_path(path, sizeof(path)), 0);
	assert_string_equal(path, "/somewhere/costs.json");
	unsetenv("OVERLAP_COSTS");
	setenv("XDG_CACHE_HOME", "/cache", 1);
	assert_int_equal(costs_path(path, sizeof(path)), 0);
	assert_string_equal(path, "/cache/overlap/costs.json");
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "/home/someone", 1);
	assert_int_equal(costs_path(path, sizeof(path)), 0);
	assert_string_equal(path, "/home/someone/.cache/overlap/costs.json");
	setenv("OVERLAP_COSTS", fixture, 1);
}

/* Storing: what the interpreter printed lands whole in a new directory,
 * with no temporary left beside it; a calibration that prints nonsense
 * leaves the stored file as it was. */
static void test_calibrate_stores(void **state)
{
	char dir[] = "/tmp/overlap-cal-XXXXXX";
	char path[PATH_MAX], python[PATH_MAX + 32], broken[PATH_MAX + 32];
	char why[512] = "";
	struct python_costs c;
	struct dirent *e;
	size_t entries = 0;
	DIR *d;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/deeper/costs.json", dir);
	data_path(python, sizeof(python), "fake-python");
	data_path(broken, sizeof(broken), "broken-python");

	assert_int_equal(costs_calibrate(python, path, true, why, sizeof(why)),
			 0);
	assert_int_equal(costs_load(path, &c, why, sizeof(why)), 0);
	assert_int_equal(c.process_start_ns[COSTS_SPAWN], FIX_SPAWN_NS);
	assert_int_equal(c.thread_start_ns, FIX_THREAD_NS);

	assert_int_equal(costs_calibrate(broken, path, true, why, sizeof(why)),
			 -EINVAL);
	print_message("%s\n", why);
	assert_non_null(strstr(why, "process_start_ns.fork"));
	assert_int_equal(costs_load(path, &c, why, sizeof(why)), 0);
	assert_int_equal(c.process_start_ns[COSTS_SPAWN], FIX_SPAWN_NS);

	snprintf(path, sizeof(path), "%s/deeper", dir);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			assert_string_equal(e->d_name, "costs.json");
			entries++;
		}
	closedir(d);
	assert_int_equal(entries, 1);
	snprintf(path, sizeof(path), "%s/deeper/costs.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/deeper", dir);
	rmdir(path);
	rmdir(dir);
}

/* costs=python with no file and no script to measure with: the run does
 * not start, and says which option asked for it. */
static void test_no_costs_no_run(void **state)
{
	struct spec spec;
	struct spec_error err = {0};
	struct trace t;

	(void)state;
	setenv("OVERLAP_COSTS", "/nonexistent/overlap/costs.json", 1);
	setenv("OVERLAP_CPYTHON", "/nonexistent", 1);
	assert_int_equal(spec_init(&spec, "fetch", "threads", &err), 0);
	assert_int_equal(spec_set(&spec, "costs", "python", &err), 0);
	assert_int_equal(spec_set(&spec, "tasks", "1", &err), 0);
	trace_init(&t);
	assert_true(run_execute(&spec, NULL, &t, &err) < 0);
	print_message("%s: %s\n", err.field, err.message);
	assert_string_equal(err.field, "options.costs");
	assert_non_null(strstr(err.message, "costs.py"));
	trace_free(&t);
	unsetenv("OVERLAP_CPYTHON");
	setenv("OVERLAP_COSTS", fixture, 1);
}

/* ---- what a run charges ------------------------------------------------- */

/* Threads: each thread's bootstrap is its task's startup, at least the
 * measured thread start, on its own lane before the task starts; the main
 * thread starts the next thread only once the last one runs, so the
 * startups follow one another. */
static void test_threads(void **state)
{
	static const struct kv sets[] = {{"tasks", "3"},
					 {"duration", "20ms"},
					 {"io", "sleep"},
					 {"costs", "python"},
					 {NULL, NULL}};
	struct trace *t = run_case("fetch", "threads", sets);
	const struct trace_segment *prev = NULL;

	(void)state;
	assert_int_equal(t->n_tasks, 3);
	for (uint32_t k = 0; k < t->n_tasks; k++) {
		const struct trace_segment *s = startup_of(t, k);

		assert_true(s->t1_ns - s->t0_ns >= FIX_THREAD_NS);
		assert_int_equal(s->lane, t->tasks[k].lane);
		assert_true(s->t1_ns <= t->tasks[k].start_ns);
		if (prev)
			assert_true(s->t0_ns >= prev->t1_ns);
		prev = s;
	}
	free_trace(t);
}

static void test_ideal_charges_nothing(void **state)
{
	static const struct kv sets[] = {{"tasks", "3"},
					 {"duration", "5ms"},
					 {"io", "sleep"},
					 {NULL, NULL}};
	struct trace *t = run_case("fetch", "threads", sets);

	(void)state;
	assert_int_equal(count_state(t, ST_STARTUP), 0);
	free_trace(t);
}

/* A thread pool: one startup per worker, charged to the first task that
 * worker took. */
static void test_thread_pool(void **state)
{
	static const struct kv sets[] = {
		{"tasks", "6"},	  {"duration", "10ms"}, {"io", "sleep"},
		{"workers", "2"}, {"costs", "python"},	{NULL, NULL}};
	struct trace *t = run_case("fetch", "thread-pool", sets);

	(void)state;
	assert_int_equal(count_state(t, ST_STARTUP), 2);
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];
		uint32_t first = UINT32_MAX;

		if (s->state != ST_STARTUP)
			continue;
		assert_true(s->t1_ns - s->t0_ns >= FIX_THREAD_NS);
		for (uint32_t k = 0; k < t->n_tasks; k++)
			if (t->tasks[k].lane == s->lane &&
			    (first == UINT32_MAX ||
			     t->tasks[k].start_ns < t->tasks[first].start_ns))
				first = k;
		assert_int_equal(s->task, first);
		assert_true(s->t1_ns <= t->tasks[first].start_ns);
	}
	free_trace(t);
}

/* asyncio's executor threads start the same way. */
static void test_executor_threads(void **state)
{
	static const struct kv sets[] = {{"program", "2 x (cpu 2ms)"},
					 {"workers", "2"},
					 {"costs", "python"},
					 {NULL, NULL}};
	struct trace *t = run_case("custom", "asyncio-executor", sets);
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state != ST_STARTUP)
			continue;
		n++;
		assert_true(s->t1_ns - s->t0_ns >= FIX_THREAD_NS);
		assert_int_equal(t->lanes[s->lane].kind, LANE_THREAD);
	}
	assert_true(n >= 1 && n <= 2);
	free_trace(t);
}

/* asyncio: every resume of a task computes for a task switch on the
 * loop, so tasks started in one go start at least that far apart. */
static void test_asyncio_switch(void **state)
{
	static const struct kv sets[] = {{"tasks", "20"},
					 {"duration", "5ms"},
					 {"io", "sleep"},
					 {"costs", "python"},
					 {NULL, NULL}};
	struct trace *t = run_case("fetch", "asyncio", sets);

	(void)state;
	for (uint32_t k = 1; k < t->n_tasks; k++)
		assert_true(t->tasks[k].start_ns - t->tasks[k - 1].start_ns >=
			    FIX_SWITCH_NS);
	free_trace(t);
}

/* A process pool: each worker's start-up lasts at least what the
 * interpreter's start took with that method, and each task's argument and
 * result each take at least half the pool's round trip plus the cost of
 * their bytes. */
static void process_pool(const char *start, int64_t startup_ns)
{
	const struct kv sets[] = {{"tasks", "3"},
				  {"duration", "2ms"},
				  {"workers", "2"},
				  {"start", start},
				  {"payload_bytes", "100000"},
				  {"costs", "python"},
				  {NULL, NULL}};
	struct trace *t = run_case("crunch", "process-pool", sets);
	int64_t transfer_ns =
		FIX_TASK_NS / 2 + (int64_t)(100000 * FIX_NS_PER_BYTE);
	size_t startups = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->state == ST_STARTUP) {
			startups++;
			assert_true(s->t1_ns - s->t0_ns >= startup_ns);
			assert_int_equal(t->lanes[s->lane].kind, LANE_PROCESS);
			assert_true(s->t1_ns <= t->tasks[s->task].start_ns);
		}
		if (s->state == ST_IPC)
			assert_true(s->t1_ns - s->t0_ns >= transfer_ns);
	}
	/* A worker still starting when the other has done every task has
	 * held nobody up, and its start-up is nobody's. */
	assert_true(startups >= 1 && startups <= 2);
	assert_int_equal(count_state(t, ST_IPC), 2 * t->n_tasks);
	free_trace(t);
}

static void test_process_pool_fork(void **state)
{
	(void)state;
	process_pool("fork", FIX_FORK_NS);
}

static void test_process_pool_spawn(void **state)
{
	(void)state;
	process_pool("spawn", FIX_SPAWN_NS);
}

/* ---- the catalog -------------------------------------------------------- */

static void test_catalog(void **state)
{
	static const char *const with[] = {"threads", "thread-pool",
					   "process-pool", "asyncio",
					   "asyncio-executor"};
	json_t *cat = spec_catalog_json();
	json_t *models = json_object_get(cat, "models");
	size_t i, found = 0;
	json_t *m;

	(void)state;
	json_array_foreach(models, i, m) {
		const char *name =
			json_string_value(json_object_get(m, "name"));
		json_t *options = json_object_get(m, "options"), *o;
		size_t j;
		bool has = false;

		json_array_foreach(options, j, o) {
			if (strcmp(json_string_value(json_object_get(o, "name")),
				   "costs") != 0)
				continue;
			has = true;
			assert_string_equal(
				json_string_value(json_object_get(o, "type")),
				"enum");
			assert_string_equal(json_string_value(json_object_get(
						    o, "default")),
					    "ideal");
			assert_non_null(strstr(
				json_string_value(json_object_get(o, "help")),
				"ideal (the default)"));
		}
		bool wanted = false;

		for (size_t k = 0; k < sizeof(with) / sizeof(with[0]); k++)
			wanted |= strcmp(with[k], name) == 0;
		assert_int_equal(has, wanted);
		found += has;
	}
	assert_int_equal(found, sizeof(with) / sizeof(with[0]));
	json_decref(cat);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc - 1, argv + 1);

	const char *env = getenv("OVERLAP_TESTDATA");

	util_strlcpy(data_dir, env && env[0] ? env : "tests/data",
		     sizeof(data_dir));
	data_path(fixture, sizeof(fixture), "costs.json");
	setenv("OVERLAP_COSTS", fixture, 1);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_fixture),
		cmocka_unit_test(test_load_rejects),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_calibrate_stores),
		cmocka_unit_test(test_no_costs_no_run),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_ideal_charges_nothing),
		cmocka_unit_test(test_thread_pool),
		cmocka_unit_test(test_executor_threads),
		cmocka_unit_test(test_asyncio_switch),
		cmocka_unit_test(test_process_pool_fork),
		cmocka_unit_test(test_process_pool_spawn),
		cmocka_unit_test(test_catalog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
