"""Where a CPU workload's time goes: perf samples attributed to BLAS, rnnkit's kernels and Python.

numba's compiled code has no symbols ``perf`` can read; this script names it.
It runs a workload of :mod:`bench_core` in this process, then writes the
address of every compiled function numba's JIT engine holds (a symbol map),
and with ``--report`` reads ``perf script`` output and the map and sums the
samples into categories::

    perf record -F 5000 -o perf.data python benchmarks/profile_cpu.py lstm --repeats 100
    python benchmarks/profile_cpu.py --report perf.data

Categories: ``BLAS`` (OpenBLAS), ``cells`` (each cell's forward and backward
kernels: gate loops), ``loss`` (the built-in losses), ``optimizer``,
``packed products`` (the register tiles on packed weights and
their packing, :mod:`rnnkit.backends.cpu.gemm`), ``small products``
(rnnkit's compiled loops for products below the BLAS threshold, column
sums), ``stack`` (the rest of the compiled window:
projections' bias, copies, views and their reference counting), ``libm``,
``Python`` (the interpreter, numpy, and everything around the compiled calls,
start-up included: run enough repeats that it does not dominate) and ``other``.
Needs Linux ``perf``; ``perf`` is not a dependency of rnnkit.
"""

import argparse
import bisect
import collections
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

#: (category, substrings of a symbol or library name that put a sample in it), first match wins
CATEGORIES = [
    ("BLAS", ("openblas",)),
    ("cells", ("cpu5cells",)),
    ("loss", ("cpu5heads", "cpu3ctc")),
    ("optimizer", ("cpu5optim",)),
    ("packed products", ("cpu4gemm",)),
    ("small products", ("cpu6linalg",)),
    ("stack", ("cpu5stack", "cpu5loops", "cpu9workspace", "NRT_")),
    ("libm", ("libm.so",)),
    ("Python", ("libpython", "_multiarray", "numpy", "python3")),
]


def write_symbol_map(path):
    """Write ``address name`` of every function numba's JIT engine has loaded (sorted by address)."""
    from numba.core.registry import cpu_target

    engine = cpu_target.target_context.codegen()._engine
    rows = []
    for name in list(engine._defined_symbols):
        try:
            address = engine.get_function_address(name)
        except Exception:  # noqa: BLE001 - data symbols and the like
            address = 0
        if address:
            rows.append((address, name))
    with open(path, "w") as fh:
        for address, name in sorted(rows):
            fh.write(f"{address:x} {name}\n")


def categorise(name):
    """The category of a symbol or library name (see :data:`CATEGORIES`)."""
    for category, keys in CATEGORIES:
        if any(k in name for k in keys):
            return category
    return "other"


def report(perf_data, symbol_map):
    """Shares of the samples of ``perf_data`` per category, as ``{category: percent}``."""
    symbols = [line.split(maxsplit=1) for line in open(symbol_map)]
    addresses = [int(a, 16) for a, _ in symbols]
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym,dso"], capture_output=True,
                         text=True, check=True).stdout
    counts = collections.Counter()
    total = 0
    for line in out.splitlines():
        fields = line.split()
        if not fields:
            continue
        total += 1
        if "[JIT]" in line or "[unknown]" in line:
            i = bisect.bisect_right(addresses, int(fields[0], 16)) - 1
            counts[categorise(symbols[i][1]) if i >= 0 else "other"] += 1
        else:
            counts[categorise(line)] += 1
    return {k: 100.0 * v / max(total, 1) for k, v in counts.most_common()}


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", nargs="?", help="a bench_core workload (e.g. echo, lstm, rule_fit)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--mnist-epochs", type=int, default=200, help="epochs of the mnist1d workload's fit")
    parser.add_argument("--map", default="rnnkit-jit-symbols.txt", help="the symbol map written / read")
    parser.add_argument("--report", metavar="PERF_DATA", help="summarise a perf recording instead")
    args = parser.parse_args(argv)
    if args.report:
        for category, share in report(args.report, args.map).items():
            print(f"{share:6.1f}%  {category}")
        return
    import bench_core

    extra = {"n_epochs": args.mnist_epochs} if args.workload == "mnist1d" else {}
    bench_core.time_alone(bench_core.WORKLOADS[args.workload][1](**extra), args.repeats)  # rnnkit's side
    write_symbol_map(args.map)
    print(f"symbol map: {args.map}")


if __name__ == "__main__":
    main()
