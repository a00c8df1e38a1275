/*
 * model_asyncio: asyncio's event loop, one thread on epoll with a timer
 * heap (loop.h).  Every task is a state machine over its steps, not a
 * thread and not a stack: 24 bytes of state and its step index, so 100,000
 * tasks sleeping at once cost a few megabytes.  A task runs from one await
 * to the next inside the loop thread, as a coroutine does:
 *
 *   sleep  a timer; the sleep segment ends when the timer is due, and if
 *          the loop was busy then (computing, or running other callbacks),
 *          a ready segment follows until the loop gets round to the task:
 *          the task could run, the loop could not run it.  The lateness is
 *          also loop lag (fire time minus due time; the worst is the
 *          summary's max_loop_lag_ns; a reply seen later than its
 *          request's delay counts the same, and is split into io and ready
 *          alike)
 *   net    a request to the latency peer through the run's connection
 *          pool (netpool.h): many requests share a few connections kept
 *          open, as HTTP/2 streams do; a request that has to wait for its
 *          connection to open records a connect segment, then the wait
 *          for the reply is io, due the step's duration after the request
 *          went out (a reply seen later counts as loop lag)
 *   cpu    runs on the loop thread and blocks it, as a CPU-bound call in a
 *          coroutine does: nothing else on the loop moves meanwhile
 *   disk   a blocking file call on the loop thread (asyncio has no
 *          non-blocking files)
 *
 * An iteration follows asyncio's _run_once: poll with a timeout reaching
 * to the next timer (zero when callbacks are ready), resume the tasks whose
 * descriptors or timers fired, then run the callbacks that were ready when
 * the iteration began.  Options: limit puts an asyncio.Semaphore around
 * every task (sem-wait segments, note "limit", handed over FIFO on
 * release); collect says whether results are gathered in submission order
 * or as_completed in finish order (checks.collect_order names the mode;
 * collected and finish_order list the first 20 task ids of each).  With
 * an executor (model_asyncio.h) the same loop hands cpu steps, and
 * optionally blocking I/O, to worker threads or processes and keeps
 * serving timers meanwhile.
 *
 * Recording: what happens on the loop (task starts, wait and compute
 * segments, open hints) goes to the loop lane's ring; the main
 * coroutine's bookkeeping (a task submitted, a task done) goes to the
 * main lane's ring from the same thread.  When 100,000 tasks start at
 * once the loop produces events faster than the collector drains one
 * ring, and a full ring makes the loop wait (ring_push): two rings
 * halve that wait; the rings' size is the run's choice (run.c).
 *
 * With costs=python every resume of a task first computes on the loop for
 * the task switch measured in CPython (a few microseconds: the loop's
 * callback, the coroutine's send): 100,000 tasks pay it on one thread.
 *
 * Over 1,000 lines on purpose: it is one state machine, and every step
 * kind's handlers read and write the same struct aio (ready queue, timers,
 * sockets, the executor's in-flight count); split by step kind, each part
 * would need all of it through a private header, and the order of one
 * iteration would no longer be readable in one place.
 */
#include "model_asyncio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec.h"
#include "ilist.h"
#include "loop.h"
#include "netpool.h"
#include "sync.h"
#include "trace.h"

#define NIL ILIST_NIL
#define TOKEN_EXECUTOR UINT64_MAX
/* The connection pool's descriptors: tokens from here up (task ids are
 * below 2^32). */
#define TOKEN_NET_BASE (UINT64_C(1) << 40)
/* Timers a sync step asked for (a rate limiter's slot, a backoff, a
 * request's timeout) carry this bit on the task id. */
#define TIMER_SYNC (1u << 31)
/* A task's timeout (asyncio.timeout around its steps) carries this bit. */
#define TIMER_TIMEOUT (1u << 30)
/* How many task ids of each order go into the checks. */
#define ORDER_SHOWN_MAX 20
/* The longest the loop sleeps without looking at ctx->stop. */
#define STOP_POLL_NS (20 * NS_PER_MS)
/* A cpu step on the loop looks at ctx->stop this often. */
#define CPU_SLICE_NS NS_PER_MS
/* How long a stopped loop waits for jobs already in its executor. */
#define EXEC_DRAIN_NS (5 * NS_PER_S)
/* Descriptors kept free for everything else when sizing net slots. */
#define FD_RESERVE 128
/* A task that waited less than this for the loop to get round to it was
 * in the loop's ordinary dispatch, not held back by a busy loop: the time
 * stays in the wait it follows rather than becoming a ready segment. */
#define READY_MIN_NS (200 * NS_PER_US)

/* Step results besides 0 (done) and a negative errno. */
#define STEP_WAITING 1

enum aio_phase {
	PH_NEW,		/* submitted, not started */
	PH_READY,	/* in the ready queue, or stopped while runnable */
	PH_SEM,		/* waiting for the limit semaphore */
	PH_SLEEP,	/* waiting for its timer */
	PH_NET_SLOT,	/* net: every connection full, none may be opened */
	PH_NET_CONNECT, /* net: waiting for its connection to open */
	PH_NET_RECV,	/* net: the request is out, waiting for the reply */
	PH_EXEC,	/* its current step runs in the executor */
	PH_BLOCKED,	/* waiting on a synchronisation object, which its
			 * current step names */
	PH_SYNC_TIMER,	/* a sync step waits for a time (t0_ns = due) */
	PH_DONE,
};

enum aio_task_flags {
	F_HOLDS_LIMIT = 1u << 0, /* past the limit semaphore */
	F_SYNC = 1u << 2, /* the net or executor job belongs to a sync step
			   * (sync.h): its end goes back to sync_coop_step */
	F_READY_SINCE = 1u << 4,  /* in the ready queue since t0_ns, which
				  * the loop records as ready when it gets
				  * round to the task */
	F_ABANDONED = 1u << 5,	  /* timed out while its executor job ran: the
				* job's end is only counted */
	F_CANCEL_ASKED = 1u << 6, /* another task called cancel() on it */
};

/* How the main coroutine awaits the tasks (the option group). */
enum aio_group {
	GROUP_RETURN_EXCEPTIONS, /* gather(..., return_exceptions=True) */
	GROUP_GATHER,		 /* gather: the first exception reaches main */
	GROUP_TASKGROUP,	 /* TaskGroup: an exception cancels the rest */
	GROUP_WAIT_FIRST,	 /* asyncio.wait(FIRST_COMPLETED) */
};

/* The main coroutine's work on what woke it, on the main lane. */
#define MAIN_HANDLE_NS NS_PER_MS

/* Everything a task owns on the loop.  Kept small on purpose: with
 * 100,000 tasks every byte here is 100 kB. */
struct aio_task {
	int64_t t0_ns; /* when the current wait began */
	uint32_t pc;   /* the current step, an index into prog->steps */
	uint32_t next; /* link in the ready queue or one wait list */
	int32_t conn;  /* net: the pool's connection of its request, or -1 */
	uint16_t seq;  /* net: its requests so far, so that the answer to
			* one it gave up on is not taken for the next */
	uint8_t phase; /* enum aio_phase */
	uint8_t flags; /* enum aio_task_flags */
};

/* What the loop measured that outlives it, in ctx->model_state until
 * asyncio_report() puts it into the trace. */
struct aio_report {
	int64_t max_lag_ns; /* -1: no timer fired */
	char collect_order[16];
};

