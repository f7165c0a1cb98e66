"""Plain-numpy references of the image layers of ``sknets.nn`` (loops written from the
definitions, no Numba, no shared code with the package).

Shapes are channels-first: images (N, C, H, W); Conv2D weights (F, C, K, K);
ConvTranspose2D weights (C, F, K, K).
"""

import numpy as np


def conv2d(x, W, b, stride=1, pad=0):
    """y[n, f, p, q] = b[f] + sum_{c,i,j} W[f, c, i, j] x[n, c, p*s + i - pad,
    q*s + j - pad]."""
    n, c, h, w = x.shape
    f, _, k, _ = W.shape
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    for p in range(oh):
        for q in range(ow):
            patch = xp[:, :, p * stride:p * stride + k, q * stride:q * stride + k]
            y[:, :, p, q] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


def conv_transpose2d(x, W, b, stride=1, pad=0, output_padding=0):
    """Scatter form: every input pixel adds x[n, c, i, j] * W[c, :, :, :] to the output
    window at (i*s - pad, j*s - pad); output (H-1)*s - 2*pad + K + output_padding."""
    n, c, h, w = x.shape
    _, f, k, _ = W.shape
    oh = (h - 1) * stride - 2 * pad + k + output_padding
    ow = (w - 1) * stride - 2 * pad + k + output_padding
    y = np.zeros((n, f, oh, ow), dtype=x.dtype)
    for nn in range(n):
        for ci in range(c):
            for i in range(h):
                for j in range(w):
                    for a in range(k):
                        for bb in range(k):
                            r, s = i * stride - pad + a, j * stride - pad + bb
                            if 0 <= r < oh and 0 <= s < ow:
                                y[nn, :, r, s] += x[nn, ci, i, j] * W[ci, :, a, bb]
    return y + b[None, :, None, None]


def batchnorm_train(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm per channel (axis 1): (y, batch mean, biased
    variance)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * gamma.reshape(shape) + beta.reshape(shape), mean, var


def batchnorm_infer(x, gamma, beta, running_mean, running_var, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + eps)
    return y * gamma.reshape(shape) + beta.reshape(shape)


def residual_block(x, params, stride, training=True, running=None, eps=1e-5):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = x or
    bn_s(conv_s(x)) (1x1, stride) when ``params`` has the projection's four arrays.

    ``params``: [W1, b1, g1, be1, W2, b2, g2, be2(, Ws, bs, gs, bes)]; in inference mode
    ``running`` lists (mean, var) of each batch norm in the same order.
    """
    def bn(h, g, be, i):
        if training:
            return batchnorm_train(h, g, be, eps)[0]
        return batchnorm_infer(h, g, be, *running[i], eps)

    W1, b1, g1, be1, W2, b2, g2, be2 = params[:8]
    h = np.maximum(bn(conv2d(x, W1, b1, stride, 1), g1, be1, 0), 0)
    h = bn(conv2d(h, W2, b2, 1, 1), g2, be2, 1)
    if len(params) == 12:
        Ws, bs, gs, bes = params[8:]
        h = h + bn(conv2d(x, Ws, bs, stride, 0), gs, bes, 2)
    else:
        h = h + x
    return np.maximum(h, 0)


def global_avg_pool(x):
    n, c = x.shape[:2]
    y = np.empty((n, c), dtype=x.dtype)
    for i in range(n):
        for j in range(c):
            y[i, j] = x[i, j].sum() / x[i, j].size
    return y


def upsample_nearest(x, s):
    n, c, h, w = x.shape
    y = np.empty((n, c, h * s, w * s), dtype=x.dtype)
    for i in range(h * s):
        for j in range(w * s):
            y[:, :, i, j] = x[:, :, i // s, j // s]
    return y


def _source(i, ratio, n_in):
    """torch's area_pixel_compute_source_index (linear, align_corners=False) and the two
    taps with their weights."""
    src = max((i + 0.5) * ratio - 0.5, 0.0)
    i0 = int(np.floor(src))
    i1 = i0 + 1 if i0 < n_in - 1 else i0
    lam = src - i0
    return i0, i1, lam


def resize_bilinear(x, oh, ow, ratio_h, ratio_w):
    """Bilinear resize, align_corners=False, pixel by pixel."""
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow), dtype=np.float64)
    for i in range(oh):
        a0, a1, u = _source(i, ratio_h, h)
        for j in range(ow):
            b0, b1, v = _source(j, ratio_w, w)
            y[:, :, i, j] = ((1 - u) * ((1 - v) * x[:, :, a0, b0] + v * x[:, :, a0, b1])
                             + u * ((1 - v) * x[:, :, a1, b0] + v * x[:, :, a1, b1]))
    return y


def resize_matrix(n_in, n_out, ratio):
    """The (n_out, n_in) matrix of 1-D linear interpolation: resize_bilinear(x) equals
    A_h @ x @ A_w.T on each plane, and its adjoint is A_h.T @ g @ A_w."""
    A = np.zeros((n_out, n_in))
    for i in range(n_out):
        i0, i1, lam = _source(i, ratio, n_in)
        A[i, i0] += 1 - lam
        A[i, i1] += lam
    return A


def batchnorm_backward(x, g, gamma, eps=1e-5, training=True, running=None):
    """(dx, dgamma, dbeta) of batch norm per channel, from the published formulas
    (Ioffe & Szegedy, 2015) written with numpy reductions."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    else:
        mean, var = running
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    dbeta = g.sum(axis=axes)
    dgamma = (g * xhat).sum(axis=axes)
    scale = (gamma * inv_std).reshape(shape)
    if not training:
        return g * scale, dgamma, dbeta
    m = x.size // x.shape[1]
    dx = scale / m * (m * g - dbeta.reshape(shape) - xhat * dgamma.reshape(shape))
    return dx, dgamma, dbeta
