"""Unknown-word tag guesser from word endings (suffix model, Brants 2000, section 2.3).

The tag distribution of a word never seen in training is estimated from the
training words that are *rare* (frequency <= ``rare_threshold``), on the
assumption that unknown words look like rare ones. For a word ending in the
letters ``l_{n-m+1} ... l_n`` the estimate is built by successive abstraction,
from the empty suffix up to the longest suffix seen among rare words::

    P(t | "")                 = P^(t)                          (rare-word tag distribution)
    P(t | l_{n-i+1} ... l_n)  = (P^(t | l_{n-i+1} ... l_n) + theta * P(t | l_{n-i+2} ... l_n)) / (1 + theta)

where ``P^`` are relative frequencies over rare-word tokens and ``theta`` is
the standard deviation of the unconditional maximum-likelihood tag
probabilities ``P^(t_j)`` over all ``s`` tags of the tag set::

    theta = sqrt( 1/(s-1) * sum_j (P^(t_j) - 1/s)^2 )

(the paper prints the sum without the square root but calls it the standard
deviation; the square root is taken here). Capitalised words (first character
upper-case) and the others get separate suffix counts and separate
``P^(t)``; ``theta`` is shared.

Fallbacks: with no training entries the tag prior is uniform; a case class
(capitalised or not) without rare words predicts the tag prior of all
training tokens.
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy import sparse

from ..exceptions import ConfigError, InvalidSequenceError, NotFittedError, UnknownSymbolError

__all__ = ["SuffixModel"]


def _ragged_arange(counts):
    """Concatenation of ``arange(c)`` for each ``c`` in ``counts``."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


def _is_capitalised(word):
    return word[:1].isupper()


