"""``device=`` on a machine without a usable GPU (the CUDA backend's own tests are in ``tests/cuda``)."""

import numpy as np
import pytest

from rnnkit import RNNClassifier
from rnnkit.backends import get_backend
from rnnkit.backends.cuda.device import cuda_status, gpu_available
from rnnkit.network import Network

pytestmark = pytest.mark.skipif(cuda_status()[0], reason="a GPU or the CUDA simulator is usable here")


def test_cuda_without_a_gpu_says_what_was_found_and_what_to_do():
    X, y = np.zeros((4, 3, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(RuntimeError) as info:
        RNNClassifier(device="cuda", max_iter=1).fit(X, y)
    message = str(info.value)
    assert cuda_status()[1] in message
    assert 'pip install "rnnkit[cuda]"' in message and "driver" in message and 'device="cpu"' in message


def test_auto_runs_on_the_cpu_without_a_gpu():
    assert not gpu_available()
    assert get_backend("auto").name == "cpu"
    assert Network("rnn", 2, 3, 2, device="auto").backend.name == "cpu"


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="device='tpu' is not available"):
        get_backend("tpu")
