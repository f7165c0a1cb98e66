"""Plain-numpy references of the kernels in ``_kmeans_kernels.py`` (used by the tests).

They take dense arrays (the tests densify CSR input) and do the same arithmetic in the
obvious, slow way.
"""

import numpy as np


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
    """``||c||^2`` (float64), ``0.5 ||c||^2`` in the centers' dtype and ``centers.T``.

    As the kernels: each square in the centers' dtype, the sum in float64.
    """
    c_sq = (centers * centers).astype(np.float64).sum(axis=1)
    return c_sq, (0.5 * c_sq).astype(centers.dtype), np.ascontiguousarray(centers.T)
