"""A recurrent layer plus a dense head on one flat parameter vector.

:class:`Network` describes the model (cell, sizes, loss, output mode) and owns
the layout of the flat parameter vector; the compiled functions below run
whole batches and whole epochs:

* :func:`_loss_and_grad` - forward, loss and backward of one time-major batch;
* :func:`_train_epoch` - every batch and truncated-BPTT window of an epoch,
  with the optimizer update, in one call (Python overhead does not grow with
  the number of windows);
* :func:`_predict` - forward pass in chunks, head outputs and final states.

Parameters use PyTorch's names, shapes and gate order (see :meth:`Network.coefs`).
"""

import numpy as np
from numba import njit

from ._config import JIT_OPTIONS
from ._linalg import colsum, mm_nn, mm_nt, mm_tn
from .cells import CELLS, NONLINEARITIES, gru, lstm, rnn
from .losses import LOSSES, OUTPUT_MODES, head_loss
from .optim import apply_update

# slots of the integer configuration vector passed to the kernels
CELL, ACT, INPUT, HIDDEN, OUTPUTS, LOSS, MODE, BIAS = range(8)
_N_GATES = np.array([rnn.N_GATES, lstm.N_GATES, gru.N_GATES])
_CACHE = np.array([rnn.CACHE_WIDTH, lstm.CACHE_WIDTH, gru.CACHE_WIDTH])

__all__ = ["Network"]


# --------------------------------------------------------------------------- kernels
@njit(**JIT_OPTIONS)
def _views(theta, off, cfg):  # pragma: no cover - compiled
    I, H, K = cfg[INPUT], cfg[HIDDEN], cfg[OUTPUTS]
    GH = off[1] - off[0]
    GH = GH // I
    W_ih = theta[off[0] : off[1]].reshape((GH, I))
    W_hh = theta[off[1] : off[2]].reshape((GH, H))
    b_ih = theta[off[2] : off[3]]
    b_hh = theta[off[3] : off[4]]
    W_out = theta[off[4] : off[5]].reshape((K, H))
    b_out = theta[off[5] : off[6]]
    return W_ih, W_hh, b_ih, b_hh, W_out, b_out


@njit(**JIT_OPTIONS)
def _workspace(T, B, cfg, dtype_ref):  # pragma: no cover - compiled
    """Arrays for one (T, B) window: forward values and backward scratch."""
    H, K, I = cfg[HIDDEN], cfg[OUTPUTS], cfg[INPUT]
    cell = cfg[CELL]
    GH = _N_GATES[cell] * H
    dt = dtype_ref.dtype
    xp = np.empty((T, B, GH), dt)
    hs = np.empty((T + 1, B, H), dt)
    cs = np.zeros((T + 1 if cell == 1 else 0, B, H), dt)
    cache = np.empty((T, B, _CACHE[cell] * H), dt)
    logits = np.empty((T, B, K), dt)
    dlogits = np.empty((T, B, K), dt)
    dhs = np.empty((T, B, H), dt)
    dpre_ih = np.empty((T, B, GH), dt)
    dpre_hh = np.empty((T if cell == 2 else 0, B, GH), dt)
    return xp, hs, cs, cache, logits, dlogits, dhs, dpre_ih, dpre_hh


@njit(**JIT_OPTIONS)
def _cell_forward(cell, act, xp, lengths, W_hh, b_hh, hs, cs, cache):  # pragma: no cover
    if cell == 0:
        rnn.forward_sequence(xp, lengths, W_hh, b_hh, act, hs, cs, cache)
    elif cell == 1:
        lstm.forward_sequence(xp, lengths, W_hh, b_hh, act, hs, cs, cache)
    else:
        gru.forward_sequence(xp, lengths, W_hh, b_hh, act, hs, cs, cache)


@njit(**JIT_OPTIONS)
def _forward(theta, off, cfg, X, lengths, ws):  # pragma: no cover - compiled
    """Forward pass of a time-major window ``X`` (T, B, I); ``hs[0]``/``cs[0]`` set."""
    xp, hs, cs, cache, logits = ws[0], ws[1], ws[2], ws[3], ws[4]
    W_ih, W_hh, b_ih, b_hh, W_out, b_out = _views(theta, off, cfg)
    T, B, I = X.shape
    GH = W_ih.shape[0]
    H, K = cfg[HIDDEN], cfg[OUTPUTS]
    xp2 = xp.reshape((T * B, GH))
    mm_nt(X.reshape((T * B, I)), W_ih, xp2, False)
    if b_ih.shape[0] > 0:
        for r in range(T * B):
            xp2[r] += b_ih
    _cell_forward(cfg[CELL], cfg[ACT], xp, lengths, W_hh, b_hh, hs, cs, cache)
    lg = logits.reshape((T * B, K))
    mm_nt(hs[1:].reshape((T * B, H)), W_out, lg, False)
    if b_out.shape[0] > 0:
        for r in range(T * B):
            lg[r] += b_out


