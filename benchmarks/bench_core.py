"""Time rnnkit's core training workloads side by side with PyTorch on the CPU.

Workloads (each a function returning a list of wall-clock times in seconds):

* ``echo`` - :func:`bench_echo_epoch`: one epoch of the echo-RNN tutorial
  (tanh RNN, 1 input, 4 hidden units, 2 classes at every step, 5 rows of
  10000 steps, 666 truncated-BPTT windows of 15 steps with the state carried
  from window to window, Adagrad lr 0.3);
* ``lstm`` - :func:`bench_lstm_step`: one training step (forward, backward,
  Adam update) of an LSTM with 128 hidden units on a batch of 128 sequences of
  28 steps of 28 features, classified at the last step into 10 classes;
* ``echo_est`` - :func:`bench_echo_estimator`: the ``echo`` epoch through
  ``RNNClassifier.partial_fit`` (validation, target encoding and the training
  loop included);
* ``lstm_est`` - :func:`bench_lstm_estimator`: the ``lstm`` step through
  ``RNNClassifier.partial_fit`` on 128 sequences (one update);
* ``lstm2bi`` - :func:`bench_lstm2bi_step`: the ``lstm`` step with 2 stacked
  bidirectional layers;
* ``ctc`` - :func:`bench_ctc`: the CTC loss and its gradient with respect to
  the logits (:func:`rnnkit.losses.ctc_loss`), N = 32 sequences of T = 200
  frames over C = 30 columns, 40 labels each; PyTorch's side is
  ``log_softmax``, ``ctc_loss(reduction="none")`` summed and ``backward``.

The estimator workloads are compared with the same PyTorch runs as their
raw-kernel counterparts (run once), and their overhead over the raw kernels is
printed below the table.

rnnkit runs in float32 (its fast default) and is warmed up once so that
compilation (or loading numba's on-disk cache) is not timed. The PyTorch side
is :mod:`torch_peer` (same directory); it is skipped with a message when
``torch`` cannot be imported.

Usage::

    python benchmarks/bench_core.py [--repeats 7] [--threads 1] [--only echo,lstm,...]

More workloads (e.g. estimator-level ``fit``) are added by writing a
``bench_*`` function for each side and registering it in :data:`WORKLOADS`.
"""

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch_peer  # noqa: E402  (sibling module, imports torch lazily)
from torch_peer import (  # noqa: E402
    ECHO_BATCH,
    ECHO_CLASSES,
    ECHO_HIDDEN,
    ECHO_LR,
    ECHO_STEP,
    ECHO_TOTAL,
    ECHO_WINDOW,
    time_calls,
)

from rnnkit.network import Network  # noqa: E402
from rnnkit.optim import Optimizer  # noqa: E402


