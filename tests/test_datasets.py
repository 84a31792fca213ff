import gzip
import math

import numpy as np
import numpy.testing as npt
import pytest

from rnnkit.datasets import (
    RULE_STREAM_CHANCE_LOSS,
    RULE_STREAM_OPTIMAL_LOSS,
    _digit_image_split,
    bits_to_int,
    int_to_bits,
    load_digit_sequences,
    load_mnist_idx,
    make_digit_strings,
    make_echo,
    make_rule_stream,
    make_sine_windows,
    make_subtraction,
    read_idx,
    write_idx,
)


# --------------------------------------------------------------------------- echo (T1)
def test_echo_defaults_shape_and_dtypes():
    X, y = make_echo(random_state=0)
    assert X.shape == y.shape == (5, 10_000)
    assert X.dtype == np.float64
    assert y.dtype.kind == "i"
    assert set(np.unique(X)) == {0.0, 1.0}
    assert set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize("echo_step", [0, 1, 3, 7])
def test_echo_target_is_rolled_input(echo_step):
    X, y = make_echo(n_bits=600, echo_step=echo_step, n_rows=4, random_state=1)
    x, t = X.ravel(), y.ravel()  # row-major: rows are consecutive pieces of one stream
    expected = np.roll(x, echo_step).astype(int)
    expected[:echo_step] = 0
    npt.assert_array_equal(t, expected)
    # across a row boundary the target echoes the previous row's last bits
    if echo_step:
        npt.assert_array_equal(y[1, :echo_step], X[0, -echo_step:])


def test_echo_matches_tutorial_generator():
    """The tutorial's own code under the same seed gives the same bits."""
    rng = np.random.RandomState(42)  # what np.random.seed(42) sets up, without global state
    x = np.array(rng.choice(2, 50_000, p=[0.5, 0.5]))
    yt = np.roll(x, 3)
    yt[0:3] = 0
    X, y = make_echo(random_state=np.random.RandomState(42))
    npt.assert_array_equal(X, x.reshape((5, -1)))
    npt.assert_array_equal(y, yt.reshape((5, -1)))


def test_echo_bits_are_fair():
    X, _ = make_echo(n_bits=100_000, random_state=3)
    assert abs(X.mean() - 0.5) < 0.01


def test_echo_reproducible():
    a = make_echo(n_bits=300, random_state=7)
    b = make_echo(n_bits=300, random_state=7)
    c = make_echo(n_bits=300, random_state=8)
    npt.assert_array_equal(a[0], b[0])
    npt.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_bits=101, n_rows=5), dict(n_bits=0), dict(echo_step=-1), dict(n_bits=10, n_rows=5, echo_step=10)],
)
def test_echo_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        make_echo(**kwargs)


# --------------------------------------------------------------------------- subtraction (T2)
@pytest.mark.parametrize("n_bits, n_pairs", [(1, 3), (2, 10), (4, 136), (8, 32_896)])
def test_subtraction_counts_and_shapes(n_bits, n_pairs):
    X, y, a, b = make_subtraction(n_bits, return_pairs=True)
    assert X.shape == (n_pairs, n_bits, 2)
    assert y.shape == (n_pairs, n_bits)
    assert a.shape == b.shape == (n_pairs,)
    # every pair with a >= b exactly once
    assert np.all(a >= b)
    assert np.all(a < 2**n_bits)
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == n_pairs


@pytest.mark.parametrize("n_bits", [4, 8])
def test_subtraction_labels_are_differences(n_bits):
    X, y, a, b = make_subtraction(n_bits, return_pairs=True)
    npt.assert_array_equal(bits_to_int(X[:, :, 0]), a)
    npt.assert_array_equal(bits_to_int(X[:, :, 1]), b)
    npt.assert_array_equal(bits_to_int(y), a - b)


