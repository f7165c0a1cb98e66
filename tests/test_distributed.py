"""Scaling out: joblib workers, a Dask cluster, and dask-ml's Incremental.

- Inside ``GridSearchCV(n_jobs=2)`` workers, a sknets fit uses its share of the
  cores: ``cpu_count // 2`` Numba threads (1 on a 2-core machine), not all of them.
- ``GridSearchCV`` on a ``dask.distributed`` ``LocalCluster`` through joblib's Dask
  backend finds the same best parameters (and the same scores) as the local run.
- A ``partial_fit`` estimator trained through dask-ml's ``Incremental`` on a dask array
  of several chunks gives the same model as an explicit ``partial_fit`` loop over the
  blocks.

No timing here: ``benchmarks/bench_threads.py`` times ``n_jobs=1`` against ``n_jobs=2``.
"""

import joblib
import numba
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, KFold

from sknets import BernoulliRBM, KMeans
from sknets.utils._threads import effective_n_threads
from tests._thread_probe import ThreadProbe


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=4, n_features=3, cluster_std=1.0,
                      random_state=0)
    return X, y


def _kmeans_search(**kwargs):
    return GridSearchCV(
        KMeans(n_init=1, random_state=0),
        {"n_clusters": [3, 4, 5], "init": ["k-means++", "random"]},
        scoring="adjusted_rand_score", cv=KFold(3, shuffle=True, random_state=0),
        **kwargs,
    )


# -- threads ---------------------------------------------------------------------------

def test_thread_probe_records_the_parent_limit(blobs):
    X, _ = blobs
    probe = ThreadProbe(KMeans(n_clusters=3, n_init=1, random_state=0)).fit(X)
    assert probe.thread_counts_, "KMeans.fit ran no kernel under numba_threads"
    assert max(probe.thread_counts_) == effective_n_threads()


def test_thread_probe_records_entry_counts_only():
    from sknets.utils._threads import numba_threads

    class Nested(KMeans):
        def fit(self, X, y=None):
            with numba_threads(1):
                with numba_threads(1):
                    pass
            with numba_threads(2):
                pass
            return super().fit(X, y)

    X = np.arange(20.0).reshape(10, 2)
    counts = ThreadProbe(Nested(n_clusters=2, n_init=1)).fit(X).thread_counts_
    assert counts[:3] == [1, 1, min(2, effective_n_threads())]


def test_threadpool_limits_bound_numba_threads(blobs):
    from threadpoolctl import threadpool_limits

    X, _ = blobs
    with threadpool_limits(1):
        probe = ThreadProbe(KMeans(n_clusters=3, n_init=1, random_state=0)).fit(X)
    assert probe.thread_counts_ and max(probe.thread_counts_) == 1


def test_gridsearch_workers_use_their_share_of_cores():
    # GridSearchCV(n_jobs=2) over every registered sknets estimator (small settings):
    # the probe's score is the largest Numba thread count a kernel block ran with in
    # the loky worker (0: the fit has no parallel kernel block).
    from tests._registry import ESTIMATORS

    rng = np.random.default_rng(0)
    X = rng.random((90, 16))
    y = np.repeat([0, 1, 2], 30)
    search = GridSearchCV(ThreadProbe(ESTIMATORS[0]),
                          {"estimator": [clone(e) for e in ESTIMATORS]},
                          cv=KFold(2, shuffle=True, random_state=0), n_jobs=2,
                          error_score="raise").fit(X, y)
    share = max(1, joblib.cpu_count() // 2)
    used = np.column_stack([search.cv_results_[f"split{k}_test_score"]
                            for k in range(2)])
    names = [type(e).__name__ for e in search.cv_results_["param_estimator"]]
    assert len(set(names)) >= 6, names
    for name, row in zip(names, used):
        assert set(row) <= {0.0, float(share)}, (name, row, share)
    # Estimators whose kernels are all serial (the RBMs, the GAN's fused MLP step) set
    # no thread count; the ones with parallel kernels must have run them.
    parallel = {name for name, row in zip(names, used) if np.all(row == share)}
    assert parallel, names
    if joblib.cpu_count() == 2:
        assert used.max() == 1


# -- Dask ------------------------------------------------------------------------------

distributed = pytest.importorskip("distributed")


def _threads_can_share_numba():
    """True when Numba's threading layer allows parallel kernels from several threads.

    ``omp`` and ``tbb`` do; the fallback ``workqueue`` aborts the process when two
    threads launch parallel kernels at once.
    """
    KMeans(n_clusters=2, n_init=1).fit(np.arange(8.0).reshape(4, 2))  # start the layer
    return numba.threading_layer() in ("omp", "tbb")


@pytest.fixture(scope="module")
def dask_client():
    # Two single-threaded workers. In-process workers (processes=False) start in well
    # under a second; with Numba's workqueue layer they are unsafe, so use worker
    # processes there (the LocalCluster default: slower to start, each imports sknets).
    processes = not _threads_can_share_numba()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                       processes=processes, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_gridsearch_on_dask_gives_same_best_params(blobs, dask_client):
    X, y = blobs
    local = _kmeans_search().fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = _kmeans_search().fit(X, y)
    assert remote.best_params_ == local.best_params_
    assert local.best_params_["n_clusters"] == 4  # the blobs' true number
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])
    np.testing.assert_allclose(remote.best_estimator_.cluster_centers_,
                               local.best_estimator_.cluster_centers_)
    # The fits really ran on the cluster's workers.
    assert len(dask_client.scheduler_info()["workers"]) == 2


