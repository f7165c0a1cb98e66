"""Numba kernels of bilinear resizing (``sknets.nn.upsample.Resize2D``).

A resize is separable: output row i reads input rows ``r0[i]`` and ``r1[i]`` with
weights ``1 - lr[i]`` and ``lr[i]``, output column j reads columns ``c0[j]``, ``c1[j]``
with ``1 - lc[j]``, ``lc[j]``. The layer computes these per-axis tables once
(``linear_taps``) and the kernels loop over planes (N*C of them, in parallel: each
plane writes only its own output), so one kernel body serves every size.
``resize_bilinear_adjoint`` scatters with the same taps and weights: it is the exact
transpose of the forward map, which is the backward pass. Plain-numpy references live
in ``tests/references/nn_layers.py``.
"""

import numpy as np
from numba import njit, prange


def linear_taps(n_in, n_out, ratio, dtype):
    """Taps and weights of linear interpolation along one axis, ``align_corners=False``.

    Output index i reads the source coordinate ``s = max((i + 0.5) * ratio - 0.5, 0)``
    (``ratio`` = input / output size, or 1 / scale factor when one was given, as in
    ``torch.nn.functional.interpolate``): ``i0 = floor(s)``,
    ``i1 = min(i0 + 1, n_in - 1)``, weight ``s - i0`` on i1. Returns (i0, i1, weight)
    as int64, int64, ``dtype`` arrays.
    """
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * ratio - 0.5
    np.maximum(src, 0.0, out=src)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = (src - i0).astype(dtype)
    return i0, i1, lam


@njit(cache=True, parallel=True)
def resize_bilinear(x, r0, r1, lr, c0, c1, lc, out):
    """Bilinear resize of every plane::

        out[p, i, j] = (1-lr[i]) * ((1-lc[j]) x[p, r0[i], c0[j]]
                                    + lc[j] x[p, r0[i], c1[j]])
                       + lr[i] * ((1-lc[j]) x[p, r1[i], c0[j]]
                                  + lc[j] x[p, r1[i], c1[j]])

    ``x`` is (P, H, W), ``out`` (P, OH, OW), the weights have the dtype of ``x``.
    """
    n_planes = x.shape[0]
    oh, ow = out.shape[1], out.shape[2]
    one = x.dtype.type(1)
    for p in prange(n_planes):
        for i in range(oh):
            a, b, u = r0[i], r1[i], lr[i]
            for j in range(ow):
                v = lc[j]
                top = (one - v) * x[p, a, c0[j]] + v * x[p, a, c1[j]]
                bot = (one - v) * x[p, b, c0[j]] + v * x[p, b, c1[j]]
                out[p, i, j] = (one - u) * top + u * bot


@njit(cache=True, parallel=True)
def resize_bilinear_adjoint(grad_out, r0, r1, lr, c0, c1, lc, dx):
    """Transpose of ``resize_bilinear``: every output gradient goes back to its four
    taps with their weights, ``dx`` (P, H, W) is overwritten."""
    n_planes = grad_out.shape[0]
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    one = grad_out.dtype.type(1)
    for p in prange(n_planes):
        dx[p] = 0
        for i in range(oh):
            a, b, u = r0[i], r1[i], lr[i]
            for j in range(ow):
                v = lc[j]
                g = grad_out[p, i, j]
                gt = (one - u) * g
                gb = u * g
                dx[p, a, c0[j]] += (one - v) * gt
                dx[p, a, c1[j]] += v * gt
                dx[p, b, c0[j]] += (one - v) * gb
                dx[p, b, c1[j]] += v * gb
