"""Supervised HMM tagging core (TnT, Brants 2000): first and second order, exact lattice inference.

The model
---------
A generative tag n-gram HMM. For ``order = n`` (1: bigram, 2: trigram)::

    p(w_1 .. w_T, t_1 .. t_T) = prod_{i=1}^{T+1} P(t_i | t_{i-n} .. t_{i-1}) * prod_{i=1}^{T} P(w_i | t_i)

with boundary tags ``t_i = BOS`` for ``i <= 0`` and ``t_{T+1} = EOS``: every
sentence starts in the boundary state and ends with an end-of-sentence
transition.

Refined states
--------------
With ``words`` the hidden "tags" ``t_i`` above are *states* that refine the
tags (:func:`refine_states`): each tag is split by the capitalisation of its
word (TnT, Brants 2000, section 2.4), and the frequent ambiguous words get
states of their own, one per (word, tag) pair (a specialised HMM, Pla and
Molina 2004), so that the transitions see e.g. "has"/AUX and "has"/VERB,
"that"/PRON and "that"/SCONJ as different histories. A state is a function
of (word, tag), so training is unchanged (counting over the state stream)
and the model is still a generative HMM; ``predict`` maps the best state
path to its tags and ``predict_proba`` sums the state marginals of each tag.
Everything below speaks of tags, meaning states where they differ. On
``ud-ewt`` (UPOS, order 2, valid) the refinement lifts accuracy from 92.8%
to 93.9%; on ``treebank-pos`` and ``conll2000-pos`` it changes it by less
than 0.1 point (valid). Without ``words`` the states are the tags.

Transitions (Brants 2000, section 2.2). Relative frequencies over the
training tag stream (EOS counted as a tag; ``N`` = tokens + sentences) are
interpolated with context-independent weights::

    P(t_3 | t_1, t_2) = l1 P^(t_3) + l2 P^(t_3 | t_2) + l3 P^(t_3 | t_1, t_2)      (order 2)
    P(t_3 | t_2)      = l1 P^(t_3) + l2 P^(t_3 | t_2)                            (order 1)

The weights come from deleted interpolation (Brants 2000, Figure 1): for
every top-order n-gram with count ``f > 0`` the held-one-out estimates
``(f(t_3) - 1) / (N - 1)``, ``(f(t_2, t_3) - 1) / (f(t_2) - 1)`` and
``(f(t_1, t_2, t_3) - 1) / (f(t_1, t_2) - 1)`` are compared (a zero
denominator gives 0) and ``f`` is added to the weight of the largest; tied
maxima share ``f`` equally (the paper leaves ties open). The weights are
then normalised. ``f(t_2)`` and ``f(t_1, t_2)`` count the history (so
``f(BOS)`` is the number of sentences). Where a history was never seen, its
relative frequency ``P^(. | history)`` is replaced by the interpolation of
the lower orders (renormalised), which keeps every row a distribution (TnT
leaves it zero).

Emissions, two uses
-------------------
*Tagging* (``predict``, ``predict_proba``): TnT's lexical model. A known
word seen more than ``smooth_rare`` times has ``P(w | t) = c(w, t) / c(t)``.
Every other word is tagged through ``P(t | w) / P(t)`` (``P(w | t)`` up to a
factor that depends only on the word, which changes neither the best path
nor the marginals) with ``P(t | w)`` from :class:`~._unknown_words.UnknownWordModel`
(suffix tries per capitalisation and word shape, Brants 2000, section 2.3,
with count-aware smoothing); a known word seen at most ``smooth_rare`` times
mixes its own counts with ``smooth_weight`` pseudo-occurrences of that
distribution, ``(c(w, t) + a P_unk(t | w)) / (c(w) + a)``, so a word seen
once may still take another tag. With ``words=None`` ``P_unk`` is the tag
distribution of rare training words. An unknown capitalised word opening a
sentence whose lower-case form is a training word is tagged as that word
("Pressured" -> "pressured"). On ``treebank-pos`` (order 2, test) these
three steps lift accuracy from 94.5% (plain TnT) to 95.7%.

*Density* (``score_tokens``, ``log_likelihood``): a proper distribution over
the training words plus one *unknown-word class* (closed-vocabulary
convention: every unknown id is that one type). Each tag reserves the
Witten-Bell mass ``u(t) / (c(t) + u(t))`` for the unknown class, ``u(t)``
being the number of distinct words seen with ``t``, and known words get
``c(w, t) / (c(t) + u(t))``; each row sums to 1 (``emissionprob_`` plus
``unknown_emissionprob_``). ``score_tokens`` gives
``log p(w_t | w_<t, the sentence goes on)``: each token's predictive
distribution sums to 1 over the vocabulary and the unknown class, as for
any model scored on sentences without an end symbol. ``log_likelihood`` is
the full ``log p(w_1 .. w_T, end)``: the sum of ``score_tokens`` plus the
log probability of the length events (going on at the start and after each
of the first ``T - 1`` tokens, ending after the last).

Decoding
--------
Lattice states are the last ``n`` tags (:mod:`._lattice`); each position
admits only its candidate tags: the tags of positive emission probability
(a frequent known word: the tags it was seen with; any other word: the tags
whose guessed score reaches ``guess_floor`` times the word's best; density:
the unknown class's tags). Every other tag has probability 0, so the
restriction is exact -- no beam: Viterbi finds the most probable tag
sequence, forward-backward (rescaled per step) gives the exact marginals,
and the posterior decoder takes their argmax, which maximises the expected
number of correct tags.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import ConfigError, InvalidSequenceError, NotFittedError, ResourceLimitError, UnknownSymbolError
from ._lattice import ChunkLayout, chunk_sentences, forward_backward_chunk, viterbi_chunk
from ._suffix import _ragged_arange
from ._unknown_words import UnknownWordModel

__all__ = ["HMMTaggerCore", "tag_ngram_counts", "deleted_interpolation", "interpolated_transitions"]

MAX_TRANS_CELLS = 1 << 24  # (n_tags + 1) ** (order + 1) transition entries at most
EDGE_BUDGET = 1 << 20  # Viterbi: lattice edges of one step, summed over a chunk
FB_BUDGET = 1 << 21  # forward-backward: all lattice edges of a chunk (kept for the backward pass)
DECODERS = ("viterbi", "posterior")


# ------------------------------------------------------------------ tag n-gram model
def tag_ngram_counts(t, lengths, order, n_tags):
    """Counts of the tag (order + 1)-grams of the boundary-padded tag stream.

    Parameters
    ----------
    t : ndarray of int64, shape (n_tokens,)
    lengths : ndarray of int64, shape (n_sentences,)
    order : int
    n_tags : int

    Returns
    -------
    counts : ndarray of float64, shape (n_tags + 1,) * (order + 1)
        ``counts[h_n, ..., h_1, c]``, history oldest first; index ``n_tags``
        is BOS in a history and EOS as the outcome.
    """
    W = n_tags + 1
    ext_len = lengths + order + 1  # order x BOS, the tags, EOS
    start = np.cumsum(ext_len) - ext_len
    ext = np.full(int(ext_len.sum()), n_tags, np.int64)
    tok_pos = np.repeat(start + order, lengths) + _ragged_arange(lengths)
    ext[tok_pos] = t
    events = np.concatenate([tok_pos, start + order + lengths])  # every token and every EOS
    key = np.zeros(len(events), np.int64)
    for lag in range(order, -1, -1):
        key = key * W + ext[events - lag]
    return np.bincount(key, minlength=W ** (order + 1)).astype(np.float64).reshape((W,) * (order + 1))


def _held_out(num, den):
    """``(num - 1) / (den - 1)``, 0 where ``den == 1``."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    return np.divide(num - 1.0, den - 1.0, out=np.zeros(num.shape), where=den != 1)


