"""ConvNetClassifier vs PyTorch (CPU): per-epoch training time of the same network.

Both train the same architecture with Adam (lr 1e-3, no weight decay), batch size 64,
shuffled minibatches, float32, on the same standardised data, in this one process:

(a) a small CNN on scikit-learn's digits (8x8, 1,347 training rows):
    conv16 3x3 - relu - maxpool 2 - conv32 3x3 - relu - maxpool 2 - dense 64 - relu - 10
(b) LeNet-5 on 20,000 28x28 inputs: conv6 5x5 pad 2 - relu - maxpool 2 - conv16 5x5 -
    relu - maxpool 2 - dense 120 - relu - dense 84 - relu - 10. The 20,000 inputs are
    scikit-learn's digits upscaled to 28x28 (scipy.ndimage.zoom), randomly shifted by up
    to 2 pixels, plus Gaussian noise (std 0.1 of the pixel range): nothing downloaded.
(c) the ``resnet`` preset (:func:`sknets.nn.architectures.small_resnet`: conv16 3x3 -
    BN - relu, residual blocks of 16, 32 (stride 2) and 64 (stride 2) filters, global
    average pooling, dense) on 10,000 RGB 32x32 patches of scikit-learn's two sample
    images, 8 classes (image x quadrant the patch comes from).

``--profile`` adds the split of one LeNet-5 training step (batch 64): each layer's
forward and backward, the loss and the Adam step on the sknets side (perf_counter
around each call, median over the steps), PyTorch's operators from ``torch.profiler``
(self CPU time per step).

Each side runs one warm-up epoch first (Numba compilation / PyTorch's first-call
set-up), then ``--epochs`` timed epochs; the ratio is sknets time / PyTorch time per
epoch (below 1: sknets faster). PyTorch runs with ``torch.set_num_threads(threads)``;
sknets with ``n_jobs=threads`` Numba threads (and BLAS on one thread, as it always
trains). Timings on a shared machine drift: compare the ratio within one run.

Usage::

    python benchmarks/bench_convnet.py [--threads 2] [--epochs-a 10] [--epochs-b 2]
        [--epochs-c 1] [--only a|b|c] [--profile]
"""

import argparse
import os
import time
import warnings

import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sknets import ConvNetClassifier
from sknets.nn.losses import softmax_cross_entropy
from sknets.nn.optimizers import make_solver
from sknets.utils._threads import kernel_threads


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