@njit(**JIT_OPTIONS)
def _backward(theta, off, cfg, X, lengths, ws, grad, dh0, dc0, dX):  # pragma: no cover
    """Backward pass after :func:`_forward` and :func:`head_loss` filled ``dlogits``.

    Writes the full gradient into ``grad`` (same layout as ``theta``), the
    gradient of the initial state into ``dh0``/``dc0`` and, when ``dX`` is not
    empty, the gradient of the inputs into ``dX`` (T, B, I).
    """
    xp, hs, cs, cache, logits, dlogits, dhs, dpre_ih, dpre_hh = ws
    W_ih, W_hh, b_ih, b_hh, W_out, b_out = _views(theta, off, cfg)
    gW_ih, gW_hh, gb_ih, gb_hh, gW_out, gb_out = _views(grad, off, cfg)
    T, B, I = X.shape
    GH = W_ih.shape[0]
    H, K = cfg[HIDDEN], cfg[OUTPUTS]
    cell = cfg[CELL]
    dl2 = dlogits.reshape((T * B, K))
    mm_tn(dl2, hs[1:].reshape((T * B, H)), gW_out, False)
    if gb_out.shape[0] > 0:
        colsum(dl2, gb_out, False)
    mm_nn(dl2, W_out, dhs.reshape((T * B, H)), False)
    dh_last = np.zeros((B, H), X.dtype)
    if cell == 0:
        rnn.backward_sequence(dhs, lengths, W_hh, cfg[ACT], hs, cs, cache, dh_last, dh_last,
                              dpre_ih, dpre_hh, dh0, dc0)
        dhh = dpre_ih
    elif cell == 1:
        lstm.backward_sequence(dhs, lengths, W_hh, cfg[ACT], hs, cs, cache, dh_last, dh_last,
                               dpre_ih, dpre_hh, dh0, dc0)
        dhh = dpre_ih
    else:
        gru.backward_sequence(dhs, lengths, W_hh, cfg[ACT], hs, cs, cache, dh_last, dh_last,
                              dpre_ih, dpre_hh, dh0, dc0)
        dhh = dpre_hh
    di2 = dpre_ih.reshape((T * B, GH))
    dh2 = dhh.reshape((T * B, GH))
    mm_tn(di2, X.reshape((T * B, I)), gW_ih, False)
    mm_tn(dh2, hs[:T].reshape((T * B, H)), gW_hh, False)
    if gb_ih.shape[0] > 0:
        colsum(di2, gb_ih, False)
        colsum(dh2, gb_hh, False)
    if dX.shape[0] > 0:
        mm_nn(di2, W_ih, dX.reshape((T * B, I)), False)


@njit(**JIT_OPTIONS)
def _loss_and_grad(theta, off, cfg, X, lengths, Y, h0, c0, grad, dh0, dc0, dX, hT, cT):  # pragma: no cover
    """Mean loss and full gradient of one time-major batch (no truncation)."""
    T, B, I = X.shape
    ws = _workspace(T, B, cfg, theta)
    hs, cs = ws[1], ws[2]
    hs[0] = h0
    if cs.shape[0] > 0:
        cs[0] = c0
    _forward(theta, off, cfg, X, lengths, ws)
    total, count = head_loss(cfg[LOSS], cfg[MODE], ws[4], Y, lengths, 0, ws[5])
    _backward(theta, off, cfg, X, lengths, ws, grad, dh0, dc0, dX)
    hT[:] = hs[T]
    if cs.shape[0] > 0:
        cT[:] = cs[T]
    return total / max(count, 1), count


