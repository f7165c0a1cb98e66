"""Real-workflow robustness of every estimator: read-only inputs, layouts and dtypes,
extremes, faults, threads and processes.

Each estimator gets one ``Case``: a small configuration, data it is meant for, the
method that uses the fit, and what its closest scikit-learn peer accepts (sparse
input). Every probe below runs over every case; a new estimator adds one ``Case``.
The probe's bar is the sklearn user's: the right answer or a clear ``ValueError`` /
``TypeError`` / ``MemoryError`` — never a Numba traceback, a hang, NaN output or a
half-fitted estimator.
"""

import os
import pickle
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils.validation import check_is_fitted

import sknets

pd = pytest.importorskip("pandas")

_X, _Y = load_digits(return_X_y=True)
_X01 = _X[:240] / 16.0
_Y01 = _Y[:240]


def _mean_score(est, X, y=None):
    return float(np.mean(est.score_samples(X)))


@dataclass
class Case:
    name: str
    make: Callable
    X: np.ndarray
    y: np.ndarray = None
    method: str = "predict"
    sparse: bool = False                 # the scikit-learn peer accepts sparse X
    grid: dict = field(default_factory=dict)
    scoring: Callable = None
    diverge: dict = field(default_factory=dict)  # parameters that make training blow up
    huge: dict = field(default_factory=dict)     # a request far beyond the memory
    long: dict = field(default_factory=dict)     # a fit long enough to interrupt

    def fit(self, est, X=None, y="same"):
        X = self.X if X is None else X
        y = self.y if isinstance(y, str) else y
        if y is None:
            return est.fit(X)
        return est.fit(X, y)

    def use(self, est, X=None):
        return getattr(est, self.method)(self.X if X is None else X)


