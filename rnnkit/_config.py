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

#: BLAS threads while a compiled call whose per-step recurrent products are
#: large enough for BLAS runs (``None``: leave BLAS's own setting). Those
#: products alternate with element-wise gate loops at every time step; a
#: multithreaded BLAS puts its helper threads to sleep between the calls and
#: waits for them to wake at the next one, which made an LSTM-128 step 2-10x
#: slower (worst on a busy machine) than one thread.
BLAS_THREADS = 1

#: A workspace kept on a :class:`~rnnkit.network.Network` between calls is at
#: most this many elements; larger ones are allocated per call.
MAX_KEPT_WORKSPACE = 1 << 24

#: A training batch whose per-step products go to BLAS even after being cut
#: in this many groups of rows (and without dropout) runs those groups'
#: forward and backward passes in parallel (numba's ``prange``, with BLAS
#: single-threaded: never both kinds of threads at once), summing their
#: gradients in a fixed order, so results do not depend on the number of cores.
#: Only with ``BLAS_THREADS == 1``; 1 turns it off. Costs about 30 s more
#: compilation per precision (once, cached on disk). The parallel region uses
#: numba's threading layer: with the GNU OpenMP layer, a process forked
#: (``multiprocessing``'s "fork") after such a call must not train in parallel
#: itself; with the "workqueue" layer, two Python threads must not train large
#: models at the same time. Set 1 where either matters.
TRAIN_PARTS = 2
