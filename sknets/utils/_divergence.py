"""The one divergence policy of the sknets estimators.

Training diverges when a loss or a parameter becomes NaN or infinite, or when a finite
loss explodes (grows by orders of magnitude over the first epoch's). Every estimator
treats it the same way:

1. the state the estimator had before the failing epoch is restored (parameters,
   buffers such as batch-norm statistics, optimizer moments), so no NaN ever stays in
   a fitted model;
2. if that restored state is a trained model (at least one epoch finished, in this
   call or an earlier one), training stops with a :class:`ConvergenceWarning` that
   names the remedy, and the estimator stays usable;
3. otherwise (the first epoch of a first fit diverged) nothing usable was learned: a
   :class:`DivergenceError` (a ``ValueError``) names the remedy and the estimator is
   left unfitted.

``GridSearchCV`` turns the error of case 3 into ``error_score`` like any failed fit.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

__all__ = ["DivergenceError", "diverged", "divergence_message"]


class DivergenceError(ValueError):
    """Training diverged before anything usable was learned."""


def divergence_message(estimator_name, what, where, remedy):
    """The text every divergence report uses.

    Parameters
    ----------
    estimator_name : str
    what : str
        What went wrong, e.g. ``"the training loss became nan"``.
    where : str
        Where, e.g. ``"epoch 3, batch 12"``.
    remedy : str
        What to change, e.g. ``"lower learning_rate_init"``.
    """
    return f"{estimator_name} diverged: {what} at {where}. Try to {remedy}."


def diverged(estimator_name, what, where, remedy, *, usable):
    """Report a divergence after the state has been rolled back.

    Parameters
    ----------
    estimator_name, what, where, remedy : str
        See :func:`divergence_message`.
    usable : bool
        Whether the rolled-back state is a trained model (case 2 of the policy:
        warn) or not (case 3: raise).

    Raises
    ------
    DivergenceError
        When ``usable`` is False.
    """
    message = divergence_message(estimator_name, what, where, remedy)
    if not usable:
        raise DivergenceError(message)
    warnings.warn(message + " The parameters of the last finite epoch were kept.",
                  ConvergenceWarning, stacklevel=3)