struct aio {
	struct run_ctx *ctx;
	struct aio_report *report;
	const struct program *prog;
	struct rec_lane *lane; /* the loop's: starts, segments */
	/* The main lane, the same thread here: the main coroutine's
	 * bookkeeping (task submitted, task done) goes to its ring, which
	 * halves the load on the loop's ring; the collector takes at most a
	 * ring's capacity from each ring per pass, so two rings drain twice
	 * as fast when 100,000 tasks start at once. */
	struct rec_lane *main;
	struct loop *loop;
	const struct asyncio_executor *ex;
	struct gil *gil; /* the loop's GIL (executor threads), or NULL */
	struct sync_coop_env senv; /* the sync steps' way back to the loop */

	struct aio_task *tasks;
	uint32_t n_tasks;
	uint32_t live; /* tasks not ended */

	struct ilist ready;

	/* limit: an asyncio.Semaphore around every task */
	bool limited;
	int64_t limit_free;
	struct ilist limit_waiters;

	/* net: the connection pool; tasks with a request in it, and tasks
	 * waiting for room in it (its connections are bounded by the
	 * descriptor limit; the wait is part of their connect segment, as a
	 * connection pool's limit makes a request wait) */
	struct netpool *np;
	uint32_t net_in_use;
	struct ilist net_waiters;

	uint32_t exec_inflight;

	bool as_completed;
	enum aio_group group;
	bool main_resumed;	  /* before every task ended (group) */
	uint32_t main_resumed_by; /* the task whose end woke main */
	int64_t main_resumed_ns;
	/* Tasks another task called cancel() on: the loop cancels them
	 * after the callbacks of this iteration, as asyncio throws
	 * CancelledError into a task only when it next runs. */
	uint32_t *cancels;
	uint32_t n_cancels;
	uint32_t finish_order[ORDER_SHOWN_MAX]; /* the first to finish */
	uint32_t n_finished;
	uint32_t daemons;   /* daemon tasks not yet finished */
	int64_t max_lag_ns; /* -1 until a timer fires */
	/* when the loop last went to poll and came back: a wait over before
	 * it went was over while the loop was busy */
	int64_t poll_in_ns, poll_out_ns;
	uint64_t cpu_sink; /* keeps the cpu steps' results alive */
};

static void task_continue(struct aio *a, uint32_t id);
static void sync_resume(struct aio *a, uint32_t id, int result);
static void net_release(struct aio *a, uint32_t id);
static uint64_t net_id(const struct aio *a, uint32_t id);
static void on_task_timeout(struct aio *a, uint32_t id);
static void task_cut(struct aio *a, uint32_t id, const struct step *s);
static void task_abandon(struct aio *a, uint32_t id, enum task_status status,
			 uint32_t note);
static void group_on_end(struct aio *a, uint32_t id, enum task_status status);
static void cancel_ask(struct aio *a, uint32_t victim);

/* ---- small helpers ------------------------------------------------------ */

/* The ready queue and the wait lists: FIFOs of tasks threaded through
 * aio_task.next; a task waits in at most one list at a time (the ready
 * queue counts as one). */
static struct ilist_links task_links(struct aio *a)
{
	return ILIST_LINKS(a->tasks, struct aio_task, next);
}

static void list_push(struct aio *a, struct ilist *l, uint32_t id)
{
	ilist_push(l, task_links(a), id);
}

static uint32_t list_pop(struct aio *a, struct ilist *l)
{
	return ilist_pop(l, task_links(a));
}

/* Takes id out of l wherever it is (a request cancelled while it waited
 * for a connection slot); O(n), and rare. */
static void list_remove(struct aio *a, struct ilist *l, uint32_t id)
{
	ilist_remove(l, task_links(a), id);
}

static void make_ready(struct aio *a, uint32_t id)
{
	a->tasks[id].phase = PH_READY;
	list_push(a, &a->ready, id);
}

/* make_ready for a task whose wait the loop has recorded already (a
 * semaphore handed over, a sleep(0)): from now it waits only for the loop,
 * and the loop records that as ready when it gets round to it.  (A task
 * woken by a shared object is not: its wait is recorded when it resumes.) */
static void make_ready_since(struct aio *a, uint32_t id, int64_t now)
{
	a->tasks[id].t0_ns = now;
	a->tasks[id].flags |= F_READY_SINCE;
	make_ready(a, id);
}

static bool stopped(const struct aio *a)
{
	return atomic_load_explicit(&a->ctx->stop, memory_order_relaxed) != 0;
}

/* Gives the GIL to a worker thread that asked for it, as CPython's eval
 * loop does between bytecodes; a cheap check when nobody waits. */
static void gil_check(struct aio *a)
{
	if (a->gil && gil_drop_requested(a->gil))
		gil_yield(a->gil);
}

/* A wait begins: remember when, and tell live viewers. */
static void wait_begin(struct aio *a, uint32_t id, enum aio_phase phase,
		       enum seg_state state, uint32_t note)
{
	struct aio_task *t = &a->tasks[id];

	t->t0_ns = rec_now(a->lane);
	t->phase = (uint8_t)phase;
	rec_open(a->lane, id, state, t->t0_ns, note);
}

/* The wait ends now: records it and returns now. */
static int64_t wait_end(struct aio *a, uint32_t id, enum seg_state state,
			uint32_t note)
{
	int64_t now = rec_now(a->lane);

	rec_segment(a->lane, id, state, a->tasks[id].t0_ns, now, note);
	return now;
}

/* A wait from t0_ns, over at due_ns (a timer, a reply), is seen now.  If
 * the loop was busy then (due_ns came before it last went to poll: it was
 * running callbacks, or computing), the task was ready from due_ns; if it
 * was polling, from when the poll returned.  The time from there until
 * the loop got round to the task is a ready segment, the task's wait for
 * the loop; the rest is the wait's own.  Nothing comes before it is due
 * (the peer's timer and the loop's are never early): a reply read after
 * that poll's callbacks had run for a while (the same readable
 * connection read again) came in then, not when the poll returned. */
static void wait_end_due(struct aio *a, uint32_t id, enum seg_state state,
			 int64_t t0_ns, int64_t due_ns, int64_t now,
			 uint32_t note)
{
	int64_t ready_ns = due_ns < a->poll_in_ns ? due_ns : a->poll_out_ns;

	if (ready_ns < due_ns)
		ready_ns = due_ns;

	if (ready_ns > t0_ns && now - ready_ns >= READY_MIN_NS) {
		rec_segment(a->lane, id, state, t0_ns, ready_ns, note);
		rec_segment(a->lane, id, ST_READY, ready_ns, now, 0);
	} else {
		rec_segment(a->lane, id, state, t0_ns, now, note);
	}
}

/* A sleep's note: a timer step's delay (loop.call_later) says so. */
static uint32_t sleep_note(const struct aio *a, uint32_t id)
{
	return a->prog->steps[a->tasks[id].pc].kind == STEP_TIMER
		       ? REC_NOTE_TIMER
		       : 0;
}

/* The note the limit semaphore's waits carry ("limit"). */
static uint32_t limit_note(void)
{
	return REC_NOTE_LIMIT;
}

/* ---- task life ---------------------------------------------------------- */

static void limit_release(struct aio *a)
{
	uint32_t w = list_pop(a, &a->limit_waiters);

	if (w == NIL) {
		a->limit_free++;
		return;
	}
	/* Hand the permit straight to the first waiter, so no task that
	 * arrives later can take it first (asyncio's Semaphore is fair in
	 * the same way since 3.11.1). */
	int64_t now = wait_end(a, w, ST_SEM_WAIT, limit_note());

	a->tasks[w].flags |= F_HOLDS_LIMIT;
	make_ready_since(a, w, now);
}

