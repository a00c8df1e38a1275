"""fidelity: each lesson of the README's table under the overlap model and
under CPython (the reference engine), side by side.

`make fidelity` runs it.  Every lesson is one spec (or, for "how many
workers?", one sweep), run by each engine on this machine, the two engines
in turn, ROUNDS times each; the figure is the median wall time (lost
updates for the race).  Taking turns exposes both engines to the same
load, and the median drops a round another tenant of the machine spoiled;
the load average before and after is printed, since on a shared machine
it moves every figure.  The verdict says whether the engines agree within
10% and, when they do not, where they differ, read from the two traces:
start-up, per-task cost, waiting for the GIL, time off the core, lost
updates.  A lesson CPython cannot run is named with CPython's own reason.

Usage: python3 tests/fidelity.py [--overlap build/overlap] [--python PATH]
       [--only N,M] [--rounds N] [--json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

TOLERANCE = 0.10
ROUNDS = 3

TICKS = ", ".join(["net 50ms, cpu 5ms"] * 5)

# (number, lesson, spec, figure): the README's lesson table, in order, each
# with the spec its "try" column gives (the page's lesson where it leaves
# a value open).  A figure of "sweep" runs `overlap sweep` with the spec's
# "sweep" (param, values).
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
      "params": {"tasks": 2, "duration": "1s"},
      "options": {"gil": "on"}}, "wall"),
    (6, "processes use the cores",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 2, "duration": "1s"}}, "wall"),
    (7, "a fork server starts the workers",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 4, "duration": "1s"},
      "options": {"workers": 2, "start": "forkserver"}}, "wall"),
    (8, "interpreters: between threads and processes",
     {"workload": "crunch", "model": "interpreter-pool",
      "params": {"tasks": 2, "duration": "1s"},
      "options": {"workers": 2, "payload_bytes": 8388608}}, "wall"),
    (9, "free-threaded build",
     {"workload": "crunch", "model": "threads",
      "params": {"tasks": 2, "duration": "1s"},
      "options": {"gil": "off"}}, "wall"),
    (10, "more threads than cores",
     {"workload": "crunch", "model": "threads",
      "params": {"tasks": 6, "duration": "1s"},
      "options": {"gil": "off"}}, "wall"),
    (11, "a blocking call freezes the loop",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": "4 x (%s, net 50ms); 1 x (net 75ms, cpu 150ms)"
                 % TICKS}}, "wall"),
    (12, "race conditions lose updates",
     {"workload": "counter", "model": "threads",
      "params": {"sync": "none", "call": "yes", "increments": 1000000}},
     "lost"),
    (13, "producer / consumer",
     {"workload": "pipeline", "model": "threads"}, "wall"),
    (14, "bounded, rate-limited scraping",
     {"workload": "scraper", "model": "asyncio"}, "wall"),
    (15, "hybrid",
     {"workload": "custom", "model": "asyncio-executor",
      "params": {"program": "4 x (cpu 150ms, net 200ms, cpu 50ms)"},
      "options": {"workers": 2}}, "wall"),
    (16, "how many workers?",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 4, "duration": "200ms"},
      "sweep": ("workers", "1,2,4")}, "sweep"),
]


def load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run_one(overlap, spec, engine, python):
    """The trace of one run (for a sweep: the sweep's JSON), or an error
    text."""
    spec = dict(spec)
    sweep = spec.pop("sweep", None)
    if sweep:
        args = [overlap, "sweep", "--workload", spec["workload"],
                "--model", spec["model"], "--param", "%s=%s" % sweep,
                "--format", "json", "--engine", engine]
        for group in ("params", "options"):
            for key, value in spec.get(group, {}).items():
                args += ["--set", "%s=%s" % (key, value)]
        if engine == "cpython" and python:
            args += ["--python", python]
        proc = subprocess.run(args, capture_output=True, text=True)
    else:
        body = dict(spec, engine=engine)
        if engine == "cpython" and python:
            body["python"] = python
        proc = subprocess.run(
            [overlap, "run", "--spec", "-", "--format", "json"],
            input=json.dumps(body), capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        err = proc.stderr.strip().splitlines()
        return err[-1] if err else "exit status %d" % proc.returncode
    return json.loads(proc.stdout)


def figure(trace, kind):
    if kind == "lost":
        return trace["summary"]["checks"].get("lost", 0)
    if kind == "sweep":
        return sum((p.get("wall_ns") or 0) for p in trace["points"]) / 1e9
    return trace["summary"]["wall_ns"] / 1e9


def median_run(runs, kind):
    """The run whose figure is the median (the lower middle)."""
    ok = [r for r in runs if not isinstance(r, str)]
    if not ok:
        return runs[0]
    ok.sort(key=lambda r: figure(r, kind))
    return ok[(len(ok) - 1) // 2]


def show(value, kind):
    if isinstance(value, str):
        return "-"
    if kind == "lost":
        return "%d lost" % figure(value, kind)
    if kind == "sweep":
        return "/".join("%.2fx" % (p.get("speedup") or 0)
                        for p in value["points"])
    return "%.2f s" % figure(value, kind)


def states(trace):
    return trace["summary"]["states"]


def why(model, real, kind):
    """Where the two traces differ, in a few words."""
    if kind == "lost":
        return "lost updates: the model lost %d, CPython %d" % (
            figure(model, kind), figure(real, kind))
    if kind == "sweep":
        return "wall at %s: model %s, CPython %s" % (
            ", ".join(str(p["value"]) for p in model["points"]),
            "/".join("%.2f" % ((p.get("wall_ns") or 0) / 1e9)
                     for p in model["points"]),
            "/".join("%.2f" % ((p.get("wall_ns") or 0) / 1e9)
                     for p in real["points"]))
    reasons = []
    wall = max(figure(model, kind), 1e-9)
    for state, words in (("startup", "start-up"), ("gil-wait", "GIL wait"),
                         ("runnable", "off the core"), ("ipc", "IPC"),
                         ("queued", "queueing"), ("compute", "compute")):
        m = states(model).get(state, 0) / 1e9
        r = states(real).get(state, 0) / 1e9
        if abs(r - m) > 0.05 * wall:
            reasons.append("%s %.2f s vs %.2f s" % (words, m, r))
    n_tasks = max(len(model.get("tasks", [])), 1)
    dw = figure(real, kind) - figure(model, kind)
    reasons.append("%+.2f ms per task in CPython" % (dw / n_tasks * 1e3))
    return "; ".join(reasons)


def verdict(model, real, kind):
    if isinstance(real, str):
        return None, "CPython cannot run it: " + real
    if isinstance(model, str):
        return None, "the model cannot run it: " + model
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
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",") if x}
    rows = []
    load0 = load()
    version = "?"
    if not args.json:
        print("%2s  %-38s %16s %16s %6s  %s" % (
            "#", "lesson", "model", "CPython", "ratio", "verdict"))
    for number, lesson, spec, kind in LESSONS:
        if only and number not in only:
            continue
        # The engines in turn, so that both see the same load.
        models, reals = [], []
        for _ in range(max(args.rounds, 1)):
            models.append(run_one(args.overlap, spec, "overlap", args.python))
            reals.append(run_one(args.overlap, spec, "cpython", args.python))
            if isinstance(reals[-1], str) or isinstance(models[-1], str):
                break
        model, real = median_run(models, kind), median_run(reals, kind)
        ratio, text = verdict(model, real, kind)
        rows.append({"n": number, "lesson": lesson,
                     "model": show(model, kind), "cpython": show(real, kind),
                     "ratio": "%.2f" % ratio if ratio else "-",
                     "verdict": text})
        if not isinstance(real, str):
            engine = (real.get("engine") if kind == "sweep"
                      else real["run"].get("engine")) or {}
            version = "%s (%s)" % (engine.get("version"), engine.get("build"))
        if not args.json:
            r = rows[-1]
            print("%2d  %-38s %16s %16s %6s  %s" % (
                r["n"], r["lesson"], r["model"], r["cpython"], r["ratio"],
                r["verdict"]), flush=True)
    load1 = load()
    if args.json:
        json.dump({"python": version, "rounds": args.rounds,
                   "load": [load0, load1], "rows": rows}, sys.stdout,
                  indent=1)
        print()
    else:
        print("CPython %s; median of %d runs per engine, the engines in "
              "turn; load average %.1f before, %.1f after (%d cores)" % (
                  version, args.rounds, load0, load1, os.cpu_count() or 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
