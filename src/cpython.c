/*
 * cpython: the reference engine's C side (see cpython.h).
 *
 * The interpreter is a child that speaks lines, so the parent is a small
 * poll() loop over its stdout and stderr: stdout's lines are folded into
 * the trace as they come (a live viewer sees the CPython run grow as it
 * sees a model's), stderr keeps its last bytes for the error message of
 * an interpreter that fails.  The loop also watches the run's cancel
 * request (passed on as SIGTERM, which the runner turns into a cancelled
 * run with its trace whole) and the time limit (SIGKILL, 30 s past it).
 *
 * The fold mirrors the collector: lanes are added by id in order, tasks
 * are the program's (made here, as run.c makes them), segments and
 * samples are appended, and each change goes to hooks->sink as the
 * collector's event would, with on_start called once lane 0 is known.
 * Lines that name a task, lane or state that does not exist are dropped.
 *
 * Somewhat over 1,000 lines: the child's process and the fold of its
 * lines run in one loop over one run's state; the fold is the seam to cut
 * along.
 */
#include "cpython.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "program.h"
#include "summary.h"
#include "trace_collector.h"
#include "trace_json.h"
#include "util.h"
#include "workload.h"

#define RUNNER_REL "../src/cpython/overlap_cpython.py"
/* How long the child gets beyond the run's own time limit. */
#define CHILD_GRACE_NS (30 * NS_PER_S)
/* After SIGTERM, how long before SIGKILL. */
#define CANCEL_GRACE_NS (3 * NS_PER_S)
#define POLL_MS 100
#define STDERR_TAIL 400
/* Lines longer than this are not event lines. */
#define LINE_MAX_BYTES (1 << 20)

/* ---- finding and asking interpreters ----------------------------------- */

int cpython_runner_path(char *buf, size_t size)
{
	const char *env = getenv("OVERLAP_CPYTHON_RUNNER");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && env[0]) {
		util_strlcpy(buf, env, size);
		return access(buf, R_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	/* build/overlap; the tests, in build/tests/ and in the sanitizer
	 * builds' tests/. */
	static const char *const ups[] = {"", "../", "../../"};

	for (size_t i = 0; i < sizeof(ups) / sizeof(*ups); i++) {
		if (snprintf(buf, size, "%s/%s%s", exe, ups[i], RUNNER_REL) >=
		    (int)size)
			return -ENAMETOOLONG;
		if (access(buf, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/* The file python names: as given when it has a '/', else found on PATH.
 * 0 or -ENOENT. */
static int find_file(const char *python, char *buf, size_t size)
{
	const char *name = python && python[0] ? python : "python3";
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	if (strchr(name, '/')) {
		util_strlcpy(buf, name, size);
		return access(buf, X_OK) == 0 ? 0 : -ENOENT;
	}
	if (!path || !path[0])
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		if (len > 0 && len < sizeof(dir)) {
			memcpy(dir, path, len);
			dir[len] = '\0';
			if (snprintf(buf, size, "%s/%s", dir, name) <
				    (int)size &&
			    access(buf, X_OK) == 0)
				return 0;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return -ENOENT;
}

/* True when the file is a script ("#!"), such as a pyenv shim: a launcher
 * that starts some interpreter after work of its own. */
static bool is_script(const char *file)
{
	char magic[2] = {0, 0};
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, magic, 2) != 2)
		magic[0] = 0;
	close(fd);
	return magic[0] == '#' && magic[1] == '!';
}

/* Starts argv[0] with stdin from in_fd (-1: /dev/null) and stdout, stderr
 * into out_fd, err_fd; SIGINT ignored, killed with its parent.  Returns
 * the pid or a negative errno. */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, int err_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);

		if (in_fd < 0)
			in_fd = null_fd;
		if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
		    dup2(err_fd, 2) < 0)
			_exit(126);
		/* An ignored SIGINT stays ignored across exec, and Python
		 * then installs no KeyboardInterrupt handler: Ctrl-C is the
		 * parent's to pass on. */
		signal(SIGINT, SIG_IGN);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Reads fd to its end into buf (NUL-terminated, cut to size). */
static void read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, size - 1 - len)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			len += (size_t)n;
	buf[len] = '\0';
}

