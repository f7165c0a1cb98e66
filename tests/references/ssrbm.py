"""Plain-numpy reference of the spike-and-slab RBM.

The maths is written in ``doc/user_guide/spike_slab_rbm.rst``, section *The model*;
the section names in the docstrings below are its subsections.

Nothing here is used by the estimator at fit or transform time: these functions are the
readable statement of the model that the Numba kernels of ``sknets.rbm._ss_kernels``
are tested against, and the "plain numpy implementation of the same update" that
``benchmarks/bench_ssrbm.py`` times. They replay the same pre-drawn random numbers as
the kernels, so for equal inputs the outputs agree to rounding.

Shapes: ``V`` (B, D) visibles; ``W`` (N, K, D) filters, stored for the kernels as
``W2 = W.reshape(N * K, D)``; ``b`` (N,); ``alpha``, ``mu`` (N, K); ``lam`` (D,);
optional ``phi`` (N, D) (the ICML-2011 spike-gated precision; reference only, off in
v1).
"""

import numpy as np
from scipy.special import expit, ndtr, ndtri

# --------------------------------------------------------------------------------------
# Model: energy, conditionals, free energy, gradients
# --------------------------------------------------------------------------------------


def energy(v, s, h, W, b, alpha, mu, lam, phi=None):
    """Energy ``E(v, s, h)`` of section *Energy* for one configuration.

    ``v`` (D,), ``s`` (N, K), ``h`` (N,), ``W`` (N, K, D).
    """
    u = W @ v  # (N, K)
    e = 0.5 * np.sum(lam * v**2)
    if phi is not None:
        e += 0.5 * np.sum(h * (phi @ v**2))
    e -= np.sum(h[:, None] * s * u)
    e += 0.5 * np.sum(alpha * s**2)
    e -= np.sum(alpha * mu * h[:, None] * s)
    e += 0.5 * np.sum(alpha * mu**2 * h[:, None])
    e -= np.sum(b * h)
    return e


def projections(V, W2, n_components):
    """``U[t, i, k] = w_ik . v_t`` as an array (B, N, K)."""
    return (V @ W2.T).reshape(V.shape[0], n_components, -1)


def spike_logits(V, W2, b, alpha, mu, phi=None):
    """``c_i(v)`` (section *Conditionals*) and the projections ``U``: ``(c, U)``."""
    U = projections(V, W2, b.shape[0])
    c = b + np.sum(U**2 / (2.0 * alpha) + mu * U, axis=2)
    if phi is not None:
        c = c - 0.5 * (V**2) @ phi.T
    return c, U


def conditionals(V, W2, b, alpha, mu, phi=None):
    """Exact conditional expectations ``p = E[h|v]`` (B, N), ``r = E[h s|v]`` (B, N, K).

    Also returns ``U`` (B, N, K).
    """
    c, U = spike_logits(V, W2, b, alpha, mu, phi)
    p = expit(c)
    r = p[:, :, None] * (mu + U / alpha)
    return p, r, U


def free_energy(V, W2, b, alpha, mu, lam, phi=None):
    """``F(v)`` of section *Free energy* for every row of ``V``: (B,)."""
    c, _ = spike_logits(V, W2, b, alpha, mu, phi)
    return (
        0.5 * (V**2) @ lam
        - np.sum(np.logaddexp(0.0, c), axis=1)
        + 0.5 * np.sum(np.log(alpha / (2.0 * np.pi)))
    )


