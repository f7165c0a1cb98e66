"""DBNClassifier: a deep belief network, pre-trained greedily and fine-tuned.

The model
---------
Hidden layers of sizes ``h_1, ..., h_L`` and a softmax output over the classes:

    ``a_0 = x``,  ``a_l = sigmoid(a_{l-1} @ W_l + b_l)``  (l = 1..L),
    ``p(y | x) = softmax(a_L @ W_out + b_out)``.

Pre-training (``pretrain=True``) fits a stack of RBMs greedily, one layer at a time on
the features of the layer below, without labels (see :mod:`sknets.dbn._pretrain`),
and sets ``W_l = rbm_l.components_.T``, ``b_l = rbm_l.intercept_hidden_``: before
fine-tuning, ``a_L`` is exactly the RBM stack's up-pass (its ``transform``s chained).
The output layer starts from Glorot-uniform weights and zero biases; with
``pretrain=False`` every layer does, which gives the same network from a random
start, for comparison.

Fine-tuning minimises, by minibatch back-propagation with the chosen solver, the
cross-entropy of the labelled rows plus scikit-learn's MLP L2 penalty

    ``J = (1 / n) sum_i -log p(y_i | x_i)
    + alpha / (2 * batch_size) * (sum_l ||W_l||^2 + ||W_out||^2)``

(biases are not penalised). Training runs in the shared loop of
:mod:`sknets.nn._training` (epochs, stopping rule, early stopping, schedules,
divergence policy, verbose lines, callbacks).

Semi-supervised use: with ``unlabeled_label`` set (scikit-learn's convention is -1),
the rows carrying that label take part in pre-training only; fine-tuning uses the
labelled ones.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from sknets.nn import Dense, Sequential, log_softmax, softmax, softmax_cross_entropy
from sknets.nn._estimator import (
    MOMENTUM_PARAMS_DOC,
    STOPPING_PARAMS_DOC,
    TRAINING_PARAMETERS,
    SupervisedModel,
    forward_in_chunks,
)
from sknets.nn._training import validation_split
from sknets.utils._threads import numba_threads

from ._base import NOISE_PARAMETERS, PretrainedNetworkBase, as_sizes
from ._pretrain import PRETRAIN_PARAMETERS, encoder_weights, load_dense

__all__ = ["DBNClassifier"]


class DBNClassifier(ClassifierMixin, PretrainedNetworkBase):
    __doc__ = """Deep belief network classifier: RBM pre-training, then fine-tuning.

    Each hidden layer is first trained as a :class:`~sknets.BernoulliRBM` on the
    features of the layer below (unsupervised, greedy, layer-wise; Hinton et al.,
    2006); the RBMs' weights then initialise a feed-forward network (Dense + sigmoid
    layers and a softmax output) that back-propagation fine-tunes on the labels, with
    the training parameters of :class:`~sklearn.neural_network.MLPClassifier`.
    ``pretrain=False`` trains the same network from a random start.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(256, 256)
        Units of each hidden layer (one RBM each).
    visible_unit : {"bernoulli", "gaussian"}, default="bernoulli"
        Visible units of the first RBM. ``"bernoulli"``: X in [0, 1] (read as
        probabilities; put a ``MinMaxScaler`` first; values outside get a warning and
        are used as given). ``"gaussian"``: real-valued X, which the estimator centres
        per feature and divides by one overall standard deviation (first fit) before
        the network sees it.
    activation : {"logistic", "relu"}, default="logistic"
        Activation of the hidden layers. ``"logistic"`` is the RBMs' own: the
        pre-trained network then computes exactly the RBM features. ``"relu"`` keeps
        the RBM weights under rectified units (an approximation).
    dropout : float, default=0.5
        Dropout rate after each hidden layer during fine-tuning.
    noise : {None, "masking", "gaussian"}, default="gaussian"
        Corruption of the fine-tuning inputs, drawn afresh for each minibatch (the
        labels stay as they are): ``"gaussian"`` adds Gaussian noise of standard
        deviation ``noise_level`` (units of X), ``"masking"`` sets a fraction
        ``noise_level`` of the entries to 0. Pre-training and prediction see the
        clean X. With dropout, it is what lifts the defaults from about 0.981 to
        0.989 test accuracy on digits (75/25 split).
    noise_level : float, default=0.2
        Noise standard deviation (units of X: 0.2 suits X in [0, 1]) or masked
        fraction (in [0, 1)).
    pretrain : bool, default=True
        Pre-train the hidden layers as a stack of RBMs before fine-tuning.
    pretrain_n_iter : int or sequence of int, default=50
        Epochs of each RBM (one value for all, or one per hidden layer).
    pretrain_learning_rate : float or sequence of float, default=0.05
        Learning rate of each RBM (one value, or one per layer). Gaussian visible
        units need smaller values for the first layer (about 1e-3 to 1e-2).
    pretrain_batch_size : int, default=10
        Minibatch size (and number of persistent chains) of the RBMs.
    n_gibbs_steps : int, default=1
        Gibbs steps per minibatch of the RBMs (the k of CD-k / PCD-k).
    persistent : bool, default=True
        Persistent chains (PCD) if True, CD-k if False.
    pretrain_momentum : float, default=0.5
        Momentum of the RBM parameter steps.
    pretrain_weight_decay : float, default=0.0
        L2 penalty on the RBM weights.
    unlabeled_label : int, str or None, default=None
        Label of the unlabelled rows of ``y`` (scikit-learn's semi-supervised
        convention is -1): they are used in pre-training only. None: every row is
        labelled (so that -1 can be a class, as in ``{-1, 1}`` problems).
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad"}, \
default="adam"
        Optimizer of the fine-tuning; ``"sgd"`` uses ``momentum`` and
        ``nesterovs_momentum`` as MLPClassifier's does.
    alpha : float, default=1e-4
        Strength of the L2 penalty on the weights, divided by the batch size as in
        MLPClassifier.
    batch_size : int or "auto", default="auto"
        Fine-tuning minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule of the fine-tuning.
    learning_rate_init : float, default=1e-2
        Initial fine-tuning step size (ten times MLPClassifier's: the pre-trained
        sigmoid network learns slowly at 1e-3).
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=300
        Maximum number of fine-tuning epochs.
    shuffle : bool, default=True
        Shuffle the rows at each fine-tuning epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the RBMs, the weight initialisation, shuffling, dropout and the
        validation split.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    verbose : bool or int, default=False
        Print the RBMs' lines and one line per fine-tuning epoch.
    warm_start : bool, default=False
        Continue fine-tuning from the previous fit's weights (no new pre-training).
