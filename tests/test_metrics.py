"""Known-answer tests of seqbench.metrics (every expected value computed by hand)."""
import math

import numpy as np
import pytest

from seqbench.exceptions import (
    ConfigError,
    ImpossibleSequenceWarning,
    InvalidSequenceError,
    NumericalError,
)
from seqbench.metrics import (
    bits_per_char,
    expected_calibration_error,
    nll_per_token,
    perplexity,
    reliability_bins,
    token_accuracy,
    token_accuracy_by_known,
)

LN2 = math.log(2.0)
# probabilities 1/2, 1/4 | 1/8: total NLL 6 ln 2 over 3 tokens -> 2 ln 2 per token, perplexity 4.
# A mean of per-sequence means would give 2.25 ln 2 (perplexity ~4.76) instead.
RAGGED = [np.log([0.5, 0.25]), np.log([0.125])]


def test_perplexity_is_token_weighted():
    assert nll_per_token(RAGGED) == pytest.approx(2 * LN2, rel=1e-12)
    assert perplexity(RAGGED) == pytest.approx(4.0, rel=1e-12)
    assert bits_per_char(RAGGED) == pytest.approx(2.0, rel=1e-12)


def test_single_array_input():
    lp = np.log(np.full(10, 0.1))
    assert perplexity(lp) == pytest.approx(10.0, rel=1e-12)
    assert perplexity([lp]) == pytest.approx(10.0, rel=1e-12)


def test_uniform_model_perplexity_is_vocabulary_size():
    lp = [np.full(n, -math.log(50)) for n in (3, 7, 1)]
    assert perplexity(lp) == pytest.approx(50.0, rel=1e-12)
    assert bits_per_char(lp) == pytest.approx(math.log2(50), rel=1e-12)


def test_impossible_token_gives_inf_with_warning_naming_position():
    lp = [np.log([0.5, 0.5]), np.array([-1.0, -2.0, -np.inf])]
    with pytest.warns(ImpossibleSequenceWarning, match=r"logprobs\[1\]\[2\]"):
        assert perplexity(lp) == math.inf
    with pytest.warns(ImpossibleSequenceWarning):
        assert nll_per_token(lp) == math.inf


def test_huge_nll_overflows_to_inf_not_error():
    assert perplexity([np.array([-1000.0])]) == math.inf


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_plus_inf_raises_numerical_error(bad):
    with pytest.raises(NumericalError, match=r"logprobs\[1\]\[1\]"):
        perplexity([np.array([-1.0]), np.array([-1.0, bad])])


@pytest.mark.parametrize("empty", [[], [np.array([])], np.array([])])
def test_empty_input_raises(empty):
    with pytest.raises(InvalidSequenceError, match="no tokens|empty"):
        perplexity(empty)


def test_malformed_logprobs_raise():
    with pytest.raises(InvalidSequenceError, match=r"logprobs\[0\]"):
        perplexity([-1.0, -2.0])
    with pytest.raises(InvalidSequenceError, match="shape"):
        perplexity(np.zeros((2, 3)))


# ---------------------------------------------------------------- accuracy
Y_TRUE = [np.array([0, 1, 2]), np.array([1, 1])]
Y_PRED = [np.array([0, 2, 2]), np.array([1, 0])]  # 3 of 5 right


def test_token_accuracy_counts_all_tokens():
    assert token_accuracy(Y_TRUE, Y_PRED) == pytest.approx(3 / 5)
    assert token_accuracy(Y_TRUE, Y_TRUE) == 1.0


def test_token_accuracy_length_mismatch_names_sequence():
    with pytest.raises(InvalidSequenceError, match=r"y_pred\[1\] has 3 tags for 2 tokens"):
        token_accuracy(Y_TRUE, [np.array([0, 1, 2]), np.array([1, 1, 1])])
    with pytest.raises(InvalidSequenceError, match="1 sequences for 2"):
        token_accuracy(Y_TRUE, [np.array([0, 1, 2])])


