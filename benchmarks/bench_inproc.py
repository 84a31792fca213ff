"""In-process A/B timing of two git revisions of rnnkit: both imported in one process, their fits alternating.

:mod:`bench_ab` runs each side in processes of its own. On a machine whose
speed changes from process to process (the development machine: the same
LSTM-128 ``fit`` 190 ms in some processes, 270 ms in others) its per-round
ratios spread over 0.66-1.48, which hides changes of a few percent. Here one
process imports both revisions, each under a name of its own
(``rnnkit_<commit>``, ``rnnkit_worktree``: copies of each tree's ``rnnkit``
package, which imports its own modules only relatively), prepares each
workload once per side and alternates their calls (A then B, then B then A,
...), so that both sides meet the same phases of the machine.

Which side is set up first matters, though. In an A/A comparison (two copies
of the same code, development machine, 2026-11-29) the side set up second ran
the T5 ``fit`` 11-22 % slower than the first, whichever copy it was (the echo
``fit`` 7 %, the LSTM-128 ``fit`` 0.5 %). The cause is numba's dispatcher:
it looks up the type of an argument by a fingerprint of its value, and the
fingerprint of a named tuple holds its fields' types, not its class
(``numba._dispatcher.compute_fingerprint`` gives two namedtuple classes of the
same fields one fingerprint). The epoch's scratch (``loops.Scratch``) of the
copy set up second therefore gets the type of the first copy's, matches none
of its own dispatcher's compiled signatures, and each of its epoch calls is
typed again in Python (``Dispatcher._compile_for_args``: 4.5 times the first
side's Python calls per ``fit``, 0.9 ms more in the compiled call of a T5
``fit``): a fixed cost per call, large for short calls. One copy alone (a
user's process) has one such class and never pays it. So the script measures
in two processes, one setting up A first and one B first, and reports the
geometric mean of their ratios, in which the order's effect cancels to a few
tenths of a percent for sides of similar speed (A/A: 0.974 for the T5
``fit``, 1.001 for the echo ``fit``, from 1.169 and 0.812, 1.079 and 0.928).
The table gives each side's median, the median of the paired ratios B/A
(each call of B against its neighbour call of A) in each order, their
geometric mean, and the verdict "B no more than 5% slower".

Only the estimator workloads of :mod:`bench_core` can run this way (their
``prepare`` functions import ``rnnkit`` when called, and are called here with
``sys.modules["rnnkit"]`` pointing at the side's copy): ``echo_est``,
``lstm_est``, ``echo_fit``, ``rule_fit``, ``lstm_fit``, ``gru_fit``,
``lstm2bi_fit``, ``lstm512_fit``, ``mnist1d``. Their data and settings
(``rnnkit.datasets``, ``rnnkit.tutorials``) come from the installed package,
the same for both sides; only the estimators, and everything they run,
differ. The benchmark code is this tree's ``bench_core.py``.

Each copy compiles its numba kernels into a cache beside it (minutes for the
first run). ``--workdir DIR`` keeps the copies and their caches between runs:
a revision's copy is named by its commit, and the working tree's copy is
brought up to date file by file (modification times kept, so numba recompiles
only what changed).

Usage::

    python benchmarks/bench_inproc.py --before REV [--after WORKTREE|REV] [--only lstm_fit,rule_fit]
                                      [--pairs 20] [--threads N] [--workdir DIR]

PyTorch is not needed.
"""

import argparse
import importlib
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_ab import REPO, TOLERANCE, describe_rev  # noqa: E402

#: the workloads of ``bench_core.WORKLOADS`` whose ``prepare`` functions import ``rnnkit`` when called
WORKLOADS = ("echo_est", "lstm_est", "echo_fit", "rule_fit", "lstm_fit", "gru_fit", "lstm2bi_fit",
             "lstm512_fit", "mnist1d")

#: workloads run when ``--only`` is not given (calls of milliseconds to a quarter of a second)
DEFAULT = ["echo_fit", "rule_fit", "lstm_fit", "gru_fit"]