int cpython_probe(const char *python, struct cpython_info *info)
{
	static const char probe[] =
		"import sys, sysconfig\n"
		"ft = bool(sysconfig.get_config_var('Py_GIL_DISABLED'))\n"
		"print('%d.%d.%d' % sys.version_info[:3],"
		" 'free-threaded' if ft else 'gil', sys.executable)\n";
	char path[PATH_MAX], out[PATH_MAX + 64], exe[PATH_MAX];
	char *argv[] = {path, "-I", "-c", (char *)probe, NULL};
	int fds[2], status;
	pid_t pid;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = find_file(python, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = spawn(argv, -1, fds[1], fds[1]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return (int)pid;
	}
	read_all(fds[0], out, sizeof(out));
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(out, "%31s %15s %4095[^\n]", info->version, info->build,
		   exe) != 3)
		return -ENOEXEC;
	/* A launcher (a pyenv shim) is known by the interpreter it runs. */
	util_strlcpy(info->path, is_script(path) ? exe : path,
		     sizeof(info->path));
	return 0;
}

/* The interpreter to run for python: its file, or, for a launcher script,
 * the interpreter the launcher starts (asked once, so a run does not pay
 * for the launcher). */
static int resolve(const char *python, char *buf, size_t size)
{
	/* The last launcher asked and its answer: a compare runs the same
	 * interpreter several times. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char asked[PATH_MAX], answer[PATH_MAX];
	struct cpython_info info;
	int rc = find_file(python, buf, size);

	if (rc < 0 || !is_script(buf))
		return rc;
	pthread_mutex_lock(&lock);
	if (asked[0] && strcmp(asked, buf) == 0) {
		util_strlcpy(buf, answer, size);
		pthread_mutex_unlock(&lock);
		return 0;
	}
	pthread_mutex_unlock(&lock);
	rc = cpython_probe(buf, &info);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&lock);
	util_strlcpy(asked, buf, sizeof(asked));
	util_strlcpy(answer, info.path, sizeof(answer));
	pthread_mutex_unlock(&lock);
	util_strlcpy(buf, info.path, size);
	return 0;
}

/* python3, python3.N and python3.Nt: an interpreter's name, not
 * python3-config or python3.11m-something. */
static bool interpreter_name(const char *name)
{
	const char *p = name + 7;

	if (strncmp(name, "python3", 7) != 0)
		return false;
	if (*p == '\0')
		return true;
	if (*p++ != '.' || *p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == 't')
		p++;
	return *p == '\0';
}

/* Adds the interpreter file (when it is one, new, and 3.9 or later) to
 * out. */
static void discover_add(const char *file, struct cpython_info *out, size_t *n,
			 size_t max)
{
	struct cpython_info info;
	char real[PATH_MAX], other[PATH_MAX];
	int major = 0, minor = 0;

	if (*n >= max || is_script(file) || !realpath(file, real))
		return;
	for (size_t i = 0; i < *n; i++)
		if (realpath(out[i].path, other) && strcmp(other, real) == 0)
			return;
	if (cpython_probe(file, &info) < 0 ||
	    sscanf(info.version, "%d.%d", &major, &minor) != 2 || major != 3 ||
	    minor < 9)
		return;
	out[(*n)++] = info;
}

/* Every interpreter file in dir. */
static void discover_dir(const char *dir, struct cpython_info *out, size_t *n,
			 size_t max)
{
	char file[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)) && *n < max)
		if (interpreter_name(e->d_name) &&
		    snprintf(file, sizeof(file), "%s/%s", dir, e->d_name) <
			    (int)sizeof(file))
			discover_add(file, out, n, max);
	closedir(d);
}

