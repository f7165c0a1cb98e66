"""VAEClassifier: the semi-supervised VAE "M2" of Kingma, Rezende, Mohamed & Welling
(2014), optionally on the codes of a VariationalAutoencoder ("M1 + M2").

The bounds (labelled, unlabelled with the sum over classes, the alpha-weighted
classification term) are derived in :mod:`sknets.vae._elbo`; :class:`M2Model` below
computes them on a minibatch and back-propagates through the three networks
(classifier q(y|x), encoder q(z|x,y), decoder p(x|y,z)) for the shared training loop.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from sknets.nn import log_softmax, softmax
from sknets.nn._estimator import forward_in_chunks
from sknets.nn._training import MinibatchModel, validation_split
from sknets.utils._random import make_generator
from sknets.utils._threads import numba_threads
from sknets.vae import _elbo
from sknets.vae._base import (
    _ATTRS_DOC,
    _PARAMS_DOC,
    BaseVAE,
    clip_log_variance,
    decoder_mean,
    likelihood_terms,
    step_log_variance,
)
from sknets.vae._networks import classifier_layers, decoder_layers, encoder_layers
from sknets.vae._vae import VariationalAutoencoder, kl_weight_at

__all__ = ["VAEClassifier", "M2Model"]

#: the label of an unlabelled row (scikit-learn's semi-supervised convention)
UNLABELLED = -1


def _one_hot(labels, n_classes, dtype):
    out = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


class M2Model(MinibatchModel):
    """The M2 training problem for :func:`sknets.nn._training.train`.

    ``Y`` holds class indices, -1 on unlabelled rows. A minibatch's labelled rows go
    through the encoder and decoder once with their label, its unlabelled rows once
    per class; the loss is minus the mean of the bounds plus ``alpha`` times the
    cross-entropy of the labelled rows (scaled by ``n_rows / n_labelled`` so that its
    epoch mean is the mean over the labelled rows). With ``features=(mu, std)`` the
    rows are drawn from the M1 posterior at every minibatch, ``mu + std * eps``.
    """

    def __init__(self, nets, optimizer, X, Y, n_classes, likelihood, n_components,
                 rng, alpha, kl_weight, kl_warmup, epoch, log_var=None, features=None,
                 validation=None):
        self.trunk = nets["trunk"]
        self.encoder, self.decoder = nets["encoder"], nets["decoder"]
        self.classifier = nets["classifier"]
        self.log_var_net = nets.get("log_var")
        self.log_var = log_var
        self.nets = [net for net in (self.trunk, self.encoder, self.decoder,
                                     self.classifier, self.log_var_net) if net]
        self.optimizer = optimizer
        self.optimizers = [optimizer]
        self.X, self.Y, self.K = X, Y, int(n_classes)
        self.likelihood, self.d = likelihood, int(n_components)
        self.rng = rng
        self.features = features
        n_labelled = int(np.count_nonzero(Y >= 0))
        self.ce_scale = Y.shape[0] / max(n_labelled, 1)
        self.alpha = float(alpha)
        self.kl_weight, self.kl_warmup = kl_weight, kl_warmup
        self.epoch = epoch
        self.validation = validation
        self.n_samples = X.shape[0]
        self.log_prior = -np.log(self.K)

    def train_epoch(self, order, batch_size, check):
        self.epoch += 1
        self.beta = kl_weight_at(self.epoch, self.kl_weight, self.kl_warmup)
        return super().train_epoch(order, batch_size, check)

    def _rows(self, idx):
        if self.features is None:
            return self.X[idx]
        mu, std = self.features
        eps = self.rng.standard_normal(mu[idx].shape, dtype=mu.dtype)
        return mu[idx] + std[idx] * eps

    def train_batch(self, idx):
        x, y = self._rows(idx), self.Y[idx]
        n, K, d = x.shape[0], self.K, self.d
        dtype = x.dtype
        f = dtype.type
        lab = np.flatnonzero(y >= 0)
        unl = np.flatnonzero(y < 0)
        n_l, n_u = lab.size, unl.size
        # every (row, class) pair the bounds need: labelled rows with their label,
        # unlabelled rows with each class
        src = np.concatenate([lab, np.repeat(unl, K)])
        cls = np.concatenate([y[lab], np.tile(np.arange(K), n_u)])
        onehot = _one_hot(cls, K, dtype)

        feats = x if self.trunk is None else self.trunk.forward(x, training=True)
        h = self.encoder.forward(np.concatenate([feats[src], onehot], axis=1),
                                 training=True)
        mu, logvar = h[:, :d], h[:, d:]
        eps = self.rng.standard_normal(mu.shape, dtype=dtype)
        z, std = _elbo.reparameterize(mu, logvar, eps)
        out = self.decoder.forward(np.concatenate([z, onehot], axis=1), training=True)
        ll, d_out, d_lv_rows = likelihood_terms(self.likelihood, out, x[src],
                                                self.log_var)
        kl, d_mu_kl, d_lv_kl = _elbo.kl_standard_normal(mu, logvar)
        bound = ll - kl + self.log_prior

        logits = self.classifier.forward(x, training=True)
        log_q = log_softmax(logits.astype(np.float64))
        weight = np.empty(src.size)           # d(sum of bounds) / d(bound of a pair)
        weight[:n_l] = 1.0
        d_logits = np.zeros((n, K))
        U = np.zeros(0)
        if n_u:
            U, q_u, d_a_u = _elbo.unlabelled_bound(bound[n_l:].reshape(n_u, K),
                                                   log_q[unl])
            weight[n_l:] = q_u.ravel()
            d_logits[unl] = -d_a_u / n
        ce_rows = -log_q[lab, y[lab]]
        if n_l:
            p = np.exp(log_q[lab])
            p[np.arange(n_l), y[lab]] -= 1
            d_logits[lab] = (self.alpha * self.ce_scale / n) * p

        beta = self.beta
        w = (weight / n).astype(dtype)[:, None]
        d_out *= -w
        d_z = self.decoder.backward(d_out)[:, :d]
        d_mu, d_lv = _elbo.reparameterize_backward(d_z, eps, std)
        d_h = np.concatenate([d_mu + f(beta) * w * d_mu_kl,
                              d_lv + f(beta) * w * d_lv_kl], axis=1)
        d_in = self.encoder.backward(d_h)
        if self.trunk is not None:
            d_feats = np.zeros_like(feats)
            np.add.at(d_feats, src, d_in[:, :feats.shape[1]])
            self.trunk.backward(d_feats)
        self.classifier.backward(d_logits.astype(dtype))
        if self.log_var_net is not None:
            step_log_variance(self.log_var_net, d_lv_rows * (weight * src.size / n)
                              [:, None].astype(dtype), src.size)
        self.optimizer.step()
        if self.log_var_net is not None:
            clip_log_variance(self.log_var)

        # per-row means of the batch: labelled rows' terms with their label,
        # unlabelled rows' weighted by q(y | x)
        per_pair = weight
        rec = -(per_pair * ll).sum() / n
        kl_mean = (per_pair * kl).sum() / n
        elbo = (bound[:n_l].sum() + U.sum()) / n
        ce = ce_rows.sum() / n * self.ce_scale
        return {"loss": -elbo + (beta - 1) * kl_mean + self.alpha * ce, "elbo": elbo,
                "reconstruction": rec, "kl": kl_mean, "cross_entropy": ce}

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
        """Accuracy of q(y | x) on the labelled validation rows."""
        X_val, y_val = self.validation
        logits = forward_in_chunks(self.classifier, X_val)
        return float(np.mean(np.argmax(logits, axis=1) == y_val))


class VAEClassifier(ClassifierMixin, BaseVAE):
    __doc__ = """Semi-supervised classifier: the M2 variational autoencoder.

    A generative model of the rows given a class ``y`` and a code ``z``
    (p(x | y, z) p(y) p(z), uniform p(y), N(0, I) p(z)) is fitted together with two
    inference networks, the classifier q(y | x) and the encoder q(z | x, y), by
    maximising the evidence lower bound of every row (Kingma, Rezende, Mohamed &
    Welling, 2014). Labelled rows use their label; unlabelled rows, marked
    ``y = -1`` as in :class:`~sklearn.semi_supervised.LabelSpreading`, sum the bound
    over the classes weighted by q(y | x), which is how they train the classifier.
    The cross-entropy of the labelled rows is added with weight ``alpha``.
    Predictions are those of q(y | x).

    With ``m1`` (a :class:`VariationalAutoencoder`), the model is the paper's
    "M1 + M2": ``m1`` is first fitted on all the rows, labelled or not, and M2 then
    models its codes (drawn from the M1 posterior at every minibatch, with a
    Gaussian likelihood); predictions go through ``m1``'s posterior means.

    Parameters
    ----------
    n_components : int, default=10
        Dimension of the code z.
    alpha : float, default=3.0
        Weight of the labelled rows' cross-entropy (per row; the paper's alpha is
        ``alpha`` times the number of rows). On digits with 5-10 % of the labels,
        3.0 classified better than 1.0 and 0.3.
    m1 : VariationalAutoencoder or None, default=None
        Unsupervised feature model fitted first (a clone of it, ``m1_``); needs
        ``likelihood="gaussian"`` and ``architecture="mlp"`` here.\
