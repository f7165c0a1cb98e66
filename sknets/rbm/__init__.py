"""Restricted Boltzmann machines: ``BernoulliRBM`` (and the shared base in ``_base``)."""

from ._bernoulli import BernoulliRBM

__all__ = ["BernoulliRBM"]

"""Restricted Boltzmann machines."""
from ._spike_slab import SpikeSlabRBM  # noqa: F401
