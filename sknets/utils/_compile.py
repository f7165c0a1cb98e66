"""Say "compiling... (once)" when a sknets Numba kernel is actually compiled.

The first fit of a process with an empty Numba cache compiles the estimator's kernels,
which takes seconds; later processes load them from the cache in milliseconds. So that
such a first fit is not silent, sknets listens to Numba's ``numba:compile`` event,
which Numba fires only for a real compilation (a cache hit or an already compiled
signature fires nothing, so the listener costs nothing on warm runs), and prints one
line to stderr when a kernel of a ``sknets`` module starts compiling::

    sknets: compiling the KMeans kernels (once; later runs load them from Numba's cache)

once per estimator name and process, and, at the end of the estimator's
:func:`compile_notice` block, ``sknets: KMeans kernels compiled in 9.8 s``.

How an estimator uses it: wrap the part of ``fit`` (or ``predict``...) that calls
kernels, giving the name the user knows::

    from sknets.utils._compile import compile_notice

    with compile_notice("KMeans"):
        ...kernel calls...

``compile_notice`` also works as a decorator (``@compile_notice("KMeans")``). Kernels
compiled outside any block are announced under their module's name. Set the
environment variable ``SKNETS_COMPILE_NOTICE=0`` to silence the lines;
``python -m sknets warmup`` compiles every estimator's kernels ahead of time.
"""

import os
import sys
import threading
import time
from contextlib import contextmanager

_LOCK = threading.RLock()
_STATE = {"names": [], "announced": set(), "depth": 0, "t0": None,
          "compiled_s": {}, "installed": False}


def _enabled():
    return os.environ.get("SKNETS_COMPILE_NOTICE", "1") not in ("0", "", "false", "no")


def _is_sknets_kernel(ev):
    disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
    func = getattr(disp, "py_func", None)
    return (getattr(func, "__module__", "") or "").startswith("sknets")


def _current_name(ev):
    if _STATE["names"]:
        return _STATE["names"][-1]
    func = ev.data["dispatcher"].py_func
    return func.__module__


def _on_start(ev):
    if not _is_sknets_kernel(ev):
        return
    with _LOCK:
        _STATE["depth"] += 1
        if _STATE["depth"] > 1:
            return
        _STATE["t0"] = time.perf_counter()
        name = _current_name(ev)
        if name in _STATE["announced"] or not _enabled():
            return
        _STATE["announced"].add(name)
    print(f"sknets: compiling the {name} kernels (once; later runs load them from "
          "Numba's cache)", file=sys.stderr, flush=True)


def _on_end(ev):
    if not _is_sknets_kernel(ev):
        return
    with _LOCK:
        _STATE["depth"] -= 1
        if _STATE["depth"] == 0 and _STATE["t0"] is not None:
            name = _current_name(ev)
            spent = time.perf_counter() - _STATE["t0"]
            _STATE["compiled_s"][name] = _STATE["compiled_s"].get(name, 0.0) + spent
            _STATE["t0"] = None


def install():
    """Register the ``numba:compile`` listener (done once, at ``import sknets``)."""
    with _LOCK:
        if _STATE["installed"]:
            return
        try:
            from numba.core import event
        except ImportError:  # pragma: no cover - numba without the event API
            return

        class _Listener(event.Listener):
            def on_start(self, ev):
                _on_start(ev)

            def on_end(self, ev):
                _on_end(ev)

        event.register("numba:compile", _Listener())
        _STATE["installed"] = True


def compile_seconds(name):
    """Seconds spent compiling ``name``'s kernels so far in this process."""
    return _STATE["compiled_s"].get(name, 0.0)


@contextmanager
def compile_notice(name):
    """Announce compilations of sknets kernels in this block under ``name``."""
    install()
    with _LOCK:
        _STATE["names"].append(name)
        before = _STATE["compiled_s"].get(name, 0.0)
    try:
        yield
    finally:
        with _LOCK:
            _STATE["names"].pop()
            spent = _STATE["compiled_s"].get(name, 0.0) - before
        if spent > 0 and _enabled():
            print(f"sknets: {name} kernels compiled in {spent:.1f} s", file=sys.stderr,
                  flush=True)
