"""Time rnnkit's core training workloads side by side with PyTorch on the CPU.

Workloads (each a ``prepare_*`` function that sets up and warms up rnnkit's
side and returns the call to time, and a ``bench_*`` wrapper returning the
wall-clock times, in seconds, of ``n_repeats`` such calls on their own):

* ``echo`` - :func:`prepare_echo_epoch`: one epoch of the echo-RNN tutorial
  (tanh RNN, 1 input, 4 hidden units, 2 classes at every step, 5 rows of
  10000 steps, 666 truncated-BPTT windows of 15 steps with the state carried
  from window to window, Adagrad lr 0.3);
* ``lstm`` - :func:`prepare_lstm_step`: one training step (forward, backward,
  Adam update) of an LSTM with 128 hidden units on a batch of 128 sequences of
  28 steps of 28 features, classified at the last step into 10 classes;
* ``echo_est`` - :func:`prepare_echo_estimator`: the ``echo`` epoch through
  ``RNNClassifier.partial_fit`` (validation, target encoding and the training
  loop included);
* ``lstm_est`` - :func:`prepare_lstm_estimator`: the ``lstm`` step through
  ``RNNClassifier.partial_fit`` on 128 sequences (one update);
* ``lstm2bi`` - :func:`prepare_lstm2bi_step`: the ``lstm`` step with 2 stacked
  bidirectional layers;
* ``ctc`` - :func:`prepare_ctc`: the CTC loss and its gradient with respect to
  the logits (:func:`rnnkit.losses.ctc_loss`), N = 32 sequences of T = 200
  frames over C = 30 columns, 40 labels each; PyTorch's side is
  ``log_softmax``, ``ctc_loss(reduction="none")`` summed and ``backward``.

Workloads through ``RNNClassifier.fit`` as a user runs it (validation, a fresh
network, weights and optimizer, the epochs, the bookkeeping; one untimed
``fit`` first so that compilation is not timed; every timed ``fit`` runs
exactly ``max_iter`` epochs, ``n_iter_no_change=max_iter`` and ``tol=0``):

* ``echo_fit`` - :func:`prepare_echo_fit`: the ``echo`` epoch via ``fit``
  (``max_iter=1``); PyTorch's side is the ``echo`` loop;
* ``rule_fit`` - :func:`prepare_rule_fit`: one epoch of tutorial T5 (rule
  stream, rnn H=6, 200 rows of 500 steps, 100 windows of 5, Adagrad);
  PyTorch: ``torch_peer.prepare_rule_epoch``;
* ``lstm_fit`` / ``gru_fit`` - :func:`prepare_rnn_fit`: one epoch over 2560
  random sequences of 28 x 28, batch 128 (20 Adam steps) of an LSTM-128 /
  GRU-128;
* ``lstm2bi_fit`` - the same with 2 bidirectional LSTM layers, 640 sequences
  (5 steps);
* ``lstm512_fit`` - LSTM-512, 192 sequences of 50 steps x 32 inputs, batch
  64 (3 steps);
* ``mnist1d`` - a bidirectional GRU-6 on 4000 sequences of 40 steps x 1
  feature, batch 100, Adam, ``--mnist-epochs`` (200) epochs in one ``fit``,
  timed ``--mnist-repeats`` (1) times.

The PyTorch side of the last five is ``torch_peer.prepare_lstm_step`` with
the same sizes: model, optimizer and data are built outside the timed region,
and each timed call is the training loop over the epoch(s), the sequences in
a new random order each epoch.

How the runs are timed: for each workload, rnnkit's side is set up and
warmed up, then PyTorch's, and then the timed calls alternate in this one
process -- rnnkit's call 1, PyTorch's call 1, rnnkit's call 2, PyTorch's
call 2, ... (:func:`torch_peer.time_alternating`). A slow phase of the
machine (seconds long on a small, shared one) then slows both sides' calls
of the same rounds rather than one side's whole series. Every workload has
its own PyTorch run (the estimator rows time the PyTorch loop of their
raw-kernel row again, next to their own calls).

The estimator workloads' overhead over the raw kernels is printed below the
table, then the fixed cost of ``fit`` on the echo task (``echo_fit`` minus
``echo``, in ms).

Then the roofline: numpy's float32 GEMM rate (2048 x 2048 products, under
the same thread setting) and, for the workloads dominated by matrix products
(``lstm``, ``lstm_est``, ``lstm2bi`` and the ``lstm``/``gru``/``lstm2bi``/
``lstm512`` ``_fit`` ones), the FLOPs of a call (:func:`train_flops`), each
side's GFLOP/s and share of the peak, the time a call would take at the peak,
and the time of the call's own products (:func:`gemm_products`) in numpy.

rnnkit runs in float32 (its fast default) and is warmed up before the timed
calls so that compilation (or loading numba's on-disk cache) is not timed;
the ``fit`` workloads' first ``fit`` is untimed. The PyTorch side
is :mod:`torch_peer` (same directory); it is skipped with a message when
``torch`` cannot be imported.

Usage::

    python benchmarks/bench_core.py [--repeats 7] [--threads 1] [--only echo,lstm,...]
                                    [--mnist-epochs 200] [--mnist-repeats 1] [--pause 0]

More workloads are added by writing a ``prepare_*`` function for each side
(data and model built, warm-up run, the call to time returned; PyTorch's takes
``threads``) and registering both in :data:`WORKLOADS`.
"""

import argparse
import contextlib
import functools
import os
import statistics
import sys
import time
import warnings

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
    time_alternating,
    time_calls,
    warmed_up,
)

