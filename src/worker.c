/*
 * worker: what a process-pool worker does, forked or spawned.
 *
 * A forked worker already has everything in memory (the program, the
 * mapped recorder and slots), so it goes straight to worker_serve().  A
 * spawned one starts from nothing, as a Python spawn worker does: it maps
 * the recorder and the pool's slots from the descriptors it was handed,
 * reads the spec from the pool's mapping and rebuilds the program through
 * the workload catalog.  That rebuilding is part of its start-up segment.
 *
 * The serving loop is plain blocking I/O on one socket: read a job header,
 * read its argument, run the steps with exec_step() (no GIL: processes do
 * not share one), write the result.  A job for a whole task records the
 * task's start and end on the worker's lane, so the argument and result
 * transfers (ipc segments) fall inside the task, as a Python task's
 * pickling does.
 *
 * With costs=python (worker_facts) the worker also computes what a Python
 * worker would: through its start-up until the measured interpreter
 * start has passed, and in each transfer until the pool's measured round
 * trip and cost per byte have.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "procpool.h"
#include "spec.h"
#include "sync.h"
#include "workload.h"

/* Reads exactly len bytes.  Returns 0, 1 at end of file before the first
 * byte, or -errno (-EPIPE for end of file in the middle). */
static int read_full(int fd, void *buf, size_t len)
{
	char *b = buf;
	size_t have = 0;

	while (have < len) {
		ssize_t n = read(fd, b + have, len - have);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return have == 0 ? 1 : -EPIPE;
		return -errno;
	}
	return 0;
}

/* With a core to spare, a worker that has just sent a result watches its
 * socket for a moment before it sleeps in read(): a pool that hands out
 * tasks back to back has the next one there within microseconds, sooner
 * than a sleep and a wake-up. */
#define WORKER_SPIN_NS (50 * NS_PER_US)