@njit(**JIT_OPTIONS)
def _train_epoch(theta, grad, off, cfg, solver, opt_state, step, hyper, decay_mask,
                 X, lengths, Y, order, batch_size, bptt, carry, window_losses):  # pragma: no cover
    """One epoch: for each batch (rows ``order``), each window of ``bptt`` steps.

    ``X`` (N, T, I), ``Y`` (N, Ty, D) batch-major. With ``carry`` each window
    starts from the previous window's final state (truncated BPTT), else from
    zeros. One optimizer update per window that holds at least one item.
    Returns ``(loss sum, item count, number of updates, status)``; status 1
    means a non-finite loss was met and the update was not applied.
    """
    N, Tt, I = X.shape
    D = Y.shape[2]
    H = cfg[HIDDEN]
    mode = cfg[MODE]
    dt = theta.dtype
    total = 0.0
    count_all = 0
    n_up = 0
    dX = np.empty((0, 1, I), dt)
    for start in range(0, N, batch_size):
        stop = min(start + batch_size, N)
        B = stop - start
        idx = order[start:stop]
        lens = np.empty(B, np.int64)
        maxlen = 0
        for j in range(B):
            lens[j] = lengths[idx[j]]
            maxlen = max(maxlen, lens[j])
        Tw = min(bptt, maxlen)
        ws_full = _workspace(Tw, B, cfg, theta)
        Xw_full = np.empty((Tw, B, I), dt)
        Yw_full = np.empty((Tw if mode == 0 else 1, B, D), dt)
        if mode == 1:
            for j in range(B):
                Yw_full[0, j] = Y[idx[j], 0]
        hcar = np.zeros((B, H), dt)
        ccar = np.zeros((B, H), dt)
        dh0 = np.empty((B, H), dt)
        dc0 = np.empty((B, H), dt)
        for t0 in range(0, maxlen, bptt):
            T = min(bptt, maxlen - t0)
            ws = (ws_full[0][:T], ws_full[1][: T + 1], ws_full[2][: T + 1 if ws_full[2].shape[0] > 0 else 0],
                  ws_full[3][:T], ws_full[4][:T], ws_full[5][:T], ws_full[6][:T], ws_full[7][:T],
                  ws_full[8][: T if ws_full[8].shape[0] > 0 else 0])
            Xw = Xw_full[:T]
            for t in range(T):
                for j in range(B):
                    if t0 + t < lens[j]:
                        Xw[t, j] = X[idx[j], t0 + t]
                    else:  # padding is never read: it may hold anything, even NaN
                        Xw[t, j] = 0
            if mode == 0:
                Yw = Yw_full[:T]
                for t in range(T):
                    for j in range(B):
                        Yw[t, j] = Y[idx[j], t0 + t]
            else:
                Yw = Yw_full
            lw = np.empty(B, np.int64)
            for j in range(B):
                lw[j] = min(max(lens[j] - t0, 0), T)
            hs, cs = ws[1], ws[2]
            if carry:
                hs[0] = hcar
                if cs.shape[0] > 0:
                    cs[0] = ccar
            else:
                hs[0] = 0
                if cs.shape[0] > 0:
                    cs[0] = 0
            _forward(theta, off, cfg, Xw, lw, ws)
            loss_sum, cnt = head_loss(cfg[LOSS], mode, ws[4], Yw, lens, t0, ws[5])
            if not np.isfinite(loss_sum):
                return total, count_all, n_up, 1
            if cnt > 0:
                _backward(theta, off, cfg, Xw, lw, ws, grad, dh0, dc0, dX)
                apply_update(solver, theta, grad, opt_state, step, hyper, decay_mask)
                window_losses[n_up] = loss_sum / cnt
                n_up += 1
                total += loss_sum
                count_all += cnt
            hcar[:] = hs[T]
            if cs.shape[0] > 0:
                ccar[:] = cs[T]
    return total, count_all, n_up, 0


@njit(**JIT_OPTIONS)
def _predict(theta, off, cfg, X, lengths, h0, c0, chunk, out, hT, cT, hseq):  # pragma: no cover
    """Head outputs (raw) of every sequence of ``X`` (N, T, I), in row chunks.

    ``out`` is (N, T, K) for per-step output or (N, 1, K) for last-step output;
    ``hT``/``cT`` (N, H) receive the final states, ``hseq`` (N, T, H), unless
    empty, every step's hidden state.
    """
    N, Tt, I = X.shape
    H, K = cfg[HIDDEN], cfg[OUTPUTS]
    mode = cfg[MODE]
    dt = theta.dtype
    for start in range(0, N, chunk):
        stop = min(start + chunk, N)
        B = stop - start
        maxlen = 0
        for j in range(B):
            maxlen = max(maxlen, lengths[start + j])
        T = max(maxlen, 1)
        ws = _workspace(T, B, cfg, theta)
        Xw = np.empty((T, B, I), dt)
        for t in range(T):
            for j in range(B):
                if t < lengths[start + j]:
                    Xw[t, j] = X[start + j, t]
                else:
                    Xw[t, j] = 0
        hs, cs, logits = ws[1], ws[2], ws[4]
        hs[0] = h0[start:stop]
        if cs.shape[0] > 0:
            cs[0] = c0[start:stop]
        _forward(theta, off, cfg, Xw, lengths[start:stop], ws)
        for j in range(B):
            L = lengths[start + j]
            if mode == 0:
                for t in range(L):
                    out[start + j, t] = logits[t, j]
            else:
                out[start + j, 0] = logits[max(L - 1, 0), j]
            hT[start + j] = hs[T, j]
            if cs.shape[0] > 0:
                cT[start + j] = cs[T, j]
            if hseq.shape[0] > 0:
                for t in range(L):
                    hseq[start + j, t] = hs[t + 1, j]


