"""Compile-time constants of the kernels, and the runtime settings (:func:`config_context`).

The constants are read by the kernels when they are compiled: changing one
requires a fresh process and, in a working copy, deleting numba's cache files
under ``rnnkit/`` (numba checks the stamp of a kernel's own file only, not of
this one; see the user guide's performance tips). The runtime settings are read
at each call.
"""

import contextlib
import threading

import numpy as np

#: Options passed to every ``numba.njit`` kernel. ``cache=True`` writes compiled
#: code to ``__pycache__`` so a second process does not compile again.
#: ``error_model="numpy"`` drops Python's division-by-zero checks.
#: No fast-math flags: the kernels keep IEEE arithmetic, so every compiled copy
#: of a function rounds alike. numba links a callee's code into each caller
#: that uses it and the JIT may run any of these copies; with re-association,
#: contraction and reciprocal arithmetic (the flags used before) the copies
#: were optimised differently, and the process that compiled the kernels ended
#: a float64 LSTM-128 fit with other last bits than the processes that loaded
#: them from the cache. Measured without the flags (fits in alternating
#: processes, medians): the 10-epoch MNIST-1D fit 354-372 -> 369-413 ms, the
#: echo and T5 fits, LSTM-128 and GRU-128 within the machine's noise.
FASTMATH = False
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}
#: Options of kernels that only other kernels call: without the CPython and C
#: wrappers numba would otherwise generate (and optimise) for each of them, the
#: first compilation is shorter; calling one from Python raises a TypeError.
INTERNAL = dict(JIT_OPTIONS, no_cpython_wrapper=True, no_cfunc_wrapper=True)

