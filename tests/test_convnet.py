"""ConvNetClassifier: the scikit-learn API, bad input, divergence, reproducibility."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sknets import ConvNetClassifier


def fast(**kw):
    params = dict(filters=(4,), hidden_layer_sizes=(16,), dropout=0.0, max_iter=3,
                  batch_size=32, learning_rate_init=0.01, random_state=0)
    params.update(kw)
    return ConvNetClassifier(**params)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400], X[400:600], y[400:600]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_fit_predict_learns_digits(digits):
    X, y, Xt, yt = digits
    clf = fast(max_iter=8).fit(X, y)
    assert clf.image_shape_ == (1, 8, 8)
    assert clf.score(Xt, yt) > 0.65
    assert clf.n_iter_ == 8 and clf.t_ == 8 * len(X)
    assert len(clf.loss_curve_) == 8
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.n_outputs_ == 10 and clf.out_activation_ == "softmax"


def test_predict_proba_sums_to_one_and_log_proba(digits):
    X, y, Xt, _ = digits
    clf = fast().fit(X, y)
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), proba, rtol=1e-8)
    np.testing.assert_array_equal(clf.predict(Xt), clf.classes_[proba.argmax(axis=1)])


def test_string_labels_and_binary(digits):
    X, y, Xt, yt = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"], dtype=object)
    clf = fast(max_iter=5).fit(X, names[y])
    assert set(clf.classes_) == set(names)
    pred = clf.predict(Xt)
    assert pred.dtype == object and np.mean(pred == names[yt]) > 0.6
    mask = y < 2
    b = fast().fit(X[mask], np.where(y[mask] == 0, "a", "b"))
    assert b.predict_proba(Xt).shape == (len(Xt), 2)


def test_partial_fit_needs_classes_then_learns(digits):
    X, y, Xt, yt = digits
    clf = fast()
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=np.arange(10))
    assert clf.n_iter_ == 1 and list(clf.classes_) == list(range(10))
    for _ in range(6):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 7
    assert clf.score(Xt, yt) > 0.65
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 11]))


def test_4d_input_and_image_shape(digits):
    X, y, Xt, yt = digits
    clf = fast(max_iter=5).fit(X.reshape(-1, 1, 8, 8), y)
    assert clf.image_shape_ == (1, 8, 8)
    assert clf.score(Xt.reshape(-1, 1, 8, 8), yt) > 0.6
    with pytest.raises(ValueError, match="shape"):
        clf.predict(np.zeros((3, 1, 7, 7)))
    # explicit image shape for non-square rows; 2 channels of 4x8
    c2 = fast(image_shape=(2, 4, 8)).fit(X, y)
    assert c2.image_shape_ == (2, 4, 8)
    with pytest.raises(ValueError, match="image_shape"):
        fast(image_shape=(3, 3)).fit(X, y)
    # non-square rows without image_shape are refused (a convolution over tabular
    # columns means nothing), naming the remedies
    with pytest.raises(ValueError, match="image_shape.*filters=\\(\\)"):
        fast().fit(X[:, :10], y)
    # flattened RGB rows (3 x 8 x 8 = 192 features) are not taken for one channel
    rgb = np.repeat(X, 3, axis=1)
    with pytest.raises(ValueError, match="image_shape"):
        fast().fit(rgb, y)
    assert fast(image_shape=(3, 8, 8)).fit(rgb, y).image_shape_ == (3, 8, 8)
    # a channels-last array is refused, naming the transpose and image_shape
    last = np.repeat(X.reshape(-1, 8, 8, 1), 3, axis=3)
    with pytest.raises(ValueError, match="channels-last.*transpose"):
        fast().fit(last, y)
    # a dense network takes tabular rows as they are
    c3 = fast(filters=()).fit(X[:, :10], y)
    assert c3.image_shape_ == (10,)
    assert not any(type(layer).__name__ == "Conv2D" for layer in c3.network_.layers)


def test_lenet5_preset():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 16 * 16)).astype(np.float32)
    y = rng.integers(0, 3, size=60)
    clf = ConvNetClassifier(architecture="lenet5", max_iter=1, random_state=0).fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.network_.layers]
    assert kinds.count("Conv2D") == 2
    dense = [layer.units for layer in clf.network_.layers if type(layer).__name__ ==
             "Dense"]
    assert dense == [120, 84, 3]
    with pytest.raises(ValueError, match="at least 12x12"):
        ConvNetClassifier(architecture="lenet5").fit(np.zeros((4, 64)), [0, 1, 0, 1])


def test_early_stopping_attributes(digits):
    X, y, _, _ = digits
    clf = fast(early_stopping=True, max_iter=40, n_iter_no_change=2,
               validation_fraction=0.2).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert 0.5 < clf.best_validation_score_ <= 1.0
    assert clf.n_iter_ < 40  # stopped early


def test_nan_loss_is_detected_with_remedy(digits):
    X, y, _, _ = digits
    clf = fast(learning_rate_init=1e6, solver="sgd", momentum=0.9, max_iter=5)
    with pytest.raises(ValueError, match="learning_rate_init") as info:
        clf.fit(X * 1e3, y)
    assert "diverged" in str(info.value)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    # divergence of an already trained model rolls back to the last finite epoch
    # and warns, naming the remedy (sknets.utils._divergence)
    ok = fast(solver="sgd").fit(X, y)
    before = ok.network_.flat_params.copy()
    ok._optimizer.learning_rate = 1e6
    with pytest.warns(ConvergenceWarning, match="diverged.*learning_rate_init"):
        ok.partial_fit(X * 1e3, y)
    np.testing.assert_array_equal(ok.network_.flat_params, before)
    assert np.all(np.isfinite(ok.predict_proba(X[:5])))


def test_bad_input_errors(digits):
    X, y, _, _ = digits
    clf = fast()
    with pytest.raises(NotFittedError):
        clf.predict(X)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(Xn, y)
    with pytest.raises(ValueError):
        clf.fit(np.zeros((0, 64)), [])
    with pytest.raises(ValueError):
        clf.fit([["a", "b"], ["c", "d"]], [0, 1])
    clf.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError, match="Unknown label type"):
        fast().fit(X, np.linspace(0, 1, len(X)))


def test_float64_and_float32(digits):
    X, y, Xt, yt = digits
    c32 = fast(max_iter=5).fit(X.astype(np.float32), y)
    assert c32.network_.flat_params.dtype == np.float32
    c64 = fast(max_iter=5, dtype="float64").fit(X, y)
    assert c64.network_.flat_params.dtype == np.float64
    assert c64.score(Xt, yt) > 0.6 and c32.score(Xt, yt) > 0.6


def test_reproducible_with_random_state(digits):
    X, y, Xt, _ = digits
    a = fast(dropout=0.2, max_iter=2).fit(X, y)
    b = fast(dropout=0.2, max_iter=2).fit(X, y)
    np.testing.assert_array_equal(a.network_.flat_params, b.network_.flat_params)
    assert a.loss_curve_ == b.loss_curve_
    c = fast(dropout=0.2, max_iter=2, random_state=1).fit(X, y)
    assert not np.array_equal(a.network_.flat_params, c.network_.flat_params)


@pytest.mark.parametrize("solver,extra", [("sgd", {"nesterovs_momentum": False}),
                                          ("sgd", {"learning_rate": "invscaling"}),
                                          ("rmsprop", {}), ("adagrad", {}),
                                          ("adam", {"batch_norm": True,
                                                    "pooling": "avg"})])
def test_solvers_and_options_learn(digits, solver, extra):
    X, y, Xt, yt = digits
    lr = {"sgd": 0.05, "rmsprop": 0.003, "adagrad": 0.05, "adam": 0.01}[solver]
    clf = fast(solver=solver, learning_rate_init=lr, max_iter=6, **extra).fit(X, y)
    assert clf.score(Xt, yt) > 0.5


def test_warm_start_continues(digits):
    X, y, _, _ = digits
    clf = fast(warm_start=True, max_iter=2).fit(X, y)
    net = clf.network_
    clf.fit(X, y)
    assert clf.network_ is net and clf.n_iter_ == 4 and len(clf.loss_curve_) == 4
    cold = fast(max_iter=2).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 2


def test_verbose_prints_epochs(digits, capsys):
    X, y, _, _ = digits
    fast(verbose=True, max_iter=2, early_stopping=True).fit(X, y)
    out = capsys.readouterr().out
    assert "ConvNetClassifier: epoch 1, loss" in out
    assert "validation loss" in out and "validation score" in out and "time" in out


def test_pipeline_gridsearch_pickle_clone(digits):
    X, y, Xt, yt = digits
    pipe = make_pipeline(MinMaxScaler(), fast(max_iter=4))
    grid = GridSearchCV(pipe, {"convnetclassifier__filters": [(4,), (6,)],
                               "convnetclassifier__learning_rate_init": [0.01, 0.003]},
                        cv=2, n_jobs=2)
    grid.fit(X, y)
    assert grid.best_score_ > 0.6
    best = grid.best_estimator_
    best.predict_proba(Xt)                       # makes the float64 inference copy
    clf_state = best.steps[-1][1].__getstate__()
    assert "_net64" not in clf_state and "network_" in clf_state   # a cache: not kept
    restored = pickle.loads(pickle.dumps(best))
    np.testing.assert_allclose(restored.predict_proba(Xt), best.predict_proba(Xt))
    c = clone(best.steps[-1][1])
    assert c.get_params() == best.steps[-1][1].get_params()
    assert not hasattr(c, "network_")
    # an unpickled model can keep training
    clf = restored.steps[-1][1]
    clf.partial_fit(MinMaxScaler().fit(X).transform(X), y)
    assert np.shares_memory(clf.network_.layers[0].params[0], clf.network_.flat_params)
    assert clf._optimizer.params[0][0] is clf.network_.flat_params


def test_architecture_parameters(digits):
    X, y, _, _ = digits
    clf = fast(filters=np.array([3, 5]), kernel_size=(3, 5), hidden_layer_sizes=(),
               pooling=None, max_iter=1).fit(X, y)
    convs = [layer for layer in clf.network_.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(3, 3), (5, 5)]
    assert not any("Pool" in type(layer).__name__ for layer in clf.network_.layers)
    assert [type(layer).__name__ for layer in clf.network_.layers][-2:] == ["Flatten",
                                                                            "Dense"]
    with pytest.raises(ValueError, match="kernel_size"):
        fast(filters=(3, 5), kernel_size=(3, 3, 3)).fit(X, y)
    # filters=() is a dense network (MLPClassifier's layout)
    dense = fast(filters=(), max_iter=1).fit(X, y)
    assert [type(layer).__name__ for layer in dense.network_.layers] == [
        "Dense", "ReLU", "Dense"]
    bn = fast(batch_norm=True, activation="tanh", max_iter=1).fit(X, y)
    kinds = [type(layer).__name__ for layer in bn.network_.layers]
    assert kinds[:3] == ["Conv2D", "BatchNorm", "Tanh"]


def test_sample_weight_and_class_weight(digits):
    X, y, Xt, yt = digits
    # zero weight on a class: the network never learns to predict it
    w = np.where(y == 3, 0.0, 1.0)
    clf = fast(max_iter=8).fit(X, y, sample_weight=w)
    assert np.mean(clf.predict(Xt[yt == 3]) == 3) < 0.2
    ref = fast(max_iter=8).fit(X, y)
    assert np.mean(ref.predict(Xt[yt == 3]) == 3) > 0.5
    # unit weights are the unweighted fit
    ones = fast(max_iter=2).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(ones.network_.flat_params,
                               fast(max_iter=2).fit(X, y).network_.flat_params,
                               rtol=1e-5, atol=1e-6)
    # class_weight='balanced' on an imbalanced set raises the rare class's recall
    keep = (y != 1) | (np.arange(len(y)) % 8 == 0)
    Xi, yi = X[keep], y[keep]
    plain = fast(max_iter=6).fit(Xi, yi)
    bal = fast(max_iter=6, class_weight="balanced").fit(Xi, yi)
    assert np.mean(bal.predict(Xt[yt == 1]) == 1) >= np.mean(
        plain.predict(Xt[yt == 1]) == 1)
    cw = fast(max_iter=1, class_weight={3: 0.0}).fit(X, y)
    assert cw.n_iter_ == 1
    with pytest.raises(ValueError, match="sample_weight"):
        fast().fit(X, y, sample_weight=np.ones(3))


def test_regressor_learns_and_multi_output(digits):
    from sknets import ConvNetRegressor

    X, _, Xt, _ = digits
    def target(A):
        return A.reshape(-1, 8, 8)[:, :, :4].mean(axis=(1, 2))
    reg = ConvNetRegressor(filters=(4,), hidden_layer_sizes=(16,), dropout=0.0,
                           max_iter=15, learning_rate_init=0.01,
                           random_state=0).fit(X, target(X))
    assert reg.predict(Xt).shape == (len(Xt),)
    assert reg.score(Xt, target(Xt)) > 0.7
    Y = np.column_stack([target(X), -2 * target(X) + 5])
    multi = ConvNetRegressor(filters=(4,), hidden_layer_sizes=(16,), dropout=0.0,
                             max_iter=15, learning_rate_init=0.01,
                             random_state=0).fit(X, Y)
    pred = multi.predict(Xt)
    assert pred.shape == (len(Xt), 2)
    Yt = np.column_stack([target(Xt), -2 * target(Xt) + 5])
    assert multi.score(Xt, Yt) > 0.6
    assert np.corrcoef(pred[:, 0], pred[:, 1])[0, 1] < -0.9
    with pytest.raises(ValueError, match="targets"):
        multi.partial_fit(X, target(X)[:, None].repeat(3, axis=1))


def test_callbacks_history_and_stopping_line(digits, capsys):
    X, y, _, _ = digits
    seen = []

    def stop_at_three(est, record):
        seen.append(record["epoch"])
        return record["epoch"] == 3

    clf = fast(max_iter=10, callbacks=[stop_at_three], verbose=True).fit(X, y)
    assert seen == [1, 2, 3] and clf.n_iter_ == 3
    assert [r["epoch"] for r in clf.history_] == [1, 2, 3]
    assert {"loss", "learning_rate", "time"} <= set(clf.history_[0])
    assert clf.history_[-1]["loss"] == clf.loss_curve_[-1]
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("ConvNetClassifier: epoch 3, loss")
    assert "callback stopped" in out[-1]
    # the stopping rule's message comes after the last epoch's line
    fast(max_iter=50, tol=10.0, n_iter_no_change=1, verbose=True).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("ConvNetClassifier: epoch 3,")
    assert "did not improve" in out[-1] and "Stopping" in out[-1]


@pytest.mark.parametrize("solver", ["adam", "rmsprop", "sgd"])
def test_learning_rate_schedules_every_solver(digits, solver):
    X, y, _, _ = digits
    inv = fast(solver=solver, learning_rate="invscaling", power_t=0.5,
               max_iter=2).fit(X, y)
    assert inv.history_[0]["learning_rate"] == pytest.approx(0.01)
    assert inv.history_[1]["learning_rate"] == pytest.approx(0.01 / (len(X) + 1) ** 0.5)
    ada = fast(solver=solver, learning_rate="adaptive", tol=10.0, n_iter_no_change=1,
               max_iter=6).fit(X, y)
    rates = [r["learning_rate"] for r in ada.history_]
    assert rates[-1] < rates[0] and ada.n_iter_ == 6


def test_loss_explosion_is_divergence(digits):
    X, y, _, _ = digits
    clf = fast(solver="sgd", momentum=0.0, learning_rate_init=50.0, max_iter=5)
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_resnet_preset_on_rgb_patches():
    from sklearn.datasets import load_sample_image

    img = load_sample_image("china.jpg")[::4, ::4].astype(np.float64)
    rng = np.random.default_rng(0)
    # 8x8 RGB patches, label: which of the two halves of the image it comes from
    ys = rng.integers(0, img.shape[0] - 8, 240)
    xs = rng.integers(0, img.shape[1] - 8, 240)
    X = np.stack([img[a:a + 8, b:b + 8].transpose(2, 0, 1) for a, b in zip(ys, xs)])
    y = (xs > img.shape[1] // 2).astype(int)
    clf = ConvNetClassifier(architecture="resnet", max_iter=4, random_state=0)
    clf.fit(X[:200], y[:200])
    names = [type(layer).__name__ for layer in clf.network_.layers]
    assert names[:3] == ["Conv2D", "BatchNorm", "ReLU"]
    assert names.count("ResidualBlock") == 3 and names[-2:] == ["GlobalAvgPool2D",
                                                                 "Dense"]
    assert clf.image_shape_ == (3, 8, 8)
    assert clf.predict_proba(X[200:]).shape == (40, 2)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="4x4|pixels"):
        ConvNetClassifier(architecture="resnet", max_iter=1).fit(
            np.zeros((4, 1, 2, 2)), [0, 1, 0, 1])


def test_multilabel_targets(digits):
    X, y, Xt, yt = digits
    Y = np.column_stack([y >= 5, y % 2 == 0, y == 0]).astype(int)
    Yt = np.column_stack([yt >= 5, yt % 2 == 0, yt == 0]).astype(int)
    clf = fast(max_iter=15).fit(X, Y)
    assert clf.out_activation_ == "logistic" and list(clf.classes_) == [0, 1, 2]
    pred = clf.predict(Xt)
    assert pred.shape == Yt.shape and set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(Xt)
    assert proba.shape == Yt.shape and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), proba, rtol=1e-6)
    assert np.mean(pred == Yt) > 0.8          # per-label accuracy
    assert clf.score(Xt, Yt) > 0.5           # subset accuracy
    early = fast(max_iter=5, early_stopping=True).fit(X, Y)
    assert len(early.validation_scores_) == early.n_iter_
    with pytest.raises(ValueError, match="multilabel"):
        fast(class_weight="balanced").fit(X, Y)
    with pytest.raises(ValueError, match="several multiclass"):
        fast().fit(X, np.column_stack([y, y]))
