"""costs: what CPython itself costs on this machine, measured once.

overlap's models are C; with costs=python they also charge what a real
interpreter pays where C pays next to nothing: a worker process that is a
fresh interpreter importing its modules, a thread's bootstrap, an event
loop's task switch, pickling an argument across a pipe.  This script
measures those with the standard library only, the way a Python program
meets them (ProcessPoolExecutor for each start method, threading.Thread,
asyncio tasks, pickle), and prints one JSON object on stdout; the engine
(`overlap calibrate`) stores it.  Every figure is a median of several
rounds, in nanoseconds.

Tasks sent to worker processes are stdlib functions (os.getpid, len), so
every start method finds them.  A spawned worker still runs this file's
top level (as __mp_main__), so it imports only what a pool needs; the rest
is imported where it is used.
"""

import concurrent.futures as futures
import multiprocessing
import os
import sys
import time

FORMAT = "overlap-python-costs"
VERSION = 1

now_ns = time.perf_counter_ns


def median(samples):
    import statistics

    return int(statistics.median(samples))


def process_start_ns(method, rounds):
    """Pool creation to the first result, one worker: the interpreter's
    start (fork, spawn or a fork of the forkserver), its imports and one
    round trip."""
    context = multiprocessing.get_context(method)
    samples = []
    for _ in range(rounds):
        t0 = now_ns()
        with futures.ProcessPoolExecutor(max_workers=1,
                                         mp_context=context) as pool:
            pool.submit(os.getpid).result()
            samples.append(now_ns() - t0)
    return median(samples)


def process_task_ns(rounds):
    """One task's round trip through a warm pool, one at a time: submit,
    the queue thread, the pipe, the worker, the result back."""
    context = multiprocessing.get_context("fork")
    samples = []
    with futures.ProcessPoolExecutor(max_workers=1,
                                     mp_context=context) as pool:
        for _ in range(20):
            pool.submit(os.getpid).result()
        for _ in range(rounds):
            t0 = now_ns()
            pool.submit(os.getpid).result()
            samples.append(now_ns() - t0)
    return median(samples)


def process_ipc_ns_per_byte(nbytes, rounds):
    """What a pool adds per byte of an argument that goes to the worker
    (and whose length comes back): pickling, the pipe, unpickling."""
    context = multiprocessing.get_context("fork")
    payload = bytes(nbytes)
    empty = b""
    big, small = [], []
    with futures.ProcessPoolExecutor(max_workers=1,
                                     mp_context=context) as pool:
        pool.submit(len, empty).result()
        for _ in range(rounds):
            t0 = now_ns()
            pool.submit(len, empty).result()
            small.append(now_ns() - t0)
            t0 = now_ns()
            pool.submit(len, payload).result()
            big.append(now_ns() - t0)
    return max(0.0, (median(big) - median(small)) / nbytes)


