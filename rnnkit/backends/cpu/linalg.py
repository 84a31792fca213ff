"""Matrix products used inside the CPU kernels: compiled loops when small, BLAS when large.

All three write into (or accumulate onto) a preallocated C-contiguous ``out``.
BLAS is called directly (:func:`_gemm`, Fortran ``sgemm`` / ``dgemm``) when
the operands' rows are contiguous: an accumulating product adds in place, and
the call skips the checks of numba's ``np.dot`` (float32, one core: a (100, 6)
by (6, 6) product 279 -> 250 ns, a (5, 4) by (4, 4) one 117 -> 46 ns).
:func:`cview` reshapes a C-contiguous array without numba's generic reshape
helper (an external call of ~20 ns that the optimiser cannot remove; the
stacked-network kernels take dozens of views per truncated-BPTT window);
:func:`borrow` makes the views of an array the caller keeps alive free of
numba's reference counting.
"""

import numpy as np
from llvmlite import binding as ll
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import get_cython_function_address, intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

from ..._config import BLAS_MIN_WORK, INTERNAL, JIT_OPTIONS, NT_COPY_MAX, NT_COPY_MIN_ROWS

# Fortran BLAS's ``sgemm`` / ``dgemm`` from SciPy (the BLAS numba's ``np.dot`` calls), under names that
# compiled code links by when it is loaded: the address is not stored in numba's cache files
for _kind in "sd":
    ll.add_symbol(f"rnnkit_{_kind}gemm",
                  get_cython_function_address("scipy.linalg.cython_blas", f"{_kind}gemm"))


