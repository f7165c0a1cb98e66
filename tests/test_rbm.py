"""Tests of sknets.BernoulliRBM: kernels against numpy references, extras, bad input,
dtypes, reproducibility, sklearn integration."""

import pickle
import re
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknets import BernoulliRBM
from sknets.rbm._base import batch_bounds, chains_from_rows
from sknets.rbm._bernoulli_kernels import (
    MT_SCRATCH,
    legacy_normal,
    minibatch_draws,
    mt_fill_random,
)
from sknets.utils import _threads
from sknets.utils._numba_math import (
    count_nonfinite_outside,
    momentum_step,
    sigmoid,
    sigmoid_inplace,
)
from tests.references.rbm import (
    count_nonfinite_outside_reference,
    epoch_reference,
    momentum_step_reference,
)
from tests.references.rbm import minibatch_draws as minibatch_draws_reference

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = X_DIGITS / 16.0


def _binaryish(n, d, seed=0):
    rng = np.random.RandomState(seed)
    X = (rng.rand(n, d) < rng.rand(d) * 0.6).astype(np.float64)
    gray = rng.rand(n, d) < 0.1
    X[gray] = rng.rand(gray.sum())
    return X


# ----------------------------------------------------------------------- kernels
@pytest.mark.parametrize("odd", [False, True])
def test_mt_stream_equals_randomstate(odd):
    rs = np.random.RandomState(123)
    rs.random_sample(5)  # start mid-block
    if odd:  # one 32-bit word more: doubles' word pairs straddle the state blocks
        rs.randint(0, 1000)
    state = rs.get_state()
    assert state[2] % 2 == odd
    key = state[1].copy()
    pos = state[2]
    words = np.empty(MT_SCRATCH, np.uint32)  # the scratch need not grow with n
    for n in (1, 311, 700, 2000, 0, 312):  # crosses the 624-word twists many times
        out = np.empty(n)
        pos = mt_fill_random(key, pos, words, out)
        np.testing.assert_array_equal(out, rs.random_sample(n))
    after = rs.get_state()
    assert pos == after[2]
    np.testing.assert_array_equal(key, after[1])


@pytest.mark.parametrize("dtype, itype, rtol", [(np.float32, np.int32, 2e-6),
                                                (np.float64, np.int64, 1e-13)])
def test_sigmoid_inplace_matches_expit(dtype, itype, rtol):
    rng = np.random.RandomState(0)
    x = np.concatenate([rng.randn(500) * 8, [0.0, -80.0, 80.0, -1e4, 1e4, 700, -700]])
    x = x.astype(dtype)
    a = x.copy()
    sigmoid_inplace(a, np.empty(a.shape[0], itype))
    expected = expit(x.astype(np.float64))
    assert a.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all((a >= 0) & (a <= 1))
    # relative accuracy where the value is representable, absolute in the tails
    np.testing.assert_allclose(a, expected, rtol=rtol, atol=np.finfo(dtype).tiny * 1e8)


@numba.njit
def _sigmoid_each(x, out):
    for i in range(x.shape[0]):
        out[i] = sigmoid(x[i])


def test_scalar_sigmoid_matches_expit():
    x = np.array([0.0, -80.0, 80.0, -1e4, 1e4, 709.0, -745.0, 1e-3, -1e-3, 3.0, -3.0])
    out = np.empty_like(x)
    _sigmoid_each(x, out)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, expit(x), rtol=1e-15, atol=1e-300)


def test_momentum_step_matches_reference():
    rng = np.random.RandomState(0)
    p, g, v = rng.randn(3, 4, 5)
    p2, g2, v2 = p.copy(), g.copy(), v.copy()
    momentum_step(p, g, v, 0.1, 0.9, 0.01)
    momentum_step_reference(p2, g2, v2, 0.1, 0.9, 0.01)
    np.testing.assert_allclose(p, p2, rtol=1e-14)
    np.testing.assert_allclose(v, v2, rtol=1e-14)


