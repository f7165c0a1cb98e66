"""DBNClassifier and Autoencoder on digits: accuracy, reconstruction, fit times.

Digits scaled to [0, 1] (``X / 16``), 75/25 split (``train_test_split(...,
random_state=0)``), seeds 0, 1, 2 for every estimator (``random_state=seed``); each
line prints the three figures, their mean and the worst:

(1) ``DBNClassifier()`` with its defaults (target >= 0.985) against
    ``MLPClassifier((256, 128))`` (scikit-learn's defaults otherwise) and the same
    network as the DBN without pre-training (``pretrain=False``).
(2) 10 % of the training labels (drawn with ``seed``; the other rows labelled -1 and
    ``unlabeled_label=-1``, so pre-training uses every training row): the DBN with and
    without pre-training (pre-training must help here).
(3) ``Pipeline([Autoencoder(n_components=10), LogisticRegression()])`` against
    ``Pipeline([PCA(10), LogisticRegression()])`` (test accuracy).
(4) Denoising: 30 % of the test pixels set to 0; the mean squared error (in units of
    ``X / 16``) between the clean test rows and the reconstruction of the corrupted
    ones, for ``Autoencoder(n_components=32, noise="masking", noise_level=0.3)`` and
    for PCA(32) (``inverse_transform(transform(.))``).
(5) Times: fit times of (1) (median and worst of the three seeds), and one
    fine-tuning epoch of the default DBN network (``pretrain=False``, ``partial_fit``
    on the training rows) without the defaults' input noise and dropout
    (``noise=None, dropout=0``: the computation MLPClassifier does) against one epoch
    of ``MLPClassifier((256, 256), activation="logistic")`` (the same network,
    ``partial_fit``), interleaved by ``benchmarks/_harness.compare`` (``--repeat``
    pairs after a warm-up; ratio = MLPClassifier time / ours, above 1: ours faster);
    then the epoch with the defaults (noise and dropout), for its cost.

Usage: python benchmarks/bench_dbn.py [--only 1,2,3,4,5] [--repeat 7]
Run under ``flock /tmp/cpu.lock`` on the shared machine; the load average is printed
with every section.
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import compare, load_average  # noqa: E402

from sknets import Autoencoder, DBNClassifier  # noqa: E402

SEEDS = (0, 1, 2)


def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def line(name, values, fmt="{:.4f}"):
    vals = " ".join(fmt.format(v) for v in values)
    print(f"  {name:<44s} seeds: {vals}  mean {fmt.format(np.mean(values))}  "
          f"worst {fmt.format(min(values))}", flush=True)


def run_seeds(make, fit, evaluate):
    scores, times = [], []
    for seed in SEEDS:
        est = make(seed)
        t0 = time.perf_counter()
        fit(est)
        times.append(time.perf_counter() - t0)
        scores.append(evaluate(est))
    return scores, times


def section_accuracy(Xtr, Xte, ytr, yte, fit_times):
    print(f"(1) accuracy, all labels ({load_average()})")
    for name, make in [
        ("DBNClassifier() defaults", lambda s: DBNClassifier(random_state=s)),
        ("DBNClassifier(pretrain=False)",
         lambda s: DBNClassifier(pretrain=False, random_state=s)),
        ("MLPClassifier((256, 128))",
         lambda s: MLPClassifier((256, 128), random_state=s)),
    ]:
        scores, times = run_seeds(make, lambda e: e.fit(Xtr, ytr),
                                  lambda e: e.score(Xte, yte))
        line(name, scores)
        fit_times[name] = times


def section_few_labels(Xtr, Xte, ytr, yte):
    print(f"(2) accuracy, 10 % of the labels, pre-training on all rows "
          f"({load_average()})")
    for name, pretrain in [("DBNClassifier, pre-trained", True),
                           ("DBNClassifier(pretrain=False)", False)]:
        scores = []
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            y_semi = np.full_like(ytr, -1)
            keep = rng.choice(len(ytr), size=len(ytr) // 10, replace=False)
            y_semi[keep] = ytr[keep]
            clf = DBNClassifier(pretrain=pretrain, unlabeled_label=-1,
                                random_state=seed).fit(Xtr, y_semi)
            scores.append(clf.score(Xte, yte))
        line(name, scores)


def section_codes(Xtr, Xte, ytr, yte):
    print(f"(3) 10-dimensional codes + LogisticRegression ({load_average()})")
    for name, make in [
        ("Autoencoder(n_components=10) + LR",
         lambda s: make_pipeline(Autoencoder(n_components=10, random_state=s),
                                 LogisticRegression(max_iter=1000))),
        ("PCA(10) + LR",
         lambda s: make_pipeline(PCA(10, random_state=s),
                                 LogisticRegression(max_iter=1000))),
    ]:
        scores, _ = run_seeds(make, lambda e: e.fit(Xtr, ytr),
                              lambda e: e.score(Xte, yte))
        line(name, scores)


def section_denoising(Xtr, Xte):
    print(f"(4) denoising: MSE(clean, reconstruction of 30 %-masked test rows), "
          f"lower is better ({load_average()})")
    rng = np.random.default_rng(0)
    Xn = np.where(rng.random(Xte.shape) < 0.3, 0.0, Xte).astype(np.float32)
    print(f"  (corrupted rows themselves: {np.mean((Xn - Xte) ** 2):.4f})")

    def ae_error(ae):
        return float(np.mean((ae.reconstruct(Xn) - Xte) ** 2))

    def pca_error(p):
        return float(np.mean((p.inverse_transform(p.transform(Xn)) - Xte) ** 2))

    for name, make, err in [
        ("Autoencoder(32, noise='masking', 0.3)",
         lambda s: Autoencoder(n_components=32, noise="masking", noise_level=0.3,
                               random_state=s), ae_error),
        ("Autoencoder(32) without noise",
         lambda s: Autoencoder(n_components=32, random_state=s), ae_error),
        ("PCA(32)", lambda s: PCA(32, random_state=s), pca_error),
    ]:
        errors, _ = run_seeds(make, lambda e: e.fit(Xtr), err)
        print(f"  {name:<44s} seeds: " + " ".join(f"{v:.4f}" for v in errors)
              + f"  mean {np.mean(errors):.4f}  worst {max(errors):.4f}", flush=True)


def section_times(Xtr, ytr, fit_times, repeat):
    print(f"(5) times ({load_average()})")
    for name, times in fit_times.items():
        print(f"  fit {name:<40s} median {statistics.median(times):6.2f} s  "
              f"worst {max(times):6.2f} s")
    classes = np.unique(ytr)
    ours = DBNClassifier(pretrain=False, noise=None, dropout=0.0, random_state=0)
    peer = MLPClassifier((256, 256), activation="logistic", random_state=0)
    ours.partial_fit(Xtr, ytr, classes=classes)
    peer.partial_fit(Xtr, ytr, classes=classes)
    r = compare(lambda: ours.partial_fit(Xtr, ytr),
                lambda: peer.partial_fit(Xtr, ytr), repeat=repeat)
    print(f"  fine-tuning epoch, {Xtr.shape[0]} x 64 -> 256 -> 256 -> 10 (logistic, "
          f"adam, batch 200): ours median {r.ours_median * 1e3:.1f} ms, "
          f"MLPClassifier median {statistics.median(r.peer) * 1e3:.1f} ms; "
          f"ratio median {r.median_ratio:.2f} worst {r.worst_ratio:.2f} "
          f"({load_average()})")
    noisy = DBNClassifier(pretrain=False, random_state=0)
    noisy.partial_fit(Xtr, ytr, classes=classes)
    r = compare(lambda: noisy.partial_fit(Xtr, ytr),
                lambda: ours.partial_fit(Xtr, ytr), repeat=repeat)
    print(f"  the same epoch with the defaults' input noise and dropout: median "
          f"{r.ours_median * 1e3:.1f} ms, "
          f"{r.ours_median / statistics.median(r.peer):.2f} times the plain epoch "
          f"({load_average()})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3,4,5")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    only = {int(s) for s in args.only.split(",")}
    warnings.simplefilter("ignore", ConvergenceWarning)
    Xtr, Xte, ytr, yte = data()
    print(f"digits / 16, train {Xtr.shape[0]}, test {Xte.shape[0]}, seeds {SEEDS}")
    fit_times = {}
    if 1 in only:
        section_accuracy(Xtr, Xte, ytr, yte, fit_times)
    if 2 in only:
        section_few_labels(Xtr, Xte, ytr, yte)
    if 3 in only:
        section_codes(Xtr, Xte, ytr, yte)
    if 4 in only:
        section_denoising(Xtr, Xte)
    if 5 in only:
        section_times(Xtr, ytr, fit_times, args.repeat)


if __name__ == "__main__":
    main()