from rnnkit.network import Network  # noqa: E402
from rnnkit.optim import Optimizer  # noqa: E402


# --------------------------------------------------------------------------- rnnkit side
@contextlib.contextmanager
def quiet_fits():
    """Silence scikit-learn's ``ConvergenceWarning`` (each timed ``fit`` runs all ``max_iter`` epochs)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def time_alone(fn, n_repeats):
    """Times of ``n_repeats`` calls of a prepared rnnkit call on its own, under :func:`quiet_fits`.

    What the ``bench_*`` functions return: ``fn`` comes from a ``prepare_*``
    function, set up and warmed up, so no call is left untimed here.
    """
    with quiet_fits():
        return time_calls(fn, n_repeats, n_warmup=0)


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


def prepare_echo_epoch(seed=0, dtype=np.float32):
    """Set up and warm up a training epoch of the echo tutorial with rnnkit.

    The whole epoch (666 windows, each forward, cross-entropy, backward and
    one Adagrad update, the hidden state carried across windows) is one call
    of :meth:`rnnkit.network.Network.train_epoch`. The data, network,
    weights and optimizer are built here, and one untimed warm-up epoch runs.

    Parameters
    ----------
    seed : int, default=0
        Seed of the data and the initial weights.
    dtype : dtype, default=np.float32
        Precision of the parameters and data.

    Returns
    -------
    callable
        One epoch per call (no arguments), returning its losses.
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

    return warmed_up(epoch)


def bench_echo_epoch(n_repeats=7, seed=0, dtype=np.float32):
    """Time training epochs of the echo tutorial with rnnkit (calls of :func:`prepare_echo_epoch`'s).

    Parameters
    ----------
    n_repeats : int, default=7
        Number of timed epochs.
    seed, dtype
        As :func:`prepare_echo_epoch`.

    Returns
    -------
    list of float
        Wall-clock time of each timed epoch, in seconds.
    """
    return time_alone(prepare_echo_epoch(seed, dtype), n_repeats)


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


def prepare_lstm_step(seed=0, hidden=128, input_size=28, steps=28, batch=128, n_classes=10,
                      dtype=np.float32, num_layers=1, bidirectional=False):
    """Set up and warm up a training step of an LSTM sequence classifier with rnnkit.

    One step is one call of :meth:`rnnkit.network.Network.train_epoch` on a
    single batch (:func:`lstm_problem`) with full backpropagation through
    time: forward, last-step cross-entropy, backward and one Adam (lr 1e-3)
    update. Three untimed warm-up steps run here.

    Parameters
    ----------
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
    callable
        One training step per call (no arguments).
    """
    net, theta, X, lengths, Y = lstm_problem(seed, hidden, input_size, steps, batch, n_classes, dtype,
                                             num_layers, bidirectional)
    opt = Optimizer("adam", learning_rate=1e-3)

    def step():
        _, losses, status = net.train_epoch(theta, opt, X, lengths, Y, batch_size=batch)
        assert status == 0 and losses.shape[0] == 1

    return warmed_up(step, n_warmup=3)


def bench_lstm_step(n_repeats=20, **kwargs):
    """Time training steps of an LSTM sequence classifier with rnnkit (calls of :func:`prepare_lstm_step`'s).

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed training steps.
    **kwargs
        Keyword arguments of :func:`prepare_lstm_step` (``seed``, the sizes,
        ``dtype``, ``num_layers``, ``bidirectional``).

    Returns
    -------
    list of float
        Wall-clock time of each timed training step, in seconds.
    """
    return time_alone(prepare_lstm_step(**kwargs), n_repeats)


def prepare_lstm2bi_step(seed=0):
    """Set up and warm up a training step of a 2-layer bidirectional LSTM (hidden 128 per direction).

    :func:`prepare_lstm_step` with ``num_layers=2, bidirectional=True``:
    batch 128, 28 steps of 28 features, the head on the top layer's forward
    state at the last step and reverse state after the whole sequence, 10
    classes, Adam.

    Parameters
    ----------
    seed : int, default=0
        Seed of the batch and the initial weights.

    Returns
    -------
    callable
        One training step per call (no arguments).
    """
    return prepare_lstm_step(seed=seed, num_layers=2, bidirectional=True)


