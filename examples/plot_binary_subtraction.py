"""
============================================
Binary subtraction with a four-step RNN (T2)
============================================

Reproduces section 19.2 of the *AI-Edu* tutorial ("a recurrent network with
four time steps") with :class:`rnnkit.RNNClassifier`, then answers the
tutorial's four exercises with numbers.

A subtraction such as ``13 - 6 = 7`` is computed bit by bit from the least
significant bit, and a *borrow* travels from one bit to the next: a natural
job for a recurrent network. Each sample is 4 time steps (least significant
bit first) of 2 features (the bits of the minuend and of the subtrahend), and
the label is the difference's bit at each step.
"""

# %%
# The data: all 136 subtractions of 4-bit numbers
# -----------------------------------------------
# :func:`~rnnkit.datasets.make_subtraction` lists every pair ``a >= b`` of
# 4-bit numbers: 136 samples, each of shape ``(4 steps, 2 features)``. Every
# setting of this example lives in :data:`rnnkit.tutorials.SUBTRACTION`, which
# the test of this tutorial reads too.
import time

import matplotlib.pyplot as plt
import numpy as np

from rnnkit import RNNClassifier
from rnnkit.datasets import bits_to_int, make_subtraction
from rnnkit.plotting import plot_hidden_states, plot_loss_curve
from rnnkit.tutorials import SUBTRACTION

X, y, a, b = make_subtraction(**SUBTRACTION.data, return_pairs=True)
print("X:", X.shape, "y:", y.shape)
i = np.flatnonzero((a == 13) & (b == 6))[0]
print("13 - 6 = 7, least significant bit first:")
print("  step | minuend bit | subtrahend bit | difference bit")
for t in range(4):
    print(f"  {t + 1:4d} | {int(X[i, t, 0]):11d} | {int(X[i, t, 1]):14d} | {y[i, t]:14d}")

# %%
# The model
# ---------
# The tutorial's network: ``h_t = x_t U + s_{t-1} W``, ``s_t = tanh(h_t)``,
# ``z_t = s_t V`` and a logistic output at every step, with 4 hidden units and
# **no bias** anywhere (``bias=False``). rnnkit's classifier puts a two-class
# softmax at every step (``output="sequence"``), which is the logistic of the
# difference of its two outputs, and averages the cross-entropy over the four
# steps as the tutorial does. Training is plain stochastic gradient descent,
# one sample per update (``batch_size=1``, no momentum, no weight penalty),
# and stops as soon as all 136 subtractions are right, the tutorial's rule:
# one :meth:`~rnnkit.RNNClassifier.partial_fit` call per epoch records the
# loss and lets us measure the accuracy after every epoch.
PARAMS = SUBTRACTION.estimator


def n_correct(clf, X, y):
    """Number of subtractions whose every bit is right."""
    return int((clf.predict(X) == y).all(axis=1).sum())


def train_until_exact(X, y, max_epochs=SUBTRACTION.run["max_epochs"], **params):
    """Train one epoch at a time until every sample is right; return the model and the curves."""
    clf = RNNClassifier(**{**PARAMS, **params})
    accuracy = []
    for _ in range(max_epochs):
        clf.partial_fit(X, y, classes=[0, 1])
        accuracy.append(n_correct(clf, X, y) / len(X))
        if accuracy[-1] == 1.0:
            break
    return clf, accuracy


start = time.perf_counter()
clf, accuracy = train_until_exact(X, y)
print(f"epochs: {clf.n_iter_}, training time {time.perf_counter() - start:.2f} s")
print(f"last epoch: loss={clf.loss_curve_[-1]:.6f}, acc={accuracy[-1]:.6f}")
print(
    f"testing: {n_correct(clf, X, y)}/136 correct   (tutorial: loss=0.105319, acc=1.000000, "
    "136/136 after about 5 epochs)"
)

# %%
# The tutorial needed about 5 epochs with its learning rate and initial
# weights; here seed 0 needs a few dozen, and the number varies from seed to
# seed (see exercise 3 below). Not every seed gets there: with 4 hidden units
# about one run in four settles in a local minimum with 125 of 136 right and
# stays there for hundreds of epochs. Seed 0 itself sits at 125/136 for about
# forty epochs before it escapes: the plateau of the accuracy curve below.
#
# Worked examples, printed most significant bit first as in the tutorial:
y_pred = clf.predict(X)
msb_first = slice(None, None, -1)
for a_i, b_i in SUBTRACTION.targets["worked_examples"]:
    k = np.flatnonzero((a == a_i) & (b == b_i))[0]
    print(f"  x1: {X[k, msb_first, 0].astype(int).tolist()}")
    print(f"- x2: {X[k, msb_first, 1].astype(int).tolist()}")
    print("------------------")
    print(f"true: {y[k, msb_first].tolist()}")
    print(f"pred: {y_pred[k, msb_first].tolist()}")
    print(f"{a_i} - {b_i} = {int(bits_to_int(y_pred[k]))}")
    print("====================")

# %%
# Loss and accuracy curves
# ------------------------
# As in the tutorial's figure 19-13: the mean loss of each epoch and the share
# of the 136 subtractions that are entirely right.
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
plot_loss_curve(clf.loss_curve_, ax=ax_loss, xlabel="epoch")
ax_loss.set_title("training loss")
ax_acc.plot(np.arange(1, len(accuracy) + 1), accuracy)
ax_acc.set_xlabel("epoch")
ax_acc.set_ylabel("accuracy (all 4 bits right)")
ax_acc.set_title("accuracy on the 136 samples")
fig.tight_layout()

