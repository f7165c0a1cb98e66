"""K-Means clustering with Numba kernels: a drop-in for ``sklearn.cluster.KMeans``."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
import numba

from ..utils._compile import compile_notice
from ..utils._validation import rollback_on_error
from ._kmeans_lloyd import (  # noqa: F401  (_is_same_clustering: as sklearn.cluster._kmeans)
    _Data,
    _check_sample_weight,
    _fit_n_threads,
    _is_arraylike_not_scalar,
    _is_same_clustering,
    _kmeans_plusplus,
    _kmeans_single,
    _labels_inertia,
    _sklearn_n_threads,
    _sqdist_to,
    _threads,
    _tolerance,
    _use_gemm,
)


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin,
             BaseEstimator):
    """K-Means clustering with Numba kernels, a drop-in for ``sklearn.cluster.KMeans``.

    Same parameters, defaults, fitted attributes, warnings and errors as
    scikit-learn's ``KMeans``; the assignment and update steps run in parallel Numba
    kernels (fused distance/argmin/accumulation, direct loops in low dimension and
    blocked BLAS products in higher dimension). Given the same initial centers the
    labels and centers equal scikit-learn's to floating-point tolerance and the
    inertia is computed as scikit-learn computes it (see ``inertia_``); a given
    ``random_state`` draws the same k-means++ / random seeds as scikit-learn.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form as well as the number of centroids.

    init : {'k-means++', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Method for initialization:

        * ``'k-means++'``: greedy k-means++, sampling ``2 + int(log(n_clusters))``
          candidates for each new center in proportion to their squared distance
          to the closest chosen center and keeping the one that lowers the
          inertia most.
        * ``'random'``: ``n_clusters`` rows of ``X`` drawn without replacement (with
          probabilities proportional to ``sample_weight``).
        * an array of shape ``(n_clusters, n_features)``: the initial centers.
        * a callable ``init(X, n_clusters, random_state=random_state)`` returning the
          initial centers.

    n_init : 'auto' or int, default='auto'
        Number of runs with different seeds; the run with the lowest inertia is
        kept. ``'auto'``: 1 for ``'k-means++'`` or an array, 10 for ``'random'`` or
        a callable.

    max_iter : int, default=300
        Maximum number of iterations of one run.

    tol : float, default=1e-4
        Relative tolerance: a run stops when the squared Frobenius norm of the
        center shift is at most ``tol`` times the mean variance of the features.

    verbose : int, default=0
        Verbosity mode: prints the inertia of every iteration and why a run stopped.

    random_state : int, RandomState instance or None, default=None
        Determines the random draws of the initialization. Pass an int for
        reproducible results.

    copy_x : bool, default=True
        Dense data are centered before fitting for more accurate distances. If
        False, ``X`` is centered in place and put back afterwards (small rounding
        differences may remain). Ignored for sparse input and when a copy is needed
        anyway (non C-contiguous data or another dtype).

    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        ``'lloyd'``: the classical EM-style algorithm. ``'elkan'``: uses the
        triangle inequality with per-sample bounds to skip distance computations;
        needs an extra ``(n_samples, n_clusters)`` array.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of the cluster centers, of the dtype of ``X`` (float32 stays
        float32).

    labels_ : ndarray of shape (n_samples,)
        Label of each training sample (int32).

    inertia_ : float
        Sum of squared distances of samples to their closest cluster center,
        weighted by the sample weights if provided. Computed the way scikit-learn
        computes it, so that it equals scikit-learn's for the same labels and centers
        (the same bits with up to 2 threads): in the dtype of ``X``, with
        scikit-learn's distance arithmetic and its split of the samples among its
        OpenMP threads. The same holds for :meth:`score` and for the inertia that
        picks the best of ``n_init`` runs. For float32 data it is therefore a float32
        sum, typically within about 1e-6 to 1e-5 (relative) of the exact inertia of
        the returned labels and centers, not float64-accurate; fit float64 data
        when that matters.

    n_iter_ : int
        Number of iterations run.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    sklearn.cluster.KMeans : The scikit-learn estimator this one replaces.
    sklearn.cluster.MiniBatchKMeans : Online variant on mini-batches.
    sknets.MeanShift : Clustering without a fixed number of clusters.

    Notes
    -----
    The kernels use as many Numba threads as the process allows (``OMP_NUM_THREADS``,
    ``NUMBA_NUM_THREADS`` and threadpoolctl limits are honoured), so the estimator
    does not oversubscribe inside ``GridSearchCV(n_jobs=...)`` workers. The per-cluster
    sums of the update step are accumulated in float64 even for float32 data; the
    inertia is not (see ``inertia_``).

    References
    ----------
    .. [1] S. Lloyd, "Least squares quantization in PCM", IEEE Transactions on
       Information Theory 28(2), 1982.
    .. [2] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
       seeding", ACM-SIAM Symposium on Discrete Algorithms, 2007.
    .. [3] C. Elkan, "Using the triangle inequality to accelerate k-means", ICML 2003.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> kmeans = KMeans(n_clusters=2, random_state=0, n_init="auto").fit(X)
    >>> kmeans.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> kmeans.predict([[0, 0], [12, 3]])
    array([1, 0], dtype=int32)
    >>> kmeans.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm

    # -- parameter checks that depend on the data ---------------------------------
    def _check_params_vs_input(self, X):
        if X.shape[0] < self.n_clusters:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}."
            )
        self._tol = _tolerance(X, self.tol)

        init_is_str = isinstance(self.init, str)
        if self.n_init == "auto":
            if init_is_str and self.init == "k-means++":
                self._n_init = 1
            elif init_is_str and self.init == "random":
                self._n_init = 10
            elif callable(self.init):
                self._n_init = 10
            else:
                self._n_init = 1
        else:
            self._n_init = self.n_init

        if _is_arraylike_not_scalar(self.init) and self._n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init "
                f"in {self.__class__.__name__} instead of n_init={self._n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            self._n_init = 1

        self._algorithm = self.algorithm
        if self._algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. Using "
                "'lloyd' instead.",
                RuntimeWarning,
                stacklevel=3,
            )
            self._algorithm = "lloyd"

    def _validate_center_shape(self, X, centers, n_centroids=None):
        if n_centroids is None:
            n_centroids = self.n_clusters
        if centers.shape[0] != n_centroids:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of clusters {n_centroids}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of features of the data {X.shape[1]}."
            )

    def _check_test_data(self, X):
        return validate_data(
            self,
            X,
            accept_sparse="csr",
            reset=False,
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=False,
        )

    def _init_centroids(self, X, x_squared_norms, init, random_state, sample_weight,
                        init_size=None, n_centroids=None):
        """Initial centers (same signature and random draws as scikit-learn's)."""
        n_samples = X.shape[0]
        n_clusters = self.n_clusters if n_centroids is None else n_centroids
        n_threads = getattr(self, "_n_threads", None) or numba.get_num_threads()
        sample_weight = np.asarray(sample_weight, dtype=X.dtype)

        if init_size is not None and init_size < n_samples:
            idx = random_state.randint(0, n_samples, init_size)
            X = X[idx]
            sample_weight = sample_weight[idx]
            n_samples = X.shape[0]

        if isinstance(init, str) and init == "k-means++":
            centers, _ = _kmeans_plusplus(_Data(X), n_clusters, sample_weight,
                                          random_state, n_threads=n_threads)
        elif isinstance(init, str) and init == "random":
            seeds = random_state.choice(n_samples, size=n_clusters, replace=False,
                                        p=sample_weight / sample_weight.sum())
            centers = X[seeds]
        elif _is_arraylike_not_scalar(self.init):
            centers = init
        elif callable(init):
            centers = init(X, n_clusters, random_state=random_state)
            centers = check_array(centers, dtype=X.dtype, copy=False, order="C")
            self._validate_center_shape(X, centers, n_centroids=n_clusters)

        if sp.issparse(centers):
            centers = centers.toarray()
        return np.ascontiguousarray(centers, dtype=X.dtype)

    # -- fit ------------------------------------------------------------------------
    @rollback_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    @compile_notice("KMeans")
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances. Converted to C order (a copy if needed); sparse input
            is converted to CSR.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X. If None, all observations have
            weight 1. Not used by the initialization when ``init`` is a callable or
            an array.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            copy=self.copy_x,
            accept_large_sparse=False,
        )
        self._check_params_vs_input(X)

        random_state = check_random_state(self.random_state)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if not np.all(np.isfinite(sample_weight)):
            raise ValueError("Input sample_weight contains NaN or infinity.")
        # the limit in force now (OMP/NUMBA_NUM_THREADS, threadpoolctl limits)
        self._n_threads = _fit_n_threads()
        # scikit-learn's thread count, for the inertia's partial sums only
        self._sk_n_threads = _sklearn_n_threads()

        init = self.init
        init_is_array_like = _is_arraylike_not_scalar(init)
        if init_is_array_like:
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)

        # Centre dense data: distances are more accurate near the origin.
        if not sp.issparse(X):
            X_mean = X.mean(axis=0)
            X -= X_mean
            if init_is_array_like:
                init -= X_mean

        data = _Data(X)
        best_inertia, best_labels = None, None
        try:
            for _ in range(self._n_init):
                centers_init = self._init_centroids(
                    X, x_squared_norms=None, init=init, random_state=random_state,
                    sample_weight=sample_weight)
                if self.verbose:
                    print("Initialization complete")
                with _threads(self._n_threads, data.work(self.n_clusters),
                              _use_gemm(data, self.n_clusters)):
                    labels, inertia, centers, n_iter = _kmeans_single(
                        data, sample_weight, centers_init, self._algorithm,
                        self.max_iter, self.verbose, self._tol, self._n_threads,
                        self._sk_n_threads)
                if not np.isfinite(inertia):
                    raise ValueError(
                        "KMeans: the inertia is not finite; the data or the sample "
                        "weights are too large for the floating-point type. Try "
                        "scaling X (e.g. StandardScaler) or using float64."
                    )
                if best_inertia is None or (
                    inertia < best_inertia
                    and not _is_same_clustering(labels, best_labels, self.n_clusters)
                ):
                    best_labels = labels
                    best_centers = centers
                    best_inertia = inertia
                    best_n_iter = n_iter
        finally:
            if not sp.issparse(X) and not self.copy_x:
                X += X_mean

        if not sp.issparse(X):
            best_centers += X_mean

        distinct_clusters = int(
            np.count_nonzero(np.bincount(best_labels, minlength=self.n_clusters)))
        if distinct_clusters < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct_clusters}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points "
                "in X.",
                ConvergenceWarning,
                stacklevel=2,
            )

        self.cluster_centers_ = best_centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = best_labels
        self.inertia_ = best_inertia
        self.n_iter_ = best_n_iter
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute cluster centers and predict the cluster index of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Predict the closest cluster each sample in X belongs to.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        sample_weight = np.ones(X.shape[0], dtype=X.dtype)
        with compile_notice("KMeans"):
            return _labels_inertia(_Data(X), sample_weight, self._centers_for(X),
                                   self._threads(), return_inertia=False)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Compute clustering and transform X to cluster-distance space.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distances of each sample to each cluster center.
        """
        self.fit(X, sample_weight=sample_weight)
        return self.transform(X)

    def transform(self, X):
        """Transform X to a cluster-distance space.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean distance of each sample to each cluster center (dense even for
            sparse ``X``).
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        d2 = _sqdist_to(_Data(X), self._centers_for(X), self._threads())
        return np.sqrt(d2, out=d2)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the value of X on the K-means objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        score : float
            Opposite of the weighted sum of squared distances of the samples to their
            closest cluster center.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        _, inertia = _labels_inertia(
            _Data(X), sample_weight, self._centers_for(X), self._threads(),
            inertia_parts=getattr(self, "_sk_n_threads", None))
        return -inertia

    def _centers_for(self, X):
        # A private, writeable, C-ordered copy in the dtype of X.
        return np.array(self.cluster_centers_, dtype=X.dtype, order="C", copy=True)

    def _threads(self):
        # as scikit-learn: the thread count decided at fit
        return getattr(self, "_n_threads", None) or numba.get_num_threads()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
