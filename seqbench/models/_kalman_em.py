"""EM for a linear-Gaussian state-space model over many sequences (Shumway and Stoffer).

The E-step runs filter and smoother on every group and sums the expected
sufficient statistics over ALL sequences; the M-step maximises the expected
complete-data log-likelihood of all sequences jointly. Missing entries are
treated as latent: given the states, a missing block ``y_m`` of step ``t``
has mean ``C_m x + R_mo R_oo^{-1} (y_o - C_o x)`` and covariance
``R_mm - R_mo R_oo^{-1} R_om``, which the observation statistics take in
exactly (so EM never lowers the likelihood, with or without gaps).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._kalman_filter import filter_masked, filter_shared, run_filter
from ._kalman_params import Params, floor_covariance
from ._kalman_smoother import smooth_masked, smooth_shared

__all__ = ["Stats", "e_step", "m_step", "log_likelihood"]


@dataclass
class Stats:
    """Expected sufficient statistics summed over all sequences (``E[.]`` given all observations).

    Attributes
    ----------
    loglik : float
        Log-likelihood of the observations under the parameters of the E-step.
    n_steps, n_transitions : int
        ``sum T_i`` and ``sum (T_i - 1)``.
    m0 : list of ndarray of shape (B_g, d)
        Smoothed first-step means.
    V0 : ndarray of shape (d, d)
        Sum of smoothed first-step covariances.
    xx, xx_first, xx_last : ndarray of shape (d, d)
        ``sum E[x_t x_t^T]`` over all steps, the first and the last steps.
    lag : ndarray of shape (d, d)
        ``sum_{t >= 1} E[x_t x_{t-1}^T]``.
    yx : ndarray of shape (p, d), yy : ndarray of shape (p, p)
        ``sum E[y_t x_t^T]`` and ``sum E[y_t y_t^T]`` (missing entries in expectation).
    """

    d: int
    p: int
    loglik: float = 0.0
    n_steps: int = 0
    n_transitions: int = 0
    m0: list = field(default_factory=list)

    def __post_init__(self):
        d, p = self.d, self.p
        self.V0, self.xx, self.xx_first, self.xx_last, self.lag = (np.zeros((d, d)) for _ in range(5))
        self.yx, self.yy = np.zeros((p, d)), np.zeros((p, p))


def _outer_sum(a, b):
    """``sum_n a_n b_n^T`` of (..., i) and (..., j) arrays."""
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def _observation_stats(stats, params, Y, m_s, V_steps, valid):
    """Add ``sum E[y x^T]`` and ``sum E[y y^T]`` over the real steps, one mask pattern at a time.

    Given the states, ``y_t = H x_t + g_t + eps`` with ``H = (I - M) C``,
    ``g_t = M y~_t`` and ``Cov(eps) = R - M R M^T``, where ``M`` is the
    identity on observed entries and regresses missing on observed noise
    (``M[m, o] = R_mo R_oo^{-1}``), ``y~`` the data with 0 for missing.
    A complete step has ``M = I`` (``H = 0``, ``g = y``, no ``eps``).
    """
    C, R = params.C, params.R
    p = C.shape[0]
    observed = ~np.isnan(Y[valid])                           # (N, p)
    y = np.where(observed, Y[valid], 0.0)
    m = m_s[valid]                                           # (N, d)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    which = which.reshape(-1)
    for k, pattern in enumerate(patterns):
        sel = which == k
        o, miss = np.flatnonzero(pattern), np.flatnonzero(~pattern)
        M = np.zeros((p, p))
        M[o, o] = 1.0
        noise = np.zeros((p, p))
        if miss.size and o.size:
            reg = np.linalg.solve(R[np.ix_(o, o)], R[np.ix_(o, miss)]).T   # R_mo R_oo^{-1}
            M[np.ix_(miss, o)] = reg
            noise[np.ix_(miss, miss)] = R[np.ix_(miss, miss)] - reg @ R[np.ix_(o, miss)]
        elif miss.size:
            noise = R.copy()
        H = (np.eye(p) - M) @ C
        g, mk = y[sel] @ M.T, m[sel]
        xx = V_steps(sel) + mk.T @ mk
        gm = g.T @ mk
        stats.yx += H @ xx + gm
        stats.yy += H @ xx @ H.T + H @ gm.T + gm @ H.T + g.T @ g + sel.sum() * noise


def _group_stats(stats, params, group):
    """Filter and smooth one group and add its statistics."""
    A = params.A
    lengths = group.lengths
    B = lengths.size
    if group.masked:
        filt = filter_masked(params, group.Y)
        sm = smooth_masked(A, filt, lengths)
        lag_cov = np.einsum("tbij,tbjk->ik", sm.V[1:], sm.JT)
    else:
        filt = filter_shared(params, group.Y, group.n_active)
        sm = smooth_shared(A, filt, lengths)
        lag_cov = np.einsum("tij,tjk->ik", sm.V_sum[1:], sm.JT)
    stats.loglik += float(filt.loglik.sum())
    m_s = sm.m_smooth                                        # (T, B, d), 0 on padding
    last = m_s[lengths - 1, np.arange(B)]
    stats.n_steps += int(lengths.sum())
    stats.n_transitions += int((lengths - 1).sum())
    stats.m0.append(m_s[0])
    stats.V0 += sm.V_sum[0]
    stats.xx += sm.V_sum.sum(axis=0) + _outer_sum(m_s, m_s)
    stats.xx_first += sm.V_sum[0] + m_s[0].T @ m_s[0]
    stats.xx_last += sm.V_last + last.T @ last
    stats.lag += lag_cov + _outer_sum(m_s[1:], m_s[:-1])
    valid = group.valid
    if group.masked:
        V_valid = sm.V[valid]
        _observation_stats(stats, params, group.Y, m_s, lambda sel: V_valid[sel].sum(axis=0), valid)
    else:  # complete data: E[y x^T] = y E[x]^T
        stats.yx += _outer_sum(group.Y, m_s)
        stats.yy += _outer_sum(group.Y, group.Y)


def e_step(params, groups):
    """Expected sufficient statistics over all groups.

    Parameters
    ----------
    params : Params
    groups : list of Group

    Returns
    -------
    Stats
    """
    stats = Stats(params.state_dim, params.obs_dim)
    for group in groups:
        _group_stats(stats, params, group)
    return stats


def log_likelihood(params, groups):
    """Total log-likelihood of the observed values (filter only)."""
    return sum(float(run_filter(params, g).loglik.sum()) for g in groups)


def m_step(stats, params, estimate, min_covar):
    """Maximise the expected complete-data log-likelihood over the parameters in ``estimate``.

    ``A`` is updated before ``Q`` and ``C`` before ``R`` (each covariance
    uses the new mean map); covariances are symmetrised and floored at
    ``min_covar``. Without any transition (all sequences of length 1)
    ``A`` and ``Q`` stay.

    Returns
    -------
    Params
    """
    A, C, Q, R, x0, P0 = params
    xx_prev = stats.xx - stats.xx_last                       # steps 0 .. T-2
    xx_next = stats.xx - stats.xx_first                      # steps 1 .. T-1
    if stats.n_transitions:
        if "A" in estimate:
            A = np.linalg.solve(xx_prev.T, stats.lag.T).T    # lag @ xx_prev^{-1}
        if "Q" in estimate:
            Q = (xx_next - A @ stats.lag.T - stats.lag @ A.T + A @ xx_prev @ A.T) / stats.n_transitions
            Q = floor_covariance(Q, min_covar)
    if "C" in estimate:
        C = np.linalg.solve(stats.xx.T, stats.yx.T).T        # yx @ xx^{-1}
    if "R" in estimate:
        R = (stats.yy - C @ stats.yx.T - stats.yx @ C.T + C @ stats.xx @ C.T) / stats.n_steps
        R = floor_covariance(R, min_covar)
    m0 = np.concatenate(stats.m0)
    if "x0" in estimate:
        x0 = m0.mean(axis=0)
    if "P0" in estimate:
        dev = m0 - x0
        P0 = floor_covariance((stats.V0 + dev.T @ dev) / m0.shape[0], min_covar)
    return Params(A, C, Q, R, x0, P0)
