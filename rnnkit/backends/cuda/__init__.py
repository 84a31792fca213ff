"""The CUDA backend: ``numba.cuda`` twins of the CPU kernels (same module names).

Modules: :mod:`~rnnkit.backends.cuda.numeric` (activations, layer norm,
dropout hash), :mod:`~rnnkit.backends.cuda.cells` (each cell's step),
:mod:`~rnnkit.backends.cuda.workspace`, :mod:`~rnnkit.backends.cuda.stack`
(layers x directions, the head), :mod:`~rnnkit.backends.cuda.heads` (built-in
losses), :mod:`~rnnkit.backends.cuda.optim` (reduction and updates),
:mod:`~rnnkit.backends.cuda.loops` (the window and epoch kernels),
:mod:`~rnnkit.backends.cuda.device` (availability).

Training keeps everything on the device for a whole epoch: the data is copied
once per ``fit`` (kept while the same arrays come back), parameters and
optimizer state are copied in at the start of an epoch and out at its end,
and each window is three launches (the persistent window kernel, the gradient
reduction, the update) with no copy in between; only the windows' losses come
back. A loss computed outside the kernels (a custom :class:`rnnkit.losses.Loss`,
CTC) sends the head's outputs to the host and its gradient back.
"""

import weakref

import numpy as np
from numba import cuda

from ...slots import CFG_GATES, CFG_HIDDEN, CFG_LOSS, CFG_MODE, N_HYPER
from .. import Backend
from . import loops, optim
from .device import cuda_status
from .loops import (
    IP_BWD,
    IP_CARRY,
    IP_DX,
    IP_EXPORT,
    IP_FIRST,
    IP_FWD,
    IP_LAST,
    IP_LNW,
    IP_R,
    IP_REVZERO,
    IP_SEED,
    IP_T,
    IP_T0,
    IP_TRAIN,
    IP_UPDATE,
    IP_W,
    N_IP,
)
from .numeric import HEAD_STEP, position_hash
from .workspace import ln_width, ws_offsets

if not hasattr(np, "row_stack"):  # gone in NumPy 2.5; numba-cuda 0.30 overloads it when its target loads
    np.row_stack = np.vstack

__all__ = ["CudaBackend", "launch_shape", "MAX_THREADS", "MIN_THREADS", "ROWS_PER_BLOCK", "FUSE_MAX_WORK"]

#: most and fewest threads of a window kernel's block (powers of two)
MAX_THREADS = 256
MIN_THREADS = 32
#: rows each block of the window kernel owns (None: the whole batch in one block when
#: batch x gate units is at most FUSE_MAX_WORK, else one row per block up to 1024
#: rows, then as many as keep 1024 blocks)
ROWS_PER_BLOCK = None
#: largest batch x gate units one block takes whole: such models train a whole
#: epoch in one launch (the block updates the parameters itself); 0 turns that off
FUSE_MAX_WORK = 256
#: blocks of the reduction and update kernels
OPT_BLOCKS = 64
#: largest parameters x blocks for which the last block of a window kernel sums the
#: blocks' gradients and applies the update itself (else two more kernels do)
LAST_BLOCK_MAX_WORK = 1 << 21


