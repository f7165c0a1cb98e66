"""Numba kernels of GANSampler's fused MLP training step.

A multilayer perceptron is stored as one flat parameter vector ``theta`` and an integer
``layout`` of shape (n_layers, 6); row ``l`` holds

    n_in, n_out, weight offset, bias offset, input column, activation code

The weight of layer ``l`` is ``theta[w_off : w_off + n_in * n_out]`` read as an
(n_in, n_out) row-major matrix, its bias ``theta[b_off : b_off + n_out]``. Activations
of every layer of a minibatch live side by side in one work matrix ``H`` of shape
(n_rows, sum of layer widths): layer ``l`` reads columns ``[c, c + n_in)`` and writes
``[c + n_in, c + n_in + n_out)``. ``D`` has the same shape and holds the gradients of
the loss with respect to those columns during the backward pass.

Everything a training epoch needs (minibatch order, noise) is drawn with numpy outside
the kernels, so :mod:`sknets.gan._reference` replays an epoch with plain numpy and the
tests compare both. The kernels know nothing of estimators. They run on one thread: the
networks are small and a step is a few hundred microseconds, too short to share.
"""

import numpy as np
from numba import njit

IDENTITY, RELU, LEAKY_RELU, TANH = 0, 1, 2, 3
LEAK = 0.2  # negative slope of the leaky relu (DCGAN's choice)

NON_SATURATING, MINIMAX, WASSERSTEIN = 0, 1, 2

# Indices into the ``state`` array carried from one epoch to the next.
T_G, T_D, D_SINCE_G, PRETRAIN_LEFT = 0, 1, 2, 3
# Indices into ``hyper``.
LR, BETA_1, BETA_2, EPS, SMOOTHING, EMA = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def softplus(a):
    """``log(1 + exp(a))`` without overflow."""
    if a > 0:
        return a + np.log1p(np.exp(-a))
    return np.log1p(np.exp(a))


@njit(cache=True)
def sigmoid(a):
    """Logistic function without overflow."""
    if a >= 0:
        return 1.0 / (1.0 + np.exp(-a))
    e = np.exp(a)
    return e / (1.0 + e)


# Reassociation lets LLVM vectorise the dot products; no 'nnan'/'ninf' flags, so NaN
# and inf still propagate and are caught.
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=_FAST)
def mlp_forward(theta, layout, H, n):
    """Forward pass of the first ``n`` rows; the input must be in ``H[:n, :n_in0]``."""
    # Rows and weight rows are taken as 1-D views indexed by range() counters: that
    # spares Numba's negative-index wraparound and lets the inner loops vectorise.
    for l in range(layout.shape[0]):
        nin = layout[l, 0]
        nout = layout[l, 1]
        wo = layout[l, 2]
        bo = layout[l, 3]
        io = layout[l, 4]
        act = layout[l, 5]
        oo = io + nin
        bias = theta[bo:bo + nout]
        for i in range(n):
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
                        hout[j] *= LEAK
            elif act == TANH:
                for j in range(nout):
                    hout[j] = np.tanh(hout[j])


