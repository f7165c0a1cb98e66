"""VariationalAutoencoder and VAEClassifier: the ELBO's maths and gradients, the
scikit-learn API, bad input, divergence, reproducibility."""

import pickle
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sknets import VAEClassifier, VariationalAutoencoder
from sknets.nn import Sequential, make_optimizer
from sknets.utils._divergence import DivergenceError
from sknets.vae import _elbo
from sknets.vae._classifier import M2Model
from sknets.vae._networks import (
    FeatureParameter,
    classifier_layers,
    decoder_layers,
    encoder_layers,
)
from sknets.vae._vae import VAEModel, evaluate_elbo


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:600], y[:600], X[600:900], y[600:900]


def fast_vae(**kw):
    params = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=5, batch_size=50,
                  random_state=0)
    params.update(kw)
    return VariationalAutoencoder(**params)


def fast_clf(**kw):
    # tiny networks and few epochs: the default step size (for the benchmark's
    # networks) would leave them undertrained
    params = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=5, batch_size=50,
                  learning_rate_init=0.01, random_state=0)
    params.update(kw)
    return VAEClassifier(**params)


# --------------------------------------------------------------------------- maths


def test_kl_against_monte_carlo():
    rng = np.random.default_rng(0)
    mu = np.array([[0.5, -1.0, 2.0]])
    logvar = np.array([[-1.0, 0.3, 0.8]])
    kl = _elbo.kl_standard_normal(mu, logvar)[0][0]
    std = np.exp(0.5 * logvar[0])
    z = mu[0] + std * rng.standard_normal((400_000, 3))
    log_q = stats.norm.logpdf(z, mu[0], std).sum(axis=1)
    log_p = stats.norm.logpdf(z).sum(axis=1)
    mc = log_q - log_p
    assert abs(mc.mean() - kl) < 4 * mc.std() / np.sqrt(len(mc))
    assert abs(mc.mean() - kl) < 0.01 * kl


def test_kl_gradients_and_zero_at_prior():
    mu, logvar = np.zeros((2, 3)), np.zeros((2, 3))
    kl, d_mu, d_lv = _elbo.kl_standard_normal(mu, logvar)
    np.testing.assert_array_equal(kl, 0)
    rng = np.random.default_rng(1)
    mu, logvar = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    kl, d_mu, d_lv = _elbo.kl_standard_normal(mu, logvar)
    h = 1e-6
    for arr, grad in ((mu, d_mu), (logvar, d_lv)):
        for idx in np.ndindex(arr.shape):
            arr[idx] += h
            up = _elbo.kl_standard_normal(mu, logvar)[0][idx[0]]
            arr[idx] -= 2 * h
            down = _elbo.kl_standard_normal(mu, logvar)[0][idx[0]]
            arr[idx] += h
            assert abs((up - down) / (2 * h) - grad[idx]) < 1e-6


def test_likelihoods_against_scipy():
    rng = np.random.default_rng(2)
    x = rng.random((5, 4))
    logits = rng.normal(scale=3, size=(5, 4))
    ll, d = _elbo.bernoulli_log_likelihood(logits, x)
    p = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(ll, (x * np.log(p) + (1 - x) * np.log1p(-p)).sum(1))
    np.testing.assert_allclose(d, x - p)
    # binary x: the Bernoulli pmf
    xb = (x > 0.5).astype(float)
    np.testing.assert_allclose(_elbo.bernoulli_log_likelihood(logits, xb)[0],
                               stats.bernoulli.logpmf(xb, p).sum(1))
    # huge logits stay finite
    assert np.isfinite(_elbo.bernoulli_log_likelihood(np.array([[800.0, -800.0]]),
                                                      np.array([[0.3, 0.7]]))[0]).all()
    mean = rng.normal(size=(5, 4))
    log_var = rng.normal(size=4)
    ll, d_mean, d_lv = _elbo.gaussian_log_likelihood(mean, log_var, x)
    np.testing.assert_allclose(
        ll, stats.norm.logpdf(x, mean, np.exp(0.5 * log_var)).sum(1))
    np.testing.assert_allclose(d_mean, (x - mean) / np.exp(log_var))
    h = 1e-6
    up = _elbo.gaussian_log_likelihood(mean, log_var + np.eye(4)[1] * h, x)[0]
    down = _elbo.gaussian_log_likelihood(mean, log_var - np.eye(4)[1] * h, x)[0]
    np.testing.assert_allclose((up - down) / (2 * h), d_lv[:, 1], rtol=1e-6)


