"""Plain-numpy references of the kernels in ``sknets/cluster/_kmeans_kernels.py``.

They take dense arrays (the tests densify CSR input; :func:`inertia_sk_ref` takes CSR as
is) and do the same arithmetic in the obvious, slow way.
"""

import numpy as np
import scipy.sparse as sp


def sqdist_matrix_ref(X, centers):
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


def lloyd_pass_ref(X, sample_weight, centers):
    """Labels (first minimum) and per-cluster weighted sums / weights."""
    D = sqdist_matrix_ref(X, centers)
    labels = np.argmin(D, axis=1).astype(np.int32)
    k, d = centers.shape
    sums = np.zeros((k, d))
    wsums = np.zeros(k)
    np.add.at(sums, labels, np.asarray(X, dtype=np.float64) * sample_weight[:, None])
    np.add.at(wsums, labels, sample_weight)
    return labels, sums, wsums


def average_and_shift_ref(acc, wacc, centers_old):
    new = np.empty_like(acc)
    full = wacc > 0
    new[full] = acc[full] / wacc[full, None]
    new[~full] = new[np.argmax(wacc)]
    shift = np.sqrt(((new - centers_old) ** 2).sum(axis=1))
    return new, shift, float((shift**2).sum())


def assigned_sqdist_ref(X, sample_weight, centers, labels):
    X = np.asarray(X, dtype=np.float64)
    out = ((X - np.asarray(centers, dtype=np.float64)[labels]) ** 2).sum(axis=1)
    return out, float(out @ sample_weight)


def inertia_sk_ref(X, sample_weight, centers, labels, n_threads, c_sq=None):
    """scikit-learn's inertia arithmetic, one numpy scalar operation at a time.

    Every operation in ``X``'s dtype (numpy scalars keep float32 as float32); dense
    ``X`` as ``_euclidean_dense_dense`` (groups of four features), CSR ``X`` (this one
    reference takes CSR as is) as ``_euclidean_sparse_dense`` with the centers'
    squared norms ``c_sq``; the samples split as OpenMP's ``schedule(static)`` among
    ``n_threads`` parts, each summed in order, the parts added in part order. Returns
    ``(total, partials)``.
    """
    sparse = sp.issparse(X)
    dt = X.dtype.type
    zero = dt(0)
    n, d = X.shape
    w = np.asarray(sample_weight, dtype=X.dtype)
    C = np.asarray(centers, dtype=X.dtype)

    def sqdist(i, j):
        r = zero
        if sparse:
            for p in range(X.indptr[i], X.indptr[i + 1]):
                b = C[j, X.indices[p]]
                t = X.data[p] - b
                r = r + (t * t - b * b)
            r = r + c_sq[j]
            return zero if r < zero else r
        a, c = X[i], C[j]
        for g in range(d // 4):
            f = 4 * g
            t = [a[f + u] - c[f + u] for u in range(4)]
            r = r + (((t[0] * t[0] + t[1] * t[1]) + t[2] * t[2]) + t[3] * t[3])
        for f in range(d - d % 4, d):
            t = a[f] - c[f]
            r = r + t * t
        return r

    q, rem = divmod(n, n_threads)
    partials = []
    for t in range(n_threads):
        i0 = t * (q + 1) if t < rem else t * q + rem
        i1 = i0 + (q + 1 if t < rem else q)
        acc = zero
        for i in range(i0, i1):
            acc = acc + sqdist(i, labels[i]) * w[i]
        partials.append(acc)
    total = zero
    for part in partials:
        total = total + part
    return total, np.array(partials, dtype=X.dtype)


def lloyd_ref(X, sample_weight, centers_init, max_iter, tol):
    """Whole Lloyd run, sklearn's stopping rules, without empty-cluster relocation."""
    centers = np.asarray(centers_init, dtype=np.float64).copy()
    labels_old = np.full(X.shape[0], -1)
    strict = False
    for it in range(max_iter):
        labels, acc, wacc = lloyd_pass_ref(X, sample_weight, centers)
        new, _, shift_tot = average_and_shift_ref(acc, wacc, centers)
        centers = new
        if np.array_equal(labels, labels_old):
            strict = True
            break
        if shift_tot <= tol:
            break
        labels_old = labels
    if not strict:
        labels = lloyd_pass_ref(X, sample_weight, centers)[0]
    inertia = assigned_sqdist_ref(X, sample_weight, centers, labels)[1]
    return labels, inertia, centers, it + 1


def gemm_operands_ref(centers):
    """``||c||^2`` (float64) and ``0.5 ||c||^2`` in the centers' dtype.

    As the kernels: each square in the centers' dtype, the sum in float64.
    """
    c_sq = (centers * centers).astype(np.float64).sum(axis=1)
    return c_sq, (0.5 * c_sq).astype(centers.dtype)
