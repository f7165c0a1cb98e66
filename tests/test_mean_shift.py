"""Tests of sknets.MeanShift, estimate_bandwidth, get_bin_seeds and their kernels.

Kernels are compared with the plain-numpy references of
``tests/references/mean_shift.py``; the estimator with scikit-learn's.
scikit-learn's own test module is ported in ``test_mean_shift_sklearn.py``.
"""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.cluster as skc
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknets import MeanShift
from sknets.cluster import estimate_bandwidth, get_bin_seeds, mean_shift
from sknets.cluster._mean_shift import _sort_and_suppress, _unique_centers
from sknets.cluster._mean_shift_kernels import (
    FLAT,
    GAUSSIAN,
    _ball_query,
    build_kdtree,
    kth_neighbor_distance_sum,
    mean_shift_seeds,
    nearest_center,
)
from tests.references import mean_shift as ref

DTYPES = [np.float32, np.float64]


def _blobs(n=400, d=2, seed=0, std=0.6):
    centers = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    if d != 2:
        centers = np.random.default_rng(seed).normal(scale=3.0, size=(3, d))
    X, y = make_blobs(n_samples=n, centers=centers, cluster_std=std, random_state=seed)
    return X, y


def _tree(X, leaf_size=4):
    perm, start, end, left, right, lo, hi, sums = build_kdtree(X, leaf_size)
    return perm, np.ascontiguousarray(X[perm]), (start, end, left, right, lo, hi, sums)


# --------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 2, 5])
def test_kdtree_invariants(dtype, d):
    X = np.random.default_rng(d).normal(size=(300, d)).astype(dtype)
    X[:20] = X[0]  # duplicates
    perm, Xs, (start, end, left, right, lo, hi, sums) = _tree(X, leaf_size=4)
    assert_array_equal(np.sort(perm), np.arange(len(X)))
    assert start[0] == 0 and end[0] == len(X)
    for node in range(len(start)):
        pts = Xs[start[node]:end[node]].astype(np.float64)
        assert len(pts) > 0
        assert_array_equal(lo[node], pts.min(axis=0))
        assert_array_equal(hi[node], pts.max(axis=0))
        assert_allclose(sums[node], pts.sum(axis=0), rtol=1e-12, atol=1e-9)
        if left[node] >= 0:
            assert start[left[node]] == start[node] and end[right[node]] == end[node]
            assert end[left[node]] == start[right[node]]
        else:
            # a leaf is small or holds identical points
            assert end[node] - start[node] <= 4 or np.all(pts == pts[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", [FLAT, GAUSSIAN])
@pytest.mark.parametrize("d", [1, 2, 3, 8])
def test_ball_query_matches_reference(dtype, kernel, d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(500, d)).astype(dtype)
    _, Xs, tree = _tree(X)
    acc = np.empty(d)
    stack = np.empty(256, dtype=np.int64)
    for bandwidth in (0.3, 1.0, 2.5):
        radius = bandwidth if kernel == FLAT else 3.0 * bandwidth
        for pos in rng.normal(size=(10, d)):
            total, count = _ball_query(pos, Xs, *tree, radius, bandwidth, kernel, acc,
                                       stack)
            acc_ref, total_ref, count_ref = ref.ball_sum(pos, X, bandwidth, kernel)
            assert count == count_ref
            assert total == pytest.approx(total_ref, rel=1e-10)
            assert_allclose(acc, acc_ref, rtol=1e-10, atol=1e-9)


def test_ball_query_boundary_is_inclusive():
    # integer grid: many points exactly at distance == bandwidth
    g = np.arange(-3, 4, dtype=np.float64)
    X = np.array([[a, b] for a in g for b in g])
    _, Xs, tree = _tree(X)
    acc = np.empty(2)
    stack = np.empty(256, dtype=np.int64)
    total, count = _ball_query(np.zeros(2), Xs, *tree, 1.0, 1.0, FLAT, acc, stack)
    assert count == 5  # centre and its 4 neighbours at distance exactly 1
    total, count = _ball_query(np.zeros(2), Xs, *tree, 2.0, 2.0, FLAT, acc, stack)
    assert count == 13


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", [FLAT, GAUSSIAN])
@pytest.mark.parametrize("max_iter", [0, 3, 300])
def test_mean_shift_seeds_matches_reference(dtype, kernel, max_iter):
    X, _ = _blobs(n=150, seed=3)
    X = X.astype(dtype)
    seeds = np.vstack([X[::7], [[30.0, 30.0]]]).astype(dtype)  # last finds nothing
    _, Xs, tree = _tree(X)
    centers, intensity, n_iter = mean_shift_seeds(seeds, Xs, *tree, 0.8, max_iter,
                                                  kernel)
    c_ref, i_ref, n_ref = ref.mean_shift_seeds(seeds, X, 0.8, max_iter, kernel)
    assert centers.dtype == dtype
    assert_array_equal(intensity, i_ref)
    assert_array_equal(n_iter, n_ref)
    assert intensity[-1] == -1
    tol = 1e-5 if dtype == np.float32 else 1e-10
    assert_allclose(centers[:-1], c_ref[:-1], rtol=tol, atol=tol)
    assert n_iter.max() <= max_iter


@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_center_matches_reference(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(dtype)
    C = rng.normal(size=(7, 3)).astype(dtype)
    labels, d2 = nearest_center(X, C)
    labels_ref, d2_ref = ref.nearest_center(X, C)
    assert_array_equal(labels, labels_ref)
    assert_allclose(d2, d2_ref, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 30, 120])
def test_kth_neighbor_matches_reference(dtype, k):
    X = np.random.default_rng(k).normal(size=(120, 3)).astype(dtype)
    assert kth_neighbor_distance_sum(X, k) == pytest.approx(
        ref.kth_neighbor_distance_sum(X, k), rel=1e-10
    )


def test_unique_centers_like_a_dict():
    centers = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0], [-0.0, 5.0], [0.0, 5.0],
                        [2.0, 3.0]])
    intensity = np.array([3, 4, 7, 1, 2, 9])
    keys, inten = _unique_centers(centers, intensity)
    expected = {}
    for c, i in zip(centers, intensity):
        expected[tuple(c)] = i
    assert dict(zip(map(tuple, keys), inten)) == expected
    assert len(keys) == len(expected)


