"""Suffix model for unknown words: hand-computed successive abstraction, capitalisation, fallbacks."""
import math

import numpy as np
import pytest

from seqbench.exceptions import ConfigError, InvalidSequenceError, NotFittedError, UnknownSymbolError
from seqbench.models._suffix import SuffixModel

# lexicon (word, tag, count); tags 0, 1, 2; rare means count <= 10
LEXICON = [
    ("walking", 1, 1), ("talking", 1, 2), ("song", 0, 1), ("bag", 0, 1), ("apple", 2, 1),
    ("Paris", 2, 3), ("Going", 1, 1),
    ("the", 2, 20),  # frequent: no part in the suffix counts
]


def fit(lexicon=LEXICON, **kw):
    words, tags, counts = zip(*lexicon) if lexicon else ((), (), ())
    return SuffixModel(**kw).fit(list(words), np.array(tags, int), np.array(counts, int), n_tags=3)


def abstraction(base, p_hats, theta):
    """P_i = (P^_i + theta P_{i-1}) / (1 + theta), from the empty suffix up."""
    p = np.asarray(base, float)
    for p_hat in p_hats:
        p = (np.asarray(p_hat, float) + theta * p) / (1 + theta)
    return p


# by hand: tag totals 2, 4, 24 of 30 tokens; theta = sample std of (2/30, 4/30, 24/30)
PRIOR = np.array([2, 4, 24]) / 30
THETA = math.sqrt(((2 / 30 - 1 / 3) ** 2 + (4 / 30 - 1 / 3) ** 2 + (24 / 30 - 1 / 3) ** 2) / 2)
LOWER_BASE = [2 / 6, 3 / 6, 1 / 6]      # walking, talking x2, song, bag, apple
CAPITAL_BASE = [0, 1 / 4, 3 / 4]        # Paris x3, Going


def test_theta_and_priors_by_hand():
    m = fit(max_suffix=3)
    assert m.theta_ == pytest.approx(THETA, rel=1e-12)
    np.testing.assert_allclose(m.tag_prior_, PRIOR)
    np.testing.assert_allclose(m.case_prior_, [LOWER_BASE, CAPITAL_BASE])


def test_successive_abstraction_by_hand_lower_case():
    m = fit(max_suffix=3)
    # "singing": -g (bag, song, walking, talking x2), -ng (song, walking, talking x2), -ing (walking, talking x2)
    expected = abstraction(LOWER_BASE, [[2 / 5, 3 / 5, 0], [1 / 4, 3 / 4, 0], [0, 1, 0]], THETA)
    np.testing.assert_allclose(m.predict_proba(["singing"])[0], expected, rtol=1e-12)
    # max_suffix=3 ignores "ping" even though nothing longer is seen anyway
    np.testing.assert_allclose(m.predict_proba(["ping"])[0], expected, rtol=1e-12)


def test_suffix_walk_stops_at_first_unseen_suffix():
    m = fit(max_suffix=10)
    # "xbag": -g, -ag, -bag seen (bag only, for the last two), -xbag unseen
    expected = abstraction(LOWER_BASE, [[2 / 5, 3 / 5, 0], [1, 0, 0], [1, 0, 0]], THETA)
    np.testing.assert_allclose(m.predict_proba(["xbag"])[0], expected, rtol=1e-12)
    # no suffix seen at all: the rare-word distribution of the case class
    np.testing.assert_allclose(m.predict_proba(["xyz", ""]), [LOWER_BASE, LOWER_BASE])


def test_capitalised_and_lower_case_words_use_separate_models():
    m = fit(max_suffix=3)
    cap = m.predict_proba(["Ping"])[0]      # capitalised -g, -ng, -ing: only "Going"
    low = m.predict_proba(["ping"])[0]
    np.testing.assert_allclose(cap, abstraction(CAPITAL_BASE, [[0, 1, 0]] * 3, THETA), rtol=1e-12)
    assert not np.allclose(cap, low)
    np.testing.assert_allclose(m.predict_proba(["Qz"])[0], CAPITAL_BASE)


def test_rows_are_distributions_and_log_proba_matches():
    m = fit()
    words = ["walking", "Walking", "zzz", "a", "Paris", "s", "ing"]
    p = m.predict_proba(words)
    assert p.shape == (len(words), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(m.predict_log_proba(words), np.log(p))


def test_log_emission_is_bayes_inversion():
    m = fit()
    words = ["singing", "Ping", "xyz"]
    with np.errstate(divide="ignore"):
        expected = np.log(m.predict_proba(words)) - np.log(PRIOR)
    np.testing.assert_allclose(m.log_emission(words), expected)
    prior = np.array([0.5, 0.5, 0.0])
    out = m.log_emission(words, prior)
    assert np.all(out[:, 2] == -np.inf)
    np.testing.assert_allclose(out[:, :2], expected[:, :2] + np.log(PRIOR[:2] / 0.5), atol=1e-12)
    with pytest.raises(InvalidSequenceError, match="shape"):
        m.log_emission(words, np.ones(4) / 4)


def test_counts_over_types_equal_expanded_tokens():
    expanded = [(w, t, 1) for w, t, c in LEXICON for _ in range(c)]
    words = ["singing", "Ping", "bag", "xyz", "the", "Paris"]
    np.testing.assert_allclose(fit(expanded).predict_proba(words), fit(LEXICON).predict_proba(words), rtol=1e-12)


def test_fallbacks_to_tag_prior():
    # no rare words (rare_threshold=0): every word predicts the tag prior
    m = fit(rare_threshold=0)
    np.testing.assert_allclose(m.predict_proba(["walking", "Paris", "q"]), [PRIOR] * 3)
    # no capitalised rare words: capitalised words predict the tag prior
    m = fit([w for w in LEXICON if not w[0][0].isupper()])
    prior = np.array([2, 3, 21]) / 26
    np.testing.assert_allclose(m.predict_proba(["Walking"])[0], prior)
    # empty training set: uniform
    m = fit([])
    np.testing.assert_allclose(m.predict_proba(["walking"]), [[1 / 3] * 3])


def test_max_suffix_zero_gives_rare_word_distribution():
    m = fit(max_suffix=0)
    np.testing.assert_allclose(m.predict_proba(["walking", "Going"]), [LOWER_BASE, CAPITAL_BASE])


def test_bad_input():
    with pytest.raises(NotFittedError):
        SuffixModel().predict_proba(["a"])
    with pytest.raises(ConfigError, match="max_suffix"):
        SuffixModel(max_suffix=-1).fit(["a"], [0])
    with pytest.raises(UnknownSymbolError, match=r"tags\[1\] = 5"):
        SuffixModel().fit(["a", "b"], [0, 5], n_tags=3)
    with pytest.raises(InvalidSequenceError, match="differ in length"):
        SuffixModel().fit(["a", "b"], [0])
