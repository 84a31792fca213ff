"""Matrix products used inside kernels: compiled loops when small, BLAS when large.

All three write into (or accumulate onto) a preallocated C-contiguous ``out``.
:func:`cview` reshapes a C-contiguous array without numba's generic reshape
helper (an external call of ~20 ns that the optimiser cannot remove; the
stacked-network kernels take dozens of views per truncated-BPTT window).
"""

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from ._config import BLAS_MIN_WORK, JIT_OPTIONS


@intrinsic
def _cview_unchecked(typingctx, arr, shape):
    """C-contiguous view of the C-contiguous ``arr`` with ``shape`` (same size, unchecked)."""
    if not (isinstance(arr, types.Array) and arr.layout == "C" and isinstance(shape, types.UniTuple)
            and isinstance(shape.dtype, types.Integer)):
        return None
    nd = shape.count
    rettype = arr.copy(ndim=nd, layout="C", readonly=not arr.mutable)
    sig = rettype(arr, shape)

    def codegen(context, builder, sig, args):
        aryty, shapety = sig.args
        ary = make_array(aryty)(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        dims = [builder.sext(d, intp) if d.type.width < intp.width else d
                for d in cgutils.unpack_tuple(builder, args[1], nd)]
        nbytes = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        itemsize = context.get_constant(types.intp, nbytes)
        strides = [None] * nd
        acc = itemsize
        for i in range(nd - 1, -1, -1):
            strides[i] = acc
            acc = builder.mul(acc, dims[i])
        out = make_array(rettype)(context, builder)
        populate_array(out, data=ary.data, shape=cgutils.pack_array(builder, dims),
                       strides=cgutils.pack_array(builder, strides), itemsize=itemsize,
                       meminfo=ary.meminfo, parent=ary.parent)
        res = out._getvalue()
        if context.enable_nrt:
            context.nrt.incref(builder, rettype, res)
        return res

    return sig, codegen


@njit(inline="always", **JIT_OPTIONS)
def cview(arr, shape):  # pragma: no cover - compiled
    """``arr.reshape(shape)`` for a C-contiguous ``arr`` of exactly that size, as a view."""
    n = 1
    for d in shape:
        n *= d
    if n != arr.size:
        raise ValueError("cview: size mismatch")
    return _cview_unchecked(arr, shape)


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
