"""The estimator instances that ``test_common.py`` runs scikit-learn's checks on.

Each estimator family appends its instances (small settings, so the checks stay fast)
and, where a check cannot apply, a reason in ``EXPECTED_FAILED``.
"""

ESTIMATORS = []

# {estimator class name: {check name: reason}}
EXPECTED_FAILED = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})

# --- KMeans (branch kmeans) ---
from sknets import KMeans  # noqa: E402

ESTIMATORS.append(KMeans(n_clusters=3, n_init=2, max_iter=20, random_state=0))
EXPECTED_FAILED["KMeans"] = {
    # As for sklearn.cluster.KMeans (same entry in sklearn's own test suite): the
    # random k-means++ draws depend on the number of rows, so weighting a row by 2 is
    # not the same run as repeating it. With a fixed init array the equivalence holds
    # and tests/test_kmeans.py::test_weighted_vs_repeated checks it.
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples (random init)."
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "sample_weight is not equivalent to removing/repeating samples (random init)."
    ),
}
