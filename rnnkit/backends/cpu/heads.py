"""The head's built-in losses on the CPU: per-item losses and their gradients, summed over a window.

The losses and their formulas are documented in :mod:`rnnkit.losses` (codes
:data:`rnnkit.losses.LOSSES`). :func:`count_items` is the one home of which
(step, sequence) pairs of a window are items.
"""

import numpy as np
from numba import njit

from ..._config import INTERNAL
from .linalg import cview
from .numeric import exp, log1p_unit


@njit(**INTERNAL)
def weight_col(loss, K, Dy):
    """Column of the items' weights in targets with ``Dy`` columns, or -1 when they carry none.

    Targets hold the class index (cross-entropy) or ``K`` values per item;
    one column more is the item's weight (:meth:`rnnkit.network.Network.targets`).
    """
    return Dy - 1 if Dy > (1 if loss == 0 else K) else -1


@njit(**INTERNAL)
def count_items(mode, lengths, t0, T, Y, wc):
    """Total weight of the items of the window of ``T`` steps from global step ``t0``.

    Per-step output (``mode == 0``): every valid step in the window; last-step
    output: each sequence whose last valid step falls in the window. Each item
    counts 1, or its weight ``Y[t, b, wc]`` (``Y`` the window's time-major
    targets) when ``wc >= 0``.
    """
    count = 0.0
    if mode == 0 and wc < 0:  # each valid step counts 1: the number of steps, not a sum of ones
        n = 0
        for b in range(lengths.shape[0]):
            n += max(min(T, lengths[b] - t0), 0)
        return float(n)
    for b in range(lengths.shape[0]):
        if mode == 0:
            for t in range(max(min(T, lengths[b] - t0), 0)):
                count += Y[t, b, wc]
        elif 0 <= lengths[b] - 1 - t0 < T:
            count += Y[0, b, wc] if wc >= 0 else 1.0
    return count


@njit(**INTERNAL)
def item_loss(loss, Z, Yt, dZ, t, b, weight):
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
            e = exp(Z[t, b, k] - m)
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
            total += (zk if zk > zero else zero) - zk * yk + np.log1p(exp(-az))
            if zk >= zero:
                p = one / (one + exp(-zk))
            else:
                e = exp(zk)
                p = e / (one + e)
            dZ[t, b, k] = weight * inv_k * (p - yk)
        return total * inv_k
    for k in range(K):
        r = Z[t, b, k] - Yt[t, b, k]
        total += r * r
        dZ[t, b, k] = weight * inv_k * r
    return half * total * inv_k