/* Ends task id with status, noted (REC_NOTE_RAISED, what cancelled it)
 * or not (0). */
static void task_finish(struct aio *a, uint32_t id, enum task_status status,
			uint32_t note)
{
	struct aio_task *t = &a->tasks[id];

	sync_task_end(a->ctx->sync, id);
	rec_task_end_note(a->main, id, rec_now(a->main), status, note);
	t->phase = PH_DONE;
	a->live--;
	if (a->prog->tasks[id].flags & TASK_F_DAEMON)
		a->daemons--;
	if (a->n_finished < ORDER_SHOWN_MAX)
		a->finish_order[a->n_finished] = id;
	a->n_finished++;
	if (t->flags & F_HOLDS_LIMIT) {
		t->flags &= (uint8_t)~F_HOLDS_LIMIT;
		limit_release(a);
	}
	group_on_end(a, id, status);
}

static enum task_status status_of(int err)
{
	switch (err) {
	case -ECANCELED:
		return TASK_CANCELLED;
	case -ETIMEDOUT:
		return TASK_TIMEOUT;
	default:
		return TASK_ERROR;
	}
}

/* Ends a task whose step failed; the run's message names the first such
 * task, the step and the reason. */
static void task_fail(struct aio *a, uint32_t id, int err, int signal)
{
	struct run_ctx *ctx = a->ctx;
	const struct step *s = &a->prog->steps[a->tasks[id].pc];
	enum task_status status = signal ? TASK_ERROR : status_of(err);

	/* Once the run stopped, the message belongs to whoever stopped it. */
	if (status == TASK_ERROR && !stopped(a) && ctx->message[0] == '\0') {
		char name[64];

		program_task_name(a->prog, id, name, sizeof(name));
		if (err == EXEC_RAISED)
			snprintf(ctx->message, sizeof(ctx->message),
				 "%s raised RuntimeError (a fail step)", name);
		else if (signal)
			snprintf(ctx->message, sizeof(ctx->message),
				 "%s: the executor's worker died of signal %d",
				 name, signal);
		else if (err == -ENOTSUP)
			snprintf(ctx->message, sizeof(ctx->message),
				 "%s: step %s not supported by asyncio", name,
				 step_kind_name((enum step_kind)s->kind));
		else
			snprintf(ctx->message, sizeof(ctx->message),
				 "%s: %s: %s", name,
				 step_kind_name((enum step_kind)s->kind),
				 strerror(-err));
	}
	task_finish(a, id, status,
		    err == EXEC_RAISED && !signal ? REC_NOTE_RAISED : 0);
}

/* The task's current step finished after a wait: go on to the next. */
static void step_resume(struct aio *a, uint32_t id)
{
	struct aio_task *t = &a->tasks[id];

	t->pc++;
	atomic_fetch_add_explicit(&a->ctx->progress, 1, memory_order_relaxed);
	if (stopped(a)) {
		/* Runnable but not run: the wind-down cancels it. */
		t->phase = PH_READY;
		return;
	}
	task_continue(a, id);
}

static void task_start(struct aio *a, uint32_t id)
{
	int64_t timeout_ns = a->prog->tasks[id].timeout_ns;

	sync_task_begin(a->ctx->sync, id);
	rec_task_start(a->lane, id, rec_now(a->lane));
	/* asyncio.timeout: a timer that cancels the task where it waits.
	 * Without room for it the task runs without its timeout. */
	if (timeout_ns > 0)
		loop_add_timer(a->loop, rec_now(a->lane) + timeout_ns,
			       id | TIMER_TIMEOUT);
	if (a->limited) {
		if (a->limit_free == 0) {
			wait_begin(a, id, PH_SEM, ST_SEM_WAIT, limit_note());
			list_push(a, &a->limit_waiters, id);
			return;
		}
		a->limit_free--;
		a->tasks[id].flags |= F_HOLDS_LIMIT;
	}
	task_continue(a, id);
}

/* ---- steps -------------------------------------------------------------- */

/* Runs a cpu step on the loop thread: the loop is blocked meanwhile, which
 * is the point.  Sliced only to notice a stopped run.  note marks a
 * cpu-nogil step's computation (which releases a GIL nobody else on the
 * loop wants). */
static int cpu_on_loop(struct aio *a, uint32_t id, const struct step *s,
		       uint32_t note)
{
	const struct cpu_calib *cal = &a->ctx->cpu;
	uint64_t slice = cpu_iters_for_ns(cal, CPU_SLICE_NS);
	uint64_t done = 0, left;
	int64_t t0 = rec_now(a->lane);
	struct exec_runwatch rw;
	struct cpu_work work;
	int err = 0;

	if (slice == 0)
		slice = 1;
	cpu_work_start(&work, cal, s->n > 0 ? (uint64_t)s->n : 0, s->ns, slice);
	/* A live viewer sees a long computation grow, as it sees waits. */
	if (work.iters >= slice)
		rec_open(a->lane, id, ST_COMPUTE, t0, note);
	/* The loop thread too may wait for a core (exec.h). */
	exec_runwatch_start(&rw, t0, work.iters >= slice);
	while ((left = cpu_work_left(&work, done)) > 0) {
		uint64_t n = left < slice ? left : slice;
		int64_t s0 = rw.wall_ns, off;

		a->cpu_sink += cpu_burn(n, a->cpu_sink + id);
		done += n;
		off = exec_runwatch_look(&rw, rec_now(a->lane));
		if (off > 0) {
			if (s0 > t0)
				rec_segment(a->lane, id, ST_COMPUTE, t0, s0,
					    note);
			rec_segment(a->lane, id, ST_RUNNABLE, s0, s0 + off,
				    REC_NOTE_CPU_CLOCK);
			t0 = s0 + off;
		}
		if (cpu_work_left(&work, done) > 0 && stopped(a)) {
			err = -ECANCELED;
			break;
		}
	}
	rec_segment(a->lane, id, ST_COMPUTE, t0, rec_now(a->lane), note);
	return err;
}

/* A disk step blocks the loop thread too: exec_step does the file call and
 * records it (releasing the loop's GIL around it when there is one). */
static int disk_on_loop(struct aio *a, uint32_t id, const struct step *s)
{
	struct exec_ctx x = {.run = a->ctx,
			     .lane = a->lane,
			     .gil = a->gil,
			     .task = id,
			     .holds_gil = a->gil != NULL};

	return exec_step(&x, s);
}

/* A block step (time.sleep in a coroutine) sleeps on the loop thread:
 * nothing else on the loop moves meanwhile; tasks whose waits end then
 * are ready until it returns. */
static int block_on_loop(struct aio *a, uint32_t id, const struct step *s)
{
	struct exec_ctx x = {.run = a->ctx,
			     .lane = a->lane,
			     .gil = a->gil,
			     .task = id,
			     .holds_gil = a->gil != NULL};

	return exec_block_step(&x, s);
}

static int sleep_begin(struct aio *a, uint32_t id, const struct step *s)
{
	struct aio_task *t = &a->tasks[id];

	if (s->ns <= 0) {
		/* asyncio.sleep(0): yield to the other ready callbacks. */
		t->pc++;
		atomic_fetch_add_explicit(&a->ctx->progress, 1,
					  memory_order_relaxed);
		make_ready_since(a, id, rec_now(a->lane));
		return STEP_WAITING;
	}
	wait_begin(a, id, PH_SLEEP, ST_SLEEP, sleep_note(a, id));
	if (loop_add_timer(a->loop, t->t0_ns + s->ns, id) < 0) {
		wait_end(a, id, ST_SLEEP, sleep_note(a, id));
		return -ENOMEM;
	}
	return STEP_WAITING;
}

