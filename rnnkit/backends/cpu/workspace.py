"""Workspace layout of the CPU kernels: one flat scratch buffer per window, cut into named regions.

A workspace is a pair ``ws = (buf, offs)``: the flat buffer and the offsets
of its regions (``WS_*`` of :mod:`rnnkit.slots`; region ``i`` is
``buf[offs[i]:offs[i + 1]]``). Passing two arrays between compiled functions
costs less reference counting than a tuple of many. The helpers below give
each region its shape for a window of ``T`` steps and ``B`` rows.
"""

import numpy as np
from numba import njit

from ..._config import INTERNAL, JIT_OPTIONS
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
    N_WS,
    WS_CS,
    WS_DZERO,
    WS_HL,
    WS_HS,
    WS_MASK,
    WS_XD,
    WS_YS,
)
from .gemm import TN_CHUNK, TN_PACKED, packed_len
from .linalg import cview


@njit(inline="always", **INTERNAL)
def tmp_slots(cfg, B):
    """Where the parts of the scratch region ``WS_TMP`` of a window of ``B`` rows start, and its length.

    ``(whh, tn, wih, bias, end)``: the cells' own scratch comes first
    (``B*G*H + B*H``, see :mod:`rnnkit.backends.cpu.cells`), then ``W_hh``
    packed for a pass's per-step products (``whh``), the packing scratch of
    the weights' gradients (``tn``, :func:`~rnnkit.backends.cpu.gemm.mm_tn_w`; empty where they run
    on BLAS, :data:`~rnnkit.backends.cpu.gemm.TN_PACKED`),
    ``W_ih`` packed for the input projection or the input gradient (``wih``)
    and the projection's bias (``bias``, ``G*H``). Each holds what a window
    packs once while the steps run chunk after chunk
    (:func:`~rnnkit.backends.cpu.stack.forward`, :func:`~rnnkit.backends.cpu.stack.backward`).
    """
    H = cfg[CFG_HIDDEN]
    GH = cfg[CFG_GATES] * H
    IM = max(cfg[CFG_INPUT], cfg[CFG_DIRS] * H)
    whh = B * GH + B * H
    tn = whh + max(packed_len(GH, H), packed_len(H, GH))
    wih = tn + (packed_len(max(H, IM), TN_CHUNK) if TN_PACKED else 0)
    bias = wih + max(packed_len(GH, IM), packed_len(IM, GH))
    return whh, tn, wih, bias, bias + GH


@njit(**INTERNAL)
def ws_offsets(T, B, cfg, drop):
    """Offsets (``N_WS + 1``) of the regions of a workspace for ``T`` steps of ``B`` rows."""
    I, H, K = cfg[CFG_INPUT], cfg[CFG_HIDDEN], cfg[CFG_OUTPUTS]
    L, D = cfg[CFG_LAYERS], cfg[CFG_DIRS]
    GH = cfg[CFG_GATES] * H
    DH = D * H
    LD = L * D
    IM = max(I, DH)
    Tl = T if cfg[CFG_MODE] == 0 else 1
    n_ys = L * T * B * DH
    bi = D == 2
    sizes = np.array([
        T * B * GH,                                          # WS_XP (and the gradient of the same)
        LD * (T + 1) * B * H,                                # WS_HS
        LD * (T + 1) * B * H if cfg[CFG_HAS_C] else 0,       # WS_CS
        LD * T * B * cfg[CFG_CACHE],                         # WS_CACHE
        n_ys if bi else 0,                                   # WS_YS
        n_ys if drop else 0,                                 # WS_XD
        n_ys if drop else 0,                                 # WS_MASK
        T * B * IM if bi else 0,                             # WS_XR
        B * DH,                                              # WS_HL
        Tl * B * K,                                          # WS_LOGITS
        Tl * B * K,                                          # WS_DLOGITS
        (2 if L > 1 else 1) * T * B * DH,                    # WS_DY
        T * B * H if bi else 0,                              # WS_DHS
        T * B * GH if cfg[CFG_SPLIT_HH] else 0,              # WS_DPH
        T * B * IM if bi else 0,                             # WS_DXR
        B * DH,                                              # WS_DHL
        B * H,                                               # WS_DLAST
        B * H,                                               # WS_DZERO
        tmp_slots(cfg, B)[4],                                # WS_TMP (see tmp_slots)
    ], dtype=np.int64)
    offs = np.zeros(N_WS + 1, np.int64)
    for i in range(N_WS):
        offs[i + 1] = offs[i] + sizes[i]
    return offs


