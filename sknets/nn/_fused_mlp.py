"""A compiled backend of the Dense/activation stacks of :mod:`sknets.nn`.

A built :class:`~sknets.nn.Sequential` made only of :class:`~sknets.nn.Dense` layers,
each followed by at most one activation (Identity, ReLU, LeakyReLU, Tanh, Sigmoid), is
described to Numba by :func:`compile_sequential`: the kernels below then run its
forward and backward passes on the network's own flat parameter vector
``net.flat_params`` (and gradient vector ``net.flat_grads``), in the layout
``Sequential`` gives them -- each Dense layer's weight ``W`` of shape (n_in, n_out),
row-major, then its bias. The same weights therefore run in either path, and a
training loop written with these kernels (e.g. the GAN epoch of
:mod:`sknets.gan._kernels`) updates the very arrays the layer objects compute with.

The description (:class:`FusedNet`) holds the arrays and a ``layout`` of one row per
Dense layer: ``n_in, n_out, weight offset, bias offset, input column, activation``
(``slopes`` holds each layer's leaky-relu slope). The activations of all layers of a
minibatch live side by side in one work matrix ``H`` of shape (rows, sum of widths):
layer ``l`` reads columns ``[c, c + n_in)`` and writes ``[c + n_in, c + n_in + n_out)``.
``dH`` has the same shape and receives the gradients with respect to those columns.

Also compiled here, because a fused training step needs them inside Numba, and each
numerically the rule of :mod:`sknets.nn` it stands for (tested against it):

- :func:`adam_step`: the update of :class:`sknets.nn.Adam` (same float operations in
  the same order, so float32 results agree to the last bit);
- :func:`sigmoid_cross_entropy`: the per-element loss and gradient of
  :func:`sknets.nn.sigmoid_cross_entropy` (stable softplus form).

The kernels run on one thread: the networks they are meant for are small, and one step
is too short to share between threads.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from sknets.nn.layers import Dense, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from sknets.utils._numba_math import sigmoid as _sigmoid

__all__ = ["FusedNet", "AdamArrays", "AdamSettings", "compile_sequential",
           "is_compilable", "adam_arrays", "adam_settings", "forward", "backward",
           "adam_step", "sigmoid_cross_entropy", "IDENTITY", "RELU", "LEAKY_RELU",
           "TANH", "SIGMOID"]

IDENTITY, RELU, LEAKY_RELU, TANH, SIGMOID = 0, 1, 2, 3, 4
_CODES = {Identity: IDENTITY, ReLU: RELU, LeakyReLU: LEAKY_RELU, Tanh: TANH,
          Sigmoid: SIGMOID}

#: The arrays of a compiled network: its parameters and gradients (views of the
#: Sequential's flat vectors), the layout, the leaky-relu slopes and the work matrices.
FusedNet = namedtuple("FusedNet", ["params", "grads", "layout", "slopes", "H", "dH"])
#: What an Adam step changes: the parameters it updates, their gradients, the moments.
AdamArrays = namedtuple("AdamArrays", ["params", "grads", "m", "v"])
#: Adam's scalar settings.
AdamSettings = namedtuple("AdamSettings",
                          ["learning_rate", "beta_1", "beta_2", "epsilon"])


def _structure(net):
    """[(dense, activation code, slope)] of a Sequential, or None if not compilable."""
    out = []
    layers = list(net.layers)
    i = 0
    while i < len(layers):
        dense = layers[i]
        if type(dense) is not Dense:
            return None
        code, slope = IDENTITY, 0.0
        if i + 1 < len(layers) and type(layers[i + 1]) in _CODES:
            act = layers[i + 1]
            code = _CODES[type(act)]
            slope = act.negative_slope if code == LEAKY_RELU else 0.0
            i += 1
        out.append((dense, code, slope))
        i += 1
    return out or None


def is_compilable(net):
    """Whether ``net`` is Dense layers each followed by at most one activation."""
    return _structure(net) is not None


def compile_sequential(net, n_rows):
    """The :class:`FusedNet` of a built Sequential of Dense + activation layers.

    Parameters
    ----------
    net : sknets.nn.Sequential
        Built; its ``flat_params`` and ``flat_grads`` are used in place (not copied).
    n_rows : int
        Rows of the work matrices (the largest number of rows one call handles).

    Returns
    -------
    FusedNet
    """
    structure = _structure(net)
    if structure is None:
        raise ValueError("only Dense layers, each followed by at most one activation "
                         "(identity, relu, leaky_relu, tanh, sigmoid), can be "
                         "compiled; "
                         f"got {net!r}")
    offsets = {}
    start = 0
    for layer in net.layers:
        offsets[id(layer)] = start
        start += sum(p.size for p in layer.params)
    layout = np.empty((len(structure), 6), dtype=np.int64)
    slopes = np.empty(len(structure), dtype=np.float64)
    col = 0
    for l, (dense, code, slope) in enumerate(structure):
        n_in, n_out = dense.params[0].shape
        w_off = offsets[id(dense)]
        layout[l] = (n_in, n_out, w_off, w_off + n_in * n_out, col, code)
        slopes[l] = slope
        col += n_in
    width = col + int(layout[-1, 1])
    dtype = net.flat_params.dtype
    return FusedNet(net.flat_params, net.flat_grads, layout, slopes,
                    np.zeros((n_rows, width), dtype), np.zeros((n_rows, width), dtype))


def adam_arrays(optimizer):
    """The :class:`AdamArrays` of an :class:`sknets.nn.Adam` built on one flat pair."""
    if len(optimizer.params) != 1 or optimizer.weight_decay != 0:
        raise ValueError("the fused Adam step needs one (param, grad) pair and no "
                         "weight decay")
    (p, g), = optimizer.params
    return AdamArrays(p, g, optimizer.ms[0], optimizer.vs[0])


def adam_settings(optimizer):
    """The :class:`AdamSettings` of an :class:`sknets.nn.Adam` (current rate)."""
    return AdamSettings(float(optimizer.learning_rate), optimizer.beta_1,
                        optimizer.beta_2, optimizer.epsilon)


# Reassociation lets LLVM vectorise the dot products; no 'nnan'/'ninf' flags, so NaN
# and inf still propagate and are caught.
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=_FAST)
def forward(net, start, stop):
    """Forward pass of rows ``[start, stop)`` of ``net.H`` (input in the first
    ``n_in`` columns); every layer's output is left in its columns."""
    theta, layout, slopes, H = net.params, net.layout, net.slopes, net.H
    for l in range(layout.shape[0]):
        nin = layout[l, 0]
        nout = layout[l, 1]
        wo = layout[l, 2]
        bo = layout[l, 3]
        io = layout[l, 4]
        act = layout[l, 5]
        slope = H.dtype.type(slopes[l])
        oo = io + nin
        bias = theta[bo:bo + nout]
        for i in range(start, stop):
            # 1-D views indexed by range() counters: no negative-index wraparound,
            # and the inner loops vectorise
            hin = H[i, io:io + nin]
            hout = H[i, oo:oo + nout]
            for j in range(nout):
                hout[j] = bias[j]
            for k in range(nin):
                a = hin[k]
                w = theta[wo + k * nout:wo + (k + 1) * nout]
                for j in range(nout):
                    hout[j] += a * w[j]
            if act == RELU:
                for j in range(nout):
                    if hout[j] < 0:
                        hout[j] = 0
            elif act == LEAKY_RELU:
                for j in range(nout):
                    if hout[j] < 0:
                        hout[j] *= slope
            elif act == TANH:
                for j in range(nout):
                    hout[j] = np.tanh(hout[j])
            elif act == SIGMOID:
                for j in range(nout):
                    hout[j] = _sigmoid(hout[j])