size_t cpython_discover(struct cpython_info *out, size_t max)
{
	const char *path = getenv("PATH");
	const char *root = getenv("PYENV_ROOT");
	const char *home = getenv("HOME");
	char dir[PATH_MAX], versions[PATH_MAX];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	if (max == 0)
		return 0;
	/* python3 first: the default, whatever launches it. */
	if (cpython_probe("", &out[0]) == 0)
		n = 1;
	if (!path || !path[0])
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path && n < max) {
		size_t len = strcspn(path, ":");

		if (len > 0 && len < sizeof(dir)) {
			memcpy(dir, path, len);
			dir[len] = '\0';
			discover_dir(dir, out, &n, max);
		}
		path += len;
		if (*path == ':')
			path++;
	}
	/* pyenv keeps every version it installed beside its shims. */
	if (root && root[0])
		snprintf(versions, sizeof(versions), "%s/versions", root);
	else if (home && home[0])
		snprintf(versions, sizeof(versions), "%s/.pyenv/versions",
			 home);
	else
		return n;
	d = opendir(versions);
	if (!d)
		return n;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.' ||
		    snprintf(dir, sizeof(dir), "%s/%s/bin", versions,
			     e->d_name) >= (int)sizeof(dir))
			continue;
		discover_dir(dir, out, &n, max);
	}
	closedir(d);
	return n;
}

/* ---- the input ---------------------------------------------------------- */

/* The model's options as the runner wants them: numbers as numbers,
 * durations in nanoseconds, the rest as text. */
static json_t *options_json(const struct param_set *set)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < set->count; i++) {
		const struct param_value *v = &set->values[i];
		json_t *val;

		switch (v->def->type) {
		case PARAM_INT:
		case PARAM_DURATION:
			val = json_integer(v->i);
			break;
		case PARAM_FLOAT:
			val = json_real(v->f);
			break;
		default:
			val = json_string(v->text);
			break;
		}
		json_object_set_new(obj, v->def->name, val);
	}
	return obj;
}

static json_t *program_json(const struct program *p)
{
	json_t *steps = json_array(), *tasks = json_array();
	json_t *objects = json_array(), *requests = json_array();
	char name[TRACE_TASK_NAME_MAX];

	for (size_t i = 0; i < p->n_steps; i++) {
		const struct step *s = &p->steps[i];

		json_array_append_new(
			steps,
			json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "kind",
				  step_kind_name((enum step_kind)s->kind),
				  "flags", (int)s->flags, "object",
				  (json_int_t)s->object, "ns",
				  (json_int_t)s->ns, "n", (json_int_t)s->n,
				  "aux", (json_int_t)s->aux));
	}
	for (size_t i = 0; i < p->n_tasks; i++)
		json_array_append_new(
			tasks,
			json_pack("{s:s, s:I, s:I, s:b, s:I}", "name",
				  program_task_name(p, (uint32_t)i, name,
						    sizeof(name)),
				  "first", (json_int_t)p->tasks[i].first_step,
				  "n", (json_int_t)p->tasks[i].n_steps,
				  "daemon",
				  (p->tasks[i].flags & TASK_F_DAEMON) != 0,
				  "timeout_ns",
				  (json_int_t)p->tasks[i].timeout_ns));
	for (size_t i = 0; i < p->n_objects; i++)
		json_array_append_new(
			objects,
			json_pack("{s:s, s:I, s:I, s:s}", "kind",
				  object_kind_name(
					  (enum object_kind)p->objects[i].kind),
				  "count", (json_int_t)p->objects[i].count,
				  "size", (json_int_t)p->objects[i].size,
				  "name", p->objects[i].name));
	for (size_t i = 0; i < p->n_requests; i++) {
		const struct request_def *r = &p->requests[i];
		json_t *lat = json_array();

		for (int k = 0; k < REQUEST_MAX_ATTEMPTS; k++)
			json_array_append_new(lat,
					      json_integer(r->latency_ns[k]));
		json_array_append_new(
			requests,
			json_pack("{s:I, s:i, s:i, s:I, s:o}", "timeout_ns",
				  (json_int_t)r->timeout_ns, "retries",
				  (int)r->retries, "fail_mask",
				  (int)r->fail_mask, "backoff_ns",
				  (json_int_t)r->backoff_ns, "latency_ns",
				  lat));
	}
	return json_pack("{s:o, s:o, s:o, s:o}", "steps", steps, "tasks", tasks,
			 "objects", objects, "requests", requests);
}

/* ---- folding the lines -------------------------------------------------- */

