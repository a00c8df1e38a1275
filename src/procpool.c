/*
 * procpool: a pool of worker processes driven from one thread, without a
 * thread of its own.
 *
 * The owner's thread does everything: procpool_submit() queues a job and
 * hands it to an idle worker at once; procpool_reap() reads what the
 * workers sent through their sockets (non-blocking, resuming a half-read
 * message on the next call), notices deaths (end of file on a socket, then
 * waitpid for the signal), starts replacements, and dispatches queued jobs.
 * One job runs on a worker at a time, so a worker is either reading a job,
 * running it, or writing its result, and the pool never writes to a worker
 * that is busy: no cycle of full pipes can form.
 *
 * A forked child of this multi-threaded process runs only code that is
 * safe there: besides malloc, which glibc resets across fork, it takes no
 * lock another thread may have held at fork (it never adds lanes, it
 * writes only its own ring; the shared objects' locks are process-shared),
 * starts no thread, and leaves with _exit(); so it also runs under
 * ThreadSanitizer.
 *
 * The workers' run contexts live in a shared memfd mapping (one slot per
 * worker, worker.h), so the pool can pass the run's stop flag on to a task
 * that is computing and read the workers' progress for the watchdog.  The
 * same mapping is where process-shared state for workers can grow.
 *
 * Somewhat over 1,000 lines: the dispatch, the reaping of results and
 * deaths and the fork-safe child are one protocol over the same sockets
 * and slots, and read best side by side.
 */
#include "procpool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_core.h"
#include "spec.h"
#include "sync.h"
#include "worker.h"

extern char **environ;

/* A slot whose worker died this many times in a row before it was ready
 * is given up; with every slot given up the pool is broken. */
#define START_FAILURES_MAX 3
/* Chunk in which payloads cross the sockets. */
#define SCRATCH_BYTES (256 * 1024)
/* How often procpool_wait() looks at the run's stop flag. */
#define STOP_POLL_MS 10
/* How long procpool_wait looks at the sockets before it sleeps. */
#define POOL_SPIN_NS (50 * NS_PER_US)
/* The descriptors a spawned worker finds its things on. */
#define CHILD_SOCK_FD 3
#define CHILD_REC_FD 4
#define CHILD_SHM_FD 5
#define CHILD_SYNC_FD 6
/* The epoll token of the fork server's control socket. */
#define FS_TOKEN PROCPOOL_MAX_WORKERS
/* Workers' ends the fork server reported that no death has claimed yet. */
#define FS_EXITS_MAX (2 * PROCPOOL_MAX_WORKERS)
/* How long a death waits for the fork server to report it. */
#define FS_EXIT_WAIT_NS (5 * NS_PER_S)

enum worker_state {
	W_EMPTY,    /* no process in this slot */
	W_STARTING, /* started, not ready yet */
	W_IDLE,	    /* ready, no job */
	W_BUSY,	    /* running cur */
	W_BROKEN,   /* a write to it failed: waiting for its end of file */
};

struct queued_job {
	struct procpool_job job;
	int64_t submit_ns;
};

struct pool_worker {
	enum worker_state state;
	pid_t pid;
	int sock; /* the pool's end; -1 when empty */
	struct rec_lane lane;
	bool has_lane;
	bool has_job;
	struct queued_job cur;
	uint32_t cur_done; /* of cur's tasks (a chunk), those reported */
	uint32_t start_failures;
	int64_t progress_seen;
	bool fs_forked; /* forkserver: the server said which pid (pid 0:
			 * the fork failed) */
	/* the message being received */
	struct worker_msg rx;
	size_t rx_have;
	int64_t rx_payload_left;
};

struct procpool {
	struct run_ctx *run;
	const struct rec_lane *lane; /* the owner's */
	enum procpool_start start;
	uint32_t n_workers;
	char prefix[24];
	uint32_t next_number;
	pid_t self_pid;

	int epfd;
	bool spin; /* a core to spare: look before sleeping (procpool_wait) */
	int shm_fd;
	size_t shm_size;
	struct worker_slot *slots;
	struct pool_worker w[PROCPOOL_MAX_WORKERS];

	/* FIFO of jobs waiting for a worker */
	struct queued_job *queue;
	size_t q_head, q_len, q_cap;
	/* finished jobs not yet handed out */
	struct procpool_done *done;
	size_t d_head, d_len, d_cap;

	uint32_t pending; /* submitted, not yet handed out */
	uint32_t deaths;
	bool stopping;
	int broken; /* 0 or -ECHILD */

	/* spawn, forkserver: the spec a worker (or the server) rebuilds the
	 * program from, as JSON text in the mapping after the slots */
	size_t spec_offset, spec_bytes;

	/* forkserver: the server, its control socket (SOCK_SEQPACKET), its
	 * lane, and the ends of workers it reported, not yet claimed */
	pid_t fs_pid;
	int fs_sock;
	uint32_t fs_lane;
	bool fs_dead;	   /* its socket reached end of file */
	bool fs_task_sent; /* it knows the first task it held up */
	struct {
		pid_t pid;
		int status;
	} fs_exits[FS_EXITS_MAX];
	size_t n_fs_exits;
	char exe[PATH_MAX];
	unsigned char *scratch;
};

static const char *const start_names[] = {"fork", "spawn", "forkserver"};

const char *procpool_start_name(enum procpool_start s)
{
	return (unsigned)s < 3 ? start_names[s] : "?";
}

int procpool_start_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (name && strcmp(name, start_names[i]) == 0)
			return i;
	return -1;
}

static void set_err(char *err, size_t size, const char *fmt, const char *what,
		    int e)
{
	if (err && size)
		snprintf(err, size, fmt, what, strerror(e));
}

/* ---- queues ------------------------------------------------------------- */

