"""VariationalAutoencoder: a VAE (MLP or convolutional) with scikit-learn's API.

The maths (ELBO, reparameterisation, KL, likelihoods) is :mod:`sknets.vae._elbo`; the
networks are :mod:`sknets.vae._networks` on :mod:`sknets.nn`; training is the shared
loop of :mod:`sknets.nn._training`, driven by :class:`VAEModel` below.
"""

from numbers import Integral

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted

from sknets.nn._estimator import forward_in_chunks
from sknets.nn._training import MinibatchModel, validation_split
from sknets.utils._random import make_generator
from sknets.utils._threads import numba_threads
from sknets.vae import _elbo
from sknets.vae._base import (
    _ATTRS_DOC,
    _EVAL_CHUNK,
    _PARAMS_DOC,
    BaseVAE,
    clip_log_variance,
    decoder_mean,
    likelihood_terms,
    score_draws,
    step_log_variance,
)
from sknets.vae._fused import fused_epoch_plan
from sknets.vae._networks import decoder_layers, encoder_layers, linear_init

__all__ = ["VariationalAutoencoder", "VAEModel", "evaluate_elbo"]


def kl_weight_at(epoch, kl_weight, kl_warmup):
    """The KL weight of 1-based ``epoch``: a linear warm-up, then ``kl_weight``."""
    if kl_warmup <= 0:
        return float(kl_weight)
    return float(kl_weight) * min(1.0, epoch / kl_warmup)


