"""Each CUDA twin against the CPU kernels: every cell x variant combination of ``tests/test_variants.py``.

The whole batch's loss, gradient (parameters, inputs, initial states) and
final states, and prediction's outputs, states and hidden states, on
variable-length batches: float64 to 1e-10, float32 to 1e-4. Dropout masks
differ between the backends by design (the GPU's come from a counter-based
hash), so dropout combinations are checked against the NumPy reference with
the GPU's own masks and by a directional finite difference.
"""

import zlib

import naive
import numpy as np
import pytest
from test_variants import COMBOS, IDS, _close, make_net, make_problem

from rnnkit.network import Network


def _pair(combo, **kw):
    cpu = make_net(combo, I=2, H=3, K=3, **kw)
    gpu = make_net(combo, I=2, H=3, K=3, **kw)
    gpu.device = "cuda"
    return cpu, gpu


def _compare(cpu, gpu, dtype, rtol, rng, N=5, T=4):
    theta, X, lengths, Y, h0, c0 = make_problem(rng, cpu, N=N, T=T, lengths=[4, 1, 3, 2, 4][:N])
    th, Xd = theta.astype(dtype), X.astype(dtype)
    a_loss, a = cpu.loss_and_grad(th, Xd, lengths, Y, h0, c0, input_grad=True)
    b_loss, b = gpu.loss_and_grad(th, Xd, lengths, Y, h0, c0, input_grad=True)
    _close(b_loss, a_loss, rtol, "loss")
    for key in ("grad", "dX", "dh0", "hT") + (("dc0", "cT") if cpu.has_cell_state else ()):
        _close(b[key], a[key], rtol, key)
    pa = cpu.predict(th, Xd, lengths, h0, c0, hidden_states=True)
    pb = gpu.predict(th, Xd, lengths, h0, c0, hidden_states=True)
    for key in ("out", "hT", "hseq") + (("cT",) if cpu.has_cell_state else ()):
        _close(pb[key], pa[key], rtol, "predict " + key)


def _dropout_check(gpu, rng):
    theta, X, lengths, Y, h0, c0 = make_problem(rng, gpu, N=5, T=4, lengths=[4, 1, 3, 2, 4])
    masks = gpu.dropout_masks(11, 5, 4)
    loss, out = gpu.loss_and_grad(theta, X, lengths, Y, h0, c0, dropout_seed=11)
    rloss, _, rhT, rcT, _ = naive.network_loss(gpu, gpu.coefs(theta), X, lengths, Y, h0, c0, masks)
    _close(loss, rloss, 1e-10, "loss with the GPU's masks")
    _close(out["hT"], rhT, 1e-10, "hT with the GPU's masks")
    v = rng.normal(size=theta.shape)
    eps = 1e-6
    plus = gpu.loss_and_grad(theta + eps * v, X, lengths, Y, h0, c0, dropout_seed=11)[0]
    minus = gpu.loss_and_grad(theta - eps * v, X, lengths, Y, h0, c0, dropout_seed=11)[0]
    np.testing.assert_allclose(out["grad"] @ v, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("combo", COMBOS, ids=IDS)
def test_twin_matches_cpu_float64(combo):
    rng = np.random.default_rng(zlib.crc32(repr(combo).encode()))
    for act in (["tanh", "relu"] if combo[0] == "rnn" else ["tanh"]):
        cpu, gpu = _pair(combo, act=act)
        if cpu.dropout:
            _dropout_check(gpu, rng)
        else:
            _compare(cpu, gpu, np.float64, 1e-10, rng)


NO_DROPOUT = [(c, i) for c, i in zip(COMBOS, IDS, strict=True) if not c[5]]


@pytest.mark.parametrize("combo", [c for c, _ in NO_DROPOUT], ids=[i for _, i in NO_DROPOUT])
def test_twin_matches_cpu_float32(combo):
    """float32 to 1e-4 (dropout combinations: the masks differ by design, float64 checks them)."""
    rng = np.random.default_rng(zlib.crc32(repr(combo).encode()) + 2)
    for act in (["tanh", "relu"] if combo[0] == "rnn" else ["tanh"]):
        cpu, gpu = _pair(combo, act=act)
        _compare(cpu, gpu, np.float32, 1e-4, rng)


@pytest.mark.gpu
@pytest.mark.parametrize("combo", [c for c in COMBOS if c[1] == 2 and c[2] and c[4] and not c[5]],
                         ids=[i for c, i in zip(COMBOS, IDS, strict=True)
                              if c[1] == 2 and c[2] and c[4] and not c[5]])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)], ids=["f64", "f32"])
