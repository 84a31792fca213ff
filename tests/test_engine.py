"""The engine's boundaries, exercised: cell registry and cache widths, a loss of the user's own,
the batch split's independence from the thread count, concurrent training, runtime settings."""

import subprocess
import sys
import threading

import numpy as np
import pytest
from numba import njit

import rnnkit
from rnnkit import RNNClassifier, config_context, get_config
from rnnkit.backends import cpu as cpu_backend
from rnnkit.backends import get_backend
from rnnkit.backends.cpu import sync
from rnnkit.backends.cpu.calls import call_native, call_void, native_address
from rnnkit.backends.cpu.cells import KERNELS
from rnnkit.backends.cpu.sync import SYNC_DONE, SYNC_PARTS, SYNC_WINDOWS, claim, count, publish, wait_for
from rnnkit.cells import CELLS
from rnnkit.losses import Loss
from rnnkit.network import Network
from rnnkit.optim import Optimizer
from rnnkit.slots import CFG_CELL, CFG_GATES, N_CFG


# ------------------------------------------------------------------------------ cells
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("layer_norm", [False, True])
def test_cell_kernels_stay_within_their_declared_cache_width(cell, layer_norm):
    """Forward fills at most ``cache_width`` values per step and sequence; backward writes none."""
    spec = CELLS[cell]
    T, B, H, guard = 5, 3, 4, 7
    G = spec.n_gates
    C = spec.cache_width(H, layer_norm)
    rng = np.random.default_rng(0)
    xp = rng.normal(size=(T, B, G * H))
    lengths = np.array([5, 2, 4])
    W_hh = rng.normal(size=(G * H, H)) * 0.5
    b_hh = rng.normal(size=G * H) if spec.split_hh else np.zeros(0)
    peep = rng.normal(size=3 * H) if spec.peephole else np.zeros(0)
    ln_size = sum(int(np.prod(s)) for _, s in spec.extra_blocks(H, False, True)[1]) if layer_norm else 0
    lnp = rng.normal(size=ln_size)
    hs = np.zeros((T + 1, B, H))
    hs[0] = rng.normal(size=(B, H))
    cs = np.zeros((T + 1 if spec.has_cell_state else 0, B, H))
    tmp = np.empty(B * G * H + B * H)  # the cells' scratch convention (rnnkit.backends.cpu.cells)
    kern = KERNELS[spec.code]
    cache = np.full((T, B, C + guard), np.nan)  # the kernel sees a wider row than it declared
    unpacked = np.empty((0, 0, 1))  # W_hh not packed: the unpacked per-step products
    kern.forward_sequence(xp, lengths, W_hh, unpacked, b_hh, 0, peep, lnp, hs, cs, cache, tmp)
    assert np.isnan(cache[:, :, C:]).all(), "forward wrote past the declared cache width"
    for b, L in enumerate(lengths):
        if C:
            assert np.isfinite(cache[:L, b, :C]).all(), "the declared width is not all used"
    before = cache.copy()
    dpi = np.zeros((T, B, G * H))
    dph = np.zeros((T, B, G * H))
    kern.backward_sequence(rng.normal(size=(T, B, H)), lengths, W_hh, unpacked, 0, peep, lnp, hs, cs, cache,
                           np.zeros((B, H)), np.zeros((B, H)), dpi, dph, np.zeros((B, H)), np.zeros((B, H)),
                           np.zeros_like(peep), np.zeros_like(lnp), tmp)
    np.testing.assert_array_equal(cache, before)


def test_registry_is_what_the_engine_reads():
    for name, spec in CELLS.items():
        net = Network(name, 2, 3, 2)
        assert net.cfg.shape == (N_CFG,)
        assert net.cfg[CFG_CELL] == spec.code and net.cfg[CFG_GATES] == spec.n_gates
        assert net.shapes["weight_hh_l0"] == (spec.n_gates * 3, 3)
        assert KERNELS[spec.code].__name__.endswith("." + name)
        kernels = KERNELS[spec.code]
        assert callable(kernels.forward_sequence) and callable(kernels.backward_sequence)
    with pytest.raises(ValueError, match="peephole"):
        Network("gru", peephole=True)


