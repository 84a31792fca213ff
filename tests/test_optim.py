"""Optimizers, L2 penalty and gradient clipping against closed forms and the NumPy reference.

Two kinds of checks:

* hand-computed updates of one or two steps on tiny vectors, the arithmetic
  written out in the test, independent of both the kernel and ``naive``;
* several steps of random gradients against ``naive.optimizer_updates``
  (textbook rules) in float64 (tight) and float32.
"""

import math

import naive
import numpy as np
import pytest

from rnnkit.backends.cpu.optim import clip_by_global_norm
from rnnkit.network import Network
from rnnkit.optim import SOLVERS, Optimizer

EPS = 1e-8  # default epsilon of the adaptive solvers

#: (id, Optimizer keyword arguments) covering every solver and SGD variant
CONFIGS = [
    ("sgd", dict(solver="sgd", learning_rate=0.1)),
    ("sgd-momentum", dict(solver="sgd", learning_rate=0.1, momentum=0.9)),
    ("sgd-nesterov", dict(solver="sgd", learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("adagrad", dict(solver="adagrad", learning_rate=0.3)),
    ("rmsprop", dict(solver="rmsprop", learning_rate=0.01, rho=0.9)),
    ("adam", dict(solver="adam", learning_rate=0.01, beta_1=0.9, beta_2=0.999)),
]
CONFIG_IDS = [c[0] for c in CONFIGS]


def run(opt, theta, grads, mask=None):
    """Apply ``grads`` in turn; return the thetas after each step and the returned norms."""
    thetas, norms = [], []
    for g in grads:
        norms.append(opt.update(theta, np.array(g, dtype=theta.dtype), mask))
        thetas.append(theta.copy())
    return thetas, norms


def naive_kwargs(kw):
    """Translate Optimizer keyword arguments into naive.optimizer_updates ones."""
    out = {k: v for k, v in kw.items() if k != "solver"}
    out["lr"] = out.pop("learning_rate")
    if "clip_grad_norm" in out:
        out["clip"] = out.pop("clip_grad_norm")
    return out


# --------------------------------------------------------------------- hand-computed steps
def test_sgd_plain_two_steps():
    theta = np.array([1.0, 2.0])
    thetas, _ = run(Optimizer("sgd", learning_rate=0.1), theta, [[1.0, -1.0], [0.5, 0.5]])
    # theta - lr * g
    np.testing.assert_allclose(thetas[0], [1.0 - 0.1 * 1.0, 2.0 + 0.1 * 1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(thetas[1], [0.9 - 0.1 * 0.5, 2.1 - 0.1 * 0.5], rtol=0, atol=1e-15)


def test_sgd_momentum_two_steps():
    theta = np.array([1.0, 1.0])
    opt = Optimizer("sgd", learning_rate=0.1, momentum=0.9)
    thetas, _ = run(opt, theta, [[1.0, -2.0], [1.0, 1.0]])
    # step 1: v = g = (1, -2); theta = (1, 1) - 0.1 * (1, -2) = (0.9, 1.2)
    np.testing.assert_allclose(thetas[0], [0.9, 1.2], rtol=0, atol=1e-15)
    # step 2: v = 0.9 * (1, -2) + (1, 1) = (1.9, -0.8); theta = (0.9 - 0.19, 1.2 + 0.08)
    np.testing.assert_allclose(thetas[1], [0.71, 1.28], rtol=0, atol=1e-15)


def test_sgd_nesterov_two_steps():
    theta = np.array([1.0, 1.0])
    opt = Optimizer("sgd", learning_rate=0.1, momentum=0.9, nesterov=True)
    thetas, _ = run(opt, theta, [[1.0, -2.0], [1.0, 1.0]])
    # step 1: v = (1, -2); step = g + 0.9 v = (1.9, -3.8); theta = (1 - 0.19, 1 + 0.38)
    np.testing.assert_allclose(thetas[0], [0.81, 1.38], rtol=0, atol=1e-15)
    # step 2: v = (1.9, -0.8); step = (1 + 1.71, 1 - 0.72) = (2.71, 0.28)
    np.testing.assert_allclose(thetas[1], [0.81 - 0.271, 1.38 - 0.028], rtol=0, atol=1e-15)


def test_adagrad_two_steps():
    theta = np.array([1.0, 1.0])
    thetas, _ = run(Optimizer("adagrad", learning_rate=0.5), theta, [[3.0, -4.0], [4.0, 3.0]])
    # step 1: s = (9, 16); theta -= 0.5 * g / (sqrt(s) + eps): each coordinate moves 0.5 * sign(g)
    t1 = [1.0 - 0.5 * 3.0 / (3.0 + EPS), 1.0 + 0.5 * 4.0 / (4.0 + EPS)]
    np.testing.assert_allclose(thetas[0], t1, rtol=0, atol=1e-14)
    np.testing.assert_allclose(thetas[0], [0.5, 1.5], rtol=0, atol=1e-8)
    # step 2: s = (9 + 16, 16 + 9) = (25, 25)
    t2 = [t1[0] - 0.5 * 4.0 / (5.0 + EPS), t1[1] - 0.5 * 3.0 / (5.0 + EPS)]
    np.testing.assert_allclose(thetas[1], t2, rtol=0, atol=1e-14)
    np.testing.assert_allclose(thetas[1], [0.1, 1.2], rtol=0, atol=1e-8)


def test_rmsprop_two_steps():
    theta = np.array([0.0, 0.0])
    opt = Optimizer("rmsprop", learning_rate=0.01, rho=0.9)
    thetas, _ = run(opt, theta, [[2.0, -1.0], [2.0, -1.0]])
    # step 1: s = 0.1 * g^2 = (0.4, 0.1); the move is lr * g / sqrt(0.1 g^2) = lr * sqrt(10) * sign(g)
    t1 = [-0.01 * 2.0 / (math.sqrt(0.4) + EPS), 0.01 * 1.0 / (math.sqrt(0.1) + EPS)]
    np.testing.assert_allclose(thetas[0], t1, rtol=0, atol=1e-14)
    np.testing.assert_allclose(thetas[0], [-0.01 * math.sqrt(10), 0.01 * math.sqrt(10)], atol=1e-9)
    # step 2: s = 0.9 * s + 0.1 * g^2 = (0.76, 0.19)
    t2 = [t1[0] - 0.01 * 2.0 / (math.sqrt(0.76) + EPS), t1[1] + 0.01 * 1.0 / (math.sqrt(0.19) + EPS)]
    np.testing.assert_allclose(thetas[1], t2, rtol=0, atol=1e-14)


def test_adam_two_steps():
    b1, b2, lr = 0.9, 0.999, 0.1
    theta = np.array([1.0, -1.0, 0.5])
    g1 = np.array([0.3, -2.0, 1e-3])
    g2 = np.array([-0.1, 1.0, 1e-3])
    thetas, _ = run(Optimizer("adam", learning_rate=lr, beta_1=b1, beta_2=b2), theta, [g1, g2])
    # step 1: m_hat = g, v_hat = g^2, so each coordinate moves lr * g / (|g| + eps) ~ lr * sign(g)
    t1 = np.array([1.0, -1.0, 0.5]) - lr * g1 / (np.abs(g1) + EPS)
    np.testing.assert_allclose(thetas[0], t1, rtol=0, atol=1e-14)
    np.testing.assert_allclose(thetas[0], [0.9, -0.9, 0.4], rtol=0, atol=1e-5)
    # step 2, written out with the bias corrections 1 - beta^2
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    t2 = t1 - lr * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + EPS)
    np.testing.assert_allclose(thetas[1], t2, rtol=0, atol=1e-14)
    # coordinate 0: m_hat = (0.027 - 0.01) / 0.19, v_hat = (0.999e-3 * 0.09 + 1e-3 * 0.01) / 1.999e-3
    mh0 = (0.9 * 0.1 * 0.3 + 0.1 * -0.1) / 0.19
    vh0 = (0.999 * 0.001 * 0.09 + 0.001 * 0.01) / (1 - 0.999**2)
    np.testing.assert_allclose(thetas[1][0], t1[0] - lr * mh0 / (math.sqrt(vh0) + EPS), atol=1e-14)


def test_adam_counts_steps():
    opt = Optimizer("adam", learning_rate=0.1)
    theta = np.zeros(2)
    run(opt, theta, [[1.0, 1.0]] * 3)
    assert opt.step[0] == 3


# --------------------------------------------------------------------- L2 penalty
def test_l2_penalty_hand_computed():
    theta = np.array([2.0, -4.0, 3.0])
    mask = np.array([1.0, 1.0, 0.0])  # the last entry plays a bias
    opt = Optimizer("sgd", learning_rate=0.1, alpha=0.5)
    norm = opt.update(theta, np.zeros(3), mask)
    # g = 0 + alpha * mask * theta = (1, -2, 0); theta -= 0.1 * g
    np.testing.assert_allclose(theta, [1.9, -3.8, 3.0], rtol=0, atol=1e-15)
    # the returned norm includes the penalty term
    assert norm == pytest.approx(math.sqrt(1.0 + 4.0), abs=1e-15)


def test_l2_without_mask_decays_everything():
    theta = np.array([2.0, -4.0])
    Optimizer("sgd", learning_rate=0.1, alpha=0.5).update(theta, np.zeros(2))
    np.testing.assert_allclose(theta, [2.0 * (1 - 0.05), -4.0 * (1 - 0.05)], rtol=0, atol=1e-15)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_l2_network_mask_spares_biases(cell):
    net = Network(cell, input_size=2, hidden_size=3, output_size=2)
    theta = net.init_params(random_state=0)
    before = net.coefs(theta.copy())
    lr, alpha = 0.1, 0.3
    Optimizer("sgd", learning_rate=lr, alpha=alpha).update(theta, np.zeros_like(theta), net.decay_mask_)
    after = net.coefs(theta)
    for name in net.shapes:
        if name.startswith("bias"):
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)
        else:  # zero gradient: only the decay acts, theta *= (1 - lr * alpha)
            np.testing.assert_allclose(after[name], before[name] * (1 - lr * alpha), rtol=1e-15,
                                       atol=0, err_msg=name)
            assert not np.allclose(after[name], before[name])


# --------------------------------------------------------------------- clipping
def test_clip_scales_to_threshold_and_returns_pre_clip_norm():
    theta = np.zeros(2)
    opt = Optimizer("sgd", learning_rate=1.0, clip_grad_norm=1.0)
    norm = opt.update(theta, np.array([3.0, 4.0]))
    assert norm == 5.0
    # g * (1 / 5) = (0.6, 0.8); theta = 0 - 1.0 * g
    np.testing.assert_allclose(theta, [-0.6, -0.8], rtol=0, atol=1e-15)


def test_clip_leaves_small_gradient_unchanged():
    g = np.array([0.3, -0.4])
    out = g.copy()
    assert clip_by_global_norm(out, 1.0) == pytest.approx(0.5, abs=1e-15)
    np.testing.assert_array_equal(out, g)
    # exactly at the threshold: unchanged as well
    assert clip_by_global_norm(out, 0.5) == pytest.approx(0.5, abs=1e-15)
    np.testing.assert_array_equal(out, g)
    # through the optimizer
    theta = np.array([1.0, 1.0])
    norm = Optimizer("sgd", learning_rate=1.0, clip_grad_norm=1.0).update(theta, g.copy())
    assert norm == pytest.approx(0.5, abs=1e-15)
    np.testing.assert_allclose(theta, [0.7, 1.4], rtol=0, atol=1e-15)


def test_clip_by_global_norm_in_place():
    g = np.array([6.0, 8.0, 0.0])
    norm = clip_by_global_norm(g, 2.0)
    assert norm == 10.0
    np.testing.assert_allclose(g, [1.2, 1.6, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(g), 2.0, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_float32_and_float64(dtype):
    g = np.array([30.0, 40.0], dtype=dtype)
    norm = clip_by_global_norm(g, 5.0)
    assert norm == pytest.approx(50.0, rel=1e-6)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, [3.0, 4.0], rtol=1e-6)


def test_clip_none_disables():
    theta = np.zeros(2)
    norm = Optimizer("sgd", learning_rate=0.1, clip_grad_norm=None).update(theta, np.array([30.0, 40.0]))
    assert norm == 50.0
    np.testing.assert_allclose(theta, [-3.0, -4.0], rtol=0, atol=1e-14)
    # non-positive thresholds disable the kernel too
    g = np.array([30.0, 40.0])
    assert clip_by_global_norm(g, 0.0) == 50.0
    np.testing.assert_array_equal(g, [30.0, 40.0])


def test_l2_is_added_before_clipping():
    theta = np.array([1.0, 0.0])
    opt = Optimizer("sgd", learning_rate=1.0, alpha=2.0, clip_grad_norm=1.0)
    norm = opt.update(theta, np.zeros(2))
    # g = alpha * theta = (2, 0), norm 2, clipped to (1, 0)
    assert norm == 2.0
    np.testing.assert_allclose(theta, [0.0, 0.0], rtol=0, atol=1e-15)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=CONFIG_IDS)
def test_clipping_bounds_every_solver_update_like_small_gradient(name, kw):
    # a clipped gradient must move theta exactly as the pre-scaled gradient would
    g = np.array([3.0, -4.0, 12.0])  # norm 13
    a, b = np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.5, 0.5])
    na = Optimizer(**kw, clip_grad_norm=1.3).update(a, g.copy())
    nb = Optimizer(**kw).update(b, g / 10.0)
    assert na == 13.0 and nb == pytest.approx(1.3)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


