"""Numba kernel of a whole training epoch of an MLP VAE with Adam.

The same computation as :class:`sknets.vae._vae.VAEModel`'s minibatch step on the
layers of :mod:`sknets.nn` (which the tests compare it with), in one compiled call:
per minibatch the encoder's forward pass, the reparameterisation, the decoder's
forward pass, the likelihood and the KL term, the backward passes and one Adam step
of every parameter. A step of the digits VAE is a few hundred microseconds of matrix
products; the numpy layers spend as long again in calls and temporaries, which this
kernel does not (``benchmarks/bench_vae.py`` prints both).

A network is the flat parameter vector of its ``Sequential`` (``theta``, the same
array: the kernel trains the estimator's networks in place) and an int64 ``layout``
with one row per layer::

    kind, n_in, n_out, offset a, offset b, activation, output offset, bn offset

``kind`` is DENSE (``W`` at offset a, read as (n_in, n_out) row-major as
``sknets.nn.Dense`` stores it; ``b`` at offset b), BATCHNORM (``gamma``, ``beta``) or
ACTIVATION. A layer's output for the minibatch lives in ``act[output offset:
output offset + n * n_out]`` read as (n, n_out); a batch-norm layer's running
statistics live in ``running_mean/var[bn offset: bn offset + n_out]`` and the batch
statistics of the last forward pass in ``cache_mean/istd`` at the same offsets. The
float64 array ``layer_f`` holds per layer (momentum, epsilon, negative slope).

The matrix products go to BLAS (``np.dot`` on contiguous views); the rest are loops.
Element-wise updates (Adam, batch norm's output and input gradient) are written in
the data's dtype with the same operations, in the same order, as the numpy layers.
"""

import numpy as np
from numba import njit

# Adam's update and the Bernoulli term are those of the compiled Dense stacks
from sknets.nn._fused_mlp import adam_step
# the batch-norm statistics and backward pass of sknets.nn.BatchNorm on (N, C) rows
from sknets.nn._norm_kernels import _backward_rows, _stats_rows
from sknets.utils._numba_math import FASTMATH, exp_scratch, sigmoid, sigmoid_inplace

DENSE, BATCHNORM, ACTIVATION = 0, 1, 2
IDENTITY, RELU, LEAKY_RELU, TANH, SIGMOID = 0, 1, 2, 3, 4
BERNOULLI, GAUSSIAN = 0, 1
LOG_2PI = float(np.log(2 * np.pi))

# indices of ``hyper``
KL_WEIGHT, LOG_VAR_LO, LOG_VAR_HI = range(3)


@njit(cache=True)
def network_forward(theta, layout, layer_f, x, act, running_mean, running_var,
                    cache_mean, cache_istd):
    """Training-mode forward pass of the rows of ``x`` (C-contiguous); returns the
    output (a view into ``act``)."""
    n = x.shape[0]
    h = x
    for l in range(layout.shape[0]):
        kind, nin, nout = layout[l, 0], layout[l, 1], layout[l, 2]
        oa, ob, code, ao, bo = (layout[l, 3], layout[l, 4], layout[l, 5],
                                layout[l, 6], layout[l, 7])
        out = act[ao:ao + n * nout].reshape(n, nout)
        if kind == DENSE:
            W = theta[oa:oa + nin * nout].reshape(nin, nout)
            np.dot(h, W, out)
            b = theta[ob:ob + nout]
            for i in range(n):
                row = out[i]
                for j in range(nout):
                    row[j] += b[j]
        elif kind == BATCHNORM:
            _batchnorm_forward(h, theta[oa:oa + nout], theta[ob:ob + nout],
                               layer_f[l, 0], layer_f[l, 1],
                               running_mean[bo:bo + nout], running_var[bo:bo + nout],
                               cache_mean[bo:bo + nout], cache_istd[bo:bo + nout], out)
        else:
            _activation_forward(h, code, layer_f[l, 2], out)
        h = out
    return h


@njit(cache=True)
def _batchnorm_forward(x, gamma, beta, momentum, epsilon, running_mean, running_var,
                       mean, istd, out):
    n, c = x.shape
    var = np.empty(c)
    _stats_rows(x, mean, var)
    unbiased = n / max(n - 1, 1)
    center = np.empty(c, dtype=out.dtype)
    scale = np.empty(c, dtype=out.dtype)
    for j in range(c):
        running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mean[j]
        running_var[j] = (1 - momentum) * running_var[j] + momentum * var[j] * unbiased
        istd[j] = 1.0 / np.sqrt(var[j] + epsilon)
        center[j] = mean[j]
        scale[j] = gamma[j] * istd[j]
    for i in range(n):
        row, o = x[i], out[i]
        for j in range(c):
            o[j] = (row[j] - center[j]) * scale[j] + beta[j]


