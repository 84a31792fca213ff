"""The stack: layers x directions over one cell's kernels, for one time-major window.

One generic loop runs every (layer, direction) pair with the same cell
kernels: layer ``k + 1`` reads layer ``k``'s per-step outputs (forward and
reverse concatenated); the reverse direction runs the forward kernel on each
sequence reversed within its own length and its outputs are put back in time
order. Dropout (inverted: kept values are scaled by ``1 / (1 - p)``)
multiplies the outputs of every layer below the top and the features fed to
the head, never the recurrent path. The cell's kernels, and
:func:`param_grads`, are called through their addresses (``calls``, see
:mod:`rnnkit.backends.cpu.calls`): this code is compiled once per precision
for every cell, and holds no copy of theirs. A long window of many rows
runs in chunks of steps (:func:`window_chunk`): forward projects each
chunk's inputs just before the cell's steps that read them, backward turns
each chunk's pre-activation gradients into the weights' gradients at once, so
that neither goes to memory and back.
"""

import numpy as np
from numba import njit

from ..._config import INTERNAL, JIT_OPTIONS, PROJECTION_CHUNK
from ...slots import (
    CALL_CELL_BACKWARD,
    CALL_CELL_FORWARD,
    CALL_PARAM_GRADS,
    CFG_ACT,
    CFG_CACHE,
    CFG_DIRS,
    CFG_GATES,
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
    WS_CACHE,
    WS_DHL,
    WS_DHS,
    WS_DLAST,
    WS_DLOGITS,
    WS_DPH,
    WS_DXR,
    WS_DY,
    WS_DZERO,
    WS_HL,
    WS_HS,
    WS_LOGITS,
    WS_MASK,
    WS_TMP,
    WS_XD,
    WS_XP,
    WS_XR,
    WS_YS,
)
from .calls import call_native, call_void
from .gemm import mm_packed, mm_tn_small, mm_tn_w, pack_for
from .linalg import all_zero, colsum, cview, mm_nn, mm_nt
from .workspace import cs_of, head_in, hs_of, layer_in, layer_out, mask_of, region, steps, tmp_slots, v2, v3


@njit(**INTERNAL)
def layer_params(theta, off, cfg, idx):
    """Views ``(W_ih, W_hh, b_ih, b_hh, peep, lnp)`` of (layer, direction) ``idx = k * D + d``."""
    GH = cfg[CFG_GATES] * cfg[CFG_HIDDEN]
    o = off[idx]
    Ik = (o[OFF_W_HH] - o[OFF_W_IH]) // GH
    return (cview(theta[o[OFF_W_IH]:o[OFF_W_HH]], (GH, Ik)),
            cview(theta[o[OFF_W_HH]:o[OFF_B_IH]], (GH, cfg[CFG_HIDDEN])),
            theta[o[OFF_B_IH]:o[OFF_B_HH]], theta[o[OFF_B_HH]:o[OFF_PEEP]], theta[o[OFF_PEEP]:o[OFF_LN]],
            theta[o[OFF_LN]:o[OFF_END]])


@njit(**INTERNAL)
def head_params(theta, off, cfg):
    """Views ``(W_out (K, D*H), b_out)`` of the head."""
    o = off[off.shape[0] - 1]
    return (cview(theta[o[HEAD_W]:o[HEAD_B]], (cfg[CFG_OUTPUTS], cfg[CFG_DIRS] * cfg[CFG_HIDDEN])),
            theta[o[HEAD_B]:o[HEAD_END]])


@njit(**INTERNAL)
def draw_masks(ws, cfg, T, B, p):
    """Draw every dropout mask of a window from numba's generator, in a fixed order.

    Layer ``k < L - 1``: (T, B, D*H) on its outputs; the head: (T, B, D*H) per
    step or (B, D*H) for last-step output. Entries are ``0`` (probability
    ``p``) or ``1 / (1 - p)``.
    """
    scale = region(ws, WS_MASK).dtype.type(1.0 / (1.0 - p))
    zero = region(ws, WS_MASK).dtype.type(0)
    for k in range(cfg[CFG_LAYERS]):
        m = mask_of(ws, cfg, k, T, B)
        for r in range(m.shape[0]):
            for j in range(m.shape[1]):
                m[r, j] = scale if np.random.random() >= p else zero


