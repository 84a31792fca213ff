"""CUDA device functions of the LSTM cell (:mod:`rnnkit.cells.lstm`).

Conventions: :mod:`rnnkit.backends.cuda.cells`.

Cache per (step, row): gates i, f, g, o (4H), ``tanh(c)`` or ``tanh(LN_c(c))``
(H); with layer norm the normalised values of blocks i, f, g, o and of the
cell (5H) and their five ``1 / sigma``.
"""
from numba import cuda

from ..numeric import ln_backward, ln_forward, sigmoid, tanh
from ..workspace import G_CA, G_CS, G_DC, G_DCH, G_DH, G_DLN, G_DPI, G_HS, G_PRE, G_XP


@cuda.jit(device=True)
def forward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid, nt):
    """One step (``pp``/``ln0``: offsets of the peepholes / layer-norm blocks, -1 without)."""
    G = 4 * H
    if ln0 < 0:
        for w in range(tid, Rb * H, nt):
            r = w // H
            j = w - r * H
            sp = ((q * (T + 1) + t) * R + r) * H + j
            if t >= lw[r0 + r]:
                ws[o[G_HS] + sp + R * H] = ws[o[G_HS] + sp]
                ws[o[G_CS] + sp + R * H] = ws[o[G_CS] + sp]
                continue
            x = o[G_XP] + (t * R + r) * G + j
            p = o[G_PRE] + r * G + j
            cp = ws[o[G_CS] + sp]
            ai = ws[p] + ws[x]
            af = ws[p + H] + ws[x + H]
            if pp >= 0:
                ai += theta[pp + j] * cp
                af += theta[pp + H + j] * cp
            ig = sigmoid(ai)
            fg = sigmoid(af)
            gg = tanh(ws[p + 2 * H] + ws[x + 2 * H])
            c = fg * cp + ig * gg
            ao = ws[p + 3 * H] + ws[x + 3 * H]
            if pp >= 0:
                ao += theta[pp + 2 * H + j] * c
            og = sigmoid(ao)
            tc = tanh(c)
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            ws[ca] = ig
            ws[ca + H] = fg
            ws[ca + 2 * H] = gg
            ws[ca + 3 * H] = og
            ws[ca + 4 * H] = tc
            ws[o[G_CS] + sp + R * H] = c
            ws[o[G_HS] + sp + R * H] = og * tc
        cuda.syncthreads()
        return
    # layer norm: pre-activations, LN of i, f, g, the cell, LN of o and of c, the output
    for w in range(tid, Rb * G, nt):
        r = w // G
        g = w - r * G
        if t < lw[r0 + r]:
            p = o[G_PRE] + r * G + g
            v = ws[p] + ws[o[G_XP] + (t * R + r) * G + g]
            if pp >= 0 and g < 2 * H:
                v += theta[pp + g] * ws[o[G_CS] + ((q * (T + 1) + t) * R + r) * H + g % H]
            ws[p] = v
    cuda.syncthreads()
    for w in range(tid, Rb * 3, nt):
        r = w // 3
        b = w - r * 3
        if t < lw[r0 + r]:
            p = o[G_PRE] + r * G + b * H
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            ws[c0 + 10 * H + b] = ln_forward(ws, p, ws, p, H, theta, ln0 + b * H, ln0 + G + b * H, ws,
                                             c0 + 5 * H + b * H)
    cuda.syncthreads()
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t < lw[r0 + r]:
            p = o[G_PRE] + r * G + j
            sp = ((q * (T + 1) + t) * R + r) * H + j
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            ig = sigmoid(ws[p])
            fg = sigmoid(ws[p + H])
            gg = tanh(ws[p + 2 * H])
            ws[ca] = ig
            ws[ca + H] = fg
            ws[ca + 2 * H] = gg
            c = fg * ws[o[G_CS] + sp] + ig * gg
            ws[o[G_CS] + sp + R * H] = c
            if pp >= 0:
                ws[p + 3 * H] += theta[pp + 2 * H + j] * c
    cuda.syncthreads()
    for w in range(tid, Rb * 2, nt):
        r = w // 2
        b = w - r * 2
        if t < lw[r0 + r]:
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            if b == 0:
                p = o[G_PRE] + r * G + 3 * H
                ws[c0 + 10 * H + 3] = ln_forward(ws, p, ws, p, H, theta, ln0 + 3 * H, ln0 + 7 * H, ws,
                                                 c0 + 8 * H)
            else:
                cs = o[G_CS] + ((q * (T + 1) + t + 1) * R + r) * H
                ws[c0 + 10 * H + 4] = ln_forward(ws, cs, ws, c0 + 4 * H, H, theta, ln0 + 8 * H, ln0 + 9 * H,
                                                 ws, c0 + 9 * H)
    cuda.syncthreads()
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        sp = ((q * (T + 1) + t) * R + r) * H + j
        if t >= lw[r0 + r]:
            ws[o[G_HS] + sp + R * H] = ws[o[G_HS] + sp]
            ws[o[G_CS] + sp + R * H] = ws[o[G_CS] + sp]
            continue
        ca = o[G_CA] + ((q * T + t) * R + r) * C + j
        og = sigmoid(ws[o[G_PRE] + r * G + 3 * H + j])
        tc = tanh(ws[ca + 4 * H])
        ws[ca + 3 * H] = og
        ws[ca + 4 * H] = tc
        ws[o[G_HS] + sp + R * H] = og * tc
    cuda.syncthreads()


