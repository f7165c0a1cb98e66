"""SpikeSlabRBM on digits: pipeline accuracy, fit time, and epoch time vs plain numpy.

Run from the repository root::

    python benchmarks/bench_ssrbm.py            # full run
    python benchmarks/bench_ssrbm.py --quick    # fewer repeats
    python benchmarks/bench_ssrbm.py --epoch    # only the epoch timing (part 2)

Prints

1. the issue's pipeline ``StandardScaler -> SpikeSlabRBM -> LogisticRegression`` on
   digits (75/25 split, ``random_state=0``): test accuracy and fit time, for the
   settings listed, next to scikit-learn's ``BernoulliRBM`` pipeline (``MinMaxScaler ->
   BernoulliRBM(100, learning_rate=0.06, n_iter=20) -> LogisticRegression``, the
   usual baseline) and logistic regression on the standardised pixels;
2. the time of one training epoch (standardised digits train split, defaults: 100
   spikes, 2 slabs, batch 20, PCD-1) of ``SpikeSlabRBM`` (Numba kernels, noise drawn
   per epoch; while an epoch runs, a helper thread draws the next epoch's noise when
   two threads are allowed) against ``tests/references/ssrbm.py``'s ``train_epoch``, a
   plain-numpy implementation of the same update replaying the same kind of noise
   (its products use numpy's BLAS threads), in the same process; also ours without
   the helper thread. The ratio is what counts (absolute times drift on a shared
   machine).

Everything uses fixed seeds.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from sknets import SpikeSlabRBM
from sknets.rbm import _spike_slab as _ss
from sknets.rbm._base import batch_bounds

# the numpy reference lives in the test tree (run from the repository root)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.references import ssrbm as ref  # noqa: E402


def pipeline_accuracy(rbm, scaler, Xtr, Xte, ytr, yte):
    """Test accuracy, pipeline fit time, and the fit time of the RBM step alone."""
    pipe = Pipeline([("scale", scaler), ("rbm", rbm),
                     ("clf", LogisticRegression(max_iter=1000))])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs iteration warnings of the baseline
        pipe.fit(Xtr, ytr)
    fit_time = time.perf_counter() - t0
    Xs = clone(scaler).fit_transform(Xtr)
    t0 = time.perf_counter()
    clone(rbm).fit(Xs)
    rbm_time = time.perf_counter() - t0
    return pipe.score(Xte, yte), fit_time, rbm_time


def numpy_epoch(X, est, state, gen):
    """One epoch of the plain-numpy reference, drawing its noise like the estimator."""
    n, D = X.shape
    N, K = est.n_components, est.n_slabs
    bounds = batch_bounds(n, est.batch_size)
    nb = len(bounds) - 1
    M = est.batch_size
    perm = gen.permutation(n)
    noise = dict(u_h=gen.random((nb, 1, M, N)),
                 z_s=gen.standard_normal((nb, 1, M, N * K)),
                 z_v=gen.standard_normal((nb, 1, M, D)),
                 pool=gen.standard_normal((max(16, M), D)),
                 fb_u=gen.random((max(4, M // 4), D)))
    state["chains"], _, _ = ref.train_epoch(
        X, perm, bounds[:-1], bounds[1:], state["params"], state["vel"],
        state["chains"], persistent=True, n_steps=1, radius=est.radius_,
        max_rejections=est.max_rejections, learning_rate=est.learning_rate,
        momentum=est.momentum, weight_decay=est.weight_decay,
        precision_bounds=est.precision_bounds, **noise)


def epoch_ratio(X, n_epochs, repeats):
    est = SpikeSlabRBM(n_iter=0, random_state=0).fit(X)
    SpikeSlabRBM(n_iter=1, random_state=0).fit(X)  # compile / load the kernels
    N, K, D = est.weights_.shape
    state = {
        "params": {"W2": est.weights_.reshape(N * K, D).copy(),
                   "b": est.spike_bias_.copy(), "alpha": est.slab_precision_.copy(),
                   "mu": est.slab_mean_.copy(), "lam": est.visible_precision_.copy()},
        "vel": {"W2": np.zeros((N * K, D)), "b": np.zeros(N), "alpha": np.zeros((N, K)),
                "mu": np.zeros((N, K)), "lam": np.zeros(D)},
        "chains": est.chains_.copy(),
    }
    gen = np.random.default_rng(0)
    ours, serial, theirs = [], [], []
    for _ in range(repeats):
        for out, prefetch in ((ours, True), (serial, False)):
            _ss._PREFETCH = prefetch
            fresh = SpikeSlabRBM(n_iter=n_epochs, random_state=0)
            t0 = time.perf_counter()
            fresh.fit(X)
            out.append((time.perf_counter() - t0) / n_epochs)
        _ss._PREFETCH = True
        t0 = time.perf_counter()
        for _ in range(n_epochs):
            numpy_epoch(X, est, state, gen)
        theirs.append((time.perf_counter() - t0) / n_epochs)
    theirs = np.array(theirs)
    return (np.median(ours), np.median(serial), np.median(theirs),
            np.median(theirs / ours), np.median(theirs / serial))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epoch", action="store_true",
                        help="only the epoch timing against the numpy reference")
    args = parser.parse_args()
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)

    if not args.epoch:
        accuracy_table(Xtr, Xte, ytr, yte)
    Xs = StandardScaler().fit_transform(Xtr)
    n_epochs, repeats = (3, 2) if args.quick else (5, 5)
    ours, serial, theirs, ratio, ratio_serial = epoch_ratio(Xs, n_epochs, repeats)
    print(f"\nEpoch time on {Xs.shape[0]}x{Xs.shape[1]} (N=100, K=2, batch 20, PCD-1), "
          f"median of {repeats} x {n_epochs} epochs:")
    print(f"  SpikeSlabRBM (Numba)   {1e3 * ours:8.1f} ms")
    print(f"  plain numpy reference  {1e3 * theirs:8.1f} ms")
    print(f"  ratio numpy / ours     {ratio:8.2f} x")
    print(f"  without the thread that draws the next epoch's noise: "
          f"{1e3 * serial:.1f} ms, ratio {ratio_serial:.2f} x")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


def accuracy_table(Xtr, Xte, ytr, yte):
    print("Digits, 75/25 split (random_state=0), StandardScaler -> model -> "
          "LogisticRegression(max_iter=1000)")
    rows = [
        ("SpikeSlabRBM(random_state=0)  [defaults: spikes + slabs]",
         SpikeSlabRBM(random_state=0), StandardScaler()),
        ("SpikeSlabRBM(n_iter=0, random_state=0)  [untrained]",
         SpikeSlabRBM(n_iter=0, random_state=0), StandardScaler()),
        ("SpikeSlabRBM(transform_output='spike', random_state=0)",
         SpikeSlabRBM(transform_output="spike", random_state=0), StandardScaler()),
        ("SpikeSlabRBM(transform_output='spike', n_iter=0, random_state=0)",
         SpikeSlabRBM(transform_output="spike", n_iter=0, random_state=0),
         StandardScaler()),
        ("sklearn BernoulliRBM(100, lr=0.06, n_iter=20), MinMaxScaler",
         BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=20, random_state=0),
         MinMaxScaler()),
    ]
    SpikeSlabRBM(n_iter=1, random_state=0).fit(StandardScaler().fit_transform(Xtr))
    for label, rbm, scaler in rows:
        acc, fit_time, rbm_time = pipeline_accuracy(rbm, scaler, Xtr, Xte, ytr, yte)
        print(f"  {label:72s} accuracy {acc:.4f}  fit: pipeline {fit_time:6.2f} s, "
              f"RBM step {rbm_time:5.2f} s")
    raw = Pipeline([("scale", StandardScaler()),
                    ("clf", LogisticRegression(max_iter=1000))]).fit(Xtr, ytr)
    print(f"  {'raw standardised pixels':72s} accuracy {raw.score(Xte, yte):.4f}")


if __name__ == "__main__":
    main()
