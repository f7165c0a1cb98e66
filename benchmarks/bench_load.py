"""Each estimator against its peer, on an idle machine and with a busy core.

A user's machine is rarely idle: another program often keeps one core busy. A Numba
kernel whose threads synchronise often (a parallel region per small minibatch) then
waits for a thread that has no core, and can fall far behind a single-threaded peer.
This script fits each estimator and its peer interleaved (``_harness.compare``: an
untimed warm-up of each, then ``--repeat`` timed pairs), first idle, then while
``busy_background(1)`` keeps one core spinning, and prints for both the peer's and
our median time and the median and worst ratio ``peer / ours`` (above 1: ours faster),
with the load average.

Peers: scikit-learn's estimator for BernoulliRBM, KMeans and MeanShift; PyTorch (the
``bench`` extra) for ConvNetClassifier (the small digits CNN of ``bench_convnet.py``)
and GANSampler (the 1-D Gaussian GAN of ``bench_gan.py``), skipped with a line when
torch is missing; SpikeSlabRBM has no peer library, so it is timed against
scikit-learn's BernoulliRBM with as many hidden units on the same data (a simpler
model: that ratio shows how each reacts to the load, not parity).

    python benchmarks/bench_load.py [--repeat 3] [--only NAME ...]
"""

import argparse
import warnings

import numpy as np
from _harness import Comparison, busy_background, compare, load_average
from sklearn import cluster as sk_cluster
from sklearn import neural_network as sk_nn
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import minmax_scale, scale

import sknets


def _digits01():
    return minmax_scale(load_digits().data)


def rbm_case():
    X = _digits01()
    return (lambda: sknets.BernoulliRBM(random_state=0).fit(X),
            lambda: sk_nn.BernoulliRBM(random_state=0).fit(X))


def ssrbm_case():
    X = scale(load_digits().data)
    n = sknets.SpikeSlabRBM().n_components
    return (lambda: sknets.SpikeSlabRBM(n_iter=2, random_state=0).fit(X),
            lambda: sk_nn.BernoulliRBM(n_components=n, n_iter=2,
                                       random_state=0).fit(minmax_scale(X)))


def kmeans_case():
    X, _ = make_blobs(n_samples=100_000, n_features=10, centers=8, random_state=0)
    kw = dict(n_clusters=8, n_init=1, random_state=0)
    return (lambda: sknets.KMeans(**kw).fit(X), lambda: sk_cluster.KMeans(**kw).fit(X))


def mean_shift_case():
    X, _ = make_blobs(n_samples=2_000, n_features=2, centers=4, random_state=0)
    return (lambda: sknets.MeanShift(bandwidth=1.5).fit(X),
            lambda: sk_cluster.MeanShift(bandwidth=1.5).fit(X))


def convnet_case():
    import bench_convnet as bc

    import torch  # noqa: F401  (skip the case early when torch is missing)

    data = bc.digits_data()
    Xtr, ytr = data[0], data[2]
    # three epochs a side: time_torch trains one untimed epoch, then two
    return (lambda: bc.sknets_model("a", 3, 2).fit(Xtr, ytr),
            lambda: bc.time_torch("a", data, 2, 2, 8))


def gan_case():
    import bench_gan as bg

    import torch  # noqa: F401

    X = bg.gaussian_data()
    params = dict(bg.GAUSS_PARAMS, max_iter=5)
    n_steps = 5 * ((len(X) + params["batch_size"] - 1) // params["batch_size"])
    return (lambda: sknets.GANSampler(**params).fit(X),
            lambda: bg._torch_gan_steps(X, n_steps))


CASES = {
    "BernoulliRBM": ("defaults, digits in [0, 1] (peer: sklearn)", rbm_case),
    "SpikeSlabRBM": ("2 epochs, standardised digits (peer: sklearn BernoulliRBM)",
                     ssrbm_case),
    "KMeans": ("100,000 x 10, k=8, n_init=1 (peer: sklearn)", kmeans_case),
    "MeanShift": ("2,000 x 2, bandwidth 1.5 (peer: sklearn)", mean_shift_case),
    "ConvNetClassifier": ("digits CNN, 3 epochs (peer: torch)", convnet_case),
    "GANSampler": ("1-D Gaussian GAN, 5 epochs (peer: torch)", gan_case),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args(argv)
    names = args.only or list(CASES)
    print(f"median and worst of {args.repeat} interleaved runs; ratio = peer / ours")
    print(Comparison.header("estimator / condition", width=46))
    for name in names:
        label, make = CASES[name]
        try:
            ours, peer = make()
        except ImportError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        print(f"{name}: {label}")
        for busy in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                if busy:
                    with busy_background(1):
                        load = load_average()
                        r = compare(ours, peer, repeat=args.repeat)
                else:
                    load = load_average()
                    r = compare(ours, peer, repeat=args.repeat)
            condition = "  one core busy" if busy else "  idle"
            print(r.row(condition, width=46), f"  ({load})", flush=True)
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    raise SystemExit(main())
