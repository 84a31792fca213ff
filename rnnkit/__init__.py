"""rnnkit: recurrent networks trained by numba-compiled backpropagation through time."""

from ._config import config_context, get_config, set_config
from ._gradcheck import GradcheckError, gradcheck
from .estimators import RNNClassifier, RNNRegressor, RNNTranscriber
from .network import Network
from .optim import Optimizer

__version__ = "0.1.0.dev0"

__all__ = ["GradcheckError", "Network", "Optimizer", "RNNClassifier", "RNNRegressor", "RNNTranscriber",
           "__version__",
           "config_context", "get_config", "gradcheck", "set_config"]