def pickle_ns_per_byte(nbytes, rounds):
    """pickle.dumps and pickle.loads of a bytes payload, per byte."""
    import pickle

    payload = bytes(nbytes)
    samples = []
    for _ in range(rounds):
        t0 = now_ns()
        pickle.loads(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        samples.append(now_ns() - t0)
    return median(samples) / nbytes


def thread_start_ns(rounds):
    """threading.Thread(...).start() to the first line of its target."""
    import threading

    samples = []
    entered = [0]

    def target():
        entered[0] = now_ns()

    for _ in range(rounds):
        thread = threading.Thread(target=target)
        t0 = now_ns()
        thread.start()
        thread.join()
        samples.append(entered[0] - t0)
    return median(samples)


def task_switch_ns(tasks, turns, rounds):
    """One asyncio task switch: await asyncio.sleep(0) in many tasks."""
    import asyncio


    async def worker():
        for _ in range(turns):
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(*(worker() for _ in range(tasks)))

    samples = []
    for _ in range(rounds):
        t0 = now_ns()
        asyncio.run(main())
        samples.append((now_ns() - t0) / (tasks * turns))
    return median(samples)


counter = 0


def increments(n):
    global counter
    for _ in range(n):
        counter += 1


def noop():
    pass


def calls(n):
    global counter
    for _ in range(n):
        value = counter
        noop()
        counter = value + 1


def per_turn_ns(fn, n, rounds):
    samples = []
    for _ in range(rounds):
        t0 = now_ns()
        fn(n)
        samples.append((now_ns() - t0) / n)
    return median(samples)


# ---- memory (--memory) ------------------------------------------------------
#
# What src/costs.c keeps as costs_memory, the figures behind the counter
# memory_bytes: the growth of this process's resident set (/proc/self/statm)
# over many idle objects of a kind, per object; a worker's own resident set.
# Linux only (/proc).

def rss_bytes(pid="self"):
    with open("/proc/%s/statm" % pid, "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def thread_bytes(n):
    """n Thread objects, then the same n started and waiting: (what each
    started thread adds to the resident set: its stack's pages touched and
    its thread state; what each object holds)."""
    import threading

    import tracemalloc

    go = threading.Event()
    # The objects are small and may fit in pages the heap already has:
    # what Python allocated for them, not the resident set's growth.
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    threads = [threading.Thread(target=go.wait) for _ in range(n)]
    created = (tracemalloc.get_traced_memory()[0] - before) // n
    tracemalloc.stop()
    before = rss_bytes()
    for t in threads:
        t.start()
    time.sleep(0.3)
    started = (rss_bytes() - before) // n
    go.set()
    for t in threads:
        t.join()
    return started, created


def task_bytes(n):
    """n pending asyncio Tasks, each awaiting one Event."""
    import asyncio

    async def idle(go):
        await go.wait()

    async def run():
        go = asyncio.Event()
        before = rss_bytes()
        tasks = [asyncio.create_task(idle(go)) for _ in range(n)]
        await asyncio.sleep(0.1)
        held = (rss_bytes() - before) // n
        go.set()
        await asyncio.gather(*tasks)
        return held

    return asyncio.run(run())


def future_bytes(n):
    """n Futures pending behind a ThreadPoolExecutor's busy workers."""
    import threading

    go = threading.Event()
    with futures.ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(go.wait)
        pool.submit(go.wait)
        time.sleep(0.1)
        before = rss_bytes()
        pending = [pool.submit(len, "") for _ in range(n)]
        held = (rss_bytes() - before) // len(pending)
        go.set()
    return held


def process_bytes(method):
    """A ProcessPoolExecutor worker's resident set, once it has run a
    task."""
    context = multiprocessing.get_context(method)
    with futures.ProcessPoolExecutor(max_workers=1,
                                     mp_context=context) as pool:
        pid = pool.submit(os.getpid).result()
        return rss_bytes(pid)


def interpreter_bytes(n):
    """n subinterpreters (CPython 3.11 to 3.13's private module), or
    None where it is missing."""
    try:
        import _xxsubinterpreters as interpreters
    except ImportError:
        return None
    before = rss_bytes()
    ids = [interpreters.create() for _ in range(n)]
    held = (rss_bytes() - before) // n
    for i in ids:
        interpreters.destroy(i)
    return held


def memory_main():
    import json
    import platform
    import threading

    # The workers first, while this process is small (a forked worker
    # shares its parent's pages), and the interpreters before the heap
    # has room left over from the objects below.
    methods = multiprocessing.get_all_start_methods()
    processes = {m: process_bytes(m) for m in ("fork", "spawn", "forkserver")
                 if m in methods}
    interpreter = interpreter_bytes(20)
    started, created = thread_bytes(1000)
    json.dump({
        "python": platform.python_version(),
        "thread_stack_size": threading.stack_size(),
        "thread_bytes": started,
        "thread_object_bytes": created,
        "task_bytes": task_bytes(100000),
        "future_bytes": future_bytes(100000),
        "process_bytes": processes,
        "interpreter_bytes": interpreter,
    }, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def main():
    import json
    import platform
    import sysconfig

    if "--memory" in sys.argv[1:]:
        return memory_main()
    quick = "--quick" in sys.argv[1:]
    rounds = 3 if quick else 7
    t0 = now_ns()
    methods = multiprocessing.get_all_start_methods()
    costs = {
        "format": FORMAT,
        "version": VERSION,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "build": "free-threaded"
            if sysconfig.get_config_var("Py_GIL_DISABLED") else "gil",
        },
        "cores": os.cpu_count() or 1,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "process_start_ns": {
            m: process_start_ns(m, rounds)
            for m in ("fork", "spawn", "forkserver") if m in methods
        },
        "process_task_ns": process_task_ns(50 if quick else 200),
        "ipc_ns_per_byte": process_ipc_ns_per_byte(4 << 20, rounds),
        "pickle_ns_per_byte": pickle_ns_per_byte(16 << 20, rounds),
        "thread_start_ns": thread_start_ns(50 if quick else 200),
        "task_switch_ns": task_switch_ns(1000, 20, rounds),
        "increment_ns": per_turn_ns(increments, 1_000_000, rounds),
        "increment_with_call_ns": per_turn_ns(calls, 1_000_000, rounds),
    }
    costs["calibration_ns"] = now_ns() - t0
    json.dump(costs, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