struct fold {
	struct trace *t;
	const struct run_hooks *hooks;
	struct spec_error *err;
	bool started;	  /* on_start called */
	bool has_summary; /* the runner's last line came */
	bool refused;	  /* an "error" line: the spec cannot run */
	json_t *checks;	  /* from the summary line */
	int64_t max_loop_lag_ns;
};

static void sink(struct fold *f, uint8_t type, const struct rec_event *base)
{
	struct rec_event ev = base ? *base : (struct rec_event){0};

	ev.type = type;
	if (f->started && f->hooks && f->hooks->sink)
		f->hooks->sink(f->hooks->sink_ctx, f->t, &ev);
}

static int64_t int_of(const json_t *obj, const char *key, int64_t def)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static const char *str_of(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static int parse_name(const char *name, const char *(*name_of)(int), int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(name, name_of(i)) == 0)
			return i;
	return -1;
}

static const char *lane_kind_at(int i)
{
	return lane_kind_name((enum lane_kind)i);
}

static const char *task_status_at(int i)
{
	return task_status_name((enum task_status)i);
}

static void fold_run(struct fold *f, const json_t *run)
{
	const json_t *host = json_object_get(run, "host");
	const json_t *iters = json_object_get(host, "cpu_iters_per_ms");

	trace_engine_from_json(json_object_get(run, "engine"), &f->t->engine);
	if (json_is_string(json_object_get(host, "engine")))
		util_strlcpy(f->t->host.engine, str_of(host, "engine"),
			     sizeof(f->t->host.engine));
	if (json_is_number(iters))
		f->t->host.cpu_iters_per_ms = json_number_value(iters);
}

static void fold_lane(struct fold *f, const json_t *lane)
{
	struct trace *t = f->t;
	int64_t id = int_of(lane, "id", -1);
	int kind =
		parse_name(str_of(lane, "kind"), lane_kind_at, LANE_LOOP + 1);
	struct trace_lane *l;
	bool added = false;

	if (id < 0 || id > (int64_t)t->n_lanes || kind < 0)
		return;
	if (id == (int64_t)t->n_lanes) {
		l = trace_add_lane(t);
		l->id = (uint32_t)id;
		added = true;
	} else {
		l = &t->lanes[id];
	}
	l->kind = (uint8_t)kind;
	util_strlcpy(l->name, str_of(lane, "name"), sizeof(l->name));
	l->os_id = int_of(lane, "os_id", 0);
	if (!f->started && t->n_lanes > 0) {
		/* Lane 0 and the tasks are there: what run.c has when it
		 * calls on_start. */
		f->started = true;
		if (f->hooks && f->hooks->on_start)
			f->hooks->on_start(f->hooks->sink_ctx, t);
		return;
	}
	sink(f, added ? EV_LANE_ADD : EV_LANE_OS_ID,
	     &(struct rec_event){.lane = (uint32_t)id});
}

static void fold_task(struct fold *f, const json_t *task)
{
	struct trace *t = f->t;
	int64_t id = int_of(task, "id", -1), lane;
	const json_t *status = json_object_get(task, "status");
	struct trace_task *k;

	if (id < 0 || id >= (int64_t)t->n_tasks)
		return;
	k = &t->tasks[id];
	k->submit_ns = int_of(task, "submit_ns", -1);
	k->start_ns = int_of(task, "start_ns", -1);
	k->end_ns = int_of(task, "end_ns", -1);
	lane = int_of(task, "lane", -1);
	k->lane = lane >= 0 && lane < (int64_t)t->n_lanes ? (uint32_t)lane
							  : UINT32_MAX;
	if (json_is_string(status)) {
		int s = parse_name(json_string_value(status), task_status_at,
				   TASK_CANCELLED + 1);

		k->status = s > 0 ? (uint8_t)s : TASK_ERROR;
	}
	k->note = trace_note(t, str_of(task, "note"));
	sink(f, EV_TASK_END, &(struct rec_event){.task = (uint32_t)id});
}

/* Task, lane and state of a segment or open line; false if any is not
 * in the trace. */
