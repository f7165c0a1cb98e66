"""The function forms of scikit-learn's K-Means API: :func:`kmeans_plusplus` and
:func:`k_means` (both on :class:`sknets.cluster.KMeans`'s algorithm)."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ..utils._threads import kernel_threads
from ._kmeans_lloyd import (
    _Data,
    _check_sample_weight,
    _kmeans_plusplus,
)
from ._kmeans import KMeans


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
