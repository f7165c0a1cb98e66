"""What the network estimators share on top of the training loop.

- :data:`TRAINING_PARAMETERS`: the ``_parameter_constraints`` of the training settings
  that keep MLPClassifier's names (``solver``, ``alpha``, ``batch_size``,
  ``learning_rate``, ``learning_rate_init``, ``max_iter``, ``early_stopping``, ...);
- :class:`NetworkTrainingMixin`: turns those settings into an optimizer
  (:func:`sknets.nn.optimizers.make_solver`) and a call of
  :func:`sknets.nn._training.train`, and copies the history to the fitted attributes
  (``loss_curve_``, ``validation_scores_``, ``best_loss_``, ``n_iter_``, ``t_``,
  ``history_``);
- :class:`SupervisedModel`: the training problem "a network, a loss on its output, a
  target per row" used by the classifiers, the regressor and the autoencoders;
- :func:`image_shape_of_4d`, :func:`image_shape_of_rows`: the ``(channels, height,
  width)`` of the images a convolutional estimator is fitted on, from 4-D input or
  from flat rows and its ``image_shape`` parameter.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from sknets.nn._training import MinibatchModel, TrainingHistory, train
from sknets.nn.optimizers import SOLVERS, make_solver
from sknets.utils._validation import as_sizes

__all__ = ["TRAINING_PARAMETERS", "NetworkTrainingMixin", "SupervisedModel",
           "forward_in_chunks", "image_shape_of_4d", "image_shape_of_rows"]

TRAINING_PARAMETERS = {
    "solver": [StrOptions(set(SOLVERS))],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "callbacks": [list, tuple, callable, None],
    "n_jobs": [Integral, None],
}


# numpydoc entries of the training parameters whose meaning does not depend on the
# estimator, for the docstrings of the estimators that take them
MOMENTUM_PARAMS_DOC = """\
    momentum : float, default=0.9
        Momentum of "sgd", "momentum" and "nesterov".
    nesterovs_momentum : bool, default=True
        Nesterov momentum for "sgd".
"""
STOPPING_PARAMS_DOC = """\
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
        Adam / RMSprop / Adagrad numerical stability constant.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
"""


class NetworkTrainingMixin:
    """Training settings -> optimizer and loop; history -> fitted attributes.

    The estimator defines the parameters of :data:`TRAINING_PARAMETERS` it uses and
    ``_divergence_remedy`` (a string); ``_blas_threads`` (class attribute) is the BLAS
    thread limit during training: one by default, as the matrix products of a
    minibatch step are small and BLAS threads next to Numba's only contend for the
    cores (``"n_jobs"``: as many as ``n_jobs`` allows, for networks that run no Numba
    kernel). ``_private_state`` names the private attributes of
    the fitted state and ``_caches`` the inference copies made from it (not
    pickled); :meth:`_forget` drops both with the fitted attributes.
    """

    _blas_threads = 1
    _private_state = ("_optimizer", "_history")
    _caches = ()

    def _forget(self):
        """A first fit that learned nothing usable leaves the estimator unfitted."""
        private = set(self._private_state) | set(self._caches)
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name in private:
                delattr(self, name)

    def __getstate__(self):
        state = super().__getstate__()
        for name in self._caches:
            state.pop(name, None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _float_dtype(self):
        return np.float64 if getattr(self, "dtype", "float32") == "float64" \
            else np.float32

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _make_optimizer(self, networks):
        """One optimizer over the flat parameters of ``networks`` (a list)."""
        params, masks = [], []
        for net in networks:
            params += net.flat_parameters()
            masks += net.flat_decay_mask()
        return make_solver(
            self.solver, params, learning_rate_init=self.learning_rate_init,
            schedule=self.learning_rate, power_t=self.power_t,
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            momentum=self.momentum, nesterovs_momentum=self.nesterovs_momentum,
            decay_mask=masks)

    def _callbacks(self):
        cbs = getattr(self, "callbacks", None)
        if cbs is None:
            return ()
        return (cbs,) if callable(cbs) else tuple(cbs)

    def _new_history(self, early_stopping):
        self._history = TrainingHistory(early_stopping)
        self._sync_history()

    def _run_training(self, model, *, incremental, forget=None, n_epochs=None):
        """Run the shared loop with the estimator's settings."""
        early = bool(getattr(self, "early_stopping", False)) and not incremental
        if early and self._history.validation_scores is None:
            self._history.validation_scores = []
            self._history.best_validation_score = -np.inf
        try:
            train(model, self._history, estimator=self,
                  n_epochs=(1 if incremental else self.max_iter) if n_epochs is None
                  else n_epochs,
                  rng=self._rng, batch_size=self._batch_size(model.n_samples),
                  remedy=self._divergence_remedy, incremental=incremental,
                  shuffle=self.shuffle, early_stopping=early, tol=self.tol,
                  n_iter_no_change=self.n_iter_no_change, verbose=self.verbose,
                  callbacks=self._callbacks(), n_jobs=getattr(self, "n_jobs", None),
                  blas_threads=self._blas_threads, forget=forget)
        finally:
            if hasattr(self, "_history"):
                self._sync_history()

    def _sync_history(self):
        h = self._history
        self.loss_curve_ = h.loss_curve
        self.loss_ = h.loss_curve[-1] if h.loss_curve else None
        self.validation_scores_ = h.validation_scores
        self.best_validation_score_ = h.best_validation_score
        self.best_loss_ = (None if h.validation_scores is not None else h.best_loss)
        self.n_iter_ = h.n_iter
        self.t_ = h.t
        self.history_ = h.records


