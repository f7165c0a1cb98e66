"""GANSampler: checks 1-4 with fixed seeds, and the speed ratios to PyTorch.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_gan.py            # everything
    PYTHONPATH=. python benchmarks/bench_gan.py --only gaussian dcgan dcgan-torch

Checks:

1. 1-D Gaussian N(4, 0.5) (variance 0.5) from uniform noise, 16-16 MLPs, seeds 0, 1
   and 2: on 10,000 samples |mean - 4| < 0.1, |std - sqrt(0.5)| < 0.1, KS statistic
   < 0.05.
2. Ring of 8 Gaussians (radius 2, std 0.02) with GANSampler's default settings:
   modes covered (>= 1 % of samples each) and high-quality fraction (within 3 std).
3. Digits (8x8): classifier confidence, class-histogram entropy and Fréchet distance
   in PCA-20 space against the real-data floor, on 1,000 samples.
4. DCGAN on digits (``DCGAN_PARAMS``, seeds 0, 1, 2): classifier confidence >= 0.85,
   all 10 classes, Fréchet distance <= 3x the real-data floor, fit under 60 s.

Speed: the same 1-D Gaussian GAN (same layer sizes, batch 64, Adam, same number of
steps, a generator update after every ``discriminator_steps`` discriminator updates)
trained in PyTorch
(CPU, ``torch.set_num_threads(2)``) in the same process, 3 interleaved runs; prints ms
per step and the ratio (sknets also computes its R1 penalty and generator average,
which that twin leaves out). And the DCGAN of check 4 against the same DCGAN in
PyTorch (same layers, batch norm, R1 penalty, Adam, generator average; 2 threads
each): time per epoch, median and worst of 3 interleaved runs
(``benchmarks/_harness.py``), target <= 1.0x. Torch is imported only here.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from _harness import compare, load_average
from sknets import GANSampler
from sknets.gan.metrics import DigitsJudge, gaussian_metrics, make_ring, ring_metrics

MEAN, STD = 4.0, np.sqrt(0.5)
N_GAUSS = 10_000

# the settings of check 1, shared with the PyTorch twin
GAUSS_PARAMS = dict(generator_layer_sizes=(16, 16), discriminator_layer_sizes=(16, 16),
                    noise="uniform", noise_dim=1, batch_size=64,
                    learning_rate_init=1e-3, beta_1=0.5, beta_2=0.999,
                    discriminator_steps=3, max_iter=100, random_state=0)


def gaussian_data():
    return np.random.default_rng(0).normal(MEAN, STD, size=(N_GAUSS, 1))


def check_gaussian(seeds=(0, 1, 2)):
    print("== 1. 1-D Gaussian N(4, 0.5) from uniform noise, 16-16 MLPs ==")
    X = gaussian_data()
    print(f"settings: {GAUSS_PARAMS} (random_state: each seed)")
    worst = 0.0
    all_ok = True
    for seed in seeds:
        t0 = time.perf_counter()
        gan = GANSampler(**dict(GAUSS_PARAMS, random_state=seed)).fit(X)
        fit_time = time.perf_counter() - t0
        mean, std, ks = gaussian_metrics(gan.sample(10_000, random_state=1), MEAN, STD)
        ok = abs(mean - MEAN) < 0.1 and abs(std - STD) < 0.1 and ks < 0.05
        all_ok &= ok
        worst = max(worst, ks)
        print(f"seed {seed}: fit {fit_time:.1f}s ({gan.n_iter_} epochs of {N_GAUSS} "
              f"rows); mean {mean:.4f} (|err| {abs(mean - MEAN):.4f}, target < 0.1)  "
              f"std {std:.4f} (|err| {abs(std - STD):.4f}, target < 0.1)  "
              f"KS {ks:.4f} (target < 0.05) {'PASS' if ok else 'FAIL'}")
    print(f"check 1: {'PASS' if all_ok else 'FAIL'} (worst KS {worst:.4f})")
    return all_ok


def _torch_gan_steps(X, n_steps, seed=0, threads=2):
    """The PyTorch twin of GAUSS_PARAMS; returns (seconds, samples)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    p = GAUSS_PARAMS
    lo, hi = X.min(), X.max()
    Xs = torch.tensor((X - (hi + lo) / 2) / ((hi - lo) / 2), dtype=torch.float32)

    def mlp(n_in, sizes, act):
        layers, d = [], n_in
        for h in sizes:
            layers += [torch.nn.Linear(d, h), act()]
            d = h
        layers.append(torch.nn.Linear(d, 1))
        return torch.nn.Sequential(*layers)

    G = mlp(p["noise_dim"], p["generator_layer_sizes"], torch.nn.ReLU)
    D = mlp(1, p["discriminator_layer_sizes"], lambda: torch.nn.LeakyReLU(0.2))
    betas = (p["beta_1"], p["beta_2"])
    opt_g = torch.optim.Adam(G.parameters(), lr=p["learning_rate_init"], betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=p["learning_rate_init"], betas=betas)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    bs = p["batch_size"]
    n = Xs.shape[0]
    ones, zeros = torch.ones(bs, 1), torch.zeros(bs, 1)
    t0 = time.perf_counter()
    step = 0
    while step < n_steps:
        perm = torch.randperm(n)
        for start in range(0, n - bs + 1, bs):
            if step == n_steps:
                break
            real = Xs[perm[start:start + bs]]
            fake = G(torch.rand(bs, p["noise_dim"]) * 2 - 1).detach()
            loss_d = bce(D(real), ones) + bce(D(fake), zeros)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            step += 1
            if step % p["discriminator_steps"]:
                continue
            loss_g = bce(D(G(torch.rand(bs, p["noise_dim"]) * 2 - 1)), ones)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        s = G(torch.rand(10_000, p["noise_dim"]) * 2 - 1).numpy()[:, 0]
    return seconds, s * (hi - lo) / 2 + (hi + lo) / 2


