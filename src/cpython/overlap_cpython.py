"""overlap_cpython: the reference engine, the same program run by CPython.

overlap's models emulate Python's concurrency in C.  This module runs the
same program in a real interpreter, with the primitives a Python programmer
writes: threading.Thread, ThreadPoolExecutor, ProcessPoolExecutor (fork,
spawn, forkserver), asyncio and run_in_executor; threading.Lock, Semaphore,
queue.Queue, Barrier, Event and their multiprocessing and asyncio twins;
`counter.value += 1` as plain Python code; a cpu step as a pure-Python loop
calibrated to its duration; a net step as a real socket to the engine's
latency peer; a disk step as real file writes and reads.

It reads one JSON object on stdin (the run, the options and the program the
engine built from the spec: src/cpython.c writes it) and writes the event
lines of `overlap run --format events` (src/render.h) on stdout, so
everything that reads a run reads this one too.  A GIL wait is not
observable from Python: a computation that was off the CPU while another
thread computed is split into compute and a gil-wait marked
"estimated": true.  Only the standard library is used.
"""

import asyncio
import concurrent.futures
import hashlib
import itertools
import json
import multiprocessing
import os
import queue
import resource
import signal
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time

NS_PER_MS = 1000000
NS_PER_S = 1000000000
# A computation is a loop of chunks of about this much work; between
# chunks it looks at the stop flag and at the thread's CPU time.
CHUNK_NS = NS_PER_MS
# A chunk that took this much longer than the CPU it used, while other
# threads computed, waited for the GIL.
GIL_WAIT_MIN_NS = 200000
# Longest blocking wait before a task looks at the stop flag again.
SLICE_S = 0.1
# The watchdog judges a run stuck after this long without progress.
STUCK_NS = NS_PER_S
# Bytes the peer sends back for a scraper request (as src/sync.c).
REQUEST_REPLY_BYTES = 64
DISK_CHUNK_BYTES = 64 * 1024
# Task ids listed in the asyncio collect checks.
ORDER_SHOWN_MAX = 20
# Longest note a task may carry (the trace reader's limit).
TASK_NOTE_MAX = 95

# A lambda at the top of the main module, as a learner writes one for
# pitfall=lambda: it has no name to be pickled by.
SUBMITTED_LAMBDA = lambda: None  # noqa: E731

TASK_OK, TASK_ERROR, TASK_TIMEOUT, TASK_CANCELLED = (
    "ok", "error", "timeout", "cancelled")

# Operations a blocked task waits in (for the deadlock message).
OP_WORDS = {1: "lock", 2: "semaphore", 3: "queue", 4: "queue",
            5: "barrier", 6: "event", 7: "condition"}
OP_LOCK, OP_SEM, OP_GET, OP_PUT, OP_BARRIER, OP_EVENT, OP_COND = \
    1, 2, 3, 4, 5, 6, 7
OP_VERBS = {OP_LOCK: "waits for lock", OP_SEM: "waits for semaphore",
            OP_GET: "waits to get from queue", OP_PUT: "waits to put into queue",
            OP_BARRIER: "waits at barrier", OP_EVENT: "waits for event",
            OP_COND: "waits for condition"}
# Notes of a cpu-nogil step's computation and of a block step's sleep on
# the event loop (src/protocol.h).
NOTE_NOGIL = "releases the GIL"
NOTE_BLOCKING = "time.sleep: blocks the event loop"
NOTE_TIMER = "timer: waits, then runs the task"
NOTE_CHUNK = "a chunk: one transfer for all its tasks"
# A pipe's buffer (Linux's default): a larger message is written only as
# the other end reads it (src/sync_internal.h).
PIPE_BUFFER_BYTES = 65536
# A fail step's exception, what cancelled a task, and the main coroutine
# resuming before every task ended (asyncio's option group).
RAISED_TEXT = "raised by a fail step"
NOTE_BY_CANCEL = "cancelled by another task's task.cancel()"
NOTE_BY_GROUP = "cancelled by its TaskGroup: a sibling raised"
NOTE_BY_RUN = "cancelled by asyncio.run: main returned without awaiting it"
NOTE_MAIN = {
    "gather": "main resumes: gather raised this task's exception",
    "taskgroup": "main resumes: the TaskGroup raised this task's exception",
    "wait_first": "main resumes: asyncio.wait returned with this task "
                  "done first"}
# The main coroutine's work on what woke it, on the main lane.
MAIN_HANDLE_NS = 1000000
# A cpu-nogil step hashes this many bytes at a time: hashlib releases the
# GIL for inputs over 2 KiB, as NumPy does around its loops.
NOGIL_CHUNK_BYTES = 64 * 1024
TS_IDLE, TS_RUNNING, TS_BLOCKED, TS_ENDED = 0, 1, 2, 3

# Statistics slots (shared memory under process models).
STATS = ("produced", "consumed", "transformed", "succeeded", "failed",
         "retries", "in_flight", "max_in_flight", "disk_files", "disk_bytes",
         "queued_items", "attempted", "progress")
ST = {name: i for i, name in enumerate(STATS)}


class Stopped(Exception):
    """The run was stopped (time limit, deadlock, cancel)."""


class StepTimeout(Exception):
    """A request ran past its timeout."""


def interpreter_info():
    gil_disabled = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return {
        "name": "cpython",
        "version": "%d.%d.%d" % sys.version_info[:3],
        "build": "free-threaded" if gil_disabled else "gil",
    }


def gil_active():
    check = getattr(sys, "_is_gil_enabled", None)
    return check() if check else True


# ---- the clock and the work ------------------------------------------------

EPOCH_NS = 0
# fork-after-threads: the program it runs (a thread holds a lock while a
# fork pool starts; each worker's task takes the lock), and how long a
# worker waits with the lock held before it counts as hung (the model's
# watchdog waits as long for a deadlock).
FORK_HANG_S = 0.2
FORK_AFTER_THREADS = '''\
import concurrent.futures, multiprocessing, os, threading, time
lock = threading.Lock()  # as logging's handler lock
held, release = threading.Event(), threading.Event()
began = multiprocessing.Array("q", %(workers)d * 2, lock=False)

def writer():
    with lock:  # a record being written
        held.set()
        release.wait()

def task(k):
    began[2 * k] = os.getpid()
    began[2 * k + 1] = time.monotonic_ns()
    with lock:  # the task logs a line
        return k

if __name__ == "__main__":
    threading.Thread(target=writer).start()
    held.wait()
    ex = concurrent.futures.ProcessPoolExecutor(
        %(workers)d, mp_context=multiprocessing.get_context("fork"))
    futures = [ex.submit(task, k) for k in range(%(workers)d)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
            began[2 * k + 1] for k in range(%(workers)d)):
        time.sleep(0.005)
    time.sleep(%(hang)r)
    for k, f in enumerate(futures):
        if not f.done() and began[2 * k + 1]:
            print("hung", k, began[2 * k], began[2 * k + 1], flush=True)
    release.set()
    for p in list(ex._processes.values()):
        p.kill()
    ex.shutdown(wait=True, cancel_futures=True)
'''
NOTE_FORK_LOCK = ("a lock another thread held at the fork: nobody here "
                  "will release it")

# The run's multiprocessing.Manager, once a program declares a value
# NAME=manager: started with the objects, shut down at the run's end.
MANAGERS = []


def now_ns():
    return time.monotonic_ns() - EPOCH_NS


def burn(n):
    """The cpu step's work: a sum of squares in pure Python."""
    acc = 0
    for i in range(n):
        acc += i * i
    return acc