@njit(cache=True, fastmath=_FAST)
def mlp_backward(theta, grad, layout, H, D, n, param_grads, input_grad):
    """Backward pass of the first ``n`` rows.

    ``D[:n]`` must hold, in the output columns of the last layer, the gradient of the
    loss with respect to the network's output (after its activation). If
    ``param_grads``, the parameter gradients are *added* to ``grad`` (zero it first);
    if ``input_grad``, the gradient with respect to the input is left in
    ``D[:n, :n_in0]``. ``D``'s other columns are overwritten with per-layer deltas.
    """
    for l in range(layout.shape[0] - 1, -1, -1):
        nin = layout[l, 0]
        nout = layout[l, 1]
        wo = layout[l, 2]
        bo = layout[l, 3]
        io = layout[l, 4]
        act = layout[l, 5]
        oo = io + nin
        gbias = grad[bo:bo + nout]
        for i in range(n):
            hin = H[i, io:io + nin]
            hout = H[i, oo:oo + nout]
            dout = D[i, oo:oo + nout]
            # delta = dL/d(pre-activation), from the post-activation value
            if act == RELU:
                for j in range(nout):
                    if hout[j] <= 0:
                        dout[j] = 0
            elif act == LEAKY_RELU:
                for j in range(nout):
                    if hout[j] <= 0:
                        dout[j] *= LEAK
            elif act == TANH:
                for j in range(nout):
                    dout[j] *= 1 - hout[j] * hout[j]
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
def adam_update(theta, grad, m, v, t, hyper):
    """One Adam step (Kingma & Ba 2015, Algorithm 1) of the flat vector ``theta``.

    ``p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)``, the form PyTorch and
    ``sknets.nn.optimizers.Adam`` use.
    """
    lr = hyper[LR]
    b1 = hyper[BETA_1]
    b2 = hyper[BETA_2]
    eps = hyper[EPS]
    step = lr / (1.0 - b1 ** t)
    inv_c2 = 1.0 / (1.0 - b2 ** t)
    for p in range(theta.shape[0]):
        g = grad[p]
        m[p] = b1 * m[p] + (1.0 - b1) * g
        v[p] = b2 * v[p] + (1.0 - b2) * g * g
        theta[p] -= step * m[p] / (np.sqrt(v[p] * inv_c2) + eps)


@njit(cache=True)
def spectral_normalize(theta, layout, theta_sn, u, sigma, n_power):
    """Write ``W / sigma(W)`` for every layer's weight into ``theta_sn`` (biases
    copied).

    ``sigma`` is the largest singular value, estimated by ``n_power`` power iterations
    started from the persistent left vectors ``u`` (one slice of length ``n_in`` per
    layer at column offset ``layout[l, 4]``), as in Miyato et al. (2018).
    """
    for p in range(theta.shape[0]):
        theta_sn[p] = theta[p]
    for l in range(layout.shape[0]):
        nin = layout[l, 0]
        nout = layout[l, 1]
        wo = layout[l, 2]
        io = layout[l, 4]
        v = np.zeros(nout, dtype=theta.dtype)
        for _ in range(n_power):
            # v = W^T u / |W^T u|
            for j in range(nout):
                v[j] = 0
            for k in range(nin):
                for j in range(nout):
                    v[j] += theta[wo + k * nout + j] * u[io + k]
            nv = 0.0
            for j in range(nout):
                nv += v[j] * v[j]
            nv = np.sqrt(nv) + 1e-12
            for j in range(nout):
                v[j] /= nv
            # u = W v / |W v|
            nu = 0.0
            for k in range(nin):
                s = 0.0
                for j in range(nout):
                    s += theta[wo + k * nout + j] * v[j]
                u[io + k] = s
                nu += s * s
            nu = np.sqrt(nu) + 1e-12
            for k in range(nin):
                u[io + k] /= nu
        # sigma = u^T W v, with v recomputed from the final u
        for j in range(nout):
            v[j] = 0
        for k in range(nin):
            for j in range(nout):
                v[j] += theta[wo + k * nout + j] * u[io + k]
        nv = 0.0
        for j in range(nout):
            nv += v[j] * v[j]
        s = np.sqrt(nv)  # = u^T W v with v = W^T u / |W^T u|
        if s < 1e-12:
            s = 1e-12
        sigma[l] = s
        for p in range(nin * nout):
            theta_sn[wo + p] = theta[wo + p] / s


@njit(cache=True)
def spectral_backward(theta_sn, layout, grad, u, sigma):
    """Turn the gradient w.r.t. ``W / sigma`` into the gradient w.r.t. ``W`` in place.

    With ``sigma = u^T W v`` (u, v held fixed, as Miyato et al. do) the chain rule gives
    ``dL/dW = (G - <G, W_sn> u v^T) / sigma`` for ``G = dL/dW_sn``.
    """
    for l in range(layout.shape[0]):
        nin = layout[l, 0]
        nout = layout[l, 1]
        wo = layout[l, 2]
        io = layout[l, 4]
        s = sigma[l]
        # v = W_sn^T u * sigma / |.|: the unit right singular vector estimate
        v = np.zeros(nout, dtype=theta_sn.dtype)
        for k in range(nin):
            for j in range(nout):
                v[j] += theta_sn[wo + k * nout + j] * u[io + k]
        nv = 0.0
        for j in range(nout):
            nv += v[j] * v[j]
        nv = np.sqrt(nv) + 1e-12
        for j in range(nout):
            v[j] /= nv
        inner = 0.0
        for p in range(nin * nout):
            inner += grad[wo + p] * theta_sn[wo + p]
        for k in range(nin):
            for j in range(nout):
                p = wo + k * nout + j
                grad[p] = (grad[p] - inner * u[io + k] * v[j]) / s