def deleted_interpolation(counts):
    """Deleted-interpolation weights of Brants (2000), Figure 1, ties shared equally.

    Parameters
    ----------
    counts : ndarray of shape (W,) * (n + 1)
        Top-order n-gram counts as from :func:`tag_ngram_counts`.

    Returns
    -------
    lambdas : ndarray of shape (n + 1,)
        Unigram weight first; sums to 1 (all zeros when ``counts`` is empty).
    """
    n = counts.ndim - 1
    cells = np.nonzero(counts)
    f = counts[cells]
    scores = []
    for k in range(n + 1):  # level k: the outcome and its k most recent history tags
        level = counts.sum(axis=tuple(range(n - k)))
        idx = cells[n - k:]
        den = level.sum() if k == 0 else level.sum(axis=-1)[idx[:-1]]
        scores.append(_held_out(level[idx], den))
    scores = np.stack(scores, axis=1)  # (n_cells, n + 1)
    win = scores == scores.max(axis=1, keepdims=True)
    mass = (win * (f / win.sum(axis=1))[:, None]).sum(axis=0)
    total = mass.sum()
    return mass / total if total > 0 else mass


def interpolated_transitions(counts, lambdas):
    """``P(c | history)`` interpolated over all orders; an unseen history backs off.

    ``Q_0`` is the unigram relative frequency and ``Q_k = (L_{k-1} Q_{k-1} +
    l_k P^_k) / L_k`` with ``L_k = l_0 + .. + l_k``, where ``P^_k`` is the
    relative frequency given the last ``k`` tags, or ``Q_{k-1}`` for an
    unseen history.

    Parameters
    ----------
    counts : ndarray of shape (W,) * (n + 1)
    lambdas : ndarray of shape (n + 1,)

    Returns
    -------
    trans : ndarray of shape (W,) * (n + 1)
        Rows (last axis) sum to 1 when there is any count.
    """
    n = counts.ndim - 1
    uni = counts.sum(axis=tuple(range(n)))
    q = uni / max(uni.sum(), 1.0)
    seen = lambdas[0]
    for k in range(1, n + 1):
        level = counts.sum(axis=tuple(range(n - k)))  # (W,) * (k + 1)
        ctx = level.sum(axis=-1, keepdims=True)
        ml = np.where(ctx > 0, level / np.maximum(ctx, 1.0), q)
        total = seen + lambdas[k]
        q = (seen * q + lambdas[k] * ml) / total if total > 0 else ml
        seen = total
    return q


