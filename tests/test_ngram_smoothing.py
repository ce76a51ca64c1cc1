"""Known answers for the n-gram smoothing methods: hand computations, closed forms, a brute-force
reference and NLTK as an oracle."""
from collections import Counter, defaultdict
from fractions import Fraction as F
from math import log

import numpy as np
import pytest

from seqbench.models import NGram

BOS = "<s>"

# The 3-sentence corpus of the hand computations: a=0, b=1, c=2, e=3 (end of sentence, an ordinary word).
HAND = [np.array([0, 1, 3]), np.array([0, 2, 3]), np.array([1, 2, 3])]


def _contexts(X, rng, vocab_size, n_random=15, max_len=5):
    """Every prefix of every training sentence, plus random ones (unseen words, out-of-range ids)."""
    out = [x[:t] for x in X for t in range(len(x) + 1)]
    out += [rng.integers(0, vocab_size + 2, size=rng.integers(0, max_len + 1)) for _ in range(n_random)]
    return out


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(7)
    X = [rng.integers(0, 5, size=rng.integers(1, 7)) for _ in range(12)]
    X.append(np.array([6, 6, 6, 6]))  # id 5 never occurs: an unseen vocabulary word
    return X


# ----------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell", "add_k"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_next_token_distribution_sums_to_one(toy, smoothing, order):
    model = NGram(order=order, smoothing=smoothing).fit(toy)
    rng = np.random.default_rng(order)
    for context in _contexts(toy, rng, model.vocab_size_):
        for max_context in (None, 0, 1, 2):
            p = model.next_token_distribution(context, max_context=max_context)
            assert p.shape == (model.vocab_size_,)
            assert np.all(p > 0)
            assert abs(p.sum() - 1.0) < 1e-12


@pytest.mark.parametrize("discount", [0.3, [0.2, 0.9, 0.5]])
def test_fixed_discount_distributions_sum_to_one(toy, discount):
    model = NGram(order=3, discount=discount).fit(toy)
    for context in _contexts(toy, np.random.default_rng(0), model.vocab_size_):
        assert abs(model.next_token_distribution(context).sum() - 1.0) < 1e-12


# ----------------------------------------------------------------------------- hand computations
def test_interpolated_kneser_ney_by_hand_bigram():
    # Padded: <s> a b e / <s> a c e / <s> b c e, discount D = 1/2, V = 4.
    D, V = F(1, 2), 4
    # continuation counts N1+(. w): a {<s>}, b {<s>, a}, c {a, b}, e {b, c}; N1+(. .) = 7, 4 types
    cont = {0: 1, 1: 2, 2: 2, 3: 2}
    p1 = {w: (n - D) / 7 + D * 4 / 7 * F(1, V) for w, n in cont.items()}
    assert p1 == {0: F(1, 7), 1: F(2, 7), 2: F(2, 7), 3: F(2, 7)}
    # bigrams after <s>: c(<s> a) = 2, c(<s> b) = 1; c(<s>) = 3 with 2 distinct followers
    after_bos = {0: 2, 1: 1, 2: 0, 3: 0}
    p2 = {w: max(c - D, F(0)) / 3 + D * 2 / 3 * p1[w] for w, c in after_bos.items()}
    assert p2 == {0: F(23, 42), 1: F(11, 42), 2: F(4, 42), 3: F(4, 42)}

    model = NGram(order=2, discount=0.5).fit(HAND)
    np.testing.assert_allclose(model.next_token_distribution([]), [float(p2[w]) for w in range(4)], rtol=1e-13)
    np.testing.assert_allclose(model.next_token_distribution([], max_context=0),
                               [float(p1[w]) for w in range(4)], rtol=1e-13)
    # an id beyond the training range is an unseen word: gamma(<s>) * gamma(root) / V = 1/3 * 2/7 * 1/4
    assert model.score_tokens([np.array([9])])[0][0] == pytest.approx(log(1 / 42), abs=1e-13)