def bench_lstm2bi_step(n_repeats=20, seed=0):
    """Time training steps of a 2-layer bidirectional LSTM-128 with rnnkit (:func:`prepare_lstm2bi_step`).

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
    return time_alone(prepare_lstm2bi_step(seed), n_repeats)


def prepare_echo_estimator(seed=0):
    """Set up and warm up the echo epoch through the scikit-learn estimator.

    ``RNNClassifier(cell="rnn", hidden_size=4, output="sequence",
    solver="adagrad", learning_rate_init=0.3, bptt_steps=15, stateful=True,
    alpha=0.0, max_iter=1)``; a first ``partial_fit(X, y, classes=[0, 1])``
    (compilation) and one call run here. Each call is one ``partial_fit(X,
    y)`` on the (5, 9990) univariate streams from a zero state: input
    validation, target encoding, one epoch of 666 windows and the
    estimator's bookkeeping.

    Parameters
    ----------
    seed : int, default=0
        Seed of the data and of the estimator.

    Returns
    -------
    callable
        One ``partial_fit`` per call (no arguments).
    """
    from rnnkit import RNNClassifier

    X, y = echo_data(seed)
    X2 = np.ascontiguousarray(X[:, :, 0])
    clf = RNNClassifier(cell="rnn", hidden_size=ECHO_HIDDEN, output="sequence", solver="adagrad",
                        learning_rate_init=ECHO_LR, bptt_steps=ECHO_WINDOW, stateful=True, alpha=0.0,
                        max_iter=1, random_state=seed)
    clf.partial_fit(X2, y, classes=[0, 1])
    # a new pass over the stream from a zero state (a stateful estimator would continue the last one)
    return warmed_up(lambda: clf.reset_state().partial_fit(X2, y))


def bench_echo_estimator(n_repeats=7, seed=0):
    """Time the echo epoch through ``RNNClassifier.partial_fit`` (calls of :func:`prepare_echo_estimator`'s).

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
    return time_alone(prepare_echo_estimator(seed), n_repeats)


def prepare_lstm_estimator(seed=0):
    """Set up and warm up the LSTM-128 training step through the scikit-learn estimator.

    ``RNNClassifier(cell="lstm", hidden_size=128, batch_size=128, max_iter=1,
    forget_bias=None)``; each call is one ``partial_fit`` on 128 random
    sequences of 28 x 28 (one Adam update), after a first ``partial_fit(...,
    classes=range(10))`` and three warm-up calls here.

    Parameters
    ----------
    seed : int, default=0
        Seed of the batch and of the estimator.

    Returns
    -------
    callable
        One ``partial_fit`` per call (no arguments).
    """
    from rnnkit import RNNClassifier

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((128, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=128)
    clf = RNNClassifier(cell="lstm", hidden_size=128, batch_size=128, max_iter=1, forget_bias=None,
                        random_state=seed)
    clf.partial_fit(X, y, classes=np.arange(10))
    return warmed_up(lambda: clf.partial_fit(X, y), n_warmup=3)


def bench_lstm_estimator(n_repeats=20, seed=0):
    """Time the LSTM-128 step through ``RNNClassifier.partial_fit`` (:func:`prepare_lstm_estimator`).

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
    return time_alone(prepare_lstm_estimator(seed), n_repeats)


def _prepare_fit(clf, X, y, warmup_params=None):
    """``clf.fit(X, y)`` as a call (each fit starts afresh), after one untimed fit.

    The warm-up fit runs with ``warmup_params`` set (e.g. one epoch instead of
    many), which are then restored. Each fit must run all ``max_iter``
    epochs; time the calls under :func:`quiet_fits`.
    """
    def fit():
        clf.fit(X, y)
        assert clf.n_iter_ == clf.max_iter, f"fit ran {clf.n_iter_} epochs, not max_iter={clf.max_iter}"

    with quiet_fits():
        if warmup_params:
            saved = {key: clf.get_params()[key] for key in warmup_params}
            clf.set_params(**warmup_params)
            fit()
            clf.set_params(**saved)
        else:
            fit()
    return fit


def prepare_echo_fit(seed=0):
    """Set up and warm up the echo epoch through ``RNNClassifier.fit``, as a user runs it.

    The estimator of :func:`prepare_echo_estimator` (``cell="rnn",
    hidden_size=4, output="sequence", solver="adagrad",
    learning_rate_init=0.3, bptt_steps=15, stateful=True, alpha=0.0``, one
    batch of the 5 rows) with ``max_iter=1``: each call is ``clf.fit(X, y)``
    on the (5, 9990) streams -- validation, target encoding, a fresh network,
    weights and optimizer, one epoch of 666 windows and the bookkeeping. One
    untimed ``fit`` (compilation) runs here.

    Parameters
    ----------
    seed : int, default=0
        Seed of the data and of the estimator.

    Returns
    -------
    callable
        One ``fit`` per call (no arguments).
    """
    from rnnkit import RNNClassifier

    X, y = echo_data(seed)
    X2 = np.ascontiguousarray(X[:, :, 0])
    clf = RNNClassifier(cell="rnn", hidden_size=ECHO_HIDDEN, output="sequence", solver="adagrad",
                        learning_rate_init=ECHO_LR, bptt_steps=ECHO_WINDOW, stateful=True, alpha=0.0,
                        batch_size=ECHO_BATCH, max_iter=1, n_iter_no_change=1, tol=0.0, random_state=seed)
    return _prepare_fit(clf, X2, y)


def bench_echo_fit(n_repeats=7, seed=0):
    """Time the echo epoch through ``RNNClassifier.fit`` (calls of :func:`prepare_echo_fit`'s).

    Parameters
    ----------
    n_repeats : int, default=7
        Number of timed fits.
    seed : int, default=0
        Seed of the data and of the estimator.

    Returns
    -------
    list of float
        Wall-clock time of each timed ``fit``, in seconds.
    """
    return time_alone(prepare_echo_fit(seed), n_repeats)


def prepare_rule_fit(seed=0):
    """Set up and warm up one epoch of the rule-stream tutorial (T5) through ``RNNClassifier.fit``.

    Data: ``rnnkit.datasets.make_rule_stream(n_bits=100_000, lag=1,
    n_rows=200, random_state=seed)``, i.e. ``X`` (200, 500) float64 and
    ``y`` (200, 500). Estimator: ``rnnkit.tutorials.RULE_STREAM.estimator``
    (rnn, hidden 6, per-step output, Adagrad lr 0.1, ``bptt_steps=5``,
    stateful, ``alpha=0``) with ``batch_size=200`` and ``max_iter=1``: one
    batch of the 200 rows, 100 windows of 5 steps. Each call is one ``fit(X,
    y)``; one untimed ``fit`` runs here.

    Parameters
    ----------
    seed : int, default=0
        Seed of the data (the estimator keeps the tutorial's ``random_state``).

    Returns
    -------
    callable
        One ``fit`` per call (no arguments).
    """
    from rnnkit import RNNClassifier
    from rnnkit.datasets import make_rule_stream
    from rnnkit.tutorials import RULE_STREAM

    X, y = make_rule_stream(n_bits=100_000, lag=1, n_rows=200, random_state=seed)
    clf = RNNClassifier(**{**RULE_STREAM.estimator, "batch_size": 200, "max_iter": 1, "n_iter_no_change": 1,
                           "tol": 0.0})
    return _prepare_fit(clf, X, y)


def bench_rule_fit(n_repeats=7, seed=0):
    """Time one epoch of the rule-stream tutorial through ``RNNClassifier.fit`` (:func:`prepare_rule_fit`).

    Parameters
    ----------
    n_repeats : int, default=7
        Number of timed fits.
    seed : int, default=0
        Seed of the data.

    Returns
    -------
    list of float
        Wall-clock time of each timed ``fit``, in seconds.
    """
    return time_alone(prepare_rule_fit(seed), n_repeats)


def prepare_rnn_fit(seed=0, cell="lstm", hidden=128, input_size=28, steps=28, batch=128, n_batches=20,
                    n_classes=10, num_layers=1, bidirectional=False, n_epochs=1):
    """Set up and warm up ``RNNClassifier.fit`` of a last-step sequence classifier (LSTM or GRU) with Adam.

    ``n_batches * batch`` random float32 sequences of ``steps`` x
    ``input_size`` (seeded) with random labels among ``n_classes``;
    ``RNNClassifier(cell=cell, hidden_size=hidden, num_layers=num_layers,
    bidirectional=bidirectional, batch_size=batch, solver="adam",
    learning_rate_init=1e-3, forget_bias=None, max_iter=n_epochs,
    n_iter_no_change=n_epochs, tol=0.0)`` (the other settings at their
    defaults: shuffled batches, ``alpha=1e-4``), so that every ``fit(X, y)``
    runs exactly ``n_epochs`` epochs of ``n_batches`` Adam updates. One
    untimed ``fit`` of one epoch runs here (compilation).

    Parameters
    ----------
    seed : int, default=0
        Seed of the data and of the estimator.
    cell : {"lstm", "gru"}, default="lstm"
        The recurrent cell.
    hidden, input_size, steps, batch, n_batches, n_classes : int
        Sizes of the problem (defaults: 128, 28, 28, 128, 20, 10).
    num_layers : int, default=1
        Stacked layers.
    bidirectional : bool, default=False
        Bidirectional layers.
    n_epochs : int, default=1
        Epochs per ``fit`` (``max_iter``).

    Returns
    -------
    callable
        One ``fit`` per call (no arguments).
    """
    from rnnkit import RNNClassifier

    rng = np.random.default_rng(seed)
    n_seq = n_batches * batch
    X = rng.standard_normal((n_seq, steps, input_size)).astype(np.float32)
    y = rng.integers(0, n_classes, size=n_seq)
    clf = RNNClassifier(cell=cell, hidden_size=hidden, num_layers=num_layers, bidirectional=bidirectional,
                        batch_size=batch, solver="adam", learning_rate_init=1e-3, forget_bias=None,
                        max_iter=n_epochs, n_iter_no_change=n_epochs, tol=0.0, random_state=seed)
    warmup = {"max_iter": 1, "n_iter_no_change": 1} if n_epochs > 1 else None
    return _prepare_fit(clf, X, y, warmup_params=warmup)


def bench_rnn_fit(n_repeats=5, **kwargs):
    """Time ``RNNClassifier.fit`` of an LSTM or GRU sequence classifier (calls of :func:`prepare_rnn_fit`'s).

    Parameters
    ----------
    n_repeats : int, default=5
        Number of timed fits.
    **kwargs
        Keyword arguments of :func:`prepare_rnn_fit` (``seed``, ``cell``,
        the sizes, ``num_layers``, ``bidirectional``, ``n_epochs``).

    Returns
    -------
    list of float
        Wall-clock time of each timed ``fit``, in seconds.
    """
    return time_alone(prepare_rnn_fit(**kwargs), n_repeats)


def prepare_ctc(seed=0):
    """Set up and warm up :func:`rnnkit.losses.ctc_loss` (loss and gradient) on ``torch_peer.ctc_problem``.

    Parameters
    ----------
    seed : int, default=0
        Seed of the data.

    Returns
    -------
    callable
        One ``ctc_loss`` call (no arguments), after one untimed call here.
    """
    from rnnkit.losses import ctc_loss

    args = torch_peer.ctc_problem(seed)
    return warmed_up(lambda: ctc_loss(*args))


def bench_ctc(n_repeats=20, seed=0):
    """Time :func:`rnnkit.losses.ctc_loss` (loss and gradient): calls of :func:`prepare_ctc`'s.

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed calls.
    seed : int, default=0
        Seed of the data.

    Returns
    -------
    list of float
        Wall-clock time of each timed call, in seconds.
    """
    return time_alone(prepare_ctc(seed), n_repeats)


# --------------------------------------------------------------------------- registry
#: sizes of the LSTM-128 workloads (keyword arguments of :func:`prepare_rnn_fit` and
#: ``torch_peer.prepare_lstm_step``)
LSTM128 = dict(cell="lstm", hidden=128, input_size=28, steps=28, batch=128)

#: the ``fit`` workloads on random sequences: their sizes, shared by both sides and the roofline
FIT_SHAPES = {
    "lstm_fit": dict(LSTM128, n_batches=20),
    "gru_fit": dict(LSTM128, cell="gru", n_batches=20),
    "lstm2bi_fit": dict(LSTM128, num_layers=2, bidirectional=True, n_batches=5),
    "lstm512_fit": dict(cell="lstm", hidden=512, input_size=32, steps=50, batch=64, n_batches=3),
    "mnist1d": dict(cell="gru", hidden=6, input_size=1, steps=40, batch=100, bidirectional=True,
                    n_batches=40),
}


def _sized(fn, name):
    """``fn`` (:func:`prepare_rnn_fit` or ``torch_peer.prepare_lstm_step``) with ``FIT_SHAPES[name]``."""
    return functools.partial(fn, **FIT_SHAPES[name])


#: name -> (description, rnnkit prepare function, torch prepare function, unit, scale of the unit);
#: a prepare function sets up and warms up its side and returns the call to time (see :func:`run`)
WORKLOADS = {
    "echo": ("echo epoch (rnn H=4, 666 x 15-step windows)", prepare_echo_epoch,
             torch_peer.prepare_echo_epoch, "s", 1.0),
    "lstm": ("LSTM-128 train step (B=128, T=28, I=28)", prepare_lstm_step,
             torch_peer.prepare_lstm_step, "ms", 1e3),
    "echo_est": ("echo epoch via RNNClassifier.partial_fit", prepare_echo_estimator,
                 torch_peer.prepare_echo_epoch, "s", 1.0),
    "lstm_est": ("LSTM-128 step via RNNClassifier.partial_fit", prepare_lstm_estimator,
                 torch_peer.prepare_lstm_step, "ms", 1e3),
    "lstm2bi": ("2-layer bidir. LSTM-128 train step", prepare_lstm2bi_step,
                torch_peer.prepare_lstm2bi_step, "ms", 1e3),
    "ctc": ("CTC loss + grad (N=32, T=200, C=30, S=40)", prepare_ctc, torch_peer.prepare_ctc_loss_grad,
            "ms", 1e3),
    "echo_fit": ("echo epoch via RNNClassifier.fit", prepare_echo_fit, torch_peer.prepare_echo_epoch,
                 "ms", 1e3),
    "rule_fit": ("T5 rule stream epoch via fit (B=200, 100x5)", prepare_rule_fit,
                 torch_peer.prepare_rule_epoch, "ms", 1e3),
    "lstm_fit": ("LSTM-128 fit: 1 epoch, 20 Adam steps", _sized(prepare_rnn_fit, "lstm_fit"),
                 _sized(torch_peer.prepare_lstm_step, "lstm_fit"), "ms", 1e3),
    "gru_fit": ("GRU-128 fit: 1 epoch, 20 Adam steps", _sized(prepare_rnn_fit, "gru_fit"),
                _sized(torch_peer.prepare_lstm_step, "gru_fit"), "ms", 1e3),
    "lstm2bi_fit": ("2-layer bidir. LSTM-128 fit: 5 steps", _sized(prepare_rnn_fit, "lstm2bi_fit"),
                    _sized(torch_peer.prepare_lstm_step, "lstm2bi_fit"), "ms", 1e3),
    "lstm512_fit": ("LSTM-512 fit (B=64, T=50, I=32): 3 steps", _sized(prepare_rnn_fit, "lstm512_fit"),
                    _sized(torch_peer.prepare_lstm_step, "lstm512_fit"), "ms", 1e3),
    "mnist1d": ("MNIST-1D bidir. GRU-6 fit (40 steps/epoch)", _sized(prepare_rnn_fit, "mnist1d"),
                _sized(torch_peer.prepare_lstm_step, "mnist1d"), "s", 1.0),
}

#: estimator workload -> (the raw-kernel workload it wraps, how many of its calls make one estimator call)
ESTIMATOR_OF = {"echo_est": ("echo", 1), "lstm_est": ("lstm", 1), "echo_fit": ("echo", 1),
                "lstm_fit": ("lstm", 20), "lstm2bi_fit": ("lstm2bi", 5)}


# --------------------------------------------------------------------------- roofline
#: gates of each cell: the recurrent products are ``gates * hidden`` wide
GATES = {"rnn": 1, "gru": 3, "lstm": 4}

#: workloads dominated by matrix products -> (sizes, training steps per timed call)
ROOFLINE = {
    "lstm": (LSTM128, 1),
    "lstm_est": (LSTM128, 1),
    "lstm2bi": (dict(LSTM128, num_layers=2, bidirectional=True), 1),
    **{name: ({k: v for k, v in FIT_SHAPES[name].items() if k != "n_batches"}, FIT_SHAPES[name]["n_batches"])
       for name in ("lstm_fit", "gru_fit", "lstm2bi_fit", "lstm512_fit")},
}


def train_flops(cell, hidden, input_size, steps, batch, num_layers=1, bidirectional=False, n_classes=10):
    """FLOPs of the matrix products of one training step (full BPTT, head on the last step).

    With ``G`` gates (LSTM 4, GRU 3, RNN 1), ``H`` hidden units, ``T``
    steps, ``B`` sequences, ``D`` directions (2 if bidirectional) and
    ``I_l`` the input width of layer ``l`` (``input_size`` for the first,
    ``D * H`` above it), each layer and direction costs, in multiply-adds:

    * forward, input projection of all steps at once: ``T B I_l G H``;
    * forward, recurrent product at each step: ``T B H G H``;
    * backward, gradient to the previous state through ``W_hh`` at each
      step: ``T B G H H``;
    * backward, gradient to the layer's input through ``W_ih``, for layers
      above the first only (the data need none): ``T B G H I_l``;
    * weight gradients of ``W_ih`` and ``W_hh``: ``T B I_l G H + T B H G H``;

    that is ``T B G H ((2 + [l > 0]) I_l + 3 H)``. The dense head (forward,
    its weight gradient and the gradient to the state) adds ``3 B D H C``
    for ``C`` classes. A multiply-add is 2 FLOPs. Element-wise work (gates,
    loss, optimizer update) is not counted.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
        The recurrent cell.
    hidden : int
        Hidden units per direction.
    input_size : int
        Features per time step.
    steps : int
        Time steps of each sequence.
    batch : int
        Sequences in the batch.
    num_layers : int, default=1
        Stacked layers.
    bidirectional : bool, default=False
        Bidirectional layers.
    n_classes : int, default=10
        Outputs of the head.

    Returns
    -------
    int
        FLOPs of one training step.
    """
    G, H, T, B, D = GATES[cell], hidden, steps, batch, 2 if bidirectional else 1
    macs = 0
    for layer in range(num_layers):
        width = input_size if layer == 0 else D * H
        macs += D * T * B * G * H * ((2 + (layer > 0)) * width + 3 * H)
    macs += 3 * B * D * H * n_classes
    return 2 * macs


def gemm_products(cell, hidden, input_size, steps, batch, num_layers=1, bidirectional=False, n_classes=10):
    """The matrix products counted by :func:`train_flops`, with their shapes.

    Parameters
    ----------
    cell, hidden, input_size, steps, batch, num_layers, bidirectional, n_classes
        As :func:`train_flops`.

    Returns
    -------
    list of tuple of int
        ``(m, k, n, count)``: ``count`` products of an (m, k) by a (k, n)
        matrix. ``2 * sum(m * k * n * count)`` equals :func:`train_flops`.
    """
    G, H, T, B, D = GATES[cell], hidden, steps, batch, 2 if bidirectional else 1
    products = []
    for layer in range(num_layers):
        width = input_size if layer == 0 else D * H
        for _ in range(D):
            products += [(T * B, width, G * H, 1),  # input projection
                         (B, H, G * H, T),  # recurrent product, per step
                         (B, G * H, H, T)]  # gradient to the previous state, per step
            if layer > 0:
                products.append((T * B, G * H, width, 1))  # gradient to the layer's input
            products += [(width, T * B, G * H, 1), (H, T * B, G * H, 1)]  # dW_ih, dW_hh
    products += [(B, D * H, n_classes, 1), (D * H, B, n_classes, 1), (B, n_classes, D * H, 1)]  # head
    return products


def numpy_products_time(products, repeats=5, seed=0):
    """Best wall-clock time of running a list of float32 matrix products once each with numpy.

    Operands are C-contiguous random float32 arrays built beforehand, and
    each product writes into a preallocated output (``np.matmul(a, b,
    out=c)``); one untimed pass runs first.

    Parameters
    ----------
    products : list of tuple of int
        ``(m, k, n, count)``, as :func:`gemm_products` returns.
    repeats : int, default=5
        Timed passes; the best is returned.
    seed : int, default=0
        Seed of the operands.

    Returns
    -------
    float
        Seconds of the fastest pass over all the products.
    """
    rng = np.random.default_rng(seed)
    ops = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32),
            np.empty((m, n), np.float32), count) for m, k, n, count in products]

    def one_pass():
        for a, b, c, count in ops:
            for _ in range(count):
                np.matmul(a, b, out=c)

    return min(time_calls(one_pass, repeats))


def gemm_peak(n=2048, repeats=5):
    """The machine's float32 GEMM rate with numpy: the best of ``repeats`` (n, n) by (n, n) products.

    Parameters
    ----------
    n : int, default=2048
        Size of the square matrices.
    repeats : int, default=5
        Timed products (after one untimed one).

    Returns
    -------
    float
        GFLOP/s (``2 n**3`` FLOPs over the fastest product's time).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return 2 * n ** 3 / min(time_calls(lambda: np.dot(a, b), repeats)) / 1e9


def gemm_peak_per_core(n=2048, repeats=5, threads=None):
    """The float32 GEMM rate of numpy when each core runs its own single-threaded product.

    One Python thread per core (``threads``, default: the CPUs), BLAS limited
    to one thread, every thread multiplying its own (n, n) matrices at the
    same time (numpy releases the GIL in ``np.dot``). On a small machine this
    is the rate the cores can reach, which multithreaded BLAS on a single
    product may fall short of; rnnkit's batch split runs its parts this way.

    Parameters
    ----------
    n : int, default=2048
        Size of the square matrices.
    repeats : int, default=5
        Timed rounds (after one untimed one).
    threads : int or None, default=None
        Concurrent products (``None``: ``os.cpu_count()``).

    Returns
    -------
    float
        GFLOP/s of all the threads together (the best round).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    k = threads or os.cpu_count() or 1
    rng = np.random.default_rng(0)
    mats = [(rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32))
            for _ in range(k)]
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(k) as pool:
        def one_round():
            list(pool.map(lambda ab: np.dot(*ab), mats))

        return k * 2 * n ** 3 / min(time_calls(one_round, repeats)) / 1e9


def measure_roofline(names, threads=None):
    """The numpy GEMM peak and, for each named workload in :data:`ROOFLINE`, its products' cost.

    Parameters
    ----------
    names : list of str
        Workloads run; those not in :data:`ROOFLINE` are skipped.
    threads : int or None, default=None
        Threads for BLAS, as the timed run used (``None``: numpy's default).

    Returns
    -------
    peak : float
        numpy float32 GEMM rate, GFLOP/s.
    costs : dict
        name -> ``(FLOPs per timed call, seconds of the same products in
        numpy per timed call)``.
    """
    limiter = _limit_threads(threads)  # noqa: F841 - keeps the limits while alive
    # the machine's peak: the better of multithreaded BLAS on one product and one product per core
    peak = max(gemm_peak(), gemm_peak_per_core(threads=threads))
    costs = {}
    for name in names:
        if name not in ROOFLINE:
            continue
        sizes, n_steps = ROOFLINE[name]
        flops = train_flops(**sizes)
        products = gemm_products(**sizes)
        assert 2 * sum(m * k * n * c for m, k, n, c in products) == flops
        costs[name] = (n_steps * flops, n_steps * numpy_products_time(products))
    return peak, costs


def format_roofline(rows, peak, costs):
    """The roofline table: FLOPs per call, bounds, and each side's achieved GFLOP/s and share of the peak."""
    head = (f"{'workload':<12} {'GFLOP/call':>10} {'peak-bound':>11} {'np products':>12} "
            f"{'rnnkit GF/s':>12} {'% peak':>7} {'torch GF/s':>11} {'% peak':>7} {'rnnkit/np':>10}")
    lines = [head, "-" * len(head)]
    for name, mine, peer in rows:
        if name not in costs:
            continue
        flops, np_time = costs[name]
        ours = flops / statistics.median(mine) / 1e9
        theirs = "n/a" if peer is None else f"{flops / statistics.median(peer) / 1e9:.1f}"
        theirs_pct = "n/a" if peer is None else f"{100 * flops / statistics.median(peer) / 1e9 / peak:.0f}%"
        lines.append(f"{name:<12} {flops / 1e9:>10.3f} {1e3 * flops / 1e9 / peak:>8.2f} ms "
                     f"{1e3 * np_time:>9.2f} ms {ours:>12.1f} {100 * ours / peak:>6.0f}% {theirs:>11} "
                     f"{theirs_pct:>7} {statistics.median(mine) / np_time:>9.2f}x")
    return "\n".join(lines)


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


def run(names, repeats, threads=None, options=None, pause=0.0):
    """Run the named workloads; return rows ``(name, rnnkit times, torch times or None)``.

    For each workload, rnnkit's side is set up and warmed up, then PyTorch's
    (when ``torch`` is importable), and then the timed calls alternate:
    rnnkit's first, PyTorch's first, rnnkit's second, ...
    (:func:`torch_peer.time_alternating`), so that both sides' calls of a
    round meet the same state of the machine.

    ``options`` maps a workload to keyword arguments given to both of its
    sides instead of the defaults, ``n_repeats`` (the timed calls of each
    side) among them (e.g. ``{"mnist1d": {"n_repeats": 1, "n_epochs": 200}}``).
    ``pause``: seconds of sleep before each timed call (``--pause``).
    """
    limiter = _limit_threads(threads)  # noqa: F841 - keeps the limits while alive
    have_torch = torch_peer.available()
    options = options or {}
    rows = []
    for name in names:
        _, ours, theirs, _, _ = WORKLOADS[name]
        kwargs = dict(options.get(name, {}))
        n_repeats = kwargs.pop("n_repeats", repeats)
        with quiet_fits():
            calls = [ours(**kwargs)] + ([theirs(**kwargs, threads=threads)] if have_torch else [])
            times = time_alternating(calls, n_repeats, pause)
        del calls  # free both sides' data and models before the next workload is set up
        rows.append((name, times[0], times[1] if have_torch else None))
    return rows


def format_overheads(rows):
    """Lines giving each estimator workload's overhead over its raw-kernel workload, in percent."""
    times = {name: mine for name, mine, _ in rows}
    lines = []
    for est, (raw, calls) in ESTIMATOR_OF.items():
        if est in times and raw in times:
            med = statistics.median(times[est]) / (calls * statistics.median(times[raw])) - 1.0
            best = min(times[est]) / (calls * min(times[raw])) - 1.0
            of = raw if calls == 1 else f"{calls} x {raw}"
            lines.append(f"estimator overhead, {est} over {of}: {100 * med:+.1f}% (medians), "
                         f"{100 * best:+.1f}% (minimums)")
    return "\n".join(lines)


def format_fit_cost(rows):
    """The fixed cost of ``fit`` on the echo task: ``echo_fit`` minus the raw ``echo`` epoch, in ms."""
    times = {name: mine for name, mine, _ in rows}
    if "echo_fit" not in times or "echo" not in times:
        return ""
    med = statistics.median(times["echo_fit"]) - statistics.median(times["echo"])
    best = min(times["echo_fit"]) - min(times["echo"])
    return (f"fit fixed cost (echo_fit - echo): {1e3 * med:.3f} ms (medians), {1e3 * best:.3f} ms "
            f"(minimums); target <= 1 ms")


def measure_fit_cost(n_rounds=31, seed=0):
    """The fixed cost of ``fit`` measured in pairs: the raw ``echo`` epoch and ``echo_fit`` alternated.

    The two rnnkit calls of each round run back to back, so a slow phase of
    the machine hits both; the differences of the rounds' pairs are less
    noisy than the difference of two medians taken at different times.

    Parameters
    ----------
    n_rounds : int, default=31
        Rounds (one call of each per round).
    seed : int, default=0
        Seed of the data and of the estimator.

    Returns
    -------
    list of float
        ``echo_fit`` minus ``echo`` of each round, in seconds.
    """
    with quiet_fits():
        epoch, fit = prepare_echo_epoch(seed), prepare_echo_fit(seed)
        t_epoch, t_fit = torch_peer.time_alternating([epoch, fit], n_rounds)
    return [b - a for a, b in zip(t_epoch, t_fit, strict=True)]


def format_paired_fit_cost(diffs):
    """One line: median and quartiles of :func:`measure_fit_cost`'s differences, in ms."""
    q1, med, q3 = statistics.quantiles(diffs, n=4)
    return (f"fit fixed cost, paired ({len(diffs)} rounds of echo then echo_fit): median {1e3 * med:.3f} ms, "
            f"quartiles {1e3 * q1:.3f} / {1e3 * q3:.3f} ms; target <= 1 ms")


#: workload -> the speed-up over PyTorch (torch/rnnkit, medians) the CPU-speed issue asks of it
TARGETS = {"echo_fit": 100.0, "rule_fit": 15.0, "lstm_fit": 1.3, "gru_fit": 2.5, "lstm2bi_fit": 1.2,
           "lstm512_fit": 1.0, "mnist1d": 15.0}


def format_table(rows):
    """The result table as text: workload, medians, torch/rnnkit speed-up, its target, then the minimums.

    The minimums (best of the timed runs) are shown too because, on a busy
    machine, they move far less than the medians. ``target`` is the speed-up
    asked of the workload (:data:`TARGETS`), marked ``met`` or ``not met``
    from the medians.
    """
    head = (f"{'workload':<46} {'rnnkit median':>14} {'torch median':>14} {'torch/rnnkit':>13}"
            f" {'target':>14} {'rnnkit min':>11} {'torch min':>11}")
    lines = [head, "-" * len(head)]
    for name, mine, peer in rows:
        desc, _, _, unit, scale = WORKLOADS[name]
        m = statistics.median(mine)
        ours, ours_min = f"{m * scale:.4g} {unit}", f"{min(mine) * scale:.4g} {unit}"
        target = TARGETS.get(name)
        if peer is None:
            theirs, ratio, theirs_min = "n/a", "n/a", "n/a"
            goal = "" if target is None else f">= {target:g}x"
        else:
            p = statistics.median(peer)
            theirs, ratio = f"{p * scale:.4g} {unit}", f"{p / m:.2f}x"
            theirs_min = f"{min(peer) * scale:.4g} {unit}"
            goal = "" if target is None else f"{target:g}x {'met' if p / m >= target else 'not met'}"
        lines.append(f"{desc:<46} {ours:>14} {theirs:>14} {ratio:>13} {goal:>14} {ours_min:>11} "
                     f"{theirs_min:>11}")
    return "\n".join(lines)


def main(argv=None):
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per workload (default 7)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for BLAS/numba and torch.set_num_threads (default: leave as is)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated workloads among {','.join(WORKLOADS)} (default: all)")
    parser.add_argument("--mnist-epochs", type=int, default=200,
                        help="epochs of the mnist1d workload's fit (default 200)")
    parser.add_argument("--mnist-repeats", type=int, default=1,
                        help="timed runs of the mnist1d workload (default 1: it is long)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds of sleep before each timed call (default 0: back to back; PyTorch's "
                             "OpenMP workers spin for 10-20 ms after its calls)")
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
    options = {"mnist1d": {"n_repeats": args.mnist_repeats, "n_epochs": args.mnist_epochs}}
    rows = run(names, args.repeats, args.threads, options, args.pause)
    print(f"medians over {args.repeats} timed runs each"
          + (", rnnkit's and torch's alternating" if torch_peer.available() else "") + " (warm-up excluded"
          + (f"; {args.pause} s pause before each call" if args.pause > 0 else "")
          + (f"; mnist1d: {args.mnist_repeats} run(s) of {args.mnist_epochs} epochs" if "mnist1d" in names
             else "") + ")")
    print(format_table(rows))
    for extra in (format_overheads(rows), format_fit_cost(rows)):
        if extra:
            print(extra)
    if "echo" in names and "echo_fit" in names:
        print(format_paired_fit_cost(measure_fit_cost(max(31, 3 * args.repeats))))
    if any(name in ROOFLINE for name in names):
        start = time.perf_counter()
        peak, costs = measure_roofline(names, args.threads)
        from threadpoolctl import threadpool_info

        blas = ", ".join(sorted({f"{p['internal_api']} {p['num_threads']} threads" for p in threadpool_info()
                                 if p["user_api"] == "blas"}))
        print(f"\nroofline: numpy float32 GEMM peak {peak:.1f} GFLOP/s (2048^3, best of 5 of one product on "
              f"{blas} and of one single-threaded product per core at once); "
              f"measured in {time.perf_counter() - start:.1f} s")
        print("peak-bound = FLOPs / peak; np products = the step's own products (train_flops' shapes) timed "
              "in numpy;\nGF/s and % peak from the medians; rnnkit/np = rnnkit median / np products")
        print(format_roofline(rows, peak, costs))
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return rows


if __name__ == "__main__":
    main()
