"""Numba kernels for convolution and pooling (channels-first, float32 or float64).

``im2col`` and ``col2im``, the kernels that move most memory, are parallel over the
batch axis (``prange`` over samples: each sample writes only its own slice, so no race);
the light ones (conv epilogue/prologue, pooling) are serial: with 2 threads they gain
little, and a parallel kernel costs several times more to compile. Every kernel keeps
the dtype of its inputs and writes into arrays the caller passes (work buffers reused
across steps). Plain-numpy references
of each kernel live in ``tests/test_nn.py``.

Convolution is im2col + one GEMM per batch: ``im2col`` lays the receptive fields of the
whole batch out as a (C*KH*KW, N*OH*OW) matrix, the layer multiplies it by the
(F, C*KH*KW) weight matrix with ``@`` (BLAS), ``conv_output`` adds the bias (and relu)
while turning the (F, N*OH*OW) product into (N, F, OH, OW); backward mirrors it
(``conv_grad_input``, two GEMMs, ``col2im`` scattering the input gradient back).
"""

from numba import njit, prange


@njit(cache=True)
def _valid_range(k_off, stride, pad, size, n_out):
    """Output positions q with 0 <= q*stride + k_off - pad < size: [lo, hi)."""
    lo = 0
    while lo < n_out and lo * stride + k_off - pad < 0:
        lo += 1
    hi = n_out
    while hi > lo and (hi - 1) * stride + k_off - pad >= size:
        hi -= 1
    return lo, hi


@njit(cache=True, parallel=True)
def im2col(x, kh, kw, stride, pad, oh, ow, cols):
    """cols[(c*kh + i)*kw + j, n*oh*ow + p*ow + q] = x[n, c, p*stride + i - pad,
    q*stride + j - pad] (zero outside the image).

    ``cols`` has shape (C*KH*KW, N*OH*OW): one GEMM ``W_mat @ cols`` then gives every
    output of the batch. The in-image range of q is computed once per row, so the inner
    copy has no branch.
    """
    n_samples, n_channels, h, w = x.shape
    m = oh * ow
    for n in prange(n_samples):
        for c in range(n_channels):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    q0, q1 = _valid_range(j, stride, pad, w, ow)
                    for p in range(oh):
                        y = p * stride + i - pad
                        base = n * m + p * ow
                        if y < 0 or y >= h:
                            for q in range(ow):
                                cols[row, base + q] = 0
                            continue
                        for q in range(q0):
                            cols[row, base + q] = 0
                        off = j - pad
                        for q in range(q0, q1):
                            cols[row, base + q] = x[n, c, y, q * stride + off]
                        for q in range(q1, ow):
                            cols[row, base + q] = 0


@njit(cache=True, parallel=True)
def col2im(dcols, kh, kw, stride, pad, oh, ow, dx):
    """Adjoint of ``im2col``: dx[n, c, y, x] = sum of the dcols entries that read it."""
    n_samples, n_channels, h, w = dx.shape
    m = oh * ow
    for n in prange(n_samples):
        dx[n] = 0
        for c in range(n_channels):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    q0, q1 = _valid_range(j, stride, pad, w, ow)
                    off = j - pad
                    for p in range(oh):
                        y = p * stride + i - pad
                        if y < 0 or y >= h:
                            continue
                        base = n * m + p * ow
                        for q in range(q0, q1):
                            dx[n, c, y, q * stride + off] += dcols[row, base + q]


@njit(cache=True)
def conv_output(out_fm, b, relu, out):
    """Conv epilogue: out[n, f, k] = act(out_fm[f, n*M + k] + b[f]), act = relu or
    identity; turns the GEMM's (F, N*M) layout into channels-first (N, F, M)."""
    n_samples, n_filters, m = out.shape
    for n in range(n_samples):
        for f in range(n_filters):
            bf = b[f]
            base = n * m
            if relu:
                for k in range(m):
                    v = out_fm[f, base + k] + bf
                    out[n, f, k] = v if v > 0 else 0
            else:
                for k in range(m):
                    out[n, f, k] = out_fm[f, base + k] + bf


