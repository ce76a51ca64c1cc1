"""The supervised HMM tagging core: hand-computed interpolation, brute-force inference, density, real data."""
import itertools
import math
from collections import Counter

import numpy as np
import pytest

from conftest import require_corpus
from _toy_tagging import noisy_tags
from seqbench.exceptions import (ConfigError, ImpossibleSequenceWarning, InvalidSequenceError, NotFittedError,
                                 ResourceLimitError, UnknownSymbolError)
from seqbench.models import _hmm_tagger
from seqbench.models._hmm_tagger import HMMTaggerCore, deleted_interpolation, refine_states, tag_ngram_counts
from seqbench.models._suffix import SuffixModel
from seqbench.models._unknown_words import UnknownWordModel, word_shape


def arrays(seqs):
    return [np.asarray(s, dtype=np.int64) for s in seqs]


def n_lengths(X):
    return np.array([len(s) for s in X])


# ------------------------------------------------------------------ deleted interpolation by hand
# Two sentences, tags A = 0, B = 1 (boundary = 2):  "A B"  and  "A A".
# Events (t1, t2, t3): (S,S,A) x2, (S,A,B), (A,B,E), (S,A,A), (A,A,E);  N = 6 (4 tags + 2 EOS).
# f(A) = 3, f(B) = 1, f(E) = 2; history counts f(S) = 2, f(A) = 3, f(B) = 1;
# f(S,S) = 2, f(S,A) = 2, f(A,B) = 1, f(A,A) = 1.
#   (S,S,A) f=2: tri (2-1)/(2-1) = 1, bi (f(S,A)-1)/(f(S)-1) = 1, uni (3-1)/5 = .4 -> tie: l2 += 1, l3 += 1
#   (S,A,B) f=1: tri 0/1 = 0, bi 0/2 = 0, uni 0/5 = 0                         -> 3-way tie: 1/3 each
#   (A,B,E) f=1: tri 0/0 -> 0, bi 0/0 -> 0, uni 1/5                            -> l1 += 1
#   (S,A,A) f=1: tri 0/1, bi 0/2, uni 2/5                                      -> l1 += 1
#   (A,A,E) f=1: tri 0/0, bi 0/2, uni 1/5                                      -> l1 += 1
# l = (10/3, 4/3, 4/3) / 6 = (5/9, 2/9, 2/9).
# Order 1 over the bigrams: (S,A) x2 -> l2 += 2; (A,B): 0 vs 0 -> 1/2 each; (B,E), (A,A), (A,E) -> l1:
# l = (3.5, 2.5) / 6 = (7/12, 5/12).
HAND_Y = [[0, 1], [0, 0]]
HAND_X = [[0, 1], [0, 0]]


def test_deleted_interpolation_by_hand():
    y, lengths = np.concatenate(arrays(HAND_Y)), n_lengths(HAND_Y)
    np.testing.assert_allclose(deleted_interpolation(tag_ngram_counts(y, lengths, 2, 2)), [5 / 9, 2 / 9, 2 / 9])
    np.testing.assert_allclose(deleted_interpolation(tag_ngram_counts(y, lengths, 1, 2)), [7 / 12, 5 / 12])
    core = HMMTaggerCore(2, 2, 2).fit(arrays(HAND_X), arrays(HAND_Y))
    np.testing.assert_allclose(core.lambdas_, [5 / 9, 2 / 9, 2 / 9])
    # P(B | S, A) = 5/9 * 1/6 + 2/9 * f(A,B)/f(A) + 2/9 * f(S,A,B)/f(S,A) = 5/54 + 2/27 + 1/9 = 5/18
    assert core.trans_[2, 0, 1] == pytest.approx(5 / 18)
    # history (B, A) never seen: its trigram estimate is the renormalised lower orders, so
    # P(E | B, A) = (5/9 * 2/6 + 2/9 * 1/3) / (7/9) = 1/3
    assert core.trans_[1, 0, 2] == pytest.approx(1 / 3)
    np.testing.assert_allclose(core.trans_.sum(axis=-1), 1.0)


