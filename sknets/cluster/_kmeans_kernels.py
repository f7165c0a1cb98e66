"""Numba kernels of :class:`sknets.KMeans`.

The kernels know nothing of estimators: they take arrays and scalars only.

Dense and CSR input share one compiled body per dtype: every kernel takes the data as
``(X, data, indices, indptr, x_sq, sparse)``. For dense input ``X`` is the
C-contiguous ``(n_samples, n_features)`` array and the CSR arrays are empty
placeholders; for CSR input ``X`` is an empty ``(0, n_features)`` placeholder and
``data/indices/indptr`` hold the matrix (``indices``/``indptr`` as int32) while
``x_sq`` holds the squared row norms. Keeping one signature per dtype keeps the
first-call compile cost to a few kernels.

Parallel kernels split the samples into ``n_parts`` contiguous parts (one per thread,
``prange`` over the parts) and accumulate per-part partial sums in float64, which the
caller reduces in a fixed order, so results do not depend on thread scheduling.

A plain-numpy reference of every kernel lives in ``sknets/cluster/_kmeans_reference.py``
and the tests compare them.
"""

import numpy as np
from numba import njit, prange

# Samples per block of the GEMM path (distances of a block to all centers are computed
# with one BLAS call, then the argmin and the accumulation are fused on that block).
CHUNK = 512


@njit(cache=True, inline="always")
def _row_sqdist(X, data, indices, indptr, x_sq, sparse, i, C, j, c_sq):
    """Squared distance between sample ``i`` and row ``j`` of ``C``.

    Dense: the exact sum of squared differences. Sparse: the expansion
    ``||x||^2 - 2 x.c + ||c||^2`` (clamped at 0), which only visits the non-zeros.
    """
    if sparse:
        dot = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            # products in float64: float32 rounding here would not cancel
            dot += np.float64(data[p]) * np.float64(C[j, indices[p]])
        d = x_sq[i] - 2.0 * dot + c_sq[j]
        if d < 0.0:
            d = 0.0
        return d
    d = 0.0
    for f in range(X.shape[1]):
        t = X[i, f] - C[j, f]
        d += t * t
    return d


@njit(cache=True, inline="always")
def _accumulate(X, data, indices, indptr, sparse, i, w, sums_p, lab):
    if sparse:
        for p in range(indptr[i], indptr[i + 1]):
            sums_p[lab, indices[p]] += data[p] * w
    else:
        for f in range(X.shape[1]):
            sums_p[lab, f] += X[i, f] * w


@njit(cache=True)
def _center_sq_norms(centers, c_sq):
    """``c_sq[j] = ||c_j||^2`` (float64); serial, so no parallel region of its own."""
    k, d = centers.shape
    for j in range(k):
        s = 0.0
        for f in range(d):
            s += centers[j, f] * centers[j, f]
        c_sq[j] = s


@njit(cache=True)
def _gemm_operands(centers, c_sq, half_c_sq, centers_t):
    """``half_c_sq = 0.5 * c_sq`` (centers' dtype), ``centers_t = centers.T``.

    Serial helper: inside a ``parallel=True`` kernel these array expressions would
    each become a parallel region (one more fork/join per call).
    """
    k, d = centers.shape
    for j in range(k):
        half_c_sq[j] = 0.5 * c_sq[j]
        for f in range(d):
            centers_t[f, j] = centers[j, f]


