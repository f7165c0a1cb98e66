"""Tests of ``sknets.SpikeSlabRBM``: the model's formulas (``doc/user_guide/
spike_slab_rbm.rst``, section *The model*) by brute force, finite differences and
quadrature; the sampler and training on digits; the Numba kernels against the numpy
reference ``tests/references/ssrbm.py``; and the scikit-learn conventions."""

import pickle
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp, ndtri
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sknets import SpikeSlabRBM
from sknets.rbm import _ss_kernels as K
from sknets.rbm._base import batch_bounds
from sknets.rbm._spike_slab import auto_w_init_scale
from tests.references import ssrbm as R

LOG_BOUNDS = (np.log(1e-2), np.log(1e3))


def random_model(D, N, K_, seed=0, phi=False, dtype=np.float64):
    """A tiny random model: random W, b, mu; alpha in [1.5, 3]; Lambda in [2, 4]."""
    rng = np.random.default_rng(seed)
    m = {
        "W": rng.normal(size=(N, K_, D)),
        "b": rng.normal(size=N),
        "alpha": rng.uniform(1.5, 3.0, size=(N, K_)),
        "mu": rng.normal(size=(N, K_)),
        "lam": rng.uniform(2.0, 4.0, size=D),
        "phi": rng.uniform(0.0, 1.0, size=(N, D)) if phi else None,
    }
    for key in ("W", "b", "alpha", "mu", "lam"):
        m[key] = m[key].astype(dtype)
    m["W2"] = np.ascontiguousarray(m["W"].reshape(N * K_, D))
    return m


def fitted_like(m, radius, **params):
    """A SpikeSlabRBM whose fitted arrays are set by hand (for the sampler tests)."""
    N, K_, D = m["W"].shape
    est = SpikeSlabRBM(n_components=N, n_slabs=K_, **params)
    est.weights_ = np.ascontiguousarray(m["W"])
    est.spike_bias_ = np.asarray(m["b"], dtype=float)
    est.slab_precision_ = np.asarray(m["alpha"], dtype=float)
    est.slab_mean_ = np.asarray(m["mu"], dtype=float)
    est.visible_precision_ = np.asarray(m["lam"], dtype=float)
    est.radius_ = float(radius)
    est.n_features_in_ = D
    return est


# ------------------------------------------------------------------ 1. energy
def test_energy_matches_explicit_loops():
    D, N, K_ = 5, 3, 2
    for with_phi in (False, True):
        m = random_model(D, N, K_, seed=1, phi=with_phi)
        rng = np.random.default_rng(2)
        for _ in range(5):
            v = rng.normal(size=D)
            s = rng.normal(size=(N, K_))
            h = rng.integers(0, 2, size=N).astype(float)
            e = 0.5 * sum(m["lam"][d] * v[d] ** 2 for d in range(D))
            for i in range(N):
                if with_phi:
                    e += 0.5 * h[i] * sum(m["phi"][i, d] * v[d] ** 2 for d in range(D))
                e -= m["b"][i] * h[i]
                for k in range(K_):
                    u = sum(m["W"][i, k, d] * v[d] for d in range(D))
                    e -= h[i] * s[i, k] * u
                    e += 0.5 * m["alpha"][i, k] * s[i, k] ** 2
                    e -= m["alpha"][i, k] * m["mu"][i, k] * h[i] * s[i, k]
                    e += 0.5 * m["alpha"][i, k] * m["mu"][i, k] ** 2 * h[i]
            got = R.energy(v, s, h, m["W"], m["b"], m["alpha"], m["mu"], m["lam"],
                           m["phi"])
            assert abs(got - e) <= 1e-12 * max(1.0, abs(e))


# ------------------------------------------------- 2./3. brute-force marginals
def brute_force(v, m):
    """``log sum_h int exp(-E) ds`` per spike state, by quadrature over s (K=1, N=2)."""
    N, K_, D = m["W"].shape
    assert (N, K_) == (2, 1)
    grid = np.linspace(-15.0, 15.0, 401)
    step = grid[1] - grid[0]
    S1, S2 = np.meshgrid(grid, grid, indexing="ij")
    log_mass = {}
    for h in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        hv = np.array(h, dtype=float)
        # E is quadratic in s: evaluate on the whole grid at once
        s = np.stack([S1, S2], axis=-1)[..., None]  # (G, G, N, K)
        u = m["W"] @ v  # (N, K)
        e = 0.5 * np.sum(m["lam"] * v**2)
        if m["phi"] is not None:
            e = e + 0.5 * np.sum(hv * (m["phi"] @ v**2))
        e = (e - np.sum(hv[:, None] * s * u, axis=(-2, -1))
             + 0.5 * np.sum(m["alpha"] * s**2, axis=(-2, -1))
             - np.sum(m["alpha"] * m["mu"] * hv[:, None] * s, axis=(-2, -1))
             + 0.5 * np.sum(m["alpha"] * m["mu"] ** 2 * hv[:, None])
             - np.sum(m["b"] * hv))
        log_mass[h] = logsumexp(-e) + 2 * np.log(step)
    return log_mass


