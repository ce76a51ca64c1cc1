"""The Kalman filter for a batch of sequences (float64, time-major).

Two paths give the same numbers (see :mod:`._kalman_layout`):

* :func:`filter_shared` for complete sequences: the covariance recursion
  (:func:`riccati`) runs once per step for the whole batch, and stops
  recomputing once it has reached its steady state to rounding; the means of
  all sequences move with one ``(B, d) @ (d, d)`` product per step.
* :func:`filter_masked` for sequences with missing values: covariances per
  sequence; a missing entry drops its row of ``C`` and ``R`` from the update
  (a fully missing step is a pure prediction and scores 0).

Updates use the Joseph form ``(I - K C) P (I - K C)^T + K R K^T`` and every
covariance is symmetrised after each step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import NumericalError

__all__ = ["FilterResult", "riccati", "filter_shared", "filter_masked", "run_filter", "predictive_variance"]

LOG_2PI = np.log(2 * np.pi)
STEADY_RTOL = 1e-15  # predicted covariance unchanged to this relative size: the recursion has converged


def _sym(M):
    return (M + np.swapaxes(M, -1, -2)) / 2


@dataclass
class FilterResult:
    """Predicted and filtered moments of the states, and the per-step log-densities.

    Attributes
    ----------
    m_pred, m_filt : ndarray of shape (T, B, d)
        ``E[x_t | y_<t]`` and ``E[x_t | y_<=t]``.
    P_pred, P_filt : ndarray of shape (T, d, d) (shared) or (T, B, d, d) (masked)
    loglik : ndarray of shape (T, B)
        ``log p(y_t | y_<t)`` of the observed entries; 0 on padded or fully missing steps.
    steady_from : int
        Shared path: every step ``>= steady_from`` has the same covariances
        and gain (``T`` when the recursion never settled; always ``T`` when masked).
    """

    m_pred: np.ndarray
    m_filt: np.ndarray
    P_pred: np.ndarray
    P_filt: np.ndarray
    loglik: np.ndarray
    steady_from: int


def _cholesky(S, where):
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        raise NumericalError(
            f"the innovation covariance C P C^T + R at {where} is not positive definite"
        ) from None


def riccati(params, T):
    """The covariance recursion of a complete sequence, shared by every complete sequence.

    Parameters
    ----------
    params : Params
    T : int
        Number of steps.

    Returns
    -------
    P_pred, P_filt : ndarray of shape (T, d, d)
    K : ndarray of shape (T, d, p)
        Kalman gains.
    S_inv : ndarray of shape (T, p, p)
        Inverse innovation covariances.
    logdet_S : ndarray of shape (T,)
    steady_from : int
        Steps ``>= steady_from`` repeat the values of step ``steady_from`` (``T`` if never).
    """
    A, C, Q, R, x0, P0 = params
    d, p = A.shape[0], C.shape[0]
    P_pred, P_filt = np.empty((T, d, d)), np.empty((T, d, d))
    K, S_inv, logdet = np.empty((T, d, p)), np.empty((T, p, p)), np.empty(T)
    eye = np.eye(d)
    P = _sym(P0)
    steady_from = T
    for t in range(T):
        P_pred[t] = P
        PCt = P @ C.T
        L = _cholesky(_sym(C @ PCt + R), f"step {t}")
        L_inv = np.linalg.inv(L)
        S_inv[t] = L_inv.T @ L_inv
        logdet[t] = 2 * np.log(np.diagonal(L)).sum()
        K[t] = PCt @ S_inv[t]
        IKC = eye - K[t] @ C
        P_filt[t] = _sym(IKC @ P @ IKC.T + K[t] @ R @ K[t].T)
        P_next = _sym(A @ P_filt[t] @ A.T + Q)
        if t + 1 < T and np.abs(P_next - P).max() <= STEADY_RTOL * np.abs(P).max():
            for arr in (P_pred, P_filt, K, S_inv, logdet):  # steady state: every later step repeats step t
                arr[t + 1:] = arr[t]
            steady_from = t
            break
        P = P_next
    return P_pred, P_filt, K, S_inv, logdet, steady_from


def filter_shared(params, Y, n_active):
    """Filter complete sequences sharing one covariance recursion.

    Parameters
    ----------
    params : Params
    Y : ndarray of shape (T, B, p)
        Observations, zero-padded; sequence ``b`` runs while ``b < n_active[t]``.
    n_active : ndarray of int, shape (T,)

    Returns
    -------
    FilterResult
        With shared ``P_pred`` and ``P_filt`` of shape (T, d, d).
    """
    A, C, Q, R, x0, P0 = params
    T, B, p = Y.shape
    d = A.shape[0]
    P_pred, P_filt, K, S_inv, logdet, steady_from = riccati(params, T)
    # m_filt[t] = (I - K_t C) A m_filt[t-1] + K_t y_t: the data term for every step at once
    gain_y = np.matmul(Y, np.swapaxes(K, 1, 2))                      # (T, B, d)
    FT = np.swapaxes((np.eye(d) - K @ C) @ A, 1, 2)                   # (T, d, d), transposed
    m_filt = np.zeros((T, B, d))
    m_filt[0] = x0 @ (np.eye(d) - K[0] @ C).T + gain_y[0]
    for t in range(1, T):
        n = n_active[t]
        np.add(m_filt[t - 1, :n] @ FT[t], gain_y[t, :n], out=m_filt[t, :n])
    m_pred = np.empty_like(m_filt)
    m_pred[0] = x0
    m_pred[1:] = m_filt[:-1] @ A.T
    e = Y - m_pred @ C.T                                              # (T, B, p)
    quad = (np.matmul(e, S_inv) * e).sum(axis=2)                      # (T, B)
    loglik = -0.5 * (p * LOG_2PI + logdet[:, None] + quad)
    valid = n_active[:, None] > np.arange(B)[None, :]
    loglik[~valid] = 0.0
    m_filt[~valid] = 0.0
    m_pred[~valid] = 0.0
    return FilterResult(m_pred, m_filt, P_pred, P_filt, loglik, steady_from)


def filter_masked(params, Y):
    """Filter sequences with missing values, covariances per sequence.

    Parameters
    ----------
    params : Params
    Y : ndarray of shape (T, B, p)
        Observations, NaN where missing (and on padded steps).

    Returns
    -------
    FilterResult
        With ``P_pred`` and ``P_filt`` of shape (T, B, d, d).
    """
    A, C, Q, R, x0, P0 = params
    T, B, p = Y.shape
    d = A.shape[0]
    observed = ~np.isnan(Y)                                           # (T, B, p)
    Y0 = np.where(observed, Y, 0.0)
    m_pred, m_filt = np.empty((T, B, d)), np.empty((T, B, d))
    P_pred, P_filt = np.empty((T, B, d, d)), np.empty((T, B, d, d))
    loglik = np.empty((T, B))
    eye_d, eye_p = np.eye(d), np.eye(p)
    m, P = np.broadcast_to(x0, (B, d)).copy(), np.broadcast_to(_sym(P0), (B, d, d)).copy()
    for t in range(T):
        o = observed[t].astype(np.float64)                            # (B, p)
        Ct = C[None] * o[:, :, None]                                  # (B, p, d): missing rows zeroed
        Rt = R[None] * (o[:, :, None] * o[:, None, :]) + eye_p * (1 - o)[:, :, None]
        PCt = P @ np.swapaxes(Ct, 1, 2)                               # (B, d, p)
        L = _cholesky(_sym(Ct @ PCt + Rt), f"step {t}")
        L_inv = np.linalg.inv(L)
        S_inv = np.swapaxes(L_inv, 1, 2) @ L_inv
        e = o * (Y0[t] - m @ C.T)                                     # (B, p), 0 where missing
        Ke = PCt @ S_inv                                              # gains (B, d, p)
        quad = np.einsum("bp,bpq,bq->b", e, S_inv, e)
        logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        n_obs = o.sum(axis=1)
        loglik[t] = np.where(n_obs > 0, -0.5 * (n_obs * LOG_2PI + logdet + quad), 0.0)
        m_pred[t], P_pred[t] = m, P
        m_filt[t] = m + np.einsum("bdp,bp->bd", Ke, e)
        IKC = eye_d - Ke @ Ct
        P_filt[t] = _sym(IKC @ P @ np.swapaxes(IKC, 1, 2) + Ke @ Rt @ np.swapaxes(Ke, 1, 2))
        m = m_filt[t] @ A.T
        P = _sym(A @ P_filt[t] @ A.T + Q)
    return FilterResult(m_pred, m_filt, P_pred, P_filt, loglik, T)


def run_filter(params, group):
    """Filter one :class:`._kalman_layout.Group` on its path (shared or masked)."""
    if group.masked:
        return filter_masked(params, group.Y)
    return filter_shared(params, group.Y, group.n_active)


def predictive_variance(params, P_pred):
    """Diagonal of the predictive covariance ``C P_pred C^T + R`` of the next observation.

    Parameters
    ----------
    params : Params
    P_pred : ndarray of shape (..., d, d)

    Returns
    -------
    ndarray of shape (..., p)
    """
    C, R = params.C, params.R
    return np.einsum("ja,...ab,jb->...j", C, P_pred, C) + np.diag(R)
