"""``python -m sknets``: a short tour of every estimator on scikit-learn's bundled digits.

Each estimator is fitted inside a ``Pipeline`` on a 75/25 split of ``load_digits`` (no
download), and its score and fit time are printed. Pass ``--quick`` for fewer epochs.
"""

import argparse
import sys
import time

from sknets._tour import TOUR


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sknets", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for a smoke test")
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
        print(f"{entry.name:<22} {entry.task:<34} {label + ' ' + format(score, '.3f'):>16} "
              f"{elapsed:>9.2f}s")
    print("\nFit times of the first run include Numba compilation (cached for the next run).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
