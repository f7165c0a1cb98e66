"""SpikeSlabRBM's behaviour on the digits with its defaults, seeds 0, 1 and 2.

Prints per seed: the accuracy of a logistic regression on the spike features of a
trained and of an untrained (``n_iter=0``) model, the free-energy gap between noise and
held-out digits for both, the fallback rate of the truncated-visible sampler, and the
smallest eigenvalue of the visible precision with every spike on at initialisation
(positive: the initial model is proper). Then a deliberately unstable fit (30 times the
initial weights) and the mlpack-compatible mode. ``tests/test_ssrbm.py`` asserts these
behaviours with margins; this script shows the figures behind the margins.

Run from the repository root: ``python benchmarks/ssrbm_figures.py``. Split:
``load_digits``, ``test_size=0.2``, stratified, ``random_state=0``; scaler fit on train;
features -> StandardScaler -> LogisticRegression(max_iter=2000).
"""

import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sknets import SpikeSlabRBM
from sknets.rbm._spike_slab import auto_w_init_scale


def accuracy(est, Xtr, Xte, ytr, yte):
    Ftr, Fte = est.transform(Xtr), est.transform(Xte)
    sc = StandardScaler().fit(Ftr)
    with threadpool_limits(1):
        clf = LogisticRegression(max_iter=2000).fit(sc.transform(Ftr), ytr)
    return clf.score(sc.transform(Fte), yte)


def main():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y,
                                          random_state=0)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    noise = np.random.default_rng(0).standard_normal(Xte.shape) * Xte.std(axis=0)

    print("seed | spike acc trained / untrained | F gap trained / untrained | "
          "fallback % | min eig P(all on) at init")
    for seed in (0, 1, 2):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            trained = SpikeSlabRBM(random_state=seed).fit(Xtr)
        n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in rec)
        untrained = SpikeSlabRBM(random_state=seed, n_iter=0).fit(Xtr)
        gaps = []
        for est in (trained, untrained):
            gaps.append(np.mean(-est.score_samples(noise))
                        - np.mean(-est.score_samples(Xte)))
        W2 = untrained.weights_.reshape(-1, Xtr.shape[1])
        P_on = np.diag(untrained.visible_precision_) - (
            W2.T / untrained.slab_precision_.reshape(-1)) @ W2
        print(f"{seed:4d} | {accuracy(trained, Xtr, Xte, ytr, yte):.3f} / "
              f"{accuracy(untrained, Xtr, Xte, ytr, yte):.3f}"
              f"{'':15s}| {gaps[0]:6.2f} / {gaps[1]:5.2f}{'':12s}| "
              f"{100 * trained.fallback_rate_:5.2f} ({n_warn} warnings) | "
              f"{np.linalg.eigvalsh(P_on).min():.3f}")

    lam = 1.0 / np.maximum(Xtr.var(axis=0), 0.01 * Xtr.var(axis=0).mean())
    bad = SpikeSlabRBM(w_init_scale=30 * auto_w_init_scale(1.0, lam, 100, 2, 64),
                       learning_rate=0.1, n_iter=2, random_state=0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        bad.fit(Xtr)
    n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in rec)
    finite = all(np.all(np.isfinite(getattr(bad, n))) for n in bad._parameter_names())
    print(f"30x initial weights, learning_rate=0.1, 2 epochs: fallback "
          f"{100 * bad.fallback_rate_:.1f}% of the last epoch's draws, {n_warn} "
          f"ConvergenceWarnings, parameters finite: {finite}")

    for seed in (0, 1, 2):
        mlpack = SpikeSlabRBM(scalar_lambda=True, scalar_alpha=True, learn_alpha=False,
                              learn_mu=False, alpha_init=8, random_state=seed).fit(Xtr)
        print(f"mlpack mode seed {seed}: spike acc "
              f"{accuracy(mlpack, Xtr, Xte, ytr, yte):.3f}")


if __name__ == "__main__":
    main()
