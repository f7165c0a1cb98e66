"""Numba kernels for convolution and pooling (channels-first, float32 or float64).

Every kernel keeps the dtype of its inputs (no float64 constant in a float32 sum) and
writes into arrays the caller passes; the layers keep those work arrays between steps.
Plain-numpy references of each kernel live in ``tests/references/nn_conv.py``.

Convolution is a matrix product ``out = coef @ S`` whose right factor S is never
built: row t of S, the t-th tap (c, i, j) of every receptive field, is a window of one
flat array shifted by ``offs[t]`` (:func:`shifted_gemm`, and :func:`shifted_gemm_t`
for the weight gradient ``g @ S^T``).

- The zero-padded input of a block of samples is split into s x s phase planes
  (s the stride), ``P[c, a, b'][Y, X] = xpad[c, Y*s + a, X*s + b']`` of size
  hph x wph = ceil((H + 2*pad) / s) x ceil((W + 2*pad) / s), laid out plane after
  plane: channel row (c, a, b') at ``((c*na + a)*na + b')*ld``, sample b at b*P
  (P = hph*wph), so output (b, p, q) sits at u = b*P + p*wph + q and its tap (c, i, j)
  at ``u + offs[t]``, offs[t] the row of phase (i % s, j % s) plus (i // s)*wph +
  j // s: S is the phase planes themselves (for stride 1, one phase: the padded input).
  Only the na = min(s, K) phases a side that some tap reads are stored. The positions
  with q >= OW (and the rows past OH) are computed and dropped.
- The input gradient of each phase is the full correlation of the output gradient
  (laid out the same way, zero at the dropped positions, after E0 = (Kq-1)*wph + Kq-1
  leading zeros, Kq = ceil(K / s)) with the phase's flipped sub-kernel
  ``W[f, c, s*i' + a, s*j' + b']``: the same product again, cropped back into dx.

The kernels are parallel over blocks of samples (``prange``; a block is a few
thousand output positions), each block in the work arrays of the thread that runs it
(``numba.get_thread_id``); the weight gradient is summed per block and the blocks'
sums are added in block order afterwards, so results do not depend on the number of
threads or on which thread ran which block. :func:`shifted_gemm` keeps a 4 x 4 tile
of (output rows x taps) weights in registers: each load of the input feeds 4 fused
multiply-adds and each store of the output 16, against 1 and 1 for a plain loop.
Taps are padded to a multiple of 4 with zero weights.

``im2col`` and ``col2im`` (the batch-wide layout, (C*KH*KW, N*OH*OW)) serve
``ConvTranspose2D``.
"""

import numba
import numpy as np
from numba import njit, prange

# contract: fused multiply-adds; reassoc: vectorised sums (the weight gradient). Not
# nnan/ninf: a NaN must reach the divergence checks.
_FM = {"contract", "reassoc"}
# output positions per chunk of shifted_gemm: four rows of a chunk and the four tap
# windows that feed them stay in the L1 cache across the taps
_CHUNK = 512


