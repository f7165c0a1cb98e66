"""Numba kernel of GANSampler's fused training epoch: MLP generator and discriminator
compiled by :mod:`sknets.nn._fused_mlp`, Adam, one call per epoch.

The networks are :class:`sknets.nn.Sequential` stacks; the kernel runs on their flat
parameter vectors (:class:`~sknets.nn._fused_mlp.FusedNet`), updates them with the
:class:`sknets.nn.Adam` rule on the optimizers' own moment arrays
(:class:`~sknets.nn._fused_mlp.AdamArrays`) and normalises the critic's weights with
:mod:`sknets.nn.spectral_norm`'s kernels. Every step is the one
:class:`sknets.gan._models.LayerGANModel` takes with the layer objects (tested to
give the same numbers), in the same order:

1. discriminator step on the minibatch of real rows ``X[order[b]]`` against as many
   generated rows (noise ``noise[0, b]``), with the R1 penalty on the real rows;
2. after every ``discriminator_steps`` discriminator steps (once ``counters
   [PRETRAIN_LEFT]`` pre-training steps are done), a generator step on noise
   ``noise[1, b]`` through the discriminator (whose parameters stay), then the
   exponential moving average of the generator's parameters.

The R1 penalty ``gamma / 2 * mean ||grad_x D(x)||^2`` over real rows (Mescheder et al.,
2018) needs the gradient of an input gradient. Its parameter gradient,
``gamma * mean H_theta,x(x) g`` with ``g = grad_x D(x)``, is the directional derivative
of ``grad_theta D`` along ``g``; it is taken as the difference quotient
``(grad_theta D(x + h g/|g|) - grad_theta D(x)) |g| / h`` with a small step ``h``
(exact for piecewise-linear networks such as leaky-relu ones wherever no kink lies
within ``h``), so only first-order passes are needed, in this kernel and on the layer
objects alike. The two terms join the discriminator's backward pass as extra rows.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from sknets.nn._fused_mlp import adam_step, backward, forward, sigmoid_cross_entropy
from sknets.nn.spectral_norm import normalize_weights, normalized_gradient

NON_SATURATING, MINIMAX, WASSERSTEIN = 0, 1, 2
LOSS_CODES = {"non-saturating": NON_SATURATING, "minimax": MINIMAX,
              "wasserstein": WASSERSTEIN}

# indices into the ``counters`` array carried from one epoch to the next
T_G, T_D, D_SINCE_G, PRETRAIN_LEFT = 0, 1, 2, 3
# columns of the per-minibatch ``losses`` output
D_LOSS, G_LOSS, PENALTY, G_STEP = 0, 1, 2, 3

#: Scalar settings of an epoch. ``target``: the real rows' label (1 - label
#: smoothing); ``penalty``: R1's gamma (0: none); ``penalty_step``: its difference
#: step h; ``spectral_norm``: normalise the critic; the two ``*_adam`` fields are
#: :class:`~sknets.nn._fused_mlp.AdamSettings`.
Settings = namedtuple("Settings", [
    "loss", "target", "discriminator_steps", "penalty", "penalty_step",
    "spectral_norm", "ema_decay", "generator_adam", "discriminator_adam"])


@njit(cache=True)
def discriminator_output_grads(logits, grads, n_real, n_fake, loss, target):
    """Loss of the discriminator on ``logits`` (``n_real`` real rows, then ``n_fake``
    generated ones) and its gradients (means over each half), written to ``grads``."""
    total = 0.0
    for i in range(n_real):
        if loss == WASSERSTEIN:
            value, grad = -logits[i], -1.0
        else:
            value, grad = sigmoid_cross_entropy(logits[i], target)
        total += value / n_real
        grads[i] = grad / n_real
    for i in range(n_real, n_real + n_fake):
        if loss == WASSERSTEIN:
            value, grad = logits[i], 1.0
        else:
            value, grad = sigmoid_cross_entropy(logits[i], 0.0)
        total += value / n_fake
        grads[i] = grad / n_fake
    return total


@njit(cache=True)
def generator_output_grads(logits, grads, n, loss):
    """Generator loss on the discriminator's ``logits`` of generated rows and its
    gradients (mean over the rows): ``-log D`` (non-saturating), ``log(1 - D)``
    (minimax) or ``-logit`` (Wasserstein)."""
    total = 0.0
    for i in range(n):
        if loss == NON_SATURATING:
            value, grad = sigmoid_cross_entropy(logits[i], 1.0)
        elif loss == MINIMAX:
            value, grad = sigmoid_cross_entropy(logits[i], 0.0)
            value, grad = -value, -grad
        else:
            value, grad = -logits[i], -1.0
        total += value / n
        grads[i] = grad / n
    return total


@njit(cache=True)
def gan_epoch(data, generator, critic, g_average, settings, counters, losses):
    """One pass over the data in minibatches (see the module docstring).

    Parameters
    ----------
    data : tuple (X, order, noise)
        Rows (n, n_features), the row order (n,) and the noise
        (2, n_batches, batch_size, noise_dim): ``noise[0]`` for the discriminator
        steps, ``noise[1]`` for the generator steps.
    generator : tuple (FusedNet, AdamArrays)
        The generator (work matrices of at least batch_size rows) and its Adam arrays.
    critic : tuple (FusedNet, AdamArrays, slices, u, sigma)
        The discriminator (work matrices of 3 batch_size rows), its Adam arrays (the
        raw parameters with spectral normalisation, else the network's own) and the
        spectral-normalisation arrays of :func:`sknets.nn.spectral_norm.
        normalize_weights`.
    g_average : ndarray
        Exponential moving average of the generator's parameters (started at zero).
    settings : Settings
    counters : ndarray of int64
        Generator steps, discriminator steps, discriminator steps since the last
        generator step, pre-training steps left; updated.
    losses : ndarray of shape (n_batches, 4)
        Receives each minibatch's discriminator loss, generator loss, R1 penalty and
        whether a generator step was taken.

    Returns
    -------
    n_done : int
        Minibatches whose losses were written: all of them, or up to the first whose
        loss was not finite (the parameters were not updated from that loss).
    """
    X, order, noise = data
    G, g_opt = generator
    D, d_opt, slices, u, sigma = critic
    n = order.shape[0]
    nx = X.shape[1]
    nz = noise.shape[3]
    bs = noise.shape[2]
    g_out = G.layout[-1, 4] + G.layout[-1, 0]
    d_out = D.layout[-1, 4] + D.layout[-1, 0]
    loss_kind = settings.loss
    penalised = settings.penalty > 0 and loss_kind != WASSERSTEIN
    h = settings.penalty_step
    dtype = D.params.dtype
    logits = np.empty(3 * bs, dtype=np.float64)
    grads = np.empty(3 * bs, dtype=np.float64)
    coef = np.zeros(bs, dtype=np.float64)
    decay = g_average.dtype.type(settings.ema_decay)
    keep = g_average.dtype.type(1 - settings.ema_decay)
    n_batches = (n + bs - 1) // bs
    for b in range(n_batches):
        start = b * bs
        nb = min(bs, n - start)
        # ---- discriminator step ----
        if settings.spectral_norm:
            normalize_weights(d_opt.params, D.params, slices, u, sigma, 1)
        for i in range(nb):
            for c in range(nz):
                G.H[i, c] = noise[0, b, i, c]
        forward(G, 0, nb)
        for i in range(nb):
            r = order[start + i]
            for c in range(nx):
                D.H[i, c] = X[r, c]
                D.H[nb + i, c] = G.H[i, g_out + c]
        forward(D, 0, 2 * nb)
        rows = 2 * nb
        penalty = 0.0
        if penalised:
            for i in range(nb):
                D.dH[i, d_out] = 1
            backward(D, 0, nb, False, True)
            for i in range(nb):
                norm2 = 0.0
                for c in range(nx):
                    norm2 += D.dH[i, c] * D.dH[i, c]
                penalty += norm2
                norm = np.sqrt(norm2)
                step = h / norm if norm > 0 else 0.0
                coef[i] = settings.penalty * norm / (nb * h)
                for c in range(nx):
                    D.H[2 * nb + i, c] = D.H[i, c] + dtype.type(step) * D.dH[i, c]
            forward(D, 2 * nb, 3 * nb)
            penalty *= settings.penalty / (2 * nb)
            rows = 3 * nb
        for i in range(2 * nb):
            logits[i] = D.H[i, d_out]
        loss = discriminator_output_grads(logits, grads, nb, nb, loss_kind,
                                          settings.target)
        losses[b, D_LOSS] = loss
        losses[b, PENALTY] = penalty
        losses[b, G_STEP] = 0
        losses[b, G_LOSS] = 0
        if not (np.isfinite(loss) and np.isfinite(penalty)):
            return b + 1
        for i in range(2 * nb):
            D.dH[i, d_out] = grads[i]
        if penalised:
            for i in range(nb):
                D.dH[i, d_out] -= coef[i]
                D.dH[2 * nb + i, d_out] = coef[i]
        D.grads[:] = 0
        backward(D, 0, rows, True, False)
        if settings.spectral_norm:
            d_opt.grads[:] = D.grads
            normalized_gradient(D.params, d_opt.grads, slices, u, sigma)
        counters[T_D] += 1
        adam_step(d_opt, counters[T_D], settings.discriminator_adam)
        if counters[PRETRAIN_LEFT] > 0:
            counters[PRETRAIN_LEFT] -= 1
            continue
        counters[D_SINCE_G] += 1
        if counters[D_SINCE_G] < settings.discriminator_steps:
            continue
        counters[D_SINCE_G] = 0
        # ---- generator step (the discriminator's parameters stay) ----
        if settings.spectral_norm:
            normalize_weights(d_opt.params, D.params, slices, u, sigma, 1)
        for i in range(nb):
            for c in range(nz):
                G.H[i, c] = noise[1, b, i, c]
        forward(G, 0, nb)
        for i in range(nb):
            for c in range(nx):
                D.H[i, c] = G.H[i, g_out + c]
        forward(D, 0, nb)
        for i in range(nb):
            logits[i] = D.H[i, d_out]
        loss = generator_output_grads(logits, grads, nb, loss_kind)
        losses[b, G_LOSS] = loss
        losses[b, G_STEP] = 1
        if not np.isfinite(loss):
            return b + 1
        for i in range(nb):
            D.dH[i, d_out] = grads[i]
        backward(D, 0, nb, False, True)
        for i in range(nb):
            for c in range(nx):
                G.dH[i, g_out + c] = D.dH[i, c]
        G.grads[:] = 0
        backward(G, 0, nb, True, False)
        counters[T_G] += 1
        adam_step(g_opt, counters[T_G], settings.generator_adam)
        theta = G.params
        for p in range(theta.shape[0]):
            g_average[p] = decay * g_average[p] + keep * theta[p]
    return n_batches
