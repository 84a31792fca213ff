"""RNNTranscriber: scikit-learn conformance, label sequences, decoding, training modes and errors."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, check_cv, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_estimators import EXPECTED_FAILED as _ESTIMATOR_EXPECTED_FAILED

from rnnkit import RNNTranscriber
from rnnkit.ctc import beam_search_decode
from rnnkit.losses import CTCLoss, ctc_loss
from rnnkit.metrics import label_error_rate

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

_LIST_OUTPUT = ("predict returns a list of label sequences of different lengths, which the check stacks "
                "into one array; test_predictions_do_not_depend_on_batch_order_or_company checks the same")
EXPECTED_FAILED = {
    "check_n_features_in": _ESTIMATOR_EXPECTED_FAILED["check_n_features_in"],
    "check_n_features_in_after_fitting": _ESTIMATOR_EXPECTED_FAILED["check_n_features_in_after_fitting"],
    "check_methods_sample_order_invariance": _LIST_OUTPUT,
    "check_methods_subset_invariance": _LIST_OUTPUT,
}


@parametrize_with_checks([RNNTranscriber(max_iter=5)], expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def words_data(n=60, seed=0, alphabet="ab", words=("a", "b", "ab", "ba", "aa", "bb", "")):
    """Each label shows as two frames of its own feature, with frames of a separator feature around."""
    rng = np.random.RandomState(seed)
    sep = len(alphabet)
    y = [words[i % len(words)] for i in range(n)]
    X = []
    for word in y:
        rows = [sep] + [k for ch in word for k in 2 * [alphabet.index(ch)] + [sep]]
        X.append(np.eye(sep + 1)[rows] + 0.05 * rng.normal(size=(len(rows), sep + 1)))
    return X, y


def small(**kw):
    params = dict(cell="gru", hidden_size=12, bidirectional=True, learning_rate_init=0.03, max_iter=60,
                  random_state=0)
    params.update(kw)
    return RNNTranscriber(**params)


@pytest.mark.parametrize("params", [dict(cell="rnn"), dict(cell="lstm"), dict(cell="gru"),
                                    dict(cell="lstm", num_layers=2, peephole=True),
                                    dict(cell="gru", bidirectional=False, max_iter=120)])
def test_every_cell_learns_variable_length_words(params):
    X, y = words_data()
    est = small(**params).fit(X, y)
    assert est.classes_.tolist() == ["a", "b"]
    assert est.score(X, y) >= 0.9
    assert est.loss_curve_[-1] < 0.25 * est.loss_curve_[0]
    pred = est.predict(X)
    assert all(isinstance(p, str) for p in pred)
    assert pred[:7] == list(y[:7])


def test_predictions_do_not_depend_on_batch_order_or_company():
    X, y = words_data(n=21)
    est = small(max_iter=20, dtype="float64").fit(X, y)
    together = est.predict(X)
    order = np.random.RandomState(1).permutation(len(X))
    assert [together[i] for i in order] == est.predict([X[i] for i in order])
    assert together == [est.predict([x])[0] for x in X]
    proba = est.predict_proba(X)
    for x, p in zip(X, proba, strict=True):
        np.testing.assert_allclose(est.predict_proba([x])[0], p, atol=1e-12)


def test_training_loss_is_the_mean_of_nll_per_label():
    """The loss of a batch is the mean over its sequences of -log p / label length (torch's "mean")."""
    X, y = words_data(n=14)
    est = small(max_iter=3, dtype="float64").fit(X, y)
    net, theta = est._net, est._theta
    Xp, lengths, _ = est._validate_X(X, reset=False)
    Y = est._encode_targets(y, lengths, first=False)
    loss, _ = net.loss_and_grad(theta, Xp, lengths, net.targets(Y, theta.dtype))
    logits = net.predict(theta, Xp, lengths)["out"]
    L = Y[:, 0].astype(int)
    nll, _ = ctc_loss(logits, Y[:, 2:].astype(int) + 1, lengths, L)
    assert loss == pytest.approx(np.mean(nll / np.maximum(L, 1)), rel=1e-12)


def test_predict_proba_has_the_blank_first_and_sums_to_one():
    X, y = words_data(n=14)
    est = small(max_iter=30).fit(X, y)
    proba = est.predict_proba(X)
    assert [p.shape for p in proba] == [(len(x), 3) for x in X]
    for p in proba:
        np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    # separator frames are blank frames: column 0 dominates where feature 2 is on
    sep = np.concatenate([p[x.argmax(axis=1) == 2, 0] for p, x in zip(proba, X, strict=True)])
    assert np.mean(sep > 0.5) > 0.8


def test_beam_decoder_is_the_beam_search_of_the_outputs():
    X, y = words_data(n=21)
    est = small(max_iter=10).fit(X, y)
    est.set_params(decoder="beam", beam_width=3)
    logs = [np.log(p) for p in est.predict_proba(X)]
    expect = ["".join(est.classes_[beam_search_decode(lg[None], [len(lg)], beam_width=3)[0] - 1])
              for lg in logs]
    assert est.predict(X) == expect


def test_non_string_labels_and_arrays_of_sequences():
    X, y = words_data(n=28)
    codes = [[10 * (1 + "ab".index(ch)) for ch in word] for word in y]  # labels 10 and 20
    est = small().fit(X, codes)
    assert est.classes_.tolist() == [10, 20]
    pred = est.predict(X)
    assert all(isinstance(p, np.ndarray) and p.dtype.kind == "i" for p in pred)
    assert label_error_rate(codes, pred) < 0.1
    # a 1-D array of labels is one label per sequence; a 2-D array one sequence per row
    X1 = [x for x, word in zip(X, y, strict=True) if len(word) == 1]
    one = [word for word in y if len(word) == 1]
    assert small(max_iter=2).fit(X1, np.array(one)).classes_.tolist() == ["a", "b"]
    X2 = [x for x, word in zip(X, y, strict=True) if len(word) == 2]
    two = np.array([list(word) for word in y if len(word) == 2])
    assert small(max_iter=2).fit(X2, two).score(X2, two) <= 1.0


def test_partial_fit_takes_the_alphabet_first():
    X, y = words_data(n=28, words=("a", "ab"))
    est = small()
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, y)
    est.partial_fit(X, y, classes="abc")
    assert est.classes_.tolist() == ["a", "b", "c"]
    assert est._net.output_size == 4
    first = est.loss_
    for _ in range(20):
        est.partial_fit(X, y)
    assert est.loss_ < first
    with pytest.raises(ValueError, match="not in the alphabet"):
        est.partial_fit(X[:1], ["d"])
    with pytest.raises(ValueError, match="differs from the alphabet"):
        est.partial_fit(X, y, classes="ab")


