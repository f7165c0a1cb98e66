"""The layer stacks of the variational autoencoders (encoders, decoders, classifier).

Every network here reads and writes flat rows: a convolutional encoder starts with a
``Reshape`` to the image and a convolutional decoder ends with a ``Flatten``, so the
likelihoods and the estimators only ever see (n, n_features) arrays.

- MLP: ``[Dense -> BatchNorm -> activation] * len(hidden)`` then a linear output.
- Convolutional encoder: ``[Conv2D 3x3 stride 2 -> BatchNorm -> activation]`` per
  entry of ``filters`` (each halves the map, rounding up), ``Flatten``, the dense
  hidden layers, a linear output. The decoder mirrors it: the dense hidden layers in
  reverse, a dense layer to the smallest map, then ``ConvTranspose2D`` 3x3 stride 2
  (``output_padding`` restores odd sizes) back to the image, the last one linear.
"""

import numpy as np

from sknets.nn import (
    BatchNorm,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Flatten,
    Layer,
    Reshape,
    make_activation,
)

__all__ = ["dense_block", "linear_init", "conv_trunk", "conv_decoder_tail",
           "encoder_layers", "decoder_layers", "classifier_layers", "FeatureParameter",
           "RowsToImages"]


def _init(activation, batch_norm):
    # He's initialisation keeps relu activations at unit scale without batch norm;
    # with it the scale is normalised away and only sets the effective step size of
    # Adam (smaller for larger weights): Glorot's trained faster in measurements
    if batch_norm or activation not in ("relu", "leaky_relu"):
        return "glorot"
    return "he"


def dense_block(units, activation, batch_norm):
    """Dense -> [BatchNorm] -> activation, for each size in ``units``."""
    layers = []
    for u in units:
        layers.append(Dense(u, init=_init(activation, batch_norm)))
        if batch_norm:
            layers.append(BatchNorm())
        layers.append(make_activation(activation))
    return layers


def linear_init(net, rng):
    """Redraw, in place, the Dense layers of a built MLP whose weight scale does not
    set the scale of the activations -- those followed by batch norm and the linear
    output layer -- from ``U(-1/sqrt(n_in), 1/sqrt(n_in))``, weights and biases (the
    default of PyTorch's ``Linear``).

    Smaller output weights than Glorot's start the posterior near the prior and the
    logits near zero; the larger first weights of the decoder (10 inputs) take
    relatively smaller Adam steps. Dense layers followed directly by an activation
    keep their He/Glorot weights, which keep activations at unit scale with depth.
    """
    layers = list(net.layers)
    for i, layer in enumerate(layers):
        if type(layer) is not Dense:
            continue
        if i + 1 < len(layers) and type(layers[i + 1]) is not BatchNorm:
            continue
        for p in layer.params:
            bound = 1.0 / np.sqrt(layer.params[0].shape[0])
            p[...] = rng.uniform(-bound, bound, p.shape).astype(p.dtype)


def _conv_sizes(image_shape, n_convs):
    h, w = image_shape[1:]
    sizes = [(h, w)]
    for _ in range(n_convs):
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


class RowsToImages(Reshape):
    """The first layer of a convolutional network on flat rows: reshapes them to
    images; the convolution after it computes no input gradient, so none is
    passed back."""

    def backward(self, grad_out):
        return None if grad_out is None else super().backward(grad_out)


def conv_trunk(image_shape, filters, activation, batch_norm):
    """Reshape flat rows to ``image_shape``, stride-2 convolutions, Flatten."""
    layers = [RowsToImages(image_shape)]
    for i, f in enumerate(filters):
        conv = Conv2D(f, 3, stride=2, padding=1, init=_init(activation, batch_norm))
        if i == 0:
            conv.input_grad = False   # the data need no gradient
        layers.append(conv)
        if batch_norm:
            layers.append(BatchNorm())
        layers.append(make_activation(activation))
    layers.append(Flatten())
    return layers


def conv_decoder_tail(image_shape, filters, activation, batch_norm):
    """From a flat vector to the image: a dense layer to the smallest feature map,
    transposed convolutions back up (the last one linear), Flatten."""
    sizes = _conv_sizes(image_shape, len(filters))
    h, w = sizes[-1]
    layers = [Dense(filters[-1] * h * w, init=_init(activation, batch_norm))]
    if batch_norm:
        layers.append(BatchNorm())
    layers += [make_activation(activation), Reshape((filters[-1], h, w))]
    channels = list(filters[:-1])[::-1] + [image_shape[0]]
    for k, out_channels in enumerate(channels):
        h_in, w_in = sizes[len(filters) - k]
        h_out, w_out = sizes[len(filters) - k - 1]
        pad_h, pad_w = h_out - (2 * h_in - 1), w_out - (2 * w_in - 1)
        if pad_h != pad_w:
            # ConvTranspose2D has one output_padding for both axes
            raise ValueError(f"architecture='conv' needs image sides of the same "
                             f"parity, got {image_shape[1:]}")
        last = k == len(channels) - 1
        layers.append(ConvTranspose2D(out_channels, 3, stride=2, padding=1,
                                      output_padding=pad_h,
                                      init="glorot" if last
                                      else _init(activation, batch_norm)))
        if not last:
            if batch_norm:
                layers.append(BatchNorm())
            layers.append(make_activation(activation))
    layers.append(Flatten())
    return layers


def encoder_layers(architecture, image_shape, hidden, filters, n_outputs, activation,
                   batch_norm):
    """(trunk, head): the trunk reads the data rows, the head ends in ``n_outputs``.

    The trunk is empty for the MLP; a conditional encoder q(z | x, y) puts the label
    between the two.
    """
    trunk = (conv_trunk(image_shape, filters, activation, batch_norm)
             if architecture == "conv" else [])
    head = dense_block(hidden, activation, batch_norm) + [Dense(n_outputs)]
    return trunk, head


def decoder_layers(architecture, image_shape, hidden, filters, n_features, activation,
                   batch_norm):
    """The decoder from the code (and label) to ``n_features`` outputs."""
    layers = dense_block(tuple(hidden)[::-1], activation, batch_norm)
    if architecture == "conv":
        return layers + conv_decoder_tail(image_shape, filters, activation, batch_norm)
    return layers + [Dense(n_features)]


def classifier_layers(architecture, image_shape, hidden, filters, n_classes,
                      activation, batch_norm):
    """q(y | x): the encoder's shape with ``n_classes`` logits."""
    trunk, head = encoder_layers(architecture, image_shape, hidden, filters, n_classes,
                                 activation, batch_norm)
    return trunk + head


class FeatureParameter(Layer):
    """A vector of one learned value per feature (the Gaussian log-variances).

    Not a layer of a forward pass: it is wrapped in a ``Sequential`` only so that its
    parameter joins the optimizer and the state copies like the networks' (as a
    1-D array it gets no L2 penalty).
    """

    param_names = ("value",)

    def __init__(self, initial=0.0):
        super().__init__()
        self.initial = float(initial)

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.params, self.grads = [], []
        self._new_param(np.full(int(np.prod(input_shape)), self.initial))
        return tuple(input_shape)

    value = property(lambda self: self.params[0])

    def forward(self, x, training=False):
        return x

    def backward(self, grad_out):
        return grad_out
