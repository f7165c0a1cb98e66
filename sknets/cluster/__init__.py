"""Clustering estimators: KMeans (and MeanShift) with Numba kernels."""

from ._kmeans import KMeans, k_means, kmeans_plusplus

__all__ = [
    "KMeans",
    "k_means",
    "kmeans_plusplus",
]
