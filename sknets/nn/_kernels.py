"""Numba kernels for convolution and pooling (channels-first, float32 or float64).

Every kernel is parallel over the batch axis (``prange`` over samples: each sample
writes only its own slice, so no race), keeps the dtype of its inputs and writes into
arrays the caller passes (work buffers reused across steps). Plain-numpy references
of each kernel live in ``tests/test_nn.py``.

Convolution is im2col + batched GEMM: ``im2col`` lays each sample's receptive fields
out as a (C*KH*KW, OH*OW) matrix, the layer multiplies by the (F, C*KH*KW) weight matrix
with ``np.matmul`` (BLAS), and ``col2im`` scatters the input gradient back.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def im2col(x, kh, kw, stride, pad, oh, ow, cols):
    """cols[n, (c*kh + i)*kw + j, p*ow + q] = x[n, c, p*stride + i - pad, q*stride + j - pad]
    (zero outside the image)."""
    n_samples, n_channels, h, w = x.shape
    for n in prange(n_samples):
        for c in range(n_channels):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for p in range(oh):
                        y = p * stride + i - pad
                        base = p * ow
                        if y < 0 or y >= h:
                            for q in range(ow):
                                cols[n, row, base + q] = 0
                        else:
                            for q in range(ow):
                                xx = q * stride + j - pad
                                if xx >= 0 and xx < w:
                                    cols[n, row, base + q] = x[n, c, y, xx]
                                else:
                                    cols[n, row, base + q] = 0


@njit(cache=True, parallel=True)
def col2im(dcols, kh, kw, stride, pad, oh, ow, dx):
    """Adjoint of ``im2col``: dx[n, c, y, x] = sum of the dcols entries that read it."""
    n_samples, n_channels, h, w = dx.shape
    for n in prange(n_samples):
        dx[n] = 0
        for c in range(n_channels):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for p in range(oh):
                        y = p * stride + i - pad
                        if y < 0 or y >= h:
                            continue
                        base = p * ow
                        for q in range(ow):
                            xx = q * stride + j - pad
                            if xx >= 0 and xx < w:
                                dx[n, c, y, xx] += dcols[n, row, base + q]


@njit(cache=True, parallel=True)
def add_bias_relu(out, b, relu):
    """out[n, f, :] += b[f], then max(., 0) when ``relu`` (fused conv epilogue)."""
    n_samples, n_filters, m = out.shape
    for n in prange(n_samples):
        for f in range(n_filters):
            bf = b[f]
            if relu:
                for k in range(m):
                    v = out[n, f, k] + bf
                    out[n, f, k] = v if v > 0 else 0
            else:
                for k in range(m):
                    out[n, f, k] += bf


@njit(cache=True, parallel=True)
def maxpool_forward(x, k, stride, oh, ow, out, argmax):
    """out[n, c, p, q] = max of the k x k window at (p*stride, q*stride) (no padding);
    argmax keeps the flat index (y*W + x) of the winner inside the (H, W) plane."""
    n_samples, n_channels, h, w = x.shape
    for n in prange(n_samples):
        for c in range(n_channels):
            for p in range(oh):
                for q in range(ow):
                    y0 = p * stride
                    x0 = q * stride
                    best = x[n, c, y0, x0]
                    best_idx = y0 * w + x0
                    for i in range(k):
                        for j in range(k):
                            v = x[n, c, y0 + i, x0 + j]
                            if v > best:
                                best = v
                                best_idx = (y0 + i) * w + x0 + j
                    out[n, c, p, q] = best
                    argmax[n, c, p, q] = best_idx


@njit(cache=True, parallel=True)
def maxpool_backward(grad_out, argmax, dx):
    """dx gets each output gradient at the position of its window's maximum."""
    n_samples, n_channels, oh, ow = grad_out.shape
    w = dx.shape[3]
    for n in prange(n_samples):
        dx[n] = 0
        for c in range(n_channels):
            for p in range(oh):
                for q in range(ow):
                    idx = argmax[n, c, p, q]
                    dx[n, c, idx // w, idx % w] += grad_out[n, c, p, q]


@njit(cache=True, parallel=True)
def avgpool_forward(x, k, stride, oh, ow, out):
    """out[n, c, p, q] = mean of the k x k window at (p*stride, q*stride)."""
    n_samples, n_channels, h, w = x.shape
    inv = 1.0 / (k * k)
    for n in prange(n_samples):
        for c in range(n_channels):
            for p in range(oh):
                for q in range(ow):
                    s = x[n, c, p * stride, q * stride] * 0
                    for i in range(k):
                        for j in range(k):
                            s += x[n, c, p * stride + i, q * stride + j]
                    out[n, c, p, q] = s * inv


@njit(cache=True, parallel=True)
def avgpool_backward(grad_out, k, stride, dx):
    """Each output gradient spread evenly (1/k^2) over its window."""
    n_samples, n_channels, oh, ow = grad_out.shape
    inv = 1.0 / (k * k)
    for n in prange(n_samples):
        dx[n] = 0
        for c in range(n_channels):
            for p in range(oh):
                for q in range(ow):
                    g = grad_out[n, c, p, q] * inv
                    for i in range(k):
                        for j in range(k):
                            dx[n, c, p * stride + i, q * stride + j] += g
