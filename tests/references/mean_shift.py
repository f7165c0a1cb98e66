"""Plain-numpy references of the kernels in ``sknets/cluster/_mean_shift_kernels.py``.

Slow (brute force, one Python loop per seed) and only used by the tests, which check
that the Numba kernels give the same numbers.
"""

import numpy as np

from sknets.cluster._mean_shift_kernels import FLAT, GAUSSIAN_CUTOFF


def ball_sum(pos, X, bandwidth, kernel=FLAT):
    """Brute-force ``_ball_query``: (acc, total_weight, n_within_bandwidth)."""
    pos = np.asarray(pos, dtype=np.float64)
    Xd = X.astype(np.float64)
    dist2 = ((Xd - pos) ** 2).sum(axis=1)
    if kernel == FLAT:
        inside = dist2 <= bandwidth**2
        return Xd[inside].sum(axis=0), float(inside.sum()), int(inside.sum())
    inside = dist2 <= (GAUSSIAN_CUTOFF * bandwidth) ** 2
    if bandwidth > 0:
        w = np.exp(-dist2[inside] / (2.0 * bandwidth**2))
    else:
        w = np.ones(inside.sum())
    acc = (w[:, None] * Xd[inside]).sum(axis=0)
    return acc, float(w.sum()), int((dist2 <= bandwidth**2).sum())


def mean_shift_seeds(seeds, X, bandwidth, max_iter, kernel=FLAT):
    """Per-seed loop of scikit-learn's mean shift, brute-force neighbours."""
    n_seeds, d = seeds.shape
    centers = np.empty((n_seeds, d), dtype=X.dtype)
    intensity = np.zeros(n_seeds, dtype=np.int64)
    n_iter = np.zeros(n_seeds, dtype=np.int64)
    stop = 1e-3 * bandwidth
    for s in range(n_seeds):
        mean = seeds[s].astype(X.dtype)
        it = 0
        count = 0
        while True:
            acc, total, count = ball_sum(mean, X, bandwidth, kernel)
            if total <= 0:
                count = -1
                break
            new = (acc / total).astype(X.dtype)
            shift = np.linalg.norm(new.astype(np.float64) - mean.astype(np.float64))
            mean = new
            if shift <= stop or it == max_iter:
                break
            it += 1
        centers[s] = mean
        intensity[s] = count
        n_iter[s] = it
    return centers, intensity, n_iter


def nearest_center(X, centers):
    """Brute-force nearest center: (labels, squared distances)."""
    diff = X.astype(np.float64)[:, None, :] - centers.astype(np.float64)[None]
    d2 = (diff ** 2).sum(-1)
    labels = d2.argmin(axis=1)
    return labels, d2[np.arange(len(X)), labels]


def kth_neighbor_distance_sum(X, k):
    """Sum over rows of the distance to the k-th nearest row, via the full matrix."""
    Xd = X.astype(np.float64)
    d2 = ((Xd[:, None, :] - Xd[None]) ** 2).sum(-1)
    return float(np.sqrt(np.sort(d2, axis=1)[:, k - 1]).sum())


def post_process(centers, intensity, bandwidth):
    """Plain-Python post-processing: dict of centers, rank, greedy suppression.

    ``centers``/``intensity`` are the per-seed results of kept seeds, in seed order.
    """
    by_center = {}
    for c, i in zip(centers, intensity):
        by_center[tuple(c)] = i  # a later seed with the same center overwrites
    ranked = sorted(by_center.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    ranked = np.array([kv[0] for kv in ranked])
    unique = np.ones(len(ranked), dtype=bool)
    for i in range(len(ranked)):
        if unique[i]:
            # squared distances against bandwidth**2, as scikit-learn's KD-tree
            # radius query compares them (it decides exact-boundary cases)
            d2 = ((ranked.astype(np.float64) - ranked[i]) ** 2).sum(axis=1)
            unique[d2 <= bandwidth**2] = False
            unique[i] = True
    return ranked[unique]