def check_torch_speed(epochs=5):
    print("\n== speed: the 1-D Gaussian GAN, sknets vs PyTorch (same process) ==")
    X = gaussian_data()
    params = dict(GAUSS_PARAMS, max_iter=epochs)
    n_steps = epochs * ((N_GAUSS + 63) // 64)
    r = compare(lambda: GANSampler(**params).fit(X),
                lambda: _torch_gan_steps(X, n_steps), repeat=3)
    m1, s1, k1 = gaussian_metrics(r.ours_result.sample(10_000, random_state=1), MEAN,
                                  STD)
    m2, s2, k2 = gaussian_metrics(r.peer_result[1], MEAN, STD)
    k = params["discriminator_steps"]
    print(f"{n_steps} steps (a discriminator update each, a generator update every "
          f"{k}; batch 64, Adam), 16-16 MLPs; 3 interleaved runs, {load_average()}")
    print(f"sknets  : {1e3 * r.ours_median / n_steps:.3f} ms/step  "
          f"(mean {m1:.3f}, std {s1:.3f}, KS {k1:.3f})")
    print(f"PyTorch : {1e3 * r.peer_median / n_steps:.3f} ms/step  "
          f"(mean {m2:.3f}, std {s2:.3f}, KS {k2:.3f}; torch threads 2)")
    print(f"sknets is {r.median_ratio:.1f}x faster than PyTorch (median; worst "
          f"{r.worst_ratio:.1f}x; target >= 3x): "
          f"{'PASS' if r.median_ratio >= 3 else 'FAIL'}")
    # for information: on a busy 2-core machine two torch threads can lose to one
    theirs_1, _ = _torch_gan_steps(X, n_steps, threads=1)
    print(f"PyTorch with 1 thread: {1e3 * theirs_1 / n_steps:.3f} ms/step "
          f"(sknets {theirs_1 / r.ours_median:.1f}x faster)")
    return r.median_ratio >= 3


def check_ring():
    print("\n== 2. ring of 8 Gaussians (radius 2, std 0.02), default settings ==")
    X, centers = make_ring(10_000, random_state=0)
    t0 = time.perf_counter()
    gan = GANSampler(random_state=0).fit(X)
    fit_time = time.perf_counter() - t0
    modes, hq = ring_metrics(gan.sample(10_000, random_state=1), centers)
    print(f"GANSampler(random_state=0) defaults (max_iter=200 epochs), 10,000 rows, "
          f"fit {fit_time:.1f}s")
    print(f"modes covered {modes}/8 (target 8), high-quality {100 * hq:.1f}% "
          f"(target >= 70%)")
    ok = modes == 8 and hq >= 0.7
    print("check 2:", "PASS" if ok else "FAIL")
    return ok


DIGITS_PARAMS = dict(generator_layer_sizes=(128, 128),
                     discriminator_layer_sizes=(128, 128), output_activation="tanh",
                     noise_dim=16, learning_rate_init=1e-3, max_iter=200,
                     random_state=0)
# the documented DCGAN settings on digits (check 4), shared with the PyTorch twin
DCGAN_PARAMS = dict(generator_layer_sizes=(32, 16), discriminator_layer_sizes=(16, 32),
                    architecture="dcgan", noise_dim=16, learning_rate_init=1e-3,
                    gradient_penalty=0.1, ema_decay=0.99, batch_size=32,
                    max_iter=200)
DCGAN_SECONDS = 60


def _digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25,
                                                   random_state=0)
    return X_train, y_train, X_test