def test_subtraction_worked_examples():
    X, y, a, b = make_subtraction(4, return_pairs=True)
    for m, s in [(11, 1), (15, 3), (13, 6)]:
        (i,) = np.flatnonzero((a == m) & (b == s))
        assert bits_to_int(y[i]) == m - s
    (i,) = np.flatnonzero((a == 13) & (b == 6))
    npt.assert_array_equal(X[i, :, 0], [1, 0, 1, 1])  # 13, LSB first
    npt.assert_array_equal(X[i, :, 1], [0, 1, 1, 0])  # 6
    npt.assert_array_equal(y[i], [1, 1, 1, 0])  # 7


def test_subtraction_deterministic_and_default():
    X1, y1 = make_subtraction()
    X2, y2 = make_subtraction(4)
    npt.assert_array_equal(X1, X2)
    npt.assert_array_equal(y1, y2)
    assert X1.dtype == np.float64 and y1.dtype.kind == "i"


def test_bits_roundtrip_and_errors():
    values = np.arange(256)
    npt.assert_array_equal(bits_to_int(int_to_bits(values, 8)), values)
    assert bits_to_int(np.array([True, False, True])) == 5
    assert bits_to_int([0.0, 1.0]) == 2
    with pytest.raises(ValueError):
        bits_to_int([0, 2, 1])
    with pytest.raises(ValueError):
        bits_to_int([0.4, 1])
    with pytest.raises(ValueError):
        int_to_bits(16, 4)
    with pytest.raises(ValueError):
        int_to_bits(-1, 4)
    with pytest.raises(TypeError):
        int_to_bits(1.5, 4)


# --------------------------------------------------------------------------- digits (T3)
def test_digit_sequences():
    X, y = load_digit_sequences()
    assert X.shape == (1797, 8, 8)
    assert y.shape == (1797,)
    assert X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    from sklearn.datasets import load_digits

    npt.assert_allclose(X * 16, load_digits().images)  # rows are time steps


def test_digit_sequences_bunch_and_n_class():
    bunch = load_digit_sequences(return_X_y=False)
    assert bunch.data.shape == (1797, 8, 8)
    assert bunch.target.shape == (1797,)
    assert "sequences" in bunch.DESCR
    X, y = load_digit_sequences(n_class=3)
    assert set(np.unique(y)) == {0, 1, 2}
    assert len(X) == len(y) < 1797