def test_unlabelled_bound_is_expectation_plus_entropy_and_its_gradient():
    rng = np.random.default_rng(3)
    bounds = rng.normal(size=(4, 3)) * 5
    logits = rng.normal(size=(4, 3))

    def U_of(b, a):
        log_q = a - np.log(np.exp(a).sum(1, keepdims=True))
        return _elbo.unlabelled_bound(b, log_q)

    U, d_b, d_a = U_of(bounds, logits)
    q = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(U, (q * bounds).sum(1) + stats.entropy(q, axis=1))
    np.testing.assert_allclose(d_b, q)
    h = 1e-6
    for idx in np.ndindex(logits.shape):
        e = np.zeros_like(logits)
        e[idx] = h
        fd = (U_of(bounds, logits + e)[0] - U_of(bounds, logits - e)[0]) / (2 * h)
        np.testing.assert_allclose(fd[idx[0]], d_a[idx], rtol=1e-5, atol=1e-8)
    # the bound is at most log sum_y exp L(x, y), reached when q is the posterior
    lse = np.log(np.exp(bounds).sum(1))
    assert np.all(U <= lse + 1e-12)
    post = bounds - lse[:, None]
    np.testing.assert_allclose(_elbo.unlabelled_bound(bounds, post)[0], lse)


# --------------------------------------------------------------------------- gradients


class FixedNoise:
    """Stands in for the Generator: the same standard-normal draws at every call."""

    def __init__(self, seed=0):
        self.seed = seed

    def standard_normal(self, shape, dtype=np.float64):
        return np.random.default_rng(self.seed).standard_normal(shape).astype(dtype)


def _finite_difference_check(loss_fn, flat_params, flat_grads, n_checks=40, seed=0,
                             h=1e-5, rtol=1e-4):
    """Compare ``flat_grads`` (after loss_fn()) with central differences of loss_fn
    at ``n_checks`` random coordinates of ``flat_params``."""
    loss_fn()
    analytic = flat_grads.copy()
    rng = np.random.default_rng(seed)
    idx = rng.choice(flat_params.size, size=min(n_checks, flat_params.size),
                     replace=False)
    for i in idx:
        old = flat_params[i]
        flat_params[i] = old + h
        up = loss_fn()
        flat_params[i] = old - h
        down = loss_fn()
        flat_params[i] = old
        fd = (up - down) / (2 * h)
        assert abs(fd - analytic[i]) <= rtol * max(1.0, abs(fd)) + 1e-7, (
            i, fd, analytic[i])
    return analytic


def _tiny_vae(likelihood, architecture="mlp", batch_norm=True, seed=0):
    rng = np.random.default_rng(seed)
    shape = (1, 4, 4)
    D, d = 16, 3
    trunk, head = encoder_layers(architecture, shape, (5,), (2, 3), 2 * d, "tanh",
                                 batch_norm)
    enc = Sequential(trunk + head).build((D,), rng=rng, dtype=np.float64)
    dec = Sequential(decoder_layers(architecture, shape, (5,), (2, 3), D, "tanh",
                                    batch_norm)).build((d,), rng=rng, dtype=np.float64)
    nets = [enc, dec]
    lv_net, log_var = None, None
    if likelihood == "gaussian":
        lv_net = Sequential([FeatureParameter(0.0)]).build((D,), rng=rng,
                                                           dtype=np.float64)
        log_var = lv_net.layers[0].value
        log_var[...] = rng.normal(scale=0.3, size=D)
        nets.append(lv_net)
        X = rng.normal(size=(7, D))
    else:
        X = rng.random((7, D))
    for net in nets:    # random batch-norm scales and shifts, not the identity
        for layer in net.layers:
            if type(layer).__name__ == "BatchNorm":
                layer.params[0][...] = rng.uniform(0.5, 1.5, layer.params[0].shape)
                layer.params[1][...] = rng.normal(size=layer.params[1].shape)
    opt = make_optimizer("sgd", [p for net in nets for p in net.flat_parameters()],
                         learning_rate=0.0)
    model = VAEModel(enc, dec, lv_net, log_var, opt, X, likelihood, d, FixedNoise(),
                     kl_weight=0.7, kl_warmup=0, epoch=0)
    model.beta = 0.7
    return model, nets


