"""The test set-up's repair of numba-cuda's simulator (see ``one_shared_array_per_line`` in conftest)."""

import sys

import numpy as np
import pytest
from numba import cuda, float64

from rnnkit.backends.cuda.device import simulator
from rnnkit.backends.cuda.optim import SHARED, block_sum


@cuda.jit
def _released_together(out):
    # every thread reaches the allocation in the same release of the block's barrier
    cuda.syncthreads()
    buf = cuda.shared.array(SHARED, float64)
    out[cuda.blockIdx.x, cuda.threadIdx.x] = block_sum(buf, 1.0)


@pytest.mark.skipif(not simulator(), reason="a repair of the CUDA simulator")
def test_simulator_block_shares_one_array():
    """Threads that a barrier releases together share one shared array: each block's sum is its size.

    Without the repair about 6 % of these launches gave some thread a sum
    over part of its block (a 1 us switch interval provokes the race).
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        wrong = 0
        for _ in range(150):
            out = np.zeros((3, 8))
            _released_together[3, 8](out)
            wrong += int((out != 8).any())
    finally:
        sys.setswitchinterval(interval)
    assert wrong == 0
