"""Deep belief networks and autoencoders: RBM stacks and sknets.nn put together.

- :class:`DBNClassifier`: a stack of RBMs pre-trained greedily, layer by layer, then
  fine-tuned as a feed-forward classifier;
- :class:`Autoencoder`: an encoder / mirrored decoder network trained to reconstruct
  its input (optionally denoising, sparse, or with an RBM-pre-trained encoder).

Both train in the shared loop of :mod:`sknets.nn._training`; pre-training goes
through :class:`sknets.BernoulliRBM`'s estimator API (:mod:`sknets.dbn._pretrain`).
"""

from ._autoencoder import Autoencoder
from ._dbn import DBNClassifier

__all__ = ["Autoencoder", "DBNClassifier"]