@pytest.mark.parametrize("likelihood,architecture", [
    ("bernoulli", "mlp"), ("gaussian", "mlp"), ("bernoulli", "conv")])
def test_elbo_gradient_finite_differences(likelihood, architecture):
    """The gradient of minus the ELBO (fixed noise, batch-norm batch statistics)
    through decoder, reparameterisation and encoder, and the Gaussian variances."""
    model, nets = _tiny_vae(likelihood, architecture)
    idx = np.arange(model.n_samples)
    for net in nets:
        _finite_difference_check(lambda: model.train_batch(idx)["loss"],
                                 net.flat_params, net.flat_grads)


def test_m2_gradient_finite_differences():
    """Labelled and unlabelled rows in one batch: every network's gradient (the
    classifier's through the sum over classes and the cross-entropy)."""
    rng = np.random.default_rng(4)
    D, d, K = 6, 2, 3
    nets = {
        "trunk": None,
        "encoder": Sequential(encoder_layers("mlp", None, (5,), (), 2 * d, "tanh",
                                             True)[1]),
        "decoder": Sequential(decoder_layers("mlp", None, (5,), (), D, "tanh", True)),
        "classifier": Sequential(classifier_layers("mlp", None, (4,), (), K, "tanh",
                                                   True)),
        "log_var": Sequential([FeatureParameter(0.0)]),
    }
    shapes = {"encoder": (D + K,), "decoder": (d + K,), "classifier": (D,),
              "log_var": (D,)}
    for key, shape in shapes.items():
        nets[key].build(shape, rng=rng, dtype=np.float64)
    log_var = nets["log_var"].layers[0].value
    log_var[...] = rng.normal(scale=0.3, size=D)
    X = rng.normal(size=(8, D))
    Y = np.array([0, -1, 2, -1, -1, 1, -1, 0])
    opt = make_optimizer("sgd", [nets[k].flat_parameters()[0] for k in shapes],
                         learning_rate=0.0)
    model = M2Model(nets, opt, X, Y, K, "gaussian", d, FixedNoise(), alpha=0.5,
                    kl_weight=1.0, kl_warmup=0, epoch=0, log_var=log_var)
    model.beta = 1.0
    idx = np.arange(8)
    for key in shapes:
        net = nets[key]
        grads = _finite_difference_check(lambda: model.train_batch(idx)["loss"],
                                         net.flat_params, net.flat_grads)
        assert np.abs(grads).max() > 0


def test_training_terms_are_consistent():
    model, _ = _tiny_vae("bernoulli", batch_norm=False)
    model.beta = 1.0
    terms = model.train_batch(np.arange(model.n_samples))
    assert terms["loss"] == pytest.approx(-terms["elbo"])
    assert terms["elbo"] == pytest.approx(-terms["reconstruction"] - terms["kl"])
    model.beta = 0.25
    terms = model.train_batch(np.arange(model.n_samples))
    assert terms["loss"] == pytest.approx(terms["reconstruction"] + 0.25 * terms["kl"])


def test_evaluate_elbo_is_row_independent_and_unbiased():
    model, (enc, dec) = _tiny_vae("bernoulli", batch_norm=False)
    X = model.X
    draws = np.random.default_rng(5).standard_normal((4000, 3))
    elbo, ll, kl = evaluate_elbo(enc, dec, None, "bernoulli", X, draws)
    np.testing.assert_allclose(evaluate_elbo(enc, dec, None, "bernoulli", X[2:4],
                                             draws)[0], elbo[2:4])
    # against single-sample ELBOs averaged over fresh noise
    h = enc.forward(X)
    mu, lv = h[:, :3], h[:, 3:]
    rng = np.random.default_rng(6)
    vals = []
    for _ in range(4000):
        z = mu + np.exp(0.5 * lv) * rng.standard_normal(mu.shape)
        vals.append(_elbo.bernoulli_log_likelihood(dec.forward(z), X)[0])
    vals = np.array(vals)
    np.testing.assert_allclose(ll, vals.mean(0), atol=5 * vals.std(0).max() / 60)


def _not_cancelled(net):
    """Mask of the parameters with a gradient: the bias of a Dense layer followed by
    batch norm has none (the normalisation cancels it), so Adam moves it by rounding
    noise that differs between any two implementations."""
    keep = np.ones(net.flat_params.size, dtype=bool)
    offset = 0
    for layer, nxt in zip(net.layers, net.layers[1:] + [None]):
        sizes = [p.size for p in layer.params]
        if type(layer).__name__ == "Dense" and type(nxt).__name__ == "BatchNorm":
            keep[offset + sizes[0]:offset + sum(sizes)] = False
        offset += sum(sizes)
    assert offset == keep.size
    return keep


