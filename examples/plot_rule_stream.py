"""
===========================================
Learning a hidden rule in a bit stream (T5)
===========================================

Reproduces the TensorFlow tutorial "implement an RNN in seven steps" with
:class:`rnnkit.RNNClassifier`: a small RNN reads a stream of random bits and
predicts, at every step, a target that follows a hidden rule half of the time.

The rule: if the two previous input bits were both 1 the target is 0, if
both were 0 the target is 1, and otherwise it is a fair coin. A model that
has not found the rule can only guess: cross-entropy ``ln 2 = 0.693`` per
step, accuracy 0.5. A model that has found it is certain on the half of the
steps the rule forces and guesses on the rest: ``0.5 ln 2 = 0.347``, accuracy
0.75. Those are the two levels the tutorial's loss curves settle at.
"""

# %%
# The data
# --------
# :func:`~rnnkit.datasets.make_rule_stream` draws the tutorial's 500 000 bits
# and cuts the stream into 2 000 rows of 250 steps, trained side by side.
# Every setting of this example lives in :data:`rnnkit.tutorials.RULE_STREAM`,
# which the test of this tutorial reads too.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from rnnkit import RNNClassifier
from rnnkit.datasets import RULE_STREAM_CHANCE_LOSS, RULE_STREAM_OPTIMAL_LOSS, make_rule_stream
from rnnkit.plotting import plot_loss_curve
from rnnkit.tutorials import RULE_STREAM

X, y = make_rule_stream(**RULE_STREAM.data)
print("X:", X.shape, "y:", y.shape)
x, target = X.ravel(), y.ravel()
both_ones = (x[:-2] == 1) & (x[1:-1] == 1)
both_zeros = (x[:-2] == 0) & (x[1:-1] == 0)
print(
    f"after 1, 1 the target is 0 in {np.mean(target[2:][both_ones] == 0):.3f} of the cases; "
    f"after 0, 0 it is 1 in {np.mean(target[2:][both_zeros] == 1):.3f}; "
    f"otherwise 1 in {np.mean(target[2:][~(both_ones | both_zeros)]):.3f}"
)
print(f"theory: chance {RULE_STREAM_CHANCE_LOSS:.4f}, rule learned {RULE_STREAM_OPTIMAL_LOSS:.4f}")

# %%
# The model
# ---------
# As in the tutorial: a vanilla RNN with 6 hidden units, a softmax at every
# step, truncated backpropagation through time over windows of 5 steps
# (``bptt_steps=5``), all 2 000 rows in one batch. ``stateful=True`` carries
# each row's state from one window to the next, so the network keeps reading
# the stream; gradients stop at the window's edge. The tutorial's optimizer
# is Adagrad with learning rate 0.1. Ten passes over the stream make 500
# updates (a fixed number: scikit-learn's warning that the loss still moves
# is silenced).
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def train(X, y):
    clf = RNNClassifier(**RULE_STREAM.estimator)
    return clf.fit(X, y)


def stream(lag, random_state=RULE_STREAM.data["random_state"]):
    """The tutorial's stream with the rule ``lag`` steps back."""
    return make_rule_stream(**{**RULE_STREAM.data, "lag": lag, "random_state": random_state})


def last_pass_loss(clf):
    """Mean loss of the windows of the last pass over the stream."""
    windows = len(clf.batch_loss_curve_) // RULE_STREAM.estimator["max_iter"]
    return np.mean(clf.batch_loss_curve_[-windows:])


def fresh_stream_scores(clf, lag):
    """Per-step cross-entropy and accuracy on a stream the model never saw."""
    X_new, y_new = stream(lag, random_state=RULE_STREAM.run["fresh_stream_seed"])
    proba = clf.predict_proba(X_new)
    return log_loss(y_new.ravel(), proba.reshape(-1, 2)), clf.score(X_new, y_new)


start = time.perf_counter()
clf = train(X, y)
seconds = time.perf_counter() - start
last_epoch = last_pass_loss(clf)
loss_new, acc_new = fresh_stream_scores(clf, lag=RULE_STREAM.data["lag"])
print(
    f"rule inside the window: loss of the last pass {last_epoch:.4f} "
    f"(tutorial: about 0.35; theory {RULE_STREAM_OPTIMAL_LOSS:.4f}; "
    f"required {RULE_STREAM.targets['optimal_loss']:.3f} +- {RULE_STREAM.targets['tolerance']}), "
    f"{seconds:.1f} s"
)
print(f"on a fresh stream: cross-entropy {loss_new:.4f}, accuracy {acc_new:.4f} (theory 0.75)")

# %%
# Moving the rule beyond the window
# ---------------------------------
# The tutorial's second curve moves the rule further back in time, so that the
# window is too short. ``lag`` does that: the target at step ``t`` depends on
# the bits at ``t - lag - 1`` and ``t - lag`` (``lag=1`` is the rule above).
# With ``lag=10`` both bits lie two windows back. The state carries the
# stream forward, so the network *could* keep them, but no gradient ever
# connects a target to bits outside its own window, so nothing teaches it to:
# the loss stays at ``ln 2``.
LAG_BEYOND = RULE_STREAM.run["lag_beyond"]
X_far, y_far = stream(LAG_BEYOND)
start = time.perf_counter()
clf_far = train(X_far, y_far)
seconds = time.perf_counter() - start
last_epoch_far = last_pass_loss(clf_far)
loss_far, acc_far = fresh_stream_scores(clf_far, lag=LAG_BEYOND)
print(
    f"rule beyond the window (lag={LAG_BEYOND}): loss of the last pass {last_epoch_far:.4f} "
    f"(tutorial: about 0.69; theory {RULE_STREAM_CHANCE_LOSS:.4f}), {seconds:.1f} s"
)
print(f"on a fresh stream: cross-entropy {loss_far:.4f}, accuracy {acc_far:.4f} (theory 0.5)")

# %%
# Both curves and the two theory lines
# ------------------------------------
# The tutorial's two panels, on one Axes: one loss per window (500 updates).
# The spikes of the first curve mark the start of each pass over the stream:
# the state is reset to zero, so the first targets of each row have no history
# to apply the rule to.
ax = plot_loss_curve(
    {
        f"rule inside the window (lag={RULE_STREAM.data['lag']})": clf.batch_loss_curve_,
        f"rule beyond the window (lag={LAG_BEYOND})": clf_far.batch_loss_curve_,
    },
    hlines={
        "ln 2 (rule not learned)": RULE_STREAM_CHANCE_LOSS,
        "0.5 ln 2 (rule learned)": RULE_STREAM_OPTIMAL_LOSS,
    },
    xlabel="training step (window of 5 steps x 2000 rows)",
    ylabel="cross-entropy",
)
ax.set_ylim(0.3, 0.75)
ax.figure.set_size_inches(8, 4.5)

# %%
# Where the window stops helping
# ------------------------------
# The same training for every lag from 1 to 8. A target's window holds its
# rule's two bits whenever ``lag + 1 < 5``, at least for the targets late in
# the window, and the rule is learned. At ``lag=4`` only the newer bit is
# ever inside a window with its target; that bit alone says something (after
# a 1 the target is 0 three times out of four) and gives the network a
# reason to remember it, and the state then brings the older bit along: the
# rule is still mostly learned. From ``lag=5`` on neither bit shares a window
# with its target and the loss stays at, or within a hair of, ``ln 2``.
print(" lag   loss of the last pass")
for lag in RULE_STREAM.run["lags"]:
    X_lag, y_lag = stream(lag)
    model = train(X_lag, y_lag)
    print(f"{lag:4d}   {last_pass_loss(model):.4f}")
plt.show()