static void queue_push(struct procpool *p, const struct queued_job *j)
{
	if (p->q_len == p->q_cap) {
		size_t cap = p->q_cap ? p->q_cap * 2 : 64;
		struct queued_job *q = util_xcalloc(cap, sizeof(*q));
		for (size_t k = 0; k < p->q_len; k++)
			q[k] = p->queue[(p->q_head + k) % p->q_cap];
		free(p->queue);
		p->queue = q;
		p->q_cap = cap;
		p->q_head = 0;
	}
	p->queue[(p->q_head + p->q_len) % p->q_cap] = *j;
	p->q_len++;
}

static void queue_push_front(struct procpool *p, const struct queued_job *j)
{
	queue_push(p, j); /* makes room */
	p->q_len--;
	p->q_head = (p->q_head + p->q_cap - 1) % p->q_cap;
	p->queue[p->q_head] = *j;
	p->q_len++;
}

static struct queued_job queue_pop(struct procpool *p)
{
	struct queued_job j = p->queue[p->q_head];
	p->q_head = (p->q_head + 1) % p->q_cap;
	p->q_len--;
	return j;
}

static void done_push(struct procpool *p, const struct procpool_done *d)
{
	if (p->d_len == p->d_cap) {
		size_t cap = p->d_cap ? p->d_cap * 2 : 64;
		struct procpool_done *q = util_xcalloc(cap, sizeof(*q));
		for (size_t k = 0; k < p->d_len; k++)
			q[k] = p->done[(p->d_head + k) % p->d_cap];
		free(p->done);
		p->done = q;
		p->d_cap = cap;
		p->d_head = 0;
	}
	p->done[(p->d_head + p->d_len) % p->d_cap] = *d;
	p->d_len++;
}

/* The tasks a job carries: one, or a chunk's. */
static uint32_t job_tasks(const struct procpool_job *job)
{
	return job->n_tasks > 1 ? job->n_tasks : 1;
}

/* Completes a job that will not run (cancelled or the pool broken); a
 * whole task gets its queued segment and its end recorded here, since no
 * worker will (each of a chunk's). */
static void complete_unrun(struct procpool *p, const struct queued_job *j,
			   enum task_status status, int err)
{
	int64_t now = rec_now(p->lane);

	for (uint32_t k = 0; k < job_tasks(&j->job); k++) {
		uint32_t task = j->job.task + k;
		struct procpool_done d = {.task = task,
					  .cookie = j->job.cookie,
					  .status = (uint8_t)status,
					  .err = err,
					  .lane = UINT32_MAX,
					  .end_ns = now};

		if ((j->job.flags & PROCPOOL_REC_QUEUED) && now > j->submit_ns)
			rec_segment(p->lane, task, ST_QUEUED, j->submit_ns, now,
				    0);
		if (j->job.n_steps == 0)
			rec_task_end(p->lane, task, now, status, 0);
		done_push(p, &d);
	}
}

/* ---- sockets ------------------------------------------------------------ */

/* Writes all of buf to a non-blocking socket, waiting for room.  Returns 0
 * or -errno (-EPIPE once the worker is gone). */
static int send_all(int fd, const void *buf, size_t len)
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
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

static int send_payload(struct procpool *p, int fd, int64_t bytes)
{
	while (bytes > 0) {
		size_t chunk = bytes > SCRATCH_BYTES ? SCRATCH_BYTES
						     : (size_t)bytes;
		int rc = send_all(fd, p->scratch, chunk);
		if (rc < 0)
			return rc;
		bytes -= (int64_t)chunk;
	}
	return 0;
}

/* ---- starting workers --------------------------------------------------- */

/* In the forked child: only the socket survives (moved to CHILD_SOCK_FD);
 * the recorder and the slots are already mapped.  Never returns. */
static _Noreturn void child_after_fork(struct procpool *p, uint32_t i, int sock)
{
	struct worker_env env = {0};

	if (sock != CHILD_SOCK_FD && dup2(sock, CHILD_SOCK_FD) < 0)
		_exit(127);
	env.sock = CHILD_SOCK_FD;
	env.slot = &p->slots[i];
	env.lane = p->w[i].lane;
	env.spec = p->run->spec;
	env.prog = p->run->prog;
	env.sync = p->run->sync;
	_exit(worker_serve(&env));
}

/* Spawns `<exe> worker ...` with sock as its socket and slot i's place in
 * the mapping; with server_lane set (a lane id), the fork server instead,
 * told its lane and when its start began. */
