"""An install where Numba cannot write its cache still imports and fits.

A site-packages install owned by another user, in a container whose home is
read-only, leaves ``@njit(cache=True)`` without a writable cache directory. The test
runs as whatever user CI has (often root, for whom permission bits do not stop a
write), so it makes every directory Numba would try impossible to create instead: a
copy of the package whose ``__pycache__`` entries are regular files, and
``NUMBA_CACHE_DIR`` and the user cache directory below a regular file.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import numpy as np
        import sknets
        from sknets.utils._cache import ensure_numba_cache
        X = np.random.default_rng(0).normal(size=(60, 2))
        X[:30] += 6.0
        km = sknets.KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)
    cache = [w for w in caught if "cache" in str(w.message)]
    assert sknets.__file__.startswith(sys.argv[1]), sknets.__file__
    print(len(cache), ensure_numba_cache() is not None,
          sorted(int(n) for n in np.bincount(km.labels_)))
    """
)


@pytest.mark.slow
def test_unwritable_numba_cache_degrades_to_compiling(tmp_path):
    import sknets

    site = tmp_path / "site"
    shutil.copytree(os.path.dirname(sknets.__file__), site / "sknets",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for package in (site / "sknets").rglob("__init__.py"):
        (package.parent / "__pycache__").write_text("not a directory")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1",
               NUMBA_CACHE_DIR=str(blocker / "numba-cache"),
               XDG_CACHE_HOME=str(blocker / "cache"), HOME=str(blocker / "home"),
               SKNETS_COMPILE_NOTICE="0")
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(site)], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    n_warnings, fell_back, sizes = result.stdout.strip().splitlines()[-1].split(" ", 2)
    assert n_warnings == "1"            # one warning naming NUMBA_CACHE_DIR, no more
    assert fell_back == "True"
    assert sizes == "[30, 30]"
