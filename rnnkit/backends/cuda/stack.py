"""The stack on the device: layers x directions over one cell, the head, for one thread block's rows.

Device functions called by the window kernel (:mod:`rnnkit.backends.cuda.loops`); the block's
threads share each phase's work and meet at ``cuda.syncthreads()`` after it.
Semantics are the CPU stack's (:mod:`rnnkit.backends.cpu.stack`): the reverse
direction reads each sequence reversed within its own length; inverted
dropout multiplies the outputs of every layer below the top and the head's
input, with masks from :func:`rnnkit.backends.cuda.numeric.keep_scale_d` (seed and position
only). Layer outputs are stored after dropout (``G_YS``), which is all the
backward pass needs.
"""

from numba import cuda

from ...slots import (
    CFG_CACHE,
    CFG_DIRS,
    CFG_GATES,
    CFG_HAS_C,
    CFG_HIDDEN,
    CFG_INPUT,
    CFG_LAYERS,
    CFG_MODE,
    CFG_OUTPUTS,
    CFG_SPLIT_HH,
    HEAD_B,
    HEAD_END,
    HEAD_W,
    OFF_B_HH,
    OFF_B_IH,
    OFF_END,
    OFF_LN,
    OFF_PEEP,
    OFF_W_HH,
    OFF_W_IH,
)
from .numeric import HEAD_STEP, keep_scale_d
from .workspace import (
    G_CA,
    G_CS,
    G_DC,
    G_DH,
    G_DHL,
    G_DL,
    G_DLN,
    G_DPH,
    G_DPI,
    G_DXW,
    G_DY,
    G_HL,
    G_HS,
    G_LG,
    G_PRE,
    G_WT,
    G_XP,
    G_XW,
    G_YS,
    split3,
)


@cuda.jit(device=True, inline=True)
def layer_offsets(off, q):
    """Starts of (layer, direction) ``q``'s blocks: ``(W_ih, W_hh, b_ih, b_hh, peep or -1, ln or -1)``."""
    pp = off[q, OFF_PEEP] if off[q, OFF_LN] > off[q, OFF_PEEP] else -1
    ln0 = off[q, OFF_LN] if off[q, OFF_END] > off[q, OFF_LN] else -1
    return off[q, OFF_W_IH], off[q, OFF_W_HH], off[q, OFF_B_IH], off[q, OFF_B_HH], pp, ln0


@cuda.jit(device=True)
def project(theta, off, cfg, ws, o, lw, r0, k, d, T, R, Rb, tid, nt):
    """Input projection of every step of (``k``, ``d``) into ``G_XP``, biases folded as on the CPU."""
    H, D, I = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_INPUT]
    GH = cfg[CFG_GATES] * H
    DH = D * H
    Ik = I if k == 0 else DH
    wih, whh, bih, bhh, pp, ln0 = layer_offsets(off, k * D + d)
    nb = bhh - bih
    split = cfg[CFG_SPLIT_HH] != 0
    wt = o[G_WT]  # W_hh transposed (H, G*H), then W_ih transposed (Ik, G*H)
    for w in range(tid, GH * (H + Ik), nt):
        if w < GH * H:
            g = w // H
            ws[wt + (w - g * H) * GH + g] = theta[whh + w]
        else:
            g = (w - GH * H) // Ik
            ws[wt + GH * H + (w - GH * H - g * Ik) * GH + g] = theta[wih + w - GH * H]
    cuda.syncthreads()
    wti = wt + GH * H
    for w in range(tid, T * Rb * GH, nt):
        t, r, g = split3(w, Rb, GH)
        L = lw[r0 + r]
        if t >= L:
            continue
        s = t if d == 0 else L - 1 - t
        acc = 0.0
        src = o[G_XW] + (s * R + r) * I if k == 0 else o[G_YS] + (((k - 1) * T + s) * R + r) * DH
        for i in range(Ik):
            acc += ws[wti + i * GH + g] * ws[src + i]
        if nb > 0:
            acc += theta[bih + g] if split else theta[bih + g] + theta[bhh + g]
        ws[o[G_XP] + (t * R + r) * GH + g] = acc
    cuda.syncthreads()


