"""The two training engines behind GANSampler.

``FusedMLPGAN``: MLP generator and discriminator as flat vectors, one Numba call per
epoch (:mod:`sknets.gan._kernels`), Adam only. The fast path for tabular data.

``LayerGAN``: any two :class:`sknets.nn.Sequential` networks (dense or convolutional,
with batch norm) and any optimizer of :mod:`sknets.nn.optimizers`, one Python-level
step per minibatch. Used for ``architecture="dcgan"`` and for solvers other than Adam.

Both consume the same pre-drawn minibatch order and noise and apply the same update
order, so on the same MLP they give the same result (tested).
"""

import numpy as np

from sknets.gan import _kernels as K
from sknets.gan._losses import discriminator_loss, generator_loss
from sknets.nn import (
    BatchNorm, Conv2D, Dense, Flatten, LeakyReLU, ReLU, Reshape, Sequential, Tanh,
    make_optimizer,
)
from sknets.nn.layers import Identity
from sknets.nn.upsample import Upsample2D

_LOSS_NAMES = {K.NON_SATURATING: "non-saturating", K.MINIMAX: "minimax",
               K.WASSERSTEIN: "wasserstein"}


def build_layout(sizes, activations):
    """Integer layout of an MLP with layer widths ``sizes`` (see ``_kernels``).

    Returns
    -------
    layout : ndarray of shape (n_layers, 6), int64
    n_params : int
    width : int
        Number of columns of the activation work matrix.
    """
    sizes = [int(s) for s in sizes]
    layout = np.empty((len(sizes) - 1, 6), dtype=np.int64)
    p = col = 0
    for l, (nin, nout) in enumerate(zip(sizes[:-1], sizes[1:])):
        layout[l] = (nin, nout, p, p + nin * nout, col, activations[l])
        p += nin * nout + nout
        col += nin
    return layout, p, col + sizes[-1]


def init_params(layout, n_params, rng, dtype):
    """Uniform weights with the variance Glorot (linear/tanh) or He (relu) recommends;
    zero biases."""
    theta = np.zeros(n_params, dtype=np.float64)
    for nin, nout, wo, _, _, act in layout:
        gain = 2.0 if act in (K.RELU, K.LEAKY_RELU) else 1.0
        bound = np.sqrt(3.0 * gain * 2.0 / (nin + nout))
        theta[wo:wo + nin * nout] = rng.uniform(-bound, bound, nin * nout)
    return theta.astype(dtype)


class FusedMLPGAN:
    """MLP generator and discriminator trained by ``_kernels.train_epoch``."""

    def __init__(self, g_sizes, g_acts, d_sizes, d_acts, rng, *, use_sn, pretrain,
                 dtype=np.float32):
        self.lg, n_g, self.wg = build_layout(g_sizes, g_acts)
        self.ld, n_d, self.wd = build_layout(d_sizes, d_acts)
        self.theta_g = init_params(self.lg, n_g, rng, dtype)
        self.theta_d = init_params(self.ld, n_d, rng, dtype)
        self.m_g, self.v_g = np.zeros_like(self.theta_g), np.zeros_like(self.theta_g)
        self.m_d, self.v_d = np.zeros_like(self.theta_d), np.zeros_like(self.theta_d)
        self.theta_g_avg = np.zeros_like(self.theta_g)  # EMA, debiased when used
        self.theta_dsn = self.theta_d.copy()
        self.sn_u = rng.standard_normal(self.wd).astype(dtype)
        self.sn_sigma = np.ones(self.ld.shape[0], dtype=dtype)
        self.use_sn = bool(use_sn)
        self.state = np.array([0, 0, 0, pretrain], dtype=np.int64)

    def run_epoch(self, Xs, perm, bs, noise_d, noise_g, hyper, loss_code, k_steps,
                  losses):
        dt = self.theta_g.dtype
        z = np.zeros
        return K.train_epoch(
            Xs, perm, bs, noise_d, noise_g,
            self.theta_g, self.lg, self.m_g, self.v_g, z(self.theta_g.shape, dt),
            z((bs, self.wg), dt), z((bs, self.wg), dt),
            self.theta_d, self.ld, self.m_d, self.v_d, z(self.theta_d.shape, dt),
            z((2 * bs, self.wd), dt), z((2 * bs, self.wd), dt),
            self.theta_dsn, self.sn_u, self.sn_sigma, self.use_sn, self.theta_g_avg,
            loss_code, k_steps, self.state, hyper, losses)

    def params(self):
        return {"generator": self.theta_g, "discriminator": self.theta_d}

    def finish(self):
        """Freeze the discriminator used for scoring (spectrally normalised if so)."""
        if self.use_sn:
            K.spectral_normalize(self.theta_d, self.ld, self.theta_dsn, self.sn_u,
                                 self.sn_sigma, 1)
            self.d_scoring = self.theta_dsn.copy()
        else:
            self.d_scoring = self.theta_d.copy()

    def generate(self, z, ema_decay):
        theta = _averaged(self.theta_g, self.theta_g_avg, ema_decay,
                          self.state[K.T_G])
        return K.mlp_predict(theta, self.lg, np.ascontiguousarray(z, theta.dtype))

    def discriminate(self, Xs):
        return K.mlp_predict(self.d_scoring, self.ld,
                             np.ascontiguousarray(Xs, self.d_scoring.dtype))[:, 0]


