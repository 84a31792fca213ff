"""Stacked, optionally bidirectional recurrent layers plus a dense head on one flat parameter vector.

:class:`Network` describes the model (cell and its variants, sizes, layers,
directions, dropout, loss, output mode) and owns the layout of the flat
parameter vector; the compiled functions below run whole batches and whole
epochs:

* :func:`_loss_and_grad` - forward, loss and backward of one time-major batch;
* :func:`_train_epoch` - every batch and truncated-BPTT window of an epoch,
  with the optimizer update, in one call (Python overhead does not grow with
  the number of windows);
* :func:`_predict` - forward pass in chunks, head outputs and final states.

One generic loop runs every (layer, direction) pair with the same cell
kernels: layer ``k + 1`` reads layer ``k``'s per-step outputs (forward and
reverse concatenated); the reverse direction runs the forward kernel on each
sequence reversed within its own length and its outputs are put back in
time order. Dropout (inverted: kept values are scaled by ``1 / (1 - p)``)
multiplies the outputs of every layer below the top and the features fed to
the head, never the recurrent path.

Parameters use PyTorch's names, shapes and gate order (see :meth:`Network.coefs`).
"""

import contextlib

import numpy as np
from numba import njit, prange

from . import _config
from ._config import BLAS_MIN_WORK, JIT_OPTIONS
from ._linalg import colsum, cview, mm_nn, mm_nt, mm_tn
from .cells import CELLS, NONLINEARITIES, gru, lstm, rnn
from .losses import LOSSES, OUTPUT_MODES, head_loss
from .optim import apply_update

# slots of the integer configuration vector passed to the kernels
(CELL, ACT, INPUT, HIDDEN, OUTPUTS, LOSS, MODE, BIAS, LAYERS, DIRS, PEEP, LNORM,
 CACHE) = range(13)
_N_GATES = np.array([rnn.N_GATES, lstm.N_GATES, gru.N_GATES])
# columns of the per-(layer, direction) offset table: starts of W_ih, W_hh,
# b_ih, b_hh, peephole block, layer-norm block, and the end; the table's last
# row holds the head: W_out, b_out, end
_N_OFF = 7
# workspace buffers (flat; shaped per window by the helpers below)
(_XP, _HS, _CS, _CACHE, _YS, _XD, _MASK, _XR, _HL, _LOGITS, _DLOGITS, _DY, _DHS,
 _DPI, _DPH, _DXR, _DHL, _DLAST, _DZERO) = range(19)

__all__ = ["Network"]


# --------------------------------------------------------------------------- kernels
@njit(inline="always", **JIT_OPTIONS)
def _v2(buf, start, a, b):  # pragma: no cover - compiled
    return cview(buf[start:start + a * b], (a, b))


@njit(inline="always", **JIT_OPTIONS)
def _v3(buf, start, a, b, c):  # pragma: no cover - compiled
    return cview(buf[start:start + a * b * c], (a, b, c))


@njit(inline="always", **JIT_OPTIONS)
def _params(theta, off, cfg, idx):  # pragma: no cover - compiled
    """Views of the parameters of (layer, direction) ``idx = layer * D + direction``."""
    H = cfg[HIDDEN]
    GH = _N_GATES[cfg[CELL]] * H
    o = off[idx]
    Ik = (o[1] - o[0]) // GH
    return (cview(theta[o[0]:o[1]], (GH, Ik)), cview(theta[o[1]:o[2]], (GH, H)),
            theta[o[2]:o[3]], theta[o[3]:o[4]], theta[o[4]:o[5]], theta[o[5]:o[6]])


@njit(inline="always", **JIT_OPTIONS)
def _head(theta, off, cfg):  # pragma: no cover - compiled
    o = off[off.shape[0] - 1]
    return cview(theta[o[0]:o[1]], (cfg[OUTPUTS], cfg[DIRS] * cfg[HIDDEN])), theta[o[1]:o[2]]


@njit(**JIT_OPTIONS)
def _ws_offsets(T, B, cfg, drop):  # pragma: no cover - compiled
    """Offsets of the workspace regions (``_XP`` ... ``_DZERO``) for ``T`` steps of ``B`` rows."""
    I, H, K = cfg[INPUT], cfg[HIDDEN], cfg[OUTPUTS]
    L, D = cfg[LAYERS], cfg[DIRS]
    cell = cfg[CELL]
    GH = _N_GATES[cell] * H
    DH = D * H
    LD = L * D
    IM = max(I, DH)
    Tl = T if cfg[MODE] == 0 else 1
    n_ys = L * T * B * DH
    sizes = np.array([
        T * B * GH,                                 # _XP
        LD * (T + 1) * B * H,                       # _HS
        LD * (T + 1) * B * H if cell == 1 else 0,   # _CS
        LD * T * B * cfg[CACHE],                    # _CACHE
        n_ys if D == 2 else 0,                      # _YS
        n_ys if drop else 0,                        # _XD
        n_ys if drop else 0,                        # _MASK
        T * B * IM if D == 2 else 0,                # _XR
        B * DH,                                     # _HL
        Tl * B * K,                                 # _LOGITS
        Tl * B * K,                                 # _DLOGITS
        2 * T * B * DH,                             # _DY
        T * B * H if D == 2 else 0,                 # _DHS
        T * B * GH,                                 # _DPI
        T * B * GH if cell == 2 else 0,             # _DPH
        T * B * IM if D == 2 else 0,                # _DXR
        B * DH,                                     # _DHL
        B * H,                                      # _DLAST
        B * H,                                      # _DZERO
    ], dtype=np.int64)
    offs = np.zeros(sizes.shape[0] + 1, np.int64)
    for i in range(sizes.shape[0]):
        offs[i + 1] = offs[i] + sizes[i]
    return offs


@njit(**JIT_OPTIONS)
def _workspace_size(T, B, cfg, drop):  # pragma: no cover - compiled
    """Length of the flat workspace for windows of up to ``T`` steps of up to ``B`` rows."""
    return _ws_offsets(T, B, cfg, drop)[-1]


@njit(**JIT_OPTIONS)
def _workspace(T, B, cfg, dtype_ref, drop, spare):  # pragma: no cover - compiled
    """Scratch for windows of up to ``T`` steps of ``B`` sequences.

    One flat buffer and the offsets of its regions (``_XP`` ... ``_DZERO``):
    passing two arrays between compiled functions costs less reference
    counting than passing a tuple of many. The buffer is the front of
    ``spare`` when that is long enough (the caller keeps it between calls,
    so the tens of megabytes of a large model are not mapped and faulted in
    again at every call), else a fresh allocation.
    """
    offs = _ws_offsets(T, B, cfg, drop)
    n = offs[-1]
    if spare.shape[0] >= n:
        buf = spare[:n]
    else:
        buf = np.empty(n, dtype_ref.dtype)
    buf[offs[_CS]:offs[_CS + 1]] = 0
    buf[offs[_DZERO]:offs[_DZERO + 1]] = 0
    return buf, offs


@njit(inline="always", **JIT_OPTIONS)
def _r(ws, i):  # pragma: no cover - compiled
    """Region ``i`` of the workspace (flat)."""
    return ws[0][ws[1][i]:ws[1][i + 1]]


@njit(inline="always", **JIT_OPTIONS)
def _hs(ws, cfg, idx, T, B):  # pragma: no cover - compiled
    H = cfg[HIDDEN]
    return _v3(_r(ws, _HS), idx * (T + 1) * B * H, T + 1, B, H)


@njit(inline="always", **JIT_OPTIONS)
def _cs(ws, cfg, idx, T, B):  # pragma: no cover - compiled
    H = cfg[HIDDEN]
    if cfg[CELL] == 1:
        return _v3(_r(ws, _CS), idx * (T + 1) * B * H, T + 1, B, H)
    return _v3(_r(ws, _CS), 0, 0, B, H)


