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
    """Decorator adding a tour entry: ``fn(quick) -> (label, score)``."""

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


@register("SpikeSlabRBM", "ssRBM features + logistic reg.")
def _tour_spike_slab_rbm(quick=False):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sknets import SpikeSlabRBM

    X_train, X_test, y_train, y_test = digits_split()
    pipe = Pipeline([
        ("scale", StandardScaler()),  # real-valued model: centred, unit-scale inputs
        ("rbm", SpikeSlabRBM(n_components=100, transform_output="both",
                             n_iter=5 if quick else 10, random_state=0)),
        ("logistic", LogisticRegression(max_iter=1000)),
    ])
    pipe.fit(X_train, y_train)
    return "accuracy", pipe.score(X_test, y_test)


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


@register("GANSampler", "generate digits (500 samples)")
def _tour_gan(quick):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sknets import GANSampler

    X_train, X_test, y_train, y_test = digits_split()
    pipe = make_pipeline(GANSampler(generator_layer_sizes=(64, 64),
                                    discriminator_layer_sizes=(64, 64),
                                    output_activation="tanh", noise_dim=16,
                                    learning_rate_init=1e-3,
                                    max_iter=10 if quick else 60, random_state=0))
    pipe.fit(X_train)
    samples = pipe[-1].sample(500, random_state=1)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(X_train, y_train)
    hist = np.bincount(clf.predict(samples), minlength=10) / 500
    hist = hist[hist > 0]
    # entropy of the predicted-class histogram of the samples (log 10 = 2.303 is ideal)
    return "class entropy", float(-np.sum(hist * np.log(hist)))


@register("DBNClassifier", "classification (deep belief net)")
def _tour_dbn(quick):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from sknets import DBNClassifier

    X_train, X_test, y_train, y_test = digits_split()
    clf = DBNClassifier(pretrain_n_iter=5 if quick else 50,
                        max_iter=10 if quick else 300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(MinMaxScaler(), clf).fit(X_train, y_train)
    return "accuracy", pipe.score(X_test, y_test)


@register("Autoencoder", "10 codes + logistic regression")
def _tour_autoencoder(quick):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from sknets import Autoencoder

    X_train, X_test, y_train, y_test = digits_split()
    # the defaults (max_iter=1000, ~4 s) end at max_iter on digits with the loss
    # still falling slowly: the tour shows the figure, not that warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(MinMaxScaler(),
                             Autoencoder(n_components=10,
                                         **({"max_iter": 20} if quick else {}),
                                         random_state=0),
                             LogisticRegression(max_iter=1000))
        pipe.fit(X_train, y_train)
    return "accuracy", pipe.score(X_test, y_test)


@register("KMeans", "cluster digits (k=10)")
def _tour_kmeans(quick):
    """KMeans on standardized digits; score: adjusted Rand index of the test-set
    cluster assignments against the true digit labels (1 = perfect, 0 = chance)."""
    from sklearn.metrics import adjusted_rand_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sknets import KMeans

    X_train, X_test, y_train, y_test = digits_split()
    pipe = make_pipeline(
        StandardScaler(),
        KMeans(n_clusters=10, n_init=2 if quick else 10, random_state=0))
    pipe.fit(X_train)
    return "ARI", adjusted_rand_score(y_test, pipe.predict(X_test))


@register("MeanShift", "cluster digits (PCA-2), ARI")
def _tour_mean_shift(quick):
    """MeanShift on a 2-D PCA of standardized digits; adjusted Rand index vs digits.

    Clustering digits in two PCA dimensions is hard: the score is the agreement of
    the clusters found on the test split with the true digits (ARI, 0 = chance).
    """
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sknets import MeanShift

    X_train, X_test, y_train, y_test = digits_split()
    pipe = make_pipeline(StandardScaler(), PCA(n_components=2, random_state=0),
                         MeanShift(bandwidth=1.0, bin_seeding=quick))
    pipe.fit(X_train)
    return "ARI", adjusted_rand_score(y_test, pipe.predict(X_test))


# --------------------------------------------------------------------------------------
# ``python -m sknets warmup``: compile every estimator's kernels ahead of time


@dataclass
class WarmupEntry:
    name: str
    fn: Callable  # fn(dtype) fits the estimator on tiny data of that dtype


WARMUP = []


def register_warmup(name):
    """Decorator adding a warm-up entry; the function takes a dtype and fits tiny data.

    It should reach every kernel the estimator's defaults (and its common options) call,
    so that a user's first real fit loads everything from Numba's cache.
    """

    def deco(fn):
        WARMUP.append(WarmupEntry(name, fn))
        return fn

    return deco


def _tiny_digits(dtype, n=120):
    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16.0).astype(dtype), y[:n]