def _registry_ids():
    from tests._registry import ESTIMATORS

    return [f"{type(e).__name__}-{i}" for i, e in enumerate(ESTIMATORS)]


def _registry_params():
    from tests._registry import ESTIMATORS

    return [pytest.param(estimator) for estimator in ESTIMATORS]


@pytest.mark.parametrize("estimator", _registry_params(), ids=_registry_ids())
def test_dask_worker_fits_use_one_numba_thread(estimator, dask_client):
    rng = np.random.default_rng(0)
    X = rng.random((60, 16))
    y = np.repeat([0, 1, 2], 20)
    search = GridSearchCV(ThreadProbe(estimator), {"estimator": [clone(estimator)]},
                          cv=KFold(2, shuffle=True, random_state=0),
                          error_score="raise")
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
    used = np.concatenate([search.cv_results_[f"split{k}_test_score"]
                           for k in range(2)])
    assert set(used) <= {0.0, 1.0}, used


def test_in_process_dask_worker_tasks_get_one_thread():
    # With processes=False nothing sets OMP_NUM_THREADS; sknets still gives each task
    # one thread (two worker threads x all cores would oversubscribe).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        in_task = client.gather(client.map(effective_n_threads, [None, -1, 4],
                                           pure=False))
    assert in_task == [1, 1, 1]
    assert effective_n_threads() >= 1  # outside a task the process limit applies again


# -- dask-ml Incremental ---------------------------------------------------------------

def _pseudo_likelihood(estimator, X, y=None):
    return float(np.mean(estimator.score_samples(X)))


@pytest.fixture(scope="module")
def binary_dask_array():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    X = (rng.random((400, 16)) > 0.6).astype(np.float64)
    return X, da.from_array(X, chunks=(100, 16))


def test_incremental_trains_rbm_over_chunks(binary_dask_array):
    pytest.importorskip("dask_ml")
    from dask_ml.wrappers import Incremental

    X, dX = binary_dask_array
    assert dX.numblocks[0] == 4
    rbm = BernoulliRBM(n_components=8, learning_rate=0.05, random_state=0)
    # shuffle_blocks=False: the blocks in order, as the loop below (the default shuffles
    # the block order with an unseeded generator).
    inc = Incremental(rbm, scoring=_pseudo_likelihood, shuffle_blocks=False).fit(dX)
    fitted = inc.estimator_
    assert isinstance(fitted, BernoulliRBM)
    assert fitted.components_.shape == (8, 16)
    assert np.all(np.isfinite(fitted.components_))

    # Exactly the documented equivalent: one partial_fit per block, in order.
    manual = clone(rbm)
    for block in dX.to_delayed().ravel():
        manual.partial_fit(block.compute())
    np.testing.assert_allclose(fitted.components_, manual.components_)
    np.testing.assert_allclose(fitted.intercept_hidden_, manual.intercept_hidden_)

    # ... which is not the same as one partial_fit on everything: the blocks mattered.
    whole = clone(rbm).partial_fit(X)
    assert not np.allclose(whole.components_, fitted.components_)

    # transform stays lazy and block-wise, and matches the in-memory transform.
    features = inc.transform(dX)
    assert features.numblocks[0] == 4
    np.testing.assert_allclose(features.compute(), fitted.transform(X))


def test_minibatch_loop_over_blocks_equals_fit(binary_dask_array):
    # The documented loop for the RBMs (whose partial_fit is one gradient step): for
    # each block, partial_fit on minibatches of batch_size rows. With blocks that are a
    # multiple of batch_size it makes exactly the updates fit makes, in the same order
    # and with the same random draws, holding one block in memory at a time.
    from sklearn.utils import gen_batches

    X, dX = binary_dask_array
    params = dict(n_components=8, learning_rate=0.05, batch_size=10, random_state=0)
    in_memory = BernoulliRBM(n_iter=2, **params).fit(X)
    looped = BernoulliRBM(**params)
    for _ in range(2):
        for block in dX.to_delayed().ravel():
            block = block.compute()
            for batch in gen_batches(block.shape[0], looped.batch_size):
                looped.partial_fit(block[batch])
    np.testing.assert_allclose(looped.components_, in_memory.components_)
    np.testing.assert_allclose(looped.intercept_visible_, in_memory.intercept_visible_)
    np.testing.assert_allclose(looped.intercept_hidden_, in_memory.intercept_hidden_)
