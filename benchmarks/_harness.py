"""Shared timing harness for the scripts in ``benchmarks/``.

One way to time ours against a peer, so that every benchmark prints comparable figures:

- :func:`compare` runs ``ours`` and ``peer`` interleaved (peer, ours, peer, ours, ...),
  ``repeat`` times each, with a short pause before every timed run (lets the CPU and
  the page cache settle, and lets a spinning thread pool go to sleep), after an untimed
  warm-up call of each (Numba compile or cache load, BLAS thread start-up). The ratio
  of each pair is ``peer time / our time`` (above 1: ours faster); the result gives the
  median and the worst of those ratios and of each side's times.
- :func:`load_average` is printed with every table (a figure taken while the machine
  is busy is not comparable with one taken while it is idle).
- :func:`busy_background` starts ``n`` processes that spin on a core (``while True:
  pass``) for the duration of a ``with`` block: the "another program uses a core"
  condition of ``bench_load.py``.

Usage::

    from _harness import compare, load_average
    r = compare(lambda: ours.fit(X), lambda: peer.fit(X), repeat=3)
    print(r.row("case"), load_average())

Run the scripts from the repository root (``python benchmarks/bench_x.py``): the
directory of the script is on ``sys.path``, so ``import _harness`` works.
"""

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

PAUSE_S = 0.2


def load_average():
    """``os.getloadavg()`` as a short string (``"load 0.12 0.05 0.02"``)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "load n/a"
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def timed(fn):
    """Wall-clock seconds of one call of ``fn`` and its return value."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


@dataclass
class Comparison:
    """Times of interleaved runs of ours and a peer (seconds)."""

    ours: list = field(default_factory=list)
    peer: list = field(default_factory=list)
    ours_result: object = None
    peer_result: object = None

    @property
    def ratios(self):
        """``peer / ours`` of each interleaved pair (above 1: ours faster)."""
        return [p / o for p, o in zip(self.peer, self.ours)]

    @property
    def median_ratio(self):
        return statistics.median(self.ratios)

    @property
    def worst_ratio(self):
        return min(self.ratios)

    @property
    def ours_median(self):
        return statistics.median(self.ours)

    @property
    def peer_median(self):
        return statistics.median(self.peer)

    def row(self, label, width=34):
        """One table line: label, median times, median and worst ratio."""
        return (f"{label:<{width}}{self.peer_median:>10.3f}{self.ours_median:>10.3f}"
                f"{self.median_ratio:>9.2f}x{self.worst_ratio:>9.2f}x")

    @staticmethod
    def header(label="case", width=34, peer="peer s", ours="ours s"):
        line = (f"{label:<{width}}{peer:>10}{ours:>10}{'median':>10}{'worst':>10}")
        return line + "\n" + "-" * len(line)


def compare(ours, peer, repeat=3, pause=PAUSE_S, warmup=True):
    """Time ``ours()`` and ``peer()`` interleaved, ``repeat`` times each.

    Parameters
    ----------
    ours, peer : callable
        Zero-argument callables doing the whole timed work (e.g. ``lambda:
        est.fit(X)``; build a fresh estimator inside if fitting twice matters).
    repeat : int
        Timed runs of each side (the median and the worst of them are reported).
    pause : float
        Seconds of sleep before each timed run.
    warmup : bool
        Call each side once, untimed, first.

    Returns
    -------
    Comparison
        With the per-run times and the last return value of each side.
    """
    result = Comparison()
    if warmup:
        peer()
        ours()
    for _ in range(repeat):
        time.sleep(pause)
        t, result.peer_result = timed(peer)
        result.peer.append(t)
        time.sleep(pause)
        t, result.ours_result = timed(ours)
        result.ours.append(t)
    return result


def best_and_median(fn, repeat=3, pause=PAUSE_S):
    """Time ``repeat`` calls of ``fn``, each after a pause: (min, median, last out)."""
    times, out = [], None
    for _ in range(repeat):
        time.sleep(pause)
        t, out = timed(fn)
        times.append(t)
    return min(times), statistics.median(times), out


@contextmanager
def busy_background(n=1):
    """Run ``n`` processes that each keep one core busy, for the ``with`` block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(n)]
    try:
        time.sleep(0.5)  # let them start spinning
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