def test_minibatch_draws_match_reference():
    for args in [(10, 10, 64, 100, 1, True, False), (7, 10, 5, 3, 2, False, False),
                 (5, 5, 7, 6, 3, True, True), (3, 3, 5, 2, 1, False, True)]:
        assert minibatch_draws(*args) == minibatch_draws_reference(*args)


def test_batch_bounds_are_sklearn_slices():
    from sklearn.utils import gen_even_slices

    for n, bs in [(25, 10), (30, 10), (3, 10), (7188, 10), (1, 1)]:
        n_batches = int(np.ceil(n / bs))
        slices = list(gen_even_slices(n_batches * bs, n_batches, n_samples=n))
        b = batch_bounds(n, bs)
        assert [(s.start, s.stop) for s in slices] == list(zip(b[:-1], b[1:]))


def test_task_claims_hand_out_each_task_once():
    # the blocked kernel's task claims: under two threads, each starting at its own
    # share, every task of a phase is taken exactly once, phase after phase (the
    # epoch number tells this phase's claims from the last one's)
    import numba

    from sknets.rbm._bernoulli_blocked_kernels import _claim

    @numba.njit(parallel=True)
    def grab(flags, got, owner, n_phases):
        n = got.shape[1]
        for ep in range(1, n_phases + 1):
            for t in numba.prange(2):
                st = t * n // 2
                q, j = _claim(flags, ep, n, st, 0)
                while q >= 0:
                    got[ep - 1, q] += 1
                    owner[ep - 1, q] = t
                    q, j = _claim(flags, ep, n, st, j)

    flags = np.zeros(3000, np.int64)
    got = np.zeros((5, 2000), np.int64)
    owner = np.full((5, 2000), -1)
    grab(flags, got, owner, 5)
    assert np.all(got == 1)
    assert set(np.unique(owner)) <= {0, 1}  # (who took what depends on timing)


def test_chains_from_rows():
    X = np.arange(20.0).reshape(10, 2)
    c = chains_from_rows(sp.csr_matrix(X), 4, np.random.RandomState(0))
    assert c.shape == (4, 2) and c.flags.c_contiguous
    assert all(any(np.array_equal(r, x) for x in X) for r in c)


def _reference_fit(X, est, rs):
    """Plain-numpy replay of est.fit(X) (same draws, same order)."""
    dtype = X.dtype
    H, V = est.n_components, X.shape[1]
    W = np.asarray(rs.normal(0, 0.01, (H, V)), dtype=dtype)
    bh = np.zeros(H, dtype)
    bv = np.zeros(V, dtype)
    chain = np.zeros((est.batch_size, H), dtype)
    vel = (np.zeros_like(W), np.zeros_like(bh), np.zeros_like(bv))
    bounds = batch_bounds(X.shape[0], est.batch_size)
    for _ in range(est.n_iter):
        epoch_reference(X, bounds, W, bh, bv, chain, *vel, rs, est.learning_rate,
                        est.momentum, est.weight_decay, est.n_gibbs_steps,
                        est.persistent, est.visible_unit == "gaussian")
    return W, bh, bv, chain


def _assert_matches_reference(X, est, seed):
    """``est`` (fitted on X, or on its CSR copy) equals the numpy replay of its fit:
    parameters to rounding, chains exactly."""
    W, bh, bv, chain = _reference_fit(X, est, np.random.RandomState(seed))
    tol = dict(rtol=1e-9, atol=1e-11) if X.dtype == np.float64 else dict(rtol=2e-4,
                                                                         atol=2e-6)
    assert est.components_.dtype == X.dtype
    np.testing.assert_allclose(est.components_, W, **tol)
    np.testing.assert_allclose(est.intercept_hidden_, bh, **tol)
    np.testing.assert_allclose(est.intercept_visible_, bv, **tol)
    np.testing.assert_array_equal(est.h_samples_, chain)


