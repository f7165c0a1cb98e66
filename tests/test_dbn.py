"""DBNClassifier: pre-training -> network map, gradients, semi-supervised use, API."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV

from sknets import BernoulliRBM, DBNClassifier
from sknets.dbn import _pretrain
from sknets.nn import Dense, softmax_cross_entropy
from sknets.nn._estimator import NetworkTrainingMixin
from sknets.utils._divergence import DivergenceError
from tests.references import dbn as ref

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16.0).astype(np.float32), y[:400]


def _small(**kw):
    params = dict(hidden_layer_sizes=(16, 8), pretrain_n_iter=3, max_iter=5,
                  random_state=0)
    params.update(kw)
    return DBNClassifier(**params)


@pytest.fixture
def starts(monkeypatch):
    """The Dense weights of the network handed to the training loop, per call."""
    seen = []
    run = NetworkTrainingMixin._run_training

    def capture(self, model, **kw):
        seen.append([(layer.params[0].copy(), layer.params[1].copy())
                     for layer in model.net.layers if isinstance(layer, Dense)])
        return run(self, model, **kw)

    monkeypatch.setattr(NetworkTrainingMixin, "_run_training", capture)
    return seen


def test_fine_tuning_starts_exactly_from_the_rbms(digits, starts):
    X, y = digits
    clf = _small().fit(X, y)
    assert len(clf.rbms_) == 2 and len(starts) == 1
    (W1, b1), (W2, b2), (W_out, b_out) = starts[0]
    for (W, b), rbm in zip([(W1, b1), (W2, b2)], clf.rbms_):
        assert_array_equal(W, rbm.components_.T)
        assert_array_equal(b, rbm.intercept_hidden_)
    assert W_out.shape == (8, 10) and not b_out.any()   # random output layer
    # the RBMs are the estimator's, fitted layer by layer: the second on the first's
    # features, and fine-tuning leaves them alone
    assert clf.rbms_[0].components_.shape == (16, 64)
    assert clf.rbms_[1].components_.shape == (8, 16)
    assert not np.allclose(clf.network_.layers[0].params[0], W1)
    # before fine-tuning, the network's hidden features are the stack's up-pass
    h = ref.sigmoid(ref.sigmoid(X @ W1 + b1) @ W2 + b2)
    assert_allclose(h, ref.stack_up(X.astype(np.float64), clf.rbms_), rtol=1e-5,
                    atol=1e-6)
    assert_allclose(clf.rbms_[0].transform(X),
                    ref.rbm_up(X, clf.rbms_[0].components_,
                               clf.rbms_[0].intercept_hidden_),
                    rtol=1e-5, atol=1e-6)


def test_greedy_stack_trains_each_rbm_on_the_features_below(digits):
    X, _ = digits
    rng = np.random.default_rng(0)
    common = dict(visible_unit="bernoulli", n_iter=[2, 2], learning_rate=[0.05, 0.05],
                  batch_size=10, n_gibbs_steps=1, persistent=True, momentum=0.5,
                  weight_decay=0.0)
    rbms = _pretrain.pretrain_stack(X, (12, 6), rng=rng, **common)
    # replay: the same shuffle and seeds, each RBM fitted by hand on the features
    rng = np.random.default_rng(0)
    features = X[rng.permutation(len(X))]
    for depth, rbm in enumerate(rbms):
        again = BernoulliRBM(n_components=rbm.n_components, learning_rate=0.05,
                             batch_size=10, n_iter=2, momentum=0.5,
                             random_state=int(rng.integers(2**31 - 1))).fit(features)
        assert_array_equal(again.components_, rbm.components_)
        features = again.transform(features)
    assert rbms[1].n_features_in_ == 12


def test_pretrain_false_is_the_same_network_from_random_init(digits, starts):
    X, y = digits
    pre = _small().fit(X, y)
    rand = _small(pretrain=False).fit(X, y)
    assert rand.rbms_ == []
    assert repr(rand.network_) == repr(pre.network_)
    assert rand.network_.n_params() == pre.network_.n_params()
    W_pre, W_rand = starts[0][0][0], starts[1][0][0]
    assert W_rand.shape == W_pre.shape
    limit = np.sqrt(6.0 / (64 + 16))                # Glorot uniform
    assert np.abs(W_rand).max() <= limit and np.abs(W_rand).std() > limit / 4


@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_every_layer_gradient_by_finite_differences(activation):
    rng = np.random.default_rng(0)
    X = rng.random((30, 6))
    y = rng.integers(0, 3, 30)
    # without dropout: its random masks would differ between the loss evaluations
    clf = DBNClassifier(hidden_layer_sizes=(5, 4), activation=activation, dropout=0.0,
                        pretrain_n_iter=2, max_iter=2, dtype="float64",
                        random_state=0).fit(X, y)
    net = clf.network_
    net.flat_params[...] += rng.normal(0, 0.3, net.flat_params.shape)  # generic point
    weights = [(layer.params[0].copy(), layer.params[1].copy())
               for layer in net.layers if isinstance(layer, Dense)]
    if activation == "logistic":   # the network is the reference's computation
        assert_allclose(net.forward(X), ref.dense_sigmoid_forward(X, weights),
                        rtol=1e-12)

    def loss():
        return softmax_cross_entropy(net.forward(X, training=True), y)[0]

    _, grad = softmax_cross_entropy(net.forward(X, training=True), y)
    net.backward(grad)
    analytic = net.flat_grads.copy()
    numeric = np.empty_like(analytic)
    eps = 1e-6
    for i in range(net.flat_params.size):
        old = net.flat_params[i]
        net.flat_params[i] = old + eps
        up = loss()
        net.flat_params[i] = old - eps
        down = loss()
        net.flat_params[i] = old
        numeric[i] = (up - down) / (2 * eps)
    start = 0
    for layer in net.layers:   # each layer's W and b
        for p in layer.params:
            sl = slice(start, start + p.size)
            assert_allclose(analytic[sl], numeric[sl], rtol=1e-5, atol=1e-8,
                            err_msg=repr(layer))
            start += p.size
    assert start == net.flat_params.size


def test_unlabelled_rows_pretrain_only(digits, monkeypatch):
    X, y = digits
    y_semi = y.copy()
    y_semi[100:] = -1
    seen = []
    stack = _pretrain.pretrain_stack

    def spy(X, *args, **kw):
        seen.append(X.shape[0])
        return stack(X, *args, **kw)

    monkeypatch.setattr("sknets.dbn._base.pretrain_stack", spy)
    clf = _small(unlabeled_label=-1).fit(X, y_semi)
    assert seen == [400]                                 # every row pre-trains
    assert clf.t_ == 100 * clf.n_iter_                   # labelled rows fine-tune
    assert_array_equal(clf.classes_, np.unique(y[:100]))
    assert set(clf.predict(X)) <= set(clf.classes_)
    # without unlabeled_label, -1 is an ordinary class
    plain = _small(max_iter=2).fit(X, np.where(y > 4, 1, -1))
    assert_array_equal(plain.classes_, [-1, 1])
    with pytest.raises(ValueError, match="no labelled row"):
        _small(unlabeled_label=-1).fit(X, np.full(len(y), -1))


def test_partial_fit_classes_and_warm_start(digits):
    X, y = digits
    clf = _small(hidden_layer_sizes=(16,))
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf = _small(hidden_layer_sizes=(16,))
    for _ in range(4):
        clf.partial_fit(X, y, classes=np.arange(10))
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 4
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    rbm = clf.rbms_[0].components_.copy()
    clf.partial_fit(X, y)
    assert_array_equal(clf.rbms_[0].components_, rbm)   # pre-trained once
    warm = _small(hidden_layer_sizes=(16,), warm_start=True).fit(X, y)
    first = warm.rbms_[0]
    warm.fit(X, y)
    assert warm.rbms_[0] is first and warm.n_iter_ == 10
    with pytest.raises(ValueError, match="new classes"):
        warm.fit(X, y + 10)


def test_per_layer_pretraining_settings_and_input_checks(digits):
    X, y = digits
    clf = _small(pretrain_n_iter=[2, 0], pretrain_learning_rate=[0.05, 0.01]).fit(X, y)
    assert [r.n_iter for r in clf.rbms_] == [2, 0]
    assert [r.learning_rate for r in clf.rbms_] == [0.05, 0.01]
    with pytest.raises(ValueError, match="one per layer"):
        _small(pretrain_n_iter=[1, 2, 3]).fit(X, y)
    with pytest.warns(UserWarning, match="MinMaxScaler"):
        _small(max_iter=1).fit(X * 16, y)
    gauss = _small(visible_unit="gaussian", pretrain_learning_rate=[0.005, 0.05])
    gauss.fit(X * 16, y)
    assert gauss.rbms_[0].visible_unit == "gaussian"
    assert gauss.rbms_[1].visible_unit == "bernoulli"
    assert_allclose(gauss.input_mean_, (X * 16).mean(axis=0), rtol=1e-5)
    Z = (X * 16 - gauss.input_mean_) / gauss.input_scale_
    assert abs(np.mean(Z ** 2) - 1) < 1e-4
    with pytest.raises(NotFittedError):
        _small().predict(X)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError):
        clf.fit(np.where(X > 0.5, np.nan, X), y)


def test_fine_tuning_corrupts_the_inputs_not_the_labels(digits, monkeypatch):
    X, y = digits
    seen = []
    run = NetworkTrainingMixin._run_training

    def capture(self, model, **kw):
        seen.append(model)
        return run(self, model, **kw)

    monkeypatch.setattr(NetworkTrainingMixin, "_run_training", capture)
    _small(max_iter=1).fit(X, y)                      # defaults: Gaussian, 0.2
    _small(max_iter=1, noise="masking", noise_level=0.3).fit(X, y)
    _small(max_iter=1, noise=None).fit(X, y)
    gauss, mask, plain = seen
    assert plain.input_transform is None
    assert_array_equal(gauss.Y, plain.Y)              # labels untouched
    xb = gauss.X[:200]
    noisy = gauss.input_transform(xb, np.arange(200))
    assert noisy.dtype == np.float32 and abs(np.std(noisy - xb) - 0.2) < 0.01
    masked = mask.input_transform(xb, np.arange(200))
    dropped = (masked == 0) & (xb != 0)
    assert np.all((masked == xb) | (masked == 0))
    assert abs(dropped.sum() / (xb != 0).sum() - 0.3) < 0.03
    with pytest.raises(ValueError, match="masked"):
        _small(noise="masking", noise_level=1.0).fit(X, y)


def test_reproducible_pickle_clone_float32(digits):
    X, y = digits
    a = _small().fit(X, y)
    b = clone(a).fit(X, y)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = pickle.loads(pickle.dumps(a))
    assert_array_equal(c.predict_proba(X), a.predict_proba(X))
    assert a.network_.dtype == np.float32 and a.rbms_[0].components_.dtype == np.float32
    assert_allclose(a.predict_proba(X).sum(axis=1), 1)
    assert_allclose(np.exp(a.predict_log_proba(X)), a.predict_proba(X), rtol=1e-6)


def test_callbacks_see_the_current_weights(digits):
    X, y = digits
    seen = []
    clf = _small(callbacks=lambda est, rec: seen.append(est.predict_proba(X[:5])),
                 max_iter=6).fit(X, y)
    assert len(seen) == 6 and not np.allclose(seen[0], seen[-1])
    assert_array_equal(seen[-1], clf.predict_proba(X[:5]))


def test_divergence_names_the_remedies(digits):
    X, y = digits
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        _small(learning_rate_init=1e6, solver="sgd", pretrain=False).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = _small(visible_unit="gaussian", pretrain_learning_rate=[50.0, 0.05],
                     max_iter=1).fit(X * 16, y)
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    assert any("pretrain_learning_rate" in m for m in messages)
    assert np.isfinite(clf.rbms_[0].components_).all()


def test_grid_search_two_jobs_matches_one_job(digits):
    X, y = digits
    grid = {"alpha": [1e-4, 1e-1]}
    clf = _small(hidden_layer_sizes=(16,), max_iter=30)
    search = GridSearchCV(clf, grid, cv=2, n_jobs=2).fit(X, y)
    serial = GridSearchCV(clf, grid, cv=2, n_jobs=1).fit(X, y)
    assert_array_equal(search.cv_results_["mean_test_score"],
                       serial.cv_results_["mean_test_score"])
    assert search.best_score_ > 0.5
    assert_array_equal(search.predict(X), serial.predict(X))