@pytest.mark.parametrize("with_phi", [False, True])
def test_conditionals_and_free_energy_by_brute_force(with_phi):
    m = random_model(3, 2, 1, seed=3, phi=with_phi)
    rng = np.random.default_rng(4)
    V = rng.normal(size=(3, 3)) * 0.7
    p_ref, _, _ = R.conditionals(V, m["W2"], m["b"], m["alpha"], m["mu"], m["phi"])
    F_ref = R.free_energy(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"], m["phi"])
    if not with_phi:  # the kernels implement v1 (no Phi)
        p_k, _ = K.ss_conditionals(V, m["W2"], m["b"], m["alpha"], m["mu"])
        F_k = K.ss_free_energy(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"])
    for t, v in enumerate(V):
        lm = brute_force(v, m)
        total = logsumexp(list(lm.values()))
        p1 = np.exp(logsumexp([lm[(1, 0)], lm[(1, 1)]]) - total)
        p2 = np.exp(logsumexp([lm[(0, 1)], lm[(1, 1)]]) - total)
        np.testing.assert_allclose(p_ref[t], [p1, p2], atol=1e-6)
        np.testing.assert_allclose(F_ref[t], -total, rtol=1e-7)
        if not with_phi:
            np.testing.assert_allclose(p_k[t], [p1, p2], atol=1e-6)
            np.testing.assert_allclose(F_k[t], -total, rtol=1e-7)


# ------------------------------------------------------- 4. slab conditional
def test_slab_conditional_moments():
    D, N, K_ = 3, 2, 2
    m = random_model(D, N, K_, seed=5)
    m["b"] = np.array([60.0, -60.0])  # spike 0 on, spike 1 off (p within 1e-20)
    v = np.array([0.3, -0.2, 0.1])
    n = 100_000
    V = np.tile(v, (n, 1))
    rng = np.random.default_rng(6)
    _, H, S, status, _, _, _ = K.ss_gibbs(
        V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"], 1e6,
        rng.random((n, N)), rng.standard_normal((n, N * K_)),
        rng.standard_normal((n, D)), np.zeros((1, D)), 0, 100, np.zeros((1, D)), 0)
    assert status == K.STATUS_OK
    assert H[:, 0].min() == 1.0 and H[:, 1].max() == 0.0
    u = m["W"] @ v
    S = S.reshape(n, N, K_)
    for i, h in ((0, 1.0), (1, 0.0)):
        for k in range(K_):
            a = m["alpha"][i, k]
            mean_expected = h * (m["mu"][i, k] + u[i, k] / a)
            var_expected = 1.0 / a
            se_mean = np.sqrt(var_expected / n)
            se_var = var_expected * np.sqrt(2.0 / (n - 1))
            assert abs(S[:, i, k].mean() - mean_expected) < 4 * se_mean
            assert abs(S[:, i, k].var(ddof=1) - var_expected) < 4 * se_var


# --------------------------------------------------------- 5. gradient check
def test_free_energy_gradients_by_finite_differences():
    D, N, K_ = 4, 3, 2
    m = random_model(D, N, K_, seed=7)
    V = np.random.default_rng(8).normal(size=(5, D))

    def mean_F(W2=m["W2"], b=m["b"], alpha=m["alpha"], mu=m["mu"], lam=m["lam"]):
        return R.free_energy(V, W2, b, alpha, mu, lam).mean()

    g = R.free_energy_grads(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"])
    eps = 1e-5
    errors = []

    def check(analytic, f_of_delta, shape):
        num = np.zeros(shape)
        for idx in np.ndindex(*shape):
            delta = np.zeros(shape)
            delta[idx] = eps
            num[idx] = (f_of_delta(delta) - f_of_delta(-delta)) / (2 * eps)
        scale = np.maximum(np.abs(num), 1e-3)
        errors.append(np.max(np.abs(analytic - num) / scale))

    check(g["W"], lambda dl: mean_F(W2=m["W2"] + dl.reshape(N * K_, D)), (N, K_, D))
    check(g["b"], lambda dl: mean_F(b=m["b"] + dl), (N,))
    check(g["mu"], lambda dl: mean_F(mu=m["mu"] + dl), (N, K_))
    check(g["alpha"], lambda dl: mean_F(alpha=m["alpha"] + dl), (N, K_))
    check(g["lam"], lambda dl: mean_F(lam=m["lam"] + dl), (D,))
    check(g["log_alpha"], lambda dl: mean_F(alpha=m["alpha"] * np.exp(dl)), (N, K_))
    check(g["log_lam"], lambda dl: mean_F(lam=m["lam"] * np.exp(dl)), (D,))
    check(np.array([g["scalar_log_alpha"]]),
          lambda dl: mean_F(alpha=m["alpha"] * np.exp(dl[0])), (1,))
    check(np.array([g["scalar_log_lam"]]),
          lambda dl: mean_F(lam=m["lam"] * np.exp(dl[0])), (1,))
    assert max(errors) < 1e-5, errors

    # the learning rule is "model minus data" of these gradients (user guide,
    # *Gradients and updates*)
    V_neg = np.random.default_rng(9).normal(size=(3, D))
    gn = R.free_energy_grads(V_neg, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"])
    dW2, db, dmu, da, dl = R.ascent_direction(V, V_neg, m["W2"], m["b"], m["alpha"],
                                              m["mu"], m["lam"])
    np.testing.assert_allclose(dW2, (gn["W"] - g["W"]).reshape(N * K_, D), atol=1e-12)
    np.testing.assert_allclose(db, gn["b"] - g["b"], atol=1e-12)
    np.testing.assert_allclose(dmu, gn["mu"] - g["mu"], atol=1e-12)
    np.testing.assert_allclose(da, gn["log_alpha"] - g["log_alpha"], atol=1e-12)
    np.testing.assert_allclose(dl, gn["log_lam"] - g["log_lam"], atol=1e-12)


# ------------------------------------------------ 6. Gibbs moments vs quadrature
def moments_model(a, mu1):
    m = {
        "W": np.array([[[a, 0.0]], [[0.0, 1.8]]]),
        "b": np.array([-0.5, -0.5]),
        "alpha": np.ones((2, 1)),
        "mu": np.array([[mu1], [0.0]]),
        "lam": np.array([4.0, 4.0]),
    }
    m["W2"] = m["W"].reshape(2, 2)
    return m


def quadrature_moments(m, radius, n_grid=801):
    x = np.linspace(-radius, radius, n_grid)
    X1, X2 = np.meshgrid(x, x, indexing="ij")
    inside = X1**2 + X2**2 <= radius**2
    V = np.stack([X1[inside], X2[inside]], axis=1)
    F = R.free_energy(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"])
    w = np.exp(-(F - F.min()))
    w /= w.sum()
    p, _, _ = R.conditionals(V, m["W2"], m["b"], m["alpha"], m["mu"])
    return {
        "v1": w @ V[:, 0], "v1^2": w @ V[:, 0] ** 2, "v2^2": w @ V[:, 1] ** 2,
        "v1v2": w @ (V[:, 0] * V[:, 1]), "h": w @ p,
    }


def chain_moments(m, radius, n_chains=4000, burn_in=200, n_samples=50, thin=2):
    est = fitted_like(m, radius, random_state=0)
    rng = np.random.default_rng(11)
    V = rng.uniform(-1, 1, size=(n_chains, 2))
    for _ in range(burn_in):
        V = est.gibbs(V)
    acc = {"v1": 0.0, "v1^2": 0.0, "v2^2": 0.0, "v1v2": 0.0, "h": 0.0}
    max_norm = 0.0
    for _ in range(n_samples):
        for _ in range(thin):
            V = est.gibbs(V)
        max_norm = max(max_norm, np.sqrt((V**2).sum(axis=1)).max())
        p, _ = K.ss_conditionals(V, m["W2"], m["b"], m["alpha"], m["mu"])
        acc["v1"] += V[:, 0].mean()
        acc["v1^2"] += (V[:, 0] ** 2).mean()
        acc["v2^2"] += (V[:, 1] ** 2).mean()
        acc["v1v2"] += (V[:, 0] * V[:, 1]).mean()
        acc["h"] += p.mean(axis=0)
    return {k: v / n_samples for k, v in acc.items()}, max_norm


@pytest.mark.parametrize("a, mu1", [(1.8, 0.0), (1.8, 0.5)])
def test_gibbs_moments_proper_models_match_quadrature(a, mu1):
    m = moments_model(a, mu1)
    q = quadrature_moments(m, 4.0)
    c, max_norm = chain_moments(m, 4.0)
    assert max_norm <= 4.0 * (1 + 1e-9)
    for key in q:
        np.testing.assert_allclose(c[key], q[key], atol=0.03, err_msg=key)


def test_gibbs_moments_improper_model_uses_exact_fallback():
    m = moments_model(2.2, 0.0)
    # the model is improper without the ball: P(all on) has a negative eigenvalue
    P_on = np.diag(m["lam"]) - m["W2"].T @ m["W2"]
    assert np.linalg.eigvalsh(P_on).min() < 0
    q = quadrature_moments(m, 4.0)
    c, max_norm = chain_moments(m, 4.0)
    assert max_norm <= 4.0 * (1 + 1e-9)
    np.testing.assert_allclose(c["v1^2"], q["v1^2"], rtol=0.01)
    np.testing.assert_allclose(c["v2^2"], q["v2^2"], rtol=0.01)
    np.testing.assert_allclose(c["v1v2"], q["v1v2"], atol=0.05)
    np.testing.assert_allclose(c["h"], q["h"], atol=0.01)
    # and the fallback really ran: with no retries every outside proposal uses it
    est = fitted_like(m, 4.0, random_state=0, max_rejections=0)
    V = np.tile([3.9, 0.0], (200, 1))
    m_pull = est.gibbs(V)
    assert np.all(np.sqrt((m_pull**2).sum(axis=1)) <= 4.0 * (1 + 1e-9))


# ------------------------------------------------------------ digits fixtures
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y,
                                          random_state=0)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xte), ytr, yte


# The digits feature test measures what training adds to the spike features, from
# the initialisation whose spike features are weak (mu_init=0), after 10 epochs.
SPIKE_TEST = {"transform_output": "spike", "mu_init": 0.0, "n_iter": 10}


@pytest.fixture(scope="module")
def digits_models(digits):
    """Models for seeds 0, 1, 2, keyed ``(seed, kind, trained)``: kind ``'default'``
    (the defaults) or ``'spike'`` (``SPIKE_TEST``), trained or with ``n_iter=0``;
    warnings recorded."""
    Xtr = digits[0]
    out = {}
    for seed in (0, 1, 2):
        for kind, params in (("default", {}), ("spike", SPIKE_TEST)):
            for trained in (False, True):
                kw = dict(params) if trained else {**params, "n_iter": 0}
                with warnings.catch_warnings(record=True) as rec:
                    warnings.simplefilter("always")
                    est = SpikeSlabRBM(random_state=seed, **kw).fit(Xtr)
                out[seed, kind, trained] = (
                    est, [w for w in rec if issubclass(w.category, ConvergenceWarning)])
    return out


def feature_accuracy(est, digits):
    Xtr, Xte, ytr, yte = digits
    Ftr, Fte = est.transform(Xtr), est.transform(Xte)
    sc = StandardScaler().fit(Ftr)
    with threadpool_limits(1):  # tiny problem: BLAS threads only contend
        clf = LogisticRegression(max_iter=2000).fit(sc.transform(Ftr), ytr)
        return clf.score(sc.transform(Fte), yte)


# ------------------------------------------------------ 7. ball and warning
def test_ball_is_respected_and_improper_training_warns(digits, digits_models):
    Xtr = digits[0]
    est, warns = digits_models[0, "default", True]
    assert warns == []  # defaults: no fallback warning (and no divergence)
    assert est.fallback_rate_ <= 0.01
    assert np.all(np.linalg.norm(est.chains_, axis=1) <= est.radius_ * (1 + 1e-9))
    V = est.gibbs(Xtr[:200] * 5.0)  # start partly outside the ball
    assert np.all(np.linalg.norm(V, axis=1) <= est.radius_ * (1 + 1e-9))

    lam = 1.0 / np.maximum(Xtr.var(axis=0), 0.01 * Xtr.var(axis=0).mean())
    scale = 30 * auto_w_init_scale(1.0, lam, 100, 2, Xtr.shape[1])
    bad = SpikeSlabRBM(w_init_scale=scale, learning_rate=0.1, n_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match="improper.*lower learning_rate"):
        bad.fit(Xtr)
    assert bad.fallback_rate_ > 0.5
    for name in bad._parameter_names():
        assert np.all(np.isfinite(getattr(bad, name))), name
    assert np.all(np.linalg.norm(bad.chains_, axis=1) <= bad.radius_ * (1 + 1e-9))


def test_divergence_restores_finite_parameters(digits):
    Xtr = digits[0][:200]
    est = SpikeSlabRBM(n_components=8, learning_rate=1e30, n_iter=3, random_state=0,
                       max_rejections=2)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est.fit(Xtr)
    messages = [str(w.message) for w in rec
                if issubclass(w.category, ConvergenceWarning)]
    assert any("diverged" in msg and "learning_rate" in msg for msg in messages)
    for name in est._parameter_names():
        assert np.all(np.isfinite(getattr(est, name))), name
    assert est.n_iter_ < 3


# ------------------------------------------------------ 8. proper initialisation
def test_initial_model_is_proper(digits):
    est = SpikeSlabRBM(n_iter=0, random_state=0).fit(digits[0])
    W2 = est.weights_.reshape(-1, est.n_features_in_)
    a = est.slab_precision_.reshape(-1)
    P_on = np.diag(est.visible_precision_) - (W2.T / a) @ W2
    assert np.linalg.eigvalsh(P_on).min() > 0


# --------------------------------------------- 9. training lowers F of the data
def test_training_lowers_free_energy_of_data_not_noise(digits, digits_models):
    Xte = digits[1]
    noise = np.random.default_rng(0).standard_normal(Xte.shape) * Xte.std(axis=0)
    for seed in (0, 1, 2):
        for trained in (False, True):
            est = digits_models[seed, "default", trained][0]
            gap = np.mean(-est.score_samples(noise)) - np.mean(-est.score_samples(Xte))
            if not trained:
                assert abs(gap) < 1, (seed, gap)
            else:
                assert gap > 5, (seed, gap)


# ------------------------------------------------------- 10. digits features
def test_digits_spike_features_learn_something(digits, digits_models):
    for seed in (0, 1, 2):
        trained = feature_accuracy(digits_models[seed, "spike", True][0], digits)
        untrained = feature_accuracy(digits_models[seed, "spike", False][0], digits)
        print(f"seed {seed}: spike features {trained:.3f} (untrained {untrained:.3f})")
        assert trained >= 0.92
        assert trained >= untrained + 0.02
    # baselines, reported (not asserted): raw pixels, sklearn's BernoulliRBM
    from sklearn.neural_network import BernoulliRBM
    from sklearn.preprocessing import MinMaxScaler

    Xtr, Xte, ytr, yte = digits
    with threadpool_limits(1):
        raw = LogisticRegression(max_iter=2000).fit(Xtr, ytr).score(Xte, yte)
        mm = MinMaxScaler().fit(Xtr)
        rbm = BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=20,
                           random_state=0).fit(mm.transform(Xtr))
        Ftr, Fte = rbm.transform(mm.transform(Xtr)), rbm.transform(mm.transform(Xte))
        sc = StandardScaler().fit(Ftr)
        brbm = LogisticRegression(max_iter=2000).fit(sc.transform(Ftr), ytr).score(
            sc.transform(Fte), yte)
    print(f"baselines: raw standardised pixels {raw:.3f}, "
          f"sklearn BernoulliRBM {brbm:.3f}")


# ----------------------------------------------------- 11. kernels vs reference
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_conditionals_and_free_energy_kernels(dtype, rtol):
    m = random_model(7, 5, 3, seed=12, dtype=dtype)
    V = np.random.default_rng(13).normal(size=(9, 7)).astype(dtype)
    P, Rr = K.ss_conditionals(V, m["W2"], m["b"], m["alpha"], m["mu"])
    F = K.ss_free_energy(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"])
    assert P.dtype == Rr.dtype == F.dtype == dtype
    ref = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) else v)
           for k, v in m.items()}
    V64 = V.astype(np.float64)
    p, r, _ = R.conditionals(V64, ref["W2"], ref["b"], ref["alpha"], ref["mu"])
    f = R.free_energy(V64, ref["W2"], ref["b"], ref["alpha"], ref["mu"], ref["lam"])
    atol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(P, p, rtol=rtol, atol=atol)
    np.testing.assert_allclose(Rr, r.reshape(9, -1), rtol=rtol, atol=atol)
    np.testing.assert_allclose(F, f, rtol=rtol, atol=atol)


