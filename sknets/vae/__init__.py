"""Variational autoencoders: :class:`VariationalAutoencoder` and the semi-supervised
:class:`VAEClassifier` (M2), built on :mod:`sknets.nn` and its training loop."""

from sknets.vae._classifier import VAEClassifier
from sknets.vae._vae import VariationalAutoencoder

__all__ = ["VAEClassifier", "VariationalAutoencoder"]
