"""A grid search on a Dask cluster (joblib's ``"dask"`` backend) scores exactly as the sequential one.

The cluster is a ``distributed.LocalCluster`` of two worker *processes* (one
thread each, ``NUMBA_NUM_THREADS=1``, on 127.0.0.1 only, no fixed ports) so
that, as on a real cluster, every fit runs in another Python process that
imports rnnkit and loads its compiled kernels from numba's on-disk cache. The
sequential search runs first: with a cold cache it compiles the rnn and gru
float64 kernels once, in this process (tens of seconds, which the kernel tests
would otherwise pay), and the workers then load them; with a warm cache the
test takes about ten seconds, most of it starting and stopping the cluster.

Each fit is a deterministic function of its parameters, its data and its
``random_state`` (``train_parts`` is fixed, whatever the threads, see
:func:`rnnkit.set_config`), and the workers run the same compiled code on the
same machine, so the scores are compared for bit-for-bit equality, not with a
tolerance.
"""

import os

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from rnnkit import RNNClassifier, get_config

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'rnnkit[dask]')"
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {"cell": ["rnn", "gru"], "hidden_size": [4, 8]}
SCORE_COLUMNS = ["mean_test_score", "std_test_score", "rank_test_score"] + [
    f"split{i}_test_score" for i in range(3)
]


def _data(n=60, n_steps=5, n_features=2, seed=0):
    """60 sequences of 5 steps x 2 features; the label is the sign of the first feature's sum."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_steps, n_features))
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    return X, y


def _search(n_jobs):
    model = RNNClassifier(max_iter=5, batch_size=16, random_state=0, dtype="float64")
    return GridSearchCV(model, GRID, cv=3, n_jobs=n_jobs).fit(*_data())


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on 127.0.0.1, closed whatever happens."""
    cluster = client = None
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # a free port, on this machine only
            env={"NUMBA_NUM_THREADS": "1"},  # one core per worker (Dask sets OMP/MKL/OPENBLAS to 1)
        )
        client = distributed.Client(cluster)
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def test_grid_search_on_dask_equals_sequential(client):
    sequential = _search(n_jobs=1)  # first: compiles here if numba's cache is cold

    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        on_dask = _search(n_jobs=-1)

    # the fits really ran on the cluster's worker processes, not in this one
    workers = {task["worker"] for task in tasks.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])
    assert os.getpid() not in client.run(os.getpid).values()
    assert {config["n_threads"] for config in client.run(get_config).values()} == {1}

    assert on_dask.cv_results_["params"] == sequential.cv_results_["params"]
    for column in SCORE_COLUMNS:
        np.testing.assert_array_equal(
            on_dask.cv_results_[column], sequential.cv_results_[column], err_msg=column
        )
    assert on_dask.best_params_ == sequential.best_params_
    assert on_dask.best_score_ == sequential.best_score_
