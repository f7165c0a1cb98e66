"""Image layers (channels-first, (N, C, H, W)): Conv2D, MaxPool2D, AvgPool2D.

Forward and backward of convolution and pooling run Numba kernels from
``sknets.nn._kernels`` (no BLAS call: the convolution products are the kernels' own,
parallel over blocks of samples).
"""

import numba
import numpy as np

from sknets.nn import _kernels
from sknets.nn.layers import Layer, init_weights

__all__ = ["Conv2D", "MaxPool2D", "AvgPool2D"]

# output positions per block of samples that one thread convolves at a time: long
# enough for the vectorised inner loops, short enough for the L2 cache
_BLOCK_POSITIONS = 1024


def _out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def _round4(n):
    return -(-n // 4) * 4


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    ``y[n, f, p, q] = b[f] + sum_{c,i,j} W[f, c, i, j] * x[n, c, p*s+i-pad, q*s+j-pad]``
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

    Computation (``sknets.nn._kernels``): the batch is cut into blocks of samples, each
    convolved by one thread as one product ``W_mat @ S`` (W_mat = W reshaped to
    (F, C*K*K), S the receptive fields) written without an im2col copy: the
    zero-padded input is split into stride x stride phase planes and S is those planes
    shifted per tap; bias and relu are applied on the way out. Backward:
    ``dW_mat = g @ S^T`` per block (summed in block order), ``db = sum g`` and, unless
    ``input_grad`` is False, dx per phase as the full correlation of g with the
    flipped sub-kernel (the same product).
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

    def _layout(self, x_shape):
        """Block layout for a batch of ``x_shape``: (per_block, n_blocks, ld, ldg,
        offs, offs_t, work sizes), cached per batch size."""
        layouts = self.__dict__.setdefault("_layouts", {})
        lay = layouts.get(x_shape)
        if lay is not None:
            return lay
        n, c, h, w = x_shape
        k, s, pad, f = self.kernel_size, self.stride, self.pad, self.filters
        t4 = _round4(c * k * k)
        # phase planes: s*s per channel, ceil((H + 2*pad) / s) x ceil((W + 2*pad) / s)
        hph, wph = -(-(h + 2 * pad) // s), -(-(w + 2 * pad) // s)
        kq = -(-k // s)
        per_sample = hph * wph
        # a multiple of 4 blocks (whatever the thread count: the blocks, and so the
        # order of the weight-gradient sums, depend on the batch only)
        n_blocks = -(-n * per_sample // _BLOCK_POSITIONS)
        n_blocks = min(n, 4 * -(-n_blocks // 4))
        per_block = -(-n // n_blocks)
        n_blocks = -(-n // per_block)
        pos = per_block * per_sample
        # forward taps read up to kq - 2 past the block's planes; the gradient layout
        # has e0 = (kq-1)*wph + kq-1 leading zeros
        ld = pos + kq
        ldg = pos + (kq - 1) * wph + kq - 1
        rows_t = c * min(s, k) ** 2   # the phases a tap reads
        x_size, coef_t, d_size = (rows_t * ld, (rows_t, _round4(f * kq * kq)),
                                  rows_t * pos)
        offs = _kernels.conv_offsets(c, k, s, ld, wph, t4)
        offs_t = _kernels.conv_offsets(f, kq, 1, ldg, wph, coef_t[1])
        lay = dict(per_block=per_block, n_blocks=n_blocks, ld=ld, ldg=ldg, offs=offs,
                   offs_t=offs_t, x_size=x_size, o_size=f * pos, g_size=f * ldg,
                   d_size=d_size, coef=(f, t4), coef_t=coef_t)
        layouts[x_shape] = lay
        return lay

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x)
        lay = self._layout(x.shape)
        dt = x.dtype
        nt = numba.config.NUMBA_NUM_THREADS
        out = np.empty((x.shape[0], self.filters, self.oh, self.ow), dtype=dt)
        _kernels.conv_forward(
            x, self.params[0], self.params[1], self.activation == "relu", self.stride,
            self.pad, lay["per_block"], lay["ld"], lay["offs"],
            self._scratch("_coef", lay["coef"], dt),
            self._scratch("_xwork", (nt, lay["x_size"]), dt),
            self._scratch("_owork", (nt, lay["o_size"]), dt), out)
        self._x = x
        self._out = out
        return out

    def backward(self, grad_out):
        g = np.ascontiguousarray(grad_out)
        x = self._x
        lay = self._layout(x.shape)
        dt = g.dtype
        nt = numba.config.NUMBA_NUM_THREADS
        dx = np.empty(x.shape if self.input_grad else (0, 0, 0, 0), dtype=dt)
        f, t4 = lay["coef"]
        _kernels.conv_backward(
            x, g, self._out, self.activation == "relu", self.params[0], self.stride,
            self.pad, lay["per_block"], lay["ld"], lay["ldg"], lay["offs"],
            lay["offs_t"], self._scratch("_coef_t", lay["coef_t"], dt), self.input_grad,
            self._scratch("_xwork", (nt, lay["x_size"]), dt),
            self._scratch("_gwork", (nt, lay["g_size"]), dt),
            self._scratch("_dwork", (nt, lay["d_size"]), dt),
            self._scratch("_dw_blocks", (lay["n_blocks"], f, t4), dt),
            self._scratch("_db_blocks", (lay["n_blocks"], f), dt),
            self.grads[0], self.grads[1], dx)
        return dx if self.input_grad else None

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
            raise ValueError(f"pool size {self.pool_size} does not fit the "
                             f"{h}x{w} input")
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
        _kernels.maxpool_forward(x, self.pool_size, self.stride, out, self._argmax)
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
        _kernels.avgpool_forward(x, self.pool_size, self.stride, out)
        self._x_shape = x.shape
        return out

    def backward(self, grad_out):
        dx = np.empty(self._x_shape, dtype=grad_out.dtype)
        _kernels.avgpool_backward(np.ascontiguousarray(grad_out), self.pool_size,
                                  self.stride, dx)
        return dx

