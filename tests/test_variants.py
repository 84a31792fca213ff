"""Stacked, bidirectional, dropout, peephole and layer-normalised networks.

Every combination of cell x {1, 2} layers x bidirectional x peephole (LSTM) x
layer norm x dropout (fixed masks) x output mode, on variable-length batches:
the compiled kernels against the NumPy loop references of ``tests/naive.py``
and their gradients against central finite differences.
"""

import itertools
import os
import zlib

import naive
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnkit import gradcheck
from rnnkit.network import Network
from rnnkit.optim import Optimizer

LOSSES = ["cross_entropy", "binary_cross_entropy", "squared_error"]
#: hypothesis examples per combination of the gradient check (128 combinations)
FD_EXAMPLES = int(os.environ.get("RNNKIT_FD_EXAMPLES", "6"))


def _combos():
    out = []
    for cell, layers, bidir, ln, drop, output in itertools.product(
            ["rnn", "lstm", "gru"], [1, 2], [False, True], [False, True], [0.0, 0.4], ["sequence", "last"]):
        for peep in ([False, True] if cell == "lstm" else [False]):
            out.append((cell, layers, bidir, peep, ln, drop, output))
    return out


COMBOS = _combos()
IDS = ["{}-L{}{}{}{}{}-{}".format(c, k, "-bi" if b else "", "-peep" if p else "", "-ln" if n else "",
                                  "-drop" if d else "", o) for c, k, b, p, n, d, o in COMBOS]


def make_net(combo, I, H, K, loss="cross_entropy", act="tanh"):
    cell, layers, bidir, peep, ln, drop, output = combo
    return Network(cell, I, H, K, nonlinearity=act, loss=loss, output=output, num_layers=layers,
                   bidirectional=bidir, peephole=peep, layer_norm=ln, dropout=drop)


def make_problem(rng, net, N, T, lengths=None):
    theta = net.init_params(rng.integers(1 << 30)) * 2.0
    for name, view in net.coefs(theta).items():  # gains and biases away from their init
        if name.startswith("ln_"):
            view += 0.3 * rng.normal(size=view.shape)
    X = rng.normal(size=(N, T, net.input_size))
    if lengths is None:
        lengths = rng.integers(1, T + 1, size=N)
    K = net.output_size
    if net.loss == "cross_entropy":
        Y = rng.integers(0, K, size=(N, T) if net.output == "sequence" else (N,))
    else:
        shape = (N, T, K) if net.output == "sequence" else (N, K)
        Y = (rng.random(shape) > 0.5).astype(float) if net.loss == "binary_cross_entropy" \
            else rng.normal(size=shape)
    S = (net.n_states, N, net.hidden_size)
    h0 = rng.normal(size=S) * 0.5
    c0 = rng.normal(size=S) * 0.5
    return theta, X, np.asarray(lengths), Y, h0, c0


def min_layer_norm_variance(net, theta, X, lengths, h0, c0, seed):
    """Smallest variance a layer norm of the training pass normalises (the NumPy reference's, same masks).

    Central differences with ``eps=1e-6`` fail where a layer norm's input
    has almost no variance: ``(a - mean) / sqrt(var + 1e-5)`` bends sharply
    there (over 2 units, ``var`` is ``((a0 - a1) / 2) ** 2``), so the gradient
    checks stay away from it, as from the relu's kink.
    """
    seen = [np.inf]
    plain = naive.layer_norm

    def recording(a, gain, bias):
        seen[0] = min(seen[0], float(((a - a.mean()) ** 2).mean()))
        return plain(a, gain, bias)

    naive.layer_norm = recording
    try:
        masks = net.dropout_masks(seed, X.shape[0], X.shape[1]) if net.dropout else None
        naive.network_forward(net, net.coefs(theta), X, lengths, h0, c0, masks)
    finally:
        naive.layer_norm = plain
    return seen[0]