KERNEL_CASES = [
    dict(),  # scikit-learn's PCD-1
    dict(persistent=False),  # CD-1
    dict(persistent=False, n_gibbs_steps=3),  # CD-3
    dict(n_gibbs_steps=2, momentum=0.5, weight_decay=0.01),  # PCD-2 + extras
    dict(visible_unit="gaussian", learning_rate=0.01),
    dict(visible_unit="gaussian", learning_rate=0.01, persistent=False,
         momentum=0.9, weight_decay=1e-3),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", KERNEL_CASES)
@pytest.mark.parametrize("sparse", [False, True])
def test_epoch_kernel_matches_numpy_reference(params, dtype, sparse):
    # 23 rows with batch_size 5: the last minibatch is shorter than the chains
    X = _binaryish(23, 7, seed=1).astype(dtype)
    if params.get("visible_unit") == "gaussian":
        X = StandardScaler().fit_transform(X).astype(dtype)
    est = BernoulliRBM(n_components=6, batch_size=5, n_iter=3, random_state=7,
                       **params)
    est.fit(sp.csr_matrix(X) if sparse else X)
    _assert_matches_reference(X, est, 7)


@pytest.fixture
def blocked_epochs(monkeypatch):
    """Force the blocked epoch kernel, on 2 threads whatever the size and the load;
    returns the thread count of each call (``blocked_epochs.n_threads`` sets it)."""
    import sknets.rbm._bernoulli as bernoulli

    class Calls(list):
        n_threads = 2

    calls = Calls()
    monkeypatch.setattr(bernoulli, "_BLOCKED_MIN_WORK", 0)
    monkeypatch.setattr(bernoulli, "effective_n_threads",
                        lambda n_jobs=None: calls.n_threads)
    monkeypatch.setattr(_threads, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(_threads, "PARALLEL_MIN_WORK_BUSY", 0)
    # tasks of 2 rows: minibatches of 5 (or 4) rows in 3 (2) groups, the last short
    monkeypatch.setattr(bernoulli, "_ROWS_PER_TASK", 2)
    kernel = bernoulli.blocked_epoch

    def counted(*args):
        calls.append(args[-1])  # the thread count
        return kernel(*args)

    monkeypatch.setattr(bernoulli, "blocked_epoch", counted)
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", KERNEL_CASES)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_features, n_components",
                         [(7, 6), (40, 70), (150, 130), (300, 20)])
def test_blocked_epoch_kernel_matches_reference_and_dense_kernel(
        params, dtype, sparse, n_features, n_components, blocked_epochs,
        monkeypatch):
    # the blocked kernel on 2 threads. (40, 70): two hidden regions (64 + 6 units);
    # (150, 130): three visible regions (64 + 64 + 22 features) and three hidden ones
    # (64 + 64 + 2), packed blocks of 64 (float32) or 32 (float64) columns,
    # transposes past the last feature (150 is not a multiple of 8); (300, 20): the
    # parameter step's tasks over two parts of the features (256 + 44)
    import sknets.rbm._bernoulli as bernoulli

    X = _binaryish(23, n_features, seed=1).astype(dtype)
    if params.get("visible_unit") == "gaussian":
        X = StandardScaler().fit_transform(X).astype(dtype)
    Xf = sp.csr_matrix(X) if sparse else X
    kw = dict(n_components=n_components, batch_size=5, n_iter=3, random_state=7,
              **params)
    par = BernoulliRBM(**kw).fit(Xf)
    assert blocked_epochs == [2, 2, 2]
    _assert_matches_reference(X, par, 7)
    names = ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_")
    # every element gets the same arithmetic whichever thread computes it
    blocked_epochs.n_threads = 1
    one = BernoulliRBM(**kw).fit(Xf)
    assert blocked_epochs == [2, 2, 2, 1, 1, 1]
    for name in names:
        np.testing.assert_array_equal(getattr(par, name), getattr(one, name))
    # the dense (BLAS) kernel: the same model up to rounding
    monkeypatch.setattr(bernoulli, "_BLOCKED_MIN_WORK", 10**18)
    dense = BernoulliRBM(**kw).fit(Xf)
    assert len(blocked_epochs) == 6
    for name in names:
        np.testing.assert_allclose(getattr(par, name), getattr(dense, name),
                                   rtol=1e-12 if dtype == np.float64 else 1e-5,
                                   atol=1e-14 if dtype == np.float64 else 1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_epoch_kernel_matches_reference_wide_data(dtype):
    # 300 features, 40 components in minibatches of 10 rows
    X = _binaryish(30, 300, seed=4).astype(dtype)
    est = BernoulliRBM(n_components=40, batch_size=10, n_iter=2, random_state=5).fit(X)
    _assert_matches_reference(X, est, 5)


def test_kernel_and_threads_chosen_by_size_and_load(monkeypatch):
    import sknets.rbm._bernoulli as bernoulli

    calls = []
    kernel = bernoulli.blocked_epoch
    monkeypatch.setattr(bernoulli, "blocked_epoch",
                        lambda *a: calls.append(a[-1]) or kernel(*a))
    monkeypatch.setattr(bernoulli, "effective_n_threads", lambda n_jobs=None: 2)
    # scikit-learn's defaults on digits (10 x 64 x 256): the dense kernel, no
    # parallel region at all
    X = _binaryish(40, 64)
    BernoulliRBM(n_iter=1, random_state=0).fit(X)
    assert calls == []
    # minibatches of 100 x 784 x 500: the blocked kernel, on 2 threads when the
    # machine is idle, on one when other processes keep the cores busy
    X = _binaryish(100, 784)
    kw = dict(n_components=500, batch_size=100, n_iter=1, random_state=0)
    monkeypatch.setattr(_threads, "machine_is_busy", lambda n_threads: False)
    BernoulliRBM(**kw).fit(X)
    monkeypatch.setattr(_threads, "machine_is_busy", lambda n_threads: True)
    BernoulliRBM(**kw).fit(X)
    assert calls == [2, 1]
    # the process' thread limit
    monkeypatch.setattr(_threads, "machine_is_busy", lambda n_threads: False)
    monkeypatch.setattr(bernoulli, "effective_n_threads", lambda n_jobs=None: 1)
    BernoulliRBM(**kw).fit(X)
    assert calls == [2, 1, 1]


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 9), h=st.integers(1, 9),
       bs=st.integers(1, 12), seed=st.integers(0, 2**31 - 1),
       persistent=st.booleans())
