"""Plain-numpy references of the RBM kernels and helpers.

``epoch_reference`` performs the same epoch as BernoulliRBM's kernels
(``sknets.rbm._bernoulli_kernels.dense_epoch``, ``_bernoulli_blocked_kernels.
blocked_epoch``) with dense matrix products, replaying the same random draws from a
``RandomState``; the tests compare them on identical inputs.
"""

import numpy as np
from scipy.special import expit


def minibatch_draws(nb, nc, n_features, n_components, n_gibbs, persistent, gaussian):
    """Uniform doubles the kernels draw for one minibatch (see the order in
    ``sknets.rbm._bernoulli_kernels``)."""
    n = 0 if persistent else nb * n_components
    nv = nc * n_features
    if gaussian:
        nv = 2 * ((nv + 1) // 2)
    return n + n_gibbs * (nv + nc * n_components)


def momentum_step_reference(param, grad, velocity, lr, momentum, weight_decay):
    """Reference of ``sknets.utils._numba_math.momentum_step`` (same in-place
    semantics)."""
    velocity *= momentum
    velocity += lr * (grad - weight_decay * param)
    param += velocity


def count_nonfinite_outside_reference(values, lo, hi):
    """Reference of ``sknets.utils._numba_math.count_nonfinite_outside``."""
    return (int(np.count_nonzero(~np.isfinite(values))),
            int(np.count_nonzero((values < lo) | (values > hi))))


def box_muller_reference(u, n):
    """Standard normals from pairs of uniforms, as the kernel makes them."""
    u1 = u[0::2]
    u2 = u[1::2]
    r = np.sqrt(-2.0 * np.log(1.0 - u1))
    z = np.empty(2 * r.shape[0])
    z[0::2] = r * np.cos(2.0 * np.pi * u2)
    z[1::2] = r * np.sin(2.0 * np.pi * u2)
    return z[:n]


def epoch_reference(X, bounds, W, bh, bv, chain, vel_w, vel_bh, vel_bv, rs,
                    learning_rate, momentum, weight_decay, n_gibbs, persistent,
                    gaussian):
    """One epoch on dense ``X`` with ``W`` of shape (n_components, n_features).

    All parameter arrays (``W``, ``bh``, ``bv``, ``chain`` and the velocities, laid out
    as ``W``) are updated in place; ``rs`` is a ``RandomState`` that is advanced.
    """
    dtype = W.dtype
    H, V = W.shape
    plain = momentum == 0.0 and weight_decay == 0.0
    for k in range(len(bounds) - 1):
        v = X[bounds[k]:bounds[k + 1]]
        nb = v.shape[0]
        nc = chain.shape[0] if persistent else nb
        u = rs.random_sample(
            minibatch_draws(nb, nc, V, H, n_gibbs, persistent, gaussian))
        off = 0
        hpos = expit(v @ W.T + bh).astype(dtype)
        if persistent:
            hc = chain.copy()
        else:
            hc = (u[off:off + nb * H].reshape(nb, H) < hpos).astype(dtype)
            off += nb * H
        for _ in range(n_gibbs):
            s = hc @ W + bv
            if gaussian:
                m = 2 * ((nc * V + 1) // 2)
                z = box_muller_reference(u[off:off + m], nc * V).reshape(nc, V)
                vneg = (s + z).astype(dtype)
                off += m
            else:
                vneg = (u[off:off + nc * V].reshape(nc, V) < expit(s)).astype(dtype)
                off += nc * V
            hneg = expit(vneg @ W.T + bh).astype(dtype)
            hc = (u[off:off + nc * H].reshape(nc, H) < hneg).astype(dtype)
            off += nc * H
        if persistent:
            chain[...] = hc
        lr = learning_rate / nb
        g_w = hpos.T @ v - hneg.T @ vneg
        g_h = hpos.sum(axis=0) - hneg.sum(axis=0)
        g_v = v.sum(axis=0) - vneg.sum(axis=0)
        if plain:
            W += lr * g_w
            bh += lr * g_h
            bv += lr * g_v
        else:
            vel_w *= momentum
            vel_w += lr * g_w - learning_rate * weight_decay * W
            W += vel_w
            vel_bh *= momentum
            vel_bh += lr * g_h
            bh += vel_bh
            vel_bv *= momentum
            vel_bv += lr * g_v
            bv += vel_bv

