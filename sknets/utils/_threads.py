"""One thread policy for every sknets kernel: how many Numba threads, when to go
parallel, and which threading layer.

Every estimator runs its Numba kernels inside :func:`kernel_threads`::

    from sknets.utils._threads import effective_n_threads, kernel_threads

    n_threads = effective_n_threads(self.n_jobs)          # once per fit
    with kernel_threads(n_threads=n_threads, work=n * k * d, blas_threads=1):
        kernel(...)                                        # each parallel call

or simply ``with kernel_threads(self.n_jobs) as n: ...`` around a whole fit.

How many threads
----------------
:func:`effective_n_threads` honours, in order:

- an explicit ``n_jobs`` of the estimator (``None`` means "what the process allows");
- ``OMP_NUM_THREADS`` / ``NUMBA_NUM_THREADS``, which joblib's loky backend sets in its
  workers to ``cpu_count // n_jobs`` (so ``GridSearchCV(n_jobs=2)`` on 2 cores runs
  2 workers x 1 Numba thread, not 2 x 2);
- the BLAS/OpenMP limit in force through ``threadpoolctl`` (``with
  threadpool_limits(1):`` limits sknets too);
- inside a task of a ``dask.distributed`` worker, one thread: parallelism then comes
  from the cluster's worker threads (dask's nanny sets ``OMP_NUM_THREADS=1`` in worker
  processes for the same reason, but an in-process ``LocalCluster(processes=False)``
  sets nothing).

When to go parallel
-------------------
A parallel region costs a fork and a join of the thread team, and on a machine where
another process keeps a core busy, the thread that shares that core finishes its
static share of the region late (it waits for the scheduler), so every region costs up
to a scheduler time slice. Measured with a 2-thread team on 2 cores
(``python benchmarks/bench_threads.py layers``), time per region for a given total work:

============  ==============  ==============  ==================  ==================
work/region   1 thread        2 threads idle  1 thread + 1 busy   2 threads + 1 busy
============  ==============  ==============  ==================  ==================
5 us          5.6 us          3.7 us          5.7 us              9.4 us
100 us        99 us           52 us           101 us              152 us
2 ms          2.0 ms          0.92 ms         2.0 ms              2.3 ms
10 ms         10 ms           4.7 ms          10 ms               8.0 ms
============  ==============  ==============  ==================  ==================

So a kernel passes ``work``, an estimate of the elementary steps (about a nanosecond
each: a multiply-add, a comparison) between two synchronisations of its threads (one
``prange`` loop), and :func:`threads_for` keeps one thread below
:data:`PARALLEL_MIN_WORK` on an idle machine, and below :data:`PARALLEL_MIN_WORK_BUSY`
when other processes are running on the cores the team would use (read from
``/proc/loadavg``'s runnable count minus this process's own running threads, at most
every 0.1 s; Linux only, elsewhere the machine counts as idle). Kernels should keep
their own synchronisation coarse as well: no spin barriers inside a region (they burn
the busy core's time slice).

Which threading layer
---------------------
sknets asks Numba for GNU OpenMP first (``THREADING_LAYER_PRIORITY = omp, tbb,
workqueue``) unless the user chose a layer (``NUMBA_THREADING_LAYER``) or a layer is
already running. Measured as above:

- ``omp`` with its default wait policy (spin a little, then sleep) has the cheapest
  regions (3.7 us for 5 us of work on 2 threads) and, under a busy background process,
  the best large regions (8.0 ms against 10 for 10 ms of work); with one thread a
  region runs on the calling thread without waking the team. It is thread-safe, so
  two fits in two Python threads (joblib's threading backend, an in-process Dask
  cluster) are fine.
- ``OMP_WAIT_POLICY=passive`` costs about 40 us more per region when idle and gains
  nothing under load for large regions (10.2 ms for 10 ms); a shorter spin
  (``GOMP_SPINCOUNT=10000``) was worse under load (0.88 ms against 0.57 for 0.5 ms).
  sknets does not change the wait policy.
- ``workqueue`` costs about 65 us per region idle (every region, even on one thread,
  goes through its queues) and aborts the process when two Python threads launch
  kernels at once. When Numba falls back to it (no OpenMP runtime), sknets serialises
  its kernel blocks with a process-wide lock.
- ``tbb`` (not a dependency; measured with the ``tbb`` wheel) was close to ``omp``
  (6.4 us idle for 5 us of work, 10.0 ms for 10 ms under load).

BLAS
----
``blas_threads`` limits BLAS (through a cached ``threadpoolctl`` controller, so no
library scan per call) for the block: a kernel that calls BLAS from each of its Numba
threads passes ``blas_threads=1`` so that 2 Numba threads do not each start 2 BLAS
threads.
"""

import os
import sys
import threading
import time
from contextlib import contextmanager

import numba

# Elementary steps between two synchronisations below which a kernel runs on one
# thread: on an idle machine, and when other processes are running (see above).
PARALLEL_MIN_WORK = 50_000
PARALLEL_MIN_WORK_BUSY = 5_000_000


