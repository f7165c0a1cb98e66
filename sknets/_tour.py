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


@register("BernoulliRBM", "RBM features + logistic regression")
def _tour_bernoulli_rbm(quick=False):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    from sknets import BernoulliRBM

    X_train, X_test, y_train, y_test = digits_split()
    pipe = Pipeline([
        ("scale", MinMaxScaler()),  # Bernoulli visible units want [0, 1]
        ("rbm", BernoulliRBM(n_components=100, learning_rate=0.06,
                             n_iter=5 if quick else 15, random_state=0)),
        ("logistic", LogisticRegression(C=10, max_iter=300)),
    ])
    pipe.fit(X_train, y_train)
    return "accuracy", pipe.score(X_test, y_test)
