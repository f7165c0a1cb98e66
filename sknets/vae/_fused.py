"""The MLP VAE's epoch in one Numba call (:func:`sknets.vae._kernels.vae_epoch`):
layouts of the ``sknets.nn`` networks and the work buffers.

:func:`fused_epoch_plan` returns None for what the kernel does not cover (other
layers, other optimizers, an L2 penalty); the minibatch step on the layers runs then.
"""

import numpy as np

from sknets.nn import BatchNorm, Dense, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from sknets.nn._fused_mlp import AdamArrays, adam_settings
from sknets.nn.optimizers import Adam
from sknets.vae import _elbo, _kernels as K

__all__ = ["FusedEpoch", "fused_epoch_plan"]

_ACTIVATION_CODES = {ReLU: K.RELU, LeakyReLU: K.LEAKY_RELU, Tanh: K.TANH,
                     Sigmoid: K.SIGMOID, Identity: K.IDENTITY}


def _layout(net, batch_size, act_start, bn_start):
    """(layout, layer_f, act offset after, bn offset after, BN layers) or None."""
    rows, floats, bns = [], [], []
    offset = 0
    act, bn = act_start, bn_start
    n_in = net.input_shape[0]
    if len(net.input_shape) != 1:
        return None
    for layer, shape in zip(net.layers, net.shapes[1:]):
        n_out = shape[0]
        sizes = [p.size for p in layer.params]
        cls = type(layer)
        if cls is Dense:
            rows.append((K.DENSE, n_in, n_out, offset, offset + sizes[0], 0, act, 0))
            floats.append((0.0, 0.0, 0.0))
        elif cls is BatchNorm:
            rows.append((K.BATCHNORM, n_in, n_out, offset, offset + sizes[0], 0, act,
                         bn))
            floats.append((layer.momentum, layer.epsilon, 0.0))
            bns.append((layer, bn))
            bn += n_out
        elif cls in _ACTIVATION_CODES:
            rows.append((K.ACTIVATION, n_in, n_out, 0, 0, _ACTIVATION_CODES[cls], act,
                         0))
            floats.append((0.0, 0.0, getattr(layer, "negative_slope", 0.0)))
        else:
            return None
        offset += sum(sizes)
        act += batch_size * n_out
        n_in = n_out
    return (np.array(rows, dtype=np.int64).reshape(-1, 8),
            np.array(floats, dtype=np.float64).reshape(-1, 3), act, bn, bns)


def fused_epoch_plan(encoder, decoder, log_var_net, optimizer, batch_size):
    """A :class:`FusedEpoch` for these networks, or None if the kernel cannot run
    them."""
    nets = [encoder, decoder] + ([log_var_net] if log_var_net is not None else [])
    if type(optimizer) is not Adam or optimizer.weight_decay != 0:
        return None
    if len(optimizer.params) != len(nets) or any(
            pair[0] is not net.flat_params
            for pair, net in zip(optimizer.params, nets)):
        return None
    enc = _layout(encoder, batch_size, 0, 0)
    if enc is None:
        return None
    dec = _layout(decoder, batch_size, enc[2], enc[3])
    if dec is None:
        return None
    return FusedEpoch(encoder, decoder, log_var_net, optimizer, batch_size, enc, dec)


class FusedEpoch:
    """Runs epochs of the kernel on the networks and the optimizer state in place."""

    def __init__(self, encoder, decoder, log_var_net, optimizer, batch_size, enc, dec):
        self.encoder, self.decoder, self.log_var_net = encoder, decoder, log_var_net
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.enc_layout, self.enc_f = enc[0], enc[1]
        self.dec_layout, self.dec_f = dec[0], dec[1]
        self.bns = enc[4] + dec[4]
        dtype = encoder.dtype
        n_bn = dec[3]
        self.running_mean = np.empty(n_bn, dtype=dtype)
        self.running_var = np.empty(n_bn, dtype=dtype)
        self.cache_mean = np.empty(n_bn)
        self.cache_istd = np.empty(n_bn)
        self.act = np.empty(dec[2], dtype=dtype)
        widths = [r[1] for r in enc[0]] + [r[1] for r in dec[0]] + \
            [r[2] for r in enc[0]] + [r[2] for r in dec[0]]
        self.buf_a = np.empty(batch_size * max(widths), dtype=dtype)
        self.buf_b = np.empty_like(self.buf_a)
        D, d2 = encoder.input_shape[0], encoder.output_shape[0]
        self.x = np.empty(batch_size * D, dtype=dtype)
        self.z = np.empty(batch_size * d2 // 2, dtype=dtype)
        self.g_h = np.empty(batch_size * d2, dtype=dtype)
        self.g_out = np.empty(batch_size * D, dtype=dtype)
        self.enc_opt = AdamArrays(encoder.flat_params, encoder.flat_grads,
                                  optimizer.ms[0], optimizer.vs[0])
        self.dec_opt = AdamArrays(decoder.flat_params, decoder.flat_grads,
                                  optimizer.ms[1], optimizer.vs[1])
        self.lv_opt = None
        if log_var_net is not None:
            self.lv_opt = AdamArrays(log_var_net.flat_params, log_var_net.flat_grads,
                                     optimizer.ms[2], optimizer.vs[2])

    def run(self, X, order, eps, batch_size, kl_weight, likelihood, log_var):
        """One epoch; returns the (n_batches, 4) loss, ELBO, reconstruction, KL."""
        if batch_size > self.batch_size:
            raise ValueError("batch_size larger than the plan's")
        opt = self.optimizer
        for layer, off in self.bns:
            c = layer.running_mean.size
            self.running_mean[off:off + c] = layer.running_mean
            self.running_var[off:off + c] = layer.running_var
        n_batches = -(-len(order) // batch_size)
        losses = np.empty((n_batches, 4))
        lo, hi = _elbo.LOG_VARIANCE_RANGE
        hyper = np.array([kl_weight, lo, hi])
        learn = self.lv_opt is not None
        if learn:
            lv_opt = self.lv_opt
        else:
            # a fixed variance (or none): read by the Gaussian term, never updated
            if log_var is None:
                log_var = np.zeros(1, dtype=X.dtype)
            unused = np.zeros_like(log_var)
            lv_opt = AdamArrays(log_var, unused, unused, unused)
        try:
            opt.t = K.vae_epoch(
                X, order.astype(np.int64, copy=False), eps, batch_size,
                eps.shape[1], K.BERNOULLI if likelihood == "bernoulli" else K.GAUSSIAN,
                learn, hyper, adam_settings(opt), opt.t,
                self.enc_opt, self.enc_layout, self.enc_f,
                self.dec_opt, self.dec_layout, self.dec_f, lv_opt,
                self.running_mean, self.running_var, self.cache_mean, self.cache_istd,
                self.act, self.buf_a, self.buf_b, self.x, self.z, self.g_h,
                self.g_out, losses)
        finally:
            for layer, off in self.bns:
                c = layer.running_mean.size
                layer.running_mean[...] = self.running_mean[off:off + c]
                layer.running_var[...] = self.running_var[off:off + c]
        return losses
