"""ConvNetClassifier, ConvNetRegressor: convolutional networks with scikit-learn's API.

What is specific to these estimators lives here: turning rows into images, the
layer stack the parameters describe, the classification / regression targets and
losses. Training (minibatches, the optimizer, early stopping, schedules, divergence,
verbose lines, callbacks) is the shared loop of :mod:`sknets.nn._training`.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from sknets.nn import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    Sequential,
    log_softmax,
    make_activation,
    sigmoid_cross_entropy,
    softmax,
    softmax_cross_entropy,
)
from sknets.nn._estimator import (
    TRAINING_PARAMETERS,
    NetworkTrainingMixin,
    SupervisedModel,
    forward_in_chunks,
    MOMENTUM_PARAMS_DOC,
    STOPPING_PARAMS_DOC,
    image_shape_of_4d,
    image_shape_of_rows,
)
from sknets.nn._training import validation_split
from sknets.nn.architectures import small_resnet
from sknets.nn.losses import squared_error
from sknets.utils._random import make_generator
from sknets.utils._threads import kernel_threads
from sknets.utils._validation import as_sizes

__all__ = ["ConvNetClassifier", "ConvNetRegressor"]

# LeNet-5 (LeCun et al., 1998) with its 32x32 input obtained by padding 28x28 by 2:
# (filters, kernel size, padding) of the two conv stages, then dense 120 and 84.
_LENET5_CONVS = ((6, 5, 2), (16, 5, 0))
_LENET5_HIDDEN = (120, 84)

_COMMON_DOC = """
    Input rows are reshaped to images: ``image_shape`` if given; otherwise square
    single-channel images when ``n_features`` is a perfect square (64 features ->
    1x8x8). Other tabular rows are refused (a convolution over unrelated columns
    means nothing): give ``image_shape``, or ``filters=()`` for a dense network. 4-D
    input must be channels-first (n_samples, channels, height, width); an array
    that looks channels-last is refused. Inputs are standardised internally with one
    mean and one scale (computed on the first fit) so the image structure is
    unchanged.
"""

_PARAMS_DOC = """
    filters : int or tuple of int, default=(32, 64)
        Output channels of each convolution block; ``()`` for a dense network (no
        convolution: the rows are used as they are).
    kernel_size : int or tuple of int, default=3
        Kernel side of each convolution (one value for all, or one per block). The
        convolutions use "same" zero padding and stride 1.
    pooling : {"max", "avg", None}, default="max"
        Pooling after each convolution block; skipped where the feature map is smaller
        than ``pool_size``.
    pool_size : int, default=2
        Side and stride of the pooling windows.
    hidden_layer_sizes : int or tuple of int, default=(128,)
        Sizes of the dense hidden layers after the convolutions; ``()`` for none.
    activation : {"relu", "leaky_relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers (leaky relu has slope 0.01).
    batch_norm : bool, default=False
        Batch normalization after every convolution (per channel) and hidden dense
        layer.
    dropout : float, default=0.5
        Dropout rate after each dense hidden layer (0 disables it).
    architecture : {"custom", "lenet5", "resnet"}, default="custom"
        ``"lenet5"``: LeNet-5's layout (conv 6@5x5 padding 2, pool, conv 16@5x5, pool,
        dense 120, dense 84), replacing ``filters``, ``kernel_size`` and
        ``hidden_layer_sizes``; needs images of at least 12x12. ``"resnet"``: a small
        ResNet (:func:`sknets.nn.architectures.small_resnet`: a 3x3 conv stem with
        batch norm, residual stages of 16, 32 and 64 channels, the last two halving
        the map, global average pooling, a dense output), replacing the layer
        parameters (``activation``, ``batch_norm``, ``dropout`` included); needs
        images of at least 4x4.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the flat input rows.
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"}, \
default="adam"
        Optimizer; ``"sgd"`` uses ``momentum`` and ``nesterovs_momentum`` as
        MLPClassifier's does.
    alpha : float, default=1e-4
        Strength of the L2 penalty on the weights (not on biases), divided by the batch
        size as in MLPClassifier.
    batch_size : int or "auto", default=64
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule, for every solver: ``"invscaling"`` divides
        ``learning_rate_init`` by ``(t + 1) ** power_t`` (t samples seen),
        ``"adaptive"`` divides the step by 5 each time the stopping rule fires.
    learning_rate_init : float, default=1e-3
        Initial step size.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=30
        Maximum number of epochs (passes over the training data).
    shuffle : bool, default=True
        Shuffle the samples at each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation split.
    tol : float, default=1e-4
        Improvement of the training loss (or validation score with early stopping)
        below which an epoch counts as no improvement.
    verbose : bool, default=False
        Print the loss, validation loss and score and time of every epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights.
""" + MOMENTUM_PARAMS_DOC + """\
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its score has
        not improved by ``tol`` for ``n_iter_no_change`` epochs and keep the best
        weights.
