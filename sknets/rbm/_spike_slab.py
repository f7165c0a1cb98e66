"""Spike-and-slab restricted Boltzmann machine (mu-ssRBM) for real-valued data.

The model (energy, conditionals, the ball-truncated visible draw, free energy,
gradients and updates, initialisation) is written in the user guide,
``doc/user_guide/spike_slab_rbm.rst``, section *The model*; the kernels are in
``_ss_kernels.py``.
"""

import copy
import math
import threading
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils._random import make_generator
from ..utils._threads import effective_n_threads
from ..utils._validation import check_memory, rollback_on_error
from . import _ss_kernels as _k
from ._base import BASE_PARAMETER_CONSTRAINTS, BaseRBM, chains_from_rows

_IMPROPER_REMEDY = (
    "lower learning_rate, raise weight_decay, or standardise X (e.g. with "
    "StandardScaler)"
)

# Noise drawn per kernel call is capped at about this many numbers (chunks of batches).
_NOISE_BUDGET = 1 << 21
# Draw the noise of the next epoch of a fit, and of the next chunk of this epoch, in a
# thread while the kernel runs (when the thread limit allows more than one thread).
# Module-level so that tests and benchmarks can compare both paths: the numbers drawn
# are the same either way.
_PREFETCH = True


def _uniform(gen, shape, dtype):
    # drawn in float64 and cast: a float32 model sees the numbers of a float64 one
    return gen.random(shape).astype(dtype, copy=False)


def _normal(gen, shape, dtype):
    # numpy's numbers (gen.standard_normal(shape)), drawn by a compiled loop
    out = np.empty(shape)
    _k.standard_normal_into(gen, out.reshape(-1))
    return out.astype(dtype, copy=False)