def test_token_accuracy_by_known_hand_computed():
    known = [np.array([True, False, True]), np.array([True, False])]
    # known tokens: (0,0) hit, (0,2) hit, (1,0) hit -> 3/3; unknown: (0,1) miss, (1,1) miss -> 0/2
    res = token_accuracy_by_known(Y_TRUE, Y_PRED, known)
    assert res == {"overall": pytest.approx(0.6), "known": 1.0, "unknown": 0.0, "n_known": 3, "n_unknown": 2}


def test_token_accuracy_by_known_empty_group_is_none():
    known = [np.ones(3, bool), np.ones(2, bool)]
    res = token_accuracy_by_known(Y_TRUE, Y_PRED, known)
    assert res["unknown"] is None and res["n_unknown"] == 0
    assert res["known"] == pytest.approx(0.6)
    res = token_accuracy_by_known(Y_TRUE, Y_PRED, [np.array([0, 0, 0]), np.array([0, 0])])
    assert res["known"] is None and res["unknown"] == pytest.approx(0.6)


def test_token_accuracy_by_known_bad_mask():
    with pytest.raises(InvalidSequenceError, match=r"known\[1\]"):
        token_accuracy_by_known(Y_TRUE, Y_PRED, [np.ones(3, bool), np.ones(3, bool)])
    with pytest.raises(InvalidSequenceError, match=r"known\[0\]"):
        token_accuracy_by_known(Y_TRUE, Y_PRED, [np.array([0.5, 1, 1]), np.ones(2, bool)])


# ------------------------------------------------------------- calibration
# n_bins = 4: bins (0, .25], (.25, .5], (.5, .75], (.75, 1]
PROBA = [
    np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]]),
    np.array([[0.1, 0.1, 0.8], [0.05, 0.9, 0.05], [0.6, 0.3, 0.1]]),
]
Y_CAL = [np.array([0, 1]), np.array([2, 0, 1])]
# bin 1: {.4 miss} -> |0 - .4| = .4 ; bin 2: {.7 hit, .6 miss} -> |.5 - .65| = .15 ;
# bin 3: {.8 hit, .9 miss} -> |.5 - .85| = .35 ; ECE = (1*.4 + 2*.15 + 2*.35) / 5 = .28


def test_ece_hand_computed():
    assert expected_calibration_error(PROBA, Y_CAL, n_bins=4) == pytest.approx(0.28, abs=1e-12)
    bins = reliability_bins(PROBA, Y_CAL, n_bins=4)
    np.testing.assert_array_equal(bins["count"], [0, 1, 2, 2])
    np.testing.assert_allclose(bins["confidence"][1:], [0.4, 0.65, 0.85])
    np.testing.assert_allclose(bins["accuracy"][1:], [0.0, 0.5, 0.5])
    assert np.isnan(bins["accuracy"][0])


def test_ece_underconfident_and_perfect():
    # confidence .6 on both tokens, both right: |1 - .6| = .4
    proba = [np.array([[0.6, 0.4], [0.4, 0.6]])]
    assert expected_calibration_error(proba, [np.array([0, 1])], n_bins=10) == pytest.approx(0.4)
    one_hot = [np.eye(3)[[0, 2, 1]]]
    assert expected_calibration_error(one_hot, [np.array([0, 2, 1])]) == 0.0


def test_ece_validation():
    with pytest.raises(ConfigError):
        expected_calibration_error(PROBA, Y_CAL, n_bins=0)
    with pytest.raises(InvalidSequenceError, match=r"proba\[1\]\[0\] sums to"):
        expected_calibration_error([PROBA[0], PROBA[1] * 0.5], Y_CAL)
    with pytest.raises(InvalidSequenceError, match=r"proba\[0\] has shape"):
        expected_calibration_error([PROBA[0][:1], PROBA[1]], Y_CAL)
    with pytest.raises(InvalidSequenceError, match=r"y_true\[1\]\[0\] = 3"):
        expected_calibration_error(PROBA, [np.array([0, 1]), np.array([3, 0, 1])])
