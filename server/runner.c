/*
 * runner: one thread, one child process per run (see runner.h).
 *
 * fork + exec rather than posix_spawn, because the limits must be in place
 * before the engine's first instruction: between fork and exec the child
 * calls only async-signal-safe system calls (the server is multi-threaded).
 * The parent watches three pipes with poll(): the spec going in (non-
 * blocking, so a child that never reads cannot wedge the server), the
 * events coming out, and stderr; the poll timeout is the wall-clock
 * deadline.  Everything a run's end needs (exit status, signal, timeout,
 * the last stderr line) is handed to runs_finish(), which decides the
 * run's status.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "util.h"

#define READ_CHUNK_BYTES (256 * 1024)
#define RUNNER_PIPE_BYTES (1024 * 1024)
#define LINE_MAX_BYTES (64 * 1024 * 1024)
#define KILL_GRACE_NS (5 * NS_PER_S)
#define POLL_MAX_NS (100 * NS_PER_MS)
#define TMP_PREFIX "overlap-run-"
#define ENV_MAX 256

extern char **environ;

struct runner {
	struct runs *runs;
	struct runner_config cfg;
	pthread_t thread;
};

/* Everything the child needs, prepared before fork. */
struct spawn_plan {
	const char *exe;
	char *argv[10];
	char *envp[ENV_MAX + 2]; /* the server's, TMPDIR replaced */
	char tmpdir_env[PATH_MAX + 8];
	int in_fd, out_fd, err_fd;
	pid_t parent;
	struct rlimit nproc, as, cpu, fsize, core;
	bool limit_as;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Threads of this user now: RLIMIT_NPROC counts threads, per real user, so
 * a runner's limit is that plus what the runner may add. */
static uint64_t user_threads(void)
{
	uid_t uid = getuid();
	uint64_t total = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[64], line[128];
		unsigned long owner = (unsigned long)-1, threads = 0;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/status", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "Uid:", 4) == 0)
				owner = strtoul(line + 4, NULL, 10);
			else if (strncmp(line, "Threads:", 8) == 0)
				threads = strtoul(line + 8, NULL, 10);
		}
		fclose(f);
		if (owner == uid)
			total += threads;
	}
	closedir(d);
	return total;
}

static void plan_limits(const struct runner *rn, const struct run *run,
			struct spawn_plan *p)
{
	int64_t wall_s = run_wall_limit_ns(run) / NS_PER_S + 1;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	rlim_t cpu_s, nproc;
	struct rlimit cur;

	/* CPU time: every core busy for the whole wall limit, and a little;
	 * SIGXCPU at the soft limit, SIGKILL at the hard one. */
	cpu_s = (rlim_t)(wall_s * (cores > 0 ? cores : 1) + 10);
	p->cpu.rlim_cur = cpu_s;
	p->cpu.rlim_max = cpu_s + 5;

	nproc = (rlim_t)(user_threads() + rn->cfg.nproc_extra);
	getrlimit(RLIMIT_NPROC, &cur);
	if (cur.rlim_max != RLIM_INFINITY && nproc > cur.rlim_max)
		nproc = cur.rlim_max;
	p->nproc.rlim_cur = p->nproc.rlim_max = nproc;

