"""Input normalisation: every accepted form of sequences to one padded array.

rnnkit's estimators accept three forms of ``X``:

* a 2-D array ``(n_samples, n_timesteps)``: univariate sequences (one feature
  per step), the way the echo and rule-stream tutorials shape a bit stream;
* a 3-D array ``(n_samples, n_timesteps, n_features)``;
* a list of arrays ``(n_timesteps_i, n_features)`` (or 1-D arrays
  ``(n_timesteps_i,)`` for univariate sequences) of different lengths.

:func:`check_sequences` turns any of them into a C-contiguous padded array
``(n_samples, max_timesteps, n_features)`` and the ``lengths`` of the
sequences; padding is zero and never read by the kernels.
:func:`check_step_targets` does the same for per-step targets, checking that
each target sequence is as long as its input sequence.

Nothing is coerced silently: NaN or inf, a wrong number of dimensions, a
ragged nested list that is not a list of arrays, empty input and zero-length
sequences raise a :class:`ValueError` that names the problem.
"""

import numpy as np
from sklearn.utils.validation import check_array

__all__ = ["check_sequences", "check_step_targets", "pad_sequences", "unpad"]


def _is_list_of_arrays(X):
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(isinstance(x, np.ndarray) for x in X)


def _check_finite(a, what):
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        kind = "NaN" if np.isnan(a).any() else "infinity"
        raise ValueError(f"{what} contains {kind}; clean or impute it before fitting (rnnkit does not "
                         "treat NaN as missing)")


def pad_sequences(seqs, dtype=np.float64, value=0):
    """Stack sequences of different lengths into one padded array.

    Parameters
    ----------
    seqs : list of ndarray of shape (n_timesteps_i, ...)
        Sequences; trailing dimensions must agree.
    dtype : dtype, default=np.float64
        Precision of the result.
    value : scalar, default=0
        Padding value.

    Returns
    -------
    padded : ndarray of shape (n_samples, max(n_timesteps_i), ...)
        C-contiguous.
    lengths : ndarray of shape (n_samples,), dtype int64

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.sequences import pad_sequences
    >>> padded, lengths = pad_sequences([np.ones(3), np.ones(1)])
    >>> padded
    array([[1., 1., 1.],
           [1., 0., 0.]])
    >>> lengths
    array([3, 1])
    """
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    tail = np.shape(seqs[0])[1:]
    out = np.full((len(seqs), int(lengths.max(initial=0)), *tail), value, dtype=dtype)
    for i, s in enumerate(seqs):
        out[i, : lengths[i]] = s
    return out, lengths


def unpad(padded, lengths):
    """Split a padded array back into a list of sequences.

    Parameters
    ----------
    padded : ndarray of shape (n_samples, n_timesteps, ...)
        Padded array.
    lengths : array-like of shape (n_samples,)
        Valid steps of each sequence.

    Returns
    -------
    list of ndarray
        ``padded[i, :lengths[i]]`` for each ``i`` (copies).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.sequences import unpad
    >>> [s.tolist() for s in unpad(np.arange(6).reshape(2, 3), [3, 1])]
    [[0, 1, 2], [3]]
    """
    return [np.array(padded[i, : int(n)]) for i, n in enumerate(lengths)]


