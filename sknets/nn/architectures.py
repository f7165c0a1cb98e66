"""Ready-made layer lists for :class:`sknets.nn.Sequential`."""

from sknets.nn.blocks import GlobalAvgPool2D, ResidualBlock
from sknets.nn.conv import Conv2D
from sknets.nn.layers import BatchNorm, Dense, ReLU

__all__ = ["small_resnet"]


def small_resnet(input_shape, n_classes, widths=(16, 32, 64), blocks_per_stage=1):
    """The layers of a small ResNet classifier (He et al., 2016, the CIFAR variant).

    A stem (conv 3x3 with ``widths[0]`` filters, batch norm, relu), then one stage per
    width of ``blocks_per_stage`` :class:`~sknets.nn.ResidualBlock`; every stage after
    the first starts with a stride-2 block (half the height and width, projection
    shortcut), then global average pooling and a dense layer to ``n_classes`` logits.

    Parameters
    ----------
    input_shape : (int, int, int)
        Shape (C, H, W) of one sample; checked so that every downsampling stage has a
        map of at least 2 x 2 to halve.
    n_classes : int
        Number of outputs (logits).
    widths : tuple of int
        Channels of each stage.
    blocks_per_stage : int

    Returns
    -------
    layers : list of Layer
        Not built: pass them to :class:`~sknets.nn.Sequential` and call ``build``. The
        first layer is the stem's Conv2D (a classifier may set its ``input_grad`` to
        False).

    Examples
    --------
    >>> from sknets.nn import Sequential
    >>> from sknets.nn.architectures import small_resnet
    >>> net = Sequential(small_resnet((3, 32, 32), 10)).build((3, 32, 32), rng=0)
    >>> net.output_shape, net.shapes[-3]
    ((10,), (64, 8, 8))
    """
    if len(input_shape) != 3:
        raise ValueError(f"small_resnet expects (C, H, W) samples, got {input_shape}")
    widths = tuple(int(w) for w in widths)
    if not widths or min(widths) < 1:
        raise ValueError(f"widths must be positive ints, got {widths}")
    if int(blocks_per_stage) < 1:
        raise ValueError(f"blocks_per_stage must be >= 1, got {blocks_per_stage}")
    h, w = int(input_shape[1]), int(input_shape[2])
    if min(h, w) < 2 ** (len(widths) - 1):
        raise ValueError(f"{len(widths)} stages halve the {h}x{w} input "
                         f"{len(widths) - 1} times: it needs at least "
                         f"{2 ** (len(widths) - 1)} pixels a side")
    layers = [Conv2D(widths[0], 3, padding=1, init="he"), BatchNorm(), ReLU()]
    for stage, width in enumerate(widths):
        for block in range(int(blocks_per_stage)):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(ResidualBlock(width, stride=stride))
    layers += [GlobalAvgPool2D(), Dense(int(n_classes))]
    return layers
