"""Metrics of label-sequence predictions (:class:`rnnkit.RNNTranscriber`'s score)."""

__all__ = ["edit_distance", "label_error_rate"]


def edit_distance(a, b):
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning ``a`` into ``b``.

    Parameters
    ----------
    a, b : sequence
        Label sequences (strings, lists or 1-D arrays of hashable labels).

    Returns
    -------
    int

    Examples
    --------
    >>> from rnnkit.metrics import edit_distance
    >>> edit_distance("kitten", "sitting")
    3
    """
    a, b = list(a), list(b)
    if len(a) < len(b):
        a, b = b, a
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def label_error_rate(y_true, y_pred):
    """Total edit distance between predicted and true label sequences over the total true length.

    The label error rate of Graves et al. (2006), the character (or word)
    error rate of speech recognition: 0 for perfect transcriptions; it can
    exceed 1 when predictions insert many labels.

    Parameters
    ----------
    y_true : sequence of sequences
        Reference label sequences (strings, lists or 1-D arrays).
    y_pred : sequence of sequences
        Predicted label sequences, as many as ``y_true``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When the numbers of sequences differ or the references are all empty.

    Examples
    --------
    >>> from rnnkit.metrics import label_error_rate
    >>> label_error_rate(["abc", "de"], ["abd", "de"])
    0.2
    """
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} sequences but y_pred has {len(y_pred)}")
    total = sum(len(t) for t in y_true)
    if total == 0:
        raise ValueError("the reference sequences are all empty: the label error rate is undefined")
    return sum(edit_distance(t, p) for t, p in zip(y_true, y_pred, strict=True)) / total
