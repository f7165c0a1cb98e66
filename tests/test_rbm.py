"""Tests of sknets.BernoulliRBM: kernels against numpy references, extras, bad input,
dtypes, reproducibility, sklearn integration."""

import pickle
import re
import warnings

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
from sknets.rbm._kernels import (
    count_nonfinite_outside,
    count_nonfinite_outside_reference,
    legacy_normal,
    momentum_step,
    momentum_step_reference,
    MT_SCRATCH,
    mt_fill_random,
    sgd_step,
    sigmoid_row,
)
from sknets.rbm._reference import epoch_reference

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
def test_sigmoid_row_matches_expit(dtype, itype, rtol):
    rng = np.random.RandomState(0)
    x = np.concatenate([rng.randn(500) * 8, [0.0, -80.0, 80.0, -1e4, 1e4, 700, -700]])
    x = x.astype(dtype)
    a = x.copy()
    sigmoid_row(a, np.empty(a.shape[0], itype))
    expected = expit(x.astype(np.float64))
    assert a.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all((a >= 0) & (a <= 1))
    # relative accuracy where the value is representable, absolute in the tails
    np.testing.assert_allclose(a, expected, rtol=rtol, atol=np.finfo(dtype).tiny * 1e8)


def test_momentum_and_sgd_step_match_reference():
    rng = np.random.RandomState(0)
    p, g, v = rng.randn(3, 4, 5)
    p2, g2, v2 = p.copy(), g.copy(), v.copy()
    momentum_step(p, g, v, 0.1, 0.9, 0.01)
    momentum_step_reference(p2, g2, v2, 0.1, 0.9, 0.01)
    np.testing.assert_allclose(p, p2, rtol=1e-14)
    np.testing.assert_allclose(v, v2, rtol=1e-14)
    q = rng.randn(7)
    q2 = q.copy()
    sgd_step(q, g.ravel()[:7], 0.5, 0.1)
    q2 += 0.5 * (g.ravel()[:7] - 0.1 * q2)
    np.testing.assert_allclose(q, q2, rtol=1e-14)


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

    from sknets.rbm._block_kernels import _claim

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