@pytest.mark.parametrize("kw", [
    dict(dtype="float64"),
    dict(dtype="float64", likelihood="gaussian", activation="leaky_relu"),
    dict(dtype="float64", batch_norm=False, activation="tanh",
         hidden_layer_sizes=(16, 8)),
    dict(dtype="float32", activation="logistic"),
])
def test_fused_epoch_kernel_matches_the_layers(digits, monkeypatch, kw):
    """The Numba epoch (sknets.vae._kernels.vae_epoch) against the reference: the
    minibatch step on the sknets.nn layers, same noise, same minibatches."""
    X = digits[0][:200]
    if kw.get("dtype") == "float32":
        X = X.astype(np.float32)
    fused = fast_vae(max_iter=3, learning_rate_init=0.01, **kw).fit(X)
    assert fused._fit_model_fused
    monkeypatch.setattr(VAEModel, "fused", False)
    layers = fast_vae(max_iter=3, learning_rate_init=0.01, **kw).fit(X)
    assert not layers._fit_model_fused
    # float64: the kernel's vectorised logistic is within a few ulp of np.exp's, and
    # three epochs of Adam carry those ulp to about 1e-9
    tol = 1e-7 if kw["dtype"] == "float64" else 2e-3
    for a, b in ((fused.encoder_, layers.encoder_), (fused.decoder_, layers.decoder_)):
        keep = _not_cancelled(a)
        np.testing.assert_allclose(a.flat_params[keep], b.flat_params[keep], rtol=tol,
                                   atol=tol)
        for la, lb in zip(a.layers, b.layers):
            # the running means include the cancelled biases (see _not_cancelled)
            names = getattr(la, "buffer_names", ())
            for name in names if kw["dtype"] == "float64" else names[1:]:
                np.testing.assert_allclose(getattr(la, name), getattr(lb, name),
                                           rtol=tol, atol=tol)
    np.testing.assert_allclose(fused.loss_curve_, layers.loss_curve_, rtol=tol)
    if fused.log_variance_ is not None:
        np.testing.assert_allclose(fused.log_variance_, layers.log_variance_,
                                   rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_bernoulli_kernel_term_matches_scipy(dtype, tol):
    """The fused epoch's Bernoulli term (logistic values vectorised, logarithms of
    per-chunk products) against x l - softplus(l) and its gradient, on rows longer
    than one product chunk and with saturated logits."""
    from scipy.special import expit

    from sknets.vae._kernels import _bernoulli_terms
    from sknets.utils._numba_math import exp_scratch

    rng = np.random.default_rng(0)
    out = (rng.standard_normal((7, 1300)) * 8).astype(dtype)
    out[0, :5] = [-200, -60, 0, 60, 200]
    x = rng.random(out.shape).astype(dtype)
    go = np.empty_like(out)
    ll = _bernoulli_terms(out, x, go, exp_scratch(go, go.size))
    o, xv = out.astype(np.float64), x.astype(np.float64)
    expected = (xv * o - np.logaddexp(0, o)).sum()
    assert abs(ll - expected) <= tol * abs(expected)
    np.testing.assert_allclose(go, (expit(o) - xv) / len(o), rtol=tol, atol=tol)


# --------------------------------------------------------------------------- VAE API


def test_fit_transform_inverse_sample_score(digits):
    X, _, Xt, _ = digits
    vae = fast_vae(max_iter=15, learning_rate_init=0.01).fit(X)
    assert vae.n_iter_ == 15 and vae.t_ == 15 * len(X)
    Z = vae.transform(Xt)
    assert Z.shape == (len(Xt), 4) and Z.dtype == np.float64
    R = vae.inverse_transform(Z)
    assert R.shape == Xt.shape and R.min() >= 0 and R.max() <= 1
    # reconstructions are closer to their rows than the mean row is
    assert ((R - Xt) ** 2).mean() < 0.6 * ((X.mean(0) - Xt) ** 2).mean()
    S = vae.sample(7, random_state=1)
    assert S.shape == (7, 64)
    np.testing.assert_array_equal(S, vae.sample(7, random_state=1))
    scores = vae.score_samples(Xt)
    assert scores.shape == (len(Xt),) and np.all(scores < 0)
    assert vae.score(Xt) == pytest.approx(scores.mean())
    # training improved the bound
    first = [r["elbo"] for r in vae.history_]
    assert first[-1] > first[0] + 5
    assert vae.loss_curve_ == [r["loss"] for r in vae.history_]
    assert set(vae.history_[0]) >= {"epoch", "loss", "elbo", "reconstruction", "kl",
                                    "time"}
    np.testing.assert_array_equal(vae.get_feature_names_out(),
                                  [f"variationalautoencoder{i}" for i in range(4)])


def test_float32_kept_and_rows_independent(digits):
    X, _, Xt, _ = digits
    vae = fast_vae().fit(X.astype(np.float32))
    assert vae.encoder_.dtype == np.float32
    Z = vae.transform(Xt.astype(np.float32))
    assert Z.dtype == np.float32
    np.testing.assert_allclose(vae.transform(Xt[5:9]), vae.transform(Xt)[5:9],
                               rtol=1e-12)
    np.testing.assert_allclose(vae.score_samples(Xt[5:9]), vae.score_samples(Xt)[5:9],
                               rtol=1e-12)
    vae64 = fast_vae(dtype="float64").fit(X)
    assert vae64.encoder_.dtype == np.float64


def test_reproducible_and_pickle_and_clone(digits):
    X, _, Xt, _ = digits
    a = fast_vae().fit(X)
    b = fast_vae().fit(X)
    np.testing.assert_array_equal(a.transform(Xt), b.transform(Xt))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.score_samples(Xt), c.score_samples(Xt))
    np.testing.assert_array_equal(a.sample(3), c.sample(3))
    c.partial_fit(X)        # continues after unpickling
    assert c.n_iter_ == a.n_iter_ + 1
    d = clone(a)
    assert not hasattr(d, "encoder_") and d.get_params() == a.get_params()


