"""
=================================================
A convolutional network on the digits, end to end
=================================================

``sknets.ConvNetClassifier`` on scikit-learn's 8x8 digits (bundled, nothing
downloaded): learning curves (training loss and validation accuracy with early
stopping), the confusion matrix on the held-out quarter, the misclassified digits, and a
``GridSearchCV`` over two parameters of a ``Pipeline``.
"""

import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from sknets import ConvNetClassifier  # noqa: E402

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                    random_state=0)

# %%
# Fit with early stopping: 10 % of the training rows are held out for validation
clf = ConvNetClassifier(early_stopping=True, n_iter_no_change=5, max_iter=40,
                        random_state=0)
t0 = time.perf_counter()
clf.fit(X_train, y_train)
print(f"fit: {clf.n_iter_} epochs in {time.perf_counter() - t0:.1f}s, "
      f"best validation accuracy {clf.best_validation_score_:.4f}, "
      f"test accuracy {clf.score(X_test, y_test):.4f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].plot(np.arange(1, clf.n_iter_ + 1), clf.loss_curve_, marker="o")
axes[0].set(xlabel="epoch", ylabel="training loss", title="Training loss")
axes[1].plot(np.arange(1, clf.n_iter_ + 1), clf.validation_scores_, marker="o",
             color="tab:green")
axes[1].set(xlabel="epoch", ylabel="accuracy", title="Validation accuracy")
fig.tight_layout()
fig.savefig("convnet_learning_curves.png")

# %%
# Confusion matrix on the test quarter
pred = clf.predict(X_test)
disp = ConfusionMatrixDisplay.from_predictions(y_test, pred)
disp.ax_.set_title("ConvNetClassifier on digits (test)")
disp.figure_.savefig("convnet_confusion.png")

# %%
# The misclassified test digits, with the predicted and the true label
wrong = np.flatnonzero(pred != y_test)
n_show = max(1, min(len(wrong), 10))
fig, axes = plt.subplots(1, n_show, figsize=(1.6 * n_show, 2.2), squeeze=False)
for ax in axes[0]:
    ax.axis("off")
for ax, i in zip(axes[0], wrong[:n_show]):
    ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{pred[i]} (true {y_test[i]})", fontsize=9)
fig.suptitle(f"{len(wrong)} misclassified of {len(y_test)}")
fig.savefig("convnet_misclassified.png")

# %%
# A grid search over two parameters of a pipeline (small nets, few epochs, 2 workers)
pipe = make_pipeline(MinMaxScaler(), ConvNetClassifier(hidden_layer_sizes=(32,),
                                                       dropout=0.0, max_iter=8,
                                                       random_state=0))
grid = GridSearchCV(pipe, {"convnetclassifier__filters": [(8,), (8, 16)],
                           "convnetclassifier__learning_rate_init": [1e-3, 1e-2]},
                    cv=2, n_jobs=2)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    grid.fit(X_train, y_train)
for params, score in zip(grid.cv_results_["params"],
                         grid.cv_results_["mean_test_score"]):
    print(f"  {params}: CV accuracy {score:.4f}")
print(f"best: {grid.best_params_}, test accuracy {grid.score(X_test, y_test):.4f}")
plt.close("all")