def test_lambdas_agree_with_nltk_tnt(rng):
    tnt = pytest.importorskip("nltk.tag.tnt")
    X, y = random_corpus(rng, n_sent=60, n_words=8, n_tags=4)
    for order in (1, 2):
        core = HMMTaggerCore(order, 4, 8).fit(arrays(X), arrays(y))
        assert core.lambdas_.sum() == pytest.approx(1.0)
        if order == 2:
            ref = tnt.TnT()
            ref.train([[(str(w), str(t)) for w, t in zip(xs, ys)] for xs, ys in zip(X, y)])
            np.testing.assert_allclose(core.lambdas_, [ref._lambda1, ref._lambda2, ref._lambda3], rtol=1e-12)


# ------------------------------------------------------------------ a plain-Python reference model
class Reference:
    """The documented model with dict counting and explicit loops (no numpy), for brute force."""

    def __init__(self, X, y, order, K, smooth_rare, smooth_weight=1.0):
        self.order, self.K, B = order, K, "B"
        self.grams = Counter()  # (history tuple oldest first, outcome) over all orders
        n = 0
        for ys in y:
            ext = [B] * order + list(ys) + ["E"]
            for i in range(order, len(ext)):
                n += 1
                for k in range(order + 1):
                    self.grams[(tuple(ext[i - k:i]), ext[i])] += 1
        self.N = n
        self.ctx = Counter()
        for (h, _), c in self.grams.items():
            self.ctx[h] += c
        self.lambdas = self._lambdas()
        self.lex = Counter((w, t) for xs, ys in zip(X, y) for w, t in zip(xs, ys))
        self.wc = Counter(w for xs in X for w in xs)
        self.tc = Counter(t for ys in y for t in ys)
        self.distinct = Counter(t for (_, t) in self.lex)
        total = sum(self.tc.values())
        self.prior = [self.tc[t] / total for t in range(K)]
        rare = Counter(t for (w, t), c in self.lex.items() for _ in range(c) if self.wc[w] <= 10)
        self.rare = [rare[t] / sum(rare.values()) for t in range(K)]
        self.smooth_rare, self.a = smooth_rare, smooth_weight

    def _lambdas(self):
        mass = [0.0] * (self.order + 1)
        for (h, c), f in self.grams.items():
            if len(h) != self.order:
                continue
            scores = []
            for k in range(self.order + 1):
                hk = h[len(h) - k:]
                num, den = self.grams[(hk, c)], (self.N if k == 0 else self.ctx[hk])
                scores.append((num - 1) / (den - 1) if den != 1 else 0.0)
            best = [k for k, s in enumerate(scores) if s == max(scores)]
            for k in best:
                mass[k] += f / len(best)
        return [m / sum(mass) for m in mass]

    def trans(self, hist, c):
        """P(c | hist), hist oldest first; c = "E" for the end."""
        q = self.grams[((), c)] / self.N
        seen = self.lambdas[0]
        for k in range(1, self.order + 1):
            hk = tuple(hist[len(hist) - k:])
            ml = self.grams[(hk, c)] / self.ctx[hk] if self.ctx[hk] else q
            q = (seen * q + self.lambdas[k] * ml) / (seen + self.lambdas[k])
            seen += self.lambdas[k]
        return q

    def emit_tagging(self, w, t, floor=1e-4):
        """c(w,t)/c(t) for frequent known words; otherwise P~(t|w)/P(t) (up to a per-word factor)."""
        if self.wc[w] > self.smooth_rare:
            return self.lex[(w, t)] / self.tc[t]
        score = [(self.lex[(w, u)] + self.a * self.rare[u]) / (self.wc[w] + self.a) / self.prior[u]
                 for u in range(self.K)]
        return score[t] if score[t] >= floor * max(score) else 0.0

    def emit_density(self, w, t):
        den = self.tc[t] + self.distinct[t]
        return self.lex[(w, t)] / den if self.wc[w] else self.distinct[t] / den

    def weight(self, words, path, emit, end):
        hist, p = ["B"] * self.order, 1.0
        for w, t in zip(words, path):
            p *= self.trans(hist, t) * emit(w, t)
            hist = hist[1:] + [t]
        return p * (self.trans(hist, "E") if end == "end" else 1.0 - self.trans(hist, "E") if end == "go on" else 1.0)

    def paths(self, words, emit, end="end"):
        seqs = list(itertools.product(range(self.K), repeat=len(words)))
        return np.array(seqs).reshape(len(seqs), len(words)), np.array([self.weight(words, s, emit, end) for s in seqs])