@pytest.mark.parametrize("radius, max_rej", [(50.0, 100), (2.0, 3), (1.0, 0)])
def test_gibbs_kernel_with_rejection_and_fallback(radius, max_rej):
    D, N, K_, B = 5, 4, 2, 30
    m = random_model(D, N, K_, seed=14)
    rng = np.random.default_rng(15)
    V = rng.normal(size=(B, D))
    V[0] *= 10  # a start outside the ball: projected before the fallback
    noise = (rng.random((B, N)), rng.normal(size=(B, N * K_)),
             rng.normal(size=(B, D)))
    pool, fb = rng.normal(size=(400, D)), rng.random((B, D))
    out = K.ss_gibbs(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"], radius,
                     *noise, pool, 0, max_rej, fb, 0)
    ref = R.gibbs_sweep(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"], radius,
                        *noise, pool, 0, max_rej, fb, 0)
    V_new, H, S, status, pool_pos, fb_pos, n_fb = out
    assert status == K.STATUS_OK
    assert (pool_pos, fb_pos, n_fb) == ref[3:]
    np.testing.assert_allclose(V_new, ref[0], atol=1e-12)
    np.testing.assert_array_equal(H, ref[1])
    np.testing.assert_allclose(S, ref[2].reshape(B, -1), atol=1e-12)
    assert np.all(np.linalg.norm(V_new, axis=1) <= radius * (1 + 1e-9))
    if radius < 10:
        assert n_fb > 0  # the masked fallback path ran
    # a pool that runs out is reported, not overrun
    if max_rej > 0 and pool_pos > 0:
        short = K.ss_gibbs(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"], radius,
                           *noise, pool[:pool_pos - 1], 0, max_rej, fb, 0)
        assert short[3] == K.STATUS_POOL_EXHAUSTED
    if n_fb > 0:
        short = K.ss_gibbs(V, m["W2"], m["b"], m["alpha"], m["mu"], m["lam"], radius,
                           *noise, pool, 0, max_rej, fb[:n_fb - 1], 0)
        assert short[3] == K.STATUS_FALLBACK_EXHAUSTED