""" + STOPPING_PARAMS_DOC + """\
    callbacks : callable or list of callables, default=None
        Called after every epoch as ``callback(estimator, record)``, ``record`` a dict
        (``epoch``, ``loss``, ``validation_loss``, ``validation_score``,
        ``learning_rate``, ``time``; also kept in ``history_``). A callback that
        returns True stops training (custom stopping); one that pickles the
        estimator checkpoints it.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of the computations.
    n_jobs : int, default=None
        Threads of the Numba kernels (None: the process limit, see
        ``sknets.utils._threads``).
"""

_ATTRS_DOC = """
    network_ : sknets.nn.Sequential
        The fitted network.
    image_shape_ : tuple of int
        ``(channels, height, width)`` of the inputs.
    input_mean_, input_scale_ : float
        The standardisation applied to the inputs.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss (data term plus L2 term) of each epoch.
    best_loss_ : float or None
        Minimum of ``loss_curve_`` (None with early stopping).
    validation_scores_ : list of float or None
        Validation score of each epoch (early stopping only).
    best_validation_score_ : float or None
        Best validation score (early stopping only).
    history_ : list of dict
        One record per epoch (see ``callbacks``).
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen (``n_samples * n_iter_``).
    n_layers_ : int
        Number of layers in ``network_``.
    n_outputs_ : int
        Number of output units.
    n_features_in_ : int
        Number of features seen during fit (channels for 4-D input).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