def evaluate_elbo(encoder, decoder, log_var, likelihood, X, draws):
    """Per-row ELBO, reconstruction log-likelihood and KL, in inference mode.

    The reconstruction term is averaged over ``draws`` (S standard-normal vectors,
    the same for every row), so the result is deterministic and a row's value does
    not depend on the other rows.
    """
    n, d = X.shape[0], draws.shape[1]
    S = draws.shape[0]
    chunk = max(1, _EVAL_CHUNK // S)
    ll = np.empty(n)
    kl = np.empty(n)
    for start in range(0, n, chunk):
        xc = X[start:start + chunk]
        c = xc.shape[0]
        h = encoder.forward(xc, training=False)
        mu, lv = h[:, :d], h[:, d:]
        kl[start:start + c] = _elbo.kl_standard_normal(mu, lv)[0]
        std = np.exp(0.5 * lv)
        z = (mu[:, None, :] + std[:, None, :] * draws[None]).reshape(c * S, d)
        out = decoder.forward(z, training=False)
        x_rep = np.repeat(xc, S, axis=0)
        rows = likelihood_terms(likelihood, out, x_rep, log_var)[0]
        ll[start:start + c] = rows.reshape(c, S).mean(axis=1)
    return ll - kl, ll, kl


class VAEModel(MinibatchModel):
    """One VAE training problem for :func:`sknets.nn._training.train`.

    ``train_batch`` computes minus the ELBO of a minibatch (one reparameterised
    sample per row, analytic KL weighted by the warm-up schedule) and its gradient
    through the decoder, the reparameterisation and the encoder, then takes one
    optimizer step.
    """

    def __init__(self, encoder, decoder, log_var_net, log_var, optimizer, X,
                 likelihood, n_components, rng, kl_weight, kl_warmup, epoch,
                 validation=None):
        self.encoder, self.decoder = encoder, decoder
        self.log_var_net, self.log_var = log_var_net, log_var
        self.optimizer = optimizer
        self.optimizers = [optimizer]
        self.X, self.likelihood, self.d = X, likelihood, n_components
        self.rng = rng
        self.kl_weight, self.kl_warmup = kl_weight, kl_warmup
        self.epoch = epoch
        self.validation = validation
        self.n_samples = X.shape[0]
        self.nets = [encoder, decoder] + ([log_var_net] if log_var_net else [])

    fused = True
    _plan = None
    _eps = None

    def train_epoch(self, order, batch_size, check):
        self.epoch += 1
        self.beta = kl_weight_at(self.epoch, self.kl_weight, self.kl_warmup)
        # the epoch's reparameterisation noise, one row per row of ``order``: the
        # fused kernel and the minibatch steps consume the same numbers
        eps = self.rng.standard_normal((len(order), self.d), dtype=self.X.dtype)
        plan = self._fused_plan(batch_size) if self.fused else None
        if plan is None:
            self._eps, self._pos = eps, 0
            try:
                return super().train_epoch(order, batch_size, check)
            finally:
                self._eps = None
        losses = plan.run(self.X, order, eps, batch_size, self.beta, self.likelihood,
                          self.log_var)
        sizes = np.diff(np.append(np.arange(0, len(order), batch_size), len(order)))
        for b, loss in enumerate(losses[:, 0]):
            check(float(loss), b)
        means = sizes @ losses / len(order)
        return dict(zip(("loss", "elbo", "reconstruction", "kl"), means.tolist()))

    def _fused_plan(self, batch_size):
        if self._plan is None or self._plan.batch_size != batch_size:
            self._plan = fused_epoch_plan(self.encoder, self.decoder, self.log_var_net,
                                          self.optimizer, batch_size)
            if self._plan is None:
                self.fused = False
        return self._plan

    def train_batch(self, idx):
        x = self.X[idx]
        n, d = x.shape[0], self.d
        f = x.dtype.type
        h = self.encoder.forward(x, training=True)
        mu, logvar = h[:, :d], h[:, d:]
        if self._eps is None:
            eps = self.rng.standard_normal((n, d), dtype=x.dtype)
        else:
            eps = self._eps[self._pos:self._pos + n]
            self._pos += n
        z, std = _elbo.reparameterize(mu, logvar, eps)
        out = self.decoder.forward(z, training=True)
        ll, d_out, d_lv_rows = likelihood_terms(self.likelihood, out, x, self.log_var)
        kl, d_mu_kl, d_lv_kl = _elbo.kl_standard_normal(mu, logvar)
        beta = self.beta
        d_out *= f(-1.0 / n)
        d_z = self.decoder.backward(d_out)
        d_mu, d_lv = _elbo.reparameterize_backward(d_z, eps, std)
        d_h = np.concatenate([d_mu + f(beta / n) * d_mu_kl,
                              d_lv + f(beta / n) * d_lv_kl], axis=1)
        self.encoder.backward(d_h)
        if self.log_var_net is not None:
            step_log_variance(self.log_var_net, d_lv_rows, n)
        self.optimizer.step()
        if self.log_var_net is not None:
            clip_log_variance(self.log_var)
        ll_mean, kl_mean = float(ll.mean()), float(kl.mean())
        return {"loss": -ll_mean + beta * kl_mean, "elbo": ll_mean - kl_mean,
                "reconstruction": -ll_mean, "kl": kl_mean}

    def get_state(self):
        return {"nets": [net.get_state() for net in self.nets],
                "opt": self.optimizer.get_state(), "epoch": self.epoch}

    def set_state(self, state):
        for net, s in zip(self.nets, state["nets"]):
            net.set_state(s)
        self.optimizer.set_state(state["opt"])
        self.epoch = state["epoch"]

    def is_finite(self):
        return all(net.is_finite() for net in self.nets)

    def validation_score(self):
        """Mean ELBO of the validation rows (fixed draws, inference mode)."""
        X_val = self.validation
        draws = score_draws(self.d, X_val.dtype)
        return float(evaluate_elbo(self.encoder, self.decoder, self.log_var,
                                   self.likelihood, X_val, draws)[0].mean())


class VariationalAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                             BaseVAE):
    __doc__ = """Variational autoencoder (numpy and Numba, no deep-learning library).

    An encoder maps each row to a Gaussian posterior over a code of ``n_components``
    dimensions, a decoder maps codes back to the distribution of the rows; both are
    trained together by maximising the evidence lower bound (ELBO) with the
    reparameterisation trick and the analytic KL divergence against the N(0, I)
    prior (Kingma & Welling, 2014). The networks are dense (``architecture="mlp"``)
    or convolutional (``"conv"``), with batch normalization in the hidden layers by
    default.

    ``transform`` gives the posterior means of the code (features for a downstream
    estimator), ``inverse_transform`` the decoder's mean for given codes, ``sample``
    new rows, ``score_samples`` the ELBO of each row in nats (a lower bound of its
    log-likelihood) and ``score`` its mean.

    Parameters
    ----------
    n_components : int, default=10
        Dimension of the code.""" + _PARAMS_DOC + """
    Attributes
    ----------
    encoder_ : sknets.nn.Sequential
        Rows -> ``2 * n_components`` outputs: the posterior means, then the
        log-variances.
    decoder_ : sknets.nn.Sequential
        Codes -> the likelihood's parameters per feature (Bernoulli logits or
        Gaussian means, in the standardised units).""" + _ATTRS_DOC + """
    See Also
    --------
    VAEClassifier : The semi-supervised VAE (M2), a classifier for partly labelled
        data.
    sklearn.decomposition.PCA : A linear code, the MLP VAE's baseline.
    sklearn.neural_network.BernoulliRBM : Another generative model of [0, 1] data.

    Notes
    -----
    The MLP's Dense layers followed by batch norm and its linear output layers start
    from ``U(-1/sqrt(n_in), 1/sqrt(n_in))`` (PyTorch's ``Linear`` default), the
    others from He/Glorot. On digits (``benchmarks/bench_vae.py``, seeds 0-9) Glorot
    weights there trained slower: test ELBO after 40 epochs -25.28 against -25.09
    (PyTorch's MLP VAE: -25.09), after 100 epochs -24.91 against -24.78.

    ``score_samples`` averages the reconstruction term over 32 standard-normal draws
    of the reparameterisation, the same draws for every row: the score is
    deterministic, row by row, and unbiased for the ELBO. Inference (``transform``,
    ``score_samples``, ``inverse_transform``) runs in float64 from the trained
    weights, with the batch-norm running statistics.

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

    D. J. Rezende, S. Mohamed and D. Wierstra, "Stochastic Backpropagation and
    Approximate Inference in Deep Generative Models", ICML 2014.

    S. Ioffe and C. Szegedy, "Batch normalization", ICML 2015.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknets import VariationalAutoencoder
    >>> X, _ = load_digits(return_X_y=True)
    >>> X = X / 16.0                                  # Bernoulli likelihood: [0, 1]
    >>> vae = VariationalAutoencoder(n_components=2, max_iter=5, random_state=0)
    >>> codes = vae.fit_transform(X)
    >>> codes.shape
    (1797, 2)
    >>> vae.inverse_transform(codes[:3]).shape
    (3, 64)
    >>> vae.sample(4, random_state=0).shape
    (4, 64)
    >>> bool(vae.score(X) < 0)                        # the mean ELBO, in nats
    True
    """

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_components=10, *, hidden_layer_sizes=(512,),
                 architecture="mlp", filters=(32, 64), image_shape=None,
                 activation="relu", batch_norm=True,
                 likelihood="bernoulli", variance="learned", kl_weight=1.0,
                 kl_warmup=0, solver="adam", batch_size=100, learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=100, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, callbacks=None, dtype="float32", n_jobs=None):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.architecture = architecture
        self.filters = filters
        self.image_shape = image_shape
        self.activation = activation
        self.batch_norm = batch_norm
        self.likelihood = likelihood
        self.variance = variance
        self.kl_weight = kl_weight
        self.kl_warmup = kl_warmup
        self.solver = solver
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

    # ------------------------------------------------------------------ fit

    def _initialize(self, X, image_shape, ndim):
        self._start()
        self.image_shape_, self._input_ndim = image_shape, ndim
        self._set_scaling(X)
        n_features, d = X.shape[1], int(self.n_components)
        trunk, head = encoder_layers(self.architecture, image_shape, self._hidden(),
                                     self._filters(), 2 * d, self.activation,
                                     self.batch_norm)
        self.encoder_ = self._build(trunk + head, (n_features,))
        self.decoder_ = self._build(
            decoder_layers(self.architecture, image_shape, self._hidden(),
                           self._filters(), n_features, self.activation,
                           self.batch_norm), (d,))
        if self.architecture == "mlp":
            linear_init(self.encoder_, self._rng)
            linear_init(self.decoder_, self._rng)
        self._log_var_net, self.log_variance_ = self._build_log_variance(n_features)
        nets = [self.encoder_, self.decoder_]
        if self._log_var_net is not None:
            nets.append(self._log_var_net)
        self._optimizer = self._make_optimizer(nets)
        self._new_history(self.early_stopping)

    def _fit(self, X, incremental, first):
        self._drop_inference()
        Xs = self._scaled(X)
        validation = None
        if self.early_stopping and not incremental:
            tr, va = validation_split(Xs.shape[0], self.validation_fraction, self._rng)
            validation, Xs = Xs[va], Xs[tr]
        log_var = (self._log_var_net.layers[0].value if self._log_var_net is not None
                   else self.log_variance_)
        model = VAEModel(self.encoder_, self.decoder_, self._log_var_net, log_var,
                         self._optimizer, Xs, self.likelihood, int(self.n_components),
                         self._rng, self.kl_weight, self.kl_warmup,
                         self._history.n_iter, validation)
        self._run_training(model, incremental=incremental,
                           forget=self._forget if first else None)
        # whether the last fit ran the fused epoch kernel (tests compare both paths)
        self._fit_model_fused = bool(model.fused)
        if hasattr(self, "encoder_") and self._log_var_net is not None:
            self.log_variance_ = self._log_var_net.layers[0].value.copy()
        self._ready_inference()
        return self

    def _fitted_net(self):
        return "encoder_"

    def _fit_or_partial(self, X, incremental):
        warm = hasattr(self, "encoder_") and (incremental or self.warm_start)
        X, image_shape, ndim = self._validate_X(X, reset=not warm)
        self._check_unit_range(X)
        if not warm:
            self._initialize(X, image_shape, ndim)
        return self._fit(X, incremental=incremental, first=not warm)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the VAE to the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training rows (in [0, 1] for the Bernoulli likelihood); 4-D images with
            ``architecture="conv"``.
        y : None
            Ignored.

        Returns
        -------
        self : VariationalAutoencoder
        """
        return self._fit_or_partial(X, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over X, continuing from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : None
            Ignored.

        Returns
        -------
        self : VariationalAutoencoder
        """
        return self._fit_or_partial(X, incremental=True)

    # ------------------------------------------------------------------ inference

    def _inference(self):
        # float64 copies of the trained networks: a row's result then does not
        # depend on the other rows of the call (float32 BLAS rounding does); made
        # once per fitted state, not pickled
        nets = self.__dict__.get("_inference_nets")
        if nets is None:
            log_var = (None if self.log_variance_ is None
                       else self.log_variance_.astype(np.float64))
            nets = self._inference_nets = (self.encoder_.astype(np.float64),
                                           self.decoder_.astype(np.float64), log_var)
        return nets

    def _rows(self, X):
        check_is_fitted(self, "encoder_")
        X, _, _ = self._validate_X(X, reset=False)
        return X

    def _posterior(self, X, validated=False):
        """Means and log-variances of q(z | x) (float64)."""
        if not validated:
            X = self._rows(X)
        encoder = self._inference()[0]
        with numba_threads(self.n_jobs):
            h = forward_in_chunks(encoder, self._scaled(X, np.float64))
        d = int(self.n_components)
        return h[:, :d], h[:, d:]

    def transform(self, X):
        """Posterior means of the code.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            In the dtype of X (float64 for non-float input).
        """
        X = self._rows(X)
        return self._posterior(X, validated=True)[0].astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """The decoder's mean for codes X (the expected row given the code).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features) or (n_samples, C, H, W)
            Rows in the units of the training data (images when fitted on 4-D
            input).
        """
        check_is_fitted(self, "encoder_")
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components:
            raise ValueError(f"X has {Z.shape[1]} features, but {type(self).__name__} "
                             f"has n_components={self.n_components}")
        decoder = self._inference()[1]
        with numba_threads(self.n_jobs):
            out = forward_in_chunks(decoder, Z.astype(np.float64))
        rows = self._unscaled(decoder_mean(self.likelihood, out))
        return self._as_output(rows.astype(Z.dtype, copy=False))

    def sample(self, n_samples=1, random_state=None):
        """Draw codes from the N(0, I) prior and return the decoder's means.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the codes. None uses the estimator's ``random_state`` (an int there
            gives the same rows at every call, as ``GaussianMixture.sample``).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features) or (n_samples, C, H, W)
            Generated rows (float64), in the units of the training data.
        """
        check_is_fitted(self, "encoder_")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
        rng = make_generator(self.random_state if random_state is None
                             else random_state)
        return self.inverse_transform(
            rng.standard_normal((int(n_samples), int(self.n_components))))

    def _elbo_terms(self, X):
        X = self._rows(X)
        self._check_unit_range(X)
        encoder, decoder, log_var = self._inference()
        draws = score_draws(int(self.n_components), np.float64)
        with numba_threads(self.n_jobs), np.errstate(over="ignore"):
            elbo, ll, kl = evaluate_elbo(encoder, decoder, log_var, self.likelihood,
                                         self._scaled(X, np.float64), draws)
        # the Gaussian density of the standardised rows, in the units of X
        jac = float(np.log(self.input_scale_).sum())
        return elbo - jac, ll - jac, kl

    def score_samples(self, X):
        """ELBO of each row in nats: a lower bound of its log-likelihood.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        elbo : ndarray of shape (n_samples,)
        """
        return self._elbo_terms(X)[0]

    def score(self, X, y=None):
        """Mean ELBO of the rows of X, in nats per row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return int(self.n_components)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
