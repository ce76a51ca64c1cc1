"""Batched HMM inference on padded arrays: forward, backward, Viterbi, ancestral sampling.

Pure functions, independent of the emission family: they take per-position
log emission probabilities ``log_emit`` of shape ``(B, T, K)`` for a batch of
``B`` sequences padded to ``T`` steps (padded steps hold 0, i.e. emission
probability 1 in every state, which leaves the forward pass, the backward
pass and the scores of real steps unchanged). Each function loops over time
steps only; every step is one array operation for the whole batch, in float64.

An observation that has probability zero in every reachable state (possible
only with structural zeros, e.g. an oracle built from given parameters) is
reported in ``impossible`` as ``(row, step)`` and then treated as missing
(emission probability 1), so that later steps stay defined and no NaN appears.
"""
from __future__ import annotations

import numpy as np

__all__ = ["length_buckets", "forward", "posteriors", "viterbi", "CategoricalSampler"]


def length_buckets(lengths, n_states, max_cells=2**22):
    """Group sequences of similar length for padded batches.

    Sequences are sorted by length; a bucket grows while the longest member
    is at most ``first + max(4, first // 4)`` steps (bounded padding) and the
    padded batch holds at most ``max_cells`` values of ``n_states`` each.

    Parameters
    ----------
    lengths : ndarray of int, shape (n_sequences,)
    n_states : int
    max_cells : int

    Returns
    -------
    list of ndarray of int
        Indices into the input, one array per bucket.
    """
    order = np.argsort(lengths, kind="stable")
    buckets, start, n = [], 0, len(order)
    while start < n:
        first = int(lengths[order[start]])
        limit = first + max(4, first // 4)
        end = start + 1
        while end < n:
            longest = int(lengths[order[end]])
            if longest > limit or (end - start + 1) * longest * n_states > max_cells:
                break
            end += 1
        buckets.append(order[start:end])
        start = end
    return buckets


def _shifted_emissions(log_emit):
    """exp(log_emit - max over states), and that max (0 where every state has probability 0)."""
    shift = log_emit.max(axis=2)  # (B, T)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    with np.errstate(under="ignore"):
        emit = np.exp(log_emit - shift[:, :, None])  # (B, T, K)
    return emit, shift


def forward(startprob, transmat, log_emit, store=False):
    """Scaled forward algorithm.

    Parameters
    ----------
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    log_emit : ndarray of shape (B, T, K)
        log p(x_t | state); 0 at padded steps.
    store : bool
        Keep the filtered distributions and the scaled emissions (for the backward pass).

    Returns
    -------
    log_cond : ndarray of shape (B, T)
        log p(x_t | x_<t): log of the scaling factor plus the emission shift;
        -inf at impossible steps, 0 at padded steps.
    state : dict
        ``"impossible"`` (list of (row, step)); with ``store`` also
        ``"alpha"`` (B, T, K) filtered distributions, ``"emit"`` (B, T, K)
        and ``"scale"`` (B, T) for :func:`posteriors`.
    """
    emit, shift = _shifted_emissions(log_emit)
    n_batch, n_steps, n_states = emit.shape
    scale = np.empty((n_batch, n_steps))
    alpha_all = np.empty((n_batch, n_steps, n_states)) if store else None
    impossible = []
    pred = np.broadcast_to(startprob, (n_batch, n_states))
    for t in range(n_steps):
        if t:
            pred = alpha @ transmat  # (B, K)
        alpha = pred * emit[:, t]
        c = alpha.sum(axis=1)
        bad = ~(c > 0)
        if bad.any():
            rows = np.flatnonzero(bad)
            impossible.extend((int(b), t) for b in rows)
            alpha[rows] = pred[rows]
            emit[rows, t] = 1.0
            c[rows] = 1.0
        alpha /= c[:, None]
        scale[:, t] = c
        if store:
            alpha_all[:, t] = alpha
    log_cond = np.log(scale) + shift
    for b, t in impossible:
        log_cond[b, t] = -np.inf
    state = {"impossible": impossible}
    if store:
        state.update(alpha=alpha_all, emit=emit, scale=scale)
    return log_cond, state


def posteriors(transmat, state):
    """Posterior state marginals from a stored forward pass (scaled backward pass).

    Parameters
    ----------
    transmat : ndarray of shape (K, K)
    state : dict
        The second output of :func:`forward` with ``store=True``.

    Returns
    -------
    gamma : ndarray of shape (B, T, K)
        p(state_t | x_1..T); rows sum to 1 (padded steps are meaningless).
    """
    alpha, emit, scale = state["alpha"], state["emit"], state["scale"]
    n_steps = alpha.shape[1]
    gamma = np.empty_like(alpha)
    beta = np.ones(alpha[:, 0].shape)  # (B, K)
    gamma[:, -1] = alpha[:, -1]
    for t in range(n_steps - 2, -1, -1):
        beta = (emit[:, t + 1] * beta) @ transmat.T / scale[:, t + 1, None]
        gamma[:, t] = alpha[:, t] * beta
    gamma /= gamma.sum(axis=2, keepdims=True)
    return gamma


def viterbi(log_startprob, log_transmat, log_emit, lengths):
    """Most likely state path per sequence (log-space Viterbi).

    Parameters
    ----------
    log_startprob : ndarray of shape (K,)
    log_transmat : ndarray of shape (K, K)
    log_emit : ndarray of shape (B, T, K)
    lengths : ndarray of int, shape (B,)
        True lengths; each path is traced back from its own last step.

    Returns
    -------
    path : ndarray of int64, shape (B, T)
        States; entries beyond a sequence's length are 0.
    log_prob : ndarray of shape (B,)
        log p(best path, x) (impossible steps counted as missing).
    impossible : list of (row, step)
    """
    n_batch, n_steps, n_states = log_emit.shape
    rows = np.arange(n_batch)
    ends = np.asarray(lengths) - 1
    psi = np.zeros((n_batch, n_steps, n_states), dtype=np.int32 if n_states > 32767 else np.int16)
    final = np.zeros(n_batch, dtype=np.int64)
    log_prob = np.zeros(n_batch)
    impossible = []
    best = np.broadcast_to(log_startprob, (n_batch, n_states))
    log_trans_t = np.ascontiguousarray(log_transmat.T)[None]  # (1, K_to, K_from)
    for t in range(n_steps):
        if t:
            cand = delta[:, None, :] + log_trans_t  # (B, K_to, K_from): reduce the contiguous axis
            arg = cand.argmax(axis=2)
            psi[:, t] = arg
            best = np.take_along_axis(cand, arg[:, :, None], axis=2)[:, :, 0]
        delta = best + log_emit[:, t]
        bad = np.isneginf(delta).all(axis=1)
        if bad.any():
            impossible.extend((int(b), t) for b in np.flatnonzero(bad))
            delta = np.where(bad[:, None], best, delta)
        done = ends == t
        if done.any():
            final[done] = delta[done].argmax(axis=1)
            log_prob[done] = delta[done].max(axis=1)
    path = np.zeros((n_batch, n_steps), dtype=np.int64)
    cur = final.copy()
    for t in range(n_steps - 1, -1, -1):
        active = t <= ends
        path[active, t] = cur[active]
        if t:
            cur = np.where(active, psi[rows, t, cur], cur)
    return path, log_prob, impossible


class CategoricalSampler:
    """Vectorised draws from the rows of a row-stochastic matrix.

    All rows' cumulative sums are laid end to end with row ``r`` offset by
    ``r``, so a draw from row ``r`` with uniform ``u`` is one
    ``searchsorted`` of ``r + u``: a whole batch of draws, each from its own
    row, in one call. Zero-probability columns are never drawn.

    Parameters
    ----------
    probs : ndarray of shape (n_rows, n_cols)
    """

    def __init__(self, probs):
        probs = np.asarray(probs, dtype=np.float64)
        n_rows, self.n_cols = probs.shape
        cum = np.minimum(np.cumsum(probs, axis=1), 1.0)
        cum[:, -1] = 1.0
        self._table = (cum + np.arange(n_rows)[:, None]).ravel()

    def draw(self, rows, rng):
        """One column per entry of ``rows`` (ndarray of int, any shape); returns int64 of that shape."""
        rows = np.asarray(rows, dtype=np.int64)
        target = rows + rng.random(rows.shape)
        target = np.minimum(target, np.nextafter(rows + 1.0, rows))  # r + u may round up to r + 1
        idx = np.searchsorted(self._table, target, side="right") - rows * self.n_cols
        return np.minimum(idx, self.n_cols - 1)
