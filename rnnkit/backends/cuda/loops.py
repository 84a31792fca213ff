"""The window kernel: one launch runs a window of a batch, each thread block owning ``R`` rows.

A *persistent* kernel: each block loops over the window's time steps itself
(no launch per step), its threads sharing every step's products and cell
updates, with block-level synchronisation between phases. The forward pass
runs every (layer, direction) and the head; training adds the head's loss and
the whole backward pass, leaving the block's gradient in its row of
``gpart`` (each parameter element computed by one thread, a fixed order:
results do not depend on the launch configuration). The update follows in
:mod:`rnnkit.backends.cuda.optim`.

Integer settings travel in ``ip`` (slots ``IP_*``), the dropout probability
in ``pdrop``.
"""

from numba import cuda, int64

from ...slots import (
    CFG_ACT,
    CFG_CACHE,
    CFG_CELL,
    CFG_DIRS,
    CFG_HAS_C,
    CFG_HIDDEN,
    CFG_INPUT,
    CFG_LAYERS,
    CFG_MODE,
    CFG_OUTPUTS,
    CFG_TOKENS,
    HEAD_END,
)
from . import cells, stack
from .heads import head_loss
from .optim import block_update
from .workspace import G_CS, G_DL, G_DXW, G_HS, G_LG, G_XW, G_YS, split3

(IP_T0,       # global step of the window's first step
 IP_T,        # steps of the window
 IP_R,        # rows per block
 IP_FWD,      # 1: run the forward pass
 IP_TRAIN,    # 1: built-in loss and backward after the forward pass
 IP_BWD,      # 1: backward from the gradient of the head's outputs in ``lgx`` (a loss computed outside)
 IP_FIRST,    # 1: the batch's first window (states from ``h_state``/``c_state``, or zeros)
 IP_CARRY,    # 1: a later window starts from the carried states (else zeros)
 IP_REVZERO,  # 1: reverse directions start from zero
 IP_LAST,     # 1: the batch's last window (final states into ``h_state``/``c_state``)
 IP_DX,       # 1: the gradient of the inputs into ``dX``
 IP_SEED,     # dropout seed
 IP_EXPORT,   # 1: the head's outputs into ``lgx`` (for a loss computed outside)
 IP_LNW,      # layer-normalised values per step and row (:func:`rnnkit.backends.cuda.workspace.ln_width`)
 IP_UPDATE,   # 1: the last block to finish sums the gradients and updates (optim.block_update)
 IP_W,        # the window's index in the epoch (its record in ``rec``)
 ) = range(16)
N_IP = 16


@cuda.jit(cache=True)
def window(theta, off, cfg, X, Y, idx, lengths, lw, ip, pdrop, ws, wo, gpart, bstat, hcar, ccar, h_state,
           c_state, dh0, dc0, lgx, dX, out, hseq, flag, counter, solver, hyper, decay, state, step, rec):
    """One window of the batch ``idx`` (rows of ``X`` (N, Tt, I), ``Y`` (N, Ty, Dy)); see the module doc.

    ``ws`` (nblk, len) and ``gpart`` (nblk, P) are per block; ``wo`` the
    workspace offsets (:func:`rnnkit.backends.cuda.workspace.ws_offsets`); ``lw`` (B,) receives the
    rows' window lengths; ``hcar``/``ccar`` (L*D, B, H) the states carried
    between windows; ``out`` (N, Ty, K) and ``hseq`` (N, Tt, D*H) prediction
    outputs (unless empty); ``flag[0] != 0`` (a non-finite loss earlier in the
    epoch) skips the launch. With ``ip[IP_UPDATE]`` the last block to finish
    (``counter``, reset after) sums the blocks' gradients and applies the
    update itself (:func:`rnnkit.backends.cuda.optim.block_update`, the solver's arrays): one
    launch per window.
    """
    if flag[0] != 0:
        return
    blk = cuda.blockIdx.x
    run_window(theta, off, cfg, X, Y, idx, lengths, lw, ip, pdrop, ws[blk], wo, gpart[blk], bstat, blk, hcar,
               ccar, h_state, c_state, dh0, dc0, lgx, dX, out, hseq)
    if ip[IP_UPDATE] == 0:
        return
    last = cuda.shared.array(1, int64)
    cuda.threadfence()
    cuda.syncthreads()
    if cuda.threadIdx.x == 0:
        last[0] = 1 if cuda.atomic.add(counter, 0, 1) == cuda.gridDim.x - 1 else 0
    cuda.syncthreads()
    if last[0] == 1:
        cuda.threadfence()
        block_update(theta, gpart, bstat, decay, hyper, solver, state, step, rec, ip[IP_W], flag)
        if cuda.threadIdx.x == 0:
            counter[0] = 0


