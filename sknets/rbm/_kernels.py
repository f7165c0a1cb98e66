"""Numba kernels of the RBM estimators (private; they know nothing of estimators).

Shared by every RBM: the parameter step (``sgd_step``, ``momentum_step``).
BernoulliRBM: the sklearn-compatible random stream (``mt_fill_random``), and the fused
epoch kernel (``bernoulli_epoch``) with its helpers. Each kernel has a plain-numpy
reference in ``_reference.py`` (the tests compare them on the same random draws).
"""

import numpy as np
from numba import njit, prange


@njit(cache=True)
def sgd_step(param, grad, lr, weight_decay):
    """In place: ``param += lr * (grad - weight_decay * param)`` (flat arrays)."""
    p = param.ravel()
    g = grad.ravel()
    for k in range(p.shape[0]):
        p[k] += lr * (g[k] - weight_decay * p[k])


@njit(cache=True)
def momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    """In place: ``velocity = momentum * velocity + lr * (grad - weight_decay * param)``;
    ``param += velocity``. All arrays C-contiguous of the same shape and dtype."""
    p = param.ravel()
    g = grad.ravel()
    v = velocity.ravel()
    for k in range(p.shape[0]):
        v[k] = momentum * v[k] + lr * (g[k] - weight_decay * p[k])
        p[k] += v[k]


def momentum_step_reference(param, grad, velocity, lr, momentum, weight_decay):
    """Plain-numpy reference of ``momentum_step`` (same in-place semantics)."""
    velocity *= momentum
    velocity += lr * (grad - weight_decay * param)
    param += velocity


# ---------------------------------------------------------------------------
# scikit-learn-compatible random stream
#
# scikit-learn's BernoulliRBM draws ``RandomState.uniform`` numbers (MT19937, two
# 32-bit words per double). To give a user who swaps the import the same model for
# the same ``random_state`` (up to float rounding), the kernels consume exactly that
# stream: the caller passes the RandomState's MT19937 key and position in, the kernel
# advances them, and the caller writes them back (``RandomState.set_state``). The
# numpy reference replays the same draws with ``RandomState.random_sample``.
# ---------------------------------------------------------------------------

_MT_N = 624
_MT_M = 397


@njit(cache=True)
def _mt_twist(key):
    upper = np.uint32(0x80000000)
    lower = np.uint32(0x7FFFFFFF)
    matrix = np.uint32(0x9908B0DF)
    one = np.uint32(1)
    for i in range(227):  # 624 - 397
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + 397] ^ (y >> one) ^ ((y & one) * matrix)
    for i in range(227, 623):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i - 227] ^ (y >> one) ^ ((y & one) * matrix)
    y = (key[623] & upper) | (key[0] & lower)
    key[623] = key[396] ^ (y >> one) ^ ((y & one) * matrix)


@njit(cache=True, inline="always")
def _temper(a):
    a ^= a >> np.uint32(11)
    a ^= (a << np.uint32(7)) & np.uint32(0x9D2C5680)
    a ^= (a << np.uint32(15)) & np.uint32(0xEFC60000)
    a ^= a >> np.uint32(18)
    return a


@njit(cache=True)
def _temper_block(key, pos, words, k, m):
    """words[k:k + m] = tempered key[pos:pos + m] (its own function: the loop
    vectorises once the two arrays are known to be distinct arguments)."""
    for t in range(m):
        words[k + t] = _temper(key[pos + t])


