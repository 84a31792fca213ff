"""scikit-learn estimators: :class:`RNNClassifier`, :class:`RNNRegressor` and :class:`RNNTranscriber`."""

from ._base import BaseRNN
from ._classes import RNNClassifier, RNNRegressor
from ._transcriber import RNNTranscriber

__all__ = ["BaseRNN", "RNNClassifier", "RNNRegressor", "RNNTranscriber"]
