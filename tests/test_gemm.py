"""The products on a packed right operand (:mod:`rnnkit.backends.cpu.gemm`) and the models that use them."""

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kernels import compare, make_problem

from rnnkit._config import SMALL_ROW
from rnnkit.backends.cpu.gemm import (
    NARROW_ROWS,
    TN_CHUNK,
    mm_packed,
    mm_tn_packed,
    mm_tn_small,
    mm_tn_w,
    narrow_width,
    pack_nn,
    pack_nt,
    packed_len,
    packs,
    tn_narrow,
)
from rnnkit.network import Network

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _check(out, ref, dtype):
    scale = max(np.abs(ref).max(initial=0.0), 1.0)
    np.testing.assert_allclose(out, ref, rtol=TOL[dtype], atol=TOL[dtype] * scale)


@settings(max_examples=60)
@given(M=st.integers(1, 40), K=st.integers(1, 40), N=st.integers(1, 90),
       dtype=st.sampled_from([np.float32, np.float64]),
       transposed=st.booleans(), accumulate=st.booleans(), fortran=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_packed_product_matches_numpy(M, K, N, dtype, transposed, accumulate, fortran, seed):
    """Every tile height (M mod 6), partial panels (N not a multiple of a panel), a left operand with
    any strides, and accumulation; the scratch's stale values never leak, and a partial tile (stored
    through masks) writes nothing around ``out``."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, K)).astype(dtype)
    if fortran:
        A = np.asfortranarray(A)
    W = rng.standard_normal((N, K) if transposed else (K, N)).astype(dtype)
    buf = np.full(packed_len(N, K) + 5, np.nan, dtype)
    Wp = (pack_nt if transposed else pack_nn)(W, buf)
    start = rng.standard_normal((M, N)).astype(dtype)
    guard = 64  # more than a tile's row of vectors on either side
    flat = np.full(M * N + 2 * guard, np.nan, dtype)
    out = flat[guard:guard + M * N].reshape(M, N)
    out[...] = start
    mm_packed(A, Wp, out, accumulate)
    ref = A.astype(float) @ (W.T if transposed else W).astype(float) + (start if accumulate else 0)
    _check(out, ref, dtype)
    assert np.isnan(flat[:guard]).all() and np.isnan(flat[guard + M * N:]).all()


@pytest.mark.parametrize("product", [mm_tn_w, mm_tn_packed])  # the configured path, and the packed one
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M", [7, TN_CHUNK, TN_CHUNK + 13])  # one chunk, exactly one, a partial second
@pytest.mark.parametrize("accumulate", [False, True])
def test_weight_gradient_product_matches_numpy(product, dtype, M, accumulate):
    rng = np.random.default_rng(M)
    A = rng.standard_normal((M, 40)).astype(dtype)
    B = rng.standard_normal((M, 70)).astype(dtype)
    start = rng.standard_normal((40, 70)).astype(dtype)
    out = start.copy() if accumulate else np.full((40, 70), np.nan, dtype)
    product(A, B, out, np.full(packed_len(70, TN_CHUNK), np.nan, dtype), accumulate)
    _check(out, A.T.astype(float) @ B.astype(float) + (start if accumulate else 0), dtype)


@settings(max_examples=80)
@given(M=st.integers(2, 300), K=st.integers(1, 12), N=st.integers(1, 12),
       dtype=st.sampled_from([np.float32, np.float64]), accumulate=st.booleans(),
       a_layout=st.sampled_from(["rows", "fortran", "columns"]), b_wide=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_small_weight_gradient_matches_numpy(M, K, N, dtype, accumulate, a_layout, b_wide, seed):
    """``mm_tn_small``: the narrow tile for every row count and remainder of its unrolled sums (M mod
    U), one input column (the transposed tile), a left operand with any strides, a right operand whose
    rows are a slice of wider rows, accumulation, and products that stay on BLAS or the compiled loops;
    nothing around ``out`` is written."""
    rng = np.random.default_rng(seed)
    # views of wider arrays (F-contiguous or strided): two compiled signatures per dtype, not one per case
    A = rng.standard_normal((M, K + 3)).astype(dtype, order="F" if a_layout == "fortran" else "C")
    A = A[:, 2:2 + K] if a_layout == "columns" else A[:, :K]
    B = rng.standard_normal((M, N + (5 if b_wide else 1))).astype(dtype)[:, :N]
    start = rng.standard_normal((K, N)).astype(dtype)
    guard = 64
    flat = np.full(K * N + 2 * guard, np.nan, dtype)
    out = flat[guard:guard + K * N].reshape(K, N)
    out[...] = start if accumulate else np.nan
    mm_tn_small(A, B, out, accumulate)
    _check(out, A.T.astype(float) @ B.astype(float) + (start if accumulate else 0), dtype)
    assert np.isnan(flat[:guard]).all() and np.isnan(flat[guard + K * N:]).all()


@pytest.mark.compiled
def test_small_models_weight_gradients_take_the_narrow_tile():
    """The T5 rule stream's gradients (500 rows of 6 units, 2 classes, 1 input) run on the narrow tile;
    outputs wider than one tile stay on BLAS."""
    lanes = narrow_width(np.empty(0, np.float32))
    assert tn_narrow(500, 6, 6, lanes) and tn_narrow(500, 2, 6, lanes) and tn_narrow(500, 6, 1, lanes)
    assert not tn_narrow(3000, NARROW_ROWS + 1, 4, lanes) and not tn_narrow(3000, 4, lanes + 1, lanes)
    assert not tn_narrow(10, 4, 4, lanes)  # below BLAS_MIN_WORK: the compiled loops


def test_mismatched_shapes_raise():
    W = np.ones((4, 64), np.float32)
    Wp = pack_nn(W, np.empty(packed_len(64, 4), np.float32))
    with pytest.raises(ValueError, match="shapes"):
        mm_packed(np.ones((6, 5), np.float32), Wp, np.empty((6, 64), np.float32), False)


#: (cell, H) whose per-step products (8 rows) and input projections (8 x 6 rows of 16 inputs) run packed
PACKED_MODELS = [("rnn", 96), ("lstm", 48), ("gru", 56)]


@pytest.mark.compiled
@pytest.mark.parametrize("cell,H", PACKED_MODELS)
def test_the_models_below_run_packed(cell, H):
    """The shapes of the tests below reach the packed products (else they would test BLAS again); the
    weight gradients run packed only where ``TN_PACKED`` (elsewhere on BLAS, and their packed path is
    tested by ``test_weight_gradient_product_matches_numpy``)."""
    GH = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * H
    assert packs(8, GH, H) and packs(8, H, GH)  # per step, forward and backward
    assert packs(8 * 6, GH, 16) and packs(8 * 6, 16, GH)  # the input projection and its gradient
    assert packs(GH, 16, 8 * 6) and packs(GH, H, 8 * 6)  # the weight gradients (where TN_PACKED)
    assert not packs(5, GH, H)  # fewer rows than a tile


@pytest.mark.parametrize("cell,H", PACKED_MODELS)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_packed_models_match_naive(cell, H, dtype, rtol):
    """Forward, backward (every gradient, the inputs' and the initial state's) and prediction of models
    whose products run packed, against the NumPy reference; masked rows included."""
    rng = np.random.default_rng(H)
    prob = make_problem(rng, cell, "tanh", True, "cross_entropy", "sequence", N=8, T=6, I=16, H=H, K=3,
                        lengths=[6, 6, 2, 6, 5, 6, 1, 6])
    compare(*prob, dtype=dtype, rtol=rtol)


#: (H, rows) of a GRU whose rows take the view-free loops, with enough rows to pack its forward products
SMALL_GRU_PACKED = (SMALL_ROW, 96)


@pytest.mark.compiled
def test_the_small_row_gru_below_runs_packed():
    """The next test's shapes reach the packed forward products (else it would test BLAS again)."""
    H, N = SMALL_GRU_PACKED
    assert packs(N, 3 * H, H)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_gru_small_rows_run_packed_forward_when_the_batch_is_large(dtype, rtol):
    """GRU rows of at most ``SMALL_ROW`` units take the view-free loops; with enough rows their forward
    products run packed too (one rule for every path); against the reference, from a zero and a
    random initial state."""
    H, N = SMALL_GRU_PACKED
    rng = np.random.default_rng(16)
    net, theta, X, lengths, Y, h0, c0 = make_problem(rng, "gru", "tanh", True, "cross_entropy", "last",
                                                     N=N, T=3, I=4, H=H, K=3)
    for start in (np.zeros_like(h0), h0):
        compare(net, theta, X, lengths, Y, start, c0, dtype=dtype, rtol=rtol)


def test_weight_gradients_over_several_chunks_match_naive():
    """A window of more than ``TN_CHUNK`` rows (steps x batch): the weight gradients sum chunk by chunk."""
    rng = np.random.default_rng(3)
    T = TN_CHUNK // 8 + 9
    prob = make_problem(rng, "lstm", "tanh", True, "squared_error", "last", N=8, T=T, I=16, H=48, K=2,
                        lengths=[T, T - 3, T, 4, T, T, T - 40, T])
    compare(*prob, dtype=np.float64, rtol=1e-10)


def _check_against_reference_and_differences(net, theta, X, lengths, Y, h0, c0, rng, n_directions):
    """The loss against the NumPy reference (1e-10), and the gradient and input gradient against central
    differences of the loss along ``n_directions`` random directions each (1e-6)."""
    loss, out = net.loss_and_grad(theta, X, lengths, Y, h0, c0, input_grad=True)
    rloss = naive.network_loss(net, net.coefs(theta), X, lengths, Y, h0, c0, None)[0]
    np.testing.assert_allclose(loss, rloss, rtol=1e-10)
    eps = 1e-6
    for _ in range(n_directions):
        v = rng.normal(size=theta.shape)
        up = net.loss_and_grad(theta + eps * v, X, lengths, Y, h0, c0)[0]
        down = net.loss_and_grad(theta - eps * v, X, lengths, Y, h0, c0)[0]
        np.testing.assert_allclose(out["grad"] @ v, (up - down) / (2 * eps), rtol=1e-6)
        vx = rng.normal(size=X.shape)
        up = net.loss_and_grad(theta, X + eps * vx, lengths, Y, h0, c0)[0]
        down = net.loss_and_grad(theta, X - eps * vx, lengths, Y, h0, c0)[0]
        np.testing.assert_allclose(np.sum(out["dX"] * vx), (up - down) / (2 * eps), rtol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_packed_stacked_bidirectional_gradient_is_the_derivative(cell):
    """Two bidirectional layers whose products run packed (the second layer's input gradient, the
    reversed direction): the loss against the reference, and the gradient against central
    differences of the loss along random directions."""
    rng = np.random.default_rng(9)
    H = 48
    net = Network(cell, 16, H, 3, num_layers=2, bidirectional=True, loss="cross_entropy", output="sequence")
    theta = net.init_params(1) * 2.0
    N, T = 8, 6
    X = rng.normal(size=(N, T, 16))
    lengths = np.array([6, 3, 6, 6, 1, 6, 4, 6])
    Y = rng.integers(0, 3, size=(N, T))
    h0 = rng.normal(size=(net.n_states, N, H)) * 0.5
    c0 = rng.normal(size=(net.n_states, N, H)) * 0.5
    _check_against_reference_and_differences(net, theta, X, lengths, Y, h0, c0, rng, n_directions=3)


@pytest.mark.compiled
@pytest.mark.parametrize("cell,bidirectional", [("lstm", False), ("gru", True)])
def test_prediction_cut_in_parts_equals_the_whole(cell, bidirectional):
    """A prediction chunk whose parts' products run packed is cut in parts on threads: the same outputs,
    final states and per-step states as the whole chunk, bit for bit, over several chunks."""
    from rnnkit import config_context
    from rnnkit.backends import get_backend

    rng = np.random.default_rng(4)
    net = Network(cell, 16, 48, 3, output="sequence", bidirectional=bidirectional)
    theta = net.init_params(2)
    N = 45
    X = rng.normal(size=(N, 6, 16))
    lengths = rng.integers(1, 7, size=N)
    h0 = rng.normal(size=(net.n_states, N, 48))
    c0 = rng.normal(size=(net.n_states, N, 48))
    with config_context(n_threads=2):
        assert get_backend("cpu").predict_parts(net, 20) == 2
        cut = net.predict(theta, X, lengths, h0, c0, chunk=20, hidden_states=True)
    with config_context(train_parts=1):
        assert get_backend("cpu").predict_parts(net, 20) == 1
        whole = net.predict(theta, X, lengths, h0, c0, chunk=20, hidden_states=True)
    for key in ("out", "hT", "cT", "hseq"):
        np.testing.assert_array_equal(cut[key], whole[key], err_msg=key)


def _chunked_steps(net, N, chunks=2):
    """Window steps of ``N`` rows that make ``chunks`` full chunks of ``net``'s and a shorter one (and a
    chunk's steps)."""
    from rnnkit.backends.cpu.stack import window_chunk

    Tc = window_chunk(net.cfg, 10**6, N)
    return chunks * Tc + max(Tc // 2, 1), Tc


@pytest.mark.compiled  # windows of 40-160 steps of 16 x 64 units: minutes as plain Python
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_windows_longer_than_a_projection_chunk_match_naive(cell, dtype, rtol):
    """A window whose input projection runs in several chunks of steps (the cell resumed chunk after
    chunk, lengths counted from each chunk's start): everything equals the reference, with sequences
    ending before, at and after chunk boundaries."""
    N, H = 16, 64
    T, Tc = _chunked_steps(Network(cell, 6, H, 3), N)
    assert 1 < Tc < T, "the window must span more than one projection chunk"
    lengths = [T, 1, Tc, Tc + 1, T - 1, 2 * Tc, Tc - 1 if Tc > 1 else 1, T] * 2
    rng = np.random.default_rng(21)
    net, theta, X, lengths, Y, h0, c0 = make_problem(rng, cell, "tanh", True, "cross_entropy", "sequence",
                                                     N=N, T=T, I=6, H=H, K=3, lengths=lengths)
    compare(net, theta, X, lengths, Y, h0, c0, dtype=dtype, rtol=rtol)


@pytest.mark.compiled
@pytest.mark.parametrize("cell,kw", [("lstm", dict(peephole=True)), ("gru", dict(layer_norm=True)),
                                     ("rnn", dict(dropout=0.0))])
def test_chunked_projection_in_stacked_bidirectional_networks(cell, kw):
    """Two bidirectional layers over a window of several projection chunks (the reverse direction's
    reversed inputs, the second layer's input): the loss against the reference, the gradient and the
    input gradient against central differences."""
    N, H = 8, 64
    net = Network(cell, 5, H, 3, num_layers=2, bidirectional=True, loss="cross_entropy", output="last", **kw)
    T, Tc = _chunked_steps(net, N, chunks=1)
    assert 1 < Tc < T
    rng = np.random.default_rng(22)
    theta = net.init_params(2)
    X = rng.normal(size=(N, T, 5))
    lengths = np.array([T, Tc, 1, Tc + 1, T - 1, 2, T, Tc - 1 if Tc > 1 else 1])
    Y = rng.integers(0, 3, size=N)
    h0 = rng.normal(size=(net.n_states, N, H)) * 0.5
    c0 = rng.normal(size=(net.n_states, N, H)) * 0.5
    _check_against_reference_and_differences(net, theta, X, lengths, Y, h0, c0, rng, n_directions=2)