def test_bernoulli_needs_unit_range_gaussian_does_not(digits):
    X, _, _, _ = digits
    with pytest.raises(ValueError, match="MinMaxScaler"):
        fast_vae().fit(X * 16)
    vae = fast_vae().fit(X)
    with pytest.raises(ValueError, match="MinMaxScaler"):
        vae.score_samples(X - 0.5)
    g = fast_vae(likelihood="gaussian").fit(X * 16)
    assert g.log_variance_.shape == (64,)
    lo, hi = _elbo.LOG_VARIANCE_RANGE
    assert np.all((g.log_variance_ >= lo) & (g.log_variance_ <= hi))
    assert g.inverse_transform(g.transform(X[:5])).max() > 2    # data units
    # the ELBO is in the units of the data: scaling X by 16 lowers it by log 16 per
    # feature that varies (a constant feature keeps its density)
    g1 = fast_vae(likelihood="gaussian").fit(X)
    n_varying = int(np.count_nonzero(X.std(axis=0) > 0))
    assert 50 < n_varying < 64
    np.testing.assert_allclose(g.score(X * 16), g1.score(X) - n_varying * np.log(16),
                               rtol=1e-4)
    fixed = fast_vae(likelihood="gaussian", variance=0.5).fit(X)
    np.testing.assert_allclose(fixed.log_variance_, np.log(0.5))
    pipe = make_pipeline(MinMaxScaler(), fast_vae()).fit(X * 16)
    assert pipe.transform(X[:3] * 16).shape == (3, 4)


def test_bad_input(digits):
    X, _, _, _ = digits
    with pytest.raises(NotFittedError):
        fast_vae().transform(X)
    with pytest.raises(NotFittedError):
        fast_vae().sample(2)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fast_vae().fit(bad)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        fast_vae().fit(bad)
    with pytest.raises(ValueError):
        fast_vae().fit(np.empty((0, 64)))
    with pytest.raises(ValueError):
        fast_vae().fit(np.array([["a", "b"], ["c", "d"]]))
    vae = fast_vae().fit(X)
    with pytest.raises(ValueError, match="features"):
        vae.transform(X[:, :10])
    with pytest.raises(ValueError, match="n_components"):
        vae.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_samples"):
        vae.sample(0)
    with pytest.raises(ValueError):
        fast_vae(n_components=0).fit(X)
    with pytest.raises(ValueError):
        fast_vae(likelihood="poisson").fit(X)
    with pytest.raises(ValueError):
        fast_vae().fit(X.reshape(-1, 1, 8, 8))     # the MLP wants rows


