"""Whether a CUDA device (or numba's CUDA simulator) can run the kernels, and why not.

Imports nothing from ``numba.cuda`` until asked: the CPU backend never needs it.
"""

import os

__all__ = ["simulator", "gpu_available", "cuda_status"]

INSTALL_HINT = ('install the CUDA extra (pip install "rnnkit[cuda]", which brings numba-cuda) and an NVIDIA '
                'driver recent enough for it; nvidia-smi should list the GPU')


def simulator():
    """Whether numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``): kernels run as Python threads."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def cuda_status():
    """``(usable, message)``: whether ``device="cuda"`` runs here (GPU or simulator), with what was found."""
    try:
        from numba import cuda
    except Exception as exc:  # numba-cuda missing or broken
        return False, f"numba.cuda could not be imported ({type(exc).__name__}: {exc})"
    if simulator():
        return True, "numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    try:
        if cuda.is_available():
            return True, f"GPU {cuda.get_current_device().name}"
        return False, "numba.cuda found no usable GPU (no driver, or no device)"
    except Exception as exc:
        return False, f"numba.cuda failed to reach a GPU ({type(exc).__name__}: {exc})"


def gpu_available():
    """Whether a real GPU (never the simulator) is usable: what ``device="auto"`` picks."""
    return not simulator() and cuda_status()[0]