@pytest.mark.parametrize("seed", range(5))
def test_sort_and_suppress_matches_reference(seed):
    rng = np.random.default_rng(seed)
    centers = np.round(rng.normal(size=(60, 2)) * 2, 1)  # repeats and ties
    intensity = rng.integers(1, 5, size=60)
    keys, inten = _unique_centers(centers, intensity)
    for bandwidth in (0.3, 1.0, 3.0):
        assert_array_equal(_sort_and_suppress(keys, inten, bandwidth),
                           ref.post_process(centers, intensity, bandwidth))


# --------------------------------------------------------------- against sklearn


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("quantile, n_samples", [(0.3, None), (0.2, 100), (0.5, 50),
                                                 (0.0, None), (1.0, 500)])
def test_estimate_bandwidth_matches_sklearn(dtype, quantile, n_samples):
    X, _ = _blobs(n=300, seed=1)
    X = X.astype(dtype)
    ours = estimate_bandwidth(X, quantile=quantile, n_samples=n_samples,
                              random_state=4)
    theirs = skc.estimate_bandwidth(X, quantile=quantile, n_samples=n_samples,
                                    random_state=4)
    assert isinstance(ours, np.float64)
    assert ours == pytest.approx(theirs, rel=1e-5 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bin_size, min_bin_freq", [(0.5, 1), (0.5, 5), (1.3, 2),
                                                    (0.01, 1)])
def test_get_bin_seeds_matches_sklearn(dtype, bin_size, min_bin_freq):
    X, _ = _blobs(n=200, seed=2)
    X = X.astype(dtype)
    with warnings.catch_warnings(record=True) as w_ours:
        warnings.simplefilter("always")
        ours = get_bin_seeds(X, bin_size, min_bin_freq)
    with warnings.catch_warnings(record=True) as w_theirs:
        warnings.simplefilter("always")
        theirs = skc.get_bin_seeds(X, bin_size, min_bin_freq)
    assert ours.dtype == theirs.dtype
    assert_array_equal(ours, theirs)  # same seeds, same order
    assert [str(w.message) for w in w_ours] == [str(w.message) for w in w_theirs]


def test_get_bin_seeds_negative_zero_is_one_bin():
    X = np.array([[-0.2, 0.1], [0.2, -0.1], [3.0, 3.0], [3.1, 3.0]])
    assert_array_equal(get_bin_seeds(X, 1.0), [[0.0, 0.0], [3.0, 3.0]])