@cuda.jit(device=True)
def backward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW, tid, nt):
    """Gradients of one step's pre-activations; ``G_DC`` becomes the gradient of ``c_t``, ``G_DH`` zero."""
    G = 4 * H
    if ln0 < 0:
        for w in range(tid, Rb * H, nt):
            r = w // H
            j = w - r * H
            if t >= lw[r0 + r]:
                continue
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            ig = ws[ca]
            fg = ws[ca + H]
            gg = ws[ca + 2 * H]
            og = ws[ca + 3 * H]
            tc = ws[ca + 4 * H]
            cp = ws[o[G_CS] + ((q * (T + 1) + t) * R + r) * H + j]
            d = ws[o[G_DH] + r * H + j]
            dc = ws[o[G_DC] + r * H + j]
            ro = d * tc * og * (1.0 - og)
            dc += d * og * (1.0 - tc * tc)
            if pp >= 0:
                dc += ro * theta[pp + 2 * H + j]
            ri = dc * gg * ig * (1.0 - ig)
            rf = dc * cp * fg * (1.0 - fg)
            rg = dc * ig * (1.0 - gg * gg)
            dc = dc * fg
            if pp >= 0:
                dc += ri * theta[pp + j] + rf * theta[pp + H + j]
            dp = o[G_DPI] + (t * R + r) * G + j
            ws[dp] = ri
            ws[dp + H] = rf
            ws[dp + 2 * H] = rg
            ws[dp + 3 * H] = ro
            ws[o[G_DC] + r * H + j] = dc
            ws[o[G_DH] + r * H + j] = 0.0
        cuda.syncthreads()
        return
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t < lw[r0 + r]:
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            og = ws[ca + 3 * H]
            tc = ws[ca + 4 * H]
            d = ws[o[G_DH] + r * H + j]
            dl = o[G_DLN] + (t * R + r) * LNW + j
            ws[dl + 3 * H] = d * tc * og * (1.0 - og)
            ws[dl + 4 * H] = d * og * (1.0 - tc * tc)
            ws[o[G_DH] + r * H + j] = 0.0
    cuda.syncthreads()
    for w in range(tid, Rb * 2, nt):
        r = w // 2
        b = w - r * 2
        if t < lw[r0 + r]:
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            dl = o[G_DLN] + (t * R + r) * LNW
            if b == 0:
                ln_backward(ws, dl + 3 * H, ws, o[G_DPI] + (t * R + r) * G + 3 * H, H, theta, ln0 + 3 * H, ws,
                            c0 + 8 * H, ws[c0 + 10 * H + 3])
            else:
                ln_backward(ws, dl + 4 * H, ws, o[G_DCH] + r * H, H, theta, ln0 + 8 * H, ws, c0 + 9 * H,
                            ws[c0 + 10 * H + 4])
    cuda.syncthreads()
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t < lw[r0 + r]:
            ca = o[G_CA] + ((q * T + t) * R + r) * C + j
            ig = ws[ca]
            fg = ws[ca + H]
            gg = ws[ca + 2 * H]
            cp = ws[o[G_CS] + ((q * (T + 1) + t) * R + r) * H + j]
            dc = ws[o[G_DC] + r * H + j] + ws[o[G_DCH] + r * H + j]
            if pp >= 0:
                dc += ws[o[G_DPI] + (t * R + r) * G + 3 * H + j] * theta[pp + 2 * H + j]
            dl = o[G_DLN] + (t * R + r) * LNW + j
            ws[dl] = dc * gg * ig * (1.0 - ig)
            ws[dl + H] = dc * cp * fg * (1.0 - fg)
            ws[dl + 2 * H] = dc * ig * (1.0 - gg * gg)
            ws[o[G_DC] + r * H + j] = dc * fg
    cuda.syncthreads()
    for w in range(tid, Rb * 3, nt):
        r = w // 3
        b = w - r * 3
        if t < lw[r0 + r]:
            c0 = o[G_CA] + ((q * T + t) * R + r) * C
            ln_backward(ws, o[G_DLN] + (t * R + r) * LNW + b * H, ws, o[G_DPI] + (t * R + r) * G + b * H, H,
                        theta, ln0 + b * H, ws, c0 + 5 * H + b * H, ws[c0 + 10 * H + b])
    cuda.syncthreads()
    if pp >= 0:
        for w in range(tid, Rb * H, nt):
            r = w // H
            j = w - r * H
            if t < lw[r0 + r]:
                dp = o[G_DPI] + (t * R + r) * G + j
                ws[o[G_DC] + r * H + j] += ws[dp] * theta[pp + j] + ws[dp + H] * theta[pp + H + j]
        cuda.syncthreads()
