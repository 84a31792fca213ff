"""Sample and class weights, and learning-rate schedules."""

import pickle

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier

from rnnkit import RNNClassifier, RNNRegressor, RNNTranscriber
from rnnkit.network import Network

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def data(n=20, T=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, 2))
    return X, (X[:, :, 0].sum(axis=1) > 0).astype(int)


EXACT = dict(hidden_size=5, dtype="float64", alpha=0.0, max_iter=4, random_state=0, shuffle=False)


@pytest.mark.parametrize("make,output", [(RNNClassifier, "last"), (RNNClassifier, "sequence"),
                                         (RNNRegressor, "last"), (RNNRegressor, "sequence")])
def test_zero_sample_weight_is_removal(make, output):
    """float64, one batch: weights 0 on two sequences == the fit without them, to 1e-12."""
    X, y = data()
    y = y if output == "last" else np.tile(y[:, None], (1, X.shape[1]))
    y = y if make is RNNClassifier else y.astype(float) + 0.5
    w = np.ones(len(X))
    w[[3, 7]] = 0.0
    keep = w > 0
    weighted = make(cell="gru", output=output, batch_size=len(X), **EXACT).fit(X, y, sample_weight=w)
    removed = make(cell="gru", output=output, batch_size=int(keep.sum()), **EXACT).fit(X[keep], y[keep])
    np.testing.assert_allclose(weighted._theta, removed._theta, rtol=0, atol=1e-12)
    assert weighted.loss_ == pytest.approx(removed.loss_, abs=1e-12)


def test_zero_sample_weight_is_removal_for_the_transcriber():
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(6, 3)) for _ in range(10)]
    y = ["ab", "a", "b", "ba", "aa", "b", "a", "ab", "bb", "a"]
    w = np.ones(10)
    w[[2, 5]] = 0.0
    keep = np.flatnonzero(w)
    params = dict(cell="gru", **EXACT)
    weighted = RNNTranscriber(batch_size=10, **params).fit(X, y, sample_weight=w)
    removed = RNNTranscriber(batch_size=8, **params).fit([X[i] for i in keep], [y[i] for i in keep])
    np.testing.assert_allclose(weighted._theta, removed._theta, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss,output", [("cross_entropy", "last"), ("cross_entropy", "sequence"),
                                         ("binary_cross_entropy", "sequence"), ("squared_error", "last")])
def test_kernel_loss_and_gradient_are_the_weighted_means(loss, output):
    """The compiled head: sum(w l) / sum(w) and its gradient, from each sequence's own loss and gradient."""
    rng = np.random.default_rng(0)
    net = Network("lstm", input_size=2, hidden_size=3, output_size=3, loss=loss, output=output)
    theta = net.init_params(0)
    N, T = 4, 5
    X = rng.normal(size=(N, T, 2))
    lengths = np.array([5, 3, 4, 2])
    shape = (N, T) if output == "sequence" else (N,)
    Y = rng.integers(0, 3, size=shape) if loss == "cross_entropy" else rng.random(shape + (3,))
    w = np.array([0.5, 2.0, 0.0, 1.5])
    Yk = net.targets(Y, theta.dtype, weights=w)
    zeros = np.zeros((1, N, 3))
    total, out = net.backend.loss_and_grad(net, theta, X, lengths, Yk, zeros, zeros, False, 0)
    items = lengths if output == "sequence" else np.ones(N)
    alone = [net.loss_and_grad(theta, X[i:i + 1, :lengths[i]], lengths[i:i + 1], Y[i:i + 1, :lengths[i]]
                               if output == "sequence" else Y[i:i + 1]) for i in range(N)]
    weight = w * items
    expect = sum(wi * loss_i for wi, (loss_i, _) in zip(weight, alone, strict=True)) / weight.sum()
    grad = sum(wi * g["grad"] for wi, (_, g) in zip(weight, alone, strict=True)) / weight.sum()
    assert total == pytest.approx(expect, rel=1e-12)
    np.testing.assert_allclose(out["grad"], grad, rtol=1e-10, atol=1e-13)


