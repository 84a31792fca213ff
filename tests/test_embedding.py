"""Token inputs: the embedding table in front of the first layer."""

import pickle

import numpy as np
import pytest

import rnnkit
from rnnkit import RNNClassifier, RNNRegressor, RNNTranscriber
from rnnkit.network import Network

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CONFIGS = [("rnn", "sequence", {}), ("gru", "last", {}),
           ("lstm", "last", dict(bidirectional=True, num_layers=2)),
           ("gru", "sequence", dict(layer_norm=True)), ("lstm", "sequence", dict(peephole=True))]


def problem(cell, output, kw, seed=0):
    rng = np.random.default_rng(seed)
    net = Network(cell, input_size=3, hidden_size=4, output_size=2, n_tokens=7, output=output, **kw)
    theta = net.init_params(seed)
    ids = rng.integers(0, 7, size=(3, 5)).astype(float)[..., None]
    lengths = np.array([5, 3, 4])
    Y = rng.integers(0, 2, size=(3, 5) if output == "sequence" else (3,))
    return net, theta, ids, lengths, Y


@pytest.mark.parametrize("cell,output,kw", CONFIGS)
def test_embedding_equals_the_network_on_embedded_inputs(cell, output, kw):
    """Loss and gradients == the same network fed E[ids]; E's gradient == its input gradient summed per id."""
    net, theta, ids, lengths, Y = problem(cell, output, kw)
    loss, out = net.loss_and_grad(theta, ids, lengths, Y)
    plain = Network(cell, input_size=3, hidden_size=4, output_size=2, output=output, **kw)
    E = net.coefs(theta)["embedding.weight"]
    expect, ref = plain.loss_and_grad(theta[:plain.size], E[ids[..., 0].astype(int)], lengths, Y,
                                      input_grad=True)
    assert loss == pytest.approx(expect, rel=1e-12)
    np.testing.assert_allclose(out["grad"][:plain.size], ref["grad"], rtol=1e-12, atol=1e-14)
    gE = np.zeros_like(E)
    for b, n in enumerate(lengths):
        np.add.at(gE, ids[b, :n, 0].astype(int), ref["dX"][b, :n])
    np.testing.assert_allclose(net.coefs(out["grad"])["embedding.weight"], gE, rtol=1e-12, atol=1e-14)
    # rows of ids that no valid step uses get a zero gradient
    unused = np.setdiff1d(np.arange(7), np.concatenate([ids[b, :n, 0] for b, n in enumerate(lengths)]))
    assert not net.coefs(out["grad"])["embedding.weight"][unused].any()


@pytest.mark.parametrize("cell,output,kw", CONFIGS)
def test_embedding_gradcheck(cell, output, kw):
    net, theta, ids, lengths, Y = problem(cell, output, kw, seed=1)
    assert rnnkit.gradcheck(net, theta, ids, lengths, Y) <= 1.0
    with pytest.raises(ValueError, match="token ids have no gradient"):
        net.loss_and_grad(theta, ids, lengths, Y, input_grad=True)


def tokens(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.randint(0, 10, size=rng.randint(3, 9)) for _ in range(n)]
    return X, np.array([int(3 in x) for x in X])


def test_estimator_learns_tokens_and_variable_lengths_equal_each_alone():
    X, y = tokens()
    clf = RNNClassifier(cell="gru", hidden_size=12, embedding_dim=6, learning_rate_init=0.03, max_iter=30,
                        random_state=0, dtype="float64").fit(X[:90], y[:90])
    assert clf.n_tokens_ == 10 and clf.coefs_["embedding.weight"].shape == (10, 6)
    assert clf.score(X[90:], y[90:]) >= 0.9
    together = clf.predict_proba(X[90:])
    alone = np.vstack([clf.predict_proba([x]) for x in X[90:]])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-12)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X[90:]), together)


def test_token_inputs_are_validated():
    X, y = tokens(40)
    clf = RNNClassifier(hidden_size=3, embedding_dim=2, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        clf.predict([np.array([1, 12])])
    with pytest.raises(ValueError, match="whole numbers"):
        clf.predict([np.array([1.5, 2.0])])
    with pytest.raises(ValueError, match="whole numbers"):
        clf.predict([np.array([-1, 2])])
    with pytest.raises(ValueError, match="one token id per step"):
        clf.predict(np.zeros((2, 3, 2)))
    big = RNNClassifier(hidden_size=3, embedding_dim=2, n_tokens=50, max_iter=1).fit(X, y)
    assert big.n_tokens_ == 50 and big.predict([np.array([49, 0])]).shape == (1,)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        RNNClassifier(embedding_dim=2, n_tokens=5, max_iter=1).fit(X, y)


def test_tokens_with_the_regressor_and_the_transcriber():
    X, y = tokens(40)
    reg = RNNRegressor(cell="rnn", hidden_size=3, embedding_dim=2, max_iter=2)
    reg.fit(np.array([x[:3] for x in X]), y.astype(float))
    assert reg.coefs_["embedding.weight"].shape == (10, 2)
    words = ["ab"[int(x[0]) % 2] for x in X]
    est = RNNTranscriber(cell="gru", hidden_size=4, embedding_dim=3, max_iter=2).fit(X, words)
    assert len(est.predict(X[:4])) == 4
