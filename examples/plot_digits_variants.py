"""
=================================================
LSTM, GRU and their variants on digit images (T3)
=================================================

Reproduces the TensorFlow tutorial on LSTM, GRU and their variants with
:class:`rnnkit.RNNClassifier`: an image is read row by row as a sequence, and
the state after the last row is classified by a dense layer.

The tutorial reads 28 x 28 MNIST images (28 steps of 28 pixels) with 128
hidden units. MNIST cannot be downloaded here, so this example uses
scikit-learn's bundled 8 x 8 digits (1 797 images: 8 steps of 8 pixels),
through :func:`~rnnkit.datasets.load_digit_sequences`. If you have the MNIST
IDX files on disk, :func:`~rnnkit.datasets.load_mnist_idx` reads them into the
same form::

    from rnnkit.datasets import load_mnist_idx
    X_train, y_train = load_mnist_idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
"""

# %%
# The data
# --------
# A quarter of the images is held out, stratified, with a fixed seed. Every
# setting of this example lives in :data:`rnnkit.tutorials.DIGITS`, which the
# test of this tutorial reads too.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from rnnkit import RNNClassifier
from rnnkit.datasets import load_digit_sequences
from rnnkit.plotting import plot_comparison
from rnnkit.tutorials import DIGITS

X, y = load_digit_sequences()
X_train, X_test, y_train, y_test = train_test_split(X, y, **DIGITS.data, stratify=y)
print(f"train: {X_train.shape}, test: {X_test.shape}  (images x rows x pixels)")

fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))
for ax, image, label in zip(axes, X_train[:6], y_train[:6], strict=True):
    ax.imshow(image, cmap="gray_r")
    ax.set_title(f"label {label}")
    ax.axis("off")
fig.suptitle("8 x 8 digits: each row of pixels is one time step")
fig.tight_layout()

# %%
# The variants
# ------------
# Each variant is one set of parameters of the same estimator:
#
# * ``cell="lstm"``: the LSTM (its forget-gate bias starts at 1.0, as
#   ``BasicLSTMCell(forget_bias=1.0)`` in the tutorial); ``cell="gru"``: the GRU;
# * ``peephole=True``: an LSTM whose gates also look at the cell state
#   (``LSTMCell(use_peepholes=True)``);
# * ``layer_norm=True``: layer normalisation of the gate pre-activations and of
#   the candidate (the tutorial's layer-normalised GRU; rnnkit offers the LSTM
#   version too);
# * ``bidirectional=True``: a second LSTM reads the rows bottom-up, and the
#   head sees both final states;
# * ``num_layers=2, dropout=0.2``: two stacked GRUs with dropout between the
#   layers and before the head, never on the recurrent path (the tutorial's
#   ``DropoutWrapper`` with ``input_keep_prob`` / ``output_keep_prob``).
#
# The tutorial trains with Adam (learning rate 0.001, batches of 128) on
# 100 000 MNIST images. The digits set is small (1 347 training images), so
# 64 hidden units, a larger step (0.01) and batches of 64 for 30 epochs
# (about 40 000 images seen) do the same job in a few seconds per variant.
common = DIGITS.estimator
variants = {label: params for _, label, params in DIGITS.variants}

# A fixed number of epochs: scikit-learn warns that the loss is still moving.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

models, accuracies, times = {}, [], []
for name, params in variants.items():
    start = time.perf_counter()
    model = RNNClassifier(**common, **params).fit(X_train, y_train)
    times.append(time.perf_counter() - start)
    models[name] = model
    accuracies.append(model.score(X_test, y_test))

print(f"{'variant':26s} {'test accuracy':>13s} {'train time':>11s}")
for name, acc, seconds in zip(variants, accuracies, times, strict=True):
    print(f"{name:26s} {acc:13.4f} {seconds:9.1f} s")
print(
    "tutorial (PyTorch LSTM / GRU with its settings on this split): 0.95-0.97; "
    f"required: >= {DIGITS.targets['min_accuracy']} each"
)

# %%
# Side by side
# ------------
# Every variant clears 0.95 on the held-out digits. Training time grows with
# what a step computes: the GRU is the cheapest cell, layer norm and peepholes
# add a little, the bidirectional LSTM and the two-layer GRU about double it.
# (The first fit of a process also compiles rnnkit's kernels, unless numba's
# on-disk cache already holds them.)
ax = plot_comparison(list(variants), accuracies, times=times, ylim=(0.9, 1.0))
ax.axhline(DIGITS.targets["min_accuracy"], color="0.5", linestyle="--", linewidth=1.0)
ax.set_title("digits held out (25 %): test accuracy and training time")
ax.figure.set_size_inches(9, 4.5)
ax.figure.tight_layout()

# %%
# Sequences of different lengths in one batch
# -------------------------------------------
# The tutorial passes ``sequence_length`` to ``dynamic_rnn`` so that padded
# steps are ignored. rnnkit takes a **list** of ``(n_steps_i, n_features)``
# arrays: each sequence stops at its own last step, the reverse direction of a
# bidirectional layer starts there, and the head reads that step's state.
# Cropping the test images to random heights (3 to 8 rows) and predicting them
# all in one batch gives the same predictions as predicting each cropped
# image alone.
#
# The probabilities agree to float32 rounding (about 1e-7), not bit for bit:
# matrix products over 450 sequences and over one sum in a different order.
# The full-length images, with no padding at all, show the same difference
# between one batch and one at a time, so the padding adds nothing to it
# (with ``dtype="float64"`` both differences are about 1e-16).
rng = np.random.RandomState(DIGITS.run["crop_seed"])
lengths = rng.randint(*DIGITS.run["crop_lengths"], size=len(X_test))
cropped = [image[:n] for image, n in zip(X_test, lengths, strict=True)]
print("lengths of the first ten sequences:", lengths[:10].tolist())
for name in ["LSTM", "bidirectional LSTM", "2-layer GRU, dropout 0.2"]:
    model = models[name]
    together = model.predict_proba(cropped)
    alone = np.vstack([model.predict_proba([sequence]) for sequence in cropped])
    full_together = model.predict_proba(X_test)
    full_alone = np.vstack([model.predict_proba(X_test[i : i + 1]) for i in range(len(X_test))])
    labels_alone = np.concatenate([model.predict([sequence]) for sequence in cropped])
    same_labels = np.array_equal(model.predict(cropped), labels_alone)
    print(
        f"{name}: same predicted labels: {same_labels}; max |P(one batch) - P(each alone)| = "
        f"{np.abs(together - alone).max():.1e} cropped, {np.abs(full_together - full_alone).max():.1e} "
        "full length"
    )

# %%
# The models were trained on whole images, so a cropped image is harder to
# recognise; the accuracy climbs with the number of rows seen.
model = models["bidirectional LSTM"]
pred = model.predict(cropped)
for n in range(*DIGITS.run["crop_lengths"]):
    seen = lengths == n
    print(f"{n} rows: accuracy {np.mean(pred[seen] == y_test[seen]):.3f} ({seen.sum()} images)")
plt.show()
