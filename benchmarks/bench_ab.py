"""Interleaved A/B timing of two git revisions of rnnkit on bench_core's workloads.

Each revision is checked out with ``git worktree add --detach`` in a temporary
directory (``--after WORKTREE`` uses this working tree as it is, uncommitted
changes included). Then, alternating A, B, A, B, ... for ``--rounds`` rounds,
a new Python process per side imports that tree's ``rnnkit`` (``PYTHONPATH``
is the tree, the working directory is outside the repository so that the
installed editable package cannot shadow it; the child checks that
``rnnkit.__file__`` lies in the intended tree and fails otherwise), runs the
rnnkit side of :mod:`bench_core`'s workloads with ``--repeats`` timed calls
each and prints their medians. Interleaving the sides spreads the drift of a
busy machine over both instead of biasing whichever ran second.

Which ``bench_core.py``: by default both sides run the **after** tree's copy
(``--bench-core after``), so that the two revisions are timed by the same
benchmark code even where the before tree's copy differs or lacks a workload;
only the package under test changes. That requires the after benchmark to work
with the before package's API; where it does not, a workload reports the error
(and ``--bench-core own`` runs each tree's own copy instead). A workload the
benchmark file's ``WORKLOADS`` lacks is skipped.

Each side has its own ``NUMBA_CACHE_DIR`` in the temporary directory, kept
across the rounds: a first, uncounted warm-up round compiles the numba
kernels (minutes for a cold cache) and every counted round loads them from the
cache (loading is not timed either: each workload's ``prepare`` function warms
up before timing).

The table gives, per workload, the median over the rounds of each side's
per-round median (or, with ``--stat min``, of each process's fastest call:
steadier where the machine's speed jumps from one process to the next), the
ratio B/A, the range of the per-round ratios, and the
verdict "B no more than 5% slower" (B/A <= 1.05).

Usage::

    python benchmarks/bench_ab.py --before REV --after REV|WORKTREE [--rounds 7] [--repeats 5]
                                  [--only echo,lstm,echo_fit,rule_fit,lstm_fit,...] [--bench-core after|own]

PyTorch is not needed (only the rnnkit side of the workloads runs).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

#: the workloads of ``bench_core.WORKLOADS`` this script times: each side's rnnkit ``prepare`` function
#: there, its calls timed by ``bench_core.time_alone`` (what every ``bench_*`` wrapper of bench_core does)
WORKLOADS = ("echo", "lstm", "echo_est", "lstm_est", "lstm2bi", "ctc", "echo_fit", "rule_fit", "lstm_fit",
             "gru_fit", "lstm2bi_fit", "lstm512_fit", "mnist1d")

#: workloads run when ``--only`` is not given: the raw kernels and the estimator steps, a process taking
#: seconds (the others, whose ``fit`` calls take up to seconds each, are asked for by name)
DEFAULT = ["echo", "lstm", "echo_est", "lstm_est", "lstm2bi"]

#: largest accepted B/A
TOLERANCE = 1.05

#: prefix of the line carrying a child's results
MARKER = "BENCH_AB_RESULT "

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: code run by each child: argv = tree, path of bench_core.py, JSON {workload: function}, repeats
CHILD = r'''
import importlib.util, json, os, statistics, sys, traceback
tree, bench_core_path = sys.argv[1], sys.argv[2]
names, repeats = json.loads(sys.argv[3]), int(sys.argv[4])
import rnnkit
where = os.path.realpath(rnnkit.__file__)
if not where.startswith(os.path.realpath(tree) + os.sep):
    sys.exit(f"bench_ab child: imported rnnkit from {where}, not from the tree under test {tree}")
spec = importlib.util.spec_from_file_location("bench_core", bench_core_path)
bench_core = importlib.util.module_from_spec(spec)
sys.modules["bench_core"] = bench_core
spec.loader.exec_module(bench_core)
results = {}
for name in names:
    entry = getattr(bench_core, "WORKLOADS", {}).get(name)
    if entry is None or not hasattr(bench_core, "time_alone"):
        results[name] = {"missing": f"WORKLOADS[{name!r}] or time_alone"}
        continue
    try:
        times = bench_core.time_alone(entry[1](), repeats)  # entry[1]: rnnkit's prepare function
    except Exception as exc:
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        continue
    results[name] = {"median": statistics.median(times), "min": min(times)}
print("BENCH_AB_RESULT " + json.dumps({"rnnkit_file": where, "results": results}), flush=True)
'''


def git(*args, cwd=REPO):
    """Run ``git`` in the repository and return its standard output, stripped; raise on failure."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def describe_rev(rev):
    """Resolve ``rev`` to a commit; return ``(commit or None for WORKTREE, label)``."""
    if rev == "WORKTREE":
        head = git("rev-parse", "--short", "HEAD")
        changed = len([line for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
                       if line])
        return None, f"WORKTREE (HEAD {head} + {changed} modified tracked file(s))"
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{rev!r} is not a commit of {REPO}")
    commit = proc.stdout.strip()
    subject = git("log", "-1", "--format=%h %s", commit)
    return commit, f"{rev} = {subject[:80]}"


