"""The flat parameter vector: names, shapes, offsets, views and initialisation (pure Python).

Every backend reads parameters from one flat vector ``theta``; this module
says where each named block lives (PyTorch's names, shapes and gate order)
and builds the offset table the kernels index (columns named in
:mod:`rnnkit.slots`).
"""

import numpy as np

from .slots import (
    HEAD_B,
    HEAD_END,
    HEAD_W,
    N_OFF,
    OFF_B_HH,
    OFF_B_IH,
    OFF_END,
    OFF_LN,
    OFF_PEEP,
    OFF_W_HH,
    OFF_W_IH,
)

__all__ = ["ParamLayout"]


class ParamLayout:
    """Where each named parameter block of a network lives in the flat vector.

    Parameters
    ----------
    spec : rnnkit.cells.CellSpec
        The cell family.
    input_size, hidden_size, output_size, num_layers, num_directions : int
        Sizes (``num_directions`` is 1 or 2).
    bias, peephole, layer_norm : bool
        Variants (see :class:`rnnkit.network.Network`).
    n_tokens : int, default=0
        Rows of an ``embedding.weight`` table (n_tokens, input_size) after
        the head; none when 0.

    Attributes
    ----------
    shapes : dict
        Name -> shape, in layout order. For each layer ``k`` and
        direction (suffix ``""`` or ``"_reverse"``), PyTorch's
        ``weight_ih_l{k}`` (G*H, I for k=0 else D*H), ``weight_hh_l{k}`` (G*H, H),
        ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), then with ``peephole``
        ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,), then
        with ``layer_norm`` the gains ``ln_weight_l{k}`` and biases
        ``ln_bias_l{k}`` (G*H,, one normalisation per gate block, gate order)
        and, for the LSTM, ``ln_cell_weight_l{k}``, ``ln_cell_bias_l{k}`` (H,);
        finally the head ``weight_out`` (K, D*H) and ``bias_out`` (K,).
    offsets : ndarray of shape (len(shapes) + 1,)
        Start of each block, and the total length.
    size : int
        Length of the flat vector.
    off : ndarray of shape (num_layers * num_directions + 1, N_OFF)
        The kernels' offset table (columns ``OFF_*``; last row ``HEAD_*``).
    decay_mask : ndarray of shape (size,)
        1 on weights (names starting with ``weight``), 0 elsewhere.
    """

    def __init__(self, spec, input_size, hidden_size, output_size, num_layers, num_directions, bias,
                 peephole, layer_norm, n_tokens=0):
        G, H, I, K = spec.n_gates, hidden_size, input_size, output_size
        L, D = num_layers, num_directions
        nb = 1 if bias else 0
        self.spec, self.hidden_size, self.num_directions, self.bias = spec, H, D, bool(bias)
        self.n_states = L * D
        self.layer_norm = bool(layer_norm)
        self.shapes = {}
        self.suffixes = []
        for k in range(L):
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                self.suffixes.append(sfx)
                self.shapes["weight_ih" + sfx] = (G * H, I if k == 0 else D * H)
                self.shapes["weight_hh" + sfx] = (G * H, H)
                self.shapes["bias_ih" + sfx] = (nb * G * H,)
                self.shapes["bias_hh" + sfx] = (nb * G * H,)
                peep, ln = spec.extra_blocks(H, peephole, layer_norm)
                for name, shape in peep + ln:
                    self.shapes[name + sfx] = shape
        self.shapes["weight_out"] = (K, D * H)
        self.shapes["bias_out"] = (nb * K,)
        if n_tokens:  # PyTorch's nn.Embedding, in front of the first layer
            self.shapes["embedding.weight"] = (n_tokens, I)
        sizes = [int(np.prod(s)) for s in self.shapes.values()]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])
        start = {name: int(self.offsets[i]) for i, name in enumerate(self.shapes)}
        self.off = np.zeros((L * D + 1, N_OFF), dtype=np.int64)
        for idx, sfx in enumerate(self.suffixes):
            row = self.off[idx]
            row[OFF_W_IH], row[OFF_W_HH] = start["weight_ih" + sfx], start["weight_hh" + sfx]
            row[OFF_B_IH], row[OFF_B_HH] = start["bias_ih" + sfx], start["bias_hh" + sfx]
            row[OFF_PEEP] = row[OFF_B_HH] + nb * G * H
            row[OFF_LN] = start.get("ln_weight" + sfx, row[OFF_PEEP] + (3 * H if peephole else 0))
            nxt = self.suffixes[idx + 1] if idx + 1 < len(self.suffixes) else None
            row[OFF_END] = start["weight_ih" + nxt] if nxt else start["weight_out"]
        head = self.off[L * D]
        head[HEAD_W], head[HEAD_B] = start["weight_out"], start["bias_out"]
        head[HEAD_END] = start.get("embedding.weight", self.size)
        self.decay_mask = np.zeros(self.size)
        for k, name in enumerate(self.shapes):
            if name.startswith("weight"):
                self.decay_mask[self.offsets[k]:self.offsets[k + 1]] = 1.0

    def state(self, h, N, dtype, name):
        """A state of ``N`` rows (PyTorch's ``(num_layers * num_directions, N, hidden_size)``), checked.

        Zeros when ``h`` is None; else ``h`` as a C-contiguous array of
        ``dtype`` (``h`` itself when it already is one).
        """
        shape = (self.n_states, N, self.hidden_size)
        if h is None:
            return np.zeros(shape, dtype=dtype)
        h = np.ascontiguousarray(h, dtype=dtype)
        if h.shape != shape:
            raise ValueError(f"{name} has shape {h.shape}, expected {shape} "
                             "(num_layers * num_directions, n_samples, hidden_size)")
        return h

    def coefs(self, theta):
        """Named views into ``theta`` (writing into them writes into ``theta``)."""
        return {name: theta[self.offsets[k]:self.offsets[k + 1]].reshape(shape)
                for k, (name, shape) in enumerate(self.shapes.items())}

    def flatten(self, coefs, dtype=np.float64):
        """A flat vector from named arrays (inverse of :meth:`coefs`)."""
        theta = np.empty(self.size, dtype=dtype)
        views = self.coefs(theta)
        for name, shape in self.shapes.items():
            value = np.asarray(coefs[name])
            if value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
            views[name][...] = value
        return theta

    def init(self, rng, dtype, forget_bias=None):
        """PyTorch's initialisation, then the cell's own (see :meth:`rnnkit.network.Network.init_params`)."""
        H, D = self.hidden_size, self.num_directions
        bound = 1.0 / np.sqrt(H)
        theta = rng.uniform(-bound, bound, self.size).astype(dtype)
        c = self.coefs(theta)
        if D > 1:
            for name in ("weight_out", "bias_out"):
                c[name][...] = (c[name] / np.sqrt(D)).astype(dtype)
        for name, view in c.items():
            if name.startswith("ln_"):
                view[...] = 1.0 if "weight" in name else 0.0
            elif name == "embedding.weight":  # nn.Embedding's N(0, 1)
                view[...] = rng.standard_normal(view.shape)
        for sfx in self.suffixes:
            p = {name[:-len(sfx)]: view for name, view in c.items() if name.endswith(sfx)}
            if self.spec.init is not None:
                self.spec.init(p, H, self.bias, self.layer_norm, forget_bias)
        return theta
