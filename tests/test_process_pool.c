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
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procpool.h"
#include "run.h"
#include "spec.h"
#include "support.h"
#include "trace.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "trace_rec.h"
#include "util.h"
#include "util.h"
#include "worker.h"
#include "workload.h"

/* Runs workload under process-pool with the given settings (NULL-ended). */
static void run_pool(const char *workload, const struct kv *set,
		     const struct run_hooks *hooks, struct trace *t)
{
	run_into(workload, "process-pool", set, hooks, t);
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

/* Compute segment s begins a computation: it does not carry one on after
 * a runnable segment (the worker off its core) of the same task. */
static bool begins_computation(const struct trace *t,
			       const struct trace_segment *s)
{
	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *r = &t->segments[i];

		if (r->state == ST_RUNNABLE && r->task == s->task &&
		    r->lane == s->lane && r->t1_ns == s->t0_ns)
			return false;
	}
	return true;
}

/* The end of the computation compute segment s begins: the last of the
 * compute and runnable segments of its task that follow on from it. */
static int64_t computation_end(const struct trace *t,
			       const struct trace_segment *s)
{
	int64_t end = s->t1_ns;
	bool more = true;

	while (more) {
		more = false;
		for (size_t i = 0; i < t->n_segments; i++) {
			const struct trace_segment *n = &t->segments[i];

			if ((n->state == ST_RUNNABLE ||
			     n->state == ST_COMPUTE) &&
			    n->task == s->task && n->lane == s->lane &&
			    n->t0_ns == end && n->t1_ns > end) {
				end = n->t1_ns;
				more = true;
			}
		}
	}
	return end;
}

/* The case tables: most tests run once per start method. */
static const char *const starts[] = {"fork", "spawn", "forkserver"};

static bool is_forkserver(const char *start)
{
	return strcmp(start, "forkserver") == 0;
}

/* The fork server's own lane, which runs no task. */
static bool is_server_lane(const struct trace *t, uint32_t lane)
{
	return lane < t->n_lanes &&
	       strcmp(t->lanes[lane].name, "ForkServer") == 0;
}

/* ---- both start methods complete a run ---------------------------------- */

static void test_completes(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "4"},
				 {"duration", "20ms"},
				 {"workers", "2"},
				 {"start", start},
				 {NULL, NULL}};
	const char *prefix = strcmp(start, "fork") == 0 ? "ForkProcess-"
			     : strcmp(start, "spawn") == 0
				     ? "SpawnProcess-"
				     : "ForkServerProcess-";
	size_t servers = 0;
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
		/* The fork server: a process of its own, running no task. */
		if (is_server_lane(&t, (uint32_t)i)) {
			servers++;
			assert_true(t.lanes[i].os_id > 0);
			assert_true(t.lanes[i].os_id != getpid());
			for (size_t k = 0; k < t.n_tasks; k++)
				assert_int_not_equal(t.tasks[k].lane, i);
			continue;
		}
		/* Named as Python names pool processes, with a real pid
		 * that is not ours. */
		assert_memory_equal(t.lanes[i].name, prefix, strlen(prefix));
		assert_true(t.lanes[i].os_id > 0);
		assert_true(t.lanes[i].os_id != getpid());
	}
	assert_int_equal(servers, is_forkserver(start) ? 1 : 0);
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
	const struct kv set[] = {{"tasks", "2"},
				 {"duration", "100ms"},
				 {"workers", "2"},
				 {"start", start},
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
	assert_true(a->t0_ns < computation_end(&t, b) &&
		    b->t0_ns < computation_end(&t, a));
	trace_free(&t);
}

/* ---- start-up is shown, before the worker's first task ------------------ */

static void test_startup_precedes_first_task(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "4"},
				 {"duration", "10ms"},
				 {"workers", "2"},
				 {"start", start},
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
	/* A fork server starts once, on its own lane, before it forks any
	 * worker: every worker's start-up begins after the server's ends. */
	if (is_forkserver(start)) {
		const struct trace_segment *server = NULL;

		for (size_t i = 0; i < t.n_segments; i++)
			if (t.segments[i].state == ST_STARTUP &&
			    is_server_lane(&t, t.segments[i].lane)) {
				assert_null(server);
				server = &t.segments[i];
			}
		assert_non_null(server);
		assert_true(server->t0_ns < server->t1_ns);
		for (size_t i = 0; i < t.n_segments; i++)
			if (t.segments[i].state == ST_STARTUP &&
			    &t.segments[i] != server)
				assert_true(t.segments[i].t0_ns >=
					    server->t1_ns);
	}
	trace_free(&t);
}

