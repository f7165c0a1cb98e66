"""Tests of GANSampler and its compiled pieces: the GAN losses, the compiled
Dense/activation backend of sknets.nn (forward, backward, Adam), spectral
normalisation and the fused epoch against the numpy references of
tests/references/gan.py, the fused and the layer-object models against each other,
finite-difference gradients, the estimator's API and a reduced 1-D Gaussian check."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sknets import GANSampler
from sknets.gan import _kernels as K
from sknets.gan._models import (
    FusedGANModel, LayerGANModel, discriminator_loss, generator_loss,
)
from sknets.gan._networks import dcgan_discriminator, mlp
from sknets.nn import Adam, Dense, LeakyReLU, ReLU, Sequential, Sigmoid, Tanh
from sknets.nn import _fused_mlp as F
from sknets.nn.losses import sigmoid_cross_entropy
from sknets.nn.optimizers import make_solver
from sknets.nn.spectral_norm import SpectralNorm, normalize_weights, normalized_gradient

from tests.references import gan as R

LOSS_NAMES = list(R.LOSSES)
_ACT_NAMES = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "Tanh": "tanh",
              "Sigmoid": "sigmoid", "Identity": "identity"}


def _fd(f, x, eps=1e-6):
    """Central finite differences of the scalar function f at x (float64)."""
    g = np.zeros_like(x)
    for i in range(x.size):
        old = x.flat[i]
        x.flat[i] = old + eps
        fp = f()
        x.flat[i] = old - eps
        fm = f()
        x.flat[i] = old
        g.flat[i] = (fp - fm) / (2 * eps)
    return g


def _spec(net):
    """The reference's description of a built Dense/activation Sequential."""
    spec, start, layers = [], 0, list(net.layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense):
            nin, nout = layer.params[0].shape
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            name = _ACT_NAMES.get(type(nxt).__name__, "identity")
            slope = getattr(nxt, "negative_slope", 0.0)
            spec.append((start, nin, nout, name, slope))
        start += sum(p.size for p in layer.params)
    return spec


def _nets(rng, nz=2, nx=3, hidden=(4, 3), out="identity"):
    G = mlp(hidden, nx, "tanh", out).build((nz,), rng, np.float64)
    D = mlp(hidden, 1, "leaky_relu").build((nx,), rng, np.float64)
    G.flat_params += 0.1 * rng.standard_normal(G.flat_params.size)
    D.flat_params += 0.1 * rng.standard_normal(D.flat_params.size)
    return G, D


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_loss_gradients_finite_differences(loss, smoothing):
    rng = np.random.default_rng(0)
    l_r = rng.normal(size=7) * 3
    l_f = rng.normal(size=5) * 3
    t = 1 - smoothing
    value, g_r, g_f = discriminator_loss(l_r, l_f, loss, t)
    np.testing.assert_allclose(
        g_r, _fd(lambda: discriminator_loss(l_r, l_f, loss, t)[0], l_r), atol=1e-8)
    np.testing.assert_allclose(
        g_f, _fd(lambda: discriminator_loss(l_r, l_f, loss, t)[0], l_f), atol=1e-8)
    gv, gg = generator_loss(l_f, loss)
    np.testing.assert_allclose(gg, _fd(lambda: generator_loss(l_f, loss)[0], l_f),
                               atol=1e-8)
    # the numpy reference and the kernel's versions agree
    ref = R.discriminator_loss(l_r, l_f, loss, t)
    assert value == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(g_r, ref[1], rtol=1e-12)
    np.testing.assert_allclose(g_f, ref[2], rtol=1e-12)
    logits = np.concatenate([l_r, l_f])
    grads = np.empty(12)
    kv = K.discriminator_output_grads(logits, grads, 7, 5, K.LOSS_CODES[loss], t)
    assert kv == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(grads, np.concatenate([g_r, g_f]), rtol=1e-12)
    kg = np.empty(5)
    assert K.generator_output_grads(l_f, kg, 5, K.LOSS_CODES[loss]) == pytest.approx(
        gv, rel=1e-12)
    np.testing.assert_allclose(kg, gg, rtol=1e-12)
    np.testing.assert_allclose(gg, R.generator_loss(l_f, loss)[1], rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=20),
       st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=20),
       st.sampled_from(LOSS_NAMES), st.floats(0, 0.5))
