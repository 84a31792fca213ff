"""The five tutorials' numbers, held so they cannot silently regress.

Each test trains the gallery example's model (``examples/plot_*.py``) with a
fixed ``random_state``, with fewer epochs where the full run is long, and
checks the number the tutorial reports (``shared/TUTORIALS.md``).
"""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from rnnkit import RNNClassifier, RNNRegressor
from rnnkit.datasets import (
    RULE_STREAM_CHANCE_LOSS,
    RULE_STREAM_OPTIMAL_LOSS,
    bits_to_int,
    load_digit_sequences,
    make_echo,
    make_rule_stream,
    make_sine_windows,
    make_subtraction,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# --------------------------------------------------------------------------- T1
def test_echo_stateful_truncated_bptt_per_step_accuracy():
    """T1: a 4-unit RNN trained by stateful truncated BPTT echoes a fresh stream (>= 0.99 per step)."""
    echo_step = 3
    clf = RNNClassifier(
        cell="rnn",
        hidden_size=4,
        output="sequence",
        solver="adagrad",
        learning_rate_init=0.3,
        alpha=0.0,
        batch_size=5,
        bptt_steps=15,
        stateful=True,
        random_state=0,
    )
    rng = np.random.RandomState(0)
    n_epochs = 10  # the tutorial runs 100; the loss is near zero after two
    for _ in range(n_epochs):
        X, y = make_echo(n_bits=50_000, echo_step=echo_step, n_rows=5, random_state=rng)
        clf.partial_fit(X, y, classes=[0, 1])
    windows = len(clf.batch_loss_curve_) // n_epochs
    assert windows == 667  # 666 windows of 15 steps and one of 10, per epoch
    assert clf.loss_curve_[-1] < 0.01

    X_test, y_test = make_echo(n_bits=50_000, echo_step=echo_step, n_rows=5, random_state=123)
    y_pred = clf.predict(X_test)
    accuracy = np.mean(y_pred[:, echo_step:] == y_test[:, echo_step:])
    assert accuracy >= 0.99


# --------------------------------------------------------------------------- T2
def test_binary_subtraction_all_136_pairs():
    """T2: a bias-free 4-unit tanh RNN trained by plain SGD gets all 136 subtractions right."""
    X, y, a, b = make_subtraction(4, return_pairs=True)
    clf = RNNClassifier(
        cell="rnn",
        hidden_size=4,
        bias=False,
        output="sequence",
        solver="sgd",
        learning_rate_init=0.5,
        momentum=0.0,
        alpha=0.0,
        batch_size=1,
        max_iter=1500,
        tol=1e-6,
        n_iter_no_change=300,
        random_state=0,
    ).fit(X, y)
    y_pred = clf.predict(X)
    assert (y_pred == y).all(axis=1).sum() == 136
    np.testing.assert_array_equal(bits_to_int(y_pred), a - b)
    for minuend, subtrahend in [(11, 1), (15, 3), (13, 6)]:
        k = np.flatnonzero((a == minuend) & (b == subtrahend))[0]
        assert int(bits_to_int(y_pred[k])) == minuend - subtrahend


# --------------------------------------------------------------------------- T3
DIGIT_VARIANTS = {
    "lstm": dict(cell="lstm"),
    "gru": dict(cell="gru"),
    "peephole-lstm": dict(cell="lstm", peephole=True),
    "layer-norm-gru": dict(cell="gru", layer_norm=True),
    "layer-norm-lstm": dict(cell="lstm", layer_norm=True),
    "bidirectional-lstm": dict(cell="lstm", bidirectional=True),
    "2-layer-gru-dropout": dict(cell="gru", num_layers=2, dropout=0.2),
}


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digit_sequences()
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.mark.parametrize("params", DIGIT_VARIANTS.values(), ids=DIGIT_VARIANTS.keys())
def test_digit_variants_reach_095(digits_split, params):
    """T3: every cell variant classifies the held-out 25 % of the digits with accuracy >= 0.95."""
    X_train, X_test, y_train, y_test = digits_split
    clf = RNNClassifier(
        hidden_size=64,
        solver="adam",
        learning_rate_init=0.01,
        batch_size=64,
        max_iter=30,
        random_state=0,
        **params,
    ).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


def test_digit_variable_lengths_same_predictions(digits_split):
    """T3: sequences of different lengths in one batch predict as each sequence alone."""
    X_train, X_test, y_train, _ = digits_split
    clf = RNNClassifier(
        cell="lstm", hidden_size=16, bidirectional=True, learning_rate_init=0.01, max_iter=3, random_state=0
    ).fit(X_train, y_train)
    lengths = np.random.RandomState(0).randint(3, 9, size=60)
    cropped = [image[:n] for image, n in zip(X_test[:60], lengths, strict=True)]
    together = clf.predict_proba(cropped)
    alone = np.vstack([clf.predict_proba([sequence]) for sequence in cropped])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_array_equal(together.argmax(axis=1), alone.argmax(axis=1))


# --------------------------------------------------------------------------- T4
@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_sine_next_window_mse(random_state):
    """T4: 100 Adam steps with the state carried from window to window; next window's MSE <= 1e-3."""
    X, y = make_sine_windows(100)
    stream_X, stream_y = X.reshape(1, -1, 1), y.reshape(1, -1, 1)
    reg = RNNRegressor(
        cell="rnn",
        hidden_size=32,
        output="sequence",
        solver="adam",
        learning_rate_init=0.01,
        alpha=0.0,
        batch_size=1,
        bptt_steps=20,
        stateful=True,
        random_state=random_state,
    ).partial_fit(stream_X, stream_y)
    assert len(reg.batch_loss_curve_) == 100  # one update per window, as the tutorial's 100 steps
    X_next, y_next = make_sine_windows(1, start=100)
    prediction = reg.predict(np.concatenate([stream_X, X_next], axis=1))[0, -20:]
    assert np.mean((prediction - y_next[0]) ** 2) <= 1e-3


# --------------------------------------------------------------------------- T5
def _rule_stream_last_pass_loss(lag):
    X, y = make_rule_stream(n_bits=500_000, lag=lag, n_rows=2000, random_state=0)
    n_epochs = 10
    clf = RNNClassifier(
        cell="rnn",
        hidden_size=6,
        output="sequence",
        solver="adagrad",
        learning_rate_init=0.1,
        alpha=0.0,
        batch_size=2000,
        bptt_steps=5,
        stateful=True,
        max_iter=n_epochs,
        random_state=0,
    ).fit(X, y)
    windows = len(clf.batch_loss_curve_) // n_epochs
    return float(np.mean(clf.batch_loss_curve_[-windows:]))


def test_rule_stream_learned_inside_window():
    """T5: with the rule inside the 5-step window the loss settles at 0.5 ln 2 = 0.347 (+- 0.01)."""
    assert abs(_rule_stream_last_pass_loss(lag=1) - RULE_STREAM_OPTIMAL_LOSS) <= 0.01


def test_rule_stream_not_learned_beyond_window():
    """T5: with the rule two windows back the loss stays at ln 2 = 0.693 (>= 0.68)."""
    loss = _rule_stream_last_pass_loss(lag=10)
    assert loss >= 0.68
    assert loss <= RULE_STREAM_CHANCE_LOSS + 0.01