@cuda.jit(cache=True)
def epoch(theta, off, cfg, X, Y, order, lengths, lw, plan, ips, pdrop, ws, wos, gpart, bstat, hcar, ccar,
          h_state, c_state, solver, hyper, decay, state, step, rec, flag, e3):
    """Every window of an epoch in one launch of one block (batches that one block holds).

    ``plan`` (W, 3): each window's batch (first and last position in
    ``order``) and steps; ``ips`` (W, N_IP) its settings; ``wos`` the
    workspace offsets by window length. After each window the block reduces
    its gradient and applies the update itself (:func:`rnnkit.backends.cuda.optim.block_update`);
    ``rec`` gets each window's loss sum and weight, ``flag`` 1 at a
    non-finite loss (the epoch stops there). ``e3`` is an empty (0, 1, 1) array.
    """
    for w in range(plan.shape[0]):
        idx = order[plan[w, 0]:plan[w, 1]]
        run_window(theta, off, cfg, X, Y, idx, lengths, lw, ips[w], pdrop, ws[0], wos[plan[w, 2]], gpart[0],
                   bstat, 0, hcar, ccar, h_state, c_state, e3, e3, e3, e3, e3, e3)
        cuda.syncthreads()
        if not block_update(theta, gpart, bstat, decay, hyper, solver, state, step, rec, w, flag):
            return
        cuda.syncthreads()


