"""Matrix products used inside kernels: compiled loops when small, BLAS when large.

All three write into (or accumulate onto) a preallocated C-contiguous ``out``.
"""

import numpy as np
from numba import njit

from ._config import BLAS_MIN_WORK, JIT_OPTIONS


@njit(**JIT_OPTIONS)
def mm_nt(A, B, out, accumulate):  # pragma: no cover - compiled
    """``out (+)= A @ B.T`` for ``A`` (M, K), ``B`` (N, K)."""
    M, K = A.shape
    N = B.shape[0]
    if M * N * K >= BLAS_MIN_WORK:
        if accumulate:
            out += np.dot(A, B.T)
        else:
            np.dot(A, B.T, out)
        return
    for m in range(M):
        a = A[m]
        o = out[m]
        for n in range(N):
            b = B[n]
            s = a[0] * b[0] if K > 0 else o[n] - o[n]
            for k in range(1, K):
                s += a[k] * b[k]
            if accumulate:
                o[n] += s
            else:
                o[n] = s


@njit(**JIT_OPTIONS)
def mm_nn(A, B, out, accumulate):  # pragma: no cover - compiled
    """``out (+)= A @ B`` for ``A`` (M, K), ``B`` (K, N)."""
    M, K = A.shape
    N = B.shape[1]
    if M * N * K >= BLAS_MIN_WORK:
        if accumulate:
            out += np.dot(A, B)
        else:
            np.dot(A, B, out)
        return
    for m in range(M):
        o = out[m]
        if not accumulate:
            o[:] = 0
        for k in range(K):
            a = A[m, k]
            b = B[k]
            for n in range(N):
                o[n] += a * b[n]


@njit(**JIT_OPTIONS)
def mm_tn(A, B, out, accumulate):  # pragma: no cover - compiled
    """``out (+)= A.T @ B`` for ``A`` (M, K), ``B`` (M, N)."""
    M, K = A.shape
    N = B.shape[1]
    if M * N * K >= BLAS_MIN_WORK:
        if accumulate:
            out += np.dot(A.T, B)
        else:
            np.dot(A.T, B, out)
        return
    if not accumulate:
        out[:] = 0
    for m in range(M):
        a = A[m]
        b = B[m]
        for k in range(K):
            o = out[k]
            ak = a[k]
            for n in range(N):
                o[n] += ak * b[n]


@njit(**JIT_OPTIONS)
def colsum(A, out, accumulate):  # pragma: no cover - compiled
    """``out (+)= A.sum(axis=0)`` for ``A`` (M, N)."""
    if not accumulate:
        out[:] = 0
    for m in range(A.shape[0]):
        a = A[m]
        for n in range(A.shape[1]):
            out[n] += a[n]
