"""Batched HMM inference on padded, time-major arrays: forward, backward (EM statistics), Viterbi, sampling.

Pure functions, independent of the emission family. A bucket of ``B``
sequences padded to ``T`` steps is processed one time step at a time, and
every step is one array operation for the whole bucket, in float64. State
quantities of one step have shape ``(K, B)`` (states first, sequences
along the contiguous axis), so that sums and maxima over states reduce a
non-last axis -- elementwise over contiguous rows, which numpy vectorises.

Emissions come from a *source* (see :mod:`._hmm_emissions`) with

- ``probs(t, out)``: ``(K, B)`` emission probabilities at step ``t``,
  divided by ``exp(shift[t])`` so that densities of any magnitude stay in
  range, and 1 at padded steps (which leaves the forward pass unchanged);
- ``log_probs(t, out)``: ``(K, B)`` log emission probabilities, 0 at padded steps;
- ``shift``: ``(T, B)`` array, or None for no shift;
- optionally ``rescale(t, cols, pred)``: choose a new shift for the given
  columns of step ``t`` from the predicted state distribution (when every
  reachable state's scaled density underflowed to 0) and return the new
  ``(K, len(cols))`` scaled probabilities.

An observation with probability zero in every reachable state (possible
only with structural zeros, e.g. a model built from given parameters) is
reported in ``impossible`` as ``(row, step)``; the forward pass then treats
it as missing (emission probability 1), so that later steps stay defined
and no NaN appears.
"""
from __future__ import annotations

import numpy as np

__all__ = ["length_buckets", "Layout", "forward", "backward", "viterbi", "CategoricalSampler", "sample_states"]

MAX_CELLS = 2**22  # values of (step, state, sequence) in one padded bucket: 32 MiB per float64 array
_TORCH_MIN_SIZE = 2**13  # Viterbi: (K, B) arrays at least this large add rows with torch


