"""Plain-numpy references of GANSampler's compiled pieces (written from the
definitions, no Numba, no shared code with the package): the Dense/activation stack
of ``sknets.nn._fused_mlp``, the Adam update, spectral normalisation, the GAN losses
on logits and one fused training epoch of ``sknets.gan._kernels.gan_epoch``.

A network is described by ``spec``: one ``(weight offset, n_in, n_out, activation,
slope)`` per Dense layer, the weight ``W`` (n_in, n_out) stored row-major in a flat
parameter vector at the offset and its bias right after it.
"""

import numpy as np

LOSSES = ("non-saturating", "minimax", "wasserstein")


def softplus(a):
    """``log(1 + exp(a))`` without overflow."""
    a = np.asarray(a, dtype=np.float64)
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


def sigmoid(a):
    """Logistic function without overflow."""
    a = np.asarray(a, dtype=np.float64)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def discriminator_loss(l_r, l_f, loss="non-saturating", target=1.0):
    """``mean(t softplus(-l_r) + (1 - t) softplus(l_r)) + mean(softplus(l_f))`` for the
    cross-entropy losses (t the real rows' target), ``mean(l_f) - mean(l_r)`` for
    ``"wasserstein"``; returns (loss, d/dl_r, d/dl_f)."""
    l_r, l_f = np.asarray(l_r, float), np.asarray(l_f, float)
    n_r, n_f = len(l_r), len(l_f)
    if loss == "wasserstein":
        return (np.mean(l_f) - np.mean(l_r), np.full(n_r, -1.0 / n_r),
                np.full(n_f, 1.0 / n_f))
    t = target
    value = (np.mean(t * softplus(-l_r) + (1 - t) * softplus(l_r))
             + np.mean(softplus(l_f)))
    return value, (sigmoid(l_r) - t) / n_r, sigmoid(l_f) / n_f


def generator_loss(l_f, loss="non-saturating"):
    """``-mean log D``, ``mean log(1 - D)`` or ``-mean(l_f)``, D = sigmoid(l_f);
    returns (loss, d/dl_f)."""
    l_f = np.asarray(l_f, float)
    n = len(l_f)
    if loss == "non-saturating":
        return np.mean(softplus(-l_f)), (sigmoid(l_f) - 1) / n
    if loss == "minimax":
        return -np.mean(softplus(l_f)), -sigmoid(l_f) / n
    return -np.mean(l_f), np.full(n, -1.0 / n)


def _weights(theta, layer):
    wo, nin, nout = layer[:3]
    return (theta[wo:wo + nin * nout].reshape(nin, nout),
            theta[wo + nin * nout:wo + nin * nout + nout])


def _act(z, name, slope):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    assert name == "identity"
    return z


def _act_grad(y, name, slope):
    """Derivative of the activation from its output."""
    if name == "relu":
        return (y > 0).astype(y.dtype)
    if name == "leaky_relu":
        return np.where(y > 0, 1.0, slope)
    if name == "tanh":
        return 1 - y * y
    if name == "sigmoid":
        return y * (1 - y)
    return np.ones_like(y)


def mlp_forward(theta, spec, x):
    """Outputs of every layer ``[x, h_1, ..., h_L]``."""
    outs = [np.asarray(x)]
    for layer in spec:
        W, b = _weights(theta, layer)
        outs.append(_act(outs[-1] @ W + b, layer[3], layer[4]))
    return outs


def mlp_backward(theta, spec, outs, grad_out):
    """(gradient w.r.t. theta, gradient w.r.t. the input) of ``<grad_out, f(x)>``."""
    grad = np.zeros_like(theta)
    d = grad_out
    for l in range(len(spec) - 1, -1, -1):
        wo, nin, nout, act, slope = spec[l]
        W, _ = _weights(theta, spec[l])
        d = d * _act_grad(outs[l + 1], act, slope)
        grad[wo:wo + nin * nout] = (outs[l].T @ d).ravel()
        grad[wo + nin * nout:wo + nin * nout + nout] = d.sum(axis=0)
        d = d @ W.T
    return grad, d


def adam_update(p, g, m, v, t, lr, beta_1, beta_2, eps):
    """Kingma & Ba's Algorithm 1, in place."""
    m[:] = beta_1 * m + (1 - beta_1) * g
    v[:] = beta_2 * v + (1 - beta_2) * g * g
    p -= lr / (1 - beta_1 ** t) * m / (np.sqrt(v / (1 - beta_2 ** t)) + eps)


def spectral_normalize(W, u, n_power=1):
    """One or more power iterations from the left vector ``u`` (updated in place);
    returns ``(W / sigma, sigma)`` with ``sigma = |W^T u|``."""
    uu = u.copy()
    for _ in range(n_power):
        v = W.T @ uu
        v = v / (np.linalg.norm(v) + 1e-12)
        uu = W @ v
        uu = uu / (np.linalg.norm(uu) + 1e-12)
    u[:] = uu
    sigma = max(np.linalg.norm(W.T @ uu), 1e-12)
    return W / sigma, sigma


def spectral_backward(W_sn, G, u, sigma):
    """Gradient w.r.t. the raw weight from ``G`` = gradient w.r.t. ``W / sigma(W)``,
    with u (and v = W^T u / |W^T u|) held fixed."""
    v = W_sn.T @ u
    v = v / (np.linalg.norm(v) + 1e-12)
    return (G - np.sum(G * W_sn) * np.outer(u, v)) / sigma