def _close(a, b, rtol, what):
    a = np.asarray(a, dtype=float)
    scale = max(np.abs(b).max(initial=0.0), 1.0)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=what)


# ----------------------------------------------------------------------------- forward vs naive
@pytest.mark.parametrize("combo", COMBOS, ids=IDS)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)], ids=["f64", "f32"])
def test_matches_naive(combo, dtype, rtol):
    rng = np.random.default_rng(zlib.crc32(repr(combo).encode()))
    for act in (["tanh", "relu"] if combo[0] == "rnn" else ["tanh"]):
        net = make_net(combo, I=3, H=4, K=3, act=act)
        theta, X, lengths, Y, h0, c0 = make_problem(rng, net, N=3, T=5, lengths=[5, 1, 3])
        th = theta.astype(dtype)
        Xd = X.astype(dtype)
        p = net.coefs(th.astype(float))
        Xf = Xd.astype(float)
        # training pass: loss and final states with the seeded masks
        masks = net.dropout_masks(7, 3, 5) if net.dropout else None
        loss, out = net.loss_and_grad(th, Xd, lengths, Y, h0, c0, dropout_seed=7)
        rloss, _, rhT, rcT, _ = naive.network_loss(net, p, Xf, lengths, Y, h0, c0, masks)
        _close(loss, rloss, rtol, "loss")
        _close(out["hT"], rhT, rtol, "hT")
        if net.has_cell_state:
            _close(out["cT"], rcT, rtol, "cT")
        # prediction: dropout off, outputs, states and the top layer's outputs
        pred = net.predict(th, Xd, lengths, h0, c0, hidden_states=True)
        rlogits, rhT, rcT, rhseq = naive.network_forward(net, p, Xf, lengths, h0, c0)
        _close(pred["out"], rlogits, rtol, "out")
        _close(pred["hT"], rhT, rtol, "predict hT")
        _close(pred["hseq"], rhseq, rtol, "hseq")
        if net.has_cell_state:
            _close(pred["cT"], rcT, rtol, "predict cT")


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("combo", COMBOS, ids=IDS)
@settings(max_examples=FD_EXAMPLES)
@given(N=st.integers(1, 3), T=st.integers(1, 5), I=st.integers(1, 3), H=st.integers(1, 4),
       K=st.integers(2, 3), loss=st.sampled_from(LOSSES), seed=st.integers(0, 2**31 - 1))
def test_gradient_finite_differences(combo, N, T, I, H, K, loss, seed):
    """Parameters, inputs and initial states against central differences (fixed dropout masks)."""
    rng = np.random.default_rng(seed)
    net = make_net(combo, I, H, K, loss=loss)
    theta, X, lengths, Y, h0, c0 = make_problem(rng, net, N, T)
    if net.layer_norm:
        assume(min_layer_norm_variance(net, theta, X, lengths, h0, c0, seed) > 1e-4)
    gradcheck(net, theta, X, lengths, Y, h0, c0, dropout_seed=seed, rtol=1e-5, atol=1e-7)


def test_single_layer_gradients_match_naive_backward():
    """The plain single-layer path still equals the explicit NumPy BPTT (float64, 1e-10)."""
    rng = np.random.default_rng(0)
    for cell in ["rnn", "lstm", "gru"]:
        net = Network(cell, 2, 3, 2, output="sequence")
        theta, X, lengths, Y, h0, c0 = make_problem(rng, net, 3, 4)
        _, out = net.loss_and_grad(theta, X, lengths, Y, h0, c0)
        _, g, _, _ = naive.network_loss_and_grad(cell, "tanh", net.loss, net.output, net.coefs(theta),
                                                 X, lengths, Y, h0[0], c0[0])
        for name, v in net.coefs(out["grad"]).items():
            _close(v, g[name], 1e-10, name)


# ----------------------------------------------------------------------------- variable lengths
@pytest.mark.parametrize("cell,peep,ln", [("rnn", False, False), ("gru", False, False), ("gru", False, True),
                                          ("lstm", False, False), ("lstm", True, True)])
