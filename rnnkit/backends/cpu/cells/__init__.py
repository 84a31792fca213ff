"""The cells' CPU kernels, and the dispatch from a cell code to them.

Each module here (same name as the cell's spec in :mod:`rnnkit.cells`)
defines ``forward_sequence`` and ``backward_sequence`` with one shared
signature. :data:`FORWARD` and :data:`BACKWARD` hold them by cell code;
compiled callers index them with the cell code as a compile-time literal
(:class:`CellCode`), so a model compiles only its own cell's kernels, and
numba's on-disk cache keeps one entry per cell.

Conventions shared by every cell's kernels:

* time-major arrays; ``xp`` (T, B, G*H) is the input projection
  ``x_t @ W_ih.T + b_ih`` of every step, computed by the caller (which may
  run a window in chunks of steps: :func:`rnnkit.backends.cpu.stack.forward`);
* ``Wp`` is ``W_hh`` packed by the caller for the pass's per-step products
  (:func:`~rnnkit.backends.cpu.gemm.pack_for`: for ``h @ W_hh.T`` forward,
  ``d @ W_hh`` backward; once per window), or an empty (0, 0, 1) array when
  they run unpacked;
* the caller may run a window in chunks of steps, each call on the chunk's
  steps of every array (``hs``, ``cs`` one step more) with ``lengths``
  counted from the chunk's first step; backward then goes through the chunks
  last first, each call's ``dh_last``/``dc_last`` being the ``dh0``/``dc0``
  the call before left;
* ``hs`` (T+1, B, H): ``hs[0]`` is the initial state, ``hs[t+1]`` the state
  after step ``t``; steps ``t >= lengths[b]`` copy the previous state;
* ``cs`` likewise for the LSTM cell state (unused here);
* ``peep`` (3H or 0) holds the LSTM peephole weights, ``lnp`` the
  layer-norm gains and biases (empty when the variant is off); backward
  accumulates their gradients into ``gpeep`` / ``glnp`` (zeroed by the caller);
* backward writes the gradients of the input and recurrent pre-activations
  (``dpre_ih``, ``dpre_hh``, (T, B, G*H), zero at masked steps) and of the
  initial state, from the gradients ``dhs`` (T, B, H) of every step's output
  and ``dh_last``/``dc_last`` of the final state;
* ``tmp`` is scratch (kernels allocate nothing): the kernels use its first
  ``B*G*H + B*H`` elements, where backward passes whose products run
  unpacked add their recurrent product ``da @ W_hh`` through ``tmp[B*G*H:]``
  (:func:`~rnnkit.backends.cpu.linalg.mm_nn_add`); ``Wp`` and what the caller
  keeps between chunks follow (:func:`~rnnkit.backends.cpu.workspace.tmp_slots`).
"""

import importlib
import warnings

from numba import types
from numba.core.errors import NumbaExperimentalFeatureWarning
from numba.extending import typeof_impl

from ....cells import CELLS

# indexing a tuple of kernels types them as first-class functions, which numba
# flags as experimental; the kernels are called directly, nothing else is used
warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                        category=NumbaExperimentalFeatureWarning)


class CellCode(int):
    """A cell code that numba types as a compile-time literal (``Literal[int](code)``).

    Python passes the cell to compiled entry points as ``CellCode(code)``: each
    cell gets its own specialisation (and on-disk cache entry) without a
    ``numba.literally`` round trip at every call.
    """


_LITERALS = {}


@typeof_impl.register(CellCode)
def _typeof_cell_code(val, c):
    code = int(val)
    if code not in _LITERALS:  # a numba type is costly to build: once per code
        _LITERALS[code] = types.IntegerLiteral(code)
    return _LITERALS[code]

#: cell code -> module of its CPU kernels
KERNELS = {spec.code: importlib.import_module(f".{name}", __name__) for name, spec in CELLS.items()}

#: each cell's kernels, indexed by cell code: a compiled caller indexes these
#: tuples with its literal cell code, which types as that one kernel
FORWARD = tuple(KERNELS[code].forward_sequence for code in sorted(KERNELS))
BACKWARD = tuple(KERNELS[code].backward_sequence for code in sorted(KERNELS))