def _averaged(theta, avg, decay, t):
    """Parameters to sample with: the exponential moving average ``avg`` (started at
    zero) divided by ``1 - decay^t`` to remove its bias towards zero, as Adam does
    for its moments; ``theta`` itself without averaging or before any update."""
    if decay == 0 or t == 0:
        return theta
    return (avg / (1.0 - float(decay) ** int(t))).astype(theta.dtype)


def _activation(code):
    return {K.IDENTITY: Identity, K.RELU: ReLU, K.TANH: Tanh,
            K.LEAKY_RELU: lambda: LeakyReLU(K.LEAK)}[code]()


def mlp_sequential(sizes, acts):
    """The MLP of ``build_layout(sizes, acts)`` as a Sequential (same flat layout)."""
    layers = []
    for width, code in zip(sizes[1:], acts):
        layers.append(Dense(width))
        if code != K.IDENTITY:
            layers.append(_activation(code))
    return Sequential(layers)


def dcgan_generator(noise_dim, channels, image_shape, out_code):
    """Dense -> (c0, H/4, W/4) -> [upsample x2, conv 3x3, batch norm, relu] -> ... ->
    conv 3x3 to one channel -> output activation -> flatten.

    ``channels = (c0, c1, ...)``: c0 channels at H/4, c1 after the first upsampling; the
    last upsampling always leads to the output convolution.
    """
    h, w = image_shape
    c0 = int(channels[0])
    layers = [Dense(c0 * (h // 4) * (w // 4), init="he"), Reshape((c0, h // 4, w // 4)),
              BatchNorm(), ReLU(), Upsample2D(2)]
    for c in channels[1:]:
        layers += [Conv2D(int(c), 3, init="he"), BatchNorm(), ReLU()]
    layers += [Upsample2D(2), Conv2D(1, 3)]
    if out_code != K.IDENTITY:
        layers.append(_activation(out_code))
    layers.append(Flatten())
    return Sequential(layers)


def dcgan_discriminator(channels, image_shape):
    """Reshape to (1, H, W) -> [conv 3x3 stride 2, leaky relu] per channel count ->
    flatten -> dense logit. No batch norm (the critic of a WGAN must not have it, and
    DCGAN leaves it off the first layer)."""
    h, w = image_shape
    layers = [Reshape((1, h, w))]
    for c in channels:
        layers += [Conv2D(int(c), 3, stride=2, padding=1, init="he"), LeakyReLU(K.LEAK)]
    layers += [Flatten(), Dense(1)]
    return Sequential(layers)


def _weight_slices(net):
    """(start, stop, 2-D shape) of every weight (ndim >= 2) in ``net.flat_params``."""
    out, start = [], 0
    for layer in net.layers:
        for p in layer.params:
            stop = start + p.size
            if p.ndim >= 2:
                out.append((start, stop, (p.shape[0], p.size // p.shape[0])))
            start = stop
    return out


class LayerGAN:
    """Generator and discriminator as :class:`sknets.nn.Sequential` networks."""

    def __init__(self, G, D, noise_dim, n_features, rng, *, solver, opt_kwargs, use_sn,
                 pretrain, dtype=np.float32):
        self.G = G.build((noise_dim,), rng, dtype)
        self.D = D.build((n_features,), rng, dtype)
        self.opt_g = make_optimizer(solver, self.G.flat_parameters(), **opt_kwargs)
        self.use_sn = bool(use_sn)
        if self.use_sn:
            # the optimizer updates raw weights; D.flat_params holds W / sigma(W)
            self.d_raw = self.D.flat_params.copy()
            self.d_raw_grad = np.zeros_like(self.d_raw)
            self.sn = [(a, b, shape, rng.standard_normal(shape[0]).astype(dtype))
                       for a, b, shape in _weight_slices(self.D)]
            self.opt_d = make_optimizer(solver, [(self.d_raw, self.d_raw_grad)],
                                        **opt_kwargs)
            self._normalize()
        else:
            self.opt_d = make_optimizer(solver, self.D.flat_parameters(), **opt_kwargs)
        self.g_avg = np.zeros_like(self.G.flat_params)  # EMA, debiased when used
        self.state = np.array([0, 0, 0, pretrain], dtype=np.int64)

    def _normalize(self):
        """One power iteration per weight; write W / sigma into D's parameters."""
        self.D.flat_params[:] = self.d_raw
        self.sigmas = []
        for a, b, shape, u in self.sn:
            W = self.d_raw[a:b].reshape(shape)
            v = W.T @ u
            v /= np.linalg.norm(v) + 1e-12
            u[:] = W @ v
            u /= np.linalg.norm(u) + 1e-12
            sigma = max(float(np.linalg.norm(W.T @ u)), 1e-12)
            self.sigmas.append(sigma)
            self.D.flat_params[a:b] = (W / sigma).ravel()

    def _raw_gradient(self):
        g = self.d_raw_grad
        g[:] = self.D.flat_grads
        for (a, b, shape, u), sigma in zip(self.sn, self.sigmas):
            Wsn = self.D.flat_params[a:b].reshape(shape)
            G = g[a:b].reshape(shape)
            v = Wsn.T @ u
            v /= np.linalg.norm(v) + 1e-12
            g[a:b] = ((G - np.sum(G * Wsn) * np.outer(u, v)) / sigma).ravel()

    def run_epoch(self, Xs, perm, bs, noise_d, noise_g, hyper, loss_code, k_steps,
                  losses):
        name = _LOSS_NAMES[int(loss_code)]
        smoothing = float(hyper[K.SMOOTHING])
        decay = Xs.dtype.type(hyper[K.EMA])
        G, D, state = self.G, self.D, self.state
        n = Xs.shape[0]
        for b in range((n + bs - 1) // bs):
            rows = perm[b * bs:(b + 1) * bs]
            nb = rows.shape[0]
            if self.use_sn:
                self._normalize()
            fake = G.forward(noise_d[b, :nb], training=True)
            logits = D.forward(np.concatenate([Xs[rows], fake]), training=True)[:, 0]
            loss, g_r, g_f = discriminator_loss(logits[:nb], logits[nb:], name,
                                                smoothing)
            if not np.isfinite(loss):
                return 1
            losses[0] += loss
            losses[1] += 1
            D.backward(np.concatenate([g_r, g_f])[:, None].astype(Xs.dtype))
            if self.use_sn:
                self._raw_gradient()
            state[K.T_D] += 1
            self.opt_d.step()
            if state[K.PRETRAIN_LEFT] > 0:
                state[K.PRETRAIN_LEFT] -= 1
                continue
            state[K.D_SINCE_G] += 1
            if state[K.D_SINCE_G] < k_steps:
                continue
            state[K.D_SINCE_G] = 0
            if self.use_sn:
                self._normalize()
            fake = G.forward(noise_g[b, :nb], training=True)
            logits = D.forward(fake, training=True)[:, 0]
            loss, g_f = generator_loss(logits, name)
            if not np.isfinite(loss):
                return 1
            losses[2] += loss
            losses[3] += 1
            G.backward(D.backward(g_f[:, None].astype(Xs.dtype)))
            state[K.T_G] += 1
            self.opt_g.step()
            self.g_avg *= decay
            self.g_avg += (1 - decay) * G.flat_params
        return 0

    def params(self):
        d = self.d_raw if self.use_sn else self.D.flat_params
        return {"generator": self.G.flat_params, "discriminator": d}

    def finish(self):
        if self.use_sn:
            self._normalize()

    def generate(self, z, ema_decay):
        z = np.ascontiguousarray(z, self.G.dtype)
        if ema_decay == 0 or self.state[K.T_G] == 0:
            return self.G.forward(z, training=False)
        current = self.G.flat_params.copy()
        self.G.flat_params[:] = _averaged(current, self.g_avg, ema_decay,
                                          self.state[K.T_G])
        try:
            return self.G.forward(z, training=False)
        finally:
            self.G.flat_params[:] = current

    def discriminate(self, Xs):
        out = [self.D.forward(np.ascontiguousarray(Xs[i:i + 512], self.D.dtype))[:, 0]
               for i in range(0, Xs.shape[0], 512)]
        return np.concatenate(out) if out else np.empty(0, self.D.dtype)