def refine_states(x, t, n_tags, capital=None, lexical_states=0, min_count=10):
    """Hidden states that refine each tag by the capitalisation and, for frequent ambiguous words, the word.

    States ``[0, n_tags)`` are the tags of lower-case words (all words when
    ``capital`` is None or no training word is capitalised), ``[n_tags,
    2 n_tags)`` the same tags on capitalised words (TnT's capitalisation
    split, Brants 2000, section 2.4), then one state per *specialised*
    (word, tag) pair (a specialised HMM, Pla and Molina 2004). Words are
    ranked by ``count - count of their most frequent tag`` (the tokens a
    one-tag lexicon gets wrong); a word whose tags of count >= ``min_count``
    number two or more gets one state per such tag, until
    ``lexical_states`` states are spent (its rarer tags stay with the base
    states). A state is a function of (word, tag), so the model stays an HMM
    whose transitions see the refined history.

    Parameters
    ----------
    x, t : ndarray of int64, shape (n_tokens,)
        Word and tag ids.
    n_tags : int
    capital : ndarray of bool, shape (vocab_size,) or None
        Whether each word id is capitalised.
    lexical_states : int
    min_count : int

    Returns
    -------
    state : ndarray of int64, shape (n_tokens,)
    state_tag : ndarray of int64, shape (n_states,)
        The tag of every state.
    """
    K = n_tags
    split = capital is not None and bool(capital[x].any())
    state = t + K * capital[x] if split else t.copy()
    state_tag = np.arange(K * (1 + split), dtype=np.int64) % K
    if lexical_states <= 0 or not len(t):
        return state, state_tag
    pairs, inverse, pair_count = np.unique(x * K + t, return_inverse=True, return_counts=True)
    word, tag = pairs // K, pairs % K
    words, word_of_pair = np.unique(word, return_inverse=True)
    total = np.bincount(word_of_pair, weights=pair_count)
    top = np.zeros(len(words))
    np.maximum.at(top, word_of_pair, pair_count)
    good = pair_count >= min_count
    n_good = np.bincount(word_of_pair[good], minlength=len(words))
    cand = np.flatnonzero((n_good >= 2) & (total > top))
    cand = cand[np.argsort(-(total - top)[cand], kind="stable")]
    chosen = np.zeros(len(words), bool)
    chosen[cand[np.cumsum(n_good[cand]) <= lexical_states]] = True
    special = np.flatnonzero(good & chosen[word_of_pair])  # pairs in word order
    pair_state = np.full(len(pairs), -1, np.int64)
    pair_state[special] = len(state_tag) + np.arange(len(special))
    tok_state = pair_state[inverse.reshape(-1)]
    state = np.where(tok_state >= 0, tok_state, state)
    return state, np.concatenate([state_tag, tag[special]])


