"""CPU kernels of the LSTM cell (:mod:`rnnkit.cells.lstm`); conventions: :mod:`rnnkit.backends.cpu.cells`."""
from numba import njit

from ...._config import JIT_OPTIONS
from ..gemm import step_grad, step_product
from ..linalg import all_zero, cview
from ..numeric import ln_backward, ln_forward, sigmoid, tanh


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, Wp, b_hh, act, peep, lnp, hs, cs, cache, tmp):
    """Run the cell over a whole (T, B) window; see :mod:`rnnkit.cells.rnn`."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    has_bias = b_hh.shape[0] > 0
    has_peep = peep.shape[0] > 0
    ln = lnp.shape[0] > 0
    gh = cview(tmp[:B * 4 * H], (B, 4 * H))
    zero0 = all_zero(hs[0])  # a window from a zero state: its first product is zero
    for t in range(T):
        hprev = hs[t]
        step_product(hprev, W_hh, Wp, gh, t == 0 and zero0)
        for b in range(B):
            if t >= lengths[b]:
                for j in range(H):
                    hs[t + 1, b, j] = hprev[b, j]
                    cs[t + 1, b, j] = cs[t, b, j]
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
            c = cs[t + 1, b]
            cp = cs[t, b]
            # per-gate slices: indexing from 0 lets LLVM drop the negative-index checks and vectorise
            ag, ao = a[2 * H:3 * H], a[3 * H:4 * H]
            gi, gf, gg = gate[:H], gate[H:2 * H], gate[2 * H:3 * H]
            go, tc = gate[3 * H:4 * H], gate[4 * H:5 * H]
            if has_peep:
                ai, af = a[:H], a[H:2 * H]
                pi, pf = peep[:H], peep[H:2 * H]
                for j in range(H):
                    ai[j] += pi[j] * cp[j]
                    af[j] += pf[j] * cp[j]
            if ln:
                for q in range(3):
                    s = q * H
                    gate[10 * H + q] = ln_forward(a[s:s + H], lnp[s:s + H], lnp[4 * H + s:4 * H + s + H],
                                                  a[s:s + H], gate[5 * H + s:5 * H + s + H])
            # short loops over contiguous rows vectorise; one fused loop does not
            for j in range(2 * H):
                gate[j] = sigmoid(a[j])
            for j in range(H):
                gg[j] = tanh(ag[j])
            for j in range(H):
                c[j] = gf[j] * cp[j] + gi[j] * gg[j]
            if has_peep:
                po = peep[2 * H:3 * H]
                for j in range(H):
                    ao[j] += po[j] * c[j]
            if ln:
                s = 3 * H
                gate[10 * H + 3] = ln_forward(ao, lnp[s:s + H], lnp[4 * H + s:4 * H + s + H], ao,
                                              gate[5 * H + s:5 * H + s + H])
            for j in range(H):
                go[j] = sigmoid(ao[j])
            if ln:
                gate[10 * H + 4] = ln_forward(c, lnp[8 * H:9 * H], lnp[9 * H:10 * H], tc, gate[9 * H:10 * H])
                for j in range(H):
                    tc[j] = tanh(tc[j])
            else:
                for j in range(H):
                    tc[j] = tanh(c[j])
            h = hs[t + 1, b]
            for j in range(H):
                h[j] = go[j] * tc[j]


@njit(**JIT_OPTIONS)
def backward_sequence(
    dhs, lengths, W_hh, Wp, act, peep, lnp, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0,
    gpeep, glnp, tmp,
):
    """Backpropagate through the window (``dpre_hh`` is unused: it equals ``dpre_ih``)."""
    T, B, H = dhs.shape
    zero = dhs.dtype.type(0)
    one = dhs.dtype.type(1)
    has_peep = peep.shape[0] > 0
    ln = lnp.shape[0] > 0
    dch = tmp[:H if ln else 0]
    dh = dh0
    dc = dc0
    for b in range(B):
        for j in range(H):
            dh[b, j] = dh_last[b, j]
            dc[b, j] = dc_last[b, j]
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
            gi, gf, gg = gate[:H], gate[H:2 * H], gate[2 * H:3 * H]
            go, gt = gate[3 * H:4 * H], gate[4 * H:5 * H]
            ri, rf, rg, ro = row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:4 * H]
            if ln:
                for j in range(H):
                    tc = gt[j]
                    og = go[j]
                    ro[j] = d[j] * tc * og * (one - og)
                    dch[j] = d[j] * og * (one - tc * tc)
                ln_backward(dch, lnp[8 * H:9 * H], gate[9 * H:10 * H], gate[10 * H + 4], dch,
                            glnp[8 * H:9 * H], glnp[9 * H:10 * H])
                for j in range(H):
                    dcb[j] += dch[j]
                s = 3 * H
                ln_backward(ro, lnp[s:s + H], gate[5 * H + s:5 * H + s + H], gate[10 * H + 3],
                            ro, glnp[s:s + H], glnp[4 * H + s:4 * H + s + H])
            else:
                for j in range(H):
                    tc = gt[j]
                    og = go[j]
                    ro[j] = d[j] * tc * og * (one - og)
                    dcb[j] += d[j] * og * (one - tc * tc)
            if has_peep:
                c = cs[t + 1, b]
                po, gpo = peep[2 * H:3 * H], gpeep[2 * H:3 * H]
                for j in range(H):
                    dcb[j] += ro[j] * po[j]
                    gpo[j] += ro[j] * c[j]
            for j in range(H):
                ig = gi[j]
                fg = gf[j]
                g = gg[j]
                dcj = dcb[j]
                ri[j] = dcj * g * ig * (one - ig)
                rf[j] = dcj * cp[j] * fg * (one - fg)
                rg[j] = dcj * ig * (one - g * g)
                dcb[j] = dcj * fg
            if ln:
                for q in range(3):
                    s = q * H
                    ln_backward(row[s:s + H], lnp[s:s + H], gate[5 * H + s:5 * H + s + H], gate[10 * H + q],
                                row[s:s + H], glnp[s:s + H], glnp[4 * H + s:4 * H + s + H])
            if has_peep:
                pi, pf, gpi, gpf = peep[:H], peep[H:2 * H], gpeep[:H], gpeep[H:2 * H]
                for j in range(H):
                    dcb[j] += ri[j] * pi[j] + rf[j] * pf[j]
                    gpi[j] += ri[j] * cp[j]
                    gpf[j] += rf[j] * cp[j]
            d[:] = zero
        step_grad(da, W_hh, Wp, dh, True, tmp, B * 4 * H)
