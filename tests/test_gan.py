"""Tests of GANSampler: losses, kernels against the numpy reference, finite-difference
gradients, the estimator's API and a reduced version of the 1-D Gaussian check."""

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
from sknets.gan import _reference as R
from sknets.gan._backends import (
    FusedMLPGAN, LayerGAN, build_layout, init_params, mlp_sequential,
)
from sknets.nn.upsample import Upsample2D
from sknets.gan._losses import discriminator_loss, generator_loss, sigmoid, softplus

LOSS_NAMES = ["non-saturating", "minimax", "wasserstein"]
LOSS_CODES = {"non-saturating": K.NON_SATURATING, "minimax": K.MINIMAX,
              "wasserstein": K.WASSERSTEIN}


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


def _tiny_nets(rng, nz=2, nx=3, hidden=(4, 3), g_act=K.TANH, d_act=K.LEAKY_RELU,
               out_act=K.IDENTITY):
    g_sizes = [nz, *hidden, nx]
    d_sizes = [nx, *hidden, 1]
    lg, pg, wg = build_layout(g_sizes, [g_act] * len(hidden) + [out_act])
    ld, pd, wd = build_layout(d_sizes, [d_act] * len(hidden) + [K.IDENTITY])
    tg = init_params(lg, pg, rng, np.float64) + 0.1 * rng.standard_normal(pg)
    td = init_params(ld, pd, rng, np.float64) + 0.1 * rng.standard_normal(pd)
    return (lg, tg, wg), (ld, td, wd)


# ----------------------------------------------------------------------------- losses
def test_stable_softplus_sigmoid():
    a = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 40.0, 1000.0])
    assert np.all(np.isfinite(softplus(a)))
    np.testing.assert_allclose(softplus(a[1:-1]), np.log1p(np.exp(a[1:-1])), rtol=1e-12)
    np.testing.assert_allclose(sigmoid(a[1:-1]), 1 / (1 + np.exp(-a[1:-1])), rtol=1e-12)
    assert sigmoid(a)[0] == 0.0 and sigmoid(a)[-1] == 1.0
    for v in a:
        assert K.softplus(v) == pytest.approx(float(softplus(v)), rel=1e-12, abs=1e-300)
        assert K.sigmoid(v) == pytest.approx(float(sigmoid(v)), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_loss_gradients_finite_differences(loss, smoothing):
    rng = np.random.default_rng(0)
    l_r = rng.normal(size=7) * 3
    l_f = rng.normal(size=5) * 3
    value, g_r, g_f = discriminator_loss(l_r, l_f, loss, smoothing)
    np.testing.assert_allclose(
        g_r, _fd(lambda: discriminator_loss(l_r, l_f, loss, smoothing)[0], l_r),
        atol=1e-8)
    np.testing.assert_allclose(
        g_f, _fd(lambda: discriminator_loss(l_r, l_f, loss, smoothing)[0], l_f),
        atol=1e-8)
    gv, gg = generator_loss(l_f, loss)
    np.testing.assert_allclose(gg, _fd(lambda: generator_loss(l_f, loss)[0], l_f),
                               atol=1e-8)
    # the kernel's versions agree with numpy
    kr, kf = np.empty(7), np.empty(5)
    kv = K.discriminator_loss_grad(l_r, l_f, kr, kf, LOSS_CODES[loss], 1.0 - smoothing)
    smooth = 0.0 if loss == "wasserstein" else smoothing
    assert kv == pytest.approx(discriminator_loss(l_r, l_f, loss, smooth)[0], rel=1e-12)
    np.testing.assert_allclose(kr, g_r, rtol=1e-12)
    np.testing.assert_allclose(kf, g_f, rtol=1e-12)
    kg = np.empty(5)
    assert K.generator_loss_grad(l_f, kg, LOSS_CODES[loss]) == pytest.approx(gv,
                                                                             rel=1e-12)
    np.testing.assert_allclose(kg, gg, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=20),
       st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=20),
       st.sampled_from(LOSS_NAMES), st.floats(0, 0.5))
def test_losses_stay_finite_and_bounded(l_r, l_f, loss, smoothing):
    l_r, l_f = np.array(l_r), np.array(l_f)
    value, g_r, g_f = discriminator_loss(l_r, l_f, loss, smoothing)
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


