"""Plain-NumPy loop references for every kernel: cells, head, losses, optimizers.

Written for clarity, not speed: one sequence and one time step at a time,
float64, exact transcendental functions. Arrays are batch-major (N, T, ...),
parameters use PyTorch's names and gate order.
"""

import numpy as np

from rnnkit._gradcheck import central_differences  # noqa: F401  (one home; re-exported here)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ----------------------------------------------------------------------------- cells
def cell_step(cell, act, x, h, c, p):
    """One step of one sequence. Returns (h_new, c_new, cache)."""
    H = h.shape[0]
    W_ih, W_hh = p["weight_ih_l0"], p["weight_hh_l0"]
    b_ih = p["bias_ih_l0"] if p["bias_ih_l0"].size else np.zeros(W_ih.shape[0])
    b_hh = p["bias_hh_l0"] if p["bias_hh_l0"].size else np.zeros(W_ih.shape[0])
    gi = W_ih @ x + b_ih
    gh = W_hh @ h + b_hh
    if cell == "rnn":
        a = gi + gh
        hn = np.tanh(a) if act == "tanh" else np.maximum(a, 0.0)
        return hn, c, {"a": a}
    if cell == "lstm":
        a = gi + gh
        i, f, g, o = sigmoid(a[:H]), sigmoid(a[H:2 * H]), np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
        cn = f * c + i * g
        hn = o * np.tanh(cn)
        return hn, cn, {"i": i, "f": f, "g": g, "o": o, "c": cn, "cp": c}
    # gru
    r = sigmoid(gi[:H] + gh[:H])
    z = sigmoid(gi[H:2 * H] + gh[H:2 * H])
    n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
    hn = (1.0 - z) * n + z * h
    return hn, c, {"r": r, "z": z, "n": n, "ghn": gh[2 * H:]}


def cell_forward(cell, act, X, lengths, p, h0=None, c0=None):
    """Run a cell over padded sequences; steps past a length keep the state.

    Returns ``hseq`` (N, T, H) (the state after each step), ``hT``, ``cT``.
    """
    N, T, _ = X.shape
    H = p["weight_hh_l0"].shape[1]
    hseq = np.zeros((N, T, H))
    hT = np.zeros((N, H))
    cT = np.zeros((N, H))
    for b in range(N):
        h = np.zeros(H) if h0 is None else h0[b].astype(float)
        c = np.zeros(H) if c0 is None else c0[b].astype(float)
        for t in range(T):
            if t < lengths[b]:
                h, c, _ = cell_step(cell, act, X[b, t], h, c, p)
            hseq[b, t] = h
        hT[b], cT[b] = h, c
    return hseq, hT, cT