/* A timer a sync step asked for: the limiter's slot or the backoff's end
 * (PH_SYNC_TIMER, due when the task said), or a request's timeout, which
 * cancels the request as asyncio.wait_for does.  A timer left from an
 * earlier wait has another due time and is ignored. */
static void on_sync_timer(struct aio *a, uint32_t id, int64_t due_ns)
{
	struct aio_task *t = &a->tasks[id];
	struct sync_want w;

	if (t->phase == PH_SYNC_TIMER && due_ns == t->t0_ns) {
		sync_resume(a, id, 0);
		return;
	}
	if (!(t->flags & F_SYNC) || t->phase < PH_NET_SLOT ||
	    t->phase > PH_NET_RECV ||
	    !sync_coop_net_want(a->ctx->sync, id, &a->prog->steps[t->pc], &w) ||
	    w.timeout_ns <= 0 || due_ns != t->t0_ns + w.timeout_ns)
		return;
	if (t->phase == PH_NET_SLOT)
		list_remove(a, &a->net_waiters, id);
	else
		netpool_cancel(a->np, t->conn, net_id(a, id));
	net_release(a, id);
	t->flags &= (uint8_t)~F_SYNC;
	sync_resume(a, id, -ETIMEDOUT);
}

/* A wake-up came lag_ns after it was due: the worst is the run's max loop
 * lag. */
static void note_lag(struct aio *a, int64_t lag_ns)
{
	if (lag_ns > a->max_lag_ns)
		a->max_lag_ns = lag_ns;
}

static void on_timer(void *arg, uint32_t id, int64_t due_ns)
{
	struct aio *a = arg;
	int64_t now;

	if (id & TIMER_TIMEOUT) {
		if ((id & ~TIMER_TIMEOUT) < a->n_tasks)
			on_task_timeout(a, id & ~TIMER_TIMEOUT);
		gil_check(a);
		return;
	}
	if (id & TIMER_SYNC) {
		if ((id & ~TIMER_SYNC) < a->n_tasks)
			on_sync_timer(a, id & ~TIMER_SYNC, due_ns);
		gil_check(a);
		return;
	}
	if (a->tasks[id].phase != PH_SLEEP)
		return;
	now = rec_now(a->lane);
	wait_end_due(a, id, ST_SLEEP, a->tasks[id].t0_ns, due_ns, now,
		     sleep_note(a, id));
	note_lag(a, now - due_ns);
	step_resume(a, id);
	gil_check(a);
}

/* The pool's id of the task's current request. */
static uint64_t net_id(const struct aio *a, uint32_t id)
{
	return ((uint64_t)a->tasks[id].seq << 32) | id;
}

/* The task's request is over (answered, failed or given up): a later
 * answer to it is not the task's, and a request waiting for room in the
 * pool asks again (from the ready queue, so a chain of failures never
 * recurses). */
static void net_release(struct aio *a, uint32_t id)
{
	struct aio_task *t = &a->tasks[id];
	uint32_t w;

	t->seq++;
	t->conn = -1;
	a->net_in_use--;
	w = list_pop(a, &a->net_waiters);
	if (w != NIL)
		list_push(a, &a->ready, w); /* stays PH_NET_SLOT: asks next */
}

/* The request went out at now: the wait for the reply begins, after the
 * connect segment when there was one (open since t0_ns).  A sync step's
 * attempt has one io segment of sync's own, from its start. */
static void net_sent(struct aio *a, uint32_t id, int64_t now, bool connect_open)
{
	struct aio_task *t = &a->tasks[id];

	t->phase = PH_NET_RECV;
	if (t->flags & F_SYNC)
		return;
	if (connect_open)
		rec_segment(a->lane, id, ST_CONNECT, t->t0_ns, now, 0);
	t->t0_ns = now;
	rec_open(a->lane, id, ST_IO, now, 0);
}

/* Puts the task's request into the pool at now.  connect_open says
 * whether its connect segment is open already (a retry for room).
 * Returns 0 (the task waits) or a negative errno. */
static int net_ask(struct aio *a, uint32_t id, int64_t now, bool connect_open)
{
	struct aio_task *t = &a->tasks[id];
	const struct step *s = &a->prog->steps[t->pc];
	int64_t delay_ns = s->ns, reply = s->aux > 0 ? s->aux : 0;
	struct sync_want w;
	int r;

	/* A sync step's request (a scraper attempt) says its own. */
	if ((t->flags & F_SYNC) &&
	    sync_coop_net_want(a->ctx->sync, id, s, &w)) {
		delay_ns = w.ns;
		reply = w.reply_bytes;
	}
	r = netpool_request(a->np, net_id(a, id), delay_ns, reply, now,
			    &t->conn);
	if (r == 0) {
		net_sent(a, id, now, connect_open);
		return 0;
	}
	if (r != 1 && r != -EAGAIN)
		return r;
	if (!connect_open && !(t->flags & F_SYNC))
		rec_open(a->lane, id, ST_CONNECT, t->t0_ns, 0);
	if (r == 1) {
		t->phase = PH_NET_CONNECT;
	} else {
		t->phase = PH_NET_SLOT;
		list_push(a, &a->net_waiters, id);
	}
	return 0;
}

static int net_begin(struct aio *a, uint32_t id)
{
	struct aio_task *t = &a->tasks[id];
	int r;

	t->t0_ns = rec_now(a->lane);
	t->phase = PH_NET_SLOT;
	a->net_in_use++;
	r = net_ask(a, id, t->t0_ns, false);
	if (r < 0) {
		a->net_in_use--;
		return r;
	}
	return STEP_WAITING;
}

/* The task's request ended at now with err (0: answered): its open
 * segment ends, and the task goes on or fails. */
static void net_done(struct aio *a, uint32_t id, int err, int64_t now)
{
	struct aio_task *t = &a->tasks[id];
	enum seg_state state = t->phase == PH_NET_RECV ? ST_IO : ST_CONNECT;
	int64_t due_ns = t->t0_ns + a->prog->steps[t->pc].ns;

	net_release(a, id);
	if (t->flags & F_SYNC) {
		/* sync records the io and decides about a retry. */
		t->flags &= (uint8_t)~F_SYNC;
		sync_resume(a, id, err);
		return;
	}
	if (err || state != ST_IO)
		rec_segment(a->lane, id, state, t->t0_ns, now, 0);
	else
		wait_end_due(a, id, state, t->t0_ns, due_ns, now, 0);
	if (err) {
		task_fail(a, id, err, 0);
		return;
	}
	/* The reply was due the step's delay after the request went out;
	 * later than that, the loop was busy: loop lag, as for a timer. */
	note_lag(a, now - due_ns);
	step_resume(a, id);
}

/* What the pool says about a request. */
static void on_net(void *arg, uint64_t nid, enum netpool_event ev, int err,
		   int64_t t_ns)
{
	struct aio *a = arg;
	uint32_t id = (uint32_t)nid;
	struct aio_task *t;

	if (id >= a->n_tasks)
		return;
	t = &a->tasks[id];
	if ((uint16_t)(nid >> 32) != t->seq || t->phase < PH_NET_SLOT ||
	    t->phase > PH_NET_RECV)
		return;
	switch (ev) {
	case NETPOOL_SENT:
		if (t->phase == PH_NET_CONNECT)
			net_sent(a, id, t_ns, true);
		break;
	case NETPOOL_REPLIED:
		net_done(a, id, 0, t_ns);
		break;
	case NETPOOL_FAILED:
		net_done(a, id, err < 0 ? err : -EIO, t_ns);
		break;
	}
}

