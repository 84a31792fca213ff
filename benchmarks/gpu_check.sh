#!/usr/bin/env bash
# The real-GPU check of the CUDA backend, as one script for a lent GPU machine with no network
# (numba, numba-cuda, PyTorch and scikit-learn preinstalled): install rnnkit, benchmark it against
# PyTorch/cuDNN (benchmarks/bench_cuda.py), then run the GPU-marked subset of tests/cuda without the
# simulator. Pure-Python test tools missing there are installed from ./.device-wheels when present.
# Results go to $OUT (default ./gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
start=$(date +%s)
stamp() { echo "=== $1 ($(( $(date +%s) - start ))s)"; }

stamp install
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}  # also when the editable install cannot build here
pip install -q --no-deps --no-build-isolation -e . > "$OUT/install.log" 2>&1 || echo "pip install failed: PYTHONPATH"
for p in tqdm hypothesis pytest; do
    python -c "import $p" 2>/dev/null || pip install -q --no-index --find-links .device-wheels "$p" 2>&1 | tail -1
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python -c "import sys; from importlib.metadata import version as v
print(sys.version.split()[0], *(f'{p} {v(p)}' for p in ('numba', 'numba-cuda', 'numpy', 'torch')))"

stamp "CPU references for the tests, compiled in the background"
for c in rnn lstm gru; do
    for d in float64 float32; do
        python -m rnnkit.compile --cell "$c" --dtype "$d" --quiet > "$OUT/compile-$c-$d.log" 2>&1 &
    done
done

stamp "bench_cuda.py (float32)"
timeout 240 python benchmarks/bench_cuda.py --repeats 5 2>&1 | tee "$OUT/bench.txt"
stamp "bench_cuda.py --no-fuse (a launch per window)"
timeout 90 python benchmarks/bench_cuda.py --repeats 3 --only echo,mnist1d --no-fuse 2>&1 | tee "$OUT/bench-nofuse.txt"

for rows in 2 4; do
    stamp "bench_cuda.py --rows-per-block $rows (LSTM steps)"
    timeout 60 python benchmarks/bench_cuda.py --repeats 3 --only lstm128,lstm512 --rows-per-block $rows 2>&1 \
        | tee "$OUT/bench-rows$rows.txt"
done

stamp "waiting for the CPU compilations"
wait
stamp "tests/cuda -m gpu (no simulator)"
timeout 230 python -m pytest tests/cuda -m gpu -p no:cacheprovider -q -o addopts="" --tb=line -rf 2>&1 \
    | tee "$OUT/tests.txt" | tail -45
stamp done
