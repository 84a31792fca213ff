"""Peak resident memory of one LSTM-512 training epoch, rnnkit against PyTorch, on the CPU.

The workload: 64 random float32 sequences of 1000 steps of 32 inputs, labels
among 10 classes read at the last step, an LSTM with 512 hidden units and a
dense head, batch 64 -- one Adam step with full backpropagation through the
1000 steps, whose stored activations dominate the memory.

* rnnkit: ``RNNClassifier(cell="lstm", hidden_size=512, batch_size=64,
  max_iter=1, solver="adam", forget_bias=None).fit(X, y)`` (float32, its
  default): validation, a fresh network, weights and optimizer, the epoch.
* PyTorch: ``torch.nn.LSTM(32, 512, batch_first=True)``, a
  ``torch.nn.Linear(512, 10)`` on the last step and ``torch.optim.Adam``,
  built before the baseline; the measured step is zero_grad, forward,
  ``cross_entropy``, backward and ``optimizer.step()``.

Each side runs in its own fresh process (``python bench_memory.py --side
rnnkit``). There everything is imported and the data and the model are built
first, and a tiny warm-up fit / step (same cell and hidden size, 2 sequences
of 3 steps) runs so that rnnkit's kernels are compiled or loaded from numba's
cache and PyTorch's lazy initialisation is done; then the high-water mark of
the resident set (``ru_maxrss``) is the baseline, the epoch runs, and the
figure is the high-water mark after it minus the baseline, in MiB. (The
warm-up's own allocations, a few MiB, are part of the baseline.)

Usage::

    python benchmarks/bench_memory.py           # both sides, each in a subprocess
    python benchmarks/bench_memory.py --side torch
"""

import argparse
import resource
import subprocess
import sys
import warnings

import numpy as np

#: the workload's sizes: sequences, steps, inputs, hidden units, classes, batch
N_SEQ, STEPS, INPUTS, HIDDEN, CLASSES, BATCH = 64, 1000, 32, 512, 10, 64

#: the line a ``--side`` run prints its figure on
RESULT_PREFIX = "peak_mib="

SIDES = ("rnnkit", "torch")


def problem(seed=0):
    """The workload's data.

    Parameters
    ----------
    seed : int, default=0
        Seed of the numpy generator.

    Returns
    -------
    X : ndarray of shape (64, 1000, 32), float32
        Standard normal inputs.
    y : ndarray of shape (64,), int64
        Labels in ``0 .. 9``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SEQ, STEPS, INPUTS)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=N_SEQ)
    return X, y


def _high_water_mib():
    """The process's resident-set high-water mark (``ru_maxrss``) in MiB (KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _rnnkit_epoch(seed):
    """Build rnnkit's side, warm it up, and return the epoch to measure (a callable)."""
    from sklearn.exceptions import ConvergenceWarning

    from rnnkit import RNNClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = problem(seed)
    params = dict(cell="lstm", hidden_size=HIDDEN, batch_size=BATCH, max_iter=1, n_iter_no_change=1, tol=0.0,
                  solver="adam", learning_rate_init=1e-3, forget_bias=None, random_state=seed)
    RNNClassifier(**params).fit(X[:2, :3], np.array([0, 1]))  # compiles, or loads from numba's cache
    clf = RNNClassifier(**params)

    def epoch():
        clf.fit(X, y)
        assert clf.n_iter_ == 1

    return epoch


def _torch_epoch(seed):
    """Build PyTorch's side, warm it up, and return the epoch to measure (a callable)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    X, y = problem(seed)
    x, labels = torch.from_numpy(X), torch.from_numpy(y)

    def build():
        lstm = torch.nn.LSTM(INPUTS, HIDDEN, batch_first=True)
        head = torch.nn.Linear(HIDDEN, CLASSES)
        optimizer = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
        return lstm, head, optimizer

    def step(model, xb, yb):
        lstm, head, optimizer = model
        optimizer.zero_grad()
        out, _ = lstm(xb)
        F.cross_entropy(head(out[:, -1]), yb).backward()
        optimizer.step()

    step(build(), x[:2, :3], labels[:2])  # PyTorch's lazy initialisation, on a tiny model of its own
    model = build()
    return lambda: step(model, x, labels)


def measure_here(side, seed=0):
    """Measure one side in this process (call it in a fresh one: the high-water mark only rises).

    Parameters
    ----------
    side : {"rnnkit", "torch"}
        Which implementation runs the epoch.
    seed : int, default=0
        Seed of the data and the weights.

    Returns
    -------
    float
        High-water mark of the resident set after the epoch minus the one
        before it (after imports, data, model and warm-up), in MiB.
    """
    epoch = {"rnnkit": _rnnkit_epoch, "torch": _torch_epoch}[side](seed)
    baseline = _high_water_mib()
    epoch()
    return _high_water_mib() - baseline


def measure(side, seed=0):
    """Peak memory of one epoch of ``side``, measured in a fresh Python process.

    Parameters
    ----------
    side : {"rnnkit", "torch"}
        Which implementation runs the epoch.
    seed : int, default=0
        Seed of the data and the weights.

    Returns
    -------
    float
        The epoch's rise of the resident-set high-water mark, in MiB (see
        :func:`measure_here`).

    Raises
    ------
    RuntimeError
        If the subprocess fails or prints no result.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    proc = subprocess.run([sys.executable, __file__, "--side", side, "--seed", str(seed)],
                          capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the {side} measurement failed (exit code {proc.returncode}):\n"
                           f"{proc.stdout}{proc.stderr}")
    return float(lines[-1][len(RESULT_PREFIX):])


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=SIDES, default=None,
                        help="measure this side in this process and print its figure (default: both sides, "
                             "each in a subprocess)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    args = parser.parse_args(argv)
    if args.side is not None:
        print(f"{RESULT_PREFIX}{measure_here(args.side, args.seed):.1f}")
        return 0
    stored = STEPS * BATCH * 6 * HIDDEN * 4 / 2**20
    print(f"peak resident memory of one training epoch: LSTM-{HIDDEN}, {N_SEQ} sequences of {STEPS} steps x "
          f"{INPUTS} inputs, batch {BATCH} (one Adam step, full BPTT), {CLASSES} classes, float32")
    print(f"for scale: the 4 gates, cell and hidden state of every step (T x B x 6H float32) are "
          f"{stored:.0f} MiB")
    figures = {side: measure(side, args.seed) for side in SIDES}
    for side, mib in figures.items():
        print(f"{side:<7} {mib:8.1f} MiB above the baseline (imports, data, model, warm-up)")
    if figures["torch"] > 0:
        print(f"ratio rnnkit / torch: {figures['rnnkit'] / figures['torch']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
