"""Restricted Boltzmann machines."""
from ._spike_slab import SpikeSlabRBM  # noqa: F401