def check_sequences(X, dtype=np.float64, name="X"):
    """Validate ``X`` in any accepted form and return it padded, with lengths.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, n_features), \
or list of array-like of shape (n_timesteps_i, n_features) or (n_timesteps_i,)
        Sequences (see the module docstring).
    dtype : dtype, default=np.float64
        Precision of the result.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    X : ndarray of shape (n_samples, max_timesteps, n_features)
        C-contiguous, zero past each sequence's length.
    lengths : ndarray of shape (n_samples,), dtype int64
        Number of valid steps of each sequence (all equal for array input).
    is_list : bool
        Whether ``X`` was given as a list of arrays (outputs are then
        returned as lists too).

    Raises
    ------
    ValueError
        Empty input, zero-length sequences, NaN or inf, a wrong number of
        dimensions, a ragged nested list, or sequences whose feature counts
        differ.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.sequences import check_sequences
    >>> X, lengths, is_list = check_sequences([np.zeros((4, 2)), np.ones((2, 2))])
    >>> X.shape, lengths.tolist(), is_list
    ((2, 4, 2), [4, 2], True)
    >>> check_sequences(np.zeros((3, 5)))[0].shape  # univariate sequences
    (3, 5, 1)
    """
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(f"{name} is a sparse matrix; rnnkit needs dense sequences (call .toarray())")
    if _is_list_of_arrays(X):
        seqs = []
        n_features = None
        for i, x in enumerate(X):
            if x.ndim not in (1, 2):
                raise ValueError(f"{name}[{i}] has {x.ndim} dimensions; each sequence of a list must be "
                                 "2-D (n_timesteps, n_features) or 1-D (n_timesteps,)")
            if x.shape[0] == 0:
                raise ValueError(f"{name}[{i}] is a zero-length sequence; every sequence needs at least "
                                 "one time step")
            x = x.reshape(-1, 1) if x.ndim == 1 else x
            x = check_array(x, dtype=dtype, ensure_all_finite=False, ensure_min_samples=0,
                            ensure_min_features=0, input_name=f"{name}[{i}]")
            _check_finite(x, f"{name}[{i}]")
            if x.shape[1] == 0:
                raise ValueError(f"{name}[{i}] has 0 features per time step")
            if n_features is None:
                n_features = x.shape[1]
            elif x.shape[1] != n_features:
                raise ValueError(f"{name}[{i}] has {x.shape[1]} features per time step, but {name}[0] "
                                 f"has {n_features}; all sequences need the same number of features")
            seqs.append(x)
        padded, lengths = pad_sequences(seqs, dtype)
        return padded, lengths, True
    if isinstance(X, (list, tuple)) and len(X) > 0:
        try:
            X = np.asarray(X)
        except ValueError as exc:
            raise ValueError(f"{name} is a ragged nested list (sequences of different lengths); pass "
                             "variable-length sequences as a list of numpy arrays") from exc
        if X.dtype == object:
            raise ValueError(f"{name} is a ragged nested list (sequences of different lengths); pass "
                             "variable-length sequences as a list of numpy arrays")
    X = np.asarray(X)
    ndim = X.ndim
    if ndim not in (2, 3):
        raise ValueError(f"{name} has {ndim} dimension(s); expected a 2-D array (n_samples, n_timesteps) "
                         "of univariate sequences, a 3-D array (n_samples, n_timesteps, n_features) or a "
                         "list of 2-D arrays (n_timesteps_i, n_features). Reshape your data either using "
                         "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) "
                         "if it contains a single sample.")
    if X.dtype.kind in "fiub" and X.shape[0] > 0 and X.shape[1] > 0:
        X = X.astype(dtype, copy=False)  # plain numeric array: check_array's generality costs a stream's time
    else:
        X = check_array(X, dtype=dtype, allow_nd=True, ensure_all_finite=False, ensure_min_samples=1,
                        ensure_min_features=1, input_name=name)
    _check_finite(X, name)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.shape[2] == 0:
        raise ValueError(f"{name} has 0 features per time step")
    X = np.ascontiguousarray(X)
    return X, np.full(X.shape[0], X.shape[1], dtype=np.int64), False


def check_step_targets(y, lengths, name="y"):
    """Validate per-step targets against the lengths of their sequences.

    Parameters
    ----------
    y : array-like of shape (n_samples, n_timesteps[, n_outputs]) or list of array-like
        One target (or target row) per valid step of each sequence. Array
        targets of sequences shorter than ``n_timesteps`` are read only up to
        each length.
    lengths : ndarray of shape (n_samples,)
        Valid steps of each input sequence.
    name : str, default="y"
        Name used in error messages.

    Returns
    -------
    Y : ndarray of shape (n_samples, max(lengths)[, n_outputs])
        The targets, padded (with zeros) past each length; the dtype is the
        targets' own.

    Raises
    ------
    ValueError
        When the number of target sequences or of steps in one of them does
        not match the inputs, or the sequences' target shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.sequences import check_step_targets
    >>> check_step_targets([np.array([1, 0]), np.array([2])], np.array([2, 1]))
    array([[1, 0],
           [2, 0]])
    """
    n = len(lengths)
    T = int(lengths.max(initial=0))
    if isinstance(y, (list, tuple)) and y and (_is_list_of_arrays(y) or len({np.shape(v) for v in y}) > 1):
        y = [np.asarray(v) for v in y]
        if len(y) != n:
            raise ValueError(f"{name} has {len(y)} target sequences but X has {n} sequences")
        for i, (v, L) in enumerate(zip(y, lengths, strict=True)):
            if v.ndim == 0 or v.shape[0] != L:
                raise ValueError(f"{name}[{i}] has {v.shape[0] if v.ndim else 0} steps but X[{i}] has {L}; "
                                 "per-step targets need one target per time step")
            if v.shape[1:] != y[0].shape[1:]:
                raise ValueError(f"{name}[{i}] has shape {v.shape}, unlike {name}[0] {y[0].shape}")
        return pad_sequences(y, dtype=np.result_type(*y))[0]
    y = np.asarray(y)
    if y.ndim < 2:
        raise ValueError(f"{name} has {y.ndim} dimension(s); with output='sequence' targets are "
                         "(n_samples, n_timesteps[, n_outputs]) or a list of per-sequence arrays")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} target sequences but X has {n} sequences")
    if y.shape[1] < T or (n and (lengths == T).all() and y.shape[1] != T):
        raise ValueError(f"{name} has {y.shape[1]} steps per sequence but X has sequences of {T} steps; "
                         "per-step targets need one target per time step")
    return y[:, :T]
