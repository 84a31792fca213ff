"""RNNClassifier and RNNRegressor: thin subclasses of :class:`~rnnkit.estimators._base.BaseRNN`."""

import numpy as np
from scipy.special import log_softmax
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from ..losses import activate
from ._base import BaseRNN, valid_mask
from ._docs import _ATTRS_DOC, _PARAMS_DOC

__all__ = ["RNNClassifier", "RNNRegressor"]

def _unique_inverse(labels):
    """``np.unique(labels, return_inverse=True)``, in linear time for small-range integer labels."""
    if labels.dtype.kind in "iu" and labels.size:
        lo, hi = int(labels.min()), int(labels.max())
        if hi - lo <= 4 * labels.size + 1024:
            shifted = labels - lo if lo else labels
            if hi - lo <= 1:  # the smallest and the largest label occur: no other value to look for
                present = np.ones(hi - lo + 1, dtype=bool)
            else:
                present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            if lo == 0 and present.all():  # the labels are 0..K-1, each present: their own codes
                return np.arange(hi + 1, dtype=labels.dtype), labels
            table = np.cumsum(present) - 1
            return np.flatnonzero(present) + lo, table[shifted]
    return np.unique(labels, return_inverse=True)


def _mixed_labels_message(labels, name="y"):
    kinds = sorted({type(v).__name__ for v in np.ravel(labels).tolist()})
    return (f"{name} mixes labels of types {kinds}, which cannot be sorted into classes; use labels of one "
            "type (e.g. y.astype(str))")


def _unique_classes(classes):
    """``np.unique(classes)``, with a message naming the problem when the labels' types cannot be sorted."""
    classes = np.asarray(classes)
    try:
        return np.unique(classes)
    except TypeError:
        raise TypeError(_mixed_labels_message(classes, "classes")) from None


