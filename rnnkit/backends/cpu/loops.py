"""The compiled training and prediction loops of the CPU backend.

* :func:`window_part` - one window (``T`` steps from global step ``t0``) of
  one part of a batch: gather the rows, forward, the head's loss and backward
  (training), or the head's outputs and hidden states (prediction);
* :func:`train_epoch` - every batch and truncated-BPTT window of an epoch with
  the optimizer's updates, in one call (Python overhead does not grow with the
  number of windows); a batch split in parts runs it on one thread per rank,
  the ranks taking the parts as they come (:mod:`rnnkit.backends.cpu.sync`);
* :func:`part_backward` - backward after a loss computed outside the kernels.

None of these knows the cell: its kernels are reached through the addresses
in ``calls`` (:mod:`rnnkit.backends.cpu.calls`), so the loops
and the stack are compiled once per precision for every cell, and a further
cell compiles only its own kernels. Python calls :func:`window_part` itself
for prediction, the one-batch gradient and epochs whose loss is computed
outside the kernels; :func:`train_epoch` calls the same compiled function,
through its address.

Scratch of a batch is a :class:`Scratch` of per-part arrays (row ``p`` is
part ``p``'s), allocated by the caller for the largest window.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from ..._config import INTERNAL, JIT_OPTIONS
from ...slots import (
    CALL_BACKWARD,
    CALL_FORWARD,
    CALL_WINDOW,
    CFG_DIRS,
    CFG_HIDDEN,
    CFG_INPUT,
    CFG_LAYERS,
    CFG_LOSS,
    CFG_MODE,
    CFG_OUTPUTS,
    CFG_TOKENS,
    HEAD_END,
    N_WS,
    WS_DLOGITS,
    WS_LOGITS,
    WS_MASK,
)
from .calls import call_native
from .heads import head_loss
from .linalg import borrow
from .optim import apply_update
from .stack import backward, chunk_lengths, draw_masks, forward, get_state, set_state
from .sync import SYNC_DONE, SYNC_PARTS, SYNC_STOP, SYNC_WINDOWS, claim, count, publish, wait_for
from .workspace import clear_state_regions, layer_out, region, v3, ws_offsets

#: per-part scratch of a batch (row ``p`` of each array belongs to part ``p``):
#: ``offs`` (S, N_WS + 1) workspace offsets, ``ws`` the workspaces (part ``p``
#: at ``p * ws_len``), ``Xw``/``Yw``/``lw`` the window's inputs, targets and
#: lengths, ``hcar``/``ccar`` the states carried between windows (in: initial,
#: out: final), ``dh0``/``dc0`` the gradients of the initial states, ``dXw``
#: the gradient of the window's (embedded) inputs (empty without an embedding)
Scratch = namedtuple("Scratch", "offs ws ws_len Xw Yw lw hcar ccar dh0 dc0 dXw")


@njit(inline="always", **INTERNAL)
def borrow_scratch(sc):
    """``sc`` with every array borrowed (:func:`~rnnkit.backends.cpu.linalg.borrow`): the window's many
    views of its scratch count no references."""
    return Scratch(borrow(sc.offs), borrow(sc.ws), sc.ws_len, borrow(sc.Xw), borrow(sc.Yw), borrow(sc.lw),
                   borrow(sc.hcar), borrow(sc.ccar), borrow(sc.dh0), borrow(sc.dc0), borrow(sc.dXw))


@njit(**JIT_OPTIONS)
def part_rows(p, S, B):
    """First row and number of rows of part ``p`` of ``S`` of a batch of ``B`` rows."""
    q, r = B // S, B % S
    return p * q + min(p, r), q + (1 if p < r else 0)


@njit(**JIT_OPTIONS)
def load_state(sc, S, idx, h_state, c_state, first, step):
    """Parts ``first, first + step, ...`` of ``S``: their initial states from rows ``idx`` of ``(L*D, N, H)``
    arrays; zeros when those are empty."""
    for p in range(first, S, step):
        if h_state.shape[0] == 0:
            sc.hcar[p, :] = 0
            sc.ccar[p, :] = 0
            continue
        b0, Bp = part_rows(p, S, idx.shape[0])
        LD, H = h_state.shape[0], h_state.shape[2]
        for q in range(LD):
            for j in range(Bp):
                for k in range(H):
                    sc.hcar[p, (q * Bp + j) * H + k] = h_state[q, idx[b0 + j], k]
                    sc.ccar[p, (q * Bp + j) * H + k] = c_state[q, idx[b0 + j], k]


@njit(**JIT_OPTIONS)
def save_state(sc, S, idx, h_state, c_state, first, step):
    """Parts ``first, first + step, ...`` of ``S``: their final states into rows ``idx`` of ``(L*D, N, H)``
    arrays (nothing when those are empty)."""
    if h_state.shape[0] == 0:
        return
    LD, H = h_state.shape[0], h_state.shape[2]
    for p in range(first, S, step):
        b0, Bp = part_rows(p, S, idx.shape[0])
        for q in range(LD):
            for j in range(Bp):
                for k in range(H):
                    h_state[q, idx[b0 + j], k] = sc.hcar[p, (q * Bp + j) * H + k]
                    c_state[q, idx[b0 + j], k] = sc.ccar[p, (q * Bp + j) * H + k]


@njit(**JIT_OPTIONS)
def set_offsets(sc, cfg, T, B, drop, first, step):
    """Lay out the workspaces of parts ``first, first + step, ...`` for windows of up to ``T`` steps of a
    ``B``-row batch."""
    S = sc.offs.shape[0]
    for p in range(first, S, step):
        offs = ws_offsets(T, part_rows(p, S, B)[1], cfg, drop)
        for i in range(offs.shape[0]):
            sc.offs[p, i] = offs[i]


@njit(**INTERNAL)
def _part_ws(sc, p):
    offs = sc.offs[p]
    return sc.ws[p * sc.ws_len:p * sc.ws_len + offs[N_WS]], offs


@njit(**INTERNAL)
def load_inputs(theta, off, cfg, X, idx, b0, lens_p, t0, Xw):
    """The window's inputs ``Xw`` (T, B, I) from rows ``idx[b0:]`` of ``X``; zeros past each length.

    With an embedding (``cfg[CFG_TOKENS] > 0``) ``X[..., 0]`` holds token ids
    and each valid step gets its id's row of ``embedding.weight``.
    """
    T, B, I = Xw.shape
    emb = off[off.shape[0] - 1, HEAD_END]
    tokens = cfg[CFG_TOKENS] > 0
    for j in range(B):  # row by row: a row's steps are contiguous in X
        src = idx[b0 + j]
        n = min(max(lens_p[j] - t0, 0), T)  # padding is never read: it may hold anything, even NaN
        if tokens:
            for t in range(n):
                row = emb + np.int64(X[src, t0 + t, 0]) * I
                for i in range(I):
                    Xw[t, j, i] = theta[row + i]
        elif I == 1:  # one feature (the T5 rule stream): no inner loop (the copy took 4.6 % of its fit)
            for t in range(n):
                Xw[t, j, 0] = X[src, t0 + t, 0]
        else:
            for t in range(n):
                for i in range(I):
                    Xw[t, j, i] = X[src, t0 + t, i]
        for t in range(n, T):
            for i in range(I):
                Xw[t, j, i] = 0


@njit(**INTERNAL)
def embedding_grad(off, cfg, X, idx, b0, lw, t0, dXw, g):
    """``embedding.weight``'s gradient in ``g``: each valid step's input gradient added to its id's row."""
    T, B, I = dXw.shape
    emb = off[off.shape[0] - 1, HEAD_END]
    g[emb:emb + cfg[CFG_TOKENS] * I] = 0
    for j in range(B):
        for t in range(lw[j]):
            row = emb + np.int64(X[idx[b0 + j], t0 + t, 0]) * I
            for i in range(I):
                g[row + i] += dXw[t, j, i]