def run_side(tree, bench_core_path, names, repeats, cache_dir, cwd):
    """Run the workloads once in a new process importing ``tree``'s rnnkit; return the results.

    Parameters
    ----------
    tree : str
        Root of the source tree whose ``rnnkit`` is timed (put on ``PYTHONPATH``).
    bench_core_path : str
        The ``bench_core.py`` whose functions are run.
    names : list of str
        Workloads, among :data:`WORKLOADS`.
    repeats : int
        Timed calls per workload.
    cache_dir : str
        ``NUMBA_CACHE_DIR`` of the process.
    cwd : str
        Working directory of the process (outside the repository).

    Returns
    -------
    dict
        ``workload -> {"median": s, "min": s}`` (or ``{"missing": what}``,
        ``{"error": message}``), and the wall-clock seconds of the process.
    """
    env = dict(os.environ, PYTHONPATH=tree, NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, tree, bench_core_path, json.dumps(names),
                           str(repeats)],
                          env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"child process for {tree} failed (exit status {proc.returncode})")
    results = json.loads(lines[-1][len(MARKER):])["results"]
    if any("error" in r for r in results.values()):  # their tracebacks
        sys.stderr.write(proc.stderr[-4000:])
    return results, elapsed


def _fmt(seconds):
    return f"{seconds * 1e3:.4g} ms"


