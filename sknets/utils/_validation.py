"""Validation helpers shared by the estimators."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def check_finite_params(params, *, estimator_name, remedy):
    """Raise a clear error if any fitted parameter became NaN or infinite.

    Parameters
    ----------
    params : dict of str -> ndarray
        The parameters to check.
    estimator_name : str
        Used in the message.
    remedy : str
        What the user should change, e.g. ``"lower learning_rate"``.

    Raises
    ------
    ValueError
        If any array holds a non-finite value.
    """
    bad = [name for name, value in params.items() if not np.all(np.isfinite(value))]
    if bad:
        raise ValueError(
            f"{estimator_name} diverged: parameters {bad} became NaN or infinite during "
            f"training. Try to {remedy}."
        )


def warn_divergence(estimator_name, remedy):
    """Emit a ``ConvergenceWarning`` that names the remedy."""
    warnings.warn(
        f"{estimator_name}: training diverged (non-finite values); the last finite "
        f"parameters were kept. Try to {remedy}.",
        ConvergenceWarning,
        stacklevel=3,
    )
