/*
 * exec: one task's steps, run with blocking calls on the calling thread.
 * The thread's GIL and computation are exec_core's; the steps on shared
 * objects and files are sync's blocking half (sync.h).
 *
 * A sleep waits on the run's stop flag (a futex), so raising stop with
 * exec_stop_wake() ends every sleep at once, with no periodic wake-ups.
 * Segments are recorded when they end; an EV_OPEN hint marks the start of
 * every wait and of every computation long enough for a live viewer to see
 * it grow.
 */
#include "exec.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "peer.h"
#include "sync.h"
#include "trace_rec.h"
#include "util.h"

/* Longest uninterrupted sleep: the bound on how late a stop raised without
 * exec_stop_wake() is seen. */
#define EXEC_STOP_SLICE_NS (500 * NS_PER_MS)

static bool stopped(const struct exec_ctx *x)
{
	return atomic_load_explicit(&x->run->stop, memory_order_relaxed) != 0;
}

/* Sleeps until the absolute monotonic time deadline_ns or until the run is
 * stopped, whichever is first.  The sleep is a futex wait on the stop flag
 * itself, so a stop raised with exec_stop_wake() ends it at once and ten
 * thousand sleeping threads cost no wake-ups; a stop raised without the
 * wake is still seen within EXEC_STOP_SLICE_NS.  Returns 0 or
 * -ECANCELED. */
static int sleep_until(struct exec_ctx *x, int64_t deadline_ns)
{
	_Atomic int *stop = &x->run->stop;

	for (;;) {
		if (atomic_load_explicit(stop, memory_order_acquire))
			return -ECANCELED;
		int64_t now = util_mono_ns();

		if (now >= deadline_ns)
			return 0;
		int64_t until = deadline_ns - now > EXEC_STOP_SLICE_NS
					? now + EXEC_STOP_SLICE_NS
					: deadline_ns;
		struct timespec ts = {.tv_sec = until / NS_PER_S,
				      .tv_nsec = until % NS_PER_S};

		/* Returns at once if the flag is no longer 0; EINTR,
		 * ETIMEDOUT and spurious wake-ups all just go round. */
		syscall(SYS_futex, (int *)stop, FUTEX_WAIT_BITSET, 0, &ts, NULL,
			FUTEX_BITSET_MATCH_ANY);
	}
}

/* A sleep (and a block step, time.sleep, which on a thread of its own is
 * the same), noted note. */
static int step_sleep(struct exec_ctx *x, const struct step *s, uint32_t note)
{
	int64_t t0, t1;
	int rc;

	if (s->ns <= 0)
		return 0;
	exec_gil_release(x);
	t0 = rec_now(x->lane);
	rec_open(x->lane, x->task, ST_SLEEP, t0, note);
	rc = sleep_until(x, x->lane->epoch_ns + t0 + s->ns);
	t1 = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_SLEEP, t0, t1, note);
	exec_gil_acquire(x);
	return rc;
}

int exec_block_step(struct exec_ctx *x, const struct step *s)
{
	if (stopped(x))
		return -ECANCELED;
	return step_sleep(x, s, REC_NOTE_BLOCKING);
}

/* A computation in a C extension that releases the GIL around it (as
 * NumPy, hashlib and zlib do for large inputs): other threads compute
 * meanwhile, and it waits for the GIL only to take it back at the end. */
static int step_cpu_nogil(struct exec_ctx *x, const struct step *s)
{
	exec_gil_release(x);
	exec_compute(x, s->n > 0 ? (uint64_t)s->n : 0, s->ns, REC_NOTE_NOGIL);
	exec_gil_acquire(x);
	return stopped(x) ? -ECANCELED : 0;
}

/* A request as the requests library makes one: a connection of its own
 * (the connect segment), then the request and the wait for the whole
 * reply (io).  The reply is due the step's duration after the request
 * went out, and the request says so, so time the peer spent getting to it
 * does not lengthen the wait. */
static int step_net(struct exec_ctx *x, const struct step *s)
{
	_Atomic int *stop = &x->run->stop;
	int64_t t0, t1, t2;
	int fd, rc;

	exec_gil_release(x);
	t0 = rec_now(x->lane);
	rec_open(x->lane, x->task, ST_CONNECT, t0, 0);
	fd = peer_open(x->run->peer_port, INT64_MAX, stop);
	t1 = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_CONNECT, t0, t1, 0);
	if (fd < 0) {
		rc = fd;
		goto out_gil;
	}
	rec_open(x->lane, x->task, ST_IO, t1, 0);
	rc = peer_exchange(fd, x->lane->epoch_ns + t1 + (s->ns > 0 ? s->ns : 0),
			   s->aux > 0 ? s->aux : 0, INT64_MAX, stop);
	t2 = rec_now(x->lane);
	rec_segment(x->lane, x->task, ST_IO, t1, t2, 0);
out_gil:
	exec_gil_acquire(x);
	return rc;
}

int exec_step(struct exec_ctx *x, const struct step *s)
{
	int rc;

	if (s->kind == STEP_CPU)
		return exec_cpu_step(x, s); /* counts its own progress */
	if (stopped(x))
		return -ECANCELED;
	switch ((enum step_kind)s->kind) {
	case STEP_SLEEP:
	case STEP_BLOCK:
		rc = step_sleep(x, s, 0);
		break;
	case STEP_TIMER:
		/* threading.Timer: its thread waits, then calls the task. */
		rc = step_sleep(x, s, REC_NOTE_TIMER);
		break;
	case STEP_CPU_NOGIL:
		rc = step_cpu_nogil(x, s);
		break;
	case STEP_NET:
		rc = step_net(x, s);
		break;
	case STEP_FAIL:
		rc = EXEC_RAISED;
		break;
	default:
		/* Files and the synchronisation steps: sync.h says which. */
		rc = sync_handles(s->kind) ? sync_exec_step(x, s) : -ENOTSUP;
		break;
	}
	atomic_fetch_add_explicit(&x->run->progress, 1, memory_order_relaxed);
	return rc;
}

enum task_status exec_task(struct exec_ctx *x)
{
	const struct task_def *task = &x->run->prog->tasks[x->task];
	const struct step *steps = x->run->prog->steps + task->first_step;
	int rc = 0;

	rec_task_start(x->lane, x->task, rec_now(x->lane));
	/* The deadlock watchdog counts the tasks that run (sync.h). */
	sync_task_begin(x->run->sync, x->task);
	/* A Python thread needs the GIL before it runs any code. */
	exec_gil_acquire(x);
	for (uint32_t i = 0; i < task->n_steps && rc == 0; i++)
		rc = exec_step(x, &steps[i]);
	enum task_status st = exec_status_of(rc);

	sync_task_end(x->run->sync, x->task);
	rec_task_end_note(x->lane, x->task, rec_now(x->lane), st,
			  rc == EXEC_RAISED ? REC_NOTE_RAISED
			  : rc == -EMFILE   ? REC_NOTE_NO_FILES
					    : 0);
	exec_gil_release(x);
	return st;
}
