"""Compiled kernels against the NumPy loop references and finite differences."""

import itertools
import zlib

import naive
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rnnkit import gradcheck
from rnnkit.backends.cpu.numeric import TANH32_CLAMP, _tanh32_py
from rnnkit.network import Network

CELLS = ["rnn", "lstm", "gru"]
LOSSES = ["cross_entropy", "binary_cross_entropy", "squared_error"]
OUTPUTS = ["sequence", "last"]


def make_problem(rng, cell, act, bias, loss, output, N, T, I, H, K, lengths=None):
    net = Network(cell, I, H, K, nonlinearity=act, bias=bias, loss=loss, output=output)
    theta = net.init_params(rng.integers(1 << 30))
    theta *= 2.0  # larger weights than the default: exercise saturation a little
    X = rng.normal(size=(N, T, I))
    if lengths is None:
        lengths = rng.integers(1, T + 1, size=N)
    if loss == "cross_entropy":
        Y = rng.integers(0, K, size=(N, T) if output == "sequence" else (N,))
    else:
        shape = (N, T, K) if output == "sequence" else (N, K)
        Y = rng.random(shape) if loss == "binary_cross_entropy" else rng.normal(size=shape)
        if loss == "binary_cross_entropy":
            Y = (Y > 0.5).astype(float)
    # states have PyTorch's shape (num_layers * num_directions, N, H)
    h0 = rng.normal(size=(1, N, H)) * 0.5
    c0 = rng.normal(size=(1, N, H)) * 0.5
    return net, theta, X, np.asarray(lengths), Y, h0, c0


def reference(net, theta, X, lengths, Y, h0, c0):
    p = net.coefs(theta.astype(np.float64))
    return naive.network_loss_and_grad(net.cell, net.nonlinearity, net.loss, net.output, p,
                                       X, lengths, Y, h0[0], c0[0])


def compare(net, theta, X, lengths, Y, h0, c0, dtype, rtol):
    th = theta.astype(dtype)
    loss, out = net.loss_and_grad(th, X.astype(dtype), lengths, Y, h0, c0, input_grad=True)
    rloss, rgrads, rhT, rcT = reference(net, th, X.astype(dtype).astype(float), lengths, Y, h0, c0)

    def close(a, b, what):
        a = np.asarray(a, dtype=float)
        scale = max(np.abs(b).max(initial=0.0), 1.0)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=what)

    close(loss, rloss, "loss")
    g = net.coefs(out["grad"])
    for name in net.shapes:
        close(g[name], rgrads[name], name)
    close(out["dX"], rgrads["dX"], "dX")
    close(out["dh0"][0], rgrads["dh0"], "dh0")
    close(out["hT"][0], rhT, "hT")
    if net.cell == "lstm":
        close(out["dc0"][0], rgrads["dc0"], "dc0")
        close(out["cT"][0], rcT, "cT")
    # per-step outputs and hidden states through the prediction kernel
    pred = net.predict(th, X.astype(dtype), lengths, h0, c0, hidden_states=True)
    rhseq, _, _ = naive.cell_forward(net.cell, net.nonlinearity, X.astype(dtype).astype(float),
                                     lengths, net.coefs(th.astype(float)), h0[0], c0[0])
    for b, L in enumerate(lengths):
        close(pred["hseq"][b, :L], rhseq[b, :L], "hseq")
    close(pred["hT"][0], rhT, "predict hT")


@pytest.mark.parametrize("cell,loss,output,bias",
                         list(itertools.product(CELLS, LOSSES, OUTPUTS, [True, False])))
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_matches_naive(cell, loss, output, bias, dtype, rtol):
    # a seed from the case's name that does not change with Python's per-process hash seed
    rng = np.random.default_rng(zlib.crc32(repr((cell, loss, output, bias)).encode()))
    acts = ["tanh", "relu"] if cell == "rnn" else ["tanh"]
    for act in acts:
        prob = make_problem(rng, cell, act, bias, loss, output, N=4, T=6, I=3, H=5, K=3,
                            lengths=[6, 1, 4, 6])
        compare(*prob, dtype=dtype, rtol=rtol)


