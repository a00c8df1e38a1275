/*
 * run: one run, from a validated spec to a finished trace.
 *
 * The order matters and is this: build the program; calibrate the cpu
 * step and start the latency peer (both before the epoch, so neither shows
 * as idle time at the start of the timeline); create the recorder and lane
 * 0; fill the trace's run info, lane 0 and one task per program task; hand
 * that to hooks->on_start; only then start the collector, because from then
 * on the collector thread is the only one that touches the trace.  Then the
 * watchdog, the model, and everything torn down in reverse.
 *
 * The watchdog is a thread asleep on a condition variable until the run's
 * time limit, waking every WATCHDOG_TICK_NS to ask whether the run is stuck
 * (the deadlock check of the synchronisation steps plugs in at
 * watchdog_stuck()).  It stops the run by raising ctx.stop, which every
 * model and exec checks; the first raiser wins, so its status and message
 * are the run's.  run_execute() wakes it the moment the model returns.
 *
 * Nothing here is global: two runs in one process would not share state
 * (but they would share the cores, which is why the server runs one at a
 * time, each in its own process).
 */
#include "run.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "costs.h"
#include "cpu.h"
#include "cpython.h"
#include "exec.h"
#include "model.h"
#include "peer.h"
#include "procpool.h"
#include "program.h"
#include "summary.h"
#include "sync.h"
#include "util.h"
#include "workload.h"

#define RUN_ENGINE "overlap " OVERLAP_VERSION
/* How often the watchdog asks whether the run is stuck. */
#define WATCHDOG_TICK_NS (100 * NS_PER_MS)
/* How often the collector drains the rings. */
#define COLLECT_INTERVAL_NS NS_PER_MS
/* Lane budget of models without a lane per task: main, workers, spares. */
#define LANES_SPARE 16
#define LANES_MAX 200000
/* Descriptors worth asking for: a socket at each end for 100,000 tasks. */
#define RUN_NOFILE_WANTED 262144

struct watchdog {
	struct run_ctx *ctx;
	int64_t limit_ns;    /* the run's time_limit */
	int64_t deadline_ns; /* CLOCK_MONOTONIC, absolute */
	pthread_t thread;
	pthread_mutex_t mutex;
	pthread_cond_t wake;
	bool done; /* protected by mutex: the model returned */
	/* written by the watchdog thread, read after it is joined */
	bool fired;
	char message[256];
};

/* ---- watchdog ------------------------------------------------------------ */

/* Set by run_request_cancel() (a signal handler, say; a lock-free atomic
 * is safe there and read by the watchdog thread); the watchdog acts on
 * it. */
static atomic_int cancel_requested;

void run_request_cancel(void)
{
	atomic_store_explicit(&cancel_requested, 1, memory_order_relaxed);
}

/* Raises ctx->stop if nobody has yet, and wakes the sleepers; true when
 * this call raised it. */
static bool raise_stop(struct run_ctx *ctx, enum run_status status)
{
	int expected = 0;
	bool raised = atomic_compare_exchange_strong(&ctx->stop, &expected,
						     (int)status);

	exec_stop_wake(&ctx->stop);
	return raised;
}

/*
 * The deadlock check.  The synchronisation steps (sync.h) know what every
 * task waits for; when no task has made progress (ctx->progress unchanged)
 * while every live task waits on an object nobody can release, they explain
 * it here in w->message and this returns true: the run ends with status
 * deadlock.  A program without objects is never judged stuck.
 */
static bool watchdog_stuck(struct watchdog *w)
{
	return sync_watchdog_stuck(w->ctx, w->message, sizeof(w->message));
}

