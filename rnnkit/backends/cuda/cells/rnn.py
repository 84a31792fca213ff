"""CUDA device functions of the RNN cell (:mod:`rnnkit.cells.rnn`).

Conventions: :mod:`rnnkit.backends.cuda.cells`.
"""
from numba import cuda

from ..numeric import ln_backward, ln_forward, tanh
from ..workspace import G_CA, G_DH, G_DLN, G_DPI, G_HS, G_PRE, G_XP


@cuda.jit(device=True)
def forward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid, nt):
    """One step; with layer norm the pre-activation is normalised per row first."""
    if ln0 >= 0:
        for r in range(tid, Rb, nt):
            if t < lw[r0 + r]:
                p = o[G_PRE] + r * H
                x = o[G_XP] + (t * R + r) * H
                for j in range(H):
                    ws[p + j] += ws[x + j]
                c0 = o[G_CA] + ((q * T + t) * R + r) * C
                ws[c0 + H] = ln_forward(ws, p, ws, p, H, theta, ln0, ln0 + H, ws, c0)
        cuda.syncthreads()
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        hp = o[G_HS] + ((q * (T + 1) + t) * R + r) * H + j
        if t >= lw[r0 + r]:
            ws[hp + R * H] = ws[hp]
            continue
        v = ws[o[G_PRE] + r * H + j]
        if ln0 < 0:
            v = ws[o[G_XP] + (t * R + r) * H + j] + v
        if act == 0:
            ws[hp + R * H] = tanh(v)
        else:
            ws[hp + R * H] = v if v > 0 else 0.0
    cuda.syncthreads()


@cuda.jit(device=True)
def backward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW, tid, nt):
    """Pre-activation gradient of one step (through the layer norm when there is one)."""
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t >= lw[r0 + r]:
            continue
        dh = o[G_DH] + r * H + j
        d = ws[dh]
        h = ws[o[G_HS] + ((q * (T + 1) + t + 1) * R + r) * H + j]
        if act == 0:
            g = d * (1.0 - h * h)
        else:
            g = d if h > 0 else 0.0
        if ln0 >= 0:
            ws[o[G_DLN] + (t * R + r) * LNW + j] = g
        else:
            ws[o[G_DPI] + (t * R + r) * H + j] = g
        ws[dh] = 0.0
    cuda.syncthreads()
    if ln0 >= 0:
        for r in range(tid, Rb, nt):
            if t < lw[r0 + r]:
                c0 = o[G_CA] + ((q * T + t) * R + r) * C
                ln_backward(ws, o[G_DLN] + (t * R + r) * LNW, ws, o[G_DPI] + (t * R + r) * H, H, theta, ln0,
                            ws, c0, ws[c0 + H])
        cuda.syncthreads()