#: Matrix products with fewer multiply-adds than this run as compiled loops;
#: larger ones call BLAS (through ``np.dot``). Measured on float32 products of
#: the small models' shapes (one core): BLAS's call costs about 0.15 us, and
#: its kernels beat the compiled loops from about 300 multiply-adds on (a
#: 200 x 6 by 6 x 6 product: 0.6 us in BLAS, 5 us as a loop), while the echo
#: tutorial's 5 x 4 by 4 x 4 recurrent product is faster as a loop.
#: Read through :func:`rnnkit.backends.cpu.linalg.uses_blas` only.
BLAS_MIN_WORK = 256
#: A product ``A @ B.T`` that goes to BLAS with a right operand of at most
#: this many elements, and at least ``NT_COPY_MIN_ROWS`` rows, first copies
#: ``B`` transposed (contiguous) and calls BLAS's ``A @ B`` kernels: OpenBLAS's
#: kernels for a transposed right operand are slower on these shapes.
#: Float32, one core, ``np.dot`` in compiled code, as is / copy first: 100 x 6
#: by 6 x 6 (the T5 rule stream's step) 0.97 / 0.45 us; 1000 x 1 by 1 x 6 (its
#: input projection) 4.5 / 0.95; 50 x 6 by 6 x 18 (MNIST-1D's GRU) 0.74 / 0.47;
#: 100 x 12 by 12 x 18 1.49 / 1.26; 64 x 32 by 32 x 32 2.50 / 1.89; float64
#: alike (100 x 6 by 6 x 6 0.77 / 0.29). Larger operands lose or tie (16 x 64
#: by 64 x 128 6.9 / 7.1; 8 x 256 by 256 x 16 0.86 / 3.2). Read through
#: :func:`rnnkit.backends.cpu.linalg.transposes_first` only.
NT_COPY_MAX = 1024
NT_COPY_MIN_ROWS = 8
#: Matrix products with at least this many multiply-adds (and a full tile of
#: rows, 8 terms per sum) run on a packed right operand
#: (:mod:`rnnkit.backends.cpu.gemm`) instead of BLAS. Float32, one core:
#: smaller ones lose (64 x 32 by 32 x 16: 1.7 against 1.2 us; 64 x 16 by 16 x
#: 48: 1.75 against 1.58 us), larger ones win (128 x 64 by 64 x 256: 36 against
#: 46 us; 64 x 128 by 128 x 512: 72 against 116 us; 1792 x 28 by 28 x 512: 511
#: against 652 us). Read through :func:`rnnkit.backends.cpu.gemm.packs` only.
PACK_MIN_WORK = 65536
#: A window's input projection (``x_t @ W_ih.T`` for every step) runs in
#: chunks of steps of at most this many elements, each written just before
#: the cell's steps that read it, into memory that the chunk before used: it is
#: still in the core's cache when the cell reads it. Written in one piece,
#: a large window's projection went to memory and came back from it (GRU-128,
#: 64 rows of 28 steps: 2.75 MB; its product 0.61 ms in the fit against 0.36 ms
#: alone). Read through :func:`rnnkit.backends.cpu.stack.window_chunk` only.
PROJECTION_CHUNK = 65536
#: Cells whose rows have at most this many units run loops without row views
#: (a view's reference counting costs more than a small row's arithmetic; measured before the
#: loops borrowed their arrays, :func:`rnnkit.backends.cpu.linalg.borrow`, which made views free).
SMALL_ROW = 16
#: A training batch is cut into parts (``train_parts``) only when each part's
#: per-step recurrent product has at least this many multiply-adds: below,
#: the parts' own overhead costs more than the cores they use win. 4096 while
#: Python drove each window's parts; with the parts' threads meeting inside
#: the compiled epoch (:mod:`rnnkit.backends.cpu.sync`), measured on 2 cores
#: (fits of 3 epochs, medians of 6 alternated rounds, whole against 2 parts,
#: the part's product in brackets): RNN-6 batch 200 (3600, the T5 rule stream's
#: ``fit``) 8.9 against 7.0 ms; GRU-6 batch 64 (3456) 17.7 against 15.4 ms;
#: RNN-6 batch 100 (1800) 9.3 against 9.0 ms; RNN-8 batch 64 (2048) 10.9
#: against 12.0 ms.
SPLIT_MIN_WORK = 3072
#: With ``blas_threads="auto"`` a batch whose per-step recurrent product is
#: *wide* stays whole and its products get ``n_threads`` BLAS threads instead of
#: being cut into parts: the product has at least ``BLAS_THREADS_MIN_WORK``
#: multiply-adds (OpenBLAS threads no smaller GEMM) and either a part would
#: have fewer than ``SPLIT_MIN_ROWS`` rows or the recurrent weights
#: (``G*H x H``) are more than ``SPLIT_MAX_WEIGHTS`` (1 MiB in float32). Each part packs the
#: whole weight matrix at every step for its own few rows, and large weights
#: stream from memory once per part. Measured on 2 cores, whole against 2
#: parts (one fit each, medians of 5 alternated runs): LSTM-512 batch 64:
#: 456 against 564 ms; LSTM-256 batch 64: 147 against 185 ms; LSTM-128 batch
#: 64: 175 against 213 ms; LSTM-512 batch 128: 915 against 965 ms; LSTM-128
#: and GRU-128 batch 128: 317 against 317 ms, 289 against 279 ms (parts kept).
#: Since the products run on weights packed once per window
#: (:data:`PACK_MIN_WORK`), a part no longer packs the weights at every step:
#: a batch whose parts' products run packed is always cut (LSTM-512 batch 64,
#: ``bench_core.py``'s ``lstm512_fit``: 371-398 ms cut in 2 parts against
#: 695-731 ms whole with packed single-threaded products and 450-535 ms whole
#: on OpenBLAS's 2 threads before packing).
BLAS_THREADS_MIN_WORK = 65536 * 4
SPLIT_MIN_ROWS = 64
SPLIT_MAX_WEIGHTS = 1 << 18


def _default_threads():
    from numba import config

    return int(config.NUMBA_NUM_THREADS)


