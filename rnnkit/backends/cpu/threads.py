"""Threads of the CPU backend: BLAS's thread count around compiled calls, and the batch-split pool.

A batch split in parts (:func:`rnnkit.get_config`'s ``train_parts``) runs its
parts on a pool of ``n_threads`` Python threads, not in a numba ``prange``
region: each thread runs the whole epoch in one compiled call (which releases
the GIL) and the threads meet through :mod:`rnnkit.backends.cpu.sync`'s counters;
prediction chunks' parts are one compiled call per thread. No numba threading
layer is involved, so any number of Python threads may train at once on every
layer, and the parallel code is not compiled a second time.
"""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from ... import _config

_BLAS_CONTROLLER = []
_POOLS = {}
_POOL_LOCK = threading.Lock()


def blas_threads(limit):
    """Context limiting BLAS to ``limit`` threads (None: no limit) while a compiled call runs."""
    if limit is None:
        return contextlib.nullcontext()
    if not _BLAS_CONTROLLER:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba calls: loaded before looking)
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER.append(ThreadpoolController())
    return _BLAS_CONTROLLER[0].limit(limits=limit, user_api="blas")


def _pool(n):
    with _POOL_LOCK:
        pool = _POOLS.get(n)
        if pool is None:
            pool = _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="rnnkit")
        return pool


def run_parts(fn, n_parts):
    """``[fn(p) for p in range(n_parts)]``, the calls spread over ``n_threads`` threads.

    Results come back in part order whatever the thread count; with one
    thread (or one part) everything runs in the calling thread.
    """
    n = min(_config.get_config()["n_threads"], n_parts)
    if n <= 1:
        return [fn(p) for p in range(n_parts)]
    pool = _pool(n)
    futures = [pool.submit(fn, p) for p in range(1, n_parts)]
    try:
        first = fn(0)  # the calling thread takes part 0
    except BaseException:
        wait(futures)  # no call outlives this one
        raise
    return [first] + [f.result() for f in futures]
