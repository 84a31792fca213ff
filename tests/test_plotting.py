import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpy.testing as npt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rnnkit.datasets import make_echo  # noqa: E402
from rnnkit.plotting import (  # noqa: E402
    plot_comparison,
    plot_echo_panels,
    plot_hidden_states,
    plot_loss_curve,
    plot_prediction,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _vertical(ax):
    return [ln for ln in ax.lines if np.ptp(np.asarray(ln.get_xdata(), dtype=float)) == 0]


def test_loss_curve_single_with_boundaries_and_hlines():
    losses = np.linspace(1, 0, 30)
    ax = plot_loss_curve(losses, epoch_boundaries=[10, 20], hlines={"ln 2": 0.693, "0.5 ln 2": 0.347})
    assert isinstance(ax, Axes)
    assert len(ax.lines) == 1 + 2 + 2
    npt.assert_array_equal(ax.lines[0].get_ydata(), losses)
    assert sorted(ln.get_xdata()[0] for ln in _vertical(ax)) == [10, 20]
    horizontal = [ln for ln in ax.lines[3:]]
    assert [ln.get_label() for ln in horizontal] == ["ln 2", "0.5 ln 2"]
    assert [ln.get_ydata()[0] for ln in horizontal] == [0.693, 0.347]
    assert ax.get_legend() is not None


def test_loss_curve_steps_per_epoch():
    ax = plot_loss_curve(np.ones(20), epoch_boundaries=6)
    assert sorted(ln.get_xdata()[0] for ln in _vertical(ax)) == [6, 12, 18]
    assert len(ax.lines) == 4
    assert ax.get_legend() is None


def test_loss_curve_mapping_smoothing_and_given_ax():
    fig, ax = plt.subplots()
    curves = {"lag 1": np.arange(10.0), "lag 6": np.arange(10.0)[::-1]}
    out = plot_loss_curve(curves, ax=ax, smooth=3)
    assert out is ax
    assert len(ax.lines) == 2
    assert [ln.get_label() for ln in ax.lines] == ["lag 1", "lag 6"]
    # moving average over 3 steps, each point at the end of its window
    npt.assert_allclose(ax.lines[0].get_ydata(), np.arange(1.0, 9.0))
    npt.assert_array_equal(ax.lines[0].get_xdata(), np.arange(2, 10))


def test_loss_curve_bad_steps_per_epoch():
    with pytest.raises(ValueError):
        plot_loss_curve(np.ones(5), epoch_boundaries=0)


def test_echo_panels():
    X, y = make_echo(n_bits=75, n_rows=5, random_state=0)
    pred = 1 - y
    fig = plot_echo_panels(X, y, pred)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 5
    for row, ax in enumerate(fig.axes):
        assert len(ax.patches) == 3 * 15
        heights = np.array([p.get_height() for p in ax.patches]).reshape(3, 15)
        npt.assert_array_equal(heights[0], X[row])
        npt.assert_array_equal(heights[1], y[row] * 0.5)
        npt.assert_allclose(heights[2], pred[row] * 0.3)
        colors = [ax.patches[i].get_facecolor()[:3] for i in (0, 15, 30)]
        assert colors == [(0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.5019607843137255, 0.0)]


def test_echo_panels_probabilities_losses_and_reuse():
    X, y = make_echo(n_bits=60, n_rows=6, random_state=1)
    proba = np.stack([1.0 - y, y], axis=-1) * 0.8 + 0.1
    fig = plt.figure()
    out = plot_echo_panels(X, y, proba, n_panels=3, fig=fig, losses=[0.7, 0.2])
    assert out is fig
    assert len(fig.axes) == 4
    assert len(fig.axes[0].lines) == 1
    heights = np.array([p.get_height() for p in fig.axes[1].patches]).reshape(3, 10)
    npt.assert_allclose(heights[2], y[0] * 0.3)
    # drawing again into the same figure replaces its panels
    plot_echo_panels(X, y, y, n_panels=2, fig=fig)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        plot_echo_panels(X, y[:, :-1], y)


def test_prediction():
    t = np.linspace(0, np.pi, 21)[1:]
    y_true = np.sin(t)[:, None]
    y_pred = y_true + 0.05
    ax = plot_prediction(y_true, y_pred, x=t, title="step 25")
    assert isinstance(ax, Axes)
    assert len(ax.lines) == 2
    npt.assert_array_equal(ax.lines[0].get_xdata(), t)
    npt.assert_array_equal(ax.lines[0].get_ydata(), y_true.ravel())
    npt.assert_array_equal(ax.lines[1].get_ydata(), y_pred.ravel())
    assert ax.get_title() == "step 25"
    with pytest.raises(ValueError):
        plot_prediction(y_true, y_pred[:-1])


def test_hidden_states():
    states = np.random.default_rng(0).normal(size=(12, 6))
    ax = plot_hidden_states(states)
    assert isinstance(ax, Axes)
    assert len(ax.lines) == 6
    npt.assert_array_equal(ax.lines[2].get_ydata(), states[:, 2])
    # a batch axis of one is dropped
    ax2 = plot_hidden_states(states[:, None, :])
    assert len(ax2.lines) == 6


def test_comparison():
    names = ["LSTM", "GRU", "peephole", "LN-GRU", "bi-LSTM", "dropout"]
    scores = [0.96, 0.97, 0.955, 0.965, 0.975, 0.95]
    times = [4.0, 3.5, 5.1, 6.0, 7.2, 4.4]
    ax = plot_comparison(names, scores, times=times)
    assert isinstance(ax, Axes)
    assert len(ax.patches) == 6
    npt.assert_allclose([p.get_height() for p in ax.patches], scores)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 6
    assert texts[1] == "0.970\n3.5 s"
    assert [t.get_text() for t in ax.get_xticklabels()] == names


def test_comparison_without_times_and_ylim():
    ax = plot_comparison(["a", "b"], [0.5, 0.9], ylim=(0.4, 1.0))
    assert [t.get_text() for t in ax.texts] == ["0.500", "0.900"]
    assert ax.get_ylim() == (0.4, 1.0)
    with pytest.raises(ValueError):
        plot_comparison(["a"], [0.5, 0.9])
