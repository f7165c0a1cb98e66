"""Plain-numpy references for sknets.dbn: the RBM passes a pre-trained
network must reproduce, the sparsity penalty, and the training objectives (for finite
differences)."""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rbm_up(v, components, intercept_hidden):
    """P(h = 1 | v) of an RBM (BernoulliRBM.transform)."""
    return sigmoid(v @ components.T + intercept_hidden)


def rbm_down_mean(h, components, intercept_visible, gaussian=False):
    """E[v | h]: sigmoid for Bernoulli visible units, linear for Gaussian ones."""
    a = h @ components + intercept_visible
    return a if gaussian else sigmoid(a)


def stack_up(v, rbms):
    """The up-pass of an RBM stack: each RBM on the features of the one below."""
    for rbm in rbms:
        v = rbm_up(v, rbm.components_.astype(np.float64),
                   rbm.intercept_hidden_.astype(np.float64))
    return v


def kl_sparsity(a, rho, weight, scale):
    """``weight * scale * sum_j KL(rho || mean_i a_ij)`` and its gradient in ``a``."""
    n = a.shape[0]
    rho_hat = a.mean(axis=0)
    penalty = weight * scale * np.sum(rho * np.log(rho / rho_hat)
                                      + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    grad = np.tile(weight * scale / n * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)),
                   (n, 1))
    return penalty, grad


def dense_sigmoid_forward(x, weights):
    """Hidden (W, b) pairs with sigmoids, the last pair linear: the DBN's logits."""
    for W, b in weights[:-1]:
        x = sigmoid(x @ W + b)
    W, b = weights[-1]
    return x @ W + b


def softmax_cross_entropy(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()
