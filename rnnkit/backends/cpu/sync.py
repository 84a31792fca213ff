"""How the threads that train the parts of a split batch inside one compiled epoch meet.

A batch cut in parts (:func:`rnnkit.get_config`'s ``train_parts``) runs
:func:`~rnnkit.backends.cpu.loops.train_epoch` on ``R`` threads at once, each
the whole epoch in one compiled call (the GIL released). Meeting through
Python (a thread pool's futures, the compiled calls' dispatch) cost about
0.3 ms a window, a quarter of the MNIST-1D model's window.

They meet through counters in a small ``int64`` array (:data:`SYNC_LEN`
elements and one per part, zeroed by the caller, one per epoch), read and
written atomically: in each window each thread takes the parts that are
still open, its own first (:func:`claim`: one thread raises the part's count
of windows past the window's number), counts the parts it finished
(:func:`count`), and thread 0 waits for all of them (:func:`wait_for`),
updates the weights and publishes the window's end (:func:`publish`), which
the others wait for. A thread that is late holds no one up: the others run
its parts. An abort flag lets the waiting threads give up when one raised, a
stop flag ends the epoch on a non-finite loss. A thread waits by reading a
counter (a ``pause`` hint between reads on x86), after :data:`SPIN` reads by
yielding its core at each read (``sched_yield``): threads that share cores
with others still make progress. Only on POSIX systems (the caller decides:
:data:`AVAILABLE`).
"""

import os

from llvmlite import binding as ll
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..._config import INTERNAL

#: elements of the counters' array: abort, stop, parts done, windows done; an epoch of ``S`` parts adds
#: one element per part after these (:data:`SYNC_PARTS`: how many windows it was taken in)
SYNC_LEN = 4
SYNC_ABORT, SYNC_STOP, SYNC_DONE, SYNC_WINDOWS = range(SYNC_LEN)
#: the element of part 0's claims (part ``p``'s is ``SYNC_PARTS + p``)
SYNC_PARTS = SYNC_LEN
#: reads with a ``pause`` between them before a waiting thread yields its core at each read. It was
#: 20000 (at a barrier that every thread met twice per window): about 1.2 ms of spinning on an Intel
#: Xeon (Sapphire Rapids: a ``pause`` takes some 140 cycles), while a thread that shares the waiting
#: thread's core cannot run; after an idle moment the scheduler put both threads of a split T5 ``fit``
#: on one core, and the ``fit`` took 14-17 ms instead of 4.5-6 (8.2-8.4 ms with 200; the rule stream's
#: window takes some 45 us). 30, 200 and 2000 measured alike once the parts were claimed (:func:`claim`).
SPIN = 200
#: whether the compiled counters can run here (compiled code on a POSIX system: ``sched_yield``)
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


@intrinsic
def _compare_exchange(typingctx, addr, index, expected, value):
    """``old = a[index]; if old == expected: a[index] = value; return old`` atomically (sequentially
    consistent) for the ``int64`` array at address ``addr``."""
    sig = types.int64(types.int64, types.int64, types.int64, types.int64)

    def codegen(context, builder, sig, args):
        pair = builder.cmpxchg(_address(builder, args[0], args[1]), args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

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
def wait_for(sync, slot, value):
    """Wait until the counter ``sync[slot]`` reaches ``value``; False when a thread aborted (:func:`abort`).

    The writes a thread made before it raised the counter (:func:`count`,
    :func:`publish`) are visible after this returns.
    """
    a = sync.ctypes.data
    spins = 0
    while _atomic_load(a, slot) < value:
        if _atomic_load(a, SYNC_ABORT) != 0:
            return False
        if spins < SPIN:
            spins += 1
            _pause()
        else:
            _yield()
    return _atomic_load(a, SYNC_ABORT) == 0


@njit(**INTERNAL)
def claim(sync, slot, value):
    """Raise the counter ``sync[slot]`` from ``value`` to ``value + 1``: True for the one thread that did.

    Of the threads that ask with the same ``value``, exactly one gets True.
    """
    return _compare_exchange(sync.ctypes.data, slot, value, value + 1) == value


@njit(**INTERNAL)
def count(sync, slot):
    """Add one to the counter ``sync[slot]``: the caller's writes before are visible to :func:`wait_for`."""
    _atomic_add(sync.ctypes.data, slot, 1)


@njit(**INTERNAL)
def publish(sync, slot, value):
    """Set the counter ``sync[slot]`` to ``value`` (at least its value): the caller's writes before are
    visible to :func:`wait_for`."""
    _atomic_store(sync.ctypes.data, slot, value)


def abort(sync):
    """Tell the threads waiting on ``sync`` (a NumPy array) to give up: a thread's compiled call raised."""
    sync[SYNC_ABORT] = 1