class _Candidates:
    """Candidate tags of each token, ``cand[ptr[k] : ptr[k] + size[k]]``, with ``emit`` alongside.

    ``cand[0]`` is the boundary symbol (emission 1). ``emit`` holds emission
    probabilities (density) or per-word scaled scores (tagging).
    """

    def __init__(self, cand, emit, ptr, size):
        self.cand, self.emit, self.ptr, self.size = cand, emit, ptr, size


class HMMTaggerCore:
    """Supervised HMM tagger: TnT transitions and lexicon, exact Viterbi and forward-backward.

    Parameters
    ----------
    order : int
        1: bigram tag model ``P(t_i | t_{i-1})``; 2: trigram
        ``P(t_i | t_{i-2}, t_{i-1})`` (TnT). Lattice states are the last
        ``order`` tags.
    n_tags : int
        Tag ids lie in ``[0, n_tags)``.
    vocab_size : int
        Training word ids are ``< vocab_size``; larger ids (and ids with
        training count 0) are unknown words.
    words : sequence of str or None
        The string of every word id that can occur (e.g. ``vocab.itos``),
        for the unknown-word model; ``None``: unknown words get the tag
        distribution of rare training words.
    max_suffix : int, default=10
        Longest suffix used for unknown words.
    rare_threshold : int, default=10
        Training frequency up to which a word feeds the suffix counts.
    decoder : {"viterbi", "posterior"}, default="viterbi"
        Default of :meth:`predict`.
    suffix_smoothing : float or "tnt", default=5.0
        See :class:`~._unknown_words.UnknownWordModel`.
    word_shapes : bool, default=True
        Separate suffix models for numbers and hyphenated words.
    smooth_rare : int, default=2
        Known words seen at most this often also take the tags the
        unknown-word model gives them (0: TnT's lexicon only).
    smooth_weight : float, default=1.0
        Pseudo-occurrences of the unknown-word distribution added to such words.
    guess_floor : float, default=1e-4
        A tag whose guessed score ``P(t | w) / P(t)`` is below this fraction
        of the word's best gets probability 0 (part of the model, so
        inference stays exact; it halves the lattice and changed no tag on
        ``treebank-pos``). 0 keeps every tag.
    split_case : bool, default=True
        Split every tag by the capitalisation of its word (needs ``words``).
    lexical_states : int, default=100
        At most this many states of specialised (word, tag) pairs (needs
        ``words``; 0: none). Both refinements are trimmed to the size limit
        of ``trans_``.
    lexical_min_count : int, default=10
        A (word, tag) pair needs this many training tokens to be specialised.

    Attributes
    ----------
    n_states_ : int
        Number of hidden states (``n_tags`` without refinement).
    state_tag_ : ndarray of int64, shape (n_states_,)
        The tag of each state.
    lambdas_ : ndarray of shape (order + 1,)
        Interpolation weights, unigram first.
    trans_ : ndarray of shape (n_states_ + 1,) * (order + 1)
        ``trans_[h_n, .., h_1, c] = P(c | history)`` over states; index
        ``n_states_`` is BOS in a history and EOS as the outcome.
    tag_count_ : ndarray of shape (n_states_,)
    tag_prior_ : ndarray of shape (n_states_,)
        Relative state frequency over training tokens.
    word_count_ : ndarray of shape (vocab_size,)
    emissionprob_ : ndarray of shape (n_states_, vocab_size)
        Density emissions of the known words (Witten-Bell discounted).
    unknown_emissionprob_ : ndarray of shape (n_states_,)
        Density mass of the unknown-word class; ``emissionprob_.sum(1) +
        unknown_emissionprob_ == 1`` (a state never seen puts all its mass there).
    startprob_, transmat_, endprob_ : ndarray, order 1 only
        ``P(s_1 | BOS)`` and ``P(s_i | s_{i-1})`` given that the sentence
        goes on (rows sum to 1), shapes (n_states_,) and (n_states_,
        n_states_), and ``P(EOS | s)`` of shape (n_states_,).
    rare_tag_prior_ : ndarray of shape (n_states_,)
        Tag distribution of the tokens of rare training words (the guess without ``words``).
    unknown_ : UnknownWordModel or None
        None without ``words``.
    """

    def __init__(self, order, n_tags, vocab_size, words=None, max_suffix=10, rare_threshold=10,
                 decoder="viterbi", suffix_smoothing=5.0, word_shapes=True, smooth_rare=2, smooth_weight=1.0,
                 guess_floor=1e-4, split_case=True, lexical_states=100, lexical_min_count=10):
        self.order = order
        self.n_tags = n_tags
        self.vocab_size = vocab_size
        self.words = words
        self.max_suffix = max_suffix
        self.rare_threshold = rare_threshold
        self.decoder = decoder
        self.suffix_smoothing = suffix_smoothing
        self.word_shapes = word_shapes
        self.smooth_rare = smooth_rare
        self.smooth_weight = smooth_weight
        self.guess_floor = guess_floor
        self.split_case = split_case
        self.lexical_states = lexical_states
        self.lexical_min_count = lexical_min_count

    # ---------------------------------------------------------------- fitting
    def _check_params(self):
        for name, low in (("order", 1), ("n_tags", 1), ("vocab_size", 1), ("smooth_rare", 0), ("max_suffix", 0),
                          ("rare_threshold", 0), ("lexical_states", 0), ("lexical_min_count", 1)):
            val = getattr(self, name)
            if not isinstance(val, numbers.Integral) or isinstance(val, bool) or val < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {val!r}")
        for name, high in (("smooth_weight", np.inf), ("guess_floor", 1.0)):
            val = getattr(self, name)
            if not isinstance(val, numbers.Real) or isinstance(val, bool) or not 0 <= val <= high:
                raise ConfigError(f"{name} must be a number in [0, {high}], got {val!r}")
        cells = (self.n_tags + 1) ** (self.order + 1)
        if cells > MAX_TRANS_CELLS:
            raise ResourceLimitError(
                f"an order-{self.order} HMM over {self.n_tags} tags has {cells:,} transition entries "
                f"((n_tags + 1) ** (order + 1), {cells * 8 / 2**20:,.0f} MiB); the limit is "
                f"{MAX_TRANS_CELLS:,}. Lower the order.")
        _check_decoder(self.decoder)

    def fit(self, X, y):
        """Count the tag n-grams and the lexicon; fit the unknown-word model.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
            Word ids in ``[0, vocab_size)``.
        y : list of ndarray of shape (n_steps_i,)
            Tag ids in ``[0, n_tags)``.

        Returns
        -------
        self
        """
        self._check_params()
        K, V = self.n_tags, self.vocab_size
        x, lengths = _flatten(X)
        t, _ = _flatten(y)
        if not len(x):
            raise InvalidSequenceError("X holds no tokens; the tagger needs tagged training words")
        if len(t) != len(x):
            raise InvalidSequenceError(f"y has {len(t)} tags for {len(x)} tokens in X")
        _check_range(x, lengths, V, "X", f"training word ids must lie in [0, {V}) (vocab_size)")
        _check_range(t, lengths, K, "y", f"expected tags in [0, {K})")

        if self.words is not None and x.max() >= len(self.words):
            _check_range(x, lengths, len(self.words), "X", f"`words` names only ids in [0, {len(self.words)})")
        t, self.state_tag_ = self._refine(x, t)
        S = self.n_states_ = len(self.state_tag_)

        counts = tag_ngram_counts(t, lengths, self.order, S)
        self.lambdas_ = deleted_interpolation(counts)
        self.trans_ = interpolated_transitions(counts, self.lambdas_)
        self.tag_count_ = np.bincount(t, minlength=S).astype(np.float64)
        self.tag_prior_ = self.tag_count_ / len(t)
        self.word_count_ = np.bincount(x, minlength=V)
        if self.order == 1:
            self._set_first_order_params()

        # lexicon: sorted (word, state) pairs, so a word's states are a slice
        pairs, pair_count = np.unique(x * S + t, return_counts=True)
        entry_word, self._lex_tag = pairs // S, pairs % S
        self._lex_count = pair_count.astype(np.float64)
        self._lex_start = np.searchsorted(entry_word, np.arange(V + 1))
        distinct = np.bincount(self._lex_tag, minlength=S).astype(np.float64)
        denom = self.tag_count_ + distinct
        self._lex_tagging = self._lex_count / self.tag_count_[self._lex_tag]
        self._lex_density = self._lex_count / denom[self._lex_tag]
        self.unknown_emissionprob_ = np.divide(distinct, denom, out=np.ones(S), where=denom > 0)
        self.emissionprob_ = np.zeros((S, V))
        self.emissionprob_[self._lex_tag, entry_word] = self._lex_density

        rare = self.word_count_[entry_word] <= self.rare_threshold
        rare_mass = np.bincount(self._lex_tag[rare], weights=self._lex_count[rare], minlength=S)
        self.rare_tag_prior_ = rare_mass / rare_mass.sum() if rare_mass.sum() > 0 else self.tag_prior_
        self.unknown_, self._string_id = None, {}
        if self.words is not None:
            strings = [str(self.words[w]) for w in entry_word.tolist()]
            self.unknown_ = UnknownWordModel(self.max_suffix, self.rare_threshold, self.suffix_smoothing,
                                             shapes=bool(self.word_shapes))
            self.unknown_.fit(strings, self._lex_tag, pair_count, n_tags=S)
            self._string_id = dict(zip(strings, entry_word.tolist()))
        return self

    def _refine(self, x, t):
        """States of the training tokens and the tag of each state (:func:`refine_states`), within the size limit.

        Without ``words`` the states are the tags.
        """
        K = self.n_tags
        if self.words is None:
            return t, np.arange(K, dtype=np.int64)
        most = int(np.floor(MAX_TRANS_CELLS ** (1.0 / (self.order + 1)) + 1e-9)) - 1  # states that fit
        capital = None
        if self.split_case and 2 * K <= most:
            seen = np.unique(x)
            capital = np.zeros(self.vocab_size, bool)
            capital[seen] = [str(self.words[w])[:1].isupper() for w in seen.tolist()]
        n_base = 2 * K if capital is not None and capital[x].any() else K
        return refine_states(x, t, K, capital, min(int(self.lexical_states), most - n_base),
                             int(self.lexical_min_count))

    def _set_first_order_params(self):
        K = self.n_states_
        go_on = 1.0 - self.trans_[:, K]  # (K + 1,): previous tag, BOS last
        safe = np.where(go_on > 0, go_on, 1.0)[:, None]
        rows = np.where(go_on[:, None] > 0, self.trans_[:, :K] / safe, self.tag_prior_)
        self.startprob_, self.transmat_ = rows[K], rows[:K]
        self.endprob_ = self.trans_[:K, K].copy()

    # ---------------------------------------------------------------- helpers
    def _check_fitted(self):
        if not hasattr(self, "trans_"):
            raise NotFittedError("HMMTaggerCore is not fitted yet; call fit first")

    def _known(self, x):
        V = self.vocab_size
        return (x < V) & (self.word_count_[np.minimum(x, V - 1)] > 0)

    def _trans_index(self, hist, tag):
        """Flat index into ``trans_`` of (history newest first (E, order), outcome (E,))."""
        W = self.n_states_ + 1
        idx = np.zeros(len(tag), np.int64)
        for lag in range(self.order - 1, -1, -1):
            idx = idx * W + hist[:, lag]
        return idx * W + tag

    def _end_index(self, tags):
        return self._trans_index(tags, np.full(len(tags), self.n_states_))

    def _guessed_scores(self, ids):
        """``P(t | w) / P(t)`` scaled to a row maximum of 1 for words tagged via the unknown-word model.

        ``ids`` (n_ids,) are unknown words and known words seen at most
        ``smooth_rare`` times; the latter mix their counts with
        ``smooth_weight`` pseudo-occurrences of the unknown-word distribution.
        Scores below ``guess_floor`` are set to 0. Returns (n_ids, n_states_).
        """
        if self.unknown_ is None:
            p = np.tile(self.rare_tag_prior_, (len(ids), 1))
        else:
            p = self.unknown_.predict_proba([str(self.words[w]) for w in ids.tolist()])
        rare = np.flatnonzero(self._known(ids))
        if len(rare):
            counts = self._lexicon_rows(ids[rare])
            a = float(self.smooth_weight)
            p[rare] = (counts + a * p[rare]) / (counts.sum(axis=1, keepdims=True) + a)
        prior = self.tag_prior_
        with np.errstate(divide="ignore", invalid="ignore"):
            log_s = np.where((prior > 0) & (p > 0), np.log(p) - np.log(prior), -np.inf)
        scores = np.exp(log_s - log_s.max(axis=1, keepdims=True))
        return np.where(scores >= self.guess_floor, scores, 0.0)

    def _lexicon_rows(self, ids):
        """Training counts of each known id over the states, shape (n_ids, n_states)."""
        lo, hi = self._lex_start[ids], self._lex_start[ids + 1]
        ent = np.repeat(lo, hi - lo) + _ragged_arange(hi - lo)
        counts = np.zeros((len(ids), self.n_states_))
        counts[np.repeat(np.arange(len(ids)), hi - lo), self._lex_tag[ent]] = self._lex_count[ent]
        return counts

    def _sentence_initial_lowercase(self, x, lengths):
        """``x`` with each unknown capitalised sentence-initial word replaced by its known lower-case form."""
        first = (np.cumsum(lengths) - lengths)[lengths > 0]
        first = first[~self._known(x[first])]
        if not len(first) or not self._string_id:
            return x
        x = x.copy()
        for k in first.tolist():
            s = str(self.words[x[k]])
            j = self._string_id.get(s.lower()) if s[:1].isupper() else None
            if j is not None:
                x[k] = j
        return x

    def _candidates(self, x, lengths, density):
        """Candidate tags and emissions of every token (density or tagging emissions)."""
        K, V = self.n_states_, self.vocab_size
        if not density and self.words is not None:
            _check_range(x, lengths, len(self.words), "X", f"`words` names only ids in [0, {len(self.words)})")
            x = self._sentence_initial_lowercase(x, lengths)
        lexical = self._known(x)
        if not density:  # rare known words are tagged through the unknown-word model too
            lexical &= self.word_count_[np.minimum(x, V - 1)] > self.smooth_rare
        lx = x[lexical]
        ptr = np.zeros(len(x), np.int64)
        size = np.zeros(len(x), np.int64)
        ptr[lexical] = 1 + self._lex_start[lx]
        size[lexical] = self._lex_start[lx + 1] - self._lex_start[lx]
        other = np.flatnonzero(~lexical)
        base = 1 + len(self._lex_tag)
        if density:  # the unknown class: one block shared by every unknown token
            extra_tag = np.flatnonzero(self.tag_count_ > 0)
            extra_emit = self.unknown_emissionprob_[extra_tag]
            ptr[other], size[other] = base, len(extra_tag)
        else:
            ids, row = np.unique(x[other], return_inverse=True)
            scores = self._guessed_scores(ids) if len(ids) else np.zeros((0, K))
            r, extra_tag = np.nonzero(scores > 0)
            extra_emit = scores[r, extra_tag]
            n = np.bincount(r, minlength=len(ids))
            ptr[other], size[other] = base + (np.cumsum(n) - n)[row], n[row]
        lex_emit = self._lex_density if density else self._lex_tagging
        cand = np.concatenate([[K], self._lex_tag, extra_tag]).astype(np.int64)
        emit = np.concatenate([[1.0], lex_emit, extra_emit])
        return _Candidates(cand, emit, ptr, size)

    def _layouts(self, cands, lengths, budget, total):
        """ChunkLayouts over the non-empty sentences, with the sentence indices of each chunk."""
        ne = np.flatnonzero(lengths > 0)
        if not len(ne):
            return
        offsets = (np.cumsum(lengths) - lengths)[ne]
        for sents in chunk_sentences(cands.size, lengths[ne], self.order + 1, budget, total=total):
            yield ne[sents], ChunkLayout(sents, offsets, lengths[ne], cands.size, cands.ptr, self.order)

    # ------------------------------------------------------------- public API
    def predict(self, X, decoder=None):
        """Tags of each sentence.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
        decoder : {"viterbi", "posterior"} or None
            ``None`` uses the ``decoder`` parameter. Viterbi: the most
            probable tag sequence; posterior: the argmax of each marginal.

        Returns
        -------
        list of ndarray of int64, shape (n_steps_i,)
        """
        self._check_fitted()
        decoder = self.decoder if decoder is None else decoder
        _check_decoder(decoder)
        x, lengths = _flatten(X)
        if decoder == "posterior":
            return _split(self._forward(x, lengths, density=False, marginals=True)[2].argmax(axis=1), lengths)
        cands = self._candidates(x, lengths, density=False)
        log_trans, log_emit = _log(self.trans_).reshape(-1), _log(cands.emit)
        out = np.zeros(len(x), np.int64)
        for _, lay in self._layouts(cands, lengths, EDGE_BUDGET, total=False):
            viterbi_chunk(lay, cands.cand, lambda e: log_trans[self._trans_index(e.hist, e.tag)] + log_emit[e.pos],
                          lambda tags: log_trans[self._end_index(tags)], out)
        return _split(self.state_tag_[out], lengths)

    def predict_proba(self, X):
        """Exact tag marginals (forward-backward with the tagging emissions).

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)

        Returns
        -------
        list of ndarray of shape (n_steps_i, n_tags)
            Rows sum to 1.
        """
        self._check_fitted()
        x, lengths = _flatten(X)
        return _split(self._forward(x, lengths, density=False, marginals=True)[2], lengths)

    def score_tokens(self, X):
        """``log p(w_t | w_<t, the sentence goes on)`` under the density emissions, tags marginalised.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)

        Returns
        -------
        list of ndarray of shape (n_steps_i,)
            Natural logs; every unknown id scores as the unknown-word class.
        """
        self._check_fitted()
        x, lengths = _flatten(X)
        return _split(self._forward(x, lengths, density=True, marginals=False)[0], lengths)

    def log_likelihood(self, X):
        """``sum over sentences of log p(w_1 .. w_T, end)`` under the density.

        The sum of :meth:`score_tokens` plus the log probability of each
        sentence's length (going on at the start and after every token but
        the last, ending after the last).

        Returns
        -------
        float
        """
        self._check_fitted()
        x, lengths = _flatten(X)
        return float(self._forward(x, lengths, density=True, marginals=False)[1].sum())

    # --------------------------------------------------------------- inference
    def _forward(self, x, lengths, density, marginals):
        """Forward (and backward) passes over all sentences.

        Returns
        -------
        scores : ndarray of shape (n_tokens,)
            ``log p(w_t | w_<t, goes on)`` (meaningful for the density).
        sent_ll : ndarray of shape (n_sentences,)
            ``log p(w_1 .. w_T, end)``.
        marginals : ndarray of shape (n_tokens, n_tags) or None
            Uniform in a sentence of probability zero (after an ImpossibleSequenceWarning).
        """
        K = self.n_states_
        cands = self._candidates(x, lengths, density)
        trans = self.trans_.reshape(-1)
        end_start = float(self.trans_[(K,) * (self.order + 1)])  # an empty sentence
        scores = np.zeros(len(x))
        sent_ll = np.full(len(lengths), np.log(end_start) if end_start > 0 else -np.inf)
        post = [] if marginals else None
        for sents, lay in self._layouts(cands, lengths, FB_BUDGET, total=True):
            sent_ll[sents] = forward_backward_chunk(
                lay, cands.cand, lambda e: trans[self._trans_index(e.hist, e.tag)] * cands.emit[e.pos],
                lambda tags: trans[self._end_index(tags)], end_start, scores, post)
        if not marginals:
            return scores, sent_ll, None
        marg = np.zeros(len(x) * K)
        if post:
            tok, tag, mass = (np.concatenate(a) for a in zip(*post))
            marg = np.bincount(tok * K + tag, mass, minlength=len(x) * K)
        marg = marg.reshape(len(x), K)
        if K != self.n_tags:  # states -> their tags
            marg = marg @ (self.state_tag_[:, None] == np.arange(self.n_tags)).astype(np.float64)
        total = marg.sum(axis=1, keepdims=True)
        return scores, sent_ll, np.where(total > 0, marg / np.where(total > 0, total, 1.0), 1.0 / self.n_tags)


# ------------------------------------------------------------------ utilities
def _check_decoder(decoder):
    if not isinstance(decoder, str) or decoder not in DECODERS:
        raise ConfigError(f"decoder must be one of {DECODERS}, got {decoder!r}")


def _flatten(X):
    """Concatenated ids (n_tokens,) and lengths (n_sequences,) of validated 1-D sequences."""
    lengths = np.fromiter((len(s) for s in X), np.int64, len(X))
    x = np.concatenate(X).astype(np.int64, copy=False) if len(X) else np.zeros(0, np.int64)
    return x.reshape(-1), lengths


def _split(flat, lengths):
    return np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []


def _check_range(v, lengths, hi, name, expected):
    """Raise naming the sequence and position of the first value outside ``[0, hi)``."""
    bad = (v < 0) | (v >= hi)
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        ends = np.cumsum(lengths)
        seq = int(np.searchsorted(ends, flat, side="right"))
        pos = int(flat - (ends[seq] - lengths[seq]))
        raise UnknownSymbolError(f"{name}[{seq}][{pos}] = {v[flat]} is out of range; {expected}")


def _log(p):
    with np.errstate(divide="ignore"):
        return np.log(p)
