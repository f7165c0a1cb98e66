"""Layers: each one is ``build`` + ``forward`` + ``backward`` + its parameters.

Conventions (see the package docstring for the whole interface):

- ``build(input_shape, rng, dtype)`` receives the shape of ONE sample (no batch axis),
  a ``numpy.random.Generator`` and a float dtype, creates the parameters and returns
  the output shape of one sample.
- ``forward(x, training=False)`` maps a batch ``x`` (batch axis first) to a new array
  and keeps what ``backward`` needs (the cache of the *last* forward call).
- ``backward(grad_out)`` receives dLoss/dOutput of the last forward call,
  *overwrites* the layer's parameter gradients (``grads``) and returns dLoss/dInput.
- ``params`` and ``grads`` are lists of arrays of equal shapes. After
  :meth:`sknets.nn.Sequential.build` they are views into one flat parameter vector and
  one flat gradient vector, so update them in place (``p[...] = ...``), never rebind
  them.
- A layer made of other layers (a residual block) derives from :class:`Composite`:
  its ``params``/``grads`` are the concatenation of its sub-layers' lists, and
  assigning a list to them hands each sub-layer its own slice, so the views
  ``Sequential`` assigns are the arrays the sub-layers compute with.
"""

import threading

import numpy as np

from sknets.utils._validation import check_memory

from sknets.nn import _norm_kernels

__all__ = [
    "Layer",
    "Composite",
    "Dense",
    "Flatten",
    "Reshape",
    "Dropout",
    "BatchNorm",
    "ReLU",
    "LeakyReLU",
    "Tanh",
    "Sigmoid",
    "Identity",
    "make_activation",
    "ACTIVATIONS",
]


class Layer:
    """Base class: a layer without parameters that passes its input through."""

    #: names of the parameters, in the order of ``params``
    param_names = ()
    #: layers this one is made of (see :class:`Composite`)
    sublayers = ()
    #: names of the arrays that training changes but that are not parameters (no
    #: gradient), e.g. batch-norm running statistics
    buffer_names = ()

    def __init__(self):
        self.params = []
        self.grads = []

    def build(self, input_shape, rng, dtype=np.float32):
        """Create parameters for samples of ``input_shape``; return the output shape."""
        self.dtype = np.dtype(dtype)
        return tuple(input_shape)

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def buffers(self):
        """The layer's buffers (arrays updated in place by training, not parameters).

        A layer made of sub-layers returns theirs too.
        """
        return [getattr(self, name) for name in self.buffer_names]

    def _new_param(self, value):
        """Register a parameter array and a zero gradient of the same shape."""
        value = np.ascontiguousarray(value, dtype=self.dtype)
        self.params.append(value)
        self.grads.append(np.zeros_like(value))

    def _scratch(self, name, shape, dtype):
        """A work array of ``shape``: a view of a flat array reused between calls
        (grown when a call needs more).

        The arrays belong to the calling Python thread, so that threads predicting
        with one fitted network at the same time never share scratch space. Like
        every attribute starting with ``_``, they are not pickled.
        """
        local = self.__dict__.get("_scratch_arrays")
        if local is None:
            local = self.__dict__.setdefault("_scratch_arrays", threading.local())
        size = int(np.prod(shape))
        buf = getattr(local, name, None)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(size, dtype=dtype)
            setattr(local, name, buf)
        return buf[:size].reshape(shape)

    def __getstate__(self):
        # attributes starting with "_" are caches of the last forward pass (inputs,
        # masks, work buffers): not worth pickling
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Composite(Layer):
    """Base class of a layer made of sub-layers (e.g. :class:`sknets.nn.ResidualBlock`).

    A subclass fills ``self.sublayers`` (a list of built layers) in its ``build`` and
    writes its own ``forward``/``backward`` in terms of them. ``params`` and ``grads``
    are the concatenation of the sub-layers' lists, in the order of ``sublayers``
    (nested composites included); assigning a list to ``params`` (or ``grads``) gives
    each sub-layer its own slice of it. ``Sequential.build`` and unpickling assign views
    of the flat vectors this way, so the sub-layers compute with those views.
    """

    def __init__(self):
        # no Layer.__init__: params and grads are properties over the sub-layers
        self.sublayers = []

    def _assign(self, name, arrays):
        arrays = list(arrays)
        start = 0
        for layer in self.sublayers:
            k = len(getattr(layer, name))
            setattr(layer, name, arrays[start:start + k])
            start += k
        if start != len(arrays):
            raise ValueError(f"{type(self).__name__} has {start} {name}, "
                             f"got {len(arrays)}")

    params = property(
        lambda self: [p for layer in self.sublayers for p in layer.params],
        lambda self, arrays: self._assign("params", arrays))
    grads = property(
        lambda self: [g for layer in self.sublayers for g in layer.grads],
        lambda self, arrays: self._assign("grads", arrays))
    param_names = property(lambda self: tuple(
        f"{i}.{name}" for i, layer in enumerate(self.sublayers)
        for name in layer.param_names))

    def buffers(self):
        return [b for layer in self.sublayers for b in layer.buffers()]