def test_truncated_normal_kernel():
    rng = np.random.default_rng(16)
    lo = np.concatenate([rng.normal(size=300) * 6, [40.0, -50.0, 3.0, -1e-3, 0.0]])
    hi = lo + np.concatenate([rng.exponential(2.0, size=300), [1.0, 2.0, 0.0, 2e-3, 5]])
    u = rng.random(lo.shape)
    got = np.array([K._truncnorm_std(a, b, c) for a, b, c in zip(lo, hi, u)])
    np.testing.assert_allclose(got, R.truncnorm_std(lo, hi, u), rtol=1e-10, atol=1e-12)
    assert np.all((got >= lo) & (got <= hi))
    ps = np.concatenate([np.logspace(-300, -1, 100), np.linspace(0.02, 0.98, 97)])
    np.testing.assert_allclose([K._ndtri(p) for p in ps], ndtri(ps), rtol=1e-13)
    # a distribution check: truncated to [0.5, 2], the draws follow the truncated CDF
    draws = np.array([K._truncnorm_std(0.5, 2.0, x) for x in rng.random(20000)])
    from scipy import stats
    assert stats.kstest(draws, stats.truncnorm(0.5, 2.0).cdf).pvalue > 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_standard_normal_into_gives_numpys_numbers(seed):
    # numpy's stream, and the same generator state after (the next draws agree too);
    # 200_000 normals reach the ziggurat's rare branches (tail, wedge rejections)
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    for n in (0, 1, 200_000 + 17 * seed):
        out = np.empty(n)
        K.standard_normal_into(ours, out)
        np.testing.assert_array_equal(out, theirs.standard_normal(n))
    assert ours.random() == theirs.random()


