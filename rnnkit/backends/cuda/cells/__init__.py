"""The cells' CUDA device functions (same module names as :mod:`rnnkit.backends.cpu.cells`).

Each module defines ``forward_step`` and ``backward_step`` for one time step
of one (layer, direction) ``q`` over a thread block's ``Rb`` rows, with one
shared signature; the block's threads split the work by (row, unit) or, for a
layer normalisation, by (row, gate block), with ``cuda.syncthreads()`` between
phases (every thread of the block calls them). Formulas and cache layout are
the CPU kernels' (see :mod:`rnnkit.cells`).

Before ``forward_step``: the region ``G_PRE`` holds the recurrent product
``W_hh h_{t}`` (plus ``b_hh`` for cells that keep it apart) and ``G_XP`` the
input projection; ``forward_step`` writes ``hs[t+1]`` (and ``cs[t+1]``) and the
cache. Before ``backward_step``: ``G_DH`` holds the gradient of ``h_{t+1}``
(the step's output gradient included) and ``G_DC`` of ``c_{t+1}``;
``backward_step`` writes the pre-activation gradients (``G_DPI``, and
``G_DPH`` for split cells), the gradients of the layer-normalised values
(``G_DLN``), and leaves in ``G_DH`` the part of the gradient of ``h_t`` that does
not pass through ``W_hh`` (the caller adds that product) and in ``G_DC`` the
gradient of ``c_t``. Steps past a row's length copy the state forward and
leave its gradients untouched.
"""

from numba import cuda

from . import gru, lstm, rnn


@cuda.jit(device=True)
def forward_step(cell, theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid, nt):
    """The cell ``cell``'s :func:`forward_step` (see the package docstring)."""
    if cell == 0:
        rnn.forward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid, nt)
    elif cell == 1:
        lstm.forward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid, nt)
    else:
        gru.forward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, tid, nt)


@cuda.jit(device=True)
def backward_step(cell, theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW, tid, nt):
    """The cell ``cell``'s :func:`backward_step` (see the package docstring)."""
    if cell == 0:
        rnn.backward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW, tid, nt)
    elif cell == 1:
        lstm.backward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW, tid, nt)
    else:
        gru.backward_step(theta, ws, o, lw, r0, q, t, T, R, Rb, H, C, act, pp, ln0, LNW, tid, nt)
