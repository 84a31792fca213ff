"""The CUDA backend's tests: under numba's simulator (``NUMBA_ENABLE_CUDASIM=1``) or on a real GPU.

Without either they are skipped, with the reason. Under the simulator the
launch shapes are patched small (every batch spans several thread blocks of
a few threads, every parameter vector several reduction blocks), as stumpy
does: each simulated thread is a Python thread.
"""

import sys

import pytest

from rnnkit.backends.cuda.device import cuda_status, simulator

USABLE, FOUND = cuda_status()


def pytest_configure(config):
    if USABLE and simulator():
        # the simulator's block runner polls its threads while holding the GIL: a short switch
        # interval lets the simulated threads run (3-5x faster here)
        sys.setswitchinterval(2e-4)


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
