"""Smoothing of n-gram counts: Kneser-Ney (modified and fixed-discount), Witten-Bell, add-k.

Each function turns the trie counts of :mod:`._ngram_counts` into per-order
interpolation weights or the fitted backoff-form tables; the formulas are
written out in the docstring of :mod:`seqbench.models.ngram`.
"""
from __future__ import annotations

import numpy as np

from ._ngram_counts import NGramTables

FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM's --discount_fallback


# ----------------------------------------------------------------------------- Kneser-Ney discounts
def kn_adjusted_counts(counts, level):
    """Chen & Goodman's adjusted counts: what Kneser-Ney discounts at one order.

    Parameters
    ----------
    counts : NGramCounts
    level : int
        1 .. order.

    Returns
    -------
    ndarray of int64, aligned with ``counts.counts[level]``
        Raw counts at the highest order; below it the continuation count
        ``N1+(. g)``, or the raw count for an n-gram that starts at ``<s>``
        (it has no left neighbour).
    """
    raw = counts.counts[level]
    if level == counts.order:
        return raw
    continuation = np.bincount(counts.suffix[level + 1], minlength=len(raw))
    return np.where(continuation > 0, continuation, raw)


def counts_of_counts(adjusted, max_count=4):
    """``n_c``: how many n-grams have adjusted count ``c``, for ``c = 1 .. max_count``.

    Returns
    -------
    ndarray of int64, shape (max_count,)
    """
    a = adjusted[adjusted > 0]
    return np.bincount(np.minimum(a, max_count + 1), minlength=max_count + 2)[1: max_count + 1]


def modified_kn_discounts(n):
    """Chen & Goodman's discounts ``(D1, D2, D3+)`` from the counts-of-counts ``n1 .. n4``.

    Parameters
    ----------
    n : array-like of int, shape (4,)

    Returns
    -------
    discounts : ndarray of float64, shape (3,)
    fallback : bool
        True when the closed form was degenerate (``n1``, ``n2`` or ``n3`` is
        0, or a discount ``D_c`` outside ``(0, c]``) and
        :data:`FALLBACK_DISCOUNTS` were used.
    """
    n1, n2, n3, n4 = (float(v) for v in n)
    if n1 > 0 and n2 > 0 and n3 > 0:
        y = n1 / (n1 + 2.0 * n2)
        d = np.array([1.0 - 2.0 * y * n2 / n1, 2.0 - 3.0 * y * n3 / n2, 3.0 - 4.0 * y * n4 / n3])
        if np.all(d > 0) and np.all(d <= np.array([1.0, 2.0, 3.0])):
            return d, False
    return np.array(FALLBACK_DISCOUNTS), True


# ----------------------------------------------------------------------------- interpolation weights
def kneser_ney_weights(counts, level, adjusted, discounts):
    """Interpolated Kneser-Ney at one order: ``p_k(w|h) = alpha(h w) + gamma(h) p_{k-1}(w|h')``.

    Parameters
    ----------
    counts : NGramCounts
    level : int
    adjusted : ndarray, aligned with ``counts.counts[level]``
        From :func:`kn_adjusted_counts`.
    discounts : ndarray of float64, shape (3,)
        ``D1, D2, D3+``.

    Returns
    -------
    alpha : ndarray of float64, aligned with ``counts.counts[level]``
    gamma : ndarray of float64, shape (n_nodes(level - 1),)
        1 for a context never seen.
    """
    a = adjusted.astype(np.float64)
    ctx = counts.context_of(level)
    d = np.where(a > 0, np.asarray(discounts)[np.clip(adjusted, 1, 3) - 1], 0.0)
    n_ctx = counts.n_nodes(level - 1)
    total = np.bincount(ctx, weights=a, minlength=n_ctx)
    mass = np.bincount(ctx, weights=d, minlength=n_ctx)
    alpha = np.divide(a - d, total[ctx], out=np.zeros_like(a), where=a > 0)
    gamma = np.divide(mass, total, out=np.ones(n_ctx), where=total > 0)
    return alpha, gamma


def witten_bell_weights(counts, level):
    """Interpolated Witten-Bell at one order; same layout as :func:`kneser_ney_weights`."""
    c = counts.counts[level].astype(np.float64)
    ctx = counts.context_of(level)
    n_ctx = counts.n_nodes(level - 1)
    types = np.bincount(ctx, weights=c > 0, minlength=n_ctx)
    denom = np.bincount(ctx, weights=c, minlength=n_ctx) + types
    alpha = np.divide(c, denom[ctx], out=np.zeros_like(c), where=c > 0)
    gamma = np.divide(types, denom, out=np.ones(n_ctx), where=denom > 0)
    return alpha, gamma


# ----------------------------------------------------------------------------- backoff-form tables
def interpolated_tables(counts, weights):
    """Backoff form of an interpolated model.

    Parameters
    ----------
    counts : NGramCounts
    weights : list
        ``weights[k] = (alpha_k, gamma_k)`` for ``k = 1 .. order``.

    Returns
    -------
    NGramTables
        ``p_k(h w) = alpha_k(h w) + gamma_k(h) p_{k-1}(h' w)`` for every seen
        n-gram, ``p_0 = 1 / V``; log backoff weight ``log gamma_k(h)``.
    """
    V = counts.vocab_size
    alpha, gamma = weights[1]
    probs = [None, alpha + gamma[0] / V]
    probs[1][V] = 0.0  # the begin symbol is never predicted
    logctx = [np.log(gamma)]
    for k in range(2, counts.order + 1):
        alpha, gamma = weights[k]
        probs.append(alpha + gamma[counts.context_of(k)] * probs[k - 1][counts.suffix[k]])
        logctx.append(np.log(gamma))
    with np.errstate(divide="ignore"):
        logprob = [None] + [np.log(p) for p in probs[1:]]
    return NGramTables("backoff", counts.order, V, counts.keys, logprob, logctx)


def add_k_tables(counts, k):
    """Tables of additive smoothing ``(c(h w) + k) / (c(h .) + k V)`` at every order."""
    V = counts.vocab_size
    logprob, logctx = [None], []
    for level in range(1, counts.order + 1):
        c = counts.counts[level].astype(np.float64)
        ctx = counts.context_of(level)
        total = np.bincount(ctx, weights=c, minlength=counts.n_nodes(level - 1))
        log_denom = np.log(total + k * V)
        logprob.append(np.log(c + k) - log_denom[ctx])
        logctx.append(np.where(total > 0, np.log(k) - log_denom, np.nan))
    logprob[1][V] = -np.inf
    return NGramTables("floor", counts.order, V, counts.keys, logprob, logctx)


def kneser_ney_levels(counts, fixed):
    """Weights of every order, with the discounts and counts-of-counts used."""
    order = counts.order
    discounts, fallback = np.empty((order, 3)), np.zeros(order, dtype=bool)
    coc = np.zeros((order, 4), dtype=np.int64)
    weights = [None]
    for level in range(1, order + 1):
        adjusted = kn_adjusted_counts(counts, level)
        coc[level - 1] = counts_of_counts(adjusted)
        if fixed is None:
            discounts[level - 1], fallback[level - 1] = modified_kn_discounts(coc[level - 1])
        else:
            discounts[level - 1] = fixed[level - 1]
        weights.append(kneser_ney_weights(counts, level, adjusted, discounts[level - 1]))
    return weights, discounts, fallback, coc
