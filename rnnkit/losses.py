"""The head's losses: output activations, target encodings and the interface a new loss implements.

Three built-in losses, each paired with the output activation it is stable with:

==========================  ==========  ============================================
name                        activation  loss of one item (one sequence or one step)
==========================  ==========  ============================================
``"cross_entropy"``         softmax     ``-log softmax(z)[y]``, integer target ``y``
``"binary_cross_entropy"``  logistic    mean over outputs of ``-y log p - (1-y) log(1-p)``
``"squared_error"``         identity    ``0.5 * mean over outputs of (z - y) ** 2``
==========================  ==========  ============================================

The loss of a batch is the mean over its items: valid steps (``t < length``)
for per-step output, each sequence's last valid step for last-step output.
``squared_error`` follows scikit-learn's ``MLPRegressor`` (half the mean
squared error). The backends compute the built-in losses inside their
compiled loops (codes :data:`LOSSES`).

Any other loss is a :class:`Loss` whose :meth:`Loss.value_and_grad` the
engine calls on the head's outputs of each window, then runs the compiled
backward pass on the gradient it returns. Its ``level`` says what an item is:
``"step"`` (each valid step or each sequence's last step, as the built-ins)
or ``"sequence"``: one item per sequence over all its steps and its own
label sequence (as CTC), for which every window holds whole sequences.
:class:`CTCLoss` is such a loss, and :func:`ctc_loss` its per-sequence
function (from :mod:`rnnkit.ctc`).
"""

import numpy as np

from .ctc import ctc_loss

#: built-in loss name -> its code inside the kernels
LOSSES = {"cross_entropy": 0, "binary_cross_entropy": 1, "squared_error": 2}

#: output mode name -> code: one target per valid step, or per sequence
OUTPUT_MODES = {"sequence": 0, "last": 1}

__all__ = ["LOSSES", "OUTPUT_MODES", "CTCLoss", "Loss", "activate", "add_weights", "ctc_loss", "get_loss"]


class Loss:
    """The head's loss: subclass it to define a loss the engine computes outside its kernels.

    Attributes
    ----------
    name : str
        Name shown in messages (and ``Network.loss``).
    code : int
        Code of a built-in loss inside the kernels; ``-1`` (the default) for a
        loss computed by :meth:`value_and_grad`.
    level : {"step", "sequence"}
        ``"step"``: one item per valid step (per-step output) or per sequence's
        last step; ``"sequence"``: one item per sequence, computed from all its
        per-step outputs at once (needs ``output="sequence"`` and windows that
        hold whole sequences, i.e. no truncated BPTT).

    Examples
    --------
    A loss that pulls the sum of each sequence's per-step outputs towards a
    per-sequence target (one item per sequence):

    >>> import numpy as np
    >>> from rnnkit.losses import Loss
    >>> class SumLoss(Loss):
    ...     name, level = "sum", "sequence"
    ...     def value_and_grad(self, logits, targets, lengths):
    ...         mask = np.arange(logits.shape[1])[None, :] < lengths[:, None]
    ...         r = (logits * mask[..., None]).sum(axis=1) - targets[:, 0]
    ...         return 0.5 * float((r ** 2).sum()), len(lengths), r[:, None, :] * mask[..., None]
    >>> from rnnkit.network import Network
    >>> net = Network("gru", input_size=1, hidden_size=2, output_size=1, loss=SumLoss())
    >>> net.loss
    'sum'
    """

    name = "custom"
    code = -1
    level = "step"

    def encode(self, Y, output, dtype):
        """Targets as the float array ``(N, Ty, D)`` the engine hands back in :meth:`value_and_grad`.

        Parameters
        ----------
        Y : array-like
            ``(N, T[, D])`` per-step targets, or ``(N[, D])`` per sequence.
        output : {"sequence", "last"}
            The network's output mode.
        dtype : dtype
            Precision of the parameters.

        Returns
        -------
        ndarray of shape (N, Ty, D)
        """
        Y = np.asarray(Y, dtype=dtype)
        if Y.ndim == 1 or (Y.ndim == 2 and (output == "last" or self.level == "sequence")):
            Y = Y.reshape(Y.shape[0], 1, -1)
        return np.ascontiguousarray(Y)

    def activate(self, logits):
        """Output activation applied to raw head outputs for predictions (identity by default)."""
        return np.asarray(logits)

    def value_and_grad(self, logits, targets, lengths):
        """Sum of the items' losses of a window, their count, and the gradient of that sum.

        Parameters
        ----------
        logits : ndarray of shape (B, T, K) or (B, 1, K)
            Head outputs of the window's sequences, batch-major (per step, or
            per sequence for last-step output); rows past a sequence's length
            are meaningless and must get a zero gradient.
        targets : ndarray
            The rows' encoded targets (:meth:`encode`): the window's steps for
            ``level="step"`` per-step output, the whole row otherwise.
        lengths : ndarray of shape (B,)
            Valid steps of each sequence in the window.

        Returns
        -------
        total : float
            Sum of the item losses.
        count : int
            Number of items (the engine's loss is ``total / count``).
        dlogits : ndarray shaped as ``logits``
            Gradient of ``total`` with respect to ``logits``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement value_and_grad")

    def __repr__(self):
        return f"{type(self).__name__}()"


class _Builtin(Loss):
    """A built-in loss: computed by the backends' compiled kernels (``code >= 0``)."""

    def __init__(self, name):
        self.name, self.code = name, LOSSES[name]

    def encode(self, Y, output, dtype):
        Y = np.asarray(Y, dtype=dtype)
        if self.name == "cross_entropy":
            Y = Y[..., None]
        if output == "last":
            Y = Y[:, None, :]
        return np.ascontiguousarray(Y)

    def activate(self, logits):
        logits = np.asarray(logits)
        if self.name == "cross_entropy":
            z = logits - logits.max(axis=-1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=-1, keepdims=True)
        if self.name == "binary_cross_entropy":
            from scipy.special import expit

            return expit(logits)
        return logits

    def __repr__(self):
        return f"get_loss({self.name!r})"


