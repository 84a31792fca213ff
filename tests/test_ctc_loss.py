"""CTC: the compiled loss, the decoders and the label error rate against the NumPy loop references.

The references in ``naive`` are checked against each other first (brute-force
enumeration of every path, log-space forward-backward, finite differences);
the compiled functions are then compared with them on tiny problems.
"""

import naive
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit import config_context
from rnnkit.ctc import beam_search_decode, greedy_decode
from rnnkit.losses import ctc_loss
from rnnkit.metrics import label_error_rate

TOL = dict(rtol=1e-10, atol=1e-10)


def reference(logits, targets, input_lengths, target_lengths, blank=0):
    """Per-sequence naive forward-backward over a padded batch: (loss (N,), grad (N, T, C))."""
    N, T, C = logits.shape
    loss = np.zeros(N)
    grad = np.zeros((N, T, C))
    for n in range(N):
        Tn, Ln = int(input_lengths[n]), int(target_lengths[n])
        loss[n], grad[n, :Tn] = naive.ctc_forward_backward(
            np.asarray(logits[n, :Tn], dtype=float), list(targets[n, :Ln]), blank)
    return loss, grad


def feasible(targets, input_lengths, target_lengths):
    """Rows whose label sequence fits into their frames."""
    return np.array([naive.ctc_min_frames(targets[n, :target_lengths[n]]) <= input_lengths[n]
                     for n in range(len(input_lengths))], dtype=bool)


def single(logits, target, blank=0):
    """The compiled loss of one sequence (a batch of one): (loss, grad (T, C))."""
    target = np.asarray(target, dtype=np.int64).reshape(1, -1)
    loss, grad = ctc_loss(logits[None], target, np.array([logits.shape[0]]),
                          np.array([target.shape[1]]), blank=blank)
    return loss[0], grad[0]


