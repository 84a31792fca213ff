"""Scalar transcendental functions for the kernels, specialised by precision.

``tanh`` and ``sigmoid`` are ordinary Python functions with numba overloads:

* for ``float64`` they are exact (``np.tanh``, ``1 / (1 + exp(-x))``), so the
  float64 kernels match the NumPy references and finite differences tightly;
* for ``float32`` ``tanh`` is a rational (odd degree-13 over even degree-6)
  minimax approximation on ``[-7.9053, 7.9053]``, clamped outside, and
  ``sigmoid(x) = 0.5 + 0.5 * tanh(x / 2)``. Its absolute error is below
  ``4e-7`` over the whole real line (measured 3.3e-7; tested), and, unlike a libm call, it
  vectorises. numba's ``np.tanh``/``np.exp`` compile to scalar libm calls
  when llvmlite has no SVML.

Backward passes use the analytic derivatives ``1 - tanh**2`` and
``s * (1 - s)`` of the value the forward pass computed; for float32 this
differs from the derivative of the rational function by less than ``1e-6``.

:func:`ln_forward` / :func:`ln_backward` are the layer normalisation of one
vector used by the layer-normalised cells:
``LN(a) = gain * (a - mean(a)) / sqrt(var(a) + LN_EPS) + bias`` with the
population variance and ``LN_EPS = 1e-5`` (the TensorFlow tutorial's value).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ..._config import JIT_OPTIONS

__all__ = ["tanh", "sigmoid", "exp", "log1p_unit", "TANH32_CLAMP", "LN_EPS", "ln_forward", "ln_backward"]

#: Added to the variance inside layer normalisation.
LN_EPS = 1e-5

#: Beyond this magnitude the float32 rational tanh returns +-1 (rounded).
TANH32_CLAMP = 7.90531110763549805


def _tanh32_py(x):
    """Pure NumPy float32 rational tanh (same arithmetic as the kernel)."""
    x = np.clip(np.asarray(x, dtype=np.float32), -np.float32(TANH32_CLAMP), np.float32(TANH32_CLAMP))
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    for c in (2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
              1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03):
        p = p * x2 + np.float32(c)
    q = np.float32(1.19825839466702e-06)
    for c in (1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03):
        q = q * x2 + np.float32(c)
    return (p * x) / q


def tanh(x):
    """Hyperbolic tangent: exact in float64, rational approximation in float32.

    Parameters
    ----------
    x : float
        Argument.

    Returns
    -------
    float
        ``tanh(x)``. Callable from Python (exact, NumPy) and from numba
        kernels, where the float32 overload is the vectorisable approximation.
    """
    return np.tanh(x)


def sigmoid(x):
    """Logistic function: exact in float64, via the rational tanh in float32.

    Parameters
    ----------
    x : float
        Argument.

    Returns
    -------
    float
        ``1 / (1 + exp(-x))``.
    """
    return 1.0 / (1.0 + np.exp(-x))


@overload(tanh, inline="always")
def _ov_tanh(x):
    if x == types.float32:

        def impl32(x):
            c = np.float32(TANH32_CLAMP)
            x = min(max(x, -c), c)
            x2 = x * x
            p = np.float32(-2.76076847742355e-16)
            p = p * x2 + np.float32(2.00018790482477e-13)
            p = p * x2 + np.float32(-8.60467152213735e-11)
            p = p * x2 + np.float32(5.12229709037114e-08)
            p = p * x2 + np.float32(1.48572235717979e-05)
            p = p * x2 + np.float32(6.37261928875436e-04)
            p = p * x2 + np.float32(4.89352455891786e-03)
            q = np.float32(1.19825839466702e-06)
            q = q * x2 + np.float32(1.18534705686654e-04)
            q = q * x2 + np.float32(2.26843463243900e-03)
            q = q * x2 + np.float32(4.89352518554385e-03)
            return (p * x) / q

        return impl32
    if isinstance(x, types.Float):

        def impl64(x):
            return np.tanh(x)

        return impl64
    return None


@overload(sigmoid, inline="always")
def _ov_sigmoid(x):
    if x == types.float32:

        def impl32(x):
            h = np.float32(0.5)
            return h + h * tanh(h * x)

        return impl32
    if isinstance(x, types.Float):

        def impl64(x):
            return 1.0 / (1.0 + np.exp(-x))

        return impl64
    return None


def exp(x):
    """Exponential: ``np.exp`` in float64; in float32, a polynomial that compiles to no library call.

    Parameters
    ----------
    x : float
        Argument.

    Returns
    -------
    float
        ``exp(x)``. In float32 kernels: Cephes' ``expf`` reduction (``x = n ln 2
        + r``, a degree-7 polynomial in ``r``, ``2**n`` built from its bits),
        relative error below ``2e-7`` (tested); ``inf`` above 88.72, ``0`` from
        -104, NaN kept. A libm call per element (``expf``) was a tenth of the
        time of small models' epochs, in their softmax cross-entropy.
    """
    return np.exp(x)


@intrinsic
def _f32_from_bits(typingctx, i):
    """The float32 whose bits are the low 32 bits of the integer ``i``."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = args[0]
        if v.type.width > 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(i), codegen