# %%
# Why the loss cannot reach zero without a bias
# ---------------------------------------------
# Without any bias, a zero input on a zero state gives a zero state and a
# zero output: probability exactly 0.5. That happens at the first steps of
# every pair whose low bits are all zero (``0 - 0`` at step 1, ``4 - 0`` at
# steps 1 and 2, ...), 50 of the 544 steps, so the loss never falls below
# ``50 / 544 * ln 2``. The tie still gives the right answer: the difference of
# two zero bits with no borrow is 0, and a tie predicts the first class, 0.
low_zero = np.cumsum(X.sum(axis=2), axis=1) == 0  # zero state and zero input so far
floor = low_zero.sum() / low_zero.size * np.log(2)
print(f"steps with a zero state and zero input: {low_zero.sum()} of {low_zero.size}; loss floor {floor:.4f}")
long_run = RNNClassifier(**PARAMS, **SUBTRACTION.run["fit_until_stable"]).fit(X, y)
print(
    f"fit() until the loss stops improving: {long_run.n_iter_} epochs, loss {long_run.loss_:.4f}, "
    f"{n_correct(long_run, X, y)}/136 correct"
)

# %%
# The borrow in the hidden state
# ------------------------------
# ``W`` carries the borrow from one step to the next. The inputs of
# ``8 - 1 = 7`` and ``9 - 1 = 8`` differ only at step 1 (``0 - 1`` borrows,
# ``1 - 1`` does not); their hidden states still differ at steps 2 to 4,
# where the borrow travels on in the first case and not in the second.
states, _, _ = clf.hidden_states(X)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for ax, (a_i, b_i) in zip(axes, [(8, 1), (9, 1)], strict=True):
    k = np.flatnonzero((a == a_i) & (b == b_i))[0]
    plot_hidden_states(states[k], ax=ax, x=np.arange(1, 5))
    ax.set_title(f"{a_i} - {b_i} = {a_i - b_i}")
fig.tight_layout()

# %%
# Exercises 1 to 3: nonlinearity, bias and hidden size
# ----------------------------------------------------
# Each variant is trained from six seeds for at most 300 epochs; the table
# gives how many seeds reach 136/136, after how many epochs (median), and the
# best count of a seed that does not.
#
# *Exercise 1, tanh vs sigmoid.* rnnkit's ``"rnn"`` cell offers tanh and ReLU,
# PyTorch's two choices, not the logistic sigmoid. A sigmoid network needs no
# separate run, though: since ``sigmoid(v) = (1 + tanh(v / 2)) / 2``, a
# bias-free sigmoid RNN is exactly a tanh RNN with rescaled weights **and
# biases** tied to ``W`` and ``V`` (its states live in (0, 1), so a zero
# state is not a fixed point). The "tanh + bias" row therefore also answers
# what the sigmoid brings. We add ReLU, the other choice rnnkit offers.
#
# *Exercise 2*: biases on ``h`` and ``z`` (``bias=True``).
# *Exercise 3*: 2, 8 and 16 hidden units instead of 4.
variants = {label: params for _, label, params in SUBTRACTION.variants}
seeds = range(SUBTRACTION.run["exercise_seeds"])
print(f"{'variant':26s} {'136/136':>8s} {'median epochs':>14s} {'best failed run':>16s}")
for name, params in variants.items():
    epochs, failed = [], []
    for seed in seeds:
        model, acc = train_until_exact(X, y, random_state=seed, **params)
        if acc[-1] == 1.0:
            epochs.append(len(acc))
        else:
            failed.append(n_correct(model, X, y))
    median = f"{np.median(epochs):.0f}" if epochs else "-"
    best_failed = f"{max(failed)}/136" if failed else "-"
    print(f"{name:26s} {len(epochs):>4d} of {len(seeds)} {median:>14s} {best_failed:>16s}")

# %%
# In short: tanh learns the task; ReLU does not (its states cannot go
# negative, and its runs get only a few dozen subtractions right; lower
# learning rates do not rescue it). Biases (and so the sigmoid) help: every
# seed succeeds, sooner, and the loss floor above disappears; the tutorial
# leaves them out only to show they are not needed. Two hidden units are too
# few: no seed gets past 125/136, as two tanh units read out linearly cannot
# form the three-input parity ``a xor b xor borrow`` at every step. More
# units make the search easier: with 8 most seeds succeed within a dozen
# epochs, with 16 every seed does.
#
# Exercise 4: eight bits
# ----------------------
# 32 896 pairs up to 255, 8 steps each. The rule is the same at every step, so
# the 4-bit network above already knows it: applied to the longer sequences,
# unchanged, it should get them right. A fresh network trained on all 8-bit
# pairs (one epoch is 32 896 updates; a smaller learning rate, 0.1, suits the
# longer sequences) learns it too.
EIGHT_BIT = SUBTRACTION.run["eight_bit"]
X8, y8 = make_subtraction(n_bits=EIGHT_BIT["n_bits"])
print(f"4-bit model on all {len(X8)} 8-bit pairs: {n_correct(clf, X8, y8)}/{len(X8)} correct")
for seed in range(EIGHT_BIT["seeds"]):
    start = time.perf_counter()
    model8, acc8 = train_until_exact(
        X8,
        y8,
        max_epochs=EIGHT_BIT["max_epochs"],
        learning_rate_init=EIGHT_BIT["learning_rate_init"],
        random_state=seed,
    )
    print(
        f"trained on 8-bit pairs, seed {seed}: {n_correct(model8, X8, y8)}/{len(X8)} correct after "
        f"{len(acc8)} epoch(s), {time.perf_counter() - start:.1f} s"
    )
plt.show()
