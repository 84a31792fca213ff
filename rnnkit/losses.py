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
def item_loss(loss, z, y, dz, weight):  # pragma: no cover - compiled
    """Loss of one item with logits ``z`` (K,) and target row ``y``.

    Writes ``weight * dloss/dz`` into ``dz`` and returns the (unweighted) loss.
    For cross-entropy ``y[0]`` is the class index.
    """
    K = z.shape[0]
    zero = z.dtype.type(0)
    one = z.dtype.type(1)
    half = z.dtype.type(0.5)
    if loss == 0:
        m = z[0]
        for k in range(1, K):
            if z[k] > m:
                m = z[k]
        s = zero
        for k in range(K):
            e = np.exp(z[k] - m)
            dz[k] = e
            s += e
        c = int(y[0])
        out = m + np.log(s) - z[c]
        inv = weight / s
        for k in range(K):
            dz[k] *= inv
        dz[c] -= weight
        return out
    inv_k = one / K
    total = zero
    if loss == 1:
        for k in range(K):
            zk = z[k]
            az = zk if zk > zero else -zk
            total += (zk if zk > zero else zero) - zk * y[k] + np.log1p(np.exp(-az))
            if zk >= zero:
                p = one / (one + np.exp(-zk))
            else:
                e = np.exp(zk)
                p = e / (one + e)
            dz[k] = weight * inv_k * (p - y[k])
        return total * inv_k
    for k in range(K):
        r = z[k] - y[k]
        total += r * r
        dz[k] = weight * inv_k * r
    return half * total * inv_k


@njit(**JIT_OPTIONS)
def head_loss(loss, mode, logits, Y, lengths, t0, T, dlogits):  # pragma: no cover - compiled
    """Loss summed over the items of a time-major window, and its gradient.

    Parameters (all time-major), for the window of ``T`` steps starting at
    global step ``t0``: ``logits`` (T, B, K) per-step output, or (1, B, K)
    last-step output (the head applied to each sequence's final features; an
    item only when the sequence ends inside the window); ``Y`` (Ty, B, D) the
    window's targets (``Ty == 1`` for last-step output); ``lengths`` (B,)
    global lengths. ``dlogits`` (shaped as ``logits``) receives the gradient
    of the *mean* item loss (zero elsewhere).
    Returns ``(sum of item losses, number of items)``.
    """
    B = logits.shape[1]
    dlogits[:] = 0
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
    total = logits.dtype.type(0)
    if count == 0:
        return total, 0
    w = logits.dtype.type(1) / count
    for b in range(B):
        if mode == 0:
            hi = min(T, lengths[b] - t0)
            for t in range(hi):
                total += item_loss(loss, logits[t, b], Y[t, b], dlogits[t, b], w)
        else:
            p = lengths[b] - 1 - t0
            if 0 <= p < T:
                total += item_loss(loss, logits[0, b], Y[0, b], dlogits[0, b], w)
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