def free_energy_grads(V, W2, b, alpha, mu, lam):
    """Mean over rows of ``dF/dtheta`` (section *Gradients and updates*), a dict.

    Keys: ``W`` (N, K, D), ``b``, ``mu``, ``alpha``, ``lam``, ``log_alpha``
    (``a = log alpha``), ``log_lam`` (``l = log Lambda``), ``scalar_log_alpha``,
    ``scalar_log_lam`` (gradients w.r.t. one shared log-precision).
    """
    B = V.shape[0]
    p, r, U = conditionals(V, W2, b, alpha, mu)
    g = {}
    g["W"] = -np.einsum("tik,td->ikd", r, V) / B
    g["b"] = -p.mean(axis=0)
    g["mu"] = -np.mean(p[:, :, None] * U, axis=0)
    g["alpha"] = (np.mean(p[:, :, None] * U**2, axis=0) / (2 * alpha**2)
                  + 1 / (2 * alpha))
    g["lam"] = 0.5 * np.mean(V**2, axis=0)
    g["log_alpha"] = alpha * g["alpha"]
    g["log_lam"] = lam * g["lam"]
    g["scalar_log_alpha"] = g["log_alpha"].sum()
    g["scalar_log_lam"] = g["log_lam"].sum()
    return g


# --------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------


def truncnorm_std(lo, hi, u):
    """Inverse-CDF draw of a standard normal truncated to ``[lo, hi]`` (uniforms ``u``).

    Elementwise over arrays. Works on the tail side away from the mean (survival
    function for ``lo >= 0``, mirrored for ``hi <= 0``); when the interval's mass
    underflows, or it has zero width, the nearest endpoint to 0 is returned.
    """
    lo, hi, u = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (lo, hi, u)))
    out = np.empty(lo.shape)
    flip = hi <= 0.0  # interval entirely below 0: mirror
    a = np.where(flip, -hi, lo)
    bb = np.where(flip, -lo, hi)
    upper = a >= 0.0  # interval on the upper side (after mirroring)
    with np.errstate(all="ignore"):
        # upper tail: survival function Q(x) = ndtr(-x)
        qa, qb = ndtr(-a), ndtr(-bb)
        x_up = -ndtri(qa - u * (qa - qb))
        # straddling 0: plain CDF
        pa, pb = ndtr(a), ndtr(bb)
        x_mid = ndtri(pa + u * (pb - pa))
    x = np.where(upper, x_up, x_mid)
    bad = upper & ~(qa > qb)  # no representable mass: nearest endpoint
    x = np.where(bad | ~np.isfinite(x), a, x)
    x = np.minimum(np.maximum(x, a), bb)
    x = np.where(bb - a <= 0.0, a, x)
    out[...] = np.where(flip, -x, x)
    return out


def fallback_rows(V0, M, prec, radius, U):
    """Coordinate-wise truncated-normal Gibbs pass (section *Visible draws in the
    ball*) for each row of ``V0``.

    ``V0`` (F, D) previous states (radially projected into the ball first if outside),
    ``M`` (F, D) means, ``prec`` (D,) precisions, ``U`` (F, D) uniforms.
    """
    V = np.array(V0, dtype=np.float64)
    norms = np.sqrt(np.sum(V**2, axis=1))
    out = norms > radius
    V[out] *= (radius / norms[out])[:, None]
    total = np.sum(V**2, axis=1)
    sd = 1.0 / np.sqrt(prec)
    r2 = radius * radius
    for d in range(V.shape[1]):
        old = V[:, d]
        rest = r2 - (total - old * old)
        half = np.sqrt(np.maximum(rest, 0.0))
        lo = (-half - M[:, d]) / sd[d]
        hi = (half - M[:, d]) / sd[d]
        new = M[:, d] + sd[d] * truncnorm_std(lo, hi, U[:, d])
        new = np.minimum(np.maximum(new, -half), half)
        total = total + new * new - old * old
        V[:, d] = new
    return V