static bool where(const struct fold *f, const json_t *obj, uint32_t *task,
		  uint32_t *lane, uint8_t *state)
{
	int64_t k = int_of(obj, "task", -1), l = int_of(obj, "lane", -1);
	int s = seg_state_parse(str_of(obj, "state"));

	if (k < 0 || k >= (int64_t)f->t->n_tasks || l < 0 ||
	    l >= (int64_t)f->t->n_lanes || s < 0)
		return false;
	*task = (uint32_t)k;
	*lane = (uint32_t)l;
	*state = (uint8_t)s;
	return true;
}

static void fold_segment(struct fold *f, const json_t *seg)
{
	struct trace_segment *s;
	uint32_t task, lane;
	uint8_t state;
	int64_t t0 = int_of(seg, "t0_ns", -1), t1 = int_of(seg, "t1_ns", -1);

	if (!where(f, seg, &task, &lane, &state) || t0 < 0 || t1 < t0)
		return;
	s = trace_add_segment(f->t);
	s->task = task;
	s->lane = lane;
	s->state = state;
	s->t0_ns = t0;
	s->t1_ns = t1;
	s->note = trace_note(f->t, str_of(seg, "note"));
	s->estimated = json_is_true(json_object_get(seg, "estimated"));
	sink(f, EV_SEGMENT,
	     &(struct rec_event){.task = task,
				 .lane = lane,
				 .state = state,
				 .t0_ns = t0,
				 .t1_ns = t1,
				 .note = s->note});
}

static void fold_open(struct fold *f, const json_t *line)
{
	uint32_t task, lane;
	uint8_t state;
	int64_t t0 = int_of(line, "t0_ns", -1);

	if (!where(f, line, &task, &lane, &state) || t0 < 0)
		return;
	sink(f, EV_OPEN,
	     &(struct rec_event){.task = task,
				 .lane = lane,
				 .state = state,
				 .t0_ns = t0,
				 .note = trace_note(f->t,
						    str_of(line, "note"))});
}

static void fold_counter(struct fold *f, const json_t *line)
{
	struct trace_sample *s;
	int64_t t_ns = int_of(line, "t_ns", -1);
	int counter = trace_counter_parse(str_of(line, "name"));

	if (t_ns < 0 || counter < 0)
		return;
	s = trace_add_sample(f->t);
	s->t_ns = t_ns;
	s->value = int_of(line, "value", 0);
	s->counter = (uint8_t)counter;
	sink(f, EV_COUNTER,
	     &(struct rec_event){.t0_ns = t_ns,
				 .t1_ns = s->value,
				 .extra = (uint16_t)counter});
}

static void fold_summary(struct fold *f, const json_t *line)
{
	const json_t *summary = json_object_get(line, "summary");
	const json_t *checks = json_object_get(summary, "checks");
	int status = run_status_parse(str_of(line, "status"));

	f->has_summary = true;
	f->t->status = status >= 0 ? (uint8_t)status : RUN_ERROR;
	util_strlcpy(f->t->message, str_of(line, "message"),
		     sizeof(f->t->message));
	f->t->cpu_ns = int_of(line, "cpu_ns", 0);
	f->max_loop_lag_ns = int_of(summary, "max_loop_lag_ns", -1);
	json_decref(f->checks);
	f->checks = json_is_object(checks) ? json_deep_copy(checks)
					   : json_object();
}

static void fold_line(struct fold *f, const char *text, size_t len)
{
	json_t *line;
	int type = protocol_line_read(text, len, &line);
	json_t *body = protocol_line_body(line, type);

	switch (type) {
	case LINE_RUN:
		fold_run(f, body);
		break;
	case LINE_LANE:
		fold_lane(f, body);
		break;
	case LINE_TASK:
		fold_task(f, body);
		break;
	case LINE_SEGMENT:
		fold_segment(f, body);
		break;
	case LINE_OPEN:
		fold_open(f, body);
		break;
	case LINE_COUNTER:
		fold_counter(f, body);
		break;
	case LINE_SUMMARY:
		fold_summary(f, body);
		break;
	case LINE_ERROR:
		if (!f->err)
			break;
		f->refused = true;
		util_strlcpy(f->err->field, str_of(line, "field"),
			     sizeof(f->err->field));
		util_strlcpy(f->err->message, str_of(line, "message"),
			     sizeof(f->err->message));
		f->err->column = 0;
		break;
	default: /* the server's own lines, or none */
		break;
	}
	json_decref(line);
}

