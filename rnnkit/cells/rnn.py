"""Elman RNN cell: ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

``f`` is ``tanh`` (``act == 0``) or ``relu`` (``act == 1``). One gate
(``G = 1``). Without layer normalisation the cache is unused (width 0):
backward reads the activation from the stored hidden states.

Layer normalisation (``layer_norm=True``) normalises the pre-activation:
``h_t = f(LN(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh; ln_weight, ln_bias))`` with
``LN`` as in :func:`rnnkit.backends.cpu.numeric.ln_forward`; the cache then holds the
normalised values ``xhat`` (H) and ``1 / sigma`` (1).
"""
from ._spec import CellSpec


def cache_width(H, layer_norm=False):
    """Values kept per step and sequence for backward (see the module docstring)."""
    return H + 1 if layer_norm else 0


SPEC = CellSpec(
    name="rnn",
    code=0,
    n_gates=1,
    gate_names=("a",),
    has_cell_state=False,
    split_hh=False,
    nonlinearity=True,
    peephole=False,
    cache_width=cache_width,
)
