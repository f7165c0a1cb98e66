"""What DBNClassifier and Autoencoder share: the fitted-state plumbing of a network
estimator whose hidden layers may start from a stack of pre-trained RBMs."""

import warnings
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from sknets.nn import Dense, Dropout, make_activation
from sknets.nn._estimator import NetworkTrainingMixin
from sknets.utils._random import make_generator
from sknets.utils._validation import as_sizes

from ._layers import make_corruption
from ._pretrain import check_unit_interval, per_layer, pretrain_stack

__all__ = ["NOISE_PARAMETERS", "PretrainedNetworkBase", "as_sizes", "run_layers"]

NOISE_PARAMETERS = {
    "noise": [StrOptions({"masking", "gaussian"}), None],
    "noise_level": [Interval(Real, 0, None, closed="left")],
}


def run_layers(layers, X, chunk=512):
    """Inference through ``layers`` (a part of a network), ``chunk`` rows at a time."""
    out = []
    for start in range(0, X.shape[0], chunk):
        x = X[start:start + chunk]
        for layer in layers:
            x = layer.forward(x, training=False)
        out.append(x)
    return np.concatenate(out)


class PretrainedNetworkBase(NetworkTrainingMixin, BaseEstimator):
    """Shared parts: RBM pre-training of the first hidden layers, the inference copy,
    the input standardisation, unfitting after a first fit that diverged."""

    _caches = ("_inference_cache",)
    # fine-tuning is dense layers only: its work is BLAS's matrix products (no Numba
    # kernel competes for the cores), so BLAS gets the threads n_jobs allows
    _blas_threads = "n_jobs"

    # ---------------------------------------------------------------- layers

    @staticmethod
    def _hidden_block(units, activation, dropout=0.0):
        """Dense -> activation (-> Dropout) for one hidden layer."""
        init = "he" if activation == "relu" else "glorot"
        layers = [Dense(units, init=init), make_activation(activation)]
        if dropout > 0:
            layers.append(Dropout(dropout))
        return layers

    def _pretrain(self, X, sizes, visible_unit):
        """Fit the RBM stack on X (already in the network's input space)."""
        n = len(sizes)
        return pretrain_stack(
            X, sizes, visible_unit=visible_unit,
            n_iter=per_layer(self.pretrain_n_iter, n, "pretrain_n_iter", int),
            learning_rate=per_layer(self.pretrain_learning_rate, n,
                                    "pretrain_learning_rate", float),
            batch_size=self.pretrain_batch_size, n_gibbs_steps=self.n_gibbs_steps,
            persistent=self.persistent, momentum=self.pretrain_momentum,
            weight_decay=self.pretrain_weight_decay, rng=self._rng,
            verbose=int(self.verbose), owner=type(self).__name__)

    # ------------------------------------------------------- input noise

    def _check_noise(self):
        if self.noise == "masking" and self.noise_level >= 1:
            raise ValueError(f"noise='masking' needs noise_level in [0, 1) (the masked "
                             f"fraction), got {self.noise_level}")

    def _corruption(self):
        """The ``input_transform`` of the training problem (None without noise)."""
        if self.noise is None or self.noise_level == 0:
            return None
        # a masked entry takes the network-space value of X = 0
        zero = self._scaled(np.zeros((1, self.n_features_in_)))[0]
        return make_corruption(self.noise, float(self.noise_level), zero=zero,
                               scale=self.input_scale_, rng=self._rng,
                               dtype=self._float_dtype())

    # ------------------------------------------------------- input scaling

    def _fit_scaling(self, X, standardise):
        """Per-feature mean and one overall scale (Gaussian units), or none."""
        if standardise:
            self.input_mean_ = X.mean(axis=0).astype(np.float64)
            scale = float(np.sqrt(np.mean((X - self.input_mean_) ** 2)))
            self.input_scale_ = scale if scale > 0 and np.isfinite(scale) else 1.0
        else:
            self.input_mean_ = np.zeros(X.shape[1])
            self.input_scale_ = 1.0

    def _scaled(self, X, dtype=None):
        """X in the network's input space."""
        dtype = self._float_dtype() if dtype is None else dtype
        if self.input_scale_ == 1.0 and not self.input_mean_.any():
            return np.ascontiguousarray(X, dtype=dtype)
        out = (X - self.input_mean_) * (1.0 / self.input_scale_)
        return np.ascontiguousarray(out, dtype=dtype)

    def _warn_unit_interval(self, X):
        if not check_unit_interval(X):
            warnings.warn(
                f"{type(self).__name__} with visible_unit='bernoulli' pre-trains on X "
                f"as probabilities and expects it in [0, 1]; values outside are used "
                f"as given. Scale X with MinMaxScaler, or use visible_unit='gaussian' "
                f"for real-valued data.", UserWarning, stacklevel=4)

    # ------------------------------------------------------ fitted state

    def _new_state(self):
        self._rng = make_generator(self.random_state)

    def _train(self, model, *, incremental, first):
        """The shared loop on ``model``; a first fit that diverges leaves the
        estimator unfitted."""
        self._inference_cache = {}
        self._run_training(model, incremental=incremental,
                           forget=self._forget if first else None)
        if hasattr(self, "network_"):
            self._inference_cache = {}   # a roll-back may have restored older weights
        return self

    def _inference_network(self):
        # inference runs in float64 from the trained weights: a row's output then
        # does not depend on the other rows of the batch (float32 BLAS rounding
        # does). The copy is made on the first prediction after training, once per
        # optimizer step count (a callback that predicts between epochs sees the
        # current weights), into a holder that training replaces: a cache, not
        # fitted state (prediction leaves the attributes as they are; making the
        # copy after every partial_fit would cost a sixth of an epoch on digits).
        # It is not pickled.
        cache = self.__dict__.get("_inference_cache")
        if cache is None:
            cache = self._inference_cache = {}
        step = self._optimizer.t
        if cache.get("step") != step:
            cache["net"] = self.network_.astype(np.float64)
            cache["step"] = step
        return cache["net"]

    def __setstate__(self, state):
        super().__setstate__(state)
        if "network_" in state:
            self._inference_cache = {}