def test_divergence_raises_with_remedy_and_leaves_unfitted(digits):
    X, _, _, _ = digits
    vae = fast_vae(likelihood="gaussian", learning_rate_init=1e6, batch_norm=False,
                   solver="sgd", momentum=0.0)
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        vae.fit(X * 1e3)
    assert not hasattr(vae, "encoder_")
    with pytest.raises(NotFittedError):
        vae.transform(X)


def test_early_stopping_and_verbose(digits, capsys):
    X, _, _, _ = digits
    vae = fast_vae(early_stopping=True, max_iter=30, n_iter_no_change=2, tol=0.5,
                   verbose=True).fit(X)
    out = capsys.readouterr().out
    assert "VariationalAutoencoder: epoch 1, loss = " in out
    assert "elbo = " in out and "kl = " in out and "reconstruction = " in out
    assert "validation score = " in out
    assert vae.n_iter_ < 30 and len(vae.validation_scores_) == vae.n_iter_
    assert vae.best_validation_score_ == max(vae.validation_scores_)
    assert all(s < 0 for s in vae.validation_scores_)   # a validation ELBO


def test_partial_fit_warm_start_and_kl_warmup(digits):
    X, _, _, _ = digits
    vae = fast_vae()
    for _ in range(3):
        vae.partial_fit(X)
    assert vae.n_iter_ == 3
    warm = fast_vae(warm_start=True, max_iter=2, kl_warmup=4).fit(X)
    w0 = warm.encoder_.flat_params.copy()
    warm.fit(X)
    assert warm.n_iter_ == 4 and not np.array_equal(w0, warm.encoder_.flat_params)
    # warm-up: the loss counts a growing fraction of the KL term
    h = warm.history_
    for r, frac in zip(h, (0.25, 0.5, 0.75, 1.0)):
        assert r["loss"] == pytest.approx(r["reconstruction"] + frac * r["kl"])


def test_conv_architecture_on_images(digits):
    X, _, Xt, _ = digits
    vae = fast_vae(architecture="conv", filters=(4, 8), hidden_layer_sizes=(),
                   max_iter=3).fit(X)
    assert vae.image_shape_ == (1, 8, 8)
    assert vae.transform(Xt).shape == (len(Xt), 4)
    assert vae.sample(2).shape == (2, 64)
    imgs = X.reshape(-1, 1, 8, 8)
    v4 = fast_vae(architecture="conv", filters=(4,), max_iter=2).fit(imgs)
    assert v4.sample(3).shape == (3, 1, 8, 8)
    assert v4.inverse_transform(v4.transform(imgs[:2])).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="4-D"):
        v4.transform(X)
    with pytest.raises(ValueError, match="channels-last"):
        fast_vae(architecture="conv").fit(np.zeros((4, 8, 8, 3)))
    with pytest.raises(ValueError, match="image_shape"):
        fast_vae(architecture="conv").fit(X[:, :60])
    odd = fast_vae(architecture="conv", filters=(2, 2), image_shape=(5, 5),
                   max_iter=1).fit(X[:, :25])
    assert odd.inverse_transform(odd.transform(X[:2, :25])).shape == (2, 25)


def test_pipeline_and_grid_search(digits):
    X, y, Xt, yt = digits
    pipe = Pipeline([("vae", fast_vae(n_components=8, max_iter=10)),
                     ("lr", LogisticRegression(max_iter=500))])
    pipe.fit(X, y)
    assert pipe.score(Xt, yt) > 0.6
    grid = GridSearchCV(fast_vae(max_iter=2), {"n_components": [2, 4]}, cv=2, n_jobs=2)
    grid.fit(X[:200])
    assert grid.best_params_["n_components"] in (2, 4)


# --------------------------------------------------------------------------- M2


def _partial_labels(y, frac, seed=0):
    y = y.copy()
    y[np.random.default_rng(seed).random(len(y)) >= frac] = -1
    return y