# ----------------------------------------------------------------------------- the references
def test_references_agree():
    """Brute force, forward-backward and finite differences of the references agree."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        T, C = int(rng.integers(1, 5)), int(rng.integers(2, 4))
        blank = int(rng.integers(C))
        others = [k for k in range(C) if k != blank]
        target = [int(k) for k in rng.choice(others, size=int(rng.integers(0, 4)))]
        z = rng.normal(size=(T, C)) * 2
        brute = naive.ctc_bruteforce(z, target, blank)
        nll, grad = naive.ctc_forward_backward(z, target, blank)
        if naive.ctc_min_frames(target) > T:
            assert brute == nll == np.inf and not grad.any()
            continue
        assert np.isclose(nll, brute, rtol=1e-12, atol=0)
        def nll_of(z=z, target=target, blank=blank):  # reads z, which central_differences perturbs
            return naive.ctc_forward_backward(z, target, blank)[0]

        num = naive.central_differences(z, nll_of)
        np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-8)
        assert np.isclose(sum(naive.ctc_labelling_probs(z, blank).values()), 1.0, rtol=1e-12)
    assert naive.edit_distance("kitten", "sitting") == 3
    assert naive.edit_distance([], [1, 2]) == 2 and naive.edit_distance("ab", "ab") == 0


# ----------------------------------------------------------------------------- 1. exact values
CASES = [  # (T, C, target, blank)
    (3, 3, [1, 1], 0),      # repeated label: exactly the minimum 3 frames
    (4, 3, [1, 1], 0),
    (2, 2, [1], 0),
    (3, 3, [], 0),          # empty target: all blanks
    (1, 2, [], 1),
    (1, 3, [2], 0),         # one frame, one label
    (3, 3, [1, 2, 1], 0),   # no repeats: T == L is enough
    (5, 2, [1, 1, 1], 0),   # two blanks needed: T == 5 is the minimum
    (4, 4, [3, 1, 3], 2),   # blank in the middle of the classes
    (5, 3, [0, 0], 2),      # blank the last class, label 0
    (6, 3, [2, 1], 0),
]


@pytest.mark.parametrize("T,C,target,blank", CASES)
def test_loss_matches_bruteforce(T, C, target, blank):
    rng = np.random.default_rng(T * 100 + C * 10 + len(target))
    for scale in (0.5, 2.0, 6.0):
        z = rng.normal(size=(T, C)) * scale
        loss, grad = single(z, target, blank)
        assert loss.dtype == np.float64 and grad.dtype == np.float64 and grad.shape == (T, C)
        brute = naive.ctc_bruteforce(z, target, blank)
        nll, rgrad = naive.ctc_forward_backward(z, target, blank)
        assert np.isfinite(brute)
        np.testing.assert_allclose(loss, brute, **TOL)
        np.testing.assert_allclose(loss, nll, **TOL)
        np.testing.assert_allclose(grad, rgrad, **TOL)


def test_padded_batch_matches_reference():
    """Cases of mixed lengths in one padded batch: each row as the reference computes it alone."""
    rng = np.random.default_rng(5)
    C = 4
    rows = [([1, 1], 3), ([], 2), ([3, 2, 3], 5), ([2], 1), ([1, 2, 2, 1], 6), ([3, 3, 3], 5)]
    N, T, S = len(rows), 6, 4
    targets = np.full((N, S), 99, dtype=np.int64)
    for n, (t, _) in enumerate(rows):
        targets[n, :len(t)] = t
    target_lengths = np.array([len(t) for t, _ in rows])
    input_lengths = np.array([tn for _, tn in rows])
    logits = rng.normal(size=(N, T, C)) * 2
    before = logits.copy(), targets.copy()
    loss, grad = ctc_loss(logits, targets, input_lengths, target_lengths)
    np.testing.assert_array_equal(logits, before[0])  # inputs are left unchanged
    np.testing.assert_array_equal(targets, before[1])
    rloss, rgrad = reference(logits, targets, input_lengths, target_lengths)
    assert loss.shape == (N,) and grad.shape == (N, T, C)
    np.testing.assert_allclose(loss, rloss, **TOL)
    np.testing.assert_allclose(grad, rgrad, **TOL)
    for n in range(N):  # and as a batch of one
        alone, galone = single(logits[n, :input_lengths[n]], rows[n][0])
        np.testing.assert_allclose(loss[n], alone, rtol=1e-13, atol=0)
        np.testing.assert_allclose(grad[n, :input_lengths[n]], galone, rtol=1e-12, atol=1e-15)


def test_matches_pytorch_values():
    """Values of torch.nn.functional.ctc_loss(log_softmax(z), ..., reduction="none") (torch 2.x, float64)."""
    N, T, C = 3, 5, 4
    z = 2.0 * np.sin(0.7 * np.arange(N * T * C) + 0.3).reshape(N, T, C)
    targets = np.array([[1, 1, 0], [3, 2, 1], [2, 0, 0]])
    loss, grad = ctc_loss(z, targets, np.array([5, 4, 3]), np.array([2, 3, 1]))
    np.testing.assert_allclose(loss, [6.258048792280781, 4.412270721636614, 1.5600324801353183],
                               rtol=1e-12)
    torch_grad_1 = [[-0.2971192936241987, 0.30185836810192307, 0.08353858449044223, -0.08827765896816656],
                    [0.04734498758260213, 0.06287277607365278, 0.10523791481226037, -0.2154556784685153],
                    [0.31229440504130124, 0.359808326846909, -0.7286104492978379, 0.05650771740962766],
                    [0.21063580418364836, -0.8406948213158372, 0.16162171509941417, 0.4684373020327746],
                    [0.0, 0.0, 0.0, 0.0]]
    np.testing.assert_allclose(grad[1], torch_grad_1, rtol=1e-10, atol=1e-12)


def test_empty_targets_closed_form():
    """S = 0: the only alignment is all blanks, loss = -sum_t log p_t(blank), grad = softmax - onehot."""
    rng = np.random.default_rng(2)
    N, T, C, blank = 3, 4, 3, 1
    logits = rng.normal(size=(N, T, C))
    input_lengths = np.array([4, 1, 3])
    loss, grad = ctc_loss(logits, np.zeros((N, 0), dtype=np.int64), input_lengths,
                          np.zeros(N, dtype=np.int64), blank=blank)
    for n in range(N):
        logp = naive.log_softmax(logits[n, :input_lengths[n]])
        np.testing.assert_allclose(loss[n], -logp[:, blank].sum(), **TOL)
        expected = np.exp(logp)
        expected[:, blank] -= 1.0
        np.testing.assert_allclose(grad[n, :input_lengths[n]], expected, **TOL)
        assert not grad[n, input_lengths[n]:].any()


def test_zero_input_length():
    """No frames: the empty labelling has probability 1 (loss 0), any other 0 (loss inf)."""
    logits = np.random.default_rng(4).normal(size=(2, 3, 3))
    targets = np.array([[1], [1]])
    loss, grad = ctc_loss(logits, targets, np.array([0, 0]), np.array([0, 1]))
    assert loss[0] == 0.0 and loss[1] == np.inf
    assert not grad.any() and not np.isnan(grad).any()


# ----------------------------------------------------------------------------- 2. random batches
@st.composite
def ctc_batches(draw, max_N=3, max_T=6, max_L=3):
    """A padded batch: random N, T, C, blank, target and input lengths; garbage in all padding."""
    N = draw(st.integers(1, max_N))
    T = draw(st.integers(1, max_T))
    C = draw(st.integers(2, 5))
    blank = draw(st.integers(0, C - 1))
    target_lengths = draw(st.lists(st.integers(0, max_L), min_size=N, max_size=N))
    S = max(target_lengths) + draw(st.integers(0, 2))
    targets = np.empty((N, S), dtype=np.int64)
    for n, L in enumerate(target_lengths):
        # labels from the C - 1 classes other than blank; few classes make repeats frequent
        ks = draw(st.lists(st.integers(0, min(C - 2, draw(st.integers(0, C - 2)))),
                           min_size=L, max_size=L))
        pad = draw(st.lists(st.sampled_from([99, blank, -1, C]), min_size=S - L, max_size=S - L))
        targets[n] = [k if k < blank else k + 1 for k in ks] + pad
    input_lengths = np.array(draw(st.lists(st.integers(1, T), min_size=N, max_size=N)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = rng.normal(size=(N, T, C)) * draw(st.sampled_from([0.3, 1.0, 3.0]))
    for n in range(N):  # frames past a length are never read
        logits[n, input_lengths[n]:] = rng.normal(size=(T - input_lengths[n], C)) * 1e3
    return logits, targets, input_lengths, np.array(target_lengths), blank


@given(batch=ctc_batches())
def test_random_batches_match_reference(batch):
    logits, targets, input_lengths, target_lengths, blank = batch
    loss, grad = ctc_loss(logits, targets, input_lengths, target_lengths, blank=blank)
    rloss, rgrad = reference(logits, targets, input_lengths, target_lengths, blank)
    ok = feasible(targets, input_lengths, target_lengths)
    np.testing.assert_array_equal(np.isinf(loss), ~ok)
    assert np.all(loss[~ok] > 0)
    np.testing.assert_allclose(loss[ok], rloss[ok], **TOL)
    np.testing.assert_allclose(grad, rgrad, **TOL)  # zero rows for infeasible sequences, padding
    _, _, C = logits.shape
    for n in np.flatnonzero(ok):
        Tn = input_lengths[n]
        if C ** Tn <= 1024:
            brute = naive.ctc_bruteforce(logits[n, :Tn], targets[n, :target_lengths[n]], blank)
            np.testing.assert_allclose(loss[n], brute, **TOL)


@given(batch=ctc_batches())
def test_random_batches_finite_differences(batch):
    """The gradient of the summed loss of the feasible rows against central differences."""
    logits, targets, input_lengths, target_lengths, blank = batch
    ok = feasible(targets, input_lengths, target_lengths)
    z = logits.copy()
    for n in range(len(z)):  # moderate padding values: differences are taken over every entry
        z[n, input_lengths[n]:] = 0.5
    _, grad = ctc_loss(z, targets, input_lengths, target_lengths, blank=blank)

    def total():
        return ctc_loss(z, targets, input_lengths, target_lengths, blank=blank)[0][ok].sum()

    num = naive.central_differences(z, total)
    np.testing.assert_allclose(grad[ok], num[ok], rtol=1e-6, atol=1e-6)
    assert not grad[~ok].any()


def test_large_batch_threads():
    """A batch cut into row ranges on several threads: every row as the reference, whatever the threads."""
    rng = np.random.default_rng(37)
    N, T, C, S = 37, 5, 3, 3  # beam of 64 >= 63 prefixes of <= 5 labels over 2 classes: exact
    logits = rng.normal(size=(N, T, C)) * 2
    targets = rng.integers(1, C, size=(N, S))
    input_lengths = rng.integers(1, T + 1, size=N)
    target_lengths = rng.integers(0, S + 1, size=N)
    rloss, rgrad = reference(logits, targets, input_lengths, target_lengths)
    results = []
    for threads in (1, 4):
        with config_context(n_threads=threads):
            loss, grad = ctc_loss(logits, targets, input_lengths, target_lengths)
            greedy = _as_lists(greedy_decode(logits, input_lengths))
            beam = _as_lists(beam_search_decode(logits, input_lengths, beam_width=64))
        ok = np.isfinite(rloss)
        np.testing.assert_array_equal(np.isfinite(loss), ok)
        np.testing.assert_allclose(loss[ok], rloss[ok], **TOL)
        np.testing.assert_allclose(grad, rgrad, **TOL)
        results.append((loss, grad, greedy, beam))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2] and results[0][3] == results[1][3]
    for n in range(N):
        path = logits[n, :input_lengths[n]].argmax(axis=1)
        assert results[0][2][n] == list(naive.ctc_collapse(path))
        assert tuple(results[0][3][n]) == naive.ctc_exhaustive_decode(logits[n, :input_lengths[n]])[0]


# ----------------------------------------------------------------------------- 3. impossible alignments
def test_impossible_alignment_is_inf_with_zero_grad():
    rng = np.random.default_rng(7)
    N, T, C = 4, 4, 4
    logits = rng.normal(size=(N, T, C))
    targets = np.array([[1, 1, 0, 0],     # needs 3 frames, has 2
                        [1, 2, 3, 1],     # needs 4 frames, has 3
                        [2, 2, 2, 0],     # needs 5 frames, has 4
                        [1, 2, 9, 9]])    # feasible
    input_lengths = np.array([2, 3, 4, 4])
    target_lengths = np.array([2, 4, 3, 2])
    loss, grad = ctc_loss(logits, targets, input_lengths, target_lengths)
    assert np.all(loss[:3] == np.inf)
    assert not grad[:3].any() and not np.isnan(grad).any()
    alone, galone = single(logits[3], [1, 2])
    assert np.isfinite(loss[3])
    np.testing.assert_allclose(loss[3], alone, rtol=1e-13)
    np.testing.assert_allclose(grad[3], galone, rtol=1e-12, atol=1e-15)
    # one more frame each makes the first two feasible, exactly at the minimum
    loss2, _ = ctc_loss(logits, targets, np.array([3, 4, 4, 4]), target_lengths)
    assert np.all(np.isfinite(loss2[[0, 1, 3]])) and loss2[2] == np.inf
    np.testing.assert_allclose(loss2[0], naive.ctc_bruteforce(logits[0, :3], [1, 1]), **TOL)
    np.testing.assert_allclose(loss2[1], naive.ctc_bruteforce(logits[1], [1, 2, 3, 1]), **TOL)


# ----------------------------------------------------------------------------- 4. gradient structure
@given(batch=ctc_batches(max_T=5))
def test_grad_rows_zero_past_length_and_sum_to_zero(batch):
    logits, targets, input_lengths, target_lengths, blank = batch
    loss, grad = ctc_loss(logits, targets, input_lengths, target_lengths, blank=blank)
    ok = feasible(targets, input_lengths, target_lengths)
    for n in range(len(loss)):
        assert not grad[n, input_lengths[n]:].any()  # exactly zero past the length
        if ok[n]:
            valid = grad[n, :input_lengths[n]]
            np.testing.assert_allclose(valid.sum(axis=1), 0.0, atol=1e-12)  # softmax - occupancy
            assert np.all(valid >= -1 - 1e-12) and np.all(valid <= 1 + 1e-12)
            # occupancy = softmax - grad: non-negative, only on the blank and the target's labels
            occ = np.exp(naive.log_softmax(logits[n, :input_lengths[n]])) - valid
            assert np.all(occ >= -1e-12)
            others = sorted(set(range(logits.shape[2])) - {blank} - set(targets[n, :target_lengths[n]]))
            np.testing.assert_allclose(occ[:, others], 0.0, atol=1e-12)


# ----------------------------------------------------------------------------- 5. float32
def test_float32_agrees_with_float64():
    rng = np.random.default_rng(11)
    N, T, C = 3, 6, 4
    logits = (rng.normal(size=(N, T, C)) * 2).astype(np.float32)
    targets = np.array([[1, 1, 2], [3, 0, 0], [2, 3, 1]], dtype=np.int32)
    input_lengths, target_lengths = np.array([6, 4, 5]), np.array([3, 1, 3])
    l32, g32 = ctc_loss(logits, targets, input_lengths, target_lengths)
    l64, g64 = ctc_loss(logits.astype(np.float64), targets, input_lengths, target_lengths)
    assert l32.dtype == np.float32 and g32.dtype == np.float32
    assert l64.dtype == np.float64 and g64.dtype == np.float64
    np.testing.assert_allclose(l32, l64, rtol=1e-4)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)
    rloss, rgrad = reference(logits, targets, input_lengths, target_lengths)
    np.testing.assert_allclose(l64, rloss, **TOL)


@pytest.mark.compiled
def test_float32_long_sequences_stay_finite():
    """T = 2000 frames in float32: no underflow to -inf in the recursions, no NaN in the gradient."""
    rng = np.random.default_rng(13)
    N, T, C, L = 2, 2000, 5, 50
    logits = (rng.normal(size=(N, T, C)) * 3).astype(np.float32)
    targets = rng.integers(1, C, size=(N, L))
    targets[0, 10:14] = 2  # some repeats
    input_lengths, target_lengths = np.array([T, 1500]), np.array([L, 40])
    l32, g32 = ctc_loss(logits, targets, input_lengths, target_lengths)
    assert l32.dtype == np.float32 and g32.dtype == np.float32
    assert np.all(np.isfinite(l32)) and np.all(l32 > 0) and np.all(np.isfinite(g32))
    assert not g32[1, 1500:].any()
    np.testing.assert_allclose(g32[0].sum(axis=1), 0.0, atol=1e-2)
    l64, g64 = ctc_loss(logits.astype(np.float64), targets, input_lengths, target_lengths)
    np.testing.assert_allclose(l32, l64, rtol=1e-3)
    np.testing.assert_allclose(g32, g64, atol=1e-2)


# ----------------------------------------------------------------------------- 6. inputs
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64])
def test_target_dtypes(dtype):
    rng = np.random.default_rng(17)
    logits = rng.normal(size=(2, 5, 3))
    targets = np.array([[1, 1, 2], [2, 0, 0]])
    args = (np.array([5, 3]), np.array([3, 1]))
    expected = ctc_loss(logits, targets.astype(np.int64), *args)
    got = ctc_loss(logits, targets.astype(dtype), *(a.astype(dtype) for a in args))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(expected[0], reference(logits, targets, *args)[0], **TOL)


def _valid():
    rng = np.random.default_rng(19)
    return dict(logits=rng.normal(size=(2, 4, 3)), targets=np.array([[1, 2], [2, 9]]),
                input_lengths=np.array([4, 3]), target_lengths=np.array([2, 1]), blank=0)


def _call(**kw):
    a = _valid()
    a.update(kw)
    return ctc_loss(a["logits"], a["targets"], a["input_lengths"], a["target_lengths"], blank=a["blank"])


INVALID = {
    "blank label inside the length": dict(targets=np.array([[1, 0], [2, 9]])),
    "blank label (blank=2)": dict(targets=np.array([[1, 2], [1, 9]]), blank=2),
    "label >= C": dict(targets=np.array([[1, 3], [2, 9]])),
    "negative label": dict(targets=np.array([[1, -1], [2, 9]], dtype=np.int8)),
    "input_lengths > T": dict(input_lengths=np.array([5, 3])),
    "negative input_lengths": dict(input_lengths=np.array([4, -1])),
    "target_lengths > S": dict(target_lengths=np.array([3, 1])),
    "negative target_lengths": dict(target_lengths=np.array([2, -1])),
    "blank >= C": dict(blank=3),
    "negative blank": dict(blank=-1),
    "2-D logits": dict(logits=np.zeros((4, 3))),
    "4-D logits": dict(logits=np.zeros((2, 4, 3, 1))),
    "1-D targets": dict(targets=np.array([1, 2])),
    "targets rows != N": dict(targets=np.array([[1, 2]])),
    "input_lengths != N": dict(input_lengths=np.array([4, 3, 2])),
    "target_lengths != N": dict(target_lengths=np.array([2])),
    "2-D input_lengths": dict(input_lengths=np.array([[4, 3]])),
}


def test_valid_call_passes():
    loss, grad = _call()
    assert np.all(np.isfinite(loss)) and grad.shape == (2, 4, 3)


@pytest.mark.parametrize("kw", INVALID.values(), ids=INVALID.keys())
def test_invalid_inputs_raise(kw):
    with pytest.raises(ValueError):
        _call(**kw)


def test_padding_values_never_checked():
    """Past target_lengths anything goes (blank, out of range, negative)."""
    base = _call()
    for pad in (0, 9, -5, 3):
        got = _call(targets=np.array([[1, 2], [2, pad]]))
        np.testing.assert_array_equal(got[0], base[0])
        np.testing.assert_array_equal(got[1], base[1])


# ----------------------------------------------------------------------------- 7. decoding
def frames(argmax, C, blank_noise=0.1, seed=0):
    """Logits whose per-frame argmax is ``argmax`` (one-hot * 3 plus small noise)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(len(argmax), C)) * blank_noise
    z[np.arange(len(argmax)), argmax] += 3.0
    return z