CASES = [
    Case("BernoulliRBM",
         lambda **k: sknets.BernoulliRBM(**{"n_components": 8, "n_iter": 2,
                                            "random_state": 0, **k}),
         _X01, method="transform", sparse=True, grid={"n_components": [4, 8]},
         scoring=_mean_score, diverge={"learning_rate": 1e12},
         huge={"n_components": 10**11}, long={"n_components": 256, "n_iter": 400}),
    Case("SpikeSlabRBM",
         lambda **k: sknets.SpikeSlabRBM(**{"n_components": 4, "n_slabs": 2,
                                            "n_iter": 2, "batch_size": 10,
                                            "random_state": 0, **k}),
         _X01 - _X01.mean(axis=0), method="transform", grid={"n_components": [2, 4]},
         scoring=_mean_score, diverge={"learning_rate": 1e6},
         huge={"n_components": 10**10}, long={"n_components": 256, "n_iter": 400}),
    Case("KMeans",
         lambda **k: sknets.KMeans(**{"n_clusters": 3, "n_init": 1, "random_state": 0,
                                      **k}),
         _X01, sparse=True, grid={"n_clusters": [2, 3]},
         long={"n_clusters": 64, "n_init": 400, "init": "random", "max_iter": 300,
               "tol": 0}),
    Case("MeanShift", lambda **k: sknets.MeanShift(**{"bandwidth": 2.0, **k}),
         _X01[:, :4] * 4, grid={"bandwidth": [1.0, 2.0]},
         scoring=lambda est, X, y=None: float(len(est.cluster_centers_)),
         long={"bandwidth": 3.0, "bin_seeding": False}),
    Case("ConvNetClassifier",
         lambda **k: sknets.ConvNetClassifier(**{"filters": (4,),
                                                 "hidden_layer_sizes": (8,),
                                                 "max_iter": 2, "random_state": 0,
                                                 **k}),
         _X01, _Y01, method="predict_proba", grid={"alpha": [1e-4, 1e-3]},
         diverge={"solver": "sgd", "learning_rate_init": 1e6},
         huge={"hidden_layer_sizes": (10**10,)}, long={"max_iter": 10**4}),
    Case("ConvNetRegressor",
         lambda **k: sknets.ConvNetRegressor(**{"filters": (4,),
                                                "hidden_layer_sizes": (8,),
                                                "max_iter": 2, "random_state": 0, **k}),
         _X01, _X01[:, 20] * 3, grid={"alpha": [1e-4, 1e-3]},
         diverge={"solver": "sgd", "learning_rate_init": 1e6},
         huge={"filters": (10**9,)}, long={"max_iter": 10**4}),
    Case("GANSampler",
         lambda **k: sknets.GANSampler(**{"generator_layer_sizes": (8,),
                                          "discriminator_layer_sizes": (8,),
                                          "max_iter": 2, "random_state": 0, **k}),
         _X01[:, 18:21], method="score_samples", grid={"noise_dim": [2, 4]},
         scoring=_mean_score, diverge={"learning_rate_init": 1e6},
         huge={"generator_layer_sizes": (10**10,)}, long={"max_iter": 10**5}),
    Case("VariationalAutoencoder",
         lambda **k: sknets.VariationalAutoencoder(**{"n_components": 2,
                                                      "hidden_layer_sizes": (8,),
                                                      "max_iter": 2, "random_state": 0,
                                                      **k}),
         _X01, method="transform", grid={"n_components": [2, 3]},
         scoring=_mean_score,
         # X * 1e3 is outside the Bernoulli likelihood's [0, 1]
         diverge={"likelihood": "gaussian", "solver": "sgd",
                  "learning_rate_init": 1e6},
         huge={"hidden_layer_sizes": (10**10,)}, long={"max_iter": 10**5}),
    Case("VAEClassifier",
         lambda **k: sknets.VAEClassifier(**{"n_components": 2,
                                             "hidden_layer_sizes": (8,),
                                             "max_iter": 2, "random_state": 0, **k}),
         _X01, _Y01, method="predict_proba", grid={"alpha": [0.5, 1.0]},
         diverge={"likelihood": "gaussian", "solver": "sgd",
                  "learning_rate_init": 1e6},
         huge={"hidden_layer_sizes": (10**10,)}, long={"max_iter": 10**5}),
    Case("DBNClassifier",
         lambda **k: sknets.DBNClassifier(**{"hidden_layer_sizes": (8,),
                                             "pretrain_n_iter": 1, "max_iter": 2,
                                             "random_state": 0, **k}),
         _X01, _Y01, method="predict_proba", grid={"alpha": [1e-4, 1e-3]},
         diverge={"solver": "sgd", "learning_rate_init": 1e6},
         huge={"hidden_layer_sizes": (10**10,)}, long={"max_iter": 10**5}),
    Case("Autoencoder",
         lambda **k: sknets.Autoencoder(**{"n_components": 2,
                                           "hidden_layer_sizes": (8,),
                                           "max_iter": 2, "random_state": 0, **k}),
         _X01, method="transform", grid={"n_components": [2, 3]},
         scoring=_mean_score, diverge={"solver": "sgd", "learning_rate_init": 1e6},
         huge={"hidden_layer_sizes": (10**10,)}, long={"max_iter": 10**5}),
]
IDS = [c.name for c in CASES]


