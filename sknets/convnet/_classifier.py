"""ConvNetClassifier: the classification targets, losses and outputs."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    column_or_1d,
)

from sknets.nn import (
    log_softmax,
    sigmoid_cross_entropy,
    softmax,
    softmax_cross_entropy,
)
from sknets.convnet._base import _ATTRS_DOC, _COMMON_DOC, _PARAMS_DOC, _BaseConvNet


class ConvNetClassifier(ClassifierMixin, _BaseConvNet):
    __doc__ = """Convolutional neural network classifier (numpy and Numba, no
    deep-learning library).

    The network is a stack of convolution blocks (conv -> [batch norm] -> activation
    -> [pooling]), then dense hidden layers (dense -> [batch norm] -> activation ->
    [dropout]) and a softmax output, trained on the cross-entropy with a stochastic
    optimizer. Parameters that mean the same as in
    :class:`~sklearn.neural_network.MLPClassifier` have the same names; ``fit`` also
    takes ``sample_weight`` and the estimator ``class_weight``.
""" + _COMMON_DOC + """
    Parameters
    ----------""" + _PARAMS_DOC + \
        """    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss (as in LogisticRegression);
        ``"balanced"`` uses ``n_samples / (n_classes * np.bincount(y))``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multilabel targets).""" + _ATTRS_DOC + \
        """    out_activation_ : str
        ``"softmax"``, or ``"logistic"`` for multilabel targets.

    See Also
    --------
    ConvNetRegressor : The same networks for regression.
    sklearn.neural_network.MLPClassifier : Dense network with the same training
        parameters.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
    document recognition", Proc. IEEE 86(11), 1998.

    D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization", ICLR 2015.

    S. Ioffe and C. Szegedy, "Batch normalization", ICML 2015.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknets import ConvNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ConvNetClassifier(max_iter=10, random_state=0).fit(X[:500], y[:500])
    >>> clf.image_shape_
    (1, 8, 8)
    >>> clf.predict_proba(X[500:502]).shape
    (2, 10)
    >>> bool(clf.score(X[500:700], y[500:700]) > 0.8)
    True
    """

    _parameter_constraints: dict = {
        **_BaseConvNet._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _multilabel = False

    def __init__(self, filters=(32, 64), kernel_size=3, pooling="max", pool_size=2,
                 hidden_layer_sizes=(128,), activation="relu", batch_norm=False,
                 dropout=0.5, architecture="custom", image_shape=None, solver="adam",
                 alpha=1e-4, batch_size=64, learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=30, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, callbacks=None, dtype="float32", n_jobs=None,
                 class_weight=None):
        super().__init__(
            filters=filters, kernel_size=kernel_size, pooling=pooling,
            pool_size=pool_size, hidden_layer_sizes=hidden_layer_sizes,
            activation=activation, batch_norm=batch_norm, dropout=dropout,
            architecture=architecture, image_shape=image_shape, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, callbacks=callbacks,
            dtype=dtype, n_jobs=n_jobs)
        self.class_weight = class_weight

    def _loss(self, logits, target, sample_weight):
        if self._multilabel:
            # binary cross-entropy summed over the labels, averaged over the rows (as
            # MLPClassifier's multilabel loss)
            loss, grad = sigmoid_cross_entropy(logits, target, sample_weight)
            k = logits.dtype.type(logits.shape[1])
            return loss * float(k), grad * k
        return softmax_cross_entropy(logits, target, sample_weight)

    def _validation_score(self, logits, target):
        if self._multilabel:   # subset accuracy, as ClassifierMixin.score
            return float(np.mean(np.all((logits > 0) == (target > 0.5), axis=1)))
        return float(np.mean(np.argmax(logits, axis=1) == target))

    def _stratify(self, targets):
        return None if self._multilabel else targets

    def _set_target_kind(self, y):
        kind = type_of_target(y)
        if kind == "multiclass-multioutput" or (kind == "continuous-multioutput"):
            raise ValueError("ConvNetClassifier takes one label per row or a "
                             "multilabel indicator matrix of 0/1; got several "
                             "multiclass outputs")
        self._multilabel = kind == "multilabel-indicator"
        if not self._multilabel:
            y = column_or_1d(y, warn=True)
        if self._multilabel and self.class_weight is not None:
            raise ValueError("class_weight is not supported with multilabel targets; "
                             "use sample_weight")
        return y

    def _encode(self, y):
        if self._multilabel:
            y = np.asarray(y)
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(f"y must be a multilabel indicator matrix with "
                                 f"{len(self.classes_)} columns")
            return y.astype(self._float_dtype())
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            raise ValueError(f"y contains labels {unknown.tolist()} not in classes "
                             f"{self.classes_.tolist()}")
        return idx.astype(np.intp)

    def _weights(self, X, y, sample_weight):
        """Per-sample weights of the loss (sample_weight times class_weight)."""
        if sample_weight is None and self.class_weight is None:
            return None
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if self.class_weight is not None:
            w = w * compute_sample_weight(self.class_weight, y)
        return w.astype(self._float_dtype())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to images X and labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training images, flat or channels-first.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (any type), or a multilabel indicator matrix of 0/1
            (independent sigmoid outputs, binary cross-entropy).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : ConvNetClassifier
        """
        warm = self.warm_start and hasattr(self, "network_")
        X, y = self._validate_input(X, y, reset=not warm, multi_output=True)
        check_classification_targets(y)
        if warm:
            if self._multilabel:
                self._encode(y)
            else:
                y = column_or_1d(y, warn=True)
                missing = np.setdiff1d(np.unique(y), self.classes_)
                if len(missing):
                    raise ValueError(f"warm_start: y has new classes "
                                     f"{missing.tolist()}")
            if X.ndim == 4 and tuple(X.shape[1:]) != self.image_shape_:
                raise ValueError(f"X has images of shape {X.shape[1:]}, the estimator "
                                 f"was fitted on {self.image_shape_}")
        else:
            y = self._set_target_kind(y)
            self.classes_ = (np.arange(np.shape(y)[1]) if self._multilabel
                             else np.unique(y))
            self._initialize(X, len(self.classes_))
        self.out_activation_ = "logistic" if self._multilabel else "softmax"
        return self._fit(X, self._encode(y), self._weights(X, y, sample_weight),
                         incremental=False, first=not warm)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : ConvNetClassifier
        """
        first = _check_partial_fit_first_call(self, classes)
        X, y = self._validate_input(X, y, reset=first, multi_output=True)
        check_classification_targets(y)
        if first:
            y = self._set_target_kind(y)
            self._initialize(X, len(self.classes_))
            self.out_activation_ = "logistic" if self._multilabel else "softmax"
        else:
            if X.ndim == 4 and tuple(X.shape[1:]) != self.image_shape_:
                raise ValueError(f"X has images of shape {X.shape[1:]}, the estimator "
                                 f"was fitted on {self.image_shape_}")
            if not self._multilabel:
                y = column_or_1d(y, warn=True)
        return self._fit(X, self._encode(y), self._weights(X, y, sample_weight),
                         incremental=True, first=first)

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        out = self._outputs(X)
        if self._multilabel:
            return np.exp(-np.logaddexp(0, -out))
        return softmax(out)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        out = self._outputs(X)
        if self._multilabel:
            return -np.logaddexp(0, -out)
        return log_softmax(out)

    def predict(self, X):
        """Predicted class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        outputs = self._outputs(X)
        if self._multilabel:
            return (outputs > 0).astype(int)
        return self.classes_[np.argmax(outputs, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