class SupervisedModel(MinibatchModel):
    """A network trained on ``loss_fn(net(X), Y)`` with an L2 penalty.

    Parameters
    ----------
    net : sknets.nn.Sequential
    optimizer : sknets.nn.Optimizer
    X, Y : ndarray
        Inputs and targets (any shapes ``loss_fn`` accepts), indexed by row.
    loss_fn : callable
        ``loss_fn(output, target, sample_weight) -> (mean loss, dLoss/dOutput)``.
    alpha : float
        L2 strength, divided by the batch size as in MLPClassifier.
    sample_weight : ndarray of shape (n_samples,) or None
    validation : tuple (X_val, Y_val, score_fn) or None
        ``score_fn(output, Y_val) -> float`` (higher is better) on the network's
        inference output for ``X_val``.
    input_transform : callable or None
        Applied to each minibatch of X in training (e.g. denoising corruption);
        ``input_transform(xb, idx) -> array``.
    """

    def __init__(self, net, optimizer, X, Y, loss_fn, *, alpha=0.0, sample_weight=None,
                 validation=None, input_transform=None):
        self.net, self.optimizer = net, optimizer
        self.X, self.Y, self.loss_fn = X, Y, loss_fn
        self.alpha = float(alpha)
        self.sample_weight = sample_weight
        self.validation = validation
        self.input_transform = input_transform
        self.n_samples = X.shape[0]
        self.optimizers = [optimizer]

    def train_batch(self, idx):
        xb = self.X[idx]
        if self.input_transform is not None:
            xb = self.input_transform(xb, idx)
        out = self.net.forward(xb, training=True)
        sw = None if self.sample_weight is None else self.sample_weight[idx]
        loss, grad = self.loss_fn(out, self.Y[idx], sw)
        # the input is data: a first Dense layer need not compute dLoss/dInput
        first = self.net.layers[0]
        first._input_grad = False
        try:
            self.net.backward(grad)
        finally:
            del first._input_grad
        self.optimizer.weight_decay = self.alpha / len(idx)
        self.optimizer.step()
        return {"loss": loss}

    def penalty(self):
        if self.alpha == 0:
            return 0.0
        p = self.net.flat_params
        return 0.5 * self.alpha * float(np.dot(p * self.net.flat_decay, p)) \
            / self._full_batch

    _full_batch = 1

    def train_epoch(self, order, batch_size, check):
        self._full_batch = batch_size
        return super().train_epoch(order, batch_size, check)

    def get_state(self):
        return {"net": self.net.get_state(), "opt": self.optimizer.get_state()}

    def set_state(self, state):
        self.net.set_state(state["net"])
        self.optimizer.set_state(state["opt"])

    def is_finite(self):
        return self.net.is_finite()

    def validation_loss(self):
        X_val, Y_val, _ = self.validation
        self._val_output = forward_in_chunks(self.net, X_val)
        return self.loss_fn(self._val_output, Y_val, None)[0]

    def validation_score(self):
        X_val, Y_val, score_fn = self.validation
        out = self.__dict__.pop("_val_output", None)
        if out is None:
            out = forward_in_chunks(self.net, X_val)
        return score_fn(out, Y_val)


def forward_in_chunks(net, X, chunk=512):
    """``net.forward(X)`` in inference mode, ``chunk`` rows at a time."""
    out = [net.forward(X[start:start + chunk], training=False)
           for start in range(0, X.shape[0], chunk)]
    if out:
        return np.concatenate(out)
    return np.empty((0,) + tuple(net.output_shape), dtype=net.dtype)


# channel counts of grey, RGB and RGBA images, to recognise channels-last input
_CHANNEL_COUNTS = (1, 3, 4)


def image_shape_of_4d(X, image_shape):
    """The ``(channels, height, width)`` of 4-D images ``X``, checked against the
    ``image_shape`` parameter (None, ``(h, w)`` or ``(c, h, w)``); channels-last
    input is refused unless ``image_shape`` says to use it as it is."""
    shape = tuple(int(s) for s in X.shape[1:])
    if image_shape is not None:
        given = as_sizes(image_shape, "image_shape")
        if given not in (shape, shape[1:]):
            raise ValueError(f"image_shape={image_shape} does not match the 4-D input "
                             f"of shape {X.shape}")
    elif shape[2] in _CHANNEL_COUNTS and shape[0] not in _CHANNEL_COUNTS:
        raise ValueError(
            f"X of shape {X.shape} looks channels-last (n, height, width, channels); "
            f"this estimator wants channels-first images: pass "
            f"X.transpose(0, 3, 1, 2), or set image_shape={shape} to use the array "
            f"as it is")
    return shape


def image_shape_of_rows(n_features, image_shape, dense_remedy):
    """The ``(channels, height, width)`` of flat rows of ``n_features``: the
    ``image_shape`` parameter, else a square single-channel image; ``dense_remedy``
    names the setting of a network for tabular data (in the error)."""
    if image_shape is not None:
        shape = as_sizes(image_shape, "image_shape")
        if len(shape) == 2:
            shape = (1,) + shape
        if len(shape) != 3 or int(np.prod(shape)) != n_features:
            raise ValueError(f"image_shape={image_shape} does not match "
                             f"n_features={n_features}")
        return shape
    side = int(round(np.sqrt(n_features)))
    if side * side == n_features:
        return (1, side, side)
    raise ValueError(
        f"X has {n_features} features, which are not a square single-channel image: "
        f"set image_shape=(channels, height, width) (e.g. (3, h, w) for flattened "
        f"RGB rows), or {dense_remedy}")
