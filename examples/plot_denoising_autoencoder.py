"""
=====================================================
Denoising autoencoder on digits
=====================================================

An :class:`sknets.Autoencoder` with ``noise="masking"`` is trained to reconstruct
clean digits (scaled to [0, 1]) from copies with 30 % of their pixels set to 0, drawn
afresh for every minibatch. On corrupted test digits it is compared with the same
autoencoder trained without noise and with PCA (same number of components). Bundled
data, headless, in seconds.
"""

import os
import time
import warnings

import matplotlib

if not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sknets import Autoencoder  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)
X, _ = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
rng = np.random.default_rng(0)
X_noisy = np.where(rng.random(X_test.shape) < 0.3, 0.0, X_test)

models = {
    "denoising autoencoder": Autoencoder(n_components=32, noise="masking",
                                         noise_level=0.3, random_state=0),
    "plain autoencoder": Autoencoder(n_components=32, random_state=0),
    "PCA(32)": PCA(32, random_state=0),
}
reconstructions = {}
for name, model in models.items():
    t0 = time.perf_counter()
    model.fit(X_train)
    fit_time = time.perf_counter() - t0
    R = model.inverse_transform(model.transform(X_noisy))
    reconstructions[name] = R
    print(f"{name:22s} fit time {fit_time:5.2f} s, MSE to the clean test digits "
          f"{np.mean((R - X_test) ** 2):.4f}")
print(f"{'corrupted input':22s} MSE {np.mean((X_noisy - X_test) ** 2):.4f}")

# %%
# Clean, corrupted and reconstructed test digits
rows = [("clean", X_test), ("corrupted", X_noisy)] + list(reconstructions.items())
fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows)))
for r, (name, images) in enumerate(rows):
    for k in range(10):
        ax = axes[r, k]
        ax.imshow(images[k].reshape(8, 8), cmap=plt.cm.gray_r, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_axis_off()
    axes[r, 0].set_title(name, fontsize=8, loc="left")
fig.tight_layout()
if matplotlib.get_backend().lower() == "agg":
    out_dir = os.environ.get("SKNETS_EXAMPLE_OUT", ".")
    out = os.path.join(out_dir, "denoising_autoencoder.png")
    fig.savefig(out)
    print("figure saved to", out)
else:
    plt.show()
