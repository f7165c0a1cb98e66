"""
=====================================
GANSampler draws handwritten digits
=====================================

A GAN with MLP generator and discriminator trained on scikit-learn's 8x8 digits (the
bundled data; nothing is downloaded). The generator's tanh output keeps pixels inside
the range seen in ``fit``. Each row of the figure shows the same 12 noise vectors
pushed through the generator after more and more epochs; a classifier trained on the
real digits reports its mean confidence on 500 samples at each stage.
"""

import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sknets import GANSampler  # noqa: E402
from sknets.gan.metrics import DigitsJudge  # noqa: E402

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                    random_state=0)
judge = DigitsJudge(X_train, y_train, X_test)

gan = GANSampler(generator_layer_sizes=(128, 128), discriminator_layer_sizes=(128, 128),
                 output_activation="tanh", noise_dim=16, learning_rate_init=1e-3,
                 random_state=0)
checkpoints = [1, 20, 60, 150]
n_show = 12
fig, axes = plt.subplots(len(checkpoints), n_show, figsize=(n_show, len(checkpoints)))
t_train = 0.0
epoch = 0
for row, stop in zip(axes, checkpoints):
    t0 = time.perf_counter()
    while epoch < stop:
        gan.partial_fit(X_train)
        epoch += 1
    t_train += time.perf_counter() - t0
    res = judge.score(gan.sample(500, random_state=2))
    print(f"epoch {stop:3d}: training time {t_train:.1f} s, "
          f"confidence {res['confidence']:.3f}, class entropy "
          f"{res['class_entropy']:.3f}, Fréchet {res['frechet']:.1f} "
          f"(floor {res['frechet_floor']:.1f})")
    images = gan.sample(n_show, random_state=1).reshape(-1, 8, 8)
    for ax, img in zip(row, images):
        ax.imshow(np.clip(img, 0, 16), cmap="gray_r", vmin=0, vmax=16)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(f"epoch {stop}", fontsize=8)
fig.tight_layout()
out = Path(tempfile.gettempdir()) / "plot_gan_digits.png"
fig.savefig(out, dpi=80)
print(f"figure saved to {out}")
