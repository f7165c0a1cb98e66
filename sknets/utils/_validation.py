"""Validation helpers shared by the estimators: layer-size parameters, finite
parameters, memory requests, and fits that leave the estimator as it was when they
fail."""

import functools
import os
from numbers import Integral

import numpy as np


def as_sizes(value, name, allow_empty=True):
    """An int or a sequence of ints (``hidden_layer_sizes``, ``filters``, ...) as a
    tuple of positive ints; a ValueError naming ``name`` otherwise."""
    if isinstance(value, Integral):
        out = (int(value),)
    else:
        try:
            out = tuple(int(v) for v in np.ravel(value))
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an int or a sequence of ints, got "
                             f"{value!r}") from None
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if any(v < 1 for v in out):
        raise ValueError(f"{name} must contain positive ints, got {value!r}")
    return out


def check_finite_params(params, *, estimator_name, remedy):
    """Raise a clear error if any fitted parameter became NaN or infinite.

    Parameters
    ----------
    params : dict of str -> ndarray
        The parameters to check.
    estimator_name : str
        Used in the message.
    remedy : str
        What the user should change, e.g. ``"lower learning_rate"``.

    Raises
    ------
    ValueError
        If any array holds a non-finite value.
    """
    bad = [name for name, value in params.items() if not np.all(np.isfinite(value))]
    if bad:
        raise ValueError(
            f"{estimator_name} diverged: parameters {bad} became NaN or infinite "
            f"during training. Try to {remedy}."
        )


def available_memory():
    """Bytes of memory the system can give without swapping (None if unknown).

    ``MemAvailable`` of ``/proc/meminfo`` on Linux; elsewhere the free physical pages.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(n_bytes, *, what, remedy):
    """Fail fast when a request needs more memory than the machine has free.

    numpy may grant an allocation larger than the physical memory (overcommit) and
    the process then swaps or is killed when it touches the pages; estimators call
    this with the size of their largest arrays before allocating them.

    Parameters
    ----------
    n_bytes : int
        Bytes the request needs.
    what : str
        What needs them, e.g. ``"BernoulliRBM's weights (n_components=10**8)"``.
    remedy : str
        The parameter to lower.

    Raises
    ------
    MemoryError
        When ``n_bytes`` exceeds the available memory.
    """
    free = available_memory()
    if free is not None and n_bytes > free:
        raise MemoryError(
            f"{what} need {n_bytes / 2**30:.1f} GiB, more than the "
            f"{free / 2**30:.1f} GiB of memory available; {remedy}.")


def rollback_on_error(method):
    """Decorator of ``fit``-like methods: if the method raises (an error, or a
    ``KeyboardInterrupt``), the estimator's attributes are put back as they were
    before the call, so an interrupted or failed fit never leaves a half-fitted
    estimator (e.g. ``n_features_in_`` set but no ``cluster_centers_``).

    For methods that assign new attributes rather than update arrays in place (an
    in-place update is not undone: estimators that train in place restore their own
    state, see :mod:`sknets.nn._training`).
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return wrapper
