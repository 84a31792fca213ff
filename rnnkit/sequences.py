"""Input normalisation: every accepted form of sequences to one padded array.

rnnkit's estimators accept three forms of ``X``:

* a 2-D array ``(n_samples, n_timesteps)``: univariate sequences (one feature
  per step), the way the echo and rule-stream tutorials shape a bit stream;
* a 3-D array ``(n_samples, n_timesteps, n_features)``;
* a list of arrays ``(n_timesteps_i, n_features)`` (or 1-D arrays
  ``(n_timesteps_i,)`` for univariate sequences) of different lengths. A 1-D
  object array of such arrays (what pandas, awkward arrays and some
  time-series libraries hand over; a pandas Series of arrays converts to one)
  is read as that list.

:func:`check_sequences` turns any of them into a C-contiguous padded array
``(n_samples, max_timesteps, n_features)`` and the ``lengths`` of the
sequences; padding is zero and never read by the kernels.
:func:`check_step_targets` does the same for per-step targets, checking that
each target sequence is as long as its input sequence.

Nothing is coerced silently: NaN or inf, values too large for the requested
precision, complex values, a wrong number of dimensions, a ragged nested list
that is not a list of arrays, empty input and zero-length sequences raise a
:class:`ValueError` that names the problem (values that are not numbers at all,
such as dicts in an object array, a :class:`TypeError`).
"""

import numpy as np
from sklearn.utils.validation import check_array

__all__ = ["check_sequences", "check_step_targets", "check_tokens", "pad_sequences", "unpad"]


def _is_list_of_arrays(X):
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(isinstance(x, np.ndarray) for x in X)


def _object_items(X, name="X"):
    """The items of a 1-D object array whose items are all sequences, as a list of arrays; else None.

    Items that are arrays are kept as they are; lists and tuples become arrays
    (each one must then be rectangular).
    """
    if not (isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1 and X.shape[0] > 0):
        return None
    if not all(isinstance(x, (np.ndarray, list, tuple)) for x in X):
        return None
    items = []
    for i, x in enumerate(X):
        if not isinstance(x, np.ndarray):
            try:
                x = np.asarray(x)
            except ValueError:  # numpy refuses ragged nested lists
                x = None
            if x is None or x.dtype == object:
                raise ValueError(f"{name}[{i}] is a ragged nested list; each item of an object array of "
                                 "sequences must be an array (n_timesteps, n_features) or (n_timesteps,)")
        items.append(x)
    return items


def _check_finite(a, what):
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        kind = "NaN" if np.isnan(a).any() else "infinity"
        raise ValueError(f"{what} contains {kind}; clean or impute it before fitting (rnnkit does not "
                         "treat NaN as missing)")