# --------------------------------------------------------------------------- digit strings (T3, CTC)
def _digits_index():
    """load_digits' images (0..16), labels, and a map from an image's bytes to its index."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)
    lookup = {im.tobytes(): i for i, im in enumerate(images)}
    assert len(lookup) == len(images)  # no two images alike: a column block names its image
    return images, digits.target, lookup


def _image_indices(x, label, target, lookup):
    """Indices of the images a noise-free, gap-free string shows, checked against its label."""
    assert x.shape == (8 * len(label), 8)
    found = []
    for j, char in enumerate(label):
        block = x[8 * j : 8 * (j + 1)].T * 16  # columns back to an image (rows, columns)
        pixels = np.rint(block)
        npt.assert_array_equal(block, pixels)  # exact values k / 16
        i = lookup.get(pixels.astype(np.uint8).tobytes())
        assert i is not None, "a block of columns is not an image of load_digits"
        assert target[i] == int(char)
        found.append(i)
    return found


@pytest.mark.parametrize(
    "min_digits, max_digits, max_gap", [(3, 6, 4), (1, 1, 0), (2, 4, 0), (5, 5, 7), (1, 8, 1)]
)
def test_digit_strings_shapes_lengths_and_labels(min_digits, max_digits, max_gap):
    X, y = make_digit_strings(
        400, min_digits=min_digits, max_digits=max_digits, max_gap=max_gap, random_state=0
    )
    assert isinstance(X, list) and isinstance(y, list)
    assert len(X) == len(y) == 400
    for x, label in zip(X, y, strict=True):
        assert isinstance(x, np.ndarray) and x.dtype == np.float64
        assert x.ndim == 2 and x.shape[1] == 8
        assert isinstance(label, str) and set(label) <= set("0123456789")
        k = len(label)
        assert min_digits <= k <= max_digits
        assert 8 * k <= len(x) <= 8 * k + (k + 1) * max_gap
    # every number of digits occurs
    assert {len(label) for label in y} == set(range(min_digits, max_digits + 1))


def test_digit_strings_defaults_gaps_and_digits():
    X, y = make_digit_strings(random_state=1)
    assert len(X) == len(y) == 1000
    k = np.array([len(label) for label in y])
    T = np.array([len(x) for x in X])
    assert set(k) == {3, 4, 5, 6}
    # k + 1 gaps uniform in 0..4: mean width 2, every total from 0 to 4 (k + 1) possible
    per_gap = (T - 8 * k) / (k + 1)
    assert abs(per_gap.mean() - 2.0) < 0.1
    assert (T - 8 * k).min() <= 2 and (T - 8 * k).max() >= 4 * 3 + 2
    # digits uniform over 0-9
    counts = np.bincount([int(c) for label in y for c in label], minlength=10)
    assert counts.sum() == k.sum()
    assert np.all(np.abs(counts / counts.sum() - 0.1) < 0.02)


def test_digit_strings_reproducible():
    a = make_digit_strings(50, random_state=7)
    b = make_digit_strings(50, random_state=7)
    c = make_digit_strings(50, random_state=8)
    assert a[1] == b[1]
    for xa, xb in zip(a[0], b[0], strict=True):
        npt.assert_array_equal(xa, xb)
    assert a[1] != c[1]
    rng = np.random.RandomState(7)
    d = make_digit_strings(50, random_state=rng)
    e = make_digit_strings(50, random_state=rng)
    assert d[1] == a[1]
    assert d[1] != e[1]  # a shared generator advances


def test_digit_strings_noise_is_added_last_and_not_clipped():
    X0, y0 = make_digit_strings(300, noise=0.0, random_state=3)
    X1, y1 = make_digit_strings(300, noise=0.2, random_state=3)
    assert y0 == y1
    clean = np.concatenate(X0)
    assert clean.min() == 0.0 and clean.max() <= 1.0
    npt.assert_array_equal(clean * 16, np.rint(clean * 16))  # pixels k / 16, gaps exact zeros
    diff = np.concatenate(X1) - clean
    assert abs(diff.mean()) < 0.005
    assert abs(diff.std() - 0.2) < 0.005
    noisy = np.concatenate(X1)
    assert noisy.min() < 0.0 and noisy.max() > 1.0  # documented: not clipped


@pytest.mark.parametrize("images", ["train", "test", "all"])
def test_digit_strings_noise_free_are_image_columns(images):
    """Without noise or gaps a string is its images' columns side by side, divided by 16."""
    all_images, target, lookup = _digits_index()
    train, test = _digit_image_split(0.25)
    pool = {"train": set(train.tolist()), "test": set(test.tolist()), "all": set(range(len(target)))}[images]
    X, y = make_digit_strings(300, noise=0.0, max_gap=0, images=images, random_state=4)
    used = []
    for x, label in zip(X, y, strict=True):
        used += _image_indices(x, label, target, lookup)
    assert set(used) <= pool
    # single-digit strings are exactly an image transposed
    (x,), (label,) = make_digit_strings(1, min_digits=1, max_digits=1, max_gap=0, noise=0.0, random_state=5)
    (i,) = _image_indices(x, label, target, lookup)
    npt.assert_array_equal(x, all_images[i].T / 16.0)
    if images == "all":  # draws from both pools
        assert set(used) & set(train.tolist()) and set(used) & set(test.tolist())


