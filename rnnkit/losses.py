"""Output activations and losses of the dense head, with their gradients.

Three losses, each paired with the output activation it is stable with:

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
squared error).
"""

import numpy as np
from numba import njit

from ._config import JIT_OPTIONS

#: loss name -> integer code used by the kernels
LOSSES = {"cross_entropy": 0, "binary_cross_entropy": 1, "squared_error": 2}

#: output mode name -> code: one target per valid step, or per sequence
OUTPUT_MODES = {"sequence": 0, "last": 1}

__all__ = ["LOSSES", "OUTPUT_MODES", "item_loss", "head_loss", "activate"]


@njit(**JIT_OPTIONS)
def item_loss(loss, Z, Yt, dZ, t, b, weight):  # pragma: no cover - compiled
    """Loss of the item ``(t, b)``: logits ``Z[t, b]`` (K,), target row ``Yt[t, b]``.

    Writes ``weight * dloss/dz`` into ``dZ[t, b]`` and returns the (unweighted)
    loss. For cross-entropy ``Yt[t, b, 0]`` is the class index. Scalar
    indexing into the (T, B, K) arrays, no row views: for the tiny heads of
    streaming models the reference counting of a view costs more than the loss.
    """
    K = Z.shape[2]
    zero = Z.dtype.type(0)
    one = Z.dtype.type(1)
    half = Z.dtype.type(0.5)
    if loss == 0:
        m = Z[t, b, 0]
        for k in range(1, K):
            if Z[t, b, k] > m:
                m = Z[t, b, k]
        s = zero
        for k in range(K):
            e = np.exp(Z[t, b, k] - m)
            dZ[t, b, k] = e
            s += e
        c = int(Yt[t, b, 0])
        out = m + np.log(s) - Z[t, b, c]
        inv = weight / s
        for k in range(K):
            dZ[t, b, k] *= inv
        dZ[t, b, c] -= weight
        return out
    inv_k = one / K
    total = zero
    if loss == 1:
        for k in range(K):
            zk = Z[t, b, k]
            yk = Yt[t, b, k]
            az = zk if zk > zero else -zk
            total += (zk if zk > zero else zero) - zk * yk + np.log1p(np.exp(-az))
            if zk >= zero:
                p = one / (one + np.exp(-zk))
            else:
                e = np.exp(zk)
                p = e / (one + e)
            dZ[t, b, k] = weight * inv_k * (p - yk)
        return total * inv_k
    for k in range(K):
        r = Z[t, b, k] - Yt[t, b, k]
        total += r * r
        dZ[t, b, k] = weight * inv_k * r
    return half * total * inv_k


@njit(**JIT_OPTIONS)
def head_loss(loss, mode, logits, Y, lengths, t0, T, dlogits, norm):  # pragma: no cover - compiled
    """Loss summed over the items of a time-major window, and its gradient.

    Parameters (all time-major), for the window of ``T`` steps starting at
    global step ``t0``: ``logits`` (T, B, K) per-step output, or (1, B, K)
    last-step output (the head applied to each sequence's final features; an
    item only when the sequence ends inside the window); ``Y`` (Ty, B, D) the
    window's targets (``Ty == 1`` for last-step output); ``lengths`` (B,)
    global lengths. ``dlogits`` (shaped as ``logits``) receives the gradient
    of the *mean* item loss (zero elsewhere): the mean over ``norm`` items
    when ``norm > 0`` (a window whose batch is split in parts, each part
    weighted by the whole batch's count), else over this window's own items.
    Returns ``(sum of item losses, number of items)``.
    """
    R, B, K = logits.shape
    zero = logits.dtype.type(0)
    for t in range(R):
        for b in range(B):
            for k in range(K):
                dlogits[t, b, k] = zero
    count = 0
    for b in range(B):
        if mode == 0:
            hi = min(T, lengths[b] - t0)
            if hi > 0:
                count += hi
        else:
            p = lengths[b] - 1 - t0
            if 0 <= p < T:
                count += 1
    total = zero
    if count == 0:
        return total, 0
    w = logits.dtype.type(1) / (norm if norm > 0 else count)
    for b in range(B):
        if mode == 0:
            hi = min(T, lengths[b] - t0)
            for t in range(hi):
                total += item_loss(loss, logits, Y, dlogits, t, b, w)
        else:
            p = lengths[b] - 1 - t0
            if 0 <= p < T:
                total += item_loss(loss, logits, Y, dlogits, 0, b, w)
    return total, count


def activate(loss, logits):
    """Apply the output activation paired with ``loss`` to raw head outputs.

    Parameters
    ----------
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error"}
        Loss name.
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
    logits = np.asarray(logits)
    if loss == "cross_entropy":
        z = logits - logits.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)
    if loss == "binary_cross_entropy":
        from scipy.special import expit

        return expit(logits)
    if loss == "squared_error":
        return logits
    raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(LOSSES)}")
