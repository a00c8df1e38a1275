"""fidelity: each lesson of the README's table under the overlap model and
under CPython (the reference engine), side by side.

`make fidelity` runs it.  Every lesson is one spec, run once by each engine
on this machine (build/overlap run --spec -, engine overlap, then engine
cpython), and judged by one figure: the wall time for most lessons, the
updates lost for the race.  The verdict says whether the engines agree
within 10% and, when they do not, where they differ, read from the two
traces: start-up, per-task cost, waiting for the GIL, lost updates.

Usage: python3 tests/fidelity.py [--overlap build/overlap] [--python PATH]
       [--only N,M] [--json]
"""

import argparse
import json
import subprocess
import sys

TOLERANCE = 0.10

# (number, lesson, spec, figure): the README's lesson table, in order.
LESSONS = [
    (1, "I/O-bound waiting overlaps",
     {"workload": "fetch", "model": "threads",
      "params": {"tasks": 3, "duration": "2s"}}, "wall"),
    (2, "a pool runs in batches",
     {"workload": "fetch", "model": "thread-pool",
      "params": {"tasks": 8, "duration": "1.5s"},
      "options": {"workers": 4}}, "wall"),
    (3, "async: the longest, not the sum",
     {"workload": "fetch", "model": "asyncio",
      "params": {"durations": "1.5s,2s,1s"}}, "wall"),
    (4, "async scales where threads do not",
     {"workload": "fetch", "model": "asyncio",
      "params": {"tasks": 100000, "io": "sleep"}}, "wall"),
    (5, "the GIL serialises CPU work",
     {"workload": "crunch", "model": "threads",
      "params": {"tasks": 2, "duration": "1s"}}, "wall"),
    (6, "processes use the cores",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 2, "duration": "1s"}}, "wall"),
    (7, "free-threaded build",
     {"workload": "crunch", "model": "threads",
      "params": {"tasks": 2, "duration": "1s"},
      "options": {"gil": "off"}}, "wall"),
    (8, "a blocking call freezes the loop",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": "3 x (cpu 200ms, sleep 100ms)"}}, "wall"),
    (9, "race conditions lose updates",
     {"workload": "counter", "model": "threads",
      "params": {"sync": "none"}}, "lost"),
    (10, "producer / consumer",
     {"workload": "pipeline", "model": "threads"}, "wall"),
    (11, "bounded, rate-limited scraping",
     {"workload": "scraper", "model": "asyncio"}, "wall"),
    (12, "hybrid",
     {"workload": "mixed", "model": "asyncio-executor",
      "params": {"tasks": 4, "compute": "200ms", "wait": "300ms"}},
     "wall"),
]


def run(overlap, spec, engine, python):
    """The trace of one run, or an error text."""
    body = dict(spec, engine=engine)
    if engine == "cpython" and python:
        body["python"] = python
    proc = subprocess.run([overlap, "run", "--spec", "-", "--format", "json"],
                          input=json.dumps(body), capture_output=True,
                          text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() \
            else "exit status %d" % proc.returncode
    return json.loads(proc.stdout)


def state_ns(trace, state):
    return trace["summary"]["states"].get(state, 0)


def figure(trace, kind):
    if kind == "lost":
        return trace["summary"]["checks"].get("lost", 0)
    return trace["summary"]["wall_ns"] / 1e9


def show(value, kind):
    if isinstance(value, str):
        return "-"
    if kind == "lost":
        return "%d lost" % value
    return "%.2f s" % value


def why(model, real, kind):
    """Where the two traces differ, in a few words."""
    if kind == "lost":
        return ("lost updates: the model lost %d, CPython %d (%s)" % (
            figure(model, kind), figure(real, kind),
            real["run"].get("engine", {}).get("version", "?")))
    reasons = []
    n_tasks = max(len(model["tasks"]), 1)
    for state, words in (("startup", "start-up"), ("gil-wait", "GIL wait"),
                         ("ipc", "IPC"), ("queued", "queueing")):
        m, r = state_ns(model, state) / 1e9, state_ns(real, state) / 1e9
        if abs(r - m) > 0.05 * max(figure(model, kind), 1e-9):
            reasons.append("%s %.3f s vs %.3f s" % (words, m, r))
    dw = figure(real, kind) - figure(model, kind)
    reasons.append("per task %+.1f ms in CPython" % (dw / n_tasks * 1e3))
    return "; ".join(reasons)


def verdict(model, real, kind):
    if isinstance(model, str) or isinstance(real, str):
        return None, "CPython cannot run it: " + real if isinstance(
            real, str) else "the model cannot run it: " + model
    m, r = figure(model, kind), figure(real, kind)
    if kind == "lost":
        same = (m == 0) == (r == 0)
        ratio = None
    else:
        ratio = r / m if m else None
        same = ratio is not None and abs(ratio - 1) <= TOLERANCE
    if same:
        return ratio, "agrees"
    return ratio, "differs: " + why(model, real, kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--overlap", default="build/overlap")
    ap.add_argument("--python", default="")
    ap.add_argument("--only", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",") if x}
    rows = []
    if not args.json:
        print("%2s  %-34s %10s %10s %6s  %s" % (
            "#", "lesson", "model", "CPython", "ratio", "verdict"))
    for number, lesson, spec, kind in LESSONS:
        if only and number not in only:
            continue
        model = run(args.overlap, spec, "overlap", args.python)
        real = run(args.overlap, spec, "cpython", args.python)
        ratio, text = verdict(model, real, kind)
        rows.append({
            "n": number, "lesson": lesson,
            "model": show(figure(model, kind) if not isinstance(model, str)
                          else model, kind),
            "cpython": show(figure(real, kind) if not isinstance(real, str)
                            else real, kind),
            "ratio": "%.2f" % ratio if ratio else "-", "verdict": text})
        if not args.json:
            r = rows[-1]
            print("%2d  %-34s %10s %10s %6s  %s" % (
                r["n"], r["lesson"], r["model"], r["cpython"], r["ratio"],
                r["verdict"]), flush=True)
        if not isinstance(real, str):
            engine = real["run"].get("engine", {})
            rows[-1]["python"] = "%s (%s)" % (engine.get("version"),
                                              engine.get("build"))
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
