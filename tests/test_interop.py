"""Weights to and from PyTorch: to_torch_state_dict, from_torch_state_dict, torch_module_kwargs.

The first tests need no torch (they run in CI): names and shapes against an
independent count, a NumPy round trip that leaves the weights identical, the
errors. The tests at the end run the weights in ``torch.nn`` modules and
compare predictions both ways; they are skipped where torch is not installed.
"""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from rnnkit import RNNClassifier, RNNRegressor, RNNTranscriber
from rnnkit.estimators import BaseRNN
from rnnkit.estimators._interop import TorchInteropMixin

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
F, T, N = 3, 5, 12


def data(output="last", n_classes=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N, T, F)).astype(np.float32)
    y = np.arange(N) % n_classes
    return X, (y if output == "last" else np.tile(y[:, None], (1, T)))


def fitted(cls=RNNClassifier, max_iter=1, **kw):
    params = dict(hidden_size=4, max_iter=max_iter, learning_rate_init=0.05, random_state=0)
    params.update(kw)
    est = cls(**params)
    X, y = data(est.output)
    if cls is RNNRegressor:
        y = y.astype(float)[..., None] * np.array([1.0, -0.5])  # two outputs
    return est.fit(X, y), X


def expected_shapes(cell, H, num_layers=1, bidirectional=False, bias=True, K=3):
    """PyTorch's names and shapes, counted from its documentation (not from rnnkit's layout)."""
    G, D = GATES[cell], 2 if bidirectional else 1
    rnn = {}
    for k in range(num_layers):
        for sfx in ("", "_reverse")[:D]:
            rnn[f"weight_ih_l{k}{sfx}"] = (G * H, F if k == 0 else D * H)
            rnn[f"weight_hh_l{k}{sfx}"] = (G * H, H)
            if bias:
                rnn[f"bias_ih_l{k}{sfx}"] = (G * H,)
                rnn[f"bias_hh_l{k}{sfx}"] = (G * H,)
    head = {"weight": (K, D * H), **({"bias": (K,)} if bias else {})}
    return {"rnn": rnn, "head": head}


CONFIGS = [
    dict(cell="rnn"),
    dict(cell="rnn", nonlinearity="relu", bias=False),
    dict(cell="lstm"),
    dict(cell="gru"),
    dict(cell="lstm", num_layers=2),
    dict(cell="gru", bidirectional=True),
    dict(cell="rnn", num_layers=2, bidirectional=True),
    dict(cell="lstm", num_layers=2, bidirectional=True, bias=False),
]


def test_the_mixin_is_wired_into_base_rnn():
    assert issubclass(BaseRNN, TorchInteropMixin), (
        "BaseRNN must list TorchInteropMixin among its bases (rnnkit/estimators/_base.py)")


# ------------------------------------------------------------------------------ without torch
@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_names_shapes_and_module_arguments(kw):
    est, _ = fitted(**kw)
    H, cell = est.hidden_size, est.cell
    state = est.to_torch_state_dict()
    want = expected_shapes(cell, H, kw.get("num_layers", 1), kw.get("bidirectional", False),
                           kw.get("bias", True))
    assert list(state) == ["rnn", "head"]
    for module in ("rnn", "head"):
        assert {k: v.shape for k, v in state[module].items()} == want[module]
        assert list(state[module]) == list(want[module])  # PyTorch's order too
        assert all(v.dtype == np.float32 and v.flags.owndata for v in state[module].values())
    D = 2 if est.bidirectional else 1
    rnn_kwargs = {"input_size": F, "hidden_size": H, "num_layers": est.num_layers, "bias": est.bias,
                  "batch_first": True, "bidirectional": est.bidirectional}
    if cell == "rnn":
        rnn_kwargs["nonlinearity"] = est.nonlinearity
    assert est.torch_module_kwargs() == {
        "rnn": ({"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[cell], rnn_kwargs),
        "head": ("Linear", {"in_features": D * H, "out_features": 3, "bias": est.bias}),
    }
    # the values are coefs_'s, under PyTorch's module names; copies
    coefs = est.coefs_
    for name, value in state["rnn"].items():
        np.testing.assert_array_equal(value, coefs[name])
    np.testing.assert_array_equal(state["head"]["weight"], coefs["weight_out"])
    state["head"]["weight"][...] = 0
    np.testing.assert_array_equal(est.coefs_["weight_out"], coefs["weight_out"])


def test_dtype_follows_the_estimator_and_outputs_count_the_blank():
    reg, _ = fitted(RNNRegressor, dtype="float64", output="sequence")
    state = reg.to_torch_state_dict()
    assert all(v.dtype == np.float64 for sd in state.values() for v in sd.values())
    assert state["head"]["weight"].shape == (2, 4)
    assert reg.torch_module_kwargs()["head"][1]["out_features"] == 2
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(6, F)) for _ in range(8)]
    tr = RNNTranscriber(cell="gru", hidden_size=3, max_iter=1, random_state=0)
    tr.fit(X, ["a", "ab", "b", "ba"] * 2)
    assert tr.to_torch_state_dict()["head"]["weight"].shape == (3, 3)  # blank, "a", "b"


