"""RNNClassifier and RNNRegressor: thin subclasses of :class:`~rnnkit.estimators._base.BaseRNN`."""

import numpy as np
from scipy.special import log_softmax
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from ..losses import activate
from ._base import BaseRNN, valid_mask

__all__ = ["RNNClassifier", "RNNRegressor"]

_MODEL_DOC = """
    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="lstm"
        Recurrent cell family (PyTorch's formulations).
    hidden_size : int, default=32
        Units of each layer's state.
    num_layers : int, default=1
        Stacked recurrent layers; layer k+1 reads layer k's per-step outputs.
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of the ``"rnn"`` cell.
    bidirectional : bool, default=False
        Add a reverse direction to each layer.
    peephole : bool, default=False
        Peephole connections from the cell state to the gates (``"lstm"``).
    layer_norm : bool, default=False
        Layer-normalised cell (``"gru"``, ``"lstm"``).
    dropout : float, default=0.0
        Inverted-dropout rate between layers and on the features fed to the
        head during training (never on the recurrent path).
    bias : bool, default=True
        Whether the recurrent layers and the head have biases.
    forget_bias : float or None, default=1.0
        Initial forget-gate bias of ``"lstm"`` cells (Keras' and
        TensorFlow's ``forget_bias``); None keeps PyTorch's initialisation.
"""

_OUTPUT_DOC = """    output : {"last", "sequence"}, default="last"
        ``"last"``: one target per sequence, read from the sequence's last
        valid step; ``"sequence"``: one target per valid time step.
"""

_TRAINING_DOC = """    solver : {"sgd", "adagrad", "rmsprop", "adam"}, default="adam"
        Optimizer (see :mod:`rnnkit.optim`).
    learning_rate_init : float, default=0.001
        Step size.
    momentum : float, default=0.9
        Momentum of ``"sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``"sgd"`` (when ``momentum > 0``).
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    rho : float, default=0.9
        RMSprop's decay rate.
    epsilon : float, default=1e-8
        Added to the denominator of the adaptive solvers.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weight matrices; as in scikit-learn's
        MLP it is divided by the batch size (each update's gradient gets
        ``alpha / batch_size * W``).
    clip_grad_norm : float or None, default=None
        Clip each update's gradient to this global L2 norm.
    batch_size : int or "auto", default="auto"
        Sequences per mini-batch; ``"auto"`` is ``min(32, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs (passes over the data).
    shuffle : bool, default=True
        Shuffle the sequences every epoch (ignored when ``stateful``).
    tol : float, default=1e-4
        Minimum improvement of the training loss (or validation score) that
        resets the no-improvement counter.
    n_iter_no_change : int, default=10
        Stop after this many epochs without an improvement of ``tol``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sequences, stop when their
        score stops improving and keep the best weights.
    validation_fraction : float, default=0.1
        Share of sequences held out for early stopping.
    bptt_steps : int or None, default=None
        Truncated backpropagation through time: train on windows of this many
        steps (one update per window); None = the whole sequence.
    stateful : bool, default=False
        With ``bptt_steps``, each row's final state is the initial state of
        its next window (gradients do not cross windows); rows keep their
        order (no shuffling) and states reset at every epoch. This is the
        streaming setting of the echo and rule-stream tutorials.
    warm_start : bool, default=False
        Continue from the previous ``fit``'s weights and optimizer state.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, early-stopping split and dropout:
        the same integer gives bit-identical weights on the CPU.
    verbose : int, default=0
        ``1``: a progress bar over epochs with the current loss; ``2``: also
        one line per epoch.
    device : {"cpu", "auto"}, default="cpu"
        Where the kernels run ("auto" is the CPU in this version).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and the computation. float32 is the fast
        default; float64 uses exact transcendental functions.
"""

_PARAMS_DOC = _MODEL_DOC + _OUTPUT_DOC + _TRAINING_DOC

_ATTRS_DOC = """
    n_features_in_ : int
        Features per time step seen during fit.
    loss_ : float
        Mean training loss of the last epoch (without the L2 term).
    best_loss_ : float
        Lowest ``loss_`` so far.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    batch_loss_curve_ : list of float
        Mean loss of each update (mini-batch or truncated-BPTT window).
    validation_scores_ : list of float or None
        Validation score of each epoch under ``early_stopping``.
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    n_iter_ : int
        Epochs run.
    t_ : int
        Training sequences seen.
    coefs_ : dict of str to ndarray
        Weights with PyTorch's names, shapes and gate order.
"""


def _unique_inverse(labels):
    """``np.unique(labels, return_inverse=True)``, in linear time for small-range integer labels."""
    if labels.dtype.kind in "iu" and labels.size:
        lo, hi = int(labels.min()), int(labels.max())
        if hi - lo <= 4 * labels.size + 1024:
            shifted = labels - lo
            present = np.bincount(shifted, minlength=hi - lo + 1) > 0
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

    _loss = "cross_entropy"
    score = BaseRNN.score  # over valid steps with per-step output (not ClassifierMixin's)

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
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch over ``X``, ``y`` (continuing any previous training).

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like or list of array-like
            Targets, as for :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every label that will ever appear; required on the first call.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if not hasattr(self, "_theta") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes)

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
    def partial_fit(self, X, y):
        """Train for one epoch over ``X``, ``y`` (continuing any previous training).

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like or list of array-like
            Targets, as for :meth:`fit`.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