def test_digit_strings_train_and_test_pools_are_disjoint():
    _, target, _ = _digits_index()
    for fraction in (0.1, 0.25, 0.5, 0.9):
        train, test = _digit_image_split(fraction)
        assert not set(train.tolist()) & set(test.tolist())
        npt.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(target)))
        # stratified: every digit in both pools, fraction of each digit in test
        for digit in range(10):
            n = np.sum(target == digit)
            n_test = np.sum(target[test] == digit)
            assert 1 <= n_test <= n - 1
            assert abs(n_test - fraction * n) <= 0.5
        # fixed: the same split every time
        again = _digit_image_split(fraction)
        npt.assert_array_equal(again[0], train)
        npt.assert_array_equal(again[1], test)
    # seen through the generator: images shown by test strings never appear in train strings
    _, target, lookup = _digits_index()
    kw = dict(noise=0.0, max_gap=0, test_fraction=0.3)
    seen = {}
    for images, seed in (("train", 0), ("test", 1)):
        X, y = make_digit_strings(400, images=images, random_state=seed, **kw)
        seen[images] = {i for x, s in zip(X, y, strict=True) for i in _image_indices(x, s, target, lookup)}
    assert seen["train"] and seen["test"]
    assert not seen["train"] & seen["test"]
    train, test = _digit_image_split(0.3)
    assert seen["test"] <= set(test.tolist()) and seen["train"] <= set(train.tolist())


def test_digit_strings_fast():
    import time

    make_digit_strings(10, random_state=0)  # load the images once
    start = time.perf_counter()
    X, y = make_digit_strings(2000, random_state=0)
    assert time.perf_counter() - start < 1.0
    assert len(X) == 2000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_samples=0), "n_samples"),
        (dict(min_digits=0), "min_digits"),
        (dict(min_digits=4, max_digits=3), "max_digits"),
        (dict(max_gap=-1), "max_gap"),
        (dict(noise=-0.1), "noise"),
        (dict(noise=float("nan")), "noise"),
        (dict(images="validation"), "images"),
        (dict(images=None), "images"),
        (dict(test_fraction=0.0), "test_fraction"),
        (dict(test_fraction=1.0), "test_fraction"),
        (dict(test_fraction=1.5), "test_fraction"),
    ],
)
def test_digit_strings_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_digit_strings(**kwargs)


def test_digit_strings_bad_types():
    with pytest.raises(TypeError):
        make_digit_strings(2.5)
    with pytest.raises(TypeError):
        make_digit_strings(max_gap=1.0)
    with pytest.raises(TypeError):
        make_digit_strings(noise="0.1")


# --------------------------------------------------------------------------- IDX / MNIST (T3)
def _mnist_like(rng, n=7, rows=5, cols=4):
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_mnist_idx_roundtrip(tmp_path, suffix):
    images, labels = _mnist_like(np.random.default_rng(0))
    ipath = tmp_path / f"train-images-idx3-ubyte{suffix}"
    lpath = tmp_path / f"train-labels-idx1-ubyte{suffix}"
    write_idx(ipath, images)
    write_idx(lpath, labels)
    if suffix:
        assert ipath.read_bytes()[:2] == b"\x1f\x8b"
    else:
        assert int.from_bytes(ipath.read_bytes()[:4], "big") == 2051
        assert int.from_bytes(lpath.read_bytes()[:4], "big") == 2049
    X, y = load_mnist_idx(ipath, lpath)
    assert X.shape == (7, 5, 4) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    npt.assert_allclose(X * 255, images)
    npt.assert_array_equal(y, labels)
    X32, y_none = load_mnist_idx(str(ipath), dtype=np.float32)
    assert X32.dtype == np.float32 and y_none is None


def test_mnist_idx_gzip_detected_by_magic(tmp_path):
    images, _ = _mnist_like(np.random.default_rng(1))
    plain = tmp_path / "plain-idx3-ubyte"
    write_idx(plain, images)
    unnamed = tmp_path / "compressed-without-extension"
    unnamed.write_bytes(gzip.compress(plain.read_bytes()))
    X, _ = load_mnist_idx(unnamed)
    npt.assert_allclose(X * 255, images)


def test_idx_handwritten_header(tmp_path):
    """A file built byte by byte as the MNIST format describes it."""
    pixels = bytes(range(12))
    raw = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2, 3, 2)) + pixels
    path = tmp_path / "images"
    path.write_bytes(raw)
    X, _ = load_mnist_idx(path)
    npt.assert_allclose(X * 255, np.arange(12).reshape(2, 3, 2))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_write_idx_dtypes(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", a)
    b = read_idx(tmp_path / "a.idx")
    assert b.dtype == np.dtype(dtype)
    npt.assert_array_equal(a, b)


def test_idx_bad_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(40))
    with pytest.raises(ValueError, match="magic"):
        load_mnist_idx(path)
    with pytest.raises(ValueError, match="magic"):
        read_idx(path)


