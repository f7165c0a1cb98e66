"""Numba kernels of MeanShift and estimate_bandwidth.

These functions know nothing of estimators: they take arrays and scalars.

Neighbour search
----------------
Every seed repeatedly asks "which points lie within ``radius`` of this position?".
We answer with a KD-tree built once over the data (``build_kdtree``). Each node keeps
the bounding box of its points, their count and the (float64) sum of their
coordinates. During a flat-kernel query a node whose whole bounding box lies inside
the ball contributes its stored sum and count at once, a node whose box lies outside
is pruned, and only the points of leaves that straddle the boundary are looked at one
by one. In two dimensions that makes a query cost roughly the boundary of the ball
instead of its area. Memory is O(n_samples): no n x n matrix is ever formed.

The box tests are exact with respect to the per-point test: the squared distance to
the farthest corner of a box is, in floating point, never smaller than the squared
distance to any point inside the box (rounding is monotone), so "box inside" implies
"every point inside" for the same ``<=`` comparison that a point-by-point scan makes.

A plain-numpy reference of every kernel lives in ``tests/references/mean_shift.py``;
the tests compare them.
"""

import numpy as np
from numba import njit, prange

# kernel codes understood by ``mean_shift_seeds``
FLAT = 0
GAUSSIAN = 1
# the Gaussian kernel is truncated at GAUSSIAN_CUTOFF * bandwidth
GAUSSIAN_CUTOFF = 3.0

_STACK_SIZE = 256  # tree depth is about log2(n / leaf_size) + 1: far below this


@njit(cache=True)
def _select(perm, X, dim, s, e, k):
    """Reorder ``perm[s:e]`` so that rows before ``k`` have ``X[row, dim]`` no larger
    than those from ``k`` on (Hoare partitioning, median-of-three pivot): O(e - s)."""
    a = s
    b = e - 1
    while b > a:
        m = (a + b) // 2
        x = X[perm[a], dim]
        y = X[perm[m], dim]
        z = X[perm[b], dim]
        if x > y:
            x, y = y, x
        if y > z:
            y = z
        pivot = x if x > y else y  # median of the three
        i = a
        j = b
        while i <= j:
            while X[perm[i], dim] < pivot:
                i += 1
            while X[perm[j], dim] > pivot:
                j -= 1
            if i <= j:
                t = perm[i]
                perm[i] = perm[j]
                perm[j] = t
                i += 1
                j -= 1
        if k <= j:
            b = j
        elif k >= i:
            a = i
        else:
            return