@pytest.mark.parametrize("cell", CELLS)
def test_rows_above_small_row_match_naive_and_differences(cell):
    """Hidden sizes above ``SMALL_ROW`` take the cells' per-gate-view loops (the other tests' small rows
    take the view-free ones): against the reference and central differences."""
    from rnnkit._config import SMALL_ROW

    rng = np.random.default_rng(5)
    net, theta, X, lengths, Y, h0, c0 = make_problem(rng, cell, "tanh", True, "cross_entropy", "last",
                                                     N=3, T=4, I=2, H=SMALL_ROW + 3, K=3, lengths=[4, 2, 3])
    compare(net, theta, X, lengths, Y, h0, c0, dtype=np.float64, rtol=1e-10)
    gradcheck(net, theta, X, lengths, Y, h0, c0, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("H", [5, 20, 48])  # small rows, per-gate views, packed products (8 rows, I = 16)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_windows_from_a_zero_state_match_naive(cell, H, dtype, rtol):
    """A zero initial state skips the first step's recurrent product and the zero rows of the recurrent
    weights' gradient: everything still equals the reference (the LSTM's cell state is not zero)."""
    rng = np.random.default_rng(H)
    net, theta, X, lengths, Y, h0, c0 = make_problem(rng, cell, "tanh", True, "cross_entropy", "sequence",
                                                     N=8, T=5, I=16, H=H, K=3,
                                                     lengths=[5, 1, 5, 3, 5, 5, 2, 5])
    compare(net, theta, X, lengths, Y, np.zeros_like(h0), c0, dtype=dtype, rtol=rtol)


@pytest.mark.parametrize("scale", [1.0, 30.0])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_two_class_steps_match_naive(scale, dtype, rtol):
    """The two-class per-step cross-entropy (its own loop, :func:`two_class_steps`) against the reference.

    ``scale`` 30 makes logits of magnitude ~100, where ``exp(-|d|)`` underflows.
    """
    rng = np.random.default_rng(11)
    for cell in ("rnn", "gru"):
        net, theta, X, lengths, Y, h0, c0 = make_problem(rng, cell, "tanh", True, "cross_entropy", "sequence",
                                                         N=5, T=7, I=2, H=4, K=2, lengths=[7, 1, 3, 7, 5])
        coefs = net.coefs(theta)
        coefs["weight_out"] = coefs["weight_out"] * scale
        compare(net, net.flatten(coefs), X, lengths, Y, h0, c0, dtype=dtype, rtol=rtol)


@given(
    cell=st.sampled_from(CELLS), act=st.sampled_from(["tanh", "relu"]), bias=st.booleans(),
    loss=st.sampled_from(LOSSES), output=st.sampled_from(OUTPUTS),
    N=st.integers(1, 4), T=st.integers(1, 7), I=st.integers(1, 4), H=st.integers(1, 5),
    K=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
)
def test_matches_naive_random(cell, act, bias, loss, output, N, T, I, H, K, seed):
    assume(loss != "cross_entropy" or K >= 2)
    prob = make_problem(np.random.default_rng(seed), cell, act, bias, loss, output, N, T, I, H, K)
    compare(*prob, dtype=np.float64, rtol=1e-10)


def _min_relu_margin(net, theta, X, lengths, h0):
    """Smallest |pre-activation| of a relu RNN (finite differences fail at the kink)."""
    p = net.coefs(theta)
    margin = np.inf
    for b in range(X.shape[0]):
        h = h0[0, b]
        for t in range(lengths[b]):
            h, _, cache = naive.cell_step("rnn", "relu", X[b, t], h, None, p)
            margin = min(margin, np.abs(cache["a"]).min())
    return margin


@given(
    cell=st.sampled_from(CELLS), act=st.sampled_from(["tanh", "relu"]), bias=st.booleans(),
    loss=st.sampled_from(LOSSES), output=st.sampled_from(OUTPUTS),
    N=st.integers(1, 4), T=st.integers(1, 7), I=st.integers(1, 4), H=st.integers(1, 5),
    K=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
)
def test_gradient_finite_differences(cell, act, bias, loss, output, N, T, I, H, K, seed):
    """Every gradient (parameters, inputs, initial states) against central differences."""
    assume(loss != "cross_entropy" or K >= 2)
    rng = np.random.default_rng(seed)
    net, theta, X, lengths, Y, h0, c0 = make_problem(rng, cell, act, bias, loss, output, N, T, I, H, K)
    if cell == "rnn" and act == "relu":
        assume(_min_relu_margin(net, theta, X, lengths, h0) > 1e-4)
    gradcheck(net, theta, X, lengths, Y, h0, c0, rtol=1e-5, atol=1e-7)


def test_float32_tanh_error_bound():
    x = np.linspace(-12, 12, 400_001).astype(np.float32)
    approx = _tanh32_py(x).astype(np.float64)
    err = np.abs(approx - np.tanh(x.astype(np.float64)))
    assert err.max() < 4e-7
    # odd, bounded by 1 and saturating at the clamp
    np.testing.assert_array_equal(_tanh32_py(-x), -_tanh32_py(x))
    assert np.all(np.abs(approx) <= 1.0)
    assert abs(_tanh32_py(np.float32(TANH32_CLAMP * 2)) - 1) < 1e-6


@pytest.mark.compiled
def test_float32_exp_error_bound():
    from numba import njit

    from rnnkit.backends.cpu.numeric import exp

    @njit
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = exp(x[i])

    x = np.linspace(-110, 90, 400_001).astype(np.float32)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, 88.7, 88.73, -103.8, -104.0], np.float32)
    out = np.empty(x.shape[0] + specials.shape[0], np.float32)
    apply(np.concatenate([x, specials]), out)
    ref = np.exp(x.astype(np.float64))
    normal = (ref > 1.2e-38) & (ref < 3.4e38)
    assert (np.abs(out[:x.shape[0]] - ref)[normal] / ref[normal]).max() < 2e-7
    assert (out[:x.shape[0]][ref < 1.2e-38] < 1.2e-38).all() and np.isinf(out[:x.shape[0]][x > 88.73]).all()
    # exp of nan, inf, -inf, 0
    np.testing.assert_array_equal(out[-8:-4], np.array([np.nan, np.inf, 0, 1], np.float32))
    assert np.isinf(out[-3]) and 0 < out[-2] < 1e-44 and out[-1] == 0  # 88.73 overflows; -103.8 is subnormal


