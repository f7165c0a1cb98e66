"""Shared machinery of the RBM estimators (private): the epoch loop, chains, steps.

``BernoulliRBM`` and ``SpikeSlabRBM`` differ in their energies and kernels but share
everything around them: parameter validation, input validation, scikit-learn's
minibatch slicing, the persistent-vs-CD choice, momentum and weight decay, divergence
handling and the per-epoch ``verbose`` line. That part lives here.

How a subclass uses it
----------------------
::

    class MyRBM(BaseRBM):
        _parameter_constraints = {**BaseRBM._parameter_constraints,
                                  "my_option": [...]}

        def __init__(self, n_components=100, *, learning_rate=0.1, batch_size=10,
                     n_iter=10, n_gibbs_steps=1, persistent=True, momentum=0.0,
                     weight_decay=0.0, verbose=0, random_state=None, my_option=1):
            ...  # store every argument unchanged, nothing else

        # --- hooks (the only methods a subclass must write) ----------------------
        def _init_parameters(self, X, rng):
            # first fit / first partial_fit: create the fitted arrays (names ending
            # in "_", dtype X.dtype) and the persistent chains. ``rng`` is a
            # ``RandomState`` (scikit-learn semantics); derive a Generator with
            # ``sknets.utils._random.make_generator(rng)`` if you prefer one.
            self.weights_ = ...

        def _parameter_names(self):
            # fitted arrays that must stay finite; snapshotted before each epoch and
            # restored if the epoch produced NaN/inf.
            return ("weights_", "bias_")

        def _run_epoch(self, X, bounds, rng):
            # X is what ``_prepare_data(X)`` returned (default: the validated X).
            # One pass over the minibatches X[bounds[k]:bounds[k + 1]] (see
            # ``batch_bounds``), updating the fitted arrays in place. Ideally one
            # kernel call per epoch: draw the epoch's random numbers in bulk from
            # ``rng`` (or pass a seed) and hand them to the kernel.
            ...

        def score_samples(self, X):   # used by the verbose line (mean over X)
            ...

    The base then provides ``fit`` (re-initialises and runs ``n_iter`` epochs),
    ``partial_fit`` (initialises on first call, then runs *one minibatch made of the
    whole X*, as scikit-learn's ``BernoulliRBM.partial_fit`` does), input validation
    (``_validate_input``; ``_value_range`` and ``_warn_outside_range`` for units that
    expect values in an interval), ``_check_fitted_input`` for transform-like methods,
    the sklearn-style verbose line ``[MyRBM] Iteration 1, pseudo-likelihood = -25.39,
    time = 0.19s``, divergence handling (restore the last finite parameters and emit a
    ``ConvergenceWarning`` naming ``_divergence_remedy``), ``get_feature_names_out``
    (class-name prefix, ``_n_features_out`` defaults to ``n_components``) and tags
    (sparse CSR input, float32/float64 preserved).

Shared hyper-parameters (names and meanings are common to all RBMs)
-------------------------------------------------------------------
``n_components, learning_rate, batch_size, n_iter, verbose, random_state`` as in
scikit-learn; and ``n_gibbs_steps`` (k of CD-k / PCD-k), ``persistent`` (True: PCD,
``batch_size`` chains kept across minibatches and epochs; False: CD-k, chains restart
at the current minibatch), ``momentum`` and ``weight_decay`` (L2 on the weights only).
A subclass that lacks one of them simply leaves it out of its constraints/``__init__``.

Step rule (``sknets.utils._numba_math.momentum_step``, or fused into an epoch kernel):
``velocity <- momentum * velocity + lr * (grad - weight_decay * param)``;
``param += velocity``. With ``momentum=0`` and ``weight_decay=0`` it is scikit-learn's
plain ``param += lr * grad``.

RNG convention: ``fit`` draws from a fresh ``check_random_state(self.random_state)``;
``partial_fit`` and ``gibbs`` share ``self.random_state_`` (created on first use), as
scikit-learn does, so a fixed ``random_state`` gives identical results.
"""

import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._numba_math import count_nonfinite_outside

__all__ = ["BaseRBM", "batch_bounds", "chains_from_rows"]

BASE_PARAMETER_CONSTRAINTS = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "n_iter": [Interval(Integral, 0, None, closed="left")],
    "n_gibbs_steps": [Interval(Integral, 1, None, closed="left")],
    "persistent": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
}


