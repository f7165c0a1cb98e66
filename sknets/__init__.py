"""sknets: scikit-learn-compatible neural-network, generative and clustering estimators.

The hot loops are Numba kernels; the estimators follow scikit-learn's conventions
(``fit``/``transform``/``predict``, ``_parameter_constraints``, fitted attributes ending
in ``_``) so they work in ``Pipeline``, ``GridSearchCV``, ``clone`` and pickling.
"""

__version__ = "0.1.0.dev0"

__all__ = []

from sknets.gan import GANSampler  # noqa: E402

__all__ += ["GANSampler"]

from .cluster import KMeans  # noqa: E402

__all__ += ["KMeans"]

from .cluster import MeanShift  # noqa: E402

__all__ += ["MeanShift"]

from .rbm import BernoulliRBM  # noqa: E402

__all__ += ["BernoulliRBM"]

from .rbm import SpikeSlabRBM  # noqa: E402

__all__ += ["SpikeSlabRBM"]

from sknets.convnet import ConvNetClassifier  # noqa: E402

__all__ += ["ConvNetClassifier"]