def test_losses_stay_finite_and_bounded(l_r, l_f, loss, smoothing):
    l_r, l_f = np.array(l_r), np.array(l_f)
    value, g_r, g_f = discriminator_loss(l_r, l_f, loss, 1 - smoothing)
    gv, gg = generator_loss(l_f, loss)
    assert np.isfinite(value) and np.isfinite(gv)
    if loss != "wasserstein":
        assert value >= 0
    # each row's gradient is at most 1 / (rows of its half) in magnitude
    assert np.all(np.abs(g_r) <= 1 / len(l_r) + 1e-15)
    assert np.all(np.abs(g_f) <= 1 / len(l_f) + 1e-15)
    assert np.all(np.abs(gg) <= 1 / len(l_f) + 1e-15)


def test_loss_values_match_definitions():
    # -log D and log(1 - D) with D = sigmoid(logit)
    l_r, l_f = np.array([0.3, -1.2]), np.array([2.0, -0.5])
    d_r, d_f = 1 / (1 + np.exp(-l_r)), 1 / (1 + np.exp(-l_f))
    expected_d = -np.mean(np.log(d_r)) - np.mean(np.log(1 - d_f))
    assert discriminator_loss(l_r, l_f)[0] == pytest.approx(expected_d)
    assert generator_loss(l_f, "non-saturating")[0] == pytest.approx(
        -np.mean(np.log(d_f)))
    assert generator_loss(l_f, "minimax")[0] == pytest.approx(np.mean(np.log(1 - d_f)))
    assert generator_loss(l_f, "wasserstein")[0] == pytest.approx(-np.mean(l_f))
    # large logits stay finite
    big = np.array([800.0, -800.0])
    assert np.isfinite(discriminator_loss(big, big)[0])
    assert np.all(np.isfinite(generator_loss(big)[1]))


def test_compiled_sigmoid_cross_entropy_matches_nn():
    a = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 40.0, 1000.0])
    for target in (0.0, 0.9, 1.0):
        for v in a:
            value, grad = F.sigmoid_cross_entropy(v, target)
            ref_value, ref_grad = sigmoid_cross_entropy(np.array([v]), target)
            assert np.isfinite(value) and np.isfinite(grad)
            assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-300)
            assert grad == pytest.approx(ref_grad[0], rel=1e-12, abs=1e-300)
            assert value == pytest.approx(float(target * R.softplus(-v)
                                                 + (1 - target) * R.softplus(v)),
                                          rel=1e-12, abs=1e-12)


# ----------------------------------------------------- compiled Dense/activation stack
@pytest.mark.parametrize("act", [ReLU, LeakyReLU, Tanh, Sigmoid, None])
def test_fused_mlp_matches_reference_and_layers(act):
    rng = np.random.default_rng(1)
    hidden = [] if act is None else [act()] if act is not LeakyReLU else [act(0.2)]
    net = Sequential([Dense(5), *hidden, Dense(4), *copy.deepcopy(hidden), Dense(2),
                      Tanh()]).build((3,), rng, np.float64)
    assert F.is_compilable(net)
    spec = _spec(net)
    x = rng.normal(size=(6, 3))
    fused = F.compile_sequential(net, 6)
    fused.H[:, :3] = x
    F.forward(fused, 0, 6)
    outs = R.mlp_forward(net.flat_params, spec, x)
    np.testing.assert_allclose(fused.H[:, -2:], outs[-1], rtol=1e-12)
    np.testing.assert_allclose(net.forward(x, training=True), outs[-1], rtol=1e-12)
    grad_out = rng.normal(size=(6, 2))
    fused.dH[:, -2:] = grad_out
    net.flat_grads[:] = 0
    F.backward(fused, 0, 6, True, True)
    ref_grad, ref_dx = R.mlp_backward(net.flat_params, spec, outs, grad_out)
    np.testing.assert_allclose(fused.grads, ref_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fused.dH[:, :3], ref_dx, rtol=1e-10, atol=1e-12)
    # the layer objects give the same gradients
    layer_dx = net.backward(grad_out)
    np.testing.assert_allclose(net.flat_grads, ref_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer_dx, ref_dx, rtol=1e-10, atol=1e-12)
    # ... and the reference's backward is the true gradient of <grad_out, f(x)>
    theta = net.flat_params.copy()
    f = lambda: np.sum(R.mlp_forward(theta, spec, x)[-1] * grad_out)  # noqa: E731
    if act is not ReLU:  # relu kinks make finite differences unreliable
        np.testing.assert_allclose(ref_grad, _fd(f, theta), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ref_dx, _fd(f, x), rtol=1e-5, atol=1e-7)