static int spawn_worker(struct procpool *p, uint32_t i, int sock, pid_t *pid,
			const char *server_lane, const char *startup_t0)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char sock_s[16], rec_fd_s[16], rec_size_s[32], shm_fd_s[16];
	char shm_size_s[32], slot_s[16], spec_off_s[32], spec_len_s[32];
	char sync_fd_s[16], sync_size_s[32];
	char *argv[32];
	int argc = 0;
	struct sync_rt *sync = p->run->sync;
	int n_fds = sync ? 4 : 3;
	int hi[4] = {-1, -1, -1, -1};
	int src[4] = {sock, trace_rec_fd(p->run->rec), p->shm_fd,
		      sync ? sync_fd(sync) : -1};
	int rc;

	/* Move the descriptors out of the way of 3..6 first, so no dup2 in
	 * the child overwrites a source it still needs. */
	for (int k = 0; k < n_fds; k++) {
		hi[k] = fcntl(src[k], F_DUPFD_CLOEXEC, 16);
		if (hi[k] < 0) {
			rc = -errno;
			goto out_close_hi;
		}
	}
	snprintf(sock_s, sizeof(sock_s), "%d", CHILD_SOCK_FD);
	snprintf(rec_fd_s, sizeof(rec_fd_s), "%d", CHILD_REC_FD);
	snprintf(rec_size_s, sizeof(rec_size_s), "%zu",
		 trace_rec_map_size(p->run->rec));
	snprintf(shm_fd_s, sizeof(shm_fd_s), "%d", CHILD_SHM_FD);
	snprintf(shm_size_s, sizeof(shm_size_s), "%zu", p->shm_size);
	snprintf(slot_s, sizeof(slot_s), "%u", i);
	snprintf(spec_off_s, sizeof(spec_off_s), "%zu", p->spec_offset);
	snprintf(spec_len_s, sizeof(spec_len_s), "%zu", p->spec_bytes);
	snprintf(sync_fd_s, sizeof(sync_fd_s), "%d", CHILD_SYNC_FD);
	snprintf(sync_size_s, sizeof(sync_size_s), "%zu",
		 sync ? sync_map_size(sync) : 0);
	/* clang-format off */
	char *const fixed[] = {
		p->exe, "worker",
		"--sock", sock_s,
		"--rec-fd", rec_fd_s, "--rec-size", rec_size_s,
		"--shm-fd", shm_fd_s, "--shm-size", shm_size_s,
		"--slot", slot_s,
		"--spec-offset", spec_off_s, "--spec-bytes", spec_len_s};
	/* clang-format on */

	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		argv[argc++] = fixed[k];
	/* Without shared objects there is nothing to map. */
	if (sync) {
		argv[argc++] = "--sync-fd";
		argv[argc++] = sync_fd_s;
		argv[argc++] = "--sync-size";
		argv[argc++] = sync_size_s;
	}
	if (server_lane) {
		argv[argc++] = "--forkserver-lane";
		argv[argc++] = (char *)server_lane;
		argv[argc++] = "--startup-t0";
		argv[argc++] = (char *)startup_t0;
	}
	argv[argc] = NULL;

	rc = -posix_spawn_file_actions_init(&fa);
	if (rc < 0)
		goto out_close_hi;
	rc = -posix_spawnattr_init(&attr);
	if (rc < 0)
		goto out_destroy_fa;
	posix_spawn_file_actions_adddup2(&fa, hi[0], CHILD_SOCK_FD);
	posix_spawn_file_actions_adddup2(&fa, hi[1], CHILD_REC_FD);
	posix_spawn_file_actions_adddup2(&fa, hi[2], CHILD_SHM_FD);
	if (sync)
		posix_spawn_file_actions_adddup2(&fa, hi[3], CHILD_SYNC_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, sync ? CHILD_SYNC_FD + 1
							   : CHILD_SHM_FD + 1);
	/* A fresh process: nothing blocked, and the signals the run process
	 * may handle or ignore back to their defaults. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGUSR1);
	sigaddset(&dfl, SIGUSR2);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	rc = -posix_spawn(pid, p->exe, &fa, &attr, argv, environ);

	posix_spawnattr_destroy(&attr);
out_destroy_fa:
	posix_spawn_file_actions_destroy(&fa);
out_close_hi:
	for (int k = 0; k < n_fds; k++)
		if (hi[k] >= 0)
			close(hi[k]);
	return rc;
}

/* ---- the fork server --------------------------------------------------- */

/* Spawns the fork server on its own lane; it rebuilds the program and
 * then waits for requests on a SOCK_SEQPACKET socket.  Returns 0 or
 * -errno with err said. */
static int fs_start(struct procpool *p, char *err, size_t err_size)
{
	struct rec_lane *lane =
		trace_rec_add_lane(p->run->rec, LANE_PROCESS, "ForkServer");
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = FS_TOKEN};
	char lane_s[16], t0_s[32];
	int sv[2], rc;

	if (!lane) {
		set_err(err, err_size, "%s: %s",
			"no lane left for the fork server", ENOSPC);
		return -ENOSPC;
	}
	p->fs_lane = lane->id;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		set_err(err, err_size, "%s: %s", "socketpair", -rc);
		return rc;
	}
	snprintf(lane_s, sizeof(lane_s), "%u", lane->id);
	snprintf(t0_s, sizeof(t0_s), "%lld", (long long)rec_now(p->lane));
	rc = spawn_worker(p, 0, sv[1], &p->fs_pid, lane_s, t0_s);
	close(sv[1]);
	if (rc < 0) {
		set_err(err, err_size, "%s: %s", "posix_spawn fork server",
			-rc);
		close(sv[0]);
		return rc;
	}
	p->fs_sock = sv[0];
	if (fcntl(p->fs_sock, F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->fs_sock, &ev) < 0) {
		rc = -errno;
		set_err(err, err_size, "%s: %s", "fork server socket", -rc);
		return rc;
	}
	return 0;
}

