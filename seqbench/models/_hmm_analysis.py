"""Exact quantities of a categorical HMM: stationary distribution, mutual information at a distance.

Under the stationary state distribution ``pi`` (``pi A = pi``) the joint
distribution of two symbols ``d >= 1`` steps apart is

    p(x, x') = sum_{i,j} pi_i B[i, x] (A^d)[i, j] B[j, x']  =  (B^T diag(pi) A^d B)[x, x']

with both marginals equal to ``pi B``; the mutual information is
``I(d) = sum p(x, x') log(p(x, x') / (p(x) p(x')))`` in nats. The powers
``A^d`` for all requested ``d`` come from repeated squaring, each from the
previous (sorted) one.
"""
from __future__ import annotations

import numpy as np

from ..exceptions import ConfigError, NumericalError

__all__ = ["stationary_distribution", "mutual_information"]


def stationary_distribution(transmat):
    """The distribution ``pi`` with ``pi A = pi``, ``sum pi = 1``.

    Parameters
    ----------
    transmat : ndarray of shape (K, K)

    Returns
    -------
    ndarray of shape (K,)

    Raises
    ------
    NumericalError
        When the chain has no unique stationary distribution (several closed classes).
    """
    n = transmat.shape[0]
    system = np.vstack([transmat.T - np.eye(n), np.ones((1, n))])
    target = np.zeros(n + 1)
    target[-1] = 1.0
    pi, _, rank, _ = np.linalg.lstsq(system, target, rcond=None)
    if rank < n or pi.min() < -1e-9:
        raise NumericalError("the transition matrix has no unique stationary distribution "
                             "(the chain has more than one closed class of states)")
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def _xlogx(p):
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)


def mutual_information(transmat, emissionprob, distances):
    """Exact ``I(X_t; X_{t+d})`` in nats under the stationary distribution.

    Parameters
    ----------
    transmat : ndarray of shape (K, K)
    emissionprob : ndarray of shape (K, V)
    distances : int or array-like of int, each >= 1

    Returns
    -------
    float or ndarray of float64 of the shape of ``distances``
    """
    d = np.asarray(distances)
    if d.size == 0 or d.dtype == bool or not np.issubdtype(d.dtype, np.integer) or d.min() < 1:
        raise ConfigError(f"distances must be integers >= 1, got {distances!r}")
    pi = stationary_distribution(transmat)
    marginal = pi @ emissionprob  # (V,)
    h_marginal = _xlogx(marginal).sum()
    flat = d.ravel()
    out = np.empty(flat.shape)
    order = np.argsort(flat, kind="stable")
    power, at = np.eye(len(pi)), 0
    weighted = emissionprob.T * pi  # (V, K): B^T diag(pi)
    for i in order:
        step = int(flat[i]) - at
        if step:
            power = power @ np.linalg.matrix_power(transmat, step)
            at = int(flat[i])
        joint = weighted @ power @ emissionprob  # (V, V)
        out[i] = _xlogx(joint).sum() - 2.0 * h_marginal
    out = np.maximum(out, 0.0)  # rounding can leave -1e-17 where I = 0
    return float(out[0]) if d.ndim == 0 else out.reshape(d.shape)