@register_warmup("BernoulliRBM")
def _warmup_bernoulli_rbm(dtype):
    from sknets import BernoulliRBM

    X, _ = _tiny_digits(dtype)
    BernoulliRBM(n_iter=1, random_state=0).fit(X).transform(X)
    # a minibatch large enough for the blocked (multi-threaded) kernel too
    BernoulliRBM(n_components=256, batch_size=100, n_iter=1, random_state=0).fit(X)


@register_warmup("SpikeSlabRBM")
def _warmup_spike_slab_rbm(dtype):
    from sknets import SpikeSlabRBM

    X, _ = _tiny_digits(dtype)
    SpikeSlabRBM(n_iter=1, random_state=0).fit(X - X.mean(axis=0)).transform(X)


@register_warmup("ConvNetClassifier")
def _warmup_convnet(dtype):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from sknets import ConvNetClassifier

    X, y = _tiny_digits(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ConvNetClassifier(max_iter=1, random_state=0).fit(X, y).predict_proba(X)


@register_warmup("GANSampler")
def _warmup_gan(dtype):
    import warnings

    import numpy as np

    from sknets import GANSampler

    X = np.random.RandomState(0).normal(4, 0.5, size=(200, 1)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GANSampler(max_iter=1, random_state=0).fit(X).sample(10, random_state=0)


@register_warmup("DBNClassifier")
def _warmup_dbn(dtype):
    import warnings

    from sknets import Autoencoder, DBNClassifier

    X, y = _tiny_digits(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DBNClassifier(hidden_layer_sizes=(16,), pretrain_n_iter=1, max_iter=1,
                      dtype=str(X.dtype), random_state=0).fit(X, y).predict_proba(X)
        ae = Autoencoder(n_components=4, hidden_layer_sizes=(8,), max_iter=1,
                         dtype=str(X.dtype), random_state=0).fit(X)
        ae.inverse_transform(ae.transform(X))


@register_warmup("KMeans")
def _warmup_kmeans(dtype):
    import warnings

    import numpy as np
    import scipy.sparse as sp
    from sklearn.exceptions import ConvergenceWarning

    from sknets import KMeans

    rng = np.random.RandomState(0)
    for d in (2, 20):  # the 2-D and the BLAS paths share one kernel
        X = rng.rand(300, d).astype(dtype)
        km = KMeans(4, n_init=1, random_state=0).fit(X)
        km.predict(X), km.transform(X), km.score(X)
    KMeans(4, algorithm="elkan", n_init=1, random_state=0).fit(X)
    KMeans(4, n_init=1, random_state=0).fit(sp.csr_matrix(X))
    # duplicate points: an empty cluster is relocated (and a warning says so)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        KMeans(3, n_init=1, init=X[:3], random_state=0).fit(
            np.repeat(X[:2], 10, axis=0))


@register_warmup("MeanShift")
def _warmup_mean_shift(dtype):
    import numpy as np

    from sknets import MeanShift

    X = np.random.RandomState(0).rand(200, 2).astype(dtype)
    MeanShift().fit(X).predict(X)  # the bandwidth estimate too
    MeanShift(bandwidth=0.3, kernel="gaussian").fit(X)


@register("VariationalAutoencoder", "10 codes + logistic regression")
def _tour_vae(quick):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from sknets import VariationalAutoencoder

    X_train, X_test, y_train, y_test = digits_split()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(MinMaxScaler(),
                             VariationalAutoencoder(n_components=10,
                                                    max_iter=10 if quick else 100,
                                                    random_state=0),
                             LogisticRegression(max_iter=1000))
        pipe.fit(X_train, y_train)
    return "accuracy", pipe.score(X_test, y_test)


@register("VAEClassifier", "classification with 10 % of the labels")
def _tour_vae_classifier(quick):
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from sknets import VAEClassifier

    X_train, X_test, y_train, y_test = digits_split()
    y_partial = y_train.copy()
    y_partial[np.random.default_rng(0).random(len(y_partial)) >= 0.1] = -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(MinMaxScaler(),
                             VAEClassifier(max_iter=5 if quick else 100,
                                           random_state=0))
        pipe.fit(X_train, y_partial)
    return "accuracy", pipe.score(X_test, y_test)


@register_warmup("VariationalAutoencoder")
def _warmup_vae(dtype):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from sknets import VariationalAutoencoder

    X, _ = _tiny_digits(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for likelihood in ("bernoulli", "gaussian"):   # the fused kernel's two paths
            vae = VariationalAutoencoder(n_components=2, hidden_layer_sizes=(16,),
                                         likelihood=likelihood, max_iter=1,
                                         dtype=str(X.dtype), random_state=0).fit(X)
            vae.score_samples(X), vae.sample(2)