/* Sends msg (and fd, when >= 0) to the fork server. */
static int fs_send(struct procpool *p, const struct worker_fs_msg *msg, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = sizeof(*msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (p->fs_dead)
		return -EPIPE;
	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		if (sendmsg(p->fs_sock, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = {.fd = p->fs_sock,
					     .events = POLLOUT};
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		return -errno;
	}
}

static int fs_request_fork(struct procpool *p, uint32_t i, int sock)
{
	struct worker_fs_msg m = {.type = WORKER_FS_FORK, .slot = i};

	return fs_send(p, &m, sock);
}

/* Reads what the fork server said, as far as it goes without blocking:
 * which pid each worker is, and which ended how. */
static void fs_on_readable(struct procpool *p)
{
	struct worker_fs_msg m;

	while (!p->fs_dead) {
		ssize_t n = recv(p->fs_sock, &m, sizeof(m), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* The server is gone: its workers die with it
			 * (their parent-death signal) and show as ends of
			 * file on their sockets. */
			p->fs_dead = true;
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->fs_sock, NULL);
			return;
		}
		if (n != (ssize_t)sizeof(m))
			continue;
		if (m.type == WORKER_FS_FORKED && m.slot < p->n_workers &&
		    !p->w[m.slot].fs_forked) {
			p->w[m.slot].fs_forked = true;
			p->w[m.slot].pid = m.pid > 0 ? (pid_t)m.pid : 0;
		} else if (m.type == WORKER_FS_EXITED &&
			   p->n_fs_exits < FS_EXITS_MAX) {
			p->fs_exits[p->n_fs_exits].pid = (pid_t)m.pid;
			p->fs_exits[p->n_fs_exits].status = m.status;
			p->n_fs_exits++;
		}
	}
}

/* The wait status of worker i, which has died: its own child's, from
 * waitpid; a fork server's child's, from the server's report (waited for
 * up to FS_EXIT_WAIT_NS: the server reaps at once).  0 when unknown. */
static int worker_wait(struct procpool *p, uint32_t i)
{
	struct pool_worker *w = &p->w[i];
	int64_t until = util_mono_ns() + FS_EXIT_WAIT_NS;
	int status = 0;

	if (p->start != PROCPOOL_FORKSERVER) {
		/* The socket closes as the process exits: a short wait. */
		while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
			;
		return status;
	}
	for (;;) {
		fs_on_readable(p);
		if (w->fs_forked && w->pid <= 0)
			return 0; /* the fork failed: nothing ran */
		for (size_t k = 0; w->fs_forked && k < p->n_fs_exits; k++) {
			if (p->fs_exits[k].pid != w->pid)
				continue;
			status = p->fs_exits[k].status;
			p->fs_exits[k] = p->fs_exits[--p->n_fs_exits];
			return status;
		}
		if (p->fs_dead || util_mono_ns() >= until)
			return 0;
		struct pollfd pfd = {.fd = p->fs_sock, .events = POLLIN};

		poll(&pfd, 1, STOP_POLL_MS);
	}
}

/* A lane for the worker about to start in slot i: a new one, or, when the
 * recorder has no room left, the lane of the slot's dead predecessor. */
static int worker_lane(struct procpool *p, uint32_t i, uint32_t number)
{
	struct pool_worker *w = &p->w[i];
	char name[32];
	struct rec_lane *l;

	snprintf(name, sizeof(name), "%s-%u", p->prefix, number);
	l = trace_rec_add_lane(p->run->rec, LANE_PROCESS, name);
	if (l) {
		w->lane = *l;
		w->has_lane = true;
		return 0;
	}
	return w->has_lane ? 0 : -ENOSPC;
}

static int worker_start(struct procpool *p, uint32_t i, char *err,
			size_t err_size)
{
	struct pool_worker *w = &p->w[i];
	struct worker_slot *slot = &p->slots[i];
	struct run_ctx *run = p->run;
	uint32_t number = ++p->next_number;
	struct epoll_event ev = {.events = EPOLLIN};
	int sv[2];
	pid_t pid = -1;
	int rc;

	rc = worker_lane(p, i, number);
	if (rc < 0) {
		set_err(err, err_size, "%s: %s", "no lane left for a worker",
			-rc);
		return rc;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		set_err(err, err_size, "%s: %s", "socketpair", -rc);
		return rc;
	}

	/* The slot is the new worker's from here; its predecessor, if any,
	 * has been reaped. */
	memset(&slot->facts, 0, sizeof(slot->facts));
	slot->facts.deadline_ns = run->deadline_ns;
	slot->facts.cpu_iters_per_ms = run->cpu.iters_per_ms;
	slot->facts.lane = w->lane.id;
	slot->facts.number = number;
	slot->facts.parent_pid = p->self_pid;
	slot->facts.peer_port = run->peer_port;
	slot->facts.spawned = p->start == PROCPOOL_SPAWN;
	util_strlcpy(slot->facts.tmpdir, run->tmpdir,
		     sizeof(slot->facts.tmpdir));
	if (run->charge_python) {
		/* What a ProcessPoolExecutor pays: an interpreter's start,
		 * and per task its round trip, half each way. */
		slot->facts.startup_min_ns =
			run->python.process_start_ns[p->start == PROCPOOL_FORK
							     ? COSTS_FORK
							     : COSTS_SPAWN];
		slot->facts.transfer_ns = run->python.process_task_ns / 2;
		slot->facts.ns_per_byte = run->python.ipc_ns_per_byte;
	}
	atomic_store(&slot->ctx.stop, atomic_load(&run->stop));
	atomic_store(&slot->ctx.progress, 0);
	atomic_store(&slot->step_kind, 0);
	atomic_store(&slot->step_t0_ns, 0);
	w->progress_seen = 0;
	slot->facts.startup_t0_ns = rec_now(p->lane);

	if (p->start == PROCPOOL_FORK) {
		pid = fork();
		if (pid == 0)
			child_after_fork(p, i, sv[1]);
		if (pid < 0)
			rc = -errno;
	} else if (p->start == PROCPOOL_SPAWN) {
		rc = spawn_worker(p, i, sv[1], &pid, NULL, NULL);
	} else {
		/* The server forks it and says its pid later. */
		rc = fs_request_fork(p, i, sv[1]);
		pid = 0;
	}
	close(sv[1]);
	if (rc < 0) {
		set_err(err, err_size, "%s: %s",
			p->start == PROCPOOL_FORK    ? "fork"
			: p->start == PROCPOOL_SPAWN ? "posix_spawn"
						     : "fork server",
			-rc);
		goto out_close_sock;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
		goto out_kill;
	ev.data.u32 = i;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, sv[0], &ev) < 0)
		goto out_kill;

	w->state = W_STARTING;
	w->pid = pid;
	w->fs_forked = false;
	w->sock = sv[0];
	w->has_job = false;
	w->rx_have = 0;
	w->rx_payload_left = 0;
	return 0;

out_kill:
	rc = -errno;
	set_err(err, err_size, "%s: %s", "worker socket", -rc);
	/* A fork server's child finds end of file on its socket instead. */
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
out_close_sock:
	close(sv[0]);
	return rc;
}

/* ---- what workers say --------------------------------------------------- */

static void sync_progress(struct procpool *p)
{
	for (uint32_t i = 0; i < p->n_workers; i++) {
		struct pool_worker *w = &p->w[i];
		int64_t now;

		if (w->state == W_EMPTY)
			continue;
		now = atomic_load(&p->slots[i].ctx.progress);
		if (now != w->progress_seen) {
			atomic_fetch_add(&p->run->progress,
					 now - w->progress_seen);
			w->progress_seen = now;
		}
	}
}

