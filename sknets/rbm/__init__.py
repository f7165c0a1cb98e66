"""Restricted Boltzmann machines: ``BernoulliRBM``, ``SpikeSlabRBM`` (and the shared base in ``_base``)."""

from ._bernoulli import BernoulliRBM
from ._spike_slab import SpikeSlabRBM

__all__ = ["BernoulliRBM", "SpikeSlabRBM"]
