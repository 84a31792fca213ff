"""
=======================================
Hyperparameter search on a Dask cluster
=======================================

A grid search fits one model per candidate and fold. With ``n_jobs``,
scikit-learn runs those fits in parallel through joblib, on the cores of one
machine; when one machine is not enough, joblib's ``"dask"`` backend sends the
same fits to the workers of a `Dask <https://docs.dask.org>`_ cluster. The
search itself does not change, only the ``with`` block around it.

This example runs a small search on the 8 x 8 digits twice -- one fit after the
other in this process, then on a ``LocalCluster`` of two worker processes -- and
checks that both give the same scores. It needs ``pip install "rnnkit[dask]"``
(``dask`` and ``distributed``). See :ref:`dask` in the user guide.
"""

# %%
# The search
# ----------
# Four candidates -- a GRU or an LSTM with 64 or 128 hidden units -- each scored
# by 3-fold cross-validation: 12 fits of 20 epochs, then a refit of the best
# candidate on all the digits. ``random_state`` is fixed, so a fit gives the
# same model wherever it runs.
#
# The cells that do the work are under ``if __name__ == "__main__":``. A
# ``LocalCluster`` starts its workers with multiprocessing's "spawn", and a
# spawned process begins by running the script that started it again (as
# ``__mp_main__``): the guard keeps the workers from running the searches and
# starting clusters of their own when this example is run as a script. In a
# notebook, or when connecting to a cluster started elsewhere, no guard is
# needed.
import logging.handlers
import time
import warnings

import joblib
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from rnnkit import RNNClassifier
from rnnkit.datasets import load_digit_sequences

X, y = load_digit_sequences()
param_grid = {"cell": ["gru", "lstm"], "hidden_size": [64, 128]}
model = RNNClassifier(max_iter=20, batch_size=64, learning_rate_init=0.01, random_state=0)

# A fixed number of epochs: scikit-learn warns that the loss is still moving.
# scikit-learn (1.7 and later) passes this filter on to the fits on the workers.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def search(n_jobs):
    """Run the grid search; return it and its wall time in seconds."""
    start = time.perf_counter()
    fitted = GridSearchCV(model, param_grid, cv=3, n_jobs=n_jobs).fit(X, y)
    return fitted, time.perf_counter() - start


# %%
# Compiled once per process
# -------------------------
# The first rnnkit model a Python process fits needs the compiled kernels of
# its cell and precision: the process loads them from numba's on-disk cache
# (well under a second) or, when the cache does not hold them, compiles them
# (tens of seconds) and writes them to the cache. From then on it has them in
# memory. The function below times a first and a second short fit (one epoch
# on 128 digits) of each cell of the grid; rnnkit logs a line on its
# ``"rnnkit"`` logger when it compiles, which tells the two cases apart.
#
# Run here first, it also keeps the compilation, if any, out of the timing of
# the sequential search below. (When this documentation is built, the digits
# tutorial has already fitted these cells in this process, so even the "first"
# fits find the kernels in memory.)
def first_and_second_fit(model, X, y, cells=("gru", "lstm")):
    """Seconds of a first and a second short fit of each cell, and whether the first compiled."""
    log = logging.handlers.BufferingHandler(capacity=100)
    logging.getLogger("rnnkit").addHandler(log)
    seconds = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch
            for _ in range(2):
                start = time.perf_counter()
                for cell in cells:
                    clone(model).set_params(cell=cell, max_iter=1).fit(X, y).predict(X)
                seconds.append(time.perf_counter() - start)
    finally:
        logging.getLogger("rnnkit").removeHandler(log)
    return seconds[0], seconds[1], len(log.buffer) > 0


def show(timings):
    """Print ``{where: (first, second, compiled)}``."""
    print(f"{'process':24s} {'first':>7s} {'second':>7s}")
    for where, (first, second, compiled) in sorted(timings.items()):
        how = "compiled" if compiled else "no compilation"
        print(f"{where:24s} {first:6.2f}s {second:6.2f}s  first fits: {how}")


short = clone(model).set_params(hidden_size=64)
if __name__ == "__main__":
    show({"this process": first_and_second_fit(short, X[:128], y[:128])})

# %%
# One fit after the other
# -----------------------
# ``n_jobs=1``: the 12 fits and the refit, in this process.
if __name__ == "__main__":
    sequential, sequential_seconds = search(n_jobs=1)
    print(f"one fit after the other: {sequential_seconds:.1f} s")

