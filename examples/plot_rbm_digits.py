"""
=====================================================
BernoulliRBM features for digit classification
=====================================================

A :class:`sknets.BernoulliRBM` learns 8x8 filters from scikit-learn's digits (scaled to
[0, 1]); a logistic regression classifies the hidden-unit probabilities. A small
``GridSearchCV`` picks ``n_components`` and ``learning_rate``, and the figure shows the
filters of the best model. Everything runs on bundled data, headless, in seconds.
"""

import os
import time

import matplotlib

if not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from sknets import BernoulliRBM  # noqa: E402

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                    random_state=0)

pipe = Pipeline([
    ("scale", MinMaxScaler()),
    ("rbm", BernoulliRBM(n_iter=20, random_state=0)),
    ("logistic", LogisticRegression(C=100, max_iter=1000)),
])

# %%
# Grid search over the RBM's size and learning rate (2 x 2 grid, 3-fold CV)
search = GridSearchCV(
    pipe,
    {"rbm__n_components": [64, 100], "rbm__learning_rate": [0.02, 0.06]},
    cv=3,
    n_jobs=2,
)
t0 = time.perf_counter()
search.fit(X_train, y_train)
print(f"grid search time: {time.perf_counter() - t0:.1f} s")
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy (RBM features): {search.score(X_test, y_test):.3f}")

raw = Pipeline([("scale", MinMaxScaler()),
                ("logistic", LogisticRegression(C=100, max_iter=1000))])
raw.fit(X_train, y_train)
print(f"test accuracy (raw pixels):   {raw.score(X_test, y_test):.3f}")

# %%
# The learned filters: one 8x8 image per hidden unit
rbm = search.best_estimator_.named_steps["rbm"]
n = rbm.components_.shape[0]
cols = 10
rows = int(np.ceil(n / cols))
fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9))
for k, ax in enumerate(axes.ravel()):
    ax.set_axis_off()
    if k < n:
        ax.imshow(rbm.components_[k].reshape(8, 8), cmap=plt.cm.gray_r,
                  interpolation="nearest")
fig.suptitle(f"{n} components extracted by BernoulliRBM", fontsize=12)
fig.tight_layout()
if matplotlib.get_backend().lower() == "agg":
    out_dir = os.environ.get("SKNETS_EXAMPLE_OUT", ".")
    out = os.path.join(out_dir, "rbm_digits_filters.png")
    fig.savefig(out)
    print("figure saved to", out)
else:
    plt.show()
