"""Upsampling layers (channels-first, (N, C, H, W)): nearest ``Upsample2D``, bilinear
``Resize2D`` and the transposed convolution ``ConvTranspose2D``."""

import numpy as np

from sknets.nn import _kernels, _upsample_kernels
from sknets.nn.layers import Layer, init_weights

__all__ = ["Upsample2D", "Resize2D", "ConvTranspose2D"]


def _image_shape(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(f"{type(layer).__name__} expects (C, H, W) samples, got "
                         f"{input_shape}")
    return tuple(int(s) for s in input_shape)


class Upsample2D(Layer):
    """Repeat every pixel of a (N, C, H, W) batch ``scale_factor`` times along H and W.

    ``y[n, c, i, j] = x[n, c, i // s, j // s]``; the backward pass sums the gradient
    over each ``s x s`` block. Followed by a stride-1 convolution it replaces the
    transposed convolution of DCGAN without its checkerboard artefacts (Odena et al.,
    "Deconvolution and Checkerboard Artifacts", Distill 2016).

    Parameters
    ----------
    scale_factor : int
        Positive integer factor.

    See Also
    --------
    Resize2D : bilinear resizing to any size.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.nn import Upsample2D
    >>> up = Upsample2D(2)
    >>> up.build((1, 1, 2), None)
    (1, 2, 4)
    >>> up.forward(np.array([[[[1.0, 2.0]]]]))
    array([[[[1., 1., 2., 2.],
             [1., 1., 2., 2.]]]])
    """

    def __init__(self, scale_factor=2):
        super().__init__()
        if int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(
                f"scale_factor must be a positive int, got {scale_factor!r}")
        self.scale_factor = int(scale_factor)

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        c, h, w = _image_shape(self, input_shape)
        return (c, h * self.scale_factor, w * self.scale_factor)

    def forward(self, x, training=False):
        s = self.scale_factor
        n, c, h, w = x.shape
        out = np.empty((n, c, h, s, w, s), dtype=x.dtype)
        out[...] = x[:, :, :, None, :, None]
        return out.reshape(n, c, h * s, w * s)

    def backward(self, grad_out):
        s = self.scale_factor
        n, c, hs, ws = grad_out.shape
        return grad_out.reshape(n, c, hs // s, s, ws // s, s).sum(axis=(3, 5))

    def __repr__(self):
        return f"Upsample2D({self.scale_factor})"


def _pair(value, name, kind):
    values = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(values) != 2:
        raise ValueError(f"{name} must be one {kind} or two, got {value!r}")
    return values


class Resize2D(Layer):
    """Bilinear resizing of a (N, C, H, W) batch to a new height and width.

    The convention is ``torch.nn.functional.interpolate(x, mode="bilinear",
    align_corners=False)``: output pixel i samples the input at
    ``max((i + 0.5) * ratio - 0.5, 0)``, interpolating linearly between the two nearest
    pixels (the last one repeats at the border), with ``ratio = 1 / scale_factor`` when
    a scale factor is given and ``input size / output size`` when a size is.

    Parameters
    ----------
    size : int or (int, int), optional
        Output height and width.
    scale_factor : float or (float, float), optional
        Output size ``floor(input size * scale_factor)``. Give ``size`` or
        ``scale_factor``, not both.

    The map is linear; backward applies its exact transpose (every output gradient
    goes back to the four input pixels it was interpolated from, with the same weights).
    Both run Numba kernels (``sknets.nn._upsample_kernels``), in parallel over the
    N * C planes.

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.nn import Resize2D
    >>> up = Resize2D(scale_factor=2)
    >>> up.build((1, 1, 2), None, np.float64)
    (1, 2, 4)
    >>> up.forward(np.array([[[[1.0, 2.0]]]]))[0, 0, 0]
    array([1.  , 1.25, 1.75, 2.  ])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("give one of size and scale_factor")
        self.size = None if size is None else tuple(int(s) for s in
                                                    _pair(size, "size", "int"))
        self.scale_factor = None if scale_factor is None else tuple(
            float(s) for s in _pair(scale_factor, "scale_factor", "float"))
        if self.size is not None and min(self.size) < 1:
            raise ValueError(f"size must be positive, got {size!r}")
        if self.scale_factor is not None and min(self.scale_factor) <= 0:
            raise ValueError(f"scale_factor must be positive, got {scale_factor!r}")

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        c, h, w = _image_shape(self, input_shape)
        if self.size is not None:
            oh, ow = self.size
            ratios = (h / oh, w / ow)
        else:
            sh, sw = self.scale_factor
            oh, ow = int(np.floor(h * sh)), int(np.floor(w * sw))
            ratios = (1.0 / sh, 1.0 / sw)
        if oh < 1 or ow < 1:
            raise ValueError(f"Resize2D of a {h}x{w} input by {self.scale_factor} is "
                             "empty")
        self.in_hw, self.out_hw, self.ratios = (h, w), (oh, ow), ratios
        self._set_taps(self.dtype)
        return (c, oh, ow)

    def _set_taps(self, dtype):
        (h, w), (oh, ow), (rh, rw) = self.in_hw, self.out_hw, self.ratios
        self._taps = (_upsample_kernels.linear_taps(h, oh, rh, dtype)
                      + _upsample_kernels.linear_taps(w, ow, rw, dtype))

    def _taps_for(self, dtype):
        if getattr(self, "_taps", None) is None or self._taps[2].dtype != dtype:
            self._set_taps(dtype)
        return self._taps

    def forward(self, x, training=False):
        n, c, h, w = x.shape
        if (h, w) != self.in_hw:
            raise ValueError(
                f"Resize2D was built for {self.in_hw} inputs, got {(h, w)}")
        oh, ow = self.out_hw
        out = np.empty((n, c, oh, ow), dtype=x.dtype)
        _upsample_kernels.resize_bilinear(
            np.ascontiguousarray(x).reshape(n * c, h, w), *self._taps_for(x.dtype),
            out.reshape(n * c, oh, ow))
        return out

    def backward(self, grad_out):
        n, c, oh, ow = grad_out.shape
        h, w = self.in_hw
        dx = np.empty((n, c, h, w), dtype=grad_out.dtype)
        _upsample_kernels.resize_bilinear_adjoint(
            np.ascontiguousarray(grad_out).reshape(n * c, oh, ow),
            *self._taps_for(grad_out.dtype), dx.reshape(n * c, h, w))
        return dx

    def __repr__(self):
        if self.size is not None:
            return f"Resize2D(size={self.size})"
        return f"Resize2D(scale_factor={self.scale_factor})"


class ConvTranspose2D(Layer):
    """Transposed convolution ("deconvolution"): the adjoint of :class:`Conv2D`'s map
    from its input to its output, plus a bias.

    ``y[n, o, i*s - pad + a, j*s - pad + b] += sum_c x[n, c, i, j] * W[c, o, a, b]``,
    output size ``(H - 1) * s - 2 * pad + K + output_padding`` (as ``torch.nn.
    ConvTranspose2d``; ``output_padding`` < ``stride`` adds rows and columns at the
    bottom and right, which pick the size when several inputs sizes convolve to H).

    Parameters
    ----------
    filters : int
        Output channels F.
    kernel_size : int
        Square kernel side K.
    stride : int
    padding : int
        Rows and columns cut from each border of the full output.
    output_padding : int
    init : {"glorot", "he"}
        With fan-in ``C * K * K / stride**2`` (the inputs one output pixel sees, on
        average) and fan-out ``F * K * K``.

    ``W`` has shape (C, F, K, K), as torch's, ``b`` shape (F,).

    Computation: with the input laid out as ``x_mat`` (C, N*H*W), one GEMM
    ``W_mat^T @ x_mat`` (W_mat = W reshaped to (C, F*K*K)) gives the columns and col2im
    sums them into the image; backward runs im2col on the output gradient (``g_cols``)
    and two GEMMs, ``dx_mat = W_mat @ g_cols`` and ``dW_mat = x_mat @ g_cols^T`` (the
    kernels are Conv2D's, ``sknets.nn._kernels``).

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.nn import ConvTranspose2D, Sequential
    >>> net = Sequential([ConvTranspose2D(3, 4, stride=2, padding=1)])
    >>> net.build((8, 5, 5), rng=0).output_shape
    (3, 10, 10)
    """

    param_names = ("W", "b")

    def __init__(self, filters, kernel_size=3, stride=1, padding=0, output_padding=0,
                 init="glorot"):
        super().__init__()
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.padding = int(padding)
        self.output_padding = int(output_padding)
        self.init = init
        if min(self.filters, self.kernel_size, self.stride) < 1 or self.padding < 0:
            raise ValueError("filters, kernel_size and stride must be positive and "
                             "padding non-negative")
        if not 0 <= self.output_padding < self.stride:
            raise ValueError(f"output_padding must be in [0, stride), got "
                             f"{output_padding}")

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        c, h, w = _image_shape(self, input_shape)
        k, s, p = self.kernel_size, self.stride, self.padding
        self.h, self.w = h, w
        self.oh = (h - 1) * s - 2 * p + k + self.output_padding
        self.ow = (w - 1) * s - 2 * p + k + self.output_padding
        if self.oh < 1 or self.ow < 1:
            raise ValueError(f"ConvTranspose2D padding {p} leaves nothing of the "
                             f"{h}x{w} input")
        self.params, self.grads = [], []
        self._new_param(init_weights(self.init, rng, (c, self.filters, k, k),
                                     c * k * k / (s * s), self.filters * k * k,
                                     self.dtype))
        self._new_param(np.zeros(self.filters))
        return (self.filters, self.oh, self.ow)

    W = property(lambda self: self.params[0])
    b = property(lambda self: self.params[1])

    def forward(self, x, training=False):
        n, c, h, w = x.shape
        W = self.params[0]
        f, k = self.filters, self.kernel_size
        x_mat = self._scratch("_x_mat", (c, n, h * w), x.dtype)
        x_mat[...] = x.reshape(n, c, h * w).transpose(1, 0, 2)
        self._x_mat = x_mat           # for backward (training runs on one thread)
        x_mat = x_mat.reshape(c, n * h * w)
        cols = self._scratch("_cols", (f * k * k, n * h * w), x.dtype)
        np.dot(W.reshape(c, -1).T, x_mat, out=cols)
        out = np.empty((n, f, self.oh, self.ow), dtype=x.dtype)
        _kernels.col2im(cols, k, k, self.stride, self.padding, h, w, out)
        out += self.params[1].reshape(1, f, 1, 1)
        return out

    def backward(self, grad_out):
        g = np.ascontiguousarray(grad_out)
        n = g.shape[0]
        W = self.params[0]
        c, f, k = W.shape[0], self.filters, self.kernel_size
        h, w = self.h, self.w
        g_cols = self._scratch("_cols", (f * k * k, n * h * w), g.dtype)
        _kernels.im2col(g, k, k, self.stride, self.padding, h, w, g_cols)
        np.sum(g, axis=(0, 2, 3), out=self.grads[1])
        x_mat = self._x_mat.reshape(c, n * h * w)
        np.dot(x_mat, g_cols.T, out=self.grads[0].reshape(c, -1))
        dx_mat = self._scratch("_dx_mat", (c, n, h * w), g.dtype)
        np.dot(W.reshape(c, -1), g_cols, out=dx_mat.reshape(c, n * h * w))
        return np.ascontiguousarray(dx_mat.transpose(1, 0, 2)).reshape(n, c, h, w)

    def __repr__(self):
        return (f"ConvTranspose2D({self.filters}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding})")