FLAG_SETS = [
    dict(learn_alpha=True, learn_mu=True, learn_lambda=True, scalar_alpha=False,
         scalar_lambda=False),
    dict(learn_alpha=True, learn_mu=False, learn_lambda=True, scalar_alpha=True,
         scalar_lambda=True),
    dict(learn_alpha=False, learn_mu=False, learn_lambda=False, scalar_alpha=False,
         scalar_lambda=False),
]


def _copies(m, dtype):
    params = {k: np.array(m[k], dtype=dtype) for k in ("W2", "b", "alpha", "mu", "lam")}
    rng = np.random.default_rng(17)
    vel = {k: (rng.normal(size=v.shape) * 0.01).astype(dtype)
           for k, v in params.items()}
    return params, vel


def _kernel_args(p, v):
    return (p["W2"], p["b"], p["alpha"], p["mu"], p["lam"], v["W2"], v["b"],
            v["alpha"], v["mu"], v["lam"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("flags", FLAG_SETS)
def test_gradient_step_kernel(flags, dtype):
    D, N, K_ = 6, 4, 2
    m = random_model(D, N, K_, seed=18)
    rng = np.random.default_rng(19)
    V_pos, V_neg = rng.normal(size=(7, D)), rng.normal(size=(5, D))
    p_ref, v_ref = _copies(m, np.float64)
    R.gradient_step(V_pos, V_neg, p_ref, v_ref, learning_rate=0.05, momentum=0.5,
                    weight_decay=0.01, precision_bounds=(0.5, 3.0), **flags)
    p_k, v_k = _copies(m, dtype)
    K.ss_gradient_step(V_pos.astype(dtype), V_neg.astype(dtype),
                       *_kernel_args(p_k, v_k),
                       0.05, 0.5, 0.01, flags["learn_alpha"], flags["learn_mu"],
                       flags["learn_lambda"], flags["scalar_alpha"],
                       flags["scalar_lambda"], np.log(0.5), np.log(3.0))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for key in p_ref:
        assert p_k[key].dtype == dtype
        np.testing.assert_allclose(p_k[key], p_ref[key], rtol=tol, atol=tol,
                                   err_msg=key)
        np.testing.assert_allclose(v_k[key], v_ref[key], rtol=tol, atol=tol,
                                   err_msg=key)
    if not flags["learn_alpha"]:  # frozen parameters are untouched, bit for bit
        np.testing.assert_array_equal(p_k["alpha"], m["alpha"].astype(dtype))


def _epoch_call(X, perm, starts, stops, first, p, v, chains, persistent, steps, noise,
                slab_pos=0, pool_pos=0, fb_pos=0):
    dense = "z_s" in noise
    slabs = noise["z_s"].ravel() if dense else noise["slab_pool"]
    return K.ss_epoch(
        X, perm, starts, stops, first, *_kernel_args(p, v), chains, persistent, steps,
        noise["u_h"], noise["z_v"], slabs, slab_pos, dense, noise["pool"],
        pool_pos, noise["fb_u"], fb_pos, 2.0, 3, 0.05, 0.5, 0.01, True, True, True,
        False, False, np.log(0.5), np.log(3.0))


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("persistent, K_",
                         [(True, 2), (False, 2), (True, 3), (False, 4)])
def test_epoch_kernel(persistent, K_, dense):
    D, N, n, M, steps = 5, 4, 23, 6, 2
    m = random_model(D, N, K_, seed=20)
    m["W2"] *= 0.6
    rng = np.random.default_rng(21)
    X = rng.normal(size=(n, D))
    bounds = batch_bounds(n, M)
    starts, stops = bounds[:-1], bounds[1:]
    nb = len(starts)
    perm = rng.permutation(n)
    # numpy noise; slab normals either one per slab (dense, as ss_gibbs) or only for
    # spikes that are on, read in order from a pool
    noise = dict(u_h=rng.random((nb, steps, M, N)),
                 z_v=rng.normal(size=(nb, steps, M, D)),
                 pool=rng.normal(size=(400, D)), fb_u=rng.random((100, D)))
    slabs = rng.normal(size=nb * steps * M * N * K_)
    if dense:
        noise["z_s"] = slabs.reshape(nb, steps, M, N * K_)
    else:
        noise["slab_pool"] = slabs
    chains = X[:M].copy()
    kw = dict(learning_rate=0.05, momentum=0.5, weight_decay=0.01,
              precision_bounds=(0.5, 3.0))
    p_ref, v_ref = _copies(m, np.float64)
    c_ref, nfb_ref, nd_ref = R.train_epoch(
        X, perm, starts, stops, p_ref, v_ref, chains.copy(), persistent=persistent,
        n_steps=steps, radius=2.0, max_rejections=3, **noise, **kw)
    assert nfb_ref > 0  # the fallback path is part of the comparison
    p_k, v_k = _copies(m, np.float64)
    c_k = chains.copy()
    status, j, s_pos, p_pos, f_pos, nfb, nd = _epoch_call(
        X, perm, starts, stops, 0, p_k, v_k, c_k, persistent, steps, noise)
    assert (status, j, nfb, nd) == (K.STATUS_OK, nb, nfb_ref, nd_ref)
    if not dense:  # only spikes that are on read slab numbers
        assert 0 < s_pos < slabs.size and s_pos % K_ == 0
    assert p_pos > 0 and f_pos == nfb
    for key in p_ref:
        np.testing.assert_allclose(p_k[key], p_ref[key], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(v_k[key], v_ref[key], rtol=1e-12, atol=1e-12)
    if persistent:
        np.testing.assert_allclose(c_k, c_ref, atol=1e-12)

    # resumable: pools handed out in small pieces, the unread rest of a pool that ran
    # out kept and fresh numbers appended (as the estimator does), give bit for bit
    # the epoch of the long pools
    p_s, v_s = _copies(m, np.float64)
    c_s = chains.copy()
    given = {"pool": 1, "fb_u": 1} if dense else {"slab_pool": 7, "pool": 1, "fb_u": 1}
    full = {key: noise[key] for key in given}
    piece = dict(given)
    cur = dict(noise, **{key: full[key][:given[key]] for key in given})
    pos = {"slab_pool": 0, "pool": 0, "fb_u": 0}
    which = {K.STATUS_SLAB_EXHAUSTED: "slab_pool", K.STATUS_POOL_EXHAUSTED: "pool",
             K.STATUS_FALLBACK_EXHAUSTED: "fb_u"}
    first, seen = 0, set()
    tot_fb = tot_d = 0
    while True:
        status, first, sp, pp, fp, nf_s, nd_s = _epoch_call(
            X, perm, starts, stops, first, p_s, v_s, c_s, persistent, steps, cur,
            pos["slab_pool"], pos["pool"], pos["fb_u"])
        tot_fb += nf_s
        tot_d += nd_s
        if status == K.STATUS_OK:
            break
        pos.update(slab_pool=sp, pool=pp, fb_u=fp)
        key = which[status]
        seen.add(key)
        cur[key] = np.concatenate((cur[key][pos[key]:],
                                   full[key][given[key]:given[key] + piece[key]]))
        given[key] += piece[key]
        pos[key] = 0
    assert seen == set(given)
    assert (tot_fb, tot_d) == (nfb, nd)
    for key in p_k:
        np.testing.assert_array_equal(p_s[key], p_k[key])
        np.testing.assert_array_equal(v_s[key], v_k[key])
    np.testing.assert_array_equal(c_s, c_k)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_tile_matmul_and_transpose(dtype, rtol):
    """The register-tile product of the epoch kernel against numpy, over the shapes
    that reach every tile width (5 whole vectors down to single elements) and row
    block (4 rows, single rows); outside ``C[:m, :n]`` nothing is written."""
    rng = np.random.default_rng(3)
    for m, n, k in [(1, 1, 1), (3, 7, 5), (4, 8, 64), (5, 17, 3), (9, 40, 11),
                    (21, 200, 64), (40, 203, 13), (6, 95, 2), (7, 129, 30)]:
        A = rng.normal(size=(m + 2, k + 3)).astype(dtype)
        B = rng.normal(size=(k + 1, n + 5)).astype(dtype)
        C = np.full((m + 1, n + 5), 7.0, dtype=dtype)
        K.tile_matmul(C, A, B, m, n, k)
        expect = A[:m, :k].astype(np.float64) @ B[:k, :n].astype(np.float64)
        np.testing.assert_allclose(C[:m, :n], expect, rtol=rtol,
                                   atol=rtol * np.abs(expect).max())
        assert np.all(C[m:] == 7.0) and np.all(C[:, n:] == 7.0)
        S = rng.normal(size=(m + 8, n + 3)).astype(dtype)
        T = np.empty((n + 3, m + 8), dtype=dtype)
        K.transpose_into(S, T)
        np.testing.assert_array_equal(T, S.T)


def test_epoch_reference_slab_pool_matches_z_s():
    """The reference's slab pool equals per-slab noise with the pool numbers at the
    slabs of spikes that are on (off slabs do not reach the next visible state)."""
    D, N, K_, n, M = 4, 3, 2, 12, 4
    m = random_model(D, N, K_, seed=30)
    rng = np.random.default_rng(31)
    X = rng.normal(size=(n, D))
    bounds = batch_bounds(n, M)
    starts, stops = bounds[:-1], bounds[1:]
    nb = len(starts)
    perm = rng.permutation(n)
    noise = dict(u_h=rng.random((nb, 1, M, N)), z_v=rng.normal(size=(nb, 1, M, D)),
                 pool=rng.normal(size=(400, D)), fb_u=rng.random((100, D)))
    z_off = rng.normal(size=(nb, 1, M, N * K_))
    kw = dict(persistent=True, n_steps=1, radius=50.0, max_rejections=3,  # no retries
              learning_rate=0.05, momentum=0.5, weight_decay=0.01)
    slab_pool = rng.normal(size=nb * M * N * K_)
    # replay with the pool, noting which slabs were on in every sweep
    p1, v1 = _copies(m, np.float64)
    c1, _, _ = R.train_epoch(X, perm, starts, stops, p1, v1, X[:M].copy(),
                             slab_pool=slab_pool, **noise, **kw)
    # rebuild z_s: pool numbers at on slabs, anything at off slabs
    p2, v2 = _copies(m, np.float64)
    z_s = z_off.copy()
    chains, pos = X[:M].copy(), 0
    for j in range(nb):
        p, _, _ = R.conditionals(chains, p2["W2"], p2["b"], p2["alpha"], p2["mu"])
        on = np.repeat(noise["u_h"][j, 0] < p, K_, axis=1)
        z_s[j, 0][on] = slab_pool[pos:pos + on.sum()]
        pos += on.sum()
        chains, _, _ = R.train_epoch(
            X, perm, starts[j:j + 1], stops[j:j + 1], p2, v2, chains,
            z_s=z_s[j:j + 1], u_h=noise["u_h"][j:j + 1], z_v=noise["z_v"][j:j + 1],
            pool=noise["pool"], fb_u=noise["fb_u"], **kw)
    for key in p1:
        np.testing.assert_allclose(p2[key], p1[key], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(chains, c1, atol=1e-12)


# ------------------------------------------------- 12. scikit-learn conventions
@pytest.fixture(scope="module")
def small():
    X = StandardScaler().fit_transform(load_digits().data[:300])
    return X, load_digits().target[:300]


def small_rbm(**kw):
    params = dict(n_components=16, n_iter=2, batch_size=10, random_state=0)
    params.update(kw)
    return SpikeSlabRBM(**params)


def test_same_random_state_same_results_and_pickle(small):
    X, _ = small
    a, b = small_rbm().fit(X), small_rbm().fit(X)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.gibbs(X[:5]), b.gibbs(X[:5]))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.transform(X), a.transform(X))
    np.testing.assert_array_equal(c.score_samples(X), a.score_samples(X))
    d = clone(a)
    assert not hasattr(d, "weights_") and d.get_params() == a.get_params()
    assert not np.array_equal(small_rbm(random_state=1).fit(X).weights_, a.weights_)


def _count_thread_starts(monkeypatch):
    """Count the threads SpikeSlabRBM starts (a list that grows by one per start)."""
    from sknets.rbm import _spike_slab as S

    started = []
    thread_cls = S.threading.Thread

    class CountingThread(thread_cls):
        def start(self):
            started.append(1)
            super().start()

    monkeypatch.setattr(S.threading, "Thread", CountingThread)
    return started


@pytest.mark.parametrize("kw", [{}, {"persistent": False, "n_gibbs_steps": 2}])
@pytest.mark.parametrize("budget", [None, 2000])
def test_prefetched_noise_same_model(small, monkeypatch, kw, budget):
    """Drawing the next epoch's noise, and the next chunk of an epoch's noise, in a
    thread gives the same model, bit for bit, with few or many chunks per epoch."""
    from sknets.rbm import _spike_slab as S

    X, _ = small
    if budget is not None:
        monkeypatch.setattr(S, "_NOISE_BUDGET", budget)
    # a second thread allowed whatever the test worker's limits; count the threads
    monkeypatch.setattr(S, "effective_n_threads", lambda n_jobs=None: 2)
    started = _count_thread_starts(monkeypatch)
    fits = {}
    for prefetch in (True, False):
        monkeypatch.setattr(S, "_PREFETCH", prefetch)
        before = len(started)
        fits[prefetch] = small_rbm(n_iter=3, **kw).fit(X)
        # epochs 2 and 3, and chunks 2.. of each of the 3 epochs; none without
        n_chunks = 1 if budget is None else 30
        expect = 2 + 3 * (n_chunks - 1) if prefetch else 0
        assert len(started) - before == expect
    for name in fits[True]._parameter_names():
        np.testing.assert_array_equal(getattr(fits[True], name),
                                      getattr(fits[False], name), err_msg=name)
    assert not hasattr(fits[True], "_prefetched")
    assert not hasattr(fits[True], "_epochs_to_come")


def test_no_prefetch_thread_under_one_thread_limit(small, monkeypatch):
    """With one thread allowed (threadpoolctl, a joblib worker), no helper thread."""
    from sknets.rbm import _spike_slab as S

    X, _ = small
    monkeypatch.setattr(S, "effective_n_threads", lambda n_jobs=None: 1)
    started = _count_thread_starts(monkeypatch)
    small_rbm(n_iter=3).fit(X)
    assert started == []


@pytest.mark.parametrize("output, width", [("spike", 16), ("slab", 48), ("both", 64)])
def test_transform_outputs_and_feature_names(small, output, width):
    X, _ = small
    est = small_rbm(n_slabs=3, transform_output=output).fit(X)
    F = est.transform(X)
    assert F.shape == (X.shape[0], width)
    names = est.get_feature_names_out()
    assert len(names) == width and names[0] == "spikeslabrbm0"
    P, Rr = K.ss_conditionals(X, est.weights_.reshape(48, -1), est.spike_bias_,
                              est.slab_precision_, est.slab_mean_)
    expected = {"spike": P, "slab": Rr, "both": np.hstack([P, Rr])}[output]
    np.testing.assert_allclose(F, expected)


def test_float32_is_kept(small):
    X, _ = small
    est = small_rbm().fit(X.astype(np.float32))
    for name in est._parameter_names():
        assert getattr(est, name).dtype == np.float32, name
    assert est.transform(X.astype(np.float32)).dtype == np.float32
    assert est.score_samples(X.astype(np.float32)).dtype == np.float32
    assert est.gibbs(X[:4].astype(np.float32)).dtype == np.float32
    assert est.transform(X).dtype == np.float64
    est32 = est.transform(X.astype(np.float32))
    est64 = small_rbm().fit(X).transform(X)
    np.testing.assert_allclose(est32, est64, atol=1e-3)


def test_pipeline_and_grid_search(small):
    X, y = small
    pipe = Pipeline([("scale", StandardScaler()), ("rbm", small_rbm()),
                     ("clf", LogisticRegression(max_iter=300))])
    search = GridSearchCV(pipe, {"rbm__transform_output": ["spike", "both"]},
                          cv=2, n_jobs=2)
    search.fit(X, y)
    assert search.best_score_ > 0.5
    assert search.predict(X[:10]).shape == (10,)


def test_bad_input(small):
    X, _ = small
    est = small_rbm()
    with pytest.raises(NotFittedError):
        est.transform(X)
    with pytest.raises(NotFittedError):
        est.gibbs(X)
    for bad in (np.where(np.eye(5, 4) > 0, np.nan, 1.0),
                np.where(np.eye(5, 4) > 0, np.inf, 1.0)):
        with pytest.raises(ValueError, match="NaN|infinity"):
            clone(est).fit(bad)
    with pytest.raises(ValueError, match="0 sample"):
        clone(est).fit(np.empty((0, 4)))
    with pytest.raises(ValueError):
        clone(est).fit([["a", "b"], ["c", "d"]])
    est.fit(X)
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :10])
    with pytest.raises(ValueError, match="NaN"):
        est.transform(np.full_like(X, np.nan))
    with pytest.raises(ValueError, match="precision_bounds"):
        small_rbm(precision_bounds=(10.0, 1.0)).fit(X)
    with pytest.raises(ValueError, match="lambda_init"):
        small_rbm(lambda_init=np.ones(3)).fit(X)
    with pytest.raises(ValueError, match="transform_output"):
        small_rbm(transform_output="spikes").fit(X)


