"""Tests of sknets.KMeans: kernels vs the numpy reference, equality with scikit-learn
given the same init, dtypes, sparse input, sample weights, edge cases, errors, and the
scikit-learn tooling (Pipeline, GridSearchCV, clone, pickle)."""

import itertools
import pickle

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknets import KMeans
from sknets.cluster import _kmeans_kernels as K
from sknets.cluster import kmeans_plusplus
from sknets.cluster._kmeans_lloyd import _Data, _inertia, _kmeans_single
from tests.references import kmeans as ref


def _blobs(n=600, d=2, k=4, seed=0, dtype=np.float64):
    X, y = make_blobs(n, n_features=d, centers=k, random_state=seed)
    return X.astype(dtype), y


def _pack(X):
    return _Data(X if sp.issparse(X) else np.ascontiguousarray(X))


# --------------------------------------------------------------------- kernels vs ref
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 3, 4, 7, 8, 9])
def test_block_argmin_gemm_ties_and_order(dtype, k):
    # The argmin over a given dots panel, ties included (inside a sweep of four
    # centers and across sweeps): the lowest index wins, as np.argmin.
    rng = np.random.RandomState(k)
    m = 37
    centers = rng.randint(-2, 3, size=(k, 3)).astype(dtype)
    Xb = rng.randint(-2, 3, size=(m, 3)).astype(dtype)  # small integers: exact dots
    c_sq = (centers.astype(np.float64) ** 2).sum(axis=1)
    half = (0.5 * c_sq).astype(dtype)
    dots = np.empty((k, m), dtype=dtype)
    bufs = [np.empty(K.CHUNK, dtype=dtype) for _ in range(4)]
    labs = K._block_argmin_gemm(Xb, centers, half, dots, *bufs)
    expected = np.argmin(half[:, None] - centers @ Xb.T, axis=0)
    assert_array_equal(labs[:m].astype(np.int64), expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 3, 4, 7, 8, 9])
def test_block_argmin_gemm_rows_ties_and_order(dtype, k):
    # The (m, k) panel path: four samples per chain sweep, then the remaining ones
    # (m = 37); duplicated centers give exact ties: the lowest index wins, as np.argmin.
    rng = np.random.RandomState(k)
    m = 37
    centers = rng.randint(-2, 3, size=(k, 3)).astype(dtype)
    if k > 2:
        centers[k - 1] = centers[1]
    Xb = rng.randint(-2, 3, size=(m, 3)).astype(dtype)  # small integers: exact dots
    half = (0.5 * (centers.astype(np.float64) ** 2).sum(axis=1)).astype(dtype)
    dots = np.empty((m, k), dtype=dtype)
    labs = np.empty(K.CHUNK, dtype=dtype)
    K._block_argmin_gemm_rows(Xb, np.ascontiguousarray(centers.T), half, dots, labs)
    expected = np.argmin(half[None, :] - Xb @ centers.T, axis=1)
    assert_array_equal(labs[:m].astype(np.int64), expected)
    if k > 2:
        assert not np.any(labs[:m] == k - 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [K.ROWS_MAX_K - 1, K.ROWS_MAX_K + 3])
def test_lloyd_pass_gemm_panels_match_reference(dtype, k):
    # both panel orientations of the GEMM path, on either side of ROWS_MAX_K
    rng = np.random.RandomState(1)
    n, d = 700, 14
    X = rng.randn(n, d).astype(dtype)
    w = rng.uniform(0.5, 2, size=n).astype(dtype)
    C = X[rng.choice(n, k, replace=False)].copy()
    labels = np.full(n, -1, dtype=np.int32)
    sums, wsums = np.zeros((2, k, d)), np.zeros((2, k))
    changed = np.zeros(2, dtype=np.int64)
    K.lloyd_pass(*_pack(X).args(), w, C, labels, sums, wsums, changed, True, True)
    lab_ref, sums_ref, wsums_ref = ref.lloyd_pass_ref(X, w.astype(np.float64), C)
    assert_array_equal(labels, lab_ref)
    # float32: x * w is rounded to float32 before the float64 sum (as in sklearn)
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-9)
    assert_allclose(sums.sum(axis=0), sums_ref, rtol=rtol, atol=atol)
    assert_allclose(wsums.sum(axis=0), wsums_ref, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["d2", "generic", "gemm", "sparse"])
