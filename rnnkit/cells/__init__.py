"""Recurrent cell families and their registry.

Each module (:mod:`~rnnkit.cells.rnn`, :mod:`~rnnkit.cells.lstm`,
:mod:`~rnnkit.cells.gru`) defines ``N_GATES`` (``G``: blocks of ``H`` rows in
``weight_ih``/``weight_hh``), ``cache_width(H, layer_norm)`` (values kept per
step and sequence for backward), ``HAS_CELL_STATE`` and the two compiled
kernels ``forward_sequence`` and ``backward_sequence`` with one shared
signature; the peephole (LSTM) and layer-norm variants are selected inside
the kernels by the (possibly empty) parameter blocks they receive.
"""

from . import gru, lstm, rnn

#: name -> (integer code used inside kernels, module)
CELLS = {"rnn": (0, rnn), "lstm": (1, lstm), "gru": (2, gru)}

#: nonlinearity name -> code (only the "rnn" cell uses it)
NONLINEARITIES = {"tanh": 0, "relu": 1}

__all__ = ["CELLS", "NONLINEARITIES", "gru", "lstm", "rnn"]
