"""Recurrent cell families and their registry.

A cell family is described once, by a :class:`~rnnkit.cells.CellSpec` in its
own module (:mod:`~rnnkit.cells.rnn`, :mod:`~rnnkit.cells.lstm`,
:mod:`~rnnkit.cells.gru`): its gates, whether it carries a cell state, its
extra parameter blocks, its initialisation and its cache width. The engine,
the parameter layout and the estimators read everything from :data:`CELLS`;
each backend has the cell's kernels in a module of the same name
(:mod:`rnnkit.backends.cpu.cells`). The user guide's "Adding a cell" lists the
steps.
"""

from . import gru, lstm, rnn
from ._spec import CellSpec

#: name -> :class:`CellSpec`, in code order
CELLS = {spec.name: spec for spec in (rnn.SPEC, lstm.SPEC, gru.SPEC)}

#: nonlinearity name -> code (cells whose spec has ``nonlinearity=True``)
NONLINEARITIES = {"tanh": 0, "relu": 1}

__all__ = ["CELLS", "NONLINEARITIES", "CellSpec", "gru", "lstm", "rnn"]
