/*
 * test_process_pool: the process-pool model end to end through
 * run_execute(), judged by the trace's structure: on which lanes (and
 * pids) tasks ran, what overlapped what, what came before what.  Durations
 * are tens of milliseconds and nothing is judged by wall time.
 *
 * Spawned workers exec /proc/self/exe, which is this test binary: main()
 * hands a first argument "worker" to worker_main(), as overlap's main does.
 *
 * The death test kills a worker from the live sink (the collector thread)
 * the moment its lane announces a computation (EV_OPEN of compute), using
 * the lane's os_id, the pid the worker recorded itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procpool.h"
#include "run.h"
#include "spec.h"
#include "trace.h"
#include "worker.h"

struct kv {
	const char *key, *value;
};

/* Runs workload under process-pool with the given settings (NULL-ended). */
static void run_pool(const char *workload, const struct kv *set,
		     const struct run_hooks *hooks, struct trace *t)
{
	struct spec spec;
	struct spec_error err = {0};

	assert_int_equal(spec_init(&spec, workload, "process-pool", &err), 0);
	for (; set && set->key; set++) {
		if (spec_set(&spec, set->key, set->value, &err) != 0)
			fail_msg("%s=%s: %s", set->key, set->value,
				 err.message);
	}
	assert_int_equal(spec_validate(&spec, &err), 0);
	trace_init(t);
	if (run_execute(&spec, hooks, t, &err) != 0)
		fail_msg("run_execute: %s: %s", err.field, err.message);
}

static bool is_process_lane(const struct trace *t, uint32_t lane)
{
	return lane < t->n_lanes && t->lanes[lane].kind == LANE_PROCESS;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* No child of this process is left, not even a zombie. */
static void assert_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* The case tables: most tests run once per start method. */
static const char *const starts[] = {"fork", "spawn"};

/* ---- both start methods complete a run ---------------------------------- */

static void test_completes(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "4"},	{"duration", "20ms"},
				 {"workers", "2"},	{"start", start},
				 {NULL, NULL}};
	const char *prefix = strcmp(start, "fork") == 0 ? "ForkProcess-"
							: "SpawnProcess-";
	struct trace t;

	run_pool("crunch", set, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_int_equal(t.n_tasks, 4);
	for (size_t i = 0; i < t.n_tasks; i++) {
		const struct trace_task *k = &t.tasks[i];

		assert_int_equal(k->status, TASK_OK);
		assert_true(is_process_lane(&t, k->lane));
		assert_true(k->submit_ns >= 0);
		assert_true(k->submit_ns <= k->start_ns);
		assert_true(k->start_ns < k->end_ns);
	}
	for (size_t i = 0; i < t.n_lanes; i++) {
		if (t.lanes[i].kind != LANE_PROCESS)
			continue;
		/* Named as Python names pool processes, with a real pid
		 * that is not ours. */
		assert_memory_equal(t.lanes[i].name, prefix, strlen(prefix));
		assert_true(t.lanes[i].os_id > 0);
		assert_true(t.lanes[i].os_id != getpid());
	}
	/* Every compute segment sits on the lane its task started on. */
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->state == ST_COMPUTE)
			assert_int_equal(s->lane, t.tasks[s->task].lane);
	}
	trace_free(&t);
}

/* ---- processes use the cores -------------------------------------------- */

static void test_compute_overlaps_on_two_pids(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "2"},	{"duration", "60ms"},
				 {"workers", "2"},	{"start", start},
				 {NULL, NULL}};
	const struct trace_segment *a = NULL, *b = NULL;
	struct trace t;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	run_pool("crunch", set, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	for (size_t i = 0; i < t.n_segments; i++) {
		const struct trace_segment *s = &t.segments[i];

		if (s->state != ST_COMPUTE)
			continue;
		if (s->task == 0 && !a)
			a = s;
		if (s->task == 1 && !b)
			b = s;
	}
	assert_non_null(a);
	assert_non_null(b);
	assert_int_not_equal(a->lane, b->lane);
	assert_true(t.lanes[a->lane].os_id > 0);
	assert_true(t.lanes[b->lane].os_id > 0);
	assert_int_not_equal(t.lanes[a->lane].os_id, t.lanes[b->lane].os_id);
	/* The two computations overlap in time. */
	assert_true(a->t0_ns < b->t1_ns && b->t0_ns < a->t1_ns);
	trace_free(&t);
}

