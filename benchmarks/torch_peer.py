"""PyTorch CPU peer of rnnkit's benchmark.

This module implements, idiomatically in PyTorch, the same training workloads
that ``benchmarks/bench_core.py`` times for rnnkit, so that the two can be
compared on the same CPU. It is **optional**: PyTorch is not a dependency of
rnnkit (it is only listed in the ``bench`` extra) and this module is never
imported by the ``rnnkit`` package. ``torch`` is imported lazily inside each
function; call :func:`available` first to find out whether it can be used.

Each workload is a ``prepare_*`` function, which builds the data, the model
and the optimizer, runs the untimed warm-up and returns the call to time (no
arguments), and a thin wrapper of the older name (:func:`echo_epoch`,
:func:`lstm_step`, ...) returning the times of ``n_repeats`` such calls.
``bench_core.py`` times the prepared calls of both libraries in alternation
with :func:`time_alternating`.

Run it standalone to print the median time of each workload::

    python benchmarks/torch_peer.py
"""

import statistics
import time

import numpy as np

# Configuration of the classic "echo RNN" tutorial.
ECHO_TOTAL = 50_000
ECHO_BATCH = 5
ECHO_STEP = 3
ECHO_WINDOW = 15
ECHO_HIDDEN = 4
ECHO_CLASSES = 2
ECHO_LR = 0.3


def available():
    """Tell whether PyTorch can be imported.

    Returns
    -------
    bool
        ``True`` if ``import torch`` succeeds, ``False`` otherwise.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def describe():
    """Describe the PyTorch installation used for timing.

    Returns
    -------
    str
        The torch version and the number of intra-op threads
        (``torch.get_num_threads()``).
    """
    import torch

    return f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def warmed_up(fn, n_warmup=1):
    """Call ``fn`` ``n_warmup`` times (untimed) and return it.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    n_warmup : int, default=1
        Number of calls.

    Returns
    -------
    callable
        ``fn`` itself.
    """
    for _ in range(n_warmup):
        fn()
    return fn


def time_alternating(fns, n_repeats, pause=0.0):
    """Wall-clock seconds of ``n_repeats`` rounds, each calling every function of ``fns`` once, in turn.

    Round ``i`` times call ``i`` of ``fns[0]``, then of ``fns[1]``, and so
    on, so that the calls compared are made at nearly the same time: a slow
    phase of the machine (other work, frequency changes) lasting seconds
    slows every side's calls of that round rather than one side's whole
    series. Nothing is warmed up here: each function is set up and warmed up
    by whoever built it (the ``prepare_*`` functions).

    Parameters
    ----------
    fns : sequence of callable
        Each called without arguments.
    n_repeats : int
        Number of rounds (timed calls of each function).
    pause : float, default=0.0
        Seconds of sleep before each timed call (not timed): PyTorch's
        OpenMP workers keep spinning for about 10-20 ms after its call ends,
        on the cores the next call of the other side uses.

    Returns
    -------
    list of list of float
        ``times[k][i]``: seconds of call ``i`` of ``fns[k]``.
    """
    times = [[] for _ in fns]
    for _ in range(n_repeats):
        for fn, out in zip(fns, times, strict=True):
            if pause > 0:
                time.sleep(pause)
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return times


def time_calls(fn, n_repeats, n_warmup=1):
    """Wall-clock seconds of ``n_repeats`` calls of ``fn`` after ``n_warmup`` untimed ones.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    n_repeats : int
        Number of timed calls.
    n_warmup : int, default=1
        Untimed calls first.

    Returns
    -------
    list of float
    """
    return time_alternating([warmed_up(fn, n_warmup)], n_repeats)[0]


def _set_threads(threads):
    """Set the number of intra-op threads of PyTorch, if asked to.

    Parameters
    ----------
    threads : int or None
        Number of threads passed to ``torch.set_num_threads``; ``None`` leaves
        the current setting unchanged.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(int(threads))


