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


@register("KMeans", "cluster digits (k=10)")
def _tour_kmeans(quick):
    """KMeans on standardized digits; score: adjusted Rand index of the test-set
    cluster assignments against the true digit labels (1 = perfect, 0 = chance)."""
    from sklearn.metrics import adjusted_rand_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sknets import KMeans

    X_train, X_test, y_train, y_test = digits_split()
    pipe = make_pipeline(StandardScaler(),
                         KMeans(n_clusters=10, n_init=2 if quick else 10, random_state=0))
    pipe.fit(X_train)
    return "ARI", adjusted_rand_score(y_test, pipe.predict(X_test))
