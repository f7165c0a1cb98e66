"""Autoencoder: an encoder and its mirrored decoder trained to reconstruct the input.

The network
-----------
With ``hidden_layer_sizes = (h_1, ..., h_L)`` and ``n_components = k``:

    encoder  ``x -> h_1 -> ... -> h_L -> z``  (``z``, of size k, is the code),
    decoder  ``z -> h_L -> ... -> h_1 -> x_hat``  (the same sizes, mirrored),

each arrow a Dense layer followed by ``activation`` (``code_activation`` for the
code; the decoder's last layer has none: its output is ``x_hat``'s logits or mean).
``transform`` is the encoder, ``inverse_transform`` the decoder.

Reconstruction losses (both means over the elements, :mod:`sknets.nn.losses`)
------------------------------------------------------------------------------
- ``visible_unit="bernoulli"``: X in [0, 1], ``x_hat = sigmoid(l)`` and the loss is
  the cross-entropy ``-[x log x_hat + (1 - x) log(1 - x_hat)]`` (the negative
  log-likelihood of independent Bernoulli pixels, :func:`sigmoid_cross_entropy` on
  the logits ``l``). Targets outside [0, 1] make it unbounded below, hence the
  error that names ``MinMaxScaler``.
- ``visible_unit="gaussian"``: the network sees X centred per feature and divided by
  one overall standard deviation (first fit; one scale keeps the features' relative
  sizes, as PCA's centring does), ``x_hat`` is linear and the loss half the squared
  error; ``inverse_transform`` maps back to the units of X.

Training minimises the mean loss plus scikit-learn's MLP L2 term
``alpha / (2 * batch_size) * sum ||W||^2`` and, optionally, a sparsity penalty
(:mod:`sknets.dbn._layers`): ``sparsity_weight / n_features * sum_j KL(rho ||
rho_hat_j)``, with ``rho = sparsity_target`` and ``rho_hat_j`` the mean activation of
code unit j over the minibatch (sigmoid codes).

Denoising (``noise``): each minibatch's input is corrupted afresh while the target
stays the clean row (:func:`sknets.dbn._layers.make_corruption`).

RBM pre-training (``pretrain=True``; Hinton and Salakhutdinov, 2006): the encoder's
layers ``h_1, ..., h_L, z`` are trained as a stack of RBMs and "unrolled" into the
encoder and the mirrored decoder (:mod:`sknets.dbn._pretrain`), then fine-tuned.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from sknets.nn import Dense, Sequential, sigmoid_cross_entropy
from sknets.nn._estimator import TRAINING_PARAMETERS, SupervisedModel
from sknets.nn._training import validation_split
from sknets.nn.losses import squared_error
from sknets.utils._threads import numba_threads

from ._base import NOISE_PARAMETERS, PretrainedNetworkBase, as_sizes, run_layers
from ._layers import KLSparsity, with_sparsity_penalties
from ._pretrain import (
    PRETRAIN_PARAMETERS,
    check_unit_interval,
    decoder_weights,
    encoder_weights,
    load_dense,
)

__all__ = ["Autoencoder"]

_ACTIVATIONS = {"relu", "leaky_relu", "tanh", "logistic", "identity"}


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                  PretrainedNetworkBase):
    """Autoencoder transformer: compressed codes and reconstructions of the rows.

    An encoder network maps each row to a code of ``n_components`` values and a
    mirrored decoder maps the code back to a reconstruction; both are trained
    together to minimise the reconstruction error, with the training parameters of
    :class:`~sklearn.neural_network.MLPRegressor`. Options: denoising (``noise``), a
    sparsity penalty on the code, and RBM pre-training of the encoder.

    Parameters
    ----------
    n_components : int, default=32
        Size of the code (the output of :meth:`transform`).
    hidden_layer_sizes : int or tuple of int, default=(128,)
        Units of the encoder's hidden layers, from the input to the code; the
        decoder uses them in reverse order. ``()`` for a single code layer.
    activation : {"relu", "leaky_relu", "tanh", "logistic", "identity"}, \
