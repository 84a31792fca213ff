"""First-use compilation: announce it once, and warm numba's on-disk cache ahead of time.

A model's first ``fit`` on a machine compiles its cell's kernels for its
precision (numba, tens of seconds); numba caches them on disk (next to the
package, or in ``NUMBA_CACHE_DIR``), so later processes load them in well
under a second. :func:`announce` says so, once per process, when a call
actually compiles (a cache hit is silent); :func:`warm` (``python -m
rnnkit.compile``) compiles ahead of time, for container images, CI and
cluster workers.
"""

import contextlib
import logging
import threading
import time

from numba.core import event

logger = logging.getLogger("rnnkit")

_ANNOUNCED = set()
_LOCK = threading.Lock()


class _Listener:
    """Counts numba compilations started in the calling thread; announces the first."""

    def __init__(self, what, verbose):
        self.what, self.verbose, self.bar, self.n = what, verbose, None, 0
        self.thread = threading.get_ident()

    def on_start(self, event):
        if threading.get_ident() != self.thread:
            return
        self.n += 1
        if self.n == 1:
            with _LOCK:
                first = self.what not in _ANNOUNCED
                _ANNOUNCED.add(self.what)
            if first:
                logger.warning("rnnkit: compiling the %s kernels (first use on this machine; numba caches "
                               "them on disk, so later processes start at once; `python -m rnnkit.compile` "
                               "compiles ahead of time)", self.what)
            if self.verbose:
                from tqdm.auto import tqdm

                self.bar = tqdm(desc=f"compiling {self.what}", unit=" kernel", leave=False)
        if self.bar is not None:
            self.bar.set_postfix_str(event.data["dispatcher"].py_func.__name__)

    def on_end(self, event):
        if self.bar is not None and threading.get_ident() == self.thread:
            self.bar.update(1)


class _Adapter(event.Listener):
    """numba's listener interface around a :class:`_Listener`."""

    def __init__(self, listener):
        self.listener = listener

    def on_start(self, ev):
        self.listener.on_start(ev)

    def on_end(self, ev):
        self.listener.on_end(ev)


@contextlib.contextmanager
def announce(net, dtype, verbose=0):
    """Around a backend call of ``net``: log once if numba compiles (a tqdm bar with ``verbose``)."""
    listener = _Listener(f"{net.cell!r} {getattr(dtype, 'name', dtype)}", verbose)
    adapter = _Adapter(listener)
    event.register("numba:compile", adapter)
    try:
        yield listener
    finally:
        event.unregister("numba:compile", adapter)
        if listener.bar is not None:
            listener.bar.close()


def warm(cells=None, dtypes=("float32", "float64"), progress=True, device="cpu"):
    """Compile (or load from numba's cache) the kernels a fit and a predict use.

    Runs a tiny ``fit`` and ``predict`` of each cell and precision (the
    compiled code is the same whatever the sizes, variants, loss or solver),
    once with a batch small enough for the unsplit training loop and once
    with one large enough to be split in parts; then a tiny
    :class:`~rnnkit.RNNTranscriber` (the CTC loss, both decoders).

    Parameters
    ----------
    cells : list of str, default=None
        Cell names (:data:`rnnkit.cells.CELLS`); all when None.
    dtypes : sequence of str, default=("float32", "float64")
        Precisions.
    progress : bool, default=True
        Show a progress bar.
    device : {"cpu", "cuda"}, default="cpu"
        Backend whose kernels to compile. The CUDA backend compiles one
        window kernel per precision for every cell (numba-cuda caches it on
        disk like the CPU kernels); a tiny fit and predict per cell check it.

    Returns
    -------
    dict
        ``(cell, dtype) -> seconds``.
    """
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from tqdm.auto import tqdm

    from .cells import CELLS
    from .estimators import RNNClassifier, RNNTranscriber

    cells = list(CELLS) if cells is None else list(cells)
    for c in cells:
        if c not in CELLS:
            raise ValueError(f"unknown cell {c!r}; expected one of {sorted(CELLS)}")
    rng = np.random.default_rng(0)
    times = {}
    jobs = [(c, d) for c in cells for d in dtypes]
    with tqdm(jobs, desc="rnnkit: compiling", disable=not progress, unit=" model") as bar:
        for cell, dtype in bar:
            bar.set_postfix_str(f"{cell} {dtype}")
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for n, hidden in ((4, 4), (64, 32)) if device == "cpu" else ((4, 4),):  # unsplit; in parts
                    X = rng.normal(size=(n, 3, 2))
                    y = np.arange(n) % 2
                    clf = RNNClassifier(cell=cell, hidden_size=hidden, batch_size=n, max_iter=1, dtype=dtype,
                                        device=device)
                    clf.fit(X, y).predict(X)
                if device != "cpu":
                    times[(cell, dtype)] = time.perf_counter() - t
                    continue
                ctc = RNNTranscriber(cell=cell, hidden_size=4, max_iter=1, dtype=dtype)
                ctc.fit(rng.normal(size=(2, 3, 2)), ["a", "b"]).predict([np.zeros((3, 2))])
                ctc.set_params(decoder="beam").predict([np.zeros((3, 2))])
            times[(cell, dtype)] = time.perf_counter() - t
    return times