def cell_backward(cell, act, X, lengths, p, dhseq, h0=None, c0=None, dhT=None, dcT=None):
    """Gradients of ``sum(dhseq * hseq) + dhT.hT + dcT.cT`` by explicit BPTT.

    Returns a dict with the gradient of every parameter of ``p``, ``dX``,
    ``dh0`` and ``dc0``.
    """
    N, T, I = X.shape
    H = p["weight_hh_l0"].shape[1]
    W_ih, W_hh = p["weight_ih_l0"], p["weight_hh_l0"]
    g = {k: np.zeros_like(v, dtype=float) for k, v in p.items() if k.endswith("_l0")}
    dX = np.zeros_like(X, dtype=float)
    dh0 = np.zeros((N, H))
    dc0 = np.zeros((N, H))
    for b in range(N):
        h = np.zeros(H) if h0 is None else h0[b].astype(float)
        c = np.zeros(H) if c0 is None else c0[b].astype(float)
        hs, caches = [h], []
        for t in range(T):
            if t < lengths[b]:
                h, c, cache = cell_step(cell, act, X[b, t], h, c, p)
            else:
                cache = None
            hs.append(h)
            caches.append(cache)
        dh = np.zeros(H) if dhT is None else dhT[b].astype(float)
        dc = np.zeros(H) if dcT is None else dcT[b].astype(float)
        for t in range(T - 1, -1, -1):
            dh = dh + dhseq[b, t]
            cache = caches[t]
            if cache is None:
                continue
            hp = hs[t]
            if cell == "rnn":
                if act == "tanh":
                    da = dh * (1.0 - np.tanh(cache["a"]) ** 2)
                else:
                    da = dh * (cache["a"] > 0)
                dgi, dgh = da, da
                dh = W_hh.T @ dgh
            elif cell == "lstm":
                i, f, gg, o, cn, cp = (cache[k] for k in ("i", "f", "g", "o", "c", "cp"))
                tc = np.tanh(cn)
                do = dh * tc
                dc = dc + dh * o * (1.0 - tc ** 2)
                di, df, dg = dc * gg, dc * cp, dc * i
                da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - gg ** 2),
                                     do * o * (1 - o)])
                dc = dc * f
                dgi, dgh = da, da
                dh = W_hh.T @ dgh
            else:
                r, z, n, ghn = cache["r"], cache["z"], cache["n"], cache["ghn"]
                dn = dh * (1 - z)
                dz = dh * (hp - n)
                dan = dn * (1 - n ** 2)
                dar = dan * ghn * r * (1 - r)
                daz = dz * z * (1 - z)
                dgi = np.concatenate([dar, daz, dan])
                dgh = np.concatenate([dar, daz, dan * r])
                dh = W_hh.T @ dgh + dh * z
            g["weight_ih_l0"] += np.outer(dgi, X[b, t])
            g["weight_hh_l0"] += np.outer(dgh, hp)
            if p["bias_ih_l0"].size:
                g["bias_ih_l0"] += dgi
                g["bias_hh_l0"] += dgh
            dX[b, t] = W_ih.T @ dgi
        dh0[b], dc0[b] = dh, dc
    g.update(dX=dX, dh0=dh0, dc0=dc0)
    return g


# ----------------------------------------------------------------------------- losses
def item_loss(loss, z, y):
    """Loss of one item and its gradient w.r.t. the logits ``z``."""
    z = np.asarray(z, dtype=float)
    if loss == "cross_entropy":
        e = np.exp(z - z.max())
        p = e / e.sum()
        k = int(y)
        grad = p.copy()
        grad[k] -= 1.0
        return -np.log(p[k]), grad
    y = np.asarray(y, dtype=float)
    K = z.shape[0]
    if loss == "binary_cross_entropy":
        p = sigmoid(z)
        # -(y log p + (1 - y) log(1 - p)) written as log(1 + e^z) - y z: the same value, without
        # log(0) once p rounds to 1 (large logits, e.g. a relu network's, gave NaN or lost digits)
        value = (np.logaddexp(0.0, z) - y * z).mean()
        return value, (p - y) / K
    r = z - y
    return 0.5 * (r ** 2).mean(), r / K


# ----------------------------------------------------------------------------- network
def items(output, lengths):
    """(b, t) positions that carry a loss."""
    if output == "sequence":
        return [(b, t) for b in range(len(lengths)) for t in range(lengths[b])]
    return [(b, lengths[b] - 1) for b in range(len(lengths))]


def network_loss_and_grad(cell, act, loss, output, p, X, lengths, Y, h0=None, c0=None):
    """Mean loss of a recurrent layer + dense head, and every gradient.

    ``Y``: class indices (N, T)/(N,) for cross-entropy, else (N, T, K)/(N, K).
    """
    hseq, hT, cT = cell_forward(cell, act, X, lengths, p, h0, c0)
    W, bo = p["weight_out"], p["bias_out"]
    pos = items(output, lengths)
    dhseq = np.zeros_like(hseq)
    gW = np.zeros_like(W, dtype=float)
    gb = np.zeros(bo.shape)
    total = 0.0
    for b, t in pos:
        z = W @ hseq[b, t] + (bo if bo.size else 0.0)
        y = Y[b, t] if output == "sequence" else Y[b]
        value, dz = item_loss(loss, z, y)
        dz = dz / len(pos)
        total += value
        gW += np.outer(dz, hseq[b, t])
        if bo.size:
            gb += dz
        dhseq[b, t] += W.T @ dz
    grads = cell_backward(cell, act, X, lengths, p, dhseq, h0, c0)
    grads["weight_out"] = gW
    grads["bias_out"] = gb
    return total / len(pos), grads, hT, cT