	p->limit_as = rn->cfg.as_bytes > 0;
	p->as.rlim_cur = p->as.rlim_max = (rlim_t)rn->cfg.as_bytes;
	p->fsize.rlim_cur = p->fsize.rlim_max = (rlim_t)4 << 30;
	p->core.rlim_cur = p->core.rlim_max = 0;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
__attribute__((noreturn)) static void child_exec(const struct spawn_plan *p)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != p->parent)
		_exit(127); /* the server died before we got here */
	if (dup2(p->in_fd, 0) < 0 || dup2(p->out_fd, 1) < 0 ||
	    dup2(p->err_fd, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	setrlimit(RLIMIT_CPU, &p->cpu);
	setrlimit(RLIMIT_NPROC, &p->nproc);
	setrlimit(RLIMIT_FSIZE, &p->fsize);
	setrlimit(RLIMIT_CORE, &p->core);
	if (p->limit_as)
		setrlimit(RLIMIT_AS, &p->as);
	execve(p->exe, p->argv, p->envp);
	_exit(127);
}

struct pump {
	char *acc; /* stdout bytes not yet a whole line */
	size_t acc_len, acc_cap;
	char err_line[256]; /* the stderr line being read */
	size_t err_len;
	char last_err[256]; /* the last whole, non-empty stderr line */
};

static void pump_stderr(struct pump *pm, const struct run *run, const char *buf,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (pm->err_len < sizeof(pm->err_line) - 1)
				pm->err_line[pm->err_len++] = buf[i];
			continue;
		}
		pm->err_line[pm->err_len] = '\0';
		if (pm->err_len > 0) {
			fprintf(stderr, "overlap: run %s: %s\n", run_id(run),
				pm->err_line);
			util_strlcpy(pm->last_err, pm->err_line,
				     sizeof(pm->last_err));
		}
		pm->err_len = 0;
	}
}

