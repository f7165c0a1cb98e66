"""The generator and discriminator networks of GANSampler, as layer stacks of
:mod:`sknets.nn`."""

from sknets.nn import (
    BatchNorm, Conv2D, ConvTranspose2D, Dense, Flatten, Reshape, Sequential,
    make_activation,
)

__all__ = ["activation_layer", "mlp", "dcgan_generator", "dcgan_discriminator"]

#: negative slope of the leaky relu (DCGAN's choice)
LEAK = 0.2


def activation_layer(name):
    """The activation layer of a GANSampler activation name (leaky relu: slope 0.2)."""
    return make_activation(name, **({"negative_slope": LEAK}
                                    if name == "leaky_relu" else {}))


def _init(activation):
    return "he" if activation in ("relu", "leaky_relu") else "glorot"


def mlp(hidden, n_outputs, activation, output_activation="identity"):
    """Dense layers of widths ``hidden`` with ``activation``, then a dense output with
    ``output_activation``: a :class:`~sknets.nn.Sequential` (not built)."""
    layers = []
    for width in hidden:
        layers += [Dense(width, init=_init(activation)), activation_layer(activation)]
    layers.append(Dense(n_outputs))
    if output_activation != "identity":
        layers.append(activation_layer(output_activation))
    return Sequential(layers)


def dcgan_generator(channels, image_shape, output_activation="tanh"):
    """Dense -> (c0, H/4, W/4) -> batch norm, relu -> [4x4 transposed convolution,
    stride 2, batch norm, relu] -> ... -> 4x4 transposed convolution to the image's
    channels -> output activation -> flatten (Radford et al., 2015).

    ``channels = (c0, c1, ...)``: c0 channels at a quarter of the image side, c1 after
    the first transposed convolution (half the side); the last one doubles the side to
    the image's.
    """
    c, h, w = image_shape
    c0 = int(channels[0])
    layers = [Dense(c0 * (h // 4) * (w // 4), init="he"), Reshape((c0, h // 4, w // 4)),
              BatchNorm(), make_activation("relu")]
    for width in channels[1:]:
        layers += [ConvTranspose2D(int(width), 4, stride=2, padding=1, init="he"),
                   BatchNorm(), make_activation("relu")]
    layers.append(ConvTranspose2D(c, 4, stride=2, padding=1))
    if output_activation != "identity":
        layers.append(activation_layer(output_activation))
    layers.append(Flatten())
    return Sequential(layers)


def dcgan_discriminator(channels, image_shape, activation="leaky_relu"):
    """Reshape to (C, H, W) -> [4x4 convolution, stride 2, padding 1, activation] per
    channel count -> flatten -> dense logit. No batch norm: DCGAN leaves it off the
    first layer, and the critic of a WGAN (and the R1 penalty, a per-row gradient)
    must not mix the rows of a minibatch."""
    layers = [Reshape(tuple(image_shape))]
    for width in channels:
        layers += [Conv2D(int(width), 4, stride=2, padding=1, init=_init(activation)),
                   activation_layer(activation)]
    layers += [Flatten(), Dense(1)]
    return Sequential(layers)