/* Hands the current step to the executor; the task waits for its job. */
static int offload(struct aio *a, uint32_t id)
{
	struct aio_task *t = &a->tasks[id];
	int err;

	t->t0_ns = rec_now(a->lane);
	t->phase = PH_EXEC;
	err = a->ex->submit(a->ex->impl, id, t->pc, t->t0_ns);
	if (err < 0)
		return err;
	a->exec_inflight++;
	return STEP_WAITING;
}

static void on_exec_done(void *arg, const struct asyncio_done *d)
{
	struct aio *a = arg;
	struct aio_task *t;

	if (d->task >= a->n_tasks)
		return;
	t = &a->tasks[d->task];
	if (t->phase != PH_EXEC) {
		if (t->flags & F_ABANDONED) {
			/* The job of a task that timed out meanwhile. */
			t->flags &= (uint8_t)~F_ABANDONED;
			a->exec_inflight--;
		}
		return;
	}
	a->exec_inflight--;
	/* The job waited for a free worker from submit to pick-up. */
	if (d->picked_ns > t->t0_ns)
		rec_segment(a->lane, d->task, ST_QUEUED, t->t0_ns, d->picked_ns,
			    0);
	if ((t->flags & F_SYNC) && d->err == 0 && d->signal == 0) {
		/* A consumer's item work: back to its consume step. */
		t->flags &= (uint8_t)~F_SYNC;
		if (stopped(a))
			t->phase = PH_READY;
		else
			sync_resume(a, d->task, 0);
	} else if (d->err == 0 && d->signal == 0)
		step_resume(a, d->task);
	else
		task_fail(a, d->task, d->err ? d->err : -ECHILD, d->signal);
	gil_check(a);
}

/* ---- synchronisation steps (sync.h) ------------------------------------ */

/* sync hands a parked task its object: it runs again next iteration. */
static void sync_wake(void *arg, uint32_t id)
{
	make_ready(arg, id);
}

/* A scraper attempt: the net machinery of net steps, but sync records the
 * io segment and a timer cuts the request off at its timeout. */
static int sync_net_begin(struct aio *a, uint32_t id, const struct sync_want *w)
{
	struct aio_task *t = &a->tasks[id];
	int r;

	t->t0_ns = rec_now(a->lane);
	if (w->timeout_ns > 0 &&
	    loop_add_timer(a->loop, t->t0_ns + w->timeout_ns, id | TIMER_SYNC) <
		    0)
		return -ENOMEM;
	t->flags |= F_SYNC;
	t->phase = PH_NET_SLOT;
	a->net_in_use++;
	r = net_ask(a, id, t->t0_ns, false);
	if (r < 0) {
		a->net_in_use--;
		t->flags &= (uint8_t)~F_SYNC;
		return r;
	}
	return STEP_WAITING;
}

/* Runs (or goes on with) a sync step, doing what it asks until it is done
 * or the task has to wait.  Returns 0, STEP_WAITING or a negative errno. */
static int sync_step(struct aio *a, uint32_t id, const struct step *s,
		     int result)
{
	struct aio_task *t = &a->tasks[id];
	struct sync_want w;

	for (;;) {
		switch (sync_coop_step(a->ctx->sync, &a->senv, id, s, result,
				       &w)) {
		case SYNC_WANT_DONE:
			return w.err;
		case SYNC_WANT_PARKED:
			t->phase = PH_BLOCKED;
			return STEP_WAITING;
		case SYNC_WANT_TIMER:
			t->phase = PH_SYNC_TIMER;
			t->t0_ns = w.due_ns;
			if (loop_add_timer(a->loop, w.due_ns, id | TIMER_SYNC) <
			    0)
				return -ENOMEM;
			return STEP_WAITING;
		case SYNC_WANT_YIELD:
			make_ready(a, id);
			return STEP_WAITING;
		case SYNC_WANT_CPU:
			/* The executor takes any step of the program, a
			 * consumer's item work (outside every task) too;
			 * one that cannot takes runs it here. */
			if (a->ex) {
				t->t0_ns = rec_now(a->lane);
				if (a->ex->submit(a->ex->impl, id, w.step,
						  t->t0_ns) == 0) {
					t->phase = PH_EXEC;
					t->flags |= F_SYNC;
					a->exec_inflight++;
					return STEP_WAITING;
				}
			}
			result = cpu_on_loop(a, id, &a->prog->steps[w.step], 0);
			if (result < 0)
				return result;
			break;
		case SYNC_WANT_NET:
			result = sync_net_begin(a, id, &w);
			if (result == STEP_WAITING)
				return STEP_WAITING;
			break; /* the attempt failed at once: sync decides */
		default:
			return -EINVAL;
		}
	}
}

/* A sync step's wait is over (woken by a timer, its request or its
 * executor job): go on with it, and past it when it is done. */
static void sync_resume(struct aio *a, uint32_t id, int result)
{
	struct aio_task *t = &a->tasks[id];
	int r;

	t->phase = PH_READY;
	r = sync_step(a, id, &a->prog->steps[t->pc], result);
	if (r == STEP_WAITING)
		return;
	if (r < 0) {
		task_fail(a, id, r, 0);
		return;
	}
	step_resume(a, id);
}

/* Starts the task's current step.  Returns 0 when it is done already,
 * STEP_WAITING when the task now waits, or a negative errno.  A new step
 * kind is one more case here (and its wake-up elsewhere); a task that
 * waits on an object sets PH_BLOCKED and joins that object's wait list. */
static int step_begin(struct aio *a, uint32_t id, const struct step *s)
{
	bool offload_io = a->ex && a->ex->offload_io;

	switch (s->kind) {
	case STEP_CPU:
		return a->ex ? offload(a, id) : cpu_on_loop(a, id, s, 0);
	case STEP_CPU_NOGIL:
		return a->ex ? offload(a, id)
			     : cpu_on_loop(a, id, s, REC_NOTE_NOGIL);
	case STEP_SLEEP:
	case STEP_TIMER: /* loop.call_later: the task runs when it is due */
		return sleep_begin(a, id, s);
	case STEP_BLOCK:
		return block_on_loop(a, id, s);
	case STEP_NET:
		return offload_io ? offload(a, id) : net_begin(a, id);
	case STEP_DISK:
		return offload_io ? offload(a, id) : disk_on_loop(a, id, s);
	case STEP_FAIL:
		return EXEC_RAISED;
	case STEP_CANCEL:
		cancel_ask(a, (uint32_t)s->n);
		return 0;
	default:
		/* The synchronisation steps: sync.h says which. */
		return sync_handles(s->kind) ? sync_step(a, id, s, 0)
					     : -ENOTSUP;
	}
}

/* Runs a task from its current step until it waits or ends: what a
 * coroutine does between two awaits. */
static void task_continue(struct aio *a, uint32_t id)
{
	struct aio_task *t = &a->tasks[id];
	const struct task_def *def = &a->prog->tasks[id];
	uint32_t end = def->first_step + def->n_steps;

	/* A cancel asked while its wait was ending (in the same iteration):
	 * asyncio resumes the task with CancelledError, not its result. */
	if (t->flags & F_CANCEL_ASKED) {
		task_finish(a, id, TASK_CANCELLED, REC_NOTE_BY_CANCEL);
		return;
	}
	if (a->ctx->charge_python)
		exec_busy_until(a->ctx, a->lane,
				rec_now(a->lane) +
					a->ctx->python.task_switch_ns);
	while (t->pc < end) {
		int r = step_begin(a, id, &a->prog->steps[t->pc]);

		if (r == STEP_WAITING)
			return;
		if (r < 0) {
			task_fail(a, id, r, 0);
			return;
		}
		t->pc++;
		atomic_fetch_add_explicit(&a->ctx->progress, 1,
					  memory_order_relaxed);
	}
	task_finish(a, id, TASK_OK, 0);
}

