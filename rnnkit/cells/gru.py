"""GRU cell in PyTorch's formulation, gates ordered (r, z, n).

``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``,
``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
``h_t = (1 - z) * n + z * h_{t-1}``.

The cache (T, B, 4H) holds ``r``, ``z``, ``n`` and ``W_hn h + b_hn``. The input
and recurrent pre-activation gradients differ in the ``n`` block
(``dpre_hh_n = r * dpre_ih_n``), so backward fills both arrays. Conventions are
those of :mod:`rnnkit.cells.rnn`.
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS
from .._linalg import mm_nn, mm_nt
from .._numeric import sigmoid, tanh

N_GATES = 3
CACHE_WIDTH = 4
HAS_CELL_STATE = False


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, b_hh, act, hs, cs, cache):  # pragma: no cover
    """Run the cell over a whole (T, B) window; see :mod:`rnnkit.cells.rnn`."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    one = xp.dtype.type(1)
    has_bias = b_hh.shape[0] > 0
    gh = np.empty((B, 3 * H), xp.dtype)
    for t in range(T):
        hprev = hs[t]
        mm_nt(hprev, W_hh, gh, False)
        for b in range(B):
            hp = hprev[b]
            h = hs[t + 1, b]
            if t >= lengths[b]:
                h[:] = hp
                continue
            x = xp[t, b]
            a = gh[b]
            if has_bias:
                for j in range(3 * H):
                    a[j] += b_hh[j]
            gate = cache[t, b]
            for j in range(2 * H):
                gate[j] = sigmoid(x[j] + a[j])
            for j in range(H):
                gate[3 * H + j] = a[2 * H + j]
            for j in range(H):
                gate[2 * H + j] = tanh(x[2 * H + j] + gate[j] * a[2 * H + j])
            for j in range(H):
                z = gate[H + j]
                h[j] = (one - z) * gate[2 * H + j] + z * hp[j]


@njit(**JIT_OPTIONS)
def backward_sequence(
    dhs, lengths, W_hh, act, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0
):  # pragma: no cover
    """Backpropagate through the window, filling ``dpre_ih`` and ``dpre_hh``."""
    T, B, H = dhs.shape
    zero = dhs.dtype.type(0)
    one = dhs.dtype.type(1)
    dh = dh0
    dh[:] = dh_last
    for t in range(T - 1, -1, -1):
        dai = dpre_ih[t]
        dah = dpre_hh[t]
        for b in range(B):
            d = dh[b]
            o = dhs[t, b]
            for j in range(H):
                d[j] += o[j]
            ri = dai[b]
            rh = dah[b]
            if t >= lengths[b]:
                ri[:] = zero
                rh[:] = zero
                continue
            gate = cache[t, b]
            hp = hs[t, b]
            for j in range(H):
                r = gate[j]
                z = gate[H + j]
                n = gate[2 * H + j]
                hn = gate[3 * H + j]
                dj = d[j]
                dan = dj * (one - z) * (one - n * n)
                ri[2 * H + j] = dan
                rh[2 * H + j] = dan * r
                dar = dan * hn * r * (one - r)
                ri[j] = dar
                rh[j] = dar
                daz = dj * (hp[j] - n) * z * (one - z)
                ri[H + j] = daz
                rh[H + j] = daz
                d[j] = dj * z
        mm_nn(dah, W_hh, dh, True)