@njit(parallel=True, cache=True)
def lloyd_pass(X, data, indices, indptr, x_sq, sparse, sample_weight, centers,
               labels, sums, wsums, changed, update_centers, use_gemm):
    """One E-step (and the sums of the M-step) of Lloyd's algorithm.

    Assigns every sample to its closest center (ties to the lowest index), writes
    ``labels`` in place and counts per part how many labels changed (``changed``).
    With ``update_centers``, ``sums[p]`` / ``wsums[p]`` receive the weighted sums of
    the samples of part ``p`` per cluster (float64), to be reduced by the caller.

    ``use_gemm`` (dense only): distances of blocks of ``CHUNK`` samples to all
    centers come from one matrix product ``X_block @ centers.T`` (BLAS) and
    ``||c||^2 - 2 x.c``; otherwise direct loops over the features (best in low
    dimension, where the centers stay in cache/registers).
    """
    n = labels.shape[0]
    k, d = centers.shape
    n_parts = sums.shape[0]
    c_sq = np.empty(k, dtype=np.float64)
    _center_sq_norms(centers, c_sq)
    half_c_sq = np.empty(k, dtype=centers.dtype)
    centers_t = np.empty((d, k), dtype=centers.dtype)
    _gemm_operands(centers, c_sq, half_c_sq, centers_t)
    gemm_rows = CHUNK if use_gemm and not sparse else 1
    n_chunks = (n + CHUNK - 1) // CHUNK
    for p in prange(n_parts):
        ch0 = p * n_chunks // n_parts
        ch1 = (p + 1) * n_chunks // n_parts
        n_changed = 0
        dots_buf = np.empty((gemm_rows, k), dtype=X.dtype)
        sums_p = sums[p]
        if update_centers:
            for j in range(k):
                wsums[p, j] = 0.0
                for f in range(d):
                    sums_p[j, f] = 0.0
        for ch in range(ch0, ch1):
            s0 = ch * CHUNK
            s1 = min(s0 + CHUNK, n)
            if use_gemm and not sparse:
                dots = dots_buf[: s1 - s0]
                np.dot(X[s0:s1], centers_t, dots)
                for ii in range(s1 - s0):
                    i = s0 + ii
                    best = half_c_sq[0] - dots[ii, 0]
                    lab = 0
                    for j in range(1, k):
                        v = half_c_sq[j] - dots[ii, j]
                        less = v < best
                        lab = j if less else lab
                        best = v if less else best
                    if labels[i] != lab:
                        n_changed += 1
                        labels[i] = lab
                    if update_centers:
                        w = sample_weight[i]
                        wsums[p, lab] += w
                        for f in range(d):
                            sums_p[lab, f] += X[i, f] * w
            elif d == 2 and not sparse:
                for i in range(s0, s1):
                    x0 = X[i, 0]
                    x1 = X[i, 1]
                    t0 = x0 - centers[0, 0]
                    t1 = x1 - centers[0, 1]
                    best = t0 * t0 + t1 * t1
                    lab = 0
                    for j in range(1, k):
                        t0 = x0 - centers[j, 0]
                        t1 = x1 - centers[j, 1]
                        v = t0 * t0 + t1 * t1
                        # branch-free running minimum (select, no mispredictions)
                        less = v < best
                        lab = j if less else lab
                        best = v if less else best
                    if labels[i] != lab:
                        n_changed += 1
                        labels[i] = lab
                    if update_centers:
                        w = sample_weight[i]
                        wsums[p, lab] += w
                        sums_p[lab, 0] += x0 * w
                        sums_p[lab, 1] += x1 * w
            elif not sparse:
                for i in range(s0, s1):
                    best = np.inf
                    lab = 0
                    for j in range(k):
                        v = 0.0
                        for f in range(d):
                            t = X[i, f] - centers[j, f]
                            v += t * t
                        if v < best:
                            best = v
                            lab = j
                    if labels[i] != lab:
                        n_changed += 1
                        labels[i] = lab
                    if update_centers:
                        w = sample_weight[i]
                        wsums[p, lab] += w
                        for f in range(d):
                            sums_p[lab, f] += X[i, f] * w
            else:
                for i in range(s0, s1):
                    best = _row_sqdist(X, data, indices, indptr, x_sq, sparse, i,
                                       centers, 0, c_sq)
                    lab = 0
                    for j in range(1, k):
                        v = _row_sqdist(X, data, indices, indptr, x_sq, sparse, i,
                                        centers, j, c_sq)
                        if v < best:
                            best = v
                            lab = j
                    if labels[i] != lab:
                        n_changed += 1
                        labels[i] = lab
                    if update_centers:
                        w = sample_weight[i]
                        wsums[p, lab] += w
                        _accumulate(X, data, indices, indptr, sparse, i, w, sums_p, lab)
        changed[p] = n_changed


@njit(cache=True)
def reduce_parts(sums, wsums, acc, wacc):
    """Sum the per-part partial sums in part order; return the number of empty clusters."""
    n_parts, k, d = sums.shape
    acc[:, :] = 0.0
    wacc[:] = 0.0
    for p in range(n_parts):
        for j in range(k):
            wacc[j] += wsums[p, j]
            for f in range(d):
                acc[j, f] += sums[p, j, f]
    n_empty = 0
    for j in range(k):
        if wacc[j] == 0.0:
            n_empty += 1
    return n_empty


@njit(cache=True)
def average_and_shift(acc, wacc, centers_old, centers_new, center_shift):
    """New centers = weighted means; empty clusters go to the heaviest cluster's center.

    Writes ``center_shift[j] = ||new_j - old_j||`` and returns ``sum(center_shift**2)``.
    """
    k, d = acc.shape
    heaviest = 0
    for j in range(1, k):
        if wacc[j] > wacc[heaviest]:
            heaviest = j
    for j in range(k):
        if wacc[j] > 0.0:
            inv = 1.0 / wacc[j]
            for f in range(d):
                centers_new[j, f] = acc[j, f] * inv
    for j in range(k):
        if not wacc[j] > 0.0:
            for f in range(d):
                centers_new[j, f] = centers_new[heaviest, f]
    total = 0.0
    for j in range(k):
        s = 0.0
        for f in range(d):
            t = centers_new[j, f] - centers_old[j, f]
            s += t * t
        center_shift[j] = np.sqrt(s)
        total += s
    return total