@njit(inline="always", **JIT_OPTIONS)
def _layer_out(ws, cfg, k, T, B):  # pragma: no cover - compiled
    """Per-step outputs (T*B, D*H) of layer ``k`` (before dropout)."""
    H, D = cfg[HIDDEN], cfg[DIRS]
    if D == 1:  # the hidden states themselves, steps 1..T
        return _v2(_r(ws, _HS), k * (T + 1) * B * H + B * H, T * B, H)
    return _v2(_r(ws, _YS), k * T * B * 2 * H, T * B, 2 * H)


@njit(inline="always", **JIT_OPTIONS)
def _layer_in(ws, cfg, k, T, B, drop):  # pragma: no cover - compiled
    """What reads layer ``k``'s outputs (the next layer, or the per-step head) sees."""
    if drop:
        DH = cfg[DIRS] * cfg[HIDDEN]
        return _v2(_r(ws, _XD), k * T * B * DH, T * B, DH)
    return _layer_out(ws, cfg, k, T, B)


@njit(inline="always", **JIT_OPTIONS)
def _head_in(ws, cfg, T, B, drop):  # pragma: no cover - compiled
    """Features fed to the head: per step (T*B, D*H), or per sequence (B, D*H)."""
    L, D, H = cfg[LAYERS], cfg[DIRS], cfg[HIDDEN]
    if cfg[MODE] == 0:
        return _layer_in(ws, cfg, L - 1, T, B, drop)
    if D == 1 and not drop:  # the top layer's final state itself
        return _v2(_r(ws, _HS), (L - 1) * (T + 1) * B * H + T * B * H, B, H)
    return _v2(_r(ws, _HL), 0, B, D * H)


@njit(inline="always", **JIT_OPTIONS)
def _mask(ws, cfg, k, T, B):  # pragma: no cover - compiled
    DH = cfg[DIRS] * cfg[HIDDEN]
    rows = B if (k == cfg[LAYERS] - 1 and cfg[MODE] == 1) else T * B
    return _v2(_r(ws, _MASK), k * T * B * DH, rows, DH)


@njit(**JIT_OPTIONS)
def _seed(seed):  # pragma: no cover - compiled
    np.random.seed(seed)


@njit(**JIT_OPTIONS)
def _draw_masks(ws, cfg, T, B, p):  # pragma: no cover - compiled
    """Draw every dropout mask of a window from numba's generator, in a fixed order.

    Layer ``k < L - 1``: (T, B, D*H) on its outputs; the head: (T, B, D*H) per
    step or (B, D*H) for last-step output. Entries are ``0`` (probability
    ``p``) or ``1 / (1 - p)``.
    """
    scale = _r(ws, _MASK).dtype.type(1.0 / (1.0 - p))
    zero = _r(ws, _MASK).dtype.type(0)
    for k in range(cfg[LAYERS]):
        m = _mask(ws, cfg, k, T, B)
        for r in range(m.shape[0]):
            for j in range(m.shape[1]):
                m[r, j] = scale if np.random.random() >= p else zero


@njit(**JIT_OPTIONS)
def _reverse(src, lengths, T, B, out):  # pragma: no cover - compiled
    """``out[s, b] = src[lengths[b] - 1 - s, b]`` for ``s < lengths[b]``, else 0 (rows t*B+b)."""
    for b in range(B):
        L = lengths[b]
        for s in range(T):
            if s < L:
                out[s * B + b] = src[(L - 1 - s) * B + b]
            else:
                out[s * B + b] = 0


@njit(**JIT_OPTIONS)
def _cell_forward(cell, act, xp, lengths, W_hh, b_hh, peep, lnp, hs, cs, cache):  # pragma: no cover
    if cell == 0:
        rnn.forward_sequence(xp, lengths, W_hh, b_hh, act, peep, lnp, hs, cs, cache)
    elif cell == 1:
        lstm.forward_sequence(xp, lengths, W_hh, b_hh, act, peep, lnp, hs, cs, cache)
    else:
        gru.forward_sequence(xp, lengths, W_hh, b_hh, act, peep, lnp, hs, cs, cache)


@njit(**JIT_OPTIONS)
def _cell_backward(cell, act, dhs, lengths, W_hh, peep, lnp, hs, cs, cache, dh_last, dc_last,
                   dpi, dph, dh0, dc0, gpeep, glnp):  # pragma: no cover
    if cell == 0:
        rnn.backward_sequence(dhs, lengths, W_hh, act, peep, lnp, hs, cs, cache, dh_last, dc_last,
                              dpi, dph, dh0, dc0, gpeep, glnp)
    elif cell == 1:
        lstm.backward_sequence(dhs, lengths, W_hh, act, peep, lnp, hs, cs, cache, dh_last, dc_last,
                               dpi, dph, dh0, dc0, gpeep, glnp)
    else:
        gru.backward_sequence(dhs, lengths, W_hh, act, peep, lnp, hs, cs, cache, dh_last, dc_last,
                              dpi, dph, dh0, dc0, gpeep, glnp)


@njit(**JIT_OPTIONS)
def _set_state(ws, cfg, T, B, h0, c0, reverse_zero):  # pragma: no cover - compiled
    """Initial states (L*D, B, H); with ``reverse_zero`` reverse directions start at 0."""
    D = cfg[DIRS]
    for idx in range(cfg[LAYERS] * D):
        hs = _hs(ws, cfg, idx, T, B)
        cs = _cs(ws, cfg, idx, T, B)
        if reverse_zero and idx % D == 1:
            hs[0] = 0
            if cs.shape[0] > 0:
                cs[0] = 0
        else:
            hs[0] = h0[idx]
            if cs.shape[0] > 0:
                cs[0] = c0[idx]


@njit(**JIT_OPTIONS)
def _get_state(ws, cfg, T, B, hT, cT):  # pragma: no cover - compiled
    for idx in range(cfg[LAYERS] * cfg[DIRS]):
        hT[idx] = _hs(ws, cfg, idx, T, B)[T]
        cs = _cs(ws, cfg, idx, T, B)
        if cs.shape[0] > 0:
            cT[idx] = cs[T]