@cuda.jit(device=True)
def recurrent_product(theta, off, cfg, ws, o, lw, r0, q, t, T, R, Rb, tid, nt):
    """``G_PRE`` = ``W_hh h_t`` (plus ``b_hh`` for split cells) for the rows still running at ``t``."""
    H = cfg[CFG_HIDDEN]
    GH = cfg[CFG_GATES] * H
    wih, whh, bih, bhh, pp, ln0 = layer_offsets(off, q)
    add_b = cfg[CFG_SPLIT_HH] != 0 and bhh > bih
    hs = o[G_HS] + (q * (T + 1) + t) * R * H
    pre = o[G_PRE]
    wt = o[G_WT]  # W_hh transposed (H, G*H): a warp's threads read side by side
    for w in range(tid, Rb * GH, nt):
        r = w // GH
        g = w - r * GH
        if t >= lw[r0 + r]:
            continue
        h0 = hs + r * H
        acc = 0.0
        for j in range(H):
            acc += ws[wt + j * GH + g] * ws[h0 + j]
        if add_b:
            acc += theta[bhh + g]
        ws[pre + r * GH + g] = acc
    cuda.syncthreads()


@cuda.jit(device=True)
def layer_outputs(cfg, ws, o, lw, r0, idx, k, d, T, R, Rb, pdrop, seed, t0, tid, nt):
    """(``k``, ``d``)'s states into ``G_YS`` in time order; after the last direction, the layer's dropout."""
    H, D, Ly = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_LAYERS]
    DH = D * H
    q = k * D + d
    for w in range(tid, T * Rb * H, nt):
        t, r, j = split3(w, Rb, H)
        L = lw[r0 + r]
        if d == 0:
            v = ws[o[G_HS] + ((q * (T + 1) + t + 1) * R + r) * H + j]
        elif t < L:
            v = ws[o[G_HS] + ((q * (T + 1) + L - t) * R + r) * H + j]
        else:
            v = 0.0
        ws[o[G_YS] + ((k * T + t) * R + r) * DH + d * H + j] = v
    cuda.syncthreads()
    if d == D - 1 and pdrop > 0 and (k < Ly - 1 or cfg[CFG_MODE] == 0):
        for w in range(tid, T * Rb * DH, nt):
            t, r, m = split3(w, Rb, DH)
            keep = keep_scale_d(seed, k, t0 + t, idx[r0 + r], m, pdrop)
            ws[o[G_YS] + ((k * T + t) * R + r) * DH + m] *= keep
        cuda.syncthreads()


@cuda.jit(device=True, inline=True)
def feature_base(cfg, o, t, r, T, R):
    """Start of the head's input at (``t``, ``r``): the top layer's outputs, or the final features."""
    Ly, DH = cfg[CFG_LAYERS], cfg[CFG_DIRS] * cfg[CFG_HIDDEN]
    if cfg[CFG_MODE] == 0:
        return o[G_YS] + (((Ly - 1) * T + t) * R + r) * DH
    return o[G_HL] + r * DH


@cuda.jit(device=True)
def head_forward(theta, off, cfg, ws, o, r0, idx, T, R, Rb, pdrop, seed, tid, nt):
    """The head's outputs into ``G_LG`` (last-step output: final features gathered in ``G_HL`` first)."""
    H, D, Ly, K = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_LAYERS], cfg[CFG_OUTPUTS]
    DH = D * H
    mode = cfg[CFG_MODE]
    if mode == 1:
        for w in range(tid, Rb * DH, nt):
            r = w // DH
            m = w - r * DH
            d = m // H
            v = ws[o[G_HS] + ((((Ly - 1) * D + d) * (T + 1) + T) * R + r) * H + m - d * H]
            if pdrop > 0:
                v *= keep_scale_d(seed, Ly - 1, HEAD_STEP, idx[r0 + r], m, pdrop)
            ws[o[G_HL] + r * DH + m] = v
        cuda.syncthreads()
    hb = off[off.shape[0] - 1]
    wo, bo = hb[HEAD_W], hb[HEAD_B]
    has_b = hb[HEAD_END] > bo
    Tl = T if mode == 0 else 1
    for w in range(tid, Tl * Rb * K, nt):
        t, r, kk = split3(w, Rb, K)
        f = feature_base(cfg, o, t, r, T, R)
        acc = 0.0
        for m in range(DH):
            acc += theta[wo + kk * DH + m] * ws[f + m]
        if has_b:
            acc += theta[bo + kk]
        ws[o[G_LG] + (t * R + r) * K + kk] = acc
    cuda.syncthreads()


