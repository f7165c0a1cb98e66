"""Training-time pieces: the autoencoder's sparsity penalty, as a layer, and the
input corruption of the denoising autoencoder and of the DBN's fine-tuning.

Sparsity
--------

The penalty (Ng, "Sparse autoencoder", CS294A notes, 2011) keeps the mean
activation of each code unit near a small target ``rho``. On a minibatch of ``n``
rows with code activations ``a`` (in (0, 1): sigmoid units),

    ``rho_hat_j = (1 / n) sum_i a_ij``,
    ``KL(rho || rho_hat_j) = rho log(rho / rho_hat_j)
    + (1 - rho) log((1 - rho) / (1 - rho_hat_j))``,
    ``penalty = weight * scale * sum_j KL(rho || rho_hat_j)``,

and its gradient with respect to each activation is

    ``d penalty / d a_ij = weight * scale / n * (-rho / rho_hat_j
    + (1 - rho) / (1 - rho_hat_j))``.

``scale`` lets the owner put the penalty on the scale of its loss (the
reconstruction losses of :mod:`sknets.nn.losses` are means over the elements, so the
autoencoder passes ``1 / n_features``: Ng's objective divided by ``n_features``).
``rho_hat`` is clipped to [1e-7, 1 - 1e-7] so the penalty stays finite.

The layer is the identity in the forward pass; in training mode it records the
penalty of the batch (``penalty``) and its backward pass adds the penalty's
gradient to the incoming one. In inference mode ``penalty`` is None.

Corruption (Vincent et al., 2008)
---------------------------------
:func:`make_corruption` returns the ``input_transform(xb, idx)`` of
:class:`sknets.nn._estimator.SupervisedModel`: each minibatch is corrupted afresh
while its targets stay clean. ``"masking"`` sets each entry, independently with
probability ``level``, to ``zero`` (the network-space value of X = 0);
``"gaussian"`` adds ``N(0, level ** 2)`` noise in the units of X, that is
``level / scale`` in the network's units.
"""

import numpy as np

from sknets.nn import Layer

__all__ = ["KLSparsity", "make_corruption", "with_sparsity_penalties"]

_CLIP = 1e-7


class KLSparsity(Layer):
    """Identity layer that adds ``weight * scale * sum_j KL(target || mean_j)``.

    Parameters
    ----------
    target : float in (0, 1)
        The target mean activation ``rho``.
    weight : float >= 0
        Strength ``beta`` of the penalty.
    scale : float, default=1.0
        Factor applied to the penalty and its gradient.
    """

    def __init__(self, target, weight, scale=1.0):
        super().__init__()
        if not 0.0 < target < 1.0:
            raise ValueError(f"sparsity target must be in (0, 1), got {target}")
        self.target = float(target)
        self.weight = float(weight)
        self.scale = float(scale)
        self.penalty = None

    def forward(self, x, training=False):
        if not training or self.weight == 0.0:
            self.penalty = None
            self._rho_hat = None
            return x
        rho = self.target
        rho_hat = np.clip(x.mean(axis=0, dtype=np.float64), _CLIP, 1.0 - _CLIP)
        kl = (rho * np.log(rho / rho_hat)
              + (1.0 - rho) * np.log((1.0 - rho) / (1.0 - rho_hat)))
        self.penalty = self.weight * self.scale * float(kl.sum())
        self._rho_hat = rho_hat
        self._n = x.shape[0]
        return x

    def backward(self, grad_out):
        if self._rho_hat is None:
            return grad_out
        rho, rho_hat = self.target, self._rho_hat
        dkl = (-rho / rho_hat + (1.0 - rho) / (1.0 - rho_hat)) \
            * (self.weight * self.scale / self._n)
        return grad_out + dkl.astype(grad_out.dtype)

    def __repr__(self):
        return f"KLSparsity(target={self.target}, weight={self.weight})"


def with_sparsity_penalties(loss_fn, net):
    """``loss_fn`` plus the penalties the network's :class:`KLSparsity` layers
    recorded in the training forward pass (the gradient with respect to the output
    is ``loss_fn``'s: the layers add theirs in the backward pass)."""
    sparsity = [layer for layer in net.layers if isinstance(layer, KLSparsity)]

    def loss(output, target, sample_weight):
        value, grad = loss_fn(output, target, sample_weight)
        for layer in sparsity:
            if layer.penalty is not None:   # set by the training forward pass
                value += layer.penalty
        return value, grad

    return loss


def make_corruption(noise, level, *, zero, scale, rng, dtype):
    """The corruption ``corrupt(xb, idx) -> corrupted copy of xb`` (see above).

    Parameters
    ----------
    noise : {"masking", "gaussian"}
    level : float
        Masked fraction, or noise standard deviation in the units of X.
    zero : ndarray of shape (n_features,)
        Network-space value a masked entry takes.
    scale : float
        Overall scale X is divided by before the network sees it.
    rng : numpy.random.Generator
    dtype : numpy dtype
        Precision of the network's inputs.
    """
    if noise == "masking":
        def corrupt(xb, idx):
            keep = rng.random(xb.shape, dtype=dtype) >= level
            return np.where(keep, xb, zero)
    elif noise == "gaussian":
        std = dtype(level / scale)

        def corrupt(xb, idx):
            return xb + std * rng.standard_normal(xb.shape, dtype=dtype)
    else:
        raise ValueError(f"unknown noise {noise!r}")
    return corrupt