def launch_shape(B, net):
    """``(rows per block, blocks, threads per block)`` of the window kernel for a batch of ``B`` rows."""
    GH = int(net.cfg[CFG_GATES]) * int(net.cfg[CFG_HIDDEN])
    R = ROWS_PER_BLOCK or (B if B * GH <= FUSE_MAX_WORK else max(1, -(-B // 1024)))
    R = max(1, min(R, B))
    work = R * GH
    nt = MIN_THREADS
    while nt < work and nt < MAX_THREADS:
        nt *= 2
    return R, -(-B // R), min(nt, MAX_THREADS)


class _Run:
    """Device arrays of one call: workspace for windows of up to ``T`` steps of ``B`` rows, and the rest."""

    def __init__(self, net, dt, B, T, P):
        self.R, self.nblk, self.nt = launch_shape(B, net)
        self.wo = {}
        self.net = net
        self.size = int(ws_offsets(T, self.R, net.cfg)[-1])
        self.ws = cuda.device_array((self.nblk, max(self.size, 1)), dt)
        self.gpart = cuda.device_array((self.nblk, P), dt)
        self.bstat = cuda.device_array((self.nblk, 2), np.float64)
        self.lw = cuda.device_array(B, np.int64)
        LD, H = net.n_states, net.hidden_size
        self.hcar = cuda.to_device(np.zeros((LD, B, H), dt))
        self.ccar = cuda.to_device(np.zeros((LD, B, H), dt))
        self.e3 = cuda.device_array((0, 1, 1), dt)
        self.flag = cuda.to_device(np.zeros(1, np.int64))
        self.counter = cuda.to_device(np.zeros(1, np.int64))
        self.no_opt = (0, cuda.to_device(np.zeros(N_HYPER)), cuda.device_array((2, 0), dt),
                       cuda.to_device(np.zeros(1, np.int64)), cuda.device_array((1, 2)))
        #: whether the last block of a window reduces the gradient and updates (no extra launches)
        self.update_in_window = P * self.nblk <= LAST_BLOCK_MAX_WORK

    def offsets(self, T):
        if T not in self.wo:
            self.wo[T] = cuda.to_device(ws_offsets(T, self.R, self.net.cfg))
        return self.wo[T]


class CudaBackend(Backend):
    """:class:`~rnnkit.backends.Backend` on an NVIDIA GPU (see the module docstring)."""

    name = "cuda"

    def __init__(self):
        self.found = cuda_status()[1]
        self._models = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ helpers
    def _model(self, net, dt):
        """Device copies of the network's offset table, configuration and decay mask (kept per network)."""
        m = self._models.get(net)
        if m is None or m["dt"] != dt:
            m = {"dt": dt, "off": cuda.to_device(net.layout.off), "cfg": cuda.to_device(net.cfg),
                 "decay": cuda.to_device(net.decay_mask_.astype(dt)), "data": None}
            self._models[net] = m
        return m

    @staticmethod
    def _run(m, kind, net, dt, B, T, P):
        """The device arrays of a ``kind`` of call ("train", "predict"), kept on the network between calls."""
        key = (kind, dt, B, T, P, launch_shape(B, net))
        run = m.get(kind)
        if run is None or run.key != key:
            run = m[kind] = _Run(net, dt, B, T, P)
            run.key = key
        return run

    def _data(self, m, X, Y, lengths):
        """``X``, ``Y``, ``lengths`` on the device, copied again only when other arrays come."""
        key = m["data"]
        if key is None or key[0] is not X or key[1] is not Y or key[2] is not lengths:
            m["data"] = (X, Y, lengths, cuda.to_device(X), cuda.to_device(Y), cuda.to_device(lengths))
        return m["data"][3:]

    @staticmethod
    def _ip(net, t0, T, R, **flags):
        ip = np.zeros(N_IP, np.int64)
        ip[IP_T0], ip[IP_T], ip[IP_R], ip[IP_LNW] = t0, T, R, ln_width(net.cfg)
        names = {"fwd": IP_FWD, "train": IP_TRAIN, "bwd": IP_BWD, "first": IP_FIRST, "carry": IP_CARRY,
                 "revzero": IP_REVZERO, "last": IP_LAST, "dx": IP_DX, "seed": IP_SEED, "export": IP_EXPORT,
                 "update": IP_UPDATE, "w": IP_W}
        for name, value in flags.items():
            ip[names[name]] = int(value)
        return ip

    def _window(self, m, run, T, ip, theta, X, Y, idx, lengths, pdrop, states, dX=None, out=None, hseq=None,
                lgx=None, dh0=None, dc0=None, flag=None, opt=None):
        """Launch the window kernel; ``opt`` = (solver code, hyper, state, step, rec) when it also updates."""
        e3 = run.e3
        hs, cs = states if states is not None else (e3, e3)
        solver, hyper, state, step, rec = opt if opt is not None else run.no_opt
        loops.window[run.nblk, run.nt](
            theta, m["off"], m["cfg"], X, Y, idx, lengths, run.lw, ip, float(pdrop), run.ws, run.offsets(T),
            run.gpart, run.bstat, run.hcar, run.ccar, hs, cs, e3 if dh0 is None else dh0,
            e3 if dc0 is None else dc0, e3 if lgx is None else lgx, e3 if dX is None else dX,
            e3 if out is None else out, e3 if hseq is None else hseq, run.flag if flag is None else flag,
            run.counter, solver, hyper, m["decay"], state, step, rec)

    @staticmethod
    def _reduce(theta, gpart, bstat, decay, hyper, train, grad, psum, rec, w, flag, step, ctl):
        optim.reduce_grads[OPT_BLOCKS, optim.THREADS](gpart, bstat, theta, decay, hyper, int(train), grad,
                                                      psum, rec, int(w), flag, step, ctl)

    def _outside(self, net, run, m, T, t0, theta, Xd, Yd, idx_d, len_d, Y, idx, lens, pdrop, ip_f, ip_b,
                 states, flag, dX=None, dh0=None, dc0=None):
        """Forward, the loss on the host (its sum, weight and gradient of the sum), backward."""
        B, K = len(idx), net.output_size
        Tl = T if net.output == "sequence" else 1
        lgx = cuda.device_array((B, Tl, K), theta.dtype)
        self._window(m, run, T, ip_f, theta, Xd, Yd, idx_d, len_d, pdrop, states, lgx=lgx, flag=flag)
        total, count, dlogits = self.outside_loss(net, lgx.copy_to_host(), Y, idx, lens, t0, T)
        bstat = np.zeros((run.nblk, 2))
        bstat[0] = float(total), float(count)
        run.bstat.copy_to_device(bstat)
        lgx.copy_to_device(np.ascontiguousarray(dlogits, dtype=theta.dtype))
        self._window(m, run, T, ip_b, theta, Xd, Yd, idx_d, len_d, pdrop, states, lgx=lgx, dX=dX, dh0=dh0,
                     dc0=dc0, flag=flag)
        return float(total), float(count)

    # ------------------------------------------------------------------ interface
    def loss_and_grad(self, net, theta, X, lengths, Y, h0, c0, input_grad, seed):
        dt = theta.dtype
        N, T, I = X.shape
        m = self._model(net, dt)
        P = theta.shape[0]
        run = _Run(net, dt, N, T, P)
        th = cuda.to_device(theta)
        Xd, Yd, len_d = cuda.to_device(X), cuda.to_device(Y), cuda.to_device(lengths)
        idx = np.arange(N, dtype=np.int64)
        idx_d = cuda.to_device(idx)
        states = (cuda.to_device(h0), cuda.to_device(c0))
        shape = (net.n_states, N, net.hidden_size)
        dh0 = cuda.to_device(np.zeros(shape, dt))
        dc0 = cuda.to_device(np.zeros(shape, dt))
        dX = cuda.to_device(np.zeros((N, T, I) if input_grad else (0, 1, 1), dt))
        flag = cuda.to_device(np.zeros(1, np.int64))
        pdrop = net.dropout
        common = dict(first=1, seed=seed, dx=input_grad)
        if net.cfg[CFG_LOSS] < 0:
            total, count = self._outside(net, run, m, T, 0, th, Xd, Yd, idx_d, len_d, Y, idx, lengths, pdrop,
                                         cuda.to_device(self._ip(net, 0, T, run.R, fwd=1, export=1,
                                                                 **common)),
                                         cuda.to_device(self._ip(net, 0, T, run.R, bwd=1, **common)), states,
                                         flag, dX=dX, dh0=dh0, dc0=dc0)
        else:
            ip = cuda.to_device(self._ip(net, 0, T, run.R, fwd=1, train=1, **common))
            self._window(m, run, T, ip, th, Xd, Yd, idx_d, len_d, pdrop, states, dX=dX, dh0=dh0, dc0=dc0,
                         flag=flag)
            stat = run.bstat.copy_to_host()
            total, count = float(stat[:, 0].sum()), float(stat[:, 1].sum())
        grad = cuda.device_array(P, dt)
        self._reduce(th, run.gpart, run.bstat, m["decay"], cuda.to_device(np.zeros(N_HYPER)), 0, grad,
                     cuda.device_array(OPT_BLOCKS), cuda.device_array((1, 2)), 0, flag,
                     cuda.to_device(np.zeros(1, np.int64)), cuda.device_array(1, np.int64))
        scale = 1.0 / count if count > 0 else 1.0
        out = {"grad": grad.copy_to_host(), "dh0": dh0.copy_to_host() * scale,
               "dc0": dc0.copy_to_host() * scale,
               "hT": run.hcar.copy_to_host(), "cT": run.ccar.copy_to_host()}
        if not net.has_cell_state:
            out["cT"][...] = 0
        if input_grad:
            out["dX"] = dX.copy_to_host() * scale
        return total / max(count, 1), out

    def train_epoch(self, net, theta, optimizer, X, lengths, Y, order, batch_size, bptt, carry, seed, state):
        dt = theta.dtype
        N, Tt, _ = X.shape
        P = theta.shape[0]
        m = self._model(net, dt)
        Xd, Yd, len_d = self._data(m, X, Y, lengths)
        Tw = min(bptt, Tt)
        run = self._run(m, "train", net, dt, batch_size, Tw, P)
        # the epoch's windows, and their integer settings, prepared on the host and sent once
        plan = []
        for start in range(0, N, batch_size):
            stop = min(start + batch_size, N)
            maxlen = int(lengths[order[start:stop]].max())
            starts = list(range(0, maxlen, bptt))
            for t0 in starts:
                plan.append((start, stop, t0, min(bptt, maxlen - t0), t0 == starts[-1]))
        external = net.cfg[CFG_LOSS] < 0
        in_window = run.update_in_window and not external
        ips = np.zeros((len(plan), N_IP), np.int64)
        for w, (_, _, t0, T, last) in enumerate(plan):
            ips[w] = self._ip(net, t0, T, run.R, fwd=1, train=not external, first=t0 == 0, carry=carry,
                              revzero=1, last=last, seed=seed, export=external, update=in_window, w=w)
        ip_d = cuda.to_device(ips)
        if external:
            ipb = ips.copy()
            ipb[:, IP_FWD] = 0
            ipb[:, IP_EXPORT] = 0
            ipb[:, IP_BWD] = 1
            ipb_d = cuda.to_device(ipb)
        th = cuda.to_device(theta)
        optimizer.ensure_state(theta.shape[0], theta.dtype)
        st = cuda.to_device(optimizer.state)
        step = cuda.to_device(optimizer.step)
        hyper = cuda.to_device(np.asarray(optimizer.hyper, np.float64))
        order_d = cuda.to_device(np.ascontiguousarray(order, np.int64))
        states = (cuda.to_device(state[0]), cuda.to_device(state[1])) if state is not None else None
        rec = cuda.to_device(np.zeros((len(plan), 2)))
        flag = cuda.to_device(np.zeros(1, np.int64))
        grad = cuda.device_array(P, dt)
        psum = cuda.device_array(OPT_BLOCKS)
        ctl = cuda.device_array(1, np.int64)
        norm = cuda.device_array(1)
        code = int(optimizer.code)
        if run.nblk == 1 and not external:  # the whole epoch in one launch
            wos = cuda.to_device(np.stack([ws_offsets(T, run.R, net.cfg) for T in range(Tw + 1)]))
            steps = cuda.to_device(np.array([(start, stop, T) for start, stop, _, T, _ in plan], np.int64))
            e3 = run.e3
            loops.epoch[1, run.nt](th, m["off"], m["cfg"], Xd, Yd, order_d, len_d, run.lw, steps, ip_d,
                                   float(net.dropout), run.ws, wos, run.gpart, run.bstat, run.hcar, run.ccar,
                                   *(states if states is not None else (e3, e3)), code, hyper, m["decay"], st,
                                   step, rec, flag, e3)
            plan = []
        for w, (start, stop, t0, T, _last) in enumerate(plan):
            idx_d = order_d[start:stop]
            if external:
                idx = np.asarray(order[start:stop])
                self._outside(net, run, m, T, t0, th, Xd, Yd, idx_d, len_d, Y, idx, lengths[idx], net.dropout,
                              ip_d[w], ipb_d[w], states, flag)
            elif in_window:
                self._window(m, run, T, ip_d[w], th, Xd, Yd, idx_d, len_d, net.dropout, states, flag=flag,
                             opt=(code, hyper, st, step, rec))
                continue
            else:
                self._window(m, run, T, ip_d[w], th, Xd, Yd, idx_d, len_d, net.dropout, states, flag=flag)
            self._reduce(th, run.gpart, run.bstat, m["decay"], hyper, 1, grad, psum, rec, w, flag, step, ctl)
            optim.update[OPT_BLOCKS, optim.THREADS](code, th, grad, st, step, hyper, psum, ctl, norm)
        th.copy_to_host(theta)
        optimizer.state[...] = st.copy_to_host()
        optimizer.step[...] = step.copy_to_host()
        if state is not None:
            state[0][...] = states[0].copy_to_host()
            state[1][...] = states[1].copy_to_host()
        r = rec.copy_to_host()
        status = int(flag.copy_to_host()[0])
        done = (r[:, 1] > 0) & np.isfinite(r[:, 0])
        return float(r[done, 0].sum()), float(r[done, 1].sum()), r[done, 0] / r[done, 1], status

    def predict(self, net, theta, X, lengths, h0, c0, chunk, hidden_states):
        dt = theta.dtype
        N, T, _ = X.shape
        K, H, LD = net.output_size, net.hidden_size, net.n_states
        m = self._model(net, dt)
        Ty = T if net.output == "sequence" else 1
        out = cuda.to_device(np.zeros((N, Ty, K), dt))
        hseq = cuda.to_device(np.zeros((N, T, net.num_directions * H) if hidden_states else (0, 1, 1), dt))
        hT = np.empty((LD, N, H), dt)
        cT = np.zeros((LD, N, H), dt)
        th = cuda.to_device(theta)
        Xd, Yd, len_d = cuda.to_device(X), cuda.to_device(np.zeros((0, 1, 1), dt)), cuda.to_device(lengths)
        states = (cuda.to_device(h0), cuda.to_device(c0))
        B = max(min(max(chunk, 4096), N), 1)
        run = self._run(m, "predict", net, dt, B, max(T, 1), theta.shape[0])
        for start in range(0, N, B):
            stop = min(start + B, N)
            Tc = max(int(lengths[start:stop].max()), 1)
            ip = cuda.to_device(self._ip(net, 0, Tc, run.R, fwd=1, first=1))
            idx_d = cuda.to_device(np.arange(start, stop, dtype=np.int64))
            self._window(m, run, Tc, ip, th, Xd, Yd, idx_d, len_d, 0.0, states, out=out, hseq=hseq)
            hT[:, start:stop] = run.hcar.copy_to_host()[:, :stop - start]
            if net.has_cell_state:
                cT[:, start:stop] = run.ccar.copy_to_host()[:, :stop - start]
        o = out.copy_to_host()
        res = {"out": o if net.output == "sequence" else o[:, 0], "hT": hT, "cT": cT}
        if hidden_states:
            res["hseq"] = hseq.copy_to_host()
        return res

    def dropout_masks(self, net, seed, n_samples, n_timesteps, dtype):
        N, T, p = n_samples, n_timesteps, net.dropout
        DH = net.num_directions * net.hidden_size
        rows = np.arange(N, dtype=np.int64)[:, None, None]
        steps = np.arange(T, dtype=np.int64)[None, :, None]
        units = np.arange(DH, dtype=np.int64)[None, None, :]
        out = []
        for k in range(net.num_layers):
            last = k == net.num_layers - 1 and net.cfg[CFG_MODE] == 1
            step = np.int64(HEAD_STEP) if last else steps
            h = position_hash(np.int64(seed), np.int64(k), step, rows, units)
            keep = np.broadcast_to(np.where(h * (1.0 / 4294967296.0) < p, 0.0, 1.0 / (1.0 - p)).astype(dtype),
                                   (N, 1 if last else T, DH))
            out.append(np.ascontiguousarray(keep[:, 0] if last else keep))
        return out

    def apply_update(self, optimizer, theta, grad, decay_mask):
        P, dt = theta.shape[0], theta.dtype
        optimizer.ensure_state(theta.shape[0], theta.dtype)
        th, st = cuda.to_device(theta), cuda.to_device(optimizer.state)
        step = cuda.to_device(optimizer.step)
        hyper = cuda.to_device(np.asarray(optimizer.hyper, np.float64))
        g, psum, ctl, norm = (cuda.device_array(P, dt), cuda.device_array(OPT_BLOCKS),
                              cuda.device_array(1, np.int64), cuda.device_array(1))
        flag = cuda.to_device(np.zeros(1, np.int64))
        one = cuda.to_device(np.array([[0.0, 1.0]]))
        self._reduce(th, cuda.to_device(np.ascontiguousarray(grad)[None]), one,
                     cuda.to_device(np.asarray(decay_mask, dt)), hyper, 1, g, psum, cuda.device_array((1, 2)),
                     0, flag, step, ctl)
        optim.update[OPT_BLOCKS, optim.THREADS](int(optimizer.code), th, g, st, step, hyper, psum, ctl, norm)
        th.copy_to_host(theta)
        grad[...] = g.copy_to_host()
        optimizer.state[...] = st.copy_to_host()
        optimizer.step[...] = step.copy_to_host()
        return float(norm.copy_to_host()[0])