@njit(cache=True, fastmath=_FAST)
def backward(net, start, stop, param_grads, input_grad):
    """Backward pass of rows ``[start, stop)`` after :func:`forward`.

    ``net.dH`` must hold, in the last layer's output columns, the gradient of the loss
    with respect to the network's output. With ``param_grads`` the parameter gradients
    are *added* to ``net.grads`` (zero it first); with ``input_grad`` the gradient with
    respect to the input is left in the first ``n_in`` columns of ``net.dH``. The other
    columns of ``dH`` are overwritten with the layers' deltas.
    """
    theta, grad, layout, slopes = net.params, net.grads, net.layout, net.slopes
    H, D = net.H, net.dH
    for l in range(layout.shape[0] - 1, -1, -1):
        nin = layout[l, 0]
        nout = layout[l, 1]
        wo = layout[l, 2]
        bo = layout[l, 3]
        io = layout[l, 4]
        act = layout[l, 5]
        slope = H.dtype.type(slopes[l])
        oo = io + nin
        gbias = grad[bo:bo + nout]
        for i in range(start, stop):
            hin = H[i, io:io + nin]
            hout = H[i, oo:oo + nout]
            dout = D[i, oo:oo + nout]
            # dL/d(pre-activation) from the post-activation value (the sign of a
            # (leaky) relu's output is that of its input)
            if act == RELU:
                for j in range(nout):
                    if hout[j] <= 0:
                        dout[j] = 0
            elif act == LEAKY_RELU:
                for j in range(nout):
                    if hout[j] <= 0:
                        dout[j] *= slope
            elif act == TANH:
                for j in range(nout):
                    dout[j] *= 1 - hout[j] * hout[j]
            elif act == SIGMOID:
                for j in range(nout):
                    dout[j] *= hout[j] * (1 - hout[j])
            if param_grads:
                for j in range(nout):
                    gbias[j] += dout[j]
                for k in range(nin):
                    a = hin[k]
                    gw = grad[wo + k * nout:wo + (k + 1) * nout]
                    for j in range(nout):
                        gw[j] += a * dout[j]
            if l > 0 or input_grad:
                din = D[i, io:io + nin]
                for k in range(nin):
                    w = theta[wo + k * nout:wo + (k + 1) * nout]
                    s = w[0] * dout[0]
                    for j in range(1, nout):
                        s += w[j] * dout[j]
                    din[k] = s


