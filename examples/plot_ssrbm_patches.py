"""
=====================================================
Spike-and-slab RBM filters on natural image patches
=====================================================

The spike-and-slab RBM was designed for real-valued natural images. Here it learns
filters from 8x8 grey-level patches of a photograph that ships with scikit-learn
(``load_sample_image('china.jpg')``). Each patch is centred (its own mean removed, the
usual contrast normalisation for patches) and the pixels standardised; each spike pools
two slab filters. Bundled data, headless, a few seconds.
"""

import os
import time

import matplotlib

if not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402
from sklearn.feature_extraction.image import extract_patches_2d  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknets import SpikeSlabRBM  # noqa: E402

image = load_sample_image("china.jpg").astype(np.float64).mean(axis=2) / 255.0
patches = extract_patches_2d(image, (8, 8), max_patches=5000, random_state=0)
X = patches.reshape(len(patches), -1)
X -= X.mean(axis=1, keepdims=True)  # remove each patch's mean brightness
X = StandardScaler().fit_transform(X)

rbm = SpikeSlabRBM(n_components=64, n_slabs=2, learning_rate=0.01, n_iter=20,
                   transform_output="spike", random_state=0, verbose=1)
t0 = time.perf_counter()
rbm.fit(X)
print(f"fit time: {time.perf_counter() - t0:.1f} s on {X.shape[0]} patches")
print("visible draws that needed the fallback sampler: "
      f"{100 * rbm.fallback_rate_:.2f}%")

# order the spikes by how often they are on across the patches
usage = rbm.transform(X).mean(axis=0)
order = np.argsort(usage)[::-1]
fig, axes = plt.subplots(8, 16, figsize=(12, 6.4))
for row in range(8):
    for col in range(8):
        i = order[row * 8 + col]
        for k in range(2):
            ax = axes[row, 2 * col + k]
            w = rbm.weights_[i, k].reshape(8, 8)
            ax.imshow(w, cmap="gray")
            ax.set_xticks(())
            ax.set_yticks(())
fig.suptitle("SpikeSlabRBM filters on 8x8 patches of china.jpg "
             "(pairs: the 2 slabs of one spike, most used spikes first)")
fig.savefig("ssrbm_patches_filters.png", dpi=80)
if matplotlib.get_backend().lower() != "agg":
    plt.show()
