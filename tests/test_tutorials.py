"""The five tutorials' numbers, held so they cannot silently regress.

Each test trains the gallery example's model (``examples/plot_*.py``) with the
settings both read from :mod:`rnnkit.tutorials`, with fewer epochs where the
full run is long (the ``test`` entries there), and checks the number the
tutorial reports (``shared/TUTORIALS.md``).
"""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from rnnkit import RNNClassifier, RNNRegressor, RNNTranscriber
from rnnkit.datasets import (
    NUMBER_WORDS,
    bits_to_int,
    load_digit_sequences,
    make_digit_strings,
    make_echo,
    make_number_words,
    make_rule_stream,
    make_sine_windows,
    make_subtraction,
)
from rnnkit.metrics import label_error_rate
from rnnkit.tutorials import CTC_DIGITS, DIGITS, ECHO, RULE_STREAM, SINE, SUBTRACTION, TOKENS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# --------------------------------------------------------------------------- T1
def test_echo_stateful_truncated_bptt_per_step_accuracy():
    """T1: a 4-unit RNN trained by stateful truncated BPTT echoes a fresh stream (>= 0.99 per step)."""
    echo_step = ECHO.data["echo_step"]
    clf = RNNClassifier(**ECHO.estimator)
    rng = np.random.RandomState(ECHO.test["epoch_seed"])
    n_epochs = ECHO.test["n_epochs"]
    for _ in range(n_epochs):
        X, y = make_echo(**ECHO.data, random_state=rng)
        clf.reset_state().partial_fit(X, y, classes=[0, 1])  # a new stream every epoch
    windows = len(clf.batch_loss_curve_) // n_epochs
    assert windows == ECHO.targets["windows_per_epoch"]
    assert clf.loss_curve_[-1] < ECHO.targets["max_final_loss"]

    X_test, y_test = make_echo(**ECHO.data, random_state=ECHO.test["fresh_stream_seed"])
    y_pred = clf.predict(X_test)
    accuracy = np.mean(y_pred[:, echo_step:] == y_test[:, echo_step:])
    assert accuracy >= ECHO.targets["min_accuracy"]


# --------------------------------------------------------------------------- T2
def test_binary_subtraction_all_136_pairs():
    """T2: a bias-free 4-unit tanh RNN trained by plain SGD gets all 136 subtractions right."""
    X, y, a, b = make_subtraction(**SUBTRACTION.data, return_pairs=True)
    clf = RNNClassifier(**SUBTRACTION.estimator, **SUBTRACTION.run["fit_until_stable"]).fit(X, y)
    y_pred = clf.predict(X)
    assert (y_pred == y).all(axis=1).sum() == SUBTRACTION.targets["n_correct"]
    np.testing.assert_array_equal(bits_to_int(y_pred), a - b)
    for minuend, subtrahend in SUBTRACTION.targets["worked_examples"]:
        k = np.flatnonzero((a == minuend) & (b == subtrahend))[0]
        assert int(bits_to_int(y_pred[k])) == minuend - subtrahend


# --------------------------------------------------------------------------- T3
DIGIT_VARIANTS = {key: params for key, _, params in DIGITS.variants}


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digit_sequences()
    return train_test_split(X, y, **DIGITS.data, stratify=y)


@pytest.mark.parametrize("params", DIGIT_VARIANTS.values(), ids=DIGIT_VARIANTS.keys())
def test_digit_variants_reach_095(digits_split, params):
    """T3: every cell variant classifies the held-out 25 % of the digits with accuracy >= 0.95."""
    X_train, X_test, y_train, y_test = digits_split
    clf = RNNClassifier(**DIGITS.estimator, **params).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= DIGITS.targets["min_accuracy"]


def test_digit_variable_lengths_same_predictions(digits_split):
    """T3: sequences of different lengths in one batch predict as each sequence alone."""
    X_train, X_test, y_train, _ = digits_split
    clf = RNNClassifier(**DIGITS.test["variable_length_estimator"]).fit(X_train, y_train)
    n_cropped = DIGITS.test["n_cropped"]
    rng = np.random.RandomState(DIGITS.run["crop_seed"])
    lengths = rng.randint(*DIGITS.run["crop_lengths"], size=n_cropped)
    cropped = [image[:n] for image, n in zip(X_test[:n_cropped], lengths, strict=True)]
    together = clf.predict_proba(cropped)
    alone = np.vstack([clf.predict_proba([sequence]) for sequence in cropped])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_array_equal(together.argmax(axis=1), alone.argmax(axis=1))