@pytest.mark.parametrize("fc", [1, 8, 32])
def test_chunk_starts_match_searchsorted(fc):
    # where each chunk of fc features begins in a sorted non-zero list (what the
    # parameter step reads instead of searching); equals numpy's searchsorted,
    # including empty chunks, an empty list and a list ending in the last chunk
    from sknets.rbm._kernels import _chunk_starts

    rng = np.random.RandomState(fc)
    n_features = 70
    n_chunks = -(-n_features // fc)
    rows = [np.flatnonzero(rng.rand(n_features) < p) for p in (0.0, 0.05, 0.3, 1.0)]
    for nz in rows:
        idx = np.zeros(n_features, np.int64)
        idx[:nz.size] = nz
        starts = np.full(n_chunks + 1, -1, np.int64)
        _chunk_starts(idx, nz.size, fc, starts)
        expected = np.searchsorted(nz, np.arange(n_chunks + 1) * fc)
        np.testing.assert_array_equal(starts, expected)


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
def parallel_epochs(monkeypatch):
    """Force the blocked epoch kernel on 2 threads whatever the size/load."""
    import sknets.rbm._bernoulli as bernoulli

    monkeypatch.setattr(bernoulli, "_PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(bernoulli, "effective_n_threads", lambda n_jobs=None: 2)
    # tasks of 2 rows: minibatches of 5 (or 4) rows in 3 (2) groups, the last short
    sizes = bernoulli._task_sizes
    monkeypatch.setattr(bernoulli, "_task_sizes", lambda dtype: (2, sizes(dtype)[1]))
    calls = []
    kernel = bernoulli.bernoulli_epoch_blocked

    def counted(*args):
        calls.append(args[-1])  # the thread count
        return kernel(*args)

    monkeypatch.setattr(bernoulli, "bernoulli_epoch_blocked", counted)
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", KERNEL_CASES)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_features, n_components",
                         [(7, 6), (40, 70), (150, 130), (300, 20)])
def test_parallel_epoch_kernel_matches_sequential_and_reference(
        params, dtype, sparse, n_features, n_components, parallel_epochs):
    # the blocked kernel on 2 threads. (40, 70): feature chunks 32 + 8 (float32) or
    # 16 + 16 + 8 (float64) in the parameter step, two hidden regions (64 + 6
    # units); (150, 130): three visible regions (64 + 64 + 22 features) and three
    # hidden ones (64 + 64 + 2), packed blocks of 64 (float32) or 32 (float64)
    # columns, transposes past the last feature (150 is not a multiple of 8);
    # (300, 20): the parameter step's tasks over two parts of the features (256 +
    # 44)
    X = _binaryish(23, n_features, seed=1).astype(dtype)
    if params.get("visible_unit") == "gaussian":
        X = StandardScaler().fit_transform(X).astype(dtype)
    Xf = sp.csr_matrix(X) if sparse else X
    kw = dict(n_components=n_components, batch_size=5, n_iter=3, random_state=7,
              **params)
    par = BernoulliRBM(**kw).fit(Xf)
    assert parallel_epochs == [2, 2, 2]
    _assert_matches_reference(X, par, 7)
    # the sequential kernel does the same arithmetic row by row
    import sknets.rbm._bernoulli as bernoulli

    bernoulli._PARALLEL_MIN_WORK = 10**18  # (restored by monkeypatch)
    seq = BernoulliRBM(**kw).fit(Xf)
    assert len(parallel_epochs) == 3
    for name in ("components_", "intercept_hidden_", "intercept_visible_",
                 "h_samples_"):
        np.testing.assert_allclose(getattr(par, name), getattr(seq, name),
                                   rtol=1e-12 if dtype == np.float64 else 1e-6,
                                   atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_epoch_kernel_matches_reference_many_feature_chunks(dtype):
    # 300 features: the parameter step (and its refresh of W = Wt.T, four rows at a
    # time) runs over 10 feature chunks in float32 and 19 in float64, the last of 12
    # features in both (the tail of the refresh, rows not a multiple of four, is
    # exercised by the 7-feature cases above)
    X = _binaryish(30, 300, seed=4).astype(dtype)
    est = BernoulliRBM(n_components=40, batch_size=10, n_iter=2, random_state=5).fit(X)
    _assert_matches_reference(X, est, 5)


def test_blocked_path_chosen_by_size_and_thread_limit(monkeypatch):
    import sknets.rbm._bernoulli as bernoulli

    calls = []
    kernel = bernoulli.bernoulli_epoch_blocked
    monkeypatch.setattr(bernoulli, "bernoulli_epoch_blocked",
                        lambda *a: calls.append(a[-1]) or kernel(*a))
    X = _binaryish(40, 64)
    BernoulliRBM(n_components=100, n_iter=1, random_state=0).fit(X)  # batch 10: small
    assert calls == []
    monkeypatch.setattr(bernoulli, "_PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(bernoulli, "effective_n_threads", lambda n_jobs=None: 1)
    BernoulliRBM(n_components=100, n_iter=1, random_state=0).fit(X)  # 1 thread allowed
    assert calls == [1]


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("j0, j1", [(0, 1), (0, 3), (2, 9), (0, 64), (0, 100),
                                    (5, 135), (0, 150)])
def test_accumulate_cols_matches_numpy_in_list_order(dtype, j0, j1):
    # list_acc pieces (whole vectors, a half vector, single elements): each
    # element a chain of multiply-adds in the order of the list
    from sknets.rbm._kernels import accumulate_cols

    rng = np.random.RandomState(j1)
    M = rng.randn(30, 160).astype(dtype)
    out = rng.randn(160).astype(dtype)
    idx = np.array([4, 0, 29, 7, 7, 12])
    coef = rng.randn(6).astype(dtype)
    expected = out.astype(np.float64)
    for a in range(idx.shape[0]):
        expected[j0:j1] += np.float64(coef[a]) * M[idx[a], j0:j1]
    got = out.copy()
    accumulate_cols(got, M, j0, j1, idx, coef, idx.shape[0])
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    np.testing.assert_array_equal(got[:j0], out[:j0])
    np.testing.assert_array_equal(got[j1:], out[j1:])
    # in order: (1 + big) - big loses the 1, as one multiply-add after the other
    big = dtype(2.0 ** (24 if dtype == np.float32 else 53))
    ones = np.ones((2, 160), dtype)
    acc = np.ones(160, dtype)
    accumulate_cols(acc, ones, j0, j1, np.array([0, 1]), np.array([big, -big], dtype),
                    2)
    np.testing.assert_array_equal(acc[j0:j1], 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, i0, i1", [((64, 100), 0, 64), ((21, 13), 3, 20),
                                           ((9, 5), 0, 9), ((40, 8), 8, 16)])
def test_transpose_rows_matches_numpy(dtype, shape, i0, i1):
    # the sequential kernel's W = Wt.T update (vector transposes, scalar edges)
    from sknets.rbm._kernels import _transpose_rows

    Wt = np.random.RandomState(2).randn(*shape).astype(dtype)
    W = np.zeros(shape[::-1], dtype)
    _transpose_rows(Wt, W, i0, i1)
    expected = np.zeros_like(W)
    expected[:, i0:i1] = Wt[i0:i1].T
    np.testing.assert_array_equal(W, expected)


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
    # measured: 0.69 (16 components) and 0.83 (32) cross-validated accuracy
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