# --------------------------------------------------------------------- errors and state
@pytest.mark.parametrize("solver", ["adamw", "SGD", "", "lbfgs"])
def test_unknown_solver_raises(solver):
    with pytest.raises(ValueError, match="unknown solver"):
        Optimizer(solver)


def test_registry_lists_the_four_solvers():
    assert set(SOLVERS) == {"sgd", "adagrad", "rmsprop", "adam"}


def test_state_reallocated_when_size_changes():
    opt = Optimizer("sgd", learning_rate=0.1, momentum=0.9)
    opt.update(np.zeros(3), np.ones(3))
    theta = np.zeros(2)
    opt.update(theta, np.ones(2))  # new size: fresh momentum, so a plain SGD step
    np.testing.assert_allclose(theta, [-0.1, -0.1], rtol=0, atol=1e-15)
    assert opt.state.shape == (2, 2)


# --------------------------------------------------------------------- against naive
def random_problem(dtype, n_params=7, n_steps=6, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_params).astype(dtype)
    scales = np.array([1.0, 0.05, 2.0, 0.1, 1.0, 0.3])[:n_steps]  # some steps below the clip
    grads = [(rng.normal(size=n_params) * s).astype(dtype) for s in scales]
    mask = (rng.random(n_params) < 0.6).astype(dtype)
    mask[0], mask[-1] = 1, 0
    return theta, grads, mask


