"""Numba kernels of BernoulliRBM (private; they know nothing of estimators).

- scikit-learn's random stream: ``mt_fill_random`` (``RandomState.random_sample``
  doubles), ``mt_fill_normal`` / ``legacy_normal`` (``RandomState.normal``, for the
  initial weights), ``minibatch_draws`` (how many a minibatch takes) and
  ``box_muller_steps`` (normals for Gaussian visible units);
- ``dense_epoch``: one epoch of PCD-k / CD-k, its products through BLAS (``np.dot``).
  For minibatches of some size the estimator runs ``_bernoulli_blocked_kernels``
  instead, which skips the zeros of the data and of the binary samples.

Both epoch kernels take the same arguments (the blocked one adds its task size and
thread count) and draw the same random numbers; each is compared with the numpy
epoch of ``tests/references/rbm.py``.

Random numbers of one minibatch are drawn in one block, in this order:

- CD only (``persistent=False``): nb * H uniforms, the chains' initial hidden sample;
- then for each of the ``n_gibbs`` steps: nc * V uniforms for the visible sample
  (Bernoulli) or 2 * ceil(nc * V / 2) uniforms turned into nc * V standard normals by
  Box-Muller (Gaussian), then nc * H uniforms for the hidden sample.

For PCD-1 with Bernoulli units this is scikit-learn's order of ``uniform`` calls, so
that a user who swaps the import gets the same model for the same ``random_state`` (up
to floating-point rounding): the caller passes the ``RandomState``'s MT19937 key and
position in, the kernel advances them, the caller writes them back.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from ..utils._numba_math import FASTMATH, exp_scratch, sigmoid_inplace

#: Scalar settings of an epoch (``learning_rate`` is the estimator's: the step of a
#: minibatch of nb rows is ``learning_rate / nb`` times its summed gradient; the
#: weight decay is applied as ``learning_rate * weight_decay * W``).
EpochSettings = namedtuple(
    "EpochSettings",
    ["learning_rate", "momentum", "weight_decay", "n_gibbs", "persistent", "gaussian"])

_MT_N = 624  # words of the MT19937 state


# ---------------------------------------------------------------------------
# scikit-learn's random stream (MT19937, two 32-bit words per double)
# ---------------------------------------------------------------------------


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
    vectorises once the two arrays are known to be distinct arguments, and runs
    over slices from 0, without the wraparound test of ``key[pos + t]``)."""
    src = key[pos:pos + m]
    dst = words[k:k + m]
    for t in range(m):
        dst[t] = _temper(src[t])


@njit(cache=True)
def _words_to_doubles(words, out, n):
    """out[t] = RandomState's double from words 2t (27 high bits) and 2t + 1 (26)."""
    for t in range(n):
        a = words[2 * t] >> np.uint32(5)
        b = words[2 * t + 1] >> np.uint32(6)
        out[t] = (np.float64(a) * 67108864.0 + np.float64(b)) * (
            1.0 / 9007199254740992.0)


# tempered words between the MT19937 state and the doubles (``mt_fill_random``): a
# state block and one word left over from the block before
MT_SCRATCH = _MT_N + 2


@njit(cache=True)
def mt_fill_random(key, pos, words, out):
    """Fill ``out`` (float64, 1-D) with the next ``RandomState.random_sample`` doubles.

    ``key`` (uint32[624], MT19937 state) is advanced in place and the new position is
    returned. ``words`` is a uint32 scratch of length >= ``MT_SCRATCH``: the words are
    tempered one state block (624 words) at a time and turned into doubles while
    they are in L1 (a pair that straddles two blocks waits in ``words[0]``).
    """
    n = out.shape[0]
    k = 0  # doubles written
    have = np.int64(0)  # a tempered word left over from the last block (0 or 1)
    while k < n:
        if pos >= 624:
            _mt_twist(key)
            pos = 0
        m = min(624 - pos, 2 * (n - k) - have)
        _temper_block(key, pos, words, have, m)
        pos += m
        total = have + m
        pairs = total // 2
        _words_to_doubles(words, out[k:k + pairs], pairs)
        k += pairs
        have = total % 2
        if have:
            words[0] = words[total - 1]
    return pos


