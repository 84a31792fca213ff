"""Whole fits, updates, external losses and pickling on the CUDA backend, against the CPU."""

import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from rnnkit import RNNClassifier, RNNRegressor, RNNTranscriber
from rnnkit.optim import Optimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(rng, output="last", n_classes=3):
    X = [rng.normal(size=(n, 2)) for n in (5, 3, 4, 6, 2, 5, 4)]
    y = ([rng.integers(0, n_classes, size=len(x)) for x in X] if output == "sequence"
         else rng.integers(0, n_classes, size=len(X)))
    return X, y


def _both(make, X, y, **fit):
    cpu = make("cpu").fit(X, y, **fit)
    gpu = make("cuda").fit(X, y, **fit)
    return cpu, gpu


def _assert_coefs(cpu, gpu, tol=1e-8):
    a, b = cpu.coefs_, gpu.coefs_
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=tol, err_msg=name)


CASES = [
    dict(cell="lstm", solver="adam"),
    dict(cell="gru", solver="sgd", momentum=0.9, nesterovs_momentum=True, alpha=0.01, clip_grad_norm=0.5),
    dict(cell="rnn", solver="rmsprop", output="sequence", bidirectional=True),
    dict(cell="lstm", solver="adagrad", output="sequence", bptt_steps=2, stateful=True, peephole=True),
    dict(cell="gru", solver="adam", num_layers=2, layer_norm=True, batch_size=7),
]


@pytest.mark.gpu
@pytest.mark.parametrize("path", ["epoch", "window", "window+reduce+update"])
@pytest.mark.parametrize("params", CASES, ids=[p["cell"] + "-" + p["solver"] for p in CASES])
def test_fit_on_the_device_equals_the_cpu_fit(params, path, monkeypatch):
    """Every launch plan: the epoch in one launch of one block; batches over several blocks with the
    last block updating (a launch per window), or with the reduction and update kernels after it."""
    import rnnkit.backends.cuda as cb

    monkeypatch.setattr(cb, "ROWS_PER_BLOCK", None if path == "epoch" else 2)
    monkeypatch.setattr(cb, "FUSE_MAX_WORK", 4096 if path == "epoch" else 0)
    monkeypatch.setattr(cb, "LAST_BLOCK_MAX_WORK", 0 if path == "window+reduce+update" else 1 << 21)
    rng = np.random.default_rng(0)
    X, y = _data(rng, params.get("output", "last"))
    kw = dict(hidden_size=3, max_iter=3, batch_size=3, random_state=0, dtype="float64")
    kw.update(params)
    cpu, gpu = _both(lambda dev: RNNClassifier(device=dev, **kw), X, y)
    _assert_coefs(cpu, gpu)
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(gpu.batch_loss_curve_, cpu.batch_loss_curve_, rtol=1e-10)
    if params.get("output") != "sequence":
        np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-10)


@pytest.mark.gpu
def test_regressor_with_sample_weights_and_tokens():
    rng = np.random.default_rng(1)
    X = [rng.integers(0, 6, size=n) for n in (5, 3, 4, 6, 2, 5, 4)]
    y = rng.normal(size=(7, 2))
    w = rng.uniform(0.5, 2.0, size=7)
    kw = dict(cell="gru", hidden_size=3, max_iter=3, batch_size=3, random_state=0, dtype="float64",
              embedding_dim=2)
    cpu, gpu = _both(lambda dev: RNNRegressor(device=dev, **kw), X, y, sample_weight=w)
    _assert_coefs(cpu, gpu)


def test_float32_fit_close_to_the_cpu():
    rng = np.random.default_rng(2)
    X, y = _data(rng)
    kw = dict(cell="lstm", hidden_size=3, max_iter=2, batch_size=3, random_state=0, dtype="float32")
    cpu, gpu = _both(lambda dev: RNNClassifier(device=dev, **kw), X, y)
    _assert_coefs(cpu, gpu, tol=1e-4)


def test_transcriber_ctc_loss_computed_on_the_host():
    rng = np.random.default_rng(3)
    X = [rng.normal(size=(n, 2)) for n in (5, 6, 4, 6, 5, 5, 4)]
    y = ["ab", "a", "ba", "abb", "b", "aa", "b"]
    kw = dict(cell="lstm", hidden_size=3, max_iter=2, batch_size=3, random_state=0, dtype="float64")
    cpu, gpu = _both(lambda dev: RNNTranscriber(device=dev, **kw), X, y)
    _assert_coefs(cpu, gpu)
    assert gpu.predict(X) == cpu.predict(X)


def test_dropout_fit_is_reproducible_and_trains():
    rng = np.random.default_rng(4)
    X, y = _data(rng)
    kw = dict(hidden_size=3, max_iter=2, batch_size=3, random_state=0, dtype="float64", num_layers=2,
              dropout=0.3, bidirectional=True, device="cuda")
    a = RNNClassifier(**kw).fit(X, y)
    b = RNNClassifier(**kw).fit(X, y)
    for name, value in a.coefs_.items():
        np.testing.assert_array_equal(b.coefs_[name], value)
    c = RNNClassifier(**dict(kw, random_state=1)).fit(X, y)
    assert not np.array_equal(c.coefs_["weight_hh_l1"], a.coefs_["weight_hh_l1"])


@pytest.mark.parametrize("solver,extra", [("sgd", {}), ("sgd", dict(momentum=0.9, nesterov=True)),
                                          ("adagrad", {}), ("rmsprop", {}), ("adam", {})])
def test_update_twins(solver, extra):
    rng = np.random.default_rng(5)
    theta = rng.normal(size=23)
    decay = (rng.random(23) > 0.3).astype(float)
    out = {}
    for dev in ("cpu", "cuda"):
        opt = Optimizer(solver, learning_rate=0.1, alpha=0.05, clip_grad_norm=1.5, device=dev, **extra)
        th = theta.copy()
        norms = []
        for k in range(3):
            g = np.sin(np.arange(23.0) + k) * (k + 1)
            norms.append(opt.update(th, g, decay))
        out[dev] = th, norms, g, opt.state.copy(), int(opt.step[0])
    for a, b in zip(out["cpu"], out["cuda"], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_gpu_model_pickled_predicts_where_no_gpu_is_usable(tmp_path):
    rng = np.random.default_rng(6)
    X, y = _data(rng)
    model = RNNClassifier(hidden_size=3, max_iter=1, random_state=0, device="cuda", dtype="float64").fit(X, y)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", np.stack([np.pad(x, ((0, 6 - len(x)), (0, 0))) for x in X]))
    np.save(tmp_path / "lengths.npy", np.array([len(x) for x in X]))
    expected = model.predict_proba(X)
    code = textwrap.dedent(f"""
        import pickle, warnings
        import numpy as np
        X, lengths = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "lengths.npy")!r})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = pickle.loads(open({str(path)!r}, "rb").read())
        assert any("runs on the CPU" in str(w.message) for w in caught), [str(w.message) for w in caught]
        assert model._net.device == "cpu" and model.device == "cuda"
        proba = model.predict_proba([x[:n] for x, n in zip(X, lengths, strict=True)])
        np.save({str(tmp_path / "proba.npy")!r}, proba)
    """)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["CUDA_VISIBLE_DEVICES"] = ""  # no GPU either, as on a machine without one
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    np.testing.assert_allclose(np.load(tmp_path / "proba.npy"), expected, atol=1e-12)


def test_compile_command_for_the_device(capsys):
    from rnnkit.compile import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert main(["--device", "cuda", "--cell", "rnn", "--dtype", "float64", "--quiet"]) == 0
    assert "cuda  rnn    float64" in capsys.readouterr().out