@njit(cache=True)
def _activation_forward(x, code, slope, out):
    n, c = x.shape
    for i in range(n):
        row, o = x[i], out[i]
        for j in range(c):
            v = row[j]
            if code == RELU:
                o[j] = v if v > 0 else 0
            elif code == LEAKY_RELU:
                o[j] = v if v > 0 else v * slope
            elif code == TANH:
                o[j] = np.tanh(v)
            elif code == SIGMOID:
                o[j] = sigmoid(v)
            else:
                o[j] = v


@njit(cache=True)
def network_backward(theta, grad, layout, layer_f, x, act, cache_mean, cache_istd,
                     g_out, buf_a, buf_b, input_grad):
    """Back-propagate ``g_out`` (dLoss/dOutput of the last forward pass): writes the
    parameter gradients into ``grad`` and returns dLoss/dInput (in ``buf_a`` or
    ``buf_b``) if ``input_grad``, else ``g_out``."""
    n = x.shape[0]
    g = g_out
    use_a = True
    for l in range(layout.shape[0] - 1, -1, -1):
        kind, nin, nout = layout[l, 0], layout[l, 1], layout[l, 2]
        oa, ob, code, bo = layout[l, 3], layout[l, 4], layout[l, 5], layout[l, 7]
        if l == 0:
            h_in = x
        else:
            po = layout[l - 1, 6]
            h_in = act[po:po + n * nin].reshape(n, nin)
        if l == 0 and not input_grad and kind == DENSE:
            np.dot(h_in.T, g, grad[oa:oa + nin * nout].reshape(nin, nout))
            _column_sums(g, grad[ob:ob + nout])
            break
        buf = buf_a if use_a else buf_b
        use_a = not use_a
        g_in = buf[:n * nin].reshape(n, nin)
        if kind == DENSE:
            W = theta[oa:oa + nin * nout].reshape(nin, nout)
            np.dot(h_in.T, g, grad[oa:oa + nin * nout].reshape(nin, nout))
            _column_sums(g, grad[ob:ob + nout])
            np.dot(g, W.T, g_in)
        elif kind == BATCHNORM:
            _backward_rows(h_in, g, cache_mean[bo:bo + nout], cache_istd[bo:bo + nout],
                           theta[oa:oa + nout], True, g_in, grad[oa:oa + nout],
                           grad[ob:ob + nout])
        else:
            ao = layout[l, 6]
            out = act[ao:ao + n * nout].reshape(n, nout)
            _activation_backward(h_in, out, g, code, layer_f[l, 2], g_in)
        g = g_in
    return g


@njit(cache=True)
def _column_sums(g, out):
    n, c = g.shape
    s = np.zeros(c)
    for i in range(n):
        row = g[i]
        for j in range(c):
            s[j] += row[j]
    for j in range(c):
        out[j] = s[j]


@njit(cache=True)
def _activation_backward(x, y, g, code, slope, out):
    n, c = x.shape
    for i in range(n):
        xi, yi, gi, o = x[i], y[i], g[i], out[i]
        for j in range(c):
            if code == RELU:
                o[j] = gi[j] if xi[j] > 0 else 0
            elif code == LEAKY_RELU:
                o[j] = gi[j] if xi[j] > 0 else gi[j] * slope
            elif code == TANH:
                o[j] = gi[j] * (1 - yi[j] * yi[j])
            elif code == SIGMOID:
                o[j] = gi[j] * yi[j] * (1 - yi[j])
            else:
                o[j] = gi[j]


_PRODUCT_CHUNK = 512


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _bernoulli_terms(out, x, go, ibuf):
    """The Bernoulli log-likelihood sum of the rows of ``x`` given the logits ``out``
    (returned) and its gradient ``go = (sigmoid(out) - x) / n`` (dLoss/dOutput).

    ``x l - softplus(l) = x l - max(l, 0) + log(sigmoid(|l|))``: the logistic values
    come from the vectorised :func:`sigmoid_inplace` (computed in ``go``), and the
    logarithms are taken once per ``_PRODUCT_CHUNK`` values of a row, of the product
    of their ``sigmoid(|l|)`` (each in [1/2, 1]: the product stays above 2**-512,
    far from float64's underflow).
    """
    n, D = out.shape
    flat = go.reshape(n * D)
    for i in range(n):
        o, g = out[i], go[i]
        for j in range(D):
            g[j] = o[j]
    sigmoid_inplace(flat, ibuf)
    inv_n = 1.0 / n
    total = 0.0
    for i in range(n):
        o, xi, g = out[i], x[i], go[i]
        lin = 0.0
        for j0 in range(0, D, _PRODUCT_CHUNK):
            prod = 1.0
            for j in range(j0, min(j0 + _PRODUCT_CHUNK, D)):
                oj = o[j]
                sj = g[j]
                lin += xi[j] * oj - max(oj, 0)
                prod *= max(sj, 1 - sj)
                g[j] = (sj - xi[j]) * inv_n
            lin += np.log(prod)
        total += lin
    return total


