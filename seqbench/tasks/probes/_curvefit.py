"""Which law a mutual-information curve decays by: exponential or power law.

Both laws are straight lines in log space, so each is an ordinary least
squares fit of ``log I`` on the points above the noise floor:

``exponential``  ``I(d) = a exp(-d / xi)``:  ``log I = log a - d / xi``
``power law``    ``I(d) = a d^(-alpha)``:    ``log I = log a - alpha log d``

Each has two parameters, so their coefficients of determination ``R^2`` of
``log I`` compare directly; the law with the larger one fits better. A
finite-state source (Markov chain, HMM) decays exponentially with ``xi`` set
by its second-largest eigenvalue; a critical source (a grammar with long-range
nesting) by a power law.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...exceptions import ConfigError, NumericalError

__all__ = ["DecayFit", "fit_decay"]

MIN_POINTS = 3


@dataclass(frozen=True)
class DecayFit:
    """Both decay laws fitted to one curve.

    Attributes
    ----------
    best : {"power_law", "exponential"}
        The law with the larger R^2 in log space (ties: exponential, the simpler claim).
    decay_length : float
        ``xi`` of the exponential fit (``inf`` when the fitted curve does not decay).
    power_exponent : float
        ``alpha`` of the power-law fit.
    amplitude_exponential, amplitude_power : float
        The prefactors ``a``.
    r2_exponential, r2_power : float
        R^2 of ``log I`` for each fit.
    n_points : int
        Points used (above the floor).
    """

    best: str
    decay_length: float
    power_exponent: float
    amplitude_exponential: float
    amplitude_power: float
    r2_exponential: float
    r2_power: float
    n_points: int

    @property
    def power_law_better(self):
        """bool: the power law fits better."""
        return self.best == "power_law"


def _line(x, y):
    """Least-squares ``y = intercept + slope x``; returns intercept, slope and R^2."""
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (intercept + slope * x)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - residual / total if total > 0 else (1.0 if residual <= 1e-24 else 0.0)
    return float(intercept), float(slope), r2


def fit_decay(d, mi, floor=None, min_points=MIN_POINTS):
    """Fit an exponential and a power law to ``I(d)`` in log space.

    Parameters
    ----------
    d : array-like of int or float, shape (n,)
        Distances, each >= 1.
    mi : array-like of float, shape (n,)
        Mutual information at each distance (nats).
    floor : float or array-like of shape (n,) or None
        Only points with ``mi > floor`` (and ``mi > 0``) are fitted; e.g.
        :attr:`MICurve.noise_floor`. None: every positive point.
    min_points : int
        Fewest points a fit needs (>= 3: a two-parameter line through two
        points says nothing about which law holds).

    Returns
    -------
    DecayFit

    Raises
    ------
    ConfigError
        For mismatched shapes or a distance below 1.
    NumericalError
        When fewer than ``min_points`` points lie above the floor.

    Examples
    --------
    >>> d = np.arange(1, 50)
    >>> fit = fit_decay(d, 0.3 * d ** -0.7)
    >>> fit.best, round(fit.power_exponent, 6)
    ('power_law', 0.7)
    """
    d = np.asarray(d, dtype=np.float64)
    mi = np.asarray(mi, dtype=np.float64)
    if d.ndim != 1 or d.shape != mi.shape:
        raise ConfigError(f"d and mi must be 1-D arrays of one length, got shapes {d.shape} and {mi.shape}")
    if d.size and not (np.all(np.isfinite(d)) and d.min() >= 1):
        i = int(np.flatnonzero(~(np.isfinite(d) & (d >= 1)))[0])
        raise ConfigError(f"d[{i}] = {d[i]} is not a distance; expected values >= 1")
    if isinstance(min_points, bool) or not isinstance(min_points, (int, np.integer)) or min_points < 3:
        raise ConfigError(f"min_points must be an integer >= 3, got {min_points!r}")
    floor = np.zeros_like(mi) if floor is None else np.broadcast_to(np.asarray(floor, dtype=np.float64), mi.shape)
    keep = np.isfinite(mi) & (mi > 0) & (mi > floor)
    n = int(keep.sum())
    if n < min_points:
        raise NumericalError(f"only {n} of {mi.size} points lie above the noise floor; fitting a decay law "
                             f"needs at least {min_points}")
    x, y = d[keep], np.log(mi[keep])
    log_a_exp, slope_exp, r2_exp = _line(x, y)
    log_a_pow, slope_pow, r2_pow = _line(np.log(x), y)
    return DecayFit(best="power_law" if r2_pow > r2_exp else "exponential",
                    decay_length=-1.0 / slope_exp if slope_exp < 0 else float("inf"),
                    power_exponent=-slope_pow,
                    amplitude_exponential=float(np.exp(log_a_exp)), amplitude_power=float(np.exp(log_a_pow)),
                    r2_exponential=r2_exp, r2_power=r2_pow, n_points=n)