@njit(**JIT_OPTIONS)
def window_part(p, S, theta, off, cfg, pdrop, seed, X, Y, idx, lens, t0, T, sc, g, dX, train,
                reverse_zero, out, hseq, calls):
    """One window of part ``p`` of ``S`` of a batch (rows ``idx`` of ``X`` (N, Tt, I), batch-major).

    Starts from the part's states in ``sc.hcar``/``sc.ccar`` (reverse
    directions from zero when ``reverse_zero``) and leaves its final states
    there. With ``pdrop > 0`` fresh dropout masks are drawn from numba's
    generator (seeded with ``seed`` first when ``seed >= 0``). Training
    (``train``) with a built-in loss: the loss of the window's items
    (their weighted sum and total weight, see
    :func:`rnnkit.backends.cpu.heads.head_loss`) and the gradient of the
    weighted mean into ``g`` (left as it was when the part holds no item);
    with a loss computed outside (``cfg[CFG_LOSS] < 0``) it stops after the
    forward pass (the caller fills ``WS_DLOGITS`` and calls
    :func:`part_backward`). ``out`` (N, Ty, K), unless empty, receives the
    head's outputs and ``hseq`` (N, Tt, D*H), unless empty, the top layer's
    per-step outputs. ``calls`` holds the addresses of the stack's
    passes and of the cell's kernels (see :func:`train_epoch`). Returns
    ``(weighted loss sum, total weight of the items)``.
    """
    if seed >= 0:
        np.random.seed(seed)
    # the caller holds every array for the whole call: borrowed, their views count no references
    theta, g, X, Y, idx, lens, dX, out, hseq = (borrow(theta), borrow(g), borrow(X), borrow(Y), borrow(idx),
                                                 borrow(lens), borrow(dX), borrow(out), borrow(hseq))
    sc, off, cfg = borrow_scratch(sc), borrow(off), borrow(cfg)
    I = cfg[CFG_INPUT]
    Dy = Y.shape[2]
    H, K, LD, mode = cfg[CFG_HIDDEN], cfg[CFG_OUTPUTS], cfg[CFG_LAYERS] * cfg[CFG_DIRS], cfg[CFG_MODE]
    drop = pdrop > 0
    b0, B = part_rows(p, S, lens.shape[0])
    lens_p = lens[b0:b0 + B]
    ws = _part_ws(sc, p)
    if t0 == 0:
        clear_state_regions(ws)
    Xw = v3(sc.Xw[p], 0, T, B, I)
    load_inputs(theta, off, cfg, X, idx, b0, lens_p, t0, Xw)
    lw = sc.lw[p, :B]
    chunk_lengths(lens_p, t0, T, lw)
    hcar = v3(sc.hcar[p], 0, LD, B, H)
    ccar = v3(sc.ccar[p], 0, LD, B, H)
    set_state(ws, cfg, T, B, hcar, ccar, reverse_zero)
    if drop:
        draw_masks(ws, cfg, T, B, pdrop)
    call_native(forward, calls[CALL_FORWARD], calls[CALL_FORWARD + 1],
                (theta, off, cfg, Xw, lw, ws, drop, calls))
    get_state(ws, cfg, T, B, hcar, ccar)
    R = T if mode == 0 else 1
    logits = v3(region(ws, WS_LOGITS), 0, R, B, K)
    if out.shape[0] > 0:
        for j in range(B):
            for t in range(lw[j] if mode == 0 else 1):
                for k in range(K):
                    out[idx[b0 + j], t0 + t, k] = logits[t, j, k]
    if hseq.shape[0] > 0:
        top = layer_out(ws, cfg, cfg[CFG_LAYERS] - 1, T, B)
        for j in range(B):
            for t in range(lw[j]):
                for k in range(top.shape[1]):
                    hseq[idx[b0 + j], t0 + t, k] = top[t * B + j, k]
    if not train or cfg[CFG_LOSS] < 0:
        return 0.0, 0
    Yw = v3(sc.Yw[p], 0, R, B, Dy)
    for j in range(B):  # row by row: a row's steps are contiguous in Y
        src = idx[b0 + j]
        for t in range(R):
            for i in range(Dy):
                Yw[t, j, i] = Y[src, t0 + t if mode == 0 else 0, i]
    loss_sum, cnt = head_loss(cfg[CFG_LOSS], mode, logits, Yw, lens_p, t0, T,
                              v3(region(ws, WS_DLOGITS), 0, R, B, K))
    if cnt > 0:
        tokens = cfg[CFG_TOKENS] > 0
        dXb = v3(sc.dXw[p], 0, T, B, I) if tokens else dX
        call_native(backward, calls[CALL_BACKWARD], calls[CALL_BACKWARD + 1],
                    (theta, off, cfg, Xw, lw, ws, drop, g, v3(sc.dh0[p], 0, LD, B, H),
                     v3(sc.dc0[p], 0, LD, B, H), dXb, calls))
        if tokens:
            embedding_grad(off, cfg, X, idx, b0, lw, t0, dXb, g)
    return float(loss_sum), float(cnt)


