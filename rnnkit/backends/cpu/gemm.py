"""A matrix product on a pre-packed right operand: the recurrent weights packed once per window.

At every step an RNN multiplies a few rows (the batch) by the same recurrent
weight matrix. BLAS packs both operands into its own layout at every call, so
the weights, by far the larger operand, were copied again at each step (a
quarter of OpenBLAS's samples in the LSTM-128 fit), and its kernels reach
70-85 % of a core's peak on these shapes. Here the right operand ``W`` is
packed once (:func:`pack_nt`, :func:`pack_nn`) into panels of ``nr`` columns,
``Wp[p, k, c] = W[k, p * nr + c]``, and :func:`mm_packed` runs a register
tile of ``MR`` rows by ``nr`` columns over it: ``MR * NV`` vector accumulators
stay in registers for the whole sum over ``k``, each step of which loads
``NV`` vectors of the panel, broadcasts ``MR`` elements of the left operand
and issues ``MR * NV`` fused multiply-adds.

The tile is written in LLVM IR (``_tile``, a numba intrinsic) because
numba keeps array accumulators in memory and LLVM does not turn scalar loops
into such a tile. Its vectors are as wide as the machine's registers
(:data:`VECTOR_BYTES`: 64 with AVX-512, else 32), decided when this module is
imported from the CPU numba compiles for.

The weights' gradients (:data:`mm_tn_w`: a window's rows summed, ``A.T @
B``) run on this kernel only where :data:`TN_PACKED` (AMD Zen); on the
Intel machine OpenBLAS's blocking beats its copies of the transposed operand.
Those of the small models, whose output fits 8 rows by one vector (a few
units), run on a *narrow* tile instead (:func:`mm_tn_small`,
``_tile_narrow``), on every CPU: BLAS's call and blocking cost more than
their sums.

Every output element is one chain of fused multiply-adds over ``k`` in order
(no reassociation), so a row's result does not depend on the other rows of
the call: a batch cut in parts gives the same rows as the whole batch.
Under ``NUMBA_DISABLE_JIT=1`` :func:`packs` is false and the products go to
BLAS as before; :func:`mm_packed` then has a NumPy twin.
"""

import numpy as np
from llvmlite import binding as ll
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ..._config import BLAS_MIN_WORK, INTERNAL, JIT_OPTIONS, PACK_MIN_WORK
from .linalg import _rows_contiguous, cview, mm_nn, mm_nn_add, mm_nt, mm_tn


def _vector_bytes():
    """Width of the vector registers numba compiles for: 64 (AVX-512), 32 (AVX) or 16."""
    if config.CPU_FEATURES is not None:
        features = {f[1:] for f in config.CPU_FEATURES.split(",") if f.startswith("+")}
    else:
        host = ll.get_host_cpu_features()
        features = {name for name in host if host[name]}
    if config.CPU_NAME not in (None, "host") and config.CPU_FEATURES is None:
        return 16  # a named (portable) CPU without features: SSE only is safe
    if "avx512f" in features:
        return 64
    if "avx" in features:
        return 32
    return 16


#: bytes of one vector register of the target
VECTOR_BYTES = _vector_bytes()


def _cpu_name():
    """The CPU numba compiles for (``NUMBA_CPU_NAME``, else the host's), as LLVM names it."""
    return config.CPU_NAME if config.CPU_NAME not in (None, "host") else ll.get_host_cpu_name()


