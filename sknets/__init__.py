"""sknets: scikit-learn-compatible neural-network, generative and clustering estimators.

The hot loops are Numba kernels; the estimators follow scikit-learn's conventions
(``fit``/``transform``/``predict``, ``_parameter_constraints``, fitted attributes ending
in ``_``) so they work in ``Pipeline``, ``GridSearchCV``, ``clone`` and pickling.
"""

__version__ = "0.1.0.dev0"

from sknets.cluster import KMeans, MeanShift
from sknets.convnet import ConvNetClassifier, ConvNetRegressor
from sknets.dbn import Autoencoder, DBNClassifier
from sknets.gan import GANSampler
from sknets.rbm import BernoulliRBM, SpikeSlabRBM
from sknets.vae import VAEClassifier, VariationalAutoencoder

__all__ = [
    "Autoencoder",
    "BernoulliRBM",
    "ConvNetClassifier",
    "ConvNetRegressor",
    "DBNClassifier",
    "GANSampler",
    "KMeans",
    "MeanShift",
    "SpikeSlabRBM",
    "VAEClassifier",
    "VariationalAutoencoder",
]