@njit(cache=True)
def vae_epoch(X, order, eps, batch_size, d, likelihood, learn_log_var, hyper, adam,
              t, enc_opt, enc_layout, enc_f, dec_opt, dec_layout, dec_f, lv_opt,
              running_mean, running_var, cache_mean, cache_istd,
              act, buf_a, buf_b, x_buf, z_buf, g_h_buf, g_out_buf, losses):
    """One epoch over the rows ``order`` of X with the reparameterisation noise
    ``eps`` (one row per row of ``order``, in order). Fills ``losses[b]`` with the
    loss, ELBO, reconstruction and KL means of minibatch b; returns the Adam step
    count."""
    n_total, D = X.shape
    beta = hyper[KL_WEIGHT]
    enc_theta, enc_grad = enc_opt.params, enc_opt.grads
    dec_theta, dec_grad = dec_opt.params, dec_opt.grads
    log_var, lv_grad = lv_opt.params, lv_opt.grads
    n_batches = (order.shape[0] + batch_size - 1) // batch_size
    ibuf = exp_scratch(g_out_buf, g_out_buf.size)
    inv_var_buf = np.empty(log_var.size)
    for b in range(n_batches):
        start = b * batch_size
        n = min(batch_size, order.shape[0] - start)
        x = x_buf[:n * D].reshape(n, D)
        for i in range(n):
            src = X[order[start + i]]
            dst = x[i]
            for j in range(D):
                dst[j] = src[j]
        h = network_forward(enc_theta, enc_layout, enc_f, x, act, running_mean,
                            running_var, cache_mean, cache_istd)
        z = z_buf[:n * d].reshape(n, d)
        gh = g_h_buf[:n * 2 * d].reshape(n, 2 * d)
        for i in range(n):
            for k in range(d):
                std = np.exp(0.5 * h[i, d + k])
                # kept for the KL term below, which overwrites it with the gradient
                gh[i, d + k] = std
                z[i, k] = h[i, k] + std * eps[start + i, k]
        out = network_forward(dec_theta, dec_layout, dec_f, z, act, running_mean,
                              running_var, cache_mean, cache_istd)
        # likelihood and its gradient: g_out = dLoss/dOutput = -dll/dout / n
        go = g_out_buf[:n * D].reshape(n, D)
        if likelihood == BERNOULLI:
            ll_sum = _bernoulli_terms(out, x, go, ibuf)
        else:
            ll_sum = 0.0
            for j in range(D):
                inv_var_buf[j] = np.exp(-log_var[j])
            for i in range(n):
                for j in range(D):
                    inv_var = inv_var_buf[j]
                    diff = x[i, j] - out[i, j]
                    ll_sum -= 0.5 * (diff * diff * inv_var + log_var[j] + LOG_2PI)
                    go[i, j] = -diff * inv_var / n
        if learn_log_var:
            for j in range(D):
                s = 0.0
                inv_var = np.exp(-log_var[j])
                for i in range(n):
                    diff = x[i, j] - out[i, j]
                    s += 0.5 * (diff * diff * inv_var - 1)
                lv_grad[j] = -s / n
        dz = network_backward(dec_theta, dec_grad, dec_layout, dec_f, z, act,
                              cache_mean, cache_istd, go, buf_a, buf_b, True)
        # reparameterisation and the KL term
        kl_sum = 0.0
        for i in range(n):
            for k in range(d):
                mu = h[i, k]
                lv = h[i, d + k]
                std = gh[i, d + k]
                var = std * std
                kl_sum += 0.5 * (mu * mu + var - 1 - lv)
                gz = dz[i, k]
                gh[i, k] = gz + beta / n * mu
                gh[i, d + k] = gz * eps[start + i, k] * (0.5 * std) + \
                    beta / n * (0.5 * (var - 1))
        network_backward(enc_theta, enc_grad, enc_layout, enc_f, x, act,
                         cache_mean, cache_istd, gh, buf_a, buf_b, False)
        t += 1
        adam_step(enc_opt, t, adam)
        adam_step(dec_opt, t, adam)
        if learn_log_var:
            adam_step(lv_opt, t, adam)
            for j in range(D):
                log_var[j] = min(max(log_var[j], hyper[LOG_VAR_LO]), hyper[LOG_VAR_HI])
        ll_mean = ll_sum / n
        kl_mean = kl_sum / n
        losses[b, 0] = -ll_mean + beta * kl_mean
        losses[b, 1] = ll_mean - kl_mean
        losses[b, 2] = -ll_mean
        losses[b, 3] = kl_mean
    return t