@njit(**JIT_OPTIONS)
def _forward(theta, off, cfg, X, lengths, ws, drop):  # pragma: no cover - compiled
    """Forward pass of a time-major window ``X`` (T, B, I); initial states already set.

    ``lengths`` are the window's own (0 <= length <= T). With ``drop`` the
    masks in the workspace (see :func:`_draw_masks`) are applied.
    """
    T, B, I = X.shape
    H, K, L, D = cfg[HIDDEN], cfg[OUTPUTS], cfg[LAYERS], cfg[DIRS]
    cell, act, C = cfg[CELL], cfg[ACT], cfg[CACHE]
    GH = _N_GATES[cell] * H
    DH = D * H
    xp = _v3(_r(ws, _XP), 0, T, B, GH)
    xp2 = cview(xp, (T * B, GH))
    bsum = _r(ws, _DPI)[:GH]  # free until backward
    for k in range(L):
        inp = cview(X, (T * B, I)) if k == 0 else _layer_in(ws, cfg, k - 1, T, B, drop)
        Ik = inp.shape[1]
        for d in range(D):
            idx = k * D + d
            W_ih, W_hh, b_ih, b_hh, peep, lnp = _params(theta, off, cfg, idx)
            if d == 0:
                src = inp
            else:
                src = _v2(_r(ws, _XR), 0, T * B, Ik)
                _reverse(inp, lengths, T, B, src)
            mm_nt(src, W_ih, xp2, False)
            # rnn and lstm add b_hh where they add b_ih: fold both into the projection
            # (GRU's b_hn sits inside r * (...), so the GRU cell adds b_hh itself)
            fold = cell != 2
            if b_ih.shape[0] > 0:
                if fold:
                    for j in range(GH):
                        bsum[j] = b_ih[j] + b_hh[j]
                else:
                    for j in range(GH):
                        bsum[j] = b_ih[j]
                for r in range(T * B):
                    for j in range(GH):
                        xp2[r, j] += bsum[j]
            hs = _hs(ws, cfg, idx, T, B)
            _cell_forward(cell, act, xp, lengths, W_hh, b_hh[:0] if fold else b_hh, peep, lnp, hs,
                          _cs(ws, cfg, idx, T, B), _v3(_r(ws, _CACHE), idx * T * B * C, T, B, C))
            if D == 2:
                ys = _v3(_r(ws, _YS), k * T * B * DH, T, B, DH)
                for b in range(B):
                    Lb = lengths[b]
                    for t in range(T):
                        dst = ys[t, b, d * H:(d + 1) * H]
                        if d == 0:
                            dst[:] = hs[t + 1, b]
                        elif t < Lb:
                            dst[:] = hs[Lb - t, b]
                        else:
                            dst[:] = 0
        if drop and (k < L - 1 or cfg[MODE] == 0):
            out = _layer_out(ws, cfg, k, T, B)
            xd = _v2(_r(ws, _XD), k * T * B * DH, T * B, DH)
            m = _mask(ws, cfg, k, T, B)
            for r in range(T * B):
                for j in range(DH):
                    xd[r, j] = out[r, j] * m[r, j]
    if cfg[MODE] == 1 and (D == 2 or drop):  # gather the top layer's final states
        hl = _v2(_r(ws, _HL), 0, B, DH)
        for d in range(D):
            hT = _hs(ws, cfg, (L - 1) * D + d, T, B)[T]
            for b in range(B):
                hl[b, d * H:(d + 1) * H] = hT[b]
        if drop:
            m = _mask(ws, cfg, L - 1, T, B)
            for b in range(B):
                for j in range(DH):
                    hl[b, j] *= m[b, j]
    W_out, b_out = _head(theta, off, cfg)
    hin = _head_in(ws, cfg, T, B, drop)
    R = hin.shape[0]
    lg = _v2(_r(ws, _LOGITS), 0, R, K)
    mm_nt(hin, W_out, lg, False)
    if b_out.shape[0] > 0:
        for r in range(R):
            for j in range(K):
                lg[r, j] += b_out[j]


@njit(**JIT_OPTIONS)
def _backward(theta, off, cfg, X, lengths, ws, drop, grad, dh0, dc0, dX):  # pragma: no cover
    """Backward pass after :func:`_forward` and :func:`head_loss` filled the logit gradients.

    Writes the full gradient into ``grad`` (same layout as ``theta``), the
    gradient of the initial states into ``dh0``/``dc0`` (L*D, B, H) and, when
    ``dX`` is not empty, the gradient of the inputs into ``dX`` (T, B, I).
    """
    T, B, I = X.shape
    H, K, L, D = cfg[HIDDEN], cfg[OUTPUTS], cfg[LAYERS], cfg[DIRS]
    cell, act, C, mode = cfg[CELL], cfg[ACT], cfg[CACHE], cfg[MODE]
    GH = _N_GATES[cell] * H
    DH = D * H
    TB = T * B
    W_out, b_out = _head(theta, off, cfg)
    gW_out, gb_out = _head(grad, off, cfg)
    hin = _head_in(ws, cfg, T, B, drop)
    R = hin.shape[0]
    dl = _v2(_r(ws, _DLOGITS), 0, R, K)
    mm_tn(dl, hin, gW_out, False)
    if gb_out.shape[0] > 0:
        colsum(dl, gb_out, False)
    dtop = _v2(_r(ws, _DY), 0, TB, DH) if mode == 0 else _v2(_r(ws, _DHL), 0, B, DH)
    mm_nn(dl, W_out, dtop, False)
    if drop:
        m = _mask(ws, cfg, L - 1, T, B)
        for r in range(R):
            for j in range(DH):
                dtop[r, j] *= m[r, j]
    if mode == 1:
        _v2(_r(ws, _DY), 0, TB, DH)[:] = 0
    dlast = _v2(_r(ws, _DLAST), 0, B, H)
    dzero = _v2(_r(ws, _DZERO), 0, B, H)
    dpi = _v3(_r(ws, _DPI), 0, T, B, GH)
    dpi2 = cview(dpi, (TB, GH))
    dph = _v3(_r(ws, _DPH), 0, T if cell == 2 else 0, B, GH)
    dhh2 = cview(dph, (TB, GH)) if cell == 2 else dpi2
    cur = 0
    for k in range(L - 1, -1, -1):
        dYk = _v2(_r(ws, _DY), cur * TB * DH, TB, DH)
        need_din = k > 0 or dX.shape[0] > 0
        if k > 0:
            din = _v2(_r(ws, _DY), (1 - cur) * TB * DH, TB, DH)
            inp = _layer_in(ws, cfg, k - 1, T, B, drop)
        else:
            din = cview(dX, (TB, I)) if dX.shape[0] > 0 else dYk
            inp = cview(X, (TB, I))
        Ik = inp.shape[1]
        for d in range(D):
            idx = k * D + d
            W_ih, W_hh, b_ih, b_hh, peep, lnp = _params(theta, off, cfg, idx)
            gW_ih, gW_hh, gb_ih, gb_hh, gpeep, glnp = _params(grad, off, cfg, idx)
            gpeep[:] = 0
            glnp[:] = 0
            hs = _hs(ws, cfg, idx, T, B)
            if D == 1:
                dhs = cview(dYk, (T, B, H))
            else:
                dhs = _v3(_r(ws, _DHS), 0, T, B, H)
                for b in range(B):
                    Lb = lengths[b]
                    for s in range(T):
                        if d == 0:
                            dhs[s, b] = dYk[s * B + b, :H]
                        elif s < Lb:
                            dhs[s, b] = dYk[(Lb - 1 - s) * B + b, H:]
                        else:
                            dhs[s, b] = 0
            if mode == 1 and k == L - 1:
                for b in range(B):
                    dlast[b] = dtop[b, d * H:(d + 1) * H]
            else:
                dlast[:] = 0
            _cell_backward(cell, act, dhs, lengths, W_hh, peep, lnp, hs, _cs(ws, cfg, idx, T, B),
                           _v3(_r(ws, _CACHE), idx * T * B * C, T, B, C), dlast, dzero, dpi, dph,
                           dh0[idx], dc0[idx], gpeep, glnp)
            if d == 0:
                src = inp
            else:
                src = _v2(_r(ws, _XR), 0, TB, Ik)
                _reverse(inp, lengths, T, B, src)
            mm_tn(dpi2, src, gW_ih, False)
            mm_tn(dhh2, _v2(_r(ws, _HS), idx * (T + 1) * B * H, TB, H), gW_hh, False)
            if gb_ih.shape[0] > 0:
                colsum(dpi2, gb_ih, False)
                if cell == 2:
                    colsum(dhh2, gb_hh, False)
                else:  # the same array: the same sums
                    for j in range(GH):
                        gb_hh[j] = gb_ih[j]
            if need_din:
                if d == 0:
                    mm_nn(dpi2, W_ih, din, False)
                else:
                    dxr = _v2(_r(ws, _DXR), 0, TB, Ik)
                    mm_nn(dpi2, W_ih, dxr, False)
                    for b in range(B):
                        Lb = lengths[b]
                        for s in range(Lb):
                            din[(Lb - 1 - s) * B + b] += dxr[s * B + b]
        if k > 0 and drop:
            m = _mask(ws, cfg, k - 1, T, B)
            for r in range(TB):
                for j in range(DH):
                    din[r, j] *= m[r, j]
        cur = 1 - cur


