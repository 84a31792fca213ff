"""The per-step recurrent products of ``bench_core``'s larger models, in the layouts they could take.

At every step an RNN multiplies the state ``h`` (``B`` rows by ``H``) by the
recurrent weights ``W_hh`` (``G*H`` by ``H``), forward, and the gates'
gradient ``dG`` (``B`` by ``G*H``) by ``W_hh``, backward. rnnkit keeps a
batch's rows in rows (*batch-major*: ``h @ W_hh.T``, ``dG @ W_hh``), as
PyTorch does; a *batch-minor* layout (the state stored transposed, ``H`` by
``B``) would compute ``W_hh @ h.T`` and ``W_hh.T @ dG.T`` instead: the same
multiply-adds, with the large weight matrix in the other operand role of
BLAS. This script times each orientation as rnnkit's kernels call it
(``np.dot`` inside numba-compiled code, float32, one BLAS thread) and
prints GFLOP/s, so that the choice of a layout rests on measurements of the
machine at hand. OpenBLAS packs both operands at every call; which one is
the large one changes what the packing costs (``perf``: a quarter of
OpenBLAS's samples are packing routines in the LSTM-128 fit). The ``+T``
columns compute the batch-minor product inside today's layout, between
explicit transposes (timed with them). The ``packed`` columns are what rnnkit
runs since: its own kernel on the weights packed once
(:mod:`rnnkit.backends.cpu.gemm`; the packing, once per window, is not
timed). A last line
times the rule stream's tiny per-step product (200 x 6 by 6 x 6) through BLAS
and as compiled loops over rows and over the batch.

Usage::

    python benchmarks/bench_gemm.py [--repeats 200]

Run it pinned to one core (``taskset -c 0``) on a busy machine.
"""

import argparse
import time

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

from rnnkit.backends.cpu.gemm import mm_packed, pack_nn, pack_nt, packed_len

#: (name, B rows of a part, H, gates): the per-step products of bench_core's models
SHAPES = [
    ("LSTM-128, part of 64 rows", 64, 128, 4),
    ("LSTM-128, whole batch of 128", 128, 128, 4),
    ("GRU-128, part of 64 rows", 64, 128, 3),
    ("LSTM-512, batch of 64", 64, 512, 4),
]


@njit(cache=True)
def _dots(a, b, out, n):
    # ``n`` products ``a @ b`` into ``out``; a transposed view passed in is seen by BLAS as transposed
    for _ in range(n):
        np.dot(a, b, out)


@njit  # not cached: it inlines rnnkit's kernel, which a cache keyed on this file would not see change
def _packed(a, wp, out, n):
    # ``n`` products ``a @ W`` on the packed ``wp`` into ``out``
    for _ in range(n):
        mm_packed(a, wp, out, False)


@njit(cache=True)
def _transpose_into(src, dst):
    # dst = src.T in 16 x 16 blocks
    R, C = src.shape
    for i0 in range(0, R, 16):
        for j0 in range(0, C, 16):
            for j in range(j0, min(j0 + 16, C)):
                for i in range(i0, min(i0 + 16, R)):
                    dst[j, i] = src[i, j]


@njit(cache=True)
def _dots_through_transposes(a, x, out, xT, outT, n):
    # ``n`` times ``out = (a @ x.T).T`` with explicit transposes: the batch-minor product
    # computed inside today's batch-major layout
    for _ in range(n):
        _transpose_into(x, xT)
        np.dot(a, xT, outT)
        _transpose_into(outT, out)


@njit(cache=True)
def _tiny_loop_rows(h, W, out, n):
    # out[b, j] = sum_k h[b, k] W[j, k], row by row (batch-major)
    B, H = h.shape
    G = W.shape[0]
    for _ in range(n):
        for b in range(B):
            for j in range(G):
                s = out.dtype.type(0)
                for k in range(H):
                    s += h[b, k] * W[j, k]
                out[b, j] = s


@njit(cache=True)
def _tiny_loop_units(hT, W, outT, n):
    # outT[j, :] = sum_k W[j, k] hT[k, :]: every multiply-add runs over the batch (batch-minor)
    H, B = hT.shape
    G = W.shape[0]
    for _ in range(n):
        for j in range(G):
            o = outT[j]
            for b in range(B):
                o[b] = 0
            for k in range(H):
                w = W[j, k]
                x = hT[k]
                for b in range(B):
                    o[b] += w * x[b]


