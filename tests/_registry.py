"""The estimator instances that ``test_common.py`` runs scikit-learn's checks on.

Each estimator family appends its instances (small settings, so the checks stay fast)
and, where a check cannot apply, a reason in ``EXPECTED_FAILED``.
"""

ESTIMATORS = []

# {estimator class name: {check name: reason}}
EXPECTED_FAILED = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})

# SpikeSlabRBM (issue 4)
from sknets import SpikeSlabRBM  # noqa: E402

ESTIMATORS.append(SpikeSlabRBM(n_components=4, n_slabs=2, n_iter=2, batch_size=10,
                               random_state=0))
