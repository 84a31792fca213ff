"""GRU cell in PyTorch's formulation, gates ordered (r, z, n).

``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``,
``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
``h_t = (1 - z) * n + z * h_{t-1}``.

Layer normalisation (``layer_norm=True``): the layer-normalised GRU of the
TensorFlow tutorial (``LNGRUCell``, as TensorFlow's ``LayerNormBasicGRU``):
``LN`` of :func:`rnnkit._numeric.ln_forward`, with gains/biases
``ln_weight_l{k}``, ``ln_bias_l{k}`` (3H, blocks r, z, n), on the reset and
update pre-activations and on the candidate pre-activation::

    r = sigmoid(LN_r(W_ir x + b_ir + W_hr h + b_hr))
    z = sigmoid(LN_z(W_iz x + b_iz + W_hz h + b_hz))
    n = tanh(LN_n(W_in x + b_in + r * (W_hn h + b_hn)))
    h_t = (1 - z) * n + z * h_{t-1}

The reset gate stays where PyTorch puts it (on ``W_hn h + b_hn``; the tutorial,
like TensorFlow's ``GRUCell``, multiplies ``h`` before the product), so the
weights keep PyTorch's meaning. The tutorial initialises the r and z gate bias
to 1.0: :meth:`rnnkit.network.Network.init_params` sets ``bias_ih_l{k}[:2H] = 1``
and ``bias_hh_l{k}[:2H] = 0`` (a shift common to all units of a block is removed
by the normalisation, so, as in the tutorial, it does not change the output).

The cache (T, B, 4H) holds ``r``, ``z``, ``n`` and ``W_hn h + b_hn``, plus with
layer norm the normalised pre-activations (3H) and the three ``1 / sigma``.
The input and recurrent pre-activation gradients differ in the ``n`` block
(``dpre_hh_n = r * dpre_ih_n``), so backward fills both arrays. Conventions are
those of :mod:`rnnkit.cells.rnn`.
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS
from .._linalg import mm_nn, mm_nt
from .._numeric import ln_backward, ln_forward, sigmoid, tanh

N_GATES = 3
HAS_CELL_STATE = False


def cache_width(H, layer_norm=False):
    """Values kept per step and sequence for backward."""
    return 7 * H + 3 if layer_norm else 4 * H


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, b_hh, act, peep, lnp, hs, cs, cache):  # pragma: no cover
    """Run the cell over a whole (T, B) window; see :mod:`rnnkit.cells.rnn`."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    one = xp.dtype.type(1)
    has_bias = b_hh.shape[0] > 0
    ln = lnp.shape[0] > 0
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
            if ln:
                for j in range(2 * H):
                    gate[j] = x[j] + a[j]
                for q in range(2):
                    s = q * H
                    gate[7 * H + q] = ln_forward(gate[s:s + H], lnp[s:s + H], lnp[3 * H + s:3 * H + s + H],
                                                 gate[s:s + H], gate[4 * H + s:4 * H + s + H])
                for j in range(2 * H):
                    gate[j] = sigmoid(gate[j])
            else:
                for j in range(2 * H):
                    gate[j] = sigmoid(x[j] + a[j])
            for j in range(H):
                gate[3 * H + j] = a[2 * H + j]
            if ln:
                nb = gate[2 * H:3 * H]
                for j in range(H):
                    nb[j] = x[2 * H + j] + gate[j] * a[2 * H + j]
                gate[7 * H + 2] = ln_forward(nb, lnp[2 * H:3 * H], lnp[5 * H:6 * H], nb, gate[6 * H:7 * H])
                for j in range(H):
                    nb[j] = tanh(nb[j])
            else:
                for j in range(H):
                    gate[2 * H + j] = tanh(x[2 * H + j] + gate[j] * a[2 * H + j])
            for j in range(H):
                z = gate[H + j]
                h[j] = (one - z) * gate[2 * H + j] + z * hp[j]


@njit(**JIT_OPTIONS)
def backward_sequence(
    dhs, lengths, W_hh, act, peep, lnp, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0,
    gpeep, glnp,
):  # pragma: no cover
    """Backpropagate through the window, filling ``dpre_ih`` and ``dpre_hh``."""
    T, B, H = dhs.shape
    zero = dhs.dtype.type(0)
    one = dhs.dtype.type(1)
    ln = lnp.shape[0] > 0
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
            if ln:
                # gradients w.r.t. the normalised values, then through each LN
                for j in range(H):
                    z = gate[H + j]
                    n = gate[2 * H + j]
                    ri[2 * H + j] = d[j] * (one - z) * (one - n * n)
                    ri[H + j] = d[j] * (hp[j] - n) * z * (one - z)
                s = 2 * H
                ln_backward(ri[s:s + H], lnp[s:s + H], gate[4 * H + s:4 * H + s + H], gate[7 * H + 2],
                            ri[s:s + H], glnp[s:s + H], glnp[3 * H + s:3 * H + s + H])
                for j in range(H):
                    r = gate[j]
                    dan = ri[2 * H + j]
                    rh[2 * H + j] = dan * r
                    ri[j] = dan * gate[3 * H + j] * r * (one - r)
                for q in range(2):
                    s = q * H
                    ln_backward(ri[s:s + H], lnp[s:s + H], gate[4 * H + s:4 * H + s + H], gate[7 * H + q],
                                ri[s:s + H], glnp[s:s + H], glnp[3 * H + s:3 * H + s + H])
                for j in range(2 * H):
                    rh[j] = ri[j]
                for j in range(H):
                    d[j] = d[j] * gate[H + j]
                continue
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
