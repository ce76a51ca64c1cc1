"""Checks of the HMM's parameters: estimator options, given model parameters (``from_params``), memory."""
from __future__ import annotations

import numbers
import os

import numpy as np

from ..exceptions import ConfigError, ResourceLimitError
from ._hmm_inference import MAX_CELLS

__all__ = ["is_int", "check_estimator_params", "check_memory", "check_stochastic", "check_model_params"]

_ROW_SUM_TOL = 1e-8


def is_int(value, low):
    """An integer (not a bool) >= ``low``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


def check_estimator_params(est, choices):
    """Validate the HMM's constructor parameters; ``choices`` maps a name to its allowed values."""
    for name, allowed in choices.items():
        value = getattr(est, name)
        if isinstance(value, bool) or value not in allowed:
            raise ConfigError(f"{name}={value!r} is not supported; expected one of {', '.join(map(repr, allowed))}")
    for name, low in (("n_states", 1), ("n_iter", 1), ("n_init", 1), ("n_mix", 1), ("max_suffix", 0),
                      ("rare_threshold", 0)):
        if not is_int(getattr(est, name), low):
            raise ConfigError(f"{name} must be an integer >= {low}, got {getattr(est, name)!r}")
    for name, positive in (("tol", False), ("emission_pseudocount", True), ("transition_pseudocount", True)):
        value = getattr(est, name)
        if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value)
                or value < 0 or (positive and value == 0)):
            raise ConfigError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def _memory_limit():
    """Physical memory in bytes (16 GiB when the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def check_memory(n_states, width, longest, what):
    """Refuse, before allocating, a model whose float64 arrays would not fit in physical memory.

    The estimate: parameters (``n_states`` rows of ``n_states`` transitions
    and ``width`` emission values, a few copies) plus the forward-backward
    arrays of the largest bucket (``MAX_CELLS`` values, or one sequence of
    ``longest`` steps).
    """
    need = 8 * (4 * n_states * n_states + 4 * n_states * width + 6 * max(MAX_CELLS, n_states * longest))
    limit = _memory_limit()
    if need > limit:
        raise ResourceLimitError(
            f"{what} with n_states={n_states} needs about {need:.3g} bytes ({need / 2**30:.1f} GiB) for its "
            f"parameters and forward-backward arrays; this machine has {limit / 2**30:.1f} GiB")


def _as_float(name, arr):
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} could not be read as a float array: {exc}") from None


def _check_finite(name, arr):
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(f"{name}{list(where)} = {arr[where]!r}; expected a finite number")


def check_stochastic(name, arr, shape):
    """Validate a probability vector or row-stochastic array (rows along the last axis); return float64."""
    arr = _as_float(name, arr)
    if arr.shape != shape:
        raise ConfigError(f"{name} has shape {arr.shape}; expected {shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(f"{name}{list(where)} = {arr[where]!r}; expected a finite probability >= 0")
    sums = np.atleast_1d(arr.sum(axis=-1))
    off = np.abs(sums - 1.0) > _ROW_SUM_TOL
    if off.any():
        where = tuple(int(i) for i in np.argwhere(off)[0])
        row = f"{name}{list(where)}" if arr.ndim >= 2 else name
        raise ConfigError(f"{row} sums to {sums[where]!r}; expected 1 (a probability distribution)")
    return arr


def _check_covariances(name, covars):
    _check_finite(name, covars)
    if not np.allclose(covars, np.swapaxes(covars, -1, -2), rtol=1e-10, atol=1e-12):
        raise ConfigError(f"{name} is not symmetric; expected covariance matrices")
    eig_min = np.linalg.eigvalsh(covars).min(axis=-1)
    if (eig_min <= 0).any():
        where = tuple(int(i) for i in np.argwhere(eig_min <= 0)[0])
        raise ConfigError(f"{name}{list(where)} is not positive definite (smallest eigenvalue "
                          f"{eig_min[where]:.3g}); expected a covariance matrix")
    return covars


def check_model_params(startprob, transmat, emissionprob, means, covars, weights):
    """Validate given HMM parameters (see ``HMM.from_params``).

    Returns
    -------
    family : {"categorical", "gaussian", "gmm"}
    params : dict
        float64 arrays named as the fitted attributes (without the ``_``).
    """
    start = _as_float("startprob", startprob)
    if start.ndim != 1 or start.shape[0] < 1:
        raise ConfigError(f"startprob has shape {start.shape}; expected (n_states,)")
    K = start.shape[0]
    family, params = _check_emission_params(K, emissionprob, means, covars, weights)
    params["startprob"] = check_stochastic("startprob", start, (K,))
    params["transmat"] = check_stochastic("transmat", transmat, (K, K))
    return family, params


def _check_emission_params(n_states, emissionprob, means, covars, weights):
    """Infer the emission family from the given arrays and validate them.

    Returns
    -------
    family : {"categorical", "gaussian", "gmm"}
    params : dict
        float64 arrays named as the fitted attributes (without the ``_``).
    """
    K = n_states
    if emissionprob is not None:
        if means is not None or covars is not None or weights is not None:
            raise ConfigError("give either emissionprob (categorical) or means and covars (continuous), not both")
        emit = _as_float("emissionprob", emissionprob)
        if emit.ndim != 2 or emit.shape[0] != K or emit.shape[1] < 1:
            raise ConfigError(f"emissionprob has shape {emit.shape}; expected ({K}, n_symbols)")
        return "categorical", {"emissionprob": check_stochastic("emissionprob", emit, emit.shape)}
    if means is None or covars is None:
        raise ConfigError("emission parameters missing: give emissionprob, or means and covars")
    means, covars = _as_float("means", means), _as_float("covars", covars)
    _check_finite("means", means)
    if weights is None:
        if means.ndim != 2 or means.shape[0] != K:
            raise ConfigError(f"means has shape {means.shape}; expected ({K}, n_features)")
        d = means.shape[1]
        if covars.shape != (K, d, d):
            raise ConfigError(f"covars has shape {covars.shape}; expected {(K, d, d)}")
        return "gaussian", {"means": means, "covars": _check_covariances("covars", covars)}
    if means.ndim != 3 or means.shape[0] != K:
        raise ConfigError(f"means has shape {means.shape}; expected ({K}, n_mix, n_features)")
    _, M, d = means.shape
    if covars.shape != (K, M, d, d):
        raise ConfigError(f"covars has shape {covars.shape}; expected {(K, M, d, d)}")
    return "gmm", {"means": means, "covars": _check_covariances("covars", covars),
                   "weights": check_stochastic("weights", weights, (K, M))}