def iter_layers(layers):
    """``layers`` and, depth first, every sub-layer of each :class:`Composite`."""
    for layer in layers:
        yield layer
        yield from iter_layers(layer.sublayers)


def glorot_uniform(rng, shape, fan_in, fan_out, dtype):
    """Glorot & Bengio (2010) uniform initialisation: U(-a, a), a = sqrt(6/(in+out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_uniform(rng, shape, fan_in, dtype):
    """He et al. (2015) uniform init for ReLU nets: U(-a, a), a = sqrt(6/fan_in)."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


# bytes a weight costs during training: the float64 draw, the parameter and its flat
# copy, the gradient and its flat copy, the decay mask and two optimizer moments
_TRAINING_BYTES_PER_WEIGHT = 8 + 7 * 8


def init_weights(init, rng, shape, fan_in, fan_out, dtype):
    """Initial weights of the given shape (``"glorot"`` or ``"he"`` uniform).

    Fails fast with a ``MemoryError`` naming the layer size when training weights of
    this shape would not fit in the available memory.
    """
    check_memory(int(np.prod(shape, dtype=np.float64)) * _TRAINING_BYTES_PER_WEIGHT,
                 what=f"weights of shape {tuple(int(s) for s in shape)}",
                 remedy="use fewer units, filters or components")
    if init == "glorot":
        return glorot_uniform(rng, shape, fan_in, fan_out, dtype)
    if init == "he":
        return he_uniform(rng, shape, fan_in, dtype)
    raise ValueError(f"unknown init {init!r}; use 'glorot' or 'he'")


class Dense(Layer):
    """Fully connected layer ``y = x @ W + b``.

    Parameters
    ----------
    units : int
        Number of outputs.
    init : {"glorot", "he"}
        Weight initialisation; biases start at zero.

    ``W`` has shape (n_in, units) and ``b`` shape (units,). Input of shape
    (batch, n_in); use :class:`Flatten` before it for images.
    """

    param_names = ("W", "b")

    def __init__(self, units, init="glorot"):
        super().__init__()
        self.units = int(units)
        self.init = init

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat samples, got shape {input_shape}; "
                             "add a Flatten layer before it")
        n_in = int(input_shape[0])
        self.params, self.grads = [], []
        self._new_param(init_weights(self.init, rng, (n_in, self.units), n_in,
                                     self.units, self.dtype))
        self._new_param(np.zeros(self.units))
        return (self.units,)

    W = property(lambda self: self.params[0])
    b = property(lambda self: self.params[1])

    def forward(self, x, training=False):
        self._x = x
        out = x @ self.params[0]
        out += self.params[1]
        return out

    # whether ``backward`` returns dL/dx: a trainer whose input is data switches it
    # off on the first layer for its backward pass and gets ``None`` instead
    _input_grad = True

    def backward(self, grad_out):
        W, x = self.params[0], self._x
        np.dot(x.T, grad_out, out=self.grads[0])   # dL/dW = x^T g
        np.sum(grad_out, axis=0, out=self.grads[1])  # dL/db = sum_batch g
        if not self._input_grad:
            return None
        return grad_out @ W.T                        # dL/dx = g W^T

    def __repr__(self):
        return f"Dense({self.units})"


class Flatten(Layer):
    """Reshape (batch, *shape) to (batch, prod(shape)); backward reshapes back."""

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self._shape = tuple(input_shape)
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        return grad_out.reshape(self._in_shape)


class Reshape(Layer):
    """Reshape each sample to ``shape`` (e.g. a dense output to a feature map)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"cannot reshape {input_shape} to {self.shape}")
        return self.shape

    def forward(self, x, training=False):
        self._in_shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, grad_out):
        return grad_out.reshape(self._in_shape)

    def __repr__(self):
        return f"Reshape({self.shape})"


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale
    the survivors by 1/(1-rate); at inference, the identity.

    The mask is drawn from the ``Generator`` given to ``build`` (reproducible).
    """

    def __init__(self, rate=0.5):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.rng = rng
        return tuple(input_shape)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.rate
        u = self.rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32
                            else np.float64)
        self._mask = (u < keep).astype(x.dtype)
        self._mask *= x.dtype.type(1.0 / keep)
        return x * self._mask

    def backward(self, grad_out):
        if self._mask is None:
            return grad_out
        return grad_out * self._mask

    def __repr__(self):
        return f"Dropout({self.rate})"