# ------------------------------------------------------------------------------ a loss of one's own
class SequenceSumLoss(Loss):
    """Toy sequence-level loss: ``0.5 * ||sum_t z_t - y||^2`` per sequence (one item per sequence)."""

    name, level = "sequence_sum", "sequence"

    def value_and_grad(self, logits, targets, lengths):
        mask = (np.arange(logits.shape[1])[None, :] < lengths[:, None])[..., None]
        r = (logits * mask).sum(axis=1) - targets[:, 0]
        return 0.5 * float((r ** 2).sum()), len(lengths), r[:, None, :] * mask


def _toy_problem(cell, **kw):
    rng = np.random.default_rng(1)
    net = Network(cell, 2, 3, 2, loss=SequenceSumLoss(), output="sequence", **kw)
    theta = net.init_params(0)
    X = rng.normal(size=(4, 5, 2))
    lengths = np.array([5, 2, 3, 1])
    Y = rng.normal(size=(4, 2))
    return net, theta, X, lengths, Y


@pytest.mark.parametrize("cell,kw", [("rnn", {}), ("gru", dict(bidirectional=True)),
                                     ("lstm", dict(num_layers=2, peephole=True)),
                                     ("gru", dict(layer_norm=True, dropout=0.3, num_layers=2))])
def test_sequence_level_loss_plugs_into_the_head_and_passes_gradcheck(cell, kw):
    net, theta, X, lengths, Y = _toy_problem(cell, **kw)
    loss, _ = net.loss_and_grad(theta, X, lengths, Y, dropout_seed=3)
    # the engine's loss is the mean over sequences of the toy loss of the forward pass
    logits = net.predict(theta, X, lengths)["out"] if net.dropout == 0 else None
    if logits is not None:
        _, n, _ = SequenceSumLoss().value_and_grad(logits, Y[:, None, :], lengths)
        expect = SequenceSumLoss().value_and_grad(logits, Y[:, None, :], lengths)[0] / n
        assert loss == pytest.approx(expect, rel=1e-12)
    assert rnnkit.gradcheck(net, theta, X, lengths, Y, dropout_seed=3) <= 1.0


def test_sequence_level_loss_trains_and_needs_whole_sequences():
    net, theta, X, lengths, Y = _toy_problem("gru")
    Yk = net.targets(Y, theta.dtype)
    opt = Optimizer("adam", learning_rate=0.05)
    first = net.train_epoch(theta, opt, X, lengths, Yk)[0]
    for _ in range(30):
        last = net.train_epoch(theta, opt, X, lengths, Yk)[0]
    assert last < 0.5 * first
    with pytest.raises(ValueError, match="whole sequences per window"):
        net.train_epoch(theta, opt, X, lengths, Yk, bptt_steps=2)
    with pytest.raises(ValueError, match="output='sequence'"):
        Network("gru", loss=SequenceSumLoss(), output="last")


# ------------------------------------------------------------------------------ threads and parts
SPLIT_FIT = """
import hashlib, warnings
import numpy as np
from rnnkit import RNNClassifier, get_config
from rnnkit.backends import get_backend
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.normal(size=(96, 6, 3))
y = rng.randint(0, 3, size=96)
cell, hidden, batch, parts = {case}
clf = RNNClassifier(cell=cell, hidden_size=hidden, batch_size=batch, max_iter=2, dtype="float64",
                    random_state=0)
clf.fit(X, y)
assert get_backend("cpu").parts(clf._net, batch) == parts, "not the intended kind of model"
print(get_config()["n_threads"], hashlib.sha256(clf._theta.tobytes()).hexdigest())
"""


