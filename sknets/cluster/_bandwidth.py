"""Bandwidth estimation and bin seeding for mean shift."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ..utils._threads import kernel_threads
from ._mean_shift_kernels import kth_neighbor_distance_sum


@validate_params(
    {
        "X": ["array-like"],
        "quantile": [Interval(Real, 0, 1, closed="both")],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def estimate_bandwidth(X, *, quantile=0.3, n_samples=None, random_state=0, n_jobs=None):
    """Estimate the bandwidth to use with the mean-shift algorithm.

    The estimate is the mean, over the (sub)sampled points, of the distance from each
    point to its ``k``-th nearest neighbour among them (the point itself counts as
    its first neighbour), with ``k = max(1, int(n * quantile))``: the same value as
    :func:`sklearn.cluster.estimate_bandwidth`.

    The distances are computed by a Numba kernel, parallel over points, one row at a
    time: the time is quadratic in the number of points used but the memory is
    linear (no ``n x n`` matrix). For large datasets, subsample with ``n_samples``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input points.

    quantile : float, default=0.3
        Should be in [0, 1]. 0.5 means that the median of all pairwise distances is
        used.

    n_samples : int, default=None
        The number of samples to use. If not given, all samples are used.

    random_state : int, RandomState instance or None, default=0
        The generator used to select the samples (the same selection as
        scikit-learn's for the same seed).

    n_jobs : int, default=None
        Number of Numba threads. ``None`` means what the process allows (joblib
        workers and threadpoolctl limits are honoured); ``-1`` all allowed threads.

    Returns
    -------
    bandwidth : float
        The bandwidth parameter (a ``numpy.float64``).

    See Also
    --------
    MeanShift : Mean shift clustering, which calls this function when its
        ``bandwidth`` is None.
    sklearn.cluster.estimate_bandwidth : The scikit-learn function this replaces.

    References
    ----------
    Dorin Comaniciu and Peter Meer, "Mean Shift: A robust approach toward feature
    space analysis". IEEE Transactions on Pattern Analysis and Machine Intelligence.
    2002. pp. 603-619.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.cluster import estimate_bandwidth
    >>> X = np.array([[1, 1], [2, 1], [1, 0],
    ...               [4, 7], [3, 5], [3, 6]])
    >>> print(f"{estimate_bandwidth(X, quantile=0.5):.4f}")
    1.6191
    """
    X = check_array(X, dtype=[np.float64, np.float32])
    rng = check_random_state(random_state)
    if n_samples is not None:
        X = X[rng.permutation(X.shape[0])[:n_samples]]
    X = np.ascontiguousarray(X)
    if not X.flags.writeable:  # read-only arrays would compile another variant
        X = X.copy()
    n_neighbors = max(1, int(X.shape[0] * quantile))
    # one parallel region of n^2 d distance steps (plus the partitions)
    with kernel_threads(n_jobs, work=X.shape[0] ** 2 * X.shape[1]):
        total = kth_neighbor_distance_sum(X, n_neighbors)
    return np.float64(total / X.shape[0])


def get_bin_seeds(X, bin_size, min_bin_freq=1):
    """Find seeds for mean shift by binning the points onto a grid.

    Each point is rounded to the nearest node of a grid of spacing ``bin_size``; the
    nodes that received at least ``min_bin_freq`` points become seeds, in order of
    first appearance. As in scikit-learn, the seeds are computed in float32 and, if
    binning gives as many seeds as points, a warning is issued and the points
    themselves are returned.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input points, the same points that will be used in mean shift.

    bin_size : float
        Spacing of the grid. Smaller values give more seeds (slower). The bandwidth
        used for clustering is a good choice. ``0`` returns ``X`` unchanged.

    min_bin_freq : int, default=1
        Only bins with at least ``min_bin_freq`` points are selected as seeds.

    Returns
    -------
    bin_seeds : ndarray of shape (n_seeds, n_features)
        Points used as initial kernel positions.

    See Also
    --------
    MeanShift : Uses these seeds when ``bin_seeding=True``.
    sklearn.cluster.get_bin_seeds : The scikit-learn function this replaces.

    References
    ----------
    Dorin Comaniciu and Peter Meer, "Mean Shift: A robust approach toward feature
    space analysis". IEEE Transactions on Pattern Analysis and Machine Intelligence.
    2002. pp. 603-619.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.cluster import get_bin_seeds
    >>> X = np.array([[1.0, 1.0], [1.4, 1.4], [1.8, 1.2], [2.0, 1.0], [0.0, 0.0]])
    >>> get_bin_seeds(X, bin_size=1.0)
    array([[1., 1.],
           [2., 1.],
           [0., 0.]], dtype=float32)
    """
    if bin_size == 0:
        return X
    X_arr = check_array(X, dtype=None)
    binned = np.round(X_arr / bin_size) + 0.0  # + 0.0 turns -0.0 into 0.0
    # group equal rows: a stable lexicographic sort puts each bin's first point first
    ordering = np.lexsort(binned.T[::-1])
    rows = binned[ordering]
    new_group = np.ones(len(rows), dtype=bool)
    new_group[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    group_start = np.flatnonzero(new_group)
    counts = np.diff(np.append(group_start, len(rows)))
    first = ordering[group_start]
    keep = counts >= min_bin_freq
    order = np.sort(first[keep])  # first appearance, as scikit-learn's dict does
    bin_seeds = binned[order].astype(np.float32)
    if len(bin_seeds) == len(X_arr):
        warnings.warn(
            "Binning data failed with provided bin_size=%f, using data points as seeds."
            % bin_size
        )
        return X
    return bin_seeds * bin_size
