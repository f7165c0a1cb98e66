"""Entries of the ``python -m sknets`` tour: one per public estimator.

Each entry fits one estimator inside a ``Pipeline`` on scikit-learn's bundled digits
(75/25 split, ``random_state=0``) and returns ``(label, score)``.
"""

from dataclasses import dataclass
from typing import Callable

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@dataclass
class TourEntry:
    name: str
    task: str
    fn: Callable

    def run(self, quick=False):
        return self.fn(quick)


TOUR = []


def register(name, task):
    """Decorator adding a tour entry; the function takes ``quick`` and returns (label, score)."""

    def deco(fn):
        TOUR.append(TourEntry(name, task, fn))
        return fn

    return deco


@register("ConvNetClassifier", "classification (CNN, digits 8x8)")
def _tour_convnet(quick):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from sknets import ConvNetClassifier

    X_train, X_test, y_train, y_test = digits_split()
    # a smaller net than the defaults (which reach ~0.99 in 30 epochs) to stay quick
    clf = ConvNetClassifier(filters=(16, 32), hidden_layer_sizes=(64,), dropout=0.25,
                            learning_rate_init=3e-3, max_iter=3 if quick else 15,
                            random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(MinMaxScaler(), clf).fit(X_train, y_train)
    return "accuracy", pipe.score(X_test, y_test)