# ----------------------------------------------------------------------------- optimizers
def optimizer_updates(solver, theta, grads, lr, momentum=0.0, nesterov=False, beta_1=0.9,
                      beta_2=0.999, rho=0.9, epsilon=1e-8, alpha=0.0, clip=None, mask=None):
    """Apply a sequence of gradients with the textbook update rules; return thetas."""
    theta = np.array(theta, dtype=float)
    mask = np.ones_like(theta) if mask is None else mask
    a = np.zeros_like(theta)
    v = np.zeros_like(theta)
    out = []
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=float) + alpha * mask * theta
        norm = np.sqrt(np.sum(g * g))
        if clip is not None and norm > clip:
            g = g * (clip / norm)
        if solver == "sgd":
            a = momentum * a + g
            step = g + momentum * a if nesterov else a
            theta = theta - lr * step
        elif solver == "adagrad":
            a = a + g * g
            theta = theta - lr * g / (np.sqrt(a) + epsilon)
        elif solver == "rmsprop":
            a = rho * a + (1 - rho) * g * g
            theta = theta - lr * g / (np.sqrt(a) + epsilon)
        else:
            a = beta_1 * a + (1 - beta_1) * g
            v = beta_2 * v + (1 - beta_2) * g * g
            mh = a / (1 - beta_1 ** t)
            vh = v / (1 - beta_2 ** t)
            theta = theta - lr * mh / (np.sqrt(vh) + epsilon)
        out.append(theta.copy())
    return out


# ----------------------------------------------------------------------------- variants
LN_EPS = 1e-5


def layer_norm(a, gain, bias):
    """``gain * (a - mean) / sqrt(var + 1e-5) + bias`` (population variance)."""
    m = a.mean()
    v = ((a - m) ** 2).mean()
    return gain * (a - m) / np.sqrt(v + LN_EPS) + bias


def variant_step(cell, act, x, h, c, p, sfx, peephole=False, ln=False):
    """One step of one sequence for the parameters of layer/direction ``sfx`` ("_l0", "_l1_reverse").

    Peephole and layer-norm formulas as documented in ``rnnkit.cells``.
    Returns (h_new, c_new).
    """
    H = h.shape[0]
    W_ih, W_hh = p["weight_ih" + sfx], p["weight_hh" + sfx]
    G = W_ih.shape[0]
    b_ih = p["bias_ih" + sfx] if p["bias_ih" + sfx].size else np.zeros(G)
    b_hh = p["bias_hh" + sfx] if p["bias_hh" + sfx].size else np.zeros(G)
    gi = W_ih @ x + b_ih
    gh = W_hh @ h + b_hh
    if ln:
        lw, lb = p["ln_weight" + sfx], p["ln_bias" + sfx]

    def norm(a, q):  # layer norm of gate block q (identity when ln is off)
        if not ln:
            return a
        return layer_norm(a, lw[q * H:(q + 1) * H], lb[q * H:(q + 1) * H])

    if cell == "rnn":
        a = norm(gi + gh, 0)
        return (np.tanh(a) if act == "tanh" else np.maximum(a, 0.0)), c
    if cell == "lstm":
        a = gi + gh
        ai, af, ag, ao = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        if peephole:
            ai = ai + p["weight_ci" + sfx] * c
            af = af + p["weight_cf" + sfx] * c
        i, f, g = sigmoid(norm(ai, 0)), sigmoid(norm(af, 1)), np.tanh(norm(ag, 2))
        cn = f * c + i * g
        if peephole:
            ao = ao + p["weight_co" + sfx] * cn
        o = sigmoid(norm(ao, 3))
        ch = layer_norm(cn, p["ln_cell_weight" + sfx], p["ln_cell_bias" + sfx]) if ln else cn
        return o * np.tanh(ch), cn
    r = sigmoid(norm(gi[:H] + gh[:H], 0))
    z = sigmoid(norm(gi[H:2 * H] + gh[H:2 * H], 1))
    n = np.tanh(norm(gi[2 * H:] + r * gh[2 * H:], 2))
    return (1.0 - z) * n + z * h, c


