"""Connectionist temporal classification (CTC): the loss, its gradient and decoding.

CTC (Graves et al., 2006) trains a network that emits one distribution per
frame over ``C`` columns, one of which is the *blank*, to output a label
sequence shorter than its input without any segmentation. An *alignment* is
a path of one column per frame; it *collapses* to a labelling by merging
repeated columns and then dropping blanks (so ``a a - a b`` gives ``a a b``,
and two equal labels in a row need a blank between them). The probability of
a labelling is the sum over its alignments of the product of the per-frame
softmax probabilities.

* :func:`ctc_loss` -- the negative log-likelihood of each sequence's labels
  and its gradient with respect to the unnormalised logits (softmax folded
  in), by the forward-backward recursions over the label sequence extended
  with blanks: in probability space with every frame rescaled (Graves et al.,
  2006, section 4.1; no ``exp`` or ``log`` per cell), and in log space for a
  sequence whose rescaled probabilities would underflow float64;
* :func:`greedy_decode` -- best path: the most probable column of each frame,
  collapsed;
* :func:`beam_search_decode` -- prefix beam search, which sums over the
  alignments of each candidate labelling.

Everything here takes batch-first logits ``(N, T, C)`` with per-sequence
lengths; the compiled kernels are in :mod:`rnnkit.backends.cpu.ctc`.
:class:`rnnkit.RNNTranscriber` is the estimator built on them.
"""

import numpy as np

from ._config import get_config
from .backends.cpu import ctc as _kernels
from .backends.cpu.threads import run_parts

__all__ = ["ctc_loss", "greedy_decode", "beam_search_decode"]


def _check_logits(logits, input_lengths):
    logits = np.asarray(logits)
    if logits.dtype not in (np.float32, np.float64):
        logits = logits.astype(np.float64)
    if logits.ndim != 3:
        raise ValueError(f"logits must be a 3-D array (N, T, C); got shape {logits.shape}")
    N, T, C = logits.shape
    if C < 1:
        raise ValueError("logits must have at least one column (the blank)")
    input_lengths = _check_lengths(input_lengths, N, T, "input_lengths", "T")
    return np.ascontiguousarray(logits), input_lengths


def _check_lengths(lengths, N, limit, name, what):
    lengths = np.asarray(lengths)
    if lengths.shape != (N,) or (lengths.size and lengths.dtype.kind not in "iu"):
        raise ValueError(f"{name} must be an integer array of shape ({N},); got {lengths.dtype} "
                         f"{lengths.shape}")
    lengths = lengths.astype(np.int64)
    if N and (lengths.min() < 0 or lengths.max() > limit):
        raise ValueError(f"{name} must lie in [0, {what}={limit}]; got values in "
                         f"[{lengths.min()}, {lengths.max()}]")
    return np.ascontiguousarray(lengths)


def _check_blank(blank, C):
    if not isinstance(blank, int | np.integer) or not 0 <= blank < C:
        raise ValueError(f"blank must be a column index in [0, {C}); got {blank!r}")
    return int(blank)