@cuda.jit(device=True)
def head_backward(theta, off, cfg, ws, o, r0, idx, T, R, Rb, pdrop, seed, t0, gp, tid, nt):
    """From ``G_DL``: the head's gradients into ``gp``, the top layer's output gradient."""
    H, D, Ly, K = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_LAYERS], cfg[CFG_OUTPUTS]
    DH = D * H
    mode = cfg[CFG_MODE]
    Tl = T if mode == 0 else 1
    hb = off[off.shape[0] - 1]
    wo, bo = hb[HEAD_W], hb[HEAD_B]
    nbo = hb[HEAD_END] - bo
    for w in range(tid, K * DH + nbo, nt):
        acc = 0.0
        if w < K * DH:
            kk = w // DH
            m = w - kk * DH
            for t in range(Tl):
                for r in range(Rb):
                    acc += ws[o[G_DL] + (t * R + r) * K + kk] * ws[feature_base(cfg, o, t, r, T, R) + m]
            gp[wo + w] = acc
        else:
            kk = w - K * DH
            for t in range(Tl):
                for r in range(Rb):
                    acc += ws[o[G_DL] + (t * R + r) * K + kk]
            gp[bo + kk] = acc
    for w in range(tid, Tl * Rb * DH, nt):
        t, r, m = split3(w, Rb, DH)
        acc = 0.0
        for kk in range(K):
            acc += ws[o[G_DL] + (t * R + r) * K + kk] * theta[wo + kk * DH + m]
        if pdrop > 0:
            acc *= keep_scale_d(seed, Ly - 1, t0 + t if mode == 0 else HEAD_STEP, idx[r0 + r], m, pdrop)
        if mode == 0:
            ws[o[G_DY] + (t * R + r) * DH + m] = acc
        else:
            ws[o[G_DHL] + r * DH + m] = acc
    if mode == 1:
        for w in range(tid, T * Rb * DH, nt):
            t = w // (Rb * DH)
            rem = w - t * Rb * DH
            ws[o[G_DY] + t * R * DH + rem] = 0.0
    cuda.syncthreads()


@cuda.jit(device=True)
def start_backward(cfg, ws, o, k, d, Rb, tid, nt):
    """``G_DH`` from the final-state gradient (last-step output, top layer) or zero; ``G_DC`` zero."""
    H, D, Ly = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_LAYERS]
    last = cfg[CFG_MODE] == 1 and k == Ly - 1
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        ws[o[G_DH] + w] = ws[o[G_DHL] + r * D * H + d * H + j] if last else 0.0
        ws[o[G_DC] + w] = 0.0
    cuda.syncthreads()


@cuda.jit(device=True)
def add_output_grad(cfg, ws, o, lw, r0, d, cur, t, T, R, Rb, tid, nt):
    """``G_DH += `` the gradient of (``d``)'s output at step ``t`` (direction time), from ``G_DY[cur]``."""
    H, D = cfg[CFG_HIDDEN], cfg[CFG_DIRS]
    DH = D * H
    base = o[G_DY] + cur * T * R * DH
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if d == 0:
            ws[o[G_DH] + w] += ws[base + (t * R + r) * DH + j]
        else:
            L = lw[r0 + r]
            if t < L:
                ws[o[G_DH] + w] += ws[base + ((L - 1 - t) * R + r) * DH + H + j]
    cuda.syncthreads()


@cuda.jit(device=True)
def recurrent_grad(theta, off, cfg, ws, o, lw, r0, q, t, T, R, Rb, tid, nt):
    """``G_DH += W_hh^T dpre_hh`` for the rows still running at ``t``."""
    H = cfg[CFG_HIDDEN]
    GH = cfg[CFG_GATES] * H
    wih, whh, bih, bhh, pp, ln0 = layer_offsets(off, q)
    dp = o[G_DPH] if cfg[CFG_SPLIT_HH] != 0 else o[G_DPI]
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        if t >= lw[r0 + r]:
            continue
        base = dp + (t * R + r) * GH
        acc = 0.0
        for g in range(GH):
            acc += ws[base + g] * theta[whh + g * H + j]
        ws[o[G_DH] + w] += acc
    cuda.syncthreads()