def _assert_same_as_sklearn(ours, theirs, tol):
    assert ours.cluster_centers_.shape == theirs.cluster_centers_.shape
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype
    assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=tol, atol=tol)
    assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", [
    dict(bandwidth=0.9),
    dict(bandwidth=0.9, bin_seeding=True),
    dict(bandwidth=0.5, bin_seeding=True, min_bin_freq=3),
    dict(bandwidth=0.6, cluster_all=False),
    dict(bandwidth=0.9, max_iter=2),
    dict(bandwidth=1.0, seeds=[[0.0, 0.0], [2.0, 2.0], [1.0, -1.0]]),
    dict(),  # bandwidth estimated
])
def test_same_clusters_as_sklearn(dtype, params):
    X, _ = _blobs(n=150, seed=5)
    X = X.astype(dtype)
    ours = MeanShift(**params).fit(X)
    theirs = skc.MeanShift(**params).fit(X)
    _assert_same_as_sklearn(ours, theirs, 1e-5 if dtype == np.float32 else 1e-9)
    assert_array_equal(ours.predict(X[:50]), theirs.predict(X[:50]))


@pytest.mark.parametrize("d", [3, 6])
def test_same_clusters_as_sklearn_higher_dimension(d):
    X, _ = _blobs(n=100, d=d, seed=6, std=1.0)
    ours = MeanShift(bandwidth=2.5).fit(X)
    theirs = skc.MeanShift(bandwidth=2.5).fit(X)
    _assert_same_as_sklearn(ours, theirs, 1e-9)


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(1, 25),
    d=st.integers(1, 3),
    bandwidth=st.floats(0.2, 3.0),
    seed=st.integers(0, 10_000),
    bin_seeding=st.booleans(),
)
def test_property_same_as_sklearn(n, d, bandwidth, seed, bin_seeding):
    X = np.random.default_rng(seed).normal(size=(n, d)) * 2.0
    X = np.round(X, 2) + 1e-7 * np.random.default_rng(seed + 1).normal(size=(n, d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # bin-seeding fallback
        ours = MeanShift(bandwidth=bandwidth, bin_seeding=bin_seeding).fit(X)
        theirs = skc.MeanShift(bandwidth=bandwidth, bin_seeding=bin_seeding).fit(X)
    _assert_same_as_sklearn(ours, theirs, 1e-7)


# ---------------------------------------------------------------- gaussian kernel


def test_gaussian_kernel_finds_blob_centres():
    X, y = _blobs(n=600, seed=8, std=0.4)
    ms = MeanShift(bandwidth=0.5, kernel="gaussian").fit(X)
    assert len(ms.cluster_centers_) == 3
    assert adjusted_rand_score(y, ms.labels_) > 0.95
    true = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    d = np.sqrt(((ms.cluster_centers_[:, None] - true[None]) ** 2).sum(-1)).min(1)
    assert np.all(d < 0.15)
    flat = MeanShift(bandwidth=0.5).fit(X)
    # the flat kernel at this bandwidth splits the blobs; the smoother Gaussian does not
    assert len(flat.cluster_centers_) > 3


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_kernel_matches_reference_pipeline(dtype):
    X, _ = _blobs(n=120, seed=9)
    X = X.astype(dtype)
    ms = MeanShift(bandwidth=0.7, kernel="gaussian").fit(X)
    c_ref, inten, n_iter = ref.mean_shift_seeds(X, X, 0.7, 300, GAUSSIAN)
    assert ms.n_iter_ == n_iter.max()
    assert ms.cluster_centers_.dtype == dtype
    # every fitted center is one of the reference's converged seeds
    d = np.abs(ms.cluster_centers_[:, None].astype(float) - c_ref[None]).max(-1)
    assert np.all(d.min(axis=1) < (1e-4 if dtype == np.float32 else 1e-9))


def test_gaussian_keeps_seeds_with_points_only_beyond_bandwidth():
    # the only points lie between 1 and 3 bandwidths from the seed: a Gaussian seed
    # still moves (and is kept); a flat one finds nothing
    X = np.array([[2.0, 0.0], [2.2, 0.0]])
    ms = MeanShift(bandwidth=1.0, kernel="gaussian", seeds=[[0.0, 0.0]]).fit(X)
    assert_allclose(ms.cluster_centers_, [[2.1, 0.0]], atol=1e-3)
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        MeanShift(bandwidth=1.0, seeds=[[0.0, 0.0]]).fit(X)


def test_kernel_parameter_validated():
    with pytest.raises(ValueError, match="kernel"):
        MeanShift(kernel="epanechnikov").fit(np.zeros((3, 2)))


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("dtype", DTYPES)
def test_float32_kept(dtype):
    X, _ = _blobs(n=100)
    ms = MeanShift(bandwidth=0.8).fit(X.astype(dtype))
    assert ms.cluster_centers_.dtype == dtype
    assert ms.labels_.dtype == np.int64


def test_int_input_gives_float64_like_sklearn():
    X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    ms = MeanShift(bandwidth=2).fit(X)
    theirs = skc.MeanShift(bandwidth=2).fit(X)
    assert ms.cluster_centers_.dtype == np.float64
    assert_allclose(ms.cluster_centers_, theirs.cluster_centers_)


def test_duplicate_and_constant_points():
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]]), 25, axis=0)
    ms = MeanShift(bandwidth=1.0).fit(X)
    assert_allclose(np.sort(ms.cluster_centers_, axis=0), [[0, 0], [5, 5]])
    assert ms.n_iter_ == 0  # every seed is already at its mean
    const = MeanShift().fit(np.full((10, 3), 2.5))
    assert_allclose(const.cluster_centers_, [[2.5, 2.5, 2.5]])
    assert_array_equal(const.labels_, 0)


