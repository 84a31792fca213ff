"""First-order optimizers on one flat parameter vector.

Every update is a single compiled call of the backend (on the CPU
:func:`rnnkit.backends.cpu.optim.apply_update`), which in this order adds
the L2 penalty to the gradient, clips the gradient by its global norm and
applies the solver's rule (PyTorch's formulations):

* ``"sgd"``: ``v = momentum * v + g``; ``theta -= lr * (g + momentum * v)``
  with Nesterov, else ``theta -= lr * v``;
* ``"adagrad"``: ``s += g**2``; ``theta -= lr * g / (sqrt(s) + epsilon)``;
* ``"rmsprop"``: ``s = rho * s + (1 - rho) * g**2``;
  ``theta -= lr * g / (sqrt(s) + epsilon)``;
* ``"adam"``: ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g**2``,
  ``theta -= lr * m_hat / (sqrt(v_hat) + epsilon)`` with bias-corrected
  ``m_hat = m / (1 - beta_1**t)``, ``v_hat = v / (1 - beta_2**t)``.

The L2 penalty ``0.5 * alpha * ||W||**2`` covers the weight matrices only
(``decay_mask`` is 1 on weights, 0 on biases), as in scikit-learn's MLP.
"""

import numpy as np

from .slots import (
    HYPER_ALPHA,
    HYPER_BETA_1,
    HYPER_BETA_2,
    HYPER_CLIP,
    HYPER_EPSILON,
    HYPER_LR,
    HYPER_MOMENTUM,
    HYPER_NESTEROV,
    HYPER_RHO,
    N_HYPER,
)

#: solver name -> integer code used by the kernels
SOLVERS = {"sgd": 0, "adagrad": 1, "rmsprop": 2, "adam": 3}

__all__ = ["SOLVERS", "Optimizer"]


class Optimizer:
    """A solver with its state, updating a flat parameter vector in place.

    Parameters
    ----------
    solver : {"sgd", "adagrad", "rmsprop", "adam"}, default="adam"
        Update rule (see the module docstring).
    learning_rate : float, default=1e-3
        Step size.
    momentum : float, default=0.0
        SGD momentum.
    nesterov : bool, default=False
        Nesterov momentum for SGD.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    rho : float, default=0.9
        RMSprop's decay rate of the squared-gradient average.
    epsilon : float, default=1e-8
        Added to the denominator of the adaptive solvers.
    alpha : float, default=0.0
        L2 penalty on the weight matrices (entries where ``decay_mask`` is 1).
    clip_grad_norm : float or None, default=None
        Clip the gradient to this global L2 norm before the update.
    device : str, default="cpu"
        Backend that runs the update (see :func:`rnnkit.backends.get_backend`).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import Optimizer
    >>> opt = Optimizer("sgd", learning_rate=0.1)
    >>> theta = np.array([1.0, 2.0])
    >>> opt.update(theta, np.array([1.0, -1.0]))
    1.4142135623730951
    >>> theta
    array([0.9, 2.1])
    """

    def __init__(
        self,
        solver="adam",
        learning_rate=1e-3,
        momentum=0.0,
        nesterov=False,
        beta_1=0.9,
        beta_2=0.999,
        rho=0.9,
        epsilon=1e-8,
        alpha=0.0,
        clip_grad_norm=None,
        device="cpu",
    ):
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(SOLVERS)}")
        self.solver = solver
        self.hyper = np.zeros(N_HYPER)
        self.hyper[[HYPER_LR, HYPER_MOMENTUM, HYPER_NESTEROV, HYPER_BETA_1, HYPER_BETA_2, HYPER_EPSILON,
                    HYPER_RHO]] = (learning_rate, momentum, float(nesterov), beta_1, beta_2, epsilon, rho)
        self.set_penalty(alpha)
        self.hyper[HYPER_CLIP] = 0.0 if clip_grad_norm is None else clip_grad_norm
        self.device = device
        self.state = None
        self.step = np.zeros(1, dtype=np.int64)

    @property
    def alpha(self):
        """float: the L2 penalty currently applied (see :meth:`set_penalty`)."""
        return float(self.hyper[HYPER_ALPHA])

    def set_penalty(self, alpha):
        """Set the L2 penalty on the weight matrices for the following updates.

        Parameters
        ----------
        alpha : float
            Non-negative penalty (the estimators pass ``alpha / batch_size``,
            scikit-learn's MLP convention).
        """
        alpha = float(alpha)
        if not alpha >= 0:
            raise ValueError(f"alpha must be non-negative, got {alpha!r}")
        self.hyper[HYPER_ALPHA] = alpha

    @property
    def learning_rate(self):
        """float: the step size of the following updates (see :meth:`set_learning_rate`)."""
        return float(self.hyper[HYPER_LR])

    def set_learning_rate(self, learning_rate):
        """Set the step size of the following updates (learning-rate schedules use it).

        Parameters
        ----------
        learning_rate : float
            Positive step size (SGD's rate, Adam's and RMSprop's ``alpha``,
            Adagrad's rate).
        """
        learning_rate = float(learning_rate)
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
        self.hyper[HYPER_LR] = learning_rate

    @property
    def code(self):
        """Integer code of the solver inside the kernels."""
        return SOLVERS[self.solver]

    def reset(self, n_params, dtype=np.float64):
        """Allocate zeroed state for ``n_params`` parameters and restart the step count.

        Parameters
        ----------
        n_params : int
            Length of the flat parameter vector.
        dtype : dtype, default=np.float64
            Precision of the parameters.
        """
        self.state = np.zeros((2, n_params), dtype=dtype)
        self.step[0] = 0

    def ensure_state(self, n_params, dtype=np.float64):
        """:meth:`reset` unless the state is already there for ``n_params`` parameters.

        Parameters
        ----------
        n_params : int
            Length of the flat parameter vector.
        dtype : dtype, default=np.float64
            Precision of the parameters.
        """
        if self.state is None or self.state.shape[1] != n_params:
            self.reset(n_params, dtype)

    def __setstate__(self, state):  # set up for a GPU, loaded where none is usable: the CPU runs it
        from .backends import usable_device

        self.__dict__.update(state, device=usable_device(state["device"]))

    def update(self, params, grads, decay_mask=None):
        """Apply one update to ``params`` in place.

        Parameters
        ----------
        params : ndarray of shape (P,)
            Flat parameter vector, updated in place.
        grads : ndarray of shape (P,)
            Gradient of the loss (modified in place by L2 and clipping).
        decay_mask : ndarray of shape (P,), default=None
            1 where the L2 penalty applies; ``None`` means everywhere.

        Returns
        -------
        float
            Global gradient norm before clipping (after the L2 term).
        """
        from .backends import get_backend

        if decay_mask is None:
            decay_mask = np.ones_like(params)
        return get_backend(self.device).apply_update(self, params, grads, decay_mask)
