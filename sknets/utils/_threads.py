"""Thread limits for Numba kernels.

Numba's parallel kernels start ``numba.config.NUMBA_NUM_THREADS`` threads by default,
whatever joblib or threadpoolctl decided for the process. On a 2-core machine a
``GridSearchCV(n_jobs=2)`` would then run 2 workers x 2 Numba threads. The helpers here
pick a thread count that honours, in order:

- an explicit ``n_jobs`` of the estimator (``None`` means "what the process allows");
- ``OMP_NUM_THREADS`` / ``NUMBA_NUM_THREADS``, which joblib's loky backend sets in its
  workers to ``cpu_count // n_jobs``;
- the BLAS limit currently in force through ``threadpoolctl``;
- inside a task of a ``dask.distributed`` worker, one thread: parallelism then comes from
  the cluster's worker threads (dask's nanny sets ``OMP_NUM_THREADS=1`` in worker
  processes for the same reason, but an in-process ``LocalCluster(processes=False)``
  sets nothing, and its worker threads would each start all of Numba's threads);

and apply it with :func:`numba.set_num_threads` for the duration of a ``with`` block.
"""

import os
import sys
from contextlib import contextmanager

import numba


def _env_limit(name):
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        n = int(value.split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


_CONTROLLER = {"key": None, "controller": None}


def _controller():
    """A cached ``threadpoolctl.ThreadpoolController``.

    Building one scans every loaded shared library (about 20 ms, far more than a small
    fit's kernels), while asking an existing one for the current thread counts is cheap
    and still sees ``threadpool_limits`` blocks. The cache is rebuilt when new modules
    have been imported, since they may have loaded a new BLAS or OpenMP runtime.
    """
    key = len(sys.modules)
    if _CONTROLLER["key"] != key:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER["controller"] = ThreadpoolController()
        _CONTROLLER["key"] = key
    return _CONTROLLER["controller"]


def _blas_limit():
    try:
        controller = _controller()
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    limits = [
        info["num_threads"]
        for info in controller.info()
        if info.get("user_api") in ("blas", "openmp") and info.get("num_threads")
    ]
    return min(limits) if limits else None


def _in_dask_worker_task():
    """True when called from a task running on a ``dask.distributed`` worker."""
    if "distributed" not in sys.modules:  # never import dask just to ask
        return False
    try:
        from distributed import get_worker

        get_worker()
    except Exception:  # ValueError outside a worker; anything else: not in one
        return False
    return True


def effective_n_threads(n_jobs=None):
    """Number of Numba threads a kernel call may use.

    Parameters
    ----------
    n_jobs : int or None
        The estimator's ``n_jobs``. ``None`` means the process limit; ``-1`` all
        allowed threads; a negative ``-k`` means ``allowed + 1 - k`` (joblib's rule);
        a positive value is capped by the process limit.

    Returns
    -------
    n_threads : int
        At least 1 and at most ``numba.config.NUMBA_NUM_THREADS``.
    """
    allowed = numba.config.NUMBA_NUM_THREADS
    for limit in (_env_limit("OMP_NUM_THREADS"), _env_limit("NUMBA_NUM_THREADS"),
                  _blas_limit()):
        if limit is not None:
            allowed = min(allowed, limit)
    if _in_dask_worker_task():
        allowed = 1
    if n_jobs is None or n_jobs == -1:
        n = allowed
    elif n_jobs < 0:
        n = allowed + 1 + n_jobs
    else:
        n = min(n_jobs, allowed)
    return int(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


@contextmanager
def numba_threads(n_jobs=None):
    """Context manager limiting Numba's parallel kernels to ``effective_n_threads``."""
    n = effective_n_threads(n_jobs)
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
