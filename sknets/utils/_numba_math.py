"""Numba helpers shared by several kernels (private): the scalar and a vectorisable
logistic function, the momentum step, a one-pass finite / range count.

Each has a plain-numpy reference in ``tests/references/rbm.py`` (or is compared with
scipy / numpy directly in the tests).
"""

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

# no nnan/ninf: callers detect divergence from the NaN and inf their arithmetic makes
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


def exp_scratch(a, n):
    """``np.empty(n)`` of the integer type as wide as ``a``'s float dtype (int32 for
    float32, int64 for float64): the scratch of :func:`sigmoid_inplace`. Call it from
    Numba code (the type is chosen when compiling)."""
    it = np.int32 if np.asarray(a).dtype == np.float32 else np.int64
    return np.empty(n, it)


@overload(exp_scratch)
def _exp_scratch_impl(a, n):
    it = np.int32 if a.dtype == types.float32 else np.int64

    def impl(a, n):
        return np.empty(n, it)

    return impl


@njit(cache=True, inline="always", error_model="numpy")
def sigmoid(x):
    """Scalar ``1 / (1 + exp(-x))`` without overflow: exp of a non-positive number
    only. Inlined into the calling kernel."""
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def sigmoid_inplace(a, ibuf):
    """In place ``a = 1 / (1 + exp(-a))`` on a 1-D contiguous array, vectorisable.

    exp is computed as ``2**k * p(r)`` (Cody-Waite reduction, Taylor polynomial of
    degree 7 for float32 and 12 for float64; ``2**k`` is built in the exponent bits
    of ``ibuf``, an integer scratch as wide as ``a``'s items and at least as long,
    see :func:`exp_scratch`): within a few ulp of ``np.exp``. Arguments are clamped
    to about +-87 (float32) / +-708 (float64), far beyond the point where the
    logistic function saturates.
    """
    T = a.dtype.type
    I = ibuf.dtype.type
    f32 = a.itemsize == 4
    shift = I(23) if f32 else I(52)
    bias = I(127) if f32 else I(1023)
    lim = T(87.0) if f32 else T(707.0)
    log2e = T(1.4426950408889634)
    ln2_hi = T(0.693359375)
    ln2_lo = T(-2.12194440054690583e-4)
    one = T(1.0)
    half = T(0.5)
    c2 = T(1.0 / 2)
    c3 = T(1.0 / 6)
    c4 = T(1.0 / 24)
    c5 = T(1.0 / 120)
    c6 = T(1.0 / 720)
    c7 = T(1.0 / 5040)
    c8 = T(1.0 / 40320)
    c9 = T(1.0 / 362880)
    c10 = T(1.0 / 3628800)
    c11 = T(1.0 / 39916800)
    c12 = T(1.0 / 479001600)
    n = a.shape[0]
    ib = ibuf[:n]
    if f32:  # degree 7 is exact to float32 rounding (|r| <= ln2 / 2)
        for j in range(n):
            t = -a[j]
            t = min(max(t, -lim), lim)
            k = np.floor(t * log2e + half)
            r = t - k * ln2_hi - k * ln2_lo
            q = c7 * r + c6
            q = q * r + c5
            q = q * r + c4
            q = q * r + c3
            q = q * r + c2
            q = q * r + one
            a[j] = q * r + one
            ib[j] = (I(k) + bias) << shift
    else:
        for j in range(n):
            t = -a[j]
            t = min(max(t, -lim), lim)
            k = np.floor(t * log2e + half)
            r = t - k * ln2_hi - k * ln2_lo
            q = c12 * r + c11
            q = q * r + c10
            q = q * r + c9
            q = q * r + c8
            q = q * r + c7
            q = q * r + c6
            q = q * r + c5
            q = q * r + c4
            q = q * r + c3
            q = q * r + c2
            q = q * r + one
            a[j] = q * r + one
            ib[j] = (I(k) + bias) << shift
    scale = ib.view(a.dtype)
    for j in range(n):
        a[j] = one / (one + a[j] * scale[j])


@njit(cache=True)
def momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    """In place:
    ``velocity = momentum * velocity + lr * (grad - weight_decay * param)``;
    ``param += velocity``. All arrays C-contiguous of the same shape and dtype."""
    p = param.ravel()
    g = grad.ravel()
    v = velocity.ravel()
    for k in range(p.shape[0]):
        v[k] = momentum * v[k] + lr * (g[k] - weight_decay * p[k])
        p[k] += v[k]


@njit(cache=True)
def count_nonfinite_outside(values, lo, hi):
    """(number of non-finite values, number of values outside [lo, hi]) of the 1-D
    ``values``, in one pass (NaN counts as non-finite only)."""
    n_nonfinite = 0
    n_outside = 0
    for i in range(values.shape[0]):
        x = values[i]
        n_nonfinite += x - x != 0  # inf - inf and NaN - NaN are NaN
        n_outside += (x < lo) | (x > hi)
    return n_nonfinite, n_outside
