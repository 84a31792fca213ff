"""The CPU backend: numba ``@njit`` kernels, BLAS for large products, Python threads for batch splits.

Modules: :mod:`~.linalg` (products, views), :mod:`~.gemm` (products on packed
weights), :mod:`~.numeric` (tanh, sigmoid,
layer norm), :mod:`~.cells` (each cell's kernels), :mod:`~.workspace`,
:mod:`~.stack` (layers x directions), :mod:`~.heads` (built-in losses),
:mod:`~.optim` (updates), :mod:`~.loops` (compiled loops and entry points),
:mod:`~.threads`, :mod:`~.sync` (how a split batch's threads meet).
"""

import numpy as np

from ... import _config
from ...slots import (
    CALL_BACKWARD,
    CALL_CELL_BACKWARD,
    CALL_CELL_FORWARD,
    CALL_FORWARD,
    CALL_PARAM_GRADS,
    CALL_WINDOW,
    CFG_LOSS,
    N_CALLS,
    N_WS,
    WS_DLOGITS,
    WS_LOGITS,
)
from .. import Backend
from . import loops, stack, sync
from .calls import native_address
from .cells import KERNELS
from .gemm import packs
from .linalg import uses_blas
from .threads import blas_threads, run_parts
from .workspace import ws_size

__all__ = ["CpuBackend"]


def _array_kind(a):
    """What numba's type of the array ``a`` depends on (cheaper to read than ``numba.typeof``)."""
    f = a.flags
    return a.dtype.str, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned


