"""Restricted Boltzmann machines: ``BernoulliRBM``, ``SpikeSlabRBM``.

Their shared base lives in ``_base``.
"""

from ._bernoulli import BernoulliRBM
from ._spike_slab import SpikeSlabRBM

__all__ = ["BernoulliRBM", "SpikeSlabRBM"]