""" + MOMENTUM_PARAMS_DOC + """\
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the labelled rows, stop when their
        accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs and keep
        the best weights.
""" + STOPPING_PARAMS_DOC.replace(
        "n_iter_no_change : int, default=10\n        Epochs without improvement "
        "before stopping.",
        "n_iter_no_change : int, default=30\n        Epochs without improvement "
        "before stopping (MLPClassifier's is 10; the training\n        loss of the "
        "noisy, dropped-out network fluctuates more).") + """\
    callbacks : callable or list of callables, default=None
        Called after every fine-tuning epoch as ``callback(estimator, record)``; a
        True return value stops training.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of the computations.
    n_jobs : int, default=None
        Threads of the Numba kernels (RBM pre-training).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (without ``unlabeled_label``).
    rbms_ : list of BernoulliRBM
        The pre-trained RBMs, bottom first (empty with ``pretrain=False``). They are
        not changed by fine-tuning.
    network_ : sknets.nn.Sequential
        The fine-tuned network.
    input_mean_ : ndarray of shape (n_features_in_,)
        Per-feature mean subtracted from X (zeros with Bernoulli visible units).
    input_scale_ : float
        Overall scale X is divided by (1 with Bernoulli visible units).
    loss_ : float
        Fine-tuning loss of the last epoch.
    loss_curve_ : list of float
        Fine-tuning loss (data term plus L2 term) of each epoch.
    best_loss_ : float or None
        Minimum of ``loss_curve_`` (None with early stopping).
    validation_scores_ : list of float or None
        Validation accuracy of each epoch (early stopping only).
    best_validation_score_ : float or None
        Best validation accuracy (early stopping only).
    history_ : list of dict
        One record per fine-tuning epoch.
    n_iter_ : int
        Number of fine-tuning epochs run.
    t_ : int
        Number of training samples seen in fine-tuning.
    n_layers_ : int
        Number of layers in ``network_``.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        ``"softmax"``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sknets.BernoulliRBM : The RBM each hidden layer is pre-trained as.
    sknets.Autoencoder : Unsupervised networks with the same optional pre-training.
    sklearn.neural_network.MLPClassifier : The same fine-tuning without
        pre-training.

    References
    ----------
    G. E. Hinton, S. Osindero and Y.-W. Teh, "A fast learning algorithm for deep belief
    nets", Neural Computation 18(7), 2006.

    Y. Bengio, P. Lamblin, D. Popovici and H. Larochelle, "Greedy layer-wise training
    of deep networks", NIPS 2006.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknets import DBNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0                                     # Bernoulli units: [0, 1]
    >>> clf = DBNClassifier(hidden_layer_sizes=(64,), pretrain_n_iter=5, max_iter=30,
    ...                     random_state=0).fit(X[:1000], y[:1000])
    >>> len(clf.rbms_), clf.rbms_[0].components_.shape
    (1, (64, 64))
    >>> clf.predict_proba(X[1000:1002]).shape
    (2, 10)
    >>> bool(clf.score(X[1000:], y[1000:]) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like",
                               Interval(Integral, 1, None, closed="left")],
        "visible_unit": [StrOptions({"bernoulli", "gaussian"})],
        "activation": [StrOptions({"logistic", "relu"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        **NOISE_PARAMETERS,
        **PRETRAIN_PARAMETERS,
        "unlabeled_label": [Integral, str, None],
        "dtype": [StrOptions({"float32", "float64"})],
        **TRAINING_PARAMETERS,
    }

    _divergence_remedy = "lower learning_rate_init (e.g. divide it by 10)"

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        visible_unit="bernoulli",
        activation="logistic",
        dropout=0.5,
        noise="gaussian",
        noise_level=0.2,
        pretrain=True,
        pretrain_n_iter=50,
        pretrain_learning_rate=0.05,
        pretrain_batch_size=10,
        n_gibbs_steps=1,
        persistent=True,
        pretrain_momentum=0.5,
        pretrain_weight_decay=0.0,
        unlabeled_label=None,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-2,
        power_t=0.5,
        max_iter=300,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=30,
        callbacks=None,
        dtype="float32",
        n_jobs=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.visible_unit = visible_unit
        self.activation = activation
        self.dropout = dropout
        self.noise = noise
        self.noise_level = noise_level
        self.pretrain = pretrain
        self.pretrain_n_iter = pretrain_n_iter
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_batch_size = pretrain_batch_size
        self.n_gibbs_steps = n_gibbs_steps
        self.persistent = persistent
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
        self.unlabeled_label = unlabeled_label
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.dtype = dtype
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fitting

    def _validate(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset,
                             dtype=[self._float_dtype(), np.float64, np.float32])
        if self.unlabeled_label is None:
            labelled = np.ones(len(y), dtype=bool)
        else:
            labelled = y != self.unlabeled_label
        return X, y, labelled

    def _initialize(self, X, n_classes):
        """Network (from the RBM stack when pre-training on X, all rows) and state."""
        self._new_state()
        sizes = as_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        gaussian = self.visible_unit == "gaussian"
        self._fit_scaling(X, standardise=gaussian)
        layers = []
        for units in sizes:
            layers += self._hidden_block(units, self.activation, self.dropout)
        layers.append(Dense(n_classes))
        net = Sequential(layers).build((X.shape[1],), rng=self._rng,
                                       dtype=self._float_dtype())
        self.rbms_ = []
        if self.pretrain and sizes:
            if not gaussian:
                self._warn_unit_interval(X)
            self.rbms_ = self._pretrain(self._scaled(X), sizes, self.visible_unit)
            dense = [layer for layer in net.layers if isinstance(layer, Dense)]
            for layer, rbm in zip(dense, self.rbms_):
                load_dense(layer, *encoder_weights(rbm))
        self.network_ = net
        self._optimizer = self._make_optimizer([net])
        self.n_layers_ = len(net.layers)
        self.n_outputs_ = n_classes
        self.out_activation_ = "softmax"
        self._new_history(self.early_stopping)

    def _encode(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            raise ValueError(f"y contains labels {unknown.tolist()} not in classes "
                             f"{self.classes_.tolist()}")
        return idx.astype(np.intp)

    @staticmethod
    def _validation_score(logits, target):
        return float(np.mean(np.argmax(logits, axis=1) == target))

    def _fine_tune(self, X, targets, incremental, first):
        inputs = self._scaled(X)
        validation = None
        if self.early_stopping and not incremental:
            tr, va = validation_split(inputs.shape[0], self.validation_fraction,
                                      self._rng, targets)
            validation = (inputs[va], targets[va], self._validation_score)
            inputs, targets = inputs[tr], targets[tr]
        model = SupervisedModel(self.network_, self._optimizer, inputs, targets,
                                softmax_cross_entropy, alpha=self.alpha,
                                validation=validation,
                                input_transform=self._corruption())
        return self._train(model, incremental=incremental, first=first)

    @staticmethod
    def _labelled_rows(labelled):
        if not labelled.any():
            raise ValueError("y has no labelled row (every row carries "
                             "unlabeled_label); fine-tuning needs labels")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Pre-train on every row of X, then fine-tune on the labelled ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels; rows labelled ``unlabeled_label`` (if set) are used in
            pre-training only.

        Returns
        -------
        self : DBNClassifier
        """
        self._check_noise()
        warm = self.warm_start and hasattr(self, "network_")
        X, y, labelled = self._validate(X, y, reset=not warm)
        self._labelled_rows(labelled)
        y_l = y[labelled]
        check_classification_targets(y_l)
        if warm:
            missing = np.setdiff1d(np.unique(y_l), self.classes_)
            if len(missing):
                raise ValueError(f"warm_start: y has new classes {missing.tolist()}")
        else:
            self.classes_ = np.unique(y_l)
            self._initialize(X, len(self.classes_))
        return self._fine_tune(X[labelled], self._encode(y_l), incremental=False,
                               first=not warm)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One fine-tuning epoch over (X, y), continuing from the current weights.

        On the first call the network is initialised, pre-trained on this X when
        ``pretrain=True``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, ignored afterwards.

        Returns
        -------
        self : DBNClassifier
        """
        self._check_noise()
        first = _check_partial_fit_first_call(self, classes)
        X, y, labelled = self._validate(X, y, reset=first)
        if first:
            if self.unlabeled_label is not None:
                self.classes_ = self.classes_[self.classes_ != self.unlabeled_label]
            self._initialize(X, len(self.classes_))
        if not labelled.any():
            return self   # an unlabelled chunk brings nothing to fine-tuning
        y_l = y[labelled]
        check_classification_targets(y_l)
        return self._fine_tune(X[labelled], self._encode(y_l), incremental=True,
                               first=first)

    # --------------------------------------------------------------- prediction

    def _outputs(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        with numba_threads(self.n_jobs):
            return forward_in_chunks(self._inference_network(),
                                     self._scaled(X, np.float64))

    def predict_proba(self, X):
        """Class probabilities (softmax of the network's output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return softmax(self._outputs(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self._outputs(X))

    def predict(self, X):
        """Predicted class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        outputs = self._outputs(X)
        return self.classes_[np.argmax(outputs, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
