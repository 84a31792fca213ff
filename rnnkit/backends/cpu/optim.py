"""The optimizers' update on the CPU: one compiled call per step (rules in :mod:`rnnkit.optim`)."""

import numpy as np
from numba import njit

from ..._config import INTERNAL, JIT_OPTIONS
from ...slots import (
    HYPER_ALPHA,
    HYPER_BETA_1,
    HYPER_BETA_2,
    HYPER_CLIP,
    HYPER_EPSILON,
    HYPER_LR,
    HYPER_MOMENTUM,
    HYPER_NESTEROV,
    HYPER_RHO,
)


@njit(**JIT_OPTIONS)
def clip_by_global_norm(grad, max_norm):
    """Scale ``grad`` in place so its L2 norm is at most ``max_norm`` (> 0).

    Returns the norm before clipping. ``max_norm <= 0`` disables clipping.

    The squares are summed in eight running sums (a fixed order, which the
    compiler may run as one vector: the kernels keep IEEE arithmetic, see
    :data:`rnnkit._config.FASTMATH`); one running sum made every update wait
    for a chain as long as the model's weights (LSTM-512's 1.1 million
    float32 weights, one core: see the changelog).
    """
    zero = grad.dtype.type(0)
    s0, s1, s2, s3, s4, s5, s6, s7 = zero, zero, zero, zero, zero, zero, zero, zero
    P = grad.shape[0]
    P8 = P - P % 8
    for i in range(0, P8, 8):
        s0 += grad[i] * grad[i]
        s1 += grad[i + 1] * grad[i + 1]
        s2 += grad[i + 2] * grad[i + 2]
        s3 += grad[i + 3] * grad[i + 3]
        s4 += grad[i + 4] * grad[i + 4]
        s5 += grad[i + 5] * grad[i + 5]
        s6 += grad[i + 6] * grad[i + 6]
        s7 += grad[i + 7] * grad[i + 7]
    for i in range(P8, P):
        s0 += grad[i] * grad[i]
    norm = np.sqrt(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)))
    if max_norm > 0 and norm > max_norm:
        scale = grad.dtype.type(max_norm / norm)
        for i in range(grad.shape[0]):
            grad[i] *= scale
    return norm


@njit(**INTERNAL)
def apply_update(solver, theta, grad, state, step, hyper, decay_mask):
    """One optimizer step on the flat vector ``theta``, in place.

    ``state`` (2, P) holds the solver's moments, ``step`` (1,) int64 the number
    of updates so far (incremented here), ``hyper`` the float64 vector indexed
    by the module's slot constants. ``grad`` is modified (L2, clipping).
    Returns the gradient norm before clipping.
    """
    P = theta.shape[0]
    dt = theta.dtype.type
    alpha = dt(hyper[HYPER_ALPHA])
    if alpha != 0:
        for i in range(P):
            grad[i] += alpha * decay_mask[i] * theta[i]
    norm = clip_by_global_norm(grad, hyper[HYPER_CLIP])
    step[0] += 1
    lr = dt(hyper[HYPER_LR])
    eps = dt(hyper[HYPER_EPSILON])
    one = dt(1)
    a = state[0]
    v = state[1]
    if solver == 0:
        mu = dt(hyper[HYPER_MOMENTUM])
        if mu == 0:
            for i in range(P):
                theta[i] -= lr * grad[i]
        elif hyper[HYPER_NESTEROV] != 0:
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
        rho = dt(hyper[HYPER_RHO])
        for i in range(P):
            a[i] = rho * a[i] + (one - rho) * grad[i] * grad[i]
            theta[i] -= lr * grad[i] / (np.sqrt(a[i]) + eps)
    else:
        b1 = dt(hyper[HYPER_BETA_1])
        b2 = dt(hyper[HYPER_BETA_2])
        t = step[0]
        c1 = dt(1.0 - hyper[HYPER_BETA_1] ** t)
        c2 = dt(1.0 - hyper[HYPER_BETA_2] ** t)
        for i in range(P):
            g = grad[i]
            a[i] = b1 * a[i] + (one - b1) * g
            v[i] = b2 * v[i] + (one - b2) * g * g
            theta[i] -= lr * (a[i] / c1) / (np.sqrt(v[i] / c2) + eps)
    return norm
