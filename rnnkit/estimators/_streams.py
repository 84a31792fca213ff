"""The state of streams that span calls: carried between ``partial_fit`` calls, given to inference."""

import numpy as np

__all__ = ["StreamStateMixin"]


class StreamStateMixin:
    """What :class:`~rnnkit.estimators._base.BaseRNN` does with states beyond one call.

    With ``stateful=True`` every training epoch starts from, and leaves its
    final states in, ``_stream_state`` (``fit`` starts each epoch from zeros,
    ``partial_fit`` continues the previous call's streams until
    :meth:`reset_state`); inference starts from ``initial_state``.
    """

    def _carried_state(self, N, dtype, fresh):
        """The ``(h, c)`` a stateful epoch starts from and leaves its final states in (zeros when fresh)."""
        state = self._stream_state
        if fresh or state is None:
            shape = (self._net.n_states, N, self.hidden_size)
            state = self._stream_state = (np.zeros(shape, dtype), np.zeros(shape, dtype))
        elif state[0].shape[1] != N:
            raise ValueError(f"this stateful {type(self).__name__} carries the state of {state[0].shape[1]} "
                             f"rows from its previous call, but X has {N} rows: call reset_state() before "
                             "starting new streams")
        return state

    def reset_state(self):
        """Forget the state carried between calls of :meth:`partial_fit` (``stateful=True``).

        With ``stateful=True`` each ``partial_fit`` continues every row's
        stream from the final states (every layer's ``h``, and ``c`` for the
        LSTM) of the previous call, as Keras' stateful layers do, with no
        gradient flowing back across calls; ``fit`` starts from zeros. Call
        this before a call that starts new, unrelated streams.

        Returns
        -------
        self : object
            The estimator.
        """
        self._stream_state = None
        return self

    def _initial_state(self, initial_state):
        """``(h_0, c_0)`` from ``initial_state``: a pair (``c`` None for rnn/gru), or a bare ``h_0``."""
        if initial_state is None:
            return None, None
        if self.bidirectional:
            raise ValueError("a bidirectional model cannot continue a stream (its reverse direction reads "
                             "the future): initial_state must be None")
        h0, c0 = initial_state if isinstance(initial_state, tuple) else (initial_state, None)
        if h0 is None or (c0 is None) == self._net.has_cell_state:
            need = "(h_0, c_0)" if self._net.has_cell_state else "h_0 or (h_0, None)"
            raise ValueError(f"initial_state of a {self.cell!r} model is {need}, each (num_layers, "
                             "n_samples, hidden_size) as hidden_states(X)[1:] returns them")
        return h0, c0
