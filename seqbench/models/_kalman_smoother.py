"""The Rauch-Tung-Striebel smoother for a batch of filtered sequences.

With the smoother gain ``J_t = P_filt[t] A^T P_pred[t+1]^{-1}``::

    m_s[t] = m_filt[t] + J_t (m_s[t+1] - m_pred[t+1])
    V_s[t] = P_filt[t] + J_t (V_s[t+1] - P_pred[t+1]) J_t^T
    Cov(x_t, x_{t-1} | all) = V_s[t] J_{t-1}^T

In the shared group the gains are common to every sequence; the smoothed
covariances depend on the sequence's length only, so they are run once per
distinct length (all lengths together, one batched product per step).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kalman_filter import STEADY_RTOL

__all__ = ["SmoothResult", "smoother_gains", "smooth_shared", "smooth_masked"]


def _sym(M):
    return (M + np.swapaxes(M, -1, -2)) / 2


@dataclass
class SmoothResult:
    """Smoothed state moments of one group.

    Attributes
    ----------
    m_smooth : ndarray of shape (T, B, d)
        ``E[x_t | y]``; 0 on padded steps.
    JT : ndarray of shape (T - 1, d, d) or (T - 1, B, d, d)
        Transposed smoother gains ``J_t^T``.
    V_sum : ndarray of shape (T, d, d)
        ``sum_b V_s[t, b]`` over the sequences that have step ``t``.
    V_last : ndarray of shape (d, d)
        ``sum_b V_s[T_b - 1, b]`` (each sequence's last step).
    V : ndarray of shape (T, B, d, d) or None
        Per-sequence smoothed covariances (masked group, or when asked for), 0 on padded steps.
    """

    m_smooth: np.ndarray
    JT: np.ndarray
    V_sum: np.ndarray
    V_last: np.ndarray
    V: np.ndarray | None


def smoother_gains(A, P_pred, P_filt):
    """``J_t^T = P_pred[t+1]^{-1} A P_filt[t]`` for ``t < T - 1`` (any leading batch axes after time).

    Returns
    -------
    ndarray of shape (T - 1, ..., d, d)
    """
    rhs = A @ P_filt[:-1]
    try:
        return np.linalg.solve(P_pred[1:], rhs)
    except np.linalg.LinAlgError:  # a singular prediction (deterministic state part): least squares
        return np.linalg.pinv(P_pred[1:], hermitian=True) @ rhs


def smooth_shared(A, filt, lengths, keep_covariances=False):
    """Smooth a shared group (complete sequences sorted by decreasing length).

    Parameters
    ----------
    A : ndarray of shape (d, d)
    filt : FilterResult
        From :func:`._kalman_filter.filter_shared`.
    lengths : ndarray of int, shape (B,), non-increasing
    keep_covariances : bool
        Also return the per-sequence covariances ``V`` (T, B, d, d).

    Returns
    -------
    SmoothResult
    """
    m_pred, m_filt = filt.m_pred, filt.m_filt
    T = m_filt.shape[0]
    JT = smoother_gains(A, filt.P_pred, filt.P_filt)             # (T-1, d, d)
    n_active = (lengths[None, :] > np.arange(T)[:, None]).sum(axis=1)
    m_s = m_filt.copy()
    for t in range(T - 2, -1, -1):
        n = n_active[t + 1]
        m_s[t, :n] += (m_s[t + 1, :n] - m_pred[t + 1, :n]) @ JT[t]
    V_sum, V_last, V = _shared_covariances(filt, JT, lengths, keep_covariances)
    return SmoothResult(m_s, JT, V_sum, V_last, V)


def _shared_covariances(filt, JT, lengths, keep):
    """Smoothed covariances of a shared group: one backward recursion per distinct length.

    At step ``t`` the lengths still running are a prefix ``[:n_live[t]]``
    of the distinct lengths (longest first); those continuing from ``t + 1``
    a prefix ``[:n_live[t + 1]]``. Once the filter is steady (step
    ``>= filt.steady_from``) the backward map is the same at every step; when
    it has also reached its fixed point, the steps down to the next event
    (a length starting, or the end of the steady part) repeat it.

    Returns
    -------
    V_sum : ndarray of shape (T, d, d)
        Sum over the sequences running at each step.
    V_last : ndarray of shape (d, d)
        Sum over the sequences of their last step's covariance (the filtered one).
    V : ndarray of shape (T, B, d, d) or None
        Per sequence (0 on padded steps), when ``keep``.
    """
    P_pred, P_filt = filt.P_pred, filt.P_filt
    T, d = P_filt.shape[0], P_filt.shape[1]
    uniq, inverse, counts = np.unique(-lengths, return_inverse=True, return_counts=True)
    uniq, counts = -uniq, counts.astype(np.float64)
    n_live = np.append((uniq[None, :] > np.arange(T)[:, None]).sum(axis=1), 0)
    D = np.zeros((uniq.size, d, d))
    V_sum = np.zeros((T, d, d))
    V_u = np.zeros((T, uniq.size, d, d)) if keep else None
    t = T - 1
    while t >= 0:
        nl, nc = n_live[t], n_live[t + 1]
        previous = D[:nc].copy() if nc == nl and nc and t >= filt.steady_from else None
        if nc:
            X = P_filt[t] + JT[t].T @ (D[:nc] - P_pred[t + 1]) @ JT[t]
            D[:nc] = (X + np.swapaxes(X, 1, 2)) / 2
        if nl > nc:                                              # the length ending at t starts here
            D[nc] = P_filt[t]
        V_sum[t] = (counts[:nl] @ D[:nl].reshape(nl, -1)).reshape(d, d)
        if keep:
            V_u[t, :nl] = D[:nl]
        if previous is not None and np.abs(D[:nl] - previous).max() <= STEADY_RTOL * np.abs(previous).max():
            starts = uniq[uniq < t + 1] - 1                      # steps where a shorter length starts
            lo = max(filt.steady_from, int(starts.max()) + 1 if starts.size else 0)
            V_sum[lo:t] = V_sum[t]
            if keep:
                V_u[lo:t, :nl] = D[:nl]
            t = lo
        t -= 1
    V_last = np.tensordot(counts, P_filt[uniq - 1], axes=1)
    V = None
    if keep:
        V = V_u[:, inverse.reshape(-1)]                          # (T, B, d, d)
        V[~(lengths[None, :] > np.arange(T)[:, None])] = 0.0
    return V_sum, V_last, V


def smooth_masked(A, filt, lengths):
    """Smooth a masked group (per-sequence covariances; padded steps are missing, hence exact).

    Parameters
    ----------
    A : ndarray of shape (d, d)
    filt : FilterResult
        From :func:`._kalman_filter.filter_masked`.
    lengths : ndarray of int, shape (B,)

    Returns
    -------
    SmoothResult
        With per-sequence ``V``.
    """
    m_pred, m_filt, P_pred, P_filt = filt.m_pred, filt.m_filt, filt.P_pred, filt.P_filt
    T, B, d = m_filt.shape
    JT = smoother_gains(A, P_pred, P_filt)                       # (T-1, B, d, d)
    m_s, V = m_filt.copy(), P_filt.copy()
    for t in range(T - 2, -1, -1):
        m_s[t] += np.einsum("bi,bij->bj", m_s[t + 1] - m_pred[t + 1], JT[t])
        V[t] = _sym(P_filt[t] + np.swapaxes(JT[t], 1, 2) @ (V[t + 1] - P_pred[t + 1]) @ JT[t])
    valid = lengths[None, :] > np.arange(T)[:, None]
    m_s[~valid] = 0.0
    V[~valid] = 0.0
    V_last = V[lengths - 1, np.arange(B)].sum(axis=0)
    return SmoothResult(m_s, JT, V.sum(axis=1), V_last, V)
