"""Losses on logits: each returns ``(loss, dLoss/dLogits)``, both batch averages.

Both are written in numerically stable forms (log-sum-exp with the max subtracted;
softplus through ``logaddexp``), so large logits never give inf or NaN.
"""

import numpy as np

__all__ = [
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "squared_error",
    "SoftmaxCrossEntropy",
    "SigmoidCrossEntropy",
]


def log_softmax(logits):
    """log softmax along the last axis, stable (max subtracted before exp)."""
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(logits):
    """softmax along the last axis, stable."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_cross_entropy(logits, target, sample_weight=None):
    """Mean cross-entropy of softmax(logits) against ``target``.

    Parameters
    ----------
    logits : ndarray of shape (n, k)
    target : ndarray of shape (n,) of int class indices, or (n, k) of probabilities
        (one-hot or soft labels).
    sample_weight : ndarray of shape (n,), optional
        Per-sample weights; the loss is ``sum(w_i * l_i) / n``.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n, k)
        ``(softmax(logits) - onehot) * w / n``, the gradient w.r.t. the logits.
    """
    n = logits.shape[0]
    logp = log_softmax(logits)
    grad = np.exp(logp)
    if target.ndim == 1:
        rows = np.arange(n)
        per_sample = -logp[rows, target]
        grad[rows, target] -= 1
    else:
        per_sample = -(target * logp).sum(axis=1)
        grad -= target
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
        grad *= sample_weight[:, None]
    grad /= n
    return float(per_sample.sum() / n), grad.astype(logits.dtype, copy=False)


def sigmoid_cross_entropy(logits, target, sample_weight=None):
    """Mean binary cross-entropy of sigmoid(logits) against ``target`` in [0, 1].

    ``loss = mean(t * softplus(-l) + (1 - t) * softplus(l))`` with
    softplus(a) = log(1+e^a) computed stably; the gradient is ``(sigmoid(l) - t) / n``
    where n is the number of elements (the mean is over every element).

    Parameters
    ----------
    logits : ndarray of any shape
    target : ndarray broadcastable to ``logits`` (or a scalar)
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    loss : float
    grad : ndarray of the shape of ``logits``
    """
    t = np.broadcast_to(np.asarray(target, dtype=logits.dtype), logits.shape)
    # t*softplus(-l) + (1-t)*softplus(l) = softplus(l) - t*l
    per_elem = np.logaddexp(0, logits) - t * logits
    e = np.exp(-np.abs(logits))
    sig = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
    grad = sig - t
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=logits.dtype).reshape(
            (-1,) + (1,) * (logits.ndim - 1))
        per_elem = per_elem * w
        grad = grad * w
    size = logits.size
    grad = grad / size
    return float(per_elem.sum() / size), grad.astype(logits.dtype, copy=False)


def squared_error(output, target, sample_weight=None):
    """Half the mean squared error, ``mean((output - target) ** 2) / 2``.

    The mean is over every element, as scikit-learn's MLPRegressor's loss; with
    ``sample_weight`` each row's terms are weighted.

    Parameters
    ----------
    output : ndarray of any shape
    target : ndarray of the shape of ``output``
    sample_weight : ndarray of shape (n,), optional

    Returns
    -------
    loss : float
    grad : ndarray of the shape of ``output``
        ``(output - target) * w / size``.
    """
    diff = output - np.asarray(target, dtype=output.dtype)
    sq = diff * diff
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=output.dtype).reshape(
            (-1,) + (1,) * (output.ndim - 1))
        sq = sq * w
        diff = diff * w
    size = output.size
    return float(sq.sum() / (2 * size)), (diff / output.dtype.type(size)).astype(
        output.dtype, copy=False)


class SoftmaxCrossEntropy:
    """Callable form of :func:`softmax_cross_entropy`: ``loss, grad = L(logits, y)``."""

    def __call__(self, logits, target, sample_weight=None):
        return softmax_cross_entropy(logits, target, sample_weight)


class SigmoidCrossEntropy:
    """Callable form of :func:`sigmoid_cross_entropy`: ``loss, grad = L(logits, t)``."""

    def __call__(self, logits, target, sample_weight=None):
        return sigmoid_cross_entropy(logits, target, sample_weight)