static void format_limit(int64_t ns, char *buf, size_t size)
{
	if (ns % NS_PER_S == 0)
		snprintf(buf, size, "%lld s", (long long)(ns / NS_PER_S));
	else
		util_format_duration(ns, buf, size);
}

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	bool woken = false;

	pthread_mutex_lock(&w->mutex);
	while (!w->done) {
		int64_t now = util_mono_ns();

		if (now >= w->deadline_ns) {
			if (raise_stop(w->ctx, RUN_ERROR)) {
				char limit[32];

				format_limit(w->limit_ns, limit, sizeof(limit));
				w->fired = true;
				snprintf(w->message, sizeof(w->message),
					 "time_limit: the run exceeded %s and "
					 "was stopped",
					 limit);
			}
			break;
		}
		int64_t next = now + WATCHDOG_TICK_NS < w->deadline_ns
				       ? now + WATCHDOG_TICK_NS
				       : w->deadline_ns;
		struct timespec ts = {.tv_sec = next / NS_PER_S,
				      .tv_nsec = next % NS_PER_S};

		pthread_cond_timedwait(&w->wake, &w->mutex, &ts);
		if (w->done)
			break;
		if (atomic_load_explicit(&cancel_requested,
					 memory_order_relaxed)) {
			if (raise_stop(w->ctx, RUN_CANCELLED)) {
				w->fired = true;
				snprintf(w->message, sizeof(w->message),
					 "stopped on request");
			}
			break;
		}
		pthread_mutex_unlock(&w->mutex);
		bool stuck = watchdog_stuck(w) &&
			     raise_stop(w->ctx, RUN_DEADLOCK);
		pthread_mutex_lock(&w->mutex);
		if (stuck) {
			w->fired = true;
			break;
		}
		/* Someone else stopped the run (a model, a worker): make
		 * sure no sleeper waits for its slice to notice. */
		if (!woken && atomic_load(&w->ctx->stop)) {
			exec_stop_wake(&w->ctx->stop);
			woken = true;
		}
	}
	pthread_mutex_unlock(&w->mutex);
	return NULL;
}

static int watchdog_start(struct watchdog *w, struct run_ctx *ctx,
			  int64_t limit_ns)
{
	pthread_condattr_t attr;
	sigset_t all, old;
	int err;

	memset(w, 0, sizeof(*w));
	w->ctx = ctx;
	w->limit_ns = limit_ns;
	w->deadline_ns = util_mono_ns() + limit_ns;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&w->mutex, NULL);
	/* Signals belong to the thread that runs the CLI. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, watchdog_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_mutex_destroy(&w->mutex);
		pthread_cond_destroy(&w->wake);
		return -err;
	}
	return 0;
}

static void watchdog_stop(struct watchdog *w)
{
	pthread_mutex_lock(&w->mutex);
	w->done = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mutex);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mutex);
	pthread_cond_destroy(&w->wake);
}

/* ---- the run's surroundings ---------------------------------------------- */

static void make_run_id(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, size, "%s-%04x", stamp,
		 (unsigned)((ts.tv_nsec ^ getpid()) & 0xffff));
}

static void iso8601_now(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char stamp[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%.20s.%03dZ", stamp,
		 (int)(ts.tv_nsec / 1000000 % 1000));
}