@njit(parallel=True, cache=True)
def assigned_sqdist(X, data, indices, indptr, x_sq, sparse, sample_weight, centers,
                    labels, out, partial):
    """``out[i] = ||x_i - c_{labels[i]}||^2``; returns the weighted sum (the inertia).

    ``partial`` (float64, one slot per part) receives the per-part sums, added in order.
    """
    n = labels.shape[0]
    k, d = centers.shape
    n_parts = partial.shape[0]
    c_sq = np.empty(k, dtype=np.float64)
    _center_sq_norms(centers, c_sq)
    for p in prange(n_parts):
        i0 = p * n // n_parts
        i1 = (p + 1) * n // n_parts
        acc = 0.0
        for i in range(i0, i1):
            v = _row_sqdist(X, data, indices, indptr, x_sq, sparse, i, centers,
                            labels[i], c_sq)
            out[i] = v
            acc += v * sample_weight[i]
        partial[p] = acc
    total = 0.0
    for p in range(n_parts):
        total += partial[p]
    return total


@njit(parallel=True, cache=True)
def sqdist_matrix(X, data, indices, indptr, x_sq, sparse, centers, out):
    """``out[i, j] = ||x_i - c_j||^2`` for all samples and the given centers."""
    n = out.shape[0]
    k, d = centers.shape
    c_sq = np.empty(k, dtype=np.float64)
    _center_sq_norms(centers, c_sq)
    for i in prange(n):
        for j in range(k):
            out[i, j] = _row_sqdist(X, data, indices, indptr, x_sq, sparse, i,
                                    centers, j, c_sq)


@njit(parallel=True, cache=True)
def elkan_pass(X, data, indices, indptr, x_sq, sparse, sample_weight, centers,
               half_dist, next_half, center_shift, labels, upper, lower, sums, wsums,
               changed, update_centers):
    """One E-step (plus M-step sums) of Elkan's algorithm.

    ``upper[i]`` bounds the distance of sample ``i`` to its center from above,
    ``lower[i, j]`` the distance to center ``j`` from below; a distance is computed
    only when the bounds and the half distances between centers (``half_dist``,
    ``next_half[j]`` = half the distance of center ``j`` to its nearest other center)
    cannot rule the center out.

    The bounds are first loosened by ``center_shift`` (how far each center moved
    since the bounds were set; zeros on the first pass). The initial assignment is
    this same pass with ``labels = 0``, ``upper = inf``, ``lower = 0`` and
    ``update_centers=False``.
    """
    n = labels.shape[0]
    k, d = centers.shape
    n_parts = sums.shape[0]
    c_sq = np.empty(k, dtype=np.float64)
    _center_sq_norms(centers, c_sq)
    for p in prange(n_parts):
        i0 = p * n // n_parts
        i1 = (p + 1) * n // n_parts
        n_changed = 0
        sums_p = sums[p]
        if update_centers:
            for j in range(k):
                wsums[p, j] = 0.0
                for f in range(d):
                    sums_p[j, f] = 0.0
        for i in range(i0, i1):
            lab0 = labels[i]
            ub = upper[i] + center_shift[lab0]
            for j in range(k):
                v = lower[i, j] - center_shift[j]
                lower[i, j] = v if v > 0.0 else 0.0
            lab = lab0
            tight = False
            if next_half[lab] < ub:
                for j in range(k):
                    if j != lab and ub > lower[i, j] and ub > half_dist[lab, j]:
                        if not tight:
                            ub = np.sqrt(_row_sqdist(X, data, indices, indptr, x_sq,
                                                     sparse, i, centers, lab, c_sq))
                            lower[i, lab] = ub
                            tight = True
                        if ub > lower[i, j] and ub > half_dist[lab, j]:
                            dist = np.sqrt(_row_sqdist(X, data, indices, indptr, x_sq,
                                                       sparse, i, centers, j, c_sq))
                            lower[i, j] = dist
                            if dist < ub:
                                lab = j
                                ub = dist
            labels[i] = lab
            upper[i] = ub
            if lab != lab0:
                n_changed += 1
            if update_centers:
                w = sample_weight[i]
                wsums[p, lab] += w
                _accumulate(X, data, indices, indptr, sparse, i, w, sums_p, lab)
        changed[p] = n_changed