@pytest.mark.parametrize("output", ["sequence", "last"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_equals_each_sequence_alone(cell, peep, ln, output, dtype):
    """A bidirectional 2-layer network gives every sequence of a batch what it gives it alone."""
    rng = np.random.default_rng(11)
    net = Network(cell, 3, 5, 4, output=output, num_layers=2, bidirectional=True, peephole=peep,
                  layer_norm=ln)
    theta = net.init_params(0, dtype)
    lengths = np.array([7, 1, 4, 6, 2])
    X = rng.normal(size=(5, 7, 3)).astype(dtype)
    X[np.arange(7)[None, :] >= lengths[:, None]] = np.nan  # padding is never read
    batch = net.predict(theta, X, lengths, hidden_states=True)
    for b, n in enumerate(lengths):
        alone = net.predict(theta, X[b:b + 1, :n], lengths[b:b + 1], hidden_states=True)
        if output == "sequence":
            np.testing.assert_allclose(batch["out"][b, :n], alone["out"][0], rtol=0, atol=1e-6)
            assert np.all(batch["out"][b, n:] == 0)
        else:
            np.testing.assert_allclose(batch["out"][b], alone["out"][0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(batch["hseq"][b, :n], alone["hseq"][0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(batch["hT"][:, b], alone["hT"][:, 0], rtol=0, atol=1e-6)
    assert np.all(np.isfinite(batch["out"]))


def test_bidirectional_last_output_is_pytorch_h_n():
    """Last-step features: forward state at the last valid step, reverse state after the whole sequence."""
    rng = np.random.default_rng(2)
    net = Network("gru", 2, 3, 2, output="last", bidirectional=True)
    theta = net.init_params(0)
    X = rng.normal(size=(2, 5, 2))
    lengths = np.array([5, 3])
    pred = net.predict(theta, X, lengths, hidden_states=True)
    c = net.coefs(theta)
    for b, n in enumerate(lengths):
        feat = np.concatenate([pred["hseq"][b, n - 1, :3], pred["hseq"][b, 0, 3:]])
        np.testing.assert_allclose(feat, pred["hT"][:, b].reshape(-1), rtol=1e-12)
        np.testing.assert_allclose(pred["out"][b], c["weight_out"] @ feat + c["bias_out"], rtol=1e-12)


# ----------------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_matches_pytorch_stacked_bidirectional(cell):
    """Names, shapes, gate order and h_n semantics are PyTorch's (2 layers, bidirectional)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    net = Network(cell, 3, 4, 2, output="sequence", num_layers=2, bidirectional=True)
    theta = net.init_params(1)
    mod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    c = net.coefs(theta)
    with torch.no_grad():
        for name, param in mod.named_parameters():
            param.copy_(torch.from_numpy(c[name]))
    X = rng.normal(size=(2, 6, 3))
    h0 = rng.normal(size=(4, 2, 4))
    c0 = rng.normal(size=(4, 2, 4))
    state = (torch.from_numpy(h0), torch.from_numpy(c0)) if cell == "lstm" else torch.from_numpy(h0)
    y, hn = mod(torch.from_numpy(X), state)
    pred = net.predict(theta, X, np.array([6, 6]), h0, c0, hidden_states=True)
    np.testing.assert_allclose(pred["hseq"], y.detach().numpy(), rtol=1e-10, atol=1e-12)
    hn_t = hn[0] if cell == "lstm" else hn
    np.testing.assert_allclose(pred["hT"], hn_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(pred["cT"], hn[1].detach().numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- dropout
def test_dropout_masks_are_seeded_and_inverted():
    net = Network("lstm", 2, 8, 3, num_layers=3, bidirectional=True, dropout=0.25, output="last")
    m1 = net.dropout_masks(3, 50, 20)
    m2 = net.dropout_masks(3, 50, 20)
    m3 = net.dropout_masks(4, 50, 20)
    assert [m.shape for m in m1] == [(50, 20, 16), (50, 20, 16), (50, 16)]
    for a, b, c in zip(m1, m2, m3, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        assert set(np.unique(a)) <= {0.0, 1.0 / 0.75}
    allm = np.concatenate([m.ravel() for m in m1])
    assert abs(np.mean(allm == 0) - 0.25) < 0.02
    assert Network("gru", dropout=0.0).dropout_masks(0, 2, 2) == []


def test_dropout_loss_depends_on_seed_only():
    rng = np.random.default_rng(0)
    net = Network("gru", 2, 4, 3, num_layers=2, dropout=0.5)
    theta, X, lengths, Y, h0, c0 = make_problem(rng, net, 3, 5)
    a = net.loss_and_grad(theta, X, lengths, Y, dropout_seed=1)
    b = net.loss_and_grad(theta, X, lengths, Y, dropout_seed=1)
    c = net.loss_and_grad(theta, X, lengths, Y, dropout_seed=2)
    assert a[0] == b[0] and np.array_equal(a[1]["grad"], b[1]["grad"])
    assert a[0] != c[0]
    # prediction never drops: same as the same weights without dropout
    plain = Network("gru", 2, 4, 3, num_layers=2)
    np.testing.assert_array_equal(net.predict(theta, X, lengths)["out"],
                                  plain.predict(theta, X, lengths)["out"])


def _epoch(net, theta, X, lengths, Y, seed, **kw):
    th = theta.copy()
    opt = Optimizer("sgd", learning_rate=0.1)
    res = net.train_epoch(th, opt, X, lengths, net.targets(Y, th.dtype), seed=seed, **kw)
    return th, res


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_train_epoch_dropout_reproducible(dtype):
    rng = np.random.default_rng(1)
    net = Network("lstm", 2, 4, 3, num_layers=2, bidirectional=True, dropout=0.3, peephole=True)
    theta, X, lengths, Y, _, _ = make_problem(rng, net, 6, 8)
    theta, X = theta.astype(dtype), X.astype(dtype)
    kw = dict(batch_size=4, bptt_steps=3, carry=True)
    t1, r1 = _epoch(net, theta, X, lengths, Y, 5, **kw)
    t2, r2 = _epoch(net, theta, X, lengths, Y, 5, **kw)
    t3, _ = _epoch(net, theta, X, lengths, Y, 6, **kw)
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(r1[1], r2[1])
    assert not np.array_equal(t1, t3)


@pytest.mark.parametrize("output", ["sequence", "last"])
def test_train_epoch_equals_loss_and_grad_step(output):
    """One batch, one window: the epoch kernel uses the masks and gradient of loss_and_grad."""
    rng = np.random.default_rng(4)
    net = Network("gru", 2, 4, 3, num_layers=2, bidirectional=True, layer_norm=True, dropout=0.3,
                  output=output)
    theta, X, lengths, Y, _, _ = make_problem(rng, net, 4, 6)
    t1, (mean, losses, status) = _epoch(net, theta, X, lengths, Y, 9)
    loss, out = net.loss_and_grad(theta, X, lengths, Y, dropout_seed=9)
    t2 = theta.copy()
    Optimizer("sgd", learning_rate=0.1).update(t2, out["grad"], net.decay_mask_)
    assert status == 0 and len(losses) == 1
    np.testing.assert_allclose(mean, loss, rtol=1e-12)
    np.testing.assert_allclose(t1, t2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("bidir", [False, True])
def test_truncated_windows_carry_every_layer(bidir):
    """With carry, window k starts from window k-1's final states (reverse directions from zero)."""
    rng = np.random.default_rng(8)
    net = Network("lstm", 2, 3, 2, num_layers=2, bidirectional=bidir, layer_norm=True)
    theta, X, _, Y, _, _ = make_problem(rng, net, 3, 9)
    lengths = np.full(3, 9)
    th = theta.copy()
    _, losses, _ = net.train_epoch(th, Optimizer("sgd", learning_rate=0.0), X, lengths,
                                   net.targets(Y, th.dtype), bptt_steps=4, carry=True)
    np.testing.assert_array_equal(th, theta)
    h = np.zeros((net.n_states, 3, 3))
    c = np.zeros_like(h)
    expect = []
    for t0 in range(0, 9, 4):
        T = min(4, 9 - t0)
        loss, out = net.loss_and_grad(theta, X[:, t0:t0 + T], np.full(3, T), Y[:, t0:t0 + T], h, c)
        expect.append(loss)
        h, c = out["hT"].copy(), out["cT"].copy()
        if bidir:
            h[1::2] = 0
            c[1::2] = 0
    np.testing.assert_allclose(losses, expect, rtol=1e-12)
    if not bidir:  # and the windows together are the full forward pass
        full = net.predict(theta, X, lengths)
        np.testing.assert_allclose(h, full["hT"], rtol=1e-12)


# ----------------------------------------------------------------------------- layout and validation
def test_parameter_names_shapes_and_init():
    net = Network("lstm", 3, 4, 5, num_layers=2, bidirectional=True, peephole=True, layer_norm=True,
                  forget_bias=1.0)
    names = []
    for sfx in ["_l0", "_l0_reverse", "_l1", "_l1_reverse"]:
        names += [n + sfx for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ci", "weight_cf",
                                    "weight_co", "ln_weight", "ln_bias", "ln_cell_weight", "ln_cell_bias"]]
    assert list(net.shapes) == names + ["weight_out", "bias_out"]
    assert net.shapes["weight_ih_l0"] == (16, 3) and net.shapes["weight_ih_l1_reverse"] == (16, 8)
    assert net.shapes["weight_co_l1"] == (4,) and net.shapes["ln_weight_l0"] == (16,)
    assert net.shapes["ln_cell_bias_l0_reverse"] == (4,) and net.shapes["weight_out"] == (5, 8)
    assert net.size == int(sum(np.prod(s) for s in net.shapes.values()))
    theta = net.init_params(0)
    c = net.coefs(theta)
    assert np.all(c["ln_weight_l1"] == 1) and np.all(c["ln_cell_weight_l0"] == 1)
    assert np.all(c["ln_bias_l0"][4:8] == 1.0) and np.all(c["ln_bias_l0"][:4] == 0)
    np.testing.assert_array_equal(net.flatten(c), theta)
    mask = net.coefs(net.decay_mask_)
    for name, v in mask.items():
        assert np.all(v == (1.0 if name.startswith("weight") else 0.0)), name
    assert net.num_directions == 2 and net.has_cell_state
    gru = Network("gru", 2, 3, 2, layer_norm=True, num_layers=2)
    cg = gru.coefs(gru.init_params(0))
    for k in range(2):
        assert np.all(cg[f"bias_ih_l{k}"][:6] == 1.0) and np.all(cg[f"bias_hh_l{k}"][:6] == 0.0)
    assert list(Network("rnn", 2, 3, 2).shapes) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_out", "bias_out"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(cell="gru", peephole=True), "peephole"),
    (dict(cell="rnn", peephole=True), "peephole"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(num_layers=0), "num_layers"),
    (dict(num_layers=1.5), "num_layers"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Network(**kwargs)


def test_state_shape_is_checked():
    net = Network("lstm", 1, 2, 2, num_layers=2)
    X = np.zeros((3, 4, 1))
    with pytest.raises(ValueError, match="h0"):
        net.predict(net.init_params(0), X, np.full(3, 4), h0=np.zeros((3, 2)))
    res = net.predict(net.init_params(0), X, np.full(3, 4))
    assert res["hT"].shape == res["cT"].shape == (2, 3, 2)