def test_interpolated_kneser_ney_by_hand_trigram():
    D = F(1, 2)
    # unigram level as in the bigram case
    p1 = {0: F(1, 7), 1: F(2, 7), 2: F(2, 7), 3: F(2, 7)}
    # bigram level, context b: continuation counts N1+(. b e) = |{a}| = 1, N1+(. b c) = |{<s>}| = 1
    # total 2, two followers -> gamma(b) = D * 2 / 2
    p2_b = {w: max(n - D, F(0)) / 2 + D * 2 / 2 * p1[w] for w, n in {0: 0, 1: 0, 2: 1, 3: 1}.items()}
    assert p2_b == {0: F(2, 28), 1: F(4, 28), 2: F(11, 28), 3: F(11, 28)}
    # bigram level, context a: N1+(. a b) = N1+(. a c) = |{<s>}| = 1
    p2_a = {w: max(n - D, F(0)) / 2 + D * 2 / 2 * p1[w] for w, n in {0: 0, 1: 1, 2: 1, 3: 0}.items()}
    # trigram level, raw counts: c(a b e) = 1 (one follower), c(<s> a b) = c(<s> a c) = 1
    p3_ab = {w: max(c - D, F(0)) / 1 + D * 1 / 1 * p2_b[w] for w, c in {0: 0, 1: 0, 2: 0, 3: 1}.items()}
    assert p3_ab == {0: F(2, 56), 1: F(4, 56), 2: F(11, 56), 3: F(39, 56)}
    p3_bos_a = {w: max(c - D, F(0)) / 2 + D * 2 / 2 * p2_a[w] for w, c in {0: 0, 1: 1, 2: 1, 3: 0}.items()}
    # the first word: <s> a is an n-gram that starts at <s>, so it keeps its raw count 2 (of 3)
    p_first_a = (2 - D) / 3 + D * 2 / 3 * p1[0]

    model = NGram(order=3, discount=0.5).fit(HAND)
    np.testing.assert_allclose(model.next_token_distribution([0, 1]), [float(p3_ab[w]) for w in range(4)], rtol=1e-13)
    np.testing.assert_allclose(model.next_token_distribution([2, 0, 1], max_context=1),
                               [float(p2_b[w]) for w in range(4)], rtol=1e-13)
    expected = [log(p_first_a), log(p3_bos_a[1]), log(p3_ab[3])]
    np.testing.assert_allclose(model.score_tokens([HAND[0]])[0], expected, rtol=0, atol=1e-13)


def test_witten_bell_by_hand():
    # raw unigram counts a 2, b 2, c 2, e 3 (N = 9, 4 types): p1(w) = (c(w) + 4 / 4) / (9 + 4)
    p1 = {w: F(c + 1, 13) for w, c in {0: 2, 1: 2, 2: 2, 3: 3}.items()}
    # after <s>: c(<s> a) = 2, c(<s> b) = 1, total 3, 2 types: (c + 2 p1) / (3 + 2)
    p2 = {w: (c + 2 * p1[w]) / 5 for w, c in {0: 2, 1: 1, 2: 0, 3: 0}.items()}
    assert p2 == {0: F(32, 65), 1: F(19, 65), 2: F(6, 65), 3: F(8, 65)}
    model = NGram(order=2, smoothing="witten_bell").fit(HAND)
    np.testing.assert_allclose(model.next_token_distribution([]), [float(p2[w]) for w in range(4)], rtol=1e-13)
    np.testing.assert_allclose(model.next_token_distribution([], max_context=0),
                               [float(p1[w]) for w in range(4)], rtol=1e-13)


def test_add_k_closed_form():
    k, V = 0.5, 4
    model = NGram(order=2, smoothing="add_k", k=k).fit(HAND)
    # seen context <s> (c = 3): (c(<s> w) + k) / (3 + k V)
    after_bos = (np.array([2, 1, 0, 0]) + k) / (3 + k * V)
    np.testing.assert_allclose(model.next_token_distribution([]), after_bos, rtol=1e-13)
    # e is never followed in training: its context is unseen -> unigram level (c(w) + k) / (9 + k V)
    unigram = (np.array([2, 2, 2, 3]) + k) / (9 + k * V)
    np.testing.assert_allclose(model.next_token_distribution([3]), unigram, rtol=1e-13)
    s = model.score_tokens([np.array([0, 2, 3, 1])])[0]
    expected = [(2 + k) / (3 + k * V), (1 + k) / (2 + k * V), (2 + k) / (2 + k * V), unigram[1]]
    np.testing.assert_allclose(s, np.log(expected), rtol=0, atol=1e-13)