def copy_package(commit, workdir):
    """Copy the ``rnnkit`` package of ``commit`` (None: the working tree) into ``workdir``; its name.

    The copy is the package ``rnnkit_<commit[:12]>`` (``rnnkit_worktree``)
    in that directory, which the caller puts on ``sys.path``.
    """
    name = f"rnnkit_{commit[:12]}" if commit else "rnnkit_worktree"
    target = os.path.join(workdir, name)
    if commit is None:  # brought up to date; unchanged files keep their times (and numba its cache)
        shutil.copytree(os.path.join(REPO, "rnnkit"), target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    elif not os.path.isdir(target):
        archive = subprocess.run(["git", "archive", commit, "rnnkit"], cwd=REPO, capture_output=True,
                                 check=True).stdout
        staging = tempfile.mkdtemp(dir=workdir)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(staging, filter="data")
        os.rename(os.path.join(staging, "rnnkit"), target)
        os.rmdir(staging)
    return name


def prepare(pkg, workload):
    """``bench_core``'s ``prepare`` function of ``workload`` run with ``pkg`` as ``rnnkit``; the call.

    ``bench_core`` and the installed ``rnnkit`` are imported first (not
    while ``sys.modules["rnnkit"]`` is the copy).
    """
    import bench_core

    saved = sys.modules["rnnkit"]
    sys.modules["rnnkit"] = pkg
    try:
        return bench_core.WORKLOADS[workload][1]()
    finally:
        sys.modules["rnnkit"] = saved


def time_pairs(fa, fb, ctx_a, ctx_b, pairs):
    """Times of ``pairs`` alternated calls of ``fa`` and ``fb`` (A first in even pairs), each under its
    context manager factory; ``(times of A, times of B)``."""
    ta, tb = [], []
    for r in range(pairs):
        sides = [(fa, ctx_a, ta), (fb, ctx_b, tb)]
        for fn, ctx, out in sides if r % 2 == 0 else sides[::-1]:
            with ctx():
                start = time.perf_counter()
                fn()
                out.append(time.perf_counter() - start)
    return ta, tb


def paired(ta, tb):
    """Medians of A and B and the median of the paired ratios B/A."""
    ratios = [b / a for a, b in zip(ta, tb, strict=True)]
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


#: prefix of the line carrying a child's results
MARKER = "BENCH_INPROC_RESULT "


def run_child(workdir, first, names, pairs, threads):
    """Time ``names`` in this process with the package copies of ``workdir`` (``first``: which side is
    set up first, "A" or "B"); prints one JSON line after :data:`MARKER`."""
    import bench_core  # noqa: F401  (it imports the installed rnnkit)

    import rnnkit.datasets  # noqa: F401  (the workloads' data and settings: the installed package's)
    import rnnkit.tutorials  # noqa: F401

    sys.path.insert(0, workdir)
    with open(os.path.join(workdir, "sides.json")) as fh:
        sides = json.load(fh)
    pkgs = {side: importlib.import_module(sides[side]) for side in "AB"}
    extra = {} if threads is None else {"n_threads": threads}
    order = [first, "B" if first == "A" else "A"]
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits' ConvergenceWarning (max_iter=1)
        for name in names:
            fns = {side: prepare(pkgs[side], name) for side in order}
            ta, tb = time_pairs(fns["A"], fns["B"], lambda: pkgs["A"].config_context(**extra),
                                lambda: pkgs["B"].config_context(**extra), pairs)
            results[name] = paired(ta, tb)
    print(MARKER + json.dumps(results), flush=True)


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="revision A (any git revision)")
    parser.add_argument("--after", default="WORKTREE",
                        help="revision B, or WORKTREE (default) for this working tree with its uncommitted "
                             "changes")
    parser.add_argument("--pairs", type=int, default=20, help="timed A, B pairs per workload (default 20)")
    parser.add_argument("--threads", type=int, default=None,
                        help="rnnkit's n_threads for both sides (default: rnnkit's own default)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated workloads among {','.join(WORKLOADS)} (default: "
                             f"{','.join(DEFAULT)})")
    parser.add_argument("--workdir", default=None,
                        help="keep the package copies and their numba caches here (default: a temporary "
                             "directory, removed at the end)")
    parser.add_argument("--child", choices=("A", "B"), help=argparse.SUPPRESS)  # one order, in this process
    args = parser.parse_args(argv)
    names = list(DEFAULT) if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"workload(s) {unknown} cannot run in one process with two packages; choose among "
                     f"{list(WORKLOADS)}")
    if args.pairs < 2:
        parser.error("--pairs must be at least 2")
    if args.before == "WORKTREE":
        parser.error("--before must be a revision; WORKTREE is accepted for --after only")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")

    if args.child:
        run_child(args.workdir, args.child, names, args.pairs, args.threads)
        return None

    import numba
    import numpy as np

    commit_a, label_a = describe_rev(args.before)
    commit_b, label_b = describe_rev(args.after)
    print(f"rnnkit in-process A/B, numpy {np.__version__}, numba {numba.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"A: {label_a}\nB: {label_b}")
    workdir = args.workdir or tempfile.mkdtemp(prefix="rnnkit-inproc-")
    os.makedirs(workdir, exist_ok=True)
    try:
        with open(os.path.join(workdir, "sides.json"), "w") as fh:
            json.dump({side: copy_package(c, workdir) for side, c in (("A", commit_a), ("B", commit_b))}, fh)
        print(f"workloads {','.join(names)}; {args.pairs} pairs each, in two processes (A set up first, "
              f"then B first); n_threads {args.threads or 'default'}", flush=True)
        runs = {}
        for first in "AB":
            cmd = [sys.executable, os.path.abspath(__file__), "--before", args.before, "--after", args.after,
                   "--only", ",".join(names), "--pairs", str(args.pairs), "--workdir", workdir,
                   "--child", first] + ([] if args.threads is None else ["--threads", str(args.threads)])
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
            if proc.returncode != 0 or not lines:
                sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
                raise SystemExit(f"the process setting up {first} first failed (exit status "
                                 f"{proc.returncode})")
            runs[first] = json.loads(lines[-1][len(MARKER):])
            print(f"  {first} set up first: {time.perf_counter() - start:.1f} s", flush=True)
        head = (f"{'workload':<12} {'A median':>11} {'B median':>11} {'B/A, A 1st':>11} {'B/A, B 1st':>11} "
                f"{'B/A':>7} {'B <= 5% slower':>15}")
        rows = [head, "-" * len(head)]
        for name in names:
            (a1, b1, r1), (a2, b2, r2) = runs["A"][name], runs["B"][name]
            ratio = math.sqrt(r1 * r2)
            ma, mb = statistics.median([a1, a2]) * 1e3, statistics.median([b1, b2]) * 1e3
            rows.append(f"{name:<12} {ma:>8.4g} ms {mb:>8.4g} ms {r1:>11.3f} {r2:>11.3f} {ratio:>7.3f} "
                        f"{'yes' if ratio <= TOLERANCE else 'NO':>15}")
        print("B/A: the median of the paired ratios (each call of B against its neighbour call of A) in each "
              "order; their geometric mean")
        print("\n".join(rows))
        print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return runs
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