@njit(**JIT_OPTIONS)
def part_backward(p, S, theta, off, cfg, pdrop, X, idx, lens, t0, T, sc, g, dX, calls):
    """Backward of part ``p`` after :func:`window_part` and a loss computed outside the kernels."""
    theta, g, X, idx, dX = borrow(theta), borrow(g), borrow(X), borrow(idx), borrow(dX)
    sc, off, cfg = borrow_scratch(sc), borrow(off), borrow(cfg)
    H, LD, I = cfg[CFG_HIDDEN], cfg[CFG_LAYERS] * cfg[CFG_DIRS], cfg[CFG_INPUT]
    b0, B = part_rows(p, S, lens.shape[0])
    Xw = v3(sc.Xw[p], 0, T, B, I)
    tokens = cfg[CFG_TOKENS] > 0
    dXb = v3(sc.dXw[p], 0, T, B, I) if tokens else dX
    call_native(backward, calls[CALL_BACKWARD], calls[CALL_BACKWARD + 1],
                (theta, off, cfg, Xw, sc.lw[p, :B], _part_ws(sc, p), pdrop > 0, g, v3(sc.dh0[p], 0, LD, B, H),
                 v3(sc.dc0[p], 0, LD, B, H), dXb, calls))
    if tokens:
        embedding_grad(off, cfg, X, idx, b0, sc.lw[p, :B], t0, dXb, g)


