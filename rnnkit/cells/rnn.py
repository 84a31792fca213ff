"""Elman RNN cell: ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

``f`` is ``tanh`` (``act == 0``) or ``relu`` (``act == 1``). One gate
(``G = 1``). Without layer normalisation the cache is unused (width 0):
backward reads the activation from the stored hidden states.

Layer normalisation (``layer_norm=True``) normalises the pre-activation:
``h_t = f(LN(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh; ln_weight, ln_bias))`` with
``LN`` as in :func:`rnnkit._numeric.ln_forward`; the cache then holds the
normalised values ``xhat`` (H) and ``1 / sigma`` (1).

Kernel conventions shared by every cell (see :mod:`rnnkit.cells`):

* time-major arrays; ``xp`` (T, B, G*H) is the input projection
  ``x_t @ W_ih.T + b_ih`` of every step, computed by the caller as one GEMM;
* ``hs`` (T+1, B, H): ``hs[0]`` is the initial state, ``hs[t+1]`` the state
  after step ``t``; steps ``t >= lengths[b]`` copy the previous state;
* ``cs`` likewise for the LSTM cell state (unused here);
* ``peep`` (3H or 0) holds the LSTM peephole weights, ``lnp`` the
  layer-norm gains and biases (empty when the variant is off); backward
  accumulates their gradients into ``gpeep`` / ``glnp`` (zeroed by the caller);
* backward writes the gradients of the input and recurrent pre-activations
  (``dpre_ih``, ``dpre_hh``, (T, B, G*H), zero at masked steps) and of the
  initial state, from the gradients ``dhs`` (T, B, H) of every step's output
  and ``dh_last``/``dc_last`` of the final state.
"""

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS
from .._linalg import mm_nn, mm_nt
from .._numeric import ln_backward, ln_forward, tanh

N_GATES = 1
HAS_CELL_STATE = False


def cache_width(H, layer_norm=False):
    """Values kept per step and sequence for backward."""
    return H + 1 if layer_norm else 0


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, b_hh, act, peep, lnp, hs, cs, cache):  # pragma: no cover
    """Run the cell over a whole (T, B) window; see the module docstring."""
    if lnp.shape[0] > 0:
        _forward_ln(xp, lengths, W_hh, b_hh, act, lnp, hs, cache)
        return
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    zero = xp.dtype.type(0)
    has_bias = b_hh.shape[0] > 0
    gh = np.empty((B, H), xp.dtype)
    # scalar indexing, no row views (their reference counting dominates at small H)
    for t in range(T):
        mm_nt(hs[t], W_hh, gh, False)
        for b in range(B):
            if t >= lengths[b]:
                for j in range(H):
                    hs[t + 1, b, j] = hs[t, b, j]
                continue
            if has_bias:
                for j in range(H):
                    gh[b, j] += b_hh[j]
            if act == 0:
                for j in range(H):
                    hs[t + 1, b, j] = tanh(xp[t, b, j] + gh[b, j])
            else:
                for j in range(H):
                    a = xp[t, b, j] + gh[b, j]
                    hs[t + 1, b, j] = a if a > zero else zero


@njit(**JIT_OPTIONS)
def _forward_ln(xp, lengths, W_hh, b_hh, act, lnp, hs, cache):  # pragma: no cover
    """:func:`forward_sequence` of the layer-normalised cell."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    zero = xp.dtype.type(0)
    has_bias = b_hh.shape[0] > 0
    gh = np.empty((B, H), xp.dtype)
    for t in range(T):
        hprev = hs[t]
        mm_nt(hprev, W_hh, gh, False)
        for b in range(B):
            out = hs[t + 1, b]
            if t >= lengths[b]:
                out[:] = hprev[b]
                continue
            x = xp[t, b]
            g = gh[b]
            for j in range(H):
                g[j] += x[j]
            if has_bias:
                for j in range(H):
                    g[j] += b_hh[j]
            cb = cache[t, b]
            cb[H] = ln_forward(g, lnp[:H], lnp[H:], g, cb[:H])
            if act == 0:
                for j in range(H):
                    out[j] = tanh(g[j])
            else:
                for j in range(H):
                    out[j] = g[j] if g[j] > zero else zero


@njit(**JIT_OPTIONS)
def backward_sequence(
    dhs, lengths, W_hh, act, peep, lnp, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0,
    gpeep, glnp,
):  # pragma: no cover
    """Backpropagate through the window (``dpre_hh`` is unused: it equals ``dpre_ih``)."""
    if lnp.shape[0] > 0:
        _backward_impl(dhs, lengths, W_hh, act, lnp, cache, hs, dh_last, dpre_ih, dh0, glnp, True)
    else:
        _backward_impl(dhs, lengths, W_hh, act, lnp, cache, hs, dh_last, dpre_ih, dh0, glnp, False)


@njit(**JIT_OPTIONS)
def _backward_impl(dhs, lengths, W_hh, act, lnp, cache, hs, dh_last, dpre_ih, dh0, glnp,
                   ln):  # pragma: no cover
    T, B, H = dhs.shape
    zero = dhs.dtype.type(0)
    one = dhs.dtype.type(1)
    dh = dh0  # running gradient w.r.t. the state entering step t (reused buffer)
    dh[:] = dh_last
    for t in range(T - 1, -1, -1):
        da = dpre_ih[t]
        for b in range(B):
            for j in range(H):
                dh[b, j] += dhs[t, b, j]
            if t >= lengths[b]:
                for j in range(H):
                    da[b, j] = zero
                continue
            if act == 0:
                for j in range(H):
                    h = hs[t + 1, b, j]
                    da[b, j] = dh[b, j] * (one - h * h)
            else:
                for j in range(H):
                    da[b, j] = dh[b, j] if hs[t + 1, b, j] > zero else zero
            if ln:
                cb = cache[t, b]
                row = da[b]
                ln_backward(row, lnp[:H], cb[:H], cb[H], row, glnp[:H], glnp[H:])
        # masked rows keep their running gradient; valid rows get da @ W_hh
        for b in range(B):
            if t < lengths[b]:
                for j in range(H):
                    dh[b, j] = zero
        mm_nn(da, W_hh, dh, True)
