"""Named layouts: every integer slot, region and column the engine passes to its kernels.

The compiled kernels receive a few flat integer and float arrays rather than
many scalars (one argument instead of a dozen; the same compiled code for
every model). This module is the one owner of what each position means; the
pure-Python side (:mod:`rnnkit.layout`, :mod:`rnnkit.network`,
:mod:`rnnkit.optim`) fills them and every backend reads them by these names.

* ``CFG_*`` - slots of the model's integer configuration vector
  (:attr:`rnnkit.network.Network.cfg`, length :data:`N_CFG`);
* ``OFF_*`` - columns of the parameter offset table
  (:attr:`rnnkit.layout.ParamLayout.off`): for each (layer, direction) the
  start of each parameter block and the end of the last; the table's last
  row describes the head with ``HEAD_*`` columns;
* ``WS_*`` - regions of a training or prediction workspace (one flat buffer
  per window, cut by :func:`rnnkit.backends.cpu.workspace.ws_offsets`);
* ``HYPER_*`` - slots of an optimizer's float hyper-parameter vector
  (:attr:`rnnkit.optim.Optimizer.hyper`).
"""

# --------------------------------------------------------------------------- model config
#: cell code (:data:`rnnkit.cells.CELLS`), nonlinearity code (rnn only)
CFG_CELL, CFG_ACT = 0, 1
#: input features, hidden units per direction, head outputs
CFG_INPUT, CFG_HIDDEN, CFG_OUTPUTS = 2, 3, 4
#: built-in loss code (:data:`rnnkit.losses.LOSSES`; -1: a loss computed outside the kernels)
CFG_LOSS = 5
#: output mode: 0 per step, 1 last step (:data:`rnnkit.losses.OUTPUT_MODES`)
CFG_MODE = 6
#: 1 when the layers and the head have biases
CFG_BIAS = 7
#: stacked layers, directions (1 or 2)
CFG_LAYERS, CFG_DIRS = 8, 9
#: 1 with LSTM peepholes, 1 with layer normalisation
CFG_PEEP, CFG_LNORM = 10, 11
#: values the cell keeps per step and sequence for backward
CFG_CACHE = 12
#: gate blocks ``G`` of the cell (``weight_ih`` has ``G * H`` rows)
CFG_GATES = 13
#: 1 when the cell carries a cell state ``c`` besides ``h``
CFG_HAS_C = 14
#: 1 when the cell adds ``b_hh`` itself and fills a separate recurrent
#: pre-activation gradient (GRU); 0 when ``b_hh`` folds into the input projection
CFG_SPLIT_HH = 15
#: tokens of the embedding table in front of the first layer (0: the inputs are numbers);
#: the table (``embedding.weight``) follows the head in the flat vector, from the head row's HEAD_END
CFG_TOKENS = 16
N_CFG = 17

# --------------------------------------------------------------------------- parameter offsets
#: the compiled functions the loops and the stack call through their addresses
#: (:mod:`rnnkit.backends.cpu.calls`): each slot's address, then its key at slot + 1
(CALL_WINDOW, CALL_FORWARD, CALL_BACKWARD, CALL_CELL_FORWARD, CALL_CELL_BACKWARD,
 CALL_PARAM_GRADS) = range(0, 12, 2)
N_CALLS = 12

#: per (layer, direction) row: starts of weight_ih, weight_hh, bias_ih, bias_hh,
#: the peephole block, the layer-norm block, and the row's end
OFF_W_IH, OFF_W_HH, OFF_B_IH, OFF_B_HH, OFF_PEEP, OFF_LN, OFF_END = range(7)
N_OFF = 7
#: the head's row (the last): starts of weight_out, bias_out, and the end (the embedding's start)
HEAD_W, HEAD_B, HEAD_END = 0, 1, 2

# --------------------------------------------------------------------------- workspace regions
(WS_XP,       # (T, B, G*H) input projections of the current (layer, direction), then in backward
             # the gradient of its input pre-activations (the cells consume the projections first)
 WS_HS,       # (L*D, T+1, B, H) hidden states, [0] the initial state
 WS_CS,       # (L*D, T+1, B, H) cell states (cells with HAS_CELL_STATE)
 WS_CACHE,    # (L*D, T, B, CACHE) what each cell keeps for backward
 WS_YS,       # (L, T*B, D*H) per-step outputs of bidirectional layers
 WS_XD,       # (L, T*B, D*H) outputs after dropout
 WS_MASK,     # (L, T*B, D*H) dropout multipliers
 WS_XR,       # (T*B, max(I, D*H)) an input reversed within each length
 WS_HL,       # (B, D*H) final features fed to a last-step head
 WS_LOGITS,   # (R, B, K) head outputs, R = T per step or 1
 WS_DLOGITS,  # (R, B, K) their gradient
 WS_DY,       # (2, T*B, D*H) gradients of a layer's outputs and of its input ((1, ...) for one layer)
 WS_DHS,      # (T, B, H) one direction's share of WS_DY
 WS_DPH,      # (T, B, G*H) gradient of the recurrent pre-activations (SPLIT_HH)
 WS_DXR,      # (T*B, max(I, D*H)) input gradient of a reverse direction
 WS_DHL,      # (B, D*H) gradient of the last-step features
 WS_DLAST,    # (B, H) gradient of one direction's final state
 WS_DZERO,    # (B, H) zeros (the final cell-state gradient)
 WS_TMP,      # (B*G*H + B*H) scratch of the cell kernels
 ) = range(19)
N_WS = 19

# --------------------------------------------------------------------------- optimizer
(HYPER_LR, HYPER_MOMENTUM, HYPER_NESTEROV, HYPER_BETA_1, HYPER_BETA_2, HYPER_EPSILON, HYPER_RHO,
 HYPER_ALPHA, HYPER_CLIP) = range(9)
N_HYPER = 9


def config_vector(**values):
    """The integer configuration vector from its named values (``cell=`` for ``CFG_CELL``, ...).

    Every ``CFG_*`` slot must be given, by its lower-case name without the prefix.

    Returns
    -------
    ndarray of shape (N_CFG,), dtype int64
    """
    import numpy as np

    names = {name[4:].lower(): slot for name, slot in globals().items() if name.startswith("CFG_")}
    missing = set(names) - set(values)
    unknown = set(values) - set(names)
    if missing or unknown:
        raise ValueError(f"config_vector: missing {sorted(missing)}, unknown {sorted(unknown)}")
    cfg = np.zeros(N_CFG, dtype=np.int64)
    for name, value in values.items():
        cfg[names[name]] = int(value)
    return cfg
