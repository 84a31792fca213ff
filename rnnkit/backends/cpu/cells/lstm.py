"""CPU kernels of the LSTM cell (:mod:`rnnkit.cells.lstm`); conventions: :mod:`rnnkit.backends.cpu.cells`."""
from numba import njit

from ...._config import JIT_OPTIONS
from ..linalg import cview, mm_nn, mm_nt
from ..numeric import ln_backward, ln_forward, sigmoid, tanh


@njit(**JIT_OPTIONS)
def forward_sequence(xp, lengths, W_hh, b_hh, act, peep, lnp, hs, cs, cache, tmp):
    """Run the cell over a whole (T, B) window; see :mod:`rnnkit.cells.rnn`."""
    T, B, H = xp.shape[0], xp.shape[1], hs.shape[2]
    has_bias = b_hh.shape[0] > 0
    has_peep = peep.shape[0] > 0
    ln = lnp.shape[0] > 0
    gh = cview(tmp[:B * 4 * H], (B, 4 * H))
    for t in range(T):
        hprev = hs[t]
        mm_nt(hprev, W_hh, gh, False)
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
            if has_peep:
                for j in range(H):
                    a[j] += peep[j] * cp[j]
                    a[H + j] += peep[H + j] * cp[j]
            if ln:
                for q in range(3):
                    s = q * H
                    gate[10 * H + q] = ln_forward(a[s:s + H], lnp[s:s + H], lnp[4 * H + s:4 * H + s + H],
                                                  a[s:s + H], gate[5 * H + s:5 * H + s + H])
            # short loops over contiguous rows vectorise; one fused loop does not
            for j in range(2 * H):
                gate[j] = sigmoid(a[j])
            for j in range(2 * H, 3 * H):
                gate[j] = tanh(a[j])
            for j in range(H):
                c[j] = gate[H + j] * cp[j] + gate[j] * gate[2 * H + j]
            if has_peep:
                for j in range(H):
                    a[3 * H + j] += peep[2 * H + j] * c[j]
            if ln:
                s = 3 * H
                gate[10 * H + 3] = ln_forward(a[s:s + H], lnp[s:s + H], lnp[4 * H + s:4 * H + s + H],
                                              a[s:s + H], gate[5 * H + s:5 * H + s + H])
            for j in range(3 * H, 4 * H):
                gate[j] = sigmoid(a[j])
            tc = gate[4 * H:5 * H]
            if ln:
                gate[10 * H + 4] = ln_forward(c, lnp[8 * H:9 * H], lnp[9 * H:10 * H], tc, gate[9 * H:10 * H])
                for j in range(H):
                    tc[j] = tanh(tc[j])
            else:
                for j in range(H):
                    tc[j] = tanh(c[j])
            h = hs[t + 1, b]
            for j in range(H):
                h[j] = gate[3 * H + j] * tc[j]


@njit(**JIT_OPTIONS)
def backward_sequence(
    dhs, lengths, W_hh, act, peep, lnp, hs, cs, cache, dh_last, dc_last, dpre_ih, dpre_hh, dh0, dc0,
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
            if ln:
                for j in range(H):
                    tc = gate[4 * H + j]
                    og = gate[3 * H + j]
                    row[3 * H + j] = d[j] * tc * og * (one - og)
                    dch[j] = d[j] * og * (one - tc * tc)
                ln_backward(dch, lnp[8 * H:9 * H], gate[9 * H:10 * H], gate[10 * H + 4], dch,
                            glnp[8 * H:9 * H], glnp[9 * H:10 * H])
                for j in range(H):
                    dcb[j] += dch[j]
                s = 3 * H
                ln_backward(row[s:s + H], lnp[s:s + H], gate[5 * H + s:5 * H + s + H], gate[10 * H + 3],
                            row[s:s + H], glnp[s:s + H], glnp[4 * H + s:4 * H + s + H])
            else:
                for j in range(H):
                    tc = gate[4 * H + j]
                    og = gate[3 * H + j]
                    row[3 * H + j] = d[j] * tc * og * (one - og)
                    dcb[j] += d[j] * og * (one - tc * tc)
            if has_peep:
                c = cs[t + 1, b]
                for j in range(H):
                    dcb[j] += row[3 * H + j] * peep[2 * H + j]
                    gpeep[2 * H + j] += row[3 * H + j] * c[j]
            for j in range(H):
                ig = gate[j]
                fg = gate[H + j]
                gg = gate[2 * H + j]
                dcj = dcb[j]
                row[j] = dcj * gg * ig * (one - ig)
                row[H + j] = dcj * cp[j] * fg * (one - fg)
                row[2 * H + j] = dcj * ig * (one - gg * gg)
                dcb[j] = dcj * fg
            if ln:
                for q in range(3):
                    s = q * H
                    ln_backward(row[s:s + H], lnp[s:s + H], gate[5 * H + s:5 * H + s + H], gate[10 * H + q],
                                row[s:s + H], glnp[s:s + H], glnp[4 * H + s:4 * H + s + H])
            if has_peep:
                for j in range(H):
                    dcb[j] += row[j] * peep[j] + row[H + j] * peep[H + j]
                    gpeep[j] += row[j] * cp[j]
                    gpeep[H + j] += row[H + j] * cp[j]
            d[:] = zero
        mm_nn(da, W_hh, dh, True)
