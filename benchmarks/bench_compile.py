"""Time to a first result as a new user meets it: numba compilation included.

rnnkit's training and prediction loops are numba kernels compiled on first
use. A user's first ``fit`` therefore waits for those compilations; numba then
writes the machine code to its on-disk cache (the kernels use
``cache=True``), so later processes only load it. This script measures that
wait, each run in a **new Python process** whose ``NUMBA_CACHE_DIR`` is a
fresh temporary directory created here (shared by the runs, in this order):

* ``a`` - cold cache: ``RNNClassifier(cell="gru").fit(X, y)`` then
  ``.predict(X)`` on the digit sequences
  (:func:`rnnkit.datasets.load_digit_sequences`, 1797 x 8 x 8), every other
  parameter at its default; target 25 s;
* ``b`` - a further process sharing that cache:
  ``RNNClassifier(cell="lstm", bidirectional=True, num_layers=2)``, fit then
  predict; kernels shared with ``a`` load from the cache, the rest compile;
  target 25 s;
* ``c`` - a new process with the warm cache repeating ``a``: target 1 s.

The time is measured inside the child process with
:func:`time.perf_counter` around ``fit`` and ``predict`` only: the Python
start-up, the imports and the data loading are excluded from the target (the
import time and the whole process's wall-clock time are printed beside it, and
so is the number of compilations during the imports, so that work moved to
import time would show). A default ``fit`` trains for ``max_iter=200`` epochs,
which is training time, not compilation time; the runs pass
``max_iter=2`` (option ``--max-iter``): the target is about compilation and the
few epochs keep training time out while still taking the whole path of a fit
(validation, the epoch loop, the end-of-training ``ConvergenceWarning``, which
the child silences). The same fit is then repeated in the same process and
printed as ``refit s``: what is left of ``fit s`` after it is the compilation
(or, with a warm cache, the loading of the compiled code).

The child also counts numba's dispatcher compilations: a
:class:`numba.core.event.Listener` registered for ``"numba:compile"`` counts
its ``on_end`` events (a load from the on-disk cache raises no such event) and
sums their durations per dispatcher. Compilations nest (a kernel compiles the
functions it calls), so a dispatcher's *total* includes the nested ones and
its *self* time does not; ``--profile`` prints the ten dispatchers of each run
with the largest self time.

Usage::

    python benchmarks/bench_compile.py [--dtype float64] [--max-iter 2] [--only a,b,c]
                                       [--keep-cache DIR] [--profile]

``--only c`` with a cache directory that holds nothing yet first warms it with
an untimed run of ``a``. ``--keep-cache DIR`` uses (and keeps) ``DIR`` instead
of a temporary directory, e.g. to rerun ``--only c`` after a full run. A
benchmark is not a test: the exit status does not depend on the targets.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

#: run -> (description, estimator parameters besides ``max_iter`` and ``dtype``, target in seconds)
RUNS = {
    "a": ("cold cache, cell='gru'", {"cell": "gru"}, 25.0),
    "b": ("same cache, cell='lstm', bidirectional=True, num_layers=2",
          {"cell": "lstm", "bidirectional": True, "num_layers": 2}, 25.0),
    "c": ("warm cache, cell='gru' again", {"cell": "gru"}, 1.0),
}

#: prefix of the line carrying the child's results
MARKER = "BENCH_COMPILE_RESULT "

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: code run by each child process; its one argument is a JSON object of the estimator parameters
CHILD = r'''
import json, sys, time, warnings
t_start = time.perf_counter()
from numba.core import event


class CompileCounter(event.Listener):
    """Count numba:compile events per phase and time them per dispatcher (total and self)."""

    def __init__(self):
        self.phase = "import"
        self.counts = {}
        self.failed = 0
        self.per_dispatcher = {}
        self._stack = []

    def on_start(self, ev):
        self._stack.append([time.perf_counter(), 0.0])

    def on_end(self, ev):
        t0, nested = self._stack.pop()
        duration = time.perf_counter() - t0
        if self._stack:
            self._stack[-1][1] += duration
        self.counts[self.phase] = self.counts.get(self.phase, 0) + 1
        # numba's Event.is_failed is inverted (True without an exception) in the versions of 2024-25
        self.failed += getattr(ev, "_exc_details", None) is not None
        disp = ev.data.get("dispatcher") if ev.data else None
        func = getattr(disp, "py_func", None)
        name = (f"{func.__module__}.{func.__qualname__}" if func is not None else repr(disp))
        row = self.per_dispatcher.setdefault(name, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += duration
        row[2] += duration - nested


counter = CompileCounter()
event.register("numba:compile", counter)

import numba
import numpy as np
from sklearn.exceptions import ConvergenceWarning

import rnnkit
from rnnkit import RNNClassifier
from rnnkit.datasets import load_digit_sequences

t_import = time.perf_counter() - t_start
X, y = load_digit_sequences()
warnings.simplefilter("ignore", ConvergenceWarning)
params = json.loads(sys.argv[1])
clf = RNNClassifier(**params)

counter.phase = "fit"
t0 = time.perf_counter()
clf.fit(X, y)
t_fit = time.perf_counter() - t0

counter.phase = "predict"
t0 = time.perf_counter()
pred = clf.predict(X)
t_predict = time.perf_counter() - t0

counter.phase = "refit"  # the same fit again in this process: training time alone
t0 = time.perf_counter()
clf.fit(X, y)
t_refit = time.perf_counter() - t0

print("BENCH_COMPILE_RESULT " + json.dumps({
    "fit": t_fit, "predict": t_predict, "import": t_import, "refit": t_refit,
    "accuracy": float(np.mean(pred == y)), "n_iter": int(clf.n_iter_),
    "compilations": counter.counts, "failed": counter.failed,
    "per_dispatcher": counter.per_dispatcher,
    "rnnkit_file": rnnkit.__file__, "numba": numba.__version__, "numpy": np.__version__,
}), flush=True)
'''


def run_child(params, cache_dir):
    """Run one fit + predict in a new Python process and return its measurements.

    Parameters
    ----------
    params : dict
        Parameters of the ``RNNClassifier``.
    cache_dir : str
        Directory given to the child as ``NUMBA_CACHE_DIR``.

    Returns
    -------
    dict
        The child's JSON record (``fit``, ``predict`` and ``import`` seconds,
        ``compilations`` per phase, ``per_dispatcher`` ``[count, total s, self s]``
        ...) plus ``process``: the child's wall-clock time seen from here.
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    # time this checkout's rnnkit whichever one is installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(params)], env=env, cwd=REPO,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"child process failed (exit status {proc.returncode}) for {params}")
    record = json.loads(lines[-1][len(MARKER):])
    record["process"] = elapsed
    return record