# ---------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("act", [K.RELU, K.LEAKY_RELU, K.TANH, K.IDENTITY])
def test_mlp_kernels_match_reference(act):
    rng = np.random.default_rng(1)
    layout, n_params, width = build_layout([3, 5, 4, 2], [act, act, K.TANH])
    theta = init_params(layout, n_params, rng, np.float64)
    x = rng.normal(size=(6, 3))
    H = np.zeros((6, width))
    H[:, :3] = x
    K.mlp_forward(theta, layout, H, 6)
    outs = R.mlp_forward(theta, layout, x)
    np.testing.assert_allclose(H[:, -2:], outs[-1], rtol=1e-12)
    np.testing.assert_allclose(K.mlp_predict(theta, layout, x), outs[-1], rtol=1e-12)
    grad_out = rng.normal(size=(6, 2))
    D = np.zeros_like(H)
    D[:, -2:] = grad_out
    grad = np.zeros_like(theta)
    K.mlp_backward(theta, grad, layout, H, D, 6, True, True)
    ref_grad, ref_dx = R.mlp_backward(theta, layout, outs, grad_out)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(D[:, :3], ref_dx, rtol=1e-10, atol=1e-12)
    # ... and the reference's backward is the true gradient of <grad_out, f(x)>
    f = lambda: np.sum(R.mlp_forward(theta, layout, x)[-1] * grad_out)  # noqa: E731
    if act != K.RELU:  # relu kinks make finite differences unreliable
        np.testing.assert_allclose(ref_grad, _fd(f, theta), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ref_dx, _fd(f, x), rtol=1e-5, atol=1e-7)


def _d_loss_and_grad(td, ld, wd, xr, xf, loss, smoothing):
    """Kernel path: D loss and its gradient w.r.t. D's parameters."""
    nb = xr.shape[0]
    H = np.zeros((2 * nb, wd))
    H[:nb, :xr.shape[1]] = xr
    H[nb:, :xr.shape[1]] = xf
    K.mlp_forward(td, ld, H, 2 * nb)
    dl_r, dl_f = np.empty(nb), np.empty(nb)
    value = K.discriminator_loss_grad(H[:nb, -1].copy(), H[nb:, -1].copy(), dl_r, dl_f,
                                      LOSS_CODES[loss], 1 - smoothing)
    D = np.zeros_like(H)
    D[:nb, -1], D[nb:, -1] = dl_r, dl_f
    grad = np.zeros_like(td)
    K.mlp_backward(td, grad, ld, H, D, 2 * nb, True, False)
    return value, grad


def _g_loss_and_grad(tg, lg, wg, td, ld, wd, z, loss):
    """Kernel path: G loss (through D) and its gradient w.r.t. G's parameters."""
    nb, nx = z.shape[0], int(lg[-1, 1])
    Hg = np.zeros((nb, wg))
    Hg[:, :z.shape[1]] = z
    K.mlp_forward(tg, lg, Hg, nb)
    Hd = np.zeros((nb, wd))
    Hd[:, :nx] = Hg[:, -nx:]
    K.mlp_forward(td, ld, Hd, nb)
    dl = np.empty(nb)
    value = K.generator_loss_grad(Hd[:, -1].copy(), dl, LOSS_CODES[loss])
    Dd = np.zeros_like(Hd)
    Dd[:, -1] = dl
    unused = np.zeros_like(td)
    K.mlp_backward(td, unused, ld, Hd, Dd, nb, False, True)
    assert np.all(unused == 0)  # D's parameters get no gradient in the G step
    Dg = np.zeros_like(Hg)
    Dg[:, -nx:] = Dd[:, :nx]
    grad = np.zeros_like(tg)
    K.mlp_backward(tg, grad, lg, Hg, Dg, nb, True, False)
    return value, grad


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_network_parameter_gradients_finite_differences(loss):
    rng = np.random.default_rng(2)
    (lg, tg, wg), (ld, td, wd) = _tiny_nets(rng)
    xr = rng.normal(size=(5, 3))
    z = rng.normal(size=(5, 2))
    xf = R.mlp_forward(tg, lg, z)[-1]
    # discriminator's parameters
    value, grad = _d_loss_and_grad(td, ld, wd, xr, xf, loss, 0.1)
    fd = _fd(lambda: _d_loss_and_grad(td, ld, wd, xr, xf, loss, 0.1)[0], td)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    # generator's parameters, the loss flowing back through D
    value, grad = _g_loss_and_grad(tg, lg, wg, td, ld, wd, z, loss)
    fd = _fd(lambda: _g_loss_and_grad(tg, lg, wg, td, ld, wd, z, loss)[0], tg)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    assert np.abs(grad).max() > 1e-4  # a real gradient, not zeros


