"""The head's built-in losses on the device.

Formulas: :mod:`rnnkit.losses`, as the CPU's :mod:`rnnkit.backends.cpu.heads`.

Each item's weighted loss and the gradient of the weighted *sum* (the mean
comes at the reduction over blocks, :mod:`rnnkit.backends.cuda.optim`); one thread per item.
"""

import math

from numba import cuda

from ...slots import CFG_LOSS, CFG_MODE, CFG_OUTPUTS
from .workspace import G_DL, G_IT, G_LG


@cuda.jit(device=True)
def item_loss(loss, ws, z, dz, K, Y, row, ty, weight):
    """Loss of one item (logits ``ws[z:z+K]``, targets ``Y[row, ty]``); its gradient into ``ws[dz:]``."""
    if loss == 0:
        m = ws[z]
        for k in range(1, K):
            m = max(m, ws[z + k])
        s = 0.0
        for k in range(K):
            e = math.exp(ws[z + k] - m)
            ws[dz + k] = e
            s += e
        c = int(Y[row, ty, 0])
        out = m + math.log(s) - ws[z + c]
        for k in range(K):
            ws[dz + k] = ws[dz + k] * (weight / s)
        ws[dz + c] -= weight
        return out
    total = 0.0
    if loss == 1:
        for k in range(K):
            zk = ws[z + k]
            yk = Y[row, ty, k]
            total += max(zk, 0.0) - zk * yk + math.log1p(math.exp(-abs(zk)))
            if zk >= 0:
                p = 1.0 / (1.0 + math.exp(-zk))
            else:
                e = math.exp(zk)
                p = e / (1.0 + e)
            ws[dz + k] = weight / K * (p - yk)
        return total / K
    for k in range(K):
        d = ws[z + k] - Y[row, ty, k]
        total += d * d
        ws[dz + k] = weight / K * d
    return 0.5 * total / K


@cuda.jit(device=True)
def head_loss(cfg, ws, o, Y, lengths, idx, lw, r0, t0, T, R, Rb, bstat, blk, tid, nt):
    """The block's items: losses and gradients (``G_IT``, ``G_DL``); their sum and weight into ``bstat[blk]``.

    Items as :func:`rnnkit.backends.cpu.heads.count_items`; the weight is the
    targets' last column when they carry one.
    """
    loss, K, mode = cfg[CFG_LOSS], cfg[CFG_OUTPUTS], cfg[CFG_MODE]
    Dy = Y.shape[2]
    wc = Dy - 1 if Dy > (1 if loss == 0 else K) else -1
    Tl = T if mode == 0 else 1
    for w in range(tid, Tl * Rb, nt):
        r = w // Tl
        t = w - r * Tl
        b = r0 + r
        row = idx[b]
        z = o[G_LG] + (t * R + r) * K
        dz = o[G_DL] + (t * R + r) * K
        if mode == 0:
            item = t < lw[b]
        else:
            item = 0 <= lengths[row] - 1 - t0 < T
        if not item:
            for k in range(K):
                ws[dz + k] = 0.0
            ws[o[G_IT] + t * R + r] = 0.0
            continue
        ty = t0 + t if mode == 0 else 0
        s = Y[row, ty, wc] if wc >= 0 else 1.0
        ws[o[G_IT] + t * R + r] = s * item_loss(loss, ws, z, dz, K, Y, row, ty, s)
    cuda.syncthreads()
    if tid == 0:
        total = 0.0
        count = 0.0
        for r in range(Rb):
            b = r0 + r
            row = idx[b]
            for t in range(Tl):
                if mode == 0:
                    item = t < lw[b]
                else:
                    item = 0 <= lengths[row] - 1 - t0 < T
                if item:
                    total += ws[o[G_IT] + t * R + r]
                    count += Y[row, t0 + t if mode == 0 else 0, wc] if wc >= 0 else 1.0
        bstat[blk, 0] = total
        bstat[blk, 1] = count