def test_twin_matches_cpu_stacked_bidirectional_layer_norm(combo, dtype, rtol):
    rng = np.random.default_rng(zlib.crc32(repr(combo).encode()) + 1)
    cpu, gpu = _pair(combo)
    _compare(cpu, gpu, dtype, rtol, rng)


@pytest.mark.gpu
@pytest.mark.parametrize("loss", ["binary_cross_entropy", "squared_error"])
@pytest.mark.parametrize("output", ["sequence", "last"])
def test_twin_losses(loss, output):
    rng = np.random.default_rng(3)
    cpu, gpu = _pair(("gru", 1, False, False, False, 0.0, output), loss=loss)
    _compare(cpu, gpu, np.float64, 1e-10, rng)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)], ids=["f64", "f32"])
def test_twin_without_bias_with_tokens(dtype, rtol):
    rng = np.random.default_rng(5)
    kw = dict(input_size=2, hidden_size=3, output_size=2, bias=False, n_tokens=4)
    cpu, gpu = Network("lstm", **kw), Network("lstm", device="cuda", **kw)
    theta = cpu.init_params(0).astype(dtype)
    X = rng.integers(0, 4, size=(5, 4, 1)).astype(dtype)
    lengths = np.array([4, 1, 3, 2, 4])
    Y = rng.integers(0, 2, size=(5, 4))
    a_loss, a = cpu.loss_and_grad(theta, X, lengths, Y)
    b_loss, b = gpu.loss_and_grad(theta, X, lengths, Y)
    _close(b_loss, a_loss, rtol, "loss")
    _close(b["grad"], a["grad"], rtol, "grad with the embedding's")
    _close(gpu.predict(theta, X, lengths)["out"], cpu.predict(theta, X, lengths)["out"], rtol, "out")


def test_dropout_masks_depend_on_seed_and_position_only():
    net = Network("gru", 2, 3, 2, num_layers=2, dropout=0.5, device="cuda")
    a = net.dropout_masks(3, 6, 5)
    b = net.dropout_masks(3, 4, 5)  # fewer rows: the same rows' masks
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[:4], y)
        assert set(np.unique(x)) <= {0.0, 2.0}
    c = net.dropout_masks(4, 6, 5)
    assert any((x != y).any() for x, y in zip(a, c, strict=True))
    keep = np.concatenate([m.ravel() for m in net.dropout_masks(9, 64, 30)]) > 0
    assert abs(keep.mean() - 0.5) < 0.03


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_twin_hidden_size_above_a_warp(cell, monkeypatch):
    """A hidden size above the block's threads: each thread takes several outputs of every product."""
    import rnnkit.backends.cuda as cb

    monkeypatch.setattr(cb, "MIN_THREADS", 32)
    monkeypatch.setattr(cb, "MAX_THREADS", 32)
    rng = np.random.default_rng(7)
    combo = (cell, 1, False, False, False, 0.0, "last")
    cpu, gpu = make_net(combo, I=2, H=33, K=2), make_net(combo, I=2, H=33, K=2)
    gpu.device = "cuda"
    _compare(cpu, gpu, np.float64, 1e-10, rng, N=2, T=4)