###############################################################################
# Threading layer


def _prefer_openmp():
    """Ask Numba for OpenMP first, unless the user chose a layer or one is running."""
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba layout changed
        return
    if getattr(parallel, "_is_initialized", True):
        return
    if "NUMBA_THREADING_LAYER" in os.environ or "NUMBA_THREADING_LAYER_PRIORITY" in \
            os.environ:
        return
    if str(numba.config.THREADING_LAYER).lower() != "default":
        return
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


_prefer_openmp()


def threading_layer():
    """The Numba threading layer in use (starts Numba's thread pool if needed)."""
    numba.get_num_threads()  # launches the layer
    from numba.np.ufunc.parallel import threading_layer as _layer

    return _layer()


_LAYER = {"serialise": None}
_WORKQUEUE_LOCK = threading.RLock()


def _needs_serialising():
    if _LAYER["serialise"] is None:
        try:
            _LAYER["serialise"] = threading_layer() == "workqueue"
        except Exception:  # pragma: no cover - no layer at all
            _LAYER["serialise"] = False
    return _LAYER["serialise"]


###############################################################################
# Limits


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


def _blas_threads_now():
    try:
        controller = _controller()
    except ImportError:  # pragma: no cover
        return None
    counts = [info["num_threads"] for info in controller.info()
              if info.get("user_api") == "blas" and info.get("num_threads")]
    return max(counts) if counts else None


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


###############################################################################
# Load


def _n_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _own_running_threads():
    n = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:  # pragma: no cover
        return 1
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2:stat.rfind(")") + 3] == "R":
            n += 1
    return max(n, 1)


def other_running():
    """Tasks running or runnable on the machine now that are not this process's threads.

    Linux: ``/proc/loadavg``'s instantaneous runnable count (not the 1-minute average)
    minus this process's running threads. Elsewhere 0.
    """
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    if running <= 1:
        return 0
    return max(0, running - _own_running_threads())


_BUSY = {"t": -1.0, "others": 0}
_BUSY_TTL_S = 0.1


def _others_cached():
    now = time.monotonic()
    if now - _BUSY["t"] > _BUSY_TTL_S:
        _BUSY["others"] = other_running()
        _BUSY["t"] = now
    return _BUSY["others"]


def machine_is_busy(n_threads):
    """Whether other processes leave fewer than ``n_threads`` cores free now."""
    if n_threads <= 1:
        return False
    return _others_cached() > _n_cores() - n_threads


def threads_for(n_threads, work):
    """``n_threads``, or 1 when ``work`` steps between synchronisations are too few.

    The threshold is :data:`PARALLEL_MIN_WORK`, or :data:`PARALLEL_MIN_WORK_BUSY` when
    :func:`machine_is_busy` (see the module docstring for the measurements).
    """
    n_threads = int(n_threads)
    if n_threads <= 1 or work is None:
        return max(1, n_threads)
    if work < PARALLEL_MIN_WORK:
        return 1
    if work < PARALLEL_MIN_WORK_BUSY and machine_is_busy(n_threads):
        return 1
    return n_threads


###############################################################################
# The context manager


@contextmanager
def kernel_threads(n_jobs=None, *, n_threads=None, work=None, blas_threads=None):
    """Run the Numba kernels of the ``with`` block on the threads the policy allows.

    Parameters
    ----------
    n_jobs : int or None
        The estimator's ``n_jobs``, resolved by :func:`effective_n_threads`. Ignored
        when ``n_threads`` is given.
    n_threads : int, optional
        A thread count already resolved (e.g. by :func:`effective_n_threads` once per
        fit): skips the limit lookup, which makes the block cheap enough to wrap every
        kernel call of an iterative fit.
    work : int, optional
        Elementary steps between two synchronisations of the kernel's threads; below
        the threshold of :func:`threads_for` the block runs on one thread.
    blas_threads : int or "n_jobs", optional
        Limit BLAS to this many threads inside the block (only lowers the count in
        force); ``"n_jobs"``: to the block's own thread count, for code whose work is
        BLAS rather than Numba kernels (e.g. dense networks' matrix products).

    Yields
    ------
    n : int
        The Numba thread count of the block.
    """
    if n_threads is None:
        n = effective_n_threads(n_jobs)
    else:
        n = int(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
    n = threads_for(n, work)
    lock = _WORKQUEUE_LOCK if _needs_serialising() else None
    if lock is not None:
        lock.acquire()
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    limiter = None
    try:
        if isinstance(blas_threads, str) and blas_threads == "n_jobs":
            blas_threads = n
        if blas_threads is not None:
            current = _blas_threads_now()
            if current is not None and current > blas_threads:
                limiter = _controller().limit(limits=int(blas_threads),
                                              user_api="blas")
        yield n
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        numba.set_num_threads(previous)
        if lock is not None:
            lock.release()


def numba_threads(n_jobs=None):
    """Former name of :func:`kernel_threads` (``with numba_threads(n_jobs) as n:``)."""
    return kernel_threads(n_jobs)
