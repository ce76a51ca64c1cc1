"""NGram as an estimator: context truncation, unknown ids, sampling, parameters, tagger mode, properties."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from seqbench.exceptions import ConfigError, InvalidSequenceError, NotFittedError, UnknownSymbolError
from seqbench.models import NGram


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(3)
    return [rng.integers(0, 6, size=rng.integers(1, 9)) for _ in range(40)]


def _queries(seed=0, vocab_size=6, n=25):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab_size, size=rng.integers(1, 10)) for _ in range(n)]


# ----------------------------------------------------------------------------- max_context
@pytest.mark.parametrize("smoothing", ["witten_bell", "add_k"])
def test_truncated_context_equals_the_lower_order_model(corpus, smoothing):
    # Witten-Bell and add-k use raw counts at every order, so the order-n model cut to
    # k previous symbols is exactly the order-(k + 1) model fitted on the same data.
    full = NGram(order=4, smoothing=smoothing).fit(corpus)
    Q = _queries()
    for k in range(4):
        lower = NGram(order=k + 1, smoothing=smoothing).fit(corpus)
        for a, b in zip(full.score_tokens(Q, max_context=k), lower.score_tokens(Q)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    for a, b in zip(full.score_tokens(Q, max_context=10), full.score_tokens(Q)):
        np.testing.assert_array_equal(a, b)


def test_zero_context_is_the_unigram_level(corpus):
    model = NGram(order=3).fit(corpus)
    unigram = model.next_token_distribution([])  # after <s> only: not the unigram level
    lowest = model.next_token_distribution([], max_context=0)
    assert not np.allclose(unigram, lowest)
    Q = _queries(1)
    for x, s in zip(Q, model.score_tokens(Q, max_context=0)):
        np.testing.assert_allclose(s, np.log(lowest[x]), rtol=0, atol=1e-12)


def test_score_tokens_matches_the_next_token_distributions(corpus):
    for smoothing in ("kneser_ney", "witten_bell", "add_k"):
        model = NGram(order=3, smoothing=smoothing).fit(corpus)
        Q = _queries(2, vocab_size=6, n=8)
        for max_context in (None, 1):
            for x, s in zip(Q, model.score_tokens(Q, max_context=max_context)):
                expected = [np.log(model.next_token_distribution(x[:t], max_context=max_context)[x[t]])
                            for t in range(len(x))]
                np.testing.assert_allclose(s, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_max_context(corpus, bad):
    model = NGram(order=2).fit(corpus)
    with pytest.raises(ConfigError, match="max_context"):
        model.score_tokens(corpus, max_context=bad)


# ----------------------------------------------------------------------------- unknown ids
@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell", "add_k"])
def test_out_of_range_id_scores_like_an_unseen_word(smoothing):
    # ids 0..4 and 6 seen; 5 is a vocabulary word never seen in training; 9 is beyond the range
    X = [np.array([0, 1, 2, 3, 4]), np.array([6, 1, 0, 2])]
    model = NGram(order=3, smoothing=smoothing).fit(X)
    assert model.vocab_size_ == 7
    unseen, oov = model.score_tokens([np.array([1, 5, 2]), np.array([1, 9, 2])])
    assert np.isfinite(oov).all()
    np.testing.assert_allclose(oov, unseen, rtol=0, atol=1e-12)


def test_out_of_range_id_with_a_vocab_is_an_error(corpus):
    model = NGram(order=2, vocab=[f"w{i}" for i in range(6)]).fit(corpus)
    with pytest.raises(UnknownSymbolError, match=r"X\[0\]\[1\] = 6"):
        model.score_tokens([np.array([1, 6])])
    with pytest.raises(UnknownSymbolError, match="negative"):
        model.next_token_distribution([1, -2])


# ----------------------------------------------------------------------------- sampling
def test_sample_is_deterministic_and_in_range(corpus):
    model = NGram(order=3, random_state=11).fit(corpus)
    a = model.sample(5, 30, random_state=4)
    b = model.sample(5, 30, random_state=4)
    assert len(a) == 5 and all(s.shape == (30,) and s.dtype == np.int64 for s in a)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert all(s.min() >= 0 and s.max() < model.vocab_size_ for s in a)
    c, d = model.sample(5, 30), model.sample(5, 30)  # the estimator's random_state
    for u, v in zip(c, d):
        np.testing.assert_array_equal(u, v)
    assert any((u != v).any() for u, v in zip(a, model.sample(5, 30, random_state=5)))


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
def test_sample_frequencies_follow_the_model(smoothing):
    X = [np.array([0, 1, 3]), np.array([0, 2, 3]), np.array([1, 2, 3]), np.array([0, 1, 1, 3])]
    model = NGram(order=2, smoothing=smoothing).fit(X)
    draws = np.array(model.sample(20_000, 2, random_state=0))
    n = model.vocab_size_
    first = np.bincount(draws[:, 0], minlength=n)
    assert stats.chisquare(first, 20_000 * model.next_token_distribution([])).pvalue > 1e-4
    after0 = draws[draws[:, 0] == 0, 1]
    expected = len(after0) * model.next_token_distribution([0])
    assert stats.chisquare(np.bincount(after0, minlength=n), expected).pvalue > 1e-4


@pytest.mark.parametrize("bad", [0, -1, 2.0])
def test_sample_bad_sizes(corpus, bad):
    model = NGram(order=2).fit(corpus)
    with pytest.raises(ConfigError, match="n_sequences"):
        model.sample(bad, 5)
    with pytest.raises(ConfigError, match="length"):
        model.sample(2, bad)


# ----------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("params,name", [
    ({"order": 0}, "order"),
    ({"order": 2.0}, "order"),
    ({"smoothing": "good_turing"}, "smoothing"),
    ({"discount": 1.5}, "discount"),
    ({"discount": 0.0}, "discount"),
    ({"discount": [0.5, 0.5]}, "discount"),
    ({"discount": "x"}, "discount"),
    ({"discount": 0.5, "smoothing": "witten_bell"}, "discount"),
    ({"k": 0}, "k must"),
    ({"k": float("nan")}, "k must"),
    ({"max_suffix": -1}, "max_suffix"),
    ({"vocab": [1, 2, 3]}, "vocab"),
])
def test_bad_parameters_name_the_parameter(corpus, params, name):
    with pytest.raises(ConfigError, match=name):
        NGram(**params).fit(corpus)


def test_vocab_sets_the_size_and_arpa_words(corpus, tmp_path):
    words = [f"tok{i}" for i in range(9)]
    model = NGram(order=2, vocab=words).fit(corpus)
    assert model.vocab_size_ == 9 and model.next_token_distribution([]).shape == (9,)
    model.to_arpa(tmp_path / "m.arpa")
    assert "\ttok8\t" in (tmp_path / "m.arpa").read_text()


def test_unfitted_and_wrong_mode(corpus):
    with pytest.raises(NotFittedError):
        NGram().next_token_distribution([])
    density = NGram(order=2).fit(corpus)
    with pytest.raises(InvalidSequenceError, match="fit\\(X, y\\)"):
        density.predict(corpus)
    with pytest.raises(ConfigError, match="add_k"):
        NGram(order=2, smoothing="add_k").fit(corpus).to_arpa("unused.arpa")


# ----------------------------------------------------------------------------- tagger mode
def test_tagger_mode_delegates_and_refit_switches_mode(corpus):
    pytest.importorskip("seqbench.models._ngram_tagger")
    y = [x % 3 for x in corpus]
    model = NGram(order=2).fit(corpus, y)
    assert model.fit_mode_ == "tagger" and model.n_tags_ == 3
    assert not hasattr(model, "tables_")
    pred = model.predict(corpus)
    assert all(np.array_equal(p, t) for p, t in zip(pred, y))
    proba = model.predict_proba([np.array([1, 50, 2])])[0]  # 50: an unknown word passes through
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1)
    with pytest.raises(InvalidSequenceError, match="tagger"):
        model.score_tokens(corpus)
    with pytest.raises(InvalidSequenceError, match="tagger"):
        model.sample(1, 3)
    model.fit(corpus)
    assert model.fit_mode_ == "density" and not hasattr(model, "tagger_")
    assert np.isfinite(np.concatenate(model.score_tokens(corpus))).all()


# ----------------------------------------------------------------------------- properties
corpora = st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=7), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(corpus=corpora, order=st.integers(1, 4), smoothing=st.sampled_from(["kneser_ney", "witten_bell", "add_k"]),
       query=st.lists(st.integers(0, 8), min_size=1, max_size=8))
def test_random_corpora_give_distributions(corpus, order, smoothing, query):
    X = [np.array(s) for s in corpus]
    model = NGram(order=order, smoothing=smoothing).fit(X)
    for t in range(len(query) + 1):
        p = model.next_token_distribution(query[:t])
        assert abs(p.sum() - 1) < 1e-12 and (p > 0).all()
    s = model.score_tokens(X + [np.array(query)])
    flat = np.concatenate(s)
    assert np.isfinite(flat).all() and (flat <= 1e-12).all()