def _as_lists(out):
    assert isinstance(out, list)
    for a in out:
        assert isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype == np.int64
    return [a.tolist() for a in out]


def test_greedy_rules():
    z = frames([1, 1, 0, 1, 2, 2, 0], 3)
    logits = np.stack([z, z, z, z, z])
    out = _as_lists(greedy_decode(logits, np.array([7, 5, 4, 3, 0])))
    # repeats merged, a blank separates two equal labels, frames past the length ignored
    assert out == [[1, 1, 2], [1, 1, 2], [1, 1], [1], []]
    # another blank index
    z = frames([2, 0, 0, 2, 0, 1, 1], 3, seed=1)
    assert _as_lists(greedy_decode(z[None], np.array([7]), blank=2)) == [[0, 0, 1]]
    assert _as_lists(greedy_decode(frames([0, 0, 0], 3)[None], np.array([3]))) == [[]]
    assert _as_lists(greedy_decode(frames([0, 0, 0], 3)[None], np.array([3]), blank=1)) == [[0]]


def test_greedy_ties_take_first_index():
    logits = np.array([[[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [0.5, 0.2, 0.5], [0.0, 0.3, 0.3]]])
    # argmax per frame: 0, 1, 0, 1
    assert _as_lists(greedy_decode(logits, np.array([4]))) == [[1, 1]]
    assert _as_lists(greedy_decode(logits, np.array([4]), blank=1)) == [[0, 0]]
    assert _as_lists(greedy_decode(logits, np.array([4]), blank=2)) == [[0, 1, 0, 1]]


def test_greedy_matches_argmax_collapse():
    rng = np.random.default_rng(23)
    N, T, C = 6, 9, 4
    logits = rng.normal(size=(N, T, C))
    lengths = rng.integers(0, T + 1, size=N)
    for blank in range(C):
        out = _as_lists(greedy_decode(logits, lengths, blank=blank))
        for n in range(N):
            path = logits[n, :lengths[n]].argmax(axis=1)
            assert out[n] == list(naive.ctc_collapse(path, blank))


@given(N=st.integers(1, 3), T=st.integers(1, 4), C=st.integers(2, 3), blank_draw=st.integers(0, 2),
       scale=st.sampled_from([0.5, 1.0, 3.0]), seed=st.integers(0, 2**32 - 1))
def test_beam_search_matches_exhaustive(N, T, C, blank_draw, scale, seed):
    """A beam of 64 never prunes here (at most 31 prefixes): the most probable labelling."""
    blank = blank_draw % C
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, T, C)) * scale
    lengths = rng.integers(1, T + 1, size=N)
    out = _as_lists(beam_search_decode(logits, lengths, beam_width=64, blank=blank))
    greedy = _as_lists(greedy_decode(logits, lengths, blank=blank))
    assert len(out) == N
    for n in range(N):
        probs = naive.ctc_labelling_probs(logits[n, :lengths[n]], blank)
        best, pbest = naive.ctc_exhaustive_decode(logits[n, :lengths[n]], blank)
        got = tuple(out[n])
        assert got in probs
        assert probs[got] >= pbest * (1 - 1e-9)  # the best labelling (or one tied with it)
        if pbest - max([p for k, p in probs.items() if k != best], default=0.0) > 1e-9:
            assert got == best
        assert probs[got] >= probs.get(tuple(greedy[n]), 0.0) * (1 - 1e-9)


