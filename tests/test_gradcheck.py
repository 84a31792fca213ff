"""rnnkit.gradcheck: passes on the compiled kernels, fails (naming the block) on a corrupted gradient."""

import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import rnnkit
from rnnkit import GradcheckError, RNNClassifier, RNNRegressor, gradcheck
from rnnkit._gradcheck import central_differences
from rnnkit.network import Network

N, T, I, H, K = 2, 3, 2, 2, 2
VARIANTS = {
    "rnn-seq": dict(cell="rnn", output="sequence"),
    "lstm-last": dict(cell="lstm", output="last"),
    "gru-last": dict(cell="gru", output="last", loss="binary_cross_entropy"),
    "lstm-peep-ln": dict(cell="lstm", peephole=True, layer_norm=True, loss="squared_error"),
    "gru-L2-bi-drop": dict(cell="gru", num_layers=2, bidirectional=True, dropout=0.3),
    "rnn-nobias-bi": dict(cell="rnn", bidirectional=True, bias=False, output="last"),
}


def problem(seed=0, **kwargs):
    kwargs.setdefault("loss", "cross_entropy")
    net = Network(input_size=I, hidden_size=H, output_size=K, **kwargs)
    rng = np.random.default_rng(seed)
    theta = net.init_params(seed)
    X = rng.normal(size=(N, T, I))
    lengths = np.array([3, 2])
    shape = (N, T) if net.output == "sequence" else (N,)
    if net.loss == "cross_entropy":
        Y = rng.integers(0, K, size=shape)
    else:
        Y = (rng.random(shape + (K,)) > 0.5).astype(float)
    S = (net.n_states, N, H)
    return net, theta, X, lengths, Y, rng.normal(size=S) * 0.5, rng.normal(size=S) * 0.5


class Corrupted:
    """A Network whose analytic gradient is off by ``delta`` in one entry of one block."""

    def __init__(self, net, block, index, delta=1e-3):
        self.net, self.block, self.index, self.delta = net, block, index, delta

    def __getattr__(self, name):
        return getattr(self.net, name)

    def loss_and_grad(self, theta, *args, **kwargs):
        loss, out = self.net.loss_and_grad(theta, *args, **kwargs)
        if self.block in ("dX", "dh0", "dc0"):
            if self.block in out:  # dX only with input_grad=True
                out[self.block][self.index] += self.delta
        else:
            self.net.coefs(out["grad"])[self.block][self.index] += self.delta
        return loss, out


@pytest.mark.parametrize("kwargs", VARIANTS.values(), ids=VARIANTS.keys())
def test_passes_on_compiled_kernels(kwargs):
    net, theta, X, lengths, Y, h0, c0 = problem(**kwargs)
    copies = [a.copy() for a in (theta, X, h0, c0)]
    ratio = gradcheck(net, theta, X, lengths, Y, h0, c0)
    assert isinstance(ratio, float) and 0.0 <= ratio <= 1.0
    assert gradcheck(net, theta, X, lengths, Y, check_inputs=False) <= 1.0  # zero states
    for before, after in zip(copies, (theta, X, h0, c0), strict=True):
        np.testing.assert_array_equal(before, after)  # nothing perturbed is left changed


def test_exported():
    assert rnnkit.gradcheck is gradcheck and "gradcheck" in rnnkit.__all__
    assert issubclass(GradcheckError, AssertionError)


