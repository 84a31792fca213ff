"""Stacked, optionally bidirectional recurrent layers plus a dense head on one flat parameter vector.

:class:`Network` validates a model's description and is the entry point of
its computations (:meth:`~Network.loss_and_grad`, :meth:`~Network.train_epoch`,
:meth:`~Network.predict`), which run on a backend (:mod:`rnnkit.backends`,
chosen by ``device``); :class:`rnnkit.layout.ParamLayout` places the parameters
(PyTorch's names, shapes and gate order, see :meth:`Network.coefs`).
"""

import numpy as np
from sklearn.utils import check_random_state

from ._compile import announce
from .backends import get_backend, usable_device
from .cells import CELLS, NONLINEARITIES
from .layout import ParamLayout
from .losses import OUTPUT_MODES, add_weights, get_loss
from .slots import config_vector

__all__ = ["Network"]


def _writable(a, dtype):
    """``a`` as a C-contiguous, writable array of ``dtype`` (one compiled signature for every input)."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.writeable else a.copy()


class Network:
    """Stacked recurrent layers and a dense head, described over a flat parameter vector.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="rnn"
        Cell family.
    input_size : int, default=1
        Features per time step.
    hidden_size : int, default=32
        Units of the recurrent state (per direction).
    output_size : int, default=1
        Outputs of the dense head (classes for cross-entropy).
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of the ``"rnn"`` cell (ignored by the others).
    bias : bool, default=True
        Whether the recurrent layers and the head have biases (``bias_ih``,
        ``bias_hh``, ``bias_out``; layer-norm biases are always there).
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error"} or Loss, default="cross_entropy"
        Loss, with its output activation (see :mod:`rnnkit.losses`); a
        :class:`rnnkit.losses.Loss` instance plugs in a loss of your own.
    output : {"sequence", "last"}, default="sequence"
        Head at every valid step, or once per sequence on its final features:
        the top layer's forward state at the sequence's last valid step,
        concatenated with the reverse direction's state after it has read the
        whole sequence (PyTorch's ``h_n``).
    forget_bias : float or None, default=None
        For ``"lstm"``: initial forget-gate bias (``bias_ih`` block f; ``bias_hh``
        block f at 0), or with ``layer_norm`` of ``ln_bias`` block f (after the
        normalisation, as TensorFlow's ``LayerNormBasicLSTMCell``). ``None``
        keeps PyTorch's uniform initialisation.
    num_layers : int, default=1
        Stacked recurrent layers; layer ``k + 1`` reads layer ``k``'s per-step
        outputs.
    bidirectional : bool, default=False
        Add a reverse direction to every layer, reading each sequence
        backwards within its own length; per-step outputs are (forward,
        reverse) concatenated.
    peephole : bool, default=False
        LSTM only: diagonal peephole weights from the cell state to the input
        and forget gates (``c_{t-1}``) and the output gate (``c_t``).
    layer_norm : bool, default=False
        Layer-normalised cells (see :mod:`rnnkit.cells.rnn`,
        :mod:`rnnkit.cells.lstm`, :mod:`rnnkit.cells.gru` for the formulas).
    dropout : float, default=0.0
        Inverted dropout probability on the outputs of every layer below the
        top and on the features fed to the head (never on the recurrent
        path); active in :meth:`loss_and_grad` and :meth:`train_epoch`, off in
        :meth:`predict`.
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Backend that runs the kernels (:func:`rnnkit.backends.get_backend`).
    n_tokens : int, default=0
        With ``n_tokens > 0`` the inputs ``X[..., 0]`` are token ids in ``[0, n_tokens)``, looked up
        in an ``embedding.weight`` table (n_tokens, input_size) learned in front of the first layer.

    Attributes
    ----------
    shapes : dict
        Parameter name -> shape, in layout order (PyTorch's names, see
        :class:`rnnkit.layout.ParamLayout`).
    offsets : ndarray of shape (len(shapes) + 1,)
        Start of each parameter in the flat vector, and its length.
    size : int
        Length of the flat parameter vector.
    decay_mask_ : ndarray of shape (size,)
        1 on weights (names starting with ``weight``, peepholes included), 0 elsewhere.
    num_directions : int
        2 when bidirectional, else 1.

    Notes
    -----
    States ``h0``, ``c0``, ``hT``, ``cT`` have PyTorch's shape (num_layers * num_directions, N,
    hidden_size), layer by layer, forward before reverse. A reverse direction starts before a
    sequence's last valid step and ends after reading the first.

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
    >>> grads["hT"].shape
    (1, 5, 3)
    """

    def __init__(self, cell="rnn", input_size=1, hidden_size=32, output_size=1,
                 nonlinearity="tanh", bias=True, loss="cross_entropy", output="sequence",
                 forget_bias=None, num_layers=1, bidirectional=False, peephole=False,
                 layer_norm=False, dropout=0.0, device="cpu", n_tokens=0):
        for name, value, allowed in (("cell", cell, CELLS), ("nonlinearity", nonlinearity, NONLINEARITIES),
                                     ("output", output, OUTPUT_MODES)):
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not one of {sorted(allowed)}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("output_size", output_size), ("num_layers", num_layers), ("n_tokens", n_tokens)):
            if isinstance(value, (bool, np.bool_)) or int(value) != value or value < (name != "n_tokens"):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        spec = CELLS[cell]
        if peephole and not spec.peephole:
            raise ValueError(f"peephole=True needs cell in {[n for n, s in CELLS.items() if s.peephole]}, "
                             f"got cell={cell!r}")
        dropout = float(dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.loss_fn = get_loss(loss)
        if self.loss_fn.level == "sequence" and output != "sequence":
            raise ValueError(f"the sequence-level loss {self.loss_fn!r} needs output='sequence'")
        get_backend(device)  # an unknown device fails here
        self.cell, self.nonlinearity, self.bias, self.device = cell, nonlinearity, bool(bias), device
        self.loss, self.output, self.forget_bias = self.loss_fn.name, output, forget_bias
        self.input_size, self.hidden_size, self.output_size = map(int, (input_size, hidden_size, output_size))
        self.num_layers, self.bidirectional = int(num_layers), bool(bidirectional)
        self.peephole, self.layer_norm, self.dropout = bool(peephole), bool(layer_norm), dropout
        self.num_directions, self.n_gates = 2 if self.bidirectional else 1, spec.n_gates
        self.n_tokens = int(n_tokens)
        self.layout = ParamLayout(spec, self.input_size, self.hidden_size, self.output_size, self.num_layers,
                                  self.num_directions, self.bias, self.peephole, self.layer_norm, n_tokens)
        self.cfg = config_vector(
            cell=spec.code, act=NONLINEARITIES[nonlinearity], input=self.input_size, hidden=self.hidden_size,
            outputs=self.output_size, loss=self.loss_fn.code, mode=OUTPUT_MODES[output], bias=self.bias,
            layers=self.num_layers, dirs=self.num_directions, peep=self.peephole, lnorm=self.layer_norm,
            cache=spec.cache_width(self.hidden_size, self.layer_norm), gates=spec.n_gates,
            has_c=spec.has_cell_state, split_hh=spec.split_hh, tokens=n_tokens)

    spec = property(lambda self: CELLS[self.cell], doc="rnnkit.cells.CellSpec: the cell family.")
    backend = property(lambda self: get_backend(self.device), doc="rnnkit.backends.Backend: where it runs.")
    shapes = property(lambda self: self.layout.shapes, doc="dict: see the class docstring.")
    offsets = property(lambda self: self.layout.offsets, doc="ndarray: see the class docstring.")
    size = property(lambda self: self.layout.size, doc="int: see the class docstring.")
    decay_mask_ = property(lambda self: self.layout.decay_mask, doc="ndarray: see the class docstring.")
    has_cell_state = property(lambda self: self.spec.has_cell_state, doc="bool: a cell state ``c`` (LSTM).")
    n_states = property(lambda self: self.num_layers * self.num_directions,
                        doc="int: leading dimension of the states, ``num_layers * num_directions``.")

    def __getstate__(self):  # scratch memory is not part of the model
        return {k: v for k, v in self.__dict__.items() if k not in ("_spare", "_decay_cast")}

    def __setstate__(self, state):  # fitted on a GPU, loaded where none is usable: the CPU runs it
        self.__dict__.update(state, device=usable_device(state["device"]))

    def init_params(self, random_state=None, dtype=np.float64):
        """A new flat parameter vector, initialised as PyTorch does.

        Recurrent weights and biases (peepholes included) from
        ``U(-1/sqrt(H), 1/sqrt(H))``, the head from ``U(-1/sqrt(D*H), 1/sqrt(D*H))``
        (``nn.Linear``'s default), layer-norm gains 1 and biases 0; then the
        cell's own (its :class:`~rnnkit.cells.CellSpec` ``init``: the LSTM's
        ``forget_bias``, the layer-normalised GRU's r and z biases of 1.0).

        Parameters
        ----------
        random_state : int, RandomState or None
        dtype : dtype, default=np.float64

        Returns
        -------
        ndarray of shape (size,)
        """
        return self.layout.init(check_random_state(random_state), dtype, self.forget_bias)

    def coefs(self, theta):
        """Named views (PyTorch names, shapes and gate order) into ``theta``.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameter vector.

        Returns
        -------
        dict of str to ndarray
            Views (writing into them writes into ``theta``), as in :attr:`shapes`.
        """
        return self.layout.coefs(theta)

    def flatten(self, coefs, dtype=np.float64):
        """Inverse of :meth:`coefs`: a flat vector from named arrays.

        Parameters
        ----------
        coefs : dict of str to array-like
            One entry per name in :attr:`shapes`, of that shape.
        dtype : dtype, default=np.float64

        Returns
        -------
        ndarray of shape (size,)
        """
        return self.layout.flatten(coefs, dtype)

    def targets(self, Y, dtype, weights=None):
        """Targets as the (N, Ty, D) float array the kernels read.

        Parameters
        ----------
        Y : array-like
            Class indices (N, T) / (N,) for cross-entropy, else (N, T, K) / (N, K);
            see :meth:`rnnkit.losses.Loss.encode`.
        dtype : dtype
        weights : array-like of shape (N,) or (N, Ty), default=None
            Weights of the items (per sequence, or per step with per-step
            output); the loss is their weighted mean. See :func:`rnnkit.losses.add_weights`.

        Returns
        -------
        ndarray of shape (N, Ty, D) or (N, Ty, D + 1) with weights
        """
        return add_weights(self.loss_fn, self.loss_fn.encode(Y, self.output, dtype), weights)

    def dropout_masks(self, seed, n_samples, n_timesteps, dtype=np.float64):
        """The dropout masks :meth:`loss_and_grad` uses for ``dropout_seed=seed``.

        Parameters
        ----------
        seed : int
            The ``dropout_seed``.
        n_samples, n_timesteps : int
            Shape of the batch ``X`` (N, T, input_size).
        dtype : dtype, default=np.float64
            Precision of the parameters.

        Returns
        -------
        list of ndarray
            One per layer, batch-major multipliers (0 or ``1 / (1 - p)``): of layer
            ``k``'s outputs (N, T, D*H) for ``k < num_layers - 1``, then of the
            head's input ((N, T, D*H), or (N, D*H) for last-step output).
        """
        if self.dropout == 0:
            return []
        return self.backend.dropout_masks(self, int(seed), int(n_samples), int(n_timesteps), dtype)

    def loss_and_grad(self, theta, X, lengths, Y, h0=None, c0=None, input_grad=False,
                      dropout_seed=None):
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
        h0, c0 : ndarray of shape (num_layers * num_directions, N, hidden_size), default=None
            Initial hidden (and, for LSTM, cell) states; zeros when None.
        input_grad : bool, default=False
            Also return the gradient with respect to ``X``.
        dropout_seed : int, default=None
            With ``dropout > 0``: seed of the masks (see :meth:`dropout_masks`);
            a random one when None.

        Returns
        -------
        loss : float
            Mean loss over the batch's items.
        out : dict
            ``grad`` (size,), ``dh0``, ``dc0``, ``hT``, ``cT`` (L*D, N, H) and,
            with ``input_grad``, ``dX`` (N, T, input_size).
        """
        dt, theta = theta.dtype, _writable(theta, theta.dtype)
        X, lengths, N = _writable(X, dt), _writable(lengths, np.int64), len(X)
        if input_grad and self.n_tokens:
            raise ValueError("input_grad needs numeric inputs: token ids have no gradient")
        seed = int(dropout_seed) if dropout_seed is not None else np.random.randint(0, 2**31 - 1) \
            if self.dropout > 0 else 0
        with announce(self, dt):
            loss, out = self.backend.loss_and_grad(
                self, theta, X, lengths, self.targets(Y, dt), self.layout.state(h0, N, dt, "h0"),
                self.layout.state(c0, N, dt, "c0"), bool(input_grad), seed)
        return float(loss), out

    def train_epoch(self, theta, optimizer, X, lengths, Y, order=None, batch_size=None,
                    bptt_steps=None, carry=False, seed=0, verbose=0, state=None):
        """Train one epoch: every batch and truncated-BPTT window, one update per window.

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
            Start each window from the previous window's final states (reverse
            directions start from zero at each window's end).
        seed : int, default=0
            Seeds the dropout masks: the same seed gives bit-identical results.
        verbose : int, default=0
            With ``verbose >= 1`` a first compilation shows a progress bar.
        state : tuple of ndarray, default=None
            ``(h, c)``, C-contiguous (num_layers * num_directions, N,
            hidden_size) arrays of ``theta``'s dtype: the first window of each
            batch starts from them and the last leaves its final states in
            them, in place (a stream continued across calls). Zeros when None.

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
        optimizer.ensure_state(theta.shape[0], theta.dtype)
        order = np.arange(N, dtype=np.int64) if order is None else np.ascontiguousarray(order, dtype=np.int64)
        batch_size = N if batch_size is None else int(min(batch_size, N))
        bptt = T if bptt_steps is None else int(bptt_steps)
        if state is not None and any(self.layout.state(s, N, theta.dtype, "state") is not s for s in state):
            raise ValueError("state must be C-contiguous arrays of theta's dtype (updated in place)")
        if self.loss_fn.level == "sequence" and bptt < T:
            raise ValueError(f"the sequence-level loss {self.loss_fn!r} needs whole sequences per window: "
                             f"bptt_steps={bptt_steps} is shorter than the sequences ({T} steps)")
        with announce(self, theta.dtype, verbose):
            total, count, window_losses, status = self.backend.train_epoch(
                self, theta, optimizer, _writable(X, theta.dtype), _writable(lengths, np.int64),
                _writable(Y, theta.dtype), order, batch_size, bptt, bool(carry), int(seed), state)
        mean = total / count if count else float("nan")
        return float(mean), window_losses, int(status)

    def predict(self, theta, X, lengths, h0=None, c0=None, chunk=256, hidden_states=False):
        """Raw head outputs and final states, running every sequence to its end (no dropout).

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameters.
        X : ndarray of shape (N, T, input_size)
            Padded sequences.
        lengths : ndarray of shape (N,)
            Valid steps per sequence.
        h0, c0 : ndarray of shape (num_layers * num_directions, N, hidden_size), default=None
            Initial states; zeros when None.
        chunk : int, default=256
            Rows per compiled call.
        hidden_states : bool, default=False
            Also return the top layer's per-step outputs.

        Returns
        -------
        dict
            ``out`` ((N, T, K) per-step, zero past each length; or (N, K)), ``hT``,
            ``cT`` (L*D, N, H) and, if asked, ``hseq`` (N, T, D*H): the top layer's
            per-step outputs (forward, reverse concatenated), zero past each length.
        """
        dt, theta = theta.dtype, _writable(theta, theta.dtype)
        X = _writable(X, dt)
        h0, c0 = (self.layout.state(s, X.shape[0], dt, name) for s, name in ((h0, "h0"), (c0, "c0")))
        with announce(self, dt):
            return self.backend.predict(self, theta, X, _writable(lengths, np.int64), h0, c0, int(chunk),
                                        bool(hidden_states))
