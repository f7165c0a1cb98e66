"""
=====================================================
Spike-and-slab RBM features for digit classification
=====================================================

A :class:`sknets.SpikeSlabRBM` models standardised 8x8 digits (real-valued inputs, no
binarisation); a logistic regression classifies its features. A small
``GridSearchCV`` (``n_jobs=2``) picks the feature set (spikes ``E[h|v]`` alone, or
spikes and slabs ``E[h s|v]`` together) and the number of epochs, scoring the downstream
classifier (``SpikeSlabRBM`` has no ``score`` of its own: its ``score_samples`` is an
unnormalised log-density that ranks samples within one model only). The figure shows
the first filter of the first spikes of the best model. Bundled data, headless.
"""

import os
import time

import matplotlib

if not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknets import SpikeSlabRBM  # noqa: E402

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                    random_state=0)

pipe = Pipeline([
    ("scale", StandardScaler()),  # the model expects centred, unit-scale inputs
    ("rbm", SpikeSlabRBM(n_components=100, n_slabs=2, random_state=0)),
    ("logistic", LogisticRegression(max_iter=1000)),
])
search = GridSearchCV(
    pipe,
    {"rbm__transform_output": ["spike", "both"], "rbm__n_iter": [5, 10]},
    cv=3,
    n_jobs=2,
)
t0 = time.perf_counter()
search.fit(X_train, y_train)
print(f"grid search time: {time.perf_counter() - t0:.1f} s")
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy: {search.score(X_test, y_test):.3f}")

rbm = search.best_estimator_.named_steps["rbm"]
fig, axes = plt.subplots(4, 8, figsize=(8, 4.4))
for ax, w in zip(axes.ravel(), rbm.weights_[:, 0]):
    ax.imshow(w.reshape(8, 8), cmap="RdBu_r")
    ax.set_xticks(())
    ax.set_yticks(())
fig.suptitle("SpikeSlabRBM filters w_i1 on standardised digits")
fig.savefig("ssrbm_digits_filters.png", dpi=80)
if matplotlib.get_backend().lower() != "agg":
    plt.show()