EXTRAS = {
    "plain": {},
    "l2": {"alpha": 0.1},
    "clip": {"clip_grad_norm": 0.5},
    "l2+clip": {"alpha": 0.1, "clip_grad_norm": 0.5},
}


def _against_naive(kw, extra, dtype, tol):
    theta0, grads, mask = random_problem(dtype)
    kw = {**kw, **extra}
    theta = theta0.copy()
    opt = Optimizer(**kw)
    thetas, norms = run(opt, theta, grads, mask)
    ref = naive.optimizer_updates(kw["solver"], theta0.astype(float), [g.astype(float) for g in grads],
                                  mask=mask.astype(float), **naive_kwargs(kw))
    assert theta.dtype == dtype and opt.state.dtype == dtype
    prev = theta0.astype(float)
    for k, (got, want) in enumerate(zip(thetas, ref, strict=True)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"step {k + 1}")
        assert not np.allclose(want, prev, rtol=0, atol=100 * tol), "the update must move theta"
        # returned norm: of the gradient after the L2 term, before clipping
        gl2 = grads[k].astype(float) + kw.get("alpha", 0.0) * mask * prev
        assert norms[k] == pytest.approx(np.linalg.norm(gl2), rel=tol, abs=tol)
        prev = np.asarray(want)
    if "clip_grad_norm" in kw:  # the scenario must exercise both sides of the threshold
        assert min(norms) < kw["clip_grad_norm"] < max(norms)


@pytest.mark.parametrize("extra", list(EXTRAS.values()), ids=list(EXTRAS))
@pytest.mark.parametrize("name,kw", CONFIGS, ids=CONFIG_IDS)
def test_against_naive_float64(name, kw, extra):
    _against_naive(kw, extra, np.float64, 1e-12)


@pytest.mark.parametrize("extra", list(EXTRAS.values()), ids=list(EXTRAS))
@pytest.mark.parametrize("name,kw", CONFIGS, ids=CONFIG_IDS)
def test_against_naive_float32(name, kw, extra):
    _against_naive(kw, extra, np.float32, 1e-5)