@njit(**JIT_OPTIONS)
def _loss_and_grad(theta, off, cfg, pdrop, seed, X, lengths, Y, h0, c0, grad, dh0, dc0, dX,
                   hT, cT):  # pragma: no cover
    """Mean loss and full gradient of one time-major batch (no truncation).

    With ``pdrop > 0`` numba's generator is seeded with ``seed`` and the
    masks drawn (:func:`_draw_masks`) before the forward pass.
    """
    T, B, I = X.shape
    drop = pdrop > 0
    ws = _workspace(T, B, cfg, theta, drop, theta[:0])
    if drop:
        np.random.seed(seed)
        _draw_masks(ws, cfg, T, B, pdrop)
    _set_state(ws, cfg, T, B, h0, c0, False)
    _forward(theta, off, cfg, X, lengths, ws, drop)
    R = T if cfg[MODE] == 0 else 1
    total, count = head_loss(cfg[LOSS], cfg[MODE], _v3(_r(ws, _LOGITS), 0, R, B, cfg[OUTPUTS]), Y,
                             lengths, 0, T, _v3(_r(ws, _DLOGITS), 0, R, B, cfg[OUTPUTS]), 0)
    _backward(theta, off, cfg, X, lengths, ws, drop, grad, dh0, dc0, dX)
    _get_state(ws, cfg, T, B, hT, cT)
    return total / max(count, 1), count


@njit(**JIT_OPTIONS)
def _dropout_masks(cfg, pdrop, seed, T, B, dtype_ref):  # pragma: no cover - compiled
    """The masks :func:`_loss_and_grad` draws for a (T, B) batch and ``seed`` (flat)."""
    ws = _workspace(T, B, cfg, dtype_ref, True, dtype_ref[:0])
    np.random.seed(seed)
    _draw_masks(ws, cfg, T, B, pdrop)
    return _r(ws, _MASK).copy()


@njit(**JIT_OPTIONS)
def _window_count(mode, lens, t0, T):  # pragma: no cover - compiled
    """Items of the window of ``T`` steps from global step ``t0`` (see :func:`head_loss`)."""
    count = 0
    for b in range(lens.shape[0]):
        if mode == 0:
            count += max(min(T, lens[b] - t0), 0)
        elif 0 <= lens[b] - 1 - t0 < T:
            count += 1
    return count


@njit(**JIT_OPTIONS)
def _part_rows(p, S, B):  # pragma: no cover - compiled
    """First row and number of rows of part ``p`` of ``S`` of a batch of ``B`` rows."""
    q, r = B // S, B % S
    return p * q + min(p, r), q + (1 if p < r else 0)


@njit(**JIT_OPTIONS)
def _window_part(p, S, theta, off, cfg, pdrop, X, Y, idx, lens, offs_all, t0, T, carry, Xw_all, Yw_all,
                 lw_all, ws_all, ws_len, hcar_all, ccar_all, dh0_all, dc0_all, g, dX,
                 norm):  # pragma: no cover - compiled
    """Forward, loss and (when it holds items) backward of part ``p`` of a window.

    Rows ``_part_rows(p, S, B)`` of the batch (``idx``/``lens`` are the whole
    batch's); per-part scratch is row ``p`` of each ``*_all`` array, the
    workspace laid out by ``offs_all[p]`` (for the batch's longest window). Writes
    the part's gradient into ``g`` (its loss weighted by ``1 / norm``, see
    :func:`head_loss`) and carries its final states. Returns ``(loss sum,
    item count)`` of the part.
    """
    I = X.shape[2]
    D = Y.shape[2]
    H, K, LD, mode = cfg[HIDDEN], cfg[OUTPUTS], cfg[LAYERS] * cfg[DIRS], cfg[MODE]
    drop = pdrop > 0
    b0, B = _part_rows(p, S, lens.shape[0])
    lens_p = lens[b0:b0 + B]
    offs = offs_all[p]
    ws = (ws_all[p * ws_len:p * ws_len + offs[-1]], offs)
    if t0 == 0:  # first window of the batch: the regions that must start at zero
        _r(ws, _CS)[:] = 0
        _r(ws, _DZERO)[:] = 0
    Xw = _v3(Xw_all[p], 0, T, B, I)
    for t in range(T):
        for j in range(B):
            src = idx[b0 + j]
            if t0 + t < lens_p[j]:
                for i in range(I):
                    Xw[t, j, i] = X[src, t0 + t, i]
            else:  # padding is never read: it may hold anything, even NaN
                for i in range(I):
                    Xw[t, j, i] = 0
    R = T if mode == 0 else 1
    Yw = _v3(Yw_all[p], 0, R, B, D)
    for t in range(R):
        for j in range(B):
            for i in range(D):
                Yw[t, j, i] = Y[idx[b0 + j], t0 + t if mode == 0 else 0, i]
    lw = lw_all[p, :B]
    for j in range(B):
        lw[j] = min(max(lens_p[j] - t0, 0), T)
    hcar = _v3(hcar_all[p], 0, LD, B, H)
    ccar = _v3(ccar_all[p], 0, LD, B, H)
    if not carry or t0 == 0:
        hcar[:] = 0
        ccar[:] = 0
    _set_state(ws, cfg, T, B, hcar, ccar, True)
    if drop:
        _draw_masks(ws, cfg, T, B, pdrop)
    _forward(theta, off, cfg, Xw, lw, ws, drop)
    loss_sum, cnt = head_loss(cfg[LOSS], mode, _v3(_r(ws, _LOGITS), 0, R, B, K), Yw, lens_p, t0, T,
                              _v3(_r(ws, _DLOGITS), 0, R, B, K), norm)
    if cnt > 0:
        _backward(theta, off, cfg, Xw, lw, ws, drop, g, _v3(dh0_all[p], 0, LD, B, H),
                  _v3(dc0_all[p], 0, LD, B, H), dX)
    elif norm > 0:
        g[:] = 0
    _get_state(ws, cfg, T, B, hcar, ccar)
    return loss_sum, cnt


@njit(parallel=True, **JIT_OPTIONS)
def _window_parts(S, theta, off, cfg, X, Y, idx, lens, offs_all, t0, T, carry, Xw_all, Yw_all, lw_all, ws_all,
                  ws_len, hcar_all, ccar_all, dh0_all, dc0_all, gparts, dX, norm, losses,
                  counts):  # pragma: no cover - compiled
    """:func:`_window_part` of every part, the parts in parallel (no dropout: numba's generator)."""
    for p in prange(S):
        # the parfor index may be unsigned: int64 keeps the row arithmetic integral
        loss_p, cnt_p = _window_part(np.int64(p), S, theta, off, cfg, 0.0, X, Y, idx, lens, offs_all,
                                     t0, T, carry, Xw_all, Yw_all, lw_all, ws_all, ws_len, hcar_all,
                                     ccar_all, dh0_all, dc0_all, gparts[p], dX, norm)
        losses[p] = loss_p
        counts[p] = cnt_p


