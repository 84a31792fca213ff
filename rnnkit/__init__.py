"""rnnkit: recurrent networks trained by numba-compiled backpropagation through time."""

from .estimators import RNNClassifier, RNNRegressor
from .network import Network
from .optim import Optimizer

__version__ = "0.1.0.dev0"

__all__ = ["Network", "Optimizer", "RNNClassifier", "RNNRegressor", "__version__"]