def calibrate():
    """Iterations of burn() per millisecond of this thread's CPU time (so a
    busy machine does not make the step shorter): the median of 5 rounds
    of about a chunk each, the size compute() runs them in."""
    n = 20000
    rates = []
    for _ in range(5):
        t0 = time.thread_time_ns()
        burn(n)
        dt = time.thread_time_ns() - t0
        rates.append(n * NS_PER_MS / max(dt, 1))
        n = max(2000, int(rates[-1] * CHUNK_NS / NS_PER_MS))
    rates.sort()
    return rates[len(rates) // 2]


# ---- output ----------------------------------------------------------------

class Out:
    """Event lines on stdout: kept in a list, written in batches."""

    def __init__(self, enabled=True):
        self.lines = []
        self.lock = threading.Lock()
        self.enabled = enabled
        self.stream = sys.stdout

    def put(self, obj):
        if not self.enabled:
            return
        line = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
        with self.lock:
            self.lines.append(line)

    def put_line(self, line):
        """A line already written as JSON (the busy ones, below)."""
        if self.enabled:
            self.lines.append(line)  # list.append is atomic

    def flush(self):
        with self.lock:
            lines, self.lines = self.lines, []
        if lines:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()


_QUOTED = {"": '""', None: "null"}


def quoted(text):
    """A JSON string (or null), remembered: names and notes repeat."""
    q = _QUOTED.get(text)
    if q is None:
        q = json.dumps(text, ensure_ascii=True)
        if len(_QUOTED) < 100000:
            _QUOTED[text] = q
    return q


def num(value):
    return "null" if value is None else "%d" % value


class Recorder:
    """The run's lanes and tasks, kept in the main process; events from
    worker processes come back as lists and are applied here."""

    def __init__(self, out, names):
        self.out = out
        self.lock = threading.Lock()
        self.lanes = []
        self.tasks = [dict(id=i, name=n, lane=None, submit_ns=None,
                           start_ns=None, end_ns=None, status=None, note="")
                      for i, n in enumerate(names)]
        self.computing = 0  # threads inside a computation right now

    def lane(self, kind, name, os_id):
        with self.lock:
            lane = dict(id=len(self.lanes), kind=kind, name=name,
                        os_id=os_id)
            self.lanes.append(lane)
        self.out.put({"type": "lane", "lane": lane})
        return lane["id"]

    def _task(self, task, **change):
        # Written by hand, not by json.dumps: a task's line goes out three
        # times, and recording must cost little next to what it records.
        with self.lock:
            k = self.tasks[task]
            k.update(change)
            line = ('{"type":"task","task":{"id":%d,"name":%s,"lane":%s,'
                    '"submit_ns":%s,"start_ns":%s,"end_ns":%s,'
                    '"status":%s,"note":%s}}' % (
                        task, quoted(k["name"]), num(k["lane"]),
                        num(k["submit_ns"]), num(k["start_ns"]),
                        num(k["end_ns"]), quoted(k["status"]),
                        quoted(k["note"])))
        self.out.put_line(line)

    def submit(self, task, t):
        self._task(task, submit_ns=t)

    def start(self, task, lane, t):
        self._task(task, lane=lane, start_ns=t)

    def end(self, task, t, status, note=""):
        k = self.tasks[task]
        if k["status"] is not None:
            return
        self._task(task, end_ns=t, status=status, note=note)

    def open(self, task, lane, state, t0, note=""):
        self.out.put_line(
            '{"type":"open","task":%d,"lane":%d,"state":"%s","t0_ns":%d,'
            '"note":%s}' % (task, lane, state, t0, quoted(note)))

    def segment(self, task, lane, state, t0, t1, note="", estimated=False):
        self.out.put_line(
            '{"type":"segment","segment":{"task":%d,"lane":%d,'
            '"state":"%s","t0_ns":%d,"t1_ns":%d,"note":%s%s}}' % (
                task, lane, state, t0, max(t1, t0), quoted(note),
                ',"estimated":true' if estimated else ""))

    def counter(self, t, value):
        self.out.put({"type": "counter", "name": "queue_depth", "t_ns": t,
                      "value": value})

    def apply(self, lane, events):
        """Events a worker process recorded: (kind, task, ...) tuples."""
        for ev in events:
            kind = ev[0]
            if kind == "seg":
                _, task, state, t0, t1, note, est = ev
                self.segment(task, lane, state, t0, t1, note, est)
            elif kind == "start":
                self.start(ev[1], lane, ev[2])
            elif kind == "ctr":
                self.counter(ev[1], ev[2])


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes(pid="self"):
    """A process's resident set from /proc, or None (gone, or no /proc)."""
    try:
        with open("/proc/%s/statm" % pid, "rb") as f:
            return int(f.read().split()[1]) * PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


class MemorySampler:
    """The counters memory_bytes and rss_bytes, measured as the engine's
    collector models them: memory_bytes is what this interpreter's resident
    set grew by since the run began (the threads' stacks, the Task objects,
    whatever the tasks hold) plus every worker process's resident set;
    rss_bytes is this interpreter's resident set plus the workers'.  Sampled
    by the output thread at each flush, a sample only when a value
    changed."""

    def __init__(self, rec, out):
        self.rec = rec
        self.out = out
        self.base = None
        self.last = {}

    def _put(self, name, t, value):
        if self.last.get(name) != value:
            self.last[name] = value
            self.out.put({"type": "counter", "name": name, "t_ns": t,
                          "value": value})

    def sample(self):
        own = rss_bytes()
        if own is None:
            return
        if self.base is None:
            self.base = own
        workers = 0
        for lane in list(self.rec.lanes):
            if lane["kind"] == "process" and lane["os_id"]:
                workers += rss_bytes(lane["os_id"]) or 0
        t = max(now_ns(), 0)
        self._put("memory_bytes", t, max(own - self.base, 0) + workers)
        self._put("rss_bytes", t, own + workers)


class LocalRecorder:
    """What a worker process records: kept until the result goes back."""

    def __init__(self):
        self.events = []
        self.computing = 0

    def open(self, task, lane, state, t0, note=""):
        pass

    def segment(self, task, lane, state, t0, t1, note="", estimated=False):
        self.events.append(("seg", task, state, t0, max(t1, t0), note,
                            estimated))

    def start(self, task, lane, t):
        self.events.append(("start", task, t))

    def counter(self, t, value):
        self.events.append(("ctr", t, value))


# ---- shared state ----------------------------------------------------------

class ThreadShared:
    """Statistics, the task registry and the stop flag of one process."""

    def __init__(self, n_tasks):
        self.lock = threading.Lock()
        self.stats = [0] * len(STATS)
        self.state = [TS_IDLE] * n_tasks
        self.op = [0] * n_tasks
        self.obj = [0] * n_tasks
        self.stop = threading.Event()

    def add(self, name, d=1):
        with self.lock:
            self.stats[ST[name]] += d
            return self.stats[ST[name]]

    def set_max(self, name, v):
        with self.lock:
            if v > self.stats[ST[name]]:
                self.stats[ST[name]] = v

    def get(self, name):
        return self.stats[ST[name]]

    def bump(self):
        self.stats[ST["progress"]] += 1


class ProcessShared(ThreadShared):
    """The same in shared memory, for worker processes."""

    def __init__(self, n_tasks, ctx):
        self.lock = ctx.Lock()
        self.stats = ctx.Array("q", len(STATS), lock=False)
        self.state = ctx.Array("b", max(n_tasks, 1), lock=False)
        self.op = ctx.Array("b", max(n_tasks, 1), lock=False)
        self.obj = ctx.Array("i", max(n_tasks, 1), lock=False)
        self.stop = ctx.Event()


class Box:
    """The shared counter: counter.value += 1 is the lesson's code."""

    def __init__(self):
        self.value = 0


def make_objects(program, mp_ctx, aio):
    """One Python object per program object: threading's (mp_ctx None,
    aio False), multiprocessing's, or asyncio's."""
    objs = []
    for o in program["objects"]:
        kind, count = o["kind"], o["count"]
        if kind == "lock" and count == 1:
            v = (mp_ctx or threading).RLock()  # asyncio has none
        elif kind == "lock":
            v = asyncio.Lock() if aio else (mp_ctx or threading).Lock()
        elif kind == "condition":
            v = asyncio.Condition() if aio else \
                (mp_ctx or threading).Condition()
        elif kind == "semaphore":
            v = (asyncio.Semaphore(count) if aio
                 else (mp_ctx or threading).Semaphore(count))
        elif kind == "queue":
            size = max(count, 1)
            v = (asyncio.Queue(size) if aio else
                 mp_ctx.Queue(size) if mp_ctx else queue.Queue(size))
        elif kind == "barrier":
            parties = max(count, 1)
            v = (asyncio.Barrier(parties) if aio
                 else (mp_ctx or threading).Barrier(parties))
        elif kind == "event":
            v = asyncio.Event() if aio else (mp_ctx or threading).Event()
        elif kind == "counter" and count == 5:
            # value NAME=manager: a Manager's Value, held by the manager's
            # process (one per run, shut down at its end); every read and
            # write is a round trip there.
            if not MANAGERS:
                MANAGERS.append((mp_ctx or multiprocessing).Manager())
            v = ("mp", "manager", MANAGERS[0].Value("q", 0), None)
        elif kind == "counter" and count == 6:
            # array NAME=N: a multiprocessing.Array('q', N); task i
            # updates element i % N.
            size = max(o.get("size", 1), 1)
            v = ("mp", "array", (mp_ctx or multiprocessing).Array("q", size),
                 size)
        elif kind == "counter" and count >= 3:
            # value NAME: a multiprocessing.Value, whatever the model
            # (threads and coroutines may share one too); =get_lock
            # updates it inside its own lock.
            mode = "value" if count == 3 else "get_lock"
            value = (mp_ctx or multiprocessing).Value("q", 0)
            v = ("mp", mode, value, None)
        elif kind == "counter":
            mode = ("none", "lock", "atomic")[count]
            if mp_ctx:
                value = mp_ctx.Value("q", 0, lock=(mode == "atomic"))
                guard = mp_ctx.Lock() if mode == "lock" else None
                v = ("mp", mode, value, guard)
            else:
                guard = (asyncio.Lock() if aio else threading.Lock()) \
                    if mode == "lock" else None
                it = itertools.count() if mode == "atomic" else None
                v = ("box", mode, Box(), guard, it)
        elif kind == "pipe":
            # multiprocessing.Pipe(duplex=False) between threads or
            # processes alike; a lock at each end, as multiprocessing's
            # Queue keeps, lets several tasks share an end.
            reader, writer = (mp_ctx or multiprocessing).Pipe(duplex=False)
            v = ("pipe", reader, writer, (mp_ctx or threading).Lock(),
                 (mp_ctx or threading).Lock())
        elif kind == "limiter":
            interval = int(1000 * NS_PER_S / count) if count > 0 else 0
            if mp_ctx:
                v = ("mp", interval, mp_ctx.Value("q", -(1 << 62)))
            else:
                v = ("local", interval, [-(1 << 62)], threading.Lock())
        else:  # file
            v = None
        objs.append(v)
    return objs


def counter_value(v):
    if v[0] == "mp" and v[1] == "array":
        return sum(v[2][:])
    if v[0] == "mp":
        return v[2].value
    if v[1] == "atomic":
        return next(v[4])  # the next number is how many came before
    return v[2].value


# ---- blocking steps (sequential, threads, pools, worker processes) --------

class Env:
    """What a task needs to run its steps with blocking calls."""

    def __init__(self, program, objects, shared, rec, peer_port, tmpdir,
                 iters_per_ms, estimate_gil):
        self.program = program
        self.steps = program["steps"]
        self.objects = objects
        self.shared = shared
        self.rec = rec
        self.peer_port = peer_port
        self.tmpdir = tmpdir
        self.iters_per_ms = iters_per_ms
        self.estimate_gil = estimate_gil
        self.chunk = max(256, int(iters_per_ms * CHUNK_NS / NS_PER_MS))
        self.computing_lock = threading.Lock()
        self.computing = 0

    def stopped(self):
        return self.shared.stop.is_set()

    def check(self):
        if self.shared.stop.is_set():
            raise Stopped()


def obj_name(env, index):
    return env.program["objects"][index]["name"]


class RunQueue:
    """How long this thread has waited for a core (run_delay in
    /proc/thread-self/schedstat), so a computation's lost time can be told
    apart: waiting for a core is the machine being busy; the rest, for a
    thread that only computes, is waiting for the GIL.  None where the
    kernel does not say."""

    def __init__(self):
        try:
            self.fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self.fd = None

    def delay_ns(self):
        if self.fd is None:
            return None
        try:
            return int(os.pread(self.fd, 96, 0).split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def close(self):
        if self.fd is not None:
            os.close(self.fd)


def compute(env, task, lane, iters, note="", cpu_ns=0):
    """A cpu step: burn() in chunks.  Given cpu_ns (a step written as a
    duration), the chunks go on until the thread has used that much CPU
    time, as the model's steps do, and iters is only the estimate: the
    loop's rate moves with the machine's other work (20,000 to 27,000
    iterations per CPU-ms at a load average of 1 here, 12,000 while other
    processes computed), and a fixed count made the same step up to
    twice as long in one run as in another.  A chunk whose wall time
    exceeds its thread CPU time by more than the time the thread waited
    for a core, while other threads computed, waited for the GIL: that
    wait is put at the chunk's start and marked estimated."""
    rec = env.rec
    if iters <= 0:
        return
    with env.computing_lock:
        env.computing += 1
    runq = RunQueue() if env.estimate_gil else None
    try:
        t_seg = now_ns()
        if iters >= env.chunk:
            rec.open(task, lane, "compute", t_seg, note)
        done = 0
        t_prev, c_prev = t_seg, time.thread_time_ns()
        c_start = c_prev
        rq_prev = runq.delay_ns() if runq else None
        lost_since = 0  # lost time of the chunks since rq_prev was read
        while True:
            if cpu_ns > 0:
                left = cpu_ns - (c_prev - c_start)
                if left <= 0:
                    break
                n = min(env.chunk,
                        max(256, int(env.iters_per_ms * left / NS_PER_MS)))
            elif done < iters:
                n = min(env.chunk, iters - done)
            else:
                break
            burn(n)
            done += n
            t, c = now_ns(), time.thread_time_ns()
            lost = (t - t_prev) - (c - c_prev)
            if (runq and lost > GIL_WAIT_MIN_NS and env.computing > 1):
                rq = runq.delay_ns()
                if rq is not None and rq_prev is not None:
                    # Earlier chunks' small losses were the core's.
                    core = max(0, rq - rq_prev - lost_since)
                    lost = lost - core
                rq_prev, lost_since = rq, 0
                if lost > GIL_WAIT_MIN_NS:
                    if t_prev > t_seg:
                        rec.segment(task, lane, "compute", t_seg, t_prev,
                                    note)
                    rec.segment(task, lane, "gil-wait", t_prev,
                                t_prev + lost, "", True)
                    t_seg = t_prev + lost
            elif lost > 0:
                lost_since += lost
            t_prev, c_prev = t, c
            if env.stopped():
                break
        rec.segment(task, lane, "compute", t_seg, now_ns(), note)
    finally:
        if runq:
            runq.close()
        with env.computing_lock:
            env.computing -= 1
    env.check()


def compute_nogil(env, task, lane, s):
    """A cpu-nogil step: hashlib.sha256 over a buffer, chunk by chunk, until
    the thread has used the step's duration of CPU time, as a cpu step
    does (a count calibrated beforehand would move with the machine's
    other work); hashlib releases the GIL while it hashes, so other
    threads compute meanwhile."""
    data = bytes(NOGIL_CHUNK_BYTES)
    t0 = now_ns()
    env.rec.open(task, lane, "compute", t0, NOTE_NOGIL)
    try:
        c_end = time.thread_time_ns() + max(s["ns"], 0)
        i = 0
        while True:
            hashlib.sha256(data).digest()
            i += 1
            if time.thread_time_ns() >= c_end:
                break
            if (i & 15) == 0 and env.stopped():
                break
    finally:
        env.rec.segment(task, lane, "compute", t0, now_ns(), NOTE_NOGIL)
    env.check()


def blocking_sleep(env, task, lane, ns, note=""):
    """time.sleep: on a thread of its own a sleep; on the event loop's
    thread it blocks the loop (note says so)."""
    if ns <= 0:
        return
    t0 = now_ns()
    env.rec.open(task, lane, "sleep", t0, note)
    try:
        sleep_until(env, t0 + ns)
    finally:
        env.rec.segment(task, lane, "sleep", t0, now_ns(), note)


def timer_wait(env, task, lane, ns):
    """A timer step: what threading.Timer's thread does before it calls
    its function, a wait on its `finished` Event with the interval as the
    timeout (in slices that look at the stop flag)."""
    finished = threading.Event()
    t0 = now_ns()
    env.rec.open(task, lane, "sleep", t0, NOTE_TIMER)
    try:
        while True:
            left = t0 + ns - now_ns()
            if left <= 0 or finished.wait(min(left / NS_PER_S, SLICE_S)):
                break
            env.check()
    finally:
        env.rec.segment(task, lane, "sleep", t0, now_ns(), NOTE_TIMER)


def cond_wait(env, task, lane, index):
    """with cond: cond.wait(), in slices that look at the stop flag; the
    lock is held between the slices, so no notify falls between them."""
    c = env.objects[index]
    sh = env.shared
    t0 = now_ns()
    sh.op[task], sh.obj[task], sh.state[task] = OP_COND, index, TS_BLOCKED
    env.rec.open(task, lane, "event-wait", t0, obj_name(env, index))
    try:
        with c:
            while not c.wait(SLICE_S):
                env.check()
    finally:
        sh.state[task] = TS_RUNNING
        env.rec.segment(task, lane, "event-wait", t0, now_ns(),
                        obj_name(env, index))


def cond_notify(c, n):
    with c:
        if n > 0:
            c.notify(n)
        else:
            c.notify_all()


def step_iters(env, s):
    return s["n"] if s["n"] > 0 else int(env.iters_per_ms * s["ns"] /
                                         NS_PER_MS)


def compute_step(env, task, lane, s):
    """A cpu step: a count of iterations as written, or a duration of
    this thread's CPU time."""
    compute(env, task, lane, step_iters(env, s),
            cpu_ns=s["ns"] if s["n"] <= 0 else 0)


def sleep_until(env, deadline_ns):
    """Sleeps on the stop flag itself, so a stop (or the end of a run
    with daemons still sleeping) ends the sleep at once."""
    while True:
        left = deadline_ns - now_ns()
        if left <= 0:
            return
        env.check()
        env.shared.stop.wait(min(left / NS_PER_S, SLICE_S * 5))


def request_line(delay_ns, reply_bytes):
    """The peer's request line (src/peer.h), with the time the answer is
    due, so time spent queued in the peer does not lengthen the wait."""
    delay_ns = max(delay_ns, 0)
    return b"%d %d %d\n" % (delay_ns // 1000, reply_bytes,
                            time.monotonic_ns() + delay_ns)


def peer_request(env, task, lane, delay_ns, reply_bytes, timeout_ns=0,
                 t0=None):
    """One request to the latency peer, as `requests` makes it without a
    session: a connection of its own (a connect segment), the request
    line, the reply read until the peer closes (an io segment)."""
    rec = env.rec
    t0 = now_ns() if t0 is None else t0
    deadline = t0 + timeout_ns if timeout_ns > 0 else None
    rec.open(task, lane, "connect", t0)
    try:
        sock = socket.create_connection(("127.0.0.1", env.peer_port))
    finally:
        t1 = now_ns()
        rec.segment(task, lane, "connect", t0, t1)
    rec.open(task, lane, "io", t1)
    try:
        sock.sendall(request_line(delay_ns, reply_bytes))
        while True:
            wait = SLICE_S * 2.5
            if deadline is not None:
                left = (deadline - now_ns()) / NS_PER_S
                if left <= 0:
                    raise StepTimeout()
                wait = min(wait, left)
            sock.settimeout(wait)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                env.check()
                continue
            if not data:
                return
            if data.startswith(b"ERR"):
                raise OSError("the latency peer refused the request")
    finally:
        sock.close()
        rec.segment(task, lane, "io", t1, now_ns())


def block(env, task, lane, obj, op, state, attempt):
    """Runs attempt(timeout) until it succeeds; the first failure opens a
    wait segment (recorded when it ends), and the registry says what the
    task waits for."""
    if attempt(None):
        return
    sh = env.shared
    t0 = now_ns()
    sh.op[task], sh.obj[task], sh.state[task] = op, obj, TS_BLOCKED
    env.rec.open(task, lane, state, t0, obj_name(env, obj))
    try:
        while not attempt(SLICE_S):
            env.check()
    finally:
        sh.state[task] = TS_RUNNING
        env.rec.segment(task, lane, state, t0, now_ns(), obj_name(env, obj))


def try_acquire(lock):
    def attempt(timeout):
        if timeout is None:
            return lock.acquire(False)
        return lock.acquire(True, timeout)
    return attempt


def depth(env, d):
    env.rec.counter(now_ns(), env.shared.add("queued_items", d))


def q_put(env, task, lane, index, item):
    q = env.objects[index]

    def attempt(timeout):
        try:
            if timeout is None:
                q.put_nowait(item)
            else:
                q.put(item, True, timeout)
            return True
        except queue.Full:
            return False
    block(env, task, lane, index, OP_PUT, "queue-wait", attempt)
    depth(env, 1)


def q_get(env, task, lane, index):
    q = env.objects[index]
    got = []

    def attempt(timeout):
        try:
            got.append(q.get_nowait() if timeout is None
                       else q.get(True, timeout))
            return True
        except queue.Empty:
            return False
    block(env, task, lane, index, OP_GET, "queue-wait", attempt)
    depth(env, -1)
    return got[0]


def pipe_send(env, task, lane, index, nbytes):
    """conn.send(message): pickling it and writing it into the pipe,
    drawn as ipc noted with the pipe."""
    _, _, writer, wlock, _ = env.objects[index]
    message = bytes(nbytes)
    t0 = now_ns()
    env.rec.open(task, lane, "ipc", t0, obj_name(env, index))
    try:
        if nbytes <= PIPE_BUFFER_BYTES:
            with wlock:
                writer.send(message)
            return
        # Larger than the pipe's buffer: the write goes only as the other
        # end reads.  It runs on a helper thread so that this task can
        # say what it waits for (and give up when the run stops); a send
        # nobody receives then shows as a deadlock, not a hang.
        sent = threading.Event()

        def write():
            try:
                with wlock:
                    writer.send(message)
            finally:
                sent.set()
        threading.Thread(target=write, name="pipe-send", daemon=True).start()
        if not sent.wait(SLICE_S):
            sh = env.shared
            sh.op[task], sh.obj[task], sh.state[task] = \
                OP_PUT, index, TS_BLOCKED
            try:
                while not sent.wait(SLICE_S):
                    env.check()
            finally:
                sh.state[task] = TS_RUNNING
    finally:
        env.rec.segment(task, lane, "ipc", t0, now_ns(),
                        obj_name(env, index))


def pipe_recv(env, task, lane, index):
    """conn.recv(): the wait for a message (queue-wait), then reading
    and unpickling it (ipc), each noted with the pipe."""
    _, reader, _, _, rlock = env.objects[index]

    def attempt(timeout):
        if not (rlock.acquire(False) if timeout is None
                else rlock.acquire(True, timeout)):
            return False
        if reader.poll(0 if timeout is None else timeout):
            return True  # the lock stays held for the recv
        rlock.release()
        return False
    block(env, task, lane, index, OP_GET, "queue-wait", attempt)
    t0 = now_ns()
    try:
        reader.recv()
    finally:
        rlock.release()
        env.rec.segment(task, lane, "ipc", t0, now_ns(),
                        obj_name(env, index))


def _between():
    """The function a call=yes increment calls between its read and its
    write: a Python call, where 3.10+ lets the GIL switch."""


def incr(env, task, lane, s):
    """counter.value += 1, s["n"] times, as Python code.  With the await
    flag a time.sleep(0) sits between the read and the write; with the
    call flag, a call of a Python function (_between)."""
    index = s["object"]
    v = env.objects[index]
    note = obj_name(env, index)
    n = s["n"]
    await_inside = bool(s["flags"] & 1)
    call_inside = bool(s["flags"] & 2) and not await_inside
    t0 = now_ns()
    if v[0] == "mp" and v[1] == "manager":
        incr_manager(env, task, lane, v[2], n, note)
        return
    env.rec.open(task, lane, "compute", t0, note)
    with env.computing_lock:
        env.computing += 1
    try:
        done = 0
        while done < n:
            k = min(1024, n - done)
            if v[0] == "mp" and v[1] == "array":
                # An element of its own for each task while there are
                # enough; every access takes the array's one lock.
                arr, i = v[2], task % v[3]
                for _ in range(k):
                    arr[i] += 1
            elif v[0] == "mp":
                _, mode, value, guard = v
                if call_inside and mode not in ("atomic", "get_lock"):
                    for _ in range(k):
                        if guard is not None:
                            guard.acquire()
                        x = value.value
                        _between()
                        value.value = x + 1
                        if guard is not None:
                            guard.release()
                elif mode in ("none", "value"):
                    # A Value's getter and setter each take its lock;
                    # the += between them is not guarded.
                    for _ in range(k):
                        value.value += 1
                elif mode == "lock":
                    for _ in range(k):
                        with guard:
                            value.value += 1
                else:
                    for _ in range(k):
                        with value.get_lock():
                            value.value += 1
            else:
                _, mode, box, guard, it = v
                if await_inside:
                    for _ in range(k):
                        if guard is not None:
                            guard.acquire()
                        x = box.value
                        time.sleep(0)
                        box.value = x + 1
                        if guard is not None:
                            guard.release()
                elif call_inside and mode != "atomic":
                    for _ in range(k):
                        if guard is not None:
                            guard.acquire()
                        x = box.value
                        _between()
                        box.value = x + 1
                        if guard is not None:
                            guard.release()
                elif mode == "none":
                    for _ in range(k):
                        box.value += 1
                elif mode == "lock":
                    for _ in range(k):
                        with guard:
                            box.value += 1
                else:
                    for _ in range(k):
                        next(it)
            done += k
            if env.stopped():
                break
    finally:
        with env.computing_lock:
            env.computing -= 1
        env.shared.add("attempted", done)
        env.rec.segment(task, lane, "compute", t0, now_ns(), note)
    env.check()


def incr_manager(env, task, lane, proxy, n, note):
    """proxy.value += 1, n times: a get and a set, each a round trip to
    the manager's process, which the task waits for (ipc)."""
    t0 = now_ns()
    env.rec.open(task, lane, "ipc", t0, note)
    done = 0
    try:
        while done < n:
            k = min(64, n - done)
            for _ in range(k):
                proxy.value += 1
            done += k
            if env.stopped():
                break
    finally:
        env.shared.add("attempted", done)
        env.rec.segment(task, lane, "ipc", t0, now_ns(), note)
    env.check()


def rate_wait(env, task, lane, index):
    """A rate limiter's next slot: the grant is decided under a lock from
    one clock reading; a rate-wait segment covers the wait."""
    v = env.objects[index]
    t0 = now_ns()
    waited = False
    while True:
        if v[0] == "mp":
            _, interval, nxt = v
            with nxt.get_lock():
                now = now_ns()
                if interval == 0 or now >= nxt.value:
                    nxt.value = now + interval
                    break
                due = nxt.value
        else:
            _, interval, nxt, lock = v
            with lock:
                now = now_ns()
                if interval == 0 or now >= nxt[0]:
                    nxt[0] = now + interval
                    break
                due = nxt[0]
        if not waited:
            env.rec.open(task, lane, "rate-wait", t0, obj_name(env, index))
            waited = True
        env.check()
        time.sleep(min((due - now) / NS_PER_S, SLICE_S))
    if waited:
        env.rec.segment(task, lane, "rate-wait", t0, now,
                        obj_name(env, index))
    return now


def request(env, task, lane, s):
    """A scraper request: rate-limited attempts cut off at the timeout,
    retried after an exponential backoff (as src/sync.c)."""
    r = env.program["requests"][s["aux"]]
    limiter = s["object"] if s["object"] < len(env.objects) and \
        env.program["objects"][s["object"]]["kind"] == "limiter" else None
    sh = env.shared
    sh.set_max("max_in_flight", sh.add("in_flight", 1))
    try:
        attempt = 0
        while True:
            k = min(attempt, len(r["latency_ns"]) - 1)
            t_io = now_ns()
            if limiter is not None:
                t_io = rate_wait(env, task, lane, limiter)
            latency = r["latency_ns"][k] or s["ns"]
            failed = None
            try:
                peer_request(env, task, lane, latency, REQUEST_REPLY_BYTES,
                             r["timeout_ns"], t_io)
                if (r["fail_mask"] >> k) & 1:
                    failed = TASK_ERROR
            except StepTimeout:
                failed = TASK_TIMEOUT
            t1 = now_ns()
            if failed is None:
                sh.add("succeeded")
                return
            if attempt >= r["retries"]:
                sh.add("failed")
                if failed == TASK_TIMEOUT:
                    raise StepTimeout()
                raise OSError("the server answered with an error")
            sh.add("retries")
            env.rec.open(task, lane, "backoff", t1)
            try:
                sleep_until(env, t1 + (r["backoff_ns"] << attempt))
            finally:
                env.rec.segment(task, lane, "backoff", t1, now_ns())
            attempt += 1
    finally:
        sh.add("in_flight", -1)


def file_path(env, index, task):
    return os.path.join(env.tmpdir, "%s.%d" % (obj_name(env, index), task))


def disk_write(path, nbytes):
    block_ = b"o" * DISK_CHUNK_BYTES
    with open(path, "wb", buffering=0) as f:
        left = nbytes
        while left > 0:
            left -= f.write(block_[:min(left, DISK_CHUNK_BYTES)])
        os.fsync(f.fileno())


def disk_read(path, nbytes):
    with open(path, "rb", buffering=0) as f:
        left = nbytes
        while left > 0:
            data = f.read(DISK_CHUNK_BYTES)
            if not data:
                break
            left -= len(data)


def disk(env, task, lane, s):
    path = file_path(env, s["object"], task)
    note = obj_name(env, s["object"])
    t0 = now_ns()
    env.rec.open(task, lane, "io", t0, note)
    try:
        if s["aux"]:
            disk_write(path, s["n"])
        else:
            disk_read(path, s["n"])
    finally:
        env.rec.segment(task, lane, "io", t0, now_ns(), note)
    env.shared.add("disk_files")
    env.shared.add("disk_bytes", s["n"])


def run_step(env, task, lane, s):
    kind = s["kind"]
    env.check()
    if kind == "cpu":
        compute_step(env, task, lane, s)
    elif kind == "sleep":
        if s["ns"] > 0:
            t0 = now_ns()
            env.rec.open(task, lane, "sleep", t0)
            try:
                sleep_until(env, t0 + s["ns"])
            finally:
                env.rec.segment(task, lane, "sleep", t0, now_ns())
    elif kind == "net":
        peer_request(env, task, lane, s["ns"], max(s["aux"], 0))
    elif kind == "disk":
        disk(env, task, lane, s)
    elif kind == "lock":
        block(env, task, lane, s["object"], OP_LOCK, "lock-wait",
              try_acquire(env.objects[s["object"]]))
    elif kind == "unlock":
        env.objects[s["object"]].release()
    elif kind == "acquire":
        block(env, task, lane, s["object"], OP_SEM, "sem-wait",
              try_acquire(env.objects[s["object"]]))
    elif kind == "release":
        env.objects[s["object"]].release()
    elif kind == "put":
        q_put(env, task, lane, s["object"], s["n"])
        if s["n"] >= 0:
            env.shared.add("produced")
    elif kind == "get":
        if q_get(env, task, lane, s["object"]) >= 0:
            env.shared.add("consumed")
    elif kind == "incr":
        incr(env, task, lane, s)
    elif kind == "barrier":
        barrier_wait(env, task, lane, s["object"])
    elif kind == "event set":
        env.objects[s["object"]].set()
    elif kind == "event wait":
        ev = env.objects[s["object"]]
        block(env, task, lane, s["object"], OP_EVENT, "event-wait",
              lambda timeout: ev.is_set() if timeout is None
              else ev.wait(timeout))
    elif kind == "cond wait":
        cond_wait(env, task, lane, s["object"])
    elif kind == "cond notify":
        cond_notify(env.objects[s["object"]], s["n"])
    elif kind == "cpu-nogil":
        compute_nogil(env, task, lane, s)
    elif kind == "block":
        blocking_sleep(env, task, lane, s["ns"])
    elif kind == "timer":
        timer_wait(env, task, lane, s["ns"])
    elif kind == "request":
        request(env, task, lane, s)
    elif kind == "consume":
        consume(env, task, lane, s)
    elif kind == "close":
        close(env, task, lane, s)
    elif kind == "send":
        pipe_send(env, task, lane, s["object"], s["n"])
    elif kind == "recv":
        pipe_recv(env, task, lane, s["object"])
    elif kind == "fail":
        raise RuntimeError(RAISED_TEXT)
    else:
        raise ValueError("step %r has no Python equivalent" % kind)
    env.shared.bump()


def barrier_wait(env, task, lane, index):
    b = env.objects[index]
    sh = env.shared
    t0 = now_ns()
    sh.op[task], sh.obj[task], sh.state[task] = OP_BARRIER, index, TS_BLOCKED
    env.rec.open(task, lane, "barrier-wait", t0, obj_name(env, index))
    try:
        b.wait()  # the watchdog aborts the barrier when the run stops
    except threading.BrokenBarrierError:
        raise Stopped()
    finally:
        sh.state[task] = TS_RUNNING
        t1 = now_ns()
        if t1 > t0:
            env.rec.segment(task, lane, "barrier-wait", t0, t1,
                            obj_name(env, index))


def consume(env, task, lane, s):
    fwd = s["aux"] - 1 if s["aux"] > 0 else None
    work = env.steps[s["n"]] if 0 <= s["n"] < len(env.steps) else None
    while True:
        item = q_get(env, task, lane, s["object"])
        if item < 0:
            return
        if work is not None and work["kind"] == "cpu":
            compute_step(env, task, lane, work)
        if fwd is not None:
            q_put(env, task, lane, fwd, item)
            env.shared.add("transformed")
        else:
            env.shared.add("consumed")
        env.shared.bump()


def close(env, task, lane, s):
    """One producer is done with the queue; the last one puts the pills."""
    c = env.closers[s["object"]]
    with env.closers_lock:
        if isinstance(c, list):
            c[0] -= 1
            last = c[0] == 0
        else:  # a multiprocessing.Value shared by the workers
            c.value -= 1
            last = c.value == 0
    if last:
        for _ in range(s["n"]):
            q_put(env, task, lane, s["object"], -1)


def status_of(exc):
    if exc is None:
        return TASK_OK, ""
    if isinstance(exc, Stopped):
        return TASK_CANCELLED, ""
    if isinstance(exc, StepTimeout):
        return TASK_TIMEOUT, ""
    return TASK_ERROR, ("%s: %s" % (type(exc).__name__, exc))[:90]


def run_task_steps(env, task, lane):
    """Every step of a task; returns (status, note)."""
    t = env.program["tasks"][task]
    env.shared.state[task] = TS_RUNNING
    try:
        for i in range(t["first"], t["first"] + t["n"]):
            run_step(env, task, lane, env.steps[i])
    except Exception as exc:  # a task's failure ends the task, not the run
        return status_of(exc)
    finally:
        env.shared.state[task] = TS_ENDED
    return status_of(None)


def run_task(env, task, lane):
    env.rec.start(task, lane, now_ns())
    status, note = run_task_steps(env, task, lane)
    env.rec.end(task, now_ns(), status, note)
    return status


# ---- worker processes ------------------------------------------------------

WORKER = None


_INHERITED_STDOUT = []


def worker_init(config):
    """A worker process's initializer: the run's state, and the moment the
    interpreter was ready (its start-up ends here)."""
    global WORKER, EPOCH_NS
    ready = time.monotonic_ns()
    EPOCH_NS = config["epoch"]
    # The main process stops the workers (it kills the pool on a stop);
    # a SIGTERM sent to the whole group is its to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A forked worker inherits the main process's stdout, buffer and lock
    # as they were at the fork: possibly held by its flusher thread, and
    # holding event lines the main process writes itself.  The worker
    # never writes there; multiprocessing flushes stdout as a worker ends,
    # which would hang on that lock or write those lines twice.  The old
    # object is kept (never flushed, never freed: workers leave through
    # os._exit) and stdout becomes /dev/null.
    _INHERITED_STDOUT.append(sys.stdout)
    sys.stdout = open(os.devnull, "w")
    env = Env(config["program"], config["objects"], config["shared"],
              LocalRecorder(), config["peer_port"], config["tmpdir"],
              config["iters_per_ms"], False)
    env.closers = config["closers"]
    env.closers_lock = config["closers_lock"]
    WORKER = {"env": env, "ready_ns": ready - EPOCH_NS, "reported": False,
              "name": multiprocessing.current_process().name}


def worker_task(task, payload, steps):
    """Runs a whole task (steps None) or some of its steps in a worker;
    returns what it recorded for the main process to apply."""
    w = WORKER
    env = w["env"]
    env.rec.events = []
    start = now_ns()
    startup = None
    if not w["reported"]:
        startup = w["ready_ns"]
        w["reported"] = True
    if steps is None:
        env.rec.start(task, None, start)
        status, note = run_task_steps(env, task, None)
    else:
        status, note = TASK_OK, ""
        try:
            for s in steps:
                run_step(env, task, None, s)
        except Exception as exc:
            status, note = status_of(exc)
    return {"task": task, "pid": os.getpid(), "name": w["name"],
            "startup_ready_ns": startup, "start_ns": start,
            "end_ns": now_ns(), "status": status, "note": note,
            "events": env.rec.events, "payload": payload}


def counter_closers(program):
    closers = [0] * len(program["objects"])
    for t in program["tasks"]:
        for i in range(t["first"], t["first"] + t["n"]):
            s = program["steps"][i]
            if s["kind"] == "close":
                closers[s["object"]] += 1
    return closers


class ProcessLanes:
    """Lanes of worker processes, made when a worker is first heard of."""

    def __init__(self, rec):
        self.rec = rec
        self.by_pid = {}
        self.lock = threading.Lock()

    def lane(self, result):
        with self.lock:
            lane = self.by_pid.get(result["pid"])
            if lane is None:
                lane = self.rec.lane("process", result["name"][:31],
                                     result["pid"])
                self.by_pid[result["pid"]] = lane
        return lane


# ---- the models ------------------------------------------------------------

class Run:
    def __init__(self, cfg, out):
        self.cfg = cfg
        self.opt = cfg["options"]
        self.program = cfg["program"]
        self.n_tasks = len(self.program["tasks"])
        self.out = out
        self.rec = Recorder(out, [t["name"] for t in self.program["tasks"]])
        self.status = "done"
        self.message = ""
        self.stop_lock = threading.Lock()
        self.checks = {}
        self.max_loop_lag_ns = None
        self.model = cfg["run"]["model"]
        self.shared = None
        self.objects = []
        self.aborters = []

    # -- stopping

    def raise_stop(self, status, message):
        with self.stop_lock:
            if self.shared is None or self.shared.stop.is_set():
                return False
            self.status, self.message = status, message
            self.shared.stop.set()
        for abort in self.aborters:
            try:
                abort()
            except Exception:
                pass
        return True

    def stuck_message(self):
        sh = self.shared
        live = [t for t in range(self.n_tasks)
                if sh.state[t] in (TS_RUNNING, TS_BLOCKED)]
        if not live or any(sh.state[t] != TS_BLOCKED for t in live):
            return None
        names = self.program["objects"]
        parts = []
        for t in live[:16]:
            obj = names[sh.obj[t]]
            verb = OP_VERBS.get(sh.op[t], "waits")
            if obj["kind"] == "pipe":
                verb = ("waits to send into pipe" if sh.op[t] == OP_PUT
                        else "waits to recv from pipe")
            parts.append("%s %s '%s'" % (self.rec.tasks[t]["name"], verb,
                                         obj["name"]))
        return "deadlock: " + "; ".join(parts)

    def watchdog(self, done):
        limit = self.opt.get("time_limit", 60 * NS_PER_S)
        deadline = now_ns() + limit
        last, since = -1, now_ns()
        while not done.wait(0.1):
            t = now_ns()
            if t >= deadline:
                self.raise_stop("error", "time_limit: the run exceeded "
                                "%g s and was stopped" % (limit / NS_PER_S))
                return
            progress = self.shared.get("progress")
            if progress != last:
                last, since = progress, t
                continue
            if t - since >= STUCK_NS and self.program["objects"]:
                message = self.stuck_message()
                if message:
                    self.raise_stop("deadlock", message)
                    return

    # -- helpers

    def env(self, objects, estimate_gil):
        env = Env(self.program, objects, self.shared, self.rec,
                  self.cfg["peer_port"], self.cfg["tmpdir"],
                  self.cfg["iters_per_ms"], estimate_gil)
        env.closers = [[c] for c in counter_closers(self.program)]
        env.closers_lock = threading.Lock()
        return env

    def prepare_files(self):
        """Files that read steps read are written before the run starts,
        and dropped from the page cache where the kernel lets us."""
        p = self.program
        for t_id, t in enumerate(p["tasks"]):
            for i in range(t["first"], t["first"] + t["n"]):
                s = p["steps"][i]
                if s["kind"] == "disk" and not s["aux"]:
                    path = os.path.join(self.cfg["tmpdir"], "%s.%d" % (
                        p["objects"][s["object"]]["name"], t_id))
                    disk_write(path, s["n"])
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)

    def add_checks(self, objects, counters_from_mp=False):
        sh = self.shared
        kinds = [o["kind"] for o in self.program["objects"]]
        steps = self.program["steps"]
        if "counter" in kinds:
            got = sum(counter_value(objects[i]) for i, k in enumerate(kinds)
                      if k == "counter")
            expected = sh.get("attempted")
            self.checks.update(expected=expected, got=got,
                               lost=expected - got)
        if "queue" in kinds:
            self.checks.update(produced=sh.get("produced"),
                               consumed=sh.get("consumed"))
            if any(s["kind"] == "consume" and s["aux"] > 0 for s in steps):
                self.checks["transformed"] = sh.get("transformed")
        if any(s["kind"] == "request" for s in steps):
            self.checks.update(succeeded=sh.get("succeeded"),
                               failed=sh.get("failed"),
                               retries=sh.get("retries"),
                               max_in_flight=sh.get("max_in_flight"))
        if "file" in kinds:
            self.checks.update(files=sh.get("disk_files"),
                               bytes=sh.get("disk_bytes"))

    def thread_lane(self, name=None):
        th = threading.current_thread()
        return self.rec.lane("thread", (name or th.name)[:31],
                             threading.get_native_id())

    def end_unrun(self, tasks):
        for t in tasks:
            if self.rec.tasks[t]["status"] is None:
                self.rec.end(t, now_ns(), TASK_CANCELLED)

    # -- models

    def run(self):
        model = self.model
        aio = model in ("asyncio", "asyncio-executor")
        self.main_lane = self.rec.lane("main", "main",
                                       threading.get_native_id())
        for k in self.rec.tasks:
            self.out.put({"type": "task", "task": dict(k)})
        self.out.flush()
        mp_ctx = None
        if model == "process-pool" or (model == "asyncio-executor" and
                                        self.opt.get("executor") ==
                                        "processes"):
            mp_ctx = multiprocessing.get_context(self.opt.get("start",
                                                              "fork"))
        self.mp_ctx = mp_ctx
        if mp_ctx is not None:
            # Statistics and the registry in shared memory: the workers
            # write them.
            self.shared = ProcessShared(self.n_tasks, mp_ctx)
            self.objects = None if aio else \
                make_objects(self.program, mp_ctx, False)
        else:
            self.shared = ThreadShared(self.n_tasks)
            self.objects = make_objects(self.program, None, aio) \
                if not aio else None
        for o in (self.objects or []):
            if hasattr(o, "abort"):
                self.aborters.append(o.abort)
        self.prepare_files()
        if "switch_interval" in self.opt:
            sys.setswitchinterval(self.opt["switch_interval"] / NS_PER_S)
        done = threading.Event()
        dog = threading.Thread(target=self.watchdog, args=(done,),
                               name="overlap-watchdog", daemon=True)
        dog.start()
        flusher = threading.Thread(target=self.flush_loop, args=(done,),
                                   name="overlap-output", daemon=True)
        flusher.start()
        try:
            getattr(self, "run_" + model.replace("-", "_"))()
        except Exception as exc:
            if self.status == "done":
                self.status = "error"
                self.message = ("%s: %s: %s" % (model, type(exc).__name__,
                                                exc))[:250]
            self.end_unrun(range(self.n_tasks))
        finally:
            done.set()
            dog.join()
            flusher.join()
        if self.objects is not None:
            self.add_checks(self.objects)
        while MANAGERS:
            MANAGERS.pop().shutdown()

    def flush_loop(self, done):
        memory = MemorySampler(self.rec, self.out)
        memory.sample()
        while not done.wait(0.02):
            memory.sample()
            self.out.flush()
        memory.sample()
        self.out.flush()

    def estimate(self):
        return gil_active()

    def run_sequential(self):
        env = self.env(self.objects, False)
        for t in range(self.n_tasks):
            if self.shared.stop.is_set():
                break
            self.rec.submit(t, now_ns())
            run_task(env, t, self.main_lane)
        self.end_unrun(range(self.n_tasks))

    def run_threads(self):
        env = self.env(self.objects, self.estimate())
        threads = []

        def body(task):
            run_task(env, task, self.thread_lane())

        for t in range(self.n_tasks):
            if self.shared.stop.is_set():
                break
            th = threading.Thread(target=body, args=(t,),
                                  name="Thread-%d" % (t + 1),
                                  daemon=self.program["tasks"][t].get(
                                      "daemon", False))
            self.rec.submit(t, now_ns())
            try:
                th.start()
            except RuntimeError as exc:  # can't start new thread
                self.rec.end(t, now_ns(), TASK_ERROR, str(exc)[:90])
                self.raise_stop("error", "threads: cannot start Thread-%d:"
                                " %s (%d threads running)" % (t + 1, exc,
                                                               len(threads)))
                break
            threads.append(th)
        # The interpreter joins every thread but the daemons at exit;
        # then the daemons stop where they are (the run is done).
        for th in threads:
            if not th.daemon:
                th.join()
        if any(th.daemon for th in threads):
            self.raise_stop("done", "")
        for th in threads:
            if th.daemon:
                th.join()
        self.end_unrun(range(self.n_tasks))

    def run_thread_pool(self):
        env = self.env(self.objects, self.estimate())
        lanes = {}
        submitted = {}

        def body(task):
            ident = threading.get_ident()
            lane = lanes.get(ident)
            if lane is None:
                lane = lanes[ident] = self.thread_lane()
            start = now_ns()
            if env.stopped():
                self.rec.segment(task, lane, "queued", submitted[task],
                                 start)
                self.rec.end(task, start, TASK_CANCELLED)
                return
            if start > submitted[task]:
                self.rec.segment(task, lane, "queued", submitted[task],
                                 start)
            run_task(env, task, lane)

        workers = self.opt.get("workers") or None
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            def submit(t):
                submitted[t] = now_ns()
                self.rec.submit(t, submitted[t])
                return ex.submit(body, t)

            # ThreadPoolExecutor's own default size, for imap's ahead.
            ahead = workers or min(32, (os.cpu_count() or 1) + 4)
            self.collect(submit, ahead, lambda t, f: None, env)
        self.end_unrun(range(self.n_tasks))

    def collect(self, submit, ahead, take, env):
        """The caller's side of a pool, as collect says.  wait: submit
        everything and wait for it all (take(t, f) as each finishes).
        map: what Executor.map does, every task submitted and the results
        handed over in submission order; imap: the same order with only
        ahead tasks submitted before the first result is taken and one
        more for each (Executor.map(buffersize=...) of Python 3.14);
        as_completed: in finish order.
        With map, imap and as_completed, the caller takes each result
        (take) and works on it for handle on a lane of its own."""
        mode = self.opt.get("collect", "wait")
        n = self.n_tasks
        futures = {}
        finished = []
        lock = threading.Lock()

        def sub(t):
            f = submit(t)

            def done(_f, t=t):
                with lock:
                    finished.append(t)
            f.add_done_callback(done)
            futures[f] = t
            return f

        first = min(ahead, n) if mode == "imap" else n
        order = [sub(t) for t in range(first)]
        if mode == "wait":
            for f in concurrent.futures.as_completed(futures):
                take(futures[f], f)
            return
        lane = self.thread_lane("consumer")
        iters = int(self.cfg["iters_per_ms"] * self.opt.get("handle", 0) /
                    NS_PER_MS)
        stop = self.shared.stop

        def results():
            if mode == "as_completed":
                yield from concurrent.futures.as_completed(futures)
                return
            k = 0
            while k < len(order):
                f = order[k]
                k += 1
                # Waits as Executor.map's iterator does, looking at the
                # stop flag now and then.
                while not f.done() and not stop.is_set():
                    concurrent.futures.wait([f], timeout=SLICE_S)
                if not f.done():
                    return
                yield f

        handled = []
        try:
            for f in results():
                t = futures[f]
                take(t, f)
                handled.append(t)
                compute(env, t, lane, iters,
                        "the caller handling this result",
                        cpu_ns=self.opt.get("handle", 0))
                if mode == "imap" and len(order) < n and not stop.is_set():
                    order.append(sub(len(order)))
        except Stopped:
            pass
        self.checks["collect_order"] = mode
        self.checks["collected"] = handled[:ORDER_SHOWN_MAX]
        with lock:
            self.checks["finish_order"] = finished[:ORDER_SHOWN_MAX]
            if len(finished) > ORDER_SHOWN_MAX:
                self.checks["orders_truncated"] = True

    def process_config(self, objects):
        return {"epoch": EPOCH_NS, "program": self.program,
                "objects": objects, "shared": self.shared,
                "peer_port": self.cfg["peer_port"],
                "tmpdir": self.cfg["tmpdir"],
                "iters_per_ms": self.cfg["iters_per_ms"],
                "closers": [[c] for c in counter_closers(self.program)],
                "closers_lock": None}

    def apply_result(self, lanes, r, submit_ns, received_ns, ipc=True,
                     ipc_note=""):
        """A worker's result: its segments, and the result's way back
        (ipc) unless ipc is False (a chunk's tasks but its last, whose
        result travels with the last one's)."""
        lane = lanes.lane(r)
        if r["startup_ready_ns"] is not None:
            self.rec.segment(r["task"], lane, "startup", self.pool_t0,
                             r["startup_ready_ns"])
        if r["start_ns"] > submit_ns:
            self.rec.segment(r["task"], lane, "queued", submit_ns,
                             r["start_ns"])
        self.rec.apply(lane, r["events"])
        if ipc and received_ns > r["end_ns"]:
            self.rec.segment(r["task"], lane, "ipc", r["end_ns"],
                             received_ns, ipc_note)
        return lane

    def run_pitfall(self, pitfall):
        """A process pool that fails as written.  lambda: a lambda
        submitted, whose pickling fails (the PicklingError Python
        raises).  no-main-guard: a module that starts a pool at import,
        with no `if __name__ == "__main__":`, run as a program of its own
        under the start method; each worker imports it, raises
        RuntimeError and dies, and the program's standard error says so.
        Every task ends as error with the exception; the run too."""
        t0 = now_ns()
        for t in range(self.n_tasks):
            self.rec.submit(t, t0)
        if pitfall == "lambda":
            ex = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=self.mp_ctx)
            try:
                exc = ex.submit(SUBMITTED_LAMBDA).exception()
            finally:
                ex.shutdown(wait=True, cancel_futures=True)
            if exc is None:
                raise RuntimeError("a lambda was pickled")
            note = "%s: %s" % (type(exc).__name__, exc)
            message = note
        else:
            note, message = self.no_main_guard()
        end = now_ns()
        if len(note) > TASK_NOTE_MAX:
            note = note[:TASK_NOTE_MAX - 3] + "..."
        for t in range(self.n_tasks):
            self.rec.end(t, end, TASK_ERROR, note)
        self.status = "error"
        self.message = ("process-pool: " + message)[:250]

    def no_main_guard(self):
        folder = self.cfg["tmpdir"] or tempfile.mkdtemp()
        script = os.path.join(folder, "no_main_guard.py")
        with open(script, "w") as f:
            f.write("import concurrent.futures, multiprocessing\n"
                    "def f(x):\n"
                    "    return x\n"
                    "ctx = multiprocessing.get_context(%r)\n"
                    "with concurrent.futures.ProcessPoolExecutor(\n"
                    "        1, mp_context=ctx) as ex:\n"
                    "    print(ex.submit(f, 1).result())\n"
                    % self.opt.get("start", "spawn"))
        try:
            err = subprocess.run([sys.executable, script],
                                 capture_output=True, text=True,
                                 timeout=60, cwd=folder).stderr
        finally:
            if not self.cfg["tmpdir"]:
                shutil.rmtree(folder, ignore_errors=True)
        lines = err.splitlines()
        # The workers' RuntimeError (its text starts on the next line and
        # ends at a blank one) and the pool's last word.
        runtime, broken = "", ""
        for i, line in enumerate(lines):
            if line.startswith("RuntimeError:") and not runtime:
                words = [line[len("RuntimeError:"):].strip()]
                for more in lines[i + 1:]:
                    if not more.strip():
                        break
                    words.append(more.strip())
                runtime = " ".join(w for w in words if w)
            elif "BrokenProcessPool:" in line:
                broken = line.split("process.", 1)[-1].strip()
        if not runtime:
            raise RuntimeError("the unguarded program did not fail: " +
                               (lines[-1] if lines else "no output"))
        return (broken or "RuntimeError: " + runtime,
                "RuntimeError in each worker: " + runtime)

    def fork_after_threads(self):
        """A program whose thread holds a lock (as logging's handler lock
        while a record is written) when its fork pool starts the
        workers, whose tasks take that lock: run as a program of its own,
        each worker waits for the lock for good.  Its workers say when
        their task began; a worker still waiting FORK_HANG_S later is
        hung.  The run ends as the deadlock it is, with the warning
        Python 3.12+ gives at the fork."""
        workers = self.opt.get("workers") or os.cpu_count() or 1
        workers = max(1, min(workers, self.n_tasks))
        folder = self.cfg["tmpdir"] or tempfile.mkdtemp()
        script = os.path.join(folder, "fork_after_threads.py")
        with open(script, "w") as f:
            f.write(FORK_AFTER_THREADS % {"workers": workers,
                                          "hang": FORK_HANG_S})
        t0 = now_ns()
        for t in range(self.n_tasks):
            self.rec.submit(t, t0)
        try:
            done = subprocess.run([sys.executable, "-W", "default", script],
                                  capture_output=True, text=True,
                                  timeout=60, cwd=folder)
        finally:
            if not self.cfg["tmpdir"]:
                shutil.rmtree(folder, ignore_errors=True)
        end = now_ns()
        hung = []
        for line in done.stdout.splitlines():
            words = line.split()
            if len(words) == 4 and words[0] == "hung":
                hung.append((int(words[1]), int(words[2]),
                             int(words[3]) - EPOCH_NS))
        warning = ""
        for line in done.stderr.splitlines():
            if "DeprecationWarning:" in line:
                warning = line.split("DeprecationWarning:", 1)[1].strip()
        if len(hung) < workers:
            raise RuntimeError("the forked workers did not hang: " +
                               (done.stdout + done.stderr).strip()[-200:])
        for task, pid, began in hung:
            lane = self.rec.lane("process", "ForkProcess-%d" % (task + 1),
                                 pid)
            self.rec.start(task, lane, began)
            self.rec.segment(task, lane, "lock-wait", began, end,
                             NOTE_FORK_LOCK)
        self.end_unrun(range(self.n_tasks))
        n = len(hung)
        self.raise_stop(
            "deadlock",
            ("deadlock: %d worker%s wait%s for a lock another thread held "
             "when the pool forked %s, and none of %s threads will release "
             "it%s" % (n, "" if n == 1 else "s", "s" if n == 1 else "",
                       "it" if n == 1 else "them",
                       "its" if n == 1 else "their",
                       " (Python said: %s)" % warning if warning else
                       " (Python 3.12+ warns: use of fork() may lead to "
                       "deadlocks in the child)"))[:250])

    def run_process_pool(self):
        pitfall = self.opt.get("pitfall", "none")
        if pitfall == "fork-after-threads":
            self.fork_after_threads()
            return
        if pitfall != "none":
            self.run_pitfall(pitfall)
            return
        cfg = self.process_config(self.objects)
        # Closers of queues live in shared memory under processes.
        closers = counter_closers(self.program)
        cfg["closers"] = [self.mp_ctx.Value("q", c, lock=False)
                          for c in closers]
        cfg["closers_lock"] = self.mp_ctx.Lock()
        workers = self.opt.get("workers") or os.cpu_count() or 1
        workers = max(1, min(workers, self.n_tasks))
        payload = b"p" * self.opt.get("payload_bytes", 0)
        lanes = ProcessLanes(self.rec)
        submitted = {}
        self.pool_t0 = now_ns()
        ex = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=self.mp_ctx, initializer=worker_init,
            initargs=(cfg,))
        self.aborters.append(lambda: kill_pool(ex))
        received = {}

        def submit(t):
            submitted[t] = now_ns()
            self.rec.submit(t, submitted[t])
            f = ex.submit(worker_task, t, payload, None)
            # When the result came back, whenever the caller takes it.
            f.add_done_callback(lambda _f, t=t: received.setdefault(
                t, now_ns()))
            return f

        def take(t, f):
            got = received.get(t) or now_ns()
            try:
                r = f.result()
            except Exception as exc:
                status, note = status_of(exc)
                if self.shared.stop.is_set():
                    status = TASK_CANCELLED
                self.rec.end(t, got, status, note)
                return
            self.apply_result(lanes, r, submitted[t], got)
            self.rec.end(t, got, r["status"], r["note"])

        chunk = self.opt.get("chunksize", 1)
        try:
            if self.opt.get("collect") == "map" and chunk > 1:
                self.map_chunks(ex, chunk, payload, lanes,
                                self.env(None, False))
            else:
                self.collect(submit, workers, take, self.env(None, False))
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
        self.end_unrun(range(self.n_tasks))

    def map_chunks(self, ex, chunk, payload, lanes, env):
        """ProcessPoolExecutor.map(..., chunksize=chunk): the tasks go to
        the workers chunk at a time (one pickled argument, one result),
        and the caller takes the results in order as each chunk's comes
        back, working on each for handle on the consumer lane.  Each
        task ends when its chunk's result arrived; the result's ipc is
        drawn on the chunk's last task."""
        n = self.n_tasks
        t0 = now_ns()
        for t in range(n):
            self.rec.submit(t, t0)
        results = ex.map(worker_task, range(n), [payload] * n, [None] * n,
                         chunksize=chunk)
        lane = self.thread_lane("consumer")
        iters = int(self.cfg["iters_per_ms"] * self.opt.get("handle", 0) /
                    NS_PER_MS)
        handled, arrived, chunk_end = [], {}, {}
        try:
            for t in range(n):
                try:
                    r = next(results)
                except Exception as exc:
                    status, note = status_of(exc)
                    if self.shared.stop.is_set():
                        status = TASK_CANCELLED
                    for k in range(t, n):
                        self.rec.end(k, now_ns(), status, note)
                    break
                first = t - t % chunk
                # A chunk's results come back together: the first one
                # taken is when its chunk arrived.
                got = arrived.setdefault(first, now_ns())
                last = t == min(first + chunk, n) - 1
                self.apply_result(lanes, r, t0, got, ipc=last,
                                  ipc_note=NOTE_CHUNK)
                self.rec.end(t, got, r["status"], r["note"])
                chunk_end[first] = max(chunk_end.get(first, 0), r["end_ns"])
                handled.append(t)
                compute(env, t, lane, iters,
                        "the caller handling this result",
                        cpu_ns=self.opt.get("handle", 0))
        except Stopped:
            pass
        self.checks["collect_order"] = "map"
        self.checks["collected"] = handled[:ORDER_SHOWN_MAX]
        # A chunk is done when its last task is; its tasks in order.
        finished = sorted(handled, key=lambda t: (
            chunk_end[t - t % chunk], t))
        self.checks["finish_order"] = finished[:ORDER_SHOWN_MAX]

    # -- asyncio

    def run_asyncio(self):
        asyncio.run(AioRun(self, None).main())

    def run_asyncio_executor(self):
        # 0 (the default) is the executor's own default, as in Python:
        # min(32, cores + 4) threads, or a process per core.
        workers = self.opt.get("workers") or None
        if self.opt.get("executor") == "processes":
            self.pool_t0 = now_ns()
            cfg = self.process_config(None)
            ex = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=self.mp_ctx, initializer=worker_init,
                initargs=(cfg,))
        else:
            ex = concurrent.futures.ThreadPoolExecutor(workers)
        try:
            asyncio.run(AioRun(self, ex).main())
        finally:
            ex.shutdown(wait=True, cancel_futures=True)