def format_table(results, max_iter):
    """The result table as text: one row per run, its times, target and verdict."""
    head = (f"{'run':<3} {'what':<56} {'fit s':>8} {'predict s':>9} {'fit+predict s':>13} {'target':>6}"
            f" {'result':>6} {'refit s':>7} {'compiles i/f/p':>14} {'import s':>8} {'process s':>9}")
    lines = [head, "-" * len(head)]
    for name, rec in results.items():
        desc, _, target = RUNS[name]
        total = rec["fit"] + rec["predict"]
        comp = rec["compilations"]
        counts = "/".join(str(comp.get(phase, 0)) for phase in ("import", "fit", "predict"))
        lines.append(f"{name:<3} {desc:<56} {rec['fit']:>8.2f} {rec['predict']:>9.3f} {total:>13.2f}"
                     f" {target:>5.0f}s {'pass' if total <= target else 'FAIL':>6} {rec['refit']:>7.2f}"
                     f" {counts:>14} {rec['import']:>8.2f} {rec['process']:>9.2f}")
    lines += [f"fit runs max_iter={max_iter} epochs; fit and predict are timed inside each child, the target "
              "applies to their sum;",
              "'refit s' is the same fit again in the same process (training alone: fit - refit is the "
              "compilation or cache loading);",
              "'compiles i/f/p' counts numba compilations during the imports / fit / predict; 'process s' is "
              "the whole child seen from the parent"]
    return "\n".join(lines)


