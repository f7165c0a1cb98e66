"""Plain-numpy reference of the fused Numba kernels in :mod:`sknets.gan._kernels`.

Same flat parameter layout, same update order, same pre-drawn noise and minibatch
order: the tests replay an epoch here and compare it with the kernel. Slow; never used
by the estimator.
"""

import numpy as np

from sknets.gan._kernels import (
    BETA_1, BETA_2, D_SINCE_G, EMA, EPS, IDENTITY, LEAK, LEAKY_RELU, LR, MINIMAX,
    NON_SATURATING, PRETRAIN_LEFT, RELU, SMOOTHING, T_D, T_G, TANH, WASSERSTEIN,
)
from sknets.gan._losses import discriminator_loss, generator_loss

_LOSS_NAMES = {NON_SATURATING: "non-saturating", MINIMAX: "minimax",
               WASSERSTEIN: "wasserstein"}


def _weights(theta, layout, l):
    nin, nout, wo, bo = (int(v) for v in layout[l, :4])
    return theta[wo:wo + nin * nout].reshape(nin, nout), theta[bo:bo + nout]


def _act(z, code):
    if code == RELU:
        return np.maximum(z, 0)
    if code == LEAKY_RELU:
        return np.where(z > 0, z, LEAK * z)
    if code == TANH:
        return np.tanh(z)
    assert code == IDENTITY
    return z


def _act_grad(y, code):
    if code == RELU:
        return (y > 0).astype(y.dtype)
    if code == LEAKY_RELU:
        return np.where(y > 0, 1.0, LEAK).astype(y.dtype)
    if code == TANH:
        return 1 - y * y
    return np.ones_like(y)


def mlp_forward(theta, layout, x):
    """Return the list of layer outputs ``[x, h_1, ..., h_L]``."""
    outs = [x]
    for l in range(layout.shape[0]):
        W, b = _weights(theta, layout, l)
        outs.append(_act(outs[-1] @ W + b, layout[l, 5]))
    return outs


def mlp_backward(theta, layout, outs, grad_out):
    """Return (gradient w.r.t. theta, gradient w.r.t. the input)."""
    grad = np.zeros_like(theta)
    d = grad_out
    for l in range(layout.shape[0] - 1, -1, -1):
        nin, nout, wo, bo = (int(v) for v in layout[l, :4])
        W, _ = _weights(theta, layout, l)
        d = d * _act_grad(outs[l + 1], layout[l, 5])
        grad[wo:wo + nin * nout] = (outs[l].T @ d).ravel()
        grad[bo:bo + nout] = d.sum(axis=0)
        d = d @ W.T
    return grad, d


def adam_update(theta, grad, m, v, t, hyper):
    lr, b1, b2, eps = hyper[LR], hyper[BETA_1], hyper[BETA_2], hyper[EPS]
    m[:] = b1 * m + (1 - b1) * grad
    v[:] = b2 * v + (1 - b2) * grad * grad
    theta -= lr / (1 - b1 ** t) * m / (np.sqrt(v / (1 - b2 ** t)) + eps)


def spectral_normalize(theta, layout, u, n_power=1):
    """Return (theta with every W replaced by W / sigma, sigmas); updates ``u``."""
    out = theta.copy()
    sigmas = np.empty(layout.shape[0])
    for l in range(layout.shape[0]):
        nin, nout, wo = (int(v) for v in layout[l, :3])
        io = int(layout[l, 4])
        W, _ = _weights(theta, layout, l)
        uu = u[io:io + nin]
        for _ in range(n_power):
            vv = W.T @ uu
            vv = vv / (np.linalg.norm(vv) + 1e-12)
            uu = W @ vv
            uu = uu / (np.linalg.norm(uu) + 1e-12)
        u[io:io + nin] = uu
        sigma = max(np.linalg.norm(W.T @ uu), 1e-12)
        sigmas[l] = sigma
        out[wo:wo + nin * nout] = (W / sigma).ravel()
    return out, sigmas


def spectral_backward(theta_sn, layout, grad, u, sigmas):
    grad = grad.copy()
    for l in range(layout.shape[0]):
        nin, nout, wo = (int(v) for v in layout[l, :3])
        io = int(layout[l, 4])
        Wsn, _ = _weights(theta_sn, layout, l)
        uu = u[io:io + nin]
        vv = Wsn.T @ uu
        vv = vv / (np.linalg.norm(vv) + 1e-12)
        G = grad[wo:wo + nin * nout].reshape(nin, nout)
        grad[wo:wo + nin * nout] = ((G - np.sum(G * Wsn) * np.outer(uu, vv))
                                    / sigmas[l]).ravel()
    return grad


def train_epoch(X, perm, batch_size, noise_d, noise_g, theta_g, layout_g, m_g, v_g,
                theta_d, layout_d, m_d, v_d, sn_u, use_sn, theta_g_avg, loss_kind,
                k_steps, state,
                hyper, losses):
    """Numpy replay of :func:`sknets.gan._kernels.train_epoch` (in place)."""
    name = _LOSS_NAMES[int(loss_kind)]
    n = X.shape[0]
    for b in range((n + batch_size - 1) // batch_size):
        rows = perm[b * batch_size:(b + 1) * batch_size]
        nb = rows.shape[0]
        td = theta_d
        if use_sn:
            td, sig = spectral_normalize(theta_d, layout_d, sn_u)
        fake = mlp_forward(theta_g, layout_g, noise_d[b, :nb])[-1]
        outs = mlp_forward(td, layout_d, np.concatenate([X[rows], fake]))
        logit = outs[-1][:, 0]
        loss, g_r, g_f = discriminator_loss(logit[:nb], logit[nb:], name,
                                            hyper[SMOOTHING])
        if not np.isfinite(loss):
            return 1
        losses[0] += loss
        losses[1] += 1
        grad, _ = mlp_backward(td, layout_d, outs, np.concatenate([g_r, g_f])[:, None])
        if use_sn:
            grad = spectral_backward(td, layout_d, grad, sn_u, sig)
        state[T_D] += 1
        adam_update(theta_d, grad, m_d, v_d, state[T_D], hyper)
        if state[PRETRAIN_LEFT] > 0:
            state[PRETRAIN_LEFT] -= 1
            continue
        state[D_SINCE_G] += 1
        if state[D_SINCE_G] < k_steps:
            continue
        state[D_SINCE_G] = 0
        td = theta_d
        if use_sn:
            td, sig = spectral_normalize(theta_d, layout_d, sn_u)
        outs_g = mlp_forward(theta_g, layout_g, noise_g[b, :nb])
        outs_d = mlp_forward(td, layout_d, outs_g[-1])
        loss, g_f = generator_loss(outs_d[-1][:, 0], name)
        if not np.isfinite(loss):
            return 1
        losses[2] += loss
        losses[3] += 1
        _, g_x = mlp_backward(td, layout_d, outs_d, g_f[:, None])
        grad_g, _ = mlp_backward(theta_g, layout_g, outs_g, g_x)
        state[T_G] += 1
        adam_update(theta_g, grad_g, m_g, v_g, state[T_G], hyper)
        theta_g_avg[:] = hyper[EMA] * theta_g_avg + (1 - hyper[EMA]) * theta_g
    return 0