# ----------------------------------------------------------------------------- modified Kneser-Ney
def _padded_grams(X, order):
    """Counter per order of the n-grams ending at each word (single <s> before each sentence)."""
    counts = defaultdict(Counter)
    for x in X:
        s = (BOS,) + tuple(int(v) for v in x)
        for t in range(1, len(s)):
            for n in range(1, min(order, t + 1) + 1):
                counts[n][s[t - n + 1: t + 1]] += 1
    return counts


def _adjusted(counts, order):
    """Chen & Goodman's adjusted counts: raw at the top order and for n-grams starting at <s>,
    else the number of distinct left neighbours."""
    adj = {}
    for n in range(1, order + 1):
        if n == order:
            adj[n] = dict(counts[n])
            continue
        left = Counter(g[1:] for g in counts[n + 1])
        adj[n] = {g: (c if g[0] == BOS else left[g]) for g, c in counts[n].items()}
    return adj


def _closed_form_discounts(adjusted):
    """Chen & Goodman's D1, D2, D3+; KenLM's fallback (0.5, 1, 1.5) where undefined or out of (0, c]."""
    n = Counter(adjusted.values())  # n[c]: how many n-grams have adjusted count exactly c
    if min(n[1], n[2], n[3]) == 0:
        return [0.5, 1.0, 1.5], True
    y = n[1] / (n[1] + 2 * n[2])
    d = [1 - 2 * y * n[2] / n[1], 2 - 3 * y * n[3] / n[2], 3 - 4 * y * n[4] / n[3]]
    ok = all(0 < d[c - 1] <= c for c in (1, 2, 3))
    return (d, False) if ok else ([0.5, 1.0, 1.5], True)


def _reference_modified_kn(X, order, vocab_size):
    """Brute-force interpolated modified Kneser-Ney p(w | context tuple), from dictionaries."""
    adj = _adjusted(_padded_grams(X, order), order)
    disc = {n: _closed_form_discounts(adj[n])[0] for n in adj}
    follow = {n: defaultdict(dict) for n in adj}
    for n, table in adj.items():
        for g, c in table.items():
            follow[n][g[:-1]][g[-1]] = c

    def prob(w, ctx):
        n = len(ctx) + 1
        lower = prob(w, ctx[1:]) if ctx else 1.0 / vocab_size
        row = follow[n].get(ctx, {})
        if not row:  # a context never seen: the shorter context's distribution
            return lower
        total = sum(row.values())
        d = lambda c: disc[n][min(c, 3) - 1]  # noqa: E731
        gamma = sum(d(c) for c in row.values()) / total
        c = row.get(w, 0)
        return ((c - d(c)) if c else 0.0) / total + gamma * lower

    return prob, disc


def _zipf_corpus(seed, n_sentences=300, vocab_size=40):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, vocab_size + 1)
    return [rng.choice(vocab_size, size=rng.integers(2, 9), p=weights / weights.sum()) for _ in range(n_sentences)]


@pytest.mark.parametrize("order", [2, 3, 4])
def test_modified_kneser_ney_discounts_closed_form(order):
    X = _zipf_corpus(order, n_sentences=500, vocab_size=300)  # a long tail: no order is degenerate
    model = NGram(order=order).fit(X)
    adj = _adjusted(_padded_grams(X, order), order)
    expected, fallback = zip(*(_closed_form_discounts(adj[n]) for n in range(1, order + 1)))
    np.testing.assert_allclose(model.discounts_, np.array(expected), rtol=1e-12)
    np.testing.assert_array_equal(model.discount_fallback_, fallback)
    assert not any(fallback[:3])  # the closed form itself is exercised at orders 1 .. 3
    coc = [[sum(1 for c in adj[n].values() if c == j) for j in (1, 2, 3)] for n in range(1, order + 1)]
    np.testing.assert_array_equal(model.counts_of_counts_[:, :3], coc)


@pytest.mark.parametrize("order", [2, 3])
def test_modified_kneser_ney_equals_brute_force(order):
    X = _zipf_corpus(10 + order)
    V = 40
    model = NGram(order=order).fit(X)
    prob, _ = _reference_modified_kn(X, order, V)
    rng = np.random.default_rng(0)
    contexts = [x[:t] for x in X[:40] for t in range(len(x) + 1)] + [rng.integers(0, V, 4) for _ in range(10)]
    for context in contexts:
        full = (BOS,) + tuple(int(v) for v in context)
        ctx = full[max(0, len(full) - (order - 1)):] if order > 1 else ()
        expected = [prob(w, ctx) for w in range(V)]
        np.testing.assert_allclose(model.next_token_distribution(context), expected, rtol=1e-12)


