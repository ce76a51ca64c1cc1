"""Vectorised n-gram counting on a trie of dense ids, and the fitted look-up tables queried on it.

Symbols
-------
Word ids are ``0 .. V-1``; ``V`` is the internal begin-of-sentence symbol
(context only, never counted as a target) and ``V + 1`` the unknown word
(never counted at all). The radix is ``R = V + 2``.

Every sequence is read with ONE begin symbol before it (the convention of
KenLM and SRILM): position ``t`` of a sentence is predicted from
``<s> x_0 .. x_{t-1}`` cut to its last ``order - 1`` symbols, so an n-gram
reaches back at most to the begin symbol.

Trie
----
A node at depth ``d`` is a ``d``-gram. Depth-1 nodes are the symbols
themselves (dense, ``R`` of them). A depth-``d`` node (``d >= 2``) is the
index of its key ``node_{d-1}(prefix) * R + last_word`` in the sorted array
``keys[d]``. Keys stay below ``n_nodes(d-1) * R`` (about ``1e6 * 1e4``), far
from int64 overflow, where a mixed-radix key of the raw words (``R ** 5``
for 5-grams over 10k words) would overflow. Since keys are sorted, the
n-grams that continue one context form a contiguous slice of ``keys[d]``.

Counting keeps the n-grams that end at a real (non-begin) position: for
position ``t`` of a sentence, the ``k``-grams with ``k <= min(order, t + 2)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ResourceLimitError

__all__ = ["NGramCounts", "NGramTables", "count_ngrams", "join_with_bos", "lookup_nodes", "extend_nodes",
           "context_slices", "ngram_tokens"]

_INT64_MAX = np.iinfo(np.int64).max
_SORT_QUERIES_FROM = 4096


@dataclass
class NGramCounts:
    """Raw n-gram counts of a corpus on the trie described in the module docstring.

    Attributes
    ----------
    order : int
    vocab_size : int
        ``V``; the begin symbol is ``V``, the unknown word ``V + 1``.
    keys : list
        ``keys[d]`` for ``d >= 2``: sorted unique int64 keys of the seen
        ``d``-grams, shape ``(n_d,)``. ``keys[0]`` and ``keys[1]`` are None
        (depth 1 is dense).
    counts : list
        ``counts[1]``: int64 ``(R,)`` unigram counts (0 for the begin and
        unknown symbols); ``counts[d]``: int64 ``(n_d,)`` aligned with ``keys[d]``.
    suffix : list
        ``suffix[d]`` for ``d >= 2``: int64 ``(n_d,)``, the depth-``d-1`` node
        of each ``d``-gram without its first symbol.
    """

    order: int
    vocab_size: int
    keys: list
    counts: list
    suffix: list

    @property
    def radix(self):
        return self.vocab_size + 2

    @property
    def bos(self):
        return self.vocab_size

    def n_nodes(self, depth):
        """Number of nodes at ``depth`` (1 for the root, ``R`` for depth 1)."""
        if depth == 0:
            return 1
        if depth == 1:
            return self.radix
        return len(self.keys[depth])

    def context_of(self, level):
        """Depth ``level - 1`` context node of every ``level``-gram, aligned with ``counts[level]``."""
        if level == 1:
            return np.zeros(self.radix, np.int64)
        return self.keys[level] // self.radix

    def word_of(self, level):
        """Last symbol of every ``level``-gram, aligned with ``counts[level]``."""
        if level == 1:
            return np.arange(self.radix, dtype=np.int64)
        return self.keys[level] % self.radix


def join_with_bos(X, bos):
    """One stream of all sequences, each preceded by the begin symbol.

    Parameters
    ----------
    X : list of ndarray of int64, shape (n_steps_i,)
    bos : int

    Returns
    -------
    stream : ndarray of int64, shape (n_tokens + n_sequences,)
    real : ndarray of bool, shape (n_tokens + n_sequences,)
        False at the begin symbols.
    """
    lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    stream = np.full(int(lengths.sum()) + len(X), bos, dtype=np.int64)
    real = np.ones(len(stream), dtype=bool)
    real[starts] = False
    if len(stream) > len(X):
        stream[real] = np.concatenate(X)
    return stream, real


def _check_key_range(n_prefix_nodes, radix, depth):
    if n_prefix_nodes > 0 and n_prefix_nodes > _INT64_MAX // radix:
        raise ResourceLimitError(
            f"{depth}-gram keys would reach {n_prefix_nodes} * {radix}, beyond int64; "
            f"the corpus or vocabulary is too large for this order"
        )


def count_ngrams(X, order, vocab_size):
    """Count every k-gram (k = 1 .. order) of a corpus, vectorised over all positions.

    Parameters
    ----------
    X : list of ndarray of int64, shape (n_steps_i,)
        Validated ids in ``[0, vocab_size)``.
    order : int
    vocab_size : int

    Returns
    -------
    NGramCounts
    """
    radix = vocab_size + 2
    stream, real = join_with_bos(X, vocab_size)
    keys, counts, suffix = [None, None], [None, np.bincount(stream[real], minlength=radix)], [None, None]
    prev = stream  # node of the (d-1)-gram ending at each position; -1 where none
    for depth in range(2, order + 1):
        _check_key_range(len(keys[depth - 1]) if depth > 2 else radix, radix, depth)
        valid = real[1:] & (prev[:-1] >= 0)  # the d-gram ending at p+1 starts at or after a begin symbol
        key = prev[:-1][valid] * radix + stream[1:][valid]
        uniq, inverse, cnt = np.unique(key, return_inverse=True, return_counts=True)
        node = np.full(len(stream), -1, dtype=np.int64)
        node[1:][valid] = inverse
        suf = np.empty(len(uniq), dtype=np.int64)
        suf[inverse] = prev[1:][valid]  # the (d-1)-gram ending at the same position
        keys.append(uniq)
        counts.append(cnt.astype(np.int64))
        suffix.append(suf)
        prev = node
    return NGramCounts(order=order, vocab_size=vocab_size, keys=keys, counts=counts, suffix=suffix)


def _find(keys, queries):
    """Index of each query in the sorted array ``keys``, -1 when absent."""
    if not len(keys) or not len(queries):
        return np.full(len(queries), -1, dtype=np.int64)
    if len(queries) < _SORT_QUERIES_FROM:
        idx = np.searchsorted(keys, queries)
    else:  # sorted queries let the binary searches reuse each other's bounds (and the cache): ~2x faster
        order = np.argsort(queries)
        idx = np.empty(len(queries), dtype=np.int64)
        idx[order] = np.searchsorted(keys, queries[order])
    np.minimum(idx, len(keys) - 1, out=idx)
    return np.where(keys[idx] == queries, idx, -1)


def lookup_nodes(keys, radix, stream, real, depth):
    """Trie nodes of the d-grams ending at every stream position, for d = 1 .. depth.

    Parameters
    ----------
    keys : list
        ``NGramCounts.keys`` (or the model's copy).
    radix : int
    stream, real : ndarray, shape (n_positions,)
        As returned by :func:`join_with_bos` (the unknown word may occur).
    depth : int

    Returns
    -------
    nodes : list
        ``nodes[d]`` (``d = 1 .. depth``): int64 ``(n_positions,)``, the node of
        the ``d``-gram ending there, -1 when it was never seen in training or
        would reach before the begin symbol. ``nodes[0]`` is None.
    """
    nodes = [None, stream]
    prev = stream
    for d in range(2, depth + 1):
        valid = real[1:] & (prev[:-1] >= 0)
        node = np.full(len(stream), -1, dtype=np.int64)
        node[1:][valid] = _find(keys[d], prev[:-1][valid] * radix + stream[1:][valid])
        nodes.append(node)
        prev = node
    return nodes


def extend_nodes(keys, radix, history, words):
    """One trie step for a batch: the nodes after appending ``words`` to ``history``.

    Parameters
    ----------
    keys : list
    radix : int
    history : list
        ``history[d]`` (``d = 1 .. depth``): int64 ``(B,)`` node of the d-gram
        ending at the current position (-1 when none).
    words : ndarray of int64, shape (B,)

    Returns
    -------
    list, same layout, for the d-grams ending at the new position.
    """
    new = [None, np.asarray(words, dtype=np.int64)]
    for d in range(2, len(history)):
        prefix = history[d - 1]
        node = np.full(len(words), -1, dtype=np.int64)
        ok = prefix >= 0
        node[ok] = _find(keys[d], prefix[ok] * radix + new[1][ok])
        new.append(node)
    return new


def context_slices(keys, radix, contexts):
    """The seen continuations of each context: a ragged gather over ``keys``.

    Parameters
    ----------
    keys : ndarray of int64, shape (n_k,)
        Sorted keys of one level.
    radix : int
    contexts : ndarray of int64, shape (B,)
        Context nodes (depth ``k - 1``), all >= 0.

    Returns
    -------
    rows : ndarray of int64, shape (M,)
        Which context each continuation belongs to (index into ``contexts``).
    index : ndarray of int64, shape (M,)
        Index of the continuation in ``keys``.
    """
    lo = np.searchsorted(keys, contexts * radix)
    hi = np.searchsorted(keys, contexts * radix + radix)
    sizes = hi - lo
    rows = np.repeat(np.arange(len(contexts)), sizes)
    offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return rows, lo[rows] + offsets


def ngram_tokens(keys, radix, level, index=None):
    """Symbols of ``level``-grams, read back from the trie.

    Parameters
    ----------
    keys : list
    radix : int
    level : int (>= 2)
    index : ndarray of int64 or None
        Which nodes of ``keys[level]`` (all when None).

    Returns
    -------
    tokens : ndarray of int64, shape (n, level)
    """
    node = np.arange(len(keys[level])) if index is None else np.asarray(index)
    tokens = np.empty((len(node), level), dtype=np.int64)
    for d in range(level, 1, -1):
        key = keys[d][node]
        tokens[:, d - 1] = key % radix
        node = key // radix
    tokens[:, 0] = node
    return tokens


@dataclass
class NGramTables:
    """A fitted n-gram model as look-up tables over the trie (built by ``seqbench.models.ngram``).

    Attributes
    ----------
    kind : {"backoff", "floor"}
        "backoff" (Kneser-Ney, Witten-Bell): an unseen ``h w`` scores
        ``logctx(h) + log p(w | h')``. "floor" (add-k): it scores ``logctx(h)``
        for the longest context ``h`` seen in training.
    order, vocab_size : int
    keys : list
        ``keys[k]`` (``k >= 2``): sorted int64 keys of the seen k-grams.
    logprob : list
        ``logprob[1]``: float64 ``(V + 2,)`` log p of every symbol at the
        lowest level (``-inf`` for ``<s>``, the unseen-word value for the
        unknown id); ``logprob[k]``: log p of each seen k-gram, aligned with ``keys[k]``.
    logctx : list
        ``logctx[d]`` (``d = 0 .. order-1``): per depth-``d`` node as the
        context of order ``d + 1``: the log backoff weight (0 for a context
        never seen), or for "floor" the log probability of an unseen word
        (NaN for a context never seen).
    """

    kind: str
    order: int
    vocab_size: int
    keys: list
    logprob: list
    logctx: list

    @property
    def radix(self):
        return self.vocab_size + 2

    def score(self, stream, real, levels):
        """Log-probability of every real position of ``stream`` using orders ``1 .. levels``.

        Returns
        -------
        ndarray of float64, shape (n_real,)
        """
        nodes = lookup_nodes(self.keys, self.radix, stream, real, levels)
        at = np.flatnonzero(real)
        if self.kind == "backoff":
            return self._score_backoff(nodes, at, levels)
        return self._score_floor(nodes, at, levels)

    def _score_backoff(self, nodes, at, levels):
        out = np.zeros(len(at))
        found = np.zeros(len(at), dtype=bool)
        for k in range(levels, 1, -1):
            gram, ctx = nodes[k][at], nodes[k - 1][at - 1]
            hit = gram >= 0  # a hit at order k implies a hit at every lower order
            new = hit & ~found
            out[new] += self.logprob[k][gram[new]]
            skipped = ~hit & (ctx >= 0)
            out[skipped] += self.logctx[k - 1][ctx[skipped]]
            found |= hit
        rest = ~found
        out[rest] += self.logprob[1][nodes[1][at[rest]]]
        return out

    def _score_floor(self, nodes, at, levels):
        out = np.empty(len(at))
        todo = np.ones(len(at), dtype=bool)
        for k in range(levels, 1, -1):
            ctx = nodes[k - 1][at - 1]
            use = np.flatnonzero(todo & (ctx >= 0))
            use = use[~np.isnan(self.logctx[k - 1][ctx[use]])]
            gram = nodes[k][at[use]]
            seen = gram >= 0
            out[use] = self.logctx[k - 1][ctx[use]]
            out[use[seen]] = self.logprob[k][gram[seen]]
            todo[use] = False
        out[todo] = self.logprob[1][nodes[1][at[todo]]]
        return out

    def distributions(self, history, levels):
        """Full next-word distributions for a batch of histories.

        Parameters
        ----------
        history : list
            ``history[d]`` (``d = 1 .. >= levels-1``): int64 ``(B,)``, the node
            of the d-gram ending at the last history position (-1: none).
        levels : int

        Returns
        -------
        ndarray of float64, shape (B, V)
        """
        V = self.vocab_size
        n_rows = len(history[1])
        lowest = np.exp(self.logprob[1][:V])
        if self.kind == "backoff":
            probs = np.tile(lowest, (n_rows, 1))
            for k in range(2, levels + 1):
                rows = np.flatnonzero(history[k - 1] >= 0)
                ctx = history[k - 1][rows]
                probs[rows] *= np.exp(self.logctx[k - 1][ctx])[:, None]
                self._put_seen(probs, k, rows, ctx)
            return probs
        probs = np.empty((n_rows, V))
        todo = np.ones(n_rows, dtype=bool)
        for k in range(levels, 1, -1):
            rows = np.flatnonzero(todo & (history[k - 1] >= 0))
            rows = rows[~np.isnan(self.logctx[k - 1][history[k - 1][rows]])]
            ctx = history[k - 1][rows]
            probs[rows] = np.exp(self.logctx[k - 1][ctx])[:, None]
            self._put_seen(probs, k, rows, ctx)
            todo[rows] = False
        probs[todo] = lowest
        return probs

    def _put_seen(self, probs, level, rows, ctx):
        """Overwrite the entries of the seen ``level``-grams of each context."""
        if not len(rows) or not len(self.keys[level]):
            return
        r, idx = context_slices(self.keys[level], self.radix, ctx)
        probs[rows[r], self.keys[level][idx] % self.radix] = np.exp(self.logprob[level][idx])
