"""
======================================================
Deep belief network on digits: pre-training and labels
======================================================

A :class:`sknets.DBNClassifier` pre-trains a stack of two RBMs (256, 256) on the
digits (scaled to [0, 1]) without labels, then fine-tunes the network on the labels.
The first figure shows 40 first-layer filters after pre-training (the first RBM's
``components_``) and after fine-tuning; the second the test accuracy with and without
pre-training against the fraction of labelled training rows (the other rows are
labelled -1 and only pre-train). Bundled data, headless, about 20 s.
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
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sknets import DBNClassifier  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                    random_state=0)

# %%
# All the labels: filters before and after fine-tuning
t0 = time.perf_counter()
clf = DBNClassifier(random_state=0).fit(X_train, y_train)
print(f"fit time: {time.perf_counter() - t0:.1f} s, {clf.n_iter_} fine-tuning epochs")
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

pretrained = clf.rbms_[0].components_            # (256, 64), not changed by fine-tuning
fine_tuned = clf.network_.layers[0].params[0].T  # the first Dense layer's weights
fig, axes = plt.subplots(4, 20, figsize=(14, 3))
for k in range(40):
    for row, W in ((k // 20, pretrained), (2 + k // 20, fine_tuned)):
        ax = axes[row, k % 20]
        ax.imshow(W[k].reshape(8, 8), cmap=plt.cm.gray_r, interpolation="nearest")
        ax.set_axis_off()
fig.suptitle("first-layer filters: pre-trained (top two rows), fine-tuned (bottom two)")

# %%
# Fewer labels: pre-training uses every training row
fractions = [0.02, 0.05, 0.1, 0.3, 1.0]
scores = {True: [], False: []}
rng = np.random.default_rng(0)
t0 = time.perf_counter()
for fraction in fractions:
    keep = rng.choice(len(y_train), size=int(fraction * len(y_train)), replace=False)
    y_semi = np.full_like(y_train, -1)
    y_semi[keep] = y_train[keep]
    for pretrain in (True, False):
        model = DBNClassifier(pretrain=pretrain, unlabeled_label=-1, random_state=0)
        scores[pretrain].append(model.fit(X_train, y_semi).score(X_test, y_test))
    print(f"{fraction:5.0%} labels: pre-trained {scores[True][-1]:.3f}, "
          f"random start {scores[False][-1]:.3f}")
print(f"label-fraction sweep time: {time.perf_counter() - t0:.1f} s")

fig2, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(fractions, scores[True], "o-", label="pre-trained (RBM stack)")
ax.plot(fractions, scores[False], "s--", label="pretrain=False")
ax.set_xscale("log")
ax.set_xlabel("fraction of labelled training rows")
ax.set_ylabel("test accuracy")
ax.legend()
fig2.tight_layout()
if matplotlib.get_backend().lower() == "agg":
    out_dir = os.environ.get("SKNETS_EXAMPLE_OUT", ".")
    for f, name in ((fig, "dbn_filters.png"), (fig2, "dbn_label_fraction.png")):
        f.savefig(os.path.join(out_dir, name))
        print("figure saved to", os.path.join(out_dir, name))
else:
    plt.show()
