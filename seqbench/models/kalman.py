"""Kalman filter family: a linear-Gaussian state-space model learnt by EM over many sequences.

``x_0 ~ N(x0, P0)``, ``x_t = A x_{t-1} + w_t`` (``w_t ~ N(0, Q)``),
``y_t = C x_t + v_t`` (``v_t ~ N(0, R)``); the first observation sees the
initial state. Filtering, smoothing and EM are batched over sequences (see
:mod:`._kalman_layout`): complete sequences share one covariance recursion,
sequences with missing values get their own.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.stats import norm

from .._validation import as_generator, check_sequences
from ..base import SequenceEstimator, Tags
from ..exceptions import ConfigError, ConvergenceWarning, InvalidSequenceError
from ..registry import register
from ._kalman_em import e_step, log_likelihood, m_step
from ._kalman_filter import predictive_variance, run_filter
from ._kalman_layout import check_memory, make_groups, unpack
from ._kalman_params import NAMES, Params, check_finite, check_params, initial_params
from ._kalman_smoother import smooth_masked, smooth_shared

__all__ = ["Kalman"]

_MISSING = ("error", "mask")


def _psd_root(M):
    """A matrix ``L`` with ``L L^T = M`` for a positive semi-definite ``M``."""
    w, V = np.linalg.eigh(M)
    return V * np.sqrt(np.clip(w, 0.0, None))


@register("kalman")
class Kalman(SequenceEstimator):
    """Linear-Gaussian state-space model (Kalman filter), trained by EM on all sequences jointly.

    Parameters
    ----------
    state_dim : int, default=2
        Dimension ``d`` of the hidden state.
    n_iter : int, default=200
        Maximum EM iterations (M-steps); 0 keeps the starting parameters.
    tol : float, default=1e-6
        EM stops when the training log-likelihood gains less than ``tol``
        per time step (nats) in one iteration.
    estimate : sequence of str, default=("A", "C", "Q", "R", "x0", "P0")
        The parameters EM updates; the others keep their starting values.
    missing : {"error", "mask"}, default="error"
        ``"mask"``: NaN entries are missing observations (a whole step or
        some features): they shrink or skip the update and are not scored.
        ``"error"``: NaN raises :class:`InvalidSequenceError`.
    min_covar : float, default=1e-6
        Floor on the eigenvalues of ``Q``, ``R`` and ``P0`` after each M-step.
    init : "subspace" or dict, default="subspace"
        Starting point of EM: subspace identification from the lag
        covariances of the observations (see
        :func:`._kalman_params.initial_params`), or a dict giving some or all
        of ``A, C, Q, R, x0, P0`` (the rest from "subspace").
    random_state : int, numpy Generator or None
        Seeds the starting point (columns of ``C`` beyond the observation
        dimension) and, by default, :meth:`sample`.

    Attributes
    ----------
    A_ : ndarray of shape (d, d)
    C_ : ndarray of shape (p, d)
    Q_ : ndarray of shape (d, d)
    R_ : ndarray of shape (p, p)
    x0_ : ndarray of shape (d,)
    P0_ : ndarray of shape (d, d)
    n_features_ : int
        Observation dimension ``p``.
    history_ : list of float
        Training log-likelihood (nats, all sequences) of the parameters at
        each EM iteration; the last entry is that of the final parameters.
    log_likelihood_ : float
    n_iter_ : int
        M-steps done.
    converged_ : bool
    fit_mode_ : "density"

    Notes
    -----
    ``score_tokens`` gives ``log p(y_t | y_<t)`` of the observed entries of
    each step (a density: it may be positive); a fully missing step scores 0.
    The latent space of a fitted model is identified only up to an
    invertible linear map of the state.
    """

    def __init__(self, state_dim=2, n_iter=200, tol=1e-6, estimate=NAMES, missing="error",
                 min_covar=1e-6, init="subspace", random_state=None):
        self.state_dim = state_dim
        self.n_iter = n_iter
        self.tol = tol
        self.estimate = estimate
        self.missing = missing
        self.min_covar = min_covar
        self.init = init
        self.random_state = random_state

    def __seqbench_tags__(self):
        return Tags(input_kind="continuous", density=True, tagger=False, hidden_states=True,
                    sampler=True, allow_nan=True)

    @classmethod
    def get_test_params(cls):
        return [{"state_dim": 2, "n_iter": 5}]

    # ------------------------------------------------------------------ params
    def _check_config(self):
        for name, minimum in (("state_dim", 1), ("n_iter", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
                raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
        for name in ("tol", "min_covar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
                    or value < 0 or (name == "min_covar" and value == 0):
                raise ConfigError(f"{name} must be a finite number {'> 0' if name == 'min_covar' else '>= 0'}, "
                                  f"got {value!r}")
        if self.missing not in _MISSING:
            raise ConfigError(f"missing must be one of {_MISSING}, got {self.missing!r}")
        estimate = (self.estimate,) if isinstance(self.estimate, str) else self.estimate
        unknown = [e for e in estimate if e not in NAMES]
        if unknown:
            raise ConfigError(f"estimate has unknown parameter(s) {unknown}; choose from {list(NAMES)}")
        if not (isinstance(self.init, dict) or self.init == "subspace"):
            raise ConfigError(f"init must be 'subspace' or a dict of starting parameters, got {self.init!r}")
        if isinstance(self.init, dict) and set(self.init) - set(NAMES):
            raise ConfigError(f"init has unknown parameter(s) {sorted(set(self.init) - set(NAMES))}; "
                              f"choose from {list(NAMES)}")
        return frozenset(estimate)

    @classmethod
    def from_params(cls, A, C, Q, R, x0, P0, **params):
        """A fitted model with exactly the given parameters (e.g. the true model of synthetic data).

        Parameters
        ----------
        A : array-like of shape (d, d)
        C : array-like of shape (p, d)
        Q : array-like of shape (d, d)
            Symmetric positive semi-definite.
        R : array-like of shape (p, p)
            Symmetric positive definite.
        x0 : array-like of shape (d,)
        P0 : array-like of shape (d, d)
            Symmetric positive semi-definite.
        **params
            Further constructor parameters (e.g. ``missing="mask"``).

        Returns
        -------
        Kalman
            Fitted (``fit_mode_ == "density"``), ``state_dim = d``.

        Raises
        ------
        ConfigError
            Wrong shapes, non-finite entries, or a covariance that is not
            symmetric positive (semi-)definite (the message gives its
            smallest eigenvalue).
        """
        theta = check_params(A, C, Q, R, x0, P0)
        est = cls(state_dim=theta.state_dim, **params)
        est._check_config()
        est._set_params(theta)
        est.n_features_ = theta.obs_dim
        est.history_, est.n_iter_, est.converged_ = [], 0, True
        est.fit_mode_ = "density"
        return est

    def _set_params(self, theta):
        self.A_, self.C_, self.Q_, self.R_, self.x0_, self.P0_ = theta

    @property
    def _theta(self):
        return Params(self.A_, self.C_, self.Q_, self.R_, self.x0_, self.P0_)

    # -------------------------------------------------------------- validation
    def _check_X(self, X, n_features=None):
        """Validated float sequences; NaN only with ``missing="mask"``."""
        X = check_sequences(X, kind="continuous", n_features=n_features, allow_nan=True)
        if self.missing != "mask":
            for i, x in enumerate(X):
                nan = np.isnan(x)
                if nan.any():
                    t, j = (int(v) for v in np.argwhere(nan)[0])
                    raise InvalidSequenceError(
                        f"X[{i}][{t}, {j}] is NaN (sequence {i}, step {t}); pass missing='mask' "
                        f"to treat NaN as missing observations"
                    )
        return X

    def _groups(self, X, keep_covariances=False):
        self._check_fitted()
        X = self._check_X(X, self.n_features_)
        groups = make_groups(X, allow_masked=self.missing == "mask")
        check_memory(groups, self.A_.shape[0], per_sequence_shared=keep_covariances)
        return X, groups

    # --------------------------------------------------------------------- fit
    def _start(self, X, rng):
        start = initial_params(X, self.state_dim, rng, self.min_covar)._asdict()
        if isinstance(self.init, dict):
            start.update(self.init)
        try:
            theta = check_params(**start)
        except ConfigError as exc:
            raise ConfigError(f"init (completed by the subspace start): {exc}") from None
        if theta.state_dim != self.state_dim or theta.obs_dim != self.n_features_:
            raise ConfigError(f"init gives state_dim {theta.state_dim} and obs_dim {theta.obs_dim}; "
                              f"expected {self.state_dim} and {self.n_features_}")
        return theta

    def fit(self, X, y=None):
        """Fit by EM (Shumway-Stoffer) on all sequences jointly.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i, n_features)
            Sequences of any lengths; NaN marks missing values when ``missing="mask"``.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        estimate = self._check_config()
        X = self._check_X(X)
        self.n_features_ = X[0].shape[1]
        if all(np.isnan(x).all() for x in X):
            raise InvalidSequenceError("X holds no observed value (every entry is NaN)")
        theta = self._start(X, as_generator(self.random_state))
        groups = make_groups(X, allow_masked=self.missing == "mask")
        check_memory(groups, self.state_dim)
        n_steps = sum(len(x) for x in X)
        history, converged = [], False
        for it in range(self.n_iter):
            stats = e_step(theta, groups)
            history.append(stats.loglik)
            if it and history[-1] - history[-2] < self.tol * n_steps:
                converged = True
                break
            theta = m_step(stats, theta, estimate, self.min_covar)
            check_finite(theta, it + 1)
        else:
            history.append(log_likelihood(theta, groups))
        self._set_params(theta)
        self.history_ = history
        self.log_likelihood_ = history[-1]
        self.n_iter_ = len(history) - 1
        self.converged_ = converged
        self.fit_mode_ = "density"
        if not converged and self.n_iter:
            warnings.warn(f"EM did not converge in n_iter={self.n_iter} iterations (tol={self.tol} per step); "
                          f"raise n_iter or tol", ConvergenceWarning, stacklevel=2)
        return self

    # ---------------------------------------------------------------- scoring
    def _forward(self, X, keep_covariances=False):
        """Validated input, its groups and their filter results."""
        X, groups = self._groups(X, keep_covariances)
        theta = self._theta
        return X, groups, [run_filter(theta, g) for g in groups]

    def score_tokens(self, X, max_context=None):
        """Per-step predictive log-density ``log p(y_t | y_<t)`` in nats.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i, n_features)
        max_context : None
            Context truncation is not supported (the state summarises all history).

        Returns
        -------
        list of ndarray of shape (n_steps_i,)
            Log-density of the observed entries of each step (their marginal
            Gaussian); 0 for a fully missing step.
        """
        self._check_fitted()
        if max_context is not None:
            self._unsupported("max_context (the Kalman state conditions on its whole history)")
        X, groups, filts = self._forward(X)
        return unpack(groups, [f.loglik for f in filts], len(X))

    def predict_next_moments(self, X):
        """Mean and variance of each observation given the steps before it.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i, n_features)

        Returns
        -------
        means, variances : list of ndarray of shape (n_steps_i, n_features)
            ``E[y_t | y_<t]`` and the diagonal of ``Cov(y_t | y_<t)``
            (also at missing entries).
        """
        X, groups, filts = self._forward(X)
        theta = self._theta
        means = unpack(groups, [f.m_pred @ theta.C.T for f in filts], len(X))
        var = []
        for g, f in zip(groups, filts):
            v = predictive_variance(theta, f.P_pred)              # (T, p) shared or (T, B, p)
            var.append(v if g.masked else np.broadcast_to(v[:, None], f.m_pred.shape[:2] + v.shape[-1:]))
        return means, unpack(groups, var, len(X))

    def predict(self, X):
        """One-step-ahead predictive means ``E[y_t | y_<t]``: list of ndarray of shape (n_steps_i, n_features)."""
        return self.predict_next_moments(X)[0]

    def predict_interval(self, X, coverage=0.9):
        """Central predictive interval of each observation entry given the steps before it.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i, n_features)
        coverage : float in (0, 1)

        Returns
        -------
        lower, upper : list of ndarray of shape (n_steps_i, n_features)
        """
        if isinstance(coverage, bool) or not isinstance(coverage, numbers.Real) or not 0 < coverage < 1:
            raise ConfigError(f"coverage must be a number in (0, 1), got {coverage!r}")
        means, variances = self.predict_next_moments(X)
        z = norm.ppf(0.5 + coverage / 2)
        half = [z * np.sqrt(v) for v in variances]
        return [m - h for m, h in zip(means, half)], [m + h for m, h in zip(means, half)]

    # ----------------------------------------------------------- hidden states
    def filter(self, X):
        """Filtered states ``x_t | y_<=t``.

        Returns
        -------
        means : list of ndarray of shape (n_steps_i, state_dim)
        covariances : list of ndarray of shape (n_steps_i, state_dim, state_dim)
        """
        X, groups, filts = self._forward(X, keep_covariances=True)
        covs = [f.P_filt if g.masked else np.broadcast_to(f.P_filt[:, None], f.m_filt.shape + f.m_filt.shape[-1:])
                for g, f in zip(groups, filts)]
        return unpack(groups, [f.m_filt for f in filts], len(X)), unpack(groups, covs, len(X))

    def smooth(self, X):
        """Smoothed states ``x_t | y`` (Rauch-Tung-Striebel).

        Returns
        -------
        means : list of ndarray of shape (n_steps_i, state_dim)
        covariances : list of ndarray of shape (n_steps_i, state_dim, state_dim)
        """
        X, groups, filts = self._forward(X, keep_covariances=True)
        results = [smooth_masked(self.A_, f, g.lengths) if g.masked
                   else smooth_shared(self.A_, f, g.lengths, keep_covariances=True)
                   for g, f in zip(groups, filts)]
        return (unpack(groups, [r.m_smooth for r in results], len(X)),
                unpack(groups, [r.V for r in results], len(X)))

    def forecast(self, X, steps=1):
        """Observations after the end of each sequence.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i, n_features)
        steps : int
            Horizon.

        Returns
        -------
        means, variances : list of ndarray of shape (steps, n_features)
            ``E[y_{T+k} | y]`` and the diagonal of its covariance, ``k = 1 .. steps``.
        """
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")
        means, covs = self.filter(X)
        m = np.stack([mu[-1] for mu in means])                       # (N, d)
        P = np.stack([c[-1] for c in covs])                          # (N, d, d)
        theta = self._theta
        out_m, out_v = np.empty((len(m), steps, self.n_features_)), np.empty((len(m), steps, self.n_features_))
        for k in range(steps):
            m = m @ theta.A.T
            P = theta.A @ P @ theta.A.T + theta.Q
            out_m[:, k] = m @ theta.C.T
            out_v[:, k] = predictive_variance(theta, P)
        return list(out_m), list(out_v)

    def sample(self, n_sequences=1, length=100, random_state=None, return_states=False):
        """Draw sequences from the model.

        Parameters
        ----------
        n_sequences, length : int
        random_state : int, Generator or None
            Defaults to the estimator's ``random_state``.
        return_states : bool
            Also return the hidden states.

        Returns
        -------
        X : list of ndarray of shape (length, n_features)
        states : list of ndarray of shape (length, state_dim)
            Only with ``return_states``.
        """
        self._check_fitted()
        for name, value in (("n_sequences", n_sequences), ("length", length)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        rng = as_generator(self.random_state if random_state is None else random_state)
        A, C, Q, R, x0, P0 = self._theta
        d, p = A.shape[0], C.shape[0]
        states = np.empty((length, n_sequences, d))
        states[0] = x0 + rng.standard_normal((n_sequences, d)) @ _psd_root(P0).T
        noise = rng.standard_normal((length, n_sequences, d)) @ _psd_root(Q).T
        for t in range(1, length):
            states[t] = states[t - 1] @ A.T + noise[t]
        Y = states @ C.T + rng.standard_normal((length, n_sequences, p)) @ _psd_root(R).T
        X = list(np.ascontiguousarray(np.swapaxes(Y, 0, 1)))
        return (X, list(np.ascontiguousarray(np.swapaxes(states, 0, 1)))) if return_states else X
