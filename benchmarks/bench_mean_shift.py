"""sknets.MeanShift against sklearn.cluster.MeanShift, in one process.

Data: 2-D ``make_blobs`` (3 centres, cluster_std=0.6, random_state=0; the data of
scikit-learn's plot_mean_shift example) with 2,000 / 10,000 / 50,000 points, bandwidth
from ``estimate_bandwidth(quantile=0.2, n_samples=500)``. Both estimators get the same
data and bandwidth; we print the times, the ratio, the number of clusters of each and
the largest difference between matching cluster centers.

Without bin seeding scikit-learn runs a Python loop over all points as seeds (about
11 s at 2,000 and 100 s at 10,000 points on a 2-core machine). Above
``--sklearn-full-max`` points (default 10,000) its time is EXTRAPOLATED: it is run on
two random subsets of the points as ``seeds=`` (50 and 500 seeds), the time per seed
is the slope between the two, and the full time is the 500-seed time plus that slope
times the remaining seeds. Its centers there come from the 500-seed run; the output
marks those lines with ``(extrapolated)``.

Usage::

    python benchmarks/bench_mean_shift.py            # all sizes (minutes: sklearn)
    python benchmarks/bench_mean_shift.py --quick    # smoke run, 2,000 points only

Ours runs with its default threads (``n_jobs=None``: what the process allows) and,
for reference, with ``n_jobs=1``; scikit-learn with its default ``n_jobs=None`` (one
process). Times are the best of ``--repeat`` runs for ours and of one run for
scikit-learn. The first fit of ours (Numba compilation, or loading the cache) is timed
separately and excluded.
"""

import argparse
import time

import numpy as np
import sklearn
import sklearn.cluster as skc
from sklearn.datasets import make_blobs

import sknets
from sknets.cluster import estimate_bandwidth


def blobs(n):
    X, _ = make_blobs(n_samples=n, centers=[[1, 1], [-1, -1], [1, -1]],
                      cluster_std=0.6, random_state=0)
    return X


def best_time(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def center_diff(a, b):
    """Largest distance from a center of ``a`` to the nearest one of ``b``, and back."""
    d = np.sqrt(((a[:, None, :].astype(float) - b[None].astype(float)) ** 2).sum(-1))
    return max(d.min(axis=1).max(), d.min(axis=0).max())


def sklearn_extrapolated(X, bandwidth, rng):
    m1, m2 = 50, 500
    idx = rng.permutation(len(X))
    t_small, _ = best_time(
        lambda: skc.MeanShift(bandwidth=bandwidth, seeds=X[idx[:m1]]).fit(X), 1)
    t_big, model = best_time(
        lambda: skc.MeanShift(bandwidth=bandwidth, seeds=X[idx[:m2]]).fit(X), 1)
    per_seed = max(t_big - t_small, 0.0) / (m2 - m1)
    return t_big + per_seed * (len(X) - m2), model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 points only")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--sklearn-full-max", type=int, default=10_000,
                        help="above this size sklearn without bin seeding is "
                             "extrapolated from a subset of seeds")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = args.sizes or ([2_000] if args.quick else [2_000, 10_000, 50_000])

    import numba

    from sknets.utils._threads import effective_n_threads

    print(f"sknets {sknets.__version__}, scikit-learn {sklearn.__version__}, numba "
          f"{numba.__version__}; sknets threads: {effective_n_threads(None)}")
    t0 = time.perf_counter()
    sknets.MeanShift(bandwidth=0.5).fit(blobs(200))
    sknets.MeanShift(bandwidth=0.5, bin_seeding=True).fit(blobs(200))
    print(f"first fit (Numba compile or cache load): {time.perf_counter() - t0:.2f} s, "
          "excluded below\n")

    header = (f"{'n':>7} {'bin_seeding':>11} {'sknets s':>9} {'1 thread':>9} "
              f"{'sklearn s':>10} {'ratio':>7} {'ratio 1t':>8} {'clusters':>9} "
              f"{'max |dc|':>9}")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for n in sizes:
        X = blobs(n)
        bw = estimate_bandwidth(X, quantile=0.2, n_samples=500)
        bw_sk = skc.estimate_bandwidth(X, quantile=0.2, n_samples=500)
        assert abs(bw - bw_sk) <= 1e-12 * bw_sk, (bw, bw_sk)
        for bin_seeding in (True, False):
            t_ours, ours = best_time(
                lambda: sknets.MeanShift(bandwidth=bw, bin_seeding=bin_seeding).fit(X),
                args.repeat)
            t_ours1, _ = best_time(
                lambda: sknets.MeanShift(bandwidth=bw, bin_seeding=bin_seeding,
                                         n_jobs=1).fit(X), max(1, args.repeat - 1))
            note = ""
            if bin_seeding or n <= args.sklearn_full_max:
                t_sk, theirs = best_time(
                    lambda: skc.MeanShift(bandwidth=bw, bin_seeding=bin_seeding).fit(X),
                    1)
            else:
                t_sk, theirs = sklearn_extrapolated(X, bw, rng)
                note = "  (extrapolated; sklearn centers from 500 random seeds)"
            k_ours, k_sk = len(ours.cluster_centers_), len(theirs.cluster_centers_)
            print(f"{n:>7} {str(bin_seeding):>11} {t_ours:>9.3f} {t_ours1:>9.3f} "
                  f"{t_sk:>10.2f} {t_sk / t_ours:>6.1f}x {t_sk / t_ours1:>7.1f}x "
                  f"{k_ours:>4}/{k_sk:<4} "
                  f"{center_diff(ours.cluster_centers_, theirs.cluster_centers_):>9.1e}"
                  f"{note}", flush=True)
    print("\nratio = sklearn time / sknets time (targets: >= 10x with bin seeding, "
          ">= 50x without); 'ratio 1t' uses sknets with n_jobs=1.\nclusters = "
          "sknets/sklearn; max |dc| = largest distance between matching centers.")


if __name__ == "__main__":
    main()
