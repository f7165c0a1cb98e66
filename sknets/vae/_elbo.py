r"""The evidence lower bound (ELBO) of the variational autoencoders, term by term.

Everything is per row and in nats; the estimators minimise the batch mean of minus
these bounds with the gradients below, back-propagated through the networks of
:mod:`sknets.nn` (no autodiff).

**Model and bound** (Kingma & Welling 2014). A latent code :math:`z \in R^d` with
prior :math:`p(z) = N(0, I)`, a decoder :math:`p_\theta(x | z)` and an encoder
:math:`q_\phi(z | x) = N(\mu_\phi(x), diag(\sigma^2_\phi(x)))` (it outputs
:math:`\mu` and :math:`\log \sigma^2`). For every :math:`q`,

.. math::

    \log p(x) \ge \mathcal{L}(x) = E_{q(z|x)}[\log p(x | z)] - KL(q(z|x) \| p(z)),

the reconstruction term minus the KL term. ``score_samples`` of the estimators is
this bound; ``kl_weight`` (:math:`\beta`, and its warm-up) scales only the KL term of
the training objective, never the reported ELBO.

**Reparameterisation.** :math:`z = \mu + \sigma \odot \epsilon`, :math:`\epsilon
\sim N(0, I)` drawn outside the networks, so the one-sample estimate
:math:`\log p(x | z)` is a differentiable function of :math:`\mu, \log\sigma^2`. With
:math:`g = \partial / \partial z` from the decoder's backward pass:

.. math::

    \partial/\partial\mu = g, \qquad
    \partial/\partial \log\sigma^2 = g \odot \epsilon \odot \sigma / 2.

**Analytic KL** against :math:`N(0, I)`:

.. math::

    KL = \frac12 \sum_k (\mu_k^2 + \sigma_k^2 - 1 - \log\sigma_k^2), \qquad
    \partial KL/\partial\mu = \mu, \qquad
    \partial KL/\partial\log\sigma^2 = (\sigma^2 - 1) / 2.

**Bernoulli likelihood** (data in [0, 1]; the decoder outputs logits :math:`l`):

.. math::

    \log p(x | z) = \sum_j x_j l_j - \mathrm{softplus}(l_j), \qquad
    \partial/\partial l_j = x_j - \mathrm{sigmoid}(l_j).

**Gaussian likelihood** (real-valued data; the decoder outputs the mean :math:`m`,
one log-variance :math:`s_j` per feature, learned or fixed):

.. math::

    \log p(x | z) = -\frac12 \sum_j \left(\log 2\pi + s_j + (x_j - m_j)^2 e^{-s_j}
    \right),

.. math::

    \partial/\partial m_j = (x_j - m_j) e^{-s_j}, \qquad
    \partial/\partial s_j = \frac12 \left((x_j - m_j)^2 e^{-s_j} - 1\right).

The learned :math:`s_j` is kept in :data:`LOG_VARIANCE_RANGE` (its gradient is zero
at the bounds), so a constant feature cannot drive the density to infinity.

**M2, the semi-supervised model** (Kingma, Rezende, Mohamed & Welling 2014). A class
:math:`y` with a uniform prior :math:`p(y) = 1/K`, :math:`p(z) = N(0, I)`, a decoder
:math:`p(x | y, z)` and two encoders, :math:`q(z | x, y)` (Gaussian, as above) and the
classifier :math:`q(y | x) = \mathrm{softmax}(a(x))`. A labelled row's bound is

.. math::

    \mathcal{L}(x, y) = E_{q(z|x,y)}[\log p(x | y, z)] + \log p(y)
    - KL(q(z | x, y) \| p(z)),

an unlabelled row's sums over the classes:

.. math::

    \mathcal{U}(x) = \sum_y q(y | x) \mathcal{L}(x, y) + H(q(y | x)).

With :math:`g_y = \mathcal{L}(x, y) - \log q(y | x)`, its gradient in the classifier's
logits is :math:`\partial\mathcal{U}/\partial a_k = q_k (g_k - \sum_y q_y g_y)`, and
each class's :math:`\mathcal{L}(x, y)` receives the weight :math:`q(y | x)`. The
classifier would learn from unlabelled rows only, so the objective adds the
cross-entropy on the labelled rows with weight :math:`\alpha`:

.. math::

    J = -\frac1N \left(\sum_{labelled} \mathcal{L}(x, y)
    + \sum_{unlabelled} \mathcal{U}(x)\right)
    + \alpha \, E_{labelled}[-\log q(y | x)],

i.e. the paper's :math:`J^\alpha` divided by the number of rows N (its
:math:`\alpha = 0.1 N` is ``alpha=0.1`` here).
"""

import numpy as np

__all__ = ["LOG_VARIANCE_RANGE", "kl_standard_normal", "reparameterize",
           "reparameterize_backward", "bernoulli_log_likelihood",
           "gaussian_log_likelihood", "unlabelled_bound"]

LOG_2PI = float(np.log(2 * np.pi))

#: bounds of a learned Gaussian log-variance (in the units of the standardised data)
LOG_VARIANCE_RANGE = (float(np.log(1e-3)), float(np.log(1e3)))


def kl_standard_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per row and its gradients.

    Parameters
    ----------
    mu, logvar : ndarray of shape (n, d)

    Returns
    -------
    kl : ndarray of shape (n,)
    d_mu, d_logvar : ndarray of shape (n, d)
        Derivatives of each row's KL.
    """
    var = np.exp(logvar)
    kl = 0.5 * (mu * mu + var - 1 - logvar).sum(axis=1)
    return kl, mu, 0.5 * (var - 1)


def reparameterize(mu, logvar, eps):
    """``z = mu + exp(logvar / 2) * eps`` and the standard deviations."""
    std = np.exp(0.5 * logvar)
    return mu + std * eps, std


def reparameterize_backward(d_z, eps, std):
    """Gradients in ``mu`` and ``logvar`` of a loss with gradient ``d_z`` in z."""
    return d_z, d_z * eps * (0.5 * std)


def bernoulli_log_likelihood(logits, x):
    """log p(x | logits) of independent Bernoulli features, per row, and d/dlogits.

    ``x`` in [0, 1] (real values are the usual relaxation of binary data).
    """
    ll = (x * logits - np.logaddexp(0, logits)).sum(axis=1)
    e = np.exp(-np.abs(logits))
    sig = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
    return ll, (x - sig).astype(logits.dtype, copy=False)


def gaussian_log_likelihood(mean, log_var, x):
    """log N(x; mean, diag(exp(log_var))) per row, d/dmean and d/dlog_var per entry.

    ``log_var`` has shape (n_features,) (one variance per feature).
    """
    inv_var = np.exp(-log_var)
    diff = x - mean
    sq = diff * diff * inv_var
    ll = -0.5 * (sq + log_var + LOG_2PI).sum(axis=1)
    return ll, diff * inv_var, 0.5 * (sq - 1)


def unlabelled_bound(bounds, log_q):
    """The unlabelled bound U(x) and its gradients.

    Parameters
    ----------
    bounds : ndarray of shape (n, K)
        L(x, y) of each row for each class.
    log_q : ndarray of shape (n, K)
        log q(y | x) (log-softmax of the classifier's logits).

    Returns
    -------
    U : ndarray of shape (n,)
    d_bounds : ndarray of shape (n, K)
        dU/dL(x, y) = q(y | x).
    d_logits : ndarray of shape (n, K)
        dU/da for the classifier's logits a.
    """
    q = np.exp(log_q)
    g = bounds - log_q
    U = (q * g).sum(axis=1)
    return U, q, q * (g - U[:, None])
