"""KMeans: sknets vs scikit-learn on make_blobs, same data, same init, same process.

Cases: (100,000 x 2, k=8), (100,000 x 50, k=32), (500,000 x 16, k=100), each in
float64 and float32; ``n_init=1``, a fixed init array (k rows drawn from the data with a
fixed seed), ``max_iter=100``, ``tol=0``, Lloyd, 2 threads on both sides. The fits of
the two sides are interleaved ``--repeat`` times (``benchmarks/_harness.py``); prints
the median fit time of each side, the median and the worst speed ratio (sklearn time /
sknets time of each pair), the load average and the relative inertia difference.

    python benchmarks/bench_cluster.py            # the three cases
    python benchmarks/bench_cluster.py --scale 0.1 --repeat 1   # a quick smoke run

MeanShift has its own benchmark (``bench_mean_shift.py``).
"""

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from sklearn.cluster import KMeans as SkKMeans  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from _harness import compare, load_average  # noqa: E402
from sknets import KMeans  # noqa: E402

CASES = [(100_000, 2, 8), (100_000, 50, 32), (500_000, 16, 100)]


def exact_inertia(X, est):
    """The inertia of ``est``'s labels and centers recomputed in float64."""
    X64 = np.asarray(X, dtype=np.float64)
    C64 = np.asarray(est.cluster_centers_, dtype=np.float64)
    return float(((X64 - C64[est.labels_]) ** 2).sum())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply n_samples")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--algorithm", default="lloyd", choices=["lloyd", "elkan"])
    parser.add_argument("--case", type=int, action="append",
                        help="run only this case (0, 1, 2; repeatable)")
    parser.add_argument("--dtype", choices=["float64", "float32"], action="append")
    args = parser.parse_args(argv)

    common = dict(n_init=1, max_iter=100, tol=0, algorithm=args.algorithm)
    # warm-up: load (or compile) the Numba kernels outside the timings
    Xw, _ = make_blobs(2000, n_features=16, centers=4, random_state=0)
    for dt in (np.float64, np.float32):
        for nf in (2, 16):
            KMeans(4, **common).fit(Xw[:, :nf].astype(dt))

    print(f"KMeans {args.algorithm}, n_init=1, max_iter=100, tol=0, fixed init array, "
          f"2 threads; median and worst of {args.repeat} interleaved runs; "
          f"{load_average()}")
    header = (f"{'case':<24}{'dtype':<9}{'sklearn s':>10}{'sknets s':>10}"
              f"{'median':>8}{'worst':>8}{'n_iter sk/ours':>16}"
              f"{'inertia rel diff':>18}{'sk err':>10}{'our err':>10}")
    print(header)
    print("-" * len(header))
    ratios, worst = [], []
    with threadpool_limits(2):
        for case, (n, d, k) in enumerate(CASES):
            if args.case and case not in args.case:
                continue
            n = max(int(n * args.scale), 10 * k)
            X, _ = make_blobs(n, n_features=d, centers=k, random_state=0)
            init_idx = np.random.RandomState(1).choice(n, k, replace=False)
            for dt in (np.float64, np.float32):
                if args.dtype and np.dtype(dt).name not in args.dtype:
                    continue
                Xd = X.astype(dt)
                init = Xd[init_idx].copy()
                r = compare(lambda: KMeans(k, init=init, **common).fit(Xd),
                            lambda: SkKMeans(k, init=init, **common).fit(Xd),
                            repeat=args.repeat, warmup=False)
                t_sk, t_us = r.peer_median, r.ours_median
                sk, us = r.peer_result, r.ours_result
                rel = abs(us.inertia_ - sk.inertia_) / sk.inertia_
                ex_sk, ex_us = exact_inertia(Xd, sk), exact_inertia(Xd, us)
                err_sk = abs(sk.inertia_ - ex_sk) / ex_sk
                err_us = abs(us.inertia_ - ex_us) / ex_us
                ratios.append(r.median_ratio)
                worst.append(r.worst_ratio)
                print(f"{f'{n}x{d} k={k}':<24}{np.dtype(dt).name:<9}{t_sk:>10.3f}"
                      f"{t_us:>10.3f}{r.median_ratio:>7.2f}x{r.worst_ratio:>7.2f}x"
                      f"{f'{sk.n_iter_}/{us.n_iter_}':>16}{rel:>18.2e}"
                      f"{err_sk:>10.1e}{err_us:>10.1e}", flush=True)
    print(f"\nminimum median ratio {min(ratios):.2f}x, minimum worst ratio "
          f"{min(worst):.2f}x (target: median >= 1.2x); ratio = sklearn time / sknets "
          f"time; {load_average()}")
    print("sk err / our err: each side's reported inertia_ against the inertia of its "
          "own labels and centers recomputed in float64 (float32 rounding of the "
          "sums:\nboth sides sum in X's dtype, sknets the way scikit-learn does)")


if __name__ == "__main__":
    main()