@njit(cache=True)
def conv_grad_input(grad_out, out, relu, g_fm, db):
    """Conv backward prologue: g_fm[f, n*M + k] = grad_out[n, f, k] * (out[n, f, k] > 0
    if relu), the (F, N*M) layout of the GEMMs, and db[f] = sum of g_fm[f]."""
    n_samples, n_filters, m = grad_out.shape
    for f in range(n_filters):
        s = 0.0
        for n in range(n_samples):
            base = n * m
            if relu:
                for k in range(m):
                    v = grad_out[n, f, k]
                    if out[n, f, k] <= 0:
                        v = v - v
                    g_fm[f, base + k] = v
                    s += v
            else:
                for k in range(m):
                    v = grad_out[n, f, k]
                    g_fm[f, base + k] = v
                    s += v
        db[f] = s


@njit(cache=True)
def maxpool_forward(x, k, stride, oh, ow, out, argmax):
    """out[n, c, p, q] = max of the k x k window at (p*stride, q*stride) (no padding);
    argmax keeps the flat index (y*W + x) of the winner inside the (H, W) plane (the
    first maximum in row-major order). The 2x2 stride-2 case is unrolled."""
    n_samples, n_channels, h, w = x.shape
    for n in range(n_samples):
        for c in range(n_channels):
            if k == 2 and stride == 2:
                for p in range(oh):
                    y0 = 2 * p
                    for q in range(ow):
                        x0 = 2 * q
                        best = x[n, c, y0, x0]
                        idx = y0 * w + x0
                        v = x[n, c, y0, x0 + 1]
                        if v > best:
                            best = v
                            idx = y0 * w + x0 + 1
                        v = x[n, c, y0 + 1, x0]
                        if v > best:
                            best = v
                            idx = (y0 + 1) * w + x0
                        v = x[n, c, y0 + 1, x0 + 1]
                        if v > best:
                            best = v
                            idx = (y0 + 1) * w + x0 + 1
                        out[n, c, p, q] = best
                        argmax[n, c, p, q] = idx
                continue
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


@njit(cache=True)
def maxpool_backward(grad_out, argmax, dx):
    """dx gets each output gradient at the position of its window's maximum."""
    n_samples, n_channels, oh, ow = grad_out.shape
    w = dx.shape[3]
    for n in range(n_samples):
        dx[n] = 0
        for c in range(n_channels):
            for p in range(oh):
                for q in range(ow):
                    idx = argmax[n, c, p, q]
                    dx[n, c, idx // w, idx % w] += grad_out[n, c, p, q]


@njit(cache=True)
def avgpool_forward(x, k, stride, oh, ow, out):
    """out[n, c, p, q] = mean of the k x k window at (p*stride, q*stride)."""
    n_samples, n_channels, h, w = x.shape
    inv = 1.0 / (k * k)
    for n in range(n_samples):
        for c in range(n_channels):
            for p in range(oh):
                for q in range(ow):
                    s = x[n, c, p * stride, q * stride] * 0
                    for i in range(k):
                        for j in range(k):
                            s += x[n, c, p * stride + i, q * stride + j]
                    out[n, c, p, q] = s * inv


@njit(cache=True)
def avgpool_backward(grad_out, k, stride, dx):
    """Each output gradient spread evenly (1/k^2) over its window."""
    n_samples, n_channels, oh, ow = grad_out.shape
    inv = 1.0 / (k * k)
    for n in range(n_samples):
        dx[n] = 0
        for c in range(n_channels):
            for p in range(oh):
                for q in range(ow):
                    g = grad_out[n, c, p, q] * inv
                    for i in range(k):
                        for j in range(k):
                            dx[n, c, p * stride + i, q * stride + j] += g