"""


class _BaseConvNet(NetworkTrainingMixin, BaseEstimator):
    """Images, the layer stack and the fit orchestration of the ConvNet estimators."""

    _caches = ("_net64",)   # the float64 inference copy: rebuilt on use, not pickled

    _parameter_constraints: dict = {
        "filters": ["array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": ["array-like", Interval(Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"max", "avg"}), None],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like",
                               Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"relu", "leaky_relu", "tanh", "logistic",
                                   "identity"})],
        "batch_norm": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "architecture": [StrOptions({"custom", "lenet5", "resnet"})],
        "image_shape": ["array-like", None],
        "dtype": [StrOptions({"float32", "float64"})],
        **TRAINING_PARAMETERS,
    }

    _divergence_remedy = ("lower learning_rate_init (e.g. divide it by 10), "
                          "standardise the inputs, or set batch_norm=True")

    def __init__(
        self,
        filters=(32, 64),
        kernel_size=3,
        pooling="max",
        pool_size=2,
        hidden_layer_sizes=(128,),
        activation="relu",
        batch_norm=False,
        dropout=0.5,
        architecture="custom",
        image_shape=None,
        solver="adam",
        alpha=1e-4,
        batch_size=64,
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=30,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        callbacks=None,
        dtype="float32",
        n_jobs=None,
    ):
        self.filters = filters
        self.kernel_size = kernel_size
        self.pooling = pooling
        self.pool_size = pool_size
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.architecture = architecture
        self.image_shape = image_shape
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.dtype = dtype
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ input handling

    def _dense_only(self):
        return (self.architecture == "custom"
                and len(as_sizes(self.filters, "filters")) == 0)

    def _validate_input(self, X, y="no_validation", reset=True, **kwargs):
        dtype = self._float_dtype()
        dtypes = [dtype, np.float64, np.float32]
        if isinstance(y, str) and y == "no_validation":
            X = validate_data(self, X, reset=reset, dtype=dtypes, allow_nd=True)
            y = None
        else:
            X, y = validate_data(self, X, y, reset=reset, allow_nd=True, dtype=dtypes,
                                 **kwargs)
        if X.ndim not in (2, 4):
            raise ValueError(f"X must be 2-D (n_samples, n_features) or 4-D "
                             f"(n_samples, channels, height, width); got {X.ndim}-D")
        return X, y

    def _infer_image_shape(self, X):
        if X.ndim == 4:
            return image_shape_of_4d(X, self.image_shape)
        if self._dense_only():
            return (X.shape[1],)
        return image_shape_of_rows(X.shape[1], self.image_shape,
                                   "filters=() for a dense network on tabular data")

    def _to_images(self, X):
        dtype = self.network_.dtype
        if X.ndim == 4:
            if tuple(X.shape[1:]) != self.image_shape_:
                raise ValueError(f"X has images of shape {X.shape[1:]}, the estimator "
                                 f"was fitted on {self.image_shape_}")
            images = X
        else:
            images = X.reshape((X.shape[0],) + self.image_shape_)
        images = (images - self.input_mean_) * (1.0 / self.input_scale_)
        return np.ascontiguousarray(images, dtype=dtype)

    # ------------------------------------------------------------------ the network

    def _conv_stack(self, image_shape):
        """Layers of the convolutional part, the spatial size after it."""
        if len(image_shape) == 1:
            return [], None
        c, h, w = image_shape
        if self.architecture == "lenet5":
            if min(h, w) < 12:
                raise ValueError(f"architecture='lenet5' needs images of at least "
                                 f"12x12, got {h}x{w}; use architecture='custom'")
            convs = _LENET5_CONVS
        else:
            filters = as_sizes(self.filters, "filters", allow_empty=False)
            kernels = as_sizes(self.kernel_size, "kernel_size", allow_empty=False)
            if len(kernels) == 1:
                kernels = kernels * len(filters)
            if len(kernels) != len(filters):
                raise ValueError(f"kernel_size has {len(kernels)} values for "
                                 f"{len(filters)} filters")
            convs = tuple((f, k, "same") for f, k in zip(filters, kernels))
        layers = []
        he = self.activation in ("relu", "leaky_relu")
        # relu is fused into the convolution unless batch norm comes in between
        fuse = self.activation == "relu" and not self.batch_norm
        for f, k, pad in convs:
            p = (k - 1) // 2 if pad == "same" else pad
            if h + 2 * p - k + 1 < 1 or w + 2 * p - k + 1 < 1:
                raise ValueError(f"kernel_size {k} does not fit the {h}x{w} "
                                 f"feature map")
            h, w = h + 2 * p - k + 1, w + 2 * p - k + 1
            layers.append(Conv2D(f, k, padding=pad, init="he" if he else "glorot",
                                 activation="relu" if fuse else None))
            if self.batch_norm:
                layers.append(BatchNorm())
            if not fuse:
                layers.append(make_activation(self.activation))
            if self.pooling is not None and min(h, w) >= self.pool_size > 1:
                pool = MaxPool2D if self.pooling == "max" else AvgPool2D
                layers.append(pool(self.pool_size))
                h, w = h // self.pool_size, w // self.pool_size
        layers[0].input_grad = False   # nobody needs dLoss/dX of the first layer
        layers.append(Flatten())
        return layers, (h, w)

    def _build_network(self, image_shape, n_outputs, rng):
        if self.architecture == "resnet":
            if len(image_shape) != 3:
                raise ValueError("architecture='resnet' needs images; set image_shape")
            layers = small_resnet(image_shape, n_outputs)
            layers[0].input_grad = False
            return Sequential(layers).build(image_shape, rng=rng,
                                            dtype=self._float_dtype())
        layers, _ = self._conv_stack(image_shape)
        hidden = (_LENET5_HIDDEN if self.architecture == "lenet5" else
                  as_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"))
        init = "he" if self.activation in ("relu", "leaky_relu") else "glorot"
        for units in hidden:
            layers.append(Dense(units, init=init))
            if self.batch_norm:
                layers.append(BatchNorm())
            layers.append(make_activation(self.activation))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(n_outputs))
        return Sequential(layers).build(image_shape, rng=rng, dtype=self._float_dtype())

    def _initialize(self, X, n_outputs):
        self.image_shape_ = self._infer_image_shape(X)
        self._rng = make_generator(self.random_state)
        # mean and scale computed on X / max|X|: X's squares may overflow (1e300)
        peak = float(np.max(np.abs(X))) if X.size else 0.0
        unit = peak if 0 < peak < np.inf else 1.0
        scale = float(np.std(X / unit)) * unit
        self.input_mean_ = float(np.mean(X / unit)) * unit
        self.input_scale_ = scale if scale > 0 and np.isfinite(scale) else 1.0
        self.network_ = self._build_network(self.image_shape_, n_outputs, self._rng)
        self._optimizer = self._make_optimizer([self.network_])
        self.n_layers_ = len(self.network_.layers)
        self.n_outputs_ = n_outputs
        self._new_history(self.early_stopping)

    def _fit(self, X, targets, sample_weight, incremental, first):
        self.__dict__.pop("_net64", None)
        images = self._to_images(X)
        validation = None
        if self.early_stopping and not incremental:
            tr, va = validation_split(images.shape[0], self.validation_fraction,
                                      self._rng, self._stratify(targets))
            validation = (images[va], targets[va], self._validation_score)
            images, targets = images[tr], targets[tr]
            if sample_weight is not None:
                sample_weight = sample_weight[tr]
        model = SupervisedModel(self.network_, self._optimizer, images, targets,
                                self._loss, alpha=self.alpha,
                                sample_weight=sample_weight, validation=validation)
        self._run_training(model, incremental=incremental,
                           forget=self._forget if first else None)
        if hasattr(self, "network_"):
            self._net64 = self.network_.astype(np.float64)
        return self

    def _stratify(self, targets):
        return None

    # ------------------------------------------------------------------ prediction

    def _inference_network(self):
        # predictions run in float64 from the trained weights: a row's prediction then
        # does not depend on the other rows of the batch (float32 BLAS rounding does);
        # the copy is made once per fitted state and not pickled
        net = self.__dict__.get("_net64")
        if net is None:
            net = self._net64 = self.network_.astype(np.float64)
        return net

    def _outputs(self, X):
        check_is_fitted(self, "network_")
        X, _ = self._validate_input(X, reset=False)
        images = self._to_images(X).astype(np.float64)
        with kernel_threads(self.n_jobs, blas_threads=self._blas_threads):
            return forward_in_chunks(self._inference_network(), images)


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
