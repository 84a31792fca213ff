"""
=========================================
Transcribing digit strings with CTC (T3)
=========================================

The recurrent-networks survey (T3) ends with connectionist temporal
classification (CTC; Graves et al., 2006): a network learns to emit a label
sequence from an input that was never segmented. Here the input is a string of
handwritten digits "written" from left to right, one column of pixels per
time step, with random gaps between the digits; the target is the digit
string. Nothing says which columns belong to which digit.

:class:`rnnkit.RNNTranscriber` takes the sequences and the strings as they
are (``fit(X, y)`` with ``y = ["4071", ...]``), trains a bidirectional GRU
with the CTC loss (:func:`rnnkit.losses.ctc_loss`), and transcribes with
greedy (best path) or beam-search decoding.
"""

# %%
# The data
# --------
# :func:`~rnnkit.datasets.make_digit_strings` lays 3 to 6 of scikit-learn's
# 8 x 8 digit images side by side, each as its 8 columns, with 0 to 4 blank
# columns around every digit and a little noise. The held-out strings are
# written with images that no training string uses, so the error rate below
# measures how well the model reads handwriting it has never seen. Every
# setting lives in :data:`rnnkit.tutorials.CTC_DIGITS`, which the test of
# this example reads too.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from rnnkit import RNNTranscriber
from rnnkit.datasets import make_digit_strings
from rnnkit.metrics import label_error_rate
from rnnkit.plotting import plot_alignment, plot_loss_curve
from rnnkit.tutorials import CTC_DIGITS

run = CTC_DIGITS.run
X_train, y_train = make_digit_strings(run["n_train"], **CTC_DIGITS.data, images="train",
                                      random_state=run["train_seed"])
X_test, y_test = make_digit_strings(run["n_test"], **CTC_DIGITS.data, images="test",
                                    random_state=run["test_seed"])
lengths = [len(x) for x in X_train]
print(f"{len(X_train)} training strings, {len(X_test)} held out; {min(lengths)} to {max(lengths)} "
      "columns of 8 pixels each")

fig, axes = plt.subplots(3, 1, figsize=(9, 3.6))
for ax, x, label in zip(axes, X_train[:3], y_train[:3], strict=True):
    ax.imshow(x.T, cmap="gray_r", aspect="auto", interpolation="nearest")
    ax.set_title(f'target "{label}": {len(x)} frames, no segmentation given', fontsize="small")
    ax.axis("off")
fig.tight_layout()

# %%
# Training
# --------
# The head emits, at every frame, probabilities over the blank and the ten
# digits (column 0 is the blank, column ``j + 1`` is ``classes_[j]``). The
# CTC loss sums over every alignment of the target string with the frames, so
# the model finds the segmentation itself. A bidirectional GRU sees each
# column in the context of the columns on both sides.
warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed number of epochs
model = RNNTranscriber(**CTC_DIGITS.estimator)
start = time.perf_counter()
model.fit(X_train, y_train)
print(f"trained {model.n_iter_} epochs in {time.perf_counter() - start:.1f} s; alphabet: "
      f"{''.join(model.classes_)}")

ax = plot_loss_curve(model.loss_curve_, xlabel="epoch",
                     ylabel="CTC loss per label (negative log-likelihood)")
ax.set_yscale("log")
ax.set_title("training loss")

# %%
# Held-out transcriptions
# -----------------------
# The label error rate is the total edit distance between the transcriptions
# and the true strings over the total length of the true strings
# (:func:`rnnkit.metrics.label_error_rate`; ``score`` returns one minus it).
# Greedy decoding takes the most probable column of each frame; beam search
# keeps the ``beam_width`` most probable strings, each with the probability of
# all its alignments.
results = {}
for decoder in ("greedy", "beam"):
    model.set_params(decoder=decoder, beam_width=run["beam_width"])
    start = time.perf_counter()
    pred = model.predict(X_test)
    results[decoder] = (label_error_rate(y_test, pred), time.perf_counter() - start, pred)
for decoder, (ler, seconds, _) in results.items():
    print(f"{decoder:6s} decoding: held-out label error rate {ler:.2%} ({seconds:.2f} s for "
          f"{len(X_test)} strings)")
print(f"required (greedy): at most {CTC_DIGITS.targets['max_label_error_rate']:.0%}")

pred = results["greedy"][2]
print("\ntruth    greedy   beam")
for k in range(run["n_shown"]):
    mark = "" if pred[k] == y_test[k] else "  <- differs"
    print(f"{y_test[k]:8s} {pred[k]:8s} {results['beam'][2][k]:8s}{mark}")

# %%
# An alignment
# ------------
# Under one held-out string, the probability of each label at each frame: the
# blank (dashed) holds most frames, and each digit fires as a short spike
# somewhere inside its columns -- CTC's typical peaky alignment. The labels
# mark the frames where the best path emits them.
k = int(np.argmax([len(y) for y in y_test[:20]]))
proba = model.predict_proba([X_test[k]])[0]
fig = plot_alignment(X_test[k], proba, model.classes_, decoded=f"{pred[k]} (truth {y_test[k]})")
fig.tight_layout()
plt.show()
