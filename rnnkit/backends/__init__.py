"""Backends: where a network's kernels run.

Everything device-specific sits behind one interface, :class:`Backend`;
:class:`rnnkit.network.Network` and the estimators call only its methods and
never a kernel, BLAS, a kernel-side allocation or a device random generator
directly. :func:`get_backend` picks one by the estimators' ``device``
parameter. Today there is the CPU backend (:mod:`rnnkit.backends.cpu`,
numba ``@njit`` kernels) and its ``numba.cuda`` twin (:mod:`rnnkit.backends.cuda`,
the same methods and module names).
"""

import warnings
from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Backend", "get_backend", "usable_device", "BACKENDS"]


class Backend(ABC):
    """What a backend provides to :class:`~rnnkit.network.Network` (arrays are NumPy, batch-major).

    ``net`` is the :class:`~rnnkit.network.Network` (its ``cfg``, ``layout``,
    ``spec``, ``loss_fn`` and ``dropout`` describe the model); ``theta`` its
    flat parameters, whose dtype sets the precision.
    """

    name = None

    @abstractmethod
    def loss_and_grad(self, net, theta, X, lengths, Y, h0, c0, input_grad, seed):
        """Mean loss of one batch and its gradients: ``(loss, {grad, dh0, dc0, hT, cT[, dX]})``."""

    @abstractmethod
    def train_epoch(self, net, theta, optimizer, X, lengths, Y, order, batch_size, bptt, carry, seed, state):
        """One epoch of updates: ``(weighted loss sum, total item weight, window losses, status)``.

        ``state``: None, or ``(h, c)`` arrays (L*D, N, H) the first window of
        each batch starts from and its last window's final states go to.
        """

    @abstractmethod
    def predict(self, net, theta, X, lengths, h0, c0, chunk, hidden_states):
        """Raw head outputs and final states: ``{out, hT, cT[, hseq]}``."""

    @abstractmethod
    def dropout_masks(self, net, seed, n_samples, n_timesteps, dtype):
        """The dropout masks :meth:`loss_and_grad` draws for ``seed`` (see :meth:`Network.dropout_masks`)."""

    @abstractmethod
    def apply_update(self, optimizer, theta, grad, decay_mask):
        """One optimizer step on ``theta`` in place; returns the gradient norm before clipping."""

    @staticmethod
    def outside_loss(net, logits, Y, idx, lens, t0, T):
        """A loss computed outside the kernels on one window: ``(item loss sum, count, gradient of the sum)``.

        ``logits`` are the window's head outputs, batch-major (B, T, K) or
        (B, 1, K); the loss sees the rows' targets (the window's steps of them
        for a step-level loss with per-step output) and the window's lengths.
        """
        step_targets = net.output == "sequence" and net.loss_fn.level == "step"
        Yw = Y[idx, t0:t0 + T] if step_targets else Y[idx]
        return net.loss_fn.value_and_grad(np.ascontiguousarray(logits), Yw, np.clip(lens - t0, 0, T))


def _cpu():
    from .cpu import CpuBackend

    return CpuBackend()


def _cuda():
    from .cuda.device import INSTALL_HINT, cuda_status

    usable, found = cuda_status()
    if not usable:
        raise RuntimeError(f'device="cuda" cannot run here: {found}. To use a GPU, {INSTALL_HINT}; '
                           'or pass device="cpu" (or "auto", which picks a GPU only when one is usable).')
    from .cuda import CudaBackend

    return CudaBackend()


#: device name -> factory of its backend
BACKENDS = {"cpu": _cpu, "cuda": _cuda}
_INSTANCES = {}


def get_backend(device="cpu"):
    """The backend for ``device``: ``"cpu"``, ``"cuda"``, or ``"auto"`` (a usable GPU, else the CPU).

    Parameters
    ----------
    device : str, default="cpu"
        A key of :data:`BACKENDS`, or ``"auto"``.

    Returns
    -------
    Backend
    """
    if device == "auto":  # resolved once per process: looking for a GPU is not free
        if "auto" not in _INSTANCES:
            from .cuda.device import gpu_available

            _INSTANCES["auto"] = get_backend("cuda" if gpu_available() else "cpu")
        return _INSTANCES["auto"]
    if device not in BACKENDS:
        raise ValueError(f"device={device!r} is not available; expected one of {sorted(BACKENDS)} or 'auto'")
    if device not in _INSTANCES:
        _INSTANCES[device] = BACKENDS[device]()
    return _INSTANCES[device]


def usable_device(device):
    """``device``, or ``"cpu"`` with a warning when it is ``"cuda"`` and no GPU is usable here.

    Used when a model pickled on a GPU machine is loaded: it predicts on the CPU.

    Parameters
    ----------
    device : str

    Returns
    -------
    str
    """
    if device == "cuda":
        from .cuda.device import cuda_status

        usable, found = cuda_status()
        if not usable:
            warnings.warn(f"this model was fitted with device='cuda', which cannot run here ({found}); it "
                          "runs on the CPU (same weights, same results up to rounding)", RuntimeWarning,
                          stacklevel=3)
            return "cpu"
    return device