/* ---- start-up is shown, before the worker's first task ------------------ */

static void test_startup_precedes_first_task(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "4"},	{"duration", "10ms"},
				 {"workers", "2"},	{"start", start},
				 {NULL, NULL}};
	struct trace t;
	size_t lanes_checked = 0;

	run_pool("crunch", set, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	for (uint32_t lane = 0; lane < t.n_lanes; lane++) {
		int64_t first_start = INT64_MAX;
		const struct trace_segment *startup = NULL;

		if (!is_process_lane(&t, lane))
			continue;
		for (size_t i = 0; i < t.n_tasks; i++)
			if (t.tasks[i].lane == lane &&
			    t.tasks[i].start_ns < first_start)
				first_start = t.tasks[i].start_ns;
		if (first_start == INT64_MAX)
			continue; /* this worker got no task */
		for (size_t i = 0; i < t.n_segments; i++) {
			const struct trace_segment *s = &t.segments[i];

			if (s->lane == lane && s->state == ST_STARTUP) {
				assert_null(startup); /* one per worker */
				startup = s;
			}
		}
		assert_non_null(startup);
		assert_true(startup->t0_ns >= 0);
		assert_true(startup->t0_ns < startup->t1_ns);
		assert_true(startup->t1_ns <= first_start);
		/* Nothing on the lane before the worker was ready. */
		for (size_t i = 0; i < t.n_segments; i++) {
			const struct trace_segment *s = &t.segments[i];

			if (s->lane == lane && s != startup)
				assert_true(s->t0_ns >= startup->t1_ns);
		}
		lanes_checked++;
	}
	assert_true(lanes_checked >= 1);
	trace_free(&t);
}

/* ---- payloads cross the pipe as ipc segments ---------------------------- */

