"""Peak memory of the estimators on large inputs: does it stay linear in the data?

Each measurement runs in a fresh process, once at size n/2 and once at n: the peak RSS
of the process (``getrusage``) minus its RSS right before the measured call, beside
the data's own size (Linux: ``/proc/self/status``). The model-building steps before
the call (ConvNet's small fit) may have their own, earlier peak.
Linear memory means the extra peak from n to 2n is about the data's extra size times
a small constant, not a quadratic blow-up (an n x n distance matrix of 200,000 points
would need 320 GB).

    python benchmarks/bench_robustness.py

Cases: KMeans and MeanShift on 200,000 x 2 points (``make_blobs``), and
ConvNetClassifier.predict on 20,000 rows of 28 x 28 (the model fitted on 500 rows).
"""

import os
import subprocess
import sys

CASES = {
    "KMeans fit 2-D": """
from sklearn.datasets import make_blobs
from sknets import KMeans
X, _ = make_blobs(n_samples=N, centers=8, random_state=0)
base = rss_kb()
t0 = time.perf_counter()
KMeans(n_clusters=8, n_init=1, random_state=0).fit(X)
""",
    "MeanShift fit 2-D": """
from sklearn.datasets import make_blobs
from sknets import MeanShift
X, _ = make_blobs(n_samples=N, centers=8, cluster_std=0.6, random_state=0)
base = rss_kb()
t0 = time.perf_counter()
MeanShift(bandwidth=1.0, bin_seeding=True).fit(X)
""",
    "ConvNet predict 28x28": """
import warnings
import numpy as np
from sknets import ConvNetClassifier
rng = np.random.default_rng(0)
X = rng.random((N, 784), dtype=np.float32)
y = rng.integers(0, 10, N)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf = ConvNetClassifier(architecture="lenet5", max_iter=1, random_state=0).fit(
        X[:500], y[:500])
base = rss_kb()
t0 = time.perf_counter()
clf.predict(X)
""",
}
SIZES = {"KMeans fit 2-D": 200_000, "MeanShift fit 2-D": 200_000,
         "ConvNet predict 28x28": 20_000}

_TEMPLATE = """
import resource, time, numpy as np
N = {n}

def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

{body}
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base, peak, X.nbytes, elapsed)
"""


def measure(body, n):
    code = _TEMPLATE.format(n=n, body=body)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    base_kb, peak_kb, data_bytes, elapsed = (float(v) for v in out[-4:])
    return peak_kb / 1024, (peak_kb - base_kb) / 1024, data_bytes / 2**20, elapsed


def main():
    print(f"load average {os.getloadavg()}")
    print(f"{'case':<24}{'n':>9}{'data MB':>9}{'peak MB':>9}{'op peak - before':>18}"
          f"{'time s':>8}")
    for name, body in CASES.items():
        rows = []
        for n in (SIZES[name] // 4, SIZES[name] // 2, SIZES[name]):
            peak, extra, data, elapsed = measure(body, n)
            rows.append((extra, data))
            print(f"{name:<24}{n:>9}{data:>9.1f}{peak:>9.1f}{extra:>18.1f}"
                  f"{elapsed:>8.2f}")
        slopes = [(rows[i + 1][0] - rows[i][0]) / (rows[i + 1][1] - rows[i][1])
                  for i in range(2)]
        print(f"{'':<24}extra peak per MB of data: n/4 -> n/2 {slopes[0]:.1f}, "
              f"n/2 -> n {slopes[1]:.1f} (linear: about equal)")


if __name__ == "__main__":
    main()
