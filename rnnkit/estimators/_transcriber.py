"""RNNTranscriber: label sequences from unsegmented inputs, trained with CTC."""

import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from ..ctc import beam_search_decode, greedy_decode
from ..losses import CTCLoss, activate
from ..metrics import label_error_rate
from ._base import BaseRNN
from ._docs import _ATTRS_DOC, _MODEL_DOC, _TRAINING_DOC

__all__ = ["RNNTranscriber"]


def _required_frames(seq):
    """Frames a CTC alignment of ``seq`` needs: one per label and one blank between equal neighbours."""
    return len(seq) + sum(1 for a, b in zip(seq[:-1], seq[1:], strict=True) if a == b)


_WHOLE_SEQUENCES_DOC = """    bptt_steps : None, default=None
        Must stay None: CTC aligns each label sequence with its whole input
        (kept for the shared interface; a value makes ``fit`` raise).
    stateful : False, default=False
        Must stay False, for the same reason.
"""


class RNNTranscriber(BaseRNN):
    __doc__ = (
        """Recurrent network that transcribes sequences into label sequences, trained with CTC.

    Connectionist temporal classification (Graves et al., 2006; see
    :mod:`rnnkit.ctc`): the network emits, at every frame, a distribution
    over a *blank* and the labels, and learns from pairs of an input sequence
    and its label sequence, with no alignment between the two (speech to
    characters, handwriting to text, a row of digits to the digit string).
    Predictions collapse the per-frame outputs: greedy (best path) or prefix
    beam search.

    Output column 0 of the head is the blank and column ``j + 1`` is
    ``classes_[j]`` (Keras and TensorFlow put the blank last instead); the
    blank is never a class. The training loss is the mean over each batch of
    every sequence's negative log-likelihood divided by its label length
    (PyTorch's ``CTCLoss(reduction="mean")``).
"""
        + _MODEL_DOC
        + _TRAINING_DOC[:_TRAINING_DOC.index("    bptt_steps")]
        + _WHOLE_SEQUENCES_DOC
        + _TRAINING_DOC[_TRAINING_DOC.index("    warm_start"):]
        + """    decoder : {"greedy", "beam"}, default="greedy"
        How :meth:`predict` (and :meth:`score`) turn per-frame outputs into
        labels: best path, or prefix beam search (:func:`rnnkit.ctc.beam_search_decode`).
    beam_width : int, default=10
        Prefixes kept by the beam search.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The label alphabet (sorted); output column ``j + 1`` is ``classes_[j]``.
"""
        + _ATTRS_DOC
        + """
    See Also
    --------
    rnnkit.ctc.ctc_loss : The loss and its gradient.
    RNNClassifier : One label per sequence or per step.

    Notes
    -----
    The estimator is not a scikit-learn classifier: its targets are
    sequences, so cross-validation splits with ``KFold`` (as
    ``cross_val_score`` does by default for it), never stratified.

    Examples
    --------
    Each label ("a" or "b") shows as two frames of its own feature, with
    frames of a third feature between labels:

    >>> import numpy as np
    >>> from rnnkit import RNNTranscriber
    >>> rng = np.random.RandomState(0)
    >>> def frames(word):
    ...     rows = [2] + [k for ch in word for k in 2 * ["ab".index(ch)] + [2]]
    ...     return np.eye(3)[rows] + 0.05 * rng.normal(size=(len(rows), 3))
    >>> y = [["a", "b", "ab", "ba", "aa", "bb"][i % 6] for i in range(60)]
    >>> X = [frames(word) for word in y]
    >>> est = RNNTranscriber(cell="gru", hidden_size=16, bidirectional=True, learning_rate_init=0.02,
    ...                      max_iter=100, random_state=0).fit(X, y)
    >>> est.predict(X[:3])
    ['a', 'b', 'ab']
    >>> est.score(X, y)
    1.0
    """
    )

    _parameter_constraints: dict = {
        **{k: v for k, v in BaseRNN._parameter_constraints.items() if k != "output"},
        "decoder": [StrOptions({"greedy", "beam"})],
        "beam_width": [Interval(numbers.Integral, 1, None, closed="left")],
    }
    _loss = CTCLoss()

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
        decoder="greedy",
        beam_width=10,
    ):
        super().__init__(
            cell, hidden_size=hidden_size, num_layers=num_layers, nonlinearity=nonlinearity,
            bidirectional=bidirectional, peephole=peephole, layer_norm=layer_norm, dropout=dropout, bias=bias,
            forget_bias=forget_bias, output="sequence", solver=solver, learning_rate_init=learning_rate_init,
            learning_rate=learning_rate, power_t=power_t,
            momentum=momentum, nesterovs_momentum=nesterovs_momentum, beta_1=beta_1, beta_2=beta_2, rho=rho,
            epsilon=epsilon, alpha=alpha, clip_grad_norm=clip_grad_norm, batch_size=batch_size,
            max_iter=max_iter, shuffle=shuffle, tol=tol, n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping, validation_fraction=validation_fraction, bptt_steps=bptt_steps,
            stateful=stateful, warm_start=warm_start, random_state=random_state, verbose=verbose,
            device=device, dtype=dtype,
            embedding_dim=embedding_dim, n_tokens=n_tokens)
        self.decoder = decoder
        self.beam_width = beam_width

    # the head emits one distribution per frame: ``output`` is not a parameter here
    @property
    def output(self):
        """Always ``"sequence"``: the head emits a distribution at every frame."""
        return "sequence"

    @output.setter
    def output(self, value):
        if value != "sequence":
            raise ValueError(f"RNNTranscriber's head is per frame; output={value!r} is not available")

    # ------------------------------------------------------------------ targets
    @staticmethod
    def _sequences(y, name="y"):
        """Label sequences as lists, and whether they were all strings."""
        if hasattr(y, "__array__") and not isinstance(y, np.ndarray):  # array-likes (pandas, xarray...)
            y = np.asarray(y)
        if isinstance(y, str) or not hasattr(y, "__len__"):
            raise ValueError(f"{name} must be a list of label sequences (strings, lists or 1-D arrays); got "
                             f"{type(y).__name__}")
        seqs, strings = [], True
        for i, s in enumerate(y):
            if isinstance(s, str):
                seqs.append(list(s))
                continue
            strings = False
            a = np.asarray(s, dtype=object) if not isinstance(s, np.ndarray) else s
            if a.ndim == 0:  # a single label: a sequence of one
                a = a.reshape(1)
            if a.ndim != 1:
                raise ValueError(f"{name}[{i}] is not a label sequence (a string, a list or a 1-D array): "
                                 f"shape {a.shape}")
            seqs.append(a.tolist())
        return seqs, strings and len(seqs) > 0

    def _alphabet(self, labels):
        try:
            return np.asarray(sorted(set(labels)))
        except TypeError as exc:
            raise ValueError(f"the labels cannot be sorted into an alphabet ({exc})") from None

    def _encode_targets(self, y, lengths, first, classes=None):
        if y is None:
            self._check_n_samples(y, len(lengths))
        seqs, strings = self._sequences(y)
        self._check_n_samples(seqs, len(lengths))
        if classes is not None:
            known = self._alphabet(list(classes))  # a string stands for its characters
            if not first and not np.array_equal(known, self.classes_):
                raise ValueError(f"classes={known.tolist()} differs from the alphabet of the first call to "
                                 f"partial_fit, {self.classes_.tolist()}")
        if first:
            self.classes_ = known if classes is not None else self._alphabet(
                [label for s in seqs for label in s])
            self._y_str = strings
        index = {label: j for j, label in enumerate(self.classes_.tolist())}
        codes = []
        for i, s in enumerate(seqs):
            try:
                codes.append([index[label] for label in s])
            except KeyError as exc:
                raise ValueError(f"y[{i}] holds the label {exc.args[0]!r}, not in the alphabet classes_ "
                                 f"{self.classes_.tolist()}; pass every label with classes= on the first "
                                 "call to partial_fit") from None
            need = _required_frames(codes[-1])
            if need > lengths[i]:
                raise ValueError(f"y[{i}] has {len(s)} labels, which need at least {need} frames (a blank "
                                 f"between repeated labels), but X[{i}] has {lengths[i]}")
        return CTCLoss.pack(codes)

    def _n_outputs(self):
        return len(self.classes_) + 1

    def _targets(self, Y, dtype, weights):
        if weights is not None:
            Y = Y.copy()
            Y[:, 1] = weights
        return self._net.targets(Y, dtype)

    # ------------------------------------------------------------------ training
    def _fit(self, X, y, incremental=False, classes=None, sample_weight=None):
        if self.bptt_steps is not None or self.stateful:
            raise ValueError("RNNTranscriber needs whole sequences (CTC aligns each label sequence with its "
                             "entire input): leave bptt_steps=None and stateful=False")
        return super()._fit(X, y, incremental, classes, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` and their label sequences ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features]), or list of array-like \
of shape (n_timesteps_i, n_features)
            Input sequences (a list for different lengths).
        y : list of str, list or 1-D array
            The label sequence of each input: a string (each character a
            label) or a sequence of hashable, sortable labels (a single label
            stands for a sequence of one: a 1-D array of labels gives
            one-label sequences, a 2-D array one sequence per row). A sequence of
            ``L`` labels with ``r`` adjacent repeats needs at least ``L + r``
            frames. An empty sequence is allowed.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence: the loss is the weighted mean, and a
            zero weight is the same as leaving the sequence out.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch over ``X``, ``y`` (continuing any previous training).

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : list of str, list or 1-D array
            Label sequences, as for :meth:`fit`.
        classes : str or array-like, default=None
            The label alphabet: every label that will ever appear (a string
            stands for its characters). Required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence: the loss is the weighted mean, and a
            zero weight is the same as leaving the sequence out.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if not hasattr(self, "_theta") and classes is None:
            raise ValueError("classes (the label alphabet) must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    # ------------------------------------------------------------------ predictions
    def _decode(self, out, lengths):
        """Label codes of raw per-frame outputs, by ``decoder``; code ``j`` is ``classes_[j]``."""
        if self.decoder == "beam":
            paths = beam_search_decode(out, lengths, beam_width=self.beam_width)
        else:
            paths = greedy_decode(out, lengths)
        return [p - 1 for p in paths]

    def _labels(self, codes):
        if self._y_str:
            return ["".join(self.classes_[c].tolist()) for c in codes]
        return [self.classes_[c] for c in codes]

    def _predict_from_out(self, out, lengths):
        return self._labels(self._decode(out, lengths))

    def _format_steps(self, values, lengths, is_list):
        return values

    def predict(self, X, initial_state=None):
        """Transcribe each sequence.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        initial_state : ndarray or tuple, default=None
            States to start from (zeros when None), as for
            :meth:`RNNClassifier.predict`.

        Returns
        -------
        y : list
            One label sequence per input: a string when the estimator was
            fitted on strings, else a 1-D array of labels from ``classes_``.
        """
        return super().predict(X, initial_state=initial_state)

    def predict_proba(self, X, initial_state=None):
        """Per-frame probabilities over the blank and the labels, e.g. to plot an alignment.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        initial_state : ndarray or tuple, default=None
            States to start from (zeros when None), as for
            :meth:`RNNClassifier.predict`.

        Returns
        -------
        list of ndarray of shape (n_timesteps_i, n_classes + 1)
            Column 0 is the blank, column ``j + 1`` is ``classes_[j]``; rows
            are the valid frames of each sequence.
        """
        res, lengths, _ = self._forward(X, initial_state=initial_state)
        proba = activate(self._loss, res["out"])
        return [proba[n, :lengths[n]] for n in range(len(lengths))]

    def _metric(self, y_true, y_pred):
        return 1.0 - label_error_rate(y_true, y_pred)

    def score(self, X, y):
        """One minus the label error rate of the transcriptions of ``X`` (see :meth:`predict`).

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : list of str, list or 1-D array
            True label sequences.

        Returns
        -------
        score : float
            ``1 - label_error_rate(y, predict(X))``: 1 for perfect
            transcriptions; negative when the predictions insert more labels
            than the references hold.
        """
        pred = self.predict(X)
        self._check_n_samples(y, len(pred))
        true, _ = self._sequences(y)
        return float(self._metric(true, [list(p) for p in pred]))

    def _score_outputs(self, out, Y, lengths):
        true = [Y[n, 2:2 + int(Y[n, 0])].astype(np.int64).tolist() for n in range(len(Y))]
        return self._metric(true, [c.tolist() for c in self._decode(out, lengths)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.one_d_labels = False
        return tags