@pytest.mark.compiled
@pytest.mark.parametrize("case", [("gru", 24, 48, 2), ("lstm", 128, 8, 1)], ids=["split", "wide"])
def test_split_batches_give_identical_weights_whatever_the_thread_count(case):
    """coefs_ are bit-identical with NUMBA_NUM_THREADS 1, 2 and 4: a batch-split model (parts on threads)
    and a wide one (kept whole, BLAS threads, see ``BLAS_THREADS_MIN_WORK``).

    With numba's cache empty the first process compiles the kernels and the others load them: the
    wide case then failed while the kernels had fast-math flags (see ``FASTMATH``).
    """
    out = {}
    for n in (1, 2, 4):
        run = subprocess.run([sys.executable, "-c", SPLIT_FIT.replace("{case}", repr(case))],
                             capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, "NUMBA_NUM_THREADS": str(n)})
        threads, digest = run.stdout.split()
        assert int(threads) == n
        out[n] = digest
    assert len(set(out.values())) == 1, out


@njit(nogil=True)
def _take_parts(meet, n, rank, S, rounds, owner, seen, mismatches):
    """``rounds`` windows of ``S`` parts among ``n`` threads, as the epoch loop runs them: each thread takes
    the parts still open (writing its rank into ``owner``), thread 0 waits for all of them, reads what
    they wrote and opens the next window."""
    for w in range(rounds):
        if not wait_for(meet, SYNC_WINDOWS, w):
            return w
        for k in range(S):
            p = (rank + k) % S
            if not claim(meet, SYNC_PARTS + p, w):
                continue
            owner[w, p] = rank
            seen[w, p] = w
            count(meet, SYNC_DONE)
        if rank == 0:
            if not wait_for(meet, SYNC_DONE, (w + 1) * S):
                return w
            for p in range(S):
                if seen[w, p] != w:
                    mismatches[0] += 1
            publish(meet, SYNC_WINDOWS, w + 1)
    return rounds


@pytest.mark.compiled
@pytest.mark.skipif(not sync.AVAILABLE, reason="the compiled counters run on POSIX systems")
def test_each_part_goes_to_one_thread_and_its_writes_are_seen():
    n, S, rounds = 3, 5, 2000  # more threads than this machine's cores: waiting threads yield theirs
    meet = np.zeros(sync.SYNC_LEN + S, np.int64)
    owner = np.full((rounds, S), -1, np.int64)
    seen = np.full((rounds, S), -1, np.int64)
    mismatches = np.zeros(1, np.int64)
    done = [None] * n

    def rank(r):
        done[r] = _take_parts(meet, n, r, S, rounds, owner, seen, mismatches)

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done == [rounds] * n
    assert mismatches[0] == 0
    assert meet[sync.SYNC_DONE] == rounds * S  # every part ran exactly once: no claim was lost or doubled
    assert meet[sync.SYNC_PARTS:].tolist() == [rounds] * S
    assert owner.min() >= 0 and set(np.unique(owner)) <= set(range(n))


@pytest.mark.compiled
@pytest.mark.skipif(not sync.AVAILABLE, reason="the compiled counters run on POSIX systems")
def test_waiting_for_a_thread_that_failed_gives_up():
    S = 2
    meet = np.zeros(sync.SYNC_LEN + S, np.int64)
    out = []
    args = (np.full((5, S), -1, np.int64), np.zeros((5, S), np.int64), np.zeros(1, np.int64))
    meet[sync.SYNC_PARTS + 1] = 1  # part 1 of the first window taken by a thread that never finishes it
    t = threading.Thread(target=lambda: out.append(_take_parts(meet, 2, 0, S, 5, *args)))
    t.start()  # thread 0 runs part 0, then waits for part 1
    t.join(0.2)
    assert t.is_alive()
    sync.abort(meet)
    t.join(10)
    assert not t.is_alive() and out == [0]