def test_idx_labels_given_as_images_and_vice_versa(tmp_path):
    images, labels = _mnist_like(np.random.default_rng(2))
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels)
    with pytest.raises(ValueError, match="2051"):
        load_mnist_idx(tmp_path / "l")
    with pytest.raises(ValueError, match="2049"):
        load_mnist_idx(tmp_path / "i", tmp_path / "i")


def test_idx_truncated(tmp_path):
    images, _ = _mnist_like(np.random.default_rng(3))
    full = tmp_path / "full"
    write_idx(full, images)
    raw = full.read_bytes()
    for cut in (len(raw) - 1, 10, 2):
        path = tmp_path / f"cut{cut}"
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated|too short"):
            load_mnist_idx(path)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(raw)[:-12])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist_idx(gz)


def test_idx_label_count_mismatch(tmp_path):
    images, labels = _mnist_like(np.random.default_rng(4))
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels[:-1])
    with pytest.raises(ValueError, match="labels"):
        load_mnist_idx(tmp_path / "i", tmp_path / "l")


def test_write_idx_rejects_unsupported(tmp_path):
    with pytest.raises(ValueError):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError):
        write_idx(tmp_path / "x", np.uint8(3))


# --------------------------------------------------------------------------- sine (T4)
def test_sine_windows_match_tutorial():
    X, y, t = make_sine_windows(return_time=True)
    assert X.shape == y.shape == (100, 20, 1)
    assert t.shape == (100, 21)
    for step in (0, 1, 37, 99):
        time_steps = np.linspace(step * np.pi, (step + 1) * np.pi, 20 + 1)
        data = np.sin(time_steps).reshape((21, 1))
        npt.assert_array_equal(t[step], time_steps)
        npt.assert_array_equal(X[step], data[0:20, :])
        npt.assert_array_equal(y[step], data[1:21, :])


def test_sine_targets_are_inputs_shifted_one_sample():
    X, y = make_sine_windows(n_windows=5, n_points=11)
    assert X.shape == (5, 10, 1)
    npt.assert_array_equal(X[:, 1:], y[:, :-1])
    # consecutive windows continue the sine: a window ends where the next begins
    npt.assert_allclose(y[:-1, -1, 0], X[1:, 0, 0], atol=1e-12)


def test_sine_start_offsets_windows():
    X_all, y_all = make_sine_windows(n_windows=10)
    X_next, y_next = make_sine_windows(n_windows=3, start=7)
    npt.assert_array_equal(X_next, X_all[7:])
    npt.assert_array_equal(y_next, y_all[7:])


# --------------------------------------------------------------------------- rule stream (T5)
def _pairs(x, lag):
    n = len(x)
    older = np.full(n, -1)
    newer = np.full(n, -1)
    older[lag + 1 :] = x[: n - lag - 1]
    newer[lag + 1 :] = x[1 : n - lag]
    return older, newer


@pytest.mark.parametrize("lag", [0, 1, 2, 6])
def test_rule_stream_forced_and_free(lag):
    X, y = make_rule_stream(n_bits=200_000, lag=lag, n_rows=200, random_state=0)
    assert X.shape == y.shape == (200, 1000)
    x, t = X.ravel().astype(int), y.ravel()
    # reference loop, straight from the rule's definition
    older, newer = _pairs(x, lag)
    for i in range(lag + 1, lag + 50):
        assert older[i] == x[i - lag - 1] and newer[i] == x[i - lag]
    ones = (older == 1) & (newer == 1)
    zeros = (older == 0) & (newer == 0)
    free = ~(ones | zeros)
    assert np.all(t[ones] == 0)
    assert np.all(t[zeros] == 1)
    assert abs(ones.mean() - 0.25) < 0.01 and abs(zeros.mean() - 0.25) < 0.01
    assert abs(t[free].mean() - 0.5) < 0.01
    # free targets are independent of the input pair
    for a in (0, 1):
        sel = free & (older == a) & (newer == 1 - a)
        assert abs(t[sel].mean() - 0.5) < 0.015
    # the first lag + 1 steps have no pair: always free
    assert np.all(free[: lag + 1])


