"""scikit-learn's estimator checks over every public sknets estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tests._registry import ESTIMATORS, expected_failed_checks


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
