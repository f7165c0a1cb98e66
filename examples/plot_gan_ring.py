"""
==============================================
GANSampler on the ring of eight Gaussians
==============================================

The mode-collapse test of the Unrolled-GAN, VEEGAN and PacGAN papers: eight Gaussians
of standard deviation 0.02 on a circle of radius 2. A generator that collapses covers
only some of the modes. A sample is "high quality" when it lies within three standard
deviations of a mode; a mode is covered when at least 1 % of the samples are
high-quality samples of it. GANSampler runs with its default settings.
"""

import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sknets import GANSampler  # noqa: E402
from sknets.gan.metrics import make_ring, ring_metrics  # noqa: E402

X, centers = make_ring(10_000, random_state=0)
gan = GANSampler(random_state=0)
checkpoints = [25, 50, 100, 200]  # 200 = the default max_iter
fig, axes = plt.subplots(1, len(checkpoints), figsize=(3.3 * len(checkpoints), 3.4))
t_train = 0.0
epoch = 0
for ax, stop in zip(axes, checkpoints):
    t0 = time.perf_counter()
    while epoch < stop:
        gan.partial_fit(X)
        epoch += 1
    t_train += time.perf_counter() - t0
    s = gan.sample(2_000, random_state=1)
    modes, hq = ring_metrics(s, centers)
    ax.scatter(X[:, 0], X[:, 1], s=2, c="k", alpha=0.3)
    ax.scatter(s[:, 0], s[:, 1], s=2, c="tab:orange", alpha=0.5)
    ax.set_xlim(-2.6, 2.6)
    ax.set_ylim(-2.6, 2.6)
    ax.set_aspect("equal")
    ax.set_title(f"epoch {stop}: {modes}/8 modes, {100 * hq:.0f}% HQ", fontsize=9)
    print(f"epoch {stop:3d}: training time {t_train:.1f} s, "
          f"modes {modes}/8, high quality {100 * hq:.1f}%")
fig.tight_layout()
out = Path(tempfile.gettempdir()) / "plot_gan_ring.png"
fig.savefig(out, dpi=80)
print(f"figure saved to {out}")