def draw_visible(V0, M, prec, radius, z_first, pool, pool_pos, max_rejections,
                 fb_u, fb_pos):
    """Ball-truncated visible draw (section *Visible draws in the ball*), row by row,
    replaying pre-drawn noise.

    Row ``t`` first tries ``M[t] + z_first[t] / sqrt(prec)``; each retry takes the next
    row of ``pool`` (a shared counter ``pool_pos``); after ``max_rejections`` failed
    retries the row gets the coordinate-wise fallback from ``V0[t]`` with the next row
    of ``fb_u``. Returns ``(V, pool_pos, fb_pos, n_fallback)``; raises ``IndexError``
    if a pool runs out (the kernels report this and are given larger pools).
    """
    B, D = M.shape
    sd = 1.0 / np.sqrt(prec)
    r2 = radius * radius
    V = M + z_first * sd
    n_fb = 0
    for t in range(B):
        ok = np.sum(V[t] ** 2) <= r2
        tries = 0
        while not ok and tries < max_rejections:
            if pool_pos >= pool.shape[0]:
                raise IndexError("retry pool exhausted")
            V[t] = M[t] + pool[pool_pos] * sd
            pool_pos += 1
            tries += 1
            ok = np.sum(V[t] ** 2) <= r2
        if not ok:
            if fb_pos >= fb_u.shape[0]:
                raise IndexError("fallback pool exhausted")
            V[t] = fallback_rows(V0[t:t + 1], M[t:t + 1], prec, radius,
                                 fb_u[fb_pos:fb_pos + 1])[0]
            fb_pos += 1
            n_fb += 1
    return V, pool_pos, fb_pos, n_fb


def gibbs_sweep(V, W2, b, alpha, mu, lam, radius, u_h, z_s, z_v, pool, pool_pos,
                max_rejections, fb_u, fb_pos):
    """One block-Gibbs sweep ``h ~ p(h|v)``, ``s ~ p(s|v,h)``, ``v ~ p(v|s,h)``.

    ``u_h`` (B, N) uniforms (``h_i = 1`` iff ``u_h[i] < p(h_i=1|v)``), ``z_s`` (B, N*K)
    and ``z_v`` (B, D) standard normals.
    Returns ``(V_new, h, s, pool_pos, fb_pos, n_fallback)`` with ``s`` (B, N, K).
    """
    B = V.shape[0]
    N, K = alpha.shape
    p, _, U = conditionals(V, W2, b, alpha, mu)
    h = (u_h < p).astype(np.float64)
    s = h[:, :, None] * (mu + U / alpha) + z_s.reshape(B, N, K) / np.sqrt(alpha)
    M = ((h[:, :, None] * s).reshape(B, N * K) @ W2) / lam
    V_new, pool_pos, fb_pos, n_fb = draw_visible(
        V, M, lam, radius, z_v, pool, pool_pos, max_rejections, fb_u, fb_pos)
    return V_new, h, s, pool_pos, fb_pos, n_fb


# --------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------


def ascent_direction(V_pos, V_neg, W2, b, alpha, mu, lam):
    """Data-minus-model statistics (section *Gradients and updates*), before momentum
    and decay.

    Returns ``dW2`` (N*K, D), ``db`` (N,), ``dmu`` (N, K), ``da`` (N, K) for
    ``a = log alpha``, ``dl`` (D,) for ``l = log Lambda``.
    """
    B, M = V_pos.shape[0], V_neg.shape[0]
    N, K = alpha.shape
    p, r, U = conditionals(V_pos, W2, b, alpha, mu)
    pn, rn, Un = conditionals(V_neg, W2, b, alpha, mu)
    dW2 = r.reshape(B, N * K).T @ V_pos / B - rn.reshape(M, N * K).T @ V_neg / M
    db = p.mean(axis=0) - pn.mean(axis=0)
    dmu = np.mean(p[:, :, None] * U, axis=0) - np.mean(pn[:, :, None] * Un, axis=0)
    dalpha = (np.mean(pn[:, :, None] * Un**2, axis=0)
              - np.mean(p[:, :, None] * U**2, axis=0)) / (2 * alpha**2)
    dlam = 0.5 * (np.mean(V_neg**2, axis=0) - np.mean(V_pos**2, axis=0))
    return dW2, db, dmu, alpha * dalpha, lam * dlam