@njit(cache=True)
def discriminator_loss_grad(logits_r, logits_f, dlogit_r, dlogit_f, loss_kind, target):
    """Discriminator loss with logits and its gradient (mean over each half).

    ``target`` is the real label after one-sided smoothing (1 - s).
    """
    nr = logits_r.shape[0]
    nf = logits_f.shape[0]
    loss = 0.0
    if loss_kind == WASSERSTEIN:
        for i in range(nr):
            loss -= logits_r[i] / nr
            dlogit_r[i] = -1.0 / nr
        for i in range(nf):
            loss += logits_f[i] / nf
            dlogit_f[i] = 1.0 / nf
        return loss
    for i in range(nr):
        a = logits_r[i]
        loss += (target * softplus(-a) + (1.0 - target) * softplus(a)) / nr
        dlogit_r[i] = (sigmoid(a) - target) / nr
    for i in range(nf):
        a = logits_f[i]
        loss += softplus(a) / nf
        dlogit_f[i] = sigmoid(a) / nf
    return loss


@njit(cache=True)
def generator_loss_grad(logits_f, dlogit_f, loss_kind):
    """Generator loss with logits and its gradient (mean over the batch)."""
    nf = logits_f.shape[0]
    loss = 0.0
    for i in range(nf):
        a = logits_f[i]
        if loss_kind == NON_SATURATING:
            loss += softplus(-a) / nf
            dlogit_f[i] = (sigmoid(a) - 1.0) / nf
        elif loss_kind == MINIMAX:
            loss -= softplus(a) / nf
            dlogit_f[i] = -sigmoid(a) / nf
        else:
            loss -= a / nf
            dlogit_f[i] = -1.0 / nf
    return loss