def test_fused_mlp_refuses_other_layers():
    from sknets.nn import Dropout
    net = Sequential([Dense(3), Dropout(0.5), Dense(1)]).build((2,), 0)
    assert not F.is_compilable(net)
    with pytest.raises(ValueError, match="only Dense"):
        F.compile_sequential(net, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_adam_step_is_nn_adam(dtype):
    rng = np.random.default_rng(2)
    p1 = rng.normal(size=50).astype(dtype)
    g = np.zeros_like(p1)
    p2, g2 = p1.copy(), g.copy()
    nn_adam = Adam([(p1, g)], learning_rate=1e-2, beta_1=0.5, beta_2=0.99)
    fused_adam = Adam([(p2, g2)], learning_rate=1e-2, beta_1=0.5, beta_2=0.99)
    ref = [p1.astype(np.float64), np.zeros(50), np.zeros(50)]
    for t in range(1, 6):
        g[:] = g2[:] = rng.normal(size=50).astype(dtype)
        nn_adam.step()
        F.adam_step(F.adam_arrays(fused_adam), t, F.adam_settings(fused_adam))
        R.adam_update(ref[0], g.astype(np.float64), ref[1], ref[2], t, 1e-2, 0.5, 0.99,
                      1e-8)
        # the same float operations in the same order: identical numbers
        np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(nn_adam.ms[0], fused_adam.ms[0])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p2, ref[0], rtol=rtol)


# ------------------------------------------------------------------- spectral norm
def test_spectral_norm_sigma_and_gradient():
    rng = np.random.default_rng(3)
    net = mlp((6, 3), 1, "leaky_relu").build((4,), rng, np.float64)
    net.flat_params[:] = rng.normal(size=net.flat_params.size)
    theta = net.flat_params.copy()
    spec = _spec(net)
    sn = SpectralNorm(net, np.random.default_rng(0))
    assert sn.slices.shape == (3, 4)
    sn.normalize(500)
    for l, (wo, nin, nout, _, _) in enumerate(spec):
        W = theta[wo:wo + nin * nout].reshape(nin, nout)
        assert sn.sigma[l] == pytest.approx(np.linalg.norm(W, 2), rel=1e-6)
        assert np.linalg.norm(net.flat_params[wo:wo + nin * nout].reshape(nin, nout),
                              2) == pytest.approx(1.0, rel=1e-6)
    # biases are copied unchanged
    bo = spec[0][0] + spec[0][1] * spec[0][2]
    np.testing.assert_array_equal(net.flat_params[bo:bo + 6], theta[bo:bo + 6])
    # one power iteration, kernel versus numpy reference
    u = rng.normal(size=sn.u.size)
    u_ref = u.copy()
    out, sigma = np.empty_like(theta), np.empty(3)
    normalize_weights(theta, out, sn.slices, u, sigma, 1)
    ref_out, ref_sigmas = R._sn_all(theta, spec, u_ref)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10)
    np.testing.assert_allclose(sigma, ref_sigmas, rtol=1e-10)
    np.testing.assert_allclose(u, u_ref, rtol=1e-10)
    # gradient through W / sigma(W) with u held fixed, against finite differences
    G = rng.normal(size=theta.size)
    grad = G.copy()
    normalized_gradient(out, grad, sn.slices, u, sigma)
    u_fixed = u.copy()

    def f():
        res, uo = theta.copy(), 0
        for wo, nin, nout, _, _ in spec:
            W = theta[wo:wo + nin * nout].reshape(nin, nout)
            s = np.linalg.norm(W.T @ u_fixed[uo:uo + nin])  # u^T W v, v = W^T u/|W^T u|
            res[wo:wo + nin * nout] = (W / s).ravel()
            uo += nin
        return np.sum(res * G)

    np.testing.assert_allclose(grad, _fd(f, theta), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad, R._sn_grad_all(out, G, spec, u, sigma), rtol=1e-10)


