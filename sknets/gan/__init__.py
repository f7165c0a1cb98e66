"""Generative adversarial networks: :class:`GANSampler`."""

from sknets.gan._gan import GANSampler

__all__ = ["GANSampler"]
