"""Figures of the tutorials: loss curves, echo panels, predictions, hidden states, comparisons, alignments.

Every function draws into an Axes (or Figure) it is given, or into a new one
from :mod:`matplotlib.pyplot` (imported only when a function runs, so importing
:mod:`rnnkit` never selects a matplotlib backend), and returns it.
"""

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "plot_alignment",
    "plot_comparison",
    "plot_echo_panels",
    "plot_hidden_states",
    "plot_loss_curve",
    "plot_prediction",
]


def _get_ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _moving_average(values, window):
    if window is None or window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_loss_curve(
    losses,
    epoch_boundaries=None,
    ax=None,
    *,
    hlines: Mapping[str, float] | None = None,
    smooth: int | None = None,
    label: str | None = None,
    xlabel: str = "training step",
    ylabel: str = "loss",
):
    """Plot one or several loss curves, with epoch boundaries and reference levels.

    Training with truncated BPTT records one loss per window; marking where
    each epoch starts shows the spikes of tutorial T1 (new data, reset state),
    and reference levels show how close a curve comes to a theoretical loss
    (tutorial T5).

    Parameters
    ----------
    losses : array-like of shape (n_steps,) or mapping of str to array-like
        Loss per training step (per truncated-BPTT window, per batch or per
        epoch); a mapping draws one labelled curve per entry.
    epoch_boundaries : int or array-like of int, optional
        Where epochs start, marked by dotted vertical lines: the step indices,
        or an int ``n`` (steps per epoch) for lines at ``n, 2n, ...`` inside the
        curve.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure's Axes by default.
    hlines : mapping of str to float, optional
        Horizontal dashed reference lines, labelled in the legend, for instance
        the theoretical losses of tutorial T5 ``{"ln 2": 0.693, "0.5 ln 2": 0.347}``.
    smooth : int, optional
        Draw the moving average over this many steps instead of the raw values
        (the curve is shifted so each point sits at the end of its window).
    label : str, optional
        Legend label of a single curve.
    xlabel, ylabel : str
        Axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into: one line per curve, then one per epoch boundary,
        then one per reference level.

    See Also
    --------
    rnnkit.datasets.RULE_STREAM_CHANCE_LOSS : Reference level of tutorial T5.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from rnnkit.plotting import plot_loss_curve
    >>> ax = plot_loss_curve([0.7, 0.5, 0.9, 0.3, 0.2, 0.6, 0.1], epoch_boundaries=[2, 5],
    ...                      hlines={"chance": 0.693})
    >>> len(ax.lines)  # curve, 2 boundaries, 1 reference
    4
    >>> plt.close(ax.figure)
    """
    ax = _get_ax(ax)
    curves = dict(losses) if isinstance(losses, Mapping) else {label: losses}
    n_steps = 0
    for name, values in curves.items():
        values = np.asarray(values, dtype=float).ravel()
        n_steps = max(n_steps, len(values))
        shown = _moving_average(values, smooth)
        steps = np.arange(len(values) - len(shown), len(values))
        ax.plot(steps, shown, linewidth=1.0, label=name)
    if epoch_boundaries is not None:
        if np.ndim(epoch_boundaries) == 0:
            per_epoch = int(epoch_boundaries)
            if per_epoch < 1:
                raise ValueError(f"epoch_boundaries={per_epoch} steps per epoch must be positive.")
            bounds = np.arange(per_epoch, n_steps, per_epoch)
        else:
            bounds = np.asarray(epoch_boundaries).ravel()
        for b in bounds:
            ax.axvline(b, color="0.6", linestyle=":", linewidth=0.8)
    for i, (name, value) in enumerate((hlines or {}).items()):
        ax.axhline(value, color=f"C{(len(curves) + i) % 10}", linestyle="--", linewidth=1.0, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if hlines or any(name is not None for name in curves):
        ax.legend(loc="best")
    return ax


def plot_echo_panels(x, y_true, y_pred, n_panels: int = 5, fig=None, *, losses=None):
    """Bar panels of the echo tutorial (T1): input, target echo and predicted echo.

    One panel per row (sequence) of a window: the input bits as blue bars of
    height 1, the target as red bars of height 0.5 and the prediction as green
    bars of height 0.3, drawn over each other as in the tutorial, so a correct
    prediction shows a green bar inside every red one.

    Parameters
    ----------
    x : array-like of shape (n_rows, n_steps)
        Input bits of one window.
    y_true : array-like of shape (n_rows, n_steps)
        Target classes (0 or 1).
    y_pred : array-like of shape (n_rows, n_steps) or (n_rows, n_steps, 2)
        Predicted classes, or class probabilities (the most probable class is
        drawn).
    n_panels : int, default=5
        Number of rows to draw (the first ones).
    fig : matplotlib Figure, optional
        Figure to clear and draw into (for instance, to refresh it during
        training); a new figure by default.
    losses : array-like, optional
        Also draw this loss curve in the first panel, as the tutorial does (a
        2 x 3 grid for the default 5 panels).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with one Axes per panel (plus the loss Axes first).

    See Also
    --------
    rnnkit.datasets.make_echo : The echo data.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from rnnkit.datasets import make_echo
    >>> from rnnkit.plotting import plot_echo_panels
    >>> X, y = make_echo(n_bits=75, n_rows=5, random_state=0)
    >>> fig = plot_echo_panels(X, y, y, losses=[0.7, 0.4, 0.1])
    >>> len(fig.axes), len(fig.axes[1].patches)  # loss + 5 panels; 3 x 15 bars
    (6, 45)
    >>> plt.close(fig)
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y_true = np.atleast_2d(np.asarray(y_true, dtype=float))
    y_pred = np.asarray(y_pred, dtype=float)
    if y_pred.ndim == 3:
        y_pred = y_pred.argmax(axis=-1)
    y_pred = np.atleast_2d(y_pred)
    if not x.shape == y_true.shape == y_pred.shape:
        raise ValueError(
            f"x, y_true and y_pred must have one shape, got {x.shape}, {y_true.shape}, {y_pred.shape}."
        )
    n_panels = min(int(n_panels), x.shape[0])
    if n_panels < 1:
        raise ValueError("n_panels must be at least 1.")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(10, 5))
    else:
        fig.clear()
    n_cells = n_panels + (losses is not None)
    ncols = min(3, n_cells)
    nrows = -(-n_cells // ncols)
    cell = 1
    if losses is not None:
        ax = fig.add_subplot(nrows, ncols, cell)
        ax.plot(np.asarray(losses, dtype=float).ravel(), linewidth=1.0)
        ax.set_title("loss")
        cell += 1
    steps = np.arange(x.shape[1])
    for row in range(n_panels):
        ax = fig.add_subplot(nrows, ncols, cell + row)
        ax.bar(steps, x[row], width=1, align="edge", color="blue", label="input")
        ax.bar(steps, y_true[row] * 0.5, width=1, align="edge", color="red", label="target")
        ax.bar(steps, y_pred[row] * 0.3, width=1, align="edge", color="green", label="prediction")
        ax.axis([0, x.shape[1], 0, 2])
        ax.set_title(f"row {row}")
    fig.tight_layout()
    return fig


def plot_prediction(y_true, y_pred, x=None, ax=None, *, labels=("target", "prediction"), title=None):
    """Plot a predicted sequence against its target (regression, tutorial T4).

    The target is drawn as red dots and the prediction as blue dots, as in the
    sine tutorial's snapshots.

    Parameters
    ----------
    y_true : array-like of shape (n_steps,) or (n_steps, 1)
        Target (or input) values.
    y_pred : array-like of shape (n_steps,) or (n_steps, 1)
        Predicted values.
    x : array-like of shape (n_steps,), optional
        Positions on the horizontal axis (for instance the sampling times);
        ``0 .. n_steps - 1`` by default.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure's Axes by default.
    labels : tuple of str, default=("target", "prediction")
        Legend labels of the two series (red and blue dots).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with two lines: ``y_true`` then ``y_pred``.

    See Also
    --------
    rnnkit.datasets.make_sine_windows : The sine data.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from rnnkit.datasets import make_sine_windows
    >>> from rnnkit.plotting import plot_prediction
    >>> X, y, t = make_sine_windows(1, return_time=True)
    >>> ax = plot_prediction(y[0], y[0] + 0.01, x=t[0, 1:])
    >>> len(ax.lines)
    2
    >>> plt.close(ax.figure)
    """
    ax = _get_ax(ax)
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} values, y_pred {len(y_pred)}.")
    x = np.arange(len(y_true)) if x is None else np.asarray(x, dtype=float).ravel()
    if len(x) != len(y_true):
        raise ValueError(f"x has {len(x)} values, y_true {len(y_true)}.")
    ax.plot(x, y_true, "r.", label=labels[0])
    ax.plot(x, y_pred, "b.", label=labels[1])
    ax.legend(loc="best")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_hidden_states(states, ax=None, *, x=None):
    """Plot hidden-state trajectories, one line per hidden unit.

    Shows how a recurrent layer's state evolves along one sequence, for
    instance how it stores the bits an echo or a rule needs.

    Parameters
    ----------
    states : array-like of shape (n_steps, n_hidden)
        Hidden state at every step of one sequence (singleton axes, such as a
        batch of one, are dropped).
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure's Axes by default.
    x : array-like of shape (n_steps,), optional
        Positions on the horizontal axis; ``0 .. n_steps - 1`` by default.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with ``n_hidden`` lines.

    See Also
    --------
    plot_loss_curve : Plot training losses.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from rnnkit.plotting import plot_hidden_states
    >>> states = np.tanh(np.random.default_rng(0).normal(size=(15, 4)))
    >>> ax = plot_hidden_states(states)
    >>> len(ax.lines)
    4
    >>> plt.close(ax.figure)
    """
    states = np.asarray(states, dtype=float)
    if states.ndim > 2:
        squeezed = states.squeeze()
        states = squeezed.reshape(states.shape[0], -1) if squeezed.ndim != 1 else squeezed[:, None]
    if states.ndim == 1:
        states = states[:, None]
    ax = _get_ax(ax)
    x = np.arange(states.shape[0]) if x is None else np.asarray(x, dtype=float).ravel()
    for unit in range(states.shape[1]):
        ax.plot(x, states[:, unit], linewidth=1.0, label=f"h[{unit}]")
    ax.set_xlabel("time step")
    ax.set_ylabel("hidden state")
    if states.shape[1] <= 10:
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_comparison(
    names: Sequence[str],
    scores,
    times=None,
    ax=None,
    *,
    ylabel: str = "test accuracy",
    ylim=None,
):
    """Draw side-by-side bars comparing model variants, annotated with score and training time.

    The figure of tutorial T3: LSTM, GRU and their variants trained on one
    data set, with the test accuracy and the training time of each.

    Parameters
    ----------
    names : sequence of str
        Variant names (bar labels).
    scores : array-like of shape (n_variants,)
        Score of each variant (bar heights), for instance test accuracy.
    times : array-like of shape (n_variants,), optional
        Training time of each variant in seconds, written above its bar.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure's Axes by default.
    ylabel : str, default="test accuracy"
        Vertical axis label.
    ylim : tuple of float, optional
        Vertical limits (for instance ``(0.9, 1.0)`` to separate close
        accuracies); from 0 to a little above the best score by default.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with one bar (patch) and one annotation per variant.

    See Also
    --------
    plot_loss_curve : Plot training losses.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from rnnkit.plotting import plot_comparison
    >>> ax = plot_comparison(["LSTM", "GRU"], [0.96, 0.97], times=[4.1, 3.2])
    >>> len(ax.patches), [t.get_text() for t in ax.texts]
    (2, ['0.960\\n4.1 s', '0.970\\n3.2 s'])
    >>> plt.close(ax.figure)
    """
    names = [str(n) for n in names]
    scores = np.asarray(scores, dtype=float).ravel()
    if len(scores) != len(names):
        raise ValueError(f"{len(names)} names for {len(scores)} scores.")
    if times is not None:
        times = np.asarray(times, dtype=float).ravel()
        if len(times) != len(names):
            raise ValueError(f"{len(names)} names for {len(times)} times.")
    ax = _get_ax(ax)
    positions = np.arange(len(names))
    bars = ax.bar(positions, scores, color=[f"C{i % 10}" for i in range(len(names))])
    for i, bar in enumerate(bars):
        text = f"{scores[i]:.3f}" if times is None else f"{scores[i]:.3f}\n{times[i]:.1f} s"
        ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
        )
    ax.set_xticks(positions)
    ax.set_xticklabels(
        names, rotation=30 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center"
    )
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    elif len(scores) and np.all(np.isfinite(scores)):
        ax.set_ylim(min(0.0, scores.min()), max(scores.max(), 0.0) * 1.15 or 1.0)
    return ax


def plot_alignment(x, proba, labels, fig=None, *, decoded=None):
    """Plot a CTC alignment: the input under the per-frame label probabilities.

    The top panel shows the input sequence (one column per frame), the bottom
    one the probability of each label at each frame (the blank dashed), with
    the frames where the best path emits a label marked by that label.

    Parameters
    ----------
    x : array-like of shape (n_frames, n_features)
        The input sequence.
    proba : array-like of shape (n_frames, n_labels + 1)
        Per-frame probabilities, column 0 the blank (as
        :meth:`rnnkit.RNNTranscriber.predict_proba` returns them).
    labels : sequence of str
        Names of columns ``1 ..`` (``classes_``).
    fig : matplotlib Figure, optional
        Figure to draw into; a new one by default.
    decoded : str, optional
        The transcription, shown as the figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with the two Axes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from rnnkit.plotting import plot_alignment
    >>> proba = np.eye(3)[[0, 1, 1, 0, 2, 0]] * 0.9 + 0.1 / 3
    >>> fig = plot_alignment(np.zeros((6, 4)), proba, ["a", "b"], decoded="ab")
    >>> len(fig.axes[1].lines)
    3
    >>> plt.close(fig)
    """
    x = np.asarray(x, dtype=float)
    proba = np.asarray(proba, dtype=float)
    if proba.shape[0] != x.shape[0] or proba.shape[1] != len(labels) + 1:
        raise ValueError(f"proba must have shape ({x.shape[0]}, {len(labels) + 1}) for {x.shape[0]} frames "
                         f"and {len(labels)} labels; got {proba.shape}")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(9, 4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=(1, 1.6)))
    top.imshow(x.T, aspect="auto", cmap="gray_r", interpolation="nearest",
               extent=(-0.5, x.shape[0] - 0.5, x.shape[1] - 0.5, -0.5))
    top.set_ylabel("feature")
    frames = np.arange(x.shape[0])
    bottom.plot(frames, proba[:, 0], "k--", linewidth=1.0, label="blank")
    best = proba.argmax(axis=1)
    for j, name in enumerate(labels, 1):
        if proba[:, j].max() < 0.05:
            continue
        (line,) = bottom.plot(frames, proba[:, j], linewidth=1.2, label=str(name))
        for t in np.flatnonzero((best == j) & np.r_[True, best[1:] != best[:-1]]):
            bottom.annotate(str(name), (t, proba[t, j]), xytext=(0, 4), textcoords="offset points",
                            ha="center", color=line.get_color(), fontweight="bold")
    bottom.set_ylim(0, 1.45)
    bottom.set_xlabel("frame")
    bottom.set_ylabel("probability")
    bottom.legend(loc="upper center", fontsize="small", ncol=len(labels) + 1, frameon=False)
    if decoded is not None:
        fig.suptitle(f"transcription: {decoded}")
    return fig
