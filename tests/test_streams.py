"""Streams across calls: stateful ``partial_fit`` carries the state, ``initial_state`` continues inference."""

import pickle

import numpy as np
import pytest

from rnnkit import RNNClassifier, RNNRegressor, get_config
from rnnkit.backends import get_backend

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def stream(n_rows=3, n_steps=60, n_features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, n_steps, n_features))
    y = (X[:, :, 0] + np.roll(X[:, :, 1], 2, axis=1) > 0).astype(int)
    return X, y


def stateful(cell, **kw):
    params = dict(cell=cell, hidden_size=5, output="sequence", bptt_steps=10, stateful=True, dtype="float64",
                  random_state=0, learning_rate_init=0.01)
    params.update(kw)
    return RNNClassifier(**params)


def chunked_fit(est, X, y, bounds):
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        est.partial_fit(X[:, lo:hi], y[:, lo:hi], **({"classes": [0, 1]} if k == 0 else {}))
    return est


@pytest.mark.parametrize("cell,kw", [("rnn", {}), ("lstm", dict(num_layers=2)),
                                     ("gru", dict(num_layers=2, peephole=False, layer_norm=True)),
                                     ("lstm", dict(peephole=True))])
def test_chunked_partial_fit_equals_one_fit(cell, kw):
    """k partial_fit calls on consecutive chunks == one fit(max_iter=1) on the stream, bit for bit."""
    X, y = stream()
    whole = stateful(cell, max_iter=1, shuffle=False, **kw).fit(X, y)
    chunks = chunked_fit(stateful(cell, **kw), X, y, [0, 20, 50, 60])
    np.testing.assert_array_equal(chunks._theta, whole._theta)
    assert chunks.batch_loss_curve_ == whole.batch_loss_curve_
    # without the carried state (reset before each call) the result differs
    reset = stateful(cell, **kw)
    for k, (lo, hi) in enumerate([(0, 20), (20, 50), (50, 60)]):
        reset.reset_state().partial_fit(X[:, lo:hi], y[:, lo:hi], classes=[0, 1] if k == 0 else None)
    assert not np.array_equal(reset._theta, whole._theta)


def test_chunked_partial_fit_equals_one_fit_when_the_batch_is_split():
    X, y = stream(n_rows=96, n_steps=30, n_features=3)
    kw = dict(hidden_size=24, batch_size=96)
    whole = stateful("gru", max_iter=1, shuffle=False, **kw).fit(X, y)
    assert get_backend("cpu").parts(whole._net, 96) == get_config()["train_parts"] > 1
    chunks = chunked_fit(stateful("gru", **kw), X, y, [0, 10, 30])
    np.testing.assert_array_equal(chunks._theta, whole._theta)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_chunked_inference_with_initial_state_equals_the_whole_stream(cell):
    X, y = stream(n_steps=45)
    est = stateful(cell, max_iter=3).fit(X, y)
    state, parts, hidden = None, [], []
    for lo, hi in [(0, 12), (12, 30), (30, 45)]:
        parts.append(est.predict_proba(X[:, lo:hi], initial_state=state))
        seq, h_n, c_n = est.hidden_states(X[:, lo:hi], initial_state=state)
        hidden.append(seq)
        state = (h_n, c_n)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), est.predict_proba(X))
    seq, h_n, c_n = est.hidden_states(X)
    np.testing.assert_array_equal(np.concatenate(hidden, axis=1), seq)
    np.testing.assert_array_equal(state[0], h_n)
    # PyTorch's form: a bare h_0 for rnn and gru, (h_0, c_0) for lstm
    torch_form = (h_n, c_n) if cell == "lstm" else h_n
    np.testing.assert_array_equal(est.predict(X[:, :5], initial_state=torch_form),
                                  est.predict(X[:, :5], initial_state=(h_n, c_n)))


def test_stacked_chunked_inference_agrees_to_rounding():
    """Upper layers' input projections may switch between compiled loops and BLAS with the chunk's size."""
    X, y = stream(n_steps=60)
    est = stateful("gru", num_layers=2, max_iter=2).fit(X, y)
    state, parts = None, []
    for lo, hi in [(0, 20), (20, 60)]:
        parts.append(est.predict_proba(X[:, lo:hi], initial_state=state))
        state = est.hidden_states(X[:, lo:hi], initial_state=state)[1:]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), est.predict_proba(X), rtol=0, atol=1e-13)


def test_carried_state_rows_reset_and_fit():
    X, y = stream()
    est = stateful("gru")
    est.partial_fit(X[:, :20], y[:, :20], classes=[0, 1])
    with pytest.raises(ValueError, match="reset_state"):
        est.partial_fit(X[:2, 20:40], y[:2, 20:40])
    assert est.reset_state() is est
    est.partial_fit(X[:2, 20:40], y[:2, 20:40])
    # fit starts from zeros every time: two fits give the same weights
    a = stateful("gru", max_iter=2).fit(X, y)._theta.copy()
    b = stateful("gru", max_iter=2).fit(X[:, :30], y[:, :30]).fit(X, y)._theta
    np.testing.assert_array_equal(a, b)


def test_the_carried_state_survives_pickling():
    X, y = stream()
    est = chunked_fit(stateful("lstm"), X, y, [0, 20])
    again = pickle.loads(pickle.dumps(est))
    est.partial_fit(X[:, 20:40], y[:, 20:40])
    again.partial_fit(X[:, 20:40], y[:, 20:40])
    np.testing.assert_array_equal(est._theta, again._theta)


def test_regressor_streams_too():
    X, y = stream()
    target = X[:, :, :1] * 0.5
    kw = dict(cell="rnn", hidden_size=4, output="sequence", bptt_steps=10, stateful=True, dtype="float64",
              random_state=0)
    whole = RNNRegressor(**kw, max_iter=1, shuffle=False).fit(X, target)
    chunks = RNNRegressor(**kw)
    for lo, hi in [(0, 30), (30, 60)]:
        chunks.partial_fit(X[:, lo:hi], target[:, lo:hi])
    np.testing.assert_array_equal(chunks._theta, whole._theta)


@pytest.mark.parametrize("kw,state,match", [
    (dict(cell="gru", bidirectional=True), "zeros", "bidirectional"),
    (dict(cell="lstm"), "bare", r"\(h_0, c_0\)"),
    (dict(cell="gru"), "pair", "h_0 or"),
    (dict(cell="gru"), "wrong", "expected"),
])
def test_initial_state_errors(kw, state, match):
    X, y = stream(n_steps=10)
    est = stateful(max_iter=1, **kw).fit(X, y) if not kw.get("bidirectional") else RNNClassifier(
        hidden_size=5, output="sequence", max_iter=1, **kw).fit(X, y)
    h = np.zeros((est._net.n_states, 3, 5))
    given = {"zeros": (h, h), "bare": h, "pair": (h, h), "wrong": np.zeros((1, 2, 5))}[state]
    with pytest.raises(ValueError, match=match):
        est.predict(X, initial_state=given)