def test_single_sample():
    ms = MeanShift().fit([[1.0, 2.0]])
    assert_allclose(ms.cluster_centers_, [[1.0, 2.0]])
    assert_array_equal(ms.labels_, [0])


def test_cluster_all_false_orphans():
    X = np.array([[0.0], [0.1], [0.2], [10.0]])
    ms = MeanShift(bandwidth=0.5, cluster_all=False,
                   seeds=[[0.0]]).fit(X)
    assert_array_equal(ms.labels_, [0, 0, 0, -1])
    ms_all = MeanShift(bandwidth=0.5, seeds=[[0.0]]).fit(X)
    assert_array_equal(ms_all.labels_, [0, 0, 0, 0])


@pytest.mark.parametrize("bad, error, match", [
    ([[np.nan, 1.0], [1.0, 2.0]], ValueError, "NaN"),
    ([[np.inf, 1.0], [1.0, 2.0]], ValueError, "infinity"),
    (np.empty((0, 2)), ValueError, "0 sample"),
    ([1.0, 2.0, 3.0], ValueError, "2D array"),
    ([["a", "b"], ["c", "d"]], ValueError, "could not convert|argument must be"),
])
def test_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        MeanShift(bandwidth=1.0).fit(bad)
    with pytest.raises(error, match=match):
        estimate_bandwidth(bad)


def test_sparse_input_rejected_like_sklearn():
    X = sp.csr_matrix(np.eye(4))
    with pytest.raises(TypeError, match="dense data is required"):
        MeanShift(bandwidth=1.0).fit(X)
    with pytest.raises(TypeError, match="dense data is required"):
        skc.MeanShift(bandwidth=1.0).fit(X)


def test_predict_errors():
    X, _ = _blobs(n=60)
    with pytest.raises(NotFittedError):
        MeanShift().predict(X)
    ms = MeanShift(bandwidth=1.0).fit(X)
    with pytest.raises(ValueError, match="features"):
        ms.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        ms.predict([[np.nan, 0.0]])
    # float32 queries against float64 centers agree with float64 queries
    assert_array_equal(ms.predict(X.astype(np.float32)), ms.predict(X))


def test_seeds_validation():
    X, _ = _blobs(n=60)
    with pytest.raises(ValueError, match="seeds has 3 features"):
        MeanShift(bandwidth=1.0, seeds=np.zeros((2, 3))).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        MeanShift(bandwidth=1.0, seeds=[[np.nan, 0.0]]).fit(X)


@pytest.mark.parametrize("param, value", [("bandwidth", 0), ("bandwidth", -1.0),
                                          ("min_bin_freq", 0), ("max_iter", -1),
                                          ("bin_seeding", "yes")])
def test_invalid_parameters(param, value):
    with pytest.raises(ValueError, match=param):
        MeanShift(**{param: value}).fit(np.zeros((3, 2)))


def test_overflow_is_reported_not_returned():
    X = np.array([[1.7e308], [1.7e308], [1.6e308]])
    with pytest.raises(ValueError, match="MeanShift diverged"):
        MeanShift(bandwidth=1e300).fit(X)