def _echo_data(seed):
    """Build the data of the echo task as torch tensors.

    Parameters
    ----------
    seed : int
        Seed of the numpy random generator drawing the bits.

    Returns
    -------
    x : torch.Tensor
        Float32 tensor of shape ``(5, 10000, 1)``: the random bits.
    y : torch.Tensor
        Int64 tensor of shape ``(5, 10000)``: the bits echoed three steps
        later (the flat stream rolled by 3, its first 3 entries set to 0),
        as class indices for ``cross_entropy``.
    """
    import torch

    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=ECHO_TOTAL)
    target = np.roll(bits, ECHO_STEP)
    target[:ECHO_STEP] = 0
    x = torch.from_numpy(bits.reshape(ECHO_BATCH, -1, 1).astype(np.float32))
    y = torch.from_numpy(target.reshape(ECHO_BATCH, -1).astype(np.int64))
    return x, y


def _stream_epoch(x, y, hidden, n_classes, window, lr, seed):
    """An epoch of truncated BPTT over a batch of streams (a tanh RNN, a head at every step, Adagrad).

    Builds the model and the optimizer and runs one untimed warm-up epoch.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, steps, 1)
        The input streams, float32.
    y : torch.Tensor of shape (batch, steps)
        Class indices at every step, int64.
    hidden, n_classes, window : int
        Hidden units, classes and steps per BPTT window (``steps // window``
        windows per epoch).
    lr : float
        Learning rate of ``torch.optim.Adagrad``.
    seed : int
        Seed of the initial weights (``torch.manual_seed``).

    Returns
    -------
    callable
        One epoch per call (no arguments), warmed up.
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    batch, n_windows = x.shape[0], x.shape[1] // window
    rnn = torch.nn.RNN(input_size=x.shape[2], hidden_size=hidden, batch_first=True)
    head = torch.nn.Linear(hidden, n_classes)
    params = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adagrad(params, lr=lr)

    def run_epoch():
        h = torch.zeros(1, batch, hidden)
        for w in range(n_windows):
            cols = slice(w * window, (w + 1) * window)
            optimizer.zero_grad()
            out, h = rnn(x[:, cols], h)
            logits = head(out)
            loss = F.cross_entropy(logits.reshape(-1, n_classes), y[:, cols].reshape(-1))
            loss.backward()
            optimizer.step()
            h = h.detach()

    return warmed_up(run_epoch)


def prepare_echo_epoch(seed=0, threads=None):
    """Set up and warm up a training epoch of the echo RNN tutorial in PyTorch.

    A vanilla tanh ``torch.nn.RNN`` (1 input, 4 hidden units) followed by a
    ``torch.nn.Linear(4, 2)`` head applied at every step is trained on a
    batch of 5 streams of 10000 random bits to output each bit 3 steps later.
    An epoch runs 666 consecutive windows of 15 steps with truncated
    backpropagation through time: the hidden state is carried from window to
    window but detached, and reset to zero at the start of the epoch. Each
    window does zero_grad, forward, ``cross_entropy`` averaged over all steps
    of the window, backward and one ``torch.optim.Adagrad(lr=0.3)`` step.

    The data, the model and the optimizer are built here, outside the timed
    calls, and one untimed warm-up epoch is run.

    Parameters
    ----------
    seed : int, default=0
        Seed for the data and the initial weights.
    threads : int or None, default=None
        If not ``None``, passed to ``torch.set_num_threads``.

    Returns
    -------
    callable
        One epoch per call (no arguments).
    """
    _set_threads(threads)
    x, y = _echo_data(seed)
    return _stream_epoch(x, y, ECHO_HIDDEN, ECHO_CLASSES, ECHO_WINDOW, ECHO_LR, seed)


def echo_epoch(n_repeats=5, seed=0, threads=None):
    """Time epochs of the echo RNN tutorial in PyTorch (calls of :func:`prepare_echo_epoch`'s epoch).

    Parameters
    ----------
    n_repeats : int, default=5
        Number of timed epochs.
    seed, threads
        As :func:`prepare_echo_epoch`.

    Returns
    -------
    list of float
        Wall-clock time of each timed epoch, in seconds.
    """
    return time_calls(prepare_echo_epoch(seed, threads), n_repeats, n_warmup=0)


# Configuration of the rule-stream tutorial (T5) as the benchmark runs it: 100000 bits in 200 rows.
RULE_BITS, RULE_ROWS, RULE_LAG = 100_000, 200, 1
RULE_HIDDEN, RULE_CLASSES, RULE_WINDOW, RULE_LR = 6, 2, 5, 0.1


def _rule_data(seed):
    """The rule stream of tutorial T5 as torch tensors, drawn with numpy.

    The same rule as ``rnnkit.datasets.make_rule_stream(lag=1)`` (this module
    does not import rnnkit): target 0 after two ones, 1 after two zeros,
    otherwise a fair coin. Only the shapes matter for the timing.

    Parameters
    ----------
    seed : int
        Seed of the numpy generator.

    Returns
    -------
    x : torch.Tensor
        Float32 tensor of shape ``(200, 500, 1)``: the bits, cut row-major.
    y : torch.Tensor
        Int64 tensor of shape ``(200, 500)``: the targets.
    """
    import torch

    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=RULE_BITS)
    target = rng.integers(0, 2, size=RULE_BITS)  # the coins; forced steps overwritten below
    older, newer = bits[:RULE_BITS - RULE_LAG - 1], bits[1:RULE_BITS - RULE_LAG]  # x[t - lag - 1], x[t - lag]
    forced = target[RULE_LAG + 1:]
    forced[(older == 1) & (newer == 1)] = 0
    forced[(older == 0) & (newer == 0)] = 1
    x = torch.from_numpy(bits.reshape(RULE_ROWS, -1, 1).astype(np.float32))
    y = torch.from_numpy(target.reshape(RULE_ROWS, -1).astype(np.int64))
    return x, y


def prepare_rule_epoch(seed=0, threads=None):
    """Set up and warm up a training epoch of the rule-stream tutorial (T5) in PyTorch.

    ``torch.nn.RNN(1, 6)`` (tanh) and a ``torch.nn.Linear(6, 2)`` head at
    every step, on a batch of 200 streams of 500 bits: an epoch runs 100
    consecutive windows of 5 steps, the hidden state carried from window to
    window but detached (zero at the start of the epoch); each window does
    zero_grad, forward, ``cross_entropy`` averaged over the window's steps,
    backward and one ``torch.optim.Adagrad(lr=0.1)`` step -- the loop of
    :func:`prepare_echo_epoch` with T5's sizes. One untimed warm-up epoch
    runs here.

    Parameters
    ----------
    seed : int, default=0
        Seed for the data and the initial weights.
    threads : int or None, default=None
        If not ``None``, passed to ``torch.set_num_threads``.

    Returns
    -------
    callable
        One epoch per call (no arguments).
    """
    _set_threads(threads)
    x, y = _rule_data(seed)
    return _stream_epoch(x, y, RULE_HIDDEN, RULE_CLASSES, RULE_WINDOW, RULE_LR, seed)


def rule_epoch(n_repeats=5, seed=0, threads=None):
    """Time epochs of the rule-stream tutorial in PyTorch (calls of :func:`prepare_rule_epoch`'s epoch).

    Parameters
    ----------
    n_repeats : int, default=5
        Number of timed epochs.
    seed, threads
        As :func:`prepare_rule_epoch`.

    Returns
    -------
    list of float
        Wall-clock time of each timed epoch, in seconds.
    """
    return time_calls(prepare_rule_epoch(seed, threads), n_repeats, n_warmup=0)


def prepare_lstm_step(
    seed=0,
    hidden=128,
    input_size=28,
    steps=28,
    batch=128,
    n_classes=10,
    num_layers=1,
    bidirectional=False,
    threads=None,
    cell="lstm",
    n_batches=1,
    n_epochs=1,
):
    """Set up and warm up a training step (or epochs) of an LSTM or GRU sequence classifier in PyTorch.

    One step does zero_grad, a forward pass through ``torch.nn.LSTM`` (or
    ``torch.nn.GRU``, ``batch_first=True``), takes the output at the last time
    step (for a bidirectional network, the forward output at the last step
    concatenated with the reverse output at step 0), applies a
    ``torch.nn.Linear`` to ``n_classes`` logits, computes ``cross_entropy``,
    backpropagates and takes one ``torch.optim.Adam(lr=1e-3)`` step. The data
    are ``n_batches * batch`` random float32 sequences of shape ``(steps,
    input_size)`` with random integer labels, built here, outside the timed
    calls, together with the model and the optimizer. Three untimed warm-up
    steps on the first batch are run.

    With ``n_batches=1`` (and ``n_epochs=1``) a call is one step on the
    fixed batch. Otherwise a call is ``n_epochs`` epochs, each drawing a
    new random order of the sequences (``torch.randperm``, as the estimator
    shuffles) and taking one step per batch of ``batch`` sequences of that
    order (``n_batches`` steps per epoch).

    Parameters
    ----------
    seed : int, default=0
        Seed for the data, the shuffling and the initial weights.
    hidden : int, default=128
        Number of hidden units of the network (per direction).
    input_size : int, default=28
        Number of input features per time step.
    steps : int, default=28
        Number of time steps of each sequence.
    batch : int, default=128
        Number of sequences in a batch.
    n_classes : int, default=10
        Number of output classes.
    num_layers : int, default=1
        Number of stacked layers.
    bidirectional : bool, default=False
        Whether the layers are bidirectional.
    threads : int or None, default=None
        If not ``None``, passed to ``torch.set_num_threads``.
    cell : {"lstm", "gru"}, default="lstm"
        The recurrent layer: ``torch.nn.LSTM`` or ``torch.nn.GRU``.
    n_batches : int, default=1
        Batches in the data set (training steps per epoch).
    n_epochs : int, default=1
        Epochs per call (used when ``n_batches > 1`` or ``n_epochs > 1``).

    Returns
    -------
    callable
        One step (or ``n_epochs`` epochs) per call, no arguments.
    """
    import torch
    import torch.nn.functional as F

    _set_threads(threads)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    n_seq = n_batches * batch
    x = torch.randn(n_seq, steps, input_size, generator=generator, dtype=torch.float32)
    labels = torch.randint(0, n_classes, (n_seq,), generator=generator)

    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    rnn = layer(
        input_size=input_size,
        hidden_size=hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=True,
    )
    n_dirs = 2 if bidirectional else 1
    head = torch.nn.Linear(n_dirs * hidden, n_classes)
    params = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def train_step(xb, yb):
        optimizer.zero_grad()
        out, _ = rnn(xb)
        if bidirectional:
            last = torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], 1)
        else:
            last = out[:, -1, :]
        loss = F.cross_entropy(head(last), yb)
        loss.backward()
        optimizer.step()

    def train_epochs():
        for _ in range(n_epochs):
            order = torch.randperm(n_seq, generator=generator)
            for start in range(0, n_seq, batch):
                idx = order[start:start + batch]
                train_step(x[idx], labels[idx])

    for _ in range(3):
        train_step(x[:batch], labels[:batch])
    if n_batches == 1 and n_epochs == 1:
        return lambda: train_step(x, labels)
    return train_epochs


def lstm_step(n_repeats=20, **kwargs):
    """Time training steps (or epochs) of an LSTM or GRU classifier in PyTorch (:func:`prepare_lstm_step`).

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed calls.
    **kwargs
        Keyword arguments of :func:`prepare_lstm_step` (sizes, ``seed``,
        ``threads``, ``cell``, ``n_batches``, ``n_epochs``).

    Returns
    -------
    list of float
        Wall-clock time of each timed call, in seconds.
    """
    return time_calls(prepare_lstm_step(**kwargs), n_repeats, n_warmup=0)


def prepare_lstm2bi_step(seed=0, threads=None):
    """Set up and warm up a training step of a 2-layer bidirectional LSTM classifier in PyTorch.

    :func:`prepare_lstm_step` with ``num_layers=2, bidirectional=True``
    (hidden 128 per direction, batch 128, 28 steps of 28 features, 10
    classes, Adam): the head reads the top layer's forward output at the last
    step and its reverse output at step 0.

    Parameters
    ----------
    seed : int, default=0
        Seed for the batch and the initial weights.
    threads : int or None, default=None
        If not ``None``, passed to ``torch.set_num_threads``.

    Returns
    -------
    callable
        One training step per call (no arguments).
    """
    return prepare_lstm_step(seed=seed, num_layers=2, bidirectional=True, threads=threads)


def lstm2bi_step(n_repeats=20, seed=0, threads=None):
    """Time steps of a 2-layer bidirectional LSTM classifier in PyTorch (:func:`prepare_lstm2bi_step`).

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed training steps.
    seed, threads
        As :func:`prepare_lstm2bi_step`.

    Returns
    -------
    list of float
        Wall-clock time of each timed training step, in seconds.
    """
    return time_calls(prepare_lstm2bi_step(seed, threads), n_repeats, n_warmup=0)


# Configuration of the CTC workload (issue: N = 32, T = 200, C = 30, label length 40).
CTC_N, CTC_T, CTC_C, CTC_S = 32, 200, 30, 40


def ctc_problem(seed=0, dtype=np.float32):
    """The CTC workload's data, drawn with numpy (the same arrays for both sides).

    Parameters
    ----------
    seed : int, default=0
        Seed of the numpy generator.
    dtype : dtype, default=np.float32
        Precision of the logits.

    Returns
    -------
    logits : ndarray of shape (32, 200, 30)
    targets : ndarray of shape (32, 40), int64
        Labels in ``1 .. 29`` (column 0 is the blank).
    input_lengths, target_lengths : ndarray of shape (32,), int64
        Every sequence full length (200 frames, 40 labels).
    """
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((CTC_N, CTC_T, CTC_C)).astype(dtype)
    targets = rng.integers(1, CTC_C, size=(CTC_N, CTC_S))
    return (logits, targets, np.full(CTC_N, CTC_T, np.int64), np.full(CTC_N, CTC_S, np.int64))


def prepare_ctc_loss_grad(seed=0, threads=None):
    """Set up and warm up PyTorch's CPU CTC loss and its gradient with respect to the logits.

    Each call: ``log_softmax`` of the (N, T, C) logits (moved to PyTorch's
    time-first layout), ``ctc_loss(..., reduction="none")`` summed, and
    ``backward`` to the logits -- what :func:`rnnkit.losses.ctc_loss` returns
    in one call. The data are built here; one untimed call runs.

    Parameters
    ----------
    seed : int, default=0
        Seed of :func:`ctc_problem`.
    threads : int or None, default=None
        If not ``None``, passed to ``torch.set_num_threads``.

    Returns
    -------
    callable
        One loss-and-gradient call (no arguments), returning the gradient.
    """
    import torch

    _set_threads(threads)
    logits, targets, in_len, tgt_len = (torch.from_numpy(a) for a in ctc_problem(seed))

    def call():
        z = logits.detach().requires_grad_(True)
        log_probs = torch.log_softmax(z, dim=2).transpose(0, 1)  # (T, N, C)
        loss = torch.nn.functional.ctc_loss(log_probs, targets, in_len, tgt_len, blank=0, reduction="none")
        loss.sum().backward()
        return z.grad

    return warmed_up(call)


def ctc_loss_grad(n_repeats=20, seed=0, threads=None):
    """Time PyTorch's CPU CTC loss and its gradient (calls of :func:`prepare_ctc_loss_grad`'s).

    Parameters
    ----------
    n_repeats : int, default=20
        Number of timed calls.
    seed, threads
        As :func:`prepare_ctc_loss_grad`.

    Returns
    -------
    list of float
        Wall-clock time of each timed call, in seconds.
    """
    return time_calls(prepare_ctc_loss_grad(seed, threads), n_repeats, n_warmup=0)


if __name__ == "__main__":
    if not available():
        raise SystemExit("PyTorch is not installed; install it with `pip install torch==2.13.0`.")
    print(describe())
    echo = echo_epoch()
    print(f"echo_epoch: median {statistics.median(echo):.4f} s over {len(echo)} epochs")
    rule = rule_epoch()
    print(f"rule_epoch: median {statistics.median(rule):.4f} s over {len(rule)} epochs")
    lstm = lstm_step()
    print(f"lstm_step:  median {statistics.median(lstm) * 1e3:.2f} ms over {len(lstm)} steps")
    bi = lstm2bi_step()
    print(f"lstm2bi_step (2 layers, bidirectional): median {statistics.median(bi) * 1e3:.2f} ms "
          f"over {len(bi)} steps")
    ctc = ctc_loss_grad()
    print(f"ctc_loss_grad (N=32, T=200, C=30, S=40): median {statistics.median(ctc) * 1e3:.2f} ms "
          f"over {len(ctc)} calls")
