/*
 * runs: the table, the queue and the life of a run (see runs.h; the
 * module's other files are named in runs_priv.h).
 *
 * The table is an array in creation order (history is listed newest
 * first by walking it backwards); lookups scan it, which stays cheap for
 * the thousands of runs a person keeps.  The queue is a small array of
 * the same runs in FIFO order.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runs_priv.h"
#include "spec.h"
#include "util.h"

/* A runner asked to stop ends its run within a watchdog tick and a wind
 * down; past this it is killed. */
#define STOP_GRACE_NS (3 * NS_PER_S)

/* ---- small helpers ------------------------------------------------------ */

bool runs_status_final(int status)
{
	return status != RUN_QUEUED && status != RUN_RUNNING;
}

static void iso8601(int64_t realtime_ns, char *buf, size_t size)
{
	time_t secs = (time_t)(realtime_ns / NS_PER_S);
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", base,
		 (int)(realtime_ns % NS_PER_S / NS_PER_MS));
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void runs_file_name(char *buf, size_t size, const char *id, const char *ext)
{
	snprintf(buf, size, "runs/%s.%s", id, ext);
}

struct run *run_new(void)
{
	struct run *run = calloc(1, sizeof(*run));

	if (!run)
		return NULL;
	atomic_init(&run->refs, 1);
	pthread_mutex_init(&run->append_lock, NULL);
	run->events_fd = -1;
	return run;
}

void run_unref(struct run *run)
{
	if (!run || atomic_fetch_sub(&run->refs, 1) != 1)
		return;
	if (run->events_fd >= 0)
		close(run->events_fd);
	stream_unref(run->live);
	stream_unref(run->stream);
	json_decref(run->spec);
	json_decref(run->defaults);
	json_decref(run->summary);
	json_decref(run->unsaved);
	pthread_mutex_destroy(&run->append_lock);
	free(run);
}

void runs_release(struct run *run)
{
	run_unref(run);
}

const char *run_id(const struct run *run)
{
	return run->id;
}

char *run_spec_text(const struct run *run)
{
	return json_dumps(run->spec, JSON_COMPACT);
}

int64_t run_wall_limit_ns(const struct run *run)
{
	return run->wall_limit_ns;
}

/* Caller holds r->lock. */
struct run *runs_find_locked(struct runs *r, const char *id)
{
	for (size_t i = r->n_table; i-- > 0;)
		if (strcmp(r->table[i]->id, id) == 0)
			return r->table[i];
	return NULL;
}

