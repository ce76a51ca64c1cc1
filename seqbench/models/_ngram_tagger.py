"""Tagging core of ``NGram(order=n).fit(X, y)``: a conditional n-gram tagger with exact decoding.

The model is a locally normalised chain over tags given the words::

    P(t_1 .. t_T | w_1 .. w_T) = prod_i P(t_i | w_i, t_{i-1}, ..., t_{i-n+1})

with the tags before the sentence start set to a boundary symbol.

Every word first gets a history-aware base estimate: a word-form estimate
``S(t | w)`` combined with the tag n-gram ``Q(t | h)`` by assuming the word
and the history independent given the tag::

    B(t | w, h)  proportional to  S(t | w) * Q(t | h) / P(t)

``S`` is the relative frequency ``c(w, t) / c(w)`` for a known word (seen in
training); for an unknown word (count 0 in training, whatever its id) it is
the suffix model of :mod:`._suffix`, or without word strings the tag
distribution of rare training words. ``Q`` is Witten-Bell interpolation over
ever shorter tag histories down to the tag unigram ``P(t)``. For order 1,
``B = S``. Known words then interpolate their own counts over the history
contexts, Witten-Bell style, from the shortest to the longest::

    P_k(t | w, h_k) = (c(w, h_k, t) + d(w, h_k) * P_{k-1}(t | w, h)) / (c(w, h_k) + d(w, h_k)),   P_0 = B

where ``h_k`` is the last ``k`` tags, ``c`` are training counts and ``d`` the
number of distinct tags seen after the context; an unseen context leaves
the estimate unchanged. (Backing off to ``c(w, t) / c(w)`` alone would
ignore the history whenever ``(w, t_{i-1})`` was never seen; on the Penn
Treebank sample the base ``B`` is worth about half a point of accuracy.)
A known word is only ever given a tag it was seen with.

Decoding runs on the lattice whose states are the last ``n - 1`` tags.
Only tags of positive probability enter it (a known word's tags, the support
of ``S`` for an unknown word), which leaves the result exact: Viterbi gives
the most probable tag sequence of the chain, and the forward pass gives the
exact marginals (the chain is locally normalised, so every backward message
equals 1).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import ConfigError, NotFittedError, ResourceLimitError, UnknownSymbolError
from ._lattice import ChunkLayout, backtrack, chunk_sentences, segment_argmax
from ._suffix import SuffixModel, _ragged_arange

__all__ = ["NGramTaggerCore"]

MAX_STATES = 100_000  # refuse n_tags ** (order - 1) beyond this
EDGE_BUDGET = 1 << 20  # lattice edges per decoding step, summed over a chunk of sentences


def _lookup(keys, queries):
    """Positions of ``queries`` in the sorted unique array ``keys`` and whether each is present."""
    if not len(keys):
        return np.zeros(len(queries), np.int64), np.zeros(len(queries), bool)
    idx = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    return idx, keys[idx] == queries


class _BackoffCounts:
    """Witten-Bell interpolated ``P(t | c, t_-1, ..., t_-k)`` for ``k = 0 .. depth``.

    Level 0 conditions on an integer context ``c`` (a word id, or 0 for a tag
    n-gram); level ``k`` extends the level ``k - 1`` context with the tag
    ``t_-k``. Each level holds its sorted context keys, context totals,
    distinct-tag counts and the sorted ``context * n_tags + tag`` pair counts.
    """

    def __init__(self, n_tags, depth):
        self.n_tags, self.depth, self.width = n_tags, depth, n_tags + 1  # + boundary symbol

    def fit(self, ctx, hist, tags):
        """ctx (N,), hist (N, depth) previous tags newest first, tags (N,)."""
        self.levels = []
        key = ctx
        for k in range(self.depth + 1):
            if k:
                key = ids * self.width + hist[:, k - 1]
            keys, ids = np.unique(key, return_inverse=True)
            pairs, counts = np.unique(ids * self.n_tags + tags, return_counts=True)
            totals = np.bincount(ids, minlength=len(keys))
            distinct = np.bincount(pairs // self.n_tags, minlength=len(keys))
            self.levels.append((keys, totals, distinct, pairs, counts))
        return self

    def _count(self, k, ids, tags):
        _, _, _, pairs, counts = self.levels[k]
        i, found = _lookup(pairs, ids * self.n_tags + tags)
        return np.where(found, counts[i], 0)

    def prob0(self, ctx, tags):
        """Level-0 relative frequency ``c(ctx, t) / c(ctx)`` of shape (E,); NaN for an unseen ``ctx``."""
        keys, totals = self.levels[0][:2]
        ids, found = _lookup(keys, ctx)
        p = np.full(len(ctx), np.nan)
        p[found] = self._count(0, ids[found], tags[found]) / totals[ids[found]]
        return p

    def prob(self, ctx, hist, tags, base):
        """Interpolate levels 1..depth over ``base`` (the level-0 estimate, shape (E,)).

        ``ctx`` must be seen contexts; returns P(tags | ctx, hist) of shape (E,).
        """
        keys = self.levels[0][0]
        ids = _lookup(keys, ctx)[0]
        live, p = np.arange(len(ctx)), base.copy()
        for k in range(1, self.depth + 1):
            keys, totals, distinct = self.levels[k][:3]
            nxt, found = _lookup(keys, ids * self.width + hist[live, k - 1])
            live, ids = live[found], nxt[found]
            if not live.size:
                break
            d = distinct[ids]
            p[live] = (self._count(k, ids, tags[live]) + d * p[live]) / (totals[ids] + d)
        return p


class _Tokens:
    """Per-token facts for decoding a flat array of word ids.

    Attributes: ``x`` (N,), ``known`` (N,) bool, ``unk_row`` (N,) row of
    ``S`` for unknown tokens, ``S`` (n_unknown_types, n_tags), and the
    candidate tags of each token as ``cand[ptr[i] : ptr[i] + size[i]]``
    (``cand[0]`` is the boundary symbol).
    """

    def __init__(self, core, x, lengths):
        lex_keys, _, _, pairs, _ = core.lex_.levels[0]
        n_tags = core.n_tags
        self.x = x
        idx, self.known = _lookup(lex_keys, x)
        unk_ids, unk_row = np.unique(x[~self.known], return_inverse=True)
        self.S = core._unknown_proba(unk_ids, x, lengths)
        self.unk_row = np.zeros(len(x), np.int64)
        self.unk_row[~self.known] = unk_row
        # known words: their tags are a slice of the level-0 pair keys
        lo = np.searchsorted(pairs, idx * n_tags)
        hi = np.searchsorted(pairs, (idx + 1) * n_tags)
        # unknown words: the support of S
        rows, cols = np.nonzero(self.S > 0)
        unk_size = np.bincount(rows, minlength=len(unk_ids))
        unk_start = np.cumsum(unk_size) - unk_size
        self.cand = np.concatenate([[n_tags], pairs % n_tags, cols]).astype(np.int64)
        un, row = np.flatnonzero(~self.known), unk_row
        self.ptr, self.size = 1 + lo, hi - lo
        self.ptr[un], self.size[un] = 1 + len(pairs) + unk_start[row], unk_size[row]


class NGramTaggerCore:
    """Conditional n-gram tagger ``P(t_i | w_i, t_{i-1} .. t_{i-n+1})`` with back-off.

    Parameters
    ----------
    order : int
        n: the current word and the previous ``n - 1`` tags. Order 1 tags
        each word with its most likely tag.
    n_tags : int
        Tag ids lie in ``[0, n_tags)``.
    vocab_size : int
        Word ids seen in training are ``< vocab_size``; larger ids are unknown words.
    words : sequence of str or None
        The string of every word id that can occur (training or not); used by
        the suffix model for unknown words. ``None``: unknown words get the
        tag distribution of rare training words.
    max_suffix : int, default=10
        Longest suffix used for unknown words.
    rare_threshold : int, default=10
        Training frequency up to which a word counts as rare.
    """

    def __init__(self, order, n_tags, vocab_size, words=None, max_suffix=10, rare_threshold=10):
        self.order = order
        self.n_tags = n_tags
        self.vocab_size = vocab_size
        self.words = words
        self.max_suffix = max_suffix
        self.rare_threshold = rare_threshold

    # ---------------------------------------------------------------- fitting
    def _check_params(self):
        for name in ("order", "n_tags", "vocab_size"):
            val = getattr(self, name)
            if not isinstance(val, numbers.Integral) or isinstance(val, bool) or val < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {val!r}")
        states = self.n_tags ** (self.order - 1)
        if states > MAX_STATES:
            raise ResourceLimitError(
                f"an order-{self.order} tagger over {self.n_tags} tags has {states:,} lattice states "
                f"(n_tags ** (order - 1)); the limit is {MAX_STATES:,}. Lower the order."
            )

    def _histories(self, t, lengths):
        """Previous ``order - 1`` tags of each token, newest first, boundary = n_tags."""
        depth = self.order - 1
        pos = _ragged_arange(lengths)
        hist = np.full((len(t), depth), self.n_tags, np.int64)
        for lag in range(1, depth + 1):
            i = np.flatnonzero(pos >= lag)
            hist[i, lag - 1] = t[i - lag]
        return hist

    def fit(self, X, y):
        """Count the tables.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
            Word ids (validated, non-negative).
        y : list of ndarray of shape (n_steps_i,)
            Tag ids in ``[0, n_tags)``.

        Returns
        -------
        self
        """
        self._check_params()
        lengths = np.fromiter((len(s) for s in X), np.int64, len(X))
        x, t = np.concatenate(X).astype(np.int64), np.concatenate(y).astype(np.int64)
        if t.size and (t.min() < 0 or t.max() >= self.n_tags):
            self._raise_at(np.flatnonzero((t < 0) | (t >= self.n_tags))[0], t, lengths, "y",
                           f"expected tags in [0, {self.n_tags})")
        hist = self._histories(t, lengths)
        depth = self.order - 1
        self.lex_ = _BackoffCounts(self.n_tags, depth).fit(x, hist, t)
        self.tagseq_ = _BackoffCounts(self.n_tags, depth).fit(np.zeros_like(x), hist, t)
        self.tag_prior_ = np.bincount(t, minlength=self.n_tags) / len(t)

        keys, _, _, pairs, counts = self.lex_.levels[0]
        entry_words = keys[pairs // self.n_tags]
        if self.words is None:  # no strings: ids as lower-case forms, no suffixes -> rare-word tags
            strings, max_suffix = [str(w) for w in entry_words], 0
        else:
            self._check_word_ids(entry_words, x, lengths)
            strings, max_suffix = [str(self.words[w]) for w in entry_words], self.max_suffix
        self.suffix_ = SuffixModel(max_suffix, self.rare_threshold).fit(
            strings, pairs % self.n_tags, counts, n_tags=self.n_tags
        )
        return self

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _raise_at(flat, values, lengths, name, expected):
        ends = np.cumsum(lengths)
        seq = int(np.searchsorted(ends, flat, side="right"))
        pos = int(flat - (ends[seq] - lengths[seq]))
        raise UnknownSymbolError(f"{name}[{seq}][{pos}] = {values[flat]} is out of range; {expected}")

    def _check_word_ids(self, ids, x, lengths):
        n = len(self.words)
        if ids.size and ids.max() >= n:
            self._raise_at(np.flatnonzero(x >= n)[0], x, lengths, "X",
                           f"`words` names only ids in [0, {n})")

    def _unknown_proba(self, unk_ids, x, lengths):
        """S(t | w) for unknown word ids: (n_unknown, n_tags)."""
        if self.words is None:
            return np.tile(self.suffix_.predict_proba([""]), (len(unk_ids), 1))
        self._check_word_ids(unk_ids, x, lengths)
        return self.suffix_.predict_proba([str(self.words[w]) for w in unk_ids])

    def _check_fitted(self):
        if not hasattr(self, "lex_"):
            raise NotFittedError("NGramTaggerCore is not fitted yet; call fit first")

    def _edge_proba(self, tok, index, hist, c, group, n_groups):
        """P(c | w, hist) on edges.

        ``index`` (E,) tokens of ``tok``, ``hist`` (E, order - 1), ``c`` (E,)
        tags; ``group`` (E,) numbers the (token, history) pairs: the edges
        of a group must cover every tag the token can take.
        """
        known = tok.known[index]
        word = tok.x[index]
        base = self.lex_.prob0(word, c)
        un = np.flatnonzero(~known)
        base[un] = tok.S[tok.unk_row[index[un]], c[un]]
        if self.order > 1:  # P(t | w) * Q(t | h) / P(t), normalised per group
            prior = self.tag_prior_[c]
            q = self.tagseq_.prob(np.zeros(len(c), np.int64), hist, c, prior)
            base *= np.divide(q, prior, out=np.zeros_like(q), where=prior > 0)  # unseen tags: 0
            base /= np.bincount(group, weights=base, minlength=n_groups)[group]
        kn = np.flatnonzero(known)
        base[kn] = self.lex_.prob(word[kn], hist[kn], c[kn], base[kn])
        return base

    # ------------------------------------------------------------- public API
    def conditional_proba(self, words, history):
        """P(t | w, previous tags) for all tags.

        Parameters
        ----------
        words : array-like of int, shape (n,)
        history : array-like of int, shape (n, order - 1)
            Previous tags, newest first; -1 marks "before the sentence start".

        Returns
        -------
        proba : ndarray of shape (n, n_tags)
        """
        self._check_fitted()
        words = np.asarray(words, np.int64).reshape(-1)
        history = np.asarray(history, np.int64).reshape(len(words), self.order - 1)
        bad = (history < -1) | (history >= self.n_tags)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise UnknownSymbolError(f"history[{i}][{j}] = {history[i, j]} is out of range; "
                                     f"expected tags in [0, {self.n_tags}) or -1 for the sentence start")
        history = np.where(history < 0, self.n_tags, history)
        return self._conditional(_Tokens(self, words, np.ones(len(words), np.int64)), history)

    def _conditional(self, tok, history, block=1 << 16):
        """Full rows P(. | w, history) for every token of ``tok``, in blocks of rows."""
        n, k = len(tok.x), self.n_tags
        out = np.empty((n, k))
        for lo in range(0, n, block):
            idx = np.arange(lo, min(lo + block, n))
            rows = np.repeat(idx, k)
            group = rows - lo
            p = self._edge_proba(tok, rows, history[rows], np.tile(np.arange(k), len(idx)), group, len(idx))
            out[idx] = p.reshape(len(idx), k)
        return out

    def predict(self, X):
        """Most probable tag sequence of each sentence: list of int64 arrays of shape (n_steps_i,)."""
        return self._run(X, viterbi=True)

    def predict_proba(self, X):
        """Tag marginals of each position: list of float64 arrays of shape (n_steps_i, n_tags)."""
        return self._run(X, viterbi=False)

    # --------------------------------------------------------------- decoding
    def _run(self, X, viterbi):
        self._check_fitted()
        lengths = np.fromiter((len(s) for s in X), np.int64, len(X))
        x = np.concatenate(X).astype(np.int64)
        ends = np.cumsum(lengths)
        tok = _Tokens(self, x, lengths)
        if self.order == 1:
            proba = self._conditional(tok, np.zeros((len(x), 0), np.int64))
            return np.split(proba.argmax(axis=1) if viterbi else proba, ends[:-1])
        out = np.zeros(len(x), np.int64) if viterbi else np.zeros((len(x), self.n_tags))
        for sents in chunk_sentences(tok.size, lengths, self.order, EDGE_BUDGET):
            self._decode_chunk(tok, sents, ends - lengths, lengths, out, viterbi)
        if not viterbi:
            out /= out.sum(axis=1, keepdims=True)
        return np.split(out, ends[:-1])

    def _decode_chunk(self, tok, sents, offsets, lengths, out, viterbi):
        """Viterbi (tags into ``out``) or forward marginals (added to ``out``) for one chunk."""
        lay = ChunkLayout(sents, offsets, lengths, tok.size, tok.ptr, self.order - 1)
        state = np.zeros(lay.m) if viterbi else np.ones(lay.m)  # log delta / alpha of the start state
        back, final = [], np.zeros(lay.m, np.int64)
        for i in range(lay.T):
            e = lay.step(i, tok.cand)
            p = self._edge_proba(tok, lay.index[e.sent, i], e.hist, e.tag, e.src, e.n_src)
            if viterbi:
                with np.errstate(divide="ignore"):
                    arg, state = segment_argmax(state[e.src] + np.log(p), e.fan_in)
                back.append((e.source_local(arg), e.t_off))
                ending, a = lay.ending(i), int(lay.active[i])
                if ending < a:  # sentences whose last position is i: best final state
                    final[ending:a] = segment_argmax(state[e.t_off[ending]:], e.n_tgt[ending:])[0]
            else:
                state = np.add.reduceat(state[e.src] * p, np.cumsum(e.fan_in) - e.fan_in)
                tag = e.target_tags()[:, 0]
                np.add.at(out, (lay.index[e.t_sent, i], tag), state)
        if viterbi:
            backtrack(back, final, lay, tok.cand, out)
