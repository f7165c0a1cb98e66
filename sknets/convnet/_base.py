"""The part shared by the ConvNet estimators: rows to images, the layer stack the
parameters describe, the fit orchestration, and the docstring pieces of both."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    check_is_fitted,
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
    make_activation,
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
from sknets.utils._random import make_generator
from sknets.utils._threads import kernel_threads
from sknets.utils._validation import as_sizes


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
