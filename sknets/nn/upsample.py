"""Nearest-neighbour upsampling (added for GANSampler's DCGAN generator)."""

import numpy as np

from sknets.nn.layers import Layer

__all__ = ["Upsample2D"]


class Upsample2D(Layer):
    """Repeat every pixel of a (N, C, H, W) batch ``scale`` times along H and W.

    ``y[n, c, i, j] = x[n, c, i // s, j // s]``; the backward pass sums the gradient
    over each ``s x s`` block. Followed by a stride-1 convolution it replaces the
    transposed convolution of DCGAN without its checkerboard artefacts (Odena et al.,
    "Deconvolution and Checkerboard Artifacts", Distill 2016).
    """

    def __init__(self, scale=2):
        super().__init__()
        self.scale = int(scale)

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if len(input_shape) != 3:
            raise ValueError(f"Upsample2D expects (C, H, W) samples, got {input_shape}")
        c, h, w = input_shape
        return (c, h * self.scale, w * self.scale)

    def forward(self, x, training=False):
        s = self.scale
        n, c, h, w = x.shape
        out = np.empty((n, c, h, s, w, s), dtype=x.dtype)
        out[...] = x[:, :, :, None, :, None]
        return out.reshape(n, c, h * s, w * s)

    def backward(self, grad_out):
        s = self.scale
        n, c, hs, ws = grad_out.shape
        return grad_out.reshape(n, c, hs // s, s, ws // s, s).sum(axis=(3, 5))

    def __repr__(self):
        return f"Upsample2D({self.scale})"
