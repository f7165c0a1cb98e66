"""The K-Means algorithm behind :class:`sknets.cluster.KMeans`: the data wrapper the
kernels take, assignment and inertia, k-means++ seeding, the Lloyd and Elkan
iterations with empty-cluster relocation, thread counts."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import euclidean_distances

try:  # the unvalidated form k-means++ calls on already checked data (as sklearn's)
    from sklearn.metrics.pairwise import _euclidean_distances as _sq_distances
except ImportError:  # pragma: no cover - a scikit-learn without it
    _sq_distances = euclidean_distances
from sklearn.utils import check_array
from sklearn.utils.extmath import row_norms

from ..utils._threads import effective_n_threads, kernel_threads
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