@pytest.mark.parametrize("k", [1, 4, 5, 6, 11])
def test_lloyd_pass_matches_reference(dtype, layout, k):
    # k odd and even: the blocked paths alternate two argmin buffers per center (the
    # GEMM path per sweep of four centers, then per remaining center: k = 4, 5, 6, 11)
    d = {"d2": 2, "generic": 5, "gemm": 20, "sparse": 8}[layout]
    rng = np.random.RandomState(0)
    X = rng.randn(1100, d).astype(dtype)  # > 2 blocks of CHUNK, a partial last one
    if layout == "sparse":
        X[X < 0.3] = 0
    w = rng.uniform(0.5, 2, size=1100).astype(dtype)
    C = X[rng.choice(1100, k, replace=False)].copy()
    # A tie (duplicate center): the lower index wins. Not for the GEMM path: BLAS may
    # round the dot products of two equal rows of C differently (edge micro-kernels),
    # as it may in scikit-learn.
    tie = k > 1 and layout != "gemm"
    if tie:
        C[-1] = C[0]
    data = _pack(sp.csr_matrix(X) if layout == "sparse" else X)
    n_parts = 3
    labels = np.full(1100, -1, dtype=np.int32)
    sums = np.zeros((n_parts, k, d))
    wsums = np.zeros((n_parts, k))
    changed = np.zeros(n_parts, dtype=np.int64)
    K.lloyd_pass(*data.args(), w, C, labels, sums, wsums, changed, True,
                 layout == "gemm")
    lab_ref, sums_ref, wsums_ref = ref.lloyd_pass_ref(X, w.astype(np.float64), C)
    assert_array_equal(labels, lab_ref)
    if tie:
        assert not np.any(labels == k - 1)
    assert changed.sum() == 1100  # every label changed from -1
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    acc, wacc = np.zeros((k, d)), np.zeros(k)
    n_empty = K.reduce_parts(sums, wsums, acc, wacc)
    assert n_empty == int((wsums_ref == 0).sum())
    assert_allclose(acc, sums_ref, rtol=rtol, atol=1e-9)
    assert_allclose(wacc, wsums_ref, rtol=rtol)
    # a second pass with the same centers changes nothing
    K.lloyd_pass(*data.args(), w, C, labels, sums, wsums, changed, False,
                 layout == "gemm")
    assert changed.sum() == 0


