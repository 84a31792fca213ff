"""GRU cell in PyTorch's formulation, gates ordered (r, z, n).

``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``,
``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
``h_t = (1 - z) * n + z * h_{t-1}``.

Layer normalisation (``layer_norm=True``): the layer-normalised GRU of the
TensorFlow tutorial (``LNGRUCell``, as TensorFlow's ``LayerNormBasicGRU``):
``LN`` of :func:`rnnkit.backends.cpu.numeric.ln_forward`, with gains/biases
``ln_weight_l{k}``, ``ln_bias_l{k}`` (3H, blocks r, z, n), on the reset and
update pre-activations and on the candidate pre-activation::

    r = sigmoid(LN_r(W_ir x + b_ir + W_hr h + b_hr))
    z = sigmoid(LN_z(W_iz x + b_iz + W_hz h + b_hz))
    n = tanh(LN_n(W_in x + b_in + r * (W_hn h + b_hn)))
    h_t = (1 - z) * n + z * h_{t-1}

The reset gate stays where PyTorch puts it (on ``W_hn h + b_hn``; the tutorial,
like TensorFlow's ``GRUCell``, multiplies ``h`` before the product), so the
weights keep PyTorch's meaning. The tutorial initialises the r and z gate bias
to 1.0: :meth:`rnnkit.network.Network.init_params` sets ``bias_ih_l{k}[:2H] = 1``
and ``bias_hh_l{k}[:2H] = 0`` (a shift common to all units of a block is removed
by the normalisation, so, as in the tutorial, it does not change the output).

The cache (T, B, 4H) holds ``r``, ``z``, ``n`` and ``W_hn h + b_hn``, plus with
layer norm the normalised pre-activations (3H) and the three ``1 / sigma``.
The input and recurrent pre-activation gradients differ in the ``n`` block
(``dpre_hh_n = r * dpre_ih_n``), so backward fills both arrays. Kernel conventions:
:mod:`rnnkit.backends.cpu.cells`.
"""
from ._spec import CellSpec


def cache_width(H, layer_norm=False):
    """Values kept per step and sequence for backward (see the module docstring)."""
    return 7 * H + 3 if layer_norm else 4 * H


def _init(p, H, bias, layer_norm, forget_bias):
    """Layer-normalised GRU: the r and z blocks of ``bias_ih`` start at 1 (``bias_hh``'s at 0)."""
    if layer_norm and bias:
        p["bias_ih"][:2 * H] = 1.0
        p["bias_hh"][:2 * H] = 0.0


SPEC = CellSpec(
    name="gru",
    code=2,
    n_gates=3,
    gate_names=("r", "z", "n"),
    has_cell_state=False,
    split_hh=True,
    nonlinearity=False,
    peephole=False,
    cache_width=cache_width,
    init=_init,
)
