"""Image layers (channels-first, (N, C, H, W)): Conv2D, MaxPool2D, AvgPool2D.

Forward and backward of convolution and pooling run Numba kernels from
``sknets.nn._kernels``; the matrix products go to BLAS through ``np.matmul``.
"""

import numpy as np

from sknets.nn import _kernels
from sknets.nn.layers import Layer, init_weights

__all__ = ["Conv2D", "MaxPool2D", "AvgPool2D"]


def _out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    ``y[n, f, p, q] = b[f] + sum_{c,i,j} W[f, c, i, j] * x[n, c, p*s + i - pad, q*s + j - pad]``
    with zeros outside the image.

    Parameters
    ----------
    filters : int
        Number of output channels F.
    kernel_size : int
        Square kernel side K.
    stride : int
    padding : int or {"same", "valid"}
        Zero padding on each side; "same" is (K - 1) // 2 (keeps the size for odd K
        and stride 1), "valid" is 0.
    init : {"glorot", "he"}

    ``W`` has shape (F, C, K, K), ``b`` shape (F,).

    activation : {None, "relu"}
        "relu" fuses max(., 0) into the layer (saves a pass over the output).

    Computation: im2col lays the batch out as a (C*K*K, N*OH*OW) matrix ``cols``; one
    GEMM ``W_mat @ cols`` (W_mat = W reshaped to (F, C*K*K)) gives all outputs, and the
    epilogue adds b, applies the activation and reorders to (N, F, OH, OW).
    Backward, with g the output gradient (times the relu mask) laid out as (F, N*OH*OW):
    ``dW_mat = g @ cols^T``, ``db = sum g``, ``dcols = W_mat^T @ g`` scattered back to
    the image by col2im.
    """

    param_names = ("W", "b")

    def __init__(self, filters, kernel_size=3, stride=1, padding="same", init="glorot",
                 activation=None):
        super().__init__()
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.padding = padding
        self.init = init
        if activation not in (None, "relu"):
            raise ValueError("Conv2D fuses activation=None or 'relu' only; add an "
                             "activation layer for the others")
        self.activation = activation
        # False skips the input gradient (first layer of a classifier): backward
        # returns None
        self.input_grad = True

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D expects (C, H, W) samples, got {input_shape}")
        c, h, w = (int(s) for s in input_shape)
        k = self.kernel_size
        if self.padding == "same":
            self.pad = (k - 1) // 2
        elif self.padding == "valid":
            self.pad = 0
        else:
            self.pad = int(self.padding)
        self.oh = _out_size(h, k, self.stride, self.pad)
        self.ow = _out_size(w, k, self.stride, self.pad)
        if self.oh < 1 or self.ow < 1:
            raise ValueError(f"Conv2D kernel {k} does not fit the {h}x{w} input")
        fan_in, fan_out = c * k * k, self.filters * k * k
        self.params, self.grads = [], []
        self._new_param(init_weights(self.init, rng, (self.filters, c, k, k), fan_in,
                                     fan_out, self.dtype))
        self._new_param(np.zeros(self.filters))
        return (self.filters, self.oh, self.ow)

    W = property(lambda self: self.params[0])
    b = property(lambda self: self.params[1])

    def _buffer(self, name, shape, dtype):
        """A work array reused across calls with the same shape."""
        buf = self.__dict__.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.empty(shape, dtype=dtype)
            setattr(self, name, buf)
        return buf

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x)
        n = x.shape[0]
        W = self.params[0]
        f, c, k, _ = W.shape
        m = self.oh * self.ow
        cols = self._buffer("_cols", (c * k * k, n * m), x.dtype)
        _kernels.im2col(x, k, k, self.stride, self.pad, self.oh, self.ow, cols)
        out_fm = self._buffer("_out_fm", (f, n * m), x.dtype)
        np.dot(W.reshape(f, -1), cols, out=out_fm)            # one GEMM: (F, N*M)
        out = np.empty((n, f, m), dtype=x.dtype)
        _kernels.conv_output(out_fm, self.params[1], self.activation == "relu", out)
        self._x_shape = x.shape
        self._out = out
        return out.reshape(n, f, self.oh, self.ow)

    def backward(self, grad_out):
        W = self.params[0]
        f, c, k, _ = W.shape
        n = grad_out.shape[0]
        m = self.oh * self.ow
        g = np.ascontiguousarray(grad_out).reshape(n, f, m)
        g_fm = self._buffer("_g_fm", (f, n * m), g.dtype)
        relu = self.activation == "relu"
        _kernels.conv_grad_input(g, self._out if relu else g, relu, g_fm, self.grads[1])
        cols = self._cols
        np.dot(g_fm, cols.T, out=self.grads[0].reshape(f, -1))  # dW = g @ cols^T
        if not self.input_grad:
            return None
        dcols = self._buffer("_dcols", cols.shape, g.dtype)
        np.dot(W.reshape(f, -1).T, g_fm, out=dcols)             # (C*K*K, N*M)
        dx = np.empty(self._x_shape, dtype=g.dtype)
        _kernels.col2im(dcols, k, k, self.stride, self.pad, self.oh, self.ow, dx)
        return dx

    def __repr__(self):
        act = f", activation={self.activation!r}" if self.activation else ""
        return (f"Conv2D({self.filters}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}{act})")


class _Pool2D(Layer):
    def __init__(self, pool_size=2, stride=None):
        super().__init__()
        self.pool_size = int(pool_size)
        self.stride = int(stride) if stride is not None else self.pool_size

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} expects (C, H, W) samples, "
                             f"got {input_shape}")
        c, h, w = (int(s) for s in input_shape)
        self.oh = _out_size(h, self.pool_size, self.stride, 0)
        self.ow = _out_size(w, self.pool_size, self.stride, 0)
        if self.oh < 1 or self.ow < 1:
            raise ValueError(f"pool size {self.pool_size} does not fit the {h}x{w} input")
        return (c, self.oh, self.ow)

    def __repr__(self):
        return f"{type(self).__name__}({self.pool_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """Max over ``pool_size`` x ``pool_size`` windows (no padding, floor mode); the
    gradient goes to the first maximum of each window."""

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x)
        n, c = x.shape[:2]
        out = np.empty((n, c, self.oh, self.ow), dtype=x.dtype)
        self._argmax = np.empty((n, c, self.oh, self.ow), dtype=np.int32)
        _kernels.maxpool_forward(x, self.pool_size, self.stride, self.oh, self.ow, out,
                                 self._argmax)
        self._x_shape = x.shape
        return out

    def backward(self, grad_out):
        dx = np.empty(self._x_shape, dtype=grad_out.dtype)
        _kernels.maxpool_backward(np.ascontiguousarray(grad_out), self._argmax, dx)
        return dx


class AvgPool2D(_Pool2D):
    """Mean over ``pool_size`` x ``pool_size`` windows (no padding, floor mode)."""

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x)
        n, c = x.shape[:2]
        out = np.empty((n, c, self.oh, self.ow), dtype=x.dtype)
        _kernels.avgpool_forward(x, self.pool_size, self.stride, self.oh, self.ow, out)
        self._x_shape = x.shape
        return out

    def backward(self, grad_out):
        dx = np.empty(self._x_shape, dtype=grad_out.dtype)
        _kernels.avgpool_backward(np.ascontiguousarray(grad_out), self.pool_size,
                                  self.stride, dx)
        return dx