static uint32_t live_workers(const struct procpool *p)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->n_workers; i++)
		n += p->w[i].state != W_EMPTY;
	return n;
}

/* Every slot given up: nothing will run the queue. */
static void pool_break(struct procpool *p)
{
	p->broken = -ECHILD;
	while (p->q_len > 0) {
		struct queued_job j = queue_pop(p);
		complete_unrun(p, &j, TASK_ERROR, -ECHILD);
	}
}

/* The segment worker i died in, recorded on its lane up to now.  Only the
 * steps whose one open segment is known by their kind; the dead worker
 * was its ring's producer, and nothing else is until its replacement
 * starts, so the pool may write there. */
static void close_dead_step(struct procpool *p, uint32_t i, uint32_t running,
			    int64_t now)
{
	const struct worker_slot *slot = &p->slots[i];
	uint32_t kind = atomic_load(&slot->step_kind);
	int64_t t0 = atomic_load(&slot->step_t0_ns);
	enum seg_state state;

	switch (kind) {
	case STEP_CPU + 1:
	case STEP_CPU_NOGIL + 1:
		state = ST_COMPUTE;
		break;
	case STEP_SLEEP + 1:
	case STEP_BLOCK + 1:
	case STEP_TIMER + 1:
		state = ST_SLEEP;
		break;
	case STEP_NET + 1:
		state = ST_IO;
		break;
	default:
		return;
	}
	if (t0 >= 0 && t0 < now)
		rec_segment(&p->w[i].lane, running, state, t0, now, 0);
}

static void on_death(struct procpool *p, uint32_t i)
{
	struct pool_worker *w = &p->w[i];
	bool was_starting = w->state == W_STARTING;
	int status = 0, sig = 0;
	int64_t now;

	epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->sock, NULL);
	close(w->sock);
	w->sock = -1;
	status = worker_wait(p, i);
	if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	now = rec_now(p->lane);
	sync_progress(p);

	if (w->has_job) {
		/* A chunk's task that was running: the others before it
		 * ran, those after it never started, and all lose their
		 * results, as the chunk's future fails in Python. */
		uint32_t running = w->cur.job.task;

		if (job_tasks(&w->cur.job) > 1)
			running = atomic_load(&p->slots[i].chunk_task);
		close_dead_step(p, i, running, now);
		for (uint32_t k = w->cur_done; k < job_tasks(&w->cur.job);
		     k++) {
			uint32_t task = w->cur.job.task + k;
			struct procpool_done d = {.task = task,
						  .cookie = w->cur.job.cookie,
						  .status = TASK_ERROR,
						  .err = -ECHILD,
						  .signal = sig,
						  .pid = w->pid,
						  .lane = w->lane.id,
						  .end_ns = now};

			if (w->cur.job.n_steps == 0) {
				/* The task held what it held when it died;
				 * the shared objects' robust locks give that
				 * back.  It runs no more. */
				sync_task_end(p->run->sync, task);
				rec_task_end(p->lane, task, now, TASK_ERROR,
					     (uint16_t)sig);
			}
			done_push(p, &d);
		}
		w->has_job = false;
	}
	w->state = W_EMPTY;
	w->pid = 0;
	p->deaths++;
	w->start_failures = was_starting ? w->start_failures + 1 : 0;

	if (p->stopping)
		return;
	if (w->start_failures < START_FAILURES_MAX &&
	    worker_start(p, i, NULL, 0) < 0)
		w->start_failures = START_FAILURES_MAX;
	if (live_workers(p) == 0)
		pool_break(p);
}

static void on_message(struct procpool *p, uint32_t i)
{
	struct pool_worker *w = &p->w[i];
	const struct worker_msg *m = &w->rx;

	if (m->type == WORKER_MSG_READY && w->state == W_STARTING) {
		w->state = W_IDLE;
		w->start_failures = 0;
	} else if (m->type == WORKER_MSG_DONE && w->has_job &&
		   m->task == w->cur.job.task + w->cur_done) {
		/* A chunk's tasks report in order, one message each. */
		struct procpool_done d = {.task = m->task,
					  .cookie = w->cur.job.cookie,
					  .status = (uint8_t)m->status,
					  .err = m->err,
					  .pid = w->pid,
					  .lane = w->lane.id,
					  .end_ns = rec_now(p->lane)};
		done_push(p, &d);
		if (++w->cur_done == job_tasks(&w->cur.job)) {
			w->has_job = false;
			if (w->state == W_BUSY)
				w->state = W_IDLE;
		}
	}
	w->rx_have = 0;
	w->rx_payload_left = 0;
}

/* Reads what worker i has sent, as far as it goes without blocking. */
static void on_readable(struct procpool *p, uint32_t i)
{
	struct pool_worker *w = &p->w[i];

	for (;;) {
		ssize_t n;

		if (w->rx_have < sizeof(w->rx)) {
			n = recv(w->sock, (char *)&w->rx + w->rx_have,
				 sizeof(w->rx) - w->rx_have, 0);
		} else {
			size_t want = w->rx_payload_left > SCRATCH_BYTES
					      ? SCRATCH_BYTES
					      : (size_t)w->rx_payload_left;
			n = recv(w->sock, p->scratch, want, 0);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			on_death(p, i);
			return;
		}
		if (w->rx_have < sizeof(w->rx)) {
			w->rx_have += (size_t)n;
			if (w->rx_have < sizeof(w->rx))
				continue;
			w->rx_payload_left = w->rx.payload_bytes;
			if (w->rx_payload_left < 0 ||
			    w->rx_payload_left > PROCPOOL_MAX_PAYLOAD_BYTES) {
				/* A worker that talks nonsense is treated
				 * as dead. */
				kill(w->pid, SIGKILL);
				on_death(p, i);
				return;
			}
		} else {
			w->rx_payload_left -= n;
		}
		if (w->rx_payload_left == 0) {
			/* One message at a time: anything more keeps the
			 * socket readable for the next epoll_wait, and a
			 * recv that would only say EAGAIN is saved. */
			on_message(p, i);
			return;
		}
	}
}