@njit(cache=True)
def _words_to_doubles(words, out, n):
    """out[t] = RandomState's double from words 2t (27 high bits) and 2t + 1 (26)."""
    for t in range(n):
        a = words[2 * t] >> np.uint32(5)
        b = words[2 * t + 1] >> np.uint32(6)
        out[t] = (np.float64(a) * 67108864.0 + np.float64(b)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def mt_fill_random(key, pos, words, out):
    """Fill ``out`` (float64, 1-D) with the next ``RandomState.random_sample`` doubles.

    ``key`` (uint32[624], MT19937 state) is advanced in place and the new position is
    returned. ``words`` is a uint32 scratch of length >= ``2 * out.shape[0]``.
    """
    n = out.shape[0]
    n_words = 2 * n
    k = 0
    while k < n_words:
        if pos >= 624:
            _mt_twist(key)
            pos = 0
        m = min(624 - pos, n_words - k)
        _temper_block(key, pos, words, k, m)
        k += m
        pos += m
    _words_to_doubles(words, out, n)
    return pos


# ---------------------------------------------------------------------------
# BernoulliRBM epoch kernel
#
# Layout: ``Wt`` is ``components_.T`` (n_features, n_components), C-contiguous (the
# memory of scikit-learn's Fortran-ordered ``components_``). Products with a sparse or
# binary left factor are sums of the rows of ``Wt`` selected by the non-zeros, so zeros
# of the data and of the binary visible samples cost nothing.
#
# Random numbers of one minibatch are drawn in one block, in this order:
#   CD only (persistent=False): nb * H uniforms, initial hidden sample of the chains;
#   then for each of the n_gibbs steps:
#     visible: nc * V uniforms (Bernoulli) or 2 * ceil(nc * V / 2) uniforms turned into
#              nc * V standard normals by Box-Muller (Gaussian visible units);
#     hidden:  nc * H uniforms.
# For PCD-1 with Bernoulli units this is scikit-learn's order of ``uniform`` calls.
# ---------------------------------------------------------------------------

_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}  # no nnan/ninf: divergence is detected


