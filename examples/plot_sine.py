"""
==============================================
Sine wave prediction with a carried state (T4)
==============================================

Reproduces the PyTorch ``nn.RNN`` demo "predict the next sample of a sine"
with :class:`rnnkit.RNNRegressor`.

At training step ``k`` the tutorial samples ``sin`` 21 times on
``[k pi, (k + 1) pi]``; the input is the first 20 samples and the target the
last 20, so the network predicts every sample one step ahead. A 1-layer RNN
with 32 hidden units and a linear output is trained with Adam (learning rate
0.01) on the mean squared error, one window per step, for 100 steps, and
**the hidden state is carried from one step to the next** (detached, so
gradients stay inside the window).
"""

# %%
# The data
# --------
# :func:`~rnnkit.datasets.make_sine_windows` builds the tutorial's 100 windows.
# Consecutive windows share an end point, so their inputs, put end to end,
# are one continuous sine of 2 000 samples, and so are the targets. Every
# setting of this example lives in :data:`rnnkit.tutorials.SINE`, which the
# test of this tutorial reads too.
import time

import matplotlib.pyplot as plt
import numpy as np

from rnnkit import RNNRegressor
from rnnkit.datasets import make_sine_windows
from rnnkit.plotting import plot_loss_curve, plot_prediction
from rnnkit.tutorials import SINE

N_STEPS = SINE.data["n_windows"]  # the tutorial's training steps, one window each
WINDOW = SINE.data["n_points"] - 1  # 20 steps of input and of target per window
X, y, t = make_sine_windows(**SINE.data, return_time=True)
print("windows:", X.shape, "targets:", y.shape)
print("window 1 starts where window 0 ends:", bool(np.isclose(X[1, 0, 0], y[0, -1, 0])))

stream_X = X.reshape(1, N_STEPS * WINDOW, 1)  # one sequence of 2 000 steps
stream_y = y.reshape(1, N_STEPS * WINDOW, 1)
stream_t = t[:, 1:].reshape(-1)  # the time of each target

# %%
# Carrying the state: one stream in windows of 20 steps
# -----------------------------------------------------
# rnnkit carries the hidden state from window to window with truncated
# backpropagation through time: ``bptt_steps=20`` cuts the stream into the
# tutorial's windows, one Adam update per window, and ``stateful=True``
# starts each window from the previous window's final state, with gradients
# stopping at the window's edge (the tutorial's ``hidden = hidden.data``).
# One pass over the 2 000-step stream (one call of
# :meth:`~rnnkit.RNNRegressor.partial_fit`) is the tutorial's 100 training
# steps.
#
# Calling :meth:`~rnnkit.RNNRegressor.partial_fit` on one window at a time
# would also give one update per window, but every call starts from a zero
# state: rnnkit does not carry the state *across* calls. That variant is
# shown at the end of the example.


def train(n_steps):
    """The tutorial's first ``n_steps`` training steps: one pass over that much of the stream."""
    reg = RNNRegressor(**SINE.estimator)  # bptt_steps=WINDOW, stateful=True
    return reg.partial_fit(stream_X[:, : n_steps * WINDOW], stream_y[:, : n_steps * WINDOW])


start = time.perf_counter()
reg = train(N_STEPS)
print(f"{len(reg.batch_loss_curve_)} updates in {time.perf_counter() - start:.2f} s")

# %%
# Training is deterministic for a given ``random_state``, so the network after
# its first 25 steps is simply the network trained on the first 25 windows.
# Each snapshot predicts the last window it was trained on, reading the stream
# from its start so that the prediction starts from the carried state, as the
# tutorial's does.
snapshots = []
for n_steps in SINE.run["snapshots"]:
    partial = train(n_steps)
    assert np.array_equal(partial.batch_loss_curve_, reg.batch_loss_curve_[:n_steps])
    stop = n_steps * WINDOW
    snapshots.append((n_steps, stop, partial.predict(stream_X[:, :stop])[0, -WINDOW:]))

# %%
# Input and prediction after 25, 50, 75 and 100 steps
# ---------------------------------------------------
# As in the tutorial's four plots, the red dots are the input window and the
# blue dots the prediction of the next sample at each point: after 25 steps
# the prediction already follows the sine one sample ahead.
fig, axes = plt.subplots(2, 2, figsize=(10, 6))
for ax, (step, stop, prediction) in zip(axes.ravel(), snapshots, strict=True):
    window = slice(stop - WINDOW, stop)
    plot_prediction(
        stream_X[0, window],
        prediction,
        x=stream_t[window],
        ax=ax,
        labels=("input", "prediction"),
        title=f"after {step} steps",
    )
fig.tight_layout()

# %%
# The loss curve
# --------------
# ``batch_loss_curve_`` holds one loss per update. rnnkit's squared-error loss
# is half the mean squared error (scikit-learn's convention), so it is doubled
# here to show the tutorial's ``nn.MSELoss``.
mse_curve = 2 * np.asarray(reg.batch_loss_curve_)
ax = plot_loss_curve(mse_curve, xlabel="training step", ylabel="MSE", label="loss")
ax.set_yscale("log")
print(f"training MSE of the first window: {mse_curve[0]:.3f}, of the last: {mse_curve[-1]:.1e}")

# %%
# The next, unseen window
# -----------------------
# Window 100 (``[100 pi, 101 pi]``) was never trained on. Predicting it right
# after the 2 000 training samples, so that the network enters it with the
# carried state, gives the tutorial's setting.
X_next, y_next, t_next = make_sine_windows(1, SINE.data["n_points"], start=N_STEPS, return_time=True)
continued = np.concatenate([stream_X, X_next], axis=1)
prediction = reg.predict(continued)[0, -WINDOW:]
mse_next = np.mean((prediction - y_next[0]) ** 2)
print(
    f"MSE on the next, unseen window: {mse_next:.1e}   "
    "(PyTorch's run of the tutorial: 0.7e-4 to 4e-4 over 5 seeds; "
    f"required <= {np.format_float_scientific(SINE.targets['max_next_mse'], trim='-', exp_digits=1)})"
)

ax = plot_prediction(y_next[0], prediction, x=t_next[0, 1:], title="the next, unseen window")

# %%
# Predicted from a zero state instead, the window's first samples lack the
# context the state carries, and the error is larger.
alone = reg.predict(X_next)[0]
print(f"the same window predicted from a zero state: MSE {np.mean((alone - y_next[0]) ** 2):.1e}")

# %%
# Without the carried state
# -------------------------
# Training one window per :meth:`~rnnkit.RNNRegressor.partial_fit` call, each
# from a zero state, is the tutorial *without* ``hidden`` being carried: the
# network must guess the phase from the first samples of every window, and
# ends up less accurate on the unseen window.
no_carry = RNNRegressor(
    **{name: value for name, value in SINE.estimator.items() if name not in ("bptt_steps", "stateful")}
)
for k in range(N_STEPS):
    no_carry.partial_fit(X[k : k + 1], y[k : k + 1])
mse_no_carry = np.mean((no_carry.predict(X_next)[0] - y_next[0]) ** 2)
print(f"trained without carrying the state: MSE on the unseen window {mse_no_carry:.1e}")
plt.show()
