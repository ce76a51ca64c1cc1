"""Parameters of a linear-Gaussian state-space model: checks, floors and the starting point of EM.

The model (one sequence, steps ``t = 0 .. T-1``)::

    x_0 ~ N(x0, P0)                 state, shape (d,)
    x_t = A x_{t-1} + w_t,  w_t ~ N(0, Q)
    y_t = C x_t + v_t,      v_t ~ N(0, R)    observation, shape (p,)

The first observation sees the initial state (pykalman's convention).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..exceptions import ConfigError, NumericalError

__all__ = ["Params", "NAMES", "check_params", "floor_covariance", "check_finite", "initial_params"]

NAMES = ("A", "C", "Q", "R", "x0", "P0")
_PSD_RTOL = 1e-10   # eigenvalues down to -rtol * max(1, |largest|) count as zero
_SYM_RTOL = 1e-8


class Params(NamedTuple):
    """A (d, d), C (p, d), Q (d, d), R (p, p), x0 (d,), P0 (d, d); float64."""

    A: np.ndarray
    C: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    x0: np.ndarray
    P0: np.ndarray

    @property
    def state_dim(self):
        return self.A.shape[0]

    @property
    def obs_dim(self):
        return self.C.shape[0]


def _as_float(name, value):
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} could not be read as a float array: {exc}") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        where = list(int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(f"{name}{where} = {float(arr[tuple(where)])}; expected finite values")
    return arr


def _check_covariance(name, M, definite):
    """Symmetric and positive semi-definite (``definite``: positive definite); return it symmetrised."""
    scale = max(1.0, float(np.abs(M).max()))
    asym = float(np.abs(M - M.T).max())
    if asym > _SYM_RTOL * scale:
        raise ConfigError(f"{name} is not symmetric (largest |{name} - {name}.T| = {asym:.3g})")
    M = (M + M.T) / 2
    smallest = float(np.linalg.eigvalsh(M)[0])
    if definite and smallest <= 0:
        raise ConfigError(f"{name} is not positive definite: smallest eigenvalue {smallest:.6g}")
    if smallest < -_PSD_RTOL * scale:
        raise ConfigError(f"{name} is not positive semi-definite: smallest eigenvalue {smallest:.6g}")
    return M


def check_params(A, C, Q, R, x0, P0):
    """Validate user parameters (shapes, finite, covariances); return them as :class:`Params`.

    Raises
    ------
    ConfigError
        A wrong shape, a non-finite entry, an asymmetric covariance, or one
        that is not positive semi-definite (``R``: definite), naming the
        matrix and its smallest eigenvalue.
    """
    A, C, Q, R, x0, P0 = (_as_float(n, v) for n, v in zip(NAMES, (A, C, Q, R, x0, P0)))
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise ConfigError(f"A has shape {A.shape}; expected (state_dim, state_dim)")
    d = A.shape[0]
    if C.ndim != 2 or C.shape[1] != d or C.shape[0] < 1:
        raise ConfigError(f"C has shape {C.shape}; expected (obs_dim, {d})")
    p = C.shape[0]
    for name, arr, shape in (("Q", Q, (d, d)), ("R", R, (p, p)), ("x0", x0, (d,)), ("P0", P0, (d, d))):
        if arr.shape != shape:
            raise ConfigError(f"{name} has shape {arr.shape}; expected {shape}")
    Q = _check_covariance("Q", Q, definite=False)
    R = _check_covariance("R", R, definite=True)
    P0 = _check_covariance("P0", P0, definite=False)
    return Params(A, C, Q, R, x0, P0)


def floor_covariance(M, floor):
    """Symmetrise ``M`` and raise its eigenvalues to at least ``floor``."""
    M = (M + M.T) / 2
    w, V = np.linalg.eigh(M)
    if w[0] >= floor:
        return M
    M = (V * np.maximum(w, floor)) @ V.T
    return (M + M.T) / 2


def check_finite(params, iteration):
    """Raise :class:`NumericalError` naming the first non-finite parameter after an EM step."""
    for name, value in zip(NAMES, params):
        if not np.all(np.isfinite(value)):
            raise NumericalError(
                f"EM iteration {iteration}: parameter {name} became non-finite "
                f"({int((~np.isfinite(value)).sum())} entries); try a larger min_covar or fewer iterations"
            )


def _lag_covariances(X, n_lags):
    """``Lambda_h = mean over t of y_{t+h} y_t^T`` for ``h = 0 .. n_lags`` over all sequences (NaN skipped).

    Returns
    -------
    ndarray of shape (n_lags + 1, p, p)
    """
    p = X[0].shape[1]
    total, count = np.zeros((n_lags + 1, p, p)), np.zeros((n_lags + 1, p, p))
    for x in X:
        obs = (~np.isnan(x)).astype(np.float64)
        z = np.where(obs > 0, x, 0.0)
        for h in range(min(n_lags + 1, len(x))):
            total[h] += z[h:].T @ z[: len(x) - h]
            count[h] += obs[h:].T @ obs[: len(x) - h]
    return total / np.maximum(count, 1)


def initial_params(X, state_dim, rng, min_covar):
    """Starting parameters for EM by subspace identification from the lag covariances.

    The block Hankel matrix of the lag covariances ``Lambda_{i+j+1} = C A^{i+j} G``
    factors as (observability) x (controllability); its leading ``d``
    singular directions give ``C`` (first block row) and ``A`` (shift
    invariance, scaled to spectral radius <= 0.99). Small random entries
    (``rng``) are added first, so that directions the data do not determine
    (short sequences, ``d`` above the rank) do not start EM on a symmetric
    saddle. The state is scaled so that ``Q = I`` and its stationary part
    explains half of the observed variance; ``R`` is the rest (floored),
    ``x0 = 0`` and ``P0`` the stationary state covariance.

    Parameters
    ----------
    X : list of ndarray of shape (n_steps_i, p)
        Observations (NaN entries ignored).
    state_dim : int
    rng : numpy.random.Generator
    min_covar : float

    Returns
    -------
    Params
    """
    from scipy.linalg import solve_discrete_lyapunov

    p, d = X[0].shape[1], state_dim
    k = max(2, -(-d // p) + 1)                                  # block rows: k p >= d + p
    lam = _lag_covariances(X, 2 * k - 1)
    H = np.block([[lam[i + j + 1] for j in range(k)] for i in range(k)])
    U, S, _ = np.linalg.svd(H)
    lam0 = floor_covariance(lam[0], min_covar)
    O = U[:, :d] * np.sqrt(S[:d])                               # (k p, d), observability
    O += rng.normal(scale=1e-3 * np.sqrt(max(S[0], np.trace(lam0) / p)), size=O.shape)
    A = np.linalg.lstsq(O[:-p], O[p:], rcond=None)[0]           # shift invariance: O[p:] = O[:-p] A
    radius = np.max(np.abs(np.linalg.eigvals(A)))
    if radius > 0.99:
        A *= 0.99 / radius
    P0 = floor_covariance(solve_discrete_lyapunov(A, np.eye(d)), min_covar)
    C = O[:p] * np.sqrt(0.5 * np.trace(lam0) / np.trace(O[:p] @ P0 @ O[:p].T))
    R = floor_covariance(lam0 - C @ P0 @ C.T, max(min_covar, 0.1 * np.diag(lam0).min()))
    Q = np.eye(d)
    return Params(A, C, Q, R, np.zeros(d), P0)