_BUILTINS = {name: _Builtin(name) for name in LOSSES}


class CTCLoss(Loss):
    """Connectionist temporal classification as the head's loss (one item per sequence).

    The head emits, at each frame, logits over the blank (column 0) and the
    labels (column ``j + 1`` for label code ``j``). A sequence's item loss is
    its :func:`ctc_loss` divided by its label length (at least 1), so the
    engine's mean over the batch is PyTorch's ``CTCLoss(reduction="mean")``.

    Targets are label codes ``0 .. n_labels - 1`` padded to a common length,
    after the length and the sequence's weight: ``(N, 2 + S)`` numbers whose
    row ``n`` is ``[L_n, w_n, code_1, ..., code_L_n, padding...]``
    (:meth:`pack`). The loss is ``sum(w nll / L) / sum(w)``.
    """

    name, level = "ctc", "sequence"

    @staticmethod
    def pack(codes, weights=None):
        """Label-code sequences as the ``(N, 2 + S)`` target array (lengths, weights, then the codes).

        Parameters
        ----------
        codes : list of array-like of int
            Label codes of each sequence.
        weights : array-like of shape (N,), default=None
            Weight of each sequence; 1 when None.

        Returns
        -------
        ndarray of shape (N, 2 + S), float64
        """
        S = max((len(c) for c in codes), default=0)
        Y = np.zeros((len(codes), 2 + S))
        Y[:, 1] = 1.0 if weights is None else weights
        for n, c in enumerate(codes):
            Y[n, 0] = len(c)
            Y[n, 2:2 + len(c)] = c
        return Y

    def encode(self, Y, output, dtype):
        Y = np.asarray(Y, dtype=dtype)
        return np.ascontiguousarray(Y.reshape(Y.shape[0], 1, -1))

    def activate(self, logits):
        return _BUILTINS["cross_entropy"].activate(logits)

    def value_and_grad(self, logits, targets, lengths):
        tl = targets[:, 0, 0].astype(np.int64)
        w = targets[:, 0, 1].astype(np.float64)
        labels = targets[:, 0, 2:].astype(np.int64) + 1  # column 0 is the blank
        keep = w > 0  # a zero weight leaves the sequence out (its loss may even be inf)
        loss, grad = ctc_loss(logits, labels, lengths, tl, blank=0)
        scale = np.where(keep, w / np.maximum(tl, 1), 0.0)
        total = float((np.where(keep, loss, 0.0) * scale).sum())
        return total, float(w.sum()), grad * scale.astype(grad.dtype)[:, None, None]


def get_loss(loss):
    """The :class:`Loss` for a built-in name, or ``loss`` itself when it is a :class:`Loss`.

    Parameters
    ----------
    loss : str or Loss
        A key of :data:`LOSSES`, or a :class:`Loss` instance.

    Returns
    -------
    Loss
    """
    if isinstance(loss, Loss):
        if loss.level not in ("step", "sequence"):
            raise ValueError(f"{loss!r} has level={loss.level!r}; expected 'step' or 'sequence'")
        return loss
    if isinstance(loss, str) and loss in _BUILTINS:
        return _BUILTINS[loss]
    raise ValueError(f"loss={loss!r} is not one of {sorted(LOSSES)} nor a rnnkit.losses.Loss")


def add_weights(loss, Y, weights):
    """Encoded targets with each item's weight as one more column (the kernels' weighted mean).

    Parameters
    ----------
    loss : Loss
        The loss the targets were encoded for (a built-in: the kernels read
        the weight column after the target's own columns).
    Y : ndarray of shape (N, Ty, D)
        Targets from :meth:`Loss.encode`.
    weights : array-like of shape (N,) or (N, Ty), or None
        Per-sequence weights (every item of the sequence gets it) or per-item
        weights; None returns ``Y`` unchanged.

    Returns
    -------
    ndarray of shape (N, Ty, D + 1)
        The loss of a batch becomes ``sum(w * item loss) / sum(w)`` over its
        items; a zero weight removes an item.
    """
    if weights is None:
        return Y
    if loss.code < 0:
        raise ValueError(f"item weights need a built-in loss; {loss!r} computes its own (weigh inside it)")
    w = np.asarray(weights, dtype=Y.dtype)
    if w.ndim == 1:
        w = w[:, None]
    if w.shape[0] != Y.shape[0] or w.ndim != 2 or w.shape[1] not in (1, Y.shape[1]):
        raise ValueError(f"weights of shape {w.shape} do not match targets of {Y.shape[0]} sequences and "
                         f"{Y.shape[1]} steps")
    w = np.broadcast_to(w, Y.shape[:2])
    return np.ascontiguousarray(np.concatenate([Y, w[..., None]], axis=2))


def activate(loss, logits):
    """Apply the output activation paired with ``loss`` to raw head outputs.

    Parameters
    ----------
    loss : str or Loss
        Loss name (or object).
    logits : ndarray of shape (..., K)
        Raw outputs of the dense head.

    Returns
    -------
    ndarray of shape (..., K)
        Softmax probabilities, logistic probabilities or the logits unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.losses import activate
    >>> activate("cross_entropy", np.array([0.0, 0.0]))
    array([0.5, 0.5])
    """
    if isinstance(loss, str) and loss not in _BUILTINS:
        raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(LOSSES)}")
    return get_loss(loss).activate(logits)