@pytest.mark.parametrize("kw", [dict(cell="lstm", bidirectional=True), dict(cell="gru", bias=False)])
def test_numpy_round_trip_leaves_the_weights_identical(kw):
    est, X = fitted(**kw)
    theta, proba = est._theta.copy(), est.predict_proba(X)
    assert est.from_torch_state_dict(est.to_torch_state_dict()) is est
    np.testing.assert_array_equal(est._theta, theta)
    np.testing.assert_array_equal(est.predict_proba(X), proba)


def test_loaded_values_land_in_their_blocks_cast_to_the_dtype():
    est, X = fitted(cell="gru", num_layers=2, bidirectional=True)
    rng = np.random.RandomState(1)
    new = {m: {k: rng.normal(size=v.shape) for k, v in sd.items()}
           for m, sd in est.to_torch_state_dict().items()}
    before = est.predict_proba(X)
    est.from_torch_state_dict(new)  # float64 values into a float32 estimator
    coefs = est.coefs_
    assert est._theta.dtype == np.float32
    for name, value in new["rnn"].items():
        np.testing.assert_array_equal(coefs[name], value.astype(np.float32))
    np.testing.assert_array_equal(coefs["weight_out"], new["head"]["weight"].astype(np.float32))
    np.testing.assert_array_equal(coefs["bias_out"], new["head"]["bias"].astype(np.float32))
    assert not np.allclose(est.predict_proba(X), before)


class _FakeTensor:
    """What from_torch_state_dict uses of a tensor: detach().cpu().numpy()."""

    def __init__(self, array):
        self.array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array


def test_tensor_like_values_and_training_continues_after_a_load():
    est, X = fitted(cell="lstm", max_iter=2)
    y = data()[1]
    state = est.to_torch_state_dict()
    est.from_torch_state_dict({m: {k: _FakeTensor(2 * v) for k, v in sd.items()} for m, sd in state.items()})
    np.testing.assert_array_equal(est.coefs_["weight_hh_l0"], 2 * state["rnn"]["weight_hh_l0"])
    assert est.best_loss_ == np.inf and est._optimizer.step[0] == 0  # the previous weights' training state
    n_iter = est.n_iter_
    est.partial_fit(X, y)
    assert est.n_iter_ == n_iter + 1 and np.isfinite(est.loss_)


def _state(est):
    return {m: dict(sd) for m, sd in est.to_torch_state_dict().items()}


def _edit(fn):
    def make(est):
        state = _state(est)
        fn(state)
        return state
    return make


@pytest.mark.parametrize("make, match", [
    (_edit(lambda s: s["rnn"].pop("weight_hh_l0")), r"missing rnn\.weight_hh_l0"),
    (_edit(lambda s: s["head"].pop("bias")), r"missing head\.bias"),
    (_edit(lambda s: s["rnn"].update(weight_hr_l0=np.zeros((12, 2)))), r"unexpected rnn\.weight_hr_l0"),
    (_edit(lambda s: s["rnn"].update(weight_ih_l0=np.zeros((12, 4)))),
     r"rnn\.weight_ih_l0 has shape \(12, 4\), expected \(12, 3\)"),
    (_edit(lambda s: s["head"].update(weight=np.zeros((2, 3)))), r"head\.weight has shape \(2, 3\)"),
    (_edit(lambda s: s["head"].update(bias=np.full(3, np.nan))), r"head\.bias has non-finite"),
    (_edit(lambda s: s["head"].update(bias=np.zeros(3, complex))), r"head\.bias has dtype complex"),
    (_edit(lambda s: s.pop("head")), r"missing module 'head'"),
    (_edit(lambda s: s.update(embedding={"weight": np.zeros((5, 3))})),
     r"unexpected module\(s\) 'embedding'"),
    (lambda est: _state(est)["rnn"], r"unexpected module\(s\) 'weight_ih_l0'.*a flat state dict"),
    (lambda est: [1, 2], r"state_dict must be a dict of modules"),
])
def test_invalid_state_dicts_are_named_and_change_nothing(make, match):
    est, X = fitted(cell="gru")
    theta = est._theta.copy()
    with pytest.raises(ValueError, match=match):
        est.from_torch_state_dict(make(est))
    np.testing.assert_array_equal(est._theta, theta)