# %%
# A cluster
# ---------
# A scheduler and two worker processes on this machine, one thread each: the
# machine that builds this documentation has 2 cores. (A fit may use a second
# thread for a while: rnnkit trains a large batch in two parts, on two
# threads, see :ref:`threads`. Workers started with ``NUMBA_NUM_THREADS=1`` in
# their environment keep to one.) The scheduler listens on 127.0.0.1 only, its
# dashboard on a free port.
#
# On a real cluster, connect to its scheduler instead; everything below stays
# the same::
#
#     client = Client("tcp://scheduler:8786")
if __name__ == "__main__":
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    )
    client = Client(cluster)
    print(client)

# %%
# Workers compile once each
# -------------------------
# Each worker is a Python process of its own, so each pays the first-use cost
# once. ``client.run`` runs a function once on every worker and returns what
# each returned: here the same first and second fits, timed in the worker.
#
# "first" is the cold start of the worker process. The search above has filled
# numba's cache (if an earlier run had not), and the workers share this
# machine's disk, so they load the kernels from it; the workers of a fresh
# cluster node with an empty cache would compile them, each on its own. Running
# this warm-up on the workers -- or ``python -m rnnkit.compile`` when building
# their image -- before the search keeps that one-off cost out of the search.
if __name__ == "__main__":
    show(client.run(first_and_second_fit, short, X[:128], y[:128]))

# %%
# The same search on the cluster
# ------------------------------
# ``joblib.parallel_backend("dask")`` makes the client's cluster joblib's
# backend, and ``n_jobs=-1`` lets the search use all its workers. The refit of
# the best candidate on all the digits runs here, in this process, as before.
#
# Do not expect a speed-up here: the two workers share the two cores that the
# sequential search already kept busy much of the time (its batches of 64
# sequences train in two parts, on two threads), and a cluster adds the
# scheduling and the transfer of the data to the workers. What Dask adds is
# more machines: on a real cluster the same 12 fits spread over all the
# workers' cores.
if __name__ == "__main__":
    with joblib.parallel_backend("dask"):
        on_dask, dask_seconds = search(n_jobs=-1)
    print(f"one fit after the other: {sequential_seconds:5.1f} s")
    print(f"on the Dask cluster:     {dask_seconds:5.1f} s  (2 workers, 1 thread each)")

# %%
# The same scores
# ---------------
# A fit's result depends on its parameters, data and ``random_state`` only --
# not on the process, the thread or the number of threads it runs with -- so
# the cross-validation scores are identical to the last bit, not merely close
# (on the same machine with the same library builds, see
# :ref:`reproducibility`; nodes with other CPUs or other builds of NumPy,
# numba or BLAS can differ in the last bits).
if __name__ == "__main__":
    columns = ["mean_test_score", "std_test_score", "rank_test_score"]
    columns += [f"split{i}_test_score" for i in range(3)]
    same = {c: np.array_equal(sequential.cv_results_[c], on_dask.cv_results_[c]) for c in columns}
    print(f"identical {', '.join(columns)}: {all(same.values())}")
    print(f"best: {on_dask.best_params_}, mean accuracy {on_dask.best_score_:.4f}")
    for params, mean, std in zip(
        on_dask.cv_results_["params"],
        on_dask.cv_results_["mean_test_score"],
        on_dask.cv_results_["std_test_score"],
        strict=True,
    ):
        print(f"  {params['cell']:4s} {params['hidden_size']:3d} units: {mean:.4f} +- {std:.4f}")

    labels = [f"{p['cell']}, {p['hidden_size']} units" for p in on_dask.cv_results_["params"]]
    positions = np.arange(len(labels))
    runs = [
        ("one fit after the other", sequential, sequential_seconds),
        ("Dask cluster, 2 workers", on_dask, dask_seconds),
    ]
    fig, ax = plt.subplots(figsize=(7, 4))
    for shift, (name, result, seconds) in zip((-0.1, 0.1), runs, strict=True):
        ax.errorbar(
            positions + shift,
            result.cv_results_["mean_test_score"],
            yerr=result.cv_results_["std_test_score"],
            fmt="o",
            capsize=4,
            label=f"{name} ({seconds:.1f} s)",
        )
    ax.set_xticks(positions, labels)
    ax.set_ylabel("accuracy, 3-fold CV (mean +- std)")
    ax.set_title("Grid search on the digits: the same scores on the cluster")
    ax.legend(loc="lower left")
    fig.tight_layout()

# %%
# Closing
# -------
# Close the client and the cluster when done: the worker processes stop.
if __name__ == "__main__":
    client.close()
    cluster.close()
    plt.show()
