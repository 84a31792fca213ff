"""What a cell family declares to the engine (:class:`CellSpec`)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class CellSpec:
    """Everything the engine and the estimators need to know about a cell family.

    Parameters
    ----------
    name : str
        The name users pass as ``cell=`` (``"lstm"``).
    code : int
        Its code inside the kernels (:data:`rnnkit.slots.CFG_CELL`); each
        backend's kernels are compiled for one code at a time.
    n_gates : int
        Gate blocks ``G``: ``weight_ih``/``weight_hh`` have ``G * H`` rows.
    gate_names : tuple of str
        The blocks in PyTorch's order (documentation and ``coefs_`` readers).
    has_cell_state : bool
        Whether the cell carries a cell state ``c`` besides ``h``.
    split_hh : bool
        Whether the recurrent bias ``b_hh`` stays inside the cell (it is not
        simply added to ``b_ih``) and backward fills a separate gradient of
        the recurrent pre-activations (GRU).
    nonlinearity : bool
        Whether ``nonlinearity="relu"`` is meaningful (the plain RNN).
    peephole : bool
        Whether ``peephole=True`` is supported (three diagonal blocks
        ``weight_ci``, ``weight_cf``, ``weight_co`` of H after ``bias_hh``).
    cache_width : callable
        ``cache_width(H, layer_norm)``: values kept per step and sequence for
        backward; the kernels never write past it (tested).
    ln_extra : tuple of str, default=()
        Names of extra ``(H,)`` layer-normalisation blocks after ``ln_weight``
        and ``ln_bias`` (the LSTM's normalised cell state).
    init : callable or None, default=None
        ``init(p, H, bias, layer_norm, forget_bias)``: cell-specific changes to
        PyTorch's uniform initialisation, on ``p`` (one layer and direction's
        views, names without the ``_l{k}`` suffix); None for none.
    """

    name: str
    code: int
    n_gates: int
    gate_names: tuple
    has_cell_state: bool
    split_hh: bool
    nonlinearity: bool
    peephole: bool
    cache_width: object
    ln_extra: tuple = ()
    init: object = None

    def extra_blocks(self, H, peephole, layer_norm):
        """Shapes of the blocks after ``bias_hh``: ``(peephole blocks, layer-norm blocks)``.

        Each is a list of ``(name, shape)``; a list is empty when its variant is off.
        """
        G = self.n_gates
        peep = [(f"weight_c{g}", (H,)) for g in "ifo"] if peephole else []
        ln = ([("ln_weight", (G * H,)), ("ln_bias", (G * H,))] + [(n, (H,)) for n in self.ln_extra]
              if layer_norm else [])
        return peep, ln
