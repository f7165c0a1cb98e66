"""sknets.nn: a small layer library (numpy + Numba, no scikit-learn, no autodiff).

Used by ``ConvNetClassifier`` and ``GANSampler``. The interface, which stays stable:

Layers (``sknets.nn.layers``; Conv2D and pooling in ``sknets.nn.conv``; residual
blocks in ``sknets.nn.blocks``; upsampling in ``sknets.nn.upsample``)
    A layer has ``params`` and ``grads`` (lists of arrays of equal shapes),
    ``build(input_shape, rng, dtype) -> output_shape`` (shapes of ONE sample, no batch
    axis), ``forward(x, training=False) -> y`` which keeps what backward needs, and
    ``backward(grad_out) -> grad_in`` which *overwrites* ``grads`` and returns
    dLoss/dInput of the last forward call. Images are channels-first (N, C, H, W), any
    number of channels (e.g. RGB).
    Layers: Dense, Flatten, Reshape, Dropout, ReLU, LeakyReLU, Tanh, Sigmoid, Identity
    (``make_activation(name)``), Conv2D (optionally with a fused relu), MaxPool2D,
    AvgPool2D, GlobalAvgPool2D, BatchNorm (per feature, or per channel of feature maps,
    with running statistics for inference), ResidualBlock, Upsample2D (nearest),
    Resize2D (bilinear, torch's ``align_corners=False``), ConvTranspose2D.

Composite layers (``sknets.nn.layers.Composite``)
    A layer built from other layers (ResidualBlock) lists them in ``sublayers``; its
    ``params``/``grads`` are the concatenation of theirs, and assigning a list to them
    hands every sub-layer its slice, so the views ``Sequential`` makes are the arrays
    the sub-layers compute with (also after unpickling and ``astype``).
    ``sknets.nn.layers.iter_layers(net.layers)`` walks every layer, nested ones too.
    ``sknets.nn.architectures.small_resnet(input_shape, n_classes)`` returns the layers
    of a small ResNet (stem, residual stages, global average pooling, dense).

Network (``sknets.nn.network.Sequential``)
    ::

        import numpy as np
        from sknets.nn import Sequential, Dense, ReLU, Adam, softmax_cross_entropy

        net = Sequential([Dense(32), ReLU(), Dense(3)])
        net.build(input_shape=(4,), rng=np.random.default_rng(0), dtype=np.float32)
        opt = Adam(net.flat_parameters(), learning_rate=1e-3,
                   weight_decay=1e-4, decay_mask=net.flat_decay_mask())
        logits = net.forward(X_batch, training=True)            # (n, 3)
        loss, grad_logits = softmax_cross_entropy(logits, y_batch)  # y: int labels
        grad_input = net.backward(grad_logits)                  # dLoss/dX_batch
        opt.step()                                              # in-place update

    After ``build`` all parameters live in one flat vector ``net.flat_params`` (and
    gradients in ``net.flat_grads``); each layer's ``params`` are views into it, so
    update parameters in place. ``net.parameters()`` gives the per-layer
    ``(param, grad)`` pairs, ``net.flat_parameters()`` the single flat pair (faster).
    Inputs must have the dtype given to ``build`` (float32 by default).

Losses (``sknets.nn.losses``)
    ``softmax_cross_entropy(logits, target)`` (int labels or probabilities) and
    ``sigmoid_cross_entropy(logits, target)`` return ``(mean loss, dLoss/dLogits)``,
    computed stably.

Optimizers (``sknets.nn.optimizers``)
    ``SGD, Momentum, Nesterov, Adam, RMSprop, Adagrad`` (or
    ``make_optimizer(name, ...)``) take a list of ``(param, grad)`` pairs,
    ``learning_rate`` (mutable attribute), ``weight_decay`` (L2 penalty: the rule sees
    ``g + weight_decay * p`` on masked entries; default mask: parameters with
    ndim >= 2) and rule-specific settings.
    ``step()`` updates in place; ``t`` counts steps.

Randomness: the ``Generator`` given to ``build`` initialises weights and draws the
dropout masks, so a fixed seed gives identical runs.
"""

from sknets.nn.blocks import GlobalAvgPool2D, ResidualBlock
from sknets.nn.conv import AvgPool2D, Conv2D, MaxPool2D
from sknets.nn.layers import (
    ACTIVATIONS,
    BatchNorm,
    Composite,
    Dense,
    Dropout,
    Flatten,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Reshape,
    Sigmoid,
    Tanh,
    make_activation,
)
from sknets.nn.losses import (
    SigmoidCrossEntropy,
    SoftmaxCrossEntropy,
    log_softmax,
    sigmoid_cross_entropy,
    softmax,
    softmax_cross_entropy,
    squared_error,
)
from sknets.nn.network import Sequential
from sknets.nn.upsample import ConvTranspose2D, Resize2D, Upsample2D
from sknets.nn.optimizers import (
    SGD,
    Adagrad,
    Adam,
    Momentum,
    Nesterov,
    Optimizer,
    RMSprop,
    make_optimizer,
)

__all__ = [
    "ACTIVATIONS",
    "Adagrad",
    "Adam",
    "AvgPool2D",
    "BatchNorm",
    "Composite",
    "Conv2D",
    "ConvTranspose2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2D",
    "Identity",
    "Layer",
    "MaxPool2D",
    "LeakyReLU",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "ReLU",
    "Reshape",
    "ResidualBlock",
    "Resize2D",
    "SGD",
    "Sequential",
    "Sigmoid",
    "SigmoidCrossEntropy",
    "SoftmaxCrossEntropy",
    "Tanh",
    "Upsample2D",
    "log_softmax",
    "make_activation",
    "make_optimizer",
    "sigmoid_cross_entropy",
    "softmax",
    "softmax_cross_entropy",
    "squared_error",
]