static void test_payload_gives_ipc(void **state)
{
	const char *start = *state;
	const struct kv set[] = {
		{"tasks", "3"},		  {"duration", "5ms"},
		{"workers", "2"},	  {"start", start},
		{"payload_bytes", "2000000"}, {NULL, NULL}};
	struct trace t;

	run_pool("crunch", set, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	for (size_t i = 0; i < t.n_tasks; i++) {
		const struct trace_task *k = &t.tasks[i];
		int64_t compute_t0 = -1;
		size_t before = 0, after = 0;

		assert_int_equal(k->status, TASK_OK);
		for (size_t j = 0; j < t.n_segments; j++) {
			const struct trace_segment *s = &t.segments[j];
			if (s->task == i && s->state == ST_COMPUTE)
				compute_t0 = s->t0_ns;
		}
		assert_true(compute_t0 >= 0);
		for (size_t j = 0; j < t.n_segments; j++) {
			const struct trace_segment *s = &t.segments[j];

			if (s->task != i || s->state != ST_IPC)
				continue;
			/* On the worker's lane, inside the task: the
			 * argument before the computation, the result
			 * after. */
			assert_int_equal(s->lane, k->lane);
			assert_true(s->t0_ns >= k->start_ns);
			assert_true(s->t1_ns <= k->end_ns);
			assert_true(s->t0_ns < s->t1_ns);
			if (s->t1_ns <= compute_t0)
				before++;
			else
				after++;
		}
		assert_int_equal(before, 1);
		assert_int_equal(after, 1);
	}
	trace_free(&t);
}

static void test_no_payload_no_ipc(void **state)
{
	(void)state;
	const struct kv set[] = {{"tasks", "2"}, {"duration", "5ms"},
				 {"workers", "2"}, {NULL, NULL}};
	struct trace t;

	run_pool("crunch", set, NULL, &t);
	for (size_t i = 0; i < t.n_segments; i++)
		assert_int_not_equal(t.segments[i].state, ST_IPC);
	trace_free(&t);
}

/* ---- a worker killed mid-task ------------------------------------------- */

struct killer {
	_Atomic int killed_pid;
	_Atomic int64_t killed_task; /* -1: none yet */
	_Atomic uint32_t killed_lane;
};

/* In the collector thread: the first computation that shows up on a
 * worker's lane gets its worker killed. */
static void kill_sink(void *ctx, const struct trace *t,
		      const struct rec_event *ev)
{
	struct killer *k = ctx;
	int64_t expected = -1;
	pid_t pid;

	if (ev->type != EV_OPEN || ev->state != ST_COMPUTE ||
	    ev->lane >= t->n_lanes || t->lanes[ev->lane].kind != LANE_PROCESS)
		return;
	pid = (pid_t)t->lanes[ev->lane].os_id;
	if (pid <= 0 || !atomic_compare_exchange_strong(&k->killed_task,
							&expected, ev->task))
		return;
	atomic_store(&k->killed_pid, pid);
	atomic_store(&k->killed_lane, ev->lane);
	kill(pid, SIGKILL);
}

static void test_killed_worker(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "4"},	{"duration", "150ms"},
				 {"workers", "2"},	{"start", start},
				 {NULL, NULL}};
	struct killer k = {.killed_task = -1};
	struct run_hooks hooks = {.sink = kill_sink, .sink_ctx = &k};
	int fds_before = count_fds();
	size_t process_lanes = 0;
	struct trace t;
	int64_t task;

	run_pool("crunch", set, &hooks, &t);
	task = atomic_load(&k.killed_task);
	assert_true(task >= 0 && task < (int64_t)t.n_tasks);
	assert_int_equal(t.status, RUN_DONE);
	for (size_t i = 0; i < t.n_tasks; i++) {
		const struct trace_task *tk = &t.tasks[i];

		/* Every task ended: the trace is complete. */
		assert_true(tk->end_ns >= 0);
		if ((int64_t)i == task) {
			assert_int_equal(tk->status, TASK_ERROR);
			assert_non_null(strstr(tk->note, "signal 9"));
			assert_non_null(strstr(tk->note, "SIGKILL"));
		} else {
			assert_int_equal(tk->status, TASK_OK);
			/* No other task ran on the dead worker's lane
			 * after it died. */
			if (tk->lane == atomic_load(&k.killed_lane))
				assert_true(tk->end_ns <=
					    t.tasks[task].end_ns);
		}
	}
	/* The pool replaced the worker: a lane more than it started with,
	 * and that lane's pid is new. */
	for (size_t i = 0; i < t.n_lanes; i++) {
		if (t.lanes[i].kind != LANE_PROCESS)
			continue;
		process_lanes++;
		if (i != atomic_load(&k.killed_lane))
			assert_int_not_equal(t.lanes[i].os_id,
					     atomic_load(&k.killed_pid));
	}
	assert_int_equal(process_lanes, 3);
	assert_no_children();
	assert_int_equal(count_fds(), fds_before);
	trace_free(&t);
}

/* ---- nothing left behind ------------------------------------------------ */

static void test_no_zombies_no_fds(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "6"},	{"duration", "5ms"},
				 {"workers", "3"},	{"start", start},
				 {"payload_bytes", "100000"}, {NULL, NULL}};
	int fds_before = count_fds();
	struct trace t;

	run_pool("crunch", set, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_no_children();
	assert_int_equal(count_fds(), fds_before);
	/* The workers are gone, not merely detached. */
	for (size_t i = 0; i < t.n_lanes; i++) {
		if (t.lanes[i].kind != LANE_PROCESS)
			continue;
		errno = 0;
		assert_int_equal(kill((pid_t)t.lanes[i].os_id, 0), -1);
		assert_int_equal(errno, ESRCH);
	}
	trace_free(&t);
}

/* ---- a worker holds only its socket ------------------------------------- */

struct fd_probe {
	_Atomic int done;
	_Atomic int n_fds;    /* the worker's descriptors above 2 */
	_Atomic int probed_pid;
};

static void fd_probe_sink(void *ctx, const struct trace *t,
			  const struct rec_event *ev)
{
	struct fd_probe *p = ctx;
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (ev->type != EV_OPEN || ev->state != ST_COMPUTE ||
	    ev->lane >= t->n_lanes ||
	    t->lanes[ev->lane].kind != LANE_PROCESS ||
	    atomic_load(&p->done))
		return;
	snprintf(path, sizeof(path), "/proc/%lld/fd",
		 (long long)t->lanes[ev->lane].os_id);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' && atoi(e->d_name) > 2;
	closedir(d);
	atomic_store(&p->n_fds, n);
	atomic_store(&p->probed_pid, (int)t->lanes[ev->lane].os_id);
	atomic_store(&p->done, 1);
}

