"""Blocked BernoulliRBM epoch kernel (private), for minibatches of some size.

The same epoch and the same random draws as ``_bernoulli_kernels.dense_epoch``,
for minibatches where skipping zeros pays: every product has a left factor with
many zeros (the data, the binary samples), so it is computed as a sum of the rows of
a weight matrix selected by the non-zeros, each added with fused multiply-adds (the
SIMD pieces live in ``_intrinsics``), in a layout that keeps the rows being added in
the fastest caches:

- **Packed matrices.** ``WtP[jb]`` is the column block jb of ``Wt`` = ``components_.T``
  (visible x hidden): its rows cut to ``CW`` columns (256 bytes: 64 float32 or 32
  float64), contiguous, so that the rows selected from a block are not 2 kB apart
  (which maps them onto a few sets of the L1 cache). ``WP`` packs ``W`` =
  ``components_`` likewise, and the activations ``HP`` (hidden) / ``VP`` (visible)
  are packed the same way. Rows and columns are padded with zeros to whole blocks.
- **Register accumulation.** ``block_acc`` adds selected 256-byte rows of a block to
  one row of the output held in eight vector registers throughout (one load and one
  store of the output row per call, not one per row added). Binary left rows (the
  samples; -lr times the Bernoulli visible samples in the parameter step) go
  through ``block_acc_const``: one coefficient, nothing to load per row added. For
  that the positive and the negative rows of the parameter step each take whole
  64-row words.
- **Non-zero masks.** The non-zeros of a left row (data row, binary sample) in each
  *region* of 64 features are one 64-bit mask, its coefficients read where the
  values are. A task adds, for every row of the minibatch, the selected rows of one
  64-row slice of a weight block (16 kB, in L1) before moving to the next slice.
  Masks cost a fraction of index lists to build (compare, shift, or: vectorised).

Tasks of a minibatch (handed out in parallel phases, each a ``prange`` over the
threads; a thread claims tasks one at a time with an atomic exchange (``_claim``),
from its own share of the list first (the same column blocks of the weights in every
phase, so that they stay in its caches), then whatever the others left, so that a
thread on a slower core simply takes fewer):

1. positive: task (hidden region, row group): HP = sigmoid(bh + x @ Wt) on the
   region's blocks; for CD also the chains' samples and their masks;
2. visible (each Gibbs step): task (visible region, chain group): VP = bv + h @ W,
   the samples (Bernoulli or Gaussian) and their masks;
3. hidden: task (hidden region, chain group): HP of the chains, their new binary
   state and its masks;
4. left factor of the parameter step: task (visible region): ``AT[i]`` = lr times
   the data values of feature i (the transposes of their blocks; -lr times the
   visible samples too where these are real-valued: binary ones take the single
   coefficient -lr), its masks over the rows (64 x 64 bit transposes of the masks
   the earlier phases built), the visible biases' step;
5. parameter step: task 0 the hidden biases, then tasks (column block of ``WtP``,
   part of 256 features): WtP[jb, i] += the selected rows of HP[jb] times their
   coefficients (or through the velocity, with momentum and weight decay), and the
   same columns of ``WP`` by 8 x 8 (float64: 4 x 4) vector transposes; then the
   data masks of the next minibatch; thread 0 first draws the next minibatch's
   random numbers.

Tasks that need nothing of each other share a phase (fewer waits for the slowest
thread): with persistent chains, 1 and the first 2 (the chains' visible step reads
only their stored state); in all cases, the last 3 and 4 (4 reads the data and the
visible samples only). So PCD-1 runs three phases per minibatch: 1 + 2, 3 + 4, 5.

Every output element gets the same arithmetic whichever thread computes it, so the
numbers do not depend on the thread count.
"""

from collections import namedtuple

import numpy as np
from numba import njit, prange

from ..utils._numba_math import FASTMATH, exp_scratch, sigmoid_inplace
from ._bernoulli_kernels import (
    MT_SCRATCH,
    bias_step,
    box_muller_steps,
    max_rows,
    minibatch_draws,
    mt_fill_random,
)
from ._intrinsics import (
    ROW_BYTES,
    atomic_xchg,
    block_acc,
    block_acc_const,
    transpose_block,
)

# bytes of a packed row (block width); a mask region is 64 features (one block of
# float32, two of float64)
BLOCK_BYTES = ROW_BYTES
REGION = 64
_PART = 4  # regions of features per task of the parameter step