#: whether the weights' gradients (:func:`mm_tn_w`) run on the packed kernel (AMD Zen) rather than on
#: BLAS (every other CPU). Intel Xeon (Emerald Rapids, 2 cores), float32, one core, GFLOP/s, medians
#: of 15 alternated rounds, packed against OpenBLAS: LSTM-512's ``(1600, 2048).T @ (1600, 512)`` 119.6
#: vs 134.0 (a slow phase: 79.8 vs 104.0), LSTM-128's ``(1600, 512).T @ (1600, 128)`` 112.5 vs 123.2,
#: ``(3584, 512).T @ (3584, 128)`` 101.2 vs 113.4: the packed kernel loses in its copies of the
#: transposed operand (strided reads: 2.1-4.5 ms of LSTM-512's 28 ms). On the AMD EPYC (Zen 4) the
#: packed kernel was the faster (LSTM-128's shape: 2.54-2.85 ms, OpenBLAS 3.40 ms, before the eight
#: slivers per panel that made it faster still)
TN_PACKED = _cpu_name().startswith("znver")
#: vectors per panel row (the tile's width in registers)
NV = 2
#: rows of the register tile: ``MR * NV`` accumulators, ``NV`` panel vectors and a broadcast fill 15 of
#: AVX2's 16 vector registers (6 rows), 19 of AVX-512's 32 (8 rows: float32, one core, the weight
#: gradients of bench_core's fits 88-104 -> 93-109 GFLOP/s, the per-step products unchanged at 114)
MR = 8 if VECTOR_BYTES == 64 else 6
#: terms (rows of a panel) ahead of the one being summed that a tile prefetches into L1: a panel of a
#: long sum (``K * nr`` elements, 64 KiB for LSTM-512's ``K = 512`` in float32) does not stay in L1
#: across a block's rows, and the hardware's prefetchers bring it to L2 only. Float32, one core, an Intel
#: Xeon (Emerald Rapids), medians of 15 alternated rounds, GFLOP/s without -> with (distance 16):
#: LSTM-512's steps (32, 512) by (512, 2048) 86 -> 98, (32, 2048) by (2048, 512) 85 -> 94-100, (64, 512)
#: by (512, 2048) 89 -> 100; LSTM-128's (64, 512) by (512, 128) 113 -> 113, (64, 128) by (128, 512)
#: 110 -> 112 (its panels fit in L1). Distances 8, 24 and 40 measured alike; prefetching into L2 only
#: (``prefetcht1``) gained nothing; splitting the sums into blocks of 256 or 128 terms gained -3 to +8 %
#: without the prefetch and nothing on top of it
PREFETCH_K = 16
#: lanes of the one vector per row of the narrow tile (:func:`_tile_narrow`), or fewer where the target's
#: vectors are narrower (float64 without AVX-512: 4)
NARROW_LANES = 8
#: rows of the narrow tile, and chains of fused multiply-adds it keeps in flight
NARROW_ROWS = 8
#: the widest panel, in elements (float32): workspace sizes are rounded up to it, which covers float64's
PANEL_MAX = NV * VECTOR_BYTES // 4
#: rows of the summed dimension packed at a time by :func:`mm_tn_packed` (the weight gradients: ``A.T @ B``
#: over every step of a window): a panel (``TN_CHUNK`` by ``nr``, 32 KiB in float32 on AVX-512) stays in
#: the core's L1 while :data:`TN_SLIVERS` row slivers of ``A.T`` pass over it. Float32, one core,
#: medians GFLOP/s, LSTM-512's ``(1600, 2048).T @ (1600, 512)``: 512 rows a sliver at a time 107, 256
#: rows 119, 256 rows 8 slivers at a time 127 (two cores at once, each its own operands: 107, 118, 127);
#: LSTM-128's ``(1600, 512).T @ (1600, 128)`` 112, 114, 111 and ``(3584, 512).T @ (3584, 128)`` 95, 98,
#: 99 (earlier, a sliver at a time: chunks of 128, 256, 512 rows 2.74, 2.85, 2.54 ms; OpenBLAS 3.40)
TN_CHUNK = 256
#: row slivers (``MR`` rows each) of a transposed left operand packed together (term-major, into a
#: buffer of ``TN_SLIVERS * K * MR`` elements: 64 KiB in float32 for ``K = TN_CHUNK``) and multiplied
#: panel by panel, each panel used by every sliver of the group while it is in L1 (see :data:`TN_CHUNK`)
TN_SLIVERS = 8


def panel_width(arr):
    """Columns ``nr`` of a panel for ``arr``'s dtype (``NV`` vectors); a compile-time constant in kernels."""
    return NV * VECTOR_BYTES // arr.itemsize


@overload(panel_width, inline="always")
def _ov_panel_width(arr):
    nr = NV * VECTOR_BYTES // (arr.dtype.bitwidth // 8)

    def impl(arr):
        return nr

    return impl


