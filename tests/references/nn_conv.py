"""Plain-numpy references of the convolution and pooling kernels of
``sknets.nn._kernels`` (written from the definitions, no Numba, no shared code with
the package). Images are channels-first (N, C, H, W), Conv2D weights (F, C, K, K).
"""

import numpy as np

from tests.references.nn_layers import conv2d  # noqa: F401  (the forward reference)


def _pad(x, pad):
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=np.float64)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    return xp


def conv2d_backward(x, W, g, stride=1, pad=0):
    """Gradients (dW, db, dx) of ``conv2d(x, W, b, stride, pad)`` for the output
    gradient g: dW[f, c, i, j] = sum g[n, f, p, q] x[n, c, p*s + i - pad,
    q*s + j - pad], db[f] = sum g[:, f], dx the scatter-add of g[n, f, p, q] W[f]
    over each window."""
    n, c, h, w = x.shape
    f, _, k, _ = W.shape
    oh, ow = g.shape[2], g.shape[3]
    xp = _pad(x, pad)
    g = g.astype(np.float64)
    W = W.astype(np.float64)
    dW = np.zeros(W.shape)
    dxp = np.zeros(xp.shape)
    for p in range(oh):
        for q in range(ow):
            ys, xs = p * stride, q * stride
            patch = xp[:, :, ys:ys + k, xs:xs + k]                     # (N, C, K, K)
            dW += np.tensordot(g[:, :, p, q], patch, axes=([0], [0]))   # (F, C, K, K)
            dxp[:, :, ys:ys + k, xs:xs + k] += np.tensordot(g[:, :, p, q], W,
                                                            axes=([1], [0]))
    return dW, g.sum(axis=(0, 2, 3)), dxp[:, :, pad:pad + h, pad:pad + w]


def im2col(x, k, stride, pad):
    """cols[(c*K + i)*K + j, n*OH*OW + p*OW + q] = x[n, c, p*s + i - pad, q*s + j - pad]
    (zero outside the image)."""
    n, c, h, w = x.shape
    xp = _pad(x, pad)
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    cols = np.zeros((c * k * k, n * oh * ow))
    for ci in range(c):
        for i in range(k):
            for j in range(k):
                patch = xp[:, ci, i:i + stride * oh:stride, j:j + stride * ow:stride]
                cols[(ci * k + i) * k + j] = patch.reshape(-1)
    return cols


def col2im(dcols, x_shape, k, stride, pad):
    """Adjoint of :func:`im2col`: each entry of dcols added to the pixel it read."""
    n, c, h, w = x_shape
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for ci in range(c):
        for i in range(k):
            for j in range(k):
                dxp[:, ci, i:i + stride * oh:stride, j:j + stride * ow:stride] += \
                    dcols[(ci * k + i) * k + j].reshape(n, oh, ow)
    return dxp[:, :, pad:pad + h, pad:pad + w]


def shifted_gemm(coef, src, offs, n_pos):
    """out[r, u] = sum_t coef[r, t] * src[offs[t] + u], u < n_pos."""
    S = np.stack([src[o:o + n_pos] for o in offs]).astype(np.float64)  # (T, n_pos)
    return coef.astype(np.float64) @ S


def shifted_gemm_t(g, g0, src, offs, n_pos):
    """out[r, t] = sum_u g[r, g0 + u] * src[offs[t] + u], u < n_pos."""
    S = np.stack([src[o:o + n_pos] for o in offs]).astype(np.float64)
    return g[:, g0:g0 + n_pos].astype(np.float64) @ S.T


def maxpool(x, k, stride):
    """(out, dx_of) : the window maxima and a function giving the input gradient of an
    output gradient (each to the first maximum of its window, row-major)."""
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    where = np.empty((n, c, oh, ow, 2), dtype=np.int64)
    for a in range(n):
        for b in range(c):
            for p in range(oh):
                for q in range(ow):
                    win = x[a, b, p * stride:p * stride + k, q * stride:q * stride + k]
                    i, j = np.unravel_index(np.argmax(win), win.shape)
                    out[a, b, p, q] = win[i, j]
                    where[a, b, p, q] = p * stride + i, q * stride + j

    def dx_of(g):
        dx = np.zeros(x.shape)
        for a in range(n):
            for b in range(c):
                for p in range(oh):
                    for q in range(ow):
                        i, j = where[a, b, p, q]
                        dx[a, b, i, j] += g[a, b, p, q]
        return dx

    return out, dx_of


def avgpool(x, k, stride):
    """Window means."""
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.empty((n, c, oh, ow))
    for p in range(oh):
        for q in range(ow):
            out[:, :, p, q] = x[:, :, p * stride:p * stride + k,
                                q * stride:q * stride + k].mean(axis=(2, 3))
    return out


def avgpool_backward(g, x_shape, k, stride):
    """Each output gradient spread evenly over its window."""
    dx = np.zeros(x_shape)
    oh, ow = g.shape[2], g.shape[3]
    for p in range(oh):
        for q in range(ow):
            dx[:, :, p * stride:p * stride + k, q * stride:q * stride + k] += \
                g[:, :, p:p + 1, q:q + 1] / (k * k)
    return dx