/* Handles what the sockets have, waiting up to timeout_ms for it; returns
 * how many were ready. */
static int handle_events(struct procpool *p, int timeout_ms)
{
	struct epoll_event evs[PROCPOOL_MAX_WORKERS + 1];
	int n;

	n = epoll_wait(p->epfd, evs, PROCPOOL_MAX_WORKERS + 1, timeout_ms);
	for (int k = 0; k < n; k++) {
		uint32_t i = evs[k].data.u32;

		if (i == FS_TOKEN) {
			fs_on_readable(p);
			continue;
		}
		/* A socket reported in this batch may belong to a worker
		 * already replaced in it; the new one is read next time. */
		if (i < p->n_workers && p->w[i].state != W_EMPTY)
			on_readable(p, i);
	}
	return n;
}

/* Looks at the sockets without sleeping for up to POOL_SPIN_NS; true when
 * something arrived (and was handled). */
static bool spin_for_events(struct procpool *p)
{
	int64_t until = util_mono_ns() + POOL_SPIN_NS;

	do {
		if (handle_events(p, 0) > 0)
			return true;
	} while (util_mono_ns() < until);
	return false;
}

/* ---- dispatch ----------------------------------------------------------- */

static void send_job(struct procpool *p, uint32_t i, const struct queued_job *j)
{
	struct pool_worker *w = &p->w[i];
	uint32_t n = job_tasks(&j->job);
	struct worker_msg m = {.type = WORKER_MSG_JOB,
			       .task = j->job.task,
			       .first_step = j->job.first_step,
			       .n_steps = j->job.n_steps,
			       .payload_bytes = j->job.payload_bytes * n,
			       .n_tasks = n};
	int64_t now = rec_now(p->lane);

	for (uint32_t k = 0; k < n; k++)
		if ((j->job.flags & PROCPOOL_REC_QUEUED) && now > j->submit_ns)
			rec_segment(p->lane, j->job.task + k, ST_QUEUED,
				    j->submit_ns, now, 0);
	if (p->start == PROCPOOL_FORKSERVER && !p->fs_task_sent) {
		struct worker_fs_msg m = {.type = WORKER_FS_TASK,
					  .slot = j->job.task};

		p->fs_task_sent = fs_send(p, &m, -1) == 0;
	}
	w->cur = *j;
	w->cur_done = 0;
	w->has_job = true;
	w->state = W_BUSY;
	if (send_all(w->sock, &m, sizeof(m)) < 0 ||
	    send_payload(p, w->sock, m.payload_bytes) < 0) {
		/* The worker is gone (it died after it said ready): it
		 * never had the whole job, so none of its steps ran.  The
		 * job goes back to the head of the queue, queued again from
		 * now; the death shows up as end of file on the socket. */
		struct queued_job again = *j;

		again.submit_ns = now;
		queue_push_front(p, &again);
		w->has_job = false;
		w->state = W_BROKEN;
	}
}

static void dispatch(struct procpool *p)
{
	uint32_t i = 0;

	while (p->q_len > 0 && !p->stopping) {
		while (i < p->n_workers && p->w[i].state != W_IDLE)
			i++;
		if (i == p->n_workers)
			return;
		struct queued_job j = queue_pop(p);
		send_job(p, i, &j);
	}
}

/* Passes a raised stop on to the workers and cancels what has not
 * started. */
static void check_stop(struct procpool *p)
{
	int stop = atomic_load(&p->run->stop);

	if (!stop || p->stopping)
		return;
	p->stopping = true;
	/* Each worker sleeps on its own slot's flag: wake it, or a sleep
	 * step notices only at the end of its slice. */
	for (uint32_t i = 0; i < p->n_workers; i++) {
		atomic_store(&p->slots[i].ctx.stop, stop);
		exec_stop_wake(&p->slots[i].ctx.stop);
	}
	while (p->q_len > 0) {
		struct queued_job j = queue_pop(p);
		complete_unrun(p, &j, TASK_CANCELLED, -ECANCELED);
	}
}

/* ---- the interface ------------------------------------------------------ */

