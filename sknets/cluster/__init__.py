"""Clustering estimators: KMeans and MeanShift with Numba kernels."""

from ._kmeans import KMeans, k_means, kmeans_plusplus
from ._bandwidth import estimate_bandwidth, get_bin_seeds
from ._mean_shift import MeanShift, mean_shift

__all__ = [
    "KMeans",
    "k_means",
    "kmeans_plusplus",
    "MeanShift",
    "estimate_bandwidth",
    "get_bin_seeds",
    "mean_shift",
]