def test_beam_search_beats_greedy():
    """Two frames, P(blank) = 0.6: the best path is "" (0.36) but "1" has 0.24 + 0.24 + 0.16 = 0.64."""
    logits = np.log(np.array([[[0.6, 0.4], [0.6, 0.4]]]))
    lengths = np.array([2])
    greedy = _as_lists(greedy_decode(logits, lengths))[0]
    assert greedy == []
    for width in (2, 10):
        beam = _as_lists(beam_search_decode(logits, lengths, beam_width=width))[0]
        assert beam == [1]
    beam = _as_lists(beam_search_decode(logits, lengths))[0]  # default width
    assert beam == [1]
    p_beam = np.exp(-naive.ctc_bruteforce(logits[0], beam))
    p_greedy = np.exp(-naive.ctc_bruteforce(logits[0], greedy))
    np.testing.assert_allclose([p_beam, p_greedy], [0.64, 0.36], rtol=1e-12)
    # a longer example with three classes and another blank index
    p = np.array([[0.3, 0.25, 0.45], [0.3, 0.25, 0.45], [0.3, 0.25, 0.45]])
    logits = np.log(p)[None]
    greedy = _as_lists(greedy_decode(logits, np.array([3]), blank=2))[0]
    beam = _as_lists(beam_search_decode(logits, np.array([3]), beam_width=16, blank=2))[0]
    best, _ = naive.ctc_exhaustive_decode(logits[0], blank=2)
    assert greedy == [] and beam == list(best) and beam != greedy
    assert naive.ctc_bruteforce(logits[0], beam, 2) < naive.ctc_bruteforce(logits[0], greedy, 2)