_DEFAULTS = {
    # threads running the parts of a split batch at once (numba's thread count)
    "n_threads": None,
    # parts a large training batch is cut into (fixed: results do not depend on n_threads)
    "train_parts": 2,
    # BLAS threads while a compiled call whose products reach BLAS runs ("auto": 1 per part of a
    # split batch, n_threads for a whole batch BLAS can thread; None: BLAS's own)
    "blas_threads": "auto",
    # largest workspace (elements) a network keeps between calls (and so between a fit's epochs): 1 << 24
    # left LSTM-512's (two parts of 32 rows, 50 steps: 24.2M elements) to be allocated and faulted in
    # afresh at every epoch; a 3-epoch fit of it took 1412 -> 1280 ms with 1 << 25 (pairs' median 0.89)
    "max_kept_workspace": 1 << 25,
}
_local = threading.local()


def _settings():
    if not hasattr(_local, "settings"):
        _local.settings = dict(_DEFAULTS)
    return _local.settings


def get_config():
    """The current runtime settings (see :func:`set_config`).

    Returns
    -------
    dict
        A copy: ``n_threads``, ``train_parts``, ``blas_threads``,
        ``max_kept_workspace``. ``n_threads`` is resolved (numba's thread
        count, ``NUMBA_NUM_THREADS``, when not set).

    Examples
    --------
    >>> import rnnkit
    >>> rnnkit.get_config()["train_parts"]
    2
    """
    cfg = dict(_settings())
    if cfg["n_threads"] is None:
        cfg["n_threads"] = _default_threads()
    return cfg


def set_config(n_threads=None, train_parts=None, blas_threads=None, max_kept_workspace=None):
    """Change runtime settings for the calling thread (arguments left as None keep their value).

    Parameters
    ----------
    n_threads : int, default=None
        Threads that run the parts of a split training batch at once; by
        default numba's thread count (``NUMBA_NUM_THREADS``, the machine's
        cores). Does not change results.
    train_parts : int, default=None
        Parts a training batch whose per-step products go to BLAS even after
        the cut (and without dropout) is cut into; each part's forward and
        backward passes run on one of ``n_threads`` threads and their
        gradients are summed in a fixed order. Results depend on this number
        (the order of floating-point sums), never on ``n_threads``; 1 turns
        the split off. Default 2.
    blas_threads : int, "auto" or "default", default=None
        BLAS threads while a compiled call whose products reach BLAS runs.
        ``"auto"`` (the initial setting): 1 per part of a split batch; a
        batch kept whole (a wide one, see :ref:`threads`, one with dropout, a
        prediction chunk) gets ``n_threads`` when its recurrent product is
        large enough for BLAS to thread (``BLAS_THREADS_MIN_WORK``). An integer: that many threads, and the
        parts rule of ``train_parts`` alone. ``"default"`` leaves BLAS's own
        setting.
    max_kept_workspace : int, default=None
        Largest scratch buffer (elements) a network keeps between calls,
        and so between the epochs of a ``fit`` (``1 << 25`` unless set: 128
        MiB in float32). A larger one is allocated afresh at every call.
    """
    s = _settings()
    for name, value in (("n_threads", n_threads), ("train_parts", train_parts),
                        ("max_kept_workspace", max_kept_workspace)):
        if value is not None:
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            s[name] = int(value)
    if blas_threads is not None:
        if blas_threads == "default":
            s["blas_threads"] = None
        elif blas_threads == "auto":
            s["blas_threads"] = "auto"
        elif not isinstance(blas_threads, int) or isinstance(blas_threads, bool) or blas_threads < 1:
            raise ValueError(f"blas_threads must be a positive integer, 'auto' or 'default', "
                             f"got {blas_threads!r}")
        else:
            s["blas_threads"] = int(blas_threads)


@contextlib.contextmanager
def config_context(**settings):
    """Runtime settings inside a ``with`` block (as :func:`sklearn.config_context`).

    Parameters
    ----------
    **settings
        Keyword arguments of :func:`set_config`.

    Examples
    --------
    >>> import rnnkit
    >>> with rnnkit.config_context(train_parts=1):
    ...     rnnkit.get_config()["train_parts"]
    1
    >>> rnnkit.get_config()["train_parts"]
    2
    """
    old = dict(_settings())
    try:
        set_config(**settings)
        yield
    finally:
        _settings().clear()
        _settings().update(old)