/* ---- the run ------------------------------------------------------------ */

struct child {
	pid_t pid;
	int out_fd, err_fd;
	char *buf; /* stdout bytes not yet a whole line */
	size_t len, cap;
	char err_tail[STDERR_TAIL + 1];
	int status;
};

static void set_err(struct spec_error *err, const char *field, const char *fmt,
		    const char *arg, int rc)
{
	char shown[120];

	if (!err)
		return;
	util_strlcpy(shown, arg, sizeof(shown));
	util_strlcpy(err->field, field, sizeof(err->field));
	snprintf(err->message, sizeof(err->message), fmt, shown,
		 strerror(rc < 0 ? -rc : rc));
	err->column = 0;
}

/* Reads what stdout has; folds whole lines.  false at its end. */
static bool read_out(struct child *c, struct fold *f)
{
	ssize_t n;
	size_t start = 0;

	if (c->cap - c->len < 65536) {
		c->cap = c->cap ? c->cap * 2 : 131072;
		c->buf = realloc(c->buf, c->cap);
		if (!c->buf)
			abort();
	}
	n = read(c->out_fd, c->buf + c->len, c->cap - c->len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	c->len += (size_t)n;
	for (size_t i = c->len - (size_t)n; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		fold_line(f, c->buf + start, i - start);
		start = i + 1;
	}
	if (start > 0) {
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
	}
	if (c->len > LINE_MAX_BYTES)
		c->len = 0; /* not an event line: drop it */
	return true;
}

static bool read_err(struct child *c)
{
	char chunk[1024];
	ssize_t n = read(c->err_fd, chunk, sizeof(chunk));
	size_t keep, have = strlen(c->err_tail);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	/* Keep the last STDERR_TAIL bytes: a traceback's last line. */
	if ((size_t)n >= STDERR_TAIL) {
		memcpy(c->err_tail, chunk + n - STDERR_TAIL, STDERR_TAIL);
		c->err_tail[STDERR_TAIL] = '\0';
		return true;
	}
	keep = have + (size_t)n > STDERR_TAIL ? STDERR_TAIL - (size_t)n : have;
	memmove(c->err_tail, c->err_tail + have - keep, keep);
	memcpy(c->err_tail + keep, chunk, (size_t)n);
	c->err_tail[keep + (size_t)n] = '\0';
	return true;
}

/* Writes all of text to fd (the child's stdin) and closes it. */
static int write_input(int fd, const char *text, size_t len)
{
	int rc = 0;

	while (len > 0) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		text += n;
		len -= (size_t)n;
	}
	close(fd);
	return rc;
}

/* Polls the child's output until both pipes end, passing on a cancel and
 * killing it past its deadline; then reaps it. */