/* Thousands of threads each holding a socket, and as many at the peer:
 * take every descriptor we are allowed.  A process that may raise its
 * hard limit (CAP_SYS_RESOURCE) first asks for room for two sockets per
 * task at the models' largest task count. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < RUN_NOFILE_WANTED) {
		struct rlimit more = {RUN_NOFILE_WANTED, RUN_NOFILE_WANTED};

		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	if (dir[0])
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_tmpdir(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	if (!base || !base[0])
		base = "/tmp";
	if (snprintf(buf, size, "%s/overlap-XXXXXX", base) >= (int)size)
		return -ENAMETOOLONG;
	if (!mkdtemp(buf)) {
		buf[0] = '\0';
		return -errno;
	}
	return 0;
}

static int64_t rusage_cpu_ns(void)
{
	struct rusage self, children;
	int64_t ns = 0;

	if (getrusage(RUSAGE_SELF, &self) == 0)
		ns += (self.ru_utime.tv_sec + self.ru_stime.tv_sec) * NS_PER_S +
		      (self.ru_utime.tv_usec + self.ru_stime.tv_usec) *
			      NS_PER_US;
	if (getrusage(RUSAGE_CHILDREN, &children) == 0)
		ns += (children.ru_utime.tv_sec + children.ru_stime.tv_sec) *
			      NS_PER_S +
		      (children.ru_utime.tv_usec + children.ru_stime.tv_usec) *
			      NS_PER_US;
	return ns;
}

static void fill_host(struct trace_host *h, const struct cpu_calib *cpu)
{
	struct utsname un;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	h->cores = cores > 0 ? (int)cores : 1;
	if (uname(&un) == 0)
		util_strlcpy(h->kernel, un.release, sizeof(h->kernel));
	util_strlcpy(h->engine, RUN_ENGINE, sizeof(h->engine));
	h->cpu_iters_per_ms = cpu->iters_per_ms;
}

/* The counter memory_bytes: what Python holds for what the model makes
 * (costs.h has the figures and how they were measured).  A thread of its
 * own per task (threads) is held while its task lives; a pool's workers,
 * threads, processes or interpreters, from when they appear; a pending
 * asyncio Task or a pool's Future, from its submit to its end. */
static void memory_for(const struct model_ops *m, const struct spec *spec,
		       struct collector_memory *out)
{
	const struct python_memory *py = &costs_memory;
	const struct param_value *start = spec_find(&spec->options, "start");
	const struct param_value *executor =
		spec_find(&spec->options, "executor");
	int method = start ? procpool_start_parse(start->text) : COSTS_FORK;
	int64_t process_bytes =
		py->process_bytes[method >= 0 && method < COSTS__STARTS
					  ? method
					  : COSTS_FORK];

	memset(out, 0, sizeof(*out));
	out->rss = true;
	if (strcmp(m->name, "threads") == 0) {
		out->task_bytes = py->thread_bytes;
	} else if (strcmp(m->name, "thread-pool") == 0) {
		out->lane_bytes[LANE_THREAD] = py->thread_bytes;
		out->task_bytes = py->future_bytes;
	} else if (strcmp(m->name, "process-pool") == 0) {
		out->lane_bytes[LANE_PROCESS] = process_bytes;
		out->task_bytes = py->future_bytes;
	} else if (strcmp(m->name, "interpreter-pool") == 0) {
		out->lane_bytes[LANE_THREAD] =
			py->thread_bytes + py->interpreter_bytes;
		out->task_bytes = py->future_bytes;
	} else if (strcmp(m->name, "asyncio") == 0) {
		out->task_bytes = py->task_bytes;
	} else if (strcmp(m->name, "asyncio-executor") == 0) {
		out->task_bytes = py->task_bytes;
		if (executor && strcmp(executor->text, "processes") == 0)
			out->lane_bytes[LANE_PROCESS] = process_bytes;
		else
			out->lane_bytes[LANE_THREAD] = py->thread_bytes;
	}
	/* sequential: the tasks are calls one after another, holding
	 * nothing a model adds. */
}

/* Lanes: one per task for a model that needs it, plus main, the workers
 * (twice over: a pool may replace a dead worker) and spares. */
static uint32_t lanes_for(const struct model_ops *m, const struct spec *spec,
			  size_t n_tasks)
{
	const struct param_value *workers =
		spec_find(&spec->options, "workers");
	uint64_t lanes = LANES_SPARE;

	if (m->lane_per_task)
		lanes += n_tasks;
	if (workers)
		lanes += 2 *
			 (uint64_t)(workers->i > 0
					    ? (uint32_t)workers->i
					    : model_default_thread_workers());
	return lanes > LANES_MAX ? LANES_MAX : (uint32_t)lanes;
}

static uint64_t ring_capacity_for(uint32_t lanes)
{
	if (lanes <= 64)
		return 4096;
	if (lanes <= 1100)
		return 1024;
	return 256;
}