def _sn_all(raw, spec, u):
    """Normalise every weight of ``spec``; ``u`` holds the left vectors one after
    the other. Returns (normalised parameters, sigmas)."""
    out, sigmas, uo = raw.copy(), [], 0
    for layer in spec:
        wo, nin, nout = layer[:3]
        W, _ = _weights(raw, layer)
        uu = u[uo:uo + nin]
        W_sn, s = spectral_normalize(W, uu)
        out[wo:wo + nin * nout] = W_sn.ravel()
        sigmas.append(s)
        uo += nin
    return out, sigmas


def _sn_grad_all(normalized, grad, spec, u, sigmas):
    grad, uo = grad.copy(), 0
    for layer, s in zip(spec, sigmas):
        wo, nin, nout = layer[:3]
        W_sn, _ = _weights(normalized, layer)
        G = grad[wo:wo + nin * nout].reshape(nin, nout)
        grad[wo:wo + nin * nout] = spectral_backward(W_sn, G, u[uo:uo + nin], s).ravel()
        uo += nin
    return grad


def gan_epoch(X, order, noise, G, D, settings, counters):
    """Numpy replay of one fused GAN epoch.

    ``G = (theta, spec, m, v)`` and ``D = (theta, spec, m, v, u)`` (``theta`` of D: the
    raw parameters; ``u``: the spectral-normalisation left vectors, None without it),
    updated in place; ``settings``: dict of ``loss``, ``target``, ``k`` (discriminator
    steps per generator step), ``gamma`` (R1 weight), ``h`` (its difference step),
    ``ema``, ``g_adam``/``d_adam`` (lr, beta_1, beta_2, eps), ``average`` (the moving
    average of G's parameters, updated); ``counters``: [generator steps,
    discriminator steps, discriminator steps since the last generator step,
    pre-training steps left]. Returns the (n_batches, 4) losses: D loss, G loss, R1
    penalty, generator step taken.

    R1 ``gamma / 2 mean |grad_x D(x)|^2``: its parameter gradient is taken as the
    difference quotient ``(grad_theta D(x + h g / |g|) - grad_theta D(x)) |g| / h``,
    g = grad_x D(x).
    """
    tg, sg, mg, vg = G
    td_raw, sd, md, vd, u = D
    loss = settings["loss"]
    gamma = settings["gamma"] if loss != "wasserstein" else 0.0
    h = settings["h"]
    bs = noise.shape[2]
    n = len(order)
    n_batches = -(-n // bs)
    out = np.zeros((n_batches, 4))
    for b in range(n_batches):
        rows = order[b * bs:(b + 1) * bs]
        nb = len(rows)
        xr = X[rows]
        if u is not None:
            td, sig = _sn_all(td_raw, sd, u)
        else:
            td = td_raw
        fake = mlp_forward(tg, sg, noise[0, b, :nb])[-1]
        batch = np.concatenate([xr, fake])
        coef = None
        penalty = 0.0
        if gamma > 0:
            outs = mlp_forward(td, sd, xr)
            _, gx = mlp_backward(td, sd, outs, np.ones((nb, 1)))
            norm = np.linalg.norm(gx, axis=1)
            step = np.where(norm > 0, h / np.where(norm > 0, norm, 1), 0.0)
            batch = np.concatenate([batch, xr + step[:, None] * gx])
            coef = gamma * norm / (nb * h)
            penalty = gamma * np.sum(norm ** 2) / (2 * nb)
        outs = mlp_forward(td, sd, batch)
        logit = outs[-1][:, 0]
        value, g_r, g_f = discriminator_loss(logit[:nb], logit[nb:2 * nb], loss,
                                             settings["target"])
        out[b, 0], out[b, 2] = value, penalty
        grad_logit = np.concatenate([g_r, g_f])
        if coef is not None:
            grad_logit = np.concatenate([g_r - coef, g_f, coef])
        grad, _ = mlp_backward(td, sd, outs, grad_logit[:, None])
        if u is not None:
            grad = _sn_grad_all(td, grad, sd, u, sig)
        counters[1] += 1
        adam_update(td_raw, grad, md, vd, counters[1], *settings["d_adam"])
        if counters[3] > 0:
            counters[3] -= 1
            continue
        counters[2] += 1
        if counters[2] < settings["k"]:
            continue
        counters[2] = 0
        td = _sn_all(td_raw, sd, u)[0] if u is not None else td_raw
        outs_g = mlp_forward(tg, sg, noise[1, b, :nb])
        outs_d = mlp_forward(td, sd, outs_g[-1])
        value, g_f = generator_loss(outs_d[-1][:, 0], loss)
        out[b, 1], out[b, 3] = value, 1
        _, g_x = mlp_backward(td, sd, outs_d, g_f[:, None])
        grad_g, _ = mlp_backward(tg, sg, outs_g, g_x)
        counters[0] += 1
        adam_update(tg, grad_g, mg, vg, counters[0], *settings["g_adam"])
        avg = settings["average"]
        avg[:] = settings["ema"] * avg + (1 - settings["ema"]) * tg
    return out