def test_epoch_kernel_matches_reference_random_shapes(n, d, h, bs, seed, persistent):
    X = _binaryish(n, d, seed=seed % 1000)
    est = BernoulliRBM(n_components=h, batch_size=bs, n_iter=2, random_state=seed,
                       persistent=persistent).fit(X)
    W, bh, bv, chain = _reference_fit(X, est, np.random.RandomState(seed))
    np.testing.assert_allclose(est.components_, W, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(est.intercept_visible_, bv, rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(est.h_samples_, chain)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_model_as_sklearn(dtype):
    """Same random_state -> scikit-learn's model, up to rounding."""
    X = X_DIGITS[:300].astype(dtype)
    ours = BernoulliRBM(n_components=20, n_iter=2, random_state=3).fit(X)
    ref = SkBernoulliRBM(n_components=20, n_iter=2, random_state=3).fit(X)
    rtol = 1e-9 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=rtol,
                               atol=rtol * 1e-2)
    np.testing.assert_allclose(ours.intercept_visible_, ref.intercept_visible_,
                               rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_array_equal(ours.h_samples_, ref.h_samples_)
    assert ours.components_.dtype == ref.components_.dtype == dtype
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X),
                               rtol=rtol)
    np.testing.assert_array_equal(ours.gibbs(X[:20]), ref.gibbs(X[:20]))
    # partial_fit too (one minibatch made of the whole input, as scikit-learn)
    ours = BernoulliRBM(n_components=20, random_state=3)
    ref = SkBernoulliRBM(n_components=20, random_state=3)
    for start in range(0, 300, 50):
        ours.partial_fit(X[start:start + 50].astype(np.float64))
        ref.partial_fit(X[start:start + 50].astype(np.float64))
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=rtol,
                               atol=rtol * 1e-2)