def format_profile(name, rec, top=10):
    """The ``top`` dispatchers of a run by compilation self time, as text."""
    rows = sorted(rec["per_dispatcher"].items(), key=lambda kv: -kv[1][2])
    total_self = sum(r[2] for _, r in rows)
    lines = [f"compile profile of run {name}: {sum(r[0] for _, r in rows)} compilations of {len(rows)} "
             f"dispatchers, {total_self:.2f} s in all (self times; {rec['failed']} raised an error)"]
    if rows:
        lines.append(f"  {'dispatcher':<78} {'count':>5} {'total s':>8} {'self s':>8}")
        for disp, (count, tot, own) in rows[:top]:
            lines.append(f"  {disp[-78:]:<78} {count:>5} {tot:>8.2f} {own:>8.2f}")
    return "\n".join(lines)


def _cache_is_empty(path):
    """True when ``path`` holds no file at any depth."""
    return not any(files for _, _, files in os.walk(path))


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                        help="the estimators' dtype (default float32)")
    parser.add_argument("--max-iter", type=int, default=2,
                        help="epochs of each fit (default 2: the target is compilation time, a few epochs "
                             "keep training time out)")
    parser.add_argument("--only", default=None, help="comma-separated runs among a,b,c (default: all)")
    parser.add_argument("--keep-cache", metavar="DIR", default=None,
                        help="numba cache directory to use and keep (default: a fresh temporary one, "
                             "removed at the end)")
    parser.add_argument("--profile", action="store_true",
                        help="print the 10 dispatchers with the most compilation time of each run")
    args = parser.parse_args(argv)
    names = list(RUNS) if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"unknown run(s) {unknown}; choose among {list(RUNS)}")
    names = [n for n in RUNS if n in names]  # always in the order a, b, c
    if args.max_iter < 1:
        parser.error("--max-iter must be at least 1")

    import numba
    import numpy as np

    print(f"rnnkit time to first result ({args.dtype}), numpy {np.__version__}, numba {numba.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"each fit runs max_iter={args.max_iter} epochs (compilation is the subject, not training)")

    tmp = None
    if args.keep_cache is None:
        tmp = tempfile.TemporaryDirectory(prefix="rnnkit-numba-cache-")
        cache_dir = tmp.name
    else:
        cache_dir = os.path.abspath(args.keep_cache)
        os.makedirs(cache_dir, exist_ok=True)
    print(f"NUMBA_CACHE_DIR={cache_dir} ({'temporary' if tmp else 'kept'}"
          f"{', empty' if _cache_is_empty(cache_dir) else ', already populated'})")
    try:
        results = {}
        if "c" in names and "a" not in names and _cache_is_empty(cache_dir):
            print("warming the empty cache with an untimed run of a first ...", flush=True)
            run_child(dict(RUNS["a"][1], max_iter=args.max_iter, dtype=args.dtype), cache_dir)
        for name in names:
            desc, params, _ = RUNS[name]
            print(f"run {name}: {desc} ...", flush=True)
            results[name] = run_child(dict(params, max_iter=args.max_iter, dtype=args.dtype), cache_dir)
        first = next(iter(results.values()))
        print(f"children: rnnkit from {os.path.dirname(first['rnnkit_file'])}, numpy {first['numpy']}, "
              f"numba {first['numba']}")
        print(format_table(results, args.max_iter))
        if args.profile:
            for name, rec in results.items():
                print(format_profile(name, rec))
        print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return results


if __name__ == "__main__":
    main()
