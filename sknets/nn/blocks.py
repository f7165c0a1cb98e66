"""Layers for residual networks: ``ResidualBlock`` and ``GlobalAvgPool2D``."""

import numpy as np

from sknets.nn.conv import Conv2D
from sknets.nn.layers import BatchNorm, Composite, Layer, ReLU

__all__ = ["ResidualBlock", "GlobalAvgPool2D"]


class ResidualBlock(Composite):
    """The basic block of a ResNet (He et al., 2016): ``relu(main(x) + shortcut(x))``.

    ``main`` is conv 3x3 (stride ``stride``) -> batch norm -> relu -> conv 3x3 ->
    batch norm; ``shortcut`` is the identity when the block keeps the number of channels
    and the size, else a 1x1 convolution with the same stride followed by batch norm
    (the "projection shortcut", option B of the paper).

    Parameters
    ----------
    filters : int
        Output channels.
    stride : int
        Stride of the first convolution (2 halves the height and width).
    init : {"he", "glorot"}
        Initialisation of the convolutions.

    The convolutions and batch norms are sub-layers
    (:class:`sknets.nn.layers.Composite`): ``params`` lists conv1 (W, b), bn1 (gamma,
    beta), conv2, bn2, then the projection's conv and bn if any. The convolutions keep
    their bias, which the batch norm after them cancels (its gradient is zero).

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.nn import ResidualBlock, Sequential
    >>> net = Sequential([ResidualBlock(8, stride=2)]).build((4, 6, 6), rng=0)
    >>> net.output_shape
    (8, 3, 3)
    >>> [type(layer).__name__ for layer in net.layers[0].sublayers]
    ['Conv2D', 'BatchNorm', 'Conv2D', 'BatchNorm', 'Conv2D', 'BatchNorm']
    """

    def __init__(self, filters, stride=1, init="he"):
        super().__init__()
        self.filters = int(filters)
        self.stride = int(stride)
        self.init = init
        if self.filters < 1 or self.stride < 1:
            raise ValueError(f"filters and stride must be positive, got {filters}, "
                             f"{stride}")

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if len(input_shape) != 3:
            raise ValueError(
                f"ResidualBlock expects (C, H, W) samples, got {input_shape}")
        c = int(input_shape[0])
        self.conv1 = Conv2D(self.filters, 3, stride=self.stride, padding=1,
                            init=self.init)
        self.bn1 = BatchNorm()
        self.relu1 = ReLU()
        self.conv2 = Conv2D(self.filters, 3, stride=1, padding=1, init=self.init)
        self.bn2 = BatchNorm()
        self.project = c != self.filters or self.stride != 1
        main = [self.conv1, self.bn1, self.relu1, self.conv2, self.bn2]
        shape = tuple(input_shape)
        for layer in main:
            shape = layer.build(shape, rng, self.dtype)
        self.sublayers = [self.conv1, self.bn1, self.conv2, self.bn2]
        if self.project:
            self.conv_s = Conv2D(self.filters, 1, stride=self.stride, padding=0,
                                 init=self.init)
            self.bn_s = BatchNorm()
            s_shape = self.bn_s.build(self.conv_s.build(input_shape, rng, self.dtype),
                                      rng, self.dtype)
            assert tuple(s_shape) == tuple(shape)
            self.sublayers += [self.conv_s, self.bn_s]
        return tuple(shape)

    def forward(self, x, training=False):
        h = self.conv1.forward(x, training)
        h = self.relu1.forward(self.bn1.forward(h, training), training)
        h = self.bn2.forward(self.conv2.forward(h, training), training)
        if self.project:
            h += self.bn_s.forward(self.conv_s.forward(x, training), training)
        else:
            h += x
        np.maximum(h, 0, out=h)
        self._out = h
        return h

    def backward(self, grad_out):
        g = grad_out * (self._out > 0)
        gm = self.conv2.backward(self.bn2.backward(g))
        gx = self.conv1.backward(self.bn1.backward(self.relu1.backward(gm)))
        if self.project:
            gx += self.conv_s.backward(self.bn_s.backward(g))
        else:
            gx += g
        return gx

    def __repr__(self):
        return f"ResidualBlock({self.filters}, stride={self.stride})"


class GlobalAvgPool2D(Layer):
    """Mean of each channel over the height and width: (N, C, H, W) -> (N, C).

    Backward spreads each channel's gradient evenly, ``g / (H * W)``, over its map.
    """

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if len(input_shape) != 3:
            raise ValueError(f"GlobalAvgPool2D expects (C, H, W) samples, got "
                             f"{input_shape}")
        return (int(input_shape[0]),)

    def forward(self, x, training=False):
        self._hw = x.shape[2:]
        return x.mean(axis=(2, 3))

    def backward(self, grad_out):
        h, w = self._hw
        g = grad_out * grad_out.dtype.type(1.0 / (h * w))
        return np.broadcast_to(g[:, :, None, None],
                               grad_out.shape + (h, w)).copy()