def test_beam_search_respects_lengths():
    rng = np.random.default_rng(29)
    z = rng.normal(size=(1, 3, 3))
    padded = np.concatenate([z, rng.normal(size=(1, 4, 3)) * 10], axis=1)
    a = _as_lists(beam_search_decode(z, np.array([3]), beam_width=8))
    b = _as_lists(beam_search_decode(padded, np.array([3]), beam_width=8))
    assert a == b
    assert _as_lists(beam_search_decode(padded, np.array([0]), beam_width=8)) == [[]]


# ----------------------------------------------------------------------------- 8. label error rate
def test_label_error_rate_hand_cases():
    assert label_error_rate([[1, 2, 3]], [[1, 2, 3]]) == 0.0
    assert isinstance(label_error_rate([[1, 2, 3]], [[1, 2, 3]]), float)
    assert label_error_rate(["kitten"], ["sitting"]) == pytest.approx(3 / 6)
    assert label_error_rate([[1, 2, 3]], [[1, 5, 3]]) == pytest.approx(1 / 3)       # substitution
    assert label_error_rate([[1, 2]], [[1, 2, 3]]) == pytest.approx(1 / 2)          # insertion
    assert label_error_rate([[1, 2, 3, 4]], [[1, 4]]) == pytest.approx(2 / 4)       # deletions
    assert label_error_rate([[1]], [[2, 3, 4]]) == pytest.approx(3.0)               # may exceed 1
    assert label_error_rate([np.array([1, 2, 3])], [np.array([], dtype=np.int64)]) == pytest.approx(1.0)
    # total distance over total reference length, not a mean of per-sequence rates
    assert label_error_rate([[1, 2], [1, 2, 3, 4, 5, 6]], [[9, 9], [1, 2, 3, 4, 5, 6]]) == pytest.approx(0.25)
    assert label_error_rate(["ab", "cde"], ["ab", "cd"]) == pytest.approx(1 / 5)