/* ---- payloads cross the pipe as ipc segments ---------------------------- */

static void test_payload_gives_ipc(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "3"},
				 {"duration", "5ms"},
				 {"workers", "2"},
				 {"start", start},
				 {"payload_bytes", "2000000"},
				 {NULL, NULL}};
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

/* Tasks with no payload to send record no ipc segment; the run did
 * record its tasks, each computing in a worker process. */
static void test_no_payload_no_ipc(void **state)
{
	(void)state;
	const struct kv set[] = {{"tasks", "2"},
				 {"duration", "5ms"},
				 {"workers", "2"},
				 {NULL, NULL}};
	struct trace t;

	run_pool("crunch", set, NULL, &t);
	assert_done(&t);
	assert_int_equal(t.n_tasks, 2);
	for (uint32_t k = 0; k < t.n_tasks; k++) {
		size_t computed = 0;

		assert_true(count_segments(&t, k, ST_COMPUTE, NULL) >= 1);
		for (size_t i = 0; i < t.n_segments; i++)
			if (t.segments[i].task == k &&
			    t.segments[i].state == ST_COMPUTE &&
			    is_process_lane(&t, t.segments[i].lane))
				computed++;
		assert_true(computed >= 1);
	}
	assert_int_equal(count_segments(&t, -1, ST_IPC, NULL), 0);
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

/* The computation a worker died in is in the trace: one compute segment
 * of the task on the dead worker's lane, ending by the task's end. */
static void assert_killed_compute(const struct trace *t, uint32_t task,
				  uint32_t lane)
{
	size_t found = 0;

	for (size_t i = 0; i < t->n_segments; i++) {
		const struct trace_segment *s = &t->segments[i];

		if (s->task != task || s->state != ST_COMPUTE)
			continue;
		assert_int_equal(s->lane, lane);
		assert_true(s->t0_ns >= t->tasks[task].start_ns);
		assert_true(s->t0_ns < s->t1_ns);
		assert_true(s->t1_ns <= t->tasks[task].end_ns);
		found += begins_computation(t, s);
	}
	assert_int_equal(found, 1);
}

static void test_killed_worker(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "4"},
				 {"duration", "150ms"},
				 {"workers", "2"},
				 {"start", start},
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
			const char *note = trace_task_note(&t, tk);

			assert_non_null(strstr(note, "signal 9"));
			assert_non_null(strstr(note, "SIGKILL"));
			assert_killed_compute(&t, (uint32_t)i,
					      atomic_load(&k.killed_lane));
		} else {
			assert_int_equal(tk->status, TASK_OK);
			/* No other task ran on the dead worker's lane
			 * after it died. */
			if (tk->lane == atomic_load(&k.killed_lane))
				assert_true(tk->end_ns <= t.tasks[task].end_ns);
		}
	}
	/* The pool replaced the worker: a lane more than it started with,
	 * and that lane's pid is new. */
	for (size_t i = 0; i < t.n_lanes; i++) {
		if (t.lanes[i].kind != LANE_PROCESS ||
		    is_server_lane(&t, (uint32_t)i))
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
	const struct kv set[] = {
		{"tasks", "6"},	  {"duration", "5ms"},	       {"workers", "3"},
		{"start", start}, {"payload_bytes", "100000"}, {NULL, NULL}};
	int fds_before = count_fds();
	struct trace t;
	size_t workers = 0;

	run_pool("crunch", set, NULL, &t);
	assert_done(&t);
	assert_int_equal(t.n_tasks, 6);
	assert_no_children();
	assert_int_equal(count_fds(), fds_before);
	/* The workers are gone, not merely detached. */
	for (size_t i = 0; i < t.n_lanes; i++) {
		if (t.lanes[i].kind != LANE_PROCESS)
			continue;
		workers++;
		errno = 0;
		assert_int_equal(kill((pid_t)t.lanes[i].os_id, 0), -1);
		assert_int_equal(errno, ESRCH);
	}
	assert_true(workers >= 1);
	trace_free(&t);
}

/* ---- a worker holds only its socket ------------------------------------- */