static void follow(struct child *c, struct fold *f, int64_t limit_ns)
{
	int64_t deadline = util_mono_ns() + limit_ns + CHILD_GRACE_NS;
	int64_t kill_at = 0;
	bool out_open = true, err_open = true, term_sent = false;

	while (out_open || err_open) {
		struct pollfd p[2] = {{c->out_fd, POLLIN, 0},
				      {c->err_fd, POLLIN, 0}};
		int64_t now;

		if (!out_open)
			p[0].fd = -1;
		if (!err_open)
			p[1].fd = -1;
		if (poll(p, 2, POLL_MS) < 0 && errno != EINTR)
			break;
		if (out_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			out_open = read_out(c, f);
		if (err_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			err_open = read_err(c);
		now = util_mono_ns();
		if (!term_sent && run_cancel_requested()) {
			kill(c->pid, SIGTERM);
			term_sent = true;
			kill_at = now + CANCEL_GRACE_NS;
		}
		if (now >= deadline || (kill_at && now >= kill_at)) {
			kill(c->pid, SIGKILL);
			deadline = INT64_MAX;
			kill_at = 0;
		}
	}
	while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
		;
}

/* The runner ended without its summary line: say why, as a runner that
 * dies under the server is reported. */
static void explain_exit(const struct child *c, struct trace *t)
{
	const char *tail = c->err_tail;
	const char *last = tail;

	/* The last non-empty line of stderr (a traceback's verdict). */
	for (const char *p = tail; *p; p++)
		if (*p == '\n' && p[1] && p[1] != '\n')
			last = p + 1;
	t->status = RUN_ERROR;
	if (WIFSIGNALED(c->status))
		snprintf(t->message, sizeof(t->message),
			 "cpython: the interpreter was killed by signal %d "
			 "(%s)",
			 WTERMSIG(c->status), strsignal(WTERMSIG(c->status)));
	else
		snprintf(t->message, sizeof(t->message),
			 "cpython: the interpreter exited with status %d: "
			 "%.180s",
			 WEXITSTATUS(c->status), last[0] ? last : "no output");
	t->message[strcspn(t->message, "\n")] = '\0';
}

static int make_tmpdir(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	if (!base || !base[0])
		base = "/tmp";
	if (snprintf(buf, size, "%s/overlap-py-XXXXXX", base) >= (int)size)
		return -ENAMETOOLONG;
	return mkdtemp(buf) ? 0 : -errno;
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

static void fill_host(struct trace_host *h)
{
	struct utsname un;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	h->cores = cores > 0 ? (int)cores : 1;
	if (uname(&un) == 0)
		util_strlcpy(h->kernel, un.release, sizeof(h->kernel));
	util_strlcpy(h->engine, "cpython", sizeof(h->engine));
}

static int cpython_refuse(struct spec_error *err, const char *field,
			  const char *message)
{
	util_strlcpy(err->field, field, sizeof(err->field));
	util_strlcpy(err->message, message, sizeof(err->message));
	err->column = 0;
	return -EINVAL;
}

/* gil=off is an option of the threaded models only, so its presence
 * says the model runs threads; only a loop's barrier is asyncio's. */
int cpython_check(const struct spec *spec, const struct cpython_info *py,
		  struct spec_error *err)
{
	const struct param_value *gil = spec_find(&spec->options, "gil");
	const struct param_value *program = spec_find(&spec->params, "program");
	bool loop = strncmp(spec->model, "asyncio", 7) == 0;
	int major = 0, minor = 0;
	char msg[256];

	sscanf(py->version, "%d.%d", &major, &minor);
	if (gil && strcmp(gil->text, "off") == 0 &&
	    strcmp(py->build, "gil") == 0) {
		snprintf(msg, sizeof(msg),
			 "gil: off needs a free-threaded Python (such as "
			 "python3.13t); %.120s %s is a GIL build",
			 py->path, py->version);
		return cpython_refuse(err, "options.gil", msg);
	}
	if (loop && program && strstr(program->text, "barrier") && major == 3 &&
	    minor < 11) {
		snprintf(msg, sizeof(msg),
			 "barrier: asyncio.Barrier needs Python 3.11 or "
			 "later; this is %s",
			 py->version);
		return cpython_refuse(err, "params.program", msg);
	}
	return 0;
}

int cpython_execute(const struct spec *spec, const struct run_hooks *hooks,
		    struct trace *out, struct spec_error *err)
{
	const struct workload *w = workload_find(spec->workload);
	struct fold f = {
		.t = out, .hooks = hooks, .err = err, .max_loop_lag_ns = -1};
	struct child c = {.pid = -1, .out_fd = -1, .err_fd = -1};
	char python[PATH_MAX], runner[PATH_MAX], tmpdir[256] = "";
	char *argv[] = {python, "-I", runner, NULL};
	int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
	struct program prog;
	struct peer *peer = NULL;
	json_t *input = NULL;
	char *text = NULL;
	int rc;

	program_init(&prog);
	if (!w) {
		rc = -EINVAL;
		set_err(err, "workload", "workload: unknown%s (%s)", "", rc);
		goto out_program;
	}
	rc = w->build(spec, &prog, err);
	if (rc < 0)
		goto out_program;
	rc = resolve(spec->python, python, sizeof(python));
	if (rc < 0) {
		set_err(err, "python", "python: no interpreter '%s' (%s)",
			spec->python[0] ? spec->python : "python3", rc);
		goto out_program;
	}
	rc = cpython_runner_path(runner, sizeof(runner));
	if (rc < 0) {
		set_err(err, "engine",
			"engine: cannot find the CPython runner%s (%s); set "
			"OVERLAP_CPYTHON_RUNNER",
			"", rc);
		goto out_program;
	}
	run_begin_trace(spec, out);
	fill_host(&out->host);
	for (size_t i = 0; i < prog.n_tasks; i++) {
		struct trace_task *k = trace_add_task(out);

		trace_task_set_label(out, k, prog.tasks[i].label,
				     prog.tasks[i].number);
		k->lane = UINT32_MAX;
		k->submit_ns = k->start_ns = k->end_ns = -1;
		k->status = TASK_PENDING;
	}
	rc = make_tmpdir(tmpdir, sizeof(tmpdir));
	if (rc < 0) {
		tmpdir[0] = '\0';
		set_err(err, "run",
			"run: cannot make a temporary directory%s "
			"(%s)",
			"", rc);
		goto out_program;
	}
	peer = peer_start();
	if (!peer) {
		rc = -errno;
		set_err(err, "run", "run: cannot start the latency peer%s (%s)",
			"", rc);
		goto out_tmpdir;
	}
	input = json_pack("{s:o, s:o, s:o, s:i, s:s}", "run",
			  trace_run_json(out), "options",
			  options_json(&spec->options), "program",
			  program_json(&prog), "peer_port",
			  (int)peer_port(peer), "tmpdir", tmpdir);
	text = input ? json_dumps(input, JSON_COMPACT) : NULL;
	if (!text) {
		rc = -ENOMEM;
		set_err(err, "run", "run: out of memory%s (%s)", "", rc);
		goto out_peer;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0) {
		rc = -errno;
		set_err(err, "run", "run: cannot make pipes%s (%s)", "", rc);
		goto out_pipes;
	}
	c.pid = spawn(argv, in[0], outp[1], errp[1]);
	close(in[0]);
	close(outp[1]);
	close(errp[1]);
	in[0] = outp[1] = errp[1] = -1;
	if (c.pid < 0) {
		rc = (int)c.pid;
		set_err(err, "python", "python: cannot start '%s' (%s)", python,
			rc);
		goto out_pipes;
	}
	c.out_fd = outp[0];
	c.err_fd = errp[0];
	/* The runner reads all of its input before it writes a line, so
	 * writing it whole first cannot deadlock; a runner that dies early
	 * gives EPIPE, which the exit status then explains. */
	{
		struct sigaction ign = {.sa_handler = SIG_IGN}, old;

		sigaction(SIGPIPE, &ign, &old);
		write_input(in[1], text, strlen(text));
		sigaction(SIGPIPE, &old, NULL);
		in[1] = -1;
	}
	follow(&c, &f, spec_ns(&spec->options, "time_limit"));

	if (f.refused) {
		rc = -EINVAL;
		goto out_pipes;
	}
	if (!f.has_summary)
		explain_exit(&c, out);
	/* Tasks the runner never ended (it died): they end with the run. */
	for (size_t i = 0; i < out->n_tasks; i++) {
		struct trace_task *k = &out->tasks[i];

		if (k->status == TASK_PENDING) {
			k->status = f.has_summary ? TASK_CANCELLED : TASK_ERROR;
			if (k->start_ns >= 0 && k->end_ns < 0)
				k->end_ns = k->start_ns;
		}
	}
	trace_sort_segments(out);
	json_decref(out->summary.checks);
	out->summary.checks = f.checks ? f.checks : json_object();
	f.checks = NULL;
	out->summary.max_loop_lag_ns = f.max_loop_lag_ns;
	summary_compute(out);
	rc = 0;

out_pipes:
	for (int k = 0; k < 2; k++) {
		if (in[k] >= 0)
			close(in[k]);
		if (outp[k] >= 0)
			close(outp[k]);
		if (errp[k] >= 0)
			close(errp[k]);
	}
	free(c.buf);
	free(text);
	json_decref(input);
	json_decref(f.checks);
out_peer:
	peer_stop(peer);
out_tmpdir:
	if (tmpdir[0])
		nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
out_program:
	program_free(&prog);
	return rc;
}
