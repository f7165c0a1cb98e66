"""Numba kernels of the RBM estimators (private; they know nothing of estimators).

Shared by every RBM: the parameter step (``sgd_step``, ``momentum_step``).
BernoulliRBM: the sklearn-compatible random stream (``mt_fill_random``), and the fused
epoch kernel (``bernoulli_epoch``) with its helpers. Each kernel has a plain-numpy
reference in ``_reference.py`` (the tests compare them on the same random draws).
"""

import numpy as np
from numba import njit


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
        for t in range(m):  # tempering, vectorisable
            a = key[pos + t]
            a ^= a >> np.uint32(11)
            a ^= (a << np.uint32(7)) & np.uint32(0x9D2C5680)
            a ^= (a << np.uint32(15)) & np.uint32(0xEFC60000)
            a ^= a >> np.uint32(18)
            words[k + t] = a
        k += m
        pos += m
    for t in range(n):
        a = words[2 * t] >> np.uint32(5)
        b = words[2 * t + 1] >> np.uint32(6)
        out[t] = (a * 67108864.0 + b) / 9007199254740992.0
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


@njit(cache=True, fastmath=_FASTMATH)
def sigmoid_row(a, ibuf):
    """In place ``a = 1 / (1 + exp(-a))`` on a 1-D row, vectorisable.

    exp is computed as ``2**k * p(r)`` (Cody-Waite reduction, degree-12 Taylor
    polynomial, ``2**k`` built in the exponent bits of ``ibuf``, an int32 scratch for
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
    scale = ibuf[:n].view(a.dtype)
    for j in range(n):
        a[j] = one / (one + a[j] * scale[j])


@njit(cache=True, fastmath=_FASTMATH)
def _hidden_from_csr(indices, data, start, stop, Wt, bh, out, ibuf):
    """out = sigmoid(bh + x @ Wt) for one CSR row x."""
    out[:] = bh
    for p in range(start, stop):
        x = data[p]
        w = Wt[indices[p]]
        for j in range(out.shape[0]):
            out[j] += x * w[j]
    sigmoid_row(out, ibuf)


@njit(cache=True, fastmath=_FASTMATH)
def _hidden_from_active(vrow, act, nact, Wt, bh, out, ibuf):
    """out = sigmoid(bh + v @ Wt) where v is non-zero only at act[:nact]."""
    out[:] = bh
    for a in range(nact):
        i = act[a]
        x = vrow[i]
        w = Wt[i]
        for j in range(out.shape[0]):
            out[j] += x * w[j]
    sigmoid_row(out, ibuf)


@njit(cache=True, fastmath=_FASTMATH)
def _visible_row(hrow, W, bv, rand, offset, gaussian, vrow, act, ibuf):
    """Sample one visible row given the binary hidden row ``hrow``.

    ``W`` is (n_components, n_features) C-contiguous; the pre-activation is the sum of
    the rows of ``W`` where ``hrow`` is 1. Bernoulli: v_i = [u_i < sigmoid(s_i)];
    Gaussian: v_i = s_i + z_i, with ``rand[offset + i]`` holding u_i or z_i. Writes
    ``vrow`` and the active (non-zero) indices ``act``; returns their number.
    """
    zero = W.dtype.type(0)
    one = W.dtype.type(1)
    V = vrow.shape[0]
    vrow[:] = bv
    for j in range(hrow.shape[0]):
        if hrow[j] != zero:
            w = W[j]
            for i in range(V):
                vrow[i] += w[i]
    if gaussian:
        for i in range(V):
            vrow[i] += rand[offset + i]
    else:
        sigmoid_row(vrow, ibuf)
        for i in range(V):
            vrow[i] = one if rand[offset + i] < vrow[i] else zero
    nact = 0
    for i in range(V):
        if vrow[i] != zero:
            act[nact] = i
            nact += 1
    return nact


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


@njit(cache=True, fastmath=_FASTMATH)
def _update_row(i, Wt, vel, vpos, hpos, nb, vneg, hneg, nc, lr, decay, momentum,
                plain):
    """Row i of the weight step: Wt_i += lr * (sum_b vpos_bi hpos_b - sum_c vneg_ci hneg_c)
    (plain), or through the velocity with momentum and weight decay."""
    w = Wt[i]
    H = w.shape[0]
    if plain:
        for b in range(nb):
            x = vpos[b, i]
            if x != 0:
                c = lr * x
                h = hpos[b]
                for j in range(H):
                    w[j] += c * h[j]
        for b in range(nc):
            x = vneg[b, i]
            if x != 0:
                c = lr * x
                h = hneg[b]
                for j in range(H):
                    w[j] -= c * h[j]
    else:
        g = vel[i]
        for j in range(H):
            g[j] = momentum * g[j] - decay * w[j]
        for b in range(nb):
            x = vpos[b, i]
            if x != 0:
                c = lr * x
                h = hpos[b]
                for j in range(H):
                    g[j] += c * h[j]
        for b in range(nc):
            x = vneg[b, i]
            if x != 0:
                c = lr * x
                h = hneg[b]
                for j in range(H):
                    g[j] -= c * h[j]
        for j in range(H):
            w[j] += g[j]


@njit(cache=True, fastmath=_FASTMATH)
def _bias_step(b, vel, grad, lr, momentum, plain):
    for j in range(b.shape[0]):
        if plain:
            b[j] += lr * grad[j]
        else:
            vel[j] = momentum * vel[j] + lr * grad[j]
            b[j] += vel[j]


@njit(cache=True, fastmath=_FASTMATH)
def bernoulli_epoch(indptr, indices, data, bounds, Wt, bh, bv, chain, vel_w, vel_bh,
                    vel_bv, key, pos, learning_rate, momentum, weight_decay, n_gibbs,
                    persistent, gaussian, work_h, work_v, act, rand, words, grad_v,
                    W, ibuf):
    """One epoch of PCD-k / CD-k over the minibatches ``bounds`` of a CSR matrix.

    Parameters are updated in place; returns the new MT19937 position. Work arrays:
    ``work_h`` (3, m, H) for hpos / hneg / CD chains, ``work_v`` (2, m, V) for the
    dense positive minibatch and the negative visibles, ``act`` (m, V) int64 active
    indices, ``rand``/``words`` the random block (``minibatch_draws`` doubles and
    twice as many uint32), ``grad_v`` (2, max(V, H)) bias gradients, ``W`` (H, V) for
    the transposed weights, ``ibuf`` int scratch of length max(V, H) (int32 for
    float32, int64 for float64); m >= max(batch rows, chain rows).
    """
    V = Wt.shape[0]
    H = Wt.shape[1]
    zero = Wt.dtype.type(0)
    plain = momentum == 0.0 and weight_decay == 0.0
    hpos = work_h[0]
    hneg = work_h[1]
    vpos = work_v[0]
    vneg = work_v[1]
    g_h = grad_v[0, :H]
    g_v = grad_v[1, :V]
    nact = np.zeros(act.shape[0], dtype=np.int64)
    for k in range(bounds.shape[0] - 1):
        r0 = bounds[k]
        nb = bounds[k + 1] - r0
        if persistent:
            hc = chain
        else:
            hc = work_h[2]
        nc = hc.shape[0] if persistent else nb
        n_draws = minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian)
        pos = mt_fill_random(key, pos, words, rand[:n_draws])
        off = 0
        lr = learning_rate / nb
        decay = learning_rate * weight_decay
        # positive phase
        g_h[:] = zero
        g_v[:] = zero
        for b in range(nb):
            r = r0 + b
            vpos[b, :] = zero
            for p in range(indptr[r], indptr[r + 1]):
                vpos[b, indices[p]] = data[p]
                g_v[indices[p]] += data[p]
            _hidden_from_csr(indices, data, indptr[r], indptr[r + 1], Wt, bh, hpos[b],
                             ibuf)
            for j in range(H):
                g_h[j] += hpos[b, j]
        if not persistent:
            for b in range(nb):
                _sample_binary(hpos[b], rand, off + b * H, hc[b])
            off += nb * H
        # negative phase: n_gibbs steps of h -> v -> h
        for step in range(n_gibbs):
            W[:, :] = Wt.T
            if gaussian:
                _box_muller(rand, off, nc * V)
            for c in range(nc):
                nact[c] = _visible_row(hc[c], W, bv, rand, off + c * V, gaussian,
                                       vneg[c], act[c], ibuf)
            off += 2 * ((nc * V + 1) // 2) if gaussian else nc * V
            for c in range(nc):
                _hidden_from_active(vneg[c], act[c], nact[c], Wt, bh, hneg[c], ibuf)
            for c in range(nc):
                _sample_binary(hneg[c], rand, off + c * H, hc[c])
            off += nc * H
        for c in range(nc):
            for a in range(nact[c]):
                g_v[act[c, a]] -= vneg[c, act[c, a]]
            for j in range(H):
                g_h[j] -= hneg[c, j]
        # parameter step
        for i in range(V):
            _update_row(i, Wt, vel_w, vpos, hpos, nb, vneg, hneg, nc, lr, decay,
                        momentum, plain)
        _bias_step(bh, vel_bh, g_h, lr, momentum, plain)
        _bias_step(bv, vel_bv, g_v, lr, momentum, plain)
    return pos