def network_forward(net, p, X, lengths, h0=None, c0=None, masks=None):
    """Stacked / bidirectional / dropout forward pass, one sequence at a time.

    ``net`` supplies ``cell, nonlinearity, output, num_layers, num_directions,
    hidden_size, peephole, layer_norm``; ``masks`` are the dropout multipliers
    (``Network.dropout_masks``) or None. Returns ``logits`` ((N, T, K) per
    step, zero past each length; or (N, K)), ``hT``, ``cT`` (L*D, N, H) and
    ``hseq`` (N, T, D*H), the top layer's outputs (zero past each length).
    """
    N, T, _ = X.shape
    H, L, D = net.hidden_size, net.num_layers, net.num_directions
    K = p["weight_out"].shape[0]
    hT = np.zeros((L * D, N, H))
    cT = np.zeros((L * D, N, H))
    hseq = np.zeros((N, T, D * H))
    logits = np.zeros((N, T, K)) if net.output == "sequence" else np.zeros((N, K))
    W, bo = p["weight_out"], (p["bias_out"] if p["bias_out"].size else np.zeros(K))
    for b in range(N):
        n = lengths[b]
        inp = np.array(X[b, :n], dtype=float)
        for k in range(L):
            outs = []
            for d in range(D):
                idx = k * D + d
                sfx = f"_l{k}" + ("_reverse" if d else "")
                h = np.zeros(H) if h0 is None else np.array(h0[idx, b], dtype=float)
                c = np.zeros(H) if c0 is None else np.array(c0[idx, b], dtype=float)
                seq = inp if d == 0 else inp[::-1]
                ys = []
                for t in range(n):
                    h, c = variant_step(net.cell, net.nonlinearity, seq[t], h, c, p, sfx,
                                        net.peephole, net.layer_norm)
                    ys.append(h)
                ys = np.array(ys)
                outs.append(ys if d == 0 else ys[::-1])
                hT[idx, b], cT[idx, b] = h, c
            out = np.concatenate(outs, axis=1)
            if k == L - 1:
                hseq[b, :n] = out
            if masks is not None and (k < L - 1 or net.output == "sequence"):
                out = out * masks[k][b, :n]
            inp = out
        if net.output == "sequence":
            logits[b, :n] = inp @ W.T + bo
        else:
            feat = np.concatenate([hT[(L - 1) * D + d, b] for d in range(D)])
            if masks is not None:
                feat = feat * masks[L - 1][b]
            logits[b] = W @ feat + bo
    return logits, hT, cT, hseq


def network_loss(net, p, X, lengths, Y, h0=None, c0=None, masks=None):
    """Mean item loss of :func:`network_forward` (same items as the kernels)."""
    logits, hT, cT, hseq = network_forward(net, p, X, lengths, h0, c0, masks)
    values = []
    for b, t in items(net.output, lengths):
        z = logits[b, t] if net.output == "sequence" else logits[b]
        y = Y[b, t] if net.output == "sequence" else Y[b]
        values.append(item_loss(net.loss, z, y)[0])
    return float(np.mean(values)), logits, hT, cT, hseq


# ----------------------------------------------------------------------------- CTC
def log_softmax(z):
    """Row-wise log-softmax of a 2-D array, in float64."""
    z = np.asarray(z, dtype=float)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def ctc_collapse(path, blank=0):
    """The labelling a frame path stands for: merge repeats, then drop blanks."""
    out = []
    prev = None
    for k in path:
        k = int(k)
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return tuple(out)


def ctc_min_frames(target):
    """Frames a label sequence needs: one per label plus a blank between equal neighbours."""
    target = [int(k) for k in target]
    return len(target) + sum(a == b for a, b in zip(target[:-1], target[1:], strict=True))


def ctc_bruteforce(logits, target, blank=0):
    """CTC loss of ONE sequence by enumerating every path in ``C ** T`` (tiny T, C only).

    ``logits`` (T, C) unnormalised; ``target`` a 1-D list of labels. Sums the
    probability (softmax per frame) of every path that collapses to ``target``
    and returns ``-log`` of the sum (``inf`` when no path does).
    """
    import itertools
    import math

    logp = log_softmax(logits)
    T, C = logp.shape
    target = tuple(int(k) for k in target)
    probs = []
    for path in itertools.product(range(C), repeat=T):
        if ctc_collapse(path, blank) == target:
            probs.append(math.exp(sum(logp[t, k] for t, k in enumerate(path))))
    total = math.fsum(probs)
    return math.inf if total == 0.0 else -math.log(total)


