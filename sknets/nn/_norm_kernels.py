"""Numba kernels of batch normalization (``sknets.nn.BatchNorm``).

The input is viewed as (N, C, M): M = H*W for feature maps, 1 for (N, C) features. The
statistics and the parameter gradients are sums per channel, accumulated in float64
(also for float32 data) and in parallel over channels (each thread owns whole channels:
no race); ``fastmath`` is limited to re-association so that those sums vectorise.
Forward reads the input three times (sum, centred sum of squares, output) and
backward twice (the two sums, input gradient), against about seven array passes for
the numpy expression. Plain-numpy references live in ``tests/references/nn_layers.py``.

Dense features (M = 1) take row-major loops on one thread instead: a channel's values
are then C apart in memory, and the per-channel loops of a parallel sweep would read
one value per cache line (about 8x slower at 100 x 512).
"""

import numpy as np
from numba import njit, prange


def batchnorm_stats(x, mean, var):
    """mean[c], var[c] = the mean and biased variance of x[:, c, :] (float64
    outputs)."""
    n, n_channels, m = x.shape
    if m == 1:
        _stats_rows(np.ascontiguousarray(x).reshape(n, n_channels), mean, var)
    else:
        _stats_maps(x, mean, var)


def batchnorm_backward(x, grad_out, mean, inv_std, gamma, training, dx, dgamma, dbeta):
    """Gradients of ``y = gamma * (x - mean) * inv_std + beta`` (see
    :func:`_backward_maps`); ``dx`` must be C-contiguous."""
    n, n_channels, m = x.shape
    if m == 1:
        _backward_rows(np.ascontiguousarray(x).reshape(n, n_channels),
                       np.ascontiguousarray(grad_out).reshape(n, n_channels), mean,
                       inv_std, gamma, training, dx.reshape(n, n_channels), dgamma,
                       dbeta)
    else:
        _backward_maps(x, grad_out, mean, inv_std, gamma, training, dx, dgamma, dbeta)


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _stats_maps(x, mean, var):
    """mean[c], var[c] = the mean and biased variance of x[:, c, :] (float64 outputs);
    two passes (centred squares) for accuracy."""
    n, n_channels, m = x.shape
    count = n * m
    for c in prange(n_channels):
        s = 0.0
        for i in range(n):
            for k in range(m):
                s += x[i, c, k]
        mu = s / count
        q = 0.0
        for i in range(n):
            for k in range(m):
                d = x[i, c, k] - mu
                q += d * d
        mean[c] = mu
        var[c] = q / count


@njit(cache=True, parallel=True)
def batchnorm_apply(x, center, scale, shift, out):
    """out[i, c, k] = (x[i, c, k] - center[c]) * scale[c] + shift[c] (the three of x's
    dtype); centring first keeps float32 accurate when the mean is large."""
    n, n_channels, m = x.shape
    for i in prange(n):
        for c in range(n_channels):
            mu, a, b = center[c], scale[c], shift[c]
            for k in range(m):
                out[i, c, k] = (x[i, c, k] - mu) * a + b


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _backward_maps(x, grad_out, mean, inv_std, gamma, training, dx, dgamma, dbeta):
    """Gradients of ``y = gamma * (x - mean) * inv_std + beta``.

    dbeta[c] = sum g, dgamma[c] = sum g * xhat with xhat = (x - mean) * inv_std; with
    batch statistics (``training``) dx = gamma * inv_std * (g - dbeta / m - xhat *
    dgamma / m), m = N*M values per channel; with fixed statistics dx = gamma * inv_std
    * g. ``mean`` and ``inv_std`` are float64, the rest has x's dtype.
    """
    n, n_channels, m = x.shape
    count = n * m
    for c in prange(n_channels):
        mu = mean[c]
        sg = 0.0
        sgx = 0.0
        for i in range(n):
            for k in range(m):
                g = grad_out[i, c, k]
                sg += g
                sgx += g * (x[i, c, k] - mu)
        istd = inv_std[c]
        dbeta[c] = sg
        dgamma[c] = sgx * istd
        a = gamma[c] * istd
        if training:
            # dx = a * g + coef * (x - mu) + const
            coef = -a * istd * istd * sgx / count
            const = -a * sg / count
        else:
            coef = 0.0
            const = 0.0
        at = dx.dtype.type(a)
        ct = dx.dtype.type(coef)
        kt = dx.dtype.type(const)
        mt = dx.dtype.type(mu)
        for i in range(n):
            for k in range(m):
                dx[i, c, k] = at * grad_out[i, c, k] + ct * (x[i, c, k] - mt) + kt


@njit(cache=True, fastmath={"reassoc"})
def _stats_rows(x, mean, var):
    """batchnorm_stats of (N, C) features, row by row (float64 per-channel sums)."""
    n, n_channels = x.shape
    s = np.zeros(n_channels)
    for i in range(n):
        row = x[i]
        for c in range(n_channels):
            s[c] += row[c]
    for c in range(n_channels):
        mean[c] = s[c] / n
    q = np.zeros(n_channels)
    for i in range(n):
        row = x[i]
        for c in range(n_channels):
            d = row[c] - mean[c]
            q[c] += d * d
    for c in range(n_channels):
        var[c] = q[c] / n


@njit(cache=True, fastmath={"reassoc"})
def _backward_rows(x, grad_out, mean, inv_std, gamma, training, dx, dgamma, dbeta):
    """batchnorm_backward of (N, C) features, row by row (same formulas)."""
    n, n_channels = x.shape
    sg = np.zeros(n_channels)
    sgx = np.zeros(n_channels)
    for i in range(n):
        g, xi = grad_out[i], x[i]
        for c in range(n_channels):
            sg[c] += g[c]
            sgx[c] += g[c] * (xi[c] - mean[c])
    at = np.empty(n_channels, dtype=dx.dtype)
    ct = np.empty(n_channels, dtype=dx.dtype)
    kt = np.empty(n_channels, dtype=dx.dtype)
    mt = np.empty(n_channels, dtype=dx.dtype)
    for c in range(n_channels):
        istd = inv_std[c]
        dbeta[c] = sg[c]
        dgamma[c] = sgx[c] * istd
        a = gamma[c] * istd
        at[c] = a
        if training:
            ct[c] = -a * istd * istd * sgx[c] / n
            kt[c] = -a * sg[c] / n
        else:
            ct[c] = 0.0
            kt[c] = 0.0
        mt[c] = mean[c]
    for i in range(n):
        g, xi, out = grad_out[i], x[i], dx[i]
        for c in range(n_channels):
            out[c] = at[c] * g[c] + ct[c] * (xi[c] - mt[c]) + kt[c]
