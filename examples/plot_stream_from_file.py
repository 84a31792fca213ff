"""
==================================================
Training on a stream read chunk by chunk from disk
==================================================

A sensor feed or a log too large for memory is read a chunk at a time. With
``stateful=True``, :meth:`rnnkit.RNNClassifier.partial_fit` continues every
row's stream from the state the previous call left (as Keras' stateful
layers do, until :meth:`~rnnkit.RNNClassifier.reset_state`), so training on
the chunks one after the other is training on the whole stream: with chunks
that are whole numbers of ``bptt_steps`` windows, it gives the same weights
as one call on the stream held in memory, bit for bit.

Here the stream is the echo task of tutorial T1 (each bit repeated three
steps later) on 4 rows of 4.8 million steps, stored on disk as a
memory-mapped file of 92 MB and read in chunks of 24 000 steps. A separate process does
the training and reports its peak memory: it stays at what the libraries
need plus one chunk, whatever the length of the file.
"""

# %%
# The file
# --------
# Inputs (float32) and targets (int8) are written time-major, one row of 4
# values per step, so that a chunk of steps is one contiguous block of the
# file. The generator writes it a block at a time too.
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import matplotlib.pyplot as plt
import numpy as np

from rnnkit.plotting import plot_loss_curve

N_ROWS, N_STEPS, CHUNK, ECHO_STEP = 4, 4_800_000, 24_000, 3  # chunks of 1 600 windows of 15 steps
workdir = tempfile.TemporaryDirectory()
x_path, y_path = (os.path.join(workdir.name, name) for name in ("x.f32", "y.i8"))
x_file = np.memmap(x_path, dtype=np.float32, mode="w+", shape=(N_STEPS, N_ROWS))
y_file = np.memmap(y_path, dtype=np.int8, mode="w+", shape=(N_STEPS, N_ROWS))
rng = np.random.default_rng(0)
tail = np.zeros((ECHO_STEP, N_ROWS), dtype=np.int8)  # the last bits of the previous block
BLOCK = 800_000
for lo in range(0, N_STEPS, BLOCK):
    bits = rng.integers(0, 2, size=(BLOCK, N_ROWS), dtype=np.int8)
    x_file[lo:lo + BLOCK] = bits
    y_file[lo:lo + BLOCK] = np.concatenate([tail, bits[:-ECHO_STEP]])
    tail = bits[-ECHO_STEP:]
x_file.flush()
y_file.flush()
del x_file, y_file
size_mb = (os.path.getsize(x_path) + os.path.getsize(y_path)) / 2**20
print(f"stream on disk: {N_ROWS} rows x {N_STEPS:,} steps, {size_mb:.0f} MB; "
      f"chunks of {CHUNK:,} steps ({N_STEPS // CHUNK} chunks, {CHUNK * N_ROWS * 5 / 2**10:.0f} kB each)")

# %%
# Training in a separate process
# ------------------------------
# The training script maps only the chunk it reads (``np.memmap`` with an
# offset), copies it into the estimator's input and lets the mapping go, so
# no page of the file stays in the process. Its peak resident memory
# (``ru_maxrss``) is read once after a first small call (libraries imported,
# kernels loaded from numba's cache or compiled) and once after the whole
# stream.
TRAIN = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from rnnkit import RNNClassifier
    from rnnkit.datasets import make_echo

    x_path, y_path = sys.argv[1:3]
    N_ROWS, N_STEPS, CHUNK = (int(v) for v in sys.argv[3:6])

    def chunk(path, dtype, lo, hi):
        block = np.memmap(path, dtype=dtype, mode="r", offset=lo * N_ROWS * np.dtype(dtype).itemsize,
                          shape=(hi - lo, N_ROWS))
        return np.array(block.T)  # (rows, steps), a copy: the mapping is released with `block`

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    clf = RNNClassifier(cell="rnn", hidden_size=4, output="sequence", solver="adagrad",
                        learning_rate_init=0.3, alpha=0.0, batch_size=N_ROWS, bptt_steps=15,
                        stateful=True, random_state=0)
    X0, y0 = make_echo(n_bits=300, n_rows=N_ROWS, random_state=1)
    clf.partial_fit(X0, y0, classes=[0, 1]).reset_state()  # imports, kernels
    before = peak_mb()
    start = time.perf_counter()
    chunk_losses = []
    for lo in range(0, N_STEPS, CHUNK):
        hi = min(lo + CHUNK, N_STEPS)
        clf.partial_fit(chunk(x_path, np.float32, lo, hi), chunk(y_path, np.int8, lo, hi))
        chunk_losses.append(clf.loss_)
    seconds = time.perf_counter() - start
    X_test, y_test = make_echo(n_bits=20_000, n_rows=N_ROWS, random_state=123)
    accuracy = float((clf.predict(X_test)[:, 3:] == y_test[:, 3:]).mean())
    print(json.dumps(dict(before=before, after=peak_mb(), seconds=seconds, losses=chunk_losses,
                          accuracy=accuracy)))
""")
args = [x_path, y_path, str(N_ROWS), str(N_STEPS), str(CHUNK)]
run = subprocess.run([sys.executable, "-c", TRAIN, *args], capture_output=True, text=True, check=True)
result = json.loads(run.stdout.strip().splitlines()[-1])
print(f"trained on {N_STEPS // CHUNK} chunks in {result['seconds']:.1f} s")
print(f"peak memory of the training process: {result['before']:.0f} MB after the first call, "
      f"{result['after']:.0f} MB after the whole stream (+{result['after'] - result['before']:.0f} MB; "
      f"the file is {size_mb:.0f} MB)")
print(f"per-step accuracy on a fresh stream: {result['accuracy']:.4f}")
workdir.cleanup()

# %%
# The loss of each chunk falls to near zero within the first chunks: the
# carried state lets every window see the bits echoed from the window before.
ax = plot_loss_curve(result["losses"], xlabel="chunk", ylabel="mean loss of the chunk")
ax.set_yscale("log")
ax.set_title(f"echo stream read from disk, {CHUNK:,} steps per call")
plt.show()