@njit(**JIT_OPTIONS)
def _train_epoch(theta, grad, off, cfg, pdrop, seed, solver, opt_state, step, hyper, decay_mask,
                 X, lengths, Y, order, batch_size, bptt, carry, window_losses, spare,
                 parts):  # pragma: no cover
    """One epoch: for each batch (rows ``order``), each window of ``bptt`` steps.

    ``X`` (N, T, I), ``Y`` (N, Ty, D) batch-major. With ``carry`` each window
    starts from the previous window's final states (every layer; truncated
    BPTT), except reverse directions, which start from zero at each window's
    end; else from zeros. With ``pdrop > 0`` numba's generator is seeded once
    with ``seed`` and fresh masks are drawn for every window. One optimizer
    update per window that holds at least one item. ``spare`` is reused as
    the workspaces when long enough (see :func:`_workspace`).

    With ``parts > 1`` (never with dropout) each batch is cut into that many
    groups of rows whose forward and backward passes run in parallel
    (:func:`_window_parts`; the recurrence of a row never reads another row),
    each weighted by the whole window's item count; their gradients are summed
    in a fixed order, so results do not depend on the number of threads.
    Returns ``(loss sum, item count, number of updates, status)``; status 1
    means a non-finite loss was met and the update was not applied.
    """
    N, Tt, I = X.shape
    D = Y.shape[2]
    H = cfg[HIDDEN]
    LD = cfg[LAYERS] * cfg[DIRS]
    mode = cfg[MODE]
    dt = theta.dtype
    P = theta.shape[0]
    drop = pdrop > 0
    if drop:
        np.random.seed(seed)
    total = 0.0
    count_all = 0
    n_up = 0
    dX = np.empty((0, 1, I), dt)
    losses = np.empty(max(parts, 1), dt)
    counts = np.empty(max(parts, 1), np.int64)
    for start in range(0, N, batch_size):
        stop = min(start + batch_size, N)
        B = stop - start
        S = min(parts, B) if not drop else 1
        Bm = -(-B // S)
        idx = order[start:stop]
        lens = np.empty(B, np.int64)
        maxlen = 0
        for j in range(B):
            lens[j] = lengths[idx[j]]
            maxlen = max(maxlen, lens[j])
        Tw = min(bptt, maxlen)
        ws_len = _ws_offsets(Tw, Bm, cfg, drop)[-1]
        offs_all = np.empty((S, _DZERO + 2), np.int64)
        for q in range(S):
            offs_all[q] = _ws_offsets(Tw, _part_rows(q, S, B)[1], cfg, drop)
        ws_all = spare[:S * ws_len] if spare.shape[0] >= S * ws_len else np.empty(S * ws_len, dt)
        Xw_all = np.empty((S, Tw * Bm * I), dt)
        Yw_all = np.empty((S, (Tw if mode == 0 else 1) * Bm * D), dt)
        lw_all = np.empty((S, Bm), np.int64)
        hcar_all = np.empty((S, LD * Bm * H), dt)
        ccar_all = np.empty((S, LD * Bm * H), dt)
        dh0_all = np.empty((S, LD * Bm * H), dt)
        dc0_all = np.empty((S, LD * Bm * H), dt)
        gparts = np.empty((S if S > 1 else 0, P), dt)
        for t0 in range(0, maxlen, bptt):
            T = min(bptt, maxlen - t0)
            if S == 1:
                # int64 arguments, not literals: the same compiled _window_part as the parallel path
                loss_sum, cnt = _window_part(np.int64(0), np.int64(S), theta, off, cfg, pdrop, X, Y, idx,
                                             lens, offs_all, t0, T, carry, Xw_all, Yw_all, lw_all, ws_all,
                                             ws_len, hcar_all, ccar_all, dh0_all, dc0_all, grad, dX,
                                             np.int64(0))
            else:
                norm = _window_count(mode, lens, t0, T)
                _window_parts(S, theta, off, cfg, X, Y, idx, lens, offs_all, t0, T, carry, Xw_all, Yw_all,
                              lw_all, ws_all, ws_len, hcar_all, ccar_all, dh0_all, dc0_all, gparts, dX,
                              max(norm, 1), losses, counts)
                loss_sum = losses[0]
                cnt = counts[0]
                for q in range(1, S):
                    loss_sum += losses[q]
                    cnt += counts[q]
                if cnt > 0:
                    for i in range(P):
                        acc = gparts[0, i]
                        for q in range(1, S):
                            acc += gparts[q, i]
                        grad[i] = acc
            if not np.isfinite(loss_sum):
                return total, count_all, n_up, 1
            if cnt > 0:
                apply_update(solver, theta, grad, opt_state, step, hyper, decay_mask)
                window_losses[n_up] = loss_sum / cnt
                n_up += 1
                total += loss_sum
                count_all += cnt
    return total, count_all, n_up, 0


@njit(**JIT_OPTIONS)
def _predict(theta, off, cfg, X, lengths, h0, c0, chunk, out, hT, cT, hseq, spare):  # pragma: no cover
    """Head outputs (raw) of every sequence of ``X`` (N, T, I), in row chunks; no dropout.

    ``out`` is (N, T, K) for per-step output or (N, 1, K) for last-step output;
    ``hT``/``cT`` (L*D, N, H) receive the final states, ``hseq`` (N, T, D*H),
    unless empty, the top layer's per-step outputs.
    """
    N, Tt, I = X.shape
    H, K, L, D = cfg[HIDDEN], cfg[OUTPUTS], cfg[LAYERS], cfg[DIRS]
    LD = L * D
    mode = cfg[MODE]
    dt = theta.dtype
    for start in range(0, N, chunk):
        stop = min(start + chunk, N)
        B = stop - start
        maxlen = 0
        for j in range(B):
            maxlen = max(maxlen, lengths[start + j])
        T = max(maxlen, 1)
        ws = _workspace(T, B, cfg, theta, False, spare)
        Xw = np.empty((T, B, I), dt)
        for t in range(T):
            for j in range(B):
                if t < lengths[start + j]:
                    Xw[t, j] = X[start + j, t]
                else:
                    Xw[t, j] = 0
        _set_state(ws, cfg, T, B, np.ascontiguousarray(h0[:, start:stop]),
                   np.ascontiguousarray(c0[:, start:stop]), False)
        lens = lengths[start:stop]
        _forward(theta, off, cfg, Xw, lens, ws, False)
        hTc = np.empty((LD, B, H), dt)
        cTc = np.zeros((LD, B, H), dt)
        _get_state(ws, cfg, T, B, hTc, cTc)
        hT[:, start:stop] = hTc
        cT[:, start:stop] = cTc
        logits = _v3(_r(ws, _LOGITS), 0, T if mode == 0 else 1, B, K)
        top = _layer_out(ws, cfg, L - 1, T, B)
        for j in range(B):
            Lj = lengths[start + j]
            if mode == 0:
                for t in range(Lj):
                    out[start + j, t] = logits[t, j]
            else:
                out[start + j, 0] = logits[0, j]
            if hseq.shape[0] > 0:
                for t in range(Lj):
                    hseq[start + j, t] = top[t * B + j]


# --------------------------------------------------------------------------- Python side
_BLAS_CONTROLLER = []


def _blas_threads(uses_blas):
    """Context limiting BLAS to :data:`rnnkit._config.BLAS_THREADS` threads when ``uses_blas``."""
    if not uses_blas or _config.BLAS_THREADS is None:
        return contextlib.nullcontext()
    if not _BLAS_CONTROLLER:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba calls: loaded before looking)
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER.append(ThreadpoolController())
    return _BLAS_CONTROLLER[0].limit(limits=_config.BLAS_THREADS, user_api="blas")