@njit(cache=True)
def _claim(flags, epoch, n, start, j):
    """The next task of a thread that scans tasks start, start + 1, ..., n - 1, 0, ...
    (its j-th step on): claims the first not yet claimed in this phase (``epoch``).
    Returns (task or -1, next j)."""
    while j < n:
        i = start + j
        if i >= n:
            i -= n
        j += 1
        if atomic_xchg(flags, i, epoch) != epoch:
            return i, j
    return -1, j


@njit(cache=True)
def transpose_bits64(a):
    """Transpose the 64 x 64 bit matrix ``a`` (uint64[64], bit c of a[r] is entry (r,
    c)) in place: afterwards bit r of a[c] is the old bit c of a[r]. Six rounds of
    block swaps (32, 16, ..., 1 bits wide)."""
    j = 32
    m = np.uint64(0x00000000FFFFFFFF)
    while j != 0:
        sj = np.uint64(j)
        for k0 in range(0, 64, 2 * j):
            for k in range(k0, k0 + j):
                t = ((a[k] >> sj) ^ a[k + j]) & m
                a[k] ^= t << sj
                a[k + j] ^= t
        j >>= 1
        m ^= m << np.uint64(j)


# ---------------------------------------------------------------------------
# packed layouts
# ---------------------------------------------------------------------------


@njit(cache=True)
def pack_cols(A, P):
    """``P[jb, i, c] = A[i, jb * CW + c]``, zero beyond the rows and columns of A
    (``P`` of shape (blocks, padded rows, CW))."""
    n, w = A.shape
    cw = P.shape[2]
    zero = P.dtype.type(0)
    for jb in range(P.shape[0]):
        j0 = jb * cw
        lim = max(min(cw, w - j0), 0)
        for i in range(P.shape[1]):
            p = P[jb, i]
            if i < n:
                a = A[i, j0:j0 + lim]
                for c in range(lim):
                    p[c] = a[c]
                for c in range(lim, cw):
                    p[c] = zero
            else:
                for c in range(cw):
                    p[c] = zero


@njit(cache=True)
def unpack_cols(P, A):
    """``A[i, j] = P[j // CW, i, j % CW]`` (the inverse of ``pack_cols``)."""
    n, w = A.shape
    cw = P.shape[2]
    for i in range(n):
        for jb in range(P.shape[0]):
            j0 = jb * cw
            lim = min(cw, w - j0)
            if lim <= 0:
                break
            a = A[i, j0:j0 + lim]
            p = P[jb, i]
            for c in range(lim):
                a[c] = p[c]


@njit(cache=True)
def pack_transposed(WtP, WP):
    """``WP`` = the packed transpose of the matrix packed in ``WtP`` (all blocks,
    padding included: ``WP[ib, j, c] = WtP[j // CW, ib * CW + c, j % CW]``)."""
    cw = WtP.shape[2]
    n = 8 if cw == 64 else 4
    for jb in range(WtP.shape[0]):
        for ib in range(WP.shape[0]):
            for i in range(0, cw, n):
                for j in range(0, cw, n):
                    transpose_block(WtP[jb], ib * cw + i, j, WP[ib], jb * cw + j, i)


# ---------------------------------------------------------------------------
# Non-zero masks. The non-zeros of a left row (data row, binary sample) in a region of
# 64 features are one uint64, ``mask[k, b]`` (bit t: feature k * 64 + t); the
# coefficients are read where the values are: ``vals[(row_off + b) * row_stride +
# (i // CW) * blk_stride + i % CW]`` for feature i of row b (plain rows: blk_stride =
# CW, so the index is (row_off + b) * row_stride + i; packed rows: row_stride = CW,
# blk_stride = rows * CW).
# ---------------------------------------------------------------------------


@njit(cache=True)
def nonzero_mask(piece):
    """uint64 with bit c set where ``piece[c] != 0`` (len(piece) <= 64)."""
    mk = np.uint64(0)
    for c in range(piece.shape[0]):  # vectorises (compare, shift, or)
        mk |= np.uint64(piece[c] != 0) << np.uint64(c)
    return mk


