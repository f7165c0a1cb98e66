"""``python -m sknets``: a short tour of every estimator on scikit-learn's digits.

Each estimator is fitted inside a ``Pipeline`` on a 75/25 split of ``load_digits`` (no
download), and its score and fit time are printed. Pass ``--quick`` for fewer epochs.

``python -m sknets warmup`` instead compiles every estimator's Numba kernels for float32
and float64 (by fitting each on tiny data) and prints the time per estimator: run it
once after installing (or after clearing the Numba cache) so that the first real fit
loads the kernels from the cache instead of compiling them. The kernels are cached
under the package's ``__pycache__`` or ``NUMBA_CACHE_DIR``; where neither is writable
Numba compiles them again in every process.
"""

import argparse
import sys
import time

from sknets._tour import TOUR


def warmup(names=None):
    """Fit every warm-up entry for float32 and float64; print the time of each."""
    import os

    import numpy as np

    from sknets._tour import WARMUP

    # the warm-up says what it compiles itself
    os.environ["SKNETS_COMPILE_NOTICE"] = "0"
    print("compiling (or loading from Numba's cache) the kernels of every estimator, "
          "float32 and float64", flush=True)
    total = 0.0
    for entry in WARMUP:
        if names and entry.name not in names:
            continue
        times = []
        for dtype in (np.float32, np.float64):
            t0 = time.perf_counter()
            entry.fn(dtype)
            times.append(time.perf_counter() - t0)
        total += sum(times)
        print(f"{entry.name:<22} float32 {times[0]:7.2f}s   float64 {times[1]:7.2f}s",
              flush=True)
    print(f"{'total':<22} {total:.2f}s")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["warmup"]:
        parser = argparse.ArgumentParser(prog="python -m sknets warmup",
                                         description=warmup.__doc__)
        parser.add_argument("names", nargs="*", help="only these estimators")
        return warmup(parser.parse_args(argv[1:]).names)
    parser = argparse.ArgumentParser(prog="python -m sknets", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer epochs, for a smoke test")
    args = parser.parse_args(argv)

    import numba
    import sklearn

    import sknets

    print(f"sknets {sknets.__version__} (scikit-learn {sklearn.__version__}, "
          f"numba {numba.__version__}) - tour on load_digits\n")
    header = f"{'estimator':<22} {'task':<34} {'score':>16} {'fit time':>10}"
    print(header)
    print("-" * len(header))
    for entry in TOUR:
        t0 = time.perf_counter()
        label, score = entry.run(quick=args.quick)
        elapsed = time.perf_counter() - t0
        result = f"{label} {score:.3f}"
        print(f"{entry.name:<22} {entry.task:<34} {result:>16} {elapsed:>9.2f}s")
    print("\nFit times of the first run include Numba compilation (cached for the next "
          "run; `python -m sknets warmup` compiles everything ahead of time).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