# --------------------------------------------------------------------------- rnnkit side
def echo_data(seed=0, dtype=np.float32):
    """The echo task's data, drawn exactly as :mod:`torch_peer` draws them.

    Parameters
    ----------
    seed : int, default=0
        Seed of the numpy generator drawing the bits.
    dtype : dtype, default=np.float32
        Precision of the inputs.

    Returns
    -------
    X : ndarray of shape (5, 9990, 1)
        The bits, cut to a whole number of windows (666 windows of 15 steps).
    y : ndarray of shape (5, 9990)
        Each bit echoed 3 steps later, as class indices.
    """
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=ECHO_TOTAL)
    target = np.roll(bits, ECHO_STEP)
    target[:ECHO_STEP] = 0
    X = bits.reshape(ECHO_BATCH, -1, 1).astype(dtype)
    y = target.reshape(ECHO_BATCH, -1)
    T = (X.shape[1] // ECHO_WINDOW) * ECHO_WINDOW
    return np.ascontiguousarray(X[:, :T]), np.ascontiguousarray(y[:, :T])


def bench_echo_epoch(n_repeats=7, seed=0, dtype=np.float32):
    """Time training epochs of the echo tutorial with rnnkit.

    The whole epoch (666 windows, each forward, cross-entropy, backward and
    one Adagrad update, the hidden state carried across windows) is one call
    of :meth:`rnnkit.network.Network.train_epoch`. One untimed warm-up epoch
    runs first.

    Parameters
    ----------
    n_repeats : int, default=7
        Number of timed epochs.
    seed : int, default=0
        Seed of the data and the initial weights.
    dtype : dtype, default=np.float32
        Precision of the parameters and data.

    Returns
    -------
    list of float
        Wall-clock time of each timed epoch, in seconds.
    """
    X, y = echo_data(seed, dtype)
    net = Network("rnn", input_size=1, hidden_size=ECHO_HIDDEN, output_size=ECHO_CLASSES,
                  nonlinearity="tanh", loss="cross_entropy", output="sequence")
    theta = net.init_params(random_state=seed, dtype=dtype)
    Y = net.targets(y, dtype)
    lengths = np.full(X.shape[0], X.shape[1], dtype=np.int64)
    opt = Optimizer("adagrad", learning_rate=ECHO_LR)

    def epoch():
        _, losses, status = net.train_epoch(theta, opt, X, lengths, Y, batch_size=ECHO_BATCH,
                                            bptt_steps=ECHO_WINDOW, carry=True)
        assert status == 0 and losses.shape[0] == X.shape[1] // ECHO_WINDOW
        return losses

    return time_calls(epoch, n_repeats)


def lstm_problem(seed=0, hidden=128, input_size=28, steps=28, batch=128, n_classes=10,
                 dtype=np.float32, num_layers=1, bidirectional=False):
    """The LSTM workload's network, parameters and fixed batch.

    Returns
    -------
    net : Network
    theta : ndarray
    X : ndarray of shape (batch, steps, input_size)
    lengths : ndarray of shape (batch,)
    Y : ndarray of shape (batch, 1, 1)
        Targets in the kernels' layout.
    """
    rng = np.random.default_rng(seed)
    net = Network("lstm", input_size=input_size, hidden_size=hidden, output_size=n_classes,
                  loss="cross_entropy", output="last", num_layers=num_layers,
                  bidirectional=bidirectional)
    theta = net.init_params(random_state=seed, dtype=dtype)
    X = rng.standard_normal((batch, steps, input_size)).astype(dtype)
    y = rng.integers(0, n_classes, size=batch)
    lengths = np.full(batch, steps, dtype=np.int64)
    return net, theta, X, lengths, net.targets(y, dtype)


def bench_lstm_step(n_repeats=20, seed=0, hidden=128, input_size=28, steps=28, batch=128,
                    n_classes=10, dtype=np.float32, num_layers=1, bidirectional=False):
    """Time training steps of an LSTM sequence classifier with rnnkit.

    One step is one call of :meth:`rnnkit.network.Network.train_epoch` on a
    single batch with full backpropagation through time: forward, last-step
    cross-entropy, backward and one Adam (lr 1e-3) update. Three untimed
    warm-up steps run first.

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed training steps.
    seed : int, default=0
        Seed of the batch and the initial weights.
    hidden, input_size, steps, batch, n_classes : int
        Sizes of the problem (defaults: 128, 28, 28, 128, 10).
    dtype : dtype, default=np.float32
        Precision of the parameters and data.
    num_layers : int, default=1
        Stacked LSTM layers.
    bidirectional : bool, default=False
        Bidirectional layers.

    Returns
    -------
    list of float
        Wall-clock time of each timed training step, in seconds.
    """
    net, theta, X, lengths, Y = lstm_problem(seed, hidden, input_size, steps, batch, n_classes, dtype,
                                             num_layers, bidirectional)
    opt = Optimizer("adam", learning_rate=1e-3)

    def step():
        _, losses, status = net.train_epoch(theta, opt, X, lengths, Y, batch_size=batch)
        assert status == 0 and losses.shape[0] == 1

    return time_calls(step, n_repeats, n_warmup=3)


def bench_lstm2bi_step(n_repeats=20, seed=0):
    """Time training steps of a 2-layer bidirectional LSTM (hidden 128 per direction) with rnnkit.

    :func:`bench_lstm_step` with ``num_layers=2, bidirectional=True``: batch
    128, 28 steps of 28 features, the head on the top layer's forward state at
    the last step and reverse state after the whole sequence, 10 classes, Adam.

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed training steps.
    seed : int, default=0
        Seed of the batch and the initial weights.

    Returns
    -------
    list of float
        Wall-clock time of each timed training step, in seconds.
    """
    return bench_lstm_step(n_repeats=n_repeats, seed=seed, num_layers=2, bidirectional=True)


def bench_echo_estimator(n_repeats=7, seed=0):
    """Time the echo epoch through the scikit-learn estimator.

    ``RNNClassifier(cell="rnn", hidden_size=4, output="sequence",
    solver="adagrad", learning_rate_init=0.3, bptt_steps=15, stateful=True,
    alpha=0.0, max_iter=1)``; a first ``partial_fit(X, y, classes=[0, 1])``
    warms up (and compiles), then each timed call is one ``partial_fit(X, y)``
    on the (5, 9990) univariate streams: input validation, target encoding,
    one epoch of 666 windows and the estimator's bookkeeping.

    Parameters
    ----------
    n_repeats : int, default=7
        Number of timed epochs.
    seed : int, default=0
        Seed of the data and of the estimator.

    Returns
    -------
    list of float
        Wall-clock time of each timed ``partial_fit``, in seconds.
    """
    from rnnkit import RNNClassifier

    X, y = echo_data(seed)
    X2 = np.ascontiguousarray(X[:, :, 0])
    clf = RNNClassifier(cell="rnn", hidden_size=ECHO_HIDDEN, output="sequence", solver="adagrad",
                        learning_rate_init=ECHO_LR, bptt_steps=ECHO_WINDOW, stateful=True, alpha=0.0,
                        max_iter=1, random_state=seed)
    clf.partial_fit(X2, y, classes=[0, 1])
    # a new pass over the stream from a zero state (a stateful estimator would continue the last one)
    return time_calls(lambda: clf.reset_state().partial_fit(X2, y), n_repeats)


def bench_lstm_estimator(n_repeats=20, seed=0):
    """Time the LSTM-128 training step through the scikit-learn estimator.

    ``RNNClassifier(cell="lstm", hidden_size=128, batch_size=128, max_iter=1,
    forget_bias=None)``; each timed call is one ``partial_fit`` on the 128
    sequences of 28 x 28 of :func:`lstm_problem` (one Adam update), after a
    first ``partial_fit(..., classes=range(10))`` and three warm-up calls.

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed ``partial_fit`` calls.
    seed : int, default=0
        Seed of the batch and of the estimator.

    Returns
    -------
    list of float
        Wall-clock time of each timed ``partial_fit``, in seconds.
    """
    from rnnkit import RNNClassifier

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((128, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=128)
    clf = RNNClassifier(cell="lstm", hidden_size=128, batch_size=128, max_iter=1, forget_bias=None,
                        random_state=seed)
    clf.partial_fit(X, y, classes=np.arange(10))
    return time_calls(lambda: clf.partial_fit(X, y), n_repeats, n_warmup=3)


def bench_ctc(n_repeats=20, seed=0):
    """Time :func:`rnnkit.losses.ctc_loss` (loss and gradient) on :func:`torch_peer.ctc_problem`.

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed calls (after one untimed call).
    seed : int, default=0
        Seed of the data.

    Returns
    -------
    list of float
        Wall-clock time of each timed call, in seconds.
    """
    from rnnkit.losses import ctc_loss

    args = torch_peer.ctc_problem(seed)
    return time_calls(lambda: ctc_loss(*args), n_repeats)


# --------------------------------------------------------------------------- registry
#: name -> (description, rnnkit function, torch function, unit, scale of the unit)
WORKLOADS = {
    "echo": ("echo epoch (rnn H=4, 666 x 15-step windows)", bench_echo_epoch,
             torch_peer.echo_epoch, "s", 1.0),
    "lstm": ("LSTM-128 train step (B=128, T=28, I=28)", bench_lstm_step,
             torch_peer.lstm_step, "ms", 1e3),
    "echo_est": ("echo epoch via RNNClassifier.partial_fit", bench_echo_estimator,
                 torch_peer.echo_epoch, "s", 1.0),
    "lstm_est": ("LSTM-128 step via RNNClassifier.partial_fit", bench_lstm_estimator,
                 torch_peer.lstm_step, "ms", 1e3),
    "lstm2bi": ("2-layer bidir. LSTM-128 train step", bench_lstm2bi_step,
                torch_peer.lstm2bi_step, "ms", 1e3),
    "ctc": ("CTC loss + grad (N=32, T=200, C=30, S=40)", bench_ctc, torch_peer.ctc_loss_grad, "ms", 1e3),
}

#: estimator workload -> the raw-kernel workload it wraps (overhead printed below the table)
ESTIMATOR_OF = {"echo_est": "echo", "lstm_est": "lstm"}


def _limit_threads(threads):
    """Limit rnnkit's, numba's and BLAS's threads in this process (``None``: leave them)."""
    if threads is None:
        return None
    import numba
    from threadpoolctl import threadpool_limits

    import rnnkit

    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    if hasattr(rnnkit, "set_config"):  # the threads that run the parts of a split batch
        rnnkit.set_config(n_threads=int(threads))
    return threadpool_limits(limits=int(threads))


def run(names, repeats, threads=None):
    """Run the named workloads; return rows ``(name, rnnkit times, torch times or None)``."""
    limiter = _limit_threads(threads)  # noqa: F841 - keeps the limits while alive
    have_torch = torch_peer.available()
    rows = []
    peers = {}  # one PyTorch run per PyTorch function (estimator rows reuse their kernel's)
    for name in names:
        _, ours, theirs, _, _ = WORKLOADS[name]
        mine = ours(n_repeats=repeats)
        if have_torch and theirs not in peers:
            peers[theirs] = theirs(n_repeats=repeats, threads=threads)
        rows.append((name, mine, peers.get(theirs)))
    return rows


def format_overheads(rows):
    """Lines giving each estimator workload's overhead over its raw-kernel workload, in percent."""
    times = {name: mine for name, mine, _ in rows}
    lines = []
    for est, raw in ESTIMATOR_OF.items():
        if est in times and raw in times:
            med = statistics.median(times[est]) / statistics.median(times[raw]) - 1.0
            best = min(times[est]) / min(times[raw]) - 1.0
            lines.append(f"estimator overhead, {est} over {raw}: {100 * med:+.1f}% (medians), "
                         f"{100 * best:+.1f}% (minimums)")
    return "\n".join(lines)


def format_table(rows):
    """The result table as text: workload, medians, torch/rnnkit speed-up, then the minimums.

    The minimums (best of the timed runs) are shown too because, on a busy
    machine, they move far less than the medians.
    """
    head = (f"{'workload':<46} {'rnnkit median':>14} {'torch median':>14} {'torch/rnnkit':>13}"
            f" {'rnnkit min':>11} {'torch min':>11}")
    lines = [head, "-" * len(head)]
    for name, mine, peer in rows:
        desc, _, _, unit, scale = WORKLOADS[name]
        m = statistics.median(mine)
        ours, ours_min = f"{m * scale:.4g} {unit}", f"{min(mine) * scale:.4g} {unit}"
        if peer is None:
            theirs, ratio, theirs_min = "n/a", "n/a", "n/a"
        else:
            p = statistics.median(peer)
            theirs, ratio = f"{p * scale:.4g} {unit}", f"{p / m:.2f}x"
            theirs_min = f"{min(peer) * scale:.4g} {unit}"
        lines.append(f"{desc:<46} {ours:>14} {theirs:>14} {ratio:>13} {ours_min:>11} {theirs_min:>11}")
    return "\n".join(lines)


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per workload (default 7)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for BLAS/numba and torch.set_num_threads (default: leave as is)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated workloads among {','.join(WORKLOADS)} (default: all)")
    args = parser.parse_args(argv)
    names = list(WORKLOADS) if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose among {list(WORKLOADS)}")

    import numba

    print(f"rnnkit (float32), numpy {np.__version__}, numba {numba.__version__}, "
          f"{os.cpu_count()} CPUs, threads={args.threads if args.threads else 'default'}, "
          f"load average {os.getloadavg()[0]:.2f}")
    if torch_peer.available():
        if args.threads is not None:
            torch_peer._set_threads(args.threads)
        print(torch_peer.describe())
    else:
        print("PyTorch is not importable: the torch column is skipped "
              "(install it with `pip install -e \".[bench]\"`).")
    rows = run(names, args.repeats, args.threads)
    print(f"medians over {args.repeats} timed runs each (warm-up excluded)")
    print(format_table(rows))
    overheads = format_overheads(rows)
    if overheads:
        print(overheads)
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return rows


if __name__ == "__main__":
    main()
