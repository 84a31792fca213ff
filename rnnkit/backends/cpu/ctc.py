"""CTC on the CPU: the loss and its gradient (forward-backward in log space), greedy and prefix beam decoding.

The formulas and the public functions are in :mod:`rnnkit.ctc`. Each kernel
works on the rows ``lo:hi`` of a batch with the scratch arrays it is handed
(it allocates nothing), so the caller can run row ranges on several threads
(:func:`~.threads.run_parts`); rows are independent, so results do not depend
on the split. The recursions run in float64 whatever the logits' precision:
rescaled probabilities (:func:`row_scaled`), or log-probabilities
(:func:`row_log`) for a row where those would underflow.

Extended label sequence of a row with ``L`` labels: ``S = 2 L + 1`` symbols,
blanks at even positions and ``targets[n, (s - 1) // 2]`` at odd ``s``.
"""

import numpy as np
from numba import njit

from ..._config import INTERNAL, JIT_OPTIONS

NEG_INF = -np.inf


@njit(**INTERNAL)
def log_add(a, b):
    """``log(exp(a) + exp(b))`` without overflow; ``-inf`` is the log of zero."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + np.log1p(np.exp(b - a))


@njit(**INTERNAL)
def softmax_rows(logits, n, Tn, lp, prob):
    """``lp[t]`` and ``prob[t]``: log-softmax and softmax of ``logits[n, t]`` in float64, ``t < Tn``."""
    C = logits.shape[2]
    for t in range(Tn):
        m = np.float64(logits[n, t, 0])
        for c in range(1, C):
            if logits[n, t, c] > m:
                m = np.float64(logits[n, t, c])
        s = 0.0
        for c in range(C):
            e = np.exp(np.float64(logits[n, t, c]) - m)
            prob[t, c] = e
            s += e
        lse = m + np.log(s)
        inv = 1.0 / s
        for c in range(C):
            lp[t, c] = np.float64(logits[n, t, c]) - lse
            prob[t, c] *= inv


@njit(**INTERNAL)
def symbol(targets, n, s, blank):
    """Symbol ``s`` of row ``n``'s extended label sequence."""
    return blank if s % 2 == 0 else np.int64(targets[n, (s - 1) // 2])


@njit(**INTERNAL)
def can_skip(targets, n, s, blank):
    """Whether position ``s`` may be reached from ``s - 2``: a label different from the one before it."""
    return s % 2 == 1 and s >= 2 and symbol(targets, n, s, blank) != symbol(targets, n, s - 2, blank)


@njit(**INTERNAL)
def min_frames(targets, n, L):
    """Frames an alignment of row ``n``'s ``L`` labels needs: one each, a blank between equal ones."""
    need = L
    for j in range(1, L):
        if targets[n, j] == targets[n, j - 1]:
            need += 1
    return need


#: below this, a rescaled quantity of :func:`row_scaled` has lost its precision (near float64's underflow)
TINY = 1e-250


@njit(**INTERNAL)
def row_scaled(targets, n, blank, Tn, S, prob, alpha, beta, occ, grad):
    """Forward-backward of row ``n`` in probability space, each frame rescaled to sum 1.

    Exact up to rounding, with no ``exp``/``log`` per cell: the recursions
    multiply the frames' softmax probabilities and the log-likelihood is the
    sum of the logs of the scale factors (Graves et al., 2006, section 4.1).
    Returns ``(ok, -log p)``; ``ok`` is False when a frame's probabilities
    underflow (a needed label far below float64's range), and the caller
    then runs :func:`row_log` instead.
    """
    C = prob.shape[1]
    for s in range(S):
        alpha[0, s] = 0.0
    alpha[0, 0] = prob[0, blank]
    if S > 1:
        alpha[0, 1] = prob[0, symbol(targets, n, 1, blank)]
    ll = 0.0
    for t in range(Tn):
        if t > 0:
            for s in range(S):
                a = alpha[t - 1, s]
                if s > 0:
                    a += alpha[t - 1, s - 1]
                if can_skip(targets, n, s, blank):
                    a += alpha[t - 1, s - 2]
                alpha[t, s] = a * prob[t, symbol(targets, n, s, blank)]
        total = 0.0
        for s in range(S):
            total += alpha[t, s]
        if not total > TINY:
            return False, 0.0
        ll += np.log(total)
        inv = 1.0 / total
        for s in range(S):
            alpha[t, s] *= inv
    end = alpha[Tn - 1, S - 1] + (alpha[Tn - 1, S - 2] if S > 1 else 0.0)
    if not end > TINY:
        return False, 0.0
    ll += np.log(end)
    cur = 0
    for s in range(S):
        beta[cur, s] = 0.0
    beta[cur, S - 1] = 1.0
    if S > 1:
        beta[cur, S - 2] = 1.0
    for t in range(Tn - 1, -1, -1):
        if t < Tn - 1:
            nxt = cur
            cur = 1 - cur
            total = 0.0
            for s in range(S):
                b = beta[nxt, s] * prob[t + 1, symbol(targets, n, s, blank)]
                if s + 1 < S:
                    b += beta[nxt, s + 1] * prob[t + 1, symbol(targets, n, s + 1, blank)]
                if s + 2 < S and can_skip(targets, n, s + 2, blank):
                    b += beta[nxt, s + 2] * prob[t + 1, symbol(targets, n, s + 2, blank)]
                beta[cur, s] = b
                total += b
            if not total > TINY:
                return False, 0.0
            inv = 1.0 / total
            for s in range(S):
                beta[cur, s] *= inv
        for c in range(C):
            occ[c] = 0.0
        total = 0.0
        for s in range(S):
            g = alpha[t, s] * beta[cur, s]
            occ[symbol(targets, n, s, blank)] += g
            total += g
        if not total > TINY:
            return False, 0.0
        inv = 1.0 / total
        for c in range(C):
            grad[n, t, c] = prob[t, c] - occ[c] * inv
    return True, -ll


@njit(**INTERNAL)
def row_log(targets, n, blank, Tn, S, lp, alpha, beta, occ, grad):
    """Forward-backward of row ``n`` in log space (any magnitudes); returns ``-log p``.

    ``alpha[t, s]`` is the log-probability of the alignments of the first
    ``t + 1`` frames ending in symbol ``s`` (emissions included);
    ``beta[t, s]`` that of completing from ``(t, s)`` with frames ``t + 1 ...``
    (emission at ``t`` excluded), so that ``alpha + beta`` at ``(t, s)`` is the
    log-probability of all alignments through it.
    """
    C = lp.shape[1]
    for s in range(S):
        alpha[0, s] = NEG_INF
    alpha[0, 0] = lp[0, blank]
    if S > 1:
        alpha[0, 1] = lp[0, symbol(targets, n, 1, blank)]
    for t in range(1, Tn):
        for s in range(S):
            a = alpha[t - 1, s]
            if s > 0:
                a = log_add(a, alpha[t - 1, s - 1])
            if can_skip(targets, n, s, blank):
                a = log_add(a, alpha[t - 1, s - 2])
            alpha[t, s] = a + lp[t, symbol(targets, n, s, blank)] if a != NEG_INF else NEG_INF
    ll = alpha[Tn - 1, S - 1]
    if S > 1:
        ll = log_add(ll, alpha[Tn - 1, S - 2])
    cur = 0
    for s in range(S):
        beta[cur, s] = NEG_INF
    beta[cur, S - 1] = 0.0
    if S > 1:
        beta[cur, S - 2] = 0.0
    for t in range(Tn - 1, -1, -1):
        if t < Tn - 1:  # beta at t from beta at t + 1 and the emissions of frame t + 1
            nxt = cur
            cur = 1 - cur
            for s in range(S):
                b = beta[nxt, s] + lp[t + 1, symbol(targets, n, s, blank)]
                if s + 1 < S:
                    b = log_add(b, beta[nxt, s + 1] + lp[t + 1, symbol(targets, n, s + 1, blank)])
                if s + 2 < S and can_skip(targets, n, s + 2, blank):
                    b = log_add(b, beta[nxt, s + 2] + lp[t + 1, symbol(targets, n, s + 2, blank)])
                beta[cur, s] = b
        for c in range(C):
            occ[c] = NEG_INF
        for s in range(S):
            k = symbol(targets, n, s, blank)
            occ[k] = log_add(occ[k], alpha[t, s] + beta[cur, s])
        for c in range(C):
            grad[n, t, c] = np.exp(lp[t, c]) - np.exp(occ[c] - ll)
    return -ll


@njit(**JIT_OPTIONS)
def ctc_rows(logits, targets, in_len, tgt_len, blank, lo, hi, loss, grad, lp, prob, alpha, beta, occ):
    """Loss and gradient of rows ``lo:hi``: ``loss[n]`` (N,) and ``grad[n]`` (T, C), written in place.

    Scratch, all float64: ``lp`` and ``prob`` (T, C), ``alpha`` (T, 2 S_max + 1),
    ``beta`` (2, 2 S_max + 1), ``occ`` (C,). A row whose labels cannot fit
    in its frames gets ``inf`` and a zero gradient. The gradient of
    ``-log p`` with respect to the logits is ``softmax - occupancy`` per
    frame: :func:`row_scaled` computes it, or :func:`row_log` where rescaled
    probabilities would underflow.
    """
    C = logits.shape[2]
    zero = grad.dtype.type(0)
    for n in range(lo, hi):
        Tn, L = in_len[n], tgt_len[n]
        S = 2 * L + 1
        for t in range(grad.shape[1]):
            for c in range(C):
                grad[n, t, c] = zero
        if min_frames(targets, n, L) > Tn:
            loss[n] = np.inf
            continue
        if Tn == 0:
            loss[n] = 0.0
            continue
        softmax_rows(logits, n, Tn, lp, prob)
        ok, value = row_scaled(targets, n, blank, Tn, S, prob, alpha, beta, occ, grad)
        if not ok:
            value = row_log(targets, n, blank, Tn, S, lp, alpha, beta, occ, grad)
        loss[n] = value


@njit(**JIT_OPTIONS)
def greedy_rows(logits, in_len, blank, out, counts):
    """Best-path decoding of every row: labels into ``out[n, :counts[n]]`` (``out`` (N, T))."""
    C = logits.shape[2]
    for n in range(logits.shape[0]):
        k = 0
        prev = -1
        for t in range(in_len[n]):
            best = 0
            for c in range(1, C):
                if logits[n, t, c] > logits[n, t, best]:
                    best = c
            if best != prev and best != blank:
                out[n, k] = best
                k += 1
            prev = best
        counts[n] = k


@njit(**INTERNAL)
def same_prefix(pre, i, j, m):
    """Whether beams ``i`` and ``j`` agree on their first ``m`` labels."""
    for q in range(m):
        if pre[i, q] != pre[j, q]:
            return False
    return True


@njit(**JIT_OPTIONS)
def beam_rows(logits, in_len, blank, width, lo, hi, out, counts, lp, prob, pre, plen, pb, pnb, npre, nplen,
              cand_pb, cand_pnb, cand_parent, cand_label, child):
    """Prefix beam search of rows ``lo:hi`` (CTC prefix search, Graves 2006; Hannun et al. 2014).

    Each beam is a label prefix with the log-probabilities of its alignments
    so far that end in a blank (``pb``) or in its last label (``pnb``). At
    each frame every beam stays (a blank, or its last label again) or grows by
    one label; a grown prefix that equals another beam is merged into that
    beam's probabilities. The ``width`` most probable prefixes are kept (ties
    keep the earlier candidate). Scratch: ``lp`` and ``prob`` (T, C), ``pre``/``npre``
    (W, T) int64 prefixes, ``plen``/``nplen`` (W,), ``pb``/``pnb`` (W,), the
    candidates' ``cand_*`` (W * C,) and ``child`` (W, C) int64.
    """
    C = logits.shape[2]
    for n in range(lo, hi):
        Tn = in_len[n]
        softmax_rows(logits, n, Tn, lp, prob)
        nb = 1
        plen[0] = 0
        pb[0] = 0.0
        pnb[0] = NEG_INF
        for t in range(Tn):
            # child[i, c]: the beam equal to beam i grown by label c, or -1
            for i in range(nb):
                for c in range(C):
                    child[i, c] = -1
            for j in range(nb):
                m = plen[j] - 1
                if m < 0:
                    continue
                for i in range(nb):
                    if plen[i] == m and same_prefix(pre, i, j, m):
                        child[i, pre[j, m]] = j
                        break
            # candidates 0..nb-1: the beams themselves (stay); then growths that are not beams
            nc = nb
            for j in range(nb):
                total = log_add(pb[j], pnb[j])
                cand_pb[j] = total + lp[t, blank]
                cand_pnb[j] = pnb[j] + lp[t, pre[j, plen[j] - 1]] if plen[j] > 0 else NEG_INF
                cand_parent[j] = j
                cand_label[j] = -1
            for i in range(nb):
                total = log_add(pb[i], pnb[i])
                last = pre[i, plen[i] - 1] if plen[i] > 0 else -1
                for c in range(C):
                    if c == blank:
                        continue
                    grow = pb[i] + lp[t, c] if c == last else total + lp[t, c]
                    j = child[i, c]
                    if j >= 0:
                        cand_pnb[j] = log_add(cand_pnb[j], grow)
                    else:
                        cand_pb[nc] = NEG_INF
                        cand_pnb[nc] = grow
                        cand_parent[nc] = i
                        cand_label[nc] = c
                        nc += 1
            # keep the `width` best candidates (selection; ties keep the lower index); every
            # candidate is complete here, so the beams' own arrays take the chosen ones
            nb = min(width, nc)
            for q in range(nb):
                best = -1
                best_score = NEG_INF
                for r in range(nc):
                    if cand_parent[r] >= 0:
                        score = log_add(cand_pb[r], cand_pnb[r])
                        if best < 0 or score > best_score:
                            best, best_score = r, score
                i = cand_parent[best]
                cand_parent[best] = -1  # taken
                for k in range(plen[i]):
                    npre[q, k] = pre[i, k]
                nplen[q] = plen[i]
                if cand_label[best] >= 0:
                    npre[q, nplen[q]] = cand_label[best]
                    nplen[q] += 1
                pb[q], pnb[q] = cand_pb[best], cand_pnb[best]
            for q in range(nb):
                plen[q] = nplen[q]
                for k in range(plen[q]):
                    pre[q, k] = npre[q, k]
        best = 0
        for q in range(1, nb):
            if log_add(pb[q], pnb[q]) > log_add(pb[best], pnb[best]):
                best = q
        counts[n] = plen[best]
        for k in range(plen[best]):
            out[n, k] = pre[best, k]
