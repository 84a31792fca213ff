"""CPU kernels of the RNN cell (:mod:`rnnkit.cells.rnn`); conventions: :mod:`rnnkit.backends.cpu.cells`."""
import numpy as np
from numba import njit

from ...._config import JIT_OPTIONS
from ..gemm import step_grad, step_product
from ..linalg import all_zero, cview, min_length
from ..numeric import ln_backward, ln_forward, tanh


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, Wp, b_hh, act, peep, lnp, hs, cs, cache, tmp):
    """Run the cell over a whole (T, B) window; see the module docstring."""
    if lnp.shape[0] > 0:
        _forward_ln(xp, lengths, W_hh, Wp, b_hh, act, lnp, hs, cache, tmp)
        return
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    zero = xp.dtype.type(0)
    has_bias = b_hh.shape[0] > 0
    gh = cview(tmp[:B * H], (B, H))
    ghf = tmp[:B * H]
    full = min_length(lengths)
    n = np.uint64(B * H)
    zero0 = all_zero(hs[0])  # a window from a zero state: its first product is zero
    # scalar indexing, no row views (their reference counting dominates at small H)
    for t in range(T):
        step_product(hs[t], W_hh, Wp, gh, t == 0 and zero0)
        if t < full and not has_bias:  # every row valid: one flat loop over the step, which vectorises
            xf, hf = cview(xp[t], (B * H,)), cview(hs[t + 1], (B * H,))
            if act == 0:
                for i in range(n):
                    hf[i] = tanh(xf[i] + ghf[i])
            else:
                for i in range(n):
                    a = xf[i] + ghf[i]
                    hf[i] = a if a > zero else zero
            continue
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
def _forward_ln(xp, lengths, W_hh, Wp, b_hh, act, lnp, hs, cache, tmp):
    """:func:`forward_sequence` of the layer-normalised cell."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    zero = xp.dtype.type(0)
    has_bias = b_hh.shape[0] > 0
    gh = cview(tmp[:B * H], (B, H))
    zero0 = all_zero(hs[0])  # a window from a zero state: its first product is zero
    for t in range(T):
        hprev = hs[t]
        step_product(hprev, W_hh, Wp, gh, t == 0 and zero0)
        for b in range(B):
            out = hs[t + 1, b]
            if t >= lengths[b]:
                for j in range(H):
                    out[j] = hprev[b, j]
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
    dhs, lengths, W_hh, Wp, act, peep, lnp, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0,
    gpeep, glnp, tmp,
):
    """Backpropagate through the window (``dpre_hh`` is unused: it equals ``dpre_ih``)."""
    if lnp.shape[0] > 0:
        _backward_impl(dhs, lengths, W_hh, Wp, act, lnp, cache, hs, dh_last, dpre_ih, dh0, glnp, tmp, True)
    else:
        _backward_impl(dhs, lengths, W_hh, Wp, act, lnp, cache, hs, dh_last, dpre_ih, dh0, glnp, tmp, False)


@njit(**JIT_OPTIONS)
def _backward_impl(dhs, lengths, W_hh, Wp, act, lnp, cache, hs, dh_last, dpre_ih, dh0, glnp, tmp, ln):
    T, B, H = dhs.shape
    zero = dhs.dtype.type(0)
    one = dhs.dtype.type(1)
    dh = dh0  # running gradient w.r.t. the state entering step t (reused buffer)
    for b in range(B):
        for j in range(H):
            dh[b, j] = dh_last[b, j]
    full = min_length(lengths)
    n = np.uint64(B * H)
    dhf = cview(dh, (B * H,))
    for t in range(T - 1, -1, -1):
        da = dpre_ih[t]
        if t < full and not ln:  # every row valid: flat loops over the step, which vectorise
            daf, of, hf = cview(da, (B * H,)), cview(dhs[t], (B * H,)), cview(hs[t + 1], (B * H,))
            for i in range(n):
                g = dhf[i] + of[i]
                if act == 0:
                    daf[i] = g * (one - hf[i] * hf[i])
                else:
                    daf[i] = g if hf[i] > zero else zero
            step_grad(da, W_hh, Wp, dh, False, tmp, B * H)  # every row's running gradient is replaced
            continue
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
        step_grad(da, W_hh, Wp, dh, True, tmp, B * H)