/* Reads what stdout has; hands whole lines on.  false at EOF or error. */
static bool pump_stdout(struct pump *pm, struct runner *rn, struct run *run,
			int fd, bool *too_long)
{
	ssize_t n;
	char *nl;

	if (pm->acc_cap - pm->acc_len < READ_CHUNK_BYTES) {
		size_t cap = pm->acc_len + READ_CHUNK_BYTES * 2;
		char *p = realloc(pm->acc, cap);

		if (!p)
			return false;
		pm->acc = p;
		pm->acc_cap = cap;
	}
	n = read(fd, pm->acc + pm->acc_len, pm->acc_cap - pm->acc_len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	pm->acc_len += (size_t)n;
	nl = memrchr(pm->acc, '\n', pm->acc_len);
	if (nl) {
		size_t whole = (size_t)(nl - pm->acc) + 1;

		runs_lines(rn->runs, run, pm->acc, whole);
		memmove(pm->acc, pm->acc + whole, pm->acc_len - whole);
		pm->acc_len -= whole;
	}
	if (pm->acc_len > LINE_MAX_BYTES) {
		*too_long = true;
		return false;
	}
	return true;
}

const char *runner_tmp_base(void)
{
	const char *base = getenv("TMPDIR");

	return base && base[0] ? base : "/tmp";
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

/* Removes dir and everything in it; symlinks are removed, not followed. */
static void remove_tree(const char *dir)
{
	if (dir[0])
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The run's own temporary folder, and the environment that hands it to
 * the child as TMPDIR.  0 or -errno. */
static int plan_tmpdir(struct spawn_plan *p, const struct run *run, char *dir,
		       size_t size)
{
	size_t n = 0;

	if (snprintf(dir, size, "%s/" TMP_PREFIX "%s-XXXXXX", runner_tmp_base(),
		     run_id(run)) >= (int)size)
		return -ENAMETOOLONG;
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return -errno;
	}
	snprintf(p->tmpdir_env, sizeof(p->tmpdir_env), "TMPDIR=%s", dir);
	for (char **e = environ; *e && n < ENV_MAX; e++)
		if (strncmp(*e, "TMPDIR=", 7) != 0)
			p->envp[n++] = *e;
	p->envp[n++] = p->tmpdir_env;
	p->envp[n] = NULL;
	return 0;
}

/* After the runner itself was reaped: its group is killed and every
 * member reaped (they are this process's children now: it is their
 * subreaper), so nothing of the run writes into its folder any more. */
static void reap_group(pid_t pgid)
{
	int status;

	kill(-pgid, SIGKILL);
	while (waitpid(-pgid, &status, 0) > 0 || errno == EINTR)
		;
}

/* Removes the temporary folders of this store's runs that a crash of the
 * server left behind: "overlap-run-<id>-XXXXXX" whose <id> is a run in
 * the store (no run is going yet).  Other servers' folders are not
 * touched. */
static void clean_stale(struct store *store)
{
	const char *base = runner_tmp_base();
	struct dirent *de;
	DIR *d;

	if (!store)
		return;
	d = opendir(base);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char id[STORE_ID_SIZE], meta[64], path[PATH_MAX];
		const char *rest = de->d_name + sizeof(TMP_PREFIX) - 1;
		const char *dash;
		struct stat sb;

		/* "<id>-XXXXXX" */
		if (strncmp(de->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) ||
		    !(dash = strrchr(rest, '-')) || strlen(dash) != 7 ||
		    (size_t)(dash - rest) >= sizeof(id))
			continue;
		memcpy(id, rest, (size_t)(dash - rest));
		id[dash - rest] = '\0';
		snprintf(meta, sizeof(meta), "runs/%s.meta", id);
		if (!store_id_valid(id) || !store_exists(store, meta))
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
		if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
		    sb.st_uid != getuid())
			continue;
		fprintf(stderr,
			"overlap: removing %s, left by run %s when the server "
			"stopped\n",
			path, id);
		remove_tree(path);
	}
	closedir(d);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void execute(struct runner *rn, struct run *run)
{
	struct spawn_plan plan = {0};
	struct runs_exit ex = {0};
	struct pump pm = {0};
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	char *spec = run_spec_text(run);
	size_t spec_len = spec ? strlen(spec) : 0, spec_sent = 0;
	int64_t deadline = mono_ns() + run_wall_limit_ns(run);
	bool out_open = true, err_open = true, killed = false;
	bool too_long = false;
	char tmpdir[PATH_MAX] = "";
	pid_t pid;
	int rc;

	if (!spec || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0) {
		ex.spawn_failed = true;
		snprintf(ex.detail, sizeof(ex.detail), "%s",
			 spec ? strerror(errno) : "out of memory");
		goto out_finish;
	}
	/* Room for a burst of events (100,000 tasks starting at once), so
	 * the runner seldom waits for the server to read; the kernel's
	 * ceiling (fs.pipe-max-size) may keep it smaller. */
	(void)fcntl(out[1], F_SETPIPE_SZ, RUNNER_PIPE_BYTES);
	plan.exe = rn->cfg.exe;
	plan.argv[0] = "overlap";
	plan.argv[1] = "run";
	plan.argv[2] = "--spec";
	plan.argv[3] = "-";
	plan.argv[4] = "--format";
	plan.argv[5] = "events";
	plan.argv[6] = "--id";
	plan.argv[7] = (char *)run_id(run);
	plan.argv[8] = NULL;
	plan.in_fd = in[0];
	plan.out_fd = out[1];
	plan.err_fd = err[1];
	plan.parent = getpid();
	plan_limits(rn, run, &plan);
	rc = plan_tmpdir(&plan, run, tmpdir, sizeof(tmpdir));
	if (rc < 0) {
		ex.spawn_failed = true;
		snprintf(ex.detail, sizeof(ex.detail),
			 "cannot make a temporary folder in %s: %s",
			 runner_tmp_base(), strerror(-rc));
		goto out_finish;
	}

	pid = fork();
	if (pid < 0) {
		ex.spawn_failed = true;
		snprintf(ex.detail, sizeof(ex.detail), "fork: %s",
			 strerror(errno));
		goto out_finish;
	}
	if (pid == 0)
		child_exec(&plan);
	/* Both sides set the group, so neither order of events races. */
	setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	in[0] = out[1] = err[1] = -1;
	set_nonblock(in[1]);
	set_nonblock(out[0]);
	set_nonblock(err[0]);
	if (!runs_started(rn->runs, run, pid)) {
		kill(-pid, SIGKILL);
		killed = true;
		deadline = mono_ns() + KILL_GRACE_NS;
	}

	while (out_open || err_open) {
		struct pollfd pfd[3];
		int64_t left_ns = deadline - mono_ns();
		int nfds = 0, ready;
		int ix_out = -1, ix_err = -1, ix_in = -1;

		if (left_ns <= 0) {
			if (killed)
				break; /* something escaped the group */
			kill(-pid, SIGKILL);
			killed = true;
			ex.timed_out = true;
			deadline = mono_ns() + KILL_GRACE_NS;
			continue;
		}
		if (!killed && runs_kill_due(rn->runs, run)) {
			/* Asked to stop and still going. */
			kill(-pid, SIGKILL);
			killed = true;
			deadline = mono_ns() + KILL_GRACE_NS;
			continue;
		}
		/* Look at the cancel's grace now and then. */
		if (left_ns > POLL_MAX_NS)
			left_ns = POLL_MAX_NS;
		if (out_open) {
			ix_out = nfds;
			pfd[nfds++] = (struct pollfd){out[0], POLLIN, 0};
		}
		if (err_open) {
			ix_err = nfds;
			pfd[nfds++] = (struct pollfd){err[0], POLLIN, 0};
		}
		if (in[1] >= 0) {
			ix_in = nfds;
			pfd[nfds++] = (struct pollfd){in[1], POLLOUT, 0};
		}
		ready = poll(pfd, (nfds_t)nfds,
			     (int)((left_ns + NS_PER_MS - 1) / NS_PER_MS));
		if (ready < 0 && errno != EINTR)
			break;
		if (ready <= 0)
			continue;
		if (ix_in >= 0 && pfd[ix_in].revents) {
			ssize_t n = 0;

			if (pfd[ix_in].revents & POLLOUT)
				n = write(in[1], spec + spec_sent,
					  spec_len - spec_sent);
			if (n > 0)
				spec_sent += (size_t)n;
			/* Done, or the child closed stdin (EPIPE): either
			 * way nothing more goes in. */
			if (spec_sent == spec_len || n < 0 ||
			    !(pfd[ix_in].revents & POLLOUT)) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (ix_out >= 0 && pfd[ix_out].revents &&
		    !pump_stdout(&pm, rn, run, out[0], &too_long)) {
			out_open = false;
			if (too_long && !killed) {
				kill(-pid, SIGKILL);
				killed = true;
				deadline = mono_ns() + KILL_GRACE_NS;
			}
		}
		if (ix_err >= 0 && pfd[ix_err].revents) {
			char buf[4096];
			ssize_t n = read(err[0], buf, sizeof(buf));

			if (n > 0)
				pump_stderr(&pm, run, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				err_open = false;
		}
	}
	/* A last line without its newline (a runner killed mid-write) is
	 * offered too; runs_lines() skips it if it is not JSON. */
	if (pm.acc_len > 0 && !too_long)
		runs_lines(rn->runs, run, pm.acc, pm.acc_len);

	runs_stopped(rn->runs, run);
	kill(-pid, SIGKILL); /* stragglers: workers that outlived it */
	while (waitpid(pid, &ex.wstatus, 0) < 0 && errno == EINTR)
		;
	reap_group(pid);
	if (too_long)
		snprintf(ex.detail, sizeof(ex.detail),
			 "an event line longer than %d bytes", LINE_MAX_BYTES);
	else
		util_strlcpy(ex.detail, pm.last_err, sizeof(ex.detail));

out_finish:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	free(pm.acc);
	free(spec);
	/* Whatever ended the run, nothing of it is left on disk once a
	 * viewer reads its end. */
	remove_tree(tmpdir);
	runs_finish(rn->runs, run, &ex);
}

static void *runner_thread(void *arg)
{
	struct runner *rn = arg;
	struct run *run;

	while ((run = runs_take(rn->runs)) != NULL) {
		execute(rn, run);
		runs_release(run);
	}
	return NULL;
}

struct runner *runner_start(struct runs *r, const struct runner_config *cfg)
{
	struct runner *rn = calloc(1, sizeof(*rn));

	if (!rn)
		return NULL;
	rn->runs = r;
	rn->cfg = *cfg;
	/* Orphans of a run (workers whose runner died) become this
	 * process's children, so the runner thread can reap them all. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	clean_stale(cfg->store);
	if (pthread_create(&rn->thread, NULL, runner_thread, rn) != 0) {
		free(rn);
		return NULL;
	}
	return rn;
}

void runner_join(struct runner *rn)
{
	if (!rn)
		return;
	pthread_join(rn->thread, NULL);
	free(rn);
}