def test_degenerate_counts_of_counts_fall_back():
    # one sentence: every bigram and trigram occurs once (n2 = 0), the closed form is undefined
    model = NGram(order=3).fit([np.array([0, 1, 2, 3, 4])])
    assert model.discount_fallback_[1:].all()
    np.testing.assert_array_equal(model.discounts_[2], [0.5, 1.0, 1.5])
    assert abs(model.next_token_distribution([0, 1]).sum() - 1) < 1e-12
    assert np.isfinite(model.score_tokens([np.array([4, 3, 2])])[0]).all()


# ----------------------------------------------------------------------------- NLTK as an oracle
def _nltk_grams(X, order, words):
    """The n-grams this model counts, as NLTK training text: single <s>, no right padding."""
    out = []
    for x in X:
        s = [BOS] + [words[i] for i in x]
        out.append([tuple(s[t - n + 1: t + 1]) for t in range(1, len(s)) for n in range(1, min(order, t + 1) + 1)])
    return out


def _full_contexts(X, order, rng, vocab_size, n_random=10):
    """Contexts of exactly order - 1 symbols (<s> only first), seen ones and random ones."""
    found = set()
    for x in X:
        s = [BOS] + [int(v) for v in x]
        for t in range(order - 1, len(s) + 1):
            found.add(tuple(s[t - order + 1: t]))
    found |= {tuple(int(v) for v in rng.integers(0, vocab_size, order - 1)) for _ in range(n_random)}
    return sorted(found, key=str)


def _nltk_model(kind, order, X, words, discount=None):
    """NLTK's interpolated model with its lowest level replaced by the uniform-floor one.

    That lowest level is the one documented difference (NLTK's is undiscounted,
    without the 1/V floor); everything above it is NLTK's own code.
    """
    nltk_lm = pytest.importorskip("nltk.lm")
    from nltk.lm.smoothing import KneserNey, WittenBell

    V = len(words)
    if kind == "kneser_ney":
        class Smoothing(KneserNey):
            def unigram_score(self, word):
                cont, total = self._continuation_counts(word)
                types = sum(1 for w in words if self._continuation_counts(w)[0] > 0)
                return max(cont - self.discount, 0) / total + self.discount * types / total / V

        lm = nltk_lm.KneserNeyInterpolated(order, discount=discount)
        lm.estimator = Smoothing(lm.vocab, lm.counts, discount=discount, order=order)
    else:
        class Smoothing(WittenBell):
            def unigram_score(self, word):
                uni = self.counts.unigrams
                types = sum(1 for w in words if uni[w] > 0)
                return (uni[word] + types / V) / (uni.N() + types)

        lm = nltk_lm.WittenBellInterpolated(order)
        lm.estimator = Smoothing(lm.vocab, lm.counts)
    lm.fit(_nltk_grams(X, order, words), words + [BOS])
    return lm


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("discount", [0.1, 0.75, 1.0])
def test_fixed_discount_equals_nltk_kneser_ney(order, discount):
    X = _zipf_corpus(order, n_sentences=25, vocab_size=7)
    words = [f"w{i}" for i in range(7)]
    lm = _nltk_model("kneser_ney", order, X, words, discount)
    model = NGram(order=order, discount=discount).fit(X)
    for ctx in _full_contexts(X, order, np.random.default_rng(order), 7):
        ids = [v for v in ctx if v != BOS]
        expected = [lm.score(w, [BOS if v == BOS else words[v] for v in ctx]) for w in words]
        np.testing.assert_allclose(model.next_token_distribution(ids), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_witten_bell_equals_nltk(order):
    X = _zipf_corpus(20 + order, n_sentences=25, vocab_size=7)
    words = [f"w{i}" for i in range(7)]
    lm = _nltk_model("witten_bell", order, X, words)
    model = NGram(order=order, smoothing="witten_bell").fit(X)
    for ctx in _full_contexts(X, order, np.random.default_rng(order), 7):
        ids = [v for v in ctx if v != BOS]
        expected = [lm.score(w, [BOS if v == BOS else words[v] for v in ctx]) for w in words]
        np.testing.assert_allclose(model.next_token_distribution(ids), expected, rtol=0, atol=1e-12)