@cuda.jit(device=True)
def run_window(theta, off, cfg, X, Y, idx, lengths, lw, ip, pdrop, wsb, wo, gp, bstat, blk, hcar, ccar,
               h_state, c_state, dh0, dc0, lgx, dX, out, hseq):
    """The body of :func:`window` for block ``blk`` (its workspace ``wsb``, its gradient row ``gp``)."""
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    t0, T, R = ip[IP_T0], ip[IP_T], ip[IP_R]
    seed = ip[IP_SEED]
    B = idx.shape[0]
    r0 = blk * R
    Rb = min(R, B - r0)
    H, D, Ly, I, K = cfg[CFG_HIDDEN], cfg[CFG_DIRS], cfg[CFG_LAYERS], cfg[CFG_INPUT], cfg[CFG_OUTPUTS]
    cell, act, C = cfg[CFG_CELL], cfg[CFG_ACT], cfg[CFG_CACHE]
    DH = D * H
    LD = Ly * D
    mode = cfg[CFG_MODE]
    Tl = T if mode == 0 else 1
    has_c = cfg[CFG_HAS_C] != 0
    emb = off[off.shape[0] - 1, HEAD_END]
    LNW = ip[IP_LNW]
    if ip[IP_FWD] != 0:
        for r in range(tid, Rb, nt):
            lw[r0 + r] = min(max(lengths[idx[r0 + r]] - t0, 0), T)
        for w in range(tid, T * Rb * I, nt):
            t, r, i = split3(w, Rb, I)
            row = idx[r0 + r]
            if t0 + t >= lengths[row]:
                v = 0.0
            elif cfg[CFG_TOKENS] > 0:
                v = theta[emb + int(X[row, t0 + t, 0]) * I + i]
            else:
                v = X[row, t0 + t, i]
            wsb[wo[G_XW] + (t * R + r) * I + i] = v
        for w in range(tid, LD * Rb * H, nt):
            q, r, j = split3(w, Rb, H)
            row = idx[r0 + r]
            vh = 0.0
            vc = 0.0
            if not (ip[IP_REVZERO] != 0 and q % D == 1):
                if ip[IP_FIRST] != 0:
                    if h_state.shape[0] > 0:
                        vh = h_state[q, row, j]
                        vc = c_state[q, row, j]
                elif ip[IP_CARRY] != 0:
                    vh = hcar[q, r0 + r, j]
                    vc = ccar[q, r0 + r, j]
            s = ((q * (T + 1)) * R + r) * H + j
            wsb[wo[G_HS] + s] = vh
            if has_c:
                wsb[wo[G_CS] + s] = vc
        cuda.syncthreads()
        for k in range(Ly):
            for d in range(D):
                q = k * D + d
                pp, ln0 = stack.layer_offsets(off, q)[4:]
                stack.project(theta, off, cfg, wsb, wo, lw, r0, k, d, T, R, Rb, tid, nt)
                for t in range(T):
                    stack.recurrent_product(theta, off, cfg, wsb, wo, lw, r0, q, t, T, R, Rb, tid, nt)
                    cells.forward_step(cell, theta, wsb, wo, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid,
                                       nt)
                stack.layer_outputs(cfg, wsb, wo, lw, r0, idx, k, d, T, R, Rb, pdrop, seed, t0, tid, nt)
        stack.head_forward(theta, off, cfg, wsb, wo, r0, idx, T, R, Rb, pdrop, seed, tid, nt)
        for w in range(tid, LD * Rb * H, nt):
            q, r, j = split3(w, Rb, H)
            s = ((q * (T + 1) + T) * R + r) * H + j
            hcar[q, r0 + r, j] = wsb[wo[G_HS] + s]
            if has_c:
                ccar[q, r0 + r, j] = wsb[wo[G_CS] + s]
            if ip[IP_LAST] != 0 and h_state.shape[0] > 0:
                h_state[q, idx[r0 + r], j] = wsb[wo[G_HS] + s]
                if has_c:
                    c_state[q, idx[r0 + r], j] = wsb[wo[G_CS] + s]
        if out.shape[0] > 0:
            for w in range(tid, Tl * Rb * K, nt):
                t, r, kk = split3(w, Rb, K)
                if mode == 1 or t < lw[r0 + r]:
                    out[idx[r0 + r], t0 + t, kk] = wsb[wo[G_LG] + (t * R + r) * K + kk]
        if hseq.shape[0] > 0:
            for w in range(tid, T * Rb * DH, nt):
                t, r, m = split3(w, Rb, DH)
                if t < lw[r0 + r]:
                    hseq[idx[r0 + r], t0 + t, m] = wsb[wo[G_YS] + (((Ly - 1) * T + t) * R + r) * DH + m]
        if ip[IP_EXPORT] != 0:
            for w in range(tid, Tl * Rb * K, nt):
                t, r, kk = split3(w, Rb, K)
                lgx[r0 + r, t, kk] = wsb[wo[G_LG] + (t * R + r) * K + kk]
        if ip[IP_TRAIN] != 0:
            head_loss(cfg, wsb, wo, Y, lengths, idx, lw, r0, t0, T, R, Rb, bstat, blk, tid, nt)
        cuda.syncthreads()
    if ip[IP_TRAIN] == 0 and ip[IP_BWD] == 0:
        return
    if ip[IP_BWD] != 0:
        for w in range(tid, Tl * Rb * K, nt):
            t, r, kk = split3(w, Rb, K)
            wsb[wo[G_DL] + (t * R + r) * K + kk] = lgx[r0 + r, t, kk]
        cuda.syncthreads()
    stack.head_backward(theta, off, cfg, wsb, wo, r0, idx, T, R, Rb, pdrop, seed, t0, gp, tid, nt)
    cur = 0
    need_dx = ip[IP_DX] != 0 or cfg[CFG_TOKENS] > 0
    for kr in range(Ly):
        k = Ly - 1 - kr
        for d in range(D):
            q = k * D + d
            pp, ln0 = stack.layer_offsets(off, q)[4:]
            stack.start_backward(cfg, wsb, wo, k, d, Rb, tid, nt)
            for tr in range(T):
                t = T - 1 - tr
                stack.add_output_grad(cfg, wsb, wo, lw, r0, d, cur, t, T, R, Rb, tid, nt)
                cells.backward_step(cell, theta, wsb, wo, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW,
                                    tid, nt)
                stack.recurrent_grad(theta, off, cfg, wsb, wo, lw, r0, q, t, T, R, Rb, tid, nt)
            stack.final_state_grads(cfg, wsb, wo, r0, q, Rb, dh0, dc0, tid, nt)
            stack.param_grads(off, cfg, wsb, wo, lw, r0, k, d, T, R, Rb, LNW, gp, tid, nt)
            if k > 0 or need_dx:
                stack.input_grads(theta, off, cfg, wsb, wo, lw, r0, idx, k, d, cur, T, R, Rb, pdrop, seed, t0,
                                  tid, nt)
        cur = 1 - cur
    if cfg[CFG_TOKENS] > 0:
        n = cfg[CFG_TOKENS] * I
        for e in range(tid, n, nt):
            gp[emb + e] = 0.0
        cuda.syncthreads()
        for i in range(tid, I, nt):
            for r in range(Rb):
                row = idx[r0 + r]
                for t in range(lw[r0 + r]):
                    gp[emb + int(X[row, t0 + t, 0]) * I + i] += wsb[wo[G_DXW] + (t * R + r) * I + i]
    elif dX.shape[0] > 0:
        for w in range(tid, T * Rb * I, nt):
            t, r, i = split3(w, Rb, I)
            dX[r0 + r, t, i] = wsb[wo[G_DXW] + (t * R + r) * I + i]
