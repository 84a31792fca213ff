"""Gradient reduction and the optimizers' update on the device (rules: :mod:`rnnkit.optim`).

Two kernels per update, both deterministic (fixed summation orders, no atomics):

* :func:`reduce_grads` sums the blocks' gradient rows (``gpart`` (nblk, P)) and
  divides by the window's total item weight (summed from ``bstat``), adds the
  L2 term, and leaves per-block sums of squares in ``psum``; its block 0 keeps
  the window's record and decides whether the update applies (``ctl[0]``);
* :func:`update` reads the global norm from ``psum``, clips, and applies the
  solver to ``theta`` and its state.
"""

import math

from numba import cuda, float64

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

#: threads of the reduction and update kernels (a power of two, at most :data:`SHARED`)
THREADS = 256
#: size of the shared buffer of a block reduction
SHARED = 256


@cuda.jit(device=True, inline=True)
def mean_grad(gpart, k, count, alpha, decay, theta):
    """Element ``k`` of the mean loss's gradient: the blocks' rows summed in order, over ``count``, + L2."""
    g = 0.0
    for b in range(gpart.shape[0]):
        g += gpart[b, k]
    g = g / count
    if alpha != 0:
        g += alpha * decay[k] * theta[k]
    return g


@cuda.jit(cache=True)
def reduce_grads(gpart, bstat, theta, decay, hyper, train, grad, psum, rec, w, flag, step, ctl):
    """``grad`` = sum of ``gpart``'s rows / total weight (+ L2 when ``train``); see the module docstring."""
    tid = cuda.threadIdx.x
    buf = cuda.shared.array(SHARED, float64)
    if flag[0] != 0:
        return
    total = 0.0
    count = 0.0
    for b in range(bstat.shape[0]):
        total += bstat[b, 0]
        count += bstat[b, 1]
    if train != 0 and not math.isfinite(total):
        if cuda.blockIdx.x == 0 and tid == 0:
            flag[0] = 1
            rec[w, 0] = total
            rec[w, 1] = count
            ctl[0] = 0
        return
    P = grad.shape[0]
    alpha = hyper[HYPER_ALPHA] if train != 0 else 0.0
    s = 0.0
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for k in range(start, P, stride):
        g = mean_grad(gpart, k, count, alpha, decay, theta) if count > 0 else 0.0
        grad[k] = g
        s += g * g
    s = block_sum(buf, s)
    if tid == 0:
        psum[cuda.blockIdx.x] = s
        if cuda.blockIdx.x == 0:
            rec[w, 0] = total
            rec[w, 1] = count
            ctl[0] = 1 if count > 0 else 0
            if train != 0 and count > 0:
                step[0] += 1


@cuda.jit(device=True, inline=True)
def step_element(solver, k, g, theta, state, hyper, t):
    """The solver's update of element ``k`` with gradient ``g`` at step ``t`` (the CPU's ``apply_update``)."""
    lr = hyper[HYPER_LR]
    eps = hyper[HYPER_EPSILON]
    if solver == 0:
        mu = hyper[HYPER_MOMENTUM]
        if mu == 0:
            theta[k] -= lr * g
        else:
            a = mu * state[0, k] + g
            state[0, k] = a
            theta[k] -= lr * (g + mu * a) if hyper[HYPER_NESTEROV] != 0 else lr * a
    elif solver == 1:
        a = state[0, k] + g * g
        state[0, k] = a
        theta[k] -= lr * g / (math.sqrt(a) + eps)
    elif solver == 2:
        rho = hyper[HYPER_RHO]
        a = rho * state[0, k] + (1.0 - rho) * g * g
        state[0, k] = a
        theta[k] -= lr * g / (math.sqrt(a) + eps)
    else:
        b1 = hyper[HYPER_BETA_1]
        b2 = hyper[HYPER_BETA_2]
        a = b1 * state[0, k] + (1.0 - b1) * g
        v = b2 * state[1, k] + (1.0 - b2) * g * g
        state[0, k] = a
        state[1, k] = v
        theta[k] -= lr * (a / (1.0 - b1 ** t)) / (math.sqrt(v / (1.0 - b2 ** t)) + eps)


@cuda.jit(device=True)
def block_sum(buf, value):
    """Sum of ``value`` over the block's threads (a power of two, at most :data:`SHARED`)."""
    tid = cuda.threadIdx.x
    buf[tid] = value
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if tid < half:
            buf[tid] += buf[tid + half]
        cuda.syncthreads()
        half //= 2
    total = buf[0]
    cuda.syncthreads()
    return total


@cuda.jit(cache=True)
def update(solver, theta, grad, state, step, hyper, psum, ctl, norm_out):
    """One solver step on ``theta`` (when ``ctl[0]``), after global-norm clipping (left in ``grad``)."""
    if ctl[0] == 0:
        return
    s = 0.0
    for b in range(psum.shape[0]):
        s += psum[b]
    norm = math.sqrt(s)
    if cuda.grid(1) == 0:
        norm_out[0] = norm
    clip = hyper[HYPER_CLIP]
    scale = clip / norm if clip > 0 and norm > clip else 1.0
    t = step[0]
    for k in range(cuda.grid(1), theta.shape[0], cuda.gridsize(1)):
        g = grad[k] * scale
        grad[k] = g
        step_element(solver, k, g, theta, state, hyper, t)


@cuda.jit(device=True)
def block_update(theta, gpart, bstat, decay, hyper, solver, state, step, rec, w, flag):
    """:func:`reduce_grads` and :func:`update` by one block: the sum of ``gpart``'s rows, in its row 0.

    The window's total weight and loss are summed from ``bstat``. Returns
    False when the loss is not finite (``flag`` set, no update).
    """
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    buf = cuda.shared.array(SHARED, float64)
    total = 0.0
    count = 0.0
    for b in range(bstat.shape[0]):
        total += bstat[b, 0]
        count += bstat[b, 1]
    if not math.isfinite(total):
        if tid == 0:
            flag[0] = 1
            rec[w, 0] = total
            rec[w, 1] = count
        return False
    if count <= 0:
        return True
    alpha = hyper[HYPER_ALPHA]
    s = 0.0
    for k in range(tid, theta.shape[0], nt):
        g = mean_grad(gpart, k, count, alpha, decay, theta)
        gpart[0, k] = g
        s += g * g
    norm = math.sqrt(block_sum(buf, s))
    clip = hyper[HYPER_CLIP]
    scale = clip / norm if clip > 0 and norm > clip else 1.0
    t = step[0] + 1
    for k in range(tid, theta.shape[0], nt):
        step_element(solver, k, gpart[0, k] * scale, theta, state, hyper, t)
    cuda.syncthreads()
    if tid == 0:
        step[0] = t
        rec[w, 0] = total
        rec[w, 1] = count
    return True