def test_float32_log1p_unit_error_bound():
    from numba import njit

    from rnnkit.backends.cpu.numeric import log1p_unit

    @njit
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = log1p_unit(x[i])

    x = np.concatenate([np.linspace(0, 1, 200_001), np.geomspace(1e-37, 1, 2001)]).astype(np.float32)
    out = np.empty(x.shape[0] + 1, np.float32)
    apply(np.concatenate([x, np.array([np.nan], np.float32)]), out)
    ref = np.log1p(x.astype(np.float64))
    pos = ref > 0
    assert (np.abs(out[:-1] - ref)[pos] / ref[pos]).max() < 3e-7
    assert out[0] == 0 and np.isnan(out[-1])


def test_float32_kernel_tanh_matches_python_twin():
    """The compiled float32 path uses the same rational tanh as the documented NumPy twin."""
    net = Network("rnn", 1, 1, 1, bias=False, loss="squared_error")
    theta = net.flatten({"weight_ih_l0": [[1.0]], "weight_hh_l0": [[0.0]], "bias_ih_l0": [],
                         "bias_hh_l0": [], "weight_out": [[1.0]], "bias_out": []}, np.float32)
    x = np.linspace(-9, 9, 101).astype(np.float32)
    res = net.predict(theta, x[:, None, None], np.ones(101, dtype=int))
    # fused multiply-adds in the compiled code may change the last bits (<= 2 ulp)
    np.testing.assert_allclose(res["out"][:, 0, 0], _tanh32_py(x), rtol=0, atol=2.5e-7)
    assert np.abs(res["out"][:, 0, 0] - np.tanh(x.astype(float))).max() < 4e-7


