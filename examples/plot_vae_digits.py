"""
===================================================================
Variational autoencoders on digits: codes, samples, few labels
===================================================================

A :class:`sknets.VariationalAutoencoder` on scikit-learn's 8x8 digits scaled to
[0, 1] (the bundled data; nothing is downloaded): test digits and their
reconstructions, digits decoded from codes drawn from the prior, and the posterior
means of a 2-D code coloured by class. Then the semi-supervised
:class:`sknets.VAEClassifier` (M2) trained with a fraction of the labels (the other
rows labelled -1), next to :class:`~sklearn.semi_supervised.LabelSpreading` on the
same labels.
"""

import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.semi_supervised import LabelSpreading  # noqa: E402

from sknets import VAEClassifier, VariationalAutoencoder  # noqa: E402

# fixed epoch budgets: reaching max_iter is expected here
warnings.simplefilter("ignore", ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                    random_state=0)

t0 = time.perf_counter()
vae = VariationalAutoencoder(n_components=10, random_state=0).fit(X_train)
print(f"VariationalAutoencoder(10): {vae.n_iter_} epochs in "
      f"{time.perf_counter() - t0:.1f} s, test ELBO {vae.score(X_test):.2f} nats")
recon = vae.inverse_transform(vae.transform(X_test[:10]))
samples = vae.sample(10, random_state=0)

t0 = time.perf_counter()
vae2 = VariationalAutoencoder(n_components=2, random_state=0).fit(X_train)
print(f"VariationalAutoencoder(2): fit in {time.perf_counter() - t0:.1f} s")
codes = vae2.transform(X_test)

fig = plt.figure(figsize=(12, 8))
grid = fig.add_gridspec(4, 10)
for i in range(10):
    for row, (images, label) in enumerate(((X_test[:10], "test digit"),
                                           (recon, "reconstruction"),
                                           (samples, "sample"))):
        ax = fig.add_subplot(grid[row, i])
        ax.imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if i == 0:
            ax.set_ylabel(label, fontsize=8)
ax = fig.add_subplot(grid[3, :5])
sc = ax.scatter(codes[:, 0], codes[:, 1], c=y_test, cmap="tab10", s=8)
fig.colorbar(sc, ax=ax, label="class")
ax.set_title("posterior means, n_components=2 (test digits)")

fractions = (0.02, 0.05, 0.1, 0.2)
ours, spread = [], []
for frac in fractions:
    y_partial = y_train.copy()
    y_partial[np.random.default_rng(0).random(len(y_train)) >= frac] = -1
    t0 = time.perf_counter()
    clf = VAEClassifier(max_iter=50, random_state=0).fit(X_train, y_partial)
    ours.append(clf.score(X_test, y_test))
    spread.append(LabelSpreading(kernel="knn", n_neighbors=7)
                  .fit(X_train, y_partial).score(X_test, y_test))
    print(f"{frac:4.0%} labels ({int((y_partial >= 0).sum())} rows): VAEClassifier "
          f"{ours[-1]:.3f} (fit {time.perf_counter() - t0:.1f} s), LabelSpreading "
          f"{spread[-1]:.3f}")
ax = fig.add_subplot(grid[3, 6:])
ax.plot(fractions, ours, "o-", label="VAEClassifier (M2)")
ax.plot(fractions, spread, "s--", label="LabelSpreading (knn)")
ax.set_xscale("log")
ax.set_xticks(fractions, [f"{f:.0%}" for f in fractions])
ax.set_xlabel("fraction of training labels kept")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
plt.show()