class CpuBackend(Backend):
    """:class:`~rnnkit.backends.Backend` on the CPU (see the module docstring)."""

    name = "cpu"
    #: the ``calls`` arguments of the loops (:meth:`_calls`, :meth:`_epoch_calls`), for this process
    _addresses = {}

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _weights(net):
        """Elements of one direction's recurrent weight matrix, ``n_gates * H`` by ``H``."""
        return net.spec.n_gates * net.hidden_size * net.hidden_size

    @staticmethod
    def _uses_blas(net, batch):
        """Whether the per-step recurrent products of ``batch`` rows go to BLAS."""
        return bool(uses_blas(batch, net.spec.n_gates * net.hidden_size, net.hidden_size))

    @classmethod
    def _threadable(cls, net, batch):
        """Whether BLAS can thread ``batch`` rows' recurrent product (``BLAS_THREADS_MIN_WORK``)."""
        return batch * cls._weights(net) >= _config.BLAS_THREADS_MIN_WORK

    @staticmethod
    def _packs(net, rows):
        """Whether the per-step recurrent products of ``rows`` rows run on packed weights (:mod:`.gemm`)."""
        return bool(packs(rows, net.spec.n_gates * net.hidden_size, net.hidden_size))

    @classmethod
    def _wide(cls, net, batch, S):
        """Whether ``batch`` rows' recurrent product is better left whole to BLAS's threads than cut in ``S``.

        Never when the parts' products run packed. The rule and its
        measurements: :data:`rnnkit._config.BLAS_THREADS_MIN_WORK`.
        """
        return cls._threadable(net, batch) and not cls._packs(net, batch // S) and (
            batch // S < _config.SPLIT_MIN_ROWS or cls._weights(net) > _config.SPLIT_MAX_WEIGHTS)

    def parts(self, net, batch):
        """Parts a training batch of ``batch`` rows is cut into (see :func:`rnnkit.set_config`).

        Only with single-threaded BLAS (never both kinds of threads at once),
        without dropout (its masks come from numba's sequential generator),
        with a built-in loss, when each part's per-step products still go
        to BLAS with at least ``SPLIT_MIN_WORK`` multiply-adds and, with
        ``blas_threads="auto"``, when the batch's product is not wide (:meth:`_wide`).
        Does not depend on the number of threads, so results do not.
        """
        cfg = _config.get_config()
        S = cfg["train_parts"]
        if (S > 1 and cfg["blas_threads"] in (1, "auto") and net.dropout == 0 and net.cfg[CFG_LOSS] >= 0
                and self._uses_blas(net, batch // S)
                and (batch // S) * self._weights(net) >= _config.SPLIT_MIN_WORK
                and not (cfg["blas_threads"] == "auto" and self._wide(net, batch, S))):
            return S
        return 1

    def predict_parts(self, net, chunk):
        """Parts a prediction chunk of ``chunk`` rows is cut into: ``train_parts`` when the parts' products
        run packed (:meth:`_packs`) and BLAS is left one thread, else 1 (BLAS's threads).

        Rows are computed independently of each other, so the outputs do not
        depend on the cut.
        """
        cfg = _config.get_config()
        S = cfg["train_parts"]
        if S > 1 and cfg["blas_threads"] in (1, "auto") and self._packs(net, chunk // S):
            return S
        return 1

    def _blas_limit(self, net, batch, S):
        """BLAS threads while a compiled call on ``batch`` rows cut in ``S`` parts runs (None: BLAS's own).

        ``"auto"``: one thread per part of a split batch (the parts use the
        cores); ``n_threads`` for a whole batch whose recurrent product BLAS
        can thread (a wide one, one with dropout, a prediction chunk, a
        one-batch gradient); else one.
        """
        cfg = _config.get_config()
        limit = cfg["blas_threads"]
        if not self._uses_blas(net, batch):
            return None
        if limit != "auto":
            return limit
        return cfg["n_threads"] if S == 1 and self._threadable(net, batch) else 1

    @staticmethod
    def _spare(net, n, dtype):
        """A flat buffer of at least ``n`` elements kept on ``net`` between calls (fresh when too big)."""
        if n > _config.get_config()["max_kept_workspace"]:
            return np.empty(n, dtype)
        buf = net.__dict__.get("_spare")
        if buf is None or buf.dtype != dtype or buf.shape[0] < n:
            buf = np.empty(n, dtype)
            net._spare = buf
        return buf

    @staticmethod
    def _decay_mask(net, dtype):
        """The network's decay mask in ``dtype``, converted once and kept on ``net``."""
        cached = net.__dict__.get("_decay_cast")
        if cached is None or cached.dtype != dtype or cached.shape != net.decay_mask_.shape:
            cached = net.decay_mask_.astype(dtype)
            net._decay_cast = cached
        return cached

    def _scratch(self, net, S, T, Bm, Ty, Dy, dtype, drop, keep=True):
        cfg = net.cfg
        ws_len = int(ws_size(T, Bm, cfg, drop))
        ws = self._spare(net, S * ws_len, dtype)[:S * ws_len] if keep else np.empty(S * ws_len, dtype)
        state = net.n_states * Bm * net.hidden_size
        return loops.Scratch(
            offs=np.zeros((S, N_WS + 1), np.int64), ws=ws, ws_len=ws_len,
            Xw=np.empty((S, T * Bm * net.input_size), dtype), Yw=np.empty((S, Ty * Bm * Dy), dtype),
            lw=np.empty((S, Bm), np.int64), hcar=np.zeros((S, state), dtype),
            ccar=np.zeros((S, state), dtype),
            dh0=np.zeros((S, state), dtype), dc0=np.zeros((S, state), dtype),
            dXw=np.empty((S, T * Bm * net.input_size if net.n_tokens else 0), dtype))

    @staticmethod
    def _region(sc, p, i, shape):
        offs = sc.offs[p]
        start = p * sc.ws_len
        return sc.ws[start + offs[i]:start + offs[i + 1]].reshape(shape)

    def _outside_loss(self, net, theta, sc, X, Y, idx, lens, t0, T, grad, dX):
        """A loss computed outside the kernels, on the window left by func:`loops.window_part`.

        The loss sees batch-major logits (B, T, K) or (B, 1, K), the rows'
        targets and the window's lengths, and returns the sum of its items'
        losses, their count and the gradient of that sum; backward runs on
        the gradient of the mean.
        """
        B, K = lens.shape[0], net.output_size
        R = T if net.output == "sequence" else 1
        logits = self._region(sc, 0, WS_LOGITS, (R, B, K)).transpose(1, 0, 2)
        total, count, dlogits = self.outside_loss(net, logits, Y, idx, lens, t0, T)
        if count > 0:
            self._region(sc, 0, WS_DLOGITS, (R, B, K))[...] = np.asarray(dlogits).transpose(1, 0, 2) / count
            loops.part_backward(0, 1, theta, net.layout.off, net.cfg, net.dropout, X, idx, lens, t0, T, sc,
                                grad, dX, self._calls(net, theta.dtype))
        return float(total), int(count)

    # ------------------------------------------------------------------ interface
    def loss_and_grad(self, net, theta, X, lengths, Y, h0, c0, input_grad, seed):
        dt = theta.dtype
        N, T, I = X.shape
        drop = net.dropout > 0
        sc = self._scratch(net, 1, T, N, Y.shape[1], Y.shape[2], dt, drop, keep=False)
        loops.set_offsets(sc, net.cfg, T, N, drop, 0, 1)
        sc.hcar[0] = h0.reshape(-1)
        sc.ccar[0] = c0.reshape(-1) if net.has_cell_state else 0
        grad = np.zeros_like(theta)
        dX = np.zeros((T if input_grad else 0, N, I), dt)
        empty = np.empty((0, 1, 1), dt)
        idx = np.arange(N, dtype=np.int64)
        external = net.cfg[CFG_LOSS] < 0
        with blas_threads(self._blas_limit(net, N, 1)):
            total, count = loops.window_part(0, 1, theta, net.layout.off, net.cfg, net.dropout, seed, X, Y,
                                             idx, lengths, 0, T, sc, grad, dX, True, False, empty, empty,
                                             self._calls(net, dt))
            if external:
                total, count = self._outside_loss(net, theta, sc, X, Y, idx, lengths, 0, T, grad, dX)
        shape = (net.n_states, N, net.hidden_size)
        out = {"grad": grad, "dh0": sc.dh0[0].reshape(shape), "dc0": sc.dc0[0].reshape(shape),
               "hT": sc.hcar[0].reshape(shape), "cT": sc.ccar[0].reshape(shape)}
        if input_grad:
            out["dX"] = dX.transpose(1, 0, 2)
        return total / max(count, 1), out

    def train_epoch(self, net, theta, optimizer, X, lengths, Y, order, batch_size, bptt, carry, seed, state):
        N, Tt, _ = X.shape
        dt = theta.dtype
        drop = net.dropout > 0
        S = self.parts(net, batch_size)
        Tw = min(bptt, Tt)
        Bm = -(-batch_size // S)
        sc = self._scratch(net, S, Tw, Bm, Tw if net.output == "sequence" else 1, Y.shape[2], dt, drop)
        window_losses = np.empty(-(-N // batch_size) * -(-Tt // bptt))
        grad = np.empty_like(theta)
        decay = self._decay_mask(net, dt)
        off, cfg = net.layout.off, net.cfg
        hs, cs = state if state is not None else (np.empty((0, 0, 0), dt),) * 2
        with blas_threads(self._blas_limit(net, batch_size, S)):
            if cfg[CFG_LOSS] < 0:
                return self._python_epoch(net, theta, grad, optimizer, decay, X, lengths, Y, order,
                                          batch_size, bptt, carry, seed if drop else -1, sc, window_losses,
                                          hs, cs)
            # the parts of a split batch on R threads, each running the whole epoch (see loops.train_epoch)
            R = min(_config.get_config()["n_threads"], S) if sync.AVAILABLE else 1
            gparts = grad[None] if S == 1 else np.empty((S, theta.shape[0]), dt)
            part_res = np.zeros((S, 2))
            meet = np.zeros(sync.SYNC_LEN + S, np.int64)  # the counters, a claim per part
            calls = self._epoch_calls(net, S, theta, X, Y, order, gparts, sc)

            def rank(r):
                try:
                    return loops.train_epoch(
                        r, R, theta, grad, gparts, part_res, meet, off, cfg, net.dropout, seed,
                        optimizer.code, optimizer.state, optimizer.step, optimizer.hyper, decay, X, lengths,
                        Y, order, batch_size, bptt, carry, hs, cs, window_losses, sc, calls)
                except BaseException:
                    sync.abort(meet)  # the other ranks stop waiting for this one
                    raise

            total, count, n_up, status = run_parts(rank, R)[0]
            return total, count, window_losses[:n_up].copy(), status

    def _calls(self, net, dtype):
        """The ``calls`` argument of :func:`loops.window_part`: the addresses of the stack's passes, of
        the cell's kernels and of the weights' gradients, compiled for the arguments they are passed
        (see :mod:`.calls`: the kernels are compiled here, or loaded from numba's cache, on first use);
        kept for the process."""
        key = (net.spec.code, np.dtype(dtype).str, _array_kind(net.layout.off), _array_kind(net.cfg))
        found = self._addresses.get(key)
        if found is None:
            off, cfg, kernels = net.layout.off, net.cfg, KERNELS[net.spec.code]
            v, m, a = (np.empty((0,) * nd, dtype) for nd in (1, 2, 3))
            ws, lens, i = (v, np.zeros(N_WS + 1, np.int64)), np.empty(0, np.int64), 0
            found = np.zeros(N_CALLS, np.int64)
            for slot, fn, args in (
                    (CALL_CELL_FORWARD, kernels.forward_sequence, (a, lens, m, a, v, i, v, v, a, a, a, v)),
                    (CALL_CELL_BACKWARD, kernels.backward_sequence,
                     (a, lens, m, a, i, v, v, a, a, a, m, m, a, a, m, m, v, v, v)),
                    (CALL_PARAM_GRADS, stack.param_grads,
                     (cfg, lens, ws, m, m, i, i, i, i, i, i, m, a, m, m, v, v, True)),
                    (CALL_FORWARD, stack.forward, (v, off, cfg, a, lens, ws, True, found)),
                    (CALL_BACKWARD, stack.backward, (v, off, cfg, a, lens, ws, True, v, a, a, a, found))):
                # the cells' kernels are called through call_void (the stack does not name them)
                void = slot in (CALL_CELL_FORWARD, CALL_CELL_BACKWARD)
                found[slot:slot + 2] = native_address(fn, args, void=void)
            self._addresses[key] = found
        return found

    def _epoch_calls(self, net, S, theta, X, Y, order, gparts, sc):
        """The ``calls`` argument of :func:`loops.train_epoch`: :meth:`_calls` and the address of
        :func:`loops.window_part` compiled for the arguments the epoch passes it."""
        key = (net.spec.code,) + tuple(_array_kind(a) for a in (net.layout.off, net.cfg, theta, X, Y, order))
        found = self._addresses.get(key)
        if found is None:
            found = self._calls(net, theta.dtype).copy()
            dX = np.empty((0, 1, X.shape[2]), theta.dtype)
            empty = np.empty((0, 1, 1), theta.dtype)
            lens = np.empty(0, np.int64)
            found[CALL_WINDOW:CALL_WINDOW + 2] = native_address(loops.window_part, (
                0, S, theta, net.layout.off, net.cfg, float(net.dropout), np.int64(-1), X, Y, order[:0], lens,
                0, 0, sc, gparts[0], dX, True, True, empty, empty, found))
            self._addresses[key] = found
        return found

    def _python_epoch(self, net, theta, grad, optimizer, decay, X, lengths, Y, order, batch_size, bptt, carry,
                      seed, sc, window_losses, hs, cs):
        """The epoch driven from Python, for a loss computed outside the kernels (batches never split)."""
        off, cfg, dt = net.layout.off, net.cfg, theta.dtype
        calls = self._calls(net, dt)
        N = X.shape[0]
        empty = np.empty((0, 1, 1), dt)
        dX = np.empty((0, 1, X.shape[2]), dt)
        total, count_all, n_up = 0.0, 0.0, 0
        for start in range(0, N, batch_size):
            idx = np.ascontiguousarray(order[start:start + batch_size])
            lens = np.ascontiguousarray(lengths[idx])
            maxlen = int(lens.max())
            loops.set_offsets(sc, cfg, min(bptt, maxlen), idx.shape[0], net.dropout > 0, 0, 1)
            for t0 in range(0, maxlen, bptt):
                T = min(bptt, maxlen - t0)
                if t0 == 0:
                    loops.load_state(sc, 1, idx, hs, cs, 0, 1)
                elif not carry:
                    sc.hcar[:] = 0
                    sc.ccar[:] = 0
                loops.window_part(0, 1, theta, off, cfg, net.dropout, seed, X, Y, idx, lens, t0, T, sc,
                                  grad, dX, True, True, empty, empty, calls)
                seed = -1  # numba's generator is seeded once per epoch
                loss_sum, cnt = self._outside_loss(net, theta, sc, X, Y, idx, lens, t0, T, grad, dX)
                if not np.isfinite(loss_sum):
                    return total, count_all, window_losses[:n_up].copy(), 1
                if cnt > 0:
                    self.apply_update(optimizer, theta, grad, decay)
                    window_losses[n_up] = loss_sum / cnt
                    n_up += 1
                    total += loss_sum
                    count_all += cnt
            loops.save_state(sc, 1, idx, hs, cs, 0, 1)
        return total, count_all, window_losses[:n_up].copy(), 0

    def predict(self, net, theta, X, lengths, h0, c0, chunk, hidden_states):
        dt = theta.dtype
        N, T, _ = X.shape
        K, H, LD = net.output_size, net.hidden_size, net.n_states
        out = np.zeros((N, T, K) if net.output == "sequence" else (N, 1, K), dt)
        shape = (LD, N, H)
        hT = np.empty(shape, dt)
        cT = np.zeros(shape, dt)
        hseq = np.zeros((N, T, net.num_directions * H) if hidden_states else (0, 1, 1), dt)
        B = max(min(chunk, N), 1)
        Tm = max(T, 1)
        S = self.predict_parts(net, B)
        sc = self._scratch(net, S, Tm, -(-B // S), 1, 1, dt, False)
        empty = np.empty((0, 1, 1), dt)
        dX = np.empty((0, 1, X.shape[2]), dt)
        off, cfg, calls = net.layout.off, net.cfg, self._calls(net, dt)
        with blas_threads(self._blas_limit(net, B, S)):
            for start in range(0, N, chunk):
                stop = min(start + chunk, N)
                Bc = stop - start
                lens = np.ascontiguousarray(lengths[start:stop])
                Tc = max(int(lens.max()), 1)
                loops.set_offsets(sc, cfg, Tc, Bc, False, 0, 1)
                rows = [loops.part_rows(p, S, Bc) for p in range(S)]  # (first row, rows) of each part
                for p, (b0, Bp) in enumerate(rows):
                    n = LD * Bp * H
                    sc.hcar[p, :n] = h0[:, start + b0:start + b0 + Bp].reshape(-1)
                    sc.ccar[p, :n] = c0[:, start + b0:start + b0 + Bp].reshape(-1)
                args = (theta, off, cfg, 0.0, -1, X, empty, np.arange(start, stop), lens, 0, Tc, sc,
                        theta[:0], dX, False, False, out, hseq, calls)
                run_parts(lambda p, a=args: loops.window_part(p, S, *a), S)
                for p, (b0, Bp) in enumerate(rows):
                    n = LD * Bp * H
                    hT[:, start + b0:start + b0 + Bp] = sc.hcar[p, :n].reshape(LD, Bp, H)
                    if net.has_cell_state:
                        cT[:, start + b0:start + b0 + Bp] = sc.ccar[p, :n].reshape(LD, Bp, H)
        res = {"out": out if net.output == "sequence" else out[:, 0], "hT": hT, "cT": cT}
        if hidden_states:
            res["hseq"] = hseq
        return res

    def dropout_masks(self, net, seed, n_samples, n_timesteps, dtype):
        N, T = n_samples, n_timesteps
        flat = loops.masks_entry(net.cfg, net.dropout, seed, T, N, np.empty(0, dtype))
        DH = net.num_directions * net.hidden_size
        out = []
        for k in range(net.num_layers):
            block = flat[k * T * N * DH:(k + 1) * T * N * DH]
            if k == net.num_layers - 1 and net.output == "last":
                out.append(block[:N * DH].reshape(N, DH).copy())
            else:
                out.append(block.reshape(T, N, DH).transpose(1, 0, 2).copy())
        return out

    def apply_update(self, optimizer, theta, grad, decay_mask):
        optimizer.ensure_state(theta.shape[0], theta.dtype)
        return float(loops.update_entry(optimizer.code, theta, grad, optimizer.state, optimizer.step,
                                        optimizer.hyper, decay_mask))
