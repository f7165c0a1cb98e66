"""GAN losses written with logits (numerically stable), in plain numpy.

``l_r`` are the discriminator's logits on real rows, ``l_f`` on generated rows. Each
function returns the loss (a mean over the rows) and its gradient with respect to the
logits. The fused Numba step (:mod:`sknets.gan._kernels`) computes the same quantities
and is tested against these functions.
"""

import numpy as np

LOSSES = ("non-saturating", "minimax", "wasserstein")


def softplus(a):
    """``log(1 + exp(a))`` computed without overflow."""
    a = np.asarray(a)
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


def sigmoid(a):
    """Logistic function computed without overflow."""
    a = np.asarray(a)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def discriminator_loss(l_r, l_f, loss="non-saturating", label_smoothing=0.0):
    """Discriminator (critic) loss and its gradients with respect to the logits.

    For the two cross-entropy losses (``"non-saturating"``, ``"minimax"``: the
    discriminator's loss is the same) with one-sided smoothing target ``t = 1 - s``::

        L_D = mean(t softplus(-l_r) + (1 - t) softplus(l_r)) + mean(softplus(l_f))
        dL_D/dl_r = (sigmoid(l_r) - t) / n_r,   dL_D/dl_f = sigmoid(l_f) / n_f

    For ``"wasserstein"``: ``L_D = mean(l_f) - mean(l_r)`` (the Lipschitz constraint is
    applied to the critic's weights, not added to the loss).

    Returns
    -------
    loss : float
    grad_r : ndarray of the shape of ``l_r``
    grad_f : ndarray of the shape of ``l_f``
    """
    l_r = np.asarray(l_r)
    l_f = np.asarray(l_f)
    n_r, n_f = l_r.shape[0], l_f.shape[0]
    if loss == "wasserstein":
        value = np.mean(l_f) - np.mean(l_r)
        return value, np.full_like(l_r, -1.0 / n_r), np.full_like(l_f, 1.0 / n_f)
    t = 1.0 - label_smoothing
    value = (np.mean(t * softplus(-l_r) + (1 - t) * softplus(l_r))
             + np.mean(softplus(l_f)))
    return value, (sigmoid(l_r) - t) / n_r, sigmoid(l_f) / n_f


def generator_loss(l_f, loss="non-saturating"):
    """Generator loss and its gradient with respect to the logits of generated rows.

    - ``"non-saturating"``: ``L_G = mean(softplus(-l_f))`` (= -mean log D(G(z))),
      gradient ``(sigmoid(l_f) - 1) / n``.
    - ``"minimax"``: ``L_G = -mean(softplus(l_f))`` (= mean log(1 - D(G(z)))),
      gradient ``-sigmoid(l_f) / n``.
    - ``"wasserstein"``: ``L_G = -mean(l_f)``, gradient ``-1 / n``.
    """
    l_f = np.asarray(l_f)
    n = l_f.shape[0]
    if loss == "non-saturating":
        return np.mean(softplus(-l_f)), (sigmoid(l_f) - 1) / n
    if loss == "minimax":
        return -np.mean(softplus(l_f)), -sigmoid(l_f) / n
    if loss == "wasserstein":
        return -np.mean(l_f), np.full_like(l_f, -1.0 / n)
    raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