# --------------------------------------------------------------------------- Python side
class Network:
    """One recurrent layer and a dense head, described over a flat parameter vector.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="rnn"
        Cell family.
    input_size : int, default=1
        Features per time step.
    hidden_size : int, default=32
        Units of the recurrent state.
    output_size : int, default=1
        Outputs of the dense head (classes for cross-entropy).
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of the ``"rnn"`` cell (ignored by the others).
    bias : bool, default=True
        Whether the recurrent layer and the head have biases.
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error"}, default="cross_entropy"
        Loss, with its output activation (see :mod:`rnnkit.losses`).
    output : {"sequence", "last"}, default="sequence"
        Head at every valid step, or only at each sequence's last valid step.
    forget_bias : float or None, default=None
        For ``"lstm"``: initial value of the forget gate's bias (``bias_ih``
        block f; ``bias_hh`` block f starts at 0). ``None`` keeps PyTorch's
        uniform initialisation.

    Attributes
    ----------
    shapes : dict
        Parameter name -> shape, in layout order (PyTorch's names for the
        recurrent layer, ``weight_out``/``bias_out`` for the head).
    size : int
        Length of the flat parameter vector.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.network import Network
    >>> net = Network("gru", input_size=2, hidden_size=3, output_size=4)
    >>> theta = net.init_params(random_state=0)
    >>> {k: v.shape for k, v in net.coefs(theta).items()}["weight_hh_l0"]
    (9, 3)
    >>> X = np.zeros((5, 7, 2)); y = np.zeros((5, 7), dtype=int)
    >>> loss, grads = net.loss_and_grad(theta, X, np.full(5, 7), y)
    >>> bool(abs(loss - np.log(4)) < 0.5), grads["grad"].shape == theta.shape
    (True, True)
    """

    def __init__(self, cell="rnn", input_size=1, hidden_size=32, output_size=1,
                 nonlinearity="tanh", bias=True, loss="cross_entropy", output="sequence",
                 forget_bias=None):
        for name, value, allowed in (("cell", cell, CELLS), ("nonlinearity", nonlinearity, NONLINEARITIES),
                                     ("loss", loss, LOSSES), ("output", output, OUTPUT_MODES)):
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not one of {sorted(allowed)}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("output_size", output_size)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.cell, self.nonlinearity, self.bias = cell, nonlinearity, bool(bias)
        self.loss, self.output, self.forget_bias = loss, output, forget_bias
        self.input_size, self.hidden_size, self.output_size = int(input_size), int(hidden_size), int(output_size)
        code, module = CELLS[cell]
        G, H, I, K = module.N_GATES, self.hidden_size, self.input_size, self.output_size
        self.n_gates = G
        nb = 1 if self.bias else 0
        self.shapes = {
            "weight_ih_l0": (G * H, I),
            "weight_hh_l0": (G * H, H),
            "bias_ih_l0": (nb * G * H,),
            "bias_hh_l0": (nb * G * H,),
            "weight_out": (K, H),
            "bias_out": (nb * K,),
        }
        sizes = [int(np.prod(s)) for s in self.shapes.values()]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])
        self.cfg = np.array([code, NONLINEARITIES[nonlinearity], I, H, K, LOSSES[loss],
                             OUTPUT_MODES[output], nb], dtype=np.int64)
        self.decay_mask_ = np.zeros(self.size)
        for k, name in enumerate(self.shapes):
            if name.startswith("weight"):
                self.decay_mask_[self.offsets[k]:self.offsets[k + 1]] = 1.0

    @property
    def has_cell_state(self):
        """Whether the cell carries a cell state ``c`` besides ``h`` (LSTM)."""
        return CELLS[self.cell][1].HAS_CELL_STATE

    def init_params(self, random_state=None, dtype=np.float64):
        """A new flat parameter vector, initialised as PyTorch does.

        Every recurrent weight and bias is drawn from ``U(-1/sqrt(H), 1/sqrt(H))``;
        the head from ``U(-1/sqrt(H), 1/sqrt(H))`` (``nn.Linear``'s default).

        Parameters
        ----------
        random_state : int, RandomState or None
            Seed or generator.
        dtype : dtype, default=np.float64
            ``np.float32`` or ``np.float64``.

        Returns
        -------
        ndarray of shape (size,)
        """
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        bound = 1.0 / np.sqrt(self.hidden_size)
        theta = rng.uniform(-bound, bound, self.size).astype(dtype)
        if self.forget_bias is not None and self.cell == "lstm" and self.bias:
            H = self.hidden_size
            c = self.coefs(theta)
            c["bias_ih_l0"][H:2 * H] = self.forget_bias
            c["bias_hh_l0"][H:2 * H] = 0.0
        return theta

    def coefs(self, theta):
        """Named views (PyTorch names, shapes and gate order) into ``theta``.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameter vector.

        Returns
        -------
        dict of str to ndarray
            Views: writing into them writes into ``theta``.
        """
        return {name: theta[self.offsets[k]:self.offsets[k + 1]].reshape(shape)
                for k, (name, shape) in enumerate(self.shapes.items())}

    def flatten(self, coefs, dtype=np.float64):
        """Inverse of :meth:`coefs`: a flat vector from named arrays.

        Parameters
        ----------
        coefs : dict of str to array-like
            One entry per name in :attr:`shapes`, of that shape.
        dtype : dtype, default=np.float64
            Precision of the result.

        Returns
        -------
        ndarray of shape (size,)
        """
        theta = np.empty(self.size, dtype=dtype)
        views = self.coefs(theta)
        for name, shape in self.shapes.items():
            value = np.asarray(coefs[name])
            if value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
            views[name][...] = value
        return theta

    # -- helpers ---------------------------------------------------------------------
    def targets(self, Y, dtype):
        """Targets as the (N, Ty, D) float array the kernels read.

        Parameters
        ----------
        Y : array-like
            Class indices (N, T) / (N,) for cross-entropy, else (N, T, K) / (N, K).
        dtype : dtype
            Precision of the parameters.

        Returns
        -------
        ndarray of shape (N, Ty, D)
        """
        Y = np.asarray(Y, dtype=dtype)
        if self.loss == "cross_entropy":
            Y = Y[..., None]
        if self.output == "last":
            Y = Y[:, None, :]
        return np.ascontiguousarray(Y)

    def _state(self, h, N, dtype):
        if h is None:
            return np.zeros((N, self.hidden_size), dtype=dtype)
        return np.ascontiguousarray(h, dtype=dtype)

    # -- compiled entry points ---------------------------------------------------------
    def loss_and_grad(self, theta, X, lengths, Y, h0=None, c0=None, input_grad=False):
        """Mean loss over one batch and its gradient, by full backpropagation through time.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameters (float32 or float64; everything runs in this precision).
        X : ndarray of shape (N, T, input_size)
            Padded batch.
        lengths : ndarray of shape (N,)
            Valid steps of each sequence, 1 <= length <= T.
        Y : array-like
            Targets, see :meth:`targets`.
        h0, c0 : ndarray of shape (N, hidden_size), default=None
            Initial hidden (and, for LSTM, cell) state; zeros when None.
        input_grad : bool, default=False
            Also return the gradient with respect to ``X``.

        Returns
        -------
        loss : float
            Mean loss over the batch's items.
        out : dict
            ``grad`` (size,), ``dh0``, ``dc0``, ``hT``, ``cT`` (N, hidden_size) and,
            with ``input_grad``, ``dX`` (N, T, input_size).
        """
        dt = theta.dtype
        X = np.asarray(X, dtype=dt)
        N, T, I = X.shape
        Xt = np.ascontiguousarray(X.transpose(1, 0, 2))
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        Xt[np.arange(T)[:, None] >= lengths[None, :]] = 0  # padding is never read
        Yk = self.targets(Y, dt)
        Yt = np.ascontiguousarray(Yk.transpose(1, 0, 2))
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        h0 = self._state(h0, N, dt)
        c0 = self._state(c0, N, dt)
        grad = np.zeros_like(theta)
        dh0 = np.zeros((N, self.hidden_size), dt)
        dc0 = np.zeros((N, self.hidden_size), dt)
        hT = np.empty_like(dh0)
        cT = np.zeros_like(dh0)
        dX = np.zeros((T if input_grad else 0, N, I), dt)
        loss, _ = _loss_and_grad(theta, self.offsets, self.cfg, Xt, lengths, Yt, h0, c0,
                                 grad, dh0, dc0, dX, hT, cT)
        out = {"grad": grad, "dh0": dh0, "dc0": dc0, "hT": hT, "cT": cT}
        if input_grad:
            out["dX"] = dX.transpose(1, 0, 2)
        return float(loss), out

    def train_epoch(self, theta, optimizer, X, lengths, Y, order=None, batch_size=None,
                    bptt_steps=None, carry=False):
        """Train one epoch in a single compiled call.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameters, updated in place.
        optimizer : rnnkit.optim.Optimizer
            Solver with its state (allocated on first use).
        X : ndarray of shape (N, T, input_size)
            Padded sequences, C-contiguous, same dtype as ``theta``.
        lengths : ndarray of shape (N,)
            Valid steps per sequence.
        Y : ndarray of shape (N, Ty, D)
            Targets as returned by :meth:`targets`.
        order : ndarray of shape (N,), default=None
            Row order of the epoch (a permutation); identity when None.
        batch_size : int, default=None
            Rows per batch; all rows when None.
        bptt_steps : int, default=None
            Truncated-BPTT window; the whole sequence when None.
        carry : bool, default=False
            Start each window from the previous window's final state.

        Returns
        -------
        mean_loss : float
            Item-weighted mean loss of the epoch's updates.
        window_losses : ndarray
            Mean loss of each update, in order.
        status : int
            0, or 1 when a non-finite loss stopped the epoch before its update.
        """
        N, T, _ = X.shape
        if optimizer.state is None or optimizer.state.shape[1] != theta.shape[0]:
            optimizer.reset(theta.shape[0], theta.dtype)
        order = np.arange(N, dtype=np.int64) if order is None else np.ascontiguousarray(order, dtype=np.int64)
        batch_size = N if batch_size is None else int(min(batch_size, N))
        bptt = T if bptt_steps is None else int(bptt_steps)
        n_windows = -(-N // batch_size) * -(-T // bptt)
        window_losses = np.empty(n_windows)
        grad = np.empty_like(theta)
        decay = self.decay_mask_.astype(theta.dtype)
        total, count, n_up, status = _train_epoch(
            theta, grad, self.offsets, self.cfg, optimizer.code, optimizer.state, optimizer.step,
            optimizer.hyper, decay, X, np.ascontiguousarray(lengths, dtype=np.int64), Y, order,
            batch_size, bptt, bool(carry), window_losses)
        mean = total / count if count else float("nan")
        return float(mean), window_losses[:n_up].copy(), int(status)

    def predict(self, theta, X, lengths, h0=None, c0=None, chunk=256, hidden_states=False):
        """Raw head outputs and final states, running every sequence to its end.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameters.
        X : ndarray of shape (N, T, input_size)
            Padded sequences.
        lengths : ndarray of shape (N,)
            Valid steps per sequence.
        h0, c0 : ndarray of shape (N, hidden_size), default=None
            Initial states; zeros when None.
        chunk : int, default=256
            Rows per compiled forward call.
        hidden_states : bool, default=False
            Also return every step's hidden state.

        Returns
        -------
        dict
            ``out`` ((N, T, K) per-step, zero past each length; or (N, K)),
            ``hT``, ``cT`` (N, hidden_size) and, if asked, ``hseq`` (N, T, hidden_size).
        """
        dt = theta.dtype
        X = np.ascontiguousarray(X, dtype=dt)
        N, T, _ = X.shape
        K, H = self.output_size, self.hidden_size
        out = np.zeros((N, T, K) if self.output == "sequence" else (N, 1, K), dt)
        hT = np.empty((N, H), dt)
        cT = np.zeros((N, H), dt)
        hseq = np.zeros((N, T, H) if hidden_states else (0, T, H), dt)
        _predict(theta, self.offsets, self.cfg, X, np.ascontiguousarray(lengths, dtype=np.int64),
                 self._state(h0, N, dt), self._state(c0, N, dt), int(chunk), out, hT, cT, hseq)
        res = {"out": out if self.output == "sequence" else out[:, 0], "hT": hT, "cT": cT}
        if hidden_states:
            res["hseq"] = hseq
        return res