/* ---- the loop ----------------------------------------------------------- */

static void on_io(void *arg, uint64_t token, uint32_t events)
{
	struct aio *a = arg;

	if (token == TOKEN_EXECUTOR) {
		int r = a->ex->drain(a->ex->impl, on_exec_done, a);

		if (r < 0 && !stopped(a) && a->ctx->message[0] == '\0')
			snprintf(a->ctx->message, sizeof(a->ctx->message),
				 "the executor stopped: %s", strerror(-r));
		return;
	}
	if (netpool_owns(a->np, token))
		netpool_on_io(a->np, token, events);
	gil_check(a);
}

/* Runs the callbacks that were ready when the iteration began; those they
 * make ready wait for the next iteration. */
static void run_ready(struct aio *a)
{
	uint32_t n = a->ready.len;

	while (n-- > 0) {
		uint32_t id = list_pop(a, &a->ready);
		struct aio_task *t = &a->tasks[id];
		int r;

		if (stopped(a))
			continue; /* the wind-down ends it */
		switch (t->phase) {
		case PH_NEW:
			task_start(a, id);
			break;
		case PH_READY:
			if (t->flags & F_READY_SINCE) {
				int64_t now = rec_now(a->lane);

				t->flags &= (uint8_t)~F_READY_SINCE;
				if (now - t->t0_ns >= READY_MIN_NS)
					rec_segment(a->lane, id, ST_READY,
						    t->t0_ns, now, 0);
			}
			task_continue(a, id);
			break;
		case PH_NET_SLOT: /* a place came free in the pool */
			r = net_ask(a, id, rec_now(a->lane), true);
			if (r < 0)
				net_done(a, id, r, rec_now(a->lane));
			break;
		default:
			break;
		}
		gil_check(a);
	}
}

/* Nothing can wake any live task: no callback ready, no timer, no socket
 * and no job in the executor.  Names what they wait for and stops the
 * run as a deadlock. */
static void declare_deadlock(struct aio *a)
{
	struct run_ctx *ctx = a->ctx;
	size_t off;
	unsigned shown = 0;
	int running = 0;

	/* Whoever raises stop first owns the message. */
	if (!atomic_compare_exchange_strong(&ctx->stop, &running, RUN_DEADLOCK))
		return;
	/* Executor threads may sleep on the flag: end their sleeps now. */
	exec_stop_wake(&ctx->stop);
	/* Tasks parked on the program's objects: sync names them and what
	 * each object's state is. */
	if (ctx->sync && sync_deadlock_message(ctx->sync, ctx->message,
					       sizeof(ctx->message)) > 0)
		return;
	off = (size_t)snprintf(ctx->message, sizeof(ctx->message),
			       "deadlock: %u task%s wait forever:", a->live,
			       a->live == 1 ? "" : "s");
	for (uint32_t id = 0; id < a->n_tasks && shown < 3; id++) {
		const struct aio_task *t = &a->tasks[id];
		const struct step *s = &a->prog->steps[t->pc];
		char name[64];
		const char *what = "limit";

		if (t->phase != PH_BLOCKED && t->phase != PH_SEM)
			continue;
		if (t->phase == PH_BLOCKED && s->object < a->prog->n_objects)
			what = a->prog->objects[s->object].name;
		program_task_name(a->prog, id, name, sizeof(name));
		if (off < sizeof(ctx->message))
			off += (size_t)snprintf(
				ctx->message + off, sizeof(ctx->message) - off,
				"%s %s waits for %s %s", shown ? ";" : "", name,
				t->phase == PH_SEM
					? "semaphore"
					: step_kind_name(
						  (enum step_kind)s->kind),
				what);
		shown++;
	}
}

/* Waits for descriptors with the loop's GIL let go (the executor's threads
 * compute meanwhile), then takes it back before any callback runs: a
 * callback resumes tasks, whose next steps run on the loop thread as
 * Python code does, under the GIL. */
static int poll_without_gil(struct aio *a, int64_t timeout_ns)
{
	int n;

	if (a->gil)
		gil_release(a->gil);
	a->poll_in_ns = rec_now(a->lane);
	n = loop_wait(a->loop, timeout_ns);
	a->poll_out_ns = rec_now(a->lane);
	if (a->gil)
		gil_acquire(a->gil);
	if (n > 0)
		loop_dispatch(a->loop, n, on_io, a);
	return n;
}

/* The run stopped (time limit, cancel, deadlock): jobs already in the
 * executor are waited for briefly, then every task still alive ends as
 * cancelled, its open wait recorded up to now. */
/* Ends task id where it stands with status: its open wait is recorded up
 * to now, and it leaves every list and the connection pool, as a
 * cancelled coroutine does. */
static void task_abandon(struct aio *a, uint32_t id, enum task_status status,
			 uint32_t note)
{
	struct aio_task *t = &a->tasks[id];
	const struct step *s = &a->prog->steps[t->pc];

	switch (t->phase) {
	case PH_DONE:
		return;
	case PH_SEM:
		list_remove(a, &a->limit_waiters, id);
		break;
	case PH_NET_SLOT:
	case PH_NET_CONNECT:
	case PH_NET_RECV:
		if (t->phase == PH_NET_SLOT)
			list_remove(a, &a->net_waiters, id);
		else
			netpool_cancel(a->np, t->conn, net_id(a, id));
		break;
	case PH_EXEC:
		t->flags |= F_ABANDONED;
		break;
	default:
		break;
	}
	task_cut(a, id, s);
	if (t->phase >= PH_NET_SLOT && t->phase <= PH_NET_RECV) {
		t->flags &= (uint8_t)~F_SYNC;
		net_release(a, id);
	}
	/* A job in the executor runs on (a thread cannot be cancelled);
	 * only the task's wait for it ends here. */
	task_finish(a, id, status, note);
}

/* asyncio.timeout expired: the task is cancelled where it waits and ends
 * as timeout. */
static void on_task_timeout(struct aio *a, uint32_t id)
{
	if (a->tasks[id].phase == PH_DONE || a->tasks[id].phase == PH_NEW)
		return;
	task_abandon(a, id, TASK_TIMEOUT, 0);
}

/* task.cancel() on task victim: asked now, done when the loop next gets
 * round to it (cancels_run), as asyncio throws CancelledError into a
 * task only when it next runs.  A task that ended already is left. */
static void cancel_ask(struct aio *a, uint32_t victim)
{
	struct aio_task *t;

	if (victim >= a->n_tasks)
		return;
	t = &a->tasks[victim];
	if (t->phase == PH_DONE || (t->flags & F_CANCEL_ASKED))
		return;
	if (!a->cancels) {
		a->cancels = calloc(a->n_tasks, sizeof(*a->cancels));
		if (!a->cancels)
			return; /* out of memory: the cancel is lost */
	}
	t->flags |= F_CANCEL_ASKED;
	a->cancels[a->n_cancels++] = victim;
}

/* The cancels asked during this iteration: each task ends where it
 * waits, as cancelled. */
static void cancels_run(struct aio *a)
{
	for (uint32_t i = 0; i < a->n_cancels && !stopped(a); i++)
		task_abandon(a, a->cancels[i], TASK_CANCELLED,
			     REC_NOTE_BY_CANCEL);
	a->n_cancels = 0;
}

