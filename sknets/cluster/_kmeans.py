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
from sklearn.metrics.pairwise import euclidean_distances

try:  # the unvalidated form k-means++ calls on already checked data (as sklearn's)
    from sklearn.metrics.pairwise import _euclidean_distances as _sq_distances
except ImportError:  # pragma: no cover - a scikit-learn without it
    _sq_distances = euclidean_distances
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, validate_data
import numba

from ..utils._compile import compile_notice
from ..utils._threads import effective_n_threads, kernel_threads
from ..utils._validation import rollback_on_error
from . import _kmeans_kernels as _k

# From this many features on, the blocks' distances come from a BLAS product, which
# beats the direct per-sample loop; 1-D and 2-D data keep their exact-difference
# kernels.
_GEMM_MIN_FEATURES = 3


###############################################################################
# Threads

def _fit_n_threads():
    """Thread count for one fit: the shared rule of
    :func:`sknets.utils._threads.effective_n_threads` (``n_jobs=None``), which honours
    ``OMP_NUM_THREADS``/``NUMBA_NUM_THREADS``, threadpoolctl's limits (through a cached
    controller, so no library scan per call) and dask worker tasks."""
    return effective_n_threads(None)


def _sklearn_n_threads():
    """The OpenMP thread count scikit-learn's KMeans would take now
    (``_openmp_effective_n_threads()``, read once per fit as scikit-learn does).

    Not the Numba thread count: it only sets how the inertia is split into partial
    sums (see :func:`_inertia`), so that ``inertia_`` has scikit-learn's bits. It can
    differ from ours (``OMP_NUM_THREADS`` above the core count, a BLAS-only
    threadpoolctl limit).
    """
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    except ImportError:  # pragma: no cover - private helper moved
        return _fit_n_threads()
    return int(max(1, _openmp_effective_n_threads()))


def _threads(n_threads, work, gemm=False):
    """The thread block of one kernel call: ``n_threads`` (decided once per fit) for
    ``work`` steps in one parallel region (one thread when that is too little, see
    :func:`sknets.utils._threads.threads_for`). The GEMM path calls BLAS from every
    Numba thread, so BLAS gets one thread meanwhile."""
    return kernel_threads(n_threads=n_threads, work=work,
                          blas_threads=1 if gemm else None)


###############################################################################
# Data packing: one kernel signature for dense and CSR input


class _Data:
    """The arrays the kernels take for dense or CSR data (see ``_kmeans_kernels``)."""

    __slots__ = ("X", "data", "indices", "indptr", "x_sq", "sparse", "n", "dtype",
                 "source")

    def __init__(self, X):
        # Read-only buffers (memmaps) would make Numba compile another signature.
        if sp.issparse(X):
            if not (X.data.flags.writeable and X.indices.flags.writeable
                    and X.indptr.flags.writeable):
                X = X.copy()
        elif not X.flags.writeable:
            X = X.copy()
        self.source = X
        self.dtype = X.dtype
        self.n = X.shape[0]
        if sp.issparse(X):
            self.sparse = True
            self.X = np.empty((0, X.shape[1]), dtype=X.dtype)
            self.data = np.ascontiguousarray(X.data)
            self.indices = np.ascontiguousarray(X.indices, dtype=np.int32)
            self.indptr = np.ascontiguousarray(X.indptr, dtype=np.int32)
            # float64 norms: the expansion ||x||^2 - 2 x.c + ||c||^2 cancels badly
            # in float32 for samples near a center.
            sq = np.zeros(self.n)
            nonempty = np.diff(self.indptr) > 0
            if nonempty.any():
                sq[nonempty] = np.add.reduceat(self.data.astype(np.float64) ** 2,
                                               self.indptr[:-1][nonempty])
            self.x_sq = sq
        else:
            self.sparse = False
            self.X = X
            self.data = np.empty(0, dtype=X.dtype)
            self.indices = np.empty(0, dtype=np.int32)
            self.indptr = np.zeros(1, dtype=np.int32)
            self.x_sq = np.empty(0, dtype=np.float64)

    def args(self):
        return (self.X, self.data, self.indices, self.indptr, self.x_sq, self.sparse)

    def work(self, n_centers=1):
        """Elementary steps of one pass over the data against ``n_centers`` centers."""
        per_row = (len(self.data) / max(self.n, 1)) if self.sparse else self.X.shape[1]
        return int(self.n * max(per_row, 1) * max(n_centers, 1))

    def row(self, i):
        if self.sparse:
            return self.source[[i]].toarray()[0]
        return self.X[i]