@njit(cache=True)
def data_masks(k, b0, b1, r0, dense, indptr, indices, data, V, Xd, masks):
    """Masks (region k) of the data rows r0 + b, b0 <= b < b1: dense rows (``data`` =
    X.ravel(), ``indptr`` empty) are read in place; CSR rows (sorted indices) are
    first written, region k only, into the dense rows ``Xd[b]`` (where the
    coefficients are then read)."""
    i0 = k * REGION
    i1 = min(i0 + REGION, V)
    zero = Xd.dtype.type(0)
    for b in range(b0, b1):
        r = r0 + b
        if dense:
            masks[k, b] = nonzero_mask(data[r * V + i0:r * V + i1])
        else:
            row = Xd[b]
            for i in range(i0, i1):
                row[i] = zero
            end = indptr[r + 1]
            a = indptr[r] + np.searchsorted(indices[indptr[r]:end], i0)
            while a < end and indices[a] < i1:
                row[indices[a]] = data[a]
                a += 1
            masks[k, b] = nonzero_mask(row[i0:i1])


@njit(cache=True)
def packed_masks(k, b0, b1, P, width, masks):
    """Masks (region k) of rows b0 <= b < b1 of the packed ``P`` (columns <
    width)."""
    cw = P.shape[2]
    bpr = REGION // cw
    for b in range(b0, b1):
        mk = np.uint64(0)
        for t in range(bpr):
            jb = k * bpr + t
            lim = min(cw, width - jb * cw)
            if lim > 0:
                mk |= nonzero_mask(P[jb, b, :lim]) << np.uint64(t * cw)
        masks[k, b] = mk


@njit(cache=True)
def row_masks(k, b0, b1, A, masks):
    """Masks (region k) of rows b0 <= b < b1 of the 2-D ``A``."""
    i0 = k * REGION
    i1 = min(i0 + REGION, A.shape[1])
    for b in range(b0, b1):
        masks[k, b] = nonzero_mask(A[b, i0:i1])