def test_early_stopping_and_warm_start():
    X, y = words_data(n=60)
    est = small(early_stopping=True, validation_fraction=0.2, max_iter=30).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert max(est.validation_scores_) == est.best_validation_score_ <= 1.0
    warm = small(max_iter=5, warm_start=True).fit(X, y)
    theta = warm._theta.copy()
    warm.fit(X, y)
    assert warm.n_iter_ == 10 and not np.array_equal(theta, warm._theta)


def test_pickle_grid_search_and_cross_val_with_lists():
    X, y = words_data(n=40)
    est = small(max_iter=40).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    assert again.predict(X) == est.predict(X)
    assert not is_classifier(est)
    assert isinstance(check_cv(5, y, classifier=is_classifier(est)), KFold)
    scores = cross_val_score(small(max_iter=15), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores <= 1.0)
    grid = GridSearchCV(small(max_iter=15), {"hidden_size": [4, 12], "decoder": ["greedy", "beam"]}, cv=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"hidden_size", "decoder"}
    assert clone(grid.best_estimator_).get_params()["decoder"] in ("greedy", "beam")


@pytest.mark.parametrize("kw,X,y,match", [
    (dict(bptt_steps=3), None, None, "whole sequences"),
    (dict(stateful=True), None, None, "whole sequences"),
    ({}, [np.zeros((2, 3))], ["aa"], "need at least 3 frames"),
    ({}, [np.zeros((2, 3))], ["abc"], "need at least 3 frames"),
    ({}, [np.zeros((4, 3))] * 2, ["a"], "inconsistent numbers of samples"),
    ({}, [np.zeros((4, 3))], [np.zeros((2, 2))], "not a label sequence"),
    ({}, [np.zeros((4, 3))], "ab", "must be a list of label sequences"),
    ({}, [np.zeros((4, 3))] * 2, [["a"], [1]], "cannot be sorted"),
])
def test_clear_errors(kw, X, y, match):
    if X is None:
        X, y = words_data(n=8)
    with pytest.raises(ValueError, match=match):
        small(max_iter=1, **kw).fit(X, y)


def test_invalid_parameters_and_no_output_parameter():
    X, y = words_data(n=8)
    with pytest.raises(ValueError, match="decoder"):
        small(decoder="viterbi").fit(X, y)
    with pytest.raises(ValueError, match="beam_width"):
        small(beam_width=0).fit(X, y)
    assert "output" not in RNNTranscriber().get_params()
    assert RNNTranscriber().output == "sequence"
    with pytest.raises(ValueError, match="per frame"):
        RNNTranscriber().output = "last"
    assert isinstance(RNNTranscriber._loss, CTCLoss)