class RNNClassifier(ClassifierMixin, BaseRNN):
    __doc__ = (
        """Recurrent neural network classifier trained by backpropagation through time.

    Classifies whole sequences (``output="last"``) or every time step
    (``output="sequence"``) with a softmax head and cross-entropy loss.
    Sequences may be a 2-D array (univariate), a 3-D array, or a list of
    arrays of different lengths.
"""
        + _PARAMS_DOC
        + """
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in scikit-learn's ``LogisticRegression``
        and Keras: ``{label: weight}`` (labels left out weigh 1), or
        ``"balanced"``, ``n_items / (n_classes * count of the class)`` over
        the items of the data given to ``fit`` (sequences with
        ``output="last"``, valid steps with ``output="sequence"``). Multiplied
        with ``sample_weight``. Not available as ``"balanced"`` in
        ``partial_fit``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
"""
        + _ATTRS_DOC
        + """
    See Also
    --------
    RNNRegressor : The same network with a linear head and squared error.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 5, 2))
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    >>> clf = RNNClassifier(cell="gru", hidden_size=8, learning_rate_init=0.02,
    ...                     max_iter=150, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """
    )

    _parameter_constraints: dict = {
        **BaseRNN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _loss = "cross_entropy"
    score = BaseRNN.score  # over valid steps with per-step output (not ClassifierMixin's)

    def __init__(
        self,
        cell="lstm",
        *,
        hidden_size=32,
        num_layers=1,
        nonlinearity="tanh",
        bidirectional=False,
        peephole=False,
        layer_norm=False,
        dropout=0.0,
        bias=True,
        forget_bias=1.0,
        output="last",
        solver="adam",
        learning_rate_init=0.001,
        learning_rate="constant",
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        rho=0.9,
        epsilon=1e-8,
        alpha=0.0001,
        clip_grad_norm=None,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        bptt_steps=None,
        stateful=False,
        warm_start=False,
        random_state=None,
        verbose=0,
        device="cpu",
        dtype="float32",
        embedding_dim=None,
        n_tokens=None,
        class_weight=None,
    ):
        super().__init__(
            cell, hidden_size=hidden_size, num_layers=num_layers, nonlinearity=nonlinearity,
            bidirectional=bidirectional, peephole=peephole, layer_norm=layer_norm, dropout=dropout, bias=bias,
            forget_bias=forget_bias, output=output, solver=solver, learning_rate_init=learning_rate_init,
            learning_rate=learning_rate, power_t=power_t, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, beta_1=beta_1, beta_2=beta_2, rho=rho, epsilon=epsilon,
            alpha=alpha, clip_grad_norm=clip_grad_norm, batch_size=batch_size, max_iter=max_iter,
            shuffle=shuffle, tol=tol, n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
            validation_fraction=validation_fraction, bptt_steps=bptt_steps, stateful=stateful,
            warm_start=warm_start, random_state=random_state, verbose=verbose, device=device, dtype=dtype,
            embedding_dim=embedding_dim, n_tokens=n_tokens)
        self.class_weight = class_weight

    def _item_weights(self, Y, lengths, sample_weight, incremental):
        """``sample_weight`` times ``class_weight`` of each item's class (per sequence or per step)."""
        weights = super()._item_weights(Y, lengths, sample_weight, incremental)
        if self.class_weight is None:
            return weights
        if self.class_weight == "balanced" and incremental:
            raise ValueError("class_weight='balanced' is not available in partial_fit, which sees one chunk "
                             "of the data: compute the weights once with sklearn.utils.class_weight."
                             "compute_class_weight('balanced', classes=classes, y=y) and pass them as a dict")
        mask = valid_mask(lengths, Y.shape[1]) if Y.ndim == 2 else np.ones(len(Y), bool)
        per_class = compute_class_weight(self.class_weight, classes=np.arange(len(self.classes_)),
                                         y=Y[mask]) if self.class_weight == "balanced" else np.array(
            [self.class_weight.get(c, 1.0) for c in self.classes_.tolist()], dtype=np.float64)
        item = per_class[Y]
        return item if weights is None else item * (weights[:, None] if Y.ndim == 2 else weights)

    def _n_outputs(self):
        return len(self.classes_)

    def _encode_targets(self, y, lengths, first, classes=None):
        if self.output == "last":
            self._check_n_samples(y, len(lengths))
            labels = column_or_1d(y, warn=True)
        else:
            Y, mask = self._step_targets(y, lengths)
            if Y.ndim != 2:
                raise ValueError(f"y has per-step targets of shape {Y.shape[2:]}; per-step class labels "
                                 "are one label per time step")
            labels = Y.reshape(-1) if mask.all() else Y[mask]
        if not first and classes is not None and not np.array_equal(self.classes_, _unique_classes(classes)):
            raise ValueError(f"classes={list(_unique_classes(classes))} differs from the classes of the "
                             f"first call to partial_fit, {list(self.classes_)}")
        known = self.classes_ if not first else None if classes is None else _unique_classes(classes)
        if (known is not None and known.dtype.kind in "iu" and labels.dtype.kind in "iu" and labels.size
                and known[0] == 0 and known[-1] == len(known) - 1
                and labels.min() >= 0 and labels.max() < len(known)):
            # classes 0..K-1 (sorted and unique, so exactly arange(K)): labels are their own codes;
            # this keeps every partial_fit of a long stream cheap
            self.classes_ = known
            codes = labels.astype(np.int64, copy=False)
        else:
            codes = self._encode_generic(labels, first, classes)
        if self.output == "last":
            return codes
        if mask.all():
            return codes.reshape(mask.shape)
        padded = np.zeros(mask.shape, dtype=codes.dtype)
        padded[mask] = codes
        return padded

    def _encode_generic(self, labels, first, classes):
        # one pass of np.unique serves the checks and the encoding
        try:
            uniq, inverse = _unique_inverse(labels)
        except TypeError:  # np.unique sorts: labels of several types (1 and "a") cannot be
            raise TypeError(_mixed_labels_message(labels)) from None
        if uniq.dtype.kind not in "iub":  # integer labels are always valid classes
            check_classification_targets(uniq)
        if first:
            self.classes_ = uniq if classes is None else _unique_classes(classes)
        pos = np.searchsorted(self.classes_, uniq)
        seen = (pos < len(self.classes_)) & (self.classes_[np.minimum(pos, len(self.classes_) - 1)] == uniq)
        if not seen.all():
            raise ValueError(f"y contains labels {uniq[~seen].tolist()} not in classes_ "
                             f"{self.classes_.tolist()}; pass every label with classes= on the first call to "
                             "partial_fit")
        if pos.shape[0] == self.classes_.shape[0]:  # every class seen: pos is 0..K-1
            # no copy: the codes are only read (as on partial_fit's path above), so labels that are
            # their own int64 codes stay a view of the caller's y (the copy took 30-40 us of a 4.5 ms T5 fit)
            return inverse.reshape(-1).astype(np.int64, copy=False)
        return pos[inverse.reshape(-1)]

    def _predict_from_out(self, out, lengths):
        return self.classes_[out.argmax(axis=-1)]

    def _metric(self, y_true, y_pred):
        try:
            return accuracy_score(y_true, y_pred)
        except TypeError:  # scikit-learn sorts the union of the labels
            raise TypeError(_mixed_labels_message(np.concatenate([np.ravel(y_true).astype(object),
                                                                  self.classes_.astype(object)]))) from None

    def _score_outputs(self, out, Y, lengths):
        hit = out.argmax(axis=-1) == Y
        return hit.mean() if self.output == "last" else hit[valid_mask(lengths, Y.shape[1])].mean()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch over ``X``, ``y`` (continuing any previous training).

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like or list of array-like
            Targets, as for :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every label that will ever appear; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence (of each of its steps with per-step
            output): the loss is the weighted mean, and a zero weight is the
            same as leaving the sequence out. None: every sequence weighs 1.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if not hasattr(self, "_theta") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X, initial_state=None):
        """Class probabilities of each sequence or each valid step.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        initial_state : ndarray or tuple, default=None
            States to start from (zeros when None), see :meth:`predict`.

        Returns
        -------
        proba : ndarray or list of ndarray
            (n_samples, n_classes) with ``output="last"``; (n_samples,
            n_timesteps, n_classes) or a list of (n_timesteps_i, n_classes)
            arrays with ``output="sequence"``. Columns follow ``classes_``.
        """
        res, lengths, is_list = self._forward(X, initial_state=initial_state)
        return self._format_steps(activate("cross_entropy", res["out"]), lengths, is_list)

    def predict_log_proba(self, X, initial_state=None):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        initial_state : ndarray or tuple, default=None
            States to start from (zeros when None), see :meth:`predict`.

        Returns
        -------
        log_proba : ndarray or list of ndarray
            Same shapes as :meth:`predict_proba`.
        """
        res, lengths, is_list = self._forward(X, initial_state=initial_state)
        return self._format_steps(log_softmax(res["out"], axis=-1), lengths, is_list)


class RNNRegressor(RegressorMixin, BaseRNN):
    __doc__ = (
        """Recurrent neural network regressor trained by backpropagation through time.

    Predicts one value (or vector) per sequence (``output="last"``) or per
    time step (``output="sequence"``) with a linear head and squared error
    (half the mean squared error, as scikit-learn's ``MLPRegressor``).
"""
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    n_outputs_ : int
        Outputs per prediction.
"""
        + _ATTRS_DOC
        + """
    See Also
    --------
    RNNClassifier : The same network with a softmax head.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import RNNRegressor
    >>> t = np.linspace(0, 4 * np.pi, 41)
    >>> X = np.sin(t[:-1])[None, :, None]          # one sequence of 40 steps
    >>> y = np.sin(t[1:])[None, :, None]           # the next value at each step
    >>> reg = RNNRegressor(cell="rnn", hidden_size=16, output="sequence", learning_rate_init=0.01,
    ...                    max_iter=300, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.95
    True
    """
    )

    _loss = "squared_error"
    score = BaseRNN.score  # over valid steps with per-step output (not RegressorMixin's)

    def _n_outputs(self):
        return self.n_outputs_

    def _encode_targets(self, y, lengths, first, classes=None):
        dt = np.dtype(self.dtype)
        if self.output == "last":
            self._check_n_samples(y, len(lengths))
            y = check_array(y, ensure_2d=False, dtype=dt, input_name="y", ensure_min_samples=1)
            if y.ndim > 2:
                raise ValueError(f"y has {y.ndim} dimensions; with output='last' targets are (n_samples,) "
                                 "or (n_samples, n_outputs)")
            one_d = y.ndim == 1
            Y = y.reshape(len(lengths), -1)
        else:
            Y, mask = self._step_targets(y, lengths)
            if Y.ndim > 3:
                raise ValueError(f"y has per-step targets of shape {Y.shape[2:]}; expected a value or a "
                                 "vector (n_outputs,) per step")
            one_d = Y.ndim == 2
            Y = np.ascontiguousarray(Y.reshape(*mask.shape, -1), dtype=dt)
        n_out = Y.shape[-1]
        if first:
            self.n_outputs_ = n_out
            self._y_one_d = one_d
        elif n_out != self.n_outputs_:
            raise ValueError(f"y has {n_out} outputs but the estimator was fitted with {self.n_outputs_}")
        return Y

    def _predict_from_out(self, out, lengths):
        return out[..., 0] if self._y_one_d else out

    def _metric(self, y_true, y_pred):
        return r2_score(y_true, y_pred)

    def _score_outputs(self, out, Y, lengths):
        if self.output == "last":
            return r2_score(Y, out)
        mask = valid_mask(lengths, Y.shape[1])
        return r2_score(Y[mask], out[mask])

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch over ``X``, ``y`` (continuing any previous training).

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like or list of array-like
            Targets, as for :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence (of each of its steps with per-step
            output): the loss is the weighted mean, and a zero weight is the
            same as leaving the sequence out. None: every sequence weighs 1.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
