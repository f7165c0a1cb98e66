"""GANSampler: a generative adversarial network with a scikit-learn face."""

import time
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sknets.gan import _kernels as K
from sknets.gan._backends import (
    FusedMLPGAN, LayerGAN, dcgan_discriminator, dcgan_generator, mlp_sequential,
)
from sknets.utils._random import make_generator
from sknets.utils._threads import numba_threads
from sknets.utils._validation import check_finite_params

_ACTIVATIONS = {"identity": K.IDENTITY, "relu": K.RELU, "leaky_relu": K.LEAKY_RELU,
                "tanh": K.TANH}
_LOSS_CODES = {"non-saturating": K.NON_SATURATING, "minimax": K.MINIMAX,
               "wasserstein": K.WASSERSTEIN}
_REMEDY = ("lower learning_rate_init, use loss='non-saturating', add label_smoothing "
           "(e.g. 0.1) or make the networks smaller")


class GANSampler(BaseEstimator):
    """Generative adversarial network that learns the distribution of X's rows.

    ``fit(X)`` trains a generator G and a discriminator (critic) D against each other
    (Goodfellow et al., 2014); ``sample(n)`` draws new rows from G, in the scale of X,
    as :meth:`sklearn.mixture.GaussianMixture.sample` does; ``score_samples(X)`` gives
    D's logit for each row (how real a row looks to D: a heuristic, not a density).

    With ``architecture="mlp"`` both networks are multilayer perceptrons; with Adam they
    are trained by a fused Numba step (one kernel call per epoch: minibatches, forward
    and backward passes of both networks, Adam updates, no allocation per step). With
    ``architecture="dcgan"`` (small images) or another solver, the networks are
    :class:`sknets.nn.Sequential` stacks of the project's layer library and the
    training loop steps through them. The inputs are scaled internally, feature by
    feature, to [-1, 1] (the range of a tanh output); samples are mapped back.

    Parameters
    ----------
    generator_layer_sizes : tuple of int, default=(64, 64)
        Widths of G's hidden layers. With ``architecture="dcgan"``: channel counts,
        the first at a quarter of the image side (after a dense layer from the noise),
        the next ones after the first 2x upsampling.
    discriminator_layer_sizes : tuple of int, default=(64, 64)
        Widths of D's hidden layers. With ``architecture="dcgan"``: channel counts of
        its stride-2 3x3 convolutions (each halves the image side).
    architecture : {"mlp", "dcgan"}, default="mlp"
        ``"mlp"`` for tabular rows and flattened images. ``"dcgan"`` for single-channel
        images given as flattened rows: G is dense -> feature map -> (2x nearest
        upsampling, 3x3 convolution, batch norm, relu) -> 3x3 convolution ->
        output activation; D is stride-2 convolutions with leaky relu -> dense logit
        (Radford et al., 2015, with upsampling in place of transposed convolutions).
    image_shape : tuple (height, width) or None, default=None
        Image size for ``"dcgan"``; None infers square images from the number of
        features. Both sides must be divisible by 4.
    generator_activation : {"relu", "leaky_relu", "tanh"}, default="relu"
        Hidden activation of G.
    discriminator_activation : {"leaky_relu", "relu", "tanh"}, default="leaky_relu"
        Hidden activation of D (leaky relu with slope 0.2).
    output_activation : {"identity", "tanh"}, default="identity"
        Activation of G's output layer. ``"tanh"`` keeps samples inside the range seen
        in ``fit`` (good for images such as pixel intensities).
    noise : {"normal", "uniform"}, default="normal"
        Distribution of G's input: standard normal, or uniform on [-1, 1].
    noise_dim : int, default=8
        Dimension of G's input.
    loss : {"non-saturating", "minimax", "wasserstein"}, default="non-saturating"
        ``"non-saturating"``: G minimises ``-log D(G(z))``; ``"minimax"``: G minimises
        ``log(1 - D(G(z)))`` (the original game, which saturates early in training);
        ``"wasserstein"``: WGAN critic with a Lipschitz constraint by spectral
        normalisation of every critic layer (Miyato et al., 2018; one power iteration
        per layer per step). Spectral normalisation is used rather than the gradient
        penalty because it needs only first-order gradients (no double backward
        pass) and costs one matrix-vector product pair per layer. All losses are
        computed from logits in numerically stable form.
    discriminator_steps : int, default=1
        D updates per G update (5 is usual with ``loss="wasserstein"``).
    pretrain_steps : int, default=0
        D updates before the first G update (counted at the first fit only).
    label_smoothing : float, default=0.0
        One-sided label smoothing: the real rows' target is ``1 - label_smoothing``.
        Ignored with ``loss="wasserstein"``.
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"}, \
            default="adam"
        Optimizer of both networks (from :mod:`sknets.nn.optimizers`). Only
        ``"adam"`` with ``architecture="mlp"`` runs the fused Numba step.
    learning_rate_init : float, default=2e-4
        Step size of the optimizer.
    beta_1, beta_2 : float, default=0.5, 0.999
        Adam's decay rates (0.5 as DCGAN recommends).
    epsilon : float, default=1e-8
        Numerical stabiliser of Adam, RMSprop and Adagrad.
    momentum : float, default=0.9
        Momentum of ``solver="momentum"`` and ``"nesterov"``.
    ema_decay : float, default=0.999
        ``sample`` uses an exponential moving average of G's parameters over the
        generator steps, with this decay (Yazici et al., 2019), bias-corrected as
        Adam's moments are; it damps the oscillation of GAN training. 0 uses the last
        parameters.
    batch_size : int, default=64
        Rows per minibatch (capped by the number of rows).
    max_iter : int, default=200
        Number of epochs (passes over X) of ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, minibatch order and noise. An int makes ``fit``
        reproducible, and ``sample`` too when its own ``random_state`` is None.
    verbose : int, default=0
        Print losses and time every epoch if > 0.
    warm_start : bool, default=False
        If True, ``fit`` continues training from the previous solution.

    Attributes
    ----------
    generator_loss_curve_ : list of float
        Mean generator loss of each epoch.
    discriminator_loss_curve_ : list of float
        Mean discriminator loss of each epoch.
    n_iter_ : int
        Number of epochs run (all calls of ``fit`` with ``warm_start`` and
        ``partial_fit`` together).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``; only when X has string column names.
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
        Per-feature range seen at the first fit; used to scale to [-1, 1].
    generator_params_ : ndarray
        G's flat parameter vector (float32), last iterate (not averaged).
    discriminator_params_ : ndarray
        D's flat parameter vector (float32), as used by ``score_samples`` (spectrally
        normalised with ``loss="wasserstein"``).

    See Also
    --------
    sklearn.mixture.GaussianMixture : A density model with ``sample``.
    sklearn.neighbors.KernelDensity : A density model with ``sample``.

    Notes
    -----
    Computations run in float32 whatever the input dtype; samples come back in the
    dtype of the training data (float32 stays float32). ``GridSearchCV`` needs an
    explicit ``scoring`` (a GAN has no natural score): e.g. a callable comparing
    ``sample`` to the held-out rows.

    References
    ----------
    .. [1] Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    .. [2] Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep
       Convolutional Generative Adversarial Networks", 2015.
    .. [3] Arjovsky, Chintala and Bottou, "Wasserstein GAN", ICML 2017.
    .. [4] Miyato et al., "Spectral Normalization for Generative Adversarial Networks",
       ICLR 2018.
    .. [5] Yazici et al., "The Unusual Effectiveness of Averaging in GAN Training",
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
        "loss": [StrOptions(set(_LOSS_CODES))],
        "discriminator_steps": [Interval(Integral, 1, None, closed="left")],
        "pretrain_steps": [Interval(Integral, 0, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions({"adam", "sgd", "momentum", "nesterov", "rmsprop",
                               "adagrad"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(self, generator_layer_sizes=(64, 64),
                 discriminator_layer_sizes=(64, 64),
                 *, architecture="mlp", image_shape=None, generator_activation="relu",
                 discriminator_activation="leaky_relu", output_activation="identity",
                 noise="normal", noise_dim=8, loss="non-saturating",
                 discriminator_steps=1, pretrain_steps=0, label_smoothing=0.0,
                 solver="adam", learning_rate_init=2e-4, beta_1=0.5, beta_2=0.999,
                 epsilon=1e-8, momentum=0.9, ema_decay=0.999, batch_size=64,
                 max_iter=200, random_state=None, verbose=0, warm_start=False):
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
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.momentum = momentum
        self.ema_decay = ema_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ helpers
    def _layer_sizes(self, name):
        sizes = np.atleast_1d(np.asarray(getattr(self, name)))
        if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype,
                                                                    np.integer) \
                or np.any(sizes < 1):
            raise ValueError(f"{name} must be a non-empty sequence of positive ints; "
                             f"got {getattr(self, name)!r}.")
        return [int(s) for s in sizes]

    def _scale(self, X):
        return ((X - self._center) / self._half_range).astype(np.float32)

    def _unscale(self, Z):
        return Z.astype(np.float64) * self._half_range + self._center

    def _draw_noise(self, rng, shape):
        if self.noise == "normal":
            return rng.standard_normal(shape, dtype=np.float32)
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)

    def _image_shape(self, n_features):
        if self.image_shape is not None:
            h, w = (int(v) for v in self.image_shape)
            if h * w != n_features:
                raise ValueError(f"image_shape={self.image_shape} does not match "
                                 f"{n_features} features.")
        else:
            h = int(round(np.sqrt(n_features)))
            if h * h != n_features:
                raise ValueError(
                    f"architecture='dcgan' needs square single-channel images or an "
                    f"explicit image_shape; got {n_features} features.")
            w = h
        if h % 4 or w % 4:
            raise ValueError(f"architecture='dcgan' needs image sides divisible by 4 "
                             f"(two 2x upsamplings); got {(h, w)}.")
        return h, w

    def _initialize(self, X, rng):
        n_features = X.shape[1]
        g_hidden = self._layer_sizes("generator_layer_sizes")
        d_hidden = self._layer_sizes("discriminator_layer_sizes")
        out_code = _ACTIVATIONS[self.output_activation]
        use_sn = self.loss == "wasserstein"
        if self.architecture == "dcgan":
            shape = self._image_shape(n_features)
            G = dcgan_generator(self.noise_dim, g_hidden, shape, out_code)
            D = dcgan_discriminator(d_hidden, shape)
        else:
            g_sizes = [self.noise_dim, *g_hidden, n_features]
            d_sizes = [n_features, *d_hidden, 1]
            g_act = [_ACTIVATIONS[self.generator_activation]] * len(g_hidden)
            g_act.append(out_code)
            d_act = [_ACTIVATIONS[self.discriminator_activation]] * len(d_hidden)
            d_act.append(K.IDENTITY)
        if self.architecture == "mlp" and self.solver == "adam":
            self._engine = FusedMLPGAN(g_sizes, g_act, d_sizes, d_act, rng,
                                       use_sn=use_sn, pretrain=self.pretrain_steps)
        else:
            if self.architecture == "mlp":
                G, D = mlp_sequential(g_sizes, g_act), mlp_sequential(d_sizes, d_act)
            kwargs = {"learning_rate": self.learning_rate_init}
            if self.solver == "adam":
                kwargs.update(beta_1=self.beta_1, beta_2=self.beta_2,
                              epsilon=self.epsilon)
            elif self.solver in ("momentum", "nesterov"):
                kwargs.update(momentum=self.momentum)
            elif self.solver in ("rmsprop", "adagrad"):
                kwargs.update(epsilon=self.epsilon)
            self._engine = LayerGAN(G, D, self.noise_dim, n_features, rng,
                                    solver=self.solver, opt_kwargs=kwargs,
                                    use_sn=use_sn,
                                    pretrain=self.pretrain_steps)
        self.data_min_ = X.min(axis=0).astype(np.float64)
        self.data_max_ = X.max(axis=0).astype(np.float64)
        self._center = (self.data_max_ + self.data_min_) / 2
        half = (self.data_max_ - self.data_min_) / 2
        self._half_range = np.where(half > 0, half, 1.0)
        self._rng = rng
        self._dtype = X.dtype
        self.generator_loss_curve_ = []
        self.discriminator_loss_curve_ = []
        self.n_iter_ = 0

    def _forget(self):
        """Drop the diverged model: no NaN model must stay usable after the error."""
        for name in list(vars(self)):
            if name.endswith("_") and not name.startswith("__") or name == "_engine":
                delattr(self, name)

    def _threads(self):
        """Thread limit for the layer library's parallel kernels (the fused MLP kernel
        is single-threaded and needs none)."""
        if isinstance(self._engine, FusedMLPGAN):
            return nullcontext()
        return numba_threads()

    def _run_epochs(self, Xs, n_epochs):
        with self._threads():
            self._run_epochs_unlimited(Xs, n_epochs)

    def _run_epochs_unlimited(self, Xs, n_epochs):
        engine = self._engine
        rng = self._rng
        n = Xs.shape[0]
        bs = min(self.batch_size, n)
        n_batches = (n + bs - 1) // bs
        smoothing = 0.0 if self.loss == "wasserstein" else self.label_smoothing
        hyper = np.array([self.learning_rate_init, self.beta_1, self.beta_2,
                          self.epsilon, smoothing, self.ema_decay], dtype=np.float64)
        loss_code = _LOSS_CODES[self.loss]
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            perm = rng.permutation(n).astype(np.int64)
            noise_d = self._draw_noise(rng, (n_batches, bs, self.noise_dim))
            noise_g = self._draw_noise(rng, (n_batches, bs, self.noise_dim))
            losses = np.zeros(4, dtype=np.float64)
            status = engine.run_epoch(Xs, perm, bs, noise_d, noise_g, hyper, loss_code,
                                      self.discriminator_steps, losses)
            if status != 0:
                epoch = self.n_iter_ + 1
                self._forget()
                raise ValueError(
                    f"GANSampler diverged in epoch {epoch}: a loss became "
                    f"NaN or infinite (learning_rate_init={self.learning_rate_init}). "
                    f"Try to {_REMEDY}.")
            try:
                check_finite_params(engine.params(), estimator_name="GANSampler",
                                    remedy=_REMEDY)
            except ValueError:
                self._forget()
                raise
            self.n_iter_ += 1
            d_loss = losses[0] / max(losses[1], 1)
            g_loss = losses[2] / losses[3] if losses[3] > 0 else np.nan
            self.discriminator_loss_curve_.append(float(d_loss))
            self.generator_loss_curve_.append(float(g_loss))
            if self.verbose:
                print(f"Epoch {self.n_iter_}: discriminator loss = {d_loss:.5f}, "
                      f"generator loss = {g_loss:.5f}, "
                      f"time = {time.perf_counter() - t0:.3f}s")
        engine.finish()
        self.generator_params_ = engine.params()["generator"].copy()
        self.discriminator_params_ = engine.params()["discriminator"].copy()

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
        reset = not (self.warm_start and hasattr(self, "_engine"))
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=reset)
        if reset:
            self._initialize(X, make_generator(self.random_state))
        self._run_epochs(self._scale(X), self.max_iter)
        return self

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
        first = not hasattr(self, "_engine")
        if first:
            self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=first)
        if first:
            self._initialize(X, make_generator(self.random_state))
        self._run_epochs(self._scale(X), 1)
        return self

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
        rng = make_generator(rs)
        z = self._draw_noise(rng, (n_samples, self.noise_dim))
        with self._threads():
            out = np.concatenate([
                self._engine.generate(z[i:i + 4096], self.ema_decay)
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
        with self._threads():
            return self._engine.discriminate(self._scale(X)).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        return tags
