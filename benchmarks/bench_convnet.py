"""ConvNetClassifier vs PyTorch (CPU): per-epoch training time of the same network.

Both train the same architecture with Adam (lr 1e-3, no weight decay), batch size 64,
shuffled minibatches, float32, on the same standardised data, in this one process:

(a) a small CNN on scikit-learn's digits (8x8, 1,347 training rows):
    conv16 3x3 - relu - maxpool 2 - conv32 3x3 - relu - maxpool 2 - dense 64 - relu - 10
(b) LeNet-5 on 20,000 28x28 inputs: conv6 5x5 pad 2 - relu - maxpool 2 - conv16 5x5 -
    relu - maxpool 2 - dense 120 - relu - dense 84 - relu - 10. The 20,000 inputs are
    scikit-learn's digits upscaled to 28x28 (scipy.ndimage.zoom), randomly shifted by up
    to 2 pixels, plus Gaussian noise (std 0.1 of the pixel range): nothing downloaded.

Each side runs one warm-up epoch first (Numba compilation / PyTorch's first-call
set-up), then ``--epochs`` timed epochs; the ratio is sknets time / PyTorch time per
epoch (below 1: sknets faster). PyTorch runs with ``torch.set_num_threads(threads)``;
sknets with ``n_jobs=threads`` Numba threads (and BLAS on one thread, as it always
trains). Timings on a shared machine drift: compare the ratio within one run.

Usage::

    python benchmarks/bench_convnet.py [--threads 2] [--epochs-a 10] [--epochs-b 2]
"""

import argparse
import time
import warnings

import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sknets import ConvNetClassifier


def digits_data():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.25, random_state=0)


def lenet_data(n=22000, seed=0):
    """22,000 28x28 images made from the digits (zoom, random shift, noise): 20,000 to
    train on, 2,000 to test."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    big = ndimage.zoom(X.reshape(-1, 8, 8) / 16.0, (1, 3.5, 3.5), order=1)  # 28x28
    idx = rng.integers(0, len(X), size=n)
    shifts = rng.integers(-2, 3, size=(n, 2))
    out = np.empty((n, 28, 28), dtype=np.float32)
    for k in range(n):
        out[k] = np.roll(big[idx[k]], tuple(shifts[k]), axis=(0, 1))
    out += rng.normal(scale=0.1, size=out.shape).astype(np.float32)
    Xb = out.reshape(n, -1)
    return train_test_split(Xb, y[idx], test_size=2000, random_state=0)


# ----------------------------------------------------------------------------- sknets


def sknets_model(arch, epochs, threads, seed=0):
    common = dict(solver="adam", learning_rate_init=1e-3, alpha=0.0, batch_size=64,
                  dropout=0.0, max_iter=epochs, tol=0.0, n_iter_no_change=10**6,
                  shuffle=True, random_state=seed, n_jobs=threads)
    if arch == "a":
        return ConvNetClassifier(filters=(16, 32), kernel_size=3, hidden_layer_sizes=(64,),
                                 **common)
    return ConvNetClassifier(architecture="lenet5", **common)


def time_sknets(arch, data, epochs, threads):
    Xtr, Xte, ytr, yte = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sknets_model(arch, 1, threads).fit(Xtr[:256], ytr[:256])  # compile / warm up
        clf = sknets_model(arch, epochs, threads)
        t0 = time.perf_counter()
        clf.fit(Xtr, ytr)
        elapsed = time.perf_counter() - t0
    return elapsed / epochs, clf.score(Xte, yte)


# ----------------------------------------------------------------------------- torch


def torch_model(arch):
    from torch import nn

    if arch == "a":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def time_torch(arch, data, epochs, threads, side):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    Xtr, Xte, ytr, yte = data
    mean, scale = float(Xtr.mean()), float(Xtr.std())   # what sknets does internally
    xt = torch.from_numpy(((Xtr - mean) / scale).astype(np.float32).reshape(-1, 1, side,
                                                                           side))
    yt = torch.from_numpy(ytr.astype(np.int64))
    xv = torch.from_numpy(((Xte - mean) / scale).astype(np.float32).reshape(-1, 1, side,
                                                                           side))
    model = torch_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(len(xt))
        for start in range(0, len(xt), 64):
            idx = perm[start:start + 64]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    model.train()
    epoch()   # warm-up epoch (not timed), then a fresh model for the timed run
    model = torch_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    elapsed = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = float((model(xv).argmax(1).numpy() == yte).mean())
    return elapsed / epochs, acc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs-a", type=int, default=10)
    parser.add_argument("--epochs-b", type=int, default=2)
    parser.add_argument("--only", choices=["a", "b"], default=None)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("PyTorch is needed for this benchmark: pip install '.[bench]'")
    print(f"threads={args.threads}, batch 64, Adam lr 1e-3, float32; torch "
          f"{torch.__version__}")
    cases = [("a", "small CNN, digits 8x8", digits_data, 8, args.epochs_a),
             ("b", "LeNet-5, 20,000 28x28", lenet_data, 28, args.epochs_b)]
    for arch, name, make, side, epochs in cases:
        if args.only and arch != args.only:
            continue
        data = make()
        ts, acc_s = time_sknets(arch, data, epochs, args.threads)
        tt, acc_t = time_torch(arch, data, epochs, args.threads, side)
        print(f"({arch}) {name}: {epochs} epochs of {len(data[0])} rows")
        print(f"    sknets  {ts * 1e3:9.1f} ms/epoch   test accuracy {acc_s:.4f}")
        print(f"    pytorch {tt * 1e3:9.1f} ms/epoch   test accuracy {acc_t:.4f}")
        print(f"    ratio sknets/pytorch per epoch: {ts / tt:.2f}")


if __name__ == "__main__":
    main()