int runs_table_add_locked(struct runs *r, struct run *run)
{
	if (r->n_table == r->cap_table) {
		size_t cap = r->cap_table ? r->cap_table * 2 : 64;
		struct run **t = realloc(r->table, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		r->table = t;
		r->cap_table = cap;
	}
	r->table[r->n_table++] = run;
	return 0;
}

static void table_del_locked(struct runs *r, struct run *run)
{
	for (size_t i = 0; i < r->n_table; i++) {
		if (r->table[i] == run) {
			memmove(&r->table[i], &r->table[i + 1],
				(r->n_table - i - 1) * sizeof(*r->table));
			r->n_table--;
			return;
		}
	}
}

/* Each queued run hears its new place when the queue moves.  Caller holds
 * r->lock. */
static void announce_positions_locked(struct runs *r)
{
	for (size_t i = 0; i < r->n_queue; i++) {
		struct run *run = r->queue[i];

		if (run->position == (int)i + 1)
			continue;
		run->position = (int)i + 1;
		runs_append_json(run, "status",
				 runs_status_event(RUN_QUEUED, NULL,
						   run->position));
	}
}

static json_t *host_defaults(void)
{
	struct utsname u;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (uname(&u) < 0)
		util_strlcpy(u.release, "", sizeof(u.release));
	return json_pack("{s:i, s:s, s:s}", "cores", (int)cores, "kernel",
			 u.release, "engine", "overlap");
}

struct runs *runs_create(const struct runs_config *cfg, char *err,
			 size_t err_size)
{
	struct runs *r;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	r->cfg = *cfg;
	if (r->cfg.queue_max < 1)
		r->cfg.queue_max = 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	pthread_cond_init(&r->loaded, NULL);
	r->host = host_defaults();
	r->queue = calloc((size_t)r->cfg.queue_max, sizeof(*r->queue));
	if (!r->queue || !r->host) {
		snprintf(err, err_size, "out of memory");
		goto out_free;
	}
	if (runs_load(r, err, err_size) < 0)
		goto out_free;
	return r;

out_free:
	json_decref(r->host);
	free(r->queue);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->loaded);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

/* Asks a running run's runner to stop (SIGTERM: it ends the run as
 * cancelled and writes the rest of its trace, the open waits recorded up
 * to then); its group is killed if it is still going after the grace.
 * Caller holds r->lock. */
static void ask_stop_locked(struct run *run)
{
	if (run->pgid <= 0 || run->kill_at_ns)
		return;
	run->kill_at_ns = util_mono_ns() + STOP_GRACE_NS;
	kill(run->pgid, SIGTERM);
}

bool runs_kill_due(struct runs *r, struct run *run)
{
	bool due;

	pthread_mutex_lock(&r->lock);
	due = run->kill_at_ns && util_mono_ns() >= run->kill_at_ns;
	pthread_mutex_unlock(&r->lock);
	/* Its events cannot be stored: the run cannot be shown, so it
	 * stops now. */
	return due || atomic_load(&run->events_errno) != 0;
}

void runs_shutdown(struct runs *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	if (r->running) {
		r->running->interrupt = true;
		ask_stop_locked(r->running);
	}
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

void runs_interrupt_queued(struct runs *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	/* The runner has exited: what is left in the queue never started. */
	while (r->n_queue > 0) {
		struct run *run = r->queue[0];

		memmove(&r->queue[0], &r->queue[1],
			--r->n_queue * sizeof(*r->queue));
		pthread_mutex_unlock(&r->lock);
		runs_conclude(r, run, RUN_INTERRUPTED,
			      "the server stopped before this run started");
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

void runs_destroy(struct runs *r)
{
	if (!r)
		return;
	runs_interrupt_queued(r);
	for (size_t i = 0; i < r->n_table; i++)
		run_unref(r->table[i]);
	free(r->table);
	free(r->queue);
	json_decref(r->host);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->loaded);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- submitting --------------------------------------------------------- */

static int64_t wall_limit(const struct runs *r, const struct spec *spec)
{
	const struct param_value *v = spec_find(&spec->options, "time_limit");
	int64_t ns = r->cfg.max_wall_ns;

	if (v && v->i > 0 && v->i + r->cfg.wall_grace_ns < ns)
		ns = v->i + r->cfg.wall_grace_ns;
	return ns;
}

static bool id_taken(struct runs *r, const char *id, char (*ids)[STORE_ID_SIZE],
		     size_t n)
{
	char name[64];
	bool taken;

	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	pthread_mutex_lock(&r->lock);
	taken = runs_find_locked(r, id) != NULL;
	pthread_mutex_unlock(&r->lock);
	runs_file_name(name, sizeof(name), id, "meta");
	return taken || store_exists(r->cfg.store, name);
}

/* Builds a queued run and its files (outside the lock). */
static struct run *prepare(struct runs *r, const struct spec *spec,
			   const struct runs_group *group, const char *id,
			   int *err)
{
	char name[64];
	struct run *run = run_new();

	*err = -ENOMEM;
	if (!run)
		return NULL;
	util_strlcpy(run->id, id, sizeof(run->id));
	if (group && group->kind == RUNS_GROUP_COMPARE)
		util_strlcpy(run->compare, group->id, sizeof(run->compare));
	else if (group && group->kind == RUNS_GROUP_SWEEP)
		util_strlcpy(run->sweep, group->id, sizeof(run->sweep));
	run->created_ns = realtime_ns();
	iso8601(run->created_ns, run->created_at, sizeof(run->created_at));
	util_strlcpy(run->started_at, run->created_at, sizeof(run->started_at));
	run->status = RUN_QUEUED;
	run->wall_limit_ns = wall_limit(r, spec);
	run->spec = spec_to_json(spec);
	json_object_del(run->spec, "id");
	run->defaults = json_pack(
		"{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:i, s:O}", "id", id,
		"workload", spec->workload, "model", spec->model, "params",
		spec_params_json(&spec->params), "options",
		spec_params_json(&spec->options), "status", "queued", "message",
		"", "started_at", run->created_at, "cpu_ns", 0, "host",
		r->host);
	run->live = stream_create();
	if (!run->spec || !run->defaults || !run->live)
		goto out_unref;
	runs_file_name(name, sizeof(name), id, "events");
	run->events_fd = store_open_append(r->cfg.store, name);
	if (run->events_fd < 0) {
		*err = run->events_fd;
		goto out_unref;
	}
	*err = runs_save_meta(r, run);
	if (*err < 0)
		goto out_remove;
	return run;

out_remove:
	store_remove(r->cfg.store, name);
out_unref:
	run_unref(run);
	return NULL;
}

static void unprepare(struct runs *r, struct run *run)
{
	char name[64];

	runs_file_name(name, sizeof(name), run->id, "meta");
	store_remove(r->cfg.store, name);
	runs_file_name(name, sizeof(name), run->id, "events");
	store_remove(r->cfg.store, name);
	run_unref(run);
}

int runs_submit(struct runs *r, struct spec *const *specs, size_t n,
		const char *compare_id, char (*ids)[STORE_ID_SIZE])
{
	struct runs_group group = {RUNS_GROUP_COMPARE, compare_id};

	return runs_submit_group(r, specs, n, compare_id ? &group : NULL, ids);
}

int runs_submit_group(struct runs *r, struct spec *const *specs, size_t n,
		      const struct runs_group *group,
		      char (*ids)[STORE_ID_SIZE])
{
	struct run **made;
	size_t done = 0;
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	if (r->stopping)
		rc = -ESHUTDOWN;
	else if (r->n_queue + n > (size_t)r->cfg.queue_max)
		rc = -EAGAIN;
	pthread_mutex_unlock(&r->lock);
	if (rc < 0)
		return rc;
	made = calloc(n ? n : 1, sizeof(*made));
	if (!made)
		return -ENOMEM;
	for (; done < n; done++) {
		do
			store_id_new(ids[done]);
		while (id_taken(r, ids[done], ids, done));
		made[done] = prepare(r, specs[done], group, ids[done], &rc);
		if (!made[done])
			goto out_unprepare;
	}

	pthread_mutex_lock(&r->lock);
	if (r->stopping)
		rc = -ESHUTDOWN;
	else if (r->n_queue + n > (size_t)r->cfg.queue_max)
		rc = -EAGAIN;
	else if (r->n_table + n > r->cap_table) {
		size_t cap = r->cap_table ? r->cap_table : 64;
		struct run **t;

		while (cap < r->n_table + n)
			cap *= 2;
		t = realloc(r->table, cap * sizeof(*t));
		if (t) {
			r->table = t;
			r->cap_table = cap;
		} else {
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		pthread_mutex_unlock(&r->lock);
		goto out_unprepare;
	}
	for (size_t i = 0; i < n; i++) {
		r->table[r->n_table++] = made[i];
		r->queue[r->n_queue++] = made[i];
	}
	announce_positions_locked(r);
	r->version++;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	free(made);
	return 0;

out_unprepare:
	for (size_t i = 0; i < done; i++)
		unprepare(r, made[i]);
	free(made);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

static json_t *summary_field(const json_t *summary, const char *key)
{
	json_t *v = json_object_get(summary, key);

	return v ? json_incref(v) : json_null();
}

/* Caller holds r->lock. */
static json_t *list_entry_locked(const struct run *run)
{
	const json_t *diag = json_object_get(run->summary, "diagnosis");
	json_t *e = json_pack("{s:s, s:O, s:O, s:s, s:s, s:s, s:s}", "id",
			      run->id, "workload",
			      json_object_get(run->spec, "workload"), "model",
			      json_object_get(run->spec, "model"), "status",
			      run_status_name(run->status), "message",
			      run->message, "created_at", run->created_at,
			      "started_at", run->started_at);

	if (!e)
		return NULL;
	/* What was asked for, so a history can tell "gil on" from "gil
	 * off" without reading every trace. */
	json_object_set_new(
		e, "params",
		json_deep_copy(json_object_get(run->spec, "params")));
	json_object_set_new(
		e, "options",
		json_deep_copy(json_object_get(run->spec, "options")));
	json_object_set_new(e, "compare",
			    run->compare[0] ? json_string(run->compare)
					    : json_null());
	json_object_set_new(e, "sweep",
			    run->sweep[0] ? json_string(run->sweep)
					  : json_null());
	json_object_set_new(e, "position",
			    run->position ? json_integer(run->position)
					  : json_null());
	json_object_set_new(e, "wall_ns",
			    summary_field(run->summary, "wall_ns"));
	json_object_set_new(e, "speedup",
			    summary_field(run->summary, "speedup"));
	json_object_set_new(e, "parallelism",
			    summary_field(run->summary, "parallelism"));
	json_object_set_new(e, "cpu_util",
			    summary_field(run->summary, "cpu_util"));
	json_object_set_new(e, "bound", summary_field(diag, "bound"));
	json_object_set_new(e, "recommend", summary_field(diag, "recommend"));
	return e;
}

json_t *runs_list(struct runs *r)
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	pthread_mutex_lock(&r->lock);
	for (size_t i = r->n_table; i-- > 0;)
		json_array_append_new(list, list_entry_locked(r->table[i]));
	pthread_mutex_unlock(&r->lock);
	return json_pack("{s:o}", "runs", list);
}

uint64_t runs_version(struct runs *r)
{
	uint64_t v;

	pthread_mutex_lock(&r->lock);
	v = r->version;
	pthread_mutex_unlock(&r->lock);
	return v;
}

json_t *runs_brief(struct runs *r, const char *id)
{
	json_t *b = NULL;
	struct run *run;

	pthread_mutex_lock(&r->lock);
	run = runs_find_locked(r, id);
	if (run)
		b = json_pack("{s:s, s:O, s:s, s:s, s:O}", "id", run->id,
			      "model", json_object_get(run->spec, "model"),
			      "status", run_status_name(run->status), "message",
			      run->message, "summary",
			      run->summary ? run->summary : json_null());
	pthread_mutex_unlock(&r->lock);
	return b;
}

void runs_stats(struct runs *r, struct runs_stats *out)
{
	pthread_mutex_lock(&r->lock);
	out->total = r->n_table;
	out->queued = r->n_queue;
	util_strlcpy(out->running, r->running ? r->running->id : "",
		     sizeof(out->running));
	pthread_mutex_unlock(&r->lock);
}

int runs_retry_after_s(struct runs *r)
{
	int64_t s = 5;

	/* The queue moves when the running run ends; its limit bounds how
	 * long that takes, but most runs take seconds. */
	pthread_mutex_lock(&r->lock);
	if (r->running && r->running->wall_limit_ns / NS_PER_S < s)
		s = r->running->wall_limit_ns / NS_PER_S;
	pthread_mutex_unlock(&r->lock);
	return s < 1 ? 1 : (int)s;
}

/* ---- removing ----------------------------------------------------------- */

int runs_remove(struct runs *r, const char *id, bool *deleted)
{
	static const char *const exts[] = {"meta", "events", "json"};
	struct run *run;
	char name[64];

	*deleted = false;
	pthread_mutex_lock(&r->lock);
	run = runs_find_locked(r, id);
	if (!run) {
		pthread_mutex_unlock(&r->lock);
		return -ENOENT;
	}
	if (!runs_status_final(run->status) && run->cancel) {
		pthread_mutex_unlock(&r->lock); /* already being cancelled */
		return 0;
	}
	if (run->status == RUN_QUEUED) {
		for (size_t i = 0; i < r->n_queue; i++) {
			if (r->queue[i] != run)
				continue;
			memmove(&r->queue[i], &r->queue[i + 1],
				(r->n_queue - i - 1) * sizeof(*r->queue));
			r->n_queue--;
			break;
		}
		run->cancel = true; /* out of the queue: no longer takeable */
		atomic_fetch_add(&run->refs, 1);
		announce_positions_locked(r);
		r->version++;
		pthread_mutex_unlock(&r->lock);
		runs_conclude(r, run, RUN_CANCELLED,
			      "cancelled before it started");
		run_unref(run);
		return 0;
	}
	if (run->status == RUN_RUNNING) {
		run->cancel = true;
		ask_stop_locked(run);
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	/* Finished: forget it, then remove its files (meta first, so a crash
	 * half-way never resurrects it as interrupted). */
	table_del_locked(r, run);
	if (run->cached_bytes) {
		r->cached_bytes -= run->cached_bytes;
		run->cached_bytes = 0;
	}
	r->version++;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < sizeof(exts) / sizeof(*exts); i++) {
		runs_file_name(name, sizeof(name), id, exts[i]);
		store_remove(r->cfg.store, name);
	}
	run_unref(run);
	*deleted = true;
	return 0;
}

/* ---- the runner's side -------------------------------------------------- */

struct run *runs_take(struct runs *r)
{
	struct run *run;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping && r->n_queue == 0)
		pthread_cond_wait(&r->wake, &r->lock);
	if (r->stopping) {
		pthread_mutex_unlock(&r->lock);
		return NULL;
	}
	run = r->queue[0];
	memmove(&r->queue[0], &r->queue[1], --r->n_queue * sizeof(*r->queue));
	r->running = run;
	run->status = RUN_RUNNING;
	run->position = 0;
	iso8601(realtime_ns(), run->started_at, sizeof(run->started_at));
	atomic_fetch_add(&run->refs, 1);
	runs_append_json(run, "status",
			 runs_status_event(RUN_RUNNING, NULL, 0));
	announce_positions_locked(r);
	r->version++;
	pthread_mutex_unlock(&r->lock);
	/* Stored as running before it runs: a crash of the server from now
	 * on is recovered as interrupted while running, not before. */
	runs_save_meta(r, run);
	return run;
}

bool runs_started(struct runs *r, struct run *run, pid_t pgid)
{
	bool go;

	pthread_mutex_lock(&r->lock);
	go = !run->cancel && !run->interrupt;
	if (go)
		run->pgid = pgid;
	pthread_mutex_unlock(&r->lock);
	return go;
}

void runs_stopped(struct runs *r, struct run *run)
{
	pthread_mutex_lock(&r->lock);
	run->pgid = 0;
	pthread_mutex_unlock(&r->lock);
}

void runs_finish(struct runs *r, struct run *run, const struct runs_exit *ex)
{
	char message[512];
	bool cancel, interrupt;
	int status = RUN_ERROR;

	pthread_mutex_lock(&r->lock);
	cancel = run->cancel;
	interrupt = run->interrupt;
	pthread_mutex_unlock(&r->lock);

	message[0] = '\0';
	if (atomic_load(&run->events_errno)) {
		snprintf(message, sizeof(message),
			 "the run's events could not be stored: %s",
			 strerror(atomic_load(&run->events_errno)));
	} else if (interrupt) {
		status = RUN_INTERRUPTED;
		snprintf(message, sizeof(message),
			 "the server stopped while this run was running");
	} else if (cancel) {
		status = RUN_CANCELLED;
		snprintf(message, sizeof(message), "cancelled while running");
	} else if (ex->spawn_failed) {
		snprintf(message, sizeof(message),
			 "cannot start the runner: %s", ex->detail);
	} else if (ex->timed_out) {
		snprintf(message, sizeof(message),
			 "stopped at the wall-clock limit of %.0f s",
			 (double)run->wall_limit_ns / NS_PER_S);
	} else if (WIFSIGNALED(ex->wstatus)) {
		snprintf(message, sizeof(message),
			 "runner killed by signal %d (%s)",
			 WTERMSIG(ex->wstatus),
			 strsignal(WTERMSIG(ex->wstatus)));
	} else if (WIFEXITED(ex->wstatus) && WEXITSTATUS(ex->wstatus) != 0 &&
		   !(WEXITSTATUS(ex->wstatus) == 1 && run->summary_seen)) {
		/* Exit 1 after a summary is the engine's way of saying the run
		 * ended as error, deadlock or cancelled: the summary says
		 * which, handled below. */
		snprintf(message, sizeof(message),
			 "runner exited with status %d%s%s",
			 WEXITSTATUS(ex->wstatus), ex->detail[0] ? ": " : "",
			 ex->detail);
	} else if (!run->summary_seen) {
		snprintf(message, sizeof(message),
			 "runner ended without a summary");
	} else if (run_status_parse(run->summary_status) < 0 ||
		   !runs_status_final(run_status_parse(run->summary_status))) {
		snprintf(message, sizeof(message),
			 "runner reported status '%s'", run->summary_status);
	} else {
		status = run_status_parse(run->summary_status);
		snprintf(message, sizeof(message), "%s", run->summary_message);
	}
	runs_conclude(r, run, status, message);

	pthread_mutex_lock(&r->lock);
	if (r->running == run)
		r->running = NULL;
	r->version++;
	pthread_mutex_unlock(&r->lock);
}