def _row_parts(N, rows_per_part=8):
    """Row ranges ``(lo, hi)`` for :func:`run_parts`: at most one per thread, at least a few rows each."""
    parts = max(1, min(get_config()["n_threads"], N // rows_per_part))
    bounds = np.linspace(0, N, parts + 1).astype(np.int64)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def ctc_loss(logits, targets, input_lengths, target_lengths, blank=0):
    """CTC negative log-likelihood of each sequence and its gradient with respect to the logits.

    The same numbers as PyTorch's ``ctc_loss(log_softmax(logits), targets,
    input_lengths, target_lengths, blank, reduction="none")`` and the
    gradient of each row's loss with respect to ``logits``: the softmax is
    part of the loss. The recursions run in float64 whatever the logits'
    precision, so long inputs (thousands of frames) stay finite in float32;
    rows are independent and spread over :func:`rnnkit.get_config`'s
    ``n_threads``.

    Parameters
    ----------
    logits : array-like of shape (N, T, C)
        Unnormalised scores of each frame over the ``C`` columns (the blank
        and the labels), batch first; float32 or float64 (other dtypes are
        converted to float64).
    targets : array-like of int, shape (N, S)
        Label sequences, padded: ``targets[n, :target_lengths[n]]`` are column
        indices in ``[0, C)`` other than ``blank``; entries past the length
        are ignored. ``S`` may be 0. Any integer dtype.
    input_lengths : array-like of int, shape (N,)
        Valid frames of each sequence (at most ``T``).
    target_lengths : array-like of int, shape (N,)
        Labels of each sequence (at most ``S``).
    blank : int, default=0
        Column of the blank.

    Returns
    -------
    loss : ndarray of shape (N,)
        ``-log p(targets[n] | logits[n])``, summed over all alignments (not
        divided by the label length, not averaged over the batch), in the
        logits' dtype. ``inf`` where no alignment exists: a label sequence of
        ``L`` labels with ``r`` adjacent repeats needs at least ``L + r``
        frames.
    grad : ndarray of shape (N, T, C)
        Gradient of ``loss[n]`` with respect to ``logits[n]``: the per-frame
        softmax minus the posterior occupancy of each column. Zero past
        ``input_lengths[n]`` and for rows whose loss is ``inf``.

    Raises
    ------
    ValueError
        For shapes or lengths out of range, a blank or out-of-range label
        inside a label sequence.

    See Also
    --------
    rnnkit.RNNTranscriber : An estimator trained with this loss.

    Examples
    --------
    Two frames, columns (blank, "a"), label sequence "a": the alignments
    ``a a``, ``a -`` and ``- a`` collapse to it; with uniform frames each has
    probability 1/4.

    >>> import numpy as np
    >>> from rnnkit.losses import ctc_loss
    >>> loss, grad = ctc_loss(np.zeros((1, 2, 2)), [[1]], [2], [1])
    >>> float(np.exp(-loss[0]))
    0.75
    >>> grad.shape
    (1, 2, 2)
    """
    logits, input_lengths = _check_logits(logits, input_lengths)
    N, T, C = logits.shape
    blank = _check_blank(blank, C)
    targets = np.asarray(targets)
    if targets.ndim != 2 or targets.shape[0] != N or (targets.size and targets.dtype.kind not in "iu"):
        raise ValueError(f"targets must be an integer array of shape ({N}, S); got {targets.dtype} "
                         f"{targets.shape}")
    target_lengths = _check_lengths(target_lengths, N, targets.shape[1], "target_lengths", "S")
    targets = np.ascontiguousarray(targets, dtype=np.int64)
    valid = np.arange(targets.shape[1])[None, :] < target_lengths[:, None]
    inside = targets[valid]
    bad = (inside < 0) | (inside >= C) | (inside == blank)
    if bad.any():
        row = int(np.nonzero(valid & ((targets < 0) | (targets >= C) | (targets == blank)))[0][0])
        raise ValueError(f"targets[{row}] holds {inside[bad][0]} inside its length: labels are column "
                         f"indices in [0, {C}) other than blank={blank}")
    loss = np.empty(N, np.float64)
    grad = np.empty((N, T, C), logits.dtype)
    S = 2 * int(target_lengths.max(initial=0)) + 1

    def part(bounds):
        lo, hi = bounds
        _kernels.ctc_rows(logits, targets, input_lengths, target_lengths, blank, lo, hi, loss, grad,
                          np.empty((T, C)), np.empty((T, C)), np.empty((max(T, 1), S)), np.empty((2, S)),
                          np.empty(C))

    parts = _row_parts(N)
    run_parts(lambda p: part(parts[p]), len(parts))
    return loss.astype(logits.dtype), grad


def greedy_decode(logits, input_lengths, blank=0):
    """Best-path decoding: the most probable column of each frame, repeats merged, blanks dropped.

    Parameters
    ----------
    logits : array-like of shape (N, T, C)
        Per-frame scores: logits, log-probabilities or probabilities (only
        their argmax matters).
    input_lengths : array-like of int, shape (N,)
        Valid frames of each sequence.
    blank : int, default=0
        Column of the blank.

    Returns
    -------
    list of ndarray of int64
        The column indices of each sequence's labelling (ties between
        columns go to the lower index).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ctc import greedy_decode
    >>> best = [1, 1, 0, 1, 2, 2, 0]                  # per-frame argmax; 0 is the blank
    >>> greedy_decode(np.eye(3)[best][None], [7])[0].tolist()
    [1, 1, 2]
    """
    logits, input_lengths = _check_logits(logits, input_lengths)
    N, T, C = logits.shape
    blank = _check_blank(blank, C)
    out = np.empty((N, T), np.int64)
    counts = np.empty(N, np.int64)
    _kernels.greedy_rows(logits, input_lengths, blank, out, counts)
    return [out[n, :counts[n]].copy() for n in range(N)]


def beam_search_decode(logits, input_lengths, beam_width=10, blank=0):
    """Prefix beam search: the most probable labelling among ``beam_width`` candidate prefixes per frame.

    Unlike :func:`greedy_decode`, each candidate labelling's probability sums
    over all its alignments (those ending in a blank and those ending in its
    last label are kept apart, so that repeats are merged correctly), so the
    result can differ from the best path even with ``beam_width=1``. With a
    beam wide enough never to drop a prefix the result is the most probable
    labelling.

    Parameters
    ----------
    logits : array-like of shape (N, T, C)
        Unnormalised per-frame scores (a log-softmax is applied to each frame).
    input_lengths : array-like of int, shape (N,)
        Valid frames of each sequence.
    beam_width : int, default=10
        Prefixes kept after each frame.
    blank : int, default=0
        Column of the blank.

    Returns
    -------
    list of ndarray of int64
        The column indices of each sequence's labelling.

    Examples
    --------
    The best path of these two frames is blank-blank (probability 0.36), but
    the alignments of "a" (``a a``, ``a -``, ``- a``) add up to 0.64:

    >>> import numpy as np
    >>> from rnnkit.ctc import beam_search_decode, greedy_decode
    >>> logits = np.log([[[0.6, 0.4], [0.6, 0.4]]])
    >>> greedy_decode(logits, [2])[0].tolist(), beam_search_decode(logits, [2])[0].tolist()
    ([], [1])
    """
    logits, input_lengths = _check_logits(logits, input_lengths)
    N, T, C = logits.shape
    blank = _check_blank(blank, C)
    if not isinstance(beam_width, int | np.integer) or beam_width < 1:
        raise ValueError(f"beam_width must be a positive integer; got {beam_width!r}")
    W = int(beam_width)
    out = np.empty((N, T), np.int64)
    counts = np.empty(N, np.int64)

    def part(bounds):
        lo, hi = bounds
        Tm = max(T, 1)
        _kernels.beam_rows(logits, input_lengths, blank, W, lo, hi, out, counts, np.empty((Tm, C)),
                           np.empty((Tm, C)),
                           np.empty((W, Tm), np.int64), np.empty(W, np.int64), np.empty(W), np.empty(W),
                           np.empty((W, Tm), np.int64), np.empty(W, np.int64), np.empty(W * C),
                           np.empty(W * C), np.empty(W * C, np.int64), np.empty(W * C, np.int64),
                           np.empty((W, C), np.int64))

    parts = _row_parts(N, rows_per_part=2)
    run_parts(lambda p: part(parts[p]), len(parts))
    return [out[n, :counts[n]].copy() for n in range(N)]
