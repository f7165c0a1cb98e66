"""What VariationalAutoencoder and VAEClassifier share: parameters, input handling
(validation, the [0, 1] check of the Bernoulli likelihood, the internal
standardisation of the Gaussian one, images), the likelihood terms, inference copies
of the networks and the fit orchestration around the shared training loop."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from sknets.nn import Sequential
from sknets.nn._estimator import (
    MOMENTUM_PARAMS_DOC,
    STOPPING_PARAMS_DOC,
    TRAINING_PARAMETERS,
    NetworkTrainingMixin,
    image_shape_of_4d,
    image_shape_of_rows,
)
from sknets.utils._random import make_generator
from sknets.utils._validation import as_sizes
from sknets.vae import _elbo
from sknets.vae._networks import FeatureParameter

_NDIM_HINT = " or 4-D (n_samples, channels, height, width)"

#: standard-normal draws per row in score_samples and the validation ELBO
N_SCORE_DRAWS = 32
#: rows x draws per decoder call when evaluating the ELBO
_EVAL_CHUNK = 8192


def score_draws(n_components, dtype):
    """The fixed standard-normal draws (same for every row and every model) with which
    score_samples and the validation ELBO average the reconstruction term."""
    return np.random.default_rng(0).standard_normal(
        (N_SCORE_DRAWS, n_components)).astype(dtype)


_PARAMS_DOC = """
    hidden_layer_sizes : int or tuple of int, default=(512,)
        Sizes of the dense hidden layers of the encoder; the decoder uses them in
        reverse. With ``architecture="conv"`` they come after the convolutions (``()``
        for none).
    architecture : {"mlp", "conv"}, default="mlp"
        ``"conv"``: stride-2 3x3 convolutions (``filters``) before the dense layers
        of the encoder, transposed convolutions after the dense layers of the decoder.
    filters : int or tuple of int, default=(32, 64)
        Output channels of each convolution of the encoder (the decoder mirrors
        them); each halves the image. Ignored by the MLP.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of flat input rows for
        ``architecture="conv"``; inferred for square single-channel rows (64 features
        -> 1x8x8). 4-D input must be channels-first.
    activation : {"relu", "leaky_relu", "tanh", "logistic"}, default="relu"
        Activation of the hidden layers.
    batch_norm : bool, default=True
        Batch normalization after every hidden layer (dense and convolution) of every
        network.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        The decoder's distribution. ``"bernoulli"`` needs data in [0, 1] (scale with
        :class:`~sklearn.preprocessing.MinMaxScaler`); ``"gaussian"`` models
        real-valued data, standardised internally per feature (the ELBO is reported
        in the units of the data).
    variance : "learned" or float, default="learned"
        Gaussian likelihood only: one learned variance per feature, or a fixed
        variance as a fraction of each feature's variance.
    kl_weight : float, default=1.0
        Weight of the KL term in the training objective (beta of the beta-VAE). The
        reported ELBO always uses weight 1.
    kl_warmup : int, default=0
        Epochs over which the KL weight grows linearly from ``kl_weight / kl_warmup``
        to ``kl_weight`` (0: no warm-up).
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"}, \
default="adam"
        Optimizer of all the networks.
    batch_size : int or "auto", default=100
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule (as MLPClassifier's, for every solver).
    learning_rate_init : float, default=1e-3
        Initial step size.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=100
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the rows at each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling, the reparameterisation noise and the
        validation split.
    tol : float, default=1e-4
        Improvement (in nats per row) of the training loss, or of the validation
        score with early stopping, below which an epoch counts as no improvement.
    verbose : bool, default=False
        Print the loss terms, validation score and time of every epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights.
""" + MOMENTUM_PARAMS_DOC + """\
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when the validation score
        has not improved by ``tol`` for ``n_iter_no_change`` epochs and keep the best
        weights.
""" + STOPPING_PARAMS_DOC + """\
    callbacks : callable or list of callables, default=None
        Called after every epoch as ``callback(estimator, record)`` (``record`` also
        kept in ``history_``); returning True stops training.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of training.
    n_jobs : int, default=None
        Threads of the Numba kernels (batch norm, convolutions).
"""

_ATTRS_DOC = """
    image_shape_ : tuple of int or None
        ``(channels, height, width)`` of the inputs (``architecture="conv"``).
    input_mean_, input_scale_ : ndarray of shape (n_features,)
        The internal standardisation (zeros and ones with the Bernoulli likelihood).
    log_variance_ : ndarray of shape (n_features,) or None
        The Gaussian decoder's log-variances, in the units of the standardised data
        (None with the Bernoulli likelihood).
    loss_ : float
        Training objective of the last epoch (minus the ELBO, with the KL weight).
    loss_curve_ : list of float
        Training objective of each epoch.
    best_loss_ : float or None
        Minimum of ``loss_curve_`` (None with early stopping).
    validation_scores_ : list of float or None
        Validation score of each epoch (early stopping only).
    best_validation_score_ : float or None
        Best validation score (early stopping only).
    history_ : list of dict
        One record per epoch: ``epoch``, ``loss``, ``elbo``, ``reconstruction``,
        ``kl`` (means per row over the epoch's minibatches), ``validation_score``
        with early stopping, ``learning_rate``, ``time``.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training rows seen.
    n_features_in_ : int
        Number of features seen during fit (channels for 4-D input).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
"""


class BaseVAE(NetworkTrainingMixin, BaseEstimator):
    """Parameters, input handling and training orchestration of the VAE estimators."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like",
                               Interval(Integral, 1, None, closed="left")],
        "architecture": [StrOptions({"mlp", "conv"})],
        "filters": ["array-like", Interval(Integral, 1, None, closed="left")],
        "image_shape": ["array-like", None],
        "activation": [StrOptions({"relu", "leaky_relu", "tanh", "logistic"})],
        "batch_norm": ["boolean"],
        "likelihood": [StrOptions({"bernoulli", "gaussian"})],
        "variance": [StrOptions({"learned"}),
                     Interval(Real, 0, None, closed="neither")],
        "kl_weight": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"})],
        **{k: v for k, v in TRAINING_PARAMETERS.items() if k != "alpha"},
    }

    _divergence_remedy = ("lower learning_rate_init (e.g. divide it by 10), keep "
                          "batch_norm=True, or set kl_warmup to a few epochs")
    _private_state = ("_optimizer", "_history", "_log_var_net")
    _caches = ("_inference_nets",)

    # ------------------------------------------------------------------ input

    def _validate_X(self, X, reset, validated=False):
        """Validated rows as a flat 2-D array, and the image shape they come in
        (None for the MLP); with ``reset=False`` checked against the fitted one.
        ``validated``: X went through ``validate_data`` already."""
        conv = self.architecture == "conv"
        fitted_ndim = getattr(self, "_input_ndim", None)
        if not reset and fitted_ndim == 4 and getattr(X, "ndim", 4) != 4:
            raise ValueError(f"X must be 4-D images of shape {self.image_shape_}, "
                             f"as in fit; got a {X.ndim}-D array")
        if not validated:
            X = validate_data(self, X, reset=reset, dtype=self._dtypes(),
                              allow_nd=conv)
        if X.ndim != 2 and not (conv and X.ndim == 4):
            raise ValueError(f"Found array with dim {X.ndim}: X must be 2-D "
                             f"(n_samples, n_features)"
                             f"{_NDIM_HINT if conv else ''}")
        fitted_ndim = getattr(self, "_input_ndim", X.ndim)
        if X.ndim == 4:
            shape = self._image_shape_of_4d(X) if reset else tuple(X.shape[1:])
            if not reset and (fitted_ndim != 4 or shape != self.image_shape_):
                raise ValueError(f"X has images of shape {shape}, the estimator was "
                                 f"fitted on rows of shape {self._fitted_row_shape()}")
            return X.reshape(X.shape[0], -1), shape, 4
        if not reset:
            if fitted_ndim == 4:
                raise ValueError(f"X must be 4-D images of shape {self.image_shape_}, "
                                 f"as in fit; got a 2-D array")
            return X, self.image_shape_, 2
        return X, self._image_shape_of_rows(X.shape[1]), 2

    def _fitted_row_shape(self):
        if getattr(self, "_input_ndim", 2) == 4:
            return self.image_shape_
        return (self.n_features_in_,)

    def _dtypes(self):
        """Accepted float dtypes, the training dtype first (for other inputs)."""
        return [self._float_dtype(), np.float64, np.float32]

    def _check_unit_range(self, X):
        if self.likelihood != "bernoulli" or X.size == 0:
            return
        lo, hi = float(X.min()), float(X.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"likelihood='bernoulli' needs X in [0, 1]; got values in "
                f"[{lo:.4g}, {hi:.4g}]. Scale X with "
                f"sklearn.preprocessing.MinMaxScaler "
                f"(e.g. in a Pipeline), or use likelihood='gaussian' for real-valued "
                f"data.")

    def _image_shape_of_4d(self, X):
        return image_shape_of_4d(X, self.image_shape)

    def _image_shape_of_rows(self, n_features):
        if self.architecture != "conv":
            return None
        return image_shape_of_rows(n_features, self.image_shape,
                                   "architecture='mlp' for tabular data")

    def _set_scaling(self, X):
        n_features = X.shape[1]
        if self.likelihood == "gaussian" and X.shape[0] > 0:
            mean = X.mean(axis=0, dtype=np.float64)
            scale = X.std(axis=0, dtype=np.float64)
            scale = np.where((scale > 1e-12 * np.maximum(1.0, np.abs(mean)))
                             & np.isfinite(scale), scale, 1.0)
        else:
            mean, scale = np.zeros(n_features), np.ones(n_features)
        self.input_mean_, self.input_scale_ = mean, scale

    def _scaled(self, X, dtype=None):
        """Rows in the model's units (standardised for the Gaussian likelihood)."""
        dtype = self._float_dtype() if dtype is None else dtype
        if self.likelihood == "gaussian":
            X = (X - self.input_mean_) / self.input_scale_
        return np.ascontiguousarray(X, dtype=dtype)

    def _unscaled(self, X):
        if self.likelihood == "gaussian":
            return X * self.input_scale_ + self.input_mean_
        return X

    def _as_output(self, X):
        """Flat rows, or images when the estimator was fitted on 4-D input."""
        if getattr(self, "_input_ndim", 2) == 4:
            return X.reshape((X.shape[0],) + self.image_shape_)
        return X

    # ------------------------------------------------------------------ networks

    def _hidden(self):
        return as_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")

    def _filters(self):
        if self.architecture != "conv":
            return ()
        return as_sizes(self.filters, "filters", allow_empty=False)

    def _build(self, layers, input_shape):
        return Sequential(layers).build(input_shape, rng=self._rng,
                                        dtype=self._float_dtype())

    def _build_log_variance(self, n_features):
        """The Gaussian decoder's per-feature log-variances: a learned parameter (in
        a one-layer Sequential, for the optimizer), or a fixed array."""
        if self.likelihood != "gaussian":
            return None, None
        if self.variance == "learned":
            net = self._build([FeatureParameter(0.0)], (n_features,))
            return net, net.layers[0].value
        fixed = np.full(n_features, np.log(float(self.variance)),
                        dtype=self._float_dtype())
        return None, fixed

    # ------------------------------------------------------------------ fit

    def _start(self):
        self._rng = make_generator(self.random_state)

    def _drop_inference(self):
        self.__dict__.pop("_inference_nets", None)

    def _fitted_net(self):
        raise NotImplementedError

    def _ready_inference(self):
        """Make the float64 inference copies of a fitted model now, so that
        prediction methods leave ``__dict__`` as fit left it."""
        if self._fitted_net() in self.__dict__:
            self._inference()

    def __setstate__(self, state):
        super().__setstate__(state)
        self._ready_inference()


def likelihood_terms(likelihood, out, x, log_var):
    """log p(x | decoder output) per row, its gradient in the output, and (Gaussian)
    the per-entry gradient in the log-variances."""
    if likelihood == "bernoulli":
        ll, d_out = _elbo.bernoulli_log_likelihood(out, x)
        return ll, d_out, None
    return _elbo.gaussian_log_likelihood(out, log_var, x)


def decoder_mean(likelihood, out):
    """The decoder's mean: sigmoid of the logits, or the Gaussian mean itself."""
    if likelihood == "bernoulli":
        e = np.exp(-np.abs(out))
        return np.where(out >= 0, 1 / (1 + e), e / (1 + e))
    return out


def step_log_variance(log_var_net, d_log_var_rows, n):
    """Set the gradient of the learned log-variances from the per-entry gradients of
    the ELBO of ``n`` rows (the loss is minus their mean)."""
    grad = log_var_net.layers[0].grads[0]
    np.sum(d_log_var_rows, axis=0, out=grad)
    grad *= grad.dtype.type(-1.0 / n)


def clip_log_variance(log_var):
    lo, hi = _elbo.LOG_VARIANCE_RANGE
    np.clip(log_var, lo, hi, out=log_var)