@pytest.mark.compiled
@pytest.mark.skipif(not sync.AVAILABLE, reason="the compiled counters run on POSIX systems")
def test_a_late_rank_holds_no_one_up(monkeypatch):
    """Without dropout the parts of a split batch go to whichever rank asks first: when rank 1 starts only
    after rank 0 has returned (as when its core is taken), rank 0 has run every window of the epoch
    alone, rank 1 finds nothing left, and the weights are those of one thread."""
    from rnnkit.backends.cpu import loops
    from rnnkit.datasets import make_rule_stream

    X, y = make_rule_stream(n_bits=64 * 40, lag=1, n_rows=64, random_state=0)
    make = lambda: RNNClassifier(cell="rnn", hidden_size=24, output="sequence", batch_size=64,  # noqa: E731
                                 bptt_steps=5, stateful=True, max_iter=2, dtype="float64", random_state=0)
    assert get_backend("cpu").parts(Network("rnn", 1, 24, 2, output="sequence"), 64) == 2
    with config_context(n_threads=1):
        alone = make().fit(X, y)._theta
    ranks = []
    real = loops.train_epoch

    def recorded(r, n, *args):
        ranks.append((r, n))
        return real(r, n, *args)

    monkeypatch.setattr(loops, "train_epoch", recorded)
    monkeypatch.setattr(cpu_backend, "run_parts", lambda fn, n: [fn(r) for r in range(n)])  # in turn
    out = []

    def fit():
        with config_context(n_threads=2):
            out.append(make().fit(X, y)._theta)

    t = threading.Thread(target=fit, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "rank 0 waited for a rank that had not started"
    assert ranks == [(0, 2), (1, 2)] * 2
    np.testing.assert_array_equal(out[0], alone)


CONCURRENT = """
import threading, warnings
import numpy as np
from rnnkit import RNNClassifier
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.normal(size=(96, 6, 3))
y = rng.randint(0, 3, size=96)
make = lambda seed: RNNClassifier(cell="lstm", hidden_size=24, batch_size=48, max_iter=3, dtype="float64",
                                  random_state=seed)
alone = [make(s).fit(X, y)._theta for s in (0, 1)]
together = [None, None]
def work(i):
    together[i] = make(i).fit(X, y)._theta
threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
for t in threads: t.start()
for t in threads: t.join()
import numba
assert numba.config.THREADING_LAYER == "workqueue"
print(all(np.array_equal(a, b) for a, b in zip(alone, together)))
"""


@pytest.mark.compiled
def test_two_threads_training_at_once_under_the_workqueue_layer():
    env = {**__import__("os").environ, "NUMBA_THREADING_LAYER": "workqueue"}
    run = subprocess.run([sys.executable, "-c", CONCURRENT], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-1] == "True"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_thread_count_and_parts_settings():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 5, 2))
    y = rng.randint(0, 2, size=64)
    fit = lambda: RNNClassifier(cell="gru", hidden_size=24, batch_size=64, max_iter=1, dtype="float64",  # noqa
                                random_state=0).fit(X, y)._theta
    base = fit()
    with config_context(n_threads=1):
        assert get_config()["n_threads"] == 1
        np.testing.assert_array_equal(fit(), base)
    with config_context(train_parts=1):
        net = Network("gru", 2, 24, 2)
        assert get_backend("cpu").parts(net, 64) == 1
        unsplit = fit()
    np.testing.assert_allclose(unsplit, base, rtol=1e-10, atol=1e-12)  # another summation order only
    with pytest.raises(ValueError, match="train_parts"):
        rnnkit.set_config(train_parts=0)
    with pytest.raises(ValueError, match="blas_threads"):
        rnnkit.set_config(blas_threads="many")
    # a wide product (parts too small to pack, see the next test): kept whole with BLAS's threads under
    # "auto", cut in parts when BLAS has one thread
    wide = Network("lstm", 2, 128, 2)
    cpu = get_backend("cpu")
    with config_context(n_threads=2):
        assert get_config()["blas_threads"] == "auto"
        assert cpu.parts(wide, 8) == 1 and cpu._blas_limit(wide, 8, 1) == 2
        assert cpu.parts(wide, 256) == 2 and cpu._blas_limit(wide, 256, 2) == 1
        assert cpu._blas_limit(wide, 256, 1) == 2  # a whole batch (prediction, dropout): BLAS's threads
        assert cpu._blas_limit(Network("lstm", 2, 8, 2), 64, 1) == 1  # too small for BLAS to thread
        with config_context(blas_threads=1):
            assert cpu.parts(wide, 8) == 2 and cpu._blas_limit(wide, 8, 2) == 1