def kill_pool(ex):
    for p in list(getattr(ex, "_processes", {}).values()):
        try:
            p.kill()
        except Exception:
            pass


class AioRun:
    """asyncio: one loop, a coroutine per task, asyncio's primitives."""

    def __init__(self, run, executor):
        self.run = run
        self.rec = run.rec
        self.ex = executor
        self.program = run.program
        self.steps = self.program["steps"]
        self.sh = run.shared
        self.max_lag = 0
        self.finish = []
        self.offload = run.opt.get("offload_io") == "on"
        self.threads_ex = isinstance(executor,
                                     concurrent.futures.ThreadPoolExecutor)
        self.ex_lanes = {}
        self.proc_lanes = ProcessLanes(run.rec)

    def name(self, index):
        return self.program["objects"][index]["name"]

    async def main(self):
        run = self.run
        self.loop = asyncio.get_running_loop()
        self.objects = make_objects(self.program, None, True)
        run.objects = self.objects
        # asyncio.Barrier is 3.11's: before it, no program here has one.
        barrier = getattr(asyncio, "Barrier", None)
        for o in self.objects:
            if barrier is not None and isinstance(o, barrier):
                run.aborters.append(
                    lambda b=o: self.loop.call_soon_threadsafe(
                        lambda: asyncio.ensure_future(b.abort())))
        self.closers = counter_closers(self.program)
        self.lane = self.rec.lane("loop", "event loop",
                                  threading.get_native_id())
        self.env = run.env(self.objects, False)
        self.env.rec = self.rec
        if self.threads_ex:
            self.tenv = run.env(self.objects, gil_active())
        limit = run.opt.get("limit", 0)
        self.limit = asyncio.Semaphore(limit) if limit > 0 else None
        group = run.opt.get("group", "return_exceptions")
        self.group = group
        tasks, daemons = [], []
        self.futs = [None] * run.n_tasks
        self.cancel_note = {}
        self.first_bad = None   # the first task to end other than ok
        self.first_raise = None  # the first to raise (not cancelled)
        self.resumed = False

        def create(t, spawn):
            self.rec.submit(t, now_ns())
            daemon = self.program["tasks"][t].get("daemon")
            # A daemon is a task never awaited: asyncio.run cancels it.
            f = (asyncio.ensure_future if daemon else spawn)(self.task(t))
            self.futs[t] = f
            (daemons if daemon else tasks).append(f)

        collected = []
        resumed_by = None
        if group == "taskgroup":
            # TaskGroup (3.11+): the first exception cancels the
            # siblings, and main gets it in an ExceptionGroup once they
            # have ended.
            stopper = None
            try:
                async with asyncio.TaskGroup() as tg:
                    for t in range(run.n_tasks):
                        create(t, tg.create_task)
                    stopper = asyncio.ensure_future(
                        self.watch_stop(tasks + daemons))
            except BaseExceptionGroup:  # noqa: F821 (3.11+)
                resumed_by = self.first_raise
            if stopper is not None:
                stopper.cancel()
        else:
            for t in range(run.n_tasks):
                create(t, asyncio.ensure_future)
            stopper = asyncio.ensure_future(self.watch_stop(tasks + daemons))
            if group == "gather":
                try:
                    collected = await asyncio.gather(*tasks)
                except (Exception, asyncio.CancelledError):
                    # The first exception, a cancel among them; the
                    # others run on until main returns.
                    resumed_by = self.first_bad
            elif group == "wait_first":
                if tasks:
                    await asyncio.wait(tasks,
                                       return_when=asyncio.FIRST_COMPLETED)
                    resumed_by = self.finish[0] if self.finish else None
                    if resumed_by is not None:
                        self.main_resume(resumed_by)
                    # asyncio.wait cancels nothing: the rest run on.
                    pending = [f for f in tasks if not f.done()]
                    if pending:
                        await asyncio.wait(pending)
                    resumed_by = None
            elif run.opt.get("collect") == "as_completed":
                # as_completed hands them over in the order they end: a
                # failure is taken too (its await raises), as the
                # finish order says which task it was.
                for k, f in enumerate(asyncio.as_completed(tasks)):
                    try:
                        collected.append(await f)
                    except (Exception, asyncio.CancelledError):
                        collected.append(self.finish[k])
            else:
                # return_exceptions: an exception is a result, in its
                # task's place.
                ids = [self.futs.index(f) for f in tasks]
                results = await asyncio.gather(*tasks,
                                               return_exceptions=True)
                collected = [r if isinstance(r, int) else ids[i]
                             for i, r in enumerate(results)]
            stopper.cancel()
        if resumed_by is not None and not self.sh.stop.is_set():
            self.main_resume(resumed_by)
            collected = []
            # main returns: asyncio.run cancels every task still
            # running, as it does the daemons below.
            rest = [f for f in tasks if not f.done()]
            for f in rest:
                self.cancel_note.setdefault(self.futs.index(f), NOTE_BY_RUN)
                f.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
        collected = [c for c in collected if isinstance(c, int)]
        if any(not d.done() for d in daemons):
            run.raise_stop("done", "")
            for d in daemons:
                d.cancel()
            await asyncio.gather(*daemons, return_exceptions=True)
        if group != "return_exceptions":
            run.checks["group"] = group
        if self.resumed:
            run.checks["main_resumed_ns"] = self.resumed_ns
            run.checks["main_resumed_by"] = self.resumed_by
        run.checks["collect_order"] = run.opt.get("collect", "gather")
        run.checks["collected"] = collected[:ORDER_SHOWN_MAX]
        run.checks["finish_order"] = self.finish[:ORDER_SHOWN_MAX]
        if len(self.finish) > ORDER_SHOWN_MAX:
            run.checks["orders_truncated"] = True
        run.max_loop_lag_ns = self.max_lag
        counters = [i for i, o in enumerate(self.program["objects"])
                    if o["kind"] == "counter"]
        if counters:
            run.checks["explain"] = (
                "The counter is exact because on an event loop a task "
                "runs until it awaits, so nothing comes between the read "
                "and the write of counter += 1; with await=yes an await "
                "sits inside and updates are lost.")

    def main_resume(self, t):
        """main resumes before every task ended: it works on what woke it
        (task t's end) on the main lane, on the loop's thread."""
        self.resumed = True
        self.resumed_by = t
        self.resumed_ns = now_ns()
        compute(self.env, t, self.run.main_lane,
                int(self.env.iters_per_ms * MAIN_HANDLE_NS / NS_PER_MS),
                NOTE_MAIN[self.group])

    async def watch_stop(self, tasks):
        while not self.sh.stop.is_set():
            await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()

    def lag(self, late_ns):
        if late_ns > self.max_lag:
            self.max_lag = late_ns

    async def task(self, t):
        run = self.run
        lane = self.lane
        try:
            if self.limit is not None:
                if self.limit.locked():
                    t0 = now_ns()
                    self.rec.open(t, lane, "sem-wait", t0, "limit")
                    await self.limit.acquire()
                    self.rec.segment(t, lane, "sem-wait", t0, now_ns(),
                                     "limit")
                else:
                    await self.limit.acquire()
            try:
                self.rec.start(t, lane, now_ns())
                self.sh.state[t] = TS_RUNNING
                td = self.program["tasks"][t]

                async def body():
                    for i in range(td["first"], td["first"] + td["n"]):
                        await self.step(t, lane, self.steps[i])
                        self.sh.bump()
                if td.get("timeout_ns", 0) > 0:
                    # asyncio.timeout (3.11+) as wait_for, which every
                    # version has: the steps are cancelled where they
                    # wait.
                    try:
                        await asyncio.wait_for(
                            body(), td["timeout_ns"] / NS_PER_S)
                    except asyncio.TimeoutError:
                        raise StepTimeout()
                else:
                    await body()
                status, note = TASK_OK, ""
            finally:
                self.sh.state[t] = TS_ENDED
                if self.limit is not None:
                    self.limit.release()
        except asyncio.CancelledError as exc:
            status, note = TASK_CANCELLED, self.cancel_note.get(t, "")
            raised = exc
        except Exception as exc:
            status, note = status_of(exc)
            raised = exc
        else:
            raised = None
        self.rec.end(t, now_ns(), status, note)
        self.finish.append(t)
        daemon = self.program["tasks"][t].get("daemon")
        if raised is not None and not daemon:
            if self.first_bad is None:
                self.first_bad = t
            if status != TASK_CANCELLED and self.first_raise is None:
                self.first_raise = t
                if self.group == "taskgroup":
                    # The group cancels the siblings still running.
                    tasks = self.program["tasks"]
                    for k, f in enumerate(self.futs):
                        if k != t and f is not None and not f.done() \
                                and not tasks[k].get("daemon"):
                            self.cancel_note.setdefault(k, NOTE_BY_GROUP)
            # The exception goes on to whoever awaits the task (gather,
            # the TaskGroup; return_exceptions makes it a result).
            raise raised
        return t

    async def wait_on(self, t, lane, index, op, state, aw, ready):
        """Awaits aw (a coroutine); when ready() says it would wait, a
        wait segment covers it and the registry says what for."""
        if ready():
            return await aw
        t0 = now_ns()
        self.sh.op[t], self.sh.obj[t] = op, index
        self.sh.state[t] = TS_BLOCKED
        self.rec.open(t, lane, state, t0, self.name(index))
        try:
            return await aw
        finally:
            self.sh.state[t] = TS_RUNNING
            self.rec.segment(t, lane, state, t0, now_ns(), self.name(index))

    async def net(self, t, lane, delay_ns, reply_bytes, timeout_ns=0,
                  t0=None):
        """A request as asyncio.open_connection makes it: a connection of
        its own (connect), the line, the reply to the end (io)."""
        rec = self.rec
        t0 = now_ns() if t0 is None else t0
        marks = [t0, None]

        async def exchange():
            rec.open(t, lane, "connect", t0)
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.run.cfg["peer_port"])
            finally:
                marks[1] = now_ns()
                rec.segment(t, lane, "connect", t0, marks[1])
            rec.open(t, lane, "io", marks[1])
            try:
                writer.write(request_line(delay_ns, reply_bytes))
                while await reader.read(65536):
                    pass
            finally:
                writer.close()
        try:
            if timeout_ns > 0:
                try:
                    await asyncio.wait_for(exchange(),
                                           timeout_ns / NS_PER_S)
                except asyncio.TimeoutError:
                    raise StepTimeout()
            else:
                await exchange()
        finally:
            if marks[1] is not None:
                rec.segment(t, lane, "io", marks[1], now_ns())

    async def in_executor(self, t, lane, steps):
        """Steps handed to the executor: a thread records on its own lane;
        a process sends its events back."""
        if self.threads_ex:
            def body():
                ident = threading.get_ident()
                wl = self.ex_lanes.get(ident)
                if wl is None:
                    wl = self.ex_lanes[ident] = self.run.thread_lane()
                for s in steps:
                    run_step(self.tenv, t, wl, s)
            await self.loop.run_in_executor(self.ex, body)
            return
        r = await self.loop.run_in_executor(self.ex, worker_task, t, b"",
                                            steps)
        received = now_ns()
        self.run.apply_result(self.proc_lanes, r, r["start_ns"], received)
        if r["status"] != TASK_OK:
            raise OSError(r["note"] or r["status"])

    async def step(self, t, lane, s):
        kind = s["kind"]
        objs = self.objects
        if self.sh.stop.is_set():
            raise asyncio.CancelledError()
        if kind in ("cpu", "cpu-nogil") and self.ex is not None:
            await self.in_executor(t, lane, [s])
        elif kind in ("net", "disk") and self.offload:
            await self.in_executor(t, lane, [s])
        elif kind == "cpu":
            compute_step(self.env, t, lane, s)
        elif kind == "cpu-nogil":
            compute_nogil(self.env, t, lane, s)  # still on the loop
        elif kind == "block":
            # time.sleep in a coroutine: the loop's thread sleeps.
            blocking_sleep(self.env, t, lane, s["ns"], NOTE_BLOCKING)
        elif kind == "cond wait":
            o = objs[s["object"]]

            async def wait(c=o):
                async with c:
                    await c.wait()
            await self.wait_on(t, lane, s["object"], OP_COND, "event-wait",
                               wait(), lambda: False)
        elif kind == "cond notify":
            o = objs[s["object"]]
            async with o:
                if s["n"] > 0:
                    o.notify(s["n"])
                else:
                    o.notify_all()
        elif kind in ("sleep", "timer"):
            # A timer is loop.call_later: the task runs when it is due.
            note = NOTE_TIMER if kind == "timer" else ""
            t0 = now_ns()
            self.rec.open(t, lane, "sleep", t0, note)
            try:
                await asyncio.sleep(s["ns"] / NS_PER_S)
            finally:
                t1 = now_ns()
                self.rec.segment(t, lane, "sleep", t0, t1, note)
            self.lag(t1 - t0 - s["ns"])
        elif kind == "net":
            t0 = now_ns()
            await self.net(t, lane, s["ns"], max(s["aux"], 0))
            self.lag(now_ns() - t0 - s["ns"])
        elif kind == "disk":
            disk(self.env, t, lane, s)  # blocking: asyncio has no files
        elif kind == "lock":
            o = objs[s["object"]]
            await self.wait_on(t, lane, s["object"], OP_LOCK, "lock-wait",
                               o.acquire(), lambda: not o.locked())
        elif kind == "unlock":
            objs[s["object"]].release()
        elif kind == "acquire":
            o = objs[s["object"]]
            await self.wait_on(t, lane, s["object"], OP_SEM, "sem-wait",
                               o.acquire(), lambda: not o.locked())
        elif kind == "release":
            objs[s["object"]].release()
        elif kind == "put":
            await self.put(t, lane, s["object"], s["n"])
            if s["n"] >= 0:
                self.sh.add("produced")
        elif kind == "get":
            if await self.get(t, lane, s["object"]) >= 0:
                self.sh.add("consumed")
        elif kind == "incr":
            await self.incr(t, lane, s)
        elif kind == "barrier":
            o = objs[s["object"]]
            try:
                await self.wait_on(t, lane, s["object"], OP_BARRIER,
                                   "barrier-wait", o.wait(),
                                   lambda: o.n_waiting + 1 >= o.parties)
            except asyncio.BrokenBarrierError:
                raise asyncio.CancelledError()
        elif kind == "event set":
            objs[s["object"]].set()
        elif kind == "event wait":
            o = objs[s["object"]]
            await self.wait_on(t, lane, s["object"], OP_EVENT, "event-wait",
                               o.wait(), o.is_set)
        elif kind == "request":
            await self.request(t, lane, s)
        elif kind == "consume":
            await self.consume(t, lane, s)
        elif kind == "close":
            self.closers[s["object"]] -= 1
            if self.closers[s["object"]] == 0:
                for _ in range(s["n"]):
                    await self.put(t, lane, s["object"], -1)
        elif kind == "fail":
            raise RuntimeError(RAISED_TEXT)
        elif kind == "cancel":
            # task.cancel(): CancelledError reaches the task where it
            # next waits; a task that ended already is left.
            victim = self.futs[s["n"]]
            if not victim.done():
                self.cancel_note.setdefault(s["n"], NOTE_BY_CANCEL)
                victim.cancel()
        else:
            raise ValueError("step %r has no Python equivalent" % kind)

    async def put(self, t, lane, index, item):
        q = self.objects[index]
        await self.wait_on(t, lane, index, OP_PUT, "queue-wait", q.put(item),
                           lambda: not q.full())
        self.rec.counter(now_ns(), self.sh.add("queued_items", 1))

    async def get(self, t, lane, index):
        q = self.objects[index]
        item = await self.wait_on(t, lane, index, OP_GET, "queue-wait",
                                  q.get(), lambda: not q.empty())
        self.rec.counter(now_ns(), self.sh.add("queued_items", -1))
        return item

    async def consume(self, t, lane, s):
        fwd = s["aux"] - 1 if s["aux"] > 0 else None
        work = self.steps[s["n"]] if 0 <= s["n"] < len(self.steps) else None
        while True:
            item = await self.get(t, lane, s["object"])
            if item < 0:
                return
            if work is not None and work["kind"] == "cpu":
                await self.step(t, lane, work)
            if fwd is not None:
                await self.put(t, lane, fwd, item)
                self.sh.add("transformed")
            else:
                self.sh.add("consumed")
            self.sh.bump()

    async def incr(self, t, lane, s):
        obj = self.objects[s["object"]]
        note = self.name(s["object"])
        n = s["n"]
        t0 = now_ns()
        self.rec.open(t, lane, "compute", t0, note)
        done = 0
        if obj[0] == "mp":
            # A multiprocessing.Value (value NAME): exact on one thread,
            # whichever way it is updated, at its own cost.
            _, mode, value, size = obj
            try:
                for _ in range(n):
                    if mode == "array":
                        value[t % size] += 1
                    elif mode == "get_lock":
                        with value.get_lock():
                            value.value += 1
                    else:
                        value.value += 1
                    done += 1
            finally:
                self.sh.add("attempted", done)
                self.rec.segment(t, lane, "compute", t0, now_ns(), note)
            return
        _, mode, box, guard, it = obj
        try:
            if s["flags"] & 1:
                # An await between the read and the write: one compute
                # segment per increment, as the engine records it.
                for _ in range(n):
                    if guard is not None:
                        await guard.acquire()
                    x = box.value
                    t1 = now_ns()
                    self.rec.segment(t, lane, "compute", t0, t1, note)
                    await asyncio.sleep(0)
                    t0 = now_ns()
                    box.value = x + 1
                    if guard is not None:
                        guard.release()
                    done += 1
            elif mode == "atomic":
                for _ in range(n):
                    next(it)
                done = n
            elif mode == "lock":
                for _ in range(n):
                    async with guard:
                        box.value += 1
                done = n
            else:
                for _ in range(n):
                    box.value += 1
                done = n
        finally:
            self.sh.add("attempted", done)
            self.rec.segment(t, lane, "compute", t0, now_ns(), note)

    async def rate(self, t, lane, index):
        _, interval, nxt, _lock = self.objects[index]
        t0 = now_ns()
        now = t0
        if interval and now < nxt[0]:
            due = nxt[0]
            nxt[0] = due + interval  # the slot is ours: the next is later
            self.rec.open(t, lane, "rate-wait", t0, self.name(index))
            await asyncio.sleep((due - now) / NS_PER_S)
            now = now_ns()
            self.rec.segment(t, lane, "rate-wait", t0, now, self.name(index))
            self.lag(now - due)
        else:
            nxt[0] = now + interval
        return now

    async def request(self, t, lane, s):
        r = self.program["requests"][s["aux"]]
        objs = self.program["objects"]
        limiter = s["object"] if s["object"] < len(objs) and \
            objs[s["object"]]["kind"] == "limiter" else None
        sh = self.sh
        sh.set_max("max_in_flight", sh.add("in_flight", 1))
        try:
            attempt = 0
            while True:
                k = min(attempt, len(r["latency_ns"]) - 1)
                t_io = now_ns()
                if limiter is not None:
                    t_io = await self.rate(t, lane, limiter)
                latency = r["latency_ns"][k] or s["ns"]
                failed = None
                try:
                    await self.net(t, lane, latency, REQUEST_REPLY_BYTES,
                                   r["timeout_ns"], t_io)
                    if (r["fail_mask"] >> k) & 1:
                        failed = TASK_ERROR
                except StepTimeout:
                    failed = TASK_TIMEOUT
                t1 = now_ns()
                if failed is None:
                    sh.add("succeeded")
                    return
                if attempt >= r["retries"]:
                    sh.add("failed")
                    if failed == TASK_TIMEOUT:
                        raise StepTimeout()
                    raise OSError("the server answered with an error")
                sh.add("retries")
                self.rec.open(t, lane, "backoff", t1)
                try:
                    await asyncio.sleep((r["backoff_ns"] << attempt) /
                                        NS_PER_S)
                finally:
                    self.rec.segment(t, lane, "backoff", t1, now_ns())
                attempt += 1
        finally:
            sh.add("in_flight", -1)


