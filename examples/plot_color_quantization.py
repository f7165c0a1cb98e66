"""
==================================
Color quantization with KMeans
==================================

The photo of the Summer Palace (``china.jpg``, shipped with scikit-learn) is reduced
from ~96,000 colours to 64: KMeans is fitted on a random sample of 1,000 pixels, then
every pixel is replaced by its closest of the 64 centers. Both ``sknets.KMeans`` and
``sklearn.cluster.KMeans`` run with the same initial centers, and their timings and
results are printed and shown side by side.
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans as SkKMeans  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402
from sklearn.utils import shuffle  # noqa: E402

from sknets import KMeans  # noqa: E402

n_colors = 64

china = load_sample_image("china.jpg")
china = np.array(china, dtype=np.float64) / 255
w, h, d = china.shape
image_array = np.reshape(china, (w * h, d))

image_sample = shuffle(image_array, random_state=0, n_samples=1_000)
init = shuffle(image_sample, random_state=1, n_samples=n_colors)

# warm-up (loads the compiled kernels from Numba's cache, or compiles them once)
KMeans(n_clusters=n_colors, init=init, n_init=1, max_iter=2).fit(image_sample)

results = {}
for name, Est in [("sknets", KMeans), ("sklearn", SkKMeans)]:
    t0 = time.perf_counter()
    km = Est(n_clusters=n_colors, init=init, n_init=1, random_state=0).fit(image_sample)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    labels = km.predict(image_array)
    t_pred = time.perf_counter() - t0
    results[name] = (km, labels, t_fit, t_pred)
    print(f"{name:8s} fit on 1,000 pixels: {t_fit:.4f} s, predict {w * h:,} pixels: "
          f"{t_pred:.4f} s, inertia {km.inertia_:.6f}")

same = np.mean(results["sknets"][1] == results["sklearn"][1])
print(f"same colour index for {100 * same:.2f} % of the pixels; predict speed-up "
      f"{results['sklearn'][3] / results['sknets'][3]:.1f}x")


def recreate_image(codebook, labels, w, h):
    return codebook[labels].reshape(w, h, -1)


fig, axes = plt.subplots(1, 3, figsize=(15, 5))
axes[0].imshow(china)
axes[0].set_title("Original image (96,615 colors)")
for ax, name in zip(axes[1:], ["sknets", "sklearn"]):
    km, labels, t_fit, t_pred = results[name]
    ax.imshow(recreate_image(km.cluster_centers_, labels, w, h))
    ax.set_title(f"{name}: {n_colors} colors (predict {t_pred:.3f} s)")
for ax in axes:
    ax.axis("off")
fig.tight_layout()
fig.savefig("color_quantization.png", dpi=80)
print("saved color_quantization.png")