@pytest.mark.compiled
def test_batches_whose_parts_run_packed_are_split():
    """Parts whose per-step products run on packed weights (:mod:`rnnkit.backends.cpu.gemm`) do not pack
    the weights at every step: such a batch is cut even where its whole product is wide."""
    cpu = get_backend("cpu")
    with config_context(n_threads=2):
        for net, batch in ((Network("lstm", 32, 512, 10), 64), (Network("lstm", 2, 64, 2), 64)):
            assert cpu._packs(net, batch // 2)
            assert cpu.parts(net, batch) == 2 and cpu._blas_limit(net, batch, 2) == 1
        assert not cpu._packs(Network("lstm", 2, 128, 2), 4)  # fewer rows than a tile


def test_settings_are_per_thread():
    seen = []
    with config_context(train_parts=3):
        t = threading.Thread(target=lambda: seen.append(get_config()["train_parts"]))
        t.start()
        t.join()
        assert get_config()["train_parts"] == 3
    assert seen == [2]


def test_optimizer_penalty_is_set_through_a_method():
    opt = Optimizer("sgd", learning_rate=0.1, alpha=0.5)
    assert opt.alpha == 0.5
    opt.set_penalty(0.25)
    theta, g = np.array([1.0, 2.0]), np.zeros(2)
    opt.update(theta, g, decay_mask=np.array([1.0, 0.0]))
    np.testing.assert_allclose(theta, [1.0 - 0.1 * 0.25, 2.0])
    with pytest.raises(ValueError, match="alpha"):
        opt.set_penalty(-1)


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="device"):
        get_backend("tpu")
    with pytest.raises(ValueError, match="device"):
        RNNClassifier(device="tpu").fit(np.zeros((4, 3, 1)), [0, 1, 0, 1])