class SpikeSlabRBM(BaseRBM):
    """Spike-and-slab restricted Boltzmann machine for real-valued inputs.

    The mu-ssRBM of Courville, Bergstra and Bengio: ``n_components`` binary *spikes*
    ``h_i``, each gating ``n_slabs`` real-valued *slab* variables ``s_ik`` with learned
    precisions ``alpha_ik`` and means ``mu_ik``, a diagonal visible precision ``Lambda``
    and the visible domain restricted to a ball of radius ``radius_`` (which keeps the
    model normalisable). Trained by persistent (default) or plain contrastive
    divergence on the free energy, with exact conditional expectations in both phases
    and SGD with momentum; Gibbs sampling, conditionals and the update run in Numba.

    The model has no visible bias and its domain is a ball centred at 0: inputs must
    be centred and on a unit scale. Put a :class:`~sklearn.preprocessing.StandardScaler`
    before it (``make_pipeline(StandardScaler(), SpikeSlabRBM())``); the estimator does
    not scale internally. Constant features are allowed (a
    :class:`~sklearn.feature_selection.VarianceThreshold` removes them).

    Parameters
    ----------
    n_components : int, default=100
        Number of spikes (binary hidden units) ``N``.

    n_slabs : int, default=2
        Number of slab variables pooled under each spike ``K``.

    learning_rate : float, default=3e-3
        Step size on batch-mean gradients. On digits (the pipeline in the Notes,
        seeds 0-2) 1e-3, 3e-3 and 5e-3 give 0.971-0.980, while 1e-2 already breaks
        some seeds (0.18 for seed 1): 3e-3 keeps a factor 3 from that edge.

    batch_size : int, default=20
        Number of examples per minibatch, and number of persistent chains.

    n_iter : int, default=20
        Number of passes over the training data (epochs); 0 returns the initialised
        model. On digits (the pipeline in the Notes, seeds 0-5, two splits) the worst
        test accuracy is 0.971 after 20 epochs against 0.964 after 10, for about
        0.1 s more training.

    n_gibbs_steps : int, default=1
        Gibbs sweeps per minibatch for the negative phase (k of PCD-k / CD-k).

    persistent : bool, default=True
        True: persistent contrastive divergence (``batch_size`` chains kept across
        minibatches and epochs). False: CD-k, chains restart at each minibatch.

    momentum : float, default=0.5
        Momentum of the SGD update, in ``[0, 1)``.

    weight_decay : float, default=1e-4
        L2 penalty on the filters ``weights_``.

    alpha_init : float, default=1.0
        Initial slab precision ``alpha``.

    lambda_init : 'auto', float or array-like of shape (n_features,), default='auto'
        Initial visible precision. ``'auto'``: ``1 / max(var_d, 0.01 * mean(var))`` per
        feature, from the training data.

    mu_init : float, default=1.0
        Initial slab mean ``mu`` (1.0 as in the authors' code). With ``mu != 0`` the
        spike logits hold the linear term ``mu . u`` from the start, so the spikes
        respond to the input before any training; on digits (the pipeline in the
        Notes, seeds 0-2) ``mu_init=1.0`` gives 0.973-0.978 against 0.967-0.971 for
        0.0, and the spike features alone 0.949-0.962 against 0.889-0.911.

    w_init_scale : 'auto' or float, default='auto'
        Standard deviation of the initial filters. ``'auto'``:
        ``0.5 * sqrt(alpha_init * min(Lambda)) / (sqrt(N * K) + sqrt(n_features))``,
        which makes the model's visible precision positive definite for every spike
        configuration at initialisation.

    radius_factor : float, default=1.3
        The visible domain is the ball of radius ``radius_factor * max ||x||`` over the
        training data (grown by ``partial_fit`` to cover each new batch).

    max_rejections : int, default=100
        Rejected Gaussian proposals per visible draw before the exact coordinate-wise
        fallback is used for that row.

    precision_bounds : tuple of two floats, default=(1e-2, 1e3)
        ``alpha`` and ``Lambda`` are clipped into these bounds after every update.

    transform_output : {'spike', 'slab', 'both'}, default='both'
        Features returned by :meth:`transform`: ``'spike'`` ``E[h|v]``
        (``n_components`` columns), ``'slab'`` ``E[h s|v]`` (``n_components *
        n_slabs`` columns, column ``i * n_slabs + k``), or ``'both'`` (spike columns
        then slab columns). A linear model on top needs the slabs: on digits (the
        pipeline in the Notes, seeds 0-2) ``'both'`` gives 0.973-0.978 and
        ``'slab'`` 0.971-0.978, ``'spike'`` alone 0.949-0.962. ``'both'`` keeps the
        spikes' non-linear code of which units are active beside the slabs, which
        are nearly linear in ``v``. ``'spike'`` is the output that shows what
        training adds: slab features of an untrained model already score well.

    scalar_lambda : bool, default=False
        Share one visible precision between all features.

    scalar_alpha : bool, default=False
        Share one slab precision between all slabs.

    learn_alpha : bool, default=True
        Learn the slab precisions; if False they stay at ``alpha_init``.

    learn_mu : bool, default=True
        Learn the slab means; if False they stay at ``mu_init``.

    learn_lambda : bool, default=True
        Learn the visible precision; if False it stays at its initial value.

    verbose : int, default=0
        Print the mean of ``score_samples`` over the training data after each epoch.

    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the Gibbs sampler and the minibatch order. An int
        gives identical results on every call.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components, n_slabs, n_features)
        Filters ``w_ik``.

    spike_bias_ : ndarray of shape (n_components,)
        Spike biases ``b``.

    slab_precision_ : ndarray of shape (n_components, n_slabs)
        Slab precisions ``alpha``.

    slab_mean_ : ndarray of shape (n_components, n_slabs)
        Slab means ``mu``.

    visible_precision_ : ndarray of shape (n_features,)
        Diagonal visible precision ``Lambda``.

    radius_ : float
        Radius of the visible domain.

    chains_ : ndarray of shape (batch_size, n_features)
        Negative particles (persistent chains); with ``persistent=False``, the initial
        particles, unused.

    fallback_rate_ : float
        Fraction of the last epoch's visible draws that needed the coordinate-wise
        fallback (rows whose Gaussian proposals kept leaving the ball). Above 1 % a
        ``ConvergenceWarning`` says the model has become improper.

    n_iter_ : int
        Number of epochs run with finite parameters.

    random_state_ : RandomState instance
        Random state used by :meth:`partial_fit` and :meth:`gibbs`.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit. Defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    sknets.BernoulliRBM : RBM with binary visible and hidden units.
    sklearn.neural_network.BernoulliRBM : scikit-learn's binary RBM.
    sklearn.preprocessing.StandardScaler : The preprocessing this model expects.

    Notes
    -----
    The defaults were chosen on ``make_pipeline(StandardScaler(),
    SpikeSlabRBM(random_state=s), LogisticRegression(max_iter=2000))`` on scikit-learn's
    digits (``train_test_split(test_size=0.25, random_state=0)``): test accuracy
    0.973, 0.978, 0.973 for ``s = 0, 1, 2`` (logistic regression on the standardised
    pixels: 0.967), with about 0.2 s for the ``SpikeSlabRBM`` step;
    ``benchmarks/bench_defaults.py`` reruns it.

    Minibatches are drawn in a fresh random order every epoch (``BernoulliRBM`` keeps
    data order). Each epoch runs in one Numba kernel; the random numbers are drawn
    with numpy from a generator seeded by ``random_state`` and passed in, so a fixed
    ``random_state`` gives bit-identical models. While an epoch of ``fit`` runs, a
    helper thread draws the numbers of the next epoch from that epoch's own generator
    (the same numbers as drawing them afterwards), when more than one thread is
    allowed (not under ``threadpool_limits(1)`` or in a one-thread joblib worker).
    Visible draws are restricted to the ball by rejection; a row whose proposals keep
    leaving it gets an exact
    coordinate-wise truncated-normal update instead, and the fraction of such rows is
    ``fallback_rate_``.

    :meth:`score_samples` returns minus the free energy, an unnormalised
    log-density: it ranks samples under one fitted model but must not be used to
    compare models (their partition functions differ). There is therefore no
    ``score`` method; in a :class:`~sklearn.model_selection.GridSearchCV`, score a
    downstream estimator instead.

    References
    ----------
    .. [1] A. Courville, J. Bergstra and Y. Bengio, "A Spike and Slab Restricted
       Boltzmann Machine", AISTATS 2011, PMLR 15:233-241.
    .. [2] A. Courville, J. Bergstra and Y. Bengio, "Unsupervised Models of Images by
       Spike-and-Slab RBMs", ICML 2011, pp. 1145-1152.
    .. [3] A. Courville, G. Desjardins, J. Bergstra and Y. Bengio, "The Spike-and-Slab
       RBM and Extensions to Discrete and Sparse Data Distributions", IEEE TPAMI, 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sknets import SpikeSlabRBM
    >>> X = np.random.RandomState(0).normal(size=(100, 6))
    >>> model = make_pipeline(StandardScaler(),
    ...                       SpikeSlabRBM(n_components=4, n_iter=2, random_state=0))
    >>> model.fit(X).transform(X).shape  # 4 spikes, then 4 x 2 slabs
    (100, 12)
    """

    _parameter_constraints: dict = {
        **BASE_PARAMETER_CONSTRAINTS,
        "n_slabs": [Interval(Integral, 1, None, closed="left")],
        "alpha_init": [Interval(Real, 0, None, closed="neither")],
        "lambda_init": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither"),
                        "array-like"],
        "mu_init": [Real],
        "w_init_scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "radius_factor": [Interval(Real, 1, None, closed="neither")],
        "max_rejections": [Interval(Integral, 0, None, closed="left")],
        "precision_bounds": [tuple],
        "transform_output": [StrOptions({"spike", "slab", "both"})],
        "scalar_lambda": ["boolean"],
        "scalar_alpha": ["boolean"],
        "learn_alpha": ["boolean"],
        "learn_mu": ["boolean"],
        "learn_lambda": ["boolean"],
    }

    _divergence_remedy = "lower learning_rate (or raise weight_decay)"
    _verbose_score_name = "mean -free energy"
    _accept_sparse = False

    def __init__(
        self,
        n_components=100,
        *,
        n_slabs=2,
        learning_rate=3e-3,
        batch_size=20,
        n_iter=20,
        n_gibbs_steps=1,
        persistent=True,
        momentum=0.5,
        weight_decay=1e-4,
        alpha_init=1.0,
        lambda_init="auto",
        mu_init=1.0,
        w_init_scale="auto",
        radius_factor=1.3,
        max_rejections=100,
        precision_bounds=(1e-2, 1e3),
        transform_output="both",
        scalar_lambda=False,
        scalar_alpha=False,
        learn_alpha=True,
        learn_mu=True,
        learn_lambda=True,
        verbose=0,
        random_state=None,
    ):
        self.n_components = n_components
        self.n_slabs = n_slabs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.n_gibbs_steps = n_gibbs_steps
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.alpha_init = alpha_init
        self.lambda_init = lambda_init
        self.mu_init = mu_init
        self.w_init_scale = w_init_scale
        self.radius_factor = radius_factor
        self.max_rejections = max_rejections
        self.precision_bounds = precision_bounds
        self.transform_output = transform_output
        self.scalar_lambda = scalar_lambda
        self.scalar_alpha = scalar_alpha
        self.learn_alpha = learn_alpha
        self.learn_mu = learn_mu
        self.learn_lambda = learn_lambda
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------ base hooks
    def _parameter_names(self):
        return ("weights_", "spike_bias_", "slab_precision_", "slab_mean_",
                "visible_precision_", "chains_")

    def _bounds(self):
        bounds = tuple(self.precision_bounds)
        ok = len(bounds) == 2 and all(isinstance(x, Real) for x in bounds)
        if not ok or not (0 < bounds[0] < bounds[1] < np.inf):
            raise ValueError(
                "precision_bounds must be a tuple (low, high) with "
                "0 < low < high < inf; "
                f"got {self.precision_bounds!r}."
            )
        return float(bounds[0]), float(bounds[1])

    def _check_memory(self, n_features, dtype):
        """Fail fast (MemoryError) when a fit would need more memory than is free."""
        N, K = self.n_components, self.n_slabs
        M, steps = self.batch_size, self.n_gibbs_steps
        item = np.dtype(dtype).itemsize
        NK = N * K
        # weights, their velocity, the epoch's snapshot, transposed copy and gradient;
        # the float64 draw of the initial weights; the kernel's minibatch buffers; the
        # noise of one minibatch (float64, twice when the next epoch is prefetched)
        n_bytes = (item * NK * (5 * n_features + 6 * M) + 8 * NK * n_features
                   + 16 * steps * M * (N + NK + n_features))
        check_memory(n_bytes, what=f"{type(self).__name__}'s parameters and buffers "
                     f"(n_components={N}, n_slabs={K}, n_features={n_features})",
                     remedy="lower n_components or n_slabs")

    def _init_parameters(self, X, rng):
        n_samples, n_features = X.shape
        dtype = X.dtype
        N, K = self.n_components, self.n_slabs
        self._check_memory(n_features, dtype)
        lo, hi = self._bounds()
        gen = make_generator(rng)

        if isinstance(self.lambda_init, str):  # 'auto'
            var = np.var(X, axis=0, dtype=np.float64)
            floor = max(0.01 * float(np.mean(var)), 1e-12)
            lam = 1.0 / np.maximum(var, floor)
        else:
            lam = np.asarray(self.lambda_init, dtype=np.float64)
            if lam.ndim == 0:
                lam = np.full(n_features, float(lam))
            if lam.shape != (n_features,) or not np.all(np.isfinite(lam)) or np.any(
                    lam <= 0):
                raise ValueError(
                    "lambda_init must be 'auto', a positive float or a positive array "
                    f"of shape (n_features,) = ({n_features},); got shape {lam.shape}."
                )
        if self.scalar_lambda:
            lam = np.full(n_features, float(np.mean(lam)))
        lam = np.clip(lam, lo, hi)
        # a frozen alpha is stored exactly as given; a learned one lives in the bounds
        alpha0 = float(self.alpha_init)
        if self.learn_alpha:
            alpha0 = min(max(alpha0, lo), hi)
        alpha = np.full((N, K), alpha0)

        if self.w_init_scale == "auto":
            sigma = auto_w_init_scale(self.alpha_init, lam, N, K, n_features)
        else:
            sigma = float(self.w_init_scale)

        self.weights_ = np.ascontiguousarray(
            gen.standard_normal((N, K, n_features)) * sigma, dtype=dtype)
        self.spike_bias_ = np.zeros(N, dtype=dtype)
        self.slab_precision_ = alpha.astype(dtype)
        self.slab_mean_ = np.full((N, K), self.mu_init, dtype=dtype)
        self.visible_precision_ = lam.astype(dtype)
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        max_norm = float(norms.max())
        self.radius_ = self.radius_factor * (max_norm if max_norm > 0 else 1.0)
        self.chains_ = chains_from_rows(X, self.batch_size, gen)
        self.fallback_rate_ = 0.0
        self._reset_velocities()

    @rollback_on_error
    def fit(self, X, y=None):
        """Fit the model to the data X.

        If the fit raises (an error, a warning turned into an error, an interrupt),
        the estimator is left as it was before the call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (real-valued; standardise it, e.g. with ``StandardScaler``).

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        return super().fit(X, y)

    def partial_fit(self, X, y=None):
        """Fit the model to the partial segment of the data X (one minibatch).

        If the call raises (an error, a warning turned into an error, an interrupt),
        the estimator is left as it was before the call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, used as one minibatch (of any size, also smaller than
            ``batch_size``).

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        # the parameters are updated in place: keep copies, not references
        before = copy.deepcopy(self.__dict__)
        try:
            return super().partial_fit(X, y)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _reset_velocities(self):
        self._velocity = {
            name: np.zeros_like(getattr(self, name))
            for name in ("weights_", "spike_bias_", "slab_precision_", "slab_mean_",
                         "visible_precision_")
        }

    def _on_divergence(self):
        self._reset_velocities()

    def _epochs(self, X, bounds, rng, n_epochs):
        # epochs of this call still to come after the current one: while epoch e runs
        # (the kernel releases the GIL), a thread draws the noise of epoch e + 1 from
        # that epoch's own generator, the same numbers in the same order
        self._epochs_to_come = n_epochs
        try:
            return super()._epochs(X, bounds, rng, n_epochs)
        finally:
            pending = self.__dict__.pop("_prefetched", None)
            if pending is not None:  # an epoch diverged: nobody reads it
                pending[0].join()
            self.__dict__.pop("_epochs_to_come", None)

    def _run_epoch(self, X, bounds, rng):
        dtype = self.weights_.dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        n_samples, D = X.shape
        N, K = self.n_components, self.n_slabs
        # partial_fit: grow the ball to cover every batch seen
        max_norm = float(np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64).max()))
        self.radius_ = max(self.radius_, self.radius_factor * max_norm)

        n_batches = len(bounds) - 1
        starts = np.ascontiguousarray(bounds[:-1], dtype=np.int64)
        stops = np.ascontiguousarray(bounds[1:], dtype=np.int64)
        lo, hi = self._bounds()
        W2 = self.weights_.reshape(N * K, D)
        vel = self._velocity
        vW2 = vel["weights_"].reshape(N * K, D)
        steps = int(self.n_gibbs_steps)
        persistent = bool(self.persistent)
        M = self.chains_.shape[0] if persistent else int(np.max(stops - starts))
        NK = N * K
        # one chunk holds every batch of an epoch unless its noise exceeds the budget:
        # the split into chunks changes the random stream, so a small epoch's numbers
        # do not depend on whether a thread draws them
        per_batch = steps * M * (N + D + NK)
        chunk = min(n_batches, max(1, _NOISE_BUDGET // per_batch))
        pool_rows = max(16, M * steps)
        fb_rows = max(4, M // 4)

        def draw_chunk(gen, c0, c1):
            # one slab normal per slab of every chain row (the kernel's dense mode),
            # drawn right after the spike uniforms
            nb = c1 - c0
            u_h = _uniform(gen, (nb, steps, M, N), dtype)
            slab = _normal(gen, nb * steps * M * NK, dtype)
            z_v = _normal(gen, (nb, steps, M, D), dtype)
            pool = _normal(gen, (pool_rows, D), dtype)
            fb_u = _uniform(gen, (fb_rows, D), dtype)
            return u_h, slab, z_v, pool, fb_u

        def draw_start(gen):
            perm = (gen.permutation(n_samples) if n_batches > 1
                    else np.arange(n_samples)).astype(np.int64)
            return gen, perm, draw_chunk(gen, 0, min(n_batches, chunk))

        pending = self.__dict__.pop("_prefetched", None)
        if pending is not None:
            pending[0].join()
            if isinstance(pending[1][0], BaseException):
                raise pending[1][0]
            gen, perm, first_chunk = pending[1][0]
        else:
            gen, perm, first_chunk = draw_start(make_generator(rng))
        to_come = getattr(self, "_epochs_to_come", 1) - 1
        self._epochs_to_come = to_come
        # only where a second thread is allowed (threadpoolctl / OMP_NUM_THREADS /
        # a joblib or Dask worker's limit): the draws then use another core
        threads = _PREFETCH and effective_n_threads() > 1

        def in_thread(func, *args):
            box = []

            def work():
                try:
                    box.append(func(*args))
                except BaseException as exc:  # raised by the call that needs it
                    box.append(exc)

            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            return thread, box

        def take(pending):
            thread, box = pending
            if thread is not None:
                thread.join()
            if isinstance(box[0], BaseException):
                raise box[0]
            return box[0]

        n_fb = n_draws = 0
        ahead = None  # the next chunk of this epoch: (thread or None, [chunk])
        # (the kernels are serial: no Numba thread pool to limit; BLAS keeps its own)
        try:
            for c0 in range(0, n_batches, chunk):
                c1 = min(n_batches, c0 + chunk)
                if c0 == 0:
                    u_h, slab, z_v, pool, fb_u = first_chunk
                else:
                    u_h, slab, z_v, pool, fb_u = take(ahead)
                # the next chunk is drawn before anything else this chunk may draw
                # from gen (more pool numbers), in a thread or now: the same numbers
                ahead = None
                if c1 < n_batches:
                    c2 = min(n_batches, c1 + chunk)
                    ahead = (in_thread(draw_chunk, gen, c1, c2) if threads
                             else (None, [draw_chunk(gen, c1, c2)]))
                elif to_come > 0 and threads:
                    # the last chunk: the next epoch's first numbers, from its own
                    # generator, while it runs
                    self._prefetched = in_thread(draw_start, make_generator(rng))
                first = pool_pos = fb_pos = 0
                while True:
                    status, first, _, pool_pos, fb_pos, nf, nd = _k.ss_epoch(
                        X, perm, starts[c0:c1], stops[c0:c1], first, W2,
                        self.spike_bias_, self.slab_precision_, self.slab_mean_,
                        self.visible_precision_, vW2, vel["spike_bias_"],
                        vel["slab_precision_"], vel["slab_mean_"],
                        vel["visible_precision_"], self.chains_, persistent, steps,
                        u_h, z_v, slab, 0, True, pool, pool_pos, fb_u,
                        fb_pos, float(self.radius_), int(self.max_rejections),
                        float(self.learning_rate), float(self.momentum),
                        float(self.weight_decay), bool(self.learn_alpha),
                        bool(self.learn_mu), bool(self.learn_lambda),
                        bool(self.scalar_alpha), bool(self.scalar_lambda),
                        math.log(lo), math.log(hi))
                    n_fb += nf
                    n_draws += nd
                    if status == _k.STATUS_OK:
                        break
                    # minibatch `first` was not committed; the positions are those at
                    # its start: keep the unread numbers of the pool that ran out and
                    # append fresh ones (one longer i.i.d. sequence, read again from
                    # there), drawn after the next chunk's numbers
                    if ahead is not None and ahead[0] is not None:
                        ahead[0].join()
                    if status == _k.STATUS_POOL_EXHAUSTED:
                        pool = np.concatenate(
                            (pool[pool_pos:], _normal(gen, (pool_rows, D), dtype)))
                        pool_rows *= 2
                        pool_pos = 0
                    else:
                        fb_u = np.concatenate(
                            (fb_u[fb_pos:], _uniform(gen, (fb_rows, D), dtype)))
                        fb_rows *= 2
                        fb_pos = 0
        finally:
            if ahead is not None and ahead[0] is not None:
                ahead[0].join()
        self.fallback_rate_ = n_fb / max(n_draws, 1)
        # non-finite parameters: the epoch loop rolls them back and says so; a warning
        # here (perhaps turned into an error) would leave them NaN
        if self.fallback_rate_ > 0.01 and self._all_finite():
            warnings.warn(
                f"{type(self).__name__}: {100 * self.fallback_rate_:.1f}% of the "
                "visible draws of this epoch needed the fallback sampler; negative "
                "chains press against the radius: the model is improper; "
                f"{_IMPROPER_REMEDY}.",
                ConvergenceWarning,
                stacklevel=4,
            )

    # ---------------------------------------------------------------- outputs
    @property
    def _n_features_out(self):
        N, K = self.n_components, self.n_slabs
        return {"spike": N, "slab": N * K, "both": N + N * K}[self.transform_output]

    def _params_as(self, dtype):
        N, K = self.weights_.shape[:2]
        return (
            np.ascontiguousarray(self.weights_.reshape(N * K, -1), dtype=dtype),
            self.spike_bias_.astype(dtype, copy=False),
            self.slab_precision_.astype(dtype, copy=False),
            self.slab_mean_.astype(dtype, copy=False),
            self.visible_precision_.astype(dtype, copy=False),
        )

    def transform(self, X):
        """Compute the hidden features of the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to transform (centred and scaled like the training data).

        Returns
        -------
        h : ndarray of shape (n_samples, n_features_out)
            ``E[h|v]`` (``transform_output='spike'``), ``E[h s|v]`` (``'slab'``) or
            both side by side (``'both'``), in the dtype of ``X`` (float32 or float64).
        """
        X = self._check_fitted_input(X)
        W2, b, alpha, mu, _ = self._params_as(X.dtype)
        P, Rr = _k.ss_conditionals(np.ascontiguousarray(X), W2, b, alpha, mu)
        if self.transform_output == "spike":
            return P
        if self.transform_output == "slab":
            return Rr
        return np.hstack([P, Rr])

    def score_samples(self, X):
        """Minus the free energy of each sample: an unnormalised log-density.

        Only meaningful to rank samples under this one fitted model; values of two
        models are not comparable (their partition functions differ).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data (centred and scaled like the training data).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-F(x)``, equal to ``log p(x) + log Z`` inside the model's ball.
        """
        X = self._check_fitted_input(X)
        W2, b, alpha, mu, lam = self._params_as(X.dtype)
        return -_k.ss_free_energy(np.ascontiguousarray(X), W2, b, alpha, mu, lam)

    def gibbs(self, V):
        """Perform one Gibbs sweep ``h, s ~ p(h, s|v)``, ``v ~ p(v|h, s)``.

        The visible draw is restricted to the model's ball (``radius_``); rows given
        outside the ball are first projected onto it.

        Parameters
        ----------
        V : array-like of shape (n_samples, n_features)
            Values of the visible layer to start from.

        Returns
        -------
        V_new : ndarray of shape (n_samples, n_features)
            Values of the visible layer after one sweep.
        """
        check_is_fitted(self)
        V = np.ascontiguousarray(self._check_fitted_input(V))
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        gen = make_generator(self.random_state_)
        W2, b, alpha, mu, lam = self._params_as(V.dtype)
        B, D = V.shape
        N, K = alpha.shape
        u_h = _uniform(gen, (B, N), V.dtype)
        z_s = _normal(gen, (B, N * K), V.dtype)
        z_v = _normal(gen, (B, D), V.dtype)
        # start from the pool sizes the last call needed (repeated sweeps of the same
        # chains, e.g. sampling, then redraw nothing twice)
        hint = getattr(self, "_gibbs_pool_rows", (0.0, 0.0))
        pool_rows = max(16, 2 * B, int(hint[0] * B))
        fb_rows = max(4, B // 16, int(hint[1] * B))
        while True:
            pool = _normal(gen, (pool_rows, D), V.dtype)
            fb_u = _uniform(gen, (fb_rows, D), V.dtype)
            V_new, _, _, status, pool_pos, fb_pos, _ = _k.ss_gibbs(
                V, W2, b, alpha, mu, lam, float(self.radius_), u_h, z_s, z_v, pool, 0,
                int(self.max_rejections), fb_u, 0)
            if status == _k.STATUS_OK:
                self._gibbs_pool_rows = (1.25 * pool_pos / B, 1.25 * fb_pos / B)
                return V_new
            if status == _k.STATUS_POOL_EXHAUSTED:
                pool_rows *= 2
            else:
                fb_rows *= 2

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def auto_w_init_scale(alpha_init, lam, n_components, n_slabs, n_features):
    """The ``w_init_scale='auto'`` standard deviation (user guide, *Initialisation*)."""
    return 0.5 * math.sqrt(alpha_init * float(np.min(lam))) / (
        math.sqrt(n_components * n_slabs) + math.sqrt(n_features))
