"""GridSearchCV over sknets estimators: n_jobs=1 against n_jobs=2, in one run.

With ``n_jobs=2`` joblib's loky workers each get ``cpu_count // 2`` Numba threads
(sknets reads the limit joblib sets in its workers), so on a 2-core machine the two
workers do not fight over the cores and ``n_jobs=2`` should not be slower than
``n_jobs=1``. For contrast the script also runs ``n_jobs=2`` with each worker allowed 2
Numba threads (``joblib.parallel_config(inner_max_num_threads=2)``): the oversubscribed
set-up the thread limit avoids.

Each configuration runs once to start the workers and compile or load the kernels, then
``--repeat`` times; the best time is kept. Timing ratios mean something only within one
run of this script (the machine may be shared).

    python benchmarks/bench_threads.py [--repeat 1]

``python benchmarks/bench_threads.py layers`` measures instead the cost of short
parallel regions in each Numba threading layer (``omp`` with its default wait policy,
``OMP_WAIT_POLICY=passive``, ``GOMP_SPINCOUNT=10000``, ``workqueue``, and ``tbb`` when
``libtbb.so.12`` can be loaded; set ``LD_LIBRARY_PATH`` to a ``tbb`` wheel's ``lib``),
idle and with a busy background process: microseconds per region for a given total
work per region, each configuration in a fresh process (a layer is chosen once per
process). The table in ``sknets/utils/_threads.py`` comes from it.
"""

import argparse
import contextlib
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


LAYER_CONFIGS = [
    ("1 thread", {"NUMBA_THREADING_LAYER": "omp"}, 1),
    ("omp default", {"NUMBA_THREADING_LAYER": "omp"}, 2),
    ("omp passive", {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "passive"}, 2),
    ("omp spin 10k", {"NUMBA_THREADING_LAYER": "omp", "GOMP_SPINCOUNT": "10000"}, 2),
    ("workqueue", {"NUMBA_THREADING_LAYER": "workqueue"}, 2),
    ("tbb", {"NUMBA_THREADING_LAYER": "tbb"}, 2),
]
REGION_WORK_US = (5, 20, 100, 500, 2000, 10000)


def _layer_child(n_threads):
    """In a fresh process: microseconds per region of a kernel of many short regions."""
    import json

    import numba
    from numba import njit, prange

    @njit(parallel=True)
    def regions(out, n_regions, inner, n_parts):
        for _ in range(n_regions):
            for p in prange(n_parts):
                s = out[p]
                for _ in range(inner):
                    s = s * 0.9999999 + 1e-7
                out[p] = s

    out = np.zeros(64)
    numba.set_num_threads(1)
    regions(out, 1, 10, 1)
    t0 = time.perf_counter()
    regions(out, 10, 1_000_000, 1)
    steps_per_us = 1e7 / ((time.perf_counter() - t0) * 1e6)
    numba.set_num_threads(n_threads)
    result = {}
    for work_us in REGION_WORK_US:
        inner = max(1, int(work_us * steps_per_us / n_threads))  # same total work
        n_regions = max(20, int(0.3e6 / work_us))
        times = []
        for _ in range(3):
            time.sleep(0.1)
            t0 = time.perf_counter()
            regions(out, n_regions, inner, n_threads)
            times.append((time.perf_counter() - t0) / n_regions * 1e6)
        result[work_us] = sorted(times)[1]
    print(json.dumps({"layer": numba.threading_layer(), "us": result}))


def layers():
    import json
    import os
    import subprocess
    import sys

    from _harness import busy_background, load_average

    print("us per parallel region (median of 3) for a total work per region of "
          + ", ".join(f"{w} us" for w in REGION_WORK_US))
    for busy in (False, True):
        ctx = busy_background(1) if busy else contextlib.nullcontext()
        with ctx:
            print(("\nwith 1 busy background process" if busy else "\nidle")
                  + f" ({load_average()})")
            for name, env, n in LAYER_CONFIGS:
                e = dict(os.environ, **env)
                r = subprocess.run([sys.executable, __file__, "_layer_child", str(n)],
                                   env=e, capture_output=True, text=True, timeout=600)
                if r.returncode:
                    print(f"  {name:<14} not available ({r.stderr.strip()[-120:]})")
                    continue
                d = json.loads(r.stdout.strip().splitlines()[-1])
                print(f"  {name:<14} ({d['layer']:<9})"
                      + "".join(f"{v:>10.1f}" for v in d["us"].values()), flush=True)
    return 0


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["layers"]:
        return layers()
    if argv[:1] == ["_layer_child"]:
        return _layer_child(int(argv[1]))
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
              f"speed-up vs n_jobs=1: {t1 / t2_over:.2f}x  "
              f"(oversubscribed, for contrast)")
        print(f"  same best parameters with n_jobs=1 and 2: {best1 == best2}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