# ------------------------------------------------------------------------------ first-use compilation
@pytest.mark.compiled
def test_a_compilation_is_announced_once_per_cell_and_precision(caplog):
    """The announcement fires on a compilation inside the call, once, and not on cached calls."""
    from numba import njit

    from rnnkit import _compile

    net = Network("gru", 2, 3, 2)
    what = "'gru' float16"  # a key no real call uses
    _compile._ANNOUNCED.discard(what)
    with caplog.at_level("WARNING", logger="rnnkit"):
        for _ in range(2):
            with _compile.announce(net, "float16") as listener:
                njit(lambda x: x + 1)(1)  # a fresh function: numba compiles it
            assert listener.n >= 1
        with _compile.announce(net, "float16") as listener:
            pass
        assert listener.n == 0
    lines = [r.getMessage() for r in caplog.records if "compiling" in r.getMessage()]
    assert len(lines) == 1 and what in lines[0] and "python -m rnnkit.compile" in lines[0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_compile_command_warms_the_requested_kernels(capsys):
    from rnnkit.compile import main

    assert main(["--cell", "rnn", "--dtype", "float64", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "rnn" in out and "float64" in out and "cached in" in out
    with pytest.raises(SystemExit):
        main(["--cell", "transformer"])


@pytest.mark.compiled
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_variants_losses_and_solvers_do_not_compile_again():
    """After one fit of a cell, other layers, directions, dropout, losses and solvers compile nothing."""
    from numba.core import event

    from rnnkit import RNNRegressor, RNNTranscriber

    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 5, 2))
    y = np.arange(12) % 3
    small = dict(cell="gru", hidden_size=3, max_iter=1, random_state=0)
    RNNClassifier(**small, dropout=0.2).fit(X, y).predict(X)  # may compile (or load) the gru kernels
    words = ["ab"[i % 2] * (1 + i % 3) for i in range(len(X))]
    for decoder in ("greedy", "beam"):  # ... and the CTC kernels
        RNNTranscriber(**small, decoder=decoder).fit(X, words).predict(X)
    candidates = [RNNClassifier(**small, num_layers=2, bidirectional=True),
                  RNNClassifier(**small, layer_norm=True, solver="sgd", dropout=0.3),
                  RNNClassifier(**small, output="sequence", solver="rmsprop"),
                  RNNRegressor(**small, solver="adagrad", alpha=0.0, clip_grad_norm=1.0),
                  RNNTranscriber(**small, num_layers=2, bidirectional=True, solver="sgd", decoder="beam")]
    compiled = []

    class Count(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__qualname__)

        def on_end(self, ev):
            pass

    counter = Count()
    event.register("numba:compile", counter)
    try:
        for est in candidates:
            target = words if isinstance(est, RNNTranscriber) else np.tile(y[:, None], (1, 5)) \
                if est.output == "sequence" else y.astype(float) if isinstance(est, RNNRegressor) else y
            est.fit(X, target).predict(X)
    finally:
        event.unregister("numba:compile", counter)
    assert compiled == []


def test_borrowed_arrays_share_the_owners_memory_and_leave_it_alive():
    # what the compiled loops rely on (rnnkit.backends.cpu.linalg.borrow): a view of a borrowed array
    # reads and writes the owner's memory, and borrowing takes nothing from the owner: its reference
    # count is the same after many borrowed views were made and dropped
    from numba import njit

    from rnnkit.backends.cpu.linalg import borrow, cview

    @njit
    def write_through(a, reps):
        total = 0.0
        for _ in range(reps):
            b = borrow(a)
            v = cview(b[2:8], (2, 3))
            v[1, 2] += 1.0
            total += v[0, 0]
        return total

    a = np.arange(10.0)
    before = sys.getrefcount(a)
    assert write_through(a, 1000) == 2000.0
    assert a[7] == 1007.0 and a[6] == 6.0 and a[8] == 8.0
    assert sys.getrefcount(a) == before


@njit
def _scaled_sum(a, k, out):
    if k < 0:
        raise ValueError("negative k")
    out[0] = a.sum() * k
    return out[0], k + 1


@njit
def _through_address(address, key, a, k, out):
    return call_native(_scaled_sum, address, key, (a, k, out))


@njit
def _fill(out, value):
    out[:] = value


@njit
def _fill_through_address(address, key, out, value):
    call_void(address, key, (out, value))


@pytest.mark.compiled
def test_a_call_through_an_address_is_the_direct_call_and_checks_its_key():
    # how the epoch loop reaches the window and the window the stack's passes
    # (rnnkit.backends.cpu.calls): the same results and exceptions as a direct call, and an
    # address taken for other argument types is refused instead of called
    a, out = np.arange(4.0), np.zeros(1)
    address, key = native_address(_scaled_sum, (a, 3, out))
    assert address > 0
    assert _through_address(address, key, a, 3, out) == (18.0, 4)
    assert out[0] == 18.0
    with pytest.raises(ValueError, match="negative k"):
        _through_address(address, key, a, -1, out)
    other_address, other_key = native_address(_scaled_sum, (a.astype(np.float32), 3, out))
    assert other_key != key and other_address != address
    with pytest.raises(RuntimeError, match="other argument types"):
        _through_address(other_address, other_key, a, 3, out)
    # a function that returns nothing, known to the caller by its address alone (the cells' kernels)
    address, key = native_address(_fill, (out, 2.5), void=True)
    _fill_through_address(address, key, out, 2.5)
    assert out[0] == 2.5
    with pytest.raises(TypeError, match="returns nothing"):
        native_address(_scaled_sum, (a, 3, out), void=True)
