"""Candidate-restricted tag lattices, batched over sentences (shared by the tagging cores).

Each token ``k`` of a flat token array carries its candidate tags as the
slice ``cand[ptr[k] : ptr[k] + size[k]]`` of one array ``cand``, whose entry
0 is the boundary symbol (the tag "before the sentence start"). A lattice
state at position ``i`` is the tuple of the last ``depth`` tags, numbered in
mixed radix over the candidate counts (newest tag fastest); the positions
before the start are boundary columns with the single candidate ``cand[0]``.

Sentences of a chunk run side by side, longest first, one array operation
per position for the whole chunk: at step ``i`` the first ``active[i]``
sentences are still running (:class:`ChunkLayout`), and :class:`Step` lists
the lattice edges of that step.

:func:`viterbi_chunk` and :func:`forward_backward_chunk` run max-product and
sum-product over such a lattice for a model that supplies the weight of
every edge (transition times emission) and of ending in every state; the
forward messages are rescaled to sum 1 per sentence at each step, so long
sentences cannot underflow.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import ImpossibleSequenceWarning
from ._suffix import _ragged_arange

__all__ = ["segment_argmax", "chunk_sentences", "ChunkLayout", "Step", "backtrack",
           "viterbi_chunk", "forward_backward_chunk"]


def segment_argmax(values, sizes):
    """Per contiguous segment: the first local index reaching the maximum, and the maximum.

    Parameters
    ----------
    values : ndarray of shape (sizes.sum(),)
    sizes : ndarray of int, shape (n_segments,)
        All positive.

    Returns
    -------
    arg : ndarray of int64, shape (n_segments,)
    best : ndarray of shape (n_segments,)
    """
    starts = np.cumsum(sizes) - sizes
    best = np.maximum.reduceat(values, starts)
    local = np.where(values == np.repeat(best, sizes), _ragged_arange(sizes), np.iinfo(np.int64).max)
    return np.minimum.reduceat(local, starts), best


def chunk_sentences(size, lengths, window, budget, total=False):
    """Sentences by decreasing length, grouped so a chunk's lattice stays within ``budget`` edges.

    The edges entering position ``i`` number ``prod(size)`` over the window
    of the last ``window`` tokens (``depth + 1``). ``total=False`` bounds the
    edges of one step (the most of any step, summed over the chunk's
    sentences); ``total=True`` bounds all edges of the chunk (what a
    forward-backward pass keeps in memory). A sentence above the budget on
    its own forms a chunk by itself.

    Parameters
    ----------
    size : ndarray of int, shape (n_tokens,)
        Candidate count of each token.
    lengths : ndarray of int, shape (n_sentences,)
        All positive; the tokens of sentence ``s`` follow those of ``s - 1``.
    window : int
    budget : int
    total : bool

    Returns
    -------
    list of ndarray of int64
        Sentence indices of each chunk, longest sentences first.
    """
    order = np.argsort(-lengths, kind="stable")
    logk = np.log(size.astype(np.float64))
    cs = np.concatenate([[0.0], np.cumsum(logk)])
    first = np.cumsum(lengths) - lengths
    starts = np.repeat(first, lengths)
    i = np.arange(len(logk))
    per_step = np.exp(cs[i + 1] - cs[np.maximum(starts, i - window + 1)])
    reduce = np.add if total else np.maximum
    edges = reduce.reduceat(per_step, first)[order]
    chunk = ((np.cumsum(edges) - edges) // budget).astype(np.int64)
    return np.split(order, np.flatnonzero(np.diff(chunk)) + 1)


class ChunkLayout:
    """Padded view of one chunk of sentences (longest first).

    Parameters
    ----------
    sents : ndarray of int, shape (m,)
        Sentence indices, by non-increasing length.
    offsets, lengths : ndarray of int, shape (n_sentences,)
        First token and length of every sentence.
    size, ptr : ndarray of int, shape (n_tokens,)
        Candidate slice of every token.
    depth : int
        Tags per lattice state.

    Attributes
    ----------
    T, m : int
        Steps (the longest length) and sentences.
    index : ndarray of int64, shape (m, T)
        Token index of each (sentence, step); 0 at padded steps.
    size, ptr : ndarray of int64, shape (m, depth + T)
        Candidate slices, boundary columns first (size 1, pointer 0), padding alike.
    active : ndarray of int64, shape (T,)
        Sentences still running at each step (a prefix of the chunk).
    """

    def __init__(self, sents, offsets, lengths, size, ptr, depth):
        lens = lengths[sents]
        self.T, self.m, self.depth = int(lens[0]), len(sents), depth
        steps = np.arange(self.T)
        index = offsets[sents][:, None] + steps
        pad = steps >= lens[:, None]
        index[pad] = 0
        self.index = index
        edge = np.ones((self.m, depth), np.int64)
        self.size = np.hstack([edge, np.where(pad, 1, size[index])])
        self.ptr = np.hstack([edge * 0, np.where(pad, 0, ptr[index])])
        self.active = (lens[:, None] > steps).sum(axis=0)

    def ending(self, i):
        """Sentences ``[ending(i), active[i])`` have their last token at step ``i``."""
        return int(self.active[i + 1]) if i + 1 < self.T else 0

    def step(self, i, cand):
        """The :class:`Step` entering position ``i`` for the running sentences."""
        a, col = int(self.active[i]), i + self.depth
        return Step(self.size[:a], self.ptr[:a], col, self.depth, cand)


class Step:
    """Edges of one decoding step for ``a`` sentences side by side.

    An edge goes from the state ``(o, r)`` at step ``i - 1`` (``o`` the
    oldest tag) to ``(r, c)`` at step ``i``. Edges are grouped by target
    state, ``o`` varying fastest.

    Attributes
    ----------
    sent, src, tgt, pos, tag : ndarray of shape (n_edges,)
        Sentence, flat source-state index, flat target-state index, position
        in ``cand`` of the new tag, and the new tag.
    hist : ndarray of shape (n_edges, depth)
        Previous tags, newest first.
    fan_in : ndarray of shape (n_targets,)
        Edges into each target state (its number of oldest-tag candidates).
    t_sent, t_local, t_off, n_tgt, rest, kc, n_src
        Target-state sentence and local index, per-sentence target offset and
        count, count of middle states, candidates at this step, total sources.
    """

    def __init__(self, size, ptr, col, depth, cand):
        a = len(size)
        ko, self.kc = size[:, col - depth], size[:, col]
        self.rest = size[:, col - depth + 1:col].prod(axis=1)  # states of the middle tags
        n_prev = ko * self.rest
        self.n_src = int(n_prev.sum())
        prev_off = np.cumsum(n_prev) - n_prev
        self.n_tgt = self.rest * self.kc
        self.t_off = np.cumsum(self.n_tgt) - self.n_tgt
        # per target state (newest tag fastest): its tags, newest first
        ts = self.t_sent = np.repeat(np.arange(a), self.n_tgt)
        tl = self.t_local = _ragged_arange(self.n_tgt)
        kc_t = self.kc[ts]
        pos_t, middle = ptr[:, col][ts] + tl % kc_t, tl // kc_t
        self._t_tags = np.empty((len(ts), depth), np.int64)
        self._t_tags[:, 0] = cand[pos_t]
        digits = middle
        for lag in range(1, depth):  # the middle tags are the source's newest ones
            radix = size[:, col - lag][ts]
            self._t_tags[:, lag] = cand[ptr[:, col - lag][ts] + digits % radix]
            digits = digits // radix
        # per edge: the target's values repeated over the oldest tag of the source
        self.fan_in = ko[ts]
        rep = self.fan_in
        self.tgt = np.repeat(np.arange(len(ts)), rep)
        s = self.sent = np.repeat(ts, rep)
        oldest = _ragged_arange(rep)
        self.src = prev_off[s] + oldest * self.rest[s] + np.repeat(middle, rep)
        self.hist = np.empty((len(s), depth), np.int64)
        self.hist[:, :depth - 1] = np.repeat(self._t_tags[:, 1:], rep, axis=0)
        self.hist[:, depth - 1] = cand[ptr[:, col - depth][s] + oldest]
        self.pos = np.repeat(pos_t, rep)
        self.tag = np.repeat(self._t_tags[:, 0], rep)

    def source_local(self, arg):
        """Local index (within its sentence) of the source state ``arg`` (oldest-tag index) per target."""
        return arg * self.rest[self.t_sent] + self.t_local // self.kc[self.t_sent]

    def target_tags(self):
        """Tags of each target state, newest first: ndarray of shape (n_targets, depth)."""
        return self._t_tags


def backtrack(back, final, layout, cand, out):
    """Follow back-pointers from each sentence's best final state, writing tags into ``out``.

    Parameters
    ----------
    back : list of (ndarray, ndarray), one per step
        ``(arg, t_off)``: for each target state the index of its best source
        state among the previous step's states, and the per-sentence target offsets.
    final : ndarray of int64, shape (m,)
        Best last state of each sentence (local index).
    layout : ChunkLayout
    cand : ndarray of int64
    out : ndarray of int64, shape (n_tokens,)
    """
    size, ptr, index, depth, T = layout.size, layout.ptr, layout.index, layout.depth, layout.T
    cur = np.zeros(len(final), np.int64)  # current state index per sentence
    for i in range(T - 1, -1, -1):
        a, ending = int(layout.active[i]), layout.ending(i)
        cur[ending:a] = final[ending:a]
        col = i + depth
        out[index[:a, i]] = cand[ptr[:a, col] + cur[:a] % size[:a, col]]
        arg, t_off = back[i]
        cur[:a] = arg[t_off + cur[:a]]


def _warn_impossible(what):
    warnings.warn(f"a {what} has probability zero under the model (its score is -inf)",
                  ImpossibleSequenceWarning, stacklevel=4)


def viterbi_chunk(lay, cand, log_weight, log_end, out):
    """Most probable tag path of each sentence of a chunk, written into ``out``.

    Parameters
    ----------
    lay : ChunkLayout
    cand : ndarray of int64
    log_weight : callable
        ``log_weight(step)`` -> ndarray of shape (n_edges,): log weight of each edge of a :class:`Step`.
    log_end : callable
        ``log_end(tags)`` -> ndarray of shape (n,): log weight of ending in
        the states with tags ``(n, depth)`` (newest first).
    out : ndarray of int64, shape (n_tokens,)
    """
    delta = np.zeros(lay.m)  # best log score of each state, flat over the running sentences
    back, final = [], np.zeros(lay.m, np.int64)
    for i in range(lay.T):
        e = lay.step(i, cand)
        arg, delta = segment_argmax(delta[e.src] + log_weight(e), e.fan_in)
        back.append((e.source_local(arg), e.t_off))
        ending, a = lay.ending(i), int(lay.active[i])
        if ending < a:  # sentences whose last token is at i: best final state, end weight included
            off = e.t_off[ending]
            final[ending:a], best = segment_argmax(delta[off:] + log_end(e.target_tags()[off:]), e.n_tgt[ending:])
            if not np.isfinite(best).all():
                _warn_impossible("tag sequence")
    backtrack(back, final, lay, cand, out)


def forward_backward_chunk(lay, cand, weight, end, end_start, scores, posterior=None):
    """Scaled forward pass (and backward pass) over one chunk.

    Parameters
    ----------
    lay : ChunkLayout
    cand : ndarray of int64
    weight : callable
        ``weight(step)`` -> ndarray of shape (n_edges,): edge weights (>= 0).
    end : callable
        ``end(tags)`` -> ndarray of shape (n,): weight of ending in each state.
    end_start : float
        Weight of ending in the start state (an empty sentence).
    scores : ndarray of shape (n_tokens,)
        Receives ``log c_i - log g_i`` per token: ``c_i`` the mass entering
        step ``i`` from the normalised previous messages, ``g_i`` the share of
        those messages that does not end there. For a generative model this is
        ``log p(w_i | w_<i, the sentence goes on)``.
    posterior : list or None
        When a list, the backward pass runs too and ``(token, tag, mass)``
        array triples are appended: the posterior mass of each state at a
        token with its newest tag (to be summed per ``(token, tag)``).

    Returns
    -------
    log_likelihood : ndarray of shape (m,)
        ``log`` of the total path weight (ending included) of each sentence.
    """
    state = np.ones(lay.m)  # forward messages, each sentence's summing to 1
    end_prev = np.full(lay.m, end_start)
    prev_sent = np.arange(lay.m)
    log_c = np.zeros(lay.m)
    ll = np.zeros(lay.m)
    kept = []
    for i in range(lay.T):
        e = lay.step(i, cand)
        a, ending = int(lay.active[i]), lay.ending(i)
        w = weight(e)
        new = np.add.reduceat(state[e.src] * w, np.cumsum(e.fan_in) - e.fan_in)
        c = np.bincount(e.t_sent, new, minlength=a)
        go_on = np.bincount(prev_sent[:e.n_src], state[:e.n_src] * (1.0 - end_prev[:e.n_src]), minlength=a)
        bad = ~(c > 0)
        if bad.any():  # probability zero: score -inf, then carry on from a uniform state
            _warn_impossible("sentence")
            new[bad[e.t_sent]] = 1.0
            c = np.where(bad, np.bincount(e.t_sent, new, minlength=a), c)
        with np.errstate(divide="ignore", invalid="ignore"):
            step_log_c = np.where(bad, -np.inf, np.log(c))
            scores[lay.index[:a, i]] = np.where(bad, -np.inf, step_log_c - np.log(go_on))
        new /= c[e.t_sent]
        log_c[:a] += step_log_c
        tags = e.target_tags()
        end_now = end(tags)
        z = None
        if ending < a:
            off = e.t_off[ending]
            z = np.bincount(e.t_sent[off:] - ending, new[off:] * end_now[off:], minlength=a - ending)
            with np.errstate(divide="ignore"):
                ll[ending:a] = log_c[ending:a] + np.log(z)
        if posterior is not None:
            kept.append((e, w, c, new, end_now, z, tags[:, 0]))
        state, end_prev, prev_sent = new, end_now, e.t_sent
    if posterior is not None:
        _backward(lay, kept, posterior)
    return ll


def _backward(lay, kept, posterior):
    """Scaled backward pass over the steps kept by the forward pass; appends posterior triples."""
    beta_next = np.zeros(0)
    for i in range(lay.T - 1, -1, -1):
        e, w, c, alpha, end_now, z, newest = kept[i]
        a, ending = int(lay.active[i]), lay.ending(i)
        beta = np.empty(len(alpha))
        off = e.t_off[ending] if ending < a else len(alpha)
        beta[:off] = beta_next  # sentences going on after i
        if ending < a:  # sentences ending at i
            beta[off:] = end_now[off:] / np.where(z > 0, z, 1.0)[e.t_sent[off:] - ending]
        posterior.append((lay.index[e.t_sent, i], newest, alpha * beta))
        beta_next = np.bincount(e.src, w * beta[e.tgt] / np.where(c > 0, c, 1.0)[e.sent], minlength=e.n_src)
