"""Stochastic optimizers: one class per update rule, state kept per parameter.

An optimizer is built on a list of ``(param, grad)`` pairs (e.g.
``Sequential.parameters()`` or the single flat pair of ``Sequential.flat_parameters()``)
and ``step()`` updates every ``param`` in place from its current ``grad``.

L2 penalty: with ``weight_decay=alpha`` the rule sees ``g + alpha * p`` instead of ``g``
(the gradient of ``alpha/2 * ||p||^2`` added to the loss). By default it applies to the
pairs whose parameter has ``ndim >= 2`` (weights, not biases nor batch-norm scales);
``decay_mask`` overrides that: one entry per pair, ``True``/``False`` or an array of 0/1
of the parameter's shape.

Update rules, with g the (penalised) gradient, lr the learning rate, t the step count:

- ``SGD``: p -= lr g
- ``Momentum`` (Polyak 1964; Sutskever et al. 2013 eq. 1): v = mu v - lr g; p += v
- ``Nesterov`` (Sutskever et al. 2013 eq. 3-4, in the form used by scikit-learn's MLP):
  v = mu v - lr g; p += mu v - lr g
- ``Adam`` (Kingma & Ba 2015, Algorithm 1): m = b1 m + (1-b1) g; s = b2 s + (1-b2) g^2;
  p -= lr (m / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps)
- ``RMSprop`` (Tieleman & Hinton 2012): s = rho s + (1-rho) g^2;
  p -= lr g / (sqrt(s) + eps)
- ``Adagrad`` (Duchi et al. 2011): s += g^2; p -= lr g / (sqrt(s) + eps)

Learning-rate schedules (every rule, as scikit-learn's MLP has them for SGD), chosen by
``schedule``; the training loop calls :meth:`Optimizer.iteration_ends` after every
epoch and :meth:`Optimizer.trigger_stopping` when the stopping criterion fires:

- ``"constant"``: lr stays ``learning_rate``;
- ``"invscaling"``: lr = learning_rate / (t + 1) ** power_t, t the number of samples
  seen so far;
- ``"adaptive"``: lr is divided by 5 each time training would stop for lack of
  improvement; training stops only once lr falls below 1e-6.

``get_state()`` / ``set_state(state)`` copy and restore everything that changes during
training (moments, step count, current learning rate): the training loop uses them to
roll back a diverged epoch.
"""

import numpy as np

SCHEDULES = ("constant", "invscaling", "adaptive")

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "RMSprop", "Adagrad",
           "make_solver",
           "make_optimizer"]


