"""The shared training loop (sknets.nn._training) and the divergence policy."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sknets import ConvNetClassifier
from sknets.nn import Dense, ReLU, Sequential, make_optimizer
from sknets.nn._estimator import SupervisedModel
from sknets.nn._training import TrainingHistory, train
from sknets.nn.losses import squared_error
from sknets.nn.optimizers import make_solver
from sknets.utils._divergence import DivergenceError


class _Est:
    """Stands in for an estimator: the loop only reads its class name."""


def _problem(lr=0.05, n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]])
    net = Sequential([Dense(8), ReLU(), Dense(1)]).build((3,), rng=0, dtype=np.float64)
    opt = make_optimizer("adam", net.flat_parameters(), learning_rate=lr)
    return SupervisedModel(net, opt, X, Y, squared_error), rng


def test_train_reduces_loss_and_records():
    model, rng = _problem()
    hist = TrainingHistory()
    stopped = train(model, hist, estimator=_Est(), n_epochs=30, rng=rng, batch_size=16,
                    remedy="lower it", warn_max_iter=False)
    assert not stopped and hist.n_iter == 30 and hist.t == 30 * 64
    assert hist.loss_curve[-1] < 0.2 * hist.loss_curve[0]
    assert [r["epoch"] for r in hist.records] == list(range(1, 31))


def test_interrupt_restores_the_epoch_start():
    model, rng = _problem()
    hist = TrainingHistory()
    train(model, hist, estimator=_Est(), n_epochs=2, rng=rng, batch_size=16,
          remedy="x", warn_max_iter=False)
    before = model.get_state()
    calls = {"n": 0}
    original = model.train_batch

    def interrupted(idx):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(idx)

    model.train_batch = interrupted
    with pytest.raises(KeyboardInterrupt):
        train(model, hist, estimator=_Est(), n_epochs=5, rng=rng, batch_size=16,
              remedy="x")
    # two batches were applied, then rolled back: parameters and Adam state as before
    np.testing.assert_array_equal(model.net.flat_params, before["net"]["params"])
    assert model.optimizer.t == before["opt"]["t"]
    np.testing.assert_array_equal(model.optimizer.ms[0],
                                  before["opt"]["lists"]["ms"][0])
    assert hist.n_iter == 2


def test_divergence_policy_raise_then_warn():
    model, rng = _problem()
    hist = TrainingHistory()
    forgotten = []
    model.optimizer.learning_rate = 1e300
    model.X = model.X * 1e200
    with pytest.raises(DivergenceError, match="diverged.*epoch 1.*Try to lower"):
        train(model, hist, estimator=_Est(), n_epochs=3, rng=rng, batch_size=16,
              remedy="lower it", forget=lambda: forgotten.append(True))
    assert forgotten == [True] and hist.n_iter == 0
    # a trained model that diverges later is rolled back and warns
    model, rng = _problem()
    hist = TrainingHistory()
    train(model, hist, estimator=_Est(), n_epochs=2, rng=rng, batch_size=16,
          remedy="x", warn_max_iter=False)
    state = model.get_state()
    model.optimizer.learning_rate = 1e300
    model.X = model.X * 1e200
    with pytest.warns(ConvergenceWarning, match="diverged.*epoch 3"):
        assert train(model, hist, estimator=_Est(), n_epochs=3, rng=rng, batch_size=16,
                     remedy="lower it")
    np.testing.assert_array_equal(model.net.flat_params, state["net"]["params"])
    assert hist.n_iter == 2


def test_optimizer_state_roundtrip_and_solver_names():
    p = np.ones(3)
    g = np.full(3, 0.5)
    for solver in ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"):
        opt = make_solver(solver, [(p, g)], learning_rate_init=0.1)
        opt.step()
        saved, p_saved = opt.get_state(), p.copy()
        opt.step()
        opt.step()
        opt.set_state(saved)
        p[...] = p_saved
        opt.step()
        q = p.copy()
        opt.set_state(saved)
        p[...] = p_saved
        opt.step()
        np.testing.assert_array_equal(p, q)
    assert type(make_solver("sgd", [(p, g)], learning_rate_init=0.1,
                            momentum=0)).__name__ == "SGD"
    with pytest.raises(ValueError, match="solver"):
        make_solver("lbfgs", [(p, g)], learning_rate_init=0.1)
    with pytest.raises(ValueError, match="schedule"):
        make_optimizer("adam", [(p, g)], schedule="cosine")


def test_estimator_interrupt_keeps_it_consistent():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]

    def interrupt_at_two(est, record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    clf = ConvNetClassifier(filters=(4,), hidden_layer_sizes=(8,), max_iter=5,
                            callbacks=interrupt_at_two, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    # the callback runs after epoch 2 is recorded: the model is that of epoch 2
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert np.isfinite(clf.network_.flat_params).all()
    assert clf.predict(X[:5]).shape == (5,)
    # and it can go on
    clf.set_params(callbacks=None, max_iter=1, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 3


def test_failed_first_fit_is_unfitted_and_refit_works():
    X, y = load_digits(return_X_y=True)
    clf = ConvNetClassifier(filters=(4,), hidden_layer_sizes=(8,), solver="sgd",
                            learning_rate_init=1e6, max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X[:200] * 1e3, y[:200])
    with pytest.raises(NotFittedError):
        clf.predict(X[:2])
    assert not hasattr(clf, "classes_") and not hasattr(clf, "_history")
    clf.set_params(learning_rate_init=0.01, solver="adam", max_iter=10, dropout=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:200], y[:200])
    assert clf.score(X[200:400], y[200:400]) > 0.3
