"""Defaults that work: a fast subset of ``benchmarks/bench_defaults.py``.

The estimators with their default settings on the data their docstrings name, seeds
0, 1 and 2, for the estimators whose default fit takes about a second (the others
are in the benchmark only); the bars are the benchmark's. Nothing is timed.
"""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknets import KMeans, MeanShift, SpikeSlabRBM


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spike_slab_rbm_default_pipeline_on_digits(digits_split, seed):
    Xtr, Xte, ytr, yte = digits_split
    pipe = make_pipeline(StandardScaler(), SpikeSlabRBM(random_state=seed),
                         LogisticRegression(max_iter=2000)).fit(Xtr, ytr)
    assert pipe.score(Xte, yte) >= 0.95


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_defaults_match_scikit_learn_on_blobs(seed):
    X, truth = make_blobs(3000, centers=8, n_features=10, cluster_std=2.5,
                          random_state=seed)
    ours = KMeans(n_clusters=8, random_state=seed).fit(X)
    theirs = SkKMeans(n_clusters=8, random_state=seed).fit(X)
    assert (adjusted_rand_score(truth, ours.labels_)
            >= adjusted_rand_score(truth, theirs.labels_) - 0.02)
    assert ours.inertia_ <= 1.01 * theirs.inertia_


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_shift_defaults_find_the_blobs(seed):
    X, truth = make_blobs(1000, centers=[[1, 1], [-1, -1], [1, -1]], cluster_std=0.4,
                          random_state=seed)
    est = MeanShift().fit(X)
    assert len(est.cluster_centers_) == 3
    assert adjusted_rand_score(truth, est.labels_) >= 0.9
    # every centre near one true centre
    centres = np.array([[1, 1], [-1, -1], [1, -1]])
    dist = np.linalg.norm(est.cluster_centers_[:, None] - centres[None], axis=2)
    assert sorted(dist.argmin(axis=1)) == [0, 1, 2] and dist.min(axis=1).max() < 0.2