def _narrow_lanes(itemsize):
    """Lanes of the narrow tile's vector for elements of ``itemsize`` bytes (the one home of that width)."""
    return min(NARROW_LANES, VECTOR_BYTES // itemsize)


def narrow_width(arr):
    """Lanes of the narrow tile's vector for ``arr``'s dtype; a compile-time constant in kernels."""
    return _narrow_lanes(arr.itemsize)


@overload(narrow_width, inline="always")
def _ov_narrow_width(arr):
    lanes = _narrow_lanes(arr.dtype.bitwidth // 8)

    def impl(arr):
        return lanes

    return impl


@njit(**JIT_OPTIONS)
def tn_narrow(M, K, N, lanes):
    """Whether ``A.T @ B`` for ``A`` (M, K), ``B`` (M, N) runs on the narrow tile of ``lanes`` lanes (the one
    home of that rule): compiled, at least :data:`~rnnkit._config.BLAS_MIN_WORK` multiply-adds (below,
    the compiled loops of :func:`~rnnkit.backends.cpu.linalg.mm_tn`) and the output one tile (``K <=
    NARROW_ROWS``, ``N <= lanes``): the weights' gradients of the small models, where BLAS's call and
    blocking cost more than the sums. Float32, one core, ns, BLAS against the tile: (500, 6).T @ (500, 6)
    1917 / 800, (500, 2).T @ (500, 6) 1920 / 360, (500, 6).T @ (500, 1) 960 / 279, (75, 4).T @ (75, 4) 256
    / 147; wider outputs lose on it ((3000, 16).T @ (3000, 4) in two tiles: 5597 / 18726)."""
    return not config.DISABLE_JIT and K <= NARROW_ROWS and N <= lanes and M * K * N >= BLAS_MIN_WORK


@njit(**JIT_OPTIONS)
def packed_len(N, K):
    """Elements of a packed (``K``, ``N``) operand, for either precision (columns rounded up to panels)."""
    return -(-N // PANEL_MAX) * PANEL_MAX * K


@njit(**JIT_OPTIONS)
def packs(M, N, K):
    """Whether an ``M x K`` by ``K x N`` product runs on a packed operand (the one home of that rule).

    With a full tile of rows, 8 terms per sum and at least
    :data:`~rnnkit._config.PACK_MIN_WORK` multiply-adds.
    """
    return not config.DISABLE_JIT and M >= MR and K >= 8 and M * N * K >= PACK_MIN_WORK


def _counted_loop(builder, start, stop, step, init, body, name):
    """Emit ``for m in range(start, stop, step)`` (``stop - start`` a multiple of ``step`` when positive)
    carrying the values ``init`` (a list) through ``body(m, values) -> new values`` at each pass.

    Returns the values after the loop: ``init`` when it makes no pass. The tiles' loops over the terms
    of their sums (the accumulators stay in registers as the loop's phi values).
    """
    pre = builder.basic_block
    block = builder.append_basic_block(name)
    after = builder.append_basic_block(name + "_after")
    builder.cbranch(builder.icmp_signed("<", start, stop), block, after)
    builder.position_at_end(block)
    m = builder.phi(start.type)
    m.add_incoming(start, pre)
    current = [builder.phi(v.type) for v in init]
    for phi, v in zip(current, init, strict=True):
        phi.add_incoming(v, pre)
    new = body(m, current)
    m1 = builder.add(m, ir.Constant(start.type, step))
    tail = builder.basic_block
    m.add_incoming(m1, tail)
    for phi, v in zip(current, new, strict=True):
        phi.add_incoming(v, tail)
    builder.cbranch(builder.icmp_signed("<", m1, stop), block, after)
    builder.position_at_end(after)
    out = []
    for v0, v1 in zip(init, new, strict=True):
        phi = builder.phi(v0.type)
        phi.add_incoming(v0, pre)
        phi.add_incoming(v1, tail)
        out.append(phi)
    return out


def _masked_ops(builder, vty, bits):
    """LLVM's masked load and store of the vector type ``vty`` of ``bits``-bit floats (``(ptr, align,
    mask, passthru)`` and ``(value, ptr, align, mask)``), declared in ``builder``'s module."""
    L = vty.count
    i32 = ir.IntType(32)
    mty = ir.VectorType(ir.IntType(1), L)
    # the typed-pointer name of LLVM 14 (numba 0.59); later LLVMs remangle it to their ``.p0``
    suffix = f"v{L}f{bits}.p0v{L}f{bits}"
    pty = vty.as_pointer()
    mload = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [pty, i32, mty, vty]),
                                           f"llvm.masked.load.{suffix}")
    mstore = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [vty, pty, i32, mty]), f"llvm.masked.store.{suffix}")
    return mload, mstore


def _lane_mask(builder, n, L, first):
    """The ``L``-lane mask of lanes ``c`` with ``first + c < n`` (``n`` an integer value)."""
    i32 = ir.IntType(32)
    ivty = ir.VectorType(i32, L)
    iundef = ir.Constant(ivty, ir.Undefined)
    splat = ir.Constant(ivty, [0] * L)
    nv = builder.shuffle_vector(builder.insert_element(iundef, builder.trunc(n, i32), ir.Constant(i32, 0)),
                                iundef, splat)
    return builder.icmp_signed("<", ir.Constant(ivty, [first + c for c in range(L)]), nv)


