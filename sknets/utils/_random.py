"""Random-number helpers: every kernel receives pre-drawn numbers or a seed.

scikit-learn estimators take ``random_state`` (None, int or ``RandomState``). Kernels
here want a fast, replayable stream: we derive a ``numpy.random.Generator`` from the
estimator's ``random_state`` once per ``fit`` so that a fixed ``random_state`` gives
bit-identical results and a plain-numpy reference can replay the same draws.
"""

import numpy as np
from sklearn.utils import check_random_state


def make_generator(random_state):
    """Return a ``numpy.random.Generator`` seeded from a sklearn ``random_state``.

    The seed is drawn from ``check_random_state(random_state)`` so that an int gives
    the same stream every time, a ``RandomState`` instance advances as sklearn users
    expect, and ``None`` gives fresh entropy.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    rs = check_random_state(random_state)
    seed = rs.randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)
