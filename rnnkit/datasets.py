"""Data sets of the five tutorials, as arrays the estimators take directly.

Sequences are ``(n_samples, n_timesteps)`` arrays for a single input feature
(the echo and rule streams) or ``(n_samples, n_timesteps, n_features)`` arrays
otherwise; per-step class labels are ``(n_samples, n_timesteps)`` integer arrays.

* :func:`make_echo` - the echo task of the truncated-BPTT tutorial (T1);
* :func:`make_subtraction`, :func:`bits_to_int`, :func:`int_to_bits` - every
  binary subtraction ``a - b`` with ``a >= b`` (T2);
* :func:`load_digit_sequences` - scikit-learn's 8 x 8 digits read row by row
  (T3), and :func:`load_mnist_idx` / :func:`read_idx` / :func:`write_idx` for
  MNIST IDX files already on disk (nothing is ever downloaded);
  :func:`make_digit_strings` - strings of those digits written side by side,
  one column of pixels per step, for transcription with CTC (T3's CTC demo);
* :func:`make_number_words` - the three-digit numbers spelled in English
  words, as token ids (token inputs, ``embedding_dim``);
* :func:`make_sine_windows` - consecutive half periods of a sine (T4);
* :func:`make_rule_stream` - a bit stream with a hidden rule (T5), with the
  theoretical losses :data:`RULE_STREAM_CHANCE_LOSS` and
  :data:`RULE_STREAM_OPTIMAL_LOSS`.
"""

import functools
import gzip
import math
import numbers
import os

import numpy as np
from sklearn.utils import Bunch, check_random_state, check_scalar

__all__ = [
    "RULE_STREAM_CHANCE_LOSS",
    "RULE_STREAM_OPTIMAL_LOSS",
    "bits_to_int",
    "int_to_bits",
    "load_digit_sequences",
    "load_mnist_idx",
    "NUMBER_WORDS",
    "make_digit_strings",
    "make_number_words",
    "make_echo",
    "make_rule_stream",
    "make_sine_windows",
    "make_subtraction",
    "read_idx",
    "write_idx",
]

#: Per-step cross-entropy (nats) of a model that has not found the rule of
#: :func:`make_rule_stream`: every target is a fair coin to it, ``ln 2``
#: (accuracy 0.5).
RULE_STREAM_CHANCE_LOSS = math.log(2.0)

#: Per-step cross-entropy (nats) of a model that has learned the rule of
#: :func:`make_rule_stream`: half the targets are forced (loss 0), the other
#: half remain fair coins (loss ``ln 2``), so ``0.5 ln 2`` (accuracy 0.75).
RULE_STREAM_OPTIMAL_LOSS = 0.5 * math.log(2.0)


def _check_int(value, name, min_val=None):
    return int(check_scalar(value, name, target_type=numbers.Integral, min_val=min_val))


def _rows(stream, n_rows):
    """Cut a flat stream row-major into ``n_rows`` contiguous rows."""
    return stream.reshape((n_rows, -1))


def _check_rows(n_bits, n_rows):
    n_bits = _check_int(n_bits, "n_bits", min_val=1)
    n_rows = _check_int(n_rows, "n_rows", min_val=1)
    if n_bits % n_rows:
        raise ValueError(f"n_bits={n_bits} is not a multiple of n_rows={n_rows}.")
    return n_bits, n_rows