def test_spectral_norm_sigma_and_gradient():
    rng = np.random.default_rng(3)
    layout, n_params, width = build_layout([4, 6, 3, 1], [K.LEAKY_RELU] * 2 + [0])
    theta = rng.normal(size=n_params)
    u = rng.normal(size=width)
    theta_sn, sigma = np.empty_like(theta), np.empty(3)
    K.spectral_normalize(theta, layout, theta_sn, u, sigma, 50)
    for l, (nin, nout, wo) in enumerate(layout[:, :3]):
        W = theta[wo:wo + nin * nout].reshape(nin, nout)
        assert sigma[l] == pytest.approx(np.linalg.norm(W, 2), rel=1e-6)
        Wsn = theta_sn[wo:wo + nin * nout].reshape(nin, nout)
        assert np.linalg.norm(Wsn, 2) == pytest.approx(1.0, rel=1e-6)
    # one power iteration, kernel versus numpy reference
    u1, u2 = rng.normal(size=width), None
    u2 = u1.copy()
    K.spectral_normalize(theta, layout, theta_sn, u1, sigma, 1)
    ref_sn, ref_sigma = R.spectral_normalize(theta, layout, u2, 1)
    np.testing.assert_allclose(theta_sn, ref_sn, rtol=1e-10)
    np.testing.assert_allclose(u1, u2, rtol=1e-10)
    # gradient through W / sigma(W) with u held fixed, against finite differences
    G = rng.normal(size=n_params)
    grad = G.copy()
    K.spectral_backward(theta_sn, layout, grad, u1, sigma)
    u_fixed = u1.copy()

    def f():
        out = theta.copy()
        for nin, nout, wo, _, io, _ in layout:
            W = theta[wo:wo + nin * nout].reshape(nin, nout)
            uu = u_fixed[io:io + nin]
            s = np.linalg.norm(W.T @ uu)  # = u^T W v with v = W^T u / |W^T u|
            out[wo:wo + nin * nout] = (W / s).ravel()
        return np.sum(out * G)

    np.testing.assert_allclose(grad, _fd(f, theta), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        grad, R.spectral_backward(theta_sn, layout, G, u1, sigma), rtol=1e-10)


@pytest.mark.parametrize("loss,k_steps,pretrain,smoothing", [
    ("non-saturating", 1, 0, 0.0), ("minimax", 2, 3, 0.1), ("wasserstein", 3, 1, 0.0)])
