"""LSTM cell in PyTorch's formulation, gates ordered (i, f, g, o).

Plain cell: with ``a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` split into the
blocks ``a_i, a_f, a_g, a_o``::

    i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Peephole (``peephole=True``, diagonal weights ``w_ci, w_cf, w_co`` of shape
(H,), named ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}``)::

    a_i += w_ci * c_{t-1},  a_f += w_cf * c_{t-1},  a_o += w_co * c_t

Layer normalisation (``layer_norm=True``; ``LN`` of
:func:`rnnkit.backends.cpu.numeric.ln_forward`, gains/biases ``ln_weight_l{k}``,
``ln_bias_l{k}`` (4H, blocks i, f, g, o) and ``ln_cell_weight_l{k}``,
``ln_cell_bias_l{k}`` (H,)): each gate block's pre-activation (peephole term
included) is normalised on its own, and the cell state is normalised before
the output ``tanh`` (as in Ba et al., 2016)::

    i = sigmoid(LN_i(a_i)), f = sigmoid(LN_f(a_f)), g = tanh(LN_g(a_g))
    c_t = f * c_{t-1} + i * g                  (carried un-normalised)
    o = sigmoid(LN_o(a_o))                     (a_o with w_co * c_t if peephole)
    h_t = o * tanh(LN_c(c_t))

The cache holds the activated gates (i, f, g, o) and ``tanh(c_t)`` (or
``tanh(LN_c(c_t))``): 5H values, plus with layer norm the normalised
pre-activations (4H), the normalised cell (H) and the five ``1 / sigma``.
Kernel conventions:
:mod:`rnnkit.backends.cpu.cells`.
"""
from ._spec import CellSpec


def cache_width(H, layer_norm=False):
    """Values kept per step and sequence for backward (see the module docstring)."""
    return 10 * H + 5 if layer_norm else 5 * H


def _init(p, H, bias, layer_norm, forget_bias):
    """``forget_bias``: the f block of ``bias_ih`` (``bias_hh`` f at 0), or of ``ln_bias``."""
    if forget_bias is None:
        return
    if layer_norm:
        p["ln_bias"][H:2 * H] = forget_bias
    elif bias:
        p["bias_ih"][H:2 * H] = forget_bias
        p["bias_hh"][H:2 * H] = 0.0


SPEC = CellSpec(
    name="lstm",
    code=1,
    n_gates=4,
    gate_names=("i", "f", "g", "o"),
    has_cell_state=True,
    split_hh=False,
    nonlinearity=False,
    peephole=True,
    cache_width=cache_width,
    ln_extra=("ln_cell_weight", "ln_cell_bias"),
    init=_init,
)