def test_partial_fit_then_transform(small):
    X, _ = small
    est = small_rbm()
    for chunk in np.array_split(X, 5):
        est.partial_fit(chunk)
    assert est.transform(X).shape == (X.shape[0], 16 + 16 * 2)  # spikes, slabs
    assert est.radius_ >= 1.3 * np.linalg.norm(X, axis=1).max() - 1e-9
    # partial_fit grows the ball to cover a new batch
    est.partial_fit(X[:10] * 3)
    assert est.radius_ >= 1.3 * np.linalg.norm(X[:10] * 3, axis=1).max() - 1e-9


def test_partial_fit_smaller_than_a_batch_learns(small):
    X, _ = small
    est = small_rbm(batch_size=20).partial_fit(X[:40])
    before = {k: getattr(est, k).copy() for k in ("weights_", "spike_bias_",
                                                  "visible_precision_")}
    est.partial_fit(X[40:45])  # 5 rows, fewer than the 20 chains
    for key, value in before.items():
        assert np.abs(getattr(est, key) - value).max() > 0, key


def test_failed_fit_or_partial_fit_leaves_estimator_as_before(small, monkeypatch):
    """A fit that raises mid-way (a warning turned into an error, an error after the
    kernel updated the parameters in place) leaves the estimator as before the call:
    unfitted, or with its earlier parameters."""
    X, _ = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = small_rbm(learning_rate=1e6)
        with pytest.raises(ConvergenceWarning, match="diverged"):
            est.fit(X * 1e3)
        with pytest.raises(NotFittedError):
            est.transform(X)
    est = small_rbm().fit(X)
    kept = {k: v.copy() for k, v in vars(est).items() if isinstance(v, np.ndarray)}
    out = est.transform(X)
    real_epoch = K.ss_epoch

    def epoch_then_fail(*args):
        real_epoch(*args)  # the parameters change in place
        raise RuntimeError("injected")

    monkeypatch.setattr(K, "ss_epoch", epoch_then_fail)
    for method in ("fit", "partial_fit"):
        with pytest.raises(RuntimeError, match="injected"):
            getattr(est, method)(X)
        for key, value in kept.items():
            np.testing.assert_array_equal(getattr(est, key), value, err_msg=key)
        np.testing.assert_array_equal(est.transform(X), out)