def test_train_epoch_kernel_matches_numpy_replay(loss, k_steps, pretrain, smoothing):
    rng = np.random.default_rng(4)
    (lg, tg, wg), (ld, td, wd) = _tiny_nets(rng, out_act=K.TANH)
    X = rng.normal(size=(37, 3))
    bs = 8
    nbatch = 5
    perm = rng.permutation(37).astype(np.int64)
    noise_d = rng.normal(size=(nbatch, bs, 2))
    noise_g = rng.normal(size=(nbatch, bs, 2))
    hyper = np.array([1e-2, 0.5, 0.999, 1e-8, smoothing, 0.9])
    use_sn = loss == "wasserstein"
    u = rng.normal(size=wd)

    def run(kernel):
        t_g, t_d = tg.copy(), td.copy()
        mg, vg, md, vd = (np.zeros_like(t_g), np.zeros_like(t_g), np.zeros_like(t_d),
                          np.zeros_like(t_d))
        state = np.array([0, 0, 0, pretrain], dtype=np.int64)
        losses = np.zeros(4)
        uu = u.copy()
        avg = t_g.copy()
        for _ in range(2):  # two epochs: the state carries over
            if kernel:
                st = K.train_epoch(X, perm, bs, noise_d, noise_g, t_g, lg, mg, vg,
                                   np.zeros_like(t_g), np.zeros((bs, wg)),
                                   np.zeros((bs, wg)), t_d, ld, md, vd,
                                   np.zeros_like(t_d), np.zeros((2 * bs, wd)),
                                   np.zeros((2 * bs, wd)), np.zeros_like(t_d), uu,
                                   np.ones(ld.shape[0]), use_sn, avg, LOSS_CODES[loss],
                                   k_steps, state, hyper, losses)
            else:
                st = R.train_epoch(X, perm, bs, noise_d, noise_g, t_g, lg, mg, vg, t_d,
                                   ld, md, vd, uu, use_sn, avg, LOSS_CODES[loss],
                                   k_steps, state, hyper, losses)
            assert st == 0
        return t_g, t_d, state, losses, avg

    kg, kd, kstate, klosses, kavg = run(True)
    rg, rd, rstate, rlosses, ravg = run(False)
    np.testing.assert_allclose(kavg, ravg, rtol=1e-8, atol=1e-10)
    assert not np.allclose(kavg, kg)
    np.testing.assert_array_equal(kstate, rstate)
    assert kstate[K.T_D] == 10
    np.testing.assert_allclose(klosses, rlosses, rtol=1e-9)
    np.testing.assert_allclose(kg, rg, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(kd, rd, rtol=1e-8, atol=1e-10)
    assert not np.allclose(kg, tg) and not np.allclose(kd, td)  # both were trained


def test_train_epoch_stops_on_non_finite_loss():
    rng = np.random.default_rng(5)
    (lg, tg, wg), (ld, td, wd) = _tiny_nets(rng)
    td[:] = np.nan
    X = rng.normal(size=(16, 3))
    st = K.train_epoch(X, np.arange(16), 8, rng.normal(size=(2, 8, 2)),
                       rng.normal(size=(2, 8, 2)), tg, lg, np.zeros_like(tg),
                       np.zeros_like(tg), np.zeros_like(tg), np.zeros((8, wg)),
                       np.zeros((8, wg)), td, ld, np.zeros_like(td), np.zeros_like(td),
                       np.zeros_like(td), np.zeros((16, wd)), np.zeros((16, wd)),
                       np.zeros_like(td), np.ones(wd), np.ones(3), False, tg.copy(),
                       0, 1,
                       np.zeros(4, dtype=np.int64),
                       np.array([1e-3, .5, .999, 1e-8, 0., 0.]), np.zeros(4))
    assert st == 1


@pytest.mark.parametrize("loss", ["non-saturating", "wasserstein"])
def test_fused_step_matches_layer_library_path(loss):
    """The fused Numba epoch and the generic sknets.nn path give the same training."""
    rng = np.random.default_rng(6)
    g_sizes, g_acts = [2, 5, 4, 3], [K.RELU, K.RELU, K.TANH]
    d_sizes, d_acts = [3, 6, 4, 1], [K.LEAKY_RELU, K.LEAKY_RELU, K.IDENTITY]
    use_sn = loss == "wasserstein"
    fused = FusedMLPGAN(g_sizes, g_acts, d_sizes, d_acts, np.random.default_rng(0),
                        use_sn=use_sn, pretrain=2, dtype=np.float64)
    layer = LayerGAN(mlp_sequential(g_sizes, g_acts), mlp_sequential(d_sizes, d_acts),
                     2, 3, np.random.default_rng(1), solver="adam",
                     opt_kwargs=dict(learning_rate=5e-3, beta_1=0.5, beta_2=0.999,
                                     epsilon=1e-8),
                     use_sn=use_sn, pretrain=2, dtype=np.float64)
    # same starting point
    layer.G.flat_params[:] = fused.theta_g
    np.testing.assert_array_equal(fused.theta_g_avg, 0)
    np.testing.assert_array_equal(layer.g_avg, 0)
    if use_sn:
        layer.d_raw[:] = fused.theta_d
        for (a, b, shape, u), io in zip(layer.sn, fused.ld[:, 4]):
            u[:] = fused.sn_u[io:io + shape[0]]
    else:
        layer.D.flat_params[:] = fused.theta_d
    X = rng.uniform(-1, 1, size=(50, 3))
    hyper = np.array([5e-3, 0.5, 0.999, 1e-8, 0.1, 0.9])
    for _ in range(2):
        perm = rng.permutation(50).astype(np.int64)
        nz_d, nz_g = rng.normal(size=(2, 4, 16, 2))
        out = []
        for engine in (fused, layer):
            losses = np.zeros(4)
            assert engine.run_epoch(X, perm, 16, nz_d, nz_g, hyper, LOSS_CODES[loss], 2,
                                    losses) == 0
            out.append(losses)
        np.testing.assert_allclose(out[0], out[1], rtol=1e-9)
    for key in ("generator", "discriminator"):
        np.testing.assert_allclose(fused.params()[key], layer.params()[key], rtol=1e-8,
                                   atol=1e-10)
    np.testing.assert_allclose(fused.theta_g_avg, layer.g_avg, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(fused.state, layer.state)
    fused.finish()
    layer.finish()
    np.testing.assert_allclose(fused.discriminate(X), layer.discriminate(X), rtol=1e-7)
    z = rng.normal(size=(7, 2))
    np.testing.assert_allclose(fused.generate(z, 0.9), layer.generate(z, 0.9),
                               rtol=1e-8)
    np.testing.assert_allclose(fused.generate(z, 0.0), layer.generate(z, 0.0),
                               rtol=1e-8)
    # the debiased average: with decay 0.9 after t generator steps
    t = fused.state[K.T_G]
    expected = R.mlp_forward(fused.theta_g_avg / (1 - 0.9 ** t), fused.lg, z)[-1]
    np.testing.assert_allclose(fused.generate(z, 0.9), expected, rtol=1e-10)


def test_upsample_layer_gradient():
    up = Upsample2D(2)
    assert up.build((3, 2, 4), None, np.float64) == (3, 4, 8)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, 2, 4))
    y = up.forward(x)
    assert y.shape == (2, 3, 4, 8)
    np.testing.assert_array_equal(y[:, :, ::2, ::2], x)
    np.testing.assert_array_equal(y[:, :, 1::2, 1::2], x)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(up.backward(g),
                               _fd(lambda: np.sum(up.forward(x) * g), x), rtol=1e-6)


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


