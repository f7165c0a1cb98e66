"""Fixtures and markers shared by the test modules.

- ``digits``: scikit-learn's bundled digits ``(X, y)`` as float64, loaded once.
- ``digits01``: the same pixels scaled to [0, 1] (Bernoulli visible units, VAEs).
- ``no_convergence_warnings``: silences ``ConvergenceWarning`` in a test that trains
  for a few epochs on purpose.
- marker ``slow``: tests over a few seconds; ``pytest -m "not slow"`` skips them for
  a quick local run (CI runs everything).
"""

import warnings

import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test over a few seconds (deselect with "
                            "-m 'not slow')")


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture(scope="session")
def digits01(digits):
    X, y = digits
    X01 = X / 16.0
    X01.setflags(write=False)
    return X01, y


@pytest.fixture
def no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
