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
# Carrying the state: one training step per window
# -------------------------------------------------
# As in the tutorial, each training step is one call on one window of 20
# steps: :meth:`~rnnkit.RNNRegressor.partial_fit` on ``X[k:k + 1]``, one Adam
# update. With ``stateful=True`` the estimator keeps each row's final state
# and the next call starts from it, with gradients stopping at the window's
# edge (the tutorial's ``hidden = hidden.data``), until
# :meth:`~rnnkit.RNNRegressor.reset_state` is called. ``bptt_steps=20`` makes
# each call one window even on a longer stream: one ``partial_fit`` on the
# whole 2 000-step stream gives bit-identical weights.
#
# After 25, 50, 75 and 100 steps the network predicts the last window it was
# trained on. It reads the stream from its start, so that it enters the
# window with the state carried from the windows before, as the tutorial's
# network does.
reg = RNNRegressor(**SINE.estimator)  # bptt_steps=WINDOW, stateful=True
snapshots = []
start = time.perf_counter()
for k in range(N_STEPS):
    reg.partial_fit(X[k : k + 1], y[k : k + 1])
    if k + 1 in SINE.run["snapshots"]:
        stop = (k + 1) * WINDOW
        snapshots.append((k + 1, stop, reg.predict(stream_X[:, :stop])[0, -WINDOW:]))
print(f"{len(reg.batch_loss_curve_)} updates in {time.perf_counter() - start:.2f} s")

whole = RNNRegressor(**SINE.estimator).partial_fit(stream_X, stream_y)  # one call, same 100 windows
print("one call on the whole stream gives the same weights:",
      all(np.array_equal(a, b) for a, b in zip(whole.coefs_.values(), reg.coefs_.values(), strict=True)))

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
# carried state, gives the tutorial's setting: ``hidden_states`` returns the
# final state after the stream, and ``initial_state=`` starts the prediction
# of the next chunk from it.
X_next, y_next, t_next = make_sine_windows(1, SINE.data["n_points"], start=N_STEPS, return_time=True)
_, h_n, _ = reg.hidden_states(stream_X)
prediction = reg.predict(X_next, initial_state=h_n)[0]
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
# Starting every training step from a zero state (``reset_state()`` before
# each call) is the tutorial *without* ``hidden`` being carried: the network
# must guess the phase from the first samples of every window, and ends up
# less accurate on the unseen window.
no_carry = RNNRegressor(**SINE.estimator)
for k in range(N_STEPS):
    no_carry.reset_state().partial_fit(X[k : k + 1], y[k : k + 1])
mse_no_carry = np.mean((no_carry.predict(X_next)[0] - y_next[0]) ** 2)
print(f"trained without carrying the state: MSE on the unseen window {mse_no_carry:.1e}")
plt.show()
