"""ConvNetClassifier, ConvNetRegressor: convolutional networks with scikit-learn's API.

What is specific to these estimators lives here: turning rows into images, the layer
stack the parameters describe (:mod:`._base`), the classification targets and losses
(:mod:`._classifier`), the regression ones (:mod:`._regressor`). Training (minibatches,
the optimizer, early stopping, schedules, divergence, verbose lines, callbacks) is the
shared loop of :mod:`sknets.nn._training`.
"""

from sknets.convnet._classifier import ConvNetClassifier
from sknets.convnet._regressor import ConvNetRegressor

__all__ = ["ConvNetClassifier", "ConvNetRegressor"]
