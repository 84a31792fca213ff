"""The shared scikit-learn face of rnnkit's recurrent estimators.

:class:`BaseRNN` owns the parameters, input validation and the training loop
(one ``_fit(X, y, incremental)`` serves ``fit`` and ``partial_fit``, as in
scikit-learn's MLP). Subclasses only say how targets are encoded, which loss
the head uses and how outputs become predictions and scores.
"""

import numbers
import warnings
from abc import ABC, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ..cells import CELLS, NONLINEARITIES
from ..network import Network
from ..optim import Optimizer
from ..sequences import check_sequences, check_step_targets, check_tokens, unpad
from ._interop import TorchInteropMixin
from ._progress import ProgressMixin
from ._streams import StreamStateMixin

__all__ = ["BaseRNN"]


class BaseRNN(ProgressMixin, StreamStateMixin, TorchInteropMixin, BaseEstimator, ABC):
    """Base class of rnnkit's estimators (:class:`~rnnkit.RNNClassifier`, ...).

    Not meant to be used directly; see the subclasses for the parameters.
    """

    def _validate_params(self):
        # scikit-learn checks every parameter against its constraints at every fit (about 0.15 ms,
        # most of a small model's fixed cost); parameters that are all plain scalars (their types
        # part of the key: 1 and True differ) are checked again only when one of them changed
        params = self.get_params(deep=False)
        key = tuple((k, type(v), v) for k, v in params.items())
        if not all(isinstance(v, (str, int, float, type(None))) for v in params.values()):
            key = None
        if key is None or self.__dict__.get("_params_checked") != key:
            super()._validate_params()
            self._params_checked = key

    @classmethod
    def _get_param_names(cls):
        # scikit-learn reads ``__init__``'s signature again at every ``get_params`` (so at every ``fit``,
        # which validates the parameters); a class's signature does not change: read once per class
        names = cls.__dict__.get("_param_names_cache")
        if names is None:
            names = tuple(super()._get_param_names())
            cls._param_names_cache = names
        return list(names)

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(CELLS))],
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "nonlinearity": [StrOptions(set(NONLINEARITIES))],
        "bidirectional": ["boolean"],
        "peephole": ["boolean"],
        "layer_norm": ["boolean"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "bias": ["boolean"],
        "forget_bias": [Interval(numbers.Real, None, None, closed="neither"), None],
        "output": [StrOptions({"last", "sequence"})],
        "solver": [StrOptions({"sgd", "adagrad", "rmsprop", "adam"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "rho": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "clip_grad_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "bptt_steps": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "stateful": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "dtype": [StrOptions({"float32", "float64"})],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_tokens": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

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
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.nonlinearity = nonlinearity
        self.bidirectional = bidirectional
        self.peephole = peephole
        self.layer_norm = layer_norm
        self.dropout = dropout
        self.bias = bias
        self.forget_bias = forget_bias
        self.output = output
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.rho = rho
        self.epsilon = epsilon
        self.alpha = alpha
        self.clip_grad_norm = clip_grad_norm
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.bptt_steps = bptt_steps
        self.stateful = stateful
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.dtype = dtype
        self.embedding_dim = embedding_dim
        self.n_tokens = n_tokens

    # ------------------------------------------------------------------ subclass hooks
    _loss: str

    @abstractmethod
    def _encode_targets(self, y, lengths, first, classes=None):
        """Targets as the padded array the network reads: (N,) / (N, K) / (N, T) / (N, T, K)."""

    @abstractmethod
    def _score_outputs(self, out, Y, lengths):
        """Score of raw head outputs against encoded targets (validation score)."""

    @abstractmethod
    def _n_outputs(self):
        """Number of outputs of the dense head."""

    # ------------------------------------------------------------------ validation
    def _validate_X(self, X, reset):
        X, lengths, is_list = check_sequences(X, dtype=np.dtype(self.dtype))
        if self.embedding_dim is not None:  # token ids (the network checks nothing: ids index its table)
            n = check_tokens(X, lengths, self.n_tokens if reset else self.n_tokens_)
            self.n_tokens_ = n if reset else self.n_tokens_
        n_features = X.shape[2]
        if reset:
            self.n_features_in_ = n_features
        elif n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features per time step, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input (it was fitted with "
                             f"{self.n_features_in_})")
        return X, lengths, is_list

    def _check_n_samples(self, y, n):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        n_y = len(y) if isinstance(y, (list, tuple)) else len(np.asarray(y)) if np.asarray(y).ndim else 0
        if n_y != n:
            raise ValueError(f"X and y have inconsistent numbers of samples: X has {n} sequences, y has "
                             f"{n_y}")

    def _step_targets(self, y, lengths):
        """Per-step targets, padded to (N, T[, K]), with the valid-step mask."""
        self._check_n_samples(y, len(lengths))
        Y = check_step_targets(y, lengths)
        mask = valid_mask(lengths, Y.shape[1])
        if Y.dtype.kind in "fc" and not np.isfinite(Y[mask]).all():
            raise ValueError("y contains NaN or infinity")
        return Y, mask

    # ------------------------------------------------------------------ network
    def _make_network(self):
        """The network a new fit trains: the previous fit's when its description is the same, else a new one.

        Reusing it keeps what it holds between calls (its scratch memory, its
        decay mask in the weights' dtype): a new network's first epoch
        allocates and touches them again (LSTM-512, 1.1 million weights:
        about 4 ms of set-up and the page faults of tens of MB of scratch).
        """
        args = dict(
            cell=self.cell,
            input_size=self.n_features_in_ if self.embedding_dim is None else self.embedding_dim,
            n_tokens=0 if self.embedding_dim is None else self.n_tokens_, hidden_size=self.hidden_size,
            output_size=self._n_outputs(), nonlinearity=self.nonlinearity, bias=self.bias,
            loss=self._loss, output=self.output,
            forget_bias=self.forget_bias,
            num_layers=self.num_layers, bidirectional=self.bidirectional, peephole=self.peephole,
            layer_norm=self.layer_norm, dropout=self.dropout, device=self.device,
        )
        net = self.__dict__.get("_net")
        if net is not None and self.__dict__.get("_net_args") == args:
            return net
        net = Network(**args)
        self._net_args = args
        return net

    def _make_optimizer(self):
        return Optimizer(
            self.solver, learning_rate=self.learning_rate_init, momentum=self.momentum,
            nesterov=self.nesterovs_momentum, beta_1=self.beta_1, beta_2=self.beta_2, rho=self.rho,
            epsilon=self.epsilon, alpha=self.alpha, clip_grad_norm=self.clip_grad_norm, device=self.device,
        )

    @property
    def coefs_(self):
        """dict of str to ndarray: the fitted weights, with PyTorch's names, shapes and gate order.

        ``weight_ih_l{k}[_reverse]`` (G*H, input), ``weight_hh_l{k}[_reverse]``
        (G*H, H), ``bias_ih_*``, ``bias_hh_*``, then the dense head
        ``weight_out`` (n_outputs, D*H) and ``bias_out``; see
        :class:`rnnkit.network.Network` for the extras (peephole, layer norm).
        Copies: changing them does not change the model.
        """
        check_is_fitted(self, "_theta")
        return {name: np.array(value) for name, value in self._net.coefs(self._theta).items()}

    # ------------------------------------------------------------------ training loop
    def _item_weights(self, Y, lengths, sample_weight, incremental):
        """Weights of the training items: ``sample_weight`` (checked) per sequence, or None."""
        return sample_weight

    def _fresh_rng(self):
        """``check_random_state(self.random_state)``; an integer seed reseeds the previous fit's generator.

        ``RandomState(seed)`` first seeds itself from the OS (about 90 us, a
        tenth of a small model's ``fit`` overhead); reseeding the estimator's
        own generator gives the same stream.
        """
        rng = self.__dict__.get("_rng")
        if isinstance(self.random_state, numbers.Integral) and isinstance(rng, np.random.RandomState):
            rng.seed(self.random_state)
            return rng
        return check_random_state(self.random_state)

    def _fit(self, X, y, incremental=False, classes=None, sample_weight=None):
        first = not (hasattr(self, "_theta") and (incremental or self.warm_start))
        X, lengths, _ = self._validate_X(X, reset=first)
        Y = self._encode_targets(y, lengths, first, classes)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, np.empty((len(lengths), 0)), dtype=np.float64,
                                                 ensure_non_negative=True)
        W = self._item_weights(Y, lengths, sample_weight, incremental)
        dt = np.dtype(self.dtype)
        if not first and not self._theta.flags.writeable:  # e.g. unpickled from a read-only memory map
            self._theta = self._theta.copy()
        if first or not incremental:
            self._stream_state = None  # fit starts every stream from zeros
        if first:
            self._rng = self._fresh_rng()
            self._net = self._make_network()
            self._theta = self._net.init_params(self._rng, dtype=dt)
            self._optimizer = self._make_optimizer()
            self.loss_curve_ = []
            self.batch_loss_curve_ = []
            self.n_iter_ = 0
            self.t_ = 0
            self.learning_rate_ = float(self.learning_rate_init)
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            self.validation_scores_ = None
            self.best_validation_score_ = None
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            stratify = Y if (self._loss == "cross_entropy" and self.output == "last") else None
            idx_train, idx_val = train_test_split(
                np.arange(len(lengths)), test_size=self.validation_fraction,
                random_state=self._rng, stratify=stratify)
            if len(idx_val) < 2 and self._loss != "cross_entropy":
                raise ValueError(f"validation_fraction={self.validation_fraction} leaves "
                                 f"{len(idx_val)} sequence(s) for validation; need at least 2")
            X_val, l_val, Y_val = X[idx_val], lengths[idx_val], Y[idx_val]
            X, lengths, Y = X[idx_train], lengths[idx_train], Y[idx_train]
            W = None if W is None else W[idx_train]
            if self.validation_scores_ is None:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
            self._best_theta = self._theta.copy()
        Yk = self._targets(Y, dt, W)
        N = X.shape[0]
        batch_size = min(32, N) if self.batch_size == "auto" else min(self.batch_size, N)
        # scikit-learn's MLP convention: the L2 term is divided by the batch size (its total weight
        # with sample weights, on average: integer weights then act as repeated sequences in a batch)
        mean_weight = 1.0 if sample_weight is None else float(np.mean(sample_weight))
        self._optimizer.set_penalty(self.alpha / (batch_size * mean_weight) if mean_weight > 0 else 0.0)
        max_iter = 1 if incremental else self.max_iter
        bar = None  # a progress bar only when one is shown (making a disabled one costs a fit 10 us)
        if self.verbose >= 1 and not incremental:
            from tqdm.auto import tqdm

            bar = tqdm(range(max_iter), desc=type(self).__name__, unit="epoch", leave=False)
        converged = False
        for _ in range(max_iter) if bar is None else bar:
            order = (self._rng.permutation(N) if self.shuffle and not self.stateful else np.arange(N))
            seed = int(self._rng.randint(np.iinfo(np.int32).max))
            snapshot = self._theta.copy()
            state = self._carried_state(N, dt, fresh=not incremental) if self.stateful else None
            loss, window_losses, status = self._net.train_epoch(
                self._theta, self._optimizer, X, lengths, Yk, order=order, batch_size=batch_size,
                bptt_steps=self.bptt_steps, carry=self.stateful, seed=seed, verbose=self.verbose, state=state)
            if status != 0 or not np.isfinite(loss) or not np.isfinite(self._theta).all():
                self._theta[:] = snapshot
                raise FloatingPointError(self._divergence(X, loss, status))
            self.n_iter_ += 1
            self.t_ += N
            self.loss_ = float(loss)
            self.loss_curve_.append(self.loss_)
            self.batch_loss_curve_.extend(window_losses.tolist())
            if early_stopping:
                out = self._net.predict(self._theta, X_val, l_val)["out"]
                score = float(self._score_outputs(out, Y_val, l_val))
                self.validation_scores_.append(score)
            if bar is not None:
                bar.set_postfix(loss=f"{self.loss_:.6g}")
            if self.verbose >= 2:
                extra = f", validation score = {score:.6f}" if early_stopping else ""
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}{extra}")
            self._update_no_improvement_count(early_stopping)
            self._schedule_learning_rate()
            if not incremental and self._no_improvement_count > self.n_iter_no_change:
                converged = True
                if self.verbose >= 2:
                    what = "Validation score" if early_stopping else "Training loss"
                    print(f"{what} did not improve more than tol={self.tol} for "
                          f"{self.n_iter_no_change} consecutive epochs. Stopping.")
                break
        if bar is not None:
            bar.close()
        if early_stopping:
            self._theta[:] = self._best_theta
            del self._best_theta
        if not incremental and not converged and self.max_iter > 0:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        return self

    def _targets(self, Y, dtype, weights):
        """The network's encoded targets, with the items' weights."""
        return self._net.targets(Y, dtype, weights)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, n_features), \
or list of array-like of shape (n_timesteps_i, n_features)
            Sequences: 2-D arrays are univariate sequences; a list holds
            sequences of different lengths.
        y : array-like
            With ``output="last"``, one target per sequence; with
            ``output="sequence"``, one target per time step: an array
            (n_samples, n_timesteps[, n_outputs]) or a list of per-sequence
            arrays matching the lengths of ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence (of each of its steps with per-step
            output): the loss is the weighted mean, and a zero weight is the
            same as leaving the sequence out. None: every sequence weighs 1.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    # ------------------------------------------------------------------ inference
    def _forward(self, X, hidden_states=False, initial_state=None):
        check_is_fitted(self, "_theta")
        h0, c0 = self._initial_state(initial_state)
        Xp, lengths, is_list = self._validate_X(X, reset=False)
        res = self._net.predict(self._theta, Xp, lengths, h0=h0, c0=c0, hidden_states=hidden_states)
        res["out"] = res["out"].astype(np.float64)  # predictions in float64, whatever the precision
        return res, lengths, is_list

    def _format_steps(self, values, lengths, is_list):
        """Per-step outputs (N, T, ...) as given: a list for list input, else the array."""
        if self.output == "last":
            return values
        return unpad(values, lengths) if is_list else values

    def hidden_states(self, X, initial_state=None):
        """Hidden states of the top layer at every step, and the final states of every layer.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        initial_state : ndarray or tuple, default=None
            States to start from (zeros when None), see :meth:`predict`.

        Returns
        -------
        states : ndarray of shape (n_samples, n_timesteps, D * hidden_size) or list of ndarray
            Output of the top layer at each valid step (forward and reverse
            halves concatenated when ``bidirectional``; D = 2 then, else 1);
            a list of (n_timesteps_i, D * hidden_size) arrays for list input.
        h_n : ndarray of shape (num_layers * D, n_samples, hidden_size)
            Final hidden state of each layer and direction (PyTorch's layout).
        c_n : ndarray of shape (num_layers * D, n_samples, hidden_size) or None
            Final cell state (LSTM only).
        """
        res, lengths, is_list = self._forward(X, hidden_states=True, initial_state=initial_state)
        states = unpad(res["hseq"], lengths) if is_list else res["hseq"]
        c_n = res["cT"] if self._net.has_cell_state else None
        return states, res["hT"], c_n

    @abstractmethod
    def _predict_from_out(self, out, lengths):
        """Predictions (labels, values or label sequences) from raw head outputs (N[, T], K)."""

    @abstractmethod
    def _metric(self, y_true, y_pred):
        """The score of :meth:`score` on flat targets (accuracy or R^2)."""

    def predict(self, X, initial_state=None):
        """Predict a target for each sequence (``output="last"``) or each valid step.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        initial_state : ndarray or tuple, default=None
            States the sequences start from, to continue streams chunk after
            chunk: the ``(h_n, c_n)`` pair of :meth:`hidden_states` (``c_n``
            None for rnn and gru) of the previous chunk, or as PyTorch takes
            it, a bare ``h_0`` for rnn and gru and ``(h_0, c_0)`` for lstm,
            each (num_layers, n_samples, hidden_size). Zeros when None. Not
            available for bidirectional models.

        Returns
        -------
        y : ndarray or list of ndarray
            (n_samples[, n_outputs]) with ``output="last"``; with
            ``output="sequence"`` (n_samples, n_timesteps[, n_outputs]) for
            array input, or a list of per-sequence arrays for list input.
        """
        res, lengths, is_list = self._forward(X, initial_state=initial_state)
        return self._format_steps(self._predict_from_out(res["out"], lengths), lengths, is_list)

    def score(self, X, y):
        """Mean accuracy (classifier) or R^2 (regressor), over valid steps for per-step output.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any form accepted by :meth:`fit`.
        y : array-like or list of array-like
            True targets, in the form :meth:`fit` takes them.

        Returns
        -------
        score : float
            With ``output="sequence"`` every valid step of every sequence
            counts once.
        """
        res, lengths, _ = self._forward(X)
        pred = self._predict_from_out(res["out"], lengths)
        if self.output == "last":
            self._check_n_samples(y, len(lengths))
            return float(self._metric(np.asarray(y), pred))
        y_true = self._flat_steps(y, lengths)
        y_pred = self._flat_predictions(pred, lengths)
        return float(self._metric(y_true, y_pred))

    def _flat_steps(self, y, lengths):
        """All valid per-step targets, concatenated along the first axis."""
        Y, mask = self._step_targets(y, lengths)
        return Y[mask]

    def _flat_predictions(self, pred, lengths):
        return pred[valid_mask(lengths, pred.shape[1])]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


def valid_mask(lengths, T):
    """Boolean (N, T) mask of the valid steps of padded sequences."""
    lengths = np.asarray(lengths)
    if lengths.size and lengths.min() >= T:  # every step valid (streams, equal lengths): no comparison
        return np.ones((lengths.shape[0], T), dtype=bool)
    return np.arange(T)[None, :] < lengths[:, None]