def patches_data(n=11000, seed=0):
    """11,000 RGB 32x32 patches (10,000 to train on) cut at random from the two sample
    images; the label is the image and the quadrant the patch's corner lies in."""
    from sklearn.datasets import load_sample_images

    images = [im.astype(np.float32) / 255.0 for im in load_sample_images().images]
    rng = np.random.default_rng(seed)
    X = np.empty((n, 3, 32, 32), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for k in range(n):
        which = int(rng.integers(2))
        im = images[which]
        h, w = im.shape[0] - 32, im.shape[1] - 32
        r, c = int(rng.integers(h)), int(rng.integers(w))
        X[k] = im[r:r + 32, c:c + 32].transpose(2, 0, 1)
        y[k] = 4 * which + 2 * (r >= h // 2) + (c >= w // 2)
    return train_test_split(X.reshape(n, -1), y, test_size=1000, random_state=0)


# ----------------------------------------------------------------------------- sknets


def sknets_model(arch, epochs, threads, seed=0):
    common = dict(solver="adam", learning_rate_init=1e-3, alpha=0.0, batch_size=64,
                  dropout=0.0, max_iter=epochs, tol=0.0, n_iter_no_change=10**6,
                  shuffle=True, random_state=seed, n_jobs=threads)
    if arch == "a":
        return ConvNetClassifier(filters=(16, 32), kernel_size=3,
                                 hidden_layer_sizes=(64,), **common)
    if arch == "c":
        return ConvNetClassifier(architecture="resnet", image_shape=(3, 32, 32),
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
    if arch == "c":
        return torch_resnet()
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84),
        nn.ReLU(), nn.Linear(84, 10))


def torch_resnet(widths=(16, 32, 64), n_classes=8):
    """small_resnet's layers in PyTorch (convolutions with a bias, as sknets')."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c, f, stride):
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv2d(c, f, 3, stride, 1), nn.BatchNorm2d(f), nn.ReLU(),
                nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f))
            self.short = (nn.Sequential(nn.Conv2d(c, f, 1, stride), nn.BatchNorm2d(f))
                          if c != f or stride != 1 else nn.Identity())

        def forward(self, x):
            return (self.main(x) + self.short(x)).relu()

    layers = [nn.Conv2d(3, widths[0], 3, 1, 1), nn.BatchNorm2d(widths[0]), nn.ReLU()]
    c = widths[0]
    for stage, f in enumerate(widths):
        layers.append(Block(c, f, 2 if stage > 0 else 1))
        c = f
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)]
    return nn.Sequential(*layers)


def time_torch(arch, data, epochs, threads, side):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    Xtr, Xte, ytr, yte = data
    mean, scale = float(Xtr.mean()), float(Xtr.std())   # what sknets does internally
    ch = 3 if arch == "c" else 1
    xt = torch.from_numpy(((Xtr - mean) / scale).astype(np.float32)
                          .reshape(-1, ch, side, side))
    yt = torch.from_numpy(ytr.astype(np.int64))
    xv = torch.from_numpy(((Xte - mean) / scale).astype(np.float32)
                          .reshape(-1, ch, side, side))
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


# ----------------------------------------------------------------------------- profile


def profile_sknets(data, threads, n_steps=40):
    """ms per LeNet-5 step in each layer's forward/backward, the loss and Adam."""
    Xtr, _, ytr, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = sknets_model("b", 1, threads).fit(Xtr[:640], ytr[:640])
    net = clf.network_
    opt = make_solver("adam", net.flat_parameters(), learning_rate_init=1e-3)
    x = ((Xtr - Xtr.mean()) / Xtr.std()).astype(np.float32).reshape(-1, 1, 28, 28)
    Y = np.eye(10, dtype=np.float32)[ytr]
    names = [f"{i}:{type(layer).__name__}" for i, layer in enumerate(net.layers)]
    times = {}

    def add(key, dt):
        times.setdefault(key, []).append(dt)

    rng = np.random.default_rng(0)
    with kernel_threads(threads, blas_threads=1):
        for step in range(n_steps + 5):
            idx = rng.choice(len(x), 64, replace=False)
            h = x[idx]
            t_step = time.perf_counter()
            for name, layer in zip(names, net.layers):
                t0 = time.perf_counter()
                h = layer.forward(h, True)
                add(("forward", name), time.perf_counter() - t0)
            t0 = time.perf_counter()
            _, g = softmax_cross_entropy(h, Y[idx], None)
            add(("loss", ""), time.perf_counter() - t0)
            for name, layer in zip(names[::-1], net.layers[::-1]):
                t0 = time.perf_counter()
                g = layer.backward(g)
                add(("backward", name), time.perf_counter() - t0)
                if g is None:
                    break
            t0 = time.perf_counter()
            opt.step()
            add(("adam", ""), time.perf_counter() - t0)
            add(("step", "total"), time.perf_counter() - t_step)
    return {k: float(np.median(v[5:])) * 1e3 for k, v in times.items()}


def profile_torch(data, threads, n_steps=40):
    """Self CPU ms per LeNet-5 step of each PyTorch operator (torch.profiler)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    Xtr, _, ytr, _ = data
    xt = torch.from_numpy(((Xtr - Xtr.mean()) / Xtr.std()).astype(np.float32)
                          .reshape(-1, 1, 28, 28))
    yt = torch.from_numpy(ytr.astype(np.int64))
    model = torch_model("b")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(idx):
        opt.zero_grad()
        loss_fn(model(xt[idx]), yt[idx]).backward()
        opt.step()

    for _ in range(10):
        step(torch.randperm(len(xt))[:64])
    t0 = time.perf_counter()
    for _ in range(n_steps):
        step(torch.randperm(len(xt))[:64])
    wall = (time.perf_counter() - t0) / n_steps * 1e3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n_steps):
            step(torch.randperm(len(xt))[:64])
    rows = sorted(((e.key, e.self_cpu_time_total / n_steps / 1e3)
                   for e in prof.key_averages()), key=lambda r: -r[1])
    return wall, rows


def print_profile(data, threads):
    ms = profile_sknets(data, threads)
    print("profile of one LeNet-5 step (batch 64), ms")
    print(f"  sknets: step {ms[('step', 'total')]:.2f} ms "
          "(median of 40, timed per call)")
    for key, v in ms.items():
        if key != ("step", "total"):
            print(f"    {key[0]:9s} {key[1]:14s} {v:7.3f}")
    wall, rows = profile_torch(data, threads)
    print(f"  pytorch: step {wall:.2f} ms (mean of 40 steps, not profiled); "
          "self CPU per operator under torch.profiler:")
    shown = 0.0
    for key, v in rows[:16]:
        print(f"    {key:40s} {v:7.3f}")
        shown += v
    rest = sum(v for _, v in rows[16:])
    print(f"    {'(other operators)':40s} {rest:7.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs-a", type=int, default=10)
    parser.add_argument("--epochs-b", type=int, default=2)
    parser.add_argument("--epochs-c", type=int, default=1)
    parser.add_argument("--only", choices=["a", "b", "c"], default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("PyTorch is needed for this benchmark: pip install '.[bench]'")
    print(f"threads={args.threads}, batch 64, Adam lr 1e-3, float32; torch "
          f"{torch.__version__}; load average {os.getloadavg()}")
    cases = [("a", "small CNN, digits 8x8", digits_data, 8, args.epochs_a),
             ("b", "LeNet-5, 20,000 28x28", lenet_data, 28, args.epochs_b),
             ("c", "resnet preset, 10,000 RGB 32x32", patches_data, 32, args.epochs_c)]
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
    if args.profile:
        print_profile(lenet_data(), args.threads)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