# ----------------------------------------------------------------------- extras
def test_cd_momentum_weight_decay_change_training():
    X = X_DIGITS[:400]
    base = BernoulliRBM(n_components=16, n_iter=3, random_state=0).fit(X)
    cd = BernoulliRBM(n_components=16, n_iter=3, random_state=0,
                      persistent=False).fit(X)
    assert not np.allclose(cd.components_, base.components_)
    np.testing.assert_array_equal(cd.h_samples_, 0)  # chains not carried over
    decayed = BernoulliRBM(n_components=16, n_iter=3, random_state=0,
                           weight_decay=1.0).fit(X)
    assert np.linalg.norm(decayed.components_) < 0.8 * np.linalg.norm(base.components_)
    mom = BernoulliRBM(n_components=16, n_iter=3, random_state=0,
                       momentum=0.9).fit(X)
    assert np.all(np.isfinite(mom.components_))
    assert not np.allclose(mom.components_, base.components_)
    # every variant still learns digits features: pseudo-likelihood above untrained
    untrained = BernoulliRBM(n_components=16, n_iter=0, random_state=0).fit(X)
    for est in (base, cd, mom):
        assert est.score_samples(X).mean() > untrained.score_samples(X).mean() + 5


def test_gaussian_visible_units_learn_density():
    X = StandardScaler().fit_transform(load_digits().data)
    X_train, X_test = X[:1200], X[1200:]
    noise = np.random.RandomState(0).randn(*X_test.shape)
    est = BernoulliRBM(n_components=32, visible_unit="gaussian", learning_rate=0.005,
                       n_iter=10, random_state=0)
    untrained = clone(est).set_params(n_iter=0).fit(X_train)
    est.fit(X_train)
    gap = est.score_samples(X_test).mean() - est.score_samples(noise).mean()
    gap0 = (untrained.score_samples(X_test).mean()
            - untrained.score_samples(noise).mean())
    assert gap > gap0 + 5
    # score is the negative free energy: 0.5||v - b||^2 - sum softplus(...)
    v = X_test[:3]
    fe = 0.5 * ((v - est.intercept_visible_) ** 2).sum(1) - np.logaddexp(
        0, v @ est.components_.T + est.intercept_hidden_).sum(1)
    np.testing.assert_allclose(est.score_samples(v), -fe, rtol=1e-12)
    g = est.gibbs(X_test[:5])
    assert g.dtype == np.float64 and np.all(np.isfinite(g))
    assert len(np.unique(g)) > 10  # real-valued samples


def test_verbose_lines(capsys):
    BernoulliRBM(n_components=4, n_iter=2, verbose=1, random_state=0).fit(X_DIGITS[:50])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    for i, line in enumerate(out, 1):
        assert re.fullmatch(
            rf"\[BernoulliRBM\] Iteration {i}, pseudo-likelihood = -?\d+\.\d\d, "
            r"time = \d+\.\d\ds", line)
    BernoulliRBM(n_components=4, n_iter=1, verbose=1, visible_unit="gaussian",
                 learning_rate=0.01, random_state=0).fit(X_DIGITS[:50])
    assert "negative free energy" in capsys.readouterr().out


