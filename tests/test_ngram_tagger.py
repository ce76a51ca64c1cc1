"""The n-gram tagging core: hand-checked conditionals, brute-force decoding, unknown words, real data."""
import itertools
from collections import Counter, defaultdict

import numpy as np
import pytest

from conftest import require_corpus
from _toy_tagging import noisy_tags
from seqbench.exceptions import ConfigError, NotFittedError, ResourceLimitError, UnknownSymbolError
from seqbench.models import _ngram_tagger
from seqbench.models._ngram_tagger import NGramTaggerCore


def arrays(seqs):
    return [np.asarray(s, dtype=np.int64) for s in seqs]


def fit_core(X, y, order, n_tags, words=None, **kw):
    V = max(int(max(x)) for x in X) + 1
    return NGramTaggerCore(order, n_tags, V, words=words, **kw).fit(arrays(X), arrays(y))


# ----------------------------------------------------------------- hand-checked conditionals
# w0/0 w1/1 | w0/0 w1/2 | w2/1 w1/1   (3 tags; P(t) = [2, 3, 1] / 6)
HAND_X = [[0, 1], [0, 1], [2, 1]]
HAND_Y = [[0, 1], [0, 2], [1, 1]]


def test_conditionals_by_hand_order_2():
    core = fit_core(HAND_X, HAND_Y, order=2, n_tags=3)
    # P(t|w1) = [0, 2/3, 1/3]; tag bigram Q(t|h) by Witten-Bell over P(t):
    #   Q(.|BOS) = ([2,1,0] + 2 P) / 5 = [8, 6, 1] / 15;  Q(.|0) = ([0,1,1] + 2 P) / 4 = [1/6, 1/2, 1/3]
    #   Q(.|1) = ([0,1,0] + P) / 2 = [1/6, 3/4, 1/12];    Q(.|2) = P (tag 2 never has a successor)
    # base = P(t|w) Q(t|h) / P(t) normalised, then the (w, h) counts on top by Witten-Bell:
    #   h=BOS: (w1, BOS) unseen -> base [0, 8/15, 2/15] normalised = [0, .8, .2]
    #   h=0:   base [0, 1/2, 1/2]; c(w1, 0, .) = [0,1,1], d = 2 -> ([0,1,1] + 2 base) / 4
    #   h=1:   base [0, 6/7, 1/7]; c(w1, 1, .) = [0,1,0], d = 1 -> ([0,1,0] + base) / 2
    #   h=2:   (w1, 2) unseen and Q = P -> P(t|w1)
    p = core.conditional_proba([1, 1, 1, 1], [[-1], [0], [1], [2]])
    np.testing.assert_allclose(p, [[0, 0.8, 0.2], [0, 0.5, 0.5], [0, 13 / 14, 1 / 14], [0, 2 / 3, 1 / 3]], rtol=1e-12)
    # an unknown word (no strings): S = tag distribution of rare words = P(t), so P(t | unk, h) = Q(t | h)
    p = core.conditional_proba([7, 7, 7], [[-1], [0], [1]])
    np.testing.assert_allclose(p, [[8 / 15, 6 / 15, 1 / 15], [1 / 6, 1 / 2, 1 / 3], [1 / 6, 3 / 4, 1 / 12]], rtol=1e-12)


def test_conditionals_by_hand_order_1():
    core = fit_core(HAND_X, HAND_Y, order=1, n_tags=3)
    p = core.conditional_proba([0, 1, 2, 9], np.zeros((4, 0)))
    np.testing.assert_allclose(p, [[1, 0, 0], [0, 2 / 3, 1 / 3], [0, 1, 0], [2 / 6, 3 / 6, 1 / 6]])
    proba = core.predict_proba(arrays([[1, 0, 9]]))[0]
    np.testing.assert_allclose(proba, p[[1, 0, 3]])
    np.testing.assert_array_equal(core.predict(arrays([[1, 0, 2]]))[0], [1, 0, 1])