@intrinsic
def _tile(typingctx, a, sa_row, sa_col, b, K, o, ldo, accumulate, n_rows, n_cols, like):
    """``o[i, :n_cols] (+)= sum_k a[i, k] b[k, :n_cols]`` for ``i < n_rows``, in registers.

    Addresses (bytes, integers) and strides (elements) instead of arrays:
    every operand layout, and the padded buffers of partial tiles, share one
    instance of the tile, whose code (``MR * NV`` accumulators, unrolled) is
    what compiling the products costs. ``b`` is one panel (``K`` by ``nr``,
    contiguous); ``a`` has ``MR`` readable rows. A partial tile (``n_rows <
    MR`` or ``n_cols < nr``) stores through masks, straight into ``o``:
    nothing outside its rows and columns is read or written. ``like`` (a
    scalar) gives the precision.
    """
    if not isinstance(like, types.Float):
        return None
    dt = like
    size = dt.bitwidth // 8
    L = VECTOR_BYTES // size
    rows = MR
    sig = types.void(a, sa_row, sa_col, b, K, o, ldo, accumulate, n_rows, n_cols, like)

    def codegen(context, builder, sig, args):
        intp = context.get_value_type(types.intp)
        aa, asr, asc, ab, aK, ao, aldo, aacc, n_rows_v, n_cols_v, _ = (
            context.cast(builder, v, t, types.intp) if i < 7 or i in (8, 9) else v
            for i, (v, t) in enumerate(zip(args, sig.args, strict=True)))
        fty = context.get_value_type(dt)
        vty = ir.VectorType(fty, L)
        fptr = fty.as_pointer()

        def const(v):
            return ir.Constant(intp, v)

        K = aK
        nr = const(NV * L)
        abase = builder.inttoptr(aa, fptr)
        arows = [builder.gep(abase, [builder.mul(const(i), asr)]) for i in range(rows)]
        bbase = builder.inttoptr(ab, fptr)
        obase = builder.inttoptr(ao, fptr)
        zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * L)
        undef = ir.Constant(vty, ir.Undefined)
        splat = ir.Constant(ir.VectorType(ir.IntType(32), L), [0] * L)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty, vty]),
                                             f"llvm.fma.v{L}f{dt.bitwidth}")
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p] + [i32] * 3), "llvm.prefetch.p0i8")
        # read, keep in every cache level (prefetcht0), data
        hint = [ir.Constant(i32, v) for v in (0, 3, 1)]

        def term(k, acc):
            """Term ``k`` of every sum: the accumulators ``acc`` (row-major, ``rows * NV``) updated."""
            bk = builder.gep(bbase, [builder.mul(k, nr)])
            # the panel's row PREFETCH_K terms ahead, into L1 (prefetcht0; a hint: past the panel's end it
            # fetches the next panel's first rows, and never faults)
            for line in range(-(-NV * L * size // 64)):
                ahead = builder.gep(bk, [const(PREFETCH_K * NV * L + line * 64 // size)])
                builder.call(prefetch, [builder.bitcast(ahead, i8p)] + hint)
            bv = [builder.load(builder.bitcast(builder.gep(bk, [const(v * L)]), vty.as_pointer()), align=size)
                  for v in range(NV)]
            koff = builder.mul(k, asc)
            new = []
            for i in range(rows):
                s = builder.load(builder.gep(arows[i], [koff]))
                sv = builder.shuffle_vector(builder.insert_element(undef, s, ir.Constant(ir.IntType(32), 0)),
                                            undef, splat)
                new += [builder.call(fma, [sv, bv[v], acc[i * NV + v]]) for v in range(NV)]
            return new

        flat = _counted_loop(builder, const(0), K, 1, [zero] * (rows * NV), term, "tile_k")
        final = [flat[i * NV:(i + 1) * NV] for i in range(rows)]
        add = context.cast(builder, aacc, sig.args[7], types.boolean)
        if add.type != ir.IntType(1):
            add = builder.trunc(add, ir.IntType(1))
        whole = builder.and_(builder.icmp_signed("==", n_rows_v, const(rows)),
                             builder.icmp_signed("==", n_cols_v, const(NV * L)))
        plain = builder.append_basic_block("tile_store")
        masked = builder.append_basic_block("tile_store_masked")
        end = builder.append_basic_block("tile_end")
        builder.cbranch(whole, plain, masked)
        builder.position_at_end(plain)
        for i in range(rows):
            orow = builder.gep(obase, [builder.mul(const(i), aldo)])
            for v in range(NV):
                res = final[i][v]
                ptr = builder.bitcast(builder.gep(orow, [const(v * L)]), vty.as_pointer())
                old = builder.load(ptr, align=size)
                builder.store(builder.select(add, builder.fadd(old, res), res), ptr, align=size)
        builder.branch(end)
        # a partial tile: lanes of columns >= n_cols and rows >= n_rows neither read nor written
        builder.position_at_end(masked)
        mty = ir.VectorType(ir.IntType(1), L)
        mload, mstore = _masked_ops(builder, vty, dt.bitwidth)
        colmask = [_lane_mask(builder, n_cols_v, L, v * L) for v in range(NV)]
        none = ir.Constant(mty, [ir.Constant(ir.IntType(1), 0)] * L)
        align = ir.Constant(i32, size)
        for i in range(rows):
            orow = builder.gep(obase, [builder.mul(const(i), aldo)])
            row_ok = builder.icmp_signed("<", const(i), n_rows_v)
            for v in range(NV):
                res = final[i][v]
                mask = builder.select(row_ok, colmask[v], none)
                ptr = builder.bitcast(builder.gep(orow, [const(v * L)]), vty.as_pointer())
                old = builder.call(mload, [ptr, align, mask, zero])
                builder.call(mstore, [builder.select(add, builder.fadd(old, res), res), ptr, align, mask])
        builder.branch(end)
        builder.position_at_end(end)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _tile_narrow(typingctx, a, sa_row, sa_col, b, sb_row, M, o, ldo, accumulate, n_rows, n_cols, like):
    """``o[i, :n_cols] (+)= sum_m a[i, m] b[m, :n_cols]`` for ``i < n_rows`` (1 to :data:`NARROW_ROWS`):
    the weights' gradients of small models (:func:`mm_tn_small`), long sums into a few outputs.

    One vector (:func:`narrow_width` lanes, ``n_cols`` at most that) per row, in registers; code for
    each row count, so that a row past ``n_rows`` costs nothing. A sum is split into ``U =
    ceil(NARROW_ROWS / n_rows)`` chains of fused multiply-adds (term ``m`` into chain ``m % U``, the
    last ``M % U`` terms into chain 0), added up in order at the end: at least ``NARROW_ROWS`` chains
    in flight hide the multiply-adds' latency however few the rows (at most 14 accumulators, which
    AVX2's 16 registers hold). Addresses (bytes) and strides (elements) as in :func:`_tile`; ``b`` is
    read in place (row ``m`` at ``b + m * sb_row`` elements, its ``n_cols`` first lanes only: masked
    loads) and ``o`` written through masks: nothing outside the operands is read or written.
    """
    if not isinstance(like, types.Float):
        return None
    dt = like
    size = dt.bitwidth // 8
    L = _narrow_lanes(size)
    sig = types.void(a, sa_row, sa_col, b, sb_row, M, o, ldo, accumulate, n_rows, n_cols, like)

    def codegen(context, builder, sig, args):
        intp = context.get_value_type(types.intp)
        aa, asr, asc, ab, bsr, aM, ao, aldo, aacc, n_rows_v, n_cols_v, _ = (
            context.cast(builder, v, t, types.intp) if i not in (8, 11) else v
            for i, (v, t) in enumerate(zip(args, sig.args, strict=True)))
        fty = context.get_value_type(dt)
        vty = ir.VectorType(fty, L)
        fptr = fty.as_pointer()
        i32 = ir.IntType(32)

        def const(v):
            return ir.Constant(intp, v)

        abase = builder.inttoptr(aa, fptr)
        bbase = builder.inttoptr(ab, fptr)
        obase = builder.inttoptr(ao, fptr)
        zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * L)
        undef = ir.Constant(vty, ir.Undefined)
        splat = ir.Constant(ir.VectorType(i32, L), [0] * L)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty, vty]),
                                             f"llvm.fma.v{L}f{dt.bitwidth}")
        mload, mstore = _masked_ops(builder, vty, dt.bitwidth)
        colmask = _lane_mask(builder, n_cols_v, L, 0)
        align = ir.Constant(i32, size)
        add = context.cast(builder, aacc, sig.args[8], types.boolean)
        if add.type != ir.IntType(1):
            add = builder.trunc(add, ir.IntType(1))
        end = builder.append_basic_block("narrow_end")

        def terms(m, accs, rows):
            """Term ``m`` added into the accumulators ``accs`` (one per row)."""
            bptr = builder.bitcast(builder.gep(bbase, [builder.mul(m, bsr)]), vty.as_pointer())
            bv = builder.call(mload, [bptr, align, colmask, zero])
            moff = builder.mul(m, asc)
            out = []
            for i in range(rows):
                x = builder.load(builder.gep(abase, [builder.add(builder.mul(const(i), asr), moff)]))
                xv = builder.insert_element(undef, x, ir.Constant(i32, 0))
                out.append(builder.call(fma, [builder.shuffle_vector(xv, undef, splat), bv, accs[i]]))
            return out

        def loop(start, stop, step, init, rows, name):
            """Terms ``start, start + step, ... < stop``, ``step`` at a time; ``init``: the accumulators
            (``step`` lists of ``rows``) before it; returns them after it."""
            def body(m, flat):
                return [x for u in range(step)
                        for x in terms(builder.add(m, const(u)), flat[u * rows:(u + 1) * rows], rows)]

            flat = _counted_loop(builder, start, stop, step, [x for row in init for x in row], body, name)
            return [flat[u * rows:(u + 1) * rows] for u in range(step)]

        cases = []
        for rows in range(1, NARROW_ROWS + 1):
            block = builder.append_basic_block(f"narrow_rows{rows}")
            cases.append((rows, block))
        switch = builder.switch(n_rows_v, end)
        for rows, block in cases:
            switch.add_case(const(rows), block)
            builder.position_at_end(block)
            U = -(-NARROW_ROWS // rows)
            Mu = builder.sub(aM, builder.srem(aM, const(U)))
            acc = loop(const(0), Mu, U, [[zero] * rows for _ in range(U)], rows, f"narrow{rows}_main")
            total = acc[0]
            for u in range(1, U):
                total = [builder.fadd(t, x) for t, x in zip(total, acc[u], strict=True)]
            total = loop(Mu, aM, 1, [total], rows, f"narrow{rows}_rest")[0]
            for i in range(rows):
                ptr = builder.bitcast(builder.gep(obase, [builder.mul(const(i), aldo)]), vty.as_pointer())
                old = builder.call(mload, [ptr, align, colmask, zero])
                builder.call(mstore, [builder.select(add, builder.fadd(old, total[i]), total[i]), ptr, align,
                                      colmask])
            builder.branch(end)
        builder.position_at_end(end)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT_OPTIONS)
def mm_tn_small(A, B, out, accumulate):
    """``out (+)= A.T @ B`` for ``A`` (M, K), ``B`` (M, N): on :func:`_tile_narrow` where
    :func:`tn_narrow`, else :func:`~rnnkit.backends.cpu.linalg.mm_tn`."""
    M, K = A.shape
    N = B.shape[1]
    L = narrow_width(out)
    if not (tn_narrow(M, K, N, L) and _rows_contiguous(B) and _rows_contiguous(out)):
        mm_tn(A, B, out, accumulate)
        return
    isz = np.int64(A.itemsize)
    sa_m = np.int64(A.strides[0]) // isz
    sa_k = np.int64(A.strides[1]) // isz
    sb = np.int64(B.strides[0]) // isz
    so = np.int64(out.strides[0]) // isz
    a0 = np.int64(A.ctypes.data)
    b0 = np.int64(B.ctypes.data)
    o0 = np.int64(out.ctypes.data)
    if N == 1 and K <= L and sa_k == 1 and so == 1:
        # one column (a single input feature): ``out.T = B.T @ A``, its K outputs the lanes of one row
        _tile_narrow(b0, np.int64(1), sb, a0, sa_m, np.int64(M), o0, np.int64(K), accumulate, np.int64(1),
                     np.int64(K), out.dtype.type(0))
        return
    _tile_narrow(a0, sa_k, sa_m, b0, sb, np.int64(M), o0, so, accumulate, np.int64(K), np.int64(N),
                 out.dtype.type(0))


@njit(**INTERNAL)
def _pack(W, buf, transposed):
    # flat writes into ``buf``: through the 3-d view the copies did not vectorise (2x slower)
    nr = panel_width(W)
    K, N = (W.shape[1], W.shape[0]) if transposed else W.shape
    P = -(-N // nr)
    full = N // nr
    zero = W.dtype.type(0)
    if transposed and K <= 256:  # a transpose: strided reads (a panel's rows stay in L1), contiguous writes
        for p in range(full):
            for k in range(K):
                d = (p * K + k) * nr
                for c in range(nr):
                    buf[d + c] = W[p * nr + c, k]
    elif transposed:  # long rows: read row by row (strided reads of them conflict in the cache: 4x slower)
        for p in range(full):
            for c in range(nr):
                for k in range(K):
                    buf[(p * K + k) * nr + c] = W[p * nr + c, k]
    else:  # row by row, whole panels: copies of a constant length
        for k in range(K):
            for p in range(full):
                d = (p * K + k) * nr
                n0 = p * nr
                for c in range(nr):
                    buf[d + c] = W[k, n0 + c]
    if full < P:  # the last panel's columns, zero past N
        n0 = full * nr
        for k in range(K):
            d = (full * K + k) * nr
            for c in range(nr):
                if n0 + c < N:
                    buf[d + c] = W[n0 + c, k] if transposed else W[k, n0 + c]
                else:
                    buf[d + c] = zero
    return cview(buf[:P * K * nr], (P, K, nr))


@njit(**JIT_OPTIONS)
def pack_nt(W, buf):
    """``W`` (N, K) packed for ``A @ W.T`` into ``buf`` (:func:`packed_len` ``(N, K)``); the panels."""
    return _pack(W, buf, True)


@njit(**JIT_OPTIONS)
def pack_nn(W, buf):
    """``W`` (K, N) packed for ``A @ W`` into ``buf`` (:func:`packed_len` ``(N, K)``); the panels."""
    return _pack(W, buf, False)


@njit(**JIT_OPTIONS)
def _mm_packed(A, Wp, out, accumulate):
    M = A.shape[0]
    N = out.shape[1]
    P, K, nr = Wp.shape
    if M == 0:
        return
    if K != A.shape[1] or out.shape[0] != M or P * nr < N or P * nr >= N + nr:
        raise ValueError("mm_packed: shapes do not match")
    isz = np.int64(A.itemsize)
    sa_row = np.int64(A.strides[0]) // isz
    sa_col = np.int64(A.strides[1]) // isz
    a0 = np.int64(A.ctypes.data)
    o0 = np.int64(out.ctypes.data)
    w0 = np.int64(Wp.ctypes.data)
    like = out.dtype.type(0)
    Mf = M - M % MR
    # contiguous rows: panel by panel (a panel stays in L1 across the rows). A transposed operand
    # (strided rows: a tile's term would read one cache line per row): groups of TN_SLIVERS row slivers
    # copied term-major into ``abuf`` (TN_SLIVERS * K, MR), zero-padded, then panel by panel, each panel
    # used by every sliver of the group (the weights' gradients, ``mm_tn_packed``; one sliver at a time,
    # every panel for it: LSTM-512's (1600, 2048).T @ (1600, 512), float32, one core of an Intel Xeon, best of
    # 7: 44-58 -> 81-93 GFLOP/s; its fit 454-614 -> 366-530 ms; see TN_CHUNK for the groups). Contiguous
    # rows: a partial row block reads its rows from a zero-padded copy in ``abuf`` (MR, K). A partial
    # tile (rows or columns) stores through masks (through a tile-sized buffer copied out element by
    # element, a (96, 6) by (6, 18) product took 2.1-2.3 us, float32, one core; 0.43-0.47 us now)
    nb = -(-M // MR)
    zero = out.dtype.type(0)
    if sa_col != 1:
        G = min(TN_SLIVERS, nb)
        abuf = np.empty((G * K, MR), out.dtype)
        b0 = np.int64(abuf.ctypes.data)
        for g0 in range(0, nb, G):
            gs = min(G, nb - g0)
            # sliver by sliver (term by term for the whole group, LSTM-512's gradient product in a slow
            # phase of the machine: 81-88 against 87-88 GFLOP/s)
            for s in range(gs):
                m0 = (g0 + s) * MR
                r = min(MR, M - m0)
                for k in range(K):
                    d = s * K + k
                    for i in range(r):
                        abuf[d, i] = A[m0 + i, k]
                    for i in range(r, MR):
                        abuf[d, i] = zero
            for p in range(P):
                w = min(nr, N - p * nr)
                for s in range(gs):
                    m0 = (g0 + s) * MR
                    _tile(b0 + s * K * MR * isz, np.int64(1), np.int64(MR), w0 + p * K * nr * isz, K,
                          o0 + (m0 * N + p * nr) * isz, np.int64(N), accumulate, np.int64(min(MR, M - m0)),
                          np.int64(w), like)
        return
    abuf = np.zeros((MR if Mf < M else 0, K), out.dtype)
    for i in range(M - Mf):
        for k in range(K):
            abuf[i, k] = A[Mf + i, k]
    for it in range(nb * P):
        p, ib = it // nb, it % nb
        m0 = ib * MR
        r = min(MR, M - m0)
        w = min(nr, N - p * nr)
        if r == MR:
            a, ar, ac = a0 + m0 * sa_row * isz, sa_row, sa_col
        else:  # the address taken here, in the loop, keeps ``abuf`` alive until its last tile (numba
            # frees an array after its last use, and an address taken before the loop is not one)
            a, ar, ac = np.int64(abuf.ctypes.data), np.int64(K), np.int64(1)
        _tile(a, ar, ac, w0 + p * K * nr * isz, K, o0 + (m0 * N + p * nr) * isz, np.int64(N), accumulate,
              np.int64(r), np.int64(w), like)


def _mm_packed_py(A, Wp, out, accumulate):
    """NumPy twin of :func:`mm_packed` (``NUMBA_DISABLE_JIT=1``)."""
    P, K, nr = Wp.shape
    N = out.shape[1]
    if K != A.shape[1] or out.shape[0] != A.shape[0] or P * nr < N or P * nr >= N + nr:
        raise ValueError("mm_packed: shapes do not match")
    W = Wp.transpose(1, 0, 2).reshape(K, P * nr)[:, :N]
    if accumulate:
        out += A @ W
    else:
        out[...] = A @ W


#: ``out (+)= A @ W`` for ``A`` (M, K) (any strides), ``W`` packed by :func:`pack_nt` / :func:`pack_nn`
#: and ``out`` (M, N) C-contiguous
mm_packed = _mm_packed_py if config.DISABLE_JIT else _mm_packed


@njit(inline="always", **INTERNAL)
def pack_for(W, M, transposed, buf, start):
    """``W`` packed into ``buf[start:]`` for ``M``-row products: ``A @ W.T`` (``transposed``) or ``A @ W``.

    An empty (0, 0, 1) view when the product does not run packed (:func:`packs`):
    the caller then calls the unpacked product. Inlined, and no view of
    ``buf`` is taken then: the echo epoch (a per-window call in each cell) ran
    3 % longer through a call that sliced the scratch.
    """
    N, K = W.shape if transposed else (W.shape[1], W.shape[0])
    if packs(M, N, K):
        return _pack(W, buf[start:], transposed)
    return cview(buf[:0], (0, 0, 1))


@njit(inline="always", **INTERNAL)
def step_product(h, W, Wp, out, zero):
    """A step's recurrent product ``out = h @ W.T``: on ``W`` packed in ``Wp`` (:func:`pack_for`) when it
    is not empty, else :func:`~rnnkit.backends.cpu.linalg.mm_nt`; zeros when ``zero`` (``h`` is known
    to be zero: the first step of a window that starts from a zero state).
    """
    if zero:
        for m in range(out.shape[0]):
            for n in range(out.shape[1]):
                out[m, n] = 0
    elif Wp.shape[0] > 0:
        mm_packed(h, Wp, out, False)
    else:
        mm_nt(h, W, out, False)


@njit(inline="always", **INTERNAL)
def step_grad(d, W, Wp, out, accumulate, buf, start):
    """A backward step's product through the recurrent weights, ``out (+)= d @ W``: on ``W`` packed in
    ``Wp`` (:func:`pack_for`) when it is not empty, else :func:`~rnnkit.backends.cpu.linalg.mm_nn_add`
    (its scratch is ``buf[start:]``, sliced only then) or :func:`~rnnkit.backends.cpu.linalg.mm_nn`.
    """
    if Wp.shape[0] > 0:
        mm_packed(d, Wp, out, accumulate)
    elif accumulate:
        mm_nn_add(d, W, out, buf[start:])
    else:
        mm_nn(d, W, out, False)


@njit(**JIT_OPTIONS)
def mm_tn_packed(A, B, out, buf, accumulate):
    """``out (+)= A.T @ B`` for ``A`` (M, Ka), ``B`` (M, N) on the packed kernel, in chunks of
    :data:`TN_CHUNK` rows (:func:`~rnnkit.backends.cpu.linalg.mm_tn` when the product does not pack).

    ``buf`` holds :func:`packed_len` ``(N, TN_CHUNK)`` elements. ``M == 0``:
    ``out`` is zeroed (or left as it is when accumulating).
    """
    M = A.shape[0]
    if not packs(A.shape[1], B.shape[1], min(M, TN_CHUNK)):
        mm_tn_small(A, B, out, accumulate)
        return
    for m0 in range(0, M, TN_CHUNK):
        m1 = min(M, m0 + TN_CHUNK)
        mm_packed(A[m0:m1].T, _pack(B[m0:m1], buf, False), out, accumulate or m0 > 0)


@njit(**JIT_OPTIONS)
def _mm_tn_blas(A, B, out, buf, accumulate):
    """``out (+)= A.T @ B`` through :func:`mm_tn_small` (``buf`` unused)."""
    mm_tn_small(A, B, out, accumulate)


#: the weights' gradients over a window's rows, ``mm_tn_w(A, B, out, buf, accumulate)``: ``out (+)= A.T @
#: B`` for ``A`` (M, Ka), ``B`` (M, N); :func:`mm_tn_packed` where :data:`TN_PACKED`, else
#: :func:`mm_tn_small` (the narrow tile for small outputs, else BLAS above its threshold; chosen here, so
#: that the other is not compiled into the window)
mm_tn_w = mm_tn_packed if TN_PACKED else _mm_tn_blas