struct procpool *procpool_create(const struct procpool_config *cfg, char *err,
				 size_t err_size)
{
	struct procpool *p;
	const char *exe;
	char *spec_json = NULL;

	if (!cfg || !cfg->run || !cfg->lane || !cfg->run->rec ||
	    !cfg->run->prog || cfg->workers < 1 ||
	    cfg->workers > PROCPOOL_MAX_WORKERS ||
	    (cfg->start != PROCPOOL_FORK && cfg->start != PROCPOOL_SPAWN &&
	     cfg->start != PROCPOOL_FORKSERVER)) {
		set_err(err, err_size, "%s: %s", "process pool", EINVAL);
		return NULL;
	}
	p = util_xcalloc(1, sizeof(*p));
	p->run = cfg->run;
	p->lane = cfg->lane;
	p->start = cfg->start;
	p->n_workers = cfg->workers;
	p->self_pid = getpid();
	p->epfd = -1;
	p->shm_fd = -1;
	p->fs_sock = -1;
	if (cfg->lane_prefix)
		util_strlcpy(p->prefix, cfg->lane_prefix, sizeof(p->prefix));
	else
		util_strlcpy(p->prefix,
			     cfg->start == PROCPOOL_FORK ? "ForkProcess"
			     : cfg->start == PROCPOOL_SPAWN
				     ? "SpawnProcess"
				     : "ForkServerProcess",
			     sizeof(p->prefix));
	for (uint32_t i = 0; i < PROCPOOL_MAX_WORKERS; i++)
		p->w[i].sock = -1;
	p->scratch = util_xcalloc(1, SCRATCH_BYTES);
	memset(p->scratch, 'p', SCRATCH_BYTES);

	exe = getenv("OVERLAP_WORKER_EXE");
	util_strlcpy(p->exe, exe && *exe ? exe : "/proc/self/exe",
		     sizeof(p->exe));
	if (p->start != PROCPOOL_FORK) {
		json_t *spec = spec_to_json(p->run->spec);
		spec_json = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
		json_decref(spec);
		if (!spec_json) {
			set_err(err, err_size, "%s: %s", "spec to json",
				ENOMEM);
			goto out_free;
		}
		p->spec_bytes = strlen(spec_json);
	}

	p->spin = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		set_err(err, err_size, "%s: %s", "epoll", errno);
		goto out_free;
	}
	p->spec_offset = sizeof(struct worker_slot) * p->n_workers;
	p->shm_size = p->spec_offset + p->spec_bytes + 1;
	p->shm_fd = memfd_create("overlap-procpool", MFD_CLOEXEC);
	if (p->shm_fd < 0 || ftruncate(p->shm_fd, (off_t)p->shm_size) < 0) {
		set_err(err, err_size, "%s: %s", "memfd", errno);
		goto out_close;
	}
	p->slots = mmap(NULL, p->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			p->shm_fd, 0);
	if (p->slots == MAP_FAILED) {
		p->slots = NULL;
		set_err(err, err_size, "%s: %s", "mmap", errno);
		goto out_close;
	}
	if (spec_json)
		memcpy((char *)p->slots + p->spec_offset, spec_json,
		       p->spec_bytes + 1);
	free(spec_json);
	spec_json = NULL;
	if (p->start == PROCPOOL_FORKSERVER && fs_start(p, err, err_size) < 0)
		goto out_destroy;
	for (uint32_t i = 0; i < p->n_workers; i++) {
		/* With fewer workers than asked (a recorder sized for
		 * fewer lanes, a limit on processes), the pool runs with
		 * those it has; err says why. */
		if (worker_start(p, i, err, err_size) < 0) {
			if (i == 0)
				goto out_destroy;
			p->n_workers = i;
			break;
		}
	}
	return p;

out_destroy:
	procpool_destroy(p, 0);
	return NULL;
out_close:
	if (p->shm_fd >= 0)
		close(p->shm_fd);
	if (p->epfd >= 0)
		close(p->epfd);
out_free:
	free(spec_json);
	free(p->scratch);
	free(p);
	return NULL;
}

int procpool_submit(struct procpool *p, const struct procpool_job *job)
{
	const struct program *prog = p->run->prog;
	struct queued_job j = {.job = *job};

	uint32_t n = job_tasks(job);

	if (job->task >= prog->n_tasks || job->payload_bytes < 0 ||
	    (uint64_t)job->task + n > prog->n_tasks ||
	    job->payload_bytes > PROCPOOL_MAX_PAYLOAD_BYTES ||
	    job->payload_bytes * n > PROCPOOL_MAX_PAYLOAD_BYTES ||
	    (uint64_t)job->first_step + job->n_steps > prog->n_steps ||
	    (job->n_steps == 0 && job->first_step != 0) ||
	    (n > 1 && job->n_steps != 0) || n > PROCPOOL_MAX_CHUNK)
		return -EINVAL;
	if (p->broken && p->pending == 0)
		return p->broken;
	check_stop(p);
	if (p->stopping)
		return -ECANCELED;
	if (p->broken)
		return p->broken;
	j.submit_ns = rec_now(p->lane);
	for (uint32_t k = 0; k < n && (job->flags & PROCPOOL_REC_SUBMIT); k++)
		rec_task_submit(p->lane, job->task + k, j.submit_ns);
	queue_push(p, &j);
	p->pending += n;
	dispatch(p);
	return 0;
}

int procpool_fd(const struct procpool *p)
{
	return p->epfd;
}

static size_t take_done(struct procpool *p, struct procpool_done *out,
			size_t max)
{
	size_t n = 0;

	while (n < max && p->d_len > 0) {
		out[n++] = p->done[p->d_head];
		p->d_head = (p->d_head + 1) % p->d_cap;
		p->d_len--;
		p->pending--;
	}
	return n;
}

ssize_t procpool_reap(struct procpool *p, struct procpool_done *out, size_t max)
{
	size_t n;

	check_stop(p);
	handle_events(p, 0);
	dispatch(p);
	sync_progress(p);
	n = take_done(p, out, max);
	if (n == 0 && p->broken && p->pending == 0)
		return p->broken;
	return (ssize_t)n;
}

ssize_t procpool_wait(struct procpool *p, struct procpool_done *out, size_t max,
		      int64_t timeout_ns)
{
	int64_t deadline = timeout_ns < 0 ? -1 : util_mono_ns() + timeout_ns;

	for (;;) {
		int slice_ms = STOP_POLL_MS;
		size_t n;

		/* procpool_reap() without its non-blocking look at the
		 * sockets: the blocking look below returns at once when
		 * something is there already. */
		check_stop(p);
		dispatch(p);
		sync_progress(p);
		n = take_done(p, out, max);
		if (n > 0)
			return (ssize_t)n;
		if (p->pending == 0)
			return p->broken;
		if (deadline >= 0) {
			int64_t left = deadline - util_mono_ns();
			if (left <= 0)
				return 0;
			if (left < slice_ms * NS_PER_MS)
				slice_ms = (int)((left + NS_PER_MS - 1) /
						 NS_PER_MS);
		}
		/* A result due within microseconds (a short task): look
		 * for it a moment before sleeping. */
		if (p->spin && spin_for_events(p))
			continue;
		handle_events(p, slice_ms);
	}
}

int procpool_error(const struct procpool *p)
{
	return p->broken;
}

uint32_t procpool_pending(const struct procpool *p)
{
	return p->pending;
}

uint32_t procpool_workers(const struct procpool *p)
{
	return live_workers(p);
}

