"""scikit-learn estimators: :class:`RNNClassifier` and :class:`RNNRegressor`."""

from ._base import BaseRNN
from ._classes import RNNClassifier, RNNRegressor

__all__ = ["BaseRNN", "RNNClassifier", "RNNRegressor"]