def _n_parts(n_threads, n_samples):
    n_chunks = max(1, -(-n_samples // _k.CHUNK))
    return int(max(1, min(n_threads, n_chunks)))


def _use_gemm(data, n_clusters):
    if data.sparse or n_clusters < 2:
        return False
    d = data.X.shape[1]
    return d >= _GEMM_MIN_FEATURES


def _labels_inertia(data, sample_weight, centers, n_threads, return_inertia=True,
                    inertia_parts=None):
    """E-step only: labels of ``data`` for ``centers`` and, optionally, the inertia
    (see :func:`_inertia` for ``inertia_parts``)."""
    n_parts = _n_parts(n_threads, data.n)
    k, d = centers.shape
    labels = np.full(data.n, -1, dtype=np.int32)
    centers = np.ascontiguousarray(centers, dtype=data.dtype)
    sums = np.zeros((n_parts, 1, 1))
    wsums = np.zeros((n_parts, 1))
    changed = np.zeros(n_parts, dtype=np.int64)
    use_gemm = _use_gemm(data, k)
    with _threads(n_threads, data.work(k), use_gemm):
        _k.lloyd_pass(*data.args(), sample_weight, centers, labels, sums, wsums,
                      changed, False, use_gemm)
    if not return_inertia:
        return labels
    return labels, _inertia(data, sample_weight, centers, labels, n_threads,
                            inertia_parts)


def _inertia(data, sample_weight, centers, labels, n_threads, inertia_parts=None):
    """Weighted sum of squared distances to the assigned centers, computed as
    scikit-learn's ``_inertia_dense`` / ``_inertia_sparse`` compute it with
    ``inertia_parts`` OpenMP threads (default ``n_threads``): in the data's dtype,
    its distance arithmetic, its split of the samples. The result has scikit-learn's
    bits (for more than 2 threads scikit-learn adds the partial sums in the order its
    threads finish; here they are added in thread order). ``n_threads`` is the number
    of Numba threads that compute it.
    """
    dt = data.dtype
    parts = int(max(1, n_threads if inertia_parts is None else inertia_parts))
    centers = np.ascontiguousarray(centers, dtype=dt)
    sample_weight = np.ascontiguousarray(sample_weight, dtype=dt)
    # CSR: the centers' squared norms as scikit-learn gets them (same bits)
    c_sq = (np.ascontiguousarray(row_norms(centers, squared=True), dtype=dt)
            if data.sparse else np.empty(0, dtype=dt))
    partial = np.zeros(parts, dtype=dt)
    with _threads(n_threads, data.work()):
        total = _k.inertia_sk(data.X, data.data, data.indices, data.indptr,
                              data.sparse, sample_weight, centers, c_sq, labels,
                              partial)
    return float(total)


def _assigned_sqdist(data, centers, labels, n_threads, out):
    """``out[i]`` = squared distance of sample ``i`` to its assigned center."""
    with _threads(n_threads, data.work()):
        _k.assigned_sqdist(*data.args(), centers, labels, out)
    return out


def _sqdist_to(data, centers, n_threads):
    out = np.empty((data.n, centers.shape[0]), dtype=data.dtype)
    centers = np.ascontiguousarray(centers, dtype=data.dtype)
    with _threads(n_threads, data.work(centers.shape[0])):
        _k.sqdist_matrix(*data.args(), centers, out)
    return out


###############################################################################
# Initialisation


def _kmeans_plusplus(data, n_clusters, sample_weight, random_state, n_local_trials=None,
                     n_threads=1):
    """Greedy k-means++ (Arthur & Vassilvitskii): ``2 + int(log(k))`` trials per center.

    The random draws are those of scikit-learn (same ``RandomState`` calls in the same
    order), so a given ``random_state`` picks the same seeds as ``sklearn.cluster``.
    """
    n_samples = data.n
    n_features = data.X.shape[1] if not data.sparse else data.source.shape[1]
    centers = np.empty((n_clusters, n_features), dtype=data.dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))

    # Distances by BLAS (||c||^2 - 2 c.x + ||x||^2, as scikit-learn computes them):
    # a k-means++ step is a few candidates against every sample, a thin GEMM.
    source = data.source
    x_sq = row_norms(source, squared=True)
    weight = sample_weight.astype(data.dtype, copy=False)
    center_id = random_state.choice(n_samples, p=sample_weight / sample_weight.sum())
    indices = np.full(n_clusters, -1, dtype=int)
    centers[0] = data.row(center_id)
    indices[0] = center_id

    closest = _sq_distances(source[[center_id]], source, Y_norm_squared=x_sq,
                            squared=True)[0]
    current_pot = closest @ weight

    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        candidate_ids = np.searchsorted(np.cumsum(weight * closest), rand_vals)
        np.clip(candidate_ids, None, closest.size - 1, out=candidate_ids)

        dist = _sq_distances(source[candidate_ids], source, Y_norm_squared=x_sq,
                             squared=True)
        np.minimum(closest, dist, out=dist)
        pots = dist @ weight

        best = int(np.argmin(pots))
        current_pot = pots[best]
        closest = dist[best]
        centers[c] = data.row(candidate_ids[best])
        indices[c] = candidate_ids[best]

    return centers, indices


def _tolerance(X, tol):
    """``tol`` times the mean of the per-feature variances of ``X`` (sklearn's rule)."""
    if tol == 0:
        return 0
    if sp.issparse(X):
        Xc = X.tocsc() if not sp.isspmatrix_csc(X) else X
        mean = np.asarray(Xc.mean(axis=0)).ravel()
        mean_sq = np.asarray(Xc.multiply(Xc).mean(axis=0)).ravel()
        variances = mean_sq - mean**2
    else:
        variances = np.var(X, axis=0)
    return np.mean(variances) * tol


def _is_same_clustering(labels1, labels2, n_clusters):
    """True if the two labelings are equal up to a renaming of the labels."""
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    first = np.unique(labels1, return_index=True)
    mapping[first[0]] = labels2[first[1]]
    return bool(np.array_equal(mapping[labels1], labels2))


###############################################################################
# One run of Lloyd / Elkan


def _relocate_empty(data, sample_weight, centers_old, labels, acc, wacc, n_threads):
    """Give each empty cluster one of the samples farthest from their center.

    Does nothing when every sample sits on its center (more clusters than distinct
    points): then relocating cannot help.
    """
    empty = np.flatnonzero(wacc == 0)
    n_empty = empty.size
    dist = _assigned_sqdist(data, centers_old, labels, n_threads,
                            np.empty(data.n, dtype=data.dtype))
    if dist.max() == 0:
        return
    far = np.argpartition(dist, -n_empty)[: -n_empty - 1 : -1]
    for new_id, idx in zip(empty, far):
        w = float(sample_weight[idx])
        old_id = labels[idx]
        row = data.row(idx).astype(np.float64)
        acc[old_id] -= row * w
        acc[new_id] = row * w
        wacc[new_id] = w
        wacc[old_id] -= w


def _kmeans_single(data, sample_weight, centers_init, algorithm, max_iter, verbose,
                   tol, n_threads, inertia_parts=None):
    """Run Lloyd's or Elkan's algorithm once from ``centers_init``.

    Stopping rules as scikit-learn: strict convergence (no label changed) or
    ``sum(center_shift**2) <= tol``; without strict convergence a last E-step makes
    the labels match the returned centers. The inertia (returned and printed) is
    computed as scikit-learn does with ``inertia_parts`` threads (see :func:`_inertia`).
    """
    n_clusters, n_features = centers_init.shape
    n_parts = _n_parts(n_threads, data.n)
    centers = np.array(centers_init, dtype=data.dtype, order="C", copy=True)
    centers_new = np.zeros_like(centers)
    labels = np.full(data.n, -1, dtype=np.int32)
    sums = np.zeros((n_parts, n_clusters, n_features))
    wsums = np.zeros((n_parts, n_clusters))
    acc = np.zeros((n_clusters, n_features))
    wacc = np.zeros(n_clusters)
    changed = np.zeros(n_parts, dtype=np.int64)
    center_shift = np.zeros(n_clusters, dtype=data.dtype)
    elkan = algorithm == "elkan"
    use_gemm = _use_gemm(data, n_clusters)

    if elkan:
        # initial assignment = an Elkan pass from labels 0 with no information
        labels[:] = 0
        upper = np.full(data.n, np.inf, dtype=data.dtype)
        lower = np.zeros((data.n, n_clusters), dtype=data.dtype)
        half_dist, next_half = _center_half_distances(centers)
        _k.elkan_pass(*data.args(), sample_weight, centers, half_dist, next_half,
                      center_shift, labels, upper, lower, sums, wsums, changed, False)

    strict_convergence = False
    for i in range(max_iter):
        if elkan:
            _k.elkan_pass(*data.args(), sample_weight, centers, half_dist, next_half,
                          center_shift, labels, upper, lower, sums, wsums, changed,
                          True)
        else:
            _k.lloyd_pass(*data.args(), sample_weight, centers, labels, sums, wsums,
                          changed, True, use_gemm)
        n_empty = _k.reduce_parts(sums, wsums, acc, wacc)
        if n_empty:
            _relocate_empty(data, sample_weight, centers, labels, acc, wacc, n_threads)
        shift_tot = _k.average_and_shift(acc, wacc, centers, centers_new, center_shift)
        if elkan:
            # the next pass loosens the bounds by center_shift first
            half_dist, next_half = _center_half_distances(centers_new)

        if verbose:
            inertia = _inertia(data, sample_weight, centers, labels, n_threads,
                               inertia_parts)
            print(f"Iteration {i}, inertia {inertia}.")

        centers, centers_new = centers_new, centers

        # The first pass always counts as a change (sklearn compares with labels=-1).
        if changed.sum() == 0 and not (elkan and i == 0):
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            strict_convergence = True
            break
        if shift_tot <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift_tot} within "
                      f"tolerance {tol}.")
            break

    if not strict_convergence:
        if elkan:
            _k.elkan_pass(*data.args(), sample_weight, centers, half_dist, next_half,
                          center_shift, labels, upper, lower, sums, wsums, changed,
                          False)
        else:
            _k.lloyd_pass(*data.args(), sample_weight, centers, labels, sums, wsums,
                          changed, False, use_gemm)

    inertia = _inertia(data, sample_weight, centers, labels, n_threads, inertia_parts)
    return labels, inertia, centers, i + 1