class Network:
    """Stacked recurrent layers and a dense head, described over a flat parameter vector.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="rnn"
        Cell family.
    input_size : int, default=1
        Features per time step.
    hidden_size : int, default=32
        Units of the recurrent state (per direction).
    output_size : int, default=1
        Outputs of the dense head (classes for cross-entropy).
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of the ``"rnn"`` cell (ignored by the others).
    bias : bool, default=True
        Whether the recurrent layers and the head have biases (``bias_ih``,
        ``bias_hh``, ``bias_out``; layer-norm biases are always there).
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error"}, default="cross_entropy"
        Loss, with its output activation (see :mod:`rnnkit.losses`).
    output : {"sequence", "last"}, default="sequence"
        Head at every valid step, or once per sequence on its final features:
        the top layer's forward state at the sequence's last valid step,
        concatenated with the reverse direction's state after it has read the
        whole sequence (PyTorch's ``h_n``).
    forget_bias : float or None, default=None
        For ``"lstm"``: initial value of the forget gate's bias (``bias_ih``
        block f of every layer and direction; ``bias_hh`` block f starts at
        0). With ``layer_norm`` it initialises the f block of ``ln_bias``
        instead (added after the normalisation, where a shift is not
        cancelled, as TensorFlow's ``LayerNormBasicLSTMCell`` does). ``None``
        keeps PyTorch's uniform initialisation.
    num_layers : int, default=1
        Stacked recurrent layers; layer ``k + 1`` reads layer ``k``'s per-step
        outputs.
    bidirectional : bool, default=False
        Add a reverse direction to every layer, reading each sequence
        backwards within its own length; per-step outputs are (forward,
        reverse) concatenated.
    peephole : bool, default=False
        LSTM only: diagonal peephole weights from the cell state to the input
        and forget gates (``c_{t-1}``) and the output gate (``c_t``).
    layer_norm : bool, default=False
        Layer-normalised cells (see :mod:`rnnkit.cells.rnn`,
        :mod:`rnnkit.cells.lstm`, :mod:`rnnkit.cells.gru` for the formulas).
    dropout : float, default=0.0
        Inverted dropout probability on the outputs of every layer below the
        top and on the features fed to the head (never on the recurrent
        path); active in :meth:`loss_and_grad` and :meth:`train_epoch`, off in
        :meth:`predict`.

    Attributes
    ----------
    shapes : dict
        Parameter name -> shape, in layout order. For each layer ``k`` and
        direction (suffix ``""`` or ``"_reverse"``), PyTorch's
        ``weight_ih_l{k}`` (G*H, I for k=0 else D*H), ``weight_hh_l{k}`` (G*H, H),
        ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), then with ``peephole``
        ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,), then
        with ``layer_norm`` the gains ``ln_weight_l{k}`` and biases
        ``ln_bias_l{k}`` (G*H,, one normalisation per gate block, gate order)
        and, for the LSTM, ``ln_cell_weight_l{k}``, ``ln_cell_bias_l{k}`` (H,);
        finally the head ``weight_out`` (K, D*H) and ``bias_out`` (K,).
    offsets : ndarray of shape (len(shapes) + 1,)
        Start of each parameter in the flat vector, and its length.
    size : int
        Length of the flat parameter vector.
    decay_mask_ : ndarray of shape (size,)
        1 on weights (every name starting with ``weight``, peepholes
        included), 0 on biases and layer-norm gains/biases.
    num_directions : int
        2 when bidirectional, else 1.

    Notes
    -----
    States ``h0``, ``c0``, ``hT``, ``cT`` have PyTorch's shape
    (num_layers * num_directions, N, hidden_size), ordered layer by layer,
    forward before reverse. A reverse direction's initial state is its state
    before it reads a sequence's last valid step; its final state is the one
    after reading the first step.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.network import Network
    >>> net = Network("gru", input_size=2, hidden_size=3, output_size=4)
    >>> theta = net.init_params(random_state=0)
    >>> {k: v.shape for k, v in net.coefs(theta).items()}["weight_hh_l0"]
    (9, 3)
    >>> X = np.zeros((5, 7, 2)); y = np.zeros((5, 7), dtype=int)
    >>> loss, grads = net.loss_and_grad(theta, X, np.full(5, 7), y)
    >>> bool(abs(loss - np.log(4)) < 0.5), grads["grad"].shape == theta.shape
    (True, True)
    >>> grads["hT"].shape
    (1, 5, 3)
    """

    def __init__(self, cell="rnn", input_size=1, hidden_size=32, output_size=1,
                 nonlinearity="tanh", bias=True, loss="cross_entropy", output="sequence",
                 forget_bias=None, num_layers=1, bidirectional=False, peephole=False,
                 layer_norm=False, dropout=0.0):
        for name, value, allowed in (("cell", cell, CELLS), ("nonlinearity", nonlinearity, NONLINEARITIES),
                                     ("loss", loss, LOSSES), ("output", output, OUTPUT_MODES)):
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not one of {sorted(allowed)}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("output_size", output_size), ("num_layers", num_layers)):
            if isinstance(value, (bool, np.bool_)) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if peephole and cell != "lstm":
            raise ValueError(f"peephole=True needs cell='lstm', got cell={cell!r}")
        dropout = float(dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.cell, self.nonlinearity, self.bias = cell, nonlinearity, bool(bias)
        self.loss, self.output, self.forget_bias = loss, output, forget_bias
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.output_size = int(output_size)
        self.num_layers, self.bidirectional = int(num_layers), bool(bidirectional)
        self.peephole, self.layer_norm, self.dropout = bool(peephole), bool(layer_norm), dropout
        self.num_directions = 2 if self.bidirectional else 1
        code, module = CELLS[cell]
        G, H, I, K = module.N_GATES, self.hidden_size, self.input_size, self.output_size
        L, D = self.num_layers, self.num_directions
        self.n_gates = G
        nb = 1 if self.bias else 0
        self.shapes = {}
        layer_blocks = []  # per (layer, direction): names of its 6 blocks
        for k in range(L):
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                self.shapes["weight_ih" + sfx] = (G * H, I if k == 0 else D * H)
                self.shapes["weight_hh" + sfx] = (G * H, H)
                self.shapes["bias_ih" + sfx] = (nb * G * H,)
                self.shapes["bias_hh" + sfx] = (nb * G * H,)
                blocks = ["weight_ih" + sfx, "weight_hh" + sfx, "bias_ih" + sfx, "bias_hh" + sfx]
                if self.peephole:
                    for g in "ifo":
                        self.shapes[f"weight_c{g}" + sfx] = (H,)
                    blocks.append("weight_ci" + sfx)
                else:
                    blocks.append(None)
                if self.layer_norm:
                    self.shapes["ln_weight" + sfx] = (G * H,)
                    self.shapes["ln_bias" + sfx] = (G * H,)
                    if cell == "lstm":
                        self.shapes["ln_cell_weight" + sfx] = (H,)
                        self.shapes["ln_cell_bias" + sfx] = (H,)
                    blocks.append("ln_weight" + sfx)
                else:
                    blocks.append(None)
                layer_blocks.append(blocks)
        self.shapes["weight_out"] = (K, D * H)
        self.shapes["bias_out"] = (nb * K,)
        sizes = [int(np.prod(s)) for s in self.shapes.values()]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])
        start = {name: int(self.offsets[i]) for i, name in enumerate(self.shapes)}
        # kernel offset table: per (layer, direction) the starts of its blocks and its end
        off = np.zeros((L * D + 1, _N_OFF), dtype=np.int64)
        for idx, blocks in enumerate(layer_blocks):
            end = start[blocks[3]] + nb * G * H
            nxt = start["weight_out"] if idx == L * D - 1 else start[layer_blocks[idx + 1][0]]
            ln_start = start[blocks[5]] if blocks[5] else nxt
            peep_start = start[blocks[4]] if blocks[4] else ln_start
            assert end == peep_start
            off[idx] = [start[blocks[0]], start[blocks[1]], start[blocks[2]], start[blocks[3]],
                        peep_start, ln_start, nxt]
        off[L * D, :3] = [start["weight_out"], start["bias_out"], self.size]
        self._off = off
        self.cfg = np.array([code, NONLINEARITIES[nonlinearity], I, H, K, LOSSES[loss],
                             OUTPUT_MODES[output], nb, L, D, int(self.peephole), int(self.layer_norm),
                             module.cache_width(H, self.layer_norm)], dtype=np.int64)
        self.decay_mask_ = np.zeros(self.size)
        for k, name in enumerate(self.shapes):
            if name.startswith("weight"):
                self.decay_mask_[self.offsets[k]:self.offsets[k + 1]] = 1.0

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_spare", None)  # scratch memory, not part of the model
        state.pop("_decay_cast", None)
        return state

    def _spare_buffer(self, n, dtype):
        """A flat scratch array of at least ``n`` elements kept between calls (empty when too big)."""
        if n > _config.MAX_KEPT_WORKSPACE:
            return np.empty(0, dtype)
        buf = self.__dict__.get("_spare")
        if buf is None or buf.dtype != dtype or buf.shape[0] < n:
            buf = np.empty(n, dtype)
            self._spare = buf
        return buf

    def _uses_blas(self, batch):
        """Whether the per-step recurrent products of ``batch`` rows go to BLAS."""
        return batch * self.n_gates * self.hidden_size * self.hidden_size >= BLAS_MIN_WORK

    def _parts(self, batch):
        """Groups of rows a training batch is cut into, run in parallel (see :func:`_train_epoch`).

        Only with single-threaded BLAS (never both kinds of threads at once),
        without dropout (its masks come from numba's generator), and when each
        part's per-step products still go to BLAS. Does not depend on the
        number of cores, so results do not either.
        """
        if (_config.TRAIN_PARTS > 1 and _config.BLAS_THREADS == 1 and self.dropout == 0
                and self._uses_blas(batch // _config.TRAIN_PARTS)):
            return int(_config.TRAIN_PARTS)
        return 1

    @property
    def has_cell_state(self):
        """Whether the cell carries a cell state ``c`` besides ``h`` (LSTM)."""
        return CELLS[self.cell][1].HAS_CELL_STATE

    @property
    def n_states(self):
        """Leading dimension of the states: ``num_layers * num_directions``."""
        return self.num_layers * self.num_directions

    def init_params(self, random_state=None, dtype=np.float64):
        """A new flat parameter vector, initialised as PyTorch does.

        Every recurrent weight and bias (peepholes included) is drawn from
        ``U(-1/sqrt(H), 1/sqrt(H))``; the head from
        ``U(-1/sqrt(D*H), 1/sqrt(D*H))`` (``nn.Linear``'s default). Layer-norm
        gains start at 1 and layer-norm biases at 0. ``forget_bias`` (LSTM)
        is applied as documented in the class. For the layer-normalised GRU
        the r and z blocks of every ``bias_ih_l{k}[_reverse]`` start at 1.0
        and those of ``bias_hh`` at 0 (the tutorial's gate bias of 1.0).

        Parameters
        ----------
        random_state : int, RandomState or None
            Seed or generator.
        dtype : dtype, default=np.float64
            ``np.float32`` or ``np.float64``.

        Returns
        -------
        ndarray of shape (size,)
        """
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        H = self.hidden_size
        bound = 1.0 / np.sqrt(H)
        theta = rng.uniform(-bound, bound, self.size).astype(dtype)
        c = self.coefs(theta)
        if self.num_directions > 1:
            for name in ("weight_out", "bias_out"):
                c[name][...] = (c[name] / np.sqrt(self.num_directions)).astype(dtype)
        for name, view in c.items():
            if name.startswith("ln_") and "weight" in name:
                view[...] = 1.0
            elif name.startswith("ln_"):
                view[...] = 0.0
        for name in self.shapes:
            if not name.startswith("bias_ih"):
                continue
            hh = name.replace("bias_ih", "bias_hh")
            if self.forget_bias is not None and self.cell == "lstm":
                if self.layer_norm:
                    c[name.replace("bias_ih", "ln_bias")][H:2 * H] = self.forget_bias
                elif self.bias:
                    c[name][H:2 * H] = self.forget_bias
                    c[hh][H:2 * H] = 0.0
            if self.layer_norm and self.cell == "gru" and self.bias:
                c[name][:2 * H] = 1.0
                c[hh][:2 * H] = 0.0
        return theta

    def _decay_mask(self, dtype):
        """:attr:`decay_mask_` in ``dtype``, converted once."""
        cached = self.__dict__.get("_decay_cast")
        if cached is None or cached.dtype != dtype or cached.shape != self.decay_mask_.shape:
            cached = self.decay_mask_.astype(dtype)
            self._decay_cast = cached
        return cached

    def coefs(self, theta):
        """Named views (PyTorch names, shapes and gate order) into ``theta``.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameter vector.

        Returns
        -------
        dict of str to ndarray
            Views: writing into them writes into ``theta``. Names and shapes
            as in :attr:`shapes`.
        """
        return {name: theta[self.offsets[k]:self.offsets[k + 1]].reshape(shape)
                for k, (name, shape) in enumerate(self.shapes.items())}

    def flatten(self, coefs, dtype=np.float64):
        """Inverse of :meth:`coefs`: a flat vector from named arrays.

        Parameters
        ----------
        coefs : dict of str to array-like
            One entry per name in :attr:`shapes`, of that shape.
        dtype : dtype, default=np.float64
            Precision of the result.

        Returns
        -------
        ndarray of shape (size,)
        """
        theta = np.empty(self.size, dtype=dtype)
        views = self.coefs(theta)
        for name, shape in self.shapes.items():
            value = np.asarray(coefs[name])
            if value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
            views[name][...] = value
        return theta

    # -- helpers ---------------------------------------------------------------------
    def targets(self, Y, dtype):
        """Targets as the (N, Ty, D) float array the kernels read.

        Parameters
        ----------
        Y : array-like
            Class indices (N, T) / (N,) for cross-entropy, else (N, T, K) / (N, K).
        dtype : dtype
            Precision of the parameters.

        Returns
        -------
        ndarray of shape (N, Ty, D)
        """
        Y = np.asarray(Y, dtype=dtype)
        if self.loss == "cross_entropy":
            Y = Y[..., None]
        if self.output == "last":
            Y = Y[:, None, :]
        return np.ascontiguousarray(Y)

    def _state(self, h, N, dtype, name):
        shape = (self.n_states, N, self.hidden_size)
        if h is None:
            return np.zeros(shape, dtype=dtype)
        h = np.ascontiguousarray(h, dtype=dtype)
        if h.shape != shape:
            raise ValueError(f"{name} has shape {h.shape}, expected {shape} "
                             "(num_layers * num_directions, n_samples, hidden_size)")
        return h

    def dropout_masks(self, seed, n_samples, n_timesteps, dtype=np.float64):
        """The dropout masks :meth:`loss_and_grad` uses for ``dropout_seed=seed``.

        Parameters
        ----------
        seed : int
            The ``dropout_seed``.
        n_samples, n_timesteps : int
            Shape of the batch ``X`` (N, T, input_size).
        dtype : dtype, default=np.float64
            Precision of the parameters.

        Returns
        -------
        list of ndarray
            One per layer, batch-major: the multiplier (0 or ``1 / (1 - p)``) of
            layer ``k``'s per-step outputs (N, T, D*H) for ``k < num_layers - 1``;
            the last one multiplies the head's input, (N, T, D*H) per step or
            (N, D*H) for last-step output. Empty when ``dropout == 0``.
        """
        if self.dropout == 0:
            return []
        N, T = int(n_samples), int(n_timesteps)
        flat = _dropout_masks(self.cfg, self.dropout, int(seed), T, N, np.empty(0, dtype))
        DH = self.num_directions * self.hidden_size
        out = []
        for k in range(self.num_layers):
            block = flat[k * T * N * DH:(k + 1) * T * N * DH]
            if k == self.num_layers - 1 and self.output == "last":
                out.append(block[:N * DH].reshape(N, DH).copy())
            else:
                out.append(block.reshape(T, N, DH).transpose(1, 0, 2).copy())
        return out

    # -- compiled entry points ---------------------------------------------------------
    def loss_and_grad(self, theta, X, lengths, Y, h0=None, c0=None, input_grad=False,
                      dropout_seed=None):
        """Mean loss over one batch and its gradient, by full backpropagation through time.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameters (float32 or float64; everything runs in this precision).
        X : ndarray of shape (N, T, input_size)
            Padded batch.
        lengths : ndarray of shape (N,)
            Valid steps of each sequence, 1 <= length <= T.
        Y : array-like
            Targets, see :meth:`targets`.
        h0, c0 : ndarray of shape (num_layers * num_directions, N, hidden_size), default=None
            Initial hidden (and, for LSTM, cell) states; zeros when None.
        input_grad : bool, default=False
            Also return the gradient with respect to ``X``.
        dropout_seed : int, default=None
            With ``dropout > 0``: seed of the masks (the same seed draws the
            same masks, see :meth:`dropout_masks`); a random one when None.

        Returns
        -------
        loss : float
            Mean loss over the batch's items.
        out : dict
            ``grad`` (size,), ``dh0``, ``dc0``, ``hT``, ``cT``
            (num_layers * num_directions, N, hidden_size) and, with
            ``input_grad``, ``dX`` (N, T, input_size).
        """
        dt = theta.dtype
        X = np.asarray(X, dtype=dt)
        N, T, I = X.shape
        Xt = np.ascontiguousarray(X.transpose(1, 0, 2))
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        Xt[np.arange(T)[:, None] >= lengths[None, :]] = 0  # padding is never read
        Yk = self.targets(Y, dt)
        Yt = np.ascontiguousarray(Yk.transpose(1, 0, 2))
        h0 = self._state(h0, N, dt, "h0")
        c0 = self._state(c0, N, dt, "c0")
        if self.dropout > 0 and dropout_seed is None:
            dropout_seed = np.random.randint(0, 2**31 - 1)
        seed = 0 if dropout_seed is None else int(dropout_seed)
        grad = np.zeros_like(theta)
        shape = (self.n_states, N, self.hidden_size)
        dh0 = np.zeros(shape, dt)
        dc0 = np.zeros(shape, dt)
        hT = np.empty(shape, dt)
        cT = np.zeros(shape, dt)
        dX = np.zeros((T if input_grad else 0, N, I), dt)
        with _blas_threads(self._uses_blas(N)):
            loss, _ = _loss_and_grad(theta, self._off, self.cfg, self.dropout, seed, Xt, lengths, Yt,
                                     h0, c0, grad, dh0, dc0, dX, hT, cT)
        out = {"grad": grad, "dh0": dh0, "dc0": dc0, "hT": hT, "cT": cT}
        if input_grad:
            out["dX"] = dX.transpose(1, 0, 2)
        return float(loss), out

    def train_epoch(self, theta, optimizer, X, lengths, Y, order=None, batch_size=None,
                    bptt_steps=None, carry=False, seed=0):
        """Train one epoch in a single compiled call.

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameters, updated in place.
        optimizer : rnnkit.optim.Optimizer
            Solver with its state (allocated on first use).
        X : ndarray of shape (N, T, input_size)
            Padded sequences, C-contiguous, same dtype as ``theta``.
        lengths : ndarray of shape (N,)
            Valid steps per sequence.
        Y : ndarray of shape (N, Ty, D)
            Targets as returned by :meth:`targets`.
        order : ndarray of shape (N,), default=None
            Row order of the epoch (a permutation); identity when None.
        batch_size : int, default=None
            Rows per batch; all rows when None.
        bptt_steps : int, default=None
            Truncated-BPTT window; the whole sequence when None.
        carry : bool, default=False
            Start each window from the previous window's final states (every
            layer's forward direction; reverse directions start from zero at
            each window's end, as they cannot see past it).
        seed : int, default=0
            Seeds the dropout masks (numba's generator, inside the call): the
            same seed gives bit-identical results.

        Returns
        -------
        mean_loss : float
            Item-weighted mean loss of the epoch's updates.
        window_losses : ndarray
            Mean loss of each update, in order.
        status : int
            0, or 1 when a non-finite loss stopped the epoch before its update.
        """
        N, T, _ = X.shape
        if optimizer.state is None or optimizer.state.shape[1] != theta.shape[0]:
            optimizer.reset(theta.shape[0], theta.dtype)
        if order is None:
            order = np.arange(N, dtype=np.int64)
        order = np.ascontiguousarray(order, dtype=np.int64)
        batch_size = N if batch_size is None else int(min(batch_size, N))
        bptt = T if bptt_steps is None else int(bptt_steps)
        n_windows = -(-N // batch_size) * -(-T // bptt)
        window_losses = np.empty(n_windows)
        grad = np.empty_like(theta)
        decay = self._decay_mask(theta.dtype)
        uses_blas = self._uses_blas(batch_size)
        parts = self._parts(batch_size)
        spare = self._spare_buffer(parts * int(_workspace_size(
            min(bptt, T), -(-batch_size // parts), self.cfg, self.dropout > 0)), theta.dtype)
        with _blas_threads(uses_blas):
            total, count, n_up, status = _train_epoch(
                theta, grad, self._off, self.cfg, self.dropout, int(seed), optimizer.code,
                optimizer.state, optimizer.step, optimizer.hyper, decay, X,
                np.ascontiguousarray(lengths, dtype=np.int64), Y, order, batch_size, bptt, bool(carry),
                window_losses, spare, parts)
        mean = total / count if count else float("nan")
        return float(mean), window_losses[:n_up].copy(), int(status)

    def predict(self, theta, X, lengths, h0=None, c0=None, chunk=256, hidden_states=False):
        """Raw head outputs and final states, running every sequence to its end (no dropout).

        Parameters
        ----------
        theta : ndarray of shape (size,)
            Flat parameters.
        X : ndarray of shape (N, T, input_size)
            Padded sequences.
        lengths : ndarray of shape (N,)
            Valid steps per sequence.
        h0, c0 : ndarray of shape (num_layers * num_directions, N, hidden_size), default=None
            Initial states; zeros when None.
        chunk : int, default=256
            Rows per compiled forward call.
        hidden_states : bool, default=False
            Also return the top layer's per-step outputs.

        Returns
        -------
        dict
            ``out`` ((N, T, K) per-step, zero past each length; or (N, K)),
            ``hT``, ``cT`` (num_layers * num_directions, N, hidden_size) and, if
            asked, ``hseq`` (N, T, D*H): the top layer's per-step outputs
            (forward, reverse concatenated), zero past each length.
        """
        dt = theta.dtype
        X = np.ascontiguousarray(X, dtype=dt)
        N, T, _ = X.shape
        K, H = self.output_size, self.hidden_size
        DH = self.num_directions * H
        out = np.zeros((N, T, K) if self.output == "sequence" else (N, 1, K), dt)
        shape = (self.n_states, N, H)
        hT = np.empty(shape, dt)
        cT = np.zeros(shape, dt)
        hseq = np.zeros((N, T, DH) if hidden_states else (0, T, DH), dt)
        chunk = int(chunk)
        B = max(min(chunk, N), 1)
        spare = self._spare_buffer(int(_workspace_size(max(T, 1), B, self.cfg, False)), dt)
        with _blas_threads(self._uses_blas(B)):
            _predict(theta, self._off, self.cfg, X, np.ascontiguousarray(lengths, dtype=np.int64),
                     self._state(h0, N, dt, "h0"), self._state(c0, N, dt, "c0"), chunk, out, hT, cT, hseq,
                     spare)
        res = {"out": out if self.output == "sequence" else out[:, 0], "hT": hT, "cT": cT}
        if hidden_states:
            res["hseq"] = hseq
        return res