def test_divergence_is_reported_and_parameters_stay_finite():
    X = StandardScaler().fit_transform(X_DIGITS[:200]) * 1e3
    est = BernoulliRBM(n_components=8, visible_unit="gaussian", learning_rate=10.0,
                       n_iter=10, random_state=0)
    with pytest.warns(ConvergenceWarning, match="lower learning_rate"):
        est.fit(X)
    assert est.n_iter_ < 10
    for name in ("components_", "intercept_hidden_", "intercept_visible_"):
        assert np.all(np.isfinite(getattr(est, name)))
    assert np.all(np.isfinite(est.transform(X)))


# -------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad, match", [
    (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
    (np.array([[0.0, np.inf], [1.0, 0.0]]), "infinity"),
    (np.empty((0, 3)), "0 sample"),
    (np.array([["a", "b"], ["c", "d"]], dtype=object), "could not convert|numeric"),
    (np.array([[1 + 1j, 0], [0, 1]]), "[Cc]omplex"),
])
def test_bad_input_at_fit(bad, match):
    for method in ("fit", "partial_fit"):
        with pytest.raises(ValueError, match=match):
            getattr(BernoulliRBM(n_components=2), method)(bad)


def test_bad_input_after_fit():
    est = BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X_DIGITS[:30])
    for method in ("transform", "score_samples", "gibbs"):
        with pytest.raises(ValueError, match="features"):
            getattr(est, method)(X_DIGITS[:5, :10])
        with pytest.raises(ValueError, match="NaN"):
            getattr(est, method)(np.full((2, 64), np.nan))
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X_DIGITS[:5, :10])


def test_unfitted_and_bad_params():
    for method in ("transform", "score_samples", "gibbs"):
        with pytest.raises(NotFittedError):
            getattr(BernoulliRBM(), method)(X_DIGITS[:3])
    for params in (dict(learning_rate=0), dict(n_components=0), dict(batch_size=0),
                   dict(momentum=1.0), dict(weight_decay=-1),
                   dict(visible_unit="poisson"), dict(n_gibbs_steps=0)):
        with pytest.raises(ValueError):
            BernoulliRBM(**params).fit(X_DIGITS[:10])


@pytest.mark.parametrize("seed", [0, 7])
def test_legacy_normal_matches_randomstate(seed):
    # same values and same state afterwards (MT position, cached second value),
    # through odd and even sizes, and a chunked draw (more than 16384 uniforms)
    a = np.random.RandomState(seed)
    b = np.random.RandomState(seed)
    for size in [(3,), (2, 5), (1,), (150, 90), (0,), (7,)]:
        np.testing.assert_array_equal(legacy_normal(b, 0.5, 0.01, size),
                                      a.normal(0.5, 0.01, size))
        sa, sb = a.get_state(), b.get_state()
        np.testing.assert_array_equal(sa[1], sb[1])
        assert sa[2:] == sb[2:]
    assert a.random_sample() == b.random_sample()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_count_nonfinite_outside_matches_numpy(dtype):
    rng = np.random.RandomState(3)
    values = (rng.rand(1000) * 1.2 - 0.1).astype(dtype)
    values[[5, 70, 71]] = np.nan
    values[[8, 300]] = np.inf
    values[999] = -np.inf
    for lo, hi in ((0.0, 1.0), (-np.inf, np.inf), (0.2, 0.3)):
        lo, hi = dtype(lo), dtype(hi)
        for v in (values, values[:0], values[10:500]):
            got = count_nonfinite_outside(v, lo, hi)
            assert got == count_nonfinite_outside_reference(v, lo, hi)
    assert count_nonfinite_outside(values, dtype(0), dtype(1))[0] == 6


def test_nonfinite_training_and_transform_input_raise_sklearns_error():
    # the finite check runs in the same pass as the range check, outside
    # validate_data: the error is still scikit-learn's (from assert_all_finite)
    X = X_DIGITS[:30].copy()
    X[3, 4] = np.nan
    with pytest.raises(ValueError,
                       match="(?s)Input X contains NaN.*BernoulliRBM does not accept"):
        BernoulliRBM(n_components=2, n_iter=1).fit(X)
    est = BernoulliRBM(n_components=2, n_iter=1).fit(X_DIGITS[:30])
    Xs = sp.csr_matrix(X_DIGITS[:30])
    Xs.data[2] = np.inf
    for method in (est.transform, est.partial_fit, est.score_samples):
        with pytest.raises(ValueError, match="Input X contains infinity"):
            method(Xs)


