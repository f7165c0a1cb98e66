"""BernoulliRBM: a drop-in replacement of scikit-learn's, with Numba epoch kernels."""

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from ..utils._threads import effective_n_threads, kernel_threads
from ._base import BaseRBM
from ._bernoulli_blocked_kernels import blocked_epoch
from ._bernoulli_kernels import EpochSettings, dense_epoch, legacy_normal

# Minibatch size (rows x features x components) from which an epoch runs in the
# blocked kernel, which skips the zeros of the data and of the binary samples; below
# it, the products through BLAS cost less than packing the weights and building the
# masks (measured in benchmarks/bench_rbm.py, which prints both kernels).
_BLOCKED_MIN_WORK = 2**18

# Rows of the minibatch (or chains) per task of the blocked kernel's product phases.
_ROWS_PER_TASK = 50

# Elementary steps (about 1 ns each, see sknets.utils._threads) per unit of minibatch
# size (rows x features x components) in one of the blocked kernel's parallel phases
# on one thread (a PCD-1 minibatch runs three), measured on 100 x 784 x 500.
_PHASE_STEPS_PER_UNIT = {np.dtype(np.float32): 0.02, np.dtype(np.float64): 0.04}


class BernoulliRBM(BaseRBM):
    """Restricted Boltzmann Machine with binary hidden units (Numba kernels).

    A drop-in replacement of :class:`sklearn.neural_network.BernoulliRBM`: the same
    parameters, defaults, fitted attributes and methods, and by default the same
    learning rule, Stochastic Maximum Likelihood a.k.a. Persistent Contrastive
    Divergence (PCD) with one Gibbs step per minibatch [2]_. It even consumes the
    same random stream: for the same ``random_state`` it learns the same model as
    scikit-learn up to floating-point rounding. Each epoch runs inside one compiled
    kernel (positive phase, Gibbs sampling, negative phase and parameter step for
    every minibatch), which makes it several times faster.

    Beyond scikit-learn, with defaults that keep its behaviour: CD-k as well as
    persistent chains (``persistent``, ``n_gibbs_steps``), ``momentum``,
    ``weight_decay`` and Gaussian visible units for real-valued, standardized data
    (``visible_unit='gaussian'``, a Gaussian-Bernoulli RBM [3]_).

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.

    learning_rate : float, default=0.1
        The learning rate for weight updates; the step for a minibatch of ``n`` rows
        is ``learning_rate / n`` times the summed gradient (scikit-learn's rule). It
        is *highly* recommended to tune this hyper-parameter. Reasonable values are
        in the 10**[0., -3.] range; Gaussian visible units need smaller ones
        (about 1e-3 to 1e-2).

    batch_size : int, default=10
        Number of examples per minibatch, and number of persistent chains.

    n_iter : int, default=10
        Number of iterations/sweeps over the training dataset to perform during
        training.

    verbose : int, default=0
        The verbosity level. The default, zero, means silent mode. Otherwise one
        line per iteration is printed, as in scikit-learn:
        ``[BernoulliRBM] Iteration 1, pseudo-likelihood = -25.39, time = 0.19s``.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the initial components, the Gibbs
        sampling during fit and in :meth:`gibbs`, and the corruption of the data in
        :meth:`score_samples`. Pass an int for reproducible results across multiple
        function calls. See :term:`Glossary <random_state>`.

    n_gibbs_steps : int, default=1
        Number of Gibbs steps (hidden -> visible -> hidden) per minibatch for the
        negative phase: the ``k`` of PCD-k / CD-k.

    persistent : bool, default=True
        If True (scikit-learn's rule), ``batch_size`` persistent chains
        (``h_samples_``) are carried from one minibatch to the next (PCD). If False,
        the chains restart at each minibatch from hidden units sampled given the
        data (CD-k).

    momentum : float in [0, 1), default=0.0
        Momentum of the parameter steps: ``velocity = momentum * velocity + step``.

    weight_decay : float, default=0.0
        L2 penalty on the weights: ``learning_rate * weight_decay * components_`` is
        subtracted at each step. Biases are not decayed.

    visible_unit : {'bernoulli', 'gaussian'}, default='bernoulli'
        Type of the visible units. ``'bernoulli'``: binary units, for data in
        [0, 1] (values are read as probabilities). ``'gaussian'``: real-valued units
        with unit variance, ``v | h ~ N(components_.T @ h + intercept_visible_, I)``,
        for standardized data (put a ``StandardScaler`` first). With Gaussian units
        :meth:`score_samples` returns the negative free energy and :meth:`gibbs`
        returns real values.

    Attributes
    ----------
    intercept_hidden_ : array-like of shape (n_components,)
        Biases of the hidden units.

    intercept_visible_ : array-like of shape (n_features,)
        Biases of the visible units.

    components_ : array-like of shape (n_components, n_features)
        Weight matrix, where `n_features` is the number of visible units and
        `n_components` is the number of hidden units. Fortran-ordered, as in
        scikit-learn.

    h_samples_ : array-like of shape (batch_size, n_components)
        Hidden activation sampled from the model distribution (the persistent
        chains), where `batch_size` is the number of examples per minibatch and
        `n_components` is the number of hidden units.

    n_iter_ : int
        Number of iterations completed with finite parameters (``n_iter`` unless
        training diverged, see Notes).

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    sklearn.neural_network.BernoulliRBM : The scikit-learn estimator this one
        replaces.
    sknets.SpikeSlabRBM : Spike-and-slab RBM for real-valued data.
    sklearn.decomposition.PCA : An unsupervised linear dimensionality reduction
        model.

    Notes
    -----
    Input. Bernoulli visible units expect values in [0, 1]. As in scikit-learn,
    values outside are used as given (they act as scaled activations); unlike
    scikit-learn, :meth:`fit` and :meth:`partial_fit` then emit a ``UserWarning``
    suggesting ``MinMaxScaler`` or ``visible_unit='gaussian'``. NaN or infinite
    values, empty input, non-numeric input and a wrong number of features at
    :meth:`transform` raise a ``ValueError``; using an unfitted model raises
    ``NotFittedError``. Sparse input is accepted in CSR (other formats are
    converted) and is never densified as a whole.

    Divergence. If an iteration makes a parameter NaN or infinite (too large a
    ``learning_rate``, mostly with Gaussian units), the parameters of the previous
    iteration are restored, training stops and a ``ConvergenceWarning`` says to
    lower ``learning_rate``.

    Randomness. The kernels draw their uniform numbers from the MT19937 stream of
    the ``RandomState`` given by ``random_state`` in scikit-learn's order (PCD-1,
    Bernoulli units), so both libraries learn the same model; float32 input is kept
    float32 throughout.

    References
    ----------
    .. [1] Hinton, G. E., Osindero, S. and Teh, Y. A fast learning algorithm for
       deep belief nets. Neural Computation 18, pp 1527-1554.
       https://www.cs.toronto.edu/~hinton/absps/fastnc.pdf

    .. [2] Tieleman, T. Training Restricted Boltzmann Machines using Approximations
       to the Likelihood Gradient. International Conference on Machine Learning
       (ICML) 2008.

    .. [3] Hinton, G. E. A Practical Guide to Training Restricted Boltzmann
       Machines. UTML TR 2010-003, University of Toronto, 2010 (sections on
       momentum, weight decay and Gaussian visible units).

    Examples
    --------
    >>> import numpy as np
    >>> from sknets import BernoulliRBM
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    >>> model = BernoulliRBM(n_components=2, random_state=0)
    >>> model.fit(X)
    BernoulliRBM(n_components=2, random_state=0)
    >>> model.transform(X).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        **BaseRBM._parameter_constraints,
        "visible_unit": [StrOptions({"bernoulli", "gaussian"})],
    }

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.1,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        n_gibbs_steps=1,
        persistent=True,
        momentum=0.0,
        weight_decay=0.0,
        visible_unit="bernoulli",
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.n_gibbs_steps = n_gibbs_steps
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.visible_unit = visible_unit

    # ------------------------------------------------------------ base hooks
    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    @property
    def _verbose_score_name(self):
        if self.visible_unit == "gaussian":
            return "negative free energy"
        return "pseudo-likelihood"

    @property
    def _divergence_remedy(self):
        if self.visible_unit == "gaussian":
            return ("lower learning_rate (Gaussian visible units need about 1e-3 to "
                    "1e-2) and standardize X")
        return "lower learning_rate"

    @property
    def _value_range(self):
        return (0.0, 1.0) if self.visible_unit == "bernoulli" else None

    def _warn_outside_range(self):
        warnings.warn(
            "BernoulliRBM with visible_unit='bernoulli' expects X in [0, 1]; "
            "values outside are used as given. Scale X with MinMaxScaler, or use "
            "visible_unit='gaussian' for standardized real-valued data.",
            UserWarning,
            stacklevel=5,  # the caller of fit / partial_fit
        )

    def _init_parameters(self, X, rng):
        dtype = X.dtype
        n_features = X.shape[1]
        self.components_ = np.asarray(
            # rng.normal(0, 0.01, ...), drawn in a kernel (same values and state)
            legacy_normal(rng, 0, 0.01, (self.n_components, n_features)),
            order="F",
            dtype=dtype,
        )
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=dtype)
        self.intercept_visible_ = np.zeros(n_features, dtype=dtype)
        self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=dtype)
        self._velocities = None

    def _parameter_names(self):
        return ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_")

    def _prepare_data(self, X):
        dtype = self.components_.dtype
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            if not X.has_canonical_format:  # the kernel wants sorted, unique indices
                X = X.copy()
                X.sum_duplicates()
            return (
                np.asarray(X.indptr, dtype=np.int64),
                np.asarray(X.indices, dtype=np.int64),
                np.ascontiguousarray(X.data, dtype=dtype),
            )
        # dense: the kernel reads C-ordered rows (an empty indptr says so)
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.ascontiguousarray(X, dtype=dtype).ravel()

    def _on_divergence(self):
        self._velocities = None

    def _run_epoch(self, data, bounds, rng):
        dtype = self.components_.dtype
        if not self.components_.flags.f_contiguous:
            self.components_ = np.asfortranarray(self.components_)
        Wt = self.components_.T
        V, H = Wt.shape
        h = self.h_samples_
        if h.shape != (self.batch_size, H) or h.dtype != dtype:
            # batch_size changed through set_params between partial_fit calls
            self.h_samples_ = np.zeros((self.batch_size, H), dtype=dtype)
        plain = self.momentum == 0.0 and self.weight_decay == 0.0
        if plain:
            vel = (np.zeros((1, 1), dtype), np.zeros(1, dtype), np.zeros(1, dtype))
        else:
            if self._velocities is None or self._velocities[0].shape != Wt.shape:
                self._velocities = (np.zeros_like(Wt), np.zeros(H, dtype),
                                    np.zeros(V, dtype))
            vel = self._velocities
        state = rng.get_state(legacy=True)
        key = np.array(state[1], dtype=np.uint32)
        settings = EpochSettings(
            float(self.learning_rate), float(self.momentum), float(self.weight_decay),
            int(self.n_gibbs_steps), bool(self.persistent),
            self.visible_unit == "gaussian")
        args = (data, bounds, (Wt, self.intercept_hidden_, self.intercept_visible_),
                vel, self.h_samples_, (key, int(state[2])), settings)
        size = max(int(np.max(np.diff(bounds))), self.batch_size) * V * H
        if size < _BLOCKED_MIN_WORK:
            pos = dense_epoch(*args)
        else:
            work = int(size * _PHASE_STEPS_PER_UNIT[dtype])
            with kernel_threads(n_threads=effective_n_threads(), work=work) as nt:
                pos = blocked_epoch(*args, _ROWS_PER_TASK, nt)
        rng.set_state((state[0], key, int(pos), state[3], state[4]))

    # ------------------------------------------------------------ public API
    def transform(self, X):
        """Compute the hidden layer activation probabilities, P(h=1|v=X).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data to be transformed.

        Returns
        -------
        h : ndarray of shape (n_samples, n_components)
            Latent representations of the data.
        """
        X = self._check_fitted_input(X)
        return self._mean_hiddens(X)

    def _mean_hiddens(self, v):
        """P(h=1|v) for visible rows ``v`` (dense or sparse)."""
        p = safe_sparse_dot(v, self.components_.T)
        p += self.intercept_hidden_
        return expit(p, out=p)

    def _sample_hiddens(self, v, rng):
        """Sample h ~ P(h|v) with ``rng`` (a RandomState); boolean array."""
        p = self._mean_hiddens(v)
        return rng.uniform(size=p.shape) < p

    def _sample_visibles(self, h, rng):
        """Sample v ~ P(v|h) with ``rng``: boolean (Bernoulli) or real (Gaussian)."""
        p = np.dot(h, self.components_)
        p += self.intercept_visible_
        if self.visible_unit == "gaussian":
            p += rng.standard_normal(size=p.shape)
            return p
        expit(p, out=p)
        return rng.uniform(size=p.shape) < p

    def _free_energy(self, v):
        """Free energy F(v) = -log sum_h exp(-E(v, h)), one value per row."""
        softplus = np.logaddexp(
            0, safe_sparse_dot(v, self.components_.T) + self.intercept_hidden_
        ).sum(axis=1)
        if self.visible_unit == "gaussian":
            d = v - self.intercept_visible_
            if sp.issparse(v):  # pragma: no cover - dense after subtraction
                d = np.asarray(d)
            return 0.5 * np.einsum("ij,ij->i", d, d) - softplus
        return -safe_sparse_dot(v, self.intercept_visible_) - softplus

    def gibbs(self, v):
        """Perform one Gibbs sampling step.

        Parameters
        ----------
        v : {array-like, sparse matrix} of shape (n_samples, n_features)
            Values of the visible layer to start from.

        Returns
        -------
        v_new : ndarray of shape (n_samples, n_features)
            Values of the visible layer after one Gibbs step: booleans for Bernoulli
            visible units (as scikit-learn), floats for Gaussian ones.
        """
        v = self._check_fitted_input(v)
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        h_ = self._sample_hiddens(v, self.random_state_)
        return self._sample_visibles(h_, self.random_state_)

    def score_samples(self, X):
        """Compute the pseudo-likelihood of X.

        For Bernoulli visible units this is scikit-learn's stochastic
        pseudo-likelihood; for Gaussian visible units, the negative free energy
        ``-F(x)`` (an unnormalized log-density: it ranks samples under one model but
        does not compare models).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Values of the visible layer. With Bernoulli units they should be
            binary (not checked).

        Returns
        -------
        pseudo_likelihood : ndarray of shape (n_samples,)
            Value of the pseudo-likelihood (proxy for likelihood).

        Notes
        -----
        With Bernoulli units this method is not deterministic: it computes the free
        energy on X, then on a copy of X with one randomly chosen feature per
        sample flipped (``x -> 1 - x``), and returns ``n_features`` times the log
        of the logistic function of the difference. The corrupted features are
        drawn from ``random_state``.
        """
        check_is_fitted(self)
        v = self._validate_input(X, reset=False)
        if self.visible_unit == "gaussian":
            return -self._free_energy(v)
        rng = check_random_state(self.random_state)
        ind = (np.arange(v.shape[0]), rng.randint(0, v.shape[1], v.shape[0]))
        if sp.issparse(v):
            flip = np.asarray(-2 * v[ind] + 1).ravel()
            v_ = v + sp.csr_matrix((flip, ind), shape=v.shape)
        else:
            v_ = v.copy()
            v_[ind] = 1 - v_[ind]
        fe = self._free_energy(v)
        fe_ = self._free_energy(v_)
        # log(expit(x)) = -logaddexp(0, -x)
        return -v.shape[1] * np.logaddexp(0, -(fe_ - fe))
