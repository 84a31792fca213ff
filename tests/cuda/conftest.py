"""The CUDA backend's tests: under numba's simulator (``NUMBA_ENABLE_CUDASIM=1``) or on a real GPU.

Without either they are skipped, with the reason. Under the simulator the
launch shapes are patched small (every batch spans several thread blocks of
a few threads, every parameter vector several reduction blocks), as stumpy
does: each simulated thread is a Python thread.
"""

import sys
import threading

import numpy as np
import pytest

from rnnkit.backends.cuda.device import cuda_status, simulator

USABLE, FOUND = cuda_status()


def pytest_configure(config):
    if USABLE and simulator():
        # the simulator's block runner polls its threads while holding the GIL: a short switch
        # interval lets the simulated threads run (3-5x faster here)
        sys.setswitchinterval(2e-4)
        one_shared_array_per_line()


def one_shared_array_per_line():
    """Make the simulator's ``cuda.shared.array`` allocate each line's array once per launch, under a lock.

    numba-cuda's simulator (0.30) keys a launch's shared arrays by the calling
    line and allocates one on the first call without a lock: threads that a
    ``syncthreads`` releases together can each miss the key and get an array
    of their own, so a block reduction sums over part of the block (a GPU fit
    then differs from the CPU's; ``test_simulator_block_shares_one_array``
    shows it). Real GPUs have one static array per block, which this restores.
    """
    from numba.core import types
    from numba.cuda.simulator.kernelapi import FakeCUDAShared
    from numba.np import numpy_support

    if getattr(FakeCUDAShared.array, "locked", False):
        return
    unlocked = FakeCUDAShared.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return unlocked(self, shape, dtype, alignment)  # dynamic shared memory, or the simulator's error
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        with lock:
            found = self._allocations.get(key)
            if found is None:
                found = np.empty(shape, dtype)
                self._allocations[key] = found
        return found

    array.locked = True
    FakeCUDAShared.array = array


def pytest_collection_modifyitems(config, items):
    if USABLE:
        return
    skip = pytest.mark.skip(reason=f"no GPU, no CUDA simulator ({FOUND}); see NUMBA_ENABLE_CUDASIM")
    for item in items:
        if "tests/cuda" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def small_launches(monkeypatch):
    """Under the simulator: 2 rows per block of 4 threads; reductions over 3 blocks of 8 threads."""
    if not (USABLE and simulator()):
        yield
        return
    import rnnkit.backends.cuda as cb
    import rnnkit.backends.cuda.optim as co

    monkeypatch.setattr(cb, "MAX_THREADS", 4)
    monkeypatch.setattr(cb, "MIN_THREADS", 4)
    monkeypatch.setattr(cb, "ROWS_PER_BLOCK", 2)
    monkeypatch.setattr(cb, "OPT_BLOCKS", 3)
    monkeypatch.setattr(co, "THREADS", 8)
    yield