@njit(cache=True, fastmath=_FM)
def shifted_gemm(coef, src, offs, n_pos, out):
    """out[r, u] = sum_t coef[r, t] * src[offs[t] + u] for u < n_pos.

    ``coef`` is (R, T) with T a multiple of 4 (zero-padded taps), ``src`` flat, ``out``
    (R, >= n_pos). Positions are taken in chunks of ``_CHUNK``; per chunk, a tile of
    4 rows x 4 taps of weights is held in registers while the inner loop runs over the
    positions (vectorised); rows left over take 1 x 4 tiles.
    """
    n_rows, n_taps = coef.shape
    r4 = n_rows - n_rows % 4
    for u0 in range(0, n_pos, _CHUNK):
        m = min(_CHUNK, n_pos - u0)
        for r in range(0, r4, 4):
            o0 = out[r, u0:u0 + m]
            o1 = out[r + 1, u0:u0 + m]
            o2 = out[r + 2, u0:u0 + m]
            o3 = out[r + 3, u0:u0 + m]
            for u in range(m):
                o0[u] = 0
                o1[u] = 0
                o2[u] = 0
                o3[u] = 0
            for t in range(0, n_taps, 4):
                s0 = src[offs[t] + u0:offs[t] + u0 + m]
                s1 = src[offs[t + 1] + u0:offs[t + 1] + u0 + m]
                s2 = src[offs[t + 2] + u0:offs[t + 2] + u0 + m]
                s3 = src[offs[t + 3] + u0:offs[t + 3] + u0 + m]
                w00, w01, w02, w03 = (coef[r, t], coef[r, t + 1], coef[r, t + 2],
                                      coef[r, t + 3])
                w10, w11, w12, w13 = (coef[r + 1, t], coef[r + 1, t + 1],
                                      coef[r + 1, t + 2], coef[r + 1, t + 3])
                w20, w21, w22, w23 = (coef[r + 2, t], coef[r + 2, t + 1],
                                      coef[r + 2, t + 2], coef[r + 2, t + 3])
                w30, w31, w32, w33 = (coef[r + 3, t], coef[r + 3, t + 1],
                                      coef[r + 3, t + 2], coef[r + 3, t + 3])
                for u in range(m):
                    a, b, c, d = s0[u], s1[u], s2[u], s3[u]
                    o0[u] += w00 * a + w01 * b + w02 * c + w03 * d
                    o1[u] += w10 * a + w11 * b + w12 * c + w13 * d
                    o2[u] += w20 * a + w21 * b + w22 * c + w23 * d
                    o3[u] += w30 * a + w31 * b + w32 * c + w33 * d
        for r in range(r4, n_rows):
            o0 = out[r, u0:u0 + m]
            for u in range(m):
                o0[u] = 0
            for t in range(0, n_taps, 4):
                s0 = src[offs[t] + u0:offs[t] + u0 + m]
                s1 = src[offs[t + 1] + u0:offs[t + 1] + u0 + m]
                s2 = src[offs[t + 2] + u0:offs[t + 2] + u0 + m]
                s3 = src[offs[t + 3] + u0:offs[t + 3] + u0 + m]
                w00, w01, w02, w03 = (coef[r, t], coef[r, t + 1], coef[r, t + 2],
                                      coef[r, t + 3])
                for u in range(m):
                    o0[u] += w00 * s0[u] + w01 * s1[u] + w02 * s2[u] + w03 * s3[u]