default="tanh"
        Activation of the hidden layers of the encoder and the decoder. The
        default was chosen from measurement (digits, seeds 0, 1, 2, two splits):
        ``"relu"`` fits the training rows about as well but generalises worse (test
        reconstruction error about 1.4 times ``"tanh"``'s).
    code_activation : {"identity", "logistic", "relu", "leaky_relu", "tanh"}, \
default="identity"
        Activation of the code layer; the sparsity penalty needs ``"logistic"``.
    visible_unit : {"gaussian", "bernoulli"}, default="gaussian"
        ``"gaussian"``: real-valued X, squared-error reconstruction (the network sees
        X centred per feature and divided by one overall standard deviation).
        ``"bernoulli"``: X in [0, 1] (else a ``ValueError`` suggests
        ``MinMaxScaler``), cross-entropy reconstruction through a sigmoid.
    noise : {None, "masking", "gaussian"}, default=None
        Corruption of the training inputs (denoising autoencoder): ``"masking"``
        sets a fraction ``noise_level`` of the entries to 0, ``"gaussian"`` adds
        Gaussian noise of standard deviation ``noise_level`` (units of X).
    noise_level : float, default=0.25
        Masked fraction (in [0, 1)) or noise standard deviation.
    sparsity_weight : float, default=0.0
        Weight ``beta`` of the sparsity penalty ``beta / n_features * sum_j
        KL(sparsity_target || mean activation of code unit j)``; 0 disables it.
    sparsity_target : float, default=0.05
        Target mean activation ``rho`` of the code units.
    pretrain : bool, default=False
        Pre-train the encoder as a stack of RBMs and unroll it (see Notes).
    pretrain_n_iter : int or sequence of int, default=20
        Epochs of each RBM (one value, or one per encoder layer, code included).
    pretrain_learning_rate : float or sequence of float, default=0.01
        Learning rate of each RBM.
    pretrain_batch_size : int, default=10
        Minibatch size of the RBMs.
    n_gibbs_steps : int, default=1
        Gibbs steps per minibatch of the RBMs (CD-k / PCD-k).
    persistent : bool, default=True
        PCD if True, CD-k if False.
    pretrain_momentum : float, default=0.5
        Momentum of the RBM steps.
    pretrain_weight_decay : float, default=0.0
        L2 penalty on the RBM weights.
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"}, \
default="adam"
        Optimizer.
    alpha : float, default=1e-4
        L2 penalty on the weights, divided by the batch size as in MLPRegressor.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule.
    learning_rate_init : float, default=1e-3
        Initial step size.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=1000
        Maximum number of epochs; the default fit on digits stops on ``tol``
        after 700 to 900 epochs (about 3 s).
    shuffle : bool, default=True
        Shuffle the rows at each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, shuffling, the corruption, the RBMs and the validation
        split.
    tol : float, default=1e-5
        Improvement below which an epoch counts as no improvement. The default was
        chosen from measurement: the loss is in the scaled units of the network
        (from 0.02 down to 0.006 on digits as training proceeds), so
        MLPRegressor's 1e-4 per epoch stops training early and leaves the
        reconstruction worse than PCA's.
    verbose : bool or int, default=False
        Print one line per epoch (and the RBMs' lines).
    warm_start : bool, default=False
        Continue from the previous fit's weights.
    momentum : float, default=0.9
        Momentum of "sgd", "momentum" and "nesterov".
    nesterovs_momentum : bool, default=True
        Nesterov momentum for "sgd".
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when minus their
        reconstruction loss has not improved by ``tol`` for ``n_iter_no_change``
        epochs and keep the best weights.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates.
    epsilon : float, default=1e-8
        Adam / RMSprop / Adagrad numerical stability constant.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    callbacks : callable or list of callables, default=None
        Called after every epoch as ``callback(estimator, record)``; True stops.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of the training computations.
    n_jobs : int, default=None
        Threads of the Numba kernels (RBM pre-training).

    Attributes
    ----------
    network_ : sknets.nn.Sequential
        Encoder and decoder layers (the first ``n_encoder_layers_``: the encoder).
    n_encoder_layers_ : int
        Number of layers of ``network_`` that make the encoder.
    rbms_ : list of BernoulliRBM
        The pre-trained RBMs, bottom first (empty with ``pretrain=False``).
    input_mean_ : ndarray of shape (n_features_in_,)
        Per-feature mean subtracted from X (zeros with Bernoulli units).
    input_scale_ : float
        Overall scale X is divided by (1 with Bernoulli units).
    loss_ : float
        Loss of the last epoch.
    loss_curve_ : list of float
        Loss (reconstruction, sparsity and L2 terms) of each epoch.
    best_loss_ : float or None
        Minimum of ``loss_curve_`` (None with early stopping).
    validation_scores_ : list of float or None
        Minus the validation reconstruction loss of each epoch (early stopping
        only).
    best_validation_score_ : float or None
        Best validation score (early stopping only).
    history_ : list of dict
        One record per epoch.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn.decomposition.PCA : The linear autoencoder (one identity layer).
    sknets.DBNClassifier : The same RBM pre-training for a classifier.
    sknets.BernoulliRBM : The RBM of the pre-training.

    Notes
    -----
    With ``pretrain=True`` the encoder weights start from the RBMs'
    (``W = components_.T``, ``b = intercept_hidden_``) and the mirrored decoder's
    from their transposes (``W = components_``, ``b = intercept_visible_``); this is
    the RBM maths exactly with ``activation="logistic"`` and
    ``code_activation="logistic"``.

    References
    ----------
    G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of data with
    neural networks", Science 313(5786), 2006.

    P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and composing
    robust features with denoising autoencoders", ICML 2008.

    A. Ng, "Sparse autoencoder", CS294A lecture notes, Stanford, 2011.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknets import Autoencoder
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = Autoencoder(n_components=8, max_iter=50, random_state=0).fit(X[:1000])
    >>> codes = ae.transform(X[1000:1005])
    >>> codes.shape
    (5, 8)
    >>> ae.inverse_transform(codes).shape
    (5, 64)
    >>> bool(ae.score(X[1000:]) > Autoencoder(n_components=8, max_iter=1,
    ...      random_state=0).fit(X[:1000]).score(X[1000:]))
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like",
                               Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(_ACTIVATIONS)],
        "code_activation": [StrOptions(_ACTIVATIONS)],
        "visible_unit": [StrOptions({"bernoulli", "gaussian"})],
        **NOISE_PARAMETERS,
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        **PRETRAIN_PARAMETERS,
        "dtype": [StrOptions({"float32", "float64"})],
        **TRAINING_PARAMETERS,
    }

    _divergence_remedy = "lower learning_rate_init (e.g. divide it by 10)"

    def __init__(
        self,
        n_components=32,
        hidden_layer_sizes=(128,),
        activation="tanh",
        code_activation="identity",
        visible_unit="gaussian",
        noise=None,
        noise_level=0.25,
        sparsity_weight=0.0,
        sparsity_target=0.05,
        pretrain=False,
        pretrain_n_iter=20,
        pretrain_learning_rate=0.01,
        pretrain_batch_size=10,
        n_gibbs_steps=1,
        persistent=True,
        pretrain_momentum=0.5,
        pretrain_weight_decay=0.0,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=1000,
        shuffle=True,
        random_state=None,
        tol=1e-5,
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
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.visible_unit = visible_unit
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.pretrain = pretrain
        self.pretrain_n_iter = pretrain_n_iter
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_batch_size = pretrain_batch_size
        self.n_gibbs_steps = n_gibbs_steps
        self.persistent = persistent
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
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

    # ------------------------------------------------------------------ checks

    def _check_settings(self):
        self._check_noise()
        if self.sparsity_weight > 0 and self.code_activation != "logistic":
            raise ValueError("sparsity_weight > 0 penalises the mean code activations "
                             "as probabilities: set code_activation='logistic'")

    def _validate_training_input(self, X, reset):
        X = validate_data(self, X, reset=reset,
                          dtype=[self._float_dtype(), np.float64, np.float32])
        if self.visible_unit == "bernoulli" and not check_unit_interval(X):
            raise ValueError(
                f"Autoencoder with visible_unit='bernoulli' reconstructs X as "
                f"probabilities and needs it in [0, 1] (got values from {X.min():.4g} "
                f"to {X.max():.4g}). Scale X with MinMaxScaler, or use "
                f"visible_unit='gaussian' for real-valued data.")
        return X

    # ------------------------------------------------------------------ network

    def _initialize(self, X):
        self._new_state()
        hidden = as_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        gaussian = self.visible_unit == "gaussian"
        self._fit_scaling(X, standardise=gaussian)
        n_features = X.shape[1]
        encoder = []
        for units in hidden:
            encoder += self._hidden_block(units, self.activation)
        encoder += self._hidden_block(self.n_components, self.code_activation)
        if self.sparsity_weight > 0:
            encoder.append(KLSparsity(self.sparsity_target, self.sparsity_weight,
                                      scale=1.0 / n_features))
        decoder = []
        for units in hidden[::-1]:
            decoder += self._hidden_block(units, self.activation)
        decoder.append(Dense(n_features))
        net = Sequential(encoder + decoder).build((n_features,), rng=self._rng,
                                                  dtype=self._float_dtype())
        self.rbms_ = []
        if self.pretrain:
            self.rbms_ = self._pretrain(self._scaled(X), hidden + (self.n_components,),
                                        self.visible_unit)
            dense_enc = [layer for layer in encoder if isinstance(layer, Dense)]
            dense_dec = [layer for layer in decoder if isinstance(layer, Dense)]
            for layer, rbm in zip(dense_enc, self.rbms_):
                load_dense(layer, *encoder_weights(rbm))
            for layer, rbm in zip(dense_dec, self.rbms_[::-1]):
                load_dense(layer, *decoder_weights(rbm))
        self.network_ = net
        self.n_encoder_layers_ = len(encoder)
        self._optimizer = self._make_optimizer([net])
        self._new_history(self.early_stopping)

    def _reconstruction_loss(self):
        return sigmoid_cross_entropy if self.visible_unit == "bernoulli" \
            else squared_error

    def _fit(self, X, incremental, first):
        inputs = self._scaled(X)
        base = self._reconstruction_loss()
        loss = with_sparsity_penalties(base, self.network_)

        def score(output, target):
            return -base(output, target, None)[0]

        validation = None
        if self.early_stopping and not incremental:
            tr, va = validation_split(inputs.shape[0], self.validation_fraction,
                                      self._rng)
            validation = (inputs[va], inputs[va], score)
            inputs = inputs[tr]
        model = SupervisedModel(self.network_, self._optimizer, inputs, inputs, loss,
                                alpha=self.alpha, validation=validation,
                                input_transform=self._corruption())
        return self._train(model, incremental=incremental, first=first)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : Autoencoder
        """
        self._check_settings()
        warm = self.warm_start and hasattr(self, "network_")
        X = self._validate_training_input(X, reset=not warm)
        if not warm:
            self._initialize(X)
        return self._fit(X, incremental=False, first=not warm)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over X, continuing from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : Autoencoder
        """
        self._check_settings()
        first = not hasattr(self, "network_")
        X = self._validate_training_input(X, reset=first)
        if first:
            self._initialize(X)
        return self._fit(X, incremental=True, first=first)

    # ------------------------------------------------------------------ outputs

    @property
    def _n_features_out(self):
        return self.n_components

    def _encode(self, X):
        net = self._inference_network()
        with numba_threads(self.n_jobs):
            return run_layers(net.layers[:self.n_encoder_layers_],
                               self._scaled(X, np.float64))

    def _decode(self, Z):
        """Reconstruction in the network's space: logits or means."""
        net = self._inference_network()
        with numba_threads(self.n_jobs):
            return run_layers(net.layers[self.n_encoder_layers_:],
                               np.ascontiguousarray(Z, dtype=np.float64))

    def _to_data_space(self, out):
        if self.visible_unit == "bernoulli":
            return 0.5 * (1.0 + np.tanh(0.5 * out))   # the sigmoid, overflow-free
        return out * self.input_scale_ + self.input_mean_

    def transform(self, X):
        """The code of each row (the encoder's output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            float32 for float32 X, float64 otherwise.
        """
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._encode(X).astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """The reconstruction decoded from codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Reconstructed rows in the units of the training data (probabilities
            with Bernoulli units).
        """
        check_is_fitted(self, "network_")
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components:
            raise ValueError(f"X has {Z.shape[1]} features, but inverse_transform "
                             f"expects codes of n_components={self.n_components}")
        return self._to_data_space(self._decode(Z)).astype(Z.dtype, copy=False)

    def reconstruct(self, X):
        """``inverse_transform(transform(X))``, computed in float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        out = self._to_data_space(self._decode(self._encode(X)))
        return out.astype(X.dtype, copy=False)

    def score_samples(self, X):
        """Minus the reconstruction error of each row.

        ``-sum_j (x_j - x_hat_j) ** 2`` (units of X) with Gaussian units; the
        log-likelihood ``sum_j x_j log x_hat_j + (1 - x_j) log(1 - x_hat_j)`` of the
        row under its reconstruction with Bernoulli units (minus its cross-entropy).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is better.
        """
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        out = self._decode(self._encode(X))
        x = X.astype(np.float64, copy=False)
        if self.visible_unit == "bernoulli":
            # x log s(l) + (1 - x) log(1 - s(l)) = x l - softplus(l)
            return (x * out - np.logaddexp(0, out)).sum(axis=1)
        diff = self._to_data_space(out) - x
        return -np.einsum("ij,ij->i", diff, diff)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