def test_huge_request_fails_fast_naming_the_remedy(small):
    X, _ = small
    with pytest.raises(MemoryError, match="n_components"):
        small_rbm(n_components=10**8).fit(X)


def test_verbose(small, capsys):
    small_rbm(verbose=1).fit(small[0])
    out = capsys.readouterr().out
    assert out.count("[SpikeSlabRBM] Iteration") == 2


def test_cd_and_n_iter_zero(small):
    X, _ = small
    cd = small_rbm(persistent=False, n_gibbs_steps=2).fit(X)
    assert np.all(np.isfinite(cd.weights_))
    zero = small_rbm(n_iter=0).fit(X)
    np.testing.assert_array_equal(zero.spike_bias_, 0.0)
    assert zero.n_iter_ == 0


# --------------------------------------------------------------- 13. mlpack mode
def test_mlpack_mode_keeps_frozen_parameters(digits):
    est = SpikeSlabRBM(scalar_lambda=True, scalar_alpha=True, learn_alpha=False,
                       learn_mu=False, mu_init=0.0, alpha_init=8, n_iter=2,
                       transform_output="spike", random_state=0)
    est.fit(digits[0])
    lam = est.visible_precision_
    assert np.all(lam == lam[0])
    init = clone(est).set_params(n_iter=0).fit(digits[0]).visible_precision_
    assert np.all(init == init[0]) and lam[0] != init[0]  # shared, and learned
    assert np.all(est.slab_precision_ == 8.0)
    assert np.all(est.slab_mean_ == 0.0)
    # reported, not asserted (the learned-alpha, learned-mu default is better)
    mlpack = est.set_params(n_iter=10).fit(digits[0])
    print(f"mlpack mode, spike features: {feature_accuracy(mlpack, digits):.3f}")
