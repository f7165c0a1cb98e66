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
caller reduces in a fixed order, so results do not depend on thread scheduling. The
exception is :func:`inertia_sk`, which reproduces scikit-learn's inertia bit for bit:
its sums are in the data's dtype, split as scikit-learn's OpenMP loop splits them.

Compile time: a parallel kernel's ``prange`` body is one call of a serial function
(``_lloyd_part``...), since Numba's parallel lowering re-processes everything written
inside the loop, and the helpers are plain ``njit`` functions that LLVM inlines, not
``inline="always"`` (inlining at the Numba IR level re-types the helper at every call
site). The first fit of a process with an empty cache compiles only what it calls.

A plain-numpy reference of every kernel lives in ``tests/references/kmeans.py`` and the
tests compare them.
"""

import numpy as np
from numba import njit, prange

# Samples per block (sklearn's chunk size): the GEMM path computes the dot products of a
# block with all centers in one BLAS call (a CHUNK x k panel that stays in L2), then the
# argmin and the accumulation are fused on that block.
CHUNK = 256

# Below this many centers the GEMM path computes the panel as ``X_block @ C.T``
# (CHUNK, k) and takes the argmin along its rows; from it on as ``C @ X_block.T``
# (k, CHUNK) with the argmin vectorised over the samples. OpenBLAS runs the first
# product faster for few centers, while the vectorised argmin wins for many
# (``benchmarks/bench_cluster.py`` has a case on each side of the threshold).
ROWS_MAX_K = 64


@njit(cache=True)
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


@njit(cache=True)
def _accumulate(X, data, indices, indptr, sparse, i, w, sums_p, lab):
    if sparse:
        for p in range(indptr[i], indptr[i + 1]):
            sums_p[lab, indices[p]] += data[p] * w
    else:
        for f in range(X.shape[1]):
            sums_p[lab, f] += X[i, f] * w


@njit(cache=True)
def _store_part(sums_p, wsums_p, sums_out, wsums_out):
    """Copy a thread's local sums into its part's rows of ``sums`` / ``wsums``."""
    k, d = sums_p.shape
    for j in range(k):
        wsums_out[j] = wsums_p[j]
        for f in range(d):
            sums_out[j, f] = sums_p[j, f]


@njit(cache=True)
def _argmin_update_dots(h, row, j, best_in, lab_in, best_out, lab_out, m):
    """Running argmin over centers, vectorised over the ``m`` samples of a block.

    ``v = h - row`` (``0.5 ||c_j||^2 - x.c_j``); ``best_out = min(best_in, v)`` and
    ``lab_out = j`` where ``v < best_in`` (strictly: ties keep the lower index).

    The results go to *other* buffers than the inputs (the caller alternates them):
    updating in place lets LLVM turn the "keep the old value" branch into a masked
    store (``vmaskmovpd``), which is microcoded and about 3x slower on AMD cores.
    Labels are kept as floats of the data's dtype (exact below 2**24 clusters) so
    that the selects have the lane width of the distances.
    """
    fj = best_in.dtype.type(j)
    for b in range(m):
        vb = h - row[b]
        bb = best_in[b]
        lb = lab_in[b]  # loaded unconditionally: no masked load either
        less = vb < bb
        best_out[b] = vb if less else bb
        lab_out[b] = fj if less else lb


@njit(cache=True)
def _argmin_update_dots4(half_c_sq, dots, j, best_in, lab_in, best_out, lab_out, m):
    """:func:`_argmin_update_dots` for rows ``j .. j+3`` in one sweep over the block.

    The four candidates are compared in increasing ``j`` with strict ``<``, so the
    result (ties to the lower index) and every value are those of four single-row
    sweeps; the running minimum is loaded and stored once instead of four times.
    """
    ft = best_in.dtype.type
    f0, f1, f2, f3 = ft(j), ft(j + 1), ft(j + 2), ft(j + 3)
    h0, h1, h2, h3 = half_c_sq[j], half_c_sq[j + 1], half_c_sq[j + 2], half_c_sq[j + 3]
    r0, r1, r2, r3 = dots[j], dots[j + 1], dots[j + 2], dots[j + 3]
    for b in range(m):
        bb = best_in[b]
        lb = lab_in[b]
        v = h0 - r0[b]
        less = v < bb
        bb = v if less else bb
        lb = f0 if less else lb
        v = h1 - r1[b]
        less = v < bb
        bb = v if less else bb
        lb = f1 if less else lb
        v = h2 - r2[b]
        less = v < bb
        bb = v if less else bb
        lb = f2 if less else lb
        v = h3 - r3[b]
        less = v < bb
        bb = v if less else bb
        lb = f3 if less else lb
        best_out[b] = bb
        lab_out[b] = lb


@njit(cache=True)
def _argmin_update_2d(x0, x1, c0, c1, j, best_in, lab_in, best_out, lab_out, m):
    """As :func:`_argmin_update_dots` with ``v = (x0 - c0)^2 + (x1 - c1)^2``."""
    fj = best_in.dtype.type(j)
    for b in range(m):
        t0 = x0[b] - c0
        t1 = x1[b] - c1
        vb = t0 * t0 + t1 * t1
        bb = best_in[b]
        lb = lab_in[b]  # loaded unconditionally: no masked load either
        less = vb < bb
        best_out[b] = vb if less else bb
        lab_out[b] = fj if less else lb


@njit(cache=True)
def _block_argmin_gemm(Xb, centers, half_c_sq, dots, best0, lab0, best1, lab1):
    """Labels of the ``m`` samples of block ``Xb`` by ``0.5 ||c||^2 - x.c``.

    ``dots`` (k, m) receives ``centers @ Xb.T`` (one BLAS call); the running minimum
    then goes down the rows of ``dots``, vectorised over the samples. Returns the
    buffer holding the block's labels (as floats).
    """
    k = centers.shape[0]
    m = Xb.shape[0]
    np.dot(centers, Xb.T, dots)
    big = best0.dtype.type(np.inf)
    for b in range(m):
        best0[b] = big
        lab0[b] = 0.0
    # four rows of ``dots`` per sweep over the block (the running minimum stays in
    # registers across them), then the remaining rows one by one; each sweep reads
    # one pair of buffers and writes the other
    k4 = k - k % 4
    swaps = 0
    for j in range(0, k4, 4):
        if swaps & 1:
            _argmin_update_dots4(half_c_sq, dots, j, best1, lab1, best0, lab0, m)
        else:
            _argmin_update_dots4(half_c_sq, dots, j, best0, lab0, best1, lab1, m)
        swaps += 1
    for j in range(k4, k):
        if swaps & 1:
            _argmin_update_dots(half_c_sq[j], dots[j], j, best1, lab1, best0, lab0, m)
        else:
            _argmin_update_dots(half_c_sq[j], dots[j], j, best0, lab0, best1, lab1, m)
        swaps += 1
    return lab1 if swaps & 1 else lab0


@njit(cache=True)
def _row_argmin(dots, half_c_sq, b, k):
    best = half_c_sq[0] - dots[b, 0]
    lab = 0
    for j in range(1, k):
        v = half_c_sq[j] - dots[b, j]
        if v < best:
            best = v
            lab = j
    return lab


@njit(cache=True)
def _block_argmin_gemm_rows(Xb, centers_t, half_c_sq, dots, labs):
    """Labels of the ``m`` samples of block ``Xb`` by ``0.5 ||c||^2 - x.c``, from a
    ``(m, k)`` panel ``dots = Xb @ centers_t`` (one BLAS call; ``centers_t`` is the
    C-contiguous transpose of the centers).

    Each row's argmin runs over the centers in increasing index with strict ``<``
    (ties to the lower index), four samples at a time as four independent chains
    (the rows are contiguous in ``k``, so there is no vectorising over samples
    without strided loads). Writes the labels, as floats, to ``labs[:m]``.
    """
    m = Xb.shape[0]
    k = centers_t.shape[1]
    np.dot(Xb, centers_t, dots)
    ft = labs.dtype.type
    m4 = m - m % 4
    for b in range(0, m4, 4):
        h = half_c_sq[0]
        b0 = h - dots[b, 0]
        b1 = h - dots[b + 1, 0]
        b2 = h - dots[b + 2, 0]
        b3 = h - dots[b + 3, 0]
        l0 = 0
        l1 = 0
        l2 = 0
        l3 = 0
        for j in range(1, k):
            h = half_c_sq[j]
            v0 = h - dots[b, j]
            v1 = h - dots[b + 1, j]
            v2 = h - dots[b + 2, j]
            v3 = h - dots[b + 3, j]
            if v0 < b0:
                b0 = v0
                l0 = j
            if v1 < b1:
                b1 = v1
                l1 = j
            if v2 < b2:
                b2 = v2
                l2 = j
            if v3 < b3:
                b3 = v3
                l3 = j
        labs[b] = ft(l0)
        labs[b + 1] = ft(l1)
        labs[b + 2] = ft(l2)
        labs[b + 3] = ft(l3)
    for b in range(m4, m):
        labs[b] = ft(_row_argmin(dots, half_c_sq, b, k))
    return labs


@njit(cache=True)
def _block_argmin_2d(X, s0, m, centers, x0, x1, best0, lab0, best1, lab1):
    """Labels of samples ``s0 .. s0+m`` of 2-D ``X`` by exact squared differences,
    vectorised over the samples (coordinates first copied into ``x0``/``x1``)."""
    k = centers.shape[0]
    big = best0.dtype.type(np.inf)
    for b in range(m):
        x0[b] = X[s0 + b, 0]
        x1[b] = X[s0 + b, 1]
        best0[b] = big
        lab0[b] = 0.0
    for j in range(k):
        c0 = centers[j, 0]
        c1 = centers[j, 1]
        if j & 1:
            _argmin_update_2d(x0, x1, c0, c1, j, best1, lab1, best0, lab0, m)
        else:
            _argmin_update_2d(x0, x1, c0, c1, j, best0, lab0, best1, lab1, m)
    return lab1 if k & 1 else lab0


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
def _gemm_operands(c_sq, half_c_sq):
    """``half_c_sq = 0.5 * c_sq`` (centers' dtype).

    Serial helper: inside a ``parallel=True`` kernel this array expression would
    become a parallel region (one more fork/join per call).
    """
    for j in range(c_sq.shape[0]):
        half_c_sq[j] = 0.5 * c_sq[j]


@njit(cache=True)
def _transpose(a, out):
    """``out = a.T`` (serial: no parallel region of its own)."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j, i] = a[i, j]


@njit(parallel=True, cache=True)
def lloyd_pass(X, data, indices, indptr, x_sq, sparse, sample_weight, centers,
               labels, sums, wsums, changed, update_centers, use_gemm):
    """One E-step (and the sums of the M-step) of Lloyd's algorithm.

    Assigns every sample to its closest center (ties to the lowest index), writes
    ``labels`` in place and counts per part how many labels changed (``changed``).
    With ``update_centers``, ``sums[p]`` / ``wsums[p]`` receive the weighted sums of
    the samples of part ``p`` per cluster (float64), to be reduced by the caller.

    Dense data go by blocks of ``CHUNK`` samples. With ``use_gemm`` the dot products
    of a block with all centers come from one matrix product (BLAS: ``X_block @ C.T``
    for fewer than ``ROWS_MAX_K`` centers, argmin along the rows of the panel;
    ``C @ X_block.T`` otherwise, argmin vectorised over the samples) and the labels
    minimise ``0.5 ||c||^2 - x.c``; in 2-D the exact squared differences are computed
    directly, the running argmin vectorised over the samples of the block. Other
    dense data (3 to ~11 features, few centers) use direct per-sample loops; CSR data
    the sparse expansion of the distance.

    The parallel loop only hands each part to :func:`_lloyd_part` (a serial
    function): Numba's parallel lowering costs compile time in proportion to the body
    of the ``prange`` loop, so the body stays one call.
    """
    n = labels.shape[0]
    k, d = centers.shape
    n_parts = sums.shape[0]
    c_sq = np.empty(k, dtype=np.float64)
    _center_sq_norms(centers, c_sq)
    half_c_sq = np.empty(k, dtype=centers.dtype)
    _gemm_operands(c_sq, half_c_sq)
    rows = use_gemm and not sparse and k < ROWS_MAX_K
    centers_t = np.empty((d if rows else 0, k), dtype=centers.dtype)
    if rows:
        _transpose(centers, centers_t)
    n_chunks = (n + CHUNK - 1) // CHUNK
    for p in prange(n_parts):
        changed[p] = _lloyd_part(X, data, indices, indptr, x_sq, sparse, sample_weight,
                                 centers, centers_t, c_sq, half_c_sq, labels, sums[p],
                                 wsums[p], p * n_chunks // n_parts,
                                 (p + 1) * n_chunks // n_parts, update_centers,
                                 use_gemm)


@njit(cache=True)
def _lloyd_part(X, data, indices, indptr, x_sq, sparse, sample_weight, centers,
                centers_t, c_sq, half_c_sq, labels, sums_out, wsums_out, ch0, ch1,
                update_centers, use_gemm):
    """Blocks ``ch0 .. ch1`` of :func:`lloyd_pass`; returns how many labels changed."""
    n = labels.shape[0]
    k, d = centers.shape
    gemm = use_gemm and not sparse
    rows = gemm and centers_t.shape[0] > 0
    blocked = gemm or (d == 2 and not sparse)
    n_changed = 0
    # block buffers (empty unless used)
    dots_flat = np.empty(k * CHUNK if gemm else 0, dtype=X.dtype)
    nb = CHUNK if blocked else 0
    best0 = np.empty(nb, dtype=X.dtype)
    lab0 = np.empty(nb, dtype=X.dtype)
    best1 = np.empty(nb, dtype=X.dtype)
    lab1 = np.empty(nb, dtype=X.dtype)
    x0 = np.empty(nb if d == 2 else 0, dtype=X.dtype)
    x1 = np.empty(nb if d == 2 else 0, dtype=X.dtype)
    # Thread-local accumulators, copied to sums[p] / wsums[p] at the end: the parts'
    # rows of ``sums``/``wsums`` are adjacent (a few cache lines apart for small k*d),
    # and updating them per sample false-shares lines between threads whenever the
    # arrays are not 64-byte aligned, which slows small-k fits badly.
    # Allocated here, they come from each thread's own malloc arena.
    sums_p = np.zeros((k if update_centers else 0, d), dtype=np.float64)
    wsums_p = np.zeros(k if update_centers else 0, dtype=np.float64)
    for ch in range(ch0, ch1):
        s0 = ch * CHUNK
        s1 = min(s0 + CHUNK, n)
        m = s1 - s0
        if blocked:
            if rows:
                dots = dots_flat[: k * m].reshape((m, k))
                labs = _block_argmin_gemm_rows(X[s0:s1], centers_t, half_c_sq, dots,
                                               lab0)
            elif gemm:
                dots = dots_flat[: k * m].reshape((k, m))
                labs = _block_argmin_gemm(X[s0:s1], centers, half_c_sq, dots,
                                          best0, lab0, best1, lab1)
            else:
                labs = _block_argmin_2d(X, s0, m, centers, x0, x1, best0, lab0,
                                        best1, lab1)
            for ii in range(m):
                i = s0 + ii
                lab = int(labs[ii])
                if labels[i] != lab:
                    n_changed += 1
                    labels[i] = lab
                if update_centers:
                    w = sample_weight[i]
                    wsums_p[lab] += w
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
                    wsums_p[lab] += w
                    _accumulate(X, data, indices, indptr, sparse, i, w, sums_p, lab)
    if update_centers:
        _store_part(sums_p, wsums_p, sums_out, wsums_out)
    return n_changed


@njit(cache=True)
def reduce_parts(sums, wsums, acc, wacc):
    """Sum the per-part partial sums in part order; return the empty-cluster count."""
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
def assigned_sqdist(X, data, indices, indptr, x_sq, sparse, centers, labels, out):
    """``out[i] = ||x_i - c_{labels[i]}||^2`` (the distances used to relocate empty
    clusters; the inertia itself comes from :func:`inertia_sk`)."""
    n = labels.shape[0]
    k = centers.shape[0]
    c_sq = np.empty(k, dtype=np.float64)
    _center_sq_norms(centers, c_sq)
    n_blocks = (n + CHUNK - 1) // CHUNK
    for b in prange(n_blocks):
        _assigned_rows(X, data, indices, indptr, x_sq, sparse, centers, c_sq, labels,
                       out, b * CHUNK, min((b + 1) * CHUNK, n))


@njit(cache=True)
def _assigned_rows(X, data, indices, indptr, x_sq, sparse, centers, c_sq, labels, out,
                   i0, i1):
    for i in range(i0, i1):
        out[i] = _row_sqdist(X, data, indices, indptr, x_sq, sparse, i, centers,
                             labels[i], c_sq)


@njit(cache=True)
def _row_sqdist_sk(X, data, indices, indptr, sparse, i, C, j, c_sq, zero):
    """Squared distance of sample ``i`` to row ``j`` of ``C`` with scikit-learn's
    arithmetic (``_euclidean_dense_dense`` / ``_euclidean_sparse_dense``), every
    operation in the data's dtype (``zero`` is a 0 of that dtype).

    Dense: features in groups of four, each group's ``((d0^2 + d1^2) + d2^2) + d3^2``
    added to the running sum, then the remaining features one by one. Sparse: over the
    non-zeros ``r += t*t - c*c`` (``t = x - c``), then ``+ c_sq[j]``, clamped at 0.
    No fastmath: LLVM neither reassociates nor contracts into FMAs.
    """
    r = zero
    if sparse:
        for p in range(indptr[i], indptr[i + 1]):
            b = C[j, indices[p]]
            t = data[p] - b
            r += t * t - b * b
        r += c_sq[j]
        if r < zero:
            r = zero
        return r
    d = X.shape[1]
    d4 = d - d % 4
    for f in range(0, d4, 4):
        t0 = X[i, f] - C[j, f]
        t1 = X[i, f + 1] - C[j, f + 1]
        t2 = X[i, f + 2] - C[j, f + 2]
        t3 = X[i, f + 3] - C[j, f + 3]
        r += t0 * t0 + t1 * t1 + t2 * t2 + t3 * t3
    for f in range(d4, d):
        t = X[i, f] - C[j, f]
        r += t * t
    return r


@njit(cache=True)
def _inertia_part(X, data, indices, indptr, sparse, sample_weight, centers, c_sq,
                  labels, i0, i1, zero):
    acc = zero
    for i in range(i0, i1):
        v = _row_sqdist_sk(X, data, indices, indptr, sparse, i, centers, labels[i],
                           c_sq, zero)
        acc += v * sample_weight[i]
    return acc


@njit(parallel=True, cache=True)
def inertia_sk(X, data, indices, indptr, sparse, sample_weight, centers, c_sq, labels,
               partial):
    """The inertia as scikit-learn's ``_inertia_dense`` / ``_inertia_sparse`` computes
    it, bit for bit: everything in the data's dtype.

    ``partial`` (data's dtype) has one slot per OpenMP thread ``T`` of the run being
    reproduced; the samples are split as libgomp's ``schedule(static)`` does (with
    ``q, r = divmod(n, T)``, thread ``t < r`` takes ``q + 1`` samples from
    ``t * (q + 1)``, thread ``t >= r`` takes ``q`` from ``t * q + r``), each part sums
    ``sqdist * sample_weight[i]`` in order from 0 into ``partial[t]``, and the parts are
    added to 0 in thread order. (scikit-learn adds them in the order its threads finish;
    for ``T <= 2`` every order gives the same bits.) ``c_sq`` (centers' squared norms,
    data's dtype) is read for CSR data only; ``sample_weight`` must have the data's
    dtype.
    """
    n = labels.shape[0]
    n_parts = partial.shape[0]
    zero = partial.dtype.type(0)
    q = n // n_parts
    rem = n % n_parts
    for t in prange(n_parts):
        if t < rem:
            i0 = t * (q + 1)
            i1 = i0 + q + 1
        else:
            i0 = t * q + rem
            i1 = i0 + q
        partial[t] = _inertia_part(X, data, indices, indptr, sparse, sample_weight,
                                   centers, c_sq, labels, i0, i1, zero)
    total = zero
    for t in range(n_parts):
        total += partial[t]
    return total


@njit(parallel=True, cache=True)
def sqdist_matrix(X, data, indices, indptr, x_sq, sparse, centers, out):
    """``out[i, j] = ||x_i - c_j||^2`` for all samples and the given centers."""
    n = out.shape[0]
    k, d = centers.shape
    c_sq = np.empty(k, dtype=np.float64)
    _center_sq_norms(centers, c_sq)
    n_blocks = (n + CHUNK - 1) // CHUNK
    for b in prange(n_blocks):
        _sqdist_rows(X, data, indices, indptr, x_sq, sparse, centers, c_sq, out,
                     b * CHUNK, min((b + 1) * CHUNK, n))


@njit(cache=True)
def _sqdist_rows(X, data, indices, indptr, x_sq, sparse, centers, c_sq, out, i0, i1):
    for i in range(i0, i1):
        for j in range(centers.shape[0]):
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
        changed[p] = _elkan_part(X, data, indices, indptr, x_sq, sparse, sample_weight,
                                 centers, c_sq, half_dist, next_half, center_shift,
                                 labels, upper, lower, sums[p], wsums[p],
                                 p * n // n_parts, (p + 1) * n // n_parts,
                                 update_centers)


@njit(cache=True)
def _elkan_part(X, data, indices, indptr, x_sq, sparse, sample_weight, centers, c_sq,
                half_dist, next_half, center_shift, labels, upper, lower, sums_out,
                wsums_out, i0, i1, update_centers):
    """Samples ``i0 .. i1`` of :func:`elkan_pass`; returns how many labels changed."""
    k, d = centers.shape
    n_changed = 0
    # thread-local accumulators (see lloyd_pass)
    sums_p = np.zeros((k if update_centers else 0, d), dtype=np.float64)
    wsums_p = np.zeros(k if update_centers else 0, dtype=np.float64)
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
            wsums_p[lab] += w
            _accumulate(X, data, indices, indptr, sparse, i, w, sums_p, lab)
    if update_centers:
        _store_part(sums_p, wsums_p, sums_out, wsums_out)
    return n_changed
