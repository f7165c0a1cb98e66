"""Spectral normalisation of a network's weights (Miyato et al., 2018).

Every weight ``W`` of a built :class:`~sknets.nn.Sequential` (each parameter with
``ndim >= 2``: Dense ``(n_in, n_out)``, Conv2D ``(F, C, K, K)`` read as ``(F, C K K)``)
is replaced by ``W / sigma(W)`` in the network's parameters, ``sigma`` its largest
singular value estimated by power iteration from a persistent left vector ``u``
(one iteration per step is enough, since ``W`` changes little between steps). The
optimizer updates the raw parameters :attr:`SpectralNorm.raw`; the network computes
with the normalised ones. With ``sigma = u^T W v`` (u, v held fixed, as Miyato et al.
do) the gradient with respect to the raw weight is
``dL/dW = (G - <G, W_sn> u v^T) / sigma`` for ``G = dL/dW_sn``.

The two kernels (:func:`normalize_weights`, :func:`normalized_gradient`) are the one
implementation: :class:`SpectralNorm` calls them for any network, and fused training
kernels (:mod:`sknets.gan._kernels`) call them inside Numba.
"""

import numpy as np
from numba import njit

__all__ = ["SpectralNorm", "normalize_weights", "normalized_gradient"]

_TINY = 1e-12


@njit(cache=True)
def _right_vector(W, u, v):
    """``v = W^T u / |W^T u|``; returns ``|W^T u|``."""
    rows, cols = W.shape
    for j in range(cols):
        v[j] = 0
    for k in range(rows):
        uk = u[k]
        for j in range(cols):
            v[j] += W[k, j] * uk
    norm = 0.0
    for j in range(cols):
        norm += v[j] * v[j]
    norm = np.sqrt(norm)
    for j in range(cols):
        v[j] /= norm + _TINY
    return norm


@njit(cache=True)
def normalize_weights(raw, out, slices, u, sigma, n_power):
    """Write ``raw`` into ``out`` with every weight divided by its spectral norm.

    Parameters
    ----------
    raw, out : ndarray of shape (n_params,)
        Flat parameter vectors (raw and normalised); entries outside the weights
        (biases, ...) are copied.
    slices : ndarray of shape (n_weights, 4), int64
        ``start, rows, cols, u offset`` of each weight, read as a row-major
        (rows, cols) matrix at ``raw[start:start + rows * cols]``.
    u : ndarray
        The left vectors, ``u[offset:offset + rows]`` per weight; updated.
    sigma : ndarray of shape (n_weights,)
        Receives the estimated spectral norms.
    n_power : int
        Power iterations per weight.
    """
    for p in range(raw.shape[0]):
        out[p] = raw[p]
    for s in range(slices.shape[0]):
        start, rows, cols, uo = slices[s, 0], slices[s, 1], slices[s, 2], slices[s, 3]
        W = raw[start:start + rows * cols].reshape((rows, cols))
        uu = u[uo:uo + rows]
        v = np.empty(cols, dtype=raw.dtype)
        for _ in range(n_power):
            _right_vector(W, uu, v)
            # u = W v / |W v|
            norm = 0.0
            for k in range(rows):
                acc = 0.0
                for j in range(cols):
                    acc += W[k, j] * v[j]
                uu[k] = acc
                norm += acc * acc
            norm = np.sqrt(norm) + _TINY
            for k in range(rows):
                uu[k] /= norm
        # sigma = u^T W v with v = W^T u / |W^T u|, i.e. |W^T u|
        value = max(_right_vector(W, uu, v), _TINY)
        sigma[s] = value
        Wo = out[start:start + rows * cols]
        for p in range(rows * cols):
            Wo[p] = raw[start + p] / value


@njit(cache=True)
def normalized_gradient(normalized, grad, slices, u, sigma):
    """Turn the gradient with respect to the normalised weights into the gradient with
    respect to the raw ones, in place: ``(G - <G, W_sn> u v^T) / sigma`` per weight
    (entries outside the weights are left as they are)."""
    for s in range(slices.shape[0]):
        start, rows, cols, uo = slices[s, 0], slices[s, 1], slices[s, 2], slices[s, 3]
        Wsn = normalized[start:start + rows * cols].reshape((rows, cols))
        G = grad[start:start + rows * cols].reshape((rows, cols))
        uu = u[uo:uo + rows]
        v = np.empty(cols, dtype=normalized.dtype)
        _right_vector(Wsn, uu, v)   # W_sn^T u is parallel to W^T u
        inner = 0.0
        for k in range(rows):
            for j in range(cols):
                inner += G[k, j] * Wsn[k, j]
        inv = 1.0 / sigma[s]
        for k in range(rows):
            for j in range(cols):
                G[k, j] = (G[k, j] - inner * uu[k] * v[j]) * inv


class SpectralNorm:
    """Spectral normalisation of the weights of a built :class:`~sknets.nn.Sequential`.

    Parameters
    ----------
    net : sknets.nn.Sequential
        Built network; from now on its ``flat_params`` hold the normalised parameters.
    rng : numpy.random.Generator
        Draws the initial left vectors.

    Attributes
    ----------
    raw : ndarray
        The raw parameters (what an optimizer updates: use :meth:`parameters`).
    raw_grad : ndarray
        Gradient with respect to ``raw`` after :meth:`backward`.
    slices : ndarray of shape (n_weights, 4)
        See :func:`normalize_weights`.
    u : ndarray
        Left vectors of the power iterations (one slice per weight).
    sigma : ndarray of shape (n_weights,)
        Spectral norms of the last :meth:`normalize`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.nn import Dense, LeakyReLU, Sequential
    >>> from sknets.nn.spectral_norm import SpectralNorm
    >>> net = Sequential([Dense(8), LeakyReLU(0.2), Dense(1)]).build((3,), 0)
    >>> sn = SpectralNorm(net, np.random.default_rng(0))
    >>> for _ in range(50):
    ...     sn.normalize()
    >>> round(float(np.linalg.norm(net.layers[0].W, 2)), 4)
    1.0
    """

    def __init__(self, net, rng):
        self.net = net
        rows = []
        start = u_off = 0
        for layer in net.layers:
            for p in layer.params:
                if p.ndim >= 2:
                    rows.append((start, p.shape[0], p.size // p.shape[0], u_off))
                    u_off += p.shape[0]
                start += p.size
        self.slices = np.array(rows, dtype=np.int64).reshape(-1, 4)
        dtype = net.flat_params.dtype
        self.raw = net.flat_params.copy()
        self.raw_grad = np.zeros_like(self.raw)
        self.u = rng.standard_normal(u_off).astype(dtype)
        self.sigma = np.ones(len(rows), dtype=dtype)

    def parameters(self):
        """``[(raw, raw_grad)]``: the pair an optimizer updates."""
        return [(self.raw, self.raw_grad)]

    def normalize(self, n_power=1):
        """One power iteration per weight; write ``W / sigma(W)`` into the network."""
        normalize_weights(self.raw, self.net.flat_params, self.slices, self.u,
                          self.sigma, n_power)

    def backward(self):
        """``raw_grad`` from the network's gradients (after its backward pass)."""
        self.raw_grad[...] = self.net.flat_grads
        normalized_gradient(self.net.flat_params, self.raw_grad, self.slices, self.u,
                            self.sigma)

    def get_state(self):
        return {"raw": self.raw.copy(), "u": self.u.copy(), "sigma": self.sigma.copy()}

    def set_state(self, state):
        self.raw[...] = state["raw"]
        self.u[...] = state["u"]
        self.sigma[...] = state["sigma"]