def test_every_problem_is_named_at_once_and_bias_false_has_no_bias_entries():
    est, _ = fitted(cell="lstm", bias=False)
    state = _state(est)
    assert "bias_ih_l0" not in state["rnn"] and "bias" not in state["head"]
    state["rnn"]["bias_ih_l0"] = np.zeros(16)
    state["rnn"].pop("weight_ih_l0")
    with pytest.raises(ValueError, match=r"missing rnn\.weight_ih_l0; unexpected rnn\.bias_ih_l0 "
                                         r"\(the model has bias=False\)"):
        est.from_torch_state_dict(state)


@pytest.mark.parametrize("kw, what", [
    (dict(cell="lstm", peephole=True), "peephole=True"),
    (dict(cell="gru", layer_norm=True), "layer_norm=True"),
    (dict(cell="lstm", peephole=True, layer_norm=True), "peephole=True and layer_norm=True"),
])
def test_peephole_and_layer_norm_models_have_no_pytorch_counterpart(kw, what):
    est, _ = fitted(**kw)
    state = {"rnn": {k: v for k, v in est.coefs_.items() if k.startswith(("weight_", "bias_"))}, "head": {}}
    for call in (est.to_torch_state_dict, est.torch_module_kwargs, lambda: est.from_torch_state_dict(state)):
        with pytest.raises(ValueError, match=f"{what} has no PyTorch counterpart"):
            call()


def test_not_fitted():
    for call in ("to_torch_state_dict", "torch_module_kwargs"):
        with pytest.raises(NotFittedError):
            getattr(RNNClassifier(), call)()
    with pytest.raises(NotFittedError):
        RNNClassifier().from_torch_state_dict({"rnn": {}, "head": {}})


def token_data(seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 7, size=(N, T)), np.arange(N) % 3


def test_the_embedding_table_is_a_module_of_its_own():
    X, y = token_data()
    est = RNNClassifier(cell="gru", hidden_size=3, embedding_dim=4, n_tokens=7, bias=False, max_iter=1,
                        random_state=0).fit(X, y)
    state = est.to_torch_state_dict()
    assert list(state) == ["embedding", "rnn", "head"]
    want = expected_shapes("gru", 3, bias=False)
    want["rnn"]["weight_ih_l0"] = (9, 4)  # the first layer reads the table's 4 features
    assert {m: {k: v.shape for k, v in sd.items()} for m, sd in state.items()} == {
        "embedding": {"weight": (7, 4)}, **want}
    np.testing.assert_array_equal(state["embedding"]["weight"], est.coefs_["embedding.weight"])
    modules = est.torch_module_kwargs()
    assert list(modules) == ["embedding", "rnn", "head"]
    assert modules["embedding"] == ("Embedding", {"num_embeddings": 7, "embedding_dim": 4})
    assert modules["rnn"][1]["input_size"] == 4
    proba = est.predict_proba(X)
    state["embedding"]["weight"] = state["embedding"]["weight"][::-1].copy()
    est.from_torch_state_dict(state)
    np.testing.assert_array_equal(est.coefs_["embedding.weight"], state["embedding"]["weight"])
    assert not np.allclose(est.predict_proba(X), proba)
    state.pop("embedding")
    with pytest.raises(ValueError, match="missing module 'embedding'"):
        est.from_torch_state_dict(state)


# ------------------------------------------------------------------------------ with torch
def torch_modules(torch, est):
    modules = {name: getattr(torch.nn, cls)(**kwargs)
               for name, (cls, kwargs) in est.torch_module_kwargs().items()}
    if est.dtype == "float64":
        modules = {name: m.double() for name, m in modules.items()}
    return modules


def torch_outputs(torch, est, modules, X):
    """The head's outputs in PyTorch: (N, K) for output="last", else a list of (T_i, K)."""
    rnn, head = modules["rnn"], modules["head"]
    if "embedding" in modules:  # token ids: look up the table first
        with torch.no_grad():
            seqs = [modules["embedding"](torch.as_tensor(np.asarray(x).reshape(-1))) for x in X]
    else:
        seqs = [torch.as_tensor(np.asarray(x, dtype=est.dtype)) for x in X]
    lengths = torch.tensor([len(s) for s in seqs])
    padded = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad():
        out, h = rnn(packed)
        h_n = h[0] if isinstance(h, tuple) else h  # LSTM: (h_n, c_n)
        if est.output == "last":  # top layer: forward after the last valid step, reverse after the first
            D = 2 if est.bidirectional else 1
            return head(torch.cat(list(h_n[-D:]), dim=1)).numpy()
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        return [head(out[i, :n]).numpy() for i, n in enumerate(lengths.tolist())]


def softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def variable_lengths(X):
    return [x[:T - i % 3] for i, x in enumerate(X)]


