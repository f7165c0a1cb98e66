"""sknets.BernoulliRBM vs sklearn.neural_network.BernoulliRBM, in the same process.

Prints, for each set-up, the best-of-``--repeat`` fit time of both and the ratio
(sklearn time / sknets time; > 1 means sknets is faster); the repeats alternate
between the two (sklearn, sknets, sklearn, ...), so that a slow spell of the shared
machine does not fall on one of them only, and each timed fit starts after a pause of
``SETTLE_S`` (0.5 s): a BLAS library's worker threads keep spinning for a while after a
call (OpenBLAS: up to about 0.1 s), and a fit started at once shares the two cores with
them (measured here: sknets' (b) float32 fit right after scikit-learn's took 0.35 s,
after a 0.5 s pause 0.29 s; scikit-learn's time did not change):

(a) scikit-learn's own RBM example: digits nudged to 5x (8,985 x 64), float32, scaled
    to [0, 1], 80/20 split (random_state=0), ``n_components=100, learning_rate=0.06,
    n_iter=10``, default ``batch_size=10``. Also the test accuracy of
    ``Pipeline([rbm, LogisticRegression])`` (the example's classifier, C=6000,
    newton-cg with its default tolerance).
(b) 784 visible x 500 hidden, 20,000 binary-ish samples (synthetic 28x28 strokes,
    about 20 % ones plus some gray pixels), ``batch_size=100``, float64 and float32,
    ``--n-iter-b`` epochs (default 1; the ratio is per epoch), best of
    ``--repeat-b`` (default 3, like (a): single fits on this shared machine vary by
    up to 1.5x from run to run). scikit-learn runs its products through a
    multithreaded BLAS; sknets runs minibatches of this size in its blocked epoch
    kernel, which skips zeros and hands the tasks of each phase out to the allowed
    threads (2 here, 1 when other processes keep the cores busy). (b) is also
    printed with the thread limit at one (threadpoolctl, which limits sknets to one
    thread as well). The 1-minute load average is printed with each line: figures
    taken while other work runs on the machine are not comparable.

sknets has two epoch kernels: ``dense_epoch`` (products through BLAS), for small
minibatches such as (a), and ``blocked_epoch`` from 2**18 rows x features x
components per minibatch, such as (b). The script also times each set-up with the
other kernel forced (same sklearn time, from the line above it), which shows why
both exist.

And the compile overhead: the first fits (float64 and float32; a small one, which runs
the dense epoch kernel, and a 100 x 784 x 500 one, which runs the blocked kernel) in
a new process with Numba's cache already warm, minus the same fits once loaded; split
into Numba's own one-time start-up (paid by the first call of any cached Numba
function, measured on a trivial sknets kernel) and the loading of the BernoulliRBM
kernels.

``--busy`` runs every timing with one busy background process (``while True:
pass``), as on a machine where another program uses a core.

Usage: python benchmarks/bench_rbm.py [--repeat 3] [--n-iter-b 1] [--repeat-b 3]
       [--quick] [--busy]
Absolute times on a shared machine mean little; compare the ratios.
"""

import argparse
import os
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from scipy.ndimage import convolve, gaussian_filter
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM as SkRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import minmax_scale

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sknets import BernoulliRBM  # noqa: E402
from sknets.rbm import _bernoulli  # noqa: E402