@cuda.jit(device=True)
def param_grads(off, cfg, ws, o, lw, r0, k, d, T, R, Rb, LNW, gp, tid, nt):
    """(``k``, ``d``)'s parameter gradients into ``gp`` (this block's rows), each thread owning elements."""
    H, D, I, C = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_INPUT], cfg[CFG_CACHE]
    GH = cfg[CFG_GATES] * H
    DH = D * H
    Ik = I if k == 0 else DH
    q = k * D + d
    wih, whh, bih, bhh, pp, ln0 = layer_offsets(off, q)
    nb = bhh - bih
    dph = o[G_DPH] if cfg[CFG_SPLIT_HH] != 0 else o[G_DPI]
    n1 = GH * Ik
    n2 = GH * H
    for w in range(tid, n1 + n2 + 2 * nb, nt):
        acc = 0.0
        if w < n1:
            g = w // Ik
            i = w - g * Ik
            src = o[G_XW] + i if k == 0 else o[G_YS] + (k - 1) * T * R * DH + i
            for r in range(Rb):
                L = lw[r0 + r]
                a = o[G_DPI] + r * GH + g
                for t in range(L):
                    s = t if d == 0 else L - 1 - t
                    acc += ws[a + t * R * GH] * ws[src + (s * R + r) * Ik]
            gp[wih + w] = acc
        elif w < n1 + n2:
            g = (w - n1) // H
            j = w - n1 - g * H
            for r in range(Rb):
                a = dph + r * GH + g
                b = o[G_HS] + (q * (T + 1) * R + r) * H + j
                for t in range(lw[r0 + r]):
                    acc += ws[a + t * R * GH] * ws[b + t * R * H]
            gp[whh + w - n1] = acc
        else:
            g = (w - n1 - n2) % GH
            src = o[G_DPI] if w < n1 + n2 + nb else dph
            for r in range(Rb):
                for t in range(lw[r0 + r]):
                    acc += ws[src + (t * R + r) * GH + g]
            gp[(bih if w < n1 + n2 + nb else bhh) + g] = acc
    if pp >= 0:
        for w in range(tid, 3 * H, nt):
            b = w // H
            j = w - b * H
            col = 3 * H + j if b == 2 else w
            acc = 0.0
            for r in range(Rb):
                for t in range(lw[r0 + r]):
                    c = ws[o[G_CS] + ((q * (T + 1) + t + (1 if b == 2 else 0)) * R + r) * H + j]
                    acc += ws[o[G_DPI] + (t * R + r) * GH + col] * c
            gp[pp + w] = acc
    if ln0 >= 0:
        xb = C - LNW - LNW // H
        for w in range(tid, 2 * LNW, nt):
            e = w % LNW
            gain = w < LNW
            acc = 0.0
            for r in range(Rb):
                for t in range(lw[r0 + r]):
                    g = ws[o[G_DLN] + (t * R + r) * LNW + e]
                    if gain:
                        g *= ws[o[G_CA] + ((q * T + t) * R + r) * C + xb + e]
                    acc += g
            if e < GH:
                gp[ln0 + e + (0 if gain else GH)] = acc
            else:
                gp[ln0 + 2 * GH + e - GH + (0 if gain else H)] = acc


@cuda.jit(device=True)
def input_grads(theta, off, cfg, ws, o, lw, r0, idx, k, d, cur, T, R, Rb, pdrop, seed, t0, tid, nt):
    """Gradient of (``k``, ``d``)'s input (``G_DY[1 - cur]`` below the top, ``G_DXW`` for layer 0).

    The forward direction writes it, the reverse adds to it; after the last
    direction the dropout of the layer below is applied.
    """
    H, D, I, _Ly = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_INPUT], cfg[CFG_LAYERS]
    GH = cfg[CFG_GATES] * H
    DH = D * H
    Ik = I if k == 0 else DH
    wih, whh, bih, bhh, pp, ln0 = layer_offsets(off, k * D + d)
    tgt = o[G_DXW] if k == 0 else o[G_DY] + (1 - cur) * T * R * DH
    for w in range(tid, T * Rb * Ik, nt):
        t, r, i = split3(w, Rb, Ik)
        L = lw[r0 + r]
        if t >= L:
            if d == 0:
                ws[tgt + (t * R + r) * Ik + i] = 0.0
            continue
        s = t if d == 0 else L - 1 - t
        acc = 0.0
        base = o[G_DPI] + (s * R + r) * GH
        for g in range(GH):
            acc += ws[base + g] * theta[wih + g * Ik + i]
        if d > 0:
            acc += ws[tgt + (t * R + r) * Ik + i]
        if d == D - 1 and k > 0 and pdrop > 0:
            acc *= keep_scale_d(seed, k - 1, t0 + t, idx[r0 + r], i, pdrop)
        ws[tgt + (t * R + r) * Ik + i] = acc
    cuda.syncthreads()


@cuda.jit(device=True)
def final_state_grads(cfg, ws, o, r0, q, Rb, dh0, dc0, tid, nt):
    """The gradients of (``q``)'s initial states into ``dh0``/``dc0`` (L*D, B, H) (nothing when empty)."""
    H = cfg[CFG_HIDDEN]
    if dh0.shape[0] == 0:
        return
    for w in range(tid, Rb * H, nt):
        r = w // H
        j = w - r * H
        dh0[q, r0 + r, j] = ws[o[G_DH] + w]
        if cfg[CFG_HAS_C] != 0:
            dc0[q, r0 + r, j] = ws[o[G_DC] + w]