static void await_job(int fd)
{
	static int spin = -1;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int64_t until;

	if (spin < 0)
		spin = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	if (!spin)
		return;
	until = util_mono_ns() + WORKER_SPIN_NS;
	while (poll(&pfd, 1, 0) == 0 && util_mono_ns() < until)
		;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
		if (n > 0) {
			b += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* Keeps only stdin/out/err and the socket: whatever else the run process
 * had open (the recorder's memfd, other workers' sockets, the latency
 * peer's listener, a server's connections) is not the worker's. */
static void close_inherited(int keep)
{
	if (keep > 3)
		close_range(3, (unsigned)keep - 1, 0);
	close_range((unsigned)keep + 1, ~0U, 0);
}

static void reset_signals(void)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* Ctrl-C reaches the whole process group: the run process decides
	 * what happens to the workers' tasks, as Python's pool does. */
	sigaction(SIGINT, &ign, NULL);
	/* Writes to a vanished peer fail with EPIPE instead. */
	sigaction(SIGPIPE, &ign, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	sigaction(SIGCHLD, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* costs=python: the least a transfer of job's argument (or result) takes
 * in a Python pool; 0 otherwise. */
static int64_t transfer_floor_ns(const struct worker_facts *f,
				 const struct worker_msg *job)
{
	if (f->transfer_ns <= 0 && f->ns_per_byte <= 0)
		return 0;
	return f->transfer_ns +
	       (int64_t)(f->ns_per_byte * (double)job->payload_bytes);
}

/* Runs the steps [first, first + n) of prog->steps as task's; returns the
 * first error. */
static int run_steps(struct worker_env *env, struct exec_ctx *x, uint32_t first,
		     uint32_t n)
{
	int rc = 0;

	for (uint32_t k = 0; k < n && rc == 0; k++) {
		const struct step *s = &env->prog->steps[first + k];

		atomic_store_explicit(&env->slot->step_t0_ns, rec_now(x->lane),
				      memory_order_relaxed);
		atomic_store_explicit(&env->slot->step_kind, s->kind + 1u,
				      memory_order_relaxed);
		rc = exec_step(x, s);
		atomic_store_explicit(&env->slot->step_kind, 0,
				      memory_order_relaxed);
	}
	return rc;
}

/* Runs one job (a whole task, some steps, or a chunk of whole tasks) and
 * sends its result: one message per task, the first followed by the whole
 * result.  A chunk's tasks run one after another; each ends once the
 * chunk's result is sent, as each of a chunk's results reaches the
 * caller only with the chunk.  *io_err says why the socket failed, if
 * it did. */
static void run_job(struct worker_env *env, const struct worker_msg *job,
		    char **buf, size_t *buf_size, int *io_err)
{
	struct run_ctx *ctx = &env->slot->ctx;
	const struct worker_facts *f = &env->slot->facts;
	const struct rec_lane *lane = &env->lane;
	bool whole = job->n_steps == 0;
	uint32_t n_tasks = whole && job->n_tasks > 1 ? job->n_tasks : 1;
	uint32_t last = job->task + n_tasks - 1;
	uint32_t note = n_tasks > 1 ? REC_NOTE_CHUNK : 0;
	int32_t status[PROCPOOL_MAX_CHUNK];
	int32_t err[PROCPOOL_MAX_CHUNK];
	int64_t t0 = rec_now(lane), t1;

	if (whole) {
		sync_task_begin(ctx->sync, job->task);
		rec_task_start(lane, job->task, t0);
	}
	/* The argument: really received, into memory of its size. */
	if (job->payload_bytes > 0) {
		if ((size_t)job->payload_bytes > *buf_size) {
			free(*buf);
			*buf_size = (size_t)job->payload_bytes;
			*buf = malloc(*buf_size);
			if (!*buf) {
				*buf_size = 0;
				*io_err = -ENOMEM;
				return;
			}
		}
		*io_err =
			read_full(env->sock, *buf, (size_t)job->payload_bytes);
		if (*io_err)
			return;
	}
	if (job->payload_bytes > 0 || f->transfer_ns > 0) {
		exec_busy_until(ctx, lane, t0 + transfer_floor_ns(f, job));
		rec_segment(lane, job->task, ST_IPC, t0, rec_now(lane), note);
	}
	for (uint32_t k = 0; k < n_tasks; k++) {
		uint32_t task = job->task + k;
		const struct task_def *td = &env->prog->tasks[task];
		struct exec_ctx x = {.run = ctx,
				     .lane = lane,
				     .task = task,
				     .open_t0_ns = &env->slot->step_t0_ns};
		int rc;

		atomic_store(&env->slot->chunk_task, task);
		if (k > 0) {
			sync_task_begin(ctx->sync, task);
			rec_task_start(lane, task, rec_now(lane));
		}
		/* A whole task's steps, or the job's: an index into
		 * prog->steps (procpool.h).  A stopped run's chunk does
		 * not start its next task. */
		if (k > 0 && atomic_load(&ctx->stop))
			rc = -ECANCELED;
		else if (whole)
			rc = run_steps(env, &x, td->first_step, td->n_steps);
		else
			rc = run_steps(env, &x, job->first_step, job->n_steps);
		status[k] = (int32_t)exec_status_of(rc);
		err[k] = rc;
	}

	/* The result: the argument sent back, all of it. */
	t1 = rec_now(lane);
	/* The result is pickled before it goes: the cost first. */
	if (f->transfer_ns > 0)
		exec_busy_until(ctx, lane, t1 + transfer_floor_ns(f, job));
	for (uint32_t k = 0; k < n_tasks && !*io_err; k++) {
		struct worker_msg done = {
			.type = WORKER_MSG_DONE,
			.task = job->task + k,
			.status = status[k],
			.err = err[k],
			.pid = getpid(),
			.payload_bytes = k == 0 ? job->payload_bytes : 0};

		*io_err = write_full(env->sock, &done, sizeof(done));
		if (!*io_err && k == 0 && job->payload_bytes > 0)
			*io_err = write_full(env->sock, *buf,
					     (size_t)job->payload_bytes);
	}
	if (!*io_err && (job->payload_bytes > 0 || f->transfer_ns > 0))
		rec_segment(lane, last, ST_IPC, t1, rec_now(lane), note);
	for (uint32_t k = 0; whole && k < n_tasks; k++) {
		sync_task_end(ctx->sync, job->task + k);
		rec_task_end_note(lane, job->task + k, rec_now(lane),
				  (enum task_status)status[k],
				  err[k] == EXEC_RAISED ? REC_NOTE_RAISED : 0);
	}
	atomic_fetch_add(&ctx->progress, 1);
}

int worker_serve(struct worker_env *env)
{
	struct worker_slot *slot = env->slot;
	const struct worker_facts *f = &slot->facts;
	struct run_ctx *ctx = &slot->ctx;
	struct worker_msg msg = {.type = WORKER_MSG_READY};
	int64_t ready_ns;
	bool startup_recorded = false;
	char *buf = NULL;
	size_t buf_size = 0;
	int rc = 0;

	/* The run process going away takes its workers with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != f->parent_pid)
		return 1;
	reset_signals();
	close_inherited(env->sock);
	rec_lane_os_id(&env->lane, getpid());

	/* The worker's own run context.  stop and progress were set by the
	 * pool and are shared with it: leave them alone. */
	ctx->spec = env->spec;
	ctx->prog = env->prog;
	ctx->rec = NULL;
	/* Anything recorded "on the main lane" from here must go to this
	 * worker's own ring: a ring has one producer. */
	ctx->main_lane = &env->lane;
	ctx->cpu.iters_per_ms = f->cpu_iters_per_ms;
	ctx->peer_port = f->peer_port;
	ctx->deadline_ns = f->deadline_ns;
	util_strlcpy(ctx->tmpdir, f->tmpdir, sizeof(ctx->tmpdir));
	ctx->sync = env->sync;
	ctx->message[0] = '\0';
	ctx->checks = json_object();

	/* costs=python: an interpreter's start-up, imports and all. */
	if (f->startup_min_ns > 0)
		exec_busy_until(ctx, &env->lane,
				f->startup_t0_ns + f->startup_min_ns);
	ready_ns = rec_now(&env->lane);
	msg.pid = getpid();
	if (write_full(env->sock, &msg, sizeof(msg)) < 0) {
		rc = 1;
		goto out_free;
	}
	for (;;) {
		int io_err = 0;
		int r;

		await_job(env->sock);
		r = read_full(env->sock, &msg, sizeof(msg));

		if (r == 1)
			break; /* the pool closed: done */
		if (r < 0 || msg.type != WORKER_MSG_JOB ||
		    msg.task >= env->prog->n_tasks || msg.payload_bytes < 0 ||
		    (msg.n_tasks > 1 &&
		     (msg.n_steps != 0 || msg.n_tasks > PROCPOOL_MAX_CHUNK ||
		      msg.n_tasks > env->prog->n_tasks ||
		      msg.task > env->prog->n_tasks - msg.n_tasks))) {
			rc = 2;
			break;
		}
		/* Start-up is shown on the lane with the first task it held
		 * up (a segment belongs to a task). */
		if (!startup_recorded) {
			rec_segment(&env->lane, msg.task, ST_STARTUP,
				    f->startup_t0_ns, ready_ns, 0);
			startup_recorded = true;
		}
		run_job(env, &msg, &buf, &buf_size, &io_err);
		if (io_err) {
			/* The pool is gone or closed on us. */
			rc = io_err == -EPIPE || io_err == -ECONNRESET ? 0 : 3;
			break;
		}
	}
out_free:
	free(buf);
	json_decref(ctx->checks);
	ctx->checks = NULL;
	return rc;
}

/* ---- the spawned worker ------------------------------------------------- */

struct worker_args {
	int sock, rec_fd, shm_fd, sync_fd; /* sync_fd: -1 when none */
	long long rec_size, shm_size, slot, spec_offset, spec_bytes;
	long long sync_size;
	long long server_lane; /* -1: a worker; else the fork server's lane */
	long long startup_t0;  /* the fork server's spawn, from the epoch */
};

#define N_ARGS 12
#define N_REQUIRED                                                             \
	8 /* the rest, --sync-fd and --sync-size, and the fork
		      * server's two, optional */

static int parse_number(const char *opt, const char *text, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(text, &end, 10);
	if (errno || end == text || *end || *out < 0) {
		fprintf(stderr, "overlap worker: %s: not a number: %s\n", opt,
			text);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct worker_args *a)
{
	static const char *const names[N_ARGS] = {
		"--sock",	 "--rec-fd",	      "--rec-size",
		"--shm-fd",	 "--shm-size",	      "--slot",
		"--spec-offset", "--spec-bytes",      "--sync-fd",
		"--sync-size",	 "--forkserver-lane", "--startup-t0"};
	long long v[N_ARGS];
	bool seen[N_ARGS] = {false};
	int i = 1;

	if (i < argc && strcmp(argv[i], "worker") == 0)
		i++;
	for (; i < argc; i += 2) {
		size_t k;

		for (k = 0; k < N_ARGS; k++)
			if (strcmp(argv[i], names[k]) == 0)
				break;
		if (k == N_ARGS || i + 1 >= argc) {
			fprintf(stderr,
				"overlap worker: unknown or incomplete "
				"option: %s (this subcommand is started by a "
				"process pool)\n",
				argv[i]);
			return -EINVAL;
		}
		if (parse_number(names[k], argv[i + 1], &v[k]) < 0)
			return -EINVAL;
		seen[k] = true;
	}
	for (size_t k = 0; k < N_REQUIRED; k++) {
		if (!seen[k]) {
			fprintf(stderr, "overlap worker: missing %s\n",
				names[k]);
			return -EINVAL;
		}
	}
	a->sock = (int)v[0];
	a->rec_fd = (int)v[1];
	a->rec_size = v[2];
	a->shm_fd = (int)v[3];
	a->shm_size = v[4];
	a->slot = v[5];
	a->spec_offset = v[6];
	a->spec_bytes = v[7];
	a->sync_fd = seen[8] && seen[9] ? (int)v[8] : -1;
	a->sync_size = seen[8] && seen[9] ? v[9] : 0;
	a->server_lane = seen[10] ? v[10] : -1;
	a->startup_t0 = seen[11] ? v[11] : 0;
	if ((unsigned long long)(a->slot + 1) * sizeof(struct worker_slot) >
		    (unsigned long long)a->shm_size ||
	    a->spec_offset + a->spec_bytes > a->shm_size) {
		fprintf(stderr, "overlap worker: slot or spec outside the "
				"pool's mapping\n");
		return -EINVAL;
	}
	return 0;
}

/* Rebuilds the run's program from its spec, as a spawned Python worker
 * re-imports the module that defines its function. */
static int rebuild_program(const char *text, size_t len, struct spec *spec,
			   struct program *prog)
{
	struct spec_error err = {0};
	const struct workload *wl;
	json_error_t jerr;
	json_t *body = json_loadb(text, len, 0, &jerr);
	int rc;

	if (!body) {
		fprintf(stderr, "overlap worker: spec: %s\n", jerr.text);
		return -EINVAL;
	}
	rc = spec_from_json(body, spec, &err);
	json_decref(body);
	if (rc < 0) {
		fprintf(stderr, "overlap worker: spec: %s: %s\n", err.field,
			err.message);
		return rc;
	}
	wl = workload_find(spec->workload);
	if (!wl)
		return -ENOENT;
	rc = wl->build(spec, prog, &err);
	if (rc < 0)
		fprintf(stderr, "overlap worker: program: %s\n", err.message);
	return rc;
}

/* ---- the fork server ---------------------------------------------------- */

struct fork_server {
	int ctl; /* its end of the pool's SOCK_SEQPACKET socketpair */
	int rec_fd;
	size_t rec_size;
	struct worker_slot *slots; /* the pool's mapping */
	size_t n_slots;
	struct rec_lane lane; /* its own */
	const struct spec *spec;
	const struct program *prog;
	struct sync_rt *sync;
	int64_t startup_t0_ns;
};

/* The descriptor a worker finds its socket on (as a spawned one does). */
#define FS_CHILD_SOCK_FD 3

static int fs_send(int ctl, const struct worker_fs_msg *m)
{
	for (;;) {
		if (send(ctl, m, sizeof(*m), MSG_NOSIGNAL) ==
		    (ssize_t)sizeof(*m))
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* One request, with the descriptor it carries (-1: none).  Returns the
 * bytes read, 0 at end of file, or -errno. */
static ssize_t fs_recv(int ctl, struct worker_fs_msg *m, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

/* In the child the server forked for slot: its socket becomes fd 3, its
 * lane is mapped, and it serves as any worker does.  Never returns. */
static _Noreturn void fs_child(struct fork_server *fs, uint32_t slot, int sock,
			       int sigfd)
{
	struct worker_env env = {.slot = &fs->slots[slot],
				 .spec = fs->spec,
				 .prog = fs->prog,
				 .sync = fs->sync};

	close(sigfd);
	if (trace_rec_map(fs->rec_fd, fs->rec_size, env.slot->facts.lane,
			  &env.lane) < 0)
		_exit(127);
	if (sock != FS_CHILD_SOCK_FD) {
		if (fs->ctl == FS_CHILD_SOCK_FD)
			close(fs->ctl);
		if (dup2(sock, FS_CHILD_SOCK_FD) < 0)
			_exit(127);
	}
	env.sock = FS_CHILD_SOCK_FD;
	_exit(worker_serve(&env));
}

/* Starts slot's worker; tells the pool its pid (or -errno). */
static void fs_fork(struct fork_server *fs, uint32_t slot, int sock, int sigfd)
{
	struct worker_fs_msg m = {.type = WORKER_FS_FORKED, .slot = slot};
	pid_t pid;

	if (slot >= fs->n_slots || sock < 0) {
		m.pid = -EINVAL;
	} else {
		struct worker_facts *f = &fs->slots[slot].facts;

		/* The worker is this process's child, and its start is
		 * the fork: no exec, no rebuilding (the program is here). */
		f->parent_pid = getpid();
		f->startup_t0_ns = rec_now(&fs->lane);
		pid = fork();
		if (pid == 0)
			fs_child(fs, slot, sock, sigfd);
		m.pid = pid < 0 ? -errno : pid;
	}
	if (sock >= 0)
		close(sock);
	fs_send(fs->ctl, &m);
}

/* Reaps every child that has ended and tells the pool how. */
static void fs_reap(struct fork_server *fs)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker_fs_msg m = {
			.type = WORKER_FS_EXITED, .pid = pid, .status = status};

		fs_send(fs->ctl, &m);
	}
}

static int fork_server_serve(struct fork_server *fs)
{
	struct worker_fs_msg m = {.type = WORKER_FS_READY};
	struct sigaction ign = {.sa_handler = SIG_IGN};
	bool startup_shown = false;
	int64_t ready_ns;
	sigset_t chld;
	int sigfd, rc = 0;

	/* The run process going away takes the server, and so its
	 * workers, with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		return 1;
	rec_lane_os_id(&fs->lane, getpid());
	ready_ns = rec_now(&fs->lane);
	m.pid = getpid();
	m.t0_ns = fs->startup_t0_ns;
	m.t1_ns = ready_ns;
	if (fs_send(fs->ctl, &m) < 0) {
		rc = 1;
		goto out_close;
	}
	for (;;) {
		struct pollfd pfd[2] = {{.fd = fs->ctl, .events = POLLIN},
					{.fd = sigfd, .events = POLLIN}};
		int fd;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = 1;
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof(si)) > 0)
				;
			fs_reap(fs);
		}
		if (!pfd[0].revents)
			continue;
		n = fs_recv(fs->ctl, &m, &fd);
		if (n <= 0)
			break; /* the pool is done (or gone) */
		if (n != (ssize_t)sizeof(m)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (m.type == WORKER_FS_FORK) {
			fs_fork(fs, m.slot, fd, sigfd);
		} else {
			if (fd >= 0)
				close(fd);
			/* The server's start-up shows with the first task
			 * it held up (a segment belongs to a task). */
			if (m.type == WORKER_FS_TASK && !startup_shown &&
			    m.slot < fs->prog->n_tasks) {
				rec_segment(&fs->lane, m.slot, ST_STARTUP,
					    fs->startup_t0_ns, ready_ns, 0);
				startup_shown = true;
			}
		}
	}
out_close:
	/* Every worker leaves at its own end of file; wait for them. */
	close(fs->ctl);
	close(sigfd);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	return rc;
}

int worker_main(int argc, char **argv)
{
	struct worker_args a;
	struct worker_env env = {0};
	struct spec *spec = NULL;
	struct program prog;
	char *shm;
	int rc;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	shm = mmap(NULL, (size_t)a.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   a.shm_fd, 0);
	if (shm == MAP_FAILED) {
		perror("overlap worker: mmap");
		return 1;
	}
	env.sock = a.sock;
	env.slot = (struct worker_slot *)shm + a.slot;
	rc = trace_rec_map(a.rec_fd, (size_t)a.rec_size,
			   a.server_lane >= 0 ? (uint32_t)a.server_lane
					      : env.slot->facts.lane,
			   &env.lane);
	if (rc < 0) {
		fprintf(stderr, "overlap worker: recorder: %s\n",
			strerror(-rc));
		rc = 1;
		goto out_unmap;
	}
	program_init(&prog);
	spec = util_xcalloc(1, sizeof(*spec));
	if (rebuild_program(shm + a.spec_offset, (size_t)a.spec_bytes, spec,
			    &prog) < 0) {
		rc = 1;
		goto out_free_program;
	}
	env.spec = spec;
	env.prog = &prog;
	/* The run's shared objects: the same locks, queues and counters as
	 * every other worker, mapped from the run's memfd. */
	if (a.sync_fd >= 0) {
		env.sync = sync_map(a.sync_fd, (size_t)a.sync_size, &prog,
				    env.slot->facts.tmpdir, env.lane.epoch_ns);
		if (!env.sync) {
			perror("overlap worker: shared objects");
			rc = 1;
			goto out_free_program;
		}
	}
	if (a.server_lane >= 0) {
		struct fork_server fs = {
			.ctl = a.sock,
			.rec_fd = a.rec_fd,
			.rec_size = (size_t)a.rec_size,
			.slots = (struct worker_slot *)shm,
			.n_slots = (size_t)a.spec_offset /
				   sizeof(struct worker_slot),
			.lane = env.lane,
			.spec = spec,
			.prog = &prog,
			.sync = env.sync,
			.startup_t0_ns = a.startup_t0,
		};

		rc = fork_server_serve(&fs);
	} else {
		rc = worker_serve(&env);
	}
	sync_unmap(env.sync);

out_free_program:
	program_free(&prog);
	free(spec);
	/* The recorder stays mapped until exit: its ring may still be read
	 * by the collector, and the mapping goes with the process. */
out_unmap:
	munmap(shm, (size_t)a.shm_size);
	return rc;
}