struct fd_probe {
	_Atomic int done;
	_Atomic int n_fds; /* the worker's descriptors above 2 */
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
	    ev->lane >= t->n_lanes || t->lanes[ev->lane].kind != LANE_PROCESS ||
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
	const struct kv set[] = {{"tasks", "2"},
				 {"duration", "80ms"},
				 {"workers", "2"},
				 {"start", start},
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
	const struct kv set[] = {{"tasks", "6"},	  {"duration", "2s"},
				 {"workers", "2"},	  {"start", start},
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
	/* the fork server dies at once: no worker ever starts */
	{"/bin/false", "forkserver"},
};

static void test_workers_cannot_start(void **state)
{
	const struct broken_case *c = *state;
	const struct kv set[] = {{"tasks", "3"},
				 {"duration", "5ms"},
				 {"workers", "2"},
				 {"start", c->start},
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

/* ---- shared objects across processes ----------------------------------- */

/* The counter lives in the run's shared mapping: forked workers inherit
 * it, spawned ones map it.  With a process-shared lock no update is
 * lost. */
static void test_shared_counter(void **state)
{
	const char *start = *state;
	const struct kv set[] = {{"tasks", "3"},   {"increments", "20000"},
				 {"sync", "lock"}, {"workers", "3"},
				 {"start", start}, {NULL, NULL}};
	struct trace t;
	json_t *checks;

	if (!workload_find("counter"))
		skip(); /* the synchronisation workloads are not built in */
	run_pool("counter", set, NULL, &t);
	assert_int_equal(t.status, RUN_DONE);
	checks = t.summary.checks;
	assert_non_null(checks);
	assert_int_equal(
		json_integer_value(json_object_get(checks, "expected")), 60000);
	assert_int_equal(json_integer_value(json_object_get(checks, "got")),
			 60000);
	for (size_t i = 0; i < t.n_tasks; i++) {
		assert_int_equal(t.tasks[i].status, TASK_OK);
		assert_true(is_process_lane(&t, t.tasks[i].lane));
	}
	trace_free(&t);
}

/* ---- the pool on its own: step jobs, as asyncio-executor uses it -------- */

/* A recorder, a collector and a run context around a custom program: what
 * run_execute() sets up, by hand, so the pool can be driven directly. */
struct manual_run {
	struct spec spec;
	struct program prog;
	struct trace_rec *rec;
	struct trace trace;
	struct trace_collector *collector;
	struct run_ctx ctx;
};

static struct manual_run *manual_run_start(const char *program,
					   uint32_t max_lanes)
{
	struct manual_run *m = calloc(1, sizeof(*m));
	struct spec_error err = {0};

	assert_non_null(m);
	assert_int_equal(spec_init(&m->spec, "custom", "process-pool", &err),
			 0);
	assert_int_equal(spec_set(&m->spec, "program", program, &err), 0);
	program_init(&m->prog);
	assert_int_equal(
		workload_find("custom")->build(&m->spec, &m->prog, &err), 0);
	m->rec = trace_rec_create(max_lanes, 1024, util_mono_ns());
	assert_non_null(m->rec);
	trace_init(&m->trace);
	for (size_t i = 0; i < m->prog.n_tasks; i++) {
		struct trace_task *k = trace_add_task(&m->trace);
		k->submit_ns = k->start_ns = k->end_ns = -1;
	}
	m->ctx.spec = &m->spec;
	m->ctx.prog = &m->prog;
	m->ctx.rec = m->rec;
	m->ctx.main_lane = trace_rec_add_lane(m->rec, LANE_MAIN, "main");
	m->ctx.deadline_ns = 60 * NS_PER_S;
	cpu_calibrate(&m->ctx.cpu);
	m->collector = trace_collector_start(m->rec, &m->trace, NULL, 0,
					     NS_PER_MS, NULL, NULL);
	assert_non_null(m->collector);
	return m;
}

/* Stops the collector: m->trace is complete afterwards. */
static void manual_run_stop(struct manual_run *m)
{
	trace_collector_stop(m->collector);
	m->collector = NULL;
}

static void manual_run_free(struct manual_run *m)
{
	if (m->collector)
		trace_collector_stop(m->collector);
	trace_free(&m->trace);
	trace_rec_destroy(m->rec);
	program_free(&m->prog);
	free(m);
}

static struct procpool *manual_pool_why(struct manual_run *m, const char *start,
					uint32_t workers, char *why,
					size_t why_size)
{
	struct procpool_config cfg = {
		.run = &m->ctx,
		.lane = m->ctx.main_lane,
		.workers = workers,
		.start = procpool_start_parse(start),
	};
	struct procpool *p = procpool_create(&cfg, why, why_size);

	if (!p)
		fail_msg("procpool_create: %s", why);
	return p;
}

static struct procpool *manual_pool(struct manual_run *m, const char *start,
				    uint32_t workers)
{
	char why[200] = "";

	return manual_pool_why(m, start, workers, why, sizeof(why));
}

struct bad_job {
	struct procpool_job job;
};

static const struct bad_job bad_jobs[] = {
	{{.task = 2}},				      /* no such task */
	{{.task = 0, .first_step = 2, .n_steps = 2}}, /* past its steps */
	{{.task = 0, .first_step = 1}},		      /* whole task from 1 */
	{{.task = 0, .payload_bytes = -1}},
	{{.task = 0, .payload_bytes = PROCPOOL_MAX_PAYLOAD_BYTES + 1}},
};

static void test_step_jobs(void **state)
{
	const char *start = *state;
	struct manual_run *m =
		manual_run_start("2 x (cpu 5ms, sleep 5ms, cpu 5ms)", 16);
	struct procpool *p = manual_pool(m, start, 1);
	struct procpool_job job = {.task = 1,
				   .first_step = 1,
				   .n_steps = 2,
				   .payload_bytes = 1000,
				   .cookie = 77};
	struct procpool_done done[4];
	ssize_t n = 0;
	size_t sleeps = 0, computes = 0, ipcs = 0;

	for (size_t i = 0; i < sizeof(bad_jobs) / sizeof(bad_jobs[0]); i++)
		assert_int_equal(procpool_submit(p, &bad_jobs[i].job), -EINVAL);
	assert_int_equal(procpool_pending(p), 0);
	assert_int_equal(procpool_submit(p, &job), 0);
	assert_int_equal(procpool_pending(p), 1);
	/* The descriptor an event loop would poll says when to reap. */
	while (n == 0) {
		struct pollfd pfd = {.fd = procpool_fd(p), .events = POLLIN};

		assert_int_equal(poll(&pfd, 1, 10000), 1);
		n = procpool_reap(p, done, 4);
	}
	assert_int_equal(n, 1);
	assert_int_equal(done[0].task, 1);
	assert_int_equal(done[0].cookie, 77);
	assert_int_equal(done[0].status, TASK_OK);
	assert_int_equal(done[0].err, 0);
	assert_int_equal(done[0].signal, 0);
	assert_true(done[0].pid > 0 && done[0].pid != getpid());
	assert_int_equal(procpool_pending(p), 0);
	assert_int_equal(procpool_reap(p, done, 4), 0);
	assert_int_equal(procpool_workers(p), 1);
	assert_int_equal(procpool_deaths(p), 0);
	procpool_destroy(p, NS_PER_S);
	manual_run_stop(m);

	/* The caller owns the task's start and end; the worker recorded
	 * the two steps it ran (sleep, then cpu) and the payload's two
	 * trips, on its lane. */
	assert_int_equal(m->trace.tasks[1].start_ns, -1);
	assert_int_equal(m->trace.tasks[1].end_ns, -1);
	for (size_t i = 0; i < m->trace.n_segments; i++) {
		const struct trace_segment *s = &m->trace.segments[i];

		if (s->task != 1 || s->state == ST_STARTUP)
			continue;
		assert_int_equal(s->lane, done[0].lane);
		sleeps += s->state == ST_SLEEP;
		computes += s->state == ST_COMPUTE &&
			    begins_computation(&m->trace, s);
		ipcs += s->state == ST_IPC;
	}
	assert_int_equal(sleeps, 1);
	assert_int_equal(computes, 1);
	assert_int_equal(ipcs, 2);
	manual_run_free(m);
	assert_no_children();
}

/* ---- fewer lanes than workers ------------------------------------------ */

/* A recorder with room for main and two workers: a pool asked for four
 * runs with two and says why; a worker killed then is replaced on its
 * predecessor's lane, since there is no other. */
static void test_fewer_lanes_than_workers(void **state)
{
	const char *start = *state;
	/* A fork server takes a lane of its own first. */
	uint32_t server = is_forkserver(start) ? 1 : 0;
	struct manual_run *m = manual_run_start("4 x (cpu 30ms)", 3 + server);
	char why[200] = "";
	struct procpool *p = manual_pool_why(m, start, 4, why, sizeof(why));
	struct procpool_done done[8];
	size_t ok = 0, failed = 0;
	pid_t victim;
	int pidfd;

	assert_int_equal(procpool_workers(p), 2);
	assert_true(strlen(why) > 0);
	/* Kill a worker before any job and wait until it is gone (its
	 * pidfd turns readable; the pool still reaps it): the replacement
	 * needs a lane, and no job may go to the dead one. */
	victim = procpool_worker_pid(p, 0);
	assert_true(victim > 0);
	pidfd = (int)syscall(SYS_pidfd_open, victim, 0);
	assert_true(pidfd >= 0);
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_int_equal(poll(&(struct pollfd){.fd = pidfd, .events = POLLIN},
			      1, 10000),
			 1);
	close(pidfd);
	for (uint32_t task = 0; task < 4; task++) {
		struct procpool_job job = {.task = task};
		assert_int_equal(procpool_submit(p, &job), 0);
	}
	while (procpool_pending(p) > 0) {
		ssize_t n = procpool_wait(p, done, 8, 10 * NS_PER_S);

		assert_true(n > 0);
		for (ssize_t i = 0; i < n; i++) {
			/* Only lanes 1 and 2 exist for workers (after the
			 * server's). */
			assert_true(done[i].lane == 1 + server ||
				    done[i].lane == 2 + server);
			assert_true(done[i].pid != victim);
			ok += done[i].status == TASK_OK;
			failed += done[i].status != TASK_OK;
		}
	}
	/* The victim died idle: no task was lost with it. */
	assert_int_equal(ok, 4);
	assert_int_equal(failed, 0);
	assert_int_equal(procpool_deaths(p), 1);
	assert_int_equal(procpool_workers(p), 2);
	procpool_destroy(p, NS_PER_S);
	manual_run_stop(m);
	assert_int_equal(m->trace.n_lanes, 3 + server);
	manual_run_free(m);
	assert_no_children();
}

/* ---- workers die with the run process ----------------------------------- */

/* In a child that plays the run process: starts a pool, gives each worker
 * five seconds of work, reports the workers' pids through fd, then waits
 * to be killed. */
static _Noreturn void orphan_maker(const char *start, int fd)
{
	struct manual_run *m = manual_run_start("2 x (cpu 5s)", 16);
	struct procpool *p = manual_pool(m, start, 2);
	struct procpool_job job = {.task = 0};
	pid_t pids[2];

	procpool_submit(p, &job);
	job.task = 1;
	procpool_submit(p, &job);
	pids[0] = procpool_worker_pid(p, 0);
	pids[1] = procpool_worker_pid(p, 1);
	if (write(fd, pids, sizeof(pids)) != (ssize_t)sizeof(pids))
		_exit(1);
	for (;;)
		pause();
}

static void test_workers_die_with_parent(void **state)
{
	const char *start = *state;
	int pipefd[2];
	pid_t child, pids[2];
	int status;

	assert_int_equal(pipe(pipefd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(pipefd[0]);
		orphan_maker(start, pipefd[1]);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], pids, sizeof(pids)),
			 (ssize_t)sizeof(pids));
	close(pipefd[0]);
	for (int i = 0; i < 2; i++) {
		assert_true(pids[i] > 0);
		assert_int_equal(kill(pids[i], 0), 0); /* alive */
	}
	/* Hold on to the workers before their parent goes, so a recycled
	 * pid cannot fool the wait below. */
	int pidfd[2] = {(int)syscall(SYS_pidfd_open, pids[0], 0),
			(int)syscall(SYS_pidfd_open, pids[1], 0)};
	assert_true(pidfd[0] >= 0 && pidfd[1] >= 0);
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	for (int i = 0; i < 2; i++) {
		struct pollfd pfd = {.fd = pidfd[i], .events = POLLIN};

		/* Readable once the worker has exited: the parent-death
		 * signal, not its five seconds of work, ended it. */
		assert_int_equal(poll(&pfd, 1, 3000), 1);
		close(pidfd[i]);
	}
	assert_no_children();
}

static void test_start_names(void **state)
{
	(void)state;
	assert_int_equal(procpool_start_parse("fork"), PROCPOOL_FORK);
	assert_int_equal(procpool_start_parse("spawn"), PROCPOOL_SPAWN);
	assert_int_equal(procpool_start_parse("forkserver"),
			 PROCPOOL_FORKSERVER);
	assert_int_equal(procpool_start_parse("forkserve"), -1);
	assert_string_equal(procpool_start_name(PROCPOOL_FORKSERVER),
			    "forkserver");
	assert_int_equal(procpool_start_parse(NULL), -1);
	assert_string_equal(procpool_start_name(PROCPOOL_SPAWN), "spawn");
}

#define PER_START(fn)                                                          \
	cmocka_unit_test_prestate(fn, (void *)starts[0]),                      \
		cmocka_unit_test_prestate(fn, (void *)starts[1]),              \
		cmocka_unit_test_prestate(fn, (void *)starts[2])

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
		cmocka_unit_test_prestate(test_workers_cannot_start,
					  (void *)&broken_cases[2]),
		PER_START(test_shared_counter),
		PER_START(test_step_jobs),
		PER_START(test_fewer_lanes_than_workers),
		PER_START(test_workers_die_with_parent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