@njit(cache=True)
def minibatch_draws(nb, nc, n_features, n_components, n_gibbs, persistent, gaussian):
    """Number of uniform doubles the kernel draws for one minibatch."""
    n = 0 if persistent else nb * n_components
    nv = nc * n_features
    if gaussian:
        nv = 2 * ((nv + 1) // 2)
    return n + n_gibbs * (nv + nc * n_components)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def sigmoid_row(a, ibuf):
    """In place ``a = 1 / (1 + exp(-a))`` on a 1-D row (see ``sigmoid_range``)."""
    sigmoid_range(a, 0, a.shape[0], ibuf)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def sigmoid_range(a, j0, j1, ibuf):
    """In place ``a[j] = 1 / (1 + exp(-a[j]))`` for j0 <= j < j1 (1-D), vectorisable.

    exp is computed as ``2**k * p(r)`` (Cody-Waite reduction, Taylor polynomial of
    degree 7 for float32 and 12 for float64, ``2**k`` built in the exponent bits of
    ``ibuf``, an int32 scratch for float32 rows and int64 for float64, as long as
    ``a``): within a few ulp of ``np.exp``. Arguments
    are clamped to about +-87 (float32) / +-708 (float64), far beyond the point
    where the logistic function saturates.
    """
    T = a.dtype.type
    I = ibuf.dtype.type
    f32 = a.itemsize == 4
    shift = I(23) if f32 else I(52)
    bias = I(127) if f32 else I(1023)
    lim = T(87.0) if f32 else T(707.0)
    log2e = T(1.4426950408889634)
    ln2_hi = T(0.693359375)
    ln2_lo = T(-2.12194440054690583e-4)
    one = T(1.0)
    half = T(0.5)
    c2 = T(1.0 / 2)
    c3 = T(1.0 / 6)
    c4 = T(1.0 / 24)
    c5 = T(1.0 / 120)
    c6 = T(1.0 / 720)
    c7 = T(1.0 / 5040)
    c8 = T(1.0 / 40320)
    c9 = T(1.0 / 362880)
    c10 = T(1.0 / 3628800)
    c11 = T(1.0 / 39916800)
    c12 = T(1.0 / 479001600)
    # loops over slices from 0: indices known to be non-negative (no wraparound
    # test, which would stop the vectorisation)
    a = a[j0:j1]
    ib = ibuf[j0:j1]
    n = a.shape[0]
    if f32:  # degree 7 is exact to float32 rounding (|r| <= ln2 / 2)
        for j in range(n):
            t = -a[j]
            t = min(max(t, -lim), lim)
            k = np.floor(t * log2e + half)
            r = t - k * ln2_hi - k * ln2_lo
            q = c7 * r + c6
            q = q * r + c5
            q = q * r + c4
            q = q * r + c3
            q = q * r + c2
            q = q * r + one
            a[j] = q * r + one
            ib[j] = (I(k) + bias) << shift
    else:
        for j in range(n):
            t = -a[j]
            t = min(max(t, -lim), lim)
            k = np.floor(t * log2e + half)
            r = t - k * ln2_hi - k * ln2_lo
            q = c12 * r + c11
            q = q * r + c10
            q = q * r + c9
            q = q * r + c8
            q = q * r + c7
            q = q * r + c6
            q = q * r + c5
            q = q * r + c4
            q = q * r + c3
            q = q * r + c2
            q = q * r + one
            a[j] = q * r + one
            ib[j] = (I(k) + bias) << shift
    scale = ib.view(a.dtype)
    for j in range(n):
        a[j] = one / (one + a[j] * scale[j])


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def accumulate_cols(out, M, j0, j1, idx, coef, n):
    """out[j] += sum_a coef[a] * M[idx[a], j] for a < n and j0 <= j < j1.

    ``M`` is C-contiguous, so each row piece is contiguous. Rows are taken eight (then
    four, two, one) at a time so that ``out`` is loaded and stored once per eight
    multiply-adds: short rows are otherwise bound by loads and stores, not arithmetic.
    """
    # slices, and loops from 0: indices known to be non-negative (no wraparound
    # test, which would stop the vectorisation)
    out = out[j0:j1]
    L = j1 - j0
    a = 0
    while a + 8 <= n:
        c0 = coef[a]
        c1 = coef[a + 1]
        c2 = coef[a + 2]
        c3 = coef[a + 3]
        c4 = coef[a + 4]
        c5 = coef[a + 5]
        c6 = coef[a + 6]
        c7 = coef[a + 7]
        m0 = M[idx[a], j0:j1]
        m1 = M[idx[a + 1], j0:j1]
        m2 = M[idx[a + 2], j0:j1]
        m3 = M[idx[a + 3], j0:j1]
        m4 = M[idx[a + 4], j0:j1]
        m5 = M[idx[a + 5], j0:j1]
        m6 = M[idx[a + 6], j0:j1]
        m7 = M[idx[a + 7], j0:j1]
        for j in range(L):
            out[j] += (((c0 * m0[j] + c1 * m1[j]) + (c2 * m2[j] + c3 * m3[j]))
                       + ((c4 * m4[j] + c5 * m5[j]) + (c6 * m6[j] + c7 * m7[j])))
        a += 8
    if a + 4 <= n:
        c0 = coef[a]
        c1 = coef[a + 1]
        c2 = coef[a + 2]
        c3 = coef[a + 3]
        m0 = M[idx[a], j0:j1]
        m1 = M[idx[a + 1], j0:j1]
        m2 = M[idx[a + 2], j0:j1]
        m3 = M[idx[a + 3], j0:j1]
        for j in range(L):
            out[j] += (c0 * m0[j] + c1 * m1[j]) + (c2 * m2[j] + c3 * m3[j])
        a += 4
    if a + 2 <= n:
        c0 = coef[a]
        c1 = coef[a + 1]
        m0 = M[idx[a], j0:j1]
        m1 = M[idx[a + 1], j0:j1]
        for j in range(L):
            out[j] += c0 * m0[j] + c1 * m1[j]
        a += 2
    if a < n:
        c0 = coef[a]
        m0 = M[idx[a], j0:j1]
        for j in range(L):
            out[j] += c0 * m0[j]
        a += 1


@njit(cache=True)
def _nonzeros(row, idx, coef):
    """Indices and values of the non-zeros of ``row``; returns their number."""
    n = 0
    for i in range(row.shape[0]):  # branchless: random 0/1 patterns mispredict
        x = row[i]
        idx[n] = i
        coef[n] = x
        n += x != 0
    return n


@njit(cache=True)
def _box_muller(rand, start, n):
    """Turn rand[start:start + 2 * ceil(n / 2)] into n standard normals, in place."""
    two_pi = 2.0 * np.pi
    for t in range((n + 1) // 2):
        u1 = rand[start + 2 * t]
        u2 = rand[start + 2 * t + 1]
        r = np.sqrt(-2.0 * np.log(1.0 - u1))
        rand[start + 2 * t] = r * np.cos(two_pi * u2)
        rand[start + 2 * t + 1] = r * np.sin(two_pi * u2)


@njit(cache=True)
def _box_muller_steps(rand, off, n_gibbs, nc, V, H):
    """Turn the visible draws of every Gibbs step into standard normals."""
    for step in range(n_gibbs):
        _box_muller(rand, off, nc * V)
        off += 2 * ((nc * V + 1) // 2) + nc * H


# ---------------------------------------------------------------------------
# Phases of one minibatch
#
# Every product has a sparse or binary left factor (the data, the binary samples), so
# it is a sum of selected rows of a weight matrix: the kernel first lists the non-zeros
# of each left row (``*_idx``, ``*_coef``, ``*_cnt``), then adds up the selected rows
# over a range of output columns (a column block) for all rows of the minibatch. The
# sequential kernel runs one block (all columns); the parallel kernel one block per
# thread, so that each core reads only its part of every weight row. Each output
# element gets the same arithmetic whichever thread and block computes it, so the
# sequential and the parallel kernel give the same numbers.
#
# ``Wt`` (n_features, n_components) is the updated matrix, ``W`` = ``Wt.T`` is its copy
# for the visible phase, refreshed block by block at the end of the weight step.
# ---------------------------------------------------------------------------


@njit(cache=True)
def _row_lists(M, n_rows, idx, coef, cnt):
    """Non-zeros of rows 0..n_rows-1 of ``M`` into ``idx[r]``, ``coef[r]``, ``cnt[r]``."""
    for r in range(n_rows):
        cnt[r] = _nonzeros(M[r], idx[r], coef[r])


@njit(cache=True)
def _data_lists(r0, nb, dense, indptr, indices, data, V, idx, coef, cnt):
    """Non-zeros of the data rows r0..r0+nb-1 (dense rows of length V, or CSR)."""
    for b in range(nb):
        r = r0 + b
        if dense:
            cnt[b] = _nonzeros(data[r * V:(r + 1) * V], idx[b], coef[b])
        else:
            start = indptr[r]
            n = indptr[r + 1] - start
            for a in range(n):
                idx[b, a] = indices[start + a]
                coef[b, a] = data[start + a]
            cnt[b] = n


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _hidden_blocks(blo, bhi, bw, n_rows, idx, coef, cnt, Wt, bh, out, sample, rand,
                   off, hc, ibuf):
    """Blocks blo..bhi-1 (width ``bw``) of out = sigmoid(bh + left @ Wt) for rows
    0..n_rows-1, the left rows given by their non-zero lists; with ``sample``, also
    hc = [rand[off + r * H + j] < out] (binary hidden samples)."""
    H = Wt.shape[1]
    one = Wt.dtype.type(1)
    zero = Wt.dtype.type(0)
    for blk in range(blo, bhi):
        j0 = blk * bw
        j1 = min(j0 + bw, H)
        L = j1 - j0
        b = bh[j0:j1]
        for r in range(n_rows):
            o = out[r]
            os = o[j0:j1]  # loops over slices from 0 vectorise (see accumulate_cols)
            for j in range(L):
                os[j] = b[j]
            accumulate_cols(o, Wt, j0, j1, idx[r], coef[r], cnt[r])
            sigmoid_range(o, j0, j1, ibuf)
            if sample:
                hs = hc[r, j0:j1]
                u = rand[off + r * H + j0:off + r * H + j1]
                for j in range(L):
                    hs[j] = one if u[j] < os[j] else zero


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _visible_blocks(blo, bhi, bw, nc, h_idx, h_coef, h_cnt, W, bv, gaussian, rand, off,
                    vneg, ibuf):
    """Blocks blo..bhi-1 of the visible samples of the chains: pre-activation
    s = bv + h @ W (h binary, given by its lists); Bernoulli: v = [u < sigmoid(s)],
    Gaussian: v = s + z, with u or z at ``rand[off + c * V + i]``."""
    V = W.shape[1]
    one = W.dtype.type(1)
    zero = W.dtype.type(0)
    for blk in range(blo, bhi):
        i0 = blk * bw
        i1 = min(i0 + bw, V)
        L = i1 - i0
        b = bv[i0:i1]
        for c in range(nc):
            v = vneg[c]
            vs = v[i0:i1]
            for i in range(L):
                vs[i] = b[i]
            accumulate_cols(v, W, i0, i1, h_idx[c], h_coef[c], h_cnt[c])
            u = rand[off + c * V + i0:off + c * V + i1]
            if gaussian:
                for i in range(L):
                    vs[i] += u[i]
            else:
                sigmoid_range(v, i0, i1, ibuf)
                for i in range(L):
                    vs[i] = one if u[i] < vs[i] else zero


@njit(cache=True)
def _column_lists(nb, p_idx, p_coef, p_cnt, nc, n_idx, n_coef, n_cnt, m, lr, w_idx,
                  w_coef, w_cnt, g_v):
    """Transpose the row lists of the positive rows (coefficient ``lr * x``, index b)
    and of the negative visibles (``-lr * x``, index m + c) into per-feature lists for
    the weight step, in that order; g_v = sum_b vpos_b - sum_c vneg_c."""
    zero = g_v.dtype.type(0)
    for i in range(w_cnt.shape[0]):
        w_cnt[i] = 0
        g_v[i] = zero
    for b in range(nb):
        for a in range(p_cnt[b]):
            i = p_idx[b, a]
            x = p_coef[b, a]
            k = w_cnt[i]
            w_idx[i, k] = b
            w_coef[i, k] = lr * x
            w_cnt[i] = k + 1
            g_v[i] += x
    for c in range(nc):
        for a in range(n_cnt[c]):
            i = n_idx[c, a]
            x = n_coef[c, a]
            k = w_cnt[i]
            w_idx[i, k] = m + c
            w_coef[i, k] = -lr * x
            w_cnt[i] = k + 1
            g_v[i] -= x


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _weight_blocks(blo, bhi, bw, Wt, W, vel, hcat, nb, nc, m, w_idx, w_coef, w_cnt,
                   lr, decay, momentum, plain, bh, vel_bh, g_h):
    """Blocks blo..bhi-1 (hidden columns) of the parameter step: for every feature i,
    Wt[i] += sum over its list of coef * hcat[row] (plain), or through the velocity
    with momentum and weight decay; the hidden biases of the block likewise
    (g_h = sum_b hpos_b - sum_c hneg_c); W = Wt.T is kept up to date."""
    V = Wt.shape[0]
    H = Wt.shape[1]
    zero = Wt.dtype.type(0)
    for blk in range(blo, bhi):
        j0 = blk * bw
        j1 = min(j0 + bw, H)
        L = j1 - j0
        # small blocks (L1-sized): transpose row by row as they are updated; larger
        # ones afterwards in tiles (column writes over a big W miss the cache)
        fuse = V * L * Wt.itemsize <= 32768
        for i in range(V):
            w = Wt[i, j0:j1]  # slices: loops from 0 vectorise (see accumulate_cols)
            if plain:
                accumulate_cols(Wt[i], hcat, j0, j1, w_idx[i], w_coef[i], w_cnt[i])
            else:
                g = vel[i, j0:j1]
                for j in range(L):
                    g[j] = momentum * g[j] - decay * w[j]
                accumulate_cols(vel[i], hcat, j0, j1, w_idx[i], w_coef[i], w_cnt[i])
                for j in range(L):
                    w[j] += g[j]
            if fuse:  # W = Wt.T, written while the row is in cache
                wc = W[j0:j1, i]
                for j in range(L):
                    wc[j] = w[j]
        gh = g_h[j0:j1]
        for j in range(L):
            gh[j] = zero
        for b in range(nb):
            hp = hcat[b, j0:j1]
            for j in range(L):
                gh[j] += hp[j]
        for c in range(nc):
            hn = hcat[m + c, j0:j1]
            for j in range(L):
                gh[j] -= hn[j]
        if plain:
            _bias_step(bh[j0:j1], vel_bh, gh, lr, momentum, plain)
        else:
            _bias_step(bh[j0:j1], vel_bh[j0:j1], gh, lr, momentum, plain)
        if not fuse:
            _transpose_block(Wt, W, j0, j1)


@njit(cache=True)
def _transpose_block(Wt, W, j0, j1):
    """W[j] = Wt[:, j] for j0 <= j < j1, in tiles of 16 features."""
    V = Wt.shape[0]
    for i0 in range(0, V, 16):
        i1 = min(i0 + 16, V)
        for j in range(j0, j1):
            w = W[j, i0:i1]
            for i in range(i1 - i0):
                w[i] = Wt[i0 + i, j]


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _bias_step(b, vel, grad, lr, momentum, plain):
    for j in range(b.shape[0]):
        if plain:
            b[j] += lr * grad[j]
        else:
            vel[j] = momentum * vel[j] + lr * grad[j]
            b[j] += vel[j]


@njit(cache=True, inline="always")
def _share(t, nt, n):
    """Range of items of thread t of nt when n items are shared out."""
    return t * n // nt, (t + 1) * n // nt


@njit(cache=True)
def _epoch_work(Wt, bounds, n_chains, persistent, n_gibbs, gaussian, nt, itemplate):
    """Work arrays of one epoch."""
    V = Wt.shape[0]
    H = Wt.shape[1]
    dt = Wt.dtype
    max_nb = np.max(bounds[1:] - bounds[:-1])
    m = max(n_chains, max_nb)  # rows of a minibatch and of the chains
    nc = n_chains if persistent else max_nb
    rand = np.empty(max(minibatch_draws(max_nb, nc, V, H, n_gibbs, persistent,
                                        gaussian), 1))
    words = np.empty(2 * rand.shape[0], np.uint32)
    hcat = np.empty((2 * m, H), dt)  # hpos rows 0..m-1, hneg rows m..2m-1
    vneg = np.empty((m, V), dt)
    hc_cd = np.empty((m, H), dt)  # CD chains
    p_idx = np.empty((m, V), np.int64)  # non-zeros of the data rows
    p_coef = np.empty((m, V), dt)
    h_idx = np.empty((m, H), np.int64)  # ... of the hidden samples of the chains
    h_coef = np.empty((m, H), dt)
    n_idx = np.empty((m, V), np.int64)  # ... of the visible samples of the chains
    n_coef = np.empty((m, V), dt)
    cnt = np.empty((3, m), np.int64)
    w_idx = np.empty((V, 2 * m), np.int64)  # per feature, for the weight step
    w_coef = np.empty((V, 2 * m), dt)
    w_cnt = np.empty(V, np.int64)
    g = np.empty((2, max(V, H)), dt)  # bias gradients
    ibuf = np.empty((nt, max(V, H)), itemplate.dtype)  # sigmoid scratch per thread
    return (m, rand, words, hcat, vneg, hc_cd, p_idx, p_coef, h_idx, h_coef, n_idx,
            n_coef, cnt, w_idx, w_coef, w_cnt, g, ibuf)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def bernoulli_epoch(indptr, indices, data, bounds, Wt, W, bh, bv, chain, vel_w, vel_bh,
                    vel_bv, key, pos, learning_rate, momentum, weight_decay, n_gibbs,
                    persistent, gaussian, bw_h, bw_v, itemplate):
    """One epoch of PCD-k / CD-k over the minibatches ``bounds`` of X (sequential).

    X is CSR (``indptr``, ``indices``, ``data``; canonical: sorted indices, no
    duplicates) or, when ``indptr`` is empty, dense and C-contiguous with
    ``data = X.ravel()``; zeros are skipped either way. ``Wt`` is ``components_.T``
    (C-contiguous) and ``W`` a C-contiguous copy of ``components_`` (kept equal to
    ``Wt.T``). ``chain`` holds the persistent chains (its row count is the number of
    chains, also used when ``persistent`` is False). ``bw_h`` / ``bw_v`` are the
    column block widths of the hidden / visible phases; ``itemplate`` an empty int32
    (float32 parameters) or int64 array (float64).

    Parameters are updated in place; returns the new MT19937 position.
    """
    V = Wt.shape[0]
    H = Wt.shape[1]
    dense = indptr.shape[0] == 0
    plain = momentum == 0.0 and weight_decay == 0.0
    (m, rand, words, hcat, vneg, hc_cd, p_idx, p_coef, h_idx, h_coef, n_idx, n_coef,
     cnt, w_idx, w_coef, w_cnt, g, ibuf) = _epoch_work(
        Wt, bounds, chain.shape[0], persistent, n_gibbs, gaussian, 1, itemplate)
    hpos = hcat[:m]
    hneg = hcat[m:]
    g_h = g[0, :H]
    g_v = g[1, :V]
    ib = ibuf[0]
    nblk_h = (H + bw_h - 1) // bw_h
    nblk_v = (V + bw_v - 1) // bw_v
    for k in range(bounds.shape[0] - 1):
        r0 = bounds[k]
        nb = bounds[k + 1] - r0
        hc = chain if persistent else hc_cd
        nc = hc.shape[0] if persistent else nb
        lr = learning_rate / nb
        n_draws = minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian)
        pos = mt_fill_random(key, pos, words, rand[:n_draws])
        _data_lists(r0, nb, dense, indptr, indices, data, V, p_idx, p_coef, cnt[0])
        _hidden_blocks(0, nblk_h, bw_h, nb, p_idx, p_coef, cnt[0], Wt, bh, hpos,
                       not persistent, rand, 0, hc, ib)  # positive phase
        off = 0 if persistent else nb * H
        if gaussian:
            _box_muller_steps(rand, off, n_gibbs, nc, V, H)
        for step in range(n_gibbs):  # negative phase
            _row_lists(hc, nc, h_idx, h_coef, cnt[1])
            _visible_blocks(0, nblk_v, bw_v, nc, h_idx, h_coef, cnt[1], W, bv,
                            gaussian, rand, off, vneg, ib)
            off += 2 * ((nc * V + 1) // 2) if gaussian else nc * V
            _row_lists(vneg, nc, n_idx, n_coef, cnt[2])
            _hidden_blocks(0, nblk_h, bw_h, nc, n_idx, n_coef, cnt[2], Wt, bh, hneg,
                           True, rand, off, hc, ib)
            off += nc * H
        _column_lists(nb, p_idx, p_coef, cnt[0], nc, n_idx, n_coef, cnt[2], m, lr,
                      w_idx, w_coef, w_cnt, g_v)
        _weight_blocks(0, nblk_h, bw_h, Wt, W, vel_w, hcat, nb, nc, m, w_idx, w_coef,
                       w_cnt, lr, learning_rate * weight_decay, momentum, plain, bh,
                       vel_bh, g_h)
        _bias_step(bv, vel_bv, g_v, lr, momentum, plain)
    return pos


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy", parallel=True)
def bernoulli_epoch_parallel(indptr, indices, data, bounds, Wt, W, bh, bv, chain, vel_w,
                             vel_bh, vel_bv, key, pos, learning_rate, momentum,
                             weight_decay, n_gibbs, persistent, gaussian, bw_h, bw_v,
                             itemplate, nt):
    """``bernoulli_epoch`` with the column blocks of each phase shared out over ``nt``
    threads (run it under ``numba_threads``). With persistent chains, thread 0 draws
    the minibatch's random numbers while the others run the positive phase. Same
    arguments (plus ``nt``) and the same numbers as the sequential kernel."""
    V = Wt.shape[0]
    H = Wt.shape[1]
    dense = indptr.shape[0] == 0
    plain = momentum == 0.0 and weight_decay == 0.0
    (m, rand, words, hcat, vneg, hc_cd, p_idx, p_coef, h_idx, h_coef, n_idx, n_coef,
     cnt, w_idx, w_coef, w_cnt, g, ibuf) = _epoch_work(
        Wt, bounds, chain.shape[0], persistent, n_gibbs, gaussian, nt, itemplate)
    hpos = hcat[:m]
    hneg = hcat[m:]
    g_h = g[0, :H]
    g_v = g[1, :V]
    nblk_h = (H + bw_h - 1) // bw_h
    nblk_v = (V + bw_v - 1) // bw_v
    posbuf = np.empty(1, np.int64)
    posbuf[0] = pos
    for k in range(bounds.shape[0] - 1):
        r0 = bounds[k]
        nb = bounds[k + 1] - r0
        hc = chain if persistent else hc_cd
        nc = hc.shape[0] if persistent else nb
        lr = learning_rate / nb
        n_draws = minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian)
        _data_lists(r0, nb, dense, indptr, indices, data, V, p_idx, p_coef, cnt[0])
        if persistent and nt > 1:  # draws on thread 0, positive phase on the others
            for t in prange(nt):
                if t == 0:
                    posbuf[0] = mt_fill_random(key, posbuf[0], words, rand[:n_draws])
                else:
                    blo, bhi = _share(t - 1, nt - 1, nblk_h)
                    _hidden_blocks(blo, bhi, bw_h, nb, p_idx, p_coef, cnt[0], Wt, bh,
                                   hpos, False, rand, 0, hc, ibuf[t])
        else:  # CD: the positive phase samples the chains, so draws first
            posbuf[0] = mt_fill_random(key, posbuf[0], words, rand[:n_draws])
            for t in prange(nt):
                blo, bhi = _share(t, nt, nblk_h)
                _hidden_blocks(blo, bhi, bw_h, nb, p_idx, p_coef, cnt[0], Wt, bh, hpos,
                               not persistent, rand, 0, hc, ibuf[t])
        off = 0 if persistent else nb * H
        if gaussian:
            _box_muller_steps(rand, off, n_gibbs, nc, V, H)
        for step in range(n_gibbs):
            _row_lists(hc, nc, h_idx, h_coef, cnt[1])
            for t in prange(nt):
                blo, bhi = _share(t, nt, nblk_v)
                _visible_blocks(blo, bhi, bw_v, nc, h_idx, h_coef, cnt[1], W, bv,
                                gaussian, rand, off, vneg, ibuf[t])
            off += 2 * ((nc * V + 1) // 2) if gaussian else nc * V
            _row_lists(vneg, nc, n_idx, n_coef, cnt[2])
            for t in prange(nt):
                blo, bhi = _share(t, nt, nblk_h)
                _hidden_blocks(blo, bhi, bw_h, nc, n_idx, n_coef, cnt[2], Wt, bh, hneg,
                               True, rand, off, hc, ibuf[t])
            off += nc * H
        _column_lists(nb, p_idx, p_coef, cnt[0], nc, n_idx, n_coef, cnt[2], m, lr,
                      w_idx, w_coef, w_cnt, g_v)
        for t in prange(nt):
            blo, bhi = _share(t, nt, nblk_h)
            _weight_blocks(blo, bhi, bw_h, Wt, W, vel_w, hcat, nb, nc, m, w_idx,
                           w_coef, w_cnt, lr, learning_rate * weight_decay, momentum,
                           plain, bh, vel_bh, g_h)
        _bias_step(bv, vel_bv, g_v, lr, momentum, plain)
    return posbuf[0]
