"""Time rnnkit's CUDA backend against PyTorch with cuDNN on the same GPU, in one run.

Workloads (rnnkit: :meth:`rnnkit.network.Network.train_epoch` with
``device="cuda"``, float32; PyTorch: the idiomatic loop on ``cuda``, cuDNN's
fused RNN kernels, synchronised after each timed call):

* ``echo`` - one epoch of the echo tutorial (tanh RNN, 4 hidden units, 5 rows,
  666 truncated-BPTT windows of 15 steps, state carried, Adagrad lr 0.3);
* ``mnist1d`` - one epoch of the MNIST-1D-sized bidirectional GRU (hidden 6,
  4000 sequences of 40 steps of 1 feature, batch 100, 10 classes at the last
  step, Adam);
* ``lstm128`` - one training step of an LSTM-128 (batch 128, 28 steps of 28
  inputs, last-step 10 classes, Adam);
* ``lstm512`` - one training step of an LSTM-512 (batch 64, 50 steps of 32
  inputs, last-step 10 classes, Adam).

The first call of each rnnkit workload compiles the kernels (or loads them
from numba-cuda's cache); its time is printed apart. ``--smoke`` runs tiny
versions of the rnnkit side only (it works under ``NUMBA_ENABLE_CUDASIM=1``:
CI's check that the script runs).

Usage::

    python benchmarks/bench_cuda.py [--repeats 5] [--only echo,lstm128] [--smoke]
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from torch_peer import ECHO_BATCH, ECHO_CLASSES, ECHO_HIDDEN, ECHO_LR, ECHO_WINDOW, time_calls  # noqa: E402

from rnnkit.network import Network  # noqa: E402
from rnnkit.optim import Optimizer  # noqa: E402

#: workload -> (sizes, smoke sizes, target ratio PyTorch / rnnkit from the GPU issue)
WORKLOADS = {
    "echo": (dict(N=ECHO_BATCH, T=9990, I=1, H=ECHO_HIDDEN, K=ECHO_CLASSES, batch=ECHO_BATCH,
                  bptt=ECHO_WINDOW, cell="rnn", bi=False, out="sequence", solver="adagrad", lr=ECHO_LR),
             dict(N=2, T=12, bptt=4, batch=2), 5.0),
    "mnist1d": (dict(N=4000, T=40, I=1, H=6, K=10, batch=100, bptt=None, cell="gru", bi=True, out="last",
                     solver="adam", lr=1e-3),
                dict(N=6, T=5, batch=3), 5.0),
    "lstm128": (dict(N=128, T=28, I=28, H=128, K=10, batch=128, bptt=None, cell="lstm", bi=False, out="last",
                     solver="adam", lr=1e-3),
                dict(N=3, T=3, I=2, H=3), 0.5),
    "lstm512": (dict(N=64, T=50, I=32, H=512, K=10, batch=64, bptt=None, cell="lstm", bi=False, out="last",
                     solver="adam", lr=1e-3),
                dict(N=3, T=3, I=2, H=4), 0.3),
}


def problem(w, seed=0):
    """Data of a workload: ``X`` (N, T, I) float32 and class indices ``y`` ((N, T) per step, else (N,))."""
    rng = np.random.default_rng(seed)
    if w["cell"] == "rnn":  # the echo task: each bit 3 steps later
        bits = rng.integers(0, 2, size=w["N"] * w["T"] + 3)
        X = bits[3:].reshape(w["N"], w["T"], 1).astype(np.float32)
        y = bits[:-3].reshape(w["N"], w["T"])
        return X, y
    X = rng.standard_normal((w["N"], w["T"], w["I"])).astype(np.float32)
    y = rng.integers(0, w["K"], size=(w["N"], w["T"]) if w["out"] == "sequence" else w["N"])
    return X, y


def rnnkit_epoch(w, seed=0):
    """A callable running one rnnkit epoch of workload ``w`` on the GPU (the whole data set, its batches)."""
    X, y = problem(w, seed)
    net = Network(w["cell"], input_size=w["I"], hidden_size=w["H"], output_size=w["K"], output=w["out"],
                  bidirectional=w["bi"], device="cuda")
    theta = net.init_params(random_state=seed, dtype=np.float32)
    Y = net.targets(y, np.float32)
    lengths = np.full(w["N"], w["T"], dtype=np.int64)
    opt = Optimizer(w["solver"], learning_rate=w["lr"], device="cuda")
    order = np.arange(w["N"], dtype=np.int64)

    def epoch():
        loss, losses, status = net.train_epoch(theta, opt, X, lengths, Y, order=order, batch_size=w["batch"],
                                               bptt_steps=w["bptt"], carry=w["bptt"] is not None)
        assert status == 0 and np.isfinite(loss)

    return epoch


def torch_epoch(w, seed=0, device="cuda"):
    """The same epoch in PyTorch on ``device`` (cuDNN on ``cuda``), synchronised at its end."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    dev = torch.device(device)
    X, y = problem(w, seed)
    X, y = torch.from_numpy(X).to(dev), torch.from_numpy(y).long().to(dev)
    kind = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[w["cell"]]
    rnn = kind(w["I"], w["H"], batch_first=True, bidirectional=w["bi"]).to(dev)
    D = 2 if w["bi"] else 1
    head = torch.nn.Linear(D * w["H"], w["K"]).to(dev)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = (torch.optim.Adagrad(params, lr=w["lr"]) if w["solver"] == "adagrad"
           else torch.optim.Adam(params, lr=w["lr"]))
    B, bptt = w["batch"], w["bptt"]

    def epoch():
        for start in range(0, w["N"], B):
            xb, yb = X[start:start + B], y[start:start + B]
            state = None
            for t0 in range(0, w["T"], bptt or w["T"]):
                cols = slice(t0, t0 + (bptt or w["T"]))
                opt.zero_grad()
                out, state = rnn(xb[:, cols], state)
                if w["out"] == "sequence":
                    loss = F.cross_entropy(head(out).reshape(-1, w["K"]), yb[:, cols].reshape(-1))
                else:
                    h = state[0] if isinstance(state, tuple) else state
                    loss = F.cross_entropy(head(torch.cat(list(h[-D:]), dim=1)), yb)
                loss.backward()
                opt.step()
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    return epoch


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def run(names, repeats, smoke=False):
    """Rows ``(name, rnnkit first call s, rnnkit median s, torch median s or None, target)``."""
    torch = None if smoke else _torch_cuda()
    rows = []
    for name in names:
        sizes, small, target = WORKLOADS[name]
        w = dict(sizes, **small) if smoke else dict(sizes)
        fn = rnnkit_epoch(w)
        t = time.perf_counter()
        fn()
        first = time.perf_counter() - t
        ours = statistics.median(time_calls(fn, repeats, n_warmup=1))
        theirs = statistics.median(time_calls(torch_epoch(w), repeats, n_warmup=2)) if torch else None
        rows.append((name, first, ours, theirs, target))
    return rows