def measure_tiny(B=200, H=6, repeats=2000, seed=0):
    """Microseconds of the rule stream's (T5) per-step product ``h @ W_hh.T``, ``B`` rows by ``H`` units.

    Parameters
    ----------
    B, H : int, default=200, 6
        Rows and hidden units (one gate: the RNN cell).
    repeats : int, default=2000
        Calls per timing round.
    seed : int, default=0
        Seed of the random operands.

    Returns
    -------
    dict
        ``{"BLAS, batch-major", "loop, batch-major", "loop, batch-minor"}`` -> microseconds per call.
    """
    rng = np.random.default_rng(seed)
    f32 = np.float32
    W = rng.standard_normal((H, H)).astype(f32)
    h = rng.standard_normal((B, H)).astype(f32)
    hT = np.ascontiguousarray(h.T)
    cases = {
        "BLAS, batch-major": (_dots, (h, W.T, np.empty((B, H), f32))),
        "loop, batch-major": (_tiny_loop_rows, (h, W, np.empty((B, H), f32))),
        "loop, batch-minor": (_tiny_loop_units, (hT, W, np.empty((H, B), f32))),
    }
    with threadpool_limits(1, user_api="blas"):
        return {name: 1e6 * best_seconds(fn, args, repeats) for name, (fn, args) in cases.items()}


def best_seconds(fn, args, repeats, rounds=7):
    """Fastest per-call seconds of ``fn(*args, repeats)`` over ``rounds`` rounds (after one warm-up call).

    Parameters
    ----------
    fn : callable
        A compiled loop taking ``args`` and a repeat count.
    args : tuple
        Its array arguments.
    repeats : int
        Calls per round.
    rounds : int, default=7
        Rounds; the fastest round's mean is returned.

    Returns
    -------
    float
        Seconds per call.
    """
    fn(*args, 1)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(*args, repeats)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def measure(B, H, G, repeats, seed=0):
    """GFLOP/s of the four per-step products of one shape (see the module docstring).

    Parameters
    ----------
    B, H, G : int
        Rows, hidden units and gates.
    repeats : int
        Calls per timing round.
    seed : int, default=0
        Seed of the random operands.

    Returns
    -------
    dict
        ``{"forward rows", "forward units", "forward via transposes", "backward rows",
        "backward units", "backward units, W.T copied", "backward via transposes",
        "forward packed", "backward packed"}`` ->
        GFLOP/s. "W.T copied": ``W_hh.T`` stored contiguous, as a window could copy it
        once for all its steps; "via transposes": the batch-minor product between
        explicit transposes of the batch-major operand and result (what a cell of
        today's layout would have to do), transposes included in the time.
    """
    rng = np.random.default_rng(seed)
    f32 = np.float32
    W = rng.standard_normal((G * H, H)).astype(f32)
    h = rng.standard_normal((B, H)).astype(f32)
    dG = rng.standard_normal((B, G * H)).astype(f32)
    hT, dGT = np.ascontiguousarray(h.T), np.ascontiguousarray(dG.T)
    flops = 2.0 * B * H * G * H
    WT = np.ascontiguousarray(W.T)
    gates, state = (lambda: np.empty((B, G * H), f32)), (lambda: np.empty((B, H), f32))
    cases = {
        "forward rows": (_dots, (h, W.T, gates())),
        "forward units": (_dots, (W, hT, np.empty((G * H, B), f32))),
        "forward via transposes": (_dots_through_transposes, (W, h, gates(), np.empty((H, B), f32),
                                                              np.empty((G * H, B), f32))),
        "backward rows": (_dots, (dG, W, state())),
        "backward units": (_dots, (W.T, dGT, np.empty((H, B), f32))),
        "backward units, W.T copied": (_dots, (WT, dGT, np.empty((H, B), f32))),
        "backward via transposes": (_dots_through_transposes, (WT, dG, state(), np.empty((G * H, B), f32),
                                                               np.empty((H, B), f32))),
        "forward packed": (_packed, (h, pack_nt(W, np.empty(packed_len(G * H, H), f32)), gates())),
        "backward packed": (_packed, (dG, pack_nn(W, np.empty(packed_len(H, G * H), f32)), state())),
    }
    with threadpool_limits(1, user_api="blas"):
        return {name: flops / best_seconds(fn, args, repeats) / 1e9 for name, (fn, args) in cases.items()}


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200, help="calls per timing round (default 200)")
    args = parser.parse_args(argv)
    print("float32, one BLAS thread; GFLOP/s (fastest of 7 rounds)")
    columns = [("forward rows", "fwd h@W.T"), ("forward units", "fwd W@hT"),
               ("forward via transposes", "fwd +T"), ("forward packed", "fwd packed"),
               ("backward rows", "bwd dG@W"), ("backward units", "bwd W.T@dGT"),
               ("backward units, W.T copied", "bwd WT@dGT"), ("backward via transposes", "bwd +T"),
               ("backward packed", "bwd packed")]
    print(f"{'shape':30s}" + "".join(f" {head:>11s}" for _, head in columns))
    for name, B, H, G in SHAPES:
        r = measure(B, H, G, args.repeats)
        print(f"{name:30s}" + "".join(f" {r[key]:11.1f}" for key, _ in columns))
    tiny = measure_tiny()
    print("T5's per-step product (200 x 6 by 6 x 6), us per call: "
          + ", ".join(f"{name} {us:.2f}" for name, us in tiny.items()))


if __name__ == "__main__":
    main()
