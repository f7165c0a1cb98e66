"""GANSampler: the spec's checks 1-3 with fixed seeds, and the speed ratio to PyTorch.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_gan.py            # everything
    PYTHONPATH=. python benchmarks/bench_gan.py --only gaussian torch

Checks (docs: ../shared/specs/gan.md):

1. 1-D Gaussian N(4, 0.5) (variance 0.5) from uniform noise, 16-16 MLPs: on 10,000
   samples |mean - 4| < 0.1, |std - sqrt(0.5)| < 0.1, KS statistic < 0.05.
2. Ring of 8 Gaussians (radius 2, std 0.02) with GANSampler's default settings:
   modes covered (>= 1 % of samples each) and high-quality fraction (within 3 std).
3. Digits (8x8): classifier confidence, class-histogram entropy and Fréchet distance
   in PCA-20 space against the real-data floor, on 1,000 samples.

Speed: the same 1-D Gaussian GAN (same layer sizes, batch 64, Adam, same number of
steps, a generator update after every ``discriminator_steps`` discriminator updates)
trained in PyTorch
(CPU, ``torch.set_num_threads(2)``) in the same process; prints ms per step and the
ratio. Torch is imported only here.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

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


def check_gaussian():
    print("== 1. 1-D Gaussian N(4, 0.5) from uniform noise, 16-16 MLPs ==")
    X = gaussian_data()
    t0 = time.perf_counter()
    gan = GANSampler(**GAUSS_PARAMS).fit(X)
    fit_time = time.perf_counter() - t0
    mean, std, ks = gaussian_metrics(gan.sample(10_000, random_state=1), MEAN, STD)
    print(f"settings: {GAUSS_PARAMS}")
    print(f"fit {fit_time:.1f}s ({gan.n_iter_} epochs of {N_GAUSS} rows)")
    print(f"mean {mean:.4f} (|err| {abs(mean - MEAN):.4f}, target < 0.1)  "
          f"std {std:.4f} (|err| {abs(std - STD):.4f}, target < 0.1)  "
          f"KS {ks:.4f} (target < 0.05)")
    ok = abs(mean - MEAN) < 0.1 and abs(std - STD) < 0.1 and ks < 0.05
    print("check 1:", "PASS" if ok else "FAIL")
    return ok


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
    GANSampler(**dict(params, max_iter=1)).fit(X)  # load / compile the kernels first
    t0 = time.perf_counter()
    gan = GANSampler(**params).fit(X)
    ours = time.perf_counter() - t0
    n_steps = epochs * ((N_GAUSS + 63) // 64)
    _torch_gan_steps(X, 50)  # warm-up
    theirs, s_torch = _torch_gan_steps(X, n_steps)
    m1, s1, k1 = gaussian_metrics(gan.sample(10_000, random_state=1), MEAN, STD)
    m2, s2, k2 = gaussian_metrics(s_torch, MEAN, STD)
    k = params["discriminator_steps"]
    print(f"{n_steps} steps (a discriminator update each, a generator update every "
          f"{k}; batch 64, Adam), 16-16 MLPs")
    print(f"sknets  : {ours:.3f}s = {1e3 * ours / n_steps:.3f} ms/step  "
          f"(mean {m1:.3f}, std {s1:.3f}, KS {k1:.3f})")
    print(f"PyTorch : {theirs:.3f}s = {1e3 * theirs / n_steps:.3f} ms/step  "
          f"(mean {m2:.3f}, std {s2:.3f}, KS {k2:.3f}; torch threads 2)")
    ratio = theirs / ours
    print(f"sknets is {ratio:.1f}x faster than PyTorch (target >= 3x): "
          f"{'PASS' if ratio >= 3 else 'FAIL'}")
    # for information: on a busy 2-core machine two torch threads can lose to one
    theirs_1, _ = _torch_gan_steps(X, n_steps, threads=1)
    print(f"PyTorch with 1 thread: {1e3 * theirs_1 / n_steps:.3f} ms/step "
          f"(sknets {theirs_1 / ours:.1f}x faster)")
    return ratio >= 3


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
DCGAN_PARAMS = dict(generator_layer_sizes=(32, 16), discriminator_layer_sizes=(16, 32),
                    architecture="dcgan", output_activation="tanh", noise_dim=16,
                    learning_rate_init=1e-3, max_iter=10, random_state=0)


def check_digits(dcgan=False):
    print("\n== 3. digits 8x8: 1,000 samples judged by a classifier and PCA-20 ==")
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=0)
    judge = DigitsJudge(X_train, y_train, X_test)
    real = judge.score(X_test)
    print(f"real test rows : confidence {real['confidence']:.3f}, class entropy "
          f"{real['class_entropy']:.3f} (log 10 = {np.log(10):.3f}), Fréchet floor "
          f"(train vs test) {judge.floor:.2f}")
    variants = [("mlp", DIGITS_PARAMS)] + ([("dcgan", DCGAN_PARAMS)] if dcgan else [])
    for name, params in variants:
        t0 = time.perf_counter()
        gan = GANSampler(**params).fit(X_train)
        fit_time = time.perf_counter() - t0
        res = judge.score(gan.sample(1_000, random_state=1))
        print(f"{name:<5}: fit {fit_time:.1f}s; confidence {res['confidence']:.3f}, "
              f"class entropy {res['class_entropy']:.3f} "
              f"({res['classes_present']}/10 classes), Fréchet {res['frechet']:.2f} "
              f"(floor {res['frechet_floor']:.2f})")
        print(f"       settings: {params}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*",
                        choices=["gaussian", "torch", "ring", "digits"],
                        default=["gaussian", "torch", "ring", "digits"])
    parser.add_argument("--dcgan", action="store_true",
                        help="also train the (slow) DCGAN variant on digits")
    args = parser.parse_args(argv)
    print("machine note: shared 2-core machine; compare ratios from one run only\n")
    if "gaussian" in args.only:
        check_gaussian()
    if "torch" in args.only:
        check_torch_speed()
    if "ring" in args.only:
        check_ring()
    if "digits" in args.only:
        check_digits(args.dcgan)


if __name__ == "__main__":
    main()
