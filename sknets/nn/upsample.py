"""Upsampling layers (channels-first, (N, C, H, W)): nearest ``Upsample2D``."""

import numpy as np

from sknets.nn.layers import Layer

__all__ = ["Upsample2D"]


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
            raise ValueError(f"scale_factor must be a positive int, got {scale_factor!r}")
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