def test_reproducible_and_sample_scale(blob):
    a = _small(max_iter=20).fit(blob)
    b = _small(max_iter=20).fit(blob)
    np.testing.assert_array_equal(a.generator_params_, b.generator_params_)
    np.testing.assert_array_equal(a.sample(50), b.sample(50))
    assert not np.array_equal(a.sample(50, random_state=1),
                              a.sample(50, random_state=2))
    c = _small(max_iter=20, random_state=1).fit(blob)
    assert not np.array_equal(a.generator_params_, c.generator_params_)
    s = a.sample(500)
    assert s.shape == (500, 2) and s.dtype == np.float64
    # the samples are in the input's scale, not in the internal [-1, 1] range
    assert np.all(np.abs(s.mean(axis=0) - blob.mean(axis=0)) < 3 * blob.std(axis=0))
    assert np.abs(s[:, 1]).mean() > 50
    assert len(a.generator_loss_curve_) == len(a.discriminator_loss_curve_) == 20
    assert a.n_iter_ == 20
    assert np.all(np.isfinite(a.discriminator_loss_curve_))


def test_float32_kept(blob):
    g = _small().fit(blob.astype(np.float32))
    assert g.sample(5).dtype == np.float32
    assert g.score_samples(blob[:4]).shape == (4,)


def test_partial_fit_and_warm_start(blob):
    g = _small()
    g.partial_fit(blob)
    p1 = g.generator_params_.copy()
    g.partial_fit(blob)
    assert g.n_iter_ == 2 and len(g.generator_loss_curve_) == 2
    assert not np.array_equal(p1, g.generator_params_)
    # partial_fit x3 equals fit with max_iter=3 (same random stream)
    h = _small()
    for _ in range(3):
        h.partial_fit(blob)
    np.testing.assert_array_equal(h.generator_params_,
                                  _small().fit(blob).generator_params_)
    w = _small(warm_start=True).fit(blob)
    before = w.generator_params_.copy()
    w.fit(blob)
    assert w.n_iter_ == 6 and not np.array_equal(before, w.generator_params_)
    with pytest.raises(ValueError, match="features"):
        g.partial_fit(blob[:, :1])


