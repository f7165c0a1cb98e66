"""Mean shift clustering with Numba kernels, a drop-in for sklearn's ``MeanShift``.

The estimator validates its input, picks the seeds, and hands the per-seed hill
climbing to ``_mean_shift_kernels.mean_shift_seeds`` (parallel over seeds, KD-tree
neighbour search with per-node sums). The post-processing (ordering the centers by
the number of points around them, suppressing near duplicates, labelling) follows
scikit-learn's rules exactly.
"""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._compile import compile_notice
from ..utils._threads import effective_n_threads, kernel_threads
from ..utils._validation import check_finite_params, rollback_on_error
from ._bandwidth import estimate_bandwidth, get_bin_seeds
from ._mean_shift_kernels import (
    FLAT,
    GAUSSIAN,
    build_kdtree,
    mean_shift_seeds,
    nearest_center,
)


def _leaf_size(n_features):
    # small leaves pay off where whole nodes often fall inside the ball (low
    # dimension); in higher dimension the boxes rarely do and traversal dominates
    # (measured on blobs with 2 to 32 features: 16 is as good or better there)
    return 4 if n_features <= 3 else 16


_KERNELS = {"flat": FLAT, "gaussian": GAUSSIAN}


def _hill_climb_work(n_seeds, n_points):
    """Elementary steps of the hill climbing (one parallel region): measured on 2-D
    blobs with 300 to 50,000 points as seeds, about ``500 * sqrt(n_points)`` ns per
    seed (the ball's boundary grows with the points in it, the iterations slowly)."""
    return int(n_seeds * 500 * np.sqrt(max(n_points, 1)))


def _writeable(a):
    """``a`` itself, or a copy if it is read-only (e.g. a joblib memmap).

    Numba types read-only arrays separately, so passing them through would compile
    every kernel a second time; one copy of the data is much cheaper.
    """
    return a if a.flags.writeable else a.copy()


def _unique_centers(centers, intensity):
    """Merge seeds that ended at exactly the same point.

    scikit-learn keys a dict by the center tuple, so the intensity kept for a repeated
    center is the one of the last seed that reached it.
    """
    keys = centers + 0  # -0.0 and 0.0 are the same dict key (dtype is kept)
    # stable lexicographic sort: equal rows are adjacent, in seed order
    ordering = np.lexsort(keys.T[::-1])
    rows = keys[ordering]
    group_end = np.ones(len(rows), dtype=bool)
    group_end[:-1] = np.any(rows[1:] != rows[:-1], axis=1)
    last = ordering[group_end]  # the last seed of each group of equal centers
    return keys[last], intensity[last]


def _sort_and_suppress(centers, intensity, bandwidth):
    """Order by intensity (then by center, descending) and drop near duplicates.

    A center is dropped when it lies within ``bandwidth`` of a kept center with a
    higher rank, which is what scikit-learn's greedy loop over the ranked centers
    does. Costs O(n_centers * n_kept).
    """
    keys = [centers[:, j] for j in range(centers.shape[1] - 1, -1, -1)]
    order = np.lexsort(keys + [intensity])[::-1]
    ranked = centers[order]
    ranked64 = ranked.astype(np.float64)
    alive = np.ones(len(ranked), dtype=bool)
    kept = []
    bw2 = float(bandwidth) ** 2
    i = 0
    while i < len(ranked):
        kept.append(i)
        rest = np.flatnonzero(alive[i + 1:]) + i + 1
        if len(rest):
            d2 = ((ranked64[rest] - ranked64[i]) ** 2).sum(axis=1)
            alive[rest[d2 <= bw2]] = False
        alive[i] = False
        remaining = np.flatnonzero(alive)
        if len(remaining) == 0:
            break
        i = remaining[0]
    return ranked[kept]


