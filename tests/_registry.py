"""The estimator instances that ``test_common.py`` runs scikit-learn's checks on.

Each estimator family appends its instances (small settings, so the checks stay fast)
and, where a check cannot apply, a reason in ``EXPECTED_FAILED``.
"""

ESTIMATORS = []

# {estimator class name: {check name: reason}}
EXPECTED_FAILED = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})

# ConvNetClassifier (issue 5): a tiny net so the checks stay fast
from sknets import ConvNetClassifier  # noqa: E402

ESTIMATORS.append(ConvNetClassifier(filters=(4,), hidden_layer_sizes=(16,), dropout=0.0,
                                    max_iter=20, batch_size=32, learning_rate_init=0.01,
                                    random_state=0))

# --- GANSampler (issue 6) ---
from sknets import GANSampler  # noqa: E402

ESTIMATORS.append(
    GANSampler(generator_layer_sizes=(8,), discriminator_layer_sizes=(8,), noise_dim=2,
               batch_size=16, max_iter=2, random_state=0)
)
# --- MeanShift (branch meanshift) ---
from sknets import MeanShift  # noqa: E402

ESTIMATORS.append(MeanShift())