# ---- what this interpreter cannot run --------------------------------------

def unsupported(cfg):
    """(field, message) for a spec this interpreter cannot run, or None."""
    opt = cfg["options"]
    model = cfg["run"]["model"]
    info = interpreter_info()
    if sys.version_info < (3, 9):
        return ("python", "python: the reference engine needs Python 3.9 "
                "or later; %s is %s" % (sys.executable, info["version"]))
    threaded = model in ("threads", "thread-pool", "asyncio-executor")
    if threaded and opt.get("gil") == "off" and info["build"] == "gil":
        return ("options.gil", "gil: off needs a free-threaded Python "
                "(such as python3.13t); %s %s is a GIL build" %
                (sys.executable, info["version"]))
    start = opt.get("start")
    if start and start not in multiprocessing.get_all_start_methods():
        return ("options.start", "start: %s is not a start method of "
                "this Python (it has %s)" % (
                    start, ", ".join(multiprocessing.get_all_start_methods())))
    if opt.get("group") == "taskgroup" and sys.version_info < (3, 11):
        return ("options.group", "group: taskgroup needs asyncio.TaskGroup, "
                "which is Python 3.11's; this is %s" % info["version"])
    kinds = {o["kind"] for o in cfg["program"]["objects"]}
    if "barrier" in kinds and model in ("asyncio", "asyncio-executor") and \
            sys.version_info < (3, 11):
        return ("params.program", "barrier: asyncio.Barrier needs Python "
                "3.11 or later; this is %s" % info["version"])
    return None