@validate_params(
    {"X": ["array-like"]},
    prefer_skip_nested_validation=False,
)
def mean_shift(
    X,
    *,
    bandwidth=None,
    seeds=None,
    bin_seeding=False,
    min_bin_freq=1,
    cluster_all=True,
    max_iter=300,
    n_jobs=None,
):
    """Perform mean shift clustering of data using a flat kernel.

    Function form of :class:`MeanShift` (same parameters), as
    :func:`sklearn.cluster.mean_shift`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input data.

    bandwidth : float, default=None
        Kernel bandwidth; estimated with :func:`estimate_bandwidth` if None.

    seeds : array-like of shape (n_seeds, n_features), default=None
        Initial kernel locations. If None, the points (or the bin seeds when
        ``bin_seeding=True``).

    bin_seeding : bool, default=False
        Seed from a grid of spacing ``bandwidth`` instead of every point.

    min_bin_freq : int, default=1
        Only bins with at least ``min_bin_freq`` points become seeds.

    cluster_all : bool, default=True
        If False, points farther than ``bandwidth`` from every center get label -1.

    max_iter : int, default=300
        Maximum number of iterations per seed.

    n_jobs : int, default=None
        Number of Numba threads (None: what the process allows).

    Returns
    -------
    cluster_centers : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers.

    labels : ndarray of shape (n_samples,)
        Cluster labels for each point.

    See Also
    --------
    MeanShift : The estimator form.

    References
    ----------
    Dorin Comaniciu and Peter Meer, "Mean Shift: A robust approach toward feature
    space analysis". IEEE Transactions on Pattern Analysis and Machine Intelligence.
    2002. pp. 603-619.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.cluster import mean_shift
    >>> X = np.array([[1, 1], [2, 1], [1, 0],
    ...               [4, 7], [3, 5], [3, 6]])
    >>> cluster_centers, labels = mean_shift(X, bandwidth=2)
    >>> labels
    array([1, 1, 1, 0, 0, 0])
    """
    model = MeanShift(
        bandwidth=bandwidth,
        seeds=seeds,
        min_bin_freq=min_bin_freq,
        bin_seeding=bin_seeding,
        cluster_all=cluster_all,
        n_jobs=n_jobs,
        max_iter=max_iter,
    ).fit(X)
    return model.cluster_centers_, model.labels_