# ---------------------------------------------------------------------------
# tasks. Constant arguments are passed typed (``np.int64(0)``, ``np.bool_(True)``):
# Numba compiles a separate specialisation of a callee for each literal constant.
# ---------------------------------------------------------------------------


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _product_block(jb, Out, o0, b0, b1, B, bias, width, masks, vals, row_off,
                   row_stride, blk_stride, binary):
    """Out[jb, o0 + b] = bias (its block; 0 in the padding) + left row b @ B[jb],
    b0 <= b < b1, the left rows given by their masks and values (see above): the
    rows of B[jb] 64 at a time (16 kB, float32), for every left row."""
    Ob = Out[jb]
    Bb = B[jb]
    cw = Ob.shape[1]
    bpr = REGION // cw
    low = np.uint64((1 << cw) - 1) if bpr > 1 else np.uint64(0xFFFFFFFFFFFFFFFF)
    j0 = jb * cw
    lim = max(min(cw, width - j0), 0)
    zero = Ob.dtype.type(0)
    one = Ob.dtype.type(1)
    for b in range(b0, b1):
        o = Ob[o0 + b]
        for c in range(lim):
            o[c] = bias[j0 + c]
        for c in range(lim, cw):
            o[c] = zero
    for k in range(masks.shape[0]):
        for b in range(b0, b1):
            mk = masks[k, b]
            base = (row_off + b) * row_stride + k * bpr * blk_stride
            for t in range(bpr):
                if binary:  # every non-zero is 1
                    block_acc_const(Ob, o0 + b, Bb, k * REGION + t * cw,
                                    (mk >> np.uint64(t * cw)) & low, one)
                else:
                    block_acc(Ob, o0 + b, Bb, k * REGION + t * cw,
                              (mk >> np.uint64(t * cw)) & low, vals,
                              base + t * blk_stride)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _hidden_task(kh, b0, b1, o0, HP, WtP, bh, H, masks, vals, row_off, row_stride,
                 blk_stride, binary, sample, rand, off, hc, h_mask, ibuf):
    """Hidden region kh, rows b0..b1-1 (HP rows o0 + b): HP = sigmoid(bh + v @ Wt),
    padding columns 0; with ``sample`` also hc[b, j] = [rand[off + b * H + j] <
    HP] and the masks of those rows of hc."""
    cw = HP.shape[2]
    one = hc.dtype.type(1)
    zero = hc.dtype.type(0)
    for t in range(REGION // cw):
        jb = kh * (REGION // cw) + t
        j0 = jb * cw
        lim = max(min(cw, H - j0), 0)
        _product_block(jb, HP, o0, b0, b1, WtP, bh, H, masks, vals, row_off,
                       row_stride, blk_stride, binary)
        sigmoid_inplace(HP[jb, o0 + b0:o0 + b1].ravel(), ibuf)
        for b in range(b0, b1):
            o = HP[jb, o0 + b]
            for c in range(lim, cw):
                o[c] = zero
            if sample:
                u = rand[off + b * H + j0:off + b * H + j0 + lim]
                h = hc[b, j0:j0 + lim]
                for c in range(lim):
                    h[c] = one if u[c] < o[c] else zero
    if sample:
        row_masks(kh, b0, b1, hc, h_mask)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _visible_task(kv, b0, b1, VP, WP, bv, V, h_mask, hc, gaussian, rand, off, n_mask,
                  ibuf):
    """Visible region kv, chains b0..b1-1: s = bv + h @ W (h: rows of ``hc``, their
    masks ``h_mask``); Bernoulli v = [rand[off + b * V + i] < sigmoid(s)], Gaussian
    v = s + rand[...] (normals); padding 0; then the masks of v."""
    cw = VP.shape[2]
    H = hc.shape[1]
    one = VP.dtype.type(1)
    zero = VP.dtype.type(0)
    for t in range(REGION // cw):
        jb = kv * (REGION // cw) + t
        i0 = jb * cw
        lim = max(min(cw, V - i0), 0)
        _product_block(jb, VP, np.int64(0), b0, b1, WP, bv, V, h_mask, hc.ravel(),
                       np.int64(0), H, cw, np.bool_(True))
        if not gaussian:
            sigmoid_inplace(VP[jb, b0:b1].ravel(), ibuf)
        for b in range(b0, b1):
            o = VP[jb, b]
            u = rand[off + b * V + i0:off + b * V + i0 + lim]
            if gaussian:
                for c in range(lim):
                    o[c] += u[c]
            else:
                for c in range(lim):
                    o[c] = one if u[c] < o[c] else zero
            for c in range(lim, cw):
                o[c] = zero
    packed_masks(kv, b0, b1, VP, V, n_mask)


@njit(cache=True)
def _transposed_rows(S, s0, rows, c0, F, D, d0, n):
    """D[c0 + c, d0 + b] = S[s0 + b, c0 + c] for b < rows, c < F: n x n vector
    transposes, element by element at the edges. Where S has the rows, the last
    transposes take whole blocks of n rows: D's columns d0 + rows .. of those
    blocks then get whatever S holds there (the caller overwrites them)."""
    if rows % n and s0 + rows - rows % n + n <= S.shape[0]:
        rows += n - rows % n
    rf = rows - rows % n
    ff = F - F % n
    for b in range(0, rf, n):
        for c in range(0, ff, n):
            transpose_block(S, s0 + b, c0 + c, D, c0 + c, d0 + b)
        for c in range(ff, F):
            for bb in range(b, b + n):
                D[c0 + c, d0 + bb] = S[s0 + bb, c0 + c]
    for b in range(rf, rows):
        for c in range(F):
            D[c0 + c, d0 + b] = S[s0 + b, c0 + c]


@njit(cache=True)
def _mask_columns(masks, k, nrows, fm, w0):
    """fm[k * 64 + c, w0 + w] = the uint64 with bit b set where bit c of masks[k, 64 w
    + b] is (rows 64 w + b >= nrows: 0): the masks of region k, by rows, turned into
    masks over the rows, by feature (64 x 64 bit transposes)."""
    a = np.empty(64, np.uint64)
    for w in range((nrows + 63) // 64):
        r0 = w * 64
        n = min(64, nrows - r0)
        for b in range(n):
            a[b] = masks[k, r0 + b]
        for b in range(n, 64):
            a[b] = 0
        transpose_bits64(a)
        for c in range(64):
            fm[k * REGION + c, w0 + w] = a[c]
    for w in range((nrows + 63) // 64, fm.shape[1] // 2):
        for c in range(64):
            fm[k * REGION + c, w0 + w] = 0


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _coef_region(k, nb, nc, m, X2, p_off, VP, pm, n_mask, lr, AT, fm, bv, vel_bv, g_v,
                 momentum, plain, binary_neg):
    """Region k of the parameter step's left factor: AT[i, b] = lr * x[b, i] (b <
    nb) and, for real-valued visible samples, AT[i, m + c] = -lr * v[c, i] (c < nc;
    binary samples take the one coefficient -lr); the masks over the rows, by feature
    (``fm[i, w]``: rows 64 w .. of the data, then m + 64 w .. of the samples,
    non-zero in feature i: the transposes of the masks by rows); the visible biases'
    step (g_v = sum_b x_b - sum_c v_c). Other entries of AT are not read."""
    V = g_v.shape[0]
    cw = VP.shape[2]
    n = 8 if cw == 64 else 4
    i0 = k * REGION
    i1 = min(i0 + REGION, V)
    F = i1 - i0
    _transposed_rows(X2, p_off, nb, i0, F, AT, np.int64(0), n)
    if not binary_neg:
        for t in range(REGION // cw):
            jb = k * (REGION // cw) + t
            lim = min(cw, V - jb * cw)
            if lim > 0:
                _transposed_rows(VP[jb], np.int64(0), nc, np.int64(0), lim,
                                 AT[jb * cw:], m, n)
    nlr = -lr
    for c in range(F):
        row = AT[i0 + c]
        for b in range(nb):
            row[b] = lr * row[b]
        if not binary_neg:
            for b in range(m, m + nc):
                row[b] = nlr * row[b]
    _mask_columns(pm, k, nb, fm, np.int64(0))
    _mask_columns(n_mask, k, nc, fm, m // 64)
    g = g_v[i0:i1]
    zero = g_v.dtype.type(0)
    for c in range(F):
        g[c] = zero
    for b in range(nb):  # rows in order: the same sums whichever thread runs this
        x = X2[p_off + b, i0:i1]
        for c in range(F):
            g[c] += x[c]
    for t in range(REGION // cw):
        jb = k * (REGION // cw) + t
        lim = min(cw, V - jb * cw)
        if lim > 0:
            gt = g[t * cw:t * cw + lim]
            for b in range(nc):
                v = VP[jb, b]
                for c in range(lim):
                    gt[c] -= v[c]
    # (with ``plain``, vel_bv is a placeholder, and its empty slice is not read)
    bias_step(bv[i0:i1], vel_bv[i0:i1], g, lr, momentum, plain)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _weight_block(jb, f0, f1, V, AT, fm, WtP, WP, velP, HP, decay, momentum, plain,
                  nw_pos, neg_coef, binary_neg):
    """Parameter step of column block jb of WtP for the features f0..f1-1 (multiples
    of 8): WtP[jb, i] += sum over the rows r with fm bits of AT[i, r] * HP[jb, r]
    (binary visible samples: ``neg_coef`` for their rows; or through the velocity),
    then the same columns of WP (vector transposes)."""
    cw = WtP.shape[2]
    n = 8 if cw == 64 else 4
    Wb = WtP[jb]
    Hb = HP[jb]
    at = AT.ravel()
    s = AT.shape[1]
    for i in range(f0, min(f1, V)):
        Cb = Wb
        if not plain:
            Cb = velP[jb]
            wr = Wb[i]
            g = Cb[i]
            for c in range(cw):
                g[c] = momentum * g[c] - decay * wr[c]
        for w in range(fm.shape[1]):
            if binary_neg and w >= nw_pos:
                block_acc_const(Cb, i, Hb, w * 64, fm[i, w], neg_coef)
            else:
                block_acc(Cb, i, Hb, w * 64, fm[i, w], at, i * s + w * 64)
        if not plain:
            wr = Wb[i]
            g = Cb[i]
            for c in range(cw):
                wr[c] += g[c]
    for i in range(f0, f1, n):
        for j in range(0, cw, n):
            transpose_block(Wb, i, j, WP[i // cw], jb * cw + j, i % cw)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _hidden_bias(nb, nc, m, HP, bh, vel_bh, g_h, lr, momentum, plain):
    """g_h = sum_b hpos_b - sum_c hneg_c (packed rows), then the hidden biases' step."""
    H = g_h.shape[0]
    cw = HP.shape[2]
    zero = g_h.dtype.type(0)
    for jb in range(HP.shape[0]):
        lim = min(cw, H - jb * cw)
        if lim <= 0:
            break
        g = g_h[jb * cw:jb * cw + lim]
        for c in range(lim):
            g[c] = zero
        for b in range(nb):
            hp = HP[jb, b]
            for c in range(lim):
                g[c] += hp[c]
        for b in range(nc):
            hn = HP[jb, m + b]
            for c in range(lim):
                g[c] -= hn[c]
    bias_step(bh, vel_bh, g_h, lr, momentum, plain)


# ---------------------------------------------------------------------------
# the epoch: a loop over the minibatches and their phases; each phase hands its
# tasks (``_task``) out to the threads
# ---------------------------------------------------------------------------

_POSITIVE, _VISIBLE, _HIDDEN, _UPDATE = 0, 1, 2, 3

#: The arrays of an epoch (a flat namedtuple: the parallel phase cannot take nested
#: tuples).
Work = namedtuple("Work", [
    "indptr", "indices", "values", "bounds", "bh", "bv", "vel_bh", "vel_bv", "chain",
    "hc_cd", "WtP", "WP", "velP", "HP", "VP", "p_mask", "Xd", "n_mask", "h_mask", "AT",
    "fm", "g_h", "g_v", "ibuf", "rand", "words", "key", "pos", "flags"])

#: Sizes and settings of an epoch: features, components, rows of the statistics (a
#: multiple of 64), rows per task, hidden and visible regions.
Geometry = namedtuple("Geometry", [
    "V", "H", "m", "rc", "nkh", "nkv", "bpr", "dense", "plain", "persistent",
    "gaussian", "momentum", "decay"])

#: One phase of minibatch ``k`` (rows ``nb``, chains ``nc``, step ``lr``; ``off``:
#: where the phase's random numbers start; ``last``: the last Gibbs step; ``nb1``
#: and ``next_draws``: rows and random numbers of the next minibatch).
Phase = namedtuple("Phase", [
    "kind", "k", "nb", "nc", "lr", "off", "last", "nb1", "next_draws"])


@njit(cache=True)
def _phase_tasks(ph, g):
    """(number of tasks, first task of the threads' shares, tasks shared) of a
    phase; a thread t starts at ``first + t * shared // nt`` (thread 0 at 0)."""
    groups = (ph.nb + g.rc - 1) // g.rc
    gc = (ph.nc + g.rc - 1) // g.rc
    if ph.kind == _POSITIVE:
        n_pos = g.nkh * groups
        return n_pos + (g.nkv * gc if g.persistent else 0), 0, n_pos
    if ph.kind == _VISIBLE:
        return g.nkv * gc, 0, g.nkv * gc
    if ph.kind == _HIDDEN:
        return g.nkh * gc + (g.nkv if ph.last else 0), 0, g.nkh * gc
    nwt = _weight_tasks(g)
    return 1 + nwt + g.nkv * ((ph.nb1 + g.rc - 1) // g.rc), 1, nwt


@njit(cache=True)
def _weight_tasks(g):
    """Tasks of the parameter step: column blocks x parts of ``_PART`` regions."""
    return g.nkh * g.bpr * ((g.nkv + _PART - 1) // _PART)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _task(q, ib, ph, w, g):
    """Task ``q`` of phase ``ph`` (see the module docstring); ``ib``: the thread's
    row of ``w.ibuf``."""
    indptr, indices, values = w.indptr, w.indices, w.values
    cw = w.HP.shape[2]
    rc = g.rc
    nb = ph.nb
    nc = ph.nc
    hc = w.chain if g.persistent else w.hc_cd
    cur = ph.k % 2
    pm = w.p_mask[cur]
    # where the data rows' values are read: X in place, or the CSR rows' copy
    pv = values if g.dense else w.Xd[cur].ravel()
    p_off = w.bounds[ph.k] if g.dense else 0
    groups = (nb + rc - 1) // rc
    gc = (nc + rc - 1) // rc
    if ph.kind == _UPDATE:
        nparts = (g.nkv + _PART - 1) // _PART
        nwt = _weight_tasks(g)
        if q == 0:
            _hidden_bias(nb, nc, g.m, w.HP, w.bh, w.vel_bh, w.g_h, ph.lr, g.momentum,
                         g.plain)
        elif q <= nwt:
            e = q - 1
            f0 = (e % nparts) * _PART * REGION
            f1 = (min(f0 + _PART * REGION, g.V) + 7) // 8 * 8
            _weight_block(e // nparts, f0, f1, g.V, w.AT, w.fm, w.WtP, w.WP, w.velP,
                          w.HP, g.decay, g.momentum, g.plain, g.m // 64,
                          w.HP.dtype.type(-ph.lr), not g.gaussian)
        else:
            groups1 = (ph.nb1 + rc - 1) // rc
            e = q - 1 - nwt
            b0 = (e % groups1) * rc
            nxt = 1 - cur
            data_masks(e // groups1, b0, min(b0 + rc, ph.nb1), w.bounds[ph.k + 1],
                       g.dense, indptr, indices, values, g.V, w.Xd[nxt], w.p_mask[nxt])
        return
    n_hidden = g.nkh * groups if ph.kind == _POSITIVE else g.nkh * gc
    if ph.kind == _VISIBLE or (ph.kind == _POSITIVE and q >= n_hidden):
        e = q - n_hidden if ph.kind == _POSITIVE else q
        b0 = (e % gc) * rc
        _visible_task(e // gc, b0, min(b0 + rc, nc), w.VP, w.WP, w.bv, g.V, w.h_mask,
                      hc, g.gaussian, w.rand, ph.off, w.n_mask, ib)
    elif q < n_hidden:
        # the data rows (positive phase) or the chains' visible samples
        positive = ph.kind == _POSITIVE
        n_rows = nb if positive else nc
        grp = groups if positive else gc
        b0 = (q % grp) * rc
        if positive:  # real-valued rows; CD: the chains start from their samples
            o0, masks, vals, row_off, row_stride, blk_stride = (
                np.int64(0), pm, pv, p_off, g.V, cw)
            binary, sample, off = np.bool_(False), not g.persistent, np.int64(0)
        else:  # the chains' visible samples (binary unless Gaussian)
            o0, masks, vals, row_off, row_stride, blk_stride = (
                g.m, w.n_mask, w.VP.ravel(), np.int64(0), cw, g.m * cw)
            binary, sample, off = not g.gaussian, np.bool_(True), ph.off
        _hidden_task(q // grp, b0, min(b0 + rc, n_rows), o0, w.HP, w.WtP, w.bh, g.H,
                     masks, vals, row_off, row_stride, blk_stride, binary, sample,
                     w.rand, off, hc, w.h_mask, ib)
    else:
        X2 = pv.reshape((pv.shape[0] // g.V, g.V))
        _coef_region(q - n_hidden, nb, nc, g.m, X2, p_off, w.VP, pm, w.n_mask, ph.lr,
                     w.AT, w.fm, w.bv, w.vel_bv, w.g_v, g.momentum, g.plain,
                     not g.gaussian)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def blocked_epoch(data, bounds, params, velocities, chain, stream, settings, rc, nt):
    """``_bernoulli_kernels.dense_epoch`` in the blocked layout, its tasks handed out
    to ``nt`` threads (set Numba's thread count to ``nt`` around the call; one
    thread is fine): the same arguments, plus ``rc``, the rows (or chains) per task
    of the product phases, and the same random draws. ``chain`` is C-contiguous.
    Returns the new MT19937 position.

    Each phase is one parallel region: every thread claims the tasks of its own
    share first (``_claim``; the same weight blocks in every phase, so that they
    stay in its caches), then what the others left. In the parameter step thread 0
    first draws the next minibatch's random numbers (no task of that phase reads
    them)."""
    indptr, indices, values = data
    Wt, bh, bv = params
    vel_w, vel_bh, vel_bv = velocities
    key, pos = stream
    learning_rate, momentum, weight_decay, n_gibbs, persistent, gaussian = settings
    V, H = Wt.shape
    dt = Wt.dtype
    cw = BLOCK_BYTES // Wt.itemsize
    bpr = REGION // cw  # packed blocks per region
    nkh = (H + REGION - 1) // REGION
    nkv = (V + REGION - 1) // REGION
    dense = indptr.shape[0] == 0
    plain = momentum == 0.0 and weight_decay == 0.0
    max_nb = max_rows(bounds)
    n_chains = chain.shape[0]
    # rows of the positive and of the negative statistics, each a whole number of
    # 64-row words (the words of the binary visible samples take one coefficient)
    m = (max(n_chains, max_nb) + 63) // 64 * 64
    rand = np.empty(max(minibatch_draws(max_nb, n_chains if persistent else max_nb,
                                        V, H, n_gibbs, persistent, gaussian), 1))
    WtP = np.empty((nkh * bpr, nkv * REGION, cw), dt)
    WP = np.empty((nkv * bpr, nkh * REGION, cw), dt)
    pack_cols(Wt, WtP)
    pack_transposed(WtP, WP)
    if plain:
        velP = np.empty((1, 1, cw), dt)
    else:
        velP = np.empty(WtP.shape, dt)
        pack_cols(vel_w, velP)
    posbuf = np.empty(1, np.int64)
    posbuf[0] = pos
    w = Work(
        indptr, indices, values, bounds, bh, bv, vel_bh, vel_bv, chain,
        np.empty((m, H), dt),  # CD chains
        WtP, WP, velP,
        np.empty((nkh * bpr, 2 * m, cw), dt),  # HP: hpos rows 0..m-1, hneg m..2m-1
        np.empty((nkv * bpr, m, cw), dt),  # VP
        np.empty((2, nkv, m), np.uint64),  # data masks: this and the next minibatch
        np.zeros((2, m if not dense else 1, V if not dense else 1), dt),  # CSR rows
        np.empty((nkv, m), np.uint64),  # masks of the visible samples
        np.empty((nkh, m), np.uint64),  # masks of the chains' hidden samples
        # left factor of the parameter step: coefficients (the data rows;
        # real-valued visible samples), masks over the rows
        np.empty((nkv * REGION, m if not gaussian else 2 * m), dt),
        np.empty((nkv * REGION, 2 * m // 64), np.uint64),
        np.empty(H, dt), np.empty(V, dt),
        exp_scratch(Wt, nt * max(rc, 1) * cw).reshape((nt, max(rc, 1) * cw)),
        rand, np.empty(MT_SCRATCH, np.uint32), key, posbuf,
        np.zeros(2 * (nkh + nkv) * ((m + max(rc, 1) - 1) // max(rc, 1))
                 + 2 + nkh * bpr * ((nkv + _PART - 1) // _PART) + nkv, np.int64))
    g = Geometry(V, H, m, rc, nkh, nkv, bpr, dense, plain, persistent, gaussian,
                 momentum, learning_rate * weight_decay)
    if persistent:
        for kh in range(nkh):
            row_masks(kh, np.int64(0), n_chains, chain, w.h_mask)
    n_mb = bounds.shape[0] - 1
    nb = bounds[1] - bounds[0]
    for kv in range(nkv):
        data_masks(kv, np.int64(0), nb, np.int64(0), dense, indptr, indices, values,
                   V, w.Xd[0], w.p_mask[0])
    posbuf[0] = mt_fill_random(key, posbuf[0], w.words, rand[:minibatch_draws(
        nb, n_chains if persistent else nb, V, H, n_gibbs, persistent, gaussian)])
    ep = 0
    for k in range(n_mb):
        nb = bounds[k + 1] - bounds[k]
        nc = n_chains if persistent else nb
        lr = learning_rate / nb
        off0 = 0 if persistent else nb * H  # first visible draws
        vis_draws = 2 * ((nc * V + 1) // 2) if gaussian else nc * V
        if gaussian:
            box_muller_steps(rand, off0, n_gibbs, nc, V, H)
        nb1 = bounds[k + 2] - bounds[k + 1] if k + 1 < n_mb else 0
        next_draws = minibatch_draws(nb1, n_chains if persistent else nb1, V, H,
                                     n_gibbs, persistent, gaussian) if nb1 else 0
        # phases: positive, (visible, hidden) per Gibbs step, parameter step. With
        # persistent chains the first visible step needs nothing of the positive
        # phase and runs in it; the last hidden step runs with the left factor of
        # the parameter step (which needs only the data and the visible samples)
        for p in range(2 * n_gibbs + 2):
            step = (p - 1) // 2
            off = off0 + step * (vis_draws + nc * H)
            last = False
            if p == 0:
                kind = _POSITIVE
                off = off0
            elif p == 2 * n_gibbs + 1:
                kind = _UPDATE
            elif p % 2 == 1:
                if step == 0 and persistent:
                    continue
                kind = _VISIBLE
            else:
                kind = _HIDDEN
                off += vis_draws
                last = step == n_gibbs - 1
            ph = Phase(kind, k, nb, nc, lr, off, last, nb1, next_draws)
            n, first, shared = _phase_tasks(ph, g)
            ep += 1
            for t in prange(nt):
                if kind == _UPDATE and t == 0 and next_draws > 0:
                    posbuf[0] = mt_fill_random(key, posbuf[0], w.words,
                                               rand[:next_draws])
                st = 0 if t == 0 else first + t * shared // nt
                ib = w.ibuf[t]
                q, j = _claim(w.flags, ep, n, st, np.int64(0))
                while q >= 0:
                    _task(q, ib, ph, w, g)
                    q, j = _claim(w.flags, ep, n, st, j)
    unpack_cols(WtP, Wt)
    if not plain:
        unpack_cols(velP, vel_w)
    return posbuf[0]