def test_no_bin_seed_is_a_clear_error():
    X, _ = _blobs(n=50)
    with pytest.raises(ValueError, match="min_bin_freq=1000"):
        MeanShift(bandwidth=0.5, bin_seeding=True, min_bin_freq=1000).fit(X)
    # scikit-learn fails too, with a less helpful ValueError
    with pytest.raises(ValueError):
        skc.MeanShift(bandwidth=0.5, bin_seeding=True, min_bin_freq=1000).fit(X)


def test_bin_seeding_warning_and_fallback():
    X = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    with pytest.warns(UserWarning, match="Binning data failed"):
        ms = MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
    assert len(ms.cluster_centers_) == 3


# ---------------------------------------------------- sklearn machinery, threads


def test_reproducible_and_thread_independent():
    X, _ = _blobs(n=300, seed=12)
    a = MeanShift(bandwidth=0.7, n_jobs=1).fit(X)
    b = MeanShift(bandwidth=0.7, n_jobs=2).fit(X)
    c = MeanShift(bandwidth=0.7).fit(X)
    for other in (b, c):
        assert_array_equal(a.cluster_centers_, other.cluster_centers_)
        assert_array_equal(a.labels_, other.labels_)


def test_clone_pickle_joblib(tmp_path):
    X, _ = _blobs(n=100)
    ms = MeanShift(bandwidth=0.8, kernel="gaussian").fit(X)
    ms2 = pickle.loads(pickle.dumps(ms))
    assert_array_equal(ms2.predict(X), ms.predict(X))
    joblib.dump(ms, tmp_path / "ms.joblib")
    ms3 = joblib.load(tmp_path / "ms.joblib")
    assert_array_equal(ms3.cluster_centers_, ms.cluster_centers_)
    c = clone(ms)
    assert c.get_params() == ms.get_params()
    assert not hasattr(c, "cluster_centers_")


def test_pipeline_and_grid_search():
    X, y = _blobs(n=240, seed=13, std=0.5)
    pipe = make_pipeline(StandardScaler(), MeanShift(bin_seeding=True))
    pipe.fit(X)
    assert adjusted_rand_score(y, pipe.predict(X)) > 0.8
    grid = GridSearchCV(
        pipe,
        {"meanshift__bandwidth": [0.05, 0.6, 5.0]},
        scoring="adjusted_rand_score",
        cv=3,
        n_jobs=2,
    )
    grid.fit(X, y)
    # tiny bandwidth gives many clusters, huge one a single cluster
    assert grid.best_params_ == {"meanshift__bandwidth": 0.6}
    assert grid.best_score_ > 0.8


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, _ = _blobs(n=60)
    df = pd.DataFrame(X, columns=["a", "b"])
    ms = MeanShift(bandwidth=1.0).fit(df)
    assert_array_equal(ms.feature_names_in_, ["a", "b"])
    assert ms.n_features_in_ == 2


def test_verbose(capsys):
    X, _ = _blobs(n=60)
    MeanShift(verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "estimated bandwidth" in out and "clusters" in out and "seeds" in out
    MeanShift(bandwidth=1.0).fit(X)
    assert capsys.readouterr().out == ""


def test_mean_shift_function_matches_estimator():
    X, _ = _blobs(n=100)
    centers, labels = mean_shift(X, bandwidth=0.8, bin_seeding=True)
    ms = MeanShift(bandwidth=0.8, bin_seeding=True).fit(X)
    assert_array_equal(centers, ms.cluster_centers_)
    assert_array_equal(labels, ms.labels_)


def test_readonly_input():
    X, _ = _blobs(n=100)
    X.setflags(write=False)
    ms = MeanShift(bandwidth=0.8).fit(X)
    assert_array_equal(ms.labels_, MeanShift(bandwidth=0.8).fit(X.copy()).labels_)


def test_docstring_examples():
    import doctest

    from sknets.cluster import _bandwidth, _mean_shift

    for module in (_bandwidth, _mean_shift):
        failures, tried = doctest.testmod(module,
                                          optionflags=doctest.NORMALIZE_WHITESPACE)
        assert tried > 0
        assert failures == 0, module.__name__


def test_thread_count_restored_after_fit_and_predict():
    import numba

    before = numba.get_num_threads()
    X, _ = _blobs(n=100)
    ms = MeanShift(bandwidth=0.8, n_jobs=1).fit(X)
    assert numba.get_num_threads() == before
    ms.predict(X)
    estimate_bandwidth(X, n_jobs=1)
    assert numba.get_num_threads() == before