static void set_err(struct spec_error *err, const char *field, int rc,
		    const char *what)
{
	if (!err)
		return;
	util_strlcpy(err->field, field, sizeof(err->field));
	snprintf(err->message, sizeof(err->message), "%s: %s", what,
		 strerror(-rc));
	err->column = 0;
}

/* ---- the run ------------------------------------------------------------- */

void run_begin_trace(const struct spec *spec, struct trace *out)
{
	if (spec->id[0])
		util_strlcpy(out->id, spec->id, sizeof(out->id));
	else
		make_run_id(out->id, sizeof(out->id));
	util_strlcpy(out->workload, spec->workload, sizeof(out->workload));
	util_strlcpy(out->model, spec->model, sizeof(out->model));
	json_decref(out->params);
	json_decref(out->options);
	out->params = spec_params_json(&spec->params);
	out->options = spec_params_json(&spec->options);
	out->status = RUN_RUNNING;
	iso8601_now(out->started_at, sizeof(out->started_at));
}

bool run_cancel_requested(void)
{
	return atomic_load_explicit(&cancel_requested, memory_order_relaxed);
}

int run_execute(const struct spec *spec, const struct run_hooks *hooks,
		struct trace *out, struct spec_error *err)
{
	const struct workload *w = workload_find(spec->workload);
	const struct model_ops *m = model_find(spec->model);
	struct run_ctx ctx = {.spec = spec};
	struct program prog;
	struct peer *peer;
	struct trace_rec *rec;
	struct trace_collector *coll;
	struct collector_memory memory;
	const char **note_names = NULL;
	struct watchdog wd;
	int64_t cpu_before_ns;
	int model_rc, rc;

	if (!w || !m) {
		set_err(err, w ? "model" : "workload", -EINVAL, "unknown name");
		return -EINVAL;
	}
	if (strcmp(spec->engine, SPEC_ENGINE_CPYTHON) == 0)
		return cpython_execute(spec, hooks, out, err);
	program_init(&prog);
	rc = w->build(spec, &prog, err);
	if (rc < 0)
		goto out_program;
	ctx.prog = &prog;

	run_begin_trace(spec, out);

	/* costs=python: the measured costs, measured now if they never
	 * were (before anything is timed). */
	const struct param_value *costs = spec_find(&spec->options, "costs");

	if (costs && strcmp(costs->text, "python") == 0) {
		char why[200];

		rc = costs_get(&ctx.python, why, sizeof(why));
		if (rc < 0) {
			if (err) {
				util_strlcpy(err->field, "options.costs",
					     sizeof(err->field));
				snprintf(err->message, sizeof(err->message),
					 "costs: %s", why);
				err->column = 0;
			}
			goto out_program;
		}
		ctx.charge_python = true;
	}
	raise_nofile();
	rc = make_tmpdir(ctx.tmpdir, sizeof(ctx.tmpdir));
	if (rc < 0) {
		set_err(err, "run", rc, "cannot make a temporary directory");
		goto out_program;
	}
	cpu_calibrate(&ctx.cpu);
	fill_host(&out->host, &ctx.cpu);
	util_strlcpy(out->engine.name, SPEC_ENGINE_OVERLAP,
		     sizeof(out->engine.name));
	util_strlcpy(out->engine.version, OVERLAP_VERSION,
		     sizeof(out->engine.version));
	peer = peer_start();
	if (!peer) {
		rc = -errno;
		set_err(err, "run", rc, "cannot start the latency peer");
		goto out_tmpdir;
	}
	ctx.peer_port = peer_port(peer);
	/* The synchronisation objects' run-time state (NULL: the program
	 * has none), also before the epoch: files a task reads are written
	 * here. */
	if (prog.n_objects) {
		ctx.sync = sync_create(&ctx);
		if (!ctx.sync) {
			rc = errno ? -errno : -ENOMEM;
			if (err) {
				util_strlcpy(err->field, "run",
					     sizeof(err->field));
				util_strlcpy(err->message, ctx.message,
					     sizeof(err->message));
			}
			goto out_peer;
		}
	}