def test_average_and_shift_matches_reference():
    rng = np.random.RandomState(1)
    acc = rng.randn(5, 3)
    wacc = np.array([2.0, 0.0, 5.0, 1.0, 0.0])
    old = rng.randn(5, 3)
    new = np.empty_like(old)
    shift = np.empty(5)
    total = K.average_and_shift(acc, wacc, old, new, shift)
    new_ref, shift_ref, total_ref = ref.average_and_shift_ref(acc, wacc, old)
    assert_allclose(new, new_ref)
    assert_allclose(shift, shift_ref)
    assert total == pytest.approx(total_ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_center_norm_helpers_match_reference(dtype):
    C = np.random.RandomState(3).randn(7, 5).astype(dtype)
    c_sq = np.empty(7)
    K._center_sq_norms(C, c_sq)
    half_c_sq = np.empty(7, dtype=dtype)
    K._gemm_operands(c_sq, half_c_sq)
    c_sq_ref, half_ref = ref.gemm_operands_ref(C)
    assert_allclose(c_sq, c_sq_ref, rtol=1e-12)
    assert_array_equal(half_c_sq, (0.5 * c_sq).astype(dtype))
    assert_allclose(half_c_sq, half_ref, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_distance_kernels_match_reference(sparse, dtype):
    rng = np.random.RandomState(2)
    X = rng.randn(300, 7).astype(dtype)
    X[X < 0] = 0
    C = rng.randn(4, 7).astype(dtype)
    w = rng.uniform(size=300).astype(dtype)
    labels = rng.randint(4, size=300).astype(np.int32)
    data = _pack(sp.csr_matrix(X) if sparse else X)
    out = np.empty((300, 4), dtype=dtype)
    K.sqdist_matrix(*data.args(), C, out)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert_allclose(out, ref.sqdist_matrix_ref(X, C), rtol=rtol, atol=1e-6)
    per = np.empty(300, dtype=dtype)
    K.assigned_sqdist(*data.args(), C, labels, per)
    per_ref, _ = ref.assigned_sqdist_ref(X, w.astype(np.float64), C, labels)
    assert_allclose(per, per_ref, rtol=rtol, atol=1e-6)


# scikit-learn's private Cython inertia (cpdef): (X, sample_weight, centers, labels,
# n_threads)
from sklearn.cluster._k_means_common import _inertia_dense as _sk_inertia_dense  # noqa
from sklearn.cluster._k_means_common import _inertia_sparse as _sk_inertia_sparse  # noqa
from sklearn.utils.extmath import row_norms  # noqa: E402


def _inertia_problem(n, d, dtype, sparse, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(dtype)
    if sparse:
        X[rng.uniform(size=X.shape) < 0.4] = 0
        X = sp.csr_matrix(X)
    C = rng.randn(5, d).astype(dtype)
    w = rng.uniform(0.1, 3.0, size=n).astype(dtype)  # non-uniform weights
    labels = rng.randint(5, size=n).astype(np.int32)
    return X, w, C, labels


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 5, 8, 16])
def test_inertia_bit_for_bit_as_sklearn(d, dtype, sparse):
    """Our inertia == scikit-learn's ``_inertia_dense`` / ``_inertia_sparse``, with
    ``==``, for 1, 2 and 3 threads (n_samples divisible by neither 2 nor 3; and fewer
    samples than threads), and == the one-operation-at-a-time reference.

    With 3 threads scikit-learn is not deterministic: each OpenMP thread adds its
    partial sum to the shared total with an atomic compare-and-swap when it finishes
    (checked in its build: ``lock cmpxchg`` after the loop, no FMA instructions), so
    the partials are added in the order the threads finish and repeated calls can
    differ in the last bits. We add them in thread order. The test checks that every
    value scikit-learn returns is the sum, in some order, of our per-thread partials
    (so the per-thread sums are bit-identical), and that ours is the thread-order sum.
    With 1 or 2 threads every order gives the same bits (``0 + a + b == 0 + b + a``).
    """
    sk_inertia = _sk_inertia_sparse if sparse else _sk_inertia_dense
    for n in (1001, 2):
        X, w, C, labels = _inertia_problem(n, d, dtype, sparse, seed=10 * d + n)
        data = _pack(X)
        c_sq = row_norms(C, squared=True) if sparse else np.empty(0, dtype=dtype)
        for n_threads in (1, 2, 3):
            ours = _inertia(data, w, C, labels, n_threads=2, inertia_parts=n_threads)
            partial = np.empty(n_threads, dtype=dtype)
            total = K.inertia_sk(data.X, data.data, data.indices, data.indptr,
                                 data.sparse, w, C, c_sq, labels, partial)
            assert dtype(total) == total  # a value of the data's dtype
            assert ours == float(total)
            if n > 2:  # the python reference is slow
                total_ref, partial_ref = ref.inertia_sk_ref(X, w, C, labels, n_threads,
                                                            c_sq)
                assert total == total_ref
                assert_array_equal(partial, partial_ref)
            theirs = {sk_inertia(X, w, C, labels, n_threads) for _ in range(5)}
            if n_threads <= 2:
                assert theirs == {ours}
            else:
                orders = set()
                for perm in itertools.permutations(range(n_threads)):
                    acc = dtype(0)
                    for t in perm:
                        acc = acc + partial[t]
                    orders.add(float(acc))
                assert theirs <= orders
                acc = dtype(0)
                for t in range(n_threads):
                    acc = acc + partial[t]
                assert ours == float(acc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_score_inertia_bits_as_sklearn(dtype):
    # score() = -(scikit-learn's inertia of the predicted labels), bit for bit
    X, _ = _blobs(1001, 5, 4, seed=3, dtype=dtype)
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=1001).astype(dtype)
    km = KMeans(4, n_init=1, random_state=0).fit(X)
    centers = np.ascontiguousarray(km.cluster_centers_, dtype=dtype)
    expected = _sk_inertia_dense(X, w, centers, km.predict(X), km._sk_n_threads)
    assert km.score(X, sample_weight=w) == -expected


def _fit_both_same_init(shape, dtype, algorithm):
    """Ours and scikit-learn's KMeans fitted on blobs ``shape`` = (n, d, k) from the
    same init array, n_init=1, tol=0 (the issue's comparison)."""
    n, d, k = shape
    X, _ = _blobs(n, d, k, seed=5, dtype=dtype)
    init = X[np.random.RandomState(0).choice(n, k, replace=False)].copy()
    kw = dict(n_clusters=k, init=init, n_init=1, max_iter=100, tol=0,
              algorithm=algorithm)
    return KMeans(**kw).fit(X), SkKMeans(**kw).fit(X)


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("shape", [(3000, 2, 8), (2000, 20, 12), (20000, 3, 10)])
def test_float32_fit_inertia_as_sklearn(algorithm, shape):
    # the target: same init array, n_init=1, tol=0 -> same inertia_ to 1e-6
    # relative in float32. Not bit for bit: the labels are the same but the centers
    # differ in the last float32 bits (our update step sums in float64, scikit-learn's
    # in float32), which moves the float32 inertia by about one ulp (~1e-7).
    ours, theirs = _fit_both_same_init(shape, np.float32, algorithm)
    assert_array_equal(ours.labels_, theirs.labels_)
    assert abs(ours.inertia_ - theirs.inertia_) <= 1e-6 * theirs.inertia_


@pytest.mark.parametrize("sparse", [False, True])
def test_elkan_pass_initial_assignment_matches_reference(sparse):
    rng = np.random.RandomState(3)
    X = rng.randn(500, 6)
    C = X[:5].copy()
    data = _pack(sp.csr_matrix(X) if sparse else X)
    from sknets.cluster._kmeans_lloyd import _center_half_distances

    half, next_half = _center_half_distances(C)
    labels = np.zeros(500, dtype=np.int32)
    upper = np.full(500, np.inf)
    lower = np.zeros((500, 5))
    sums, wsums = np.zeros((2, 5, 6)), np.zeros((2, 5))
    K.elkan_pass(*data.args(), np.ones(500), C, half, next_half, np.zeros(5), labels,
                 upper, lower, sums, wsums, np.zeros(2, dtype=np.int64), False)
    D = np.sqrt(ref.sqdist_matrix_ref(X, C))
    assert_array_equal(labels, D.argmin(axis=1))
    # sparse distances use ||x||^2 - 2x.c + ||c||^2: sqrt of ~1e-16 at a center
    assert_allclose(upper, D.min(axis=1), rtol=1e-10, atol=1e-7)
    # lower bounds are valid lower bounds
    assert np.all(lower <= D + 1e-7)


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_single_run_matches_numpy_reference(algorithm):
    X, _ = _blobs(800, 3, 5, seed=4)
    X = X - X.mean(axis=0)
    init = X[:5].copy()
    w = np.ones(800)
    labels, inertia, centers, n_iter = _kmeans_single(
        _pack(X), w, init, algorithm, 50, False, 0.0, 2)
    lab_r, inertia_r, centers_r, n_iter_r = ref.lloyd_ref(X, w, init, 50, 0.0)
    assert_array_equal(labels, lab_r)
    assert_allclose(centers, centers_r, rtol=1e-10, atol=1e-12)
    assert inertia == pytest.approx(inertia_r, rel=1e-10)
    assert n_iter == n_iter_r


# ------------------------------------------------------------ equality with sklearn
@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3000, 2, 8), (2000, 20, 12)])
def test_same_init_same_result_as_sklearn(algorithm, dtype, shape):
    ours, theirs = _fit_both_same_init(shape, dtype, algorithm)
    assert_array_equal(ours.labels_, theirs.labels_)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=rtol)
    assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol,
                    atol=1e-4 if dtype == np.float32 else 1e-9)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.cluster_centers_.dtype == dtype