uint32_t procpool_deaths(const struct procpool *p)
{
	return p->deaths;
}

pid_t procpool_worker_pid(struct procpool *p, uint32_t i)
{
	int64_t until = util_mono_ns() + FS_EXIT_WAIT_NS;

	if (i >= p->n_workers)
		return 0;
	/* A fork server says a new worker's pid a moment after it forks. */
	while (p->start == PROCPOOL_FORKSERVER && p->w[i].sock >= 0 &&
	       !p->w[i].fs_forked && !p->fs_dead && util_mono_ns() < until) {
		struct pollfd pfd = {.fd = p->fs_sock, .events = POLLIN};

		poll(&pfd, 1, STOP_POLL_MS);
		fs_on_readable(p);
	}
	return p->w[i].pid;
}

/* True while worker i, known only by its pid (no pidfd), has not exited.
 * A fork server's child is its to reap, so only asked whether it exists. */
static bool pid_alive(struct procpool *p, uint32_t i, bool *reaped)
{
	if (p->start == PROCPOOL_FORKSERVER)
		return kill(p->w[i].pid, 0) == 0;
	if (waitpid(p->w[i].pid, NULL, WNOHANG) != 0) {
		*reaped = true;
		return false;
	}
	return true;
}

/* Waits for every worker to exit, up to grace_ns, through pidfds, or where
 * none can be had (an old kernel, valgrind) by asking after the pid every
 * millisecond; kills the rest.  A worker records its task's end just after
 * sending the result, so killing it at once could lose that end.  Every
 * worker is reaped before this returns. */
static void reap_all(struct procpool *p, int64_t grace_ns)
{
	struct pollfd pfd[PROCPOOL_MAX_WORKERS];
	uint32_t idx[PROCPOOL_MAX_WORKERS], bare[PROCPOOL_MAX_WORKERS];
	bool reaped[PROCPOOL_MAX_WORKERS] = {false};
	int64_t deadline = util_mono_ns() + (grace_ns > 0 ? grace_ns : 0);
	nfds_t n = 0;
	uint32_t n_bare = 0;

	for (uint32_t i = 0; i < p->n_workers; i++) {
		if (p->w[i].pid <= 0)
			continue;
		int fd = (int)syscall(SYS_pidfd_open, p->w[i].pid, 0);
		if (fd < 0) {
			bare[n_bare++] = i;
			continue;
		}
		pfd[n] = (struct pollfd){.fd = fd, .events = POLLIN};
		idx[n++] = i;
	}
	for (;;) {
		int64_t left = deadline - util_mono_ns();
		bool all_gone = true;
		int wait_ms;

		for (nfds_t k = 0; k < n; k++) {
			if (!(pfd[k].revents & POLLIN))
				all_gone = false;
		}
		for (uint32_t k = 0; k < n_bare; k++) {
			if (!reaped[bare[k]] &&
			    pid_alive(p, bare[k], &reaped[bare[k]]))
				all_gone = false;
		}
		if (all_gone || left <= 0)
			break;
		wait_ms = (int)((left + NS_PER_MS - 1) / NS_PER_MS);
		if (n_bare > 0 && wait_ms > 1)
			wait_ms = 1;
		if (poll(pfd, n, wait_ms) < 0 && errno != EINTR)
			break;
	}
	for (nfds_t k = 0; k < n; k++) {
		if (!(pfd[k].revents & POLLIN))
			kill(p->w[idx[k]].pid, SIGKILL);
		close(pfd[k].fd);
	}
	for (uint32_t k = 0; k < n_bare; k++) {
		if (!reaped[bare[k]])
			kill(p->w[bare[k]].pid, SIGKILL);
	}
	for (uint32_t i = 0; i < p->n_workers; i++) {
		if (p->w[i].pid <= 0)
			continue;
		/* A fork server's children are its to reap. */
		while (p->start != PROCPOOL_FORKSERVER && !reaped[i] &&
		       waitpid(p->w[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		p->w[i].pid = 0;
		p->w[i].state = W_EMPTY;
	}
}

/* Ends the fork server: at end of file on its socket it waits for its
 * children, which are gone by now, and leaves; after grace_ns it is
 * killed.  It is reaped before this returns. */
static void fs_stop(struct procpool *p, int64_t grace_ns)
{
	int64_t until = util_mono_ns() + (grace_ns > 0 ? grace_ns : 0);

	if (p->fs_sock >= 0) {
		if (!p->fs_dead)
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->fs_sock, NULL);
		close(p->fs_sock);
		p->fs_sock = -1;
	}
	if (p->fs_pid <= 0)
		return;
	for (;;) {
		pid_t r = waitpid(p->fs_pid, NULL, WNOHANG);

		if (r == p->fs_pid || (r < 0 && errno != EINTR))
			break;
		if (util_mono_ns() >= until) {
			kill(p->fs_pid, SIGKILL);
			while (waitpid(p->fs_pid, NULL, 0) < 0 &&
			       errno == EINTR)
				;
			break;
		}
		poll(NULL, 0, 1);
	}
	p->fs_pid = 0;
}

void procpool_destroy(struct procpool *p, int64_t grace_ns)
{
	if (!p)
		return;
	p->stopping = true;
	for (uint32_t i = 0; i < p->n_workers; i++) {
		struct pool_worker *w = &p->w[i];

		if (w->sock < 0)
			continue;
		/* A task still running ends early, then its worker finds
		 * end of file. */
		if (w->has_job) {
			atomic_store(&p->slots[i].ctx.stop, RUN_CANCELLED);
			exec_stop_wake(&p->slots[i].ctx.stop);
		}
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->sock, NULL);
		close(w->sock);
		w->sock = -1;
	}
	reap_all(p, grace_ns);
	fs_stop(p, grace_ns);
	if (p->slots)
		munmap(p->slots, p->shm_size);
	if (p->shm_fd >= 0)
		close(p->shm_fd);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p->queue);
	free(p->done);
	free(p->scratch);
	free(p);
}
