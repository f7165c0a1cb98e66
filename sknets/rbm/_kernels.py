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
    """In place ``a = 1 / (1 + exp(-a))`` on a 1-D row, vectorisable.

    exp is computed as ``2**k * p(r)`` (Cody-Waite reduction, Taylor polynomial of
    degree 7 for float32 and 12 for float64, ``2**k`` built in the exponent bits of ``ibuf``, an int32 scratch for
    float32 rows and int64 for float64): within a few ulp of ``np.exp``. Arguments
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
            ibuf[j] = (I(k) + bias) << shift
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
            ibuf[j] = (I(k) + bias) << shift
    scale = ibuf.view(a.dtype)
    for j in range(n):
        a[j] = one / (one + a[j] * scale[j])


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def accumulate_rows(out, M, idx, coef, n):
    """out += sum_a coef[a] * M[idx[a]] for a < n.

    Rows are taken eight (then four, then one) at a time so that ``out`` is loaded
    and stored once per eight multiply-adds: short rows are otherwise bound by loads
    and stores, not arithmetic.
    """
    L = out.shape[0]
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
        m0 = M[idx[a]]
        m1 = M[idx[a + 1]]
        m2 = M[idx[a + 2]]
        m3 = M[idx[a + 3]]
        m4 = M[idx[a + 4]]
        m5 = M[idx[a + 5]]
        m6 = M[idx[a + 6]]
        m7 = M[idx[a + 7]]
        for j in range(L):
            out[j] += (((c0 * m0[j] + c1 * m1[j]) + (c2 * m2[j] + c3 * m3[j]))
                       + ((c4 * m4[j] + c5 * m5[j]) + (c6 * m6[j] + c7 * m7[j])))
        a += 8
    if a + 4 <= n:
        c0 = coef[a]
        c1 = coef[a + 1]
        c2 = coef[a + 2]
        c3 = coef[a + 3]
        m0 = M[idx[a]]
        m1 = M[idx[a + 1]]
        m2 = M[idx[a + 2]]
        m3 = M[idx[a + 3]]
        for j in range(L):
            out[j] += (c0 * m0[j] + c1 * m1[j]) + (c2 * m2[j] + c3 * m3[j])
        a += 4
    while a < n:
        c0 = coef[a]
        m0 = M[idx[a]]
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


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _visible_row(hrow, W, bv, rand, offset, gaussian, vrow, idx, coef, ibuf):
    """Sample one visible row given the binary hidden row ``hrow``.

    ``W`` is (n_components, n_features) C-contiguous; the pre-activation is the sum of
    the rows of ``W`` where ``hrow`` is 1. Bernoulli: v_i = [u_i < sigmoid(s_i)];
    Gaussian: v_i = s_i + z_i, with ``rand[offset + i]`` holding u_i or z_i. Writes
    ``vrow`` (``idx``/``coef`` are scratch).
    """
    zero = W.dtype.type(0)
    one = W.dtype.type(1)
    V = vrow.shape[0]
    vrow[:] = bv
    nh = _nonzeros(hrow, idx, coef)
    accumulate_rows(vrow, W, idx, coef, nh)
    if gaussian:
        for i in range(V):
            vrow[i] += rand[offset + i]
    else:
        sigmoid_row(vrow, ibuf)
        for i in range(V):
            vrow[i] = one if rand[offset + i] < vrow[i] else zero


@njit(cache=True)
def _sample_binary(p, rand, offset, out):
    one = p.dtype.type(1)
    zero = p.dtype.type(0)
    for j in range(p.shape[0]):
        out[j] = one if rand[offset + j] < p[j] else zero


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


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _weight_row(i, Wt, vel, vpos, hcat, nb, vneg, nc, m, lr, decay, momentum, plain,
                idx, coef):
    """Step of row ``i`` of ``Wt``: Wt_i += lr * (sum_b vpos_bi hpos_b -
    sum_c vneg_ci hneg_c) (plain), or the same step through the velocity with
    momentum and weight decay. ``hcat`` stacks hpos (rows 0..m-1) and hneg (rows
    m..2m-1). Rows are independent: the parallel kernel shares them out."""
    H = Wt.shape[1]
    w = Wt[i]
    if plain:
        g = w
    else:
        g = vel[i]
        for j in range(H):
            g[j] = momentum * g[j] - decay * w[j]
    n = 0
    for b in range(nb):  # branchless, as in _nonzeros
        x = vpos[b, i]
        idx[n] = b
        coef[n] = lr * x
        n += x != 0
    for b in range(nc):
        x = vneg[b, i]
        idx[n] = m + b
        coef[n] = -lr * x
        n += x != 0
    accumulate_rows(g, hcat, idx, coef, n)
    if not plain:
        for j in range(H):
            w[j] += g[j]


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _bias_step(b, vel, grad, lr, momentum, plain):
    for j in range(b.shape[0]):
        if plain:
            b[j] += lr * grad[j]
        else:
            vel[j] = momentum * vel[j] + lr * grad[j]
            b[j] += vel[j]


# Per-row phases of a minibatch. Rows (of the minibatch, of the chains, of ``Wt``) are
# independent given the pre-drawn random numbers, so the sequential kernel runs each
# phase over all rows and the parallel kernel over chunks of rows, one per thread:
# both do the same arithmetic on each row and give the same numbers.


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _positive_rows(lo, hi, r0, dense, indptr, indices, data, Wt, bh, vpos, hpos, idx,
                   coef, ibuf):
    """Rows lo..hi-1 of the positive phase: ``vpos[b]`` = X row r0 + b (dense) and
    ``hpos[b]`` = sigmoid(bh + X row @ Wt), summing only the non-zeros."""
    V = Wt.shape[0]
    zero = Wt.dtype.type(0)
    for b in range(lo, hi):
        r = r0 + b
        if dense:
            vpos[b, :] = data[r * V:(r + 1) * V]
            n_act = _nonzeros(vpos[b], idx, coef)
        else:
            vpos[b, :] = zero
            start = indptr[r]
            n_act = indptr[r + 1] - start
            for a in range(n_act):
                idx[a] = indices[start + a]
                coef[a] = data[start + a]
                vpos[b, idx[a]] = coef[a]
        hpos[b, :] = bh
        accumulate_rows(hpos[b], Wt, idx, coef, n_act)
        sigmoid_row(hpos[b], ibuf)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _chain_rows(lo, hi, n_gibbs, hc, W, Wt, bv, bh, rand, off, gaussian, vneg, hneg,
                idx, coef, ibuf):
    """Chains lo..hi-1 through ``n_gibbs`` steps h -> v -> h (``W`` = ``Wt.T``; the
    Gaussian draws already turned into normals). A chain only reads its own random
    numbers, so chains are independent. Leaves the last visible and hidden
    probabilities in ``vneg`` / ``hneg`` and the hidden sample in ``hc``."""
    nc = hc.shape[0]
    V = Wt.shape[0]
    H = Wt.shape[1]
    step_v = 2 * ((nc * V + 1) // 2) if gaussian else nc * V
    for c in range(lo, hi):
        o = off
        for step in range(n_gibbs):
            _visible_row(hc[c], W, bv, rand, o + c * V, gaussian, vneg[c], idx, coef,
                         ibuf)
            o += step_v
            n_act = _nonzeros(vneg[c], idx, coef)
            hneg[c, :] = bh
            accumulate_rows(hneg[c], Wt, idx, coef, n_act)
            sigmoid_row(hneg[c], ibuf)
            _sample_binary(hneg[c], rand, o + c * H, hc[c])
            o += nc * H


@njit(cache=True)
def _box_muller_steps(rand, off, n_gibbs, nc, V, H):
    """Turn the visible draws of every Gibbs step into standard normals."""
    for step in range(n_gibbs):
        _box_muller(rand, off, nc * V)
        off += 2 * ((nc * V + 1) // 2) + nc * H


@njit(cache=True)
def _transpose_rows(lo, hi, Wt, W):
    """W[j] = Wt[:, j] for j in lo..hi-1."""
    for j in range(lo, hi):
        W[j, :] = Wt[:, j]


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _weight_rows(lo, hi, Wt, vel, vpos, hcat, nb, vneg, nc, m, lr, decay, momentum,
                 plain, idx, coef):
    for i in range(lo, hi):
        _weight_row(i, Wt, vel, vpos, hcat, nb, vneg, nc, m, lr, decay, momentum,
                    plain, idx, coef)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _bias_gradients(vpos, hpos, nb, vneg, hneg, nc, g_v, g_h):
    """g_v = sum_b vpos_b - sum_c vneg_c; g_h likewise (rows added in order)."""
    zero = g_v.dtype.type(0)
    g_v[:] = zero
    g_h[:] = zero
    for b in range(nb):
        for i in range(g_v.shape[0]):
            g_v[i] += vpos[b, i]
        for j in range(g_h.shape[0]):
            g_h[j] += hpos[b, j]
    for c in range(nc):
        for i in range(g_v.shape[0]):
            g_v[i] -= vneg[c, i]
        for j in range(g_h.shape[0]):
            g_h[j] -= hneg[c, j]


@njit(cache=True)
def _sample_rows(lo, hi, p, rand, off, out):
    H = p.shape[1]
    for c in range(lo, hi):
        _sample_binary(p[c], rand, off + c * H, out[c])


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def bernoulli_epoch(indptr, indices, data, bounds, Wt, bh, bv, chain, vel_w, vel_bh,
                    vel_bv, key, pos, learning_rate, momentum, weight_decay, n_gibbs,
                    persistent, gaussian, work_h, work_v, rand, words, grad_v,
                    W, ibuf):
    """One epoch of PCD-k / CD-k over the minibatches ``bounds`` of X (sequential).

    X is CSR (``indptr``, ``indices``, ``data``) or, when ``indptr`` is empty, dense
    and C-contiguous with ``data = X.ravel()``; zeros are skipped either way.

    Parameters are updated in place; returns the new MT19937 position. Work arrays:
    ``work_h`` (3, m, H) for hpos / hneg / CD chains, ``work_v`` (2, m, V) for the
    dense positive minibatch and the negative visibles, ``rand``/``words`` the random
    block (``minibatch_draws`` doubles and twice as many uint32), ``grad_v``
    (2, max(V, H)) bias gradients, ``W`` (H, V) for the transposed weights, ``ibuf``
    int scratch (1, max(V, H)) (int32 for float32, int64 for float64);
    m >= max(batch rows, chain rows).
    """
    V = Wt.shape[0]
    H = Wt.shape[1]
    dense = indptr.shape[0] == 0  # dense X: row r is data[r * V:(r + 1) * V]
    plain = momentum == 0.0 and weight_decay == 0.0
    m = work_h.shape[1]
    hpos = work_h[0]
    hneg = work_h[1]
    hcat = work_h[:2].reshape(2 * m, H)  # hpos and hneg stacked, for the weight step
    vpos = work_v[0]
    vneg = work_v[1]
    g_h = grad_v[0, :H]
    g_v = grad_v[1, :V]
    L = max(max(V, H), 2 * m)
    idx = np.empty(L, dtype=np.int64)
    coef = np.empty(L, dtype=Wt.dtype)
    ib = ibuf[0]
    for k in range(bounds.shape[0] - 1):
        r0 = bounds[k]
        nb = bounds[k + 1] - r0
        hc = chain if persistent else work_h[2]
        nc = hc.shape[0] if persistent else nb
        n_draws = minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian)
        pos = mt_fill_random(key, pos, words, rand[:n_draws])
        off = 0
        lr = learning_rate / nb
        decay = learning_rate * weight_decay
        _positive_rows(0, nb, r0, dense, indptr, indices, data, Wt, bh, vpos, hpos,
                       idx, coef, ib)
        if not persistent:
            _sample_rows(0, nb, hpos, rand, off, hc)
            off += nb * H
        _transpose_rows(0, H, Wt, W)
        if gaussian:
            _box_muller_steps(rand, off, n_gibbs, nc, V, H)
        _chain_rows(0, nc, n_gibbs, hc[:nc], W, Wt, bv, bh, rand, off, gaussian, vneg,
                    hneg, idx, coef, ib)  # negative phase
        _bias_gradients(vpos, hpos, nb, vneg, hneg, nc, g_v, g_h)
        _weight_rows(0, V, Wt, vel_w, vpos, hcat, nb, vneg, nc, m, lr, decay,
                     momentum, plain, idx, coef)
        _bias_step(bh, vel_bh, g_h, lr, momentum, plain)
        _bias_step(bv, vel_bv, g_v, lr, momentum, plain)
    return pos


@njit(cache=True, parallel=True, fastmath=_FASTMATH, error_model="numpy")
def bernoulli_epoch_parallel(indptr, indices, data, bounds, Wt, bh, bv, chain, vel_w,
                             vel_bh, vel_bv, key, pos, learning_rate, momentum,
                             weight_decay, n_gibbs, persistent, gaussian, work_h,
                             work_v, rand, words, grad_v, W, ibuf):
    """``bernoulli_epoch`` with each phase shared out over ``ibuf.shape[0]`` threads
    (chunks of minibatch / chain rows, of ``W`` rows for the transpose and of ``Wt``
    rows for the weight step; no two threads write the same row). Same arguments and
    the same numbers as the sequential kernel; run it under ``numba_threads``.
    """
    V = Wt.shape[0]
    H = Wt.shape[1]
    dense = indptr.shape[0] == 0
    plain = momentum == 0.0 and weight_decay == 0.0
    m = work_h.shape[1]
    hpos = work_h[0]
    hneg = work_h[1]
    hcat = work_h[:2].reshape(2 * m, H)
    vpos = work_v[0]
    vneg = work_v[1]
    g_h = grad_v[0, :H]
    g_v = grad_v[1, :V]
    nt = ibuf.shape[0]
    L = max(max(V, H), 2 * m)
    idx = np.empty((nt, L), dtype=np.int64)
    coef = np.empty((nt, L), dtype=Wt.dtype)
    for k in range(bounds.shape[0] - 1):
        r0 = bounds[k]
        nb = bounds[k + 1] - r0
        hc = chain if persistent else work_h[2]
        nc = hc.shape[0] if persistent else nb
        n_draws = minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian)
        pos = mt_fill_random(key, pos, words, rand[:n_draws])
        off = 0
        lr = learning_rate / nb
        decay = learning_rate * weight_decay
        for t in prange(nt):  # positive phase; W = Wt.T for the negative phase
            lo = t * nb // nt
            hi = (t + 1) * nb // nt
            _positive_rows(lo, hi, r0, dense, indptr, indices, data, Wt, bh, vpos,
                           hpos, idx[t], coef[t], ibuf[t])
            if not persistent:
                _sample_rows(lo, hi, hpos, rand, 0, hc)
            _transpose_rows(t * H // nt, (t + 1) * H // nt, Wt, W)
        if not persistent:
            off += nb * H
        if gaussian:
            _box_muller_steps(rand, off, n_gibbs, nc, V, H)
        for t in prange(nt):  # negative phase
            _chain_rows(t * nc // nt, (t + 1) * nc // nt, n_gibbs, hc[:nc], W, Wt, bv,
                        bh, rand, off, gaussian, vneg, hneg, idx[t], coef[t], ibuf[t])
        _bias_gradients(vpos, hpos, nb, vneg, hneg, nc, g_v, g_h)
        for t in prange(nt):
            _weight_rows(t * V // nt, (t + 1) * V // nt, Wt, vel_w, vpos, hcat, nb,
                         vneg, nc, m, lr, decay, momentum, plain, idx[t], coef[t])
        _bias_step(bh, vel_bh, g_h, lr, momentum, plain)
        _bias_step(bv, vel_bv, g_v, lr, momentum, plain)
    return pos
