"""Clustering estimators: KMeans and MeanShift with Numba kernels."""

from .. import utils as _utils  # noqa: F401  (Numba cache check before the kernels)
from ._bandwidth import estimate_bandwidth, get_bin_seeds
from ._kmeans import KMeans
from ._kmeans_functions import k_means, kmeans_plusplus
from ._mean_shift import MeanShift, mean_shift

__all__ = [
    "KMeans",
    "MeanShift",
    "estimate_bandwidth",
    "get_bin_seeds",
    "k_means",
    "kmeans_plusplus",
    "mean_shift",
]