""" + _PARAMS_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (-1, the unlabelled marker, excluded).
    classifier_ : sknets.nn.Sequential
        q(y | x): rows -> class logits.
    encoder_ : sknets.nn.Sequential
        q(z | x, y): [features of x, one-hot y] -> means and log-variances of z.
    encoder_trunk_ : sknets.nn.Sequential or None
        The convolutions that give the encoder its features of x
        (``architecture="conv"``; None for the MLP, whose features are x).
    decoder_ : sknets.nn.Sequential
        [z, one-hot y] -> the likelihood's parameters.
    m1_ : VariationalAutoencoder or None
        The fitted ``m1``.
    n_labelled_ : int
        Labelled rows of the last fit.""" + _ATTRS_DOC + """
    See Also
    --------
    VariationalAutoencoder : The unsupervised VAE (M1).
    sklearn.semi_supervised.LabelSpreading : Graph-based semi-supervised learning.
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training around any
        classifier.

    References
    ----------
    D. P. Kingma, D. J. Rezende, S. Mohamed and M. Welling, "Semi-supervised
    Learning with Deep Generative Models", NeurIPS 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sknets import VAEClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> y_partial = y.copy()
    >>> y_partial[np.random.default_rng(0).random(len(y)) < 0.8] = -1  # 80 % unlabelled
    >>> clf = VAEClassifier(max_iter=10, random_state=0).fit(X[:1500], y_partial[:1500])
    >>> clf.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> clf.predict_proba(X[1500:1502]).shape
    (2, 10)
    >>> bool(clf.score(X[1500:], y[1500:]) > 0.8)
    True
    """

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "m1": [VariationalAutoencoder, None],
    }

    def __init__(self, n_components=10, *, alpha=3.0, m1=None,
                 hidden_layer_sizes=(512,), architecture="mlp", filters=(32, 64),
                 image_shape=None,
                 activation="relu", batch_norm=True, likelihood="bernoulli",
                 variance="learned", kl_weight=1.0, kl_warmup=0, solver="adam",
                 batch_size=100, learning_rate="constant", learning_rate_init=1e-3,
                 power_t=0.5, max_iter=100, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, callbacks=None,
                 dtype="float32", n_jobs=None):
        self.n_components = n_components
        self.alpha = alpha
        self.m1 = m1
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

    # ------------------------------------------------------------------ labels

    def _split_labels(self, y):
        """(labelled mask, the labelled rows' labels); -1 marks an unlabelled row."""
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "iuf":
            labelled = y != UNLABELLED
        elif y.dtype.kind == "O":
            labelled = np.array([not (isinstance(v, (Integral, Real))
                                      and not isinstance(v, bool) and v == UNLABELLED)
                                 for v in y], dtype=bool)
        else:
            labelled = np.ones(y.shape[0], dtype=bool)
        if not labelled.any():
            raise ValueError("y has no labelled row (every label is -1, the "
                             "unlabelled marker); label some rows")
        check_classification_targets(y[labelled])
        return labelled, y[labelled]

    def _encode(self, y):
        idx = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            raise ValueError(f"y contains labels {unknown.tolist()} not in classes "
                             f"{self.classes_.tolist()}")
        return idx.astype(np.intp)

    # ------------------------------------------------------------------ fit

    def _features(self, X, first):
        """The rows M2 models: X itself, or the M1 posterior (means, std)."""
        if self.m1 is None:
            self.m1_ = None
            return X, None
        if self.likelihood != "gaussian" or self.architecture != "mlp":
            raise ValueError("with m1, M2 models the real-valued codes of m1: set "
                             "likelihood='gaussian' and architecture='mlp'")
        if first:
            self.m1_ = clone(self.m1).fit(X)
        mu, logvar = self.m1_._posterior(X)
        return mu, np.exp(0.5 * logvar)

    def _initialize(self, F, image_shape, ndim, n_classes):
        self._start()
        self.image_shape_, self._input_ndim = image_shape, ndim
        self._set_scaling(F)
        n_features, d, K = F.shape[1], int(self.n_components), n_classes
        arch = self.architecture
        hidden, filters = self._hidden(), self._filters()
        self.classifier_ = self._build(
            classifier_layers(arch, image_shape, hidden, filters, K, self.activation,
                              self.batch_norm), (n_features,))
        trunk, head = encoder_layers(arch, image_shape, hidden, filters, 2 * d,
                                     self.activation, self.batch_norm)
        self.encoder_trunk_ = self._build(trunk, (n_features,)) if trunk else None
        n_feats = (self.encoder_trunk_.output_shape[0] if self.encoder_trunk_
                   else n_features)
        self.encoder_ = self._build(head, (n_feats + K,))
        self.decoder_ = self._build(
            decoder_layers(arch, image_shape, hidden, filters, n_features,
                           self.activation, self.batch_norm), (d + K,))
        self._log_var_net, self.log_variance_ = self._build_log_variance(n_features)
        nets = [net for net in (self.encoder_trunk_, self.encoder_, self.decoder_,
                                self.classifier_, self._log_var_net) if net]
        self._optimizer = self._make_optimizer(nets)
        self._new_history(self.early_stopping)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the model to rows X with labels y (-1 on unlabelled rows).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training rows, labelled and unlabelled (in [0, 1] for the Bernoulli
            likelihood).
        y : array-like of shape (n_samples,)
            Class labels; -1 marks an unlabelled row.

        Returns
        -------
        self : VAEClassifier
        """
        warm = self.warm_start and hasattr(self, "classifier_")
        X, y = validate_data(self, X, y, reset=not warm, allow_nd=True,
                             dtype=self._dtypes())
        if self.m1 is None:
            X, image_shape, ndim = self._validate_X(X, reset=not warm, validated=True)
            self._check_unit_range(X)
        else:
            image_shape, ndim = None, 2
        labelled, y_lab = self._split_labels(y)
        if warm:
            codes = self._encode(y_lab)
        else:
            self.classes_ = np.unique(y_lab)
            codes = np.searchsorted(self.classes_, y_lab)
        Y = np.full(X.shape[0], UNLABELLED, dtype=np.intp)
        Y[labelled] = codes
        self.n_labelled_ = int(labelled.sum())
        F, std = self._features(X, first=not warm)
        if not warm:
            self._initialize(F, image_shape, ndim, len(self.classes_))
        return self._fit(F, std, Y, first=not warm)

    def _fit(self, F, std, Y, first):
        self._drop_inference()
        Fs = self._scaled(F)
        if std is not None:
            std = (std / self.input_scale_).astype(Fs.dtype)
        validation = None
        if self.early_stopping:
            labelled = np.flatnonzero(Y >= 0)
            tr, va = validation_split(Fs.shape[0], self.validation_fraction, self._rng)
            va = np.intersect1d(va, labelled)
            if va.size == 0:
                raise ValueError("early_stopping: the validation part has no labelled "
                                 "row; raise validation_fraction or disable "
                                 "early_stopping")
            validation = (Fs[va], Y[va])
            tr = np.setdiff1d(np.arange(Fs.shape[0]), va)
            Fs, Y = Fs[tr], Y[tr]
            if std is not None:
                std = std[tr]
            if not np.any(Y >= 0):
                raise ValueError("early_stopping leaves no labelled training row; "
                                 "lower validation_fraction or disable early_stopping")
        nets = {"trunk": self.encoder_trunk_, "encoder": self.encoder_,
                "decoder": self.decoder_, "classifier": self.classifier_,
                "log_var": self._log_var_net}
        log_var = (self._log_var_net.layers[0].value if self._log_var_net is not None
                   else self.log_variance_)
        features = None if std is None else (Fs, std)
        model = M2Model(nets, self._optimizer, Fs, Y, len(self.classes_),
                        self.likelihood, self.n_components, self._rng, self.alpha,
                        self.kl_weight, self.kl_warmup, self._history.n_iter,
                        log_var=log_var, features=features, validation=validation)
        self._run_training(model, incremental=False,
                           forget=self._forget if first else None)
        if hasattr(self, "classifier_") and self._log_var_net is not None:
            self.log_variance_ = self._log_var_net.layers[0].value.copy()
        self._ready_inference()
        return self

    def _fitted_net(self):
        return "classifier_"

    # ------------------------------------------------------------------ predict

    def _inference(self):
        nets = self.__dict__.get("_inference_nets")
        if nets is None:
            nets = self._inference_nets = {
                "classifier": self.classifier_.astype(np.float64),
                "decoder": self.decoder_.astype(np.float64)}
        return nets

    def _logits(self, X):
        check_is_fitted(self, "classifier_")
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=self._dtypes())
        if self.m1_ is not None:
            X = self.m1_.transform(X)
        else:
            X = self._validate_X(X, reset=False, validated=True)[0]
        with numba_threads(self.n_jobs):
            return forward_in_chunks(self._inference()["classifier"],
                                     self._scaled(X, np.float64))

    def predict_proba(self, X):
        """q(y | x), the classifier's class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return softmax(self._logits(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self._logits(X))

    def predict(self, X):
        """The most probable class under q(y | x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def sample(self, n_samples=1, y=None, random_state=None):
        """Draw rows of given (or random) classes from the generative model.

        Codes come from the N(0, I) prior; the rows are the decoder's means given
        the code and the class (through ``m1_``'s decoder with ``m1``).

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        y : label or array-like of shape (n_samples,), default=None
            The class of each row (one label for all); None draws them uniformly.
        random_state : int, RandomState instance or None, default=None
            Seeds the codes and the classes. None uses the estimator's
            ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features) or (n_samples, C, H, W)
            Generated rows (float64).
        y : ndarray of shape (n_samples,)
            Their classes.
        """
        check_is_fitted(self, "classifier_")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
        n = int(n_samples)
        rng = make_generator(self.random_state if random_state is None
                             else random_state)
        if y is None:
            labels = self.classes_[rng.integers(len(self.classes_), size=n)]
        else:
            labels = np.asarray(y)
            labels = (np.full(n, labels.item(), dtype=self.classes_.dtype)
                      if labels.ndim == 0 else column_or_1d(labels))
            if labels.shape[0] != n:
                raise ValueError(f"y has {labels.shape[0]} labels for n_samples={n}")
        codes = self._encode(labels)
        z = rng.standard_normal((n, int(self.n_components)))
        dec_in = np.concatenate([z, _one_hot(codes, len(self.classes_), np.float64)],
                                axis=1)
        with numba_threads(self.n_jobs):
            out = forward_in_chunks(self._inference()["decoder"], dec_in)
        rows = self._unscaled(decoder_mean(self.likelihood, out))
        if self.m1_ is not None:
            return self.m1_.inverse_transform(rows), labels
        return self._as_output(rows), labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