@pytest.mark.parametrize("kwargs,block,index", [
    (dict(cell="lstm"), "weight_hh_l0", (1, 0)),
    (dict(cell="gru", bidirectional=True), "weight_hh_l0_reverse", (4, 1)),
    (dict(cell="rnn", num_layers=2), "bias_ih_l1", (1,)),
    (dict(cell="lstm", output="last"), "weight_out", (0, 1)),
    (dict(cell="gru"), "dX", (1, 0, 1)),
    (dict(cell="lstm", bidirectional=True), "dh0", (1, 0, 1)),
    (dict(cell="lstm"), "dc0", (0, 1, 0)),
])
def test_fails_naming_the_corrupted_block(kwargs, block, index):
    net, theta, X, lengths, Y, h0, c0 = problem(**kwargs)
    bad = Corrupted(net, block, index)
    where = f"{block}[{', '.join(map(str, index))}]"
    with pytest.raises(GradcheckError, match=re.escape(where)) as info:
        gradcheck(bad, theta, X, lengths, Y, h0, c0)
    msg = str(info.value)
    assert f"in {block} (1);" in msg  # that entry and no other
    assert "analytic" in msg and "numeric" in msg
    ratio = gradcheck(bad, theta, X, lengths, Y, h0, c0, raise_exception=False)
    assert ratio > 1.0
    # the same error, within a looser tolerance, passes
    assert gradcheck(bad, theta, X, lengths, Y, h0, c0, atol=1e-2) <= 1.0


def test_ratio_is_the_assert_allclose_rule():
    net, theta, X, lengths, Y, h0, c0 = problem(cell="gru")
    delta = 1e-4
    bad = Corrupted(net, "bias_hh_l0", (2,), delta=delta)
    _, out = net.loss_and_grad(theta, X, lengths, Y, h0, c0)
    n = out["grad"][net.offsets[list(net.shapes).index("bias_hh_l0")] + 2]
    # |a - n| ~= delta: passes exactly when atol + rtol * |n| covers it
    tol_pass = dict(rtol=0.0, atol=delta * 1.01)
    tol_fail = dict(rtol=0.0, atol=delta * 0.99)
    assert gradcheck(bad, theta, X, lengths, Y, h0, c0, **tol_pass) <= 1.0
    ratio = gradcheck(bad, theta, X, lengths, Y, h0, c0, raise_exception=False, **tol_fail)
    assert ratio == pytest.approx(1 / 0.99, rel=1e-3)
    ratio = gradcheck(bad, theta, X, lengths, Y, h0, c0, raise_exception=False, rtol=1e-5, atol=1e-7)
    assert ratio == pytest.approx(delta / (1e-7 + 1e-5 * abs(n)), rel=1e-3)


def test_float64_required():
    net, theta, X, lengths, Y, h0, c0 = problem(cell="rnn")
    with pytest.raises(ValueError, match="float64"):
        gradcheck(net, theta.astype(np.float32), X, lengths, Y)
    with pytest.raises(ValueError, match="theta is required"):
        gradcheck(net, None, X, lengths, Y)


def test_dropout_needs_a_seed():
    net, theta, X, lengths, Y, h0, c0 = problem(cell="lstm", dropout=0.5)
    with pytest.raises(ValueError, match="dropout_seed"):
        gradcheck(net, theta, X, lengths, Y, dropout_seed=None)
    assert gradcheck(net, theta, X, lengths, Y, dropout_seed=3) <= 1.0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fitted_estimators(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 4, 2))
    lengths = np.full(6, 4)
    y = np.array([0, 1, 0, 1, 1, 0])
    clf = RNNClassifier(cell="gru", hidden_size=3, max_iter=1, random_state=0, dtype=dtype).fit(X, y)
    theta = clf._theta.copy()
    assert gradcheck(clf, None, X, lengths, y) <= 1.0  # its weights, as a float64 copy
    np.testing.assert_array_equal(clf._theta, theta)
    reg = RNNRegressor(cell="lstm", hidden_size=2, output="sequence", max_iter=1, random_state=0,
                       dtype=dtype).fit(X, X[:, :, :1])
    assert gradcheck(reg, None, X, lengths, X[:, :, :1]) <= 1.0
    with pytest.raises(NotFittedError):
        gradcheck(RNNClassifier(), None, X, lengths, y)


def test_central_differences_fourth_order():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    f = lambda: float(np.sum(np.sin(x) * x**3))
    g = central_differences(x, f, eps=1e-3)
    np.testing.assert_allclose(g, np.cos(x) * x**3 + 3 * np.sin(x) * x**2, rtol=1e-9)
    np.testing.assert_array_equal(x, [[0.3, -1.2], [2.0, 0.5]])
