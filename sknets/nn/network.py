"""``Sequential``: runs layers forward and backward and owns the flat parameters."""

import numpy as np

from sknets.nn.layers import iter_layers

__all__ = ["Sequential"]


class Sequential:
    """A stack of layers applied in order.

    Parameters
    ----------
    layers : list of Layer

    After :meth:`build`, every layer's parameters (and gradients) are views into one
    flat vector ``flat_params`` (and ``flat_grads``): an optimizer may update the whole
    network with one pair (:meth:`flat_parameters`), a finiteness check is one call,
    and copying ``flat_params`` saves the weights. A
    :class:`~sknets.nn.layers.Composite` layer passes the views on to its sub-layers.
    """

    def __init__(self, layers):
        self.layers = list(layers)
        self.built = False

    def build(self, input_shape, rng=None, dtype=np.float32):
        """Create every layer's parameters for samples of shape ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            Shape of one sample (no batch axis), e.g. ``(n_features,)`` or
            ``(C, H, W)``.
        rng : numpy.random.Generator or int or None
            Source of the initial weights and of dropout masks.
        dtype : float dtype
            ``np.float32`` (default) or ``np.float64``; inputs must use the same dtype.

        Returns
        -------
        self
        """
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        self.dtype = np.dtype(dtype)
        self.input_shape = tuple(int(s) for s in input_shape)
        shape = self.input_shape
        self.shapes = [shape]
        for layer in self.layers:
            shape = tuple(int(s) for s in layer.build(shape, rng, self.dtype))
            self.shapes.append(shape)
        self.output_shape = shape
        sizes = [p.size for layer in self.layers for p in layer.params]
        total = int(sum(sizes))
        self.flat_params = np.zeros(total, dtype=self.dtype)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        self.flat_decay = np.zeros(total, dtype=self.dtype)
        start = 0
        for layer in self.layers:
            views_p, views_g = [], []
            for p in layer.params:
                stop = start + p.size
                vp = self.flat_params[start:stop].reshape(p.shape)
                vp[...] = p
                views_p.append(vp)
                views_g.append(self.flat_grads[start:stop].reshape(p.shape))
                if p.ndim >= 2:
                    self.flat_decay[start:stop] = 1
                start = stop
            layer.params, layer.grads = views_p, views_g
        self.built = True
        return self

    def forward(self, x, training=False):
        """Output of the network for the batch ``x``; ``training`` switches dropout and
        batch-norm statistics on."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad_out):
        """Back-propagate dLoss/dOutput of the last forward call: fills every layer's
        gradients (overwriting them) and returns dLoss/dInput."""
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def parameters(self):
        """Flat list of (param, grad) pairs, layer by layer."""
        return [(p, g) for layer in self.layers
                for p, g in zip(layer.params, layer.grads)]

    def flat_parameters(self):
        """``[(flat_params, flat_grads)]``: the whole network as one pair."""
        return [(self.flat_params, self.flat_grads)]

    def flat_decay_mask(self):
        """``[mask]`` for ``flat_parameters()``: 1 on weights (ndim >= 2), else 0."""
        return [self.flat_decay]

    def astype(self, dtype):
        """A copy of the network whose parameters (and buffers) have ``dtype``.

        Used e.g. to predict in float64 with weights trained in float32.
        """
        import pickle

        dtype = np.dtype(dtype)
        net = pickle.loads(pickle.dumps(self))   # drops the layers' forward caches
        net.dtype = dtype
        flat = net.flat_params.astype(dtype)
        net.flat_params = flat
        net.flat_grads = np.zeros_like(flat)
        net.flat_decay = net.flat_decay.astype(dtype)
        net.__setstate__(dict(net.__getstate__()))
        for layer in iter_layers(net.layers):
            layer.dtype = dtype
            for name, value in list(vars(layer).items()):
                if (isinstance(value, np.ndarray) and value.dtype.kind == "f"
                        and not name.startswith("_")
                        and name not in ("params", "grads")):
                    setattr(layer, name, value.astype(dtype))
        return net

    def get_state(self):
        """A copy of everything training changes in the network: the flat parameters
        and the layers' buffers (batch-norm running statistics)."""
        return {"params": self.flat_params.copy(),
                "buffers": [b.copy() for layer in self.layers for b in layer.buffers()]}

    def set_state(self, state):
        """Restore a :meth:`get_state` copy in place (parameter views stay valid)."""
        self.flat_params[...] = state["params"]
        buffers = [b for layer in self.layers for b in layer.buffers()]
        for dst, src in zip(buffers, state["buffers"]):
            dst[...] = src

    def is_finite(self):
        """True when every parameter and buffer is finite."""
        return bool(np.isfinite(self.flat_params).all()) and all(
            np.isfinite(b).all() for layer in self.layers for b in layer.buffers())

    def n_params(self):
        return int(self.flat_params.size)

    def __getstate__(self):
        # the layers' parameter views must stay views of the flat vector after pickling:
        # store the flat vector once and rebuild the views on load
        state = self.__dict__.copy()
        state["_param_shapes"] = [[p.shape for p in layer.params]
                                  for layer in self.layers]
        return state

    def __setstate__(self, state):
        shapes = state.pop("_param_shapes")
        self.__dict__.update(state)
        if not self.built:
            return
        start = 0
        for layer, layer_shapes in zip(self.layers, shapes):
            views_p, views_g = [], []
            for shape in layer_shapes:
                size = int(np.prod(shape))
                views_p.append(self.flat_params[start:start + size].reshape(shape))
                views_g.append(self.flat_grads[start:start + size].reshape(shape))
                start += size
            layer.params, layer.grads = views_p, views_g

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}])"