class SuffixModel:
    """Tag distribution of unknown words from their suffixes and capitalisation.

    Parameters
    ----------
    max_suffix : int, default=10
        Longest suffix (in characters) used; 0 keeps only the rare-word tag
        distribution (split by capitalisation).
    rare_threshold : int, default=10
        Words with training frequency ``<= rare_threshold`` feed the model.

    Attributes
    ----------
    n_tags_ : int
    tag_prior_ : ndarray of shape (n_tags,)
        ML tag distribution over all training tokens (uniform when there are none).
    theta_ : float
        The abstraction weight (standard deviation of ``tag_prior_``).
    case_prior_ : ndarray of shape (2, n_tags)
        ``P^(t)`` over rare lower-case (row 0) and capitalised (row 1) tokens.
    suffix_index_ : dict
        ``(is_capitalised, suffix) -> row`` of ``suffix_counts_``.
    suffix_counts_ : scipy.sparse.csr_matrix of shape (n_suffixes, n_tags)
        Rare-token counts of each tag per suffix.
    """

    def __init__(self, max_suffix=10, rare_threshold=10):
        self.max_suffix = max_suffix
        self.rare_threshold = rare_threshold

    # ---------------------------------------------------------------- fitting
    def fit(self, words, tags, counts=None, *, n_tags=None):
        """Count suffixes of rare words from a lexicon of (word, tag, count) entries.

        Parameters
        ----------
        words : sequence of str, length n_entries
            Word forms; a word may repeat with different tags.
        tags : array-like of int, shape (n_entries,)
            Tag ids in ``[0, n_tags)``.
        counts : array-like of int, shape (n_entries,), optional
            Token frequency of each (word, tag) entry; ones when omitted.
        n_tags : int, optional
            Size of the tag set; ``max(tags) + 1`` when omitted.

        Returns
        -------
        self
        """
        m, thr = self.max_suffix, self.rare_threshold
        for name, val in (("max_suffix", m), ("rare_threshold", thr)):
            if not isinstance(val, numbers.Integral) or isinstance(val, bool) or val < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {val!r}")
        words = list(words)
        tags = np.asarray(tags, dtype=np.int64).reshape(-1)
        counts = np.ones(len(tags), np.int64) if counts is None else np.asarray(counts, np.int64).reshape(-1)
        if not (len(words) == len(tags) == len(counts)):
            raise InvalidSequenceError(
                f"words, tags and counts differ in length: {len(words)}, {len(tags)}, {len(counts)}"
            )
        if n_tags is None:
            if not len(tags):
                raise ConfigError("n_tags is required when fitting on an empty lexicon")
            n_tags = int(tags.max()) + 1
        if len(tags) and (tags.min() < 0 or tags.max() >= n_tags):
            i = int(np.flatnonzero((tags < 0) | (tags >= n_tags))[0])
            raise UnknownSymbolError(f"tags[{i}] = {tags[i]} is out of range; expected tags in [0, {n_tags})")
        if len(counts) and counts.min() < 0:
            i = int(np.flatnonzero(counts < 0)[0])
            raise InvalidSequenceError(f"counts[{i}] = {counts[i]} is negative")
        self.n_tags_ = int(n_tags)

        total = np.bincount(tags, weights=counts, minlength=n_tags)
        self.tag_prior_ = total / total.sum() if total.sum() > 0 else np.full(n_tags, 1.0 / n_tags)
        s = n_tags
        self.theta_ = float(np.sqrt(((self.tag_prior_ - 1.0 / s) ** 2).sum() / (s - 1))) if s > 1 else 0.0

        # word types (dict over types), their frequency and rarity
        index = {}
        entry_type = np.fromiter((index.setdefault(w, len(index)) for w in words), np.int64, len(words))
        types = list(index)
        freq = np.bincount(entry_type, weights=counts, minlength=len(types))
        rare = (freq <= thr) & (freq > 0)
        capital = np.fromiter((_is_capitalised(w) for w in types), bool, len(types))

        # suffix rows of each rare type, built once per type
        self.suffix_index_ = {}
        n_suffix = np.zeros(len(types), np.int64)
        rows = []
        for t in np.flatnonzero(rare):
            w, cap = types[t], bool(capital[t])
            ks = range(1, min(len(w), m) + 1)
            rows.extend(self.suffix_index_.setdefault((cap, w[-k:]), len(self.suffix_index_)) for k in ks)
            n_suffix[t] = len(ks)
        rows = np.asarray(rows, np.int64)
        type_start = np.cumsum(n_suffix) - n_suffix

        # spread each rare entry over its type's suffix rows
        ent = np.flatnonzero(rare[entry_type])
        rep = np.repeat(ent, n_suffix[entry_type[ent]])
        suffix_rows = rows[type_start[entry_type[rep]] + _ragged_arange(n_suffix[entry_type[ent]])]
        self.suffix_counts_ = sparse.csr_matrix(
            (counts[rep].astype(np.float64), (suffix_rows, tags[rep])),
            shape=(len(self.suffix_index_), n_tags),
        )

        case_counts = np.zeros((2, n_tags))
        np.add.at(case_counts, (capital[entry_type[ent]].astype(np.int64), tags[ent]), counts[ent])
        mass = case_counts.sum(axis=1, keepdims=True)
        self.case_prior_ = np.where(mass > 0, case_counts / np.maximum(mass, 1), self.tag_prior_)
        return self

    # ------------------------------------------------------------- prediction
    def _check_fitted(self):
        if not hasattr(self, "suffix_counts_"):
            raise NotFittedError("SuffixModel is not fitted yet; call fit first")

    def predict_proba(self, words):
        """P(t | word form) for each word.

        Parameters
        ----------
        words : sequence of str, length n_words

        Returns
        -------
        proba : ndarray of shape (n_words, n_tags)
            Rows sum to 1.
        """
        self._check_fitted()
        words = list(words)
        index = {}
        inverse = np.fromiter((index.setdefault(w, len(index)) for w in words), np.int64, len(words))
        uniq = list(index)
        m = self.max_suffix
        cap = np.fromiter((_is_capitalised(w) for w in uniq), bool, len(uniq))
        ids = np.full((len(uniq), m), -1, np.int64)
        for j, w in enumerate(uniq):
            for k in range(1, min(len(w), m) + 1):
                row = self.suffix_index_.get((bool(cap[j]), w[-k:]))
                if row is None:  # longer suffixes of w cannot have been seen either
                    break
                ids[j, k - 1] = row

        proba = self.case_prior_[cap.astype(np.int64)].copy()  # (n_unique, n_tags)
        theta = self.theta_
        for k in range(m):
            live = np.flatnonzero(ids[:, k] >= 0)
            if not live.size:
                break
            c = self.suffix_counts_[ids[live, k]].toarray()
            p_hat = c / c.sum(axis=1, keepdims=True)
            proba[live] = (p_hat + theta * proba[live]) / (1.0 + theta)
        return proba[inverse]

    def predict_log_proba(self, words):
        """log P(t | word form): ndarray of shape (n_words, n_tags); ``-inf`` for impossible tags."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(words))

    def log_emission(self, words, tag_prior=None):
        """log P(word | t) up to an additive constant per word, by Bayes' rule.

        ``log P(w | t) = log P(t | w) - log P(t) + log P(w)``; the last term
        does not depend on the tag and is dropped.

        Parameters
        ----------
        words : sequence of str, length n_words
        tag_prior : ndarray of shape (n_tags,), optional
            ``P(t)``; defaults to ``tag_prior_``. Tags with zero prior get ``-inf``.

        Returns
        -------
        log_emission : ndarray of shape (n_words, n_tags)
        """
        self._check_fitted()
        prior = self.tag_prior_ if tag_prior is None else np.asarray(tag_prior, dtype=np.float64)
        if prior.shape != (self.n_tags_,):
            raise InvalidSequenceError(f"tag_prior has shape {prior.shape}; expected ({self.n_tags_},)")
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.predict_log_proba(words) - np.log(prior)
        return np.where(prior > 0, out, -np.inf)