def check_digits():
    print("\n== 3. digits 8x8: 1,000 samples judged by a classifier and PCA-20 ==")
    X_train, y_train, X_test = _digits()
    judge = DigitsJudge(X_train, y_train, X_test)
    real = judge.score(X_test)
    print(f"real test rows : confidence {real['confidence']:.3f}, class entropy "
          f"{real['class_entropy']:.3f} (log 10 = {np.log(10):.3f}), Fréchet floor "
          f"(train vs test) {judge.floor:.2f}")
    t0 = time.perf_counter()
    gan = GANSampler(**DIGITS_PARAMS).fit(X_train)
    fit_time = time.perf_counter() - t0
    res = judge.score(gan.sample(1_000, random_state=1))
    print(f"mlp  : fit {fit_time:.1f}s; confidence {res['confidence']:.3f}, "
          f"class entropy {res['class_entropy']:.3f} "
          f"({res['classes_present']}/10 classes), Fréchet {res['frechet']:.2f} "
          f"(floor {res['frechet_floor']:.2f})")
    print(f"       settings: {DIGITS_PARAMS}")


def check_dcgan(seeds=(0, 1, 2)):
    print("\n== 4. DCGAN on digits 8x8: confidence >= 0.85, 10/10 classes, Fréchet "
          f"<= 3x floor, fit < {DCGAN_SECONDS} s ==")
    X_train, y_train, X_test = _digits()
    judge = DigitsJudge(X_train, y_train, X_test)
    print(f"settings: {DCGAN_PARAMS} (random_state: each seed); {load_average()}")
    GANSampler(**dict(DCGAN_PARAMS, max_iter=1)).fit(X_train)  # compile / load first
    all_ok = True
    for seed in seeds:
        t0 = time.perf_counter()
        gan = GANSampler(**dict(DCGAN_PARAMS, random_state=seed)).fit(X_train)
        fit_time = time.perf_counter() - t0
        r = judge.score(gan.sample(1_000, random_state=1))
        ok = (r["confidence"] >= 0.85 and r["classes_present"] == 10
              and r["frechet"] <= 3 * judge.floor and fit_time < DCGAN_SECONDS)
        all_ok &= ok
        print(f"seed {seed}: fit {fit_time:.1f}s; confidence {r['confidence']:.3f}, "
              f"{r['classes_present']}/10 classes, Fréchet {r['frechet']:.2f} "
              f"({r['frechet'] / judge.floor:.2f}x floor {judge.floor:.2f}) "
              f"{'PASS' if ok else 'FAIL'}")
    print("check 4:", "PASS" if all_ok else "FAIL")
    return all_ok