@njit(**INTERNAL)
def reverse_rows(src, lengths, T, B, out):
    """``out[s, b] = src[lengths[b] - 1 - s, b]`` for ``s < lengths[b]``, else 0 (rows t*B+b)."""
    for b in range(B):
        L = lengths[b]
        for s in range(T):
            for j in range(out.shape[1]):
                out[s * B + b, j] = src[(L - 1 - s) * B + b, j] if s < L else 0


@njit(**INTERNAL)
def set_state(ws, cfg, T, B, h0, c0, reverse_zero):
    """Initial states (L*D, B, H); with ``reverse_zero`` reverse directions start at 0."""
    D = cfg[CFG_DIRS]
    for idx in range(cfg[CFG_LAYERS] * D):
        hs = hs_of(ws, cfg, idx, T, B)
        cs = cs_of(ws, cfg, idx, T, B)
        zero = reverse_zero and idx % D == 1
        for b in range(B):
            for j in range(hs.shape[2]):
                hs[0, b, j] = 0 if zero else h0[idx, b, j]
                if cs.shape[0] > 0:
                    cs[0, b, j] = 0 if zero else c0[idx, b, j]


@njit(**INTERNAL)
def get_state(ws, cfg, T, B, hT, cT):
    """Final states (L*D, B, H) into ``hT``, ``cT`` (``cT`` untouched without a cell state)."""
    for idx in range(cfg[CFG_LAYERS] * cfg[CFG_DIRS]):
        hs = hs_of(ws, cfg, idx, T, B)
        cs = cs_of(ws, cfg, idx, T, B)
        for b in range(B):
            for j in range(hs.shape[2]):
                hT[idx, b, j] = hs[T, b, j]
                if cs.shape[0] > 0:
                    cT[idx, b, j] = cs[T, b, j]


@njit(inline="always", **INTERNAL)
def projection_source(cfg, X, lengths, ws, drop, k, d):
    """What (layer ``k``, direction ``d``) projects, (T*B, inputs): the layer's input, each sequence
    reversed within its length (into ``WS_XR``) for the reverse direction."""
    T, B, I = X.shape
    inp = cview(X, (T * B, I)) if k == 0 else layer_in(ws, cfg, k - 1, T, B, drop)
    if d == 0:
        return inp
    src = v2(region(ws, WS_XR), 0, T * B, inp.shape[1])
    reverse_rows(inp, lengths, T, B, src)
    return src


@njit(inline="always", **INTERNAL)
def projection_weights(cfg, tmp, W_ih, b_ih, b_hh, B, M):
    """``W_ih`` packed for products of ``M`` rows (empty when they run unpacked) and the bias to add.

    Both in their own slots of the scratch ``tmp`` (``WS_TMP`` of a window of
    ``B`` rows, :func:`~rnnkit.backends.cpu.workspace.tmp_slots`), so they stay
    valid while the cell runs between two chunks. Cells whose ``b_hh`` adds
    where ``b_ih`` does (``CFG_SPLIT_HH == 0``) get both folded into the bias.
    """
    GH = W_ih.shape[0]
    _, _, wih, bias, _ = tmp_slots(cfg, B)
    bsum = tmp[bias:bias + GH]
    if b_ih.shape[0] > 0:
        fold = cfg[CFG_SPLIT_HH] == 0
        for j in range(GH):
            bsum[j] = b_ih[j] + b_hh[j] if fold else b_ih[j]
    return pack_for(W_ih, M, True, tmp, wih), bsum


@njit(inline="always", **INTERNAL)
def project_rows(src, W_ih, Wpi, bsum, has_bias, out):
    """``out = src @ W_ih.T`` (on ``Wpi``, :func:`projection_weights`, unless empty) plus ``bsum``."""
    if Wpi.shape[0] > 0:
        mm_packed(src, Wpi, out, False)
    else:
        mm_nt(src, W_ih, out, False)
    if not has_bias:
        return
    R, GH = out.shape
    if GH < 16:  # too few columns to vectorise a row: each column's bias from a register (2x here)
        for j in range(GH):
            bj = bsum[j]
            for r in range(R):
                out[r, j] += bj
    else:
        for r in range(R):
            for j in range(GH):
                out[r, j] += bsum[j]