def test_classifier_semi_supervised_learns(digits):
    X, y, Xt, yt = digits
    yp = _partial_labels(y, 0.2)
    clf = fast_clf(max_iter=15, hidden_layer_sizes=(64,)).fit(X, yp)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_labelled_ == int((yp >= 0).sum())
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 10)
    np.testing.assert_allclose(proba.sum(1), 1)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), proba, rtol=1e-10)
    assert clf.score(Xt, yt) > 0.7
    assert {"elbo", "kl", "reconstruction", "cross_entropy"} <= set(clf.history_[-1])
    # rows are independent and the fit reproducible
    np.testing.assert_allclose(clf.predict_proba(Xt[3:6]), proba[3:6], rtol=1e-12)
    again = fast_clf(max_iter=15, hidden_layer_sizes=(64,)).fit(X, yp)
    np.testing.assert_array_equal(again.predict_proba(Xt), proba)


def test_classifier_unlabelled_rows_help(digits):
    """The unlabelled rows' bound trains the classifier: with the same labels, M2
    beats the same networks trained on the labelled rows alone."""
    X, y, Xt, yt = digits
    yp = _partial_labels(y, 0.1, seed=1)
    semi = fast_clf(max_iter=30, hidden_layer_sizes=(64,)).fit(X, yp)
    lab = yp >= 0
    sup = fast_clf(max_iter=int(30 * len(X) / lab.sum()),
                   hidden_layer_sizes=(64,)).fit(X[lab], yp[lab])
    assert semi.score(Xt, yt) > sup.score(Xt, yt) + 0.02


def test_classifier_labels_and_errors(digits):
    X, y, Xt, _ = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"], dtype=object)[y]
    clf = fast_clf(max_iter=2).fit(X, names)
    assert set(clf.predict(Xt)) <= set(names)
    assert list(clf.classes_) == sorted(set(names))
    with pytest.raises(ValueError, match="no labelled"):
        fast_clf().fit(X, np.full(len(X), -1))
    with pytest.raises(ValueError, match="Unknown label type"):
        fast_clf().fit(X, np.random.default_rng(0).random(len(X)))
    with pytest.raises(ValueError, match="MinMaxScaler"):
        fast_clf().fit(X * 16, y)
    with pytest.raises(NotFittedError):
        fast_clf().predict(X)
    fitted = fast_clf(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :5])
    with pytest.raises(ValueError, match="not in classes"):
        fitted.sample(2, y=11)


def test_classifier_conditional_sampling(digits):
    X, y, _, _ = digits
    clf = fast_clf(max_iter=10, hidden_layer_sizes=(64,)).fit(X, y)
    rows, labels = clf.sample(20, y=3, random_state=0)
    assert rows.shape == (20, 64) and np.all(labels == 3)
    rows2, labels2 = clf.sample(20, random_state=0)
    assert set(labels2) <= set(range(10))
    # samples of class 3 look like threes to the model's own classifier
    assert np.mean(clf.predict(rows) == 3) > 0.5
    np.testing.assert_array_equal(clf.sample(5, random_state=2)[0],
                                  clf.sample(5, random_state=2)[0])


def test_classifier_m1_m2_and_conv(digits):
    X, y, Xt, yt = digits
    yp = _partial_labels(y, 0.3)
    m1 = fast_vae(n_components=8, max_iter=10, learning_rate_init=0.01)
    clf = fast_clf(m1=m1, likelihood="gaussian", max_iter=10).fit(X, yp)
    assert clf.m1_ is not m1 and not hasattr(m1, "encoder_")
    assert clf.m1_.n_iter_ == 10
    assert clf.score(Xt, yt) > 0.5
    rows, _ = clf.sample(3, y=1)
    assert rows.shape == (3, 64)
    with pytest.raises(ValueError, match="gaussian"):
        fast_clf(m1=m1).fit(X, yp)
    conv = fast_clf(architecture="conv", filters=(4,), max_iter=3).fit(X, yp)
    assert conv.encoder_trunk_ is not None and conv.predict(Xt).shape == yt.shape


def test_classifier_early_stopping_and_divergence(digits):
    X, y, _, _ = digits
    yp = _partial_labels(y, 0.5)
    clf = fast_clf(early_stopping=True, max_iter=40, n_iter_no_change=2).fit(X, yp)
    assert clf.n_iter_ < 40 and 0 <= clf.best_validation_score_ <= 1
    with pytest.raises(ValueError, match="no labelled"):
        fast_clf(early_stopping=True, validation_fraction=0.02).fit(
            X, _partial_labels(y, 0.01))
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        fast_clf(likelihood="gaussian", learning_rate_init=1e6, batch_norm=False,
                 solver="sgd", momentum=0.0).fit(X * 1e3, y)
