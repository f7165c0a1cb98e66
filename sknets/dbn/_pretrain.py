"""Greedy layer-wise pre-training of a stack of RBMs, and its map onto Dense layers.

Greedy pre-training (Hinton, Osindero and Teh, 2006; Bengio et al., 2007)
--------------------------------------------------------------------------
A stack of hidden layers of sizes ``h_1, ..., h_L`` is pre-trained one layer at a
time, without labels. RBM ``l`` (a :class:`sknets.BernoulliRBM` with ``h_l`` binary
hidden units) is fitted on the features of the layer below:

- ``F_0 = X`` (the first RBM has Bernoulli visible units for data in [0, 1], or
  Gaussian visible units of unit variance for standardised data);
- ``F_l = P(h_l = 1 | F_{l-1}) = sigmoid(F_{l-1} @ W_l + b_l)``: the mean-field
  activations of RBM ``l`` (its ``transform``), which are in [0, 1], so every RBM above
  the first has Bernoulli visible units.

Each RBM is trained by its own estimator API (``fit``: PCD-k or CD-k, momentum,
weight decay), so the stack inherits its kernels and its divergence handling.

From an RBM to a Dense layer
----------------------------
``BernoulliRBM`` keeps ``components_`` of shape ``(n_hidden, n_visible)``; its
``transform`` is ``sigmoid(v @ components_.T + intercept_hidden_)``. A
:class:`sknets.nn.Dense` layer computes ``x @ W + b`` with ``W`` of shape
``(n_in, units)``, so

    ``W = components_.T``,  ``b = intercept_hidden_``

and ``Dense`` followed by ``Sigmoid`` is exactly the RBM's up-pass: a network built
from the stack computes ``F_L`` before any fine-tuning. The down-pass ``P(v | h) =
sigmoid(h @ components_ + intercept_visible_)`` (Bernoulli visible units; the mean
``h @ components_ + intercept_visible_`` for Gaussian ones) gives a decoder layer
``W = components_``, ``b = intercept_visible_`` ("unrolling" the stack into an
autoencoder, Hinton and Salakhutdinov, 2006).
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval

from sknets.rbm import BernoulliRBM

__all__ = ["PRETRAIN_PARAMETERS", "per_layer", "pretrain_stack", "encoder_weights",
           "decoder_weights", "load_dense", "check_unit_interval"]

PRETRAIN_PARAMETERS = {
    "pretrain": ["boolean"],
    "pretrain_n_iter": [Interval(Integral, 0, None, closed="left"), "array-like"],
    "pretrain_learning_rate": [Interval(Real, 0, None, closed="neither"),
                               "array-like"],
    "pretrain_batch_size": [Interval(Integral, 1, None, closed="left")],
    "n_gibbs_steps": [Interval(Integral, 1, None, closed="left")],
    "persistent": ["boolean"],
    "pretrain_momentum": [Interval(Real, 0, 1, closed="left")],
    "pretrain_weight_decay": [Interval(Real, 0, None, closed="left")],
}

_RBM_RANGE_WARNING = "BernoulliRBM with visible_unit='bernoulli' expects X in"


def per_layer(value, n_layers, name, kind):
    """``value`` for each of ``n_layers`` layers: one value for all, or one each."""
    values = np.ravel(value) if not np.isscalar(value) else np.full(1, value)
    if values.size == 1:
        values = np.repeat(values, n_layers)
    if values.size != n_layers:
        raise ValueError(f"{name} has {values.size} values for {n_layers} hidden "
                         f"layers; give one value or one per layer")
    out = [kind(v) for v in values]
    if kind is float and any(not np.isfinite(v) or v <= 0 for v in out):
        raise ValueError(f"{name} must be positive, got {value!r}")
    if kind is int and any(v < 0 for v in out):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def check_unit_interval(X):
    """True when every value of X lies in [0, 1]."""
    return bool(X.size == 0 or (X.min() >= 0 and X.max() <= 1))


def pretrain_stack(X, sizes, *, visible_unit, n_iter, learning_rate, batch_size,
                   n_gibbs_steps, persistent, momentum, weight_decay, rng, verbose=0,
                   owner="DBN"):
    """Fit one BernoulliRBM per hidden layer, each on the features of the one below.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training rows, float32 or float64 (kept).
    sizes : sequence of int
        Hidden units of each RBM.
    visible_unit : {"bernoulli", "gaussian"}
        Visible units of the first RBM (the others are Bernoulli).
    n_iter, learning_rate : sequence
        Epochs and learning rate of each RBM.
    batch_size, n_gibbs_steps, persistent, momentum, weight_decay
        Passed to every RBM.
    rng : numpy.random.Generator
        Shuffles the rows once (the RBMs take consecutive minibatches in row order)
        and seeds each RBM.
    verbose : int
        Passed to the RBMs (their per-epoch line).
    owner : str
        Name of the estimator, for the divergence warnings: an RBM that diverges
        keeps its last finite parameters and the warning names
        ``pretrain_learning_rate``.

    Returns
    -------
    rbms : list of BernoulliRBM
        The fitted RBMs, bottom first.
    """
    features = X[rng.permutation(X.shape[0])]
    rbms = []
    for depth, units in enumerate(sizes):
        rbm = BernoulliRBM(
            n_components=int(units), learning_rate=learning_rate[depth],
            batch_size=int(batch_size), n_iter=n_iter[depth], verbose=verbose,
            random_state=int(rng.integers(2**31 - 1)),
            n_gibbs_steps=n_gibbs_steps, persistent=persistent, momentum=momentum,
            weight_decay=weight_decay,
            visible_unit=visible_unit if depth == 0 else "bernoulli")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rbm.fit(features)
        for w in caught:
            message = str(w.message)
            if message.startswith(_RBM_RANGE_WARNING):
                continue   # the estimator that owns the stack reports the input range
            if issubclass(w.category, ConvergenceWarning):
                message = (f"{owner}: pre-training of hidden layer {depth + 1} "
                           f"diverged (its RBM kept the parameters of its last finite "
                           f"epoch, {rbm.n_iter_} of {rbm.n_iter}); lower "
                           f"pretrain_learning_rate")
            warnings.warn(message, w.category, stacklevel=3)
        rbms.append(rbm)
        if depth + 1 < len(sizes):
            features = rbm.transform(features)
    return rbms


def encoder_weights(rbm):
    """``(W, b)`` of the Dense layer that computes the RBM's ``transform`` (before
    the sigmoid): ``W = components_.T``, ``b = intercept_hidden_``."""
    return rbm.components_.T, rbm.intercept_hidden_


def decoder_weights(rbm):
    """``(W, b)`` of the Dense layer of the RBM's down-pass: ``W = components_``,
    ``b = intercept_visible_``."""
    return rbm.components_, rbm.intercept_visible_


def load_dense(layer, W, b):
    """Copy ``W`` and ``b`` into a built :class:`~sknets.nn.Dense` layer, in place
    (its parameters are views into the network's flat vector)."""
    if layer.params[0].shape != W.shape or layer.params[1].shape != b.shape:
        raise ValueError(f"weights of shape {W.shape} and {b.shape} do not fit "
                         f"{layer!r} of shape {layer.params[0].shape}")
    layer.params[0][...] = W
    layer.params[1][...] = b
