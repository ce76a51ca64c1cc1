"""Context-truncation probe: NLL against context size, effective context, oracle ceiling, bounded neural cost."""
from types import SimpleNamespace

import numpy as np
import pytest

from seqbench.base import Tags, get_tags
from seqbench.data.synthetic import synthetic_hmm
from seqbench.exceptions import ConfigError
from seqbench.models import HMM, LSTM, NGram, Kalman, Seq2Seq
from seqbench.tasks.probes import context
from seqbench.tasks.probes.context import context_truncation, effective_context, leading_tokens

from _hmm_brute_force import truncated_log_probs

KS = (1, 2, 4, 8, 16, 64)


@pytest.fixture(scope="module")
def hmm_data():
    return synthetic_hmm(n_states=4, n_symbols=10, n_sequences=300, length=40, n_test=100, seed=0)


def _stand_in(kind, input_kind="discrete"):
    return SimpleNamespace(info={"kind": kind, "input_kind": input_kind})


# ----------------------------------------------------------------------------- applies
def test_applies_to_discrete_densities_that_truncate():
    for est in (NGram(), HMM(), LSTM()):
        for kind in ("lm", "synthetic"):
            assert context.applies(get_tags(est), _stand_in(kind)) is None
    assert "kind" in context.applies(get_tags(NGram()), _stand_in("tagging"))
    assert "kind" in context.applies(get_tags(NGram()), _stand_in("continuous", "continuous"))
    assert "discrete density" in context.applies(get_tags(Kalman()), _stand_in("lm"))
    assert "discrete density" in context.applies(get_tags(Seq2Seq()), _stand_in("lm"))
    assert "max_context" in context.applies(Tags(max_context=False), _stand_in("lm"))


# ----------------------------------------------------------------------------- the curve
def test_effective_context_on_a_hand_made_curve():
    ks = [1, 2, 4, 8]
    assert effective_context(ks, [3.0, 2.5, 2.019, 2.0], 2.0) == 4.0  # 2.019 is within 1 % of 2.0
    assert effective_context(ks, [3.0, 2.5, 2.021, 2.0], 2.0) == 8.0
    assert effective_context(ks, [1.99, 1.0, 1.0, 1.0], 2.0) == 1.0  # below the full NLL counts by distance too
    assert effective_context(ks, [3.0, 3.0, 3.0, 3.0], 2.0) == float("inf")
    assert effective_context(ks, [3.0, 2.19, 2.1, 2.0], 2.0, rel_tol=0.1) == 2.0


@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell"])
def test_ngram_curve_flattens_at_its_order(hmm_data, smoothing):
    lm = context.fit(NGram(order=3, smoothing=smoothing), hmm_data)
    m = context.evaluate(lm, hmm_data)
    for k in KS[1:]:
        assert m[f"nll@k={k}"] == m["nll_full"]  # the trigram reads 2 tokens whatever k >= 2 allows
    assert m["effective_context"] <= 2
    assert m["perplexity@k=1"] == pytest.approx(np.exp(m["nll@k=1"]), rel=1e-12)
    n = sum(len(x) for x in hmm_data.test.X)
    assert m["n_tokens"] == m["n_positions"] == n and m["n_sequences"] == len(hmm_data.test.X)
    if smoothing == "kneser_ney":
        # cut to one token, Kneser-Ney reads its continuation-count bigram level, made for backing off
        assert m["nll@k=1"] > m["nll@k=2"] + 0.1
    else:
        # Witten-Bell's lower orders use raw counts: the trigram cut to one token is the bigram model
        bigram = NGram(order=2, smoothing=smoothing).fit(hmm_data.train.X)
        expected = -np.mean(np.concatenate(bigram.score_tokens(hmm_data.test.X)))
        assert m["nll@k=1"] == pytest.approx(expected, rel=1e-12)