def test_divergence_is_reported_with_remedy(blob):
    g = _small().fit(blob)
    with pytest.raises(ValueError, match="learning_rate_init"):
        g.set_params(learning_rate_init=1e30, max_iter=5).fit(blob)
    with pytest.raises(NotFittedError):  # no diverged model is left behind
        g.sample(2)


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
    assert "Epoch 2" in out and "generator loss" in out and "time" in out


def test_pickle_and_clone(blob):
    g = _small().fit(blob)
    g2 = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(g.sample(10), g2.sample(10))
    np.testing.assert_array_equal(g.score_samples(blob), g2.score_samples(blob))
    c = clone(g)
    assert not hasattr(c, "generator_params_")
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
    noise, 16-16 MLPs): 25 epochs instead of 100, looser bounds (GAN training is
    chaotic, and float rounding differs between CPUs). The full check (100 epochs,
    |mean err| < 0.1, |std err| < 0.1, KS < 0.05 on 10,000 samples) runs there."""
    rng = np.random.default_rng(0)
    X = rng.normal(4.0, np.sqrt(0.5), size=(10_000, 1))
    g = GANSampler((16, 16), (16, 16), noise="uniform", noise_dim=1,
                   learning_rate_init=1e-3, discriminator_steps=3, max_iter=25,
                   random_state=0).fit(X)
    s = g.sample(10_000, random_state=1)[:, 0]
    assert abs(s.mean() - 4.0) < 0.2
    assert abs(s.std() - np.sqrt(0.5)) < 0.15
    assert stats.kstest(s, "norm", args=(4.0, np.sqrt(0.5))).statistic < 0.12
    # the untrained generator is far from it: the bounds above measure learning
    g0 = GANSampler((16, 16), (16, 16), noise="uniform", noise_dim=1, max_iter=1,
                    learning_rate_init=1e-6, random_state=0).fit(X)
    s0 = g0.sample(10_000, random_state=1)[:, 0]
    assert stats.kstest(s0, "norm", args=(4.0, np.sqrt(0.5))).statistic > 0.3


# ------------------------------------------------------------------------- layer path
@pytest.mark.parametrize("loss", ["non-saturating", "wasserstein"])
def test_dcgan_variant_on_small_images(loss):
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 16, size=(40, 64))
    g = GANSampler(generator_layer_sizes=(8, 4), discriminator_layer_sizes=(4, 8),
                   architecture="dcgan", output_activation="tanh", loss=loss,
                   noise_dim=4, batch_size=16, max_iter=2, random_state=0).fit(X)
    s = g.sample(5)
    assert s.shape == (5, 64) and np.all(np.isfinite(s))
    assert np.all(s >= -1e-6) and np.all(s <= 16 + 1e-6)
    scores = g.score_samples(X)
    assert scores.shape == (40,) and np.all(np.isfinite(scores))
    g2 = GANSampler(generator_layer_sizes=(8, 4), discriminator_layer_sizes=(4, 8),
                    architecture="dcgan", output_activation="tanh", loss=loss,
                    noise_dim=4, batch_size=16, max_iter=2, random_state=0).fit(X)
    np.testing.assert_array_equal(s, g2.sample(5))
    pickled = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(pickled.score_samples(X), scores)
    if loss == "wasserstein":
        # every critic weight (conv kernels as (F, C*K*K) matrices) is normalised
        engine = g._engine
        for _ in range(30):
            engine._normalize()
        for a, b, shape, _ in engine.sn:
            W = engine.D.flat_params[a:b].reshape(shape)
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
    assert isinstance(g._engine, LayerGAN)
    before = g.generator_params_.copy()
    g.partial_fit(blob)
    assert not np.array_equal(before, g.generator_params_)
    assert np.all(np.isfinite(g.sample(20)))
    assert isinstance(_small().fit(blob)._engine, FusedMLPGAN)


# ---------------------------------------------------------------------- check helpers
def test_check_helpers_measure_what_they_claim():
    from sknets.gan._checks import frechet_distance, gaussian_metrics, make_ring, \
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
