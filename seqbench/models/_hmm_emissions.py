"""Emission families of the HMM (categorical, Gaussian, Gaussian mixture) and their per-step sources.

A family knows its fitted attributes, its log densities, how to draw from
them, how hmmlearn trains it and how many free parameters it has. The
inference kernels of :mod:`._hmm_inference` read emissions through a
*source*, one per bucket of padded sequences:

- :class:`TableSource` (categorical): one ``np.take`` from a ``(K, n_ids)``
  table per step; no ``(T, K, B)`` array is ever built;
- :class:`DenseSource` (continuous): log densities computed once for the
  bucket, ``(T, K, B)``, and their scaled exponentials.

Covariances are stored in full form whatever ``covariance_type`` was
trained: ``covars_`` of shape ``(K, d, d)`` (Gaussian) or ``(K, M, d, d)``
(mixture), as hmmlearn's ``GaussianHMM.covars_`` property gives them.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ._hmm_inference import CategoricalSampler, Layout, length_buckets

__all__ = ["FAMILIES", "COVARIANCE_TYPES", "TableSource", "DenseSource", "categorical_tables", "bucket_sources",
           "map_buckets",
           "log_density", "draw", "n_emission_params", "make_hmmlearn", "from_hmmlearn"]

FAMILIES = ("categorical", "gaussian", "gmm")
COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")
_LOG_2PI = np.log(2 * np.pi)


# ----------------------------------------------------------------------------- sources
class TableSource:
    """Per-step emissions of token ids, looked up in a ``(K, n_ids)`` table.

    Parameters
    ----------
    prob_table, log_table : ndarray of shape (K, n_ids)
        Emission probabilities and their logs per id; the padding id's
        column holds 1 (log 0).
    tokens : ndarray of int64, shape (T, B)
        Time-major ids, padded with the padding id.
    known : ndarray of int64, shape (T, B) or None
        Known states (-1: unknown): at a known position every other state
        has emission probability 0 (semi-supervised EM and clamped decoding).
    """

    shift = None

    def __init__(self, prob_table, log_table, tokens, known=None):
        self.prob_table, self.log_table, self.tokens = prob_table, log_table, tokens
        self.n_steps, self.n_batch = tokens.shape
        self._known = None
        if known is not None:
            self._known = [(np.flatnonzero(k >= 0), k[k >= 0]) for k in known]

    def _clamp(self, t, out, off):
        if self._known is not None and len(self._known[t][0]):
            cols, states = self._known[t]
            keep = out[states, cols]
            out[:, cols] = off
            out[states, cols] = keep
        return out

    def probs(self, t, out):
        return self._clamp(t, np.take(self.prob_table, self.tokens[t], axis=1, out=out), 0.0)

    def log_probs(self, t, out):
        return self._clamp(t, np.take(self.log_table, self.tokens[t], axis=1, out=out), -np.inf)


class DenseSource:
    """Per-step emissions from precomputed log densities.

    Parameters
    ----------
    log_emit : ndarray of shape (T, K, B)
        log p(x_t | state); 0 at padded steps.
    """

    def __init__(self, log_emit):
        self.log_emit = log_emit
        self.n_steps, _, self.n_batch = log_emit.shape
        shift = log_emit.max(axis=1)  # (T, B)
        self.shift = np.where(np.isfinite(shift), shift, 0.0)
        with np.errstate(under="ignore"):
            self.emit = np.exp(log_emit - self.shift[:, None, :])

    def rescale(self, t, cols, pred):
        """Shift columns of step ``t`` by the best reachable log weight ``max_k log pred_k + log p_k``.

        Then the predicted mass ``sum_k pred_k p_k / exp(shift)`` lies in
        ``[1, K]``; states with ``pred_k = 0`` are unreachable, their values
        (capped to stay finite) never enter a product.
        """
        with np.errstate(divide="ignore"):
            best = (np.log(pred) + self.log_emit[t][:, cols]).max(axis=0)
        best = np.where(np.isfinite(best), best, self.shift[t, cols])
        self.shift[t, cols] = best
        with np.errstate(under="ignore"):
            self.emit[t][:, cols] = np.exp(np.minimum(self.log_emit[t][:, cols] - best, 700.0))
        return self.emit[t][:, cols]

    def probs(self, t, out):
        return self.emit[t]

    def log_probs(self, t, out):
        return self.log_emit[t]


def categorical_tables(emissionprob, unseen=None):
    """Probability and log tables ``(K, V + 2)``: the V symbols, the unseen-id floor, the padding id.

    Column ``V`` holds ``unseen`` (the probability of an id never seen in
    training; 0 when None), column ``V + 1`` the padding (probability 1).
    """
    n_states = emissionprob.shape[0]
    floor = np.zeros(n_states) if unseen is None else unseen
    table = np.hstack([emissionprob, floor[:, None], np.ones((n_states, 1))])
    with np.errstate(divide="ignore"):
        return table, np.log(table)


def bucket_sources(family, params, n_states, X, known=None):
    """Length buckets of sequences with their emission sources.

    Parameters
    ----------
    family : {"categorical", "gaussian", "gmm"}
    params : dict
        Emission parameters (``emissionprob`` and ``unseen`` for categorical,
        whose ids ``>= V`` must already be mapped to ``V``).
    n_states : int
    X : list of ndarray of shape (n_steps_i,) or (n_steps_i, d)
    known : list of ndarray of int64 or None
        Known states (-1: unknown) clamp the categorical emissions.

    Yields
    ------
    idx : ndarray of int
        The sequences of the bucket.
    layout : Layout
    source : TableSource or DenseSource
    """
    lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
    if family == "categorical":
        table, log_table = categorical_tables(params["emissionprob"], params.get("unseen"))
        pad_id = params["emissionprob"].shape[1] + 1
    for idx in length_buckets(lengths, n_states):
        layout = Layout(lengths[idx])
        concat = np.concatenate([X[i] for i in idx])
        if family == "categorical":
            tags = None if known is None else layout.pad(np.concatenate([known[i] for i in idx]), -1)
            yield idx, layout, TableSource(table, log_table, layout.pad(concat, pad_id), tags)
        else:
            log_emit = layout.pad(log_density(family, params, concat), 0.0)  # (T, B, K)
            yield idx, layout, DenseSource(log_emit.transpose(0, 2, 1).copy())


def map_buckets(family, params, n_states, X, run, known=None):
    """Run an inference kernel over length buckets; per-sequence results in input order.

    Parameters
    ----------
    family, params, n_states, X, known :
        As for :func:`bucket_sources`.
    run : callable
        ``run(source, layout) -> (values (T, B, ...), impossible [(row, step)])``.

    Returns
    -------
    out : list of ndarray
        ``values[:length_i, b]`` of each sequence.
    impossible : list of (sequence, step), sorted
    """
    out, impossible = [None] * len(X), []
    for idx, layout, source in bucket_sources(family, params, n_states, X, known):
        values, bad = run(source, layout)
        impossible.extend((int(idx[b]), t) for b, t in bad)
        for i, v in zip(idx, layout.unpad(values)):
            out[i] = v
    return out, sorted(impossible)


# ----------------------------------------------------------------------------- densities
def _gaussian_log_density(X, means, covars):
    """log N(x; mean_k, covar_k): X (N, d), means (C, d), covars (C, d, d) -> (N, C)."""
    chol = np.linalg.cholesky(covars)  # (C, d, d)
    inv_chol = np.linalg.inv(chol)
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)  # (C,)
    out = np.empty((X.shape[0], means.shape[0]))
    for c in range(means.shape[0]):  # one component at a time: (N, d) work arrays
        z = (X - means[c]) @ inv_chol[c].T
        out[:, c] = np.einsum("nd,nd->n", z, z)
    out += log_det + X.shape[1] * _LOG_2PI
    out *= -0.5
    return out


def log_density(family, params, X):
    """log p(x | state) for continuous observations.

    Parameters
    ----------
    family : {"gaussian", "gmm"}
    params : dict
        ``means``, ``covars`` (full form) and, for ``gmm``, ``weights`` (K, M).
    X : ndarray of shape (N, d)

    Returns
    -------
    ndarray of shape (N, K)
    """
    means, covars = params["means"], params["covars"]
    if family == "gaussian":
        return _gaussian_log_density(X, means, covars)
    n_states, n_mix, dim = means.shape
    comp = _gaussian_log_density(X, means.reshape(-1, dim), covars.reshape(-1, dim, dim))
    with np.errstate(divide="ignore"):
        comp = comp.reshape(len(X), n_states, n_mix) + np.log(params["weights"])
    return logsumexp(comp, axis=2)


def draw(family, params, states, rng):
    """Observations for a state array ``(n, T)``: ids ``(n, T)`` or vectors ``(n, T, d)``."""
    if family == "categorical":
        return CategoricalSampler(params["emissionprob"]).draw(states, rng)
    means, covars = params["means"], params["covars"]
    if family == "gmm":
        comp = CategoricalSampler(params["weights"]).draw(states, rng)
        n_mix = means.shape[1]
        means, covars = means.reshape(-1, means.shape[-1]), covars.reshape(-1, *covars.shape[-2:])
        states = states * n_mix + comp
    chol = np.linalg.cholesky(covars)
    z = rng.standard_normal(states.shape + (means.shape[1],))
    return means[states] + np.einsum("ntij,ntj->nti", chol[states], z)


# ----------------------------------------------------------------------------- hmmlearn
def n_emission_params(family, n_states, n_features, covariance_type="diag", n_mix=1):
    """Free emission parameters, counted as hmmlearn's ``_get_n_fit_scalars_per_param`` counts them.

    ``n_features`` is the number of symbols (categorical) or the dimension
    ``d``. For the mixture, hmmlearn counts ``n_mix - 1`` mixture weights
    in total (not per state); that count is kept so that ``bic``/``aic``
    equal hmmlearn's.
    """
    K, d, M = n_states, n_features, n_mix
    if family == "categorical":
        return K * (d - 1)
    tri = d * (d + 1) // 2
    if family == "gaussian":
        return K * d + {"spherical": K, "diag": K * d, "full": K * tri, "tied": tri}[covariance_type]
    covs = {"spherical": K * M, "diag": K * M * d, "full": K * M * tri, "tied": K * tri}[covariance_type]
    return K * M * d + covs + (M - 1)


def make_hmmlearn(family, n_states, covariance_type, n_mix, n_iter, tol, seed):
    """An unfitted hmmlearn model for a continuous family (log-space forward-backward: no underflow)."""
    from hmmlearn.hmm import GaussianHMM, GMMHMM

    common = dict(n_components=n_states, covariance_type=covariance_type, n_iter=n_iter, tol=tol,
                  random_state=seed, implementation="log")
    if family == "gaussian":
        return GaussianHMM(**common)
    return GMMHMM(n_mix=n_mix, **common)


def _full_covars(raw, covariance_type, lead, dim):
    """Covariances of any hmmlearn layout in full form ``lead + (d, d)``.

    hmmlearn stores ``(K, d, d)`` / ``(K, M, d, d)`` (full), ``(K, d)`` /
    ``(K, M, d)`` (diag), ``(d, d)`` / ``(K, d, d)`` (tied, Gaussian /
    mixture) and ``(K, d)`` (the variance repeated) / ``(K, M)`` (spherical).
    """
    raw = np.asarray(raw, dtype=np.float64)
    if covariance_type == "full":
        return raw.reshape(lead + (dim, dim)).copy()
    if covariance_type == "tied":
        shared = raw if raw.ndim == 2 else raw[:, None]
        return np.broadcast_to(shared, lead + (dim, dim)).copy()
    if covariance_type == "spherical" and raw.shape != lead + (dim,):
        raw = raw[..., None]
    return np.broadcast_to(raw, lead + (dim,))[..., None] * np.eye(dim)


def from_hmmlearn(family, model):
    """The emission parameters of a fitted hmmlearn model, covariances in full form.

    The Gaussian's stored ``_covars_`` is read (its ``covars_`` property
    expands a spherical model's ``(K, d)`` store into ``K d`` matrices).
    """
    means = model.means_.copy()
    if family == "gaussian":
        raw = getattr(model, "_covars_", model.covars_)
        return {"means": means, "covars": _full_covars(raw, model.covariance_type, means.shape[:1], means.shape[1])}
    return {"means": means, "weights": model.weights_.copy(),
            "covars": _full_covars(model.covars_, model.covariance_type, means.shape[:2], means.shape[2])}