def random_corpus(rng, n_sent=25, n_words=8, n_tags=3):
    """Tags depend on the word and the previous tag, with noise; word 0 opens every sentence (not rare)."""
    X = [[0] + rng.integers(0, n_words, rng.integers(0, 5)).tolist() for _ in range(n_sent)]
    return X, noisy_tags(rng, X, n_tags)


SENTENCES = [[0, 9, 1, 2], [3], [8, 8], [4, 5, 0], [9, 1, 6, 7], [2, 0]]  # ids 8, 9 never trained


@pytest.fixture(params=[(1, 0), (2, 0), (1, 2), (2, 2)], ids=["o1", "o2", "o1-smooth", "o2-smooth"])
def tiny(request, rng):
    order, smooth_rare = request.param
    X, y = random_corpus(rng)
    core = HMMTaggerCore(order, 3, 8, smooth_rare=smooth_rare).fit(arrays(X), arrays(y))
    ref = Reference(X, y, order, 3, smooth_rare)
    assert min(ref.lambdas) > 0  # every transition has positive probability
    assert 0 < sum(c <= 2 for c in ref.wc.values()) < len(ref.wc) - 1  # some rare words, some frequent
    return core, ref


def test_transitions_match_reference(tiny):
    core, ref = tiny
    np.testing.assert_allclose(core.lambdas_, ref.lambdas, rtol=1e-12)
    for hist in itertools.product([0, 1, 2, "B"], repeat=ref.order):
        idx = tuple(3 if h == "B" else h for h in hist)
        want = [ref.trans(list(hist), c) for c in (0, 1, 2, "E")]
        np.testing.assert_allclose(core.trans_[idx], want, rtol=1e-12)