def test_spectral_norm_of_conv_weights():
    """Conv kernels (F, C, K, K) are normalised as (F, C K K) matrices."""
    net = dcgan_discriminator((4, 8), (1, 8, 8)).build((64,), 0, np.float64)
    sn = SpectralNorm(net, np.random.default_rng(0))
    assert sn.slices.shape[0] == 3   # two convolutions and the dense logit
    for _ in range(60):
        sn.normalize()
    conv = net.layers[1]
    W = conv.params[0]
    assert np.linalg.norm(W.reshape(W.shape[0], -1), 2) == pytest.approx(1.0, rel=1e-4)
    state = sn.get_state()
    sn.raw[:] = 0
    sn.set_state(state)
    np.testing.assert_array_equal(sn.raw, state["raw"])


# ----------------------------------------------------------------- the fused epoch
def _models(model_cls, loss, *, k=1, pretrain=0, smoothing=0.0, gamma=0.0,
            solver="adam", seed=0):
    rng = np.random.default_rng(seed)
    G = mlp((5, 4), 3, "relu", "tanh").build((2,), rng, np.float64)
    D = mlp((6, 4), 1, "leaky_relu").build((3,), rng, np.float64)
    sn = SpectralNorm(D, rng) if loss == "wasserstein" else None
    g_opt = make_solver(solver, G.flat_parameters(), learning_rate_init=5e-3,
                        beta_1=0.5)
    d_opt = make_solver(solver, sn.parameters() if sn else D.flat_parameters(),
                        learning_rate_init=5e-3, beta_1=0.5)
    return model_cls(G, D, g_opt, d_opt, rng=rng, noise="normal", loss=loss,
                     target=1 - smoothing, discriminator_steps=k,
                     pretrain_steps=pretrain, penalty=gamma, penalty_step=1e-4,
                     ema_decay=0.9, spectral_norm=sn)


@pytest.mark.parametrize("loss,k_steps,pretrain,smoothing,gamma", [
    ("non-saturating", 1, 0, 0.0, 1.0), ("minimax", 2, 3, 0.1, 0.0),
    ("wasserstein", 3, 1, 0.0, 0.0)])
