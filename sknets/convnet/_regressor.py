"""ConvNetRegressor: the regression targets, loss and score."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils.validation import (
    _check_sample_weight,
)

from sknets.nn.losses import squared_error
from sknets.convnet._base import _ATTRS_DOC, _COMMON_DOC, _PARAMS_DOC, _BaseConvNet


class ConvNetRegressor(RegressorMixin, _BaseConvNet):
    __doc__ = """Convolutional neural network regressor (numpy and Numba, no
    deep-learning library).

    The network of :class:`ConvNetClassifier` with a linear output of one unit per
    target, trained on half the mean squared error (as
    :class:`~sklearn.neural_network.MLPRegressor`). Targets are standardised
    internally (mean and scale of the first fit) and predictions mapped back.
""" + _COMMON_DOC + """
    Parameters
    ----------""" + _PARAMS_DOC + """
    Attributes
    ----------""" + _ATTRS_DOC + \
        """    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        The standardisation of the targets.
    out_activation_ : str
        ``"identity"``.

    See Also
    --------
    ConvNetClassifier : The same networks for classification.
    sklearn.neural_network.MLPRegressor : Dense network with the same training
        parameters.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
    document recognition", Proc. IEEE 86(11), 1998.

    D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization", ICLR 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sknets import ConvNetRegressor
    >>> X, y = load_digits(return_X_y=True)
    >>> target = X.reshape(-1, 8, 8)[:, :, :4].mean(axis=(1, 2))  # left-half brightness
    >>> reg = ConvNetRegressor(max_iter=10, random_state=0).fit(X[:500], target[:500])
    >>> reg.predict(X[500:503]).shape
    (3,)
    >>> bool(reg.score(X[500:700], target[500:700]) > 0.5)
    True
    """

    @staticmethod
    def _loss(output, target, sample_weight):
        return squared_error(output, target, sample_weight)

    @staticmethod
    def _validation_score(output, target):
        resid = ((output - target) ** 2).sum()
        total = ((target - target.mean(axis=0)) ** 2).sum()
        return float(1 - resid / total) if total > 0 else float(-resid)

    def _targets(self, y, first):
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self._y_ndim = y.ndim
            self.target_mean_ = y2.mean(axis=0)
            scale = y2.std(axis=0)
            self.target_scale_ = np.where(scale > 0, scale, 1.0)
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} targets, the estimator was fitted "
                             f"on {self.n_outputs_}")
        return ((y2 - self.target_mean_) / self.target_scale_).astype(
            self._float_dtype())

    def _fit_regressor(self, X, y, sample_weight, incremental):
        warm = hasattr(self, "network_") and (incremental or self.warm_start)
        X, y = self._validate_input(X, y, reset=not warm, y_numeric=True,
                                    multi_output=True)
        if not warm:
            n_outputs = 1 if np.ndim(y) == 1 else np.shape(y)[1]
            targets = self._targets(y, first=True)
            self._initialize(X, n_outputs)
            self.out_activation_ = "identity"
        else:
            targets = self._targets(y, first=False)
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X).astype(self._float_dtype())
        return self._fit(X, targets, sw, incremental=incremental, first=not warm)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to images X and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training images, flat or channels-first.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : ConvNetRegressor
        """
        return self._fit_regressor(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : ConvNetRegressor
        """
        return self._fit_regressor(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        out = self._outputs(X) * self.target_scale_ + self.target_mean_
        return out[:, 0] if self._y_ndim == 1 else out

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of the prediction (as
        :func:`sklearn.metrics.r2_score`, uniform average over the targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