static void test_worker_fds_closed(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "2"},	{"duration", "80ms"},
				 {"workers", "2"},	{"start", start},
				 {NULL, NULL}};
	struct fd_probe probe = {0};
	struct run_hooks hooks = {.sink = fd_probe_sink, .sink_ctx = &probe};
	struct trace t;

	run_pool("crunch", set, &hooks, &t);
	assert_int_equal(t.status, RUN_DONE);
	assert_true(atomic_load(&probe.done));
	assert_true(atomic_load(&probe.probed_pid) != getpid());
	/* Only the socket to the pool, whatever the run process had open
	 * (the recorder's memfd, the other worker's socket, the latency
	 * peer, the epoll set). */
	assert_int_equal(atomic_load(&probe.n_fds), 1);
	trace_free(&t);
}

/* ---- stopping ----------------------------------------------------------- */

static void test_time_limit_ends_run(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "6"},	{"duration", "2s"},
				 {"workers", "2"},	{"start", start},
				 {"time_limit", "200ms"}, {NULL, NULL}};
	struct trace t;
	size_t cancelled = 0;

	run_pool("crunch", set, NULL, &t);
	/* Every task has an end, none finished its two seconds of work. */
	for (size_t i = 0; i < t.n_tasks; i++) {
		assert_true(t.tasks[i].end_ns >= 0);
		assert_int_not_equal(t.tasks[i].status, TASK_OK);
		cancelled += t.tasks[i].status == TASK_CANCELLED;
	}
	assert_int_equal(cancelled, t.n_tasks);
	assert_no_children();
	trace_free(&t);
}

/* ---- workers that cannot start ------------------------------------------ */

struct broken_case {
	const char *exe;
	const char *start;
};

static const struct broken_case broken_cases[] = {
	/* exec itself fails: the pool cannot be made */
	{"/nonexistent/overlap", "spawn"},
	/* the program runs but is no worker: every start dies */
	{"/bin/false", "spawn"},
};

static void test_workers_cannot_start(void **state)
{
	const struct broken_case *c = *state;
	const struct kv set[] = {{"tasks", "3"},	{"duration", "5ms"},
				 {"workers", "2"},	{"start", c->start},
				 {NULL, NULL}};
	struct trace t;

	setenv("OVERLAP_WORKER_EXE", c->exe, 1);
	run_pool("crunch", set, NULL, &t);
	unsetenv("OVERLAP_WORKER_EXE");
	assert_int_equal(t.status, RUN_ERROR);
	assert_true(strlen(t.message) > 0);
	for (size_t i = 0; i < t.n_tasks; i++) {
		assert_true(t.tasks[i].end_ns >= 0);
		assert_int_not_equal(t.tasks[i].status, TASK_OK);
	}
	assert_no_children();
	trace_free(&t);
}

/* ---- the pool on its own: step jobs, as asyncio-executor uses it -------- */

static void test_start_names(void **state)
{
	(void)state;
	assert_int_equal(procpool_start_parse("fork"), PROCPOOL_FORK);
	assert_int_equal(procpool_start_parse("spawn"), PROCPOOL_SPAWN);
	assert_int_equal(procpool_start_parse("forkserver"), -1);
	assert_int_equal(procpool_start_parse(NULL), -1);
	assert_string_equal(procpool_start_name(PROCPOOL_SPAWN), "spawn");
}

#define PER_START(fn)                                                         \
	cmocka_unit_test_prestate(fn, (void *)starts[0]),                     \
		cmocka_unit_test_prestate(fn, (void *)starts[1])

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc - 1, argv + 1);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_names),
		PER_START(test_completes),
		PER_START(test_compute_overlaps_on_two_pids),
		PER_START(test_startup_precedes_first_task),
		PER_START(test_payload_gives_ipc),
		cmocka_unit_test(test_no_payload_no_ipc),
		PER_START(test_killed_worker),
		PER_START(test_no_zombies_no_fds),
		PER_START(test_worker_fds_closed),
		PER_START(test_time_limit_ends_run),
		cmocka_unit_test_prestate(test_workers_cannot_start,
					  (void *)&broken_cases[0]),
		cmocka_unit_test_prestate(test_workers_cannot_start,
					  (void *)&broken_cases[1]),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