def test_same_random_state_same_seeds_as_sklearn():
    X, _ = _blobs(500, 4, 6, seed=6)
    c1, i1 = kmeans_plusplus(X, 6, random_state=3)
    c2, i2 = sk_kmeans_plusplus(X, 6, random_state=3)
    assert_array_equal(i1, i2)
    assert_allclose(c1, c2)
    for init in ["k-means++", "random"]:
        ours = KMeans(6, init=init, random_state=7, n_init=3).fit(X)
        theirs = SkKMeans(6, init=init, random_state=7, n_init=3).fit(X)
        assert_array_equal(ours.labels_, theirs.labels_)
        assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)


def test_sparse_same_as_sklearn_and_dense():
    X, _ = _blobs(400, 10, 4, seed=7)
    X[X < 0] = 0
    Xs = sp.csr_matrix(X)
    w = np.random.RandomState(0).uniform(0.1, 2, size=400)
    init = X[:4].copy()
    ours = KMeans(4, init=init, n_init=1).fit(Xs, sample_weight=w)
    theirs = SkKMeans(4, init=init, n_init=1).fit(Xs, sample_weight=w)
    dense = KMeans(4, init=init, n_init=1).fit(X, sample_weight=w)
    assert_array_equal(ours.labels_, theirs.labels_)
    assert_array_equal(ours.labels_, dense.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)
    assert_allclose(ours.transform(Xs), theirs.transform(Xs), rtol=1e-7, atol=1e-9)
    assert ours.score(Xs) == pytest.approx(theirs.score(Xs), rel=1e-9)


