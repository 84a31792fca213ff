"""CUDA device functions of the GRU cell (:mod:`rnnkit.cells.gru`).

Conventions: :mod:`rnnkit.backends.cuda.cells`.

Cache per (step, row): r, z, n, ``W_hn h + b_hn`` (4H); with layer norm the
normalised values of blocks r, z, n (3H) and their three ``1 / sigma``.
``G_PRE`` holds ``W_hh h + b_hh`` (the cell keeps ``b_hh`` apart).
"""
from numba import cuda

from ..numeric import ln_backward, ln_forward, sigmoid, tanh
from ..workspace import G_CA, G_DH, G_DLN, G_DPH, G_DPI, G_HS, G_PRE, G_XP


@cuda.jit(device=True)
def forward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid, nt):
    """One step."""
    G = 3 * H
    if ln0 < 0:
        for w in range(tid, Rb * H, nt):
            r = w // H
            j = w - r * H
            hp = o[G_HS] + ((q * (T + 1) + t) * R + r) * H + j
            if t >= lw[r0 + r]:
                ws[hp + R * H] = ws[hp]
                continue
            x = o[G_XP] + (t * R + r) * G + j
            p = o[G_PRE] + r * G + j
            rg = sigmoid(ws[x] + ws[p])
            z = sigmoid(ws[x + H] + ws[p + H])
            hn = ws[p + 2 * H]
            n = tanh(ws[x + 2 * H] + rg * hn)
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            ws[ca] = rg
            ws[ca + H] = z
            ws[ca + 2 * H] = n
            ws[ca + 3 * H] = hn
            ws[hp + R * H] = (1.0 - z) * n + z * ws[hp]
        cuda.syncthreads()
        return
    for w in range(tid, Rb * 2 * H, nt):
        r = w // (2 * H)
        g = w - r * 2 * H
        if t < lw[r0 + r]:
            ws[o[G_CA] + ((q * T + t) * R + r) * C + g] = (ws[o[G_XP] + (t * R + r) * G + g]
                                                           + ws[o[G_PRE] + r * G + g])
    cuda.syncthreads()
    for w in range(tid, Rb * 2, nt):
        r = w // 2
        b = w - r * 2
        if t < lw[r0 + r]:
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            ws[c0 + 7 * H + b] = ln_forward(ws, c0 + b * H, ws, c0 + b * H, H, theta, ln0 + b * H,
                                            ln0 + G + b * H, ws, c0 + 4 * H + b * H)
    cuda.syncthreads()
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t < lw[r0 + r]:
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            rg = sigmoid(ws[ca])
            ws[ca] = rg
            ws[ca + H] = sigmoid(ws[ca + H])
            hn = ws[o[G_PRE] + r * G + 2 * H + j]
            ws[ca + 3 * H] = hn
            ws[ca + 2 * H] = ws[o[G_XP] + (t * R + r) * G + 2 * H + j] + rg * hn
    cuda.syncthreads()
    for r in range(tid, Rb, nt):
        if t < lw[r0 + r]:
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            ws[c0 + 7 * H + 2] = ln_forward(ws, c0 + 2 * H, ws, c0 + 2 * H, H, theta, ln0 + 2 * H,
                                            ln0 + 5 * H, ws, c0 + 6 * H)
    cuda.syncthreads()
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        hp = o[G_HS] + ((q * (T + 1) + t) * R + r) * H + j
        if t >= lw[r0 + r]:
            ws[hp + R * H] = ws[hp]
            continue
        ca = o[G_CA] + ((q * T + t) * R + r) * C + j
        n = tanh(ws[ca + 2 * H])
        ws[ca + 2 * H] = n
        z = ws[ca + H]
        ws[hp + R * H] = (1.0 - z) * n + z * ws[hp]
    cuda.syncthreads()


@cuda.jit(device=True)
def backward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW, tid, nt):
    """Gradients of one step's input and recurrent pre-activations; ``G_DH`` keeps ``dh * z``."""
    G = 3 * H
    if ln0 < 0:
        for w in range(tid, Rb * H, nt):
            r = w // H
            j = w - r * H
            if t >= lw[r0 + r]:
                continue
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            rg = ws[ca]
            z = ws[ca + H]
            n = ws[ca + 2 * H]
            hn = ws[ca + 3 * H]
            hp = ws[o[G_HS] + ((q * (T + 1) + t) * R + r) * H + j]
            dh = o[G_DH] + r * H + j
            d = ws[dh]
            dan = d * (1.0 - z) * (1.0 - n * n)
            dar = dan * hn * rg * (1.0 - rg)
            daz = d * (hp - n) * z * (1.0 - z)
            di = o[G_DPI] + (t * R + r) * G + j
            dq = o[G_DPH] + (t * R + r) * G + j
            ws[di] = dar
            ws[dq] = dar
            ws[di + H] = daz
            ws[dq + H] = daz
            ws[di + 2 * H] = dan
            ws[dq + 2 * H] = dan * rg
            ws[dh] = d * z
        cuda.syncthreads()
        return
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t < lw[r0 + r]:
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            z = ws[ca + H]
            n = ws[ca + 2 * H]
            hp = ws[o[G_HS] + ((q * (T + 1) + t) * R + r) * H + j]
            dh = o[G_DH] + r * H + j
            d = ws[dh]
            dl = o[G_DLN] + (t * R + r) * LNW + j
            ws[dl + 2 * H] = d * (1.0 - z) * (1.0 - n * n)
            ws[dl + H] = d * (hp - n) * z * (1.0 - z)
            ws[dh] = d * z
    cuda.syncthreads()
    for r in range(tid, Rb, nt):
        if t < lw[r0 + r]:
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            ln_backward(ws, o[G_DLN] + (t * R + r) * LNW + 2 * H, ws, o[G_DPI] + (t * R + r) * G + 2 * H, H,
                        theta, ln0 + 2 * H, ws, c0 + 6 * H, ws[c0 + 7 * H + 2])
    cuda.syncthreads()
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t < lw[r0 + r]:
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            rg = ws[ca]
            dan = ws[o[G_DPI] + (t * R + r) * G + 2 * H + j]
            ws[o[G_DPH] + (t * R + r) * G + 2 * H + j] = dan * rg
            ws[o[G_DLN] + (t * R + r) * LNW + j] = dan * ws[ca + 3 * H] * rg * (1.0 - rg)
    cuda.syncthreads()
    for w in range(tid, Rb * 2, nt):
        r = w // 2
        b = w - r * 2
        if t < lw[r0 + r]:
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            ln_backward(ws, o[G_DLN] + (t * R + r) * LNW + b * H, ws, o[G_DPI] + (t * R + r) * G + b * H, H,
                        theta, ln0 + b * H, ws, c0 + 4 * H + b * H, ws[c0 + 7 * H + b])
    cuda.syncthreads()
    for w in range(tid, Rb * 2 * H, nt):
        r = w // (2 * H)
        g = w - r * 2 * H
        if t < lw[r0 + r]:
            ws[o[G_DPH] + (t * R + r) * G + g] = ws[o[G_DPI] + (t * R + r) * G + g]
    cuda.syncthreads()
