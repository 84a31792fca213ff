"""Calls from one compiled function to another through its address.

numba copies the code of every jitted function that a kernel calls into the
kernel's own compiled module, where LLVM optimises it again and turns it into
machine code again: each caller of a caller compiles the whole tree below it
once more (for a first GRU ``fit``, 19.7 MB of LLVM IR in the modules of
rnnkit's compiled functions; 10.8 MB with these calls). :func:`call_native`
calls a compiled function through its address instead, taken in Python by
:func:`native_address` and passed down as data (the loops' ``calls`` array,
slots ``CALL_*`` of :mod:`rnnkit.slots`), so each function is compiled once
and each caller's module holds its own code only; numba's on-disk cache keeps
working, since the callers' signatures hold an integer array.
:func:`call_void` does the same for a function the caller knows by its address
alone (the cells' kernels, which share one signature and return nothing): the
code above them names no cell, and is compiled once per precision for every
cell.

Each address comes with a key of the argument types it was compiled for; the
call checks it against the types the caller passes, so a wrong address raises
an error instead of calling code compiled for other types. Under
``NUMBA_DISABLE_JIT=1`` the calls are plain Python calls.
"""

import zlib

from numba import config, typeof, types
from numba.core import cgutils
from numba.extending import intrinsic

_MISMATCH = "compiled call: the address was taken for other argument types"
#: under NUMBA_DISABLE_JIT: stand-in addresses of the functions, and the functions by address
_PY_ADDRESSES, _PY_FUNCTIONS = {}, {}


def signature_key(argtypes):
    """The key of a tuple of numba argument types (the same in every process).

    Parameters
    ----------
    argtypes : tuple of numba types
        The types of a call's arguments.

    Returns
    -------
    key : int
        A 31-bit checksum of their names.
    """
    return zlib.crc32(repr(tuple(argtypes)).encode()) & 0x7FFFFFFF


def native_address(dispatcher, args, void=False):
    """The address and key of ``dispatcher``'s compiled function for the types of ``args``.

    Compiles it for those types first if needed (or loads it from numba's
    cache). The address stays valid for the life of the process.

    Parameters
    ----------
    dispatcher : numba dispatcher
        A jitted function.
    args : tuple
        Arguments of the types the compiled caller will pass.
    void : bool, default=False
        The address is for :func:`call_void`: the function must return
        nothing (a call through it could not receive a result).

    Returns
    -------
    address, key : int
        What :func:`call_native` and :func:`call_void` take.
    """
    argtypes = tuple(typeof(a) for a in args)
    if config.DISABLE_JIT:  # a stand-in address that names the function for the plain-Python call_void
        address = _PY_ADDRESSES.setdefault(dispatcher, len(_PY_ADDRESSES) + 1)
        _PY_FUNCTIONS[address] = dispatcher
        return address, signature_key(argtypes)
    dispatcher.compile(argtypes)
    cres = dispatcher.overloads[argtypes]
    if void and cres.signature.return_type != types.none:
        raise TypeError(f"{dispatcher.py_func.__qualname__} returns {cres.signature.return_type}: "
                        "call_void needs a function that returns nothing")
    return cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name), signature_key(argtypes)


def _emit_call(context, builder, sig, llargs, argtys, resty):
    """The code of a call through an address: the key check, the call, its exception passed on."""
    n = len(sig.args)
    addr, got, tup = llargs[n - 3], llargs[n - 2], llargs[n - 1]
    addr_ty, got_ty, tup_ty = sig.args[n - 3], sig.args[n - 2], sig.args[n - 1]
    mismatch = builder.icmp_signed("!=", context.cast(builder, got, got_ty, types.int64),
                                   context.get_constant(types.int64, signature_key(argtys)))
    with cgutils.if_unlikely(builder, mismatch):
        context.call_conv.return_user_exc(builder, RuntimeError, (_MISMATCH,))
    vals = [context.cast(builder, builder.extract_value(tup, i), tup_ty[i], argtys[i])
            for i in range(len(argtys))]
    fnptr = builder.inttoptr(context.cast(builder, addr, addr_ty, types.intp),
                             context.call_conv.get_function_type(resty, argtys).as_pointer())
    status, res = context.call_conv.call_function(builder, fnptr, resty, argtys, vals)
    with cgutils.if_unlikely(builder, status.is_error):
        context.call_conv.return_status_propagate(builder, status)
    return res


def _plain(address, key, args):
    """Whether the types are an address, a key and a tuple of arguments."""
    return (isinstance(address, types.Integer) and isinstance(key, types.Integer)
            and isinstance(args, types.BaseTuple))


@intrinsic
def _call_native(typingctx, fn, address, key, args):
    """``fn(*args)`` through the address of ``fn``'s compiled function for the types of ``args``."""
    if not (isinstance(fn, types.Dispatcher) and _plain(address, key, args)):
        return None
    fsig = typingctx.resolve_function_type(fn, tuple(args), {})
    if fsig is None:
        return None

    def codegen(context, builder, sig, llargs):
        return _emit_call(context, builder, sig, llargs, fsig.args, fsig.return_type)

    return fsig.return_type(fn, address, key, args), codegen


@intrinsic
def _call_void(typingctx, address, key, args):
    """A function that returns nothing, through its address, on ``args``; no dispatcher at hand."""
    if not _plain(address, key, args):
        return None
    argtys = tuple(types.unliteral(t) for t in args)

    def codegen(context, builder, sig, llargs):
        _emit_call(context, builder, sig, llargs, argtys, types.none)
        return context.get_dummy_value()

    return types.none(address, key, args), codegen


def _call_native_py(fn, address, key, args):
    """``fn(*args)``: the plain-Python twin of :func:`call_native`, for ``NUMBA_DISABLE_JIT=1``."""
    return fn(*args)


def _call_void_py(address, key, args):
    """The plain-Python twin of :func:`call_void` (``NUMBA_DISABLE_JIT=1``): the function registered
    for ``address`` by :func:`native_address`."""
    _PY_FUNCTIONS[address](*args)


#: ``call_native(fn, address, key, args)`` in compiled code: ``fn(*args)``
#: through ``address`` (from :func:`native_address`), without copying ``fn``'s
#: code into the caller; raises RuntimeError when ``key`` does not match the
#: types of ``args``.
call_native = _call_native_py if config.DISABLE_JIT else _call_native
#: ``call_void(address, key, args)``: the same for a function that returns
#: nothing, which the caller knows only by its address (no dispatcher in the
#: caller's code: the cell kernels, which share one signature)
call_void = _call_void_py if config.DISABLE_JIT else _call_void