def batch_bounds(n_samples, batch_size):
    """Minibatch boundaries as scikit-learn's ``BernoulliRBM.fit`` slices them.

    ``ceil(n_samples / batch_size)`` consecutive minibatches of ``batch_size`` rows in
    data order, the last one shorter when ``batch_size`` does not divide
    ``n_samples`` (the same slices ``gen_even_slices(n_batches * batch_size,
    n_batches, n_samples=n_samples)`` yields). No shuffling.

    Returns
    -------
    bounds : ndarray of int64, shape (n_batches + 1,)
        Minibatch ``k`` is ``X[bounds[k]:bounds[k + 1]]``.
    """
    n_batches = -(-int(n_samples) // int(batch_size))
    bounds = np.arange(n_batches + 1, dtype=np.int64) * int(batch_size)
    bounds[-1] = n_samples
    return bounds


def chains_from_rows(X, n_chains, rng):
    """Initial persistent chains: ``n_chains`` random rows of ``X`` (dense copy).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    n_chains : int
    rng : RandomState or Generator

    Returns
    -------
    chains : ndarray of shape (n_chains, n_features), dtype of X, C-contiguous.
    """
    if isinstance(rng, np.random.Generator):
        idx = rng.integers(0, X.shape[0], n_chains)
    else:
        idx = rng.randint(0, X.shape[0], n_chains)
    rows = X[idx]
    if sp.issparse(rows):
        rows = rows.toarray()
    return np.ascontiguousarray(rows, dtype=X.dtype)


class BaseRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Private base of the RBM estimators; see the module docstring for the hooks."""

    _parameter_constraints: dict = dict(BASE_PARAMETER_CONSTRAINTS)

    #: what the divergence warning tells the user to do
    _divergence_remedy = "lower learning_rate (or raise weight_decay)"
    #: name of the quantity printed by the verbose line
    _verbose_score_name = "pseudo-likelihood"
    #: sparse formats accepted by fit / transform (converted to CSR)
    _accept_sparse = "csr"

    # ------------------------------------------------------------------ hooks
    def _init_parameters(self, X, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _parameter_names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _run_epoch(self, X, bounds, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    #: closed interval of the values the visible units expect, or None (any finite
    #: value); training input outside it gets ``_warn_outside_range``
    _value_range = None

    def _warn_outside_range(self):  # pragma: no cover - only with a _value_range
        """Hook: training input has values outside ``_value_range``."""

    def _prepare_data(self, X):
        """Hook: convert validated X once per fit into what ``_run_epoch`` receives
        (e.g. CSR arrays for a kernel). Default: X unchanged."""
        return X

    # --------------------------------------------------------------- helpers
    @property
    def _n_features_out(self):
        return self.n_components

    def _validate_input(self, X, *, reset, dtype=(np.float64, np.float32),
                        training=False):
        """``validate_data`` with the RBM conventions (CSR, float64/float32, finite).

        The values are read once (``count_nonfinite_outside``) for both the finite
        check, which raises scikit-learn's error, and, for ``training`` input, the
        range check (``_value_range``, ``_warn_outside_range``); the data is not
        copied for it.
        """
        X = validate_data(self, X, accept_sparse=self._accept_sparse, reset=reset,
                          dtype=dtype, ensure_all_finite=False)
        values = X.data if sp.issparse(X) else X
        value_range = self._value_range if training else None
        lo, hi = (-np.inf, np.inf) if value_range is None else value_range
        n_nonfinite, n_outside = count_nonfinite_outside(
            np.ravel(values, order="K"), values.dtype.type(lo), values.dtype.type(hi))
        if n_nonfinite:
            assert_all_finite(values, allow_nan=False, input_name="X",
                              estimator_name=type(self).__name__)
        if n_outside:
            self._warn_outside_range()
        return X

    def _check_fitted_input(self, X):
        """For transform-like methods: fitted check + validation in the fitted dtype.

        The input is cast to the dtype of the fitted parameters' family: float32 input
        stays float32, anything else becomes float64 (scikit-learn's rule).
        """
        check_is_fitted(self)
        return self._validate_input(X, reset=False)

    def _snapshot(self):
        return {name: np.copy(getattr(self, name)) for name in self._parameter_names()}

    def _restore(self, snapshot):
        for name, value in snapshot.items():
            getattr(self, name)[...] = value

    def _all_finite(self):
        for name in self._parameter_names():
            value = getattr(self, name)
            if not np.isfinite(value).all():
                return False
        return True

    def _epochs(self, X, bounds, rng, n_epochs):
        """Run ``n_epochs`` epochs with divergence handling and the verbose line.

        Returns the number of epochs completed with finite parameters.
        """
        verbose = self.verbose
        data = self._prepare_data(X) if n_epochs > 0 else None
        begin = time.time()
        for iteration in range(1, n_epochs + 1):
            snapshot = self._snapshot()
            self._run_epoch(data, bounds, rng)
            if not self._all_finite():
                self._restore(snapshot)
                warnings.warn(
                    f"{type(self).__name__}: training diverged at iteration "
                    f"{iteration} (parameters became NaN or infinite); the parameters "
                    f"of the last finite iteration were kept. Try to "
                    f"{self._divergence_remedy}.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                self._on_divergence()
                return iteration - 1
            if verbose:
                end = time.time()
                print(
                    "[%s] Iteration %d, %s = %.2f, time = %.2fs"
                    % (
                        type(self).__name__,
                        iteration,
                        self._verbose_score_name,
                        float(np.mean(self.score_samples(X))),
                        end - begin,
                    )
                )
                begin = end
        return n_epochs

    def _on_divergence(self):
        """Hook called after a diverged epoch was rolled back (e.g. reset chains)."""

    # ----------------------------------------------------------- public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to the data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        X = self._validate_input(X, reset=True, training=True)
        rng = check_random_state(self.random_state)
        self._init_parameters(X, rng)
        bounds = batch_bounds(X.shape[0], self.batch_size)
        self.n_iter_ = self._epochs(X, bounds, rng, self.n_iter)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Fit the model to the partial segment of the data X (one minibatch).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, used as one minibatch.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        first_pass = not hasattr(self, "n_features_in_")
        X = self._validate_input(X, reset=first_pass, training=True)
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        if first_pass:
            self._init_parameters(X, self.random_state_)
            self.n_iter_ = 0
        else:
            X = self._cast_to_fitted_dtype(X)
        bounds = np.array([0, X.shape[0]], dtype=np.int64)
        self._epochs(X, bounds, self.random_state_, 1)
        return self

    def _cast_to_fitted_dtype(self, X):
        """partial_fit after fit: keep the dtype of the fitted parameters."""
        dtype = getattr(self, self._parameter_names()[0]).dtype
        if X.dtype != dtype:
            X = X.astype(dtype)
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
