"""CPU kernels of the GRU cell (:mod:`rnnkit.cells.gru`); conventions: :mod:`rnnkit.backends.cpu.cells`."""
import numpy as np
from numba import njit

from ...._config import JIT_OPTIONS, SMALL_ROW
from ..gemm import step_grad, step_product
from ..linalg import all_zero, cview, mm_nn_add
from ..numeric import ln_backward, ln_forward, sigmoid, tanh


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, Wp, b_hh, act, peep, lnp, hs, cs, cache, tmp):
    """Run the cell over a whole (T, B) window; see :mod:`rnnkit.cells.rnn`."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    one = xp.dtype.type(1)
    has_bias = b_hh.shape[0] > 0
    ln = lnp.shape[0] > 0
    gh = cview(tmp[:B * 3 * H], (B, 3 * H))
    zero0 = all_zero(hs[0])  # a window from a zero state: its first product is zero
    if not ln and H <= SMALL_ROW:
        # rows of at most SMALL_ROW units without layer norm: the gates' nonlinearities run over the
        # whole batch as flat arrays (a loop over a row's 2H or H units is too short to vectorise: the
        # MNIST-1D model's rows of 6 units ran it one unit at a time), the per-row loops in between only
        # move and add; and no row views (see SMALL_ROW). Unsigned gate offsets (``u``) spare the index
        # arithmetic numba's negative-index checks.
        u = np.uint64(H)
        u2, u3 = u + u, u + u + u
        # the r and z pre-activations, packed row after row in the first B*2H elements of ``gh``'s own
        # storage (row b's moves from 3H*b to 2H*b: each element is read before a later one lands on it)
        rz = tmp[:B * 2 * H]
        nb = tmp[B * 3 * H:B * 4 * H]  # the n gate, row after row
        for t in range(T):
            step_product(hs[t], W_hh, Wp, gh, t == 0 and zero0)
            for b in range(B):
                o = np.uint64(b) * u3
                p = np.uint64(b) * u2
                if has_bias:
                    for j in range(u2):
                        rz[p + j] = tmp[o + j] + xp[t, b, j] + b_hh[j]
                    for j in range(u):
                        cache[t, b, u3 + j] = tmp[o + u2 + j] + b_hh[u2 + j]
                else:
                    for j in range(u2):
                        rz[p + j] = tmp[o + j] + xp[t, b, j]
                    for j in range(u):
                        cache[t, b, u3 + j] = tmp[o + u2 + j]
            for i in range(B * 2 * H):
                rz[i] = sigmoid(rz[i])
            for b in range(B):
                p = np.uint64(b) * u2
                q = np.uint64(b) * u
                for j in range(u2):
                    cache[t, b, j] = rz[p + j]
                for j in range(u):
                    nb[q + j] = xp[t, b, u2 + j] + rz[p + j] * cache[t, b, u3 + j]
            for i in range(B * H):
                nb[i] = tanh(nb[i])
            for b in range(B):
                if t >= lengths[b]:
                    for j in range(u):
                        hs[t + 1, b, j] = hs[t, b, j]
                    continue
                q = np.uint64(b) * u
                for j in range(u):
                    n = nb[q + j]
                    z = cache[t, b, u + j]
                    cache[t, b, u2 + j] = n
                    hs[t + 1, b, j] = (one - z) * n + z * hs[t, b, j]
        return
    for t in range(T):
        hprev = hs[t]
        step_product(hprev, W_hh, Wp, gh, t == 0 and zero0)
        for b in range(B):
            hp = hprev[b]
            h = hs[t + 1, b]
            if t >= lengths[b]:
                for j in range(H):
                    h[j] = hp[j]
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
            # per-gate slices: indexing from 0 lets LLVM drop the negative-index checks and vectorise
            gr, gz, nb, ghn = gate[:H], gate[H:2 * H], gate[2 * H:3 * H], gate[3 * H:4 * H]
            an, xn = a[2 * H:3 * H], x[2 * H:3 * H]
            for j in range(H):
                ghn[j] = an[j]
            if ln:
                for j in range(H):
                    nb[j] = xn[j] + gr[j] * an[j]
                gate[7 * H + 2] = ln_forward(nb, lnp[2 * H:3 * H], lnp[5 * H:6 * H], nb, gate[6 * H:7 * H])
                for j in range(H):
                    nb[j] = tanh(nb[j])
            else:
                for j in range(H):
                    nb[j] = tanh(xn[j] + gr[j] * an[j])
            for j in range(H):
                z = gz[j]
                h[j] = (one - z) * nb[j] + z * hp[j]


@njit(**JIT_OPTIONS)
def backward_sequence(
    dhs, lengths, W_hh, Wp, act, peep, lnp, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0,
    gpeep, glnp, tmp,
):
    """Backpropagate through the window, filling ``dpre_ih`` and ``dpre_hh``."""
    T, B, H = dhs.shape
    zero = dhs.dtype.type(0)
    one = dhs.dtype.type(1)
    ln = lnp.shape[0] > 0
    if not ln and H <= SMALL_ROW:  # no row views: see forward_sequence
        u = np.uint64(H)
        u2, u3 = u + u, u + u + u
        for b in range(B):
            for j in range(u):
                dh0[b, j] = dh_last[b, j]
        for t in range(T - 1, -1, -1):
            for b in range(B):
                if t >= lengths[b]:
                    for j in range(u):
                        dh0[b, j] += dhs[t, b, j]
                    for j in range(u3):
                        dpre_ih[t, b, j] = zero
                        dpre_hh[t, b, j] = zero
                    continue
                # short loops over few arrays, as in forward_sequence
                for j in range(u):
                    dh0[b, j] += dhs[t, b, j]
                for j in range(u):
                    z = cache[t, b, u + j]
                    n = cache[t, b, u2 + j]
                    dpre_ih[t, b, u2 + j] = dh0[b, j] * (one - z) * (one - n * n)
                for j in range(u):
                    r = cache[t, b, j]
                    dan = dpre_ih[t, b, u2 + j]
                    dpre_hh[t, b, u2 + j] = dan * r
                    dpre_ih[t, b, j] = dan * cache[t, b, u3 + j] * r * (one - r)
                for j in range(u):
                    z = cache[t, b, u + j]
                    dpre_ih[t, b, u + j] = dh0[b, j] * (hs[t, b, j] - cache[t, b, u2 + j]) * z * (one - z)
                    dh0[b, j] = dh0[b, j] * z
                for j in range(u2):
                    dpre_hh[t, b, j] = dpre_ih[t, b, j]
            mm_nn_add(dpre_hh[t], W_hh, dh0, tmp[B * 3 * H:])
        return
    dh = dh0
    for b in range(B):
        for j in range(H):
            dh[b, j] = dh_last[b, j]
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
            gr, gz, gn, ghn = gate[:H], gate[H:2 * H], gate[2 * H:3 * H], gate[3 * H:4 * H]
            ir, iz, i_n = ri[:H], ri[H:2 * H], ri[2 * H:3 * H]
            hr, hz, h_n = rh[:H], rh[H:2 * H], rh[2 * H:3 * H]
            for j in range(H):
                r = gr[j]
                z = gz[j]
                n = gn[j]
                dj = d[j]
                dan = dj * (one - z) * (one - n * n)
                i_n[j] = dan
                h_n[j] = dan * r
                dar = dan * ghn[j] * r * (one - r)
                ir[j] = dar
                hr[j] = dar
                daz = dj * (hp[j] - n) * z * (one - z)
                iz[j] = daz
                hz[j] = daz
                d[j] = dj * z
        step_grad(dah, W_hh, Wp, dh, True, tmp, B * 3 * H)