@njit(cache=True, fastmath=_FM)
def shifted_gemm_t(g, g0, src, offs, n_pos, out):
    """out[r, t] += sum_u g[r, g0 + u] * src[offs[t] + u] over u < n_pos.

    The weight gradient ``g @ S^T`` of :func:`shifted_gemm`; ``out`` is (R, T), T a
    multiple of 4; 16 sums (4 rows x 4 taps) run at once in registers, rows left over
    take 4 sums.
    """
    n_rows, n_taps = out.shape
    r4 = n_rows - n_rows % 4
    z = out.dtype.type(0)
    for u0 in range(0, n_pos, 4 * _CHUNK):
        m = min(4 * _CHUNK, n_pos - u0)
        for r in range(0, r4, 4):
            g_0 = g[r, g0 + u0:g0 + u0 + m]
            g_1 = g[r + 1, g0 + u0:g0 + u0 + m]
            g_2 = g[r + 2, g0 + u0:g0 + u0 + m]
            g_3 = g[r + 3, g0 + u0:g0 + u0 + m]
            for t in range(0, n_taps, 4):
                s0 = src[offs[t] + u0:offs[t] + u0 + m]
                s1 = src[offs[t + 1] + u0:offs[t + 1] + u0 + m]
                s2 = src[offs[t + 2] + u0:offs[t + 2] + u0 + m]
                s3 = src[offs[t + 3] + u0:offs[t + 3] + u0 + m]
                a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = z
                a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = z
                for u in range(m):
                    a, b, c, d = s0[u], s1[u], s2[u], s3[u]
                    h0, h1, h2, h3 = g_0[u], g_1[u], g_2[u], g_3[u]
                    a00 += h0 * a
                    a01 += h0 * b
                    a02 += h0 * c
                    a03 += h0 * d
                    a10 += h1 * a
                    a11 += h1 * b
                    a12 += h1 * c
                    a13 += h1 * d
                    a20 += h2 * a
                    a21 += h2 * b
                    a22 += h2 * c
                    a23 += h2 * d
                    a30 += h3 * a
                    a31 += h3 * b
                    a32 += h3 * c
                    a33 += h3 * d
                out[r, t] += a00
                out[r, t + 1] += a01
                out[r, t + 2] += a02
                out[r, t + 3] += a03
                out[r + 1, t] += a10
                out[r + 1, t + 1] += a11
                out[r + 1, t + 2] += a12
                out[r + 1, t + 3] += a13
                out[r + 2, t] += a20
                out[r + 2, t + 1] += a21
                out[r + 2, t + 2] += a22
                out[r + 2, t + 3] += a23
                out[r + 3, t] += a30
                out[r + 3, t + 1] += a31
                out[r + 3, t + 2] += a32
                out[r + 3, t + 3] += a33
        for r in range(r4, n_rows):
            g_0 = g[r, g0 + u0:g0 + u0 + m]
            for t in range(0, n_taps, 4):
                s0 = src[offs[t] + u0:offs[t] + u0 + m]
                s1 = src[offs[t + 1] + u0:offs[t + 1] + u0 + m]
                s2 = src[offs[t + 2] + u0:offs[t + 2] + u0 + m]
                s3 = src[offs[t + 3] + u0:offs[t + 3] + u0 + m]
                a00 = a01 = a02 = a03 = z
                for u in range(m):
                    h0 = g_0[u]
                    a00 += h0 * s0[u]
                    a01 += h0 * s1[u]
                    a02 += h0 * s2[u]
                    a03 += h0 * s3[u]
                out[r, t] += a00
                out[r, t + 1] += a01
                out[r, t + 2] += a02
                out[r, t + 3] += a03


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
def conv_offsets(n_channels, k, stride, ld, wph, n_taps4):
    """Tap offsets of :func:`conv_forward`'s phase layout: tap (c, i, j), t = (c*K +
    i)*K + j, reads phase plane (c, i % s, j % s) shifted by i // s rows and j // s
    columns, ``((c*na + i%s)*na + j%s)*ld + (i//s)*wph + j//s`` (na = min(s, K)
    phases a side: a kernel smaller than the stride reads only na); the padding taps
    (t >= C*K*K) read offset 0 with a zero weight.

    The input-gradient product reads the output gradient with stride 1 offsets
    (channels F, row length ``ldg``, K = ceil(K/s) taps a side)."""
    offs = np.zeros(n_taps4, dtype=np.int64)
    s = stride
    na = min(s, k)
    for c in range(n_channels):
        for i in range(k):
            for j in range(k):
                t = (c * k + i) * k + j
                offs[t] = ((c * na + i % s) * na + j % s) * ld + (i // s) * wph + j // s
    return offs


@njit(cache=True)
def _phase_geometry(h, w, k, stride, pad):
    """(hph, wph, kq): phase plane height and width (ceil of the padded size over the
    stride) and taps a side of a phase, ceil(K / s)."""
    s = stride
    return (h + 2 * pad + s - 1) // s, (w + 2 * pad + s - 1) // s, (k + s - 1) // s


@njit(cache=True)
def _pack_phases(x, n0, nb, stride, na, pad, ld, xb):
    """xb[((c*na + a)*na + b')*ld + b*P + Y*wph + X] = xpad[n0+b, c, Y*s + a, X*s + b']
    for the phases a, b' < na, xpad the zero-padded input, P = hph*wph (zero
    elsewhere)."""
    _, n_channels, h, w = x.shape
    s = stride
    hph, wph, _ = _phase_geometry(h, w, 1, s, pad)
    plane = hph * wph
    xb[:n_channels * na * na * ld] = 0
    for c in range(n_channels):
        for b in range(nb):
            for y in range(h):
                yy = y + pad
                src = x[n0 + b, c, y]
                if s == 1:
                    base = c * ld + b * plane + yy * wph + pad
                    row = xb[base:base + w]
                    for q in range(w):
                        row[q] = src[q]
                    continue
                if yy % s >= na:
                    continue
                for bb in range(na):
                    x0 = (bb - pad) % s
                    base = (((c * na + yy % s) * na + bb) * ld + b * plane
                            + (yy // s) * wph + (x0 + pad) // s)
                    m = 0
                    for q in range(x0, w, s):
                        xb[base + m] = src[q]
                        m += 1


@njit(cache=True)
def _crop_phases(d, n0, nb, stride, na, pad, wph, plane, dx):
    """dx[n0+b, c, y, x] = d[(c*na + (y+pad)%s)*na + (x+pad)%s, b*P + ((y+pad)//s)*wph
    + (x+pad)//s]: the inverse of :func:`_pack_phases`' scatter (zero at the pixels of
    the phases >= na, which no tap reads)."""
    _, n_channels, h, w = dx.shape
    s = stride
    for b in range(nb):
        for c in range(n_channels):
            for y in range(h):
                yy = y + pad
                dst = dx[n0 + b, c, y]
                if s == 1:
                    base = b * plane + yy * wph + pad
                    src = d[c, base:base + w]
                    for q in range(w):
                        dst[q] = src[q]
                    continue
                if yy % s >= na:
                    dst[:] = 0
                    continue
                if na < s:
                    dst[:] = 0
                for bb in range(na):
                    x0 = (bb - pad) % s
                    src = d[(c * na + yy % s) * na + bb]
                    base = b * plane + (yy // s) * wph + (x0 + pad) // s
                    m = 0
                    for q in range(x0, w, s):
                        dst[q] = src[base + m]
                        m += 1


@njit(cache=True, fastmath=_FM)
def _conv_store(o, bias, relu, n0, nb, plane, wp, out):
    """out[n0+b, f, p, q] = act(o[f, b*plane + p*wp + q] + bias[f]), act relu or
    none."""
    _, n_filters, oh, ow = out.shape
    zero = out.dtype.type(0)
    for b in range(nb):
        for f in range(n_filters):
            bf = bias[f]
            for p in range(oh):
                src = o[f, b * plane + p * wp:b * plane + p * wp + ow]
                dst = out[n0 + b, f, p]
                if relu:
                    for q in range(ow):
                        v = src[q] + bf
                        dst[q] = v if v > 0 else zero
                else:
                    for q in range(ow):
                        dst[q] = src[q] + bf


@njit(cache=True, fastmath=_FM)
def _conv_grad_load(grad, out, relu, n0, nb, plane, wp, e0, g, db):
    """g[f, e0 + b*plane + p*wp + q] = grad[n0+b, f, p, q] (times out > 0 for relu),
    zero elsewhere; db[f] = its sum over the block."""
    _, n_filters, oh, ow = grad.shape
    zero = g.dtype.type(0)
    g[:, :] = 0
    for f in range(n_filters):
        s = zero
        for b in range(nb):
            for p in range(oh):
                dst = g[f, e0 + b * plane + p * wp:e0 + b * plane + p * wp + ow]
                src = grad[n0 + b, f, p]
                if relu:
                    act = out[n0 + b, f, p]
                    for q in range(ow):
                        v = src[q] if act[q] > 0 else zero
                        dst[q] = v
                        s += v
                else:
                    for q in range(ow):
                        v = src[q]
                        dst[q] = v
                        s += v
        db[f] = s


@njit(cache=True)
def _conv_geometry(x, k, stride, pad, oh, nb):
    """(plane, wph, e0, n_pos) of a block of nb samples: the positions of sample b
    start at b*plane, rows at multiples of wph; e0 leading zeros before the output
    gradient; n_pos positions to compute."""
    hph, wph, kq = _phase_geometry(x.shape[2], x.shape[3], k, stride, pad)
    plane = hph * wph
    return plane, wph, (kq - 1) * wph + kq - 1, (nb - 1) * plane + oh * wph


@njit(cache=True)
def _conv_forward_block(x, coef, offs, bias, relu, k, stride, pad, n0, nb, ld, xw, ow_,
                        out):
    oh = out.shape[2]
    plane, wph, _, n_pos = _conv_geometry(x, k, stride, pad, oh, nb)
    _pack_phases(x, n0, nb, stride, min(stride, k), pad, ld, xw)
    o = ow_.reshape(coef.shape[0], ow_.shape[0] // coef.shape[0])
    shifted_gemm(coef, xw, offs, n_pos, o)
    _conv_store(o, bias, relu, n0, nb, plane, wph, out)


@njit(cache=True)
def _conv_coef(W, coef):
    """coef[f, (c*K + i)*K + j] = W[f, c, i, j], zero in the padding taps."""
    n_filters, n_channels, k, _ = W.shape
    coef[:, :] = 0
    for f in range(n_filters):
        for c in range(n_channels):
            for i in range(k):
                for j in range(k):
                    coef[f, (c * k + i) * k + j] = W[f, c, i, j]


@njit(cache=True)
def _conv_coef_t(W, stride, coef_t):
    """Weights of the input-gradient product, a stride-1 correlation per phase (a, b)
    with the flipped sub-kernel: coef_t[(c*na + a)*na + b, (f*Kq + ii)*Kq + jj] =
    W[f, c, s*(Kq-1-ii) + a, s*(Kq-1-jj) + b] (zero past the kernel), Kq = ceil(K/s)."""
    n_filters, n_channels, k, _ = W.shape
    s = stride
    kq = (k + s - 1) // s
    na = min(s, k)
    coef_t[:, :] = 0
    for f in range(n_filters):
        for c in range(n_channels):
            for a in range(na):
                for bb in range(na):
                    for ii in range(kq):
                        for jj in range(kq):
                            i = s * (kq - 1 - ii) + a
                            j = s * (kq - 1 - jj) + bb
                            if i < k and j < k:
                                coef_t[(c * na + a) * na + bb,
                                       (f * kq + ii) * kq + jj] = W[f, c, i, j]


@njit(cache=True, parallel=True)
def conv_forward(x, W, bias, relu, stride, pad, per_block, ld, offs, coef, xwork, owork,
                 out):
    """out = act(conv(x, W) + bias), act relu or none, in blocks of ``per_block``
    samples.

    ``coef`` (F, T4) receives the weights as :func:`shifted_gemm` reads them; ``ld``
    and ``offs`` describe the block layout (:func:`conv_offsets`); ``xwork`` (threads,
    C*na*na*ld) and ``owork`` (threads, F * per_block * phase-plane positions) are
    per-thread work arrays.
    """
    k = W.shape[2]
    _conv_coef(W, coef)
    n = x.shape[0]
    n_blocks = (n + per_block - 1) // per_block
    for blk in prange(n_blocks):
        tid = numba.get_thread_id()
        n0 = blk * per_block
        _conv_forward_block(x, coef, offs, bias, relu, k, stride, pad, n0,
                            min(per_block, n - n0), ld, xwork[tid], owork[tid], out)


@njit(cache=True)
def _conv_backward_block(x, grad, out, relu, k, stride, pad, n0, nb, ld, ldg, offs,
                         coef_t, offs_t, input_grad, xw, gw, dw, dw_blk, db_blk, dx):
    oh = grad.shape[2]
    plane, wph, e0, n_pos = _conv_geometry(x, k, stride, pad, oh, nb)
    _pack_phases(x, n0, nb, stride, min(stride, k), pad, ld, xw)
    g = gw.reshape(dw_blk.shape[0], ldg)
    _conv_grad_load(grad, out, relu, n0, nb, plane, wph, e0, g, db_blk)
    dw_blk[:, :] = 0
    shifted_gemm_t(g, e0, xw, offs, n_pos, dw_blk)
    if not input_grad:
        return
    rows = coef_t.shape[0]
    d = dw.reshape(rows, dw.shape[0] // rows)
    shifted_gemm(coef_t, gw, offs_t, nb * plane, d)
    _crop_phases(d, n0, nb, stride, min(stride, k), pad, wph, plane, dx)


@njit(cache=True, parallel=True)
def conv_backward(x, grad, out, relu, W, stride, pad, per_block, ld, ldg, offs, offs_t,
                  coef_t, input_grad, xwork, gwork, dwork, dw_blocks, db_blocks, dW, db,
                  dx):
    """Gradients of :func:`conv_forward` for the output gradient ``grad``: dW, db and,
    when ``input_grad``, dx (the output ``out`` gives the relu mask).

    Each block of samples writes its weight and bias gradients to ``dw_blocks[blk]``
    (F, T4) and ``db_blocks[blk]``; they are added in block order at the end. ``ldg``
    is the row length of the gradient layout (``gwork`` holds F rows); ``offs_t`` and
    ``coef_t`` (filled here, :func:`_conv_coef_t`) drive the input-gradient product,
    whose result ``dwork`` (C*na*na phase rows) is cropped back into dx.
    """
    n_filters, n_channels, k, _ = W.shape
    if input_grad:
        _conv_coef_t(W, stride, coef_t)
    n = x.shape[0]
    n_blocks = (n + per_block - 1) // per_block
    for blk in prange(n_blocks):
        tid = numba.get_thread_id()
        n0 = blk * per_block
        _conv_backward_block(x, grad, out, relu, k, stride, pad, n0,
                             min(per_block, n - n0), ld, ldg, offs, coef_t, offs_t,
                             input_grad, xwork[tid], gwork[tid], dwork[tid],
                             dw_blocks[blk], db_blocks[blk], dx)
    kk = k * k
    for f in range(n_filters):
        s = db_blocks[0, f]
        for blk in range(1, n_blocks):
            s += db_blocks[blk, f]
        db[f] = s
        for t in range(n_channels * kk):
            s = dw_blocks[0, f, t]
            for blk in range(1, n_blocks):
                s += dw_blocks[blk, f, t]
            dW[f, t // kk, (t // k) % k, t % k] = s


@njit(cache=True)
def _maxpool_plane(x, k, stride, out, argmax):
    """One (H, W) plane of :func:`maxpool_forward`."""
    oh, ow = out.shape
    w = x.shape[1]
    if k == 2 and stride == 2:
        for p in range(oh):
            r0 = x[2 * p]
            r1 = x[2 * p + 1]
            for q in range(ow):
                x0 = 2 * q
                best = r0[x0]
                idx = 2 * p * w + x0
                if r0[x0 + 1] > best:
                    best = r0[x0 + 1]
                    idx = 2 * p * w + x0 + 1
                if r1[x0] > best:
                    best = r1[x0]
                    idx = (2 * p + 1) * w + x0
                if r1[x0 + 1] > best:
                    best = r1[x0 + 1]
                    idx = (2 * p + 1) * w + x0 + 1
                out[p, q] = best
                argmax[p, q] = idx
        return
    for p in range(oh):
        for q in range(ow):
            y0 = p * stride
            x0 = q * stride
            best = x[y0, x0]
            best_idx = y0 * w + x0
            for i in range(k):
                for j in range(k):
                    v = x[y0 + i, x0 + j]
                    if v > best:
                        best = v
                        best_idx = (y0 + i) * w + x0 + j
            out[p, q] = best
            argmax[p, q] = best_idx


@njit(cache=True, parallel=True)
def maxpool_forward(x, k, stride, out, argmax):
    """out[n, c, p, q] = max of the k x k window at (p*stride, q*stride) (no padding);
    argmax keeps the flat index (y*W + x) of the winner inside the (H, W) plane (the
    first maximum in row-major order). Parallel over samples; the 2x2 stride-2 case
    is unrolled."""
    n_samples, n_channels = x.shape[:2]
    for n in prange(n_samples):
        for c in range(n_channels):
            _maxpool_plane(x[n, c], k, stride, out[n, c], argmax[n, c])


@njit(cache=True, parallel=True)
def maxpool_backward(grad_out, argmax, dx):
    """dx gets each output gradient at the position of its window's maximum (zero
    elsewhere); parallel over samples."""
    n_samples, n_channels, oh, ow = grad_out.shape
    w = dx.shape[3]
    for n in prange(n_samples):
        for c in range(n_channels):
            d = dx[n, c]
            g = grad_out[n, c]
            am = argmax[n, c]
            d[:, :] = 0
            for p in range(oh):
                for q in range(ow):
                    idx = am[p, q]
                    d[idx // w, idx % w] += g[p, q]


@njit(cache=True, parallel=True, fastmath=_FM)
def avgpool_forward(x, k, stride, out):
    """out[n, c, p, q] = mean of the k x k window at (p*stride, q*stride)."""
    n_samples, n_channels, oh, ow = out.shape
    inv = out.dtype.type(1.0 / (k * k))
    for n in prange(n_samples):
        for c in range(n_channels):
            xs = x[n, c]
            o = out[n, c]
            for p in range(oh):
                for q in range(ow):
                    s = xs[p * stride, q * stride]
                    for j in range(1, k):
                        s += xs[p * stride, q * stride + j]
                    for i in range(1, k):
                        for j in range(k):
                            s += xs[p * stride + i, q * stride + j]
                    o[p, q] = s * inv


@njit(cache=True, parallel=True)
def avgpool_backward(grad_out, k, stride, dx):
    """Each output gradient spread evenly (1/k^2) over its window."""
    n_samples, n_channels, oh, ow = grad_out.shape
    inv = dx.dtype.type(1.0 / (k * k))
    for n in prange(n_samples):
        for c in range(n_channels):
            d = dx[n, c]
            g = grad_out[n, c]
            d[:, :] = 0
            for p in range(oh):
                for q in range(ow):
                    v = g[p, q] * inv
                    for i in range(k):
                        for j in range(k):
                            d[p * stride + i, q * stride + j] += v
