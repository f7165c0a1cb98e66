"""A meta-estimator that records the Numba thread counts its inner estimator runs with.

Used by ``tests/test_distributed.py``: it lives in an importable module (not in the test
file) so that joblib's loky workers and Dask workers can unpickle it by reference.
"""

import numba
from sklearn.base import BaseEstimator, clone

from sknets.utils import _threads


class ThreadProbe(BaseEstimator):
    """Fit ``estimator`` and record the thread count of every ``numba_threads`` block.

    Every sknets estimator runs its parallel kernels inside
    ``sknets.utils._threads.numba_threads(n_jobs)``, which sets
    ``numba.set_num_threads(effective_n_threads(n_jobs))`` for the block. The probe wraps
    the module's ``effective_n_threads`` while the inner estimator fits, so the recorded
    values are exactly the thread counts the kernels ran with, wherever the fit runs
    (main process, loky worker, Dask worker).
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y=None):
        calls = []
        original = _threads.effective_n_threads

        def recording(n_jobs=None):
            n = original(n_jobs)
            calls.append(int(n))
            return n

        _threads.effective_n_threads = recording
        try:
            self.estimator_ = clone(self.estimator).fit(X, y)
        finally:
            _threads.effective_n_threads = original
        self.thread_counts_ = calls
        self.numba_num_threads_ = numba.config.NUMBA_NUM_THREADS
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def score(self, X, y=None):
        # The score is the largest thread count a kernel block ran with: GridSearchCV
        # carries it from the worker back to the parent in ``cv_results_``; 0 means the
        # fit ran no kernel under ``numba_threads`` at all.
        return float(max(self.thread_counts_)) if self.thread_counts_ else 0.0
