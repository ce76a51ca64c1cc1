"""Exact context-truncated scores of an HMM: ``log p(x_t | x_{t-k} .. x_{t-1})``.

Position ``t`` (0-based) has ``t`` tokens of history; when ``t > k`` only the
last ``k`` are kept. What the model knows of the state before the window
is then its marginal at step ``t - k``,

    ``pi_{t-k} = startprob A^(t-k)``,

so the truncated score is a forward pass over the ``k + 1`` steps
``x_{t-k} .. x_t`` that starts from ``pi_{t-k}``: its last scale is
``p(x_{t-k..t}) / p(x_{t-k..t-1}) = p(x_t | x_{t-k..t-1})`` exactly, the
probability the true model gives when it sees the window and nothing else.
Positions with ``t <= k`` keep their full score (their history is already
within reach).

Cost: every rescored position runs its own forward pass, so ``N``
positions cost ``O(N (k + 1) K^2)`` time. All positions of a chunk run
together, one ``(K, n)`` array operation per window step, with chunks
bounded to about ``MAX_CELLS`` values: ``(k + 1, n)`` window ids
(categorical) or ``(k + 1, K, n)`` window log densities (continuous).
``k`` beyond the longest sequence costs nothing (no position is rescored).
"""
from __future__ import annotations

import numpy as np

from ._hmm_emissions import DenseSource, TableSource, categorical_tables, log_density
from ._hmm_inference import MAX_CELLS, forward

__all__ = ["state_marginals", "truncate_context"]


def state_marginals(startprob, transmat, n_steps):
    """The model's state distribution at each step, ``pi_s = startprob A^s``.

    Parameters
    ----------
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    n_steps : int

    Returns
    -------
    ndarray of shape (n_steps, K)
    """
    out = np.empty((n_steps, len(startprob)))
    pi = np.asarray(startprob, dtype=np.float64)
    for s in range(n_steps):
        out[s] = pi
        pi = pi @ transmat
    return out


class _PriorTableSource(TableSource):
    """Window ids ``(k + 1, n)``; the first step's emissions are weighted by each window's prior ``(K, n)``."""

    def __init__(self, prob_table, log_table, tokens, prior):
        super().__init__(prob_table, log_table, tokens)
        self.prior = prior

    def probs(self, t, out):
        out = super().probs(t, out)
        if t == 0:
            out *= self.prior
        return out


def _positions(lengths, k):
    """Global indices, sequence numbers and steps of every position with more than ``k`` tokens of history."""
    offsets = np.cumsum(lengths) - lengths
    seq = np.repeat(np.arange(len(lengths)), lengths)
    steps = np.arange(int(lengths.sum())) - offsets[seq]
    where = np.flatnonzero(steps > k)
    return where, seq[where], steps[where]


def truncate_context(family, params, startprob, transmat, X, scores, k):
    """Replace ``scores[i][t]`` for ``t > k`` by ``log p(x_t | x_{t-k..t-1})`` (in place).

    Parameters
    ----------
    family : {"categorical", "gaussian", "gmm"}
    params : dict
        Emission parameters as for :func:`._hmm_emissions.bucket_sources`
        (categorical ids ``>= V`` already mapped to ``V``, the ``unseen`` column).
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    X : list of ndarray of shape (n_steps_i,) or (n_steps_i, d)
    scores : list of ndarray of shape (n_steps_i,)
        Full-context scores; overwritten at ``t > k``.
    k : int
        Tokens of context, ``>= 0``.

    Returns
    -------
    list of (int, int)
        ``(sequence, step)`` of rescored positions whose token has probability
        zero given its window (their score is ``-inf``). A window step of
        probability zero before the last is treated as missing, as the full
        forward pass does.
    """
    lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
    where, seq, steps = _positions(lengths, k)
    if not where.size:
        return []
    K = len(startprob)
    priors = state_marginals(startprob, transmat, int(steps.max()) - k + 1)  # (S, K)
    flat = np.concatenate(X)
    if family == "categorical":
        table, log_table = categorical_tables(params["emissionprob"], params.get("unseen"))
    else:
        log_emit_all = log_density(family, params, flat)  # (N, K)
    chunk = max(1, MAX_CELLS // ((k + 1) * K))
    window = np.arange(-k, 1)  # offsets of x_{t-k} .. x_t
    ones = np.ones(K)
    new, impossible = np.empty(where.size), []
    for lo in range(0, where.size, chunk):
        g = slice(lo, lo + chunk)
        idx = where[g][None, :] + window[:, None]  # (k + 1, n) global token indices
        prior = priors[steps[g] - k].T  # (K, n)
        if family == "categorical":
            source = _PriorTableSource(table, log_table, flat[idx], prior)
        else:
            log_emit = log_emit_all[idx].transpose(0, 2, 1).copy()  # (k + 1, K, n)
            with np.errstate(divide="ignore"):
                log_emit[0] += np.log(prior)
            source = DenseSource(log_emit)
        scale, _, bad = forward(ones, transmat, source)  # the prior sits in the first step's emissions
        values = np.log(scale[-1]) if source.shift is None else np.log(scale[-1]) + source.shift[-1]
        for b, step in bad:
            if step == k:
                values[b] = -np.inf
                impossible.append((int(seq[lo + b]), int(steps[lo + b])))
        new[g] = values
    flat_scores = np.concatenate(scores)
    flat_scores[where] = new
    scores[:] = np.split(flat_scores, np.cumsum(lengths)[:-1])
    return impossible