class MeanShift(ClusterMixin, BaseEstimator):
    """Mean shift clustering (flat or Gaussian kernel) with Numba kernels.

    A drop-in replacement for :class:`sklearn.cluster.MeanShift`: the same
    parameters, defaults, fitted attributes, warnings and errors, and the same
    clusters. Every seed climbs to the mean of the points within ``bandwidth`` of it
    until it moves by at most ``1e-3 * bandwidth`` or ``max_iter`` iterations were
    done. The centers are then ranked by the number of points within ``bandwidth``
    (ties broken by the center coordinates, as scikit-learn does), centers within
    ``bandwidth`` of a better-ranked one are suppressed, and every point is labelled
    with its nearest center.

    The hill climbing runs in a Numba kernel, in parallel over seeds, with a KD-tree
    whose nodes store the sum of their points, so that a query adds whole nodes that
    lie inside the ball and only inspects the points near its boundary. Memory is
    linear in the number of samples (never an ``n x n`` matrix).

    Parameters
    ----------
    bandwidth : float, default=None
        Bandwidth of the kernel. If None, it is estimated with
        :func:`estimate_bandwidth` (quadratic time in the number of samples; pass a
        value or call ``estimate_bandwidth`` with ``n_samples`` on large data).

    seeds : array-like of shape (n_seeds, n_features), default=None
        Seeds used to initialize kernels. If None, every point is a seed, or the bin
        seeds if ``bin_seeding=True``.

    bin_seeding : bool, default=False
        If True, the seeds are the nodes of a grid of spacing ``bandwidth`` that hold
        at least ``min_bin_freq`` points (see :func:`get_bin_seeds`) instead of all
        points: much faster. Ignored if ``seeds`` is given.

    min_bin_freq : int, default=1
        To speed up the algorithm, accept only those bins with at least
        ``min_bin_freq`` points as seeds.

    cluster_all : bool, default=True
        If True, all points are clustered, orphans (points not within any kernel)
        being assigned to the nearest center. If False, orphans get label -1.

    n_jobs : int, default=None
        Number of Numba threads for the hill climbing and the bandwidth estimation
        (small problems run on one thread). ``None`` means what the process allows
        (the limits joblib sets in its workers and threadpoolctl's are honoured);
        ``-1`` all allowed threads; results do not depend on it.

    max_iter : int, default=300
        Maximum number of iterations per seed before the seed stops (for that seed),
        if it has not converged yet.

    kernel : {"flat", "gaussian"}, default="flat"
        Not in scikit-learn. ``"flat"`` (scikit-learn's) moves a seed to the plain
        mean of the points within ``bandwidth``. ``"gaussian"`` moves it to the mean
        weighted by ``exp(-d**2 / (2 * bandwidth**2))`` over the points within
        ``3 * bandwidth`` (the Gaussian is truncated there; the weights left out are
        below 1.2 % of the peak). With ``"gaussian"`` the number of points within
        ``bandwidth`` still ranks the centers, and near-duplicate suppression and
        ``cluster_all=False`` still use ``bandwidth``; a seed is discarded only if
        no point lies within ``3 * bandwidth`` of it. The Gaussian kernel gives
        smoother trajectories and usually needs more iterations.

    verbose : int, default=0
        Not in scikit-learn. If positive, print the number of seeds, the time of each
        stage, the iterations and the number of clusters.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers (float32 if ``X`` was float32, else float64).

    labels_ : ndarray of shape (n_samples,)
        Labels of each point.

    n_iter_ : int
        Maximum number of iterations performed on each seed. A value equal to
        ``max_iter`` means that at least one seed stopped before converging.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.cluster.MeanShift : The scikit-learn estimator this replaces.
    estimate_bandwidth : Bandwidth heuristic used when ``bandwidth=None``.
    get_bin_seeds : Seeds used when ``bin_seeding=True``.
    sknets.KMeans : K-Means clustering.

    Notes
    -----
    The mean of each iteration is accumulated in float64 and stored in the dtype of
    ``X`` (so float32 data gives float32 centers, and the convergence test sees the
    same rounded positions as scikit-learn's float32 computation). Sums are taken in
    a different order than scikit-learn's, so centers agree with scikit-learn's to
    floating-point tolerance, not bit for bit.

    scikit-learn issues no ``ConvergenceWarning`` for seeds that stop at
    ``max_iter``, and neither does this estimator; check ``n_iter_ == max_iter``.

    References
    ----------
    Dorin Comaniciu and Peter Meer, "Mean Shift: A robust approach toward feature
    space analysis". IEEE Transactions on Pattern Analysis and Machine Intelligence.
    2002. pp. 603-619.

    Examples
    --------
    >>> from sknets import MeanShift
    >>> import numpy as np
    >>> X = np.array([[1, 1], [2, 1], [1, 0],
    ...               [4, 7], [3, 5], [3, 6]])
    >>> clustering = MeanShift(bandwidth=2).fit(X)
    >>> clustering.labels_
    array([1, 1, 1, 0, 0, 0])
    >>> clustering.predict([[0, 0], [5, 5]])
    array([1, 0])
    >>> clustering.cluster_centers_.round(2)
    array([[3.33, 6.  ],
           [1.33, 0.67]])
    >>> clustering
    MeanShift(bandwidth=2)
    """

    _parameter_constraints: dict = {
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
        "seeds": ["array-like", None],
        "bin_seeding": ["boolean"],
        "min_bin_freq": [Interval(Integral, 1, None, closed="left")],
        "cluster_all": ["boolean"],
        "n_jobs": [Integral, None],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "kernel": [StrOptions({"flat", "gaussian"})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        bandwidth=None,
        seeds=None,
        bin_seeding=False,
        min_bin_freq=1,
        cluster_all=True,
        n_jobs=None,
        max_iter=300,
        kernel="flat",
        verbose=0,
    ):
        self.bandwidth = bandwidth
        self.seeds = seeds
        self.bin_seeding = bin_seeding
        self.cluster_all = cluster_all
        self.min_bin_freq = min_bin_freq
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.kernel = kernel
        self.verbose = verbose

    def _log(self, msg):
        if self.verbose:
            print(f"[MeanShift] {msg}", flush=True)

    @rollback_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    @compile_notice("MeanShift")
    def fit(self, X, y=None):
        """Perform clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to cluster.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted instance.
        """
        X = _writeable(validate_data(self, X, dtype=[np.float64, np.float32],
                                     order="C"))
        # one thread-limit lookup per fit (threadpoolctl's is not free)
        return self._fit(X, effective_n_threads(self.n_jobs))

    def _fit(self, X, n_threads):
        t0 = time.perf_counter()
        bandwidth = self.bandwidth
        if bandwidth is None:
            bandwidth = estimate_bandwidth(X, n_jobs=n_threads)
            self._log(f"estimated bandwidth {float(bandwidth):.6g} "
                      f"({time.perf_counter() - t0:.2f} s)")
        bandwidth = float(bandwidth)

        if self.seeds is not None:
            seeds = check_array(self.seeds, dtype=[np.float64, np.float32],
                                input_name="seeds")
            if seeds.shape[1] != X.shape[1]:
                raise ValueError(
                    f"seeds has {seeds.shape[1]} features, but X has {X.shape[1]} "
                    "features."
                )
        elif self.bin_seeding:
            seeds = get_bin_seeds(X, bandwidth, self.min_bin_freq)
            if len(seeds) == 0:  # scikit-learn fails here on max() of no results
                raise ValueError(
                    f"No bin holds min_bin_freq={self.min_bin_freq} points with "
                    f"bandwidth={bandwidth:f}, so there is no seed. Lower "
                    "min_bin_freq, increase the bandwidth or set bin_seeding=False."
                )
        else:
            seeds = X
        seeds = _writeable(np.ascontiguousarray(seeds, dtype=X.dtype))
        self._log(f"{len(seeds)} seeds, {X.shape[0]} points, bandwidth "
                  f"{bandwidth:.6g}, kernel {self.kernel!r}, {n_threads} threads")

        t1 = time.perf_counter()
        perm, start, end, left, right, lo, hi, sums = build_kdtree(
            X, _leaf_size(X.shape[1])
        )
        Xs = np.ascontiguousarray(X[perm])
        # seeds are independent: when every point is a seed, run them in tree
        # order (neighbouring seeds touch the same nodes) and restore the order
        seed_order = perm if seeds is X else None
        with kernel_threads(n_threads=n_threads,
                            work=_hill_climb_work(len(seeds), X.shape[0])):
            centers, intensity, n_iter = mean_shift_seeds(
                Xs if seed_order is not None else seeds, Xs, start, end, left,
                right, lo, hi, sums, bandwidth, self.max_iter, _KERNELS[self.kernel],
            )
        if seed_order is not None:
            inv = np.empty_like(seed_order)
            inv[seed_order] = np.arange(len(seed_order))
            centers, intensity, n_iter = centers[inv], intensity[inv], n_iter[inv]
        self.n_iter_ = int(n_iter.max())
        self._log(f"hill climbing done in {time.perf_counter() - t1:.2f} s, "
                  f"n_iter_={self.n_iter_}")

        found = intensity >= 0
        if not found.any():
            raise ValueError(
                "No point was within bandwidth=%f of any seed. Try a different seeding"
                " strategy                              or increase the bandwidth."
                % bandwidth
            )
        check_finite_params(
            {"cluster_centers_": centers[found]},
            estimator_name="MeanShift",
            remedy="scale the data down (values overflowed when summed)",
        )
        centers, intensity = _unique_centers(centers[found], intensity[found])
        cluster_centers = _sort_and_suppress(centers, intensity, bandwidth)

        labels, dist2 = nearest_center(X, cluster_centers)
        if not self.cluster_all:
            labels[dist2 > bandwidth**2] = -1
        self.cluster_centers_, self.labels_ = cluster_centers, labels
        self._log(f"{len(cluster_centers)} clusters, total "
                  f"{time.perf_counter() - t0:.2f} s")
        return self

    def predict(self, X):
        """Predict the closest cluster each sample in X belongs to.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data to predict.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32],
                          order="C")
        centers = self.cluster_centers_
        if centers.dtype != X.dtype:  # compare in float64 rather than lose precision
            X = X.astype(np.float64)
            centers = centers.astype(np.float64)
        labels, _ = nearest_center(_writeable(X),
                                   _writeable(np.ascontiguousarray(centers)))
        return labels