def test_balanced_class_weight_raises_balanced_accuracy():
    rng = np.random.RandomState(0)
    n = 400
    y = (rng.rand(n) < 0.1).astype(int)  # 9:1
    X = rng.normal(size=(n, 5, 2))
    X[:, :, 0] += 0.6 * (2 * y[:, None] - 1)  # a weak signal
    params = dict(cell="gru", hidden_size=8, learning_rate_init=0.01, max_iter=30, random_state=0)
    plain = RNNClassifier(**params).fit(X[:300], y[:300])
    balanced = RNNClassifier(class_weight="balanced", **params).fit(X[:300], y[:300])
    score = [balanced_accuracy_score(y[300:], m.predict(X[300:])) for m in (plain, balanced)]
    assert score[1] > score[0] + 0.05, score


def test_class_weight_dict_multiplies_sample_weight():
    X, y = data()
    sw = np.linspace(0.5, 1.5, len(X))
    params = dict(cell="rnn", batch_size=len(X), **EXACT)
    by_class = RNNClassifier(class_weight={1: 3.0}, **params).fit(X, y, sample_weight=sw)
    by_sample = RNNClassifier(**params).fit(X, y, sample_weight=sw * np.where(y == 1, 3.0, 1.0))
    np.testing.assert_array_equal(by_class._theta, by_sample._theta)
    with pytest.raises(ValueError, match="balanced"):
        RNNClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_sample_weight_is_validated_and_routed():
    X, y = data()
    with pytest.raises(ValueError, match="sample_weight"):
        RNNClassifier(max_iter=1).fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="(?i)negative"):
        RNNClassifier(max_iter=1).fit(X, y, sample_weight=-np.ones(len(X)))
    w = np.where(y == 1, 2.0, 1.0)
    est = RNNClassifier(cell="rnn", hidden_size=4, max_iter=3, random_state=0)
    scores = cross_val_score(est, X, y, cv=2, params={"sample_weight": w})
    assert scores.shape == (2,)
    grid = GridSearchCV(est, {"hidden_size": [2, 4]}, cv=2).fit(X, y, sample_weight=w)
    assert grid.best_params_["hidden_size"] in (2, 4)


def _mlp_rates(schedule, n_calls, X2, y, **kw):
    mlp = MLPClassifier(hidden_layer_sizes=(2,), solver="sgd", learning_rate=schedule, random_state=0, **kw)
    rates = []
    for _ in range(n_calls):
        mlp.partial_fit(X2, y, classes=[0, 1])
        rates.append(mlp._optimizer.learning_rate)
    return rates


@pytest.mark.parametrize("schedule,kw", [("constant", {}), ("invscaling", dict(power_t=0.3)),
                                         ("adaptive", dict(tol=1e9, n_iter_no_change=2))])
def test_schedules_follow_scikit_learns_mlp(schedule, kw):
    """The rate after each epoch equals MLPClassifier's (solver="sgd") for the same samples seen."""
    X, y = data(n=12)
    expect = _mlp_rates(schedule, 9, X.reshape(len(X), -1), y, learning_rate_init=0.1, **kw)
    est = RNNClassifier(cell="rnn", hidden_size=2, solver="sgd", learning_rate=schedule,
                        learning_rate_init=0.1, random_state=0, **kw)
    rates = []
    for k in range(9):
        est.partial_fit(X, y, classes=[0, 1])
        rates.append(est.learning_rate_)
        if k == 4:  # the schedule's state survives pickling
            est = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(rates, expect, rtol=1e-12)
    assert est._optimizer.learning_rate == rates[-1]


def test_adaptive_schedule_applies_to_every_solver_in_fit():
    X, y = data(n=12)
    est = RNNClassifier(cell="rnn", hidden_size=2, solver="adam", learning_rate="adaptive", tol=1e9,
                        n_iter_no_change=1, max_iter=6, learning_rate_init=0.01).fit(X, y)
    assert est.n_iter_ == 6  # adaptive lowers the rate instead of stopping
    assert est.learning_rate_ == pytest.approx(0.01 / 25)


@pytest.mark.parametrize("make", [RNNClassifier, RNNRegressor])
def test_integer_weights_equal_repetition_in_one_batch(make):
    """scikit-learn's check, with every sequence in one batch (as it runs MLP's with lbfgs)."""
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    est = make(batch_size=100_000, dtype="float64", shuffle=False, random_state=0)
    check_sample_weight_equivalence_on_dense_data(make.__name__, est)