@pytest.mark.parametrize("kw", CONFIGS + [dict(cell="gru", output="sequence", bidirectional=True),
                                         dict(cell="lstm", output="sequence", bias=False)],
                         ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_classifier_runs_the_same_in_pytorch(kw):
    torch = pytest.importorskip("torch")
    est, X = fitted(**kw)
    modules = torch_modules(torch, est)
    for name, sd in est.to_torch_state_dict().items():
        modules[name].load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    for Xs in (X, variable_lengths(X)):
        got, want = torch_outputs(torch, est, modules, Xs), est.predict_proba(Xs)
        if est.output == "last":
            np.testing.assert_allclose(softmax(got), want, rtol=0, atol=1e-6)
        else:
            for g, w in zip(got, want, strict=True):
                np.testing.assert_allclose(softmax(g), w[:len(g)], rtol=0, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(cell="lstm", num_layers=2), dict(cell="rnn", output="sequence"),
                                dict(cell="gru", bidirectional=True, dtype="float64")])
def test_regressor_runs_the_same_in_pytorch(kw):
    torch = pytest.importorskip("torch")
    est, X = fitted(RNNRegressor, **kw)
    modules = torch_modules(torch, est)
    for name, sd in est.to_torch_state_dict().items():
        modules[name].load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    got, want = torch_outputs(torch, est, modules, X), est.predict(X)
    atol = 1e-12 if est.dtype == "float64" else 1e-6
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=atol)


def test_transcriber_frames_run_the_same_in_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(4 + i % 3, F)).astype(np.float32) for i in range(8)]
    est = RNNTranscriber(cell="lstm", hidden_size=4, bidirectional=True, max_iter=1, random_state=0)
    est.fit(X, ["a", "ab", "b", "ba"] * 2)
    modules = torch_modules(torch, est)
    for name, sd in est.to_torch_state_dict().items():
        modules[name].load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    for g, w in zip(torch_outputs(torch, est, modules, X), est.predict_proba(X), strict=True):
        np.testing.assert_allclose(softmax(g), w, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls, kw", [
    (RNNClassifier, dict(cell="lstm", bidirectional=True)),
    (RNNClassifier, dict(cell="rnn", nonlinearity="relu", num_layers=2, output="sequence")),
    (RNNClassifier, dict(cell="gru", bias=False)),
    (RNNRegressor, dict(cell="gru", num_layers=2, bidirectional=True)),
])
def test_weights_trained_in_pytorch_load_into_the_estimator(cls, kw):
    torch = pytest.importorskip("torch")
    est, X = fitted(cls, **kw)
    torch.manual_seed(0)
    modules = torch_modules(torch, est)
    # a few training steps in PyTorch (any target: only the weights matter)
    params = [p for m in modules.values() for p in m.parameters()]
    optimizer = torch.optim.Adam(params, lr=0.05)
    x = torch.from_numpy(X)
    for _ in range(3):
        optimizer.zero_grad()
        out, _ = modules["rnn"](x)
        modules["head"](out).pow(2).mean().backward()
        optimizer.step()
    est.from_torch_state_dict({name: m.state_dict() for name, m in modules.items()})
    for name, sd in est.to_torch_state_dict().items():
        for k, v in modules[name].state_dict().items():
            np.testing.assert_array_equal(sd[k], v.numpy())
    got = torch_outputs(torch, est, modules, X)
    if cls is RNNRegressor:
        np.testing.assert_allclose(got, est.predict(X), rtol=0, atol=1e-6)
    elif est.output == "last":
        np.testing.assert_allclose(softmax(got), est.predict_proba(X), rtol=0, atol=1e-6)
    else:
        np.testing.assert_allclose(softmax(np.stack(got)), est.predict_proba(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(cell="lstm", bidirectional=True), dict(cell="gru", output="sequence")])
def test_token_models_run_the_same_in_pytorch_both_ways(kw):
    torch = pytest.importorskip("torch")
    X, y = token_data()
    y = y if kw.get("output", "last") == "last" else np.tile(y[:, None], (1, T))
    est = RNNClassifier(hidden_size=4, embedding_dim=3, n_tokens=7, max_iter=1, random_state=0, **kw)
    est.fit(X, y)
    modules = torch_modules(torch, est)
    for name, sd in est.to_torch_state_dict().items():
        modules[name].load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    Xl = [x[:T - i % 3] for i, x in enumerate(X)]
    for Xs in (X, Xl):
        got, want = torch_outputs(torch, est, modules, Xs), est.predict_proba(Xs)
        if est.output == "last":
            np.testing.assert_allclose(softmax(got), want, rtol=0, atol=1e-6)
        else:
            for g, w in zip(got, want, strict=True):
                np.testing.assert_allclose(softmax(g), w, rtol=0, atol=1e-6)
    torch.manual_seed(1)
    fresh = torch_modules(torch, est)
    est.from_torch_state_dict({name: m.state_dict() for name, m in fresh.items()})
    got = torch_outputs(torch, est, fresh, X)
    np.testing.assert_allclose(softmax(np.stack(got)), est.predict_proba(X), rtol=0, atol=1e-6)
