"""LSTM cell in PyTorch's formulation, gates ordered (i, f, g, o).

``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of ``W_ih x + b_ih + W_hh h + b_hh``;
``c_t = f * c_{t-1} + i * g``; ``h_t = o * tanh(c_t)``.

The cache (T, B, 5H) holds the activated gates (i, f, g, o) and ``tanh(c_t)``.
Conventions are those of :mod:`rnnkit.cells.rnn`.
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS
from .._linalg import mm_nn, mm_nt
from .._numeric import sigmoid, tanh

N_GATES = 4
CACHE_WIDTH = 5
HAS_CELL_STATE = True


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, b_hh, act, hs, cs, cache):  # pragma: no cover
    """Run the cell over a whole (T, B) window; see :mod:`rnnkit.cells.rnn`."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    has_bias = b_hh.shape[0] > 0
    gh = np.empty((B, 4 * H), xp.dtype)
    for t in range(T):
        hprev = hs[t]
        mm_nt(hprev, W_hh, gh, False)
        for b in range(B):
            if t >= lengths[b]:
                hs[t + 1, b] = hprev[b]
                cs[t + 1, b] = cs[t, b]
                continue
            x = xp[t, b]
            a = gh[b]
            if has_bias:
                for j in range(4 * H):
                    a[j] += x[j] + b_hh[j]
            else:
                for j in range(4 * H):
                    a[j] += x[j]
            gate = cache[t, b]
            # short loops over contiguous rows vectorise; one fused loop does not
            for j in range(2 * H):
                gate[j] = sigmoid(a[j])
            for j in range(2 * H, 3 * H):
                gate[j] = tanh(a[j])
            for j in range(3 * H, 4 * H):
                gate[j] = sigmoid(a[j])
            c = cs[t + 1, b]
            cp = cs[t, b]
            for j in range(H):
                c[j] = gate[H + j] * cp[j] + gate[j] * gate[2 * H + j]
            for j in range(H):
                gate[4 * H + j] = tanh(c[j])
            h = hs[t + 1, b]
            for j in range(H):
                h[j] = gate[3 * H + j] * gate[4 * H + j]


@njit(**JIT_OPTIONS)
def backward_sequence(
    dhs, lengths, W_hh, act, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0
):  # pragma: no cover
    """Backpropagate through the window (``dpre_hh`` is unused: it equals ``dpre_ih``)."""
    T, B, H = dhs.shape
    zero = dhs.dtype.type(0)
    one = dhs.dtype.type(1)
    dh = dh0
    dc = dc0
    dh[:] = dh_last
    dc[:] = dc_last
    for t in range(T - 1, -1, -1):
        da = dpre_ih[t]
        for b in range(B):
            d = dh[b]
            o = dhs[t, b]
            for j in range(H):
                d[j] += o[j]
            row = da[b]
            if t >= lengths[b]:
                row[:] = zero
                continue
            gate = cache[t, b]
            dcb = dc[b]
            cp = cs[t, b]
            for j in range(H):
                tc = gate[4 * H + j]
                og = gate[3 * H + j]
                row[3 * H + j] = d[j] * tc * og * (one - og)
                dcb[j] += d[j] * og * (one - tc * tc)
            for j in range(H):
                ig = gate[j]
                fg = gate[H + j]
                gg = gate[2 * H + j]
                dcj = dcb[j]
                row[j] = dcj * gg * ig * (one - ig)
                row[H + j] = dcj * cp[j] * fg * (one - fg)
                row[2 * H + j] = dcj * ig * (one - gg * gg)
                dcb[j] = dcj * fg
            d[:] = zero
        mm_nn(da, W_hh, dh, True)
