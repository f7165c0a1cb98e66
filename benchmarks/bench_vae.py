"""VariationalAutoencoder and VAEClassifier on digits: test ELBO, speed against PyTorch,
features for a classifier, semi-supervised accuracy, fit times.

Digits scaled to [0, 1] (``X / 16``, float32), 75/25 split (``train_test_split(...,
random_state=0)``), seeds 0, 1, 2 (``random_state=seed``, ``torch.manual_seed(seed)``);
every line prints the three figures, their mean and the worst. Estimators keep their
defaults unless a section says otherwise.

(1) Test ELBO (nats per digit, ``score``: 32 fixed noise draws per row) of
    ``VariationalAutoencoder()`` (MLP) and
    ``VariationalAutoencoder(architecture="conv")``,
    and of the same MLP VAE in PyTorch (Linear-BatchNorm-ReLU-Linear encoder and
    decoder, Bernoulli likelihood with logits, one reparameterised draw per row, Adam
    1e-3, minibatches of 100, shuffled) trained for as many epochs as ours ran for the
    same seed, its ELBO computed with the same draws in eval mode. Target: ours at
    least as good.
(2) Time per epoch of the MLP VAE: ours (``max_iter=10``, no early stop) against the
    PyTorch loop for 10 epochs, interleaved by ``benchmarks/_harness.compare`` after a
    warm-up (ratio = torch time / ours; target >= 2).
(3) ``Pipeline([VariationalAutoencoder(n_components=10), LogisticRegression()])``
    against ``PCA(10)`` + LogisticRegression (test accuracy; ``max_iter=1000`` for the
    logistic regressions). Target: ours higher.
(4) ``VAEClassifier()`` with 10 % and 5 % of the training labels kept (drawn with the
    seed; the rest set to -1), next to ``LabelSpreading(kernel="knn", n_neighbors=7)``
    and a logistic regression on the labelled rows only. Targets: >= 0.96 and >= 0.93
    (mean over the seeds).
(5) Fit times (median and worst over the seeds) of (1) and (4).

Usage: python benchmarks/bench_vae.py [--only 1,2,3,4] [--repeat 3]
Run under ``flock /tmp/cpu.lock`` on the shared machine; the load average is printed
with every section. PyTorch is only a benchmark peer (the ``bench`` extra).
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
from sklearn.pipeline import make_pipeline
from sklearn.semi_supervised import LabelSpreading

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import compare, load_average  # noqa: E402

from sknets import VAEClassifier, VariationalAutoencoder  # noqa: E402
from sknets.vae._base import score_draws  # noqa: E402

SEEDS = (0, 1, 2)
FIT_TIMES = {}


def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def line(name, values, fmt="{:.3f}", higher_is_better=True):
    worst = min(values) if higher_is_better else max(values)
    vals = " ".join(fmt.format(v) for v in values)
    print(f"  {name:<46} {vals}   mean {fmt.format(np.mean(values))}   "
          f"worst {fmt.format(worst)}", flush=True)


def timed_fit(key, make, *args):
    t0 = time.perf_counter()
    est = make().fit(*args)
    FIT_TIMES.setdefault(key, []).append(time.perf_counter() - t0)
    return est


# --------------------------------------------------------------------------- torch


def torch_vae(seed, n_features, n_components=10, hidden=512):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    enc = nn.Sequential(nn.Linear(n_features, hidden), nn.BatchNorm1d(hidden),
                        nn.ReLU(), nn.Linear(hidden, 2 * n_components))
    dec = nn.Sequential(nn.Linear(n_components, hidden), nn.BatchNorm1d(hidden),
                        nn.ReLU(), nn.Linear(hidden, n_features))
    return enc, dec


def torch_fit(seed, X, n_epochs, batch_size=100, lr=1e-3, d=10):
    import torch
    import torch.nn.functional as F

    enc, dec = torch_vae(seed, X.shape[1], d)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=lr)
    Xt = torch.from_numpy(X)
    gen = torch.Generator().manual_seed(seed)
    enc.train()
    dec.train()
    for _ in range(n_epochs):
        order = torch.randperm(Xt.shape[0], generator=gen)
        for start in range(0, Xt.shape[0], batch_size):
            x = Xt[order[start:start + batch_size]]
            h = enc(x)
            mu, logvar = h[:, :d], h[:, d:]
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
            logits = dec(z)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
            kl = 0.5 * (mu * mu + logvar.exp() - 1 - logvar).sum()
            loss = (rec + kl) / x.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return enc, dec


def torch_elbo(enc, dec, X, d=10):
    """Mean ELBO of X with the fixed draws of ``score`` (eval mode, float64)."""
    import torch
    import torch.nn.functional as F

    enc, dec = enc.double().eval(), dec.double().eval()
    draws = torch.from_numpy(score_draws(d, np.float64))
    with torch.no_grad():
        x = torch.from_numpy(X.astype(np.float64))
        h = enc(x)
        mu, logvar = h[:, :d], h[:, d:]
        kl = 0.5 * (mu * mu + logvar.exp() - 1 - logvar).sum(1)
        ll = torch.zeros(x.shape[0], dtype=torch.float64)
        for eps in draws:
            logits = dec(mu + torch.exp(0.5 * logvar) * eps)
            ll -= F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        ll /= draws.shape[0]
    return float((ll - kl).mean())


# --------------------------------------------------------------------------- sections


def section_elbo(Xtr, Xte):
    print(f"(1) test ELBO, nats per digit (higher is better)   {load_average()}")
    ours, conv, torch_vals, epochs = [], [], [], []
    for seed in SEEDS:
        vae = timed_fit("VariationalAutoencoder() (mlp)",
                        lambda: VariationalAutoencoder(random_state=seed), Xtr)
        ours.append(vae.score(Xte))
        epochs.append(vae.n_iter_)
        cv = timed_fit('VariationalAutoencoder(architecture="conv")',
                       lambda: VariationalAutoencoder(architecture="conv",
                                                      random_state=seed), Xtr)
        conv.append(cv.score(Xte))
        t0 = time.perf_counter()
        enc, dec = torch_fit(seed, Xtr, vae.n_iter_)
        FIT_TIMES.setdefault("PyTorch MLP VAE (same epochs)", []).append(
            time.perf_counter() - t0)
        torch_vals.append(torch_elbo(enc, dec, Xte))
    print(f"  epochs run by the MLP VAE (tol stop): {epochs}; conv: "
          f"{cv.n_iter_} (last seed)")
    line("VariationalAutoencoder() (mlp)", ours, "{:.2f}")
    line('VariationalAutoencoder(architecture="conv")', conv, "{:.2f}")
    line("PyTorch MLP VAE, same epochs", torch_vals, "{:.2f}")
    diff = [a - b for a, b in zip(ours, torch_vals)]
    line("ours (mlp) - PyTorch", diff, "{:+.2f}")


def section_speed(Xtr, repeat):
    import torch

    print(f"(2) time per epoch, MLP VAE, 10 epochs, torch threads "
          f"{torch.get_num_threads()}   {load_average()}")
    n = 10
    ours = VariationalAutoencoder(max_iter=n, n_iter_no_change=n + 1, random_state=0)
    r = compare(lambda: ours.fit(Xtr), lambda: torch_fit(0, Xtr, n), repeat=repeat)
    print(f"  ours  per epoch: median {1e3 * r.ours_median / n:.1f} ms, worst "
          f"{1e3 * max(r.ours) / n:.1f} ms")
    print(f"  torch per epoch: median {1e3 * statistics.median(r.peer) / n:.1f} ms, "
          f"worst {1e3 * max(r.peer) / n:.1f} ms")
    print(f"  ratio torch / ours: median {r.median_ratio:.2f}, worst "
          f"{r.worst_ratio:.2f} (target >= 2)", flush=True)


def section_features(Xtr, Xte, ytr, yte):
    print(f"(3) features + LogisticRegression, test accuracy   {load_average()}")
    ours, pca = [], []
    for seed in SEEDS:
        pipe = make_pipeline(VariationalAutoencoder(n_components=10, random_state=seed),
                             LogisticRegression(max_iter=1000)).fit(Xtr, ytr)
        ours.append(pipe.score(Xte, yte))
        p = make_pipeline(PCA(10, random_state=seed),
                          LogisticRegression(max_iter=1000)).fit(Xtr, ytr)
        pca.append(p.score(Xte, yte))
    line("VariationalAutoencoder(10) + LogisticRegression", ours)
    line("PCA(10) + LogisticRegression", pca)


def partial_labels(y, frac, seed):
    y = y.copy()
    y[np.random.default_rng(seed).random(len(y)) >= frac] = -1
    return y


def section_semi(Xtr, Xte, ytr, yte):
    print(f"(4) semi-supervised, test accuracy   {load_average()}")
    for frac, target in ((0.10, 0.96), (0.05, 0.93)):
        ours, spread, lr = [], [], []
        for seed in SEEDS:
            yp = partial_labels(ytr, frac, seed)
            clf = timed_fit(f"VAEClassifier() {frac:.0%} labels",
                            lambda: VAEClassifier(random_state=seed), Xtr, yp)
            ours.append(clf.score(Xte, yte))
            ls = LabelSpreading(kernel="knn", n_neighbors=7).fit(Xtr, yp)
            spread.append(ls.score(Xte, yte))
            lab = yp >= 0
            lr.append(LogisticRegression(max_iter=1000).fit(Xtr[lab], yp[lab])
                      .score(Xte, yte))
        print(f"  {frac:.0%} of the training labels ({int((yp >= 0).sum())} rows, "
              f"last seed); target {target}")
        line("VAEClassifier()", ours)
        line('LabelSpreading(kernel="knn", n_neighbors=7)', spread)
        line("LogisticRegression, labelled rows only", lr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="1,2,3,4")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    only = {int(s) for s in args.only.split(",")}
    warnings.simplefilter("ignore", ConvergenceWarning)
    Xtr, Xte, ytr, yte = data()
    # one untimed fit: Numba compilation or cache load
    VariationalAutoencoder(max_iter=1, random_state=0).fit(Xtr[:200])
    if 1 in only:
        section_elbo(Xtr, Xte)
    if 2 in only:
        section_speed(Xtr, args.repeat)
    if 3 in only:
        section_features(Xtr, Xte, ytr, yte)
    if 4 in only:
        section_semi(Xtr, Xte, ytr, yte)
    if FIT_TIMES:
        print(f"(5) fit times, seconds (median, worst over the seeds)   "
              f"{load_average()}")
        for key, times in FIT_TIMES.items():
            print(f"  {key:<46} {statistics.median(times):.2f}  {max(times):.2f}")


if __name__ == "__main__":
    main()
