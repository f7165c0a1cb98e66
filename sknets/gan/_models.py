"""The GAN training problem for the shared loop of :mod:`sknets.nn._training`.

Two models with one behaviour, chosen by the estimator:

- :class:`FusedGANModel`: MLP generator and discriminator trained with Adam by one
  Numba call per epoch (:func:`sknets.gan._kernels.gan_epoch`), on the networks' own
  flat parameters and the :class:`sknets.nn.Adam` objects' moment arrays;
- :class:`LayerGANModel`: any two :class:`sknets.nn.Sequential` networks (dense or
  convolutional, with batch norm) and any optimizer of :mod:`sknets.nn.optimizers`,
  one step per minibatch through the layer objects (:meth:`LayerGANModel.train_batch`).

Both draw the same noise from the same generator, take the same steps in the same
order and give the same numbers (tested). The loop calls ``train_epoch(order,
batch_size, check)``; each epoch's record has the discriminator's loss as ``loss``
(2 log 2 = 1.386 when it cannot tell generated rows from real ones), the generator's
``generator_loss`` and the R1 ``gradient_penalty``.
"""

import numpy as np

from sknets.gan import _kernels as K
from sknets.nn._fused_mlp import adam_arrays, adam_settings, compile_sequential
from sknets.nn.losses import sigmoid_cross_entropy
from sknets.nn.spectral_norm import normalize_weights

__all__ = ["FusedGANModel", "LayerGANModel", "discriminator_loss", "generator_loss",
           "draw_noise"]


def discriminator_loss(l_real, l_fake, loss="non-saturating", target=1.0):
    """Discriminator (critic) loss on logits and its gradients (means over each half).

    Cross-entropy losses: ``BCE(l_real, target) + BCE(l_fake, 0)`` with
    :func:`sknets.nn.sigmoid_cross_entropy` (``target`` = 1 - one-sided label
    smoothing); ``"wasserstein"``: ``mean(l_fake) - mean(l_real)``.

    Returns
    -------
    loss : float
    grad_real, grad_fake : ndarray
    """
    if loss == "wasserstein":
        return (float(np.mean(l_fake) - np.mean(l_real)),
                np.full_like(l_real, -1.0 / l_real.shape[0]),
                np.full_like(l_fake, 1.0 / l_fake.shape[0]))
    value_r, grad_r = sigmoid_cross_entropy(l_real, target)
    value_f, grad_f = sigmoid_cross_entropy(l_fake, 0.0)
    return value_r + value_f, grad_r, grad_f


def generator_loss(l_fake, loss="non-saturating"):
    """Generator loss on the discriminator's logits of generated rows and its gradient:
    ``BCE(l, 1) = -mean log D`` (non-saturating), ``-BCE(l, 0) = mean log(1 - D)``
    (minimax) or ``-mean(l)`` (Wasserstein)."""
    if loss == "non-saturating":
        return sigmoid_cross_entropy(l_fake, 1.0)
    if loss == "minimax":
        value, grad = sigmoid_cross_entropy(l_fake, 0.0)
        return -value, -grad
    return float(-np.mean(l_fake)), np.full_like(l_fake, -1.0 / l_fake.shape[0])


def draw_noise(rng, kind, shape, dtype=np.float32):
    """Generator input: standard normal or uniform on [-1, 1]."""
    if kind == "normal":
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)
    return rng.uniform(-1.0, 1.0, shape).astype(dtype)