/* The main coroutine resumes before every task has ended: it works on
 * what woke it (task id's end) on the main lane, briefly and on the loop's
 * thread, as any coroutine does. */
static void main_resume(struct aio *a, uint32_t id, uint32_t note)
{
	const struct cpu_calib *cal = &a->ctx->cpu;
	int64_t t0 = rec_now(a->main);

	a->main_resumed = true;
	a->main_resumed_by = id;
	a->main_resumed_ns = t0;
	a->cpu_sink +=
		cpu_burn(cpu_iters_for_ns(cal, MAIN_HANDLE_NS), a->cpu_sink);
	rec_segment(a->main, id, ST_COMPUTE, t0, rec_now(a->main), note);
}

/* Every task still running but the daemons ends as cancelled, noted
 * with what cancelled it. */
static void cancel_rest(struct aio *a, uint32_t note)
{
	for (uint32_t k = 0; k < a->n_tasks; k++)
		if (a->tasks[k].phase != PH_DONE &&
		    !(a->prog->tasks[k].flags & TASK_F_DAEMON))
			task_abandon(a, k, TASK_CANCELLED, note);
}

/* Task id ended with status: what the main coroutine's way of awaiting
 * the tasks (the option group) does about it.  gather hands main the
 * first exception (a cancel counts as one); main returns, and asyncio.run
 * cancels the tasks still running.  A TaskGroup cancels the siblings of a
 * task that raised (a cancelled task raises nothing), then main resumes
 * with the exception.  asyncio.wait(FIRST_COMPLETED) resumes main at the
 * first end, whatever it was; main then awaits the rest, which run on. */
static void group_on_end(struct aio *a, uint32_t id, enum task_status status)
{
	if (a->main_resumed || stopped(a) ||
	    (a->prog->tasks[id].flags & TASK_F_DAEMON))
		return;
	switch (a->group) {
	case GROUP_GATHER:
		if (status == TASK_OK)
			return;
		main_resume(a, id, REC_NOTE_MAIN_GATHER);
		cancel_rest(a, REC_NOTE_BY_RUN);
		break;
	case GROUP_TASKGROUP:
		if (status != TASK_ERROR && status != TASK_TIMEOUT)
			return;
		a->main_resumed = true; /* the siblings' ends change nothing */
		cancel_rest(a, REC_NOTE_BY_GROUP);
		main_resume(a, id, REC_NOTE_MAIN_GROUP);
		break;
	case GROUP_WAIT_FIRST:
		main_resume(a, id, REC_NOTE_MAIN_FIRST);
		break;
	default:
		break;
	}
}

static void wind_down(struct aio *a)
{
	int64_t until = rec_now(a->lane) + EXEC_DRAIN_NS;

	while (a->exec_inflight > 0 && rec_now(a->lane) < until) {
		int r = poll_without_gil(a, STOP_POLL_NS);

		if (r < 0)
			break;
	}
	for (uint32_t id = 0; id < a->n_tasks; id++) {
		struct aio_task *t = &a->tasks[id];
		const struct step *s = &a->prog->steps[t->pc];

		if (t->phase == PH_DONE)
			continue;
		task_cut(a, id, s);
		/* Permits and slots no longer matter: nobody runs again. */
		t->flags &= (uint8_t)~F_HOLDS_LIMIT;
		task_finish(a, id, TASK_CANCELLED, 0);
	}
}

/* Records task id's open wait (what its phase says it waits in) up to
 * now, and takes it off any sync object's wait list. */
static void task_cut(struct aio *a, uint32_t id, const struct step *s)
{
	struct aio_task *t = &a->tasks[id];

	switch (t->phase) {
	case PH_SEM:
		wait_end(a, id, ST_SEM_WAIT, limit_note());
		break;
	case PH_SLEEP:
		wait_end(a, id, ST_SLEEP, sleep_note(a, id));
		break;
	case PH_NET_SLOT:
	case PH_NET_CONNECT:
	case PH_NET_RECV:
		if (t->flags & F_SYNC)
			sync_coop_abandon(a->ctx->sync, &a->senv, id, s);
		else
			wait_end(a, id,
				 t->phase == PH_NET_RECV ? ST_IO : ST_CONNECT,
				 0);
		break;
	case PH_BLOCKED:
	case PH_SYNC_TIMER:
	case PH_READY:
		if (t->flags & F_READY_SINCE)
			wait_end(a, id, ST_READY, 0);
		/* Inside a sync step: its open wait, as sync knows it. */
		if (sync_handles((enum step_kind)s->kind))
			sync_coop_abandon(a->ctx->sync, &a->senv, id, s);
		break;
	default:
		break;
	}
}

static json_t *order_json(const uint32_t *ids, uint32_t n)
{
	json_t *arr = json_array();

	for (uint32_t i = 0; i < n && i < ORDER_SHOWN_MAX; i++)
		json_array_append_new(arr, json_integer(ids[i]));
	return arr;
}

/* The order results were collected: gather returns them in submission
 * order, as_completed yields them as they finish.  asyncio_report puts
 * the mode into the checks as collect_order, after the objects' checks;
 * the task ids go before them as collected and finish_order. */
static void add_checks(struct aio *a)
{
	struct run_ctx *ctx = a->ctx;
	uint32_t submitted[ORDER_SHOWN_MAX];
	uint32_t n = a->n_finished, k = 0;

	if (!ctx->checks)
		ctx->checks = json_object();
	if (a->main_resumed &&
	    (a->group == GROUP_GATHER || a->group == GROUP_TASKGROUP)) {
		/* main got an exception, not the results. */
		json_object_set_new(ctx->checks, "collected", json_array());
	} else if (a->as_completed) {
		json_object_set_new(ctx->checks, "collected",
				    order_json(a->finish_order, n));
	} else {
		/* Finished tasks, in the order they were submitted. */
		for (uint32_t id = 0; id < a->n_tasks && k < ORDER_SHOWN_MAX;
		     id++)
			if (a->tasks[id].phase == PH_DONE)
				submitted[k++] = id;
		json_object_set_new(ctx->checks, "collected",
				    order_json(submitted, k));
	}
	json_object_set_new(ctx->checks, "finish_order",
			    order_json(a->finish_order, n));
	/* How main awaited the tasks, and when it resumed early. */
	if (a->group != GROUP_RETURN_EXCEPTIONS)
		json_object_set_new(
			ctx->checks, "group",
			json_string(spec_text(&ctx->spec->options, "group")));
	if (a->main_resumed) {
		json_object_set_new(ctx->checks, "main_resumed_ns",
				    json_integer(a->main_resumed_ns));
		json_object_set_new(ctx->checks, "main_resumed_by",
				    json_integer(a->main_resumed_by));
	}
	if (n > ORDER_SHOWN_MAX)
		json_object_set_new(ctx->checks, "orders_truncated",
				    json_true());
}

/* Requests in flight at once are bounded by the descriptors this process
 * may open; each takes two (ours and the peer's end, which lives in this
 * process too).  Raises the soft limit to the hard one first. */
static uint32_t net_slots(const struct program *prog)
{
	struct rlimit rl;
	bool has_net = false;
	rlim_t avail;

	for (size_t i = 0; i < prog->n_steps && !has_net; i++)
		has_net = prog->steps[i].kind == STEP_NET;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 256;
	if (has_net && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 20)
		rl.rlim_cur = 1u << 20;
	avail = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE
					     : rl.rlim_cur / 2;
	return avail / 2 > 0 ? (uint32_t)(avail / 2) : 1;
}