def gradient_step(V_pos, V_neg, params, vel, *, learning_rate, momentum, weight_decay,
                  learn_alpha=True, learn_mu=True, learn_lambda=True,
                  scalar_alpha=False, scalar_lambda=False,
                  precision_bounds=(1e-2, 1e3)):
    """One SGD-with-momentum update (section *Gradients and updates*), in place on
    ``params`` and ``vel``.

    ``params``: dict with ``W2``, ``b``, ``alpha``, ``mu``, ``lam``; ``vel``: dict with
    the same keys (velocities of ``alpha``/``lam`` are in log space).
    """
    dW2, db, dmu, da, dl = ascent_direction(
        V_pos, V_neg, params["W2"], params["b"], params["alpha"], params["mu"],
        params["lam"])
    lo, hi = np.log(precision_bounds[0]), np.log(precision_bounds[1])
    lr, m = learning_rate, momentum
    vel["W2"][...] = m * vel["W2"] + lr * (dW2 - weight_decay * params["W2"])
    params["W2"] += vel["W2"]
    vel["b"][...] = m * vel["b"] + lr * db
    params["b"] += vel["b"]
    if learn_mu:
        vel["mu"][...] = m * vel["mu"] + lr * dmu
        params["mu"] += vel["mu"]
    if learn_alpha:
        if scalar_alpha:
            da = np.full_like(da, da.sum())
        vel["alpha"][...] = m * vel["alpha"] + lr * da
        log_alpha = np.log(params["alpha"]) + vel["alpha"]
        params["alpha"][...] = np.exp(np.clip(log_alpha, lo, hi))
    if learn_lambda:
        if scalar_lambda:
            dl = np.full_like(dl, dl.sum())
        vel["lam"][...] = m * vel["lam"] + lr * dl
        params["lam"][...] = np.exp(np.clip(np.log(params["lam"]) + vel["lam"], lo, hi))
    return params, vel


def train_epoch(X, perm, starts, stops, params, vel, chains, *, persistent, n_steps,
                u_h, z_v, pool, fb_u, radius, max_rejections, z_s=None, slab_pool=None,
                **step_kwargs):
    """Plain-numpy replay of ``_ss_kernels.ss_epoch`` (one full epoch from batch 0).

    Same noise layout as the kernel; ``step_kwargs`` go to :func:`gradient_step`.
    Slab noise: either ``z_s`` (n_batches, n_steps, M, N*K), one normal per slab as in
    :func:`gibbs_sweep`, or ``slab_pool`` (1-D) read in order, K numbers per spike that
    is on (rows, then spikes, then slabs), as the kernel reads it; the two give the
    same update for the same numbers at the slabs of spikes that are on.
    Returns ``(chains, n_fallback, n_draws)``.
    """
    if (z_s is None) == (slab_pool is None):
        raise ValueError("pass exactly one of z_s and slab_pool")
    pool_pos = fb_pos = slab_pos = 0
    n_fb_total = n_draws = 0
    N, K = params["alpha"].shape
    for j in range(len(starts)):
        V_pos = X[perm[starts[j]:stops[j]]]
        Vc = chains.copy() if persistent else V_pos.copy()
        m = Vc.shape[0]
        for step in range(n_steps):
            if z_s is not None:
                z = z_s[j, step, :m]
            else:
                # the spikes this sweep will draw, and a pool number for each of their
                # slabs (slabs of off spikes do not reach the next visible state)
                p, _, _ = conditionals(Vc, params["W2"], params["b"], params["alpha"],
                                       params["mu"])
                on = np.repeat(u_h[j, step, :m] < p, K, axis=1)
                n_on = int(on.sum())
                z = np.zeros((m, N * K))
                z[on] = slab_pool[slab_pos:slab_pos + n_on]
                slab_pos += n_on
            Vc, _, _, pool_pos, fb_pos, n_fb = gibbs_sweep(
                Vc, params["W2"], params["b"], params["alpha"], params["mu"],
                params["lam"], radius, u_h[j, step, :m], z, z_v[j, step, :m], pool,
                pool_pos, max_rejections, fb_u, fb_pos)
            n_fb_total += n_fb
        gradient_step(V_pos, Vc, params, vel, **step_kwargs)
        if persistent:
            chains = Vc
        n_draws += m * n_steps
    return chains, n_fb_total, n_draws