# ----------------------------------------------------------- reference implementation (dicts)
def reference_conditional(X, y, order, n_tags, word, hist, S):
    """P(. | word, hist) by the documented formulas with plain Python counting.

    ``hist`` holds the previous tags newest first (``None`` before the start);
    ``S`` is the unknown-word distribution used when ``word`` was never seen;
    ``None``: the tag distribution of rare (count <= 10) training words.
    """
    if S is None:
        freq = Counter(w for xs in X for w in xs)
        rare = Counter(t for xs, ys in zip(X, y) for w, t in zip(xs, ys) if freq[w] <= 10)
        S = [rare[t] / sum(rare.values()) for t in range(n_tags)]
    lex, tag = defaultdict(Counter), defaultdict(Counter)  # context -> Counter of next tags
    for xs, ys in zip(X, y):
        for i, (w, t) in enumerate(zip(xs, ys)):
            h = tuple(ys[i - j] if i - j >= 0 else None for j in range(1, order))
            for k in range(order):
                lex[(w,) + h[:k]][t] += 1
                tag[h[:k]][t] += 1

    def wb(table, prefix, base):
        p = list(base)
        for k in range(1, order):
            c = table.get(prefix + tuple(hist[:k]))
            if c:
                total, d = sum(c.values()), len(c)
                p = [(c[t] + d * p[t]) / (total + d) for t in range(n_tags)]
        return p

    prior = [tag[()][t] / sum(tag[()].values()) for t in range(n_tags)]
    seen = (word,) in lex
    base = [lex[(word,)][t] / sum(lex[(word,)].values()) for t in range(n_tags)] if seen else list(S)
    q = wb(tag, (), prior)
    u = [base[t] * q[t] / prior[t] if prior[t] > 0 else 0.0 for t in range(n_tags)]
    base = [v / sum(u) for v in u]
    return wb(lex, (word,), base) if seen else base


def random_corpus(rng, n_sent=14, n_words=6, n_tags=3):
    X = [rng.integers(0, n_words, rng.integers(1, 7)).tolist() for _ in range(n_sent)]
    return X, noisy_tags(rng, X, n_tags)


WORDS = ["walk", "Talk", "sing", "Song", "bag", "rag", "Bing", "ring", "xylo"]  # ids 6.. are never trained


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("with_words", [False, True])
def test_conditionals_match_reference(order, with_words, rng):
    X, y = random_corpus(rng)
    core = fit_core(X, y, order, 3, words=WORDS if with_words else None, max_suffix=3)
    pairs = list(itertools.product(range(9), itertools.product([None, 0, 1, 2], repeat=order - 1)))
    words, hists = [w for w, _ in pairs], [h for _, h in pairs]
    got = core.conditional_proba(words, [[-1 if t is None else t for t in h] for h in hists])
    for row, w, h in zip(got, words, hists):
        S = core.suffix_.predict_proba([WORDS[w]])[0] if with_words else None
        np.testing.assert_allclose(row, reference_conditional(X, y, order, 3, w, h, S), rtol=1e-10, atol=1e-15)
        assert row.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------- brute-force decoding