# --------------------------------------------------------------------------- T4
@pytest.mark.parametrize("random_state", SINE.test["seeds"])
def test_sine_next_window_mse(random_state):
    """T4: 100 Adam steps, one partial_fit per window, the state carried between them; next MSE <= 1e-3."""
    n_windows, n_points = SINE.data["n_windows"], SINE.data["n_points"]
    X, y = make_sine_windows(**SINE.data)
    reg = RNNRegressor(**{**SINE.estimator, "random_state": random_state})
    for k in range(n_windows):
        reg.partial_fit(X[k : k + 1], y[k : k + 1])
    assert len(reg.batch_loss_curve_) == n_windows  # one update per window, as the tutorial's 100 steps
    X_next, y_next = make_sine_windows(1, n_points, start=n_windows)
    h_n = reg.hidden_states(X.reshape(1, -1, 1))[1]
    prediction = reg.predict(X_next, initial_state=h_n)[0]
    assert np.mean((prediction - y_next[0]) ** 2) <= SINE.targets["max_next_mse"]


# --------------------------------------------------------------------------- T5
def _rule_stream_last_pass_loss(lag):
    X, y = make_rule_stream(**{**RULE_STREAM.data, "lag": lag})
    n_epochs = RULE_STREAM.estimator["max_iter"]
    clf = RNNClassifier(**RULE_STREAM.estimator).fit(X, y)
    windows = len(clf.batch_loss_curve_) // n_epochs
    return float(np.mean(clf.batch_loss_curve_[-windows:]))


def test_rule_stream_learned_inside_window():
    """T5: with the rule inside the 5-step window the loss settles at 0.5 ln 2 = 0.347 (+- 0.01)."""
    targets = RULE_STREAM.targets
    loss = _rule_stream_last_pass_loss(lag=RULE_STREAM.data["lag"])
    assert abs(loss - targets["optimal_loss"]) <= targets["tolerance"]


def test_rule_stream_not_learned_beyond_window():
    """T5: with the rule two windows back the loss stays at ln 2 = 0.693 (>= 0.68)."""
    targets = RULE_STREAM.targets
    loss = _rule_stream_last_pass_loss(lag=RULE_STREAM.run["lag_beyond"])
    assert loss >= targets["min_chance_loss"]
    assert loss <= targets["chance_loss"] + targets["tolerance"]


# --------------------------------------------------------------------------- T3, CTC
def test_ctc_digit_strings_label_error_rate():
    """T3's CTC demo: held-out digit strings (unseen images) transcribed with <= 5 % label errors."""
    run = CTC_DIGITS.run
    X, y = make_digit_strings(run["n_train"], **CTC_DIGITS.data, images="train",
                              random_state=run["train_seed"])
    X_test, y_test = make_digit_strings(run["n_test"], **CTC_DIGITS.data, images="test",
                                        random_state=run["test_seed"])
    model = RNNTranscriber(**{**CTC_DIGITS.estimator, "max_iter": CTC_DIGITS.test["max_iter"]}).fit(X, y)
    pred = model.predict(X_test)
    assert all(isinstance(p, str) for p in pred)
    assert label_error_rate(y_test, pred) <= CTC_DIGITS.targets["max_label_error_rate"]
    model.set_params(decoder="beam", beam_width=run["beam_width"])
    assert 1 - model.score(X_test, y_test) <= CTC_DIGITS.targets["max_label_error_rate"]


# --------------------------------------------------------------------------- token inputs
@pytest.mark.parametrize("seed", TOKENS.run["seeds"])
def test_token_sequences_class_weight_raises_balanced_accuracy(seed):
    """Word ids of spelled-out numbers, 1 in 10 starting and ending on the same digit: after 25 epochs,
    class_weight="balanced" raises the held-out balanced accuracy by >= 0.1."""
    from sklearn.metrics import balanced_accuracy_score

    X, y, _ = make_number_words(*TOKENS.run["numbers"])
    assert y.sum() * 9 == len(y) - y.sum()  # 9:1
    i_train, i_test = train_test_split(np.arange(len(X)), **{**TOKENS.data, "random_state": seed}, stratify=y)
    X_train, X_test = [X[i] for i in i_train], [X[i] for i in i_test]
    scores = {}
    for class_weight in (None, "balanced"):
        clf = RNNClassifier(**{**TOKENS.estimator, "random_state": seed}, n_tokens=len(NUMBER_WORDS),
                            class_weight=class_weight).fit(X_train, y[i_train])
        assert clf.coefs_["embedding.weight"].shape == (len(NUMBER_WORDS), TOKENS.estimator["embedding_dim"])
        scores[class_weight] = balanced_accuracy_score(y[i_test], clf.predict(X_test))
    assert scores["balanced"] - scores[None] >= TOKENS.targets["min_gain"], scores

