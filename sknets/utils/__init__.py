"""Private helpers shared by the sknets estimators (validation, threads, randomness,
compile notices)."""

from ._cache import ensure_numba_cache as _ensure_numba_cache
from ._compile import install as _install_compile_notice

# before any kernel module is imported: @njit(cache=True) needs a writable cache
_ensure_numba_cache()

_install_compile_notice()  # "compiling... (once)" on a first fit with an empty cache