def test_viterbi_and_marginals_equal_brute_force(tiny):
    core, ref = tiny
    X = arrays(SENTENCES)
    pred, proba = core.predict(X), core.predict_proba(X)
    posterior = core.predict(X, decoder="posterior")
    for x, tags, marg, post in zip(X, pred, proba, posterior):
        seqs, p = ref.paths(x.tolist(), ref.emit_tagging)
        best = np.sort(p)
        assert p[(seqs == tags).all(axis=1)][0] == pytest.approx(p.max(), rel=1e-12)
        if len(best) > 1 and best[-2] < best[-1] * (1 - 1e-9):
            np.testing.assert_array_equal(tags, seqs[np.argmax(p)])
        want = np.stack([np.bincount(seqs[:, i], weights=p, minlength=3) for i in range(len(x))]) / p.sum()
        np.testing.assert_allclose(marg, want, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(post, marg.argmax(axis=1))


def test_score_tokens_and_likelihood_equal_brute_force(tiny):
    core, ref = tiny
    X = arrays(SENTENCES)
    scores = core.score_tokens(X)
    total = 0.0
    for x, s in zip(X, scores):
        words = x.tolist()
        for t in range(1, len(words) + 1):
            num = ref.paths(words[:t], ref.emit_density, end=None)[1].sum()  # p(w_1..t, length >= t)
            den = ref.paths(words[:t - 1], ref.emit_density, end="go on")[1].sum()  # p(w_<t, goes on)
            assert s[t - 1] == pytest.approx(math.log(num / den), rel=1e-10, abs=1e-12)
        total += math.log(ref.paths(words, ref.emit_density)[1].sum())
    assert core.log_likelihood(X) == pytest.approx(total, rel=1e-10)


def test_density_sums_to_one(tiny):
    core, ref = tiny
    # each step's predictive distribution over the 8 training words + the unknown class (id 9)
    types = list(range(8)) + [9]
    for prefix in ([], [0], [3, 1], [9, 2, 0]):
        X = arrays([prefix + [w] for w in types])
        mass = sum(math.exp(s[-1]) for s in core.score_tokens(X))
        assert mass == pytest.approx(1.0, rel=1e-10)
    # sum over every string of length L of p(words, end) = P(length L) from the transitions alone
    for L in (1, 2):
        strings = arrays(itertools.product(types, repeat=L))
        total = sum(math.exp(core.log_likelihood([s])) for s in strings)
        length = ref.paths([0] * L, lambda w, t: 1.0)[1].sum()
        assert total == pytest.approx(length, rel=1e-10)
    np.testing.assert_allclose(core.emissionprob_.sum(axis=1) + core.unknown_emissionprob_, 1.0)


def test_first_order_parameters(rng):
    X, y = random_corpus(rng)
    core = HMMTaggerCore(1, 3, 8).fit(arrays(X), arrays(y))
    np.testing.assert_allclose(core.transmat_.sum(axis=1), 1.0)
    assert core.startprob_.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(core.trans_[:3, :3], core.transmat_ * (1 - core.endprob_)[:, None])
    np.testing.assert_allclose(core.trans_[3, :3], core.startprob_ * (1 - core.trans_[3, 3]))
    assert not hasattr(HMMTaggerCore(2, 3, 8).fit(arrays(X), arrays(y)), "transmat_")


def test_chunked_inference_matches_one_chunk(rng, monkeypatch):
    X, y = random_corpus(rng, n_sent=60)
    core = HMMTaggerCore(2, 3, 8).fit(arrays(X), arrays(y))
    tests = arrays([rng.integers(0, 11, rng.integers(0, 9)) for _ in range(25)])
    whole = core.predict(tests), core.predict_proba(tests), core.score_tokens(tests), core.log_likelihood(tests)
    monkeypatch.setattr(_hmm_tagger, "EDGE_BUDGET", 1)  # one sentence per chunk
    monkeypatch.setattr(_hmm_tagger, "FB_BUDGET", 1)
    parts = core.predict(tests), core.predict_proba(tests), core.score_tokens(tests), core.log_likelihood(tests)
    for a, b in zip(whole[0], parts[0]):
        np.testing.assert_array_equal(a, b)
    for k in (1, 2):
        for a, b in zip(whole[k], parts[k]):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    assert parts[3] == pytest.approx(whole[3], rel=1e-12)
    assert [len(p) for p in parts[0]] == [len(t) for t in tests]  # empty sentences stay empty


def test_long_sentences_stay_finite(rng):
    X, y = random_corpus(rng)
    core = HMMTaggerCore(2, 3, 8).fit(arrays(X), arrays(y))
    long = arrays([rng.integers(0, 10, 3000)])
    proba, scores = core.predict_proba(long)[0], core.score_tokens(long)[0]
    assert np.isfinite(proba).all() and np.isfinite(scores).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    halves = core.predict_proba(arrays([long[0][:1500]]))[0]
    assert not np.allclose(halves[-1], proba[1499])  # the right context still reaches back


# ------------------------------------------------------------------ posterior vs Viterbi on a known HMM
def sample_hmm(rng, n_sent):
    """A sticky 3-state HMM with overlapping emissions over 6 symbols."""
    A = np.array([[0.8, 0.1, 0.1], [0.15, 0.7, 0.15], [0.1, 0.2, 0.7]])
    B = np.array([[0.4, 0.3, 0.1, 0.1, 0.05, 0.05], [0.1, 0.3, 0.3, 0.2, 0.05, 0.05],
                  [0.05, 0.1, 0.1, 0.25, 0.25, 0.25]])
    X, y = [], []
    for _ in range(n_sent):
        T, s = int(rng.integers(3, 12)), int(rng.integers(3))
        xs, ys = [], []
        for _ in range(T):
            ys.append(s)
            xs.append(int(rng.choice(6, p=B[s])))
            s = int(rng.choice(3, p=A[s]))
        X.append(xs)
        y.append(ys)
    return arrays(X), arrays(y)


def test_posterior_decoding_beats_viterbi_in_expected_accuracy(rng):
    Xtr, ytr = sample_hmm(rng, 1500)
    Xte, yte = sample_hmm(rng, 1500)
    core = HMMTaggerCore(1, 3, 6).fit(Xtr, ytr)
    vit, post, marg = core.predict(Xte), core.predict(Xte, decoder="posterior"), core.predict_proba(Xte)
    m = np.concatenate(marg)
    expected = [m[np.arange(len(m)), np.concatenate(p)].mean() for p in (vit, post)]
    assert expected[1] >= expected[0]  # the marginal argmax maximises the expected number of hits
    truth = np.concatenate(yte)
    acc = [(np.concatenate(p) == truth).mean() for p in (vit, post)]
    assert acc[1] >= acc[0] > 0.6  # and on data drawn from an HMM (measured 65.2% vs 64.5%)


# ------------------------------------------------------------------ unknown words
def test_unknown_word_smoothing_by_hand():
    # rare lower-case words: "ab"/0, "cb"/0, "dc"/1 -> base P(t) = [2/3, 1/3]
    model = UnknownWordModel(max_suffix=2, smoothing=1.0, shapes=False).fit(
        ["ab", "cb", "dc"], [0, 0, 1], [1, 1, 1], n_tags=2)
    # "xb": suffix "b" has counts [2, 0]: ([2, 0] + 1 * [2/3, 1/3]) / (2 + 1) = [8/9, 1/9]
    # "ab": then suffix "ab" with counts [1, 0]: ([1, 0] + [8/9, 1/9]) / 2 = [17/18, 1/18]
    np.testing.assert_allclose(model.predict_proba(["xb", "ab", "zz"]),
                               [[8 / 9, 1 / 9], [17 / 18, 1 / 18], [2 / 3, 1 / 3]])


def test_unknown_word_shapes_and_tnt_rule():
    words, tags = ["ab", "cb", "dc", "3b", "q-b"], [0, 0, 1, 1, 1]
    shaped = UnknownWordModel(max_suffix=2, smoothing=1.0).fit(words, tags, [1] * 5, n_tags=2)
    plain = UnknownWordModel(max_suffix=2, smoothing=1.0).fit(words[:3], tags[:3], [1] * 3, n_tags=2)
    np.testing.assert_allclose(shaped.predict_proba(["xb"]), plain.predict_proba(["xb"]))  # numbers kept apart
    np.testing.assert_allclose(shaped.predict_proba(["7b", "x-b"]), [[0, 1], [0, 1]])
    tnt = UnknownWordModel(max_suffix=2, smoothing="tnt", shapes=False).fit(words, tags, [1] * 5, n_tags=2)
    ref = SuffixModel(max_suffix=2).fit(words, tags, [1] * 5, n_tags=2)
    np.testing.assert_allclose(tnt.predict_proba(["xb", "Ab", "q"]), ref.predict_proba(["xb", "Ab", "q"]))
    with pytest.raises(ConfigError, match="smoothing"):
        UnknownWordModel(smoothing=-1).fit(words, tags, [1] * 5, n_tags=2)


def test_sentence_initial_capital_uses_the_lower_case_word():
    words = ["the", "dog", "runs", "fast", "big", "Big", "Xig"]  # "Big" and "Xig" are never trained
    X = [[0, 4, 1, 2], [0, 1, 2, 3], [4, 1, 2], [3, 0], [2, 4, 4]] * 3
    y = [[0, 1, 2, 3], [0, 2, 3, 4], [1, 2, 3], [4, 0], [3, 1, 2]] * 3
    core = HMMTaggerCore(2, 5, 5, words=words, smooth_rare=0).fit(arrays(X), arrays(y))
    assert core.lambdas_[0] > 0
    big, xig, mid_big, mid_xig = core.predict_proba(arrays([[5, 1, 2], [6, 1, 2], [0, 5, 1, 2], [0, 6, 1, 2]]))
    np.testing.assert_array_equal(big[0] > 0, [0, 1, 1, 0, 0])  # tagged as "big": only its tags 1, 2
    assert (xig[0] > 0).sum() > 2  # an unknown word
    np.testing.assert_allclose(mid_big, mid_xig)  # mid-sentence "Big" is an unknown word like "Xig"


def test_rare_known_words_may_take_unseen_tags(rng):
    X, y = random_corpus(rng)
    counts = Counter(w for xs in X for w in xs)
    rare = next(w for w, c in counts.items() if c <= 2)
    seen = {t for xs, ys in zip(X, y) for w, t in zip(xs, ys) if w == rare}
    for smooth_rare, expect_more in ((0, False), (2, True)):
        core = HMMTaggerCore(2, 3, 8, smooth_rare=smooth_rare).fit(arrays(X), arrays(y))
        support = set(np.flatnonzero(core.predict_proba(arrays([[rare]]))[0][0] > 0).tolist())
        assert (support > seen) if expect_more else (support == seen)


def test_zero_probability_sentences_warn():
    # one sentence type: the unigram weight is 0, so tag 1 can never open a sentence
    core = HMMTaggerCore(2, 2, 2).fit(arrays([[0, 1]] * 5), arrays([[0, 1]] * 5))
    assert core.lambdas_[0] == 0
    X = arrays([[1, 0], [0, 1]])
    with pytest.warns(ImpossibleSequenceWarning):
        scores = core.score_tokens(X)
    assert scores[0][0] == -np.inf and np.isfinite(scores[1]).all()
    with pytest.warns(ImpossibleSequenceWarning):
        proba = core.predict_proba(X)
    assert all(np.isfinite(p).all() for p in proba)
    with pytest.warns(ImpossibleSequenceWarning):
        assert [p.tolist() for p in core.predict(X)][1] == [0, 1]


# ------------------------------------------------------------------ errors
def test_errors():
    X, y = arrays([[0, 1]]), arrays([[0, 1]])
    with pytest.raises(NotFittedError):
        HMMTaggerCore(2, 3, 2).predict(X)
    with pytest.raises(UnknownSymbolError, match=r"y\[0\]\[1\] = 5 is out of range"):
        HMMTaggerCore(2, 3, 2).fit(X, arrays([[0, 5]]))
    with pytest.raises(UnknownSymbolError, match=r"X\[1\]\[0\] = 7 is out of range"):
        HMMTaggerCore(2, 3, 2).fit(arrays([[0], [7]]), arrays([[0], [1]]))
    with pytest.raises(InvalidSequenceError, match="no tokens"):
        HMMTaggerCore(2, 3, 2).fit(arrays([[]]), arrays([[]]))
    with pytest.raises(ConfigError, match="decoder"):
        HMMTaggerCore(2, 3, 2, decoder="beam").fit(X, y)
    with pytest.raises(ConfigError, match="decoder"):
        HMMTaggerCore(2, 3, 2).fit(X, y).predict(X, decoder="greedy")
    with pytest.raises(ConfigError, match="order"):
        HMMTaggerCore(0, 3, 2).fit(X, y)
    with pytest.raises(ResourceLimitError, match="transition entries"):
        HMMTaggerCore(5, 100, 2).fit(X, y)
    core = HMMTaggerCore(2, 3, 2, words=["a", "b", "c"]).fit(X, y)
    with pytest.raises(UnknownSymbolError, match=r"X\[0\]\[2\] = 9 is out of range; `words`"):
        core.predict(arrays([[0, 1, 9]]))
    assert core.score_tokens(arrays([[0, 9]]))[0].shape == (2,)  # the density needs no strings


# ------------------------------------------------------------------ real corpus
@pytest.mark.corpus
def test_treebank_accuracy():
    require_corpus("nltk_data/corpora/treebank.zip")
    from seqbench.data import load_dataset
    from seqbench.metrics import token_accuracy_by_known

    ds = load_dataset("treebank-pos")
    vocab, K = ds.vocab, len(ds.tagset)
    known = [vocab.is_known(x) for x in ds.test.X]
    acc = {}
    for order in (1, 2):
        core = HMMTaggerCore(order, K, vocab.n_known, words=vocab.itos).fit(ds.train.X, ds.train.y)
        for decoder in ("viterbi", "posterior"):
            acc[order, decoder] = token_accuracy_by_known(ds.test.y, core.predict(ds.test.X, decoder), known)
    print({k: {m: round(v["overall" if m == "all" else m], 4) for m in ("all", "known", "unknown")}
           for k, v in acc.items()})
    # measured: order 2 95.88 / 95.88 % (known 97.04, unknown 86.2); order 1 95.45 %
    for decoder in ("viterbi", "posterior"):
        assert acc[2, decoder]["overall"] >= 0.957 > 0.9377  # and above the conditional n-gram tagger
        assert acc[2, decoder]["unknown"] >= 0.85
        assert acc[1, decoder]["overall"] >= 0.95
    scores = np.concatenate(core.score_tokens(ds.test.X))
    assert np.isfinite(scores).all() and (scores < 0).all()
    proba = core.predict_proba(ds.test.X[:50])
    np.testing.assert_allclose(np.concatenate(proba).sum(axis=1), 1.0)


# ------------------------------------------------------------------ refined states
def test_refine_states_by_hand():
    # words: 0 "the", 1 "Has" (capitalised), 2 "has"; tags 0, 1 (K = 2)
    x = np.array([2] * 8 + [0, 0, 1])
    t = np.array([0] * 5 + [1] * 3 + [0, 1, 1])
    capital = np.array([False, True, False])
    # "has": 5 x tag 0, 3 x tag 1 -> ambiguity 3, both tags reach min_count 3 -> states 4 (tag 0), 5 (tag 1);
    # "the": one token per tag, below min_count; "Has" -> capitalised state 2 + 1 = 3
    state, state_tag = refine_states(x, t, 2, capital, lexical_states=2, min_count=3)
    np.testing.assert_array_equal(state, [4] * 5 + [5] * 3 + [0, 1, 3])
    np.testing.assert_array_equal(state_tag, [0, 1, 0, 1, 0, 1])
    # a budget of 1 cannot hold the two states of "has"; without capitals there is no split
    state, state_tag = refine_states(x, t, 2, capital, lexical_states=1, min_count=3)
    np.testing.assert_array_equal(state, [0] * 5 + [1] * 3 + [0, 1, 3])
    np.testing.assert_array_equal(state_tag, [0, 1, 0, 1])
    state, state_tag = refine_states(x, t, 2, None, lexical_states=0)
    np.testing.assert_array_equal(state, t)
    np.testing.assert_array_equal(state_tag, [0, 1])


def test_refined_core_is_the_plain_core_over_states(rng):
    """With words the core is a tag HMM over refined states: equal to the plain core fitted on the state stream."""
    X, y = random_corpus(rng, n_sent=80, n_words=8, n_tags=3)
    words = ["a", "B", "c", "D", "e", "f", "G", "h"]
    core = HMMTaggerCore(2, 3, 8, words=words, smooth_rare=0, lexical_states=4, lexical_min_count=5)
    core.fit(arrays(X), arrays(y))
    capital = np.array([w[0].isupper() for w in words])
    state, state_tag = refine_states(np.concatenate(X), np.concatenate(y), 3, capital, 4, 5)
    assert core.n_states_ == len(state_tag) > 6  # both refinements are active
    np.testing.assert_array_equal(core.state_tag_, state_tag)
    ys = np.split(state, np.cumsum(n_lengths(X))[:-1])
    plain = HMMTaggerCore(2, len(state_tag), 8, smooth_rare=0).fit(arrays(X), ys)
    np.testing.assert_allclose(core.trans_, plain.trans_)
    test = arrays([[0, 1, 2, 3], [4, 5, 6, 7, 0], [7, 7, 1]])  # known words only: the lexicon decides
    for a, b in zip(core.predict(test), plain.predict(test)):
        np.testing.assert_array_equal(a, state_tag[b])
    onehot = (state_tag[:, None] == np.arange(3)).astype(float)
    for a, b in zip(core.predict_proba(test), plain.predict_proba(test)):
        np.testing.assert_allclose(a, b @ onehot, atol=1e-12)
    for a, b in zip(core.score_tokens(test), plain.score_tokens(test)):
        np.testing.assert_allclose(a, b)


def test_addresses_are_a_word_shape():
    assert [word_shape(w) for w in ("http://www.cnn.com/2005/x.htm", "www.foo.org", "bob@mail.example.com",
                                    "3-for-1", "third-quarter", "U.S.", "quarter")] == [3, 3, 3, 1, 2, 0, 0]


@pytest.mark.corpus
def test_ud_ewt_upos_accuracy():
    require_corpus(*(f"ud_english_ewt/en_ewt-ud-{k}.conllu" for k in ("train", "dev", "test")))
    from seqbench.data import load_dataset
    from seqbench.metrics import token_accuracy_by_known

    ds = load_dataset("ud-ewt", tags="upos")
    vocab, K = ds.vocab, len(ds.tagset)
    core = HMMTaggerCore(2, K, vocab.n_known, words=vocab.itos).fit(ds.train.X, ds.train.y)
    acc = token_accuracy_by_known(ds.test.y, core.predict(ds.test.X), [vocab.is_known(x) for x in ds.test.X])
    # measured: 94.21 % (known 96.05, unknown 75.9); 92.99 % with the states = the tags
    assert acc["overall"] >= 0.94