@njit(inline="always", **INTERNAL)
def chunk_lengths(lengths, t0, n, out):
    """Each sequence's valid steps in the chunk of ``n`` steps from ``t0``: the cell's lengths there."""
    for b in range(lengths.shape[0]):
        out[b] = min(max(lengths[b] - t0, 0), n)


@njit(inline="always", **JIT_OPTIONS)
def window_chunk(cfg, T, B):
    """Steps per chunk of a window of ``T`` steps and ``B`` rows (``T``: the window runs whole).

    A chunk's input projection holds at most
    :data:`~rnnkit._config.PROJECTION_CHUNK` elements (at least one step),
    so that it is still in the cache when the cell reads it; and at least
    as many rows as the weights' gradients have columns (``H`` plus the
    widest layer input), so that accumulating those gradients chunk by
    chunk moves no more data than the chunk's own pre-activation gradients
    do. A window whose chunks would then hold more than four times
    ``PROJECTION_CHUNK`` runs whole (LSTM-512's 2048 x 544 weight gradient
    accumulated over chunks of one step of 32 rows took its fit from 364-407
    to 448 ms).
    """
    H = cfg[CFG_HIDDEN]
    GH = cfg[CFG_GATES] * H
    row = max(B * GH, 1)
    wide = H + (cfg[CFG_INPUT] if cfg[CFG_LAYERS] == 1 else max(cfg[CFG_INPUT], cfg[CFG_DIRS] * H))
    Tc = max(1, PROJECTION_CHUNK // row, -(-wide // max(B, 1)))
    if Tc * row > 4 * PROJECTION_CHUNK:
        return T
    return min(T, Tc)


@njit(**INTERNAL)
def layer_outputs(cfg, lengths, ws, drop, k, d, T, B):
    """After (``k``, ``d``) ran: its states into the bidirectional outputs, and the layer's dropout."""
    H, L, D = cfg[CFG_HIDDEN], cfg[CFG_LAYERS], cfg[CFG_DIRS]
    DH = D * H
    if D == 2:
        hs = hs_of(ws, cfg, k * D + d, T, B)
        ys = v3(region(ws, WS_YS), k * T * B * DH, T, B, DH)
        for b in range(B):
            Lb = lengths[b]
            for t in range(T):
                s = t + 1 if d == 0 else Lb - t
                for j in range(H):
                    ys[t, b, d * H + j] = hs[s, b, j] if d == 0 or t < Lb else 0
    if d == D - 1 and drop and (k < L - 1 or cfg[CFG_MODE] == 0):
        out = layer_out(ws, cfg, k, T, B)
        xd = v2(region(ws, WS_XD), k * T * B * DH, T * B, DH)
        m = mask_of(ws, cfg, k, T, B)
        for r in range(T * B):
            for j in range(DH):
                xd[r, j] = out[r, j] * m[r, j]


@njit(**INTERNAL)
def head_forward(theta, off, cfg, ws, drop, T, B):
    """The head's outputs into ``WS_LOGITS`` (gathering the top layer's final states for last-step output)."""
    H, K, L, D = cfg[CFG_HIDDEN], cfg[CFG_OUTPUTS], cfg[CFG_LAYERS], cfg[CFG_DIRS]
    DH = D * H
    if cfg[CFG_MODE] == 1 and (D == 2 or drop):
        hl = v2(region(ws, WS_HL), 0, B, DH)
        for d in range(D):
            hT = hs_of(ws, cfg, (L - 1) * D + d, T, B)[T]
            for b in range(B):
                for j in range(H):
                    hl[b, d * H + j] = hT[b, j]
        if drop:
            m = mask_of(ws, cfg, L - 1, T, B)
            for b in range(B):
                for j in range(DH):
                    hl[b, j] *= m[b, j]
    W_out, b_out = head_params(theta, off, cfg)
    hin = head_in(ws, cfg, T, B, drop)
    R = hin.shape[0]
    lg = v2(region(ws, WS_LOGITS), 0, R, K)
    mm_nt(hin, W_out, lg, False)
    if b_out.shape[0] > 0:
        for r in range(R):
            for j in range(K):
                lg[r, j] += b_out[j]


@njit(**INTERNAL)
def forward(theta, off, cfg, X, lengths, ws, drop, calls):
    """Forward pass of a time-major window ``X`` (T, B, I); initial states already set.

    ``lengths`` are the window's own (0 <= length <= T). With ``drop`` the
    masks in the workspace (see :func:`draw_masks`) are applied. Leaves the
    head's outputs in the ``WS_LOGITS`` region, (T, B, K) or (1, B, K). The
    cell's forward kernel is the one at ``calls[CALL_CELL_FORWARD]``.
    """
    T, B = X.shape[0], X.shape[1]
    H, L, D, C = cfg[CFG_HIDDEN], cfg[CFG_LAYERS], cfg[CFG_DIRS], cfg[CFG_CACHE]
    GH = cfg[CFG_GATES] * H
    split = cfg[CFG_SPLIT_HH] != 0
    tmp = region(ws, WS_TMP)
    whh = tmp_slots(cfg, B)[0]
    xp_all = region(ws, WS_XP)
    # the projection runs in chunks of Tc steps, each just before the cell's steps that read it (written
    # into the start of WS_XP, so still in the cache); the cell runs chunk by chunk on its window's
    # states, with lengths counted from the chunk's first step
    Tc = window_chunk(cfg, T, B)
    lens = lengths if Tc == T else np.empty(B, np.int64)
    for k in range(L):
        for d in range(D):
            idx = k * D + d
            W_ih, W_hh, b_ih, b_hh, peep, lnp = layer_params(theta, off, cfg, idx)
            src = projection_source(cfg, X, lengths, ws, drop, k, d)
            Wpi, bsum = projection_weights(cfg, tmp, W_ih, b_ih, b_hh, B, Tc * B)
            Wp = pack_for(W_hh, B, True, tmp, whh)  # once per window, for every chunk
            hs, cs = hs_of(ws, cfg, idx, T, B), cs_of(ws, cfg, idx, T, B)
            cache = v3(region(ws, WS_CACHE), idx * T * B * C, T, B, C)
            for t0 in range(0, T, Tc):
                n = min(Tc, T - t0)
                xp = v3(xp_all, 0, n, B, GH)
                project_rows(src[t0 * B:(t0 + n) * B], W_ih, Wpi, bsum, b_ih.shape[0] > 0,
                             cview(xp, (n * B, GH)))
                if Tc < T:
                    chunk_lengths(lengths, t0, n, lens)
                call_void(calls[CALL_CELL_FORWARD], calls[CALL_CELL_FORWARD + 1],
                          (xp, lens, W_hh, Wp, b_hh if split else b_hh[:0], cfg[CFG_ACT], peep, lnp,
                           steps(hs, t0, n + 1), steps(cs, t0, n + 1), steps(cache, t0, n), tmp))
            layer_outputs(cfg, lengths, ws, drop, k, d, T, B)
    head_forward(theta, off, cfg, ws, drop, T, B)


@njit(**INTERNAL)
def head_backward(theta, off, cfg, ws, drop, grad, T, B):
    """From ``WS_DLOGITS``: the head's gradients; the top layer's output gradient (``WS_DY``, ``WS_DHL``)."""
    H, K, L, D, mode = cfg[CFG_HIDDEN], cfg[CFG_OUTPUTS], cfg[CFG_LAYERS], cfg[CFG_DIRS], cfg[CFG_MODE]
    DH = D * H
    W_out, b_out = head_params(theta, off, cfg)
    gW_out, gb_out = head_params(grad, off, cfg)
    hin = head_in(ws, cfg, T, B, drop)
    R = hin.shape[0]
    dl = v2(region(ws, WS_DLOGITS), 0, R, K)
    mm_tn_small(dl, hin, gW_out, False)
    if gb_out.shape[0] > 0:
        colsum(dl, gb_out, False)
    dtop = v2(region(ws, WS_DY), 0, T * B, DH) if mode == 0 else v2(region(ws, WS_DHL), 0, B, DH)
    mm_nn(dl, W_out, dtop, False)
    if drop:
        m = mask_of(ws, cfg, L - 1, T, B)
        for r in range(R):
            for j in range(DH):
                dtop[r, j] *= m[r, j]
    if mode == 1:
        v2(region(ws, WS_DY), 0, T * B, DH)[:] = 0


@njit(**INTERNAL)
def state_grads_in(cfg, lengths, ws, k, d, cur, T, B, gpeep, glnp):
    """Before (``k``, ``d``)'s backward: its share of the output gradients (``WS_DHS``, or a view of
    ``WS_DY``), the final-state gradient ``WS_DLAST``, its extra blocks' gradients zeroed."""
    H, L, D = cfg[CFG_HIDDEN], cfg[CFG_LAYERS], cfg[CFG_DIRS]
    DH = D * H
    gpeep[:] = 0
    glnp[:] = 0
    dYk = v2(region(ws, WS_DY), cur * T * B * DH, T * B, DH)
    if D == 1:
        dhs = cview(dYk, (T, B, H))
    else:
        dhs = v3(region(ws, WS_DHS), 0, T, B, H)
        for b in range(B):
            Lb = lengths[b]
            for s in range(T):
                for j in range(H):
                    if d == 0:
                        dhs[s, b, j] = dYk[s * B + b, j]
                    elif s < Lb:
                        dhs[s, b, j] = dYk[(Lb - 1 - s) * B + b, H + j]
                    else:
                        dhs[s, b, j] = 0
    dlast = v2(region(ws, WS_DLAST), 0, B, H)
    if cfg[CFG_MODE] == 1 and k == L - 1:
        dtop = v2(region(ws, WS_DHL), 0, B, DH)
        for b in range(B):
            for j in range(H):
                dlast[b, j] = dtop[b, d * H + j]
    else:
        dlast[:] = 0
    return dhs


@njit(**INTERNAL)
def param_grads(cfg, lengths, ws, src, din, d, idx, t0, n, T, B, W_ih, Wpi, gW_ih, gW_hh, gb_ih, gb_hh, acc):
    """After (layer, direction) ``idx``'s backward through steps ``t0 .. t0 + n - 1`` (their pre-activations'
    gradients at the start of ``WS_XP`` / ``WS_DPH``): their share of the weights' and biases' gradients
    (added to what earlier chunks left when ``acc``), and of the layer's input gradient ``din`` (rows
    of those steps; reversed back into time order for the reverse direction ``d == 1``; not computed
    when ``din`` is empty). ``src`` is what the projection read (:func:`projection_source`), ``Wpi``
    ``W_ih`` packed for ``din`` (or empty)."""
    H = cfg[CFG_HIDDEN]
    split = cfg[CFG_SPLIT_HH] != 0
    GH = cfg[CFG_GATES] * H
    R = n * B
    r0 = t0 * B
    dpi2 = v2(region(ws, WS_XP), 0, R, GH)
    dhh2 = v2(region(ws, WS_DPH), 0, R, GH) if split else dpi2
    pbuf = region(ws, WS_TMP)[tmp_slots(cfg, B)[1]:]
    mm_tn_w(dpi2, src[r0:r0 + R], gW_ih, pbuf, acc)
    hprev = v2(region(ws, WS_HS), idx * (T + 1) * B * H + r0 * H, R, H)  # h_t0 .. h_{t0+n-1}
    z = B if t0 == 0 and all_zero(hprev[:B]) else 0  # a zero initial state adds nothing to the gradient
    mm_tn_w(dhh2[z:], hprev[z:], gW_hh, pbuf, acc)
    if gb_ih.shape[0] > 0:
        colsum(dpi2, gb_ih, acc)
        if split:
            colsum(dhh2, gb_hh, acc)
    if din.shape[0] == 0:
        return
    Ik = din.shape[1]
    # the reverse direction's input gradient is in reversed time: through a buffer, added back below
    dxr = din[r0:r0 + R] if d == 0 else v2(region(ws, WS_DXR), 0, R, Ik)
    if Wpi.shape[0] > 0:
        mm_packed(dpi2, Wpi, dxr, False)
    else:
        mm_nn(dpi2, W_ih, dxr, False)
    if d == 1:
        for b in range(B):
            Lb = lengths[b]
            for s in range(t0, min(t0 + n, Lb)):
                for j in range(Ik):
                    din[(Lb - 1 - s) * B + b, j] += dxr[(s - t0) * B + b, j]


@njit(**INTERNAL)
def backward(theta, off, cfg, X, lengths, ws, drop, grad, dh0, dc0, dX, calls):
    """Backward pass after :func:`forward` and the head's loss filled ``WS_DLOGITS``.

    Writes the full gradient into ``grad`` (same layout as ``theta``), the
    gradient of the initial states into ``dh0``/``dc0`` (L*D, B, H) and, when
    ``dX`` is not empty, the gradient of the inputs into ``dX`` (T, B, I).
    The cell's backward kernel is the one at ``calls[CALL_CELL_BACKWARD]``. Each (layer,
    direction) runs back through the window in the forward pass's chunks of
    steps (:func:`window_chunk`), last chunk first, the running state
    gradients carried from chunk to chunk in ``dh0``/``dc0``; each chunk's
    pre-activation gradients are written at the start of their regions and
    turned into the weights' gradients (:func:`param_grads`) while they are
    still in the cache.
    """
    T, B = X.shape[0], X.shape[1]
    H, L, D, C = cfg[CFG_HIDDEN], cfg[CFG_LAYERS], cfg[CFG_DIRS], cfg[CFG_CACHE]
    GH = cfg[CFG_GATES] * H
    DH = D * H
    TB = T * B
    split = cfg[CFG_SPLIT_HH] != 0
    head_backward(theta, off, cfg, ws, drop, grad, T, B)
    tmp = region(ws, WS_TMP)
    whh, _, wih, _, _ = tmp_slots(cfg, B)
    dlast, dzero = v2(region(ws, WS_DLAST), 0, B, H), v2(region(ws, WS_DZERO), 0, B, H)
    Tc = window_chunk(cfg, T, B)
    n_chunks = -(-T // Tc)
    lens = lengths if Tc == T else np.empty(B, np.int64)
    cur = np.int64(0)  # not a literal 0: one compilation of the helpers it is passed to
    for k in range(L - 1, -1, -1):
        if k > 0:
            din = v2(region(ws, WS_DY), (1 - cur) * TB * DH, TB, DH)
        elif dX.shape[0] > 0:
            din = cview(dX, (TB, X.shape[2]))
        else:  # no input gradient wanted
            din = v2(region(ws, WS_DY), 0, 0, DH)
        for d in range(D):
            idx = k * D + d
            W_ih, W_hh, b_ih, b_hh, peep, lnp = layer_params(theta, off, cfg, idx)
            gW_ih, gW_hh, gb_ih, gb_hh, gpeep, glnp = layer_params(grad, off, cfg, idx)
            dhs = state_grads_in(cfg, lengths, ws, k, d, cur, T, B, gpeep, glnp)
            hs, cs = hs_of(ws, cfg, idx, T, B), cs_of(ws, cfg, idx, T, B)
            cache = v3(region(ws, WS_CACHE), idx * T * B * C, T, B, C)
            src = projection_source(cfg, X, lengths, ws, drop, k, d)
            Wp = pack_for(W_hh, B, False, tmp, whh)  # once per window, for every chunk
            Wpi = pack_for(W_ih, Tc * B if din.shape[0] > 0 else 0, False, tmp, wih)
            for ci in range(n_chunks - 1, -1, -1):
                t0 = ci * Tc
                n = min(Tc, T - t0)
                if Tc < T:
                    chunk_lengths(lengths, t0, n, lens)
                last = ci == n_chunks - 1
                call_void(calls[CALL_CELL_BACKWARD], calls[CALL_CELL_BACKWARD + 1],
                          (steps(dhs, t0, n), lens, W_hh, Wp, cfg[CFG_ACT], peep, lnp,
                           steps(hs, t0, n + 1), steps(cs, t0, n + 1), steps(cache, t0, n),
                           dlast if last else dh0[idx], dzero if last else dc0[idx],
                           v3(region(ws, WS_XP), 0, n, B, GH),
                           v3(region(ws, WS_DPH), 0, n if split else 0, B, GH),
                           dh0[idx], dc0[idx], gpeep, glnp, tmp))
                call_native(param_grads, calls[CALL_PARAM_GRADS], calls[CALL_PARAM_GRADS + 1],
                            (cfg, lengths, ws, src, din, d, idx, t0, n, T, B, W_ih, Wpi, gW_ih, gW_hh, gb_ih,
                             gb_hh, not last))
            if gb_ih.shape[0] > 0 and not split:  # the same pre-activations: the same sums
                for j in range(GH):
                    gb_hh[j] = gb_ih[j]
        if k > 0 and drop:
            m = mask_of(ws, cfg, k - 1, T, B)
            for r in range(TB):
                for j in range(DH):
                    din[r, j] *= m[r, j]
        cur = 1 - cur