def format_table(names, per_round, stat="median"):
    """The result table as text.

    Parameters
    ----------
    names : list of str
        Workloads in the order of the rows.
    per_round : list of (dict, dict)
        For each counted round, the results of side A and side B.
    stat : {"median", "min"}, default="median"
        Which statistic of each process's timed calls a round compares.
    """
    head = (f"{'workload':<10} {'A ' + stat:>12} {'B ' + stat:>12} {'B/A':>7} {'B/A per round':>15}"
            f" {'B no more than 5% slower':>25}")
    lines = [head, "-" * len(head)]
    for name in names:
        a = [ra[name].get(stat) for ra, _ in per_round]
        b = [rb[name].get(stat) for _, rb in per_round]
        if any(x is None for x in a + b):
            first_a, first_b = per_round[0][0][name], per_round[0][1][name]
            why = next((r.get("error") or f"{r['missing']} missing" for r in (first_a, first_b)
                        if "median" not in r), "failed in some round")
            lines.append(f"{name:<10} {'n/a':>12} {'n/a':>12} {'n/a':>7} {'':>15} {'n/a':>25}  ({why[:60]})")
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        ratios = [y / x for x, y in zip(a, b, strict=True)]
        spread = f"{min(ratios):.3f}..{max(ratios):.3f}"
        verdict = "yes" if mb / ma <= TOLERANCE else "NO"
        lines.append(f"{name:<10} {_fmt(ma):>12} {_fmt(mb):>12} {mb / ma:>7.3f} {spread:>15} {verdict:>25}")
    return "\n".join(lines)


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="revision A (any git revision)")
    parser.add_argument("--after", required=True,
                        help="revision B, or WORKTREE for this working tree with its uncommitted changes")
    parser.add_argument("--rounds", type=int, default=7, help="counted A, B rounds (default 7)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per workload in each process (default 5)")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="statistic of each process's timed calls that a round compares (default median; "
                             "min is steadier on a machine whose speed jumps between processes)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated workloads among {','.join(WORKLOADS)} (default: "
                             f"{','.join(DEFAULT)})")
    parser.add_argument("--bench-core", choices=("after", "own"), default="after",
                        help="whose bench_core.py both sides run: the after tree's (default) or each its own")
    args = parser.parse_args(argv)
    names = list(DEFAULT) if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose among {list(WORKLOADS)}")
    if args.rounds < 1 or args.repeats < 1:
        parser.error("--rounds and --repeats must be at least 1")
    if args.before == "WORKTREE":
        parser.error("--before must be a revision; WORKTREE is accepted for --after only")

    import numba
    import numpy as np

    commit_a, label_a = describe_rev(args.before)
    commit_b, label_b = describe_rev(args.after)
    print(f"rnnkit A/B, numpy {np.__version__}, numba {numba.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"A: {label_a}\nB: {label_b}")

    tmp = tempfile.mkdtemp(prefix="rnnkit-ab-")
    worktrees = []
    try:
        trees = {}
        for side, commit in (("A", commit_a), ("B", commit_b)):
            if commit is None:
                trees[side] = REPO
            else:
                path = os.path.join(tmp, f"tree-{side}")
                git("worktree", "add", "--quiet", "--detach", path, commit)
                worktrees.append(path)
                trees[side] = path
        cores = {side: os.path.join(trees["B" if args.bench_core == "after" else side], "benchmarks",
                                    "bench_core.py") for side in "AB"}
        caches = {side: os.path.join(tmp, f"numba-cache-{side}") for side in "AB"}
        cwd = os.path.join(tmp, "cwd")
        os.makedirs(cwd)
        for side in "AB":
            if not os.path.exists(cores[side]):
                raise SystemExit(f"no benchmarks/bench_core.py in side {side}'s tree {trees[side]}")
        print(f"bench_core.py: {'the after tree' if args.bench_core == 'after' else 'each tree'}'s copy; "
              f"workloads {','.join(names)}; {args.repeats} timed calls each per process; "
              f"{args.rounds} rounds")

        def one(side):
            return run_side(trees[side], cores[side], names, args.repeats, caches[side], cwd)

        print("warm-up round (compiles the numba kernels into each side's cache; not counted) ...",
              flush=True)
        for side in "AB":
            results, elapsed = one(side)
            bad = {n: r for n, r in results.items() if "median" not in r}
            print(f"  {side}: {elapsed:.1f} s" + (f"; not timed: {bad}" if bad else ""), flush=True)
        per_round = []
        for r in range(args.rounds):
            (ra, ta), (rb, tb) = one("A"), one("B")
            per_round.append((ra, rb))
            summary = "  ".join(f"{n} {ra[n]['median'] * 1e3:.4g}/{rb[n]['median'] * 1e3:.4g}"
                                for n in names if "median" in ra[n] and "median" in rb[n])
            print(f"round {r + 1}/{args.rounds} ({ta:.1f} s + {tb:.1f} s), A/B medians in ms: {summary}",
                  flush=True)
        print(f"median over {args.rounds} rounds of each process's {args.stat} of {args.repeats} timed calls")
        print(format_table(names, per_round, args.stat))
        print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return per_round
    finally:
        for path in worktrees:
            proc = subprocess.run(["git", "worktree", "remove", "--force", path], cwd=REPO,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(f"could not remove worktree {path}: {proc.stderr.strip()}\n")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
