"""fidelity: each lesson of the README's table under the overlap model and
under CPython (the reference engine), side by side.

`make fidelity` runs it.  Every lesson is one spec (or, for "how many
workers?", one sweep), run by each engine on this machine, the two engines
in turn, ROUNDS times each; the figure is the median wall time, or what the
lesson is about where that is not a time: lost updates, the memory a task
holds, the run's and the tasks' statuses, the order results were handled,
when main resumed (LESSONS says each).  Taking turns exposes both engines
to the same load, and the median drops a round another tenant of the
machine spoiled; the load average before and after is printed, since on a
shared machine it moves every figure.  The verdict says whether the
engines agree (within 10% for a quantity, exactly for a status or an
order) and, when they do not, where they differ, read from the two traces:
start-up, per-task cost, waiting for the GIL, time off the core, lost
updates, which task ended how.  A lesson CPython cannot run is named with
CPython's own reason.  --traces DIR keeps the two median traces of each
lesson for a closer look.

Usage: python3 tests/fidelity.py [--overlap build/overlap] [--python PATH]
       [--only N,M] [--rounds N] [--json] [--traces DIR]
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
ORDER = "sleep 600ms; sleep 100ms; sleep 300ms; sleep 50ms"
GROUP = "(net 250ms, fail); 3 x (net 100ms, cpu 10ms, net 300ms, cpu 10ms)"

# (number, lesson, spec, figures): the lessons of the README's table, each
# with the spec its "try" column gives (the page's lesson where it leaves
# a value open).  The numbers stay as they are, since the README cites
# them: a lesson added later takes the next one.  The figures are one or
# several of:
#   wall       the run's wall time, within 10%
#   lost       lost updates: both lose some, or neither does
#   sweep      an `overlap sweep` of the spec's "sweep" (param, values):
#              the wall time of all its points, within 10%
#   memory     the memory a task holds (peak over tasks), within 10%
#   status     the run's status, each task's, the cause an error or a
#              cancelled task notes (its words before the colon), whether
#              it started, and the diagnosis's advice: all the same
#   order      the order the results were handled (collected): the same
#   resumed    when main resumed (asyncio.wait, a TaskGroup, gather), within
#              10%, and for the same task
#   cut        when the last task cut short (timeout, cancelled) ended,
#              within 10%
#   transfers  the number of `ipc` segments: the same
# The first is the one shown, with the ratio; the verdict agrees only when
# all agree.
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
    (17, "memory: a thread per task",
     {"workload": "fetch", "model": "threads",
      "params": {"tasks": 1000, "duration": "500ms"}}, "memory"),
    (18, "memory: a coroutine per task",
     {"workload": "fetch", "model": "asyncio",
      "params": {"tasks": 10000, "duration": "500ms"}}, "memory"),
    (19, "a lambda cannot be pickled",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 2, "duration": "100ms"},
      "options": {"start": "spawn", "pitfall": "lambda"}}, "status"),
    (20, "the missing main guard",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 2, "duration": "100ms"},
      "options": {"start": "spawn", "pitfall": "no-main-guard"}}, "status"),
    (21, "time.sleep in a coroutine",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": "4 x (%s, net 50ms); 1 x (net 75ms, block 150ms)"
                 % TICKS}}, "wall"),
    (22, "a C extension releases the GIL",
     {"workload": "custom", "model": "threads",
      "params": {"program": "2 x (cpu-nogil 300ms)"},
      "options": {"gil": "on"}}, "wall"),
    (23, "an RLock re-enters",
     {"workload": "custom", "model": "threads",
      "params": {"program": "rlock r; 3 x (lock r, lock r, cpu 20ms, "
                 "unlock r, unlock r)"}}, ("wall", "status")),
    (24, "a condition: wait and notify",
     {"workload": "custom", "model": "threads",
      "params": {"program": "condition ready; 3 x (cond wait ready, "
                 "cpu 20ms); sleep 100ms, cond notify ready all"}},
     ("wall", "status")),
    (25, "timers and daemon threads",
     {"workload": "custom", "model": "threads",
      "params": {"program": "daemon (timer 50ms, sleep 5s); "
                 "(timer 100ms, cpu 20ms); 2 x (net 200ms)"}},
     ("wall", "status", "cut")),
    (26, "asyncio.timeout cancels where it waits",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": "timeout 250ms 2 x (net 100ms, net 300ms, "
                 "cpu 20ms); 2 x (net 100ms, net 300ms, cpu 20ms)"}},
     ("wall", "status", "cut")),
    (27, "task.cancel() cuts where it waits",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": "2 x (net 400ms, cpu 20ms); "
                 "(sleep 150ms, cancel 1)"}}, ("wall", "status", "cut")),
    (28, "a TaskGroup cancels the siblings",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": GROUP}, "options": {"group": "taskgroup"}},
     ("resumed", "status", "cut")),
    (29, "gather: first exception reaches main",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": GROUP}, "options": {"group": "gather"}},
     ("resumed", "status", "cut")),
    (30, "asyncio.wait(FIRST_COMPLETED)",
     {"workload": "custom", "model": "asyncio",
      "params": {"program": "(net 100ms, cpu 10ms); (net 300ms, cpu 10ms); "
                 "(net 500ms, cpu 10ms)"},
      "options": {"group": "wait_first"}}, ("resumed", "wall", "status")),
    (31, "shared memory needs its lock",
     {"workload": "custom", "model": "process-pool",
      "params": {"program": "value total; 2 x (incr total 500000)"},
      "options": {"workers": 2}}, ("lost", "wall")),
    (32, "message passing copies",
     {"workload": "custom", "model": "process-pool",
      "params": {"program": "pipe results; 2 x (cpu 100ms, send results "
                 "4MiB); (recv results, recv results, cpu 10ms)"},
      "options": {"workers": 3}}, ("wall", "status")),
    (33, "a pool's results in order (map)",
     {"workload": "custom", "model": "thread-pool",
      "params": {"program": ORDER},
      "options": {"workers": 4, "collect": "map", "handle": "50ms"}},
     ("wall", "order")),
    (34, "a pool's results as they end",
     {"workload": "custom", "model": "process-pool",
      "params": {"program": ORDER},
      "options": {"workers": 4, "collect": "as_completed",
                  "handle": "50ms"}}, ("wall", "order")),
    (35, "map with chunksize",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 8, "duration": "40ms"},
      "options": {"workers": 2, "collect": "map", "chunksize": 4,
                  "payload_bytes": 1048576, "handle": "10ms"}},
     ("wall", "order", "transfers")),
    (36, "fork after threads",
     {"workload": "crunch", "model": "process-pool",
      "params": {"tasks": 4, "duration": "100ms"},
      "options": {"workers": 2, "start": "fork",
                  "pitfall": "fork-after-threads"}}, "status"),
    (37, "an Array: an element each",
     {"workload": "custom", "model": "process-pool",
      "params": {"program": "array totals=2; 2 x (incr totals 200000)"},
      "options": {"workers": 2}}, ("lost", "wall")),
    (38, "a Manager: every access is a message",
     {"workload": "custom", "model": "process-pool",
      "params": {"program": "value hits=manager; 2 x (incr hits 1000)"},
      "options": {"workers": 2}}, ("wall", "status")),
    (39, "imap: a buffer of tasks ahead",
     {"workload": "custom", "model": "thread-pool",
      "params": {"program": "sleep 300ms; 3 x (sleep 100ms)"},
      "options": {"workers": 2, "collect": "imap", "handle": "50ms"}},
     ("wall", "order")),
]

# Figures that are a quantity: compared by their ratio.
MEASURES = ("wall", "sweep", "memory", "resumed", "cut")


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


def kinds_of(figures):
    return (figures,) if isinstance(figures, str) else tuple(figures)


def cause(task):
    """What an error or a cancelled task notes as its cause: the words
    before the colon (the exception's name, who cancelled it); the rest
    is the exception's own text, which names addresses."""
    if task["status"] not in ("error", "cancelled"):
        return ""
    return (task.get("note") or "").split(":")[0].strip()


def figure(trace, kind):
    summary = trace.get("summary") or {}  # a sweep has none
    checks = summary.get("checks") or {}
    if kind == "lost":
        return checks.get("lost", 0)
    if kind == "sweep":
        return sum((p.get("wall_ns") or 0) for p in trace["points"]) / 1e9
    if kind == "memory":
        return summary.get("memory_per_task_bytes", -1)
    if kind == "status":
        return (trace["run"]["status"],
                tuple((t["status"], cause(t),
                       "never started" if t.get("start_ns") is None else "")
                      for t in trace["tasks"]),
                summary.get("diagnosis", {}).get("advice") or "")
    if kind == "order":
        return tuple(checks.get("collected") or ())
    if kind == "resumed":
        ns = checks.get("main_resumed_ns")
        return ns / 1e9 if ns is not None else None
    if kind == "cut":
        ends = [t["end_ns"] for t in trace["tasks"]
                if t["status"] in ("timeout", "cancelled")]
        return max(ends) / 1e9 if ends else None
    if kind == "transfers":
        return sum(1 for s in trace["segments"] if s["state"] == "ipc")
    return summary["wall_ns"] / 1e9


def median_run(runs, kinds):
    """The run whose figure is the median (the lower middle); the wall
    time decides where the figure is not a quantity."""
    ok = [r for r in runs if not isinstance(r, str)]
    if not ok:
        return runs[0]
    kind = kinds[0] if kinds[0] in MEASURES + ("lost",) else "wall"
    ok.sort(key=lambda r: figure(r, kind)
            if figure(r, kind) is not None else -1)
    return ok[(len(ok) - 1) // 2]


def show_statuses(value):
    """"done: 2 timeout, 2 ok": the run's status, then how many tasks
    ended in each status, in the order they first appear."""
    run, tasks, _ = value
    counts = {}
    for status, _, _ in tasks:
        counts[status] = counts.get(status, 0) + 1
    return "%s: %s" % (run, ", ".join("%d %s" % (n, s)
                                      for s, n in counts.items()))


def show_order(value):
    return ",".join(str(i + 1) for i in value) or "none"


def show(value, kind):
    if isinstance(value, str):
        return "-"
    f = figure(value, kind)
    if kind == "lost":
        return "%d lost" % f
    if kind == "sweep":
        return "/".join("%.2fx" % (p.get("speedup") or 0)
                        for p in value["points"])
    if kind == "memory":
        return "%.1f KiB/task" % (f / 1024) if f >= 0 else "none"
    if kind == "status":
        return show_statuses(f)
    if kind == "order":
        return show_order(f)
    if kind == "transfers":
        return "%d ipc" % f
    if kind in ("resumed", "cut"):
        return "%.3f s" % f if f is not None else "none"
    return "%.2f s" % f


def states(trace):
    return trace["summary"]["states"]


def why_wall(model, real):
    """Where the two traces' wall times differ, in a few words."""
    reasons = []
    wall = max(figure(model, "wall"), 1e-9)
    for state, words in (("startup", "start-up"), ("gil-wait", "GIL wait"),
                         ("runnable", "off the core"), ("ipc", "IPC"),
                         ("queued", "queueing"), ("compute", "compute")):
        m = states(model).get(state, 0) / 1e9
        r = states(real).get(state, 0) / 1e9
        if abs(r - m) > 0.05 * wall:
            reasons.append("%s %.2f s vs %.2f s" % (words, m, r))
    n_tasks = max(len(model.get("tasks", [])), 1)
    dw = figure(real, "wall") - figure(model, "wall")
    reasons.append("%+.2f ms per task in CPython" % (dw / n_tasks * 1e3))
    return "; ".join(reasons)


def why_status(m, r):
    """Which of the run's status, the tasks' and the advice differ."""
    reasons = []
    if m[0] != r[0]:
        reasons.append("run %s vs %s" % (m[0], r[0]))
    if len(m[1]) != len(r[1]):
        reasons.append("%d tasks vs %d" % (len(m[1]), len(r[1])))
    for i, (a, b) in enumerate(zip(m[1], r[1])):
        if a != b:
            reasons.append("task %d %s vs %s" % (
                i + 1, " ".join(x for x in a if x),
                " ".join(x for x in b if x)))
    if m[2] != r[2]:
        reasons.append("advice %s vs %s" % (m[2] or "none", r[2] or "none"))
    return "; ".join(reasons)


def check(model, real, kind):
    """(agree, ratio, words) for one figure of the two traces."""
    m, r = figure(model, kind), figure(real, kind)
    if kind in MEASURES:
        if m is None or r is None or m < 0 or r < 0:
            return (m is None and r is None, None,
                    "%s: model %s, CPython %s" % (
                        kind, show(model, kind), show(real, kind)))
        ratio = r / m if m else None
        same = ratio is not None and abs(ratio - 1) <= TOLERANCE
        if kind == "resumed":
            by_m = model["summary"]["checks"].get("main_resumed_by")
            by_r = real["summary"]["checks"].get("main_resumed_by")
            if by_m != by_r:
                return False, ratio, "main resumed by task %s vs %s" % (
                    by_m + 1, by_r + 1)
        if same:
            return True, ratio, ""
        if kind == "wall":
            return False, ratio, why_wall(model, real)
        if kind == "sweep":
            return False, ratio, "wall at %s: model %s, CPython %s" % (
                ", ".join(str(p["value"]) for p in model["points"]),
                "/".join("%.2f" % ((p.get("wall_ns") or 0) / 1e9)
                         for p in model["points"]),
                "/".join("%.2f" % ((p.get("wall_ns") or 0) / 1e9)
                         for p in real["points"]))
        return False, ratio, "%s %s vs %s (%.2f)" % (
            kind, show(model, kind), show(real, kind), ratio or 0)
    if kind == "lost":
        return ((m == 0) == (r == 0), None,
                "lost updates: the model lost %d, CPython %d" % (m, r))
    if kind == "status":
        return m == r, None, why_status(m, r)
    return m == r, None, "%s %s vs %s" % (
        kind, show(model, kind), show(real, kind))


def verdict(model, real, kinds):
    """The ratio of the first figure and the verdict on all of them; an
    agreement names what else agreed."""
    if isinstance(real, str):
        return None, "CPython cannot run it: " + real
    if isinstance(model, str):
        return None, "the model cannot run it: " + model
    results = [check(model, real, kind) for kind in kinds]
    ratio = results[0][1]
    differs = [words for same, _, words in results if not same]
    if differs:
        return ratio, "differs: " + "; ".join(differs)
    also = [show_statuses(figure(real, k)) if k == "status"
            else "%s %s" % (k, show(real, k)) for k in kinds[1:]]
    return ratio, "agrees" + (" (%s)" % "; ".join(also) if also else "")


def keep(directory, number, model, real):
    os.makedirs(directory, exist_ok=True)
    for engine, trace in (("overlap", model), ("cpython", real)):
        if not isinstance(trace, str):
            with open(os.path.join(directory, "%d-%s.json" % (
                    number, engine)), "w") as f:
                json.dump(trace, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--overlap", default="build/overlap")
    ap.add_argument("--python", default="")
    ap.add_argument("--only", default="")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--traces", default="",
                    help="a directory to write each lesson's two median "
                    "traces into (N-overlap.json, N-cpython.json)")
    args = ap.parse_args()
    only = {int(x) for x in args.only.split(",") if x}
    rows = []
    load0 = load()
    version = "?"
    if not args.json:
        print("%2s  %-38s %16s %16s %6s  %s" % (
            "#", "lesson", "model", "CPython", "ratio", "verdict"))
    for number, lesson, spec, figures in LESSONS:
        if only and number not in only:
            continue
        kinds = kinds_of(figures)
        # The engines in turn, so that both see the same load.
        models, reals = [], []
        for _ in range(max(args.rounds, 1)):
            models.append(run_one(args.overlap, spec, "overlap", args.python))
            reals.append(run_one(args.overlap, spec, "cpython", args.python))
            if isinstance(reals[-1], str) or isinstance(models[-1], str):
                break
        model, real = median_run(models, kinds), median_run(reals, kinds)
        ratio, text = verdict(model, real, kinds)
        if args.traces:
            keep(args.traces, number, model, real)
        rows.append({"n": number, "lesson": lesson,
                     "model": show(model, kinds[0]),
                     "cpython": show(real, kinds[0]),
                     "ratio": "%.2f" % ratio if ratio else "-",
                     "verdict": text})
        if not isinstance(real, str):
            engine = (real.get("engine") if kinds[0] == "sweep"
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
