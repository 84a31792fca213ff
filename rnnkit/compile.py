"""Compile rnnkit's kernels ahead of time: ``python -m rnnkit.compile [--cell ...] [--dtype ...]``.

A model's first ``fit`` on a machine compiles its cell's kernels for its
precision; numba keeps them in its on-disk cache (next to the installed
package, or in ``NUMBA_CACHE_DIR``), so later processes load them at once.
Run this when building a container image, in a CI cache step or on each
cluster worker so that no user waits for compilation.

Usage::

    python -m rnnkit.compile                      # every cell, float32 and float64
    python -m rnnkit.compile --cell gru --dtype float32
    python -m rnnkit.compile --device cuda        # the GPU kernels (numba-cuda, a GPU)
"""

import argparse
import os
import sys

from ._compile import warm
from .cells import CELLS

__all__ = ["main"]


def main(argv=None):
    """Command-line entry point (see the module docstring).

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m rnnkit.compile", description=__doc__.splitlines()[0])
    parser.add_argument("--cell", action="append", choices=sorted(CELLS),
                        help="cell to compile (repeat for several; default: all)")
    parser.add_argument("--dtype", action="append", choices=["float32", "float64"],
                        help="precision (repeat for both; default: both)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="backend whose kernels to compile (default: cpu)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    times = warm(cells=args.cell, dtypes=args.dtype or ("float32", "float64"), progress=not args.quiet,
                 device=args.device)
    where = os.environ.get("NUMBA_CACHE_DIR") or "the package's __pycache__ directories"
    for (cell, dtype), seconds in times.items():
        print(f"{args.device:<5} {cell:<6} {dtype:<8} {seconds:7.1f} s")
    print(f"cached in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