def _as_real(a, dtype, name):
    """``a`` (any dtype) as a finite real array of ``dtype``, or a ValueError/TypeError naming the problem.

    Non-numeric dtypes (object, strings) go through scikit-learn's
    ``check_array`` (in float64 first), whose messages scikit-learn's own
    checks expect ("Complex data not supported", "could not convert ...").
    NaN and inf are looked for in the input itself; a finite value that does
    not fit ``dtype`` (1e300 in float32) is reported as such, not as an
    infinity the caller never passed.
    """
    dtype = np.dtype(dtype)
    if a.dtype.kind == "c":  # "Complex data not supported" is scikit-learn's wording, which its checks expect
        raise ValueError(f"{name} is complex ({a.dtype}): Complex data not supported; rnnkit needs "
                         "real-valued sequences (pass the real and imaginary parts as two features)")
    if a.dtype.kind not in "fiub":
        try:
            a = check_array(a, dtype=np.float64, ensure_2d=False, allow_nd=True, ensure_all_finite=False,
                            ensure_min_samples=0, ensure_min_features=0, input_name=name)
        except TypeError as exc:  # e.g. dicts in an object array
            raise TypeError(f"{name} holds values that are not numbers ({exc})") from None
        except ValueError as exc:  # e.g. strings that are not numbers
            raise ValueError(f"{name} holds values that are not numbers ({exc})") from None
    if a.dtype.kind == "f":
        if a.dtype.itemsize > dtype.itemsize:
            # one pass over the narrower copy: NaN and inf stay what they are, and only a value too large
            # for ``dtype`` becomes one (the input is looked at only then, to say which it was)
            with np.errstate(over="ignore"):
                out = a.astype(dtype)
            if not np.isfinite(out).all():
                _check_finite(a, name)
                big = float(np.abs(a).max())
                raise ValueError(f"{name} has values too large for {dtype} (largest magnitude {big:.3g}; "
                                 f"{dtype}'s limit is {float(np.finfo(dtype).max):.3g}): scale the input, "
                                 "or use dtype='float64'")
            return out
        _check_finite(a, name)
    return a.astype(dtype, copy=False)


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
        Sequences (see the module docstring). A 1-D object array (or pandas
        Series) whose items are such arrays is read as the list.
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
        Whether ``X`` was given as a list (or 1-D object array) of arrays
        (outputs are then returned as lists too).

    Raises
    ------
    ValueError
        Empty input, zero-length sequences, NaN or inf, values too large for
        ``dtype``, complex values, strings that are not numbers, a wrong
        number of dimensions, a ragged nested list, or sequences whose feature
        counts differ.
    TypeError
        A sparse matrix, or values that are not numbers at all (e.g. dicts in
        an object array).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.sequences import check_sequences
    >>> X, lengths, is_list = check_sequences([np.zeros((4, 2)), np.ones((2, 2))])
    >>> X.shape, lengths.tolist(), is_list
    ((2, 4, 2), [4, 2], True)
    >>> check_sequences(np.zeros((3, 5)))[0].shape  # univariate sequences
    (3, 5, 1)
    >>> X = np.empty(2, dtype=object)  # e.g. a pandas Series of arrays
    >>> X[0], X[1] = np.zeros((4, 2)), np.ones((2, 2))
    >>> check_sequences(X)[1].tolist(), check_sequences(X)[2]
    ([4, 2], True)
    """
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(f"{name} is a sparse matrix; rnnkit needs dense sequences (call .toarray())")
    if not isinstance(X, (list, tuple)):
        X = np.asarray(X)  # a pandas Series or DataFrame, an array subclass, ...: its NumPy form
        items = _object_items(X, name)
        if items is not None:  # a 1-D object array of sequences: the list form
            X = items
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
            x = _as_real(x, dtype, f"{name}[{i}]")
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
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} is empty: 0 sequences (0 samples); at least one is required")
        try:
            X = np.asarray(X)
        except ValueError as exc:
            raise ValueError(f"{name} is a ragged nested list (sequences of different lengths); pass "
                             "variable-length sequences as a list of numpy arrays") from exc
        if X.dtype == object and any(isinstance(v, (list, tuple, np.ndarray)) for v in X.reshape(-1)):
            raise ValueError(f"{name} is a ragged nested list (sequences of different lengths); pass "
                             "variable-length sequences as a list of numpy arrays")
        # other object arrays hold values that are not all numbers (None, ...): checked below
    ndim = X.ndim
    if ndim == 1 and X.shape[0] == 0:  # an empty list, object array or pandas Series
        raise ValueError(f"{name} is empty: 0 sequences (0 samples); at least one is required")
    if ndim == 1 and X.dtype == object and any(isinstance(x, (np.ndarray, list, tuple)) for x in X):
        bad = next(i for i, x in enumerate(X) if not isinstance(x, (np.ndarray, list, tuple)))
        raise ValueError(f"{name} is a 1-D object array of sequences, but {name}[{bad}] is a "
                         f"{type(X[bad]).__name__}, not a sequence (an array (n_timesteps, n_features) or "
                         "(n_timesteps,))")
    if ndim not in (2, 3):
        raise ValueError(f"{name} has {ndim} dimension(s); expected a 2-D array (n_samples, n_timesteps) "
                         "of univariate sequences, a 3-D array (n_samples, n_timesteps, n_features) or a "
                         "list of 2-D arrays (n_timesteps_i, n_features). Reshape your data either using "
                         "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) "
                         "if it contains a single sample.")
    # scikit-learn's wording ("found array with 0 ...") is kept: its estimator checks look for it
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no sequences: found array with 0 sample(s) (shape={X.shape}) while a "
                         "minimum of 1 is required.")
    if X.shape[1] == 0:
        what = "found array with 0 feature(s)" if ndim == 2 else "found array with 0 time step(s)"
        raise ValueError(f"{name} has sequences of 0 time steps: {what} (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    if ndim == 3 and X.shape[2] == 0:
        raise ValueError(f"{name} has 0 features per time step")
    X = _as_real(X, dtype, name)  # plain numeric arrays skip check_array (slow for long streams)
    if X.ndim == 2:
        X = X[:, :, None]
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
    if not isinstance(y, (list, tuple)):
        items = _object_items(np.asarray(y), name)
        if items is not None:  # a 1-D object array (or pandas Series) of per-sequence targets: a list
            y = items
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


def check_tokens(X, lengths, n_tokens=None, name="X"):
    """Check that padded sequences hold token ids, and find the vocabulary size.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_timesteps, n_features)
        Padded sequences from :func:`check_sequences` (a 2-D integer array or
        a list of 1-D integer arrays gives one feature).
    lengths : ndarray of shape (n_samples,)
        Valid steps of each sequence.
    n_tokens : int or None, default=None
        Size of the vocabulary: ids must lie in ``[0, n_tokens)``; None takes
        the largest id plus one.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    n_tokens : int
        ``n_tokens``, or the largest id plus one.

    Raises
    ------
    ValueError
        More than one feature per step, ids that are not whole numbers, or
        ids out of ``[0, n_tokens)``.

    Examples
    --------
    >>> from rnnkit.sequences import check_sequences, check_tokens
    >>> import numpy as np
    >>> X, lengths, _ = check_sequences([np.array([3, 1, 4]), np.array([1, 5])])
    >>> check_tokens(X, lengths)
    6
    """
    if X.shape[2] != 1:
        raise ValueError(f"{name} must hold one token id per step (a 2-D integer array or a list of 1-D "
                         f"integer arrays), got {X.shape[2]} features per step")
    ids = X[np.arange(X.shape[1])[None, :] < np.asarray(lengths)[:, None]][:, 0]
    if ids.size and not (np.all(ids == np.floor(ids)) and ids.min() >= 0):
        raise ValueError(f"{name} must hold token ids, non-negative whole numbers")
    if X.dtype == np.float32 and ids.size and ids.max() >= 2**24:
        raise ValueError(f"{name} holds token ids up to {int(ids.max())}, more than float32 represents "
                         "exactly (2**24): use dtype='float64'")
    largest = int(ids.max()) if ids.size else -1
    if n_tokens is None:
        return largest + 1
    if largest >= n_tokens:
        raise ValueError(f"{name} holds the token id {largest}, outside the vocabulary [0, {n_tokens}) seen "
                         "in fit; pass n_tokens= to fit for a larger vocabulary")
    return int(n_tokens)

