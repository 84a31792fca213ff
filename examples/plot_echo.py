"""
=============================================
Echo RNN with truncated BPTT on a stream (T1)
=============================================

Reproduces Erik Hallström's TensorFlow tutorial "How to build a Recurrent
Neural Network in TensorFlow" (the *echo RNN*) with
:class:`rnnkit.RNNClassifier`.

The network reads a stream of random bits and must output, at every step, the
bit it read ``echo_step = 3`` steps earlier. The stream is far too long to
backpropagate through in one piece, so it is cut into short windows of
``bptt_steps = 15`` steps: **truncated backpropagation through time**. With
``stateful=True`` the final hidden state of a window is the initial state of
the next one (the network keeps reading the stream), while gradients stop at
the window's edge. That is exactly the tutorial's ``init_state`` placeholder
fed with the previous ``current_state``.
"""

# %%
# The data
# --------
# :func:`~rnnkit.datasets.make_echo` draws 50 000 fair bits ``x`` and their
# echo ``y = roll(x, 3)`` (with ``y[:3] = 0``), and cuts both row-major into
# ``batch_size = 5`` rows: each row is one contiguous stretch of 10 000 steps
# of the stream, and the five rows are trained side by side. Every setting of
# this example lives in :data:`rnnkit.tutorials.ECHO`, which the test of this
# tutorial reads too.
import time

import matplotlib.pyplot as plt
import numpy as np

from rnnkit import RNNClassifier
from rnnkit.datasets import make_echo
from rnnkit.plotting import plot_echo_panels, plot_loss_curve
from rnnkit.tutorials import ECHO

ECHO_STEP = ECHO.data["echo_step"]
X, y = make_echo(**ECHO.data, random_state=ECHO.run["first_stream_seed"])
print("X:", X.shape, "y:", y.shape)
print("first 12 steps of row 0, x:", X[0, :12].astype(int))
print("                          y:", y[0, :12])

# %%
# The model
# ---------
# The tutorial's network is a vanilla tanh RNN with a state of 4 units and a
# two-class softmax at every step (``output="sequence"``), trained with
# Adagrad at learning rate 0.3 on the mean cross-entropy of each window.
# ``batch_size=5`` takes the five rows together; ``bptt_steps=15`` slides a
# 15-step window from left to right across them; ``stateful=True`` carries
# each row's state from one window to the next and resets it to zero at the
# start of every pass. The tutorial has no weight penalty (``alpha=0``).
#
# The tutorial draws **new data every epoch**: with rnnkit that is one call of
# :meth:`~rnnkit.RNNClassifier.partial_fit` per epoch on a freshly drawn
# stream. A stateful estimator would continue each row's stream from where
# the previous call left it; a new stream starts from a zero state, as the
# tutorial resets its state every epoch, so each epoch calls
# :meth:`~rnnkit.RNNClassifier.reset_state` first. 10 000 steps
# per row make 666 full windows and a last one of 10 steps (the tutorial drops
# those 10 steps; rnnkit trains on them).
clf = RNNClassifier(**ECHO.estimator)

n_epochs = ECHO.run["n_epochs"]
rng = np.random.RandomState(ECHO.run["epoch_seed"])  # a new stream every epoch
start = time.perf_counter()
clf.partial_fit(X, y, classes=[0, 1])
for _ in range(1, n_epochs):
    X_epoch, y_epoch = make_echo(**ECHO.data, random_state=rng)
    clf.reset_state().partial_fit(X_epoch, y_epoch)
train_time = time.perf_counter() - start

windows_per_epoch = len(clf.batch_loss_curve_) // n_epochs
print(f"{n_epochs} epochs x {windows_per_epoch} windows in {train_time:.1f} s")
print(
    f"mean loss of epoch 1: {clf.loss_curve_[0]:.4f}, of epoch 2: {clf.loss_curve_[1]:.4f}, "
    f"of epoch {n_epochs}: {clf.loss_curve_[-1]:.5f}"
)

# %%
# The loss curve
# --------------
# ``batch_loss_curve_`` holds the loss of every window. It falls to near zero
# within the first two epochs and then spikes at the start of every epoch
# (the dotted lines of the right panel, which zooms into the first five
# epochs): the data are new and the state is reset to zero, so the first
# ``echo_step`` targets of each row echo bits the network never saw.
# Three coin flips out of fifteen steps cost at least ``3 / 15 * ln 2 =
# 0.139`` (more, since the trained network guesses them confidently): the
# height of every spike after the first epochs.
losses = np.asarray(clf.batch_loss_curve_)
starts = np.arange(windows_per_epoch, len(losses), windows_per_epoch)
spikes = losses[starts]
print(
    f"loss of the first window of epochs 10..{n_epochs}: {spikes[8:].mean():.3f} on average "
    f"(at least 3/15 ln 2 = {3 / 15 * np.log(2):.3f}); other windows of the last epoch: "
    f"{losses[-windows_per_epoch + 1 :].mean():.5f}"
)

fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(11, 3.8))
plot_loss_curve(losses, ax=ax_all, xlabel="window")
ax_all.set_title(f"all {n_epochs} epochs ({windows_per_epoch} windows each)")
first = 5 * windows_per_epoch
plot_loss_curve(losses[:first], epoch_boundaries=windows_per_epoch, ax=ax_zoom, xlabel="window")
ax_zoom.set_title("the first 5 epochs")
fig.tight_layout()

# %%
# Predictions on a fresh stream
# -----------------------------
# A new stream the network has never seen, predicted from a zero state. The
# first ``echo_step`` steps of each row echo bits that precede the row, so
# they are excluded from the accuracy; every other step should be exact.
X_test, y_test = make_echo(**ECHO.data, random_state=ECHO.run["fresh_stream_seed"])
y_pred = clf.predict(X_test)
accuracy = np.mean(y_pred[:, ECHO_STEP:] == y_test[:, ECHO_STEP:])
print(
    f"per-step accuracy on a fresh stream (first {ECHO_STEP} steps of each row excluded): "
    f"{accuracy:.4f}   (tutorial: loss near zero; required >= {ECHO.targets['min_accuracy']})"
)

# %%
# The bar panels
# --------------
# The tutorial's figure: for each of the five rows of one window, the input
# bits (blue), the target echo (red, half height) and the predicted echo
# (green). The first window of the fresh stream shows the unpredictable start
# (green bars missing or wrong in the first three steps); a later window is
# echoed perfectly: every red bar holds a green one.
proba = clf.predict_proba(X_test)
fig = plot_echo_panels(X_test[:, :15], y_test[:, :15], proba[:, :15], losses=losses[:first])
fig.suptitle("first window of a fresh stream (steps 0-14)")
fig.tight_layout()

fig = plot_echo_panels(X_test[:, 1500:1515], y_test[:, 1500:1515], proba[:, 1500:1515], losses=losses[:first])
fig.suptitle("a later window (steps 1500-1514)")
fig.tight_layout()
plt.show()