def test_oracle_nll_falls_with_context_to_its_full_nll(hmm_data):
    m = context.evaluate(context.fit(NGram(order=2), hmm_data), hmm_data)
    curve = [m[f"oracle_nll@k={k}"] for k in KS]
    gaps = [c - m["oracle_nll_full"] for c in curve]
    # the expected truncated NLL (a conditional entropy) cannot grow with k; on a finite sample the
    # curve may wobble once the gap is tiny
    assert gaps[0] > gaps[1] > gaps[2] > 1e-4
    assert all(b <= a + 1e-4 for a, b in zip(gaps, gaps[1:]))
    assert abs(gaps[-1]) < 1e-6  # ... and it reaches the full NLL (the chain mixes long before 64 steps)
    # the truth reaches further back than a bigram model
    assert m["oracle_nll@k=1"] < m["nll@k=1"]


def test_oracle_truncated_nll_equals_brute_force():
    rng = np.random.default_rng(5)
    startprob, transmat, B = rng.dirichlet(np.ones(2)), rng.dirichlet(np.ones(2), size=2), rng.dirichlet(np.ones(3),
                                                                                                            size=2)
    oracle = HMM.from_params(startprob, transmat, B)
    X = [rng.integers(0, 3, size=6) for _ in range(3)]
    m = context_truncation(NGram(order=2).fit(X), X, ks=(1, 2), oracle=oracle)
    for k in (1, 2):
        scores = np.concatenate([truncated_log_probs(x, k, startprob, transmat, lambda s, o: B[s, o]) for x in X])
        assert m[f"oracle_nll@k={k}"] == pytest.approx(-scores.mean(), abs=1e-12)
    full = np.concatenate([truncated_log_probs(x, 10, startprob, transmat, lambda s, o: B[s, o]) for x in X])
    assert m["oracle_nll_full"] == pytest.approx(-full.mean(), abs=1e-12)


# ----------------------------------------------------------------------------- the scored subset
def test_leading_tokens_takes_whole_sequences_and_cuts_the_last():
    X = [np.arange(5), np.arange(10, 17), np.arange(20, 23)]
    out = leading_tokens(X, 9)
    assert [list(x) for x in out] == [[0, 1, 2, 3, 4], [10, 11, 12, 13]]
    assert sum(len(x) for x in leading_tokens(X, 100)) == 15


def test_max_tokens_bounds_the_scored_tokens(hmm_data):
    lm = NGram(order=2).fit(hmm_data.train.X)
    m = context_truncation(lm, hmm_data.test.X, ks=(1,), max_tokens=100)
    expected = -np.mean(np.concatenate(lm.score_tokens(hmm_data.test.X[:3]))[:100])
    assert m["n_tokens"] == 100 and m["n_sequences"] == 3
    assert m["nll_full"] == pytest.approx(expected, rel=1e-12)


def test_neural_positions_are_sampled_and_scored_exactly(hmm_data):
    """A neural model is scored on max_positions drawn positions, each as score_tokens(max_context=k) scores it."""
    params = {**LSTM.get_test_params()[0], "max_epochs": 1, "n_threads": 1, "random_state": 0}
    lm = LSTM(**params).fit(hmm_data.train.X[:50])
    X = hmm_data.test.X[:10]
    m = context_truncation(lm, X, ks=(2, 5), max_positions=60)
    again = context_truncation(lm, X, ks=(2, 5), max_positions=60)
    assert m == again and m["n_positions"] == 60 and m["n_tokens"] == 400
    lengths = np.array([len(x) for x in X])
    seq, steps = context._sample_positions(lengths, 60, 0)
    assert len(set(zip(seq.tolist(), steps.tolist()))) == 60
    for k in (2, 5):
        flat = np.concatenate(lm.score_tokens(X, max_context=k))
        expected = -flat[(np.cumsum(lengths) - lengths)[seq] + steps].mean()
        assert m[f"nll@k={k}"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("options, match", [({"ks": ()}, "ks"), ({"ks": (1, 1)}, "repeated"), ({"ks": (-1,)}, "ks"),
                                            ({"max_tokens": 0}, "max_tokens"), ({"max_positions": 0}, "max_positions"),
                                            ({"rel_tol": -0.1}, "rel_tol")])
def test_bad_options(options, match):
    X = [np.array([0, 1, 2, 1])]
    with pytest.raises(ConfigError, match=match):
        context_truncation(NGram(order=2).fit(X), X, **options)
