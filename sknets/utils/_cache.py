"""Keep ``import sknets`` working where Numba cannot write its cache.

Every kernel is ``@njit(cache=True)``. Numba looks for a writable cache directory when
the decorator runs (at import): ``NUMBA_CACHE_DIR``, then the ``__pycache__`` beside the
source, then the user's cache directory. When none is writable (a read-only install in
a container whose home is read-only too, a ``NUMBA_CACHE_DIR`` on a read-only mount),
the decorator raises ``RuntimeError: cannot cache function ...: no locator available``
and ``import sknets`` fails. :func:`ensure_numba_cache`, run when ``sknets.utils`` is
imported (before any kernel module), detects that case with the same lookup Numba does
and points Numba at a private temporary directory instead, with one warning: the
kernels then compile once per process instead of once per machine.
"""

import atexit
import shutil
import tempfile
import warnings


def _probe():  # a function of a sknets source file, for Numba's cache lookup
    pass


_STATE = {"checked": False, "fallback": None}


def ensure_numba_cache():
    """Give Numba a writable cache directory if it has none; returns the fallback used
    (a temporary directory) or None."""
    if _STATE["checked"]:
        return _STATE["fallback"]
    _STATE["checked"] = True
    try:
        from numba.core import caching, config

        # the implementation njit(cache=True) uses; its constructor runs the lookup
        caching.CompileResultCacheImpl(_probe)
        return None
    except RuntimeError:
        pass
    except Exception:  # pragma: no cover - a Numba without this lookup: leave it be
        return None
    where = config.CACHE_DIR or "unset"
    fallback = tempfile.mkdtemp(prefix="sknets-numba-cache-")
    atexit.register(shutil.rmtree, fallback, True)
    config.CACHE_DIR = fallback
    _STATE["fallback"] = fallback
    warnings.warn(
        "sknets: Numba cannot write its cache here (NUMBA_CACHE_DIR="
        f"{where}; the package's __pycache__ and the user cache directory are not "
        "writable either). The kernels are compiled in every process, into a "
        "temporary directory. Set NUMBA_CACHE_DIR to a writable directory to keep "
        "them between runs.",
        RuntimeWarning,
        stacklevel=2,
    )
    return fallback
