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


def main():
    import json
    import platform
    import sysconfig

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
