"""Gradient check: the compiled backward pass against central finite differences.

:func:`gradcheck` plays the part of ``torch.autograd.gradcheck`` for rnnkit:
it compares every gradient :meth:`rnnkit.network.Network.loss_and_grad`
computes by backpropagation through time (parameters, inputs, initial states)
with a fourth-order central difference of the loss, in float64.
"""

import numpy as np

__all__ = ["GradcheckError", "central_differences", "gradcheck"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient is out of tolerance.

    A subclass of :class:`AssertionError`, so that test runners such as pytest
    report it as a failed check rather than as an error. The message names the
    block (a parameter name of :attr:`rnnkit.network.Network.shapes`, or
    ``dX``, ``dh0``, ``dc0``) and the index of the entry that exceeds the
    tolerance worst, with its analytic and numeric values.
    """


def central_differences(arr, fn, eps=1e-6):
    """Gradient of the scalar ``fn()`` with respect to ``arr``, by central differences.

    Each entry of ``arr`` is perturbed in place, ``fn`` (which must read
    ``arr``) is evaluated, and the entry is restored exactly. The stencil is
    of fourth order, ``(8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / (12 h)``:
    its truncation error is O(h**4), so strongly curved spots (layer norm over
    two nearly equal units, say) do not pass their curvature off as a
    gradient error.

    Parameters
    ----------
    arr : ndarray
        Writable float array; ``fn`` must see its changes (a view of it is fine).
    fn : callable
        ``fn() -> float``.
    eps : float, default=1e-6
        Step ``h``.

    Returns
    -------
    ndarray of shape ``arr.shape``
        The numeric gradient (float64).
    """
    g = np.zeros(arr.size)
    flat = arr.reshape(-1)
    for i in range(arr.size):
        old = flat[i]
        values = []
        for step in (eps, -eps, 2 * eps, -2 * eps):
            flat[i] = old + step
            values.append(fn())
        flat[i] = old
        g[i] = (8 * (values[0] - values[1]) - (values[2] - values[3])) / (12 * eps)
    return g.reshape(arr.shape)


def _ratios(analytic, numeric, rtol, atol):
    """Tolerance ratios ``|a - n| / (atol + rtol |n|)``, > 1 exactly where assert_allclose fails."""
    a = np.asarray(analytic, dtype=np.float64).reshape(-1)
    n = np.asarray(numeric, dtype=np.float64).reshape(-1)
    diff = np.abs(a - n)
    tol = atol + rtol * np.abs(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(diff == 0, 0.0, diff / tol)
    fail = ~(diff <= tol)  # NumPy's rule; NaN and infinity fail
    r[fail] = np.maximum(r[fail], np.nextafter(1.0, 2.0))  # division rounding must not hide a failure
    r[~fail] = np.minimum(r[~fail], 1.0)
    r[np.isnan(r)] = np.inf
    return a, n, diff, tol, r, fail


def _resolve(network, theta):
    """``(network, theta)`` from a network-like object or a fitted estimator."""
    if not hasattr(network, "loss_and_grad"):  # an estimator: its network and weights
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(network, "_theta")
        if theta is None:
            theta = np.array(network._theta, dtype=np.float64)
        network = network._net
    if theta is None:
        raise ValueError("theta is required unless network is a fitted rnnkit estimator")
    theta = np.asarray(theta)
    if theta.dtype != np.float64:
        raise ValueError(f"gradcheck needs float64 parameters (finite differences are noise in lower "
                         f"precision), got theta of dtype {theta.dtype}; pass theta.astype(np.float64)")
    return network, np.array(theta)  # a copy: perturbed in place while checking


def gradcheck(network, theta, X, lengths, Y, h0=None, c0=None, *, dropout_seed=0, eps=1e-6,
              rtol=1e-5, atol=1e-7, check_inputs=True, raise_exception=True):
    """Check the analytic gradients of a network against central finite differences.

    Runs ``network.loss_and_grad(theta, X, lengths, Y, h0, c0,
    input_grad=check_inputs, dropout_seed=dropout_seed)`` (the compiled
    backward pass) and compares each gradient it returns with
    :func:`~rnnkit._gradcheck.central_differences` of the mean loss: the flat parameter gradient,
    block by block (the names of :attr:`~rnnkit.network.Network.shapes`), and,
    with ``check_inputs``, ``dX``, ``dh0`` and (LSTM) ``dc0``. An entry passes
    under the rule of ``np.testing.assert_allclose(analytic, numeric,
    rtol=rtol, atol=atol)``: ``|analytic - numeric| <= atol + rtol *
    |numeric|``. Unlike ``assert_allclose``, NaN or infinite entries always
    fail. The loss is evaluated ``4 * (size + N*T*input_size + ...)`` times,
    so keep the network and the batch small.

    Parameters
    ----------
    network : Network or fitted RNNClassifier / RNNRegressor
        The network (anything with :meth:`~rnnkit.network.Network.loss_and_grad`,
        ``shapes``, ``offsets``, ``n_states``, ``hidden_size``,
        ``has_cell_state`` and ``dropout``). A fitted estimator stands for
        its network.
    theta : ndarray of shape (size,) or None
        Flat float64 parameters; not modified. None only with an estimator:
        a float64 copy of its fitted weights.
    X : ndarray of shape (N, T, input_size)
        Padded batch (converted to a float64 copy).
    lengths : ndarray of shape (N,)
        Valid steps of each sequence.
    Y : array-like
        Targets in the network's form (class indices ``0..K-1`` for
        cross-entropy), see :meth:`~rnnkit.network.Network.targets`.
    h0, c0 : ndarray of shape (num_layers * num_directions, N, hidden_size), default=None
        Initial states; zeros when None. Copied, never modified.
    dropout_seed : int, default=0
        Seed of the dropout masks, fixed for every evaluation (a network with
        ``dropout > 0`` needs one: None raises a ValueError).
    eps : float, default=1e-6
        Finite-difference step.
    rtol, atol : float, default=1e-5, 1e-7
        Relative and absolute tolerance, as in ``np.testing.assert_allclose``.
    check_inputs : bool, default=True
        Also check ``dX`` (not for token ids), ``dh0`` and, when the cell has
        a cell state, ``dc0``.
    raise_exception : bool, default=True
        Raise :class:`GradcheckError` when an entry is out of tolerance;
        when False, only return the worst ratio.

    Returns
    -------
    float
        The worst tolerance ratio, ``max |a - n| / (atol + rtol * |n|)`` over
        every checked entry (``a`` analytic, ``n`` numeric): at most 1 when
        everything passes, above 1 when some entry fails (``inf`` for a NaN or
        a zero tolerance). Its distance below 1 is the margin.

    Raises
    ------
    GradcheckError
        With ``raise_exception=True``, when the worst ratio exceeds 1; the
        message names the worst block and index, e.g. ``weight_hh_l0[1, 0]``.
    ValueError
        When ``theta`` is not float64 (finite differences need it), or when
        ``dropout_seed`` is None for a network with dropout.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Network, gradcheck
    >>> net = Network("gru", input_size=2, hidden_size=3, output_size=2,
    ...               loss="cross_entropy", output="last")
    >>> theta = net.init_params(0)
    >>> X = np.random.default_rng(0).normal(size=(2, 3, 2))
    >>> ratio = gradcheck(net, theta, X, np.array([3, 2]), np.array([0, 1]))
    >>> bool(ratio < 1)
    True
    """
    net, theta = _resolve(network, theta)
    if dropout_seed is None and getattr(net, "dropout", 0) > 0:
        raise ValueError("a network with dropout needs a fixed dropout_seed for finite differences")
    X = np.array(X, dtype=np.float64)
    lengths = np.asarray(lengths)
    state = (net.n_states, X.shape[0], net.hidden_size)
    h0 = np.zeros(state) if h0 is None else np.array(h0, dtype=np.float64)
    c0 = np.zeros(state) if c0 is None else np.array(c0, dtype=np.float64)

    def f():
        return net.loss_and_grad(theta, X, lengths, Y, h0, c0, dropout_seed=dropout_seed)[0]

    numeric_inputs = check_inputs and not net.n_tokens  # token ids have no gradient
    _, out = net.loss_and_grad(theta, X, lengths, Y, h0, c0, input_grad=numeric_inputs,
                               dropout_seed=dropout_seed)
    grad, num = out["grad"], central_differences(theta, f, eps)
    blocks = [(name, shape, grad[net.offsets[k]:net.offsets[k + 1]], num[net.offsets[k]:net.offsets[k + 1]])
              for k, (name, shape) in enumerate(net.shapes.items())]
    if check_inputs:
        inputs = ([("dX", X)] if numeric_inputs else []) + [("dh0", h0)] + (
            [("dc0", c0)] if net.has_cell_state else [])
        blocks += [(name, arr.shape, out[name], central_differences(arr, f, eps)) for name, arr in inputs]

    worst, report, failing, n_entries, n_fail = 0.0, None, [], 0, 0
    for name, shape, analytic, numeric in blocks:
        a, n, diff, tol, r, fail = _ratios(analytic, numeric, rtol, atol)
        n_entries += r.size
        if not r.size:
            continue
        if fail.any():
            n_fail += int(fail.sum())
            failing.append(f"{name} ({int(fail.sum())})")
        i = int(np.argmax(r))
        if report is None or r[i] > worst:
            worst = float(r[i])
            index = ", ".join(str(int(j)) for j in np.unravel_index(i, shape))
            report = (f"{name}[{index}]: analytic {float(a[i])!r}, numeric {float(n[i])!r}, "
                      f"|analytic - numeric| = {diff[i]:.3g}, tolerance atol + rtol * |numeric| = "
                      f"{tol[i]:.3g} (ratio {worst:.3g})")
    if worst > 1 and raise_exception:
        raise GradcheckError(
            f"gradcheck failed (rtol={rtol:g}, atol={atol:g}, eps={eps:g}): "
            f"{n_fail} of {n_entries} entries out of "
            f"tolerance, in {', '.join(failing)}; worst at {report}")
    return worst