def format_table(rows):
    """The results as a text table (ratio = PyTorch time / rnnkit time)."""
    head = ("workload", "first call", "rnnkit", "PyTorch", "ratio", "target")
    lines = ["{:<9} {:>11} {:>11} {:>11} {:>7} {:>7}".format(*head)]
    for name, first, ours, theirs, target in rows:
        ratio = f"{theirs / ours:6.2f}x" if theirs else "     --"
        th = f"{theirs * 1e3:9.2f}ms" if theirs else "         --"
        lines.append(f"{name:<9} {first:10.2f}s {ours * 1e3:9.2f}ms {th} {ratio} {target:6.1f}x")
    return "\n".join(lines)


def main(argv=None):
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per workload (default 5)")
    parser.add_argument("--only", default=None, help="comma-separated workloads (default: all)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, rnnkit only (simulator too)")
    parser.add_argument("--rows-per-block", type=int, default=None,
                        help="rows each block of the window kernel owns (default: the backend's choice)")
    parser.add_argument("--no-fuse", action="store_true",
                        help="a launch per window even where one block holds the batch (FUSE_MAX_WORK = 0)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(WORKLOADS)
    from rnnkit.backends import get_backend
    from rnnkit.backends.cuda.device import simulator

    if simulator():  # each simulated thread is a Python thread: launch shapes as small as the tests'
        import rnnkit.backends.cuda as cb
        import rnnkit.backends.cuda.optim as co

        cb.MAX_THREADS = cb.MIN_THREADS = 4
        cb.ROWS_PER_BLOCK, cb.OPT_BLOCKS, co.THREADS = 2, 3, 8
        sys.setswitchinterval(2e-4)

    print(f"rnnkit on {get_backend('cuda').found}; float32")
    torch = None if args.smoke else _torch_cuda()
    if args.no_fuse or args.rows_per_block:
        import rnnkit.backends.cuda as cb

        cb.FUSE_MAX_WORK = 0 if args.no_fuse else cb.FUSE_MAX_WORK
        cb.ROWS_PER_BLOCK = args.rows_per_block
    peer = f"{torch.__version__}, cuDNN {torch.backends.cudnn.version()}" if torch else "not used"
    print(f"PyTorch: {peer}")
    print(format_table(run(names, 1 if args.smoke else args.repeats, args.smoke)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