class _GANModel:
    """What both models share: noise, counters, the generator's average, state."""

    def __init__(self, G, D, g_opt, d_opt, *, rng, noise, loss, target,
                 discriminator_steps, pretrain_steps, penalty, penalty_step,
                 ema_decay, spectral_norm=None):
        self.G, self.D = G, D
        self.g_opt, self.d_opt = g_opt, d_opt
        self.optimizers = [g_opt, d_opt]
        self.rng = rng
        self.noise = noise
        self.loss = loss
        self.target = float(target)
        self.discriminator_steps = int(discriminator_steps)
        self.r1_gamma = float(penalty) if loss != "wasserstein" else 0.0
        self.penalty_step = float(penalty_step)
        self.ema_decay = float(ema_decay)
        self.sn = spectral_norm
        self.noise_dim = int(G.input_shape[0])
        # generator steps, discriminator steps, D steps since the last G step,
        # pre-training steps left (the step counts are also the optimizers' t)
        self.counters = np.array([0, 0, 0, int(pretrain_steps)], dtype=np.int64)
        self.g_average = np.zeros_like(G.flat_params)
        self.X = None

    @property
    def n_samples(self):
        return self.X.shape[0]

    def set_data(self, X):
        self.X = X

    def _epoch_noise(self, batch_size):
        n_batches = -(-self.n_samples // batch_size)
        return draw_noise(self.rng, self.noise,
                          (2, n_batches, batch_size, self.noise_dim), self.G.dtype)

    @staticmethod
    def _summary(losses, sizes, check):
        """Check each minibatch's losses; the epoch's per-row means."""
        for b, row in enumerate(losses):
            check(row[K.D_LOSS] + row[K.PENALTY] + row[K.G_LOSS] * row[K.G_STEP], b)
        g_rows = sizes * losses[:, K.G_STEP]
        return {
            "loss": float(np.dot(sizes, losses[:, K.D_LOSS]) / sizes.sum()),
            "generator_loss": (float(np.dot(g_rows, losses[:, K.G_LOSS]) / g_rows.sum())
                               if g_rows.sum() > 0 else float("nan")),
            "gradient_penalty": float(np.dot(sizes, losses[:, K.PENALTY])
                                      / sizes.sum()),
        }

    def averaged_generator_params(self):
        """The parameters to sample with: the moving average divided by
        ``1 - decay^t`` (t generator steps) to remove its bias towards its zero start,
        as Adam does for its moments; the last parameters without averaging."""
        t = int(self.counters[K.T_G])
        if self.ema_decay == 0 or t == 0:
            return self.G.flat_params.copy()
        return (self.g_average / (1.0 - self.ema_decay ** t)).astype(self.G.dtype)

    def normalized_discriminator_params(self):
        """The discriminator's parameters for scoring (spectrally normalised from the
        raw ones, without touching the training state)."""
        if self.sn is None:
            return self.D.flat_params.copy()
        out = np.empty_like(self.D.flat_params)
        normalize_weights(self.sn.raw, out, self.sn.slices, self.sn.u.copy(),
                            self.sn.sigma.copy(), 1)
        return out

    def get_state(self):
        state = {"G": self.G.get_state(), "D": self.D.get_state(),
                 "g_opt": self.g_opt.get_state(), "d_opt": self.d_opt.get_state(),
                 "g_average": self.g_average.copy(), "counters": self.counters.copy()}
        if self.sn is not None:
            state["sn"] = self.sn.get_state()
        return state

    def set_state(self, state):
        self.G.set_state(state["G"])
        self.D.set_state(state["D"])
        self.g_opt.set_state(state["g_opt"])
        self.d_opt.set_state(state["d_opt"])
        self.g_average[...] = state["g_average"]
        self.counters[...] = state["counters"]
        if self.sn is not None:
            self.sn.set_state(state["sn"])

    def is_finite(self):
        ok = self.G.is_finite() and self.D.is_finite() and bool(
            np.isfinite(self.g_average).all())
        if self.sn is not None:
            ok = ok and bool(np.isfinite(self.sn.raw).all())
        return ok

    def __getstate__(self):
        state = self.__dict__.copy()
        state["X"] = None    # the training data of the last call is not kept
        return state


class FusedGANModel(_GANModel):
    """MLP networks and Adam: one :func:`~sknets.gan._kernels.gan_epoch` call per
    epoch."""

    def _compiled(self, batch_size):
        cache = self.__dict__.get("_nets")
        if cache is None or cache[0] != batch_size:
            G = compile_sequential(self.G, batch_size)
            D = compile_sequential(self.D, 3 * batch_size)
            cache = self._nets = (batch_size, G, D)
        return cache[1], cache[2]

    def train_epoch(self, order, batch_size, check):
        G, D = self._compiled(batch_size)
        noise = self._epoch_noise(batch_size)
        sn = self.sn
        if sn is None:
            slices = np.zeros((0, 4), dtype=np.int64)
            u = sigma = np.zeros(0, dtype=self.D.dtype)
        else:
            slices, u, sigma = sn.slices, sn.u, sn.sigma
        settings = K.Settings(
            K.LOSS_CODES[self.loss], self.target, self.discriminator_steps,
            self.r1_gamma, self.penalty_step, sn is not None, self.ema_decay,
            adam_settings(self.g_opt), adam_settings(self.d_opt))
        n_batches = noise.shape[1]
        losses = np.zeros((n_batches, 4))
        self.counters[K.T_G], self.counters[K.T_D] = self.g_opt.t, self.d_opt.t
        X = np.ascontiguousarray(self.X, dtype=self.G.dtype)
        done = K.gan_epoch((X, order.astype(np.int64), noise),
                           (G, adam_arrays(self.g_opt)),
                           (D, adam_arrays(self.d_opt), slices, u, sigma),
                           self.g_average, settings, self.counters, losses)
        self.g_opt.t = int(self.counters[K.T_G])
        self.d_opt.t = int(self.counters[K.T_D])
        sizes = np.minimum(batch_size,
                           self.n_samples - batch_size * np.arange(n_batches))
        return self._summary(losses[:done], sizes[:done].astype(np.float64), check)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_nets", None)   # views of the networks' vectors: rebuilt on use
        return state


class LayerGANModel(_GANModel):
    """Any two networks and optimizers, stepped through the layer objects."""

    def train_epoch(self, order, batch_size, check):
        noise = self._epoch_noise(batch_size)
        n_batches = noise.shape[1]
        losses = np.zeros((n_batches, 4))
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            losses[b] = self.train_batch(idx, noise[0, b, :len(idx)],
                                         noise[1, b, :len(idx)])
            if not np.all(np.isfinite(losses[b])):
                n_batches = b + 1
                break
        sizes = np.minimum(batch_size,
                           self.n_samples - batch_size * np.arange(n_batches))
        return self._summary(losses[:n_batches], sizes.astype(np.float64), check)

    def train_batch(self, idx, z_d, z_g):
        """One discriminator step and, when due, one generator step; returns the
        minibatch's (D loss, G loss, R1 penalty, generator step taken)."""
        G, D, sn = self.G, self.D, self.sn
        out = np.zeros(4)
        xr = np.ascontiguousarray(self.X[idx], dtype=G.dtype)
        nb = xr.shape[0]
        if sn is not None:
            sn.normalize()
        fake = G.forward(z_d, training=True)
        rows = np.concatenate([xr, fake])
        penalty, coef = 0.0, None
        if self.r1_gamma > 0:
            D.forward(xr, training=True)
            gx = D.backward(np.ones((nb, 1), dtype=G.dtype)).astype(np.float64)
            norm2 = np.sum(gx * gx, axis=1)
            norm = np.sqrt(norm2)
            step = np.divide(self.penalty_step, norm, out=np.zeros(nb), where=norm > 0)
            perturbed = xr + step[:, None] * gx
            coef = self.r1_gamma * norm / (nb * self.penalty_step)
            penalty = self.r1_gamma * norm2.sum() / (2 * nb)
            rows = np.concatenate([rows, perturbed.astype(G.dtype)])
        logits = D.forward(rows, training=True)[:, 0].astype(np.float64)
        loss, g_r, g_f = discriminator_loss(logits[:nb], logits[nb:2 * nb], self.loss,
                                            self.target)
        out[K.D_LOSS], out[K.PENALTY] = loss, penalty
        if not (np.isfinite(loss) and np.isfinite(penalty)):
            return out
        grad = np.concatenate([g_r, g_f] + ([coef] if coef is not None else []))
        if coef is not None:
            grad[:nb] -= coef
        D.backward(grad[:, None].astype(G.dtype))
        if sn is not None:
            sn.backward()
        self.d_opt.step()
        counters = self.counters
        counters[K.T_D] = self.d_opt.t
        if counters[K.PRETRAIN_LEFT] > 0:
            counters[K.PRETRAIN_LEFT] -= 1
            return out
        counters[K.D_SINCE_G] += 1
        if counters[K.D_SINCE_G] < self.discriminator_steps:
            return out
        counters[K.D_SINCE_G] = 0
        if sn is not None:
            sn.normalize()
        fake = G.forward(z_g, training=True)
        logits = D.forward(fake, training=True)[:, 0].astype(np.float64)
        loss, g_f = generator_loss(logits, self.loss)
        out[K.G_LOSS], out[K.G_STEP] = loss, 1
        if not np.isfinite(loss):
            return out
        G.backward(D.backward(g_f[:, None].astype(G.dtype)))
        self.g_opt.step()
        counters[K.T_G] = self.g_opt.t
        decay = G.dtype.type(self.ema_decay)
        self.g_average *= decay
        self.g_average += G.dtype.type(1 - self.ema_decay) * G.flat_params
        return out