def test_gan_epoch_kernel_matches_numpy_replay(loss, k_steps, pretrain, smoothing,
                                               gamma):
    rng = np.random.default_rng(4)
    model = _models(FusedGANModel, loss, k=k_steps, pretrain=pretrain,
                    smoothing=smoothing, gamma=gamma)
    G, D, sn = model.G, model.D, model.sn
    d_raw = sn.raw if sn is not None else D.flat_params
    X = rng.normal(size=(37, 3))
    bs = 8
    ref_g = [G.flat_params.copy(), G.flat_params.copy() * 0, G.flat_params.copy() * 0]
    ref_d = [d_raw.copy(), d_raw.copy() * 0, d_raw.copy() * 0,
             sn.u.copy() if sn is not None else None]
    ref_counters = model.counters.copy()
    ref_avg = np.zeros_like(G.flat_params)
    ref_settings = dict(loss=loss, target=1 - smoothing, k=k_steps, gamma=gamma,
                        h=1e-4, ema=0.9, g_adam=(5e-3, 0.5, 0.999, 1e-8),
                        d_adam=(5e-3, 0.5, 0.999, 1e-8), average=ref_avg)
    spec_g, spec_d = _spec(G), _spec(D)
    model.set_data(X)
    for _ in range(2):  # two epochs: the state carries over
        order = rng.permutation(37)
        noise_rng = copy.deepcopy(model.rng)
        record = model.train_epoch(order, bs, lambda loss, b: None)
        noise = noise_rng.standard_normal((2, 5, bs, 2), dtype=np.float32)
        ref_losses = R.gan_epoch(
            X, order, noise.astype(np.float64),
            (ref_g[0], spec_g, ref_g[1], ref_g[2]),
            (ref_d[0], spec_d, ref_d[1], ref_d[2], ref_d[3]), ref_settings,
            ref_counters)
        sizes = np.minimum(bs, 37 - bs * np.arange(5))
        assert record["loss"] == pytest.approx(
            np.dot(sizes, ref_losses[:, 0]) / 37, rel=1e-9)
        assert record["gradient_penalty"] == pytest.approx(
            np.dot(sizes, ref_losses[:, 2]) / 37, rel=1e-7, abs=1e-12)
    np.testing.assert_array_equal(model.counters, ref_counters)
    assert model.counters[K.T_D] == 10 and model.d_opt.t == 10
    np.testing.assert_allclose(G.flat_params, ref_g[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(d_raw, ref_d[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.g_average, ref_avg, rtol=1e-8, atol=1e-10)
    assert model.counters[K.T_G] > 0 and not np.allclose(ref_avg, G.flat_params)
    if gamma > 0:
        assert record["gradient_penalty"] > 0


@pytest.mark.parametrize("loss,gamma", [("non-saturating", 1.0), ("minimax", 0.0),
                                        ("wasserstein", 0.0)])
def test_fused_and_layer_models_train_alike(loss, gamma):
    """The fused Numba epoch and the layer-object steps give the same training."""
    fused = _models(FusedGANModel, loss, k=2, pretrain=2, smoothing=0.1, gamma=gamma)
    layer = _models(LayerGANModel, loss, k=2, pretrain=2, smoothing=0.1, gamma=gamma)
    np.testing.assert_array_equal(fused.G.flat_params, layer.G.flat_params)
    X = np.random.default_rng(5).uniform(-1, 1, size=(50, 3))
    losses = []
    for model in (fused, layer):
        model.set_data(X)
        order_rng = np.random.default_rng(6)
        losses.append([model.train_epoch(order_rng.permutation(50), 16,
                                         lambda loss, b: None) for _ in range(2)])
    for a, b in zip(*losses):
        for key in ("loss", "generator_loss", "gradient_penalty"):
            assert a[key] == pytest.approx(b[key], rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(fused.G.flat_params, layer.G.flat_params, rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_allclose(fused.D.flat_params, layer.D.flat_params, rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_allclose(fused.averaged_generator_params(),
                               layer.averaged_generator_params(), rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(fused.counters, layer.counters)
    # the debiased average: decay 0.9 after t generator steps
    t = int(fused.counters[K.T_G])
    np.testing.assert_allclose(fused.averaged_generator_params(),
                               fused.g_average / (1 - 0.9 ** t), rtol=1e-12)


def test_gan_epoch_stops_on_non_finite_loss():
    model = _models(FusedGANModel, "non-saturating")
    model.D.flat_params[:] = np.nan
    model.set_data(np.random.default_rng(7).normal(size=(16, 3)))
    seen = []
    model.train_epoch(np.arange(16), 8, lambda loss, b: seen.append((loss, b)))
    assert len(seen) == 1 and not np.isfinite(seen[0][0])
    assert model.counters[K.T_D] == 0  # no step was taken from a NaN loss


def test_r1_penalty_gradient_is_the_second_order_one():
    """The difference quotient gives the exact gradient of gamma/2 mean |grad_x D|^2 for
    a leaky-relu discriminator (piecewise linear): against finite differences of the
    penalty itself."""
    rng = np.random.default_rng(8)
    D = mlp((6, 4), 1, "leaky_relu").build((3,), rng, np.float64)
    spec = _spec(D)
    theta = D.flat_params.copy()
    xr = rng.normal(size=(5, 3))

    def penalty():
        outs = R.mlp_forward(theta, spec, xr)
        _, gx = R.mlp_backward(theta, spec, outs, np.ones((5, 1)))
        return np.sum(gx ** 2) / (2 * 5)

    # the penalty's part of the discriminator's gradient in the reference epoch (and
    # in the kernel, tested against it above): rows x and x + h g/|g| weighted -+coef
    def d_grad(gamma):
        outs = R.mlp_forward(theta, spec, xr)
        _, gx = R.mlp_backward(theta, spec, outs, np.ones((5, 1)))
        norm = np.linalg.norm(gx, axis=1)
        h = 1e-5
        pert = xr + (h / norm)[:, None] * gx
        coef = gamma * norm / (5 * h)
        o2 = R.mlp_forward(theta, spec, np.concatenate([xr, pert]))
        g, _ = R.mlp_backward(theta, spec, o2, np.concatenate([-coef, coef])[:, None])
        return g

    np.testing.assert_allclose(d_grad(1.0), _fd(penalty, theta), rtol=1e-4, atol=1e-7)


# -------------------------------------------------------------------------- estimator
def _small(**kw):
    params = dict(generator_layer_sizes=(8,), discriminator_layer_sizes=(8,),
                  noise_dim=2, max_iter=3, batch_size=16, random_state=0)
    params.update(kw)
    return GANSampler(**params)


@pytest.fixture(scope="module")
def blob():
    rng = np.random.default_rng(0)
    return rng.normal([10.0, -200.0], [1.0, 20.0], size=(200, 2))


def _params(g):
    return g.generator_.flat_params


def test_reproducible_and_sample_scale(blob):
    a = _small(max_iter=20).fit(blob)
    b = _small(max_iter=20).fit(blob)
    np.testing.assert_array_equal(_params(a), _params(b))
    np.testing.assert_array_equal(a.sample(50), b.sample(50))
    assert not np.array_equal(a.sample(50, random_state=1),
                              a.sample(50, random_state=2))
    c = _small(max_iter=20, random_state=1).fit(blob)
    assert not np.array_equal(_params(a), _params(c))
    s = a.sample(500)
    assert s.shape == (500, 2) and s.dtype == np.float64
    # the samples are in the input's scale, not in the internal [-1, 1] range
    assert np.all(np.abs(s.mean(axis=0) - blob.mean(axis=0)) < 3 * blob.std(axis=0))
    assert np.abs(s[:, 1]).mean() > 50
    assert len(a.generator_loss_curve_) == len(a.discriminator_loss_curve_) == 20
    assert a.n_iter_ == 20 and a.t_ == 20 * 200
    assert np.all(np.isfinite(a.discriminator_loss_curve_))
    assert {"loss", "generator_loss", "gradient_penalty"} <= set(a.history_[-1])


def test_float32_kept(blob):
    g = _small().fit(blob.astype(np.float32))
    assert g.sample(5).dtype == np.float32
    assert g.score_samples(blob[:4]).shape == (4,)


def test_partial_fit_and_warm_start(blob):
    g = _small()
    g.partial_fit(blob)
    p1 = _params(g).copy()
    g.partial_fit(blob)
    assert g.n_iter_ == 2 and len(g.generator_loss_curve_) == 2
    assert not np.array_equal(p1, _params(g))
    # partial_fit x3 equals fit with max_iter=3 (same random stream)
    h = _small()
    for _ in range(3):
        h.partial_fit(blob)
    np.testing.assert_array_equal(_params(h), _params(_small().fit(blob)))
    w = _small(warm_start=True).fit(blob)
    before = _params(w).copy()
    w.fit(blob)
    assert w.n_iter_ == 6 and not np.array_equal(before, _params(w))
    with pytest.raises(ValueError, match="features"):
        g.partial_fit(blob[:, :1])


def test_divergence_is_reported_with_remedy(blob):
    g = _small().fit(blob)
    with pytest.raises(ValueError, match="learning_rate_init"):
        g.set_params(learning_rate_init=1e30, max_iter=5).fit(blob)
    with pytest.raises(NotFittedError):  # no diverged model is left behind
        g.sample(2)


def test_interrupted_fit_leaves_a_usable_estimator(blob):
    def stop(estimator, record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    g = _small(max_iter=10, callbacks=stop)
    with pytest.raises(KeyboardInterrupt):
        g.fit(blob)
    assert g.n_iter_ in (1, 2)
    assert np.all(np.isfinite(g.sample(5)))
    assert np.all(np.isfinite(g.score_samples(blob[:5])))


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_all_losses_and_options_train(blob, loss):
    g = _small(loss=loss, discriminator_steps=2, pretrain_steps=3, label_smoothing=0.1,
               noise="uniform", output_activation="tanh", max_iter=4).fit(blob)
    s = g.sample(100)
    assert np.all(np.isfinite(s))
    # tanh output keeps samples inside the range seen in fit
    assert np.all(s >= blob.min(axis=0) - 1e-6) and np.all(s <= blob.max(axis=0) + 1e-6)
    assert np.all(np.isfinite(g.score_samples(blob)))
    assert g.n_iter_ == 4


def test_bad_input_errors(blob):
    g = _small()
    with pytest.raises(NotFittedError):
        g.sample(3)
    with pytest.raises(NotFittedError):
        g.score_samples(blob)
    bad = blob.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        g.fit(bad)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        g.fit(bad)
    with pytest.raises(ValueError):
        g.fit(np.empty((0, 2)))
    with pytest.raises(ValueError):
        g.fit([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError):
        g.fit(blob[:, 0])
    g.fit(blob)
    with pytest.raises(ValueError, match="features"):
        g.score_samples(blob[:, :1])
    with pytest.raises(ValueError):
        g.sample(0)
    with pytest.raises(ValueError, match="generator_layer_sizes"):
        _small(generator_layer_sizes=(0,)).fit(blob)
    with pytest.raises(ValueError, match="loss"):
        _small(loss="hinge").fit(blob)


def test_verbose_prints_losses(blob, capsys):
    _small(verbose=1, max_iter=2).fit(blob)
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "epoch 2" in lines[1]
    for term in ("loss = ", "generator loss = ", "gradient penalty = ", "time = "):
        assert term in lines[1]


def test_pickle_and_clone(blob):
    g = _small().fit(blob)
    g2 = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(g.sample(10), g2.sample(10))
    np.testing.assert_array_equal(g.score_samples(blob), g2.score_samples(blob))
    # training goes on after unpickling exactly as without it
    g.partial_fit(blob)
    g2.partial_fit(blob)
    np.testing.assert_array_equal(_params(g), _params(g2))
    c = clone(g)
    assert not hasattr(c, "generator_")
    assert c.get_params() == g.get_params()


def _neg_ks_scorer(estimator, X, y=None):
    """Negative mean two-sample KS statistic over features: a GAN has no score()."""
    s = estimator.sample(len(X), random_state=0)
    return -np.mean([stats.ks_2samp(s[:, j], X[:, j]).statistic
                     for j in range(X.shape[1])])


def test_pipeline_and_gridsearch_n_jobs(blob):
    pipe = make_pipeline(FunctionTransformer(), _small())
    pipe.fit(blob)
    assert pipe.score_samples(blob).shape == (200,)
    grid = GridSearchCV(_small(),
                        {"max_iter": [1, 5], "loss": ["minimax", "wasserstein"]},
                        scoring=_neg_ks_scorer, cv=2, n_jobs=2)
    grid.fit(blob)
    scores = grid.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores <= 0) and np.all(scores > -1)
    # the two worker processes give exactly what one process gives
    serial = GridSearchCV(_small(), grid.param_grid, scoring=_neg_ks_scorer, cv=2,
                          n_jobs=1).fit(blob)
    np.testing.assert_array_equal(scores, serial.cv_results_["mean_test_score"])
    assert grid.best_params_ == serial.best_params_
    assert grid.best_estimator_.sample(3).shape == (3, 2)


def test_gaussian_1d_reduced():
    """A reduced version of benchmarks/bench_gan.py's check 1 (N(4, 0.5) from uniform
    noise, the default networks): 2,000 rows and 30 epochs instead of 5,000 and the
    default 200, looser bounds (GAN training is chaotic, and float rounding differs
    between CPUs). The full check (|mean err| < 0.1, |std err| < 0.1, KS < 0.05 on
    10,000 samples) runs there."""
    rng = np.random.default_rng(0)
    X = rng.normal(4.0, np.sqrt(0.5), size=(2_000, 1))
    g = GANSampler(noise="uniform", max_iter=30, random_state=0).fit(X)
    s = g.sample(10_000, random_state=1)[:, 0]
    assert abs(s.mean() - 4.0) < 0.2
    assert abs(s.std() - np.sqrt(0.5)) < 0.15
    assert stats.kstest(s, "norm", args=(4.0, np.sqrt(0.5))).statistic < 0.12
    # the untrained generator is far from it: the bounds above measure learning
    g0 = GANSampler(noise="uniform", max_iter=1, learning_rate_init=1e-7,
                    random_state=0).fit(X)
    s0 = g0.sample(10_000, random_state=1)[:, 0]
    assert stats.kstest(s0, "norm", args=(4.0, np.sqrt(0.5))).statistic > 0.3


# ------------------------------------------------------------------------- layer path
@pytest.mark.parametrize("loss", ["non-saturating", "wasserstein"])
def test_dcgan_variant_on_small_images(loss):
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 16, size=(40, 64))
    params = dict(generator_layer_sizes=(8, 4), discriminator_layer_sizes=(4, 8),
                  architecture="dcgan", output_activation="tanh", loss=loss,
                  noise_dim=4, batch_size=16, max_iter=2, random_state=0)
    g = GANSampler(**params).fit(X)
    assert isinstance(g._model, LayerGANModel)
    s = g.sample(5)
    assert s.shape == (5, 64) and np.all(np.isfinite(s))
    assert np.all(s >= -1e-6) and np.all(s <= 16 + 1e-6)
    scores = g.score_samples(X)
    assert scores.shape == (40,) and np.all(np.isfinite(scores))
    np.testing.assert_array_equal(s, GANSampler(**params).fit(X).sample(5))
    pickled = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(pickled.score_samples(X), scores)
    if loss == "wasserstein":
        # every critic weight (conv kernels as (F, C*K*K) matrices) is normalised
        sn = g._model.sn
        for _ in range(30):
            sn.normalize()
        for start, rows, cols, _ in sn.slices:
            W = g._model.D.flat_params[start:start + rows * cols].reshape(rows, cols)
            assert np.linalg.norm(W, 2) == pytest.approx(1.0, rel=1e-3)


def test_dcgan_image_shape_errors():
    X = np.zeros((10, 30))
    with pytest.raises(ValueError, match="image_shape"):
        GANSampler(architecture="dcgan").fit(X)
    with pytest.raises(ValueError, match="divisible by 4"):
        GANSampler(architecture="dcgan", image_shape=(5, 6)).fit(X)
    with pytest.raises(ValueError, match="does not match"):
        GANSampler(architecture="dcgan", image_shape=(4, 4)).fit(X)


@pytest.mark.parametrize("solver",
                         ["sgd", "momentum", "nesterov", "rmsprop", "adagrad"])
def test_other_solvers_use_the_layer_library(blob, solver):
    g = _small(solver=solver, learning_rate_init=1e-2).fit(blob)
    assert isinstance(g._model, LayerGANModel)
    before = _params(g).copy()
    g.partial_fit(blob)
    assert not np.array_equal(before, _params(g))
    assert np.all(np.isfinite(g.sample(20)))
    assert isinstance(_small().fit(blob)._model, FusedGANModel)


# ---------------------------------------------------------------------- check helpers
def test_check_helpers_measure_what_they_claim():
    from sknets.gan.metrics import frechet_distance, gaussian_metrics, make_ring, \
        ring_metrics

    X, centers = make_ring(4000, random_state=0)
    modes, hq = ring_metrics(X, centers)
    # a 2-D Gaussian puts 1 - exp(-4.5) = 98.9 % of its mass within 3 std
    assert modes == 8 and hq == pytest.approx(1 - np.exp(-4.5), abs=0.006)
    collapsed = np.repeat(centers[:1], 100, axis=0) + 0.01
    assert ring_metrics(collapsed, centers) == (1, 1.0)
    assert ring_metrics(np.zeros((50, 2)), centers) == (0, 0.0)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5000, 3))
    assert frechet_distance(A, A) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(A, A + [2.0, 0, 0]) == pytest.approx(4.0, rel=1e-6)
    mean, std, ks = gaussian_metrics(rng.normal(4, 0.5, size=20000), 4, 0.5)
    assert abs(mean - 4) < 0.02 and abs(std - 0.5) < 0.02 and ks < 0.02
    assert gaussian_metrics(rng.normal(5, 0.5, size=2000), 4, 0.5)[2] > 0.5


def test_constant_columns_sample_their_constant(blob):
    # a feature that never varies in X (e.g. the border pixels of digits) is that
    # value in every sample, not the constant plus the generator's output range
    X = np.column_stack([blob, np.full(len(blob), 3.0)])
    s = _small(max_iter=2).fit(X).sample(50, random_state=0)
    np.testing.assert_array_equal(s[:, 2], 3.0)
    assert s[:, :2].std(axis=0).min() > 0