@njit(**INTERNAL)
def two_class_steps(Z, Y, lengths, t0, wc, inv, dZ):
    """:func:`item_loss`'s cross-entropy for two classes and per-step output, over a whole window.

    The same loss and gradient as the softmax of :func:`item_loss`, written
    with the logits' difference ``d = z1 - z0``: the loss is
    ``softplus(+-d) = max(+-d, 0) + log1p(exp(-|d|))`` and
    ``dloss/dz1 = -dloss/dz0 = sigmoid(d) - y``. No branch in the loop over
    the batch (steps past a length are selected away, whatever their logits
    or targets hold), no library call in float32, and flat arrays indexed
    with unsigned offsets, so it vectorises (4x faster than with 3-D
    indexing, measured on the T5 window): the streaming tutorials (echo, T5)
    have two classes at every step. Returns the weighted loss sum; ``dZ``
    receives ``inv * weight * gradient``.

    The kernels keep IEEE arithmetic (:data:`rnnkit._config.FASTMATH`), so a
    running sum in the loop would keep it from vectorising: a first loop marks
    the items inside their sequences in ``dZ``'s class-0 slots, one flat loop
    over every item (not one per step: the echo's batch has 5 rows) leaves
    each item's weighted loss there, and a last loop adds them up in four
    running sums (a fixed order) while it writes the class-0 gradients. One
    call, float32, one core: the T5 window (5 steps x 100 rows) 3.1 us with
    the fast-math flags, 9.9 without, 3.4-3.9 this way; the echo window (15 x
    5) 1.8-2.8, 2.3-2.5 and 1.4 us.
    """
    R, B, Dy = Z.shape[0], Z.shape[1], Y.shape[2]
    n = R * B
    Zf, dZf, Yf = cview(Z, (2 * n,)), cview(dZ, (2 * n,)), cview(Y, (Dy * n,))
    dt = Z.dtype.type
    zero, one = dt(0), dt(1)
    two, ud, uw = np.uint64(2), np.uint64(Dy), np.uint64(max(wc, 0))
    for t in range(R):  # which items are inside their sequences, in dZ's class-0 slot for now
        for b in range(B):
            dZf[two * np.uint64(t * B + b)] = one if t < lengths[b] - t0 else zero
    for j in range(n):  # one flat loop: it vectorises whatever the batch's size (the echo's is 5)
        i = np.uint64(j)
        valid = dZf[two * i] > zero
        w = Yf[i * ud + uw] if wc >= 0 else one
        d = Zf[two * i + np.uint64(1)] - Zf[two * i]
        a = d if d > zero else -d
        e = exp(-a)
        q = one / (one + e)
        p1 = q if d >= zero else e * q
        y = Yf[i * ud]
        s = -d if y > dt(0.5) else d
        item = (s if s > zero else zero) + log1p_unit(e)
        g = w * inv * (p1 - y)
        dZf[two * i + np.uint64(1)] = g if valid else zero
        dZf[two * i] = w * item if valid else zero
    s0, s1, s2, s3 = zero, zero, zero, zero
    n4 = n - n % 4
    for j in range(0, n4, 4):
        k = two * np.uint64(j)
        s0 += dZf[k]
        s1 += dZf[k + two]
        s2 += dZf[k + np.uint64(4)]
        s3 += dZf[k + np.uint64(6)]
        dZf[k] = -dZf[k + np.uint64(1)]
        dZf[k + two] = -dZf[k + np.uint64(3)]
        dZf[k + np.uint64(4)] = -dZf[k + np.uint64(5)]
        dZf[k + np.uint64(6)] = -dZf[k + np.uint64(7)]
    for j in range(n4, n):
        k = two * np.uint64(j)
        s0 += dZf[k]
        dZf[k] = -dZf[k + np.uint64(1)]
    return (s0 + s1) + (s2 + s3)


@njit(**INTERNAL)
def head_loss(loss, mode, logits, Y, lengths, t0, T, dlogits):
    """Weighted loss summed over the items of a time-major window, and its gradient.

    Parameters (all time-major), for the window of ``T`` steps starting at
    global step ``t0``: ``logits`` (T, B, K) per-step output, or (1, B, K)
    last-step output (the head applied to each sequence's final features; an
    item only when the sequence ends inside the window); ``Y`` (Ty, B, Dy) the
    window's targets (``Ty == 1`` for last-step output), with each item's
    weight in a last column when it has one (:func:`weight_col`); ``lengths``
    (B,) global lengths. ``dlogits`` (shaped as ``logits``) receives the
    gradient of the weighted *mean* item loss ``sum(w l) / sum(w)`` (zero
    elsewhere). Returns ``(sum of w * item loss, sum of w)``.
    """
    R, B, K = logits.shape
    zero = logits.dtype.type(0)
    wc = weight_col(loss, K, Y.shape[2])
    count = count_items(mode, lengths, t0, T, Y, wc)
    total = zero
    if count > 0 and loss == 0 and K == 2 and mode == 0:  # writes every element of dlogits
        return two_class_steps(logits, Y, lengths, t0, wc, logits.dtype.type(1) / count, dlogits), count
    # one flat loop (one memset): zeroing the (T, B, K) array row by row called memset for every row
    # (1000 calls of 8 bytes per T5 window, ~3 us)
    dflat = cview(dlogits, (R * B * K,))
    for i in range(R * B * K):
        dflat[i] = zero
    if not count > 0:
        return total, 0.0
    inv = logits.dtype.type(1) / count
    for b in range(B):
        if mode == 0:
            hi = min(T, lengths[b] - t0)
            for t in range(hi):
                s = Y[t, b, wc] if wc >= 0 else logits.dtype.type(1)
                total += s * item_loss(loss, logits, Y, dlogits, t, b, inv * s)
        else:
            p = lengths[b] - 1 - t0
            if 0 <= p < T:
                s = Y[0, b, wc] if wc >= 0 else logits.dtype.type(1)
                total += s * item_loss(loss, logits, Y, dlogits, np.int64(0), b, inv * s)
    return total, count