# ------------------------------------------------------------------------- behaviour
def test_float32_kept_and_int_to_float64():
    X, _ = _blobs(300, 3, 3)
    km = KMeans(3, random_state=0).fit(X.astype(np.float32))
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X.astype(np.float32)).dtype == np.float32
    km = KMeans(3, random_state=0).fit(np.round(X * 10).astype(np.int64))
    assert km.cluster_centers_.dtype == np.float64


def test_sample_weight_integer_equals_repetition():
    X, _ = _blobs(200, 2, 3, seed=8)
    w = np.random.RandomState(0).randint(1, 4, size=200)
    init = X[:3].copy()
    a = KMeans(3, init=init, n_init=1).fit(X, sample_weight=w)
    b = KMeans(3, init=init, n_init=1).fit(np.repeat(X, w, axis=0))
    assert_allclose(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == pytest.approx(b.inertia_)


def test_reproducible_with_random_state():
    X, _ = _blobs(500, 5, 6, seed=9)
    a = KMeans(6, init="random", n_init=4, random_state=11).fit(X)
    b = KMeans(6, init="random", n_init=4, random_state=11).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == b.inertia_


def test_fewer_distinct_points_than_clusters_warns():
    X = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(2\)"):
        km = KMeans(4, random_state=0).fit(X)
    assert set(km.labels_) <= {0, 1, 2, 3}
    assert np.all(np.isfinite(km.cluster_centers_))
    assert km.inertia_ == pytest.approx(0.0)


def test_thread_count_does_not_change_results_and_is_restored():
    X, _ = _blobs(5000, 3, 5, seed=10)
    before = numba.get_num_threads()
    from sknets.utils._threads import numba_threads

    with numba_threads(1):
        a = KMeans(5, random_state=0).fit(X)
    b = KMeans(5, random_state=0).fit(X)
    assert numba.get_num_threads() == before
    assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-12)


# ----------------------------------------------------------------------- bad input
def test_bad_input_errors():
    X, _ = _blobs(50, 3, 2)
    km = KMeans(2, random_state=0)
    with pytest.raises(NotFittedError):
        km.predict(X)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        km.fit(Xn)
    Xi = X.copy()
    Xi[1, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        km.fit(Xi)
    with pytest.raises(ValueError):
        km.fit(np.empty((0, 3)))
    with pytest.raises(ValueError):
        km.fit([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError):
        km.fit(X[:, 0])  # 1-D
    km.fit(X)
    with pytest.raises(ValueError, match="features"):
        km.predict(X[:, :2])
    with pytest.raises(ValueError, match="sample_weight"):
        KMeans(2).fit(X, sample_weight=np.ones(7))
    with pytest.raises(ValueError):
        KMeans(n_clusters=0).fit(X)
    with pytest.raises(ValueError):
        KMeans(algorithm="auto").fit(X)


def test_overflowing_data_raises_instead_of_nan():
    X = np.array([[1e200], [-1e200], [1e200], [-1e200]])
    with pytest.raises(ValueError, match="not finite"):
        KMeans(2, init=np.array([[1e200], [0.0]]), n_init=1).fit(X)


# ------------------------------------------------------------------ sklearn tooling
def test_pipeline_clone_pickle():
    X, y = _blobs(300, 4, 3, seed=12)
    pipe = make_pipeline(StandardScaler(), KMeans(3, random_state=0))
    Xt = pipe.fit_transform(X)
    assert Xt.shape == (300, 3)
    assert pipe.score(X) < 0
    restored = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(restored.predict(X), pipe.predict(X))
    c = clone(pipe[-1])
    assert c.get_params() == pipe[-1].get_params()
    assert not hasattr(c, "cluster_centers_")


def test_grid_search_n_jobs_2():
    X, _ = _blobs(200, 2, 3, seed=13)
    gs = GridSearchCV(KMeans(random_state=0), {"n_clusters": [2, 3]}, cv=2, n_jobs=2)
    gs.fit(X)
    assert gs.best_params_["n_clusters"] == 3  # score = -inertia, more is better
    assert hasattr(gs.best_estimator_, "cluster_centers_")