@overload(exp, inline="always")
def _ov_exp(x):
    if x == types.float32:

        def impl32(x):
            # no branches or selects (numba's IR inliner mishandles them): the clamp keeps NaN
            # (min/max return their first argument when unordered), 2**n as two factors makes
            # inf above 88.72 and 0 from -104 by itself
            f = np.float32
            xc = min(max(x, f(-104.0)), f(88.7229))
            n = np.floor(xc * f(1.44269504088896341) + f(0.5))
            r = xc - n * f(0.693359375) + n * f(2.12194440e-4)
            p = f(1.9875691500e-4)
            p = p * r + f(1.3981999507e-3)
            p = p * r + f(8.3334519073e-3)
            p = p * r + f(4.1665795894e-2)
            p = p * r + f(1.6666665459e-1)
            p = p * r + f(5.0000001201e-1)
            p = p * r * r + r + f(1)
            k = np.int32(n)
            h = k >> np.int32(1)
            return p * _f32_from_bits((h + np.int32(127)) << np.int32(23)) \
                * _f32_from_bits((k - h + np.int32(127)) << np.int32(23))

        return impl32
    if isinstance(x, types.Float):

        def impl64(x):
            return np.exp(x)

        return impl64
    return None


def log1p_unit(x):
    """``log(1 + x)`` for ``0 <= x <= 1``: ``np.log1p`` in float64; in float32, a branch-free series.

    Parameters
    ----------
    x : float
        Argument, in ``[0, 1]`` (the float32 kernel's error is bounded there
        only).

    Returns
    -------
    float
        ``log1p(x)``. In float32 kernels: ``2 atanh(t)`` with ``t = x / (2 + x)``
        in ``[0, 1/3]``, its odd series to ``t**13 / 13`` (relative error below
        ``3e-7`` for normal ``x``, tested; NaN kept), which vectorises where a libm call does
        not. The two-class cross-entropy's ``log(1 + exp(-|d|))`` calls it.
    """
    return np.log1p(x)


@overload(log1p_unit, inline="always")
def _ov_log1p_unit(x):
    if x == types.float32:

        def impl32(x):
            f = np.float32
            t = x / (f(2) + x)
            t2 = t * t
            p = f(1.0 / 13.0)
            p = p * t2 + f(1.0 / 11.0)
            p = p * t2 + f(1.0 / 9.0)
            p = p * t2 + f(1.0 / 7.0)
            p = p * t2 + f(1.0 / 5.0)
            p = p * t2 + f(1.0 / 3.0)
            p = p * t2 + f(1)
            return f(2) * t * p

        return impl32
    if isinstance(x, types.Float):

        def impl64(x):
            return np.log1p(x)

        return impl64
    return None


@njit(**JIT_OPTIONS)
def ln_forward(a, gain, bias, out, xhat):
    """Layer-normalise ``a`` (n,) into ``out`` (may be ``a``); store ``xhat``.

    Returns ``rstd = 1 / sqrt(var(a) + LN_EPS)``.
    """
    n = a.shape[0]
    dt = a.dtype.type
    inv_n = dt(1) / dt(n)
    s = dt(0)
    for j in range(n):
        s += a[j]
    m = s * inv_n
    v = dt(0)
    for j in range(n):
        e = a[j] - m
        v += e * e
    rstd = dt(1) / np.sqrt(v * inv_n + dt(LN_EPS))
    for j in range(n):
        x = (a[j] - m) * rstd
        xhat[j] = x
        out[j] = gain[j] * x + bias[j]
    return rstd


@njit(**JIT_OPTIONS)
def ln_backward(dout, gain, xhat, rstd, da, ggain, gbias):
    """Backward of :func:`ln_forward`: ``da`` (may be ``dout``) from ``dout``.

    Accumulates the gain and bias gradients into ``ggain`` and ``gbias``.
    """
    n = dout.shape[0]
    dt = dout.dtype.type
    m1 = dt(0)
    m2 = dt(0)
    for j in range(n):
        g = dout[j]
        ggain[j] += g * xhat[j]
        gbias[j] += g
        dx = g * gain[j]
        da[j] = dx
        m1 += dx
        m2 += dx * xhat[j]
    inv_n = dt(1) / dt(n)
    m1 = m1 * inv_n
    m2 = m2 * inv_n
    for j in range(n):
        da[j] = rstd * (da[j] - m1 - xhat[j] * m2)