def _center_half_distances(centers):
    c = centers.astype(np.float64)
    sq = (c**2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (c @ c.T)
    np.maximum(d2, 0, out=d2)
    np.fill_diagonal(d2, 0)
    half = (np.sqrt(d2) / 2).astype(centers.dtype)
    if centers.shape[0] > 1:
        next_half = np.partition(half, kth=1, axis=0)[1]
    else:
        next_half = np.zeros(1, dtype=centers.dtype)
    return np.ascontiguousarray(half), np.ascontiguousarray(next_half)


def _check_sample_weight(sample_weight, X, dtype):
    n_samples = X.shape[0]
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, Real):
        return np.full(n_samples, sample_weight, dtype=dtype)
    sample_weight = check_array(sample_weight, accept_sparse=False, ensure_2d=False,
                                dtype=dtype, order="C", input_name="sample_weight",
                                copy=True)
    if sample_weight.ndim != 1:
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got {sample_weight.ndim}D "
            f"array. Expected either a scalar value or a 1D array of length "
            f"{n_samples}.")
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected {(n_samples,)}!")
    if np.all(sample_weight == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def _is_arraylike_not_scalar(x):
    return (hasattr(x, "__len__") or hasattr(x, "shape") or hasattr(x, "__array__")) \
        and not np.isscalar(x) and not isinstance(x, str)


###############################################################################
# The estimator


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


###############################################################################
# Functions mirroring sklearn.cluster.k_means / kmeans_plusplus


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "x_squared_norms": ["array-like", None],
        "random_state": ["random_state"],
        "n_local_trials": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None,
                    random_state=None, n_local_trials=None):
    """Initial seeds for k-means by greedy k-means++ (as ``sklearn.cluster``).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data to pick seeds from.

    n_clusters : int
        The number of centroids to initialize.

    sample_weight : array-like of shape (n_samples,), default=None
        The weights for each observation in `X`.

    x_squared_norms : array-like of shape (n_samples,), default=None
        Squared Euclidean norm of each data point. Only checked for its length:
        the kernels compute exact distances.

    random_state : int or RandomState instance, default=None
        Determines the random draws (the same as scikit-learn's for a given seed).

    n_local_trials : int, default=None
        Candidates tried for each center after the first; None means
        ``2 + int(log(n_clusters))``.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        The initial centers.

    indices : ndarray of shape (n_clusters,)
        Index in `X` of each chosen center.

    See Also
    --------
    KMeans : Uses this initialization by default.

    References
    ----------
    .. [1] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
       seeding", ACM-SIAM Symposium on Discrete Algorithms, 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.cluster import kmeans_plusplus
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> centers, indices = kmeans_plusplus(X, n_clusters=2, random_state=0)
    >>> centers
    array([[10,  2],
           [ 1,  0]])
    >>> indices
    array([3, 2])
    """
    X_checked = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32])
    sample_weight = _check_sample_weight(sample_weight, X_checked,
                                         dtype=X_checked.dtype)
    if X_checked.shape[0] < n_clusters:
        raise ValueError(
            f"n_samples={X_checked.shape[0]} should be >= n_clusters={n_clusters}."
        )
    if x_squared_norms is not None:
        x_squared_norms = check_array(x_squared_norms, dtype=X_checked.dtype,
                                      ensure_2d=False)
        if x_squared_norms.shape[0] != X_checked.shape[0]:
            raise ValueError(
                f"The length of x_squared_norms {x_squared_norms.shape[0]} should "
                f"be equal to the length of n_samples {X_checked.shape[0]}."
            )
    if not sp.issparse(X_checked):
        X_checked = np.ascontiguousarray(X_checked)
    random_state = check_random_state(random_state)
    with kernel_threads() as n_threads:
        centers, indices = _kmeans_plusplus(
            _Data(X_checked), n_clusters, sample_weight, random_state, n_local_trials,
            n_threads=n_threads)
    if not sp.issparse(X):
        # Return the rows of X itself (its dtype), as scikit-learn does.
        centers = np.asarray(X)[indices]
    return centers, indices


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "sample_weight": ["array-like", None],
        "return_n_iter": [bool],
    },
    prefer_skip_nested_validation=False,
)
def k_means(X, n_clusters, *, sample_weight=None, init="k-means++", n_init="auto",
            max_iter=300, verbose=False, tol=1e-4, random_state=None, copy_x=True,
            algorithm="lloyd", return_n_iter=False):
    """Perform K-means clustering (functional form of :class:`KMeans`).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The observations to cluster.

    n_clusters : int
        The number of clusters to form.

    sample_weight : array-like of shape (n_samples,), default=None
        The weights for each observation in `X`.

    init : {'k-means++', 'random'}, callable or array-like, default='k-means++'
        See :class:`KMeans`.

    n_init : 'auto' or int, default='auto'
        See :class:`KMeans`.

    max_iter : int, default=300
        Maximum number of iterations.

    verbose : bool, default=False
        Verbosity mode.

    tol : float, default=1e-4
        Relative tolerance (see :class:`KMeans`).

    random_state : int, RandomState instance or None, default=None
        Random draws of the initialization.

    copy_x : bool, default=True
        See :class:`KMeans`.

    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        See :class:`KMeans`.

    return_n_iter : bool, default=False
        Whether to return the number of iterations.

    Returns
    -------
    centroid : ndarray of shape (n_clusters, n_features)
        Centroids found at the last iteration of k-means.

    label : ndarray of shape (n_samples,)
        Index of the closest centroid of each sample.

    inertia : float
        Final value of the inertia criterion.

    best_n_iter : int
        Number of iterations of the best run; only if `return_n_iter` is True.

    See Also
    --------
    KMeans : The estimator form.

    References
    ----------
    .. [1] S. Lloyd, "Least squares quantization in PCM", IEEE Transactions on
       Information Theory 28(2), 1982.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.cluster import k_means
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> centroid, label, inertia = k_means(X, n_clusters=2, random_state=0)
    >>> label
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    """
    est = KMeans(
        n_clusters=n_clusters, init=init, n_init=n_init, max_iter=max_iter,
        verbose=verbose, tol=tol, random_state=random_state, copy_x=copy_x,
        algorithm=algorithm,
    ).fit(X, sample_weight=sample_weight)
    if return_n_iter:
        return est.cluster_centers_, est.labels_, est.inertia_, est.n_iter_
    return est.cluster_centers_, est.labels_, est.inertia_
