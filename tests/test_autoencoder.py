"""Autoencoder: shapes, dtypes, losses, gradients, sparsity, denoising, pre-training."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sknets import Autoencoder
from sknets.dbn._layers import KLSparsity
from sknets.nn import Dense, sigmoid_cross_entropy
from sknets.nn._estimator import NetworkTrainingMixin
from sknets.nn.losses import squared_error
from tests.references import dbn as ref

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    return X[:300].astype(np.float32)


def _small(**kw):
    params = dict(n_components=4, hidden_layer_sizes=(12,), max_iter=5, random_state=0)
    params.update(kw)
    return Autoencoder(**params)


def test_shapes_dtypes_and_mirrored_layers(digits):
    X = digits
    ae = _small(hidden_layer_sizes=(16, 8)).fit(X)
    dense = [layer.units for layer in ae.network_.layers if isinstance(layer, Dense)]
    assert dense == [16, 8, 4, 8, 16, 64]
    Z = ae.transform(X)
    assert Z.shape == (300, 4) and Z.dtype == np.float32
    assert ae.transform(X.astype(np.float64)).dtype == np.float64
    R = ae.inverse_transform(Z)
    assert R.shape == X.shape and R.dtype == np.float32
    assert_allclose(ae.reconstruct(X), R, rtol=1e-5, atol=1e-4)
    assert list(ae.get_feature_names_out()) == [f"autoencoder{i}" for i in range(4)]
    with pytest.raises(ValueError, match="n_components=4"):
        ae.inverse_transform(X)
    with pytest.raises(NotFittedError):
        _small().transform(X)


def test_gaussian_units_scale_and_score_samples(digits):
    X = digits.astype(np.float64)
    ae = _small(max_iter=30).fit(X)
    assert_allclose(ae.input_mean_, X.mean(axis=0))
    assert_allclose(ae.input_scale_, np.sqrt(np.mean((X - X.mean(axis=0)) ** 2)))
    R = ae.reconstruct(X)
    assert_allclose(ae.score_samples(X), -((X - R) ** 2).sum(axis=1), rtol=1e-10)
    assert ae.score(X) == pytest.approx(np.mean(ae.score_samples(X)))
    # training reduced the reconstruction error in the units of X
    assert ae.score(X) > _small(max_iter=1).fit(X).score(X)


def test_bernoulli_units_need_the_unit_interval(digits):
    X = digits / 16.0
    ae = _small(visible_unit="bernoulli", max_iter=20).fit(X)
    assert not ae.input_mean_.any() and ae.input_scale_ == 1.0
    R = ae.reconstruct(X)
    assert R.min() >= 0 and R.max() <= 1
    logp = (X * np.log(R) + (1 - X) * np.log(1 - R)).sum(axis=1)
    assert_allclose(ae.score_samples(X), logp, rtol=1e-4)
    with pytest.raises(ValueError, match="MinMaxScaler"):
        _small(visible_unit="bernoulli").fit(digits)


@pytest.mark.parametrize("visible_unit", ["gaussian", "bernoulli"])
def test_every_layer_gradient_by_finite_differences(visible_unit):
    rng = np.random.default_rng(0)
    X = rng.random((20, 5))
    ae = Autoencoder(n_components=3, hidden_layer_sizes=(4,), activation="tanh",
                     code_activation="logistic", sparsity_weight=2.0,
                     sparsity_target=0.2, visible_unit=visible_unit, dtype="float64",
                     max_iter=1, random_state=0).fit(X)
    net = ae.network_
    assert any(isinstance(layer, KLSparsity) for layer in net.layers)
    net.flat_params[...] += rng.normal(0, 0.3, net.flat_params.shape)
    T = ae._scaled(X, np.float64)
    base = sigmoid_cross_entropy if visible_unit == "bernoulli" else squared_error
    sparsity = [layer for layer in net.layers if isinstance(layer, KLSparsity)][0]

    def objective():
        value, grad = base(net.forward(T, training=True), T)
        return value + sparsity.penalty, grad

    _, grad = objective()
    net.backward(grad)
    analytic = net.flat_grads.copy()
    numeric = np.empty_like(analytic)
    eps = 1e-6
    for i in range(analytic.size):
        old = net.flat_params[i]
        net.flat_params[i] = old + eps
        up = objective()[0]
        net.flat_params[i] = old - eps
        down = objective()[0]
        net.flat_params[i] = old
        numeric[i] = (up - down) / (2 * eps)
    start = 0
    for layer in net.layers:
        for p in layer.params:
            sl = slice(start, start + p.size)
            assert_allclose(analytic[sl], numeric[sl], rtol=1e-5, atol=1e-9,
                            err_msg=repr(layer))
            start += p.size


def test_sparsity_layer_against_reference():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.01, 0.99, (7, 5))
    layer = KLSparsity(0.1, 3.0, scale=0.5)
    layer.build((5,), rng)
    assert layer.forward(a, training=True) is a
    g = rng.normal(size=a.shape)
    penalty, grad = ref.kl_sparsity(a, 0.1, 3.0, 0.5)
    assert layer.penalty == pytest.approx(penalty, rel=1e-12)
    assert_allclose(layer.backward(g), g + grad, rtol=1e-12)
    layer.forward(a, training=False)
    assert layer.penalty is None and layer.backward(g) is g
    with pytest.raises(ValueError, match="sparsity target"):
        KLSparsity(1.0, 1.0)


def test_sparsity_penalty_pulls_mean_code_activation_to_target(digits):
    X = digits
    # relu hidden units: the penalty reaches its target within 200 epochs (tanh's
    # take about twice as many)
    kw = dict(code_activation="logistic", n_components=16, max_iter=200,
              activation="relu")
    free = _small(**kw).fit(X)
    sparse = _small(sparsity_weight=10.0, sparsity_target=0.05, **kw).fit(X)
    mean_free = free.transform(X).mean()
    mean_sparse = sparse.transform(X).mean()
    assert mean_sparse < 0.1 and mean_free > 0.3
    with pytest.raises(ValueError, match="code_activation='logistic'"):
        _small(sparsity_weight=1.0).fit(X)


@pytest.mark.parametrize("noise", ["masking", "gaussian"])
def test_denoising_corrupts_inputs_keeps_clean_targets(digits, noise, monkeypatch):
    X = digits
    seen = []
    run = NetworkTrainingMixin._run_training

    def capture(self, model, **kw):
        seen.append(model)
        return run(self, model, **kw)

    monkeypatch.setattr(NetworkTrainingMixin, "_run_training", capture)
    ae = _small(noise=noise, noise_level=0.3).fit(X)
    model = seen[0]
    clean = model.X[:100]
    assert_array_equal(model.Y, model.X)          # targets are the clean rows
    corrupted = model.input_transform(clean, np.arange(100))
    if noise == "masking":
        zero = ae._scaled(np.zeros((1, 64)))[0]
        masked = corrupted != clean
        assert_array_equal(np.broadcast_to(zero, clean.shape)[masked],
                           corrupted[masked])
        # the masked fraction (entries already at 0 cannot change)
        changeable = clean != zero
        assert abs(masked[changeable].mean() - 0.3) < 0.03
    else:
        noise_x = (corrupted - clean) * ae.input_scale_   # units of X
        assert abs(noise_x.std() - 0.3) < 0.02 and abs(noise_x.mean()) < 0.02
    with pytest.raises(ValueError, match="noise_level"):
        _small(noise="masking", noise_level=1.0).fit(X)


def test_denoising_beats_plain_on_corrupted_rows(digits):
    X = digits / 16.0
    rng = np.random.default_rng(0)
    X_noisy = np.where(rng.random(X.shape) < 0.3, 0.0, X).astype(np.float32)
    kw = dict(n_components=16, hidden_layer_sizes=(64,), max_iter=80)
    plain = _small(**kw).fit(X)
    denoise = _small(noise="masking", noise_level=0.3, **kw).fit(X)

    def error(ae):
        return np.mean((ae.reconstruct(X_noisy) - X) ** 2)

    assert error(denoise) < 0.9 * error(plain)


def test_pretrained_encoder_is_the_unrolled_rbm_stack(digits, monkeypatch):
    X = digits / 16.0
    starts = []
    run = NetworkTrainingMixin._run_training

    def capture(self, model, **kw):
        starts.append(model.net.forward(model.X, training=False))
        starts.append([(layer.params[0].copy(), layer.params[1].copy())
                       for layer in model.net.layers if isinstance(layer, Dense)])
        return run(self, model, **kw)

    monkeypatch.setattr(NetworkTrainingMixin, "_run_training", capture)
    ae = _small(pretrain=True, pretrain_n_iter=3, activation="logistic",
                code_activation="logistic", visible_unit="bernoulli",
                hidden_layer_sizes=(16,)).fit(X)
    logits, weights = starts
    rbm1, rbm2 = ae.rbms_
    assert rbm1.components_.shape == (16, 64) and rbm2.components_.shape == (4, 16)
    (W1, b1), (W2, b2), (W3, b3), (W4, b4) = weights
    assert_array_equal(W1, rbm1.components_.T)
    assert_array_equal(b1, rbm1.intercept_hidden_)
    assert_array_equal(W2, rbm2.components_.T)
    assert_array_equal(b2, rbm2.intercept_hidden_)
    assert_array_equal(W3, rbm2.components_)
    assert_array_equal(b3, rbm2.intercept_visible_)
    assert_array_equal(W4, rbm1.components_)
    assert_array_equal(b4, rbm1.intercept_visible_)
    # up through the stack, mean-field down again
    code = ref.stack_up(X.astype(np.float64), ae.rbms_)
    h = ref.rbm_down_mean(code, rbm2.components_, rbm2.intercept_visible_)
    x_hat = ref.rbm_down_mean(h, rbm1.components_, rbm1.intercept_visible_)
    assert_allclose(ref.sigmoid(logits), x_hat, rtol=1e-4, atol=1e-5)
    gauss = _small(pretrain=True, pretrain_n_iter=2).fit(digits)
    assert gauss.rbms_[0].visible_unit == "gaussian"


def test_linear_autoencoder_approaches_pca():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 8)) \
        + 0.1 * rng.normal(size=(300, 8))
    ae = Autoencoder(n_components=3, hidden_layer_sizes=(), code_activation="identity",
                     learning_rate_init=1e-2, max_iter=300, batch_size=50, tol=0.0,
                     dtype="float64", random_state=0).fit(X)
    pca = PCA(3).fit(X)
    err_pca = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    err_ae = np.mean((ae.reconstruct(X) - X) ** 2)
    assert err_ae < 1.1 * err_pca


def test_reproducible_pickle_clone_partial_fit_pipeline(digits):
    X = digits
    a = _small().fit(X)
    assert_array_equal(clone(a).fit(X).transform(X), a.transform(X))
    assert_array_equal(pickle.loads(pickle.dumps(a)).transform(X), a.transform(X))
    b = _small()
    for _ in range(3):
        b.partial_fit(X)
    assert b.n_iter_ == 3 and b.loss_curve_[-1] < b.loss_curve_[0]
    warm = _small(warm_start=True).fit(X)
    warm.fit(X)
    assert warm.n_iter_ == 10
    pipe = make_pipeline(_small(), PCA(2)).fit(X)
    assert pipe.transform(X).shape == (300, 2)


def test_grid_search_two_jobs_over_a_pipeline(digits):
    X = digits
    y = load_digits().target[:300]
    pipe = make_pipeline(_small(max_iter=20), LogisticRegression(max_iter=300))
    grid = {"autoencoder__n_components": [2, 8]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    serial = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
    assert_array_equal(search.cv_results_["mean_test_score"],
                       serial.cv_results_["mean_test_score"])
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0]                  # 8 components beat 2