def nudge_dataset(X, Y):
    """scikit-learn's example: add copies shifted by one pixel in 4 directions."""
    directions = [
        [[0, 1, 0], [0, 0, 0], [0, 0, 0]],
        [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
        [[0, 0, 0], [0, 0, 1], [0, 0, 0]],
        [[0, 0, 0], [0, 0, 0], [0, 1, 0]],
    ]

    def shift(x, w):
        return convolve(x.reshape((8, 8)), mode="constant", weights=w).ravel()

    X = np.concatenate([X] + [np.apply_along_axis(shift, 1, X, w) for w in directions])
    Y = np.concatenate([Y for _ in range(5)], axis=0)
    return X, Y


def example_data():
    X, y = datasets.load_digits(return_X_y=True)
    X = np.asarray(X, "float32")
    X, Y = nudge_dataset(X, y)
    X = minmax_scale(X, feature_range=(0, 1))  # keeps float32
    return train_test_split(X, Y, test_size=0.2, random_state=0)


def binaryish_data(n_samples=20000, seed=0):
    """28x28 'strokes': blurred random prototypes, shifted, thresholded; ~20 % ones."""
    rng = np.random.RandomState(seed)
    protos = gaussian_filter(rng.rand(10, 28, 28), sigma=(0, 2.5, 2.5))
    protos = (protos - protos.mean()) / protos.std()
    X = np.empty((n_samples, 784))
    labels = rng.randint(0, 10, n_samples)
    shifts = rng.randint(-2, 3, (n_samples, 2))
    for k in range(n_samples):
        img = np.roll(protos[labels[k]], tuple(shifts[k]), axis=(0, 1))
        X[k] = img.ravel()
    soft = 1.0 / (1.0 + np.exp(-6.0 * (X - 0.9)))  # ~20 % of pixels near 1
    X = np.where(rng.rand(*X.shape) < soft, 1.0, 0.0)
    gray = (soft > 0.2) & (soft < 0.8)
    X[gray] = soft[gray]  # gray pixels on the stroke borders
    return X


SETTLE_S = 0.5


def timed(fn):
    time.sleep(SETTLE_S)  # let the other library's idle worker threads stop spinning
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def compare(label, make_ours, make_sk, X, repeat):
    """Best of ``repeat`` fits of each, the two alternating (sklearn, sknets, sklearn,
    ...) so that a slow spell of the shared machine falls on both alike. Returns the
    ratio and sklearn's time."""
    t_sk, t_ours = [], []
    for _ in range(repeat):
        t_sk.append(timed(lambda: make_sk().fit(X)))
        t_ours.append(timed(lambda: make_ours().fit(X)))
    t_sk, t_ours = min(t_sk), min(t_ours)
    print(f"{label:<38} sklearn {t_sk:8.3f} s   sknets {t_ours:8.3f} s   "
          f"ratio {t_sk / t_ours:5.2f}x   (load {os.getloadavg()[0]:.1f})")
    return t_sk / t_ours, t_sk


@contextmanager
def kernel_forced(name):
    """Run BernoulliRBM's epochs in the kernel ``name`` ("dense" or "blocked")
    whatever the minibatch size."""
    saved = _bernoulli._BLOCKED_MIN_WORK
    _bernoulli._BLOCKED_MIN_WORK = 0 if name == "blocked" else 10**18
    try:
        yield
    finally:
        _bernoulli._BLOCKED_MIN_WORK = saved


def other_kernel(label, name, make_ours, X, repeat, t_sk):
    """The same fits with the other epoch kernel forced; ratio to ``t_sk``."""
    with kernel_forced(name):
        make_ours().fit(X[:200])  # compile / load outside the timing
        t = min(timed(lambda: make_ours().fit(X)) for _ in range(repeat))
    print(f"{label:<38} {name} kernel forced: sknets {t:8.3f} s   ratio "
          f"{t_sk / t:5.2f}x   (load {os.getloadavg()[0]:.1f})")


@contextmanager
def busy_background(on):
    """With ``on``, one background process keeps a core busy inside the block."""
    if not on:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


COMPILE_SNIPPET = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    from sknets import BernoulliRBM
    from sknets.rbm._bernoulli_kernels import minibatch_draws
    t = time.perf_counter()
    minibatch_draws(1, 1, 1, 1, 1, True, False)  # Numba start-up + a tiny cached kernel
    startup = time.perf_counter() - t
    rng = np.random.RandomState(0)
    small, big = rng.rand(200, 64), (rng.rand(200, 784) < 0.2).astype(float)
    # a small fit (dense kernel) and a 100 x 784 x 500 one (blocked kernel)
    fits = [(small, dict(n_components=32)),
            (big, dict(n_components=500, batch_size=100))]

    def run():
        total = 0.0
        for X, kw in fits:
            for dt in (np.float64, np.float32):
                t = time.perf_counter()
                BernoulliRBM(n_iter=1, random_state=0, **kw).fit(X.astype(dt))
                total += time.perf_counter() - t
        return total

    first = run()
    again = run()
    print(startup, first, again)
""")


def compile_overhead():
    """First fits (both kernels, float64 + float32) in a fresh process, warm cache."""
    code = COMPILE_SNIPPET.format(root=str(ROOT))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", code], check=True,
                         capture_output=True, text=True).stdout.split()
    startup, first, again = (float(v) for v in out)
    return startup + first - again, startup, first - again


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-iter-b", type=int, default=1)
    parser.add_argument("--repeat-b", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="1 repeat, 5,000 samples in (b)")
    parser.add_argument("--busy", action="store_true",
                        help="time everything with one busy background process")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat

    print("BernoulliRBM: sknets vs scikit-learn (same process, best of "
          f"{repeat}; ratio = sklearn / sknets)"
          + ("; one busy background process" if args.busy else ""))
    overhead, startup, kernels = compile_overhead()
    print(f"compile overhead, first fits (both kernels, float64 + float32) in a new "
          f"process, warm "
          f"cache: {overhead:.3f} s = Numba start-up {startup:.3f} s + loading the "
          f"RBM kernels {kernels:.3f} s")

    # warm both up (imports, caches, both epoch kernels in both dtypes) outside the
    # timings
    Xw = np.random.RandomState(0).rand(50, 8)
    Xw_b = (np.random.RandomState(0).rand(200, 784) < 0.2).astype(float)
    for dt in (np.float64, np.float32):
        BernoulliRBM(n_components=4, n_iter=1).fit(Xw.astype(dt))
        SkRBM(n_components=4, n_iter=1).fit(Xw.astype(dt))
        BernoulliRBM(n_components=500, batch_size=100, n_iter=1).fit(Xw_b.astype(dt))

    with busy_background(args.busy):
        ratio_a, ratios_b = timings(args, repeat)
    print("summary: (a) {:.2f}x (target >= 5)   (b) float64 {:.2f}x (target >= 2)   "
          "(b) float32 {:.2f}x (target >= 4)   compile {:.3f} s (target < 1)".format(
              ratio_a, ratios_b["float64"], ratios_b["float32"], overhead))


def timings(args, repeat):
    from threadpoolctl import threadpool_limits

    # (a) scikit-learn's example
    X_train, X_test, Y_train, Y_test = example_data()
    params = dict(n_components=100, learning_rate=0.06, n_iter=10, random_state=0)
    ratio_a, t_sk = compare("(a) sklearn example, float32",
                            lambda: BernoulliRBM(**params), lambda: SkRBM(**params),
                            X_train, repeat)
    other_kernel("(a)", "blocked", lambda: BernoulliRBM(**params), X_train, repeat,
                 t_sk)
    accs = {}
    for name, cls in (("sklearn", SkRBM), ("sknets", BernoulliRBM)):
        # the example's classifier is LogisticRegression(solver="newton-cg", tol=1,
        # C=6000); with scikit-learn 1.9 tol=1 stops newton-cg before its first
        # iteration (chance accuracy for both), so the default tol is used
        logistic = LogisticRegression(solver="newton-cg", C=6000)
        pipe = Pipeline([("rbm", cls(**params)), ("logistic", logistic)])
        pipe.fit(X_train, Y_train)
        accs[name] = pipe.score(X_test, Y_test)
    print(f"(a) Pipeline([rbm, LogisticRegression]) test accuracy: sklearn "
          f"{accs['sklearn']:.4f}   sknets {accs['sknets']:.4f}   difference "
          f"{100 * (accs['sknets'] - accs['sklearn']):+.2f} points")

    # (b) 784 x 500, batch 100
    n = 5000 if args.quick else 20000
    Xb = binaryish_data(n)
    print(f"(b) data: {Xb.shape}, {100 * np.mean(Xb > 0):.1f} % non-zero, "
          f"{100 * np.mean((Xb > 0) & (Xb < 1)):.1f} % gray; n_iter={args.n_iter_b}")
    params_b = dict(n_components=500, learning_rate=0.05, batch_size=100,
                    n_iter=args.n_iter_b, random_state=0)
    ratios_b = {}
    repeat_b = 1 if args.quick else args.repeat_b
    for dt in (np.float64, np.float32):
        ratios_b[dt.__name__], t_sk = compare(
            f"(b) 784x500 batch 100, {dt.__name__}",
            lambda: BernoulliRBM(**params_b), lambda: SkRBM(**params_b),
            Xb.astype(dt), repeat_b)
        other_kernel(f"(b) {dt.__name__}", "dense", lambda: BernoulliRBM(**params_b),
                     Xb.astype(dt), repeat_b, t_sk)
    with threadpool_limits(limits=1, user_api="blas"):
        for dt in (np.float64, np.float32):
            compare(f"(b) {dt.__name__}, sklearn BLAS 1 thread",
                    lambda: BernoulliRBM(**params_b), lambda: SkRBM(**params_b),
                    Xb.astype(dt), repeat_b)
    return ratio_a, ratios_b


if __name__ == "__main__":
    main()
