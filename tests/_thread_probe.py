"""A meta-estimator that records the Numba thread counts its inner estimator runs with.

Used by ``tests/test_distributed.py``: it lives in an importable module (not in the test
file) so that joblib's loky workers and Dask workers can unpickle it by reference.
"""

import numba
from sklearn.base import BaseEstimator, clone

from sknets.utils import _threads


class ThreadProbe(BaseEstimator):
    """Fit ``estimator`` and record the Numba thread count of every kernel block.

    sknets runs its parallel kernels inside blocks that call
    ``numba.set_num_threads(n)`` on entry and restore the previous count on exit
    (``sknets.utils._threads.numba_threads``, or an estimator's own scope). The probe
    wraps ``numba.set_num_threads`` while the inner estimator fits and keeps a stack of
    the counts to restore, so it records the entry counts only: exactly the thread
    counts the kernels ran with, wherever the fit runs (main process, loky worker, Dask
    worker).
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y=None):
        calls, saved = [], []
        original = numba.set_num_threads

        def recording(n):
            n = int(n)
            if saved and n == saved[-1]:
                saved.pop()  # leaving a block: restoring the outer count
            else:
                saved.append(numba.get_num_threads())
                calls.append(n)  # entering a block: the count its kernels use
            return original(n)

        saved_min = (_threads.PARALLEL_MIN_WORK, _threads.PARALLEL_MIN_WORK_BUSY)
        numba.set_num_threads = recording
        _threads.PARALLEL_MIN_WORK = _threads.PARALLEL_MIN_WORK_BUSY = 0
        try:
            self.estimator_ = clone(self.estimator).fit(X, y)
        finally:
            numba.set_num_threads = original
            _threads.PARALLEL_MIN_WORK, _threads.PARALLEL_MIN_WORK_BUSY = saved_min
        self.thread_counts_ = calls
        self.numba_num_threads_ = numba.config.NUMBA_NUM_THREADS
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def score(self, X, y=None):
        # The score is the largest thread count a kernel block ran with: GridSearchCV
        # carries it from the worker back to the parent in ``cv_results_``; 0 means the
        # fit ran no parallel kernel block at all.
        return float(max(self.thread_counts_)) if self.thread_counts_ else 0.0
