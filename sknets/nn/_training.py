"""The training loop of every network estimator in sknets.

An estimator describes one training problem as a *model* object (below) and calls
:func:`train`; everything that is the same for a classifier, a GAN, a VAE or a DBN is
written here once:

- epochs of shuffled minibatches (or one call per epoch for a fused kernel);
- NaN/inf and loss explosions detected per minibatch and handled by the one
  divergence policy of :mod:`sknets.utils._divergence` (roll back, then warn or raise);
- the stopping rule of scikit-learn's MLP: ``tol`` and ``n_iter_no_change`` on the
  training loss, or on a validation score with ``early_stopping`` (best state kept);
- learning-rate schedules, which live in the optimizers
  (:meth:`~sknets.nn.Optimizer.iteration_ends`,
  :meth:`~sknets.nn.Optimizer.trigger_stopping`);
- ``verbose`` lines (the estimator's name, epoch, loss terms, validation figures,
  time) with the stopping message after the last epoch's line;
- callbacks ``cb(estimator, record) -> bool`` after every epoch (True stops), and a
  per-epoch record list (the estimators' ``history_``);
- thread limits for the Numba kernels and BLAS (:mod:`sknets.utils._threads`);
- an interrupt (``KeyboardInterrupt``) or any other error inside an epoch restores the
  state from the start of that epoch before it propagates, so the estimator stays
  consistent: the parameters are those of the last finished epoch.

The model protocol (duck-typed; :class:`MinibatchModel` gives the minibatch loop):

``n_samples``
    Rows in the training part of the data.
``train_epoch(order, batch_size, check)``
    Runs one epoch over the rows in ``order`` and returns a dict of per-sample mean
    loss terms with at least ``"loss"`` (the objective minimised).
    ``check(loss, batch)`` must be called with every minibatch's loss: it raises
    :class:`Diverged` on NaN/inf and explosions.
``get_state()`` / ``set_state(state)``
    Copy / restore everything training changes (parameters, buffers, optimizer
    state).
``is_finite()``
    True when every parameter and buffer is finite.
``optimizers``
    The optimizers, for the schedules.
``penalty()`` (optional)
    A term added to the epoch's loss for the record (e.g. the L2 penalty).
``validation_score()`` (needed with ``early_stopping``)
    Higher is better. ``validation_loss()`` (optional) is shown in verbose lines.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sknets.utils._divergence import diverged
from sknets.utils._threads import kernel_threads

__all__ = ["TrainingHistory", "MinibatchModel", "Diverged", "train", "validation_split"]


class Diverged(Exception):
    """Raised inside an epoch when a loss became NaN/inf or exploded."""

    def __init__(self, what, batch=None):
        super().__init__(what)
        self.what = what
        self.batch = batch


class TrainingHistory:
    """What training has recorded, kept by the estimator across ``fit`` calls.

    Parameters
    ----------
    early_stopping : bool
        Whether validation scores are kept (and the best state).

    Attributes
    ----------
    records : list of dict
        One dict per epoch: ``epoch``, the loss terms, ``validation_score`` /
        ``validation_loss`` where computed, ``learning_rate``, ``time``.
    loss_curve : list of float
    validation_scores : list of float or None
    best_loss, best_validation_score : float or None
    n_iter : int
        Epochs run so far.
    t : int
        Samples seen so far.
    """

    def __init__(self, early_stopping=False):
        self.records = []
        self.loss_curve = []
        self.validation_scores = [] if early_stopping else None
        self.best_loss = np.inf
        self.best_validation_score = -np.inf if early_stopping else None
        self.no_improvement_count = 0
        self.n_iter = 0
        self.t = 0
        self.loss_scale = None
        self.best_state = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["best_state"] = None   # only needed during a fit
        return state


def iterate_minibatches(order, batch_size):
    """Consecutive slices of ``order`` of at most ``batch_size`` indices."""
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


class MinibatchModel:
    """Base of a model whose epoch is a loop over minibatches.

    Subclasses define ``train_batch(idx) -> dict`` (per-sample mean loss terms of the
    batch, ``"loss"`` first) plus the rest of the protocol in the module docstring.
    """

    def train_epoch(self, order, batch_size, check):
        totals = {}
        for b, idx in enumerate(iterate_minibatches(order, batch_size)):
            terms = self.train_batch(idx)
            check(terms["loss"], b)
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + value * len(idx)
        n = len(order)
        return {key: value / n for key, value in totals.items()}

    def penalty(self):
        return 0.0


def validation_split(n_samples, fraction, rng, stratify=None):
    """Indices ``(train, validation)`` holding out ``fraction`` of the rows.

    Stratified by ``stratify`` (class indices) when every class has two rows or more.
    Raises a ``ValueError`` naming the remedy when a part would be empty.
    """
    from sklearn.model_selection import train_test_split

    if stratify is not None and np.min(np.bincount(stratify)) < 2:
        stratify = None
    seed = int(rng.integers(2**31 - 1))
    try:
        tr, va = train_test_split(np.arange(n_samples), test_size=fraction,
                                  random_state=seed, stratify=stratify)
    except ValueError:
        tr, va = train_test_split(np.arange(n_samples), test_size=fraction,
                                  random_state=seed)
    if len(va) < 1 or len(tr) < 1:
        raise ValueError("validation_fraction leaves no training or validation sample; "
                         "lower it or disable early_stopping")
    return tr, va


def _format_terms(terms):
    return ", ".join(f"{key.replace('_', ' ')} = {value:.6f}"
                     for key, value in terms.items())


def record_terms(terms):
    """Loss terms as plain floats."""
    return {key: float(value) for key, value in terms.items()}


def train(model, history, *, estimator, n_epochs, rng, batch_size, remedy,
          incremental=False, shuffle=True, early_stopping=False, tol=1e-4,
          n_iter_no_change=10, verbose=0, callbacks=(), warn_max_iter=True,
          blowup=1e4, n_jobs=None, blas_threads=None, forget=None):
    """Train ``model`` for up to ``n_epochs`` epochs; the one loop of sknets.

    Parameters
    ----------
    model : object
        The training problem (see the module docstring).
    history : TrainingHistory
        Updated in place.
    estimator : estimator
        Passed to the callbacks; its class name prefixes the verbose lines and
        the divergence messages.
    n_epochs : int
        Epochs to run at most.
    rng : numpy.random.Generator
        Shuffles the rows.
    batch_size : int
    remedy : str
        What a divergence message tells the user to change.
    incremental : bool, default=False
        ``partial_fit``: no stopping rule, no best-state restore, no
        ``ConvergenceWarning``.
    shuffle : bool, default=True
    early_stopping : bool, default=False
        Monitor ``model.validation_score()`` instead of the training loss, and
        restore the best state at the end.
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    verbose : int, default=0
    callbacks : sequence of callables, default=()
        ``cb(estimator, record)``; a True return value stops training.
    warn_max_iter : bool, default=True
        Warn (``ConvergenceWarning``) when ``n_epochs`` ran out before the stopping
        rule fired.
    blowup : float or None, default=1e4
        A finite minibatch loss larger than ``blowup`` times the scale of the first
        minibatch losses (at least 1) counts as a divergence; None disables it.
    n_jobs : int or None
        Threads of the Numba kernels.
    blas_threads : int or None
        BLAS thread limit during training (None: unchanged).
    forget : callable or None
        Called before a :class:`~sknets.utils._divergence.DivergenceError` propagates
        (nothing usable learned): it should leave the estimator unfitted.

    Returns
    -------
    stopped : bool
        Whether the stopping rule or a callback ended training before ``n_epochs``.
    """
    name = type(estimator).__name__
    n = model.n_samples
    batch_size = max(1, min(batch_size, n))

    def check(loss, batch):
        if not np.isfinite(loss):
            raise Diverged(f"the training loss became {loss}", batch)
        scale = history.loss_scale
        if scale is None:
            history.loss_scale = max(abs(loss), 1.0)
        elif blowup is not None and abs(loss) > blowup * scale:
            raise Diverged(f"the training loss exploded to {loss:.4g} (from about "
                           f"{scale:.4g})", batch)

    stopped = False
    with kernel_threads(n_jobs, blas_threads=blas_threads), np.errstate(
            over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            snapshot = model.get_state()
            epoch = history.n_iter + 1
            try:
                order = rng.permutation(n) if shuffle else np.arange(n)
                terms = model.train_epoch(order, batch_size, check)
                if not model.is_finite():
                    raise Diverged("a parameter became NaN or infinite")
            except Diverged as exc:
                model.set_state(snapshot)
                where = f"epoch {epoch}"
                if exc.batch is not None:
                    where += f", batch {exc.batch}"
                usable = history.n_iter > 0
                if not usable and forget is not None:
                    forget()
                diverged(name, exc.what, where, remedy, usable=usable)
                return True
            except BaseException:
                model.set_state(snapshot)
                raise
            terms = dict(terms)
            penalty = model.penalty() if hasattr(model, "penalty") else 0.0
            loss = float(terms.pop("loss")) + penalty
            history.n_iter = epoch
            history.t += n
            history.loss_curve.append(loss)
            record = {"epoch": epoch, "loss": loss}
            record.update(record_terms(terms))
            msg = f"{name}: epoch {epoch}, " + _format_terms(
                {"loss": loss, **record_terms(terms)})
            if early_stopping and not incremental:
                if hasattr(model, "validation_loss"):
                    vloss = float(model.validation_loss())
                    record["validation_loss"] = vloss
                    msg += f", validation loss = {vloss:.6f}"
                score = float(model.validation_score())
                record["validation_score"] = score
                history.validation_scores.append(score)
                msg += f", validation score = {score:.6f}"
            lrs = [opt.learning_rate for opt in model.optimizers]
            if lrs:
                record["learning_rate"] = lrs[0]
            record["time"] = time.perf_counter() - t0
            history.records.append(record)
            if verbose:
                print(f"{msg}, time = {record['time']:.3f}s", flush=True)
            if not incremental:
                stopped = _stopping_rule(model, history, early_stopping, tol,
                                         n_iter_no_change, verbose, name)
            for opt in model.optimizers:
                opt.iteration_ends(history.t)
            for cb in callbacks:
                if cb(estimator, record):
                    if verbose:
                        print(f"{name}: a callback stopped training after epoch "
                              f"{epoch}.", flush=True)
                    stopped = True
            if stopped:
                break
    if early_stopping and not incremental and history.best_state is not None:
        model.set_state(history.best_state)
        history.best_state = None
    if not stopped and not incremental and warn_max_iter:
        warnings.warn(f"{name}: maximum iterations ({n_epochs}) reached and the "
                      "optimization hasn't converged yet.", ConvergenceWarning,
                      stacklevel=3)
    return stopped


def _stopping_rule(model, history, early_stopping, tol, n_iter_no_change, verbose,
                   name):
    """scikit-learn MLP's rule; returns True when training should stop."""
    if early_stopping:
        score = history.validation_scores[-1]
        if score < history.best_validation_score + tol:
            history.no_improvement_count += 1
        else:
            history.no_improvement_count = 0
        if score > history.best_validation_score:
            history.best_validation_score = score
            history.best_state = model.get_state()
        history.best_loss = None
    else:
        loss = history.loss_curve[-1]
        if loss > history.best_loss - tol:
            history.no_improvement_count += 1
        else:
            history.no_improvement_count = 0
        history.best_loss = min(history.best_loss, loss)
    if history.no_improvement_count <= n_iter_no_change:
        return False
    crit = "Validation score" if early_stopping else "Training loss"
    message = (f"{name}: {crit} did not improve more than tol={tol} for "
               f"{n_iter_no_change} consecutive epochs.")
    stop = True
    for opt in model.optimizers:
        stop = opt.trigger_stopping(message, verbose) and stop
        verbose = False   # one message per epoch
    if not model.optimizers and verbose:
        print(message + " Stopping.", flush=True)
    if not stop:
        history.no_improvement_count = 0
    return stop