	uint32_t max_lanes = lanes_for(m, spec, prog.n_tasks);
	int64_t epoch_ns = util_mono_ns();

	rec = trace_rec_create(max_lanes, ring_capacity_for(max_lanes),
			       epoch_ns);
	if (!rec) {
		rc = -ENOMEM;
		set_err(err, "run", rc, "cannot create the recorder");
		goto out_peer;
	}
	ctx.rec = rec;
	ctx.main_lane = trace_rec_add_lane(rec, LANE_MAIN, "main");
	ctx.deadline_ns = spec_ns(&spec->options, "time_limit");
	ctx.checks = json_object();

	/* Lane 0 and the tasks go into the trace now, so on_start sees them
	 * and the collector does not announce them again. */
	struct trace_lane *main_lane = trace_add_lane(out);

	main_lane->kind = LANE_MAIN;
	util_strlcpy(main_lane->name, "main", sizeof(main_lane->name));
	main_lane->os_id = gettid();
	for (size_t i = 0; i < prog.n_tasks; i++) {
		struct trace_task *k = trace_add_task(out);

		trace_task_set_label(out, k, prog.tasks[i].label,
				     prog.tasks[i].number);
		k->lane = UINT32_MAX;
		k->submit_ns = k->start_ns = k->end_ns = -1;
		k->status = TASK_PENDING;
	}
	if (hooks && hooks->on_start)
		hooks->on_start(hooks->sink_ctx, out);

	if (prog.n_objects) {
		note_names = util_xcalloc(prog.n_objects, sizeof(*note_names));
		for (size_t i = 0; i < prog.n_objects; i++)
			note_names[i] = prog.objects[i].name;
	}
	memory_for(m, spec, &memory);
	coll = trace_collector_start_memory(rec, out, note_names,
					    prog.n_objects, COLLECT_INTERVAL_NS,
					    hooks ? hooks->sink : NULL,
					    hooks ? hooks->sink_ctx : NULL,
					    &memory);
	if (!coll) {
		rc = -ENOMEM;
		set_err(err, "run", rc, "cannot start the collector");
		goto out_rec;
	}
	rc = watchdog_start(&wd, &ctx, ctx.deadline_ns);
	if (rc < 0) {
		set_err(err, "run", rc, "cannot start the watchdog");
		trace_collector_stop(coll);
		goto out_rec;
	}

	/* The run's CPU is what the model used: not the calibration's. */
	cpu_before_ns = rusage_cpu_ns();
	model_rc = m->run(&ctx);
	out->cpu_ns = rusage_cpu_ns() - cpu_before_ns;

	watchdog_stop(&wd);
	trace_collector_stop(coll);

	int stop = atomic_load(&ctx.stop);

	if (stop) {
		out->status = (uint8_t)stop;
		util_strlcpy(out->message, wd.fired ? wd.message : ctx.message,
			     sizeof(out->message));
	} else if (model_rc < 0) {
		out->status = RUN_ERROR;
		if (ctx.message[0])
			util_strlcpy(out->message, ctx.message,
				     sizeof(out->message));
		else
			snprintf(out->message, sizeof(out->message), "%s: %s",
				 m->name, strerror(-model_rc));
	} else {
		out->status = RUN_DONE;
		util_strlcpy(out->message, ctx.message, sizeof(out->message));
	}
	sync_add_checks(&ctx);
	out->summary.max_loop_lag_ns = -1; /* unless the model measured it */
	if (m->report)
		m->report(&ctx, out);
	json_decref(out->summary.checks);
	out->summary.checks = ctx.checks; /* steals the reference */
	ctx.checks = NULL;
	summary_compute(out);
	rc = 0;

out_rec:
	json_decref(ctx.checks);
	free(note_names);
	trace_rec_destroy(rec);
out_peer:
	sync_destroy(ctx.sync);
	peer_stop(peer);
out_tmpdir:
	remove_tree(ctx.tmpdir);
out_program:
	program_free(&prog);
	return rc;
}
