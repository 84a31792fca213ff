"""Fitted weights to and from PyTorch's modules, as their state dictionaries (torch is never imported).

:class:`TorchInteropMixin` gives :class:`~rnnkit.estimators._base.BaseRNN`
three methods: :meth:`~TorchInteropMixin.torch_module_kwargs` (which modules
to build), :meth:`~TorchInteropMixin.to_torch_state_dict` (their weights) and
:meth:`~TorchInteropMixin.from_torch_state_dict` (weights trained in PyTorch,
back into the estimator). The user guide's "Moving weights to and from
PyTorch" shows the PyTorch side.
"""

from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["TorchInteropMixin"]

#: rnnkit cell -> the ``torch.nn`` class of the same formulation
_TORCH_CLASSES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_RECURRENT = ("weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l")


def _as_array(value):
    """A tensor (anything with ``detach``) or array-like as a NumPy array, without importing torch."""
    if hasattr(value, "detach"):
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


class TorchInteropMixin:
    """PyTorch state dictionaries of a fitted estimator's weights, both ways.

    Mixed into :class:`~rnnkit.estimators._base.BaseRNN`: it reads the fitted
    network ``_net`` (its :class:`~rnnkit.layout.ParamLayout`) and the flat
    parameters ``_theta``. rnnkit's parameters already have PyTorch's names,
    shapes and gate order (see ``coefs_``), so the plain cells map one to one
    onto ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU`` and the head
    onto ``torch.nn.Linear``; models with ``peephole=True`` or
    ``layer_norm=True`` have no PyTorch module and raise ``ValueError``.

    The state dictionaries are nested, one per PyTorch module: ``"rnn"``
    (the recurrent layers), ``"head"`` (the dense head) and, for models with
    an embedding, ``"embedding"``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(20, 5, 3)), np.arange(20) % 2
    >>> clf = RNNClassifier(cell="gru", hidden_size=4, max_iter=1, random_state=0).fit(X, y)
    >>> clf.torch_module_kwargs()["rnn"]
    ('GRU', {'input_size': 3, 'hidden_size': 4, 'num_layers': 1, 'bias': True, 'batch_first': True, \
'bidirectional': False})
    >>> clf.torch_module_kwargs()["head"]
    ('Linear', {'in_features': 4, 'out_features': 2, 'bias': True})
    >>> state = clf.to_torch_state_dict()
    >>> {name: v.shape for name, v in state["rnn"].items()}
    {'weight_ih_l0': (12, 3), 'weight_hh_l0': (12, 4), 'bias_ih_l0': (12,), 'bias_hh_l0': (12,)}
    >>> {name: v.shape for name, v in state["head"].items()}
    {'weight': (2, 4), 'bias': (2,)}
    >>> proba = clf.predict_proba(X)
    >>> bool(np.array_equal(clf.from_torch_state_dict(state).predict_proba(X), proba))
    True

    In PyTorch (not run here)::

        import torch
        modules = {name: getattr(torch.nn, cls)(**kwargs)
                   for name, (cls, kwargs) in clf.torch_module_kwargs().items()}
        for name, sd in clf.to_torch_state_dict().items():
            modules[name].load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    """

    # ------------------------------------------------------------------ names
    def _torch_names(self):
        """``[(module, torch name, rnnkit name)]`` of every non-empty block, in layout order.

        Raises ValueError for a model (or a block) that no PyTorch module holds.
        """
        check_is_fitted(self, "_theta")
        net = self._net
        variants = [name for name in ("peephole", "layer_norm") if getattr(net, name, False)]
        if variants:
            extra = [n for n in net.shapes if n.startswith(("ln_", "weight_c"))]
            raise ValueError(
                f"a model with {' and '.join(f'{v}=True' for v in variants)} has no PyTorch counterpart: "
                f"torch.nn.RNN, LSTM and GRU have no {' or '.join(variants)} blocks (this model has "
                f"{', '.join(extra)}); its weights are in coefs_, but no torch.nn module can load them")
        if net.cell not in _TORCH_CLASSES:
            raise ValueError(f"cell={net.cell!r} has no PyTorch counterpart (torch.nn has "
                             f"{', '.join(_TORCH_CLASSES.values())})")
        names = []
        for name, shape in net.shapes.items():
            if name in ("weight_out", "bias_out"):
                module, key = "head", name[:-len("_out")]
            elif name.startswith(_RECURRENT):
                module, key = "rnn", name
            elif "." in name:  # a module of its own, e.g. "embedding.weight"
                module, key = name.split(".", 1)
            else:
                raise ValueError(f"the parameter block {name!r} has no PyTorch counterpart")
            if int(np.prod(shape)) == 0:  # bias=False: the block is empty, PyTorch has no entry
                continue
            names.append((module, key, name))
        return names

    def torch_module_kwargs(self):
        """The PyTorch modules that hold this model's weights: class names and constructor arguments.

        Returns
        -------
        modules : dict of str to (str, dict)
            ``{"rnn": (cls, kwargs), "head": ("Linear", kwargs)}``, plus
            ``"embedding": ("Embedding", kwargs)`` when the model has one;
            ``getattr(torch.nn, cls)(**kwargs)`` builds the module whose
            ``load_state_dict`` takes that entry of :meth:`to_torch_state_dict`.
            ``cls`` is ``"RNN"``, ``"LSTM"`` or ``"GRU"`` (``cell``), with
            ``input_size`` (``n_features_in_``), ``hidden_size``,
            ``num_layers``, ``bias``, ``batch_first=True``,
            ``bidirectional`` and, for ``"RNN"``, ``nonlinearity``. The head
            is ``Linear(in_features=D * hidden_size, out_features=n_outputs,
            bias=bias)`` (D = 2 when bidirectional; ``n_outputs`` is the
            number of classes, of regression outputs, or for
            :class:`~rnnkit.RNNTranscriber` the classes plus the blank,
            column 0).

        Raises
        ------
        ValueError
            For ``peephole=True`` or ``layer_norm=True`` models (no PyTorch module).
        sklearn.exceptions.NotFittedError
            Before ``fit``.

        Notes
        -----
        PyTorch builds float32 modules by default; for a float64 estimator add
        ``dtype=torch.float64`` (or call ``.double()``), else
        ``load_state_dict`` rounds the weights to float32. The training
        ``dropout`` is not an argument: it is off at inference, in both.
        """
        names = self._torch_names()
        net = self._net
        shapes = {name: net.shapes[name] for _, _, name in names}
        rnn = {"input_size": int(net.input_size), "hidden_size": int(net.hidden_size),
               "num_layers": int(net.num_layers), "bias": bool(net.bias), "batch_first": True,
               "bidirectional": bool(net.bidirectional)}
        if net.cell == "rnn":
            rnn["nonlinearity"] = net.nonlinearity
        K, DH = net.shapes["weight_out"]
        head = {"in_features": int(DH), "out_features": int(K), "bias": bool(net.bias)}
        modules = {"rnn": (_TORCH_CLASSES[net.cell], rnn), "head": ("Linear", head)}
        if "embedding.weight" in shapes:
            V, E = shapes["embedding.weight"]
            modules = {"embedding": ("Embedding", {"num_embeddings": int(V), "embedding_dim": int(E)}),
                       **modules}
        return modules

    # ------------------------------------------------------------------ export
    def to_torch_state_dict(self):
        """The fitted weights as PyTorch state dictionaries, one per module.

        Returns
        -------
        state_dict : dict of str to dict of str to ndarray
            ``{"rnn": {...}, "head": {...}}``, plus ``"embedding": {"weight":
            ...}`` when the model has an embedding. ``"rnn"`` holds
            ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
            ``bias_hh_l{k}`` (suffix ``_reverse`` for reverse directions),
            ``"head"`` ``weight`` and ``bias`` (``coefs_``'s ``weight_out``,
            ``bias_out``); no bias entries when ``bias=False``, as PyTorch's
            modules with ``bias=False``. Copies in the estimator's ``dtype``;
            the modules of :meth:`torch_module_kwargs` load each entry with
            ``load_state_dict({k: torch.from_numpy(v) for k, v in entry.items()})``.

        Raises
        ------
        ValueError
            For ``peephole=True`` or ``layer_norm=True`` models: PyTorch's
            modules have no such blocks (``coefs_`` still has every weight).
        sklearn.exceptions.NotFittedError
            Before ``fit``.

        Notes
        -----
        To run the model in PyTorch: with per-step output
        (``output="sequence"``) apply the head to every step of the recurrent
        module's output; with ``output="last"`` apply it to the top layer's
        final states, ``torch.cat(list(h_n[-D:]), dim=1)`` (the forward
        direction after the last valid step, the reverse one after reading the
        whole sequence; pack sequences of different lengths with
        ``torch.nn.utils.rnn.pack_padded_sequence``). The classifier's
        probabilities are the softmax of the head's outputs, the regressor's
        predictions the outputs themselves.
        """
        names = self._torch_names()
        coefs = self._net.coefs(self._theta)
        state = {}
        for module, key, name in names:
            state.setdefault(module, {})[key] = np.array(coefs[name], dtype=self._theta.dtype)
        order = [m for m in ("embedding", "rnn", "head") if m in state] + ["rnn", "head"]
        return {m: state.get(m, {}) for m in dict.fromkeys(order + list(state))}  # in data-flow order

    # ------------------------------------------------------------------ import
    def from_torch_state_dict(self, state_dict):
        """Load weights from PyTorch state dictionaries into this fitted estimator.

        Parameters
        ----------
        state_dict : dict of str to dict of str to tensor or array-like
            The form :meth:`to_torch_state_dict` returns: ``{"rnn":
            rnn_module.state_dict(), "head": linear.state_dict()}`` (plus
            ``"embedding"`` when the model has one), for modules built as
            :meth:`torch_module_kwargs` says. Values are torch tensors (on
            any device, detached here) or array-likes.

        Returns
        -------
        self : object
            The estimator, with the new weights.

        Raises
        ------
        ValueError
            When a module or a name is missing or unexpected, a shape differs
            from the fitted model's (every problem is named), a value is not
            real and finite, or the model has ``peephole=True`` or
            ``layer_norm=True``. The estimator is unchanged then.
        sklearn.exceptions.NotFittedError
            Before ``fit``: fit (e.g. ``max_iter=1``) an estimator with the
            same sizes first.

        Notes
        -----
        Values are cast to the estimator's ``dtype`` (float64 weights are
        rounded to a float32 estimator). The training state that belonged to
        the previous weights is reset, so that a following ``partial_fit`` or
        ``warm_start`` fit starts afresh from the loaded ones: the optimizer's
        moments and step count, the stream state of ``stateful`` models and
        the no-improvement count (``best_loss_``); ``loss_curve_`` and
        ``n_iter_`` keep their history.
        """
        names = self._torch_names()
        if not isinstance(state_dict, Mapping):
            modules = ", ".join(dict.fromkeys(["rnn", "head"] + [m for m, _, _ in names]))
            raise ValueError(f"state_dict must be a dict of modules ({modules}), each a dict of name -> "
                             f"tensor; got {type(state_dict).__name__}")
        expected = {}
        for module, key, name in names:
            expected.setdefault(module, {})[key] = name
        for module in ("rnn", "head"):
            expected.setdefault(module, {})
        shapes = self._net.shapes
        problems, values = [], {}
        unexpected_modules = [m for m in state_dict if m not in expected]
        if unexpected_modules:
            hint = (" (a flat state dict? pass {'rnn': rnn.state_dict(), 'head': head.state_dict()})"
                    if any(str(m).startswith(_RECURRENT + ("weight", "bias")) for m in unexpected_modules)
                    else "")
            problems.append(f"unexpected module(s) {', '.join(map(repr, unexpected_modules))}{hint}")
        for module, keys in expected.items():
            if module not in state_dict:
                problems.append(f"missing module {module!r}")
                continue
            given = state_dict[module]
            if not isinstance(given, Mapping):
                problems.append(f"{module!r} must be a dict of name -> tensor, got {type(given).__name__}")
                continue
            missing = [k for k in keys if k not in given]
            if missing:
                problems.append(f"missing {', '.join(f'{module}.{k}' for k in missing)}")
            extra = [k for k in given if k not in keys]
            if extra:
                bias_hint = (" (the model has bias=False)" if not self._net.bias
                             and any(str(k).startswith("bias") for k in extra) else "")
                problems.append(f"unexpected {', '.join(f'{module}.{k}' for k in extra)}{bias_hint}")
            for key, name in keys.items():
                if key not in given:
                    continue
                try:
                    value = _as_array(given[key])
                except (TypeError, ValueError, RuntimeError) as exc:  # e.g. bfloat16 tensors, ragged lists
                    hint = "; convert it with .float() first" if hasattr(given[key], "detach") else ""
                    problems.append(f"{module}.{key} cannot be read as a NumPy array ({exc}{hint})")
                    continue
                if value.dtype.kind not in "iuf":
                    problems.append(f"{module}.{key} has dtype {value.dtype}, expected real numbers")
                elif value.shape != shapes[name]:
                    problems.append(f"{module}.{key} has shape {value.shape}, expected {shapes[name]}")
                elif not np.isfinite(value).all():
                    problems.append(f"{module}.{key} has non-finite values (inf or NaN)")
                else:
                    values[name] = value
        if problems:
            raise ValueError(f"cannot load this state_dict into the fitted {type(self).__name__}: "
                             + "; ".join(problems))
        coefs = self._net.coefs(self._theta)
        coefs.update(values)  # blocks PyTorch has no entry for (bias=False: empty) keep their values
        self._theta = self._net.flatten(coefs, dtype=self._theta.dtype)
        self._forget_training_state()
        return self

    def _forget_training_state(self):
        """Reset what training kept about the previous weights (see :meth:`from_torch_state_dict`)."""
        optimizer = getattr(self, "_optimizer", None)
        if optimizer is not None and getattr(optimizer, "state", None) is not None:
            optimizer.reset(self._theta.shape[0], self._theta.dtype)
        self.reset_state()
        if hasattr(self, "best_loss_"):
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            if getattr(self, "best_validation_score_", None) is not None:
                self.best_validation_score_ = -np.inf