@intrinsic
def _gemm(typingctx, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Fortran BLAS's ``c = alpha op(a) op(b) + beta c`` (column-major; ``?gemm`` of ``alpha``'s precision).

    ``transa`` / ``transb`` are character codes (``ord("N")``, ``ord("T")``),
    ``a``, ``b``, ``c`` arrays of that precision (passed as arrays, not
    addresses, so that numba keeps them alive until the call), the rest values
    (passed by reference from the stack, as Fortran takes them).
    """
    if not isinstance(alpha, types.Float) or beta != alpha:
        return None
    if not all(isinstance(x, types.Array) and x.dtype == alpha for x in (a, b, c)):
        return None
    sig = types.void(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    name = f"rnnkit_{'s' if alpha.bitwidth == 32 else 'd'}gemm"

    def codegen(context, builder, sig, args):
        i8p = ir.IntType(8).as_pointer()
        ptrs = []
        for i, (v, t) in enumerate(zip(args, sig.args, strict=True)):
            if i in (6, 8, 11):  # the matrices
                ptrs.append(builder.bitcast(make_array(t)(context, builder, v).data, i8p))
                continue
            if i in (5, 10):  # alpha, beta
                val = v
            else:  # characters and Fortran integers
                val = builder.trunc(context.cast(builder, v, t, types.int64), ir.IntType(8 if i < 2 else 32))
            ptrs.append(builder.bitcast(cgutils.alloca_once_value(builder, val), i8p))
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p] * 13), name)
        builder.call(fn, ptrs)
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always", **INTERNAL)
def _rows_contiguous(X):
    return X.shape[1] <= 1 or X.strides[1] == X.itemsize


@njit(inline="always", **INTERNAL)
def _gemm_rows(A, B, out, accumulate, a_transposed):
    """``out (+)= A.T @ B`` (``a_transposed``) or ``out (+)= A @ B`` by one BLAS call (``A``, ``B``,
    ``out`` with contiguous rows), in place: row-major ``out`` is column-major ``out.T = B.T @ op(A).T``,
    where ``B`` is column-major ``B.T`` ("N") and ``A`` column-major ``A.T`` ("T" when ``a_transposed``).
    """
    R, S = (A.shape[1], A.shape[0]) if a_transposed else A.shape
    N = B.shape[1]
    isz = A.itemsize
    one = out.dtype.type(1)
    _gemm(78, 84 if a_transposed else 78, N, R, S, one, B, max(B.strides[0] // isz, N, 1), A,
          max(A.strides[0] // isz, A.shape[1], 1), one if accumulate else out.dtype.type(0), out,
          max(out.strides[0] // isz, N, 1))


@njit(inline="always", **INTERNAL)
def _direct(A, B, out):
    """Whether BLAS is called directly (:func:`_gemm`) on these operands: compiled, rows contiguous."""
    return not config.DISABLE_JIT and _rows_contiguous(A) and _rows_contiguous(B) and _rows_contiguous(out)


@njit(inline="always", **INTERNAL)
def _blas_nn(A, B, out, accumulate):
    """``out (+)= A @ B`` on BLAS: one direct call (:func:`_gemm_rows`) when rows are contiguous, else
    ``np.dot`` (for :func:`mm_nn` and :func:`mm_nt`'s transposed copy)."""
    if _direct(A, B, out):
        _gemm_rows(A, B, out, accumulate, False)
    elif accumulate:
        out += np.dot(A, B)
    else:
        np.dot(A, B, out)


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


@njit(**JIT_OPTIONS)
def uses_blas(M, N, K):
    """Whether a product of ``M * N * K`` multiply-adds goes to BLAS (the one home of that rule)."""
    return M * N * K >= BLAS_MIN_WORK


@njit(**JIT_OPTIONS)
def transposes_first(M, N, K):
    """Whether BLAS's ``A @ B.T`` runs on a contiguous transposed copy of ``B`` (the rule:
    :data:`~rnnkit._config.NT_COPY_MAX`)."""
    return N * K <= NT_COPY_MAX and M >= NT_COPY_MIN_ROWS


@njit(**JIT_OPTIONS)
def _cview(arr, shape):
    n = 1
    for d in shape:
        n *= d
    if n != arr.size:
        raise ValueError("cview: size mismatch")
    return _cview_unchecked(arr, shape)


def _cview_py(arr, shape):
    """``arr.reshape(shape)``: the plain-Python twin, for ``NUMBA_DISABLE_JIT=1``."""
    if not arr.flags.c_contiguous:
        raise ValueError("cview: array is not C-contiguous")
    return arr.reshape(shape)


@intrinsic
def _borrow_compiled(typingctx, arr):
    """``arr`` without its reference to the memory's owner: views of it count no references."""
    if not isinstance(arr, types.Array):
        return None
    sig = arr(arr)

    def codegen(context, builder, sig, args):
        ary = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(sig.return_type)(context, builder)
        populate_array(out, data=ary.data, shape=ary.shape, strides=ary.strides, itemsize=ary.itemsize,
                       meminfo=cgutils.get_null_value(ary.meminfo.type), parent=ary.parent)
        return out._getvalue()

    return sig, codegen


def _borrow_py(arr):
    """``arr`` itself: the plain-Python twin of :func:`borrow`, for ``NUMBA_DISABLE_JIT=1``."""
    return arr


#: ``arr`` as a *borrowed* array (compiled code only): the same data, shape and
#: strides, no reference to the memory's owner. Every slice and view taken from
#: it then skips numba's reference counting (an atomic add, and its function
#: call, per view made or dropped: on the tiny models half of the samples of
#: a training epoch went there). The rule that makes it safe: borrow only an
#: array the caller keeps alive for the whole call (an argument), and let no
#: borrowed array or view of one outlive the call (never returned, never
#: stored in an array that is returned).
borrow = _borrow_py if config.DISABLE_JIT else _borrow_compiled

#: ``arr.reshape(shape)`` for a C-contiguous ``arr`` of exactly that size, as a view
#: (compiled: a cheap intrinsic; interpreted, under ``NUMBA_DISABLE_JIT=1``: ``reshape``)
cview = _cview_py if config.DISABLE_JIT else _cview


@njit(**JIT_OPTIONS)
def min_length(lengths):
    """The smallest of ``lengths`` (0 when empty): steps below it are valid in every row."""
    m = lengths[0] if lengths.shape[0] > 0 else 0
    for b in range(lengths.shape[0]):
        m = min(m, lengths[b])
    return m


@njit(**JIT_OPTIONS)
def all_zero(A):
    """Whether every element of the 2-D ``A`` is zero (a state known to be zero skips its products)."""
    zero = A.dtype.type(0)
    for m in range(A.shape[0]):
        for n in range(A.shape[1]):
            if A[m, n] != zero:
                return False
    return True


@njit(**JIT_OPTIONS)
def mm_nt(A, B, out, accumulate):
    """``out (+)= A @ B.T`` for ``A`` (M, K), ``B`` (N, K)."""
    M, K = A.shape
    N = B.shape[0]
    if uses_blas(M, N, K):
        if transposes_first(M, N, K):
            Bt = np.empty((K, N), B.dtype)
            for k in range(K):
                for n in range(N):
                    Bt[k, n] = B[n, k]
            _blas_nn(A, Bt, out, accumulate)
        elif accumulate:
            out += np.dot(A, B.T)
        else:
            np.dot(A, B.T, out)
        return
    # scalar indexing, no row views: a view costs reference counting, which
    # dominates products of a few hundred multiply-adds
    zero = out.dtype.type(0)
    for m in range(M):
        for n in range(N):
            s = zero
            for k in range(K):
                s += A[m, k] * B[n, k]
            if accumulate:
                out[m, n] += s
            else:
                out[m, n] = s


@njit(**JIT_OPTIONS)
def mm_nn(A, B, out, accumulate):
    """``out (+)= A @ B`` for ``A`` (M, K), ``B`` (K, N)."""
    M, K = A.shape
    N = B.shape[1]
    if uses_blas(M, N, K):
        _blas_nn(A, B, out, accumulate)
        return
    # each output summed in a register: accumulating into ``out`` in the inner loop stores at every
    # multiply-add (``out`` may alias the operands), which dominated the tiny products of small models
    zero = out.dtype.type(0)
    for m in range(M):
        for n in range(N):
            s = zero
            for k in range(K):
                s += A[m, k] * B[k, n]
            if accumulate:
                out[m, n] += s
            else:
                out[m, n] = s


@njit(**JIT_OPTIONS)
def mm_nn_add(A, B, out, buf):
    """``out += A @ B`` for ``A`` (M, K), ``B`` (K, N), without allocating.

    A product large enough for BLAS accumulates in place when the operands'
    rows are contiguous (:func:`_gemm`); otherwise it is written into the
    scratch ``buf`` (at least ``M * N`` elements, C-contiguous) and added from
    there:
    ``out += np.dot(A, B)`` would allocate the product at every call (once per
    step in the cells' backward passes, where it cost more than the addition).
    """
    M, K = A.shape
    N = B.shape[1]
    if not uses_blas(M, N, K):
        mm_nn(A, B, out, True)
        return
    if _direct(A, B, out):  # in place
        _gemm_rows(A, B, out, True, False)
        return
    prod = cview(buf[:M * N], (M, N))
    np.dot(A, B, prod)
    add_into(out, prod)


def add_into(out, src):
    """``out += src`` for two 2-D arrays of one shape, ``src`` C-contiguous (compiled: without allocating)."""
    out += src


@overload(add_into, inline="always")
def _ov_add_into(out, src):
    if out.layout == "C":
        # one flat loop, which vectorises: row by row, the rows of a few units (the small GRU's 6) did not
        # (their additions took 2 % of the MNIST-1D model's epoch)
        def impl_flat(out, src):
            n = out.shape[0] * out.shape[1]
            o, s = cview(out, (n,)), cview(src, (n,))
            for i in range(n):
                o[i] += s[i]

        return impl_flat

    def impl(out, src):
        for m in range(out.shape[0]):
            o = out[m]
            p = src[m]
            for n in range(out.shape[1]):
                o[n] += p[n]

    return impl


@njit(**JIT_OPTIONS)
def mm_tn(A, B, out, accumulate):
    """``out (+)= A.T @ B`` for ``A`` (M, K), ``B`` (M, N)."""
    M, K = A.shape
    N = B.shape[1]
    if uses_blas(M, N, K):
        if _direct(A, B, out):
            _gemm_rows(A, B, out, accumulate, True)
        elif accumulate:
            out += np.dot(A.T, B)
        else:
            np.dot(A.T, B, out)
        return
    zero = out.dtype.type(0)
    for k in range(K):
        for n in range(N):
            s = zero
            for m in range(M):
                s += A[m, k] * B[m, n]
            if accumulate:
                out[k, n] += s
            else:
                out[k, n] = s


#: rows per block of :func:`colsum`'s few-column loop (16 rows of ``N`` columns: ``N`` vectors of 16 floats)
COLSUM_BLOCK = 16
#: elements (``M * N``) from which :func:`colsum` adds few columns in blocks of rows: below, a sum per
#: column in four registers is as fast (float32, one core, ns, per column / blocks: (75, 4) 85 / 140 (the
#: echo's window), (96, 4) 87 / 89, (192, 2) 88 / 87, (128, 4) 115 / 93, (96, 6) 129 / 101)
COLSUM_BLOCK_MIN = 512


@njit(**JIT_OPTIONS)
def colsum(A, out, accumulate):
    """``out (+)= A.sum(axis=0)`` for a C-contiguous ``A`` (M, N).

    A few columns and many rows (the biases' gradients of a T5 rule-stream
    window: (500, 6) and (500, 2) per half of its batch) add blocks of
    :data:`COLSUM_BLOCK` rows as one flat loop over ``COLSUM_BLOCK * N``
    running sums, which vectorises; the column sums per row cannot (float32,
    one core: (1000, 6) 2237 -> 450 ns, (500, 6) 736 -> 235 ns, (500, 2) 246 ->
    164 ns), from :data:`COLSUM_BLOCK_MIN` elements. The order of the
    additions depends on ``M`` and ``N`` only.
    """
    M, N = A.shape
    zero = out.dtype.type(0)
    if N <= 16 and M * N >= COLSUM_BLOCK_MIN:
        W = COLSUM_BLOCK * N
        acc = np.zeros(W, out.dtype)
        flat = cview(A, (M * N,))
        MB = M - M % COLSUM_BLOCK
        w = np.uint64(W)
        for m in range(0, MB, COLSUM_BLOCK):
            base = np.uint64(m * N)
            for i in range(w):
                acc[i] += flat[base + i]
        for n in range(N):
            s = zero
            for r in range(COLSUM_BLOCK):
                s += acc[r * N + n]
            for m in range(MB, M):
                s += A[m, n]
            if accumulate:
                out[n] += s
            else:
                out[n] = s
        return
    if N <= 16:  # a few columns: each summed in four registers (four chains of additions, not one)
        M4 = M - M % 4
        for n in range(N):
            s0 = zero
            s1 = zero
            s2 = zero
            s3 = zero
            for m in range(0, M4, 4):
                s0 += A[m, n]
                s1 += A[m + 1, n]
                s2 += A[m + 2, n]
                s3 += A[m + 3, n]
            for m in range(M4, M):
                s0 += A[m, n]
            s = (s0 + s1) + (s2 + s3)
            if accumulate:
                out[n] += s
            else:
                out[n] = s
        return
    if not accumulate:
        for n in range(N):
            out[n] = zero
    # four rows per pass over ``out``: one load and store of each sum per four rows, not per row (``out``
    # may alias ``A`` as far as LLVM knows, so it cannot keep the sums in registers across rows)
    M4 = M - M % 4
    for m in range(0, M4, 4):
        a0, a1, a2, a3 = A[m], A[m + 1], A[m + 2], A[m + 3]
        for n in range(N):
            out[n] += (a0[n] + a1[n]) + (a2[n] + a3[n])
    for m in range(M4, M):
        a = A[m]
        for n in range(N):
            out[n] += a[n]
