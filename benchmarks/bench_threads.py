"""GridSearchCV over sknets estimators: n_jobs=1 against n_jobs=2, in one run.

With ``n_jobs=2`` joblib's loky workers each get ``cpu_count // 2`` Numba threads (sknets
reads the limit joblib sets in its workers), so on a 2-core machine the two workers do not
fight over the cores and ``n_jobs=2`` should not be slower than ``n_jobs=1``. For contrast
the script also runs ``n_jobs=2`` with each worker allowed 2 Numba threads
(``joblib.parallel_config(inner_max_num_threads=2)``): the oversubscribed set-up the
thread limit avoids.

Each configuration runs once to start the workers and compile or load the kernels, then
``--repeat`` times; the best time is kept. Timing ratios mean something only within one
run of this script (the machine may be shared).

    python benchmarks/bench_threads.py [--repeat 1]
"""

import argparse
import time

import joblib
import numpy as np
from sklearn.datasets import load_digits, make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import MinMaxScaler

from sknets import BernoulliRBM, KMeans
from sknets.utils._threads import effective_n_threads


def pseudo_likelihood(estimator, X, y=None):
    """Mean pseudo-likelihood: the RBM's own fit criterion, as a GridSearchCV scorer."""
    return float(np.mean(estimator.score_samples(X)))


def searches():
    X_digits, _ = load_digits(return_X_y=True)
    X_digits = MinMaxScaler().fit_transform(X_digits)
    rbm = GridSearchCV(
        BernoulliRBM(n_iter=5, random_state=0),
        {"n_components": [32, 64], "learning_rate": [0.02, 0.06]},
        scoring=pseudo_likelihood, cv=3,
    )
    X_blobs, _ = make_blobs(n_samples=30_000, centers=8, n_features=8, random_state=0)
    kmeans = GridSearchCV(
        KMeans(n_init=1, max_iter=50, tol=0, random_state=0),
        {"n_clusters": [4, 8, 12, 16]},
        cv=3,
    )
    return [("BernoulliRBM, digits, 4 candidates x 3 folds", rbm, X_digits, None),
            ("KMeans, 30,000 x 8 blobs, 4 candidates x 3 folds", kmeans, X_blobs, None)]


def best_time(search, X, y, repeat, **config):
    with joblib.parallel_config(**config):
        search.fit(X, y)  # start workers, compile / load kernels
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            search.fit(X, y)
            times.append(time.perf_counter() - t0)
    return min(times), search.best_params_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"cores (joblib.cpu_count): {joblib.cpu_count()}; "
          f"Numba threads per fit in this process: {effective_n_threads()}")
    for label, search, X, y in searches():
        print(f"\n{label}")
        search.set_params(n_jobs=1)
        t1, best1 = best_time(search, X, y, args.repeat, backend="loky")
        search.set_params(n_jobs=2)
        t2, best2 = best_time(search, X, y, args.repeat, backend="loky")
        t2_over, _ = best_time(search, X, y, args.repeat, backend="loky",
                               inner_max_num_threads=2)
        print(f"  n_jobs=1                              {t1:8.2f} s")
        print(f"  n_jobs=2 (1 Numba thread per worker)  {t2:8.2f} s   "
              f"speed-up vs n_jobs=1: {t1 / t2:.2f}x")
        print(f"  n_jobs=2, 2 Numba threads per worker  {t2_over:8.2f} s   "
              f"speed-up vs n_jobs=1: {t1 / t2_over:.2f}x  (oversubscribed, for contrast)")
        print(f"  same best parameters with n_jobs=1 and 2: {best1 == best2}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
