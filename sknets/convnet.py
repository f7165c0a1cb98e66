"""ConvNetClassifier: a convolutional network with scikit-learn's classifier API."""

import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)
from sklearn.utils.validation import check_is_fitted, validate_data

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
    make_optimizer,
    softmax,
    softmax_cross_entropy,
)
from sknets.utils._random import make_generator
from sknets.utils._threads import numba_threads

__all__ = ["ConvNetClassifier"]

_REMEDY = ("lower learning_rate_init (e.g. divide it by 10), standardise the inputs, "
           "or set batch_norm=True")

# LeNet-5 (LeCun et al., 1998) with its 32x32 input obtained by padding 28x28 by 2:
# (filters, kernel size, padding) of the two conv stages, then dense 120 and 84.
_LENET5_CONVS = ((6, 5, 2), (16, 5, 0))
_LENET5_HIDDEN = (120, 84)


def _as_tuple(value, name, allow_empty=False):
    if isinstance(value, Integral):
        return (int(value),)
    try:
        out = tuple(int(v) for v in np.ravel(value))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a sequence of ints, got {value!r}")
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if any(v < 1 for v in out):
        raise ValueError(f"{name} must contain positive ints, got {value!r}")
    return out


class ConvNetClassifier(ClassifierMixin, BaseEstimator):
    """Convolutional neural network classifier (numpy and Numba, no deep-learning library).

    The network is a stack of convolution blocks (conv -> [batch norm] -> activation
    -> [pooling]), then dense hidden layers (dense -> [batch norm] -> activation ->
    [dropout]) and a softmax output, trained on the cross-entropy with a stochastic
    optimizer. Parameters that mean the same as in
    :class:`~sklearn.neural_network.MLPClassifier` have the same names.

    Input rows are reshaped to images: ``image_shape`` if given; otherwise square
    single-channel images when ``n_features`` is a perfect square (64 features -> 1x8x8),
    else ``1 x n_features`` rows (a 1-D convolution). 4-D input (n_samples, channels,
    height, width) is accepted as is. Inputs are standardised internally with one mean
    and one scale (computed on the first fit) so the image structure is unchanged.

    Parameters
    ----------
    filters : int or tuple of int, default=(32, 64)
        Output channels of each convolution block.
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
        Batch normalization after every convolution and hidden dense layer.
    dropout : float, default=0.5
        Dropout rate after each dense hidden layer (0 disables it).
    architecture : {"custom", "lenet5"}, default="custom"
        ``"lenet5"``: LeNet-5's layout (conv 6@5x5 padding 2, pool, conv 16@5x5, pool,
        dense 120, dense 84), replacing ``filters``, ``kernel_size`` and
        ``hidden_layer_sizes``; needs images of at least 12x12.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the flat input rows.
    solver : {"adam", "sgd", "rmsprop", "adagrad"}, default="adam"
        Optimizer; ``"sgd"`` uses ``momentum`` and ``nesterovs_momentum``.
    alpha : float, default=1e-4
        Strength of the L2 penalty on the weights (not on biases), divided by the batch
        size as in MLPClassifier.
    batch_size : int or "auto", default=64
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule for ``solver="sgd"`` (as in MLPClassifier).
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
        Print the loss, validation score and time of every epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights.
    momentum : float, default=0.9
        Momentum of "sgd".
    nesterovs_momentum : bool, default=True
        Nesterov momentum for "sgd".
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), stop when
        its accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs and
        keep the best weights.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
        Adam / RMSprop / Adagrad numerical stability constant.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of the computations.
    n_jobs : int, default=None
        Threads of the Numba kernels (None: the process limit, see
        ``sknets.utils._threads``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    network_ : sknets.nn.Sequential
        The fitted network.
    image_shape_ : tuple of int
        ``(channels, height, width)`` of the inputs.
    input_mean_, input_scale_ : float
        The standardisation applied to the inputs.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss (cross-entropy plus L2 term) of each epoch.
    best_loss_ : float or None
        Minimum of ``loss_curve_`` (None with early stopping).
    validation_scores_ : list of float or None
        Validation accuracy of each epoch (early stopping only).
    best_validation_score_ : float or None
        Best validation accuracy (early stopping only).
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen (``n_samples * n_iter_``).
    n_layers_ : int
        Number of layers in ``network_``.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        ``"softmax"``.
    n_features_in_ : int
        Number of features seen during fit (channels for 4-D input).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : Dense network with the same training
        parameters.
    sknets.nn : The layer library this estimator is built on.

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
        "filters": ["array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": ["array-like", Interval(Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"max", "avg"}), None],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"relu", "leaky_relu", "tanh", "logistic",
                                   "identity"})],
        "batch_norm": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "architecture": [StrOptions({"custom", "lenet5"})],
        "image_shape": ["array-like", None],
        "solver": [StrOptions({"adam", "sgd", "rmsprop", "adagrad"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"})],
        "n_jobs": [Integral, None],
    }

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
        self.dtype = dtype
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ input handling

    def _validate_input(self, X, y=None, reset=True):
        dtype = np.float32 if self.dtype == "float32" else np.float64
        if y is None:
            X = validate_data(self, X, reset=reset, dtype=[dtype, np.float64, np.float32],
                              allow_nd=True)
        else:
            X, y = validate_data(self, X, y, reset=reset, allow_nd=True,
                                 dtype=[dtype, np.float64, np.float32])
        if X.ndim not in (2, 4):
            raise ValueError(f"X must be 2-D (n_samples, n_features) or 4-D "
                             f"(n_samples, channels, height, width); got {X.ndim}-D")
        return X, y

    def _infer_image_shape(self, X):
        if X.ndim == 4:
            shape = tuple(int(s) for s in X.shape[1:])
            if self.image_shape is not None and tuple(self.image_shape) not in (
                    shape, shape[1:]):
                raise ValueError(f"image_shape={self.image_shape} does not match the "
                                 f"4-D input of shape {X.shape}")
            return shape
        n_features = X.shape[1]
        if self.image_shape is not None:
            shape = _as_tuple(self.image_shape, "image_shape")
            if len(shape) == 2:
                shape = (1,) + shape
            if len(shape) != 3 or int(np.prod(shape)) != n_features:
                raise ValueError(f"image_shape={self.image_shape} does not match "
                                 f"n_features={n_features}")
            return shape
        side = int(round(np.sqrt(n_features)))
        if side * side == n_features:
            return (1, side, side)
        return (1, 1, n_features)

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

    def _build_network(self, image_shape, n_classes, rng):
        c, h, w = image_shape
        if self.architecture == "lenet5":
            if min(h, w) < 12:
                raise ValueError(f"architecture='lenet5' needs images of at least 12x12, "
                                 f"got {h}x{w}; use architecture='custom'")
            convs = _LENET5_CONVS
            hidden = _LENET5_HIDDEN
        else:
            filters = _as_tuple(self.filters, "filters")
            kernels = _as_tuple(self.kernel_size, "kernel_size")
            if len(kernels) == 1:
                kernels = kernels * len(filters)
            if len(kernels) != len(filters):
                raise ValueError(f"kernel_size has {len(kernels)} values for "
                                 f"{len(filters)} filters")
            convs = tuple((f, k, "same") for f, k in zip(filters, kernels))
            hidden = _as_tuple(self.hidden_layer_sizes, "hidden_layer_sizes",
                               allow_empty=True)
        layers = []
        he = self.activation in ("relu", "leaky_relu")
        # relu is fused into the convolution unless batch norm comes in between
        fuse = self.activation == "relu" and not self.batch_norm
        for f, k, pad in convs:
            p = (k - 1) // 2 if pad == "same" else pad
            if h + 2 * p - k + 1 < 1 or w + 2 * p - k + 1 < 1:
                raise ValueError(f"kernel_size {k} does not fit the {h}x{w} feature map")
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
        layers[0].input_grad = False   # nobody needs dLoss/dX of a classifier
        layers.append(Flatten())
        for units in hidden:
            layers.append(Dense(units, init="he" if self.activation in
                                ("relu", "leaky_relu") else "glorot"))
            if self.batch_norm:
                layers.append(BatchNorm())
            layers.append(make_activation(self.activation))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(n_classes))
        dtype = np.float32 if self.dtype == "float32" else np.float64
        return Sequential(layers).build(image_shape, rng=rng, dtype=dtype)

    def _make_optimizer(self):
        params = self.network_.flat_parameters()
        common = dict(learning_rate=self.learning_rate_init, weight_decay=0.0,
                      decay_mask=self.network_.flat_decay_mask())
        if self.solver == "adam":
            return make_optimizer("adam", params, beta_1=self.beta_1, beta_2=self.beta_2,
                                  epsilon=self.epsilon, **common)
        if self.solver == "sgd":
            if self.momentum == 0:
                return make_optimizer("sgd", params, **common)
            name = "nesterov" if self.nesterovs_momentum else "momentum"
            return make_optimizer(name, params, momentum=self.momentum, **common)
        return make_optimizer(self.solver, params, epsilon=self.epsilon, **common)

    def _initialize(self, X, classes):
        self.classes_ = np.asarray(classes)
        self.image_shape_ = self._infer_image_shape(X)
        self._rng = make_generator(self.random_state)
        mean = float(np.mean(X))
        scale = float(np.std(X))
        self.input_mean_ = mean
        self.input_scale_ = scale if scale > 0 and np.isfinite(scale) else 1.0
        self.network_ = self._build_network(self.image_shape_, len(self.classes_),
                                            self._rng)
        self._optimizer = self._make_optimizer()
        self.n_layers_ = len(self.network_.layers)
        self.n_outputs_ = len(self.classes_)
        self.out_activation_ = "softmax"
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self._no_improvement_count = 0
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self._best_params = None

    def _encode(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            raise ValueError(f"y contains labels {unknown.tolist()} not in classes "
                             f"{self.classes_.tolist()}")
        return idx.astype(np.intp)

    # ------------------------------------------------------------------ training

    def _run_epoch(self, images, targets, batch_size):
        """One pass over the data; returns the mean batch loss. Raises on NaN/inf."""
        net, opt = self.network_, self._optimizer
        n = images.shape[0]
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            xb, yb = images[idx], targets[idx]
            logits = net.forward(xb, training=True)
            loss, grad = softmax_cross_entropy(logits, yb)
            if not np.isfinite(loss):
                self._diverged(loss, start // batch_size)
            net.backward(grad)
            opt.weight_decay = self.alpha / len(idx)
            opt.step()
            total += loss * len(idx)
        if not np.all(np.isfinite(net.flat_params)):
            self._diverged(np.nan, None)
        return total / n

    def _diverged(self, loss, batch):
        where = f"epoch {self.n_iter_ + 1}" + (f", batch {batch}" if batch is not None
                                               else "")
        if self._restore is not None:
            self.network_.flat_params[:] = self._restore
        raise ValueError(
            f"ConvNetClassifier diverged: the training loss became {loss} at {where} "
            f"(learning_rate_init={self.learning_rate_init}, solver={self.solver!r}). "
            f"Try to {_REMEDY}.")

    def _fit(self, X, y, incremental, classes=None):
        first = not hasattr(self, "network_") or (not incremental and not self.warm_start)
        if first:
            if classes is None:
                classes = np.unique(y)
            self._initialize(X, classes)
        elif X.ndim == 4 and tuple(X.shape[1:]) != self.image_shape_:
            raise ValueError(f"X has images of shape {X.shape[1:]}, the estimator was "
                             f"fitted on {self.image_shape_}")
        self._net64 = None
        targets = self._encode(y)
        images = self._to_images(X)
        n = images.shape[0]
        batch_size = (min(200, n) if self.batch_size == "auto"
                      else min(self.batch_size, n))

        early = self.early_stopping and not incremental
        if early:
            stratify = targets if np.min(np.bincount(targets)) >= 2 else None
            try:
                tr, va = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                          random_state=int(self._rng.integers(2**31 - 1)),
                                          stratify=stratify)
            except ValueError:
                tr, va = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                          random_state=0)
            if len(va) < 1 or len(tr) < 1:
                raise ValueError("validation_fraction leaves no training or validation "
                                 "sample; lower it or disable early_stopping")
            images_val, targets_val = images[va], targets[va]
            images, targets = images[tr], targets[tr]
            n = images.shape[0]
            batch_size = min(batch_size, n)
        epochs = 1 if incremental else self.max_iter
        self._restore = self.network_.flat_params.copy()

        try:
            self._train(images, targets, batch_size, epochs, incremental, early,
                        images_val if early else None, targets_val if early else None, n)
        except ValueError:
            if first:   # a diverged first fit leaves no fitted model behind
                for attr in ("network_", "classes_", "_optimizer"):
                    self.__dict__.pop(attr, None)
            raise
        if early and self._best_params is not None:
            self.network_.flat_params[:] = self._best_params
        self._restore = None
        self._net64 = self.network_.astype(np.float64)
        return self

    def _train(self, images, targets, batch_size, epochs, incremental, early,
               images_val, targets_val, n):
        with self._thread_limits(), np.errstate(over="ignore", invalid="ignore",
                                                divide="ignore"):
            for _ in range(epochs):
                t0 = time.perf_counter()
                loss = self._run_epoch(images, targets, batch_size)
                self.n_iter_ += 1
                self.t_ += n
                if self.alpha > 0:
                    p = self.network_.flat_params
                    l2 = 0.5 * self.alpha * float(
                        np.dot(p * self.network_.flat_decay, p)) / batch_size
                    loss += l2
                self.loss_ = loss
                self.loss_curve_.append(loss)
                msg = f"Epoch {self.n_iter_}: loss = {loss:.6f}"
                if early:
                    score = float(np.mean(self._predict_indices(
                        images_val, training_dtype=True) == targets_val))
                    self.validation_scores_.append(score)
                    msg += f", validation score = {score:.4f}"
                stop = self._update_no_improvement(early)
                if self.verbose:
                    print(f"{msg}, time = {time.perf_counter() - t0:.3f}s")
                if stop:
                    break
            else:
                if not incremental:
                    warnings.warn(
                        f"ConvNetClassifier: maximum iterations ({self.max_iter}) reached "
                        "and the optimization hasn't converged yet.", ConvergenceWarning)

    def _update_no_improvement(self, early):
        """MLPClassifier's stopping rule; returns True when training should stop."""
        if early:
            score = self.validation_scores_[-1]
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self.network_.flat_params.copy()
            self.best_loss_ = None
        else:
            loss = self.loss_curve_[-1]
            if loss > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, loss)
        if self._no_improvement_count > self.n_iter_no_change:
            if self.solver == "sgd" and self.learning_rate == "adaptive":
                lr = self._optimizer.learning_rate
                if lr > 1e-6:
                    self._optimizer.learning_rate = lr / 5
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"Setting learning rate to {lr / 5:f}")
                    return False
            if self.verbose:
                crit = "Validation score" if early else "Training loss"
                print(f"{crit} did not improve more than tol={self.tol} for "
                      f"{self.n_iter_no_change} consecutive epochs. Stopping.")
            return True
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._optimizer.learning_rate = (self.learning_rate_init
                                             / (self.t_ + 1) ** self.power_t)
        return False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the network to images X and labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training images, flat or channels-first.
        y : array-like of shape (n_samples,)
            Class labels (any type).

        Returns
        -------
        self : ConvNetClassifier
        """
        X, y = self._validate_input(X, y, reset=not (self.warm_start
                                                     and hasattr(self, "network_")))
        check_classification_targets(y)
        if self.warm_start and hasattr(self, "network_"):
            missing = np.setdiff1d(np.unique(y), self.classes_)
            if len(missing):
                raise ValueError(f"warm_start: y has new classes {missing.tolist()}")
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, ignored afterwards.

        Returns
        -------
        self : ConvNetClassifier
        """
        first = _check_partial_fit_first_call(self, classes)
        X, y = self._validate_input(X, y, reset=first)
        check_classification_targets(y)
        if first:
            self._initialize(X, self.classes_)
        return self._fit(X, y, incremental=True)

    # ------------------------------------------------------------------ prediction

    @contextmanager
    def _thread_limits(self):
        """Numba threads from n_jobs; BLAS on one thread: the matrix products of a step
        are small, and BLAS threads next to Numba's only contend for the cores."""
        with threadpool_limits(1, user_api="blas"), numba_threads(self.n_jobs):
            yield

    def _inference_network(self):
        # predictions run in float64 from the trained weights: a row's prediction then
        # does not depend on the other rows of the batch (float32 BLAS rounding does);
        # the float64 copy is made at the end of each fit
        net = self.__dict__.get("_net64")
        if net is None:
            net = self.network_.astype(np.float64)
        return net

    def _logits(self, images, chunk=512, training_dtype=False):
        out = []
        if training_dtype:
            net = self.network_
        else:
            net = self._inference_network()
            images = images.astype(np.float64)
        with self._thread_limits():
            for start in range(0, images.shape[0], chunk):
                out.append(net.forward(images[start:start + chunk], training=False))
        return np.concatenate(out) if out else np.empty((0, self.n_outputs_))

    def _predict_indices(self, images, training_dtype=False):
        return np.argmax(self._logits(images, training_dtype=training_dtype), axis=1)

    def _validated_images(self, X):
        check_is_fitted(self, "network_")
        X, _ = self._validate_input(X, reset=False)
        return self._to_images(X)

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return softmax(self._logits(self._validated_images(X)).astype(np.float64))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._logits(self._validated_images(X)).astype(np.float64)
        z = logits - logits.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X):
        """Predicted class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        images = self._validated_images(X)
        return self.classes_[self._predict_indices(images)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        tags.input_tags.allow_nan = False
        return tags