@njit(**JIT_OPTIONS)
def ws_size(T, B, cfg, drop):
    """Length of a workspace for windows of up to ``T`` steps of up to ``B`` rows."""
    return ws_offsets(T, B, cfg, drop)[N_WS]


@njit(**INTERNAL)
def clear_state_regions(ws):
    """Zero the regions that must start at zero (cell states, the zero gradient)."""
    region(ws, WS_CS)[:] = 0
    region(ws, WS_DZERO)[:] = 0


# the three helpers below are inlined into their callers: called with a different
# literal region or start, a separate function would be compiled again for each
@njit(inline="always", **INTERNAL)
def region(ws, i):
    """Region ``i`` of the workspace (flat)."""
    return ws[0][ws[1][i]:ws[1][i + 1]]


@njit(inline="always", **INTERNAL)
def v2(buf, start, a, b):
    """``buf[start:start + a*b]`` as (a, b)."""
    return cview(buf[start:start + a * b], (a, b))


@njit(inline="always", **INTERNAL)
def v3(buf, start, a, b, c):
    """``buf[start:start + a*b*c]`` as (a, b, c)."""
    return cview(buf[start:start + a * b * c], (a, b, c))


@njit(inline="always", **INTERNAL)
def steps(a, t0, n):
    """Steps ``t0 .. t0 + n - 1`` of a C-contiguous (T, B, X) ``a`` as a C-contiguous view; an empty ``a``
    (a cell without a cell state) as it is."""
    if a.shape[0] == 0:
        return a
    m = a.shape[1] * a.shape[2]
    return cview(cview(a, (a.size,))[t0 * m:(t0 + n) * m], (n, a.shape[1], a.shape[2]))


@njit(**INTERNAL)
def hs_of(ws, cfg, idx, T, B):
    """Hidden states (T+1, B, H) of (layer, direction) ``idx``."""
    H = cfg[CFG_HIDDEN]
    return v3(region(ws, WS_HS), idx * (T + 1) * B * H, T + 1, B, H)


@njit(**INTERNAL)
def cs_of(ws, cfg, idx, T, B):
    """Cell states (T+1, B, H) of ``idx``, or an empty (0, B, H) array for cells without."""
    H = cfg[CFG_HIDDEN]
    if cfg[CFG_HAS_C]:
        return v3(region(ws, WS_CS), idx * (T + 1) * B * H, T + 1, B, H)
    return v3(region(ws, WS_CS), 0, 0, B, H)


@njit(**INTERNAL)
def layer_out(ws, cfg, k, T, B):
    """Per-step outputs (T*B, D*H) of layer ``k`` (before dropout)."""
    H, D = cfg[CFG_HIDDEN], cfg[CFG_DIRS]
    if D == 1:  # the hidden states themselves, steps 1..T
        return v2(region(ws, WS_HS), k * (T + 1) * B * H + B * H, T * B, H)
    return v2(region(ws, WS_YS), k * T * B * 2 * H, T * B, 2 * H)


@njit(**INTERNAL)
def layer_in(ws, cfg, k, T, B, drop):
    """What reads layer ``k``'s outputs (the next layer, or the per-step head) sees."""
    if drop:
        DH = cfg[CFG_DIRS] * cfg[CFG_HIDDEN]
        return v2(region(ws, WS_XD), k * T * B * DH, T * B, DH)
    return layer_out(ws, cfg, k, T, B)


@njit(**INTERNAL)
def head_in(ws, cfg, T, B, drop):
    """Features fed to the head: per step (T*B, D*H), or per sequence (B, D*H)."""
    L, D, H = cfg[CFG_LAYERS], cfg[CFG_DIRS], cfg[CFG_HIDDEN]
    if cfg[CFG_MODE] == 0:
        return layer_in(ws, cfg, L - 1, T, B, drop)
    if D == 1 and not drop:  # the top layer's final state itself
        return v2(region(ws, WS_HS), (L - 1) * (T + 1) * B * H + T * B * H, B, H)
    return v2(region(ws, WS_HL), 0, B, D * H)


@njit(**INTERNAL)
def mask_of(ws, cfg, k, T, B):
    """Dropout multipliers of layer ``k``'s outputs (the top layer's: the head's input)."""
    DH = cfg[CFG_DIRS] * cfg[CFG_HIDDEN]
    rows = B if (k == cfg[CFG_LAYERS] - 1 and cfg[CFG_MODE] == 1) else T * B
    return v2(region(ws, WS_MASK), k * T * B * DH, rows, DH)