static int aio_init(struct aio *a, struct run_ctx *ctx, struct rec_lane *lane,
		    const struct asyncio_executor *ex)
{
	const struct param_set *opt = &ctx->spec->options;
	size_t n = ctx->prog->n_tasks;

	a->ctx = ctx;
	a->prog = ctx->prog;
	a->lane = lane;
	a->main = ctx->main_lane ? ctx->main_lane : lane;
	a->ex = ex;
	a->gil = ex ? ex->loop_gil : NULL;
	a->senv = (struct sync_coop_env){.run = ctx,
					 .lane = lane,
					 .wake = sync_wake,
					 .wake_ctx = a,
					 .gil = a->gil};
	a->n_tasks = (uint32_t)n;
	a->max_lag_ns = -1;
	ilist_init(&a->ready);
	ilist_init(&a->limit_waiters);
	ilist_init(&a->net_waiters);
	a->limit_free = spec_int(opt, "limit");
	a->limited = a->limit_free > 0;
	a->as_completed = strcmp(spec_text(opt, "collect"), "as_completed") ==
			  0;
	{
		static const char *const groups[] = {
			[GROUP_RETURN_EXCEPTIONS] = "return_exceptions",
			[GROUP_GATHER] = "gather",
			[GROUP_TASKGROUP] = "taskgroup",
			[GROUP_WAIT_FIRST] = "wait_first"};
		const char *g = spec_text(opt, "group");

		for (size_t i = 0; g && i < sizeof(groups) / sizeof(groups[0]);
		     i++)
			if (strcmp(g, groups[i]) == 0)
				a->group = (enum aio_group)i;
	}

	a->tasks = calloc(n ? n : 1, sizeof(*a->tasks));
	if (!a->tasks)
		return -ENOMEM;
	/* Room for every task's timer at once: the 100,000-sleeper case
	 * never reallocates the heap mid-run. */
	a->loop = loop_create(n ? n : 1);
	if (!a->loop)
		return -errno;
	/* Each connection holds two descriptors here, ours and the peer's. */
	a->np = netpool_create(a->loop, ctx->peer_port, TOKEN_NET_BASE,
			       net_slots(ctx->prog), lane->epoch_ns, on_net, a);
	if (!a->np)
		return -ENOMEM;
	if (ex) {
		int err = loop_add_fd(a->loop, ex->fd, EPOLLIN, TOKEN_EXECUTOR);
		if (err < 0)
			return err;
	}
	return 0;
}

static void aio_free(struct aio *a)
{
	netpool_destroy(a->np);
	loop_destroy(a->loop);
	free(a->cancels);
	free(a->tasks);
}

struct rec_lane *asyncio_add_loop_lane(struct run_ctx *ctx)
{
	struct rec_lane *lane =
		trace_rec_add_lane(ctx->rec, LANE_LOOP, "event loop");

	if (lane)
		rec_lane_os_id(lane, gettid());
	return lane;
}

int asyncio_run(struct run_ctx *ctx, struct rec_lane *lane,
		const struct asyncio_executor *ex)
{
	struct aio *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	a->report = calloc(1, sizeof(*a->report));
	if (!a->report) {
		free(a);
		return -ENOMEM;
	}
	a->report->max_lag_ns = -1;
	util_strlcpy(a->report->collect_order,
		     spec_text(&ctx->spec->options, "collect"),
		     sizeof(a->report->collect_order));
	free(ctx->model_state);
	ctx->model_state = a->report;
	err = aio_init(a, ctx, lane, ex);
	if (err < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "asyncio: cannot set up the event loop: %s",
			 strerror(-err));
		goto out_free;
	}
	if (a->gil)
		gil_acquire(a->gil);

	/* The main coroutine creates every task (gather / as_completed);
	 * each first runs in the loop's next iteration, in that order. */
	for (uint32_t id = 0; id < a->n_tasks; id++) {
		struct aio_task *t = &a->tasks[id];

		t->pc = a->prog->tasks[id].first_step;
		t->conn = -1;
		t->phase = PH_NEW;
		rec_task_submit(a->main, id, rec_now(a->main));
		list_push(a, &a->ready, id);
	}
	a->live = a->n_tasks;
	for (uint32_t id = 0; id < a->n_tasks; id++)
		a->daemons += (a->prog->tasks[id].flags & TASK_F_DAEMON) != 0;

	/* asyncio.run returns once the main coroutine has awaited every
	 * task but the ones never awaited (daemon), and cancels those. */
	while (a->live > a->daemons && !stopped(a)) {
		int64_t now = rec_now(lane), timeout;
		int r;

		if (a->ready.len > 0) {
			timeout = 0;
		} else if (loop_timer_count(a->loop) > 0) {
			timeout = loop_next_due(a->loop) - now;
			if (timeout < 0)
				timeout = 0;
		} else if (a->net_in_use == 0 && a->exec_inflight == 0) {
			declare_deadlock(a);
			break;
		} else {
			timeout = STOP_POLL_NS;
		}
		if (timeout > STOP_POLL_NS)
			timeout = STOP_POLL_NS;

		/* The requests this iteration wrote leave together. */
		netpool_flush(a->np);
		r = poll_without_gil(a, timeout);
		if (r < 0) {
			snprintf(ctx->message, sizeof(ctx->message),
				 "asyncio: epoll failed: %s", strerror(-r));
			err = r;
			break;
		}
		loop_run_timers(a->loop, rec_now(lane), on_timer, a);
		run_ready(a);
		cancels_run(a);
	}
	if (a->live > 0 && !stopped(a)) {
		int none = 0;

		/* The rest are daemons: the run is done, they are cut. */
		atomic_compare_exchange_strong(&ctx->stop, &none, RUN_DONE);
		exec_stop_wake(&ctx->stop);
	}
	wind_down(a);
	if (a->gil)
		gil_release(a->gil);
	add_checks(a);
	a->report->max_lag_ns = a->max_lag_ns;
out_free:
	aio_free(a);
	free(a);
	return err;
}

void asyncio_report(struct run_ctx *ctx, struct trace *out)
{
	struct aio_report *rep = ctx->model_state;

	if (!rep)
		return;
	if (rep->collect_order[0] && ctx->checks)
		json_object_set_new(ctx->checks, "collect_order",
				    json_string(rep->collect_order));
	out->summary.max_loop_lag_ns = rep->max_lag_ns;
	free(rep);
	ctx->model_state = NULL;
}

/* ---- the model ---------------------------------------------------------- */

static const struct param_def asyncio_options[] = {
	{"limit", PARAM_INT, "tasks", "0", 0, 100000, NULL,
	 "asyncio.Semaphore around every task: at most this many run at "
	 "once (0: no limit)"},
	{"collect", PARAM_ENUM, "", "gather", 0, 0, "gather|as_completed",
	 "how results are collected: gather (submission order) or "
	 "as_completed (finish order)"},
	ASYNCIO_GROUP_OPTION,
	COSTS_OPTION,
};

static int asyncio_model_run(struct run_ctx *ctx)
{
	struct rec_lane *lane = asyncio_add_loop_lane(ctx);

	if (!lane) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "asyncio: no lane left for the event loop");
		return -ENOSPC;
	}
	return asyncio_run(ctx, lane, NULL);
}

const struct model_ops model_asyncio = {
	.name = "asyncio",
	.help = "one event loop thread on epoll: tasks overlap their waits; "
		"a cpu step blocks every other task",
	.options = asyncio_options,
	.n_options = sizeof(asyncio_options) / sizeof(asyncio_options[0]),
	.max_tasks = 100000,
	.run = asyncio_model_run,
	.report = asyncio_report,
};