def test_values_outside_unit_interval_warn():
    X = X_DIGITS[:40] * 16  # raw pixel values 0..16
    with pytest.warns(UserWarning, match=r"expects X in \[0, 1\]"):
        est = BernoulliRBM(n_components=4, n_iter=1, random_state=0).fit(X)
    assert np.all(np.isfinite(est.components_))  # used as given, as scikit-learn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BernoulliRBM(n_components=4, n_iter=1, random_state=0).fit(X_DIGITS[:40])
        BernoulliRBM(n_components=4, n_iter=1, random_state=0,
                     visible_unit="gaussian", learning_rate=0.01).fit(X)


# ------------------------------------------------------- dtypes, reproducibility
@pytest.mark.parametrize("visible_unit", ["bernoulli", "gaussian"])
def test_float32_kept(visible_unit):
    X = X_DIGITS[:60].astype(np.float32)
    est = BernoulliRBM(n_components=5, n_iter=2, random_state=0, momentum=0.5,
                       visible_unit=visible_unit, learning_rate=0.01).fit(X)
    for name in ("components_", "intercept_hidden_", "intercept_visible_",
                 "h_samples_"):
        assert getattr(est, name).dtype == np.float32, name
    assert est.transform(X).dtype == np.float32
    est.partial_fit(X[:10])
    assert est.components_.dtype == np.float32


def test_random_state_reproducible():
    X = X_DIGITS[:200]
    a = BernoulliRBM(n_components=8, n_iter=3, random_state=42).fit(X)
    b = BernoulliRBM(n_components=8, n_iter=3, random_state=42).fit(X)
    c = BernoulliRBM(n_components=8, n_iter=3, random_state=43).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.h_samples_, b.h_samples_)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert not np.allclose(a.components_, c.components_)
    # refitting the same estimator gives the same model
    np.testing.assert_array_equal(a.fit(X).components_, b.components_)


# ------------------------------------------------------------ sklearn integration
def test_pickle_clone_and_partial_fit_continuation():
    X = X_DIGITS[:100]
    est = BernoulliRBM(n_components=6, n_iter=2, random_state=0, momentum=0.5)
    est.partial_fit(X[:50])
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))
    est.partial_fit(X[50:])
    restored.partial_fit(X[50:])
    np.testing.assert_array_equal(restored.components_, est.components_)
    cl = clone(est)
    assert cl.get_params() == est.get_params()
    assert not hasattr(cl, "components_")


def test_pipeline_and_gridsearch_n_jobs_2():
    X, y = X_DIGITS[:360], Y_DIGITS[:360]
    pipe = Pipeline([
        ("rbm", BernoulliRBM(n_iter=5, learning_rate=0.06, random_state=0)),
        ("clf", LogisticRegression(C=1000, max_iter=2000)),
    ])
    search = GridSearchCV(pipe, {"rbm__n_components": [16, 32]}, cv=2, n_jobs=2)
    search.fit(X, y)
    # 32 components clearly beat 16 on this subset; 0.75 lies between the two
    # cross-validated accuracies
    assert search.best_params_["rbm__n_components"] == 32
    assert search.best_score_ > 0.75
    assert search.score(X, y) > 0.9
    names = search.best_estimator_[:-1].get_feature_names_out()
    assert names[0] == "bernoullirbm0"


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_DIGITS[:30, :4], columns=list("abcd"))
    est = BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(df)
    np.testing.assert_array_equal(est.feature_names_in_, list("abcd"))
    np.testing.assert_array_equal(est.get_feature_names_out(),
                                  ["bernoullirbm0", "bernoullirbm1"])
