"""N-gram language model (interpolated modified Kneser-Ney, Witten-Bell, add-k) and n-gram tagger.

Conventions
-----------
Word ids are ``0 .. V-1`` (``V = vocab_size_``); the end-of-sentence token of
the data (``<eos>``) is an ordinary word, predicted and counted. Each sequence
is read with ONE internal begin symbol ``<s>`` before it (KenLM's and SRILM's
convention): ``x_t`` is predicted from ``<s> x_0 .. x_{t-1}`` cut to the last
``order - 1`` symbols. ``<s>`` is context only. The next-token distribution
is over the ``V`` words and sums to 1; the lowest level interpolates with the
uniform ``1 / V``. An id ``>= V`` at score time (possible only without a
``vocab``) is scored as a word never seen in training: it receives the
uniform-floor share, ``p = (product of the interpolation weights) / V``,
the same as an unseen vocabulary word.

Smoothing
---------
``kneser_ney`` (Chen & Goodman 1998, interpolated modified Kneser-Ney)::

    p_k(w | h) = (a(h w) - D_k(a(h w))) / a(h .)  +  gamma(h) * p_{k-1}(w | h')
    gamma(h)   = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / a(h .)
    p_0(w)     = 1 / V

with ``h'`` the context without its first symbol. ``a`` is the raw count at
the highest order and the continuation count ``N1+(. h w)`` (distinct left
neighbours) below it, except for n-grams that start at ``<s>``, which have no
left neighbour and keep their raw count (Chen & Goodman, KenLM).
``Nc(h .)`` counts the words with ``a(h w) = c``. The discounts of each order
come from its counts-of-counts ``n_c`` (number of n-grams with ``a = c``)::

    Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3

When ``n1``, ``n2`` or ``n3`` is 0, or a discount falls outside ``(0, c]``
(tiny or artificial data), that order uses KenLM's fallback
``(0.5, 1.0, 1.5)`` instead; ``discount_fallback_`` records where.
``discount=D`` (one value, or one per order, unigram first) gives plain
interpolated Kneser-Ney: ``D_k1 = D_k2 = D_k3+ = D``.

``witten_bell`` (interpolated, raw counts at every order)::

    p_k(w | h) = (c(h w) + T(h) p_{k-1}(w | h')) / (c(h .) + T(h)),   T(h) = N1+(h .),  p_0 = 1 / V

``add_k``: ``p(w | h) = (c(h w) + k) / (c(h .) + k V)`` with ``h`` the longest
context seen in training (ever shorter contexts down to the unigram level,
which is always seen): additive smoothing of the highest order, backing off
only for unseen contexts.

An unseen context has ``gamma = 1`` (Kneser-Ney, Witten-Bell): the
distribution is that of the shorter context, as in NLTK.

Agreement with NLTK
-------------------
``discount=D`` equals ``nltk.lm.KneserNeyInterpolated(order, discount=D)``
(and ``witten_bell`` equals ``WittenBellInterpolated``) for every context of
``order - 1`` symbols when NLTK is fed the same n-grams (those of the
single-``<s>`` padded text, no right padding) and one definition is aligned:
NLTK's lowest level is the undiscounted ``N1+(. w) / N1+(. .)`` (Kneser-Ney)
or ``c(w) / N`` (Witten-Bell) without a uniform floor, so words unseen in
training get probability 0 there. NLTK's ``padded_everygram_pipeline`` pads
``order - 1`` begin and end symbols and counts n-grams made of padding only,
which changes the continuation counts; and NLTK treats a context shorter
than ``order - 1`` (the start of a sentence) as a lower order with
continuation counts, where this model keeps raw counts for n-grams that
start at ``<s>``.

Backoff form
------------
Fitting precomputes, for every seen n-gram, its interpolated probability and,
for every context, its interpolation weight ``gamma``. Since ``p(w | h) =
gamma(h) p(w | h')`` whenever ``h w`` is unseen, a query is: the longest
seen n-gram ending in ``w``, plus the log weights of the longer contexts it
skipped (what ARPA files store; :meth:`NGram.to_arpa` writes one). Scoring
is one ``searchsorted`` per order, vectorised over every position of every
sequence.

On Penn Treebank (Mikolov's split, 10k words) the default model reaches test
perplexity 148.28 at order 3 and 141.19 at order 5; Mikolov (2012, Table 4.1)
reports 148.3 and 141.2 for Kneser-Ney 3- and 5-grams.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..base import SequenceEstimator, Tags
from .._validation import check_sequences, check_tags
from ..exceptions import ConfigError, InvalidSequenceError
from ..registry import register
from ._ngram_counts import count_ngrams, extend_nodes, join_with_bos, lookup_nodes
from ._ngram_smoothing import (kneser_ney_levels, add_k_tables, counts_of_counts, interpolated_tables, kn_adjusted_counts,
                               modified_kn_discounts, witten_bell_weights)

__all__ = ["NGram", "counts_of_counts", "modified_kn_discounts", "kn_adjusted_counts"]

SMOOTHINGS = ("kneser_ney", "witten_bell", "add_k")
_CHUNK_ELEMENTS = 1 << 22  # rows x vocabulary per block of next-token distributions


# ----------------------------------------------------------------------------- helpers
def _is_int(value, low):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


def _vocab_words(vocab):
    """The strings of a ``Vocab`` (``itos``) or of a sequence of str; None without a vocab."""
    if vocab is None:
        return None
    itos = getattr(vocab, "itos", None)
    if itos is None and (isinstance(vocab, str) or not hasattr(vocab, "__iter__")):
        raise ConfigError(f"vocab must be a seqbench Vocab or a sequence of str, got {type(vocab).__name__}")
    words = list(vocab if itos is None else itos)
    bad = next((i for i, w in enumerate(words) if not isinstance(w, str)), None)
    if bad is not None:
        raise ConfigError(f"vocab[{bad}] = {words[bad]!r} is not a str; vocab must be a Vocab or a sequence of str")
    return words


def _draw(probs, u):
    """Inverse-CDF draw of one index per row of ``probs`` (B, V) given uniforms ``u`` (B,)."""
    cdf = np.cumsum(probs, axis=1)
    idx = (cdf < (u * cdf[:, -1])[:, None]).sum(axis=1)
    return np.minimum(idx, probs.shape[1] - 1)


# ----------------------------------------------------------------------------- estimator
@register("ngram")
class NGram(SequenceEstimator):
    """N-gram language model (``fit(X)``) or n-gram tagger (``fit(X, y)``).

    Parameters
    ----------
    order : int, default=3
        n: each token is predicted from the previous ``order - 1`` symbols.
    smoothing : {"kneser_ney", "witten_bell", "add_k"}, default="kneser_ney"
        See the module docstring for the definitions.
    discount : float, sequence of float or None, default=None
        Kneser-Ney only. None: modified Kneser-Ney with three discounts per
        order estimated from counts-of-counts. A value in ``(0, 1]`` (or one
        per order, unigram first): plain interpolated Kneser-Ney with that
        fixed discount.
    k : float, default=1.0
        Pseudo-count of ``add_k`` (> 0).
    vocab : Vocab, sequence of str or None, default=None
        The vocabulary of the ids: fixes ``vocab_size_ = len(vocab)`` (ids
        beyond it are an error) and gives the word strings (ARPA export,
        suffixes of unknown words for the tagger).
    max_suffix : int, default=10
        Tagger: longest suffix used for unknown words.
    random_state : int, numpy Generator or None, default=None
        Default seed of :meth:`sample`.

    Attributes
    ----------
    vocab_size_ : int
    fit_mode_ : {"density", "tagger"}
    tables_ : NGramTables
        The fitted model in backoff form (density mode).
    n_ngrams_ : ndarray of int64, shape (order,)
        Distinct n-grams seen per order (unigrams first).
    discounts_ : ndarray of float64, shape (order, 3) or None
        Kneser-Ney ``D1, D2, D3+`` per order (unigram first).
    discount_fallback_ : ndarray of bool, shape (order,) or None
        Orders whose closed-form discounts were degenerate (see module docstring).
    counts_of_counts_ : ndarray of int64, shape (order, 4) or None
        Kneser-Ney ``n1 .. n4`` of the adjusted counts per order.
    n_tags_ : int
        Tagger mode: number of tags.
    tagger_ : NGramTaggerCore
        Tagger mode: the fitted core.
    words_ : list of str or None
        The vocabulary strings (None without a ``vocab``).
    """

    def __init__(self, order=3, smoothing="kneser_ney", discount=None, k=1.0, vocab=None,
                 max_suffix=10, random_state=None):
        self.order = order
        self.smoothing = smoothing
        self.discount = discount
        self.k = k
        self.vocab = vocab
        self.max_suffix = max_suffix
        self.random_state = random_state

    def __seqbench_tags__(self):
        return Tags(input_kind="discrete", density=True, tagger=True, sampler=True,
                    max_context=True, uses_vocab=True)

    @classmethod
    def get_test_params(cls):
        return [{"order": 2, "smoothing": "kneser_ney"}, {"order": 3, "smoothing": "witten_bell"}]

    # ------------------------------------------------------------------ parameters
    def _check_params(self):
        """Validate the parameters; return the fixed discounts per order (or None)."""
        if not _is_int(self.order, 1):
            raise ConfigError(f"order must be an integer >= 1, got {self.order!r}")
        if self.smoothing not in SMOOTHINGS:
            raise ConfigError(f"smoothing must be one of {', '.join(map(repr, SMOOTHINGS))}, got {self.smoothing!r}")
        if not isinstance(self.k, numbers.Real) or isinstance(self.k, bool) or not np.isfinite(self.k) or self.k <= 0:
            raise ConfigError(f"k must be a finite number > 0, got {self.k!r}")
        if not _is_int(self.max_suffix, 0):
            raise ConfigError(f"max_suffix must be an integer >= 0, got {self.max_suffix!r}")
        if self.discount is None:
            return None
        if self.smoothing != "kneser_ney":
            raise ConfigError(f"discount applies to smoothing='kneser_ney' only, got smoothing={self.smoothing!r}")
        try:
            d = np.asarray(self.discount, dtype=np.float64)
        except (TypeError, ValueError):
            d = np.array([np.nan])
        if d.ndim == 0:
            d = np.full(self.order, float(d))
        if d.shape != (self.order,) or not np.all((d > 0) & (d <= 1)):
            raise ConfigError(
                f"discount must be None, a number in (0, 1] or {self.order} such numbers (one per order), "
                f"got {self.discount!r}")
        return d

    def _levels(self, max_context):
        if max_context is None:
            return self.tables_.order
        if not _is_int(max_context, 0):
            raise ConfigError(f"max_context must be None or an integer >= 0, got {max_context!r}")
        return min(self.tables_.order, int(max_context) + 1)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Fit a language model on ``X`` (``y=None``) or a tagger on ``(X, y)``.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
            Token ids.
        y : list of ndarray of shape (n_steps_i,) or None
            Tag ids.

        Returns
        -------
        self
        """
        fixed = self._check_params()
        words = _vocab_words(self.vocab)
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)  # a refit never keeps state of the other mode
        X = self._validate_fit_X(X)
        self.words_ = words
        if y is not None:
            return self._fit_tagger(X, y, words)
        counts = count_ngrams(X, self.order, self.vocab_size_)
        self.n_ngrams_ = np.array([int((counts.counts[1] > 0).sum())]
                                  + [len(counts.keys[k]) for k in range(2, self.order + 1)], dtype=np.int64)
        self.discounts_ = self.discount_fallback_ = self.counts_of_counts_ = None
        if self.smoothing == "kneser_ney":
            weights, self.discounts_, self.discount_fallback_, self.counts_of_counts_ = kneser_ney_levels(counts, fixed)
            self.tables_ = interpolated_tables(counts, weights)
        elif self.smoothing == "witten_bell":
            weights = [None] + [witten_bell_weights(counts, k) for k in range(1, self.order + 1)]
            self.tables_ = interpolated_tables(counts, weights)
        else:
            self.tables_ = add_k_tables(counts, float(self.k))
        self.fit_mode_ = "density"
        return self

    def _fit_tagger(self, X, y, words):
        from ._ngram_tagger import NGramTaggerCore  # the tagging core is a separate module

        y = check_tags(y, X)
        self.n_tags_ = max(int(t.max()) for t in y) + 1
        self.tagger_ = NGramTaggerCore(self.order, self.n_tags_, self.vocab_size_, words=words,
                                       max_suffix=self.max_suffix).fit(X, y)
        self.fit_mode_ = "tagger"
        return self

    def _check_mode(self, mode, what):
        self._check_fitted()
        if self.fit_mode_ != mode:
            how = "fit(X, y) as a tagger" if self.fit_mode_ == "tagger" else "fit(X) as a language model"
            need = "a language model fitted with fit(X)" if mode == "density" else "a tagger fitted with fit(X, y)"
            raise InvalidSequenceError(f"this NGram was fitted with {how}; {what} needs {need}")

    # ------------------------------------------------------------------ language model
    def score_tokens(self, X, max_context=None):
        """Per-position ``log p(x_t | x_<t)`` in nats.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
        max_context : int or None
            Condition on at most ``min(order - 1, max_context)`` previous
            symbols (``<s>`` counts when within reach); 0 gives the model's
            lowest-order distribution.

        Returns
        -------
        list of ndarray of float64, shape (n_steps_i,)
        """
        self._check_mode("density", "score_tokens")
        levels = self._levels(max_context)
        X = self._validate_X(X, oov_id=self.vocab_size_ + 1)
        stream, real = join_with_bos(X, self.vocab_size_)
        logp = self.tables_.score(stream, real, levels)
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        return np.split(logp, np.cumsum(lengths)[:-1])

    def _history(self, context, levels):
        """Trie nodes after ``<s> context`` (list indexed by depth), for one context."""
        depth = max(levels - 1, 1)
        ids = np.asarray(context)
        if ids.size == 0:
            ids = np.zeros(0, dtype=np.int64)
        else:
            ids = self._validate_X([context], oov_id=self.vocab_size_ + 1)[0]
        stream, real = join_with_bos([ids], self.vocab_size_)
        nodes = lookup_nodes(self.tables_.keys, self.tables_.radix, stream, real, depth)
        return [None] + [nodes[d][-1:] for d in range(1, depth + 1)]

    def next_token_distribution(self, context=(), max_context=None):
        """``p(. | <s> context)`` over the vocabulary.

        Parameters
        ----------
        context : array-like of int, shape (n_steps,)
            The tokens of the sentence so far (may be empty).
        max_context : int or None
            As in :meth:`score_tokens`.

        Returns
        -------
        ndarray of float64, shape (vocab_size_,)
            Sums to 1.
        """
        self._check_mode("density", "next_token_distribution")
        levels = self._levels(max_context)
        return self.tables_.distributions(self._history(context, levels), levels)[0]

    def sample(self, n_sequences=1, length=100, random_state=None):
        """Draw sequences, all at once, one step at a time (inverse CDF of the full distribution).

        Every sequence starts after ``<s>`` and continues for ``length``
        tokens (an end-of-sentence token is an ordinary draw; what follows
        it is drawn from the model's context of it).

        Parameters
        ----------
        n_sequences, length : int
        random_state : int, numpy Generator or None
            None uses the estimator's ``random_state``.

        Returns
        -------
        list of ndarray of int64, shape (length,)
        """
        self._check_mode("density", "sample")
        for name, value in (("n_sequences", n_sequences), ("length", length)):
            if not _is_int(value, 1):
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        rng = np.random.default_rng(self.random_state if random_state is None else random_state)
        t = self.tables_
        depth = max(t.order - 1, 1)
        history = [None, np.full(n_sequences, t.vocab_size, np.int64)]
        history += [np.full(n_sequences, -1, np.int64) for _ in range(2, depth + 1)]
        out = np.empty((n_sequences, length), dtype=np.int64)
        step = max(1, _CHUNK_ELEMENTS // t.vocab_size)
        for pos in range(length):
            u = rng.random(n_sequences)
            for lo in range(0, n_sequences, step):
                part = [None] + [h[lo: lo + step] for h in history[1:]]
                out[lo: lo + step, pos] = _draw(t.distributions(part, t.order), u[lo: lo + step])
            history = extend_nodes(t.keys, t.radix, history, out[:, pos])
        return list(out)

    def to_arpa(self, path, words=None):
        """Write the model as an ARPA backoff file (log10 probabilities and backoff weights).

        Parameters
        ----------
        path : str or path-like
        words : sequence of str or None
            The string of each id; default: the ``vocab`` strings, else ``"w<id>"``.
            The begin symbol is written ``<s>``; ``</s>`` and ``<unk>`` are
            added when absent (see :mod:`._arpa`).
        """
        from ._arpa import check_arpa_words, write_arpa

        self._check_mode("density", "to_arpa")
        if self.tables_.kind != "backoff":
            raise ConfigError(
                "to_arpa needs a backoff model (smoothing 'kneser_ney' or 'witten_bell'); "
                "an add_k model is not one (an unseen word's probability does not factor into a backoff weight)")
        if words is None:
            words = self.words_ if self.words_ is not None else [f"w{i}" for i in range(self.vocab_size_)]
        write_arpa(path, self.tables_, check_arpa_words(words, self.vocab_size_))

    # ------------------------------------------------------------------ tagger
    def _tagger_X(self, X):
        """Validate ``X`` for the tagger: ids beyond the training range pass through as unknown words."""
        return check_sequences(X, kind="discrete", vocab_size=self.vocab_size_ if self.vocab is not None else None)

    def predict(self, X):
        """Most probable tag sequence of each sentence (tagger mode).

        Returns
        -------
        list of ndarray of int64, shape (n_steps_i,)
        """
        self._check_mode("tagger", "predict")
        return self.tagger_.predict(self._tagger_X(X))

    def predict_proba(self, X):
        """Per-position tag marginals (tagger mode).

        Returns
        -------
        list of ndarray of float64, shape (n_steps_i, n_tags_)
        """
        self._check_mode("tagger", "predict_proba")
        return self.tagger_.predict_proba(self._tagger_X(X))