# --------------------------------------------------------------------------- T1
def make_echo(
    n_bits: int = 50_000,
    echo_step: int = 3,
    n_rows: int = 5,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random bits and their echo ``echo_step`` steps later (tutorial T1).

    A flat stream ``x`` of ``n_bits`` i.i.d. fair bits is drawn; the target is
    ``y = roll(x, echo_step)`` with ``y[:echo_step] = 0``. Both streams are then
    cut row-major into ``n_rows`` rows, so each row is one contiguous piece of
    the stream (row ``i + 1`` continues row ``i``) and the first ``echo_step``
    targets of a row echo the last bits of the previous row.

    Parameters
    ----------
    n_bits : int, default=50_000
        Length of the flat stream; a multiple of ``n_rows``.
    echo_step : int, default=3
        Delay of the echo, ``0 <= echo_step < n_bits``.
    n_rows : int, default=5
        Number of rows (the tutorial's ``batch_size``).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the bits (drawn as the tutorial does, with
        ``choice(2, n_bits, p=[0.5, 0.5])``).

    Returns
    -------
    X : ndarray of shape (n_rows, n_bits // n_rows), dtype float64
        Input bits, one univariate sequence per row.
    y : ndarray of shape (n_rows, n_bits // n_rows), dtype int64
        Target class (0 or 1) at every step.

    See Also
    --------
    make_rule_stream : A stream whose targets depend on two earlier bits.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.datasets import make_echo
    >>> X, y = make_echo(n_bits=20, echo_step=3, n_rows=2, random_state=0)
    >>> X.shape, y.shape
    ((2, 10), (2, 10))
    >>> x, t = X.ravel(), y.ravel()
    >>> bool(np.all(t[3:] == x[:-3])), t[:3].tolist()
    (True, [0, 0, 0])
    """
    n_bits, n_rows = _check_rows(n_bits, n_rows)
    echo_step = _check_int(echo_step, "echo_step", min_val=0)
    if echo_step >= n_bits:
        raise ValueError(f"echo_step={echo_step} must be smaller than n_bits={n_bits}.")
    rng = check_random_state(random_state)
    x = np.asarray(rng.choice(2, n_bits, p=[0.5, 0.5]), dtype=np.int64)
    y = np.roll(x, echo_step)
    y[:echo_step] = 0
    return _rows(x.astype(np.float64), n_rows), _rows(y, n_rows)


# --------------------------------------------------------------------------- T2
def int_to_bits(values, n_bits: int) -> np.ndarray:
    """Encode non-negative integers as binary digits, least significant bit first.

    The encoding of the numbers in :func:`make_subtraction`.

    Parameters
    ----------
    values : int or array-like of int
        Non-negative integers smaller than ``2 ** n_bits``.
    n_bits : int
        Number of bits per integer.

    Returns
    -------
    ndarray of shape np.shape(values) + (n_bits,), dtype int64
        The bits: ``bits[..., i]`` is bit ``i`` (weight ``2 ** i``).

    See Also
    --------
    bits_to_int : The inverse.

    Examples
    --------
    >>> from rnnkit.datasets import int_to_bits
    >>> int_to_bits(6, 4).tolist()
    [0, 1, 1, 0]
    >>> int_to_bits([13, 7], 4).tolist()
    [[1, 0, 1, 1], [1, 1, 1, 0]]
    """
    n_bits = _check_int(n_bits, "n_bits", min_val=1)
    values = np.asarray(values)
    if values.dtype.kind not in "iub":
        raise TypeError(f"values must be integers, got dtype {values.dtype}.")
    values = values.astype(np.int64)
    if np.any(values < 0) or np.any(values >= 2**n_bits):
        raise ValueError(f"values must lie in [0, {2**n_bits - 1}] for n_bits={n_bits}.")
    return (values[..., None] >> np.arange(n_bits)) & 1


def bits_to_int(bits) -> np.ndarray:
    """Decode binary digits given least significant bit first into integers.

    Decodes the per-step labels of :func:`make_subtraction` (or a classifier's
    predictions of them) back into numbers.

    Parameters
    ----------
    bits : array-like of shape (..., n_bits)
        Bits (0 or 1, any numeric or boolean dtype) along the last axis,
        ``bits[..., i]`` having weight ``2 ** i``.

    Returns
    -------
    ndarray of shape bits.shape[:-1], dtype int64
        The decoded integers (a 0-d array for a single sequence of bits).

    Raises
    ------
    ValueError
        If an entry is neither 0 nor 1, or ``bits`` has no axis.

    See Also
    --------
    int_to_bits : The inverse.

    Examples
    --------
    >>> from rnnkit.datasets import bits_to_int
    >>> int(bits_to_int([1, 1, 1, 0]))  # 13 - 6
    7
    >>> bits_to_int([[1, 1, 0, 1], [0, 0, 1, 1]]).tolist()
    [11, 12]
    """
    bits = np.asarray(bits)
    if bits.ndim == 0:
        raise ValueError("bits must have at least one axis (the bits, LSB first).")
    if not np.all((bits == 0) | (bits == 1)):
        raise ValueError("bits must contain only 0 and 1.")
    if bits.shape[-1] > 62:
        raise ValueError(f"at most 62 bits can be decoded, got {bits.shape[-1]}.")
    weights = np.left_shift(np.int64(1), np.arange(bits.shape[-1], dtype=np.int64))
    return (bits.astype(np.int64) * weights).sum(axis=-1)


def make_subtraction(n_bits: int = 4, *, return_pairs: bool = False):
    """Every binary subtraction ``a - b`` with ``a >= b`` on ``n_bits`` bits (tutorial T2).

    One sample per pair ``0 <= b <= a < 2 ** n_bits`` (ordered by ``a``, then
    ``b``): ``2 ** (n_bits - 1) * (2 ** n_bits + 1)`` samples, 136 for 4 bits and
    32 896 for 8 bits. Each sample reads the two numbers bit by bit, least
    significant bit first, so a borrow travels forward in time. The data set
    is deterministic.

    Parameters
    ----------
    n_bits : int, default=4
        Bits per number (and time steps per sample), between 1 and 15.
    return_pairs : bool, default=False
        Also return the integers ``a`` and ``b`` of each sample.

    Returns
    -------
    X : ndarray of shape (n_pairs, n_bits, 2), dtype float64
        ``X[:, t, 0]`` is bit ``t`` of the minuend ``a``, ``X[:, t, 1]`` bit
        ``t`` of the subtrahend ``b``.
    y : ndarray of shape (n_pairs, n_bits), dtype int64
        ``y[:, t]`` is bit ``t`` of ``a - b``.
    a, b : ndarray of shape (n_pairs,), dtype int64
        The minuends and subtrahends; only when ``return_pairs=True``.

    See Also
    --------
    bits_to_int : Decode ``y`` or predictions of it.

    Examples
    --------
    >>> from rnnkit.datasets import bits_to_int, make_subtraction
    >>> X, y, a, b = make_subtraction(4, return_pairs=True)
    >>> X.shape, y.shape
    ((136, 4, 2), (136, 4))
    >>> i = int(((a == 13) & (b == 6)).nonzero()[0][0])
    >>> X[i, :, 0].tolist(), X[i, :, 1].tolist(), y[i].tolist()
    ([1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0], [1, 1, 1, 0])
    >>> int(bits_to_int(y[i]))
    7
    """
    n_bits = _check_int(n_bits, "n_bits", min_val=1)
    if n_bits > 15:
        raise ValueError(f"n_bits={n_bits} would give more than 2**29 pairs; use at most 15.")
    a, b = np.tril_indices(2**n_bits)  # row index >= column index, row-major order
    a = a.astype(np.int64)
    b = b.astype(np.int64)
    X = np.stack([int_to_bits(a, n_bits), int_to_bits(b, n_bits)], axis=-1).astype(np.float64)
    y = int_to_bits(a - b, n_bits)
    if return_pairs:
        return X, y, a, b
    return X, y


# --------------------------------------------------------------------------- T3
def load_digit_sequences(*, return_X_y: bool = True, n_class: int = 10):
    """Load scikit-learn's 8 x 8 digit images as sequences of rows (tutorial T3).

    The small, bundled stand-in for MNIST read row by row: each image is a
    sequence of 8 time steps of 8 pixels, scaled from 0..16 to [0, 1].

    Parameters
    ----------
    return_X_y : bool, default=True
        Return ``(X, y)``; otherwise a :class:`~sklearn.utils.Bunch`.
    n_class : int, default=10
        Number of classes to keep (digits ``0 .. n_class - 1``), as in
        :func:`sklearn.datasets.load_digits`.

    Returns
    -------
    X : ndarray of shape (n_samples, 8, 8), dtype float64
        ``X[i, t]`` is row ``t`` of image ``i``, in [0, 1]; 1797 samples for
        ``n_class=10``.
    y : ndarray of shape (n_samples,)
        The digit shown.
    data : Bunch
        Only when ``return_X_y=False``: ``data`` (``X``), ``target`` (``y``),
        ``target_names`` and ``DESCR``.

    See Also
    --------
    load_mnist_idx : The full MNIST from IDX files on disk.

    Examples
    --------
    >>> from rnnkit.datasets import load_digit_sequences
    >>> X, y = load_digit_sequences()
    >>> X.shape, y.shape, float(X.min()), float(X.max())
    ((1797, 8, 8), (1797,), 0.0, 1.0)
    """
    from sklearn.datasets import load_digits

    digits = load_digits(n_class=_check_int(n_class, "n_class", min_val=1))
    X = digits.images.astype(np.float64) / 16.0
    y = digits.target
    if return_X_y:
        return X, y
    descr = (
        "scikit-learn's optical recognition of handwritten digits (8 x 8 images, "
        "pixel values 0..16 scaled to [0, 1]) as sequences: one time step per image "
        "row, one feature per pixel of the row.\n\n" + digits.DESCR
    )
    return Bunch(data=X, target=y, target_names=digits.target_names, DESCR=descr)


@functools.lru_cache(maxsize=1)
def _load_digit_images():
    """All 1797 digit images as read-only ``(8, 8)`` arrays in 0..16 and their labels (loaded once)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.ascontiguousarray(digits.images, dtype=np.float64)
    labels = np.asarray(digits.target, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _digit_image_split(test_fraction):
    """Indices of the "train" and "test" images of :func:`make_digit_strings`.

    A stratified split with a fixed seed: for each digit, its images (in
    ``load_digits`` order) are shuffled by ``RandomState(0)`` and the first
    ``round(test_fraction * n_digit)`` of them (at least one, at most all but
    one) go to "test". The split depends on ``test_fraction`` only.

    Returns
    -------
    train, test : ndarray of int64
        Sorted indices into ``load_digits().images``; disjoint, together all of them.
    """
    _, labels = _load_digit_images()
    rng = np.random.RandomState(0)
    test = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        n_test = min(max(int(round(test_fraction * len(members))), 1), len(members) - 1)
        test.append(rng.permutation(members)[:n_test])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[np.concatenate(test)] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def make_digit_strings(
    n_samples: int = 1000,
    *,
    min_digits: int = 3,
    max_digits: int = 6,
    max_gap: int = 4,
    noise: float = 0.05,
    images: str = "train",
    test_fraction: float = 0.25,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[list, list]:
    """Strings of handwritten digits read column by column, for CTC (tutorial T3's CTC demo).

    Each string shows ``k`` digits, ``k`` uniform in ``[min_digits,
    max_digits]``, each an 8 x 8 image of :func:`sklearn.datasets.load_digits`
    (pixel values 0..16, divided by 16). The digits are drawn uniformly from
    0-9 and each is shown by an image drawn uniformly from that digit's images
    in the chosen pool. The images' columns are laid side by side, left to
    right, and read one column per time step: a step is the 8 pixels of one
    column, top to bottom. Before the first image, between images and after
    the last one lies a gap of blank (zero) columns, each gap's width drawn
    uniformly from ``0 .. max_gap``, so a string of ``k`` digits has between
    ``8 k`` and ``8 k + (k + 1) max_gap`` steps. Gaussian noise of standard
    deviation ``noise`` is then added to every pixel, gaps included, and is
    not clipped: values may fall slightly outside [0, 1].

    A model reading the columns in order (a bidirectional LSTM or GRU trained
    with CTC) learns to transcribe the string without being told where a
    digit begins.

    The 1797 images are split once, deterministically, into a "train" and a
    "test" pool: stratified by digit, with a fixed seed, ``test_fraction`` of
    each digit's images in "test". Strings made with ``images="test"`` (and
    the same ``test_fraction``) therefore show only handwriting that strings
    made with ``images="train"`` never show, whatever the ``random_state``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of strings.
    min_digits : int, default=3
        Fewest digits in a string, at least 1.
    max_digits : int, default=6
        Most digits in a string, at least ``min_digits``.
    max_gap : int, default=4
        Widest gap, in blank columns, at least 0 (0: the images touch and the
        string starts and ends with an image).
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added to every pixel, at
        least 0 (0: exact pixel values, ``k / 16``, and exact zeros in the gaps).
    images : {"train", "test", "all"}, default="train"
        Pool the images are drawn from: the training images, the held-out
        images, or all 1797.
    test_fraction : float, default=0.25
        Fraction of each digit's images in the "test" pool, in (0, 1)
        exclusive (each pool keeps at least one image of every digit). Use the
        same value for the training and the held-out strings. Ignored, though
        validated, for ``images="all"``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the numbers of digits, the digits, the images,
        the gaps and the noise; the split of the images does not depend on it.
        The noise is drawn last, so the same seed with a different ``noise``
        gives the same strings, images and gaps.

    Returns
    -------
    X : list of n_samples ndarray of shape (n_timesteps_i, 8), dtype float64
        ``X[i][t]`` is the ``t``-th column of string ``i``, top pixel first.
    y : list of n_samples str
        The digits of each string, left to right, for instance ``"4071"``.

    See Also
    --------
    load_digit_sequences : The same images, one digit per sample, read row by row.

    Examples
    --------
    >>> from rnnkit.datasets import make_digit_strings
    >>> X, y = make_digit_strings(4, random_state=0)
    >>> len(X), len(y), X[0].shape[1]
    (4, 4, 8)
    >>> all(3 <= len(s) <= 6 and s.isdigit() for s in y)
    True
    >>> all(8 * len(s) <= len(x) <= 8 * len(s) + 4 * (len(s) + 1) for x, s in zip(X, y))
    True
    >>> X_test, y_test = make_digit_strings(2, images="test", noise=0.0, max_gap=0,
    ...                                     random_state=1)
    >>> [len(x) == 8 * len(s) for x, s in zip(X_test, y_test)]
    [True, True]
    """
    n_samples = _check_int(n_samples, "n_samples", min_val=1)
    min_digits = _check_int(min_digits, "min_digits", min_val=1)
    max_digits = _check_int(max_digits, "max_digits", min_val=1)
    if max_digits < min_digits:
        raise ValueError(f"max_digits={max_digits} must be at least min_digits={min_digits}.")
    max_gap = _check_int(max_gap, "max_gap", min_val=0)
    noise = float(check_scalar(noise, "noise", target_type=numbers.Real, min_val=0.0))
    if not math.isfinite(noise):
        raise ValueError(f"noise must be finite, got {noise}.")
    test_fraction = float(
        check_scalar(
            test_fraction,
            "test_fraction",
            target_type=numbers.Real,
            min_val=0.0,
            max_val=1.0,
            include_boundaries="neither",
        )
    )
    if not isinstance(images, str) or images not in ("train", "test", "all"):
        raise ValueError(f"images must be 'train', 'test' or 'all', got {images!r}.")
    rng = check_random_state(random_state)

    all_images, all_labels = _load_digit_images()
    if images == "all":
        pool = np.arange(len(all_labels))
    else:
        train, test = _digit_image_split(test_fraction)
        pool = train if images == "train" else test
    # the pool grouped by digit: the images of digit d are pool[starts[d] : starts[d] + counts[d]]
    pool = pool[np.argsort(all_labels[pool], kind="stable")]
    counts = np.bincount(all_labels[pool], minlength=10)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    n_digits = rng.randint(min_digits, max_digits + 1, size=n_samples)
    n_total = int(n_digits.sum())
    digits = rng.randint(0, 10, size=n_total)
    within = (rng.random_sample(n_total) * counts[digits]).astype(np.int64)
    picked = pool[starts[digits] + within]
    gaps = rng.randint(0, max_gap + 1, size=n_total + n_samples)  # k + 1 gaps per string

    # one long array of every string, one after the other: gap, image, gap, ..., image, gap
    gaps_before = np.concatenate([[0], np.cumsum(gaps)])  # total width of the first j gaps
    first_digit = np.concatenate([[0], np.cumsum(n_digits)])  # index of string i's first digit
    string_of_digit = np.repeat(np.arange(n_samples), n_digits)
    # image g is preceded by every earlier image and by gaps 0 .. g + string_of_digit[g]
    image_start = gaps_before[np.arange(n_total) + string_of_digit + 1] + 8 * np.arange(n_total)
    ends = gaps_before[first_digit[1:] + np.arange(1, n_samples + 1)] + 8 * first_digit[1:]
    columns = np.zeros((int(ends[-1]), 8))
    columns[image_start[:, None] + np.arange(8)] = all_images[picked].transpose(0, 2, 1) / 16.0
    if noise > 0:
        columns += noise * rng.standard_normal(columns.shape)

    X = np.split(columns, ends[:-1])
    text = (digits + ord("0")).astype(np.uint8).tobytes().decode("ascii")
    y = [text[a:b] for a, b in zip(first_digit[:-1].tolist(), first_digit[1:].tolist(), strict=True)]
    return X, y


# IDX element types: code -> big-endian dtype
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("=").str: code for code, dt in _IDX_DTYPES.items()}
_MNIST_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
_MNIST_LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{os.fspath(path)!r} is a damaged or truncated gzip file: {exc}") from exc
    elif os.fspath(path).endswith(".gz"):
        raise ValueError(f"{os.fspath(path)!r} ends with .gz but is not a gzip file.")
    return raw


def _parse_idx(raw, name):
    if len(raw) < 4:
        raise ValueError(f"{name!r} is too short to be an IDX file ({len(raw)} bytes).")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{name!r} is not an IDX file: bad magic number {magic:#010x}.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name!r} is truncated: header needs {header} bytes, file has {len(raw)}.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"{name!r} is {what}: shape {shape} of {dtype.name} needs {expected} bytes, file has {len(raw)}."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return magic, data.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    An IDX file holds one array: a 4-byte magic number (two zero bytes, the
    element type code, the number of dimensions), each dimension as a
    big-endian 32-bit integer, then the elements in C order, big-endian.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip compression is recognised by its magic bytes.

    Returns
    -------
    ndarray
        The stored array, in native byte order, with the stored element type
        (``uint8``, ``int8``, ``int16``, ``int32``, ``float32`` or ``float64``).

    Raises
    ------
    ValueError
        On a bad magic number or a file whose size does not match its header.

    See Also
    --------
    write_idx : The inverse.
    load_mnist_idx : Read MNIST images and labels.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from rnnkit.datasets import read_idx, write_idx
    >>> a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "a-idx2-ubyte.gz")
    ...     write_idx(path, a)
    ...     b = read_idx(path)
    >>> b.dtype, bool(np.array_equal(a, b))
    (dtype('uint8'), True)
    """
    return _parse_idx(_read_bytes(path), os.fspath(path))[1]


def write_idx(path, array) -> None:
    """Write an array as an IDX file (the MNIST format).

    The header records the element type and shape (see :func:`read_idx`); the
    elements follow big-endian, as the format requires.

    Parameters
    ----------
    path : str or path-like
        Destination; a name ending in ``.gz`` is gzip-compressed.
    array : array-like
        At least one dimension, each below ``2 ** 32``; element type
        ``uint8``, ``int8``, ``int16``, ``int32``, ``float32`` or ``float64``.
        MNIST images are ``uint8`` of shape (n, 28, 28) (magic number 2051),
        labels ``uint8`` of shape (n,) (magic number 2049).

    Raises
    ------
    ValueError
        If the array has no dimension or a type IDX cannot store.

    See Also
    --------
    read_idx : The inverse.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from rnnkit.datasets import load_mnist_idx, write_idx
    >>> images = np.full((2, 28, 28), 255, dtype=np.uint8)
    >>> labels = np.array([3, 7], dtype=np.uint8)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_idx(os.path.join(tmp, "images-idx3-ubyte"), images)
    ...     write_idx(os.path.join(tmp, "labels-idx1-ubyte"), labels)
    ...     X, y = load_mnist_idx(os.path.join(tmp, "images-idx3-ubyte"),
    ...                           os.path.join(tmp, "labels-idx1-ubyte"))
    >>> X.shape, float(X.max()), y.tolist()
    ((2, 28, 28), 1.0, [3, 7])
    """
    array = np.asarray(array)
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX stores arrays with 1 to 255 dimensions, got {array.ndim}.")
    code = _IDX_CODES.get(array.dtype.newbyteorder("=").str)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}.")
    if any(n >= 2**32 for n in array.shape):
        raise ValueError(f"IDX dimensions must be below 2**32, got shape {array.shape}.")
    header = bytes([0, 0, code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    raw = header + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    if os.fspath(path).endswith(".gz"):
        raw = gzip.compress(raw)
    with open(path, "wb") as f:
        f.write(raw)


def load_mnist_idx(images_path, labels_path=None, *, dtype=np.float64):
    """Load MNIST-style images (and labels) from IDX files already on disk.

    Reads ``train-images-idx3-ubyte`` / ``t10k-images-idx3-ubyte`` style files
    (and their ``labels-idx1-ubyte`` companions), plain or gzip-compressed.
    Nothing is downloaded. Each image is a sequence of its rows, as in
    tutorial T3 (MNIST: 28 steps of 28 pixels).

    Parameters
    ----------
    images_path : str or path-like
        IDX file of unsigned-byte images (magic number 2051).
    labels_path : str or path-like, optional
        IDX file of unsigned-byte labels (magic number 2049), as many as images.
    dtype : dtype, default=np.float64
        Floating type of the returned images (``np.float32`` halves the memory
        of the 60 000 training images, 188 MB instead of 376 MB).

    Returns
    -------
    X : ndarray of shape (n_images, n_rows, n_cols)
        Pixels divided by 255, in [0, 1].
    y : ndarray of shape (n_images,), dtype int64, or None
        The labels; None when ``labels_path`` is None.

    Raises
    ------
    ValueError
        On a wrong magic number, a truncated file, or a label count that differs
        from the image count.

    See Also
    --------
    load_digit_sequences : A small bundled substitute.
    write_idx : Write IDX files.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from rnnkit.datasets import load_mnist_idx, write_idx
    >>> images = np.zeros((3, 4, 5), dtype=np.uint8)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "images-idx3-ubyte")
    ...     write_idx(path, images)
    ...     X, y = load_mnist_idx(path)
    >>> X.shape, X.dtype, y is None
    ((3, 4, 5), dtype('float64'), True)
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}.")
    magic, images = _parse_idx(_read_bytes(images_path), os.fspath(images_path))
    if magic != _MNIST_IMAGES_MAGIC:
        raise ValueError(
            f"{os.fspath(images_path)!r} is not an MNIST image file: magic number {magic} "
            f"(expected {_MNIST_IMAGES_MAGIC}: unsigned bytes, 3 dimensions)."
        )
    X = images.astype(dtype) / dtype.type(255)
    if labels_path is None:
        return X, None
    magic, labels = _parse_idx(_read_bytes(labels_path), os.fspath(labels_path))
    if magic != _MNIST_LABELS_MAGIC:
        raise ValueError(
            f"{os.fspath(labels_path)!r} is not an MNIST label file: magic number {magic} "
            f"(expected {_MNIST_LABELS_MAGIC}: unsigned bytes, 1 dimension)."
        )
    if len(labels) != len(X):
        raise ValueError(f"{len(labels)} labels for {len(X)} images.")
    return X, labels.astype(np.int64)


# --------------------------------------------------------------------------- T4
def make_sine_windows(
    n_windows: int = 100,
    n_points: int = 21,
    start: int = 0,
    *,
    return_time: bool = False,
):
    """Consecutive half periods of a sine, input and one-sample-ahead target (tutorial T4).

    Window ``k`` samples ``sin`` at ``np.linspace(k * np.pi, (k + 1) * np.pi,
    n_points)``, exactly as the tutorial builds step ``k``. The input is the
    first ``n_points - 1`` samples, the target the last ``n_points - 1``: each
    target is the input shifted one sample ahead. Consecutive windows share an
    end point, so the stream of windows continues the sine without a gap.

    Parameters
    ----------
    n_windows : int, default=100
        Number of windows (the tutorial's training steps).
    n_points : int, default=21
        Samples per window, at least 2 (the tutorial's ``num + 1``).
    start : int, default=0
        Index ``k`` of the first window; ``start=n_windows`` gives the windows
        that follow the default ones (for instance the next, unseen window).
    return_time : bool, default=False
        Also return the sampling times.

    Returns
    -------
    X : ndarray of shape (n_windows, n_points - 1, 1), dtype float64
        ``sin(t[k, :-1])``.
    y : ndarray of shape (n_windows, n_points - 1, 1), dtype float64
        ``sin(t[k, 1:])``.
    t : ndarray of shape (n_windows, n_points), dtype float64
        The sampling times of each window; only when ``return_time=True``.

    See Also
    --------
    rnnkit.plotting.plot_prediction : Plot a predicted window against its target.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.datasets import make_sine_windows
    >>> X, y = make_sine_windows()
    >>> X.shape, y.shape
    ((100, 20, 1), (100, 20, 1))
    >>> bool(np.array_equal(X[:, 1:], y[:, :-1]))
    True
    >>> X_next, y_next, t = make_sine_windows(1, start=100, return_time=True)
    >>> round(float(t[0, 0] / np.pi), 6), round(float(t[0, -1] / np.pi), 6)
    (100.0, 101.0)
    """
    n_windows = _check_int(n_windows, "n_windows", min_val=1)
    n_points = _check_int(n_points, "n_points", min_val=2)
    start = _check_int(start, "start")
    t = np.stack([np.linspace(k * np.pi, (k + 1) * np.pi, n_points) for k in range(start, start + n_windows)])
    data = np.sin(t)[:, :, None]
    X, y = data[:, :-1].copy(), data[:, 1:].copy()
    if return_time:
        return X, y, t
    return X, y


# --------------------------------------------------------------------------- T5
def make_rule_stream(
    n_bits: int = 500_000,
    lag: int = 1,
    n_rows: int = 2000,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A bit stream whose targets follow a hidden rule half of the time (tutorial T5).

    A flat stream ``x`` of ``n_bits`` i.i.d. fair bits is drawn. The target at
    step ``t`` looks at the pair ``(x[t - lag - 1], x[t - lag])``:

    * both 1: ``y[t] = 0``;
    * both 0: ``y[t] = 1``;
    * otherwise (or ``t < lag + 1``, where the pair does not exist):
      ``y[t]`` is a fair coin, independent of everything else.

    With the default ``lag=1`` the pair is ``(x[t - 2], x[t - 1])``, the
    tutorial's rule. A larger ``lag`` moves the rule further back: the model
    must carry the two bits for ``lag + 1`` steps, which truncated BPTT with a
    window shorter than that cannot learn. Both streams are then cut row-major
    into ``n_rows`` rows, as in :func:`make_echo`.

    A model that ignores the rule scores the per-step cross-entropy
    :data:`RULE_STREAM_CHANCE_LOSS` (``ln 2``, accuracy 0.5); one that has
    learned it scores :data:`RULE_STREAM_OPTIMAL_LOSS` (``0.5 ln 2``, accuracy
    0.75), since half the targets are forced and half stay coins.

    Parameters
    ----------
    n_bits : int, default=500_000
        Length of the flat stream; a multiple of ``n_rows``.
    lag : int, default=1
        How far back the rule looks: the pair ends ``lag`` steps before the
        target. ``lag=0`` makes the current input part of the pair.
    n_rows : int, default=2000
        Number of rows (the tutorial's ``batch_size``).
    random_state : int, RandomState instance or None, default=None
        Seed or generator. The inputs are drawn first, then one coin for every
        step (forced steps ignore theirs), so a seed gives the same inputs for
        every ``lag``.

    Returns
    -------
    X : ndarray of shape (n_rows, n_bits // n_rows), dtype float64
        Input bits, one univariate sequence per row.
    y : ndarray of shape (n_rows, n_bits // n_rows), dtype int64
        Target class (0 or 1) at every step.

    See Also
    --------
    make_echo : Targets that copy the input a fixed number of steps later.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.datasets import RULE_STREAM_OPTIMAL_LOSS, make_rule_stream
    >>> X, y = make_rule_stream(n_bits=1000, n_rows=10, random_state=0)
    >>> X.shape, y.shape
    ((10, 100), (10, 100))
    >>> x, t = X.ravel(), y.ravel()
    >>> both_ones = (x[:-2] == 1) & (x[1:-1] == 1)  # x[t - 2], x[t - 1]
    >>> bool(np.all(t[2:][both_ones] == 0))
    True
    >>> round(RULE_STREAM_OPTIMAL_LOSS, 4)
    0.3466
    """
    n_bits, n_rows = _check_rows(n_bits, n_rows)
    lag = _check_int(lag, "lag", min_val=0)
    rng = check_random_state(random_state)
    x = np.asarray(rng.choice(2, size=n_bits), dtype=np.int64)
    y = np.asarray(rng.choice(2, size=n_bits), dtype=np.int64)
    first = lag + 1  # first step whose pair exists
    if first < n_bits:
        older = x[: n_bits - first]  # x[t - lag - 1]
        newer = x[1 : n_bits - lag]  # x[t - lag]
        target = y[first:]
        target[(older == 1) & (newer == 1)] = 0
        target[(older == 0) & (newer == 0)] = 1
    return _rows(x.astype(np.float64), n_rows), _rows(y, n_rows)


_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
#: The 28 words of the numbers 1 to 999, in counting order: token id = position.
NUMBER_WORDS = _UNITS + _TEENS + _TENS + ("hundred",)


def _spell(n):
    hundreds, rest = divmod(n, 100)
    words = [_UNITS[hundreds - 1], "hundred"] if hundreds else []
    if 10 <= rest < 20:
        words.append(_TEENS[rest - 10])
    elif rest:
        tens, units = divmod(rest, 10)
        words += ([_TENS[tens - 2]] if tens else []) + ([_UNITS[units - 1]] if units else [])
    return words


def make_number_words(start=100, stop=1000):
    """The numbers from ``start`` to ``stop - 1`` spelled in English words, as sequences of word ids.

    ``343`` is "three hundred forty three", the ids of those words in
    :data:`NUMBER_WORDS`. The target says whether the number starts and ends
    with the same digit (one number in ten of the three-digit ones): the words
    decide it, but a network must carry the first word to the end to see it.

    Parameters
    ----------
    start, stop : int, default=100, 1000
        The numbers, ``1 <= start < stop <= 1000``.

    Returns
    -------
    X : list of ndarray of int64
        The word ids of each number (1 to 4 words).
    y : ndarray of int64
        1 where the number's first digit equals its last.
    numbers : ndarray of int64
        The numbers themselves.

    Examples
    --------
    >>> from rnnkit.datasets import NUMBER_WORDS, make_number_words
    >>> X, y, numbers = make_number_words(343, 344)
    >>> [NUMBER_WORDS[i] for i in X[0]], int(y[0])
    (['three', 'hundred', 'forty', 'three'], 1)
    """
    start, stop = _check_int(start, "start", 1), _check_int(stop, "stop", 2)
    if not start < stop <= 1000:
        raise ValueError(f"need 1 <= start < stop <= 1000, got start={start}, stop={stop}")
    numbers = np.arange(start, stop, dtype=np.int64)
    index = {word: i for i, word in enumerate(NUMBER_WORDS)}
    X = [np.array([index[word] for word in _spell(int(n))], dtype=np.int64) for n in numbers]
    first = numbers // 10 ** (np.floor(np.log10(numbers))).astype(np.int64)
    return X, (first == numbers % 10).astype(np.int64), numbers

