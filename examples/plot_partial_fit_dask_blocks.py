"""
=====================================================
Training an RBM on a dask array, block by block
=====================================================

Data larger than memory arrive as the blocks of a dask array. Estimators with
``partial_fit`` learn from them one block at a time, either through dask-ml's
:class:`~dask_ml.wrappers.Incremental` wrapper or with a plain loop over the blocks.

What one ``partial_fit`` call does depends on the estimator. For
:class:`sknets.BernoulliRBM` (exactly as for scikit-learn's) it is **one gradient step**
with the whole block as the minibatch; ``Incremental`` calls it once per block, so a few
big blocks give a few updates only. Worse, the negative phase uses ``batch_size``
persistent chains whatever the block size (as in scikit-learn), so with blocks much
larger than ``batch_size`` the positive phase dominates each step and the weights grow
without bound. Looping over minibatches of ``batch_size`` rows *inside* each block gives
the model exactly the updates ``fit`` makes, still holding one block in memory at a
time. This example compares the two on the digits (split into 6 blocks) and plots the
pseudo-likelihood of held-out digits as training goes, and the learned filters.
"""

# %%
# The data: digits scaled to [0, 1], as a dask array of 6 blocks
# ---------------------------------------------------------------
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask_ml.wrappers import Incremental
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches

from sknets import BernoulliRBM

X, _ = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
dX = da.from_array(X_train, chunks=(225, 64))
print(f"training rows: {X_train.shape[0]} in {dX.numblocks[0]} blocks of "
      f"{dX.chunks[0][0]} rows")

rbm = BernoulliRBM(n_components=64, learning_rate=0.06, batch_size=10, random_state=0)


def held_out_score(model):
    """Mean pseudo-likelihood of the held-out digits (higher is better)."""
    return float(np.mean(model.score_samples(X_test)))


# %%
# dask-ml's Incremental: one ``partial_fit`` (one RBM update) per block
# -----------------------------------------------------------------------
# ``shuffle_blocks=False`` keeps the blocks in order, so the run is reproducible.
n_passes = 5
t0 = time.perf_counter()
inc = Incremental(clone(rbm),
                  scoring=lambda est, X, y=None: np.mean(est.score_samples(X)),
                  shuffle_blocks=False)
inc_curve = []
for _ in range(n_passes):
    inc.partial_fit(dX)  # one call per block
    inc_curve.append(held_out_score(inc.estimator_))
t_inc = time.perf_counter() - t0
print(f"Incremental, {n_passes} passes: {n_passes * dX.numblocks[0]} updates, "
      f"{t_inc:.2f} s, held-out pseudo-likelihood {inc_curve[-1]:.2f}")

# %%
# A loop over minibatches inside each block
# -----------------------------------------
# One block is computed (loaded) at a time; within it, ``partial_fit`` sees minibatches
# of ``batch_size`` rows, as ``fit`` would.
t0 = time.perf_counter()
looped = clone(rbm)
loop_curve = []
for _ in range(n_passes):
    for block in dX.to_delayed().ravel():
        block = block.compute()
        for batch in gen_batches(block.shape[0], rbm.batch_size):
            looped.partial_fit(block[batch])
    loop_curve.append(held_out_score(looped))
t_loop = time.perf_counter() - t0
n_updates = n_passes * sum(-(-c // rbm.batch_size) for c in dX.chunks[0])
print(f"minibatch loop, {n_passes} passes: {n_updates} updates, {t_loop:.2f} s, "
      f"held-out pseudo-likelihood {loop_curve[-1]:.2f}")

# %%
# For reference, ``fit`` on the whole array in memory, with as many epochs:
t0 = time.perf_counter()
in_memory = clone(rbm).set_params(n_iter=n_passes).fit(X_train)
t_fit = time.perf_counter() - t0
print(f"fit in memory, {n_passes} epochs: {t_fit:.2f} s, held-out pseudo-likelihood "
      f"{held_out_score(in_memory):.2f}")

# %%
# Learning curves and filters
# ---------------------------
fig, ax = plt.subplots(figsize=(6, 4))
passes = np.arange(1, n_passes + 1)
ax.plot(passes, inc_curve, "o-", label="Incremental (one update per block)")
ax.plot(passes, loop_curve, "s-", label="minibatch loop over blocks")
ax.axhline(held_out_score(in_memory), color="k", ls="--", label="fit in memory")
ax.set_xlabel("passes over the dask array")
ax.set_ylabel("held-out pseudo-likelihood")
ax.set_title("BernoulliRBM trained block by block")
ax.legend()
fig.tight_layout()

fig, axes = plt.subplots(8, 8, figsize=(5, 5))
for component, ax in zip(looped.components_, axes.ravel()):
    ax.imshow(component.reshape(8, 8), cmap="gray_r", interpolation="nearest")
    ax.set_axis_off()
fig.suptitle("64 filters learned by the minibatch loop over dask blocks")
plt.show()