@njit(**INTERNAL)
def merge_parts(grad, gparts, part_res, cnt):
    """``grad`` = the parts' gradients ``gparts`` (each its items' mean), each weighted by its share of
    the window's ``cnt`` items (``part_res[:, 1]``), added in part order."""
    grad[:] = 0
    for q in range(gparts.shape[0]):
        if part_res[q, 1] > 0:
            w = grad.dtype.type(part_res[q, 1] / cnt)
            for i in range(grad.shape[0]):
                grad[i] += gparts[q, i] * w


@njit(**JIT_OPTIONS)
def train_epoch(rank, n_ranks, theta, grad, gparts, part_res, sync, off, cfg, pdrop, seed, solver,
                opt_state, step, hyper, decay_mask, X, lengths, Y, order, batch_size, bptt, carry, h_state,
                c_state, window_losses, sc, calls):
    """One epoch in one call: for each batch (rows ``order``), each window, each part of the batch.

    ``X`` (N, T, I), ``Y`` (N, Ty, D) batch-major. With ``carry`` each window
    starts from the previous window's final states (every layer; truncated
    BPTT), except reverse directions, which start from zero at each window's
    end; else from zeros. The first window of each batch starts from the
    batch's rows of ``h_state``/``c_state`` (L*D, N, H) and the last leaves
    its final states there (:func:`load_state`, :func:`save_state`); empty
    arrays mean zeros and nothing kept. With ``pdrop > 0`` numba's generator is seeded once
    with ``seed`` and fresh masks are drawn for every window. One optimizer
    update per window that holds at least one item. ``sc`` is scratch for
    ``S`` parts (``gparts`` (S, P): each part's gradient, ``grad[None]`` when
    ``S == 1``) of ``batch_size`` rows and windows of ``bptt`` steps.
    ``calls`` holds the addresses of :func:`window_part`, of the stack's
    forward and backward passes and of the cell's kernels, compiled for the
    arguments they are passed (:func:`~rnnkit.backends.cpu.calls.native_address`):
    they are called through these, so no compiled caller holds a second copy
    of its callees' code.

    A batch cut in parts (``S > 1``, built-in losses only) runs on
    ``n_ranks`` threads, each calling this with its ``rank`` (0 in the
    calling thread) and the same arguments (never with dropout: its masks
    come from each thread's own generator). Each rank takes the window's
    parts that are still open, its own block first (from part ``rank * S //
    n_ranks`` on: their scratch is in its core's cache), then the others
    (:func:`~rnnkit.backends.cpu.sync.claim` on ``sync``: each part once per
    window), their loss sums and weights into ``part_res`` (S, 2); rank 0
    waits until every part is done, merges the parts' gradients (each
    part's mean weighted by its share of the window's items, in part order:
    the results do not depend on who ran which part, nor on ``n_ranks``),
    updates the weights and opens the next window. A rank that is late (not
    yet started, or its core taken) holds no one up: the others run its
    share, and it catches up without running anything. Returns
    ``(weighted loss sum, total item weight, number of updates, status)``
    (rank 0's counts the epoch); status 1 means a non-finite loss was met and
    the update was not applied, 2 that another rank aborted.
    """
    N, Tt, I = X.shape
    # the caller holds every array for the whole call: borrowed, their views count no references
    theta, grad, gparts, part_res = borrow(theta), borrow(grad), borrow(gparts), borrow(part_res)
    opt_state, hyper, decay_mask = borrow(opt_state), borrow(hyper), borrow(decay_mask)
    X, lengths, Y, order, h_state, c_state = (borrow(X), borrow(lengths), borrow(Y), borrow(order),
                                              borrow(h_state), borrow(c_state))
    window_losses, sc, off, cfg = borrow(window_losses), borrow_scratch(sc), borrow(off), borrow(cfg)
    S = gparts.shape[0]
    drop = pdrop > 0
    if drop:
        # the masks come from each thread's own generator: the parts would depend on who ran them
        if n_ranks > 1:
            raise ValueError("a batch with dropout is not split across threads")
        np.random.seed(seed)
    total = 0.0
    count_all = 0.0
    n_up = 0
    w = 0  # windows of the epoch before this one
    dX = np.empty((0, 1, I), theta.dtype)
    empty = np.empty((0, 1, 1), theta.dtype)
    # a run-time True (a literal True would type, and compile, another window_part than Python's calls)
    yes = N >= 0
    for start in range(0, N, batch_size):
        stop = min(start + batch_size, N)
        idx = order[start:stop]
        lens = np.empty(stop - start, np.int64)
        maxlen = 0
        for j in range(stop - start):
            lens[j] = lengths[idx[j]]
            maxlen = max(maxlen, lens[j])
        Tw = min(bptt, maxlen)
        for t0 in range(0, maxlen, bptt):
            T = min(bptt, maxlen - t0)
            # the window starts once the update of the one before is done; a part goes to whichever rank
            # asks first, so a rank that is late (not yet started, or its core taken) holds no one up
            if n_ranks > 1:
                if not wait_for(sync, SYNC_WINDOWS, w):
                    return total, count_all, n_up, 2
                if sync[SYNC_STOP] != 0:
                    return total, count_all, n_up, 1
            for k in range(S):
                p = (rank * S // n_ranks + k) % S  # its own block of parts first, then the next ranks'
                if n_ranks > 1 and not claim(sync, SYNC_PARTS + p, w):
                    continue  # another rank has it
                if t0 == 0:
                    set_offsets(sc, cfg, Tw, stop - start, drop, p, S)
                    load_state(sc, S, idx, h_state, c_state, p, S)
                elif not carry:
                    sc.hcar[p, :] = 0
                    sc.ccar[p, :] = 0
                part_res[p, 0], part_res[p, 1] = call_native(
                    window_part, calls[CALL_WINDOW], calls[CALL_WINDOW + 1],
                    (p, S, theta, off, cfg, pdrop, np.int64(-1), X, Y, idx, lens, t0, T, sc, gparts[p], dX,
                     yes, yes, empty, empty, calls))
                if t0 + T >= maxlen:
                    save_state(sc, S, idx, h_state, c_state, p, S)
                if n_ranks > 1:
                    count(sync, SYNC_DONE)
            w += 1
            if rank != 0:
                continue
            if n_ranks > 1 and not wait_for(sync, SYNC_DONE, w * S):
                return total, count_all, n_up, 2
            loss_sum, cnt = part_res[0, 0], part_res[0, 1]
            for q in range(1, S):
                loss_sum += part_res[q, 0]
                cnt += part_res[q, 1]
            if not np.isfinite(loss_sum):
                sync[SYNC_STOP] = 1
            elif cnt > 0:
                if S > 1:  # each part's mean, weighted by its share of the window's items
                    merge_parts(grad, gparts, part_res, cnt)
                apply_update(solver, theta, grad, opt_state, step, hyper, decay_mask)
                window_losses[n_up] = loss_sum / cnt
                n_up += 1
                total += loss_sum
                count_all += cnt
            if n_ranks > 1:
                publish(sync, SYNC_WINDOWS, w)
            if sync[SYNC_STOP] != 0:
                return total, count_all, n_up, 1
    return total, count_all, n_up, 0


@njit(**JIT_OPTIONS)
def update_entry(solver, theta, grad, state, step, hyper, decay_mask):
    """:func:`rnnkit.backends.cpu.optim.apply_update` called from Python."""
    return apply_update(solver, theta, grad, state, step, hyper, decay_mask)


@njit(**JIT_OPTIONS)
def masks_entry(cfg, pdrop, seed, T, B, dtype_ref):
    """The masks :func:`part_entry` draws for a (T, B) batch and ``seed`` (flat)."""
    offs = ws_offsets(T, B, cfg, True)
    ws = (np.empty(offs[N_WS], dtype_ref.dtype), offs)
    np.random.seed(seed)
    draw_masks(ws, cfg, T, B, pdrop)
    return region(ws, WS_MASK).copy()