def ctc_forward_backward(logits, target, blank=0):
    """CTC loss of ONE sequence and its gradient w.r.t. the logits (Graves et al., 2006).

    Log-space forward (alpha) and backward (beta) recursions over the extended
    label sequence ``l' = (blank, l1, blank, l2, ..., blank)`` of length
    ``U = 2 L + 1``. ``alpha[t, s]``: log-probability of the frames ``0..t``
    ending in state ``s`` (emission at ``t`` included); ``beta[t, s]``: of the
    frames ``t+1..T-1`` given state ``s`` at ``t`` (emission at ``t`` excluded).
    Returns ``(nll, grad)`` with ``grad[t, k] = softmax(z_t)[k] - sum over
    s with l'_s = k of exp(alpha[t, s] + beta[t, s] + nll)`` (occupancy); an
    impossible labelling gives ``(inf, zeros)``.
    """
    logp = log_softmax(logits)
    T, C = logp.shape
    target = [int(k) for k in target]
    ext = [blank]
    for k in target:
        ext += [k, blank]
    U = len(ext)
    if T == 0:
        return (0.0, np.zeros((0, C))) if not target else (np.inf, np.zeros((0, C)))
    if ctc_min_frames(target) > T:
        return np.inf, np.zeros((T, C))

    def can_skip(s):  # may state s be entered from s - 2 (skipping the blank between)?
        return s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]

    alpha = np.full((T, U), -np.inf)
    alpha[0, 0] = logp[0, ext[0]]
    if U > 1:
        alpha[0, 1] = logp[0, ext[1]]
    for t in range(1, T):
        for s in range(U):
            a = alpha[t - 1, s]
            if s >= 1:
                a = np.logaddexp(a, alpha[t - 1, s - 1])
            if can_skip(s):
                a = np.logaddexp(a, alpha[t - 1, s - 2])
            alpha[t, s] = a + logp[t, ext[s]]

    beta = np.full((T, U), -np.inf)
    beta[T - 1, U - 1] = 0.0
    if U > 1:
        beta[T - 1, U - 2] = 0.0
    for t in range(T - 2, -1, -1):
        for s in range(U):
            b = beta[t + 1, s] + logp[t + 1, ext[s]]
            if s + 1 < U:
                b = np.logaddexp(b, beta[t + 1, s + 1] + logp[t + 1, ext[s + 1]])
            if s + 2 < U and can_skip(s + 2):
                b = np.logaddexp(b, beta[t + 1, s + 2] + logp[t + 1, ext[s + 2]])
            beta[t, s] = b

    logz = alpha[T - 1, U - 1] if U == 1 else np.logaddexp(alpha[T - 1, U - 1], alpha[T - 1, U - 2])
    nll = -logz
    grad = np.exp(logp)
    for t in range(T):
        for s in range(U):
            grad[t, ext[s]] -= np.exp(alpha[t, s] + beta[t, s] - logz)
    return float(nll), grad


def ctc_labelling_probs(logits, blank=0):
    """Every labelling of ONE sequence with its total probability (dict; tiny T, C only).

    Enumerates every path in ``C ** T``, collapses it and sums the path
    probabilities (softmax per frame) per labelling (a tuple of ints).
    """
    import itertools
    import math

    logp = log_softmax(logits)
    T, C = logp.shape
    totals = {}
    for path in itertools.product(range(C), repeat=T):
        key = ctc_collapse(path, blank)
        totals.setdefault(key, []).append(math.exp(sum(logp[t, k] for t, k in enumerate(path))))
    return {key: math.fsum(v) for key, v in totals.items()}


def ctc_exhaustive_decode(logits, blank=0):
    """Most probable labelling of ONE sequence by exhaustive search: ``(labels tuple, prob)``."""
    probs = ctc_labelling_probs(logits, blank)
    best = max(probs, key=probs.get)
    return best, probs[best]


def edit_distance(a, b):
    """Levenshtein distance (unit-cost insertions, deletions, substitutions) of two sequences."""
    a, b = list(a), list(b)
    d = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    d[:, 0] = np.arange(len(a) + 1)
    d[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return int(d[len(a), len(b)])
