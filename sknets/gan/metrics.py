"""Toy data and sample-quality measures for generative models.

The checks of :class:`sknets.GANSampler` (``benchmarks/bench_gan.py``, the examples):
a 1-D Gaussian, the ring of eight Gaussians (the mode-collapse test of the Unrolled-GAN,
VEEGAN and PacGAN papers) and scikit-learn's 8x8 digits judged by a classifier and a
Fréchet distance. They take any array of samples, so they judge any sampler
(``GaussianMixture.sample`` as well).
"""

import numpy as np
from scipy import linalg, stats

__all__ = ["make_ring", "ring_metrics", "gaussian_metrics", "frechet_distance",
           "DigitsJudge"]


def make_ring(n_samples, n_modes=8, radius=2.0, std=0.02, random_state=0):
    """Points from a ring of Gaussians, the mode-collapse toy of GAN papers.

    Parameters
    ----------
    n_samples : int
    n_modes : int, default=8
    radius : float, default=2.0
    std : float, default=0.02
        Standard deviation of each mode.
    random_state : int or None, default=0

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    centers : ndarray of shape (n_modes, 2)

    Examples
    --------
    >>> from sknets.gan.metrics import make_ring, ring_metrics
    >>> X, centers = make_ring(1000)
    >>> ring_metrics(X, centers)[0]
    8
    """
    rng = np.random.default_rng(random_state)
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    centers = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    labels = rng.integers(n_modes, size=n_samples)
    return centers[labels] + std * rng.standard_normal((n_samples, 2)), centers


def ring_metrics(samples, centers, std=0.02, min_fraction=0.01):
    """Modes covered and fraction of high-quality samples of a ring.

    A sample is high quality within 3 ``std`` of its nearest mode; a mode is covered
    when at least ``min_fraction`` of all samples are high-quality samples of it.

    Returns
    -------
    modes : int
    high_quality : float
    """
    d = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=2)
    nearest = d.argmin(axis=1)
    good = d[np.arange(len(samples)), nearest] < 3 * std
    counts = np.bincount(nearest[good], minlength=len(centers))
    return int(np.sum(counts >= min_fraction * len(samples))), float(good.mean())


def gaussian_metrics(samples, mean, std):
    """Sample mean, sample standard deviation and the Kolmogorov-Smirnov statistic
    against N(mean, std^2).

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.gan.metrics import gaussian_metrics
    >>> m, s, ks = gaussian_metrics(np.random.default_rng(0).normal(4, 1, 5000), 4, 1)
    >>> bool(ks < 0.03)
    True
    """
    samples = np.ravel(samples)
    ks = stats.kstest(samples, "norm", args=(mean, std)).statistic
    return float(samples.mean()), float(samples.std()), float(ks)


def frechet_distance(A, B):
    """Fréchet distance between Gaussians fitted to the rows of A and of B:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (the FID formula).

    Examples
    --------
    >>> import numpy as np
    >>> from sknets.gan.metrics import frechet_distance
    >>> A = np.random.default_rng(0).normal(size=(2000, 3))
    >>> round(frechet_distance(A, A + [2.0, 0, 0]), 6)
    4.0
    """
    mu_a, mu_b = A.mean(axis=0), B.mean(axis=0)
    s_a, s_b = np.cov(A, rowvar=False), np.cov(B, rowvar=False)
    covmean = np.real(linalg.sqrtm(s_a @ s_b))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * covmean))


class DigitsJudge:
    """Measures of generated 8x8 digits.

    A logistic-regression classifier and a PCA to 20 dimensions are fitted on the real
    training rows; :meth:`score` reports on samples the classifier's mean confidence,
    the entropy of the histogram of predicted classes (log 10 = 2.303 when all classes
    are equally frequent), the number of classes present and the Fréchet distance to
    the real test rows in PCA space; ``floor`` is that distance between the real
    training and test rows.

    Parameters
    ----------
    X_train, y_train : ndarray
        Real training digits and labels.
    X_test : ndarray
        Real held-out digits.
    random_state : int, default=0
    """

    def __init__(self, X_train, y_train, X_test, random_state=0):
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        self.clf.fit(X_train, y_train)
        self.pca = PCA(20, random_state=random_state).fit(X_train)
        self.test_features = self.pca.transform(X_test)
        self.floor = frechet_distance(self.pca.transform(X_train), self.test_features)

    def score(self, samples):
        """Dict of ``confidence``, ``class_entropy``, ``classes_present``,
        ``frechet`` and ``frechet_floor`` for the rows of ``samples``."""
        proba = self.clf.predict_proba(samples)
        hist = np.bincount(proba.argmax(axis=1), minlength=10) / len(samples)
        nz = hist[hist > 0]
        return {
            "confidence": float(proba.max(axis=1).mean()),
            "class_entropy": float(-np.sum(nz * np.log(nz))),
            "classes_present": int(np.sum(hist > 0)),
            "frechet": frechet_distance(self.pca.transform(samples),
                                        self.test_features),
            "frechet_floor": self.floor,
        }