def test_masked_steps_do_not_change_state_or_gradient():
    """Padding past a sequence's length (any values) changes neither loss nor gradient."""
    rng = np.random.default_rng(3)
    for cell in CELLS:
        net, theta, X, _, Y, h0, c0 = make_problem(rng, cell, "tanh", True, "cross_entropy",
                                                   "sequence", N=3, T=6, I=2, H=3, K=2)
        lengths = np.array([6, 2, 4])
        l1, o1 = net.loss_and_grad(theta, X, lengths, Y, h0, c0)
        X2 = X.copy()
        X2[1, 2:] = rng.normal(size=(4, 2)) * 100
        X2[2, 4:] = np.nan  # padding is never read
        l2, o2 = net.loss_and_grad(theta, X2, lengths, Y, h0, c0)
        assert l1 == l2
        np.testing.assert_array_equal(o1["grad"], o2["grad"])
        # the final state of a short sequence is its state at its own last step
        alone = net.predict(theta, X[1:2, :2], lengths[1:2], h0[:, 1:2], c0[:, 1:2])
        np.testing.assert_allclose(o1["hT"][:, 1], alone["hT"][:, 0], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# small loops; the last four reach BLAS: A @ B.T on a transposed copy of B (40, 23 rows) and on B.T
# itself (too few rows, too large a B); and the column sums' loop over more than 16 columns (rows in
# fours, then the rest)
@pytest.mark.parametrize("shape", [(5, 4, 3), (1, 2, 1), (7, 6, 2), (40, 30, 20), (23, 19, 3), (4, 16, 8),
                                   (9, 40, 30)])
def test_products_and_column_sums_match_numpy(dtype, shape):
    from rnnkit.backends.cpu.linalg import colsum, mm_nn, mm_nn_add, mm_nt, mm_tn

    M, N, K = shape
    rng = np.random.default_rng(0)
    A, Bnk, Bkn, Bmn = (rng.standard_normal(s).astype(dtype) for s in ((M, K), (N, K), (K, N), (M, N)))
    tol = dict(rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)
    for accumulate in (False, True):
        start = rng.standard_normal((M, N)).astype(dtype)
        out = start.copy()
        mm_nt(A, Bnk, out, accumulate)
        np.testing.assert_allclose(out, A @ Bnk.T + (start if accumulate else 0), **tol)
        out = start.copy()
        mm_nn(A, Bkn, out, accumulate)
        np.testing.assert_allclose(out, A @ Bkn + (start if accumulate else 0), **tol)
        start_kn = rng.standard_normal((K, N)).astype(dtype)
        out = start_kn.copy()
        mm_tn(A, Bmn, out, accumulate)
        np.testing.assert_allclose(out, A.T @ Bmn + (start_kn if accumulate else 0), **tol)
        s0 = rng.standard_normal(N).astype(dtype)
        s = s0.copy()
        colsum(Bmn, s, accumulate)
        np.testing.assert_allclose(s, Bmn.sum(axis=0) + (s0 if accumulate else 0), **tol)
    out = start.copy()
    mm_nn_add(A, Bkn, out, np.full(M * N + 3, np.nan, dtype))  # the scratch's old values never leak
    np.testing.assert_allclose(out, start + A @ Bkn, **tol)


@given(M=st.integers(1, 700), N=st.integers(1, 20), dtype=st.sampled_from([np.float32, np.float64]),
       accumulate=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_column_sums_match_numpy(M, N, dtype, accumulate, seed):
    """``colsum`` on every path: few columns and many rows (blocks of ``COLSUM_BLOCK`` rows summed as one
    flat loop, and the rows left over), few rows, more than 16 columns; ``A`` rows of a larger array."""
    from rnnkit.backends.cpu.linalg import colsum

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M + 3, N)).astype(dtype)[1:M + 1]
    s0 = rng.standard_normal(N).astype(dtype)
    s = s0.copy() if accumulate else np.full(N, np.nan, dtype)
    colsum(A, s, accumulate)
    ref = A.astype(np.float64).sum(axis=0) + (s0 if accumulate else 0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(s, ref, rtol=tol, atol=tol * max(1.0, np.sqrt(M)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("operands", ["row views", "column views"])
def test_weight_gradient_blas_product_on_views(dtype, accumulate, operands):
    """``mm_tn`` above the BLAS threshold on views: rows wider than the view (BLAS called directly with
    their leading dimensions, accumulating in place) and strided columns (through ``np.dot``)."""
    from rnnkit.backends.cpu.linalg import mm_tn

    rng = np.random.default_rng(1)
    M, K, N = 37, 21, 13
    step = 1 if operands == "row views" else 2
    A = rng.standard_normal((M, 3 + K * step + 5)).astype(dtype)[:, 3:3 + K * step:step]
    B = rng.standard_normal((M, N * step + 7)).astype(dtype)[:, :N * step:step]
    start = rng.standard_normal((K, N)).astype(dtype)
    out = start.copy()
    mm_tn(A, B, out, accumulate)
    tol = dict(rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)
    ref = A.T.astype(float) @ B.astype(float)
    np.testing.assert_allclose(out, ref + (start if accumulate else 0), **tol)