@njit(cache=True)
def sigmoid_cross_entropy(logit, target):
    """Per-element ``(loss, dloss/dlogit)`` of :func:`sknets.nn.sigmoid_cross_entropy`:
    ``softplus(l) - t l`` and ``sigmoid(l) - t``, computed without overflow (the mean
    over elements is the caller's)."""
    softplus = max(logit, 0.0) + np.log1p(np.exp(-abs(logit)))
    return softplus - target * logit, _sigmoid(logit) - target


# numpy's error model: no zero-division test per element (the denominator is at least
# epsilon), which lets the loop vectorise; the results are the same.
@njit(cache=True, error_model="numpy")
def adam_step(opt, t, settings):
    """One update of :class:`sknets.nn.Adam` (step number ``t``, from 1) of the flat
    vector ``opt.params`` from ``opt.grads``.

    The float operations and their order are those of ``Adam._update`` (moments first,
    the scalar factors rounded to the parameters' dtype), without fused multiply-adds,
    so both give the same numbers.
    """
    p, g, m, v = opt.params, opt.grads, opt.m, opt.v
    f = p.dtype.type
    b1 = settings.beta_1
    b2 = settings.beta_2
    # a float exponent: pow() as Python computes ``beta ** t``, not repeated products
    c1 = 1 - b1 ** float(t)
    c2 = 1 - b2 ** float(t)
    fb1 = f(b1)
    fb1c = f(1 - b1)
    fb2 = f(b2)
    fb2c = f(1 - b2)
    inv_c2 = f(1 / c2)
    eps = f(settings.epsilon)
    step = f(settings.learning_rate / c1)
    for i in range(p.shape[0]):
        gi = g[i]
        mi = m[i] * fb1
        mi = mi + fb1c * gi
        m[i] = mi
        gg = gi * gi
        vi = v[i] * fb2
        vi = vi + fb2c * gg
        v[i] = vi
        denom = np.sqrt(vi * inv_c2) + eps
        p[i] = p[i] - step * mi / denom