def brute_force(core, x, n_tags):
    """All tag sequences of the chain: (sequences, probabilities)."""
    seqs = np.array(list(itertools.product(range(n_tags), repeat=len(x))))
    depth = core.order - 1
    hist = np.full((len(seqs), len(x), depth), -1)
    for lag in range(1, depth + 1):
        if lag < len(x):
            hist[:, lag:, lag - 1] = seqs[:, :-lag]
    cond = core.conditional_proba(np.tile(x, len(seqs)), hist.reshape(-1, depth))
    p = cond[np.arange(cond.shape[0]), seqs.reshape(-1)].reshape(len(seqs), len(x)).prod(axis=1)
    return seqs, p


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("with_words", [False, True])
def test_viterbi_and_marginals_equal_brute_force(order, with_words, rng):
    X, y = random_corpus(rng, n_sent=20)
    core = fit_core(X, y, order, 3, words=WORDS if with_words else None, max_suffix=3)
    tests = arrays([[0, 7, 1, 2], [3], [6, 8], [4, 5, 0], [7, 7, 1, 6], [2, 2]])  # 6, 7, 8 unknown
    pred, proba = core.predict(tests), core.predict_proba(tests)
    for x, tags, marg in zip(tests, pred, proba):
        seqs, p = brute_force(core, x, 3)
        assert p.sum() == pytest.approx(1.0)
        assert tags.dtype == np.int64 and marg.dtype == np.float64 and marg.shape == (len(x), 3)
        best = seqs[np.argmax(p)]
        assert p[(seqs == tags).all(axis=1)][0] == pytest.approx(p.max(), rel=1e-12)
        if np.sort(p)[-2] < p.max() * (1 - 1e-9):
            np.testing.assert_array_equal(tags, best)
        expected = np.stack([np.bincount(seqs[:, i], weights=p, minlength=3) for i in range(len(x))])
        np.testing.assert_allclose(marg, expected, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(marg.sum(axis=1), 1.0)


def test_chunked_decoding_matches_one_chunk(rng, monkeypatch):
    X, y = random_corpus(rng, n_sent=30)
    core = fit_core(X, y, 3, 3, words=WORDS)
    tests = arrays([rng.integers(0, 9, rng.integers(1, 9)) for _ in range(25)])
    whole = core.predict(tests), core.predict_proba(tests)
    monkeypatch.setattr(_ngram_tagger, "EDGE_BUDGET", 1)  # one sentence per chunk
    for a, b in zip(whole[0], core.predict(tests)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(whole[1], core.predict_proba(tests)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ------------------------------------------------------------------------- toy corpora
def test_deterministic_tags_are_learned_exactly():
    # word -> tag is a function: every order tags training and new sentences perfectly
    X = [[0, 1, 2], [3, 1, 4, 0], [2, 2, 3], [4]]
    y = [[w % 3 for w in s] for s in X]
    tests = arrays([[4, 3, 2, 1, 0], [1], [0, 0, 0]])
    for order in (1, 2, 3):
        core = fit_core(X, y, order, 3)
        for x, t in zip(tests, core.predict(tests)):
            np.testing.assert_array_equal(t, x % 3)


def test_history_disambiguates_a_word():
    # "can" (1) is MD (1) after PRP (0, word 0) and NN (3) after DT (2, word 2); "see" (3) is VB (4)
    X = [[0, 1, 3], [2, 1], [0, 1, 3], [2, 1], [2, 1], [0, 1]]
    y = [[0, 1, 4], [2, 3], [0, 1, 4], [2, 3], [2, 3], [0, 1]]
    tests = arrays([[2, 1], [0, 1, 3], [2, 1, 0, 1]])
    truth = [[2, 3], [0, 1, 4], [2, 3, 0, 1]]
    unigram = fit_core(X, y, 1, 5).predict(tests)
    assert any((p != t).any() for p, t in zip(unigram, truth))
    for order in (2, 3):
        for p, t in zip(fit_core(X, y, order, 5).predict(tests), truth):
            np.testing.assert_array_equal(p, t)


def suffix_corpus():
    """'the' (frequent, tag 0) + rare nouns (tag 2) + rare -ing words (tag 1)."""
    words = ["the", "dog", "cat", "bird", "fish", "tree", "sun", "running", "jumping", "eating", "singing",
             "walking", "moon"]  # ids 11 ("walking") and 12 ("moon") are never trained
    nouns, verbs = [1, 2, 3, 4, 5, 6], [7, 8, 9, 10]
    X = [[0, nouns[i % 6], verbs[i % 4]] for i in range(12)]
    y = [[0, 2, 1]] * 12
    return X, y, words


@pytest.mark.parametrize("order", [1, 2, 3])
def test_unknown_words_use_suffixes_and_fall_back_without_strings(order):
    X, y, words = suffix_corpus()
    V = 11
    tests = arrays([[11], [0, 12, 11], [12]])
    core = NGramTaggerCore(order, 3, V, words=words).fit(arrays(X), arrays(y))
    pred = core.predict(tests)
    assert pred[0][0] == 1                           # "walking" like the rare -ing words
    np.testing.assert_array_equal(pred[1], [0, 2, 1])
    # without strings every unknown word gets the rare-word tags (nouns 12 : verbs 12 tokens);
    # at the sentence start the history is silent about tags 1 and 2, so S decides: a tie -> both 1/2
    blind = NGramTaggerCore(order, 3, V).fit(arrays(X), arrays(y))
    p = blind.predict_proba(tests)
    np.testing.assert_allclose(p[0][0], [0, 0.5, 0.5])
    np.testing.assert_allclose(p[2][0], p[0][0])
    assert core.predict_proba(tests)[0][0][1] > 0.9


def test_unknown_ids_beyond_vocab_size_and_words():
    X, y, words = suffix_corpus()
    core = NGramTaggerCore(2, 3, 11, words=words).fit(arrays(X), arrays(y))
    with pytest.raises(UnknownSymbolError, match=r"X\[1\]\[2\] = 13"):
        core.predict(arrays([[0, 1], [0, 1, 13]]))
    # without strings any id is accepted
    blind = NGramTaggerCore(2, 3, 11).fit(arrays(X), arrays(y))
    assert blind.predict(arrays([[0, 10**6]]))[0][0] == 0


def test_bad_parameters():
    X, y = arrays([[0, 1]]), arrays([[0, 1]])
    with pytest.raises(ResourceLimitError, match="125,000"):
        NGramTaggerCore(4, 50, 2).fit(X, y)
    with pytest.raises(ConfigError, match="order"):
        NGramTaggerCore(0, 3, 2).fit(X, y)
    with pytest.raises(UnknownSymbolError, match=r"y\[0\]\[1\] = 5"):
        NGramTaggerCore(2, 3, 2).fit(X, arrays([[0, 5]]))
    with pytest.raises(UnknownSymbolError, match=r"history\[0\]\[0\] = 3"):
        NGramTaggerCore(2, 3, 2).fit(X, y).conditional_proba([0], [[3]])
    with pytest.raises(NotFittedError):
        NGramTaggerCore(2, 3, 2).predict(X)


# ------------------------------------------------------------------------- real corpus
def treebank_split():
    """Penn Treebank sample without -NONE- tokens: first 90% of sentences train, last 10% test."""
    (path,) = require_corpus("nltk_data/corpora/treebank.zip")
    nltk = pytest.importorskip("nltk")
    nltk.data.path.insert(0, str(path.parent.parent))
    sents = [[(w, t) for w, t in s if t != "-NONE-"] for s in nltk.corpus.treebank.tagged_sents()]
    sents = [s for s in sents if s]
    cut = int(0.9 * len(sents))
    word_id, tag_id = {}, {}
    for s in sents[:cut]:
        for w, t in s:
            word_id.setdefault(w, len(word_id))
            tag_id.setdefault(t, len(tag_id))
    V = len(word_id)
    for s in sents[cut:]:
        for w, t in s:
            word_id.setdefault(w, len(word_id))
            tag_id.setdefault(t, len(tag_id))

    def encode(part):
        return ([np.array([word_id[w] for w, _ in s]) for s in part],
                [np.array([tag_id[t] for _, t in s]) for s in part])

    return encode(sents[:cut]), encode(sents[cut:]), V, list(word_id), len(tag_id), sents[:cut]


@pytest.mark.corpus
def test_treebank_accuracy():
    (Xtr, ytr), (Xte, yte), V, words, n_tags, train_sents = treebank_split()
    truth, x = np.concatenate(yte), np.concatenate(Xte)
    known = x < V
    acc = {}
    for order in (1, 2, 3):
        for with_words in (True, False):
            core = NGramTaggerCore(order, n_tags, V, words=words if with_words else None).fit(Xtr, ytr)
            ok = np.concatenate(core.predict(Xte)) == truth
            acc[order, with_words] = (ok.mean(), ok[known].mean(), ok[~known].mean())
    print({k: tuple(round(float(v), 4) for v in vals) for k, vals in acc.items()})
    assert acc[1, True][0] >= 0.91
    for order in (2, 3):
        overall, on_known, on_unknown = acc[order, True]
        assert overall >= 0.935 and on_known >= 0.955 and on_unknown >= 0.70
        assert overall >= acc[1, True][0] + 0.01                     # the history helps
        assert on_unknown >= acc[order, False][2] + 0.2               # the suffixes help


@pytest.mark.corpus
def test_treebank_unigram_agrees_with_nltk():
    (Xtr, ytr), (Xte, _), V, words, n_tags, train_sents = treebank_split()
    from nltk.tag import UnigramTagger

    core = NGramTaggerCore(1, n_tags, V, words=words).fit(Xtr, ytr)
    pred, proba = np.concatenate(core.predict(Xte)), np.concatenate(core.predict_proba(Xte))
    x = np.concatenate(Xte)
    peer = UnigramTagger(train_sents)
    tag_names = {}
    for (s, tags) in zip(train_sents, ytr):
        tag_names.update(zip(tags.tolist(), (t for _, t in s)))
    known = x < V
    top2 = np.sort(proba, axis=1)[:, -2:]
    unique = known & (top2[:, 1] > top2[:, 0])  # ties may break differently
    theirs = [t for _, t in peer.tag([words[i] for i in x[unique]])]
    assert [tag_names[t] for t in pred[unique]] == theirs
