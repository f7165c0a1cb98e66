"""Restricted Boltzmann machines: ``BernoulliRBM``, ``SpikeSlabRBM`` (and the shared base in ``_base``)."""

"""Restricted Boltzmann machines: ``BernoulliRBM`` (and the shared base in ``_base``)."""

from ._bernoulli import BernoulliRBM
from ._spike_slab import SpikeSlabRBM

__all__ = ["BernoulliRBM", "SpikeSlabRBM"]

__all__ = ["BernoulliRBM"]
from ._spike_slab import SpikeSlabRBM  # noqa: E402,F401
