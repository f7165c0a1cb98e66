"""ConvNetClassifier's default settings on scikit-learn's digits: accuracy and fit time.

75/25 split with ``random_state=0`` (as the tour), raw pixel values 0..16 (the estimator
standardises internally). The headline is ``ConvNetClassifier(random_state=0)``; other
seeds of the estimator are printed to show the spread. The first fit includes Numba
compilation unless the cache is warm, so a short warm-up fit runs first.

Usage::

    python benchmarks/bench_convnet_accuracy.py [--seeds 0 1 2] [--n-jobs N]
"""

import argparse
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sknets import ConvNetClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ConvNetClassifier(max_iter=1, n_jobs=args.n_jobs).fit(Xtr[:128], ytr[:128])
        print(f"ConvNetClassifier() defaults on digits "
              f"(train {len(Xtr)}, test {len(Xte)})")
        for seed in args.seeds:
            clf = ConvNetClassifier(random_state=seed, n_jobs=args.n_jobs)
            t0 = time.perf_counter()
            clf.fit(Xtr, ytr)
            fit_time = time.perf_counter() - t0
            acc = clf.score(Xte, yte)
            print(f"  random_state={seed}: test accuracy {acc:.4f}  fit time "
                  f"{fit_time:.1f}s  ({clf.n_iter_} epochs)")


if __name__ == "__main__":
    main()
