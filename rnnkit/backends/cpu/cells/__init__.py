"""The cells' CPU kernels, by cell code.

Each module here (same name as the cell's spec in :mod:`rnnkit.cells`)
defines ``forward_sequence`` and ``backward_sequence`` with one shared
signature; :data:`KERNELS` holds the modules by cell code. The stack calls
the kernels of a model's cell through their addresses
(:mod:`rnnkit.backends.cpu.calls`), so a model compiles only its own cell's
kernels, numba's on-disk cache keeps one entry per cell, and the code around
them is compiled once for every cell.

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

from ....cells import CELLS

#: cell code -> module of its CPU kernels
KERNELS = {spec.code: importlib.import_module(f".{name}", __name__) for name, spec in CELLS.items()}

