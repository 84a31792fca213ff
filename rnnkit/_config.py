"""Tunables shared by every compiled kernel.

Kernels read these module-level constants when they are compiled, so changing
one requires a fresh process (and invalidates numba's on-disk cache only when
this file changes).
"""

#: Options passed to every ``numba.njit`` kernel. ``cache=True`` writes compiled
#: code to ``__pycache__`` so a second process does not compile again.
#: ``error_model="numpy"`` drops Python's division-by-zero checks.
#: The fast-math flags allow re-association, contraction and reciprocal
#: arithmetic but *not* ``nnan``/``ninf``: NaN and inf keep their meaning so a
#: diverging run is detected instead of silently producing garbage.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}

#: Matrix products with fewer multiply-adds than this run as compiled loops;
#: larger ones call BLAS (through ``np.dot``). Tiny models (the echo tutorial's
#: hidden size 4) spend far less time in loops than in BLAS call overhead.
BLAS_MIN_WORK = 4096