def test_rule_stream_default_rule_is_tutorial_rule():
    X, y = make_rule_stream(n_bits=5000, n_rows=10, random_state=5)
    x, t = X.ravel(), y.ravel()
    for i in range(2, len(x)):
        if x[i - 2] == x[i - 1] == 1:
            assert t[i] == 0
        elif x[i - 2] == x[i - 1] == 0:
            assert t[i] == 1


def test_rule_stream_defaults_and_theory():
    X, y = make_rule_stream(random_state=0)
    assert X.shape == y.shape == (2000, 250)
    assert math.isclose(RULE_STREAM_CHANCE_LOSS, 0.6931471805599453)
    assert math.isclose(RULE_STREAM_OPTIMAL_LOSS, 0.34657359027997264)
    # the best achievable predictor (knowing the rule) reaches the optimal loss and accuracy 0.75
    x, t = X.ravel().astype(int), y.ravel()
    older, newer = _pairs(x, 1)
    p1 = np.where((older == 0) & (newer == 0), 1.0, np.where((older == 1) & (newer == 1), 0.0, 0.5))
    with np.errstate(divide="ignore"):
        ll = np.where(t == 1, np.log(p1), np.log(1 - p1))
    assert np.all(np.isfinite(ll))
    assert abs(-ll.mean() - RULE_STREAM_OPTIMAL_LOSS) < 0.005
    forced = p1 != 0.5
    assert abs(forced.mean() - 0.5) < 0.005


def test_rule_stream_reproducible_and_same_inputs_across_lags():
    a = make_rule_stream(n_bits=1000, n_rows=10, random_state=3)
    b = make_rule_stream(n_bits=1000, n_rows=10, random_state=3)
    c = make_rule_stream(n_bits=1000, lag=4, n_rows=10, random_state=3)
    npt.assert_array_equal(a[0], b[0])
    npt.assert_array_equal(a[1], b[1])
    npt.assert_array_equal(a[0], c[0])
    assert not np.array_equal(a[1], c[1])
    rng = np.random.RandomState(3)
    d = make_rule_stream(n_bits=1000, n_rows=10, random_state=rng)
    e = make_rule_stream(n_bits=1000, n_rows=10, random_state=rng)
    npt.assert_array_equal(a[0], d[0])
    assert not np.array_equal(d[0], e[0])  # a shared generator advances


def test_rule_stream_bad_parameters():
    with pytest.raises(ValueError):
        make_rule_stream(n_bits=1001, n_rows=10)
    with pytest.raises(ValueError):
        make_rule_stream(n_bits=1000, lag=-1, n_rows=10)
    with pytest.raises(TypeError):
        make_rule_stream(n_bits=1000, lag=1.5, n_rows=10)


def test_make_number_words_spells_and_labels():
    from rnnkit.datasets import NUMBER_WORDS, make_number_words

    X, y, numbers = make_number_words()
    assert len(X) == 900 and numbers[0] == 100 and numbers[-1] == 999 and len(NUMBER_WORDS) == 28
    spelled = {int(n): " ".join(NUMBER_WORDS[i] for i in x) for n, x in zip(numbers, X, strict=True)}
    assert spelled[100] == "one hundred" and spelled[112] == "one hundred twelve"
    assert spelled[340] == "three hundred forty" and spelled[999] == "nine hundred ninety nine"
    assert y.sum() == 90 and all(y[n - 100] == (str(n)[0] == str(n)[-1]) for n in (101, 110, 343, 990, 909))
    assert [len(x) for x in make_number_words(7, 21)[0]] == [1] * 14  # seven .. twenty
    with pytest.raises(ValueError, match="start < stop"):
        make_number_words(500, 400)