def _fit_quiet(case, est, X=None, y="same"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return case.fit(est, X, y)


def _finite(out):
    out = np.asarray(out)
    return out.dtype.kind not in "fc" or bool(np.isfinite(out).all())


# ----------------------------------------------------------------------------- inputs

def _readonly(A):
    B = np.array(A)
    B.setflags(write=False)
    return B


LAYOUTS = {
    "read-only": _readonly,
    "non-contiguous": lambda A: np.repeat(A, 2, axis=1)[:, ::2],
    "fortran": np.asfortranarray,
    "float16": lambda A: A.astype(np.float16),
    # integers within the data's range (Bernoulli-likelihood models refuse X > 1)
    "int64": lambda A: np.round(A).astype(np.int64),
    "int8": lambda A: np.round(A).astype(np.int8),
    "bool": lambda A: A > 0.3,
    "big-endian": lambda A: A.astype(">f8"),
    "list": lambda A: A.tolist(),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_layouts_and_dtypes(case, layout):
    Xv = LAYOUTS[layout](case.X)
    est = _fit_quiet(case, case.make(), Xv)
    out = case.use(est, Xv)
    assert _finite(out)
    # the same data as float64 C-contiguous gives the same model
    ref = _fit_quiet(case, case.make(), np.asarray(Xv, dtype=np.float64))
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64),
                               np.asarray(case.use(ref, np.asarray(Xv, np.float64)),
                                          dtype=np.float64), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_memmap_read_only(case, tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.ascontiguousarray(case.X))
    M = np.load(path, mmap_mode="r")
    assert not M.flags.writeable
    est = _fit_quiet(case, case.make(), M)
    assert _finite(case.use(est, M))
    if hasattr(est, "partial_fit"):
        est.partial_fit(M) if case.y is None else est.partial_fit(M, case.y)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gridsearch_two_workers_memmapped(case):
    # joblib hands each worker a read-only memmap of inputs above 1 MB
    reps = int(np.ceil(1.2 * 2**20 / case.X.nbytes))
    X = np.tile(case.X, (reps, 1))
    assert X.nbytes > 2**20
    y = None if case.y is None else np.tile(case.y, reps)
    gs = GridSearchCV(case.make(), case.grid, cv=2, n_jobs=2, scoring=case.scoring,
                      error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs.fit(X, y)
    assert np.isfinite(gs.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pandas_names_set_output_and_na(case):
    cols = [f"f{i}" for i in range(case.X.shape[1])]
    df = pd.DataFrame(case.X, columns=cols)
    est = _fit_quiet(case, case.make(), df)
    assert list(est.feature_names_in_) == cols
    if hasattr(est, "transform") and hasattr(est, "set_output"):
        out = est.set_output(transform="pandas").transform(df)
        assert isinstance(out, pd.DataFrame)
        assert list(out.columns) == list(est.get_feature_names_out())
    na = df.astype("Float64")
    na.iloc[0, 0] = pd.NA
    with pytest.raises(ValueError, match="NaN"):
        case.fit(case.make(), na)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sparse_as_the_peer(case, fmt):
    Xs = sp.random(40, case.X.shape[1], density=0.3, format=fmt, random_state=0)
    y = None if case.y is None else case.y[:40]
    if case.sparse:
        est = _fit_quiet(case, case.make(), Xs, y)
        dense = _fit_quiet(case, case.make(), Xs.toarray(), y)
        np.testing.assert_allclose(case.use(est, Xs), case.use(dense, Xs.toarray()),
                                   rtol=1e-5, atol=1e-6)
    else:
        with pytest.raises(TypeError, match="dense data is required"):
            case.fit(case.make(), Xs, y)


# ----------------------------------------------------------------------------- extremes

EXTREMES = {
    "1e300": lambda A: A * 1e300,
    "denormal": lambda A: A * 1e-310,
    "all-zero": np.zeros_like,
    "constant-column": lambda A: np.column_stack([A[:, :-1], np.full(len(A), 0.5)]),
    "one-sample": lambda A: A[:1],
    "one-feature": lambda A: A[:, -1:],
    "fewer-than-batch": lambda A: A[:5],
    "duplicates": lambda A: np.repeat(A[:1], len(A), axis=0),
}


@pytest.mark.parametrize("extreme", EXTREMES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_extremes_answer_or_clear_error(case, extreme):
    Xv = EXTREMES[extreme](case.X)
    y = None if case.y is None else case.y[:len(Xv)]
    if y is not None and extreme == "duplicates":
        y = np.resize(case.y[:2], len(Xv))
    try:
        est = _fit_quiet(case, case.make(), Xv, y)
    except (ValueError, MemoryError) as exc:
        # a clear error: sklearn's own, or one naming the problem, not a kernel's
        assert "numba" not in str(exc).lower() and str(exc)
        return
    out = case.use(est, Xv)
    assert _finite(out)


@pytest.mark.parametrize("case", [c for c in CASES if c.huge], ids=lambda c: c.name)
def test_huge_request_fails_fast(case):
    t0 = time.perf_counter()
    with pytest.raises(MemoryError, match="[GT]iB"):
        case.fit(case.make(**case.huge))
    assert time.perf_counter() - t0 < 10


def test_more_components_than_samples():
    X = _X01[:10]
    assert sknets.BernoulliRBM(n_components=50, n_iter=1).fit(X).transform(X).shape == (
        10, 50)
    Xc = X - X.mean(axis=0)
    assert sknets.SpikeSlabRBM(n_components=50, n_iter=1).fit(Xc).transform(Xc).shape[
        0] == 10
    with pytest.raises(ValueError, match="n_clusters"):
        sknets.KMeans(n_clusters=20).fit(X)


# ----------------------------------------------------------------------------- faults

@pytest.mark.parametrize("case", [c for c in CASES if c.diverge], ids=lambda c: c.name)
def test_divergence_never_leaves_nan(case):
    X = case.X * 1e3
    est = case.make(**case.diverge)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            case.fit(est, X)
            said = " ".join(str(w.message) for w in caught
                            if issubclass(w.category, ConvergenceWarning))
        except ValueError as exc:
            said = str(exc)
    # when training noticed (non-finite values, an exploding loss, an improper
    # model), the user is told what to change; either way no parameter is NaN
    if said:
        assert "diverg" in said or "improper" in said
        assert "lower" in said or "Try to" in said
    try:
        check_is_fitted(est)
    except NotFittedError:
        return      # nothing usable was learned: unfitted, as promised
    assert _finite(case.use(est))
    for name, value in vars(est).items():
        if (name.endswith("_") and isinstance(value, np.ndarray)
                and value.dtype.kind == "f"):
            assert np.isfinite(value).all(), name


@pytest.mark.parametrize("case", [c for c in CASES if c.diverge], ids=lambda c: c.name)
def test_partial_fit_after_failed_fit(case):
    est = case.make(**case.diverge)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            case.fit(est, case.X * 1e3)
        except ValueError:
            pass
    est.set_params(**{k: v for k, v in case.make().get_params().items()
                      if k in case.diverge})
    if hasattr(est, "partial_fit"):
        kwargs = {"classes": np.unique(case.y)} if is_classifier(est) else {}
        args = (case.X,) if case.y is None else (case.X, case.y)
        est.partial_fit(*args, **kwargs)
    else:
        _fit_quiet(case, est)
    assert _finite(case.use(est))


@pytest.mark.parametrize("case", [c for c in CASES if c.long], ids=lambda c: c.name)
def test_keyboard_interrupt_leaves_unfitted_or_consistent(case):
    import _thread

    X = np.tile(case.X, (8, 1))
    y = None if case.y is None else np.tile(case.y, 8)
    est = case.make(**case.long)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            case.fit(est, X, y)
        pytest.skip("the fit finished before the interrupt")
    except KeyboardInterrupt:
        pass
    finally:
        timer.cancel()
    try:
        check_is_fitted(est)
    except NotFittedError:
        assert not any(k.endswith("_") and not k.startswith("_") for k in vars(est))
        return
    assert _finite(case.use(est))
    # a consistent estimator goes on training
    est.set_params(**{k: v for k, v in case.make().get_params().items()
                      if k in case.long})
    assert _finite(case.use(_fit_quiet(case, est)))


# ---------------------------------------------------------------- threads, processes

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_four_threads_give_the_serial_result(case):
    est = _fit_quiet(case, case.make())
    ref = case.use(est)
    outs = [None] * 4

    def work(i):
        outs[i] = case.use(est)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for out in outs:
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_same_random_state_same_result_and_float32(case):
    a = case.use(_fit_quiet(case, case.make()))
    b = case.use(_fit_quiet(case, clone(case.make())))
    np.testing.assert_array_equal(a, b)


def test_pickles_predict_identically_in_a_fresh_process(tmp_path):
    fitted = [(c.name, c.method, _fit_quiet(c, c.make()), c.X[:50]) for c in CASES]
    expected = [np.asarray(getattr(est, m)(X)) for _, m, est, X in fitted]
    path = tmp_path / "fitted.pkl"
    with open(path, "wb") as f:
        pickle.dump([(m, est, X) for _, m, est, X in fitted], f)
    out = tmp_path / "out.npz"
    code = ("import pickle, numpy as np\n"
            f"items = pickle.load(open({str(path)!r}, 'rb'))\n"
            "res = [np.asarray(getattr(e, m)(X)) for m, e, X in items]\n"
            f"np.savez({str(out)!r}, *res)\n")
    env = dict(os.environ)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    got = np.load(out)
    for (name, *_), exp, key in zip(fitted, expected, got.files):
        np.testing.assert_array_equal(got[key], exp, err_msg=name)
