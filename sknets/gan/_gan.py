"""GANSampler: a generative adversarial network with a scikit-learn face."""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sknets.gan._models import FusedGANModel, LayerGANModel, draw_noise
from sknets.gan._networks import dcgan_discriminator, dcgan_generator, mlp
from sknets.nn._fused_mlp import is_compilable
from sknets.nn._training import TrainingHistory, train
from sknets.nn.optimizers import SOLVERS, make_solver
from sknets.nn.spectral_norm import SpectralNorm
from sknets.utils._random import make_generator
from sknets.utils._threads import numba_threads

__all__ = ["GANSampler"]

_REMEDY = ("lower learning_rate_init, use loss='non-saturating', add label_smoothing "
           "(e.g. 0.1) or make the networks smaller")
# step of the difference quotient of the R1 penalty's gradient, in the internal
# [-1, 1] scale of the data (see sknets.gan._kernels)
_PENALTY_STEP = 1e-3


class GANSampler(BaseEstimator):
    """Generative adversarial network that learns the distribution of X's rows.

    ``fit(X)`` trains a generator G and a discriminator (critic) D against each other
    (Goodfellow et al., 2014); ``sample(n)`` draws new rows from G, in the scale of X,
    as :meth:`sklearn.mixture.GaussianMixture.sample` does; ``score_samples(X)`` gives
    D's logit for each row (how real a row looks to D: a heuristic, not a density).

    Both networks are :class:`sknets.nn.Sequential` stacks of the project's layer
    library. With ``architecture="mlp"`` and Adam, an epoch is one Numba call on the
    networks' own parameters (:mod:`sknets.nn._fused_mlp`); otherwise each minibatch
    is stepped through the layer objects. Training runs in the shared loop of
    :mod:`sknets.nn._training` (verbose lines, divergence handling, callbacks,
    ``history_``). The inputs are scaled internally to [-1, 1] (the range of the
    default tanh output) -- feature by feature for ``"mlp"``, with one range for all
    pixels for ``"dcgan"`` -- and samples are mapped back.

    Why the defaults are what they are. Without a penalty, adversarial training does
    not converge to the data's distribution: near the equilibrium the two players
    rotate around it (Mescheder et al., 2018). On N(4, 0.5) (a 1-D check) the
    last generator's mean wandered by about +-0.6 from epoch to epoch, and its
    moving average was a narrow distribution (std 0.3 to 0.5 instead of 0.71);
    whether a run escaped depended on how fast the generator moves in function space
    (its initial weights' scale and the learning rate), not on mode-dropping alone.
    The R1 penalty ``gradient_penalty / 2 * E ||grad_x D(x)||^2`` on real rows damps
    the rotation and makes the equilibrium attractive; with it the same
    defaults learn the 1-D Gaussian from normal or uniform noise over seeds (see
    ``benchmarks/bench_gan.py``). The tanh output (with the [-1, 1] scaling) keeps
    samples inside the range of the training data (e.g. pixel intensities).

    Parameters
    ----------
    generator_layer_sizes : tuple of int, default=(64, 64)
        Widths of G's hidden layers. With ``architecture="dcgan"``: channel counts,
        the first at a quarter of the image side (after a dense layer from the
        noise), then one per 4x4 stride-2 transposed convolution.
    discriminator_layer_sizes : tuple of int, default=(64, 64)
        Widths of D's hidden layers. With ``architecture="dcgan"``: channel counts of
        its 4x4 stride-2 convolutions (each halves the image side).
    architecture : {"mlp", "dcgan"}, default="mlp"
        ``"mlp"`` for tabular rows and flattened images. ``"dcgan"`` for images given
        as flattened rows (Radford et al., 2015): G is dense -> feature map -> batch
        norm, relu -> [transposed convolution, batch norm, relu] -> transposed
        convolution -> output activation; D is strided convolutions with leaky relu
        -> dense logit. On 8x8 digits, ``generator_layer_sizes=(32, 16),
        discriminator_layer_sizes=(16, 32), noise_dim=16, learning_rate_init=1e-3,
        gradient_penalty=0.1, ema_decay=0.99, batch_size=32, max_iter=200`` train in
        about half a minute (``benchmarks/bench_gan.py``, check 4).
    image_shape : tuple (height, width) or (channels, height, width), default=None
        Image size for ``"dcgan"``; None infers square single-channel images from
        the number of features. Both sides must be divisible by 4.
    generator_activation : {"relu", "leaky_relu", "tanh"}, default="relu"
        Hidden activation of G (``"mlp"``).
    discriminator_activation : {"leaky_relu", "relu", "tanh"}, default="leaky_relu"
        Hidden activation of D (leaky relu with slope 0.2).
    output_activation : {"tanh", "identity"}, default="tanh"
        Activation of G's output layer. ``"tanh"`` keeps samples inside the range of
        the training data; ``"identity"`` lets them go beyond it.
    noise : {"normal", "uniform"}, default="normal"
        Distribution of G's input: standard normal, or uniform on [-1, 1].
    noise_dim : int, default=8
        Dimension of G's input.
    loss : {"non-saturating", "minimax", "wasserstein"}, default="non-saturating"
        ``"non-saturating"``: G minimises ``-log D(G(z))``; ``"minimax"``: G minimises
        ``log(1 - D(G(z)))`` (the original game, which saturates early in training);
        ``"wasserstein"``: WGAN critic with a Lipschitz constraint by spectral
        normalisation of every critic weight (Miyato et al., 2018; one power
        iteration per weight per step; :mod:`sknets.nn.spectral_norm`). All losses
        are computed from logits in numerically stable form.
    discriminator_steps : int, default=1
        D updates per G update (5 is usual with ``loss="wasserstein"``).
    pretrain_steps : int, default=0
        D updates before the first G update (counted at the first fit only).
    label_smoothing : float, default=0.0
        One-sided label smoothing: the real rows' target is ``1 - label_smoothing``.
        Ignored with ``loss="wasserstein"``.
    gradient_penalty : float, default=1.0
        Weight gamma of the R1 penalty ``gamma / 2 * mean ||grad_x D(x)||^2`` over
        real rows (in the internal [-1, 1] scale; Mescheder et al., 2018). Its
        parameter gradient is taken as a difference quotient of two first-order
        passes (exact for leaky-relu discriminators). 0 disables it; ignored with
        ``loss="wasserstein"`` (spectral normalisation constrains the critic).
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"}, \
            default="adam"
        Optimizer of both networks (:func:`sknets.nn.optimizers.make_solver`;
        ``"sgd"`` as in MLPClassifier: with ``momentum``, Nesterov's if
        ``nesterovs_momentum``).
    learning_rate : {"constant", "invscaling"}, default="constant"
        Step-size schedule of both optimizers: ``"invscaling"`` divides
        ``learning_rate_init`` by ``(t + 1) ** power_t``, t the rows seen.
    learning_rate_init : float, default=2e-4
        Initial step size.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    beta_1, beta_2 : float, default=0.5, 0.999
        Adam's decay rates (0.5 as DCGAN recommends).
    epsilon : float, default=1e-8
        Numerical stabiliser of Adam, RMSprop and Adagrad.
    momentum : float, default=0.9
        Momentum of ``"sgd"``, ``"momentum"`` and ``"nesterov"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``"sgd"``.
    ema_decay : float, default=0.999
        ``sample`` uses an exponential moving average of G's parameters over the
        generator steps, with this decay (Yazici et al., 2019), bias-corrected as
        Adam's moments are; it damps what oscillation is left. 0 uses the last
        parameters.
    batch_size : int, default=64
        Rows per minibatch (capped by the number of rows).
    max_iter : int, default=200
        Number of epochs (passes over X) of ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, minibatch order and noise. An int makes ``fit``
        reproducible, and ``sample`` too when its own ``random_state`` is None.
    verbose : int, default=0
        Print the losses and time of every epoch if > 0.
    warm_start : bool, default=False
        If True, ``fit`` continues training from the previous solution.
    callbacks : callable or list of callables, default=None
        Called after every epoch as ``callback(estimator, record)`` (``record``: a
        dict as in ``history_``); a True return value stops training.
    n_jobs : int, default=None
        Threads of the layer library's kernels (``"dcgan"``); the fused MLP epoch
        runs on one thread.

    Attributes
    ----------
    generator_ : sknets.nn.Sequential
        The generator ``sample`` uses (the averaged parameters, see ``ema_decay``).
    discriminator_ : sknets.nn.Sequential
        The discriminator ``score_samples`` uses (spectrally normalised with
        ``loss="wasserstein"``).
    generator_loss_curve_ : list of float
        Mean generator loss of each epoch.
    discriminator_loss_curve_ : list of float
        Mean discriminator loss of each epoch (2 log 2 = 1.386 when D cannot tell
        generated rows from real ones).
    history_ : list of dict
        One record per epoch: ``epoch``, ``loss`` (the discriminator's),
        ``generator_loss``, ``gradient_penalty``, ``learning_rate``, ``time``.
    n_iter_ : int
        Number of epochs run (all calls of ``fit`` with ``warm_start`` and
        ``partial_fit`` together).
    t_ : int
        Number of training rows seen.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``; only when X has string column names.
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
        The range mapped to [-1, 1], learned at the first fit.

    See Also
    --------
    sklearn.mixture.GaussianMixture : A density model with ``sample``.
    sklearn.neighbors.KernelDensity : A density model with ``sample``.

    Notes
    -----
    Computations run in float32 whatever the input dtype; samples come back in the
    dtype of the training data (float32 stays float32). ``GridSearchCV`` needs an
    explicit ``scoring`` (a GAN has no natural score): e.g. a callable comparing
    ``sample`` to the held-out rows (:mod:`sknets.gan.metrics`).

    References
    ----------
    .. [1] Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    .. [2] Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep
       Convolutional Generative Adversarial Networks", 2015.
    .. [3] Arjovsky, Chintala and Bottou, "Wasserstein GAN", ICML 2017.
    .. [4] Miyato et al., "Spectral Normalization for Generative Adversarial Networks",
       ICLR 2018.
    .. [5] Mescheder, Geiger and Nowozin, "Which Training Methods for GANs do actually
       Converge?", ICML 2018.
    .. [6] Yazici et al., "The Unusual Effectiveness of Averaging in GAN Training",
       ICLR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets import GANSampler
    >>> X = np.random.default_rng(0).normal(4.0, 0.5, size=(512, 1))
    >>> gan = GANSampler(generator_layer_sizes=(16, 16),
    ...                  discriminator_layer_sizes=(16, 16), max_iter=5,
    ...                  random_state=0).fit(X)
    >>> gan.sample(3).shape
    (3, 1)
    >>> gan.score_samples(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        "generator_layer_sizes": ["array-like"],
        "discriminator_layer_sizes": ["array-like"],
        "architecture": [StrOptions({"mlp", "dcgan"})],
        "image_shape": [None, tuple],
        "generator_activation": [StrOptions({"relu", "leaky_relu", "tanh"})],
        "discriminator_activation": [StrOptions({"relu", "leaky_relu", "tanh"})],
        "output_activation": [StrOptions({"identity", "tanh"})],
        "noise": [StrOptions({"normal", "uniform"})],
        "noise_dim": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"non-saturating", "minimax", "wasserstein"})],
        "discriminator_steps": [Interval(Integral, 1, None, closed="left")],
        "pretrain_steps": [Interval(Integral, 0, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "gradient_penalty": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions(set(SOLVERS))],
        "learning_rate": [StrOptions({"constant", "invscaling"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "callbacks": [list, tuple, callable, None],
        "n_jobs": [Integral, None],
    }

    def __init__(self, generator_layer_sizes=(64, 64),
                 discriminator_layer_sizes=(64, 64),
                 *, architecture="mlp", image_shape=None, generator_activation="relu",
                 discriminator_activation="leaky_relu", output_activation="tanh",
                 noise="normal", noise_dim=8, loss="non-saturating",
                 discriminator_steps=1, pretrain_steps=0, label_smoothing=0.0,
                 gradient_penalty=1.0, solver="adam", learning_rate="constant",
                 learning_rate_init=2e-4, power_t=0.5, beta_1=0.5, beta_2=0.999,
                 epsilon=1e-8, momentum=0.9, nesterovs_momentum=True, ema_decay=0.999,
                 batch_size=64, max_iter=200, random_state=None, verbose=0,
                 warm_start=False, callbacks=None, n_jobs=None):
        self.generator_layer_sizes = generator_layer_sizes
        self.discriminator_layer_sizes = discriminator_layer_sizes
        self.architecture = architecture
        self.image_shape = image_shape
        self.generator_activation = generator_activation
        self.discriminator_activation = discriminator_activation
        self.output_activation = output_activation
        self.noise = noise
        self.noise_dim = noise_dim
        self.loss = loss
        self.discriminator_steps = discriminator_steps
        self.pretrain_steps = pretrain_steps
        self.label_smoothing = label_smoothing
        self.gradient_penalty = gradient_penalty
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.ema_decay = ema_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ helpers
    def _layer_sizes(self, name):
        sizes = np.atleast_1d(np.asarray(getattr(self, name)))
        if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype,
                                                                    np.integer) \
                or np.any(sizes < 1):
            raise ValueError(f"{name} must be a non-empty sequence of positive ints; "
                             f"got {getattr(self, name)!r}.")
        return [int(s) for s in sizes]

    def _image_shape(self, n_features):
        if self.image_shape is not None:
            shape = tuple(int(v) for v in self.image_shape)
            if len(shape) == 2:
                shape = (1,) + shape
            if len(shape) != 3 or int(np.prod(shape)) != n_features:
                raise ValueError(f"image_shape={self.image_shape} does not match "
                                 f"{n_features} features.")
        else:
            side = int(round(np.sqrt(n_features)))
            if side * side != n_features:
                raise ValueError(
                    f"architecture='dcgan' needs square single-channel images or an "
                    f"explicit image_shape; got {n_features} features.")
            shape = (1, side, side)
        if shape[1] % 4 or shape[2] % 4:
            raise ValueError(f"architecture='dcgan' needs image sides divisible by 4 "
                             f"(two stride-2 layers); got {shape[1:]}.")
        return shape

    def _networks(self, n_features):
        g_hidden = self._layer_sizes("generator_layer_sizes")
        d_hidden = self._layer_sizes("discriminator_layer_sizes")
        if self.architecture == "dcgan":
            shape = self._image_shape(n_features)
            return (dcgan_generator(g_hidden, shape, self.output_activation),
                    dcgan_discriminator(d_hidden, shape, self.discriminator_activation))
        return (mlp(g_hidden, n_features, self.generator_activation,
                    self.output_activation),
                mlp(d_hidden, 1, self.discriminator_activation))

    def _solver(self, params):
        return make_solver(self.solver, params,
                           learning_rate_init=self.learning_rate_init,
                           schedule=self.learning_rate, power_t=self.power_t,
                           beta_1=self.beta_1, beta_2=self.beta_2,
                           epsilon=self.epsilon, momentum=self.momentum,
                           nesterovs_momentum=self.nesterovs_momentum)

    def _initialize(self, X):
        rng = make_generator(self.random_state)
        n_features = X.shape[1]
        G, D = self._networks(n_features)
        G.build((self.noise_dim,), rng, np.float32)
        D.build((n_features,), rng, np.float32)
        sn = SpectralNorm(D, rng) if self.loss == "wasserstein" else None
        g_opt = self._solver(G.flat_parameters())
        d_opt = self._solver(sn.parameters() if sn is not None
                             else D.flat_parameters())
        fused = (self.solver == "adam" and is_compilable(G) and is_compilable(D))
        Model = FusedGANModel if fused else LayerGANModel
        self._model = Model(
            G, D, g_opt, d_opt, rng=rng, noise=self.noise, loss=self.loss,
            target=1.0 - self.label_smoothing,
            discriminator_steps=self.discriminator_steps,
            pretrain_steps=self.pretrain_steps, penalty=self.gradient_penalty,
            penalty_step=_PENALTY_STEP, ema_decay=self.ema_decay, spectral_norm=sn)
        self._rng = rng
        if self.architecture == "dcgan":
            lo, hi = np.full(n_features, X.min()), np.full(n_features, X.max())
        else:
            lo, hi = X.min(axis=0), X.max(axis=0)
        self.data_min_ = lo.astype(np.float64)
        self.data_max_ = hi.astype(np.float64)
        self._center = (self.data_max_ + self.data_min_) / 2
        half = (self.data_max_ - self.data_min_) / 2
        self._half_range = np.where(half > 0, half, 1.0)
        self._dtype = X.dtype
        self._history = TrainingHistory(False)
        self._publish()

    def _scale(self, X):
        return ((X - self._center) / self._half_range).astype(np.float32)

    def _unscale(self, Z):
        # a column constant in the training data is that constant in every sample
        # (its half range is 1 only to keep the scaling's division finite)
        half = np.where(self.data_max_ > self.data_min_, self._half_range, 0.0)
        return Z.astype(np.float64) * half + self._center

    def _callbacks(self):
        if self.callbacks is None:
            return ()
        return (self.callbacks,) if callable(self.callbacks) else tuple(self.callbacks)

    def _forget(self):
        """A first fit that learned nothing usable leaves the estimator unfitted."""
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name in (
                    "_model", "_history", "_rng"):
                delattr(self, name)

    def _publish(self):
        """Fitted attributes from the training state: the networks ``sample`` and
        ``score_samples`` use (copies: training goes on with its own)."""
        model = self._model
        G = copy.deepcopy(model.G)
        G.flat_params[...] = model.averaged_generator_params()
        D = copy.deepcopy(model.D)
        D.flat_params[...] = model.normalized_discriminator_params()
        self.generator_, self.discriminator_ = G, D
        h = self._history
        self.history_ = h.records
        self.discriminator_loss_curve_ = [r["loss"] for r in h.records]
        self.generator_loss_curve_ = [r["generator_loss"] for r in h.records]
        self.n_iter_ = h.n_iter
        self.t_ = h.t

    def _train(self, X, incremental):
        model = self._model
        model.set_data(self._scale(X))
        try:
            train(model, self._history, estimator=self,
                  n_epochs=1 if incremental else self.max_iter, rng=self._rng,
                  batch_size=min(self.batch_size, X.shape[0]), remedy=_REMEDY,
                  incremental=incremental, early_stopping=False,
                  n_iter_no_change=np.inf, verbose=self.verbose,
                  callbacks=self._callbacks(), warn_max_iter=False,
                  n_jobs=self.n_jobs, blas_threads=1, forget=self._forget)
        finally:
            model.set_data(None)
            if hasattr(self, "_model"):
                self._publish()
        return self

    # ------------------------------------------------------------------ public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the generator and the discriminator on the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored.

        Returns
        -------
        self : GANSampler
            The fitted estimator.
        """
        reset = not (self.warm_start and hasattr(self, "_model"))
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=reset)
        if reset:
            self._initialize(X)
        return self._train(X, incremental=False)

    def partial_fit(self, X, y=None):
        """Train for one epoch over X, continuing from the current state.

        The first call initialises the networks and learns the scaling from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored.

        Returns
        -------
        self : GANSampler
            The updated estimator.
        """
        first = not hasattr(self, "_model")
        if first:
            self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=first)
        if first:
            self._initialize(X)
        return self._train(X, incremental=True)

    def sample(self, n_samples=1, random_state=None):
        """Draw rows from the generator, in the scale of the training data.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the noise. None uses the estimator's ``random_state`` (so an int
            there gives the same rows at every call, as ``GaussianMixture`` does).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Generated rows, in the dtype of the training data.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
        rs = self.random_state if random_state is None else random_state
        z = draw_noise(make_generator(rs), self.noise, (n_samples, self.noise_dim))
        with numba_threads(self.n_jobs):
            out = np.concatenate([self.generator_.forward(z[i:i + 4096])
                                  for i in range(0, n_samples, 4096)])
        return self._unscale(out).astype(self._dtype)

    def score_samples(self, X):
        """Discriminator logit of each row: larger means "looks more real".

        A heuristic of how well a row matches what D learned, not a log-density.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Xs = self._scale(X)
        with numba_threads(self.n_jobs):
            out = [self.discriminator_.forward(Xs[i:i + 512])[:, 0]
                   for i in range(0, Xs.shape[0], 512)]
        return (np.concatenate(out) if out else np.empty(0)).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        return tags