def main():
    global EPOCH_NS
    record = os.environ.get("OVERLAP_CPYTHON_RECORD", "1") != "0"
    cfg = json.load(sys.stdin)
    out = Out(record)
    why = unsupported(cfg)
    info = interpreter_info()
    if why:
        out.enabled = True
        out.put({"type": "error", "field": why[0], "message": why[1]})
        out.flush()
        return 2
    cfg["iters_per_ms"] = calibrate()
    run_obj = cfg["run"]
    run_obj["engine"] = dict(info, path=sys.executable)
    host = run_obj.setdefault("host", {})
    host["engine"] = "cpython %s" % info["version"]
    host["cpu_iters_per_ms"] = cfg["iters_per_ms"]
    out.put({"type": "run", "run": run_obj})
    run = Run(cfg, out)
    # Only the run's CPU: a launcher that ran before this interpreter (a
    # pyenv shim) left its children's time in RUSAGE_CHILDREN.
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def on_term(signum, frame):
        run.raise_stop("cancelled", "stopped on request")
    signal.signal(signal.SIGTERM, on_term)
    EPOCH_NS = time.monotonic_ns()
    run.run()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ns = int((cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime -
                  cpu0.ru_stime + kids1.ru_utime + kids1.ru_stime -
                  kids0.ru_utime - kids0.ru_stime) * NS_PER_S)
    summary = {"checks": run.checks, "max_loop_lag_ns": run.max_loop_lag_ns}
    out.enabled = True
    out.put({"type": "summary", "status": run.status,
             "message": run.message, "cpu_ns": cpu_ns, "summary": summary})
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