def test_label_error_rate_matches_naive():
    rng = np.random.default_rng(31)
    for _ in range(20):
        n = int(rng.integers(1, 5))
        y_true = [rng.integers(0, 4, size=int(rng.integers(1, 7))) for _ in range(n)]
        y_pred = [rng.integers(0, 4, size=int(rng.integers(0, 7))) for _ in range(n)]
        distance = sum(naive.edit_distance(a, b) for a, b in zip(y_true, y_pred, strict=True))
        expected = distance / sum(map(len, y_true))
        assert label_error_rate(y_true, y_pred) == pytest.approx(expected, rel=1e-12)
        # the output of a decoder is a valid y_pred
        assert label_error_rate([list(a) for a in y_true], y_pred) == pytest.approx(expected, rel=1e-12)


def test_underflowing_probabilities_take_the_log_space_path():
    """A needed label 2000 nats below the rest underflows float64's probabilities; the result stays exact."""
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(2, 5, 3))
    logits[0, :, 1] -= 2000.0  # label 1 is needed by row 0 only
    targets = np.array([[1, 2], [2, 2]])
    loss, grad = ctc_loss(logits, targets, [5, 5], [2, 2])
    expect_loss, expect_grad = reference(logits, targets, [5, 5], [2, 2])
    assert 1990 < loss[0] < 2010 and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, expect_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, expect_grad, atol=1e-10)