class Optimizer:
    """Base class: the (param, grad) pairs, the L2 penalty and the step count ``t``."""

    def __init__(self, params, learning_rate=0.01, weight_decay=0.0, decay_mask=None,
                 schedule="constant", power_t=0.5):
        self.params = list(params)
        self.learning_rate = float(learning_rate)
        self.learning_rate_init = float(learning_rate)
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose from {SCHEDULES}")
        self.schedule = schedule
        self.power_t = float(power_t)
        self.weight_decay = float(weight_decay)
        if decay_mask is None:
            decay_mask = [p.ndim >= 2 for p, _ in self.params]
        if len(decay_mask) != len(self.params):
            raise ValueError("decay_mask needs one entry per (param, grad) pair")
        self.decay_mask = [m if isinstance(m, (bool, np.bool_)) else
                           np.asarray(m, dtype=p.dtype) for m, (p, _) in
                           zip(decay_mask, self.params)]
        self._work = [np.empty_like(p) for p, _ in self.params]
        self.t = 0

    def _grad(self, i):
        """Gradient of pair i with the L2 term added (in a work buffer if needed)."""
        p, g = self.params[i]
        mask = self.decay_mask[i]
        if self.weight_decay == 0.0 or mask is False or mask is np.False_:
            return g
        w = self._work[i]
        np.multiply(p, p.dtype.type(self.weight_decay), out=w)
        if mask is not True and mask is not np.True_:
            w *= mask
        w += g
        return w

    def step(self):
        """Apply one update to every parameter, in place."""
        self.t += 1
        for i in range(len(self.params)):
            self._update(i, self.params[i][0], self._grad(i))

    def _update(self, i, p, g):
        raise NotImplementedError

    #: names of the per-parameter state lists of the rule (moments, velocities)
    _state_lists = ()

    def iteration_ends(self, time_step):
        """End of an epoch; ``time_step`` is the number of samples seen so far."""
        if self.schedule == "invscaling":
            self.learning_rate = (self.learning_rate_init
                                  / (time_step + 1) ** self.power_t)

    def trigger_stopping(self, message, verbose):
        """The stopping criterion fired: return True to stop, False to go on.

        With the ``"adaptive"`` schedule the learning rate is divided by 5 instead,
        until it falls below 1e-6.
        """
        if self.schedule != "adaptive":
            if verbose:
                print(message + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(message + f" Setting learning rate to {self.learning_rate:f}")
        return False

    def get_state(self):
        """A copy of everything ``step`` changes, for :meth:`set_state`."""
        lists = {name: [a.copy() for a in getattr(self, name)]
                 for name in self._state_lists}
        return {"t": self.t, "learning_rate": self.learning_rate, "lists": lists}

    def set_state(self, state):
        """Restore a state from :meth:`get_state` (in place: the arrays stay)."""
        self.t = state["t"]
        self.learning_rate = state["learning_rate"]
        for name, arrays in state["lists"].items():
            for dst, src in zip(getattr(self, name), arrays):
                dst[...] = src


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p -= lr * g``."""

    def _update(self, i, p, g):
        p -= p.dtype.type(self.learning_rate) * g


class Momentum(Optimizer):
    """Heavy-ball momentum: ``v = momentum * v - lr * g; p += v``."""

    _state_lists = ("velocities",)

    def __init__(self, params, learning_rate=0.01, momentum=0.9, **kwargs):
        super().__init__(params, learning_rate, **kwargs)
        self.momentum = float(momentum)
        self.velocities = [np.zeros_like(p) for p, _ in self.params]

    def _update(self, i, p, g):
        v = self.velocities[i]
        v *= p.dtype.type(self.momentum)
        v -= p.dtype.type(self.learning_rate) * g
        p += v


class Nesterov(Momentum):
    """Nesterov momentum: ``v = mu * v - lr * g; p += mu * v - lr * g``."""

    def _update(self, i, p, g):
        v = self.velocities[i]
        mu = p.dtype.type(self.momentum)
        lr_g = p.dtype.type(self.learning_rate) * g
        v *= mu
        v -= lr_g
        p += mu * v
        p -= lr_g


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015, Algorithm 1)."""

    _state_lists = ("ms", "vs")

    def __init__(self, params, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, **kwargs):
        super().__init__(params, learning_rate, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = float(epsilon)
        self.ms = [np.zeros_like(p) for p, _ in self.params]
        self.vs = [np.zeros_like(p) for p, _ in self.params]

    def __getstate__(self):
        # the work arrays are scratch space, recreated by the next step
        return {k: v for k, v in self.__dict__.items() if k != "_adam_work"}

    def _update(self, i, p, g):
        f = p.dtype.type
        b1, b2 = self.beta_1, self.beta_2
        m, v = self.ms[i], self.vs[i]
        # two work arrays per pair, so that a step allocates nothing
        bufs = self.__dict__.get("_adam_work")
        if bufs is None:
            bufs = self._adam_work = [(np.empty_like(q), np.empty_like(q))
                                      for q, _ in self.params]
        t, denom = bufs[i]
        m *= f(b1)
        np.multiply(g, f(1 - b1), out=t)
        m += t
        v *= f(b2)
        np.multiply(g, g, out=t)
        t *= f(1 - b2)
        v += t
        c1 = 1 - b1 ** self.t
        c2 = 1 - b2 ** self.t
        # p -= lr * (m / c1) / (sqrt(v / c2) + eps)
        np.multiply(v, f(1 / c2), out=denom)
        np.sqrt(denom, out=denom)
        denom += f(self.epsilon)
        np.multiply(m, f(self.learning_rate / c1), out=t)
        t /= denom
        p -= t


class RMSprop(Optimizer):
    """RMSprop: ``s = rho * s + (1 - rho) * g^2; p -= lr * g / (sqrt(s) + eps)``."""

    _state_lists = ("squares",)

    def __init__(self, params, learning_rate=0.001, rho=0.9, epsilon=1e-8, **kwargs):
        super().__init__(params, learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)
        self.squares = [np.zeros_like(p) for p, _ in self.params]

    def _update(self, i, p, g):
        f = p.dtype.type
        s = self.squares[i]
        s *= f(self.rho)
        s += f(1 - self.rho) * (g * g)
        denom = np.sqrt(s)
        denom += f(self.epsilon)
        p -= f(self.learning_rate) * g / denom


class Adagrad(Optimizer):
    """Adagrad: ``s += g^2; p -= lr * g / (sqrt(s) + eps)``."""

    _state_lists = ("squares",)

    def __init__(self, params, learning_rate=0.01, epsilon=1e-8, **kwargs):
        super().__init__(params, learning_rate, **kwargs)
        self.epsilon = float(epsilon)
        self.squares = [np.zeros_like(p) for p, _ in self.params]

    def _update(self, i, p, g):
        f = p.dtype.type
        s = self.squares[i]
        s += g * g
        denom = np.sqrt(s)
        denom += f(self.epsilon)
        p -= f(self.learning_rate) * g / denom


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adam": Adam,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
}


def make_optimizer(name, params, **kwargs):
    """Optimizer from its name (sgd, momentum, nesterov, adam, rmsprop, adagrad)."""
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose from "
                         f"{sorted(OPTIMIZERS)}") from None
    return cls(params, **kwargs)


SOLVERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")


def make_solver(solver, params, *, learning_rate_init, schedule="constant", power_t=0.5,
                beta_1=0.9, beta_2=0.999, epsilon=1e-8, momentum=0.9,
                nesterovs_momentum=True, decay_mask=None):
    """The optimizer an estimator's ``solver`` names, with its settings.

    ``"sgd"`` follows scikit-learn's MLP: momentum (Nesterov's if
    ``nesterovs_momentum``) unless ``momentum=0``; ``"momentum"`` and ``"nesterov"``
    name the rules directly. The settings a rule does not use are ignored.
    """
    common = dict(learning_rate=learning_rate_init, weight_decay=0.0,
                  decay_mask=decay_mask, schedule=schedule, power_t=power_t)
    if solver == "adam":
        return Adam(params, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **common)
    if solver == "sgd":
        if momentum == 0:
            return SGD(params, **common)
        solver = "nesterov" if nesterovs_momentum else "momentum"
    if solver in ("momentum", "nesterov"):
        return OPTIMIZERS[solver](params, momentum=momentum, **common)
    if solver in ("rmsprop", "adagrad"):
        return OPTIMIZERS[solver](params, epsilon=epsilon, **common)
    raise ValueError(f"unknown solver {solver!r}; choose from {SOLVERS}")