def length_buckets(lengths, n_states, max_cells=MAX_CELLS):
    """Group sequences of similar length for padded batches.

    Sequences are sorted by length; a bucket grows while the longest member
    is at most ``first + max(4, first // 4)`` steps (bounded padding) and the
    padded batch holds at most ``max_cells`` values of ``n_states`` each
    (a single sequence may exceed it).

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
    sorted_lengths = np.asarray(lengths)[order]
    buckets, start, n = [], 0, len(order)
    while start < n:
        first = int(sorted_lengths[start])
        end = int(np.searchsorted(sorted_lengths, first + max(4, first // 4), side="right"))
        longest = int(sorted_lengths[end - 1])
        end = min(end, start + max(1, max_cells // (n_states * longest)))
        buckets.append(order[start:end])
        start = end
    return buckets


class Layout:
    """Where the steps of a bucket of sequences lie in time-major padded arrays.

    Parameters
    ----------
    lengths : ndarray of int, shape (B,)

    Attributes
    ----------
    lengths : ndarray of int64, shape (B,)
    n_steps : int
        ``T``, the longest length.
    valid : ndarray of bool, shape (T, B)
        True at real (not padded) steps.
    steps, rows : ndarray of int64, shape (sum lengths,)
        Time step and batch row of every real step, sequence by sequence
        (the order of the concatenated sequences).
    """

    def __init__(self, lengths):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.n_steps = int(self.lengths.max())
        starts = np.cumsum(self.lengths) - self.lengths
        self.steps = np.arange(int(self.lengths.sum()), dtype=np.int64) - np.repeat(starts, self.lengths)
        self.rows = np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)
        self.valid = np.zeros((self.n_steps, len(self.lengths)), dtype=bool)
        self.valid[self.steps, self.rows] = True

    def pad(self, concat, fill):
        """Time-major padded array ``(T, B, ...)`` from the concatenated sequences ``(sum lengths, ...)``."""
        out = np.full((self.n_steps, len(self.lengths)) + concat.shape[1:], fill, dtype=concat.dtype)
        out[self.steps, self.rows] = concat
        return out

    def unpad(self, values):
        """Per-sequence arrays ``values[:length_b, b]`` from a time-major ``(T, B, ...)`` array (views of one copy)."""
        flat = values[self.steps, self.rows]
        ends = np.cumsum(self.lengths).tolist()
        return [flat[a:b] for a, b in zip([0] + ends[:-1], ends)]


def forward(startprob, transmat, source, store=False):
    """Scaled forward algorithm.

    Parameters
    ----------
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    source : emission source
        See the module docstring.
    store : bool
        Keep the filtered distributions (for :func:`backward`).

    Returns
    -------
    scale : ndarray of shape (T, B)
        ``c_t = p(x_t | x_<t) / exp(shift_t)``; 1 at padded and impossible steps.
    alpha : ndarray of shape (T, K, B) or None
        Filtered distributions ``p(state_t | x_<=t)`` (with ``store``).
    impossible : list of (row, step)
    """
    n_steps, n_batch, n_states = source.n_steps, source.n_batch, len(startprob)
    trans_t = transmat.T
    scale = np.empty((n_steps, n_batch))
    alpha_all = np.empty((n_steps, n_states, n_batch)) if store else None
    work = [np.empty((n_states, n_batch)), np.empty((n_states, n_batch))]
    pred, buf = np.empty((n_states, n_batch)), np.empty((n_states, n_batch))
    impossible, prev = [], None
    for t in range(n_steps):
        alpha = alpha_all[t] if store else work[t & 1]
        if t:
            np.matmul(trans_t, prev, out=pred)  # (K, B)
        else:
            pred[:] = startprob[:, None]
        np.multiply(pred, source.probs(t, buf), out=alpha)
        c = alpha.sum(axis=0)
        if not (c > 0).all() and hasattr(source, "rescale"):  # underflow of scaled densities: shift again
            cols = np.flatnonzero(~(c > 0))
            alpha[:, cols] = pred[:, cols] * source.rescale(t, cols, pred[:, cols])
            c[cols] = alpha[:, cols].sum(axis=0)
        if not (c > 0).all():
            cols = np.flatnonzero(~(c > 0))
            impossible.extend((int(b), t) for b in cols)
            alpha[:, cols] = pred[:, cols]
            c[cols] = 1.0
        alpha *= 1.0 / c
        scale[t] = c
        prev = alpha
    return scale, alpha_all, impossible


def backward(transmat, source, scale, alpha, valid, impossible=(), counts=False):
    """Scaled backward pass: posterior marginals and, optionally, expected transition counts.

    Parameters
    ----------
    transmat : ndarray of shape (K, K)
    source, scale, alpha, impossible :
        As used and returned by :func:`forward` with ``store=True``.
    valid : ndarray of bool, shape (T, B)
        True at real steps (see :class:`Layout`).
    counts : bool
        Also return the expected transition counts.

    Returns
    -------
    gamma : ndarray of shape (T, B, K)
        ``p(state_t | x)``; 0 at padded steps.
    xi : ndarray of shape (K, K) or None
        ``sum_t p(state_{t-1} = i, state_t = j | x)`` over all steps and sequences.
    """
    n_steps, n_states, n_batch = alpha.shape
    weight = valid / scale  # 1 / c_t at real steps, 0 at padded ones: a padded step passes nothing back
    last = np.zeros((n_steps, n_batch))  # each sequence's last real step starts its own beta = 1
    last[:-1] = valid[:-1] & ~valid[1:]
    last[-1] = valid[-1]
    missing = {}
    for b, t in impossible:
        missing.setdefault(t, []).append(b)
    gamma = np.empty((n_steps, n_batch, n_states))
    xi = np.zeros((n_states, n_states)) if counts else None
    step_xi, r, buf = np.empty((n_states, n_states)), np.empty((n_states, n_batch)), np.empty((n_states, n_batch))
    beta = np.repeat(last[-1][None], n_states, axis=0)  # (K, B)
    for t in range(n_steps - 1, -1, -1):
        np.multiply(alpha[t], beta, out=gamma[t].T)
        if not t:
            break
        np.multiply(source.probs(t, buf), beta, out=r)
        if t in missing:
            r[:, missing[t]] = beta[:, missing[t]]
        r *= weight[t]  # emit_t beta_t / c_t
        if counts:
            np.matmul(alpha[t - 1], r.T, out=step_xi)
            xi += step_xi
        np.matmul(transmat, r, out=beta)
        beta += last[t - 1]
    if counts:
        xi *= transmat
    return gamma, xi


def _column_adder(out, work, columns):
    """``f(w, j)``: ``out = work[w] + columns[j]`` with ``columns[j]`` of shape (K, 1) broadcast along rows.

    torch's CPU kernel vectorises this row broadcast about twice as fast as
    numpy's on large arrays (the sums are the same IEEE additions); numpy
    for small ones, where the per-call overhead dominates, and when torch is absent.
    """
    torch = None
    if out.size >= _TORCH_MIN_SIZE:
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
    if torch is None:
        return lambda w, j: np.add(work[w], columns[j], out=out)
    t_out, t_work, t_cols = torch.from_numpy(out), torch.from_numpy(work), torch.from_numpy(columns)
    return lambda w, j: torch.add(t_work[w], t_cols[j], out=t_out)


def viterbi(log_startprob, log_transmat, source, lengths):
    """Most likely state path per sequence (log-space Viterbi).

    The forward sweep keeps only the best scores ``delta_t`` (for each
    state, the maximum over the previous state of a ``(K, B)`` array,
    reduced along its first axis); the back-pointer of the chosen state is
    recomputed during the traceback from the stored ``delta_{t-1}`` (the
    same sums, hence the same first maximising state), at ``O(K B)`` per step.

    Parameters
    ----------
    log_startprob : ndarray of shape (K,)
    log_transmat : ndarray of shape (K, K)
    source : emission source
    lengths : ndarray of int, shape (B,)

    Returns
    -------
    path : ndarray of int64, shape (T, B)
        States; entries beyond a sequence's length are meaningless.
    log_prob : ndarray of shape (B,)
        log p(best path, x); -inf for an impossible sequence.
    impossible : list of (row, step)
        The first step of each sequence at which every path has probability 0.
    """
    n_steps, n_batch, n_states = source.n_steps, source.n_batch, len(log_startprob)
    ends = np.asarray(lengths) - 1
    log_into = np.ascontiguousarray(log_transmat.T)[:, :, None]  # (K_to, K_from, 1): column j of A as a column
    delta = np.empty((n_steps, n_states, n_batch))
    # the sweep works in small contiguous buffers (cache-resident) and copies each step out
    tmp, buf, work = np.empty((n_states, n_batch)), np.empty((n_states, n_batch)), np.empty((2, n_states, n_batch))
    prev = work[0]
    np.add(log_startprob[:, None], source.log_probs(0, buf), out=prev)
    delta[0] = prev
    add_column = _column_adder(tmp, work, log_into)
    for t in range(1, n_steps):
        cur = work[t & 1]
        for j in range(n_states):
            add_column(t & 1 ^ 1, j)  # tmp = delta_{t-1}(i) + log A[i, j], (K_from, B)
            np.maximum.reduce(tmp, axis=0, out=cur[j])  # over a non-last axis: elementwise over rows
        cur += source.log_probs(t, buf)
        delta[t] = cur
        prev = cur
    rows = np.arange(n_batch)
    log_prob = delta[ends, :, rows].max(axis=1)
    impossible = []
    for b in np.flatnonzero(np.isneginf(log_prob)):  # once every path is dead it stays dead: find where
        impossible.append((int(b), int(np.isneginf(delta[:, :, b]).all(axis=1).argmax())))
    path = np.empty((n_steps, n_batch), dtype=np.int64)
    cur = np.zeros(n_batch, dtype=np.int64)
    for t in range(n_steps - 1, -1, -1):
        done = ends == t
        if done.any():
            cur[done] = delta[t][:, done].argmax(axis=0)
        path[t] = cur
        if t:
            scores = np.take(log_into[:, :, 0], cur, axis=0)  # (B, K_from): log A[., cur_b]
            scores += delta[t - 1].T
            cur = scores.argmax(axis=1)
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


def sample_states(startprob, transmat, n_sequences, length, rng):
    """State paths ``(n_sequences, length)`` of a Markov chain, all sequences at once, one step at a time."""
    states = np.empty((n_sequences, length), dtype=np.int64)
    states[:, 0] = CategoricalSampler(startprob[None]).draw(np.zeros(n_sequences), rng)
    step = CategoricalSampler(transmat)
    for t in range(1, length):
        states[:, t] = step.draw(states[:, t - 1], rng)
    return states
