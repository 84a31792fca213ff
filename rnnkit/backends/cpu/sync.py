"""A barrier for the threads that train the parts of a split batch inside one compiled epoch.

A batch cut in parts (:func:`rnnkit.get_config`'s ``train_parts``) runs
:func:`~rnnkit.backends.cpu.loops.train_epoch` on ``R`` threads at once, each
the whole epoch in one compiled call (the GIL released); they meet twice per
window: when every part's gradient is ready (thread 0 then merges them and
updates the weights) and when the update is done. Meeting through Python
(a thread pool's futures, the compiled calls' dispatch) cost about 0.3 ms
a window, a quarter of the MNIST-1D model's window.

The barrier lives in a small ``int64`` array (:data:`SYNC_LEN`, zeroed by the
caller, one per epoch): an arrival count, a generation, an abort flag and a
stop flag. A thread waits by reading the generation (atomic loads, a
``pause`` hint between them on x86), after :data:`SPIN` reads by yielding its
core at each read (``sched_yield``): threads that share cores with others
still make progress. Only on POSIX systems (the caller decides:
:data:`AVAILABLE`).
"""

import os

from llvmlite import binding as ll
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..._config import INTERNAL

#: elements of a barrier array: count, generation, abort, stop
SYNC_LEN = 4
SYNC_COUNT, SYNC_GEN, SYNC_ABORT, SYNC_STOP = range(SYNC_LEN)
#: reads of the generation with a ``pause`` between them before a waiting thread yields its core at each read
SPIN = 20000
#: whether the compiled barrier can run here (compiled code on a POSIX system: ``sched_yield``)
AVAILABLE = os.name == "posix" and not config.DISABLE_JIT
_X86 = ll.get_process_triple().split("-")[0] in ("x86_64", "i386", "i686")


def _address(builder, addr, index):
    i64 = ir.IntType(64)
    return builder.gep(builder.inttoptr(addr, i64.as_pointer()), [index])


@intrinsic
def _atomic_add(typingctx, addr, index, value):
    """``old = a[index]; a[index] += value; return old`` atomically (sequentially consistent) for the
    ``int64`` array at address ``addr``."""
    sig = types.int64(types.int64, types.int64, types.int64)

    def codegen(context, builder, sig, args):
        return builder.atomic_rmw("add", _address(builder, args[0], args[1]), args[2], "seq_cst")

    return sig, codegen


@intrinsic
def _atomic_load(typingctx, addr, index):
    """``a[index]`` read atomically (acquire) from the ``int64`` array at address ``addr``."""
    sig = types.int64(types.int64, types.int64)

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_address(builder, args[0], args[1]), "acquire", 8)

    return sig, codegen


@intrinsic
def _atomic_store(typingctx, addr, index, value):
    """``a[index] = value`` atomically (release) into the ``int64`` array at address ``addr``."""
    sig = types.void(types.int64, types.int64, types.int64)

    def codegen(context, builder, sig, args):
        builder.store_atomic(args[2], _address(builder, args[0], args[1]), "release", 8)
        return context.get_dummy_value()

    return sig, codegen


def _no_argument_call(name, returns):
    """An intrinsic (no arguments, no result) that calls the function ``name`` (None: does nothing)."""

    @intrinsic
    def call(typingctx):
        def codegen(context, builder, sig, args):
            if name is not None:
                fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(returns, []), name)
                builder.call(fn, [])
            return context.get_dummy_value()

        return types.void(), codegen

    return call


#: the spin-wait hint (``pause`` on x86, nothing elsewhere)
_pause = _no_argument_call("llvm.x86.sse2.pause" if _X86 else None, ir.VoidType())
#: ``sched_yield()``: the core to another thread that is ready to run
_yield = _no_argument_call("sched_yield", ir.IntType(32))


@njit(**INTERNAL)
def barrier(sync, n):
    """Wait until ``n`` threads have called this on ``sync``; False when a thread aborted (:func:`abort`).

    The memory writes a thread made before its call are visible to every
    thread after theirs.
    """
    a = sync.ctypes.data
    gen = _atomic_load(a, SYNC_GEN)
    if _atomic_add(a, SYNC_COUNT, 1) == n - 1:  # the last to arrive resets the count and releases
        _atomic_store(a, SYNC_COUNT, 0)
        _atomic_add(a, SYNC_GEN, 1)
    else:
        spins = 0
        while _atomic_load(a, SYNC_GEN) == gen:
            if _atomic_load(a, SYNC_ABORT) != 0:
                return False
            if spins < SPIN:
                spins += 1
                _pause()
            else:
                _yield()
    return _atomic_load(a, SYNC_ABORT) == 0


def abort(sync):
    """Tell the threads waiting on ``sync`` (a NumPy array) to give up: a thread's compiled call raised."""
    sync[SYNC_ABORT] = 1