@njit(cache=True)
def build_kdtree(X, leaf_size):
    """Build a KD-tree over the rows of ``X`` (median split on the widest side).

    Returns
    -------
    perm : int64 array (n,)
        Row order of the tree: node ``i`` holds rows ``perm[start[i]:end[i]]``.
    start, end, left, right : int64 arrays (n_nodes,)
        Point range and children of each node (``left == -1`` for a leaf).
    lo, hi : float64 arrays (n_nodes, d)
        Bounding box of the node's points.
    sums : float64 array (n_nodes, d)
        Sum of the node's points.
    """
    n, d = X.shape
    half = max(1, (leaf_size + 1) // 2)
    max_nodes = 2 * (n // half + 1) + 1
    perm = np.arange(n)
    start = np.empty(max_nodes, dtype=np.int64)
    end = np.empty(max_nodes, dtype=np.int64)
    left = np.full(max_nodes, -1, dtype=np.int64)
    right = np.full(max_nodes, -1, dtype=np.int64)
    lo = np.empty((max_nodes, d), dtype=np.float64)
    hi = np.empty((max_nodes, d), dtype=np.float64)
    sums = np.zeros((max_nodes, d), dtype=np.float64)

    start[0] = 0
    end[0] = n
    n_nodes = 1
    node = 0
    # nodes are created in breadth-first order, so processing them in index order
    # visits every node once
    while node < n_nodes:
        s = start[node]
        e = end[node]
        for j in range(d):
            lo[node, j] = np.inf
            hi[node, j] = -np.inf
        for p in range(s, e):
            row = perm[p]
            for j in range(d):
                v = np.float64(X[row, j])
                sums[node, j] += v
                if v < lo[node, j]:
                    lo[node, j] = v
                if v > hi[node, j]:
                    hi[node, j] = v
        split = 0
        width = 0.0
        for j in range(d):
            w = hi[node, j] - lo[node, j]
            if w > width:
                width = w
                split = j
        if e - s > leaf_size and width > 0.0:
            mid = s + (e - s) // 2
            _select(perm, X, split, s, e, mid)
            left[node] = n_nodes
            start[n_nodes] = s
            end[n_nodes] = mid
            right[node] = n_nodes + 1
            start[n_nodes + 1] = mid
            end[n_nodes + 1] = e
            n_nodes += 2
        node += 1
    return (perm, start[:n_nodes].copy(), end[:n_nodes].copy(),
            left[:n_nodes].copy(), right[:n_nodes].copy(),
            lo[:n_nodes].copy(), hi[:n_nodes].copy(), sums[:n_nodes].copy())


@njit(cache=True)
def _ball_query(pos, Xs, start, end, left, right, lo, hi, sums, radius, bandwidth,
                kernel, acc, stack):
    """Weighted sum of the points within ``radius`` of ``pos``.

    ``acc`` (float64, d) receives the (weighted) coordinate sum. Returns
    ``(total_weight, n_within_bandwidth)``. For the flat kernel the weight of a point
    is 1 and ``radius == bandwidth``; for the Gaussian kernel it is
    ``exp(-d^2 / (2 bandwidth^2))`` for points within ``radius``.
    """
    d = pos.shape[0]
    r2 = radius * radius
    bw2 = bandwidth * bandwidth
    inv_two_bw2 = 0.5 / bw2 if bw2 > 0.0 else 0.0
    for j in range(d):
        acc[j] = 0.0
    total = 0.0
    count = 0
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        dmin = 0.0
        dmax = 0.0
        for j in range(d):
            c = pos[j]
            a = lo[node, j]
            b = hi[node, j]
            if c < a:
                t = a - c
                dmin += t * t
            elif c > b:
                t = c - b
                dmin += t * t
            u = c - a
            v = b - c
            w = u if u > v else v
            dmax += w * w
        if dmin > r2:
            continue
        if kernel == FLAT and dmax <= r2:
            m = end[node] - start[node]
            for j in range(d):
                acc[j] += sums[node, j]
            total += m
            count += m
            continue
        if left[node] >= 0:
            stack[sp] = left[node]
            stack[sp + 1] = right[node]
            sp += 2
            continue
        for p in range(start[node], end[node]):
            dist2 = 0.0
            for j in range(d):
                t = np.float64(Xs[p, j]) - pos[j]
                dist2 += t * t
            if dist2 <= r2:
                if kernel == FLAT:
                    for j in range(d):
                        acc[j] += Xs[p, j]
                    total += 1.0
                    count += 1
                else:
                    wgt = np.exp(-dist2 * inv_two_bw2) if bw2 > 0.0 else 1.0
                    for j in range(d):
                        acc[j] += wgt * Xs[p, j]
                    total += wgt
                    if dist2 <= bw2:
                        count += 1
    return total, count


@njit(cache=True, parallel=True)
def mean_shift_seeds(seeds, Xs, start, end, left, right, lo, hi, sums, bandwidth,
                     max_iter, kernel):
    """Run every seed's mean-shift iterations (in parallel over seeds).

    Each seed moves to the (weighted) mean of the points around it until the shift is
    at most ``1e-3 * bandwidth`` or ``max_iter`` iterations were completed, exactly
    like scikit-learn's per-seed loop: the mean is recomputed up to ``max_iter + 1``
    times and ``n_iter`` counts completed iterations.

    Returns
    -------
    centers : array (n_seeds, d), dtype of ``Xs``
        Final position of each seed.
    intensity : int64 array (n_seeds,)
        Points within ``bandwidth`` of the position the final mean was computed from;
        -1 for a seed that found no point within the kernel's radius (to be
        discarded, as scikit-learn discards seeds with an empty neighbourhood).
    n_iter : int64 array (n_seeds,)
    """
    n_seeds, d = seeds.shape
    centers = np.empty((n_seeds, d), dtype=Xs.dtype)
    intensity = np.zeros(n_seeds, dtype=np.int64)
    n_iter = np.zeros(n_seeds, dtype=np.int64)
    stop2 = (1e-3 * bandwidth) ** 2
    radius = bandwidth if kernel == FLAT else GAUSSIAN_CUTOFF * bandwidth
    n_blocks = min(n_seeds, 64 * 16)
    for blk in prange(n_blocks):
        _climb_seeds(seeds, Xs, start, end, left, right, lo, hi, sums, bandwidth,
                     max_iter, kernel, radius, stop2, blk * n_seeds // n_blocks,
                     (blk + 1) * n_seeds // n_blocks, centers, intensity, n_iter)
    return centers, intensity, n_iter


@njit(cache=True)
def _climb_seeds(seeds, Xs, start, end, left, right, lo, hi, sums, bandwidth, max_iter,
                 kernel, radius, stop2, lo_s, hi_s, centers, intensity, n_iter):
    """Seeds ``lo_s .. hi_s`` of :func:`mean_shift_seeds` (serial)."""
    d = seeds.shape[1]
    pos = np.empty(d, dtype=np.float64)
    acc = np.empty(d, dtype=np.float64)
    new = np.empty(d, dtype=Xs.dtype)
    stack = np.empty(_STACK_SIZE, dtype=np.int64)
    for s in range(lo_s, hi_s):
        for j in range(d):
            new[j] = seeds[s, j]
            pos[j] = new[j]
        it = 0
        count = 0
        while True:
            total, count = _ball_query(pos, Xs, start, end, left, right, lo, hi,
                                       sums, radius, bandwidth, kernel, acc,
                                       stack)
            if total <= 0.0:
                count = -1
                break
            shift2 = 0.0
            for j in range(d):
                new[j] = acc[j] / total  # rounded to the data dtype
                t = np.float64(new[j]) - pos[j]
                shift2 += t * t
                pos[j] = new[j]
            if shift2 <= stop2 or it == max_iter:
                break
            it += 1
        for j in range(d):
            centers[s, j] = pos[j]
        intensity[s] = count
        n_iter[s] = it


@njit(cache=True)
def nearest_center(X, centers):
    """Index of the nearest center of every row of ``X`` and the squared distance.

    Ties go to the lowest index. O(n_samples * n_centers) time, O(n_samples) memory.
    Serial on purpose: mean shift finds few centers, so this is a small part of a
    fit, and a parallel kernel would cost seconds more of first-call compilation.
    """
    n, d = X.shape
    k = centers.shape[0]
    labels = np.empty(n, dtype=np.int64)
    dist2 = np.empty(n, dtype=np.float64)
    for i in range(n):
        best = np.inf
        arg = 0
        for c in range(k):
            s = 0.0
            for j in range(d):
                t = np.float64(X[i, j]) - np.float64(centers[c, j])
                s += t * t
            if s < best:
                best = s
                arg = c
        labels[i] = arg
        dist2[i] = best
    return labels, dist2


@njit(cache=True)
def _kth_smallest(buf, k):
    """The ``k``-th smallest value of ``buf`` (0-based; reorders ``buf``): the value
    ``np.partition(buf, k)[k]`` gives, by quickselect (Hoare partition, median-of-three
    pivot). Written out because ``np.partition`` costs seconds of compilation."""
    a = 0
    b = buf.shape[0] - 1
    while b > a:
        m = (a + b) // 2
        x = buf[a]
        y = buf[m]
        z = buf[b]
        if x > y:
            x, y = y, x
        if y > z:
            y = z
        pivot = x if x > y else y  # median of the three
        i = a
        j = b
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                t = buf[i]
                buf[i] = buf[j]
                buf[j] = t
                i += 1
                j -= 1
        if k <= j:
            b = j
        elif k >= i:
            a = i
        else:
            return buf[k]
    return buf[k]


@njit(cache=True)
def _kth_distance_rows(X, k, a, b, buf):
    """Sum over rows ``a .. b`` of the distance to their ``k``-th nearest row."""
    n, d = X.shape
    acc = 0.0
    for i in range(a, b):
        for q in range(n):
            s = 0.0
            for j in range(d):
                t = np.float64(X[i, j]) - np.float64(X[q, j])
                s += t * t
            buf[q] = s
        acc += np.sqrt(_kth_smallest(buf, k - 1))
    return acc


@njit(cache=True, parallel=True)
def kth_neighbor_distance_sum(X, k):
    """Sum over rows of the distance to their k-th nearest row (the row itself counts).

    Rows are processed in blocks, each with one O(n_samples) buffer: O(n_samples^2)
    time, O(n_threads * n_samples) memory, no n x n matrix.
    """
    n = X.shape[0]
    n_blocks = min(n, 256)
    partial = np.zeros(n_blocks, dtype=np.float64)
    for blk in prange(n_blocks):
        partial[blk] = _kth_distance_rows(X, k, blk * n // n_blocks,
                                          (blk + 1) * n // n_blocks,
                                          np.empty(n, dtype=np.float64))
    return partial.sum()
