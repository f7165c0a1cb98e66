"""
=====================================================
GANSampler learns a 1-D Gaussian from uniform noise
=====================================================

The first check of the GAN design: data drawn from N(4, 0.5) (variance 0.5), a generator
and a discriminator with two hidden layers of 16 units, and one-dimensional uniform
noise. The generator has to learn the map from uniform noise to the Gaussian (its
inverse CDF). ``partial_fit`` trains one epoch at a time, so we can watch the histogram
of 10,000 samples approach the true density as training goes.
"""

import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from sknets import GANSampler  # noqa: E402

mean, std = 4.0, np.sqrt(0.5)
X = np.random.default_rng(0).normal(mean, std, size=(10_000, 1))

gan = GANSampler(generator_layer_sizes=(16, 16), discriminator_layer_sizes=(16, 16),
                 noise="uniform", noise_dim=1, learning_rate_init=1e-3,
                 discriminator_steps=3, random_state=0)
checkpoints = [1, 10, 30, 100]
grid = np.linspace(0.5, 7.5, 300)
fig, axes = plt.subplots(1, len(checkpoints), figsize=(4 * len(checkpoints), 3.2),
                         sharey=True)
t_train = 0.0
epoch = 0
for ax, stop in zip(axes, checkpoints):
    t0 = time.perf_counter()
    while epoch < stop:
        gan.partial_fit(X)
        epoch += 1
    t_train += time.perf_counter() - t0
    s = gan.sample(10_000, random_state=1)[:, 0]
    ks = stats.kstest(s, "norm", args=(mean, std)).statistic
    ax.hist(s, bins=80, range=(0.5, 7.5), density=True, alpha=0.6, label="samples")
    ax.plot(grid, stats.norm.pdf(grid, mean, std), "k", lw=1.5, label="N(4, 0.5)")
    ax.set_title(f"epoch {stop}: mean {s.mean():.2f}, std {s.std():.2f}, KS {ks:.3f}",
                 fontsize=9)
    print(f"epoch {stop:3d}: training time {t_train:.1f} s, "
          f"mean {s.mean():.3f} std {s.std():.3f} KS {ks:.4f}")
axes[0].legend(fontsize=8)
fig.tight_layout()
out = Path(tempfile.gettempdir()) / "plot_gan_gaussian.png"
fig.savefig(out, dpi=80)
print(f"figure saved to {out}")
