"""Layout of one thread block's workspace (global memory) for a window of ``T`` steps and ``R`` rows.

The one owner of the CUDA kernels' regions: :func:`ws_offsets` cuts each
block's flat slice, the kernels read a region's start as ``o[G_*]``. Arrays
inside a region are row-major in the order their comment gives.
"""

import numpy as np
from numba import cuda

from ...slots import (
    CFG_CACHE,
    CFG_DIRS,
    CFG_GATES,
    CFG_HAS_C,
    CFG_HIDDEN,
    CFG_INPUT,
    CFG_LAYERS,
    CFG_LNORM,
    CFG_MODE,
    CFG_OUTPUTS,
    CFG_SPLIT_HH,
)

(G_XW,    # (T, R, I) the window's inputs (embedded), zero past each length
 G_HS,    # (L*D, T+1, R, H) hidden states, [.., 0] the initial state
 G_CS,    # (L*D, T+1, R, H) cell states (cells with a cell state)
 G_CA,    # (L*D, T, R, CACHE) what each cell keeps for backward (as the CPU cells)
 G_YS,    # (L, T, R, D*H) every layer's per-step outputs, (forward, reverse), before dropout
 G_XP,    # (T, R, G*H) input projection of the current (layer, direction)
 G_PRE,   # (R, G*H) recurrent pre-activations of the current step
 G_HL,    # (R, D*H) final features of last-step output
 G_LG,    # (Tl, R, K) head outputs
 G_DL,    # (Tl, R, K) their gradient (of the weighted loss sum)
 G_IT,    # (Tl, R) each item's weighted loss
 G_DY,    # (2, T, R, D*H) gradients of a layer's outputs and of its input
 G_DPI,   # (T, R, G*H) gradient of the input pre-activations
 G_DPH,   # (T, R, G*H) gradient of the recurrent pre-activations (split cells)
 G_DLN,   # (T, R, LNW) gradient of the layer-normalised values (LNW = G*H, + H for the LSTM cell)
 G_DH,    # (R, H) running gradient of the hidden state
 G_DC,    # (R, H) running gradient of the cell state
 G_DCH,   # (R, H) scratch: the cell-state share of the output gradient
 G_DHL,   # (R, D*H) gradient of the last-step features
 G_DXW,   # (T, R, I) gradient of the window's inputs
 G_WT,    # (H + max(I, D*H), G*H) the current (layer, direction)'s W_hh and W_ih transposed
 ) = range(21)
N_G = 21


def ln_width(cfg):
    """Layer-normalised values per step and row (0 without layer norm)."""
    if not cfg[CFG_LNORM]:
        return 0
    H = int(cfg[CFG_HIDDEN])
    return int(cfg[CFG_GATES]) * H + (H if cfg[CFG_HAS_C] else 0)


def ws_offsets(T, R, cfg):
    """Offsets (``N_G + 1``) of one block's regions for ``T`` steps of ``R`` rows."""
    I, H, K = (int(cfg[s]) for s in (CFG_INPUT, CFG_HIDDEN, CFG_OUTPUTS))
    L, D = int(cfg[CFG_LAYERS]), int(cfg[CFG_DIRS])
    GH, DH, LD = int(cfg[CFG_GATES]) * H, D * H, L * D
    Tl = T if cfg[CFG_MODE] == 0 else 1
    has_c = bool(cfg[CFG_HAS_C])
    sizes = [T * R * I, LD * (T + 1) * R * H, LD * (T + 1) * R * H if has_c else 0,
             LD * T * R * int(cfg[CFG_CACHE]), L * T * R * DH, T * R * GH, R * GH, R * DH, Tl * R * K,
             Tl * R * K, Tl * R, 2 * T * R * DH, T * R * GH, T * R * GH if cfg[CFG_SPLIT_HH] else 0,
             T * R * ln_width(cfg), R * H, R * H, R * H, R * DH, T * R * I, GH * (H + max(I, DH))]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


@cuda.jit(device=True, inline=True)
def split3(w, b, c):
    """Flat index ``w`` of a row-major (., ``b``, ``c``) range as its three indices (kernels' work items)."""
    a = w // (b * c)
    rem = w - a * b * c
    i = rem // c
    return a, i, rem - i * c