@njit(cache=True)
def _polar_pairs(u, out, i, loc, scale):
    """Consume the doubles ``u`` (a multiple of 2) as ``RandomState``'s legacy polar
    method does: pairs (x1, x2) = 2 u - 1, rejected unless 0 < r2 < 1; each accepted
    pair gives out[i] = loc + scale * f x2, then (while room) out[i + 1] = loc +
    scale * f x1, f = sqrt(-2 log(r2) / r2). Returns (new i, cached f x1 or NaN)."""
    n = out.shape[0]
    cached = np.nan
    for p in range(0, u.shape[0], 2):
        x1 = 2.0 * u[p] - 1.0
        x2 = 2.0 * u[p + 1] - 1.0
        r2 = x1 * x1 + x2 * x2
        if r2 >= 1.0 or r2 == 0.0:
            continue
        f = np.sqrt(-2.0 * np.log(r2) / r2)
        out[i] = loc + scale * (f * x2)
        i += 1
        if i < n:
            out[i] = loc + scale * (f * x1)
            i += 1
        else:
            cached = f * x1
    return i, cached


@njit(cache=True)
def mt_fill_normal(key, pos, has_gauss, gauss, loc, scale, out):
    """Fill ``out`` (float64, 1-D) with the next ``RandomState.normal(loc, scale)``
    values (the legacy polar method, its cached second value included).

    The MT19937 ``key`` is advanced in place; returns the new (position, has_gauss,
    gauss). Uniforms are drawn in bulk, never more than the values still missing
    could use (two per value: every pair accepted), so the stream ends exactly where
    ``RandomState`` leaves it.
    """
    n = out.shape[0]
    i = 0
    if n > 0 and has_gauss:
        out[0] = loc + scale * gauss
        i = 1
        has_gauss = False
        gauss = 0.0
    u = np.empty(min(2 * ((n - i + 1) // 2), 16384))  # chunks stay in cache
    words = np.empty(MT_SCRATCH, np.uint32)
    while i < n:
        # uniforms of at most (n - i + 1) // 2 pairs: each accepted pair gives two
        # values (the last one may give one and cache the other)
        m = min(2 * ((n - i + 1) // 2), u.shape[0])
        pos = mt_fill_random(key, pos, words, u[:m])
        i, cached = _polar_pairs(u[:m], out, i, loc, scale)
        if i == n and not np.isnan(cached):
            has_gauss = True
            gauss = cached
    return pos, has_gauss, gauss


def legacy_normal(rng, loc, scale, size):
    """``rng.normal(loc, scale, size)`` for a ``RandomState`` (same values, same
    state afterwards), drawn by ``mt_fill_normal``."""
    name, key, pos, has_gauss, gauss = rng.get_state(legacy=True)
    key = np.array(key, dtype=np.uint32)
    out = np.empty(int(np.prod(size)), dtype=np.float64)
    pos, has_gauss, gauss = mt_fill_normal(key, int(pos), bool(has_gauss),
                                           float(gauss), float(loc), float(scale), out)
    rng.set_state((name, key, int(pos), int(has_gauss), float(gauss)))
    return out.reshape(size)


@njit(cache=True)
def minibatch_draws(nb, nc, n_features, n_components, n_gibbs, persistent, gaussian):
    """Number of uniform doubles the kernel draws for one minibatch."""
    n = 0 if persistent else nb * n_components
    nv = nc * n_features
    if gaussian:
        nv = 2 * ((nv + 1) // 2)
    return n + n_gibbs * (nv + nc * n_components)


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
def box_muller_steps(rand, off, n_gibbs, nc, V, H):
    """Turn the visible draws of every Gibbs step into standard normals."""
    for step in range(n_gibbs):
        _box_muller(rand, off, nc * V)
        off += 2 * ((nc * V + 1) // 2) + nc * H


# ---------------------------------------------------------------------------
# the epoch, products through BLAS
# ---------------------------------------------------------------------------


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def bias_sigmoid(M, bias, ibuf):
    """In place ``M = sigmoid(M + bias)`` (rows of the C-contiguous 2-D ``M``)."""
    for b in range(M.shape[0]):
        row = M[b]
        for j in range(row.shape[0]):
            row[j] += bias[j]
    sigmoid_inplace(M.ravel(), ibuf)


@njit(cache=True)
def sample_rows(P, u, S):
    """``S[b, j] = 1 if u[b * n + j] < P[b, j] else 0`` (n = columns of P and S)."""
    n = P.shape[1]
    one = S.dtype.type(1)
    zero = S.dtype.type(0)
    for b in range(P.shape[0]):
        p = P[b]
        s = S[b]
        ub = u[b * n:(b + 1) * n]
        for j in range(n):
            s[j] = one if ub[j] < p[j] else zero


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def bias_step(b, vel, grad, lr, momentum, plain):
    """``b += lr * grad``, or through the velocity ``vel`` (momentum) unless
    ``plain``."""
    for j in range(b.shape[0]):
        if plain:
            b[j] += lr * grad[j]
        else:
            vel[j] = momentum * vel[j] + lr * grad[j]
            b[j] += vel[j]


@njit(cache=True)
def max_rows(bounds):
    """Rows of the largest minibatch ``bounds[k]:bounds[k + 1]``."""
    n = 0
    for k in range(bounds.shape[0] - 1):
        n = max(n, bounds[k + 1] - bounds[k])
    return n


@njit(cache=True)
def _csr_rows(indptr, indices, values, r0, X):
    """``X[b] = row r0 + b`` of the CSR matrix, as dense rows."""
    zero = X.dtype.type(0)
    for b in range(X.shape[0]):
        row = X[b]
        for i in range(row.shape[0]):
            row[i] = zero
        for a in range(indptr[r0 + b], indptr[r0 + b + 1]):
            row[indices[a]] = values[a]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def dense_epoch(data, bounds, params, velocities, chain, stream, settings):
    """One epoch of PCD-k / CD-k over the minibatches ``bounds`` of X, the products
    through BLAS.

    Parameters
    ----------
    data : (indptr, indices, values)
        X in CSR (canonical: sorted indices, no duplicates), or, when ``indptr`` is
        empty, dense and C-contiguous with ``values = X.ravel()``.
    bounds : int64 array
        Minibatch k is rows ``bounds[k]:bounds[k + 1]``.
    params : (Wt, bh, bv)
        ``Wt`` = ``components_.T`` (n_features, n_components), C-contiguous, and the
        hidden and visible biases; updated in place.
    velocities : (vel_w, vel_bh, vel_bv)
        Momentum velocities laid out as ``params`` (read only with momentum or
        weight decay; placeholders otherwise).
    chain : 2-D array
        The persistent chains (batch_size, n_components), updated in place; its row
        count is the number of chains.
    stream : (key, pos)
        MT19937 state (uint32[624], advanced in place) and position.
    settings : EpochSettings

    Returns
    -------
    pos : int
        The new MT19937 position.
    """
    indptr, indices, values = data
    Wt, bh, bv = params
    vel_w, vel_bh, vel_bv = velocities
    key, pos = stream
    learning_rate, momentum, weight_decay, n_gibbs, persistent, gaussian = settings
    V, H = Wt.shape
    dt = Wt.dtype
    dense = indptr.shape[0] == 0
    plain = momentum == 0.0 and weight_decay == 0.0
    decay = learning_rate * weight_decay
    n_chains = chain.shape[0]
    max_nb = max_rows(bounds)
    m = max(max_nb, n_chains)
    rand = np.empty(max(minibatch_draws(max_nb, n_chains if persistent else max_nb,
                                        V, H, n_gibbs, persistent, gaussian), 1))
    words = np.empty(MT_SCRATCH, np.uint32)
    hcat = np.empty((2 * m, H), dt)  # hidden probabilities: data rows, then chains
    left = np.empty((2 * m, V), dt)  # lr * data rows, then -lr * visible samples
    vneg = np.empty((m, V), dt)
    xd = np.empty((m if not dense else 1, V), dt)  # CSR rows, densified
    hc_cd = np.empty((m, H), dt)  # CD chains
    grad = np.empty((V, H), dt)
    g_h = np.empty(H, dt)
    g_v = np.empty(V, dt)
    ibuf = exp_scratch(Wt, m * max(V, H))
    for k in range(bounds.shape[0] - 1):
        r0 = bounds[k]
        nb = bounds[k + 1] - r0
        nc = n_chains if persistent else nb
        hc = chain if persistent else hc_cd[:nb]
        lr = learning_rate / nb
        n_draws = minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian)
        pos = mt_fill_random(key, pos, words, rand[:n_draws])
        if dense:
            x = values[r0 * V:(r0 + nb) * V].reshape((nb, V))
        else:
            x = xd[:nb]
            _csr_rows(indptr, indices, values, r0, x)
        hpos = hcat[:nb]
        np.dot(x, Wt, hpos)
        bias_sigmoid(hpos, bh, ibuf)
        off = 0
        if not persistent:
            sample_rows(hpos, rand[:nb * H], hc)
            off = nb * H
        if gaussian:
            box_muller_steps(rand, off, n_gibbs, nc, V, H)
        v = vneg[:nc]
        hneg = hcat[nb:nb + nc]
        for step in range(n_gibbs):
            np.dot(hc, Wt.T, v)
            if gaussian:
                z = rand[off:off + nc * V]
                for c in range(nc):
                    row = v[c]
                    for i in range(V):
                        row[i] += bv[i] + z[c * V + i]
                off += 2 * ((nc * V + 1) // 2)
            else:
                bias_sigmoid(v, bv, ibuf)
                sample_rows(v, rand[off:off + nc * V], v)
                off += nc * V
            np.dot(v, Wt, hneg)
            bias_sigmoid(hneg, bh, ibuf)
            sample_rows(hneg, rand[off:off + nc * H], hc)
            off += nc * H
        # parameter step: lr * (x.T @ hpos - v.T @ hneg) as one product
        for b in range(nb):
            lb = left[b]
            xb = x[b]
            for i in range(V):
                lb[i] = lr * xb[i]
        for c in range(nc):
            lc = left[nb + c]
            vc = v[c]
            for i in range(V):
                lc[i] = -lr * vc[i]
        np.dot(left[:nb + nc].T, hcat[:nb + nc], grad)
        if plain:
            Wt += grad
        else:
            for i in range(V):
                w = Wt[i]
                g = vel_w[i]
                gr = grad[i]
                for j in range(H):
                    g[j] = momentum * g[j] + gr[j] - decay * w[j]
                    w[j] += g[j]
        zero = dt.type(0)
        for j in range(H):
            g_h[j] = zero
        for b in range(nb):
            hp = hpos[b]
            for j in range(H):
                g_h[j] += hp[j]
        for c in range(nc):
            hn = hneg[c]
            for j in range(H):
                g_h[j] -= hn[j]
        for i in range(V):
            g_v[i] = zero
        for b in range(nb):
            xb = x[b]
            for i in range(V):
                g_v[i] += xb[i]
        for c in range(nc):
            vc = v[c]
            for i in range(V):
                g_v[i] -= vc[i]
        bias_step(bh, vel_bh, g_h, lr, momentum, plain)
        bias_step(bv, vel_bv, g_v, lr, momentum, plain)
    return pos
