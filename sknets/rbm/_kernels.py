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