@njit(cache=True)
def train_epoch(X, perm, batch_size, noise_d, noise_g,
                theta_g, layout_g, m_g, v_g, grad_g, Hg, Dg,
                theta_d, layout_d, m_d, v_d, grad_d, Hd, Dd,
                theta_dsn, sn_u, sn_sigma, use_sn, theta_g_avg,
                loss_kind, k_steps, state, hyper, losses):
    """One pass over ``X`` in minibatches: discriminator steps, generator steps, Adam.

    Every minibatch of real rows (in ``perm`` order) gives one discriminator step
    against as many generated rows (noise ``noise_d[b]``). After every ``k_steps``
    discriminator steps (and once ``state[PRETRAIN_LEFT]`` pre-training steps are
    done) one generator step follows on noise ``noise_g[b]``. ``losses`` receives
    (sum of D losses, number of D steps, sum of G losses, number of G steps).
    After every generator update, ``theta_g_avg`` (an exponential moving average of
    G's parameters, Yazici et al. 2019) moves towards ``theta_g`` by ``1 - hyper[EMA]``.

    Returns 0, or 1 as soon as a loss is not finite (the parameters are then left as
    they were after the last finite step's update).
    """
    n = X.shape[0]
    nx = X.shape[1]
    nz = noise_d.shape[2]
    Lg = layout_g.shape[0]
    Ld = layout_d.shape[0]
    g_out = layout_g[Lg - 1, 4] + layout_g[Lg - 1, 0]
    d_out = layout_d[Ld - 1, 4] + layout_d[Ld - 1, 0]
    target = 1.0 - hyper[SMOOTHING]
    logits_r = np.empty(batch_size, dtype=theta_d.dtype)
    logits_f = np.empty(batch_size, dtype=theta_d.dtype)
    dl_r = np.empty(batch_size, dtype=theta_d.dtype)
    dl_f = np.empty(batch_size, dtype=theta_d.dtype)
    n_batches = (n + batch_size - 1) // batch_size
    for b in range(n_batches):
        start = b * batch_size
        nb = min(batch_size, n - start)
        # ---- discriminator step ----
        if use_sn:
            spectral_normalize(theta_d, layout_d, theta_dsn, sn_u, sn_sigma, 1)
            td = theta_dsn
        else:
            td = theta_d
        for i in range(nb):
            for c in range(nz):
                Hg[i, c] = noise_d[b, i, c]
        mlp_forward(theta_g, layout_g, Hg, nb)
        for i in range(nb):
            r = perm[start + i]
            for c in range(nx):
                Hd[i, c] = X[r, c]
                Hd[nb + i, c] = Hg[i, g_out + c]
        mlp_forward(td, layout_d, Hd, 2 * nb)
        for i in range(nb):
            logits_r[i] = Hd[i, d_out]
            logits_f[i] = Hd[nb + i, d_out]
        loss = discriminator_loss_grad(logits_r[:nb], logits_f[:nb], dl_r[:nb],
                                       dl_f[:nb], loss_kind, target)
        if not np.isfinite(loss):
            return 1
        losses[0] += loss
        losses[1] += 1
        for i in range(nb):
            Dd[i, d_out] = dl_r[i]
            Dd[nb + i, d_out] = dl_f[i]
        grad_d[:] = 0
        mlp_backward(td, grad_d, layout_d, Hd, Dd, 2 * nb, True, False)
        if use_sn:
            spectral_backward(theta_dsn, layout_d, grad_d, sn_u, sn_sigma)
        state[T_D] += 1
        adam_update(theta_d, grad_d, m_d, v_d, state[T_D], hyper)
        if state[PRETRAIN_LEFT] > 0:
            state[PRETRAIN_LEFT] -= 1
            continue
        state[D_SINCE_G] += 1
        if state[D_SINCE_G] < k_steps:
            continue
        state[D_SINCE_G] = 0
        # ---- generator step (D's parameters are not updated) ----
        if use_sn:
            spectral_normalize(theta_d, layout_d, theta_dsn, sn_u, sn_sigma, 1)
        for i in range(nb):
            for c in range(nz):
                Hg[i, c] = noise_g[b, i, c]
        mlp_forward(theta_g, layout_g, Hg, nb)
        for i in range(nb):
            for c in range(nx):
                Hd[i, c] = Hg[i, g_out + c]
        mlp_forward(td, layout_d, Hd, nb)
        for i in range(nb):
            logits_f[i] = Hd[i, d_out]
        loss = generator_loss_grad(logits_f[:nb], dl_f[:nb], loss_kind)
        if not np.isfinite(loss):
            return 1
        losses[2] += loss
        losses[3] += 1
        for i in range(nb):
            Dd[i, d_out] = dl_f[i]
        mlp_backward(td, grad_d, layout_d, Hd, Dd, nb, False, True)
        for i in range(nb):
            for c in range(nx):
                Dg[i, g_out + c] = Dd[i, c]
        grad_g[:] = 0
        mlp_backward(theta_g, grad_g, layout_g, Hg, Dg, nb, True, False)
        state[T_G] += 1
        adam_update(theta_g, grad_g, m_g, v_g, state[T_G], hyper)
        decay = hyper[EMA]
        for p in range(theta_g.shape[0]):
            theta_g_avg[p] = decay * theta_g_avg[p] + (1.0 - decay) * theta_g[p]
    return 0


@njit(cache=True)
def mlp_predict(theta, layout, X):
    """Forward pass of all rows of ``X`` (in chunks); returns the output columns."""
    L = layout.shape[0]
    out_col = layout[L - 1, 4] + layout[L - 1, 0]
    width = layout[L - 1, 4] + layout[L - 1, 0] + layout[L - 1, 1]
    nout = layout[L - 1, 1]
    n = X.shape[0]
    chunk = 256
    H = np.empty((chunk, width), dtype=theta.dtype)
    out = np.empty((n, nout), dtype=theta.dtype)
    for start in range(0, n, chunk):
        nb = min(chunk, n - start)
        for i in range(nb):
            for c in range(X.shape[1]):
                H[i, c] = X[start + i, c]
        mlp_forward(theta, layout, H, nb)
        for i in range(nb):
            for j in range(nout):
                out[start + i, j] = H[i, out_col + j]
    return out