class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy, 2015) over the batch (and spatial) axes.

    For (N, C) inputs each feature, for (N, C, H, W) inputs each channel is normalised:
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``.

    Training mode uses the batch mean and (biased) variance and updates the running
    statistics ``running = (1 - momentum) * running + momentum * batch`` (the running
    variance uses the unbiased batch variance); inference mode uses the running ones.
    ``running_mean`` and ``running_var`` are buffers, not parameters (no gradient).

    Backward (training mode), with m the number of values per channel and
    xhat the normalised input: ``dbeta = sum g``, ``dgamma = sum g * xhat``,
    ``dx = gamma / sqrt(var + eps) / m * (m * g - dbeta - xhat * dgamma)``.

    Both directions run Numba kernels (``sknets.nn._norm_kernels``, parallel over
    channels, per-channel sums in float64); backward recomputes xhat from the input of
    the last forward call, which must not be modified in between.
    """

    param_names = ("gamma", "beta")
    buffer_names = ("running_mean", "running_var")

    def __init__(self, momentum=0.1, epsilon=1e-5):
        super().__init__()
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        c = int(input_shape[0])
        self.params, self.grads = [], []
        self._new_param(np.ones(c))
        self._new_param(np.zeros(c))
        self.running_mean = np.zeros(c, dtype=self.dtype)
        self.running_var = np.ones(c, dtype=self.dtype)
        return tuple(input_shape)

    gamma = property(lambda self: self.params[0])
    beta = property(lambda self: self.params[1])

    def forward(self, x, training=False):
        n, c = x.shape[:2]
        x3 = np.ascontiguousarray(x).reshape(n, c, -1)
        dtype = x.dtype
        if training:
            mean = np.empty(c)
            var = np.empty(c)
            _norm_kernels.batchnorm_stats(x3, mean, var)
            m = x3.shape[0] * x3.shape[2]
            mom = self.momentum
            self.running_mean[...] = (1 - mom) * self.running_mean + mom * mean
            self.running_var[...] = ((1 - mom) * self.running_var
                                     + mom * var * (m / max(m - 1, 1)))
        else:
            mean = self.running_mean.astype(np.float64)
            var = self.running_var.astype(np.float64)
        inv_std = 1.0 / np.sqrt(var + self.epsilon)
        out = np.empty_like(x3)
        _norm_kernels.batchnorm_apply(x3, mean.astype(dtype),
                                      (self.params[0] * inv_std).astype(dtype),
                                      self.params[1].astype(dtype, copy=False), out)
        self._x, self._mean, self._inv_std = x3, mean, inv_std
        self._training = bool(training)
        return out.reshape(x.shape)

    def backward(self, grad_out):
        g = np.ascontiguousarray(grad_out).reshape(self._x.shape)
        dx = np.empty_like(g)
        _norm_kernels.batchnorm_backward(self._x, g, self._mean, self._inv_std,
                                         self.params[0], self._training, dx,
                                         self.grads[0], self.grads[1])
        return dx.reshape(grad_out.shape)

    def __repr__(self):
        return f"BatchNorm(momentum={self.momentum})"


# ----------------------------------------------------------------------- activations


class ReLU(Layer):
    """max(x, 0); derivative 1 where x > 0, else 0."""

    def forward(self, x, training=False):
        self._x = x
        return np.maximum(x, 0)

    def backward(self, grad_out):
        return grad_out * (self._x > 0)


class LeakyReLU(Layer):
    """x where x > 0 else ``negative_slope`` * x."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x, training=False):
        self._x = x
        return np.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def backward(self, grad_out):
        slope = grad_out.dtype.type(self.negative_slope)
        return np.where(self._x > 0, grad_out, grad_out * slope)

    def __repr__(self):
        return f"LeakyReLU({self.negative_slope})"


class Tanh(Layer):
    """tanh(x); derivative 1 - tanh(x)^2."""

    def forward(self, x, training=False):
        self._y = np.tanh(x)
        return self._y

    def backward(self, grad_out):
        y = self._y
        return grad_out * (1 - y * y)


def _sigmoid(x):
    # stable logistic: exp of a non-positive number only; 1 / (1 + e) where x >= 0,
    # e / (1 + e) elsewhere, with one division and the temporaries reused
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1
    out = np.where(x >= 0, e.dtype.type(1), e)
    out /= d
    return out


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), computed stably; derivative s(1 - s)."""

    def forward(self, x, training=False):
        self._y = _sigmoid(x).astype(x.dtype, copy=False)
        return self._y

    def backward(self, grad_out):
        y = self._y
        out = grad_out * y
        out *= 1 - y
        return out


class Identity(Layer):
    """The identity (a linear output)."""

    def forward(self, x, training=False):
        return x

    def backward(self, grad_out):
        return grad_out


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "logistic": Sigmoid,
    "sigmoid": Sigmoid,
    "identity": Identity,
}


def make_activation(name, **kwargs):
    """Activation layer by name: relu, leaky_relu, tanh, logistic/sigmoid, identity."""
    try:
        return ACTIVATIONS[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from "
                         f"{sorted(ACTIVATIONS)}") from None