def _torch_dcgan(X, epochs, seed=0, threads=2):
    """The PyTorch twin of DCGAN_PARAMS (same layers, batch norm, R1 penalty by double
    backpropagation, Adam, moving average of G); returns the trained generator."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    p = DCGAN_PARAMS
    c0, c1 = p["generator_layer_sizes"]
    d0, d1 = p["discriminator_layer_sizes"]
    nz, bs, gamma = p["noise_dim"], p["batch_size"], p["gradient_penalty"]
    lo, hi = X.min(), X.max()
    Xs = torch.tensor((X - (hi + lo) / 2) / ((hi - lo) / 2),
                      dtype=torch.float32).reshape(-1, 1, 8, 8)
    G = nn.Sequential(nn.Linear(nz, c0 * 2 * 2), nn.Unflatten(1, (c0, 2, 2)),
                      nn.BatchNorm2d(c0), nn.ReLU(),
                      nn.ConvTranspose2d(c0, c1, 4, 2, 1), nn.BatchNorm2d(c1),
                      nn.ReLU(),
                      nn.ConvTranspose2d(c1, 1, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, d0, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(d0, d1, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
                      nn.Linear(d1 * 2 * 2, 1))
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=p["learning_rate_init"], betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=p["learning_rate_init"], betas=betas)
    average = [q.detach().clone() for q in G.parameters()]
    bce = nn.functional.binary_cross_entropy_with_logits
    n = Xs.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, bs):
            real = Xs[perm[start:start + bs]].requires_grad_(True)
            m = real.shape[0]
            fake = G(torch.randn(m, nz)).detach()
            l_real = D(real)
            loss_d = (bce(l_real, torch.ones_like(l_real))
                      + bce(D(fake), torch.zeros_like(l_real)))
            grad_x, = torch.autograd.grad(l_real.sum(), real, create_graph=True)
            loss_d = loss_d + gamma / 2 * grad_x.pow(2).flatten(1).sum(1).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            l_fake = D(G(torch.randn(m, nz)))
            loss_g = bce(l_fake, torch.ones_like(l_fake))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            with torch.no_grad():
                for a, q in zip(average, G.parameters()):
                    a.mul_(p["ema_decay"]).add_(q, alpha=1 - p["ema_decay"])
    return G


def check_dcgan_speed(epochs=5):
    print("\n== speed: the DCGAN of check 4, sknets vs PyTorch (same process) ==")
    X_train, _, _ = _digits()
    params = dict(DCGAN_PARAMS, max_iter=epochs, random_state=0)
    r = compare(lambda: GANSampler(**params).fit(X_train),
                lambda: _torch_dcgan(X_train, epochs), repeat=3)
    print(f"{epochs} epochs of {X_train.shape[0]} digits, batch "
          f"{DCGAN_PARAMS['batch_size']}, {load_average()}")
    print(f"ms per epoch, median of 3: torch {1e3 * r.peer_median / epochs:.1f}, "
          f"sknets {1e3 * r.ours_median / epochs:.1f}")
    ratio = 1 / r.median_ratio
    print(f"sknets / torch epoch time: median {ratio:.2f}x, worst "
          f"{1 / r.worst_ratio:.2f}x (target <= 1.0x): "
          f"{'PASS' if ratio <= 1.0 else 'FAIL'}")
    return ratio <= 1.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*",
                        choices=["gaussian", "torch", "ring", "digits", "dcgan",
                                 "dcgan-torch"],
                        default=["gaussian", "torch", "ring", "digits", "dcgan",
                                 "dcgan-torch"])
    args = parser.parse_args(argv)
    print("machine note: shared 2-core machine; compare ratios from one run only\n")
    if "gaussian" in args.only:
        check_gaussian()
    if "torch" in args.only:
        check_torch_speed()
    if "ring" in args.only:
        check_ring()
    if "digits" in args.only:
        check_digits()
    if "dcgan" in args.only:
        check_dcgan()
    if "dcgan-torch" in args.only:
        check_dcgan_speed()


if __name__ == "__main__":
    main()
