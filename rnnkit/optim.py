"""First-order optimizers on one flat parameter vector.

Every update is a single compiled call, :func:`apply_update`, which in this
order adds the L2 penalty to the gradient, clips the gradient by its global
norm and applies the solver's rule (PyTorch's formulations):

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
from numba import njit

from ._config import JIT_OPTIONS

#: solver name -> integer code used by the kernels
SOLVERS = {"sgd": 0, "adagrad": 1, "rmsprop": 2, "adam": 3}

# slots of the hyper-parameter vector
LR, MOMENTUM, NESTEROV, BETA_1, BETA_2, EPSILON, RHO, ALPHA, CLIP = range(9)
N_HYPER = 9

__all__ = ["SOLVERS", "Optimizer", "apply_update", "clip_by_global_norm"]


@njit(**JIT_OPTIONS)
def clip_by_global_norm(grad, max_norm):  # pragma: no cover - compiled
    """Scale ``grad`` in place so its L2 norm is at most ``max_norm`` (> 0).

    Returns the norm before clipping. ``max_norm <= 0`` disables clipping.
    """
    s = grad.dtype.type(0)
    for i in range(grad.shape[0]):
        s += grad[i] * grad[i]
    norm = np.sqrt(s)
    if max_norm > 0 and norm > max_norm:
        scale = grad.dtype.type(max_norm / norm)
        for i in range(grad.shape[0]):
            grad[i] *= scale
    return norm


@njit(**JIT_OPTIONS)
def apply_update(solver, theta, grad, state, step, hyper, decay_mask):  # pragma: no cover
    """One optimizer step on the flat vector ``theta``, in place.

    ``state`` (2, P) holds the solver's moments, ``step`` (1,) int64 the number
    of updates so far (incremented here), ``hyper`` the float64 vector indexed
    by the module's slot constants. ``grad`` is modified (L2, clipping).
    Returns the gradient norm before clipping.
    """
    P = theta.shape[0]
    dt = theta.dtype.type
    alpha = dt(hyper[ALPHA])
    if alpha != 0:
        for i in range(P):
            grad[i] += alpha * decay_mask[i] * theta[i]
    norm = clip_by_global_norm(grad, hyper[CLIP])
    step[0] += 1
    lr = dt(hyper[LR])
    eps = dt(hyper[EPSILON])
    one = dt(1)
    a = state[0]
    v = state[1]
    if solver == 0:
        mu = dt(hyper[MOMENTUM])
        if mu == 0:
            for i in range(P):
                theta[i] -= lr * grad[i]
        elif hyper[NESTEROV] != 0:
            for i in range(P):
                a[i] = mu * a[i] + grad[i]
                theta[i] -= lr * (grad[i] + mu * a[i])
        else:
            for i in range(P):
                a[i] = mu * a[i] + grad[i]
                theta[i] -= lr * a[i]
    elif solver == 1:
        for i in range(P):
            a[i] += grad[i] * grad[i]
            theta[i] -= lr * grad[i] / (np.sqrt(a[i]) + eps)
    elif solver == 2:
        rho = dt(hyper[RHO])
        for i in range(P):
            a[i] = rho * a[i] + (one - rho) * grad[i] * grad[i]
            theta[i] -= lr * grad[i] / (np.sqrt(a[i]) + eps)
    else:
        b1 = dt(hyper[BETA_1])
        b2 = dt(hyper[BETA_2])
        t = step[0]
        c1 = dt(1.0 - hyper[BETA_1] ** t)
        c2 = dt(1.0 - hyper[BETA_2] ** t)
        for i in range(P):
            g = grad[i]
            a[i] = b1 * a[i] + (one - b1) * g
            v[i] = b2 * v[i] + (one - b2) * g * g
            theta[i] -= lr * (a[i] / c1) / (np.sqrt(v[i] / c2) + eps)
    return norm


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
    ):
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(SOLVERS)}")
        self.solver = solver
        self.hyper = np.zeros(N_HYPER)
        self.hyper[[LR, MOMENTUM, NESTEROV, BETA_1, BETA_2, EPSILON, RHO, ALPHA]] = (
            learning_rate, momentum, float(nesterov), beta_1, beta_2, epsilon, rho, alpha,
        )
        self.hyper[CLIP] = 0.0 if clip_grad_norm is None else clip_grad_norm
        self.state = None
        self.step = np.zeros(1, dtype=np.int64)

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
        if self.state is None or self.state.shape[1] != params.shape[0]:
            self.reset(params.shape[0], params.dtype)
        if decay_mask is None:
            decay_mask = np.ones_like(params)
        return float(
            apply_update(self.code, params, grads, self.state, self.step, self.hyper, decay_mask)
        )
