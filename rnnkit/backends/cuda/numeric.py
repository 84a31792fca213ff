"""Device functions shared by the CUDA kernels: activations, layer normalisation, dropout hash.

Arrays are flat (the kernels index their own workspace); every function here
is a ``numba.cuda`` device function. :func:`position_hash` is also plain Python
(NumPy int64 arithmetic), so the host computes the same dropout masks
(:meth:`rnnkit.backends.cuda.CudaBackend.dropout_masks`).
"""

import math

from numba import cuda

from ..cpu.numeric import LN_EPS

__all__ = ["position_hash", "keep_scale_d", "sigmoid", "tanh", "ln_forward", "ln_backward", "LN_EPS"]

#: head-mask step of last-step output (its features have no time step)
HEAD_STEP = -1


def position_hash(seed, layer, step, row, unit):
    """A 32-bit hash of a dropout position: Wellons' ``lowbias32`` chained over the five integers.

    Plain integer arithmetic (int64, low 32 bits kept), so the same function
    runs on the device and, on NumPy int64 arrays, on the host.
    """
    h = 0
    for v in (seed, layer, step, row, unit):
        # products modulo 2**32 in two 16-bit halves of the constant: no int64 overflow
        x = (h + v) & 0xFFFFFFFF
        x ^= x >> 16
        x = (x * 0x352D + (((x * 0x7FEB) & 0xFFFF) << 16)) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0xA68B + (((x * 0x846C) & 0xFFFF) << 16)) & 0xFFFFFFFF
        x ^= x >> 16
        h = x
    return h


position_hash_d = cuda.jit(device=True)(position_hash)


@cuda.jit(device=True, inline=True)
def keep_scale_d(seed, layer, step, row, unit, p):
    """Dropout multiplier at (layer, global step, data row, unit): 0 with probability ``p``, else ``1/(1-p)``.

    A function of the seed and the position only (no generator state), so
    masks do not depend on the launch configuration.
    """
    u = position_hash_d(seed, layer, step, row, unit) * (1.0 / 4294967296.0)
    return 0.0 if u < p else 1.0 / (1.0 - p)


@cuda.jit(device=True, inline=True)
def sigmoid(x):
    """Logistic function (``tanh`` based: no overflow of ``exp``)."""
    return 0.5 + 0.5 * math.tanh(0.5 * x)


@cuda.jit(device=True, inline=True)
def tanh(x):
    """Hyperbolic tangent."""
    return math.tanh(x)


@cuda.jit(device=True)
def ln_forward(src, s0, dst, d0, n, theta, g0, b0, xh, x0):
    """Layer-normalise ``src[s0:s0+n]`` into ``dst[d0:d0+n]`` (gain ``theta[g0:]``, bias ``theta[b0:]``).

    Stores the normalised values in ``xh[x0:x0+n]`` and returns ``1 / sigma``
    (population variance plus :data:`LN_EPS`), as the CPU's ``ln_forward``.
    """
    s = 0.0
    for j in range(n):
        s += src[s0 + j]
    m = s / n
    v = 0.0
    for j in range(n):
        e = src[s0 + j] - m
        v += e * e
    rstd = 1.0 / math.sqrt(v / n + LN_EPS)
    for j in range(n):
        x = (src[s0 + j] - m) * rstd
        xh[x0 + j] = x
        dst[d0 + j] = theta[g0 + j] * x + theta[b0 + j]
    return rstd


@cuda.jit(device=True)
def ln_backward(dout, o0, da, a0, n, theta, g0, xh, x0, rstd):
    """Backward of :func:`ln_forward`: ``da[a0:a0+n]`` from ``dout[o0:o0+n]`` (gain, bias: elsewhere)."""
    m1 = 0.0
    m2 = 0.0
    for j in range(n):
        dx = dout[o0 + j] * theta[g0 + j]
        m1 += dx
        m2 += dx * xh[x0 + j]
    m1 = m1 / n
    m2 = m2 / n
    for j in range(n):
        dx = dout[o0 + j] * theta[g0 + j]
        da[a0 + j] = rstd * (dx - m1 - xh[x0 + j] * m2)
